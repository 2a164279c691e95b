/*  test_catalog - the catalog's logic without processes: job state from items in any order,
    idempotent redelivery, completion, failure, queries, malformed input, persistence. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "tf_clock.h"
#include "tf_testproc.h"

typedef struct {
    char *dir;
    char db[512];
    catalog_t *cat;
    int64_t now;
    tf_err_t err;
} fx_t;

static int64_t
s_clock(void *arg)
{
    return ((fx_t *) arg)->now;
}

static void
s_open(fx_t *fx)
{
    tf_err_t err = {0};
    fx->cat = catalog_open(fx->db, &err);
    if (!fx->cat)
        fail_msg("catalog_open: %s", err.message);
    catalog_set_clock(fx->cat, s_clock, fx);
}

static int
s_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->dir = tf_test_tempdir("tfcat");
    assert_non_null(fx->dir);
    snprintf(fx->db, sizeof fx->db, "%s/sub/catalog.db", fx->dir);  /* folder made on open */
    fx->now = 1700000000000;
    s_open(fx);
    *state = fx;
    return 0;
}

static int
s_teardown(void **state)
{
    fx_t *fx = *state;
    catalog_destroy(&fx->cat);
    assert_null(fx->cat);
    tf_test_rmtree(fx->dir);
    free(fx->dir);
    free(fx);
    return 0;
}

/* --- building items ---------------------------------------------------------------------- */

/* Applies msg as a work item (encoded, like the broker delivers it). */
static int
s_item(fx_t *fx, const tf_msg_t *msg, const char *job_id, tf_msg_t *reply)
{
    uint8_t *data = NULL;
    size_t size = 0;
    tf_err_t err = {0};
    if (tf_msg_encode(msg, &data, &size, &err) != TF_OK)
        fail_msg("encode: %s", err.message);
    tf_msg_work_t work = {.item_id = "item-1", .service = "catalog", .job_id = (char *) job_id,
                          .attempt = 1, .payload = {data, size}};
    tf_err_clear(&fx->err);
    tf_msg_t local;
    int rc = catalog_handle_item(fx->cat, &work, reply ? reply : &local, &fx->err);
    if (!reply)
        tf_msg_clear(&local);
    free(data);
    return rc;
}

static void
s_ok(fx_t *fx, const tf_msg_t *msg)
{
    int rc = s_item(fx, msg, NULL, NULL);
    if (rc != TF_OK)
        fail_msg("item failed (%d): %s", rc, fx->err.message);
}

static tf_msg_t
s_job_op(const char *job, const char *op, int64_t time_ms)
{
    tf_msg_t m = {.type = TF_MSG_CAT_JOB};
    m.cat_job.job_id = (char *) job;
    m.cat_job.op = (char *) op;
    m.cat_job.time_ms = time_ms;
    return m;
}

static void
s_create(fx_t *fx, const char *job, int64_t time_ms)
{
    static tf_msg_path_row_t paths[] = {{"/data/a"}, {"/data/b"}};
    tf_msg_t m = s_job_op(job, "create", time_ms);
    m.cat_job.paths = paths;
    m.cat_job.paths_count = 2;
    m.cat_job.pool = "default";
    m.cat_job.compression = "zstd";
    s_ok(fx, &m);
}

static void
s_stage(fx_t *fx, const char *job, const char *stage, int64_t time_ms, const char *message)
{
    tf_msg_t m = s_job_op(job, "stage", time_ms);
    m.cat_job.stage = (char *) stage;
    m.cat_job.message = (char *) message;
    s_ok(fx, &m);
}

static void
s_scanned(fx_t *fx, const char *job, uint64_t files, uint64_t bytes, uint64_t groups)
{
    tf_msg_t m = s_job_op(job, "scanned", 0);
    m.cat_job.files_total = files;
    m.cat_job.bytes_total = bytes;
    m.cat_job.groups_total = groups;
    m.cat_job.message = "scanned";
    s_ok(fx, &m);
}

static void
s_failed(fx_t *fx, const char *job, const char *stage, const char *detail)
{
    tf_msg_t m = s_job_op(job, "failed", 0);
    m.cat_job.stage = (char *) stage;
    m.cat_job.detail = (char *) detail;
    s_ok(fx, &m);
}

/* cat_files for archive "<job>-g<group>" with rows first..first+count-1 named
   "<dir>/f<NNNNN>.txt" (dir "data" unless given). */
static int
s_files_rc(fx_t *fx, const char *job, int group, uint64_t part, const char *dir, int first, int count)
{
    char archive[128];
    snprintf(archive, sizeof archive, "%s-g%05d", job, group);
    tf_msg_file_row_t *rows = calloc((size_t) count + 1, sizeof *rows);
    char (*paths)[64] = calloc((size_t) count + 1, sizeof *paths);
    assert_true(rows && paths);
    for (int i = 0; i < count; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/f%05d.txt", dir ? dir : "data", first + i);
        rows[i] = (tf_msg_file_row_t){.path = paths[i], .type = "file", .size = 100,
                                      .mtime = 1600000000, .mode = 0644, .uid = 1000, .gid = 1000,
                                      .user = "me", .group = "us", .checksum = "xxh128:00",
                                      .offset = (uint64_t) i * 1024};
    }
    tf_msg_t m = {.type = TF_MSG_CAT_FILES};
    m.cat_files = (tf_msg_cat_files_t){.job_id = (char *) job, .archive_id = archive, .part = part,
                                       .files = rows, .files_count = (size_t) count};
    int rc = s_item(fx, &m, NULL, NULL);
    free(rows);
    free(paths);
    return rc;
}

static void
s_files(fx_t *fx, const char *job, int group, uint64_t part, const char *dir, int first, int count)
{
    if (s_files_rc(fx, job, group, part, dir, first, count) != TF_OK)
        fail_msg("cat_files: %s", fx->err.message);
}

static tf_msg_t
s_written_msg(const char *job, const char *archive, uint64_t tape_file, uint64_t files)
{
    tf_msg_t m = {.type = TF_MSG_CAT_WRITTEN};
    m.cat_written = (tf_msg_cat_written_t){.job_id = (char *) job, .archive_id = (char *) archive,
                                           .volume = "TF0001", .drive = "tape0",
                                           .tape_file = tape_file, .block = tape_file * 10,
                                           .blocks = 5, .size = 4096, .checksum = "xxh128:ab",
                                           .files = files, .bytes = files * 100};
    return m;
}

static void
s_written(fx_t *fx, const char *job, int group, uint64_t tape_file, uint64_t files)
{
    char archive[128];
    snprintf(archive, sizeof archive, "%s-g%05d", job, group);
    tf_msg_t m = s_written_msg(job, archive, tape_file, files);
    s_ok(fx, &m);
}

static int
s_query_rc(fx_t *fx, const char *query, const char *job, const char *pattern, uint64_t limit,
           tf_msg_t *reply)
{
    tf_msg_t m = {.type = TF_MSG_CAT_QUERY};
    m.cat_query = (tf_msg_cat_query_t){.query = (char *) query, .job_id = (char *) job,
                                       .pattern = (char *) pattern, .limit = limit};
    /* Through the codec both ways, as the CLI sees it. */
    tf_msg_t raw;
    int rc = s_item(fx, &m, NULL, &raw);
    if (rc != TF_OK) {
        tf_msg_clear(&raw);
        return rc;
    }
    assert_int_equal(raw.type, TF_MSG_CAT_REPLY);
    uint8_t *data = NULL;
    size_t size = 0;
    tf_err_t err = {0};
    if (tf_msg_encode(&raw, &data, &size, &err) != TF_OK)
        fail_msg("encode reply: %s", err.message);
    tf_msg_clear(&raw);
    if (tf_msg_decode(data, size, reply, &err) != TF_OK)
        fail_msg("decode reply: %s", err.message);
    free(data);
    return TF_OK;
}

static void
s_query(fx_t *fx, const char *query, const char *job, const char *pattern, uint64_t limit, tf_msg_t *reply)
{
    if (s_query_rc(fx, query, job, pattern, limit, reply) != TF_OK)
        fail_msg("query %s: %s", query, fx->err.message);
}

/* The job row (a copy of the fields tests look at; strings in static buffers). */
typedef struct {
    char status[32], stage[32], message[4200], detail[4200], pool[32];
    int64_t created_ms, updated_ms;
    uint64_t files_done, bytes_done, files_total, groups_total, archives_written;
    bool scanned;
} s_job_t;

static s_job_t
s_get(fx_t *fx, const char *job)
{
    tf_msg_t r;
    s_query(fx, "job", job, NULL, 0, &r);
    assert_int_equal(r.cat_reply.jobs_count, 1);
    const tf_msg_job_row_t *j = &r.cat_reply.jobs[0];
    s_job_t out = {0};
    assert_string_equal(j->job_id, job);
    snprintf(out.status, sizeof out.status, "%s", j->status);
    snprintf(out.stage, sizeof out.stage, "%s", j->stage ? j->stage : "");
    snprintf(out.message, sizeof out.message, "%s", j->message ? j->message : "");
    snprintf(out.detail, sizeof out.detail, "%s", j->detail ? j->detail : "");
    snprintf(out.pool, sizeof out.pool, "%s", j->pool ? j->pool : "");
    out.created_ms = j->created_ms;
    out.updated_ms = j->updated_ms;
    out.files_done = j->files_done;
    out.bytes_done = j->bytes_done;
    out.files_total = j->files_total;
    out.groups_total = j->groups_total;
    out.archives_written = j->archives_written;
    out.scanned = j->scanned;
    tf_msg_clear(&r);
    return out;
}

/* --- tests -------------------------------------------------------------------------------- */

/* A job with sources on two hosts: one scan per host, each with its own range of groups. It
   completes only when both hosts are scanned and every group of both is on tape; each archive
   row names its host. */
static void
s_host_scanned(fx_t *fx, const char *job, const char *host, uint64_t base, uint64_t files, uint64_t groups)
{
    tf_msg_t m = s_job_op(job, "scanned", 0);
    m.cat_job.files_total = files;
    m.cat_job.bytes_total = files * 100;
    m.cat_job.groups_total = groups;
    m.cat_job.message = "scanned";
    m.cat_job.host = (char *) host;
    m.cat_job.group_base = base;
    s_ok(fx, &m);
}

static void
test_job_on_two_hosts(void **state)
{
    fx_t *fx = *state;
    static tf_msg_path_row_t paths[] = {{"B:/data"}, {"C:/data"}, {"C:/srv"}};
    tf_msg_t m = s_job_op("JH", "create", 1000);
    m.cat_job.paths = paths;
    m.cat_job.paths_count = 3;
    m.cat_job.pool = "default";
    s_ok(fx, &m);
    /* C's group is on tape before any scan reported: its host comes with C's scan. */
    s_files(fx, "JH", 1000001, 1, "c", 0, 2);
    s_written(fx, "JH", 1000001, 1, 2);
    s_host_scanned(fx, "JH", "B", 0, 3, 1);
    s_files(fx, "JH", 1, 1, "b", 0, 3);
    s_written(fx, "JH", 1, 2, 3);
    s_job_t j = s_get(fx, "JH");
    /* B's groups are all in, but C has not reported its scan: not done. */
    assert_string_equal(j.status, "running");
    assert_false(j.scanned);
    s_host_scanned(fx, "JH", "C", 1000000, 2, 1);
    s_host_scanned(fx, "JH", "C", 1000000, 2, 1);   /* a redelivery counts once */
    j = s_get(fx, "JH");
    assert_true(j.scanned);
    assert_int_equal(j.files_total, 5);
    assert_int_equal(j.groups_total, 2);
    assert_string_equal(j.status, "completed");
    assert_int_equal(j.files_done, 5);
    tf_msg_t r;
    s_query(fx, "archives", "JH", NULL, 0, &r);
    assert_int_equal(r.cat_reply.archives_count, 2);
    for (size_t i = 0; i < r.cat_reply.archives_count; i++) {
        const tf_msg_archive_row_t *a = &r.cat_reply.archives[i];
        assert_non_null(a->host);
        assert_string_equal(a->host, a->group_no == 1 ? "B" : "C");
    }
    tf_msg_clear(&r);

    /* A second job: one of B's two groups missing keeps it running although C is complete. */
    m.cat_job.job_id = "JK";
    s_ok(fx, &m);
    s_host_scanned(fx, "JK", "B", 0, 2, 2);
    s_host_scanned(fx, "JK", "C", 1000000, 1, 1);
    s_files(fx, "JK", 1, 1, "b", 0, 1);
    s_written(fx, "JK", 1, 1, 1);
    s_files(fx, "JK", 1000001, 1, "c", 0, 1);
    s_written(fx, "JK", 1000001, 2, 1);
    assert_string_equal(s_get(fx, "JK").status, "running");
    s_files(fx, "JK", 2, 1, "b", 1, 1);
    s_written(fx, "JK", 2, 3, 1);
    assert_string_equal(s_get(fx, "JK").status, "completed");
}


static void
test_create_and_query(void **state)
{
    fx_t *fx = *state;
    s_create(fx, "J1", 1700000001000);
    s_job_t j = s_get(fx, "J1");
    assert_string_equal(j.status, "queued");
    assert_string_equal(j.pool, "default");
    assert_int_equal(j.created_ms, 1700000001000);
    assert_false(j.scanned);
    /* A repeated create changes nothing. */
    s_create(fx, "J1", 1700000009000);
    j = s_get(fx, "J1");
    assert_int_equal(j.created_ms, 1700000001000);
    s_stage(fx, "J1", "scan", 1700000002000, "scanning /data");
    j = s_get(fx, "J1");
    assert_string_equal(j.status, "running");
    assert_string_equal(j.stage, "scan");
    assert_string_equal(j.message, "scanning /data");
}

static void
test_complete_in_order(void **state)
{
    fx_t *fx = *state;
    s_create(fx, "J1", 1000);
    s_scanned(fx, "J1", 5, 500, 2);
    s_files(fx, "J1", 1, 1, NULL, 0, 3);
    s_written(fx, "J1", 1, 1, 3);
    s_job_t j = s_get(fx, "J1");
    assert_string_equal(j.status, "running");
    assert_int_equal(j.files_done, 3);
    assert_int_equal(j.bytes_done, 300);
    assert_int_equal(j.archives_written, 1);
    s_files(fx, "J1", 2, 1, NULL, 3, 2);
    j = s_get(fx, "J1");
    assert_string_equal(j.status, "running");  /* g2 not on tape yet */
    s_written(fx, "J1", 2, 2, 2);
    j = s_get(fx, "J1");
    assert_string_equal(j.status, "completed");
    assert_int_equal(j.files_done, 5);
    assert_int_equal(j.bytes_done, 500);
    assert_int_equal(j.archives_written, 2);
    assert_non_null(strstr(j.message, "completed: 5 files"));
    assert_non_null(strstr(j.message, "2 archives"));
}

static void
test_complete_out_of_order(void **state)
{
    fx_t *fx = *state;
    /* Every item for a job that is not created yet: the job appears on the first. */
    s_written(fx, "J2", 1, 4, 2);
    s_job_t j = s_get(fx, "J2");
    assert_string_equal(j.status, "running");
    s_scanned(fx, "J2", 2, 200, 1);
    j = s_get(fx, "J2");
    assert_string_equal(j.status, "running");  /* no file rows yet */
    s_files(fx, "J2", 1, 1, NULL, 0, 2);
    j = s_get(fx, "J2");
    assert_string_equal(j.status, "completed");
    s_create(fx, "J2", 500);
    j = s_get(fx, "J2");
    assert_string_equal(j.status, "completed");
    assert_string_equal(j.pool, "default");
    assert_int_equal(j.created_ms, 500);
}

static void
test_redelivery_idempotent(void **state)
{
    fx_t *fx = *state;
    s_create(fx, "J3", 1000);
    s_scanned(fx, "J3", 4, 400, 1);
    s_written(fx, "J3", 1, 1, 4);
    s_files(fx, "J3", 1, 1, NULL, 0, 2);
    s_job_t before = s_get(fx, "J3");
    fx->now += 5000;
    /* Part 1 again (a redelivered item): no new rows, still waiting for part 2. */
    s_files(fx, "J3", 1, 1, NULL, 0, 2);
    s_written(fx, "J3", 1, 1, 4);
    s_scanned(fx, "J3", 4, 400, 1);
    s_create(fx, "J3", 1000);
    s_job_t after = s_get(fx, "J3");
    assert_memory_equal(&before, &after, sizeof before);
    assert_string_equal(after.status, "running");
    tf_msg_t r;
    s_query(fx, "files", "J3", NULL, 0, &r);
    assert_int_equal(r.cat_reply.files_count, 2);
    tf_msg_clear(&r);
    /* Part 2 brings the rows to the archive's 4: completed. A duplicate path in it is ignored. */
    s_files(fx, "J3", 1, 2, NULL, 1, 3);
    after = s_get(fx, "J3");
    assert_string_equal(after.status, "completed");
    s_query(fx, "files", "J3", NULL, 0, &r);
    assert_int_equal(r.cat_reply.files_count, 4);
    for (size_t i = 0; i + 1 < r.cat_reply.files_count; i++)
        assert_true(strcmp(r.cat_reply.files[i].path, r.cat_reply.files[i + 1].path) < 0);
    tf_msg_clear(&r);
    s_query(fx, "archives", "J3", NULL, 0, &r);
    assert_int_equal(r.cat_reply.archives_count, 1);
    tf_msg_clear(&r);
}

static void
test_nothing_to_back_up(void **state)
{
    fx_t *fx = *state;
    s_create(fx, "J4", 1000);
    s_scanned(fx, "J4", 0, 0, 0);
    s_job_t j = s_get(fx, "J4");
    assert_string_equal(j.status, "completed");
    assert_true(j.scanned);
}

static void
test_failed_stays_failed(void **state)
{
    fx_t *fx = *state;
    s_create(fx, "J5", 1000);
    s_stage(fx, "J5", "compress", 2000, NULL);
    s_failed(fx, "J5", "tape", "tape TF0002 in drive tape0 belongs to pool other");
    s_job_t j = s_get(fx, "J5");
    assert_string_equal(j.status, "failed");
    assert_string_equal(j.stage, "tape");
    assert_string_equal(j.detail, "tape TF0002 in drive tape0 belongs to pool other");
    assert_non_null(strstr(j.message, "failed in tape"));
    /* Later items change neither status nor root cause. */
    s_failed(fx, "J5", "stager", "a consequence");
    s_stage(fx, "J5", "tape", 9000, "writing");
    s_scanned(fx, "J5", 1, 10, 1);
    s_files(fx, "J5", 1, 1, NULL, 0, 1);
    s_written(fx, "J5", 1, 1, 1);
    j = s_get(fx, "J5");
    assert_string_equal(j.status, "failed");
    assert_string_equal(j.stage, "tape");
    assert_string_equal(j.detail, "tape TF0002 in drive tape0 belongs to pool other");

    /* A failure reported after completion keeps the job completed, noting the report. */
    s_create(fx, "J6", 1000);
    s_scanned(fx, "J6", 0, 0, 0);
    s_failed(fx, "J6", "stager", "cannot delete staged archive");
    j = s_get(fx, "J6");
    assert_string_equal(j.status, "completed");
    assert_string_equal(j.detail, "cannot delete staged archive");
}

static void
test_stage_order(void **state)
{
    fx_t *fx = *state;
    s_stage(fx, "J7", "tape", 3000, "writing g1");
    s_stage(fx, "J7", "compress", 2000, "compressing g2");  /* older report, arrives late */
    s_job_t j = s_get(fx, "J7");
    assert_string_equal(j.stage, "tape");
    assert_string_equal(j.message, "writing g1");
    assert_string_equal(j.status, "running");
}

static void
test_queries(void **state)
{
    fx_t *fx = *state;
    s_create(fx, "JA", 1000);
    s_create(fx, "JB", 3000);
    s_create(fx, "JC", 2000);
    tf_msg_t r;
    s_query(fx, "jobs", NULL, NULL, 0, &r);
    assert_int_equal(r.cat_reply.jobs_count, 3);
    assert_string_equal(r.cat_reply.jobs[0].job_id, "JB");
    assert_string_equal(r.cat_reply.jobs[1].job_id, "JC");
    assert_string_equal(r.cat_reply.jobs[2].job_id, "JA");
    assert_false(r.cat_reply.truncated);
    tf_msg_clear(&r);
    s_query(fx, "jobs", NULL, NULL, 2, &r);
    assert_int_equal(r.cat_reply.jobs_count, 2);
    assert_true(r.cat_reply.truncated);
    tf_msg_clear(&r);

    /* JA: g1 holds data/..., g2 holds logs/...; g2 is earlier on tape; g3 is not written. */
    s_files(fx, "JA", 1, 1, "data", 0, 5);
    s_files(fx, "JA", 2, 1, "logs", 0, 3);
    s_files(fx, "JA", 3, 1, "tmp", 0, 1);
    s_written(fx, "JA", 1, 7, 5);
    s_written(fx, "JA", 2, 3, 3);
    s_query(fx, "files", "JA", "logs/*", 0, &r);
    assert_int_equal(r.cat_reply.files_count, 3);
    assert_string_equal(r.cat_reply.files[0].path, "logs/f00000.txt");
    assert_string_equal(r.cat_reply.files[0].type, "file");
    assert_int_equal(r.cat_reply.files[0].mode, 0644);
    assert_string_equal(r.cat_reply.files[0].user, "me");
    tf_msg_clear(&r);
    /* A folder (with a leading /) names everything below it. */
    s_query(fx, "files", "JA", "/data/", 0, &r);
    assert_int_equal(r.cat_reply.files_count, 5);
    tf_msg_clear(&r);
    s_query(fx, "files", "JA", "*/f0000[12].txt", 0, &r);
    assert_int_equal(r.cat_reply.files_count, 4);
    tf_msg_clear(&r);
    s_query(fx, "files", "JA", NULL, 4, &r);
    assert_int_equal(r.cat_reply.files_count, 4);
    assert_true(r.cat_reply.truncated);
    tf_msg_clear(&r);

    /* Archives in tape order, written ones only. */
    s_query(fx, "archives", "JA", NULL, 0, &r);
    assert_int_equal(r.cat_reply.archives_count, 2);
    assert_string_equal(r.cat_reply.archives[0].archive_id, "JA-g00002");
    assert_int_equal(r.cat_reply.archives[0].tape_file, 3);
    assert_int_equal(r.cat_reply.archives[0].block, 30);
    assert_int_equal(r.cat_reply.archives[0].group_no, 2);
    assert_string_equal(r.cat_reply.archives[0].volume, "TF0001");
    assert_true(r.cat_reply.archives[0].written);
    assert_string_equal(r.cat_reply.archives[1].archive_id, "JA-g00001");
    tf_msg_clear(&r);
    /* Where a file lives: only the archive holding it. */
    s_query(fx, "archives", "JA", "data/f00004.txt", 0, &r);
    assert_int_equal(r.cat_reply.archives_count, 1);
    assert_string_equal(r.cat_reply.archives[0].archive_id, "JA-g00001");
    tf_msg_clear(&r);
    s_query(fx, "archives", "JA", "nothing/*", 0, &r);
    assert_int_equal(r.cat_reply.archives_count, 0);
    tf_msg_clear(&r);
}

static void
test_malformed(void **state)
{
    fx_t *fx = *state;
    /* Garbage: fails for good, and the job named by the item learns why. */
    tf_msg_work_t work = {.item_id = "x1", .service = "catalog", .job_id = "JM", .attempt = 1,
                          .payload = {(uint8_t *) "garbage", 7}};
    tf_msg_t reply;
    tf_err_t err = {0};
    assert_int_equal(catalog_handle_item(fx->cat, &work, &reply, &err), TF_ERR_PROTO);
    assert_non_null(strstr(err.message, "malformed payload"));
    tf_msg_clear(&reply);
    s_job_t j = s_get(fx, "JM");
    assert_string_equal(j.status, "failed");
    assert_string_equal(j.stage, "catalog");
    assert_non_null(strstr(j.detail, "malformed payload"));

    tf_msg_t m = s_job_op("JN", "explode", 0);
    assert_int_equal(s_item(fx, &m, NULL, NULL), TF_ERR_INVALID);
    assert_non_null(strstr(fx->err.message, "unknown op 'explode'"));
    m = s_job_op("JN", "stage", 0);
    assert_int_equal(s_item(fx, &m, NULL, NULL), TF_ERR_INVALID);

    tf_msg_file_row_t row = {.path = "a/b", .type = "fifo"};
    m = (tf_msg_t){.type = TF_MSG_CAT_FILES};
    m.cat_files = (tf_msg_cat_files_t){.job_id = "JF", .archive_id = "JF-g00001", .part = 1,
                                       .files = &row, .files_count = 1};
    assert_int_equal(s_item(fx, &m, NULL, NULL), TF_ERR_INVALID);
    assert_non_null(strstr(fx->err.message, "unknown type 'fifo'"));
    j = s_get(fx, "JF");
    assert_string_equal(j.status, "failed");

    /* An archive id already recorded for another job. */
    s_files(fx, "JG", 1, 1, NULL, 0, 1);
    m = s_written_msg("JH", "JG-g00001", 1, 1);
    assert_int_equal(s_item(fx, &m, NULL, NULL), TF_ERR_INVALID);
    assert_non_null(strstr(fx->err.message, "belongs to job JG"));
    m = s_written_msg("JH", "no-group-suffix", 1, 1);
    assert_int_equal(s_item(fx, &m, NULL, NULL), TF_ERR_INVALID);

    /* A message the catalog does not handle. */
    m = (tf_msg_t){.type = TF_MSG_HEARTBEAT};
    assert_int_equal(s_item(fx, &m, NULL, NULL), TF_ERR_PROTO);
    assert_non_null(strstr(fx->err.message, "does not handle heartbeat"));

    /* Queries. */
    tf_msg_t r;
    assert_int_equal(s_query_rc(fx, "job", "J-nope", NULL, 0, &r), TF_ERR_NOTFOUND);
    assert_non_null(strstr(fx->err.message, "no job J-nope"));
    assert_int_equal(s_query_rc(fx, "files", NULL, NULL, 0, &r), TF_ERR_INVALID);
    assert_int_equal(s_query_rc(fx, "everything", NULL, NULL, 0, &r), TF_ERR_INVALID);
    assert_int_equal(s_query_rc(fx, "archives", "J-nope", "x", 0, &r), TF_ERR_NOTFOUND);
    /* A failed query does not touch any job. */
    tf_msg_t q;
    assert_int_equal(s_query_rc(fx, "jobs", NULL, NULL, 0, &q), TF_OK);
    for (size_t i = 0; i < q.cat_reply.jobs_count; i++)
        assert_string_not_equal(q.cat_reply.jobs[i].job_id, "J-nope");
    tf_msg_clear(&q);
}

/* The route table tapeflow-catalog runs: refusals by the runtime (garbage, a message the
   catalog does not take) and by the catalog (an unknown op) reach the item's job as they do
   through catalog_handle_item; updates and queries are applied. */
static void
test_routes(void **state)
{
    fx_t *fx = *state;
    tf_err_t err = {0};
    tf_msg_work_t work = {.item_id = "r1", .service = "catalog", .job_id = "JR1", .attempt = 1,
                          .payload = {(uint8_t *) "garbage", 7}};
    int rc = tf_actor_route(NULL, catalog_routes, &work, fx->cat, &err);
    assert_int_equal(rc, TF_ERR_PROTO);
    assert_false(tf_actor_status_retryable(rc));
    assert_non_null(strstr(err.message, "item r1: malformed payload for the catalog service: "));
    s_job_t j = s_get(fx, "JR1");
    assert_string_equal(j.status, "failed");
    assert_string_equal(j.stage, "catalog");
    assert_non_null(strstr(j.detail, "malformed payload"));

    tf_msg_t hb = {.type = TF_MSG_HEARTBEAT};
    uint8_t *data = NULL;
    size_t size = 0;
    assert_int_equal(tf_msg_encode(&hb, &data, &size, &err), TF_OK);
    work = (tf_msg_work_t){.item_id = "r2", .service = "catalog", .job_id = "JR2", .attempt = 1,
                           .payload = {data, size}};
    assert_int_equal(tf_actor_route(NULL, catalog_routes, &work, fx->cat, &err), TF_ERR_PROTO);
    assert_string_equal(err.message, "item r2: the catalog service does not handle heartbeat messages (it takes "
                                     "cat_job, cat_files, cat_written, cat_volume, cat_query, cat_manifest, cat_sched or cat_replica)");
    free(data);
    j = s_get(fx, "JR2");
    assert_string_equal(j.status, "failed");
    assert_non_null(strstr(j.detail, "does not handle heartbeat"));

    /* the catalog's own refusal, for the job the message names */
    tf_msg_t m = s_job_op("JR3", "explode", 0);
    assert_int_equal(tf_msg_encode(&m, &data, &size, &err), TF_OK);
    work = (tf_msg_work_t){.item_id = "r3", .service = "catalog", .attempt = 1, .payload = {data, size}};
    assert_int_equal(tf_actor_route(NULL, catalog_routes, &work, fx->cat, &err), TF_ERR_INVALID);
    free(data);
    j = s_get(fx, "JR3");
    assert_string_equal(j.status, "failed");
    assert_non_null(strstr(j.detail, "unknown op 'explode'"));

    /* an update and a query go through */
    s_create(fx, "JR4", 0);
    m = s_job_op("JR4", "stage", 0);
    m.cat_job.stage = "scan";
    assert_int_equal(tf_msg_encode(&m, &data, &size, &err), TF_OK);
    work = (tf_msg_work_t){.item_id = "r4", .service = "catalog", .attempt = 1, .payload = {data, size}};
    assert_int_equal(tf_actor_route(NULL, catalog_routes, &work, fx->cat, &err), TF_OK);
    free(data);
    j = s_get(fx, "JR4");
    assert_string_equal(j.stage, "scan");
    tf_msg_t q = {.type = TF_MSG_CAT_QUERY};
    q.cat_query = (tf_msg_cat_query_t){.query = "job", .job_id = "JR4"};
    assert_int_equal(tf_msg_encode(&q, &data, &size, &err), TF_OK);
    work = (tf_msg_work_t){.item_id = "r5", .service = "catalog", .attempt = 1, .payload = {data, size}};
    assert_int_equal(tf_actor_route(NULL, catalog_routes, &work, fx->cat, &err), TF_OK);
    q.cat_query.job_id = "J-nope";
    free(data);
    assert_int_equal(tf_msg_encode(&q, &data, &size, &err), TF_OK);
    work.payload = (tf_bytes_t){data, size};
    assert_int_equal(tf_actor_route(NULL, catalog_routes, &work, fx->cat, &err), TF_ERR_NOTFOUND);
    free(data);
}

static void
test_reopen(void **state)
{
    fx_t *fx = *state;
    s_create(fx, "JR", 1000);
    s_scanned(fx, "JR", 3, 300, 1);
    s_files(fx, "JR", 1, 1, NULL, 0, 3);
    catalog_destroy(&fx->cat);
    s_open(fx);
    s_written(fx, "JR", 1, 1, 3);
    s_job_t j = s_get(fx, "JR");
    assert_string_equal(j.status, "completed");
}

static void
test_big_batch(void **state)
{
    fx_t *fx = *state;
    int64_t t0 = tf_clock_mono_ms();
    s_files(fx, "JBIG", 1, 1, NULL, 0, 20000);
    s_files(fx, "JBIG", 1, 1, NULL, 0, 20000);  /* again: nothing new */
    int64_t took = tf_clock_mono_ms() - t0;
    tf_msg_t r;
    s_query(fx, "files", "JBIG", NULL, 100000, &r);
    assert_int_equal(r.cat_reply.files_count, 20000);
    assert_false(r.cat_reply.truncated);
    tf_msg_clear(&r);
    s_written(fx, "JBIG", 1, 1, 20000);
    s_scanned(fx, "JBIG", 20000, 2000000, 1);
    assert_string_equal(s_get(fx, "JBIG").status, "completed");
    print_message("two batches of 20000 rows: %" PRId64 " ms\n", took);
    assert_true(took < 20000);
}

/* tapeflow job cancel / retry: the operator's record wins over late results of the job. */
static void
test_cancel_and_retry(void **state)
{
    fx_t *fx = *state;
    s_create(fx, "J1", 1000);
    s_scanned(fx, "J1", 5, 500, 2);
    s_files(fx, "J1", 1, 1, NULL, 0, 3);
    s_written(fx, "J1", 1, 1, 3);
    tf_msg_t m = s_job_op("J1", "cancelled", 0);
    m.cat_job.message = "cancelled by alice@host at 2026-12-02 04:30:00 UTC";
    s_ok(fx, &m);
    s_job_t j = s_get(fx, "J1");
    assert_string_equal(j.status, "cancelled");
    assert_non_null(strstr(j.message, "cancelled by alice@host"));
    /* Late results: a failure report and the last archive do not change it. */
    s_failed(fx, "J1", "tape", "fetch failed: archive is not staged");
    s_files(fx, "J1", 2, 1, NULL, 3, 2);
    s_written(fx, "J1", 2, 2, 2);
    j = s_get(fx, "J1");
    assert_string_equal(j.status, "cancelled");
    assert_string_equal(j.detail, "");
    assert_int_equal(j.archives_written, 2);
    /* A retry of a job whose archives are all in completes it at once. */
    m = s_job_op("J1", "retried", 0);
    m.cat_job.message = "retried by alice@host";
    s_ok(fx, &m);
    j = s_get(fx, "J1");
    assert_string_equal(j.status, "completed");

    /* A failed job: retried -> running (detail cleared), then completes normally. */
    s_create(fx, "J2", 2000);
    s_scanned(fx, "J2", 3, 300, 1);
    s_failed(fx, "J2", "tape", "no label");
    assert_string_equal(s_get(fx, "J2").status, "failed");
    m = s_job_op("J2", "retried", 0);
    m.cat_job.message = "retried by bob";
    s_ok(fx, &m);
    j = s_get(fx, "J2");
    assert_string_equal(j.status, "running");
    assert_string_equal(j.detail, "");
    assert_string_equal(j.message, "retried by bob");
    s_files(fx, "J2", 1, 1, NULL, 0, 3);
    s_written(fx, "J2", 1, 1, 3);
    assert_string_equal(s_get(fx, "J2").status, "completed");
    /* A completed job is neither cancelled nor retried. */
    m = s_job_op("J2", "cancelled", 0);
    s_ok(fx, &m);
    assert_string_equal(s_get(fx, "J2").status, "completed");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_and_query, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_complete_in_order, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_job_on_two_hosts, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_complete_out_of_order, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_redelivery_idempotent, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_nothing_to_back_up, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_failed_stays_failed, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_stage_order, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_queries, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_malformed, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_routes, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_reopen, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_big_batch, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_and_retry, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
