/*  broker + scanner + 2 compressors + stager as real processes (no tape writer; the test plays
    the catalog in a thread: it answers the scanner's manifest calls as for a full backup):
    a scan job for a generated tree ends with every group staged and queued for tape
    ("<archive>-tape" items), each staged file lists with GNU tar, and every scanned entry is
    in exactly one archive, whose file rows sidecar lists exactly its entries - also when a
    compressor is SIGKILLed mid-archive and the stager is SIGKILLed mid-job (both restarted, as
    `tapeflow up` would). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipe_test_util.h"
#include "scanner.h"
#include "tf_actor.h"
#include "tf_client.h"
#include "tf_config.h"
#include "tf_clock.h"
#include "tf_pipeline_ids.h"
#include "tf_sidecar.h"
#include "tf_testproc.h"
#include "tf_teststack.h"

#define JOB "J20261121-105011-3fa2"

typedef struct {
    tf_teststack_t *stack;   /* broker, stager.1, scanner.1, compressor.1 and .2 */
    char staging[256];
    char root[256];
    char compressors[2][32]; /* the compressors' names (a restarted one gets another) */
    tf_client_t *client;
    zactor_t *catalog;       /* the fake catalog (s_fake_catalog) */
    char archives[64][TF_ID_MAX];
    int narchives;
    uint64_t entries;
} fx_t;

/* The groups the scanner will make, from the same code, in-process. */
static int
s_expect(void *arg, const char *service, const char *item_id, const char *job_id, const tf_msg_t *payload, tf_err_t *err)
{
    (void) job_id;
    (void) err;
    fx_t *f = arg;
    if (strcmp(service, "compress") == 0) {
        snprintf(f->archives[f->narchives++], TF_ID_MAX, "%s", item_id);
        f->entries += payload->file_group.entries_count;
    }
    return TF_OK;
}

/* The catalog as far as the scanner needs one: cat_manifest items get pt_manifest_answer,
   everything else (the scanner's cat_job ops) is done. args: the config file. */
static void
s_fake_catalog(zsock_t *pipe, void *args)
{
    tf_err_t err = {0};
    tf_config_t *cfg = tf_config_load(args, &err);
    tf_actor_t *catalog = cfg ? tf_actor_new(cfg, "catalog", "catalog.test", &err) : NULL;
    zsock_signal(pipe, 0);
    while (catalog && !(zsock_events(pipe) & ZMQ_POLLIN)) {
        tf_msg_t work;
        if (tf_actor_next(catalog, &work, 100, NULL) != TF_OK)
            continue;
        tf_msg_t payload, result = {0};
        int rc = tf_msg_decode(work.work.payload.data, work.work.payload.size, &payload, &err);
        if (rc == TF_OK && payload.type == TF_MSG_CAT_MANIFEST)
            rc = pt_manifest_answer(&payload, &result, &err);
        if (rc == TF_OK)
            tf_msg_clear(&payload);
        uint8_t *bytes = NULL;
        size_t size = 0;
        if (rc == TF_OK && result.type != TF_MSG_NONE)
            rc = tf_msg_encode(&result, &bytes, &size, &err);
        if (rc == TF_OK)
            tf_actor_done(catalog, &work.work, bytes, size);
        else
            tf_actor_failed(catalog, &work.work, false, err.message);
        free(bytes);
        tf_msg_clear(&result);
        tf_msg_clear(&work);
    }
    tf_actor_destroy(&catalog);
    tf_config_destroy(&cfg);
    char *term = zstr_recv(pipe);   /* $TERM: zactor_destroy waits for this thread's end */
    zstr_free(&term);
}

static int
s_setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    const char *config[] = {
        "broker/heartbeat=200", "broker/liveness=3", "broker/max_attempts=20", "scanner/group_size=2000000",
        "stager/dir=${dir}/staging", "stager/window=32768", "compressor/chunk=8192", "compressor/level=19",
        "compressor/threads=1", "compressor/stager_timeout=3000", NULL};
    const char *programs[] = {"broker", "stager.1", "scanner.1", "compressor.1", "compressor.2", NULL};
    tf_teststack_opts_t opts = {.config = config, .programs = programs, .no_up = true};
    f->stack = tf_teststack_new("tfpp", &opts);
    assert_non_null(f->stack);
    snprintf(f->staging, sizeof f->staging, "%s/staging", tf_teststack_dir(f->stack));
    snprintf(f->root, sizeof f->root, "%s/tree", tf_teststack_dir(f->stack));
    snprintf(f->compressors[0], sizeof f->compressors[0], "compressor.1");
    snprintf(f->compressors[1], sizeof f->compressors[1], "compressor.2");
    /* the tree: a slow-to-compress big file (so kills land mid-stream) and many small ones */
    pt_make_tree(f->root, 300000);
    char p[600];
    snprintf(p, sizeof p, "%s/aaa-slow.txt", f->root);
    pt_write_file(p, 6u << 20, 5, 1);
    snprintf(p, sizeof p, "%s/more", f->root);
    pt_mkdir(p);
    for (int i = 0; i < 150; i++) {
        snprintf(p, sizeof p, "%s/more/file%03d.dat", f->root, i);
        pt_write_file(p, 2000 + (size_t) i * 100, (uint32_t) i + 1000, i % 2);
    }
    snprintf(p, sizeof p, "%s/more/large.txt", f->root);
    pt_write_file(p, 3u << 20, 77, 1);
    scanner_opts_t opts_scan = {.group_bytes = 2000000, .submit = s_expect, .submit_arg = f,
                                .call = pt_manifest_call};
    scanner_t *scanner = scanner_new_with(&opts_scan, NULL, NULL);
    tf_msg_path_row_t paths[] = {{f->root}};
    tf_msg_scan_job_t job = {.job_id = JOB, .paths = paths, .paths_count = 1, .one_fs = true};
    scanner_totals_t totals;
    assert_int_equal(scanner_scan(scanner, &job, NULL, NULL, &totals, NULL), TF_OK);
    scanner_destroy(&scanner);
    assert_true(f->narchives >= 3);

    assert_int_equal(tf_teststack_up(f->stack), 0);
    f->catalog = zactor_new(s_fake_catalog, (void *) tf_teststack_config(f->stack));
    assert_non_null(f->catalog);
    f->client = tf_client_new(NULL, tf_teststack_broker(f->stack), NULL);
    assert_non_null(f->client);
    *state = f;
    return 0;
}

/* Every program stops cleanly at SIGTERM (sanitizer builds report leaks and errors into the
   logs at exit). */
static int
s_teardown(void **state)
{
    fx_t *f = *state;
    tf_client_destroy(&f->client);
    zactor_destroy(&f->catalog);
    int down = tf_teststack_finish(&f->stack);
    free(f);
    assert_int_equal(down, 0);
    return 0;
}

static void
s_submit_scan(fx_t *f)
{
    tf_msg_path_row_t paths[] = {{f->root}};
    tf_msg_t msg = {.type = TF_MSG_SCAN_JOB};
    msg.scan_job = (tf_msg_scan_job_t){.job_id = JOB, .paths = paths, .paths_count = 1, .one_fs = true,
                                       .group_bytes = 2000000, .compression = "zstd", .pool = "default"};
    tf_msg_t reply;
    tf_err_t err = {0};
    if (tf_client_submit_msg(f->client, "scan", JOB "-scan", JOB, &msg, &reply, 5000, &err) != TF_OK)
        fail_msg("submit: %s", err.message);
    tf_msg_clear(&reply);
}

static const char *
s_state(fx_t *f, const char *id, char *buf, size_t size)
{
    tf_msg_t info;
    if (tf_client_item(f->client, id, &info, 2000, NULL) != TF_OK)
        return NULL;
    snprintf(buf, size, "%s", info.item_info.state);
    tf_msg_clear(&info);
    return buf;
}

static bool
s_all_staged(fx_t *f)
{
    for (int i = 0; i < f->narchives; i++) {
        char id[TF_ID_MAX + 8], state[32];
        tf_id_join(id, sizeof id, f->archives[i], "-tape");
        if (!s_state(f, id, state, sizeof state))
            return false;
    }
    return true;
}

/* The largest partial archive in tmp/ (bytes), or -1. */
static long
s_part_bytes(fx_t *f)
{
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s/tmp", f->staging);
    DIR *d = opendir(tmp);
    long best = -1;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        char p[600];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", tmp, de->d_name);
        if (strstr(de->d_name, ".part") && stat(p, &st) == 0 && st.st_size > best)
            best = (long) st.st_size;
    }
    if (d)
        closedir(d);
    return best;
}

/* pid of a compressor that holds an item, or 0 */
static int
s_busy_compressor(fx_t *f)
{
    tf_msg_t reply;
    if (tf_client_status(f->client, &reply, 2000, NULL) != TF_OK)
        return 0;
    int pid = 0;
    for (size_t i = 0; i < reply.status.workers_count; i++) {
        tf_msg_worker_row_t *w = &reply.status.workers[i];
        if (strcmp(w->service, "compress") == 0 && strcmp(w->state, "busy") == 0)
            pid = (int) w->pid;
    }
    tf_msg_clear(&reply);
    return pid;
}

static void
s_wait_mid_stream(fx_t *f, int timeout_ms)
{
    int64_t deadline = tf_clock_mono_ms() + timeout_ms;
    while (s_part_bytes(f) < 40000 && tf_clock_mono_ms() < deadline)
        tf_clock_sleep_ms(10);
}

static void
s_check_staged(fx_t *f)
{
    /* every group arrived; each lists with tar; every entry is in exactly one archive; its
       file rows sidecar has a row for each entry, in the archive's order */
    uint64_t listed = 0;
    for (int i = 0; i < f->narchives; i++) {
        char cmd[600], *out = NULL;
        snprintf(cmd, sizeof cmd, "tar --zstd -tf %s/ready/%s.data", f->staging, f->archives[i]);
        if (pt_sh(cmd, &out) != 0)
            fail_msg("tar cannot list %s", f->archives[i]);
        uint64_t entries = 0;
        for (char *line = out; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
            entries++;
        char path[600];
        snprintf(path, sizeof path, "%s/ready/%s.rows", f->staging, f->archives[i]);
        size_t size = 0;
        uint8_t *rows = (uint8_t *) tf_test_read_bytes(path, &size);
        if (!rows)
            fail_msg("%s has no file rows sidecar", f->archives[i]);
        tf_err_t err = {0};
        tf_sidecar_t *sidecar = tf_sidecar_parse(rows, size, f->archives[i], &err);
        if (!sidecar)
            fail_msg("%s", err.message);
        assert_int_equal(tf_sidecar_count(sidecar), entries);
        char *first_line_end = strchr(out, '\n');
        if (first_line_end && entries > 0) {  /* tar lists folders with a trailing '/' */
            *first_line_end = '\0';
            size_t n = strlen(tf_sidecar_rows(sidecar)[0].path);
            assert_int_equal(strncmp(out, tf_sidecar_rows(sidecar)[0].path, n), 0);
        }
        tf_sidecar_destroy(&sidecar);
        free(rows);
        listed += entries;
        free(out);
    }
    assert_int_equal(listed, f->entries);
    /* nothing else in ready/ (3 files per archive: data, meta and the file rows sidecar),
       nothing left in tmp/ */
    char p[300];
    snprintf(p, sizeof p, "%s/ready", f->staging);
    DIR *d = opendir(p);
    int files = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            files++;
    closedir(d);
    assert_int_equal(files, 3 * f->narchives);
    /* every compress item completed */
    for (int i = 0; i < f->narchives; i++) {
        char state[32];
        int64_t deadline = tf_clock_mono_ms() + 10000;
        while (tf_clock_mono_ms() < deadline && (!s_state(f, f->archives[i], state, sizeof state) || strcmp(state, "done") != 0))
            tf_clock_sleep_ms(50);
        assert_string_equal(state, "done");
    }
}

static void
test_pipeline_end_to_stager(void **state)
{
    fx_t *f = *state;
    s_submit_scan(f);
    assert_true(tf_test_wait_for((bool (*)(void *)) s_all_staged, f, 45000));
    s_check_staged(f);
    /* a repeated scan queues nothing new */
    s_submit_scan(f);
    char state_buf[32];
    assert_string_equal(s_state(f, JOB "-scan", state_buf, sizeof state_buf), "done");
}

static void
test_pipeline_kills(void **state)
{
    fx_t *f = *state;
    s_submit_scan(f);
    /* a compressor dies mid-archive */
    s_wait_mid_stream(f, 20000);
    int pid = s_busy_compressor(f);
    assert_true(pid > 0);
    int killed = -1;
    for (int i = 0; i < 2; i++)
        if (tf_teststack_pid(f->stack, f->compressors[i]) == pid)
            killed = i;
    assert_true(killed >= 0);
    assert_int_equal(tf_teststack_kill(f->stack, f->compressors[killed], SIGKILL), 0);
    snprintf(f->compressors[killed], sizeof f->compressors[killed], "%s", killed ? "compressor.2b" : "compressor.1b");
    assert_int_equal(tf_teststack_start(f->stack, f->compressors[killed]), 0);
    /* the stager dies mid-job, while an archive streams in */
    tf_clock_sleep_ms(300);
    s_wait_mid_stream(f, 20000);
    assert_int_equal(tf_teststack_kill(f->stack, "stager.1", SIGKILL), 0);
    assert_int_equal(tf_teststack_start(f->stack, "stager.1b"), 0);
    assert_true(tf_test_wait_for((bool (*)(void *)) s_all_staged, f, 50000));
    s_check_staged(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pipeline_end_to_stager, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_kills, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
