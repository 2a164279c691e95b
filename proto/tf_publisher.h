/*  tf_publisher - publishes events on the bus with a per-source sequence number.

    Connects a PUB socket to the bus frontend. Publishing never blocks: when the bus or a
    subscriber cannot keep up, events are dropped and subscribers see a gap in seq. The event bus
    is for observing only; nothing may depend on an event arriving.
*/
#ifndef TF_PUBLISHER_H_INCLUDED
#define TF_PUBLISHER_H_INCLUDED

#include <stdint.h>

#include "tf_config.h"
#include "tf_msg.h"

typedef struct _tf_publisher_t tf_publisher_t;

/* source names this process on the bus (e.g. "broker", "echo.1"); hwm is the send queue in
   events (bus/hwm), 0 for ZeroMQ's own default. A tcp endpoint is connected through CURVE with
   cfg's keys (tf_secure; cfg may be NULL for ipc). */
tf_publisher_t *tf_publisher_new(const tf_config_t *cfg, const char *endpoint, const char *source, int64_t hwm,
                                 tf_err_t *err);
void tf_publisher_destroy(tf_publisher_t **self_p);

/* Fills ev's time, source and seq, then publishes. ev->topic must be set. */
int tf_publisher_emit(tf_publisher_t *self, tf_msg_event_t *ev);

/* Publishes a plain message event. level: "info", "warn" or "error". */
int tf_publisher_say(tf_publisher_t *self, const char *topic, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The last sequence number used. */
uint64_t tf_publisher_seq(tf_publisher_t *self);

#endif
