/*  write_item - an archive_ready item: write, verify, span, record, release (see write_item.h). */
#include "write_item.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "tf_stage_fetch.h"
#include "indexrows.h"
#include "item.h"
#include "mount.h"
#include "tapedrive.h"
#include "tapefile.h"
#include "tf_clock.h"
#include "tf_log.h"
#include "volume.h"

/* Segments one archive may have (volumes it spans). */
#define S_MAX_SEGMENTS 64

/* An archive on its way to tape: where it went, how it went, what goes in its header. */
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

/* --- catalog and stager ---------------------------------------------------------------- */

static int
s_already_written(item_t *it, const tf_msg_archive_ready_t *ready, bool *written, tf_err_t *err)
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
s_release(item_t *it, const tf_msg_archive_ready_t *ready, tf_err_t *err)
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

static int
s_record(item_t *it, const tf_msg_archive_ready_t *ready, const s_written_t *w, tf_err_t *err)
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

static int s_span(item_t *it, tf_drive_t **drive_p, tapefile_writer_t *writer,
                  const tf_msg_archive_ready_t *ready, s_written_t *w, const char *pool, tf_err_t *err);

/* Streams the archive from the stager onto tape as one tape file (one per volume when it
   spans volumes: *drive_p is then the drive opened on the last one). */
static int
s_stream(item_t *it, tf_drive_t **drive_p, tf_stage_fetch_t *fetcher, const tf_msg_archive_ready_t *ready,
         s_written_t *w, const char *pool, tf_err_t *err)
{
    tf_drive_t *drive = *drive_p;
    tapewriter_t *tw = it->tw;
    /* Start once the prefetch window is full, so the drive does not start and stop at once. */
    int rc = tf_stage_fetch_fill(fetcher, err);
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
        return tapedrive_error(it, drive, w->volume, pool, err);
    tapefile_writer_set_index(writer, w->index);
    uint64_t written = 0, reported = 0;
    for (;;) {
        if (!tf_stage_fetch_ready(fetcher))
            w->underruns++; /* a block is due and its bytes are not here */
        const void *data;
        size_t len;
        rc = tf_stage_fetch_next(fetcher, &data, &len, err);
        if (rc != TF_OK || len == 0)
            break;
        rc = tapefile_writer_write(writer, data, len, err);
        if (rc != TF_OK) {
            rc = tapedrive_error(it, *drive_p, w->volume, pool, err);
            break;
        }
        /* Without a changer early warning leaves the archive on this tape (it is marked full
           afterwards); only a refused block ends it. */
        if (tapefile_writer_volume_full(writer)
            && (mount_possible(tw) || tapefile_writer_overflow(writer))) {
            rc = s_span(it, drive_p, writer, ready, w, pool, err);
            if (rc != TF_OK)
                break;
        }
        written += len;
        if (written - reported >= (64u << 20) && it->actor) {
            tf_actor_progress(it->actor, it->work, written, ready->size, "writing to tape");
            reported = written;
        }
        if (item_interrupted(it)) {
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
            rc = tapedrive_error(it, *drive_p, w->volume, pool, err);
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

/* Ejects the full (or error) volume and gets the next volume of set w->set_id into the drive
   (mount.h); the archive goes on there: w->volume, w->file, w->object. */
static int
s_next_of_set(item_t *it, tf_drive_t **drive_p, const tf_msg_archive_ready_t *ready, s_written_t *w,
              const char *pool, tf_err_t *err)
{
    mount_want_t want = {.purpose = MOUNT_SPAN, .pool = pool, .set_id = w->set_id, .previous = it->vol.label,
                         .archive_id = ready->archive_id, .job_id = ready->job_id};
    mount_at_t at;
    int rc = mount_next(it, drive_p, &want, &at, err);
    if (rc == TF_OK) {
        snprintf(w->volume, sizeof w->volume, "%s", at.volume);
        w->file = at.file;
        w->object = at.object;
    }
    return rc;
}

/* Early warning or end of medium in the middle of an archive: ends its segment on this
   volume, marks the volume full, loads the next volume of the set and goes on there. */
static int
s_span(item_t *it, tf_drive_t **drive_p, tapefile_writer_t *writer, const tf_msg_archive_ready_t *ready,
       s_written_t *w, const char *pool, tf_err_t *err)
{
    tapewriter_t *tw = it->tw;
    if (!mount_possible(tw)) {
        /* No next volume to go to: the item fails with retry, the archive stays staged. */
        it->vol.hit_end = true;
        tf_err_set(err, TF_ERR_DEVICE, "tape %s in drive %s is full: mount a new tape of pool %s",
                   w->volume, tw->drive_name, pool);
        item_event(it, true, "error", "%s", err->message);
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
        return tapedrive_error(it, *drive_p, w->volume, pool, err);
    if (tw->verify) {
        tapefile_stats_t vst;
        rc = tapefile_verify_segment(*drive_p, w->file, ready->archive_id, seg.offset, seg.length, &vst, err);
        if (rc != TF_OK) {
            tf_err_prefix(err, "verify of archive %s on tape %s (drive %s, tape file %" PRIu64
                          ") failed, the archive stays staged and is written again: ",
                          ready->archive_id, w->volume, tw->drive_name, w->file);
            item_event(it, true, "error", "%s", err->message);
            it->vol.read_error = true;
            return TF_ERR_IO;
        }
    }
    memcpy(w->seg_volumes[w->nsegs], w->volume, sizeof w->seg_volumes[0]);
    w->segs[w->nsegs] = (tf_msg_segment_row_t){.volume = w->seg_volumes[w->nsegs], .tape_file = w->file,
                                               .block = w->object, .offset = seg.offset, .length = seg.length};
    w->nsegs++;
    if (!w->set_id[0])
        volume_set_id(&it->vol.label, w->set_id, sizeof w->set_id);
    it->vol.hit_end = true;
    volume_report(it, NULL, w->file, w->stats.early_warning);
    item_event(it, false, "info", "tape %s in drive %s is full (%s) after %" PRIu64 " bytes of archive %s: "
               "it continues on the next volume of set %s", w->volume, tw->drive_name,
               seg.overflow ? "end of medium, the interrupted block is written again" : "early warning", seg.offset + seg.length,
               ready->archive_id, w->set_id);
    rc = s_next_of_set(it, drive_p, ready, w, pool, err);
    if (rc != TF_OK) {
        /* mount_next closed the old volume's drive handle before it looked for the next one
           (the segment on it is complete): the writer must not write its abandon filemark
           through the closed handle, nor onto whatever tape is in the drive now. */
        tapefile_writer_detach(writer);
        return rc;
    }
    rc = tapefile_writer_next_volume(writer, *drive_p, w->volume, w->set_id, err);
    if (rc != TF_OK)
        return tapedrive_error(it, *drive_p, w->volume, pool, err);
    return TF_OK;
}

static int
s_write_and_verify(item_t *it, const tf_msg_archive_ready_t *ready, s_written_t *w, tf_err_t *err)
{
    tapewriter_t *tw = it->tw;
    const char *pool = ready->pool && *ready->pool ? ready->pool : tf_config_str(tw->cfg, "backup/pool");
    if (!ready->stager || !*ready->stager) {
        it->permanent = true;
        return tf_err_set(err, TF_ERR_INVALID, "archive_ready for %s names no stager to fetch from",
                          ready->archive_id);
    }
    /* Ask for the first bytes now: they arrive while the tape is positioned. */
    tf_stage_fetch_t *fetcher = tf_stage_fetch_new(ready->stager, ready->stager_key, ready->archive_id, ready->size, &tw->fetch, err);
    if (!fetcher)
        return err->code;
    bool empty = false;
    tf_drive_t *drive = tapedrive_open(it, &empty, err);
    int rc = drive ? TF_OK : err->code;
    /* An empty drive is the labeller's to fill when there is a changer; without one the item
       fails with retry (an operator puts a tape in). */
    bool ask = drive || (empty && tw->changer_url[0]);
    volume_seen_t seen;
    memset(&seen, 0, sizeof seen);
    if (ask && drive)
        volume_look(it, drive, &seen);
    else if (ask) {
        seen.empty = true;
        item_event(it, false, "info", "drive %s is empty: asking the labeller for a volume of pool %s",
                   tw->drive_name, pool);
        rc = TF_OK;
    }
    if (ask && drive && !seen.read && !tw->changer_url[0]) {
        /* Nothing to load another tape: the drive or the tape is the trouble, try again later. */
        rc = tf_err_set(err, TF_ERR_DEVICE, "drive %s: %s", tw->drive_name, seen.why);
        item_event(it, true, "error", "%s", err->message);
        ask = false;
    }
    volume_next_t next = VOLUME_NEXT_NONE;
    if (ask)
        rc = volume_prepare(it, drive, pool, &seen, &w->file, &w->object, &next, err);
    if (rc == TF_OK && next == VOLUME_NEXT_NONE)
        snprintf(w->volume, sizeof w->volume, "%s", it->vol.label.label);
    else if (rc == TF_OK && next == VOLUME_NEXT_OF_SET) {
        snprintf(w->volume, sizeof w->volume, "%s", it->vol.label.label);
        volume_set_id(&it->vol.label, w->set_id, sizeof w->set_id);
        item_event(it, false, "info", "tape %s in drive %s is %s: %s the next volume of set %s",
                   w->volume, tw->drive_name, it->vol.in_error ? "marked error (write errors)" : "full",
                   tw->changer_url[0] ? "loading" : "waiting for", w->set_id);
        rc = s_next_of_set(it, &drive, ready, w, pool, err);
    } else if (rc == TF_OK) {
        mount_want_t want = {.purpose = MOUNT_WRITE, .pool = pool, .archive_id = ready->archive_id,
                             .job_id = ready->job_id};
        mount_at_t at;
        rc = mount_next(it, &drive, &want, &at, err);
        if (rc == TF_OK) {
            snprintf(w->volume, sizeof w->volume, "%s", at.volume);
            w->file = at.file;
            w->object = at.object;
        }
    }
    if (rc == TF_OK)
        rc = s_stream(it, &drive, fetcher, ready, w, pool, err);
    tf_stage_fetch_destroy(&fetcher);
    if (rc == TF_OK && w->stats.early_warning && tw->changer_url[0])
        item_event(it, false, "info", "tape %s in drive %s is nearly full (early warning): it is marked full, "
                   "the next archive goes to the next volume of its set", w->volume, tw->drive_name);
    else if (rc == TF_OK && w->stats.early_warning)
        item_event(it, true, "warn", "tape %s in drive %s is nearly full (early warning): mount a new "
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
            item_event(it, true, "error", "%s", err->message);
            it->vol.read_error = true;
            rc = TF_ERR_IO;
        }
    }
    tf_drive_destroy(&drive);
    if (rc != TF_OK && it->vol.known && (it->vol.write_error || it->vol.read_error || it->vol.hit_end))
        volume_report(it, NULL, w->file, w->stats.early_warning);
    return rc;
}

static bool
s_index_stop(void *arg)
{
    return item_interrupted(arg);
}

/* The archive's file rows for its on-tape index. Without them the archive is still written
   (a rebuild then reads its tar headers): a warning, not a failure. */
static int
s_index(item_t *it, const tf_msg_archive_ready_t *ready, s_written_t *w, tf_err_t *err)
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
        item_event(it, false, "warn", "archive %s is written without its file index: %s; a catalog rebuild "
                   "('tapeflow tape scan') will read the archive's tar headers instead", ready->archive_id,
                   ierr.message);
    return TF_OK;
}

int
write_item_handle(item_t *it, const tf_msg_archive_ready_t *ready, tf_err_t *err)
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
    item_event(it, false, "info",
               "archive %s written%s to tape %s file %" PRIu64 ": %" PRIu64 " bytes in %" PRIu64
               " blocks, %.1f MB/s, underruns %" PRIu64,
               ready->archive_id, it->tw->verify ? " and verified" : "", w.volume, w.file, ready->size,
               w.stats.blocks, mbs, w.underruns);
    rc = s_record(it, ready, &w, err);
    if (rc != TF_OK)
        return rc;
    volume_report(it, ready, w.file, w.stats.early_warning);
    return s_release(it, ready, err);
}

