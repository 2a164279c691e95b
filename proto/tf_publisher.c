/*  tf_publisher - events on the bus with per-source sequence numbers. */
#include "tf_publisher.h"

#include <czmq.h>
#include <stdarg.h>
#include <stdio.h>

#include "tf_clock.h"
#include "tf_log.h"
#include "tf_secure.h"
#include "tf_wire.h"

struct _tf_publisher_t {
    zsock_t *pub;
    char *source;
    uint64_t seq;
    uint64_t dropped_reported;
};

tf_publisher_t *
tf_publisher_new(const tf_config_t *cfg, const char *endpoint, const char *source, int64_t hwm, tf_err_t *err)
{
    tf_publisher_t *self = calloc(1, sizeof *self);
    if (!self) {
        tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    self->source = strdup(source);
    self->pub = zsock_new(ZMQ_PUB);
    if (!self->source || !self->pub) {
        tf_err_set(err, TF_ERR_NOMEM, "cannot create the event socket");
        tf_publisher_destroy(&self);
        return NULL;
    }
    if (hwm > 0)
        zsock_set_sndhwm(self->pub, (int) hwm);
    /* A short linger lets the last events of a stopping process out without delaying exit. */
    zsock_set_linger(self->pub, 200);
    tf_err_t cerr = {0};
    if (tf_secure_connect(cfg, self->pub, endpoint, NULL, &cerr) != TF_OK) {
        tf_err_set(err, cerr.code, "cannot connect to the event bus at '%s': %s", endpoint, cerr.message);
        tf_publisher_destroy(&self);
        return NULL;
    }
    return self;
}

void
tf_publisher_destroy(tf_publisher_t **self_p)
{
    if (self_p && *self_p) {
        tf_publisher_t *self = *self_p;
        zsock_destroy(&self->pub);
        free(self->source);
        free(self);
        *self_p = NULL;
    }
}

int
tf_publisher_emit(tf_publisher_t *self, tf_msg_event_t *ev)
{
    ev->time_ms = tf_clock_wall_ms();
    ev->source = self->source;
    ev->seq = ++self->seq;
    if (!ev->level)
        ev->level = "info";
    tf_msg_t msg = {.type = TF_MSG_EVENT};
    msg.event = *ev;
    tf_err_t err = {0};
    int rc = tf_wire_publish(self->pub, &msg, &err);
    if (rc != TF_OK && self->dropped_reported++ == 0)
        tf_log_warn("event %s not published: %s (further failures are not logged)", ev->topic, err.message);
    return rc;
}

int
tf_publisher_say(tf_publisher_t *self, const char *topic, const char *level, const char *fmt, ...)
{
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    tf_msg_event_t ev = {.topic = (char *) topic, .level = (char *) level, .message = message};
    return tf_publisher_emit(self, &ev);
}

uint64_t
tf_publisher_seq(tf_publisher_t *self)
{
    return self->seq;
}
