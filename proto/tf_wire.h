/*  tf_wire - sending and receiving tf_msg messages on ZeroMQ sockets.

    Frame layouts:
      DEALER <-> ROUTER    [payload]            (the ROUTER sees [routing id][payload])
      PUB -> XSUB/XPUB     [topic][payload]     (topic first so SUB prefix filters work)
    A malformed message is consumed whole and reported as TF_ERR_PROTO, so a bad peer can never
    leave half a message on a socket.
*/
#ifndef TF_WIRE_H_INCLUDED
#define TF_WIRE_H_INCLUDED

#include <czmq.h>

#include "tf_msg.h"

/* Sends msg; routing_id (ROUTER sockets) may be NULL. Fails with TF_ERR_NOTFOUND when a
   ROUTER_MANDATORY socket no longer knows the peer. */
int tf_wire_send(zsock_t *sock, zframe_t *routing_id, const tf_msg_t *msg, tf_err_t *err);

/* Receives one message. With routing_id non-NULL the first frame is taken as the routing id
   (caller destroys it, also on TF_ERR_PROTO so it can reply with an error). Fails with
   TF_ERR_TIMEOUT when the socket's ZMQ_RCVTIMEO expires, TF_ERR_INTERRUPTED on a signal. */
int tf_wire_recv(zsock_t *sock, zframe_t **routing_id, tf_msg_t *msg, tf_err_t *err);

/* Publishes an event as [topic][payload]. Never blocks: a full queue drops the event. */
int tf_wire_publish(zsock_t *pub, const tf_msg_t *event, tf_err_t *err);

/* Receives an event published by tf_wire_publish (SUB side). */
int tf_wire_recv_event(zsock_t *sub, tf_msg_t *event, tf_err_t *err);

/* Applies the receive limit every socket that reads from another process must have. */
void tf_wire_limit(zsock_t *sock, int64_t max_message);

#endif
