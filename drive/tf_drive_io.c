/*  tf_drive_io - reading, writing and positioning, with position tracking and fallbacks. */
#include <stdio.h>
#include <string.h>

#include "tf_cdb.h"
#include "tf_drive.h"
#include "tf_drive_priv.h"
#include "tf_log.h"

bool
tf_drive_early_warning(tf_drive_t *self)
{
    return self->early_warning;
}

void
tf_drive_position(tf_drive_t *self, tf_drive_pos_t *pos)
{
    tf_drive_track_get(self->track, pos);
}

static void
s_copy_err(tf_err_t *dst, const tf_err_t *src)
{
    if (dst)
        *dst = *src;
}

/* Residue of the last command from the sense information field; -1 when not reported. */
static int64_t
s_residue(tf_drive_t *self)
{
    return self->last_sense.info_valid ? self->last_sense.info : -1;
}

int
tf_drive_write_block(tf_drive_t *self, const void *buf, size_t len, tf_err_t *err)
{
    if (!buf || len == 0)
        return tf_err_set(err, TF_ERR_INVALID, "write to %s: empty block", self->url);
    if (len > TF_CDB_MAX_BLOCK)
        return tf_err_set(err, TF_ERR_TOOBIG,
                          "write to %s: block of %zu bytes is over the 16 MiB a WRITE(6) can "
                          "carry; use blocks of 256 KiB to 1 MiB",
                          self->url, len);
    uint8_t cdb[TF_CDB_MAX];
    int rc = tf_drive_exec(self, cdb, tf_cdb_write6(cdb, (uint32_t) len), TF_XFER_OUT,
                           (void *) buf, len, TF_DRIVE_T_RW, err);
    if (rc == TF_OK) {
        tf_drive_track_wrote_blocks(self->track, 1);
        if (self->last_cond == TF_DRIVE_COND_EARLY_WARNING && !self->early_warning) {
            self->early_warning = true;
            tf_log_info("drive %s: early warning (logical end of tape) after a write; the "
                        "write succeeded, finish the tape file soon",
                        self->url);
        }
        return TF_OK;
    }
    if (self->last_cond == TF_DRIVE_COND_END_OF_MEDIUM) {
        self->early_warning = true;
        tf_drive_track_eod(self->track, true);
    } else if (self->last_cond != TF_DRIVE_COND_WRITE_PROTECTED
               && self->last_cond != TF_DRIVE_COND_NOT_SUPPORTED
               && self->last_cond != TF_DRIVE_COND_ILLEGAL_REQUEST) {
        tf_drive_track_lost(self->track);
    }
    return rc;
}

/* tgt over iSCSI garbles the tail of a short block that fills more than half of the buffer:
   step back over the block and read it again with its exact length. */
static int
s_reread_exact(tf_drive_t *self, void *buf, size_t len, tf_err_t *err)
{
    uint8_t cdb[TF_CDB_MAX];
    int rc = tf_drive_exec(self, cdb, tf_cdb_space6(cdb, TF_SPACE_CODE_BLOCKS, -1), TF_XFER_NONE,
                           NULL, 0, TF_DRIVE_T_MOVE, err);
    if (rc == TF_OK)
        rc = tf_drive_exec(self, cdb, tf_cdb_read6(cdb, (uint32_t) len, false), TF_XFER_IN, buf,
                           len, TF_DRIVE_T_RW, err);
    if (rc != TF_OK) {
        tf_drive_track_lost(self->track);
        return tf_err_prefix(err, "re-reading a short block: ");
    }
    self->last_cond = TF_DRIVE_COND_BLOCK_LENGTH;
    return TF_OK;
}

int
tf_drive_read_block(tf_drive_t *self, void *buf, size_t size, size_t *len, tf_err_t *err)
{
    *len = 0;
    tf_err_t ierr;
    tf_drive_identify(self, &ierr); /* learns quirks once; a failure shows on the READ itself */
    if (!buf || size == 0)
        return tf_err_set(err, TF_ERR_INVALID, "read from %s: no buffer", self->url);
    uint32_t want = size > TF_CDB_MAX_BLOCK ? TF_CDB_MAX_BLOCK : (uint32_t) size;
    uint8_t cdb[TF_CDB_MAX];
    tf_err_t rerr = {0, ""};
    int rc = tf_drive_exec(self, cdb, tf_cdb_read6(cdb, want, false), TF_XFER_IN, buf, want,
                           TF_DRIVE_T_RW, &rerr);
    size_t moved = want - (self->last_resid < want ? self->last_resid : want);
    switch (self->last_cond) {
    case TF_DRIVE_COND_NONE:
    case TF_DRIVE_COND_EARLY_WARNING:
        if (rc != TF_OK)
            break;
        *len = moved;
        tf_drive_track_blocks(self->track, 1);
        return TF_OK;
    case TF_DRIVE_COND_BLOCK_LENGTH: {
        int64_t info = s_residue(self);
        tf_drive_track_blocks(self->track, 1);
        if (info < 0 && self->last_sense.info_valid) {
            *len = want;
            return tf_err_set(err, TF_ERR_TOOBIG,
                              "read from %s: the block on tape is %lld bytes, larger than the "
                              "%u-byte buffer; the tape moved past it (read with a buffer as "
                              "large as the largest block written)",
                              self->url, (long long) want - info, want);
        }
        *len = info > 0 && (uint64_t) info <= want ? want - (size_t) info : moved;
        if ((self->quirks & TF_DRIVE_TGT_SPACE) && info > 0 && *len > (size_t) info)
            return s_reread_exact(self, buf, *len, err);
        return TF_OK;
    }
    case TF_DRIVE_COND_FILEMARK:
        tf_drive_track_filemark_forward(self->track, true);
        return TF_OK;
    case TF_DRIVE_COND_END_OF_DATA:
        tf_drive_track_eod(self->track, true);
        return TF_OK;
    default:
        break;
    }
    if (self->last_cond != TF_DRIVE_COND_NOT_SUPPORTED
        && self->last_cond != TF_DRIVE_COND_ILLEGAL_REQUEST)
        tf_drive_track_lost(self->track);
    s_copy_err(err, &rerr);
    return rc;
}

int
tf_drive_write_filemarks(tf_drive_t *self, uint32_t count, bool immediate, tf_err_t *err)
{
    uint8_t cdb[TF_CDB_MAX];
    int rc = tf_drive_exec(self, cdb, tf_cdb_write_filemarks6(cdb, count, immediate),
                           TF_XFER_NONE, NULL, 0, TF_DRIVE_T_RW, err);
    if (rc == TF_OK) {
        tf_drive_track_wrote_filemarks(self->track, count);
        if (self->last_cond == TF_DRIVE_COND_EARLY_WARNING)
            self->early_warning = true;
        return TF_OK;
    }
    if (self->last_cond == TF_DRIVE_COND_END_OF_MEDIUM)
        self->early_warning = true;
    else if (self->last_cond != TF_DRIVE_COND_WRITE_PROTECTED)
        tf_drive_track_lost(self->track);
    return rc;
}

static bool
s_position_reporting(tf_drive_t *self)
{
    return (self->quirks & (TF_DRIVE_NO_READPOS_LONG | TF_DRIVE_NO_READPOS_SHORT))
           != (TF_DRIVE_NO_READPOS_LONG | TF_DRIVE_NO_READPOS_SHORT);
}

/* Reconciles the tracked position with the drive's, where the drive can say. */
static void
s_refresh(tf_drive_t *self)
{
    if (!s_position_reporting(self))
        return;
    tf_drive_pos_t pos;
    tf_err_t ignored;
    tf_drive_read_position(self, &pos, &ignored);
}

/* Parses a long-form READ POSITION answer; false when it carries no usable position. */
static bool
s_parse_long(const uint8_t *buf, uint64_t *object, uint64_t *file, bool *bop)
{
    *bop = (buf[0] & 0x80) != 0;
    if (buf[0] & 0x0C) /* MPU or LONU: position unknown */
        return false;
    *object = tf_cdb_get_be(buf + 8, 8);
    *file = tf_cdb_get_be(buf + 16, 8);
    return !(*object == 0 && !*bop); /* object 0 is BOT: zeros without BOP are no answer */
}

static bool
s_parse_short(const uint8_t *buf, uint64_t *object, bool *bop)
{
    *bop = (buf[0] & 0x80) != 0;
    if (buf[0] & 0x04) /* LOLU/BPU: location unknown */
        return false;
    *object = tf_cdb_get_be(buf + 4, 4);
    return !(*object == 0 && !*bop);
}

int
tf_drive_read_position(tf_drive_t *self, tf_drive_pos_t *pos, tf_err_t *err)
{
    uint8_t cdb[TF_CDB_MAX];
    uint8_t buf[32];
    uint64_t object = 0, file = 0;
    bool bop = false;
    int rc;
    if (!(self->quirks & TF_DRIVE_NO_READPOS_LONG)) {
        memset(buf, 0, sizeof buf);
        tf_err_t perr = {0, ""};
        rc = tf_drive_exec(self, cdb, tf_cdb_read_position(cdb, TF_READPOS_LONG, 32), TF_XFER_IN,
                           buf, 32, TF_DRIVE_T_SHORT, &perr);
        if (rc == TF_OK && s_parse_long(buf, &object, &file, &bop)) {
            tf_drive_track_from_drive(self->track, object, (int64_t) file, bop);
            tf_drive_track_get(self->track, pos);
            return TF_OK;
        }
        if (rc != TF_OK && self->last_cond != TF_DRIVE_COND_NOT_SUPPORTED
            && self->last_cond != TF_DRIVE_COND_ILLEGAL_REQUEST) {
            s_copy_err(err, &perr);
            tf_drive_track_get(self->track, pos);
            return rc;
        }
        tf_drive_fallback(self, TF_DRIVE_NO_READPOS_LONG,
                          rc == TF_OK ? "READ POSITION (long form) reports no position: using "
                                        "the short form or the tracked position"
                                      : "no long-form READ POSITION: using the short form or "
                                        "the tracked position");
    }
    if (!(self->quirks & TF_DRIVE_NO_READPOS_SHORT)) {
        memset(buf, 0, sizeof buf);
        tf_err_t perr = {0, ""};
        rc = tf_drive_exec(self, cdb, tf_cdb_read_position(cdb, TF_READPOS_SHORT, 20), TF_XFER_IN,
                           buf, 20, TF_DRIVE_T_SHORT, &perr);
        if (rc == TF_OK && s_parse_short(buf, &object, &bop)) {
            tf_drive_track_from_drive(self->track, object, -1, bop);
            tf_drive_track_get(self->track, pos);
            return TF_OK;
        }
        if (rc != TF_OK && self->last_cond != TF_DRIVE_COND_NOT_SUPPORTED
            && self->last_cond != TF_DRIVE_COND_ILLEGAL_REQUEST) {
            s_copy_err(err, &perr);
            tf_drive_track_get(self->track, pos);
            return rc;
        }
        tf_drive_fallback(self, TF_DRIVE_NO_READPOS_SHORT,
                          "READ POSITION reports no position: tracking the position from the "
                          "commands issued (rewind + space filemarks to position)");
    }
    tf_drive_track_get(self->track, pos);
    return TF_OK;
}

int
tf_drive_rewind(tf_drive_t *self, tf_err_t *err)
{
    uint8_t cdb[TF_CDB_MAX];
    int rc = tf_drive_exec(self, cdb, tf_cdb_rewind(cdb, false), TF_XFER_NONE, NULL, 0,
                           TF_DRIVE_T_MOVE, err);
    self->early_warning = false;
    if (rc == TF_OK)
        tf_drive_track_bot(self->track);
    else
        tf_drive_track_lost(self->track);
    return rc;
}

/* One SPACE command of any size: SPACE(6), or SPACE(16) for counts beyond 24 bits. */
static int
s_space_cmd(tf_drive_t *self, int code, int64_t count, tf_err_t *err)
{
    uint8_t cdb[TF_CDB_MAX];
    if (count >= -TF_CDB_MAX_COUNT6 - 1 && count <= TF_CDB_MAX_COUNT6)
        return tf_drive_exec(self, cdb, tf_cdb_space6(cdb, code, (int32_t) count), TF_XFER_NONE,
                             NULL, 0, TF_DRIVE_T_MOVE, err);
    if (!(self->quirks & TF_DRIVE_NO_SPACE16)) {
        int rc = tf_drive_exec(self, cdb, tf_cdb_space16(cdb, code, count), TF_XFER_NONE, NULL, 0,
                               TF_DRIVE_T_MOVE, err);
        if (rc == TF_OK || self->last_cond != TF_DRIVE_COND_NOT_SUPPORTED)
            return rc;
        tf_drive_fallback(self, TF_DRIVE_NO_SPACE16, "no SPACE(16): large counts are spaced "
                                                      "in SPACE(6) steps");
    }
    /* Steps of SPACE(6); a stop part-way reports the residue of the whole request. */
    int64_t left = count;
    while (left != 0) {
        int64_t step = left > TF_CDB_MAX_COUNT6    ? TF_CDB_MAX_COUNT6
                       : left < -TF_CDB_MAX_COUNT6 ? -TF_CDB_MAX_COUNT6
                                                   : left;
        int rc = tf_drive_exec(self, cdb, tf_cdb_space6(cdb, code, (int32_t) step), TF_XFER_NONE,
                               NULL, 0, TF_DRIVE_T_MOVE, err);
        left -= step;
        if (rc != TF_OK) {
            if (self->last_sense.info_valid)
                self->last_sense.info += left < 0 ? -left : left;
            return rc;
        }
    }
    return TF_OK;
}

/* Goes to end of data and makes sure the tape file number there is known. */
static int
s_space_eod(tf_drive_t *self, tf_err_t *err)
{
    int rc = s_space_cmd(self, TF_SPACE_CODE_EOD, 0, err);
    if (rc != TF_OK) {
        tf_drive_track_lost(self->track);
        return rc;
    }
    tf_drive_track_lost(self->track);
    tf_drive_pos_t pos;
    tf_err_t ignored;
    if (s_position_reporting(self))
        tf_drive_read_position(self, &pos, &ignored);
    tf_drive_track_get(self->track, &pos);
    if (pos.file_known) {
        tf_drive_track_eod(self->track, true);
        return TF_OK;
    }
    /* No position from the drive: count tape files from the start. */
    tf_drive_fallback(self, TF_DRIVE_NO_READPOS_SHORT,
                      "READ POSITION reports no position: end of data is found by rewinding "
                      "and spacing filemarks one by one, counting tape files");
    rc = tf_drive_rewind(self, err);
    if (rc != TF_OK)
        return rc;
    for (;;) {
        tf_err_t serr = {0, ""};
        rc = s_space_cmd(self, TF_SPACE_CODE_FILEMARKS, 1, &serr);
        if (rc == TF_OK) {
            tf_drive_track_filemark_forward(self->track, false);
            continue;
        }
        if (self->last_cond == TF_DRIVE_COND_END_OF_DATA)
            break;
        s_copy_err(err, &serr);
        tf_drive_track_lost(self->track);
        return rc;
    }
    /* Stopped at end of data inside the last tape file: the file number is exact, the block
       number in it is not known. */
    tf_drive_track_forget_block(self->track);
    tf_drive_track_eod(self->track, true);
    return TF_OK;
}

static int
s_stopped(tf_drive_t *self, const char *what, int64_t asked, int64_t done, tf_err_t *err)
{
    return tf_err_set(err, TF_ERR_NOTFOUND,
                      "spacing %lld %s on %s stopped after %lld: %s", (long long) asked, what,
                      self->url, (long long) done, tf_drive_cond_message(self->last_cond));
}

static int
s_space_blocks(tf_drive_t *self, int64_t count, tf_err_t *err)
{
    tf_drive_pos_t pos;
    tf_drive_track_get(self->track, &pos);
    uint64_t length;
    bool tgt = (self->quirks & TF_DRIVE_TGT_SPACE) != 0;
    if (tgt && count > 0 && pos.block_known && pos.file_known
        && tf_drive_track_file_length(self->track, pos.file, &length)
        && (uint64_t) count > length - pos.block) {
        /* tgt would run over the filemark silently: stop after it like SSC says. */
        int64_t room = (int64_t) (length - pos.block);
        int rc = room ? s_space_cmd(self, TF_SPACE_CODE_BLOCKS, room, err) : TF_OK;
        if (rc == TF_OK)
            rc = s_space_cmd(self, TF_SPACE_CODE_BLOCKS, 1, err);
        if (rc != TF_OK) {
            tf_drive_track_lost(self->track);
            return rc;
        }
        tf_drive_track_blocks(self->track, room);
        tf_drive_track_filemark_forward(self->track, true);
        self->last_cond = TF_DRIVE_COND_FILEMARK;
        return s_stopped(self, "blocks", count, room, err);
    }
    if (tgt && count < 0 && pos.block_known && pos.file_known && (uint64_t) -count > pos.block) {
        int64_t room = (int64_t) pos.block;
        int rc = room ? s_space_cmd(self, TF_SPACE_CODE_BLOCKS, -room, err) : TF_OK;
        bool bot = pos.file == 0;
        if (rc == TF_OK && !bot)
            rc = s_space_cmd(self, TF_SPACE_CODE_BLOCKS, -1, err);
        if (rc != TF_OK) {
            tf_drive_track_lost(self->track);
            return rc;
        }
        tf_drive_track_blocks(self->track, -room);
        if (bot) {
            tf_drive_track_bot(self->track);
            self->last_cond = TF_DRIVE_COND_BEGINNING_OF_MEDIUM;
        } else {
            tf_drive_track_filemark_backward(self->track, true);
            self->last_cond = TF_DRIVE_COND_FILEMARK;
        }
        return s_stopped(self, "blocks", count, room, err);
    }
    tf_err_t serr = {0, ""};
    int rc = s_space_cmd(self, TF_SPACE_CODE_BLOCKS, count, &serr);
    if (rc == TF_OK) {
        tf_drive_track_blocks(self->track, count);
        s_refresh(self);
        return TF_OK;
    }
    int64_t magnitude = count < 0 ? -count : count;
    int64_t residue = s_residue(self);
    tf_drive_cond_t cond = self->last_cond;
    if ((cond == TF_DRIVE_COND_FILEMARK || cond == TF_DRIVE_COND_END_OF_DATA
         || cond == TF_DRIVE_COND_BEGINNING_OF_MEDIUM)
        && residue >= 0 && residue <= magnitude) {
        int64_t done = magnitude - residue;
        tf_drive_track_blocks(self->track, count < 0 ? -done : done);
        if (cond == TF_DRIVE_COND_FILEMARK && count > 0)
            tf_drive_track_filemark_forward(self->track, true);
        else if (cond == TF_DRIVE_COND_FILEMARK)
            tf_drive_track_filemark_backward(self->track, true);
        else if (cond == TF_DRIVE_COND_BEGINNING_OF_MEDIUM)
            tf_drive_track_bot(self->track);
        else
            tf_drive_track_eod(self->track, true);
        s_refresh(self);
        self->last_cond = cond;
        return s_stopped(self, "blocks", count, done, err);
    }
    tf_drive_track_lost(self->track);
    s_refresh(self);
    self->last_cond = cond;
    s_copy_err(err, &serr);
    return rc;
}

/* tgt's backward filemark spacing stops one object early: go forward from the start instead. */
static int
s_space_filemarks_back_by_rewind(tf_drive_t *self, int64_t count, tf_err_t *err)
{
    tf_drive_pos_t pos;
    tf_drive_track_get(self->track, &pos);
    uint64_t back = (uint64_t) -count;
    /* From inside file f, crossing `back` filemarks backwards ends at the end of file f-back. */
    if (pos.file < back) {
        int rc = tf_drive_rewind(self, err);
        if (rc != TF_OK)
            return rc;
        self->last_cond = TF_DRIVE_COND_BEGINNING_OF_MEDIUM;
        return s_stopped(self, "filemarks", count, (int64_t) pos.file, err);
    }
    uint64_t target = pos.file - back; /* end of this file = BOT side of its filemark */
    int rc = tf_drive_rewind(self, err);
    if (rc == TF_OK)
        rc = s_space_cmd(self, TF_SPACE_CODE_FILEMARKS, (int64_t) target + 1, err);
    if (rc == TF_OK) {
        for (uint64_t i = 0; i < target + 1; i++)
            tf_drive_track_filemark_forward(self->track, false);
        rc = s_space_cmd(self, TF_SPACE_CODE_BLOCKS, -1, err);
    }
    if (rc != TF_OK) {
        tf_drive_track_lost(self->track);
        return rc;
    }
    tf_drive_track_filemark_backward(self->track, true);
    return TF_OK;
}

static int
s_space_filemarks(tf_drive_t *self, int64_t count, tf_err_t *err)
{
    tf_drive_pos_t pos;
    tf_drive_track_get(self->track, &pos);
    if (count < 0 && (self->quirks & TF_DRIVE_TGT_SPACE) && pos.file_known)
        return s_space_filemarks_back_by_rewind(self, count, err);
    tf_err_t serr = {0, ""};
    int rc = s_space_cmd(self, TF_SPACE_CODE_FILEMARKS, count, &serr);
    int64_t magnitude = count < 0 ? -count : count;
    int64_t done = magnitude;
    tf_drive_cond_t cond = self->last_cond;
    if (rc != TF_OK) {
        int64_t residue = s_residue(self);
        bool stop = cond == TF_DRIVE_COND_END_OF_DATA
                    || cond == TF_DRIVE_COND_BEGINNING_OF_MEDIUM;
        if (!stop) {
            tf_drive_track_lost(self->track);
            s_copy_err(err, &serr);
            return rc;
        }
        if (residue < 0 || residue > magnitude) {
            /* No residue (tgt): where we are is unknown; end of data is easy to re-find. */
            if (cond == TF_DRIVE_COND_END_OF_DATA) {
                int erc = s_space_eod(self, err);
                if (erc != TF_OK)
                    return erc;
                tf_drive_track_get(self->track, &pos);
                self->last_cond = cond;
                return tf_err_set(err, TF_ERR_NOTFOUND,
                                  "spacing %lld filemarks on %s reached end of data (tape "
                                  "file %llu)",
                                  (long long) count, self->url, (unsigned long long) pos.file);
            }
            tf_drive_track_bot(self->track);
            self->last_cond = cond;
            return s_stopped(self, "filemarks", count, -1, err);
        }
        done = magnitude - residue;
    }
    for (int64_t i = 0; i < done; i++) {
        if (count > 0)
            tf_drive_track_filemark_forward(self->track, false);
        else
            tf_drive_track_filemark_backward(self->track, false);
    }
    if (rc != TF_OK && cond == TF_DRIVE_COND_BEGINNING_OF_MEDIUM)
        tf_drive_track_bot(self->track);
    if (rc != TF_OK && cond == TF_DRIVE_COND_END_OF_DATA)
        tf_drive_track_eod(self->track, true);
    s_refresh(self);
    if (rc == TF_OK)
        return TF_OK;
    self->last_cond = cond;
    return s_stopped(self, "filemarks", count, done, err);
}

int
tf_drive_space(tf_drive_t *self, tf_drive_space_t what, int64_t count, tf_err_t *err)
{
    int rc = tf_drive_identify(self, err);
    if (rc != TF_OK)
        return rc;
    if (what == TF_DRIVE_SPACE_EOD) {
        self->early_warning = false;
        return s_space_eod(self, err);
    }
    if (count == 0)
        return TF_OK;
    if (count < 0)
        self->early_warning = false;
    if (what == TF_DRIVE_SPACE_BLOCKS)
        return s_space_blocks(self, count, err);
    if (what == TF_DRIVE_SPACE_FILEMARKS)
        return s_space_filemarks(self, count, err);
    return tf_err_set(err, TF_ERR_INVALID, "space on %s: unknown unit", self->url);
}

/* LOCATE(16); TF_ERR_UNSUPPORTED (and the fallback noted) when the drive lacks it. */
static int
s_locate16(tf_drive_t *self, int dest_type, uint64_t id, tf_err_t *err)
{
    if (self->quirks & TF_DRIVE_NO_LOCATE)
        return TF_ERR_UNSUPPORTED;
    uint8_t cdb[TF_CDB_MAX];
    tf_err_t lerr = {0, ""};
    int rc = tf_drive_exec(self, cdb, tf_cdb_locate16(cdb, dest_type, id, false), TF_XFER_NONE,
                           NULL, 0, TF_DRIVE_T_MOVE, &lerr);
    if (rc != TF_OK && self->last_cond == TF_DRIVE_COND_NOT_SUPPORTED) {
        tf_drive_fallback(self, TF_DRIVE_NO_LOCATE,
                          "no LOCATE: positioning by rewind + space filemarks + space blocks");
        return TF_ERR_UNSUPPORTED;
    }
    if (rc != TF_OK)
        s_copy_err(err, &lerr);
    return rc;
}

int
tf_drive_locate(tf_drive_t *self, uint64_t object, tf_err_t *err)
{
    int rc = tf_drive_identify(self, err);
    if (rc != TF_OK)
        return rc;
    self->early_warning = false;
    rc = s_locate16(self, TF_LOCATE_OBJECT, object, err);
    if (rc == TF_OK) {
        tf_drive_track_at_object(self->track, object);
        s_refresh(self);
        return TF_OK;
    }
    if (rc != TF_ERR_UNSUPPORTED) {
        tf_drive_track_lost(self->track);
        s_refresh(self);
        return rc;
    }
    rc = tf_drive_rewind(self, err);
    if (rc != TF_OK || object == 0)
        return rc;
    if (self->quirks & TF_DRIVE_TGT_SPACE) {
        /* tgt counts filemarks as blocks when spacing, which is exactly object counting. */
        rc = s_space_cmd(self, TF_SPACE_CODE_BLOCKS, (int64_t) object, err);
        if (rc != TF_OK) {
            tf_drive_track_lost(self->track);
            return rc;
        }
        tf_drive_track_at_object(self->track, object);
        return TF_OK;
    }
    /* SSC drives stop at each filemark (an object too): keep going with what is left. */
    uint64_t left = object;
    while (left > 0) {
        tf_err_t serr = {0, ""};
        rc = s_space_cmd(self, TF_SPACE_CODE_BLOCKS, (int64_t) left, &serr);
        if (rc == TF_OK) {
            tf_drive_track_blocks(self->track, (int64_t) left);
            return TF_OK;
        }
        int64_t residue = s_residue(self);
        if (self->last_cond != TF_DRIVE_COND_FILEMARK || residue < 0
            || (uint64_t) residue > left) {
            s_copy_err(err, &serr);
            if (self->last_cond == TF_DRIVE_COND_END_OF_DATA)
                tf_drive_track_eod(self->track, true);
            else
                tf_drive_track_lost(self->track);
            return rc;
        }
        uint64_t done = left - (uint64_t) residue;
        tf_drive_track_blocks(self->track, (int64_t) done);
        tf_drive_track_filemark_forward(self->track, true);
        left -= done + 1;
    }
    return TF_OK;
}

int
tf_drive_locate_file(tf_drive_t *self, uint64_t file, uint64_t block, tf_err_t *err)
{
    int rc = tf_drive_identify(self, err);
    if (rc != TF_OK)
        return rc;
    self->early_warning = false;
    rc = s_locate16(self, TF_LOCATE_FILE, file, err);
    if (rc == TF_OK) {
        tf_drive_track_lost(self->track);
        uint64_t start;
        if (tf_drive_track_file_start(self->track, file, &start))
            tf_drive_track_at_object(self->track, start);
        s_refresh(self);
        tf_drive_pos_t pos;
        tf_drive_track_get(self->track, &pos);
        if (!pos.file_known || pos.file != file) {
            /* The drive said where, but not which file: it is the one we asked for. */
            tf_drive_track_bot(self->track);
            for (uint64_t i = 0; i < file; i++)
                tf_drive_track_filemark_forward(self->track, false);
            s_refresh(self);
        }
    } else if (rc == TF_ERR_UNSUPPORTED) {
        rc = tf_drive_rewind(self, err);
        if (rc == TF_OK && file > 0) {
            tf_err_t serr = {0, ""};
            rc = s_space_cmd(self, TF_SPACE_CODE_FILEMARKS, (int64_t) file, &serr);
            if (rc == TF_OK) {
                for (uint64_t i = 0; i < file; i++)
                    tf_drive_track_filemark_forward(self->track, false);
            } else if (self->last_cond == TF_DRIVE_COND_END_OF_DATA) {
                s_space_eod(self, NULL);
                tf_drive_pos_t pos;
                tf_drive_track_get(self->track, &pos);
                self->last_cond = TF_DRIVE_COND_END_OF_DATA;
                return tf_err_set(err, TF_ERR_NOTFOUND,
                                  "tape in %s has no tape file %llu (end of data in file %llu)",
                                  self->url, (unsigned long long) file,
                                  (unsigned long long) pos.file);
            } else {
                s_copy_err(err, &serr);
                tf_drive_track_lost(self->track);
            }
        }
    } else {
        tf_drive_cond_t cond = self->last_cond;
        tf_drive_track_lost(self->track);
        if (cond == TF_DRIVE_COND_END_OF_DATA) {
            s_space_eod(self, NULL);
            tf_drive_pos_t pos;
            tf_drive_track_get(self->track, &pos);
            self->last_cond = cond;
            return tf_err_set(err, TF_ERR_NOTFOUND,
                              "tape in %s has no tape file %llu (end of data in file %llu)",
                              self->url, (unsigned long long) file, (unsigned long long) pos.file);
        }
        s_refresh(self);
    }
    if (rc != TF_OK || block == 0)
        return rc;
    return s_space_blocks(self, (int64_t) block, err);
}

int
tf_drive_erase(tf_drive_t *self, bool long_erase, tf_err_t *err)
{
    int rc = tf_drive_identify(self, err);
    if (rc != TF_OK)
        return rc;
    if (!(self->quirks & TF_DRIVE_NO_ERASE)) {
        uint8_t cdb[TF_CDB_MAX];
        tf_err_t eerr = {0, ""};
        rc = tf_drive_exec(self, cdb, tf_cdb_erase(cdb, long_erase, false), TF_XFER_NONE, NULL,
                           0, long_erase ? TF_DRIVE_T_ERASE : TF_DRIVE_T_MOVE, &eerr);
        if (rc == TF_OK) {
            tf_drive_track_wrote_blocks(self->track, 0);
            return TF_OK;
        }
        if (self->last_cond != TF_DRIVE_COND_NOT_SUPPORTED) {
            s_copy_err(err, &eerr);
            return rc;
        }
        tf_drive_fallback(self, TF_DRIVE_NO_ERASE,
                          "no ERASE: a filemark is written instead, which makes everything "
                          "after it unreachable (end of data follows it)");
    }
    return tf_drive_write_filemarks(self, 1, false, err);
}
