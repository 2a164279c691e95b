/*  Compressor -> stager over real sockets, with a real tapeflow-broker process: credit flow
    with a small window and chunk, the staged file listed by GNU tar, back-pressure until a
    release frees space, refused archives (checksum, order, malformed input), restart (tmp
    dropped, ready re-announced), fetch, release. The stager runs on a thread of this test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <czmq.h>
#include <locale.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compressor.h"
#include "holding.h"
#include "pipe_test_util.h"
#include "scan_walk.h"
#include "stager.h"
#include "tf_actor.h"
#include "tf_checksum.h"
#include "tf_client.h"
#include "tf_clock.h"
#include "tf_job_start.h"
#include "tf_sidecar.h"
#include "tf_testproc.h"
#include "tf_wire.h"

typedef struct {
    char *dir;
    char config[256];
    char broker_ep[256];
    char stager_ep[256];
    char staging[256];
    tf_testproc_t *broker;
    tf_client_t *client;
    zactor_t *stager;
    tf_config_t *cfg;
    const char *replicas;    /* the job's replication as tf_job_start decided it, which the */
    const char *replication; /* compressor carries in stage_open (s_stage_small, pool fakes) */
} fx_t;

/* stager_extra: more "    key = value" lines of the stager section (may be empty). */
static void
s_write_config_with(fx_t *f, long capacity, int stager_timeout, const char *stager_extra)
{
    FILE *cfg = fopen(f->config, "w");
    assert_non_null(cfg);
    fprintf(cfg,
            "tapeflow\n    home = \"%s\"\n"
            "broker\n    heartbeat = 200\n    liveness = 3\n"
            "stager\n    endpoint = \"%s\"\n    dir = \"%s\"\n    capacity = %ld\n    window = 65536\n%s"
            "compressor\n    chunk = 16384\n    level = 1\n    threads = 1\n    stager_timeout = %d\n",
            f->dir, f->stager_ep, f->staging, capacity, stager_extra, stager_timeout);
    fclose(cfg);
    tf_config_destroy(&f->cfg);
    f->cfg = tf_config_open(f->config, NULL);
    assert_non_null(f->cfg);
}

static void
s_write_config(fx_t *f, long capacity, int stager_timeout)
{
    s_write_config_with(f, capacity, stager_timeout, "");
}

static void
s_stager_thread(zsock_t *pipe, void *arg)
{
    tf_config_t *cfg = tf_config_open(arg, NULL);
    tf_err_t err = {0};
    stager_t *stager = cfg ? stager_new(cfg, &err) : NULL;
    tf_actor_t *actor = stager ? tf_actor_new(cfg, "stager", "stager.test", &err) : NULL;
    if (!actor) {
        fprintf(stderr, "stager: %s\n", err.message);
        stager_destroy(&stager);
        tf_config_destroy(&cfg);
        zsock_signal(pipe, 1);
        return;
    }
    zsock_signal(pipe, 0);
    stager_serve(stager, actor, pipe);
    tf_actor_destroy(&actor);
    stager_destroy(&stager);
    tf_config_destroy(&cfg);
}

static void
s_start_stager(fx_t *f)
{
    f->stager = zactor_new(s_stager_thread, f->config);
    assert_non_null(f->stager);
}

static void
s_stop_stager(fx_t *f)
{
    zactor_destroy(&f->stager);
}

static int
s_setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    f->dir = tf_test_tempdir("tfps");
    snprintf(f->config, sizeof f->config, "%s/tapeflow.cfg", f->dir);
    snprintf(f->broker_ep, sizeof f->broker_ep, "ipc://%s/run/broker.sock", f->dir);
    snprintf(f->stager_ep, sizeof f->stager_ep, "ipc://%s/run/stager.sock", f->dir);
    snprintf(f->staging, sizeof f->staging, "%s/staging", f->dir);
    s_write_config(f, 1L << 30, 5000);
    char log[300];
    snprintf(log, sizeof log, "%s/broker.log", f->dir);
    char *argv[] = {"tapeflow-broker", "--config", f->config, NULL};
    f->broker = tf_testproc_start("tapeflow-broker", argv, NULL, log);
    assert_non_null(f->broker);
    f->client = tf_client_new(NULL, f->broker_ep, NULL);
    int64_t deadline = tf_clock_mono_ms() + 10000;
    for (;;) {
        tf_msg_t reply;
        if (tf_client_status(f->client, &reply, 500, NULL) == TF_OK) {
            tf_msg_clear(&reply);
            break;
        }
        assert_true(tf_clock_mono_ms() < deadline);
    }
    *state = f;
    return 0;
}

static int
s_teardown(void **state)
{
    fx_t *f = *state;
    s_stop_stager(f);
    tf_client_destroy(&f->client);
    tf_testproc_destroy(&f->broker);
    tf_config_destroy(&f->cfg);
    tf_test_dir_done(&f->dir);
    free(f);
    return 0;
}

/* --- helpers ----------------------------------------------------------------------- */

typedef struct {
    tf_msg_group_entry_t entries[300];
    char paths[300][512];
    size_t count;
} group_paths_t;

static int
s_add(void *arg, const char *path, const struct stat *st, tf_err_t *err)
{
    (void) err;
    group_paths_t *g = arg;
    assert_true(g->count < 300);
    snprintf(g->paths[g->count], sizeof g->paths[0], "%s", path);
    g->entries[g->count] = (tf_msg_group_entry_t){g->paths[g->count], S_ISREG(st->st_mode) ? (uint64_t) st->st_size : 0};
    g->count++;
    return TF_OK;
}

static void
s_nowarn(void *arg, const char *path, const char *message)
{
    (void) arg;
    fail_msg("walk warning %s: %s", path, message);
}

static tf_msg_file_group_t
s_group(group_paths_t *g, const char *root, const char *archive_id, uint64_t no)
{
    memset(g, 0, sizeof *g);
    assert_int_equal(scan_walk(scan_fs_posix(), root, true, s_add, s_nowarn, NULL, g, NULL), TF_OK);
    return (tf_msg_file_group_t){.job_id = "J1", .archive_id = (char *) archive_id, .group_no = no,
                                 .compression = "zstd", .pool = "default", .entries = g->entries,
                                 .entries_count = g->count};
}

static bool
s_exists(fx_t *f, const char *sub, const char *name)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s/%s", f->staging, sub, name);
    return access(p, F_OK) == 0;
}

static long
s_file_size(fx_t *f, const char *sub, const char *name)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s/%s", f->staging, sub, name);
    struct stat st;
    return stat(p, &st) == 0 ? (long) st.st_size : -1;
}

/* Waits until the broker knows the item; returns its state (static buffer). */
static const char *
s_item_state(fx_t *f, const char *id, int timeout_ms)
{
    static char state[32];
    int64_t deadline = tf_clock_mono_ms() + timeout_ms;
    for (;;) {
        tf_msg_t info;
        if (tf_client_item(f->client, id, &info, 1000, NULL) == TF_OK) {
            snprintf(state, sizeof state, "%s", info.item_info.state);
            tf_msg_clear(&info);
            return state;
        }
        if (tf_clock_mono_ms() > deadline)
            return NULL;
        tf_clock_sleep_ms(50);
    }
}

static void
s_release(fx_t *f, const char *archive_id, const char *item_id)
{
    tf_msg_t msg = {.type = TF_MSG_ARCHIVE_RELEASE};
    msg.archive_release.archive_id = (char *) archive_id;
    tf_msg_t reply, info;
    tf_err_t err = {0};
    assert_int_equal(tf_client_submit_msg(f->client, "stager", item_id, "J1", &msg, &reply, 5000, &err), TF_OK);
    tf_msg_clear(&reply);
    if (tf_client_wait(f->client, item_id, 10000, &info, &err) != TF_OK)
        fail_msg("release %s: %s", item_id, err.message);
    tf_msg_clear(&info);
}

static zsock_t *
s_dealer(fx_t *f)
{
    zsock_t *d = zsock_new_dealer(f->stager_ep);
    assert_non_null(d);
    zsock_set_rcvtimeo(d, 5000);
    return d;
}

static void
s_send(zsock_t *d, tf_msg_t *msg)
{
    assert_int_equal(tf_wire_send(d, NULL, msg, NULL), TF_OK);
}

/* Receives the next message that is not a keep-alive credit. */
static void
s_recv(zsock_t *d, tf_msg_t *msg)
{
    for (;;) {
        tf_err_t err = {0};
        if (tf_wire_recv(d, NULL, msg, &err) != TF_OK)
            fail_msg("recv: %s", err.message);
        if (msg->type == TF_MSG_STAGE_CREDIT && msg->stage_credit.bytes == 0) {
            tf_msg_clear(msg);
            continue;
        }
        return;
    }
}

/* Part `part` of an archive's file rows: `count` rows named "<archive>/<part>.<n>". */
static void
s_rows(zsock_t *d, const char *id, uint64_t part, size_t count)
{
    tf_msg_file_row_t rows[8];
    char paths[8][200];
    assert_true(count <= 8);
    for (size_t i = 0; i < count; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/%llu.%zu", id, (unsigned long long) part, i);
        rows[i] = (tf_msg_file_row_t){.path = paths[i], .type = "file", .size = i};
    }
    tf_msg_t msg = {.type = TF_MSG_STAGE_ROWS};
    msg.stage_rows = (tf_msg_stage_rows_t){.archive_id = (char *) id, .part = part, .files = rows,
                                           .files_count = count};
    s_send(d, &msg);
}

/* Fetches all of an archive's data, or (rows) its file rows sidecar. */
static uint8_t *
s_fetch_of(fx_t *f, const char *archive_id, bool rows, size_t *size, char *error, size_t error_size)
{
    zsock_t *d = s_dealer(f);
    uint8_t *buf = NULL;
    *size = 0;
    error[0] = '\0';
    for (;;) {
        tf_msg_t msg = {.type = TF_MSG_FETCH};
        msg.fetch = (tf_msg_fetch_t){.archive_id = (char *) archive_id, .offset = *size, .length = 300000,
                                     .rows = rows};
        s_send(d, &msg);
        tf_msg_t reply;
        s_recv(d, &reply);
        assert_int_equal(reply.type, TF_MSG_FETCH_DATA);
        assert_int_equal(reply.fetch_data.offset, *size);
        assert_int_equal(reply.fetch_data.rows, rows);
        if (reply.fetch_data.error) {
            snprintf(error, error_size, "%s", reply.fetch_data.error);
            tf_msg_clear(&reply);
            break;
        }
        buf = realloc(buf, *size + reply.fetch_data.data.size + 1);
        memcpy(buf + *size, reply.fetch_data.data.data, reply.fetch_data.data.size);
        *size += reply.fetch_data.data.size;
        bool eof = reply.fetch_data.eof;
        tf_msg_clear(&reply);
        if (eof)
            break;
    }
    zsock_destroy(&d);
    return buf;
}

static uint8_t *
s_fetch_all(fx_t *f, const char *archive_id, size_t *size, char *error, size_t error_size)
{
    return s_fetch_of(f, archive_id, false, size, error, error_size);
}

/* --- tests ------------------------------------------------------------------------- */

static void
test_stream_list_fetch_release(void **state)
{
    fx_t *f = *state;
    s_start_stager(f);
    char root[512];
    snprintf(root, sizeof root, "%s/tree", f->dir);
    pt_make_tree(root, 1500000);
    group_paths_t *g = calloc(1, sizeof *g);
    tf_msg_file_group_t group = s_group(g, root, "J1-g00001", 1);
    tf_err_t err = {0};
    compressor_t *c = compressor_new(f->cfg, &err);
    assert_non_null(c);
    file_rows_t *rows = NULL;
    archiver_stats_t stats;
    if (compressor_stage(c, &group, NULL, NULL, &rows, &stats, &err) != TF_OK)
        fail_msg("stage: %s", err.message);
    assert_int_equal(file_rows_count(rows), g->count);
    /* 1.5 MB of random data through a 64 KiB window in 16 KiB chunks: the compressor never
       held more than the window, so it needed many grants (how often it actually waited
       depends on scheduling and is not asserted). */
    assert_true(compressor_credit_max_held(c) <= 65536);
    assert_true(compressor_credit_grants(c) >= 20);  /* >= 1.4 MB of random data / 64 KiB */
    file_rows_destroy(&rows);
    assert_true(s_exists(f, "ready", "J1-g00001.data"));
    assert_true(s_exists(f, "ready", "J1-g00001.meta"));
    assert_false(s_exists(f, "tmp", "J1-g00001.part"));
    /* queued for tape */
    const char *st = s_item_state(f, "J1-g00001-tape", 5000);
    assert_non_null(st);
    assert_string_equal(st, "queued");

    /* GNU tar reads it */
    char cmd[4096], *out = NULL;
    snprintf(cmd, sizeof cmd, "tar --zstd -tvf %s/ready/J1-g00001.data", f->staging);
    assert_int_equal(pt_sh(cmd, &out), 0);
    assert_non_null(out);
    const char *rel = root + 1;
    char want[1200];
    snprintf(want, sizeof want, "%s/big.bin", rel);
    assert_non_null(strstr(out, want));
    snprintf(want, sizeof want, "%s/caf\xc3\xa9-\xc3\xbc.txt", rel);
    assert_non_null(strstr(out, want));
    snprintf(want, sizeof want, "%s/link-to-docs -> docs/note02.txt", rel);
    assert_non_null(strstr(out, want));
    snprintf(want, sizeof want, "%s/hardlink.txt link to %s/docs/note01.txt", rel, rel);
    assert_non_null(strstr(out, want));
    snprintf(want, sizeof want, "%s/empty-dir/", rel);
    assert_non_null(strstr(out, want));
    free(out);
    /* and extracts the big file byte-identical */
    snprintf(cmd, sizeof cmd, "mkdir -p %s/x && tar --zstd -xf %s/ready/J1-g00001.data -C %s/x && cmp %s/x%s/big.bin %s/big.bin"
             " && cmp %s/x%s/sparse.img %s/sparse.img", f->dir, f->staging, f->dir, f->dir, root, root, f->dir, root, root);
    assert_int_equal(pt_sh(cmd, NULL), 0);

    /* staging the same archive again: "already staged", nothing sent, same rows */
    long before = s_file_size(f, "ready", "J1-g00001.data");
    assert_int_equal(compressor_stage(c, &group, NULL, NULL, &rows, &stats, &err), TF_OK);
    assert_int_equal(file_rows_count(rows), g->count);
    file_rows_destroy(&rows);
    assert_int_equal(s_file_size(f, "ready", "J1-g00001.data"), before);

    /* fetch gives exactly the staged bytes */
    size_t size;
    char error[256];
    uint8_t *data = s_fetch_all(f, "J1-g00001", &size, error, sizeof error);
    assert_string_equal(error, "");
    assert_int_equal((long) size, before);
    char path[600];
    snprintf(path, sizeof path, "%s/ready/J1-g00001.data", f->staging);
    char *disk = tf_test_read_file(path);
    assert_memory_equal(data, disk, size);
    free(disk);
    free(data);
    data = s_fetch_all(f, "J1-g99999", &size, error, sizeof error);
    assert_non_null(strstr(error, "not staged"));
    free(data);

    /* release deletes; a second release of a missing archive is fine */
    s_release(f, "J1-g00001", "J1-g00001-release");
    assert_false(s_exists(f, "ready", "J1-g00001.data"));
    assert_false(s_exists(f, "ready", "J1-g00001.meta"));
    s_release(f, "J1-g00001", "J1-g00001-release-again");
    compressor_destroy(&c);
    free(g);
}

typedef struct {
    compressor_t *c;
    tf_msg_file_group_t *group;
    atomic_int done;
    int rc;
    char message[512];
} bg_t;

static void *
s_bg_stage(void *arg)
{
    bg_t *bg = arg;
    file_rows_t *rows = NULL;
    archiver_stats_t stats;
    tf_err_t err = {0};
    bg->rc = compressor_stage(bg->c, bg->group, NULL, NULL, &rows, &stats, &err);
    snprintf(bg->message, sizeof bg->message, "%s", err.message);
    file_rows_destroy(&rows);
    atomic_store(&bg->done, 1);
    return NULL;
}

static void
test_backpressure(void **state)
{
    fx_t *f = *state;
    /* room for about one and a half archives; the compressor may be silent-waited 2 s */
    s_write_config(f, 1600000, 2000);
    s_start_stager(f);
    char a[512], b[512], p[600];
    snprintf(a, sizeof a, "%s/a", f->dir);
    snprintf(b, sizeof b, "%s/b", f->dir);
    pt_mkdir(a);
    pt_mkdir(b);
    snprintf(p, sizeof p, "%s/one.bin", a);
    pt_write_file(p, 1000000, 1, 0);
    snprintf(p, sizeof p, "%s/two.bin", b);
    pt_write_file(p, 1000000, 2, 0);
    group_paths_t *ga = calloc(1, sizeof *ga), *gb = calloc(1, sizeof *gb);
    tf_msg_file_group_t group_a = s_group(ga, a, "J1-g00001", 1);
    tf_msg_file_group_t group_b = s_group(gb, b, "J1-g00002", 2);
    tf_err_t err = {0};
    compressor_t *c = compressor_new(f->cfg, &err);
    file_rows_t *rows = NULL;
    archiver_stats_t stats;
    assert_int_equal(compressor_stage(c, &group_a, NULL, NULL, &rows, &stats, &err), TF_OK);
    file_rows_destroy(&rows);
    long size_a = s_file_size(f, "ready", "J1-g00001.data");
    assert_true(size_a > 1000000);

    bg_t bg = {.c = compressor_new(f->cfg, &err), .group = &group_b};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, s_bg_stage, &bg), 0);
    /* B stalls: its credit stops at the capacity, longer than the compressor's silence
       timeout (keep-alives hold it) */
    tf_clock_sleep_ms(3000);
    assert_int_equal(atomic_load(&bg.done), 0);
    long part = s_file_size(f, "tmp", "J1-g00002.part");
    assert_true(part > 0);
    assert_true(part + size_a <= 1600000);
    /* the tape writer's release frees A's space: B completes */
    s_release(f, "J1-g00001", "J1-g00001-release");
    int64_t deadline = tf_clock_mono_ms() + 15000;
    while (!atomic_load(&bg.done) && tf_clock_mono_ms() < deadline)
        tf_clock_sleep_ms(20);
    pthread_join(thread, NULL);
    if (bg.rc != TF_OK)
        fail_msg("B: %s", bg.message);
    assert_true(s_exists(f, "ready", "J1-g00002.data"));
    assert_false(s_exists(f, "ready", "J1-g00001.data"));
    compressor_destroy(&bg.c);
    compressor_destroy(&c);
    free(ga);
    free(gb);
}

static void
s_open(zsock_t *d, const char *id, uint64_t *credit)
{
    tf_msg_t msg = {.type = TF_MSG_STAGE_OPEN};
    msg.stage_open = (tf_msg_stage_open_t){.archive_id = (char *) id, .job_id = "J9", .group_no = 1};
    s_send(d, &msg);
    tf_msg_t reply;
    s_recv(d, &reply);
    assert_int_equal(reply.type, TF_MSG_STAGE_CREDIT);
    *credit = reply.stage_credit.bytes;
    tf_msg_clear(&reply);
}

static void
s_data(zsock_t *d, const char *id, uint64_t offset, const char *text)
{
    tf_msg_t msg = {.type = TF_MSG_STAGE_DATA};
    msg.stage_data = (tf_msg_stage_data_t){.archive_id = (char *) id, .offset = offset,
                                           .data = {(uint8_t *) text, strlen(text)}};
    s_send(d, &msg);
}

static void
s_close(zsock_t *d, const char *id, uint64_t size, const char *checksum)
{
    tf_msg_t msg = {.type = TF_MSG_STAGE_CLOSE};
    msg.stage_close = (tf_msg_stage_close_t){.archive_id = (char *) id, .size = size, .checksum = (char *) checksum};
    s_send(d, &msg);
}

/* stage_close of an archive of `files` entries after `rows_parts` parts of file rows. */
static void
s_close_rows(zsock_t *d, const char *id, uint64_t size, const char *checksum, uint64_t files, uint64_t rows_parts)
{
    tf_msg_t msg = {.type = TF_MSG_STAGE_CLOSE};
    msg.stage_close = (tf_msg_stage_close_t){.archive_id = (char *) id, .size = size, .checksum = (char *) checksum,
                                             .files = files, .rows_parts = rows_parts};
    s_send(d, &msg);
}

static void
s_expect_result(zsock_t *d, bool ok, const char *text)
{
    tf_msg_t reply;
    s_recv(d, &reply);
    assert_int_equal(reply.type, TF_MSG_STAGE_RESULT);
    if (reply.stage_result.ok != ok || (text && !strstr(reply.stage_result.message, text)))
        fail_msg("result ok=%d '%s', expected ok=%d '%s'", reply.stage_result.ok,
                 reply.stage_result.message ? reply.stage_result.message : "", ok, text ? text : "");
    tf_msg_clear(&reply);
}

static void
test_refusals(void **state)
{
    fx_t *f = *state;
    s_start_stager(f);
    zsock_t *d = s_dealer(f);
    uint64_t credit;
    char sum[TF_CHECKSUM_STRLEN];
    /* checksum mismatch */
    s_open(d, "J9-g00001", &credit);
    assert_int_equal(credit, 65536);
    assert_true(s_exists(f, "tmp", "J9-g00001.part"));
    s_data(d, "J9-g00001", 0, "hello");
    s_close(d, "J9-g00001", 5, tf_checksum_of("hellO", 5, sum));
    s_expect_result(d, false, "checksum mismatch");
    assert_false(s_exists(f, "tmp", "J9-g00001.part"));
    assert_false(s_exists(f, "ready", "J9-g00001.data"));
    /* size mismatch */
    s_open(d, "J9-g00001", &credit);
    s_data(d, "J9-g00001", 0, "hello");
    s_close(d, "J9-g00001", 6, tf_checksum_of("hello", 5, sum));
    s_expect_result(d, false, "size mismatch");
    /* out of order */
    s_open(d, "J9-g00001", &credit);
    s_data(d, "J9-g00001", 0, "hello");
    s_data(d, "J9-g00001", 6, "world");
    s_expect_result(d, false, "out of order");
    /* data without a session, a bad id, malformed bytes */
    s_data(d, "J9-g00001", 0, "x");
    s_expect_result(d, false, "no open session");
    tf_msg_t msg = {.type = TF_MSG_STAGE_OPEN};
    msg.stage_open = (tf_msg_stage_open_t){.archive_id = "../../etc", .job_id = "J9"};
    s_send(d, &msg);
    s_expect_result(d, false, "not valid");
    assert_int_equal(zstr_send(d, "garbage"), 0);
    tf_msg_t reply;
    s_recv(d, &reply);
    assert_int_equal(reply.type, TF_MSG_ERROR);
    tf_msg_clear(&reply);
    /* still serving: a good archive in two pieces */
    s_open(d, "J9-g00002", &credit);
    s_data(d, "J9-g00002", 0, "hello ");
    s_data(d, "J9-g00002", 6, "tape");
    s_close(d, "J9-g00002", 10, tf_checksum_of("hello tape", 10, sum));
    s_expect_result(d, true, NULL);
    assert_true(s_exists(f, "ready", "J9-g00002.data"));
    assert_true(s_exists(f, "ready", "J9-g00002.meta"));
    zsock_destroy(&d);
}

static void
s_plant(fx_t *f, const char *sub, const char *name, const char *text)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s/%s", f->staging, sub, name);
    FILE *fp = fopen(p, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void
test_restart(void **state)
{
    fx_t *f = *state;
    s_start_stager(f);
    s_stop_stager(f);
    char sum[TF_CHECKSUM_STRLEN], meta[600];
    s_plant(f, "tmp", "J8-g00003.part", "half an archive");
    s_plant(f, "ready", "J8-g00001.data", "abc");
    snprintf(meta, sizeof meta,
             "archive\n    id = J8-g00001\n    job = J8\n    group = 1\n    pool = default\n    compression = zstd\n"
             "    size = 3\n    checksum = %s\n    files = 1\n    bytes = 3\n",
             tf_checksum_of("abc", 3, sum));
    s_plant(f, "ready", "J8-g00001.meta", meta);
    s_plant(f, "ready", "J8-g00002.meta", "archive\n    id = J8-g00002\n");  /* data never arrived */
    s_plant(f, "ready", "J8-g00004.data", "no meta");
    s_start_stager(f);
    const char *st = s_item_state(f, "J8-g00001-tape", 5000);
    assert_non_null(st);
    assert_string_equal(st, "queued");
    assert_false(s_exists(f, "tmp", "J8-g00003.part"));
    assert_false(s_exists(f, "ready", "J8-g00002.meta"));
    assert_false(s_exists(f, "ready", "J8-g00004.data"));
    assert_true(s_exists(f, "ready", "J8-g00001.data"));
    size_t size;
    char error[256];
    uint8_t *data = s_fetch_all(f, "J8-g00001", &size, error, sizeof error);
    assert_string_equal(error, "");
    assert_int_equal(size, 3);
    assert_memory_equal(data, "abc", 3);
    free(data);
    /* a second restart announces again: same item, nothing new */
    s_stop_stager(f);
    s_start_stager(f);
    tf_clock_sleep_ms(300);
    assert_string_equal(s_item_state(f, "J8-g00001-tape", 5000), "queued");
}

/* tapeflow job purge / cancel: stage_purge deletes (or lists) one job's ready archives and the
   partial files of its open sessions, refusing those sessions; other jobs are untouched. */
static void
s_open_for(zsock_t *d, const char *id, const char *job)
{
    tf_msg_t msg = {.type = TF_MSG_STAGE_OPEN};
    msg.stage_open = (tf_msg_stage_open_t){.archive_id = (char *) id, .job_id = (char *) job, .group_no = 2};
    s_send(d, &msg);
    tf_msg_t reply;
    s_recv(d, &reply);
    assert_int_equal(reply.type, TF_MSG_STAGE_CREDIT);
    tf_msg_clear(&reply);
    s_data(d, id, 0, "the first bytes of an archive");
}

static tf_msg_t
s_purge(fx_t *f, const char *job, bool dry_run)
{
    tf_msg_t msg = {.type = TF_MSG_STAGE_PURGE}, result;
    msg.stage_purge = (tf_msg_stage_purge_t){.job_id = (char *) job, .dry_run = dry_run};
    tf_err_t err = {0};
    if (tf_client_call(f->client, "stager", NULL, job, &msg, &result, 10000, &err) != TF_OK)
        fail_msg("stage_purge: %s", err.message);
    assert_int_equal(result.type, TF_MSG_STAGE_PURGE_RESULT);
    return result;
}

static bool
s_listed(const tf_msg_stage_purge_result_t *r, const char *path)
{
    for (size_t i = 0; i < r->files_count; i++)
        if (strcmp(r->files[i].path, path) == 0)
            return true;
    return false;
}

static void
test_purge(void **state)
{
    fx_t *f = *state;
    s_start_stager(f);
    char root[512];
    snprintf(root, sizeof root, "%s/tree", f->dir);
    pt_make_tree(root, 300000);
    group_paths_t *g = calloc(1, sizeof *g);
    tf_msg_file_group_t group = s_group(g, root, "J1-g00001", 1);
    tf_err_t err = {0};
    compressor_t *c = compressor_new(f->cfg, &err);
    file_rows_t *rows = NULL;
    archiver_stats_t stats;
    assert_int_equal(compressor_stage(c, &group, NULL, NULL, &rows, &stats, &err), TF_OK);
    file_rows_destroy(&rows);
    long data_size = s_file_size(f, "ready", "J1-g00001.data");
    long meta_size = s_file_size(f, "ready", "J1-g00001.meta");
    long rows_size = s_file_size(f, "ready", "J1-g00001.rows");  /* its file rows sidecar */
    assert_true(data_size > 0 && meta_size > 0 && rows_size > 0);
    /* Two archives still streaming in: one of the job (its data and the first part of its
       file rows), one of another job. */
    zsock_t *mine = s_dealer(f), *other = s_dealer(f);
    s_open_for(mine, "J1-g00002", "J1");
    s_rows(mine, "J1-g00002", 1, 2);
    s_open_for(other, "J9-g00001", "J9");
    int64_t deadline = tf_clock_mono_ms() + 5000;
    while ((s_file_size(f, "tmp", "J1-g00002.part") <= 0 || s_file_size(f, "tmp", "J9-g00001.part") <= 0
            || s_file_size(f, "tmp", "J1-g00002.rows") <= 0)
           && tf_clock_mono_ms() < deadline)
        tf_clock_sleep_ms(20);
    long part_size = s_file_size(f, "tmp", "J1-g00002.part");
    long part_rows_size = s_file_size(f, "tmp", "J1-g00002.rows");
    assert_true(part_size > 0 && part_rows_size > 0);

    /* A dry run lists and deletes nothing. The sidecars are listed and counted with their
       archives (issue 9: file rows travel with the archive; 5 files where there were 3). */
    tf_msg_t r = s_purge(f, "J1", true);
    assert_string_equal(r.stage_purge_result.job_id, "J1");
    assert_int_equal(r.stage_purge_result.files_count, 5);
    assert_true(s_listed(&r.stage_purge_result, "ready/J1-g00001.data"));
    assert_true(s_listed(&r.stage_purge_result, "ready/J1-g00001.meta"));
    assert_true(s_listed(&r.stage_purge_result, "ready/J1-g00001.rows"));
    assert_true(s_listed(&r.stage_purge_result, "tmp/J1-g00002.part"));
    assert_true(s_listed(&r.stage_purge_result, "tmp/J1-g00002.rows"));
    assert_int_equal(r.stage_purge_result.archives, 1);
    assert_int_equal(r.stage_purge_result.bytes,
                     (uint64_t) (data_size + meta_size + rows_size + part_size + part_rows_size));
    tf_msg_clear(&r);
    assert_true(s_exists(f, "ready", "J1-g00001.data"));
    assert_true(s_exists(f, "ready", "J1-g00001.rows"));

    r = s_purge(f, "J1", false);
    assert_int_equal(r.stage_purge_result.files_count, 5);
    tf_msg_clear(&r);
    assert_false(s_exists(f, "ready", "J1-g00001.data"));
    assert_false(s_exists(f, "ready", "J1-g00001.meta"));
    assert_false(s_exists(f, "ready", "J1-g00001.rows"));
    assert_false(s_exists(f, "tmp", "J1-g00002.part"));
    assert_false(s_exists(f, "tmp", "J1-g00002.rows"));
    s_expect_result(mine, false, "its job was purged");
    /* The other job's session goes on. */
    assert_true(s_exists(f, "tmp", "J9-g00001.part"));
    /* Nothing left: an empty answer. */
    r = s_purge(f, "J1", false);
    assert_int_equal(r.stage_purge_result.files_count, 0);
    assert_int_equal(r.stage_purge_result.bytes, 0);
    tf_msg_clear(&r);
    zsock_destroy(&mine);
    zsock_destroy(&other);
    compressor_destroy(&c);
    free(g);
}

/* --- holding disk space: reservations, archives that cannot fit, alerts (issue 8.7) ------ */

/* A compressor played by the test: streams size bytes of a fixed pattern within its credit,
   closes, and (restart) opens again from the start after a refusal that is not permanent. */
typedef struct {
    zsock_t *d;
    const char *id;
    const char *job;         /* NULL: J9 */
    const char *pool;        /* NULL: none */
    const char *replicas;    /* stage_open.replicas / replication (NULL: none) */
    const char *replication;
    uint64_t expected;       /* stage_open expected_size */
    uint64_t size;
    uint64_t sent;
    uint64_t credit;
    uint64_t max_credit_seen;  /* most credit it held at once */
    bool closed;
    bool done;
    bool ok;
    bool permanent;
    bool restart;            /* open again after a retryable refusal, as a redelivered item does */
    int restarts;
    char message[1024];
} fake_t;

static uint8_t s_pattern[2000000];

static void
s_fake_open(fake_t *c)
{
    tf_msg_t msg = {.type = TF_MSG_STAGE_OPEN};
    msg.stage_open = (tf_msg_stage_open_t){.archive_id = (char *) c->id, .job_id = (char *) (c->job ? c->job : "J9"), .group_no = 1,
                                           .compression = "none", .expected_size = c->expected,
                                           .pool = (char *) c->pool, .replicas = (char *) c->replicas,
                                           .replication = (char *) c->replication};
    s_send(c->d, &msg);
    c->sent = c->credit = 0;
    c->closed = c->done = c->ok = c->permanent = false;
}

/* The same for an archive of a pool (NULL: none). */
static void
s_fake_start_in(fx_t *f, fake_t *c, const char *id, const char *job, const char *pool, uint64_t size,
                uint64_t expected)
{
    memset(c, 0, sizeof *c);
    c->job = job;
    c->pool = pool;
    if (pool) {   /* an archive of the job tf_job_start gave f's replication */
        c->replicas = f->replicas;
        c->replication = f->replication;
    }
    for (size_t i = 0; i < sizeof s_pattern; i++)
        s_pattern[i] = (uint8_t) ('a' + i % 23);
    c->d = s_dealer(f);
    c->id = id;
    c->size = size;
    c->expected = expected;
    s_fake_open(c);
}

static void
s_fake_start_for(fx_t *f, fake_t *c, const char *id, const char *job, uint64_t size, uint64_t expected)
{
    s_fake_start_in(f, c, id, job, NULL, size, expected);
}

static void
s_fake_start(fx_t *f, fake_t *c, const char *id, uint64_t size, uint64_t expected)
{
    s_fake_start_for(f, c, id, NULL, size, expected);
}

/* Takes what the stager said and sends what the credit allows; true when it did something. */
static bool
s_fake_pump(fake_t *c)
{
    bool busy = false;
    while (!c->done && (zsock_events(c->d) & ZMQ_POLLIN)) {
        tf_msg_t msg;
        tf_err_t err = {0};
        if (tf_wire_recv(c->d, NULL, &msg, &err) != TF_OK)
            fail_msg("%s: recv: %s", c->id, err.message);
        busy = true;
        if (msg.type == TF_MSG_STAGE_CREDIT) {
            c->credit += msg.stage_credit.bytes;
            if (c->credit > c->max_credit_seen)
                c->max_credit_seen = c->credit;
        }
        else if (msg.type == TF_MSG_STAGE_RESULT) {
            c->done = true;
            c->ok = msg.stage_result.ok;
            c->permanent = msg.stage_result.permanent;
            snprintf(c->message, sizeof c->message, "%s", msg.stage_result.message ? msg.stage_result.message : "");
        }
        tf_msg_clear(&msg);
    }
    if (c->done && !c->ok && !c->permanent && c->restart && c->restarts < 5) {
        c->restarts++;
        s_fake_open(c);
        return true;
    }
    if (c->done || c->closed)
        return busy;
    if (c->sent < c->size && c->credit > 0) {
        uint64_t n = c->size - c->sent;
        if (n > c->credit)
            n = c->credit;
        if (n > 16384)
            n = 16384;
        tf_msg_t msg = {.type = TF_MSG_STAGE_DATA};
        msg.stage_data = (tf_msg_stage_data_t){.archive_id = (char *) c->id, .offset = c->sent,
                                               .data = {s_pattern + c->sent, (size_t) n}};
        s_send(c->d, &msg);
        c->sent += n;
        c->credit -= n;
        return true;
    }
    if (c->sent == c->size) {
        char sum[TF_CHECKSUM_STRLEN];
        s_close(c->d, c->id, c->size, tf_checksum_of(s_pattern, c->size, sum));
        c->closed = true;
        return true;
    }
    return busy;
}

/* Pumps c until it holds credit: its open is then known to be the older one. */
static void
s_fake_until_credit(fake_t *c)
{
    int64_t deadline = tf_clock_mono_ms() + 10000;
    while (c->credit == 0 && c->sent == 0 && tf_clock_mono_ms() < deadline)
        if (!s_fake_pump(c))
            tf_clock_sleep_ms(5);
    assert_true(c->credit > 0 || c->sent > 0);
}

static void
s_fake_end(fake_t *c)
{
    zsock_destroy(&c->d);
}

/* Runs the fakes until all are done or timeout_ms; releases an archive as soon as it is
   staged (the tape writer's part) when release is set. */
static void
s_fakes_run(fx_t *f, fake_t *fakes, size_t n, bool release, int timeout_ms)
{
    bool released[8] = {false};
    int64_t deadline = tf_clock_mono_ms() + timeout_ms;
    for (;;) {
        bool busy = false, all = true;
        for (size_t i = 0; i < n; i++) {
            busy |= s_fake_pump(&fakes[i]);
            bool finished = fakes[i].done && (fakes[i].ok || fakes[i].permanent || !fakes[i].restart);
            all &= finished;
            if (release && finished && fakes[i].ok && !released[i]) {
                char item[128];
                snprintf(item, sizeof item, "%s-release", fakes[i].id);
                s_release(f, fakes[i].id, item);
                released[i] = true;
            }
        }
        if (all || tf_clock_mono_ms() > deadline)
            return;
        if (!busy)
            tf_clock_sleep_ms(5);
    }
}

static void
test_two_archives_larger_than_the_disk_together_both_finish(void **state)
{
    fx_t *f = *state;
    /* Each archive fits alone; together they do not. Before reservations both got credit in
       turn, filled the disk half each and waited for each other forever. */
    s_write_config(f, 1000000, 5000);
    s_start_stager(f);
    fake_t c[2];
    s_fake_start(f, &c[0], "J9-g00001", 600000, 600000);
    s_fake_until_credit(&c[0]);
    s_fake_start(f, &c[1], "J9-g00002", 600000, 600000);
    s_fakes_run(f, c, 2, true, 30000);
    for (int i = 0; i < 2; i++)
        if (!c[i].done || !c[i].ok)
            fail_msg("%s: done %d ok %d after sending %llu of %llu bytes: %s", c[i].id, c[i].done, c[i].ok,
                     (unsigned long long) c[i].sent, (unsigned long long) c[i].size, c[i].message);
    assert_int_equal(c[0].restarts + c[1].restarts, 0);  /* nobody had to start over */
    assert_false(s_exists(f, "tmp", "J9-g00002.part"));
    s_fake_end(&c[0]);
    s_fake_end(&c[1]);
}

static void
test_sizes_unknown_the_oldest_finishes_first(void **state)
{
    fx_t *f = *state;
    /* Compressors that give no size estimate (expected 0) get credit greedily and can fill the
       disk between them; the oldest is then let finish: the youngest stuck one gives its space
       back and is staged again from the start. */
    s_write_config(f, 1000000, 5000);
    s_start_stager(f);
    fake_t c[2];
    s_fake_start(f, &c[0], "J9-g00001", 600000, 0);
    s_fake_until_credit(&c[0]);  /* A is the oldest */
    s_fake_start(f, &c[1], "J9-g00002", 600000, 0);
    c[1].restart = true;
    s_fakes_run(f, c, 2, true, 30000);
    for (int i = 0; i < 2; i++)
        if (!c[i].done || !c[i].ok)
            fail_msg("%s: done %d ok %d after sending %llu of %llu bytes: %s", c[i].id, c[i].done, c[i].ok,
                     (unsigned long long) c[i].sent, (unsigned long long) c[i].size, c[i].message);
    assert_int_equal(c[0].restarts, 0);
    s_fake_end(&c[0]);
    s_fake_end(&c[1]);
}

static void
test_archive_that_cannot_fit_fails_for_good(void **state)
{
    fx_t *f = *state;
    s_write_config(f, 1000000, 5000);
    s_start_stager(f);
    /* a compressor that says how big it will be */
    fake_t c;
    s_fake_start(f, &c, "J9-g00001", 1500000, 1600000);
    s_fakes_run(f, &c, 1, false, 20000);
    assert_true(c.done);
    assert_false(c.ok);
    assert_true(c.permanent);
    if (!strstr(c.message, "archive J9-g00001 of 1.5 MiB cannot fit the holding disk ")
        || !strstr(c.message, "of 976.6 KiB (stager/capacity); lower scanner/group_size"))
        fail_msg("message: %s", c.message);
    assert_true(c.sent <= 1000000);
    assert_false(s_exists(f, "tmp", "J9-g00001.part"));
    s_fake_end(&c);

    /* the real compressor: its item fails for good with the stager's message */
    char root[512], p[600];
    snprintf(root, sizeof root, "%s/big", f->dir);
    pt_mkdir(root);
    snprintf(p, sizeof p, "%s/random.bin", root);
    pt_write_file(p, 1400000, 7, 0);
    group_paths_t *g = calloc(1, sizeof *g);
    tf_msg_file_group_t group = s_group(g, root, "J1-g00001", 1);
    tf_err_t err = {0};
    compressor_t *comp = compressor_new(f->cfg, &err);
    assert_non_null(comp);
    file_rows_t *rows = NULL;
    archiver_stats_t stats;
    int rc = compressor_stage(comp, &group, NULL, NULL, &rows, &stats, &err);
    assert_int_equal(rc, TF_ERR_TOOBIG);
    assert_false(tf_actor_status_retryable(rc));
    if (!strstr(err.message, "archive J1-g00001 of ") || !strstr(err.message, "cannot fit the holding disk"))
        fail_msg("compressor: %s", err.message);
    assert_null(rows);
    assert_false(s_exists(f, "tmp", "J1-g00001.part"));
    assert_false(s_exists(f, "ready", "J1-g00001.data"));
    compressor_destroy(&comp);
    free(g);
}

static int
s_count_sink(void *arg, const void *data, size_t size, tf_err_t *err)
{
    (void) data;
    (void) err;
    *(uint64_t *) arg += size;
    return TF_OK;
}

static void
test_size_estimate_bounds_the_archive(void **state)
{
    fx_t *f = *state;
    /* The reservation is only worth something when it is an upper bound: random data that
       does not compress, small files, a long path, a sparse file, links, with each filter. */
    char root[512], p[900];
    snprintf(root, sizeof root, "%s/tree", f->dir);
    pt_make_tree(root, 1500000);
    snprintf(p, sizeof p, "%s/a-rather-long-folder-name-that-needs-a-pax-header-of-its-own-%0120d", root, 7);
    pt_mkdir(p);
    snprintf(p + strlen(p), sizeof p - strlen(p), "/and-a-long-file-name-%0100d.bin", 3);
    pt_write_file(p, 300000, 9, 0);
    group_paths_t *g = calloc(1, sizeof *g);
    tf_msg_file_group_t group = s_group(g, root, "J1-g00001", 1);
    const char *filters[] = {"none", "zstd", "gzip"};
    for (size_t i = 0; i < 3; i++) {
        uint64_t size = 0;
        archiver_opts_t opts = {.compression = filters[i], .level = 1, .threads = 1, .sink = s_count_sink,
                                .arg = &size};
        file_rows_t *rows = file_rows_new();
        archiver_stats_t stats;
        tf_err_t err = {0};
        assert_int_equal(archiver_run(&opts, &group, rows, &stats, &err), TF_OK);
        file_rows_destroy(&rows);
        uint64_t bound = archiver_size_bound(&group, filters[i]);
        if (size > bound)
            fail_msg("%s: archive of %llu bytes, estimate %llu", filters[i], (unsigned long long) size,
                     (unsigned long long) bound);
    }
    /* symbolic links with targets near PATH_MAX: no content, but long pax records (review R10) */
    snprintf(root, sizeof root, "%s/links", f->dir);
    pt_mkdir(root);
    char target[4001];
    memset(target, 'x', 4000);
    target[4000] = '\0';
    for (int i = 0; i < 40; i++) {
        snprintf(p, sizeof p, "%s/l%02d", root, i);
        target[0] = (char) ('a' + i % 26);
        assert_int_equal(symlink(target, p), 0);
    }
    tf_msg_file_group_t links = s_group(g, root, "J1-g00002", 2);
    uint64_t size = 0;
    archiver_opts_t opts = {.compression = "none", .level = 1, .threads = 1, .sink = s_count_sink, .arg = &size};
    file_rows_t *rows = file_rows_new();
    archiver_stats_t stats;
    tf_err_t err = {0};
    assert_int_equal(archiver_run(&opts, &links, rows, &stats, &err), TF_OK);
    file_rows_destroy(&rows);
    uint64_t bound = archiver_size_bound(&links, "none");
    if (size > bound)
        fail_msg("symbolic links: archive of %llu bytes, estimate %llu", (unsigned long long) size,
                 (unsigned long long) bound);
    free(g);
}

static bool
s_event_on(zsock_t *sub, const char *topic, tf_msg_t *ev, int timeout_ms)
{
    int64_t deadline = tf_clock_mono_ms() + timeout_ms;
    zpoller_t *poller = zpoller_new(sub, NULL);
    bool got = false;
    while (!got && tf_clock_mono_ms() < deadline) {
        if (!zpoller_wait(poller, 100))
            continue;
        if (tf_wire_recv_event(sub, ev, NULL) != TF_OK)
            continue;
        if (ev->type == TF_MSG_EVENT && strcmp(ev->event.topic, topic) == 0)
            got = true;
        else
            tf_msg_clear(ev);
    }
    zpoller_destroy(&poller);
    return got;
}

/* Takes the next catalog item (the test plays the catalog) and returns its cat_job message. */
static void
s_catalog_message(tf_actor_t *catalog, char *buf, size_t size)
{
    tf_msg_t work, payload;
    tf_err_t err = {0};
    if (tf_actor_next(catalog, &work, 15000, &err) != TF_OK)
        fail_msg("no catalog item: %s", err.message);
    assert_int_equal(tf_msg_decode(work.work.payload.data, work.work.payload.size, &payload, NULL), TF_OK);
    assert_int_equal(payload.type, TF_MSG_CAT_JOB);
    assert_string_equal(payload.cat_job.op, "note");   /* message only: never moves the stage (review F11) */
    assert_string_equal(payload.cat_job.job_id, "J9");
    snprintf(buf, size, "%s", payload.cat_job.message ? payload.cat_job.message : "");
    tf_actor_done(catalog, &work.work, NULL, 0);
    tf_msg_clear(&payload);
    tf_msg_clear(&work);
}

static void
test_waiting_for_space_raises_an_alert(void **state)
{
    fx_t *f = *state;
    /* session_timeout = 1: a session waiting longer for space is not taken for a silent one */
    s_write_config_with(f, 1000000, 5000, "    space_alert = 1\n    space_alert_repeat = 1\n    session_timeout = 1\n");
    char bus[400];
    snprintf(bus, sizeof bus, "@ipc://%s/run/bus-in.sock", f->dir);
    zsock_t *sub = zsock_new_sub(bus, "alert.");
    assert_non_null(sub);
    tf_err_t err = {0};
    tf_actor_t *catalog = tf_actor_new(f->cfg, "catalog", "catalog.test", &err);
    assert_non_null(catalog);
    s_start_stager(f);
    /* A is staged and waits for tape; B needs more than what is left */
    fake_t a, b;
    s_fake_start(f, &a, "J9-g00001", 600000, 600000);
    s_fakes_run(f, &a, 1, false, 20000);
    assert_true(a.ok);
    s_fake_start(f, &b, "J9-g00002", 600000, 600000);
    tf_msg_t ev;
    bool got = false;
    int64_t deadline = tf_clock_mono_ms() + 15000;
    while (!got && tf_clock_mono_ms() < deadline) {
        s_fake_pump(&b);
        got = s_event_on(sub, "alert.stager", &ev, 50);
    }
    if (!got)
        fail_msg("no alert.stager event; B sent %llu bytes", (unsigned long long) b.sent);
    assert_string_equal(ev.event.level, "warn");
    assert_string_equal(ev.event.job_id, "J9");
    assert_string_equal(ev.event.item_id, "J9-g00002");
    if (!strstr(ev.event.message, "job J9 has waited ") || !strstr(ev.event.message, "for holding-disk space")
        || !strstr(ev.event.message, "1 archive (585.9 KiB) waiting for tape")
        || !strstr(ev.event.message, "check that it runs and has a writable tape"))
        fail_msg("alert: %s", ev.event.message);
    tf_msg_clear(&ev);
    assert_false(b.done);
    /* the job's catalog message says it waits */
    char text[1024];
    s_catalog_message(catalog, text, sizeof text);
    if (!strstr(text, "waiting for holding-disk space since ") || !strstr(text, "(archive J9-g00002)"))
        fail_msg("catalog message: %s", text);
    /* repeated while it waits */
    got = false;
    deadline = tf_clock_mono_ms() + 15000;
    while (!got && tf_clock_mono_ms() < deadline) {
        s_fake_pump(&b);
        got = s_event_on(sub, "alert.stager", &ev, 50);
    }
    assert_true(got);
    tf_msg_clear(&ev);
    /* the tape writer frees A: B finishes and the job's message says staging goes on */
    s_release(f, "J9-g00001", "J9-g00001-release");
    s_fakes_run(f, &b, 1, false, 20000);
    if (!b.ok)
        fail_msg("B: %s", b.message);
    s_catalog_message(catalog, text, sizeof text);
    if (!strstr(text, "staging goes on after waiting "))
        fail_msg("catalog message: %s", text);
    s_fake_end(&a);
    s_fake_end(&b);
    tf_actor_destroy(&catalog);
    zsock_destroy(&sub);
}

/* Waits until ready/<name> contains text. */
static bool
s_file_has(fx_t *f, const char *name, const char *text, int timeout_ms)
{
    char p[600];
    snprintf(p, sizeof p, "%s/ready/%s", f->staging, name);
    int64_t deadline = tf_clock_mono_ms() + timeout_ms;
    do {
        char body[4096] = "";
        FILE *fp = fopen(p, "r");
        if (fp) {
            body[fread(body, 1, sizeof body - 1, fp)] = '\0';
            fclose(fp);
        }
        bool has = strstr(body, text) != NULL;
        if (has)
            return true;
        tf_clock_sleep_ms(50);
    } while (tf_clock_mono_ms() < deadline);
    return false;
}

/* --- replication (issue 12): the tape and every replication target release an archive ---- */

/* The pools section of a config whose pool default replicates to nas (and offsite). */
#define S_REPLICAS(targets, replication)                                                          \
    "pools\n    default\n        replicas = \"" targets "\"\n        replication = " replication "\n" \
    "replicas\n    nas\n        url = \"file:///tmp/tf-nas\"\n    offsite\n        url = \"file:///tmp/tf-off\"\n"

/* Stages a small archive of job J7 for pool default; the answer comes once the broker took
   its items. */
static void
s_stage_small(fx_t *f, const char *id, const char *text)
{
    zsock_t *d = s_dealer(f);
    tf_msg_t msg = {.type = TF_MSG_STAGE_OPEN};
    msg.stage_open = (tf_msg_stage_open_t){.archive_id = (char *) id, .job_id = "J7", .group_no = 1,
                                           .pool = "default", .compression = "zstd",
                                           .replicas = (char *) f->replicas,
                                           .replication = (char *) f->replication};
    s_send(d, &msg);
    tf_msg_t reply;
    s_recv(d, &reply);
    assert_int_equal(reply.type, TF_MSG_STAGE_CREDIT);
    tf_msg_clear(&reply);
    char sum[TF_CHECKSUM_STRLEN];
    s_data(d, id, 0, text);
    s_close(d, id, strlen(text), tf_checksum_of(text, strlen(text), sum));
    s_expect_result(d, true, "staged");
    zsock_destroy(&d);
}

/* archive/<key> of ready/<id>.meta (static buffer; "" when unset, "(none)" without a .meta). */
static const char *
s_meta(fx_t *f, const char *id, const char *key)
{
    static char value[256];
    char p[600], path[64];
    snprintf(p, sizeof p, "%s/ready/%s.meta", f->staging, id);
    snprintf(path, sizeof path, "archive/%s", key);
    zconfig_t *root = zconfig_load(p);
    snprintf(value, sizeof value, "%s", root ? zconfig_get(root, path, "") : "(none)");
    zconfig_destroy(&root);
    return value;
}

/* archive_release by a replication target (or the tape: replica NULL); gave_up for a target
   that failed for good. */
static void
s_release_by(fx_t *f, const char *archive_id, const char *replica, bool gave_up)
{
    tf_msg_t msg = {.type = TF_MSG_ARCHIVE_RELEASE};
    msg.archive_release = (tf_msg_archive_release_t){.archive_id = (char *) archive_id, .replica = (char *) replica,
                                                     .gave_up = gave_up};
    char item_id[200];
    snprintf(item_id, sizeof item_id, "%s-release%s%s%s", archive_id, replica ? "-" : "", replica ? replica : "",
             gave_up ? "-gave-up" : "");
    tf_msg_t reply, info;
    tf_err_t err = {0};
    assert_int_equal(tf_client_submit_msg(f->client, "stager", item_id, "J7", &msg, &reply, 5000, &err), TF_OK);
    tf_msg_clear(&reply);
    if (tf_client_wait(f->client, item_id, 10000, &info, &err) != TF_OK)
        fail_msg("release %s: %s", item_id, err.message);
    assert_string_equal(info.item_info.state, "done");
    tf_msg_clear(&info);
}

/* The broker's state of an item, or NULL when it does not know it (asked once). */
static const char *
s_item_known(fx_t *f, const char *id)
{
    static char state[32];
    tf_msg_t info;
    if (tf_client_item(f->client, id, &info, 5000, NULL) != TF_OK)
        return NULL;
    snprintf(state, sizeof state, "%s", info.item_info.state);
    tf_msg_clear(&info);
    return state;
}

/* A pool with a replication target: the staged archive is queued for tape and for the
   replicator (replica_copy with the archive's facts), the tape's release keeps it, the
   target's release deletes it - and the other way round. */
static void
test_replica_release_needs_tape_and_target(void **state)
{
    fx_t *f = *state;
    /* the configuration names offsite: the stager takes the job's targets from stage_open
       (tf_job_start decided them), never from its configuration */
    s_write_config_with(f, 1L << 30, 5000, S_REPLICAS("offsite", "optional"));
    f->replicas = "nas";
    f->replication = "required";
    tf_err_t err = {0};
    tf_actor_t *replicator = tf_actor_new(f->cfg, "replicate", "replicator.test", &err);
    assert_non_null(replicator);
    s_start_stager(f);
    s_stage_small(f, "J7-g00001", "first archive");
    assert_string_equal(s_meta(f, "J7-g00001", "replicas"), "nas");
    assert_string_equal(s_meta(f, "J7-g00001", "replica_required"), "1");
    assert_string_equal(s_meta(f, "J7-g00001", "confirmed"), "");
    assert_string_equal(s_item_state(f, "J7-g00001-tape", 5000), "queued");
    /* the replicator's item carries what it needs to fetch and check the archive */
    tf_msg_t work, payload;
    if (tf_actor_next(replicator, &work, 15000, &err) != TF_OK)
        fail_msg("no replicate item: %s", err.message);
    assert_string_equal(work.work.item_id, "J7-g00001-replica-nas");
    assert_string_equal(work.work.job_id, "J7");
    assert_int_equal(tf_msg_decode(work.work.payload.data, work.work.payload.size, &payload, NULL), TF_OK);
    assert_int_equal(payload.type, TF_MSG_REPLICA_COPY);
    char sum[TF_CHECKSUM_STRLEN];
    assert_string_equal(payload.replica_copy.archive_id, "J7-g00001");
    assert_string_equal(payload.replica_copy.job_id, "J7");
    assert_string_equal(payload.replica_copy.target, "nas");
    assert_true(payload.replica_copy.required);
    assert_string_equal(payload.replica_copy.pool, "default");
    assert_int_equal(payload.replica_copy.size, strlen("first archive"));
    assert_string_equal(payload.replica_copy.checksum, tf_checksum_of("first archive", 13, sum));
    assert_string_equal(payload.replica_copy.stager, f->stager_ep);
    tf_msg_clear(&payload);
    tf_actor_done(replicator, &work.work, NULL, 0);
    tf_msg_clear(&work);
    tf_actor_destroy(&replicator);  /* the next items stay queued */

    /* tape first: kept for the replica, the confirmation in its .meta */
    s_release_by(f, "J7-g00001", NULL, false);
    assert_true(s_exists(f, "ready", "J7-g00001.data"));
    assert_string_equal(s_meta(f, "J7-g00001", "confirmed"), "@tape");
    size_t size;
    char error[256];
    uint8_t *data = s_fetch_all(f, "J7-g00001", &size, error, sizeof error);  /* the replicator may read it */
    assert_string_equal(error, "");
    free(data);
    s_release_by(f, "J7-g00001", "nas", false);
    assert_false(s_exists(f, "ready", "J7-g00001.data"));
    assert_false(s_exists(f, "ready", "J7-g00001.meta"));
    /* a repeated release of a deleted archive is done */
    s_release_by(f, "J7-g00001", "nas", false);

    /* the replica first, then the tape */
    s_stage_small(f, "J7-g00002", "second archive");
    assert_string_equal(s_item_state(f, "J7-g00002-replica-nas", 5000), "queued");
    s_release_by(f, "J7-g00002", "nas", false);
    assert_string_equal(s_meta(f, "J7-g00002", "confirmed"), "nas");
    s_release_by(f, "J7-g00002", NULL, false);
    assert_false(s_exists(f, "ready", "J7-g00002.data"));
}

/* Confirmations survive a restart, which announces only what is still missing; a .meta of
   before replication (no replica keys) is released by the tape alone. */
static void
test_replica_restart_announces_what_is_missing(void **state)
{
    fx_t *f = *state;
    s_write_config_with(f, 1L << 30, 5000, S_REPLICAS("nas,offsite", "required"));
    f->replicas = "nas,offsite";
    f->replication = "required";
    s_start_stager(f);
    s_stage_small(f, "J7-g00001", "an archive");
    assert_string_equal(s_meta(f, "J7-g00001", "replicas"), "nas,offsite");
    s_release_by(f, "J7-g00001", "offsite", false);
    s_stop_stager(f);
    s_start_stager(f);
    assert_string_equal(s_meta(f, "J7-g00001", "confirmed"), "offsite");
    assert_true(s_exists(f, "ready", "J7-g00001.data"));
    s_release_by(f, "J7-g00001", NULL, false);
    assert_true(s_exists(f, "ready", "J7-g00001.data"));  /* nas has not confirmed */
    s_release_by(f, "J7-g00001", "nas", false);
    assert_false(s_exists(f, "ready", "J7-g00001.data"));

    /* planted: J6-g00001 confirmed by tape and nas, J6-g00002 from before replication */
    s_stop_stager(f);
    char sum[TF_CHECKSUM_STRLEN], meta[800];
    s_plant(f, "ready", "J6-g00001.data", "abc");
    snprintf(meta, sizeof meta,
             "archive\n    id = J6-g00001\n    job = J6\n    group = 1\n    pool = default\n    compression = zstd\n"
             "    size = 3\n    checksum = %s\n    files = 1\n    bytes = 3\n    replicas = \"nas,offsite\"\n"
             "    replica_required = 1\n    confirmed = \"@tape,nas\"\n",
             tf_checksum_of("abc", 3, sum));
    s_plant(f, "ready", "J6-g00001.meta", meta);
    s_plant(f, "ready", "J6-g00002.data", "abc");
    snprintf(meta, sizeof meta,
             "archive\n    id = J6-g00002\n    job = J6\n    group = 2\n    pool = default\n    compression = zstd\n"
             "    size = 3\n    checksum = %s\n    files = 1\n    bytes = 3\n",
             tf_checksum_of("abc", 3, sum));
    s_plant(f, "ready", "J6-g00002.meta", meta);
    /* J6-g00003 lists replicas without replica_required: required, a give-up does not free it */
    s_plant(f, "ready", "J6-g00003.data", "abc");
    snprintf(meta, sizeof meta,
             "archive\n    id = J6-g00003\n    job = J6\n    group = 3\n    pool = default\n    compression = zstd\n"
             "    size = 3\n    checksum = %s\n    files = 1\n    bytes = 3\n    replicas = \"nas\"\n"
             "    confirmed = \"@tape\"\n",
             tf_checksum_of("abc", 3, sum));
    s_plant(f, "ready", "J6-g00003.meta", meta);
    s_start_stager(f);
    /* announced in id order by one queue: once J6-g00002's tape item is there, J6-g00001's
       items were all submitted */
    assert_string_equal(s_item_state(f, "J6-g00001-replica-offsite", 5000), "queued");
    assert_string_equal(s_item_state(f, "J6-g00002-tape", 5000), "queued");
    assert_null(s_item_known(f, "J6-g00001-tape"));
    assert_null(s_item_known(f, "J6-g00001-replica-nas"));
    assert_null(s_item_known(f, "J6-g00002-replica-nas"));   /* no replica keys: no replicas */
    s_release_by(f, "J6-g00001", "offsite", false);
    assert_false(s_exists(f, "ready", "J6-g00001.data"));
    s_release_by(f, "J6-g00002", NULL, false);
    assert_false(s_exists(f, "ready", "J6-g00002.data"));
    s_release_by(f, "J6-g00003", "nas", true);
    assert_true(s_exists(f, "ready", "J6-g00003.data"));
    s_release_by(f, "J6-g00003", "nas", false);
    assert_false(s_exists(f, "ready", "J6-g00003.data"));
}

/* An optional target that gave up no longer holds the archive; a required one may not give
   up; a target the .meta does not list is ignored; a purge deletes it all the same. */
static void
test_replica_gave_up(void **state)
{
    fx_t *f = *state;
    s_write_config_with(f, 1L << 30, 5000, S_REPLICAS("nas", "optional"));
    f->replicas = "nas";
    f->replication = "optional";
    s_start_stager(f);
    s_stage_small(f, "J7-g00001", "optional replica");
    assert_string_equal(s_meta(f, "J7-g00001", "replica_required"), "0");
    s_release_by(f, "J7-g00001", "nas", true);
    assert_true(s_exists(f, "ready", "J7-g00001.data"));  /* the tape has not confirmed */
    s_release_by(f, "J7-g00001", NULL, false);
    assert_false(s_exists(f, "ready", "J7-g00001.data"));

    s_stop_stager(f);
    s_write_config_with(f, 1L << 30, 5000, S_REPLICAS("nas", "required"));
    f->replication = "required";
    s_start_stager(f);
    s_stage_small(f, "J7-g00002", "required replica");
    s_release_by(f, "J7-g00002", "nas", true);              /* refused: not confirmed */
    s_release_by(f, "J7-g00002", "elsewhere", false);       /* not one of its targets */
    s_release_by(f, "J7-g00002", NULL, false);
    assert_true(s_exists(f, "ready", "J7-g00002.data"));
    assert_string_equal(s_meta(f, "J7-g00002", "confirmed"), "@tape");  /* neither nas nor elsewhere */
    s_release_by(f, "J7-g00002", "nas", false);
    assert_false(s_exists(f, "ready", "J7-g00002.data"));
    /* a purge deletes an archive whatever still waits for it */
    s_stage_small(f, "J7-g00003", "purged while it waits for nas");
    s_release_by(f, "J7-g00003", NULL, false);
    assert_true(s_exists(f, "ready", "J7-g00003.data"));
    tf_msg_t r = s_purge(f, "J7", false);
    assert_int_equal(r.stage_purge_result.archives, 1);
    tf_msg_clear(&r);
    assert_false(s_exists(f, "ready", "J7-g00003.data"));
    assert_false(s_exists(f, "ready", "J7-g00003.meta"));
}

/* A job's record carries its pool's replication targets and whether they are required (the
   catalog waits for them); a pool without targets carries none. The test plays the catalog. */
static void
s_created(fx_t *f, tf_actor_t *catalog, const char *job_id, tf_msg_t *payload)
{
    tf_msg_path_row_t paths[] = {{.path = f->dir}};
    tf_job_spec_t spec = {.job_id = job_id, .sources = paths, .sources_count = 1, .pool = "default"};
    tf_err_t err = {0};
    if (tf_job_record_failure(f->cfg, f->client, &spec, "test", &err) != TF_OK)
        fail_msg("record: %s", err.message);
    tf_msg_t work;
    if (tf_actor_next(catalog, &work, 15000, &err) != TF_OK)
        fail_msg("no catalog item: %s", err.message);
    assert_int_equal(tf_msg_decode(work.work.payload.data, work.work.payload.size, payload, NULL), TF_OK);
    assert_int_equal(payload->type, TF_MSG_CAT_JOB);
    assert_string_equal(payload->cat_job.op, "create");
    assert_string_equal(payload->cat_job.job_id, job_id);
    tf_actor_done(catalog, &work.work, NULL, 0);
    tf_msg_clear(&work);
    if (tf_actor_next(catalog, &work, 15000, &err) != TF_OK)  /* its "failed" */
        fail_msg("no catalog item: %s", err.message);
    tf_actor_done(catalog, &work.work, NULL, 0);
    tf_msg_clear(&work);
}

static void
test_job_create_carries_replicas(void **state)
{
    fx_t *f = *state;
    tf_err_t err = {0};
    tf_actor_t *catalog = tf_actor_new(f->cfg, "catalog", "catalog.test", &err);
    assert_non_null(catalog);
    tf_msg_t create;
    s_created(f, catalog, "J5", &create);
    assert_null(create.cat_job.replicas);
    assert_null(create.cat_job.replication);
    tf_msg_clear(&create);
    s_write_config_with(f, 1L << 30, 5000, S_REPLICAS("nas offsite", "optional"));
    s_created(f, catalog, "J6", &create);
    assert_string_equal(create.cat_job.replicas, "nas,offsite");
    assert_string_equal(create.cat_job.replication, "optional");
    tf_msg_clear(&create);
    tf_actor_destroy(&catalog);
}

/* Review F4/F5: the archive of a job cancelled with --keep-staged is parked: it does not keep
   the youngest session from giving way (rule 4), the alert names it with purge/retry advice,
   and a stager restart does not queue it for tape again once the broker forgot its item. */
static void
test_parked_archives_of_a_cancelled_job(void **state)
{
    fx_t *f = *state;
    s_write_config_with(f, 1000000, 5000, "    space_alert = 1\n    space_alert_repeat = 1\n    session_timeout = 1\n");
    char bus[400];
    snprintf(bus, sizeof bus, "@ipc://%s/run/bus-in.sock", f->dir);
    zsock_t *sub = zsock_new_sub(bus, "alert.");
    assert_non_null(sub);
    s_start_stager(f);
    fake_t a;
    s_fake_start_for(f, &a, "J8-g00001", "J8", 500000, 500000);
    s_fakes_run(f, &a, 1, false, 20000);
    assert_true(a.ok);
    assert_string_equal(s_item_state(f, "J8-g00001-tape", 5000), "queued");
    s_fake_end(&a);
    /* tapeflow job cancel J8 --keep-staged: the broker cancels, the stager lists (dry run) */
    tf_msg_job_op_t op = {.job_id = "J8", .op = "cancel", .message = "cancelled by test", .spare = "catalog,stager"};
    tf_msg_t reply;
    tf_err_t err = {0};
    if (tf_client_job_op(f->client, &op, &reply, 5000, &err) != TF_OK)
        fail_msg("job_op: %s", err.message);
    tf_msg_clear(&reply);
    assert_string_equal(s_item_state(f, "J8-g00001-tape", 5000), "cancelled");
    tf_msg_t r = s_purge(f, "J8", true);
    assert_int_equal(r.stage_purge_result.archives, 1);
    tf_msg_clear(&r);
    assert_true(s_file_has(f, "J8-g00001.meta", "parked = \"cancelled\"", 5000));

    /* two sizeless archives fill the rest between them: the youngest gives way */
    fake_t c[2];
    s_fake_start(f, &c[0], "J9-g00001", 300000, 0);
    s_fake_until_credit(&c[0]);
    s_fake_start(f, &c[1], "J9-g00002", 300000, 0);
    c[1].restart = true;
    s_fakes_run(f, c, 2, true, 20000);
    for (int i = 0; i < 2; i++)
        if (!c[i].done || !c[i].ok)
            fail_msg("%s: done %d ok %d after sending %llu of %llu bytes: %s", c[i].id, c[i].done, c[i].ok,
                     (unsigned long long) c[i].sent, (unsigned long long) c[i].size, c[i].message);
    assert_int_equal(c[0].restarts, 0);
    s_fake_end(&c[0]);
    s_fake_end(&c[1]);

    /* one that waits: the alert names the parked archive and what frees it */
    fake_t d;
    s_fake_start(f, &d, "J9-g00003", 600000, 600000);
    tf_msg_t ev;
    bool got = false;
    int64_t deadline = tf_clock_mono_ms() + 15000;
    while (!got && tf_clock_mono_ms() < deadline) {
        s_fake_pump(&d);
        got = s_event_on(sub, "alert.stager", &ev, 50);
    }
    assert_true(got);
    if (!strstr(ev.event.message, "1 of them (488.3 KiB) parked: their jobs were cancelled or failed")
        || !strstr(ev.event.message, "(archive J8-g00001 of job J8 is cancelled); 'tapeflow job purge J8' deletes "
                                     "them, 'tapeflow job retry J8' writes them to tape")
        || strstr(ev.event.message, "check that it runs"))
        fail_msg("alert: %s", ev.event.message);
    tf_msg_clear(&ev);
    s_fake_end(&d);

    /* the broker forgets the cancelled item (broker/keep_done); a restart must not queue it */
    s_stop_stager(f);
    tf_testproc_destroy(&f->broker);
    char path[400];
    const char *ext[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/broker.db%s", f->dir, ext[i]);
        unlink(path);
    }
    char log[300];
    snprintf(log, sizeof log, "%s/broker2.log", f->dir);
    char *argv[] = {"tapeflow-broker", "--config", f->config, NULL};
    f->broker = tf_testproc_start("tapeflow-broker", argv, NULL, log);
    assert_non_null(f->broker);
    assert_null(s_item_state(f, "J8-g00001-tape", 100));
    s_start_stager(f);
    /* a fresh archive announced after the start shows the announcements went through */
    fake_t e;
    s_fake_start(f, &e, "J9-g00004", 1000, 1000);
    s_fakes_run(f, &e, 1, false, 20000);
    assert_true(e.ok);
    assert_non_null(s_item_state(f, "J9-g00004-tape", 5000));
    assert_null(s_item_state(f, "J8-g00001-tape", 500));
    assert_true(s_exists(f, "ready", "J8-g00001.data"));
    s_fake_end(&e);
    /* tapeflow job retry J8 queued its item again: the tape writer's fetch gets all of it and
       the archive is live again (announced) */
    size_t size;
    char error[256];
    uint8_t *data = s_fetch_all(f, "J8-g00001", &size, error, sizeof error);
    assert_string_equal(error, "");
    assert_int_equal(size, 500000);
    free(data);
    assert_non_null(s_item_state(f, "J8-g00001-tape", 5000));
    assert_false(s_file_has(f, "J8-g00001.meta", "parked", 100));
    zsock_destroy(&sub);
}

/* An archive on tape that waits only for its replica is not space the tape writer frees: the
   youngest stuck session gives way as with nothing ready (rule 4), and the space alert says
   what the space waits for. */
static void
test_archive_waiting_for_a_replica_is_not_freed_by_tape(void **state)
{
    fx_t *f = *state;
    s_write_config_with(f, 1000000, 5000,
                        "    space_alert = 1\n    space_alert_repeat = 1\n    session_timeout = 1\n"
                        S_REPLICAS("nas", "required"));
    f->replicas = "nas";
    f->replication = "required";
    char bus[400];
    snprintf(bus, sizeof bus, "@ipc://%s/run/bus-in.sock", f->dir);
    zsock_t *sub = zsock_new_sub(bus, "alert.");
    assert_non_null(sub);
    s_start_stager(f);
    fake_t a;
    s_fake_start_in(f, &a, "J8-g00001", "J8", "default", 500000, 500000);
    s_fakes_run(f, &a, 1, false, 20000);
    assert_true(a.ok);
    s_fake_end(&a);
    assert_string_equal(s_meta(f, "J8-g00001", "replicas"), "nas");
    s_release_by(f, "J8-g00001", NULL, false);  /* on tape: it waits for nas alone */
    assert_true(s_exists(f, "ready", "J8-g00001.data"));

    /* two sizeless archives fill the rest between them: the youngest gives way */
    fake_t c[2];
    s_fake_start(f, &c[0], "J9-g00001", 300000, 0);
    s_fake_until_credit(&c[0]);
    s_fake_start(f, &c[1], "J9-g00002", 300000, 0);
    c[1].restart = true;
    s_fakes_run(f, c, 2, true, 20000);
    for (int i = 0; i < 2; i++)
        if (!c[i].done || !c[i].ok)
            fail_msg("%s: done %d ok %d after sending %llu of %llu bytes: %s", c[i].id, c[i].done, c[i].ok,
                     (unsigned long long) c[i].sent, (unsigned long long) c[i].size, c[i].message);
    s_fake_end(&c[0]);
    s_fake_end(&c[1]);

    /* one that waits: the alert names the replica and the job, not the tape writer */
    fake_t d;
    s_fake_start(f, &d, "J9-g00003", 600000, 600000);
    tf_msg_t ev;
    bool got = false;
    int64_t deadline = tf_clock_mono_ms() + 15000;
    while (!got && tf_clock_mono_ms() < deadline) {
        s_fake_pump(&d);
        got = s_event_on(sub, "alert.stager", &ev, 50);
    }
    assert_true(got);
    if (!strstr(ev.event.message, "1 archive (488.3 KiB) on tape waits for replica nas: see tapeflow job J8")
        || strstr(ev.event.message, "check that it runs"))
        fail_msg("alert: %s", ev.event.message);
    tf_msg_clear(&ev);
    /* the replica's release frees it: the waiting archive finishes */
    s_release_by(f, "J8-g00001", "nas", false);
    assert_false(s_exists(f, "ready", "J8-g00001.data"));
    s_fakes_run(f, &d, 1, false, 20000);
    if (!d.ok)
        fail_msg("d: %s", d.message);
    s_fake_end(&d);
    zsock_destroy(&sub);
}

/* Waits until ready/<name> is gone; true when it is. */
static bool
s_gone(fx_t *f, const char *name, int timeout_ms)
{
    int64_t deadline = tf_clock_mono_ms() + timeout_ms;
    while (s_exists(f, "ready", name) && tf_clock_mono_ms() < deadline)
        tf_clock_sleep_ms(50);
    return !s_exists(f, "ready", name);
}

/* Takes the next item of actor and says it is done (or failed for good with why). */
static void
s_take(tf_actor_t *actor, const char *item_id, const char *why)
{
    tf_msg_t work;
    tf_err_t err = {0};
    if (tf_actor_next(actor, &work, 15000, &err) != TF_OK)
        fail_msg("no item %s: %s", item_id, err.message);
    assert_string_equal(work.work.item_id, item_id);
    if (why)
        tf_actor_failed(actor, &work.work, false, why);
    else
        tf_actor_done(actor, &work.work, NULL, 0);
    tf_msg_clear(&work);
}

/* The job's replication comes with stage_open (tf_job_start decided it; the configuration
   here says otherwise): an older compressor's stage_open without it stages an archive the
   tape alone releases, a list naming "tape" is refused, and a release by a replica named
   "tape" never passes for the tape's (its confirmation is "@tape" in the .meta). */
static void
test_replication_comes_with_stage_open(void **state)
{
    fx_t *f = *state;
    s_write_config_with(f, 1L << 30, 5000, S_REPLICAS("nas", "required"));
    s_start_stager(f);
    s_stage_small(f, "J7-g00001", "from an older compressor");
    assert_string_equal(s_meta(f, "J7-g00001", "replicas"), "");
    s_release_by(f, "J7-g00001", NULL, false);
    assert_false(s_exists(f, "ready", "J7-g00001.data"));

    zsock_t *d = s_dealer(f);
    tf_msg_t msg = {.type = TF_MSG_STAGE_OPEN};
    msg.stage_open = (tf_msg_stage_open_t){.archive_id = "J7-g00002", .job_id = "J7", .group_no = 2,
                                           .pool = "default", .replicas = "nas,tape", .replication = "required"};
    s_send(d, &msg);
    s_expect_result(d, false, "not a comma list of target names");
    zsock_destroy(&d);

    f->replicas = "nas";
    f->replication = "optional";
    s_stage_small(f, "J7-g00003", "replicated to nas");
    assert_string_equal(s_meta(f, "J7-g00003", "replicas"), "nas");
    assert_string_equal(s_meta(f, "J7-g00003", "replica_required"), "0");
    s_release_by(f, "J7-g00003", "tape", false);       /* not its target, and not the tape */
    assert_true(s_exists(f, "ready", "J7-g00003.data"));
    assert_string_equal(s_meta(f, "J7-g00003", "confirmed"), "");
    s_release_by(f, "J7-g00003", NULL, false);
    s_release_by(f, "J7-g00003", "tape", false);
    assert_true(s_exists(f, "ready", "J7-g00003.data"));  /* still waits for nas */
    assert_string_equal(s_meta(f, "J7-g00003", "confirmed"), "@tape");
    s_release_by(f, "J7-g00003", "nas", false);
    assert_false(s_exists(f, "ready", "J7-g00003.data"));
}

/* An archive staged again after its full release (a redelivered file group): its tape item is
   done, and so are its replica items - the extra copy is deleted. A replica item that failed
   parks the archive (job retry / job purge), as a failed tape item does. */
static void
test_restaged_archive_asks_about_its_replica_items(void **state)
{
    fx_t *f = *state;
    s_write_config_with(f, 1L << 30, 5000, "");
    f->replicas = "nas";
    f->replication = "required";
    tf_err_t err = {0};
    tf_actor_t *tape = tf_actor_new(f->cfg, "tape", "tape.test", &err);
    assert_non_null(tape);
    tf_actor_t *replicator = tf_actor_new(f->cfg, "replicate", "replicator.test", &err);
    assert_non_null(replicator);
    s_start_stager(f);
    s_stage_small(f, "J7-g00001", "written and copied");
    s_take(replicator, "J7-g00001-replica-nas", NULL);
    s_take(tape, "J7-g00001-tape", NULL);
    s_release_by(f, "J7-g00001", NULL, false);
    s_release_by(f, "J7-g00001", "nas", false);
    assert_false(s_exists(f, "ready", "J7-g00001.data"));
    /* staged again: tape done, then the probe of its replica item: done */
    s_stage_small(f, "J7-g00001", "written and copied");
    if (!s_gone(f, "J7-g00001.data", 10000))
        fail_msg("the extra copy was kept: confirmed '%s'", s_meta(f, "J7-g00001", "confirmed"));

    /* its replica item failed for good: parked once the stager learns it (at start) */
    s_stage_small(f, "J7-g00002", "written, copy failed");
    s_take(replicator, "J7-g00002-replica-nas", "share backup does not exist on nas");
    s_take(tape, "J7-g00002-tape", NULL);
    s_release_by(f, "J7-g00002", NULL, false);
    assert_true(s_exists(f, "ready", "J7-g00002.data"));
    s_stop_stager(f);
    s_start_stager(f);
    if (!s_file_has(f, "J7-g00002.meta", "failed", 10000))
        fail_msg("not parked: parked '%s'", s_meta(f, "J7-g00002", "parked"));
    assert_string_equal(s_meta(f, "J7-g00002", "parked"), "failed");
    assert_true(s_exists(f, "ready", "J7-g00002.data"));
    tf_actor_destroy(&replicator);
    tf_actor_destroy(&tape);
}

/* Optional replication never blocks the holding disk: an archive on tape that waits only for
   an optional target is given up when space is short - its catalog record says so (failed,
   final) and it is deleted, so the waiting archive finishes. */
static void
test_optional_replica_gives_way_when_the_disk_is_full(void **state)
{
    fx_t *f = *state;
    s_write_config_with(f, 1000000, 5000, "    space_alert = 1\n    space_alert_repeat = 1\n    session_timeout = 1\n");
    f->replicas = "nas";
    f->replication = "optional";
    tf_err_t err = {0};
    tf_actor_t *catalog = tf_actor_new(f->cfg, "catalog", "catalog.test", &err);
    assert_non_null(catalog);
    s_start_stager(f);
    fake_t a;
    s_fake_start_in(f, &a, "J8-g00001", "J8", "default", 500000, 500000);
    s_fakes_run(f, &a, 1, false, 20000);
    assert_true(a.ok);
    s_fake_end(&a);
    assert_string_equal(s_meta(f, "J8-g00001", "replica_required"), "0");
    s_release_by(f, "J8-g00001", NULL, false);  /* on tape: it waits for optional nas alone */
    assert_true(s_exists(f, "ready", "J8-g00001.data"));
    fake_t d;
    s_fake_start(f, &d, "J9-g00001", 600000, 600000);
    s_fakes_run(f, &d, 1, false, 20000);
    if (!d.ok)
        fail_msg("d: %s", d.message);
    s_fake_end(&d);
    assert_false(s_exists(f, "ready", "J8-g00001.data"));
    /* the catalog hears that nas was skipped for good (the job ends with a warning) */
    tf_msg_t work, payload;
    bool seen = false;
    for (int i = 0; i < 10 && !seen; i++) {
        if (tf_actor_next(catalog, &work, 15000, &err) != TF_OK)
            fail_msg("no catalog item: %s", err.message);
        assert_int_equal(tf_msg_decode(work.work.payload.data, work.work.payload.size, &payload, NULL), TF_OK);
        if (payload.type == TF_MSG_CAT_REPLICA) {
            seen = true;
            assert_string_equal(work.work.item_id, "J8-g00001-replica-nas-skip");
            assert_string_equal(payload.cat_replica.op, "failed");
            assert_string_equal(payload.cat_replica.job_id, "J8");
            assert_string_equal(payload.cat_replica.target, "nas");
            assert_true(payload.cat_replica.final);
            assert_string_equal(payload.cat_replica.message,
                                "holding disk full: replica to nas skipped for archive J8-g00001");
        }
        tf_msg_clear(&payload);
        tf_actor_done(catalog, &work.work, NULL, 0);
        tf_msg_clear(&work);
    }
    assert_true(seen);
    tf_actor_destroy(&catalog);
}

/* One fetch of length bytes at offset; returns the bytes got, error gets the stager's error. */
static size_t
s_fetch_part(fx_t *f, const char *archive_id, uint64_t offset, uint64_t length, char *error, size_t error_size)
{
    zsock_t *d = s_dealer(f);
    tf_msg_t msg = {.type = TF_MSG_FETCH};
    msg.fetch = (tf_msg_fetch_t){.archive_id = (char *) archive_id, .offset = offset, .length = length};
    s_send(d, &msg);
    tf_msg_t reply;
    s_recv(d, &reply);
    assert_int_equal(reply.type, TF_MSG_FETCH_DATA);
    snprintf(error, error_size, "%s", reply.fetch_data.error ? reply.fetch_data.error : "");
    size_t got = reply.fetch_data.data.size;
    tf_msg_clear(&reply);
    zsock_destroy(&d);
    return got;
}

/* Review F8: a purge (job cancel without --keep-staged, job purge) does not delete an archive
   a tape writer is reading: it is reported in use and deleted once its reads stopped. */
static void
test_purge_defers_an_archive_in_use(void **state)
{
    fx_t *f = *state;
    s_write_config_with(f, 1L << 30, 5000, "tapewriter\n    fetch_timeout = 4000\n");
    s_start_stager(f);
    fake_t c[2];
    s_fake_start_for(f, &c[0], "J7-g00001", "J7", 5000, 5000);
    s_fake_start_for(f, &c[1], "J7-g00002", "J7", 5000, 5000);
    s_fakes_run(f, c, 2, false, 20000);
    assert_true(c[0].ok && c[1].ok);
    s_fake_end(&c[0]);
    s_fake_end(&c[1]);
    /* a tape writer has read part of J7-g00001; J7-g00002 was read to its end */
    char error[256];
    assert_int_equal(s_fetch_part(f, "J7-g00001", 0, 1000, error, sizeof error), 1000);
    assert_string_equal(error, "");
    assert_int_equal(s_fetch_part(f, "J7-g00002", 0, 10000, error, sizeof error), 5000);
    tf_msg_t r = s_purge(f, "J7", false);
    assert_int_equal(r.stage_purge_result.files_count, 4);
    assert_int_equal(r.stage_purge_result.archives, 2);
    assert_int_equal(r.stage_purge_result.in_use_count, 1);
    assert_string_equal(r.stage_purge_result.in_use[0].path, "ready/J7-g00001.data");
    tf_msg_clear(&r);
    assert_false(s_exists(f, "ready", "J7-g00002.data"));
    /* the tape writer goes on reading it */
    assert_int_equal(s_fetch_part(f, "J7-g00001", 1000, 1000, error, sizeof error), 1000);
    assert_string_equal(error, "");
    /* deleted once nobody read it for 3 x tapewriter/fetch_timeout */
    int64_t deadline = tf_clock_mono_ms() + 40000;
    while ((s_exists(f, "ready", "J7-g00001.data") || s_exists(f, "ready", "J7-g00001.meta"))
           && tf_clock_mono_ms() < deadline)
        tf_clock_sleep_ms(100);
    assert_false(s_exists(f, "ready", "J7-g00001.data"));
    assert_false(s_exists(f, "ready", "J7-g00001.meta"));
    r = s_purge(f, "J7", false);
    assert_int_equal(r.stage_purge_result.files_count, 0);
    tf_msg_clear(&r);
}

/* --- the file rows sidecar (issue 9 item 4) ------------------------------------------- */

/* Reads a file of the holding disk (sub/name) into a heap buffer; NULL when missing. */
static uint8_t *
s_read_staged(fx_t *f, const char *sub, const char *name, size_t *size)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s/%s", f->staging, sub, name);
    return (uint8_t *) tf_test_read_bytes(p, size);
}

/* The compressor's file rows reach the holding disk as the archive's sidecar, written via
   tmp/ and renamed; a tape writer fetches it like the data and finds every row the compressor
   made, in order; staging the group again changes nothing; the release deletes it with the
   archive. */
static void
test_sidecar_travels_with_the_archive(void **state)
{
    fx_t *f = *state;
    s_start_stager(f);
    char root[512];
    snprintf(root, sizeof root, "%s/tree", f->dir);
    pt_make_tree(root, 300000);
    group_paths_t *g = calloc(1, sizeof *g);
    tf_msg_file_group_t group = s_group(g, root, "J1-g00001", 1);
    tf_err_t err = {0};
    compressor_t *c = compressor_new(f->cfg, &err);
    assert_non_null(c);
    file_rows_t *rows = NULL;
    archiver_stats_t stats;
    if (compressor_stage(c, &group, NULL, NULL, &rows, &stats, &err) != TF_OK)
        fail_msg("stage: %s", err.message);
    assert_true(file_rows_count(rows) > 10);
    assert_true(s_exists(f, "ready", "J1-g00001.rows"));
    assert_false(s_exists(f, "tmp", "J1-g00001.rows"));
    size_t disk_size = 0;
    uint8_t *disk = s_read_staged(f, "ready", "J1-g00001.rows", &disk_size);
    assert_non_null(disk);
    char sum[TF_CHECKSUM_STRLEN], line[200];
    snprintf(line, sizeof line, "rows_size = \"%zu\"", disk_size);
    assert_true(s_file_has(f, "J1-g00001.meta", line, 100));
    snprintf(line, sizeof line, "rows_checksum = \"%s\"", tf_checksum_of(disk, disk_size, sum));
    assert_true(s_file_has(f, "J1-g00001.meta", line, 100));

    /* fetched like the data: the bytes on disk, every row of the compressor in order */
    size_t size = 0;
    char error[256];
    uint8_t *fetched = s_fetch_of(f, "J1-g00001", true, &size, error, sizeof error);
    assert_string_equal(error, "");
    assert_int_equal(size, disk_size);
    assert_memory_equal(fetched, disk, size);
    tf_sidecar_t *sidecar = tf_sidecar_parse(fetched, size, "J1-g00001", &err);
    if (!sidecar)
        fail_msg("%s", err.message);
    assert_int_equal(tf_sidecar_count(sidecar), file_rows_count(rows));
    assert_int_equal(tf_sidecar_count(sidecar), stats.files);
    for (size_t i = 0; i < file_rows_count(rows); i++) {
        assert_string_equal(tf_sidecar_rows(sidecar)[i].path, file_rows_at(rows, i)->path);
        assert_string_equal(tf_sidecar_rows(sidecar)[i].type, file_rows_at(rows, i)->type);
        assert_int_equal(tf_sidecar_rows(sidecar)[i].size, file_rows_at(rows, i)->size);
        assert_int_equal(tf_sidecar_rows(sidecar)[i].offset, file_rows_at(rows, i)->offset);
    }
    tf_sidecar_destroy(&sidecar);
    file_rows_destroy(&rows);
    free(fetched);
    /* the data is still fetched as data */
    fetched = s_fetch_all(f, "J1-g00001", &size, error, sizeof error);
    assert_string_equal(error, "");
    assert_int_equal((long) size, s_file_size(f, "ready", "J1-g00001.data"));
    free(fetched);

    /* redelivered: "already staged", the sidecar stays as it was */
    assert_int_equal(compressor_stage(c, &group, NULL, NULL, &rows, &stats, &err), TF_OK);
    file_rows_destroy(&rows);
    size_t again_size = 0;
    uint8_t *again = s_read_staged(f, "ready", "J1-g00001.rows", &again_size);
    assert_non_null(again);
    assert_int_equal(again_size, disk_size);
    assert_memory_equal(again, disk, disk_size);
    assert_false(s_exists(f, "tmp", "J1-g00001.rows"));
    free(again);
    free(disk);

    /* released with the archive */
    s_release(f, "J1-g00001", "J1-g00001-release");
    assert_false(s_exists(f, "ready", "J1-g00001.rows"));
    assert_false(s_exists(f, "ready", "J1-g00001.data"));
    fetched = s_fetch_of(f, "J1-g00001", true, &size, error, sizeof error);
    assert_non_null(strstr(error, "not staged"));
    free(fetched);
    compressor_destroy(&c);
    free(g);
}

/* The sidecar on the stage protocol: a restarted stage (redelivered item) starts the sidecar
   over; parts out of order, a close that counts other parts or other rows are refused (and
   leave nothing); an archive from a compressor that sends no rows is kept without sidecar. */
static void
test_sidecar_protocol(void **state)
{
    fx_t *f = *state;
    s_start_stager(f);
    zsock_t *d = s_dealer(f);
    uint64_t credit;
    char sum[TF_CHECKSUM_STRLEN];
    tf_checksum_of("hello", 5, sum);

    /* restarted halfway through its rows: the new attempt's sidecar has only its own rows */
    s_open(d, "J9-g00001", &credit);
    s_data(d, "J9-g00001", 0, "hello");
    s_rows(d, "J9-g00001", 1, 3);
    int64_t deadline = tf_clock_mono_ms() + 5000;
    while (s_file_size(f, "tmp", "J9-g00001.rows") <= 0 && tf_clock_mono_ms() < deadline)
        tf_clock_sleep_ms(20);
    assert_true(s_file_size(f, "tmp", "J9-g00001.rows") > 0);
    assert_false(s_exists(f, "ready", "J9-g00001.rows"));  /* never half a sidecar in ready/ */
    s_open(d, "J9-g00001", &credit);
    assert_false(s_exists(f, "tmp", "J9-g00001.rows"));
    s_data(d, "J9-g00001", 0, "hello");
    s_rows(d, "J9-g00001", 1, 2);
    s_rows(d, "J9-g00001", 2, 1);
    s_close_rows(d, "J9-g00001", 5, sum, 3, 2);
    s_expect_result(d, true, NULL);
    assert_false(s_exists(f, "tmp", "J9-g00001.rows"));
    size_t size = 0;
    char error[256];
    uint8_t *rows = s_fetch_of(f, "J9-g00001", true, &size, error, sizeof error);
    assert_string_equal(error, "");
    tf_err_t err = {0};
    tf_sidecar_t *sidecar = tf_sidecar_parse(rows, size, "J9-g00001", &err);
    if (!sidecar)
        fail_msg("%s", err.message);
    assert_int_equal(tf_sidecar_parts(sidecar), 2);
    assert_int_equal(tf_sidecar_count(sidecar), 3);
    assert_string_equal(tf_sidecar_rows(sidecar)[0].path, "J9-g00001/1.0");
    assert_string_equal(tf_sidecar_rows(sidecar)[2].path, "J9-g00001/2.0");
    tf_sidecar_destroy(&sidecar);
    free(rows);

    /* refusals */
    s_open(d, "J9-g00002", &credit);
    s_data(d, "J9-g00002", 0, "hello");
    s_rows(d, "J9-g00002", 2, 1);
    s_expect_result(d, false, "file rows out of order: expected part 1, got 2");
    assert_false(s_exists(f, "tmp", "J9-g00002.rows"));
    s_open(d, "J9-g00002", &credit);
    s_data(d, "J9-g00002", 0, "hello");
    s_rows(d, "J9-g00002", 1, 1);
    s_close_rows(d, "J9-g00002", 5, sum, 1, 2);
    s_expect_result(d, false, "file rows incomplete: received 1 parts, the compressor says 2");
    assert_false(s_exists(f, "tmp", "J9-g00002.rows"));
    assert_false(s_exists(f, "ready", "J9-g00002.data"));
    s_open(d, "J9-g00002", &credit);
    s_data(d, "J9-g00002", 0, "hello");
    s_rows(d, "J9-g00002", 1, 1);
    s_close_rows(d, "J9-g00002", 5, sum, 4, 1);
    s_expect_result(d, false, "file rows mismatch: received 1 rows for an archive of 4 entries");
    assert_false(s_exists(f, "ready", "J9-g00002.rows"));
    s_rows(d, "J9-g00002", 1, 1);
    s_expect_result(d, false, "no open session");

    /* a compressor that sends no rows (from before sidecars): kept without one */
    s_open(d, "J9-g00003", &credit);
    s_data(d, "J9-g00003", 0, "hello");
    s_close_rows(d, "J9-g00003", 5, sum, 1, 0);
    s_expect_result(d, true, NULL);
    assert_true(s_exists(f, "ready", "J9-g00003.data"));
    assert_false(s_exists(f, "ready", "J9-g00003.rows"));
    assert_false(s_file_has(f, "J9-g00003.meta", "rows_size", 100));
    rows = s_fetch_of(f, "J9-g00003", true, &size, error, sizeof error);
    assert_non_null(strstr(error, "archive J9-g00003 has no file rows sidecar here"));
    free(rows);
    zsock_destroy(&d);
}

/* Sidecars at a restart and in the holding disk's byte count: a sidecar renamed into ready/
   before the crash that left no .data, a stray sidecar, one in tmp/ are deleted; one that is
   missing or of another size than its .meta says leaves the archive without sidecar (its
   data is kept); ready bytes are data plus sidecars, and a removal deletes the sidecar. */
static void
test_sidecar_at_restart_and_in_the_byte_count(void **state)
{
    fx_t *f = *state;
    s_start_stager(f);
    s_stop_stager(f);
    char sum[TF_CHECKSUM_STRLEN], rows_sum[TF_CHECKSUM_STRLEN], meta[600];
    tf_checksum_of("abc", 3, sum);
    tf_checksum_of("0123456789", 10, rows_sum);
    static const char *const ids[] = {"J8-g00001", "J8-g00002", "J8-g00003"};
    for (size_t i = 0; i < 3; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s.data", ids[i]);
        s_plant(f, "ready", name, "abc");
        snprintf(meta, sizeof meta,
                 "archive\n    id = %s\n    job = J8\n    group = %zu\n    size = 3\n    checksum = %s\n"
                 "    files = 1\n    bytes = 3\n    rows_size = 10\n    rows_checksum = %s\n",
                 ids[i], i + 1, sum, rows_sum);
        snprintf(name, sizeof name, "%s.meta", ids[i]);
        s_plant(f, "ready", name, meta);
    }
    s_plant(f, "ready", "J8-g00001.rows", "0123456789");  /* complete */
    s_plant(f, "ready", "J8-g00002.rows", "01234");       /* cut short: not used */
    /* J8-g00003.rows missing: not used */
    s_plant(f, "ready", "J8-g00004.rows", "0123456789");  /* no .meta, no .data */
    s_plant(f, "ready", "J8-g00005.meta", "archive\n    id = J8-g00005\n");
    s_plant(f, "ready", "J8-g00005.rows", "0123456789");  /* crash before the .data was renamed */
    s_plant(f, "tmp", "J8-g00006.rows", "half");

    /* in-process first: what the holding disk counts */
    tf_err_t err = {0};
    holding_t *h = holding_new(f->staging, &err);
    if (!h)
        fail_msg("%s", err.message);
    assert_int_equal(holding_ready_count(h), 3);
    assert_int_equal(holding_ready_bytes(h), 3 * 3 + 10);
    assert_int_equal(holding_lookup(h, "J8-g00001")->rows_size, 10);
    assert_string_equal(holding_lookup(h, "J8-g00001")->rows_checksum, rows_sum);
    assert_int_equal(holding_lookup(h, "J8-g00002")->rows_size, 0);
    assert_int_equal(holding_lookup(h, "J8-g00003")->rows_size, 0);
    assert_false(s_exists(f, "ready", "J8-g00002.rows"));
    assert_false(s_exists(f, "ready", "J8-g00004.rows"));
    assert_false(s_exists(f, "ready", "J8-g00005.rows"));
    assert_false(s_exists(f, "tmp", "J8-g00006.rows"));
    uint8_t buf[16];
    size_t got = 0;
    assert_int_equal(holding_read_rows(h, "J8-g00001", 4, buf, sizeof buf, &got, &err), TF_OK);
    assert_int_equal(got, 6);
    assert_memory_equal(buf, "456789", 6);
    assert_int_equal(holding_read_rows(h, "J8-g00002", 0, buf, sizeof buf, &got, &err), TF_ERR_NOTFOUND);
    /* a new archive with a sidecar: counted once ready, via tmp/ */
    int fd = -1, rows_fd = -1;
    assert_int_equal(holding_part_open(h, "J8-g00007", &fd, &err), TF_OK);
    assert_int_equal(holding_rows_open(h, "J8-g00007", &rows_fd, &err), TF_OK);
    assert_int_equal(write(fd, "abc", 3), 3);
    assert_int_equal(write(rows_fd, "01234567", 8), 8);
    assert_true(s_exists(f, "tmp", "J8-g00007.rows"));
    holding_meta_t m = {.archive_id = "J8-g00007", .job_id = "J8", .checksum = sum, .size = 3, .files = 1,
                        .rows_size = 8, .rows_checksum = "xxh128:00"};
    assert_int_equal(holding_commit(h, &m, fd, rows_fd, &err), TF_OK);
    assert_false(s_exists(f, "tmp", "J8-g00007.rows"));
    assert_int_equal(s_file_size(f, "ready", "J8-g00007.rows"), 8);
    assert_int_equal(holding_ready_bytes(h), 4 * 3 + 10 + 8);
    holding_tally_t parked, on_tape;
    assert_int_equal(holding_park(h, "J8-g00007", "cancelled", &err), TF_OK);
    holding_unfreed(h, &parked, &on_tape);
    assert_int_equal(parked.count, 1);
    assert_int_equal(parked.bytes, 3 + 8);
    assert_true(s_file_has(f, "J8-g00007.meta", "rows_size = \"8\"", 100));  /* kept by the rewrite */
    assert_int_equal(holding_park(h, "J8-g00007", "", &err), TF_OK);
    assert_int_equal(holding_remove(h, "J8-g00007", &err), TF_OK);
    assert_false(s_exists(f, "ready", "J8-g00007.rows"));
    assert_int_equal(holding_ready_bytes(h), 3 * 3 + 10);
    holding_destroy(&h);

    /* the stager: the archives go to the tape queue, their sidecars fetched where they are */
    s_start_stager(f);
    assert_string_equal(s_item_state(f, "J8-g00001-tape", 5000), "queued");
    assert_string_equal(s_item_state(f, "J8-g00002-tape", 5000), "queued");
    size_t size = 0;
    char error[256];
    uint8_t *data = s_fetch_of(f, "J8-g00001", true, &size, error, sizeof error);
    assert_string_equal(error, "");
    assert_int_equal(size, 10);
    assert_memory_equal(data, "0123456789", 10);
    free(data);
    data = s_fetch_of(f, "J8-g00003", true, &size, error, sizeof error);
    assert_non_null(strstr(error, "no file rows sidecar"));
    free(data);
    data = s_fetch_all(f, "J8-g00003", &size, error, sizeof error);
    assert_string_equal(error, "");
    assert_int_equal(size, 3);
    free(data);
}

/* A file group of another host is not read here: a retryable refusal (the broker gives it to a
   compressor of its host), nothing staged. */
static void
test_group_of_another_host_is_left_for_it(void **state)
{
    fx_t *f = *state;
    s_start_stager(f);
    char root[512];
    snprintf(root, sizeof root, "%s/tree", f->dir);
    pt_make_tree(root, 1000);
    group_paths_t *g = calloc(1, sizeof *g);
    tf_msg_file_group_t group = s_group(g, root, "J1-g00001", 1);
    group.host = "not-this-host";
    tf_err_t err = {0};
    compressor_t *c = compressor_new(f->cfg, &err);
    assert_non_null(c);
    file_rows_t *rows = NULL;
    archiver_stats_t stats;
    int rc = compressor_stage(c, &group, NULL, NULL, &rows, &stats, &err);
    assert_int_equal(rc, TF_ERR_STATE);
    assert_true(tf_actor_status_retryable(rc));
    assert_non_null(strstr(err.message, "its files are on host not-this-host"));
    assert_null(rows);
    assert_false(s_exists(f, "tmp", "J1-g00001.part"));
    assert_false(s_exists(f, "ready", "J1-g00001.data"));
    /* its own host's group is read */
    group.host = (char *) tf_config_str(f->cfg, "tapeflow/host");
    if (compressor_stage(c, &group, NULL, NULL, &rows, &stats, &err) != TF_OK)
        fail_msg("stage: %s", err.message);
    file_rows_destroy(&rows);
    assert_true(s_exists(f, "ready", "J1-g00001.data"));
    compressor_destroy(&c);
    free(g);
}

int
main(void)
{
    setlocale(LC_CTYPE, "C.UTF-8");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stream_list_fetch_release, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_group_of_another_host_is_left_for_it, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_backpressure, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_refusals, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_restart, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_purge, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_two_archives_larger_than_the_disk_together_both_finish, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_sizes_unknown_the_oldest_finishes_first, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_archive_that_cannot_fit_fails_for_good, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_waiting_for_space_raises_an_alert, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_size_estimate_bounds_the_archive, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_parked_archives_of_a_cancelled_job, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_purge_defers_an_archive_in_use, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_sidecar_travels_with_the_archive, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_sidecar_protocol, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_sidecar_at_restart_and_in_the_byte_count, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_replica_release_needs_tape_and_target, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_replica_restart_announces_what_is_missing, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_replica_gave_up, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_job_create_carries_replicas, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_archive_waiting_for_a_replica_is_not_freed_by_tape, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_replication_comes_with_stage_open, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_restaged_archive_asks_about_its_replica_items, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_optional_replica_gives_way_when_the_disk_is_full, s_setup, s_teardown),
    };
    if (getenv("TF_TEST_ONLY"))
        cmocka_set_test_filter(getenv("TF_TEST_ONLY"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
