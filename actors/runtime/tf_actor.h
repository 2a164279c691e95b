/*  tf_actor - the runtime every actor process uses.

    It loads nothing itself: the actor's main passes the configuration. tf_actor_new connects to
    the broker (DEALER) and the event bus (PUB) and registers the service. A background agent
    thread owns the broker socket: it registers, heartbeats both ways, notices a silent or
    restarted broker and registers again, and hands work items to the actor's thread, so
    heartbeats continue while a long item is being worked on.

    The actor's thread runs tf_actor_run(actor, handler, arg): one item at a time, the handler
    does the work and reports progress; returning TF_OK completes the item (with the result set
    by tf_actor_set_result, if any), returning an error fails it with the error's message.
    Errors meaning "this input is bad" (TF_ERR_INVALID, TF_ERR_PROTO, TF_ERR_NOTFOUND,
    TF_ERR_UNSUPPORTED) fail the item for good; others ask the broker to deliver it again.
    SIGTERM/SIGINT stop the loop: an item in hand is handed back (failed, retry) unless the
    handler finished it.
*/
#ifndef TF_ACTOR_H_INCLUDED
#define TF_ACTOR_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#include "tf_config.h"
#include "tf_msg.h"
#include "tf_publisher.h"

typedef struct _tf_actor_t tf_actor_t;

tf_actor_t *tf_actor_new(tf_config_t *cfg, const char *service, const char *name, tf_err_t *err);
/* Tells the broker we are leaving (an unfinished item goes to another worker at once). */
void tf_actor_destroy(tf_actor_t **self_p);

typedef int(tf_actor_handler_fn)(tf_actor_t *actor, const tf_msg_work_t *work, void *arg, tf_err_t *err);

/* Serves items until interrupted. Returns 0 after a clean stop. */
int tf_actor_run(tf_actor_t *self, tf_actor_handler_fn *handler, void *arg);

/* Lower-level: wait up to timeout_ms for one item (TF_OK, TF_ERR_TIMEOUT, TF_ERR_INTERRUPTED);
   the caller answers it with tf_actor_done or tf_actor_failed and clears it with tf_msg_clear. */
int tf_actor_next(tf_actor_t *self, tf_msg_t *work, int timeout_ms, tf_err_t *err);
int tf_actor_done(tf_actor_t *self, const tf_msg_work_t *work, const void *result, size_t size);
int tf_actor_failed(tf_actor_t *self, const tf_msg_work_t *work, bool retry, const char *reason);

/* Inside a handler. */
int tf_actor_progress(tf_actor_t *self, const tf_msg_work_t *work, uint64_t done, uint64_t total,
                      const char *message);
/* Result returned with the completion (copied). */
int tf_actor_set_result(tf_actor_t *self, const void *result, size_t size);
/* True once SIGTERM/SIGINT arrived: long handlers check it and return TF_ERR_INTERRUPTED. */
bool tf_actor_interrupted(tf_actor_t *self);

/* Something to put in a zpoller next to the actor's own sockets: readable when a work item is
   waiting (then tf_actor_next with timeout 0 takes it). For actors that also serve a socket. */
void *tf_actor_pollable(tf_actor_t *self);

tf_publisher_t *tf_actor_events(tf_actor_t *self);
const char *tf_actor_name(tf_actor_t *self);
tf_config_t *tf_actor_config(tf_actor_t *self);

/* Whether a handler's error status asks for another delivery. */
bool tf_actor_status_retryable(int status);

#endif
