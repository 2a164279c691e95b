/*  tf_fakestager - see tf_fakestager.h. */
#include "tf_fakestager.h"

#include <czmq.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_msg.h"
#include "tf_wire.h"

#define S_MAX_ARCHIVES 16

typedef struct {
    char *id;
    uint8_t *data;
    size_t size;
    uint8_t *rows;       /* the file rows sidecar; NULL: none */
    size_t rows_size;
} s_archive_t;

struct _tf_fakestager_t {
    zsock_t *sock;
    pthread_t thread;
    pthread_mutex_t lock;
    atomic_bool stop;
    s_archive_t archives[S_MAX_ARCHIVES];
    int count;
    int delay_ms;
    tf_fakestager_hook_fn *hook;
    void *hook_arg;
    int requests;
    int rows_requests;
};

static void
s_answer(tf_fakestager_t *self, zframe_t *rid, const tf_msg_fetch_t *fetch)
{
    pthread_mutex_lock(&self->lock);
    self->requests++;
    if (fetch->rows)
        self->rows_requests++;
    int delay = self->delay_ms;
    tf_fakestager_hook_fn *hook = self->hook;
    void *hook_arg = self->hook_arg;
    s_archive_t *a = NULL;
    for (int i = 0; i < self->count; i++)
        if (strcmp(self->archives[i].id, fetch->archive_id) == 0)
            a = &self->archives[i];
    pthread_mutex_unlock(&self->lock);
    if (delay > 0)
        zclock_sleep(delay);
    tf_msg_t reply = {.type = TF_MSG_FETCH_DATA};
    reply.fetch_data.archive_id = fetch->archive_id;
    reply.fetch_data.offset = fetch->offset;
    reply.fetch_data.rows = fetch->rows;
    if (a && fetch->rows) {
        if (!a->rows || fetch->offset > a->rows_size)
            reply.fetch_data.error = "no file rows sidecar";
        else {
            uint64_t len = a->rows_size - fetch->offset;
            if (len > fetch->length)
                len = fetch->length;
            reply.fetch_data.data.data = a->rows + fetch->offset;
            reply.fetch_data.data.size = (size_t) len;
            reply.fetch_data.eof = fetch->offset + len == a->rows_size;
        }
    }
    else if (!a || fetch->offset > a->size)
        reply.fetch_data.error = "no such archive";
    else {
        uint64_t len = a->size - fetch->offset;
        if (len > fetch->length)
            len = fetch->length;
        reply.fetch_data.data.data = a->data + fetch->offset;
        reply.fetch_data.data.size = (size_t) len;
        reply.fetch_data.eof = fetch->offset + len == a->size;
        if (reply.fetch_data.eof && hook)
            hook(hook_arg, a->id);
    }
    tf_wire_send(self->sock, rid, &reply, NULL);
}

static void *
s_run(void *arg)
{
    tf_fakestager_t *self = arg;
    zsock_set_rcvtimeo(self->sock, 50);
    while (!atomic_load(&self->stop)) {
        zframe_t *rid = NULL;
        tf_msg_t msg;
        if (tf_wire_recv(self->sock, &rid, &msg, NULL) != TF_OK) {
            zframe_destroy(&rid);
            continue;
        }
        if (msg.type == TF_MSG_FETCH)
            s_answer(self, rid, &msg.fetch);
        zframe_destroy(&rid);
        tf_msg_clear(&msg);
    }
    return NULL;
}

tf_fakestager_t *
tf_fakestager_new(const char *endpoint)
{
    tf_fakestager_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    pthread_mutex_init(&self->lock, NULL);
    self->sock = zsock_new(ZMQ_ROUTER);
    if (!self->sock || zsock_bind(self->sock, "%s", endpoint) != 0) {
        fprintf(stderr, "tf_fakestager: cannot bind %s\n", endpoint);
        zsock_destroy(&self->sock);
        pthread_mutex_destroy(&self->lock);
        free(self);
        return NULL;
    }
    if (pthread_create(&self->thread, NULL, s_run, self) != 0) {
        fprintf(stderr, "tf_fakestager: cannot start its thread\n");
        zsock_destroy(&self->sock);
        pthread_mutex_destroy(&self->lock);
        free(self);
        return NULL;
    }
    return self;
}

void
tf_fakestager_destroy(tf_fakestager_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tf_fakestager_t *self = *self_p;
    atomic_store(&self->stop, true);
    pthread_join(self->thread, NULL);
    zsock_destroy(&self->sock);
    for (int i = 0; i < self->count; i++) {
        free(self->archives[i].id);
        free(self->archives[i].data);
        free(self->archives[i].rows);
    }
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

int
tf_fakestager_add(tf_fakestager_t *self, const char *archive_id, const void *data, size_t size)
{
    char *id = strdup(archive_id);
    uint8_t *copy = malloc(size ? size : 1);
    if (!id || !copy) {
        free(id);
        free(copy);
        return -1;
    }
    memcpy(copy, data, size);
    pthread_mutex_lock(&self->lock);
    int rc = -1;
    if (self->count < S_MAX_ARCHIVES) {
        self->archives[self->count++] = (s_archive_t){id, copy, size, NULL, 0};
        rc = 0;
    }
    pthread_mutex_unlock(&self->lock);
    if (rc != 0) {
        free(id);
        free(copy);
    }
    return rc;
}

int
tf_fakestager_add_rows(tf_fakestager_t *self, const char *archive_id, const void *data, size_t size)
{
    pthread_mutex_lock(&self->lock);
    int rc = -1;
    for (int i = 0; i < self->count; i++)  /* every entry of the id: a test may add one twice */
        if (strcmp(self->archives[i].id, archive_id) == 0) {
            uint8_t *copy = malloc(size ? size : 1);
            if (!copy)
                break;
            memcpy(copy, data, size);
            free(self->archives[i].rows);
            self->archives[i].rows = copy;
            self->archives[i].rows_size = size;
            rc = 0;
        }
    pthread_mutex_unlock(&self->lock);
    return rc;
}

void
tf_fakestager_set_delay(tf_fakestager_t *self, int ms)
{
    pthread_mutex_lock(&self->lock);
    self->delay_ms = ms;
    pthread_mutex_unlock(&self->lock);
}

void
tf_fakestager_set_last_hook(tf_fakestager_t *self, tf_fakestager_hook_fn *fn, void *arg)
{
    pthread_mutex_lock(&self->lock);
    self->hook = fn;
    self->hook_arg = arg;
    pthread_mutex_unlock(&self->lock);
}

int
tf_fakestager_requests(tf_fakestager_t *self)
{
    pthread_mutex_lock(&self->lock);
    int n = self->requests;
    pthread_mutex_unlock(&self->lock);
    return n;
}

int
tf_fakestager_rows_requests(tf_fakestager_t *self)
{
    pthread_mutex_lock(&self->lock);
    int n = self->rows_requests;
    pthread_mutex_unlock(&self->lock);
    return n;
}
