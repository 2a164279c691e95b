/*  test_sched_chain - schedule runs (cat_sched, query schedule_history) and retention that
    knows chains (volume held/orphans, job depends_on, jobs expired with their base) on a real
    catalog file, without processes. Manifest and job_deps rows are written with SQL: what is
    tested here is what the catalog makes of them, not how a scan records them (test_manifest's
    part). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "tf_testcatalog.h"
#include "tf_testproc.h"

#define S_DAY_MS (24 * 3600 * 1000LL)

typedef struct {
    tf_testcatalog_t *tc;
    bool expire;        /* chain_retention of pool default */
} fx_t;

static bool
s_policy(void *arg, const char *pool)
{
    return strcmp(pool, "default") == 0 && ((fx_t *) arg)->expire;
}

static int
s_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->tc = tf_testcatalog_new("tfsched", 1800000000000);
    assert_non_null(fx->tc);
    *state = fx;
    return 0;
}

static int
s_teardown(void **state)
{
    fx_t *fx = *state;
    tf_testcatalog_destroy(&fx->tc);
    free(fx);
    return 0;
}

static void
s_ok(fx_t *fx, const tf_msg_t *msg, tf_msg_t *reply)
{
    int rc = tf_testcatalog_item(fx->tc, msg, reply);
    if (rc != TF_OK)
        fail_msg("item failed (%d): %s", rc, fx->tc->err.message);
}

static int
s_sched(fx_t *fx, const char *op, const char *schedule, int64_t instant, const char *kind, const char *reason,
        const char *job, tf_msg_t *reply)
{
    tf_msg_t m = {.type = TF_MSG_CAT_SCHED};
    m.cat_sched = (tf_msg_cat_sched_t){.op = (char *) op, .schedule = (char *) schedule, .instant_ms = instant,
                                       .kind = (char *) kind, .reason = (char *) reason, .job_id = (char *) job};
    return tf_testcatalog_item(fx->tc, &m, reply);
}

static void
s_query(fx_t *fx, const char *query, const char *job, const char *pattern, uint64_t limit, tf_msg_t *reply)
{
    tf_msg_t m = {.type = TF_MSG_CAT_QUERY};
    m.cat_query = (tf_msg_cat_query_t){.query = (char *) query, .job_id = (char *) job,
                                       .pattern = (char *) pattern, .limit = limit};
    s_ok(fx, &m, reply);
    assert_int_equal(reply->type, TF_MSG_CAT_REPLY);
}

static void
s_sql(fx_t *fx, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(fx->tc->db, &db), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
    sqlite3_close(db);
}

/* --- schedule runs ------------------------------------------------------------------------ */

static void
s_job_create(fx_t *fx, const char *job)
{
    static tf_msg_path_row_t paths[] = {{"/data"}};
    tf_msg_t m = {.type = TF_MSG_CAT_JOB};
    m.cat_job = (tf_msg_cat_job_t){.job_id = (char *) job, .op = "create", .paths = paths, .paths_count = 1,
                                   .pool = "default", .compression = "zstd"};
    s_ok(fx, &m, NULL);
}

/* Two claims of one instant leave one row; the second claimer is answered with the first's
   row (its job id), which is how a second scheduler learns it must not start another job. */
static void
test_claim_twice(void **state)
{
    fx_t *fx = *state;
    s_job_create(fx, "J1");
    tf_msg_t r;
    assert_int_equal(s_sched(fx, "claim", "nightly", 5000, "fired", NULL, "J1", &r), TF_OK);
    assert_int_equal(r.cat_reply.sched_count, 1);
    tf_msg_sched_row_t *row = &r.cat_reply.sched[0];
    assert_string_equal(row->schedule, "nightly");
    assert_int_equal(row->instant_ms, 5000);
    assert_string_equal(row->kind, "fired");
    assert_string_equal(row->job_id, "J1");
    assert_int_equal(row->recorded_ms, fx->tc->now);
    assert_string_equal(row->job_status, "queued");
    tf_msg_clear(&r);

    fx->tc->now += 1000;
    assert_int_equal(s_sched(fx, "claim", "nightly", 5000, "fired", NULL, "J2", &r), TF_OK);
    row = &r.cat_reply.sched[0];
    assert_string_equal(row->job_id, "J1");
    assert_int_equal(row->recorded_ms, fx->tc->now - 1000);
    tf_msg_clear(&r);

    s_query(fx, "schedule_history", NULL, "nightly", 0, &r);
    assert_int_equal(r.cat_reply.sched_count, 1);
    tf_msg_clear(&r);
}

static void
test_update(void **state)
{
    fx_t *fx = *state;
    tf_msg_t r;
    assert_int_equal(s_sched(fx, "claim", "nightly", 7000, "queued", NULL, "J7", &r), TF_OK);
    tf_msg_clear(&r);
    assert_int_equal(s_sched(fx, "update", "nightly", 7000, "fired", NULL, NULL, &r), TF_OK);
    assert_string_equal(r.cat_reply.sched[0].kind, "fired");
    assert_string_equal(r.cat_reply.sched[0].job_id, "J7");   /* kept: the update named none */
    assert_null(r.cat_reply.sched[0].job_status);             /* J7 is not in the catalog yet */
    tf_msg_clear(&r);
    assert_int_equal(s_sched(fx, "update", "nightly", 7001, "fired", NULL, "J7", NULL), TF_ERR_NOTFOUND);
    assert_non_null(strstr(fx->tc->err.message, "schedule nightly has no run at instant 7001"));
    assert_int_equal(s_sched(fx, "claim", "nightly", 8000, "exploded", NULL, NULL, NULL), TF_ERR_INVALID);
    assert_non_null(strstr(fx->tc->err.message, "kind 'exploded' is not one of"));
    assert_int_equal(s_sched(fx, "claim", "night ly", 8000, "fired", NULL, NULL, NULL), TF_ERR_INVALID);
    assert_non_null(strstr(fx->tc->err.message, "schedule name 'night ly'"));
    assert_int_equal(s_sched(fx, "drop", "nightly", 8000, "fired", NULL, NULL, NULL), TF_ERR_INVALID);
    /* Nothing refused was recorded. */
    s_query(fx, "schedule_history", NULL, "nightly", 0, &r);
    assert_int_equal(r.cat_reply.sched_count, 1);
    tf_msg_clear(&r);
}

/* One schedule's history is newest first and stops at the limit; without a name the newest
   row of every schedule, by name. */
static void
test_history(void **state)
{
    fx_t *fx = *state;
    for (int64_t i = 1; i <= 5; i++)
        assert_int_equal(s_sched(fx, "claim", "nightly", i * 1000, i == 2 ? "missed" : "fired",
                                 i == 2 ? "scheduler was not running at 00:00" : NULL, NULL, NULL), TF_OK);
    assert_int_equal(s_sched(fx, "claim", "hourly", 2500, "skipped", "previous run J still running", NULL, NULL),
                     TF_OK);
    assert_int_equal(s_sched(fx, "claim", "hourly", 1500, "fired", NULL, NULL, NULL), TF_OK);
    tf_msg_t r;
    s_query(fx, "schedule_history", NULL, "nightly", 3, &r);
    assert_int_equal(r.cat_reply.sched_count, 3);
    assert_true(r.cat_reply.truncated);
    assert_int_equal(r.cat_reply.sched[0].instant_ms, 5000);
    assert_int_equal(r.cat_reply.sched[1].instant_ms, 4000);
    assert_int_equal(r.cat_reply.sched[2].instant_ms, 3000);
    tf_msg_clear(&r);
    s_query(fx, "schedule_history", NULL, "nightly", 0, &r);
    assert_int_equal(r.cat_reply.sched_count, 5);
    assert_false(r.cat_reply.truncated);
    assert_string_equal(r.cat_reply.sched[3].kind, "missed");
    assert_string_equal(r.cat_reply.sched[3].reason, "scheduler was not running at 00:00");
    tf_msg_clear(&r);
    s_query(fx, "schedule_history", NULL, NULL, 0, &r);
    assert_int_equal(r.cat_reply.sched_count, 2);
    assert_string_equal(r.cat_reply.sched[0].schedule, "hourly");
    assert_int_equal(r.cat_reply.sched[0].instant_ms, 2500);
    assert_string_equal(r.cat_reply.sched[0].kind, "skipped");
    assert_string_equal(r.cat_reply.sched[1].schedule, "nightly");
    assert_int_equal(r.cat_reply.sched[1].instant_ms, 5000);
    tf_msg_clear(&r);
}

/* --- chains ------------------------------------------------------------------------------- */

/* A completed job whose one archive "<job>-a" holds data/<name> for each name, at tape file 1
   of volume. */
static void
s_job_on(fx_t *fx, const char *job, const char *volume, const char *const *names, size_t count)
{
    s_job_create(fx, job);
    tf_msg_t m = {.type = TF_MSG_CAT_JOB};
    m.cat_job = (tf_msg_cat_job_t){.job_id = (char *) job, .op = "scanned", .files_total = count,
                                   .bytes_total = count * 100, .groups_total = 1, .message = "scanned"};
    s_ok(fx, &m, NULL);
    char archive[64], paths[8][64];
    tf_msg_file_row_t rows[8];
    assert_true(count <= 8);
    snprintf(archive, sizeof archive, "%s-a", job);
    for (size_t i = 0; i < count; i++) {
        snprintf(paths[i], sizeof paths[i], "data/%s", names[i]);
        rows[i] = (tf_msg_file_row_t){.path = paths[i], .type = "file", .size = 100, .checksum = "xxh128:00"};
    }
    m = (tf_msg_t){.type = TF_MSG_CAT_FILES};
    m.cat_files = (tf_msg_cat_files_t){.job_id = (char *) job, .archive_id = archive, .part = 1, .files = rows,
                                       .files_count = count};
    s_ok(fx, &m, NULL);
    m = (tf_msg_t){.type = TF_MSG_CAT_WRITTEN};
    m.cat_written = (tf_msg_cat_written_t){.job_id = (char *) job, .archive_id = archive, .group_no = 1,
                                           .volume = (char *) volume, .drive = "tape0", .tape_file = 1,
                                           .blocks = 3, .size = 4096, .checksum = "xxh128:ab",
                                           .files = count, .bytes = count * 100};
    s_ok(fx, &m, NULL);
}

/* expires_ms 0: a label just written (nothing on it yet). */
static void
s_volume(fx_t *fx, const char *label, const char *state, int64_t created_ms, int64_t expires_ms)
{
    bool fresh = expires_ms == 0;
    tf_msg_t m = {.type = TF_MSG_CAT_VOLUME};
    m.cat_volume = (tf_msg_cat_volume_t){.label = (char *) label, .pool = "default", .state = (char *) state,
                                         .created_ms = created_ms, .expires_ms = expires_ms,
                                         .last_written_ms = fresh ? 0 : created_ms, .tape_files = fresh ? 1 : 2,
                                         .time_ms = fx->tc->now};
    s_ok(fx, &m, NULL);
}

/* A full F on V1 (a, b), an incremental I on V2 that keeps a from F, deletes b and adds c, and
   an unrelated full U on V1. V1 is past its expiry, V2 is not. */
static void
s_chain(fx_t *fx)
{
    static const char *const full[] = {"a", "b"}, *const inc[] = {"c"}, *const other[] = {"x"};
    s_job_on(fx, "F", "V1", full, 2);
    s_job_on(fx, "I", "V2", inc, 1);
    s_job_on(fx, "U", "V1", other, 1);
    s_volume(fx, "V1", "full", fx->tc->now - 40 * S_DAY_MS, fx->tc->now - S_DAY_MS);
    s_volume(fx, "V2", "appendable", fx->tc->now - 10 * S_DAY_MS, fx->tc->now + 20 * S_DAY_MS);
    s_sql(fx, "INSERT INTO manifest (job_id, path, type, reason, data_job, deleted) VALUES "
              "('F', '/data/a', 'file', 'full', 'F', 0), ('F', '/data/b', 'file', 'full', 'F', 0), "
              "('U', '/data/x', 'file', 'full', 'U', 0), "
              "('I', '/data/a', 'file', 'unchanged', 'F', 0), ('I', '/data/b', 'file', 'deleted', NULL, 1), "
              "('I', '/data/c', 'file', 'new', 'I', 0);"
              "INSERT INTO manifest_scans (job_id, entries) VALUES ('F', 2), ('U', 1), ('I', 3);"
              "INSERT INTO job_deps (job_id, data_job) VALUES ('I', 'F');");
}

static const tf_msg_volume_row_t *
s_vol(const tf_msg_t *r, const char *label)
{
    for (size_t i = 0; i < r->cat_reply.volumes_count; i++)
        if (strcmp(r->cat_reply.volumes[i].label, label) == 0)
            return &r->cat_reply.volumes[i];
    fail_msg("no volume %s in the reply", label);
    return NULL;
}

static const tf_msg_job_row_t *
s_jobrow(const tf_msg_t *r, const char *job)
{
    for (size_t i = 0; i < r->cat_reply.jobs_count; i++)
        if (strcmp(r->cat_reply.jobs[i].job_id, job) == 0)
            return &r->cat_reply.jobs[i];
    fail_msg("no job %s in the reply", job);
    return NULL;
}

/* keep (the default): V1 is past expiry, but I (within retention) restores a from it: V1 is
   held and shows its stored state; I is its one orphan (F and U have their own archives there). */
static void
test_held_keep(void **state)
{
    fx_t *fx = *state;
    catalog_set_chain_policy(fx->tc->cat, s_policy, fx);
    s_chain(fx);
    tf_msg_t r;
    s_query(fx, "volumes", NULL, NULL, 0, &r);
    const tf_msg_volume_row_t *v1 = s_vol(&r, "V1"), *v2 = s_vol(&r, "V2");
    assert_string_equal(v1->state, "full");
    assert_true(v1->held);
    assert_int_equal(v1->orphans_count, 1);
    assert_string_equal(v1->orphans[0].path, "I");
    assert_string_equal(v2->state, "appendable");
    assert_false(v2->held);
    assert_int_equal(v2->orphans_count, 0);
    tf_msg_clear(&r);
    s_query(fx, "job", "I", NULL, 0, &r);
    assert_string_equal(r.cat_reply.jobs[0].status, "completed");
    tf_msg_clear(&r);

    /* Once I is past its own retention (V2 expired) nothing holds V1 any more. */
    fx->tc->now += 30 * S_DAY_MS;
    s_query(fx, "volumes", NULL, NULL, 0, &r);
    assert_string_equal(s_vol(&r, "V1")->state, "expired");
    assert_false(s_vol(&r, "V1")->held);
    assert_int_equal(s_vol(&r, "V1")->orphans_count, 1);
    tf_msg_clear(&r);
}

/* expire: V1 expires, and I (whose a is on V1) shows expired with the reason, in "job" and
   "jobs"; F keeps its status (its own volume will expire it when recycled). */
static void
test_held_expire(void **state)
{
    fx_t *fx = *state;
    fx->expire = true;
    catalog_set_chain_policy(fx->tc->cat, s_policy, fx);
    s_chain(fx);
    tf_msg_t r;
    s_query(fx, "volumes", "", "V1", 0, &r);
    assert_string_equal(s_vol(&r, "V1")->state, "expired");
    assert_false(s_vol(&r, "V1")->held);
    assert_int_equal(s_vol(&r, "V1")->orphans_count, 1);
    tf_msg_clear(&r);
    s_query(fx, "job", "I", NULL, 0, &r);
    assert_string_equal(r.cat_reply.jobs[0].status, "expired");
    assert_string_equal(r.cat_reply.jobs[0].message, "expired: its base F expired with volume V1");
    tf_msg_clear(&r);
    s_query(fx, "jobs", NULL, NULL, 0, &r);
    assert_string_equal(s_jobrow(&r, "I")->status, "expired");
    assert_string_equal(s_jobrow(&r, "F")->status, "completed");
    assert_string_equal(s_jobrow(&r, "U")->status, "completed");
    tf_msg_clear(&r);
}

/* Without a policy (keep) a recycled base volume still leaves I unrestorable: shown expired. */
static void
test_base_recycled(void **state)
{
    fx_t *fx = *state;
    s_chain(fx);
    s_volume(fx, "V1", "appendable", fx->tc->now, 0);   /* a new label generation: recycled */
    tf_msg_t r;
    s_query(fx, "jobs", NULL, NULL, 0, &r);
    assert_string_equal(s_jobrow(&r, "F")->status, "expired");
    assert_string_equal(s_jobrow(&r, "I")->status, "expired");
    assert_string_equal(s_jobrow(&r, "I")->message, "expired: its base F expired with volume V1");
    tf_msg_clear(&r);
    s_query(fx, "volumes", NULL, "V1", 0, &r);
    assert_int_equal(s_vol(&r, "V1")->orphans_count, 0);   /* nothing of the new generation */
    tf_msg_clear(&r);
}

static void
test_depends_on(void **state)
{
    fx_t *fx = *state;
    s_chain(fx);
    /* A second incremental: a from F (carried forward), c from I, d its own. */
    static const char *const inc2[] = {"d"};
    s_job_on(fx, "I2", "V2", inc2, 1);
    s_sql(fx, "INSERT INTO manifest (job_id, path, type, reason, data_job, deleted) VALUES "
              "('I2', '/data/a', 'file', 'unchanged', 'F', 0), ('I2', '/data/c', 'file', 'unchanged', 'I', 0), "
              "('I2', '/data/d', 'file', 'new', 'I2', 0);"
              "INSERT INTO job_deps (job_id, data_job) VALUES ('I2', 'F'), ('I2', 'I');");
    tf_msg_t r;
    s_query(fx, "job", "I2", NULL, 0, &r);
    assert_int_equal(r.cat_reply.jobs[0].depends_on_count, 2);
    assert_string_equal(r.cat_reply.jobs[0].depends_on[0].path, "F");
    assert_string_equal(r.cat_reply.jobs[0].depends_on[1].path, "I");
    tf_msg_clear(&r);
    s_query(fx, "job", "F", NULL, 0, &r);
    assert_int_equal(r.cat_reply.jobs[0].depends_on_count, 0);
    tf_msg_clear(&r);
    /* V1 orphans both incrementals; V2 orphans nothing (I and I2 both have archives there). */
    s_query(fx, "volumes", NULL, NULL, 0, &r);
    assert_int_equal(s_vol(&r, "V1")->orphans_count, 2);
    assert_string_equal(s_vol(&r, "V1")->orphans[0].path, "I");
    assert_string_equal(s_vol(&r, "V1")->orphans[1].path, "I2");
    assert_int_equal(s_vol(&r, "V2")->orphans_count, 0);
    tf_msg_clear(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_claim_twice, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_update, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_history, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_held_keep, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_held_expire, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_base_recycled, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_depends_on, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
