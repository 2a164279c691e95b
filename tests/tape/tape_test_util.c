/*  tape_test_util - see tape_test_util.h. */
#include "tape_test_util.h"

#include <archive.h>
#include <archive_entry.h>
#include <czmq.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "tf_actor.h"
#include "tf_wire.h"

void
tt_checksum(const void *data, size_t size, char out[40])
{
    XXH128_canonical_t canon;
    XXH128_canonicalFromHash(&canon, XXH3_128bits(data, size));
    static const char hex[] = "0123456789abcdef";
    memcpy(out, "xxh128:", 7);
    for (int i = 0; i < 16; i++) {
        out[7 + 2 * i] = hex[canon.digest[i] >> 4];
        out[8 + 2 * i] = hex[canon.digest[i] & 15];
    }
    out[39] = '\0';
}

uint8_t *
tt_random(size_t size, uint32_t seed)
{
    uint8_t *buf = malloc(size ? size : 1);
    uint32_t x = seed ? seed : 1;
    for (size_t i = 0; i < size; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (uint8_t) x;
    }
    return buf;
}

void
tt_write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    if (size && fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);
}

uint8_t *
tt_read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t) n + 1);
    if (n > 0 && fread(buf, 1, (size_t) n, f) != (size_t) n)
        abort();
    fclose(f);
    buf[n] = 0;
    *size = (size_t) n;
    return buf;
}

typedef struct {
    uint8_t *data;
    size_t size;
    size_t alloc;
} s_membuf_t;

static la_ssize_t
s_mem_write(struct archive *a, void *arg, const void *buf, size_t len)
{
    (void) a;
    s_membuf_t *m = arg;
    if (m->size + len > m->alloc) {
        m->alloc = (m->size + len) * 2;
        m->data = realloc(m->data, m->alloc);
    }
    memcpy(m->data + m->size, buf, len);
    m->size += len;
    return (la_ssize_t) len;
}

uint8_t *
tt_archive_tree(const char *root, const char *const *names, bool compress, size_t *size)
{
    s_membuf_t m = {0};
    struct archive *out = archive_write_new();
    archive_write_set_format_pax_restricted(out);
    if (compress)
        archive_write_add_filter_zstd(out);
    /* No zero padding after the compressed stream: zstd readers (libarchive's, zstd -d)
       reject bytes after the last frame. */
    archive_write_set_bytes_in_last_block(out, 1);
    if (archive_write_open(out, &m, NULL, s_mem_write, NULL) != ARCHIVE_OK) {
        fprintf(stderr, "archive_write_open: %s\n", archive_error_string(out));
        abort();
    }
    struct archive *disk = archive_read_disk_new();
    archive_read_disk_set_standard_lookup(disk);
    archive_read_disk_set_behavior(disk, ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS);
    struct archive_entry_linkresolver *lr = archive_entry_linkresolver_new();
    archive_entry_linkresolver_set_strategy(lr, archive_format(out));
    for (const char *const *n = names; *n; n++) {
        char full[4096];
        snprintf(full, sizeof full, "%s/%s", root, *n);
        struct archive_entry *e = archive_entry_new();
        archive_entry_copy_sourcepath(e, full);
        if (archive_read_disk_entry_from_file(disk, e, -1, NULL) < ARCHIVE_WARN) {
            fprintf(stderr, "%s: %s\n", full, archive_error_string(disk));
            abort();
        }
        archive_entry_copy_pathname(e, *n);
        struct archive_entry *sparse = NULL;
        archive_entry_linkify(lr, &e, &sparse);
        if (!e)
            continue;
        if (archive_write_header(out, e) < ARCHIVE_WARN) {
            fprintf(stderr, "%s: %s\n", full, archive_error_string(out));
            abort();
        }
        if (archive_entry_filetype(e) == AE_IFREG && archive_entry_size(e) > 0) {
            size_t n2 = 0;
            uint8_t *content = tt_read_file(full, &n2);
            if (archive_write_data(out, content, n2) < 0)
                abort();
            free(content);
        }
        archive_entry_free(e);
    }
    archive_entry_linkresolver_free(lr);
    archive_read_free(disk);
    archive_write_close(out);
    archive_write_free(out);
    *size = m.size;
    return m.data;
}

/* --- fake stager ------------------------------------------------------------------------ */

typedef struct {
    char *id;
    uint8_t *data;
    size_t size;
    uint8_t *rows;          /* the file rows sidecar; NULL: none */
    size_t rows_size;
} s_archive_t;

struct _tt_stager_t {
    zsock_t *sock;
    pthread_t thread;
    pthread_mutex_t lock;
    volatile bool stop;
    s_archive_t archives[16];
    int count;
    int delay_ms;
    tt_stager_hook_fn *hook;
    void *hook_arg;
    int requests;
    int rows_requests;
};

static void *
s_stager_run(void *arg)
{
    tt_stager_t *self = arg;
    zsock_set_rcvtimeo(self->sock, 50);
    while (!self->stop) {
        zframe_t *rid = NULL;
        tf_msg_t msg;
        if (tf_wire_recv(self->sock, &rid, &msg, NULL) != TF_OK) {
            zframe_destroy(&rid);
            continue;
        }
        if (msg.type == TF_MSG_FETCH) {
            pthread_mutex_lock(&self->lock);
            self->requests++;
            if (msg.fetch.rows)
                self->rows_requests++;
            int delay = self->delay_ms;
            s_archive_t *a = NULL;
            for (int i = 0; i < self->count; i++)
                if (strcmp(self->archives[i].id, msg.fetch.archive_id) == 0)
                    a = &self->archives[i];
            pthread_mutex_unlock(&self->lock);
            if (delay > 0)
                zclock_sleep(delay);
            tf_msg_t reply = {.type = TF_MSG_FETCH_DATA};
            reply.fetch_data.archive_id = msg.fetch.archive_id;
            reply.fetch_data.offset = msg.fetch.offset;
            reply.fetch_data.rows = msg.fetch.rows;
            if (a && msg.fetch.rows) {
                if (!a->rows || msg.fetch.offset > a->rows_size)
                    reply.fetch_data.error = "no file rows sidecar";
                else {
                    uint64_t len = a->rows_size - msg.fetch.offset;
                    if (len > msg.fetch.length)
                        len = msg.fetch.length;
                    reply.fetch_data.data.data = a->rows + msg.fetch.offset;
                    reply.fetch_data.data.size = (size_t) len;
                    reply.fetch_data.eof = msg.fetch.offset + len == a->rows_size;
                }
            }
            else if (!a || msg.fetch.offset > a->size)
                reply.fetch_data.error = "no such archive";
            else {
                uint64_t len = a->size - msg.fetch.offset;
                if (len > msg.fetch.length)
                    len = msg.fetch.length;
                reply.fetch_data.data.data = a->data + msg.fetch.offset;
                reply.fetch_data.data.size = (size_t) len;
                reply.fetch_data.eof = msg.fetch.offset + len == a->size;
                if (reply.fetch_data.eof && self->hook)
                    self->hook(self->hook_arg, a->id);
            }
            tf_wire_send(self->sock, rid, &reply, NULL);
        }
        zframe_destroy(&rid);
        tf_msg_clear(&msg);
    }
    return NULL;
}

tt_stager_t *
tt_stager_new(const char *endpoint)
{
    tt_stager_t *self = calloc(1, sizeof *self);
    self->sock = zsock_new(ZMQ_ROUTER);
    if (zsock_bind(self->sock, "%s", endpoint) != 0)
        abort();
    pthread_mutex_init(&self->lock, NULL);
    pthread_create(&self->thread, NULL, s_stager_run, self);
    return self;
}

void
tt_stager_destroy(tt_stager_t **self_p)
{
    if (!*self_p)
        return;
    tt_stager_t *self = *self_p;
    self->stop = true;
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

void
tt_stager_add(tt_stager_t *self, const char *archive_id, const void *data, size_t size)
{
    pthread_mutex_lock(&self->lock);
    s_archive_t *a = &self->archives[self->count++];
    a->id = strdup(archive_id);
    a->data = malloc(size ? size : 1);
    memcpy(a->data, data, size);
    a->size = size;
    pthread_mutex_unlock(&self->lock);
}

void
tt_stager_add_rows(tt_stager_t *self, const char *archive_id, const void *data, size_t size)
{
    pthread_mutex_lock(&self->lock);
    for (int i = 0; i < self->count; i++)
        if (strcmp(self->archives[i].id, archive_id) == 0) {
            s_archive_t *a = &self->archives[i];
            free(a->rows);
            a->rows = malloc(size ? size : 1);
            memcpy(a->rows, data, size);
            a->rows_size = size;
        }
    pthread_mutex_unlock(&self->lock);
}

int
tt_stager_rows_requests(tt_stager_t *self)
{
    pthread_mutex_lock(&self->lock);
    int n = self->rows_requests;
    pthread_mutex_unlock(&self->lock);
    return n;
}

void
tt_stager_set_delay(tt_stager_t *self, int ms)
{
    pthread_mutex_lock(&self->lock);
    self->delay_ms = ms;
    pthread_mutex_unlock(&self->lock);
}

void
tt_stager_set_last_hook(tt_stager_t *self, tt_stager_hook_fn *fn, void *arg)
{
    pthread_mutex_lock(&self->lock);
    self->hook = fn;
    self->hook_arg = arg;
    pthread_mutex_unlock(&self->lock);
}

int
tt_stager_requests(tt_stager_t *self)
{
    pthread_mutex_lock(&self->lock);
    int n = self->requests;
    pthread_mutex_unlock(&self->lock);
    return n;
}

/* --- fake catalog ----------------------------------------------------------------------- */

struct _tt_catalog_t {
    tf_actor_t *actor;
    pthread_t thread;
    pthread_mutex_t lock;
    volatile bool stop;
    tf_msg_t written[32];
    size_t count;
    size_t file_queries;     /* cat_query archive_files asked */
};

static void
s_catalog_item(tt_catalog_t *self, tf_msg_t *work)
{
    tf_msg_t payload;
    if (tf_msg_decode(work->work.payload.data, work->work.payload.size, &payload, NULL) != TF_OK) {
        tf_actor_failed(self->actor, &work->work, false, "bad payload");
        return;
    }
    if (payload.type == TF_MSG_CAT_WRITTEN) {
        pthread_mutex_lock(&self->lock);
        bool known = false;
        for (size_t i = 0; i < self->count; i++)
            if (strcmp(self->written[i].cat_written.archive_id, payload.cat_written.archive_id) == 0)
                known = true;
        if (!known && self->count < 32) {
            self->written[self->count++] = payload;
            memset(&payload, 0, sizeof payload);
        }
        pthread_mutex_unlock(&self->lock);
        tf_actor_done(self->actor, &work->work, "", 0);
    } else if (payload.type == TF_MSG_CAT_QUERY && payload.cat_query.query
               && strcmp(payload.cat_query.query, "archive_files") == 0) {
        /* No file rows here: a tape writer that needs the catalog's rows writes no index. */
        pthread_mutex_lock(&self->lock);
        self->file_queries++;
        pthread_mutex_unlock(&self->lock);
        tf_actor_failed(self->actor, &work->work, false, "the fake catalog keeps no file rows");
    } else if (payload.type == TF_MSG_CAT_QUERY) {
        pthread_mutex_lock(&self->lock);
        tf_msg_archive_row_t rows[32];
        size_t n = 0;
        for (size_t i = 0; i < self->count; i++) {
            const tf_msg_cat_written_t *w = &self->written[i].cat_written;
            if (payload.cat_query.job_id && strcmp(w->job_id, payload.cat_query.job_id) != 0)
                continue;
            rows[n++] = (tf_msg_archive_row_t){.archive_id = w->archive_id, .job_id = w->job_id,
                                               .volume = w->volume, .tape_file = w->tape_file,
                                               .block = w->block, .blocks = w->blocks,
                                               .size = w->size, .checksum = w->checksum,
                                               .written = true};
        }
        tf_msg_t reply = {.type = TF_MSG_CAT_REPLY};
        reply.cat_reply.archives = rows;
        reply.cat_reply.archives_count = n;
        uint8_t *data = NULL;
        size_t size = 0;
        tf_msg_encode(&reply, &data, &size, NULL);
        pthread_mutex_unlock(&self->lock);
        tf_actor_done(self->actor, &work->work, data, size);
        free(data);
    } else
        tf_actor_done(self->actor, &work->work, "", 0);
    tf_msg_clear(&payload);
}

static void *
s_catalog_run(void *arg)
{
    tt_catalog_t *self = arg;
    while (!self->stop) {
        tf_msg_t work;
        if (tf_actor_next(self->actor, &work, 50, NULL) != TF_OK)
            continue;
        s_catalog_item(self, &work);
        tf_msg_clear(&work);
    }
    return NULL;
}

tt_catalog_t *
tt_catalog_new(tf_config_t *cfg)
{
    tt_catalog_t *self = calloc(1, sizeof *self);
    tf_err_t err = {0};
    self->actor = tf_actor_new(cfg, "catalog", "fakecatalog", &err);
    if (!self->actor) {
        fprintf(stderr, "fake catalog: %s\n", err.message);
        abort();
    }
    pthread_mutex_init(&self->lock, NULL);
    pthread_create(&self->thread, NULL, s_catalog_run, self);
    return self;
}

void
tt_catalog_destroy(tt_catalog_t **self_p)
{
    if (!*self_p)
        return;
    tt_catalog_t *self = *self_p;
    self->stop = true;
    pthread_join(self->thread, NULL);
    tf_actor_destroy(&self->actor);
    for (size_t i = 0; i < self->count; i++)
        tf_msg_clear(&self->written[i]);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

size_t
tt_catalog_written(tt_catalog_t *self, size_t i, tf_msg_cat_written_t *out)
{
    pthread_mutex_lock(&self->lock);
    size_t n = self->count;
    if (out && i < n)
        *out = self->written[i].cat_written;
    pthread_mutex_unlock(&self->lock);
    return n;
}

size_t
tt_catalog_file_queries(tt_catalog_t *self)
{
    pthread_mutex_lock(&self->lock);
    size_t n = self->file_queries;
    pthread_mutex_unlock(&self->lock);
    return n;
}

long
tt_sim_record_offset(const char *image, size_t index, uint32_t *length)
{
    FILE *f = fopen(image, "rb");
    if (!f)
        return -1;
    long off = 64;
    for (size_t i = 0;; i++) {
        uint8_t h[8];
        if (fseek(f, off, SEEK_SET) != 0 || fread(h, 1, 8, f) != 8) {
            fclose(f);
            return -1;
        }
        uint32_t len = (uint32_t) h[4] | (uint32_t) h[5] << 8 | (uint32_t) h[6] << 16 | (uint32_t) h[7] << 24;
        if (i == index) {
            fclose(f);
            if (length)
                *length = len;
            return off + 8;
        }
        off += 8 + (long) len;
    }
}
