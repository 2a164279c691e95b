/*  catalog - schema, item handling and job state of the backup catalog (see catalog.h and
    docs/catalog.md). Queries live in catalog_query.c. */
#include "catalog_priv.h"
#include "tf_units.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_clock.h"
#include "tf_fs.h"
#include "tf_log.h"

#define S_SCHEMA_VERSION 1

/* Unsigned 64-bit values are stored as SQLite's signed integers bit for bit. */
static const char s_schema[] =
    "CREATE TABLE IF NOT EXISTS jobs ("
    "  job_id TEXT PRIMARY KEY,"
    "  defined INTEGER NOT NULL DEFAULT 0,"          /* the create op arrived */
    "  status TEXT NOT NULL DEFAULT 'queued',"       /* queued|running|completed|
                                                        completed_with_warnings|failed|cancelled|expired */
    "  stage TEXT,"
    "  stage_ms INTEGER NOT NULL DEFAULT 0,"         /* time of the stage op that set stage */
    "  message TEXT,"
    "  detail TEXT,"
    "  pool TEXT,"
    "  compression TEXT,"
    "  created_ms INTEGER NOT NULL DEFAULT 0,"
    "  updated_ms INTEGER NOT NULL DEFAULT 0,"
    "  completed_ms INTEGER,"
    "  scanned INTEGER NOT NULL DEFAULT 0,"
    "  files_total INTEGER NOT NULL DEFAULT 0,"
    "  bytes_total INTEGER NOT NULL DEFAULT 0,"
    "  groups_total INTEGER NOT NULL DEFAULT 0,"
    "  warnings INTEGER NOT NULL DEFAULT 0,"
    "  files_done INTEGER NOT NULL DEFAULT 0,"      /* sums over written archives */
    "  bytes_done INTEGER NOT NULL DEFAULT 0,"
    "  archives_written INTEGER NOT NULL DEFAULT 0"
    ");"
    "CREATE INDEX IF NOT EXISTS jobs_created ON jobs(created_ms, job_id);"
    "CREATE TABLE IF NOT EXISTS job_paths ("
    "  job_id TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  path TEXT NOT NULL,"
    "  PRIMARY KEY (job_id, seq)"
    ") WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS archives ("
    "  archive_id TEXT PRIMARY KEY,"
    "  job_id TEXT NOT NULL,"
    "  group_no INTEGER NOT NULL DEFAULT 0,"
    "  written INTEGER NOT NULL DEFAULT 0,"
    "  volume TEXT,"
    "  drive TEXT,"
    "  tape_file INTEGER,"
    "  block INTEGER,"
    "  blocks INTEGER,"
    "  size INTEGER,"
    "  checksum TEXT,"
    "  files INTEGER NOT NULL DEFAULT 0,"            /* entries the archive holds */
    "  bytes INTEGER NOT NULL DEFAULT 0,"
    "  file_rows INTEGER NOT NULL DEFAULT 0,"        /* file rows recorded so far */
    "  written_ms INTEGER"
    ");"
    "CREATE INDEX IF NOT EXISTS archives_job ON archives(job_id, group_no);"
    "CREATE INDEX IF NOT EXISTS archives_tape ON archives(volume, tape_file);"
    "CREATE TABLE IF NOT EXISTS files ("
    "  id INTEGER PRIMARY KEY,"
    "  archive_id TEXT NOT NULL,"
    "  job_id TEXT NOT NULL,"
    "  path TEXT NOT NULL,"
    "  type TEXT NOT NULL,"
    "  size INTEGER NOT NULL DEFAULT 0,"
    "  mtime INTEGER NOT NULL DEFAULT 0,"
    "  mode INTEGER NOT NULL DEFAULT 0,"
    "  uid INTEGER NOT NULL DEFAULT 0,"
    "  gid INTEGER NOT NULL DEFAULT 0,"
    "  user TEXT,"
    "  grp TEXT,"
    "  checksum TEXT,"
    "  offset INTEGER NOT NULL DEFAULT 0,"
    "  link TEXT,"
    "  mtime_nsec INTEGER NOT NULL DEFAULT 0,"       /* nanoseconds of mtime */
    "  UNIQUE (archive_id, path)"                    /* exactly one entry per file */
    ");"
    "CREATE INDEX IF NOT EXISTS files_job_path ON files(job_id, path);"
    /* Tape volumes (docs/catalog.md, "Volumes"): what the tape writer and 'tapeflow tape'
       report. The state stored is appendable (full = 0), full (1) or error (2: write errors,
       not written to until 'tapeflow tape clear'); expired is computed when queried. */
    "CREATE TABLE IF NOT EXISTS volumes ("
    "  label TEXT PRIMARY KEY,"
    "  pool TEXT NOT NULL,"
    "  full INTEGER NOT NULL DEFAULT 0,"
    "  media_type TEXT,"
    "  created_ms INTEGER NOT NULL DEFAULT 0,"       /* the label's generation */
    "  expires_ms INTEGER NOT NULL DEFAULT 0,"       /* 0 = nothing written, no expiry */
    "  bytes_used INTEGER NOT NULL DEFAULT 0,"
    "  last_written_ms INTEGER NOT NULL DEFAULT 0,"
    "  write_errors INTEGER NOT NULL DEFAULT 0,"
    "  read_errors INTEGER NOT NULL DEFAULT 0,"
    "  tape_files INTEGER NOT NULL DEFAULT 0,"
    "  drive TEXT,"
    "  updated_ms INTEGER NOT NULL DEFAULT 0"
    ") WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS volumes_pool ON volumes(pool, label);"
    /* The pieces of an archive that spans volumes, in archive order (docs/catalog.md). */
    "CREATE TABLE IF NOT EXISTS segments ("
    "  archive_id TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"                        /* from 1 */
    "  volume TEXT NOT NULL,"
    "  tape_file INTEGER NOT NULL,"
    "  block INTEGER NOT NULL DEFAULT 0,"
    "  offset INTEGER NOT NULL,"                     /* archive byte offset of the first data byte */
    "  length INTEGER NOT NULL,"
    "  PRIMARY KEY (archive_id, seq)"
    ") WITHOUT ROWID;"
    /* Problems with single entries the compressor reported (docs/catalog.md, "Missing
       entries"): missing = the entry is in no archive (vanished, unreadable). */
    "CREATE TABLE IF NOT EXISTS entry_warnings ("
    "  archive_id TEXT NOT NULL,"
    "  path TEXT NOT NULL,"                          /* as scanned (absolute) */
    "  job_id TEXT NOT NULL,"
    "  reason TEXT,"
    "  missing INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (archive_id, path)"
    ") WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS entry_warnings_job ON entry_warnings(job_id, missing, path);"
    /* One row per host scan of a job whose sources are on several hosts (HOST:/path; a job
       scanned once without a host has none): its groups are group_base+1 ..
       group_base+groups_total. The job's totals are their sums. */
    "CREATE TABLE IF NOT EXISTS job_scans ("
    "  job_id TEXT NOT NULL,"
    "  host TEXT NOT NULL,"
    "  group_base INTEGER NOT NULL DEFAULT 0,"
    "  groups_total INTEGER NOT NULL DEFAULT 0,"
    "  files_total INTEGER NOT NULL DEFAULT 0,"
    "  bytes_total INTEGER NOT NULL DEFAULT 0,"
    "  warnings INTEGER NOT NULL DEFAULT 0,"
    "  message TEXT,"
    "  PRIMARY KEY (job_id, host)"
    ") WITHOUT ROWID;"
    /* Issue 11. The manifest of a job: every entry its scans saw (stat and xattrs), why it was
       taken, and which job's archive holds its content (data_job; NULL with deleted = 1: a
       tombstone - in the base job, gone in this one). path is absolute, as scanned; host ''
       for a job's only scan. docs/catalog.md, "Manifests". */
    "CREATE TABLE IF NOT EXISTS manifest ("
    "  job_id TEXT NOT NULL,"
    "  host TEXT NOT NULL DEFAULT '',"
    "  path TEXT NOT NULL,"
    "  type TEXT NOT NULL,"
    "  size INTEGER NOT NULL DEFAULT 0,"
    "  mtime_ns INTEGER NOT NULL DEFAULT 0,"
    "  ctime_ns INTEGER NOT NULL DEFAULT 0,"
    "  ino INTEGER NOT NULL DEFAULT 0,"
    "  mode INTEGER NOT NULL DEFAULT 0,"
    "  uid INTEGER NOT NULL DEFAULT 0,"
    "  gid INTEGER NOT NULL DEFAULT 0,"
    "  nlink INTEGER NOT NULL DEFAULT 0,"
    "  xattrs TEXT,"
    "  fs TEXT,"
    "  reason TEXT,"
    "  data_job TEXT,"
    "  deleted INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (job_id, host, path)"
    ") WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS manifest_data ON manifest(data_job, job_id);"
    /* The scans of a job whose manifest is complete (op end arrived): a base must have one for
       each of its hosts, or its manifest "cannot be read". */
    "CREATE TABLE IF NOT EXISTS manifest_scans ("
    "  job_id TEXT NOT NULL,"
    "  host TEXT NOT NULL DEFAULT '',"
    "  entries INTEGER NOT NULL DEFAULT 0,"
    "  deleted INTEGER NOT NULL DEFAULT 0,"
    "  renamed INTEGER NOT NULL DEFAULT 0,"
    "  ended_ms INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (job_id, host)"
    ") WITHOUT ROWID;"
    /* The scan runs of a job's host (run: the scanner's token, seq: 1, 2, ... in the order
       their begin arrived). The run with the highest seq is current: a diff or end of another
       run is refused, so an older attempt (a retried job, an abandoned worker) cannot mix
       its rows or its end into the current scan's manifest. */
    "CREATE TABLE IF NOT EXISTS manifest_runs ("
    "  job_id TEXT NOT NULL,"
    "  host TEXT NOT NULL DEFAULT '',"
    "  run TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  begun_ms INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (job_id, host, run)"
    ") WITHOUT ROWID;"
    /* One row per schedule and scheduled instant (UTC ms): the unique key that makes firing
       exactly once (docs/operations.md, "Schedules"). */
    "CREATE TABLE IF NOT EXISTS schedule_runs ("
    "  schedule TEXT NOT NULL,"
    "  instant_ms INTEGER NOT NULL,"
    "  kind TEXT NOT NULL,"                          /* fired|missed|skipped|queued|manual */
    "  reason TEXT,"
    "  job_id TEXT,"
    "  recorded_ms INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (schedule, instant_ms)"
    ") WITHOUT ROWID;"
    /* The jobs whose archives a job's restore reads besides its own (its manifest's data_jobs;
       catalog_chain.c): what retention and base selection ask, without reading manifests. */
    "CREATE TABLE IF NOT EXISTS job_deps ("
    "  job_id TEXT NOT NULL,"
    "  data_job TEXT NOT NULL,"
    "  PRIMARY KEY (job_id, data_job)"
    ") WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS job_deps_data ON job_deps(data_job, job_id);"
    /* Issue 12. A job's replica on one replication target (docs/catalog.md, "Replicas"): one
       row per target the job's create named (state copying) or an op recorded. archives and
       bytes: what replica_archives holds for it. */
    "CREATE TABLE IF NOT EXISTS replicas ("
    "  job_id TEXT NOT NULL,"
    "  target TEXT NOT NULL,"
    "  url TEXT,"                                    /* NULL until the replicator names it */
    "  required INTEGER NOT NULL DEFAULT 1,"
    "  state TEXT NOT NULL DEFAULT 'copying',"       /* copying|verified|failed|deleted */
    "  archives INTEGER NOT NULL DEFAULT 0,"
    "  bytes INTEGER NOT NULL DEFAULT 0,"
    "  message TEXT,"
    "  final INTEGER NOT NULL DEFAULT 0,"            /* failed: given up (optional target) */
    "  updated_ms INTEGER NOT NULL DEFAULT 0,"
    "  verified_ms INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (job_id, target)"
    ") WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS replicas_target ON replicas(target, job_id);"
    "CREATE INDEX IF NOT EXISTS replicas_state ON replicas(state, job_id);"
    /* The archives copied (and verified) to a target, as its manifest.json lists them. */
    "CREATE TABLE IF NOT EXISTS replica_archives ("
    "  job_id TEXT NOT NULL,"
    "  target TEXT NOT NULL,"
    "  archive_id TEXT NOT NULL,"
    "  group_no INTEGER NOT NULL DEFAULT 0,"
    "  size INTEGER NOT NULL DEFAULT 0,"
    "  checksum TEXT,"
    "  rows_size INTEGER NOT NULL DEFAULT 0,"
    "  rows_checksum TEXT,"
    "  files INTEGER NOT NULL DEFAULT 0,"
    "  bytes INTEGER NOT NULL DEFAULT 0,"
    "  compression TEXT,"
    "  host TEXT,"
    "  copied_ms INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (job_id, target, archive_id)"
    ") WITHOUT ROWID;";

#define S_PATH_HOST_SQL CATALOG_PATH_HOST_SQL

/* The host an archive's files came from, by its group number: the host scan whose range holds
   it (NULL for a job scanned once without a host). ?2 job, ?3 group number. */
#define S_GROUP_HOST_SQL \
    "(SELECT host FROM job_scans WHERE job_id = ?2 AND ?3 BETWEEN group_base + 1 " \
    "AND group_base + groups_total)"

/* ------------------------------------------------------------------ helpers ------------ */

int
catalog_db_error(catalog_t *self, tf_err_t *err, const char *what)
{
    int code = sqlite3_errcode(self->db);
    return tf_err_set(err, TF_ERR_DB, "catalog %s: %s: %s%s", self->path, what,
                      sqlite3_errmsg(self->db),
                      code == SQLITE_FULL ? " (the disk holding the catalog is full)" : "");
}

sqlite3_stmt *
catalog_prepare(catalog_t *self, const char *sql, tf_err_t *err)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(self->db, sql, -1, &stmt, NULL) != SQLITE_OK) {
        catalog_db_error(self, err, "cannot prepare a statement");
        return NULL;
    }
    return stmt;
}

int64_t
catalog_now(catalog_t *self)
{
    return self->clock ? self->clock(self->clock_arg) : tf_clock_wall_ms();
}

char *
catalog_column_dup(sqlite3_stmt *stmt, int col, bool *oom)
{
    const unsigned char *text = sqlite3_column_text(stmt, col);
    if (!text)
        return NULL;
    char *copy = strdup((const char *) text);
    if (!copy)
        *oom = true;
    return copy;
}

static int
s_bind_text(sqlite3_stmt *stmt, int index, const char *text)
{
    return text ? sqlite3_bind_text(stmt, index, text, -1, SQLITE_STATIC) : sqlite3_bind_null(stmt, index);
}

static int
s_bind_u64(sqlite3_stmt *stmt, int index, uint64_t value)
{
    return sqlite3_bind_int64(stmt, index, (sqlite3_int64) value);
}

/* Steps stmt to its end and finalizes it; *changes (may be NULL) gets the rows changed. */
static int
s_run(catalog_t *self, sqlite3_stmt *stmt, int bind_rc, const char *what, int *changes, tf_err_t *err)
{
    int rc = TF_OK;
    if (bind_rc != SQLITE_OK)
        rc = catalog_db_error(self, err, what);
    else {
        int s;
        while ((s = sqlite3_step(stmt)) == SQLITE_ROW)
            ;
        if (s != SQLITE_DONE)
            rc = catalog_db_error(self, err, what);
        else if (changes)
            *changes = sqlite3_changes(self->db);
    }
    sqlite3_finalize(stmt);
    return rc;
}

static int
s_exec(catalog_t *self, const char *sql, tf_err_t *err)
{
    char *msg = NULL;
    if (sqlite3_exec(self->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        tf_err_set(err, TF_ERR_DB, "catalog %s: %s: %s", self->path, sql, msg ? msg : "?");
        sqlite3_free(msg);
        return TF_ERR_DB;
    }
    return TF_OK;
}

static int
s_begin(catalog_t *self, tf_err_t *err)
{
    self->pending_count = 0;
    return s_exec(self, "BEGIN IMMEDIATE", err);
}

/* Notes a job event; published by s_end once the transaction committed. Events are for
   watching only: when memory runs out the event is dropped (logged). */
static void
s_event_add_level(catalog_t *self, const char *job_id, const char *kind, const char *stage, const char *level)
{
    if (!self->events)
        return;
    if (self->pending_count == self->pending_cap) {
        size_t cap = self->pending_cap ? self->pending_cap * 2 : 8;
        catalog_pending_t *bigger = realloc(self->pending, cap * sizeof *bigger);
        if (!bigger) {
            tf_log_warn("job %s: out of memory: event %s not published", job_id, kind);
            return;
        }
        self->pending = bigger;
        self->pending_cap = cap;
    }
    catalog_pending_t *p = &self->pending[self->pending_count++];
    snprintf(p->job_id, sizeof p->job_id, "%s", job_id);
    snprintf(p->kind, sizeof p->kind, "%s", kind);
    snprintf(p->stage, sizeof p->stage, "%s", stage ? stage : "");
    snprintf(p->level, sizeof p->level, "%s", level ? level : "");
}

static void
s_event_add(catalog_t *self, const char *job_id, const char *kind, const char *stage)
{
    s_event_add_level(self, job_id, kind, stage, NULL);
}

/* Publishes the events of the transaction that just committed, each with the job as it now is. */
static void
s_event_flush(catalog_t *self)
{
    size_t count = self->pending_count;
    self->pending_count = 0;
    for (size_t i = 0; i < count && self->events; i++) {
        const catalog_pending_t *p = &self->pending[i];
        tf_msg_cat_query_t query = {.query = "job", .job_id = (char *) p->job_id};
        tf_msg_t reply;
        tf_err_t err = {0};
        if (catalog_query(self, &query, &reply, &err) != TF_OK || reply.cat_reply.jobs_count != 1) {
            tf_log_warn("job %s: event %s not published: %s", p->job_id, p->kind,
                        err.message[0] ? err.message : "the job is not in the catalog");
            tf_msg_clear(&reply);
            continue;
        }
        /* A stage event names the stage the job moved to, even when the same transaction moved
           it on (the last archive on tape also ends the job). */
        tf_msg_job_row_t *row = &reply.cat_reply.jobs[0];
        if (p->stage[0] && (!row->stage || strcmp(row->stage, p->stage) != 0)) {
            char *stage = strdup(p->stage);
            if (stage) {
                free(row->stage);
                row->stage = stage;
            }
        }
        char topic[TF_MSG_MAX_ID + 48];
        snprintf(topic, sizeof topic, "job.%s.%s", p->job_id, p->kind);
        const char *level = p->level[0] ? p->level
                            : strcmp(p->kind, "failed") == 0 ? "error"
                            : strcmp(p->kind, "completed_with_warnings") == 0 || strcmp(p->kind, "expired") == 0
                                ? "warn"
                                : "info";
        self->events(self->events_arg, topic, level, &reply.cat_reply.jobs[0]);
        tf_msg_clear(&reply);
    }
}

/* Commits when rc is TF_OK, else rolls back; returns the first failure. Job events of the
   transaction are published after the commit (and dropped with a rollback). */
static int
s_end(catalog_t *self, int rc, tf_err_t *err)
{
    if (rc == TF_OK) {
        rc = s_exec(self, "COMMIT", err);
        if (rc == TF_OK)
            s_event_flush(self);
        else {
            tf_err_t ignored = {0};
            s_exec(self, "ROLLBACK", &ignored);
        }
        self->pending_count = 0;
        return rc;
    }
    self->pending_count = 0;
    tf_err_t ignored = {0};
    if (s_exec(self, "ROLLBACK", &ignored) != TF_OK)
        tf_log_warn("%s", ignored.message);
    return rc;
}

int
catalog_bind_text(sqlite3_stmt *stmt, int index, const char *text)
{
    return s_bind_text(stmt, index, text);
}

int
catalog_run(catalog_t *self, sqlite3_stmt *stmt, int bind_rc, const char *what, int *changes, tf_err_t *err)
{
    return s_run(self, stmt, bind_rc, what, changes, err);
}

int
catalog_begin(catalog_t *self, tf_err_t *err)
{
    return s_begin(self, err);
}

int
catalog_end(catalog_t *self, int rc, tf_err_t *err)
{
    return s_end(self, rc, err);
}

void
catalog_event_add(catalog_t *self, const char *job_id, const char *kind, const char *stage)
{
    s_event_add(self, job_id, kind, stage);
}

void
catalog_event_add_level(catalog_t *self, const char *job_id, const char *kind, const char *stage,
                        const char *level)
{
    s_event_add_level(self, job_id, kind, stage, level);
}

/* Copies text into buf, cut at a UTF-8 character boundary to fit. */
static void
s_copy_text(char *buf, size_t size, const char *text)
{
    size_t n = strlen(text);
    if (n >= size) {
        n = size - 1;
        while (n > 0 && ((unsigned char) text[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(buf, text, n);
    buf[n] = '\0';
}

void
catalog_copy_text(char *buf, size_t size, const char *text)
{
    s_copy_text(buf, size, text);
}

/* Group number from an archive id "<job>-g<NNNNN>"; 0 when it has no such suffix. */
static uint64_t
s_group_from_id(const char *archive_id)
{
    const char *g = strrchr(archive_id, '-');
    if (!g || g[1] != 'g' || !g[2])
        return 0;
    uint64_t n = 0;
    for (const char *p = g + 2; *p; p++) {
        if (*p < '0' || *p > '9' || n > UINT64_MAX / 10 - 1)
            return 0;
        n = n * 10 + (uint64_t) (*p - '0');
    }
    return n;
}

/* ------------------------------------------------------------------ open / close ------- */

/* Adds column (with its declaration) to table in catalogs written before it existed. */
static int
s_add_column(catalog_t *self, const char *table, const char *column, const char *decl, tf_err_t *err)
{
    sqlite3_stmt *stmt = catalog_prepare(self, "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2", err);
    if (!stmt)
        return TF_ERR_DB;
    int step = (s_bind_text(stmt, 1, table) | s_bind_text(stmt, 2, column)) == SQLITE_OK ? sqlite3_step(stmt)
                                                                                         : SQLITE_ERROR;
    sqlite3_finalize(stmt);
    if (step == SQLITE_ROW)
        return TF_OK;
    if (step != SQLITE_DONE)
        return catalog_db_error(self, err, "cannot read the columns of a table");
    char sql[256];
    snprintf(sql, sizeof sql, "ALTER TABLE %s ADD COLUMN %s %s", table, column, decl);
    return s_exec(self, sql, err);
}

/* Columns added after the first schema: files.mtime_nsec (0: whole seconds); jobs.scan_message
   and jobs.scan_warnings (the scan's own message and warnings, kept apart from the message
   later stages replace); archives.lost (1: its tape was recycled, the archive is gone);
   archives.host (the host its files came from, issue 10; NULL before). */
static int
s_migrate(catalog_t *self, tf_err_t *err)
{
    if (s_add_column(self, "files", "mtime_nsec", "INTEGER NOT NULL DEFAULT 0", err) != TF_OK
        || s_add_column(self, "jobs", "scan_message", "TEXT", err) != TF_OK
        || s_add_column(self, "jobs", "scan_warnings", "INTEGER NOT NULL DEFAULT 0", err) != TF_OK
        || s_add_column(self, "archives", "lost", "INTEGER NOT NULL DEFAULT 0", err) != TF_OK
        || s_add_column(self, "archives", "host", "TEXT", err) != TF_OK
        /* issue 11: levels and triggers (trigger is an SQL word: trigger_text) */
        || s_add_column(self, "jobs", "level", "TEXT", err) != TF_OK
        || s_add_column(self, "jobs", "level_requested", "TEXT", err) != TF_OK
        || s_add_column(self, "jobs", "level_reason", "TEXT", err) != TF_OK
        || s_add_column(self, "jobs", "base_job", "TEXT", err) != TF_OK
        || s_add_column(self, "jobs", "schedule", "TEXT", err) != TF_OK
        || s_add_column(self, "jobs", "trigger_text", "TEXT", err) != TF_OK
        || s_add_column(self, "jobs", "trigger_ms", "INTEGER NOT NULL DEFAULT 0", err) != TF_OK
        || s_add_column(self, "jobs", "sources_key", "TEXT", err) != TF_OK
        || s_add_column(self, "jobs", "files_unchanged", "INTEGER NOT NULL DEFAULT 0", err) != TF_OK
        || s_add_column(self, "jobs", "files_deleted", "INTEGER NOT NULL DEFAULT 0", err) != TF_OK
        /* issue 12: the replication targets the create named ("nas,offsite") and required|optional */
        || s_add_column(self, "jobs", "replicas", "TEXT", err) != TF_OK
        || s_add_column(self, "jobs", "replication", "TEXT", err) != TF_OK
        /* after archives.lost exists: the lost archives without reading every archive */
        || s_exec(self, "CREATE INDEX IF NOT EXISTS archives_lost ON archives(job_id) WHERE lost != 0", err)
               != TF_OK)
        return TF_ERR_DB;
    return TF_OK;
}

catalog_t *
catalog_open(const char *path, tf_err_t *err)
{
    if (!path || !*path) {
        tf_err_set(err, TF_ERR_INVALID, "no catalog database path (set catalog/db)");
        return NULL;
    }
    if (tf_fs_mkdir_parent(path, err) != TF_OK)
        return NULL;
    catalog_t *self = calloc(1, sizeof *self);
    if (!self || !(self->path = strdup(path))) {
        free(self);
        tf_err_set(err, TF_ERR_NOMEM, "out of memory opening the catalog");
        return NULL;
    }
    if (sqlite3_open_v2(path, &self->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        catalog_db_error(self, err, "cannot open (check the folder exists and is writable)");
        catalog_destroy(&self);
        return NULL;
    }
    sqlite3_busy_timeout(self->db, 5000);
    sqlite3_extended_result_codes(self->db, 0);
    /* WAL: readers (a sqlite3 shell, a backup of the catalog) never block the actor.
       synchronous=FULL: an item acknowledged as done survives power loss. */
    if (s_exec(self, "PRAGMA journal_mode=WAL", err) != TF_OK
        || s_exec(self, "PRAGMA synchronous=FULL", err) != TF_OK
        || s_exec(self, "PRAGMA foreign_keys=OFF", err) != TF_OK) {
        catalog_destroy(&self);
        return NULL;
    }
    sqlite3_stmt *stmt = catalog_prepare(self, "PRAGMA user_version", err);
    int version = -1;
    if (stmt && sqlite3_step(stmt) == SQLITE_ROW)
        version = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    if (version < 0) {
        if (err && err->code == TF_OK)
            catalog_db_error(self, err, "cannot read the schema version");
        catalog_destroy(&self);
        return NULL;
    }
    if (version > S_SCHEMA_VERSION) {
        tf_err_set(err, TF_ERR_STATE, "catalog %s has schema version %d, newer than this "
                   "tapeflow understands (%d): run the tapeflow that wrote it", path, version,
                   S_SCHEMA_VERSION);
        catalog_destroy(&self);
        return NULL;
    }
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version=%d", S_SCHEMA_VERSION);
    if (s_begin(self, err) != TF_OK
        || s_end(self, s_exec(self, s_schema, err) == TF_OK && s_migrate(self, err) == TF_OK
                           ? s_exec(self, sql, err) : TF_ERR_DB, err)
               != TF_OK) {
        tf_err_prefix(err, "cannot create the catalog schema: ");
        catalog_destroy(&self);
        return NULL;
    }
    return self;
}

void
catalog_destroy(catalog_t **self_p)
{
    if (self_p && *self_p) {
        catalog_t *self = *self_p;
        if (self->db && sqlite3_close(self->db) != SQLITE_OK)
            tf_log_warn("catalog %s: close: %s", self->path, sqlite3_errmsg(self->db));
        free(self->path);
        free(self->pending);
        free(self);
        *self_p = NULL;
    }
}

const char *
catalog_path(catalog_t *self)
{
    return self->path;
}

void
catalog_set_clock(catalog_t *self, catalog_clock_fn *clock, void *arg)
{
    self->clock = clock;
    self->clock_arg = arg;
}

void
catalog_set_events(catalog_t *self, catalog_event_fn *fn, void *arg)
{
    self->events = fn;
    self->events_arg = arg;
}

/* ------------------------------------------------------------------ job state ---------- */

/* The job row every op needs: created as queued when this is the first item of the job. */
static int
s_job_ensure(catalog_t *self, const char *job_id, int64_t now, tf_err_t *err)
{
    sqlite3_stmt *stmt = catalog_prepare(self,
        "INSERT INTO jobs(job_id, created_ms, updated_ms) VALUES(?1, ?2, ?2) "
        "ON CONFLICT(job_id) DO NOTHING", err);
    if (!stmt)
        return TF_ERR_DB;
    int b = s_bind_text(stmt, 1, job_id) | sqlite3_bind_int64(stmt, 2, now);
    return s_run(self, stmt, b, "cannot record the job", NULL, err);
}

/* Queued -> running (some stage reported); bumps updated_ms. */
static int
s_job_touch(catalog_t *self, const char *job_id, int64_t now, tf_err_t *err)
{
    sqlite3_stmt *stmt = catalog_prepare(self,
        "UPDATE jobs SET status = CASE WHEN status = 'queued' THEN 'running' ELSE status END, "
        "updated_ms = ?2 WHERE job_id = ?1", err);
    if (!stmt)
        return TF_ERR_DB;
    int b = s_bind_text(stmt, 1, job_id) | sqlite3_bind_int64(stmt, 2, now);
    return s_run(self, stmt, b, "cannot update the job", NULL, err);
}

/* The first few entry warnings of a job ("path: reason; ..."), skipped entries first. */
static int
s_first_warnings(catalog_t *self, const char *job_id, char *buf, size_t size, uint64_t *entry_warnings,
                 tf_err_t *err)
{
    buf[0] = '\0';
    *entry_warnings = 0;
    sqlite3_stmt *stmt = catalog_prepare(self,
        "SELECT path, reason, (SELECT count(*) FROM entry_warnings WHERE job_id = ?1) "
        "FROM entry_warnings WHERE job_id = ?1 ORDER BY missing DESC, path LIMIT 3", err);
    if (!stmt)
        return TF_ERR_DB;
    if (s_bind_text(stmt, 1, job_id) != SQLITE_OK) {
        sqlite3_finalize(stmt);
        return catalog_db_error(self, err, "cannot read the job's warnings");
    }
    int s;
    size_t used = 0;
    while ((s = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *path = (const char *) sqlite3_column_text(stmt, 0);
        const char *reason = (const char *) sqlite3_column_text(stmt, 1);
        *entry_warnings = (uint64_t) sqlite3_column_int64(stmt, 2);
        if (used + 1 < size) {
            int n = snprintf(buf + used, size - used, "%s%s: %s", used ? "; " : "", path ? path : "?",
                             reason && *reason ? reason : "skipped");
            used = n > 0 && (size_t) n < size - used ? used + (size_t) n : size - 1;
        }
    }
    if (*entry_warnings > 3 && used + 6 < size)
        strcat(buf, "; ...");
    sqlite3_finalize(stmt);
    return s == SQLITE_DONE ? TF_OK : catalog_db_error(self, err, "cannot read the job's warnings");
}

/* The reason of a manifest entry the job's scan took that none of its archives holds. */
#define S_NOT_STORED_NO_ARCHIVE "not stored: no archive of the job holds it"

/* Entries the job's scans took (data_job = the job) that no archive of the job holds - a
   rescan took other entries than the archives of an earlier attempt that the broker
   deduplicated - lose their data_job, so the next incremental takes them again and a restore
   does not look for them. *count: the job's entries with that reason (a check made again
   counts the same). */
static int
s_mark_unstored(catalog_t *self, const char *job_id, uint64_t *count, tf_err_t *err)
{
    *count = 0;
    sqlite3_stmt *stmt = catalog_prepare(self,
        "UPDATE manifest SET data_job = NULL, reason = '" S_NOT_STORED_NO_ARCHIVE "' "
        "WHERE job_id = ?1 AND data_job = ?1 AND deleted = 0 AND NOT EXISTS (SELECT 1 FROM files f "
        "  JOIN archives a ON a.archive_id = f.archive_id WHERE f.job_id = ?1 "
        "    AND f.path = " CATALOG_STORED_SQL("manifest.path") " "
        "    AND (manifest.host = '' OR a.host IS NULL OR a.host = manifest.host))", err);
    if (!stmt)
        return TF_ERR_DB;
    int rc = s_run(self, stmt, s_bind_text(stmt, 1, job_id), "cannot check the job's manifest against its "
                   "archives", NULL, err);
    if (rc != TF_OK)
        return rc;
    stmt = catalog_prepare(self, "SELECT count(*) FROM manifest WHERE job_id = ?1 AND deleted = 0 "
                           "AND reason = '" S_NOT_STORED_NO_ARCHIVE "'", err);
    if (!stmt)
        return TF_ERR_DB;
    if (s_bind_text(stmt, 1, job_id) != SQLITE_OK || sqlite3_step(stmt) != SQLITE_ROW)
        rc = catalog_db_error(self, err, "cannot count the job's entries in no archive");
    else
        *count = (uint64_t) sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return rc;
}

/* The tape side of a job is done, its replicas are not: it stays running, in stage replicate,
   with progress as its message ("on tape; replicating to nas (2 of 3 archives)"). Changes
   nothing (and publishes nothing) when that is what the job shows already. */
static int
s_job_replicating(catalog_t *self, const char *job_id, const char *progress, int64_t now, tf_err_t *err)
{
    int moved = 0, changes = 0;
    sqlite3_stmt *stmt = catalog_prepare(self, "SELECT stage IS NOT 'replicate' FROM jobs WHERE job_id = ?1", err);
    if (!stmt)
        return TF_ERR_DB;
    if (s_bind_text(stmt, 1, job_id) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW)
        moved = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    stmt = catalog_prepare(self,
        "UPDATE jobs SET status = 'running', stage = 'replicate', stage_ms = MAX(stage_ms, ?3), message = ?2, "
        "  updated_ms = ?3 "
        "WHERE job_id = ?1 AND status IN ('queued', 'running') "
        "  AND (stage IS NOT 'replicate' OR message IS NOT ?2)", err);
    if (!stmt)
        return TF_ERR_DB;
    int rc = s_run(self, stmt, s_bind_text(stmt, 1, job_id) | s_bind_text(stmt, 2, progress)
                   | sqlite3_bind_int64(stmt, 3, now), "cannot record the job's replication progress", &changes, err);
    if (rc == TF_OK && changes > 0 && moved)
        s_event_add(self, job_id, "stage", "replicate");
    return rc;
}

/* Ends the job when it is scanned and every group 1..groups_total has a written archive with
   all its file rows: completed; completed_with_warnings when entries are missing (files_done
   below files_total) or anything warned; failed when the scan counted entries and no archive
   stored any of them. refresh: entry warnings arrived for a job that already ended this way
   (an archive that stored nothing can be on tape before its part 1): its outcome and message
   are made again, with an event only when the status changes. */
static int
s_job_check_complete(catalog_t *self, const char *job_id, int64_t now, bool refresh, tf_err_t *err)
{
    sqlite3_stmt *stmt = catalog_prepare(self,
        "SELECT j.status, j.scanned, j.groups_total, j.warnings, j.files_done, j.bytes_done, "
        "  j.archives_written, j.scan_message, "
        "  (SELECT count(DISTINCT a.group_no) FROM archives a WHERE a.job_id = j.job_id "
        "     AND a.written = 1 AND a.lost = 0 AND a.file_rows >= a.files "
        "     AND " CATALOG_GROUP_OF_JOB_SQL("a", "j") "), "
        "  j.files_total, j.completed_ms IS NOT NULL, j.scan_warnings, "
        "  COALESCE(j.replicas, '') != '' "
        "FROM jobs j WHERE j.job_id = ?1", err);
    if (!stmt)
        return TF_ERR_DB;
    if (s_bind_text(stmt, 1, job_id) != SQLITE_OK) {
        sqlite3_finalize(stmt);
        return catalog_db_error(self, err, "cannot check the job");
    }
    int s = sqlite3_step(stmt);
    if (s != SQLITE_ROW) {
        sqlite3_finalize(stmt);
        return s == SQLITE_DONE ? TF_OK : catalog_db_error(self, err, "cannot check the job");
    }
    const char *status = (const char *) sqlite3_column_text(stmt, 0);
    bool open = status && (strcmp(status, "queued") == 0 || strcmp(status, "running") == 0);
    bool scanned = sqlite3_column_int(stmt, 1) != 0;
    uint64_t groups = (uint64_t) sqlite3_column_int64(stmt, 2);
    uint64_t warnings = (uint64_t) sqlite3_column_int64(stmt, 3);
    uint64_t files = (uint64_t) sqlite3_column_int64(stmt, 4);
    uint64_t bytes = (uint64_t) sqlite3_column_int64(stmt, 5);
    uint64_t archives = (uint64_t) sqlite3_column_int64(stmt, 6);
    /* The scan's own message and warnings (later stages replace the job's message). */
    const char *scan_message = (const char *) sqlite3_column_text(stmt, 7);
    uint64_t complete = (uint64_t) sqlite3_column_int64(stmt, 8);
    uint64_t files_total = (uint64_t) sqlite3_column_int64(stmt, 9);
    uint64_t scan_warnings = (uint64_t) sqlite3_column_int64(stmt, 11);
    bool replicated = sqlite3_column_int(stmt, 12) != 0;   /* the job has replication targets */
    /* Ended by this check before (completed_ms set; a stage's failure or an expiry is left alone). */
    bool ended = sqlite3_column_int(stmt, 10) != 0 && status
                 && (strcmp(status, "completed") == 0 || strcmp(status, "completed_with_warnings") == 0
                     || strcmp(status, "failed") == 0);
    char was[32];
    snprintf(was, sizeof was, "%s", status ? status : "");
    /* Cancelled while its last archives were going to tape (the cancel was recorded first): it
       stays cancelled, and says that all of it is on tape (tapeflow restore works). */
    if (!refresh && status && strcmp(status, "cancelled") == 0 && scanned && complete >= groups) {
        sqlite3_finalize(stmt);
        char note[160];
        snprintf(note, sizeof note, "; all %" PRIu64 " archive%s of this job reached tape (restore with: "
                 "tapeflow restore %s)", archives, archives == 1 ? "" : "s", job_id);
        stmt = catalog_prepare(self,
            "UPDATE jobs SET message = substr(COALESCE(message, 'cancelled') || ?2, 1, ?4), updated_ms = ?3 "
            "WHERE job_id = ?1 AND status = 'cancelled' AND instr(COALESCE(message, ''), ' reached tape (') = 0",
            err);
        if (!stmt)
            return TF_ERR_DB;
        return s_run(self, stmt, s_bind_text(stmt, 1, job_id) | s_bind_text(stmt, 2, note)
                     | sqlite3_bind_int64(stmt, 3, now) | sqlite3_bind_int(stmt, 4, TF_MSG_MAX_TEXT - 1),
                     "cannot note the cancelled job's archives", NULL, err);
    }
    if (refresh ? !ended : (!open || !scanned || complete < groups)) {
        sqlite3_finalize(stmt);
        return TF_OK;
    }
    char first[1024];
    uint64_t entry_warnings = 0, unstored = 0;
    int rc = s_first_warnings(self, job_id, first, sizeof first, &entry_warnings, err);
    if (rc == TF_OK)
        rc = s_mark_unstored(self, job_id, &unstored, err);
    if (rc != TF_OK) {
        sqlite3_finalize(stmt);
        return rc;
    }
    uint64_t missing = files < files_total ? files_total - files : 0;
    const char *outcome = "completed", *stage = "catalog", *detail = NULL;
    char size[32], text[8192], message[TF_MSG_MAX_TEXT], scan_part[TF_MSG_MAX_TEXT + 16] = "";
    if (scan_warnings > 0 && scan_message && *scan_message)
        snprintf(scan_part, sizeof scan_part, "; scan: %s", scan_message);
    char unstored_part[TF_MSG_MAX_ID + 96] = "";
    if (unstored > 0)
        snprintf(unstored_part, sizeof unstored_part, "; %" PRIu64 " entr%s the scan took %s in no archive: "
                 "tapeflow job %s --files", unstored, unstored == 1 ? "y" : "ies", unstored == 1 ? "is" : "are",
                 job_id);
    if (files_total > 0 && files == 0) {
        /* Nothing at all was stored: not a backup. */
        outcome = "failed";
        stage = "compress";
        detail = first[0] ? first : "no archive stored any of the scanned entries";
        snprintf(text, sizeof text, "failed: none of the %" PRIu64 " scanned entries could be stored "
                 "(%" PRIu64 " missing; list them with: tapeflow job %s --missing)%s%s%s", files_total,
                 missing, job_id, first[0] ? "; " : "", first, scan_part);
    }
    else if (missing > 0) {
        outcome = "completed_with_warnings";
        snprintf(text, sizeof text, "completed with warnings: %" PRIu64 " of %" PRIu64 " files missing "
                 "(list them with: tapeflow job %s --missing); %" PRIu64 " warning%s: %s%s", missing,
                 files_total, job_id, warnings, warnings == 1 ? "" : "s",
                 first[0] ? first : "see the compressor's log", scan_part);
    }
    else if (warnings > 0) {
        outcome = "completed_with_warnings";
        if (first[0])
            snprintf(text, sizeof text, "completed with %" PRIu64 " warning%s: %s%s", warnings,
                     warnings == 1 ? "" : "s", first, scan_part);
        else if (scan_warnings > 0 && scan_message && *scan_message)
            snprintf(text, sizeof text, "completed with %" PRIu64 " warning%s: %s", warnings,
                     warnings == 1 ? "" : "s", scan_message);
        else
            snprintf(text, sizeof text, "completed: %" PRIu64 " file%s, %s in %" PRIu64 " archive%s (with "
                     "warnings)", files, files == 1 ? "" : "s", tf_units_bytes(bytes, size, sizeof size),
                     archives, archives == 1 ? "" : "s");
    }
    else if (unstored > 0) {
        outcome = "completed_with_warnings";
        snprintf(text, sizeof text, "completed with warnings: %s", unstored_part + 2);
    }
    else
        snprintf(text, sizeof text, "completed: %" PRIu64 " file%s, %s in %" PRIu64 " archive%s",
                 files, files == 1 ? "" : "s", tf_units_bytes(bytes, size, sizeof size), archives,
                 archives == 1 ? "" : "s");
    /* Never "completed" while the manifest says this job holds entries it does not. */
    if (unstored > 0 && (missing > 0 || warnings > 0 || strcmp(outcome, "failed") == 0)) {
        size_t used = strlen(text);
        snprintf(text + used, sizeof text - used, "%s", unstored_part);
    }
    /* Issue 12: a backup with replication targets ends once each replica is verified (or an
       optional one gave up); until then it is on tape and stays running in stage replicate. */
    if (replicated && strcmp(outcome, "failed") != 0) {
        bool done = false, warn = false;
        char suffix[TF_MSG_MAX_TEXT], progress[TF_MSG_MAX_TEXT];
        rc = catalog_replica_gate(self, job_id, &done, &warn, suffix, sizeof suffix, progress, sizeof progress,
                                  err);
        if (rc != TF_OK || (!done && !refresh)) {
            sqlite3_finalize(stmt);
            return rc == TF_OK ? s_job_replicating(self, job_id, progress, now, err) : rc;
        }
        if (warn)
            outcome = "completed_with_warnings";
        size_t used = strlen(text);
        snprintf(text + used, sizeof text - used, "%s", suffix);
    }
    s_copy_text(message, sizeof message, text);
    char detail_text[TF_MSG_MAX_TEXT];
    if (detail)
        s_copy_text(detail_text, sizeof detail_text, detail);
    sqlite3_finalize(stmt);

    stmt = catalog_prepare(self,
        "UPDATE jobs SET status = ?4, stage = ?5, message = ?2, detail = COALESCE(?6, detail), "
        "completed_ms = COALESCE(completed_ms, ?3), updated_ms = ?3 WHERE job_id = ?1", err);
    if (!stmt)
        return TF_ERR_DB;
    int b = s_bind_text(stmt, 1, job_id) | s_bind_text(stmt, 2, message) | sqlite3_bind_int64(stmt, 3, now)
            | s_bind_text(stmt, 4, outcome) | s_bind_text(stmt, 5, stage)
            | s_bind_text(stmt, 6, detail ? detail_text : NULL);
    rc = s_run(self, stmt, b, "cannot complete the job", NULL, err);
    if (rc == TF_OK && (!refresh || strcmp(was, outcome) != 0)) {
        tf_log_info("job %s %s: %" PRIu64 " archives, %" PRIu64 " of %" PRIu64 " files", job_id, outcome,
                    archives, files, files_total);
        s_event_add(self, job_id, outcome, NULL);
    }
    return rc;
}

/* Records a failure: a queued or running job becomes failed with the root cause in detail and
   stays failed; a completed job keeps its status (its data is on tape and catalogued) and
   keeps the first such report in detail. */
static int
s_job_fail(catalog_t *self, const char *job_id, const char *stage, const char *message,
           const char *detail, int64_t now, tf_err_t *err)
{
    char text[TF_MSG_MAX_TEXT];
    if (!detail || !*detail)
        detail = message && *message ? message : "no reason given";
    if (!message || !*message) {
        char buf[TF_MSG_MAX_TEXT + 128];
        snprintf(buf, sizeof buf, "failed in %s: %s", stage && *stage ? stage : "an unknown stage", detail);
        s_copy_text(text, sizeof text, buf);
        message = text;
    }
    /* Finished jobs (completed, completed_with_warnings, expired) keep their status. */
    bool was_open = false;
    sqlite3_stmt *stmt = catalog_prepare(self, "SELECT status IN ('queued', 'running') FROM jobs WHERE job_id = ?1", err);
    if (!stmt)
        return TF_ERR_DB;
    if (s_bind_text(stmt, 1, job_id) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW)
        was_open = sqlite3_column_int(stmt, 0) != 0;
    sqlite3_finalize(stmt);
    stmt = catalog_prepare(self,
        "UPDATE jobs SET "
        "  detail = CASE WHEN status IN ('queued', 'running') THEN ?4 ELSE COALESCE(detail, ?4) END, "
        "  stage = CASE WHEN status IN ('queued', 'running') THEN COALESCE(?2, stage) ELSE stage END, "
        "  message = CASE WHEN status IN ('queued', 'running') THEN ?3 ELSE message END, "
        "  status = CASE WHEN status IN ('queued', 'running') THEN 'failed' ELSE status END, "
        "  updated_ms = ?5 "
        "WHERE job_id = ?1 AND status NOT IN ('failed', 'cancelled') "
        "  AND (status IN ('queued', 'running') OR detail IS NULL)", err);
    if (!stmt)
        return TF_ERR_DB;
    int b = s_bind_text(stmt, 1, job_id) | s_bind_text(stmt, 2, stage && *stage ? stage : NULL)
            | s_bind_text(stmt, 3, message) | s_bind_text(stmt, 4, detail)
            | sqlite3_bind_int64(stmt, 5, now);
    int changes = 0;
    int rc = s_run(self, stmt, b, "cannot record the job's failure", &changes, err);
    if (rc == TF_OK && changes > 0)
        tf_log_warn("job %s: %s failed: %s", job_id, stage ? stage : "?", detail);
    if (rc == TF_OK && changes > 0 && was_open)
        s_event_add(self, job_id, "failed", NULL);
    return rc;
}

int
catalog_job_ensure(catalog_t *self, const char *job_id, int64_t now, tf_err_t *err)
{
    return s_job_ensure(self, job_id, now, err);
}

int
catalog_job_check_complete(catalog_t *self, const char *job_id, int64_t now, tf_err_t *err)
{
    return s_job_check_complete(self, job_id, now, false, err);
}

static int
s_job_create(catalog_t *self, const tf_msg_cat_job_t *m, int64_t t, tf_err_t *err)
{
    /* Replication targets (issue 12): none is NULL in both columns; with targets the
       replication is required unless the pool says optional. */
    bool replicated = m->replicas && *m->replicas;
    const char *replication = !replicated ? NULL
                              : m->replication && strcmp(m->replication, "optional") == 0 ? "optional"
                                                                                          : "required";
    sqlite3_stmt *stmt = catalog_prepare(self,
        "INSERT INTO jobs(job_id, defined, pool, compression, created_ms, updated_ms, message, replicas, "
        "  replication) "
        "VALUES(?1, 1, ?2, ?3, ?4, ?4, ?5, ?6, ?7) "
        "ON CONFLICT(job_id) DO UPDATE SET defined = 1, pool = excluded.pool, "
        "  compression = excluded.compression, created_ms = excluded.created_ms, "
        "  message = COALESCE(message, excluded.message), replicas = excluded.replicas, "
        "  replication = excluded.replication "
        "WHERE defined = 0", err);
    if (!stmt)
        return TF_ERR_DB;
    int b = s_bind_text(stmt, 1, m->job_id) | s_bind_text(stmt, 2, m->pool)
            | s_bind_text(stmt, 3, m->compression) | sqlite3_bind_int64(stmt, 4, t)
            | s_bind_text(stmt, 5, m->message) | s_bind_text(stmt, 6, replicated ? m->replicas : NULL)
            | s_bind_text(stmt, 7, replication);
    int changes = 0;
    int rc = s_run(self, stmt, b, "cannot create the job", &changes, err);
    if (rc == TF_OK && changes > 0 && replicated)
        rc = catalog_replica_create(self, m, t, err);
    if (rc != TF_OK || m->paths_count == 0)
        return rc;
    stmt = catalog_prepare(self,
        "INSERT INTO job_paths(job_id, seq, path) VALUES(?1, ?2, ?3) "
        "ON CONFLICT(job_id, seq) DO NOTHING", err);
    if (!stmt)
        return TF_ERR_DB;
    for (size_t i = 0; i < m->paths_count && rc == TF_OK; i++) {
        if (s_bind_text(stmt, 1, m->job_id) != SQLITE_OK
            || sqlite3_bind_int64(stmt, 2, (sqlite3_int64) i + 1) != SQLITE_OK
            || s_bind_text(stmt, 3, m->paths[i].path) != SQLITE_OK
            || sqlite3_step(stmt) != SQLITE_DONE)
            rc = catalog_db_error(self, err, "cannot record the job's paths");
        sqlite3_reset(stmt);
    }
    sqlite3_finalize(stmt);
    return rc;
}

static int
s_job_stage(catalog_t *self, const tf_msg_cat_job_t *m, int64_t t, tf_err_t *err)
{
    /* Stages run side by side and their items arrive in any order: an older report never
       overwrites a newer one, and finished jobs keep their final state. */
    bool moved = false;   /* another stage than before: a job.<id>.stage event */
    sqlite3_stmt *stmt = catalog_prepare(self, "SELECT stage IS NOT ?2 FROM jobs WHERE job_id = ?1", err);
    if (!stmt)
        return TF_ERR_DB;
    if ((s_bind_text(stmt, 1, m->job_id) | s_bind_text(stmt, 2, m->stage)) == SQLITE_OK
        && sqlite3_step(stmt) == SQLITE_ROW)
        moved = sqlite3_column_int(stmt, 0) != 0;
    sqlite3_finalize(stmt);
    stmt = catalog_prepare(self,
        "UPDATE jobs SET status = 'running', stage = ?2, stage_ms = ?3, "
        "  message = COALESCE(?4, message), updated_ms = ?3 "
        "WHERE job_id = ?1 AND status IN ('queued', 'running') AND stage_ms <= ?3", err);
    if (!stmt)
        return TF_ERR_DB;
    int b = s_bind_text(stmt, 1, m->job_id) | s_bind_text(stmt, 2, m->stage)
            | sqlite3_bind_int64(stmt, 3, t) | s_bind_text(stmt, 4, m->message);
    int changes = 0;
    int rc = s_run(self, stmt, b, "cannot record the job's stage", &changes, err);
    if (rc == TF_OK && changes > 0 && moved)
        s_event_add(self, m->job_id, "stage", m->stage);
    return rc;
}

/* A note on a job still going (the stager waiting for holding-disk space, resuming): the
   message only - stage, stage_ms and status stay (a job already in tape is not moved back);
   an ended job keeps its final message. */
static int
s_job_note(catalog_t *self, const tf_msg_cat_job_t *m, int64_t t, tf_err_t *err)
{
    if (!m->message || !*m->message)
        return TF_OK;
    sqlite3_stmt *stmt = catalog_prepare(self,
        "UPDATE jobs SET message = ?2, updated_ms = MAX(updated_ms, ?3) "
        "WHERE job_id = ?1 AND status IN ('queued', 'running')", err);
    if (!stmt)
        return TF_ERR_DB;
    int b = s_bind_text(stmt, 1, m->job_id) | s_bind_text(stmt, 2, m->message) | sqlite3_bind_int64(stmt, 3, t);
    return s_run(self, stmt, b, "cannot record the job's note", NULL, err);
}

/* The scan of one host of a job with sources on several hosts: recorded once (a repeat is a
   redelivery), added to the job's totals; the job counts as scanned once every host its paths
   name has reported, and only then can it complete. */
static int
s_job_host_scanned(catalog_t *self, const tf_msg_cat_job_t *m, int64_t t, tf_err_t *err)
{
    sqlite3_stmt *stmt = catalog_prepare(self,
        "INSERT INTO job_scans(job_id, host, group_base, groups_total, files_total, bytes_total, "
        "  warnings, message) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
        "ON CONFLICT(job_id, host) DO NOTHING", err);
    if (!stmt)
        return TF_ERR_DB;
    int b = s_bind_text(stmt, 1, m->job_id) | s_bind_text(stmt, 2, m->host)
            | s_bind_u64(stmt, 3, m->group_base) | s_bind_u64(stmt, 4, m->groups_total)
            | s_bind_u64(stmt, 5, m->files_total) | s_bind_u64(stmt, 6, m->bytes_total)
            | s_bind_u64(stmt, 7, m->warnings) | s_bind_text(stmt, 8, m->message);
    int changes = 0;
    int rc = s_run(self, stmt, b, "cannot record the host's scan", &changes, err);
    if (rc != TF_OK || changes == 0)
        return rc;
    /* Archives recorded before their scan learn their host now. */
    stmt = catalog_prepare(self,
        "UPDATE archives SET host = ?2 WHERE job_id = ?1 AND host IS NULL "
        "  AND group_no BETWEEN ?3 + 1 AND ?3 + ?4", err);
    if (!stmt)
        return TF_ERR_DB;
    b = s_bind_text(stmt, 1, m->job_id) | s_bind_text(stmt, 2, m->host) | s_bind_u64(stmt, 3, m->group_base)
        | s_bind_u64(stmt, 4, m->groups_total);
    rc = s_run(self, stmt, b, "cannot record the archives' host", NULL, err);
    if (rc != TF_OK)
        return rc;
    char note[TF_MSG_MAX_TEXT];
    snprintf(note, sizeof note, "%s: %s", m->host, m->message ? m->message : "scanned");
    stmt = catalog_prepare(self,
        "UPDATE jobs SET files_total = files_total + ?2, bytes_total = bytes_total + ?3, "
        "  groups_total = groups_total + ?4, warnings = warnings + ?5, "
        "  scan_warnings = scan_warnings + ?5, "
        "  scan_message = substr(CASE WHEN scan_message IS NULL THEN ?6 ELSE scan_message || '; ' || ?6 END, 1, ?8), "
        "  message = CASE WHEN status IN ('queued', 'running') THEN ?6 ELSE message END, "
        "  status = CASE WHEN status = 'queued' THEN 'running' ELSE status END, "
        "  scanned = (SELECT count(*) FROM job_scans s WHERE s.job_id = ?1) "
        "            >= MAX(1, (SELECT count(DISTINCT " S_PATH_HOST_SQL ") FROM job_paths p "
        "                       WHERE p.job_id = ?1)), "
        "  updated_ms = ?7 "
        "WHERE job_id = ?1", err);
    if (!stmt)
        return TF_ERR_DB;
    b = s_bind_text(stmt, 1, m->job_id) | s_bind_u64(stmt, 2, m->files_total) | s_bind_u64(stmt, 3, m->bytes_total)
        | s_bind_u64(stmt, 4, m->groups_total) | s_bind_u64(stmt, 5, m->warnings) | s_bind_text(stmt, 6, note)
        | sqlite3_bind_int64(stmt, 7, t) | sqlite3_bind_int(stmt, 8, TF_MSG_MAX_TEXT - 1);
    rc = s_run(self, stmt, b, "cannot record the scan", NULL, err);
    return rc == TF_OK ? s_job_check_complete(self, m->job_id, t, false, err) : rc;
}

static int
s_job_scanned(catalog_t *self, const tf_msg_cat_job_t *m, int64_t t, tf_err_t *err)
{
    if (m->host && *m->host)
        return s_job_host_scanned(self, m, t, err);
    sqlite3_stmt *stmt = catalog_prepare(self,
        "UPDATE jobs SET scanned = 1, files_total = ?2, bytes_total = ?3, groups_total = ?4, "
        "  warnings = warnings + ?5, "   /* the compressors' entry warnings may be there already */
        "  scan_warnings = ?5, scan_message = ?6, "
        "  message = CASE WHEN status IN ('queued', 'running') THEN COALESCE(?6, message) "
        "            ELSE message END, "
        "  status = CASE WHEN status = 'queued' THEN 'running' ELSE status END, "
        "  updated_ms = ?7 "
        "WHERE job_id = ?1 AND scanned = 0", err);  /* one scan per job: a repeat is a redelivery */
    if (!stmt)
        return TF_ERR_DB;
    int b = s_bind_text(stmt, 1, m->job_id) | s_bind_u64(stmt, 2, m->files_total)
            | s_bind_u64(stmt, 3, m->bytes_total) | s_bind_u64(stmt, 4, m->groups_total)
            | s_bind_u64(stmt, 5, m->warnings) | s_bind_text(stmt, 6, m->message)
            | sqlite3_bind_int64(stmt, 7, t);
    int rc = s_run(self, stmt, b, "cannot record the scan", NULL, err);
    return rc == TF_OK ? s_job_check_complete(self, m->job_id, t, false, err) : rc;
}

/* ------------------------------------------------------------------ operator actions --- */

/* cat_job ops an operator's `tapeflow job cancel|retry` sends (through the broker's job_op). */
static bool
s_operator_op(const char *op)
{
    return strcmp(op, "cancelled") == 0 || strcmp(op, "retried") == 0;
}

/* cancelled: a queued, running or failed job becomes cancelled (a completed one keeps its
   status: its data is on tape); nothing later changes that except a retry. retried: a failed
   or cancelled job runs again (detail cleared) and completes when its archives are all in. */
static int
s_job_operator(catalog_t *self, const tf_msg_cat_job_t *m, int64_t t, tf_err_t *err)
{
    bool cancel = strcmp(m->op, "cancelled") == 0;
    const char *message = m->message && *m->message ? m->message : cancel ? "cancelled" : "retried";
    sqlite3_stmt *stmt = catalog_prepare(self, cancel
        ? "UPDATE jobs SET status = 'cancelled', message = ?2, updated_ms = ?3 "
          "WHERE job_id = ?1 AND status IN ('queued', 'running', 'failed')"
        : "UPDATE jobs SET status = 'running', message = ?2, detail = NULL, updated_ms = ?3, "
          "  stage_ms = ?3 "
          "WHERE job_id = ?1 AND status IN ('failed', 'cancelled') "
          /* archives on a recycled tape are gone: running again cannot complete it */
          "  AND NOT EXISTS (SELECT 1 FROM archives WHERE job_id = ?1 AND lost != 0)", err);
    if (!stmt)
        return TF_ERR_DB;
    int b = s_bind_text(stmt, 1, m->job_id) | s_bind_text(stmt, 2, message)
            | sqlite3_bind_int64(stmt, 3, t);
    int changes = 0;
    int rc = s_run(self, stmt, b, cancel ? "cannot cancel the job" : "cannot retry the job", &changes, err);
    if (rc == TF_OK && changes > 0) {
        tf_log_info("job %s: %s", m->job_id, message);
        s_event_add(self, m->job_id, cancel ? "cancelled" : "retried", NULL);
    }
    /* A retry copies its failed replicas again (an optional give-up too). */
    if (rc == TF_OK && !cancel && changes > 0)
        rc = catalog_replica_retry(self, m->job_id, t, err);
    /* A retried job whose archives are all in already (it failed in its last step) is done. */
    if (rc == TF_OK && !cancel && changes > 0)
        rc = s_job_check_complete(self, m->job_id, t, false, err);
    return rc;
}

static int
s_cat_job(catalog_t *self, const tf_msg_cat_job_t *m, tf_err_t *err)
{
    const char *op = m->op;
    if (!*m->job_id)
        return tf_err_set(err, TF_ERR_INVALID, "cat_job: empty job_id");
    bool known = strcmp(op, "create") == 0 || strcmp(op, "stage") == 0
                 || strcmp(op, "scanned") == 0 || strcmp(op, "failed") == 0
                 || strcmp(op, "note") == 0 || s_operator_op(op);
    if (!known)
        return tf_err_set(err, TF_ERR_INVALID, "cat_job %s: unknown op '%s' (expected create, "
                          "stage, note, scanned, failed, cancelled or retried)", m->job_id, op);
    if (strcmp(op, "stage") == 0 && (!m->stage || !*m->stage))
        return tf_err_set(err, TF_ERR_INVALID, "cat_job %s: op stage without a stage name", m->job_id);
    if (strcmp(op, "create") == 0 && m->replication && *m->replication && strcmp(m->replication, "required") != 0
        && strcmp(m->replication, "optional") != 0)
        return tf_err_set(err, TF_ERR_INVALID, "cat_job %s: replication '%s' is not required or optional "
                          "(pools/POOL/replication)", m->job_id, m->replication);
    int64_t t = m->time_ms > 0 ? m->time_ms : catalog_now(self);
    int rc = s_begin(self, err);
    if (rc != TF_OK)
        return rc;
    rc = s_job_ensure(self, m->job_id, t, err);
    if (rc == TF_OK) {
        if (strcmp(op, "create") == 0) {
            rc = s_job_create(self, m, t, err);
            if (rc == TF_OK)
                rc = catalog_level_decide(self, m, err);
        }
        else if (strcmp(op, "stage") == 0)
            rc = s_job_stage(self, m, t, err);
        else if (strcmp(op, "scanned") == 0)
            rc = s_job_scanned(self, m, t, err);
        else if (strcmp(op, "note") == 0)
            rc = s_job_note(self, m, t, err);
        else if (s_operator_op(op))
            rc = s_job_operator(self, m, t, err);
        else
            rc = s_job_fail(self, m->job_id, m->stage, m->message, m->detail, t, err);
    }
    return s_end(self, rc, err);
}

/* ------------------------------------------------------------------ archives ----------- */

/* Creates the archive row when missing; refuses an archive id recorded for another job. */
static int
s_archive_ensure(catalog_t *self, const char *archive_id, const char *job_id, uint64_t group_no,
                 tf_err_t *err)
{
    sqlite3_stmt *stmt = catalog_prepare(self, "SELECT job_id FROM archives WHERE archive_id = ?1", err);
    if (!stmt)
        return TF_ERR_DB;
    if (s_bind_text(stmt, 1, archive_id) != SQLITE_OK) {
        sqlite3_finalize(stmt);
        return catalog_db_error(self, err, "cannot look up the archive");
    }
    int s = sqlite3_step(stmt);
    int rc = TF_OK;
    if (s == SQLITE_ROW) {
        const char *owner = (const char *) sqlite3_column_text(stmt, 0);
        if (!owner || strcmp(owner, job_id) != 0)
            rc = tf_err_set(err, TF_ERR_INVALID, "archive %s belongs to job %s, not %s",
                            archive_id, owner ? owner : "?", job_id);
        sqlite3_finalize(stmt);
        return rc;
    }
    sqlite3_finalize(stmt);
    if (s != SQLITE_DONE)
        return catalog_db_error(self, err, "cannot look up the archive");
    stmt = catalog_prepare(self,
        "INSERT INTO archives(archive_id, job_id, group_no, host) VALUES(?1, ?2, ?3, " S_GROUP_HOST_SQL ")", err);
    if (!stmt)
        return TF_ERR_DB;
    int b = s_bind_text(stmt, 1, archive_id) | s_bind_text(stmt, 2, job_id) | s_bind_u64(stmt, 3, group_no);
    return s_run(self, stmt, b, "cannot record the archive", NULL, err);
}

static bool
s_type_valid(const char *type)
{
    static const char *types[] = {"file", "dir", "symlink", "hardlink", "other"};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(type, types[i]) == 0)
            return true;
    return false;
}

static int
s_cat_files(catalog_t *self, const tf_msg_cat_files_t *m, tf_err_t *err)
{
    if (!*m->job_id || !*m->archive_id)
        return tf_err_set(err, TF_ERR_INVALID, "cat_files: empty %s", *m->job_id ? "archive_id" : "job_id");
    for (size_t i = 0; i < m->files_count; i++) {
        const tf_msg_file_row_t *f = &m->files[i];
        if (!*f->path)
            return tf_err_set(err, TF_ERR_INVALID, "cat_files %s part %" PRIu64 ": row %zu has an "
                              "empty path", m->archive_id, m->part, i + 1);
        if (!s_type_valid(f->type))
            return tf_err_set(err, TF_ERR_INVALID, "cat_files %s part %" PRIu64 ": row %zu (%s): "
                              "unknown type '%s' (expected file, dir, symlink, hardlink or other)",
                              m->archive_id, m->part, i + 1, f->path, f->type);
    }
    for (size_t i = 0; i < m->warnings_count; i++)
        if (!*m->warnings[i].path)
            return tf_err_set(err, TF_ERR_INVALID, "cat_files %s part %" PRIu64 ": warning %zu has an "
                              "empty path", m->archive_id, m->part, i + 1);
    int64_t now = catalog_now(self);
    int rc = s_begin(self, err);
    if (rc != TF_OK)
        return rc;
    rc = s_job_ensure(self, m->job_id, now, err);
    if (rc == TF_OK)
        rc = s_archive_ensure(self, m->archive_id, m->job_id, s_group_from_id(m->archive_id), err);
    sqlite3_stmt *stmt = NULL;
    if (rc == TF_OK) {
        stmt = catalog_prepare(self,
            "INSERT INTO files(archive_id, job_id, path, type, size, mtime, mode, uid, gid, "
            "  user, grp, checksum, offset, link, mtime_nsec) "
            "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) "
            "ON CONFLICT(archive_id, path) DO NOTHING", err);
        if (!stmt)
            rc = TF_ERR_DB;
    }
    uint64_t added = 0;
    for (size_t i = 0; rc == TF_OK && i < m->files_count; i++) {
        const tf_msg_file_row_t *f = &m->files[i];
        if ((s_bind_text(stmt, 1, m->archive_id) | s_bind_text(stmt, 2, m->job_id)
             | s_bind_text(stmt, 3, f->path) | s_bind_text(stmt, 4, f->type)
             | s_bind_u64(stmt, 5, f->size) | sqlite3_bind_int64(stmt, 6, f->mtime)
             | s_bind_u64(stmt, 7, f->mode) | s_bind_u64(stmt, 8, f->uid)
             | s_bind_u64(stmt, 9, f->gid) | s_bind_text(stmt, 10, f->user)
             | s_bind_text(stmt, 11, f->group) | s_bind_text(stmt, 12, f->checksum)
             | s_bind_u64(stmt, 13, f->offset) | s_bind_text(stmt, 14, f->link)
             | s_bind_u64(stmt, 15, f->mtime_nsec < 1000000000 ? f->mtime_nsec : 0)) != SQLITE_OK
            || sqlite3_step(stmt) != SQLITE_DONE)
            rc = catalog_db_error(self, err, "cannot record file rows");
        else
            added += (uint64_t) sqlite3_changes(self->db);
        sqlite3_reset(stmt);
    }
    sqlite3_finalize(stmt);
    /* Entry warnings: one row per (archive, path), so a redelivered part counts nothing twice. */
    uint64_t warned = 0;
    if (rc == TF_OK && m->warnings_count > 0) {
        stmt = catalog_prepare(self,
            "INSERT INTO entry_warnings(archive_id, path, job_id, reason, missing) "
            "VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(archive_id, path) DO NOTHING", err);
        if (!stmt)
            rc = TF_ERR_DB;
        for (size_t i = 0; rc == TF_OK && i < m->warnings_count; i++) {
            const tf_msg_warning_row_t *w = &m->warnings[i];
            if ((s_bind_text(stmt, 1, m->archive_id) | s_bind_text(stmt, 2, w->path)
                 | s_bind_text(stmt, 3, m->job_id) | s_bind_text(stmt, 4, w->reason)
                 | sqlite3_bind_int(stmt, 5, w->missing ? 1 : 0)) != SQLITE_OK
                || sqlite3_step(stmt) != SQLITE_DONE)
                rc = catalog_db_error(self, err, "cannot record entry warnings");
            else
                warned += (uint64_t) sqlite3_changes(self->db);
            sqlite3_reset(stmt);
        }
        sqlite3_finalize(stmt);
    }
    /* A job with a manifest: an entry the compressor could not store holds no content in this
       job, so the next incremental takes it again and a restore does not look for it. */
    if (rc == TF_OK && m->warnings_count > 0) {
        stmt = catalog_prepare(self,
            "UPDATE manifest SET data_job = NULL, reason = 'not stored: ' || COALESCE(?4, 'skipped') "
            "WHERE job_id = ?1 AND path = ?3 AND data_job = ?1 "
            "  AND host = COALESCE((SELECT host FROM archives WHERE archive_id = ?2), host)", err);
        sqlite3_stmt *partial = stmt ? catalog_prepare(self,
            "UPDATE manifest SET reason = '" CATALOG_STORED_INCOMPLETE "' || COALESCE(substr(?4, 1, 1000), "
            "  'read error') WHERE job_id = ?1 AND path = ?3 AND data_job = ?1 "
            "  AND host = COALESCE((SELECT host FROM archives WHERE archive_id = ?2), host)", err) : NULL;
        if (!stmt || !partial)
            rc = TF_ERR_DB;
        for (size_t i = 0; rc == TF_OK && i < m->warnings_count; i++) {
            const tf_msg_warning_row_t *w = &m->warnings[i];
            /* Stored incomplete (partly zeros): data_job stays - part of the content beats none -
               and the reason makes the next incremental read it again. */
            sqlite3_stmt *mark = w->missing ? stmt : partial;
            if ((s_bind_text(mark, 1, m->job_id) | s_bind_text(mark, 2, m->archive_id)
                 | s_bind_text(mark, 3, w->path) | s_bind_text(mark, 4, w->reason && *w->reason ? w->reason : NULL))
                    != SQLITE_OK
                || sqlite3_step(mark) != SQLITE_DONE)
                rc = catalog_db_error(self, err, "cannot mark a manifest entry not stored");
            sqlite3_reset(mark);
        }
        sqlite3_finalize(partial);
        sqlite3_finalize(stmt);
    }
    if (rc == TF_OK && warned > 0) {
        stmt = catalog_prepare(self, "UPDATE jobs SET warnings = warnings + ?2 WHERE job_id = ?1", err);
        rc = stmt ? s_run(self, stmt, s_bind_text(stmt, 1, m->job_id) | s_bind_u64(stmt, 2, warned),
                          "cannot count the job's warnings", NULL, err)
                  : TF_ERR_DB;
    }
    if (rc == TF_OK && added > 0) {
        stmt = catalog_prepare(self,
            "UPDATE archives SET file_rows = file_rows + ?2 WHERE archive_id = ?1", err);
        rc = stmt ? s_run(self, stmt, s_bind_text(stmt, 1, m->archive_id) | s_bind_u64(stmt, 2, added),
                          "cannot count file rows", NULL, err)
                  : TF_ERR_DB;
    }
    if (rc == TF_OK && (added > 0 || warned > 0)) {
        rc = s_job_touch(self, m->job_id, now, err);
        if (rc == TF_OK && warned > 0)   /* the job may have ended before these warnings */
            rc = s_job_check_complete(self, m->job_id, now, true, err);
        if (rc == TF_OK)
            rc = s_job_check_complete(self, m->job_id, now, false, err);
    }
    rc = s_end(self, rc, err);
    if (rc == TF_OK)
        tf_log_debug("cat_files %s part %" PRIu64 ": %zu rows, %" PRIu64 " new; %" PRIu64 " new warnings",
                     m->archive_id, m->part, m->files_count, added, warned);
    return rc;
}

/* Segment m->segment of a spanned archive as a tape scan found it (segments[0]): merged with the
   segments other scans recorded. *complete (with the first segment's position in first) once
   segments 1..n are contiguous from byte 0 and cover the archive's size; a one-volume archive
   already written is left alone (*skip). */
static int
s_segment_merge(catalog_t *self, const tf_msg_cat_written_t *m, tf_msg_segment_row_t *first,
                char first_volume[TF_MSG_MAX_ID + 1], bool *complete, bool *skip, tf_err_t *err)
{
    *complete = *skip = false;
    const tf_msg_segment_row_t *g = &m->segments[0];
    sqlite3_stmt *stmt = catalog_prepare(self,
        "SELECT written, (SELECT COUNT(*) FROM segments WHERE archive_id = ?1) FROM archives "
        "WHERE archive_id = ?1", err);
    if (!stmt)
        return TF_ERR_DB;
    if (s_bind_text(stmt, 1, m->archive_id) != SQLITE_OK) {
        sqlite3_finalize(stmt);
        return catalog_db_error(self, err, "cannot look up the archive's segments");
    }
    int s = sqlite3_step(stmt);
    if (s == SQLITE_ROW && sqlite3_column_int64(stmt, 0) == 1 && sqlite3_column_int64(stmt, 1) == 0)
        *skip = true;
    sqlite3_finalize(stmt);
    if (s != SQLITE_ROW && s != SQLITE_DONE)
        return catalog_db_error(self, err, "cannot look up the archive's segments");
    if (*skip)
        return TF_OK;
    stmt = catalog_prepare(self,
        "INSERT INTO segments (archive_id, seq, volume, tape_file, block, offset, length) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
        "ON CONFLICT (archive_id, seq) DO UPDATE SET volume = excluded.volume, "
        "  tape_file = excluded.tape_file, block = excluded.block, offset = excluded.offset, "
        "  length = excluded.length", err);
    int rc = stmt ? s_run(self, stmt,
                          s_bind_text(stmt, 1, m->archive_id) | s_bind_u64(stmt, 2, m->segment)
                          | s_bind_text(stmt, 3, g->volume) | s_bind_u64(stmt, 4, g->tape_file)
                          | s_bind_u64(stmt, 5, g->block) | s_bind_u64(stmt, 6, g->offset)
                          | s_bind_u64(stmt, 7, g->length),
                          "cannot record the archive's segment", NULL, err)
                  : TF_ERR_DB;
    if (rc != TF_OK)
        return rc;
    stmt = catalog_prepare(self,
        "SELECT seq, volume, tape_file, block, offset, length FROM segments WHERE archive_id = ?1 "
        "ORDER BY seq", err);
    if (!stmt)
        return TF_ERR_DB;
    if (s_bind_text(stmt, 1, m->archive_id) != SQLITE_OK) {
        sqlite3_finalize(stmt);
        return catalog_db_error(self, err, "cannot read the archive's segments");
    }
    uint64_t expect = 1, covered = 0;
    bool contiguous = true;
    while ((s = sqlite3_step(stmt)) == SQLITE_ROW) {
        uint64_t seq = (uint64_t) sqlite3_column_int64(stmt, 0);
        uint64_t offset = (uint64_t) sqlite3_column_int64(stmt, 4);
        uint64_t length = (uint64_t) sqlite3_column_int64(stmt, 5);
        if (seq != expect++ || offset != covered || length > UINT64_MAX - covered)
            contiguous = false;
        if (seq == 1) {
            const char *vol = (const char *) sqlite3_column_text(stmt, 1);
            snprintf(first_volume, TF_MSG_MAX_ID + 1, "%s", vol ? vol : "");
            first->volume = first_volume;
            first->tape_file = (uint64_t) sqlite3_column_int64(stmt, 2);
            first->block = (uint64_t) sqlite3_column_int64(stmt, 3);
        }
        if (contiguous)
            covered += length;
    }
    sqlite3_finalize(stmt);
    if (s != SQLITE_DONE)
        return catalog_db_error(self, err, "cannot read the archive's segments");
    *complete = contiguous && covered == m->size && expect > 2;
    tf_log_debug("archive %s: segment %" PRIu64 " on %s file %" PRIu64 "; %" PRIu64 " segments known, %s",
                 m->archive_id, m->segment, g->volume, g->tape_file, expect - 1,
                 *complete ? "all of the archive" : "more to scan");
    return TF_OK;
}

static int
s_cat_written(catalog_t *self, const tf_msg_cat_written_t *m, tf_err_t *err)
{
    if (!*m->job_id || !*m->archive_id)
        return tf_err_set(err, TF_ERR_INVALID, "cat_written: empty %s", *m->job_id ? "archive_id" : "job_id");
    if (!*m->volume)
        return tf_err_set(err, TF_ERR_INVALID, "cat_written %s: empty volume label", m->archive_id);
    uint64_t group = m->group_no ? m->group_no : s_group_from_id(m->archive_id);
    if (group == 0)
        return tf_err_set(err, TF_ERR_INVALID, "cat_written %s: no group_no, and the archive id does "
                          "not end in -g<number>", m->archive_id);
    if (m->segment > 0 && (m->segments_count != 1 || !*m->segments[0].volume))
        return tf_err_set(err, TF_ERR_INVALID, "cat_written %s segment %" PRIu64 ": expected that segment as "
                          "the one segments row (with its volume), got %zu rows", m->archive_id, m->segment,
                          m->segments_count);
    int64_t now = catalog_now(self);
    int rc = s_begin(self, err);
    if (rc != TF_OK)
        return rc;
    rc = s_job_ensure(self, m->job_id, now, err);
    if (rc == TF_OK)
        rc = s_archive_ensure(self, m->archive_id, m->job_id, group, err);
    /* Where the archive starts: its own position, or the first segment's once a scan's
       segments cover it all. */
    const char *volume = m->volume;
    uint64_t tape_file = m->tape_file, block = m->block;
    bool record = true;
    char first_volume[TF_MSG_MAX_ID + 1] = "";
    if (rc == TF_OK && m->segment > 0) {
        tf_msg_segment_row_t first = {0};
        bool complete = false, skip = false;
        rc = s_segment_merge(self, m, &first, first_volume, &complete, &skip, err);
        record = rc == TF_OK && complete;
        if (record) {
            volume = first_volume;
            tape_file = first.tape_file;
            block = first.block;
        }
    }
    int changes = 0;
    if (rc == TF_OK && record) {
        /* Only a different position counts as a change (a repeat leaves updated times alone). */
        sqlite3_stmt *stmt = catalog_prepare(self,
            "UPDATE archives SET group_no = ?2, written = 1, volume = ?3, drive = ?4, "
            "  tape_file = ?5, block = ?6, blocks = ?7, size = ?8, checksum = ?9, files = ?10, "
            "  bytes = ?11, written_ms = ?12 "
            "WHERE archive_id = ?1 AND NOT (written = 1 AND group_no = ?2 AND volume IS ?3 "
            "  AND drive IS ?4 AND tape_file IS ?5 AND block IS ?6 AND blocks IS ?7 "
            "  AND size IS ?8 AND checksum IS ?9 AND files = ?10 AND bytes = ?11)", err);
        if (!stmt)
            rc = TF_ERR_DB;
        else {
            int b = s_bind_text(stmt, 1, m->archive_id) | s_bind_u64(stmt, 2, group)
                    | s_bind_text(stmt, 3, volume) | s_bind_text(stmt, 4, m->drive)
                    | s_bind_u64(stmt, 5, tape_file) | s_bind_u64(stmt, 6, block)
                    | s_bind_u64(stmt, 7, m->blocks) | s_bind_u64(stmt, 8, m->size)
                    | s_bind_text(stmt, 9, m->checksum) | s_bind_u64(stmt, 10, m->files)
                    | s_bind_u64(stmt, 11, m->bytes) | sqlite3_bind_int64(stmt, 12, now);
            rc = s_run(self, stmt, b, "cannot record the archive's position", &changes, err);
        }
    }
    /* A spanned archive's segments replace whatever an earlier delivery recorded; an archive on
       one volume has none (a scan may have taken a write that was stopped for a segment). */
    if (rc == TF_OK && m->segment == 0) {
        sqlite3_stmt *stmt = catalog_prepare(self, "DELETE FROM segments WHERE archive_id = ?1", err);
        rc = stmt ? s_run(self, stmt, s_bind_text(stmt, 1, m->archive_id), "cannot record the archive's "
                          "segments", NULL, err)
                  : TF_ERR_DB;
        for (size_t i = 0; rc == TF_OK && i < m->segments_count; i++) {
            const tf_msg_segment_row_t *g = &m->segments[i];
            if (!*g->volume) {
                rc = tf_err_set(err, TF_ERR_INVALID, "cat_written %s: segment %zu names no volume",
                                m->archive_id, i + 1);
                break;
            }
            stmt = catalog_prepare(self,
                "INSERT INTO segments (archive_id, seq, volume, tape_file, block, offset, length) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", err);
            rc = stmt ? s_run(self, stmt,
                              s_bind_text(stmt, 1, m->archive_id) | s_bind_u64(stmt, 2, i + 1)
                              | s_bind_text(stmt, 3, g->volume) | s_bind_u64(stmt, 4, g->tape_file)
                              | s_bind_u64(stmt, 5, g->block) | s_bind_u64(stmt, 6, g->offset)
                              | s_bind_u64(stmt, 7, g->length),
                              "cannot record the archive's segments", NULL, err)
                      : TF_ERR_DB;
        }
    }
    if (rc == TF_OK && changes > 0) {
        sqlite3_stmt *stmt = catalog_prepare(self,
            "UPDATE jobs SET (files_done, bytes_done, archives_written) = "
            "  (SELECT COALESCE(SUM(files), 0), COALESCE(SUM(bytes), 0), COUNT(*) FROM archives "
            "   WHERE job_id = ?1 AND written = 1 AND lost = 0), "
            "  status = CASE WHEN status = 'queued' THEN 'running' ELSE status END, "
            "  updated_ms = ?2 "
            "WHERE job_id = ?1", err);
        rc = stmt ? s_run(self, stmt, s_bind_text(stmt, 1, m->job_id) | sqlite3_bind_int64(stmt, 2, now),
                          "cannot update the job's progress", NULL, err)
                  : TF_ERR_DB;
        /* The first archive on tape: the job is in stage tape (no process reports it). */
        int moved = 0;
        if (rc == TF_OK) {
            stmt = catalog_prepare(self,
                "UPDATE jobs SET stage = 'tape', stage_ms = MAX(stage_ms, ?2) "
                "WHERE job_id = ?1 AND status IN ('queued', 'running') AND stage IS NOT 'tape'", err);
            rc = stmt ? s_run(self, stmt, s_bind_text(stmt, 1, m->job_id) | sqlite3_bind_int64(stmt, 2, now),
                              "cannot update the job's stage", &moved, err)
                      : TF_ERR_DB;
        }
        if (rc == TF_OK && moved > 0)
            s_event_add(self, m->job_id, "stage", "tape");
        if (rc == TF_OK)
            rc = s_job_check_complete(self, m->job_id, now, false, err);
    }
    rc = s_end(self, rc, err);
    if (rc == TF_OK && changes > 0)
        tf_log_info("archive %s on %s file %" PRIu64 " block %" PRIu64 " (%" PRIu64 " files)",
                    m->archive_id, volume, tape_file, block, m->files);
    return rc;
}

/* ------------------------------------------------------------------ volumes ------------ */

static bool
s_name_ok(const char *name)
{
    if (!*name)
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
              || *p == '.' || *p == '_' || *p == '-'))
            return false;
    return true;
}

/* A new generation of volume m->label (relabelled: recycled, erased, labelled again): the
   archives of every job on the older generations are lost (archives.lost = the relabel time)
   and no longer count: the job's progress is recounted, a completed job becomes expired, a
   queued or running one fails (it can never complete), a failed, cancelled or expired one
   keeps its status and says so in its message. Which archives were on the older generations:
   for a fresh label (nothing written yet - the tape writer and 'tapeflow tape' report a relabel
   at once) every archive recorded on the volume; for a report that already counts archives of
   the new generation, those recorded before the label was written. */
#define S_ON_OLD_GENERATION                                                                         \
    "a.written = 1 AND a.lost = 0 "                                                                 \
    "AND (a.volume = ?1 OR EXISTS (SELECT 1 FROM segments g WHERE g.archive_id = a.archive_id "     \
    "     AND g.volume = ?1)) "                                                                     \
    "AND (?2 OR a.written_ms < ?3) "

static int
s_volume_recycled(catalog_t *self, const tf_msg_cat_volume_t *m, int64_t now, tf_err_t *err)
{
    bool fresh = m->last_written_ms == 0 && m->tape_files <= 1;
    sqlite3_stmt *stmt = catalog_prepare(self,
        "SELECT a.job_id, j.status, count(*) FROM archives a JOIN jobs j ON j.job_id = a.job_id "
        "WHERE " S_ON_OLD_GENERATION
        "GROUP BY a.job_id ORDER BY a.job_id", err);
    if (!stmt)
        return TF_ERR_DB;
    if ((s_bind_text(stmt, 1, m->label) | sqlite3_bind_int(stmt, 2, fresh ? 1 : 0)
         | sqlite3_bind_int64(stmt, 3, m->created_ms)) != SQLITE_OK) {
        sqlite3_finalize(stmt);
        return catalog_db_error(self, err, "cannot find the jobs on a recycled volume");
    }
    typedef struct {
        char *job_id;
        char status[32];
        uint64_t archives;
    } s_hit_t;
    s_hit_t *hits = NULL;
    size_t count = 0, cap = 0;
    int s, rc = TF_OK;
    while ((s = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (count == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            s_hit_t *bigger = realloc(hits, ncap * sizeof *bigger);
            if (!bigger) {
                rc = tf_err_set(err, TF_ERR_NOMEM, "out of memory marking the jobs of volume %s", m->label);
                break;
            }
            hits = bigger;
            cap = ncap;
        }
        hits[count].job_id = strdup((const char *) sqlite3_column_text(stmt, 0));
        const char *status = (const char *) sqlite3_column_text(stmt, 1);
        snprintf(hits[count].status, sizeof hits[count].status, "%s", status ? status : "");
        hits[count].archives = (uint64_t) sqlite3_column_int64(stmt, 2);
        if (!hits[count].job_id) {
            rc = tf_err_set(err, TF_ERR_NOMEM, "out of memory marking the jobs of volume %s", m->label);
            break;
        }
        count++;
    }
    sqlite3_finalize(stmt);
    if (rc == TF_OK && s != SQLITE_DONE)
        rc = catalog_db_error(self, err, "cannot find the jobs on a recycled volume");
    if (rc == TF_OK && count > 0) {
        stmt = catalog_prepare(self, "UPDATE archives AS a SET lost = ?4 WHERE " S_ON_OLD_GENERATION, err);
        rc = stmt ? s_run(self, stmt, s_bind_text(stmt, 1, m->label) | sqlite3_bind_int(stmt, 2, fresh ? 1 : 0)
                          | sqlite3_bind_int64(stmt, 3, m->created_ms)
                          | sqlite3_bind_int64(stmt, 4, m->created_ms > 0 ? m->created_ms : now),
                          "cannot mark the archives of a recycled volume lost", NULL, err)
                  : TF_ERR_DB;
    }
    char when[64];
    tf_clock_format(m->created_ms, when, sizeof when);
    for (size_t i = 0; rc == TF_OK && i < count; i++) {
        const char *job_id = hits[i].job_id, *status = hits[i].status;
        char lost[TF_MSG_MAX_TEXT];
        snprintf(lost, sizeof lost, "tape %s was relabelled for pool %s on %s (recycled); the %" PRIu64
                 " archive%s of this job on it %s gone and cannot be restored", m->label, m->pool, when,
                 hits[i].archives, hits[i].archives == 1 ? "" : "s", hits[i].archives == 1 ? "is" : "are");
        stmt = catalog_prepare(self,
            "UPDATE jobs SET (files_done, bytes_done, archives_written) = "
            "  (SELECT COALESCE(SUM(files), 0), COALESCE(SUM(bytes), 0), COUNT(*) FROM archives "
            "   WHERE job_id = ?1 AND written = 1 AND lost = 0), updated_ms = ?2 "
            "WHERE job_id = ?1", err);
        rc = stmt ? s_run(self, stmt, s_bind_text(stmt, 1, job_id) | sqlite3_bind_int64(stmt, 2, now),
                          "cannot recount a job's archives", NULL, err)
                  : TF_ERR_DB;
        if (rc != TF_OK)
            break;
        char message[TF_MSG_MAX_TEXT + 64];
        bool completed = strcmp(status, "completed") == 0 || strcmp(status, "completed_with_warnings") == 0;
        if (strcmp(status, "queued") == 0 || strcmp(status, "running") == 0) {
            /* Still going: it can never complete with archives that are gone. */
            snprintf(message, sizeof message, "failed: %s; run the backup again", lost);
            char text[TF_MSG_MAX_TEXT];
            s_copy_text(text, sizeof text, message);
            rc = s_job_fail(self, job_id, "tape", text, lost, now, err);
            continue;
        }
        int changes = 0;
        if (completed) {
            snprintf(message, sizeof message, "expired: %s", lost);
            stmt = catalog_prepare(self,
                "UPDATE jobs SET status = 'expired', message = substr(?2, 1, ?4), updated_ms = ?3 "
                "WHERE job_id = ?1 AND status IN ('completed', 'completed_with_warnings')", err);
        }
        else {  /* failed, cancelled, expired: the status stays, the message tells */
            snprintf(message, sizeof message, "; %s", lost);
            stmt = catalog_prepare(self,
                "UPDATE jobs SET message = substr(COALESCE(message, status) || ?2, 1, ?4), updated_ms = ?3 "
                "WHERE job_id = ?1", err);
        }
        rc = stmt ? s_run(self, stmt, s_bind_text(stmt, 1, job_id) | s_bind_text(stmt, 2, message)
                          | sqlite3_bind_int64(stmt, 3, now) | sqlite3_bind_int(stmt, 4, TF_MSG_MAX_TEXT - 1),
                          "cannot mark a job's archives lost", &changes, err)
                  : TF_ERR_DB;
        if (rc == TF_OK && changes > 0) {
            tf_log_info("job %s (%s): %s", job_id, completed ? "expired" : status, lost);
            if (completed)
                s_event_add(self, job_id, "expired", NULL);
        }
    }
    for (size_t i = 0; i < count; i++)
        free(hits[i].job_id);
    free(hits);
    return rc;
}
#undef S_ON_OLD_GENERATION

/* The whole state of one volume, absolute: a repeat changes nothing, an older report (time_ms
   before the stored updated_ms) is ignored, so reports may arrive in any order. A newer label
   generation (created_ms) expires the jobs on the older ones (s_volume_recycled). */
static int
s_cat_volume(catalog_t *self, const tf_msg_cat_volume_t *m, tf_err_t *err)
{
    if (!s_name_ok(m->label) || strlen(m->label) > 32)
        return tf_err_set(err, TF_ERR_INVALID, "cat_volume: '%s' is not a volume label (1 to 32 "
                          "letters, digits, '.', '_' or '-')", m->label);
    if (!s_name_ok(m->pool) || strlen(m->pool) > 64)
        return tf_err_set(err, TF_ERR_INVALID, "cat_volume %s: '%s' is not a pool name", m->label,
                          m->pool);
    /* The `full` column: 0 appendable, 1 full, 2 error. */
    int full = strcmp(m->state, "full") == 0 ? 1 : strcmp(m->state, "error") == 0 ? 2 : 0;
    if (!full && strcmp(m->state, "expired") == 0)
        return tf_err_set(err, TF_ERR_INVALID, "cat_volume %s: state '%s' is not appendable or full "
                          "(expired is computed from expires_ms)", m->label, m->state);
    if (!full && strcmp(m->state, "appendable") != 0)
        return tf_err_set(err, TF_ERR_INVALID, "cat_volume %s: state '%s' is not appendable, full "
                          "or error", m->label, m->state);
    int64_t t = m->time_ms > 0 ? m->time_ms : catalog_now(self);
    int rc = s_begin(self, err);
    if (rc != TF_OK)
        return rc;
    /* The generation the catalog knew before this report (-1: none), and its tape files. */
    int64_t known_created = -1, known_files = 0;
    sqlite3_stmt *stmt = catalog_prepare(self, "SELECT created_ms, tape_files FROM volumes WHERE label = ?1", err);
    if (!stmt)
        return s_end(self, TF_ERR_DB, err);
    int s = s_bind_text(stmt, 1, m->label) == SQLITE_OK ? sqlite3_step(stmt) : SQLITE_ERROR;
    if (s == SQLITE_ROW) {
        known_created = sqlite3_column_int64(stmt, 0);
        known_files = sqlite3_column_int64(stmt, 1);
    }
    sqlite3_finalize(stmt);
    if (s != SQLITE_ROW && s != SQLITE_DONE)
        return s_end(self, catalog_db_error(self, err, "cannot look up the volume"), err);
    int changes = 0;
    stmt = catalog_prepare(self,
        "INSERT INTO volumes(label, pool, full, media_type, created_ms, expires_ms, bytes_used, "
        "  last_written_ms, write_errors, read_errors, tape_files, drive, updated_ms) "
        "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) "
        "ON CONFLICT(label) DO UPDATE SET pool = ?2, full = ?3, "
        "  media_type = COALESCE(?4, media_type), created_ms = ?5, expires_ms = ?6, "
        "  bytes_used = ?7, last_written_ms = ?8, write_errors = ?9, read_errors = ?10, "
        "  tape_files = ?11, drive = COALESCE(?12, drive), updated_ms = ?13 "
        "WHERE updated_ms <= ?13", err);
    if (!stmt)
        rc = TF_ERR_DB;
    else {
        int b = s_bind_text(stmt, 1, m->label) | s_bind_text(stmt, 2, m->pool)
                | sqlite3_bind_int(stmt, 3, full) | s_bind_text(stmt, 4, m->media_type)
                | sqlite3_bind_int64(stmt, 5, m->created_ms)
                | sqlite3_bind_int64(stmt, 6, m->expires_ms) | s_bind_u64(stmt, 7, m->bytes_used)
                | sqlite3_bind_int64(stmt, 8, m->last_written_ms)
                | s_bind_u64(stmt, 9, m->write_errors) | s_bind_u64(stmt, 10, m->read_errors)
                | s_bind_u64(stmt, 11, m->tape_files) | s_bind_text(stmt, 12, m->drive)
                | sqlite3_bind_int64(stmt, 13, t);
        rc = s_run(self, stmt, b, "cannot record the volume", &changes, err);
    }
    /* A newer generation; or, labels counting whole seconds, the same second's label on a tape
       that held archives and now holds none (relabelled within a second of the last label). */
    bool fresh = m->last_written_ms == 0 && m->tape_files <= 1;
    if (rc == TF_OK && changes > 0 && m->created_ms > 0
        && (known_created < m->created_ms || (fresh && known_created == m->created_ms && known_files > 1)))
        rc = s_volume_recycled(self, m, catalog_now(self), err);
    rc = s_end(self, rc, err);
    if (rc == TF_OK)
        tf_log_debug("volume %s (pool %s): %s, %" PRIu64 " tape files, %" PRIu64 " bytes",
                     m->label, m->pool, m->state, m->tape_files, m->bytes_used);
    return rc;
}

/* ------------------------------------------------------------------ dispatch ----------- */

int
catalog_apply(catalog_t *self, const tf_msg_t *msg, tf_msg_t *reply, tf_err_t *err)
{
    if (reply)
        memset(reply, 0, sizeof *reply);
    switch (msg->type) {
    case TF_MSG_CAT_JOB: return s_cat_job(self, &msg->cat_job, err);
    case TF_MSG_CAT_FILES: return s_cat_files(self, &msg->cat_files, err);
    case TF_MSG_CAT_WRITTEN: return s_cat_written(self, &msg->cat_written, err);
    case TF_MSG_CAT_VOLUME: return s_cat_volume(self, &msg->cat_volume, err);
    case TF_MSG_CAT_MANIFEST:
        if (!reply)
            return tf_err_set(err, TF_ERR_INVALID, "cat_manifest needs somewhere to put the reply");
        return catalog_manifest_apply(self, &msg->cat_manifest, reply, err);
    case TF_MSG_CAT_SCHED:
        if (!reply)
            return tf_err_set(err, TF_ERR_INVALID, "cat_sched needs somewhere to put the reply");
        return catalog_sched_apply(self, &msg->cat_sched, reply, err);
    case TF_MSG_CAT_REPLICA:
        if (!reply)
            return tf_err_set(err, TF_ERR_INVALID, "cat_replica needs somewhere to put the reply");
        return catalog_replica_apply(self, &msg->cat_replica, reply, err);
    case TF_MSG_CAT_QUERY:
        if (!reply)
            return tf_err_set(err, TF_ERR_INVALID, "cat_query needs somewhere to put the reply");
        return catalog_query(self, &msg->cat_query, reply, err);
    default:
        return tf_err_set(err, TF_ERR_PROTO, "the catalog does not handle %s messages (expected "
                          "cat_job, cat_files, cat_written, cat_volume, cat_manifest, cat_sched, cat_replica or cat_query)",
                          tf_msg_type_name(msg->type));
    }
}

static const char *
s_msg_job_id(const tf_msg_t *msg)
{
    switch (msg->type) {
    case TF_MSG_CAT_JOB: return msg->cat_job.job_id;
    case TF_MSG_CAT_FILES: return msg->cat_files.job_id;
    case TF_MSG_CAT_WRITTEN: return msg->cat_written.job_id;
    case TF_MSG_CAT_MANIFEST: return msg->cat_manifest.job_id;
    default: return NULL;
    }
}

/* An update the catalog refuses for good would leave its job waiting forever (the broker
   reports failures of other services only): record the refusal on the job. msg: the item's
   payload, NULL when it did not decode. Returns rc. */
static int
s_record_refusal(catalog_t *self, const tf_msg_work_t *work, const tf_msg_t *msg, int rc, tf_err_t *err)
{
    if (rc == TF_OK || tf_actor_status_retryable(rc))
        return rc;
    /* Queries change nothing; volume reports belong to no job; cat_replica is called: its
       refusal goes back to the replicator or CLI that sent it (a replicate item fails, and the
       broker fails the job once that item fails for good). */
    if (msg && (msg->type == TF_MSG_CAT_QUERY || msg->type == TF_MSG_CAT_VOLUME || msg->type == TF_MSG_CAT_SCHED
                || msg->type == TF_MSG_CAT_REPLICA))
        return rc;
    const char *job_id = msg ? s_msg_job_id(msg) : NULL;
    if (!job_id)
        job_id = work->job_id;
    if (job_id && *job_id) {
        tf_err_t ferr = {0};
        int64_t now = catalog_now(self);
        int frc = s_begin(self, &ferr);
        if (frc == TF_OK) {
            frc = s_job_ensure(self, job_id, now, &ferr);
            if (frc == TF_OK)
                frc = s_job_fail(self, job_id, "catalog", NULL, err ? err->message : "refused an item", now, &ferr);
            frc = s_end(self, frc, &ferr);
        }
        if (frc != TF_OK)
            tf_log_error("cannot record the failure on job %s: %s", job_id, ferr.message);
    }
    return rc;
}

int
catalog_handle_item(catalog_t *self, const tf_msg_work_t *work, tf_msg_t *reply, tf_err_t *err)
{
    if (reply)
        memset(reply, 0, sizeof *reply);
    tf_msg_t msg;
    int rc = tf_actor_decode(catalog_routes, work, &msg, err);  /* the process's refusals, word for word */
    if (rc == TF_OK)
        rc = catalog_apply(self, &msg, reply, err);
    rc = s_record_refusal(self, work, msg.type != TF_MSG_NONE ? &msg : NULL, rc, err);
    tf_msg_clear(&msg);
    return rc;
}

/* cat_job, cat_files, cat_written, cat_volume: one transaction each, no result. */
static int
s_on_update(tf_actor_t *actor, const tf_msg_work_t *work, const tf_msg_t *payload, void *arg, tf_err_t *err)
{
    catalog_t *self = arg;
    return s_record_refusal(self, work, payload, catalog_apply(self, payload, NULL, err), err);
}

/* cat_query: the cat_reply is the item's result. */
static int
s_on_cat_query(tf_actor_t *actor, const tf_msg_work_t *work, const tf_msg_t *payload, void *arg, tf_err_t *err)
{
    catalog_t *self = arg;
    tf_msg_t reply;
    int rc = catalog_apply(self, payload, &reply, err);
    if (rc == TF_OK)
        rc = tf_actor_set_result_msg(actor, &reply, err);
    tf_msg_clear(&reply);
    return rc;
}

/* A payload the runtime refused (malformed, or not a catalog message). */
static int
s_on_refused(tf_actor_t *actor, const tf_msg_work_t *work, const tf_msg_t *payload, void *arg, tf_err_t *err)
{
    return s_record_refusal(arg, work, payload, err->code, err);
}

const tf_actor_route_t catalog_routes[] = {
    {TF_MSG_CAT_JOB, s_on_update},
    {TF_MSG_CAT_FILES, s_on_update},
    {TF_MSG_CAT_WRITTEN, s_on_update},
    {TF_MSG_CAT_VOLUME, s_on_update},
    {TF_MSG_CAT_QUERY, s_on_cat_query},
    {TF_MSG_CAT_MANIFEST, s_on_cat_query},
    {TF_MSG_CAT_SCHED, s_on_cat_query},
    {TF_MSG_CAT_REPLICA, s_on_cat_query},
    {TF_ACTOR_REFUSED, s_on_refused},
    TF_ACTOR_ROUTES_END
};
