/*  catalog_chain - retention that knows chains (issue 11; docs/operations.md, "Retention and
    chains").

    A job's restore reads, for each live manifest row, the archive of the row's data_job that
    stored the path (carry-forward makes that a direct reference: no chain walking). So a
    volume holding such an archive is needed by every job that refers to it, not only by the
    job that wrote it. Which jobs a job refers to is kept in job_deps (recorded when its base is
    picked and at each scan end), so nothing here reads manifests; a job is taken to need every
    volume holding an archive of a job it depends on - more than its rows may need, which only
    ever keeps a tape longer. Everything else is computed when a query runs:
      orphans   jobs that depend on a job with an archive on the volume without having archives
                of their own on it - recycling the volume would orphan them;
      held      the volume is past its expiry but an orphan is itself still within retention
                and its pool keeps chains (chain_retention keep): the volume shows as
                appendable/full, so the labeller does not recycle it;
      expired   with chain_retention expire, a volume past expiry expires anyway, and the jobs
                that depend on a job with an archive there show as expired ("expired: its base
                J expired with volume V"); so do jobs whose base's archive was lost (its volume
                recycled). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog_priv.h"
#include "tf_volume.h"

/* A volume (alias v) past its expiry at ?N, not in state error (full = 2). */
#define S_PAST_EXPIRY(v, N) v ".full != 2 AND " v ".expires_ms > 0 AND " N " >= " v ".expires_ms"

/* Orphans of volume ?1 at ?2: job id, and whether the job is itself within retention (none
   of its own archives lost or on a volume past expiry). */
static const char *const s_orphans_sql =
    "WITH here AS (SELECT job_id FROM archives WHERE volume = ?1 AND written = 1 AND lost = 0 "
    "  UNION SELECT a.job_id FROM segments s JOIN archives a ON a.archive_id = s.archive_id "
    "  WHERE s.volume = ?1 AND a.written = 1 AND a.lost = 0), "
    "dep AS (SELECT DISTINCT d.job_id FROM job_deps d JOIN jobs j ON j.job_id = d.job_id "
    "  WHERE d.data_job IN (SELECT job_id FROM here) AND d.job_id NOT IN (SELECT job_id FROM here) "
    "  AND j.status NOT IN ('expired', 'failed', 'cancelled')) "
    "SELECT dep.job_id, NOT EXISTS (SELECT 1 FROM archives o LEFT JOIN volumes v ON v.label = o.volume "
    "  WHERE o.job_id = dep.job_id AND o.written = 1 AND (o.lost != 0 OR (" S_PAST_EXPIRY("v", "?2") "))) "
    "FROM dep ORDER BY dep.job_id";

/* Jobs whose base is gone: job id, base job, and the volume it went with (the first, by
   label). A base is gone when one of its archives is (CATALOG_ARCHIVE_GONE_SQL): the volumes
   past expiry in pools whose chain_retention is expire are few, so they are found first. */
static const char *const s_gone_sql =
    "WITH gone_volumes AS (SELECT label FROM volumes WHERE tf_chain_gone(pool, full, expires_ms)), "
    "gone AS (SELECT job_id, volume FROM archives WHERE lost != 0 "
    "  UNION SELECT job_id, volume FROM archives WHERE written = 1 AND volume IN gone_volumes "
    "  UNION SELECT a.job_id, s.volume FROM segments s JOIN archives a ON a.archive_id = s.archive_id "
    "  WHERE a.written = 1 AND s.volume IN gone_volumes) "
    "SELECT d.job_id, d.data_job, MIN(g.volume) FROM job_deps d JOIN gone g ON g.job_id = d.data_job "
    "GROUP BY d.job_id, d.data_job ORDER BY d.job_id, d.data_job";

void
catalog_set_chain_policy(catalog_t *self, catalog_chain_policy_fn *fn, void *arg)
{
    self->chain_policy = fn;
    self->chain_policy_arg = arg;
}

/* SQL tf_chain_gone(pool, full, expires_ms): 1 when a volume with these columns is past its
   expiry now, not in state error, and its pool's chain_retention is expire - what it holds is
   gone for chains, recycled or not. */
static void
s_sql_chain_gone(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void) argc;
    catalog_t *self = sqlite3_user_data(ctx);
    const char *pool = (const char *) sqlite3_value_text(argv[0]);
    int full = sqlite3_value_int(argv[1]);
    sqlite3_int64 expires_ms = sqlite3_value_int64(argv[2]);
    bool past = full != 2 && expires_ms > 0 && catalog_now(self) >= expires_ms;
    sqlite3_result_int(ctx, past && self->chain_policy && pool && self->chain_policy(self->chain_policy_arg, pool));
}

int
catalog_chain_sql_ready(catalog_t *self, tf_err_t *err)
{
    if (self->chain_sql_ready)
        return TF_OK;
    if (sqlite3_create_function_v2(self->db, "tf_chain_gone", 3, SQLITE_UTF8, self, s_sql_chain_gone, NULL, NULL,
                                   NULL) != SQLITE_OK)
        return catalog_db_error(self, err, "cannot register the chain retention function");
    self->chain_sql_ready = true;
    return TF_OK;
}

int
catalog_chain_record_base(catalog_t *self, const char *job_id, const char *base_job, tf_err_t *err)
{
    sqlite3_stmt *stmt = catalog_prepare(self,
        "INSERT OR IGNORE INTO job_deps(job_id, data_job) SELECT ?1, ?2 "
        "UNION SELECT ?1, data_job FROM job_deps WHERE job_id = ?2 AND data_job != ?1", err);
    return stmt ? catalog_run(self, stmt, catalog_bind_text(stmt, 1, job_id) | catalog_bind_text(stmt, 2, base_job),
                              "cannot record what the job depends on", NULL, err)
                : TF_ERR_DB;
}

int
catalog_chain_record_deps(catalog_t *self, const char *job_id, tf_err_t *err)
{
    sqlite3_stmt *stmt = catalog_prepare(self,
        "INSERT OR IGNORE INTO job_deps(job_id, data_job) SELECT DISTINCT ?1, data_job FROM manifest "
        "WHERE job_id = ?1 AND deleted = 0 AND data_job IS NOT NULL AND data_job != ?1", err);
    int rc = stmt ? catalog_run(self, stmt, catalog_bind_text(stmt, 1, job_id),
                                "cannot record what the job depends on", NULL, err)
                  : TF_ERR_DB;
    if (rc != TF_OK)
        return rc;
    /* Until every host's scan has ended, a host still scanning may yet refer to what its base
       referred to: the base's dependencies stay. (Tombstones have no data_job: index
       manifest_data answers each dependency.) */
    stmt = catalog_prepare(self,
        "DELETE FROM job_deps WHERE job_id = ?1 "
        "AND NOT EXISTS (SELECT 1 FROM manifest m WHERE m.data_job = job_deps.data_job AND m.job_id = ?1) "
        "AND (SELECT count(*) FROM manifest_scans WHERE job_id = ?1) "
        "    >= MAX(1, (SELECT count(DISTINCT " CATALOG_PATH_HOST_SQL ") FROM job_paths WHERE job_id = ?1))", err);
    return stmt ? catalog_run(self, stmt, catalog_bind_text(stmt, 1, job_id),
                              "cannot record what the job depends on", NULL, err)
                : TF_ERR_DB;
}

/* Appends a heap copy of text to *rows. */
static int
s_push(tf_msg_path_row_t **rows, size_t *count, size_t *cap, const char *text, tf_err_t *err)
{
    tf_msg_path_row_t *row = catalog_grow((void **) rows, count, cap, sizeof *row);
    if (!row || !(row->path = strdup(text)))
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory answering a catalog query");
    return TF_OK;
}

/* The stored `full` column of a volume: 0 appendable, 1 full, 2 error. */
static int
s_volume_full(catalog_t *self, const char *label, int *full, tf_err_t *err)
{
    sqlite3_stmt *stmt = catalog_prepare(self, "SELECT full FROM volumes WHERE label = ?1", err);
    if (!stmt)
        return TF_ERR_DB;
    int rc = TF_OK;
    int s = sqlite3_bind_text(stmt, 1, label, -1, SQLITE_STATIC) == SQLITE_OK ? sqlite3_step(stmt) : SQLITE_ERROR;
    if (s == SQLITE_ROW)
        *full = sqlite3_column_int(stmt, 0);
    else
        rc = catalog_db_error(self, err, "cannot read a volume's state");
    sqlite3_finalize(stmt);
    return rc;
}

int
catalog_chain_volume(catalog_t *self, tf_msg_volume_row_t *row, tf_err_t *err)
{
    int64_t now = catalog_now(self);
    sqlite3_stmt *stmt = catalog_prepare(self, s_orphans_sql, err);
    if (!stmt)
        return TF_ERR_DB;
    if (sqlite3_bind_text(stmt, 1, row->label, -1, SQLITE_STATIC) != SQLITE_OK
        || sqlite3_bind_int64(stmt, 2, now) != SQLITE_OK) {
        sqlite3_finalize(stmt);
        return catalog_db_error(self, err, "cannot bind the orphans query");
    }
    size_t cap = 0;
    bool needed = false;   /* an orphan is itself within retention */
    int rc = TF_OK, s = SQLITE_DONE;
    while (rc == TF_OK && (s = sqlite3_step(stmt)) == SQLITE_ROW && row->orphans_count < TF_MSG_MAX_ROWS) {
        rc = s_push(&row->orphans, &row->orphans_count, &cap, (const char *) sqlite3_column_text(stmt, 0), err);
        needed = needed || sqlite3_column_int(stmt, 1) != 0;
    }
    if (rc == TF_OK && s != SQLITE_ROW && s != SQLITE_DONE)
        rc = catalog_db_error(self, err, "cannot read a volume's orphans");
    sqlite3_finalize(stmt);
    if (rc != TF_OK || !needed || !row->state || strcmp(row->state, "expired") != 0)
        return rc;
    if (self->chain_policy && self->chain_policy(self->chain_policy_arg, row->pool ? row->pool : ""))
        return TF_OK;   /* chain_retention expire: it expires, its orphans show expired */
    int full = 0;
    rc = s_volume_full(self, row->label, &full, err);
    if (rc != TF_OK)
        return rc;
    char *state = strdup(tf_volume_state_of(full == 2, full != 0, 0, now));
    if (!state)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory answering a catalog query");
    free(row->state);
    row->state = state;
    row->held = true;
    return TF_OK;
}

int
catalog_chain_job(catalog_t *self, tf_msg_job_row_t *row, tf_err_t *err)
{
    sqlite3_stmt *stmt = catalog_prepare(self,
        "SELECT data_job FROM job_deps WHERE job_id = ?1 ORDER BY data_job", err);
    if (!stmt)
        return TF_ERR_DB;
    if (sqlite3_bind_text(stmt, 1, row->job_id, -1, SQLITE_STATIC) != SQLITE_OK) {
        sqlite3_finalize(stmt);
        return catalog_db_error(self, err, "cannot bind the depends-on query");
    }
    size_t cap = 0;
    int rc = TF_OK, s = SQLITE_DONE;
    while (rc == TF_OK && (s = sqlite3_step(stmt)) == SQLITE_ROW && row->depends_on_count < TF_MSG_MAX_ROWS)
        rc = s_push(&row->depends_on, &row->depends_on_count, &cap, (const char *) sqlite3_column_text(stmt, 0),
                    err);
    if (rc == TF_OK && s != SQLITE_ROW && s != SQLITE_DONE)
        rc = catalog_db_error(self, err, "cannot read what the job depends on");
    sqlite3_finalize(stmt);
    return rc;
}

/* The row of job_id among rows, when it is one a gone base turns expired: finished well. */
static tf_msg_job_row_t *
s_finished_row(tf_msg_job_row_t *rows, size_t count, const char *job_id)
{
    for (size_t i = 0; i < count; i++)
        if (rows[i].job_id && strcmp(rows[i].job_id, job_id) == 0 && rows[i].status
            && (strcmp(rows[i].status, "completed") == 0 || strcmp(rows[i].status, "completed_with_warnings") == 0))
            return &rows[i];
    return NULL;
}

int
catalog_chain_jobs(catalog_t *self, tf_msg_job_row_t *rows, size_t count, tf_err_t *err)
{
    if (count == 0)
        return TF_OK;
    int rc = catalog_chain_sql_ready(self, err);
    if (rc != TF_OK)
        return rc;
    sqlite3_stmt *stmt = catalog_prepare(self, s_gone_sql, err);
    if (!stmt)
        return TF_ERR_DB;
    int s = SQLITE_DONE;
    while (rc == TF_OK && (s = sqlite3_step(stmt)) == SQLITE_ROW) {
        tf_msg_job_row_t *row = s_finished_row(rows, count, (const char *) sqlite3_column_text(stmt, 0));
        if (!row)
            continue;   /* not asked for, or expired already: its first gone base is the one told */
        char text[512];
        snprintf(text, sizeof text, "expired: its base %s expired with volume %s", sqlite3_column_text(stmt, 1),
                 sqlite3_column_text(stmt, 2));
        char *status = strdup("expired");
        char *message = strdup(text);
        if (!status || !message) {
            free(status);
            free(message);
            rc = tf_err_set(err, TF_ERR_NOMEM, "out of memory answering a catalog query");
            break;
        }
        free(row->status);
        free(row->message);
        row->status = status;
        row->message = message;
    }
    if (rc == TF_OK && s != SQLITE_ROW && s != SQLITE_DONE)
        rc = catalog_db_error(self, err, "cannot read the jobs whose base expired");
    sqlite3_finalize(stmt);
    return rc;
}
