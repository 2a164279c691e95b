/*  tf_client - request/reply client of the broker. */
#include "tf_client.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tf_clock.h"
#include "tf_secure.h"
#include "tf_wire.h"

struct _tf_client_t {
    zsock_t *dealer;
    tf_secure_watch_t *watch;    /* tells a refused key from a broker that is not there */
    char *endpoint;
    uint64_t next_rid;
};

tf_client_t *
tf_client_new(const tf_config_t *cfg, const char *endpoint, tf_err_t *err)
{
    tf_client_t *self = calloc(1, sizeof *self);
    if (!self) {
        tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    self->endpoint = strdup(endpoint);
    self->dealer = zsock_new(ZMQ_DEALER);
    if (!self->endpoint || !self->dealer) {
        tf_err_set(err, TF_ERR_NOMEM, "cannot create a socket");
        tf_client_destroy(&self);
        return NULL;
    }
    zsock_set_linger(self->dealer, 0);  /* an unanswered request is not worth waiting for */
    tf_wire_limit(self->dealer, TF_MSG_MAX_BLOB + (1 << 20));
    tf_err_t cerr = {0};
    if (tf_secure_connect(cfg, self->dealer, endpoint, NULL, &cerr) != TF_OK) {
        tf_err_set(err, cerr.code, "cannot connect to broker endpoint '%s' (expected e.g. "
                   "ipc:///path/broker.sock or tcp://host:port): %s", endpoint, cerr.message);
        tf_client_destroy(&self);
        return NULL;
    }
    self->watch = tf_secure_watch_new(cfg, self->dealer, endpoint, "the broker", "query (or the right this "
                                      "command needs: backup, restore, admin)", err);
    if (!self->watch) {
        tf_client_destroy(&self);
        return NULL;
    }
    return self;
}

void
tf_client_destroy(tf_client_t **self_p)
{
    if (self_p && *self_p) {
        tf_client_t *self = *self_p;
        tf_secure_watch_destroy(&self->watch);
        zsock_destroy(&self->dealer);
        free(self->endpoint);
        free(self);
        *self_p = NULL;
    }
}

/* Points the request's rid field at buf; every client request type has one. */
static int
s_set_rid(tf_msg_t *request, char *rid)
{
    switch (request->type) {
    case TF_MSG_SUBMIT: request->submit.rid = rid; return TF_OK;
    case TF_MSG_ITEM_GET: request->item_get.rid = rid; return TF_OK;
    case TF_MSG_STATUS_GET: request->status_get.rid = rid; return TF_OK;
    case TF_MSG_JOB_OP: request->job_op.rid = rid; return TF_OK;
    default: return TF_ERR_INVALID;
    }
}

static const char *
s_reply_rid(const tf_msg_t *reply)
{
    switch (reply->type) {
    case TF_MSG_SUBMIT_OK: return reply->submit_ok.rid;
    case TF_MSG_ITEM_INFO: return reply->item_info.rid;
    case TF_MSG_STATUS: return reply->status.rid;
    case TF_MSG_ERROR: return reply->error.rid;
    case TF_MSG_JOB_OP_OK: return reply->job_op_ok.rid;
    default: return NULL;
    }
}

int
tf_client_request(tf_client_t *self, tf_msg_t *request, tf_msg_t *reply, int timeout_ms, tf_err_t *err)
{
    memset(reply, 0, sizeof *reply);
    char rid[48];
    snprintf(rid, sizeof rid, "%x-%" PRIu64, (unsigned) getpid(), ++self->next_rid);
    if (s_set_rid(request, rid) != TF_OK)
        return tf_err_set(err, TF_ERR_INVALID, "%s is not a client request", tf_msg_type_name(request->type));
    int rc = tf_wire_send(self->dealer, NULL, request, err);
    if (rc != TF_OK)
        return rc;
    int64_t deadline = tf_clock_mono_ms() + timeout_ms;
    zpoller_t *poller = zpoller_new(self->dealer, NULL);
    if (!poller)
        return tf_err_set(err, TF_ERR_NOMEM, "cannot create a poller");
    rc = TF_ERR_TIMEOUT;
    for (;;) {
        int64_t left = deadline - tf_clock_mono_ms();
        if (left <= 0)
            break;
        void *ready = zpoller_wait(poller, (int) left);
        if (!ready) {
            if (zpoller_terminated(poller)) {
                rc = tf_err_set(err, TF_ERR_INTERRUPTED, "interrupted");
                break;
            }
            continue;
        }
        tf_err_t rerr = {0};
        int r = tf_wire_recv(self->dealer, NULL, reply, &rerr);
        if (r != TF_OK) {
            rc = tf_err_set(err, r, "bad reply from broker: %s", rerr.message);
            break;
        }
        const char *got = s_reply_rid(reply);
        if (!got || strcmp(got, rid) != 0) {
            tf_msg_clear(reply);  /* a late answer to an earlier request */
            continue;
        }
        if (reply->type == TF_MSG_ERROR) {
            rc = tf_err_set(err, reply->error.code < 0 ? (int) reply->error.code : TF_ERR_PROTO,
                            "broker: %s", reply->error.message);
            tf_msg_clear(reply);
        }
        else
            rc = TF_OK;
        break;
    }
    zpoller_destroy(&poller);
    s_set_rid(request, NULL);
    tf_err_t why = {0};
    if (rc == TF_ERR_TIMEOUT && tf_secure_watch_refused(self->watch, &why)) {
        /* Not silence but a refusal: said as such. Connected again, so the next request may
           find the key trusted meanwhile. */
        tf_err_t rerr = {0};
        if (tf_secure_watch_retry(self->watch, self->dealer, &rerr) != TF_OK)
            rc = tf_err_set(err, why.code, "%s (%s)", why.message, rerr.message);
        else
            rc = tf_err_set(err, why.code, "%s", why.message);
    }
    else if (rc == TF_ERR_TIMEOUT)
        tf_err_set(err, TF_ERR_TIMEOUT,
                   "broker not reachable at %s (no answer in %d ms) - is the stack running? "
                   "start it with: tapeflow up%s", self->endpoint, timeout_ms,
                   /* an untrusted key or a wrong server key looks just like silence */
                   tf_secure_is_tcp(self->endpoint)
                       ? "; over tcp also check that the broker's host trusts this host's key (tapeflow keys "
                         "show here, tapeflow keys trust there) and that keys/server is its key"
                       : "");
    return rc;
}

int
tf_client_status(tf_client_t *self, tf_msg_t *reply, int timeout_ms, tf_err_t *err)
{
    tf_msg_t req = {.type = TF_MSG_STATUS_GET};
    return tf_client_request(self, &req, reply, timeout_ms, err);
}

int
tf_client_has_worker(tf_client_t *self, const char *service, const char *host, int timeout_ms, bool *present,
                     tf_err_t *err)
{
    tf_msg_t status;
    int rc = tf_client_status(self, &status, timeout_ms, err);
    if (rc != TF_OK)
        return rc;
    *present = false;
    for (size_t i = 0; i < status.status.workers_count && !*present; i++) {
        const tf_msg_worker_row_t *w = &status.status.workers[i];
        *present = w->service && strcmp(w->service, service) == 0 && w->host && strcmp(w->host, host) == 0;
    }
    tf_msg_clear(&status);
    return TF_OK;
}

int
tf_client_submit(tf_client_t *self, const char *service, const char *item_id, const char *job_id,
                 const void *payload, size_t size, tf_msg_t *reply, int timeout_ms, tf_err_t *err)
{
    return tf_client_submit_on(self, service, NULL, item_id, job_id, payload, size, reply, timeout_ms, err);
}

int
tf_client_submit_on(tf_client_t *self, const char *service, const char *host, const char *item_id,
                    const char *job_id, const void *payload, size_t size, tf_msg_t *reply,
                    int timeout_ms, tf_err_t *err)
{
    tf_msg_t req = {.type = TF_MSG_SUBMIT};
    req.submit.service = (char *) service;
    req.submit.host = (char *) (host && *host ? host : NULL);
    req.submit.item_id = (char *) item_id;
    req.submit.job_id = (char *) job_id;
    req.submit.payload = (tf_bytes_t){(uint8_t *) (payload ? payload : ""), payload ? size : 0};
    return tf_client_request(self, &req, reply, timeout_ms, err);
}

int
tf_client_item(tf_client_t *self, const char *item_id, tf_msg_t *reply, int timeout_ms, tf_err_t *err)
{
    tf_msg_t req = {.type = TF_MSG_ITEM_GET};
    req.item_get.item_id = (char *) item_id;
    return tf_client_request(self, &req, reply, timeout_ms, err);
}

int
tf_client_submit_msg(tf_client_t *self, const char *service, const char *item_id, const char *job_id,
                     const tf_msg_t *payload, tf_msg_t *reply, int timeout_ms, tf_err_t *err)
{
    return tf_client_submit_msg_on(self, service, NULL, item_id, job_id, payload, reply, timeout_ms, err);
}

int
tf_client_submit_msg_on(tf_client_t *self, const char *service, const char *host, const char *item_id,
                        const char *job_id, const tf_msg_t *payload, tf_msg_t *reply, int timeout_ms,
                        tf_err_t *err)
{
    uint8_t *data;
    size_t size;
    int rc = tf_msg_encode(payload, &data, &size, err);
    if (rc != TF_OK)
        return rc;
    rc = tf_client_submit_on(self, service, host, item_id, job_id, data, size, reply, timeout_ms, err);
    free(data);
    return rc;
}

int
tf_client_wait(tf_client_t *self, const char *item_id, int timeout_ms, tf_msg_t *info, tf_err_t *err)
{
    int64_t deadline = tf_clock_mono_ms() + timeout_ms;
    int64_t pause = 5;
    for (;;) {
        int64_t left = deadline - tf_clock_mono_ms();
        int rc = tf_client_item(self, item_id, info, (int) (left < 100 ? 100 : left > 5000 ? 5000 : left), err);
        if (rc != TF_OK)
            return rc;
        const char *state = info->item_info.state;
        if (strcmp(state, "done") == 0)
            return TF_OK;
        if (strcmp(state, "failed") == 0 || strcmp(state, "cancelled") == 0) {
            rc = tf_err_set(err, TF_ERR_STATE, "%s", info->item_info.reason ? info->item_info.reason : state);
            tf_msg_clear(info);
            return rc;
        }
        char last_state[32];
        snprintf(last_state, sizeof last_state, "%s", state);  /* state dies with info */
        tf_msg_clear(info);
        if (tf_clock_mono_ms() + pause > deadline)
            return tf_err_set(err, TF_ERR_TIMEOUT, "item %s is still %s after %d ms", item_id, last_state,
                              timeout_ms);
        if (zsys_interrupted)
            return tf_err_set(err, TF_ERR_INTERRUPTED, "interrupted");
        tf_clock_sleep_ms(pause);
        /* Quick answers come back fast; long items are not polled hard. */
        if (pause < 100)
            pause *= 2;
    }
}

int
tf_client_call(tf_client_t *self, const char *service, const char *item_id, const char *job_id,
               const tf_msg_t *payload, tf_msg_t *result, int timeout_ms, tf_err_t *err)
{
    return tf_client_call_on(self, service, NULL, item_id, job_id, payload, result, timeout_ms, err);
}

int
tf_client_call_on(tf_client_t *self, const char *service, const char *host, const char *item_id,
                  const char *job_id, const tf_msg_t *payload, tf_msg_t *result, int timeout_ms,
                  tf_err_t *err)
{
    memset(result, 0, sizeof *result);
    tf_msg_t reply;
    int rc = tf_client_submit_msg_on(self, service, host, item_id, job_id, payload, &reply,
                                     timeout_ms < 5000 ? timeout_ms : 5000, err);
    if (rc != TF_OK)
        return rc;
    char *id = strdup(reply.submit_ok.item_id);
    tf_msg_clear(&reply);
    if (!id)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    tf_msg_t info;
    rc = tf_client_wait(self, id, timeout_ms, &info, err);
    free(id);
    if (rc != TF_OK)
        return rc;
    if (info.item_info.result.size > 0)
        rc = tf_msg_decode(info.item_info.result.data, info.item_info.result.size, result, err);
    tf_msg_clear(&info);
    return rc;
}

int
tf_client_job_op(tf_client_t *self, const tf_msg_job_op_t *op, tf_msg_t *reply, int timeout_ms,
                 tf_err_t *err)
{
    tf_msg_t request = {.type = TF_MSG_JOB_OP};
    request.job_op = *op;
    int rc = tf_client_request(self, &request, reply, timeout_ms, err);
    if (rc == TF_OK && reply->type != TF_MSG_JOB_OP_OK) {
        rc = tf_err_set(err, TF_ERR_PROTO, "the broker answered job_op with %s",
                        tf_msg_type_name(reply->type));
        tf_msg_clear(reply);
    }
    return rc;
}
