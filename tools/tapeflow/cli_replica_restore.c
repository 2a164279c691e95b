/*  cli_replica_restore - restore from a replication target (see cli_replica_restore.h). */
#define _GNU_SOURCE
#include "cli_replica_restore.h"

#include <archive.h>
#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_checksum.h"
#include "tf_extract.h"
#include "tf_replica.h"

/* The manifests of the plan's jobs, read once each. */
typedef struct {
    tf_replica_manifest_t *items;
    size_t count;
} s_manifests_t;

static void
s_manifests_clear(s_manifests_t *m)
{
    for (size_t i = 0; i < m->count; i++)
        tf_replica_manifest_clear(&m->items[i]);
    free(m->items);
    memset(m, 0, sizeof *m);
}

static const tf_replica_manifest_t *
s_manifest_of(const s_manifests_t *m, const char *job_id)
{
    for (size_t i = 0; i < m->count; i++)
        if (m->items[i].job_id && strcmp(m->items[i].job_id, job_id) == 0)
            return &m->items[i];
    return NULL;
}

/* Reads the manifest of every job the rows name; the first job not committed on the target
   refuses the restore. */
static int
s_manifests_read(tf_target_t *target, const char *target_name, const tf_msg_archive_row_t *rows, size_t count,
                 s_manifests_t *m, tf_err_t *err)
{
    for (size_t i = 0; i < count; i++) {
        const char *job = rows[i].job_id;
        if (!job || !*job)
            return tf_err_set(err, TF_ERR_PROTO, "the catalog's restore plan names archive %s without its job: "
                              "run the restore again", rows[i].archive_id ? rows[i].archive_id : "?");
        if (s_manifest_of(m, job))
            continue;
        tf_replica_manifest_t *more = realloc(m->items, (m->count + 1) * sizeof *more);
        if (!more)
            return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        m->items = more;
        tf_replica_manifest_t *man = &m->items[m->count];
        memset(man, 0, sizeof *man);
        tf_err_t merr = {0};
        int rc = tf_replica_manifest_read(target, job, man, &merr);
        if (rc != TF_OK) {
            tf_replica_manifest_clear(man);
            /* Only a missing manifest means the job is not there; a server that does not
               answer, or a manifest that does not parse, says so itself. */
            if (rc != TF_ERR_NOTFOUND)
                return tf_err_set(err, rc, "%s", merr.message);
            return tf_err_set(err, TF_ERR_NOTFOUND, "job %s of the chain is not on replica %s (%s): %s; "
                              "tapeflow replica list %s shows what the target holds - restore from tape "
                              "instead (without --from-replica)", job, target_name, tf_target_url(target),
                              merr.message, target_name);
        }
        m->count++;
    }
    return TF_OK;
}

/* One archive's bytes from the target, hashed as they are read. */
typedef struct {
    tf_target_file_t *file;
    tf_checksum_t *sum;
    uint64_t got;
    char *buf;
    size_t size;
    tf_err_t err;             /* why the read callback failed */
} s_source_t;

static la_ssize_t
s_read_cb(struct archive *a, void *arg, const void **buf)
{
    s_source_t *src = arg;
    size_t got = 0;
    if (tf_target_read(src->file, src->buf, src->size, &got, &src->err) != TF_OK) {
        archive_set_error(a, EIO, "%s", src->err.message);
        return -1;
    }
    tf_checksum_update(src->sum, src->buf, got);
    src->got += got;
    *buf = src->buf;
    return (la_ssize_t) got;
}

/* The bytes after the last entry (tar padding, the compressor's end frame) count too. */
static int
s_drain(s_source_t *src, tf_err_t *err)
{
    for (;;) {
        size_t got = 0;
        int rc = tf_target_read(src->file, src->buf, src->size, &got, err);
        if (rc != TF_OK || got == 0)
            return rc;
        tf_checksum_update(src->sum, src->buf, got);
        src->got += got;
    }
}

typedef struct {
    tf_target_t *target;
    const cli_replica_restore_opts_t *opts;
    tf_extract_t *ex;
    bool multi_host;
    char *buf;                /* opts->chunk bytes, shared by the archives */
} s_run_t;

/* Extracts the archive the row names from the target: TF_OK, or why it failed. */
static int
s_one_archive(s_run_t *r, const tf_msg_archive_row_t *row, const tf_replica_manifest_t *man, tf_err_t *err)
{
    const tf_msg_replica_archive_t *copy = NULL;
    for (size_t i = 0; i < man->archives_count && !copy; i++)
        if (man->archives[i].archive_id && strcmp(man->archives[i].archive_id, row->archive_id) == 0)
            copy = &man->archives[i];
    if (!copy)
        return tf_err_set(err, TF_ERR_NOTFOUND, "not in the manifest of job %s on replica %s (it lists %zu "
                          "archives): the replica is incomplete; restore this archive from tape",
                          row->job_id, r->opts->target_name, man->archives_count);
    char dir[TF_MSG_MAX_PATH + 1], path[TF_MSG_MAX_PATH + 1];
    tf_replica_job_dir(row->job_id, dir, sizeof dir);
    tf_replica_data_path(dir, row->archive_id, path, sizeof path);
    /* The catalog's record (when it has one) and the manifest must describe the same bytes:
       else the replica holds another archive than the one the plan is about. */
    if (row->checksum && *row->checksum
        && (row->size != copy->size || !copy->checksum || strcmp(row->checksum, copy->checksum) != 0))
        return tf_err_set(err, TF_ERR_INVALID, "the manifest of job %s on replica %s says %s is %" PRIu64 " bytes "
                          "with checksum %s, the catalog says %" PRIu64 " bytes with checksum %s: the replica does "
                          "not hold the archive the catalog knows (nothing was read from it); run tapeflow replica "
                          "verify %s %s, and restore this archive from tape", row->job_id, r->opts->target_name,
                          path, copy->size, copy->checksum ? copy->checksum : "(none)", row->size, row->checksum,
                          r->opts->target_name, row->job_id);
    s_source_t src = {.buf = r->buf, .size = r->opts->chunk};
    int rc = tf_target_open_read(r->target, path, &src.file, err);
    if (rc != TF_OK)
        return rc;
    tf_extract_take_t *take = NULL;
    struct archive *in = NULL;
    src.sum = tf_checksum_new();
    if (!src.sum)
        rc = tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    if (rc == TF_OK)
        rc = tf_extract_take_new(row, &take, err);
    if (rc == TF_OK && !(in = archive_read_new()))
        rc = tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    if (rc == TF_OK) {
        archive_read_support_filter_all(in);
        archive_read_support_format_tar(in);
        if (archive_read_open(in, &src, NULL, s_read_cb, NULL) != ARCHIVE_OK)
            rc = tf_err_set(err, TF_ERR_IO, "cannot open %s: %s", path,
                            src.err.message[0] ? src.err.message : archive_error_string(in));
    }
    if (rc == TF_OK) {
        const char *prefix = r->multi_host && row->host ? row->host : NULL;
        rc = tf_extract_archive_take(r->ex, in, prefix, take, err);
        if (rc == TF_ERR_IO && src.err.code != TF_OK)
            rc = tf_err_set(err, TF_ERR_IO, "%s", src.err.message);   /* the target's reason, not libarchive's */
    }
    if (rc == TF_OK)
        rc = s_drain(&src, err);
    if (rc == TF_OK) {
        char sum[TF_CHECKSUM_STRLEN];
        tf_checksum_format(src.sum, sum);
        if (src.got != copy->size || !copy->checksum || strcmp(sum, copy->checksum) != 0)
            rc = tf_err_set(err, TF_ERR_IO, "%s on replica %s is %" PRIu64 " bytes with checksum %s, its manifest "
                            "says %" PRIu64 " bytes with checksum %s: the copy is damaged (the files restored "
                            "from it may be too); run tapeflow replica verify %s %s, and restore from tape",
                            path, r->opts->target_name, src.got, sum, copy->size,
                            copy->checksum ? copy->checksum : "(none)", r->opts->target_name, row->job_id);
    }
    if (in)
        archive_read_free(in);
    tf_extract_take_destroy(&take);
    tf_checksum_destroy(&src.sum);
    tf_err_t cerr = {0};
    if (tf_target_close(&src.file, &cerr) != TF_OK && rc == TF_OK)
        rc = tf_err_set(err, cerr.code, "%s", cerr.message);
    return rc;
}

/* Adds a failed archive to the result (heap copies, freed by tf_msg_clear). */
static int
s_add_failure(tf_msg_restore_result_t *res, const char *archive_id, const char *reason, tf_err_t *err)
{
    tf_msg_archive_failure_t *more = realloc(res->failures, (res->failures_count + 1) * sizeof *more);
    if (!more)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    res->failures = more;
    tf_msg_archive_failure_t *f = &more[res->failures_count];
    f->archive_id = strdup(archive_id);
    f->reason = strdup(reason);
    if (!f->archive_id || !f->reason) {
        free(f->archive_id);
        free(f->reason);
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    }
    res->failures_count++;
    return TF_OK;
}

static bool
s_interrupted(void *arg)
{
    (void) arg;
    return zsys_interrupted != 0;
}

/* The counts of the extraction and a message like the tape writer's summary. */
static int
s_result_fill(s_run_t *r, tf_msg_restore_result_t *res, tf_err_t *err)
{
    const tf_extract_counts_t *c = tf_extract_counts(r->ex);
    res->files = c->files;
    res->bytes = c->bytes;
    res->warnings = c->warnings;
    res->refused = c->refused;
    res->kept = c->kept;
    res->collisions = c->collisions;
    res->present = c->present;
    char warnings[800], message[1200];
    tf_extract_warning_text(r->ex, warnings, sizeof warnings);
    snprintf(message, sizeof message, "restored %" PRIu64 " files (%" PRIu64 " bytes) from %" PRIu64
             " archives of replica %s into %s%s%s", res->files, res->bytes, res->archives_read,
             r->opts->target_name, r->opts->dest, res->warnings ? "; warnings: " : "", warnings);
    res->message = strdup(message);
    return res->message ? TF_OK : tf_err_set(err, TF_ERR_NOMEM, "out of memory");
}

int
cli_replica_restore_run(tf_target_t *target, const tf_msg_archive_row_t *rows, size_t count,
                        const cli_replica_restore_opts_t *opts, tf_msg_t *result, tf_err_t *err)
{
    memset(result, 0, sizeof *result);
    s_manifests_t m = {0};
    int rc = s_manifests_read(target, opts->target_name, rows, count, &m, err);
    if (rc != TF_OK) {
        s_manifests_clear(&m);
        return rc;
    }
    s_run_t r = {.target = target, .opts = opts, .multi_host = tf_extract_multi_host(rows, count)};
    r.buf = malloc(opts->chunk ? opts->chunk : 1);
    if (!r.buf || !opts->chunk) {
        free(r.buf);
        s_manifests_clear(&m);
        return tf_err_set(err, r.buf ? TF_ERR_INVALID : TF_ERR_NOMEM, r.buf ? "restore from replica: no chunk size"
                                                                          : "out of memory");
    }
    tf_extract_opts_t eo = {.dest = opts->dest, .patterns = opts->patterns, .patterns_count = opts->patterns_count,
                            .overwrite = opts->overwrite, .strip_components = opts->strip_components,
                            .flat = opts->flat, .interrupted = s_interrupted};
    r.ex = tf_extract_new(&eo, err);
    if (!r.ex) {
        free(r.buf);
        s_manifests_clear(&m);
        return err->code;
    }
    result->type = TF_MSG_RESTORE_RESULT;
    tf_msg_restore_result_t *res = &result->restore_result;
    for (size_t i = 0; rc == TF_OK && i < count; i++) {
        tf_err_t aerr = {0};
        if (opts->progress)
            opts->progress(opts->progress_arg, i, count, &rows[i]);
        int arc = s_one_archive(&r, &rows[i], s_manifest_of(&m, rows[i].job_id), &aerr);
        if (arc == TF_OK)
            res->archives_read++;
        else if (arc == TF_ERR_INTERRUPTED || arc == TF_ERR_NOMEM)
            rc = tf_err_set(err, arc, "%s", aerr.message);   /* only these end the restore */
        else
            rc = s_add_failure(res, rows[i].archive_id, aerr.message[0] ? aerr.message : "failed", err);
    }
    tf_extract_finish(r.ex, rc == TF_OK && res->failures_count == 0);
    if (rc == TF_OK)
        rc = s_result_fill(&r, res, err);
    tf_extract_destroy(&r.ex);
    free(r.buf);
    s_manifests_clear(&m);
    if (rc != TF_OK)
        tf_msg_clear(result);
    return rc;
}
