/*  tf_client - a client of the broker: submit work, ask about items, ask for status.

    Request/reply over a DEALER socket with a timeout, so a missing broker gives a clear
    "broker not reachable" error instead of a hang. Each request carries a request id (rid)
    and replies with another rid are discarded (a late answer to an earlier timed-out request).
*/
#ifndef TF_CLIENT_H_INCLUDED
#define TF_CLIENT_H_INCLUDED

#include <stdbool.h>

#include "tf_config.h"
#include "tf_msg.h"

typedef struct _tf_client_t tf_client_t;

/* Connects to the broker endpoint (e.g. "ipc:///var/lib/tapeflow/run/broker.sock"); a tcp
   endpoint through CURVE with cfg's keys (tf_secure; cfg may be NULL for ipc). Connecting never
   fails for a missing broker; requests time out instead. */
tf_client_t *tf_client_new(const tf_config_t *cfg, const char *endpoint, tf_err_t *err);
void tf_client_destroy(tf_client_t **self_p);

/* Sends request (its rid is set by the client) and waits up to timeout_ms for the reply, which
   the caller clears with tf_msg_clear. A TF_MSG_ERROR reply is returned as TF_ERR_* with its
   message. TF_ERR_TIMEOUT says the broker did not answer and how to check it. */
int tf_client_request(tf_client_t *self, tf_msg_t *request, tf_msg_t *reply, int timeout_ms,
                      tf_err_t *err);

/* Convenience wrappers. */
int tf_client_status(tf_client_t *self, tf_msg_t *reply, int timeout_ms, tf_err_t *err);
/* Whether the broker lists a worker of service registered from host (READY.host): the file
   agent a host's backup or restore needs. */
int tf_client_has_worker(tf_client_t *self, const char *service, const char *host, int timeout_ms, bool *present,
                         tf_err_t *err);
int tf_client_submit(tf_client_t *self, const char *service, const char *item_id,
                     const char *job_id, const void *payload, size_t size, tf_msg_t *reply,
                     int timeout_ms, tf_err_t *err);
int tf_client_item(tf_client_t *self, const char *item_id, tf_msg_t *reply, int timeout_ms,
                   tf_err_t *err);

/* Submits payload (a catalogue message, encoded here) as an item. */
int tf_client_submit_msg(tf_client_t *self, const char *service, const char *item_id,
                         const char *job_id, const tf_msg_t *payload, tf_msg_t *reply,
                         int timeout_ms, tf_err_t *err);

/* The same for an item only a worker of host may run (submit.host; NULL or "": any). */
int tf_client_submit_on(tf_client_t *self, const char *service, const char *host,
                        const char *item_id, const char *job_id, const void *payload, size_t size,
                        tf_msg_t *reply, int timeout_ms, tf_err_t *err);
int tf_client_submit_msg_on(tf_client_t *self, const char *service, const char *host,
                            const char *item_id, const char *job_id, const tf_msg_t *payload,
                            tf_msg_t *reply, int timeout_ms, tf_err_t *err);

/* Polls an item until it is done or failed, up to timeout_ms. TF_OK when done (info filled,
   caller clears); TF_ERR_STATE with the item's reason when it failed or was cancelled; TF_ERR_TIMEOUT when it
   is still queued or in flight. */
int tf_client_wait(tf_client_t *self, const char *item_id, int timeout_ms, tf_msg_t *info,
                   tf_err_t *err);

/* Submit and wait: runs payload as an item of service and decodes the item's result into
   *result (a catalogue message; TF_MSG_NONE when the result is empty). item_id may be NULL
   for a fresh id. The caller clears *result. */
int tf_client_call(tf_client_t *self, const char *service, const char *item_id, const char *job_id,
                   const tf_msg_t *payload, tf_msg_t *result, int timeout_ms, tf_err_t *err);
int tf_client_call_on(tf_client_t *self, const char *service, const char *host, const char *item_id,
                      const char *job_id, const tf_msg_t *payload, tf_msg_t *result, int timeout_ms,
                      tf_err_t *err);

/* Sends an operator action on a job (cancel, retry; see tf_msg_job_op_t). TF_OK: *reply is
   the JOB_OP_OK (caller clears); the broker's refusal comes back as its TF_ERR_* and message. */
int tf_client_job_op(tf_client_t *self, const tf_msg_job_op_t *op, tf_msg_t *reply, int timeout_ms,
                     tf_err_t *err);

#endif
