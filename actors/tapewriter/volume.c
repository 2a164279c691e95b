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

/* --- asking the labeller ---------------------------------------------------------------- */

void
volume_look(item_t *it, tf_drive_t *drive, volume_seen_t *seen)
{
    memset(seen, 0, sizeof *seen);
    tf_err_t err = {0};
    if (!drive || tf_label_read(drive, &seen->info, &err) != TF_OK) {
        snprintf(seen->why, sizeof seen->why, "%s", drive ? err.message : "not read");
        return;
    }
    seen->read = true;
    if (seen->info.kind != TF_LABEL_TAPEFLOW)
        return;
    if (tf_volume_tape_usage(drive, &seen->tape_files, &seen->last_written_ms, &err) != TF_OK) {
        /* The safe guess: it holds archives written just now (never taken for empty or expired). */
        tf_log_warn("drive %s: cannot tell how tape %s is used (%s): taking it as written just now",
                    it->tw->drive_name, seen->info.label.label, err.message);
        seen->tape_files = 2;
        seen->last_written_ms = tf_clock_wall_ms();
    }
}

int
volume_ask(item_t *it, tf_msg_vol_request_t *req, const volume_seen_t *seen, tf_msg_t *grant, tf_err_t *err)
{
    tapewriter_t *tw = it->tw;
    req->drive = tw->drive_name;
    req->operator_mounts = tw->mount_wait_ms > 0;
    req->mounted = seen && seen->empty ? "none" : "unknown";
    if (seen && !seen->read && !seen->empty)
        req->found = (char *) seen->why;
    if (seen && seen->read) {
        const tf_label_info_t *info = &seen->info;
        const tf_label_t *l = &info->label;
        req->mounted = (char *) tf_label_kind_name(info->kind);
        req->found = (char *) info->found;
        if (info->kind == TF_LABEL_TAPEFLOW) {
            req->label = (char *) l->label;
            req->label_pool = (char *) l->pool;
            req->label_created = l->created[0] ? (char *) l->created : NULL;
            req->label_expires = l->expires[0] ? (char *) l->expires : NULL;
            req->label_set_id = l->set_id[0] ? (char *) l->set_id : NULL;
            req->label_sequence = l->sequence;
            req->label_previous = l->previous[0] ? (char *) l->previous : NULL;
            req->media_type = l->media_type[0] ? (char *) l->media_type : NULL;
            req->tape_files = seen->tape_files;
            req->last_written_ms = seen->last_written_ms;
        }
    }
    tf_msg_t msg = {.type = TF_MSG_VOL_REQUEST};
    msg.vol_request = *req;
    /* No job id: the labeller's answer is needed even for a job being cancelled. */
    int rc = tf_client_call(tw->client, "labeller", NULL, NULL, &msg, grant, tw->labeller_timeout_ms, err);
    if (rc != TF_OK)
        return tf_err_prefix(err, "drive %s: cannot ask the labeller for a volume (is it running? up/roles): ",
                             tw->drive_name);
    if (grant->type != TF_MSG_VOL_GRANT) {
        tf_msg_clear(grant);
        return tf_err_set(err, TF_ERR_PROTO, "drive %s: the labeller answered with %s, not vol_grant",
                          tw->drive_name, tf_msg_type_name(grant->type));
    }
    return TF_OK;
}

/* The volume state from the labeller's facts, for the label on the tape. */
static void
s_vol_from_grant(item_t *it, const tf_label_t *label, const tf_msg_vol_grant_t *g)
{
    volume_state_t *v = &it->vol;
    memset(v, 0, sizeof *v);
    v->label = *label;
    v->created_ms = g->created_ms;
    v->label_expires_ms = g->label_expires_ms;
    v->retention_ms = g->retention_ms;
    v->bytes_used = g->bytes_used;
    v->write_errors = g->write_errors;
    v->read_errors = g->read_errors;
    v->in_error = g->in_error;
    v->known = true;
}

static bool
s_is(const tf_msg_vol_grant_t *g, const char *decision)
{
    return strcmp(g->decision, decision) == 0;
}

int
volume_prepare(item_t *it, tf_drive_t *drive, const char *pool, const volume_seen_t *seen, uint64_t *file,
               uint64_t *object, volume_next_t *next, tf_err_t *err)
{
    *next = VOLUME_NEXT_NONE;
    memset(&it->vol, 0, sizeof it->vol);
    tf_msg_vol_request_t req = {.purpose = "write", .pool = (char *) pool,
                                .job_id = it->work ? it->work->job_id : NULL};
    tf_msg_t grant;
    int rc = volume_ask(it, &req, seen, &grant, err);
    if (rc != TF_OK)
        return rc;
    const tf_msg_vol_grant_t *g = &grant.vol_grant;
    bool tapeflow = seen->read && seen->info.kind == TF_LABEL_TAPEFLOW;
    if (tapeflow)
        s_vol_from_grant(it, &seen->info.label, g);
    if (s_is(g, "refuse") || (s_is(g, "next") && !tapeflow && !it->tw->changer_url[0])
        || ((s_is(g, "append") || s_is(g, "recycle")) && !tapeflow)) {
        tf_err_set(err, TF_ERR_INVALID, "%s", g->message ? g->message : "the labeller refused the volume");
        tf_msg_clear(&grant);
        return item_refuse(it, err);
    }
    if (s_is(g, "next")) {
        /* A volume of the pool that is full or marked error: the next volume of its set (the
           tape is not touched, not even to close a tape file a failed write left open).
           Anything else (no tape, one that cannot be read, none of the pool's): the labeller
           loads a volume of the pool. */
        *next = tapeflow && g->label && *g->label ? VOLUME_NEXT_OF_SET : VOLUME_NEXT_OF_POOL;
        if (*next == VOLUME_NEXT_OF_POOL)
            item_event(it, false, "info", "%s: asking the labeller for a volume of pool %s",
                       g->message ? g->message : "not this tape", pool);
        tf_msg_clear(&grant);
        return TF_OK;
    }
    if (s_is(g, "recycle")) {
        int64_t expired = g->expires_ms;
        uint64_t archives = g->archives;
        tf_msg_clear(&grant);
        return s_volume_recycle(it, drive, pool, expired, archives, file, object, err);
    }
    tf_msg_clear(&grant);
    rc = tapedrive_goto_eod(drive, file, object, err);
    if (rc != TF_OK)
        return tapedrive_error(it, drive, it->vol.label.label, pool, err);
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

int
volume_take_granted(item_t *it, tf_drive_t *drive, const char *pool, const tf_label_t *prev,
                    const volume_seen_t *seen, const tf_msg_vol_grant_t *g, uint64_t *file, uint64_t *object,
                    bool *taken, tf_err_t *err)
{
    *taken = false;
    if (s_is(g, "append") && seen->read && seen->info.kind == TF_LABEL_TAPEFLOW) {
        /* The next volume of this very set: the archive goes on after its data. */
        s_vol_from_grant(it, &seen->info.label, g);
        int rc = tapedrive_goto_eod(drive, file, object, err);
        if (rc != TF_OK)
            return rc;
        *taken = true;
        return TF_OK;
    }
    if (!s_is(g, "recycle") || !g->label || !g->pool)
        return TF_OK;   /* not taken: the caller says why (once per tape) */
    tf_label_t next;
    int rc = tf_label_init(&next, g->label, g->pool, prev->media_type, err);
    if (rc != TF_OK)
        return rc;
    next.sequence = g->sequence;
    snprintf(next.set_id, sizeof next.set_id, "%s", g->set_id ? g->set_id : "");
    snprintf(next.previous, sizeof next.previous, "%s", g->previous ? g->previous : "");
    rc = tf_label_write(drive, &next, err);
    if (rc != TF_OK)
        return tapedrive_error(it, drive, next.label, pool, err);
    s_vol_from_grant(it, &next, g);
    if (tf_volume_parse_time(next.created, &it->vol.created_ms) != TF_OK)
        it->vol.created_ms = tf_clock_wall_ms();
    it->vol.label_expires_ms = 0;
    it->vol.bytes_used = 0;
    it->vol.recycled = g->archives > 0;
    tf_drive_pos_t pos;
    tf_err_t perr = {0};
    if (tf_drive_read_position(drive, &pos, &perr) != TF_OK)
        tf_drive_position(drive, &pos);
    *file = 1;
    *object = pos.object_known ? pos.object : TF_LABEL_BLOCKS + 1;
    item_event(it, false, "info", "%s", g->message ? g->message : "labelled into the set");
    *taken = true;
    return TF_OK;
}

int
volume_start_granted(item_t *it, tf_drive_t *drive, const char *pool, const volume_seen_t *seen,
                     const tf_msg_vol_grant_t *g, uint64_t *file, uint64_t *object, bool *taken, tf_err_t *err)
{
    *taken = false;
    if (!seen->read || seen->info.kind != TF_LABEL_TAPEFLOW)
        return TF_OK;
    s_vol_from_grant(it, &seen->info.label, g);
    int rc = TF_OK;
    if (s_is(g, "append")) {
        rc = tapedrive_goto_eod(drive, file, object, err);
        if (rc != TF_OK)
            return tapedrive_error(it, drive, it->vol.label.label, pool, err);
    } else if (s_is(g, "recycle"))
        rc = s_volume_recycle(it, drive, pool, g->expires_ms, g->archives, file, object, err);
    else
        return TF_OK;
    *taken = rc == TF_OK;
    return rc;
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
