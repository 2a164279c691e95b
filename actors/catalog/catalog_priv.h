/*  catalog_priv - what catalog.c (schema, updates) and catalog_query.c share. */
#ifndef CATALOG_PRIV_H_INCLUDED
#define CATALOG_PRIV_H_INCLUDED

#include <sqlite3.h>

#include "catalog.h"

/* The host of a job_paths.path: "HOST:/path" names it, a plain "/path" (a job from before
   issue 10) none (''). */
#define CATALOG_PATH_HOST_SQL \
    "CASE WHEN substr(path, 1, 1) = '/' OR instr(path, ':') = 0 THEN '' " \
    "ELSE substr(path, 1, instr(path, ':') - 1) END"

/* A manifest path as the compressor stores it (archiver.c: leading '/' removed, "/" is "."). */
#define CATALOG_STORED_SQL(col) "CASE WHEN ltrim(" col ", '/') = '' THEN '.' ELSE ltrim(" col ", '/') END"

/* The manifest reason of an entry the compressor stored incomplete ("stored incomplete: why"):
   the next incremental takes it again. */
#define CATALOG_STORED_INCOMPLETE "stored incomplete: "

/* A job event to publish once the transaction that caused it commits. */
typedef struct {
    char job_id[TF_MSG_MAX_ID + 1];
    char kind[32];          /* stage, or the final status */
    char stage[32];         /* stage: the one the job moved to */
    char level[8];          /* "" : the kind's level; else info | warn | error */
} catalog_pending_t;

struct _catalog_t {
    sqlite3 *db;
    char *path;
    catalog_clock_fn *clock;
    void *clock_arg;
    catalog_event_fn *events;
    void *events_arg;
    catalog_pending_t *pending;   /* events of the open transaction */
    size_t pending_count, pending_cap;
    catalog_chain_policy_fn *chain_policy;  /* NULL: every pool keeps (catalog_chain.c) */
    void *chain_policy_arg;
    bool chain_sql_ready;                   /* tf_chain_gone() is registered with db */
};

/* Sets err to TF_ERR_DB with "catalog PATH: WHAT: sqlite's message"; returns TF_ERR_DB. */
int catalog_db_error(catalog_t *self, tf_err_t *err, const char *what);
sqlite3_stmt *catalog_prepare(catalog_t *self, const char *sql, tf_err_t *err);
int64_t catalog_now(catalog_t *self);

/* Text column as a heap copy (NULL stays NULL); *oom set when the copy fails. */
char *catalog_column_dup(sqlite3_stmt *stmt, int col, bool *oom);

/* catalog_query.c: answers a cat_query into *reply (TF_MSG_CAT_REPLY). */
int catalog_query(catalog_t *self, const tf_msg_cat_query_t *query, tf_msg_t *reply, tf_err_t *err);

/* catalog_query.c helpers the issue-11 queries share. catalog_grow: grows rows (of elem bytes
   each) by one zeroed row, NULL when memory ran out. catalog_job_known: TF_OK, or
   TF_ERR_NOTFOUND with an operator's message. catalog_pattern: a glob over stored (relative)
   paths without leading and trailing '/'; NULL (everything) when nothing is left, *oom on
   failure. catalog_limit: the row limit asked for, or fallback, capped. */
void *catalog_grow(void **rows, size_t *count, size_t *cap, size_t elem);
/* Steps a bound statement to its end (or limit rows: one more sets *truncated, which may be
   NULL) into *rows of elem bytes each, read reading one row (setting *oom when a copy failed),
   and finalizes it. what names the rows for the messages ("the replicas"); *rows must be empty
   (count 0) or exactly full. */
typedef void (catalog_row_fn)(sqlite3_stmt *stmt, void *row, bool *oom);
int catalog_collect(catalog_t *self, sqlite3_stmt *stmt, void **rows, size_t *count, size_t elem, uint64_t limit,
                    bool *truncated, catalog_row_fn *read, const char *what, tf_err_t *err);
int catalog_job_known(catalog_t *self, const char *job_id, tf_err_t *err);
char *catalog_pattern(const char *pattern, bool *oom);
uint64_t catalog_limit(uint64_t asked, uint64_t fallback);

/* catalog_query.c: one archive row as the "archives" query returns it (segments filled) into
   *row (cleared first; the caller frees its fields). TF_ERR_NOTFOUND when not catalogued. */
int catalog_archive_read(catalog_t *self, const char *archive_id, tf_msg_archive_row_t *row, tf_err_t *err);
/* catalog_query.c: what a restore can read, for archives row alias A and the SQL parameter P
   holding a replication target or NULL: NULL - on tape (written); a target - copied to it in
   a replica the catalog has as verified. catalog_archive_replica_copy: a row not on tape takes
   its size, checksum and file count from its copy on target (replica_archives). */
#define CATALOG_READABLE_SQL(A, P)                                                                   \
    "((" P " IS NULL AND " A ".written = 1) OR (" P " IS NOT NULL AND EXISTS (SELECT 1 "              \
    "FROM replica_archives ra JOIN replicas r ON r.job_id = ra.job_id AND r.target = ra.target "      \
    "WHERE ra.archive_id = " A ".archive_id AND ra.target = " P " AND r.state = 'verified'))) "
int catalog_archive_replica_copy(catalog_t *self, const char *target, tf_msg_archive_row_t *row, tf_err_t *err);

/* catalog.c: binds text or NULL; catalog_run steps a statement to its end and finalizes it
   (*changes, may be NULL: rows changed; bind_rc: the binds' result, failing when not SQLITE_OK). */
int catalog_bind_text(sqlite3_stmt *stmt, int index, const char *text);
int catalog_run(catalog_t *self, sqlite3_stmt *stmt, int bind_rc, const char *what, int *changes, tf_err_t *err);

/* catalog.c: a write transaction (BEGIN IMMEDIATE); catalog_end commits when rc is TF_OK, else
   rolls back, and returns the first failure. */
int catalog_begin(catalog_t *self, tf_err_t *err);
int catalog_end(catalog_t *self, int rc, tf_err_t *err);

/* catalog.c, for the op files: catalog_job_ensure creates the job row (queued) when missing;
   catalog_job_check_complete is the completion check (s_job_check_complete, not a refresh);
   catalog_event_add notes a job event (kind: stage, a final status, replica) published after
   the transaction commits. */
int catalog_job_ensure(catalog_t *self, const char *job_id, int64_t now, tf_err_t *err);
int catalog_job_check_complete(catalog_t *self, const char *job_id, int64_t now, tf_err_t *err);
void catalog_event_add(catalog_t *self, const char *job_id, const char *kind, const char *stage);
/* The same with the event's level (info | warn | error) instead of the one its kind implies. */
void catalog_event_add_level(catalog_t *self, const char *job_id, const char *kind, const char *stage,
                             const char *level);
/* catalog.c: copies text into buf (size), cut at a UTF-8 character boundary to fit. */
void catalog_copy_text(char *buf, size_t size, const char *text);

/* An archive (alias a) of job j whose group counts for the job: inside a host scan's range
   (job_scans), or 1..groups_total for a job scanned once. The one group rule of completion
   and of replica readiness. */
#define CATALOG_GROUP_OF_JOB_SQL(a, j)                                                           \
    "CASE WHEN EXISTS (SELECT 1 FROM job_scans s WHERE s.job_id = " j ".job_id) "                \
    "THEN EXISTS (SELECT 1 FROM job_scans s WHERE s.job_id = " j ".job_id "                      \
    "             AND " a ".group_no BETWEEN s.group_base + 1 AND s.group_base + s.groups_total) " \
    "ELSE " a ".group_no BETWEEN 1 AND " j ".groups_total END"

/* catalog_manifest.c (issue 11): manifests, levels and restore plans of chains.
   catalog_manifest_apply answers a cat_manifest into *reply (TF_MSG_CAT_MANIFEST_REPLY).
   catalog_level_decide is called by the create op, inside its transaction, once the job row
   exists: it records the level the job runs at, its base job and the reason of an upgrade.
   catalog_manifest_query answers the queries manifest, restore_plan and job_at. */
int catalog_manifest_apply(catalog_t *self, const tf_msg_cat_manifest_t *m, tf_msg_t *reply, tf_err_t *err);
int catalog_level_decide(catalog_t *self, const tf_msg_cat_job_t *create, tf_err_t *err);
bool catalog_manifest_handles(const char *query);
int catalog_manifest_query(catalog_t *self, const tf_msg_cat_query_t *q, tf_msg_t *reply, tf_err_t *err);

/* catalog_sched.c (issue 11): schedule runs. catalog_sched_apply answers a cat_sched into
   *reply (a cat_reply whose sched[0] is the stored row); catalog_sched_query answers the
   query schedule_history (pattern: the schedule name; none: the last row of every schedule). */
int catalog_sched_apply(catalog_t *self, const tf_msg_cat_sched_t *m, tf_msg_t *reply, tf_err_t *err);
bool catalog_sched_handles(const char *query);
int catalog_sched_query(catalog_t *self, const tf_msg_cat_query_t *q, tf_msg_t *reply, tf_err_t *err);

/* catalog_replica.c (issue 12): replicas of jobs on replication targets (docs/catalog.md,
   "Replicas"). catalog_replica_apply answers a cat_replica into *reply (a cat_reply whose
   replicas[0] is the row after the change). catalog_replica_create records a row (copying) for
   each target of a create op's replicas, inside its transaction. catalog_replica_gate is the
   replica part of the completion check of a job whose tape side is done: *done when every
   target of the job is verified (or, replication optional, failed for good); *warn when an
   optional target failed; suffix gets "; replicated to URL (...)" / "; replication to URL
   failed: WHY" per target, progress (when not done) "on tape; replicating to NAME (2 of 3
   archives)". catalog_replica_job fills a job row's replicas (query "job"). */
int catalog_replica_apply(catalog_t *self, const tf_msg_cat_replica_t *m, tf_msg_t *reply, tf_err_t *err);
int catalog_replica_create(catalog_t *self, const tf_msg_cat_job_t *create, int64_t t, tf_err_t *err);
/* cat_job retried: the job's replica rows that failed before a commit copy again (copying,
   final 0), inside the retry's transaction. */
int catalog_replica_retry(catalog_t *self, const char *job_id, int64_t t, tf_err_t *err);
int catalog_replica_gate(catalog_t *self, const char *job_id, bool *done, bool *warn, char *suffix,
                         size_t suffix_size, char *progress, size_t progress_size, tf_err_t *err);
int catalog_replica_job(catalog_t *self, tf_msg_job_row_t *row, tf_err_t *err);
bool catalog_replica_handles(const char *query);
int catalog_replica_query(catalog_t *self, const tf_msg_cat_query_t *q, tf_msg_t *reply, tf_err_t *err);

/* catalog_chain.c (issue 11): retention that knows chains. Fill a volume row's held and
   orphans, and a job row's depends_on (query "job"). catalog_chain_jobs shows the rows of
   jobs whose base expired with its volume (chain_retention expire) as expired (queries "job"
   and "jobs"; nothing is rewritten). */
int catalog_chain_volume(catalog_t *self, tf_msg_volume_row_t *row, tf_err_t *err);
int catalog_chain_job(catalog_t *self, tf_msg_job_row_t *row, tf_err_t *err);
int catalog_chain_jobs(catalog_t *self, tf_msg_job_row_t *rows, size_t count, tf_err_t *err);
/* Table job_deps (job_id, data_job): the jobs whose archives a job's restore reads, besides
   its own. catalog_chain_record_base adds the base and what the base depends on when a level
   decision picks it (a job being scanned already needs them); catalog_chain_record_deps adds
   the data_jobs of the job's live manifest rows at each scan end, and once every host's
   manifest is complete drops the ones no row refers to. */
/* An archive (alias a) a chain cannot count on: lost (its volume recycled), or on a volume past
   its expiry whose pool's chain_retention is expire (tf_chain_gone: call
   catalog_chain_sql_ready first). catalog_chain.c's s_gone_sql is the same rule over all
   archives at once. */
#define CATALOG_ARCHIVE_GONE_SQL(a)                                                              \
    "(" a ".lost != 0 OR EXISTS (SELECT 1 FROM volumes gv WHERE (gv.label = " a ".volume "       \
    "OR gv.label IN (SELECT gs.volume FROM segments gs WHERE gs.archive_id = " a ".archive_id)) " \
    "AND tf_chain_gone(gv.pool, gv.full, gv.expires_ms)))"

/* A job (SQL expression job) whose restore cannot be complete: an archive of its own or of a job
   it depends on (job_deps) is gone, or such a job is expired. */
#define CATALOG_CHAIN_BROKEN_SQL(job)                                                            \
    "(EXISTS (SELECT 1 FROM archives ga WHERE ga.job_id = " job " AND " CATALOG_ARCHIVE_GONE_SQL("ga") ") " \
    "OR EXISTS (SELECT 1 FROM job_deps gd JOIN jobs gk ON gk.job_id = gd.data_job "              \
    "WHERE gd.job_id = " job " AND (gk.status = 'expired' OR EXISTS (SELECT 1 FROM archives ga "   \
    "WHERE ga.job_id = gd.data_job AND " CATALOG_ARCHIVE_GONE_SQL("ga") "))))"

/* Registers tf_chain_gone(pool, full, expires_ms) (a volume whose archives are gone for
   chains) with the database, once; before any SQL that uses it. */
int catalog_chain_sql_ready(catalog_t *self, tf_err_t *err);
int catalog_chain_record_base(catalog_t *self, const char *job_id, const char *base_job, tf_err_t *err);
int catalog_chain_record_deps(catalog_t *self, const char *job_id, tf_err_t *err);

#endif
