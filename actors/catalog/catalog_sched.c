/*  catalog_sched - schedule runs (issue 11; docs/catalog.md, "Schedule runs").

    One schedule_runs row per schedule and scheduled instant: the unique key is what makes a
    schedule fire exactly once. op claim inserts the row unless the key is there already and
    answers with whichever row is stored, so a second scheduler (or a restarted one) sees the
    first's claim and its job id. op update changes an existing row (queued -> fired). */
#include <stdlib.h>
#include <string.h>

#include "catalog_priv.h"
#include "tf_config.h"

/* Default and largest row counts of schedule_history with a schedule name. */
#define S_HISTORY_LIMIT 100

/* The columns every reply row is read from: the run, and its job's status and level now. */
#define S_ROW_COLUMNS                                                                       \
    "r.schedule, r.instant_ms, r.kind, r.reason, r.job_id, r.recorded_ms, j.status, j.level " \
    "FROM schedule_runs r LEFT JOIN jobs j ON j.job_id = r.job_id "

static int
s_check_name(const char *schedule, tf_err_t *err)
{
    if (!schedule || !*schedule)
        return tf_err_set(err, TF_ERR_INVALID, "cat_sched: no schedule name given");
    for (const char *c = schedule; *c; c++)
        if (!tf_config_name_char(*c))
            return tf_err_set(err, TF_ERR_INVALID, "cat_sched: schedule name '%s' has a character a name may "
                              "not hold ('%c'; names are letters, digits, '-', '_' and '.')", schedule, *c);
    return TF_OK;
}

static int
s_check_kind(const char *kind, tf_err_t *err)
{
    static const char *const kinds[] = {"fired", "missed", "skipped", "queued", "manual"};
    for (size_t i = 0; kind && i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kind, kinds[i]) == 0)
            return TF_OK;
    return tf_err_set(err, TF_ERR_INVALID, "cat_sched: kind '%s' is not one of fired, missed, skipped, "
                      "queued, manual", kind ? kind : "");
}

/* Reads one row of S_ROW_COLUMNS into row. */
static void
s_read_row(sqlite3_stmt *stmt, void *out, bool *oom)
{
    tf_msg_sched_row_t *row = out;
    row->schedule = catalog_column_dup(stmt, 0, oom);
    row->instant_ms = sqlite3_column_int64(stmt, 1);
    row->kind = catalog_column_dup(stmt, 2, oom);
    row->reason = catalog_column_dup(stmt, 3, oom);
    row->job_id = catalog_column_dup(stmt, 4, oom);
    row->recorded_ms = sqlite3_column_int64(stmt, 5);
    row->job_status = catalog_column_dup(stmt, 6, oom);
    row->level = catalog_column_dup(stmt, 7, oom);
}

/* Steps a bound statement of S_ROW_COLUMNS into out->sched, at most limit rows (one more
   sets truncated), and finalizes it. */
static int
s_collect(catalog_t *self, sqlite3_stmt *stmt, uint64_t limit, tf_msg_cat_reply_t *out, tf_err_t *err)
{
    return catalog_collect(self, stmt, (void **) &out->sched, &out->sched_count, sizeof *out->sched, limit,
                           &out->truncated, s_read_row, "the schedule runs", err);
}

/* Runs one write statement with (schedule, instant_ms, kind, reason, job_id, now) bound as
   ?1..?6; *changes gets the rows it changed. */
static int
s_write(catalog_t *self, const char *sql, const tf_msg_cat_sched_t *m, int *changes, tf_err_t *err)
{
    sqlite3_stmt *stmt = catalog_prepare(self, sql, err);
    if (!stmt)
        return TF_ERR_DB;
    int b = catalog_bind_text(stmt, 1, m->schedule) | sqlite3_bind_int64(stmt, 2, m->instant_ms)
            | catalog_bind_text(stmt, 3, m->kind) | catalog_bind_text(stmt, 4, m->reason)
            | catalog_bind_text(stmt, 5, m->job_id && *m->job_id ? m->job_id : NULL)
            | sqlite3_bind_int64(stmt, 6, catalog_now(self));
    return catalog_run(self, stmt, b, "cannot record a schedule run", changes, err);
}

int
catalog_sched_apply(catalog_t *self, const tf_msg_cat_sched_t *m, tf_msg_t *reply, tf_err_t *err)
{
    memset(reply, 0, sizeof *reply);
    reply->type = TF_MSG_CAT_REPLY;
    bool claim = m->op && strcmp(m->op, "claim") == 0;
    if (!claim && !(m->op && strcmp(m->op, "update") == 0))
        return tf_err_set(err, TF_ERR_INVALID, "cat_sched: op '%s' is not claim or update", m->op ? m->op : "");
    int rc = s_check_name(m->schedule, err);
    if (rc == TF_OK)
        rc = s_check_kind(m->kind, err);
    if (rc == TF_OK && m->instant_ms <= 0)
        rc = tf_err_set(err, TF_ERR_INVALID, "cat_sched: schedule %s: no instant given", m->schedule);
    if (rc != TF_OK)
        return rc;
    int changes = 0;
    /* An update leaves the job of the row when it names none (missed -> queued keeps none). */
    rc = s_write(self, claim ? "INSERT OR IGNORE INTO schedule_runs (schedule, instant_ms, kind, reason, "
                               "job_id, recorded_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                             : "UPDATE schedule_runs SET kind = ?3, reason = ?4, job_id = COALESCE(?5, job_id), "
                               "recorded_ms = ?6 WHERE schedule = ?1 AND instant_ms = ?2",
                 m, &changes, err);
    if (rc != TF_OK)
        return rc;
    if (!claim && changes == 0)
        return tf_err_set(err, TF_ERR_NOTFOUND, "schedule %s has no run at instant %lld to update (claim "
                          "it first)", m->schedule, (long long) m->instant_ms);
    sqlite3_stmt *stmt = catalog_prepare(self, "SELECT " S_ROW_COLUMNS
                                         "WHERE r.schedule = ?1 AND r.instant_ms = ?2", err);
    if (!stmt)
        return TF_ERR_DB;
    if (sqlite3_bind_text(stmt, 1, m->schedule, -1, SQLITE_STATIC) != SQLITE_OK
        || sqlite3_bind_int64(stmt, 2, m->instant_ms) != SQLITE_OK) {
        sqlite3_finalize(stmt);
        return catalog_db_error(self, err, "cannot bind the schedule run query");
    }
    rc = s_collect(self, stmt, 1, &reply->cat_reply, err);
    if (rc == TF_OK && reply->cat_reply.sched_count != 1)
        rc = catalog_db_error(self, err, "the schedule run just recorded cannot be read back");
    if (rc != TF_OK)
        tf_msg_clear(reply);
    return rc;
}

bool
catalog_sched_handles(const char *query)
{
    return strcmp(query, "schedule_history") == 0;
}

int
catalog_sched_query(catalog_t *self, const tf_msg_cat_query_t *q, tf_msg_t *reply, tf_err_t *err)
{
    memset(reply, 0, sizeof *reply);
    reply->type = TF_MSG_CAT_REPLY;
    bool one = q->pattern && *q->pattern;
    if (one) {
        int rc = s_check_name(q->pattern, err);
        if (rc != TF_OK)
            return rc;
    }
    uint64_t limit = catalog_limit(q->limit, one ? S_HISTORY_LIMIT : CATALOG_MAX_ROWS);
    /* No name: the newest row of every schedule, by name (what `schedule list` shows). */
    const char *sql = one ? "SELECT " S_ROW_COLUMNS "WHERE r.schedule = ?1 "
                            "ORDER BY r.instant_ms DESC LIMIT ?2"
                          : "SELECT " S_ROW_COLUMNS "WHERE r.instant_ms = (SELECT MAX(instant_ms) "
                            "FROM schedule_runs n WHERE n.schedule = r.schedule) "
                            "ORDER BY r.schedule LIMIT ?2";
    sqlite3_stmt *stmt = catalog_prepare(self, sql, err);
    if (!stmt)
        return TF_ERR_DB;
    int b = sqlite3_bind_int64(stmt, 2, (sqlite3_int64) limit + 1);
    if (b == SQLITE_OK && one)
        b = sqlite3_bind_text(stmt, 1, q->pattern, -1, SQLITE_STATIC);
    if (b != SQLITE_OK) {
        sqlite3_finalize(stmt);
        return catalog_db_error(self, err, "cannot bind the schedule history query");
    }
    int rc = s_collect(self, stmt, limit, &reply->cat_reply, err);
    if (rc != TF_OK)
        tf_msg_clear(reply);
    return rc;
}
