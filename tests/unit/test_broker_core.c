/*  The broker core without sockets: a fake send records what the broker says to whom, and the
    tests drive time by hand. Covers dispatch with one credit per worker, heartbeat expiry and
    redelivery, first-done-wins, duplicate completions, retries, max attempts, recovery from
    the journal, idempotent submit, status and errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <czmq.h>
#include <sqlite3.h>

#include "broker.h"
#include "tf_testproc.h"

#define MAX_SENT 64

typedef struct {
    char peer[64];
    tf_msg_t msg;        /* a decoded copy */
} sent_t;

typedef struct {
    char *dir;
    char path[256];
    journal_t *journal;
    broker_t *broker;
    sent_t sent[MAX_SENT];
    int nsent;
    int nevents;
    char topics[64][96];  /* the last events' topics, ring of 64 */
    char alert[512];     /* message of the last alert.* event */
    int nalerts;
    char gone_peer[64];  /* sends to this peer fail as if it vanished */
    int64_t now;
} fx_t;

static int
s_fake_send(void *arg, const char *peer, const tf_msg_t *msg)
{
    fx_t *fx = arg;
    if (strcmp(peer, fx->gone_peer) == 0)
        return TF_ERR_NOTFOUND;
    assert_true(fx->nsent < MAX_SENT);
    sent_t *s = &fx->sent[fx->nsent++];
    snprintf(s->peer, sizeof s->peer, "%s", peer);
    /* Round-trip through the codec: what the broker sends must encode. */
    uint8_t *data;
    size_t size;
    tf_err_t err = {0};
    assert_int_equal(tf_msg_encode(msg, &data, &size, &err), TF_OK);
    assert_int_equal(tf_msg_decode(data, size, &s->msg, &err), TF_OK);
    free(data);
    return TF_OK;
}

static void
s_fake_publish(void *arg, tf_msg_event_t *ev)
{
    fx_t *fx = arg;
    assert_non_null(ev->topic);
    snprintf(fx->topics[fx->nevents % 64], sizeof fx->topics[0], "%s", ev->topic);
    fx->nevents++;
    if (strncmp(ev->topic, "alert.", 6) == 0) {
        snprintf(fx->alert, sizeof fx->alert, "%s", ev->message ? ev->message : "");
        fx->nalerts++;
    }
}

static void
s_clear_sent(fx_t *fx)
{
    for (int i = 0; i < fx->nsent; i++)
        tf_msg_clear(&fx->sent[i].msg);
    fx->nsent = 0;
}

static const broker_opts_t s_opts = {.heartbeat_ms = 100, .liveness = 3, .max_attempts = 3,
                                     .job_service = "catalog", .host_wait_alert_ms = 30000};

static void
s_open(fx_t *fx)
{
    tf_err_t err = {0};
    fx->journal = journal_open(fx->path, &err);
    assert_non_null(fx->journal);
    fx->broker = broker_new(fx->journal, &s_opts, s_fake_send, s_fake_publish, fx);
    assert_non_null(fx->broker);
    assert_int_equal(broker_recover(fx->broker, fx->now, &err), TF_OK);
}

static void
s_close(fx_t *fx)
{
    broker_destroy(&fx->broker);
    journal_destroy(&fx->journal);
    s_clear_sent(fx);
}

static int
s_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    fx->dir = tf_test_tempdir("tfcore");
    snprintf(fx->path, sizeof fx->path, "%s/journal.db", fx->dir);
    fx->now = 1000;
    s_open(fx);
    *state = fx;
    return 0;
}

static int
s_teardown(void **state)
{
    fx_t *fx = *state;
    s_close(fx);
    tf_test_rmtree(fx->dir);
    free(fx->dir);
    free(fx);
    return 0;
}

static void
s_handle(fx_t *fx, const char *peer, tf_msg_t *msg)
{
    broker_handle(fx->broker, peer, NULL, msg, fx->now, 1700000000000 + fx->now);
}

static void
s_ready(fx_t *fx, const char *peer, const char *service)
{
    tf_msg_t m = {.type = TF_MSG_READY};
    m.ready.service = (char *) service;
    m.ready.worker = (char *) peer;
    s_handle(fx, peer, &m);
}

static void
s_submit(fx_t *fx, const char *client, const char *id, const char *payload)
{
    tf_msg_t m = {.type = TF_MSG_SUBMIT};
    m.submit = (tf_msg_submit_t){.rid = "r1", .service = "echo", .item_id = (char *) id,
                                 .payload = {(uint8_t *) payload, strlen(payload)}};
    s_handle(fx, client, &m);
}

/* done from peer, sent with the CURVE key key (NULL: over ipc). */
static void
s_done_as(fx_t *fx, const char *peer, const char *key, const char *id, uint64_t attempt, const char *result)
{
    tf_msg_t m = {.type = TF_MSG_DONE};
    m.done = (tf_msg_done_t){.item_id = (char *) id, .attempt = attempt,
                             .result = {(uint8_t *) result, strlen(result)}};
    broker_handle(fx->broker, peer, key, &m, fx->now, 1700000000000 + fx->now);
}

static void
s_done(fx_t *fx, const char *peer, const char *id, uint64_t attempt, const char *result)
{
    s_done_as(fx, peer, NULL, id, attempt, result);
}

/* The n-th message of a type sent to peer, or NULL. */
static tf_msg_t *
s_find(fx_t *fx, const char *peer, tf_msg_type_t type, int n)
{
    for (int i = 0; i < fx->nsent; i++)
        if (fx->sent[i].msg.type == type && strcmp(fx->sent[i].peer, peer) == 0 && n-- == 0)
            return &fx->sent[i].msg;
    return NULL;
}

static journal_state_t
s_state(fx_t *fx, const char *id, int64_t *attempts)
{
    journal_row_t row;
    tf_err_t err = {0};
    assert_int_equal(journal_get(fx->journal, id, &row, &err), TF_OK);
    journal_state_t st = row.state;
    if (attempts)
        *attempts = row.attempts;
    journal_row_clear(&row);
    return st;
}

static void
test_one_item_per_worker(void **state)
{
    fx_t *fx = *state;
    s_ready(fx, "AA", "echo");
    s_submit(fx, "C1", "a", "pa");
    s_submit(fx, "C1", "b", "pb");
    tf_msg_t *ok = s_find(fx, "C1", TF_MSG_SUBMIT_OK, 0);
    assert_non_null(ok);
    assert_string_equal(ok->submit_ok.rid, "r1");
    tf_msg_t *w = s_find(fx, "AA", TF_MSG_WORK, 0);
    assert_non_null(w);
    assert_string_equal(w->work.item_id, "a");
    assert_int_equal(w->work.attempt, 1);
    assert_memory_equal(w->work.payload.data, "pa", 2);
    assert_null(s_find(fx, "AA", TF_MSG_WORK, 1));  /* one credit: b waits */
    assert_int_equal(s_state(fx, "a", NULL), JOURNAL_INFLIGHT);
    assert_int_equal(s_state(fx, "b", NULL), JOURNAL_QUEUED);
    s_done(fx, "AA", "a", 1, "ra");
    assert_int_equal(s_state(fx, "a", NULL), JOURNAL_DONE);
    tf_msg_t *w2 = s_find(fx, "AA", TF_MSG_WORK, 1);
    assert_non_null(w2);
    assert_string_equal(w2->work.item_id, "b");
    assert_int_equal(broker_completed(fx->broker), 1);
    assert_true(fx->nevents > 0);
}

static void
test_expired_worker_item_redelivered_and_late_done_ignored(void **state)
{
    fx_t *fx = *state;
    s_ready(fx, "AA", "echo");
    s_ready(fx, "BB", "echo");
    s_submit(fx, "C1", "x", "px");
    const char *first = s_find(fx, "AA", TF_MSG_WORK, 0) ? "AA" : "BB";
    const char *second = strcmp(first, "AA") == 0 ? "BB" : "AA";
    /* Only the second worker keeps talking; the first goes silent. */
    for (int i = 0; i < 4; i++) {
        fx->now += 100;
        tf_msg_t hb = {.type = TF_MSG_HEARTBEAT};
        s_handle(fx, second, &hb);
        broker_tick(fx->broker, fx->now, fx->now);
    }
    tf_msg_t *w = s_find(fx, second, TF_MSG_WORK, 0);
    assert_non_null(w);
    assert_string_equal(w->work.item_id, "x");
    assert_int_equal(w->work.attempt, 2);
    s_done(fx, second, "x", 2, "r2");
    assert_int_equal(broker_completed(fx->broker), 1);
    /* The silent one comes back with its late done: recognised, not counted. */
    s_done(fx, first, "x", 1, "r1");
    assert_int_equal(broker_completed(fx->broker), 1);
    assert_int_equal(broker_duplicates(fx->broker), 1);
    journal_row_t row;
    assert_int_equal(journal_get(fx->journal, "x", &row, NULL), TF_OK);
    assert_memory_equal(row.result.data, "r2", 2);  /* first completion's result kept */
    journal_row_clear(&row);
}

static void
test_heartbeats_sent_and_unknown_worker_told_to_register(void **state)
{
    fx_t *fx = *state;
    s_ready(fx, "AA", "echo");
    fx->now += 100;
    broker_tick(fx->broker, fx->now, fx->now);
    assert_non_null(s_find(fx, "AA", TF_MSG_HEARTBEAT, 0));
    tf_msg_t hb = {.type = TF_MSG_HEARTBEAT};
    s_handle(fx, "ZZ", &hb);
    tf_msg_t *d = s_find(fx, "ZZ", TF_MSG_DISCONNECT, 0);
    assert_non_null(d);
}

static void
test_vanished_peer_on_dispatch_keeps_item(void **state)
{
    fx_t *fx = *state;
    s_ready(fx, "AA", "echo");
    snprintf(fx->gone_peer, sizeof fx->gone_peer, "AA");
    s_submit(fx, "C1", "y", "py");
    assert_int_equal(s_state(fx, "y", NULL), JOURNAL_QUEUED);
    fx->gone_peer[0] = '\0';
    s_ready(fx, "BB", "echo");
    tf_msg_t *w = s_find(fx, "BB", TF_MSG_WORK, 0);
    assert_non_null(w);
    assert_int_equal(w->work.attempt, 1);  /* an undelivered send is not an attempt */
}

static void
test_retry_until_max_attempts_then_failed(void **state)
{
    fx_t *fx = *state;
    s_ready(fx, "AA", "echo");
    s_submit(fx, "C1", "z", "pz");
    for (uint64_t attempt = 1; attempt <= 3; attempt++) {
        tf_msg_t f = {.type = TF_MSG_FAILED};
        f.failed = (tf_msg_failed_t){.item_id = "z", .attempt = attempt, .reason = "tape busy", .retry = true};
        s_handle(fx, "AA", &f);
    }
    int64_t attempts = 0;
    assert_int_equal(s_state(fx, "z", &attempts), JOURNAL_FAILED);
    assert_int_equal(attempts, 3);
    journal_row_t row;
    assert_int_equal(journal_get(fx->journal, "z", &row, NULL), TF_OK);
    assert_non_null(strstr(row.reason, "gave up after 3 deliveries"));
    journal_row_clear(&row);
}

static void
test_permanent_failure(void **state)
{
    fx_t *fx = *state;
    s_ready(fx, "AA", "echo");
    s_submit(fx, "C1", "p", "pp");
    tf_msg_t f = {.type = TF_MSG_FAILED};
    f.failed = (tf_msg_failed_t){.item_id = "p", .attempt = 1, .reason = "bad input", .retry = false};
    s_handle(fx, "AA", &f);
    assert_int_equal(s_state(fx, "p", NULL), JOURNAL_FAILED);
}

static void
test_recovery_requeues_pending_in_order(void **state)
{
    fx_t *fx = *state;
    s_ready(fx, "AA", "echo");
    s_submit(fx, "C1", "r1", "one");
    s_submit(fx, "C1", "r2", "two");
    s_submit(fx, "C1", "r3", "three");
    s_done(fx, "AA", "r1", 1, "ok");  /* r2 now in flight, r3 queued */
    s_close(fx);                       /* the broker "crashes" */
    s_open(fx);
    s_clear_sent(fx);
    s_ready(fx, "BB", "echo");
    tf_msg_t *w = s_find(fx, "BB", TF_MSG_WORK, 0);
    assert_non_null(w);
    assert_string_equal(w->work.item_id, "r2");
    assert_int_equal(w->work.attempt, 2);
    s_done(fx, "BB", "r2", 2, "ok");
    w = s_find(fx, "BB", TF_MSG_WORK, 1);
    assert_non_null(w);
    assert_string_equal(w->work.item_id, "r3");
    /* The old worker's done for r2 after the restart: a duplicate. */
    s_done(fx, "AA", "r2", 1, "late");
    assert_int_equal(broker_completed(fx->broker), 1);
    assert_int_equal(broker_duplicates(fx->broker), 1);
}

static void
test_submit_idempotent_and_conflicting(void **state)
{
    fx_t *fx = *state;
    s_submit(fx, "C1", "same", "p");
    s_submit(fx, "C1", "same", "p");
    tf_msg_t *second = s_find(fx, "C1", TF_MSG_SUBMIT_OK, 1);
    assert_non_null(second);
    assert_true(second->submit_ok.existed);
    assert_string_equal(second->submit_ok.state, "queued");
    tf_msg_t m = {.type = TF_MSG_SUBMIT};
    m.submit = (tf_msg_submit_t){.rid = "r9", .service = "other", .item_id = "same"};
    s_handle(fx, "C1", &m);
    tf_msg_t *e = s_find(fx, "C1", TF_MSG_ERROR, 0);
    assert_non_null(e);
    assert_non_null(strstr(e->error.message, "exists already"));
}

static void
test_status_and_item_queries(void **state)
{
    fx_t *fx = *state;
    s_ready(fx, "AA", "echo");
    s_submit(fx, "C1", "s1", "p");
    s_submit(fx, "C1", "s2", "p");
    fx->now += 50;
    tf_msg_t st;
    assert_int_equal(broker_status(fx->broker, "rid", fx->now, 1700000000000 + fx->now, &st), TF_OK);
    assert_int_equal(st.status.services_count, 1);
    assert_string_equal(st.status.services[0].name, "echo");
    assert_int_equal(st.status.services[0].workers, 1);
    assert_int_equal(st.status.services[0].inflight, 1);
    assert_int_equal(st.status.services[0].queued, 1);
    assert_int_equal(st.status.services[0].oldest_age_ms, 50);
    assert_int_equal(st.status.workers_count, 1);
    assert_string_equal(st.status.workers[0].state, "busy");
    tf_msg_clear(&st);
    tf_msg_t get = {.type = TF_MSG_ITEM_GET};
    get.item_get = (tf_msg_item_get_t){.rid = "g", .item_id = "nope"};
    s_handle(fx, "C2", &get);
    tf_msg_t *e = s_find(fx, "C2", TF_MSG_ERROR, 0);
    assert_non_null(e);
    assert_int_equal(e->error.code, TF_ERR_NOTFOUND);
    get.item_get.item_id = "s1";
    s_handle(fx, "C2", &get);
    tf_msg_t *info = s_find(fx, "C2", TF_MSG_ITEM_INFO, 0);
    assert_non_null(info);
    assert_string_equal(info->item_info.state, "inflight");
}

static void
test_disconnect_requeues_at_once(void **state)
{
    fx_t *fx = *state;
    s_ready(fx, "AA", "echo");
    s_submit(fx, "C1", "d", "p");
    tf_msg_t bye = {.type = TF_MSG_DISCONNECT};
    bye.disconnect.reason = "stopping";
    s_handle(fx, "AA", &bye);
    assert_int_equal(s_state(fx, "d", NULL), JOURNAL_QUEUED);
    s_ready(fx, "BB", "echo");
    assert_non_null(s_find(fx, "BB", TF_MSG_WORK, 0));
}

static void
test_job_failure_reported_to_catalog(void **state)
{
    fx_t *fx = *state;
    s_ready(fx, "AA", "echo");
    tf_msg_t m = {.type = TF_MSG_SUBMIT};
    m.submit = (tf_msg_submit_t){.rid = "r", .service = "echo", .item_id = "g1", .job_id = "J1",
                                 .payload = {(uint8_t *) "p", 1}};
    s_handle(fx, "C1", &m);
    tf_msg_t f = {.type = TF_MSG_FAILED};
    f.failed = (tf_msg_failed_t){.item_id = "g1", .attempt = 1, .reason = "cannot read /etc/x", .retry = false};
    s_handle(fx, "AA", &f);
    /* The report waits for a catalog worker, durable in the journal. */
    journal_row_t row;
    assert_int_equal(journal_get(fx->journal, "g1-failed", &row, NULL), TF_OK);
    assert_string_equal(row.service, "catalog");
    assert_string_equal(row.job_id, "J1");
    tf_msg_t report;
    assert_int_equal(tf_msg_decode(row.payload.data, row.payload.size, &report, NULL), TF_OK);
    journal_row_clear(&row);
    assert_int_equal(report.type, TF_MSG_CAT_JOB);
    assert_string_equal(report.cat_job.op, "failed");
    assert_string_equal(report.cat_job.stage, "echo");
    assert_string_equal(report.cat_job.detail, "cannot read /etc/x");
    tf_msg_clear(&report);
    s_ready(fx, "CAT", "catalog");
    tf_msg_t *w = s_find(fx, "CAT", TF_MSG_WORK, 0);
    assert_non_null(w);
    assert_string_equal(w->work.item_id, "g1-failed");
    /* An item without a job reports nothing. */
    s_submit(fx, "C1", "nojob", "p");
    f.failed.item_id = "nojob";
    s_handle(fx, "AA", &f);
    assert_int_equal(journal_get(fx->journal, "nojob-failed", &row, NULL), TF_ERR_NOTFOUND);
}

static void
test_tick_dispatches_after_journal_failure(void **state)
{
    fx_t *fx = *state;
    s_submit(fx, "C1", "t", "pt");  /* queued: no worker yet */
    /* Another connection holds the write lock: when the worker registers, the broker's
       dispatch write fails (after the journal's busy timeout) and the item stays queued next
       to the idle worker. */
    sqlite3 *locker = NULL;
    assert_int_equal(sqlite3_open(fx->path, &locker), SQLITE_OK);
    assert_int_equal(sqlite3_exec(locker, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
    s_ready(fx, "AA", "echo");
    assert_null(s_find(fx, "AA", TF_MSG_WORK, 0));
    assert_int_equal(s_state(fx, "t", NULL), JOURNAL_QUEUED);
    assert_int_equal(sqlite3_exec(locker, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(locker);
    /* No new message arrives: the tick alone must hand the item out. */
    fx->now += 10;
    broker_tick(fx->broker, fx->now, fx->now);
    tf_msg_t *w = s_find(fx, "AA", TF_MSG_WORK, 0);
    assert_non_null(w);
    assert_string_equal(w->work.item_id, "t");
}

/* ---- issue 8 item 11: unknown services, refused messages; item 14: chatter topics ---- */

static const char *s_known[] = {"catalog", "echo", NULL};
static const broker_opts_t s_opts_known = {.heartbeat_ms = 100, .liveness = 3, .max_attempts = 3,
                                           .job_service = "catalog", .services = s_known,
                                           .reject_log = 5, .reject_summary_ms = 60000,
                                           .host_wait_alert_ms = 30000};

static void
s_reopen(fx_t *fx, const broker_opts_t *opts)
{
    broker_destroy(&fx->broker);
    fx->broker = broker_new(fx->journal, opts, s_fake_send, s_fake_publish, fx);
    assert_non_null(fx->broker);
    tf_err_t err = {0};
    assert_int_equal(broker_recover(fx->broker, fx->now, &err), TF_OK);
}

static void
s_submit_to(fx_t *fx, const char *client, const char *service, const char *id)
{
    tf_msg_t m = {.type = TF_MSG_SUBMIT};
    m.submit = (tf_msg_submit_t){.rid = "r", .service = (char *) service, .item_id = (char *) id,
                                 .payload = {(uint8_t *) "p", 1}};
    s_handle(fx, client, &m);
}

/* stderr into a file while a test runs, to count log lines. */
static int
s_capture_stderr(fx_t *fx, char *path, size_t size)
{
    snprintf(path, size, "%s/stderr.log", fx->dir);
    fflush(stderr);
    int saved = dup(fileno(stderr));
    FILE *f = freopen(path, "w", stderr);
    assert_non_null(f);
    return saved;
}

static int
s_restore_stderr(int saved, const char *path, const char *needle)
{
    fflush(stderr);
    dup2(saved, fileno(stderr));
    close(saved);
    char *text = tf_test_read_file(path);
    int n = 0;
    for (const char *p = text; p && (p = strstr(p, needle)); p++)
        n++;
    free(text);
    return n;
}

/* ------------------------------------------------------------ job cancel / retry ----- */

static void
s_submit_job(fx_t *fx, const char *service, const char *id, const char *job)
{
    tf_msg_t m = {.type = TF_MSG_SUBMIT};
    m.submit = (tf_msg_submit_t){.rid = "rs", .service = (char *) service, .item_id = (char *) id,
                                 .job_id = (char *) job, .payload = {(uint8_t *) "p", 1}};
    s_handle(fx, "C1", &m);
}

static void
s_job_op(fx_t *fx, const char *op, const char *job, const char *spare)
{
    tf_msg_t m = {.type = TF_MSG_JOB_OP};
    m.job_op = (tf_msg_job_op_t){.rid = "rj", .job_id = (char *) job, .op = (char *) op,
                                 .message = "cancelled by tester at noon", .spare = (char *) spare};
    s_handle(fx, "OP", &m);
}

/* The last message sent to peer, or NULL. */
static tf_msg_t *
s_last(fx_t *fx, const char *peer)
{
    for (int i = fx->nsent - 1; i >= 0; i--)
        if (strcmp(fx->sent[i].peer, peer) == 0)
            return &fx->sent[i].msg;
    return NULL;
}

static uint64_t
s_queued(fx_t *fx, const char *service)
{
    tf_msg_t st;
    assert_int_equal(broker_status(fx->broker, "r", fx->now, fx->now, &st), TF_OK);
    uint64_t n = 0;
    for (size_t i = 0; i < st.status.services_count; i++)
        if (strcmp(st.status.services[i].name, service) == 0)
            n = st.status.services[i].queued;
    tf_msg_clear(&st);
    return n;
}

static void
test_unknown_service_refused(void **state)
{
    fx_t *fx = *state;
    s_reopen(fx, &s_opts_known);
    char log[512];
    int saved = s_capture_stderr(fx, log, sizeof log);
    /* A flood: every one refused at once, nothing queued in the journal. */
    for (int i = 0; i < 10000; i++) {
        char id[32];
        snprintf(id, sizeof id, "x%d", i);
        s_submit_to(fx, "C1", "xyz", id);
        if (i == 0) {
            tf_msg_t *e = s_find(fx, "C1", TF_MSG_ERROR, 0);
            assert_non_null(e);
            assert_int_equal(e->error.code, TF_ERR_NOTFOUND);
            assert_non_null(strstr(e->error.message, "no service 'xyz': known services are "
                                                     "catalog, echo"));
        }
        s_clear_sent(fx);
    }
    int lines = s_restore_stderr(saved, log, "refused a message from peer C1");
    assert_int_equal(lines, 5);   /* reject_log: the rest is counted */
    journal_row_t row;
    assert_int_equal(journal_get(fx->journal, "x0", &row, NULL), TF_ERR_NOTFOUND);
    assert_int_equal(journal_get(fx->journal, "x9999", &row, NULL), TF_ERR_NOTFOUND);
    assert_int_equal(broker_rejected(fx->broker, "C1"), 10000);
    tf_msg_t st;
    assert_int_equal(broker_status(fx->broker, "rid", fx->now, 1700000000000 + fx->now, &st), TF_OK);
    assert_int_equal(st.status.services_count, 0);
    assert_int_equal(st.status.rejects_count, 1);
    assert_string_equal(st.status.rejects[0].peer, "C1");
    assert_int_equal(st.status.rejects[0].rejected, 10000);
    assert_string_equal(st.status.rejects[0].last_reason, "submit for unknown service 'xyz'");
    tf_msg_clear(&st);

    /* Known services are accepted; a service becomes known when a worker registers for it. */
    s_submit_to(fx, "C1", "echo", "e1");
    assert_non_null(s_find(fx, "C1", TF_MSG_SUBMIT_OK, 0));
    s_ready(fx, "TH", "thumbs");
    s_submit_to(fx, "C1", "thumbs", "t1");
    assert_non_null(s_find(fx, "C1", TF_MSG_SUBMIT_OK, 1));
    assert_non_null(s_find(fx, "TH", TF_MSG_WORK, 0));
}

static void
test_recovered_service_stays_known(void **state)
{
    fx_t *fx = *state;
    s_submit_to(fx, "C1", "legacy", "l1");   /* accepted: no list configured */
    s_reopen(fx, &s_opts_known);
    s_submit_to(fx, "C1", "legacy", "l2");
    assert_non_null(s_find(fx, "C1", TF_MSG_SUBMIT_OK, 1));
    assert_null(s_find(fx, "C1", TF_MSG_ERROR, 0));
}

static void
test_rejects_counted_and_logs_rate_limited(void **state)
{
    fx_t *fx = *state;
    s_reopen(fx, &s_opts_known);
    s_ready(fx, "AA", "echo");
    char log[512];
    int saved = s_capture_stderr(fx, log, sizeof log);
    tf_err_t why = {.code = TF_ERR_PROTO};
    snprintf(why.message, sizeof why.message, "work.attempt: expected unsigned integer, got string");
    for (int i = 0; i < 1000; i++) {
        broker_reject(fx->broker, "BAD", &why, fx->now, 1700000000000 + fx->now);
        s_clear_sent(fx);
    }
    for (int i = 0; i < 3; i++)
        broker_reject(fx->broker, "AA", &why, fx->now, 1700000000000 + fx->now);
    s_clear_sent(fx);
    /* Status shows each peer's count, the biggest first, with the worker's name if it is one. */
    tf_msg_t st;
    assert_int_equal(broker_status(fx->broker, "rid", fx->now, 1700000000000 + fx->now, &st), TF_OK);
    assert_int_equal(st.status.rejects_count, 2);
    assert_string_equal(st.status.rejects[0].peer, "BAD");
    assert_int_equal(st.status.rejects[0].rejected, 1000);
    assert_null(st.status.rejects[0].name);
    assert_string_equal(st.status.rejects[1].peer, "AA");
    assert_string_equal(st.status.rejects[1].name, "AA");
    assert_int_equal(st.status.rejects[1].rejected, 3);
    tf_msg_clear(&st);
    fx->now += 60000;
    broker_tick(fx->broker, fx->now, 1700000000000 + fx->now);
    fx->now += 60000;
    broker_tick(fx->broker, fx->now, 1700000000000 + fx->now);   /* nothing new: no line */
    int single = s_restore_stderr(saved, log, "refused a message from peer BAD: malformed");
    assert_int_equal(single, 5);
    char *text = tf_test_read_file(log);
    printf("%s", text);
    assert_non_null(strstr(text, "peer BAD: 995 more messages refused since the last summary "
                                 "(1000 in all); last: malformed message: work.attempt"));
    assert_non_null(strstr(text, "refused a message from AA (peer AA): malformed message"));
    char *second = strstr(text, "995 more");
    assert_null(strstr(strchr(second, '\n'), "more messages refused"));
    free(text);

}

/* Many or odd peers cannot grow the table without bound or break the status message. */
static void
test_reject_table_bounded(void **state)
{
    fx_t *fx = *state;
    char log[512];
    int saved = s_capture_stderr(fx, log, sizeof log);
    tf_err_t why = {.code = TF_ERR_PROTO};
    snprintf(why.message, sizeof why.message, "garbage");
    char peer[600];
    memset(peer, 'A', 510);
    peer[510] = '\0';
    broker_reject(fx->broker, peer, &why, fx->now, 1);
    for (int i = 0; i < 1100; i++) {
        snprintf(peer, sizeof peer, "P%04d", i);
        broker_reject(fx->broker, peer, &why, fx->now, 1);
        s_clear_sent(fx);
    }
    s_restore_stderr(saved, log, "refused");
    tf_msg_t st;
    assert_int_equal(broker_status(fx->broker, "rid", fx->now, 1700000000000 + fx->now, &st), TF_OK);
    assert_int_equal(st.status.rejects_count, 1025);
    bool others = false;
    for (size_t i = 0; i < st.status.rejects_count; i++) {
        assert_true(strlen(st.status.rejects[i].peer) <= 64);
        others = others || strcmp(st.status.rejects[i].peer, "(other peers)") == 0;
    }
    assert_true(others);
    uint8_t *data;
    size_t size;
    assert_int_equal(tf_msg_encode(&st, &data, &size, NULL), TF_OK);
    free(data);
    tf_msg_clear(&st);
}

static bool
s_saw_topic(fx_t *fx, const char *topic)
{
    for (int i = 0; i < 64 && i < fx->nevents; i++)
        if (strcmp(fx->topics[i], topic) == 0)
            return true;
    return false;
}

static void
test_item_chatter_topics(void **state)
{
    fx_t *fx = *state;
    s_ready(fx, "AA", "echo");
    s_submit(fx, "C1", "c1", "p");
    s_done(fx, "AA", "c1", 1, "r");
    assert_true(s_saw_topic(fx, "worker.echo.ready"));
    assert_true(s_saw_topic(fx, "item.echo.dispatched"));
    assert_true(s_saw_topic(fx, "item.echo.done"));
    for (int i = 0; i < 64 && i < fx->nevents; i++)
        assert_true(strncmp(fx->topics[i], "stage.", 6) != 0);
}

static void
test_job_cancel_drops_queued_abandons_inflight(void **state)
{
    fx_t *fx = *state;
    s_ready(fx, "AA", "echo");
    s_submit_job(fx, "echo", "j1a", "J1");   /* in flight at AA */
    s_submit_job(fx, "echo", "j1b", "J1");   /* queued behind it */
    s_submit_job(fx, "echo", "k1", "J2");    /* another job */
    s_submit_job(fx, "stager", "j1-release", "J1");  /* spared service */
    assert_string_equal(s_find(fx, "AA", TF_MSG_WORK, 0)->work.item_id, "j1a");
    assert_int_equal(s_queued(fx, "echo"), 2);

    s_job_op(fx, "cancel", "J1", "stager");
    tf_msg_t *ok = s_last(fx, "OP");
    assert_non_null(ok);
    assert_int_equal(ok->type, TF_MSG_JOB_OP_OK);
    assert_string_equal(ok->job_op_ok.rid, "rj");
    assert_int_equal(ok->job_op_ok.cancelled, 1);
    assert_int_equal(ok->job_op_ok.abandoned, 1);
    assert_non_null(ok->job_op_ok.catalog_item);
    char record[128];
    snprintf(record, sizeof record, "%s", ok->job_op_ok.catalog_item);
    assert_int_equal(s_state(fx, "j1a", NULL), JOURNAL_CANCELLED);
    assert_int_equal(s_state(fx, "j1b", NULL), JOURNAL_CANCELLED);
    assert_int_equal(s_state(fx, "k1", NULL), JOURNAL_QUEUED);
    assert_int_equal(s_state(fx, "j1-release", NULL), JOURNAL_QUEUED);
    assert_int_equal(s_queued(fx, "echo"), 1);  /* only J2's item */
    assert_false(s_saw_topic(fx, "job.J1.cancelled"));   /* the catalog publishes it once applied */

    /* The catalog's record of the cancel is journalled for the job service. */
    journal_row_t row;
    assert_int_equal(journal_get(fx->journal, record, &row, NULL), TF_OK);
    assert_string_equal(row.service, "catalog");
    tf_msg_t rec;
    assert_int_equal(tf_msg_decode(row.payload.data, row.payload.size, &rec, NULL), TF_OK);
    journal_row_clear(&row);
    assert_string_equal(rec.cat_job.op, "cancelled");
    assert_string_equal(rec.cat_job.message, "cancelled by tester at noon");
    tf_msg_clear(&rec);

    /* The abandoned item's late completion is recorded (the work happened: a retry must not
       redo it) but revives nothing; its worker moves on to J2. */
    s_done(fx, "AA", "j1a", 1, "late");
    assert_int_equal(s_state(fx, "j1a", NULL), JOURNAL_DONE);
    assert_string_equal(s_find(fx, "AA", TF_MSG_WORK, 1)->work.item_id, "k1");
    assert_int_equal(broker_completed(fx->broker), 0);

    /* New work for the cancelled job is recorded cancelled, not queued; spared services run. */
    s_submit_job(fx, "echo", "j1c", "J1");
    ok = s_last(fx, "C1");
    assert_int_equal(ok->type, TF_MSG_SUBMIT_OK);
    assert_string_equal(ok->submit_ok.state, "cancelled");
    assert_int_equal(s_state(fx, "j1c", NULL), JOURNAL_CANCELLED);
    s_submit_job(fx, "catalog", "j1-files", "J1");
    assert_int_equal(s_state(fx, "j1-files", NULL), JOURNAL_QUEUED);

    /* The cancel survives a broker restart. */
    s_close(fx);
    s_open(fx);
    s_submit_job(fx, "echo", "j1d", "J1");
    assert_int_equal(s_state(fx, "j1d", NULL), JOURNAL_CANCELLED);
    s_submit_job(fx, "echo", "k2", "J2");
    assert_int_equal(s_state(fx, "k2", NULL), JOURNAL_QUEUED);
}

static void
test_job_retry_requeues_failed_and_cancelled(void **state)
{
    fx_t *fx = *state;
    s_ready(fx, "AA", "compress");
    s_ready(fx, "CAT", "catalog");
    s_submit_job(fx, "compress", "g1", "J1");
    s_submit_job(fx, "compress", "g2", "J1");
    s_submit_job(fx, "compress", "g3", "J1");
    tf_msg_t f = {.type = TF_MSG_FAILED};
    f.failed = (tf_msg_failed_t){.item_id = "g1", .attempt = 1, .reason = "no label", .retry = false};
    s_handle(fx, "AA", &f);                       /* g1 fails for good, reported */
    assert_string_equal(s_find(fx, "CAT", TF_MSG_WORK, 0)->work.item_id, "g1-failed");
    s_done(fx, "CAT", "g1-failed", 1, "");
    s_done(fx, "AA", "g2", 1, "ok");              /* g2 finished: never redone */
    assert_int_equal(s_state(fx, "g3", NULL), JOURNAL_INFLIGHT);
    s_submit_job(fx, "compress", "g5", "J1");         /* queued behind g3 */

    /* Nothing failed in another job: refused, nothing recorded. */
    s_job_op(fx, "retry", "J9", NULL);
    tf_msg_t *e = s_last(fx, "OP");
    assert_int_equal(e->type, TF_MSG_ERROR);
    assert_int_equal(e->error.code, TF_ERR_NOTFOUND);
    assert_non_null(strstr(e->error.message, "nothing to retry"));

    s_job_op(fx, "cancel", "J1", NULL);          /* g3 abandoned in flight, g5 dropped */
    assert_int_equal(s_state(fx, "g5", NULL), JOURNAL_CANCELLED);
    tf_msg_t late = {.type = TF_MSG_FAILED};
    late.failed = (tf_msg_failed_t){.item_id = "g3", .attempt = 1, .reason = "x", .retry = false};
    s_handle(fx, "AA", &late);                    /* a late failure changes nothing */
    assert_int_equal(s_state(fx, "g3", NULL), JOURNAL_CANCELLED);
    assert_int_equal(journal_get(fx->journal, "g3-failed", &(journal_row_t){0}, NULL), TF_ERR_NOTFOUND);
    s_done(fx, "CAT", s_find(fx, "CAT", TF_MSG_WORK, 1)->work.item_id, 1, "");

    s_job_op(fx, "retry", "J1", NULL);
    tf_msg_t *ok = s_last(fx, "OP");
    assert_int_equal(ok->type, TF_MSG_JOB_OP_OK);
    assert_int_equal(ok->job_op_ok.requeued, 3);  /* g1 failed, g3 and g5 cancelled */
    assert_non_null(strstr(ok->job_op_ok.catalog_item, "-retried-"));
    int64_t attempts = -1;
    assert_int_not_equal(s_state(fx, "g1", &attempts), JOURNAL_FAILED);
    assert_int_equal(s_state(fx, "g2", NULL), JOURNAL_DONE);
    /* The catalog hears of the retry before any effect of it. */
    tf_msg_t *w = s_find(fx, "CAT", TF_MSG_WORK, 2);
    assert_non_null(w);
    assert_non_null(strstr(w->work.item_id, "-retried-"));
    /* Requeued with fresh attempts; AA runs g1 as attempt 1. */
    w = s_find(fx, "AA", TF_MSG_WORK, 3);
    assert_non_null(w);
    assert_string_equal(w->work.item_id, "g1");
    assert_int_equal(w->work.attempt, 1);
    /* A failure after the retry reaches the catalog again. */
    s_handle(fx, "AA", &f);
    assert_int_equal(s_state(fx, "g1-failed", NULL), JOURNAL_QUEUED);
    /* No longer cancelled: new items queue. */
    s_submit_job(fx, "compress", "g4", "J1");
    assert_int_not_equal(s_state(fx, "g4", NULL), JOURNAL_CANCELLED);
    /* Unknown op refused. */
    s_job_op(fx, "pause", "J1", NULL);
    assert_int_equal(s_last(fx, "OP")->type, TF_MSG_ERROR);
}

/* Runs sql on the journal through a second connection (failure injection with triggers). */
static void
s_sql(fx_t *fx, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fprintf(stderr, "sql: %s\n", msg ? msg : "?");
    assert_int_equal(rc, SQLITE_OK);
    sqlite3_close(db);
}

/* F13: a new item of a cancelled job is inserted cancelled in one write - never queued, even
   when a second write (mark cancelled) would fail. */
static void
test_cancelled_job_item_inserted_cancelled(void **state)
{
    fx_t *fx = *state;
    s_ready(fx, "AA", "echo");
    s_job_op(fx, "cancel", "J1", NULL);
    assert_int_equal(s_last(fx, "OP")->type, TF_MSG_JOB_OP_OK);
    s_sql(fx, "CREATE TRIGGER no_cancel BEFORE UPDATE ON items WHEN NEW.state = 4 "
              "BEGIN SELECT RAISE(ABORT, 'injected: cannot mark cancelled'); END;");
    s_submit_job(fx, "echo", "j1x", "J1");
    tf_msg_t *ok = s_last(fx, "C1");
    assert_int_equal(ok->type, TF_MSG_SUBMIT_OK);
    assert_string_equal(ok->submit_ok.state, "cancelled");
    assert_int_equal(s_state(fx, "j1x", NULL), JOURNAL_CANCELLED);
    assert_null(s_find(fx, "AA", TF_MSG_WORK, 0));
}

/* F13: a queued item of a cancelled job found at start (the crash window of an older broker,
   or a cancel that could not mark it) is marked cancelled, not run. */
static void
test_recover_pending_item_of_cancelled_job(void **state)
{
    fx_t *fx = *state;
    s_close(fx);
    tf_err_t err = {0};
    journal_t *j = journal_open(fx->path, &err);
    assert_non_null(j);
    assert_int_equal(journal_job_cancelled_set(j, "J1", "", "cancelled by tester", 5, &err), TF_OK);
    assert_int_equal(journal_insert(j, "j1q", "echo", "J1", "p", 1, 6, &err), TF_OK);
    assert_int_equal(journal_insert(j, "k1", "echo", "J2", "p", 1, 7, &err), TF_OK);
    journal_destroy(&j);
    s_open(fx);
    assert_int_equal(s_state(fx, "j1q", NULL), JOURNAL_CANCELLED);
    s_ready(fx, "AA", "echo");
    assert_string_equal(s_find(fx, "AA", TF_MSG_WORK, 0)->work.item_id, "k1");
    s_done(fx, "AA", "k1", 1, "");
    assert_null(s_find(fx, "AA", TF_MSG_WORK, 1));
}

/* F13: an item the journal cannot mark is reported to the client, not silently skipped; the
   same for a retry that cannot queue an item again. */
static void
test_job_op_partial_failure_reported(void **state)
{
    fx_t *fx = *state;
    s_ready(fx, "AA", "compress");
    s_submit_job(fx, "compress", "j1a", "J1");   /* in flight */
    s_submit_job(fx, "compress", "j1b", "J1");   /* queued */
    s_sql(fx, "CREATE TRIGGER no_cancel BEFORE UPDATE ON items WHEN NEW.state = 4 AND OLD.id = 'j1b' "
              "BEGIN SELECT RAISE(ABORT, 'injected: disk full'); END;");
    s_job_op(fx, "cancel", "J1", NULL);
    tf_msg_t *ok = s_last(fx, "OP");
    assert_int_equal(ok->type, TF_MSG_JOB_OP_OK);
    assert_int_equal(ok->job_op_ok.abandoned, 1);
    assert_int_equal(ok->job_op_ok.cancelled, 0);
    assert_int_equal(ok->job_op_ok.unrecorded, 1);
    assert_non_null(ok->job_op_ok.note);
    assert_non_null(strstr(ok->job_op_ok.note, "1 item could not be marked cancelled in the broker's "
                                               "journal ("));
    assert_non_null(strstr(ok->job_op_ok.note, "j1b"));   /* the journal's own error */
    /* Not run now (its job is cancelled) ... */
    s_done(fx, "AA", "j1a", 1, "late");
    assert_null(s_find(fx, "AA", TF_MSG_WORK, 1));
    /* ... and marked cancelled by the next start. */
    s_sql(fx, "DROP TRIGGER no_cancel;");
    s_close(fx);
    s_open(fx);
    assert_int_equal(s_state(fx, "j1b", NULL), JOURNAL_CANCELLED);

    /* A retry whose requeue fails says so. */
    s_sql(fx, "CREATE TRIGGER no_requeue BEFORE UPDATE ON items WHEN NEW.state = 0 AND OLD.state = 4 "
              "BEGIN SELECT RAISE(ABORT, 'injected: disk full'); END;");
    s_job_op(fx, "retry", "J1", NULL);
    ok = s_last(fx, "OP");
    assert_int_equal(ok->type, TF_MSG_JOB_OP_OK);
    assert_int_equal(ok->job_op_ok.requeued, 0);
    assert_int_equal(ok->job_op_ok.unrecorded, 1);
    assert_non_null(strstr(ok->job_op_ok.note, "1 item could not be queued again in the broker's "
                                               "journal (journal: "));
}

/* F6: a retry right after a cancel leaves abandoned items to their old workers until those end
   (done/failed or death): queued at once, a second worker would write the same archive. */
static void
test_retry_skips_items_still_finishing(void **state)
{
    fx_t *fx = *state;
    s_ready(fx, "AA", "compress");
    s_ready(fx, "BB", "compress");
    s_submit_job(fx, "compress", "g1", "J1");    /* at AA */
    s_submit_job(fx, "compress", "g2", "J1");    /* at BB */
    s_job_op(fx, "cancel", "J1", NULL);
    assert_int_equal(s_last(fx, "OP")->job_op_ok.abandoned, 2);

    s_job_op(fx, "retry", "J1", NULL);
    tf_msg_t *ok = s_last(fx, "OP");
    assert_int_equal(ok->type, TF_MSG_JOB_OP_OK);
    assert_int_equal(ok->job_op_ok.requeued, 0);
    assert_int_equal(ok->job_op_ok.finishing, 2);
    assert_string_equal(ok->job_op_ok.note, "2 items still finishing; retry again shortly");
    assert_int_equal(s_queued(fx, "compress"), 0);
    assert_int_equal(s_state(fx, "g1", NULL), JOURNAL_CANCELLED);

    /* AA's late failure ends g1 there; BB dies holding g2: both may run again. */
    tf_msg_t f = {.type = TF_MSG_FAILED};
    f.failed = (tf_msg_failed_t){.item_id = "g1", .attempt = 1, .reason = "interrupted", .retry = false};
    s_handle(fx, "AA", &f);
    tf_msg_t bye = {.type = TF_MSG_DISCONNECT};
    bye.disconnect.reason = "stopping";
    s_handle(fx, "BB", &bye);
    s_job_op(fx, "retry", "J1", NULL);
    ok = s_last(fx, "OP");
    assert_int_equal(ok->type, TF_MSG_JOB_OP_OK);
    assert_int_equal(ok->job_op_ok.requeued, 2);
    assert_int_equal(ok->job_op_ok.finishing, 0);
    assert_null(ok->job_op_ok.note);
    assert_string_equal(s_find(fx, "AA", TF_MSG_WORK, 1)->work.item_id, "g1");
}

/* F7: retry runs again only the backup pipeline's items, not an old failed restore or purge
   that carried the job's id. */
static void
test_retry_only_pipeline_items(void **state)
{
    fx_t *fx = *state;
    s_close(fx);
    tf_err_t err = {0};
    journal_t *j = journal_open(fx->path, &err);
    assert_non_null(j);
    const char *items[][2] = {{"J1-scan", "scan"}, {"J1-g00001", "compress"},
                              {"J1-g00001-tape", "tape"}, {"J1-g00001-files-1", "catalog"},
                              {"r-restore-7", "tape"}, {"p-purge-3", "stager"}};
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
        assert_int_equal(journal_insert(j, items[i][0], items[i][1], "J1", "p", 1, 10, &err), TF_OK);
        assert_int_equal(journal_mark_failed(j, items[i][0], "broken", 11, &err), TF_OK);
    }
    journal_destroy(&j);
    s_open(fx);
    s_job_op(fx, "retry", "J1", NULL);
    tf_msg_t *ok = s_last(fx, "OP");
    assert_int_equal(ok->type, TF_MSG_JOB_OP_OK);
    assert_int_equal(ok->job_op_ok.requeued, 4);
    assert_int_equal(s_state(fx, "J1-g00001-tape", NULL), JOURNAL_QUEUED);
    assert_int_equal(s_state(fx, "r-restore-7", NULL), JOURNAL_FAILED);
    assert_int_equal(s_state(fx, "p-purge-3", NULL), JOURNAL_FAILED);
    /* The catalog publishes job.<id>.retried once applied; the broker does not. */
    assert_false(s_saw_topic(fx, "job.J1.retried"));
}

/* F14: a flood from many short-lived peers logs at most reject_log_minute single lines a
   minute and a bounded summary, and their rows leave the table after an hour of quiet. */
static void
test_reject_log_budget_across_peers(void **state)
{
    fx_t *fx = *state;
    broker_opts_t opts = s_opts_known;
    opts.reject_log_minute = 20;
    s_reopen(fx, &opts);
    char log[512];
    int saved = s_capture_stderr(fx, log, sizeof log);
    tf_err_t why = {.code = TF_ERR_PROTO};
    snprintf(why.message, sizeof why.message, "garbage");
    int64_t wall = 1700000000000;
    for (int i = 0; i < 500; i++) {
        char peer[16];
        snprintf(peer, sizeof peer, "P%04d", i);
        broker_reject(fx->broker, peer, &why, fx->now, wall + fx->now);
        broker_reject(fx->broker, peer, &why, fx->now, wall + fx->now);
        s_clear_sent(fx);
    }
    fx->now += 60000;
    broker_tick(fx->broker, fx->now, wall + fx->now);
    int single = s_restore_stderr(saved, log, "refused a message from peer");
    assert_int_equal(single, 20);
    char *text = tf_test_read_file(log);
    assert_non_null(strstr(text, "20 refusals logged this minute (broker/reject_log_minute)"));
    int summaries = 0;
    for (const char *p = text; (p = strstr(p, "more messages refused since the last summary")); p++)
        summaries++;
    assert_int_equal(summaries, 11);   /* the 10 peers refused most, then one line for the rest */
    assert_non_null(strstr(text, "from 480 other peers"));
    free(text);
    /* A new minute: the budget is back. */
    saved = s_capture_stderr(fx, log, sizeof log);
    broker_reject(fx->broker, "NEW", &why, fx->now, wall + fx->now);
    assert_int_equal(s_restore_stderr(saved, log, "refused a message from peer NEW"), 1);
    s_clear_sent(fx);

    /* An hour of quiet: the rows go (but a peer refused recently stays). */
    fx->now += 3600 * 1000 - 1000;
    broker_reject(fx->broker, "RECENT", &why, fx->now, wall + fx->now);
    s_clear_sent(fx);
    fx->now += 60000;
    broker_tick(fx->broker, fx->now, wall + fx->now);
    fx->now += 60000;
    broker_tick(fx->broker, fx->now, wall + fx->now);
    assert_int_equal(broker_rejected(fx->broker, "P0001"), 0);
    assert_int_equal(broker_rejected(fx->broker, "RECENT"), 1);
    tf_msg_t st;
    assert_int_equal(broker_status(fx->broker, "rid", fx->now, wall + fx->now, &st), TF_OK);
    assert_int_equal(st.status.rejects_count, 1);
    tf_msg_clear(&st);
}

/* ------------------------------------------------------------------ hosts (issue 10) -- */

static void
s_ready_on(fx_t *fx, const char *peer, const char *service, const char *host, const char *key)
{
    tf_msg_t m = {.type = TF_MSG_READY};
    m.ready = (tf_msg_ready_t){.service = (char *) service, .worker = (char *) peer,
                               .host = (char *) host, .pid = 7};
    broker_handle(fx->broker, peer, key, &m, fx->now, 1700000000000 + fx->now);
}

static void
s_submit_on(fx_t *fx, const char *id, const char *job, const char *host)
{
    tf_msg_t m = {.type = TF_MSG_SUBMIT};
    m.submit = (tf_msg_submit_t){.rid = "r", .service = "echo", .item_id = (char *) id,
                                 .job_id = (char *) job, .host = (char *) host,
                                 .payload = {(uint8_t *) "p", 1}};
    s_handle(fx, "C1", &m);
}

static const char *
s_work_item(fx_t *fx, const char *peer, int n)
{
    tf_msg_t *w = s_find(fx, peer, TF_MSG_WORK, n);
    return w ? w->work.item_id : NULL;
}

static void
test_items_with_a_host_go_only_to_its_workers(void **state)
{
    fx_t *fx = *state;
    s_ready_on(fx, "AA", "echo", "A", NULL);
    s_ready_on(fx, "BB", "echo", "B", "agent-b");
    s_ready_on(fx, "OLD", "echo", NULL, NULL);   /* registered without a host */
    s_submit_on(fx, "forB", NULL, "B");
    assert_string_equal(s_work_item(fx, "BB", 0), "forB");
    assert_null(s_work_item(fx, "AA", 0));
    /* B is busy: a second item for B waits, one without a host behind it does not. */
    s_submit_on(fx, "forB2", NULL, "B");
    s_submit_on(fx, "any", NULL, NULL);
    assert_null(s_work_item(fx, "BB", 1));
    assert_true(s_work_item(fx, "AA", 0) || s_work_item(fx, "OLD", 0));
    /* A worker without a host never gets an item that has one. */
    assert_null(s_find(fx, "OLD", TF_MSG_WORK, 1));
    s_done_as(fx, "BB", "agent-b", "forB", 1, "r");
    assert_string_equal(s_work_item(fx, "BB", 1), "forB2");
    assert_int_equal(s_state(fx, "forB2", NULL), JOURNAL_INFLIGHT);

    /* Status shows where each worker registered from, and with which key. */
    tf_msg_t st;
    assert_int_equal(broker_status(fx->broker, "rid", fx->now, 1700000000000 + fx->now, &st), TF_OK);
    bool saw_b = false, saw_a = false;
    for (size_t i = 0; i < st.status.workers_count; i++) {
        tf_msg_worker_row_t *row = &st.status.workers[i];
        if (strcmp(row->name, "BB") == 0) {
            assert_string_equal(row->host, "B");
            assert_string_equal(row->key, "agent-b");
            saw_b = true;
        }
        if (strcmp(row->name, "AA") == 0) {
            assert_string_equal(row->host, "A");
            assert_null(row->key);
            saw_a = true;
        }
    }
    assert_true(saw_a && saw_b);
    tf_msg_clear(&st);
}

static void
test_host_survives_broker_restart(void **state)
{
    fx_t *fx = *state;
    s_submit_on(fx, "forB", "J1", "B");
    journal_row_t row;
    assert_int_equal(journal_get(fx->journal, "forB", &row, NULL), TF_OK);
    assert_string_equal(row.host, "B");
    journal_row_clear(&row);
    s_close(fx);
    s_open(fx);
    s_ready_on(fx, "AA", "echo", "A", NULL);
    assert_null(s_work_item(fx, "AA", 0));
    s_ready_on(fx, "BB", "echo", "B", NULL);
    assert_string_equal(s_work_item(fx, "BB", 0), "forB");
}

/* The catalog notes queued for job (decoded messages, in order), at most max. */
static int
s_collect_payload(const journal_row_t *row, void *arg)
{
    zlistx_t *ids = arg;
    if (strcmp(row->service, "catalog") == 0)
        zlistx_add_end(ids, strdup(row->id));
    return TF_OK;
}

static size_t
s_job_notes(fx_t *fx, const char *job, const char *needle)
{
    zlistx_t *ids = zlistx_new();
    tf_err_t err = {0};
    assert_int_equal(journal_load_job(fx->journal, job, JOURNAL_QUEUED, s_collect_payload, ids, &err), TF_OK);
    size_t found = 0;
    for (char *id = zlistx_first(ids); id; id = zlistx_next(ids)) {
        journal_row_t row;
        assert_int_equal(journal_get(fx->journal, id, &row, &err), TF_OK);
        tf_msg_t m;
        assert_int_equal(tf_msg_decode(row.payload.data, row.payload.size, &m, &err), TF_OK);
        assert_int_equal(m.type, TF_MSG_CAT_JOB);
        if (strcmp(m.cat_job.op, "note") == 0 && strstr(m.cat_job.message, needle)) {
            assert_string_equal(m.cat_job.stage, "echo");
            found++;
        }
        tf_msg_clear(&m);
        journal_row_clear(&row);
        free(id);
    }
    zlistx_destroy(&ids);
    return found;
}

/* Moves time on by ms with the registered workers alive (a heartbeat from each just before),
   then ticks: only alerts about hosts are left to see. */
static void
s_later(fx_t *fx, int64_t ms)
{
    fx->now += ms;
    tf_msg_t hb = {.type = TF_MSG_HEARTBEAT};
    const char *peers[] = {"AA", "CC"};
    for (size_t i = 0; i < 2; i++)
        s_handle(fx, peers[i], &hb);
    broker_tick(fx->broker, fx->now, 1700000000000 + fx->now);
}

static void
test_item_for_absent_host_alerts_and_tells_job(void **state)
{
    fx_t *fx = *state;
    s_ready_on(fx, "AA", "echo", "A", NULL);
    s_submit_on(fx, "g1", "J1", "C");
    s_submit_on(fx, "g2", "J1", "C");
    assert_null(s_work_item(fx, "AA", 0));
    /* Under broker/host_wait_alert (30 s by default): nothing yet. */
    s_later(fx, 29000);
    assert_int_equal(fx->nalerts, 0);
    assert_int_equal(s_job_notes(fx, "J1", "waiting for host C"), 0);
    s_later(fx, 2000);
    assert_int_equal(fx->nalerts, 1);
    assert_true(s_saw_topic(fx, "alert.worker.echo"));
    assert_non_null(strstr(fx->alert, "2 echo items wait for host C"));
    assert_non_null(strstr(fx->alert, "start the file agent on C: tapeflow up with up/roles agent"));
    assert_int_equal(s_job_notes(fx, "J1", "waiting for host C: no echo worker there"), 1);
    /* Not again within the interval; once after it, and the job is told only once. */
    s_later(fx, 10000);
    assert_int_equal(fx->nalerts, 1);
    s_later(fx, 21000);
    assert_int_equal(fx->nalerts, 2);
    assert_int_equal(s_job_notes(fx, "J1", "waiting for host C"), 1);
    /* A worker of C: the items run, the job hears it goes on. */
    s_ready_on(fx, "CC", "echo", "C", NULL);
    assert_string_equal(s_work_item(fx, "CC", 0), "g1");
    s_later(fx, 1000);
    assert_int_equal(s_job_notes(fx, "J1", "host C has a worker for echo again"), 1);
    assert_int_equal(fx->nalerts, 2);
    /* A busy worker of the host is an ordinary wait: no alert. */
    s_later(fx, 60000);
    assert_int_equal(fx->nalerts, 2);
}

static void
test_journal_without_host_column_upgraded(void **state)
{
    fx_t *fx = *state;
    s_close(fx);
    char old[sizeof fx->path];
    snprintf(old, sizeof old, "%.240s/old.db", fx->dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(old, &db), SQLITE_OK);
    /* The items table as journals before issue 10 have it, with one queued item. */
    assert_int_equal(sqlite3_exec(db,
        "CREATE TABLE items (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,"
        " service TEXT NOT NULL, job_id TEXT, state INTEGER NOT NULL, attempts INTEGER NOT NULL"
        " DEFAULT 0, worker TEXT, reason TEXT, payload BLOB, result BLOB, created_ms INTEGER NOT"
        " NULL, updated_ms INTEGER NOT NULL);"
        "INSERT INTO items(id, service, state, payload, created_ms, updated_ms)"
        " VALUES('old1', 'echo', 0, x'70', 5, 5);", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    snprintf(fx->path, sizeof fx->path, "%s", old);
    s_open(fx);
    journal_row_t row;
    assert_int_equal(journal_get(fx->journal, "old1", &row, NULL), TF_OK);
    assert_null(row.host);
    journal_row_clear(&row);
    /* Recovered, it runs on any worker; new items keep their host. */
    s_ready_on(fx, "BB", "echo", "B", NULL);
    assert_string_equal(s_work_item(fx, "BB", 0), "old1");
    s_submit_on(fx, "new1", NULL, "B");
    assert_int_equal(journal_get(fx->journal, "new1", &row, NULL), TF_OK);
    assert_string_equal(row.host, "B");
    journal_row_clear(&row);
    /* Opening it again does not try to add the column twice. */
    s_close(fx);
    s_open(fx);
}


/* ------------------------------------------------------------------ item ownership --- */

static void
s_report_as(fx_t *fx, const char *peer, const char *key, tf_msg_type_t type, const char *id)
{
    tf_msg_t m = {.type = type};
    if (type == TF_MSG_FAILED)
        m.failed = (tf_msg_failed_t){.item_id = (char *) id, .attempt = 1, .reason = "forged", .retry = false};
    else if (type == TF_MSG_PROGRESS)
        m.progress = (tf_msg_progress_t){.item_id = (char *) id, .done = 1, .total = 2, .message = "half"};
    else
        m.done = (tf_msg_done_t){.item_id = (char *) id, .attempt = 1, .result = {(uint8_t *) "r", 1}};
    broker_handle(fx->broker, peer, key, &m, fx->now, 1700000000000 + fx->now);
}

static void
test_keyed_reports_only_from_the_item_owner(void **state)
{
    fx_t *fx = *state;
    s_ready_on(fx, "W1", "echo", "B", "agent-b");
    s_submit_on(fx, "x", "J1", NULL);
    assert_string_equal(s_work_item(fx, "W1", 0), "x");
    s_ready_on(fx, "W2", "echo", "C", "agent-c");   /* registered, idle, another key */
    /* A registered stranger, an unregistered one, and one behind the owner's routing id. */
    const tf_msg_type_t types[] = {TF_MSG_DONE, TF_MSG_FAILED, TF_MSG_PROGRESS};
    int events = fx->nevents;
    for (size_t i = 0; i < 3; i++) {
        s_report_as(fx, "W2", "agent-c", types[i], "x");
        s_report_as(fx, "EVIL", "agent-c", types[i], "x");
        s_report_as(fx, "W1", "agent-c", types[i], "x");
    }
    assert_int_equal(broker_refused(fx->broker), 9);
    assert_int_equal(fx->nalerts, 9);
    assert_true(s_saw_topic(fx, "alert.security"));
    assert_non_null(strstr(fx->alert, "key agent-c"));
    assert_false(s_saw_topic(fx, "job.J1.progress"));   /* no forged progress relayed */
    assert_int_equal(s_state(fx, "x", NULL), JOURNAL_INFLIGHT);
    assert_int_equal(broker_completed(fx->broker), 0);
    assert_null(s_work_item(fx, "W2", 0));
    (void) events;
    /* The owner: progress relayed, done accepted, its repeat a duplicate (not a refusal). */
    s_report_as(fx, "W1", "agent-b", TF_MSG_PROGRESS, "x");
    assert_true(s_saw_topic(fx, "job.J1.progress"));
    s_done_as(fx, "W1", "agent-b", "x", 1, "r");
    assert_int_equal(s_state(fx, "x", NULL), JOURNAL_DONE);
    s_done_as(fx, "W1", "agent-b", "x", 1, "r");
    assert_int_equal(broker_duplicates(fx->broker), 1);
    assert_int_equal(broker_refused(fx->broker), 9);
    /* Over ipc (no key) peers are local and trusted, as before. */
    s_submit_on(fx, "y", "J1", NULL);
    const char *holder = s_work_item(fx, "W1", 1) ? "W1" : "W2";
    assert_string_equal(s_work_item(fx, holder, strcmp(holder, "W1") == 0 ? 1 : 0), "y");
    s_done_as(fx, "LOCAL", NULL, "y", 1, "r");
    assert_int_equal(s_state(fx, "y", NULL), JOURNAL_DONE);
    assert_int_equal(broker_refused(fx->broker), 9);
}

static void
test_keyed_late_done_from_a_dead_owner_is_its_own(void **state)
{
    fx_t *fx = *state;
    s_ready_on(fx, "W1", "echo", "B", "agent-b");
    s_submit_on(fx, "x", NULL, NULL);
    assert_string_equal(s_work_item(fx, "W1", 0), "x");
    s_ready_on(fx, "W2", "echo", "B", "agent-b2");
    /* W1 goes silent and is declared dead; x goes to W2. */
    for (int i = 0; i < 4; i++) {
        fx->now += 100;
        tf_msg_t hb = {.type = TF_MSG_HEARTBEAT};
        broker_handle(fx->broker, "W2", "agent-b2", &hb, fx->now, 1700000000000 + fx->now);
        broker_tick(fx->broker, fx->now, 1700000000000 + fx->now);
    }
    assert_string_equal(s_work_item(fx, "W2", 0), "x");
    /* W1's late done: it was given x, so first completion wins, as over ipc. */
    s_done_as(fx, "W1", "agent-b", "x", 1, "r1");
    assert_int_equal(s_state(fx, "x", NULL), JOURNAL_DONE);
    assert_int_equal(broker_refused(fx->broker), 0);
    /* W2's own done afterwards is a duplicate; a third key's is refused. */
    s_done_as(fx, "W2", "agent-b2", "x", 2, "r2");
    assert_int_equal(broker_duplicates(fx->broker), 1);
    s_done_as(fx, "W9", "agent-c", "x", 2, "r9");
    assert_int_equal(broker_refused(fx->broker), 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_item_per_worker, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_expired_worker_item_redelivered_and_late_done_ignored, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_heartbeats_sent_and_unknown_worker_told_to_register, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_vanished_peer_on_dispatch_keeps_item, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_retry_until_max_attempts_then_failed, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_permanent_failure, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_recovery_requeues_pending_in_order, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_submit_idempotent_and_conflicting, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_status_and_item_queries, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_disconnect_requeues_at_once, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_job_failure_reported_to_catalog, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_tick_dispatches_after_journal_failure, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_service_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_recovered_service_stays_known, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_rejects_counted_and_logs_rate_limited, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_item_chatter_topics, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_reject_table_bounded, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_job_cancel_drops_queued_abandons_inflight, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_job_retry_requeues_failed_and_cancelled, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_cancelled_job_item_inserted_cancelled, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_recover_pending_item_of_cancelled_job, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_job_op_partial_failure_reported, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_retry_skips_items_still_finishing, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_retry_only_pipeline_items, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_reject_log_budget_across_peers, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_items_with_a_host_go_only_to_its_workers, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_host_survives_broker_restart, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_item_for_absent_host_alerts_and_tells_job, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_journal_without_host_column_upgraded, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_keyed_reports_only_from_the_item_owner, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_keyed_late_done_from_a_dead_owner_is_its_own, s_setup, s_teardown),
    };
    return cmocka_run_group_tests_name("broker_core", tests, NULL, NULL);
}
