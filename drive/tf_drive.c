/*  tf_drive - drive lifecycle, command execution, identification and status queries. */
#include "tf_drive.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_cdb.h"
#include "tf_clock.h"
#include "tf_drive_priv.h"
#include "tf_log.h"

tf_drive_t *
tf_drive_open(const char *url, tf_err_t *err)
{
    tf_transport_t *transport = tf_transport_open(url, err);
    if (!transport)
        return NULL;
    tf_drive_t *self = calloc(1, sizeof *self);
    if (!self || !(self->url = strdup(url)) || !(self->track = tf_drive_track_new())) {
        if (self)
            free(self->url);
        free(self);
        tf_transport_destroy(&transport);
        tf_err_set(err, TF_ERR_NOMEM, "out of memory opening %s", url);
        return NULL;
    }
    self->transport = transport;
    /* Nothing is known until the tape is rewound or the drive tells us. */
    tf_drive_track_lost(self->track);
    return self;
}

void
tf_drive_destroy(tf_drive_t **self_p)
{
    if (self_p && *self_p) {
        tf_drive_t *self = *self_p;
        tf_transport_destroy(&self->transport);
        tf_drive_track_destroy(&self->track);
        free(self->url);
        free(self);
        *self_p = NULL;
    }
}

const char *
tf_drive_url(tf_drive_t *self)
{
    return self->url;
}

const char *
tf_drive_op_name(uint8_t op)
{
    switch (op) {
    case TF_OP_TEST_UNIT_READY: return "TEST UNIT READY";
    case TF_OP_REWIND: return "REWIND";
    case TF_OP_REQUEST_SENSE: return "REQUEST SENSE";
    case TF_OP_READ_BLOCK_LIMITS: return "READ BLOCK LIMITS";
    case TF_OP_READ6: return "READ(6)";
    case TF_OP_WRITE6: return "WRITE(6)";
    case TF_OP_WRITE_FILEMARKS6: return "WRITE FILEMARKS(6)";
    case TF_OP_SPACE6: return "SPACE(6)";
    case TF_OP_INQUIRY: return "INQUIRY";
    case TF_OP_MODE_SELECT6: return "MODE SELECT(6)";
    case TF_OP_ERASE6: return "ERASE";
    case TF_OP_MODE_SENSE6: return "MODE SENSE(6)";
    case TF_OP_LOAD_UNLOAD: return "LOAD UNLOAD";
    case TF_OP_PREVENT_ALLOW: return "PREVENT ALLOW MEDIUM REMOVAL";
    case TF_OP_READ_POSITION: return "READ POSITION";
    case TF_OP_LOG_SENSE: return "LOG SENSE";
    case TF_OP_SPACE16: return "SPACE(16)";
    case TF_OP_LOCATE16: return "LOCATE(16)";
    default: return "command";
    }
}

/* Commands that do not move the tape: safe to repeat after a unit attention. */
static bool
s_repeatable(uint8_t op)
{
    switch (op) {
    case TF_OP_TEST_UNIT_READY:
    case TF_OP_INQUIRY:
    case TF_OP_MODE_SENSE6:
    case TF_OP_MODE_SELECT6:
    case TF_OP_READ_BLOCK_LIMITS:
    case TF_OP_LOG_SENSE:
    case TF_OP_READ_POSITION:
    case TF_OP_REWIND:
    case TF_OP_LOAD_UNLOAD:
    case TF_OP_PREVENT_ALLOW:
        return true;
    default:
        return false;
    }
}

static bool
s_is_unit_attention(tf_drive_cond_t cond)
{
    return cond == TF_DRIVE_COND_MEDIUM_CHANGED || cond == TF_DRIVE_COND_RESET
           || cond == TF_DRIVE_COND_UNIT_ATTENTION;
}

static int
s_exec_once(tf_drive_t *self, const uint8_t *cdb, int cdb_len, tf_xfer_t dir, void *data,
            size_t len, unsigned timeout_ms, tf_err_t *err)
{
    tf_scsi_req_t req = {cdb, (size_t) cdb_len, dir, data, len, timeout_ms};
    tf_scsi_res_t res;
    memset(&self->last_sense, 0, sizeof self->last_sense);
    self->last_resid = 0;
    tf_err_t terr = {0, ""};
    int rc = tf_transport_execute(self->transport, &req, &res, &terr);
    if (rc != TF_OK) {
        self->last_cond = TF_DRIVE_COND_TRANSPORT;
        return tf_err_set(err, rc, "%s on %s: %s", tf_drive_op_name(cdb[0]), self->url,
                          terr.message);
    }
    self->last_resid = res.resid;
    if (res.status == TF_SCSI_CHECK_CONDITION) {
        tf_err_t serr = {0, ""};
        if (tf_sense_decode(res.sense, res.sense_len, &self->last_sense, &serr) != TF_OK)
            tf_log_warn("drive %s: %s returned CHECK CONDITION with unusable sense: %s",
                        self->url, tf_drive_op_name(cdb[0]), serr.message);
    }
    self->last_cond = tf_drive_cond_classify(res.status, &self->last_sense);
    int status = tf_drive_cond_status(self->last_cond);
    if (status == TF_OK && !self->last_sense.deferred)
        return TF_OK;
    if (status == TF_OK)
        status = TF_ERR_DEVICE; /* a deferred early warning still means an earlier write */
    char detail[200];
    if (res.status == TF_SCSI_CHECK_CONDITION)
        tf_sense_describe(&self->last_sense, detail, sizeof detail);
    else
        snprintf(detail, sizeof detail, "SCSI status 0x%02x", res.status);
    return tf_err_set(err, status, "%s on %s: %s%s [%s]; %s", tf_drive_op_name(cdb[0]), self->url,
                      self->last_sense.deferred
                          ? "deferred error from an earlier command (likely a buffered write, "
                            "whose data may not be on tape): "
                          : "",
                      tf_drive_cond_message(self->last_cond), detail,
                      tf_drive_cond_action(self->last_cond));
}

int
tf_drive_exec(tf_drive_t *self, const uint8_t *cdb, int cdb_len, tf_xfer_t dir, void *data,
              size_t len, unsigned timeout_ms, tf_err_t *err)
{
    if (cdb_len < 0)
        return tf_err_set(err, cdb_len, "%s on %s: argument out of range for the command",
                          tf_drive_op_name(cdb[0]), self->url);
    int rc = s_exec_once(self, cdb, cdb_len, dir, data, len, timeout_ms, err);
    if (rc == TF_OK || !s_is_unit_attention(self->last_cond))
        return rc;
    self->unit_attention = self->last_cond;
    tf_drive_track_forget_tape(self->track);
    self->early_warning = false;
    tf_log_info("drive %s: %s; tape position is now unknown", self->url,
                tf_drive_cond_message(self->last_cond));
    if (!s_repeatable(cdb[0]))
        return rc;
    /* Several unit attentions can be queued (reset, then medium changed). */
    for (int i = 0; i < 3 && rc != TF_OK && s_is_unit_attention(self->last_cond); i++)
        rc = s_exec_once(self, cdb, cdb_len, dir, data, len, timeout_ms, err);
    return rc;
}

void
tf_drive_fallback(tf_drive_t *self, unsigned quirk, const char *text)
{
    if (self->quirks & quirk)
        return;
    self->quirks |= quirk;
    tf_log_info("drive %s: %s", self->url, text);
    size_t used = strlen(self->fallbacks);
    snprintf(self->fallbacks + used, sizeof self->fallbacks - used, "%s%s", used ? "; " : "",
             text);
}

const char *
tf_drive_fallbacks(tf_drive_t *self)
{
    return self->fallbacks;
}

tf_drive_cond_t
tf_drive_last_cond(tf_drive_t *self)
{
    return self->last_cond;
}

const tf_sense_t *
tf_drive_last_sense(tf_drive_t *self)
{
    return &self->last_sense;
}

tf_drive_cond_t
tf_drive_unit_attention(tf_drive_t *self)
{
    tf_drive_cond_t cond = self->unit_attention;
    self->unit_attention = TF_DRIVE_COND_NONE;
    return cond;
}

/* Copies a space-padded INQUIRY field and trims it. */
static void
s_field(char *dst, size_t size, const uint8_t *src, size_t len)
{
    size_t start = 0;
    while (start < len && (src[start] == ' ' || src[start] == '\0'))
        start++;
    size_t n = 0;
    for (size_t i = start; i < len && n + 1 < size; i++)
        dst[n++] = isprint(src[i]) ? (char) src[i] : '?';
    while (n > 0 && (dst[n - 1] == ' ' || dst[n - 1] == '\0'))
        n--;
    dst[n] = '\0';
}

int
tf_drive_inquiry(tf_drive_t *self, tf_drive_inquiry_t *inq, tf_err_t *err)
{
    memset(inq, 0, sizeof *inq);
    uint8_t cdb[TF_CDB_MAX];
    uint8_t buf[255];
    memset(buf, 0, sizeof buf);
    int rc = tf_drive_exec(self, cdb, tf_cdb_inquiry(cdb, false, 0, 96), TF_XFER_IN, buf, 96,
                           TF_DRIVE_T_SHORT, err);
    if (rc != TF_OK)
        return rc;
    size_t got = 96 - (self->last_resid < 96 ? self->last_resid : 96);
    if (got < 36)
        return tf_err_set(err, TF_ERR_PROTO,
                          "INQUIRY on %s returned only %zu bytes (need 36)", self->url, got);
    inq->device_type = buf[0] & 0x1F;
    inq->removable = (buf[1] & 0x80) != 0;
    s_field(inq->vendor, sizeof inq->vendor, buf + 8, 8);
    s_field(inq->product, sizeof inq->product, buf + 16, 16);
    s_field(inq->revision, sizeof inq->revision, buf + 32, 4);
    /* Serial number page; drives without it are fine. */
    memset(buf, 0, sizeof buf);
    tf_err_t ignored;
    if (tf_drive_exec(self, cdb, tf_cdb_inquiry(cdb, true, 0x80, sizeof buf), TF_XFER_IN, buf,
                      sizeof buf, TF_DRIVE_T_SHORT, &ignored)
            == TF_OK
        && buf[1] == 0x80) {
        size_t len = buf[3];
        size_t avail = sizeof buf - (self->last_resid < sizeof buf ? self->last_resid : 0);
        if (avail > 4 && len > avail - 4)
            len = avail - 4;
        s_field(inq->serial, sizeof inq->serial, buf + 4, len);
    }
    if (!self->identified) {
        self->identified = true;
        if (strcmp(inq->product, "VIRTUAL-TAPE") == 0)
            tf_drive_fallback(self, TF_DRIVE_TGT_SPACE,
                              "tgt virtual tape: backward filemark spacing done as rewind + "
                              "space forward; block spacing stopped at filemarks using the "
                              "tracked file lengths; short blocks filling over half the buffer "
                              "are re-read with their exact length");
    }
    return TF_OK;
}

int
tf_drive_identify(tf_drive_t *self, tf_err_t *err)
{
    if (self->identified)
        return TF_OK;
    tf_drive_inquiry_t inq;
    return tf_drive_inquiry(self, &inq, err);
}

int
tf_drive_test_unit_ready(tf_drive_t *self, tf_err_t *err)
{
    uint8_t cdb[TF_CDB_MAX];
    return tf_drive_exec(self, cdb, tf_cdb_test_unit_ready(cdb), TF_XFER_NONE, NULL, 0,
                         TF_DRIVE_T_SHORT, err);
}

int
tf_drive_wait_ready(tf_drive_t *self, int64_t timeout_ms, tf_err_t *err)
{
    int64_t start = tf_clock_mono_ms();
    int64_t delay = 100;
    tf_drive_cond_t waited = TF_DRIVE_COND_NONE;
    for (;;) {
        tf_err_t terr = {0, ""};
        int rc = tf_drive_test_unit_ready(self, &terr);
        if (rc == TF_OK)
            return TF_OK;
        tf_drive_cond_t cond = self->last_cond;
        bool transient = cond == TF_DRIVE_COND_BECOMING_READY || cond == TF_DRIVE_COND_BUSY
                         || cond == TF_DRIVE_COND_ABORTED;
        if (!transient) {
            if (err)
                *err = terr;
            return rc;
        }
        waited = cond;
        int64_t elapsed = tf_clock_mono_ms() - start;
        if (elapsed >= timeout_ms) {
            return tf_err_set(err, TF_ERR_TIMEOUT,
                              "drive %s is still not ready after %.1f s: %s; %s", self->url,
                              (double) elapsed / 1000.0, tf_drive_cond_message(waited),
                              waited == TF_DRIVE_COND_BECOMING_READY
                                  ? "a first load can take minutes: wait longer (--timeout) "
                                    "or check the drive's display for a loading error"
                                  : tf_drive_cond_action(waited));
        }
        int64_t left = timeout_ms - elapsed;
        tf_clock_sleep_ms(delay < left ? delay : left);
        if (delay < 2000)
            delay *= 2;
    }
}

int
tf_drive_block_limits(tf_drive_t *self, tf_drive_limits_t *limits, tf_err_t *err)
{
    uint8_t cdb[TF_CDB_MAX];
    uint8_t buf[6] = {0};
    int rc = tf_drive_exec(self, cdb, tf_cdb_read_block_limits(cdb), TF_XFER_IN, buf, sizeof buf,
                           TF_DRIVE_T_SHORT, err);
    if (rc != TF_OK)
        return rc;
    limits->granularity = buf[0] & 0x1F;
    limits->max_block = (uint32_t) tf_cdb_get_be(buf + 1, 3);
    limits->min_block = (uint32_t) tf_cdb_get_be(buf + 4, 2);
    return TF_OK;
}

int
tf_drive_medium_status(tf_drive_t *self, tf_drive_medium_t *medium, tf_err_t *err)
{
    memset(medium, 0, sizeof *medium);
    uint8_t cdb[TF_CDB_MAX];
    uint8_t buf[12] = {0};
    int rc = tf_drive_exec(self, cdb, tf_cdb_mode_sense6(cdb, false, 0x00, sizeof buf),
                           TF_XFER_IN, buf, sizeof buf, TF_DRIVE_T_SHORT, err);
    if (rc != TF_OK)
        return rc;
    size_t got = sizeof buf - (self->last_resid < sizeof buf ? self->last_resid : sizeof buf);
    if (got < 4)
        return tf_err_set(err, TF_ERR_PROTO, "MODE SENSE on %s returned only %zu bytes",
                          self->url, got);
    medium->medium_type = buf[1];
    medium->write_protected = (buf[2] & 0x80) != 0;
    medium->buffered = (buf[2] & 0x70) != 0;
    if (buf[3] >= 8 && got >= 12) {
        medium->density = buf[4];
        medium->block_length = (uint32_t) tf_cdb_get_be(buf + 9, 3);
    }
    /* Presence: a TEST UNIT READY that does not say "no medium". */
    tf_err_t ignored;
    medium->present = tf_drive_test_unit_ready(self, &ignored) == TF_OK
                      || (self->last_cond != TF_DRIVE_COND_NO_MEDIUM
                          && self->last_cond != TF_DRIVE_COND_TRANSPORT);
    return TF_OK;
}

int
tf_drive_set_variable(tf_drive_t *self, tf_err_t *err)
{
    uint8_t cdb[TF_CDB_MAX];
    int rc = TF_ERR_UNSUPPORTED;
    if (!(self->quirks & TF_DRIVE_NO_MODESELECT)) {
        /* Header (buffered mode on) plus one block descriptor with block length 0. */
        uint8_t param[12] = {0, 0, 0x10, 8, 0, 0, 0, 0, 0, 0, 0, 0};
        tf_err_t serr = {0, ""};
        rc = tf_drive_exec(self, cdb, tf_cdb_mode_select6(cdb, true, sizeof param), TF_XFER_OUT,
                           param, sizeof param, TF_DRIVE_T_SHORT, &serr);
        if (rc == TF_OK)
            return TF_OK;
        bool refused = self->last_cond == TF_DRIVE_COND_NOT_SUPPORTED
                       || self->last_cond == TF_DRIVE_COND_ILLEGAL_REQUEST;
        if (!refused) {
            if (err)
                *err = serr;
            return rc;
        }
    }
    tf_drive_medium_t medium;
    rc = tf_drive_medium_status(self, &medium, err);
    if (rc != TF_OK)
        return rc;
    if (medium.block_length != 0)
        return tf_err_set(err, TF_ERR_UNSUPPORTED,
                          "drive %s is in fixed-block mode (%u-byte blocks) and refused MODE "
                          "SELECT to switch to variable blocks: set the drive to variable-block "
                          "mode (e.g. mt -f /dev/nstN setblk 0) or use another drive",
                          self->url, medium.block_length);
    tf_drive_fallback(self, TF_DRIVE_NO_MODESELECT,
                      "MODE SELECT refused; the drive already reports variable-block mode, "
                      "so it is used as is");
    return TF_OK;
}

int
tf_drive_tapealert(tf_drive_t *self, uint64_t *flags, tf_err_t *err)
{
    *flags = 0;
    if (self->quirks & TF_DRIVE_NO_LOGSENSE)
        return tf_err_set(err, TF_ERR_UNSUPPORTED,
                          "drive %s does not report TapeAlert flags (no LOG SENSE)", self->url);
    uint8_t cdb[TF_CDB_MAX];
    uint8_t buf[4 + 64 * 5];
    memset(buf, 0, sizeof buf);
    int rc = tf_drive_exec(self, cdb, tf_cdb_log_sense(cdb, 0x2E, sizeof buf), TF_XFER_IN, buf,
                           sizeof buf, TF_DRIVE_T_SHORT, err);
    if (rc != TF_OK) {
        if (self->last_cond == TF_DRIVE_COND_NOT_SUPPORTED) {
            tf_drive_fallback(self, TF_DRIVE_NO_LOGSENSE,
                              "no LOG SENSE TapeAlert page: TapeAlert flags are not available");
            return tf_err_set(err, TF_ERR_UNSUPPORTED,
                              "drive %s does not report TapeAlert flags (no LOG SENSE)",
                              self->url);
        }
        return rc;
    }
    size_t got = sizeof buf - (self->last_resid < sizeof buf ? self->last_resid : sizeof buf);
    if (got < 4 || (buf[0] & 0x3F) != 0x2E)
        return tf_err_set(err, TF_ERR_PROTO, "LOG SENSE on %s returned no TapeAlert page",
                          self->url);
    size_t end = 4 + (size_t) tf_cdb_get_be(buf + 2, 2);
    if (end > got)
        end = got;
    size_t at = 4;
    while (at + 4 <= end) {
        unsigned code = (unsigned) tf_cdb_get_be(buf + at, 2);
        size_t plen = buf[at + 3];
        if (at + 4 + plen > end)
            break;
        if (code >= 1 && code <= 64 && plen >= 1 && (buf[at + 4] & 0x01))
            *flags |= 1ull << (code - 1);
        at += 4 + plen;
    }
    return TF_OK;
}

static int
s_load_unload(tf_drive_t *self, bool load, tf_err_t *err)
{
    uint8_t cdb[TF_CDB_MAX];
    int rc = tf_drive_exec(self, cdb, tf_cdb_load_unload(cdb, load, false), TF_XFER_NONE, NULL, 0,
                           TF_DRIVE_T_MOVE, err);
    self->early_warning = false;
    if (rc == TF_OK && load) {
        /* Drives raise "medium may have changed" after a load: consume it, it is ours. */
        tf_err_t ignored;
        tf_drive_test_unit_ready(self, &ignored);
        self->unit_attention = TF_DRIVE_COND_NONE;
        tf_drive_track_forget_tape(self->track);
        /* A load leaves real drives at BOT, but not every emulation (tgt keeps its position):
           rewinding makes it so, and costs nothing at BOT. */
        uint8_t rcdb[TF_CDB_MAX];
        rc = tf_drive_exec(self, rcdb, tf_cdb_rewind(rcdb, false), TF_XFER_NONE, NULL, 0,
                           TF_DRIVE_T_MOVE, err);
        if (rc != TF_OK)
            return rc;
        tf_drive_track_bot(self->track);
    } else {
        tf_drive_track_forget_tape(self->track);
    }
    return rc;
}

int
tf_drive_load(tf_drive_t *self, tf_err_t *err)
{
    return s_load_unload(self, true, err);
}

int
tf_drive_unload(tf_drive_t *self, tf_err_t *err)
{
    return s_load_unload(self, false, err);
}
