/*  stager - the holding disk actor (see stager.h and docs/staging.md). */
#include "stager.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "announcer.h"
#include "holding.h"
#include "tf_checksum.h"
#include "tf_clock.h"
#include "tf_keys.h"
#include "tf_log.h"
#include "tf_main.h"
#include "tf_pipeline_ids.h"
#include "tf_secure.h"
#include "tf_sidecar.h"
#include "tf_units.h"
#include "tf_wire.h"

#define S_FETCH_MAX (4u << 20)         /* largest fetch answered */
#define S_KEEPALIVE_MS 1000            /* an open session hears from us at least this often */
#define S_DISK_MARGIN (1u << 20)       /* free space we never hand out as credit */
#define S_STALL_MS 1000                /* out of credit this long: stuck, not between two writes */
#define S_PURGED "purged"              /* parked mark: purged while a tape writer read it */
#define S_PROBE_MS 5000                /* while stuck, how often ready archives' tape items are checked */
#define S_ROUTER_WAIT_MS 20            /* how long the loop waits on the router before polling the rest */

typedef struct {
    char *archive_id;
    char *job_id;
    char *pool;
    char *host;             /* stage_open.host: where the archive's files come from */
    char *replicas;         /* stage_open.replicas: the job's replication targets ("" none) */
    bool replica_required;  /* stage_open.replication is not "optional" */
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
    uint64_t seq;            /* open order: the oldest open session is the head */
    uint64_t expected;       /* the compressor's size estimate (stage_open expected_size), 0 = unknown */
    uint64_t reserve;        /* holding disk promised to it once admitted: min(expected, usable) */
    bool admitted;           /* has its reservation and may get credit */
    int64_t waiting_since;   /* mono ms since it has had no credit and none to be given; 0 = not */
    int rows_fd;             /* tmp/<archive>.rows, the file rows sidecar (-1 until stage_rows) */
    uint64_t rows_size;      /* its bytes: holding disk the session uses beyond its credit */
    uint64_t rows_parts;     /* stage_rows received: the next expected part is this + 1 */
    uint64_t rows_count;     /* file rows in them */
    tf_checksum_t *rows_sum;
    bool restore;            /* stage_open.purpose "restore": a restore stream, never announced */
} session_t;

/* A job with archives waiting for space: when it was last alerted and whether its catalog
   message says so. */
typedef struct {
    int64_t next_alert;      /* mono ms; 0 = not alerted yet */
    int64_t since_wall;      /* wall ms the wait began, for the catalog message */
    bool told;               /* the catalog's message says it waits */
    bool seen;               /* still waiting at this tick */
    char archive_id[TF_MSG_MAX_ID + 1];
} job_wait_t;

/* The holding disk's space as the credit rules see it (docs/staging.md, "Credit"). */
typedef struct {
    uint64_t usable;         /* the most it can ever hold: capacity or file system, the smaller */
    uint64_t room;           /* what the sessions can have once ready/ went to tape */
    uint64_t physical;       /* what can be granted right now */
    uint64_t reserved;       /* promised to admitted sessions: max(reserve, granted) each */
    uint64_t ready;          /* bytes of ready archives */
    uint64_t disk_free;      /* file system free space (statvfs) */
    size_t ready_count;
    /* Filled by s_space_unfreed only (a walk over every ready archive, not needed for credit): */
    holding_tally_t parked;  /* ready archives of cancelled or failed jobs: nothing will free them */
    holding_tally_t replica; /* live ready archives on tape that wait only for replicas: the tape
                                writer will not free them, the replicator may */
    size_t sessions;         /* open (not closing) sessions */
    bool fs_limited;         /* the file system, not stager/capacity, is what stops credit */
} space_t;

struct _stager_t {
    char *endpoint;
    char *advertise;
    char public_key[41];     /* this host's CURVE key for a tcp advertise ("" over ipc): archive_ready.stager_key */
    uint64_t capacity;
    uint64_t window;
    int64_t session_timeout;
    holding_t *holding;
    announcer_t *announcer;
    tf_auth_t *auth;           /* CURVE clients of a tcp router (tf_secure) */
    tf_keys_t *keys;           /* their roles, checked per message (s_allowed) */
    uint64_t denied;           /* messages refused for the sender's roles */
    zsock_t *router;
    zhashx_t *sessions;      /* archive id -> session_t */
    zhashx_t *waits;         /* job id -> job_wait_t */
    uint8_t *fetch_buf;
    int64_t next_tick;
    uint64_t next_seq;
    int64_t space_alert;     /* ms a job may wait for space before alert.stager */
    int64_t space_alert_repeat;
    int64_t in_use_ms;       /* an archive read this recently, not to its end, may be on its way to tape */
    zhashx_t *fetched;       /* archive id -> int64_t mono ms of its last fetch, while not read to its end */
    int64_t next_probe;      /* mono ms: next check of the ready archives' tape items while stuck */
    tf_actor_t *actor;       /* while serving: the event publisher */
};

static void s_unpark(stager_t *self, const char *archive_id, const char *why);
static void s_announce(stager_t *self, const holding_meta_t *m);

/* Whether a stage_open's replicas fit a .meta and name targets (tf_id_target_list_ok: ids
   that can be part of an item id, none "tape", no empty entry). */
static bool
s_replicas_valid(const char *list)
{
    return strlen(list) <= TF_MSG_MAX_PATH && tf_id_target_list_ok(list);
}

/* ------------------------------------------------------------------ sessions -------- */

static void
s_session_free(void **item)
{
    session_t *s = *item;
    if (!s)
        return;
    if (s->fd >= 0)
        close(s->fd);
    if (s->rows_fd >= 0)
        close(s->rows_fd);
    tf_checksum_destroy(&s->sum);
    tf_checksum_destroy(&s->rows_sum);
    zframe_destroy(&s->peer);
    free(s->archive_id);
    free(s->job_id);
    free(s->pool);
    free(s->host);
    free(s->replicas);
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
            total += s->granted + s->rows_size;
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
s_send_result(stager_t *self, zframe_t *peer, const char *archive_id, bool ok, bool permanent, const char *text)
{
    if (!ok)
        tf_log_warn("archive %s refused%s: %s", archive_id, permanent ? " for good" : "", text);
    tf_msg_t msg = {.type = TF_MSG_STAGE_RESULT};
    msg.stage_result = (tf_msg_stage_result_t){
        .archive_id = (char *) archive_id, .ok = ok, .message = (char *) text, .permanent = permanent};
    s_send(self, peer, &msg);
}

static void
s_result(stager_t *self, zframe_t *peer, const char *archive_id, bool ok, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    s_send_result(self, peer, archive_id, ok, false, text);
}

static void
s_refuse_as(stager_t *self, session_t *s, bool permanent, const char *reason)
{
    if (!s->closing)
        holding_part_drop(self->holding, s->archive_id);  /* gone before the compressor hears */
    s_send_result(self, s->peer, s->archive_id, false, permanent, reason);
    s_session_drop(self, s, "refused");
}

static void
s_refuse(stager_t *self, session_t *s, const char *reason)
{
    s_refuse_as(self, s, false, reason);
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

static uint64_t
s_sub(uint64_t a, uint64_t b)
{
    return a > b ? a - b : 0;
}

static uint64_t
s_min(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* The oldest open session: it may take any space there is (docs/staging.md, "Credit"). */
static session_t *
s_head(stager_t *self)
{
    session_t *head = NULL;
    for (session_t *s = zhashx_first(self->sessions); s; s = zhashx_next(self->sessions))
        if (!s->closing && (!head || s->seq < head->seq))
            head = s;
    return head;
}

static void
s_space(stager_t *self, space_t *sp)
{
    memset(sp, 0, sizeof *sp);
    uint64_t granted = 0, received = 0;
    for (session_t *s = zhashx_first(self->sessions); s; s = zhashx_next(self->sessions)) {
        if (s->closing)
            continue;
        sp->sessions++;
        /* a sidecar received is on the disk like data received with credit */
        granted += s->granted + s->rows_size;
        received += s->received + s->rows_size;
        if (s->admitted)
            sp->reserved += s->reserve > s->granted ? s->reserve : s->granted;
    }
    sp->ready = holding_ready_bytes(self->holding);
    sp->ready_count = holding_ready_count(self->holding);
    sp->disk_free = holding_disk_free(self->holding);
    uint64_t disk_size = holding_disk_size(self->holding);
    sp->usable = disk_size ? s_min(self->capacity, s_sub(disk_size, S_DISK_MARGIN)) : self->capacity;
    uint64_t free_for_us = s_sub(sp->disk_free, S_DISK_MARGIN);
    sp->room = s_min(self->capacity, sp->ready + received + free_for_us);
    uint64_t by_capacity = s_sub(self->capacity, sp->ready + granted);
    uint64_t by_disk = s_sub(free_for_us, granted - received);
    sp->physical = s_min(by_capacity, by_disk);
    sp->fs_limited = by_disk < by_capacity;
}

/* s_space and the ready archives the tape writer will not free (for the rules and texts that
   need them, not for every grant). */
static void
s_space_unfreed(stager_t *self, space_t *sp)
{
    s_space(self, sp);
    holding_unfreed(self->holding, &sp->parked, &sp->replica);
}

/* Admission: a session gets its first credit when every older one has been admitted and its
   reservation fits beside theirs in the space the sessions can ever have; the head always. */
static bool
s_admit(stager_t *self, session_t *s, const space_t *sp)
{
    if (s->admitted)
        return true;
    uint64_t reserve = s_min(s->expected, sp->usable);
    if (s != s_head(self)) {
        for (session_t *o = zhashx_first(self->sessions); o; o = zhashx_next(self->sessions))
            if (!o->closing && !o->admitted && o->seq < s->seq)
                return false;  /* first come, first served: a big archive is not overtaken forever */
        if (sp->reserved + reserve > sp->room)
            return false;
    }
    s->admitted = true;
    s->reserve = reserve;
    return true;
}

/* Tops up a session's credit: within its reservation, plus space nobody has reserved; the
   head takes whatever space there is. Never more than could ever fit (usable). */
static void
s_grant(stager_t *self, session_t *s)
{
    if (s->closing)
        return;
    uint64_t outstanding = s->granted - s->received;
    if (outstanding * 2 > self->window)
        return;
    space_t sp;
    s_space(self, &sp);
    uint64_t grant = 0;
    if (s_admit(self, s, &sp)) {
        grant = s_min(self->window - outstanding, sp.physical);
        if (s != s_head(self)) {
            uint64_t own = s_sub(s->reserve, s->granted);
            grant = s_min(grant, own + s_sub(sp.room, sp.reserved));
        }
        grant = s_min(grant, s_sub(sp.usable, s->granted));
    }
    if (grant == 0) {
        if (outstanding == 0 && s->waiting_since == 0)
            s->waiting_since = tf_clock_mono_ms();
        return;
    }
    if (s->waiting_since)
        s->last_heard = tf_clock_mono_ms();  /* its silence while it had no credit was ours */
    s->waiting_since = 0;
    s->granted += grant;
    s_credit(self, s, grant);
}

static void
s_grant_all(stager_t *self)
{
    /* Oldest first, so the head is served before younger sessions take what is left; a
       grant may drop a session (compressor gone), so each round looks the sessions up again. */
    zhashx_t *served = zhashx_new();
    if (!served)
        return;
    for (;;) {
        session_t *next = NULL;
        for (session_t *s = zhashx_first(self->sessions); s; s = zhashx_next(self->sessions))
            if (!zhashx_lookup(served, s->archive_id) && (!next || s->seq < next->seq))
                next = s;
        if (!next)
            break;
        zhashx_insert(served, next->archive_id, (void *) 1);
        s_grant(self, next);  /* may drop the session */
    }
    zhashx_destroy(&served);
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
    const holding_meta_t *staged = holding_lookup(self->holding, id);
    if (staged) {
        if (*staged->parked)
            s_unpark(self, id, "its file group runs again");
        s_result(self, peer, id, true, "already staged");
        return;
    }
    if (open->replicas && !s_replicas_valid(open->replicas)) {
        s_result(self, peer, id, false, "archive %s: stage_open names replication targets '%s' that are not a "
                 "comma list of target names (at most %d characters, none named 'tape'): start the job again "
                 "with tapeflow backup", id, open->replicas, TF_MSG_MAX_PATH);
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
    s->rows_fd = -1;
    s->archive_id = strdup(id);
    s->job_id = strdup(open->job_id);
    s->pool = strdup(open->pool ? open->pool : "");
    s->host = open->host && *open->host ? strdup(open->host) : NULL;
    /* The job's replication as tf_job_start decided it, carried here by the scanner and the
       compressor: the stager never reads the configuration for it. An older compressor sends
       none: the archive is not replicated, as before issue 12. */
    s->restore = open->purpose && strcmp(open->purpose, "restore") == 0;
    s->replicas = strdup(open->replicas && !s->restore ? open->replicas : "");
    s->replica_required = s->replicas && *s->replicas && !(open->replication && streq(open->replication, "optional"));
    s->compression = strdup(open->compression ? open->compression : "");
    s->group_no = open->group_no;
    s->peer = zframe_dup(peer);
    s->sum = tf_checksum_new();
    s->rows_sum = tf_checksum_new();
    s->last_heard = s->last_sent = tf_clock_mono_ms();
    s->seq = ++self->next_seq;
    s->expected = open->expected_size;
    tf_err_t err = {0};
    if (!s->archive_id || !s->job_id || !s->pool || !s->compression || !s->peer || !s->sum || !s->rows_sum
        || !s->replicas) {
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
    char size[32];
    tf_log_info("archive %s: receiving (job %s, group %" PRIu64 ", up to %s expected)", id, s->job_id, s->group_no,
                s->expected ? tf_units_bytes(s->expected, size, sizeof size) : "an unknown size");
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

/* Writes size bytes at offset; 0 or the errno of the failure (ENOSPC for a short write). */
static int
s_write_at(int fd, const uint8_t *data, size_t size, uint64_t offset)
{
    size_t done = 0;
    while (done < size) {
        ssize_t n = pwrite(fd, data + done, size - done, (off_t) (offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? errno : ENOSPC;
        done += (size_t) n;
    }
    return 0;
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
    int e = s_write_at(s->fd, data->data.data, data->data.size, s->received);
    if (e != 0) {
        snprintf(why, sizeof why, "cannot write to the holding disk %s: %s", holding_dir(self->holding),
                 strerror(e));
        s_refuse(self, s, why);
        return;
    }
    tf_checksum_update(s->sum, data->data.data, data->data.size);
    s->received += data->data.size;
    s_grant(self, s);
}

/* A part of the archive's file rows: appended to its sidecar tmp/<archive>.rows as one record
   (tf_sidecar.h). Not counted against credit - the compressor holds the rows anyway and a
   part is bounded - but counted as holding-disk space the session uses. */
static void
s_on_rows(stager_t *self, zframe_t *peer, tf_msg_stage_rows_t *rows)
{
    session_t *s = s_session_of(self, peer, rows->archive_id);
    if (!s)
        return;
    char why[512];
    if (rows->part != s->rows_parts + 1) {
        snprintf(why, sizeof why, "file rows out of order: expected part %" PRIu64 ", got %" PRIu64,
                 s->rows_parts + 1, rows->part);
        s_refuse(self, s, why);
        return;
    }
    tf_err_t err = {0};
    if (s->rows_fd < 0 && holding_rows_open(self->holding, s->archive_id, &s->rows_fd, &err) != TF_OK) {
        s_refuse(self, s, err.message);
        return;
    }
    uint8_t *record = NULL;
    size_t size = 0;
    if (tf_sidecar_record(rows, &record, &size, &err) != TF_OK) {
        s_refuse(self, s, err.message);
        return;
    }
    int e = s_write_at(s->rows_fd, record, size, s->rows_size);
    if (e == 0)
        tf_checksum_update(s->rows_sum, record, size);
    free(record);
    if (e != 0) {
        snprintf(why, sizeof why, "cannot write the file rows to the holding disk %s: %s",
                 holding_dir(self->holding), strerror(e));
        s_refuse(self, s, why);
        return;
    }
    s->rows_size += size;
    s->rows_parts++;
    s->rows_count += rows->files_count;
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
    if (close_msg->rows_parts != s->rows_parts) {
        snprintf(why, sizeof why, "file rows incomplete: received %" PRIu64 " parts, the compressor says %" PRIu64,
                 s->rows_parts, close_msg->rows_parts);
        s_refuse(self, s, why);
        return;
    }
    if (s->rows_parts > 0 && s->rows_count != close_msg->files) {
        snprintf(why, sizeof why, "file rows mismatch: received %" PRIu64 " rows for an archive of %" PRIu64
                 " entries", s->rows_count, close_msg->files);
        s_refuse(self, s, why);
        return;
    }
    /* No parts: a compressor from before sidecars; the archive is kept without one. */
    char rows_digest[TF_CHECKSUM_STRLEN] = "";
    const char *replicas = s->replicas;
    bool required = s->replica_required;
    if (s->rows_parts > 0)
        tf_checksum_format(s->rows_sum, rows_digest);
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
        .rows_size = s->rows_size,
        .rows_checksum = rows_digest,
        .restore = s->restore,
        .host = s->host,
        .replicas = (char *) replicas,
        .replica_required = required,
        .confirmed = "",
    };
    tf_err_t err = {0};
    int fd = s->fd, rows_fd = s->rows_fd;
    s->fd = s->rows_fd = -1;
    if (holding_commit(self->holding, &meta, fd, rows_fd, &err) != TF_OK) {
        s_refuse(self, s, err.message);
        return;
    }
    s->closing = true;
    if (s->restore) {
        /* The tape writer hands it to the extractor of its host itself: nothing to announce. */
        tf_log_info("restore stream %s: verified (%" PRIu64 " bytes, %s), kept until its release", s->archive_id,
                    s->received, digest);
        s_result(self, s->peer, s->archive_id, true, "staged");
        s_session_drop(self, s, "staged");
        s_grant_all(self);
        return;
    }
    if (*replicas)
        tf_log_info("archive %s: verified and ready (%" PRIu64 " bytes, %s), for tape and replica%s %s (%s)",
                    s->archive_id, s->received, digest, strchr(replicas, ',') ? "s" : "", replicas,
                    required ? "required" : "optional");
    else
        tf_log_info("archive %s: verified and ready (%" PRIu64 " bytes, %s)", s->archive_id, s->received, digest);
    s_announce(self, holding_lookup(self->holding, s->archive_id));
    s_grant_all(self);  /* its unused credit is free again */
}

static void
s_on_fetch(stager_t *self, zframe_t *peer, tf_msg_fetch_t *fetch)
{
    tf_msg_t msg = {.type = TF_MSG_FETCH_DATA};
    msg.fetch_data.archive_id = fetch->archive_id;
    msg.fetch_data.offset = fetch->offset;
    msg.fetch_data.data = (tf_bytes_t){self->fetch_buf, 0};
    msg.fetch_data.rows = fetch->rows;
    size_t want = fetch->length < S_FETCH_MAX ? (size_t) fetch->length : S_FETCH_MAX;
    tf_err_t err = {0};
    const holding_meta_t *meta = holding_lookup(self->holding, fetch->archive_id);
    size_t got = 0;
    if (meta && *meta->parked && fetch->offset == 0)
        s_unpark(self, fetch->archive_id, "the tape writer reads it (its job was retried)");
    if (!tf_id_safe_name(fetch->archive_id) || !meta)
        msg.fetch_data.error = "archive is not staged here";
    else if (fetch->rows) {
        /* the sidecar: read before the data, it does not mark the archive in use */
        if (holding_read_rows(self->holding, fetch->archive_id, fetch->offset, self->fetch_buf, want, &got, &err)
            != TF_OK)
            msg.fetch_data.error = err.message;
        else {
            msg.fetch_data.data.size = got;
            msg.fetch_data.eof = fetch->offset + got == meta->rows_size;
        }
    }
    else if (holding_read(self->holding, fetch->archive_id, fetch->offset, self->fetch_buf, want, &got, &err)
             != TF_OK)
        msg.fetch_data.error = err.message;
    else {
        msg.fetch_data.data.size = got;
        msg.fetch_data.eof = fetch->offset + got == meta->size;
        /* a read in progress (not at its end yet) marks the archive in use for a purge */
        int64_t *when = zhashx_lookup(self->fetched, fetch->archive_id);
        if (msg.fetch_data.eof)
            zhashx_delete(self->fetched, fetch->archive_id);
        else {
            if (!when && (when = malloc(sizeof *when))
                && zhashx_insert(self->fetched, fetch->archive_id, when) != 0) {
                free(when);
                when = NULL;
            }
            if (when)
                *when = tf_clock_mono_ms();
        }
    }
    if (msg.fetch_data.error)
        tf_log_warn("fetch of %s%s at %" PRIu64 ": %s", fetch->archive_id, fetch->rows ? " (file rows)" : "",
                    fetch->offset, msg.fetch_data.error);
    s_send(self, peer, &msg);
}

/* The host a trusted key stands for (keys trust --host, default its NAME): an extractor's key
   may fetch the restore streams of that host only. */
static const char *
s_key_host(const tf_key_t *key)
{
    return key->host[0] ? key->host : key->name;
}

/* What msg asks of the stager and the roles that may ask it (admin may do everything). */
static uint32_t
s_needed_roles(stager_t *self, const tf_key_t *key, const tf_msg_t *msg, const char **id_p, char *what,
               size_t size)
{
    const char *id = NULL;
    bool restore = false;
    switch (msg->type) {
    case TF_MSG_STAGE_OPEN:
        id = msg->stage_open.archive_id;
        restore = msg->stage_open.purpose && strcmp(msg->stage_open.purpose, "restore") == 0;
        break;
    case TF_MSG_STAGE_DATA: id = msg->stage_data.archive_id; break;
    case TF_MSG_STAGE_ROWS: id = msg->stage_rows.archive_id; break;
    case TF_MSG_STAGE_CLOSE: id = msg->stage_close.archive_id; break;
    case TF_MSG_FETCH: {
        id = msg->fetch.archive_id;
        const holding_meta_t *m = holding_lookup(self->holding, id ? id : "");
        if (m && m->restore) {
            snprintf(what, size, "fetch restore stream %s of host %s", id, *m->host ? m->host : "?");
            /* the tape writer that wrote it, or the extractor of the host it is for */
            return TF_ROLE_TAPE | (*m->host && strcmp(s_key_host(key), m->host) == 0 ? TF_ROLE_EXTRACT : 0);
        }
        snprintf(what, size, "fetch archive %s", id ? id : "?");
        return TF_ROLE_TAPE | TF_ROLE_REPLICATE;  /* the tape writer and the replicator copy it */
    }
    default:
        snprintf(what, size, "send %s", tf_msg_type_name(msg->type));
        return TF_ROLE_SERVICES;  /* answered "not handled" to any service */
    }
    if (msg->type != TF_MSG_STAGE_OPEN) {
        session_t *s = zhashx_lookup(self->sessions, id ? id : "");
        restore = s && s->restore;
    }
    *id_p = id;
    snprintf(what, size, "stage %s %s", restore ? "restore stream" : "archive", id ? id : "?");
    return restore ? TF_ROLE_TAPE : TF_ROLE_COMPRESS;
}

/* Over tcp: the sender's key may send msg. Compressors stage backup archives, tape writers
   stage restore streams and fetch archives, an extractor fetches the restore streams of its
   own host. A refusal is answered, logged and published (alert.security); ipc peers are local
   and trusted. */
static bool
s_allowed(stager_t *self, zframe_t *peer, const tf_msg_t *msg)
{
    const char *public_key = tf_secure_peer_public_key(peer);
    if (!public_key)
        return true;
    const tf_key_t *key = self->keys ? tf_keys_lookup(self->keys, public_key) : NULL;
    char what[TF_MSG_MAX_ID + 96] = "";
    char why[TF_ERR_MESSAGE_MAX];
    const char *staged = NULL;  /* the archive of a stage_* message: refused with a stage_result */
    if (!key)
        snprintf(why, sizeof why, "key '%s' (%s) is no longer trusted here: tapeflow keys trust it again, or stop "
                 "that peer", tf_secure_peer_key(peer) ? tf_secure_peer_key(peer) : "?", public_key);
    else {
        uint32_t needed = s_needed_roles(self, key, msg, &staged, what, sizeof what);
        if (key->roles & (needed | TF_ROLE_ADMIN))
            return true;
        char has[128], wants[128];
        snprintf(why, sizeof why, "key '%s' (roles %s) may not %s: that needs the role%s %s (tapeflow keys trust "
                 "%s KEY --role ...)", key->name, tf_keys_roles_text(key->roles, has, sizeof has), what,
                 __builtin_popcount(needed) > 1 ? " (one of)" : "", tf_keys_roles_text(needed, wants, sizeof wants),
                 key->name);
    }
    self->denied++;
    tf_log_warn("security: stager refused %s: %s", tf_msg_type_name(msg->type), why);
    if (self->actor && tf_actor_events(self->actor))
        tf_publisher_say(tf_actor_events(self->actor), "alert.security", "warn", "stager refused %s: %s",
                         tf_msg_type_name(msg->type), why);
    if (msg->type == TF_MSG_FETCH) {
        tf_msg_t reply = {.type = TF_MSG_FETCH_DATA};
        reply.fetch_data = (tf_msg_fetch_data_t){.archive_id = msg->fetch.archive_id, .offset = msg->fetch.offset,
                                                 .rows = msg->fetch.rows, .error = why};
        s_send(self, peer, &reply);
    }
    else if (staged)
        s_send_result(self, peer, staged, false, true, why);  /* for good: this key never may */
    else {
        tf_msg_t reply = {.type = TF_MSG_ERROR};
        reply.error = (tf_msg_error_t){.code = TF_ERR_INVALID, .message = why};
        s_send(self, peer, &reply);
    }
    return false;
}

uint64_t
stager_denied(const stager_t *self)
{
    return self->denied;
}

/* Handles one message from the router, waiting up to wait_ms for it; false when none came. */
static bool
s_on_router(stager_t *self, int wait_ms)
{
    zframe_t *peer = NULL;
    tf_msg_t msg;
    tf_err_t err = {0};
    zsock_set_rcvtimeo(self->router, wait_ms);
    int rc = tf_wire_recv(self->router, &peer, &msg, &err);
    if (rc != TF_OK) {
        if (rc == TF_ERR_PROTO && peer) {
            tf_log_warn("malformed message on the stager socket: %s", err.message);
            tf_msg_t reply = {.type = TF_MSG_ERROR};
            reply.error = (tf_msg_error_t){.code = TF_ERR_PROTO, .message = err.message};
            s_send(self, peer, &reply);
        }
        zframe_destroy(&peer);
        return rc == TF_ERR_PROTO;
    }
    if (!s_allowed(self, peer, &msg)) {
        tf_msg_clear(&msg);
        zframe_destroy(&peer);
        return true;
    }
    switch (msg.type) {
    case TF_MSG_STAGE_OPEN: s_on_open(self, peer, &msg.stage_open); break;
    case TF_MSG_STAGE_DATA: s_on_data(self, peer, &msg.stage_data); break;
    case TF_MSG_STAGE_ROWS: s_on_rows(self, peer, &msg.stage_rows); break;
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
    return true;
}

/* ------------------------------------------------------------------ tape queue & release */

/* A parked archive is wanted again (retried job): it is live, and its tape item exists or is
   created again. */
static void
s_unpark(stager_t *self, const char *archive_id, const char *why)
{
    const holding_meta_t *m = holding_lookup(self->holding, archive_id);
    if (!m || !*m->parked || streq(m->parked, S_PURGED))
        return;  /* a purged one waits only for its write to end */
    tf_err_t err = {0};
    if (holding_park(self->holding, archive_id, "", &err) != TF_OK) {
        tf_log_warn("archive %s: cannot clear its parked mark: %s", archive_id, err.message);
        return;
    }
    tf_log_info("archive %s: no longer parked (%s)", archive_id, why);
    s_announce(self, m);
}

/* What the tape writer and the replicator are told about a ready archive: the one place its
   .meta becomes a message (archive_ready; s_announce builds replica_copy from it). The strings
   point into m. */
static tf_msg_archive_ready_t
s_ready_of(stager_t *self, const holding_meta_t *m)
{
    return (tf_msg_archive_ready_t){
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
        .rows_size = m->rows_size,
        .rows_checksum = m->rows_size ? m->rows_checksum : NULL,
        .stager_key = self->public_key[0] ? self->public_key : NULL,
        .host = *m->host ? m->host : NULL,
    };
}

/* "<archive>-replica-<target>": the replicator's item for one copy. */
static void
s_replica_item(char *buf, size_t size, const char *archive_id, const char *target)
{
    char suffix[TF_MSG_MAX_ID + 16];
    snprintf(suffix, sizeof suffix, "-replica-%s", target);
    tf_id_join(buf, size, archive_id, suffix);
}

/* Queues what a ready archive still waits for: a replica_copy item (service replicate, item
   <archive>-replica-<target>) for each target that has not confirmed it, then archive_ready
   (item <archive>-tape) unless the tape has. The announcer submits them in this order, so once
   archive_ready is acknowledged the replica items were taken too. Item ids are fixed: a repeat
   (restart, unpark) is the same item. */
static void
s_announce(stager_t *self, const holding_meta_t *m)
{
    if (!m || m->restore)
        return;  /* a restore stream is the extractor's, never the tape's */
    tf_err_t err = {0};
    tf_msg_archive_ready_t ready = s_ready_of(self, m);
    char target[TF_MSG_MAX_ID + 1];
    for (const char *p = m->replicas; tf_id_list_next(&p, target, sizeof target);) {
        if (!*target || holding_confirmed(m, target))
            continue;
        tf_msg_t copy = {.type = TF_MSG_REPLICA_COPY};
        copy.replica_copy = (tf_msg_replica_copy_t){
            .archive_id = ready.archive_id, .job_id = ready.job_id, .group_no = ready.group_no,
            .pool = ready.pool, .target = target, .required = m->replica_required,
            .compression = ready.compression, .size = ready.size, .checksum = ready.checksum,
            .files = ready.files, .bytes = ready.bytes, .stager = ready.stager, .rows_size = ready.rows_size,
            .rows_checksum = ready.rows_checksum, .stager_key = ready.stager_key, .host = ready.host,
        };
        char item_id[TF_ID_MAX];
        s_replica_item(item_id, sizeof item_id, m->archive_id, target);
        if (announcer_submit(self->announcer, "replicate", item_id, m->job_id, &copy, &err) != TF_OK)
            tf_log_error("archive %s: %s", m->archive_id, err.message);
        /* On tape already, nothing acknowledges this archive: ask how its copy went, so a
           copy done meanwhile confirms it and a failed one parks it (s_replica_ack). */
        else if (holding_confirmed(m, HOLDING_TAPE)
                 && announcer_probe(self->announcer, m->archive_id, item_id, &err) != TF_OK)
            tf_log_warn("archive %s: %s", m->archive_id, err.message);
    }
    if (holding_confirmed(m, HOLDING_TAPE))
        return;
    if (announcer_send(self->announcer, &ready, &err) != TF_OK)
        tf_log_error("archive %s: %s (it is announced at the next start)", m->archive_id, err.message);
}

/* At start: every ready archive goes to the tape queue again (the broker answers a repeat with
   the existing item), except parked ones - their job was cancelled or failed, and their item
   may be gone from the broker's journal (broker/keep_done): announced, they would be written. */
static void
s_announce_all(stager_t *self)
{
    zlist_t *ids = holding_ready_ids(self->holding);
    size_t announced = 0, parked = 0;
    for (const char *id = ids ? zlist_first(ids) : NULL; id; id = zlist_next(ids)) {
        const holding_meta_t *m = holding_lookup(self->holding, id);
        if (streq(m->parked, S_PURGED)) {
            tf_err_t err = {0};
            if (holding_remove(self->holding, id, &err) == TF_OK)
                tf_log_info("archive %s: purged with its job %s (kept for a tape writer that read it)", id, m->job_id);
            else
                tf_log_warn("archive %s: %s", id, err.message);
            continue;
        }
        if (m->restore) {
            tf_log_info("restore stream %s of job %s: kept for its extractor until released ('tapeflow job purge "
                        "%s' deletes it)", id, m->job_id, m->job_id);
            continue;
        }
        if (*m->parked) {
            tf_log_info("archive %s: parked (its job %s is %s): not queued for tape; 'tapeflow job retry %s' "
                        "writes it, 'tapeflow job purge %s' deletes it", id, m->job_id, m->parked, m->job_id,
                        m->job_id);
            parked++;
            continue;
        }
        s_announce(self, m);
        announced++;
    }
    if (announced > 0)
        tf_log_info("announcing %zu ready archive(s) again to the tape queue and to their replicas' "
                    "(what each still waits for)", announced);
    if (parked > 0)
        tf_log_info("%zu parked archive(s) of cancelled or failed jobs stay on the holding disk", parked);
    zlist_destroy(&ids);
}

/* Marks a ready archive parked: its job was cancelled or its tape item failed. */
static void
s_park(stager_t *self, const char *archive_id, const char *state)
{
    const holding_meta_t *m = holding_lookup(self->holding, archive_id);
    if (!m || streq(m->parked, state))
        return;
    tf_err_t err = {0};
    if (holding_park(self->holding, archive_id, state, &err) != TF_OK) {
        tf_log_warn("archive %s: cannot mark it parked: %s", archive_id, err.message);
        return;
    }
    tf_log_info("archive %s: its job %s is %s: parked on the holding disk until 'tapeflow job retry %s' or "
                "'tapeflow job purge %s'", archive_id, m->job_id, state, m->job_id, m->job_id);
}

/* who (HOLDING_TAPE "@tape" or a replication target; what names it in the log) confirmed a ready archive:
   the confirmation goes to its .meta (atomically, before anything is deleted), then the
   archive is deleted once the tape and every target its .meta lists have confirmed it;
   *deleted says whether it was. An archive without replicas is deleted by the tape's
   confirmation alone, as before replication; one purged while read is deleted by any. */
static int
s_confirm(stager_t *self, const char *id, const char *who, const char *what, bool *deleted, tf_err_t *err)
{
    *deleted = false;
    const holding_meta_t *m = holding_lookup(self->holding, id);
    if (!m)
        return TF_OK;
    bool purged = streq(m->parked, S_PURGED);
    if (!purged && *m->replicas) {
        int rc = holding_confirm(self->holding, id, who, err);
        if (rc != TF_OK)
            return tf_err_prefix(err, "archive %s: cannot record its confirmation by %s: ", id, what);
    }
    char waiting[TF_MSG_MAX_PATH + 1];
    size_t replicas = holding_replicas_waiting(m, waiting, sizeof waiting);
    bool tape = holding_confirmed(m, HOLDING_TAPE) || streq(who, HOLDING_TAPE);
    if (!purged && (replicas > 0 || !tape)) {
        tf_log_info("archive %s: confirmed by %s; kept for %s%s%s%s", id, what, tape ? "" : "tape",
                    !tape && replicas ? " and " : "", replicas ? (replicas > 1 ? "replicas " : "replica ") : "",
                    waiting);
        return TF_OK;
    }
    int rc = holding_remove(self->holding, id, err);
    if (rc != TF_OK)
        return rc;
    zhashx_delete(self->fetched, id);
    *deleted = true;
    return TF_OK;
}

/* The target of a replica item id of archive_id ("<archive>-replica-<target>"), or NULL when
   item_id is another of its items (the tape's). */
static const char *
s_replica_target_of(const char *archive_id, const char *item_id)
{
    size_t len = strlen(archive_id);
    if (strncmp(item_id, archive_id, len) != 0 || strncmp(item_id + len, "-replica-", 9) != 0)
        return NULL;
    return item_id[len + 9] ? item_id + len + 9 : NULL;
}

/* The tape's item of a ready archive is done: the tape confirmed it. An archive staged again
   after a full release (a redelivered file group) had every confirmation then, but its .meta is
   new: ask the broker about its replica items too - a done one confirms its target (the extra
   copy goes once all did), a failed or cancelled one parks it like a tape item would. */
static void
s_tape_done(stager_t *self, const char *archive_id)
{
    tf_err_t err = {0};
    bool deleted = false;
    if (s_confirm(self, archive_id, HOLDING_TAPE, "tape (its tape item is done)", &deleted, &err) != TF_OK) {
        tf_log_warn("archive %s: %s", archive_id, err.message);
        return;
    }
    if (deleted) {
        tf_log_info("archive %s: already on tape; deleted the extra staged copy", archive_id);
        return;
    }
    const holding_meta_t *m = holding_lookup(self->holding, archive_id);
    if (!m)
        return;
    char target[TF_MSG_MAX_ID + 1];
    for (const char *p = m->replicas; tf_id_list_next(&p, target, sizeof target);) {
        char item_id[TF_ID_MAX];
        s_replica_item(item_id, sizeof item_id, archive_id, target);
        if (*target && !holding_confirmed(m, target) && announcer_probe(self->announcer, archive_id, item_id, &err) != TF_OK)
            tf_log_warn("archive %s: %s", archive_id, err.message);
    }
}

/* One of a ready archive's replica items answered (submitted again, or probed). */
static void
s_replica_ack(stager_t *self, const announcer_ack_t *ack, const char *target)
{
    const holding_meta_t *m = holding_lookup(self->holding, ack->archive_id);
    if (!m || !holding_list_has(m->replicas, target))
        return;
    if (ack->existed && streq(ack->state, "done")) {
        /* the replicator copied, verified and released it before: this copy is an extra one */
        tf_err_t err = {0};
        bool deleted = false;
        char what[TF_MSG_MAX_ID + 64];
        snprintf(what, sizeof what, "replica %s (its replica item is done)", target);
        if (s_confirm(self, ack->archive_id, target, what, &deleted, &err) != TF_OK)
            tf_log_warn("archive %s: %s", ack->archive_id, err.message);
        else if (deleted)
            tf_log_info("archive %s: already on tape and on its replicas; deleted the extra staged copy",
                        ack->archive_id);
    }
    else if (streq(ack->state, "cancelled") || streq(ack->state, "failed"))
        s_park(self, ack->archive_id, ack->state);
}

static void
s_on_ack(stager_t *self)
{
    announcer_ack_t ack;
    if (announcer_recv(self->announcer, &ack, NULL) != TF_OK)
        return;
    const char *target = s_replica_target_of(ack.archive_id, ack.item_id);
    if (target) {
        /* a probe's answer: no session waits for it (only archive_ready's answer ends one) */
        s_replica_ack(self, &ack, target);
        s_grant_all(self);
        return;
    }
    if (ack.existed && streq(ack.state, "done") && holding_lookup(self->holding, ack.archive_id))
        /* The tape writer completed this archive's item already (written, verified, in the
           catalog, release sent): this copy was staged again by a redelivered file group - or,
           with replicas, the tape's release is still on its way: either way the tape confirmed
           it, and only replicas that have not may keep it. */
        s_tape_done(self, ack.archive_id);
    else if ((streq(ack.state, "cancelled") || streq(ack.state, "failed"))
             && holding_lookup(self->holding, ack.archive_id))
        s_park(self, ack.archive_id, ack.state);
    else if ((streq(ack.state, "queued") || streq(ack.state, "inflight"))
             && holding_lookup(self->holding, ack.archive_id)
             && *holding_lookup(self->holding, ack.archive_id)->parked)
        s_unpark(self, ack.archive_id, "its tape item was queued again");
    else if (!*ack.state)
        ;  /* a probe of an item the broker does not know: nothing learned */
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
static int
s_on_stage_purge(tf_actor_t *actor, const tf_msg_work_t *work, const tf_msg_t *payload, void *arg,
                 tf_err_t *err)
{
    stager_t *self = arg;
    const tf_msg_stage_purge_t *purge = &payload->stage_purge;
    tf_msg_t result = {.type = TF_MSG_STAGE_PURGE_RESULT};
    result.stage_purge_result.job_id = purge->job_id;
    s_purge_list_t list = {.result = &result.stage_purge_result};
    tf_msg_stage_purge_result_t in_use_result = {0};  /* its bytes are counted in result already */
    s_purge_list_t in_use_list = {.result = &in_use_result};
    int rc = TF_OK;
    zlist_t *ids = holding_ready_ids(self->holding);
    for (const char *id = ids ? zlist_first(ids) : NULL; id && rc == TF_OK; id = zlist_next(ids)) {
        const holding_meta_t *m = holding_lookup(self->holding, id);
        if (!m || strcmp(m->job_id, purge->job_id) != 0)
            continue;
        uint64_t meta_size = s_file_size(self, "ready", id, ".meta");
        rc = s_purge_add(&list, "ready", id, ".data", m->size);
        if (rc == TF_OK && m->rows_size > 0)
            rc = s_purge_add(&list, "ready", id, ".rows", m->rows_size);
        if (rc == TF_OK)
            rc = s_purge_add(&list, "ready", id, ".meta", meta_size);
        if (rc == TF_OK)
            list.result->archives++;
        if (rc == TF_OK && purge->dry_run && !*m->parked) {
            /* 'job cancel --keep-staged' lists what it keeps: learn whether its tape item was
               cancelled, so the archive is parked before the broker forgets the item */
            tf_err_t perr = {0};
            if (announcer_probe(self->announcer, id, NULL, &perr) != TF_OK)
                tf_log_warn("archive %s: %s", id, perr.message);
        }
        int64_t *fetched = zhashx_lookup(self->fetched, id);
        bool in_use = fetched && tf_clock_mono_ms() - *fetched < self->in_use_ms;
        if (rc == TF_OK && in_use)
            rc = s_purge_add(&in_use_list, "ready", id, ".data", 0);
        if (rc == TF_OK && !purge->dry_run && in_use) {
            /* a tape writer may be reading it right now: deleted after its write */
            rc = holding_park(self->holding, id, S_PURGED, err);
            if (rc == TF_OK)
                tf_log_info("archive %s: in use by a tape writer; deleted with its job %s after its write", id,
                            purge->job_id);
        }
        else if (rc == TF_OK && !purge->dry_run) {
            rc = holding_remove(self->holding, id, err);
            if (rc == TF_OK) {
                zhashx_delete(self->fetched, id);
                tf_log_info("archive %s: purged with its job %s", id, purge->job_id);
            }
        }
    }
    zlist_destroy(&ids);
    zlistx_t *open = rc == TF_OK ? zhashx_keys(self->sessions) : NULL;
    for (char *id = open ? zlistx_first(open) : NULL; id && rc == TF_OK; id = zlistx_next(open)) {
        session_t *s = zhashx_lookup(self->sessions, id);
        if (!s || s->closing || !s->job_id || strcmp(s->job_id, purge->job_id) != 0)
            continue;
        rc = s_purge_add(&list, "tmp", id, ".part", s->received);
        if (rc == TF_OK && s->rows_size > 0)
            rc = s_purge_add(&list, "tmp", id, ".rows", s->rows_size);
        if (rc == TF_OK && !purge->dry_run) {
            tf_log_info("archive %s: partial file purged with its job %s", id, purge->job_id);
            s_refuse(self, s, "its job was purged from the holding disk (tapeflow job purge)");
        }
    }
    zlistx_destroy(&open);
    if (rc == TF_ERR_NOMEM)
        tf_err_set(err, rc, "out of memory listing the job's files");
    list.result->files = list.rows;
    list.result->files_count = list.count;
    list.result->in_use = in_use_list.rows;
    list.result->in_use_count = in_use_list.count;
    if (rc == TF_OK)
        rc = tf_actor_set_result_msg(actor, &result, err);
    for (size_t i = 0; i < list.count; i++)
        free(list.rows[i].path);
    free(list.rows);
    for (size_t i = 0; i < in_use_list.count; i++)
        free(in_use_list.rows[i].path);
    free(in_use_list.rows);
    return rc;
}

/* Archives purged while a tape writer read them: deleted once nobody fetched them for
   in_use_ms (their write ended or was abandoned; a release deletes them earlier). */
static void
s_purge_deferred(stager_t *self, int64_t now)
{
    zlist_t *ids = holding_ready_ids(self->holding);
    for (const char *id = ids ? zlist_first(ids) : NULL; id; id = zlist_next(ids)) {
        const holding_meta_t *m = holding_lookup(self->holding, id);
        int64_t *fetched = zhashx_lookup(self->fetched, id);
        if (!m || !streq(m->parked, S_PURGED) || (fetched && now - *fetched < self->in_use_ms))
            continue;
        char job[TF_MSG_MAX_ID + 1];
        snprintf(job, sizeof job, "%s", m->job_id);
        tf_err_t err = {0};
        if (holding_remove(self->holding, id, &err) == TF_OK) {
            zhashx_delete(self->fetched, id);
            tf_log_info("archive %s: no longer read by a tape writer; purged with its job %s", id, job);
        }
        else
            tf_log_warn("archive %s: %s", id, err.message);
    }
    zlist_destroy(&ids);
}

/* archive_release: one holder confirmed the archive - the tape writer (replica NULL: on tape
   and in the catalog) or a replication target (a verified copy, or gave_up: an optional
   target failed for good). The space is free again once nothing else waits for it. */
static int
s_on_archive_release(tf_actor_t *actor, const tf_msg_work_t *work, const tf_msg_t *payload, void *arg,
                     tf_err_t *err)
{
    stager_t *self = arg;
    const tf_msg_archive_release_t *release = &payload->archive_release;
    const char *id = release->archive_id;
    const char *target = release->replica && *release->replica ? release->replica : NULL;
    if (!tf_id_safe_name(id))
        return tf_err_set(err, TF_ERR_INVALID, "archive id '%s' is not valid", id ? id : "");
    const holding_meta_t *m = holding_lookup(self->holding, id);
    if (!m) {
        /* a repeated release, or one for an archive already deleted: nothing waits for it */
        tf_log_info("archive %s: released by %s%s; not staged here (already deleted)", id,
                    target ? "replica " : "tape", target ? target : "");
        return target ? TF_OK : holding_remove(self->holding, id, err);
    }
    char what[TF_MSG_MAX_ID + 64];
    if (target) {
        if (!holding_list_has(m->replicas, target)) {
            tf_log_warn("archive %s: release by replica %s ignored: its .meta lists %s%s (the replication targets "
                        "of pool %s when it was staged)", id, target, *m->replicas ? "only the replicas " : "no replicas",
                        m->replicas, m->pool);
            return TF_OK;
        }
        if (release->gave_up && m->replica_required) {
            tf_log_warn("archive %s: replica %s gave up, but replication is required for pool %s: not confirmed; "
                        "the archive stays until a verified copy on %s confirms it ('tapeflow job %s' says why the "
                        "copy failed)", id, target, m->pool, target, m->job_id);
            return TF_OK;
        }
        snprintf(what, sizeof what, "replica %s%s", target, release->gave_up ? " (gave up: optional)" : "");
    }
    else
        snprintf(what, sizeof what, "tape");
    char replicas[TF_MSG_MAX_PATH + 1];
    snprintf(replicas, sizeof replicas, "%s", m->replicas);  /* m is gone once deleted */
    bool purged = streq(m->parked, S_PURGED);
    bool deleted = false;
    int rc = s_confirm(self, id, target ? target : HOLDING_TAPE, what, &deleted, err);
    if (rc != TF_OK || !deleted)
        return rc;
    /* what s_confirm was told: a target may have given up, a purged archive goes at any release */
    if (purged)
        tf_log_info("archive %s: released by %s; deleted (purged)", id, what);
    else if (*replicas)
        tf_log_info("archive %s: released by %s, the last of tape and replicas %s; deleted", id, what, replicas);
    else
        tf_log_info("archive %s: released (on tape and in the catalog); deleted", id);
    return TF_OK;
}

static const tf_actor_route_t s_routes[] = {
    {TF_MSG_ARCHIVE_RELEASE, s_on_archive_release},
    {TF_MSG_STAGE_PURGE, s_on_stage_purge},
    TF_ACTOR_ROUTES_END
};

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
    tf_actor_dispatch(actor, s_routes, &work.work, self);
    tf_msg_clear(&work);
    s_grant_all(self);  /* a release or purge may have freed space a waiting archive needs */
}

/* ------------------------------------------------------------------ waiting for space */

static const char *
s_duration(int64_t ms, char *buf, size_t size)
{
    int64_t secs = ms / 1000;
    if (secs < 120)
        snprintf(buf, size, "%lld s", (long long) secs);
    else if (secs < 2 * 3600)
        snprintf(buf, size, "%lld min", (long long) (secs / 60));
    else
        snprintf(buf, size, "%lld h %lld min", (long long) (secs / 3600), (long long) (secs % 3600 / 60));
    return buf;
}

/* What fills the holding disk and what the operator can do about it. */
static void
s_space_text(stager_t *self, const space_t *sp, char *buf, size_t size)
{
    char used[32], usable[32], ready[32], free_text[32];
    tf_units_bytes(stager_reserved(self), used, sizeof used);
    tf_units_bytes(sp->usable, usable, sizeof usable);
    tf_units_bytes(sp->ready, ready, sizeof ready);
    tf_units_bytes(sp->disk_free, free_text, sizeof free_text);
    const char *advice;
    if (sp->fs_limited)
        advice = "its file system is full: free space there or lower stager/capacity";
    else if (sp->ready_count > sp->parked.count + sp->replica.count)
        advice = "the tape writer frees space as it writes: check that it runs and has a writable tape "
                 "(tapeflow status; tapeflow events alert.tape)";
    else if (sp->replica.count > 0) {
        /* on tape already: only their replication targets can free them */
        char bytes[32], waiting[160], text[512];
        const holding_meta_t *m = sp->replica.first;
        size_t targets = holding_replicas_waiting(m, waiting, sizeof waiting);
        snprintf(text, sizeof text,
                 "%zu archive%s (%s) on tape wait%s for replica%s %s: see tapeflow job %s (is tapeflow-replicator "
                 "running? tapeflow replica check TARGET)",
                 sp->replica.count, sp->replica.count == 1 ? "" : "s", tf_units_bytes(sp->replica.bytes, bytes, sizeof bytes),
                 sp->replica.count == 1 ? "s" : "", targets > 1 ? "s" : "", waiting, m->job_id);
        snprintf(buf, size,
                 "holding disk %s: %s of %s in use, %zu archive%s (%s) waiting for tape or replicas, %zu being "
                 "staged, %s free on its file system; %s",
                 holding_dir(self->holding), used, usable, sp->ready_count, sp->ready_count == 1 ? "" : "s", ready,
                 sp->sessions, free_text, text);
        return;
    }
    else if (sp->parked.count > 0) {
        char parked[32], text[512];
        const holding_meta_t *m = sp->parked.first;
        snprintf(text, sizeof text,
                 "%zu of them (%s) parked: their jobs were cancelled or failed, the tape writer will not free "
                 "them (archive %s of job %s is %s); 'tapeflow job purge %s' deletes them, 'tapeflow job retry "
                 "%s' writes them to tape",
                 sp->parked.count, tf_units_bytes(sp->parked.bytes, parked, sizeof parked), m->archive_id, m->job_id,
                 m->parked, m->job_id, m->job_id);
        advice = text;
        snprintf(buf, size,
                 "holding disk %s: %s of %s in use, %zu archive%s (%s) waiting for tape, %zu being staged, "
                 "%s free on its file system; %s",
                 holding_dir(self->holding), used, usable, sp->ready_count, sp->ready_count == 1 ? "" : "s", ready,
                 sp->sessions, free_text, advice);
        return;
    }
    else
        advice = "older archives are staged first";
    snprintf(buf, size,
             "holding disk %s: %s of %s in use, %zu archive%s (%s) waiting for tape, %zu being staged, "
             "%s free on its file system; %s",
             holding_dir(self->holding), used, usable, sp->ready_count, sp->ready_count == 1 ? "" : "s", ready,
             sp->sessions, free_text, advice);
}

/* An archive that filled all the holding disk there can ever be and wants more: its item
   fails for good (redelivering it would fill the disk again). */
static void
s_refuse_for_good(stager_t *self, session_t *s, const space_t *sp)
{
    char size[48], disk[32], why[1024];
    if (s->expected > s->received)
        tf_units_bytes(s->expected, size, sizeof size);
    else {
        char at_least[32];
        snprintf(size, sizeof size, "more than %s", tf_units_bytes(s->received, at_least, sizeof at_least));
    }
    bool by_capacity = sp->usable >= self->capacity;
    /* A restore stream holds every file the restore sends to another host: fewer files or a
       restore on the tape server's host need no holding disk. */
    snprintf(why, sizeof why,
             "archive %s of %s cannot fit the holding disk %s of %s (%s); %s or %s",
             s->archive_id, size, holding_dir(self->holding), tf_units_bytes(sp->usable, disk, sizeof disk),
             by_capacity ? "stager/capacity" : "the size of its file system",
             s->restore ? "restore fewer files at a time (patterns), restore to the tape server's host"
                        : "lower scanner/group_size",
             by_capacity ? "raise stager/capacity" : "enlarge stager/dir (a bigger file system)");
    s_refuse_as(self, s, true, why);
}

/* Optional replication never blocks the holding disk: when space is short (rule 4 would drop an
   archive, or a job waited longer than stager/space_alert), every live ready archive on tape
   that waits only for optional targets gives them up - recorded in the catalog (cat_replica
   failed, final: the job ends completed_with_warnings, "holding disk full: replica to NAME
   skipped for archive A") through the announcer, then confirmed for each such target so it is
   deleted. A required target is never skipped. Returns how many archives were freed. */
static size_t
s_skip_optional(stager_t *self)
{
    size_t freed = 0;
    zlist_t *ids = holding_ready_ids(self->holding);
    for (const char *id = ids ? zlist_first(ids) : NULL; id; id = zlist_next(ids)) {
        const holding_meta_t *m = holding_lookup(self->holding, id);
        char waiting[TF_MSG_MAX_PATH + 1];
        if (!m || *m->parked || m->restore || m->replica_required || !holding_confirmed(m, HOLDING_TAPE)
            || holding_replicas_waiting(m, waiting, sizeof waiting) == 0)
            continue;
        char job_id[TF_MSG_MAX_ID + 1], names[TF_MSG_MAX_PATH + 1];
        snprintf(job_id, sizeof job_id, "%s", m->job_id);  /* m is gone once deleted */
        snprintf(names, sizeof names, "%s", m->replicas);  /* m is gone once deleted */
        bool deleted = false;
        char target[TF_MSG_MAX_ID + 1];
        for (const char *p = names; !deleted && tf_id_list_next(&p, target, sizeof target);) {
            m = holding_lookup(self->holding, id);
            if (!m || !*target || holding_confirmed(m, target))
                continue;
            char text[TF_MSG_MAX_ID * 2 + 64], item_id[TF_ID_MAX], what[TF_MSG_MAX_ID + 64];
            snprintf(text, sizeof text, "holding disk full: replica to %s skipped for archive %s", target, id);
            tf_msg_t msg = {.type = TF_MSG_CAT_REPLICA};
            msg.cat_replica = (tf_msg_cat_replica_t){.op = "failed", .job_id = job_id, .target = target,
                                                     .message = text, .final = true,
                                                     .time_ms = tf_clock_wall_ms()};
            /* "<archive>-replica-<target>-skip": deterministic, within the id limit tf_job_check
               checked ("...-copied" is longer) */
            char copy_item[TF_ID_MAX];
            s_replica_item(copy_item, sizeof copy_item, id, target);
            tf_id_join(item_id, sizeof item_id, copy_item, "-skip");
            tf_err_t err = {0};
            if (announcer_submit(self->announcer, "catalog", item_id, job_id, &msg, &err) != TF_OK) {
                tf_log_warn("archive %s: cannot record that replica %s is skipped: %s; kept", id, target,
                            err.message);
                break;  /* unrecorded, the job would wait for a copy that never comes */
            }
            tf_log_warn("job %s: %s (replication of pool %s is optional)", job_id, text, m->pool);
            snprintf(what, sizeof what, "replica %s (skipped: holding disk full)", target);
            if (s_confirm(self, id, target, what, &deleted, &err) != TF_OK) {
                tf_log_warn("archive %s: %s", id, err.message);
                break;
            }
        }
        if (deleted) {
            tf_log_info("archive %s: on tape; optional replicas skipped (holding disk full); deleted", id);
            freed++;
        }
    }
    zlist_destroy(&ids);
    return freed;
}

static bool
s_stuck(const session_t *s, int64_t now)
{
    return !s->closing && s->waiting_since && now - s->waiting_since >= S_STALL_MS && s->granted == s->received;
}

/* The rules that keep every session on a path to finishing (docs/staging.md, "Credit"). */
static void
s_unstick(stager_t *self, int64_t now)
{
    space_t sp;
    s_space_unfreed(self, &sp);
    zlistx_t *ids = zhashx_keys(self->sessions);
    for (char *id = ids ? zlistx_first(ids) : NULL; id; id = zlistx_next(ids)) {
        session_t *s = zhashx_lookup(self->sessions, id);
        if (s && s_stuck(s, now) && s->received >= sp.usable)
            s_refuse_for_good(self, s, &sp);
    }
    zlistx_destroy(&ids);
    session_t *head = s_head(self);
    if (!head || !s_stuck(head, now))
        return;  /* the head moves */
    if (sp.ready_count > sp.parked.count + sp.replica.count) {
        /* The tape writer will free space - unless those archives' jobs stopped: ask the broker
           now and then, so a failed job's archives are parked and rule 4 can act. Archives the
           tape confirmed that wait only for replicas are not the tape writer's to free: they
           never hold rule 4 back (nobody here knows whether the replicator runs). */
        if (now >= self->next_probe) {
            self->next_probe = now + S_PROBE_MS;
            zlist_t *ready = holding_ready_ids(self->holding);
            for (const char *id = ready ? zlist_first(ready) : NULL; id; id = zlist_next(ready)) {
                const holding_meta_t *m = holding_lookup(self->holding, id);
                tf_err_t err = {0};
                if (m && !*m->parked && !m->restore && !holding_confirmed(m, HOLDING_TAPE)
                    && announcer_probe(self->announcer, id, NULL, &err) != TF_OK)
                    tf_log_warn("archive %s: %s", id, err.message);
            }
            zlist_destroy(&ready);
        }
        return;
    }
    /* Nothing will be released and the oldest archive cannot grow: archives on tape that wait
       only for optional replicas go first; else the youngest stuck archive that holds space
       gives it back and is staged again later. */
    if (sp.replica.count > 0 && s_skip_optional(self) > 0) {
        s_grant_all(self);
        return;
    }
    session_t *victim = NULL;
    for (session_t *s = zhashx_first(self->sessions); s; s = zhashx_next(self->sessions))
        if (s != head && s->granted > 0 && s_stuck(s, now) && (!victim || s->seq > victim->seq))
            victim = s;
    if (!victim)
        return;
    char held[32], why[1024];
    snprintf(why, sizeof why,
             "holding disk %s is full and the older archive %s needs the %s this archive holds to finish: "
             "archive %s is dropped and staged again from the start once there is space",
             holding_dir(self->holding), head->archive_id, tf_units_bytes(victim->received, held, sizeof held),
             victim->archive_id);
    s_refuse(self, victim, why);
    s_grant_all(self);
}

static void
s_wait_free(void **item)
{
    free(*item);
    *item = NULL;
}

/* Tells the job's catalog record (op stage: its message) through the announcer. */
static void
s_tell_catalog(stager_t *self, const char *job_id, const char *what, const char *text)
{
    char item_id[TF_ID_MAX];
    int64_t wall = tf_clock_wall_ms();
    snprintf(item_id, sizeof item_id, "%s-space-%s-%lld", job_id, what, (long long) wall);
    tf_msg_t msg = {.type = TF_MSG_CAT_JOB};
    msg.cat_job = (tf_msg_cat_job_t){
        .job_id = (char *) job_id, .op = "note", .stage = "stage", .message = (char *) text, .time_ms = wall};
    tf_err_t err = {0};
    if (announcer_submit(self->announcer, "catalog", item_id, job_id, &msg, &err) != TF_OK)
        tf_log_warn("job %s: %s", job_id, err.message);
}

/* alert.stager for every job that has waited for space longer than stager/space_alert,
   repeated every stager/space_alert_repeat while it waits; the job's catalog message says so
   while it waits, and that it goes on once it does. */
static void
s_alerts(stager_t *self, int64_t now)
{
    for (job_wait_t *w = zhashx_first(self->waits); w; w = zhashx_next(self->waits))
        w->seen = false;
    bool waited_long = false;  /* a job waited longer than stager/space_alert */
    for (session_t *s = zhashx_first(self->sessions); s; s = zhashx_next(self->sessions)) {
        if (s->closing || !s->waiting_since || now - s->waiting_since < self->space_alert)
            continue;
        waited_long = true;
        job_wait_t *w = zhashx_lookup(self->waits, s->job_id);
        if (!w) {
            w = calloc(1, sizeof *w);
            if (!w)
                continue;
            w->since_wall = tf_clock_wall_ms() - (now - s->waiting_since);
            zhashx_insert(self->waits, s->job_id, w);
        }
        int64_t since = tf_clock_wall_ms() - (now - s->waiting_since);
        if (!w->seen || since < w->since_wall) {  /* the job's longest wait */
            snprintf(w->archive_id, sizeof w->archive_id, "%s", s->archive_id);
            w->since_wall = since;
        }
        w->seen = true;
    }
    if (zhashx_size(self->waits) == 0)
        return;
    space_t sp;
    s_space_unfreed(self, &sp);
    /* A job waited longer than stager/space_alert: optional replicas give way (rule 4 may not
       act while the tape writer still has archives to free). */
    if (waited_long && sp.replica.count > 0 && s_skip_optional(self) > 0) {
        s_grant_all(self);
        s_space_unfreed(self, &sp);
    }
    char space[768], text[1024], waited[48];
    s_space_text(self, &sp, space, sizeof space);
    zlistx_t *jobs = zhashx_keys(self->waits);
    for (char *job = jobs ? zlistx_first(jobs) : NULL; job; job = zlistx_next(jobs)) {
        job_wait_t *w = zhashx_lookup(self->waits, job);
        s_duration(tf_clock_wall_ms() - w->since_wall, waited, sizeof waited);
        if (!w->seen) {
            if (w->told) {
                snprintf(text, sizeof text, "staging goes on after waiting %s for holding-disk space", waited);
                s_tell_catalog(self, job, "resumed", text);
            }
            tf_log_info("job %s: no longer waiting for holding-disk space (waited %s)", job, waited);
            zhashx_delete(self->waits, job);
            continue;
        }
        if (now >= w->next_alert) {
            snprintf(text, sizeof text, "job %s has waited %s for holding-disk space (archive %s): %s", job, waited,
                     w->archive_id, space);
            tf_log_warn("%s", text);
            if (self->actor) {
                tf_msg_event_t ev = {.topic = "alert.stager", .level = "warn", .message = text,
                                     .job_id = job, .item_id = w->archive_id};
                tf_publisher_emit(tf_actor_events(self->actor), &ev);
            }
            w->next_alert = now + self->space_alert_repeat;
        }
        if (!w->told) {
            time_t since = (time_t) (w->since_wall / 1000);
            struct tm tm;
            char clock[16] = "?";
            if (localtime_r(&since, &tm))
                strftime(clock, sizeof clock, "%H:%M:%S", &tm);
            snprintf(text, sizeof text, "waiting for holding-disk space since %s (archive %s): %s", clock,
                     w->archive_id, space);
            s_tell_catalog(self, job, "wait", text);
            w->told = true;
        }
    }
    zlistx_destroy(&jobs);
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
        /* A compressor without credit has nothing to say: only one that holds credit and stays
           silent is gone (one that disconnected is noticed by the keep-alive below). */
        if (!s->closing && !s->waiting_since && now - s->last_heard > self->session_timeout) {
            s_session_drop(self, s, "the compressor went silent");
            continue;
        }
        if (now - s->last_sent >= S_KEEPALIVE_MS)
            s_credit(self, s, 0);  /* "still here" (also while it waits for space) */
    }
    zlistx_destroy(&ids);
    s_grant_all(self);
    s_unstick(self, now);
    s_alerts(self, now);
    s_purge_deferred(self, now);
}

/* ------------------------------------------------------------------ life cycle ------ */

bool
stager_wildcard(const char *endpoint, char *example, size_t size)
{
    static const char *const wild[] = {"tcp://0.0.0.0:", "tcp://*:", "tcp://[::]:", "tcp://[::0]:"};
    for (size_t i = 0; endpoint && i < sizeof wild / sizeof wild[0]; i++)
        if (strncmp(endpoint, wild[i], strlen(wild[i])) == 0) {
            snprintf(example, size, "tcp://10.0.0.1:%s", endpoint + strlen(wild[i]));
            return true;
        }
    return false;
}

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
    /* stager/advertise has no default of its own: unset, tape writers fetch from the endpoint. */
    const char *advertise = tf_config_str(cfg, "stager/advertise");
    self->advertise = strdup(*advertise ? advertise : endpoint);
    char example[128];
    if (!*advertise && stager_wildcard(endpoint, example, sizeof example)) {
        tf_err_set(err, TF_ERR_INVALID, "stager/endpoint %s is a wildcard tape writers cannot connect to: set "
                   "stager/advertise to an address they reach, e.g. %s", endpoint, example);
        stager_destroy(&self);
        return NULL;
    }
    if (self->advertise && tf_secure_is_tcp(self->advertise)
        && tf_secure_public_key(cfg, self->public_key, err) != TF_OK) {
        tf_err_prefix(err, "stager/advertise %s is tcp: ", self->advertise);
        stager_destroy(&self);
        return NULL;
    }
    int64_t capacity = tf_config_size(cfg, "stager/capacity");
    int64_t window = tf_config_size(cfg, "stager/window");
    self->capacity = capacity > 0 ? (uint64_t) capacity : 0;
    self->window = window > 0 ? (uint64_t) window : 8 << 20;
    self->session_timeout = tf_config_ms(cfg, "stager/session_timeout");
    self->space_alert = tf_config_ms(cfg, "stager/space_alert");
    self->space_alert_repeat = tf_config_ms(cfg, "stager/space_alert_repeat");
    self->sessions = zhashx_new();
    self->waits = zhashx_new();
    self->fetched = zhashx_new();
    self->in_use_ms = 3 * tf_config_ms(cfg, "tapewriter/fetch_timeout");
    self->fetch_buf = malloc(S_FETCH_MAX);
    if (!self->endpoint || !self->advertise || !self->sessions || !self->waits || !self->fetched || !self->fetch_buf) {
        tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        stager_destroy(&self);
        return NULL;
    }
    zhashx_set_destructor(self->sessions, s_session_free);
    zhashx_set_destructor(self->waits, s_wait_free);
    zhashx_set_destructor(self->fetched, s_wait_free);
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
    self->auth = tf_auth_new(cfg, err);
    self->keys = self->auth ? tf_keys_new(cfg, err) : NULL;
    if (!self->keys || tf_secure_bind(self->auth, self->router, self->endpoint, err) < 0) {
        tf_err_prefix(err, "stager/endpoint (is another stager running?): ");
        stager_destroy(&self);
        return NULL;
    }
    self->announcer = announcer_new(cfg, tf_config_str(cfg, "broker/endpoint"), err);
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
        zhashx_destroy(&self->waits);
        zhashx_destroy(&self->fetched);
        zsock_destroy(&self->router);
        tf_auth_destroy(&self->auth);  /* after the last socket it watches */
        tf_keys_destroy(&self->keys);
        holding_destroy(&self->holding);
        free(self->fetch_buf);
        free(self->endpoint);
        free(self->advertise);
        free(self);
        *self_p = NULL;
    }
}

/* A peer refused at the CURVE handshake: logged and published (alert.security). */
static void
s_on_refusal(stager_t *self, tf_actor_t *actor)
{
    char why[TF_AUTH_REFUSAL_MAX];
    while (tf_auth_next_refusal(self->auth, why, sizeof why)) {
        tf_log_warn("security: %s", why);
        if (actor && tf_actor_events(actor))
            tf_publisher_say(tf_actor_events(actor), "alert.security", "warn", "stager: %s", why);
    }
}

int
stager_serve(stager_t *self, tf_actor_t *actor, zsock_t *pipe)
{
    /* The router is never polled (zmq_poll, ZMQ_EVENTS): libzmq 4.3's ROUTER drops the CURVE
       metadata - the sender's key, which s_allowed checks - of the message a poll prefetches.
       It is read with a receive timeout instead, between polls of the other sockets. */
    zpoller_t *poller = zpoller_new(announcer_pollable(self->announcer), tf_auth_pollable(self->auth), NULL);
    if (!poller)
        return TF_ERR_NOMEM;
    void *work = actor ? tf_actor_pollable(actor) : NULL;
    if ((work && zpoller_add(poller, work) != 0) || (pipe && zpoller_add(poller, pipe) != 0)) {
        zpoller_destroy(&poller);
        return TF_ERR_NOMEM;
    }
    int rc = TF_OK;
    self->actor = actor;
    void *which = NULL;
    while (!zsys_interrupted) {
        /* a burst at a time, so data does not starve releases and acknowledgements; no wait
           while the other sockets have more */
        for (int i = 0; i < 64 && s_on_router(self, i == 0 && !which ? S_ROUTER_WAIT_MS : 0); i++)
            ;
        which = zpoller_wait(poller, 0);
        if (which == announcer_pollable(self->announcer))
            s_on_ack(self);
        else if (which == tf_auth_pollable(self->auth))
            s_on_refusal(self, actor);
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
    self->actor = NULL;
    return rc;
}
