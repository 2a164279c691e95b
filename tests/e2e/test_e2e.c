/*  End to end on a simulated tape: the whole stack under `tapeflow up`, driven through the
    `tapeflow` CLI as an operator would. A generated tree with every awkward case is backed up,
    restored elsewhere and compared byte for byte with metadata; a single-file restore reads
    only the archive holding it; unlabelled and wrong-pool tapes are refused; the stager, a
    compressor and the tape writer are SIGKILLed mid-job and the job still completes, restores
    identically, and the catalog holds exactly one entry per file. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <czmq.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tf_client.h"
#include "tf_clock.h"
#include "tf_testproc.h"
#include "tf_teststack.h"
#include "tf_tree.h"

typedef struct {
    tf_teststack_t *stack;
    char *dir;  /* the stack's folder */
    tf_client_t *client;
} fx_t;

#define s_cli(fx, out, ...) tf_teststack_cli((fx)->stack, (out), __VA_ARGS__)
#define s_json_str tf_test_json_str
#define s_json_int tf_test_json_int

/* sim_options: extra query options for the simulated drive (e.g. a throughput limit). */
static int
s_setup_with(void **state, const char *sim_options)
{
    fx_t *fx = calloc(1, sizeof *fx);
    tf_teststack_opts_t opts = {.sim_options = sim_options};
    fx->stack = tf_teststack_new("tfe2e", &opts);
    assert_non_null(fx->stack);
    fx->dir = (char *) tf_teststack_dir(fx->stack);
    fx->client = tf_client_new(NULL, tf_teststack_broker(fx->stack), NULL);
    assert_non_null(fx->client);
    *state = fx;
    return 0;
}

static int
s_setup(void **state)
{
    return s_setup_with(state, NULL);
}

/* A drive of 15 MB/s: the job lasts long enough to kill its stages mid-way. */
static int
s_setup_slow(void **state)
{
    return s_setup_with(state, "&rate=15M");
}

static int
s_teardown(void **state)
{
    fx_t *fx = *state;
    tf_client_destroy(&fx->client);
    int down = tf_teststack_finish(&fx->stack);
    free(fx);
    assert_int_equal(down, 0);
    return 0;
}

static void
s_label(fx_t *fx, const char *label, const char *pool)
{
    assert_int_equal(tf_teststack_label(fx->stack, "tape0", label, pool), 0);
}

static void
s_make_tree(fx_t *fx, const char *name, uint64_t files, uint64_t bytes, char *path, size_t size)
{
    snprintf(path, size, "%s/%s", fx->dir, name);
    tf_tree_spec_t spec = {.files = files, .bytes = bytes, .seed = 42, .special = true};
    char why[512];
    if (tf_tree_generate(path, &spec, NULL, why, sizeof why) != 0)
        fail_msg("tree: %s", why);
}

static int
s_backup(fx_t *fx, const char *src, const char *pool, char *job, size_t job_size, char **json)
{
    return tf_teststack_backup(fx->stack, src, pool, job, job_size, json);
}

static void
s_restore_and_compare(fx_t *fx, const char *job, const char *src, const char *to)
{
    char why[PATH_MAX + 2048];
    if (tf_teststack_restore_compare(fx->stack, job, src, to, why, sizeof why) != 0)
        fail_msg("%s", why);
}

static void
s_catalog_has_each_entry_once(fx_t *fx, const char *job, const char *src)
{
    char why[PATH_MAX + 1024];
    if (tf_teststack_catalog_has_each_entry_once(fx->stack, job, src, why, sizeof why) != 0)
        fail_msg("%s", why);
}

static uint64_t
s_total_blocks(fx_t *fx, const char *job, size_t *archives)
{
    tf_msg_t q = {.type = TF_MSG_CAT_QUERY};
    q.cat_query = (tf_msg_cat_query_t){.query = "archives", .job_id = (char *) job};
    tf_msg_t reply;
    tf_err_t err = {0};
    if (tf_client_call(fx->client, "catalog", NULL, job, &q, &reply, 30000, &err) != TF_OK)
        fail_msg("archives query: %s", err.message);
    uint64_t blocks = 0;
    for (size_t i = 0; i < reply.cat_reply.archives_count; i++)
        blocks += reply.cat_reply.archives[i].blocks;
    *archives = reply.cat_reply.archives_count;
    tf_msg_clear(&reply);
    return blocks;
}

static void
test_backup_restore_identical_and_single_file(void **state)
{
    fx_t *fx = *state;
    s_label(fx, "TF0001", "default");
    char src[PATH_MAX];
    s_make_tree(fx, "src", 400, 12 << 20, src, sizeof src);
    char job[128], *json = NULL;
    int rc = s_backup(fx, src, "default", job, sizeof job, &json);
    if (rc != 0)
        fail_msg("backup failed (%d): %s", rc, json ? json : "");
    assert_non_null(strstr(json, "\"status\":\"completed\""));
    free(json);

    s_restore_and_compare(fx, job, src, "restored");
    s_catalog_has_each_entry_once(fx, job, src);

    /* One file: only the archive holding it is read. */
    size_t archives = 0;
    uint64_t all_blocks = s_total_blocks(fx, job, &archives);
    assert_true(archives >= 3);
    char one[PATH_MAX * 2], dest[PATH_MAX];
    snprintf(one, sizeof one, "%s/special/private", src);
    snprintf(dest, sizeof dest, "%s/one", fx->dir);
    char *out = NULL;
    rc = s_cli(fx, &out, "restore", job, one, "--to", dest, "--json", NULL);
    if (rc != 0)
        fail_msg("single-file restore failed (%d): %s", rc, out ? out : "");
    assert_int_equal(s_json_int(out, "files"), 1);
    assert_int_equal(s_json_int(out, "archives_read"), 1);
    long long blocks = s_json_int(out, "blocks_read");
    assert_true(blocks > 0 && (uint64_t) blocks < all_blocks / 2);
    free(out);
    char restored[PATH_MAX * 3];
    snprintf(restored, sizeof restored, "%s%s", dest, one);
    char *a = tf_test_read_file(one), *b = tf_test_read_file(restored);
    assert_non_null(b);
    assert_string_equal(a, b);
    free(a);
    free(b);

    /* The job list shows it, completed. */
    rc = s_cli(fx, &out, "jobs", "--json", NULL);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, job));
    free(out);
}

static void
test_unlabelled_and_wrong_pool_refused(void **state)
{
    fx_t *fx = *state;
    char src[PATH_MAX];
    s_make_tree(fx, "small", 10, 10000, src, sizeof src);
    char job[128], *json = NULL;
    assert_int_equal(s_backup(fx, src, "default", job, sizeof job, &json), 1);
    assert_non_null(strstr(json, "\"status\":\"failed\""));
    assert_non_null(strstr(json, "no label"));
    free(json);

    s_label(fx, "TF0002", "offsite");
    assert_int_equal(s_backup(fx, src, "default", job, sizeof job, &json), 1);
    assert_non_null(strstr(json, "\"status\":\"failed\""));
    assert_non_null(strstr(json, "offsite"));
    free(json);

    /* The right pool works. */
    assert_int_equal(s_backup(fx, src, "offsite", job, sizeof job, &json), 0);
    free(json);
}

static void
s_kill(fx_t *fx, const char *name)
{
    int pid = tf_teststack_child_pid(fx->stack, name);
    assert_true(pid > 0);
    assert_int_equal(kill(pid, SIGKILL), 0);
}

static bool
s_job_field(fx_t *fx, const char *job, const char *key, long long at_least)
{
    char *out = NULL;
    s_cli(fx, &out, "job", job, "--json", NULL);
    bool ok = s_json_int(out, key) >= at_least;
    free(out);
    return ok;
}

static void
test_kill_stages_mid_job(void **state)
{
    fx_t *fx = *state;
    s_label(fx, "TF0003", "default");
    char src[PATH_MAX];
    s_make_tree(fx, "big", 600, 40 << 20, src, sizeof src);
    char *out = NULL;
    assert_int_equal(s_cli(fx, &out, "backup", src, "--json", NULL), 0);
    char job[128];
    assert_non_null(s_json_str(out, "job_id", job, sizeof job));
    free(out);

    /* A compressor while the first archives stream, then the stager, then the tape writer
       once something is on tape. Each comes back under the supervisor. */
    int64_t deadline = tf_clock_mono_ms() + 60000;
    while (!s_job_field(fx, job, "groups_total", 1) && tf_clock_mono_ms() < deadline)
        tf_clock_sleep_ms(20);
    s_kill(fx, "compressor.1");
    tf_clock_sleep_ms(300);
    s_kill(fx, "stager.1");
    while (!s_job_field(fx, job, "archives_written", 1) && tf_clock_mono_ms() < deadline)
        tf_clock_sleep_ms(20);
    s_kill(fx, "tapewriter.1");

    /* It completes. */
    deadline = tf_clock_mono_ms() + 180000;
    for (;;) {
        assert_int_equal(s_cli(fx, &out, "job", job, "--json", NULL) <= 1, 1);
        bool done = strstr(out, "\"status\":\"completed\"") != NULL;
        if (strstr(out, "\"status\":\"failed\""))
            fail_msg("job failed after the kills: %s", out);
        free(out);
        if (done)
            break;
        if (tf_clock_mono_ms() > deadline)
            fail_msg("job %s did not complete in time", job);
        tf_clock_sleep_ms(200);
    }
    s_restore_and_compare(fx, job, src, "restored");
    s_catalog_has_each_entry_once(fx, job, src);
}

int
main(int argc, char **argv)
{
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);  /* one ctest entry per test */
    zsys_init();
    zsys_handler_set(NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_backup_restore_identical_and_single_file, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_unlabelled_and_wrong_pool_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_kill_stages_mid_job, s_setup_slow, s_teardown),
    };
    return cmocka_run_group_tests_name("e2e", tests, NULL, NULL);
}
