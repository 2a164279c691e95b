/*  The actor runtime's typed dispatch (actors/runtime/tf_actor.h): a route table sends each
    item to the handler for its payload type with the payload decoded; malformed and unrouted
    payloads are refused for good with a message naming the service and the type; the typed
    result setter's message comes back in the done. The last tests run tf_actor_run against a
    fake broker (a ROUTER on inproc) so the answers are the ones the real broker would get. */
#include <czmq.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tf_actor.h"
#include "tf_wire.h"

/* ------------------------------------------------------------------ recording handlers - */

typedef struct {
    int scan_calls;
    int group_calls;
    int refused_calls;
    int opaque_calls;
    tf_msg_type_t seen_type;      /* payload->type of the last call, TF_MSG_NONE for NULL */
    bool refused_payload_null;
    int refused_code;             /* err->code when the refused hook ran */
    char refused_message[TF_ERR_MESSAGE_MAX];
    char job_id[64];              /* scan_job.job_id or file_group.archive_id */
    size_t rows;                  /* paths / entries decoded */
    char opaque_text[64];
    int refused_returns;          /* what the refused hook returns (TF_OK: err->code) */
} calls_t;

static int
s_on_scan_job(tf_actor_t *actor, const tf_msg_work_t *work, const tf_msg_t *payload, void *arg, tf_err_t *err)
{
    calls_t *c = arg;
    c->scan_calls++;
    c->seen_type = payload->type;
    snprintf(c->job_id, sizeof c->job_id, "%s", payload->scan_job.job_id);
    c->rows = payload->scan_job.paths_count;
    /* scripted outcomes for the fake-broker tests */
    if (strcmp(payload->scan_job.job_id, "io") == 0)
        return tf_err_set(err, TF_ERR_IO, "disk on fire");
    if (strcmp(payload->scan_job.job_id, "stop") == 0)
        return tf_err_set(err, TF_ERR_INTERRUPTED, "stopping");
    if (strcmp(payload->scan_job.job_id, "result") == 0) {
        tf_msg_path_row_t files[] = {{"ready/A.data"}, {"ready/A.meta"}};
        tf_msg_t result = {.type = TF_MSG_STAGE_PURGE_RESULT};
        result.stage_purge_result = (tf_msg_stage_purge_result_t){
            .job_id = "J7", .files = files, .files_count = 2, .archives = 1, .bytes = 12345};
        return tf_actor_set_result_msg(actor, &result, err);
    }
    if (strcmp(payload->scan_job.job_id, "bad-result") == 0) {
        tf_msg_t result = {.type = TF_MSG_STAGE_PURGE_RESULT};
        result.stage_purge_result = (tf_msg_stage_purge_result_t){.job_id = "J8", .files_count = 1};
        return tf_actor_set_result_msg(actor, &result, err);  /* 1 row, no array: cannot encode */
    }
    return TF_OK;
}

static int
s_on_file_group(tf_actor_t *actor, const tf_msg_work_t *work, const tf_msg_t *payload, void *arg, tf_err_t *err)
{
    calls_t *c = arg;
    c->group_calls++;
    c->seen_type = payload->type;
    snprintf(c->job_id, sizeof c->job_id, "%s", payload->file_group.archive_id);
    c->rows = payload->file_group.entries_count;
    return TF_OK;
}

static int
s_on_refused(tf_actor_t *actor, const tf_msg_work_t *work, const tf_msg_t *payload, void *arg, tf_err_t *err)
{
    calls_t *c = arg;
    c->refused_calls++;
    c->refused_payload_null = payload == NULL;
    c->seen_type = payload ? payload->type : TF_MSG_NONE;
    c->refused_code = err->code;
    snprintf(c->refused_message, sizeof c->refused_message, "%s", err->message);
    return c->refused_returns ? c->refused_returns : err->code;
}

static int
s_on_opaque(tf_actor_t *actor, const tf_msg_work_t *work, const tf_msg_t *payload, void *arg, tf_err_t *err)
{
    calls_t *c = arg;
    c->opaque_calls++;
    c->seen_type = payload ? payload->type : TF_MSG_NONE;
    size_t n = work->payload.size < sizeof c->opaque_text - 1 ? work->payload.size : sizeof c->opaque_text - 1;
    memcpy(c->opaque_text, work->payload.data, n);
    c->opaque_text[n] = '\0';
    return TF_OK;
}

static const tf_actor_route_t s_routes[] = {
    {TF_MSG_SCAN_JOB, s_on_scan_job},
    {TF_MSG_FILE_GROUP, s_on_file_group},
    TF_ACTOR_ROUTES_END
};

static const tf_actor_route_t s_routes_refused[] = {
    {TF_MSG_SCAN_JOB, s_on_scan_job},
    {TF_ACTOR_REFUSED, s_on_refused},
    TF_ACTOR_ROUTES_END
};

static const tf_actor_route_t s_routes_opaque[] = {
    {TF_ACTOR_OPAQUE, s_on_opaque},
    TF_ACTOR_ROUTES_END
};

/* ------------------------------------------------------------------ items -------------- */

typedef struct {
    uint8_t *data;
    size_t size;
    tf_msg_work_t work;
} item_t;

static void
s_item(item_t *it, const char *item_id, const tf_msg_t *payload)
{
    memset(it, 0, sizeof *it);
    tf_err_t err = {0};
    if (tf_msg_encode(payload, &it->data, &it->size, &err) != TF_OK)
        fail_msg("encode: %s", err.message);
    it->work = (tf_msg_work_t){.item_id = (char *) item_id, .service = "scan", .job_id = "J1", .attempt = 1,
                               .payload = {it->data, it->size}};
}

static void
s_item_raw(item_t *it, const char *item_id, const char *bytes)
{
    memset(it, 0, sizeof *it);
    it->work = (tf_msg_work_t){.item_id = (char *) item_id, .service = "scan", .job_id = "J1", .attempt = 1,
                               .payload = {(uint8_t *) bytes, strlen(bytes)}};
}

static void
s_item_free(item_t *it)
{
    free(it->data);
    it->data = NULL;
}

static tf_msg_t
s_scan_job(const char *job_id)
{
    static tf_msg_path_row_t paths[] = {{"/data/a"}, {"/data/b"}, {"/data/c"}};
    tf_msg_t m = {.type = TF_MSG_SCAN_JOB};
    m.scan_job = (tf_msg_scan_job_t){.job_id = (char *) job_id, .paths = paths, .paths_count = 3};
    return m;
}

static tf_msg_t
s_file_group(const char *archive_id)
{
    static tf_msg_group_entry_t entries[] = {{"/data/a", 10}, {"/data/b", 20}};
    tf_msg_t m = {.type = TF_MSG_FILE_GROUP};
    m.file_group = (tf_msg_file_group_t){.job_id = "J1", .archive_id = (char *) archive_id, .group_no = 1,
                                         .entries = entries, .entries_count = 2};
    return m;
}

static tf_msg_t
s_heartbeat(void)
{
    tf_msg_t m = {.type = TF_MSG_HEARTBEAT};
    m.heartbeat.ts = 42;
    return m;
}

/* ------------------------------------------------------------------ routing ------------ */

static void
test_right_handler_gets_decoded_payload(void **state)
{
    calls_t c = {0};
    item_t it;
    tf_err_t err = {0};

    tf_msg_t group = s_file_group("J1-g00001");
    s_item(&it, "i-1", &group);
    assert_int_equal(tf_actor_route(NULL, s_routes, &it.work, &c, &err), TF_OK);
    assert_int_equal(c.group_calls, 1);
    assert_int_equal(c.scan_calls, 0);
    assert_int_equal(c.seen_type, TF_MSG_FILE_GROUP);
    assert_string_equal(c.job_id, "J1-g00001");
    assert_int_equal(c.rows, 2);
    s_item_free(&it);

    tf_msg_t job = s_scan_job("J2");
    s_item(&it, "i-2", &job);
    assert_int_equal(tf_actor_route(NULL, s_routes, &it.work, &c, &err), TF_OK);
    assert_int_equal(c.group_calls, 1);
    assert_int_equal(c.scan_calls, 1);
    assert_int_equal(c.seen_type, TF_MSG_SCAN_JOB);
    assert_string_equal(c.job_id, "J2");
    assert_int_equal(c.rows, 3);
    s_item_free(&it);
}

static void
test_handler_status_passes_through(void **state)
{
    calls_t c = {0};
    item_t it;
    tf_err_t err = {0};
    tf_msg_t job = s_scan_job("io");
    s_item(&it, "i-3", &job);
    assert_int_equal(tf_actor_route(NULL, s_routes, &it.work, &c, &err), TF_ERR_IO);
    assert_string_equal(err.message, "disk on fire");
    assert_int_equal(c.scan_calls, 1);
    s_item_free(&it);
}

static void
test_unknown_type_refused(void **state)
{
    calls_t c = {0};
    item_t it;
    tf_err_t err = {0};
    tf_msg_t hb = s_heartbeat();
    s_item(&it, "i-4", &hb);
    int rc = tf_actor_route(NULL, s_routes, &it.work, &c, &err);
    assert_int_equal(rc, TF_ERR_PROTO);
    assert_false(tf_actor_status_retryable(rc));
    assert_string_equal(err.message, "item i-4: the scan service does not handle heartbeat messages "
                                     "(it takes scan_job or file_group)");
    assert_int_equal(c.scan_calls + c.group_calls, 0);
    s_item_free(&it);

    /* one accepted type, three accepted types: the list reads as a sentence */
    static const tf_actor_route_t one[] = {{TF_MSG_SCAN_JOB, s_on_scan_job}, TF_ACTOR_ROUTES_END};
    static const tf_actor_route_t three[] = {{TF_MSG_SCAN_JOB, s_on_scan_job}, {TF_MSG_FILE_GROUP, s_on_file_group},
                                             {TF_MSG_CAT_JOB, s_on_file_group}, TF_ACTOR_ROUTES_END};
    tf_msg_t group = s_file_group("J1-g00001");
    s_item(&it, "i-5", &group);
    assert_int_equal(tf_actor_route(NULL, one, &it.work, &c, &err), TF_ERR_PROTO);
    assert_string_equal(err.message, "item i-5: the scan service does not handle file_group messages "
                                     "(it takes scan_job)");
    s_item_free(&it);
    s_item(&it, "i-6", &hb);
    assert_int_equal(tf_actor_route(NULL, three, &it.work, &c, &err), TF_ERR_PROTO);
    assert_string_equal(err.message, "item i-6: the scan service does not handle heartbeat messages "
                                     "(it takes scan_job, file_group or cat_job)");
    s_item_free(&it);
    assert_int_equal(c.scan_calls + c.group_calls, 0);
}

static void
test_garbage_refused(void **state)
{
    calls_t c = {0};
    item_t it;
    tf_err_t err = {0};
    s_item_raw(&it, "i-7", "garbage");
    int rc = tf_actor_route(NULL, s_routes, &it.work, &c, &err);
    assert_int_equal(rc, TF_ERR_PROTO);
    assert_false(tf_actor_status_retryable(rc));
    const char *want = "item i-7: malformed payload for the scan service: ";
    if (strncmp(err.message, want, strlen(want)) != 0 || strlen(err.message) <= strlen(want))
        fail_msg("message: %s", err.message);
    assert_int_equal(c.scan_calls + c.group_calls, 0);

    /* an empty payload and a truncated message are malformed too */
    s_item_raw(&it, "i-8", "");
    assert_int_equal(tf_actor_route(NULL, s_routes, &it.work, &c, &err), TF_ERR_PROTO);
    assert_non_null(strstr(err.message, "item i-8: malformed payload for the scan service: "));
    tf_msg_t job = s_scan_job("J3");
    s_item(&it, "i-9", &job);
    it.work.payload.size -= 3;
    assert_int_equal(tf_actor_route(NULL, s_routes, &it.work, &c, &err), TF_ERR_PROTO);
    assert_non_null(strstr(err.message, "item i-9: malformed payload for the scan service: "));
    s_item_free(&it);
    assert_int_equal(c.scan_calls + c.group_calls, 0);
}

static void
test_refused_hook(void **state)
{
    calls_t c = {0};
    item_t it;
    tf_err_t err = {0};

    /* undecodable: the hook sees no payload and the refusal */
    s_item_raw(&it, "i-10", "garbage");
    assert_int_equal(tf_actor_route(NULL, s_routes_refused, &it.work, &c, &err), TF_ERR_PROTO);
    assert_int_equal(c.refused_calls, 1);
    assert_true(c.refused_payload_null);
    assert_int_equal(c.refused_code, TF_ERR_PROTO);
    assert_non_null(strstr(c.refused_message, "item i-10: malformed payload for the scan service: "));

    /* no route: the hook sees the decoded message */
    tf_msg_t group = s_file_group("J1-g00002");
    s_item(&it, "i-11", &group);
    assert_int_equal(tf_actor_route(NULL, s_routes_refused, &it.work, &c, &err), TF_ERR_PROTO);
    assert_int_equal(c.refused_calls, 2);
    assert_false(c.refused_payload_null);
    assert_int_equal(c.seen_type, TF_MSG_FILE_GROUP);
    assert_string_equal(c.refused_message, "item i-11: the scan service does not handle file_group messages "
                                           "(it takes scan_job)");
    /* what the hook returns is the item's status */
    c.refused_returns = TF_ERR_INVALID;
    assert_int_equal(tf_actor_route(NULL, s_routes_refused, &it.work, &c, &err), TF_ERR_INVALID);
    assert_int_equal(c.refused_calls, 3);
    s_item_free(&it);

    /* a routed type never reaches the hook */
    tf_msg_t job = s_scan_job("J4");
    s_item(&it, "i-12", &job);
    assert_int_equal(tf_actor_route(NULL, s_routes_refused, &it.work, &c, &err), TF_OK);
    assert_int_equal(c.refused_calls, 3);
    assert_int_equal(c.scan_calls, 1);
    s_item_free(&it);
}

static void
test_opaque_payload_not_decoded(void **state)
{
    calls_t c = {0};
    item_t it;
    tf_err_t err = {0};
    s_item_raw(&it, "i-13", "sleep:10:hello");
    assert_int_equal(tf_actor_route(NULL, s_routes_opaque, &it.work, &c, &err), TF_OK);
    assert_int_equal(c.opaque_calls, 1);
    assert_int_equal(c.seen_type, TF_MSG_NONE);
    assert_string_equal(c.opaque_text, "sleep:10:hello");
    /* even bytes that are a message reach the handler as they are */
    tf_msg_t job = s_scan_job("J5");
    s_item(&it, "i-14", &job);
    assert_int_equal(tf_actor_route(NULL, s_routes_opaque, &it.work, &c, &err), TF_OK);
    assert_int_equal(c.opaque_calls, 2);
    assert_int_equal(c.seen_type, TF_MSG_NONE);
    assert_int_equal(c.scan_calls, 0);
    s_item_free(&it);
}

static void
test_decode_alone(void **state)
{
    item_t it;
    tf_err_t err = {0};
    tf_msg_t payload;
    tf_msg_t job = s_scan_job("J6");
    s_item(&it, "i-15", &job);
    assert_int_equal(tf_actor_decode(s_routes, &it.work, &payload, &err), TF_OK);
    assert_int_equal(payload.type, TF_MSG_SCAN_JOB);
    assert_string_equal(payload.scan_job.job_id, "J6");
    tf_msg_clear(&payload);
    s_item_free(&it);
    /* refused, yet what decoded is kept (the catalog records a refusal on its job) */
    tf_msg_t hb = s_heartbeat();
    s_item(&it, "i-16", &hb);
    assert_int_equal(tf_actor_decode(s_routes, &it.work, &payload, &err), TF_ERR_PROTO);
    assert_int_equal(payload.type, TF_MSG_HEARTBEAT);
    assert_int_equal(payload.heartbeat.ts, 42);
    assert_non_null(strstr(err.message, "does not handle heartbeat messages"));
    tf_msg_clear(&payload);
    s_item_free(&it);
    s_item_raw(&it, "i-17", "garbage");
    assert_int_equal(tf_actor_decode(s_routes, &it.work, &payload, &err), TF_ERR_PROTO);
    assert_int_equal(payload.type, TF_MSG_NONE);
    tf_msg_clear(&payload);
}

static void
test_bad_tables_refused(void **state)
{
    calls_t c = {0};
    item_t it;
    tf_err_t err = {0};
    tf_msg_t job = s_scan_job("J7");
    s_item(&it, "i-18", &job);
    static const tf_actor_route_t twice[] = {{TF_MSG_SCAN_JOB, s_on_scan_job}, {TF_MSG_SCAN_JOB, s_on_file_group},
                                             TF_ACTOR_ROUTES_END};
    static const tf_actor_route_t no_fn[] = {{TF_MSG_FILE_GROUP, s_on_file_group}, {TF_MSG_SCAN_JOB, NULL},
                                             TF_ACTOR_ROUTES_END};
    static const tf_actor_route_t opaque_and_more[] = {{TF_ACTOR_OPAQUE, s_on_opaque},
                                                       {TF_MSG_SCAN_JOB, s_on_scan_job}, TF_ACTOR_ROUTES_END};
    static const tf_actor_route_t only_refused[] = {{TF_ACTOR_REFUSED, s_on_refused}, TF_ACTOR_ROUTES_END};
    static const tf_actor_route_t empty[] = {TF_ACTOR_ROUTES_END};
    static const tf_actor_route_t none_type[] = {{TF_MSG_NONE, s_on_scan_job}, TF_ACTOR_ROUTES_END};
    static const tf_actor_route_t past_the_end[] = {{(tf_msg_type_t) (TF_MSG_TYPE_COUNT + 7), s_on_scan_job},
                                                    TF_ACTOR_ROUTES_END};
    struct {
        const tf_actor_route_t *routes;
        const char *message;
    } cases[] = {
        {twice, "route table row 1: scan_job is routed twice"},
        {no_fn, "route table row 1 (scan_job): no handler"},
        {opaque_and_more, "route table: a TF_ACTOR_OPAQUE row must be the only row"},
        {only_refused, "route table: no row serves a payload"},
        {empty, "route table: no row serves a payload"},
        {none_type, "route table row 0: type 0 is not a message type"},
        {past_the_end, "is not a message type"},
        {NULL, "no route table"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tf_err_clear(&err);
        assert_int_equal(tf_actor_route(NULL, cases[i].routes, &it.work, &c, &err), TF_ERR_INVALID);
        if (!strstr(err.message, cases[i].message))
            fail_msg("case %zu: %s", i, err.message);
    }
    assert_int_equal(c.scan_calls + c.group_calls + c.opaque_calls + c.refused_calls, 0);
    tf_msg_t payload;
    assert_int_equal(tf_actor_decode(s_routes_opaque, &it.work, &payload, &err), TF_ERR_INVALID);
    s_item_free(&it);
}

/* Without a runtime the result is encoded (so encoding errors show) and dropped. */
static void
test_result_setter_without_runtime(void **state)
{
    calls_t c = {0};
    item_t it;
    tf_err_t err = {0};
    tf_msg_t job = s_scan_job("result");
    s_item(&it, "i-19", &job);
    assert_int_equal(tf_actor_route(NULL, s_routes, &it.work, &c, &err), TF_OK);
    s_item_free(&it);
    job = s_scan_job("bad-result");
    s_item(&it, "i-20", &job);
    assert_int_equal(tf_actor_route(NULL, s_routes, &it.work, &c, &err), TF_ERR_INVALID);
    assert_string_equal(err.message, "cannot encode the item's stage_purge_result result: "
                                     "stage_purge_result.files: 1 rows but no array");
    s_item_free(&it);
}

/* ------------------------------------------------------------------ with a fake broker -- */

typedef struct {
    tf_config_t *cfg;
    zsock_t *router;
    tf_actor_t *actor;
    zframe_t *peer;
} broker_fx_t;

static int
s_broker_setup(void **state)
{
    static int instance;
    broker_fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    char endpoint[128];
    snprintf(endpoint, sizeof endpoint, "inproc://test-actor-routes-%d-%d", (int) getpid(), ++instance);
    fx->router = zsock_new(ZMQ_ROUTER);
    assert_non_null(fx->router);
    assert_int_equal(zsock_bind(fx->router, "%s", endpoint), 0);
    zsock_set_rcvtimeo(fx->router, 10000);
    fx->cfg = tf_config_new();
    assert_non_null(fx->cfg);
    assert_int_equal(tf_config_set(fx->cfg, "broker/endpoint", endpoint), 0);
    assert_int_equal(tf_config_set(fx->cfg, "bus/frontend", "inproc://test-actor-routes-bus"), 0);
    tf_err_t err = {0};
    fx->actor = tf_actor_new(fx->cfg, "scan", "routes.test", &err);
    if (!fx->actor)
        fail_msg("tf_actor_new: %s", err.message);
    /* the agent registers first: its routing id is where work goes */
    tf_msg_t ready;
    assert_int_equal(tf_wire_recv(fx->router, &fx->peer, &ready, &err), TF_OK);
    assert_int_equal(ready.type, TF_MSG_READY);
    assert_string_equal(ready.ready.service, "scan");
    tf_msg_clear(&ready);
    *state = fx;
    return 0;
}

static int
s_broker_teardown(void **state)
{
    broker_fx_t *fx = *state;
    tf_actor_destroy(&fx->actor);
    zframe_destroy(&fx->peer);
    zsock_destroy(&fx->router);
    tf_config_destroy(&fx->cfg);
    free(fx);
    return 0;
}

static void
s_send_work(broker_fx_t *fx, const char *item_id, const uint8_t *data, size_t size)
{
    tf_msg_t work = {.type = TF_MSG_WORK};
    work.work = (tf_msg_work_t){.item_id = (char *) item_id, .service = "scan", .job_id = "J1", .attempt = 1,
                                .payload = {(uint8_t *) data, size}};
    tf_err_t err = {0};
    if (tf_wire_send(fx->router, fx->peer, &work, &err) != TF_OK)
        fail_msg("send work: %s", err.message);
}

static void
s_send_msg(broker_fx_t *fx, const char *item_id, const tf_msg_t *payload)
{
    item_t it;
    s_item(&it, item_id, payload);
    s_send_work(fx, item_id, it.data, it.size);
    s_item_free(&it);
}

/* The next done or failed the actor sent (heartbeats and registrations skipped). */
static void
s_answer(broker_fx_t *fx, tf_msg_t *answer)
{
    for (;;) {
        zframe_t *peer = NULL;
        tf_err_t err = {0};
        int rc = tf_wire_recv(fx->router, &peer, answer, &err);
        zframe_destroy(&peer);
        if (rc != TF_OK)
            fail_msg("no answer from the actor: %s", err.message);
        if (answer->type == TF_MSG_DONE || answer->type == TF_MSG_FAILED)
            return;
        tf_msg_clear(answer);
    }
}

static void
s_expect_failed(broker_fx_t *fx, const char *item_id, bool retry, const char *reason_start)
{
    tf_msg_t a;
    s_answer(fx, &a);
    if (a.type != TF_MSG_FAILED)
        fail_msg("item %s: expected failed, got %s", item_id, tf_msg_type_name(a.type));
    assert_string_equal(a.failed.item_id, item_id);
    assert_int_equal(a.failed.retry, retry);
    if (strncmp(a.failed.reason, reason_start, strlen(reason_start)) != 0)
        fail_msg("item %s: reason: %s", item_id, a.failed.reason);
    tf_msg_clear(&a);
}

/* tf_actor_run serves a mix of items: each gets the answer the broker needs, a refusal does
   not stop the loop, and a result set with tf_actor_set_result_msg decodes back to the same
   message (and does not leak into the next item). */
static void
test_run_answers_every_item(void **state)
{
    broker_fx_t *fx = *state;
    calls_t c = {0};
    tf_msg_t job = s_scan_job("result");
    s_send_msg(fx, "w-1", &job);
    s_send_work(fx, "w-2", (const uint8_t *) "garbage", 7);
    tf_msg_t hb = s_heartbeat();
    s_send_msg(fx, "w-3", &hb);
    job = s_scan_job("plain");
    s_send_msg(fx, "w-4", &job);
    job = s_scan_job("io");
    s_send_msg(fx, "w-5", &job);
    job = s_scan_job("bad-result");
    s_send_msg(fx, "w-6", &job);
    job = s_scan_job("stop");  /* TF_ERR_INTERRUPTED ends the loop */
    s_send_msg(fx, "w-7", &job);

    assert_int_equal(tf_actor_run(fx->actor, s_routes, &c), 0);
    assert_int_equal(c.scan_calls, 5);
    assert_int_equal(c.group_calls, 0);

    tf_msg_t a;
    s_answer(fx, &a);
    assert_int_equal(a.type, TF_MSG_DONE);
    assert_string_equal(a.done.item_id, "w-1");
    tf_msg_t result;
    tf_err_t err = {0};
    if (tf_msg_decode(a.done.result.data, a.done.result.size, &result, &err) != TF_OK)
        fail_msg("result: %s", err.message);
    assert_int_equal(result.type, TF_MSG_STAGE_PURGE_RESULT);
    assert_string_equal(result.stage_purge_result.job_id, "J7");
    assert_int_equal(result.stage_purge_result.files_count, 2);
    assert_string_equal(result.stage_purge_result.files[0].path, "ready/A.data");
    assert_string_equal(result.stage_purge_result.files[1].path, "ready/A.meta");
    assert_int_equal(result.stage_purge_result.archives, 1);
    assert_int_equal(result.stage_purge_result.bytes, 12345);
    tf_msg_clear(&result);
    tf_msg_clear(&a);

    s_expect_failed(fx, "w-2", false, "item w-2: malformed payload for the scan service: ");
    s_expect_failed(fx, "w-3", false, "item w-3: the scan service does not handle heartbeat messages "
                                      "(it takes scan_job or file_group)");
    s_answer(fx, &a);
    assert_int_equal(a.type, TF_MSG_DONE);
    assert_string_equal(a.done.item_id, "w-4");
    assert_int_equal(a.done.result.size, 0);  /* w-1's result is not w-4's */
    tf_msg_clear(&a);
    s_expect_failed(fx, "w-5", true, "disk on fire");
    s_expect_failed(fx, "w-6", false, "cannot encode the item's stage_purge_result result: ");
    s_expect_failed(fx, "w-7", true, "stopping");
}

/* An actor with its own poll loop answers one item with tf_actor_dispatch. */
static void
test_dispatch_answers_one_item(void **state)
{
    broker_fx_t *fx = *state;
    calls_t c = {0};
    tf_msg_t group = s_file_group("J1-g00009");
    s_send_msg(fx, "d-1", &group);
    s_send_work(fx, "d-2", (const uint8_t *) "\xc1", 1);
    tf_msg_t work;
    tf_err_t err = {0};
    assert_int_equal(tf_actor_next(fx->actor, &work, 10000, &err), TF_OK);
    assert_int_equal(tf_actor_dispatch(fx->actor, s_routes_refused, &work.work, &c), TF_ERR_PROTO);
    tf_msg_clear(&work);
    assert_int_equal(c.refused_calls, 1);
    assert_int_equal(c.seen_type, TF_MSG_FILE_GROUP);
    s_expect_failed(fx, "d-1", false, "item d-1: the scan service does not handle file_group messages "
                                      "(it takes scan_job)");
    assert_int_equal(tf_actor_next(fx->actor, &work, 10000, &err), TF_OK);
    assert_int_equal(tf_actor_dispatch(fx->actor, s_routes, &work.work, &c), TF_ERR_PROTO);
    tf_msg_clear(&work);
    s_expect_failed(fx, "d-2", false, "item d-2: malformed payload for the scan service: ");
}

/* A table the runtime cannot serve is refused before any item is taken. */
static void
test_run_refuses_bad_table(void **state)
{
    broker_fx_t *fx = *state;
    static const tf_actor_route_t twice[] = {{TF_MSG_SCAN_JOB, s_on_scan_job}, {TF_MSG_SCAN_JOB, s_on_scan_job},
                                             TF_ACTOR_ROUTES_END};
    calls_t c = {0};
    assert_int_equal(tf_actor_run(fx->actor, twice, &c), 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_right_handler_gets_decoded_payload),
        cmocka_unit_test(test_handler_status_passes_through),
        cmocka_unit_test(test_unknown_type_refused),
        cmocka_unit_test(test_garbage_refused),
        cmocka_unit_test(test_refused_hook),
        cmocka_unit_test(test_opaque_payload_not_decoded),
        cmocka_unit_test(test_decode_alone),
        cmocka_unit_test(test_bad_tables_refused),
        cmocka_unit_test(test_result_setter_without_runtime),
        cmocka_unit_test_setup_teardown(test_run_answers_every_item, s_broker_setup, s_broker_teardown),
        cmocka_unit_test_setup_teardown(test_dispatch_answers_one_item, s_broker_setup, s_broker_teardown),
        cmocka_unit_test_setup_teardown(test_run_refuses_bad_table, s_broker_setup, s_broker_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
