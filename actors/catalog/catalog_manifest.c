/*  catalog_manifest - manifests, levels and restore plans of chains (issue 11, docs/catalog.md
    "Manifests and levels").

    The level decision (catalog_level_decide) picks a job's base when its create arrives; the
    scanner then reports what it walks (cat_manifest begin / diff / end) and the catalog
    compares each entry with the base's manifest row of the same host and path, answering which
    entries must be stored. A job's manifest row says which job's archive holds the entry's
    content (data_job), so a restore of any job of a chain reads each path from one archive
    without walking the chain. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog_priv.h"
#include "tf_calendar.h"
#include "tf_schedule.h"
#include "tf_log.h"

/* Rows in one diff batch (the scanner sends at most this many). */
#define S_DIFF_MAX_ROWS 2000

/* Jobs a level decision may chain on, besides the job itself (?1): the same sources (?3,
   sources_key) and, for a scheduled job (?2), the same schedule. */
#define S_SAME_SOURCES_SQL "j.job_id != ?1 AND j.sources_key IS ?3 AND (?2 IS NULL OR j.schedule IS ?2)"

/* A job whose manifest can be a base: completed, its chain whole (nothing it or a job it
   depends on stored is gone: an incremental would carry references to it), and a complete
   manifest (op end arrived) for every host its paths name. */
#define S_CANDIDATE_SQL                                                                        \
    S_SAME_SOURCES_SQL " AND j.status IN ('completed', 'completed_with_warnings') "              \
    "AND NOT " CATALOG_CHAIN_BROKEN_SQL("j.job_id") " "                                          \
    "AND (SELECT count(*) FROM manifest_scans ms WHERE ms.job_id = j.job_id) "                   \
    "    >= MAX(1, (SELECT count(DISTINCT " CATALOG_PATH_HOST_SQL ") FROM job_paths p "          \
    "               WHERE p.job_id = j.job_id))"

#define S_STORED_SQL(col) CATALOG_STORED_SQL(col)

/* A row carried from the base: "unchanged", or "unchanged: not readable now (why)". */
#define S_UNCHANGED_SQL "(reason = 'unchanged' OR reason LIKE 'unchanged: %')"

/* The job's level and base (level NULL: a job from before levels, a full). */
typedef struct {
    char level[16];
    char base_job[TF_MSG_MAX_ID + 1];
    char reason[TF_MSG_MAX_TEXT];
    bool has_base;
} s_level_t;

static const char *
s_host(const char *host)
{
    return host && *host ? host : "";
}

/* The first column of the first row of sql (parameters ?1 .. ?3 = a1 .. a3, as many as it
   has) into buf ("" for NULL); *found says whether there was a row. */
static int
s_lookup_text(catalog_t *self, const char *sql, const char *a1, const char *a2, const char *a3,
              char *buf, size_t size, bool *found, tf_err_t *err)
{
    *found = false;
    buf[0] = '\0';
    sqlite3_stmt *stmt = catalog_prepare(self, sql, err);
    if (!stmt)
        return TF_ERR_DB;
    int params = sqlite3_bind_parameter_count(stmt);
    if ((catalog_bind_text(stmt, 1, a1) | (params >= 2 ? catalog_bind_text(stmt, 2, a2) : SQLITE_OK)
         | (params >= 3 ? catalog_bind_text(stmt, 3, a3) : SQLITE_OK)) != SQLITE_OK) {
        sqlite3_finalize(stmt);
        return catalog_db_error(self, err, "cannot bind a lookup");
    }
    int s = sqlite3_step(stmt);
    if (s == SQLITE_ROW) {
        *found = true;
        const char *text = (const char *) sqlite3_column_text(stmt, 0);
        snprintf(buf, size, "%s", text ? text : "");
    }
    sqlite3_finalize(stmt);
    return s == SQLITE_ROW || s == SQLITE_DONE ? TF_OK : catalog_db_error(self, err, "lookup failed");
}

/* Reads the job's level and base; TF_ERR_BUSY (retryable) when the job is not in the catalog
   yet, TF_ERR_INVALID when it is finished. */
static int
s_job_level(catalog_t *self, const char *job_id, s_level_t *out, tf_err_t *err)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *stmt = catalog_prepare(self,
        "SELECT COALESCE(level, 'full'), base_job, level_reason, status FROM jobs WHERE job_id = ?1", err);
    if (!stmt)
        return TF_ERR_DB;
    if (catalog_bind_text(stmt, 1, job_id) != SQLITE_OK) {
        sqlite3_finalize(stmt);
        return catalog_db_error(self, err, "cannot bind the job's level query");
    }
    int s = sqlite3_step(stmt);
    int rc = TF_OK;
    if (s == SQLITE_ROW) {
        const char *level = (const char *) sqlite3_column_text(stmt, 0);
        const char *base = (const char *) sqlite3_column_text(stmt, 1);
        const char *reason = (const char *) sqlite3_column_text(stmt, 2);
        snprintf(out->level, sizeof out->level, "%s", level ? level : "full");
        snprintf(out->base_job, sizeof out->base_job, "%s", base ? base : "");
        snprintf(out->reason, sizeof out->reason, "%s", reason ? reason : "");
        /* A full compares with nothing; a level without a base cannot compare either. */
        out->has_base = base && *base && strcmp(out->level, "full") != 0;
        const char *status = (const char *) sqlite3_column_text(stmt, 3);
        /* A finished job's manifest may be another job's base already: a late or stray scan
           must not change it. */
        if (status && (strcmp(status, "completed") == 0 || strcmp(status, "completed_with_warnings") == 0
                       || strcmp(status, "expired") == 0))
            rc = tf_err_set(err, TF_ERR_INVALID, "job %s is finished; its manifest is not changed", job_id);
    }
    else if (s == SQLITE_DONE)
        /* The create may be queued behind this scan (a requeued item, a busy catalog): the
           broker hands the item back and it is tried again. */
        rc = tf_err_set(err, TF_ERR_BUSY, "cat_manifest: no job %s in the catalog yet (its create has not "
                        "been applied; trying again)", job_id);
    else
        rc = catalog_db_error(self, err, "cannot read the job's level");
    sqlite3_finalize(stmt);
    return rc;
}

/* ------------------------------------------------------------------ level decision ----- */

static int
s_strcmp_p(const void *a, const void *b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* The job's paths sorted and joined with "\n" (heap; NULL with *oom when memory ran out, NULL
   without when there are none). */
static char *
s_sources_key(const tf_msg_cat_job_t *create, bool *oom)
{
    if (create->paths_count == 0)
        return NULL;
    const char **sorted = malloc(create->paths_count * sizeof *sorted);
    if (!sorted) {
        *oom = true;
        return NULL;
    }
    size_t total = 1;
    for (size_t i = 0; i < create->paths_count; i++) {
        sorted[i] = create->paths[i].path ? create->paths[i].path : "";
        total += strlen(sorted[i]) + 1;
    }
    qsort(sorted, create->paths_count, sizeof *sorted, s_strcmp_p);
    char *key = malloc(total);
    if (key) {
        size_t used = 0;
        for (size_t i = 0; i < create->paths_count; i++) {
            size_t n = strlen(sorted[i]);
            if (i > 0)
                key[used++] = '\n';
            memcpy(key + used, sorted[i], n);
            used += n;
        }
        key[used] = '\0';
    }
    else
        *oom = true;
    free(sorted);
    return key;
}

/* Why a job asked for a differential or incremental runs as a full (none of its sources' fulls
   can be a base). */
static int
s_upgrade_reason(catalog_t *self, const char *job_id, const char *schedule, const char *key, char *buf,
                 size_t size, tf_err_t *err)
{
    char found_job[TF_MSG_MAX_ID + 1];
    bool found = false;
    /* The newest full of these sources that ended: gone with its tape, or expired. */
    int rc = s_lookup_text(self,
        "SELECT j.job_id || CASE WHEN j.status = 'expired' OR EXISTS (SELECT 1 FROM archives a "
        "  WHERE a.job_id = j.job_id AND " CATALOG_ARCHIVE_GONE_SQL("a") ") THEN ' x' ELSE '' END "
        "FROM jobs j WHERE " S_SAME_SOURCES_SQL " AND j.level = 'full' "
        "  AND j.status IN ('completed', 'completed_with_warnings', 'expired') "
        "ORDER BY j.created_ms DESC, j.job_id DESC LIMIT 1",
        job_id, schedule, key, found_job, sizeof found_job, &found, err);
    if (rc != TF_OK)
        return rc;
    size_t n = strlen(found_job);
    if (found && n > 2 && strcmp(found_job + n - 2, " x") == 0) {
        found_job[n - 2] = '\0';
        /* The newest job of these sources that restores from it: its chain broke with it (?1 is
           the full here, which the newest job is not). */
        char broken[TF_MSG_MAX_ID + 1];
        rc = s_lookup_text(self,
            "SELECT j.job_id FROM jobs j JOIN job_deps d ON d.job_id = j.job_id AND d.data_job = ?1 "
            "WHERE " S_SAME_SOURCES_SQL " AND j.status IN ('completed', 'completed_with_warnings') "
            "ORDER BY j.created_ms DESC, j.job_id DESC LIMIT 1",
            found_job, schedule, key, broken, sizeof broken, &found, err);
        if (rc == TF_OK && found)
            snprintf(buf, size, "the chain of %s is broken: its base %s expired", broken, found_job);
        else if (rc == TF_OK)
            snprintf(buf, size, "the previous full %s expired", found_job);
        return rc;
    }
    if (schedule) {
        rc = s_lookup_text(self,
            "SELECT j.job_id FROM jobs j WHERE j.job_id != ?1 AND j.schedule = ?2 AND j.level = 'full' "
            "  AND j.sources_key IS NOT ?3 AND j.status IN ('completed', 'completed_with_warnings') "
            "ORDER BY j.created_ms DESC, j.job_id DESC LIMIT 1",
            job_id, schedule, key, found_job, sizeof found_job, &found, err);
        if (rc != TF_OK)
            return rc;
        if (found) {
            snprintf(buf, size, "the source set changed since full %s", found_job);
            return TF_OK;
        }
        snprintf(buf, size, "no previous full of schedule %s", schedule);
        return TF_OK;
    }
    snprintf(buf, size, "no previous full of these sources");
    return TF_OK;
}

int
catalog_level_decide(catalog_t *self, const tf_msg_cat_job_t *create, tf_err_t *err)
{
    const char *requested = create->level && *create->level ? create->level : "full";
    if (!tf_level_known(requested))
        return tf_err_set(err, TF_ERR_INVALID, "cat_job %s: unknown level '%s' (expected full, "
                          "differential or incremental)", create->job_id, requested);
    /* The first decision wins: a repeated create (redelivery, a scheduler restarted) changes
       nothing. */
    char level[16];
    bool found = false;
    int rc = s_lookup_text(self, "SELECT level FROM jobs WHERE job_id = ?1 AND level IS NOT NULL", create->job_id,
                           NULL, NULL, level, sizeof level, &found, err);
    if (rc != TF_OK || found)
        return rc;
    const char *schedule = create->schedule && *create->schedule ? create->schedule : NULL;
    bool oom = false;
    char *key = s_sources_key(create, &oom);
    if (oom)
        return tf_err_set(err, TF_ERR_NOMEM, "cat_job %s: out of memory deciding the level", create->job_id);

    char base[TF_MSG_MAX_ID + 1] = "", reason[TF_MSG_MAX_TEXT] = "";
    const char *decided = "full";
    if (strcmp(requested, "full") != 0 && (rc = catalog_chain_sql_ready(self, err)) == TF_OK) {
        char full[TF_MSG_MAX_ID + 1];
        rc = s_lookup_text(self,
            "SELECT j.job_id FROM jobs j WHERE " S_CANDIDATE_SQL " AND j.level = 'full' "
            "ORDER BY j.created_ms DESC, j.job_id DESC LIMIT 1",
            create->job_id, schedule, key, full, sizeof full, &found, err);
        if (rc == TF_OK && !found)
            rc = s_upgrade_reason(self, create->job_id, schedule, key, reason, sizeof reason, err);
        else if (rc == TF_OK && strcmp(requested, "differential") == 0) {
            decided = requested;
            snprintf(base, sizeof base, "%s", full);
        }
        else if (rc == TF_OK) {
            /* The newest candidate of any level: never older than the newest full. */
            rc = s_lookup_text(self,
                "SELECT j.job_id FROM jobs j WHERE " S_CANDIDATE_SQL " "
                "ORDER BY j.created_ms DESC, j.job_id DESC LIMIT 1",
                create->job_id, schedule, key, base, sizeof base, &found, err);
            decided = requested;
        }
    }
    if (rc == TF_OK) {
        sqlite3_stmt *stmt = catalog_prepare(self,
            "UPDATE jobs SET level = ?2, level_requested = ?3, level_reason = ?4, base_job = ?5, "
            "  schedule = ?6, trigger_text = ?7, trigger_ms = ?8, sources_key = ?9 "
            "WHERE job_id = ?1 AND level IS NULL", err);
        if (!stmt)
            rc = TF_ERR_DB;
        else {
            const char *trigger = create->trigger && *create->trigger ? create->trigger : "manual";
            int b = catalog_bind_text(stmt, 1, create->job_id) | catalog_bind_text(stmt, 2, decided)
                    | catalog_bind_text(stmt, 3, requested) | catalog_bind_text(stmt, 4, reason[0] ? reason : NULL)
                    | catalog_bind_text(stmt, 5, base[0] ? base : NULL) | catalog_bind_text(stmt, 6, schedule)
                    | catalog_bind_text(stmt, 7, trigger) | sqlite3_bind_int64(stmt, 8, create->trigger_ms)
                    | catalog_bind_text(stmt, 9, key);
            rc = catalog_run(self, stmt, b, "cannot record the job's level", NULL, err);
        }
    }
    if (rc == TF_OK && base[0])
        rc = catalog_chain_record_base(self, create->job_id, base, err);
    if (rc == TF_OK && reason[0])
        tf_log_info("job %s: %s upgraded to full: %s", create->job_id, requested, reason);
    free(key);
    return rc;
}

/* ------------------------------------------------------------------ begin / diff / end - */

/* The job's paths joined with spaces, for the command an operator can run. */
static int
s_job_paths_text(catalog_t *self, const char *job_id, char *buf, size_t size, tf_err_t *err)
{
    bool found = false;
    return s_lookup_text(self, "SELECT group_concat(path, ' ') FROM (SELECT path FROM job_paths "
                         "WHERE job_id = ?1 ORDER BY seq)", job_id, NULL, NULL, buf, size, &found, err);
}

/* TF_OK when the base's manifest of this host can be read; else the job fails for good
   (TF_ERR_INVALID: not retryable) with what went wrong and the fix. */
static int
s_base_readable(catalog_t *self, const char *job_id, const char *host, const s_level_t *lv, tf_err_t *err)
{
    char base_level[16], base_base[TF_MSG_MAX_ID + 1], why[160], what[TF_MSG_MAX_ID + 48];
    bool found = false, scanned = false;
    int rc = s_lookup_text(self, "SELECT COALESCE(level, 'full') FROM jobs WHERE job_id = ?1", lv->base_job,
                           NULL, NULL, base_level, sizeof base_level, &found, err);
    if (rc == TF_OK && found)
        rc = s_lookup_text(self, "SELECT 1 FROM manifest_scans WHERE job_id = ?1 AND host = ?2", lv->base_job,
                           host, NULL, why, sizeof why, &scanned, err);
    if (rc != TF_OK || (found && scanned))
        return rc;
    if (!found) {
        snprintf(what, sizeof what, "no longer in the catalog");
        snprintf(why, sizeof why, "the job is not in the catalog");
    }
    else {
        rc = s_lookup_text(self, "SELECT base_job FROM jobs WHERE job_id = ?1", lv->base_job, NULL, NULL,
                           base_base, sizeof base_base, &found, err);
        if (rc != TF_OK)
            return rc;
        if (strcmp(base_level, "full") == 0 || !base_base[0])
            snprintf(what, sizeof what, "%s", base_level);
        else
            snprintf(what, sizeof what, "%s of job %s", base_level, base_base);
        if (*host)
            snprintf(why, sizeof why, "its scan of host %s never recorded a complete manifest", host);
        else
            snprintf(why, sizeof why, "its scan never recorded a complete manifest");
    }
    char paths[TF_ERR_MESSAGE_MAX];
    rc = s_job_paths_text(self, job_id, paths, sizeof paths, err);
    if (rc != TF_OK)
        return rc;
    return tf_err_set(err, TF_ERR_INVALID, "the manifest of base job %s (%s) cannot be read: %s; run a full "
                      "backup: tapeflow backup --level full %s", lv->base_job, what, why,
                      paths[0] ? paths : "PATH...");
}

/* jobs.files_unchanged / files_deleted from the job's manifest (so a rescan or a redelivered
   end counts nothing twice). */
static int
s_job_counts(catalog_t *self, const char *job_id, tf_err_t *err)
{
    sqlite3_stmt *stmt = catalog_prepare(self,
        "UPDATE jobs SET "
        "  files_unchanged = (SELECT count(*) FROM manifest WHERE job_id = ?1 AND deleted = 0 "
        "                     AND " S_UNCHANGED_SQL "), "
        "  files_deleted = (SELECT count(*) FROM manifest WHERE job_id = ?1 AND deleted = 1) "
        "WHERE job_id = ?1", err);
    if (!stmt)
        return TF_ERR_DB;
    return catalog_run(self, stmt, catalog_bind_text(stmt, 1, job_id), "cannot count the job's manifest", NULL, err);
}

static int
s_reply_level(const s_level_t *lv, tf_msg_cat_manifest_reply_t *out, tf_err_t *err)
{
    out->level = strdup(lv->level);
    out->base_job = lv->has_base ? strdup(lv->base_job) : NULL;
    out->reason = lv->reason[0] ? strdup(lv->reason) : NULL;
    if (!out->level || (lv->has_base && !out->base_job) || (lv->reason[0] && !out->reason))
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory answering cat_manifest");
    return TF_OK;
}

static int
s_begin_scan(catalog_t *self, const tf_msg_cat_manifest_t *m, const s_level_t *lv, tf_msg_cat_manifest_reply_t *out,
             tf_err_t *err)
{
    const char *host = s_host(m->host);
    int rc = catalog_begin(self, err);
    if (rc != TF_OK)
        return rc;
    /* A rescan starts clean: the rows and the end of an earlier attempt are dropped. */
    sqlite3_stmt *stmt = catalog_prepare(self, "DELETE FROM manifest WHERE job_id = ?1 AND host = ?2", err);
    rc = stmt ? catalog_run(self, stmt, catalog_bind_text(stmt, 1, m->job_id) | catalog_bind_text(stmt, 2, host),
                      "cannot drop the earlier manifest", NULL, err)
              : TF_ERR_DB;
    if (rc == TF_OK) {
        stmt = catalog_prepare(self, "DELETE FROM manifest_scans WHERE job_id = ?1 AND host = ?2", err);
        rc = stmt ? catalog_run(self, stmt, catalog_bind_text(stmt, 1, m->job_id) | catalog_bind_text(stmt, 2, host),
                          "cannot drop the earlier manifest", NULL, err)
                  : TF_ERR_DB;
    }
    if (rc == TF_OK)
        rc = s_job_counts(self, m->job_id, err);
    if (rc == TF_OK && lv->has_base)
        rc = s_base_readable(self, m->job_id, host, lv, err);
    rc = catalog_end(self, rc, err);
    if (rc == TF_OK)
        rc = s_reply_level(lv, out, err);
    return rc;
}

/* Appends ", WHAT" (or "changed: WHAT" first) to buf. */
static void
s_change(char *buf, size_t size, const char *what)
{
    size_t used = strlen(buf);
    snprintf(buf + used, size - used, "%s%s", used ? ", " : "changed: ", what);
}

static bool
s_text_differs(const char *a, sqlite3_stmt *stmt, int col)
{
    const char *b = (const char *) sqlite3_column_text(stmt, col);
    if (!a || !*a)
        return b && *b;
    return !b || strcmp(a, b) != 0;
}

/* Compares an entry with its base row (lookup columns: type, size, mtime_ns, ctime_ns, ino, fs,
   mode, uid, gid, xattrs, data_job, deleted, reason); buf gets the reason. Returns whether it is taken;
   *carried gets the base's data_job of an unchanged entry. */
static bool
s_compare(const tf_msg_manifest_row_t *r, sqlite3_stmt *base, char *buf, size_t size, const char **carried)
{
    buf[0] = '\0';
    *carried = NULL;
    if (sqlite3_column_int(base, 11) != 0) {
        snprintf(buf, size, "new");
        return true;
    }
    const char *data_job = (const char *) sqlite3_column_text(base, 10);
    if (!data_job) {
        snprintf(buf, size, "not stored in base");
        return true;
    }
    /* Its content in the base is partly zeros (a read error, a file shrinking while stored):
       the stat may never change again, so it is read again now. */
    const char *base_reason = (const char *) sqlite3_column_text(base, 12);
    if (base_reason && strncmp(base_reason, CATALOG_STORED_INCOMPLETE, strlen(CATALOG_STORED_INCOMPLETE)) == 0) {
        snprintf(buf, size, "stored incomplete in base");
        return true;
    }
    if (s_text_differs(r->type, base, 0))
        s_change(buf, size, "type");
    if ((uint64_t) sqlite3_column_int64(base, 1) != r->size)
        s_change(buf, size, "size");
    if (sqlite3_column_int64(base, 2) != r->mtime_ns)
        s_change(buf, size, "mtime");
    if (sqlite3_column_int64(base, 3) != r->ctime_ns)
        s_change(buf, size, "ctime");
    if ((uint64_t) sqlite3_column_int64(base, 4) != r->ino)
        s_change(buf, size, "inode");
    if (s_text_differs(r->fs, base, 5))
        s_change(buf, size, "file system");
    if ((uint64_t) sqlite3_column_int64(base, 6) != r->mode)
        s_change(buf, size, "mode");
    if ((uint64_t) sqlite3_column_int64(base, 7) != r->uid || (uint64_t) sqlite3_column_int64(base, 8) != r->gid)
        s_change(buf, size, "owner");
    if (s_text_differs(r->xattrs, base, 9))
        s_change(buf, size, "xattrs");
    if (buf[0])
        return true;
    snprintf(buf, size, "unchanged");
    *carried = data_job;
    return false;
}

static int
s_diff_check(const tf_msg_cat_manifest_t *m, tf_err_t *err)
{
    if (m->rows_count > S_DIFF_MAX_ROWS)
        return tf_err_set(err, TF_ERR_TOOBIG, "cat_manifest %s diff %" PRIu64 ": %zu rows (at most %d in a "
                          "batch)", m->job_id, m->seq, m->rows_count, S_DIFF_MAX_ROWS);
    for (size_t i = 0; i < m->rows_count; i++) {
        const tf_msg_manifest_row_t *r = &m->rows[i];
        if (!r->path || r->path[0] != '/')
            return tf_err_set(err, TF_ERR_INVALID, "cat_manifest %s diff %" PRIu64 ": row %zu: the path "
                              "'%s' is not absolute", m->job_id, m->seq, i + 1, r->path ? r->path : "");
        if (!r->type || !*r->type)
            return tf_err_set(err, TF_ERR_INVALID, "cat_manifest %s diff %" PRIu64 ": row %zu (%s): no "
                              "type", m->job_id, m->seq, i + 1, r->path);
    }
    return TF_OK;
}

/* Records a batch of walked entries and answers which of them to store. A redelivered batch
   upserts the same rows and compares them with the same base: the same reply. */
static int
s_diff(catalog_t *self, const tf_msg_cat_manifest_t *m, const s_level_t *lv, tf_msg_cat_manifest_reply_t *out,
       tf_err_t *err)
{
    int rc = s_diff_check(m, err);
    if (rc != TF_OK)
        return rc;
    const char *host = s_host(m->host);
    if (m->rows_count > 0) {
        out->take = calloc(m->rows_count, sizeof *out->take);
        if (!out->take)
            return tf_err_set(err, TF_ERR_NOMEM, "out of memory answering cat_manifest");
    }
    rc = catalog_begin(self, err);
    if (rc != TF_OK)
        return rc;
    sqlite3_stmt *lookup = lv->has_base ? catalog_prepare(self,
        "SELECT type, size, mtime_ns, ctime_ns, ino, fs, mode, uid, gid, xattrs, data_job, deleted, reason "
        "FROM manifest WHERE job_id = ?1 AND host = ?2 AND path = ?3", err) : NULL;
    sqlite3_stmt *upsert = catalog_prepare(self,
        "INSERT INTO manifest(job_id, host, path, type, size, mtime_ns, ctime_ns, ino, mode, uid, gid, "
        "  nlink, xattrs, fs, reason, data_job, deleted) "
        "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, 0) "
        "ON CONFLICT(job_id, host, path) DO UPDATE SET type = excluded.type, size = excluded.size, "
        "  mtime_ns = excluded.mtime_ns, ctime_ns = excluded.ctime_ns, ino = excluded.ino, "
        "  mode = excluded.mode, uid = excluded.uid, gid = excluded.gid, nlink = excluded.nlink, "
        "  xattrs = excluded.xattrs, fs = excluded.fs, reason = excluded.reason, "
        "  data_job = excluded.data_job, deleted = 0", err);
    if (!upsert || (lv->has_base && !lookup))
        rc = TF_ERR_DB;
    for (size_t i = 0; rc == TF_OK && i < m->rows_count; i++) {
        const tf_msg_manifest_row_t *r = &m->rows[i];
        char reason[160];
        const char *carried = NULL;
        bool taken = true;
        int s = SQLITE_DONE;
        if (lookup) {
            if ((catalog_bind_text(lookup, 1, lv->base_job) | catalog_bind_text(lookup, 2, host)
                 | catalog_bind_text(lookup, 3, r->path)) != SQLITE_OK) {
                rc = catalog_db_error(self, err, "cannot look up the base's entry");
                break;
            }
            s = sqlite3_step(lookup);
        }
        if (s == SQLITE_ROW)
            taken = s_compare(r, lookup, reason, sizeof reason, &carried);
        else if (s == SQLITE_DONE)
            snprintf(reason, sizeof reason, "%s", lv->has_base ? "new" : "full");
        else {
            rc = catalog_db_error(self, err, "cannot look up the base's entry");
            break;
        }
        /* carried points into lookup's row: bound (copied) before the lookup is reset. */
        if ((catalog_bind_text(upsert, 1, m->job_id) | catalog_bind_text(upsert, 2, host)
             | catalog_bind_text(upsert, 3, r->path)
             | catalog_bind_text(upsert, 4, r->type) | sqlite3_bind_int64(upsert, 5, (sqlite3_int64) r->size)
             | sqlite3_bind_int64(upsert, 6, r->mtime_ns) | sqlite3_bind_int64(upsert, 7, r->ctime_ns)
             | sqlite3_bind_int64(upsert, 8, (sqlite3_int64) r->ino)
             | sqlite3_bind_int64(upsert, 9, (sqlite3_int64) r->mode)
             | sqlite3_bind_int64(upsert, 10, (sqlite3_int64) r->uid)
             | sqlite3_bind_int64(upsert, 11, (sqlite3_int64) r->gid)
             | sqlite3_bind_int64(upsert, 12, (sqlite3_int64) r->nlink)
             | catalog_bind_text(upsert, 13, r->xattrs && *r->xattrs ? r->xattrs : NULL)
             | catalog_bind_text(upsert, 14, r->fs && *r->fs ? r->fs : NULL) | catalog_bind_text(upsert, 15, reason)
             | sqlite3_bind_text(upsert, 16, taken ? m->job_id : carried, -1, SQLITE_TRANSIENT)) != SQLITE_OK
            || sqlite3_step(upsert) != SQLITE_DONE)
            rc = catalog_db_error(self, err, "cannot record a manifest entry");
        sqlite3_reset(upsert);
        if (lookup)
            sqlite3_reset(lookup);
        if (rc != TF_OK)
            break;
        if (!taken) {
            out->unchanged++;
            continue;
        }
        tf_msg_take_row_t *t = &out->take[out->take_count++];
        t->index = i;
        t->reason = strdup(reason);
        if (!t->reason)
            rc = tf_err_set(err, TF_ERR_NOMEM, "out of memory answering cat_manifest");
    }
    sqlite3_finalize(lookup);
    sqlite3_finalize(upsert);
    rc = catalog_end(self, rc, err);
    if (rc == TF_OK) {
        char text[128];
        snprintf(text, sizeof text, "batch %" PRIu64 ": %zu to store, %" PRIu64 " unchanged", m->seq,
                 out->take_count, out->unchanged);
        out->message = strdup(text);
        if (!out->message)
            rc = tf_err_set(err, TF_ERR_NOMEM, "out of memory answering cat_manifest");
    }
    return rc;
}

/* An entry of this scan a rename may join: a "new" row or a tombstone ("deleted"). */
typedef struct {
    int64_t ino;
    int64_t size;
    int64_t mtime_ns;
    char *type;
    char *fs;       /* "" when unknown */
    char *path;
    bool used;
} s_side_t;

/* A rename keeps the inode, and (a plain mv) the size and mtime: matching on them too keeps
   a new file that reuses a deleted file's inode from being called a rename. */
static int
s_side_cmp(const s_side_t *a, const s_side_t *b)
{
    if (a->ino != b->ino)
        return a->ino < b->ino ? -1 : 1;
    if (a->size != b->size)
        return a->size < b->size ? -1 : 1;
    if (a->mtime_ns != b->mtime_ns)
        return a->mtime_ns < b->mtime_ns ? -1 : 1;
    int c = strcmp(a->type, b->type);
    return c ? c : strcmp(a->fs, b->fs);
}

/* The first unused new entry with this inode, size, mtime, type and file system (array sorted
   by them). */
static s_side_t *
s_side_find(s_side_t *rows, size_t count, const s_side_t *gone)
{
    size_t lo = 0, hi = count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s_side_cmp(&rows[mid], gone) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < count && s_side_cmp(&rows[lo], gone) == 0; lo++)
        if (!rows[lo].used)
            return &rows[lo];
    return NULL;
}

static void
s_sides_free(s_side_t *rows, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        free(rows[i].type);
        free(rows[i].fs);
        free(rows[i].path);
    }
    free(rows);
}

/* Reads the scan's "new" entries sorted by inode, type, file system, path (tombstones false),
   or its tombstones with reason "deleted" by path (true). Entries without an inode never join. */
static int
s_sides(catalog_t *self, const char *job_id, const char *host, bool tombstones, s_side_t **rows_p,
        size_t *count_p, tf_err_t *err)
{
    *rows_p = NULL;
    *count_p = 0;
    sqlite3_stmt *stmt = catalog_prepare(self, tombstones
        ? "SELECT ino, type, COALESCE(fs, ''), path, size, mtime_ns FROM manifest WHERE job_id = ?1 "
          "  AND host = ?2 AND deleted = 1 AND reason = 'deleted' AND ino != 0 ORDER BY path"
        : "SELECT ino, type, COALESCE(fs, ''), path, size, mtime_ns FROM manifest WHERE job_id = ?1 "
          "  AND host = ?2 AND deleted = 0 AND reason = 'new' AND ino != 0 "
          "ORDER BY ino, size, mtime_ns, type, COALESCE(fs, ''), path", err);
    if (!stmt)
        return TF_ERR_DB;
    if ((catalog_bind_text(stmt, 1, job_id) | catalog_bind_text(stmt, 2, host)) != SQLITE_OK) {
        sqlite3_finalize(stmt);
        return catalog_db_error(self, err, "cannot bind the renames query");
    }
    size_t cap = 0;
    bool oom = false;
    int s;
    while ((s = sqlite3_step(stmt)) == SQLITE_ROW) {
        s_side_t *n = catalog_grow((void **) rows_p, count_p, &cap, sizeof *n);
        if (!n) {
            oom = true;
            break;
        }
        n->ino = sqlite3_column_int64(stmt, 0);
        n->size = sqlite3_column_int64(stmt, 4);
        n->mtime_ns = sqlite3_column_int64(stmt, 5);
        n->type = catalog_column_dup(stmt, 1, &oom);
        n->fs = catalog_column_dup(stmt, 2, &oom);
        n->path = catalog_column_dup(stmt, 3, &oom);
        if (oom)
            break;
    }
    sqlite3_finalize(stmt);
    if (oom)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory matching renames");
    return s == SQLITE_DONE ? TF_OK : catalog_db_error(self, err, "cannot read the scan's entries");
}

/* Sets the reason of one manifest row of the scan ("renamed to P" / "renamed from P"). */
static int
s_set_reason(sqlite3_stmt *stmt, const char *job_id, const char *host, const char *path, const char *prefix,
             const char *other)
{
    int b = catalog_bind_text(stmt, 1, job_id) | catalog_bind_text(stmt, 2, host)
            | catalog_bind_text(stmt, 3, path) | catalog_bind_text(stmt, 4, prefix)
            | catalog_bind_text(stmt, 5, other);
    int s = b == SQLITE_OK ? sqlite3_step(stmt) : b;
    sqlite3_reset(stmt);
    return s == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
}

/* A tombstone whose inode, size, mtime, type and file system match a new entry of the scan
   was renamed:
   both rows say so. Each new entry is matched once (the first tombstone by path wins). Both
   sides are read before any row changes. */
static int
s_match_renames(catalog_t *self, const char *job_id, const char *host, tf_err_t *err)
{
    s_side_t *news = NULL, *gone = NULL;
    size_t news_count = 0, gone_count = 0;
    int rc = s_sides(self, job_id, host, false, &news, &news_count, err);
    if (rc == TF_OK && news_count > 0)
        rc = s_sides(self, job_id, host, true, &gone, &gone_count, err);
    sqlite3_stmt *set = NULL;
    if (rc == TF_OK && gone_count > 0) {
        /* The other path can be as long as a reason may be: it is shortened so the row still
           fits a reply (at most 1000 characters of 4 bytes). */
        set = catalog_prepare(self, "UPDATE manifest SET reason = CASE WHEN length(CAST(?4 || ?5 AS BLOB)) "
                              "< 4000 THEN ?4 || ?5 ELSE ?4 || substr(?5, 1, 990) || '...' END "
                              "WHERE job_id = ?1 AND host = ?2 AND path = ?3", err);
        if (!set)
            rc = TF_ERR_DB;
    }
    for (size_t i = 0; rc == TF_OK && i < gone_count; i++) {
        s_side_t *n = s_side_find(news, news_count, &gone[i]);
        if (!n)
            continue;
        n->used = true;
        if (s_set_reason(set, job_id, host, gone[i].path, "renamed to ", n->path) != SQLITE_OK
            || s_set_reason(set, job_id, host, n->path, "renamed from ", gone[i].path) != SQLITE_OK)
            rc = catalog_db_error(self, err, "cannot record a rename");
    }
    sqlite3_finalize(set);
    s_sides_free(news, news_count);
    s_sides_free(gone, gone_count);
    return rc;
}

/* Counts of the scan's manifest: [0] unchanged, [1] tombstones, [2] renames, [3] live entries. */
static int
s_scan_counts(catalog_t *self, const char *job_id, const char *host, uint64_t counts[4], tf_err_t *err)
{
    sqlite3_stmt *stmt = catalog_prepare(self,
        "SELECT COALESCE(sum(deleted = 0 AND " S_UNCHANGED_SQL "), 0), COALESCE(sum(deleted = 1), 0), "
        "  COALESCE(sum(deleted = 1 AND reason LIKE 'renamed to %'), 0), COALESCE(sum(deleted = 0), 0) "
        "FROM manifest WHERE job_id = ?1 AND host = ?2", err);
    if (!stmt)
        return TF_ERR_DB;
    int rc = TF_OK;
    if ((catalog_bind_text(stmt, 1, job_id) | catalog_bind_text(stmt, 2, host)) != SQLITE_OK
        || sqlite3_step(stmt) != SQLITE_ROW)
        rc = catalog_db_error(self, err, "cannot count the scan's manifest");
    else
        for (int i = 0; i < 4; i++)
            counts[i] = (uint64_t) sqlite3_column_int64(stmt, i);
    sqlite3_finalize(stmt);
    return rc;
}

/* Base entries the scan could not look at (under a folder it could not list, or an entry it
   could not stat) are carried forward as they were, with why: a failure to look is not a
   deletion. */
static int
s_carry_unread(catalog_t *self, const tf_msg_cat_manifest_t *m, const s_level_t *lv, tf_err_t *err)
{
    if (m->unread_count == 0)
        return TF_OK;
    for (size_t i = 0; i < m->unread_count; i++)
        if (!m->unread[i].path || m->unread[i].path[0] != '/')
            return tf_err_set(err, TF_ERR_INVALID, "cat_manifest %s end: unread path %zu '%s' is not absolute",
                              m->job_id, i + 1, m->unread[i].path ? m->unread[i].path : "");
    sqlite3_stmt *stmt = catalog_prepare(self,
        "INSERT INTO manifest(job_id, host, path, type, size, mtime_ns, ctime_ns, ino, mode, uid, gid, "
        "  nlink, xattrs, fs, reason, data_job, deleted) "
        "SELECT ?1, b.host, b.path, b.type, b.size, b.mtime_ns, b.ctime_ns, b.ino, b.mode, b.uid, b.gid, "
        "  b.nlink, b.xattrs, b.fs, 'unchanged: not readable now (' || substr(?5, 1, 200) || ')', b.data_job, 0 "
        "FROM manifest b WHERE b.job_id = ?3 AND b.host = ?2 AND b.deleted = 0 "
        "  AND (b.path = ?4 OR substr(b.path, 1, length(rtrim(?4, '/')) + 1) = rtrim(?4, '/') || '/') "
        "  AND NOT EXISTS (SELECT 1 FROM manifest n WHERE n.job_id = ?1 AND n.host = ?2 AND n.path = b.path)",
        err);
    if (!stmt)
        return TF_ERR_DB;
    int rc = TF_OK;
    for (size_t i = 0; rc == TF_OK && i < m->unread_count; i++) {
        const tf_msg_warning_row_t *u = &m->unread[i];
        if ((catalog_bind_text(stmt, 1, m->job_id) | catalog_bind_text(stmt, 2, s_host(m->host))
             | catalog_bind_text(stmt, 3, lv->base_job) | catalog_bind_text(stmt, 4, u->path)
             | catalog_bind_text(stmt, 5, u->reason && *u->reason ? u->reason : "unreadable")) != SQLITE_OK
            || sqlite3_step(stmt) != SQLITE_DONE)
            rc = catalog_db_error(self, err, "cannot carry forward the entries the scan could not read");
        sqlite3_reset(stmt);
    }
    sqlite3_finalize(stmt);
    return rc;
}

/* The walk is over: base entries not seen are tombstones of this job, renames matched, the
   scan's manifest recorded complete. A redelivered end finds its tombstones there already. */
static int
s_end_scan(catalog_t *self, const tf_msg_cat_manifest_t *m, const s_level_t *lv, tf_msg_cat_manifest_reply_t *out,
           tf_err_t *err)
{
    const char *host = s_host(m->host);
    int rc = catalog_begin(self, err);
    if (rc != TF_OK)
        return rc;
    if (lv->has_base)
        rc = s_carry_unread(self, m, lv, err);
    if (rc == TF_OK && lv->has_base) {
        sqlite3_stmt *stmt = catalog_prepare(self,
            "INSERT INTO manifest(job_id, host, path, type, size, mtime_ns, ctime_ns, ino, mode, uid, gid, "
            "  nlink, xattrs, fs, reason, data_job, deleted) "
            "SELECT ?1, b.host, b.path, b.type, b.size, b.mtime_ns, b.ctime_ns, b.ino, b.mode, b.uid, b.gid, "
            "  b.nlink, b.xattrs, b.fs, 'deleted', NULL, 1 FROM manifest b "
            "WHERE b.job_id = ?3 AND b.host = ?2 AND b.deleted = 0 AND NOT EXISTS (SELECT 1 FROM manifest n "
            "  WHERE n.job_id = ?1 AND n.host = ?2 AND n.path = b.path)", err);
        rc = stmt ? catalog_run(self, stmt, catalog_bind_text(stmt, 1, m->job_id) | catalog_bind_text(stmt, 2, host)
                                      | catalog_bind_text(stmt, 3, lv->base_job),
                          "cannot record the deleted entries", NULL, err)
                  : TF_ERR_DB;
        if (rc == TF_OK)
            rc = s_match_renames(self, m->job_id, host, err);
    }
    uint64_t counts[4] = {0};
    if (rc == TF_OK)
        rc = s_scan_counts(self, m->job_id, host, counts, err);
    if (rc == TF_OK) {
        sqlite3_stmt *stmt = catalog_prepare(self,
            "INSERT OR REPLACE INTO manifest_scans(job_id, host, entries, deleted, renamed, ended_ms) "
            "VALUES(?1, ?2, ?3, ?4, ?5, ?6)", err);
        rc = stmt ? catalog_run(self, stmt, catalog_bind_text(stmt, 1, m->job_id) | catalog_bind_text(stmt, 2, host)
                                      | sqlite3_bind_int64(stmt, 3, (sqlite3_int64) counts[3])
                                      | sqlite3_bind_int64(stmt, 4, (sqlite3_int64) counts[1])
                                      | sqlite3_bind_int64(stmt, 5, (sqlite3_int64) counts[2])
                                      | sqlite3_bind_int64(stmt, 6, catalog_now(self)),
                          "cannot record the scan's manifest", NULL, err)
                  : TF_ERR_DB;
    }
    rc = rc == TF_OK ? catalog_chain_record_deps(self, m->job_id, err) : rc;
    if (rc == TF_OK)
        rc = s_job_counts(self, m->job_id, err);
    rc = catalog_end(self, rc, err);
    if (rc != TF_OK)
        return rc;
    out->unchanged = counts[0];
    out->deleted = counts[1];
    out->renamed = counts[2];
    char text[160];
    snprintf(text, sizeof text, "%" PRIu64 " entries, %" PRIu64 " unchanged, %" PRIu64 " deleted (%" PRIu64
             " renamed)", counts[3], counts[0], counts[1], counts[2]);
    out->message = strdup(text);
    return out->message ? s_reply_level(lv, out, err)
                        : tf_err_set(err, TF_ERR_NOMEM, "out of memory answering cat_manifest");
}

/* Records run as the newest (current) run of job + host. */
static int
s_run_record(catalog_t *self, const char *job_id, const char *host, const char *run, tf_err_t *err)
{
    sqlite3_stmt *stmt = catalog_prepare(self,
        "INSERT OR IGNORE INTO manifest_runs(job_id, host, run, seq, begun_ms) "
        "VALUES(?1, ?2, ?3, (SELECT COALESCE(max(seq), 0) + 1 FROM manifest_runs WHERE job_id = ?1 "
        "  AND host = ?2), ?4)", err);
    if (!stmt)
        return TF_ERR_DB;
    return catalog_run(self, stmt, catalog_bind_text(stmt, 1, job_id) | catalog_bind_text(stmt, 2, host)
                           | catalog_bind_text(stmt, 3, run) | sqlite3_bind_int64(stmt, 4, catalog_now(self)),
                       "cannot record the scan run", NULL, err);
}

/* Fences scan runs (manifest_runs): a begin of a new run makes it the current run of job +
   host; a begin, diff or end of any other run that began before is refused for good (an
   older attempt answering late, or a retried job's first run, must not mix into the current
   scan). Without a run (a scanner from before runs) only a job + host that never saw a run
   is accepted. */
static int
s_run_fence(catalog_t *self, const tf_msg_cat_manifest_t *m, bool begin, tf_err_t *err)
{
    const char *host = s_host(m->host);
    const char *run = m->run && *m->run ? m->run : NULL;
    char current[TF_MSG_MAX_ID + 1], known[8];
    bool has_current = false, seen = false;
    int rc = s_lookup_text(self, "SELECT run FROM manifest_runs WHERE job_id = ?1 AND host = ?2 "
                           "ORDER BY seq DESC LIMIT 1", m->job_id, host, NULL, current, sizeof current,
                           &has_current, err);
    if (rc != TF_OK)
        return rc;
    if (has_current && run && strcmp(run, current) == 0)
        return TF_OK;
    if (run && begin) {
        rc = s_lookup_text(self, "SELECT 1 FROM manifest_runs WHERE job_id = ?1 AND host = ?2 AND run = ?3",
                           m->job_id, host, run, known, sizeof known, &seen, err);
        if (rc != TF_OK)
            return rc;
    }
    if (!has_current && !seen)
        return !run || !begin ? TF_OK : s_run_record(self, m->job_id, host, run, err);
    if (begin && run && !seen)
        return s_run_record(self, m->job_id, host, run, err);
    return tf_err_set(err, TF_ERR_INVALID, "scan run %s of job %s host %s was superseded by a newer scan",
                      run ? run : "(none)", m->job_id, *host ? host : "(local)");
}

int
catalog_manifest_apply(catalog_t *self, const tf_msg_cat_manifest_t *m, tf_msg_t *reply, tf_err_t *err)
{
    memset(reply, 0, sizeof *reply);
    reply->type = TF_MSG_CAT_MANIFEST_REPLY;
    tf_msg_cat_manifest_reply_t *out = &reply->cat_manifest_reply;
    if (!m->job_id || !*m->job_id)
        return tf_err_set(err, TF_ERR_INVALID, "cat_manifest: empty job_id");
    const char *op = m->op ? m->op : "";
    bool begin = strcmp(op, "begin") == 0, diff = strcmp(op, "diff") == 0, end = strcmp(op, "end") == 0;
    if (!begin && !diff && !end)
        return tf_err_set(err, TF_ERR_INVALID, "cat_manifest %s: unknown op '%s' (expected begin, diff or end)",
                          m->job_id, op);
    s_level_t lv;
    int rc = s_job_level(self, m->job_id, &lv, err);
    if (rc == TF_OK)
        rc = s_run_fence(self, m, begin, err);
    if (rc == TF_OK)
        rc = begin ? s_begin_scan(self, m, &lv, out, err)
             : diff ? s_diff(self, m, &lv, out, err)
                    : s_end_scan(self, m, &lv, out, err);
    if (rc != TF_OK)
        tf_msg_clear(reply);
    return rc;
}

/* ------------------------------------------------------------------ queries ------------ */

bool
catalog_manifest_handles(const char *query)
{
    return strcmp(query, "manifest") == 0 || strcmp(query, "restore_plan") == 0 || strcmp(query, "job_at") == 0;
}

/* query manifest: the job's entries with why, by path. */
static int
s_query_manifest(catalog_t *self, const tf_msg_cat_query_t *q, const char *pattern, tf_msg_cat_reply_t *out,
                 tf_err_t *err)
{
    uint64_t limit = catalog_limit(q->limit, CATALOG_FILES_LIMIT);
    sqlite3_stmt *stmt = catalog_prepare(self,
        "SELECT path, type, size, mtime_ns, ctime_ns, ino, mode, uid, gid, nlink, xattrs, fs, reason, "
        "  data_job, NULLIF(host, ''), deleted FROM manifest WHERE job_id = ?1 "
        "  AND (?2 IS NULL OR " S_STORED_SQL("path") " GLOB ?2 OR " S_STORED_SQL("path") " GLOB ?2 || '/*') "
        "ORDER BY path, host LIMIT ?3", err);
    if (!stmt)
        return TF_ERR_DB;
    if ((catalog_bind_text(stmt, 1, q->job_id) | catalog_bind_text(stmt, 2, pattern)
         | sqlite3_bind_int64(stmt, 3, (sqlite3_int64) limit + 1)) != SQLITE_OK) {
        sqlite3_finalize(stmt);
        return catalog_db_error(self, err, "cannot bind the manifest query");
    }
    size_t cap = 0, bytes = 0;
    bool oom = false;
    int s;
    while ((s = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (out->manifest_count >= limit || bytes >= CATALOG_REPLY_BUDGET) {
            out->truncated = true;
            break;
        }
        tf_msg_manifest_row_t *r = catalog_grow((void **) &out->manifest, &out->manifest_count, &cap, sizeof *r);
        if (!r) {
            oom = true;
            break;
        }
        r->path = catalog_column_dup(stmt, 0, &oom);
        r->type = catalog_column_dup(stmt, 1, &oom);
        r->size = (uint64_t) sqlite3_column_int64(stmt, 2);
        r->mtime_ns = sqlite3_column_int64(stmt, 3);
        r->ctime_ns = sqlite3_column_int64(stmt, 4);
        r->ino = (uint64_t) sqlite3_column_int64(stmt, 5);
        r->mode = (uint64_t) sqlite3_column_int64(stmt, 6);
        r->uid = (uint64_t) sqlite3_column_int64(stmt, 7);
        r->gid = (uint64_t) sqlite3_column_int64(stmt, 8);
        r->nlink = (uint64_t) sqlite3_column_int64(stmt, 9);
        r->xattrs = catalog_column_dup(stmt, 10, &oom);
        r->fs = catalog_column_dup(stmt, 11, &oom);
        r->reason = catalog_column_dup(stmt, 12, &oom);
        r->data_job = catalog_column_dup(stmt, 13, &oom);
        r->host = catalog_column_dup(stmt, 14, &oom);
        r->deleted = sqlite3_column_int(stmt, 15) != 0;
        bytes += 200 + strlen(r->path ? r->path : "") + strlen(r->reason ? r->reason : "")
                 + strlen(r->fs ? r->fs : "");
        if (oom)
            break;
    }
    sqlite3_finalize(stmt);
    if (oom)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory answering a catalog query");
    return s == SQLITE_ROW || s == SQLITE_DONE ? TF_OK : catalog_db_error(self, err, "manifest query failed");
}

/* An archive of a restore plan being filled: its row, and the stored paths taken from it. */
typedef struct {
    tf_msg_archive_row_t *row;
    size_t take_cap;
    size_t bytes;
} s_plan_t;

/* Ends an archive of the plan: its take list stays only when it holds entries (matching the
   pattern) that are not taken from it - newer jobs hold them, or they are gone. */
static int
s_plan_close(catalog_t *self, s_plan_t *plan, const char *pattern, tf_err_t *err)
{
    tf_msg_archive_row_t *a = plan->row;
    if (!a)
        return TF_OK;
    plan->row = NULL;
    sqlite3_stmt *stmt = catalog_prepare(self,
        "SELECT count(*) FROM files WHERE archive_id = ?1 "
        "  AND (?2 IS NULL OR path GLOB ?2 OR path GLOB ?2 || '/*')", err);
    if (!stmt)
        return TF_ERR_DB;
    int rc = TF_OK;
    if ((catalog_bind_text(stmt, 1, a->archive_id) | catalog_bind_text(stmt, 2, pattern)) != SQLITE_OK
        || sqlite3_step(stmt) != SQLITE_ROW)
        rc = catalog_db_error(self, err, "cannot count an archive's entries");
    else if ((uint64_t) sqlite3_column_int64(stmt, 0) > a->take_count)
        a->take_some = true;
    sqlite3_finalize(stmt);
    if (rc == TF_OK && !a->take_some) {
        for (size_t i = 0; i < a->take_count; i++)
            free(a->take[i].path);
        free(a->take);
        a->take = NULL;
        a->take_count = 0;
    }
    return rc;
}

/* Adds one taken entry to the plan: a new archive row when it is another archive than the
   last one (rows come grouped by archive, in tape order). */
static int
s_plan_add(catalog_t *self, s_plan_t *plan, tf_msg_cat_reply_t *out, size_t *archives_cap, const char *archive_id,
           const char *stored, const char *replica, const char *pattern, tf_err_t *err)
{
    int rc = TF_OK;
    if (!plan->row || strcmp(plan->row->archive_id, archive_id) != 0) {
        rc = s_plan_close(self, plan, pattern, err);
        if (rc != TF_OK)
            return rc;
        if (out->archives_count >= CATALOG_MAX_ROWS)
            return tf_err_set(err, TF_ERR_TOOBIG, "the restore plan needs more than %d archives; restore "
                              "part of the job (a narrower path)", CATALOG_MAX_ROWS);
        tf_msg_archive_row_t *a = catalog_grow((void **) &out->archives, &out->archives_count, archives_cap,
                                               sizeof *a);
        if (!a)
            return tf_err_set(err, TF_ERR_NOMEM, "out of memory answering a catalog query");
        rc = catalog_archive_read(self, archive_id, a, err);
        if (rc == TF_OK && replica)
            rc = catalog_archive_replica_copy(self, replica, a, err);
        if (rc != TF_OK) {
            out->archives_count--;
            return rc;
        }
        plan->row = a;
        plan->take_cap = 0;
    }
    tf_msg_archive_row_t *a = plan->row;
    plan->bytes += 16 + strlen(stored);
    if (a->take_count >= TF_MSG_MAX_ROWS || plan->bytes >= CATALOG_REPLY_BUDGET)
        return tf_err_set(err, TF_ERR_TOOBIG, "the restore plan is too big (archive %s alone needs more than "
                          "%zu entries listed); restore part of the job (a narrower path)", archive_id,
                          a->take_count);
    tf_msg_path_row_t *p = catalog_grow((void **) &a->take, &a->take_count, &plan->take_cap, sizeof *p);
    if (!p || !(p->path = strdup(stored)))
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory answering a catalog query");
    return TF_OK;
}

/* A live entry of the plan no archive holds: reported like query "missing". */
static int
s_plan_missing(tf_msg_cat_reply_t *out, size_t *cap, const char *path, const char *data_job, const char *replica,
               const char *reason, tf_err_t *err)
{
    if (out->missing_count >= CATALOG_MAX_ROWS) {
        out->truncated = true;
        return TF_OK;
    }
    tf_msg_warning_row_t *w = catalog_grow((void **) &out->missing, &out->missing_count, cap, sizeof *w);
    char text[TF_MSG_MAX_TEXT];
    if (data_job && replica)
        snprintf(text, sizeof text, TF_MSG_REASON_NOT_ON_REPLICA, replica, data_job);
    else if (data_job)
        snprintf(text, sizeof text, TF_MSG_REASON_NOT_ON_TAPE, data_job);
    else
        snprintf(text, sizeof text, "%s", reason && strncmp(reason, "not stored", 10) == 0 ? reason : "not stored");
    if (!w || !(w->path = strdup(path)) || !(w->reason = strdup(text)))
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory answering a catalog query");
    w->missing = true;
    return TF_OK;
}

/* query restore_plan of a job with a manifest: each live entry from the archive of the job
   that holds its content, archives in tape order with take lists where needed. With
   q->replica the archives are those verified on that replication target, on tape or not. */
static int
s_query_plan(catalog_t *self, const tf_msg_cat_query_t *q, const char *pattern, tf_msg_cat_reply_t *out,
             tf_err_t *err)
{
    sqlite3_stmt *stmt = catalog_prepare(self,
        "SELECT x.path, x.data_job, x.reason, x.archive_id, x.stored FROM ("
        "  SELECT m.path, m.data_job, m.reason, " S_STORED_SQL("m.path") " AS stored, "
        "    (SELECT f.archive_id FROM files f JOIN archives a ON a.archive_id = f.archive_id "
        "     WHERE f.job_id = m.data_job AND f.path = " S_STORED_SQL("m.path") " AND " CATALOG_READABLE_SQL("a", "?3")
        "       AND (m.host = '' OR a.host IS NULL OR a.host = m.host) "
        "     ORDER BY a.lost, f.archive_id LIMIT 1) AS archive_id "
        "  FROM manifest m WHERE m.job_id = ?1 AND m.deleted = 0 "
        "    AND (?2 IS NULL OR " S_STORED_SQL("m.path") " GLOB ?2 "
        "         OR " S_STORED_SQL("m.path") " GLOB ?2 || '/*')) x "
        "LEFT JOIN archives a ON a.archive_id = x.archive_id "
        "ORDER BY x.archive_id IS NULL, a.volume, a.tape_file, x.archive_id, x.stored", err);
    if (!stmt)
        return TF_ERR_DB;
    if ((catalog_bind_text(stmt, 1, q->job_id) | catalog_bind_text(stmt, 2, pattern)
         | catalog_bind_text(stmt, 3, q->replica)) != SQLITE_OK) {
        sqlite3_finalize(stmt);
        return catalog_db_error(self, err, "cannot bind the restore plan query");
    }
    s_plan_t plan = {0};
    size_t archives_cap = 0, missing_cap = 0;
    int rc = TF_OK, s = SQLITE_DONE;
    while (rc == TF_OK && (s = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *path = (const char *) sqlite3_column_text(stmt, 0);
        const char *data_job = (const char *) sqlite3_column_text(stmt, 1);
        const char *reason = (const char *) sqlite3_column_text(stmt, 2);
        const char *archive_id = (const char *) sqlite3_column_text(stmt, 3);
        const char *stored = (const char *) sqlite3_column_text(stmt, 4);
        if (!path || !stored)
            continue;
        rc = archive_id ? s_plan_add(self, &plan, out, &archives_cap, archive_id, stored, q->replica, pattern, err)
                        : s_plan_missing(out, &missing_cap, path, data_job, q->replica, reason, err);
    }
    if (rc == TF_OK && s != SQLITE_DONE)
        rc = catalog_db_error(self, err, "restore plan query failed");
    sqlite3_finalize(stmt);
    if (rc == TF_OK)
        rc = s_plan_close(self, &plan, pattern, err);
    return rc;
}

/* query job_at: the newest completed job created at or before at_ms whose sources include the
   source (pattern: HOST:/path or /path) or a folder above it. */
static int
s_query_job_at(catalog_t *self, const tf_msg_cat_query_t *q, tf_msg_t *reply, tf_err_t *err)
{
    if (!q->pattern || !*q->pattern)
        return tf_err_set(err, TF_ERR_INVALID, "cat_query job_at: no source given (in pattern: HOST:/path or /path)");
    char source[TF_MSG_MAX_TEXT];
    snprintf(source, sizeof source, "%s", q->pattern);
    size_t n = strlen(source);
    while (n > 1 && source[n - 1] == '/')
        source[--n] = '\0';
    const char *slash = strchr(source, '/'), *colon = strchr(source, ':');
    bool has_host = colon && (!slash || colon < slash);
    int64_t at = q->at_ms > 0 ? q->at_ms : catalog_now(self);
    /* X: the job path as given (the source names a host) or its path part (it does not). */
#define S_X "(CASE WHEN ?3 THEN p.path WHEN substr(p.path, 1, 1) = '/' OR instr(p.path, ':') = 0 " \
            "THEN p.path ELSE substr(p.path, instr(p.path, ':') + 1) END)"
    char job_id[TF_MSG_MAX_ID + 1];
    bool found = false;
    sqlite3_stmt *stmt = catalog_prepare(self,
        "SELECT j.job_id FROM jobs j WHERE j.status IN ('completed', 'completed_with_warnings') "
        "  AND j.created_ms <= ?2 AND EXISTS (SELECT 1 FROM job_paths p WHERE p.job_id = j.job_id "
        "    AND (" S_X " = ?1 OR substr(?1, 1, length(rtrim(" S_X ", '/')) + 1) = rtrim(" S_X ", '/') || '/')) "
        "ORDER BY j.created_ms DESC, j.job_id DESC LIMIT 1", err);
#undef S_X
    if (!stmt)
        return TF_ERR_DB;
    int rc = TF_OK;
    if ((catalog_bind_text(stmt, 1, source) | sqlite3_bind_int64(stmt, 2, at) | sqlite3_bind_int(stmt, 3, has_host))
        != SQLITE_OK)
        rc = catalog_db_error(self, err, "cannot bind the job_at query");
    else {
        int s = sqlite3_step(stmt);
        if (s == SQLITE_ROW) {
            found = true;
            snprintf(job_id, sizeof job_id, "%s", (const char *) sqlite3_column_text(stmt, 0));
        }
        else if (s != SQLITE_DONE)
            rc = catalog_db_error(self, err, "job_at query failed");
    }
    sqlite3_finalize(stmt);
    if (rc != TF_OK)
        return rc;
    if (!found) {
        char when[32];
        tf_time_format_utc(at, when, sizeof when);
        return tf_err_set(err, TF_ERR_NOTFOUND, "no completed backup of %s at or before %s (tapeflow jobs "
                          "lists the jobs and their sources)", source, when);
    }
    tf_msg_cat_query_t job = {.query = "job", .job_id = job_id};
    return catalog_query(self, &job, reply, err);
}

int
catalog_manifest_query(catalog_t *self, const tf_msg_cat_query_t *q, tf_msg_t *reply, tf_err_t *err)
{
    memset(reply, 0, sizeof *reply);
    reply->type = TF_MSG_CAT_REPLY;
    if (strcmp(q->query, "job_at") == 0)
        return s_query_job_at(self, q, reply, err);
    if (!q->job_id || !*q->job_id)
        return tf_err_set(err, TF_ERR_INVALID, "cat_query %s: no job_id given", q->query);
    int rc = catalog_job_known(self, q->job_id, err);
    if (rc != TF_OK)
        return rc;
    bool plan = strcmp(q->query, "restore_plan") == 0;
    if (plan) {
        char yes[4];
        bool has_manifest = false;
        rc = s_lookup_text(self, "SELECT 1 FROM manifest_scans WHERE job_id = ?1", q->job_id, NULL, NULL, yes,
                           sizeof yes, &has_manifest, err);
        if (rc != TF_OK)
            return rc;
        if (!has_manifest) {
            /* A job from before levels: every archive holds its entries (query "archives"). */
            tf_msg_cat_query_t archives = *q;
            archives.query = "archives";
            return catalog_query(self, &archives, reply, err);
        }
    }
    bool oom = false;
    char *pattern = catalog_pattern(q->pattern, &oom);
    if (oom)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory answering a catalog query");
    rc = plan ? s_query_plan(self, q, pattern, &reply->cat_reply, err)
              : s_query_manifest(self, q, pattern, &reply->cat_reply, err);
    free(pattern);
    if (rc != TF_OK)
        tf_msg_clear(reply);
    return rc;
}
