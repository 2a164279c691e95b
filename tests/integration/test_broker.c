/*  Broker, echo workers and the bus as real processes: dispatch, idempotent submit, failures,
    a worker killed mid-item, the broker killed mid-item, a frozen worker's late completion,
    malformed input, and event order on the bus. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tf_client.h"
#include "tf_clock.h"
#include "tf_config.h"
#include "tf_publisher.h"
#include "tf_testproc.h"
#include "tf_wire.h"

typedef struct {
    char *dir;
    char config[256];
    char endpoint[256];
    char bus_in[256];
    char bus_out[256];
    char record[256];
    tf_testproc_t *broker;
    tf_testproc_t *bus;
    tf_testproc_t *workers[4];
    tf_client_t *client;
} fixture_t;

static void
s_start_broker(fixture_t *f)
{
    char log[300];
    snprintf(log, sizeof log, "%s/broker.log", f->dir);
    char *argv[] = {"tapeflow-broker", "--config", f->config, "--log-level", "debug", NULL};
    f->broker = tf_testproc_start("tapeflow-broker", argv, NULL, log);
    assert_non_null(f->broker);
}

static void
s_start_worker(fixture_t *f, int index)
{
    char log[300], name[32];
    snprintf(log, sizeof log, "%s/echo%d.log", f->dir, index);
    snprintf(name, sizeof name, "echo.%d", index);
    char *argv[] = {"tapeflow-echo", "--config", f->config, "--name", name, NULL};
    f->workers[index] = tf_testproc_start("tapeflow-echo", argv, NULL, log);
    assert_non_null(f->workers[index]);
}

static int
s_setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    f->dir = tf_test_tempdir("tfbrk");
    assert_non_null(f->dir);
    snprintf(f->config, sizeof f->config, "%s/tapeflow.cfg", f->dir);
    snprintf(f->endpoint, sizeof f->endpoint, "ipc://%s/run/broker.sock", f->dir);
    snprintf(f->bus_in, sizeof f->bus_in, "ipc://%s/run/bus-in.sock", f->dir);
    snprintf(f->bus_out, sizeof f->bus_out, "ipc://%s/run/bus-out.sock", f->dir);
    snprintf(f->record, sizeof f->record, "%s/record.txt", f->dir);
    FILE *cfg = fopen(f->config, "w");
    assert_non_null(cfg);
    fprintf(cfg,
            "tapeflow\n    home = \"%s\"\n"
            "broker\n    heartbeat = 200\n    liveness = 3\n    max_attempts = 3\n"
            "actors\n    echo\n        record = \"%s\"\n",
            f->dir, f->record);
    fclose(cfg);
    s_start_broker(f);
    f->client = tf_client_new(NULL, f->endpoint, NULL);
    assert_non_null(f->client);
    *state = f;
    return 0;
}

static int
s_teardown(void **state)
{
    fixture_t *f = *state;
    tf_client_destroy(&f->client);
    for (int i = 0; i < 4; i++)
        tf_testproc_destroy(&f->workers[i]);
    tf_testproc_destroy(&f->broker);
    tf_testproc_destroy(&f->bus);
    tf_test_dir_done(&f->dir);
    free(f);
    return 0;
}

/* Waits until the broker answers STATUS (it may still be starting). */
static void
s_wait_broker(fixture_t *f)
{
    int64_t deadline = tf_clock_mono_ms() + 10000;
    for (;;) {
        tf_msg_t reply;
        if (tf_client_status(f->client, &reply, 500, NULL) == TF_OK) {
            tf_msg_clear(&reply);
            return;
        }
        assert_true(tf_clock_mono_ms() < deadline);
    }
}

static uint64_t
s_service_count(fixture_t *f, const char *service, const char *what)
{
    tf_msg_t reply;
    tf_err_t err = {0};
    if (tf_client_status(f->client, &reply, 2000, &err) != TF_OK)
        fail_msg("status: %s", err.message);
    uint64_t value = 0;
    for (size_t i = 0; i < reply.status.services_count; i++) {
        tf_msg_service_row_t *row = &reply.status.services[i];
        if (strcmp(row->name, service) != 0)
            continue;
        if (!strcmp(what, "workers")) value = row->workers;
        else if (!strcmp(what, "idle")) value = row->idle;
        else if (!strcmp(what, "done")) value = row->done;
        else if (!strcmp(what, "failed")) value = row->failed;
        else if (!strcmp(what, "queued")) value = row->queued;
        else if (!strcmp(what, "inflight")) value = row->inflight;
        else if (!strcmp(what, "redelivered")) value = row->redelivered;
    }
    tf_msg_clear(&reply);
    return value;
}

static void
s_wait_workers(fixture_t *f, uint64_t n)
{
    int64_t deadline = tf_clock_mono_ms() + 10000;
    while (s_service_count(f, "echo", "workers") != n) {
        assert_true(tf_clock_mono_ms() < deadline);
        tf_clock_sleep_ms(50);
    }
}

static char *
s_submit(fixture_t *f, const char *item_id, const char *payload, bool *existed)
{
    tf_msg_t reply;
    tf_err_t err = {0};
    int rc = tf_client_submit(f->client, "echo", item_id, "job1", payload, strlen(payload), &reply, 5000, &err);
    if (rc != TF_OK)
        fail_msg("submit: %s", err.message);
    assert_int_equal(reply.type, TF_MSG_SUBMIT_OK);
    char *id = strdup(reply.submit_ok.item_id);
    if (existed)
        *existed = reply.submit_ok.existed;
    tf_msg_clear(&reply);
    return id;
}

/* Polls the item until it reaches state (or the timeout); returns the final info. */
static void
s_wait_state(fixture_t *f, const char *id, const char *state, int timeout_ms, tf_msg_t *info)
{
    int64_t deadline = tf_clock_mono_ms() + timeout_ms;
    for (;;) {
        tf_err_t err = {0};
        int rc = tf_client_item(f->client, id, info, 2000, &err);
        if (rc == TF_OK && strcmp(info->item_info.state, state) == 0)
            return;
        if (rc == TF_OK) {
            if (tf_clock_mono_ms() >= deadline)
                fail_msg("item %s is %s, expected %s", id, info->item_info.state, state);
            tf_msg_clear(info);
        }
        else if (rc != TF_ERR_TIMEOUT || tf_clock_mono_ms() >= deadline)
            fail_msg("item %s: %s", id, err.message);
        tf_clock_sleep_ms(30);
    }
}

static int
s_record_lines(fixture_t *f, const char *id)
{
    char *text = tf_test_read_file(f->record);
    int n = 0;
    size_t idlen = strlen(id);
    for (char *line = text; line && *line;) {
        if (strncmp(line, id, idlen) == 0 && line[idlen] == ' ')
            n++;
        char *nl = strchr(line, '\n');
        line = nl ? nl + 1 : NULL;
    }
    free(text);
    return n;
}

static void
test_dispatch_and_result(void **state)
{
    fixture_t *f = *state;
    s_start_worker(f, 0);
    s_wait_broker(f);
    char *id = s_submit(f, NULL, "hello tape", NULL);
    tf_msg_t info;
    s_wait_state(f, id, "done", 10000, &info);
    assert_int_equal(info.item_info.result.size, strlen("hello tape"));
    assert_memory_equal(info.item_info.result.data, "hello tape", strlen("hello tape"));
    assert_int_equal(info.item_info.attempts, 1);
    assert_string_equal(info.item_info.job_id, "job1");
    tf_msg_clear(&info);
    assert_int_equal(s_record_lines(f, id), 1);
    assert_int_equal(s_service_count(f, "echo", "done"), 1);
    free(id);
}

static void
test_queue_waits_for_worker_and_submit_is_idempotent(void **state)
{
    fixture_t *f = *state;
    s_wait_broker(f);
    bool existed = true;
    char *id = s_submit(f, "job1-group-7", "group seven", &existed);
    assert_false(existed);
    assert_string_equal(id, "job1-group-7");
    /* No worker yet: it waits in the queue, and a client waiting for it is told so. */
    assert_int_equal(s_service_count(f, "echo", "queued"), 1);
    tf_msg_t waited;
    tf_err_t werr = {0};
    assert_int_equal(tf_client_wait(f->client, id, 300, &waited, &werr), TF_ERR_TIMEOUT);
    assert_non_null(strstr(werr.message, "is still queued"));
    char *again = s_submit(f, "job1-group-7", "group seven", &existed);
    assert_true(existed);
    assert_int_equal(s_service_count(f, "echo", "queued"), 1);
    s_start_worker(f, 0);
    tf_msg_t info;
    s_wait_state(f, id, "done", 10000, &info);
    tf_msg_clear(&info);
    /* Submitting a finished item again is answered, not redone. */
    free(again);
    again = s_submit(f, "job1-group-7", "group seven", &existed);
    assert_true(existed);
    tf_clock_sleep_ms(300);
    assert_int_equal(s_record_lines(f, id), 1);
    free(id);
    free(again);
}

static void
test_failures_permanent_and_retry_exhausted(void **state)
{
    fixture_t *f = *state;
    s_start_worker(f, 0);
    s_wait_broker(f);
    char *bad = s_submit(f, NULL, "fail:input file list is corrupt", NULL);
    tf_msg_t info;
    s_wait_state(f, bad, "failed", 10000, &info);
    assert_non_null(strstr(info.item_info.reason, "input file list is corrupt"));
    assert_int_equal(info.item_info.attempts, 1);
    tf_msg_clear(&info);

    char *flaky = s_submit(f, NULL, "retry:disk full", NULL);
    s_wait_state(f, flaky, "failed", 15000, &info);
    assert_int_equal(info.item_info.attempts, 3);  /* max_attempts = 3 */
    assert_non_null(strstr(info.item_info.reason, "gave up after 3 deliveries"));
    assert_non_null(strstr(info.item_info.reason, "disk full"));
    tf_msg_clear(&info);
    assert_int_equal(s_service_count(f, "echo", "failed"), 2);
    free(bad);
    free(flaky);
}

static void
s_wait_inflight(fixture_t *f, const char *id)
{
    tf_msg_t info;
    s_wait_state(f, id, "inflight", 10000, &info);
    tf_msg_clear(&info);
}

static void
test_worker_killed_mid_item_redelivered_once(void **state)
{
    fixture_t *f = *state;
    s_start_worker(f, 0);
    s_wait_broker(f);
    s_wait_workers(f, 1);
    char *id = s_submit(f, NULL, "sleep:1500:survived", NULL);
    s_wait_inflight(f, id);
    kill(tf_testproc_pid(f->workers[0]), SIGKILL);
    tf_testproc_wait(f->workers[0], 5000, NULL);
    s_start_worker(f, 1);
    tf_msg_t info;
    s_wait_state(f, id, "done", 20000, &info);
    assert_int_equal(info.item_info.attempts, 2);
    assert_memory_equal(info.item_info.result.data, "survived", 8);
    tf_msg_clear(&info);
    assert_int_equal(s_record_lines(f, id), 1);       /* the killed worker never finished it */
    assert_int_equal(s_service_count(f, "echo", "done"), 1);
    assert_int_equal(s_service_count(f, "echo", "redelivered"), 1);
    free(id);
}

static void
test_broker_killed_mid_item_recovers(void **state)
{
    fixture_t *f = *state;
    s_start_worker(f, 0);
    s_wait_broker(f);
    s_wait_workers(f, 1);
    char *id = s_submit(f, NULL, "sleep:1500:after restart", NULL);
    char *queued = s_submit(f, NULL, "queued behind", NULL);
    s_wait_inflight(f, id);
    kill(tf_testproc_pid(f->broker), SIGKILL);
    tf_testproc_wait(f->broker, 5000, NULL);
    tf_testproc_destroy(&f->broker);
    s_start_broker(f);
    s_wait_broker(f);
    tf_msg_t info;
    s_wait_state(f, id, "done", 20000, &info);
    assert_memory_equal(info.item_info.result.data, "after restart", 13);
    tf_msg_clear(&info);
    s_wait_state(f, queued, "done", 20000, &info);
    tf_msg_clear(&info);
    /* Completed once: the new broker counted each item one time, whichever delivery won. */
    assert_int_equal(s_service_count(f, "echo", "done"), 2);
    int runs = s_record_lines(f, id);
    assert_true(runs >= 1 && runs <= 2);
    /* And it keeps working. */
    char *later = s_submit(f, NULL, "later", NULL);
    s_wait_state(f, later, "done", 10000, &info);
    tf_msg_clear(&info);
    assert_int_equal(s_service_count(f, "echo", "done"), 3);
    free(id);
    free(queued);
    free(later);
}

static void
test_late_done_from_dead_worker_not_counted_twice(void **state)
{
    fixture_t *f = *state;
    s_start_worker(f, 0);
    s_wait_broker(f);
    s_wait_workers(f, 1);
    char *id = s_submit(f, NULL, "sleep:800:frozen", NULL);
    s_wait_inflight(f, id);
    /* Freeze the worker: it misses heartbeats and is declared dead, but it is not gone. */
    kill(tf_testproc_pid(f->workers[0]), SIGSTOP);
    s_start_worker(f, 1);
    tf_msg_t info;
    s_wait_state(f, id, "done", 20000, &info);
    assert_int_equal(info.item_info.attempts, 2);
    tf_msg_clear(&info);
    /* Thaw it: it finishes its stale delivery and reports done again. */
    kill(tf_testproc_pid(f->workers[0]), SIGCONT);
    int64_t deadline = tf_clock_mono_ms() + 10000;
    while (s_record_lines(f, id) < 2 && tf_clock_mono_ms() < deadline)
        tf_clock_sleep_ms(50);
    assert_int_equal(s_record_lines(f, id), 2);  /* both really did the work */
    tf_clock_sleep_ms(500);                        /* time for the late done to arrive */
    assert_int_equal(s_service_count(f, "echo", "done"), 1);
    char *log = NULL;
    char path[300];
    snprintf(path, sizeof path, "%s/broker.log", f->dir);
    log = tf_test_read_file(path);
    assert_non_null(log);
    assert_non_null(strstr(log, "ignored a repeated completion"));
    free(log);
    /* The thawed worker registers again and takes new work. */
    s_wait_workers(f, 2);
    free(id);
}

static void
test_malformed_input_answered_and_survived(void **state)
{
    fixture_t *f = *state;
    s_wait_broker(f);
    zsock_t *raw = zsock_new_dealer(f->endpoint);
    assert_non_null(raw);
    zsock_set_rcvtimeo(raw, 3000);
    zstr_send(raw, "this is not msgpack");
    tf_msg_t reply;
    tf_err_t err = {0};
    assert_int_equal(tf_wire_recv(raw, NULL, &reply, &err), TF_OK);
    assert_int_equal(reply.type, TF_MSG_ERROR);
    assert_non_null(strstr(reply.error.message, "malformed"));
    tf_msg_clear(&reply);
    /* A well-formed message of a type the broker does not take. */
    tf_msg_t odd = {.type = TF_MSG_EVENT};
    odd.event = (tf_msg_event_t){.topic = "x", .source = "test", .seq = 1, .time_ms = 1};
    assert_int_equal(tf_wire_send(raw, NULL, &odd, &err), TF_OK);
    assert_int_equal(tf_wire_recv(raw, NULL, &reply, &err), TF_OK);
    assert_int_equal(reply.type, TF_MSG_ERROR);
    assert_non_null(strstr(reply.error.message, "does not accept"));
    tf_msg_clear(&reply);
    zsock_destroy(&raw);
    assert_true(tf_testproc_alive(f->broker));
    s_wait_broker(f);
}

/* Issue 8 item 11: work for a service nobody runs is refused (not queued forever), a flood of
   malformed messages is counted per peer in 'tapeflow status' and logs a bounded number of
   lines (broker/reject_log = 10 by default, then a summary a minute). */
static int
s_count(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; p && (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static void
test_unknown_service_refused_and_flood_counted(void **state)
{
    fixture_t *f = *state;
    s_wait_broker(f);
    tf_msg_t reply;
    tf_err_t err = {0};
    for (int i = 0; i < 20; i++) {
        char id[32];
        snprintf(id, sizeof id, "nobody-%d", i);
        assert_int_not_equal(tf_client_submit(f->client, "xyz", id, NULL, "p", 1, &reply, 5000, &err), TF_OK);
        assert_int_equal(err.code, TF_ERR_NOTFOUND);
    }
    printf("client error: %s\n", err.message);
    assert_non_null(strstr(err.message, "no service 'xyz': known services are catalog, compress, "
                                        "echo, extract, labeller, replicate, scan, scheduler, stager, tape"));
    assert_int_not_equal(tf_client_item(f->client, "nobody-0", &reply, 2000, &err), TF_OK);

    zsock_t *raw = zsock_new_dealer(f->endpoint);
    assert_non_null(raw);
    zsock_set_rcvtimeo(raw, 3000);
    for (int i = 0; i < 300; i++)
        zstr_send(raw, "this is not msgpack");
    for (int i = 0; i < 300; i++) {
        assert_int_equal(tf_wire_recv(raw, NULL, &reply, &err), TF_OK);
        assert_int_equal(reply.type, TF_MSG_ERROR);
        tf_msg_clear(&reply);
    }
    zsock_destroy(&raw);

    char exe[512], out_path[300], cfg_arg[300];
    snprintf(exe, sizeof exe, "%s/tapeflow", tf_test_bindir());
    snprintf(cfg_arg, sizeof cfg_arg, "%s", f->config);
    char *argv[] = {"tapeflow", "--config", cfg_arg, "status", "--json", NULL};
    char *out = NULL;
    tf_test_run(exe, argv, NULL, 20000, &out);   /* exit 1: no supervisor here */
    printf("status: %s\n", out ? out : "(none)");
    assert_non_null(out);
    assert_non_null(strstr(out, "\"rejected\":300,\"last_reason\":\"malformed message:"));
    assert_non_null(strstr(out, "\"rejected\":20,\"last_reason\":\"submit for unknown service 'xyz'\""));
    free(out);
    char *argv2[] = {"tapeflow", "--config", cfg_arg, "status", NULL};
    tf_test_run(exe, argv2, NULL, 20000, &out);
    printf("status: %s\n", out ? out : "(none)");
    assert_non_null(out);
    assert_non_null(strstr(out, "REFUSED FROM"));
    free(out);

    snprintf(out_path, sizeof out_path, "%s/broker.log", f->dir);
    char *log = tf_test_read_file(out_path);
    assert_non_null(log);
    /* 10 lines per peer one by one; the rest only counted (summary after a minute). */
    assert_int_equal(s_count(log, "refused a message from"), 20);
    assert_int_equal(s_count(log, "further ones from this peer are counted"), 2);
    free(log);
    assert_true(tf_testproc_alive(f->broker));
}

static void
test_sigterm_stops_cleanly(void **state)
{
    fixture_t *f = *state;
    s_start_worker(f, 0);
    s_wait_broker(f);
    s_wait_workers(f, 1);
    tf_testproc_kill(f->workers[0], SIGTERM);
    int status = -1;
    assert_true(tf_testproc_wait(f->workers[0], 5000, &status));
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    s_wait_workers(f, 0);  /* it said goodbye: no waiting for heartbeats */
    tf_testproc_kill(f->broker, SIGTERM);
    assert_true(tf_testproc_wait(f->broker, 5000, &status));
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void
test_bus_delivers_in_order_with_sequence(void **state)
{
    fixture_t *f = *state;
    char log[300];
    snprintf(log, sizeof log, "%s/bus.log", f->dir);
    char *argv[] = {"tapeflow-bus", "--config", f->config, NULL};
    f->bus = tf_testproc_start("tapeflow-bus", argv, NULL, log);
    assert_non_null(f->bus);
    zsock_t *sub = zsock_new_sub(f->bus_out, "test.");
    assert_non_null(sub);
    zsock_set_rcvtimeo(sub, 200);
    tf_err_t err = {0};
    tf_publisher_t *pub = tf_publisher_new(NULL, f->bus_in, "tester", 100000, &err);
    assert_non_null(pub);
    /* Subscriptions travel upstream asynchronously: publish until the first one arrives. */
    uint64_t first = 0;
    int64_t deadline = tf_clock_mono_ms() + 10000;
    while (!first && tf_clock_mono_ms() < deadline) {
        tf_publisher_say(pub, "test.warmup", "info", "warm up");
        tf_publisher_say(pub, "other.topic", "info", "filtered out");
        tf_msg_t ev;
        if (tf_wire_recv_event(sub, &ev, &err) == TF_OK) {
            assert_string_equal(ev.event.topic, "test.warmup");
            first = ev.event.seq;
            tf_msg_clear(&ev);
        }
    }
    assert_true(first > 0);
    zsock_set_rcvtimeo(sub, 5000);
    for (int i = 0; i < 500; i++) {
        tf_publisher_say(pub, "other.topic", "info", "filtered out");
        tf_publisher_say(pub, "test.count", "info", "event %d", i);
    }
    uint64_t last = 0;
    int got = 0;
    while (got < 500) {
        tf_msg_t ev;
        if (tf_wire_recv_event(sub, &ev, &err) != TF_OK)
            fail_msg("event %d not received: %s", got, err.message);
        if (strcmp(ev.event.topic, "test.count") == 0) {
            char expect[32];
            snprintf(expect, sizeof expect, "event %d", got);
            assert_string_equal(ev.event.message, expect);
            assert_string_equal(ev.event.source, "tester");
            if (last)
                assert_int_equal(ev.event.seq, last + 2);  /* the filtered events took odd numbers */
            last = ev.event.seq;
            got++;
        }
        else
            assert_string_equal(ev.event.topic, "test.warmup");
        tf_msg_clear(&ev);
    }
    tf_publisher_destroy(&pub);
    zsock_destroy(&sub);
}

int
main(void)
{
    zsys_init();
    zsys_handler_set(NULL);  /* the test process itself is stopped only by ctest */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dispatch_and_result, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_queue_waits_for_worker_and_submit_is_idempotent, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_failures_permanent_and_retry_exhausted, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_worker_killed_mid_item_redelivered_once, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_broker_killed_mid_item_recovers, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_late_done_from_dead_worker_not_counted_twice, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_malformed_input_answered_and_survived, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_service_refused_and_flood_counted, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_sigterm_stops_cleanly, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_bus_delivers_in_order_with_sequence, s_setup, s_teardown),
    };
    return cmocka_run_group_tests_name("broker_processes", tests, NULL, NULL);
}
