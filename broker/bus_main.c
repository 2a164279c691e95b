/*  tapeflow-bus - the event bus: an XSUB/XPUB proxy.

    Publishers connect their PUB sockets to the frontend (XSUB); subscribers connect SUB sockets
    to the backend (XPUB). Subscriptions flow back upstream so publishers only send what someone
    wants. Nothing here ever blocks a publisher: the XPUB side drops for a subscriber whose queue
    is full (its high-water mark), and the subscriber sees the gap in sequence numbers.
*/
#include <czmq.h>

#include "tf_clock.h"
#include "tf_log.h"
#include "tf_main.h"
#include "tf_secure.h"
#include "tf_wire.h"

/* Tells subscribers about a refused connection (alert.security), straight from the XPUB side:
   the bus is where events go, it needs no publisher of its own. */
static void
s_refusals(tf_auth_t *auth, zsock_t *xpub, uint64_t *seq)
{
    char why[TF_AUTH_REFUSAL_MAX];
    while (tf_auth_next_refusal(auth, why, sizeof why)) {
        tf_log_warn("security: %s", why);
        tf_msg_t msg = {.type = TF_MSG_EVENT};
        msg.event = (tf_msg_event_t){.topic = "alert.security", .level = "warn", .source = "bus",
                                     .seq = ++*seq, .time_ms = tf_clock_wall_ms(), .message = why};
        tf_err_t err = {0};
        if (tf_wire_publish(xpub, &msg, &err) != TF_OK)
            tf_log_warn("cannot publish alert.security: %s", err.message);
    }
}

/* Moves every waiting message from one socket to the other, frames intact. */
static void
s_forward(zsock_t *from, zsock_t *to, uint64_t *count)
{
    for (int i = 0; i < 10000 && (zsock_events(from) & ZMQ_POLLIN); i++) {
        zmsg_t *msg = zmsg_recv(from);
        if (!msg)
            return;
        if (zmsg_send(&msg, to) != 0)
            zmsg_destroy(&msg);  /* dropped: never block the bus */
        (*count)++;
    }
}

int
main(int argc, char **argv)
{
    tf_main_t m;
    int rc = tf_main_init(&m, argc, argv, "tapeflow-bus", "bus",
                          "Forwards events from every publisher to every subscriber.");
    if (rc != TF_MAIN_CONTINUE)
        return rc;
    tf_config_t *cfg = m.config;
    const char *frontend = tf_config_get(cfg, "bus/frontend");
    const char *backend = tf_config_get(cfg, "bus/backend");
    int hwm = (int) tf_config_int(cfg, "bus/hwm");
    int64_t max_message = tf_config_size(cfg, "broker/max_message");
    int status = 1;
    tf_err_t err = {0};
    zsock_t *xsub = zsock_new(ZMQ_XSUB);
    zsock_t *xpub = zsock_new(ZMQ_XPUB);
    zpoller_t *poller = NULL;
    tf_auth_t *auth = NULL;
    uint64_t own_seq = 0;
    if (!xsub || !xpub) {
        tf_log_error("cannot create bus sockets");
        goto out;
    }
    if (tf_main_prepare_endpoint(frontend, &err) != TF_OK || tf_main_prepare_endpoint(backend, &err) != TF_OK) {
        tf_log_error("%s", err.message);
        goto out;
    }
    zsock_set_linger(xsub, 0);
    zsock_set_linger(xpub, 0);
    zsock_set_rcvhwm(xsub, hwm);
    zsock_set_sndhwm(xpub, hwm);
    tf_wire_limit(xsub, max_message);
    tf_wire_limit(xpub, 4096);  /* only subscription requests arrive here */
    auth = tf_auth_new(cfg, &err);
    if (!auth || tf_secure_bind(auth, xsub, frontend, &err) < 0 || tf_secure_bind(auth, xpub, backend, &err) < 0) {
        tf_log_error("bus: %s", err.message);
        goto out;
    }
    poller = zpoller_new(xsub, xpub, tf_auth_pollable(auth), NULL);
    if (!poller)
        goto out;
    tf_log_info("bus: publishers connect to %s, subscribers to %s", frontend, backend);
    uint64_t events = 0, subscriptions = 0;
    while (!zsys_interrupted) {
        void *ready = zpoller_wait(poller, 1000);
        if (ready == xsub)
            s_forward(xsub, xpub, &events);
        else if (ready == xpub)
            s_forward(xpub, xsub, &subscriptions);
        else if (ready && ready == tf_auth_pollable(auth))
            s_refusals(auth, xpub, &own_seq);
        else if (zpoller_terminated(poller))
            break;
    }
    tf_log_info("bus stopping after %llu events", (unsigned long long) events);
    status = 0;
out:
    zpoller_destroy(&poller);
    zsock_destroy(&xsub);
    zsock_destroy(&xpub);
    tf_auth_destroy(&auth);  /* after the sockets it watches */
    tf_main_fini(&m);
    return status;
}
