/*  journal - the broker's durable record of work items. */
#include "journal.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "tf_fs.h"

struct _journal_t {
    sqlite3 *db;
    char *path;
};

static const char *s_schema =
    "CREATE TABLE IF NOT EXISTS items ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  id TEXT NOT NULL UNIQUE,"
    "  service TEXT NOT NULL,"
    "  job_id TEXT,"
    "  state INTEGER NOT NULL,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  worker TEXT,"
    "  reason TEXT,"
    "  payload BLOB,"
    "  result BLOB,"
    "  created_ms INTEGER NOT NULL,"
    "  updated_ms INTEGER NOT NULL,"
    "  host TEXT);"
    "CREATE INDEX IF NOT EXISTS items_state ON items(state, seq);"
    "CREATE INDEX IF NOT EXISTS items_job ON items(job_id, state);"
    "CREATE TABLE IF NOT EXISTS cancelled_jobs ("
    "  job_id TEXT PRIMARY KEY,"
    "  spare TEXT,"
    "  message TEXT,"
    "  time_ms INTEGER NOT NULL);";

static int
s_db_error(journal_t *self, tf_err_t *err, const char *what)
{
    return tf_err_set(err, TF_ERR_DB, "journal %s: %s: %s", self->path, what, sqlite3_errmsg(self->db));
}

/* A journal written before items had a host (issue 10) gets the column; its items keep NULL:
   any worker may run them, as when they were submitted. */
static int
s_migrate(journal_t *self, tf_err_t *err)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(self->db, "SELECT 1 FROM pragma_table_info('items') WHERE name = 'host'",
                           -1, &stmt, NULL) != SQLITE_OK)
        return s_db_error(self, err, "cannot read the items table's columns");
    int rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    if (rc == SQLITE_ROW)
        return TF_OK;
    if (rc != SQLITE_DONE)
        return s_db_error(self, err, "cannot read the items table's columns");
    if (sqlite3_exec(self->db, "ALTER TABLE items ADD COLUMN host TEXT", NULL, NULL, NULL) != SQLITE_OK)
        return s_db_error(self, err, "cannot add the host column (upgrade)");
    return TF_OK;
}

journal_t *
journal_open(const char *path, tf_err_t *err)
{
    if (tf_fs_mkdir_parent(path, err) != TF_OK)
        return NULL;
    journal_t *self = calloc(1, sizeof *self);
    if (!self || !(self->path = strdup(path))) {
        free(self);
        tf_err_set(err, TF_ERR_NOMEM, "out of memory opening journal");
        return NULL;
    }
    if (sqlite3_open_v2(path, &self->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL)
        != SQLITE_OK) {
        s_db_error(self, err, "cannot open (check the folder exists and is writable)");
        journal_destroy(&self);
        return NULL;
    }
    sqlite3_busy_timeout(self->db, 5000);
    /* WAL: readers (e.g. a diagnostic sqlite3 shell) never block the broker. synchronous=FULL:
       a state change acknowledged to a peer survives power loss, not only a process crash. */
    char *msg = NULL;
    if (sqlite3_exec(self->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL, &msg)
            != SQLITE_OK
        || sqlite3_exec(self->db, s_schema, NULL, NULL, &msg) != SQLITE_OK) {
        tf_err_set(err, TF_ERR_DB, "journal %s: cannot initialise: %s", path, msg ? msg : "?");
        sqlite3_free(msg);
        journal_destroy(&self);
        return NULL;
    }
    if (s_migrate(self, err) != TF_OK) {
        journal_destroy(&self);
        return NULL;
    }
    return self;
}

void
journal_destroy(journal_t **self_p)
{
    if (self_p && *self_p) {
        journal_t *self = *self_p;
        if (self->db)
            sqlite3_close(self->db);
        free(self->path);
        free(self);
        *self_p = NULL;
    }
}

const char *
journal_path(journal_t *self)
{
    return self->path;
}

/* Prepares sql, binds nothing; the caller binds and steps. */
static sqlite3_stmt *
s_prepare(journal_t *self, const char *sql, tf_err_t *err)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(self->db, sql, -1, &stmt, NULL) != SQLITE_OK) {
        s_db_error(self, err, "cannot prepare statement");
        return NULL;
    }
    return stmt;
}

static int
s_bind_text(sqlite3_stmt *stmt, int index, const char *text)
{
    return text ? sqlite3_bind_text(stmt, index, text, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(stmt, index);
}

static int
s_bind_blob(sqlite3_stmt *stmt, int index, const void *data, size_t size)
{
    if (!data)
        return sqlite3_bind_null(stmt, index);
    return sqlite3_bind_blob64(stmt, index, size ? data : "", size, SQLITE_TRANSIENT);
}

/* Steps an UPDATE/INSERT and checks that exactly one row changed. */
static int
s_step_one(journal_t *self, sqlite3_stmt *stmt, const char *id, const char *what, tf_err_t *err)
{
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_CONSTRAINT) {
        sqlite3_finalize(stmt);
        return tf_err_set(err, TF_ERR_STATE, "journal: item %s exists already", id);
    }
    if (rc != SQLITE_DONE) {
        s_db_error(self, err, what);
        sqlite3_finalize(stmt);
        return TF_ERR_DB;
    }
    sqlite3_finalize(stmt);
    if (sqlite3_changes(self->db) != 1)
        return tf_err_set(err, TF_ERR_NOTFOUND, "journal: no item %s", id);
    return TF_OK;
}

int
journal_insert(journal_t *self, const char *id, const char *service, const char *job_id,
               const void *payload, size_t size, int64_t now_ms, tf_err_t *err)
{
    return journal_insert_as(self, id, service, job_id, NULL, payload, size, JOURNAL_QUEUED, NULL,
                             now_ms, err);
}

int
journal_insert_as(journal_t *self, const char *id, const char *service, const char *job_id,
                  const char *host, const void *payload, size_t size, journal_state_t state,
                  const char *reason, int64_t now_ms, tf_err_t *err)
{
    sqlite3_stmt *stmt = s_prepare(self,
        "INSERT INTO items(id, service, job_id, state, reason, payload, created_ms, updated_ms, host) "
        "VALUES(?1, ?2, ?3, ?6, ?7, ?4, ?5, ?5, ?8)", err);
    if (!stmt)
        return TF_ERR_DB;
    s_bind_text(stmt, 1, id);
    s_bind_text(stmt, 2, service);
    s_bind_text(stmt, 3, job_id);
    s_bind_blob(stmt, 4, payload, size);
    sqlite3_bind_int64(stmt, 5, now_ms);
    sqlite3_bind_int(stmt, 6, (int) state);
    s_bind_text(stmt, 7, reason);
    s_bind_text(stmt, 8, host && *host ? host : NULL);
    return s_step_one(self, stmt, id, "cannot insert item", err);
}

int
journal_mark_inflight(journal_t *self, const char *id, const char *worker, int64_t attempts,
                      int64_t now_ms, tf_err_t *err)
{
    sqlite3_stmt *stmt = s_prepare(self,
        "UPDATE items SET state = 1, worker = ?2, attempts = ?3, updated_ms = ?4 "
        "WHERE id = ?1 AND state IN (0, 1)", err);
    if (!stmt)
        return TF_ERR_DB;
    s_bind_text(stmt, 1, id);
    s_bind_text(stmt, 2, worker);
    sqlite3_bind_int64(stmt, 3, attempts);
    sqlite3_bind_int64(stmt, 4, now_ms);
    return s_step_one(self, stmt, id, "cannot mark item in flight", err);
}

int
journal_mark_queued(journal_t *self, const char *id, int64_t attempts, int64_t now_ms, tf_err_t *err)
{
    sqlite3_stmt *stmt = s_prepare(self,
        "UPDATE items SET state = 0, worker = NULL, attempts = ?2, updated_ms = ?3 "
        "WHERE id = ?1 AND state IN (0, 1)", err);
    if (!stmt)
        return TF_ERR_DB;
    s_bind_text(stmt, 1, id);
    sqlite3_bind_int64(stmt, 2, attempts);
    sqlite3_bind_int64(stmt, 3, now_ms);
    return s_step_one(self, stmt, id, "cannot requeue item", err);
}

int
journal_mark_done(journal_t *self, const char *id, const void *result, size_t size, int64_t now_ms,
                  tf_err_t *err)
{
    /* Only a pending item can become done: a second completion changes nothing. */
    sqlite3_stmt *stmt = s_prepare(self,
        "UPDATE items SET state = 2, result = ?2, reason = NULL, payload = NULL, updated_ms = ?3 "
        "WHERE id = ?1 AND state IN (0, 1)", err);
    if (!stmt)
        return TF_ERR_DB;
    s_bind_text(stmt, 1, id);
    s_bind_blob(stmt, 2, result, size);
    sqlite3_bind_int64(stmt, 3, now_ms);
    return s_step_one(self, stmt, id, "cannot mark item done", err);
}

int
journal_mark_failed(journal_t *self, const char *id, const char *reason, int64_t now_ms, tf_err_t *err)
{
    sqlite3_stmt *stmt = s_prepare(self,
        "UPDATE items SET state = 3, reason = ?2, updated_ms = ?3 WHERE id = ?1 AND state IN (0, 1)",
        err);
    if (!stmt)
        return TF_ERR_DB;
    s_bind_text(stmt, 1, id);
    s_bind_text(stmt, 2, reason);
    sqlite3_bind_int64(stmt, 3, now_ms);
    return s_step_one(self, stmt, id, "cannot mark item failed", err);
}

static char *
s_column_text(sqlite3_stmt *stmt, int col)
{
    const unsigned char *text = sqlite3_column_text(stmt, col);
    return text ? strdup((const char *) text) : NULL;
}

static int
s_column_blob(sqlite3_stmt *stmt, int col, tf_bytes_t *out)
{
    out->data = NULL;
    out->size = 0;
    if (sqlite3_column_type(stmt, col) == SQLITE_NULL)
        return TF_OK;
    const void *blob = sqlite3_column_blob(stmt, col);
    int size = sqlite3_column_bytes(stmt, col);
    out->data = malloc(size > 0 ? (size_t) size : 1);
    if (!out->data)
        return TF_ERR_NOMEM;
    if (size > 0)
        memcpy(out->data, blob, (size_t) size);
    out->size = (size_t) size;
    return TF_OK;
}

static void
s_read_row(sqlite3_stmt *stmt, journal_row_t *row)
{
    row->seq = sqlite3_column_int64(stmt, 0);
    row->id = s_column_text(stmt, 1);
    row->service = s_column_text(stmt, 2);
    row->job_id = s_column_text(stmt, 3);
    row->state = (journal_state_t) sqlite3_column_int(stmt, 4);
    row->attempts = sqlite3_column_int64(stmt, 5);
    row->worker = s_column_text(stmt, 6);
    row->reason = s_column_text(stmt, 7);
    row->created_ms = sqlite3_column_int64(stmt, 8);
    row->updated_ms = sqlite3_column_int64(stmt, 9);
    row->host = s_column_text(stmt, 10);
}

int
journal_get(journal_t *self, const char *id, journal_row_t *row, tf_err_t *err)
{
    memset(row, 0, sizeof *row);
    sqlite3_stmt *stmt = s_prepare(self,
        "SELECT seq, id, service, job_id, state, attempts, worker, reason, created_ms, updated_ms, "
        "host, payload, result FROM items WHERE id = ?1", err);
    if (!stmt)
        return TF_ERR_DB;
    s_bind_text(stmt, 1, id);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) {
        sqlite3_finalize(stmt);
        return tf_err_set(err, TF_ERR_NOTFOUND, "no item %s", id);
    }
    if (rc != SQLITE_ROW) {
        s_db_error(self, err, "cannot read item");
        sqlite3_finalize(stmt);
        return TF_ERR_DB;
    }
    s_read_row(stmt, row);
    int brc = s_column_blob(stmt, 11, &row->payload);
    if (brc == TF_OK)
        brc = s_column_blob(stmt, 12, &row->result);
    sqlite3_finalize(stmt);
    if (brc != TF_OK || !row->id) {
        journal_row_clear(row);
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory reading item %s", id);
    }
    return TF_OK;
}

int
journal_load_pending(journal_t *self, journal_row_fn *fn, void *arg, tf_err_t *err)
{
    sqlite3_stmt *stmt = s_prepare(self,
        "SELECT seq, id, service, job_id, state, attempts, worker, reason, created_ms, updated_ms, "
        "host FROM items WHERE state IN (0, 1) ORDER BY seq", err);
    if (!stmt)
        return TF_ERR_DB;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        journal_row_t row = {0};
        s_read_row(stmt, &row);
        int frc = fn(&row, arg);
        journal_row_clear(&row);
        if (frc != TF_OK) {
            sqlite3_finalize(stmt);
            return frc;
        }
    }
    if (rc != SQLITE_DONE) {
        s_db_error(self, err, "cannot load pending items");
        sqlite3_finalize(stmt);
        return TF_ERR_DB;
    }
    sqlite3_finalize(stmt);
    return TF_OK;
}

int
journal_purge(journal_t *self, int64_t cutoff_ms, tf_err_t *err)
{
    sqlite3_stmt *stmt = s_prepare(self, "DELETE FROM cancelled_jobs WHERE time_ms < ?1", err);
    if (!stmt)
        return TF_ERR_DB;
    sqlite3_bind_int64(stmt, 1, cutoff_ms);
    int step = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    if (step != SQLITE_DONE)
        return s_db_error(self, err, "cannot purge cancelled jobs");
    stmt = s_prepare(self, "DELETE FROM items WHERE state IN (2, 3, 4) AND updated_ms < ?1", err);
    if (!stmt)
        return TF_ERR_DB;
    sqlite3_bind_int64(stmt, 1, cutoff_ms);
    if (sqlite3_step(stmt) != SQLITE_DONE) {
        s_db_error(self, err, "cannot purge finished items");
        sqlite3_finalize(stmt);
        return TF_ERR_DB;
    }
    sqlite3_finalize(stmt);
    return sqlite3_changes(self->db);
}

void
journal_row_clear(journal_row_t *row)
{
    if (!row)
        return;
    free(row->id);
    free(row->service);
    free(row->job_id);
    free(row->worker);
    free(row->reason);
    free(row->host);
    free(row->payload.data);
    free(row->result.data);
    memset(row, 0, sizeof *row);
}

const char *
journal_state_name(journal_state_t state)
{
    switch (state) {
    case JOURNAL_QUEUED: return "queued";
    case JOURNAL_INFLIGHT: return "inflight";
    case JOURNAL_DONE: return "done";
    case JOURNAL_FAILED: return "failed";
    case JOURNAL_CANCELLED: return "cancelled";
    }
    return "unknown";
}

/* ------------------------------------------------------------------ job actions ------- */

int
journal_mark_cancelled(journal_t *self, const char *id, const char *reason, int64_t now_ms,
                       tf_err_t *err)
{
    sqlite3_stmt *stmt = s_prepare(self,
        "UPDATE items SET state = 4, reason = ?2, updated_ms = ?3 WHERE id = ?1 AND state IN (0, 1)",
        err);
    if (!stmt)
        return TF_ERR_DB;
    s_bind_text(stmt, 1, id);
    s_bind_text(stmt, 2, reason);
    sqlite3_bind_int64(stmt, 3, now_ms);
    return s_step_one(self, stmt, id, "cannot mark item cancelled", err);
}

int
journal_mark_done_late(journal_t *self, const char *id, const void *result, size_t size,
                       int64_t now_ms, tf_err_t *err)
{
    sqlite3_stmt *stmt = s_prepare(self,
        "UPDATE items SET state = 2, result = ?2, reason = NULL, payload = NULL, updated_ms = ?3 "
        "WHERE id = ?1 AND state = 4", err);
    if (!stmt)
        return TF_ERR_DB;
    s_bind_text(stmt, 1, id);
    s_bind_blob(stmt, 2, result, size);
    sqlite3_bind_int64(stmt, 3, now_ms);
    return s_step_one(self, stmt, id, "cannot mark item done", err);
}

int
journal_mark_requeued(journal_t *self, const char *id, int64_t now_ms, tf_err_t *err)
{
    sqlite3_stmt *stmt = s_prepare(self,
        "UPDATE items SET state = 0, attempts = 0, worker = NULL, reason = NULL, updated_ms = ?2 "
        "WHERE id = ?1 AND state IN (3, 4)", err);
    if (!stmt)
        return TF_ERR_DB;
    s_bind_text(stmt, 1, id);
    sqlite3_bind_int64(stmt, 2, now_ms);
    return s_step_one(self, stmt, id, "cannot queue item again", err);
}

int
journal_forget(journal_t *self, const char *id, tf_err_t *err)
{
    sqlite3_stmt *stmt = s_prepare(self, "DELETE FROM items WHERE id = ?1 AND state IN (2, 3, 4)", err);
    if (!stmt)
        return TF_ERR_DB;
    s_bind_text(stmt, 1, id);
    int rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    return rc == SQLITE_DONE ? TF_OK : s_db_error(self, err, "cannot forget item");
}

int
journal_load_job(journal_t *self, const char *job_id, journal_state_t state, journal_row_fn *fn,
                 void *arg, tf_err_t *err)
{
    sqlite3_stmt *stmt = s_prepare(self,
        "SELECT seq, id, service, job_id, state, attempts, worker, reason, created_ms, updated_ms, "
        "host FROM items WHERE job_id = ?1 AND state = ?2 ORDER BY seq", err);
    if (!stmt)
        return TF_ERR_DB;
    s_bind_text(stmt, 1, job_id);
    sqlite3_bind_int(stmt, 2, (int) state);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        journal_row_t row = {0};
        s_read_row(stmt, &row);
        int frc = fn(&row, arg);
        journal_row_clear(&row);
        if (frc != TF_OK) {
            sqlite3_finalize(stmt);
            return frc;
        }
    }
    sqlite3_finalize(stmt);
    return rc == SQLITE_DONE ? TF_OK : s_db_error(self, err, "cannot load the job's items");
}

int
journal_job_cancelled_set(journal_t *self, const char *job_id, const char *spare,
                          const char *message, int64_t now_ms, tf_err_t *err)
{
    sqlite3_stmt *stmt = s_prepare(self,
        "INSERT INTO cancelled_jobs(job_id, spare, message, time_ms) VALUES(?1, ?2, ?3, ?4) "
        "ON CONFLICT(job_id) DO UPDATE SET spare = excluded.spare, message = excluded.message, "
        "  time_ms = excluded.time_ms", err);
    if (!stmt)
        return TF_ERR_DB;
    s_bind_text(stmt, 1, job_id);
    s_bind_text(stmt, 2, spare);
    s_bind_text(stmt, 3, message);
    sqlite3_bind_int64(stmt, 4, now_ms);
    int rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    return rc == SQLITE_DONE ? TF_OK : s_db_error(self, err, "cannot record the cancelled job");
}

int
journal_job_cancelled_clear(journal_t *self, const char *job_id, tf_err_t *err)
{
    sqlite3_stmt *stmt = s_prepare(self, "DELETE FROM cancelled_jobs WHERE job_id = ?1", err);
    if (!stmt)
        return TF_ERR_DB;
    s_bind_text(stmt, 1, job_id);
    int rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    return rc == SQLITE_DONE ? TF_OK : s_db_error(self, err, "cannot clear the cancelled job");
}

int
journal_load_cancelled(journal_t *self, journal_cancelled_fn *fn, void *arg, tf_err_t *err)
{
    sqlite3_stmt *stmt = s_prepare(self, "SELECT job_id, spare FROM cancelled_jobs", err);
    if (!stmt)
        return TF_ERR_DB;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *job = (const char *) sqlite3_column_text(stmt, 0);
        const char *spare = (const char *) sqlite3_column_text(stmt, 1);
        int frc = fn(job ? job : "", spare ? spare : "", arg);
        if (frc != TF_OK) {
            sqlite3_finalize(stmt);
            return frc;
        }
    }
    sqlite3_finalize(stmt);
    return rc == SQLITE_DONE ? TF_OK : s_db_error(self, err, "cannot load cancelled jobs");
}
