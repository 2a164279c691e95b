/*  tapescan - rebuild the catalog rows of one tape from the tape alone (see tapescan.h). */
#include "tapescan.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tapefile.h"
#include "tf_checksum.h"
#include "tf_label.h"
#include "tf_log.h"

/* Rows per cat_files item made from tar headers (as the compressor cuts them). */
#define S_PART_ROWS 50000
/* Never walk more tape files than this (a drive that never reports end of data). */
#define S_MAX_FILES 1000000

/* The rows of one archive, as cat_files messages (parts 1..n), owned. */
typedef struct {
    tf_msg_t *parts;
    size_t count;
    size_t cap;
    uint64_t rows;
} s_rows_t;

/* What one job's archives on this tape say about it. */
typedef struct {
    bool created;              /* cat_job create submitted */
    bool header_totals;        /* some header had the scan's totals */
    uint64_t files, bytes, groups, warnings;   /* from such a header */
    uint64_t sum_files, sum_bytes, max_group;  /* over the archives on this tape */
    uint8_t *groups_seen;      /* bitmap over 1..max_group */
    size_t groups_cap;
} s_job_acc_t;

typedef struct {
    tf_drive_t *drive;
    const tapescan_opts_t *opts;
    tapescan_result_t *res;
    s_job_acc_t *acc;          /* parallel to res->jobs */
    size_t acc_cap;
} s_scan_t;

const char *
tapescan_source_name(tapescan_source_t source)
{
    switch (source) {
    case TAPESCAN_INDEX: return "index";
    case TAPESCAN_HEADERS: return "headers";
    case TAPESCAN_SEGMENT: return "segment";
    case TAPESCAN_INCOMPLETE: return "incomplete";
    case TAPESCAN_FOREIGN: return "foreign";
    default: return "failed";
    }
}

void
tapescan_result_clear(tapescan_result_t *res)
{
    if (!res)
        return;
    free(res->archives);
    free(res->jobs);
    memset(res, 0, sizeof *res);
}

static void
s_rows_clear(s_rows_t *rows)
{
    for (size_t i = 0; i < rows->count; i++)
        tf_msg_clear(&rows->parts[i]);
    free(rows->parts);
    memset(rows, 0, sizeof *rows);
}

/* Takes over msg (a cat_files) as the next part. */
static int
s_rows_take(s_rows_t *rows, tf_msg_t *msg, tf_err_t *err)
{
    if (rows->count == rows->cap) {
        size_t cap = rows->cap ? rows->cap * 2 : 8;
        tf_msg_t *bigger = realloc(rows->parts, cap * sizeof *bigger);
        if (!bigger) {
            tf_msg_clear(msg);
            return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        }
        rows->parts = bigger;
        rows->cap = cap;
    }
    rows->rows += msg->cat_files.files_count;
    rows->parts[rows->count++] = *msg;
    memset(msg, 0, sizeof *msg);
    return TF_OK;
}

/* --- the slow path: rows from the archive's tar headers ------------------------------------ */

typedef struct {
    tapefile_reader_t *reader;
    tf_err_t err;
} s_source_t;

static la_ssize_t
s_read_cb(struct archive *a, void *arg, const void **buf)
{
    s_source_t *src = arg;
    size_t len = 0;
    if (tapefile_reader_read(src->reader, buf, &len, &src->err) != TF_OK) {
        archive_set_error(a, EIO, "%s", src->err.message);
        return -1;
    }
    return (la_ssize_t) len;
}

static char *
s_dup(const char *s, size_t max, bool *oom)
{
    if (!s || strlen(s) > max)
        return NULL;
    char *copy = strdup(s);
    if (!copy)
        *oom = true;
    return copy;
}

/* The checksum of a regular file's content as the compressor makes it: every byte of size,
   holes as zeros. */
static int
s_content_checksum(struct archive *in, uint64_t size, tf_checksum_t *sum, char out[TF_CHECKSUM_STRLEN],
                   tf_err_t *err)
{
    tf_checksum_reset(sum);
    uint64_t pos = 0;
    for (;;) {
        const void *buf;
        size_t n;
        la_int64_t offset;
        int ar = archive_read_data_block(in, &buf, &n, &offset);
        if (ar == ARCHIVE_EOF)
            break;
        if (ar < ARCHIVE_WARN)
            return tf_err_set(err, TF_ERR_IO, "%s", archive_error_string(in));
        if (offset < 0 || (uint64_t) offset < pos)
            return tf_err_set(err, TF_ERR_IO, "data blocks out of order");
        if ((uint64_t) offset > pos)
            tf_checksum_update_zeros(sum, (uint64_t) offset - pos);
        tf_checksum_update(sum, buf, n);
        pos = (uint64_t) offset + n;
    }
    if (pos < size)
        tf_checksum_update_zeros(sum, size - pos);
    tf_checksum_format(sum, out);
    return TF_OK;
}

/* One file row from a tar header (fields as archiver.c records them). */
static int
s_entry_row(struct archive *in, struct archive_entry *e, tf_checksum_t *sum, tf_msg_file_row_t *row,
            tf_err_t *err)
{
    memset(row, 0, sizeof *row);
    bool oom = false;
    const char *path = archive_entry_pathname(e);
    const char *hardlink = archive_entry_hardlink(e);
    const char *type = hardlink ? "hardlink" : NULL;
    if (!type) {
        switch (archive_entry_filetype(e)) {
        case AE_IFREG: type = "file"; break;
        case AE_IFDIR: type = "dir"; break;
        case AE_IFLNK: type = "symlink"; break;
        default: type = "other"; break;
        }
    }
    /* The pax writer adds '/' to folders' names; the catalog stores them without. */
    row->path = s_dup(path ? path : "", TF_MSG_MAX_PATH, &oom);
    if (row->path) {
        size_t n = strlen(row->path);
        while (n > 1 && row->path[n - 1] == '/')
            row->path[--n] = '\0';
    }
    row->type = s_dup(type, TF_MSG_MAX_ID, &oom);
    bool regular = !hardlink && archive_entry_filetype(e) == AE_IFREG;
    row->size = regular ? (uint64_t) archive_entry_size(e) : 0;
    row->mtime = (int64_t) archive_entry_mtime(e);
    row->mtime_nsec = (uint64_t) archive_entry_mtime_nsec(e);
    row->mode = (uint64_t) (archive_entry_mode(e) & 07777);
    row->uid = (uint64_t) archive_entry_uid(e);
    row->gid = (uint64_t) archive_entry_gid(e);
    row->user = s_dup(archive_entry_uname(e), TF_MSG_MAX_ID, &oom);
    row->group = s_dup(archive_entry_gname(e), TF_MSG_MAX_ID, &oom);
    row->offset = (uint64_t) archive_read_header_position(in);
    row->link = s_dup(hardlink ? hardlink : archive_entry_symlink(e), TF_MSG_MAX_PATH, &oom);
    if (oom || !row->path || !row->type)
        return tf_err_set(err, oom ? TF_ERR_NOMEM : TF_ERR_INVALID, "%s",
                          oom ? "out of memory" : "an entry has no usable path");
    if (regular) {
        char digest[TF_CHECKSUM_STRLEN];
        int rc = s_content_checksum(in, row->size, sum, digest, err);
        if (rc != TF_OK)
            return tf_err_prefix(err, "%s: ", row->path);
        row->checksum = s_dup(digest, TF_MSG_MAX_ID, &oom);
        if (oom)
            return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    }
    return TF_OK;
}

/* Appends row to the last part (a new part every S_PART_ROWS rows); takes over its strings. */
static int
s_rows_add(s_rows_t *rows, const tapefile_header_t *h, tf_msg_file_row_t *row, tf_err_t *err)
{
    tf_msg_t *last = rows->count ? &rows->parts[rows->count - 1] : NULL;
    if (!last || last->cat_files.files_count >= S_PART_ROWS) {
        tf_msg_t msg = {.type = TF_MSG_CAT_FILES};
        msg.cat_files.job_id = strdup(h->job_id);
        msg.cat_files.archive_id = strdup(h->archive_id);
        msg.cat_files.part = rows->count + 1;
        msg.cat_files.files = malloc(S_PART_ROWS * sizeof *msg.cat_files.files);
        if (!msg.cat_files.job_id || !msg.cat_files.archive_id || !msg.cat_files.files) {
            tf_msg_clear(&msg);
            return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        }
        int rc = s_rows_take(rows, &msg, err);
        if (rc != TF_OK)
            return rc;
        last = &rows->parts[rows->count - 1];
    }
    last->cat_files.files[last->cat_files.files_count++] = *row;
    memset(row, 0, sizeof *row);
    rows->rows++;
    return TF_OK;
}

/* Reads tape file `file` from its start through libarchive and makes the rows from its
   headers; checks the data against the trailer's checksum at the end. */
static int
s_rows_from_headers(s_scan_t *s, uint64_t file, s_rows_t *rows, uint64_t *blocks, tf_err_t *err)
{
    *blocks = 0;
    tapefile_reader_t *reader = tapefile_reader_open(s->drive, file, err);
    if (!reader)
        return err->code ? err->code : TF_ERR_IO;
    const tapefile_header_t *h = tapefile_reader_header(reader);
    s_source_t src = {.reader = reader};
    struct archive *in = archive_read_new();
    tf_checksum_t *sum = tf_checksum_new();
    int rc = TF_OK;
    if (!in || !sum)
        rc = tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    if (rc == TF_OK) {
        archive_read_support_filter_all(in);
        archive_read_support_format_tar(in);
        if (archive_read_open(in, &src, NULL, s_read_cb, NULL) != ARCHIVE_OK)
            rc = tf_err_set(err, TF_ERR_IO, "cannot open the archive: %s",
                            src.err.message[0] ? src.err.message : archive_error_string(in));
    }
    while (rc == TF_OK) {
        struct archive_entry *e = NULL;
        int ar = archive_read_next_header(in, &e);
        if (ar == ARCHIVE_EOF)
            break;
        if (ar < ARCHIVE_WARN) {
            rc = tf_err_set(err, TF_ERR_IO, "cannot read the archive: %s",
                            src.err.message[0] ? src.err.message : archive_error_string(in));
            break;
        }
        tf_msg_file_row_t row;
        rc = s_entry_row(in, e, sum, &row, err);
        if (rc == TF_OK)
            rc = s_rows_add(rows, h, &row, err);
        else if (src.err.message[0])
            *err = src.err;
        if (rc != TF_OK) {
            tf_msg_t tmp = {.type = TF_MSG_CAT_FILES};
            tmp.cat_files.files = malloc(sizeof row);
            if (tmp.cat_files.files) {
                tmp.cat_files.files[0] = row;
                tmp.cat_files.files_count = 1;
            }
            tf_msg_clear(&tmp);  /* frees what the row holds */
        }
    }
    if (in)
        archive_read_free(in);
    tf_checksum_destroy(&sum);
    tapefile_stats_t st;
    if (rc == TF_OK)
        rc = tapefile_reader_finish(reader, &st, err);
    *blocks = tapefile_reader_blocks(reader);
    tapefile_reader_destroy(&reader);
    return rc;
}

/* --- jobs ------------------------------------------------------------------------------ */

static int
s_job_index(s_scan_t *s, const char *job_id, tf_err_t *err)
{
    tapescan_result_t *res = s->res;
    for (size_t i = 0; i < res->jobs_count; i++)
        if (strcmp(res->jobs[i].job_id, job_id) == 0)
            return (int) i;
    if (res->jobs_count == s->acc_cap) {
        size_t cap = s->acc_cap ? s->acc_cap * 2 : 8;
        tapescan_job_t *jobs = realloc(res->jobs, cap * sizeof *jobs);
        if (jobs)
            res->jobs = jobs;
        s_job_acc_t *acc = jobs ? realloc(s->acc, cap * sizeof *acc) : NULL;
        if (!acc)
            return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        s->acc = acc;
        s->acc_cap = cap;
    }
    tapescan_job_t *j = &res->jobs[res->jobs_count];
    memset(j, 0, sizeof *j);
    memset(&s->acc[res->jobs_count], 0, sizeof *s->acc);
    snprintf(j->job_id, sizeof j->job_id, "%s", job_id);
    return (int) res->jobs_count++;
}

static int
s_mark_group(s_job_acc_t *a, uint64_t group, tf_err_t *err)
{
    if (group == 0 || group > 100000000)
        return TF_OK;
    size_t byte = (size_t) (group / 8);
    if (byte >= a->groups_cap) {
        size_t cap = a->groups_cap ? a->groups_cap : 64;
        while (cap <= byte)
            cap *= 2;
        uint8_t *bigger = realloc(a->groups_seen, cap);
        if (!bigger)
            return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        memset(bigger + a->groups_cap, 0, cap - a->groups_cap);
        a->groups_seen = bigger;
        a->groups_cap = cap;
    }
    a->groups_seen[byte] |= (uint8_t) (1u << (group % 8));
    return TF_OK;
}

static bool
s_group_seen(const s_job_acc_t *a, uint64_t group)
{
    size_t byte = (size_t) (group / 8);
    return byte < a->groups_cap && (a->groups_seen[byte] & (1u << (group % 8)));
}

/* --- submitting -------------------------------------------------------------------------- */

static int
s_call(s_scan_t *s, const char *job_id, const tf_msg_t *msg, const char *what, tf_err_t *err)
{
    tf_msg_t result;
    int timeout = s->opts->timeout_ms > 0 ? s->opts->timeout_ms : 30000;
    int rc = s->opts->call(s->opts->call_arg, job_id, msg, &result, timeout, err);
    if (rc != TF_OK)
        return tf_err_prefix(err, "the catalog did not record %s: ", what);
    tf_msg_clear(&result);
    return TF_OK;
}

/* seg: NULL for an archive on this volume alone; else the segment of a spanned archive this
   tape file holds (the catalog merges it with the other volumes' segments). */
static int
s_submit(s_scan_t *s, int job, const tapefile_header_t *h, uint64_t file, uint64_t object, s_rows_t *rows,
         const tapescan_archive_t *seg, tf_err_t *err)
{
    s_job_acc_t *acc = &s->acc[job];
    char what[300];
    int rc = TF_OK;
    if (!acc->created) {
        tf_msg_t msg = {.type = TF_MSG_CAT_JOB};
        msg.cat_job = (tf_msg_cat_job_t){.job_id = (char *) h->job_id, .op = "create", .pool = (char *) h->pool,
                                         .compression = (char *) h->compression, .time_ms = h->job_created_ms};
        snprintf(what, sizeof what, "job %s", h->job_id);
        rc = s_call(s, h->job_id, &msg, what, err);
        acc->created = rc == TF_OK;
    }
    for (size_t i = 0; rc == TF_OK && i < rows->count; i++) {
        snprintf(what, sizeof what, "the file rows of archive %s (part %zu)", h->archive_id, i + 1);
        rc = s_call(s, h->job_id, &rows->parts[i], what, err);
    }
    if (rc == TF_OK) {
        tf_msg_t msg = {.type = TF_MSG_CAT_WRITTEN};
        msg.cat_written = (tf_msg_cat_written_t){
            .job_id = (char *) h->job_id, .archive_id = (char *) h->archive_id, .group_no = h->group_no,
            .volume = s->res->volume, .drive = (char *) s->opts->drive_name, .tape_file = file,
            .block = object, .blocks = h->data_blocks + 2, .size = h->size, .checksum = (char *) h->checksum,
            .files = h->files, .bytes = h->bytes};
        tf_msg_segment_row_t row = {0};
        if (seg) {
            row = (tf_msg_segment_row_t){.volume = s->res->volume, .tape_file = file, .block = object,
                                         .offset = seg->offset, .length = seg->length};
            msg.cat_written.segments = &row;
            msg.cat_written.segments_count = 1;
            msg.cat_written.segment = seg->segment;
            snprintf(what, sizeof what, "segment %" PRIu64 " of archive %s", seg->segment, h->archive_id);
        } else
            snprintf(what, sizeof what, "the position of archive %s", h->archive_id);
        rc = s_call(s, h->job_id, &msg, what, err);
    }
    return rc;
}

/* After the whole tape: the job's totals (cat_job scanned) when the tape tells them, and the
   job's state as the catalog now has it. */
static int
s_finish_job(s_scan_t *s, size_t i, tf_err_t *err)
{
    tapescan_job_t *j = &s->res->jobs[i];
    s_job_acc_t *a = &s->acc[i];
    tf_msg_t msg = {.type = TF_MSG_CAT_JOB};
    msg.cat_job = (tf_msg_cat_job_t){.job_id = j->job_id, .op = "scanned"};
    if (a->header_totals) {
        msg.cat_job.files_total = a->files;
        msg.cat_job.bytes_total = a->bytes;
        msg.cat_job.groups_total = a->groups;
        msg.cat_job.warnings = a->warnings;
        j->totals = true;
    } else {
        /* Older tapes do not carry the totals: derive them when this tape holds every group
           from 1 to the highest it has. */
        uint64_t missing = 0;
        for (uint64_t g = 1; g <= a->max_group; g++)
            if (!s_group_seen(a, g))
                missing++;
        if (a->max_group > 0 && missing == 0) {
            msg.cat_job.files_total = a->sum_files;
            msg.cat_job.bytes_total = a->sum_bytes;
            msg.cat_job.groups_total = a->max_group;
            j->totals = j->derived = true;
        } else
            snprintf(j->message, sizeof j->message, "the tape does not say how many archives job %s has, "
                     "and %" PRIu64 " of groups 1..%" PRIu64 " are not on it: scan the tapes that hold "
                     "them", j->job_id, missing, a->max_group);
    }
    if (!s->opts->call)
        return TF_OK;
    char what[200];
    snprintf(what, sizeof what, "the totals of job %s", j->job_id);
    int rc = j->totals ? s_call(s, j->job_id, &msg, what, err) : TF_OK;
    if (rc != TF_OK)
        return rc;
    tf_msg_t q = {.type = TF_MSG_CAT_QUERY};
    q.cat_query = (tf_msg_cat_query_t){.query = "job", .job_id = j->job_id};
    tf_msg_t reply;
    tf_err_t qerr = {0};
    int timeout = s->opts->timeout_ms > 0 ? s->opts->timeout_ms : 30000;
    if (s->opts->call(s->opts->call_arg, j->job_id, &q, &reply, timeout, &qerr) == TF_OK) {
        if (reply.type == TF_MSG_CAT_REPLY && reply.cat_reply.jobs_count == 1) {
            const tf_msg_job_row_t *row = &reply.cat_reply.jobs[0];
            snprintf(j->status, sizeof j->status, "%s", row->status ? row->status : "");
            if (!j->message[0] && row->message)
                snprintf(j->message, sizeof j->message, "%s", row->message);
        }
        tf_msg_clear(&reply);
    }
    return TF_OK;
}

/* --- the scan ---------------------------------------------------------------------------- */

static tapescan_archive_t *
s_archive_new(s_scan_t *s, uint64_t file, size_t *cap, tf_err_t *err)
{
    tapescan_result_t *res = s->res;
    if (res->archives_count == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        tapescan_archive_t *bigger = realloc(res->archives, ncap * sizeof *bigger);
        if (!bigger) {
            tf_err_set(err, TF_ERR_NOMEM, "out of memory");
            return NULL;
        }
        res->archives = bigger;
        *cap = ncap;
    }
    tapescan_archive_t *a = &res->archives[res->archives_count++];
    memset(a, 0, sizeof *a);
    a->tape_file = file;
    return a;
}

static void
s_skip(s_scan_t *s, tapescan_archive_t *a, tapescan_source_t why, const char *message)
{
    a->source = why;
    snprintf(a->message, sizeof a->message, "%s", message);
    s->res->skipped++;
    tf_log_debug("tape %s, tape file %" PRIu64 ": %s", s->res->volume, a->tape_file, message);
}

/* Index records of the reader's tape file into rows; false (with why) when unusable. *cut
   (may be NULL): the tape file ends within its index records - the end of the medium, where
   the writer failed the archive and wrote it again on the next volume. */
static bool
s_read_index(tapefile_reader_t *reader, s_rows_t *rows, bool *cut, char *why, size_t why_size)
{
    const tapefile_trailer_t *t = tapefile_reader_trailer(reader);
    const tapefile_header_t *h = tapefile_reader_header(reader);
    if (!t->has_index) {
        snprintf(why, why_size, "no index on tape (written before tape indexes, or without the file rows)");
        return false;
    }
    for (;;) {
        tf_msg_t msg;
        tf_err_t err = {0};
        if (tapefile_reader_index_next(reader, &msg, &err) != TF_OK) {
            snprintf(why, why_size, "%s", err.message);
            if (cut && err.code == TF_ERR_IO)
                *cut = true;
            return false;
        }
        if (msg.type == TF_MSG_NONE)
            break;
        if (strcmp(msg.cat_files.job_id, h->job_id) != 0) {
            snprintf(why, why_size, "index record names job %s, the header job %s", msg.cat_files.job_id,
                     h->job_id);
            tf_msg_clear(&msg);
            return false;
        }
        if (s_rows_take(rows, &msg, &err) != TF_OK) {
            snprintf(why, why_size, "%s", err.message);
            return false;
        }
    }
    if (rows->rows != t->index_rows || rows->rows != h->files) {
        snprintf(why, why_size, "the index holds %" PRIu64 " rows; the trailer says %" PRIu64 ", the header %"
                 PRIu64 " entries", rows->rows, t->index_rows, h->files);
        return false;
    }
    return true;
}

/* A tape file holding a segment of a spanned archive (reader fresh after the header, or with
   pre: already read to its trailer): the index after the last segment; submitted as that
   segment. Takes over reader. */
static int
s_scan_segment(s_scan_t *s, tapescan_archive_t *a, tapefile_reader_t *reader, const tapefile_stats_t *pre,
               uint64_t object, tf_err_t *err)
{
    const tapefile_header_t hdr = *tapefile_reader_header(reader);
    uint64_t file = a->tape_file;
    tapefile_stats_t st;
    tf_err_t ferr = {0};
    /* Segment 2.. may end at the filemark without trailer (cut at the hard end of medium). */
    int rc = TF_OK;
    if (pre)
        st = *pre;
    else
        rc = tapefile_reader_scan_segment(reader, hdr.segment > 1, &st, &ferr);
    if (rc != TF_OK) {
        s->res->blocks_read += tapefile_reader_blocks(reader);
        s->res->blocks_total += tapefile_reader_blocks(reader);
        tapefile_reader_destroy(&reader);
        s_skip(s, a, ferr.code == TF_ERR_IO ? TAPESCAN_INCOMPLETE : TAPESCAN_FAILED, ferr.message);
        return TF_OK;
    }
    const tapefile_trailer_t *t = tapefile_reader_trailer(reader);
    a->segment = hdr.segment ? hdr.segment : 1;
    a->block = object;
    a->offset = hdr.offset;
    a->length = st.size;
    a->data_blocks = st.data_blocks;
    snprintf(a->checksum, sizeof a->checksum, "%s", st.checksum);
    a->last = t && !t->continued && hdr.offset + st.size == hdr.size;
    s_rows_t rows = {0};
    char why[512] = "";
    bool indexed = a->last && s_read_index(reader, &rows, NULL, why, sizeof why);
    a->blocks = tapefile_reader_blocks(reader);
    s->res->blocks_read += a->blocks;
    s->res->blocks_total += a->blocks;
    tapefile_reader_destroy(&reader);
    if (!*hdr.job_id) {
        s_rows_clear(&rows);
        s_skip(s, a, TAPESCAN_FAILED, "the archive header names no job");
        return TF_OK;
    }
    if (a->last && !indexed) {
        /* The tar headers of a spanned archive are spread over the volumes: no slow path. */
        s_rows_clear(&rows);
        snprintf(a->message, sizeof a->message, "segment %" PRIu64 " (last) of spanned archive, its file "
                 "rows are not usable (%.400s): the archive's position is recorded, its files are not",
                 a->segment, why);
    } else if (!a->last)
        snprintf(a->message, sizeof a->message, "segment %" PRIu64 " of spanned archive (bytes %" PRIu64
                 "..%" PRIu64 " of %" PRIu64 "%s%.64s%s): recorded; the archive is complete once every "
                 "volume of the set is scanned", a->segment, hdr.offset, hdr.offset + st.size, hdr.size,
                 hdr.set_id[0] ? ", set " : "", hdr.set_id, t ? "" : ", cut off at the end of the tape");
    a->source = indexed ? TAPESCAN_INDEX : TAPESCAN_SEGMENT;
    a->files = rows.rows;
    int job = s_job_index(s, hdr.job_id, err);
    if (job < 0) {
        s_rows_clear(&rows);
        return TF_ERR_NOMEM;
    }
    s_job_acc_t *acc = &s->acc[job];
    tapescan_job_t *j = &s->res->jobs[job];
    j->archives++;
    j->files += rows.rows;
    if (hdr.job_scanned && (!acc->header_totals || hdr.job_groups > acc->groups)) {
        acc->header_totals = true;
        acc->files = hdr.job_files;
        acc->bytes = hdr.job_bytes;
        acc->groups = hdr.job_groups;
        acc->warnings = hdr.job_warnings;
    }
    rc = TF_OK;
    if (a->last) {
        acc->sum_files += hdr.files;
        acc->sum_bytes += hdr.bytes;
        if (hdr.group_no > acc->max_group)
            acc->max_group = hdr.group_no;
        rc = s_mark_group(acc, hdr.group_no, err);
    }
    if (rc == TF_OK && s->opts->call)
        rc = s_submit(s, job, &hdr, file, object, &rows, a, err);
    s_rows_clear(&rows);
    if (rc != TF_OK)
        return rc;
    if (!t && a->segment == 1) {
        /* Data up to the filemark and no trailer: as much a write that was stopped as the
           first segment of an archive whose end-of-volume trailer did not fit. */
        char text[600];
        snprintf(text, sizeof text, "no trailer after %" PRIu64 " bytes of data: the tape file is incomplete - a "
                 "write that was stopped, or segment 1 of an archive cut off at the end of the tape (recorded "
                 "as that: the catalog joins it only if the next volume of the set goes on from there)", a->length);
        s_skip(s, a, TAPESCAN_INCOMPLETE, text);
        return TF_OK;
    }
    s->res->files += a->files;
    s->res->segments++;
    if (a->source == TAPESCAN_INDEX)
        s->res->from_index++;
    return TF_OK;
}

/* One tape file. *end: no more tape files. A failure to submit is returned; anything wrong
   with the tape file itself is recorded on its archive entry. */
static int
s_scan_file(s_scan_t *s, uint64_t file, size_t *cap, bool *end, tf_err_t *err)
{
    *end = false;
    tf_err_t ferr = {0};
    tapefile_reader_t *reader = tapefile_reader_open(s->drive, file, &ferr);
    if (!reader) {
        tf_drive_cond_t cond = tf_drive_last_cond(s->drive);
        if (ferr.code == TF_ERR_NOTFOUND && cond != TF_DRIVE_COND_FILEMARK) {
            *end = true;  /* end of data */
            return TF_OK;
        }
        s->res->blocks_read++;
        s->res->blocks_total++;
        tapescan_archive_t *a = s_archive_new(s, file, cap, err);
        if (!a)
            return TF_ERR_NOMEM;
        s_skip(s, a, ferr.code == TF_ERR_INVALID || ferr.code == TF_ERR_NOTFOUND ? TAPESCAN_FOREIGN
                                                                                : TAPESCAN_FAILED, ferr.message);
        return TF_OK;
    }
    tf_drive_pos_t pos;
    tf_drive_position(s->drive, &pos);
    uint64_t object = pos.object_known && pos.object > 0 ? pos.object - 1 : 0;
    const tapefile_header_t hdr = *tapefile_reader_header(reader);
    tapescan_archive_t *a = s_archive_new(s, file, cap, err);
    if (!a) {
        tapefile_reader_destroy(&reader);
        return TF_ERR_NOMEM;
    }
    snprintf(a->archive_id, sizeof a->archive_id, "%s", hdr.archive_id);
    snprintf(a->job_id, sizeof a->job_id, "%s", hdr.job_id);
    a->group_no = hdr.group_no;
    if (hdr.segment > 1)
        return s_scan_segment(s, a, reader, NULL, object, err);  /* a spanned archive's later segment */
    s_rows_t rows = {0};
    char why[512] = "";
    int rc = tapefile_reader_skip_data(reader, &ferr);
    uint64_t blocks = tapefile_reader_blocks(reader);
    if (rc == TF_ERR_IO) {
        /* Ends before the data the header announces: the first segment of an archive that
           continues on the next volume (end-of-volume trailer), or a writer that was stopped. */
        tapefile_reader_destroy(&reader);
        tf_err_t serr = {0};
        reader = tapefile_reader_open(s->drive, file, &serr);
        tapefile_stats_t st;
        /* The end-of-volume trailer may not have fit: data that ends at the filemark is taken
           as a segment too (the catalog joins it only when the next volume goes on from there). */
        if (reader && tapefile_reader_scan_segment(reader, true, &st, &serr) == TF_OK && st.size > 0
            && (tapefile_reader_trailer(reader) ? tapefile_reader_trailer(reader)->continued : st.size < hdr.size)) {
            s->res->blocks_read += blocks;  /* the first try's header */
            return s_scan_segment(s, a, reader, &st, object, err);
        }
        tf_log_debug("tape file %" PRIu64 " is not the first segment of a spanned archive: %s", file,
                     serr.message[0] ? serr.message : "its trailer does not say continued=1");
        tapefile_reader_destroy(&reader);
    }
    if (rc != TF_OK) {
        s->res->blocks_read += blocks;
        s->res->blocks_total += 1 + hdr.data_blocks;
        if (reader)
            tapefile_reader_destroy(&reader);
        s_skip(s, a, ferr.code == TF_ERR_IO ? TAPESCAN_INCOMPLETE : TAPESCAN_FAILED, ferr.message);
        return TF_OK;
    }
    uint64_t index_records = tapefile_reader_trailer(reader)->index_records;
    bool cut = false;
    bool indexed = s_read_index(reader, &rows, &cut, why, sizeof why);
    blocks = tapefile_reader_blocks(reader);
    tapefile_reader_destroy(&reader);
    s->res->blocks_read += blocks;
    a->blocks = hdr.data_blocks + 2 + index_records;
    s->res->blocks_total += a->blocks;
    if (cut) {
        s_rows_clear(&rows);
        char text[600];
        snprintf(text, sizeof text, "%.450s: the end of the tape cut it off after the data (the writer wrote the "
                 "archive again on the next volume)", why);
        s_skip(s, a, TAPESCAN_INCOMPLETE, text);
        return TF_OK;
    }
    if (!*hdr.job_id) {
        s_rows_clear(&rows);
        s_skip(s, a, TAPESCAN_FAILED, "the archive header names no job");
        return TF_OK;
    }
    if (indexed)
        a->source = TAPESCAN_INDEX;
    else {
        s_rows_clear(&rows);
        tf_log_debug("archive %s (tape file %" PRIu64 "): %s: reading its tar headers", hdr.archive_id, file, why);
        uint64_t read = 0;
        rc = s_rows_from_headers(s, file, &rows, &read, &ferr);
        s->res->blocks_read += read;
        if (rc != TF_OK) {
            s_rows_clear(&rows);
            s_skip(s, a, TAPESCAN_FAILED, ferr.message);
            return TF_OK;
        }
        a->source = TAPESCAN_HEADERS;
        snprintf(a->message, sizeof a->message, "%s", why);
    }
    a->files = rows.rows;
    int job = s_job_index(s, hdr.job_id, err);
    if (job < 0) {
        s_rows_clear(&rows);
        return TF_ERR_NOMEM;
    }
    s_job_acc_t *acc = &s->acc[job];
    tapescan_job_t *j = &s->res->jobs[job];
    j->archives++;
    j->files += rows.rows;
    acc->sum_files += hdr.files;
    acc->sum_bytes += hdr.bytes;
    if (hdr.group_no > acc->max_group)
        acc->max_group = hdr.group_no;
    if (hdr.job_scanned && (!acc->header_totals || hdr.job_groups > acc->groups)) {
        acc->header_totals = true;
        acc->files = hdr.job_files;
        acc->bytes = hdr.job_bytes;
        acc->groups = hdr.job_groups;
        acc->warnings = hdr.job_warnings;
    }
    rc = s_mark_group(acc, hdr.group_no, err);
    if (rc == TF_OK && s->opts->call)
        rc = s_submit(s, job, &hdr, file, object, &rows, NULL, err);
    s_rows_clear(&rows);
    if (rc != TF_OK)
        return rc;
    s->res->files += a->files;
    if (a->source == TAPESCAN_INDEX)
        s->res->from_index++;
    else
        s->res->from_headers++;
    return TF_OK;
}

int
tapescan_run(tf_drive_t *drive, const tapescan_opts_t *opts, tapescan_result_t *res, tf_err_t *err)
{
    memset(res, 0, sizeof *res);
    const char *name = opts->drive_name ? opts->drive_name : tf_drive_url(drive);
    tf_label_info_t info;
    int rc = tf_label_read(drive, &info, err);
    if (rc != TF_OK)
        return tf_err_prefix(err, "drive %s: ", name);
    if (info.kind != TF_LABEL_TAPEFLOW)
        return tf_err_set(err, TF_ERR_INVALID, "the tape in drive %s is not a tapeflow volume (%s): nothing to "
                          "scan", name, info.found);
    snprintf(res->volume, sizeof res->volume, "%s", info.label.label);
    snprintf(res->pool, sizeof res->pool, "%s", info.label.pool);
    res->blocks_read = res->blocks_total = TF_LABEL_BLOCKS;
    s_scan_t s = {.drive = drive, .opts = opts, .res = res};
    size_t cap = 0;
    for (uint64_t file = 1; rc == TF_OK && file < S_MAX_FILES; file++) {
        bool end = false;
        rc = s_scan_file(&s, file, &cap, &end, err);
        if (end)
            break;
    }
    for (size_t i = 0; rc == TF_OK && i < res->jobs_count; i++)
        rc = s_finish_job(&s, i, err);
    for (size_t i = 0; i < res->jobs_count; i++)
        free(s.acc[i].groups_seen);
    free(s.acc);
    if (rc == TF_OK)
        tf_log_debug("scanned tape %s: %zu archives (%" PRIu64 " from the index, %" PRIu64 " from tar headers, %"
                    PRIu64 " skipped), %" PRIu64 " files, read %" PRIu64 " of %" PRIu64 " blocks",
                    res->volume, res->archives_count, res->from_index, res->from_headers, res->skipped,
                    res->files, res->blocks_read, res->blocks_total);
    return rc;
}
