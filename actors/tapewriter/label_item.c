/*  label_item - barcode labelling of one cartridge (see label_item.h). */
#include "label_item.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "item.h"
#include "tapedrive.h"
#include "tf_clock.h"
#include "tf_drive_resolve.h"
#include "tf_log.h"
#include "tf_volume.h"
#include "volume.h"

/* Rounds of asking: read what is in the drive, eject it, have the cartridge loaded, read it. */
#define S_MAX_ROUNDS 6

/* The media type a label records: "sim" for the simulator, else the density code. */
static void
s_media_type(item_t *it, tf_drive_t *drive, char *out, size_t size)
{
    out[0] = '\0';
    char url[1024];
    tf_err_t err = {0};
    if (tf_drive_resolve(it->tw->cfg, it->tw->drive_name, "/sys", "/dev", url, sizeof url, &err) == TF_OK
        && strncmp(url, "sim:", 4) == 0) {
        snprintf(out, size, "sim");
        return;
    }
    tf_drive_medium_t medium;
    if (tf_drive_medium_status(drive, &medium, &err) == TF_OK)
        snprintf(out, size, "density 0x%02x", medium.density);
}

/* Tells the catalog about the new volume (nothing on it yet). Best effort. */
static void
s_tell_catalog(item_t *it, const tf_label_t *label)
{
    int64_t created = 0;
    if (tf_volume_parse_time(label->created, &created) != TF_OK)
        created = tf_clock_wall_ms();
    tf_msg_t msg = {.type = TF_MSG_CAT_VOLUME};
    msg.cat_volume = (tf_msg_cat_volume_t){
        .label = (char *) label->label, .pool = (char *) label->pool, .state = "appendable",
        .media_type = label->media_type[0] ? (char *) label->media_type : NULL, .created_ms = created,
        .tape_files = 1, .drive = it->tw->drive_name, .time_ms = tf_clock_wall_ms()};
    char id[128];
    snprintf(id, sizeof id, "%s-labelled-%" PRId64, label->label, created);
    tf_msg_t result;
    tf_err_t err = {0};
    if (tf_client_call(it->tw->client, "catalog", id, NULL, &msg, &result, it->tw->catalog_timeout_ms, &err)
        != TF_OK)
        tf_log_warn("the catalog was not told about volume %s (%s): 'tapeflow tape list' shows it once an "
                    "archive is written to it", label->label, err.message);
    else
        tf_msg_clear(&result);
}

/* Writes the label the grant names and reads it back. */
static int
s_write_label(item_t *it, tf_drive_t *drive, const tf_msg_vol_grant_t *g, tf_err_t *err)
{
    tf_label_t label;
    int rc = tf_label_init(&label, g->label, g->pool, NULL, err);
    if (rc != TF_OK)
        return rc;
    s_media_type(it, drive, label.media_type, sizeof label.media_type);
    tf_label_info_t after;
    rc = tf_label_write(drive, &label, err);
    if (rc == TF_OK)
        rc = tf_label_read(drive, &after, err);
    if (rc != TF_OK)
        return tf_err_prefix(err, "drive %s: labelling cartridge %s: ", it->tw->drive_name, g->label);
    if (after.kind != TF_LABEL_TAPEFLOW || strcmp(after.label.label, label.label) != 0)
        return tf_err_set(err, TF_ERR_DEVICE, "drive %s: the label read back from cartridge %s is %s, not what "
                          "was written: check the drive and the tape", it->tw->drive_name, g->label, after.found);
    s_tell_catalog(it, &after.label);
    return TF_OK;
}

static int
s_result(item_t *it, const tf_msg_t *grant, tf_err_t *err)
{
    return tf_actor_set_result_msg(it->actor, grant, err);
}

int
label_item_handle(item_t *it, const tf_msg_tape_label_t *req, tf_err_t *err)
{
    tapewriter_t *tw = it->tw;
    if (!tw->changer_url[0] || strcmp(tw->changer_name, req->changer) != 0) {
        /* Handed back (retryable, no pause): the broker gives it to the next idle tape writer,
           one of that library's if any runs; with none, broker/max_attempts ends it with this
           message naming the changer. */
        tf_err_set(err, TF_ERR_DEVICE, "drive %s is not in changer %s (changers/%s/driveN): it cannot label "
                   "cartridge %s; a tape writer of a drive in that library has to (is one running?)",
                   tw->drive_name, req->changer, req->changer, req->barcode);
        tf_log_info("%s: handing the item back", err->message);
        return TF_ERR_DEVICE;
    }
    tf_drive_t *drive = NULL;
    volume_seen_t seen;
    bool seen_valid = false, ejected = false;
    int rc = TF_OK;
    for (int round = 0; round < S_MAX_ROUNDS; round++) {
        /* Each round may be a robot move and a wait for the tape: stop and cancel end it. */
        if (item_interrupted(it)) {
            tf_drive_destroy(&drive);
            return tf_err_set(err, TF_ERR_INTERRUPTED, "stopped while labelling cartridge %s", req->barcode);
        }
        if (item_cancelled(it)) {
            it->cancelled = true;
            rc = tf_err_set(err, TF_ERR_DEVICE, "labelling cartridge %s was cancelled", req->barcode);
            break;
        }
        tf_msg_vol_request_t ask = {.purpose = "label", .pool = req->pool, .barcode = req->barcode,
                                    .ejected = ejected};
        tf_msg_t grant;
        rc = volume_ask(it, &ask, seen_valid ? &seen : NULL, &grant, err);
        if (rc != TF_OK)
            break;
        const tf_msg_vol_grant_t *g = &grant.vol_grant;
        if (strcmp(g->decision, "recycle") == 0) {
            rc = drive ? s_write_label(it, drive, g, err)
                       : tf_err_set(err, TF_ERR_DEVICE, "labeller granted a label for a tape not read");
            if (rc == TF_OK) {
                item_event(it, false, "info", "%s", g->message ? g->message : "labelled");
                rc = s_result(it, &grant, err);
            }
            tf_msg_clear(&grant);
            tf_drive_destroy(&drive);
            return rc;
        }
        if (strcmp(g->decision, "refuse") == 0) {
            /* Not blank: left exactly as it is; the command reports it. */
            item_event(it, false, "warn", "%s", g->message ? g->message : "not labelled");
            rc = s_result(it, &grant, err);
            tf_msg_clear(&grant);
            tf_drive_destroy(&drive);
            return rc;
        }
        if (g->eject) {
            if (!drive)
                drive = tapedrive_open(it, NULL, err);
            tapedrive_eject(it, &drive, "the tape", true);
            ejected = true;
            seen_valid = false;
        } else if (g->loaded) {
            tf_drive_destroy(&drive);
            drive = tapedrive_open(it, NULL, err);
            if (!drive) {
                rc = err->code;
                tf_msg_clear(&grant);
                break;
            }
            volume_look(it, drive, &seen);
            seen_valid = true;
            ejected = false;
        } else {
            rc = tf_err_set(err, TF_ERR_DEVICE, "%s", g->message ? g->message : "the labeller has no answer");
            tf_msg_clear(&grant);
            break;
        }
        tf_msg_clear(&grant);
    }
    tf_drive_destroy(&drive);
    if (rc == TF_OK)
        rc = tf_err_set(err, TF_ERR_DEVICE, "drive %s: cartridge %s was not in the drive after %d rounds with the "
                        "labeller", tw->drive_name, req->barcode, S_MAX_ROUNDS);
    item_event(it, true, "error", "%s", err->message);
    return rc;
}
