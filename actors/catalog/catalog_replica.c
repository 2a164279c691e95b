/*  catalog_replica - a job's replicas on replication targets (issue 12; docs/catalog.md,
    "Replicas").

    One replicas row per job and target: created (copying) by the job's create for each target
    of its pool, changed by cat_replica ops the replicator and `tapeflow replica` send. Its
    archives are in replica_archives. Every op is idempotent (a repeat changes nothing and
    publishes nothing), publishes job.<id>.replica when the row's state changes, and runs the
    job's completion check, which asks catalog_replica_gate whether the job's replicas let it
    end. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog_priv.h"
#include "tf_log.h"
#include "tf_pipeline_ids.h"
#include "tf_units.h"

/* Default and largest row counts of replica_pending (a sweep commits them one by one). */
#define S_PENDING_LIMIT 100

/* ready: the job is scanned and every archive it has is copied to the target (the group rule
   of completion). */
#define S_READY_SQL                                                                               \
    "(j.scanned != 0 AND (SELECT count(DISTINCT ra.group_no) FROM replica_archives ra "          \
    "  WHERE ra.job_id = r.job_id AND ra.target = r.target AND " CATALOG_GROUP_OF_JOB_SQL("ra", "j") \
    ") >= j.groups_total)"

/* An optional target gave up on the row (failed, final): only cat_job retried reopens it. A
   required row failed "for good" fails its job, and copies again when they come. */
#define S_GAVE_UP_SQL "(state = 'failed' AND final != 0 AND required = 0)"

/* The columns s_read_row reads: the row, its readiness and its job's facts. */
#define S_ROW_SQL                                                                                \
    "SELECT r.job_id, r.target, r.url, r.state, r.required, r.archives, "                       \
    "  CASE WHEN j.scanned != 0 THEN j.groups_total ELSE 0 END, r.bytes, " S_READY_SQL ", "      \
    "  r.message, r.updated_ms, r.verified_ms, r.final, j.status, j.pool, j.level, j.base_job, " \
    "  j.created_ms "                                                                            \
    "FROM replicas r JOIN jobs j ON j.job_id = r.job_id "                                        \
    "WHERE (?1 IS NULL OR r.job_id = ?1) AND (?2 IS NULL OR r.target = ?2) "

/* A message into buf (size), cut at a UTF-8 character boundary to fit. */
static void s_text(char *buf, size_t size, const char *format, ...) __attribute__((format(printf, 3, 4)));

static void
s_text(char *buf, size_t size, const char *format, ...)
{
    char big[3 * TF_MSG_MAX_TEXT];
    va_list args;
    va_start(args, format);
    vsnprintf(big, sizeof big, format, args);
    va_end(args);
    catalog_copy_text(buf, size, big);
}

/* "replicated to URL (3 archives, 1.2 GiB, verified)" */
static void
s_replicated_text(char *buf, size_t size, const char *url, uint64_t archives, uint64_t bytes)
{
    char amount[32];
    s_text(buf, size, "replicated to %s (%" PRIu64 " archive%s, %s, verified)", url, archives,
             archives == 1 ? "" : "s", tf_units_bytes(bytes, amount, sizeof amount));
}

static void
s_read_row(sqlite3_stmt *stmt, void *out, bool *oom)
{
    tf_msg_replica_row_t *row = out;
    row->job_id = catalog_column_dup(stmt, 0, oom);
    row->target = catalog_column_dup(stmt, 1, oom);
    row->url = catalog_column_dup(stmt, 2, oom);
    row->state = catalog_column_dup(stmt, 3, oom);
    row->required = sqlite3_column_int(stmt, 4) != 0;
    row->archives = (uint64_t) sqlite3_column_int64(stmt, 5);
    row->archives_total = (uint64_t) sqlite3_column_int64(stmt, 6);
    row->bytes = (uint64_t) sqlite3_column_int64(stmt, 7);
    row->ready = sqlite3_column_int(stmt, 8) != 0;
    row->message = catalog_column_dup(stmt, 9, oom);
    row->updated_ms = sqlite3_column_int64(stmt, 10);
    row->verified_ms = sqlite3_column_int64(stmt, 11);
    row->final = sqlite3_column_int(stmt, 12) != 0;
    row->job_status = catalog_column_dup(stmt, 13, oom);
    row->pool = catalog_column_dup(stmt, 14, oom);
    row->level = catalog_column_dup(stmt, 15, oom);
    row->base_job = catalog_column_dup(stmt, 16, oom);
    row->created_ms = sqlite3_column_int64(stmt, 17);
}

/* Runs S_ROW_SQL + tail with job_id (?1), target (?2; both may be NULL) and limit + 1 (?3)
   into *rows, at most limit of them (*truncated when there were more). */
static int
s_rows(catalog_t *self, const char *tail, const char *job_id, const char *target, uint64_t limit,
       tf_msg_replica_row_t **rows, size_t *count, bool *truncated, tf_err_t *err)
{
    char sql[4096];
    snprintf(sql, sizeof sql, "%s%s LIMIT ?3", S_ROW_SQL, tail);
    sqlite3_stmt *stmt = catalog_prepare(self, sql, err);
    if (!stmt)
        return TF_ERR_DB;
    if ((catalog_bind_text(stmt, 1, job_id) | catalog_bind_text(stmt, 2, target)
         | sqlite3_bind_int64(stmt, 3, (sqlite3_int64) limit + 1)) != SQLITE_OK) {
        sqlite3_finalize(stmt);
        return catalog_db_error(self, err, "cannot bind the replicas query");
    }
    return catalog_collect(self, stmt, (void **) rows, count, sizeof **rows, limit, truncated, s_read_row,
                           "the replicas", err);
}

static void
s_read_copy(sqlite3_stmt *stmt, void *out, bool *oom)
{
    tf_msg_replica_archive_t *a = out;
    a->archive_id = catalog_column_dup(stmt, 0, oom);
    a->group_no = (uint64_t) sqlite3_column_int64(stmt, 1);
    a->size = (uint64_t) sqlite3_column_int64(stmt, 2);
    a->checksum = catalog_column_dup(stmt, 3, oom);
    a->rows_size = (uint64_t) sqlite3_column_int64(stmt, 4);
    a->rows_checksum = catalog_column_dup(stmt, 5, oom);
    a->files = (uint64_t) sqlite3_column_int64(stmt, 6);
    a->bytes = (uint64_t) sqlite3_column_int64(stmt, 7);
    a->compression = catalog_column_dup(stmt, 8, oom);
    a->host = catalog_column_dup(stmt, 9, oom);
}

/* The archives of one replica, by group (query replica). */
static int
s_copies(catalog_t *self, tf_msg_replica_row_t *row, tf_err_t *err)
{
    sqlite3_stmt *stmt = catalog_prepare(self,
        "SELECT archive_id, group_no, size, checksum, rows_size, rows_checksum, files, bytes, compression, host "
        "FROM replica_archives WHERE job_id = ?1 AND target = ?2 ORDER BY group_no, archive_id", err);
    if (!stmt)
        return TF_ERR_DB;
    if ((catalog_bind_text(stmt, 1, row->job_id) | catalog_bind_text(stmt, 2, row->target)) != SQLITE_OK) {
        sqlite3_finalize(stmt);
        return catalog_db_error(self, err, "cannot bind the replica archives query");
    }
    return catalog_collect(self, stmt, (void **) &row->copies, &row->copies_count, sizeof *row->copies, UINT64_MAX,
                           NULL, s_read_copy, "the archives of a replica", err);
}

/* ------------------------------------------------------------------ create ------------- */

int
catalog_replica_create(catalog_t *self, const tf_msg_cat_job_t *create, int64_t t, tf_err_t *err)
{
    bool required = !(create->replication && strcmp(create->replication, "optional") == 0);
    sqlite3_stmt *stmt = catalog_prepare(self,
        "INSERT INTO replicas(job_id, target, required, state, updated_ms) VALUES(?1, ?2, ?3, 'copying', ?4) "
        "ON CONFLICT(job_id, target) DO NOTHING", err);
    if (!stmt)
        return TF_ERR_DB;
    const char *list = create->replicas;
    char name[TF_ID_MAX];
    int rc = TF_OK;
    /* a name that is not one is refused, never cut or skipped */
    while (rc == TF_OK && tf_id_list_next(&list, name, sizeof name)) {
        if (!*name) {
            rc = tf_err_set(err, TF_ERR_INVALID, "cat_job %s: an empty or over-long replication target in '%.64s%s' "
                            "(names have 1 to 128 characters; pools/%s/replicas)", create->job_id, create->replicas,
                            strlen(create->replicas) > 64 ? "..." : "", create->pool ? create->pool : "POOL");
            break;
        }
        if (!tf_id_target_name(name)) {
            rc = tf_err_set(err, TF_ERR_INVALID, "cat_job %s: replication target '%s' is not a name (letters, "
                            "digits, '-', '_' and '.', not first '.' or '-', not 'tape', at most 128 characters; "
                            "pools/%s/replicas)", create->job_id, name, create->pool ? create->pool : "POOL");
            break;
        }
        if ((catalog_bind_text(stmt, 1, create->job_id) | catalog_bind_text(stmt, 2, name)
             | sqlite3_bind_int(stmt, 3, required ? 1 : 0) | sqlite3_bind_int64(stmt, 4, t)) != SQLITE_OK
            || sqlite3_step(stmt) != SQLITE_DONE)
            rc = catalog_db_error(self, err, "cannot record the job's replicas");
        sqlite3_reset(stmt);
    }
    sqlite3_finalize(stmt);
    return rc;
}

int
catalog_replica_retry(catalog_t *self, const char *job_id, int64_t t, tf_err_t *err)
{
    /* Rows that failed before a commit copy again (a final give-up too: the retry is the
       operator's new decision). Their last failure message stays until they are committed. A
       committed row whose verify failed keeps its state: copying it again would not repair
       the target's files (tapeflow replica verify says which). */
    sqlite3_stmt *stmt = catalog_prepare(self,
        "UPDATE replicas SET state = 'copying', final = 0, updated_ms = ?2 "
        "WHERE job_id = ?1 AND state = 'failed' AND verified_ms = 0", err);
    if (!stmt)
        return TF_ERR_DB;
    int changes = 0;
    int rc = catalog_run(self, stmt, catalog_bind_text(stmt, 1, job_id) | sqlite3_bind_int64(stmt, 2, t),
                         "cannot reopen the job's replicas", &changes, err);
    if (rc == TF_OK && changes > 0) {
        tf_log_info("job %s: retried: %d failed replica%s copy again", job_id, changes, changes == 1 ? "" : "s");
        catalog_event_add(self, job_id, "replica", NULL);
    }
    return rc;
}

/* ------------------------------------------------------------------ completion --------- */

/* Appends "; text" to buf (size), cut to fit. */
static void
s_append(char *buf, size_t size, const char *text)
{
    size_t used = strlen(buf);
    if (used + 3 < size)
        s_text(buf + used, size - used, "; %s", text);
}

int
catalog_replica_gate(catalog_t *self, const char *job_id, bool *done, bool *warn, char *suffix,
                     size_t suffix_size, char *progress, size_t progress_size, tf_err_t *err)
{
    *done = true;
    *warn = false;
    suffix[0] = progress[0] = '\0';
    /* the job's create recorded a row per target in its transaction: the rows are the targets */
    sqlite3_stmt *stmt = catalog_prepare(self,
        "SELECT r.state, r.final, COALESCE(r.url, r.target), r.archives, r.bytes, r.message, r.required, "
        "  CASE WHEN j.scanned != 0 THEN j.groups_total ELSE 0 END, r.target "
        "FROM replicas r JOIN jobs j ON j.job_id = r.job_id WHERE r.job_id = ?1 ORDER BY r.target", err);
    if (!stmt)
        return TF_ERR_DB;
    int rc = TF_OK, s;
    if (catalog_bind_text(stmt, 1, job_id) != SQLITE_OK) {
        sqlite3_finalize(stmt);
        return catalog_db_error(self, err, "cannot bind the replica check");
    }
    while ((s = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *state = (const char *) sqlite3_column_text(stmt, 0);
        bool final = sqlite3_column_int(stmt, 1) != 0;
        const char *url = (const char *) sqlite3_column_text(stmt, 2);
        uint64_t archives = (uint64_t) sqlite3_column_int64(stmt, 3);
        uint64_t bytes = (uint64_t) sqlite3_column_int64(stmt, 4);
        const char *message = (const char *) sqlite3_column_text(stmt, 5);
        bool optional = sqlite3_column_int(stmt, 6) == 0;
        uint64_t total = (uint64_t) sqlite3_column_int64(stmt, 7);
        const char *name = (const char *) sqlite3_column_text(stmt, 8);
        char text[TF_MSG_MAX_TEXT];
        bool failed = state && strcmp(state, "failed") == 0;
        bool ok = state && (strcmp(state, "verified") == 0 || strcmp(state, "deleted") == 0);
        if (state && strcmp(state, "verified") == 0)
            s_replicated_text(text, sizeof text, url, archives, bytes);
        else
            catalog_copy_text(text, sizeof text, message && *message ? message
                                                 : failed ? "replication failed (no reason recorded)" : "");
        if (ok || failed)
            s_append(suffix, suffix_size, text);
        if (failed)
            *warn = true;
        if (ok || (failed && final && optional))
            continue;
        /* The first target the job still waits for says why. */
        if (*done) {
            if (failed)
                s_text(progress, progress_size, "on tape; %s", text);
            else
                s_text(progress, progress_size, "on tape; replicating to %s (%" PRIu64 " of %" PRIu64
                         " archive%s)", name, archives, total, total == 1 ? "" : "s");
        }
        *done = false;
    }
    if (s != SQLITE_DONE)
        rc = catalog_db_error(self, err, "cannot read the job's replicas");
    sqlite3_finalize(stmt);
    return rc;
}

/* ------------------------------------------------------------------ ops ---------------- */

static int
s_check(const tf_msg_cat_replica_t *m, tf_err_t *err)
{
    static const char *const ops[] = {"copied", "committed", "failed", "verified", "deleted"};
    bool known = false;
    for (size_t i = 0; m->op && i < sizeof ops / sizeof ops[0]; i++)
        known = known || strcmp(m->op, ops[i]) == 0;
    if (!known)
        return tf_err_set(err, TF_ERR_INVALID, "cat_replica: op '%s' is not copied, committed, failed, verified "
                          "or deleted", m->op ? m->op : "");
    if (!m->job_id || !*m->job_id)
        return tf_err_set(err, TF_ERR_INVALID, "cat_replica %s: no job_id given", m->op);
    if (!tf_id_target_name(m->target))
        return tf_err_set(err, TF_ERR_INVALID, "cat_replica %s of job %s: '%s' is not a replication target name "
                          "(replicas/NAME: letters, digits, '-', '_' and '.', not first '.' or '-', not 'tape', at "
                          "most 128 characters)", m->op, m->job_id,
                          m->target ? m->target : "");
    if (strcmp(m->op, "copied") == 0 && m->copies_count == 0)
        return tf_err_set(err, TF_ERR_INVALID, "cat_replica copied of job %s to %s: no archive in copies",
                          m->job_id, m->target);
    for (size_t i = 0; i < m->copies_count; i++)
        if (!m->copies[i].archive_id || !*m->copies[i].archive_id)
            return tf_err_set(err, TF_ERR_INVALID, "cat_replica %s of job %s to %s: copy %zu has no archive_id",
                              m->op, m->job_id, m->target, i + 1);
    return TF_OK;
}

/* The row's state, final, shown URL, archives and bytes; *found false when there is none. */
typedef struct {
    bool found;
    char state[16];
    bool final;
    char url[TF_MSG_MAX_TEXT];
    uint64_t archives, bytes;
    bool required;
    int64_t verified_ms;             /* > 0: the row was committed once */
} s_state_t;

static int
s_state(catalog_t *self, const tf_msg_cat_replica_t *m, s_state_t *st, tf_err_t *err)
{
    memset(st, 0, sizeof *st);
    sqlite3_stmt *stmt = catalog_prepare(self, "SELECT state, final, COALESCE(url, target), archives, bytes, "
                                         "  required, verified_ms "
                                         "FROM replicas WHERE job_id = ?1 AND target = ?2", err);
    if (!stmt)
        return TF_ERR_DB;
    int s = (catalog_bind_text(stmt, 1, m->job_id) | catalog_bind_text(stmt, 2, m->target)) == SQLITE_OK
                ? sqlite3_step(stmt) : SQLITE_ERROR;
    if (s == SQLITE_ROW) {
        st->found = true;
        const char *state = (const char *) sqlite3_column_text(stmt, 0);
        const char *url = (const char *) sqlite3_column_text(stmt, 2);
        snprintf(st->state, sizeof st->state, "%s", state ? state : "");
        st->final = sqlite3_column_int(stmt, 1) != 0;
        catalog_copy_text(st->url, sizeof st->url, url ? url : m->target);
        st->archives = (uint64_t) sqlite3_column_int64(stmt, 3);
        st->bytes = (uint64_t) sqlite3_column_int64(stmt, 4);
        st->required = sqlite3_column_int(stmt, 5) != 0;
        st->verified_ms = sqlite3_column_int64(stmt, 6);
    }
    sqlite3_finalize(stmt);
    return s == SQLITE_ROW || s == SQLITE_DONE ? TF_OK : catalog_db_error(self, err, "cannot read the replica");
}

/* Runs an UPDATE of the row with job (?1), target (?2), url (?3, NULL keeps it) and time (?4)
   bound, plus text ?5 and integer ?6 when the statement has them; *changes: rows changed. */
static int
s_update(catalog_t *self, const char *sql, const tf_msg_cat_replica_t *m, int64_t t, const char *text,
         int64_t value, int *changes, tf_err_t *err)
{
    sqlite3_stmt *stmt = catalog_prepare(self, sql, err);
    if (!stmt)
        return TF_ERR_DB;
    int params = sqlite3_bind_parameter_count(stmt);
    int b = catalog_bind_text(stmt, 1, m->job_id) | catalog_bind_text(stmt, 2, m->target)
            | catalog_bind_text(stmt, 3, m->url && *m->url ? m->url : NULL) | sqlite3_bind_int64(stmt, 4, t);
    if (params >= 5)
        b |= catalog_bind_text(stmt, 5, text);
    if (params >= 6)
        b |= sqlite3_bind_int64(stmt, 6, value);
    return catalog_run(self, stmt, b, "cannot record the replica", changes, err);
}

/* copied: the archives are on the target (verified, in .partial). A row that failed goes back
   to copying (the items copy again); a verified one stays verified, and an optional one that
   failed for good (final: the target gave up, S_GAVE_UP_SQL) stays failed - a late copy never reopens a
   decision the job's completion relied on (cat_job retried reopens it). The row's message (the
   last failure) stays until the row is committed: archives may still be missing. */
static int
s_copied(catalog_t *self, const tf_msg_cat_replica_t *m, int64_t t, int *changes, tf_err_t *err)
{
    sqlite3_stmt *stmt = catalog_prepare(self,
        "INSERT INTO replica_archives(job_id, target, archive_id, group_no, size, checksum, rows_size, "
        "  rows_checksum, files, bytes, compression, host, copied_ms) "
        "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) "
        "ON CONFLICT(job_id, target, archive_id) DO UPDATE SET group_no = excluded.group_no, "
        "  size = excluded.size, checksum = excluded.checksum, rows_size = excluded.rows_size, "
        "  rows_checksum = excluded.rows_checksum, files = excluded.files, bytes = excluded.bytes, "
        "  compression = excluded.compression, host = excluded.host, copied_ms = excluded.copied_ms "
        "WHERE NOT (group_no = excluded.group_no AND size = excluded.size AND checksum IS excluded.checksum "
        "  AND rows_size = excluded.rows_size AND rows_checksum IS excluded.rows_checksum "
        "  AND files = excluded.files AND bytes = excluded.bytes AND compression IS excluded.compression "
        "  AND host IS excluded.host)", err);
    if (!stmt)
        return TF_ERR_DB;
    int rc = TF_OK, added = 0;
    for (size_t i = 0; rc == TF_OK && i < m->copies_count; i++) {
        const tf_msg_replica_archive_t *a = &m->copies[i];
        if ((catalog_bind_text(stmt, 1, m->job_id) | catalog_bind_text(stmt, 2, m->target)
             | catalog_bind_text(stmt, 3, a->archive_id) | sqlite3_bind_int64(stmt, 4, (sqlite3_int64) a->group_no)
             | sqlite3_bind_int64(stmt, 5, (sqlite3_int64) a->size) | catalog_bind_text(stmt, 6, a->checksum)
             | sqlite3_bind_int64(stmt, 7, (sqlite3_int64) a->rows_size)
             | catalog_bind_text(stmt, 8, a->rows_checksum) | sqlite3_bind_int64(stmt, 9, (sqlite3_int64) a->files)
             | sqlite3_bind_int64(stmt, 10, (sqlite3_int64) a->bytes) | catalog_bind_text(stmt, 11, a->compression)
             | catalog_bind_text(stmt, 12, a->host) | sqlite3_bind_int64(stmt, 13, t)) != SQLITE_OK
            || sqlite3_step(stmt) != SQLITE_DONE)
            rc = catalog_db_error(self, err, "cannot record the replica's archives");
        else
            added += sqlite3_changes(self->db);
        sqlite3_reset(stmt);
    }
    sqlite3_finalize(stmt);
    if (rc != TF_OK)
        return rc;
    return s_update(self,
        "UPDATE replicas SET "
        "  archives = (SELECT count(*) FROM replica_archives a WHERE a.job_id = ?1 AND a.target = ?2), "
        "  bytes = (SELECT COALESCE(sum(size), 0) FROM replica_archives a WHERE a.job_id = ?1 AND a.target = ?2), "
        "  final = CASE WHEN state = 'verified' OR " S_GAVE_UP_SQL " THEN final ELSE 0 END, "
        "  state = CASE WHEN state = 'verified' OR " S_GAVE_UP_SQL " THEN state ELSE 'copying' END, "
        "  url = COALESCE(?3, url), updated_ms = ?4 "
        "WHERE job_id = ?1 AND target = ?2 "
        "  AND (?6 != 0 OR url IS NOT COALESCE(?3, url) "
        "    OR (state NOT IN ('verified', 'copying') AND NOT " S_GAVE_UP_SQL "))",
        m, t, NULL, added, changes, err);
}

/* committed: the job's folder and manifest.json are in place. Only a replica that holds every
   archive of the job can be. */
static int
s_committed(catalog_t *self, const tf_msg_cat_replica_t *m, int64_t t, const s_state_t *st, int *changes,
            tf_err_t *err)
{
    sqlite3_stmt *stmt = catalog_prepare(self, S_ROW_SQL, err);
    if (!stmt)
        return TF_ERR_DB;
    int s = (catalog_bind_text(stmt, 1, m->job_id) | catalog_bind_text(stmt, 2, m->target)) == SQLITE_OK
                ? sqlite3_step(stmt) : SQLITE_ERROR;
    bool ready = s == SQLITE_ROW && sqlite3_column_int(stmt, 8) != 0;
    uint64_t total = s == SQLITE_ROW ? (uint64_t) sqlite3_column_int64(stmt, 6) : 0;
    sqlite3_finalize(stmt);
    if (s != SQLITE_ROW)
        return catalog_db_error(self, err, "cannot read the replica to commit");
    if (!ready)
        return tf_err_set(err, TF_ERR_STATE, "cannot record job %s as committed on replica target %s: %" PRIu64
                          " of %" PRIu64 " archives are recorded as copied there%s (record them with cat_replica "
                          "copied first)", m->job_id, m->target, st->archives, total,
                          total == 0 ? " and the job is not scanned yet" : "");
    char text[TF_MSG_MAX_TEXT];
    s_replicated_text(text, sizeof text, m->url && *m->url ? m->url : st->url, st->archives, st->bytes);
    return s_update(self,
        "UPDATE replicas SET state = 'verified', final = 0, verified_ms = ?4, message = ?5, "
        "  url = COALESCE(?3, url), updated_ms = ?4 "
        "WHERE job_id = ?1 AND target = ?2 AND state IS NOT 'verified'",
        m, t, text, 0, changes, err);
}

/* failed: "replication to URL failed: WHY" (final: an optional target gave up).
   The time guard - a report older than the row's last change is ignored - applies only while
   the row was never committed (verified_ms 0): then reports of the replicator's attempts may
   cross, and a late one must not undo newer progress. A committed row is changed by a failure
   only from `tapeflow replica verify` (the replicator skips a job whose folder has its
   manifest), which re-read the files just now: it always applies, whatever the clocks say. */
static int
s_failed(catalog_t *self, const tf_msg_cat_replica_t *m, int64_t t, const s_state_t *st, int *changes,
         tf_err_t *err)
{
    const char *why = m->message && *m->message ? m->message : "no reason given";
    char text[TF_MSG_MAX_TEXT];
    if (strncmp(why, "replication to ", 15) == 0)
        catalog_copy_text(text, sizeof text, why);
    else
        s_text(text, sizeof text, "replication to %s failed: %s", m->url && *m->url ? m->url : st->url, why);
    return s_update(self,
        "UPDATE replicas SET state = 'failed', message = ?5, final = ?6, url = COALESCE(?3, url), "
        "  updated_ms = ?4 "
        "WHERE job_id = ?1 AND target = ?2 AND (verified_ms > 0 OR updated_ms <= ?4) "
        "  AND NOT (state = 'failed' AND message IS ?5 AND final = ?6)",
        m, t, text, m->final ? 1 : 0, changes, err);
}

/* verified: `tapeflow replica verify` re-read every file of a committed replica. */
static int
s_verified(catalog_t *self, const tf_msg_cat_replica_t *m, int64_t t, const s_state_t *st, int *changes,
           tf_err_t *err)
{
    /* Only a committed replica (verified_ms set by committed) can be verified: a failed copy
       that never reached the target's job folder is not made good by a verify. */
    if (st->verified_ms <= 0)
        return tf_err_set(err, TF_ERR_STATE, "cannot record job %s as verified on replica target %s: its replica "
                          "is %s and was never committed (tapeflow job %s says why)", m->job_id, m->target,
                          st->state, m->job_id);
    char text[TF_MSG_MAX_TEXT];
    s_replicated_text(text, sizeof text, m->url && *m->url ? m->url : st->url, st->archives, st->bytes);
    return s_update(self,
        "UPDATE replicas SET state = 'verified', final = 0, verified_ms = ?4, message = ?5, "
        "  url = COALESCE(?3, url), updated_ms = ?4 "
        "WHERE job_id = ?1 AND target = ?2 AND NOT (state = 'verified' AND verified_ms = ?4)",
        m, t, text, 0, changes, err);
}

/* deleted: retention removed the job's folder from the target (message: the rule). */
static int
s_deleted(catalog_t *self, const tf_msg_cat_replica_t *m, int64_t t, const s_state_t *st, int *changes,
          tf_err_t *err)
{
    char text[TF_MSG_MAX_TEXT];
    const char *url = m->url && *m->url ? m->url : st->url;
    if (m->message && *m->message)
        s_text(text, sizeof text, "deleted from %s by retention (%s)", url, m->message);
    else
        s_text(text, sizeof text, "deleted from %s by retention", url);
    return s_update(self,
        "UPDATE replicas SET state = 'deleted', final = 0, message = ?5, url = COALESCE(?3, url), "
        "  updated_ms = ?4 "
        "WHERE job_id = ?1 AND target = ?2 AND state IS NOT 'deleted'",
        m, t, text, 0, changes, err);
}

int
catalog_replica_apply(catalog_t *self, const tf_msg_cat_replica_t *m, tf_msg_t *reply, tf_err_t *err)
{
    memset(reply, 0, sizeof *reply);
    reply->type = TF_MSG_CAT_REPLY;
    int rc = s_check(m, err);
    if (rc != TF_OK)
        return rc;
    int64_t t = m->time_ms > 0 ? m->time_ms : catalog_now(self);
    rc = catalog_begin(self, err);
    if (rc != TF_OK)
        return rc;
    /* A job the catalog does not know cannot have a replica (a typo in `replica verify`). */
    rc = catalog_job_known(self, m->job_id, err);
    if (rc == TF_OK) {
        /* A target the create did not name (or a job from before replication): its row now,
           required as the job's replication says - but only for a job that ended. Every row
           holds an open job until it is verified (catalog_replica_gate), and the create wrote
           the rows of an open job's own targets; a stray report must not hold it open. */
        sqlite3_stmt *stmt = catalog_prepare(self,
            "INSERT INTO replicas(job_id, target, required, state, updated_ms) "
            "SELECT ?1, ?2, COALESCE(replication, '') != 'optional', 'copying', ?3 FROM jobs "
            "WHERE job_id = ?1 AND status NOT IN ('queued', 'running') "
            "ON CONFLICT(job_id, target) DO NOTHING", err);
        rc = stmt ? catalog_run(self, stmt, catalog_bind_text(stmt, 1, m->job_id)
                                | catalog_bind_text(stmt, 2, m->target) | sqlite3_bind_int64(stmt, 3, t),
                                "cannot record the replica", NULL, err)
                  : TF_ERR_DB;
    }
    s_state_t before, after;
    if (rc == TF_OK)
        rc = s_state(self, m, &before, err);
    if (rc == TF_OK && !before.found)
        rc = tf_err_set(err, TF_ERR_STATE, "job %s is still running and does not replicate to %s (its targets "
                        "were fixed when it started: tapeflow job %s shows them)", m->job_id, m->target, m->job_id);
    int changes = 0;
    if (rc == TF_OK) {
        if (strcmp(m->op, "copied") == 0)
            rc = s_copied(self, m, t, &changes, err);
        else if (strcmp(m->op, "committed") == 0)
            rc = s_committed(self, m, t, &before, &changes, err);
        else if (strcmp(m->op, "failed") == 0)
            rc = s_failed(self, m, t, &before, &changes, err);
        else if (strcmp(m->op, "verified") == 0)
            rc = s_verified(self, m, t, &before, &changes, err);
        else
            rc = s_deleted(self, m, t, &before, &changes, err);
    }
    if (rc == TF_OK && changes > 0)
        rc = s_state(self, m, &after, err);
    if (rc == TF_OK && changes > 0) {
        if (strcmp(before.state, after.state) != 0 || before.final != after.final) {
            tf_log_info("job %s: replica on %s %s -> %s", m->job_id, m->target, before.state, after.state);
            /* A failure is what the operator must act on: error for a required target (the job
               cannot end without it), warn for an optional one. */
            bool failed = strcmp(after.state, "failed") == 0;
            catalog_event_add_level(self, m->job_id, "replica", NULL,
                                    !failed ? "info" : after.required ? "error" : "warn");
        }
        /* A job whose tape side is done shows the progress, or ends with this change. */
        rc = catalog_job_check_complete(self, m->job_id, t, err);
    }
    rc = catalog_end(self, rc, err);
    if (rc != TF_OK)
        return rc;
    tf_msg_cat_reply_t *out = &reply->cat_reply;
    rc = s_rows(self, "", m->job_id, m->target, 1, &out->replicas, &out->replicas_count, NULL, err);
    if (rc == TF_OK && out->replicas_count != 1)
        rc = catalog_db_error(self, err, "the replica just recorded cannot be read back");
    if (rc != TF_OK)
        tf_msg_clear(reply);
    return rc;
}

/* ------------------------------------------------------------------ queries ------------ */

int
catalog_replica_job(catalog_t *self, tf_msg_job_row_t *row, tf_err_t *err)
{
    return s_rows(self, "ORDER BY r.target", row->job_id, NULL, CATALOG_MAX_ROWS, &row->replicas,
                  &row->replicas_count, NULL, err);
}

bool
catalog_replica_handles(const char *query)
{
    return strcmp(query, "replicas") == 0 || strcmp(query, "replica") == 0 || strcmp(query, "replica_pending") == 0;
}

int
catalog_replica_query(catalog_t *self, const tf_msg_cat_query_t *q, tf_msg_t *reply, tf_err_t *err)
{
    memset(reply, 0, sizeof *reply);
    reply->type = TF_MSG_CAT_REPLY;
    tf_msg_cat_reply_t *out = &reply->cat_reply;
    const char *job_id = q->job_id && *q->job_id ? q->job_id : NULL;
    const char *target = q->pattern && *q->pattern ? q->pattern : NULL;
    int rc = TF_OK;
    if (strcmp(q->query, "replica_pending") == 0)
        /* Oldest first: the sweep commits what waits longest. A row that failed (not for good)
           after its last archive was copied has everything too: the sweep commits it. A failure
           of a committed row (a verify's) is not the sweep's to undo. */
        rc = s_rows(self, "AND (r.state = 'copying' OR (r.state = 'failed' AND r.final = 0 AND r.verified_ms = 0)) "
                    "AND " S_READY_SQL " ORDER BY j.created_ms, r.job_id, r.target",
                    NULL, NULL, catalog_limit(q->limit, S_PENDING_LIMIT), &out->replicas, &out->replicas_count,
                    &out->truncated, err);
    else if (strcmp(q->query, "replica") == 0) {
        if (!job_id || !target)
            return tf_err_set(err, TF_ERR_INVALID, "cat_query replica: needs job_id and the target's name (in "
                              "pattern)");
        rc = catalog_job_known(self, job_id, err);
        if (rc == TF_OK)
            rc = s_rows(self, "", job_id, target, 1, &out->replicas, &out->replicas_count, NULL, err);
        if (rc == TF_OK && out->replicas_count == 0)
            rc = tf_err_set(err, TF_ERR_NOTFOUND, "job %s has no replica on target %s (tapeflow job %s shows "
                            "its replicas)", job_id, target, job_id);
        if (rc == TF_OK)
            rc = s_copies(self, &out->replicas[0], err);
    }
    else if (job_id) {
        rc = catalog_job_known(self, job_id, err);
        if (rc == TF_OK)
            rc = s_rows(self, "ORDER BY r.target", job_id, target, catalog_limit(q->limit, CATALOG_MAX_ROWS),
                        &out->replicas, &out->replicas_count, &out->truncated, err);
    }
    else
        /* A target's rows (none: every target's), newest job first. */
        rc = s_rows(self, "ORDER BY j.created_ms DESC, r.job_id DESC, r.target", NULL, target,
                    catalog_limit(q->limit, CATALOG_JOBS_LIMIT), &out->replicas, &out->replicas_count,
                    &out->truncated, err);
    if (rc != TF_OK)
        tf_msg_clear(reply);
    return rc;
}
