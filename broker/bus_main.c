/*  tapeflow-bus - the event bus: an XSUB/XPUB proxy.

    Publishers connect their PUB sockets to the frontend (XSUB); subscribers connect SUB sockets
    to the backend (XPUB). Subscriptions flow back upstream so publishers only send what someone
    wants. Nothing here ever blocks a publisher: the XPUB side drops for a subscriber whose queue
    is full (its high-water mark), and the subscriber sees the gap in sequence numbers.
*/
#include <czmq.h>

#include "tf_log.h"
#include "tf_main.h"
#include "tf_wire.h"

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
    if (zsock_bind(xsub, "%s", frontend) < 0 || zsock_bind(xpub, "%s", backend) < 0) {
        tf_log_error("cannot listen on %s / %s: %s", frontend, backend, zmq_strerror(zmq_errno()));
        goto out;
    }
    poller = zpoller_new(xsub, xpub, NULL);
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
        else if (zpoller_terminated(poller))
            break;
    }
    tf_log_info("bus stopping after %llu events", (unsigned long long) events);
    status = 0;
out:
    zpoller_destroy(&poller);
    zsock_destroy(&xsub);
    zsock_destroy(&xpub);
    tf_main_fini(&m);
    return status;
}
