/*  restore - extract archives from tape with libarchive (see restore.h). */
#define _GNU_SOURCE
#include "restore.h"

#include <archive.h>
#include <archive_entry.h>
#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "tapefile.h"
#include "tf_label.h"
#include "tf_log.h"

typedef struct s_restore_s s_restore_t;

/* One archive's bytes, segment after segment (one segment unless it spans volumes). */
typedef struct {
    s_restore_t *r;
    const tf_msg_archive_row_t *row;
    size_t seg;               /* the segment being read */
    size_t nseg;
    tapefile_reader_t *reader;
    XXH3_state_t *hash;       /* of the whole archive, for spanned ones */
    tf_err_t err;             /* why the read callback failed */
} s_source_t;

struct s_restore_s {
    const tf_msg_tape_restore_t *req;
    tf_drive_t *drive;        /* the drive, on the volume named below */
    char volume[64];
    const restore_opts_t *opts;
    restore_stats_t *stats;
    tf_extract_t *ex;         /* extracting here; NULL when streaming */
    struct archive *out;      /* streaming to another host (opts->stream_write); NULL here */
    tf_err_t out_err;         /* why the stream could not be written */
    bool out_dropped;         /* the restore failed: nothing more goes to the stream */
    bool multi_host;          /* the archives come from several hosts: DEST/HOST/stored/path */
    uint64_t total;           /* bytes of all archives */
    uint64_t done;            /* archive bytes read */
    zhashx_t *bad_volumes;    /* volumes that could not be mounted: their archives fail at once */
    bool *pattern_hit;        /* streaming: per req->patterns, selected at least one entry */
};

/* Streaming: an entry whose header is in the stream but whose data could not all be read. */
static void
s_add_partial(s_restore_t *r, const char *name)
{
    restore_stats_t *st = r->stats;
    tf_msg_path_row_t *more = realloc(st->partial, (st->npartial + 1) * sizeof *more);
    if (!more)
        return;
    st->partial = more;
    more[st->npartial].path = strdup(name);
    if (more[st->npartial].path)
        st->npartial++;
}

bool
restore_multi_host(const tf_msg_tape_restore_t *req)
{
    return tf_extract_multi_host(req->archives, req->archives_count);
}

void
restore_stats_free(restore_stats_t *stats)
{
    if (stats) {
        free(stats->failures);
        stats->failures = NULL;
        stats->nfailures = 0;
        for (size_t i = 0; i < stats->npartial; i++)
            free(stats->partial[i].path);
        free(stats->partial);
        stats->partial = NULL;
        stats->npartial = 0;
    }
}


static int s_open_segment(s_source_t *src, tf_err_t *err);

/* Next slice of the archive: the next segment's once one is used up. */
static int
s_source_read(s_source_t *src, const void **buf, size_t *len, tf_err_t *err)
{
    for (;;) {
        int rc = tapefile_reader_read(src->reader, buf, len, err);
        if (rc != TF_OK)
            return rc;
        if (*len > 0) {
            XXH3_128bits_update(src->hash, *buf, *len);
            return TF_OK;
        }
        if (src->seg + 1 >= src->nseg)
            return TF_OK;
        tapefile_stats_t st;
        rc = tapefile_reader_finish(src->reader, &st, err);
        src->r->stats->blocks_read += tapefile_reader_blocks(src->reader);
        tapefile_reader_destroy(&src->reader);
        if (rc != TF_OK)
            return rc;
        src->seg++;
        rc = s_open_segment(src, err);
        if (rc != TF_OK)
            return rc;
    }
}

static la_ssize_t
s_read_cb(struct archive *a, void *arg, const void **buf)
{
    s_source_t *src = arg;
    size_t len = 0;
    int rc = s_source_read(src, buf, &len, &src->err);
    if (rc != TF_OK) {
        archive_set_error(a, EIO, "%s", src->err.message);
        return -1;
    }
    return (la_ssize_t) len;
}

/* Opens the archive's bytes (from the tape, through src) as a libarchive read handle. */
static struct archive *
s_open_in(s_source_t *source, tf_err_t *err)
{
    struct archive *in = archive_read_new();
    if (!in) {
        tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    archive_read_support_filter_all(in);
    archive_read_support_format_tar(in);
    if (archive_read_open(in, source, NULL, s_read_cb, NULL) != ARCHIVE_OK) {
        tf_err_set(err, TF_ERR_IO, "cannot open the archive: %s",
                   source->err.message[0] ? source->err.message : archive_error_string(in));
        archive_read_free(in);
        return NULL;
    }
    return in;
}

/* Stream mode: the selected entries of one archive into the restore stream, under HOST/ when
   the job's files come from several hosts. The extractor applies every rule; here only the
   patterns select. */
static int
s_stream_entries(s_restore_t *r, struct archive *in, const tf_msg_archive_row_t *row,
                 const tf_extract_take_t *take, tf_err_t *err)
{
    const tf_msg_tape_restore_t *req = r->req;
    const char *prefix = r->multi_host && row->host ? row->host : "";
    for (;;) {
        struct archive_entry *entry = NULL;
        const char *path = NULL;
        int rc = tf_extract_next(in, r->opts->interrupted, r->opts->arg, &entry, &path, err);
        if (rc != TF_OK || !entry)
            return rc;
        /* The extractor sees only what is streamed: the take list is applied here. */
        if (!tf_extract_take_has(take, path))
            continue;
        if (!tf_extract_select(req->patterns, req->patterns_count, path, r->pattern_hit))
            continue;
        char name[TF_MSG_MAX_PATH + TF_MSG_MAX_ID + 2];
        snprintf(name, sizeof name, "%s%s%s", prefix, *prefix ? "/" : "", path);
        archive_entry_set_pathname(entry, name);
        const char *link = archive_entry_hardlink(entry);
        if (link) {
            char lname[TF_MSG_MAX_PATH + TF_MSG_MAX_ID + 2];
            snprintf(lname, sizeof lname, "%s%s%s", prefix, *prefix ? "/" : "", link);
            archive_entry_set_hardlink(entry, lname);
        }
        /* Holes are written as zeros: the stream is a plain pax archive. */
        archive_entry_sparse_clear(entry);
        if (archive_write_header(r->out, entry) < ARCHIVE_WARN)
            return tf_err_set(err, TF_ERR_IO, "cannot stream %s to the stager: %s", path,
                              r->out_err.message[0] ? r->out_err.message : archive_error_string(r->out));
        int64_t at = 0;
        for (;;) {
            const void *buf;
            size_t size;
            la_int64_t offset;
            int ar = archive_read_data_block(in, &buf, &size, &offset);
            if (ar == ARCHIVE_EOF)
                break;
            if (ar < ARCHIVE_WARN) {
                /* The stream holds the entry's header: the extractor leaves it out. */
                s_add_partial(r, name);
                return tf_err_set(err, TF_ERR_IO, "cannot read %s from the archive: %s", path,
                                  archive_error_string(in));
            }
            static const char zeros[65536];
            while (at < offset) {
                size_t n = offset - at < (int64_t) sizeof zeros ? (size_t) (offset - at) : sizeof zeros;
                if (archive_write_data(r->out, zeros, n) < 0)
                    return tf_err_set(err, TF_ERR_IO, "cannot stream %s to the stager: %s", path,
                                      r->out_err.message[0] ? r->out_err.message : archive_error_string(r->out));
                at += (int64_t) n;
            }
            if (size > 0 && archive_write_data(r->out, buf, size) < 0)
                return tf_err_set(err, TF_ERR_IO, "cannot stream %s to the stager: %s", path,
                                  r->out_err.message[0] ? r->out_err.message : archive_error_string(r->out));
            at += (int64_t) size;
            r->stats->bytes += size;
        }
        if (archive_write_finish_entry(r->out) < ARCHIVE_WARN)
            return tf_err_set(err, TF_ERR_IO, "cannot stream %s to the stager: %s", path,
                              r->out_err.message[0] ? r->out_err.message : archive_error_string(r->out));
        r->stats->files++;
    }
}

/* Extracts (or streams) the matching entries of one archive from its source: those its row
   takes (a restore plan of a chain) that the patterns select. */
static int
s_extract(s_restore_t *r, s_source_t *source, tf_err_t *err)
{
    tf_extract_take_t *take = NULL;
    int rc = tf_extract_take_new(source->row, &take, err);
    if (rc != TF_OK)
        return rc;
    struct archive *in = s_open_in(source, err);
    if (!in) {
        tf_extract_take_destroy(&take);
        return err->code;
    }
    rc = r->out ? s_stream_entries(r, in, source->row, take, err)
                : tf_extract_archive_take(r->ex, in, r->multi_host ? source->row->host : NULL, take, err);
    archive_read_free(in);
    tf_extract_take_destroy(&take);
    return rc;
}

/* The label of the tape in the drive: a tapeflow volume, its name in r->volume. */
static int
s_read_volume(s_restore_t *r, const char *needed, tf_err_t *err)
{
    tf_label_info_t info;
    int rc = tf_label_read(r->drive, &info, err);
    r->stats->blocks_read += info.blocks_read;
    if (rc != TF_OK)
        return rc;
    if (info.kind != TF_LABEL_TAPEFLOW)
        return tf_err_set(err, TF_ERR_INVALID, "tape in drive %s is not a tapeflow volume (%s), restore needs volume %s",
                          r->opts->drive_name, info.found, needed ? needed : "?");
    snprintf(r->volume, sizeof r->volume, "%s", info.label.label);
    return TF_OK;
}

/* Makes sure `volume` is in the drive: asks for it (opts->mount) when another one is. */
static int
s_need_volume(s_restore_t *r, const char *volume, tf_err_t *err)
{
    if (!volume || !*volume || strcmp(volume, r->volume) == 0)
        return TF_OK;
    if (!r->opts->mount)
        return tf_err_set(err, TF_ERR_INVALID, "tape in drive %s is %s, restore needs volume %s",
                          r->opts->drive_name, r->volume, volume);
    if (zhashx_lookup(r->bad_volumes, volume))
        return tf_err_set(err, TF_ERR_DEVICE, "volume %s could not be mounted (see the first archive on it)",
                          volume);
    tf_drive_t *drive = r->opts->mount(r->opts->arg, r->drive, volume, err);
    r->drive = drive;
    r->volume[0] = '\0';
    if (!drive) {
        zhashx_insert(r->bad_volumes, volume, (void *) 1);
        return err && err->code ? err->code : TF_ERR_DEVICE;
    }
    int rc = s_read_volume(r, volume, err);
    if (rc == TF_OK && strcmp(volume, r->volume) != 0)
        rc = tf_err_set(err, TF_ERR_INVALID, "tape in drive %s is %s, restore needs volume %s",
                        r->opts->drive_name, r->volume, volume);
    return rc;
}

/* Opens the reader on segment src->seg (the row itself for a one-volume archive). */
static int
s_open_segment(s_source_t *src, tf_err_t *err)
{
    s_restore_t *r = src->r;
    const tf_msg_archive_row_t *row = src->row;
    bool spanned = row->segments_count > 0;
    const char *volume = spanned ? row->segments[src->seg].volume : row->volume;
    uint64_t file = spanned ? row->segments[src->seg].tape_file : row->tape_file;
    int rc = s_need_volume(r, volume, err);
    if (rc != TF_OK)
        return rc;
    if (spanned && r->opts->progress && src->seg > 0) {
        char text[256];
        snprintf(text, sizeof text, "reading archive %s, segment %zu of %zu (tape %s file %" PRIu64 ")",
                 row->archive_id, src->seg + 1, src->nseg, r->volume, file);
        r->opts->progress(r->opts->arg, r->done, r->total, text);
    }
    src->reader = tapefile_reader_open(r->drive, file, err);
    if (!src->reader) {
        if (err && err->code == TF_ERR_INVALID)
            return tf_err_set(err, TF_ERR_INVALID,
                              "tape file %" PRIu64 " of tape %s in drive %s is not archive %s "
                              "(not a tapeflow archive at all): the catalog and the tape disagree",
                              file, r->volume, r->opts->drive_name, row->archive_id);
        return tf_err_prefix(err, "archive %s: ", row->archive_id);
    }
    const tapefile_header_t *h = tapefile_reader_header(src->reader);
    if (strcmp(h->archive_id, row->archive_id) != 0) {
        if (h->volume[0] && strcmp(h->volume, r->volume) != 0)
            return tf_err_set(err, TF_ERR_INVALID, "tape in drive %s is %s, restore needs volume %s",
                              r->opts->drive_name, h->volume, volume ? volume : "?");
        return tf_err_set(err, TF_ERR_INVALID,
                          "tape file %" PRIu64 " of tape %s in drive %s holds archive %s, not %s: "
                          "the catalog and the tape disagree", file, r->volume,
                          r->opts->drive_name, h->archive_id, row->archive_id);
    }
    if (spanned)
        return tapefile_reader_set_segment(src->reader, row->segments[src->seg].offset,
                                           row->segments[src->seg].length, err);
    return TF_OK;
}

static int
s_one_archive(s_restore_t *r, const tf_msg_archive_row_t *row, tf_err_t *err)
{
    s_source_t src = {.r = r, .row = row, .nseg = row->segments_count ? row->segments_count : 1};
    src.hash = XXH3_createState();
    if (!src.hash)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    XXH3_128bits_reset(src.hash);
    int rc = s_open_segment(&src, err);
    if (rc == TF_OK)
        rc = s_extract(r, &src, err);
    /* The rest of the archive (tar padding after the last entry) and the trailers. */
    while (rc == TF_OK) {
        const void *buf;
        size_t len = 0;
        rc = s_source_read(&src, &buf, &len, err);
        if (len == 0)
            break;
    }
    tapefile_stats_t st;
    if (rc == TF_OK)
        rc = tapefile_reader_finish(src.reader, &st, err);
    if (rc == TF_OK && row->segments_count > 0) {
        XXH128_canonical_t canon;
        XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(src.hash));
        char sum[41] = "xxh128:";
        static const char hex[] = "0123456789abcdef";
        for (int i = 0; i < 16; i++) {
            sum[7 + 2 * i] = hex[canon.digest[i] >> 4];
            sum[8 + 2 * i] = hex[canon.digest[i] & 15];
        }
        sum[39] = '\0';
        const char *want = tapefile_reader_header(src.reader)->checksum;
        if (strcmp(sum, want) != 0)
            rc = tf_err_set(err, TF_ERR_IO, "archive %s (spanning %zu volumes): the data read back has "
                            "checksum %s, the archive has %s", row->archive_id, src.nseg, sum, want);
    }
    if (src.reader)
        r->stats->blocks_read += tapefile_reader_blocks(src.reader);
    r->done += row->size;
    tapefile_reader_destroy(&src.reader);
    XXH3_freeState(src.hash);
    if (rc == TF_OK)
        r->stats->archives_read++;
    return rc;
}

/* Without a mount callback every archive (every segment) must be on the mounted volume. */
static int
s_check_volume(s_restore_t *r, tf_err_t *err)
{
    const tf_msg_tape_restore_t *req = r->req;
    const char *first = NULL;
    for (size_t i = 0; i < req->archives_count && !first; i++)
        first = req->archives[i].segments_count ? req->archives[i].segments[0].volume : req->archives[i].volume;
    int rc = s_read_volume(r, first, err);
    if (rc == TF_ERR_INVALID && r->opts->mount) {
        /* Not a tapeflow volume (an empty drive of a library reads blank): the first volume is
           mounted like every other one. */
        r->volume[0] = '\0';
        if (err)
            memset(err, 0, sizeof *err);
        return TF_OK;
    }
    if (rc != TF_OK || r->opts->mount)
        return rc;
    for (size_t i = 0; i < req->archives_count; i++) {
        const tf_msg_archive_row_t *row = &req->archives[i];
        size_t n = row->segments_count ? row->segments_count : 1;
        for (size_t k = 0; k < n; k++) {
            const char *v = row->segments_count ? row->segments[k].volume : row->volume;
            if (v && *v && strcmp(v, r->volume) != 0)
                return tf_err_set(err, TF_ERR_INVALID, "tape in drive %s is %s, restore needs volume %s",
                                  r->opts->drive_name, r->volume, v);
        }
    }
    return TF_OK;
}

/* Records an archive that failed; false when out of memory. */
static bool
s_add_failure(s_restore_t *r, const char *archive_id, int code, const char *reason)
{
    restore_failure_t *more = realloc(r->stats->failures, (r->stats->nfailures + 1) * sizeof *more);
    if (!more)
        return false;
    r->stats->failures = more;
    restore_failure_t *f = &more[r->stats->nfailures++];
    snprintf(f->archive_id, sizeof f->archive_id, "%s", archive_id);
    snprintf(f->reason, sizeof f->reason, "%s", reason);
    f->code = code;
    tf_log_error("restore: archive %s failed: %s", archive_id, reason);
    return true;
}

static int
s_run(s_restore_t *r, tf_err_t *err)
{
    int rc = s_check_volume(r, err);
    for (size_t i = 0; rc == TF_OK && i < r->req->archives_count; i++) {
        const tf_msg_archive_row_t *row = &r->req->archives[i];
        if (r->opts->progress) {
            char text[256];
            snprintf(text, sizeof text, "reading archive %s (tape file %" PRIu64 ")", row->archive_id,
                     row->tape_file);
            r->opts->progress(r->opts->arg, r->done, r->total, text);
        }
        tf_err_t aerr = {0};
        int arc = s_one_archive(r, row, &aerr);
        if (arc == TF_OK)
            continue;
        /* The stream itself failed (the stager refused it, or went away): no later archive can
           reach the other host, and the stager's reason is the restore's. */
        if (r->out && r->out_err.code != TF_OK) {
            if (err)
                *err = r->out_err;
            rc = r->out_err.code;
            break;
        }
        /* Only a stop or no memory ends the restore: any other trouble is this archive's, and
           the ones after it are still read. */
        if (arc == TF_ERR_INTERRUPTED || arc == TF_ERR_NOMEM) {
            if (err)
                *err = aerr;
            rc = arc;
        }
        else if (!s_add_failure(r, row->archive_id, arc, aerr.message[0] ? aerr.message : "failed"))
            rc = tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        else if (r->drive && tf_drive_last_cond(r->drive) == TF_DRIVE_COND_MEDIUM_ERROR)
            r->stats->medium_errors++;   /* the tape writer counts them on the cartridge */
    }
    return rc;
}

/* libarchive's write callback for the restore stream. */
static la_ssize_t
s_write_cb(struct archive *a, void *arg, const void *buf, size_t len)
{
    s_restore_t *r = arg;
    if (r->out_dropped)
        return -1;   /* freeing a failed stream flushes it: the stager is not to wait for that */
    if (r->opts->stream_write(r->opts->arg, buf, len, &r->out_err) != TF_OK) {
        archive_set_error(a, EIO, "%s", r->out_err.message);
        return -1;
    }
    return (la_ssize_t) len;
}

/* The restore stream: pax, zstd level 1 (fast; it crosses the network once). Full pax, as the
   archives on tape: the restricted form leaves out the sub-second part of times. */
static int
s_open_stream(s_restore_t *r, tf_err_t *err)
{
    r->out = archive_write_new();
    if (!r->out)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    if (archive_write_set_format_pax(r->out) != ARCHIVE_OK
        || archive_write_add_filter_zstd(r->out) != ARCHIVE_OK
        || archive_write_set_filter_option(r->out, "zstd", "compression-level", "1") != ARCHIVE_OK
        || archive_write_set_bytes_in_last_block(r->out, 1) != ARCHIVE_OK
        || archive_write_open(r->out, r, NULL, s_write_cb, NULL) != ARCHIVE_OK)
        return tf_err_set(err, TF_ERR_IO, "cannot start the restore stream: %s",
                          r->out_err.message[0] ? r->out_err.message : archive_error_string(r->out));
    return TF_OK;
}

int
restore_run(tf_drive_t *drive, const tf_msg_tape_restore_t *req, const restore_opts_t *opts,
            restore_stats_t *stats, tf_err_t *err)
{
    memset(stats, 0, sizeof *stats);
    s_restore_t r = {.req = req, .opts = opts, .stats = stats, .drive = drive,
                     .multi_host = restore_multi_host(req)};
    for (size_t i = 0; i < req->archives_count; i++)
        r.total += req->archives[i].size;
    int rc = TF_OK;
    if (opts->stream_write) {
        r.pattern_hit = req->patterns_count ? calloc(req->patterns_count, sizeof *r.pattern_hit) : NULL;
        if (req->patterns_count && !r.pattern_hit)
            return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        rc = s_open_stream(&r, err);
    }
    else {
        tf_extract_opts_t eo = {.dest = req->dest, .patterns = req->patterns, .patterns_count = req->patterns_count,
                                .overwrite = req->overwrite, .strip_components = req->strip_components,
                                .flat = req->flat, .interrupted = opts->interrupted, .arg = opts->arg};
        r.ex = tf_extract_new(&eo, err);
        if (!r.ex)
            return err->code;
    }
    r.bad_volumes = zhashx_new();
    if (rc == TF_OK && !r.bad_volumes)
        rc = tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    if (rc == TF_OK)
        rc = s_run(&r, err);
    if (rc == TF_OK && r.out && archive_write_close(r.out) != ARCHIVE_OK)
        rc = tf_err_set(err, TF_ERR_IO, "cannot end the restore stream: %s",
                        r.out_err.message[0] ? r.out_err.message : archive_error_string(r.out));
    char warn_text[800] = "";
    if (r.ex) {
        tf_extract_finish(r.ex, rc == TF_OK && stats->nfailures == 0);
        const tf_extract_counts_t *c = tf_extract_counts(r.ex);
        stats->files = c->files;
        stats->bytes = c->bytes;
        stats->warnings = c->warnings;
        stats->refused = c->refused;
        stats->kept = c->kept;
        stats->collisions = c->collisions;
        stats->present = c->present;
        stats->stripped = c->stripped;
        stats->unmatched = c->unmatched;
        stats->unwritable = c->unwritable;
        tf_extract_warning_text(r.ex, warn_text, sizeof warn_text);
    }
    /* Streaming: unmatched patterns are known here (the extractor sees only what was sent). */
    for (size_t i = 0; r.out && rc == TF_OK && stats->nfailures == 0 && i < req->patterns_count; i++) {
        if (r.pattern_hit[i])
            continue;
        stats->unmatched++;
        stats->warnings++;
        size_t used = strlen(warn_text);
        snprintf(warn_text + used, sizeof warn_text - used, "%s%s matched nothing: not restored", used ? "; " : "",
                 req->patterns[i].path ? req->patterns[i].path : "");
    }
    snprintf(stats->warn_text, sizeof stats->warn_text, "%s", warn_text);
    /* Nothing read and every archive refused: the request itself is wrong for this tape. */
    bool all_refused = rc == TF_OK && stats->archives_read == 0 && stats->nfailures > 0;
    for (size_t i = 0; all_refused && i < stats->nfailures; i++)
        all_refused = stats->failures[i].code == TF_ERR_INVALID;
    if (all_refused)
        rc = tf_err_set(err, TF_ERR_INVALID, "%s", stats->failures[0].reason);
    if (rc != TF_OK)
        restore_stats_free(stats);  /* a failed restore says why in err */
    tf_extract_destroy(&r.ex);
    r.out_dropped = rc != TF_OK;
    if (r.out)
        archive_write_free(r.out);
    zhashx_destroy(&r.bad_volumes);
    free(r.pattern_hit);
    restore_summary(stats, req->dest, NULL);
    return rc;
}

void
restore_summary(restore_stats_t *stats, const char *dest, const char *host)
{
    char failed[64] = "";
    if (stats->nfailures)
        snprintf(failed, sizeof failed, "; %zu archive%s failed", stats->nfailures, stats->nfailures == 1 ? "" : "s");
    char present[64] = "";
    if (stats->present)
        snprintf(present, sizeof present, "; %" PRIu64 " already present", stats->present);
    snprintf(stats->message, sizeof stats->message,
             "restored %" PRIu64 " files (%" PRIu64 " bytes) from %" PRIu64 " archives into %s%s%s%s%s%s%s",
             stats->files, stats->bytes, stats->archives_read, host ? host : "", host ? ":" : "", dest, present,
             failed, stats->warnings ? "; warnings: " : "", stats->warn_text);
}
