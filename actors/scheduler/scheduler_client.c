/*  scheduler_client - the scheduler core's ops over the broker (see scheduler_client.h). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler_client.h"
#include "tf_log.h"
#include "tf_job_start.h"
#include "tf_schedule_job.h"

struct _scheduler_client_t {
    tf_config_t *cfg;
    tf_client_t *client;
    tf_publisher_t *events;
    int timeout_ms;
};

scheduler_client_t *
scheduler_client_new(tf_config_t *cfg, tf_client_t *client, tf_publisher_t *events, int timeout_ms)
{
    scheduler_client_t *self = calloc(1, sizeof *self);
    if (self)
        *self = (scheduler_client_t){.cfg = cfg, .client = client, .events = events, .timeout_ms = timeout_ms};
    return self;
}

void
scheduler_client_destroy(scheduler_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

static void
s_row(const tf_msg_sched_row_t *in, scheduler_row_t *out)
{
    *out = (scheduler_row_t){.instant_ms = in->instant_ms};
    snprintf(out->kind, sizeof out->kind, "%s", in->kind ? in->kind : "");
    snprintf(out->job_id, sizeof out->job_id, "%s", in->job_id ? in->job_id : "");
    snprintf(out->reason, sizeof out->reason, "%s", in->reason ? in->reason : "");
}

/* A catalog item; *result is its cat_reply. The catalog's "no job J" refusal is NOTFOUND. */
static int
s_call(scheduler_client_t *self, const tf_msg_t *payload, tf_msg_t *result, tf_err_t *err)
{
    int rc = tf_client_call(self->client, "catalog", NULL, NULL, payload, result, self->timeout_ms, err);
    if (rc == TF_ERR_STATE && strncmp(err->message, "no job ", 7) == 0)
        err->code = rc = TF_ERR_NOTFOUND;
    if (rc == TF_OK && result->type != TF_MSG_CAT_REPLY) {
        rc = tf_err_set(err, TF_ERR_PROTO, "the catalog answered %s with %s instead of cat_reply",
                        tf_msg_type_name(payload->type), tf_msg_type_name(result->type));
        tf_msg_clear(result);
    }
    return rc;
}

static int
s_sched(void *arg, const tf_msg_cat_sched_t *req, scheduler_row_t *stored, tf_err_t *err)
{
    tf_msg_t payload = {.type = TF_MSG_CAT_SCHED}, result;
    payload.cat_sched = *req;
    int rc = s_call(arg, &payload, &result, err);
    if (rc != TF_OK)
        return rc;
    if (result.cat_reply.sched_count == 0)
        rc = tf_err_set(err, TF_ERR_PROTO, "the catalog answered cat_sched %s without the stored row", req->op);
    else
        s_row(&result.cat_reply.sched[0], stored);
    tf_msg_clear(&result);
    return rc;
}

static int
s_history(void *arg, const char *schedule, scheduler_row_t *rows, size_t max, size_t *count, tf_err_t *err)
{
    tf_msg_t payload = {.type = TF_MSG_CAT_QUERY}, result;
    payload.cat_query = (tf_msg_cat_query_t){.query = "schedule_history", .pattern = (char *) schedule,
                                             .limit = max};
    *count = 0;
    int rc = s_call(arg, &payload, &result, err);
    if (rc != TF_OK)
        return rc;
    for (size_t i = 0; i < result.cat_reply.sched_count && i < max; i++)
        s_row(&result.cat_reply.sched[i], &rows[(*count)++]);
    tf_msg_clear(&result);
    return TF_OK;
}

static int
s_job_status(void *arg, const char *job_id, char *status, size_t size, tf_err_t *err)
{
    tf_msg_t payload = {.type = TF_MSG_CAT_QUERY}, result;
    payload.cat_query = (tf_msg_cat_query_t){.query = "job", .job_id = (char *) job_id};
    int rc = s_call(arg, &payload, &result, err);
    if (rc != TF_OK)
        return rc;
    if (result.cat_reply.jobs_count == 0 || !result.cat_reply.jobs[0].status)
        rc = tf_err_set(err, TF_ERR_NOTFOUND, "no job %s in the catalog", job_id);
    else
        snprintf(status, size, "%s", result.cat_reply.jobs[0].status);
    tf_msg_clear(&result);
    return rc;
}

static int
s_start_job(void *arg, const tf_job_spec_t *spec, bool check, bool *refused, tf_err_t *err)
{
    scheduler_client_t *self = arg;
    int rc = check ? tf_job_check(self->cfg, self->client, spec, err) : TF_OK;
    *refused = tf_schedule_job_refused(rc);
    if (rc == TF_OK)
        rc = tf_job_start(self->cfg, self->client, spec, NULL, err);
    return rc;
}

static int
s_record_failure(void *arg, const tf_job_spec_t *spec, const char *message, tf_err_t *err)
{
    scheduler_client_t *self = arg;
    return tf_job_record_failure(self->cfg, self->client, spec, message, err);
}

static void
s_publish(void *arg, const char *topic, const char *level, const char *job_id, const char *message)
{
    scheduler_client_t *self = arg;
    if (!self->events)
        return;
    tf_msg_event_t ev = {.topic = (char *) topic, .level = (char *) level, .job_id = (char *) job_id,
                         .message = (char *) message};
    if (tf_publisher_emit(self->events, &ev) != TF_OK)
        tf_log_debug("could not publish %s", topic);   /* the bus is for watching: never fatal */
}

static const scheduler_ops_t s_ops = {
    .sched = s_sched,
    .history = s_history,
    .job_status = s_job_status,
    .start_job = s_start_job,
    .record_failure = s_record_failure,
    .publish = s_publish,
};

const scheduler_ops_t *
scheduler_client_ops(void)
{
    return &s_ops;
}
