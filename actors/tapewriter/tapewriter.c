/*  tapewriter - archive_ready and tape_restore items (see tapewriter.h). */
#include "tapewriter.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetcher.h"
#include "indexrows.h"
#include "restore.h"
#include "tapefile.h"
#include "tf_client.h"
#include "tf_clock.h"
#include "tf_drive.h"
#include "tf_drive_resolve.h"
#include "tf_fs.h"
#include "tf_label.h"
#include "tf_log.h"
#include "tf_volume.h"

struct _tapewriter_t {
    tf_config_t *cfg;
    char drive_name[128];
    tf_client_t *client;
    uint32_t block_size;
    bool verify;
    fetcher_opts_t fetch;
    int ready_timeout_ms;
    int busy_wait_ms;
    int catalog_timeout_ms;
    int index_wait_ms;         /* how long to wait for an archive's file rows (its tape index) */
};

/* The volume in the drive while an item writes to it (docs/operations.md, "Volumes, pools
   and retention"): what the catalog or the tape says about it, and what happened this time. */
typedef struct {
    bool known;                /* the label was read and the volume checked */
    tf_label_t label;          /* as on the tape (after a recycle: the new label) */
    int64_t created_ms;        /* the label's generation */
    int64_t label_expires_ms;  /* the label's own expires (operator floor) */
    int64_t retention_ms;
    uint64_t bytes_used;       /* before this item */
    uint64_t write_errors;
    uint64_t read_errors;
    bool recycled;
    bool write_error;          /* a medium/hardware error while writing */
    bool read_error;           /* verify read back something else */
    bool hit_end;              /* end of medium: the volume is full */
} s_vol_t;

/* One item in hand. */
typedef struct {
    tapewriter_t *tw;
    tf_actor_t *actor;
    const tf_msg_work_t *work;
    bool permanent;            /* a refusal: do not deliver again */
    s_vol_t vol;
} s_item_t;

tapewriter_t *
tapewriter_new(tf_config_t *cfg, tf_err_t *err)
{
    tapewriter_t *self = calloc(1, sizeof *self);
    if (!self) {
        tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    self->cfg = cfg;
    snprintf(self->drive_name, sizeof self->drive_name, "%s", tf_config_get_or(cfg, "tapewriter/drive", "tape0"));
    int64_t bs = tf_config_get_int(cfg, "tapewriter/block_size", 262144);
    if (bs < TAPEFILE_BLOCK_MIN || bs > TAPEFILE_BLOCK_MAX) {
        tf_err_set(err, TF_ERR_INVALID,
                   "tapewriter/block_size = %" PRId64 " is out of range: use %u to %u bytes (256 KiB "
                   "to 1 MiB is usual)", bs, TAPEFILE_BLOCK_MIN, TAPEFILE_BLOCK_MAX);
        free(self);
        return NULL;
    }
    self->block_size = (uint32_t) bs;
    self->verify = tf_config_get_int(cfg, "tapewriter/verify", 1) != 0;
    self->fetch.chunk = (size_t) tf_config_get_int(cfg, "tapewriter/fetch_chunk", 1 << 20);
    self->fetch.depth = (int) tf_config_get_int(cfg, "tapewriter/fetch_depth", 8);
    self->fetch.timeout_ms = (int) tf_config_get_int(cfg, "tapewriter/fetch_timeout", 30000);
    self->fetch.max_message = tf_config_get_int(cfg, "broker/max_message", 64 << 20);
    self->ready_timeout_ms = (int) tf_config_get_int(cfg, "tapewriter/ready_timeout", 60000);
    self->busy_wait_ms = (int) tf_config_get_int(cfg, "tapewriter/busy_wait", 10000);
    self->catalog_timeout_ms = (int) tf_config_get_int(cfg, "tapewriter/catalog_timeout", 120000);
    self->index_wait_ms = (int) tf_config_get_int(cfg, "tapewriter/index_wait", 60000);
    self->client = tf_client_new(tf_config_get(cfg, "broker/endpoint"), err);
    if (!self->client) {
        free(self);
        return NULL;
    }
    return self;
}

void
tapewriter_destroy(tapewriter_t **self_p)
{
    if (self_p && *self_p) {
        tf_client_destroy(&(*self_p)->client);
        free(*self_p);
        *self_p = NULL;
    }
}

const char *
tapewriter_drive_name(tapewriter_t *self)
{
    return self->drive_name;
}

/* --- events ---------------------------------------------------------------------------- */

static void
s_event(s_item_t *it, bool alert, const char *level, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
s_event(s_item_t *it, bool alert, const char *level, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    char topic[200];
    snprintf(topic, sizeof topic, "%s.%s", alert ? "alert.tape" : "drive", it->tw->drive_name);
    tf_publisher_t *pub = it->actor ? tf_actor_events(it->actor) : NULL;
    if (pub)
        tf_publisher_say(pub, topic, level, "%s", text);
    if (strcmp(level, "info") == 0)
        tf_log_info("%s", text);
    else
        tf_log_warn("%s", text);
}

static int
s_refuse(s_item_t *it, tf_err_t *err)
{
    it->permanent = true;
    s_event(it, true, "error", "%s", err->message);
    return TF_ERR_INVALID;
}

/* --- drive ----------------------------------------------------------------------------- */

/* A simulated drive's image lives in a file: create its folder (e.g. ${home}/tapes) so the
   default configuration works on a fresh machine. */
static void
s_prepare_sim(const char *url)
{
    if (strncmp(url, "sim:", 4) != 0)
        return;
    char path[1024];
    snprintf(path, sizeof path, "%s", url + 4);
    char *q = strchr(path, '?');
    if (q)
        *q = '\0';
    tf_err_t err = {0};
    if (path[0] && tf_fs_mkdir_parent(path, &err) != TF_OK)
        tf_log_warn("%s", err.message);
}

static tf_drive_t *
s_open_drive(s_item_t *it, tf_err_t *err)
{
    tapewriter_t *tw = it->tw;
    char url[1024];
    if (tf_drive_resolve(tw->cfg, tw->drive_name, "/sys", "/dev", url, sizeof url, err) != TF_OK) {
        tf_err_prefix(err, "drive %s: ", tw->drive_name);
        return NULL;
    }
    s_prepare_sim(url);
    int64_t deadline = tf_clock_mono_ms() + tw->busy_wait_ms;
    tf_drive_t *drive = NULL;
    for (;;) {
        drive = tf_drive_open(url, err);
        if (drive || err->code != TF_ERR_BUSY || tf_clock_mono_ms() >= deadline)
            break;
        tf_clock_sleep_ms(200);
    }
    if (!drive) {
        tf_err_prefix(err, "drive %s: ", tw->drive_name);
        return NULL;
    }
    int rc = tf_drive_wait_ready(drive, tw->ready_timeout_ms, err);
    if (rc == TF_OK)
        rc = tf_drive_set_variable(drive, err);
    if (rc != TF_OK) {
        tf_err_prefix(err, "drive %s: ", tw->drive_name);
        tf_drive_destroy(&drive);
        return NULL;
    }
    return drive;
}

/* Reads the label and checks it against pool (NULL: any tapeflow volume). */
static int
s_check_label(s_item_t *it, tf_drive_t *drive, const char *pool, tf_label_info_t *info, tf_err_t *err)
{
    int rc = tf_label_read(drive, info, err);
    if (rc != TF_OK) {
        tf_err_prefix(err, "drive %s: ", it->tw->drive_name);
        s_event(it, true, "error", "%s", err->message);
        return rc;
    }
    rc = tf_label_check(info, it->tw->drive_name, pool, err);
    if (rc != TF_OK)
        return s_refuse(it, err);
    return TF_OK;
}

/* Goes to end of data and makes sure the last tape file there is closed (a writer killed
   mid-archive leaves one open). *file: the tape file the next write starts. */
static int
s_goto_eod(tf_drive_t *drive, uint64_t *file, uint64_t *object, tf_err_t *err)
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
        /* One block back: a filemark right before end of data means the last file is closed. */
        tf_err_t serr = {0};
        int src = tf_drive_space(drive, TF_DRIVE_SPACE_BLOCKS, -1, &serr);
        open_file = src == TF_OK;
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

/* --- catalog and stager ---------------------------------------------------------------- */

static int
s_already_written(s_item_t *it, const tf_msg_archive_ready_t *ready, bool *written, tf_err_t *err)
{
    *written = false;
    tf_msg_t query = {.type = TF_MSG_CAT_QUERY};
    query.cat_query = (tf_msg_cat_query_t){.query = "archives", .job_id = ready->job_id};
    tf_msg_t result;
    int rc = tf_client_call(it->tw->client, "catalog", NULL, ready->job_id, &query, &result,
                            it->tw->catalog_timeout_ms, err);
    if (rc != TF_OK)
        return tf_err_prefix(err, "cannot ask the catalog whether archive %s is on tape: ", ready->archive_id);
    if (result.type == TF_MSG_CAT_REPLY)
        for (size_t i = 0; i < result.cat_reply.archives_count; i++) {
            const tf_msg_archive_row_t *row = &result.cat_reply.archives[i];
            if (row->written && strcmp(row->archive_id, ready->archive_id) == 0)
                *written = true;
        }
    tf_msg_clear(&result);
    return TF_OK;
}

static int
s_release(s_item_t *it, const tf_msg_archive_ready_t *ready, tf_err_t *err)
{
    char id[300];
    snprintf(id, sizeof id, "%s-release", ready->archive_id);
    tf_msg_t msg = {.type = TF_MSG_ARCHIVE_RELEASE};
    msg.archive_release = (tf_msg_archive_release_t){.archive_id = ready->archive_id};
    tf_msg_t reply;
    int rc = tf_client_submit_msg(it->tw->client, "stager", id, ready->job_id, &msg, &reply, 10000, err);
    if (rc != TF_OK)
        return tf_err_prefix(err, "cannot ask the stager to release archive %s: ", ready->archive_id);
    tf_msg_clear(&reply);
    return TF_OK;
}

typedef struct {
    char volume[33];
    uint64_t file;
    uint64_t object;
    tapefile_stats_t stats;
    uint64_t underruns;
    double seconds;
    tapeindex_t *index;        /* file rows after the trailer; NULL: none (see s_index) */
    indexrows_job_t job;       /* what the catalog knows of the job, for the header */
} s_written_t;

static int
s_record(s_item_t *it, const tf_msg_archive_ready_t *ready, const s_written_t *w, tf_err_t *err)
{
    char id[300];
    snprintf(id, sizeof id, "%s-written", ready->archive_id);
    tf_msg_t msg = {.type = TF_MSG_CAT_WRITTEN};
    msg.cat_written = (tf_msg_cat_written_t){
        .job_id = ready->job_id,
        .archive_id = ready->archive_id,
        .group_no = ready->group_no,
        .volume = (char *) w->volume,
        .drive = it->tw->drive_name,
        .tape_file = w->file,
        .block = w->object,
        .blocks = w->stats.blocks,
        .size = ready->size,
        .checksum = ready->checksum,
        .files = ready->files,
        .bytes = ready->bytes,
    };
    tf_msg_t result;
    int rc = tf_client_call(it->tw->client, "catalog", id, ready->job_id, &msg, &result,
                            it->tw->catalog_timeout_ms, err);
    if (rc != TF_OK)
        return tf_err_prefix(err, "archive %s is on tape %s (tape file %" PRIu64 ") but the catalog did "
                             "not record it: ", ready->archive_id, w->volume, w->file);
    tf_msg_clear(&result);
    return TF_OK;
}

/* --- writing --------------------------------------------------------------------------- */

static int
s_drive_error(s_item_t *it, tf_drive_t *drive, const char *volume, const char *pool, tf_err_t *err)
{
    tf_drive_cond_t cond = tf_drive_last_cond(drive);
    if (cond == TF_DRIVE_COND_END_OF_MEDIUM) {
        it->vol.hit_end = true;
        tf_err_set(err, TF_ERR_DEVICE, "tape %s in drive %s is full: mount a new tape of pool %s",
                   volume, it->tw->drive_name, pool);
        s_event(it, true, "error", "%s", err->message);
        return TF_ERR_DEVICE;
    }
    if (cond == TF_DRIVE_COND_MEDIUM_ERROR || cond == TF_DRIVE_COND_HARDWARE_ERROR
        || cond == TF_DRIVE_COND_WRITE_PROTECTED) {
        it->vol.write_error = cond != TF_DRIVE_COND_WRITE_PROTECTED;
        tf_err_prefix(err, "tape %s in drive %s: ", volume, it->tw->drive_name);
        s_event(it, true, "error", "%s", err->message);
    }
    return err->code ? err->code : TF_ERR_DEVICE;
}

/* Streams the archive from the stager onto tape as one tape file. */
static int
s_stream(s_item_t *it, tf_drive_t *drive, fetcher_t *fetcher, const tf_msg_archive_ready_t *ready,
         s_written_t *w, const char *pool, tf_err_t *err)
{
    tapewriter_t *tw = it->tw;
    /* Start once the prefetch window is full, so the drive does not start and stop at once. */
    int rc = fetcher_fill(fetcher, err);
    if (rc != TF_OK)
        return rc;
    tapefile_header_t hdr;
    memset(&hdr, 0, sizeof hdr);
    snprintf(hdr.archive_id, sizeof hdr.archive_id, "%s", ready->archive_id);
    snprintf(hdr.job_id, sizeof hdr.job_id, "%s", ready->job_id);
    hdr.group_no = ready->group_no;
    snprintf(hdr.pool, sizeof hdr.pool, "%s", pool);
    snprintf(hdr.compression, sizeof hdr.compression, "%s", ready->compression ? ready->compression : "");
    hdr.size = ready->size;
    snprintf(hdr.checksum, sizeof hdr.checksum, "%s", ready->checksum);
    hdr.block_size = tw->block_size;
    hdr.files = ready->files;
    hdr.bytes = ready->bytes;
    snprintf(hdr.volume, sizeof hdr.volume, "%s", w->volume);
    hdr.job_created_ms = w->job.created_ms;
    hdr.job_scanned = w->job.scanned;
    hdr.job_files = w->job.files;
    hdr.job_bytes = w->job.bytes;
    hdr.job_groups = w->job.groups;
    hdr.job_warnings = w->job.warnings;
    int64_t started = tf_clock_mono_ms();
    tapefile_writer_t *writer = tapefile_writer_new(drive, &hdr, err);
    if (!writer)
        return s_drive_error(it, drive, w->volume, pool, err);
    tapefile_writer_set_index(writer, w->index);
    uint64_t written = 0, reported = 0;
    for (;;) {
        if (!fetcher_ready(fetcher))
            w->underruns++; /* a block is due and its bytes are not here */
        const void *data;
        size_t len;
        rc = fetcher_next(fetcher, &data, &len, err);
        if (rc != TF_OK || len == 0)
            break;
        rc = tapefile_writer_write(writer, data, len, err);
        if (rc != TF_OK) {
            rc = s_drive_error(it, drive, w->volume, pool, err);
            break;
        }
        written += len;
        if (written - reported >= (64u << 20) && it->actor) {
            tf_actor_progress(it->actor, it->work, written, ready->size, "writing to tape");
            reported = written;
        }
        if (it->actor && tf_actor_interrupted(it->actor)) {
            rc = tf_err_set(err, TF_ERR_INTERRUPTED, "stopped while writing archive %s", ready->archive_id);
            break;
        }
    }
    if (rc == TF_OK) {
        rc = tapefile_writer_finish(writer, &w->stats, err);
        if (rc != TF_OK && err->code != TF_ERR_IO)
            rc = s_drive_error(it, drive, w->volume, pool, err);
    }
    if (rc != TF_OK)
        tapefile_writer_abandon(writer);
    tapefile_writer_destroy(&writer);
    w->seconds = (double) (tf_clock_mono_ms() - started) / 1000.0;
    return rc;
}

/* --- volumes: pools, retention, recycling ---------------------------------------------- */

/* The catalog's row for label, if it has one (fills *row with copies the caller frees with
   tf_msg_clear on *reply). false when the catalog does not know the volume or did not answer. */
static bool
s_volume_row(s_item_t *it, const char *label, tf_msg_t *reply, const tf_msg_volume_row_t **row)
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
s_volume_recycle(s_item_t *it, tf_drive_t *drive, const char *pool, int64_t expires_ms,
                 uint64_t archives, uint64_t *file, uint64_t *object, tf_err_t *err)
{
    s_vol_t *v = &it->vol;
    tf_label_t fresh;
    int rc = tf_label_init(&fresh, v->label.label, v->label.pool, v->label.media_type, err);
    if (rc == TF_OK)
        rc = tf_label_write(drive, &fresh, err);
    if (rc != TF_OK)
        return s_drive_error(it, drive, v->label.label, pool, err);
    char date[32];
    s_event(it, false, "info", "tape %s in drive %s expired on %s: recycled for pool %s (its %" PRIu64
            " archive%s are gone)", fresh.label, it->tw->drive_name,
            tf_volume_format_date(expires_ms, date, sizeof date), pool, archives,
            archives == 1 ? "" : "s");
    v->label = fresh;
    if (tf_volume_parse_time(fresh.created, &v->created_ms) != TF_OK)
        v->created_ms = tf_clock_wall_ms();
    v->label_expires_ms = 0;
    v->bytes_used = 0;
    v->recycled = true;
    tf_drive_pos_t pos;
    tf_err_t perr = {0};
    if (tf_drive_read_position(drive, &pos, &perr) != TF_OK)
        tf_drive_position(drive, &pos);
    *file = 1;
    *object = pos.object_known ? pos.object : TF_LABEL_BLOCKS + 1;
    return TF_OK;
}

/* After the label check: decides whether the item appends to the volume (positioned at end of
   data), recycles it (expired: new label, tape file 1), or is refused (full, not expired). */
static int
s_volume_prepare(s_item_t *it, tf_drive_t *drive, const char *pool, const tf_label_info_t *info,
                 uint64_t *file, uint64_t *object, tf_err_t *err)
{
    s_vol_t *v = &it->vol;
    memset(v, 0, sizeof *v);
    v->label = info->label;
    if (tf_volume_parse_time(info->label.created, &v->created_ms) != TF_OK)
        v->created_ms = 0;
    if (tf_volume_parse_time(info->label.expires, &v->label_expires_ms) != TF_OK)
        v->label_expires_ms = 0;
    if (tf_volume_retention(it->tw->cfg, pool, &v->retention_ms, err) != TF_OK)
        return s_refuse(it, err);
    v->known = true;
    int rc = s_goto_eod(drive, file, object, err);
    if (rc != TF_OK)
        return s_drive_error(it, drive, v->label.label, pool, err);
    uint64_t archives = *file > 0 ? *file - 1 : 0;

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
    }
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
            rc = s_drive_error(it, drive, v->label.label, pool, err);
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
    if (full) {
        tf_err_set(err, TF_ERR_INVALID, "tape %s in drive %s is full: mount an appendable or "
                   "expired tape of pool %s", v->label.label, it->tw->drive_name, pool);
        return s_refuse(it, err);
    }
    return TF_OK;
}

/* Tells the catalog how the volume stands after this item (ready NULL: it failed, only the
   errors and a full tape are news). Best effort: the archive's own record does not depend on it. */
static void
s_volume_report(s_item_t *it, const tf_msg_archive_ready_t *ready, const s_written_t *w)
{
    s_vol_t *v = &it->vol;
    int64_t now = tf_clock_wall_ms();
    uint64_t bytes = v->bytes_used;
    int64_t last_written = 0;
    uint64_t tape_files = w->file;
    if (ready) {
        bytes += ready->size + 2 * 4096;   /* data, header and trailer records */
        last_written = now;
        tape_files = w->file + 1;
    }
    bool full = v->hit_end || (ready && w->stats.early_warning);
    char id[300];
    if (ready)
        snprintf(id, sizeof id, "%s-volume-%" PRIu64, ready->archive_id, w->file);
    tf_msg_t msg = {.type = TF_MSG_CAT_VOLUME};
    msg.cat_volume = (tf_msg_cat_volume_t){
        .label = v->label.label,
        .pool = v->label.pool,
        .state = full ? "full" : "appendable",
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
            if (!full && row->state && strcmp(row->state, "full") == 0)
                msg.cat_volume.state = "full";
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

static int
s_write_and_verify(s_item_t *it, const tf_msg_archive_ready_t *ready, s_written_t *w, tf_err_t *err)
{
    tapewriter_t *tw = it->tw;
    const char *pool = ready->pool && *ready->pool ? ready->pool : "default";
    if (!ready->stager || !*ready->stager) {
        it->permanent = true;
        return tf_err_set(err, TF_ERR_INVALID, "archive_ready for %s names no stager to fetch from",
                          ready->archive_id);
    }
    /* Ask for the first bytes now: they arrive while the tape is positioned. */
    fetcher_t *fetcher = fetcher_new(ready->stager, ready->archive_id, ready->size, &tw->fetch, err);
    if (!fetcher)
        return err->code;
    tf_drive_t *drive = s_open_drive(it, err);
    int rc = drive ? TF_OK : err->code;
    tf_label_info_t info;
    if (rc == TF_OK)
        rc = s_check_label(it, drive, pool, &info, err);
    if (rc == TF_OK) {
        snprintf(w->volume, sizeof w->volume, "%s", info.label.label);
        rc = s_volume_prepare(it, drive, pool, &info, &w->file, &w->object, err);
    }
    if (rc == TF_OK)
        rc = s_stream(it, drive, fetcher, ready, w, pool, err);
    fetcher_destroy(&fetcher);
    if (rc == TF_OK && w->stats.early_warning)
        s_event(it, true, "warn", "tape %s in drive %s is nearly full (early warning): mount a new "
                "tape of pool %s soon (it is marked full: no more archives go to it until it "
                "expires)", w->volume, tw->drive_name, pool);
    if (rc == TF_OK && tw->verify) {
        tapefile_stats_t vst;
        rc = tapefile_verify(drive, w->file, ready->archive_id, ready->size, ready->checksum, &vst, err);
        if (rc != TF_OK) {
            tf_err_prefix(err, "verify of archive %s on tape %s (drive %s, tape file %" PRIu64
                          ") failed, the archive stays staged and is written again: ",
                          ready->archive_id, w->volume, tw->drive_name, w->file);
            s_event(it, true, "error", "%s", err->message);
            it->vol.read_error = true;
            rc = TF_ERR_IO;
        }
    }
    tf_drive_destroy(&drive);
    if (rc != TF_OK && it->vol.known && (it->vol.write_error || it->vol.read_error || it->vol.hit_end))
        s_volume_report(it, NULL, w);
    return rc;
}

static bool
s_index_stop(void *arg)
{
    s_item_t *it = arg;
    return it->actor && tf_actor_interrupted(it->actor);
}

/* The archive's file rows for its on-tape index. Without them the archive is still written
   (a rebuild then reads its tar headers): a warning, not a failure. */
static int
s_index(s_item_t *it, const tf_msg_archive_ready_t *ready, s_written_t *w, tf_err_t *err)
{
    tf_err_t ierr = {0};
    int rc = indexrows_fetch(it->tw->client, ready, it->tw->index_wait_ms, it->tw->catalog_timeout_ms,
                             s_index_stop, it, &w->index, &w->job, &ierr);
    if (rc == TF_ERR_INTERRUPTED) {
        if (err)
            *err = ierr;
        return rc;
    }
    if (rc != TF_OK)
        s_event(it, false, "warn", "archive %s is written without its file index: %s; a catalog rebuild "
                "('tapeflow tape scan') will read the archive's tar headers instead", ready->archive_id,
                ierr.message);
    return TF_OK;
}

static int
s_handle_archive(s_item_t *it, const tf_msg_archive_ready_t *ready, tf_err_t *err)
{
    bool written = false;
    int rc = s_already_written(it, ready, &written, err);
    if (rc != TF_OK)
        return rc;
    if (written) {
        tf_log_info("archive %s is already on tape and in the catalog: releasing it", ready->archive_id);
        return s_release(it, ready, err);
    }
    s_written_t w;
    memset(&w, 0, sizeof w);
    rc = s_index(it, ready, &w, err);
    if (rc == TF_OK)
        rc = s_write_and_verify(it, ready, &w, err);
    tapeindex_destroy(&w.index);
    if (rc != TF_OK)
        return rc;
    double mbs = (double) ready->size / 1e6 / (w.seconds > 0.001 ? w.seconds : 0.001);
    s_event(it, false, "info",
            "archive %s written%s to tape %s file %" PRIu64 ": %" PRIu64 " bytes in %" PRIu64
            " blocks, %.1f MB/s, underruns %" PRIu64,
            ready->archive_id, it->tw->verify ? " and verified" : "", w.volume, w.file, ready->size,
            w.stats.blocks, mbs, w.underruns);
    rc = s_record(it, ready, &w, err);
    if (rc != TF_OK)
        return rc;
    s_volume_report(it, ready, &w);
    return s_release(it, ready, err);
}

/* --- restore --------------------------------------------------------------------------- */

static void
s_restore_progress(void *arg, uint64_t done, uint64_t total, const char *message)
{
    s_item_t *it = arg;
    if (it->actor)
        tf_actor_progress(it->actor, it->work, done, total, message);
}

static bool
s_restore_interrupted(void *arg)
{
    s_item_t *it = arg;
    return it->actor && tf_actor_interrupted(it->actor);
}

static int
s_handle_restore(s_item_t *it, const tf_msg_tape_restore_t *req, tf_err_t *err)
{
    tf_drive_t *drive = s_open_drive(it, err);
    if (!drive)
        return err->code;
    restore_opts_t opts = {.drive_name = it->tw->drive_name, .progress = s_restore_progress,
                           .interrupted = s_restore_interrupted, .arg = it};
    restore_stats_t st;
    int rc = restore_run(drive, req, &opts, &st, err);
    tf_drive_destroy(&drive);
    if (rc == TF_ERR_INVALID)
        return s_refuse(it, err);
    if (rc != TF_OK)
        return rc;
    tf_log_info("%s", st.message);
    tf_msg_t result = {.type = TF_MSG_RESTORE_RESULT};
    result.restore_result = (tf_msg_restore_result_t){
        .files = st.files, .bytes = st.bytes, .archives_read = st.archives_read,
        .blocks_read = st.blocks_read, .warnings = st.warnings, .message = st.message};
    uint8_t *data = NULL;
    size_t size = 0;
    rc = tf_msg_encode(&result, &data, &size, err);
    if (rc != TF_OK)
        return rc;
    rc = it->actor ? tf_actor_set_result(it->actor, data, size) : TF_OK;
    free(data);
    if (rc != TF_OK)
        return tf_err_set(err, rc, "out of memory");
    return TF_OK;
}

/* --- entry ----------------------------------------------------------------------------- */

int
tapewriter_handle(tf_actor_t *actor, const tf_msg_work_t *work, void *arg, tf_err_t *err)
{
    s_item_t it = {.tw = arg, .actor = actor, .work = work};
    tf_msg_t payload;
    int rc = tf_msg_decode(work->payload.data, work->payload.size, &payload, err);
    if (rc != TF_OK)
        return tf_err_prefix(err, "item %s: ", work->item_id);
    if (payload.type == TF_MSG_ARCHIVE_READY)
        rc = s_handle_archive(&it, &payload.archive_ready, err);
    else if (payload.type == TF_MSG_TAPE_RESTORE)
        rc = s_handle_restore(&it, &payload.tape_restore, err);
    else {
        rc = tf_err_set(err, TF_ERR_PROTO, "item %s: the tape service takes archive_ready and "
                        "tape_restore, not %s", work->item_id, tf_msg_type_name(payload.type));
        it.permanent = true;
    }
    tf_msg_clear(&payload);
    if (rc == TF_OK || rc == TF_ERR_INTERRUPTED)
        return rc;
    /* The runtime fails INVALID/PROTO/NOTFOUND/UNSUPPORTED/TOOBIG for good: keep that for
       refusals only; any other trouble (a full tape, a drive that stopped early) may pass. */
    if (it.permanent)
        return rc == TF_ERR_PROTO ? rc : TF_ERR_INVALID;
    if (!tf_actor_status_retryable(rc))
        return TF_ERR_DEVICE;
    return rc;
}
