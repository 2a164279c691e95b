/*  tf_stage_fetch - pipelined fetch from the stager (see tf_stage_fetch.h). */
#include "tf_stage_fetch.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "tf_clock.h"
#include "tf_secure.h"
#include "tf_wire.h"

#define S_CHUNK_MAX (4u << 20)

typedef struct {
    bool used;
    tf_msg_t msg;          /* a fetch_data */
} s_slot_t;

struct _tf_stage_fetch_t {
    zsock_t *sock;
    char *endpoint;
    char *archive_id;
    bool rows;             /* fetching the file rows sidecar, not the data */
    uint64_t size;
    tf_stage_fetch_opts_t opts;
    uint64_t requested;    /* bytes asked for, from 0 */
    uint64_t consumed;     /* bytes handed out */
    int in_flight;
    s_slot_t *slots;       /* answers waiting for their turn */
    int nslots;
    tf_msg_t current;      /* the answer being handed out */
};

static int
s_request(tf_stage_fetch_t *self, uint64_t offset, uint64_t length, tf_err_t *err)
{
    tf_msg_t msg = {.type = TF_MSG_FETCH};
    msg.fetch = (tf_msg_fetch_t){.archive_id = self->archive_id, .offset = offset, .length = length,
                                 .rows = self->rows};
    int rc = tf_wire_send(self->sock, NULL, &msg, err);
    if (rc != TF_OK)
        return tf_err_prefix(err, "cannot ask the stager at %s for archive %s: ", self->endpoint, self->archive_id);
    self->in_flight++;
    return TF_OK;
}

static int
s_top_up(tf_stage_fetch_t *self, tf_err_t *err)
{
    while (self->in_flight < self->opts.depth && self->requested < self->size) {
        uint64_t left = self->size - self->requested;
        uint64_t length = left < self->opts.chunk ? left : self->opts.chunk;
        int rc = s_request(self, self->requested, length, err);
        if (rc != TF_OK)
            return rc;
        self->requested += length;
    }
    return TF_OK;
}

static tf_stage_fetch_t *
s_new(const char *endpoint, const char *stager_key, const char *archive_id, bool rows, uint64_t size, const tf_stage_fetch_opts_t *opts,
      tf_err_t *err)
{
    tf_stage_fetch_t *self = calloc(1, sizeof *self);
    if (!self) {
        tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    self->opts = *opts;
    if (self->opts.chunk == 0 || self->opts.chunk > S_CHUNK_MAX)
        self->opts.chunk = S_CHUNK_MAX;
    if (self->opts.depth < 1)
        self->opts.depth = 1;
    if (self->opts.timeout_ms < 100)
        self->opts.timeout_ms = 100;
    self->size = size;
    self->rows = rows;
    self->endpoint = strdup(endpoint);
    self->archive_id = strdup(archive_id);
    self->nslots = self->opts.depth * 2 + 2;
    self->slots = calloc((size_t) self->nslots, sizeof *self->slots);
    self->sock = zsock_new(ZMQ_DEALER);
    if (!self->endpoint || !self->archive_id || !self->slots || !self->sock) {
        tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        tf_stage_fetch_destroy(&self);
        return NULL;
    }
    zsock_set_linger(self->sock, 0);
    if (self->opts.max_message > 0)
        tf_wire_limit(self->sock, self->opts.max_message);
    /* The stager's own key when it announced one; else the configured one (NULL: keys/server). */
    const char *key = stager_key && *stager_key ? stager_key : NULL;
    if (!key && opts->cfg) {
        const char *configured = tf_config_str(opts->cfg, "stager/server_key");
        key = configured && *configured ? configured : NULL;
    }
    if (tf_secure_connect(opts->cfg, self->sock, endpoint, key, err) != TF_OK) {
        tf_err_prefix(err, "cannot connect to the stager at '%s': ", endpoint);
        tf_stage_fetch_destroy(&self);
        return NULL;
    }
    if (s_top_up(self, err) != TF_OK) {
        tf_stage_fetch_destroy(&self);
        return NULL;
    }
    return self;
}

tf_stage_fetch_t *
tf_stage_fetch_new(const char *endpoint, const char *stager_key, const char *archive_id,
                   uint64_t size, const tf_stage_fetch_opts_t *opts, tf_err_t *err)
{
    return s_new(endpoint, stager_key, archive_id, false, size, opts, err);
}

tf_stage_fetch_t *
tf_stage_fetch_new_rows(const char *endpoint, const char *stager_key, const char *archive_id,
                        uint64_t size, const tf_stage_fetch_opts_t *opts, tf_err_t *err)
{
    return s_new(endpoint, stager_key, archive_id, true, size, opts, err);
}

void
tf_stage_fetch_destroy(tf_stage_fetch_t **self_p)
{
    if (self_p && *self_p) {
        tf_stage_fetch_t *self = *self_p;
        for (int i = 0; self->slots && i < self->nslots; i++)
            if (self->slots[i].used)
                tf_msg_clear(&self->slots[i].msg);
        tf_msg_clear(&self->current);
        free(self->slots);
        zsock_destroy(&self->sock);
        free(self->endpoint);
        free(self->archive_id);
        free(self);
        *self_p = NULL;
    }
}

/* Takes one answer from the socket (waiting up to timeout_ms) into a slot. */
static int
s_receive(tf_stage_fetch_t *self, int timeout_ms, tf_err_t *err)
{
    /* Waited for in slices: a stopped tape writer (SIGTERM) must not sit out fetch_timeout
       for a stager that stops too (up/stop_timeout is shorter). */
    int64_t deadline = tf_clock_mono_ms() + timeout_ms;
    tf_msg_t msg;
    int rc;
    for (;;) {
        if (zsys_interrupted)
            return tf_err_set(err, TF_ERR_INTERRUPTED, "stopped while fetching archive %s", self->archive_id);
        int64_t left = deadline - tf_clock_mono_ms();
        int slice = left > 250 ? 250 : left > 0 ? (int) left : 0;
        zsock_set_rcvtimeo(self->sock, slice);
        rc = tf_wire_recv(self->sock, NULL, &msg, err);
        if (rc != TF_ERR_TIMEOUT || slice >= left)
            break;
    }
    if (rc == TF_ERR_TIMEOUT)
        return rc;
    if (rc != TF_OK)
        return tf_err_prefix(err, "stager at %s: ", self->endpoint);
    if (msg.type != TF_MSG_FETCH_DATA || strcmp(msg.fetch_data.archive_id, self->archive_id) != 0) {
        tf_msg_clear(&msg);
        return TF_OK; /* not ours (a late answer); ignore */
    }
    if (msg.fetch_data.rows != self->rows) {
        tf_msg_clear(&msg);
        return TF_OK; /* an answer about the other file: not for this fetcher */
    }
    if (msg.fetch_data.error && msg.fetch_data.error[0]) {
        rc = tf_err_set(err, TF_ERR_IO, "stager at %s cannot read %sarchive %s: %s", self->endpoint,
                        self->rows ? "the file rows of " : "", self->archive_id, msg.fetch_data.error);
        tf_msg_clear(&msg);
        return rc;
    }
    self->in_flight--;
    for (int i = 0; i < self->nslots; i++)
        if (!self->slots[i].used) {
            self->slots[i].used = true;
            self->slots[i].msg = msg;
            return TF_OK;
        }
    tf_msg_clear(&msg);
    return tf_err_set(err, TF_ERR_PROTO, "stager at %s sent more answers than asked for", self->endpoint);
}

static int
s_find(tf_stage_fetch_t *self, uint64_t offset)
{
    for (int i = 0; i < self->nslots; i++)
        if (self->slots[i].used && self->slots[i].msg.fetch_data.offset == offset)
            return i;
    return -1;
}

bool
tf_stage_fetch_ready(tf_stage_fetch_t *self)
{
    if (self->consumed >= self->size)
        return true;
    while (s_find(self, self->consumed) < 0) {
        if (!(zsock_events(self->sock) & ZMQ_POLLIN))
            return false;
        if (s_receive(self, 0, NULL) != TF_OK)
            return true; /* let tf_stage_fetch_next report the problem */
    }
    return true;
}

int
tf_stage_fetch_fill(tf_stage_fetch_t *self, tf_err_t *err)
{
    while (self->in_flight > 0) {
        int rc = s_receive(self, self->opts.timeout_ms, err);
        if (rc == TF_ERR_TIMEOUT)
            return tf_err_set(err, TF_ERR_TIMEOUT,
                              "stager at %s did not answer within %d ms for archive %s (is "
                              "tapeflow-stager running?)", self->endpoint, self->opts.timeout_ms,
                              self->archive_id);
        if (rc != TF_OK)
            return rc;
    }
    return TF_OK;
}

int
tf_stage_fetch_next(tf_stage_fetch_t *self, const void **data, size_t *len, tf_err_t *err)
{
    tf_msg_clear(&self->current);
    *data = NULL;
    *len = 0;
    if (self->consumed >= self->size)
        return TF_OK;
    int slot;
    while ((slot = s_find(self, self->consumed)) < 0) {
        if (self->in_flight == 0)
            return tf_err_set(err, TF_ERR_PROTO, "stager at %s: no answer for offset %" PRIu64
                              " of archive %s", self->endpoint, self->consumed, self->archive_id);
        int rc = s_receive(self, self->opts.timeout_ms, err);
        if (rc == TF_ERR_TIMEOUT)
            return tf_err_set(err, TF_ERR_TIMEOUT,
                              "stager at %s did not answer within %d ms for archive %s (is "
                              "tapeflow-stager running?)", self->endpoint, self->opts.timeout_ms,
                              self->archive_id);
        if (rc != TF_OK)
            return rc;
    }
    self->current = self->slots[slot].msg;
    self->slots[slot].used = false;
    memset(&self->slots[slot].msg, 0, sizeof self->slots[slot].msg);
    tf_msg_fetch_data_t *fd = &self->current.fetch_data;
    uint64_t left = self->size - self->consumed;
    uint64_t want = left < self->opts.chunk ? left : self->opts.chunk;
    if (fd->data.size != want)
        return tf_err_set(err, TF_ERR_IO,
                          "stager at %s answered %zu bytes at offset %" PRIu64 " of archive %s "
                          "where %" PRIu64 " were asked for: the staged archive is shorter than "
                          "announced", self->endpoint, fd->data.size, self->consumed,
                          self->archive_id, want);
    uint64_t end = self->consumed + fd->data.size;
    self->consumed = end;
    int rc = s_top_up(self, err);
    if (rc != TF_OK)
        return rc;
    *data = fd->data.data;
    *len = fd->data.size;
    return TF_OK;
}
