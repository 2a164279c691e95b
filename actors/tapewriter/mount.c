/*  mount - the next volume into the drive, by changer or operator (see mount.h). */
#include "mount.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "item.h"
#include "tapedrive.h"
#include "tf_changer.h"
#include "tf_clock.h"
#include "tf_drive_resolve.h"
#include "tf_log.h"
#include "volume.h"

bool
mount_possible(const tapewriter_t *tw)
{
    return tw->changer_url[0] || tw->mount_wait_ms > 0;
}

/* Ejects the tape in *drive_p and closes the handle; a drive that has no tape any more is no
   trouble, any other failure only a warning: the robot (or the operator) takes over. */
static void
s_eject(item_t *it, tf_drive_t **drive_p, const mount_want_t *want, bool robot)
{
    tf_err_t uerr = {0};
    if (*drive_p && tf_drive_unload(*drive_p, &uerr) != TF_OK
        && tf_drive_last_cond(*drive_p) != TF_DRIVE_COND_NO_MEDIUM) {
        char what[64];
        if (want->purpose == MOUNT_SPAN)
            snprintf(what, sizeof what, "tape %s", want->previous.label);
        else
            snprintf(what, sizeof what, "the tape");
        if (robot)
            tf_log_warn("drive %s: could not eject %s (%s): trying the robot anyway", it->tw->drive_name,
                        what, uerr.message);
        else
            tf_log_warn("drive %s: could not eject %s: %s", it->tw->drive_name, what, uerr.message);
    }
    tf_drive_destroy(drive_p);
}

/* --- by changer ------------------------------------------------------------------------ */

/* Loads each full slot but the previous volume's in turn until a tape can continue the set;
   the others go back to their slots. */
static int
s_changer_span(item_t *it, tf_changer_t *chg, const tf_changer_inv_t *inv, tf_drive_t **drive_p,
               const mount_want_t *want, mount_at_t *at, tf_err_t *err)
{
    tapewriter_t *tw = it->tw;
    int rc = TF_OK;
    bool found = false;
    for (size_t i = 0; rc == TF_OK && !found && i < inv->count; i++) {
        const tf_changer_elem_t *e = &inv->elem[i];
        if (e->type != TF_CHANGER_SLOT || !e->full || strcmp(e->barcode, want->previous.label) == 0)
            continue;
        rc = tf_changer_load(chg, e->number, tw->changer_drive, err);
        if (rc != TF_OK)
            break;
        tf_drive_t *drive = tapedrive_open(tw, err);
        if (!drive) {
            rc = err->code;
            break;
        }
        rc = volume_take(it, drive, want->pool, &want->previous, want->set_id, e->barcode, &at->file,
                         &at->object, &found, err);
        if (rc == TF_OK && found) {
            *drive_p = drive;
            break;
        }
        tf_err_t uerr = {0};
        if (tf_drive_unload(drive, &uerr) != TF_OK)
            tf_log_warn("drive %s: could not eject the tape from slot %d (%s)", tw->drive_name, e->number,
                        uerr.message);
        tf_drive_destroy(&drive);
        if (rc == TF_OK)
            rc = tf_changer_unload(chg, tw->changer_drive, e->number, NULL, err);
    }
    if (rc == TF_OK && !found)
        return tf_err_set(err, TF_ERR_DEVICE, "changer %s has no blank or expired tape of pool %s for drive %s "
                          "(set %s continues after %s): put one in a slot; the archive is written again",
                          tw->changer_url, want->pool, tw->drive_name, want->set_id, want->previous.label);
    if (rc != TF_OK)
        return tf_err_prefix(err, "changing tapes in drive %s (changer %s): ", tw->drive_name, tw->changer_url);
    return TF_OK;
}

/* Loads the slot whose barcode is the volume wanted. */
static int
s_changer_restore(item_t *it, tf_changer_t *chg, const tf_changer_inv_t *inv, tf_drive_t **drive_p,
                  const mount_want_t *want, tf_err_t *err)
{
    tapewriter_t *tw = it->tw;
    const tf_changer_elem_t *e = tf_changer_inv_by_barcode(inv, want->volume);
    if (!e || e->type != TF_CHANGER_SLOT) {
        char text[1500];
        snprintf(text, sizeof text, "restore of job %.128s needs volume %s in drive %s: it is not in a slot of "
                 "changer %.1000s; put it in and run the restore again", want->job_id, want->volume,
                 tw->drive_name, tw->changer_url);
        item_mount_alert(it, text);
        return tf_err_set(err, TF_ERR_DEVICE, "%s", text);
    }
    int rc = tf_changer_load(chg, e->number, tw->changer_drive, err);
    if (rc != TF_OK)
        return tf_err_prefix(err, "changing tapes in drive %s (changer %s): ", tw->drive_name, tw->changer_url);
    item_event(it, false, "info", "restore of job %s: loading volume %s from slot %d into drive %s",
               want->job_id, want->volume, e->number, tw->drive_name);
    *drive_p = tapedrive_open(tw, err);
    return *drive_p ? TF_OK : err->code;
}

static int
s_by_changer(item_t *it, tf_drive_t **drive_p, const mount_want_t *want, mount_at_t *at, tf_err_t *err)
{
    tapewriter_t *tw = it->tw;
    s_eject(it, drive_p, want, true);
    tf_changer_t *chg = tf_changer_open(tw->changer_url, err);
    if (!chg)
        return tf_err_prefix(err, "changer %s of drive %s: ", tw->changer_url, tw->drive_name);
    tf_changer_inv_t *inv = NULL;
    int rc = tf_changer_unload(chg, tw->changer_drive, 0, NULL, err);
    if (rc == TF_OK)
        rc = tf_changer_inventory(chg, &inv, err);
    if (rc != TF_OK)
        tf_err_prefix(err, "changing tapes in drive %s (changer %s): ", tw->drive_name, tw->changer_url);
    else if (want->purpose == MOUNT_SPAN)
        rc = s_changer_span(it, chg, inv, drive_p, want, at, err);
    else
        rc = s_changer_restore(it, chg, inv, drive_p, want, err);
    if (rc != TF_OK && want->purpose == MOUNT_SPAN)
        item_event(it, true, "error", "%s", err->message);
    tf_changer_inv_destroy(&inv);
    tf_changer_destroy(&chg);
    return rc;
}

/* --- by operator ----------------------------------------------------------------------- */

/* Whether the tape just mounted is the one wanted (*taken; false: wait for another). */
static int
s_try_span(item_t *it, tf_drive_t *drive, const mount_want_t *want, mount_at_t *at, bool *said_blank,
           bool *taken, tf_err_t *err)
{
    tapewriter_t *tw = it->tw;
    *taken = false;
    tf_err_t perr = {0};
    tf_label_info_t info;
    if (tf_label_read(drive, &info, &perr) == TF_OK && info.kind == TF_LABEL_TAPEFLOW
        && strcmp(info.label.label, want->previous.label) == 0)
        return TF_OK;  /* still (or again) the full tape */
    if (info.kind == TF_LABEL_BLANK && !*said_blank) {
        item_event(it, true, "warn", "tape in drive %s is blank: label it for pool %s ('tapeflow tape label %s "
                   "--label NAME --pool %s') and archive %.128s continues on it", tw->drive_name, want->pool,
                   tw->drive_name, want->pool, want->archive_id);
        *said_blank = true;
    }
    return volume_take(it, drive, want->pool, &want->previous, want->set_id, NULL, &at->file, &at->object,
                       taken, err);
}

static bool
s_is_volume(tf_drive_t *drive, const char *volume)
{
    tf_err_t perr = {0};
    tf_label_info_t info;
    return tf_label_read(drive, &info, &perr) == TF_OK && info.kind == TF_LABEL_TAPEFLOW
           && strcmp(info.label.label, volume) == 0;
}

/* Raises alert.mount, then polls the drive until the tape wanted is in it, mount_wait passes,
   the actor is stopped or (span) the job is cancelled. */
static int
s_by_operator(item_t *it, tf_drive_t **drive_p, const mount_want_t *want, mount_at_t *at, tf_err_t *err)
{
    tapewriter_t *tw = it->tw;
    bool span = want->purpose == MOUNT_SPAN;
    s_eject(it, drive_p, want, false);
    char url[1024];
    int rc = tf_drive_resolve(tw->cfg, tw->drive_name, "/sys", "/dev", url, sizeof url, err);
    if (rc != TF_OK)
        return tf_err_prefix(err, "drive %s: ", tw->drive_name);
    char text[1024];
    if (span)
        snprintf(text, sizeof text, "mount a tape of pool %s in drive %s: archive %.128s continues on it as "
                 "volume %" PRIu64 " of set %s (tape %s is %s; waiting up to %d s)", want->pool, tw->drive_name,
                 want->archive_id, (want->previous.sequence ? want->previous.sequence : 1) + 1, want->set_id,
                 want->previous.label, it->vol.in_error ? "marked error after write errors" : "full",
                 tw->mount_wait_ms / 1000);
    else
        snprintf(text, sizeof text, "restore of job %.128s needs volume %.64s in drive %s (waiting up to %d s)",
                 want->job_id, want->volume, tw->drive_name, tw->mount_wait_ms / 1000);
    item_mount_alert(it, text);
    int64_t deadline = tf_clock_mono_ms() + tw->mount_wait_ms;
    int64_t next_check = tf_clock_mono_ms() + 2000;
    bool said_blank = false;
    while (tf_clock_mono_ms() < deadline) {
        if (item_interrupted(it))
            return span ? tf_err_set(err, TF_ERR_INTERRUPTED, "stopped while waiting for a tape in drive %s",
                                     tw->drive_name)
                        : tf_err_set(err, TF_ERR_INTERRUPTED, "restore stopped while waiting for volume %s",
                                     want->volume);
        /* A span's backup job may be cancelled meanwhile: then it needs no tape. */
        if (span && tf_clock_mono_ms() >= next_check) {
            next_check = tf_clock_mono_ms() + 2000;
            if (item_cancelled(it)) {
                it->cancelled = true;
                tf_err_set(err, TF_ERR_DEVICE, "job %s was cancelled: drive %s stops waiting for a "
                           "tape for archive %s", want->job_id, tw->drive_name, want->archive_id);
                item_event(it, true, "warn", "%s", err->message);
                return TF_ERR_DEVICE;
            }
        }
        tf_clock_sleep_ms(500);
        tf_err_t perr = {0};
        tf_drive_t *drive = tf_drive_open(url, &perr);
        if (!drive)
            continue;
        if (tf_drive_wait_ready(drive, 500, &perr) != TF_OK || tf_drive_set_variable(drive, &perr) != TF_OK) {
            tf_drive_destroy(&drive);
            continue;
        }
        bool taken = false;
        if (span)
            rc = s_try_span(it, drive, want, at, &said_blank, &taken, err);
        else
            taken = s_is_volume(drive, want->volume);
        if (rc == TF_OK && taken) {
            *drive_p = drive;
            return TF_OK;
        }
        tf_drive_destroy(&drive);
        if (rc != TF_OK)
            return rc;
    }
    if (span)
        tf_err_set(err, TF_ERR_DEVICE, "no tape of pool %s was mounted in drive %s within %d s "
                   "(tapewriter/mount_wait): archive %s is written again from its start once one is",
                   want->pool, tw->drive_name, tw->mount_wait_ms / 1000, want->archive_id);
    else
        tf_err_set(err, TF_ERR_DEVICE, "restore of job %s: volume %s was not mounted in drive %s within %d s "
                   "(tapewriter/mount_wait): run the restore again with it at hand", want->job_id,
                   want->volume, tw->drive_name, tw->mount_wait_ms / 1000);
    item_event(it, true, "error", "%s", err->message);
    return TF_ERR_DEVICE;
}

int
mount_next(item_t *it, tf_drive_t **drive_p, const mount_want_t *want, mount_at_t *at, tf_err_t *err)
{
    mount_at_t where;
    memset(&where, 0, sizeof where);
    int rc = it->tw->changer_url[0] ? s_by_changer(it, drive_p, want, &where, err)
                                    : s_by_operator(it, drive_p, want, &where, err);
    if (rc == TF_OK && want->purpose == MOUNT_SPAN) {
        snprintf(where.volume, sizeof where.volume, "%s", it->vol.label.label);
        if (at)
            *at = where;
    }
    return rc;
}
