/*  stager - the holding disk actor (see stager.h and docs/staging.md). */
#include "stager.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "announcer.h"
#include "holding.h"
#include "tf_checksum.h"
#include "tf_clock.h"
#include "tf_log.h"
#include "tf_main.h"
#include "tf_pipeline_ids.h"
#include "tf_wire.h"

#define S_FETCH_MAX (4u << 20)         /* largest fetch answered */
#define S_KEEPALIVE_MS 1000            /* an open session hears from us at least this often */
#define S_DISK_MARGIN (1u << 20)       /* free space we never hand out as credit */

typedef struct {
    char *archive_id;
    char *job_id;
    char *pool;
    char *compression;
    uint64_t group_no;
    zframe_t *peer;
    int fd;
    uint64_t received;       /* bytes written: the next expected offset */
    uint64_t granted;        /* credit handed out in total (received + outstanding) */
    tf_checksum_t *sum;
    int64_t last_sent;
    int64_t last_heard;
    bool closing;            /* committed to ready/, waiting for the tape queue to take it */
} session_t;

struct _stager_t {
    char *endpoint;
    char *advertise;
    uint64_t capacity;
    uint64_t window;
    int64_t session_timeout;
    holding_t *holding;
    announcer_t *announcer;
    zsock_t *router;
    zhashx_t *sessions;      /* archive id -> session_t */
    uint8_t *fetch_buf;
    int64_t next_tick;
};

/* ------------------------------------------------------------------ sessions -------- */

static void
s_session_free(void **item)
{
    session_t *s = *item;
    if (!s)
        return;
    if (s->fd >= 0)
        close(s->fd);
    tf_checksum_destroy(&s->sum);
    zframe_destroy(&s->peer);
    free(s->archive_id);
    free(s->job_id);
    free(s->pool);
    free(s->compression);
    free(s);
    *item = NULL;
}

/* Forgets a session; its partial file goes unless it was committed. */
static void
s_session_drop(stager_t *self, session_t *s, const char *why)
{
    if (!s->closing)
        holding_part_drop(self->holding, s->archive_id);
    tf_log_info("archive %s: session closed (%s)", s->archive_id, why);
    zhashx_delete(self->sessions, s->archive_id);
}

uint64_t
stager_reserved(stager_t *self)
{
    uint64_t total = holding_ready_bytes(self->holding);
    for (session_t *s = zhashx_first(self->sessions); s; s = zhashx_next(self->sessions))
        if (!s->closing)
            total += s->granted;
    return total;
}

static uint64_t
s_unwritten(stager_t *self)
{
    uint64_t total = 0;
    for (session_t *s = zhashx_first(self->sessions); s; s = zhashx_next(self->sessions))
        if (!s->closing)
            total += s->granted - s->received;
    return total;
}

/* Sends msg to peer; false when the peer is gone (ROUTER_MANDATORY). */
static bool
s_send(stager_t *self, zframe_t *peer, const tf_msg_t *msg)
{
    tf_err_t err = {0};
    if (tf_wire_send(self->router, peer, msg, &err) == TF_OK)
        return true;
    tf_log_warn("cannot send %s: %s", tf_msg_type_name(msg->type), err.message);
    return false;
}

static void
s_result(stager_t *self, zframe_t *peer, const char *archive_id, bool ok, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void
s_result(stager_t *self, zframe_t *peer, const char *archive_id, bool ok, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (!ok)
        tf_log_warn("archive %s refused: %s", archive_id, text);
    tf_msg_t msg = {.type = TF_MSG_STAGE_RESULT};
    msg.stage_result = (tf_msg_stage_result_t){.archive_id = (char *) archive_id, .ok = ok, .message = text};
    s_send(self, peer, &msg);
}

static void
s_refuse(stager_t *self, session_t *s, const char *reason)
{
    if (!s->closing)
        holding_part_drop(self->holding, s->archive_id);  /* gone before the compressor hears */
    s_result(self, s->peer, s->archive_id, false, "%s", reason);
    s_session_drop(self, s, "refused");
}

static bool
s_credit(stager_t *self, session_t *s, uint64_t bytes)
{
    tf_msg_t msg = {.type = TF_MSG_STAGE_CREDIT};
    msg.stage_credit = (tf_msg_stage_credit_t){.archive_id = s->archive_id, .bytes = bytes};
    s->last_sent = tf_clock_mono_ms();
    if (s_send(self, s->peer, &msg))
        return true;
    s_session_drop(self, s, "compressor gone");
    return false;
}

/* Tops up a session's credit with what fits in the capacity and on the disk. */
static void
s_grant(stager_t *self, session_t *s)
{
    if (s->closing)
        return;
    uint64_t outstanding = s->granted - s->received;
    if (outstanding * 2 > self->window)
        return;
    uint64_t want = self->window - outstanding;
    uint64_t reserved = stager_reserved(self);
    uint64_t room = self->capacity > reserved ? self->capacity - reserved : 0;
    uint64_t disk = holding_disk_free(self->holding), unwritten = s_unwritten(self) + S_DISK_MARGIN;
    uint64_t disk_room = disk > unwritten ? disk - unwritten : 0;
    uint64_t grant = want < room ? want : room;
    if (grant > disk_room)
        grant = disk_room;
    if (grant == 0) {
        if (outstanding == 0 && s->received >= self->capacity) {
            char why[512];
            snprintf(why, sizeof why,
                     "archive is larger than the holding disk (stager/capacity = %" PRIu64
                     " bytes): raise stager/capacity or lower scanner/group_size",
                     self->capacity);
            s_refuse(self, s, why);
        }
        return;
    }
    s->granted += grant;
    s_credit(self, s, grant);
}

static void
s_grant_all(stager_t *self)
{
    zlistx_t *ids = zhashx_keys(self->sessions);
    for (char *id = ids ? zlistx_first(ids) : NULL; id; id = zlistx_next(ids)) {
        session_t *s = zhashx_lookup(self->sessions, id);
        if (s)
            s_grant(self, s);
    }
    zlistx_destroy(&ids);
}

/* ------------------------------------------------------------------ protocol -------- */

static void
s_on_open(stager_t *self, zframe_t *peer, tf_msg_stage_open_t *open)
{
    const char *id = open->archive_id;
    if (!tf_id_safe_name(id)) {
        s_result(self, peer, id, false, "archive id '%s' is not valid (letters, digits, '.', '_', '-')", id);
        return;
    }
    if (holding_lookup(self->holding, id)) {
        s_result(self, peer, id, true, "already staged");
        return;
    }
    session_t *old = zhashx_lookup(self->sessions, id);
    if (old)
        s_session_drop(self, old, "restarted by a new stage_open");
    session_t *s = calloc(1, sizeof *s);
    if (!s) {
        s_result(self, peer, id, false, "stager out of memory");
        return;
    }
    s->fd = -1;
    s->archive_id = strdup(id);
    s->job_id = strdup(open->job_id);
    s->pool = strdup(open->pool ? open->pool : "");
    s->compression = strdup(open->compression ? open->compression : "");
    s->group_no = open->group_no;
    s->peer = zframe_dup(peer);
    s->sum = tf_checksum_new();
    s->last_heard = s->last_sent = tf_clock_mono_ms();
    tf_err_t err = {0};
    if (!s->archive_id || !s->job_id || !s->pool || !s->compression || !s->peer || !s->sum) {
        void *p = s;
        s_session_free(&p);
        s_result(self, peer, id, false, "stager out of memory");
        return;
    }
    if (holding_part_open(self->holding, id, &s->fd, &err) != TF_OK) {
        void *p = s;
        s_session_free(&p);
        s_result(self, peer, id, false, "%s", err.message);
        return;
    }
    zhashx_insert(self->sessions, id, s);
    tf_log_info("archive %s: receiving (job %s, group %" PRIu64 ")", id, s->job_id, s->group_no);
    s_grant(self, s);
}

/* The session of a data/close message, when it belongs to this peer. */
static session_t *
s_session_of(stager_t *self, zframe_t *peer, const char *archive_id)
{
    session_t *s = zhashx_lookup(self->sessions, archive_id);
    if (!s || !zframe_eq(s->peer, peer) || s->closing) {
        s_result(self, peer, archive_id, false,
                 "no open session for archive %s here (the stager restarted or another compressor took it over); "
                 "stage it again from the start",
                 archive_id);
        return NULL;
    }
    s->last_heard = tf_clock_mono_ms();
    return s;
}

static void
s_on_data(stager_t *self, zframe_t *peer, tf_msg_stage_data_t *data)
{
    session_t *s = s_session_of(self, peer, data->archive_id);
    if (!s)
        return;
    char why[512];
    if (data->offset != s->received) {
        snprintf(why, sizeof why, "data out of order: expected offset %" PRIu64 ", got %" PRIu64, s->received,
                 data->offset);
        s_refuse(self, s, why);
        return;
    }
    if (data->data.size > s->granted - s->received) {
        snprintf(why, sizeof why, "sent %zu bytes with only %" PRIu64 " bytes of credit", data->data.size,
                 s->granted - s->received);
        s_refuse(self, s, why);
        return;
    }
    size_t done = 0;
    while (done < data->data.size) {
        ssize_t n = pwrite(s->fd, data->data.data + done, data->data.size - done, (off_t) (s->received + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(why, sizeof why, "cannot write to the holding disk %s: %s", holding_dir(self->holding),
                     strerror(n < 0 ? errno : ENOSPC));
            s_refuse(self, s, why);
            return;
        }
        done += (size_t) n;
    }
    tf_checksum_update(s->sum, data->data.data, data->data.size);
    s->received += data->data.size;
    s_grant(self, s);
}

static void
s_on_close(stager_t *self, zframe_t *peer, tf_msg_stage_close_t *close_msg)
{
    session_t *s = s_session_of(self, peer, close_msg->archive_id);
    if (!s)
        return;
    char why[512], digest[TF_CHECKSUM_STRLEN];
    if (close_msg->size != s->received) {
        snprintf(why, sizeof why, "size mismatch: the compressor sent %" PRIu64 " bytes but says %" PRIu64,
                 s->received, close_msg->size);
        s_refuse(self, s, why);
        return;
    }
    tf_checksum_format(s->sum, digest);
    if (strcmp(digest, close_msg->checksum) != 0) {
        snprintf(why, sizeof why, "checksum mismatch: received bytes hash to %s, the compressor says %s", digest,
                 close_msg->checksum);
        s_refuse(self, s, why);
        return;
    }
    holding_meta_t meta = {
        .archive_id = s->archive_id,
        .job_id = s->job_id,
        .pool = s->pool,
        .compression = s->compression,
        .checksum = digest,
        .group_no = s->group_no,
        .size = s->received,
        .files = close_msg->files,
        .bytes = close_msg->bytes,
    };
    tf_err_t err = {0};
    int fd = s->fd;
    s->fd = -1;
    if (holding_commit(self->holding, &meta, fd, &err) != TF_OK) {
        s_refuse(self, s, err.message);
        return;
    }
    s->closing = true;
    tf_log_info("archive %s: verified and ready (%" PRIu64 " bytes, %s)", s->archive_id, s->received, digest);
    tf_msg_archive_ready_t ready = {
        .archive_id = s->archive_id,
        .job_id = s->job_id,
        .group_no = s->group_no,
        .pool = s->pool,
        .compression = s->compression,
        .size = meta.size,
        .checksum = digest,
        .files = meta.files,
        .bytes = meta.bytes,
        .stager = self->advertise,
    };
    if (announcer_send(self->announcer, &ready, &err) != TF_OK)
        tf_log_error("archive %s: %s (it is announced at the next start)", s->archive_id, err.message);
    s_grant_all(self);  /* its unused credit is free again */
}

static void
s_on_fetch(stager_t *self, zframe_t *peer, tf_msg_fetch_t *fetch)
{
    tf_msg_t msg = {.type = TF_MSG_FETCH_DATA};
    msg.fetch_data.archive_id = fetch->archive_id;
    msg.fetch_data.offset = fetch->offset;
    msg.fetch_data.data = (tf_bytes_t){self->fetch_buf, 0};
    size_t want = fetch->length < S_FETCH_MAX ? (size_t) fetch->length : S_FETCH_MAX;
    tf_err_t err = {0};
    const holding_meta_t *meta = holding_lookup(self->holding, fetch->archive_id);
    size_t got = 0;
    if (!tf_id_safe_name(fetch->archive_id) || !meta)
        msg.fetch_data.error = "archive is not staged here";
    else if (holding_read(self->holding, fetch->archive_id, fetch->offset, self->fetch_buf, want, &got, &err)
             != TF_OK)
        msg.fetch_data.error = err.message;
    else {
        msg.fetch_data.data.size = got;
        msg.fetch_data.eof = fetch->offset + got == meta->size;
    }
    if (msg.fetch_data.error)
        tf_log_warn("fetch of %s at %" PRIu64 ": %s", fetch->archive_id, fetch->offset, msg.fetch_data.error);
    s_send(self, peer, &msg);
}

static void
s_on_router(stager_t *self)
{
    zframe_t *peer = NULL;
    tf_msg_t msg;
    tf_err_t err = {0};
    int rc = tf_wire_recv(self->router, &peer, &msg, &err);
    if (rc != TF_OK) {
        if (rc == TF_ERR_PROTO && peer) {
            tf_log_warn("malformed message on the stager socket: %s", err.message);
            tf_msg_t reply = {.type = TF_MSG_ERROR};
            reply.error = (tf_msg_error_t){.code = TF_ERR_PROTO, .message = err.message};
            s_send(self, peer, &reply);
        }
        zframe_destroy(&peer);
        return;
    }
    switch (msg.type) {
    case TF_MSG_STAGE_OPEN: s_on_open(self, peer, &msg.stage_open); break;
    case TF_MSG_STAGE_DATA: s_on_data(self, peer, &msg.stage_data); break;
    case TF_MSG_STAGE_CLOSE: s_on_close(self, peer, &msg.stage_close); break;
    case TF_MSG_FETCH: s_on_fetch(self, peer, &msg.fetch); break;
    default: {
        char text[128];
        snprintf(text, sizeof text, "the stager does not handle '%s'", tf_msg_type_name(msg.type));
        tf_log_warn("%s", text);
        tf_msg_t reply = {.type = TF_MSG_ERROR};
        reply.error = (tf_msg_error_t){.code = TF_ERR_PROTO, .message = text};
        s_send(self, peer, &reply);
    }
    }
    tf_msg_clear(&msg);
    zframe_destroy(&peer);
}

/* ------------------------------------------------------------------ tape queue & release */

static void
s_announce_all(stager_t *self)
{
    zlist_t *ids = holding_ready_ids(self->holding);
    for (const char *id = ids ? zlist_first(ids) : NULL; id; id = zlist_next(ids)) {
        const holding_meta_t *m = holding_lookup(self->holding, id);
        tf_msg_archive_ready_t ready = {
            .archive_id = m->archive_id,
            .job_id = m->job_id,
            .group_no = m->group_no,
            .pool = m->pool,
            .compression = m->compression,
            .size = m->size,
            .checksum = m->checksum,
            .files = m->files,
            .bytes = m->bytes,
            .stager = self->advertise,
        };
        tf_err_t err = {0};
        if (announcer_send(self->announcer, &ready, &err) != TF_OK)
            tf_log_error("archive %s: %s", id, err.message);
    }
    if (ids && zlist_size(ids) > 0)
        tf_log_info("announcing %zu ready archive(s) to the tape queue again", zlist_size(ids));
    zlist_destroy(&ids);
}

static void
s_on_ack(stager_t *self)
{
    announcer_ack_t ack;
    if (announcer_recv(self->announcer, &ack, NULL) != TF_OK)
        return;
    if (ack.existed && streq(ack.state, "done") && holding_lookup(self->holding, ack.archive_id)) {
        /* The tape writer completed this archive's item already (written, verified, in the
           catalog, release sent): this copy was staged again by a redelivered file group. */
        tf_err_t err = {0};
        if (holding_remove(self->holding, ack.archive_id, &err) == TF_OK)
            tf_log_info("archive %s: already on tape; deleted the extra staged copy", ack.archive_id);
        else
            tf_log_warn("archive %s: %s", ack.archive_id, err.message);
    }
    else if (streq(ack.state, "cancelled"))
        tf_log_info("archive %s: its job was cancelled; it stays here until the job is retried or "
                    "purged (tapeflow job retry|purge)", ack.archive_id);
    else
        tf_log_info("archive %s: queued for tape (%s%s)", ack.archive_id, ack.state, ack.existed ? ", repeat" : "");
    session_t *s = zhashx_lookup(self->sessions, ack.archive_id);
    if (s && s->closing) {
        s_result(self, s->peer, s->archive_id, true, "staged");
        s_session_drop(self, s, "staged");
    }
    s_grant_all(self);
}

/* ------------------------------------------------------------------ purge ---------- */

typedef struct {
    tf_msg_path_row_t *rows;
    size_t count, cap;
    tf_msg_stage_purge_result_t *result;
} s_purge_list_t;

static int
s_purge_add(s_purge_list_t *list, const char *folder, const char *id, const char *ext, uint64_t size)
{
    if (list->count == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 16;
        tf_msg_path_row_t *rows = realloc(list->rows, cap * sizeof *rows);
        if (!rows)
            return TF_ERR_NOMEM;
        list->rows = rows;
        list->cap = cap;
    }
    size_t n = strlen(folder) + strlen(id) + strlen(ext) + 2;
    char *path = malloc(n);
    if (!path)
        return TF_ERR_NOMEM;
    snprintf(path, n, "%s/%s%s", folder, id, ext);
    list->rows[list->count++].path = path;
    list->result->bytes += size;
    return TF_OK;
}

static uint64_t
s_file_size(stager_t *self, const char *folder, const char *id, const char *ext)
{
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s/%s%s", holding_dir(self->holding), folder, id, ext);
    return stat(path, &st) == 0 ? (uint64_t) st.st_size : 0;
}

/* stage_purge: deletes (or, dry run, lists) the job's ready archives and the partial files of
   its open sessions; the compressors of those sessions are told the archive was refused. The
   result names every file and the bytes freed. */
static void
s_on_purge(stager_t *self, tf_actor_t *actor, const tf_msg_work_t *work,
           const tf_msg_stage_purge_t *purge)
{
    tf_msg_t result = {.type = TF_MSG_STAGE_PURGE_RESULT};
    result.stage_purge_result.job_id = purge->job_id;
    s_purge_list_t list = {.result = &result.stage_purge_result};
    tf_err_t err = {0};
    int rc = TF_OK;
    zlist_t *ids = holding_ready_ids(self->holding);
    for (const char *id = ids ? zlist_first(ids) : NULL; id && rc == TF_OK; id = zlist_next(ids)) {
        const holding_meta_t *m = holding_lookup(self->holding, id);
        if (!m || strcmp(m->job_id, purge->job_id) != 0)
            continue;
        uint64_t meta_size = s_file_size(self, "ready", id, ".meta");
        rc = s_purge_add(&list, "ready", id, ".data", m->size);
        if (rc == TF_OK)
            rc = s_purge_add(&list, "ready", id, ".meta", meta_size);
        if (rc == TF_OK)
            list.result->archives++;
        if (rc == TF_OK && !purge->dry_run) {
            rc = holding_remove(self->holding, id, &err);
            if (rc == TF_OK)
                tf_log_info("archive %s: purged with its job %s", id, purge->job_id);
        }
    }
    zlist_destroy(&ids);
    zlistx_t *open = rc == TF_OK ? zhashx_keys(self->sessions) : NULL;
    for (char *id = open ? zlistx_first(open) : NULL; id && rc == TF_OK; id = zlistx_next(open)) {
        session_t *s = zhashx_lookup(self->sessions, id);
        if (!s || s->closing || !s->job_id || strcmp(s->job_id, purge->job_id) != 0)
            continue;
        rc = s_purge_add(&list, "tmp", id, ".part", s->received);
        if (rc == TF_OK && !purge->dry_run) {
            tf_log_info("archive %s: partial file purged with its job %s", id, purge->job_id);
            s_refuse(self, s, "its job was purged from the holding disk (tapeflow job purge)");
        }
    }
    zlistx_destroy(&open);
    if (rc == TF_ERR_NOMEM)
        tf_err_set(&err, rc, "out of memory listing the job's files");
    list.result->files = list.rows;
    list.result->files_count = list.count;
    uint8_t *data = NULL;
    size_t size = 0;
    if (rc == TF_OK)
        rc = tf_msg_encode(&result, &data, &size, &err);
    if (rc == TF_OK)
        tf_actor_done(actor, work, data, size);
    else
        tf_actor_failed(actor, work, tf_actor_status_retryable(rc), err.message);
    free(data);
    for (size_t i = 0; i < list.count; i++)
        free(list.rows[i].path);
    free(list.rows);
}

static void
s_on_work(stager_t *self, tf_actor_t *actor)
{
    tf_msg_t work;
    tf_err_t err = {0};
    int rc = tf_actor_next(actor, &work, 0, &err);
    if (rc != TF_OK) {
        if (rc != TF_ERR_TIMEOUT && rc != TF_ERR_INTERRUPTED)
            tf_log_warn("ignored a bad work item: %s", err.message);
        return;
    }
    tf_msg_t payload;
    rc = tf_msg_decode(work.work.payload.data, work.work.payload.size, &payload, &err);
    if (rc == TF_OK && payload.type == TF_MSG_STAGE_PURGE) {
        s_on_purge(self, actor, &work.work, &payload.stage_purge);
        tf_msg_clear(&payload);
        tf_msg_clear(&work);
        s_grant_all(self);
        return;
    }
    if (rc == TF_OK && payload.type != TF_MSG_ARCHIVE_RELEASE) {
        rc = tf_err_set(&err, TF_ERR_PROTO, "expected archive_release or stage_purge, got %s",
                        tf_msg_type_name(payload.type));
        tf_msg_clear(&payload);
    }
    if (rc != TF_OK) {
        tf_actor_failed(actor, &work.work, false, err.message);
        tf_msg_clear(&work);
        return;
    }
    const char *id = payload.archive_release.archive_id;
    if (!tf_id_safe_name(id))
        rc = tf_err_set(&err, TF_ERR_INVALID, "archive id '%s' is not valid", id);
    else
        rc = holding_remove(self->holding, id, &err);
    if (rc == TF_OK) {
        tf_log_info("archive %s: released (on tape and in the catalog); deleted", id);
        tf_actor_done(actor, &work.work, NULL, 0);
    }
    else
        tf_actor_failed(actor, &work.work, tf_actor_status_retryable(rc), err.message);
    tf_msg_clear(&payload);
    tf_msg_clear(&work);
    s_grant_all(self);
}

static void
s_tick(stager_t *self)
{
    int64_t now = tf_clock_mono_ms();
    if (now < self->next_tick)
        return;
    self->next_tick = now + 200;
    zlistx_t *ids = zhashx_keys(self->sessions);
    for (char *id = ids ? zlistx_first(ids) : NULL; id; id = zlistx_next(ids)) {
        session_t *s = zhashx_lookup(self->sessions, id);
        if (!s)
            continue;
        if (!s->closing && now - s->last_heard > self->session_timeout) {
            s_session_drop(self, s, "the compressor went silent");
            continue;
        }
        if (now - s->last_sent >= S_KEEPALIVE_MS)
            s_credit(self, s, 0);  /* "still here" (also while it waits for space) */
    }
    zlistx_destroy(&ids);
    s_grant_all(self);
}

/* ------------------------------------------------------------------ life cycle ------ */

stager_t *
stager_new(tf_config_t *cfg, tf_err_t *err)
{
    stager_t *self = calloc(1, sizeof *self);
    if (!self) {
        tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    const char *endpoint = tf_config_str(cfg, "stager/endpoint");
    self->endpoint = strdup(endpoint);
    self->advertise = strdup(tf_config_get_or(cfg, "stager/advertise", endpoint));
    int64_t capacity = tf_config_size(cfg, "stager/capacity");
    int64_t window = tf_config_size(cfg, "stager/window");
    self->capacity = capacity > 0 ? (uint64_t) capacity : 0;
    self->window = window > 0 ? (uint64_t) window : 8 << 20;
    self->session_timeout = tf_config_ms(cfg, "stager/session_timeout");
    self->sessions = zhashx_new();
    self->fetch_buf = malloc(S_FETCH_MAX);
    if (!self->endpoint || !self->advertise || !self->sessions || !self->fetch_buf) {
        tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        stager_destroy(&self);
        return NULL;
    }
    zhashx_set_destructor(self->sessions, s_session_free);
    if (self->capacity == 0) {
        tf_err_set(err, TF_ERR_INVALID, "stager/capacity must be a positive number of bytes");
        stager_destroy(&self);
        return NULL;
    }
    const char *dir = tf_config_get(cfg, "stager/dir");
    self->holding = holding_new(dir ? dir : "", err);
    if (!self->holding) {
        stager_destroy(&self);
        return NULL;
    }
    if (tf_main_prepare_endpoint(self->endpoint, err) != TF_OK) {
        stager_destroy(&self);
        return NULL;
    }
    self->router = zsock_new(ZMQ_ROUTER);
    if (!self->router) {
        tf_err_set(err, TF_ERR_IO, "cannot create the stager socket");
        stager_destroy(&self);
        return NULL;
    }
    zsock_set_router_mandatory(self->router, 1);
    zsock_set_linger(self->router, 0);
    tf_wire_limit(self->router, tf_config_size(cfg, "broker/max_message"));
    if (strncmp(self->endpoint, "ipc://", 6) == 0 && self->endpoint[6] != '@')
        unlink(self->endpoint + 6);  /* a socket file left by a killed stager */
    if (zsock_bind(self->router, "%s", self->endpoint) < 0) {
        tf_err_errno(err, TF_ERR_IO, errno,
                     "cannot listen on %s (stager/endpoint; is another stager running?)", self->endpoint);
        stager_destroy(&self);
        return NULL;
    }
    self->announcer = announcer_new(tf_config_str(cfg, "broker/endpoint"), err);
    if (!self->announcer) {
        stager_destroy(&self);
        return NULL;
    }
    tf_log_info("stager on %s, holding disk %s (%" PRIu64 " bytes ready, capacity %" PRIu64 ")", self->endpoint,
                dir, holding_ready_bytes(self->holding), self->capacity);
    s_announce_all(self);
    return self;
}

void
stager_destroy(stager_t **self_p)
{
    if (self_p && *self_p) {
        stager_t *self = *self_p;
        announcer_destroy(&self->announcer);
        zhashx_destroy(&self->sessions);
        zsock_destroy(&self->router);
        holding_destroy(&self->holding);
        free(self->fetch_buf);
        free(self->endpoint);
        free(self->advertise);
        free(self);
        *self_p = NULL;
    }
}

int
stager_serve(stager_t *self, tf_actor_t *actor, zsock_t *pipe)
{
    zpoller_t *poller = zpoller_new(self->router, announcer_pollable(self->announcer), NULL);
    if (!poller)
        return TF_ERR_NOMEM;
    void *work = actor ? tf_actor_pollable(actor) : NULL;
    if ((work && zpoller_add(poller, work) != 0) || (pipe && zpoller_add(poller, pipe) != 0)) {
        zpoller_destroy(&poller);
        return TF_ERR_NOMEM;
    }
    int rc = TF_OK;
    while (!zsys_interrupted) {
        void *which = zpoller_wait(poller, 200);
        if (which == self->router) {
            /* a burst at a time, so data does not starve releases and acknowledgements */
            for (int i = 0; i < 64 && (zsock_events(self->router) & ZMQ_POLLIN); i++)
                s_on_router(self);
        }
        else if (which == announcer_pollable(self->announcer))
            s_on_ack(self);
        else if (work && which == work)
            s_on_work(self, actor);
        else if (pipe && which == pipe) {
            char *cmd = zstr_recv(pipe);
            bool stop = !cmd || streq(cmd, "$TERM");
            zstr_free(&cmd);
            if (stop)
                break;
        }
        else if (!which && zpoller_terminated(poller))
            break;
        s_tick(self);
    }
    zpoller_destroy(&poller);
    return rc;
}
