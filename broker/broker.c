/*  broker - durable work dispatch core (see broker.h for the rules). */
#include "broker.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tf_log.h"

typedef struct _service_t service_t;
typedef struct _worker_t worker_t;

typedef struct {
    char *id;
    char *job_id;
    char *host;             /* only a worker registered from this host runs it; NULL: any */
    service_t *service;
    int64_t attempts;       /* deliveries so far */
    int64_t created_wall;
    int64_t queued_wall;    /* when it last joined its queue (how long it waits for a host) */
    worker_t *worker;       /* set while in flight */
    void *queue_handle;     /* set while queued */
    zlistx_t *owners;       /* "peer key" of every worker it was dispatched to in this run (char *,
                               owned; NULL until the first dispatch to a keyed peer): a late
                               done from one declared dead is still its owner's */
} item_t;

struct _service_t {
    char *name;
    zlistx_t *queue;        /* item_t*, not owned, dispatch order */
    zlistx_t *idle;         /* worker_t*, not owned */
    size_t workers;
    size_t inflight;
    uint64_t done, failed, redelivered;
};

struct _worker_t {
    char *peer;             /* hex routing id */
    char *name;
    char *host;             /* ready.host; NULL when the worker did not say (runs host-less
                               items only) */
    char *key;              /* trusted CURVE key it registered with; NULL over ipc */
    char *last_item;        /* id of the item last dispatched to it: its done may come after
                               another delivery finished the item */
    uint64_t pid;
    service_t *service;
    item_t *item;           /* current item, or NULL */
    void *idle_handle;      /* set while idle */
    int64_t expiry;         /* mono ms */
    int64_t last_seen;      /* mono ms */
};

/* Refused messages of one peer. */
typedef struct {
    char *peer;
    uint64_t rejected;
    uint64_t unlogged;      /* refused since the last summary, not logged one by one */
    char last_reason[256];
    int64_t last_wall;
} reject_t;

#define S_MAX_REJECT_PEERS 1024   /* beyond this, refusals count under one "(other peers)" row */
#define S_OTHER_PEERS "(other peers)"
#define S_REJECT_ROW_MAX_AGE_MS (3600 * 1000)  /* a peer quiet this long leaves the table */
#define S_REJECT_SUMMARY_LINES 10 /* per summary: the peers refused most, then one line for the rest */
#define S_HOST_CHECK_MS 1000      /* how often items waiting for a host are looked at */

/* Items of one service waiting for a host without a live worker of that service. */
typedef struct {
    char *service;
    char *host;
    int64_t next_alert_wall;  /* alert.worker.<service> again at the earliest then */
    zhashx_t *told;           /* job ids whose record says they wait (value unused) */
    size_t waiting;           /* items found waiting in the last check */
    bool seen;                /* found waiting in the current check */
    bool ending;              /* not waiting any more: its jobs are told they go on */
} host_wait_t;

struct _broker_t {
    journal_t *journal;
    broker_opts_t opts;
    broker_send_fn *send;
    broker_publish_fn *publish;
    void *arg;
    zhashx_t *services;     /* name -> service_t, owned */
    zhashx_t *workers;      /* peer -> worker_t, owned */
    zhashx_t *items;        /* id -> item_t, owned; pending items only */
    zhashx_t *known;        /* service names accepted for submit; NULL: any */
    zhashx_t *rejects;      /* peer -> reject_t, owned */
    int64_t next_reject_summary;
    int64_t reject_window_wall; /* start of the current minute of the refusal log budget */
    int64_t reject_window_logged; /* refusals logged one by one in it, across all peers */
    zhashx_t *cancelled;    /* job id -> spared services (char *, owned): cancelled jobs */
    zhashx_t *abandoned;    /* item id -> worker peer (char *, owned): cancelled in flight, its
                               worker not yet done with it; a retry must not run it twice */
    zhashx_t *host_waits;   /* "service host" -> host_wait_t, owned */
    int64_t next_host_check;
    int64_t started_mono;
    int64_t next_heartbeat;
    int64_t next_purge;
    uint64_t recovered;
    uint64_t completed;
    uint64_t duplicates;
    uint64_t refused;       /* worker reports from a peer the item is not in flight with */
    uint64_t id_counter;
};

/* ------------------------------------------------------------------ helpers ---------- */

static void
s_service_destroy(void **item)
{
    service_t *s = *item;
    if (s) {
        zlistx_destroy(&s->queue);
        zlistx_destroy(&s->idle);
        free(s->name);
        free(s);
        *item = NULL;
    }
}

static void
s_worker_destroy(void **item)
{
    worker_t *w = *item;
    if (w) {
        free(w->peer);
        free(w->name);
        free(w->host);
        free(w->key);
        free(w->last_item);
        free(w);
        *item = NULL;
    }
}

static void
s_reject_destroy(void **ptr)
{
    reject_t *r = *ptr;
    if (r) {
        free(r->peer);
        free(r);
        *ptr = NULL;
    }
}

static void
s_item_destroy(void **ptr)
{
    item_t *it = *ptr;
    if (it) {
        free(it->id);
        free(it->job_id);
        free(it->host);
        zlistx_destroy(&it->owners);
        free(it);
        *ptr = NULL;
    }
}

static void
s_host_wait_destroy(void **ptr)
{
    host_wait_t *hw = *ptr;
    if (hw) {
        free(hw->service);
        free(hw->host);
        zhashx_destroy(&hw->told);
        free(hw);
        *ptr = NULL;
    }
}

static void
s_event(broker_t *self, const char *topic, const char *level, const item_t *item,
        const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
s_event(broker_t *self, const char *topic, const char *level, const item_t *item, const char *fmt, ...)
{
    if (!self->publish)
        return;
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    tf_msg_event_t ev = {
        .topic = (char *) topic,
        .level = (char *) level,
        .message = message,
        .job_id = item ? item->job_id : NULL,
        .item_id = item ? item->id : NULL,
    };
    self->publish(self->arg, &ev);
}

/* Routine per-item chatter: item.<service>.<what>, a prefix monitors can leave out. */
static void
s_item_event(broker_t *self, service_t *service, const char *what, const char *level,
             const item_t *item, const char *message)
{
    char topic[200];
    snprintf(topic, sizeof topic, "item.%s.%s", service->name, what);
    s_event(self, topic, level, item, "%s", message);
}

static int
s_send(broker_t *self, const char *peer, const tf_msg_t *msg)
{
    return self->send(self->arg, peer, msg);
}

static void
s_send_error(broker_t *self, const char *peer, const char *rid, int code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void
s_send_error(broker_t *self, const char *peer, const char *rid, int code, const char *fmt, ...)
{
    char message[TF_ERR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    tf_msg_t reply = {.type = TF_MSG_ERROR};
    reply.error = (tf_msg_error_t){.rid = (char *) rid, .code = code, .message = message};
    s_send(self, peer, &reply);
}

static void
s_send_disconnect(broker_t *self, const char *peer, const char *reason)
{
    tf_msg_t msg = {.type = TF_MSG_DISCONNECT};
    msg.disconnect.reason = (char *) reason;
    s_send(self, peer, &msg);
}

static service_t *
s_service_require(broker_t *self, const char *name)
{
    service_t *s = zhashx_lookup(self->services, name);
    if (s)
        return s;
    s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->name = strdup(name);
    s->queue = zlistx_new();
    s->idle = zlistx_new();
    if (!s->name || !s->queue || !s->idle) {
        void *p = s;
        s_service_destroy(&p);
        return NULL;
    }
    zhashx_insert(self->services, name, s);
    return s;
}

/* Makes name a service submits may go to (a worker registered, items were recovered). */
static void
s_service_learn(broker_t *self, const char *name)
{
    if (self->known && !zhashx_lookup(self->known, name))
        zhashx_insert(self->known, name, (void *) 1);
}

/* "catalog, compress, echo" into buf: the known services in name order. */
static const char *
s_known_list(broker_t *self, char *buf, size_t size)
{
    buf[0] = '\0';
    zlistx_t *names = zhashx_keys(self->known);
    if (!names)
        return buf;
    zlistx_set_comparator(names, (zlistx_comparator_fn *) strcmp);
    zlistx_sort(names);
    size_t used = 0;
    for (const char *n = zlistx_first(names); n && used + 1 < size; n = zlistx_next(names)) {
        int w = snprintf(buf + used, size - used, "%s%s", used ? ", " : "", n);
        used += w > 0 ? (size_t) w : 0;
    }
    zlistx_destroy(&names);
    return buf;
}

/* The peer as a person reads it: the worker's name when it is one. */
static const char *
s_peer_label(broker_t *self, const char *peer, char *buf, size_t size)
{
    worker_t *w = zhashx_lookup(self->workers, peer);
    if (w)
        snprintf(buf, size, "%s (peer %s)", w->name, peer);
    else
        snprintf(buf, size, "peer %s", peer);
    return buf;
}

/* Counts a refused message of peer; logs it while the peer is under reject_log, after that
   only a summary per reject_summary_ms (a flood must not flood the log). */
static void
s_count_reject(broker_t *self, const char *peer, const char *reason, int64_t now_wall)
{
    /* A routing id may be up to 255 bytes: keep the key within a status row's ID limit. */
    char shortened[72];
    if (strlen(peer) > 64) {
        snprintf(shortened, sizeof shortened, "%.61s...", peer);
        peer = shortened;
    }
    reject_t *r = zhashx_lookup(self->rejects, peer);
    if (!r && zhashx_size(self->rejects) >= S_MAX_REJECT_PEERS) {
        peer = S_OTHER_PEERS;
        r = zhashx_lookup(self->rejects, peer);
    }
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r || !(r->peer = strdup(peer))) {
            free(r);
            tf_log_warn("refused a message from %s: %s", peer, reason);
            return;
        }
        zhashx_insert(self->rejects, peer, r);
    }
    r->rejected++;
    r->last_wall = now_wall;
    snprintf(r->last_reason, sizeof r->last_reason, "%s", reason);
    char label[256];
    s_peer_label(self, peer, label, sizeof label);
    /* Many short-lived peers must not flood the log either: one budget per minute for all. */
    if (now_wall - self->reject_window_wall >= 60000 || now_wall < self->reject_window_wall) {
        self->reject_window_wall = now_wall;
        self->reject_window_logged = 0;
    }
    bool in_budget = self->reject_window_logged < self->opts.reject_log_minute;
    if (r->rejected <= (uint64_t) self->opts.reject_log && in_budget
        && ++self->reject_window_logged == self->opts.reject_log_minute)
        tf_log_warn("refused a message from %s: %s; %" PRId64 " refusals logged this minute "
                    "(broker/reject_log_minute): further ones from any peer are counted ('tapeflow "
                    "status') and summarised once a minute", label, reason,
                    self->opts.reject_log_minute);
    else if (r->rejected <= (uint64_t) self->opts.reject_log && in_budget)
        tf_log_warn("refused a message from %s: %s%s", label, reason,
                    r->rejected == (uint64_t) self->opts.reject_log
                        ? "; further ones from this peer are counted ('tapeflow status') and "
                          "summarised once a minute"
                        : "");
    else
        r->unlogged++;
}

static int
s_reject_by_unlogged(const void *a, const void *b)
{
    const reject_t *ra = a, *rb = b;
    return ra->unlogged < rb->unlogged ? 1 : ra->unlogged > rb->unlogged ? -1 : strcmp(ra->peer, rb->peer);
}

/* Summarises refusals that were only counted since the last summary: one line for each of the
   S_REJECT_SUMMARY_LINES peers refused most, one line for all others. Drops the rows of peers
   quiet for S_REJECT_ROW_MAX_AGE_MS, so short-lived peers do not stay forever. */
static void
s_reject_summaries(broker_t *self, int64_t now_wall)
{
    char label[256];
    zlistx_t *pending = zlistx_new(), *stale = zlistx_new();
    if (!pending || !stale) {
        zlistx_destroy(&pending);
        zlistx_destroy(&stale);
        return;
    }
    zlistx_set_comparator(pending, (zlistx_comparator_fn *) s_reject_by_unlogged);
    for (reject_t *r = zhashx_first(self->rejects); r; r = zhashx_next(self->rejects)) {
        if (r->unlogged)
            zlistx_add_end(pending, r);
        else if (now_wall - r->last_wall > S_REJECT_ROW_MAX_AGE_MS)
            zlistx_add_end(stale, r);
    }
    zlistx_sort(pending);
    size_t lines = 0;
    uint64_t rest = 0, rest_peers = 0;
    for (reject_t *r = zlistx_first(pending); r; r = zlistx_next(pending)) {
        if (lines++ < S_REJECT_SUMMARY_LINES)
            tf_log_warn("%s: %" PRIu64 " more messages refused since the last summary (%" PRIu64
                        " in all); last: %s",
                        s_peer_label(self, r->peer, label, sizeof label), r->unlogged, r->rejected,
                        r->last_reason);
        else {
            rest += r->unlogged;
            rest_peers++;
        }
        r->unlogged = 0;
    }
    if (rest_peers)
        tf_log_warn("%" PRIu64 " more messages refused since the last summary from %" PRIu64
                    " other peers ('tapeflow status' lists them)", rest, rest_peers);
    for (reject_t *r = zlistx_first(stale); r; r = zlistx_next(stale))
        zhashx_delete(self->rejects, r->peer);
    zlistx_destroy(&pending);
    zlistx_destroy(&stale);
}

static item_t *
s_item_new(broker_t *self, const char *id, service_t *service, const char *job_id,
           const char *host, int64_t attempts, int64_t created_wall)
{
    item_t *it = calloc(1, sizeof *it);
    if (!it)
        return NULL;
    it->id = strdup(id);
    it->job_id = job_id ? strdup(job_id) : NULL;
    it->host = host && *host ? strdup(host) : NULL;
    it->service = service;
    it->attempts = attempts;
    it->created_wall = created_wall;
    it->queued_wall = created_wall;
    if (!it->id || (job_id && !it->job_id) || (host && *host && !it->host)) {
        void *p = it;
        s_item_destroy(&p);
        return NULL;
    }
    zhashx_insert(self->items, id, it);
    return it;
}

/* Removes a finished item from memory (it stays in the journal). */
static void
s_item_forget(broker_t *self, item_t *it)
{
    if (it->queue_handle) {
        zlistx_delete(it->service->queue, it->queue_handle);
        it->queue_handle = NULL;
    }
    if (it->worker) {
        it->worker->item = NULL;
        it->service->inflight--;
        it->worker = NULL;
    }
    zhashx_delete(self->items, it->id);
}

static void
s_worker_make_idle(worker_t *w)
{
    if (!w->idle_handle && !w->item)
        w->idle_handle = zlistx_add_end(w->service->idle, w);
}

static void s_dispatch(broker_t *self, service_t *service, int64_t now_wall);

/* Remembers that w was given it (see item_t.owners, worker_t.last_item). Over ipc (no key)
   nothing is needed: local peers are trusted. Out of memory only makes the check stricter. */
static void
s_owner_add(item_t *it, worker_t *w)
{
    free(w->last_item);
    w->last_item = strdup(it->id);
    if (!w->key)
        return;
    if (!it->owners) {
        it->owners = zlistx_new();
        if (!it->owners)
            return;
        zlistx_set_destructor(it->owners, (zlistx_destructor_fn *) zstr_free);
    }
    char *owner = zsys_sprintf("%s %s", w->peer, w->key);
    if (owner && !zlistx_add_end(it->owners, owner))
        zstr_free(&owner);
}

/* May the sender of a done, failed or progress for item_id report on it? Over ipc (no key):
   yes, local peers are trusted. Over tcp only the worker it is (or was) in flight with, or
   the holder of an abandoned delivery; a stranger's done would complete work nobody did. */
static bool
s_reporter_owns(broker_t *self, worker_t *w, const char *peer, const char *peer_key, const char *item_id)
{
    if (!peer_key)
        return true;
    if (w && w->last_item && strcmp(w->last_item, item_id) == 0)
        return true;
    item_t *it = zhashx_lookup(self->items, item_id);
    size_t plen = strlen(peer);
    for (const char *o = it && it->owners ? zlistx_first(it->owners) : NULL; o; o = zlistx_next(it->owners))
        if (strncmp(o, peer, plen) == 0 && o[plen] == ' ' && strcmp(o + plen + 1, peer_key) == 0)
            return true;
    const char *holder = zhashx_lookup(self->abandoned, item_id);
    return holder && strcmp(holder, peer) == 0;
}

/* A security refusal in the core: logged, counted (status.security_refused, with main's), and
   published as alert.security. */
static void
s_refuse_peer(broker_t *self, const char *peer, const char *peer_key, const char *what)
{
    self->refused++;
    tf_log_warn("security: refused %s from peer %s (key %s)", what, peer, peer_key ? peer_key : "none");
    s_event(self, "alert.security", "warn", NULL, "refused %s from peer %s (key %s)", what, peer,
            peer_key ? peer_key : "none");
}

/* Queues cat_job{failed} for the item's job (idempotent: the id derives from the item's). */
static void
s_report_job_failure(broker_t *self, item_t *it, const char *reason, int64_t now_wall)
{
    const char *target = self->opts.job_service;
    if (!it->job_id || !target || !*target || strcmp(target, it->service->name) == 0)
        return;
    char id[TF_MSG_MAX_ID + 16];
    snprintf(id, sizeof id, "%.*s-failed", TF_MSG_MAX_ID - 8, it->id);
    tf_msg_t payload = {.type = TF_MSG_CAT_JOB};
    payload.cat_job = (tf_msg_cat_job_t){
        .job_id = it->job_id,
        .op = "failed",
        .stage = it->service->name,
        .detail = (char *) reason,
        .time_ms = now_wall,
    };
    uint8_t *data;
    size_t size;
    tf_err_t err = {0};
    if (tf_msg_encode(&payload, &data, &size, &err) != TF_OK) {
        tf_log_error("cannot report failure of job %s: %s", it->job_id, err.message);
        return;
    }
    service_t *s = s_service_require(self, target);
    int rc = s ? journal_insert(self->journal, id, target, it->job_id, data, size, now_wall, &err) : TF_ERR_NOMEM;
    free(data);
    if (rc == TF_ERR_STATE)
        return;  /* reported before */
    if (rc != TF_OK) {
        tf_log_error("cannot report failure of job %s: %s", it->job_id, err.message);
        return;
    }
    item_t *report = s_item_new(self, id, s, it->job_id, NULL, 0, now_wall);
    if (!report)
        return;
    report->queue_handle = zlistx_add_end(s->queue, report);
    s_dispatch(self, s, now_wall);
}

static void
s_item_fail(broker_t *self, item_t *it, const char *reason, int64_t now_wall)
{
    tf_err_t err = {0};
    if (journal_mark_failed(self->journal, it->id, reason, now_wall, &err) != TF_OK)
        tf_log_error("%s", err.message);
    it->service->failed++;
    tf_log_warn("item %s (%s) failed: %s", it->id, it->service->name, reason);
    s_item_event(self, it->service, "failed", "error", it, reason);
    s_report_job_failure(self, it, reason, now_wall);
    s_item_forget(self, it);
}

/* Puts an in-flight item back at the head of its queue, or fails it when its deliveries are
   used up. why says what happened to the worker. */
static void
s_item_requeue(broker_t *self, item_t *it, const char *why, int64_t now_wall)
{
    service_t *s = it->service;
    if (it->worker) {
        it->worker->item = NULL;
        it->worker = NULL;
        s->inflight--;
    }
    if (it->attempts >= self->opts.max_attempts) {
        char reason[512];
        snprintf(reason, sizeof reason, "gave up after %" PRId64 " deliveries; last: %s",
                 it->attempts, why);
        s_item_fail(self, it, reason, now_wall);
        return;
    }
    tf_err_t err = {0};
    if (journal_mark_queued(self->journal, it->id, it->attempts, now_wall, &err) != TF_OK)
        tf_log_error("%s", err.message);
    it->queue_handle = zlistx_add_start(s->queue, it);
    it->queued_wall = now_wall;
    s->redelivered++;
    char message[512];
    snprintf(message, sizeof message, "item %s queued again: %s", it->id, why);
    tf_log_info("%s", message);
    s_item_event(self, s, "requeued", "warn", it, message);
}

/* The worker at peer is done with its abandoned item item_id (NULL: with all of them, it is
   gone): a retry may run them again. */
static void
s_abandoned_release(broker_t *self, const char *peer, const char *item_id)
{
    if (item_id) {
        const char *holder = zhashx_lookup(self->abandoned, item_id);
        if (holder && strcmp(holder, peer) == 0)
            zhashx_delete(self->abandoned, item_id);
        return;
    }
    zlistx_t *ids = zlistx_new();   /* deleting while iterating a zhashx is not allowed */
    for (const char *holder = zhashx_first(self->abandoned); holder && ids;
         holder = zhashx_next(self->abandoned))
        if (strcmp(holder, peer) == 0)
            zlistx_add_end(ids, (void *) zhashx_cursor(self->abandoned));
    for (const char *id = ids ? zlistx_first(ids) : NULL; id; id = zlistx_next(ids))
        zhashx_delete(self->abandoned, id);
    zlistx_destroy(&ids);
}

static void
s_worker_delete(broker_t *self, worker_t *w, const char *why, int64_t now_wall)
{
    service_t *s = w->service;
    if (w->idle_handle) {
        zlistx_delete(s->idle, w->idle_handle);
        w->idle_handle = NULL;
    }
    if (w->item)
        s_item_requeue(self, w->item, why, now_wall);
    s_abandoned_release(self, w->peer, NULL);
    s->workers--;
    zhashx_delete(self->workers, w->peer);
    s_dispatch(self, s, now_wall);
}

/* True when worker w may run item it: any worker for an item without a host, else only a
   worker registered from the item's host. */
static bool
s_worker_fits(const worker_t *w, const item_t *it)
{
    return !it->host || (w->host && strcmp(w->host, it->host) == 0);
}

/* The first queued item an idle worker fits, and that worker. Items for a host without an idle
   worker are passed over: they wait, the items behind them do not. */
static bool
s_pick(service_t *s, item_t **item_out, worker_t **worker_out)
{
    for (item_t *it = zlistx_first(s->queue); it; it = zlistx_next(s->queue))
        for (worker_t *w = zlistx_first(s->idle); w; w = zlistx_next(s->idle))
            if (s_worker_fits(w, it)) {
                *item_out = it;
                *worker_out = w;
                return true;
            }
    return false;
}

/* Hands queued items to idle workers, one each. */
static void
s_dispatch(broker_t *self, service_t *s, int64_t now_wall)
{
    item_t *it;
    worker_t *w;
    while (zlistx_size(s->queue) > 0 && zlistx_size(s->idle) > 0 && s_pick(s, &it, &w)) {

        journal_row_t row;
        tf_err_t err = {0};
        if (journal_get(self->journal, it->id, &row, &err) != TF_OK) {
            tf_log_error("cannot dispatch item %s: %s", it->id, err.message);
            s_item_fail(self, it, err.message, now_wall);
            continue;
        }
        /* Write ahead: the journal knows the item is in flight before the worker does. */
        if (journal_mark_inflight(self->journal, it->id, w->name, it->attempts + 1, now_wall, &err)
            != TF_OK) {
            tf_log_error("cannot dispatch item %s: %s", it->id, err.message);
            journal_row_clear(&row);
            return; /* the journal is failing; keep the item queued and retry on the next tick */
        }
        tf_msg_t work = {.type = TF_MSG_WORK};
        work.work = (tf_msg_work_t){
            .item_id = it->id,
            .service = s->name,
            .job_id = it->job_id,
            .attempt = (uint64_t) it->attempts + 1,
            .payload = row.payload.data ? row.payload : (tf_bytes_t){(uint8_t *) "", 0},
        };
        int rc = s_send(self, w->peer, &work);
        journal_row_clear(&row);
        if (rc != TF_OK) {
            /* The worker vanished between heartbeats: forget it, keep the item first in line. */
            if (journal_mark_queued(self->journal, it->id, it->attempts, now_wall, &err) != TF_OK)
                tf_log_error("%s", err.message);
            tf_log_warn("worker %s is gone; item %s stays queued", w->name, it->id);
            zlistx_delete(s->idle, w->idle_handle);
            w->idle_handle = NULL;
            s->workers--;
            zhashx_delete(self->workers, w->peer);
            continue;
        }
        zlistx_delete(s->queue, it->queue_handle);
        it->queue_handle = NULL;
        zlistx_delete(s->idle, w->idle_handle);
        w->idle_handle = NULL;
        it->attempts++;
        it->worker = w;
        w->item = it;
        s_owner_add(it, w);
        s->inflight++;
        char message[256];
        snprintf(message, sizeof message, "item %s dispatched to %s (attempt %" PRId64 ")", it->id,
                 w->name, it->attempts);
        tf_log_debug("%s", message);
        s_item_event(self, s, "dispatched", "info", it, message);
    }
}

/* ------------------------------------------------------------------ lifecycle -------- */

broker_t *
broker_new(journal_t *journal, const broker_opts_t *opts, broker_send_fn *send,
           broker_publish_fn *publish, void *arg)
{
    broker_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->journal = journal;
    self->opts = *opts;
    if (self->opts.heartbeat_ms <= 0)
        self->opts.heartbeat_ms = 1000;
    if (self->opts.liveness <= 0)
        self->opts.liveness = 3;
    if (self->opts.max_attempts <= 0)
        self->opts.max_attempts = 5;
    if (self->opts.keep_done_ms <= 0)
        self->opts.keep_done_ms = 7LL * 24 * 3600 * 1000;
    self->send = send;
    self->publish = publish;
    self->arg = arg;
    self->services = zhashx_new();
    self->workers = zhashx_new();
    self->items = zhashx_new();
    self->rejects = zhashx_new();
    if (opts->services) {
        self->known = zhashx_new();
        for (size_t i = 0; self->known && opts->services[i]; i++)
            s_service_learn(self, opts->services[i]);
        if (self->known && opts->job_service && *opts->job_service)
            s_service_learn(self, opts->job_service);
    }
    if (self->opts.reject_summary_ms <= 0)
        self->opts.reject_summary_ms = 60000;
    if (self->opts.reject_log < 0)
        self->opts.reject_log = 10;
    if (self->opts.reject_log_minute <= 0)
        self->opts.reject_log_minute = 100;
    self->cancelled = zhashx_new();
    self->abandoned = zhashx_new();
    self->host_waits = zhashx_new();
    if (!self->services || !self->workers || !self->items || !self->rejects || !self->cancelled
        || !self->abandoned || !self->host_waits || (opts->services && !self->known)) {
        broker_destroy(&self);
        return NULL;
    }
    zhashx_set_destructor(self->services, s_service_destroy);
    zhashx_set_destructor(self->workers, s_worker_destroy);
    zhashx_set_destructor(self->items, s_item_destroy);
    zhashx_set_destructor(self->rejects, s_reject_destroy);
    zhashx_set_destructor(self->cancelled, (zhashx_destructor_fn *) zstr_free);
    zhashx_set_destructor(self->abandoned, (zhashx_destructor_fn *) zstr_free);
    zhashx_set_destructor(self->host_waits, s_host_wait_destroy);
    return self;
}

void
broker_destroy(broker_t **self_p)
{
    if (self_p && *self_p) {
        broker_t *self = *self_p;
        zhashx_destroy(&self->workers);
        zhashx_destroy(&self->items);
        zhashx_destroy(&self->services);
        zhashx_destroy(&self->known);
        zhashx_destroy(&self->rejects);
        zhashx_destroy(&self->cancelled);
        zhashx_destroy(&self->abandoned);
        zhashx_destroy(&self->host_waits);
        free(self);
        *self_p = NULL;
    }
}

static bool s_job_item_cancelled(broker_t *self, const char *job_id, const char *service);

static int
s_recover_row(const journal_row_t *row, void *arg)
{
    broker_t *self = arg;
    if (s_job_item_cancelled(self, row->job_id, row->service)) {
        /* Pending in the journal although its job was cancelled (a journal written before items
           were inserted cancelled in one statement, or a cancel that could not mark it): it
           must not run. */
        tf_err_t err = {0};
        if (journal_mark_cancelled(self->journal, row->id, "its job was cancelled", row->updated_ms, &err) != TF_OK)
            tf_log_error("item %s of cancelled job %s: not run, but %s", row->id, row->job_id,
                         err.message);
        else
            tf_log_info("item %s (%s) of cancelled job %s recorded as cancelled", row->id,
                        row->service, row->job_id);
        s_service_learn(self, row->service);
        return TF_OK;
    }
    service_t *s = s_service_require(self, row->service);
    s_service_learn(self, row->service);   /* its items must stay deliverable */
    item_t *it = s ? s_item_new(self, row->id, s, row->job_id, row->host, row->attempts, row->created_ms) : NULL;
    if (!it)
        return TF_ERR_NOMEM;
    it->queued_wall = row->updated_ms;
    it->queue_handle = zlistx_add_end(s->queue, it);
    self->recovered++;
    return TF_OK;
}

static int
s_recover_cancelled(const char *job_id, const char *spare, void *arg)
{
    broker_t *self = arg;
    char *copy = strdup(spare);
    if (!copy)
        return TF_ERR_NOMEM;
    zhashx_update(self->cancelled, job_id, copy);
    return TF_OK;
}

int
broker_recover(broker_t *self, int64_t now_mono, tf_err_t *err)
{
    self->started_mono = now_mono;
    self->next_heartbeat = now_mono + self->opts.heartbeat_ms;
    self->next_purge = now_mono;
    self->next_reject_summary = now_mono + self->opts.reject_summary_ms;
    self->next_host_check = now_mono;
    /* Cancelled jobs first: every recovered row is checked against them. */
    int rc = journal_load_cancelled(self->journal, s_recover_cancelled, self, err);
    if (rc == TF_OK)
        rc = journal_load_pending(self->journal, s_recover_row, self, err);
    if (rc != TF_OK)
        return rc;
    if (self->recovered)
        tf_log_info("recovered %" PRIu64 " queued or in-flight items from %s", self->recovered,
                    journal_path(self->journal));
    return TF_OK;
}

/* ------------------------------------------------------------------ handlers --------- */

static void
s_handle_ready(broker_t *self, const char *peer, const char *peer_key, const tf_msg_ready_t *ready,
               int64_t now_mono, int64_t now_wall)
{
    worker_t *old = zhashx_lookup(self->workers, peer);
    if (old) {
        /* Same routing id registering again: the worker restarted and lost what it held. */
        s_worker_delete(self, old, "its worker registered again", now_wall);
    }
    service_t *s = s_service_require(self, ready->service);
    s_service_learn(self, ready->service);
    worker_t *w = s ? calloc(1, sizeof *w) : NULL;
    if (!w) {
        tf_log_error("out of memory registering worker");
        return;
    }
    w->peer = strdup(peer);
    char fallback[160];
    snprintf(fallback, sizeof fallback, "%s@%.16s", ready->service, peer);
    w->name = strdup(ready->worker ? ready->worker : fallback);
    w->host = ready->host && *ready->host ? strdup(ready->host) : NULL;
    w->key = peer_key && *peer_key ? strdup(peer_key) : NULL;
    w->pid = ready->pid;
    w->service = s;
    w->expiry = now_mono + self->opts.heartbeat_ms * self->opts.liveness;
    w->last_seen = now_mono;
    if (!w->peer || !w->name || (ready->host && *ready->host && !w->host)
        || (peer_key && *peer_key && !w->key)) {
        void *p = w;
        s_worker_destroy(&p);
        return;
    }
    zhashx_insert(self->workers, peer, w);
    s->workers++;
    s_worker_make_idle(w);
    tf_log_info("worker %s (pid %" PRIu64 ", host %s%s%s) ready for %s", w->name, w->pid,
                w->host ? w->host : "not given", w->key ? ", key " : "", w->key ? w->key : "", s->name);
    char message[256];
    snprintf(message, sizeof message, "worker %s ready on host %s", w->name, w->host ? w->host : "?");
    char topic[200];
    snprintf(topic, sizeof topic, "worker.%s.ready", s->name);
    s_event(self, topic, "info", NULL, "%s", message);
    s_dispatch(self, s, now_wall);
}

/* The worker that sent done/failed for its current item gets its credit back. */
static void
s_worker_release(broker_t *self, worker_t *w, const char *item_id, int64_t now_wall)
{
    if (!w)
        return;
    s_abandoned_release(self, w->peer, item_id);
    if (w->item && strcmp(w->item->id, item_id) == 0) {
        w->item->worker = NULL;
        w->service->inflight--;
        w->item = NULL;
    }
    if (!w->item) {
        s_worker_make_idle(w);
        s_dispatch(self, w->service, now_wall);
    }
}

static bool s_done_after_cancel(broker_t *self, const journal_row_t *row, const tf_msg_done_t *done,
                                int64_t now_wall);

static void
s_handle_done(broker_t *self, const char *peer, worker_t *w, const tf_msg_done_t *done,
              int64_t now_wall)
{
    item_t *it = zhashx_lookup(self->items, done->item_id);
    if (it) {
        /* First completion wins, whichever delivery it came from: the work is idempotent. */
        tf_err_t err = {0};
        if (journal_mark_done(self->journal, it->id, done->result.data, done->result.size, now_wall,
                              &err) != TF_OK) {
            tf_log_error("cannot record completion of %s: %s", it->id, err.message);
            /* Not recorded: leave it pending so it is delivered again rather than lost. */
        }
        else {
            service_t *s = it->service;
            s->done++;
            self->completed++;
            char message[256];
            snprintf(message, sizeof message, "item %s done (attempt %" PRIu64 ")", it->id, done->attempt);
            tf_log_debug("%s", message);
            s_item_event(self, s, "done", "info", it, message);
            /* If another worker holds a redelivery, it stays out of the idle list until its own
               (duplicate) done or failed comes back: one item per worker, always. */
            s_item_forget(self, it);
        }
    }
    else {
        journal_row_t row;
        tf_err_t err = {0};
        if (journal_get(self->journal, done->item_id, &row, &err) == TF_OK
            && s_done_after_cancel(self, &row, done, now_wall))
            journal_row_clear(&row);
        else if (row.id) {
            self->duplicates++;
            tf_log_info("ignored a repeated completion of item %s (already %s; attempt %" PRIu64 ")",
                        done->item_id, journal_state_name(row.state), done->attempt);
            journal_row_clear(&row);
        }
        else {
            char reason[256];
            snprintf(reason, sizeof reason, "done for unknown item %.128s", done->item_id);
            s_count_reject(self, peer, reason, now_wall);
        }
    }
    /* An unregistered sender (the broker restarted under it) gets no reply here: it registers
       again after this report, and a heartbeat from it is answered with DISCONNECT anyway. */
    s_worker_release(self, w, done->item_id, now_wall);
}

static void
s_handle_failed(broker_t *self, worker_t *w, const tf_msg_failed_t *failed,
                int64_t now_wall)
{
    item_t *it = zhashx_lookup(self->items, failed->item_id);
    if (it && it->worker == w && w) {
        if (failed->retry) {
            char why[512];
            snprintf(why, sizeof why, "worker %s could not finish it: %s", w->name, failed->reason);
            s_item_requeue(self, it, why, now_wall);
        }
        else
            s_item_fail(self, it, failed->reason, now_wall);
    }
    else if (it && !it->worker && !w) {
        /* From a worker the broker lost track of (it restarted): same rules. */
        if (failed->retry)
            tf_log_info("item %s: retryable failure from an unregistered worker: %s", it->id,
                        failed->reason);
        else
            s_item_fail(self, it, failed->reason, now_wall);
    }
    else
        tf_log_info("ignored failure report for item %s (not in flight there): %s", failed->item_id,
                    failed->reason);
    s_worker_release(self, w, failed->item_id, now_wall);
}

static void
s_handle_progress(broker_t *self, worker_t *w, const tf_msg_progress_t *p)
{
    item_t *it = zhashx_lookup(self->items, p->item_id);
    if (!it)
        return;
    char topic[200];
    if (it->job_id)
        snprintf(topic, sizeof topic, "job.%s.progress", it->job_id);
    else
        snprintf(topic, sizeof topic, "item.%s.progress", it->service->name);
    tf_msg_event_t ev = {
        .topic = topic,
        .level = "info",
        .message = p->message,
        .job_id = it->job_id,
        .item_id = it->id,
        .done = p->done,
        .total = p->total,
    };
    (void) w;
    if (self->publish)
        self->publish(self->arg, &ev);
}

static void
s_make_id(broker_t *self, int64_t now_wall, char *buf, size_t size)
{
    /* Time-ordered and unique per broker run; clients that need idempotency supply their own. */
    self->id_counter++;
    snprintf(buf, size, "i%" PRIx64 "-%x-%" PRIu64, (uint64_t) now_wall, (unsigned) getpid(),
             self->id_counter);
}

static bool s_submit_cancelled(broker_t *self, const tf_msg_submit_t *sub);

static void s_handle_job_op(broker_t *self, const char *peer, const tf_msg_job_op_t *op,
                            int64_t now_wall);

static void
s_handle_submit(broker_t *self, const char *peer, const tf_msg_submit_t *sub, int64_t now_wall)
{
    if (!*sub->service) {
        s_send_error(self, peer, sub->rid, TF_ERR_INVALID, "submit: service name is empty");
        return;
    }
    char made[64];
    const char *id = sub->item_id;
    if (!id || !*id) {
        s_make_id(self, now_wall, made, sizeof made);
        id = made;
    }
    tf_msg_t reply = {.type = TF_MSG_SUBMIT_OK};
    reply.submit_ok.rid = sub->rid;
    reply.submit_ok.item_id = (char *) id;

    journal_row_t row;
    tf_err_t err = {0};
    int rc = journal_get(self->journal, id, &row, &err);
    if (rc == TF_OK) {
        /* A repeated submit (client retry): report the existing item, queue nothing. */
        if (strcmp(row.service, sub->service) != 0) {
            s_send_error(self, peer, sub->rid, TF_ERR_STATE,
                         "item %s exists already for service %s, not %s", id, row.service, sub->service);
        }
        else {
            reply.submit_ok.state = (char *) journal_state_name(row.state);
            reply.submit_ok.existed = true;
            s_send(self, peer, &reply);
        }
        journal_row_clear(&row);
        return;
    }
    if (rc != TF_ERR_NOTFOUND) {
        s_send_error(self, peer, sub->rid, rc, "%s", err.message);
        return;
    }
    if (self->known && !zhashx_lookup(self->known, sub->service)) {
        /* Nobody would ever take it: queued, it would wait in the journal forever. */
        char known[1024], reason[TF_ERR_MESSAGE_MAX];
        snprintf(reason, sizeof reason, "no service '%.128s': known services are %s (a service "
                 "is known once the config names its actor or broker/services lists it, or a "
                 "worker registers for it)", sub->service, s_known_list(self, known, sizeof known));
        s_send_error(self, peer, sub->rid, TF_ERR_NOTFOUND, "%s", reason);
        char brief[256];
        snprintf(brief, sizeof brief, "submit for unknown service '%.128s'", sub->service);
        s_count_reject(self, peer, brief, now_wall);
        return;
    }
    service_t *s = s_service_require(self, sub->service);
    if (!s) {
        s_send_error(self, peer, sub->rid, TF_ERR_NOMEM, "broker out of memory");
        return;
    }
    /* Journal first: acknowledged means durable. A new item of a cancelled job is inserted
       cancelled in the same statement: never queued, not even for an instant a crash could see. */
    bool cancelled = s_submit_cancelled(self, sub);
    rc = journal_insert_as(self->journal, id, sub->service, sub->job_id, sub->host, sub->payload.data,
                           sub->payload.size, cancelled ? JOURNAL_CANCELLED : JOURNAL_QUEUED,
                           cancelled ? "its job was cancelled" : NULL, now_wall, &err);
    if (rc != TF_OK) {
        s_send_error(self, peer, sub->rid, rc, "%s", err.message);
        return;
    }
    if (cancelled) {
        tf_log_info("item %s (%s) of cancelled job %s recorded as cancelled", id, sub->service,
                    sub->job_id);
        reply.submit_ok.state = "cancelled";
        s_send(self, peer, &reply);
        return;
    }
    item_t *it = s_item_new(self, id, s, sub->job_id, sub->host, 0, now_wall);
    if (!it) {
        s_send_error(self, peer, sub->rid, TF_ERR_NOMEM, "broker out of memory");
        return;
    }
    it->queue_handle = zlistx_add_end(s->queue, it);
    reply.submit_ok.state = "queued";
    s_send(self, peer, &reply);
    s_dispatch(self, s, now_wall);
}

static void
s_handle_item_get(broker_t *self, const char *peer, const tf_msg_item_get_t *get)
{
    journal_row_t row;
    tf_err_t err = {0};
    int rc = journal_get(self->journal, get->item_id, &row, &err);
    if (rc != TF_OK) {
        s_send_error(self, peer, get->rid, rc, "%s", err.message);
        return;
    }
    tf_msg_t reply = {.type = TF_MSG_ITEM_INFO};
    reply.item_info = (tf_msg_item_info_t){
        .rid = get->rid,
        .item_id = row.id,
        .service = row.service,
        .job_id = row.job_id,
        .state = (char *) journal_state_name(row.state),
        .attempts = (uint64_t) row.attempts,
        .worker = row.worker,
        .reason = row.reason,
        .result = row.result,
        .created_ms = row.created_ms,
        .updated_ms = row.updated_ms,
    };
    s_send(self, peer, &reply);
    journal_row_clear(&row);
}

/* ------------------------------------------------------------------ job actions ------ */

/* True when service is named in spare (comma separated) or is the job service. */
static bool
s_spared(broker_t *self, const char *spare, const char *service)
{
    if (self->opts.job_service && strcmp(self->opts.job_service, service) == 0)
        return true;
    size_t n = strlen(service);
    for (const char *p = spare; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t) (end - p) : strlen(p);
        if (len == n && strncmp(p, service, n) == 0)
            return true;
        p = end ? end + 1 : NULL;
    }
    return false;
}

/* True when an item of job_id for service must not run: its job is cancelled and the service
   is not spared. */
static bool
s_job_item_cancelled(broker_t *self, const char *job_id, const char *service)
{
    const char *spare = job_id ? zhashx_lookup(self->cancelled, job_id) : NULL;
    return spare && !s_spared(self, spare, service);
}

/* A new item of a cancelled job is journalled as cancelled instead of queued (unless its
   service is spared): a late result of an abandoned item must not restart the job. */
static bool
s_submit_cancelled(broker_t *self, const tf_msg_submit_t *sub)
{
    return s_job_item_cancelled(self, sub->job_id, sub->service);
}

/* A worker finished an item that was abandoned when its job was cancelled: the work happened
   (an archive written, a group staged), so the journal says done - a retry must not run it
   again - but nothing else follows: the job stays cancelled. */
static bool
s_done_after_cancel(broker_t *self, const journal_row_t *row, const tf_msg_done_t *done,
                    int64_t now_wall)
{
    if (row->state != JOURNAL_CANCELLED)
        return false;
    tf_err_t err = {0};
    if (journal_mark_done_late(self->journal, row->id, done->result.data, done->result.size, now_wall,
                               &err) != TF_OK)
        tf_log_error("%s", err.message);
    else
        tf_log_info("item %s of cancelled job %s finished after all: recorded as done (the job "
                    "stays cancelled)", row->id, row->job_id ? row->job_id : "?");
    return true;
}

/* Queues cat_job{op, stage, message} for the job service; id_out gets the item's id ("" when
   there is no job service). tag (may be NULL) goes into the id, so records of one job in one
   millisecond stay apart. */
static int
s_queue_job_record(broker_t *self, const char *job_id, const char *op, const char *stage,
                   const char *message, const char *tag, int64_t now_wall, char *id_out,
                   size_t id_size, tf_err_t *err)
{
    const char *target = self->opts.job_service;
    id_out[0] = '\0';
    if (!target || !*target)
        return TF_OK;
    snprintf(id_out, id_size, "%.*s-%s%s%.24s-%" PRId64, TF_MSG_MAX_ID - 64, job_id, op,
             tag ? "-" : "", tag ? tag : "", now_wall);
    tf_msg_t payload = {.type = TF_MSG_CAT_JOB};
    payload.cat_job = (tf_msg_cat_job_t){
        .job_id = (char *) job_id, .op = (char *) op, .stage = (char *) stage, .message = (char *) message,
        .time_ms = now_wall,
    };
    uint8_t *data;
    size_t size;
    if (tf_msg_encode(&payload, &data, &size, err) != TF_OK)
        return err->code;
    service_t *s = s_service_require(self, target);
    int rc = s ? journal_insert(self->journal, id_out, target, job_id, data, size, now_wall, err)
               : tf_err_set(err, TF_ERR_NOMEM, "broker out of memory");
    free(data);
    if (rc == TF_ERR_STATE)
        return TF_OK;  /* the same action in the same millisecond: recorded already */
    if (rc != TF_OK)
        return rc;
    item_t *it = s_item_new(self, id_out, s, job_id, NULL, 0, now_wall);
    if (!it)
        return tf_err_set(err, TF_ERR_NOMEM, "broker out of memory");
    it->queue_handle = zlistx_add_end(s->queue, it);
    s_dispatch(self, s, now_wall);
    return TF_OK;
}

/* The operator's note in job_op_ok: what did not happen and what to do about it. */
static char *
s_job_op_note(const tf_msg_job_op_ok_t *ok, bool cancel, const char *first_error)
{
    char note[TF_MSG_MAX_TEXT] = "";
    size_t used = 0;
    if (ok->unrecorded) {
        int n = snprintf(note, sizeof note,
                         cancel ? "%" PRIu64 " item%s could not be marked cancelled in the broker's "
                                  "journal (%s): %s not run now and %s marked cancelled when the "
                                  "broker restarts; check the broker's log and disk"
                                : "%" PRIu64 " item%s could not be queued again in the broker's "
                                  "journal (%s); check the broker's log and disk, then retry again",
                         ok->unrecorded, ok->unrecorded == 1 ? "" : "s",
                         first_error && *first_error ? first_error : "unknown error",
                         ok->unrecorded == 1 ? "it is" : "they are",
                         ok->unrecorded == 1 ? "is" : "are");
        used = n > 0 ? (size_t) n : 0;
    }
    if (ok->finishing && used < sizeof note)
        snprintf(note + used, sizeof note - used, "%s%" PRIu64 " item%s still finishing; retry again "
                 "shortly", used ? "; " : "", ok->finishing, ok->finishing == 1 ? "" : "s");
    return note[0] ? strdup(note) : NULL;
}

static int
s_job_cancel(broker_t *self, const tf_msg_job_op_t *op, tf_msg_job_op_ok_t *ok, int64_t now_wall,
             char *first_error, size_t error_size, tf_err_t *err)
{
    const char *spare = op->spare ? op->spare : "";
    char *copy = strdup(spare);
    if (!copy)
        return tf_err_set(err, TF_ERR_NOMEM, "broker out of memory");
    int rc = journal_job_cancelled_set(self->journal, op->job_id, spare, op->message, now_wall, err);
    if (rc != TF_OK) {
        free(copy);
        return rc;
    }
    zhashx_update(self->cancelled, op->job_id, copy);
    const char *reason = op->message && *op->message ? op->message : "its job was cancelled";
    zlistx_t *victims = zlistx_new();  /* forgetting while iterating a zhashx is not allowed */
    if (!victims)
        return tf_err_set(err, TF_ERR_NOMEM, "broker out of memory");
    for (item_t *it = zhashx_first(self->items); it; it = zhashx_next(self->items))
        if (it->job_id && strcmp(it->job_id, op->job_id) == 0 && !s_spared(self, spare, it->service->name))
            zlistx_add_end(victims, it);
    for (item_t *it = zlistx_first(victims); it; it = zlistx_next(victims)) {
        bool inflight = it->worker != NULL;
        if (journal_mark_cancelled(self->journal, it->id, reason, now_wall, err) != TF_OK) {
            /* Still dropped here (the job is cancelled, recorded above): recovery marks it
               cancelled after a restart. The operator hears of it. */
            tf_log_error("cannot cancel item %s: %s", it->id, err->message);
            if (!first_error[0])
                snprintf(first_error, error_size, "%s", err->message);
            ok->unrecorded++;
        }
        else if (inflight)
            ok->abandoned++;
        else
            ok->cancelled++;
        if (inflight) {
            char *holder = strdup(it->worker->peer);
            if (holder)
                zhashx_update(self->abandoned, it->id, holder);
        }
        char message[TF_MSG_MAX_TEXT];
        snprintf(message, sizeof message, "item %s cancelled%s", it->id,
                 inflight ? " (in flight: its worker's result will be ignored)" : "");
        tf_log_info("%s", message);
        s_item_event(self, it->service, "cancelled", "warn", it, message);
        s_item_forget(self, it);
    }
    zlistx_destroy(&victims);
    *err = (tf_err_t){0};
    return TF_OK;
}

typedef struct {
    zlistx_t *ids;          /* char *, owned */
} s_job_rows_t;

static int
s_collect_row(const journal_row_t *row, void *arg)
{
    s_job_rows_t *rows = arg;
    char *id = strdup(row->id);
    if (!id || !zlistx_add_end(rows->ids, id)) {
        free(id);
        return TF_ERR_NOMEM;
    }
    return TF_OK;
}

static bool
s_ends_with(const char *text, const char *suffix)
{
    size_t n = strlen(text), m = strlen(suffix);
    return n >= m && strcmp(text + n - m, suffix) == 0;
}

/* Whether a retry runs this item again: only the backup pipeline's own items (broker.h). A
   restore, a purge or anything else that once failed with the job's id stays as it is. */
static bool
s_retry_runs(const char *service, const char *id)
{
    if (strcmp(service, "scan") == 0 || strcmp(service, "compress") == 0
        || strcmp(service, "catalog") == 0 || strcmp(service, "replicate") == 0)
        return true;
    return strcmp(service, "tape") == 0 && s_ends_with(id, "-tape");
}

static int
s_job_retry(broker_t *self, const tf_msg_job_op_t *op, tf_msg_job_op_ok_t *ok, int64_t now_wall,
            char *first_error, size_t error_size, tf_err_t *err)
{
    zlistx_t *services = zlistx_new();   /* service_t*, to dispatch once at the end */
    s_job_rows_t rows = {.ids = zlistx_new()};
    if (!services || !rows.ids) {
        zlistx_destroy(&services);
        zlistx_destroy(&rows.ids);
        return tf_err_set(err, TF_ERR_NOMEM, "broker out of memory");
    }
    zlistx_set_destructor(rows.ids, (zlistx_destructor_fn *) zstr_free);
    int rc = journal_load_job(self->journal, op->job_id, JOURNAL_FAILED, s_collect_row, &rows, err);
    if (rc == TF_OK)
        rc = journal_load_job(self->journal, op->job_id, JOURNAL_CANCELLED, s_collect_row, &rows, err);
    for (const char *id = rc == TF_OK ? zlistx_first(rows.ids) : NULL; id; id = zlistx_next(rows.ids)) {
        if (zhashx_lookup(self->items, id))
            continue;
        tf_err_t ierr = {0};
        journal_row_t row;
        if (journal_get(self->journal, id, &row, &ierr) != TF_OK) {
            tf_log_error("retry of job %s: cannot read item %s: %s", op->job_id, id, ierr.message);
            if (!first_error[0])
                snprintf(first_error, error_size, "%s", ierr.message);
            ok->unrecorded++;
            continue;
        }
        if (!s_retry_runs(row.service, row.id)) {
            journal_row_clear(&row);
            continue;
        }
        if (zhashx_lookup(self->abandoned, id)) {
            /* Its old worker still runs it: queued now, a second worker would run it too. */
            tf_log_info("item %s (%s) of job %s is still finishing at its old worker: not queued again",
                        id, row.service, op->job_id);
            ok->finishing++;
            journal_row_clear(&row);
            continue;
        }
        service_t *s = s_service_require(self, row.service);
        /* A new permanent failure must reach the catalog again: its earlier report goes first
           (harmless alone: the catalog has it), so a queued item never keeps an old report. */
        char report[TF_MSG_MAX_ID + 16];
        snprintf(report, sizeof report, "%.*s-failed", TF_MSG_MAX_ID - 8, id);
        int irc = s ? journal_forget(self->journal, report, &ierr)
                    : tf_err_set(&ierr, TF_ERR_NOMEM, "broker out of memory");
        if (irc == TF_OK)
            irc = journal_mark_requeued(self->journal, id, now_wall, &ierr);
        item_t *it = irc == TF_OK ? s_item_new(self, id, s, row.job_id, row.host, 0, row.created_ms) : NULL;
        if (irc == TF_OK && !it)
            irc = tf_err_set(&ierr, TF_ERR_NOMEM, "broker out of memory");
        if (irc == TF_OK) {
            it->queued_wall = now_wall;
            it->queue_handle = zlistx_add_end(s->queue, it);
            ok->requeued++;
            if (!zlistx_find(services, s))
                zlistx_add_end(services, s);
            tf_log_info("item %s (%s) of job %s queued again (retry)", id, row.service, op->job_id);
        }
        if (irc != TF_OK) {
            tf_log_error("retry of job %s: item %s: %s", op->job_id, id, ierr.message);
            if (!first_error[0])
                snprintf(first_error, error_size, "%s", ierr.message);
            ok->unrecorded++;
        }
        journal_row_clear(&row);
    }
    zlistx_destroy(&rows.ids);
    if (rc == TF_OK) {
        *err = (tf_err_t){0};
        rc = journal_job_cancelled_clear(self->journal, op->job_id, err);
        if (rc == TF_OK)
            zhashx_delete(self->cancelled, op->job_id);
    }
    for (service_t *s = zlistx_first(services); s; s = zlistx_next(services))
        s_dispatch(self, s, now_wall);
    zlistx_destroy(&services);
    return rc;
}

/* job_op: cancel or retry every item of one job (broker.h, tf_msg.h). The catalog's record of
   the action is queued first, so it is applied before anything the action causes; the catalog
   publishes job.<id>.cancelled|retried once it has applied it. */
static void
s_handle_job_op(broker_t *self, const char *peer, const tf_msg_job_op_t *op, int64_t now_wall)
{
    bool cancel = strcmp(op->op, "cancel") == 0, retry = strcmp(op->op, "retry") == 0;
    if (!*op->job_id || (!cancel && !retry)) {
        s_send_error(self, peer, op->rid, TF_ERR_INVALID,
                     "job_op: needs a job_id and op cancel or retry (got '%s')", op->op);
        return;
    }
    tf_err_t err = {0};
    if (retry) {
        /* Refuse before recording anything when there is nothing to run again. */
        s_job_rows_t probe = {.ids = zlistx_new()};
        int rc = probe.ids ? journal_load_job(self->journal, op->job_id, JOURNAL_FAILED, s_collect_row, &probe, &err)
                           : tf_err_set(&err, TF_ERR_NOMEM, "broker out of memory");
        if (rc == TF_OK)
            rc = journal_load_job(self->journal, op->job_id, JOURNAL_CANCELLED, s_collect_row, &probe, &err);
        size_t found = probe.ids ? zlistx_size(probe.ids) : 0;
        if (probe.ids) {
            for (char *id = zlistx_first(probe.ids); id; id = zlistx_next(probe.ids))
                free(id);
            zlistx_destroy(&probe.ids);
        }
        if (rc != TF_OK) {
            s_send_error(self, peer, op->rid, rc, "%s", err.message);
            return;
        }
        if (found == 0) {
            s_send_error(self, peer, op->rid, TF_ERR_NOTFOUND,
                         "job %s has no failed or cancelled items in the broker's journal: nothing to "
                         "retry (finished items are kept for broker/keep_done)", op->job_id);
            return;
        }
    }
    char record[TF_MSG_MAX_ID + 1];
    int rc = s_queue_job_record(self, op->job_id, cancel ? "cancelled" : "retried", NULL, op->message,
                                NULL, now_wall, record, sizeof record, &err);
    tf_msg_t reply = {.type = TF_MSG_JOB_OP_OK};
    reply.job_op_ok = (tf_msg_job_op_ok_t){
        .rid = op->rid, .job_id = op->job_id, .op = op->op, .catalog_item = record[0] ? record : NULL,
    };
    char first_error[TF_ERR_MESSAGE_MAX] = "";
    if (rc == TF_OK)
        rc = cancel ? s_job_cancel(self, op, &reply.job_op_ok, now_wall, first_error, sizeof first_error, &err)
                    : s_job_retry(self, op, &reply.job_op_ok, now_wall, first_error, sizeof first_error, &err);
    if (rc != TF_OK) {
        s_send_error(self, peer, op->rid, rc, "%s", err.message);
        return;
    }
    reply.job_op_ok.note = s_job_op_note(&reply.job_op_ok, cancel, first_error);
    tf_log_info("job %s %s: %" PRIu64 " queued items cancelled, %" PRIu64 " abandoned in flight, %"
                PRIu64 " queued again%s%s", op->job_id, cancel ? "cancelled" : "retried",
                reply.job_op_ok.cancelled, reply.job_op_ok.abandoned, reply.job_op_ok.requeued,
                reply.job_op_ok.note ? "; " : "", reply.job_op_ok.note ? reply.job_op_ok.note : "");
    s_send(self, peer, &reply);
    free(reply.job_op_ok.note);
}

void
broker_handle(broker_t *self, const char *peer, const char *peer_key, const tf_msg_t *msg,
              int64_t now_mono, int64_t now_wall)
{
    worker_t *w = zhashx_lookup(self->workers, peer);
    if (w && (w->key || peer_key) && (!w->key || !peer_key || strcmp(w->key, peer_key) != 0)) {
        /* Another key behind a registered worker's routing id (a handover taken by a peer
           that chose that id): it speaks for nobody here. */
        char what[256];
        snprintf(what, sizeof what, "%s on the connection of worker %s (registered with key %s)",
                 tf_msg_type_name(msg->type), w->name, w->key ? w->key : "none");
        s_refuse_peer(self, peer, peer_key, what);
        return;
    }
    if (w) {
        w->expiry = now_mono + self->opts.heartbeat_ms * self->opts.liveness;
        w->last_seen = now_mono;
    }
    switch (msg->type) {
    case TF_MSG_READY:
        s_handle_ready(self, peer, peer_key, &msg->ready, now_mono, now_wall);
        break;
    case TF_MSG_HEARTBEAT:
        if (!w)
            s_send_disconnect(self, peer, "unknown worker: register again");
        break;
    case TF_MSG_DISCONNECT:
        if (w) {
            tf_log_info("worker %s disconnected: %s", w->name,
                        msg->disconnect.reason ? msg->disconnect.reason : "no reason given");
            s_worker_delete(self, w, "its worker disconnected", now_wall);
        }
        break;
    case TF_MSG_DONE:
    case TF_MSG_FAILED:
    case TF_MSG_PROGRESS: {
        const char *item_id = msg->type == TF_MSG_DONE ? msg->done.item_id
                              : msg->type == TF_MSG_FAILED ? msg->failed.item_id : msg->progress.item_id;
        if (!s_reporter_owns(self, w, peer, peer_key, item_id ? item_id : "")) {
            char what[256];
            snprintf(what, sizeof what, "%s for item %.128s: it is not in flight with that peer",
                     tf_msg_type_name(msg->type), item_id ? item_id : "?");
            s_refuse_peer(self, peer, peer_key, what);
        }
        else if (msg->type == TF_MSG_DONE)
            s_handle_done(self, peer, w, &msg->done, now_wall);
        else if (msg->type == TF_MSG_FAILED)
            s_handle_failed(self, w, &msg->failed, now_wall);
        else
            s_handle_progress(self, w, &msg->progress);
        break;
    }
    case TF_MSG_SUBMIT:
        s_handle_submit(self, peer, &msg->submit, now_wall);
        break;
    case TF_MSG_ITEM_GET:
        s_handle_item_get(self, peer, &msg->item_get);
        break;
    case TF_MSG_JOB_OP:
        s_handle_job_op(self, peer, &msg->job_op, now_wall);
        break;
    case TF_MSG_STATUS_GET: {
        tf_msg_t status;
        if (broker_status(self, msg->status_get.rid, now_mono, now_wall, &status) == TF_OK) {
            s_send(self, peer, &status);
            tf_msg_clear(&status);
        }
        else
            s_send_error(self, peer, msg->status_get.rid, TF_ERR_NOMEM, "broker out of memory");
        break;
    }
    default: {
        char reason[128];
        snprintf(reason, sizeof reason, "the broker does not accept %s messages",
                 tf_msg_type_name(msg->type));
        s_send_error(self, peer, NULL, TF_ERR_PROTO, "%s", reason);
        s_count_reject(self, peer, reason, now_wall);
        break;
    }
    }
}

void
broker_reject(broker_t *self, const char *peer, const tf_err_t *why, int64_t now_mono,
              int64_t now_wall)
{
    (void) now_mono;
    char reason[TF_ERR_MESSAGE_MAX + 32];
    snprintf(reason, sizeof reason, "malformed message: %s", why->message);
    s_send_error(self, peer, NULL, TF_ERR_PROTO, "%s", reason);
    s_count_reject(self, peer, reason, now_wall);
}

/* ------------------------------------------------------------------ items waiting for a host */

static int s_queue_job_record(broker_t *self, const char *job_id, const char *op, const char *stage,
                              const char *message, const char *tag, int64_t now_wall, char *id_out,
                              size_t id_size, tf_err_t *err);

/* True when a worker of service s registered from host (idle or busy). */
static bool
s_host_has_worker(broker_t *self, service_t *s, const char *host)
{
    for (worker_t *w = zhashx_first(self->workers); w; w = zhashx_next(self->workers))
        if (w->service == s && w->host && strcmp(w->host, host) == 0)
            return true;
    return false;
}

/* Tells the job's record why it waits (cat_job note, shown by tapeflow job). */
static void
s_host_note(broker_t *self, const char *job_id, const host_wait_t *hw, const char *text,
            int64_t now_wall)
{
    char record[TF_MSG_MAX_ID + 1];
    tf_err_t err = {0};
    if (s_queue_job_record(self, job_id, "note", hw->service, text, hw->host, now_wall, record,
                           sizeof record, &err) != TF_OK)
        tf_log_warn("job %s: cannot record that it waits for host %s: %s", job_id, hw->host,
                    err.message);
}

/* Finds the items queued longer than host_wait_alert for a host with no live worker of their
   service; alerts once per interval for each service and host, and tells each job once. A wait
   that ended (a worker of the host registered, or the items went) tells its jobs they go on. */
static void
s_host_waits(broker_t *self, int64_t now_wall)
{
    for (host_wait_t *hw = zhashx_first(self->host_waits); hw; hw = zhashx_next(self->host_waits)) {
        hw->seen = false;
        hw->waiting = 0;
    }
    zlistx_t *jobs = zlistx_new();   /* "key\tjob": the jobs found waiting in this check */
    if (!jobs)
        return;
    zlistx_set_destructor(jobs, (zlistx_destructor_fn *) zstr_free);
    for (service_t *s = zhashx_first(self->services); s; s = zhashx_next(self->services)) {
        for (item_t *it = zlistx_first(s->queue); it; it = zlistx_next(s->queue)) {
            if (!it->host || now_wall - it->queued_wall < self->opts.host_wait_alert_ms)
                continue;
            char key[TF_MSG_MAX_ID * 2 + 2];
            snprintf(key, sizeof key, "%s %s", s->name, it->host);
            host_wait_t *hw = zhashx_lookup(self->host_waits, key);
            if (!hw && s_host_has_worker(self, s, it->host))
                continue;    /* its worker is busy: an ordinary wait */
            if (!hw) {
                hw = calloc(1, sizeof *hw);
                if (!hw || !(hw->service = strdup(s->name)) || !(hw->host = strdup(it->host))
                    || !(hw->told = zhashx_new())) {
                    void *p = hw;
                    s_host_wait_destroy(&p);
                    continue;
                }
                hw->next_alert_wall = now_wall;
                if (zhashx_insert(self->host_waits, key, hw) != 0) {
                    void *p = hw;
                    s_host_wait_destroy(&p);
                    continue;
                }
            }
            hw->seen = true;
            hw->waiting++;
            if (it->job_id && !zhashx_lookup(hw->told, it->job_id)) {
                char *entry = zsys_sprintf("%s\t%s", key, it->job_id);
                if (entry && !zlistx_add_end(jobs, entry))
                    zstr_free(&entry);
            }
        }
    }
    zlistx_t *ended = zlistx_new();
    for (host_wait_t *hw = zhashx_first(self->host_waits); hw; hw = zhashx_next(self->host_waits)) {
        service_t *s = zhashx_lookup(self->services, hw->service);
        if (hw->seen && !(s && s_host_has_worker(self, s, hw->host))) {
            if (now_wall < hw->next_alert_wall)
                continue;
            char text[TF_MSG_MAX_TEXT];
            snprintf(text, sizeof text, "%zu %s item%s wait%s for host %s, which has no live %s "
                     "worker: start the file agent on %s: tapeflow up with up/roles agent",
                     hw->waiting, hw->service, hw->waiting == 1 ? "" : "s",
                     hw->waiting == 1 ? "s" : "", hw->host, hw->service, hw->host);
            tf_log_warn("%s", text);
            char topic[160];
            snprintf(topic, sizeof topic, "alert.worker.%s", hw->service);
            s_event(self, topic, "warn", NULL, "%s", text);
            hw->next_alert_wall = now_wall + self->opts.host_wait_alert_ms;
            continue;
        }
        hw->ending = true;
        if (ended)
            zlistx_add_end(ended, (void *) zhashx_cursor(self->host_waits));
    }
    /* Each job once per wait: its record says why it does not move. */
    for (char *entry = zlistx_first(jobs); entry; entry = zlistx_next(jobs)) {
        char *tab = strchr(entry, '\t');
        *tab = '\0';
        host_wait_t *hw = zhashx_lookup(self->host_waits, entry);
        if (!hw || hw->ending || zhashx_lookup(hw->told, tab + 1))
            continue;
        char text[TF_MSG_MAX_TEXT];
        snprintf(text, sizeof text, "waiting for host %s: no %s worker there (start the file agent "
                 "on %s: tapeflow up with up/roles agent)", hw->host, hw->service, hw->host);
        s_host_note(self, tab + 1, hw, text, now_wall);
        zhashx_insert(hw->told, tab + 1, (void *) 1);
    }
    zlistx_destroy(&jobs);
    for (const char *key = ended ? zlistx_first(ended) : NULL; key; key = zlistx_next(ended)) {
        host_wait_t *hw = zhashx_lookup(self->host_waits, key);
        char text[TF_MSG_MAX_TEXT];
        snprintf(text, sizeof text, "host %s has a worker for %s again: its items go on", hw->host,
                 hw->service);
        if (zhashx_size(hw->told))
            tf_log_info("%s", text);
        for (void *v = zhashx_first(hw->told); v; v = zhashx_next(hw->told))
            s_host_note(self, zhashx_cursor(hw->told), hw, text, now_wall);
        zhashx_delete(self->host_waits, key);
    }
    zlistx_destroy(&ended);
}

int64_t
broker_tick(broker_t *self, int64_t now_mono, int64_t now_wall)
{
    if (now_mono >= self->next_heartbeat) {
        tf_msg_t hb = {.type = TF_MSG_HEARTBEAT};
        hb.heartbeat.ts = (uint64_t) now_wall;
        zlistx_t *gone = zlistx_new();
        for (worker_t *w = zhashx_first(self->workers); w; w = zhashx_next(self->workers))
            if (s_send(self, w->peer, &hb) == TF_ERR_NOTFOUND && gone)
                zlistx_add_end(gone, w);
        for (worker_t *w = gone ? zlistx_first(gone) : NULL; w; w = zlistx_next(gone)) {
            tf_log_warn("worker %s is gone (its connection closed)", w->name);
            s_worker_delete(self, w, "its worker's connection closed", now_wall);
        }
        zlistx_destroy(&gone);
        self->next_heartbeat = now_mono + self->opts.heartbeat_ms;
    }
    /* Collect first: deleting while iterating a zhashx is not allowed. */
    zlistx_t *dead = zlistx_new();
    for (worker_t *w = zhashx_first(self->workers); w && dead; w = zhashx_next(self->workers))
        if (now_mono >= w->expiry)
            zlistx_add_end(dead, w);
    for (worker_t *w = dead ? zlistx_first(dead) : NULL; w; w = zlistx_next(dead)) {
        char why[256];
        snprintf(why, sizeof why, "worker %s (pid %" PRIu64 ") missed %" PRId64 " heartbeats",
                 w->name, w->pid, self->opts.liveness);
        tf_log_warn("%s; declaring it dead", why);
        char topic[160];
        snprintf(topic, sizeof topic, "alert.worker.%s", w->service->name);
        s_event(self, topic, "warn", w->item, "%s; its item goes to another worker", why);
        s_worker_delete(self, w, why, now_wall);
    }
    zlistx_destroy(&dead);

    /* Dispatch normally happens on events; the tick catches what an event could not finish
       (a journal write that failed leaves items queued next to idle workers). */
    zlistx_t *waiting = zlistx_new();  /* dispatching may add a service: collect first */
    for (service_t *s = zhashx_first(self->services); s && waiting; s = zhashx_next(self->services))
        if (zlistx_size(s->queue) > 0 && zlistx_size(s->idle) > 0)
            zlistx_add_end(waiting, s);
    for (service_t *s = waiting ? zlistx_first(waiting) : NULL; s; s = zlistx_next(waiting))
        s_dispatch(self, s, now_wall);
    zlistx_destroy(&waiting);

    if (now_mono >= self->next_host_check) {
        s_host_waits(self, now_wall);
        self->next_host_check = now_mono + S_HOST_CHECK_MS;
    }

    if (now_mono >= self->next_reject_summary) {
        s_reject_summaries(self, now_wall);
        self->next_reject_summary = now_mono + self->opts.reject_summary_ms;
    }

    if (now_mono >= self->next_purge) {
        tf_err_t err = {0};
        int n = journal_purge(self->journal, now_wall - self->opts.keep_done_ms, &err);
        if (n < 0)
            tf_log_error("%s", err.message);
        else if (n > 0)
            tf_log_info("purged %d finished items older than the retention", n);
        self->next_purge = now_mono + 3600 * 1000;
    }

    int64_t next = self->next_heartbeat;
    if (self->next_reject_summary < next)
        next = self->next_reject_summary;
    if (self->next_host_check < next)
        next = self->next_host_check;
    for (worker_t *w = zhashx_first(self->workers); w; w = zhashx_next(self->workers))
        if (w->expiry < next)
            next = w->expiry;
    return next > now_mono ? next - now_mono : 0;
}

int
broker_status(broker_t *self, const char *rid, int64_t now_mono, int64_t now_wall, tf_msg_t *status)
{
    memset(status, 0, sizeof *status);
    status->type = TF_MSG_STATUS;
    tf_msg_status_t *st = &status->status;
    st->rid = rid ? strdup(rid) : NULL;
    st->pid = (uint64_t) getpid();
    st->uptime_ms = now_mono - self->started_mono;
    st->journal = strdup(journal_path(self->journal));
    st->recovered = self->recovered;

    size_t ns = zhashx_size(self->services), nw = zhashx_size(self->workers);
    st->services = ns ? calloc(ns, sizeof *st->services) : NULL;
    st->workers = nw ? calloc(nw, sizeof *st->workers) : NULL;
    if ((ns && !st->services) || (nw && !st->workers) || !st->journal) {
        tf_msg_clear(status);
        return TF_ERR_NOMEM;
    }
    /* Services in name order so output is stable. */
    zlistx_t *names = zhashx_keys(self->services);
    if (!names) {
        tf_msg_clear(status);
        return TF_ERR_NOMEM;
    }
    zlistx_set_comparator(names, (zlistx_comparator_fn *) strcmp);
    zlistx_sort(names);
    for (const char *name = zlistx_first(names); name; name = zlistx_next(names)) {
        service_t *s = zhashx_lookup(self->services, name);
        tf_msg_service_row_t *row = &st->services[st->services_count++];
        row->name = strdup(s->name);
        row->workers = s->workers;
        row->idle = zlistx_size(s->idle);
        row->queued = zlistx_size(s->queue);
        row->inflight = s->inflight;
        row->done = s->done;
        row->failed = s->failed;
        row->redelivered = s->redelivered;
        int64_t oldest = 0;
        for (item_t *it = zhashx_first(self->items); it; it = zhashx_next(self->items))
            if (it->service == s && now_wall - it->created_wall > oldest)
                oldest = now_wall - it->created_wall;
        row->oldest_age_ms = oldest;
    }
    zlistx_destroy(&names);
    for (worker_t *w = zhashx_first(self->workers); w; w = zhashx_next(self->workers)) {
        tf_msg_worker_row_t *row = &st->workers[st->workers_count++];
        row->id = strdup(w->peer);
        row->service = strdup(w->service->name);
        row->name = strdup(w->name);
        row->pid = w->pid;
        /* busy without an item: still working on an item of a cancelled job */
        row->state = strdup(w->item || !w->idle_handle ? "busy" : "idle");
        row->item_id = w->item ? strdup(w->item->id) : NULL;
        row->idle_ms = now_mono - w->last_seen;
        row->host = w->host ? strdup(w->host) : NULL;
        row->key = w->key ? strdup(w->key) : NULL;
    }
    /* Refusals, most first: the peer flooding the broker heads the list. */
    size_t nr = zhashx_size(self->rejects);
    st->rejects = nr ? calloc(nr, sizeof *st->rejects) : NULL;
    if (nr && !st->rejects) {
        tf_msg_clear(status);
        return TF_ERR_NOMEM;
    }
    for (reject_t *r = zhashx_first(self->rejects); r; r = zhashx_next(self->rejects)) {
        size_t at = st->rejects_count++;
        while (at > 0 && st->rejects[at - 1].rejected < r->rejected) {
            st->rejects[at] = st->rejects[at - 1];
            at--;
        }
        worker_t *w = zhashx_lookup(self->workers, r->peer);
        st->rejects[at] = (tf_msg_reject_row_t){
            .peer = strdup(r->peer),
            .name = w ? strdup(w->name) : NULL,
            .rejected = r->rejected,
            .last_reason = strdup(r->last_reason),
            .last_ms = r->last_wall,
        };
    }
    return TF_OK;
}

uint64_t broker_completed(broker_t *self) { return self->completed; }
uint64_t broker_duplicates(broker_t *self) { return self->duplicates; }
uint64_t broker_refused(broker_t *self) { return self ? self->refused : 0; }

uint64_t
broker_rejected(broker_t *self, const char *peer)
{
    reject_t *r = zhashx_lookup(self->rejects, peer);
    return r ? r->rejected : 0;
}
