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
#include "tf_tree.h"

#define S_JOB_WAIT_S "180"

typedef struct {
    char *dir;
    char cfg[300];
    char env_cfg[320];
    char env_home[320];
    char *env[3];
    tf_client_t *client;
} fx_t;

/* Runs `tapeflow ARGS...`; returns the exit status and stdout in *out (caller frees). */
static int
s_cli(fx_t *fx, char **out, ...)
{
    char *argv[32] = {"tapeflow"};
    int argc = 1;
    va_list ap;
    va_start(ap, out);
    for (char *a = va_arg(ap, char *); a && argc < 31; a = va_arg(ap, char *))
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    char *text = NULL;
    int rc = tf_test_run("tapeflow", argv, fx->env, 240000, &text);
    if (out)
        *out = text;
    else
        free(text);
    return rc;
}

/* sim_options: extra query options for the simulated drive (e.g. a throughput limit). */
static int
s_setup_with(void **state, const char *sim_options)
{
    fx_t *fx = calloc(1, sizeof *fx);
    fx->dir = tf_test_tempdir("tfe2e");
    assert_non_null(fx->dir);
    snprintf(fx->cfg, sizeof fx->cfg, "%s/tapeflow.cfg", fx->dir);
    FILE *f = fopen(fx->cfg, "w");
    assert_non_null(f);
    fprintf(f,
            "tapeflow\n    home = \"%s\"\n    log_level = debug\n"
            "broker\n    heartbeat = 250\n    liveness = 4\n"
            "up\n    actors = \"catalog scanner compressor stager tapewriter\"\n"
            "    restart_min = 200\n    restart_max = 1000\n"
            "actors\n    compressor\n        instances = 2\n"
            "scanner\n    group_size = 2097152\n"
            "compressor\n    chunk = 131072\n"
            "stager\n    window = 524288\n"
            "drives\n    tape0\n        url = \"sim:%s/tape0.img?capacity=1G%s\"\n",
            fx->dir, fx->dir, sim_options ? sim_options : "");
    fclose(f);
    snprintf(fx->env_cfg, sizeof fx->env_cfg, "TAPEFLOW_CONFIG=%s", fx->cfg);
    snprintf(fx->env_home, sizeof fx->env_home, "TAPEFLOW_HOME=%s", fx->dir);
    fx->env[0] = fx->env_cfg;
    fx->env[1] = fx->env_home;
    char *out = NULL;
    int rc = s_cli(fx, &out, "up", "--detach", NULL);
    if (rc != 0)
        fprintf(stderr, "tapeflow up --detach failed (%d):\n%s\n", rc, out ? out : "");
    free(out);
    assert_int_equal(rc, 0);
    char endpoint[400];
    snprintf(endpoint, sizeof endpoint, "ipc://%s/run/broker.sock", fx->dir);
    fx->client = tf_client_new(endpoint, NULL);
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
    char *out = NULL;
    s_cli(fx, &out, "down", NULL);
    free(out);
    tf_test_dir_done(&fx->dir);
    free(fx);
    return 0;
}

/* The value of "key":"..." in a JSON text (first occurrence), copied into buf. */
static const char *
s_json_str(const char *json, const char *key, char *buf, size_t size)
{
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
    const char *at = json ? strstr(json, pattern) : NULL;
    if (!at)
        return NULL;
    at += strlen(pattern);
    const char *end = strchr(at, '"');
    if (!end)
        return NULL;
    snprintf(buf, size, "%.*s", (int) (end - at), at);
    return buf;
}

static long long
s_json_int(const char *json, const char *key)
{
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    const char *at = json ? strstr(json, pattern) : NULL;
    return at ? atoll(at + strlen(pattern)) : -1;
}

static void
s_label(fx_t *fx, const char *label, const char *pool)
{
    char *out = NULL;
    int rc = s_cli(fx, &out, "tape", "label", "tape0", "--label", label, "--pool", pool, NULL);
    if (rc != 0)
        fprintf(stderr, "tape label: %s\n", out ? out : "");
    assert_int_equal(rc, 0);
    free(out);
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

/* Runs a backup and waits; returns the exit status, the job id and the final JSON. */
static int
s_backup(fx_t *fx, const char *src, const char *pool, char *job, size_t job_size, char **json)
{
    char *out = NULL;
    int rc = s_cli(fx, &out, "backup", src, "--pool", pool, "--wait", "--timeout", S_JOB_WAIT_S, "--json", NULL);
    if (!s_json_str(out, "job_id", job, job_size))
        job[0] = '\0';
    if (json)
        *json = out;
    else
        free(out);
    return rc;
}

static void
s_restore_and_compare(fx_t *fx, const char *job, const char *src, const char *to)
{
    char *out = NULL;
    char dest[PATH_MAX];
    snprintf(dest, sizeof dest, "%s/%s", fx->dir, to);
    int rc = s_cli(fx, &out, "restore", job, "--to", dest, "--json", NULL);
    if (rc != 0)
        fail_msg("restore failed (%d): %s", rc, out ? out : "");
    free(out);
    char restored[PATH_MAX * 2], why[1024];
    snprintf(restored, sizeof restored, "%s%s", dest, src);  /* stored paths keep the source's */
    if (tf_tree_compare(src, restored, true, why, sizeof why) != 0)
        fail_msg("restored tree differs: %s", why);
}

/* Number of entries under root, root included (what the catalog should hold). */
static long
s_count_entries(const char *root)
{
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "find '%s' | wc -l", root);
    FILE *p = popen(cmd, "r");
    long n = -1;
    if (p) {
        if (fscanf(p, "%ld", &n) != 1)
            n = -1;
        pclose(p);
    }
    return n;
}

static void
s_catalog_has_each_entry_once(fx_t *fx, const char *job, const char *src)
{
    tf_msg_t q = {.type = TF_MSG_CAT_QUERY};
    q.cat_query = (tf_msg_cat_query_t){.query = "files", .job_id = (char *) job, .limit = 100000};
    tf_msg_t reply;
    tf_err_t err = {0};
    if (tf_client_call(fx->client, "catalog", NULL, job, &q, &reply, 30000, &err) != TF_OK)
        fail_msg("files query: %s", err.message);
    assert_int_equal(reply.type, TF_MSG_CAT_REPLY);
    assert_false(reply.cat_reply.truncated);
    assert_int_equal((long) reply.cat_reply.files_count, s_count_entries(src));
    zhashx_t *seen = zhashx_new();
    for (size_t i = 0; i < reply.cat_reply.files_count; i++) {
        const char *p = reply.cat_reply.files[i].path;
        if (zhashx_lookup(seen, p))
            fail_msg("catalog holds %s twice", p);
        zhashx_insert(seen, p, (void *) 1);
    }
    zhashx_destroy(&seen);
    tf_msg_clear(&reply);
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

/* pid of a child of `tapeflow up`, from its state file. */
static int
s_child_pid(fx_t *fx, const char *name)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/run/up.state", fx->dir);
    zconfig_t *root = zconfig_load(path);
    if (!root)
        return 0;
    char key[128];
    snprintf(key, sizeof key, "children/%s/pid", name);
    int pid = atoi(zconfig_get(root, key, "0"));
    zconfig_destroy(&root);
    return pid;
}

static void
s_kill(fx_t *fx, const char *name)
{
    int pid = s_child_pid(fx, name);
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
    assert_non_null(s_json_str(out, "job", job, sizeof job));
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
