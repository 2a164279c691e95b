/*  tapeflow-broker - serves the broker core on a ROUTER socket.

    Socket choices: ROUTER_MANDATORY so a send to a vanished worker fails at once (and its item
    is queued again) instead of being dropped silently; ROUTER_HANDOVER so a worker that
    reconnects with the same identity takes over its old connection; linger 0 because every
    state change is already in the journal, so nothing in a send queue is worth waiting for.
*/
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>

#include "authz.h"
#include "broker.h"
#include "tf_client.h"
#include "tf_clock.h"
#include "tf_log.h"
#include "tf_main.h"
#include "tf_publisher.h"
#include "tf_secure.h"
#include "tf_wire.h"

typedef struct {
    zsock_t *router;
    tf_publisher_t *publisher;
    tf_auth_t *auth;            /* CURVE clients of a tcp router: unknown keys refused */
    tf_keys_t *keys;            /* the trusted keys' roles, checked per message */
    bool tcp;                   /* the router listens on tcp: every peer must have a CURVE key */
    uint64_t denied;            /* messages refused for the sender's roles (or for no key) */
} broker_io_t;

static int
s_send(void *arg, const char *peer, const tf_msg_t *msg)
{
    broker_io_t *io = arg;
    size_t len = strlen(peer) / 2;
    byte id[256];
    if (len == 0 || len > sizeof id)
        return TF_ERR_NOTFOUND;
    for (size_t i = 0; i < len; i++) {
        unsigned v;
        if (sscanf(peer + 2 * i, "%2x", &v) != 1)
            return TF_ERR_NOTFOUND;
        id[i] = (byte) v;
    }
    zframe_t *frame = zframe_new(id, len);
    if (!frame)
        return TF_ERR_NOMEM;
    tf_err_t err = {0};
    int rc = tf_wire_send(io->router, frame, msg, &err);
    zframe_destroy(&frame);
    if (rc != TF_OK && rc != TF_ERR_NOTFOUND)
        tf_log_warn("cannot send %s to %s: %s", tf_msg_type_name(msg->type), peer, err.message);
    return rc;
}

static void
s_publish(void *arg, tf_msg_event_t *event)
{
    broker_io_t *io = arg;
    if (io->publisher)
        tf_publisher_emit(io->publisher, event);
}

/* A second broker on the same ipc path would silently take the socket over: ask first. */
static bool
s_other_broker_answers(const char *endpoint)
{
    if (strncmp(endpoint, "ipc://", 6) != 0 || access(endpoint + 6, F_OK) != 0)
        return false;
    tf_client_t *client = tf_client_new(NULL, endpoint, NULL);  /* ipc only, see above */
    if (!client)
        return false;
    tf_msg_t reply;
    bool answered = tf_client_status(client, &reply, 500, NULL) == TF_OK;
    if (answered)
        tf_msg_clear(&reply);
    tf_client_destroy(&client);
    return answered;
}

/* Connections refused at the CURVE handshake (tf_auth) and messages refused for their key's
   roles both count as security refusals: status.security_refused, alert.security. */
static uint64_t
s_security_refused(broker_t *broker, const broker_io_t *io)
{
    return tf_auth_refused(io->auth) + io->denied + broker_refused(broker);
}

static void
s_alert(broker_io_t *io, const char *why)
{
    tf_log_warn("security: %s", why);
    if (io->publisher)
        tf_publisher_say(io->publisher, "alert.security", "warn", "%s", why);
}

static void
s_auth_refusals(broker_io_t *io)
{
    char why[TF_AUTH_REFUSAL_MAX];
    while (tf_auth_next_refusal(io->auth, why, sizeof why))
        s_alert(io, why);
}

/* The request id of a client request, so a refusal reaches the waiting caller. */
static const char *
s_rid(const tf_msg_t *msg)
{
    switch (msg->type) {
    case TF_MSG_SUBMIT: return msg->submit.rid;
    case TF_MSG_ITEM_GET: return msg->item_get.rid;
    case TF_MSG_STATUS_GET: return msg->status_get.rid;
    case TF_MSG_JOB_OP: return msg->job_op.rid;
    default: return NULL;
    }
}

/* Over tcp: the sender's key may send msg (authz); a refusal is answered, counted and alerted.
   ipc peers (no key) are local and trusted. A broker on tcp takes no message without a key:
   should a frame ever arrive without its CURVE User-Id, it is refused, not trusted. */
static bool
s_allowed(broker_io_t *io, const char *peer, zframe_t *routing, const tf_msg_t *msg)
{
    const char *public_key = tf_secure_peer_public_key(routing);
    if (!public_key && !io->tcp)
        return true;
    const tf_key_t *key = public_key ? tf_keys_lookup(io->keys, public_key) : NULL;
    tf_err_t err = {0};
    if (!public_key)
        tf_err_set(&err, TF_ERR_INVALID, "a message without a CURVE key on the tcp endpoint (peer %s): refused; "
                   "report this, the broker expects every tcp peer to be authenticated", peer);
    else if (!key)
        tf_err_set(&err, TF_ERR_INVALID, "key %s (%s) is no longer trusted here: tapeflow keys trust it again, "
                   "or stop that peer", tf_secure_peer_key(routing), public_key);
    else if (authz_check(key, msg, &err) == TF_OK)
        return true;
    io->denied++;
    char why[TF_ERR_MESSAGE_MAX + 64];
    snprintf(why, sizeof why, "refused %s: %s", tf_msg_type_name(msg->type), err.message);
    s_alert(io, why);
    tf_msg_t reply = {.type = TF_MSG_ERROR};
    reply.error = (tf_msg_error_t){.rid = (char *) s_rid(msg), .code = TF_ERR_INVALID, .message = err.message};
    s_send(io, peer, &reply);
    return false;
}

static void
s_answer_status(broker_t *broker, broker_io_t *io, const char *peer, const tf_msg_t *msg)
{
    tf_msg_t status;
    if (broker_status(broker, msg->status_get.rid, tf_clock_mono_ms(), tf_clock_wall_ms(), &status) != TF_OK) {
        /* broker_handle answers the shortage itself */
        broker_handle(broker, peer, NULL, msg, tf_clock_mono_ms(), tf_clock_wall_ms());
        return;
    }
    status.status.security_refused = s_security_refused(broker, io);
    s_send(io, peer, &status);
    tf_msg_clear(&status);
}

/* Waits up to wait_ms for messages and handles what is waiting, bounded so heartbeats are never
   starved. The router is never polled (zmq_poll, ZMQ_EVENTS): libzmq 4.3's ROUTER drops the
   connection's metadata - the CURVE key - of the message a poll prefetches, so it is read with
   a receive timeout instead. */
static void
s_receive_all(broker_t *broker, broker_io_t *io, int wait_ms)
{
    zsock_t *router = io->router;
    for (int i = 0; i < 1000; i++) {
        zsock_set_rcvtimeo(router, i == 0 ? wait_ms : 0);
        zframe_t *routing = NULL;
        tf_msg_t msg;
        tf_err_t err = {0};
        int rc = tf_wire_recv(router, &routing, &msg, &err);
        if (rc == TF_ERR_INTERRUPTED || rc == TF_ERR_TIMEOUT) {
            zframe_destroy(&routing);
            return;
        }
        char *peer = routing ? zframe_strhex(routing) : NULL;
        /* The key's name (NULL over ipc): the broker records it on the worker it registers. */
        const char *key_name = tf_secure_peer_key(routing);
        if (peer && rc == TF_OK && s_allowed(io, peer, routing, &msg)) {
            if (msg.type == TF_MSG_SUBMIT && authz_stamp_submitter(&msg, key_name, &err) != TF_OK)
                tf_log_warn("cannot record who submitted %s: %s", msg.submit.item_id ? msg.submit.item_id : "an item",
                            err.message);
            if (msg.type == TF_MSG_STATUS_GET)
                s_answer_status(broker, io, peer, &msg);
            else
                broker_handle(broker, peer, key_name, &msg, tf_clock_mono_ms(), tf_clock_wall_ms());
        }
        else if (peer && rc != TF_OK)
            broker_reject(broker, peer, &err, tf_clock_mono_ms(), tf_clock_wall_ms());
        tf_msg_clear(&msg);
        free(peer);
        zframe_destroy(&routing);
    }
}

int
main(int argc, char **argv)
{
    tf_main_t m;
    int rc = tf_main_init(&m, argc, argv, "tapeflow-broker", "broker",
                          "Dispatches work items to actors and keeps them in a durable journal.");
    if (rc != TF_MAIN_CONTINUE)
        return rc;
    tf_config_t *cfg = m.config;
    const char *endpoint = tf_config_get(cfg, "broker/endpoint");
    const char *journal_file = tf_config_get(cfg, "broker/journal");
    tf_err_t err = {0};
    int status = 1;
    journal_t *journal = NULL;
    broker_t *broker = NULL;
    broker_io_t io = {0};
    zlist_t *services = NULL;
    const char **known = NULL;

    if (tf_main_prepare_endpoint(endpoint, &err) != TF_OK) {
        tf_log_error("%s", err.message);
        goto out;
    }
    if (s_other_broker_answers(endpoint)) {
        tf_log_error("another broker already answers at %s; stop it first (tapeflow down)", endpoint);
        goto out;
    }
    journal = journal_open(journal_file, &err);
    if (!journal) {
        tf_log_error("%s", err.message);
        goto out;
    }
    io.router = zsock_new(ZMQ_ROUTER);
    if (!io.router) {
        tf_log_error("cannot create the broker socket");
        goto out;
    }
    zsock_set_router_mandatory(io.router, 1);
    zsock_set_router_handover(io.router, 1);
    zsock_set_linger(io.router, 0);
    tf_wire_limit(io.router, tf_config_size(cfg, "broker/max_message"));
    io.auth = tf_auth_new(cfg, &err);
    io.keys = io.auth ? tf_keys_new(cfg, &err) : NULL;
    io.tcp = tf_secure_is_tcp(endpoint);
    if (!io.keys) {
        tf_log_error("%s", err.message);
        goto out;
    }
    if (tf_secure_bind(io.auth, io.router, endpoint, &err) < 0) {
        tf_log_error("%s (is another broker running, or is the address wrong?)", err.message);
        goto out;
    }
    io.publisher = tf_publisher_new(cfg, tf_config_get(cfg, "bus/frontend"), "broker",
                                    tf_config_int(cfg, "bus/hwm"), &err);
    if (!io.publisher)
        tf_log_warn("events disabled: %s", err.message);

    /* Work for a service no configured actor runs would wait forever: refuse it at submit. */
    services = tf_config_services(cfg);
    known = services ? calloc(zlist_size(services) + 1, sizeof *known) : NULL;
    if (!known) {
        tf_log_error("out of memory listing the configured services");
        goto out;
    }
    size_t nknown = 0;
    for (const char *s = zlist_first(services); s; s = zlist_next(services))
        known[nknown++] = s;
    broker_opts_t opts = {
        .heartbeat_ms = tf_config_ms(cfg, "broker/heartbeat"),
        .liveness = tf_config_int(cfg, "broker/liveness"),
        .max_attempts = tf_config_int(cfg, "broker/max_attempts"),
        .keep_done_ms = tf_config_ms(cfg, "broker/keep_done"),
        .job_service = tf_config_get(cfg, "broker/job_service"),
        .services = known,
        .reject_log = tf_config_int(cfg, "broker/reject_log"),
        .reject_summary_ms = 60000,
        .reject_log_minute = tf_config_int(cfg, "broker/reject_log_minute"),
        .host_wait_alert_ms = tf_config_ms(cfg, "broker/host_wait_alert"),
    };
    broker = broker_new(journal, &opts, s_send, s_publish, &io);
    if (!broker || broker_recover(broker, tf_clock_mono_ms(), &err) != TF_OK) {
        tf_log_error("cannot start: %s", broker ? err.message : "out of memory");
        goto out;
    }
    tf_log_info("broker listening on %s, journal %s", endpoint, journal_file);
    char list[1024] = "";
    for (size_t i = 0, used = 0; i < nknown && used < sizeof list; i++) {
        int w = snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", known[i]);
        used += w > 0 ? (size_t) w : 0;
    }
    tf_log_info("accepting work for the services %s (and any a worker registers for)", list);
    if (io.publisher)
        tf_publisher_say(io.publisher, "broker.started", "info", "broker listening on %s", endpoint);

    while (!zsys_interrupted) {
        int64_t wait = broker_tick(broker, tf_clock_mono_ms(), tf_clock_wall_ms());
        s_receive_all(broker, &io, (int) (wait > 1000 ? 1000 : wait < 1 ? 1 : wait));
        s_auth_refusals(&io);
    }
    tf_log_info("broker stopping (%llu items completed this run)", (unsigned long long) broker_completed(broker));
    status = 0;
out:
    broker_destroy(&broker);
    free(known);
    zlist_destroy(&services);
    journal_destroy(&journal);
    tf_publisher_destroy(&io.publisher);
    zsock_destroy(&io.router);
    tf_auth_destroy(&io.auth);  /* after the socket it watches */
    tf_keys_destroy(&io.keys);
    tf_main_fini(&m);
    return status;
}
