/*  tf_fakecatalog - see tf_fakecatalog.h. */
#include "tf_fakecatalog.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_actor.h"

#define S_MAX_WRITTEN 32

struct _tf_fakecatalog_t {
    tf_actor_t *actor;
    pthread_t thread;
    pthread_mutex_t lock;
    atomic_bool stop;
    tf_msg_t written[S_MAX_WRITTEN];
    size_t count;
    size_t file_queries;     /* cat_query archive_files asked */
};

static void
s_record(tf_fakecatalog_t *self, tf_msg_t *payload)
{
    pthread_mutex_lock(&self->lock);
    bool known = false;
    for (size_t i = 0; i < self->count; i++)
        if (strcmp(self->written[i].cat_written.archive_id, payload->cat_written.archive_id) == 0)
            known = true;
    if (!known && self->count < S_MAX_WRITTEN) {
        self->written[self->count++] = *payload;
        memset(payload, 0, sizeof *payload);  /* kept: not cleared by the caller */
    }
    pthread_mutex_unlock(&self->lock);
}

/* The archive rows recorded for the query's job (all without one), encoded. */
static void
s_answer_archives(tf_fakecatalog_t *self, const tf_msg_cat_query_t *query, tf_msg_work_t *work)
{
    pthread_mutex_lock(&self->lock);
    tf_msg_archive_row_t rows[S_MAX_WRITTEN];
    size_t n = 0;
    for (size_t i = 0; i < self->count; i++) {
        const tf_msg_cat_written_t *w = &self->written[i].cat_written;
        if (query->job_id && strcmp(w->job_id, query->job_id) != 0)
            continue;
        rows[n++] = (tf_msg_archive_row_t){.archive_id = w->archive_id, .job_id = w->job_id, .volume = w->volume,
                                           .tape_file = w->tape_file, .block = w->block, .blocks = w->blocks,
                                           .size = w->size, .checksum = w->checksum, .written = true};
    }
    tf_msg_t reply = {.type = TF_MSG_CAT_REPLY};
    reply.cat_reply.archives = rows;
    reply.cat_reply.archives_count = n;
    uint8_t *data = NULL;
    size_t size = 0;
    tf_err_t err = {0};
    int rc = tf_msg_encode(&reply, &data, &size, &err);
    pthread_mutex_unlock(&self->lock);
    if (rc == TF_OK)
        tf_actor_done(self->actor, work, data, size);
    else
        tf_actor_failed(self->actor, work, false, err.message);
    free(data);
}

static void
s_item(tf_fakecatalog_t *self, tf_msg_t *work)
{
    tf_msg_t payload;
    if (tf_msg_decode(work->work.payload.data, work->work.payload.size, &payload, NULL) != TF_OK) {
        tf_actor_failed(self->actor, &work->work, false, "bad payload");
        return;
    }
    if (payload.type == TF_MSG_CAT_WRITTEN) {
        s_record(self, &payload);
        tf_actor_done(self->actor, &work->work, "", 0);
    }
    else if (payload.type == TF_MSG_CAT_QUERY && payload.cat_query.query
             && strcmp(payload.cat_query.query, "archive_files") == 0) {
        /* No file rows here: a tape writer that needs the catalog's rows writes no index. */
        pthread_mutex_lock(&self->lock);
        self->file_queries++;
        pthread_mutex_unlock(&self->lock);
        tf_actor_failed(self->actor, &work->work, false, "the fake catalog keeps no file rows");
    }
    else if (payload.type == TF_MSG_CAT_QUERY)
        s_answer_archives(self, &payload.cat_query, &work->work);
    else
        tf_actor_done(self->actor, &work->work, "", 0);
    tf_msg_clear(&payload);
}

static void *
s_run(void *arg)
{
    tf_fakecatalog_t *self = arg;
    while (!atomic_load(&self->stop)) {
        tf_msg_t work;
        if (tf_actor_next(self->actor, &work, 50, NULL) != TF_OK)
            continue;
        s_item(self, &work);
        tf_msg_clear(&work);
    }
    return NULL;
}

tf_fakecatalog_t *
tf_fakecatalog_new(tf_config_t *cfg)
{
    tf_fakecatalog_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    tf_err_t err = {0};
    self->actor = tf_actor_new(cfg, "catalog", "fakecatalog", &err);
    if (!self->actor) {
        fprintf(stderr, "tf_fakecatalog: %s\n", err.message);
        free(self);
        return NULL;
    }
    pthread_mutex_init(&self->lock, NULL);
    if (pthread_create(&self->thread, NULL, s_run, self) != 0) {
        fprintf(stderr, "tf_fakecatalog: cannot start its thread\n");
        tf_actor_destroy(&self->actor);
        pthread_mutex_destroy(&self->lock);
        free(self);
        return NULL;
    }
    return self;
}

void
tf_fakecatalog_destroy(tf_fakecatalog_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tf_fakecatalog_t *self = *self_p;
    atomic_store(&self->stop, true);
    pthread_join(self->thread, NULL);
    tf_actor_destroy(&self->actor);
    for (size_t i = 0; i < self->count; i++)
        tf_msg_clear(&self->written[i]);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

size_t
tf_fakecatalog_written(tf_fakecatalog_t *self, size_t i, tf_msg_cat_written_t *out)
{
    pthread_mutex_lock(&self->lock);
    size_t n = self->count;
    if (out && i < n)
        *out = self->written[i].cat_written;
    pthread_mutex_unlock(&self->lock);
    return n;
}

size_t
tf_fakecatalog_file_queries(tf_fakecatalog_t *self)
{
    pthread_mutex_lock(&self->lock);
    size_t n = self->file_queries;
    pthread_mutex_unlock(&self->lock);
    return n;
}
