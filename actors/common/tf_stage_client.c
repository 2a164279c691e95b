/*  tf_stage_client - stage protocol, compressor side (see tf_stage_client.h). */
#include "tf_stage_client.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "tf_checksum.h"
#include "tf_clock.h"
#include "tf_secure.h"
#include "tf_wire.h"

struct _tf_stage_client_t {
    char *endpoint;
    size_t chunk;
    int64_t timeout_ms;
    int64_t max_message;
    zsock_t *dealer;
    zpoller_t *poller;
    char *archive_id;
    const tf_config_t *config;
    char *server_key;
    uint8_t *buf;
    size_t len;
    uint64_t sent;            /* bytes sent (the next offset) */
    uint64_t written;         /* bytes handed to write */
    uint64_t credit;
    uint64_t credit_waits;
    uint64_t credit_grants;     /* stage_credit messages that granted bytes */
    uint64_t credit_max_held;   /* most credit held at once: never above the stager's window */
    uint64_t rows_parts;        /* stage_rows sent for the open archive */
    int64_t last_heard;
    bool have_result;
    bool result_ok;
    bool result_permanent;
    char result_message[TF_MSG_MAX_TEXT / 4];
    tf_checksum_t *checksum;
    char digest[TF_CHECKSUM_STRLEN];
    tf_stage_client_wait_fn *on_wait;
    void *on_wait_arg;
};

tf_stage_client_t *
tf_stage_client_new(const tf_stage_client_opts_t *opts, tf_err_t *err)
{
    if (!opts->endpoint || !*opts->endpoint) {
        tf_err_set(err, TF_ERR_INVALID, "no stager endpoint configured (stager/endpoint)");
        return NULL;
    }
    if (opts->chunk == 0 || opts->timeout_ms <= 0 || opts->max_message <= 0) {
        tf_err_set(err, TF_ERR_INVALID, "stage client: chunk, timeout and max_message come from the "
                                        "configuration (compressor/chunk, compressor/stager_timeout, "
                                        "broker/max_message) and must be above 0");
        return NULL;
    }
    tf_stage_client_t *self = calloc(1, sizeof *self);
    if (!self) {
        tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    self->endpoint = strdup(opts->endpoint);
    self->config = opts->config;
    const char *server_key = opts->server_key ? opts->server_key
                           : opts->config ? tf_config_get((tf_config_t *) opts->config, "stager/server_key") : NULL;
    self->server_key = strdup(server_key ? server_key : "");
    self->chunk = opts->chunk;  /* the key table's ranges keep these above 0 */
    if (self->chunk > 16u << 20)
        self->chunk = 16u << 20;
    self->timeout_ms = opts->timeout_ms;
    self->max_message = opts->max_message;
    self->buf = malloc(self->chunk);
    self->checksum = tf_checksum_new();
    if (!self->endpoint || !self->server_key || !self->buf || !self->checksum) {
        tf_stage_client_destroy(&self);
        tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    return self;
}

static void
s_close_socket(tf_stage_client_t *self)
{
    zpoller_destroy(&self->poller);
    zsock_destroy(&self->dealer);
}

void
tf_stage_client_destroy(tf_stage_client_t **self_p)
{
    if (self_p && *self_p) {
        tf_stage_client_t *self = *self_p;
        s_close_socket(self);
        tf_checksum_destroy(&self->checksum);
        free(self->endpoint);
        free(self->server_key);
        free(self->archive_id);
        free(self->buf);
        free(self);
        *self_p = NULL;
    }
}

/* Handles one message from the stager. */
static int
s_handle(tf_stage_client_t *self, tf_msg_t *msg, tf_err_t *err)
{
    self->last_heard = tf_clock_mono_ms();
    switch (msg->type) {
    case TF_MSG_STAGE_CREDIT:
        if (strcmp(msg->stage_credit.archive_id, self->archive_id) == 0) {
            self->credit += msg->stage_credit.bytes;
            if (msg->stage_credit.bytes > 0)
                self->credit_grants++;
            if (self->credit > self->credit_max_held)
                self->credit_max_held = self->credit;
        }
        return TF_OK;
    case TF_MSG_STAGE_RESULT:
        if (strcmp(msg->stage_result.archive_id, self->archive_id) != 0)
            return TF_OK;
        self->have_result = true;
        self->result_ok = msg->stage_result.ok;
        self->result_permanent = msg->stage_result.permanent;
        snprintf(self->result_message, sizeof self->result_message, "%s",
                 msg->stage_result.message ? msg->stage_result.message : "");
        return TF_OK;
    case TF_MSG_ERROR:
        return tf_err_set(err, TF_ERR_IO, "stager at %s rejected our message: %s", self->endpoint,
                          msg->error.message ? msg->error.message : "no reason given");
    default:
        return TF_OK;  /* nothing else is meant for us; ignore */
    }
}

/* Waits up to wait_ms for one message; TF_OK also when nothing came in time. */
static int
s_receive(tf_stage_client_t *self, int wait_ms, tf_err_t *err)
{
    void *ready = zpoller_wait(self->poller, wait_ms);
    if (!ready) {
        if (zpoller_terminated(self->poller) || zsys_interrupted)
            return tf_err_set(err, TF_ERR_INTERRUPTED, "stopping");
        return TF_OK;
    }
    tf_msg_t msg;
    tf_err_t werr = {0};
    int rc = tf_wire_recv(self->dealer, NULL, &msg, &werr);
    if (rc == TF_ERR_INTERRUPTED)
        return tf_err_set(err, TF_ERR_INTERRUPTED, "stopping");
    if (rc != TF_OK)
        return TF_OK;  /* a malformed message: consumed and ignored */
    rc = s_handle(self, &msg, err);
    tf_msg_clear(&msg);
    return rc;
}

static bool
s_has_credit(tf_stage_client_t *self)
{
    return self->credit > 0;
}

/* Waits until done(self) or a result arrives, or the stager stays silent too long. */
static int
s_wait(tf_stage_client_t *self, bool (*done)(tf_stage_client_t *), tf_err_t *err)
{
    int64_t started = tf_clock_mono_ms(), reported = started;
    while (!done(self) && !self->have_result) {
        int64_t now = tf_clock_mono_ms();
        if (self->on_wait && done == s_has_credit && now - reported >= 1000) {
            reported = now;
            self->on_wait(self->on_wait_arg, now - started);
        }
        int64_t silent = tf_clock_mono_ms() - self->last_heard;
        if (silent >= self->timeout_ms)
            return tf_err_set(err, TF_ERR_TIMEOUT,
                              "stager at %s not answering (silent for %lld s while staging %s); is "
                              "tapeflow-stager running?",
                              self->endpoint, (long long) (silent / 1000), self->archive_id);
        int64_t left = self->timeout_ms - silent;
        int rc = s_receive(self, (int) (left > 200 ? 200 : left), err);
        if (rc != TF_OK)
            return rc;
    }
    return TF_OK;
}


static int
s_refused(tf_stage_client_t *self, tf_err_t *err)
{
    /* The stager's reason says it all (which archive, which holding disk, what to change). */
    if (self->result_permanent)
        return tf_err_set(err, TF_ERR_TOOBIG, "%s",
                          self->result_message[0] ? self->result_message : "the stager refused the archive for good");
    return tf_err_set(err, TF_ERR_IO, "stager at %s refused archive %s: %s", self->endpoint, self->archive_id,
                      self->result_message[0] ? self->result_message : "no reason given");
}

int
tf_stage_client_open(tf_stage_client_t *self, const tf_msg_stage_open_t *open, bool *already_staged,
                     tf_err_t *err)
{
    *already_staged = false;
    s_close_socket(self);
    free(self->archive_id);
    self->archive_id = strdup(open->archive_id);
    if (!self->archive_id)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    self->len = self->sent = self->written = self->credit = self->credit_waits = 0;
    self->credit_grants = self->credit_max_held = self->rows_parts = 0;
    self->have_result = self->result_ok = self->result_permanent = false;
    self->result_message[0] = '\0';
    self->digest[0] = '\0';
    tf_checksum_reset(self->checksum);

    self->dealer = zsock_new(ZMQ_DEALER);
    if (!self->dealer)
        return tf_err_set(err, TF_ERR_IO, "cannot create a socket for the stager");
    zsock_set_linger(self->dealer, 0);
    zsock_set_sndtimeo(self->dealer, (int) self->timeout_ms);
    tf_wire_limit(self->dealer, self->max_message + (1 << 20));
    tf_err_t cerr = {0};
    if (tf_secure_connect(self->config, self->dealer, self->endpoint, self->server_key, &cerr) != TF_OK) {
        s_close_socket(self);
        return tf_err_set(err, cerr.code, "cannot connect to the stager at %s (check stager/endpoint): %s",
                          self->endpoint, cerr.message);
    }
    self->poller = zpoller_new(self->dealer, NULL);
    if (!self->poller) {
        s_close_socket(self);
        return tf_err_set(err, TF_ERR_NOMEM, "cannot create a poller");
    }
    tf_msg_t msg = {.type = TF_MSG_STAGE_OPEN};
    msg.stage_open = *open;
    int rc = tf_wire_send(self->dealer, NULL, &msg, err);
    if (rc != TF_OK)
        return tf_err_prefix(err, "stager at %s: ", self->endpoint);
    self->last_heard = tf_clock_mono_ms();
    rc = s_wait(self, s_has_credit, err);
    if (rc != TF_OK)
        return rc;
    if (self->have_result) {
        if (!self->result_ok)
            return s_refused(self, err);
        *already_staged = true;
        self->have_result = false;
    }
    return TF_OK;
}

static int
s_send_some(tf_stage_client_t *self, tf_err_t *err)
{
    /* Take whatever credit came in meanwhile, and notice a refusal early. */
    int rc;
    while (zsock_events(self->dealer) & ZMQ_POLLIN) {
        if ((rc = s_receive(self, 0, err)) != TF_OK)
            return rc;
    }
    if (self->credit == 0) {
        self->credit_waits++;
        if ((rc = s_wait(self, s_has_credit, err)) != TF_OK)
            return rc;
    }
    if (self->have_result)
        return self->result_ok ? tf_err_set(err, TF_ERR_IO, "stager at %s answered before the archive was closed",
                                            self->endpoint)
                               : s_refused(self, err);
    size_t n = self->len < self->credit ? self->len : (size_t) self->credit;
    tf_msg_t msg = {.type = TF_MSG_STAGE_DATA};
    msg.stage_data = (tf_msg_stage_data_t){
        .archive_id = self->archive_id,
        .offset = self->sent,
        .data = {self->buf, n},
    };
    rc = tf_wire_send(self->dealer, NULL, &msg, err);
    if (rc != TF_OK)
        return tf_err_prefix(err, "stager at %s: ", self->endpoint);
    self->sent += n;
    self->credit -= n;
    memmove(self->buf, self->buf + n, self->len - n);
    self->len -= n;
    return TF_OK;
}

int
tf_stage_client_write(tf_stage_client_t *self, const void *data, size_t size, tf_err_t *err)
{
    if (!self->dealer)
        return tf_err_set(err, TF_ERR_STATE, "no archive is open");
    const uint8_t *p = data;
    tf_checksum_update(self->checksum, data, size);
    self->written += size;
    while (size > 0) {
        size_t n = self->chunk - self->len;
        if (n > size)
            n = size;
        memcpy(self->buf + self->len, p, n);
        self->len += n;
        p += n;
        size -= n;
        while (self->len == self->chunk) {
            int rc = s_send_some(self, err);
            if (rc != TF_OK)
                return rc;
        }
    }
    return TF_OK;
}

int
tf_stage_client_rows(tf_stage_client_t *self, uint64_t part, const tf_msg_file_row_t *rows, size_t count,
                     tf_err_t *err)
{
    if (!self->dealer)
        return tf_err_set(err, TF_ERR_STATE, "no archive is open");
    if (part != self->rows_parts + 1)
        return tf_err_set(err, TF_ERR_STATE, "file rows of archive %s: part %" PRIu64 " after part %" PRIu64,
                          self->archive_id, part, self->rows_parts);
    int rc;
    while (self->len > 0)  /* the archive's last bytes first: the stager takes rows after data */
        if ((rc = s_send_some(self, err)) != TF_OK)
            return rc;
    while (zsock_events(self->dealer) & ZMQ_POLLIN)  /* a refusal that came meanwhile */
        if ((rc = s_receive(self, 0, err)) != TF_OK)
            return rc;
    if (self->have_result)
        return self->result_ok ? tf_err_set(err, TF_ERR_IO, "stager at %s answered before the archive was closed",
                                            self->endpoint)
                               : s_refused(self, err);
    tf_msg_t msg = {.type = TF_MSG_STAGE_ROWS};
    msg.stage_rows = (tf_msg_stage_rows_t){
        .archive_id = self->archive_id,
        .part = part,
        .files = (tf_msg_file_row_t *) rows,
        .files_count = count,
    };
    rc = tf_wire_send(self->dealer, NULL, &msg, err);
    if (rc != TF_OK)
        return tf_err_prefix(err, "stager at %s: ", self->endpoint);
    self->rows_parts = part;
    return TF_OK;
}

static bool
s_never(tf_stage_client_t *self)
{
    (void) self;
    return false;
}

int
tf_stage_client_close(tf_stage_client_t *self, uint64_t files, uint64_t bytes, tf_err_t *err)
{
    if (!self->dealer)
        return tf_err_set(err, TF_ERR_STATE, "no archive is open");
    int rc;
    while (self->len > 0)
        if ((rc = s_send_some(self, err)) != TF_OK)
            return rc;
    tf_checksum_format(self->checksum, self->digest);
    tf_msg_t msg = {.type = TF_MSG_STAGE_CLOSE};
    msg.stage_close = (tf_msg_stage_close_t){
        .archive_id = self->archive_id,
        .size = self->sent,
        .checksum = self->digest,
        .files = files,
        .bytes = bytes,
        .rows_parts = self->rows_parts,
    };
    rc = tf_wire_send(self->dealer, NULL, &msg, err);
    if (rc != TF_OK)
        return tf_err_prefix(err, "stager at %s: ", self->endpoint);
    rc = s_wait(self, s_never, err);
    if (rc != TF_OK)
        return rc;
    rc = self->result_ok ? TF_OK : s_refused(self, err);
    s_close_socket(self);
    return rc;
}

void
tf_stage_client_abort(tf_stage_client_t *self)
{
    s_close_socket(self);
    self->len = 0;
}

uint64_t tf_stage_client_size(tf_stage_client_t *self) { return self->written; }
const char *tf_stage_client_checksum(tf_stage_client_t *self) { return self->digest; }
uint64_t tf_stage_client_credit_waits(tf_stage_client_t *self) { return self->credit_waits; }
uint64_t tf_stage_client_credit_grants(tf_stage_client_t *self) { return self->credit_grants; }
uint64_t tf_stage_client_credit_max_held(tf_stage_client_t *self) { return self->credit_max_held; }

void
tf_stage_client_on_wait(tf_stage_client_t *self, tf_stage_client_wait_fn *fn, void *arg)
{
    self->on_wait = fn;
    self->on_wait_arg = arg;
}
