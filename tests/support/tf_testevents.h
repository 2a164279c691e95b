/*  tf_testevents - a test's subscription to a stack's event bus.

    Subscribes to the bus backend for some topic prefixes and returns only once the subscription
    is live (its own warm-up event, published on the frontend, came back), so no event published
    after tf_testevents_new is missed for a slow join. A test then waits for a topic (and a
    text in the message) with a timeout, or reads the events one by one; every event received
    is kept as a "topic: message" line for assertions and failure messages.
*/
#ifndef TF_TESTEVENTS_H_INCLUDED
#define TF_TESTEVENTS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#include "tf_msg.h"

typedef struct _tf_testevents_t tf_testevents_t;

/* bus_in / bus_out: the bus frontend (publishers) and backend (subscribers); prefixes: the
   topics to receive (NULL-terminated; "" for all). NULL with the reason in why when the bus
   did not pass the warm-up event within 10 s. */
tf_testevents_t *tf_testevents_new(const char *bus_in, const char *bus_out, const char *const prefixes[],
                                   char *why, size_t why_size);
void tf_testevents_destroy(tf_testevents_t **self_p);

/* The next event (up to timeout_ms), in *ev (caller clears); false when none came. */
bool tf_testevents_next(tf_testevents_t *self, int timeout_ms, tf_msg_t *ev);

/* Waits up to timeout_ms for an event whose topic starts with topic and whose message holds
   text (either may be NULL), skipping others; the event in *ev (caller clears; ev may be NULL).
   False when none came. */
bool tf_testevents_wait(tf_testevents_t *self, const char *topic, const char *text, int timeout_ms,
                        tf_msg_t *ev);

/* Receives until the bus has been quiet for quiet_ms, then returns every event received so
   far as "topic: message" lines (owned by self). */
const char *tf_testevents_text(tf_testevents_t *self, int quiet_ms);

#endif
