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

/* Ejects the tape in *drive_p and closes the handle (tapedrive_eject). */
static void
s_eject(item_t *it, tf_drive_t **drive_p, const mount_want_t *want, bool robot)
{
    char what[64];
    if (want->purpose == MOUNT_SPAN)
        snprintf(what, sizeof what, "tape %s", want->previous.label);
    else
        snprintf(what, sizeof what, "the tape");
    tapedrive_eject(it, drive_p, what, robot);
}

/* Whether the item has to stop looking for a volume: the actor is stopped, or the broker
   cancelled the item (checked once per round: each round may be a robot move). */
static int
s_stop_check(item_t *it, const mount_want_t *want, tf_err_t *err)
{
    tapewriter_t *tw = it->tw;
    if (item_interrupted(it))
        return want->purpose == MOUNT_RESTORE
                   ? tf_err_set(err, TF_ERR_INTERRUPTED, "restore stopped while waiting for volume %s", want->volume)
                   : tf_err_set(err, TF_ERR_INTERRUPTED, "stopped while waiting for a tape in drive %s",
                                tw->drive_name);
    if (item_cancelled(it)) {
        it->cancelled = true;
        tf_err_set(err, TF_ERR_DEVICE, "job %s was cancelled: drive %s stops waiting for a tape%s%s",
                   want->job_id ? want->job_id : "?", tw->drive_name, want->archive_id ? " for archive " : "",
                   want->archive_id ? want->archive_id : "");
        item_event(it, true, "warn", "%s", err->message);
        return TF_ERR_DEVICE;
    }
    return TF_OK;
}

/* --- by changer: the labeller moves the robot ------------------------------------------- */

/* Cartridges loaded and found unfit in one mount (never offered again in it). */
#define S_MAX_TRIED 64

/* Asks the labeller for the volume wanted until it is in the drive: the labeller puts the
   tape back and loads the cartridge it chooses (by its inventory: no cartridge is loaded just
   to read its label unless nobody ever read it); this writer reads what was loaded and asks
   again with what it read, ejecting a tape the labeller does not take. */
static int
s_by_labeller(item_t *it, tf_drive_t **drive_p, const mount_want_t *want, mount_at_t *at, tf_err_t *err)
{
    tapewriter_t *tw = it->tw;
    bool span = want->purpose == MOUNT_SPAN;
    bool write = want->purpose == MOUNT_WRITE;
    s_eject(it, drive_p, want, true);
    tf_msg_path_row_t tried[S_MAX_TRIED];
    char tried_barcodes[S_MAX_TRIED][TF_CHANGER_BARCODE_MAX + 1];
    size_t ntried = 0;
    bool ejected = true, seen_valid = false, alerted = false;
    volume_seen_t seen;
    memset(&seen, 0, sizeof seen);
    tf_drive_t *drive = NULL;
    int rc = TF_OK;
    bool done = false;
    for (int round = 0; rc == TF_OK && !done && round < 2 * S_MAX_TRIED + 4; round++) {
        rc = s_stop_check(it, want, err);
        if (rc != TF_OK) {
            alerted = rc == TF_ERR_DEVICE;   /* the cancel was said */
            break;
        }
        tf_msg_vol_request_t req = {
            .purpose = span ? "span" : write ? "write" : "restore", .pool = (char *) want->pool,
            .job_id = (char *) want->job_id,
            .archive_id = (char *) want->archive_id, .set_id = span ? (char *) want->set_id : NULL,
            .prev_label = span ? (char *) want->previous.label : NULL,
            .prev_sequence = span ? want->previous.sequence : 0,
            .want_label = span || write ? NULL : (char *) want->volume,
            .ejected = ejected, .tried = tried, .tried_count = ntried};
        tf_msg_t grant;
        rc = volume_ask(it, &req, seen_valid ? &seen : NULL, &grant, err);
        if (rc != TF_OK)
            break;
        const tf_msg_vol_grant_t *g = &grant.vol_grant;
        const char *message = g->message ? g->message : "no reason given";
        if (strcmp(g->decision, "append") == 0 || strcmp(g->decision, "recycle") == 0) {
            bool taken = true;
            if (span)
                rc = volume_take_granted(it, drive, want->pool, &want->previous, &seen, g, &at->file, &at->object,
                                         &taken, err);
            else if (write)
                rc = volume_start_granted(it, drive, want->pool, &seen, g, &at->file, &at->object, &taken, err);
            if (rc == TF_OK && taken) {
                *drive_p = drive;
                drive = NULL;
                done = true;
            } else if (rc == TF_OK)
                rc = tf_err_set(err, TF_ERR_DEVICE, "the labeller granted a tape the drive cannot take: %s", message);
        } else if (strcmp(g->decision, "refuse") == 0) {
            rc = tf_err_set(err, TF_ERR_DEVICE, "%s", message);
        } else if (g->eject) {
            /* Not this one: out of the drive, so the robot can take it back. */
            if (g->barcode && ntried < S_MAX_TRIED) {
                snprintf(tried_barcodes[ntried], sizeof tried_barcodes[ntried], "%s", g->barcode);
                tried[ntried].path = tried_barcodes[ntried];
                ntried++;
            }
            tf_log_info("drive %s: %s", tw->drive_name, message);
            s_eject(it, &drive, want, true);
            ejected = true;
            seen_valid = false;
        } else if (g->loaded) {
            if (!span && !write)
                item_event(it, false, "info", "restore of job %s: loading volume %s from slot %" PRIu64
                           " into drive %s", want->job_id, want->volume, g->slot, tw->drive_name);
            tf_drive_destroy(&drive);
            drive = tapedrive_open(it, NULL, err);
            if (!drive)
                rc = err->code;
            else {
                volume_look(it, drive, &seen);
                seen_valid = true;
                ejected = false;
            }
        } else {
            /* No cartridge of the library will do: an operator has to put one in. */
            rc = tf_err_set(err, TF_ERR_DEVICE, "%s", message);
            if (!span && !write)
                item_mount_alert(it, message);
            else
                item_event(it, true, "error", "%s", message);
            alerted = true;
        }
        tf_msg_clear(&grant);
    }
    if (rc == TF_OK && !done)
        rc = tf_err_set(err, TF_ERR_DEVICE, "drive %s: the labeller offered %zu cartridges and none would do",
                        tw->drive_name, ntried);
    tf_drive_destroy(&drive);
    if (rc != TF_OK && !alerted && rc != TF_ERR_INTERRUPTED)
        item_event(it, true, "error", "changing tapes in drive %s (changer %s): %s", tw->drive_name,
                   tw->changer_url, err->message);
    return rc;
}

/* --- by operator ----------------------------------------------------------------------- */

/* Opens the drive at url for a short look (not ready within half a second: NULL). */
static tf_drive_t *
s_open_quick(const char *url)
{
    tf_err_t perr = {0};
    tf_drive_t *drive = tf_drive_open(url, &perr);
    if (drive && (tf_drive_wait_ready(drive, 500, &perr) != TF_OK || tf_drive_set_variable(drive, &perr) != TF_OK))
        tf_drive_destroy(&drive);
    return drive;
}

/* What the operator wait loop remembers between polls, so a tape left in the drive is not
   read to its end of data, asked about and reported on every poll (about once a second for
   up to tapewriter/mount_wait). */
typedef struct {
    bool said_blank;
    char rejected[160];        /* the tape the labeller last turned down: kind, label, generation */
    int64_t rejected_ms;       /* when (it is asked about again after S_REASK_MS) */
    char said[512];            /* the last refusal said as an event */
} s_wait_t;

/* How long a tape the labeller turned down is left alone (it may expire, or be cleared, while
   it sits in the drive). */
#define S_REASK_MS 60000

/* Whether the tape just mounted (in *drive_p, closed here) can continue the set: the labeller
   decides from what is read on it. The drive is closed while the labeller is asked, so an
   operator labelling the tape meanwhile ('tapeflow tape label') does not find it busy; it is
   opened again to carry the answer out, on the same tape (*taken; *drive_p then the drive). */
static int
s_try_span(item_t *it, const char *url, tf_drive_t **drive_p, const mount_want_t *want, mount_at_t *at,
           s_wait_t *wait, bool *taken, tf_err_t *err)
{
    tapewriter_t *tw = it->tw;
    *taken = false;
    tf_err_t perr = {0};
    tf_label_info_t info;
    if (tf_label_read(*drive_p, &info, &perr) != TF_OK
        || (info.kind == TF_LABEL_TAPEFLOW && strcmp(info.label.label, want->previous.label) == 0)) {
        tf_drive_destroy(drive_p);
        return TF_OK;  /* unreadable, or still (or again) the full tape */
    }
    char key[sizeof wait->rejected];
    snprintf(key, sizeof key, "%s %s %s", tf_label_kind_name(info.kind),
             info.kind == TF_LABEL_TAPEFLOW ? info.label.label : "",
             info.kind == TF_LABEL_TAPEFLOW ? info.label.created : "");
    if (strcmp(key, wait->rejected) == 0 && tf_clock_mono_ms() - wait->rejected_ms < S_REASK_MS) {
        tf_drive_destroy(drive_p);
        return TF_OK;  /* turned down a moment ago and still in the drive */
    }
    if (info.kind == TF_LABEL_BLANK && !wait->said_blank) {
        item_event(it, true, "warn", "tape in drive %s is blank: label it for pool %s ('tapeflow tape label %s "
                   "--label NAME --pool %s') and archive %.128s continues on it", tw->drive_name, want->pool,
                   tw->drive_name, want->pool, want->archive_id);
        wait->said_blank = true;
    }
    volume_seen_t seen;
    volume_look(it, *drive_p, &seen);
    tf_drive_destroy(drive_p);
    if (!seen.read)
        return TF_OK;
    tf_msg_vol_request_t req = {.purpose = "span", .pool = (char *) want->pool, .set_id = (char *) want->set_id,
                                .prev_label = (char *) want->previous.label,
                                .prev_sequence = want->previous.sequence, .job_id = (char *) want->job_id,
                                .archive_id = (char *) want->archive_id};
    tf_msg_t grant;
    int rc = volume_ask(it, &req, &seen, &grant, err);
    if (rc != TF_OK)
        return rc;
    const tf_msg_vol_grant_t *g = &grant.vol_grant;
    bool granted = strcmp(g->decision, "append") == 0 || strcmp(g->decision, "recycle") == 0;
    tf_drive_t *drive = granted ? s_open_quick(url) : NULL;
    tf_label_info_t again;
    /* The same tape still: the kind, and for a tapeflow volume its label and generation. */
    bool same = drive && tf_label_read(drive, &again, &perr) == TF_OK && again.kind == seen.info.kind
                && (again.kind != TF_LABEL_TAPEFLOW
                    || (strcmp(again.label.label, seen.info.label.label) == 0
                        && strcmp(again.label.created, seen.info.label.created) == 0));
    if (!granted || same)
        rc = volume_take_granted(it, drive, want->pool, &want->previous, &seen, g, &at->file, &at->object, taken,
                                 err);
    if (rc == TF_OK && !*taken) {
        /* Turned down: said once per tape (and refusal), left alone for a while. */
        snprintf(wait->rejected, sizeof wait->rejected, "%s", key);
        wait->rejected_ms = tf_clock_mono_ms();
        if (g->message && strcmp(g->message, wait->said) != 0) {
            item_event(it, false, strcmp(g->decision, "refuse") == 0 ? "warn" : "info", "%s", g->message);
            snprintf(wait->said, sizeof wait->said, "%s", g->message);
        }
    }
    tf_msg_clear(&grant);
    if (rc == TF_OK && *taken)
        *drive_p = drive;
    else
        tf_drive_destroy(&drive);
    return rc;
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
    s_wait_t wait;
    memset(&wait, 0, sizeof wait);
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
            rc = s_try_span(it, url, &drive, want, at, &wait, &taken, err);
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
    int rc = it->tw->changer_url[0] ? s_by_labeller(it, drive_p, want, &where, err)
                                    : s_by_operator(it, drive_p, want, &where, err);
    if (rc == TF_OK && want->purpose != MOUNT_RESTORE) {
        snprintf(where.volume, sizeof where.volume, "%s", it->vol.label.label);
        if (at)
            *at = where;
    }
    return rc;
}
