/*  tf_actor - the runtime every actor process uses.

    It loads nothing itself: the actor's main passes the configuration. tf_actor_new connects to
    the broker (DEALER) and the event bus (PUB) and registers the service. A background agent
    thread owns the broker socket: it registers, heartbeats both ways, notices a silent or
    restarted broker and registers again, and hands work items to the actor's thread, so
    heartbeats continue while a long item is being worked on.

    An actor says what it serves with a table of routes, one row per payload message type; the
    runtime decodes each item's payload once, checks its type and calls that row's handler with
    the decoded message:

        // scanner.c: handlers are static, named s_on_<message type>
        static int
        s_on_scan_job(tf_actor_t *actor, const tf_msg_work_t *work, const tf_msg_t *payload,
                      void *arg, tf_err_t *err)
        {
            scanner_t *self = arg;
            const tf_msg_scan_job_t *job = &payload->scan_job;  // decoded, type checked
            ...                                                  // progress: tf_actor_progress
            return tf_actor_set_result_msg(actor, &result, err); // optional typed result
        }

        // the table is public, named <actor>_routes, declared in the actor's header
        const tf_actor_route_t scanner_routes[] = {
            {TF_MSG_SCAN_JOB, s_on_scan_job},
            TF_ACTOR_ROUTES_END
        };

        // main.c
        rc = tf_actor_run(actor, scanner_routes, scanner);

    The payload belongs to the runtime: the handler reads it and must not keep pointers into
    it after returning. One item at a time; returning TF_OK completes the item (with the result
    set by tf_actor_set_result_msg or tf_actor_set_result, if any), returning an error fails it
    with the error's message. Errors meaning "this input is bad" (TF_ERR_INVALID, TF_ERR_PROTO,
    TF_ERR_NOTFOUND, TF_ERR_UNSUPPORTED, TF_ERR_TOOBIG) fail the item for good; others ask the
    broker to deliver it again. SIGTERM/SIGINT stop the loop: an item in hand is handed back
    (failed, retry) unless the handler finished it.

    Hostile or misdirected payloads never reach a handler: the runtime fails the item for good
    (TF_ERR_PROTO) and goes on serving, with one of these messages (SERVICE is the item's
    service, as the broker delivered it):
        item ID: malformed payload for the SERVICE service: <what the decoder found>
        item ID: the SERVICE service does not handle TYPE messages (it takes A, B or C)

    Two pseudo-types may stand in a row's type field:
      TF_ACTOR_OPAQUE   the payload is not a message of the catalogue (the echo test actor's
                        text scripts): it is not decoded, the handler gets payload NULL and reads
                        work->payload. Such a row is the table's only row.
      TF_ACTOR_REFUSED  called when the runtime refused an item as above, before it is failed:
                        payload is the decoded message (no row takes its type) or NULL (it did
                        not decode), err holds the refusal; the handler returns the status to
                        fail the item with, normally err->code (the catalog records the refusal
                        on the item's job so the job does not wait forever).
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

/* ------------------------------------------------------------------ routes ------------ */

/* A route's handler. payload: the item's payload, decoded (NULL for TF_ACTOR_OPAQUE rows);
   arg: what the actor passed to tf_actor_run. actor may be NULL when a test calls
   tf_actor_route without a runtime. Returns a status; on failure err says why. */
typedef int(tf_actor_handler_fn)(tf_actor_t *actor, const tf_msg_work_t *work, const tf_msg_t *payload,
                                 void *arg, tf_err_t *err);

typedef struct {
    tf_msg_type_t type;          /* payload type served (or a pseudo-type below) */
    tf_actor_handler_fn *fn;
} tf_actor_route_t;

/* Pseudo-types for a row's type field (see above); they lie past every message type. */
#define TF_ACTOR_OPAQUE ((tf_msg_type_t) (TF_MSG_TYPE_COUNT + 1))
#define TF_ACTOR_REFUSED ((tf_msg_type_t) (TF_MSG_TYPE_COUNT + 2))
/* Ends every table. */
#define TF_ACTOR_ROUTES_END {TF_MSG_NONE, NULL}

/* Serves items through routes until interrupted. Returns 0 after a clean stop, 1 when routes
   is not a valid table (logged; nothing is served). */
int tf_actor_run(tf_actor_t *self, const tf_actor_route_t *routes, void *arg);

/* One item through routes, without answering it: decodes the payload, calls the row for its
   type (or refuses it, see above) and returns the handler's status. self may be NULL (tests
   running an actor's handlers in-process): tf_actor_progress and the result setters then do
   nothing, other calls that take the actor need one. */
int tf_actor_route(tf_actor_t *self, const tf_actor_route_t *routes, const tf_msg_work_t *work, void *arg,
                   tf_err_t *err);

/* The decode-and-check step alone, for an actor's in-process API: decodes work's payload into
   *payload and returns TF_OK when a row of routes takes its type; otherwise TF_ERR_PROTO with
   the refusal above in err. *payload keeps what decoded either way (type TF_MSG_NONE when
   nothing did); the caller clears it with tf_msg_clear. */
int tf_actor_decode(const tf_actor_route_t *routes, const tf_msg_work_t *work, tf_msg_t *payload, tf_err_t *err);

/* For actors with their own poll loop (see tf_actor_pollable): routes one item taken with
   tf_actor_next and answers it (done with the result, or failed), as tf_actor_run does.
   Returns the handler's status. */
int tf_actor_dispatch(tf_actor_t *self, const tf_actor_route_t *routes, const tf_msg_work_t *work, void *arg);

/* ------------------------------------------------------------------ inside a handler -- */

/* Progress on the item (the broker republishes it as job.<id>.progress). self may be NULL
   (a handler run in-process): nothing is sent. */
int tf_actor_progress(tf_actor_t *self, const tf_msg_work_t *work, uint64_t done, uint64_t total,
                      const char *message);
/* The item's result, a message of the catalogue: encoded and kept for the completion. Returns
   TF_OK, or the encoder's status (err says what could not be encoded) or TF_ERR_NOMEM. self
   may be NULL (a handler run in-process by a test): the message is still encoded, so an
   encoding error shows, and dropped. */
int tf_actor_set_result_msg(tf_actor_t *self, const tf_msg_t *result, tf_err_t *err);
/* The item's result as opaque bytes (copied); NULL clears it. */
int tf_actor_set_result(tf_actor_t *self, const void *result, size_t size);
/* True once SIGTERM/SIGINT arrived: long handlers check it and return TF_ERR_INTERRUPTED. */
bool tf_actor_interrupted(tf_actor_t *self);

tf_publisher_t *tf_actor_events(tf_actor_t *self);
const char *tf_actor_name(tf_actor_t *self);
tf_config_t *tf_actor_config(tf_actor_t *self);

/* Whether a handler's error status asks for another delivery. */
bool tf_actor_status_retryable(int status);

/* ------------------------------------------------------------------ lower level ------- */

/* Wait up to timeout_ms for one item (TF_OK, TF_ERR_TIMEOUT, TF_ERR_INTERRUPTED); the caller
   answers it (tf_actor_dispatch, or tf_actor_done / tf_actor_failed) and clears it with
   tf_msg_clear. */
int tf_actor_next(tf_actor_t *self, tf_msg_t *work, int timeout_ms, tf_err_t *err);
int tf_actor_done(tf_actor_t *self, const tf_msg_work_t *work, const void *result, size_t size);
int tf_actor_failed(tf_actor_t *self, const tf_msg_work_t *work, bool retry, const char *reason);

/* Something to put in a zpoller next to the actor's own sockets: readable when a work item is
   waiting (then tf_actor_next with timeout 0 takes it). For actors that also serve a socket. */
void *tf_actor_pollable(tf_actor_t *self);

#endif
