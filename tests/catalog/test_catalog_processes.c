/*  test_catalog_processes - tapeflow-catalog behind the real broker: items from tf_client_call,
    a catalog killed and restarted mid-job, a failure the broker reports for another service,
    malformed items, and the CLI (`tapeflow jobs`, `tapeflow job ID`, human and JSON) on top.
    Each test runs in its own temp folder used as the config's tapeflow/home. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_client.h"
#include "tf_clock.h"
#include "tf_testproc.h"
#include "tf_teststack.h"

#define S_CALL_TIMEOUT 10000

typedef struct {
    tf_teststack_t *stack;   /* the broker and catalog.1 (echo.1 when a test starts it) */
    tf_client_t *client;
} fx_t;

static int
s_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    const char *config[] = {"broker/heartbeat=200", "broker/liveness=3", "broker/max_attempts=3", NULL};
    const char *programs[] = {"broker", "catalog.1", NULL};
    tf_teststack_opts_t opts = {.config = config, .programs = programs};
    fx->stack = tf_teststack_new("tfcatp", &opts);
    assert_non_null(fx->stack);
    fx->client = tf_client_new(NULL, tf_teststack_broker(fx->stack), NULL);
    assert_non_null(fx->client);
    *state = fx;
    return 0;
}

static void
s_dump_log(fx_t *fx, const char *name)
{
    char path[PATH_MAX + 80];
    char *text = tf_test_read_file(tf_teststack_log(fx->stack, name, path, sizeof path));
    if (text)
        fprintf(stderr, "---- %s:\n%s", name, text);
    free(text);
}

static int
s_teardown(void **state)
{
    fx_t *fx = *state;
    tf_client_destroy(&fx->client);
    if (getenv("TF_TEST_VERBOSE")) {
        s_dump_log(fx, "catalog.1");
        s_dump_log(fx, "broker");
    }
    int down = tf_teststack_finish(&fx->stack);
    free(fx);
    assert_int_equal(down, 0);
    return 0;
}

/* --- items ------------------------------------------------------------------------------- */

static void
s_call(fx_t *fx, const char *item_id, const char *job_id, const tf_msg_t *payload)
{
    tf_msg_t result;
    tf_err_t err = {0};
    int rc = tf_client_call(fx->client, "catalog", item_id, job_id, payload, &result, S_CALL_TIMEOUT, &err);
    if (rc != TF_OK)
        fail_msg("item %s: %s", item_id ? item_id : "(fresh)", err.message);
    assert_int_equal(result.type, TF_MSG_NONE);
}

static void
s_create(fx_t *fx, const char *job)
{
    char id[128];
    snprintf(id, sizeof id, "%s-create", job);
    tf_msg_path_row_t path = {"/srv/data"};
    tf_msg_t m = {.type = TF_MSG_CAT_JOB};
    m.cat_job = (tf_msg_cat_job_t){.job_id = (char *) job, .op = "create", .paths = &path,
                                   .paths_count = 1, .pool = "default", .compression = "zstd",
                                   .time_ms = tf_clock_wall_ms()};
    s_call(fx, id, job, &m);
}

static void
s_files(fx_t *fx, const char *job, const char *item_id, int count)
{
    char archive[128];
    snprintf(archive, sizeof archive, "%s-g00001", job);
    tf_msg_file_row_t rows[8];
    char paths[8][32];
    assert_true(count <= 8);
    for (int i = 0; i < count; i++) {
        snprintf(paths[i], sizeof paths[i], "srv/data/file%d", i);
        rows[i] = (tf_msg_file_row_t){.path = paths[i], .type = "file", .size = 1000, .mode = 0644};
    }
    tf_msg_t m = {.type = TF_MSG_CAT_FILES};
    m.cat_files = (tf_msg_cat_files_t){.job_id = (char *) job, .archive_id = archive, .part = 1,
                                       .files = rows, .files_count = (size_t) count};
    s_call(fx, item_id, job, &m);
}

static int
s_query(fx_t *fx, const char *query, const char *job, tf_msg_t *reply, tf_err_t *err)
{
    tf_msg_t m = {.type = TF_MSG_CAT_QUERY};
    m.cat_query = (tf_msg_cat_query_t){.query = (char *) query, .job_id = (char *) job};
    return tf_client_call(fx->client, "catalog", NULL, NULL, &m, reply, S_CALL_TIMEOUT, err);
}

/* Status of a job as the catalog sees it ("" when unknown), into buf. */
static const char *
s_status(fx_t *fx, const char *job, char *buf, size_t size)
{
    tf_msg_t r;
    tf_err_t err = {0};
    buf[0] = '\0';
    if (s_query(fx, "job", job, &r, &err) == TF_OK) {
        assert_int_equal(r.type, TF_MSG_CAT_REPLY);
        assert_int_equal(r.cat_reply.jobs_count, 1);
        snprintf(buf, size, "%s", r.cat_reply.jobs[0].status);
        tf_msg_clear(&r);
    }
    return buf;
}

/* `tapeflow ARGS...` with stderr joined to stdout; the exit status. */
#define s_cli(fx, out, ...) tf_teststack_cli_all((fx)->stack, (out), __VA_ARGS__)

/* --- tests -------------------------------------------------------------------------------- */

static void
test_job_lifecycle_and_cli(void **state)
{
    fx_t *fx = *state;
    const char *job = "J20261121-105011-3fa2";
    char id[256], buf[32];
    s_create(fx, job);
    snprintf(id, sizeof id, "%s-g00001-files-1", job);
    s_files(fx, job, id, 3);
    assert_string_equal(s_status(fx, job, buf, sizeof buf), "running");

    /* The catalog dies and comes back: nothing recorded is lost. */
    assert_int_equal(tf_teststack_kill(fx->stack, "catalog.1", SIGKILL), 0);
    assert_int_equal(tf_teststack_start(fx->stack, "catalog.1"), 0);

    /* The same rows under another item id (a compressor that ran twice): no new rows. */
    s_files(fx, job, "other-id", 3);
    tf_msg_t m = {.type = TF_MSG_CAT_WRITTEN};
    char archive[128];
    snprintf(archive, sizeof archive, "%s-g00001", job);
    m.cat_written = (tf_msg_cat_written_t){.job_id = (char *) job, .archive_id = archive,
                                           .group_no = 1, .volume = "TF0001", .drive = "tape0",
                                           .tape_file = 1, .block = 2, .blocks = 4, .size = 3000,
                                           .checksum = "xxh128:0123", .files = 3, .bytes = 3000};
    snprintf(id, sizeof id, "%s-written", archive);
    s_call(fx, id, job, &m);
    assert_string_equal(s_status(fx, job, buf, sizeof buf), "running");
    m = (tf_msg_t){.type = TF_MSG_CAT_JOB};
    m.cat_job = (tf_msg_cat_job_t){.job_id = (char *) job, .op = "scanned", .files_total = 3,
                                   .bytes_total = 3000, .groups_total = 1, .time_ms = tf_clock_wall_ms()};
    snprintf(id, sizeof id, "%s-scanned", job);
    s_call(fx, id, job, &m);
    assert_string_equal(s_status(fx, job, buf, sizeof buf), "completed");

    tf_msg_t r;
    tf_err_t err = {0};
    assert_int_equal(s_query(fx, "files", job, &r, &err), TF_OK);
    assert_int_equal(r.cat_reply.files_count, 3);  /* exactly one entry per file */
    tf_msg_clear(&r);
    assert_int_equal(s_query(fx, "archives", job, &r, &err), TF_OK);
    assert_int_equal(r.cat_reply.archives_count, 1);
    assert_int_equal(r.cat_reply.archives[0].tape_file, 1);
    tf_msg_clear(&r);

    /* The CLI. */
    char *out = NULL;
    assert_int_equal(s_cli(fx, &out, "jobs", "--json", NULL), 0);
    assert_non_null(strstr(out, "{\"schema\":1,\"jobs\":[{\"job_id\":\"J20261121-105011-3fa2\""));
    assert_non_null(strstr(out, "\"status\":\"completed\""));
    assert_non_null(strstr(out, "\"files_done\":3,\"files_total\":3"));
    assert_non_null(strstr(out, "\"truncated\":false"));
    free(out);
    assert_int_equal(s_cli(fx, &out, "jobs", NULL), 0);
    assert_non_null(strstr(out, "JOB"));
    assert_non_null(strstr(out, "completed"));
    assert_non_null(strstr(out, "3/3"));
    assert_non_null(strstr(out, "2.9 KiB/2.9 KiB"));
    free(out);
    assert_int_equal(s_cli(fx, &out, "job", job, NULL), 0);
    assert_non_null(strstr(out, "status    completed\n"));
    assert_non_null(strstr(out, "files     3 of 3 (100%)\n"));
    assert_non_null(strstr(out, "archives  1 of 1 written\n"));
    free(out);
    assert_int_equal(s_cli(fx, &out, "--json", "job", job, NULL), 0);
    assert_non_null(strstr(out, "\"percent\":100"));
    free(out);
    assert_int_equal(s_cli(fx, &out, "job", "J-unknown", NULL), 1);
    assert_non_null(strstr(out, "no job J-unknown"));
    free(out);
    assert_int_equal(s_cli(fx, &out, "job", NULL), 2);
    free(out);
    assert_int_equal(s_cli(fx, &out, "jobs", "--limit", "zero", NULL), 2);
    free(out);
}

static void
test_failure_reported_by_broker(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(tf_teststack_start(fx->stack, "echo.1"), 0);
    const char *job = "JFAIL";
    s_create(fx, job);
    tf_msg_t reply;
    tf_err_t err = {0};
    const char *script = "fail:disk on fire";
    assert_int_equal(tf_client_submit(fx->client, "echo", "JFAIL-echo", job, script, strlen(script),
                                      &reply, 5000, &err), TF_OK);
    tf_msg_clear(&reply);
    char buf[32];
    int64_t deadline = tf_clock_mono_ms() + 15000;
    while (strcmp(s_status(fx, job, buf, sizeof buf), "failed") != 0) {
        assert_true(tf_clock_mono_ms() < deadline);
        tf_clock_sleep_ms(50);
    }
    char *out = NULL;
    assert_int_equal(s_cli(fx, &out, "job", job, NULL), 1);
    assert_non_null(strstr(out, "status    failed\n"));
    assert_non_null(strstr(out, "stage     echo\n"));
    assert_non_null(strstr(out, "detail    disk on fire\n"));
    free(out);
    assert_int_equal(s_cli(fx, &out, "job", job, "--json", NULL), 1);
    assert_non_null(strstr(out, "\"detail\":\"disk on fire\""));
    free(out);
}

static void
test_malformed_item(void **state)
{
    fx_t *fx = *state;
    tf_msg_t reply;
    tf_err_t err = {0};
    assert_int_equal(tf_client_submit(fx->client, "catalog", "bad-1", NULL, "garbage", 7, &reply,
                                      5000, &err), TF_OK);
    tf_msg_clear(&reply);
    tf_msg_t info;
    assert_int_equal(tf_client_wait(fx->client, "bad-1", S_CALL_TIMEOUT, &info, &err), TF_ERR_STATE);
    assert_non_null(strstr(err.message, "malformed payload"));
    assert_true(tf_teststack_alive(fx->stack, "catalog.1"));
    /* Still serving. */
    tf_msg_t r;
    assert_int_equal(s_query(fx, "jobs", NULL, &r, &err), TF_OK);
    assert_int_equal(r.type, TF_MSG_CAT_REPLY);
    tf_msg_clear(&r);
}

static void
test_nothing_answers(void **state)
{
    fx_t *fx = *state;
    /* No catalog: the broker queues the query and the CLI says what to check. */
    assert_int_equal(tf_teststack_kill(fx->stack, "catalog.1", SIGTERM), 0);
    int status;
    assert_true(tf_teststack_wait(fx->stack, "catalog.1", 10000, &status));
    char *out = NULL;
    assert_int_equal(s_cli(fx, &out, "job", "J1", "--timeout", "1", NULL), 1);
    assert_non_null(strstr(out, "the catalog did not answer"));
    assert_non_null(strstr(out, "tapeflow status"));
    free(out);

    /* No broker: a configuration nothing runs for. */
    tf_teststack_opts_t opts = {.no_up = true};
    fx_t nobody = {.stack = tf_teststack_new("tfcatn", &opts)};
    assert_non_null(nobody.stack);
    assert_int_equal(s_cli(&nobody, &out, "jobs", "--timeout", "1", NULL), 1);
    assert_non_null(strstr(out, "broker not reachable"));
    assert_non_null(strstr(out, "tapeflow up"));
    free(out);
    assert_int_equal(s_cli(&nobody, &out, "jobs", "--json", "--timeout", "1", NULL), 1);
    assert_non_null(strstr(out, "{\"schema\":1,\"error\":\"broker not reachable"));
    free(out);
    tf_teststack_destroy(&nobody.stack);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_job_lifecycle_and_cli, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_failure_reported_by_broker, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_malformed_item, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_nothing_answers, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
