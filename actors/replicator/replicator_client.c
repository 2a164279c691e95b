/*  replicator_client - the replicator core's ops in the process (see replicator_client.h). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replicator_client.h"
#include "tf_clock.h"
#include "tf_log.h"
#include "tf_stage_fetch.h"

/* Fetch requests kept in flight: the next bytes arrive while the target writes these. */
#define S_FETCH_DEPTH 4
/* The protocol's limit for one fetch answer. */
#define S_FETCH_CHUNK_MAX (4u << 20)

struct _replicator_client_t {
    tf_config_t *cfg;
    tf_client_t *client;
    tf_actor_t *actor;
    int timeout_ms;
    tf_stage_fetch_opts_t fetch;
};

replicator_client_t *
replicator_client_new(tf_config_t *cfg, tf_client_t *client, tf_actor_t *actor, int timeout_ms)
{
    replicator_client_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    size_t chunk = (size_t) tf_config_size(cfg, "replicator/chunk");
    *self = (replicator_client_t){
        .cfg = cfg, .client = client, .actor = actor, .timeout_ms = timeout_ms,
        .fetch = {.chunk = chunk < S_FETCH_CHUNK_MAX ? chunk : S_FETCH_CHUNK_MAX,
                  .depth = S_FETCH_DEPTH,
                  /* the stager's answers, like a target's, may take replicator/timeout */
                  .timeout_ms = (int) tf_config_ms(cfg, "replicator/timeout"),
                  .max_message = tf_config_size(cfg, "broker/max_message"),
                  .cfg = cfg},
    };
    return self;
}

void
replicator_client_destroy(replicator_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

static int
s_fetch_open(void *arg, const tf_msg_replica_copy_t *copy, bool rows, void **reader, tf_err_t *err)
{
    replicator_client_t *self = arg;
    if (!copy->stager || !*copy->stager)
        return tf_err_set(err, TF_ERR_INVALID, "replica_copy for archive %s names no stager to fetch from",
                          copy->archive_id);
    tf_stage_fetch_t *fetch =
        rows ? tf_stage_fetch_new_rows(copy->stager, copy->stager_key, copy->archive_id, copy->rows_size,
                                       &self->fetch, err)
             : tf_stage_fetch_new(copy->stager, copy->stager_key, copy->archive_id, copy->size, &self->fetch, err);
    if (!fetch)
        return err->code != TF_OK ? err->code : TF_ERR_IO;
    *reader = fetch;
    return TF_OK;
}

static int
s_fetch_next(void *arg, void *reader, const void **data, size_t *len, tf_err_t *err)
{
    (void) arg;
    return tf_stage_fetch_next(reader, data, len, err);
}

static void
s_fetch_close(void *arg, void **reader_p)
{
    (void) arg;
    tf_stage_fetch_t *fetch = *reader_p;
    tf_stage_fetch_destroy(&fetch);
    *reader_p = NULL;
}

/* The catalog's "no job J" / "job J has no replica on target T" refusals are NOTFOUND (a failed item comes back as
   TF_ERR_STATE with its reason). */
static int
s_catalog(void *arg, const char *item_id, const char *job_id, const tf_msg_t *payload, tf_msg_t *result,
          tf_err_t *err)
{
    replicator_client_t *self = arg;
    int rc = tf_client_call(self->client, "catalog", item_id, job_id, payload, result, self->timeout_ms, err);
    if (rc == TF_ERR_STATE && (strncmp(err->message, "no job ", 7) == 0 || strstr(err->message, " has no replica on ")))
        err->code = rc = TF_ERR_NOTFOUND;
    return rc;
}

static int
s_release(void *arg, const char *item_id, const char *job_id, const tf_msg_archive_release_t *release,
          tf_err_t *err)
{
    replicator_client_t *self = arg;
    tf_msg_t msg = {.type = TF_MSG_ARCHIVE_RELEASE}, reply;
    msg.archive_release = *release;
    int rc = tf_client_submit_msg(self->client, "stager", item_id, job_id, &msg, &reply, self->timeout_ms, err);
    if (rc == TF_OK)
        tf_msg_clear(&reply);
    return rc;
}

static void
s_progress(void *arg, const tf_msg_work_t *work, uint64_t done, uint64_t total, const char *message)
{
    replicator_client_t *self = arg;
    /* Progress is for watching: never fatal. */
    if (self->actor && tf_actor_progress(self->actor, work, done, total, message) != TF_OK)
        tf_log_debug("could not report progress of item %s", work->item_id);
}

static bool
s_interrupted(void *arg)
{
    replicator_client_t *self = arg;
    return self->actor && tf_actor_interrupted(self->actor);
}

static int64_t
s_now_ms(void *arg)
{
    (void) arg;
    return tf_clock_wall_ms();
}

static const replicator_ops_t s_ops = {
    .fetch_open = s_fetch_open,
    .fetch_next = s_fetch_next,
    .fetch_close = s_fetch_close,
    .catalog = s_catalog,
    .release = s_release,
    .progress = s_progress,
    .interrupted = s_interrupted,
    .now_ms = s_now_ms,
};

const replicator_ops_t *
replicator_client_ops(void)
{
    return &s_ops;
}
