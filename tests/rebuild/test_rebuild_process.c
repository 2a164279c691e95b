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
#include "tf_teststack.h"
#include "tf_tree.h"

typedef struct {
    tf_teststack_t *stack;
    const char *dir;  /* the stack's folder */
} fx_t;

#define s_cli(fx, out, ...) tf_teststack_cli((fx)->stack, (out), __VA_ARGS__)
#define s_json_str tf_test_json_str
#define s_json_int tf_test_json_int

static int
s_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    /* Small groups (several archives) and 16 KiB blocks (many data blocks per archive). */
    const char *config[] = {"scanner/group_size=1048576", "tapewriter/block_size=16384", NULL};
    tf_teststack_opts_t opts = {.config = config};
    fx->stack = tf_teststack_new("tfrebuild", &opts);
    assert_non_null(fx->stack);
    fx->dir = tf_teststack_dir(fx->stack);
    *state = fx;
    return 0;
}

static int
s_teardown(void **state)
{
    fx_t *fx = *state;
    int down = tf_teststack_finish(&fx->stack);
    free(fx);
    assert_int_equal(down, 0);
    return 0;
}

static tf_client_t *
s_client(fx_t *fx)
{
    tf_client_t *client = tf_client_new(NULL, tf_teststack_broker(fx->stack), NULL);
    assert_non_null(client);
    return client;
}

/* The catalog's rows of the job: exactly one per entry of src. */
static void
s_catalog_has_each_entry_once(fx_t *fx, const char *job, const char *src)
{
    char why[PATH_MAX + 1024];
    if (tf_teststack_catalog_has_each_entry_once(fx->stack, job, src, why, sizeof why) != 0)
        fail_msg("%s", why);
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
    assert_int_equal(tf_teststack_label(fx->stack, "tape0", "TF0001", "default"), 0);
    char src[PATH_MAX];
    snprintf(src, sizeof src, "%s/src", fx->dir);
    tf_tree_spec_t spec = {.files = 150, .bytes = 5 << 20, .seed = 42, .special = true};
    char why[512];
    if (tf_tree_generate(src, &spec, NULL, why, sizeof why) != 0)
        fail_msg("tree: %s", why);

    char job[128];
    int rc = tf_teststack_backup(fx->stack, src, "default", job, sizeof job, &out);
    if (rc != 0 || !job[0])
        fail_msg("backup failed (%d): %s", rc, out ? out : "");
    free(out);
    char *before = s_job_json(fx, job, 0);
    assert_non_null(strstr(before, "\"status\":\"completed\""));
    size_t archives = 0;
    uint64_t blocks = s_archive_blocks(fx, job, &archives);
    assert_true(archives >= 3);
    uint64_t data_blocks = blocks - 2 * archives;
    long entries = tf_tree_entries(src);
    /* Every index came from the archive's file rows sidecar (issue 9): the tape writer did not
       ask the catalog for rows. */
    char log[PATH_MAX + 80];
    char *text = tf_test_read_file(tf_teststack_log(fx->stack, "tapewriter.1", log, sizeof log));
    assert_non_null(text);
    char written[256];
    snprintf(written, sizeof written, "archive %s-g00001 written", job);
    assert_non_null(strstr(text, written));
    assert_null(strstr(text, "asking the catalog once"));
    assert_null(strstr(text, "without its file index"));
    free(text);

    /* The catalog is lost. */
    if (tf_teststack_down(fx->stack, why, sizeof why) != 0)
        fail_msg("%s", why);
    const char *suffix[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char db[PATH_MAX];
        snprintf(db, sizeof db, "%s/catalog.db%s", fx->dir, suffix[i]);
        unlink(db);
    }
    assert_int_equal(tf_teststack_up(fx->stack), 0);
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
    if (tf_teststack_restore_compare(fx->stack, job, src, "restored", why, sizeof why) != 0)
        fail_msg("%s", why);
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
