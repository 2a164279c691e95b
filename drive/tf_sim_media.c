/*  tf_sim_media - simulated drive: reading, writing and moving the tape. */
#include <stdlib.h>
#include <string.h>

#include "tf_cdb.h"
#include "tf_sim_priv.h"

/* TapeAlert flags the simulator raises. */
#define S_ALERT_MEDIA 4
#define S_ALERT_READ_FAILURE 5
#define S_ALERT_WRITE_FAILURE 6

static bool
s_is_filemark(tf_sim_t *self, size_t index)
{
    return tf_simimg_type(self->img, index) == TF_SIMIMG_FILEMARK;
}

int
tf_sim_read6(tf_sim_t *self, const tf_scsi_req_t *req, tf_scsi_res_t *res, tf_err_t *err)
{
    if (req->cdb[1] & 0x01) { /* FIXED */
        tf_sim_check(self, res, TF_SENSE_ILLEGAL_REQUEST, 0x24, 0x00, 0, 0);
        return TF_OK;
    }
    bool sili = (req->cdb[1] & 0x02) != 0;
    uint32_t want = (uint32_t) tf_cdb_get_be(req->cdb + 2, 3);
    if (want > req->data_len)
        want = (uint32_t) req->data_len;
    res->resid = req->data_len;
    size_t count = tf_simimg_count(self->img);
    if (self->pos >= count) {
        tf_sim_check(self, res, TF_SENSE_BLANK_CHECK, 0x00, 0x05, TF_SENSE_F_INFO, want);
        return TF_OK;
    }
    if (s_is_filemark(self, self->pos)) {
        self->pos++;
        tf_sim_check(self, res, TF_SENSE_NO_SENSE, 0x00, 0x01,
                     TF_SENSE_F_FILEMARK | TF_SENSE_F_INFO, want);
        return TF_OK;
    }
    if (self->opts.medium_error_at >= 0 && (int64_t) self->pos == self->opts.medium_error_at) {
        self->pos++;
        tf_sim_alert(self, S_ALERT_MEDIA);
        tf_sim_alert(self, S_ALERT_READ_FAILURE);
        tf_sim_check(self, res, TF_SENSE_MEDIUM_ERROR, 0x11, 0x00, TF_SENSE_F_INFO, want);
        return TF_OK;
    }
    uint32_t length = tf_simimg_length(self->img, self->pos);
    uint32_t moved = length < want ? length : want;
    int rc = tf_simimg_read(self->img, self->pos, req->data, moved, err);
    if (rc != TF_OK)
        return rc;
    tf_sim_throttle(self, length);
    self->pos++;
    res->resid = req->data_len - moved;
    if (length == want || (length < want && sili))
        return TF_OK;
    /* Short block without SILI, or a block longer than asked: ILI, info = want - actual. */
    tf_sim_check(self, res, TF_SENSE_NO_SENSE, 0x00, 0x00, TF_SENSE_F_ILI | TF_SENSE_F_INFO,
                 (int64_t) want - (int64_t) length);
    return TF_OK;
}

/* Reports volume overflow (nothing written) or early warning after a write of bytes. */
static bool
s_overflows(tf_sim_t *self, uint64_t used_before, uint64_t bytes)
{
    return used_before + bytes > self->opts.capacity;
}

static bool
s_in_early_warning(tf_sim_t *self)
{
    if (self->opts.hard_eom)
        return false;
    uint64_t used = tf_simimg_used(self->img, tf_simimg_count(self->img));
    return used > self->opts.capacity - self->opts.early_warning;
}

static bool
s_write_protected(tf_sim_t *self, tf_scsi_res_t *res)
{
    if (!self->opts.write_protect)
        return false;
    tf_sim_check(self, res, TF_SENSE_DATA_PROTECT, 0x27, 0x00, 0, 0);
    return true;
}

int
tf_sim_write6(tf_sim_t *self, const tf_scsi_req_t *req, tf_scsi_res_t *res, tf_err_t *err)
{
    if (req->cdb[1] & 0x01) {
        tf_sim_check(self, res, TF_SENSE_ILLEGAL_REQUEST, 0x24, 0x00, 0, 0);
        return TF_OK;
    }
    if (s_write_protected(self, res))
        return TF_OK;
    uint32_t length = (uint32_t) tf_cdb_get_be(req->cdb + 2, 3);
    if (length == 0)
        return TF_OK;
    if (length > req->data_len || length > self->opts.max_block) {
        tf_sim_check(self, res, TF_SENSE_ILLEGAL_REQUEST, 0x24, 0x00, 0, 0);
        return TF_OK;
    }
    int rc = tf_simimg_truncate(self->img, self->pos, err);
    if (rc != TF_OK)
        return rc;
    if (self->opts.medium_error_at >= 0 && (int64_t) self->pos == self->opts.medium_error_at) {
        tf_sim_alert(self, S_ALERT_MEDIA);
        tf_sim_alert(self, S_ALERT_WRITE_FAILURE);
        tf_sim_check(self, res, TF_SENSE_MEDIUM_ERROR, 0x0C, 0x00, TF_SENSE_F_INFO, length);
        return TF_OK;
    }
    if (self->opts.hardware_error_at >= 0 && (int64_t) self->pos == self->opts.hardware_error_at) {
        /* The drive, not the cartridge: internal target failure. */
        tf_sim_check(self, res, TF_SENSE_HARDWARE_ERROR, 0x44, 0x00, TF_SENSE_F_INFO, length);
        return TF_OK;
    }
    uint64_t used = tf_simimg_used(self->img, self->pos);
    if (s_overflows(self, used, TF_SIMIMG_RECORD_HEADER + (uint64_t) length)) {
        tf_sim_check(self, res, TF_SENSE_VOLUME_OVERFLOW, 0x00, 0x02,
                     TF_SENSE_F_EOM | TF_SENSE_F_INFO, length);
        return TF_OK;
    }
    tf_sim_throttle(self, length);
    rc = tf_simimg_append(self->img, TF_SIMIMG_DATA, req->data, length, err);
    if (rc != TF_OK)
        return rc;
    self->pos++;
    if (s_in_early_warning(self))
        tf_sim_check(self, res, TF_SENSE_NO_SENSE, 0x00, 0x02, TF_SENSE_F_EOM | TF_SENSE_F_INFO,
                     0);
    return TF_OK;
}

int
tf_sim_write_filemarks(tf_sim_t *self, const tf_scsi_req_t *req, tf_scsi_res_t *res,
                       tf_err_t *err)
{
    uint32_t count = (uint32_t) tf_cdb_get_be(req->cdb + 2, 3);
    if (count == 0) /* flush: the simulator has no buffer */
        return TF_OK;
    if (s_write_protected(self, res))
        return TF_OK;
    int rc = tf_simimg_truncate(self->img, self->pos, err);
    if (rc != TF_OK)
        return rc;
    for (uint32_t i = 0; i < count; i++) {
        uint64_t used = tf_simimg_used(self->img, self->pos);
        if (s_overflows(self, used, TF_SIMIMG_RECORD_HEADER)) {
            tf_sim_check(self, res, TF_SENSE_VOLUME_OVERFLOW, 0x00, 0x02,
                         TF_SENSE_F_EOM | TF_SENSE_F_INFO, count - i);
            return TF_OK;
        }
        rc = tf_simimg_append(self->img, TF_SIMIMG_FILEMARK, NULL, 0, err);
        if (rc != TF_OK)
            return rc;
        self->pos++;
    }
    if (s_in_early_warning(self))
        tf_sim_check(self, res, TF_SENSE_NO_SENSE, 0x00, 0x02, TF_SENSE_F_EOM | TF_SENSE_F_INFO,
                     0);
    return TF_OK;
}

/* quirks=tgt: SPACE as tgt's bs_ssc.c does it. Blocks: filemarks count as blocks (no stop at
   a filemark); forward, landing on end of data is reported as end of data (0/00/05) even when
   the count was used up; backward, BOM at the first object. Filemarks: backward counts the
   filemark under the head and steps back after the last one counted, so it stops one object
   too far (on the object before the filemark). No residue (no INFORMATION field) anywhere. */
static void
s_space_tgt(tf_sim_t *self, bool blocks, int64_t count, tf_scsi_res_t *res)
{
    size_t end = tf_simimg_count(self->img);
    if (blocks && count > 0) {
        for (int64_t done = 0; done < count; done++) {
            if (self->pos < end)
                self->pos++;
            if (self->pos >= end) {
                tf_sim_check(self, res, TF_SENSE_NO_SENSE, 0x00, 0x05, 0, 0);
                return;
            }
        }
        return;
    }
    if (blocks) {
        for (int64_t done = 0; done < -count; done++) {
            if (self->pos == 0) {
                tf_sim_check(self, res, TF_SENSE_NO_SENSE, 0x00, 0x04, 0, 0);
                return;
            }
            self->pos--;
        }
        return;
    }
    if (count > 0) {
        while (count > 0) {
            if (self->pos >= end) {
                tf_sim_check(self, res, TF_SENSE_NO_SENSE, 0x00, 0x05, 0, 0);
                return;
            }
            if (s_is_filemark(self, self->pos))
                count--;
            self->pos++;
        }
        return;
    }
    count = -count;
    while (count > 0) {
        if (self->pos == 0) {
            tf_sim_check(self, res, TF_SENSE_NO_SENSE, 0x00, 0x04, 0, 0);
            return;
        }
        if (self->pos < end && s_is_filemark(self, self->pos))
            count--;
        self->pos--;
    }
}

static void
s_space_blocks(tf_sim_t *self, int64_t count, tf_scsi_res_t *res)
{
    size_t end = tf_simimg_count(self->img);
    if (count > 0) {
        for (int64_t done = 0; done < count; done++) {
            if (self->pos >= end) {
                tf_sim_check(self, res, TF_SENSE_BLANK_CHECK, 0x00, 0x05, TF_SENSE_F_INFO,
                             count - done);
                return;
            }
            if (s_is_filemark(self, self->pos)) {
                self->pos++; /* stop on the EOM side of the filemark */
                tf_sim_check(self, res, TF_SENSE_NO_SENSE, 0x00, 0x01,
                             TF_SENSE_F_FILEMARK | TF_SENSE_F_INFO, count - done);
                return;
            }
            self->pos++;
        }
        return;
    }
    for (int64_t done = 0; done < -count; done++) {
        if (self->pos == 0) {
            tf_sim_check(self, res, TF_SENSE_NO_SENSE, 0x00, 0x04,
                         TF_SENSE_F_EOM | TF_SENSE_F_INFO, -count - done);
            return;
        }
        self->pos--;
        if (s_is_filemark(self, self->pos)) { /* stop on the BOM side of the filemark */
            tf_sim_check(self, res, TF_SENSE_NO_SENSE, 0x00, 0x01,
                         TF_SENSE_F_FILEMARK | TF_SENSE_F_INFO, -count - done);
            return;
        }
    }
}

static void
s_space_filemarks(tf_sim_t *self, int64_t count, tf_scsi_res_t *res)
{
    size_t end = tf_simimg_count(self->img);
    if (count > 0) {
        int64_t crossed = 0;
        while (crossed < count) {
            if (self->pos >= end) {
                tf_sim_check(self, res, TF_SENSE_BLANK_CHECK, 0x00, 0x05, TF_SENSE_F_INFO,
                             count - crossed);
                return;
            }
            if (s_is_filemark(self, self->pos))
                crossed++;
            self->pos++;
        }
        return;
    }
    int64_t crossed = 0;
    while (crossed < -count) {
        if (self->pos == 0) {
            tf_sim_check(self, res, TF_SENSE_NO_SENSE, 0x00, 0x04,
                         TF_SENSE_F_EOM | TF_SENSE_F_INFO, -count - crossed);
            return;
        }
        self->pos--;
        if (s_is_filemark(self, self->pos))
            crossed++;
    }
}

void
tf_sim_space(tf_sim_t *self, int code, int64_t count, tf_scsi_res_t *res)
{
    if (self->opts.tgt_quirks && (code == TF_SPACE_CODE_BLOCKS || code == TF_SPACE_CODE_FILEMARKS)) {
        s_space_tgt(self, code == TF_SPACE_CODE_BLOCKS, count, res);
        return;
    }
    switch (code) {
    case TF_SPACE_CODE_BLOCKS:
        s_space_blocks(self, count, res);
        break;
    case TF_SPACE_CODE_FILEMARKS:
        s_space_filemarks(self, count, res);
        break;
    case TF_SPACE_CODE_EOD:
        self->pos = tf_simimg_count(self->img);
        break;
    default:
        tf_sim_check(self, res, TF_SENSE_ILLEGAL_REQUEST, 0x24, 0x00, 0, 0);
        break;
    }
}

void
tf_sim_locate16(tf_sim_t *self, const tf_scsi_req_t *req, tf_scsi_res_t *res)
{
    int dest_type = (req->cdb[1] >> 3) & 0x07;
    bool change_partition = (req->cdb[1] & 0x02) != 0;
    uint64_t id = tf_cdb_get_be(req->cdb + 4, 8);
    size_t end = tf_simimg_count(self->img);
    if (req->cdb_len < 16 || change_partition || req->cdb[3] != 0) {
        tf_sim_check(self, res, TF_SENSE_ILLEGAL_REQUEST, 0x24, 0x00, 0, 0);
        return;
    }
    if (dest_type == 3) {
        self->pos = end;
        return;
    }
    if (dest_type == 0) {
        if (id > end) {
            self->pos = end;
            tf_sim_check(self, res, TF_SENSE_BLANK_CHECK, 0x00, 0x05, 0, 0);
            return;
        }
        self->pos = (size_t) id;
        return;
    }
    if (dest_type == 1) {
        /* Logical file N starts after the N-th filemark. */
        size_t at = 0;
        uint64_t files = 0;
        while (files < id && at < end) {
            if (s_is_filemark(self, at))
                files++;
            at++;
        }
        self->pos = at;
        if (files < id)
            tf_sim_check(self, res, TF_SENSE_BLANK_CHECK, 0x00, 0x05, 0, 0);
        return;
    }
    tf_sim_check(self, res, TF_SENSE_ILLEGAL_REQUEST, 0x24, 0x00, 0, 0);
}

int
tf_sim_erase(tf_sim_t *self, const tf_scsi_req_t *req, tf_scsi_res_t *res, tf_err_t *err)
{
    (void) req;
    if (s_write_protected(self, res))
        return TF_OK;
    /* Both short and long erase leave end of data at the current position. */
    return tf_simimg_truncate(self->img, self->pos, err);
}
