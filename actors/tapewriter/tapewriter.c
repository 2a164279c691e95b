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
#include "tf_changer.h"
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
    char changer_url[1024];    /* the changer whose drive element holds this drive ("": none) */
    int changer_drive;         /* that drive element */
    int mount_wait_ms;         /* without changer: how long to wait for the next volume (0: no spanning) */
    int64_t retry_backoff_ms;  /* before handing a failed archive back: this, doubled per attempt */
    int64_t retry_backoff_max_ms;
    int64_t max_attempts;      /* broker/max_attempts: the last attempt needs no back-off */
};

/* Segments one archive may have (volumes it spans). */
#define S_MAX_SEGMENTS 64

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
    bool in_error;             /* the catalog has the cartridge in state error (tape clear ends it) */
    bool write_error;          /* a medium error while writing (not a hardware error: the drive's) */
    bool read_error;           /* verify read back something else */
    bool hit_end;              /* end of medium: the volume is full */
} s_vol_t;

/* Finds changers/<name>/drive<N> naming this drive (docs/changers.md). */
static void
s_find_changer(tapewriter_t *self)
{
    tf_changer_for_drive(self->cfg, self->drive_name, self->changer_url, sizeof self->changer_url,
                         &self->changer_drive);
}

/* One item in hand. */
typedef struct {
    tapewriter_t *tw;
    tf_actor_t *actor;
    const tf_msg_work_t *work;
    bool permanent;            /* a refusal: do not deliver again */
    bool cancelled;            /* the job was cancelled meanwhile: no back-off before handing back */
    s_vol_t vol;
    tf_drive_t *rdrive;        /* restore: the drive on the volume being read */
    const char *restore_job;   /* restore: the job restored (the item itself carries no job id) */
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
    snprintf(self->drive_name, sizeof self->drive_name, "%s", tf_config_str(cfg, "tapewriter/drive"));
    int64_t bs = tf_config_size(cfg, "tapewriter/block_size");
    if (bs < TAPEFILE_BLOCK_MIN || bs > TAPEFILE_BLOCK_MAX) {
        tf_err_set(err, TF_ERR_INVALID,
                   "tapewriter/block_size = %" PRId64 " is out of range: use %u to %u bytes (256 KiB "
                   "to 1 MiB is usual)", bs, TAPEFILE_BLOCK_MIN, TAPEFILE_BLOCK_MAX);
        free(self);
        return NULL;
    }
    self->block_size = (uint32_t) bs;
    self->verify = tf_config_bool(cfg, "tapewriter/verify");
    self->fetch.chunk = (size_t) tf_config_size(cfg, "tapewriter/fetch_chunk");
    self->fetch.depth = (int) tf_config_int(cfg, "tapewriter/fetch_depth");
    self->fetch.timeout_ms = (int) tf_config_ms(cfg, "tapewriter/fetch_timeout");
    self->fetch.max_message = tf_config_size(cfg, "broker/max_message");
    self->ready_timeout_ms = (int) tf_config_ms(cfg, "tapewriter/ready_timeout");
    self->busy_wait_ms = (int) tf_config_ms(cfg, "tapewriter/busy_wait");
    self->catalog_timeout_ms = (int) tf_config_ms(cfg, "tapewriter/catalog_timeout");
    s_find_changer(self);
    self->mount_wait_ms = (int) tf_config_ms(cfg, "tapewriter/mount_wait");
    self->retry_backoff_ms = tf_config_ms(cfg, "tapewriter/retry_backoff");
    self->retry_backoff_max_ms = tf_config_ms(cfg, "tapewriter/retry_backoff_max");
    self->max_attempts = tf_config_int(cfg, "broker/max_attempts");
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

static tf_drive_t *
s_open_drive(s_item_t *it, tf_err_t *err)
{
    tapewriter_t *tw = it->tw;
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
    /* Spanning: every segment, the last one included (nsegs 0: one volume). */
    tf_msg_segment_row_t segs[S_MAX_SEGMENTS];
    char seg_volumes[S_MAX_SEGMENTS][33];
    size_t nsegs;
    char set_id[65];
} s_written_t;

static int
s_record(s_item_t *it, const tf_msg_archive_ready_t *ready, const s_written_t *w, tf_err_t *err)
{
    char id[300];
    snprintf(id, sizeof id, "%s-written", ready->archive_id);
    tf_msg_t msg = {.type = TF_MSG_CAT_WRITTEN};
    /* A spanned archive starts where its first segment is. */
    bool spanned = w->nsegs > 0;
    msg.cat_written = (tf_msg_cat_written_t){
        .job_id = ready->job_id,
        .archive_id = ready->archive_id,
        .group_no = ready->group_no,
        .volume = spanned ? w->segs[0].volume : (char *) w->volume,
        .drive = it->tw->drive_name,
        .tape_file = spanned ? w->segs[0].tape_file : w->file,
        .block = spanned ? w->segs[0].block : w->object,
        .segments = spanned ? (tf_msg_segment_row_t *) w->segs : NULL,
        .segments_count = w->nsegs,
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
        if (it->tw->changer_url[0])
            tf_err_set(err, TF_ERR_DEVICE, "tape %s in drive %s is full: the archive is written again on the "
                       "next volume of its set (changer %s)", volume, it->tw->drive_name, it->tw->changer_url);
        else
            tf_err_set(err, TF_ERR_DEVICE, "tape %s in drive %s is full: mount a new tape of pool %s",
                       volume, it->tw->drive_name, pool);
        s_event(it, true, "error", "%s", err->message);
        return TF_ERR_DEVICE;
    }
    if (cond == TF_DRIVE_COND_HARDWARE_ERROR) {
        /* The drive failed, not the cartridge: marking it error would, with a changer, mark
           every cartridge each retry loads until the pool has none left. */
        tf_err_prefix(err, "drive %s reported a hardware error (sense key 4) while writing tape %s; the "
                      "tape is not marked, the item is tried again after a back-off; check the drive "
                      "('tapeflow drive doctor %s'): ", it->tw->drive_name, volume, it->tw->drive_name);
        s_event(it, true, "error", "%s", err->message);
        return err->code ? err->code : TF_ERR_DEVICE;
    }
    if (cond == TF_DRIVE_COND_MEDIUM_ERROR || cond == TF_DRIVE_COND_WRITE_PROTECTED) {
        it->vol.write_error = cond == TF_DRIVE_COND_MEDIUM_ERROR;
        tf_err_prefix(err, "tape %s in drive %s: ", volume, it->tw->drive_name);
        s_event(it, true, "error", "%s", err->message);
    }
    return err->code ? err->code : TF_ERR_DEVICE;
}

static int s_span(s_item_t *it, tf_drive_t **drive_p, tapefile_writer_t *writer,
                  const tf_msg_archive_ready_t *ready, s_written_t *w, const char *pool, tf_err_t *err);

/* Streams the archive from the stager onto tape as one tape file (one per volume when it
   spans volumes: *drive_p is then the drive opened on the last one). */
static int
s_stream(s_item_t *it, tf_drive_t **drive_p, fetcher_t *fetcher, const tf_msg_archive_ready_t *ready,
         s_written_t *w, const char *pool, tf_err_t *err)
{
    tf_drive_t *drive = *drive_p;
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
            rc = s_drive_error(it, *drive_p, w->volume, pool, err);
            break;
        }
        /* Without a changer early warning leaves the archive on this tape (it is marked full
           afterwards); only a refused block ends it. */
        if (tapefile_writer_volume_full(writer)
            && (tw->changer_url[0] || tw->mount_wait_ms > 0 || tapefile_writer_overflow(writer))) {
            rc = s_span(it, drive_p, writer, ready, w, pool, err);
            if (rc != TF_OK)
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
        if (rc != TF_OK && tapefile_writer_volume_full(writer)) {
            /* The last block did not fit: it goes to the next volume. */
            rc = s_span(it, drive_p, writer, ready, w, pool, err);
            if (rc == TF_OK)
                rc = tapefile_writer_finish(writer, &w->stats, err);
        }
        if (rc != TF_OK && err->code != TF_ERR_IO)
            rc = s_drive_error(it, *drive_p, w->volume, pool, err);
    }
    if (rc == TF_OK && w->nsegs > 0) {
        /* The last segment of a spanned archive. */
        tapefile_segment_t seg;
        tapefile_writer_segment(writer, &seg);
        memcpy(w->seg_volumes[w->nsegs], w->volume, sizeof w->seg_volumes[0]);
        w->segs[w->nsegs] = (tf_msg_segment_row_t){.volume = w->seg_volumes[w->nsegs], .tape_file = w->file,
                                                   .block = w->object, .offset = seg.offset, .length = seg.length};
        w->nsegs++;
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

/* After the label check: decides whether the item appends to the volume (positioned at end of
   data), recycles it (expired: new label, tape file 1), or is refused (full, not expired). */
static int
s_volume_prepare(s_item_t *it, tf_drive_t *drive, const char *pool, const tf_label_info_t *info,
                 uint64_t *file, uint64_t *object, bool *need_next, tf_err_t *err)
{
    *need_next = false;
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
        return s_refuse(it, err);
    }
    int rc = s_goto_eod(drive, file, object, err);
    if (rc != TF_OK) {
        tf_msg_clear(&reply);
        return s_drive_error(it, drive, v->label.label, pool, err);
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
    if (full && (it->tw->changer_url[0] || it->tw->mount_wait_ms > 0)) {
        *need_next = true;     /* the changer loads the next volume of the set, or an operator */
        return TF_OK;
    }
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
    /* Write errors put the cartridge out of use until 'tapeflow tape clear'. */
    bool error = v->write_error || v->in_error;
    char id[300];
    if (ready)
        snprintf(id, sizeof id, "%s-volume-%s-%" PRIu64, ready->archive_id, v->label.label, w->file);
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

/* --- spanning: the next volume of the set ---------------------------------------------- */

/* An alert.mount event: an operator has to put a tape in. */
static void
s_mount_alert(s_item_t *it, const char *text)
{
    char topic[200];
    snprintf(topic, sizeof topic, "alert.mount.%s", it->tw->drive_name);
    tf_publisher_t *pub = it->actor ? tf_actor_events(it->actor) : NULL;
    if (pub)
        tf_publisher_say(pub, topic, "warn", "%s", text);
    tf_log_warn("%s", text);
}


/* The set a volume belongs to: its label's set id, or for the first volume of a set (labelled
   before it spanned) its name and creation time, so every later volume is checked against the
   first volume's identity and generation. */
static void
s_set_id(const tf_label_t *label, char *out, size_t size)
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
s_vol_taken(s_item_t *it, const char *pool, const tf_label_t *label, bool recycled, tf_err_t *err)
{
    s_vol_t *v = &it->vol;
    memset(v, 0, sizeof *v);
    v->label = *label;
    if (tf_volume_parse_time(label->created, &v->created_ms) != TF_OK)
        v->created_ms = tf_clock_wall_ms();
    if (tf_volume_parse_time(label->expires, &v->label_expires_ms) != TF_OK)
        v->label_expires_ms = 0;
    if (tf_volume_retention(it->tw->cfg, pool, &v->retention_ms, err) != TF_OK)
        return s_refuse(it, err);
    v->recycled = recycled;
    v->known = true;
    return TF_OK;
}

/* Whether the tape in the drive can continue the set: blank (labelled into the set with the
   cartridge's barcode as its name), the next volume of this very set, or an expired tape of
   the pool (labelled into the set). *taken false: leave it and try another. */
static int
s_take_volume(s_item_t *it, tf_drive_t *drive, const char *pool, const tf_label_t *prev, const char *set_id,
              const char *barcode, s_written_t *w, bool *taken, tf_err_t *err)
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
        s_event(it, false, "warn", "drive %s: tape %s is marked error (write errors): not taking it for set %s "
                "('tapeflow tape clear %s' once the cartridge is known to be good)", it->tw->drive_name,
                info.label.label, set_id, info.label.label);
        return TF_OK;
    }
    if (ours && strcmp(info.label.set_id, set_id) == 0 && info.label.sequence == prev->sequence + 1) {
        rc = s_vol_taken(it, pool, &info.label, false, err);
        if (rc == TF_OK)
            rc = s_goto_eod(drive, &w->file, &w->object, err);
        if (rc != TF_OK)
            return rc;
        snprintf(w->volume, sizeof w->volume, "%s", info.label.label);
        *taken = true;
        return TF_OK;
    }
    /* A labelled tape of the pool without any archive loses nothing when it joins the set. */
    bool empty = false;
    if (ours && !expired && strcmp(info.label.label, prev->label) != 0) {
        uint64_t file = 0, object = 0;
        tf_err_t eerr = {0};
        empty = s_goto_eod(drive, &file, &object, &eerr) == TF_OK && file <= 1;
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
        return s_drive_error(it, drive, name, pool, err);
    rc = s_vol_taken(it, pool, &next, expired, err);
    if (rc != TF_OK)
        return rc;
    tf_drive_pos_t pos;
    tf_err_t perr = {0};
    if (tf_drive_read_position(drive, &pos, &perr) != TF_OK)
        tf_drive_position(drive, &pos);
    w->file = 1;
    w->object = pos.object_known ? pos.object : TF_LABEL_BLOCKS + 1;
    snprintf(w->volume, sizeof w->volume, "%s", next.label);
    s_event(it, false, "info", "tape %s in drive %s is %s: labelled as volume %" PRIu64 " of set %s "
            "(pool %s, after %s)", next.label, it->tw->drive_name, blank ? "blank" : expired ? "expired" : "empty",
            next.sequence, set_id, pool, prev->label);
    *taken = true;
    return TF_OK;
}

/* Puts the full tape back and loads the next volume of the set with the drive's changer.
   *drive_p is closed and, on success, the drive opened on the new volume. */
static int
s_next_volume(s_item_t *it, tf_drive_t **drive_p, const char *pool, const char *set_id, s_written_t *w,
              tf_err_t *err)
{
    tapewriter_t *tw = it->tw;
    tf_label_t prev = it->vol.label;
    tf_err_t uerr = {0};
    if (*drive_p && tf_drive_unload(*drive_p, &uerr) != TF_OK
        && tf_drive_last_cond(*drive_p) != TF_DRIVE_COND_NO_MEDIUM)
        tf_log_warn("drive %s: could not eject tape %s (%s): trying the robot anyway", tw->drive_name,
                    prev.label, uerr.message);
    tf_drive_destroy(drive_p);
    tf_changer_t *chg = tf_changer_open(tw->changer_url, err);
    if (!chg)
        return tf_err_prefix(err, "changer %s of drive %s: ", tw->changer_url, tw->drive_name);
    int rc = tf_changer_unload(chg, tw->changer_drive, 0, NULL, err);
    tf_changer_inv_t *inv = NULL;
    if (rc == TF_OK)
        rc = tf_changer_inventory(chg, &inv, err);
    bool found = false;
    for (size_t i = 0; rc == TF_OK && !found && i < inv->count; i++) {
        const tf_changer_elem_t *e = &inv->elem[i];
        if (e->type != TF_CHANGER_SLOT || !e->full || strcmp(e->barcode, prev.label) == 0)
            continue;
        rc = tf_changer_load(chg, e->number, tw->changer_drive, err);
        if (rc != TF_OK)
            break;
        tf_drive_t *drive = s_open_drive(it, err);
        if (!drive) {
            rc = err->code;
            break;
        }
        rc = s_take_volume(it, drive, pool, &prev, set_id, e->barcode, w, &found, err);
        if (rc == TF_OK && found) {
            *drive_p = drive;
            break;
        }
        if (tf_drive_unload(drive, &uerr) != TF_OK)
            tf_log_warn("drive %s: could not eject the tape from slot %d (%s)", tw->drive_name, e->number,
                        uerr.message);
        tf_drive_destroy(&drive);
        if (rc == TF_OK)
            rc = tf_changer_unload(chg, tw->changer_drive, e->number, NULL, err);
    }
    if (rc == TF_OK && !found)
        rc = tf_err_set(err, TF_ERR_DEVICE, "changer %s has no blank or expired tape of pool %s for drive %s "
                        "(set %s continues after %s): put one in a slot; the archive is written again",
                        tw->changer_url, pool, tw->drive_name, set_id, prev.label);
    else if (rc != TF_OK)
        tf_err_prefix(err, "changing tapes in drive %s (changer %s): ", tw->drive_name, tw->changer_url);
    if (rc != TF_OK)
        s_event(it, true, "error", "%s", err->message);
    tf_changer_inv_destroy(&inv);
    tf_changer_destroy(&chg);
    return rc;
}

/* Whether the broker cancelled this item (tapeflow job cancel): then waiting for an operator
   to mount a tape is pointless. */
static bool
s_item_cancelled(s_item_t *it)
{
    if (!it->work || !it->work->item_id)
        return false;
    tf_msg_t info;
    if (tf_client_item(it->tw->client, it->work->item_id, &info, 2000, NULL) != TF_OK)
        return false;
    bool cancelled = strcmp(info.item_info.state, "cancelled") == 0;
    tf_msg_clear(&info);
    return cancelled;
}

/* Without a changer (tapewriter/mount_wait > 0): ejects the full tape, raises alert.mount and
   polls the drive until an operator mounts a tape that can continue the set (see
   s_take_volume), or until mount_wait passes. */
static int
s_wait_mount(s_item_t *it, tf_drive_t **drive_p, const char *pool, const char *set_id,
             const tf_msg_archive_ready_t *ready, s_written_t *w, tf_err_t *err)
{
    tapewriter_t *tw = it->tw;
    tf_label_t prev = it->vol.label;
    tf_err_t uerr = {0};
    if (*drive_p && tf_drive_unload(*drive_p, &uerr) != TF_OK
        && tf_drive_last_cond(*drive_p) != TF_DRIVE_COND_NO_MEDIUM)
        tf_log_warn("drive %s: could not eject tape %s: %s", tw->drive_name, prev.label, uerr.message);
    tf_drive_destroy(drive_p);
    char url[1024];
    int rc = tf_drive_resolve(tw->cfg, tw->drive_name, "/sys", "/dev", url, sizeof url, err);
    if (rc != TF_OK)
        return tf_err_prefix(err, "drive %s: ", tw->drive_name);
    char text[1024];
    snprintf(text, sizeof text, "mount a tape of pool %s in drive %s: archive %.128s continues on it as "
             "volume %" PRIu64 " of set %s (tape %s is %s; waiting up to %d s)", pool, tw->drive_name,
             ready->archive_id, (prev.sequence ? prev.sequence : 1) + 1, set_id, prev.label,
             it->vol.in_error ? "marked error after write errors" : "full", tw->mount_wait_ms / 1000);
    s_mount_alert(it, text);
    int64_t deadline = tf_clock_mono_ms() + tw->mount_wait_ms;
    int64_t next_check = tf_clock_mono_ms() + 2000;
    bool said_blank = false;
    while (tf_clock_mono_ms() < deadline) {
        if (it->actor && tf_actor_interrupted(it->actor))
            return tf_err_set(err, TF_ERR_INTERRUPTED, "stopped while waiting for a tape in drive %s",
                              tw->drive_name);
        if (tf_clock_mono_ms() >= next_check) {
            next_check = tf_clock_mono_ms() + 2000;
            if (s_item_cancelled(it)) {
                it->cancelled = true;
                tf_err_set(err, TF_ERR_DEVICE, "job %s was cancelled: drive %s stops waiting for a "
                           "tape for archive %s", ready->job_id, tw->drive_name, ready->archive_id);
                s_event(it, true, "warn", "%s", err->message);
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
        tf_label_info_t info;
        if (tf_label_read(drive, &info, &perr) == TF_OK && info.kind == TF_LABEL_TAPEFLOW
            && strcmp(info.label.label, prev.label) == 0) {
            tf_drive_destroy(&drive);  /* still (or again) the full tape */
            continue;
        }
        if (info.kind == TF_LABEL_BLANK && !said_blank) {
            s_event(it, true, "warn", "tape in drive %s is blank: label it for pool %s ('tapeflow tape label %s "
                    "--label NAME --pool %s') and archive %.128s continues on it", tw->drive_name, pool,
                    tw->drive_name, pool, ready->archive_id);
            said_blank = true;
        }
        bool taken = false;
        rc = s_take_volume(it, drive, pool, &prev, set_id, NULL, w, &taken, err);
        if (rc == TF_OK && taken) {
            *drive_p = drive;
            return TF_OK;
        }
        tf_drive_destroy(&drive);
        if (rc != TF_OK)
            return rc;
    }
    tf_err_set(err, TF_ERR_DEVICE, "no tape of pool %s was mounted in drive %s within %d s (tapewriter/mount_wait): "
               "archive %s is written again from its start once one is", pool, tw->drive_name,
               tw->mount_wait_ms / 1000, ready->archive_id);
    s_event(it, true, "error", "%s", err->message);
    return TF_ERR_DEVICE;
}

/* Early warning or end of medium in the middle of an archive: ends its segment on this
   volume, marks the volume full, loads the next volume of the set and goes on there. */
static int
s_span(s_item_t *it, tf_drive_t **drive_p, tapefile_writer_t *writer, const tf_msg_archive_ready_t *ready,
       s_written_t *w, const char *pool, tf_err_t *err)
{
    tapewriter_t *tw = it->tw;
    if (!tw->changer_url[0] && tw->mount_wait_ms <= 0) {
        /* No next volume to go to: the item fails with retry, the archive stays staged. */
        it->vol.hit_end = true;
        tf_err_set(err, TF_ERR_DEVICE, "tape %s in drive %s is full: mount a new tape of pool %s",
                   w->volume, tw->drive_name, pool);
        s_event(it, true, "error", "%s", err->message);
        return TF_ERR_DEVICE;
    }
    if (w->nsegs + 2 > S_MAX_SEGMENTS) {
        it->permanent = true;
        return tf_err_set(err, TF_ERR_INVALID, "archive %s would span more than %d volumes: use a smaller "
                          "group size", ready->archive_id, S_MAX_SEGMENTS);
    }
    tapefile_segment_t seg;
    int rc = tapefile_writer_end_volume(writer, &seg, err);
    if (rc != TF_OK)
        return s_drive_error(it, *drive_p, w->volume, pool, err);
    if (tw->verify) {
        tapefile_stats_t vst;
        rc = tapefile_verify_segment(*drive_p, w->file, ready->archive_id, seg.offset, seg.length, &vst, err);
        if (rc != TF_OK) {
            tf_err_prefix(err, "verify of archive %s on tape %s (drive %s, tape file %" PRIu64
                          ") failed, the archive stays staged and is written again: ",
                          ready->archive_id, w->volume, tw->drive_name, w->file);
            s_event(it, true, "error", "%s", err->message);
            it->vol.read_error = true;
            return TF_ERR_IO;
        }
    }
    memcpy(w->seg_volumes[w->nsegs], w->volume, sizeof w->seg_volumes[0]);
    w->segs[w->nsegs] = (tf_msg_segment_row_t){.volume = w->seg_volumes[w->nsegs], .tape_file = w->file,
                                               .block = w->object, .offset = seg.offset, .length = seg.length};
    w->nsegs++;
    if (!w->set_id[0])
        s_set_id(&it->vol.label, w->set_id, sizeof w->set_id);
    it->vol.hit_end = true;
    s_volume_report(it, NULL, w);
    s_event(it, false, "info", "tape %s in drive %s is full (%s) after %" PRIu64 " bytes of archive %s: "
            "it continues on the next volume of set %s", w->volume, tw->drive_name,
            seg.overflow ? "end of medium, the interrupted block is written again" : "early warning", seg.offset + seg.length,
            ready->archive_id, w->set_id);
    rc = tw->changer_url[0] ? s_next_volume(it, drive_p, pool, w->set_id, w, err)
                            : s_wait_mount(it, drive_p, pool, w->set_id, ready, w, err);
    if (rc != TF_OK) {
        /* Both close the old volume's drive handle before they look for the next one (the
           segment on it is complete): the writer must not write its abandon filemark through
           the closed handle, nor onto whatever tape is in the drive now. */
        tapefile_writer_detach(writer);
        return rc;
    }
    rc = tapefile_writer_next_volume(writer, *drive_p, w->volume, w->set_id, err);
    if (rc != TF_OK)
        return s_drive_error(it, *drive_p, w->volume, pool, err);
    return TF_OK;
}

static int
s_write_and_verify(s_item_t *it, const tf_msg_archive_ready_t *ready, s_written_t *w, tf_err_t *err)
{
    tapewriter_t *tw = it->tw;
    const char *pool = ready->pool && *ready->pool ? ready->pool : tf_config_str(tw->cfg, "backup/pool");
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
        bool next = false;
        rc = s_volume_prepare(it, drive, pool, &info, &w->file, &w->object, &next, err);
        if (rc == TF_OK && next) {
            s_set_id(&it->vol.label, w->set_id, sizeof w->set_id);
            s_event(it, false, "info", "tape %s in drive %s is %s: %s the next volume of set %s",
                    w->volume, tw->drive_name, it->vol.in_error ? "marked error (write errors)" : "full",
                    tw->changer_url[0] ? "loading" : "waiting for", w->set_id);
            rc = tw->changer_url[0] ? s_next_volume(it, &drive, pool, w->set_id, w, err)
                                    : s_wait_mount(it, &drive, pool, w->set_id, ready, w, err);
        }
    }
    if (rc == TF_OK)
        rc = s_stream(it, &drive, fetcher, ready, w, pool, err);
    fetcher_destroy(&fetcher);
    if (rc == TF_OK && w->stats.early_warning && tw->changer_url[0])
        s_event(it, false, "info", "tape %s in drive %s is nearly full (early warning): it is marked full, "
                "the next archive goes to the next volume of its set", w->volume, tw->drive_name);
    else if (rc == TF_OK && w->stats.early_warning)
        s_event(it, true, "warn", "tape %s in drive %s is nearly full (early warning): mount a new "
                "tape of pool %s soon (it is marked full: no more archives go to it until it "
                "expires)", w->volume, tw->drive_name, pool);
    if (rc == TF_OK && tw->verify) {
        tapefile_stats_t vst;
        if (w->nsegs > 0)
            rc = tapefile_verify_segment(drive, w->file, ready->archive_id, w->segs[w->nsegs - 1].offset,
                                         w->segs[w->nsegs - 1].length, &vst, err);
        else
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
    int rc = indexrows_fetch(it->tw->client, ready, &it->tw->fetch, it->tw->catalog_timeout_ms,
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

/* Restore needs another volume: the drive's changer swaps the tapes. */
static tf_drive_t *
s_restore_mount(void *arg, tf_drive_t *current, const char *volume, tf_err_t *err)
{
    s_item_t *it = arg;
    tapewriter_t *tw = it->tw;
    tf_err_t uerr = {0};
    if (current && tf_drive_unload(current, &uerr) != TF_OK
        && tf_drive_last_cond(current) != TF_DRIVE_COND_NO_MEDIUM)
        tf_log_warn("drive %s: could not eject the tape (%s): trying the robot anyway", tw->drive_name,
                    uerr.message);
    if (current == it->rdrive)
        it->rdrive = NULL;
    tf_drive_destroy(&current);
    tf_changer_t *chg = tf_changer_open(tw->changer_url, err);
    if (!chg) {
        tf_err_prefix(err, "changer %s of drive %s: ", tw->changer_url, tw->drive_name);
        return NULL;
    }
    tf_changer_inv_t *inv = NULL;
    int rc = tf_changer_unload(chg, tw->changer_drive, 0, NULL, err);
    if (rc == TF_OK)
        rc = tf_changer_inventory(chg, &inv, err);
    const tf_changer_elem_t *e = rc == TF_OK ? tf_changer_inv_by_barcode(inv, volume) : NULL;
    if (rc == TF_OK && (!e || e->type != TF_CHANGER_SLOT)) {
        char text[1500];
        snprintf(text, sizeof text, "restore of job %.128s needs volume %s in drive %s: it is not in a slot of "
                 "changer %.1000s; put it in and run the restore again", it->restore_job ? it->restore_job : "?", volume, tw->drive_name, tw->changer_url);
        s_mount_alert(it, text);
        rc = tf_err_set(err, TF_ERR_DEVICE, "%s", text);
    }
    else if (rc == TF_OK)
        rc = tf_changer_load(chg, e->number, tw->changer_drive, err);
    if (rc == TF_OK) {
        s_event(it, false, "info", "restore of job %s: loading volume %s from slot %d into drive %s",
                it->restore_job ? it->restore_job : "?", volume, e->number, tw->drive_name);
        it->rdrive = s_open_drive(it, err);
    }
    else if (err->code != TF_ERR_DEVICE || !strstr(err->message, "restore of job"))
        tf_err_prefix(err, "changing tapes in drive %s (changer %s): ", tw->drive_name, tw->changer_url);
    tf_changer_inv_destroy(&inv);
    tf_changer_destroy(&chg);
    return it->rdrive;
}

/* Restore needs another volume and the drive has no changer (tapewriter/mount_wait > 0): ejects
   the tape, raises alert.mount and waits for an operator to mount the volume. */
static tf_drive_t *
s_restore_wait(void *arg, tf_drive_t *current, const char *volume, tf_err_t *err)
{
    s_item_t *it = arg;
    tapewriter_t *tw = it->tw;
    const char *job = it->restore_job ? it->restore_job : "?";
    tf_err_t uerr = {0};
    if (current && tf_drive_unload(current, &uerr) != TF_OK
        && tf_drive_last_cond(current) != TF_DRIVE_COND_NO_MEDIUM)
        tf_log_warn("drive %s: could not eject the tape: %s", tw->drive_name, uerr.message);
    if (current == it->rdrive)
        it->rdrive = NULL;
    tf_drive_destroy(&current);
    char url[1024];
    if (tf_drive_resolve(tw->cfg, tw->drive_name, "/sys", "/dev", url, sizeof url, err) != TF_OK) {
        tf_err_prefix(err, "drive %s: ", tw->drive_name);
        return NULL;
    }
    char text[600];
    snprintf(text, sizeof text, "restore of job %.128s needs volume %.64s in drive %s (waiting up to %d s)", job,
             volume, tw->drive_name, tw->mount_wait_ms / 1000);
    s_mount_alert(it, text);
    int64_t deadline = tf_clock_mono_ms() + tw->mount_wait_ms;
    while (tf_clock_mono_ms() < deadline) {
        if (it->actor && tf_actor_interrupted(it->actor)) {
            tf_err_set(err, TF_ERR_INTERRUPTED, "restore stopped while waiting for volume %s", volume);
            return NULL;
        }
        tf_clock_sleep_ms(500);
        tf_err_t perr = {0};
        tf_drive_t *drive = tf_drive_open(url, &perr);
        if (!drive)
            continue;
        tf_label_info_t info;
        if (tf_drive_wait_ready(drive, 500, &perr) == TF_OK && tf_drive_set_variable(drive, &perr) == TF_OK
            && tf_label_read(drive, &info, &perr) == TF_OK && info.kind == TF_LABEL_TAPEFLOW
            && strcmp(info.label.label, volume) == 0) {
            it->rdrive = drive;
            return drive;
        }
        tf_drive_destroy(&drive);
    }
    tf_err_set(err, TF_ERR_DEVICE, "restore of job %s: volume %s was not mounted in drive %s within %d s "
               "(tapewriter/mount_wait): run the restore again with it at hand", job, volume, tw->drive_name,
               tw->mount_wait_ms / 1000);
    s_event(it, true, "error", "%s", err->message);
    return NULL;
}

/* A medium error while reading counts as a read error of the cartridge in the drive (its
   state stays). Best effort: the restore's own failure is what the operator sees. */
static void
s_count_read_error(s_item_t *it, tf_drive_t *drive)
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

static int
s_handle_restore(s_item_t *it, const tf_msg_tape_restore_t *req, tf_err_t *err)
{
    it->restore_job = req->job_id && *req->job_id ? req->job_id : it->work ? it->work->job_id : NULL;
    /* Delivered again: the tape writer stopped (or was restarted) in the middle of this
       restore. Running it again would meet its own half-done work as existing files; the
       operator runs it again knowingly instead. */
    if (it->work && it->work->attempt > 1) {
        tf_err_set(err, TF_ERR_INVALID, "restore of job %s into %s: the restore was interrupted (tape writer "
                   "restarted): run the restore again", req->job_id ? req->job_id : "?", req->dest ? req->dest : "?");
        return s_refuse(it, err);
    }
    it->rdrive = s_open_drive(it, err);
    if (!it->rdrive)
        return err->code;
    restore_opts_t opts = {.drive_name = it->tw->drive_name, .progress = s_restore_progress,
                           .interrupted = s_restore_interrupted, .arg = it,
                           .mount = it->tw->changer_url[0] ? s_restore_mount
                                    : it->tw->mount_wait_ms > 0 ? s_restore_wait : NULL};
    restore_stats_t st;
    int rc = restore_run(it->rdrive, req, &opts, &st, err);
    /* A medium error counts a read error of the cartridge, whether it ended the restore or only
       failed one archive of it (the rest was still read). */
    if (it->rdrive && (rc == TF_OK ? st.medium_errors > 0
                                   : tf_drive_last_cond(it->rdrive) == TF_DRIVE_COND_MEDIUM_ERROR))
        s_count_read_error(it, it->rdrive);
    tf_drive_destroy(&it->rdrive);
    if (rc != TF_OK)
        restore_stats_free(&st);
    if (rc == TF_ERR_INVALID)
        return s_refuse(it, err);
    if (rc != TF_OK)
        return rc;
    tf_log_info("%s", st.message);
    tf_msg_archive_failure_t *failures = st.nfailures ? calloc(st.nfailures, sizeof *failures) : NULL;
    if (st.nfailures && !failures) {
        restore_stats_free(&st);
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < st.nfailures; i++)
        failures[i] = (tf_msg_archive_failure_t){st.failures[i].archive_id, st.failures[i].reason};
    tf_msg_t result = {.type = TF_MSG_RESTORE_RESULT};
    result.restore_result = (tf_msg_restore_result_t){
        .files = st.files, .bytes = st.bytes, .archives_read = st.archives_read,
        .blocks_read = st.blocks_read, .warnings = st.warnings, .message = st.message,
        .refused = st.refused, .kept = st.kept, .collisions = st.collisions, .present = st.present,
        .failures = failures, .failures_count = st.nfailures};
    uint8_t *data = NULL;
    size_t size = 0;
    rc = tf_msg_encode(&result, &data, &size, err);
    free(failures);
    restore_stats_free(&st);
    if (rc != TF_OK)
        return rc;
    rc = it->actor ? tf_actor_set_result(it->actor, data, size) : TF_OK;
    free(data);
    if (rc != TF_OK)
        return tf_err_set(err, rc, "out of memory");
    return TF_OK;
}

/* --- entry ----------------------------------------------------------------------------- */

int64_t
tapewriter_backoff_ms(int64_t base_ms, int64_t max_ms, uint64_t attempt)
{
    if (base_ms <= 0)
        return 0;
    int64_t ms = base_ms;
    for (uint64_t i = 1; i < attempt && ms < INT64_MAX / 2 && (max_ms <= 0 || ms < max_ms); i++)
        ms *= 2;
    return max_ms > 0 && ms > max_ms ? max_ms : ms;
}

bool
tapewriter_backoff_wanted(bool cancelled, bool hand_off)
{
    return !cancelled && !hand_off;
}

/* The broker delivers a handed-back item again at once: without a pause a drive or cartridge
   that just failed would fail every attempt within a fraction of a second. Interruptible. */
static void
s_backoff(s_item_t *it, const char *reason)
{
    int64_t ms = tapewriter_backoff_ms(it->tw->retry_backoff_ms, it->tw->retry_backoff_max_ms,
                                       it->work->attempt);
    if (ms <= 0 || (it->tw->max_attempts > 0 && (int64_t) it->work->attempt >= it->tw->max_attempts))
        return;   /* the broker fails the item for good now: nothing to wait for */
    tf_log_warn("item %s failed on attempt %" PRIu64 " (%s): handing it back in %.1f s "
                "(tapewriter/retry_backoff, doubled per attempt)", it->work->item_id, it->work->attempt,
                reason, (double) ms / 1000.0);
    int64_t until = tf_clock_mono_ms() + ms;
    int64_t next_check = tf_clock_mono_ms() + 2000;
    while (tf_clock_mono_ms() < until && !(it->actor && tf_actor_interrupted(it->actor))) {
        /* A cancelled job needs no retry: hand the item back now (the broker drops it), so
           restores queued behind it do not wait out the pause. */
        if (tf_clock_mono_ms() >= next_check) {
            next_check = tf_clock_mono_ms() + 2000;
            if (s_item_cancelled(it)) {
                tf_log_info("item %s: job cancelled, back-off ended", it->work->item_id);
                return;
            }
        }
        tf_clock_sleep_ms(until - tf_clock_mono_ms() < 100 ? until - tf_clock_mono_ms() : 100);
    }
}

int
tapewriter_handle(tf_actor_t *actor, const tf_msg_work_t *work, void *arg, tf_err_t *err)
{
    s_item_t it = {.tw = arg, .actor = actor, .work = work};
    tf_msg_t payload;
    int rc = tf_msg_decode(work->payload.data, work->payload.size, &payload, err);
    if (rc != TF_OK)
        return tf_err_prefix(err, "item %s: ", work->item_id);
    bool archive = payload.type == TF_MSG_ARCHIVE_READY;
    if (archive)
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
    /* No pause when the retry goes elsewhere at once: a cancelled job, or a full tape when
       the next attempt takes another volume (a changer loads one, or mount_wait asks for one).
       After a write error the pause stays (docs/operations.md "Write errors", step 3): the
       drive may be what failed. */
    bool next_volume = it.tw->changer_url[0] || it.tw->mount_wait_ms > 0;
    bool hand_off = next_volume && it.vol.hit_end && !it.vol.write_error;
    if (archive && tapewriter_backoff_wanted(it.cancelled, hand_off))
        s_backoff(&it, err->message);
    if (!tf_actor_status_retryable(rc))
        return TF_ERR_DEVICE;
    return rc;
}
