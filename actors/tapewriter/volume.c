/*  volume - the volume policy: append, recycle, refuse, take into a set, report (see volume.h). */
#include "volume.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "item.h"
#include "tapedrive.h"
#include "tf_clock.h"
#include "tf_log.h"
#include "tf_volume.h"

/* The catalog's row for label, if it has one (fills *row with copies the caller frees with
   tf_msg_clear on *reply). false when the catalog does not know the volume or did not answer. */
static bool
s_volume_row(item_t *it, const char *label, tf_msg_t *reply, const tf_msg_volume_row_t **row)
{
    *row = NULL;
    tf_msg_t query = {.type = TF_MSG_CAT_QUERY};
    query.cat_query = (tf_msg_cat_query_t){.query = "volumes", .pattern = (char *) label};
    tf_err_t err = {0};
    if (tf_client_call(it->tw->client, "catalog", NULL, NULL, &query, reply,
                       it->tw->catalog_timeout_ms, &err) != TF_OK) {
        tf_log_warn("cannot ask the catalog about volume %s (%s): going by what the tape says",
                    label, err.message);
        return false;
    }
    if (reply->type == TF_MSG_CAT_REPLY)
        for (size_t i = 0; i < reply->cat_reply.volumes_count; i++)
            if (strcmp(reply->cat_reply.volumes[i].label, label) == 0)
                *row = &reply->cat_reply.volumes[i];
    return *row != NULL;
}

/* Rewrites the label of an expired volume (same name and pool, created now, no expiry): the
   tape starts again at tape file 1. */
static int
s_volume_recycle(item_t *it, tf_drive_t *drive, const char *pool, int64_t expires_ms,
                 uint64_t archives, uint64_t *file, uint64_t *object, tf_err_t *err)
{
    volume_state_t *v = &it->vol;
    tf_label_t fresh;
    int rc = tf_label_init(&fresh, v->label.label, v->label.pool, v->label.media_type, err);
    if (rc == TF_OK)
        rc = tf_label_write(drive, &fresh, err);
    if (rc != TF_OK)
        return tapedrive_error(it, drive, v->label.label, pool, err);
    char date[32];
    item_event(it, false, "info", "tape %s in drive %s expired on %s: recycled for pool %s (its %" PRIu64
               " archive%s are gone)", fresh.label, it->tw->drive_name,
               tf_volume_format_date(expires_ms, date, sizeof date), pool, archives,
               archives == 1 ? "" : "s");
    v->label = fresh;
    if (tf_volume_parse_time(fresh.created, &v->created_ms) != TF_OK)
        v->created_ms = tf_clock_wall_ms();
    v->label_expires_ms = 0;
    v->bytes_used = 0;
    v->recycled = true;
    /* The catalog learns of the new generation before anything is written to it, so it can tell
       the jobs whose archives were on the tape (now expired) from the one writing now. */
    tf_msg_t msg = {.type = TF_MSG_CAT_VOLUME};
    msg.cat_volume = (tf_msg_cat_volume_t){
        .label = v->label.label, .pool = v->label.pool, .state = "appendable",
        .media_type = v->label.media_type[0] ? v->label.media_type : NULL,
        .created_ms = v->created_ms, .tape_files = 1, .write_errors = v->write_errors,
        .read_errors = v->read_errors, .drive = it->tw->drive_name, .time_ms = tf_clock_wall_ms()};
    /* A fresh item id: labels count whole seconds, so "<label>-labelled-<created>" may be the
       label's own report of the same second (answered "existed", never applied). */
    tf_msg_t result;
    tf_err_t cerr = {0};
    if (tf_client_call(it->tw->client, "catalog", NULL, NULL, &msg, &result, it->tw->catalog_timeout_ms,
                       &cerr) != TF_OK)
        tf_log_warn("cannot tell the catalog that tape %s was recycled (%s): its older jobs are marked "
                    "expired when it next hears of the volume", v->label.label, cerr.message);
    else
        tf_msg_clear(&result);
    tf_drive_pos_t pos;
    tf_err_t perr = {0};
    if (tf_drive_read_position(drive, &pos, &perr) != TF_OK)
        tf_drive_position(drive, &pos);
    *file = 1;
    *object = pos.object_known ? pos.object : TF_LABEL_BLOCKS + 1;
    return TF_OK;
}

int
volume_prepare(item_t *it, tf_drive_t *drive, const char *pool, const tf_label_info_t *info,
               uint64_t *file, uint64_t *object, bool *need_next, tf_err_t *err)
{
    *need_next = false;
    volume_state_t *v = &it->vol;
    memset(v, 0, sizeof *v);
    v->label = info->label;
    if (tf_volume_parse_time(info->label.created, &v->created_ms) != TF_OK)
        v->created_ms = 0;
    if (tf_volume_parse_time(info->label.expires, &v->label_expires_ms) != TF_OK)
        v->label_expires_ms = 0;
    if (tf_volume_retention(it->tw->cfg, pool, &v->retention_ms, err) != TF_OK)
        return item_refuse(it, err);
    v->known = true;

    /* The catalog's view when it has this very label (same generation); else the tape's. */
    tf_msg_t reply;
    memset(&reply, 0, sizeof reply);
    const tf_msg_volume_row_t *row = NULL;
    bool have_row = s_volume_row(it, v->label.label, &reply, &row);
    bool full = false;
    int64_t last_written = 0, catalog_expires = 0;
    if (have_row) {
        v->write_errors = row->write_errors;   /* the same cartridge, whatever its label says */
        v->read_errors = row->read_errors;
        v->in_error = row->state && strcmp(row->state, "error") == 0;
    }
    if (v->in_error) {
        /* Written to no more (not even recycled) until an operator clears it; the tape is not
           touched, not even to close a tape file the failed write left open. */
        tf_msg_clear(&reply);
        if (it->tw->changer_url[0] || it->tw->mount_wait_ms > 0) {
            *need_next = true;
            return TF_OK;
        }
        tf_err_set(err, TF_ERR_INVALID, "tape %s in drive %s is marked error (%" PRIu64 " write error%s, %"
                   PRIu64 " read error%s): mount an appendable or expired tape of pool %s; 'tapeflow tape "
                   "clear %s' makes it appendable again once the cartridge is known to be good",
                   v->label.label, it->tw->drive_name, v->write_errors, v->write_errors == 1 ? "" : "s",
                   v->read_errors, v->read_errors == 1 ? "" : "s", pool, v->label.label);
        return item_refuse(it, err);
    }
    int rc = tapedrive_goto_eod(drive, file, object, err);
    if (rc != TF_OK) {
        tf_msg_clear(&reply);
        return tapedrive_error(it, drive, v->label.label, pool, err);
    }
    uint64_t archives = *file > 0 ? *file - 1 : 0;
    if (have_row && row->created_ms == v->created_ms && row->pool && strcmp(row->pool, v->label.pool) == 0) {
        full = row->state && strcmp(row->state, "appendable") != 0;
        last_written = row->last_written_ms;
        catalog_expires = row->expires_ms;
        v->bytes_used = row->bytes_used;
    }
    else if (archives > 0) {
        uint64_t files = 0;
        rc = tf_volume_tape_usage(drive, &files, &last_written, err);
        if (rc != TF_OK)
            rc = tapedrive_error(it, drive, v->label.label, pool, err);
    }
    tf_msg_clear(&reply);
    if (rc != TF_OK)
        return rc;
    int64_t expires = tf_volume_expiry(v->label_expires_ms, last_written, v->retention_ms);
    if (catalog_expires > expires)
        expires = catalog_expires;
    int64_t now = tf_clock_wall_ms();
    if (archives > 0 && expires > 0 && now >= expires)
        return s_volume_recycle(it, drive, pool, expires, archives, file, object, err);
    if (full && (it->tw->changer_url[0] || it->tw->mount_wait_ms > 0)) {
        *need_next = true;     /* the changer loads the next volume of the set, or an operator */
        return TF_OK;
    }
    if (full) {
        tf_err_set(err, TF_ERR_INVALID, "tape %s in drive %s is full: mount an appendable or "
                   "expired tape of pool %s", v->label.label, it->tw->drive_name, pool);
        return item_refuse(it, err);
    }
    return TF_OK;
}

void
volume_report(item_t *it, const tf_msg_archive_ready_t *ready, uint64_t tape_file, bool early_warning)
{
    volume_state_t *v = &it->vol;
    int64_t now = tf_clock_wall_ms();
    uint64_t bytes = v->bytes_used;
    int64_t last_written = 0;
    uint64_t tape_files = tape_file;
    if (ready) {
        bytes += ready->size + 2 * 4096;   /* data, header and trailer records */
        last_written = now;
        tape_files = tape_file + 1;
    }
    bool full = v->hit_end || (ready && early_warning);
    /* Write errors put the cartridge out of use until 'tapeflow tape clear'. */
    bool error = v->write_error || v->in_error;
    char id[300];
    if (ready)
        snprintf(id, sizeof id, "%s-volume-%s-%" PRIu64, ready->archive_id, v->label.label, tape_file);
    tf_msg_t msg = {.type = TF_MSG_CAT_VOLUME};
    msg.cat_volume = (tf_msg_cat_volume_t){
        .label = v->label.label,
        .pool = v->label.pool,
        .state = error ? "error" : full ? "full" : "appendable",
        .media_type = v->label.media_type[0] ? v->label.media_type : NULL,
        .created_ms = v->created_ms,
        .expires_ms = tf_volume_expiry(v->label_expires_ms, last_written, v->retention_ms),
        .bytes_used = bytes,
        .last_written_ms = last_written,
        .write_errors = v->write_errors + (v->write_error ? 1 : 0),
        .read_errors = v->read_errors + (v->read_error ? 1 : 0),
        .tape_files = tape_files,
        .drive = it->tw->drive_name,
        .time_ms = now,
    };
    if (!ready) {
        /* A failed item changes no use figures: keep what the catalog has, add the news. */
        tf_msg_t reply;
        memset(&reply, 0, sizeof reply);
        const tf_msg_volume_row_t *row = NULL;
        if (s_volume_row(it, v->label.label, &reply, &row) && row->created_ms == v->created_ms) {
            msg.cat_volume.expires_ms = row->expires_ms;
            msg.cat_volume.last_written_ms = row->last_written_ms;
            msg.cat_volume.tape_files = row->tape_files > tape_files ? row->tape_files : tape_files;
            if (!full && !error && row->state && strcmp(row->state, "full") == 0)
                msg.cat_volume.state = "full";
            if (row->state && strcmp(row->state, "error") == 0)
                msg.cat_volume.state = "error";
        }
        tf_msg_t result;
        tf_err_t err = {0};
        if (tf_client_call(it->tw->client, "catalog", NULL, NULL, &msg, &result,
                           it->tw->catalog_timeout_ms, &err) != TF_OK)
            tf_log_warn("cannot tell the catalog about volume %s: %s", v->label.label, err.message);
        else
            tf_msg_clear(&result);
        tf_msg_clear(&reply);
        return;
    }
    tf_msg_t result;
    tf_err_t err = {0};
    if (tf_client_call(it->tw->client, "catalog", id, NULL, &msg, &result,
                       it->tw->catalog_timeout_ms, &err) != TF_OK)
        tf_log_warn("cannot tell the catalog about volume %s ('tapeflow tape list' is behind "
                    "until the next archive): %s", v->label.label, err.message);
    else
        tf_msg_clear(&result);
}


void
volume_set_id(const tf_label_t *label, char *out, size_t size)
{
    if (label->set_id[0]) {
        snprintf(out, size, "%s", label->set_id);
        return;
    }
    char created[32];
    size_t n = 0;
    for (const char *c = label->created; *c && n + 1 < sizeof created; c++)
        if (*c != '-' && *c != ':')
            created[n++] = *c;
    created[n] = '\0';
    snprintf(out, size, "%.32s-%.31s", label->label, created);
}

/* The state of a freshly taken volume (labelled into the set, or the next one of the set). */
static int
s_taken(item_t *it, const char *pool, const tf_label_t *label, bool recycled, tf_err_t *err)
{
    volume_state_t *v = &it->vol;
    memset(v, 0, sizeof *v);
    v->label = *label;
    if (tf_volume_parse_time(label->created, &v->created_ms) != TF_OK)
        v->created_ms = tf_clock_wall_ms();
    if (tf_volume_parse_time(label->expires, &v->label_expires_ms) != TF_OK)
        v->label_expires_ms = 0;
    if (tf_volume_retention(it->tw->cfg, pool, &v->retention_ms, err) != TF_OK)
        return item_refuse(it, err);
    v->recycled = recycled;
    v->known = true;
    return TF_OK;
}

int
volume_take(item_t *it, tf_drive_t *drive, const char *pool, const tf_label_t *prev, const char *set_id,
            const char *barcode, uint64_t *file, uint64_t *object, bool *taken, tf_err_t *err)
{
    *taken = false;
    tf_label_info_t info;
    int rc = tf_label_read(drive, &info, err);
    if (rc != TF_OK)
        return tf_err_prefix(err, "drive %s: ", it->tw->drive_name);
    bool blank = info.kind == TF_LABEL_BLANK;
    bool ours = info.kind == TF_LABEL_TAPEFLOW && strcmp(info.label.pool, pool) == 0;
    bool expired = false, in_error = false;
    if (ours) {
        tf_msg_t reply;
        memset(&reply, 0, sizeof reply);
        const tf_msg_volume_row_t *row = NULL;
        int64_t created = 0;
        if (tf_volume_parse_time(info.label.created, &created) != TF_OK)
            created = -1;
        if (s_volume_row(it, info.label.label, &reply, &row) && row->state) {
            in_error = strcmp(row->state, "error") == 0;  /* the cartridge, whatever the generation */
            expired = row->created_ms == created && strcmp(row->state, "expired") == 0;
        }
        tf_msg_clear(&reply);
    }
    if (in_error) {
        item_event(it, false, "warn", "drive %s: tape %s is marked error (write errors): not taking it for set %s "
                   "('tapeflow tape clear %s' once the cartridge is known to be good)", it->tw->drive_name,
                   info.label.label, set_id, info.label.label);
        return TF_OK;
    }
    if (ours && strcmp(info.label.set_id, set_id) == 0 && info.label.sequence == prev->sequence + 1) {
        rc = s_taken(it, pool, &info.label, false, err);
        if (rc == TF_OK)
            rc = tapedrive_goto_eod(drive, file, object, err);
        if (rc != TF_OK)
            return rc;
        *taken = true;
        return TF_OK;
    }
    /* A labelled tape of the pool without any archive loses nothing when it joins the set. */
    bool empty = false;
    if (ours && !expired && strcmp(info.label.label, prev->label) != 0) {
        uint64_t eod_file = 0, eod_object = 0;
        tf_err_t eerr = {0};
        empty = tapedrive_goto_eod(drive, &eod_file, &eod_object, &eerr) == TF_OK && eod_file <= 1;
    }
    const char *name = blank ? (barcode ? barcode : "") : info.label.label;
    if ((!blank && !expired && !empty) || !tf_label_name_valid(name, 32)) {
        tf_log_info("drive %s: the tape %s%s is not blank, empty, expired or the next volume of set %s: "
                    "not taking it", it->tw->drive_name, blank ? "with barcode " : "", blank && !barcode ? "(no barcode)" : name,
                    set_id);
        return TF_OK;
    }
    tf_label_t next;
    rc = tf_label_init(&next, name, pool, prev->media_type, err);
    if (rc != TF_OK)
        return rc;
    next.sequence = (prev->sequence ? prev->sequence : 1) + 1;
    snprintf(next.set_id, sizeof next.set_id, "%s", set_id);
    snprintf(next.previous, sizeof next.previous, "%s", prev->label);
    rc = tf_label_write(drive, &next, err);
    if (rc != TF_OK)
        return tapedrive_error(it, drive, name, pool, err);
    rc = s_taken(it, pool, &next, expired, err);
    if (rc != TF_OK)
        return rc;
    tf_drive_pos_t pos;
    tf_err_t perr = {0};
    if (tf_drive_read_position(drive, &pos, &perr) != TF_OK)
        tf_drive_position(drive, &pos);
    *file = 1;
    *object = pos.object_known ? pos.object : TF_LABEL_BLOCKS + 1;
    item_event(it, false, "info", "tape %s in drive %s is %s: labelled as volume %" PRIu64 " of set %s "
               "(pool %s, after %s)", next.label, it->tw->drive_name, blank ? "blank" : expired ? "expired" : "empty",
               next.sequence, set_id, pool, prev->label);
    *taken = true;
    return TF_OK;
}

void
volume_count_read_error(item_t *it, tf_drive_t *drive)
{
    tf_label_info_t info;
    tf_err_t lerr = {0};
    if (tf_label_read(drive, &info, &lerr) != TF_OK || info.kind != TF_LABEL_TAPEFLOW) {
        tf_log_warn("drive %s: a read error, but the label cannot be read to count it: %s",
                    it->tw->drive_name, lerr.message[0] ? lerr.message : "not a tapeflow volume");
        return;
    }
    tf_msg_t reply;
    memset(&reply, 0, sizeof reply);
    const tf_msg_volume_row_t *row = NULL;
    if (!s_volume_row(it, info.label.label, &reply, &row)) {
        tf_msg_clear(&reply);
        return;
    }
    const char *state = row->state && strcmp(row->state, "expired") != 0 ? row->state : "full";
    tf_msg_t msg = {.type = TF_MSG_CAT_VOLUME};
    msg.cat_volume = (tf_msg_cat_volume_t){
        .label = row->label, .pool = row->pool, .state = (char *) state, .media_type = row->media_type,
        .created_ms = row->created_ms, .expires_ms = row->expires_ms, .bytes_used = row->bytes_used,
        .last_written_ms = row->last_written_ms, .write_errors = row->write_errors,
        .read_errors = row->read_errors + 1, .tape_files = row->tape_files, .drive = it->tw->drive_name,
        .time_ms = tf_clock_wall_ms()};
    tf_msg_t result;
    tf_err_t err = {0};
    if (tf_client_call(it->tw->client, "catalog", NULL, NULL, &msg, &result, it->tw->catalog_timeout_ms,
                       &err) != TF_OK)
        tf_log_warn("cannot count a read error of volume %s in the catalog: %s", row->label, err.message);
    else
        tf_msg_clear(&result);
    tf_msg_clear(&reply);
}
