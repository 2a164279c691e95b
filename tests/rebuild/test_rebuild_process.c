/*  Catalog rebuild from tape with the real stack (`tapeflow up` on a simulated tape): a tree
    is backed up into several archives, the stack is stopped, the catalog database deleted, the
    stack started again, and `tapeflow tape scan tape0` rebuilds the catalog: the job is
    completed with the same totals, the restore is identical, the scan read far fewer blocks
    than the tape holds, and scanning again changes nothing (one entry per file). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <czmq.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tf_client.h"
#include "tf_testproc.h"
#include "tf_tree.h"

typedef struct {
    char *dir;
    char cfg[300];
    char env_cfg[320];
    char env_home[320];
    char *env[3];
} fx_t;

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
    int rc = tf_test_run("tapeflow", argv, fx->env, 120000, &text);
    if (out)
        *out = text;
    else
        free(text);
    return rc;
}

static void
s_up(fx_t *fx)
{
    char *out = NULL;
    int rc = s_cli(fx, &out, "up", "--detach", NULL);
    if (rc != 0)
        fprintf(stderr, "tapeflow up --detach failed (%d):\n%s\n", rc, out ? out : "");
    free(out);
    assert_int_equal(rc, 0);
}

static int
s_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    fx->dir = tf_test_tempdir("tfrebuild");
    assert_non_null(fx->dir);
    snprintf(fx->cfg, sizeof fx->cfg, "%s/tapeflow.cfg", fx->dir);
    FILE *f = fopen(fx->cfg, "w");
    assert_non_null(f);
    /* Small groups (several archives) and 16 KiB blocks (many data blocks per archive). */
    fprintf(f,
            "tapeflow\n    home = \"%s\"\n    log_level = debug\n"
            "broker\n    heartbeat = 250\n    liveness = 4\n"
            "up\n    actors = \"catalog scanner compressor stager tapewriter\"\n"
            "    restart_min = 200\n    restart_max = 1000\n"
            "actors\n    compressor\n        instances = 2\n"
            "scanner\n    group_size = 1048576\n"
            "compressor\n    chunk = 131072\n"
            "stager\n    window = 524288\n"
            "tapewriter\n    block_size = 16384\n"
            "drives\n    tape0\n        url = \"sim:%s/tape0.img?capacity=1G\"\n",
            fx->dir, fx->dir);
    fclose(f);
    snprintf(fx->env_cfg, sizeof fx->env_cfg, "TAPEFLOW_CONFIG=%s", fx->cfg);
    snprintf(fx->env_home, sizeof fx->env_home, "TAPEFLOW_HOME=%s", fx->dir);
    fx->env[0] = fx->env_cfg;
    fx->env[1] = fx->env_home;
    s_up(fx);
    *state = fx;
    return 0;
}

static int
s_teardown(void **state)
{
    fx_t *fx = *state;
    s_cli(fx, NULL, "down", NULL);
    tf_test_dir_done(&fx->dir);
    free(fx);
    return 0;
}

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
    snprintf(restored, sizeof restored, "%s%s", dest, src);
    if (tf_tree_compare(src, restored, true, why, sizeof why) != 0)
        fail_msg("restored tree differs: %s", why);
}

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

static tf_client_t *
s_client(fx_t *fx)
{
    char endpoint[400];
    snprintf(endpoint, sizeof endpoint, "ipc://%s/run/broker.sock", fx->dir);
    tf_client_t *client = tf_client_new(endpoint, NULL);
    assert_non_null(client);
    return client;
}

/* The catalog's rows of the job: exactly one per entry of src. */
static void
s_catalog_has_each_entry_once(fx_t *fx, const char *job, const char *src)
{
    tf_client_t *client = s_client(fx);
    tf_msg_t q = {.type = TF_MSG_CAT_QUERY};
    q.cat_query = (tf_msg_cat_query_t){.query = "files", .job_id = (char *) job, .limit = 100000};
    tf_msg_t reply;
    tf_err_t err = {0};
    if (tf_client_call(client, "catalog", NULL, job, &q, &reply, 30000, &err) != TF_OK)
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
    tf_client_destroy(&client);
}

/* Header + data + trailer blocks of the job's archives (from the catalog), and their count. */
static uint64_t
s_archive_blocks(fx_t *fx, const char *job, size_t *archives)
{
    tf_client_t *client = s_client(fx);
    tf_msg_t q = {.type = TF_MSG_CAT_QUERY};
    q.cat_query = (tf_msg_cat_query_t){.query = "archives", .job_id = (char *) job};
    tf_msg_t reply;
    tf_err_t err = {0};
    if (tf_client_call(client, "catalog", NULL, job, &q, &reply, 30000, &err) != TF_OK)
        fail_msg("archives query: %s", err.message);
    uint64_t blocks = 0;
    for (size_t i = 0; i < reply.cat_reply.archives_count; i++)
        blocks += reply.cat_reply.archives[i].blocks;
    *archives = reply.cat_reply.archives_count;
    tf_msg_clear(&reply);
    tf_client_destroy(&client);
    return blocks;
}

/* `tapeflow job JOB --json` without the fields that change with the wall clock. */
static char *
s_job_json(fx_t *fx, const char *job, int expect_rc)
{
    char *out = NULL;
    int rc = s_cli(fx, &out, "job", job, "--json", NULL);
    if (rc != expect_rc)
        fail_msg("tapeflow job %s: exit %d, expected %d: %s", job, rc, expect_rc, out ? out : "");
    return out;
}

static void
s_same_field(const char *a, const char *b, const char *key)
{
    if (s_json_int(a, key) != s_json_int(b, key))
        fail_msg("%s differs: %lld before, %lld after the rebuild", key, s_json_int(a, key), s_json_int(b, key));
}

static void
test_catalog_deleted_then_rebuilt_from_tape(void **state)
{
    fx_t *fx = *state;
    char *out = NULL;
    int rc = s_cli(fx, &out, "tape", "label", "tape0", "--label", "TF0001", "--pool", "default", NULL);
    if (rc != 0)
        fail_msg("tape label: %s", out ? out : "");
    free(out);
    char src[PATH_MAX];
    snprintf(src, sizeof src, "%s/src", fx->dir);
    tf_tree_spec_t spec = {.files = 150, .bytes = 5 << 20, .seed = 42, .special = true};
    char why[512];
    if (tf_tree_generate(src, &spec, NULL, why, sizeof why) != 0)
        fail_msg("tree: %s", why);

    rc = s_cli(fx, &out, "backup", src, "--pool", "default", "--wait", "--timeout", "120", "--json", NULL);
    char job[128];
    if (rc != 0 || !s_json_str(out, "job_id", job, sizeof job))
        fail_msg("backup failed (%d): %s", rc, out ? out : "");
    free(out);
    char *before = s_job_json(fx, job, 0);
    assert_non_null(strstr(before, "\"status\":\"completed\""));
    size_t archives = 0;
    uint64_t blocks = s_archive_blocks(fx, job, &archives);
    assert_true(archives >= 3);
    uint64_t data_blocks = blocks - 2 * archives;
    long entries = s_count_entries(src);
    /* Every index came from the archive's file rows sidecar (issue 9): the tape writer did not
       ask the catalog for rows. */
    char log[PATH_MAX];
    snprintf(log, sizeof log, "%s/log/tapewriter.1.log", fx->dir);
    char *text = tf_test_read_file(log);
    assert_non_null(text);
    char written[256];
    snprintf(written, sizeof written, "archive %s-g00001 written", job);
    assert_non_null(strstr(text, written));
    assert_null(strstr(text, "asking the catalog once"));
    assert_null(strstr(text, "without its file index"));
    free(text);

    /* The catalog is lost. */
    assert_int_equal(s_cli(fx, NULL, "down", NULL), 0);
    const char *suffix[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char db[PATH_MAX];
        snprintf(db, sizeof db, "%s/catalog.db%s", fx->dir, suffix[i]);
        unlink(db);
    }
    s_up(fx);
    free(s_job_json(fx, job, 1));  /* unknown now */

    /* Rebuilt from the tape: every archive from its index, far fewer blocks read than held. */
    rc = s_cli(fx, &out, "tape", "scan", "tape0", "--json", NULL);
    if (rc != 0)
        fail_msg("tape scan failed (%d): %s", rc, out ? out : "");
    assert_int_equal(s_json_int(out, "jobs_found"), 1);
    assert_int_equal(s_json_int(out, "archives_found"), (long long) archives);
    assert_int_equal(s_json_int(out, "from_index"), (long long) archives);
    assert_int_equal(s_json_int(out, "skipped"), 0);
    assert_int_equal(s_json_int(out, "files"), entries);
    long long read = s_json_int(out, "blocks_read");
    if (read <= 0 || (uint64_t) read >= data_blocks / 2)
        fail_msg("the scan read %lld blocks; the archives hold %" PRIu64 " data blocks", read, data_blocks);
    assert_non_null(strstr(out, "\"status\":\"completed\""));
    free(out);

    /* Same job, same restore, one catalog entry per file. */
    char *after = s_job_json(fx, job, 0);
    assert_non_null(strstr(after, "\"status\":\"completed\""));
    static const char *keys[] = {"created_ms", "files_total", "bytes_total", "groups_total", "files_done",
                                 "bytes_done", "archives_written", "warnings"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        s_same_field(before, after, keys[i]);
    char pool[64];
    assert_non_null(s_json_str(after, "pool", pool, sizeof pool));
    assert_string_equal(pool, "default");
    s_restore_and_compare(fx, job, src, "restored");
    s_catalog_has_each_entry_once(fx, job, src);
    size_t archives_after = 0;
    assert_int_equal(s_archive_blocks(fx, job, &archives_after), blocks);
    assert_int_equal(archives_after, archives);

    /* Scanning again changes nothing. */
    rc = s_cli(fx, &out, "tape", "scan", "tape0", NULL);
    if (rc != 0)
        fail_msg("second tape scan failed (%d): %s", rc, out ? out : "");
    assert_non_null(strstr(out, "from the tape index"));
    free(out);
    char *again = s_job_json(fx, job, 0);
    assert_string_equal(again, after);
    s_catalog_has_each_entry_once(fx, job, src);
    free(again);
    free(after);
    free(before);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_catalog_deleted_then_rebuilt_from_tape, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
