/*  tapedrive - the drive for one item: open, end of data, failed writes (see tapedrive.h). */
#include "tapedrive.h"

#include <inttypes.h>
#include <stdlib.h>

#include "item.h"
#include "tapefile.h"
#include "tf_clock.h"
#include "tf_drive_resolve.h"
#include "tf_log.h"

tf_drive_t *
tapedrive_open(item_t *it, bool *empty, tf_err_t *err)
{
    tapewriter_t *tw = it->tw;
    if (empty)
        *empty = false;
    char url[1024];
    if (tf_drive_resolve(tw->cfg, tw->drive_name, "/sys", "/dev", url, sizeof url, err) != TF_OK
        || tf_drive_prepare_sim_folder(url, err) != TF_OK) {
        tf_err_prefix(err, "drive %s: ", tw->drive_name);
        return NULL;
    }
    int64_t deadline = tf_clock_mono_ms() + tw->busy_wait_ms;
    tf_drive_t *drive = NULL;
    for (;;) {
        drive = tf_drive_open(url, err);
        if (drive || err->code != TF_ERR_BUSY || tf_clock_mono_ms() >= deadline)
            break;
        if (item_interrupted(it)) {
            tf_err_set(err, TF_ERR_INTERRUPTED, "stopped while waiting for the drive");
            break;
        }
        tf_clock_sleep_ms(200);
    }
    if (!drive) {
        tf_err_prefix(err, "drive %s: ", tw->drive_name);
        return NULL;
    }
    /* Waited for in slices, so a stop is not held up by a drive that takes its time. */
    int64_t ready_deadline = tf_clock_mono_ms() + tw->ready_timeout_ms;
    int rc;
    for (;;) {
        int64_t left = ready_deadline - tf_clock_mono_ms();
        int64_t slice = left > 1000 ? 1000 : left > 0 ? left : 0;
        rc = tf_drive_wait_ready(drive, slice, err);
        if (rc != TF_ERR_TIMEOUT || slice >= left)
            break;
        if (item_interrupted(it)) {
            rc = tf_err_set(err, TF_ERR_INTERRUPTED, "stopped while waiting for the tape to be ready");
            break;
        }
    }
    if (rc == TF_OK)
        rc = tf_drive_set_variable(drive, err);
    if (rc != TF_OK) {
        if (empty && tf_drive_last_cond(drive) == TF_DRIVE_COND_NO_MEDIUM)
            *empty = true;
        tf_err_prefix(err, "drive %s: ", tw->drive_name);
        tf_drive_destroy(&drive);
        return NULL;
    }
    return drive;
}

void
tapedrive_eject(item_t *it, tf_drive_t **drive_p, const char *what, bool robot)
{
    tf_err_t uerr = {0};
    if (*drive_p && tf_drive_unload(*drive_p, &uerr) != TF_OK
        && tf_drive_last_cond(*drive_p) != TF_DRIVE_COND_NO_MEDIUM) {
        if (robot)
            tf_log_warn("drive %s: could not eject %s (%s): trying the robot anyway", it->tw->drive_name,
                        what, uerr.message);
        else
            tf_log_warn("drive %s: could not eject %s: %s", it->tw->drive_name, what, uerr.message);
    }
    tf_drive_destroy(drive_p);
}

/* Whether tape file `file` - the one end of data is in - holds a block, for drives that do not
   report the block number (tgt). Spacing one block back from end of data is no test: tgt
   counts a filemark as a block there, so a closed last file would look open and get an empty
   tape file before every archive. The first object of the file is either end of data (the
   file is empty: closed) or a block (a writer stopped inside it). */
static int
s_last_file_has_data(tf_drive_t *drive, uint64_t file, bool *has_data, tf_err_t *err)
{
    *has_data = false;
    int rc = tf_drive_locate_file(drive, file, 0, err);
    if (rc != TF_OK)
        return tf_err_prefix(err, "cannot position at tape file %" PRIu64 " to see whether it is "
                             "complete: ", file);
    size_t size = TAPEFILE_BLOCK_MAX + 4096, len = 0;
    uint8_t *buf = malloc(size);
    if (!buf)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    tf_err_t rerr = {0};
    rc = tf_drive_read_block(drive, buf, size, &len, &rerr);
    free(buf);
    if (rc == TF_OK || rc == TF_ERR_TOOBIG) {
        *has_data = len > 0;
        return TF_OK;
    }
    tf_drive_cond_t cond = tf_drive_last_cond(drive);
    if (cond == TF_DRIVE_COND_END_OF_DATA || cond == TF_DRIVE_COND_FILEMARK)
        return TF_OK;
    if (err)
        *err = rerr;
    return tf_err_prefix(err, "cannot read tape file %" PRIu64 " to see whether it is complete: ", file);
}

int
tapedrive_goto_eod(tf_drive_t *drive, uint64_t *file, uint64_t *object, tf_err_t *err)
{
    int rc = tf_drive_space(drive, TF_DRIVE_SPACE_EOD, 0, err);
    if (rc != TF_OK)
        return tf_err_prefix(err, "cannot space to end of data: ");
    tf_drive_pos_t pos;
    tf_err_t perr = {0};
    if (tf_drive_read_position(drive, &pos, &perr) != TF_OK)
        tf_drive_position(drive, &pos);
    bool open_file = pos.block_known && pos.block > 0;
    if (!pos.block_known) {
        rc = s_last_file_has_data(drive, pos.file, &open_file, err);
        if (rc != TF_OK)
            return rc;
        rc = tf_drive_space(drive, TF_DRIVE_SPACE_EOD, 0, err);
        if (rc != TF_OK)
            return tf_err_prefix(err, "cannot space to end of data: ");
    }
    if (open_file) {
        tf_log_warn("the last tape file was left incomplete (a writer stopped mid-archive): closing it");
        rc = tf_drive_write_filemarks(drive, 1, false, err);
        if (rc != TF_OK)
            return tf_err_prefix(err, "cannot close the incomplete last tape file: ");
    }
    if (tf_drive_read_position(drive, &pos, &perr) != TF_OK)
        tf_drive_position(drive, &pos);
    if (!pos.file_known)
        return tf_err_set(err, TF_ERR_DEVICE, "the drive cannot tell which tape file end of data is in");
    *file = pos.file;
    *object = pos.object_known ? pos.object : 0;
    return TF_OK;
}

int
tapedrive_error(item_t *it, tf_drive_t *drive, const char *volume, const char *pool, tf_err_t *err)
{
    tf_drive_cond_t cond = tf_drive_last_cond(drive);
    if (cond == TF_DRIVE_COND_END_OF_MEDIUM) {
        it->vol.hit_end = true;
        if (it->tw->changer_url[0])
            tf_err_set(err, TF_ERR_DEVICE, "tape %s in drive %s is full: the archive is written again on the "
                       "next volume of its set (changer %s)", volume, it->tw->drive_name, it->tw->changer_url);
        else
            tf_err_set(err, TF_ERR_DEVICE, "tape %s in drive %s is full: mount a new tape of pool %s",
                       volume, it->tw->drive_name, pool);
        item_event(it, true, "error", "%s", err->message);
        return TF_ERR_DEVICE;
    }
    if (cond == TF_DRIVE_COND_HARDWARE_ERROR) {
        /* The drive failed, not the cartridge: marking it error would, with a changer, mark
           every cartridge each retry loads until the pool has none left. */
        tf_err_prefix(err, "drive %s reported a hardware error (sense key 4) while writing tape %s; the "
                      "tape is not marked, the item is tried again after a back-off; check the drive "
                      "('tapeflow drive doctor %s'): ", it->tw->drive_name, volume, it->tw->drive_name);
        item_event(it, true, "error", "%s", err->message);
        return err->code ? err->code : TF_ERR_DEVICE;
    }
    if (cond == TF_DRIVE_COND_MEDIUM_ERROR || cond == TF_DRIVE_COND_WRITE_PROTECTED) {
        it->vol.write_error = cond == TF_DRIVE_COND_MEDIUM_ERROR;
        tf_err_prefix(err, "tape %s in drive %s: ", volume, it->tw->drive_name);
        item_event(it, true, "error", "%s", err->message);
    }
    return err->code ? err->code : TF_ERR_DEVICE;
}
