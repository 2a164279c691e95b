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
#include "pipe_test_util.h"
#include "scan_walk.h"
#include "stager.h"
#include "tf_checksum.h"
#include "tf_client.h"
#include "tf_clock.h"
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
} fx_t;

static void
s_write_config(fx_t *f, long capacity, int stager_timeout)
{
    FILE *cfg = fopen(f->config, "w");
    assert_non_null(cfg);
    fprintf(cfg,
            "tapeflow\n    home = \"%s\"\n"
            "broker\n    heartbeat = 200\n    liveness = 3\n"
            "stager\n    endpoint = \"%s\"\n    dir = \"%s\"\n    capacity = %ld\n    window = 65536\n"
            "compressor\n    chunk = 16384\n    level = 1\n    threads = 1\n    stager_timeout = %d\n",
            f->dir, f->stager_ep, f->staging, capacity, stager_timeout);
    fclose(cfg);
    tf_config_destroy(&f->cfg);
    f->cfg = tf_config_open(f->config, NULL);
    assert_non_null(f->cfg);
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
    f->client = tf_client_new(f->broker_ep, NULL);
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
    assert_int_equal(scan_walk(scan_fs_posix(), root, true, s_add, s_nowarn, g, NULL), TF_OK);
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

static uint8_t *
s_fetch_all(fx_t *f, const char *archive_id, size_t *size, char *error, size_t error_size)
{
    zsock_t *d = s_dealer(f);
    uint8_t *buf = NULL;
    *size = 0;
    error[0] = '\0';
    for (;;) {
        tf_msg_t msg = {.type = TF_MSG_FETCH};
        msg.fetch = (tf_msg_fetch_t){.archive_id = (char *) archive_id, .offset = *size, .length = 300000};
        s_send(d, &msg);
        tf_msg_t reply;
        s_recv(d, &reply);
        assert_int_equal(reply.type, TF_MSG_FETCH_DATA);
        assert_int_equal(reply.fetch_data.offset, *size);
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
    assert_true(data_size > 0 && meta_size > 0);
    /* Two archives still streaming in: one of the job, one of another job. */
    zsock_t *mine = s_dealer(f), *other = s_dealer(f);
    s_open_for(mine, "J1-g00002", "J1");
    s_open_for(other, "J9-g00001", "J9");
    int64_t deadline = tf_clock_mono_ms() + 5000;
    while ((s_file_size(f, "tmp", "J1-g00002.part") <= 0 || s_file_size(f, "tmp", "J9-g00001.part") <= 0)
           && tf_clock_mono_ms() < deadline)
        tf_clock_sleep_ms(20);
    long part_size = s_file_size(f, "tmp", "J1-g00002.part");
    assert_true(part_size > 0);

    /* A dry run lists and deletes nothing. */
    tf_msg_t r = s_purge(f, "J1", true);
    assert_string_equal(r.stage_purge_result.job_id, "J1");
    assert_int_equal(r.stage_purge_result.files_count, 3);
    assert_true(s_listed(&r.stage_purge_result, "ready/J1-g00001.data"));
    assert_true(s_listed(&r.stage_purge_result, "ready/J1-g00001.meta"));
    assert_true(s_listed(&r.stage_purge_result, "tmp/J1-g00002.part"));
    assert_int_equal(r.stage_purge_result.archives, 1);
    assert_int_equal(r.stage_purge_result.bytes, (uint64_t) (data_size + meta_size + part_size));
    tf_msg_clear(&r);
    assert_true(s_exists(f, "ready", "J1-g00001.data"));

    r = s_purge(f, "J1", false);
    assert_int_equal(r.stage_purge_result.files_count, 3);
    tf_msg_clear(&r);
    assert_false(s_exists(f, "ready", "J1-g00001.data"));
    assert_false(s_exists(f, "ready", "J1-g00001.meta"));
    assert_false(s_exists(f, "tmp", "J1-g00002.part"));
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

int
main(void)
{
    setlocale(LC_CTYPE, "C.UTF-8");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stream_list_fetch_release, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_backpressure, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_refusals, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_restart, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_purge, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
