/*  tf_wire - tf_msg over ZeroMQ sockets. */
#include "tf_wire.h"

#include <errno.h>
#include <stdlib.h>

void
tf_wire_limit(zsock_t *sock, int64_t max_message)
{
    /* libzmq drops a connection that sends anything larger, before buffering it. */
    zsock_set_maxmsgsize(sock, (int) (max_message > INT32_MAX ? INT32_MAX : max_message));
}

int
tf_wire_send(zsock_t *sock, zframe_t *routing_id, const tf_msg_t *msg, tf_err_t *err)
{
    uint8_t *data;
    size_t size;
    int rc = tf_msg_encode(msg, &data, &size, err);
    if (rc != TF_OK)
        return rc;
    if (routing_id && zframe_send(&routing_id, sock, ZFRAME_MORE | ZFRAME_REUSE | ZFRAME_DONTWAIT) != 0) {
        int e = errno;
        free(data);
        if (e == EHOSTUNREACH)
            return tf_err_set(err, TF_ERR_NOTFOUND, "peer is gone");
        return tf_err_errno(err, TF_ERR_IO, e, "cannot send %s", tf_msg_type_name(msg->type));
    }
    zframe_t *frame = zframe_new(data, size);
    free(data);
    if (!frame)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory sending %s", tf_msg_type_name(msg->type));
    if (zframe_send(&frame, sock, 0) != 0) {
        int e = errno;
        zframe_destroy(&frame);
        return tf_err_errno(err, TF_ERR_IO, e, "cannot send %s", tf_msg_type_name(msg->type));
    }
    return TF_OK;
}

/* zmsg_recv returns NULL on a signal, on context termination and when ZMQ_RCVTIMEO expires
   (EAGAIN); a timeout must not look like a request to shut down. */
static int
s_recv_failed(tf_err_t *err)
{
    if (errno == EAGAIN)
        return tf_err_set(err, TF_ERR_TIMEOUT, "receive timed out");
    return tf_err_set(err, TF_ERR_INTERRUPTED, "receive interrupted");
}

int
tf_wire_recv(zsock_t *sock, zframe_t **routing_id, tf_msg_t *msg, tf_err_t *err)
{
    memset(msg, 0, sizeof *msg);
    if (routing_id)
        *routing_id = NULL;
    zmsg_t *zmsg = zmsg_recv(sock);
    if (!zmsg)
        return s_recv_failed(err);
    if (routing_id)
        *routing_id = zmsg_pop(zmsg);
    int rc;
    if (zmsg_size(zmsg) != 1)
        rc = tf_err_set(err, TF_ERR_PROTO, "expected 1 payload frame, got %zu", zmsg_size(zmsg));
    else {
        zframe_t *frame = zmsg_first(zmsg);
        rc = tf_msg_decode(zframe_data(frame), zframe_size(frame), msg, err);
    }
    zmsg_destroy(&zmsg);
    return rc;
}

int
tf_wire_publish(zsock_t *pub, const tf_msg_t *event, tf_err_t *err)
{
    if (event->type != TF_MSG_EVENT)
        return tf_err_set(err, TF_ERR_INVALID, "only events can be published");
    uint8_t *data;
    size_t size;
    int rc = tf_msg_encode(event, &data, &size, err);
    if (rc != TF_OK)
        return rc;
    zmsg_t *zmsg = zmsg_new();
    if (!zmsg || zmsg_addstr(zmsg, event->event.topic) != 0 || zmsg_addmem(zmsg, data, size) != 0) {
        free(data);
        zmsg_destroy(&zmsg);
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory publishing event");
    }
    free(data);
    /* PUB never blocks: past its high-water mark it drops, which subscribers see as a gap in
       the source's sequence numbers. */
    if (zmsg_send(&zmsg, pub) != 0) {
        int e = errno;
        zmsg_destroy(&zmsg);
        return tf_err_errno(err, TF_ERR_IO, e, "cannot publish event");
    }
    return TF_OK;
}

int
tf_wire_recv_event(zsock_t *sub, tf_msg_t *event, tf_err_t *err)
{
    memset(event, 0, sizeof *event);
    zmsg_t *zmsg = zmsg_recv(sub);
    if (!zmsg)
        return s_recv_failed(err);
    int rc;
    if (zmsg_size(zmsg) != 2)
        rc = tf_err_set(err, TF_ERR_PROTO, "event has %zu frames, expected 2", zmsg_size(zmsg));
    else {
        zframe_t *payload = zmsg_last(zmsg);
        rc = tf_msg_decode(zframe_data(payload), zframe_size(payload), event, err);
        if (rc == TF_OK && event->type != TF_MSG_EVENT) {
            rc = tf_err_set(err, TF_ERR_PROTO, "bus carried a %s message, expected event",
                            tf_msg_type_name(event->type));
            tf_msg_clear(event);
        }
    }
    zmsg_destroy(&zmsg);
    return rc;
}
