/*  announcer - background archive_ready submissions (see announcer.h). */
#include "announcer.h"

#include <stdlib.h>
#include <string.h>

#include "tf_client.h"
#include "tf_clock.h"
#include "tf_log.h"
#include "tf_pipeline_ids.h"

struct _announcer_t {
    zactor_t *agent;
    char *endpoint;
    tf_client_t *client;   /* connected here (tf_secure reads the configuration, which is not
                              thread-safe), then taken over by the agent */
};

typedef struct {
    uint8_t *data;       /* encoded archive_ready, or any item's payload */
    size_t size;
    char archive_id[TF_MSG_MAX_ID + 1];   /* empty for other items (no acknowledgement) */
    char job_id[TF_MSG_MAX_ID + 1];
    char service[TF_MSG_MAX_ID + 1];
    char item_id[TF_ID_MAX];
    bool probe;          /* only ask the item's state (announcer_probe) */
} pending_t;

static void
s_pending_destroy(void **item)
{
    pending_t *p = *item;
    if (p) {
        free(p->data);
        free(p);
        *item = NULL;
    }
}

/* Tries the first pending announcement; true when the broker took it. */
static bool
s_try(zsock_t *pipe, tf_client_t *client, zlistx_t *queue)
{
    pending_t *p = zlistx_first(queue);
    tf_msg_t reply;
    tf_err_t err = {0};
    if (p->probe) {
        int rc = tf_client_item(client, p->item_id, &reply, 5000, &err);
        if (rc != TF_OK && rc != TF_ERR_NOTFOUND) {
            tf_log_warn("cannot ask the broker about %s yet (%s); retrying", p->item_id, err.message);
            return false;
        }
        zsock_send(pipe, "ssss", p->archive_id, p->item_id,
                   rc == TF_OK && reply.item_info.state ? reply.item_info.state : "", rc == TF_OK ? "1" : "0");
        if (rc == TF_OK)
            tf_msg_clear(&reply);
        zlistx_delete(queue, zlistx_cursor(queue));
        return true;
    }
    int rc = tf_client_submit(client, p->service, p->item_id, p->job_id, p->data, p->size, &reply, 5000, &err);
    if (rc != TF_OK) {
        if (p->archive_id[0])
            tf_log_warn("cannot queue archive %s for tape yet (%s); retrying", p->archive_id, err.message);
        else
            tf_log_warn("cannot submit %s to %s yet (%s); retrying", p->item_id, p->service, err.message);
        return false;
    }
    if (p->archive_id[0])
        zsock_send(pipe, "ssss", p->archive_id, p->item_id, reply.submit_ok.state ? reply.submit_ok.state : "",
                   reply.submit_ok.existed ? "1" : "0");
    tf_msg_clear(&reply);
    zlistx_delete(queue, zlistx_cursor(queue));
    return true;
}

static void
s_agent(zsock_t *pipe, void *arg)
{
    announcer_t *owner = arg;
    tf_client_t *client = owner->client;
    owner->client = NULL;  /* the agent's now; zactor_new waits for our signal */
    zlistx_t *queue = zlistx_new();
    zpoller_t *poller = client && queue ? zpoller_new(pipe, NULL) : NULL;
    if (!poller) {
        tf_client_destroy(&client);
        zlistx_destroy(&queue);
        zsock_signal(pipe, 1);
        return;
    }
    zlistx_set_destructor(queue, s_pending_destroy);
    zpoller_set_nonstop(poller, true);  /* the stager decides when we stop */
    zsock_signal(pipe, 0);
    int64_t retry_at = 0, pause = 500;
    for (;;) {
        int wait = -1;
        if (zlistx_size(queue) > 0) {
            int64_t left = retry_at - tf_clock_mono_ms();
            wait = left < 0 ? 0 : (int) left;
        }
        if (zpoller_wait(poller, wait) == pipe) {
            zmsg_t *msg = zmsg_recv(pipe);
            if (!msg)
                break;
            char *cmd = zmsg_popstr(msg);
            bool stop = !cmd || streq(cmd, "$TERM");
            if (!stop) {
                pending_t *p = calloc(1, sizeof *p);
                bool announce = streq(cmd, "ANNOUNCE");
                if (p && streq(cmd, "PROBE")) {
                    char *id = zmsg_popstr(msg), *item_id = zmsg_popstr(msg);
                    if (id && *id && item_id && *item_id) {
                        snprintf(p->archive_id, sizeof p->archive_id, "%s", id);
                        snprintf(p->item_id, sizeof p->item_id, "%s", item_id);
                        p->probe = true;
                        zlistx_add_end(queue, p);
                        p = NULL;
                    }
                    zstr_free(&id);
                    zstr_free(&item_id);
                }
                else if (p && !announce) {
                    /* SUBMIT service item_id job_id payload */
                    char *service = zmsg_popstr(msg), *item_id = zmsg_popstr(msg), *job_id = zmsg_popstr(msg);
                    snprintf(p->service, sizeof p->service, "%s", service ? service : "");
                    snprintf(p->item_id, sizeof p->item_id, "%s", item_id ? item_id : "");
                    snprintf(p->job_id, sizeof p->job_id, "%s", job_id ? job_id : "");
                    zstr_free(&service);
                    zstr_free(&item_id);
                    zstr_free(&job_id);
                }
                zframe_t *frame = zmsg_first(msg);
                tf_msg_t ready;
                if (p && frame && tf_msg_decode(zframe_data(frame), zframe_size(frame), &ready, NULL) == TF_OK) {
                    p->size = zframe_size(frame);
                    p->data = malloc(p->size);
                    if (announce && ready.type == TF_MSG_ARCHIVE_READY) {
                        snprintf(p->archive_id, sizeof p->archive_id, "%s", ready.archive_ready.archive_id);
                        snprintf(p->job_id, sizeof p->job_id, "%s", ready.archive_ready.job_id);
                        snprintf(p->service, sizeof p->service, "tape");
                        tf_id_join(p->item_id, sizeof p->item_id, p->archive_id, "-tape");
                    }
                    tf_msg_clear(&ready);
                    if (p->data && p->service[0] && p->item_id[0]) {
                        memcpy(p->data, zframe_data(frame), p->size);
                        zlistx_add_end(queue, p);
                        p = NULL;
                    }
                }
                if (p) {
                    tf_log_error("announcer: dropped a bad request");
                    void *q = p;
                    s_pending_destroy(&q);
                }
            }
            zstr_free(&cmd);
            zmsg_destroy(&msg);
            if (stop)
                break;
        }
        while (zlistx_size(queue) > 0 && tf_clock_mono_ms() >= retry_at) {
            if (s_try(pipe, client, queue))
                pause = 500;
            else {
                retry_at = tf_clock_mono_ms() + pause;
                pause = pause * 2 > 30000 ? 30000 : pause * 2;
            }
        }
    }
    if (zlistx_size(queue) > 0)
        tf_log_info("%zu item(s) not yet submitted; archives are announced again at the next start",
                    zlistx_size(queue));
    zpoller_destroy(&poller);
    zlistx_destroy(&queue);
    tf_client_destroy(&client);
}

announcer_t *
announcer_new(const tf_config_t *cfg, const char *broker_endpoint, tf_err_t *err)
{
    announcer_t *self = calloc(1, sizeof *self);
    if (!self || !(self->endpoint = strdup(broker_endpoint))) {
        free(self);
        tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    self->client = tf_client_new(cfg, broker_endpoint, err);
    if (!self->client) {
        announcer_destroy(&self);
        return NULL;
    }
    self->agent = zactor_new(s_agent, self);
    if (!self->agent) {
        tf_err_set(err, TF_ERR_IO, "cannot start the announcer (broker %s)", broker_endpoint);
        announcer_destroy(&self);
        return NULL;
    }
    return self;
}

void
announcer_destroy(announcer_t **self_p)
{
    if (self_p && *self_p) {
        announcer_t *self = *self_p;
        zactor_destroy(&self->agent);
        tf_client_destroy(&self->client);
        free(self->endpoint);
        free(self);
        *self_p = NULL;
    }
}

int
announcer_send(announcer_t *self, const tf_msg_archive_ready_t *ready, tf_err_t *err)
{
    tf_msg_t msg = {.type = TF_MSG_ARCHIVE_READY};
    msg.archive_ready = *ready;
    uint8_t *data;
    size_t size;
    int rc = tf_msg_encode(&msg, &data, &size, err);
    if (rc != TF_OK)
        return rc;
    zmsg_t *zmsg = zmsg_new();
    if (!zmsg || zmsg_addstr(zmsg, "ANNOUNCE") != 0 || zmsg_addmem(zmsg, data, size) != 0
        || zmsg_send(&zmsg, self->agent) != 0) {
        zmsg_destroy(&zmsg);
        free(data);
        return tf_err_set(err, TF_ERR_IO, "cannot hand the announcement to the announcer");
    }
    free(data);
    return TF_OK;
}

int
announcer_probe(announcer_t *self, const char *archive_id, const char *item_id, tf_err_t *err)
{
    char tape_item[TF_ID_MAX];
    if (!item_id)
        item_id = tf_id_join(tape_item, sizeof tape_item, archive_id, "-tape");
    if (zstr_sendm(self->agent, "PROBE") != 0 || zstr_sendm(self->agent, archive_id) != 0
        || zstr_send(self->agent, item_id) != 0)
        return tf_err_set(err, TF_ERR_IO, "cannot hand the probe of %s to the announcer", item_id);
    return TF_OK;
}

void *announcer_pollable(announcer_t *self) { return self->agent; }

int
announcer_recv(announcer_t *self, announcer_ack_t *ack, tf_err_t *err)
{
    char *id = NULL, *item_id = NULL, *state = NULL, *existed = NULL;
    if (zsock_recv(self->agent, "ssss", &id, &item_id, &state, &existed) != 0 || !id || !item_id || !state
        || !existed) {
        zstr_free(&id);
        zstr_free(&item_id);
        zstr_free(&state);
        zstr_free(&existed);
        return tf_err_set(err, TF_ERR_INTERRUPTED, "announcer stopped");
    }
    snprintf(ack->archive_id, sizeof ack->archive_id, "%s", id);
    snprintf(ack->item_id, sizeof ack->item_id, "%s", item_id);
    snprintf(ack->state, sizeof ack->state, "%s", state);
    ack->existed = streq(existed, "1");
    zstr_free(&id);
    zstr_free(&item_id);
    zstr_free(&state);
    zstr_free(&existed);
    return TF_OK;
}

int
announcer_submit(announcer_t *self, const char *service, const char *item_id, const char *job_id,
                 const tf_msg_t *msg, tf_err_t *err)
{
    uint8_t *data;
    size_t size;
    int rc = tf_msg_encode(msg, &data, &size, err);
    if (rc != TF_OK)
        return rc;
    zmsg_t *zmsg = zmsg_new();
    if (!zmsg || zmsg_addstr(zmsg, "SUBMIT") != 0 || zmsg_addstr(zmsg, service) != 0
        || zmsg_addstr(zmsg, item_id) != 0 || zmsg_addstr(zmsg, job_id ? job_id : "") != 0
        || zmsg_addmem(zmsg, data, size) != 0 || zmsg_send(&zmsg, self->agent) != 0) {
        zmsg_destroy(&zmsg);
        free(data);
        return tf_err_set(err, TF_ERR_IO, "cannot hand item %s to the announcer", item_id);
    }
    free(data);
    return TF_OK;
}
