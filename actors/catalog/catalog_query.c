/*  catalog_query - the catalog's read side: jobs, job, files, archives (docs/catalog.md). */
#include "catalog_priv.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "tf_volume.h"

#define S_JOB_COLUMNS                                                                        \
    "job_id, status, stage, message, detail, pool, created_ms, updated_ms, files_total, "  \
    "bytes_total, files_done, bytes_done, groups_total, archives_written, warnings, scanned, " \
    "level, level_requested, level_reason, base_job, schedule, trigger_text, trigger_ms, "  \
    "files_unchanged, files_deleted, replication"

/* Grows rows (of elem bytes each) to hold one more; NULL when memory ran out. */
void *
catalog_grow(void **rows, size_t *count, size_t *cap, size_t elem)
{
    if (*count == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        void *bigger = realloc(*rows, ncap * elem);
        if (!bigger)
            return NULL;
        *rows = bigger;
        *cap = ncap;
    }
    void *row = (char *) *rows + *count * elem;
    memset(row, 0, elem);
    (*count)++;
    return row;
}

int
catalog_collect(catalog_t *self, sqlite3_stmt *stmt, void **rows, size_t *count, size_t elem, uint64_t limit,
                bool *truncated, catalog_row_fn *read, const char *what, tf_err_t *err)
{
    size_t cap = *count;
    bool oom = false;
    int s;
    while ((s = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (*count >= limit) {
            if (truncated)
                *truncated = true;
            break;
        }
        void *row = catalog_grow(rows, count, &cap, elem);
        if (!row) {
            oom = true;
            break;
        }
        read(stmt, row, &oom);
        if (oom)
            break;
    }
    int rc = TF_OK;
    if (oom)
        rc = tf_err_set(err, TF_ERR_NOMEM, "out of memory reading %s", what);
    else if (s != SQLITE_ROW && s != SQLITE_DONE) {
        char text[128];
        snprintf(text, sizeof text, "cannot read %s", what);
        rc = catalog_db_error(self, err, text);
    }
    sqlite3_finalize(stmt);
    return rc;
}

static size_t
s_len(const char *s)
{
    return s ? strlen(s) : 0;
}

static uint64_t
s_u64(sqlite3_stmt *stmt, int col)
{
    return (uint64_t) sqlite3_column_int64(stmt, col);
}

/* Reads one row of S_JOB_COLUMNS; returns its approximate encoded size. */
static size_t
s_read_job(sqlite3_stmt *stmt, tf_msg_job_row_t *j, bool *oom)
{
    j->job_id = catalog_column_dup(stmt, 0, oom);
    j->status = catalog_column_dup(stmt, 1, oom);
    j->stage = catalog_column_dup(stmt, 2, oom);
    j->message = catalog_column_dup(stmt, 3, oom);
    j->detail = catalog_column_dup(stmt, 4, oom);
    j->pool = catalog_column_dup(stmt, 5, oom);
    j->created_ms = sqlite3_column_int64(stmt, 6);
    j->updated_ms = sqlite3_column_int64(stmt, 7);
    j->files_total = s_u64(stmt, 8);
    j->bytes_total = s_u64(stmt, 9);
    j->files_done = s_u64(stmt, 10);
    j->bytes_done = s_u64(stmt, 11);
    j->groups_total = s_u64(stmt, 12);
    j->archives_written = s_u64(stmt, 13);
    j->warnings = s_u64(stmt, 14);
    j->scanned = sqlite3_column_int(stmt, 15) != 0;
    j->level = catalog_column_dup(stmt, 16, oom);
    j->level_requested = catalog_column_dup(stmt, 17, oom);
    j->level_reason = catalog_column_dup(stmt, 18, oom);
    j->base_job = catalog_column_dup(stmt, 19, oom);
    j->schedule = catalog_column_dup(stmt, 20, oom);
    j->trigger = catalog_column_dup(stmt, 21, oom);
    j->trigger_ms = sqlite3_column_int64(stmt, 22);
    j->files_unchanged = s_u64(stmt, 23);
    j->files_deleted = s_u64(stmt, 24);
    j->replication = catalog_column_dup(stmt, 25, oom);
    return 320 + s_len(j->job_id) + s_len(j->message) + s_len(j->detail) + s_len(j->level_reason)
           + s_len(j->base_job) + s_len(j->schedule) + s_len(j->trigger);
}

static size_t
s_read_file(sqlite3_stmt *stmt, tf_msg_file_row_t *f, bool *oom)
{
    f->path = catalog_column_dup(stmt, 0, oom);
    f->type = catalog_column_dup(stmt, 1, oom);
    f->size = s_u64(stmt, 2);
    f->mtime = sqlite3_column_int64(stmt, 3);
    f->mode = s_u64(stmt, 4);
    f->uid = s_u64(stmt, 5);
    f->gid = s_u64(stmt, 6);
    f->user = catalog_column_dup(stmt, 7, oom);
    f->group = catalog_column_dup(stmt, 8, oom);
    f->checksum = catalog_column_dup(stmt, 9, oom);
    f->offset = s_u64(stmt, 10);
    f->link = catalog_column_dup(stmt, 11, oom);
    f->mtime_nsec = s_u64(stmt, 12);
    return 160 + s_len(f->path) + s_len(f->user) + s_len(f->group) + s_len(f->checksum) + s_len(f->link);
}

static size_t
s_read_archive(sqlite3_stmt *stmt, tf_msg_archive_row_t *a, bool *oom)
{
    a->archive_id = catalog_column_dup(stmt, 0, oom);
    a->job_id = catalog_column_dup(stmt, 1, oom);
    a->group_no = s_u64(stmt, 2);
    a->volume = catalog_column_dup(stmt, 3, oom);
    a->tape_file = s_u64(stmt, 4);
    a->block = s_u64(stmt, 5);
    a->blocks = s_u64(stmt, 6);
    a->size = s_u64(stmt, 7);
    a->checksum = catalog_column_dup(stmt, 8, oom);
    a->files = s_u64(stmt, 9);
    a->written = sqlite3_column_int(stmt, 10) != 0;
    a->lost_ms = sqlite3_column_int64(stmt, 11);
    a->lost = a->lost_ms != 0;
    a->host = catalog_column_dup(stmt, 12, oom);
    return 200 + s_len(a->archive_id) + s_len(a->job_id) + s_len(a->volume) + s_len(a->checksum)
           + s_len(a->host);
}

/* Columns: label, pool, full, media_type, created_ms, expires_ms, bytes_used,
   last_written_ms, write_errors, read_errors, tape_files, drive, updated_ms. */
static size_t
s_read_volume(sqlite3_stmt *stmt, tf_msg_volume_row_t *v, int64_t now, bool *oom)
{
    v->label = catalog_column_dup(stmt, 0, oom);
    v->pool = catalog_column_dup(stmt, 1, oom);
    int full = sqlite3_column_int(stmt, 2);   /* 0 appendable, 1 full, 2 error */
    v->media_type = catalog_column_dup(stmt, 3, oom);
    v->created_ms = sqlite3_column_int64(stmt, 4);
    v->expires_ms = sqlite3_column_int64(stmt, 5);
    v->bytes_used = s_u64(stmt, 6);
    v->last_written_ms = sqlite3_column_int64(stmt, 7);
    v->write_errors = s_u64(stmt, 8);
    v->read_errors = s_u64(stmt, 9);
    v->tape_files = s_u64(stmt, 10);
    v->drive = catalog_column_dup(stmt, 11, oom);
    v->updated_ms = sqlite3_column_int64(stmt, 12);
    /* The one state rule (tape/tf_volume.h): error, then expired, then full. */
    v->state = strdup(tf_volume_state_of(full == 2, full != 0, v->expires_ms, now));
    if (!v->state)
        *oom = true;
    return 200 + s_len(v->label) + s_len(v->pool) + s_len(v->media_type) + s_len(v->drive);
}

typedef enum { S_JOBS, S_FILES, S_ARCHIVES, S_VOLUMES, S_MISSING } s_kind_t;

/* Fills a spanned archive's segments, in archive order (none for one-volume archives). */
/* The paths one job backs up, in the order given (job row sources). */
static int
s_sources(catalog_t *self, tf_msg_job_row_t *row, tf_err_t *err)
{
    sqlite3_stmt *stmt = catalog_prepare(self, "SELECT path FROM job_paths WHERE job_id = ?1 ORDER BY seq", err);
    if (!stmt)
        return TF_ERR_DB;
    if (sqlite3_bind_text(stmt, 1, row->job_id, -1, SQLITE_STATIC) != SQLITE_OK) {
        sqlite3_finalize(stmt);
        return catalog_db_error(self, err, "cannot bind the sources query");
    }
    bool oom = false;
    int s;
    size_t cap = 0;
    while ((s = sqlite3_step(stmt)) == SQLITE_ROW && row->sources_count < TF_MSG_MAX_ROWS) {
        if (row->sources_count == cap) {
            size_t more = cap ? cap * 2 : 4;
            tf_msg_path_row_t *grown = realloc(row->sources, more * sizeof *grown);
            if (!grown) {
                oom = true;
                break;
            }
            row->sources = grown;
            cap = more;
        }
        tf_msg_path_row_t *p = &row->sources[row->sources_count++];
        p->path = catalog_column_dup(stmt, 0, &oom);
        if (!p->path)
            row->sources_count--;
    }
    sqlite3_finalize(stmt);
    if (oom)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory reading the job's sources");
    return s == SQLITE_ROW || s == SQLITE_DONE ? TF_OK : catalog_db_error(self, err, "cannot read the job's sources");
}

static int
s_segments(catalog_t *self, tf_msg_archive_row_t *row, tf_err_t *err)
{
    sqlite3_stmt *stmt = catalog_prepare(self,
        "SELECT volume, tape_file, block, offset, length FROM segments WHERE archive_id = ?1 "
        "ORDER BY seq", err);
    if (!stmt)
        return TF_ERR_DB;
    if (sqlite3_bind_text(stmt, 1, row->archive_id, -1, SQLITE_STATIC) != SQLITE_OK) {
        sqlite3_finalize(stmt);
        return catalog_db_error(self, err, "cannot bind the segments query");
    }
    bool oom = false;
    int s;
    size_t cap = 0;
    while ((s = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (row->segments_count == cap) {
            size_t more = cap ? cap * 2 : 4;
            tf_msg_segment_row_t *grown = realloc(row->segments, more * sizeof *grown);
            if (!grown) {
                oom = true;
                break;
            }
            row->segments = grown;
            cap = more;
        }
        tf_msg_segment_row_t *g = &row->segments[row->segments_count++];
        memset(g, 0, sizeof *g);
        g->volume = catalog_column_dup(stmt, 0, &oom);
        g->tape_file = (uint64_t) sqlite3_column_int64(stmt, 1);
        g->block = (uint64_t) sqlite3_column_int64(stmt, 2);
        g->offset = (uint64_t) sqlite3_column_int64(stmt, 3);
        g->length = (uint64_t) sqlite3_column_int64(stmt, 4);
        if (!g->volume)
            oom = true;
    }
    sqlite3_finalize(stmt);
    if (oom)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory answering a catalog query");
    if (s != SQLITE_ROW && s != SQLITE_DONE)
        return catalog_db_error(self, err, "cannot read an archive's segments");
    return TF_OK;
}

/* The archive columns s_read_archive reads. */
#define S_ARCHIVE_COLUMNS \
    "archive_id, job_id, group_no, volume, tape_file, block, blocks, size, checksum, files, written, lost, host"

int
catalog_archive_read(catalog_t *self, const char *archive_id, tf_msg_archive_row_t *row, tf_err_t *err)
{
    memset(row, 0, sizeof *row);
    sqlite3_stmt *stmt = catalog_prepare(self, "SELECT " S_ARCHIVE_COLUMNS " FROM archives WHERE archive_id = ?1", err);
    if (!stmt)
        return TF_ERR_DB;
    int rc = TF_OK;
    bool oom = false;
    if (sqlite3_bind_text(stmt, 1, archive_id, -1, SQLITE_STATIC) != SQLITE_OK)
        rc = catalog_db_error(self, err, "cannot bind the archive query");
    else {
        int s = sqlite3_step(stmt);
        if (s == SQLITE_ROW)
            s_read_archive(stmt, row, &oom);
        else if (s == SQLITE_DONE)
            rc = tf_err_set(err, TF_ERR_NOTFOUND, "no archive %s in the catalog", archive_id);
        else
            rc = catalog_db_error(self, err, "cannot read an archive");
    }
    sqlite3_finalize(stmt);
    if (rc == TF_OK && oom)
        rc = tf_err_set(err, TF_ERR_NOMEM, "out of memory answering a catalog query");
    if (rc == TF_OK)
        rc = s_segments(self, row, err);
    return rc;
}

int
catalog_archive_replica_copy(catalog_t *self, const char *target, tf_msg_archive_row_t *row, tf_err_t *err)
{
    if (row->written && row->checksum)
        return TF_OK;   /* the tape's record: the restore compares the replica's manifest with it */
    sqlite3_stmt *stmt = catalog_prepare(self,
        "SELECT size, checksum, files FROM replica_archives WHERE archive_id = ?1 AND target = ?2", err);
    if (!stmt)
        return TF_ERR_DB;
    int rc = TF_OK;
    bool oom = false;
    if ((catalog_bind_text(stmt, 1, row->archive_id) | catalog_bind_text(stmt, 2, target)) != SQLITE_OK)
        rc = catalog_db_error(self, err, "cannot bind the replica archive query");
    else {
        int s = sqlite3_step(stmt);
        if (s == SQLITE_ROW) {
            free(row->checksum);
            row->size = s_u64(stmt, 0);
            row->checksum = catalog_column_dup(stmt, 1, &oom);
            row->files = s_u64(stmt, 2);
        }
        else if (s != SQLITE_DONE)
            rc = catalog_db_error(self, err, "cannot read an archive's replica copy");
    }
    sqlite3_finalize(stmt);
    if (rc == TF_OK && oom)
        rc = tf_err_set(err, TF_ERR_NOMEM, "out of memory answering a catalog query");
    return rc;
}

/* Steps a bound statement that yields up to limit + 1 rows into the reply's array of kind. */
static int
s_collect(catalog_t *self, sqlite3_stmt *stmt, s_kind_t kind, uint64_t limit,
          tf_msg_cat_reply_t *out, tf_err_t *err)
{
    size_t cap = 0, bytes = 0;
    bool oom = false;
    int s;
    while ((s = sqlite3_step(stmt)) == SQLITE_ROW) {
        size_t *count = kind == S_JOBS ? &out->jobs_count
                        : kind == S_FILES ? &out->files_count
                        : kind == S_VOLUMES ? &out->volumes_count
                        : kind == S_MISSING ? &out->missing_count : &out->archives_count;
        if (*count >= limit || bytes >= CATALOG_REPLY_BUDGET) {
            out->truncated = true;
            break;
        }
        if (kind == S_JOBS) {
            tf_msg_job_row_t *j = catalog_grow((void **) &out->jobs, count, &cap, sizeof *j);
            oom = !j || oom;
            if (j)
                bytes += s_read_job(stmt, j, &oom);
        }
        else if (kind == S_FILES) {
            tf_msg_file_row_t *f = catalog_grow((void **) &out->files, count, &cap, sizeof *f);
            oom = !f || oom;
            if (f)
                bytes += s_read_file(stmt, f, &oom);
        }
        else if (kind == S_VOLUMES) {
            tf_msg_volume_row_t *v = catalog_grow((void **) &out->volumes, count, &cap, sizeof *v);
            oom = !v || oom;
            if (v)
                bytes += s_read_volume(stmt, v, catalog_now(self), &oom);
        }
        else if (kind == S_MISSING) {
            tf_msg_warning_row_t *w = catalog_grow((void **) &out->missing, count, &cap, sizeof *w);
            oom = !w || oom;
            if (w) {
                w->path = catalog_column_dup(stmt, 0, &oom);
                w->reason = catalog_column_dup(stmt, 1, &oom);
                w->missing = true;
                bytes += 64 + s_len(w->path) + s_len(w->reason);
            }
        }
        else {
            tf_msg_archive_row_t *a = catalog_grow((void **) &out->archives, count, &cap, sizeof *a);
            oom = !a || oom;
            if (a)
                bytes += s_read_archive(stmt, a, &oom);
        }
        if (oom)
            break;
    }
    int rc = TF_OK;
    if (oom)
        rc = tf_err_set(err, TF_ERR_NOMEM, "out of memory answering a catalog query");
    else if (s != SQLITE_ROW && s != SQLITE_DONE)
        rc = catalog_db_error(self, err, "query failed");
    sqlite3_finalize(stmt);
    return rc;
}

/* TF_OK when the job is known, TF_ERR_NOTFOUND with an operator's message when not. */
int
catalog_job_known(catalog_t *self, const char *job_id, tf_err_t *err)
{
    sqlite3_stmt *stmt = catalog_prepare(self, "SELECT 1 FROM jobs WHERE job_id = ?1", err);
    if (!stmt)
        return TF_ERR_DB;
    int rc;
    if (sqlite3_bind_text(stmt, 1, job_id, -1, SQLITE_STATIC) != SQLITE_OK)
        rc = catalog_db_error(self, err, "cannot look up the job");
    else {
        int s = sqlite3_step(stmt);
        rc = s == SQLITE_ROW ? TF_OK
             : s == SQLITE_DONE ? tf_err_set(err, TF_ERR_NOTFOUND, "no job %s in the catalog (tapeflow "
                                             "jobs lists the known jobs)", job_id)
                                : catalog_db_error(self, err, "cannot look up the job");
    }
    sqlite3_finalize(stmt);
    return rc;
}

/* Stored paths are relative: a pattern's leading '/'s and trailing '/'s are dropped. NULL
   (match everything) when nothing is left. */
char *
catalog_pattern(const char *pattern, bool *oom)
{
    if (!pattern)
        return NULL;
    while (*pattern == '/')
        pattern++;
    size_t n = strlen(pattern);
    while (n > 0 && pattern[n - 1] == '/')
        n--;
    if (n == 0)
        return NULL;
    char *copy = strndup(pattern, n);
    if (!copy)
        *oom = true;
    return copy;
}

uint64_t
catalog_limit(uint64_t asked, uint64_t fallback)
{
    uint64_t limit = asked ? asked : fallback;
    return limit > CATALOG_MAX_ROWS ? CATALOG_MAX_ROWS : limit;
}

int
catalog_query(catalog_t *self, const tf_msg_cat_query_t *q, tf_msg_t *reply, tf_err_t *err)
{
    memset(reply, 0, sizeof *reply);
    reply->type = TF_MSG_CAT_REPLY;
    tf_msg_cat_reply_t *out = &reply->cat_reply;
    const char *what = q->query;
    if (catalog_manifest_handles(what))
        return catalog_manifest_query(self, q, reply, err);
    if (catalog_sched_handles(what))
        return catalog_sched_query(self, q, reply, err);
    if (catalog_replica_handles(what))
        return catalog_replica_query(self, q, reply, err);
    bool needs_job = strcmp(what, "job") == 0 || strcmp(what, "files") == 0
                     || strcmp(what, "archives") == 0 || strcmp(what, "archive_files") == 0
                     || strcmp(what, "missing") == 0;
    if (!needs_job && strcmp(what, "jobs") != 0 && strcmp(what, "volumes") != 0)
        return tf_err_set(err, TF_ERR_INVALID, "cat_query: unknown query '%s' (expected jobs, job, "
                          "files, archive_files, archives, missing or volumes)", what);
    if (needs_job && (!q->job_id || !*q->job_id))
        return tf_err_set(err, TF_ERR_INVALID, "cat_query %s: no job_id given", what);
    if (strcmp(what, "archive_files") == 0 && (!q->pattern || !*q->pattern))
        return tf_err_set(err, TF_ERR_INVALID, "cat_query archive_files: no archive id given (in pattern)");
    if (needs_job) {
        int rc = catalog_job_known(self, q->job_id, err);
        if (rc != TF_OK)
            return rc;
    }
    bool oom = false;
    /* volumes: the pattern is a glob over labels, taken as it is. */
    char *pattern = strcmp(what, "volumes") == 0 ? (q->pattern && *q->pattern ? strdup(q->pattern) : NULL)
                                                 : catalog_pattern(q->pattern, &oom);
    if (strcmp(what, "volumes") == 0 && q->pattern && *q->pattern && !pattern)
        oom = true;
    if (oom)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory answering a catalog query");

    const char *sql;
    s_kind_t kind;
    uint64_t limit;
    if (strcmp(what, "jobs") == 0) {
        sql = "SELECT " S_JOB_COLUMNS " FROM jobs ORDER BY created_ms DESC, job_id DESC LIMIT ?3";
        kind = S_JOBS;
        limit = catalog_limit(q->limit, CATALOG_JOBS_LIMIT);
    }
    else if (strcmp(what, "volumes") == 0) {
        sql = "SELECT label, pool, full, media_type, created_ms, expires_ms, bytes_used, "
              "  last_written_ms, write_errors, read_errors, tape_files, drive, updated_ms "
              "FROM volumes WHERE (?2 IS NULL OR label GLOB ?2) ORDER BY pool, label LIMIT ?3";
        kind = S_VOLUMES;
        limit = catalog_limit(q->limit, CATALOG_MAX_ROWS);
    }
    else if (strcmp(what, "archive_files") == 0) {
        /* The rows of one archive (pattern = the archive id): the tape writer's index. */
        sql = "SELECT path, type, size, mtime, mode, uid, gid, user, grp, checksum, offset, link, mtime_nsec "
              "FROM files WHERE job_id = ?1 AND archive_id = ?2 ORDER BY path LIMIT ?3";
        kind = S_FILES;
        limit = catalog_limit(q->limit, CATALOG_MAX_ROWS);
    }
    else if (strcmp(what, "job") == 0) {
        sql = "SELECT " S_JOB_COLUMNS " FROM jobs WHERE job_id = ?1 LIMIT ?3";
        kind = S_JOBS;
        limit = 1;
    }
    else if (strcmp(what, "missing") == 0) {
        /* Entries the scan counted that no archive stored (the compressor's skips), by path.
           Their paths are absolute (as scanned); the pattern lost its leading '/'. */
        sql = "SELECT path, reason FROM entry_warnings WHERE job_id = ?1 AND missing = 1 "
              "  AND (?2 IS NULL OR path GLOB '/' || ?2 OR path GLOB '/' || ?2 || '/*') "
              "ORDER BY path LIMIT ?3";
        kind = S_MISSING;
        limit = catalog_limit(q->limit, CATALOG_MAX_ROWS);
    }
    else if (strcmp(what, "files") == 0) {
        /* A pattern matches a path, or any path below it (a folder names its contents). */
        sql = "SELECT path, type, size, mtime, mode, uid, gid, user, grp, checksum, offset, link, mtime_nsec "
              "FROM files WHERE job_id = ?1 "
              "  AND (?2 IS NULL OR path GLOB ?2 OR path GLOB ?2 || '/*') "
              "ORDER BY path LIMIT ?3";
        kind = S_FILES;
        limit = catalog_limit(q->limit, CATALOG_FILES_LIMIT);
    }
    else {
        /* Only archives with a tape position, in tape order: what a restore reads (replica:
           those verified on that target). */
        sql = "SELECT " S_ARCHIVE_COLUMNS " "
              "FROM archives a WHERE job_id = ?1 AND " CATALOG_READABLE_SQL("a", "?4")
              "  AND (?2 IS NULL OR EXISTS (SELECT 1 FROM files f WHERE f.archive_id = a.archive_id "
              "       AND (f.path GLOB ?2 OR f.path GLOB ?2 || '/*'))) "
              "ORDER BY volume, tape_file LIMIT ?3";
        kind = S_ARCHIVES;
        limit = catalog_limit(q->limit, CATALOG_MAX_ROWS);
    }
    sqlite3_stmt *stmt = catalog_prepare(self, sql, err);
    if (!stmt) {
        free(pattern);
        return TF_ERR_DB;
    }
    /* Parameters a statement does not use are ignored by sqlite3_bind_* (SQLITE_RANGE). */
    int b = sqlite3_bind_int64(stmt, 3, (sqlite3_int64) limit + 1);
    if (b == SQLITE_OK && kind != S_JOBS)
        b = sqlite3_bind_text(stmt, 2, pattern, -1, SQLITE_STATIC);
    if (b == SQLITE_OK && needs_job)
        b = sqlite3_bind_text(stmt, 1, q->job_id, -1, SQLITE_STATIC);
    if (b == SQLITE_OK && kind == S_ARCHIVES)
        b = catalog_bind_text(stmt, 4, q->replica);
    int rc;
    if (b != SQLITE_OK) {
        sqlite3_finalize(stmt);
        rc = catalog_db_error(self, err, "cannot bind the query");
    }
    else
        rc = s_collect(self, stmt, kind, limit, out, err);
    for (size_t i = 0; rc == TF_OK && kind == S_ARCHIVES && i < out->archives_count; i++)
        rc = s_segments(self, &out->archives[i], err);
    for (size_t i = 0; rc == TF_OK && kind == S_ARCHIVES && q->replica && i < out->archives_count; i++)
        rc = catalog_archive_replica_copy(self, q->replica, &out->archives[i], err);
    if (rc == TF_OK && strcmp(what, "job") == 0 && out->jobs_count == 1)
        rc = s_sources(self, &out->jobs[0], err);
    if (rc == TF_OK && strcmp(what, "job") == 0 && out->jobs_count == 1)
        rc = catalog_chain_job(self, &out->jobs[0], err);
    if (rc == TF_OK && strcmp(what, "job") == 0 && out->jobs_count == 1)
        rc = catalog_replica_job(self, &out->jobs[0], err);
    if (rc == TF_OK && kind == S_JOBS)
        rc = catalog_chain_jobs(self, out->jobs, out->jobs_count, err);
    for (size_t i = 0; rc == TF_OK && kind == S_VOLUMES && i < out->volumes_count; i++)
        rc = catalog_chain_volume(self, &out->volumes[i], err);
    free(pattern);
    if (rc != TF_OK)
        tf_msg_clear(reply);
    return rc;
}
