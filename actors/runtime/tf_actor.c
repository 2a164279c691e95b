/*  tf_actor - the actor runtime (see tf_actor.h). */
#include "tf_actor.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "tf_clock.h"
#include "tf_log.h"
#include "tf_secure.h"
#include "tf_wire.h"

/* Commands on the pipe between the actor's thread and the agent. */
#define CMD_WORK "WORK"          /* agent -> actor: [cmd][encoded WORK] */
#define CMD_REPORT "REPORT"      /* actor -> agent: [cmd][encoded PROGRESS] */
#define CMD_FINISH "FINISH"      /* actor -> agent: [cmd][encoded DONE or FAILED] */

typedef struct {
    char *endpoint;
    char *service;
    char *name;
    char *identity;
    char *host;                  /* tapeflow/host: items for this host come to this worker */
    int64_t heartbeat_ms;
    int64_t liveness;
    int64_t max_message;
    zsock_t *dealer;    /* connected by tf_actor_new (tf_secure reads the configuration, which is
                           not thread-safe), then owned by the agent */
    tf_secure_watch_t *watch;    /* the dealer's handshakes; goes with it to the agent */
} agent_args_t;

struct _tf_actor_t {
    zactor_t *agent;
    agent_args_t *args;          /* owned here, read by the agent until it ends */
    tf_config_t *config;
    tf_publisher_t *events;
    char *name;
    uint8_t *result;
    size_t result_size;
};

/* ------------------------------------------------------------------ agent thread ----- */

typedef struct {
    agent_args_t *args;
    zsock_t *pipe;
    zsock_t *dealer;
    tf_secure_watch_t *watch;
    bool refusal_told;           /* logged once per refusal, until the broker answers again */
    int64_t next_retry;          /* of a refused connection */
    bool registered;
    bool busy;
    int64_t broker_expiry;
    int64_t next_heartbeat;
    zframe_t *unsent_finish;     /* a done/failed the broker has not taken yet (send timed out):
                                    sent again at every heartbeat, never dropped - while the
                                    worker heartbeats, the broker would hold the item forever */
} agent_t;

/* Sends the kept done/failed again; true when none is left. */
static bool
s_agent_flush_finish(agent_t *a)
{
    if (!a->unsent_finish)
        return true;
    if (zframe_send(&a->unsent_finish, a->dealer, ZFRAME_REUSE) != 0)
        return false;
    zframe_destroy(&a->unsent_finish);
    tf_log_info("the broker took the item's result it could not take before");
    return true;
}

static void
s_agent_send(agent_t *a, tf_msg_t *msg)
{
    tf_err_t err = {0};
    if (tf_wire_send(a->dealer, NULL, msg, &err) != TF_OK)
        tf_log_warn("cannot send %s to broker: %s", tf_msg_type_name(msg->type), err.message);
}

static void
s_agent_register(agent_t *a)
{
    tf_msg_t ready = {.type = TF_MSG_READY};
    ready.ready = (tf_msg_ready_t){
        .service = a->args->service,
        .worker = a->args->name,
        .host = a->args->host,
        .pid = (uint64_t) getpid(),
    };
    s_agent_send(a, &ready);
    a->registered = true;
}

static void
s_agent_from_broker(agent_t *a)
{
    zmsg_t *zmsg = zmsg_recv(a->dealer);
    if (!zmsg)
        return;
    if (a->refusal_told) {
        tf_log_info("broker %s accepted this host's key now", a->args->endpoint);
        a->refusal_told = false;
    }
    a->broker_expiry = tf_clock_mono_ms() + a->args->heartbeat_ms * a->args->liveness;
    zframe_t *frame = zmsg_first(zmsg);
    tf_msg_t msg;
    tf_err_t err = {0};
    if (zmsg_size(zmsg) != 1 || tf_msg_decode(zframe_data(frame), zframe_size(frame), &msg, &err) != TF_OK) {
        tf_log_warn("ignored a malformed message from the broker: %s",
                    zmsg_size(zmsg) != 1 ? "wrong frame count" : err.message);
        zmsg_destroy(&zmsg);
        return;
    }
    switch (msg.type) {
    case TF_MSG_WORK:
        if (a->busy)
            tf_log_warn("broker sent item %s while one is in hand; it waits its turn", msg.work.item_id);
        a->busy = true;
        zsock_send(a->pipe, "sf", CMD_WORK, frame);
        break;
    case TF_MSG_DISCONNECT:
        tf_log_info("broker asked us to register again (%s)", msg.disconnect.reason ? msg.disconnect.reason : "");
        a->registered = false;
        if (!a->busy)
            s_agent_register(a);
        break;
    case TF_MSG_HEARTBEAT:
        break;
    case TF_MSG_ERROR:
        /* e.g. the broker refused our registration: this key lacks the service's role */
        tf_log_error("broker: %s", msg.error.message ? msg.error.message : "error without a message");
        break;
    default:
        tf_log_warn("ignored unexpected %s from broker", tf_msg_type_name(msg.type));
        break;
    }
    tf_msg_clear(&msg);
    zmsg_destroy(&zmsg);
}

/* Returns false on $TERM. */
static bool
s_agent_from_actor(agent_t *a)
{
    zmsg_t *zmsg = zmsg_recv(a->pipe);
    if (!zmsg)
        return true;
    char *cmd = zmsg_popstr(zmsg);
    bool go_on = true;
    if (!cmd || streq(cmd, "$TERM")) {
        if (a->registered) {
            tf_msg_t bye = {.type = TF_MSG_DISCONNECT};
            bye.disconnect.reason = "actor stopping";
            s_agent_send(a, &bye);
        }
        go_on = false;
    }
    else {
        zframe_t *frame = zmsg_pop(zmsg);
        bool finish = streq(cmd, CMD_FINISH);
        /* A finish waits behind one not yet taken; it is never reordered before it. */
        if (frame && finish && !s_agent_flush_finish(a)) {
            tf_log_error("the broker has not taken the previous item's result; dropping a second one");
            zframe_destroy(&frame);
        }
        if (frame && zframe_send(&frame, a->dealer, finish ? ZFRAME_REUSE : 0) != 0) {
            if (finish) {
                tf_log_warn("cannot pass %s to the broker now; sending it again every heartbeat", cmd);
                a->unsent_finish = frame;
                frame = NULL;
            }
            else
                tf_log_warn("cannot pass %s to the broker", cmd);
        }
        zframe_destroy(&frame);
        if (streq(cmd, CMD_FINISH)) {
            a->busy = false;
            /* Registration waits until nothing is in hand, so the broker never gives us two. */
            if (!a->registered)
                s_agent_register(a);
        }
    }
    zstr_free(&cmd);
    zmsg_destroy(&zmsg);
    return go_on;
}

/* A refused key: said once, then the connection tried again at the pace the broker is given
   up at, so a key trusted later gets in without restarting this process. True while refused. */
static bool
s_agent_refused(agent_t *a, int64_t now)
{
    tf_err_t err = {0};
    if (!tf_secure_watch_refused(a->watch, &err))
        return false;
    if (!a->refusal_told) {
        tf_log_error("%s", err.message);
        a->refusal_told = true;
        a->registered = false;  /* nothing to say goodbye to when stopping */
        a->next_retry = now + a->args->heartbeat_ms * a->args->liveness;
    }
    if (now < a->next_retry)
        return true;
    a->next_retry = now + a->args->heartbeat_ms * a->args->liveness;
    if (tf_secure_watch_retry(a->watch, a->dealer, &err) != TF_OK) {
        tf_log_warn("%s", err.message);
        return true;
    }
    a->registered = false;
    if (!a->busy)
        s_agent_register(a);
    a->broker_expiry = now + a->args->heartbeat_ms * a->args->liveness;
    return false;
}

static void
s_agent_timers(agent_t *a)
{
    int64_t now = tf_clock_mono_ms();
    if (s_agent_refused(a, now))
        return;
    if (now >= a->next_heartbeat)
        s_agent_flush_finish(a);
    if (now >= a->next_heartbeat) {
        if (a->registered) {
            tf_msg_t hb = {.type = TF_MSG_HEARTBEAT};
            hb.heartbeat.ts = (uint64_t) tf_clock_wall_ms();
            s_agent_send(a, &hb);
        }
        a->next_heartbeat = now + a->args->heartbeat_ms;
    }
    if (now >= a->broker_expiry) {
        tf_log_warn("broker silent for %lld ms; registering again when idle",
                    (long long) (a->args->heartbeat_ms * a->args->liveness));
        a->registered = false;
        if (!a->busy)
            s_agent_register(a);
        a->broker_expiry = now + a->args->heartbeat_ms * a->args->liveness;
    }
}

static void
s_agent(zsock_t *pipe, void *arg)
{
    agent_t a = {.args = arg, .pipe = pipe};
    a.dealer = a.args->dealer;
    a.args->dealer = NULL;  /* ours now: zactor_new waits for our signal */
    a.watch = a.args->watch;
    a.args->watch = NULL;
    zpoller_t *poller = zpoller_new(pipe, a.dealer, NULL);
    if (!poller) {
        tf_secure_watch_destroy(&a.watch);
        zsock_destroy(&a.dealer);
        zsock_signal(pipe, 1);
        return;
    }
    zpoller_set_nonstop(poller, true);  /* the actor's thread decides when to stop */
    zsock_signal(pipe, 0);
    s_agent_register(&a);
    int64_t now = tf_clock_mono_ms();
    a.next_heartbeat = now + a.args->heartbeat_ms;
    a.broker_expiry = now + a.args->heartbeat_ms * a.args->liveness;
    bool running = true;
    while (running) {
        int64_t wait = a.next_heartbeat - tf_clock_mono_ms();
        void *ready = zpoller_wait(poller, (int) (wait < 1 ? 1 : wait));
        if (ready == pipe)
            running = s_agent_from_actor(&a);
        else if (ready == a.dealer)
            s_agent_from_broker(&a);
        s_agent_timers(&a);
    }
    if (!s_agent_flush_finish(&a))
        tf_log_warn("stopping with an item's result the broker never took: it will run the item again");
    zframe_destroy(&a.unsent_finish);
    zpoller_destroy(&poller);
    tf_secure_watch_destroy(&a.watch);
    zsock_destroy(&a.dealer);
}

/* ------------------------------------------------------------------ actor side ------- */

static void
s_args_destroy(agent_args_t **args_p)
{
    agent_args_t *args = *args_p;
    if (!args)
        return;
    tf_secure_watch_destroy(&args->watch);
    zsock_destroy(&args->dealer);
    free(args->endpoint);
    free(args->service);
    free(args->name);
    free(args->identity);
    free(args->host);
    free(args);
    *args_p = NULL;
}

tf_actor_t *
tf_actor_new(tf_config_t *cfg, const char *service, const char *name, tf_err_t *err)
{
    tf_actor_t *self = calloc(1, sizeof *self);
    agent_args_t *args = calloc(1, sizeof *args);
    if (!self || !args) {
        free(self);
        free(args);
        tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    self->args = args;
    self->config = cfg;
    self->name = strdup(name);
    char identity[200];
    uint32_t bits = 0;
    if (getrandom(&bits, sizeof bits, 0) != (ssize_t) sizeof bits)
        bits = (uint32_t) tf_clock_mono_ms();
    snprintf(identity, sizeof identity, "%s-%d-%04x", name, (int) getpid(), (unsigned) (bits & 0xffff));
    args->endpoint = strdup(tf_config_get(cfg, "broker/endpoint"));
    args->service = strdup(service);
    args->name = strdup(name);
    args->identity = strdup(identity);
    args->host = strdup(tf_config_get(cfg, "tapeflow/host"));
    args->heartbeat_ms = tf_config_ms(cfg, "broker/heartbeat");
    args->liveness = tf_config_int(cfg, "broker/liveness");
    args->max_message = tf_config_size(cfg, "broker/max_message");
    if (!self->name || !args->endpoint || !args->service || !args->name || !args->identity
        || !args->host) {
        tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        tf_actor_destroy(&self);
        return NULL;
    }
    self->events = tf_publisher_new(cfg, tf_config_get(cfg, "bus/frontend"), name,
                                    tf_config_int(cfg, "bus/hwm"), err);
    if (!self->events) {
        tf_actor_destroy(&self);
        return NULL;
    }
    args->dealer = zsock_new(ZMQ_DEALER);
    if (!args->dealer) {
        tf_err_set(err, TF_ERR_NOMEM, "cannot create the broker socket");
        tf_actor_destroy(&self);
        return NULL;
    }
    zsock_set_identity(args->dealer, args->identity);
    /* Long enough for a last done/disconnect to reach the broker, short enough not to hang a
       stopping actor when the broker is gone. */
    zsock_set_linger(args->dealer, 1000);
    /* A connecting socket that receives more than its limit drops the connection for good
       (libzmq 4.3), so the worker's limit sits above anything the broker can accept. */
    tf_wire_limit(args->dealer, args->max_message + (1 << 20));
    /* A refused connection is gone, and a send with nowhere to go would block the agent for
       good (it could not even stop): sends give up after a heartbeat instead. */
    zsock_set_sndtimeo(args->dealer, (int) args->heartbeat_ms);
    if (tf_secure_connect(cfg, args->dealer, args->endpoint, NULL, err) != TF_OK) {
        tf_err_prefix(err, "broker/endpoint: ");
        tf_actor_destroy(&self);
        return NULL;
    }
    /* The role to trust it with: a file agent's services come as one (keys trust --role agent). */
    bool file_agent = streq(service, "scan") || streq(service, "compress") || streq(service, "extract");
    args->watch = tf_secure_watch_new(cfg, args->dealer, args->endpoint, "the broker",
                                      file_agent ? "agent" : service, err);
    if (!args->watch) {
        tf_actor_destroy(&self);
        return NULL;
    }
    self->agent = zactor_new(s_agent, args);
    if (!self->agent) {
        tf_err_set(err, TF_ERR_IO, "cannot start the broker connection (endpoint %s)", args->endpoint);
        tf_actor_destroy(&self);
        return NULL;
    }
    tf_log_info("%s serving '%s' via broker %s", name, service, args->endpoint);
    return self;
}

void
tf_actor_destroy(tf_actor_t **self_p)
{
    if (self_p && *self_p) {
        tf_actor_t *self = *self_p;
        zactor_destroy(&self->agent);  /* sends $TERM and waits for the agent to end */
        s_args_destroy(&self->args);
        tf_publisher_destroy(&self->events);
        free(self->name);
        free(self->result);
        free(self);
        *self_p = NULL;
    }
}

bool
tf_actor_interrupted(tf_actor_t *self)
{
    (void) self;
    return zsys_interrupted != 0;
}

void *tf_actor_pollable(tf_actor_t *self) { return self->agent; }
tf_publisher_t *tf_actor_events(tf_actor_t *self) { return self->events; }
const char *tf_actor_name(tf_actor_t *self) { return self->name; }
tf_config_t *tf_actor_config(tf_actor_t *self) { return self->config; }

int
tf_actor_next(tf_actor_t *self, tf_msg_t *work, int timeout_ms, tf_err_t *err)
{
    memset(work, 0, sizeof *work);
    if (zsys_interrupted)
        return tf_err_set(err, TF_ERR_INTERRUPTED, "stopping");
    zpoller_t *poller = zpoller_new(self->agent, NULL);
    if (!poller)
        return tf_err_set(err, TF_ERR_NOMEM, "cannot create a poller");
    void *ready = zpoller_wait(poller, timeout_ms);
    bool terminated = zpoller_terminated(poller);
    zpoller_destroy(&poller);
    if (!ready)
        return terminated || zsys_interrupted ? tf_err_set(err, TF_ERR_INTERRUPTED, "stopping")
                                              : tf_err_set(err, TF_ERR_TIMEOUT, "no work");
    zmsg_t *zmsg = zmsg_recv(self->agent);
    if (!zmsg)
        return tf_err_set(err, TF_ERR_INTERRUPTED, "stopping");
    char *cmd = zmsg_popstr(zmsg);
    zframe_t *frame = zmsg_first(zmsg);
    int rc;
    if (!cmd || !streq(cmd, CMD_WORK) || !frame)
        rc = tf_err_set(err, TF_ERR_PROTO, "unexpected message from the agent");
    else
        rc = tf_msg_decode(zframe_data(frame), zframe_size(frame), work, err);
    zstr_free(&cmd);
    zmsg_destroy(&zmsg);
    return rc;
}

static int
s_to_agent(tf_actor_t *self, const char *cmd, const tf_msg_t *msg)
{
    uint8_t *data;
    size_t size;
    tf_err_t err = {0};
    int rc = tf_msg_encode(msg, &data, &size, &err);
    if (rc != TF_OK) {
        tf_log_error("cannot encode %s: %s", tf_msg_type_name(msg->type), err.message);
        return rc;
    }
    zmsg_t *zmsg = zmsg_new();
    if (!zmsg || zmsg_addstr(zmsg, cmd) != 0 || zmsg_addmem(zmsg, data, size) != 0
        || zmsg_send(&zmsg, self->agent) != 0) {
        zmsg_destroy(&zmsg);
        free(data);
        return TF_ERR_IO;
    }
    free(data);
    return TF_OK;
}

int
tf_actor_done(tf_actor_t *self, const tf_msg_work_t *work, const void *result, size_t size)
{
    tf_msg_t msg = {.type = TF_MSG_DONE};
    msg.done = (tf_msg_done_t){
        .item_id = work->item_id,
        .attempt = work->attempt,
        .result = {(uint8_t *) (result ? result : ""), result ? size : 0},
    };
    return s_to_agent(self, CMD_FINISH, &msg);
}

int
tf_actor_failed(tf_actor_t *self, const tf_msg_work_t *work, bool retry, const char *reason)
{
    tf_msg_t msg = {.type = TF_MSG_FAILED};
    msg.failed = (tf_msg_failed_t){
        .item_id = work->item_id,
        .attempt = work->attempt,
        .reason = (char *) (reason && *reason ? reason : "no reason given"),
        .retry = retry,
    };
    return s_to_agent(self, CMD_FINISH, &msg);
}

int
tf_actor_progress(tf_actor_t *self, const tf_msg_work_t *work, uint64_t done, uint64_t total,
                  const char *message)
{
    if (!self)
        return TF_OK;  /* a handler run in-process (tf_actor_route without a runtime) */
    tf_msg_t msg = {.type = TF_MSG_PROGRESS};
    msg.progress = (tf_msg_progress_t){
        .item_id = work->item_id,
        .attempt = work->attempt,
        .done = done,
        .total = total,
        .message = (char *) message,
    };
    return s_to_agent(self, CMD_REPORT, &msg);
}

int
tf_actor_set_result(tf_actor_t *self, const void *result, size_t size)
{
    if (!self)
        return TF_OK;
    free(self->result);
    self->result = NULL;
    self->result_size = 0;
    if (!result)
        return TF_OK;
    self->result = malloc(size ? size : 1);
    if (!self->result)
        return TF_ERR_NOMEM;
    memcpy(self->result, result, size);
    self->result_size = size;
    return TF_OK;
}

bool
tf_actor_status_retryable(int status)
{
    switch (status) {
    case TF_ERR_INVALID:
    case TF_ERR_PROTO:
    case TF_ERR_NOTFOUND:
    case TF_ERR_UNSUPPORTED:
    case TF_ERR_TOOBIG:
        return false;
    default:
        return true;
    }
}

int
tf_actor_set_result_msg(tf_actor_t *self, const tf_msg_t *result, tf_err_t *err)
{
    tf_err_t local = {0};
    if (!err)
        err = &local;
    uint8_t *data = NULL;
    size_t size = 0;
    int rc = tf_msg_encode(result, &data, &size, err);
    if (rc != TF_OK)
        return tf_err_prefix(err, "cannot encode the item's %s result: ", tf_msg_type_name(result->type));
    rc = tf_actor_set_result(self, data, size);
    free(data);
    if (rc != TF_OK)
        return tf_err_set(err, rc, "out of memory keeping the item's %s result (%zu bytes)",
                          tf_msg_type_name(result->type), size);
    return TF_OK;
}

/* ------------------------------------------------------------------ routes ------------ */

static bool
s_is_end(const tf_actor_route_t *row)
{
    return row->type == TF_MSG_NONE && !row->fn;
}

static const tf_actor_route_t *
s_route_find(const tf_actor_route_t *routes, tf_msg_type_t type)
{
    for (const tf_actor_route_t *row = routes; !s_is_end(row); row++)
        if (row->type == type)
            return row;
    return NULL;
}

static const char *
s_type_name(tf_msg_type_t type)
{
    if (type == TF_ACTOR_OPAQUE)
        return "TF_ACTOR_OPAQUE";
    if (type == TF_ACTOR_REFUSED)
        return "TF_ACTOR_REFUSED";
    return tf_msg_type_name(type);
}

/* A table the runtime can serve: every row has a handler and a type, no type twice, an
   opaque row alone. A programming error, so checked before serving rather than per item. */
static int
s_routes_check(const tf_actor_route_t *routes, tf_err_t *err)
{
    if (!routes)
        return tf_err_set(err, TF_ERR_INVALID, "no route table");
    size_t rows = 0;
    bool opaque = false;
    for (const tf_actor_route_t *row = routes; !s_is_end(row); row++, rows++) {
        bool message = row->type > TF_MSG_NONE && row->type < TF_MSG_TYPE_COUNT;
        if (!message && row->type != TF_ACTOR_OPAQUE && row->type != TF_ACTOR_REFUSED)
            return tf_err_set(err, TF_ERR_INVALID, "route table row %zu: type %d is not a message type", rows,
                              (int) row->type);
        if (!row->fn)
            return tf_err_set(err, TF_ERR_INVALID, "route table row %zu (%s): no handler", rows,
                              s_type_name(row->type));
        if (s_route_find(routes, row->type) != row)
            return tf_err_set(err, TF_ERR_INVALID, "route table row %zu: %s is routed twice", rows,
                              s_type_name(row->type));
        opaque = opaque || row->type == TF_ACTOR_OPAQUE;
    }
    if (opaque && rows > 1)
        return tf_err_set(err, TF_ERR_INVALID, "route table: a TF_ACTOR_OPAQUE row must be the only row");
    if (rows == 0 || (rows == 1 && s_route_find(routes, TF_ACTOR_REFUSED)))
        return tf_err_set(err, TF_ERR_INVALID, "route table: no row serves a payload");
    return TF_OK;
}

/* "scan_job", "archive_ready or tape_restore", "a, b or c" */
static void
s_route_names(const tf_actor_route_t *routes, char *buf, size_t size)
{
    size_t count = 0, seen = 0, len = 0;
    for (const tf_actor_route_t *row = routes; !s_is_end(row); row++)
        count += row->type < TF_MSG_TYPE_COUNT;
    buf[0] = '\0';
    for (const tf_actor_route_t *row = routes; !s_is_end(row) && len < size; row++) {
        if (row->type >= TF_MSG_TYPE_COUNT)
            continue;
        seen++;
        const char *sep = seen == 1 ? "" : seen == count ? " or " : ", ";
        int n = snprintf(buf + len, size - len, "%s%s", sep, tf_msg_type_name(row->type));
        len += n > 0 ? (size_t) n : 0;
    }
}

static const char *
s_str(const char *text, const char *fallback)
{
    return text && *text ? text : fallback;
}

static int
s_decode(const tf_actor_route_t *routes, const tf_msg_work_t *work, tf_msg_t *payload, tf_err_t *err)
{
    const char *item = s_str(work->item_id, "?");
    const char *service = s_str(work->service, "(unnamed)");
    tf_err_t derr = {0};
    int rc = tf_msg_decode(work->payload.data, work->payload.size, payload, &derr);
    if (rc == TF_ERR_NOMEM)  /* not the payload's fault: another delivery may succeed */
        return tf_err_set(err, rc, "item %s: cannot decode its payload: %s", item, derr.message);
    if (rc != TF_OK)
        return tf_err_set(err, TF_ERR_PROTO, "item %s: malformed payload for the %s service: %s", item, service,
                          derr.message);
    if (!s_route_find(routes, payload->type)) {
        char takes[TF_ERR_MESSAGE_MAX / 2];
        s_route_names(routes, takes, sizeof takes);
        return tf_err_set(err, TF_ERR_PROTO, "item %s: the %s service does not handle %s messages (it takes %s)",
                          item, service, tf_msg_type_name(payload->type), takes);
    }
    return TF_OK;
}

int
tf_actor_decode(const tf_actor_route_t *routes, const tf_msg_work_t *work, tf_msg_t *payload, tf_err_t *err)
{
    memset(payload, 0, sizeof *payload);
    int rc = s_routes_check(routes, err);
    if (rc != TF_OK)
        return rc;
    if (s_route_find(routes, TF_ACTOR_OPAQUE))
        return tf_err_set(err, TF_ERR_INVALID, "route table: a TF_ACTOR_OPAQUE table decodes nothing");
    return s_decode(routes, work, payload, err);
}

int
tf_actor_route(tf_actor_t *self, const tf_actor_route_t *routes, const tf_msg_work_t *work, void *arg,
               tf_err_t *err)
{
    tf_err_t local = {0};
    if (!err)
        err = &local;
    int rc = s_routes_check(routes, err);
    if (rc != TF_OK)
        return rc;
    const tf_actor_route_t *opaque = s_route_find(routes, TF_ACTOR_OPAQUE);
    if (opaque)
        return opaque->fn(self, work, NULL, arg, err);
    tf_msg_t payload;
    memset(&payload, 0, sizeof payload);
    rc = s_decode(routes, work, &payload, err);
    if (rc == TF_OK)
        rc = s_route_find(routes, payload.type)->fn(self, work, &payload, arg, err);
    else if (rc == TF_ERR_PROTO) {
        const tf_actor_route_t *refused = s_route_find(routes, TF_ACTOR_REFUSED);
        if (refused)
            rc = refused->fn(self, work, payload.type != TF_MSG_NONE ? &payload : NULL, arg, err);
    }
    tf_msg_clear(&payload);
    return rc;
}

int
tf_actor_dispatch(tf_actor_t *self, const tf_actor_route_t *routes, const tf_msg_work_t *work, void *arg)
{
    tf_actor_set_result(self, NULL, 0);
    tf_err_t err = {0};
    int64_t started = tf_clock_mono_ms();
    int rc = tf_actor_route(self, routes, work, arg, &err);
    if (rc == TF_OK) {
        tf_actor_done(self, work, self->result ? self->result : (const void *) "", self->result_size);
        tf_log_debug("item %s done in %lld ms", work->item_id, (long long) (tf_clock_mono_ms() - started));
    }
    else {
        bool retry = tf_actor_status_retryable(rc);
        const char *reason = err.message[0] ? err.message : tf_status_name(rc);
        tf_log_warn("item %s %s: %s", work->item_id, retry ? "handed back" : "failed", reason);
        tf_actor_failed(self, work, retry, reason);
    }
    tf_actor_set_result(self, NULL, 0);  /* a large result need not wait for the next item */
    return rc;
}

int
tf_actor_run(tf_actor_t *self, const tf_actor_route_t *routes, void *arg)
{
    tf_err_t err = {0};
    if (s_routes_check(routes, &err) != TF_OK) {
        tf_log_error("%s cannot serve: %s", self->name, err.message);
        return 1;
    }
    for (;;) {
        tf_msg_t work;
        tf_err_clear(&err);
        int rc = tf_actor_next(self, &work, 1000, &err);
        if (rc == TF_ERR_TIMEOUT)
            continue;
        if (rc == TF_ERR_INTERRUPTED)
            break;
        if (rc != TF_OK) {
            tf_log_warn("ignored a bad work item: %s", err.message);
            continue;
        }
        rc = tf_actor_dispatch(self, routes, &work.work, arg);
        tf_msg_clear(&work);
        if (rc == TF_ERR_INTERRUPTED || zsys_interrupted)
            break;
    }
    tf_log_info("%s stopping", self->name);
    return 0;
}
