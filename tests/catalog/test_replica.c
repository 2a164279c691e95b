/*  test_replica - a job's replicas in the catalog (issue 12; docs/catalog.md, "Replicas"): the
    rows a create makes, cat_replica ops (copied, committed, failed, verified, deleted) and their
    readiness, the completion rule with replicas, job.<id>.replica events, and the queries
    replicas / replica / replica_pending / job, on a real catalog file without processes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "tf_testcatalog.h"
#include "tf_units.h"

#define S_NAS "smb://nas/backup"
#define S_OFF "file:///mnt/off"
#define S_ARCHIVE_SIZE 4096

typedef struct {
    tf_testcatalog_t *tc;
    char topics[64][128];   /* events published, in order */
    char levels[64][8];     /* their levels */
    size_t events;
} fx_t;

static void
s_on_event(void *arg, const char *topic, const char *level, const tf_msg_job_row_t *job)
{
    fx_t *fx = arg;
    (void) job;
    if (fx->events < sizeof fx->topics / sizeof fx->topics[0]) {
        snprintf(fx->levels[fx->events], sizeof fx->levels[0], "%s", level);
        snprintf(fx->topics[fx->events++], sizeof fx->topics[0], "%s", topic);
    }
}

/* How many events with this topic were published. */
static size_t
s_events(fx_t *fx, const char *topic)
{
    size_t n = 0;
    for (size_t i = 0; i < fx->events; i++)
        n += strcmp(fx->topics[i], topic) == 0;
    return n;
}

/* The level of the last event with this topic ("" none). */
static const char *
s_last_level(fx_t *fx, const char *topic)
{
    for (size_t i = fx->events; i > 0; i--)
        if (strcmp(fx->topics[i - 1], topic) == 0)
            return fx->levels[i - 1];
    return "";
}

static int
s_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->tc = tf_testcatalog_new("tfreplica", 1800000000000);
    assert_non_null(fx->tc);
    catalog_set_events(fx->tc->cat, s_on_event, fx);
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

static void
s_create(fx_t *fx, const char *job, const char *replicas, const char *replication)
{
    static tf_msg_path_row_t paths[] = {{"/data"}};
    tf_msg_t m = {.type = TF_MSG_CAT_JOB};
    m.cat_job = (tf_msg_cat_job_t){.job_id = (char *) job, .op = "create", .paths = paths, .paths_count = 1,
                                   .pool = "default", .compression = "zstd", .replicas = (char *) replicas,
                                   .replication = (char *) replication};
    s_ok(fx, &m, NULL);
}

/* The scan found `groups` archives' worth (one file each). */
static void
s_scanned(fx_t *fx, const char *job, uint64_t groups)
{
    tf_msg_t m = {.type = TF_MSG_CAT_JOB};
    m.cat_job = (tf_msg_cat_job_t){.job_id = (char *) job, .op = "scanned", .files_total = groups,
                                   .bytes_total = groups * 100, .groups_total = groups, .message = "scanned"};
    s_ok(fx, &m, NULL);
}

static void
s_archive_id(char *buf, size_t size, const char *job, uint64_t group)
{
    snprintf(buf, size, "%s-g%05llu", job, (unsigned long long) group);
}

/* Archive `group` of the job on tape with its one file row. */
static void
s_tape(fx_t *fx, const char *job, uint64_t group)
{
    char archive[64], path[32];
    s_archive_id(archive, sizeof archive, job, group);
    snprintf(path, sizeof path, "data/f%llu", (unsigned long long) group);
    tf_msg_file_row_t row = {.path = path, .type = "file", .size = 100, .checksum = "xxh128:00"};
    tf_msg_t m = {.type = TF_MSG_CAT_FILES};
    m.cat_files = (tf_msg_cat_files_t){.job_id = (char *) job, .archive_id = archive, .part = 1, .files = &row,
                                       .files_count = 1};
    s_ok(fx, &m, NULL);
    m = (tf_msg_t){.type = TF_MSG_CAT_WRITTEN};
    m.cat_written = (tf_msg_cat_written_t){.job_id = (char *) job, .archive_id = archive, .group_no = group,
                                           .volume = "V1", .drive = "tape0", .tape_file = group, .blocks = 1,
                                           .size = S_ARCHIVE_SIZE, .checksum = "xxh128:ab", .files = 1,
                                           .bytes = 100};
    s_ok(fx, &m, NULL);
}

/* A cat_replica op; group > 0: copies[0] is that archive. */
static int
s_replica(fx_t *fx, const char *op, const char *job, const char *target, uint64_t group, const char *message,
          bool final, tf_msg_t *reply)
{
    char archive[64];
    s_archive_id(archive, sizeof archive, job, group);
    tf_msg_replica_archive_t copy = {.archive_id = archive, .group_no = group, .size = S_ARCHIVE_SIZE,
                                     .checksum = "xxh128:ab", .rows_size = 10, .rows_checksum = "xxh128:cd",
                                     .files = 1, .bytes = 100, .compression = "zstd"};
    tf_msg_t m = {.type = TF_MSG_CAT_REPLICA};
    m.cat_replica = (tf_msg_cat_replica_t){.op = (char *) op, .job_id = (char *) job, .target = (char *) target,
                                           .url = strcmp(target, "nas") == 0 ? S_NAS : S_OFF, .required = true,
                                           .copies = group ? &copy : NULL, .copies_count = group ? 1 : 0,
                                           .message = (char *) message, .final = final};
    return tf_testcatalog_item(fx->tc, &m, reply);
}

static void
s_replica_ok(fx_t *fx, const char *op, const char *job, const char *target, uint64_t group, const char *message,
             bool final)
{
    tf_msg_t r;
    if (s_replica(fx, op, job, target, group, message, final, &r) != TF_OK)
        fail_msg("cat_replica %s %s %s failed: %s", op, job, target, fx->tc->err.message);
    tf_msg_clear(&r);
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

static const tf_msg_job_row_t *
s_job(fx_t *fx, const char *job, tf_msg_t *reply)
{
    s_query(fx, "job", job, NULL, 0, reply);
    assert_int_equal(reply->cat_reply.jobs_count, 1);
    return &reply->cat_reply.jobs[0];
}

static void
s_assert_job(fx_t *fx, const char *job, const char *status, const char *stage, const char *message)
{
    tf_msg_t r;
    const tf_msg_job_row_t *j = s_job(fx, job, &r);
    assert_string_equal(j->status, status);
    if (stage)
        assert_string_equal(j->stage, stage);
    if (message && !strstr(j->message, message))
        fail_msg("job %s: message '%s' does not hold '%s'", job, j->message, message);
    tf_msg_clear(&r);
}

/* --- readiness ---------------------------------------------------------------------------- */

/* copied rows are not ready until the job is scanned and every archive is on the target; a
   repeated copied changes nothing and publishes nothing. */
static void
test_ready(void **state)
{
    fx_t *fx = *state;
    s_create(fx, "J1", "nas,off", "required");
    tf_msg_t r;
    assert_int_equal(s_replica(fx, "copied", "J1", "nas", 1, NULL, false, &r), TF_OK);
    assert_int_equal(r.cat_reply.replicas_count, 1);
    tf_msg_replica_row_t *row = &r.cat_reply.replicas[0];
    assert_string_equal(row->state, "copying");
    assert_string_equal(row->url, S_NAS);
    assert_true(row->required);
    assert_int_equal(row->archives, 1);
    assert_int_equal(row->archives_total, 0);
    assert_int_equal(row->bytes, S_ARCHIVE_SIZE);
    assert_false(row->ready);
    tf_msg_clear(&r);

    s_scanned(fx, "J1", 2);
    assert_int_equal(s_replica(fx, "copied", "J1", "nas", 1, NULL, false, &r), TF_OK);
    row = &r.cat_reply.replicas[0];
    assert_int_equal(row->archives, 1);
    assert_int_equal(row->archives_total, 2);
    assert_false(row->ready);
    int64_t updated = row->updated_ms;
    tf_msg_clear(&r);

    fx->tc->now += 1000;
    assert_int_equal(s_replica(fx, "copied", "J1", "nas", 2, NULL, false, &r), TF_OK);
    row = &r.cat_reply.replicas[0];
    assert_int_equal(row->archives, 2);
    assert_int_equal(row->bytes, 2 * S_ARCHIVE_SIZE);
    assert_true(row->ready);
    assert_string_equal(row->job_status, "running");
    assert_string_equal(row->pool, "default");
    assert_string_equal(row->level, "full");
    assert_true(row->updated_ms > updated);
    updated = row->updated_ms;
    tf_msg_clear(&r);

    /* a redelivery: nothing changes */
    fx->tc->now += 1000;
    assert_int_equal(s_replica(fx, "copied", "J1", "nas", 2, NULL, false, &r), TF_OK);
    assert_int_equal(r.cat_reply.replicas[0].updated_ms, updated);
    assert_int_equal(r.cat_reply.replicas[0].archives, 2);
    tf_msg_clear(&r);
    assert_int_equal(s_events(fx, "job.J1.replica"), 0);

    /* pending: nas is ready, off holds nothing */
    s_query(fx, "replica_pending", NULL, NULL, 0, &r);
    assert_int_equal(r.cat_reply.replicas_count, 1);
    assert_string_equal(r.cat_reply.replicas[0].job_id, "J1");
    assert_string_equal(r.cat_reply.replicas[0].target, "nas");
    tf_msg_clear(&r);
}

/* --- completion --------------------------------------------------------------------------- */

/* Tape done, nas verified, off copying: running in stage replicate with progress; both
   committed: completed, saying where it is replicated; events once per change. */
static void
test_complete_required(void **state)
{
    fx_t *fx = *state;
    s_create(fx, "J2", "nas,off", NULL);   /* no replication given: required */
    s_scanned(fx, "J2", 2);
    s_tape(fx, "J2", 1);
    s_assert_job(fx, "J2", "running", "tape", NULL);
    s_tape(fx, "J2", 2);
    s_assert_job(fx, "J2", "running", "replicate", "on tape; replicating to nas (0 of 2 archives)");
    assert_int_equal(s_events(fx, "job.J2.stage"), 2);   /* tape, replicate */

    s_replica_ok(fx, "copied", "J2", "nas", 1, NULL, false);
    s_assert_job(fx, "J2", "running", "replicate", "on tape; replicating to nas (1 of 2 archives)");
    s_replica_ok(fx, "copied", "J2", "nas", 2, NULL, false);
    s_replica_ok(fx, "committed", "J2", "nas", 0, NULL, false);
    assert_int_equal(s_events(fx, "job.J2.replica"), 1);
    s_assert_job(fx, "J2", "running", "replicate", "on tape; replicating to off (0 of 2 archives)");

    /* a repeated commit changes nothing */
    fx->tc->now += 1000;
    s_replica_ok(fx, "committed", "J2", "nas", 0, NULL, false);
    assert_int_equal(s_events(fx, "job.J2.replica"), 1);

    s_replica_ok(fx, "copied", "J2", "off", 2, NULL, false);
    s_assert_job(fx, "J2", "running", "replicate", "on tape; replicating to off (1 of 2 archives)");
    s_replica_ok(fx, "copied", "J2", "off", 1, NULL, false);
    assert_int_equal(s_events(fx, "job.J2.completed"), 0);
    s_replica_ok(fx, "committed", "J2", "off", 0, NULL, false);
    assert_int_equal(s_events(fx, "job.J2.replica"), 2);
    assert_int_equal(s_events(fx, "job.J2.completed"), 1);
    assert_int_equal(s_events(fx, "job.J2.stage"), 2);

    char size[32], expected[256];
    snprintf(expected, sizeof expected, "completed: 2 files, 200 B in 2 archives; replicated to " S_NAS
             " (2 archives, %s, verified); replicated to " S_OFF " (2 archives, %s, verified)",
             tf_units_bytes(2 * S_ARCHIVE_SIZE, size, sizeof size), size);
    tf_msg_t r;
    const tf_msg_job_row_t *j = s_job(fx, "J2", &r);
    assert_string_equal(j->status, "completed");
    assert_string_equal(j->stage, "catalog");
    assert_string_equal(j->message, expected);
    assert_string_equal(j->replication, "required");
    assert_int_equal(j->replicas_count, 2);
    assert_string_equal(j->replicas[0].target, "nas");
    assert_string_equal(j->replicas[0].state, "verified");
    assert_int_equal(j->replicas[0].verified_ms, fx->tc->now - 1000);
    assert_string_equal(j->replicas[1].target, "off");
    assert_int_equal(j->replicas[1].archives, 2);
    assert_int_equal(j->replicas[1].archives_total, 2);
    tf_msg_clear(&r);

    /* a copy recorded again later: the job and its events stay */
    s_replica_ok(fx, "copied", "J2", "off", 1, NULL, false);
    assert_int_equal(s_events(fx, "job.J2.completed"), 1);
    assert_int_equal(s_events(fx, "job.J2.replica"), 2);
}

/* An optional target that gives up: completed_with_warnings, saying why; a failure after the
   end keeps the job's status. */
static void
test_optional_failed(void **state)
{
    fx_t *fx = *state;
    s_create(fx, "J3", "nas,off", "optional");
    s_scanned(fx, "J3", 1);
    s_tape(fx, "J3", 1);
    s_replica_ok(fx, "copied", "J3", "nas", 1, NULL, false);
    s_replica_ok(fx, "committed", "J3", "nas", 0, NULL, false);
    fx->tc->now += 1000;
    s_replica_ok(fx, "failed", "J3", "off", 0, "no route to host off", false);
    s_assert_job(fx, "J3", "running", "replicate", "on tape; replication to " S_OFF " failed: no route to host off");
    assert_int_equal(s_events(fx, "job.J3.replica"), 2);
    /* the same failure again: nothing new */
    s_replica_ok(fx, "failed", "J3", "off", 0, "no route to host off", false);
    assert_int_equal(s_events(fx, "job.J3.replica"), 2);

    fx->tc->now += 1000;
    s_replica_ok(fx, "failed", "J3", "off", 0, "no route to host off", true);
    assert_int_equal(s_events(fx, "job.J3.replica"), 3);
    assert_int_equal(s_events(fx, "job.J3.completed_with_warnings"), 1);
    tf_msg_t r;
    const tf_msg_job_row_t *j = s_job(fx, "J3", &r);
    assert_string_equal(j->status, "completed_with_warnings");
    assert_string_equal(j->replication, "optional");
    assert_non_null(strstr(j->message, "; replicated to " S_NAS " (1 archive, "));
    assert_non_null(strstr(j->message, "; replication to " S_OFF " failed: no route to host off"));
    assert_false(j->replicas[0].required);
    assert_string_equal(j->replicas[1].state, "failed");
    assert_true(j->replicas[1].final);
    tf_msg_clear(&r);

    /* replica verify finds nas damaged later: the row says so, the job keeps its status */
    fx->tc->now += 1000;
    s_replica_ok(fx, "failed", "J3", "nas", 0, "J3-g00001.data: checksum mismatch", false);
    s_assert_job(fx, "J3", "completed_with_warnings", "catalog", "; replicated to " S_NAS);
    assert_int_equal(s_events(fx, "job.J3.replica"), 4);
    assert_int_equal(s_events(fx, "job.J3.completed_with_warnings"), 1);
    s_query(fx, "replica", "J3", "nas", 0, &r);
    assert_string_equal(r.cat_reply.replicas[0].state, "failed");
    assert_string_equal(r.cat_reply.replicas[0].message, "replication to " S_NAS " failed: J3-g00001.data: "
                                                         "checksum mismatch");
    tf_msg_clear(&r);
    /* and a verify that re-read it all brings it back */
    fx->tc->now += 1000;
    s_replica_ok(fx, "verified", "J3", "nas", 0, NULL, false);
    s_query(fx, "replica", "J3", "nas", 0, &r);
    assert_string_equal(r.cat_reply.replicas[0].state, "verified");
    assert_int_equal(r.cat_reply.replicas[0].verified_ms, fx->tc->now);
    assert_non_null(strstr(r.cat_reply.replicas[0].message, "replicated to " S_NAS " (1 archive, "));
    tf_msg_clear(&r);
    assert_int_equal(s_events(fx, "job.J3.replica"), 5);
}

/* A required target that failed (even for good) keeps the job running; copies again make the
   row copying, and its commit ends the job. */
static void
test_required_failed(void **state)
{
    fx_t *fx = *state;
    s_create(fx, "J4", "nas", "required");
    s_scanned(fx, "J4", 1);
    s_tape(fx, "J4", 1);
    s_replica_ok(fx, "failed", "J4", "nas", 0, "share backup does not exist on nas", false);
    s_assert_job(fx, "J4", "running", "replicate", "replication to " S_NAS " failed: share backup does not exist");
    s_replica_ok(fx, "failed", "J4", "nas", 0, "share backup does not exist on nas", true);
    s_assert_job(fx, "J4", "running", "replicate", NULL);

    /* an older failure report than the row's last change is ignored */
    fx->tc->now += 1000;
    s_replica_ok(fx, "copied", "J4", "nas", 1, NULL, false);
    tf_msg_t r;
    s_query(fx, "replicas", "J4", NULL, 0, &r);
    assert_int_equal(r.cat_reply.replicas_count, 1);
    assert_string_equal(r.cat_reply.replicas[0].state, "copying");
    assert_false(r.cat_reply.replicas[0].final);
    /* the last failure stays shown until the row is committed */
    assert_string_equal(r.cat_reply.replicas[0].message, "replication to " S_NAS " failed: share backup does not "
                                                         "exist on nas");
    assert_true(r.cat_reply.replicas[0].ready);
    tf_msg_clear(&r);
    tf_msg_t m = {.type = TF_MSG_CAT_REPLICA};
    m.cat_replica = (tf_msg_cat_replica_t){.op = "failed", .job_id = "J4", .target = "nas", .message = "late",
                                           .time_ms = fx->tc->now - 500};
    s_ok(fx, &m, &r);
    assert_string_equal(r.cat_reply.replicas[0].state, "copying");
    tf_msg_clear(&r);

    assert_int_equal(s_events(fx, "job.J4.replica"), 3);   /* failed, final, copying */
    s_replica_ok(fx, "committed", "J4", "nas", 0, NULL, false);
    s_assert_job(fx, "J4", "completed", "catalog", "; replicated to " S_NAS " (1 archive, ");
    assert_int_equal(s_events(fx, "job.J4.completed"), 1);

    /* retention removes it later: the job stays completed */
    fx->tc->now += 1000;
    s_replica_ok(fx, "deleted", "J4", "nas", 0, "keep_last 3", false);
    s_query(fx, "replica", "J4", "nas", 0, &r);
    assert_string_equal(r.cat_reply.replicas[0].state, "deleted");
    assert_string_equal(r.cat_reply.replicas[0].message, "deleted from " S_NAS " by retention (keep_last 3)");
    tf_msg_clear(&r);
    s_assert_job(fx, "J4", "completed", "catalog", NULL);
    assert_int_equal(s_events(fx, "job.J4.replica"), 5);
}

/* A job without replicas completes as before: no rows, no replication. */
static void
test_no_replicas(void **state)
{
    fx_t *fx = *state;
    s_create(fx, "J5", NULL, "required");
    s_scanned(fx, "J5", 1);
    s_tape(fx, "J5", 1);
    tf_msg_t r;
    const tf_msg_job_row_t *j = s_job(fx, "J5", &r);
    assert_string_equal(j->status, "completed");
    assert_string_equal(j->message, "completed: 1 file, 100 B in 1 archive");
    assert_null(j->replication);
    assert_int_equal(j->replicas_count, 0);
    tf_msg_clear(&r);
    s_query(fx, "replicas", "J5", NULL, 0, &r);
    assert_int_equal(r.cat_reply.replicas_count, 0);
    tf_msg_clear(&r);
}

/* --- queries ------------------------------------------------------------------------------ */

static void
test_queries(void **state)
{
    fx_t *fx = *state;
    s_create(fx, "Q1", "nas", "required");
    fx->tc->now += 1000;
    s_create(fx, "Q2", "nas,off", "required");
    fx->tc->now += 1000;
    s_create(fx, "Q3", "off", "required");
    s_scanned(fx, "Q2", 3);
    s_replica_ok(fx, "copied", "Q2", "nas", 3, NULL, false);
    s_replica_ok(fx, "copied", "Q2", "nas", 1, NULL, false);

    /* a target's rows, newest job first, with the limit */
    tf_msg_t r;
    s_query(fx, "replicas", NULL, "nas", 0, &r);
    assert_int_equal(r.cat_reply.replicas_count, 2);
    assert_string_equal(r.cat_reply.replicas[0].job_id, "Q2");
    assert_string_equal(r.cat_reply.replicas[1].job_id, "Q1");
    assert_int_equal(r.cat_reply.replicas[1].created_ms, fx->tc->now - 2000);
    assert_false(r.cat_reply.truncated);
    tf_msg_clear(&r);
    s_query(fx, "replicas", NULL, "nas", 1, &r);
    assert_int_equal(r.cat_reply.replicas_count, 1);
    assert_true(r.cat_reply.truncated);
    tf_msg_clear(&r);
    s_query(fx, "replicas", NULL, "off", 0, &r);
    assert_int_equal(r.cat_reply.replicas_count, 2);
    assert_string_equal(r.cat_reply.replicas[0].job_id, "Q3");
    tf_msg_clear(&r);

    /* a job's rows */
    s_query(fx, "replicas", "Q2", NULL, 0, &r);
    assert_int_equal(r.cat_reply.replicas_count, 2);
    assert_string_equal(r.cat_reply.replicas[0].target, "nas");
    assert_string_equal(r.cat_reply.replicas[1].target, "off");
    assert_int_equal(r.cat_reply.replicas[0].archives, 2);
    assert_int_equal(r.cat_reply.replicas[0].archives_total, 3);
    tf_msg_clear(&r);

    /* one replica with its copies by group */
    s_query(fx, "replica", "Q2", "nas", 0, &r);
    assert_int_equal(r.cat_reply.replicas_count, 1);
    tf_msg_replica_row_t *row = &r.cat_reply.replicas[0];
    assert_int_equal(row->copies_count, 2);
    assert_string_equal(row->copies[0].archive_id, "Q2-g00001");
    assert_int_equal(row->copies[0].group_no, 1);
    assert_string_equal(row->copies[1].archive_id, "Q2-g00003");
    assert_int_equal(row->copies[1].size, S_ARCHIVE_SIZE);
    assert_string_equal(row->copies[1].checksum, "xxh128:ab");
    assert_int_equal(row->copies[1].rows_size, 10);
    assert_string_equal(row->copies[1].rows_checksum, "xxh128:cd");
    assert_string_equal(row->copies[1].compression, "zstd");
    assert_false(row->ready);
    tf_msg_clear(&r);
    tf_msg_t m = {.type = TF_MSG_CAT_QUERY};
    m.cat_query = (tf_msg_cat_query_t){.query = "replica", .job_id = "Q1", .pattern = "off"};
    assert_int_equal(tf_testcatalog_item(fx->tc, &m, NULL), TF_ERR_NOTFOUND);
    assert_string_equal(fx->tc->err.message, "job Q1 has no replica on target off (tapeflow job Q1 shows its replicas)");
    m.cat_query = (tf_msg_cat_query_t){.query = "replica", .job_id = "Q1"};
    assert_int_equal(tf_testcatalog_item(fx->tc, &m, NULL), TF_ERR_INVALID);
    m.cat_query = (tf_msg_cat_query_t){.query = "replicas", .job_id = "nope"};
    assert_int_equal(tf_testcatalog_item(fx->tc, &m, NULL), TF_ERR_NOTFOUND);

    /* pending: only ready rows in state copying */
    s_query(fx, "replica_pending", NULL, NULL, 0, &r);
    assert_int_equal(r.cat_reply.replicas_count, 0);
    tf_msg_clear(&r);
    s_replica_ok(fx, "copied", "Q2", "nas", 2, NULL, false);
    s_query(fx, "replica_pending", NULL, NULL, 0, &r);
    assert_int_equal(r.cat_reply.replicas_count, 1);
    assert_string_equal(r.cat_reply.replicas[0].job_id, "Q2");
    assert_true(r.cat_reply.replicas[0].ready);
    tf_msg_clear(&r);
    s_replica_ok(fx, "committed", "Q2", "nas", 0, NULL, false);
    s_query(fx, "replica_pending", NULL, NULL, 0, &r);
    assert_int_equal(r.cat_reply.replicas_count, 0);
    tf_msg_clear(&r);
}

/* --- refusals ----------------------------------------------------------------------------- */

/* An optional target that gave up (failed, final) stays given up when a late copy of another
   archive arrives: the job ends completed_with_warnings. A retry of the job copies again. The
   failure events are warn for an optional target, error for a required one. */
static void
test_optional_gave_up_stays(void **state)
{
    fx_t *fx = *state;
    s_create(fx, "J6", "nas", "optional");
    s_scanned(fx, "J6", 2);
    s_tape(fx, "J6", 1);
    s_tape(fx, "J6", 2);
    s_replica_ok(fx, "copied", "J6", "nas", 1, NULL, false);
    fx->tc->now += 1000;
    s_replica_ok(fx, "failed", "J6", "nas", 0, "no route to host nas", true);
    assert_string_equal(s_last_level(fx, "job.J6.replica"), "warn");
    s_assert_job(fx, "J6", "completed_with_warnings", "catalog", "; replication to " S_NAS " failed: no route");
    /* a late copy of g2 (a redelivered item) does not reopen the give-up */
    fx->tc->now += 1000;
    s_replica_ok(fx, "copied", "J6", "nas", 2, NULL, false);
    tf_msg_t r;
    s_query(fx, "replica", "J6", "nas", 0, &r);
    assert_string_equal(r.cat_reply.replicas[0].state, "failed");
    assert_true(r.cat_reply.replicas[0].final);
    assert_int_equal(r.cat_reply.replicas[0].archives, 2);
    tf_msg_clear(&r);
    s_assert_job(fx, "J6", "completed_with_warnings", NULL, NULL);
    assert_int_equal(s_events(fx, "job.J6.completed_with_warnings"), 1);

    /* required: a failure is an error event; a retried job's failed rows copy again */
    s_create(fx, "J7", "nas", "required");
    s_scanned(fx, "J7", 1);
    s_tape(fx, "J7", 1);
    fx->tc->now += 1000;
    s_replica_ok(fx, "failed", "J7", "nas", 0, "share backup does not exist on nas", true);
    assert_string_equal(s_last_level(fx, "job.J7.replica"), "error");
    tf_msg_t m = {.type = TF_MSG_CAT_JOB};
    m.cat_job = (tf_msg_cat_job_t){.job_id = "J7", .op = "failed", .stage = "replicate", .message = "gave up"};
    s_ok(fx, &m, NULL);
    s_assert_job(fx, "J7", "failed", NULL, NULL);
    m.cat_job = (tf_msg_cat_job_t){.job_id = "J7", .op = "retried"};
    s_ok(fx, &m, NULL);
    s_query(fx, "replica", "J7", "nas", 0, &r);
    assert_string_equal(r.cat_reply.replicas[0].state, "copying");
    assert_false(r.cat_reply.replicas[0].final);
    tf_msg_clear(&r);
    s_assert_job(fx, "J7", "running", "replicate", NULL);
    fx->tc->now += 1000;
    s_replica_ok(fx, "copied", "J7", "nas", 1, NULL, false);
    s_replica_ok(fx, "committed", "J7", "nas", 0, NULL, false);
    s_assert_job(fx, "J7", "completed", "catalog", "; replicated to " S_NAS);
}

/* A failure after the last copy (the commit failed) leaves the row failed, not final, ready:
   replica_pending lists it for the sweep. A verify's failure of a committed row is not the
   sweep's, applies whatever its time, and only a committed row can be verified. */
static void
test_pending_and_verify(void **state)
{
    fx_t *fx = *state;
    s_create(fx, "J8", "nas", "required");
    s_scanned(fx, "J8", 1);
    s_tape(fx, "J8", 1);
    tf_msg_t r;
    assert_int_equal(s_replica(fx, "verified", "J8", "nas", 0, NULL, false, &r), TF_ERR_STATE);
    assert_non_null(strstr(fx->tc->err.message, "was never committed"));
    fx->tc->now += 1000;
    s_replica_ok(fx, "copied", "J8", "nas", 1, NULL, false);
    fx->tc->now += 1000;
    s_replica_ok(fx, "failed", "J8", "nas", 0, "cannot rename .partial/J8: permission denied", false);
    /* failed, never committed: a verify cannot make it good */
    assert_int_equal(s_replica(fx, "verified", "J8", "nas", 0, NULL, false, &r), TF_ERR_STATE);
    s_query(fx, "replica_pending", NULL, NULL, 0, &r);
    assert_int_equal(r.cat_reply.replicas_count, 1);
    assert_string_equal(r.cat_reply.replicas[0].job_id, "J8");
    assert_string_equal(r.cat_reply.replicas[0].state, "failed");
    tf_msg_clear(&r);
    fx->tc->now += 1000;
    s_replica_ok(fx, "committed", "J8", "nas", 0, NULL, false);
    s_query(fx, "replica_pending", NULL, NULL, 0, &r);
    assert_int_equal(r.cat_reply.replicas_count, 0);
    tf_msg_clear(&r);
    /* a verify that found bad files, sent with a clock behind the catalog's: it applies */
    tf_msg_t m = {.type = TF_MSG_CAT_REPLICA};
    m.cat_replica = (tf_msg_cat_replica_t){.op = "failed", .job_id = "J8", .target = "nas",
                                           .message = "replica verify found 1 bad file: J8-g00001.data",
                                           .time_ms = fx->tc->now - 60000};
    s_ok(fx, &m, &r);
    assert_string_equal(r.cat_reply.replicas[0].state, "failed");
    tf_msg_clear(&r);
    assert_string_equal(s_last_level(fx, "job.J8.replica"), "error");
    /* not the sweep's: it would only record the commit again over the bad files */
    s_query(fx, "replica_pending", NULL, NULL, 0, &r);
    assert_int_equal(r.cat_reply.replicas_count, 0);
    tf_msg_clear(&r);
    /* a copy failure of a row never committed keeps the time guard */
    s_create(fx, "J9", "nas", "required");
    fx->tc->now += 1000;
    s_replica_ok(fx, "copied", "J9", "nas", 1, NULL, false);
    m.cat_replica = (tf_msg_cat_replica_t){.op = "failed", .job_id = "J9", .target = "nas", .message = "late",
                                           .time_ms = fx->tc->now - 500};
    s_ok(fx, &m, &r);
    assert_string_equal(r.cat_reply.replicas[0].state, "copying");
    tf_msg_clear(&r);
}

static void
test_refused(void **state)
{
    fx_t *fx = *state;
    s_create(fx, "R1", "nas", "required");
    tf_msg_t r;
    assert_int_equal(s_replica(fx, "exploded", "R1", "nas", 0, NULL, false, &r), TF_ERR_INVALID);
    assert_non_null(strstr(fx->tc->err.message, "op 'exploded' is not copied, committed"));
    assert_int_equal(s_replica(fx, "copied", "R1", "nas", 0, NULL, false, &r), TF_ERR_INVALID);
    assert_non_null(strstr(fx->tc->err.message, "no archive in copies"));
    assert_int_equal(s_replica(fx, "copied", "R1", "bad name", 1, NULL, false, &r), TF_ERR_INVALID);
    assert_int_equal(s_replica(fx, "copied", "unknown", "nas", 1, NULL, false, &r), TF_ERR_NOTFOUND);
    /* nothing copied, not scanned: no commit */
    assert_int_equal(s_replica(fx, "committed", "R1", "nas", 0, NULL, false, &r), TF_ERR_STATE);
    assert_string_equal(fx->tc->err.message, "cannot record job R1 as committed on replica target nas: 0 of 0 "
                                             "archives are recorded as copied there and the job is not scanned "
                                             "yet (record them with cat_replica copied first)");
    assert_int_equal(s_replica(fx, "verified", "R1", "nas", 0, NULL, false, &r), TF_ERR_STATE);
    /* a target the open job was not started with gets no row: a stray report never holds it open */
    assert_int_equal(s_replica(fx, "failed", "R1", "other", 0, "stray", false, &r), TF_ERR_STATE);
    assert_non_null(strstr(fx->tc->err.message, "job R1 is still running and does not replicate to other"));
    s_query(fx, "replicas", "R1", NULL, 0, &r);
    assert_int_equal(r.cat_reply.replicas_count, 1);
    assert_string_equal(r.cat_reply.replicas[0].target, "nas");
    tf_msg_clear(&r);
    /* a refused cat_replica fails no job (its sender hears about it) */
    s_assert_job(fx, "R1", "queued", NULL, NULL);
    s_query(fx, "jobs", NULL, NULL, 0, &r);
    assert_int_equal(r.cat_reply.jobs_count, 1);
    tf_msg_clear(&r);

    /* a create with a replication that is neither required nor optional */
    tf_msg_t m = {.type = TF_MSG_CAT_JOB};
    m.cat_job = (tf_msg_cat_job_t){.job_id = "R2", .op = "create", .pool = "default", .replicas = "nas",
                                   .replication = "sometimes"};
    assert_int_equal(tf_testcatalog_item(fx->tc, &m, NULL), TF_ERR_INVALID);
    assert_non_null(strstr(fx->tc->err.message, "replication 'sometimes' is not required or optional"));
    /* and a target that is no name */
    m.cat_job = (tf_msg_cat_job_t){.job_id = "R3", .op = "create", .pool = "default", .replicas = "nas, off site"};
    assert_int_equal(tf_testcatalog_item(fx->tc, &m, NULL), TF_ERR_INVALID);
    assert_non_null(strstr(fx->tc->err.message, "replication target 'off site' is not a name"));
    /* a name longer than a target name is refused, never cut to one that may exist */
    char long_list[300];
    memset(long_list, 'n', 200);
    long_list[200] = '\0';
    m.cat_job = (tf_msg_cat_job_t){.job_id = "R4", .op = "create", .pool = "default", .replicas = long_list};
    assert_int_equal(tf_testcatalog_item(fx->tc, &m, NULL), TF_ERR_INVALID);
    assert_non_null(strstr(fx->tc->err.message, "an empty or over-long replication target in 'nnnn"));
    /* and "tape", the name of the tape copies */
    m.cat_job = (tf_msg_cat_job_t){.job_id = "R5", .op = "create", .pool = "default", .replicas = "nas,tape"};
    assert_int_equal(tf_testcatalog_item(fx->tc, &m, NULL), TF_ERR_INVALID);
    assert_non_null(strstr(fx->tc->err.message, "replication target 'tape' is not a name"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ready, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_complete_required, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_optional_failed, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_required_failed, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_no_replicas, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_queries, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_optional_gave_up_stays, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_pending_and_verify, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_refused, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
