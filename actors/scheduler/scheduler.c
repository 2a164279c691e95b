/*  scheduler - the scheduler's core (see scheduler.h). */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler.h"
#include "tf_log.h"

/* Instants walked per tick at most (a seconds calendar after a long outage); the rest are
   walked on the next ticks. */
#define S_WALK_MAX 100000
/* The reason recorded for the instants of a disabled schedule. */
#define S_DISABLED "schedule disabled"
/* alert.scheduler at most this often. */
#define S_ALERT_EVERY_MS 60000

typedef struct {
    tf_schedule_t *schedule;
    bool loaded;
    bool done;                  /* the calendar never fires again */
    int64_t next_ms;            /* the next instant to handle */
    /* a fired run whose job has not started yet (start failed retryably, or a crash) */
    bool unstarted;
    bool unstarted_created;     /* its job is in the catalog (queued): started without checks */
    int64_t unstarted_ms;
    char unstarted_job[160];
    /* a queued run waiting for the run before it */
    bool queued;
    int64_t queued_ms;
    char queued_job[160];
} s_entry_t;

/* A schedule that is not run: its configuration is wrong. */
typedef struct {
    char *name;
    char *message;
    int64_t alert_ms;           /* when it was last alerted; 0: never */
} s_broken_t;

struct _scheduler_t {
    int64_t tick_ms;
    scheduler_ops_t ops;
    void *arg;
    s_entry_t *entries;
    size_t count;
    s_broken_t *broken;
    size_t broken_count;
    int64_t alert_ms;           /* when alert.scheduler was last published; 0: never */
    /* Instants from here on were due while this process ran (its first tick, less one tick):
       they fire however late a tick comes; only those before are catch_up's. 0: no tick yet. */
    int64_t running_since;
    uint64_t started;
};

scheduler_t *
scheduler_new(int64_t tick_ms, const scheduler_ops_t *ops, void *arg)
{
    scheduler_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->tick_ms = tick_ms > 0 ? tick_ms : 1000;
    self->ops = *ops;
    self->arg = arg;
    return self;
}

void
scheduler_destroy(scheduler_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    scheduler_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++)
        tf_schedule_destroy(&self->entries[i].schedule);
    free(self->entries);
    for (size_t i = 0; i < self->broken_count; i++) {
        free(self->broken[i].name);
        free(self->broken[i].message);
    }
    free(self->broken);
    free(self);
    *self_p = NULL;
}

int
scheduler_add(scheduler_t *self, tf_schedule_t **schedule_p, tf_err_t *err)
{
    s_entry_t *grown = realloc(self->entries, (self->count + 1) * sizeof *grown);
    if (!grown)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory adding schedule %s", tf_schedule_name(*schedule_p));
    self->entries = grown;
    self->entries[self->count++] = (s_entry_t){.schedule = *schedule_p};
    *schedule_p = NULL;
    return TF_OK;
}

int
scheduler_add_broken(scheduler_t *self, const char *name, const char *message, tf_err_t *err)
{
    s_broken_t *grown = realloc(self->broken, (self->broken_count + 1) * sizeof *grown);
    if (!grown)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory adding schedule %s", name);
    self->broken = grown;
    s_broken_t *b = &self->broken[self->broken_count];
    *b = (s_broken_t){.name = strdup(name), .message = strdup(message)};
    if (!b->name || !b->message) {
        free(b->name);
        free(b->message);
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory adding schedule %s", name);
    }
    self->broken_count++;
    return TF_OK;
}

uint64_t
scheduler_started(scheduler_t *self)
{
    return self->started;
}

/* ------------------------------------------------------------------ helpers ----------- */

/* alert.scheduler, at most once a minute: the catalog or the broker cannot be reached. */
static void
s_trouble(scheduler_t *self, int64_t now, const char *what, const tf_err_t *err)
{
    if (self->alert_ms != 0 && now - self->alert_ms < S_ALERT_EVERY_MS)
        return;
    self->alert_ms = now;
    char message[TF_ERR_MESSAGE_MAX + 128];
    snprintf(message, sizeof message, "%s: %s; schedules wait", what, err->message);
    tf_log_warn("%s", message);
    self->ops.publish(self->arg, "alert.scheduler", "warn", NULL, message);
}

static void
s_say(scheduler_t *self, const s_entry_t *e, const char *what, const char *level, const char *job_id,
      const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Publishes schedule.NAME.WHAT, or alert.schedule.NAME for what "alert.schedule" (and logs it). */
static void
s_say(scheduler_t *self, const s_entry_t *e, const char *what, const char *level, const char *job_id,
      const char *fmt, ...)
{
    char topic[256], message[1024];
    const char *name = tf_schedule_name(e->schedule);
    if (strcmp(what, "alert.schedule") == 0)
        snprintf(topic, sizeof topic, "alert.schedule.%s", name);
    else
        snprintf(topic, sizeof topic, "schedule.%s.%s", name, what);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    if (strcmp(level, "info") == 0)
        tf_log_info("%s", message);
    else if (strcmp(level, "warn") == 0)
        tf_log_warn("%s", message);
    else
        tf_log_error("%s", message);
    self->ops.publish(self->arg, topic, level, job_id, message);
}

static void
s_local(const s_entry_t *e, int64_t ms, char *buf, size_t size)
{
    tf_tz_format(tf_schedule_tz(e->schedule), ms, buf, size);
}

static bool
s_job_active(const char *status)
{
    return strcmp(status, "queued") == 0 || strcmp(status, "running") == 0;
}

/* Claims (or updates) the row of instant_ms; *stored is the row the catalog holds. */
static int
s_sched(scheduler_t *self, const s_entry_t *e, const char *op, int64_t instant_ms, const char *kind,
        const char *reason, const char *job_id, scheduler_row_t *stored, tf_err_t *err)
{
    tf_msg_cat_sched_t req = {.op = (char *) op,
                              .schedule = (char *) tf_schedule_name(e->schedule),
                              .instant_ms = instant_ms,
                              .kind = (char *) kind,
                              .reason = (char *) reason,
                              .job_id = (char *) job_id};
    memset(stored, 0, sizeof *stored);
    return self->ops.sched(self->arg, &req, stored, err);
}

/* Starts the job of a fired run (check: after its checks). TF_OK also when its checks refused
   it (recorded failed); an error only when it should be tried again. */
static int
s_start(scheduler_t *self, s_entry_t *e, int64_t instant_ms, const char *job_id, bool check, int64_t now)
{
    tf_schedule_job_t buf;
    tf_job_spec_t spec;
    tf_schedule_job_spec(e->schedule, instant_ms, false, job_id, &buf, &spec);
    bool refused = false;
    tf_err_t err = {0};
    int rc = self->ops.start_job(self->arg, &spec, check, &refused, &err);
    if (rc != TF_OK && refused) {
        char why[TF_ERR_MESSAGE_MAX];
        snprintf(why, sizeof why, "%s", err.message);
        s_say(self, e, "alert.schedule", "error", job_id, "schedule %s: job %s could not start: %s",
              tf_schedule_name(e->schedule), job_id, why);
        tf_err_clear(&err);
        rc = self->ops.record_failure(self->arg, &spec, why, &err);
    }
    if (rc != TF_OK) {
        e->unstarted = true;
        e->unstarted_created = !check;
        e->unstarted_ms = instant_ms;
        snprintf(e->unstarted_job, sizeof e->unstarted_job, "%s", job_id);
        char what[256];
        snprintf(what, sizeof what, "cannot start job %s of schedule %s", job_id, tf_schedule_name(e->schedule));
        s_trouble(self, now, what, &err);
        return rc;
    }
    if (!refused)
        self->started++;
    e->unstarted = false;
    return TF_OK;
}

/* The job of the schedule's newest run that has one (fired or manual), other than the run at
   except_ms, and whether it is still queued or running. */
static int
s_previous(scheduler_t *self, s_entry_t *e, int64_t except_ms, char *job, size_t size, bool *active,
           tf_err_t *err)
{
    scheduler_row_t rows[SCHEDULER_HISTORY_ROWS];
    size_t count = 0;
    *active = false;
    job[0] = '\0';
    int rc = self->ops.history(self->arg, tf_schedule_name(e->schedule), rows, SCHEDULER_HISTORY_ROWS, &count, err);
    for (size_t i = 0; rc == TF_OK && i < count; i++) {
        if (rows[i].instant_ms == except_ms || !rows[i].job_id[0]
            || (strcmp(rows[i].kind, "fired") != 0 && strcmp(rows[i].kind, "manual") != 0))
            continue;
        snprintf(job, size, "%s", rows[i].job_id);
        char status[32];
        rc = self->ops.job_status(self->arg, job, status, sizeof status, err);
        if (rc == TF_ERR_NOTFOUND) {
            tf_err_clear(err);
            rc = TF_OK;
        } else if (rc == TF_OK)
            *active = s_job_active(status);
        break;
    }
    return rc;
}

/* ------------------------------------------------------------------ loading ----------- */

/* Whether rows hold one a scheduler wrote (not a manual run) for an instant up to now. */
static bool
s_has_scheduled(const scheduler_row_t *rows, size_t count, int64_t now)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(rows[i].kind, "manual") != 0 && rows[i].instant_ms <= now)
            return true;
    return false;
}

/* The newest history rows into *rows_p (caller frees), *max_p rows asked for: more while they
   are all manual runs, so that many manual runs do not hide where the scheduled ones end. */
static int
s_load_history(scheduler_t *self, const s_entry_t *e, int64_t now, scheduler_row_t **rows_p, size_t *count,
               size_t *max_p, tf_err_t *err)
{
    const char *name = tf_schedule_name(e->schedule);
    for (size_t max = SCHEDULER_HISTORY_ROWS;; max *= 10) {
        free(*rows_p);
        *rows_p = calloc(max, sizeof **rows_p);
        if (!*rows_p)
            return tf_err_set(err, TF_ERR_NOMEM, "out of memory reading the history of schedule %s", name);
        *max_p = max;
        int rc = self->ops.history(self->arg, name, *rows_p, max, count, err);
        bool enough = *count < max || max * 10 > SCHEDULER_HISTORY_MAX || s_has_scheduled(*rows_p, *count, now);
        if (rc != TF_OK || enough)
            return rc;
    }
}

/* Where the history (rows, newest first, max asked for) ends, a fired run to start again, a
   queued run to wait for. */
static int
s_load_rows(scheduler_t *self, s_entry_t *e, const scheduler_row_t *rows, size_t count, size_t max, int64_t now,
            tf_err_t *err)
{
    int rc = TF_OK;
    const scheduler_row_t *last = NULL, *fired = NULL, *queued = NULL;
    for (size_t i = 0; i < count; i++) {
        /* A row ahead of now no scheduler wrote (claims are made when due): the walk must
           reach its instant, so that s_fire finds it and says so. */
        if (strcmp(rows[i].kind, "manual") == 0 || rows[i].instant_ms > now)
            continue;
        if (!last)
            last = &rows[i];
        /* Only a job this schedule's run would have: a row naming another job was not written
           by a scheduler (s_fire raised the alert) and is not started. */
        char ours[160];
        tf_job_id_scheduled(ours, sizeof ours, tf_schedule_name(e->schedule), rows[i].instant_ms);
        if (strcmp(rows[i].job_id, ours) != 0)
            continue;
        if (!fired && strcmp(rows[i].kind, "fired") == 0)
            fired = &rows[i];
        if (!fired && !queued && strcmp(rows[i].kind, "queued") == 0)
            queued = &rows[i];
    }
    if (fired) {
        /* Claimed, then the scheduler stopped before the job was recorded, or between its
           create and its scans (the job stays queued, no scan ever reports): start it again.
           tf_job_start is idempotent - the same job id and item ids - so a create or scan
           that did happen is not repeated. */
        char status[32] = "";
        rc = self->ops.job_status(self->arg, fired->job_id, status, sizeof status, err);
        bool restart = rc == TF_ERR_NOTFOUND || (rc == TF_OK && strcmp(status, "queued") == 0);
        if (rc == TF_ERR_NOTFOUND) {
            tf_err_clear(err);
            rc = TF_OK;
        }
        if (rc != TF_OK)
            return rc;
        if (restart) {
            e->unstarted = true;
            e->unstarted_created = strcmp(status, "queued") == 0;
            e->unstarted_ms = fired->instant_ms;
            snprintf(e->unstarted_job, sizeof e->unstarted_job, "%s", fired->job_id);
        }
    }
    if (queued) {
        e->queued = true;
        e->queued_ms = queued->instant_ms;
        snprintf(e->queued_job, sizeof e->queued_job, "%s", queued->job_id);
    }
    int64_t after = last ? last->instant_ms : now;
    /* SCHEDULER_HISTORY_MAX manual runs and no other: the scheduled rows are older than all of
       them, so no instant after the oldest read was recorded - count on from there. */
    if (!last && count == max && count > 0 && rows[count - 1].instant_ms < now)
        after = rows[count - 1].instant_ms;
    tf_err_t cerr = {0};
    rc = tf_schedule_next(e->schedule, after, &e->next_ms, &cerr);
    e->done = rc != TF_OK;
    e->loaded = true;
    return TF_OK;
}

/* First sight of a schedule: where its history ends, a fired run to start again, a queued run
   to wait for. */
static int
s_load(scheduler_t *self, s_entry_t *e, int64_t now, tf_err_t *err)
{
    scheduler_row_t *rows = NULL;
    size_t count = 0, max = 0;
    int rc = s_load_history(self, e, now, &rows, &count, &max, err);
    if (rc != TF_OK) {
        free(rows);
        return rc;
    }
    rc = s_load_rows(self, e, rows, count, max, now, err);
    free(rows);
    return rc;
}

/* ------------------------------------------------------------------ firing ------------ */

/* Whether the row stored for an instant is one a scheduler of this schedule writes when it
   claims kind with job_id: fired or queued with that job id (another scheduler may have seen
   the previous run otherwise), or skipped as claimed. */
static bool
s_row_ours(const scheduler_row_t *stored, const char *kind, const char *job_id)
{
    if (strcmp(stored->kind, "fired") == 0 || strcmp(stored->kind, "queued") == 0)
        return strcmp(stored->job_id, job_id) == 0;
    return strcmp(stored->kind, "skipped") == 0 && strcmp(kind, "skipped") == 0;
}

/* Someone other than a scheduler recorded the instant first (a manual run at that very
   instant, or a key with role backup): the run is not started, loudly. */
static void
s_not_ours(scheduler_t *self, const s_entry_t *e, const scheduler_row_t *stored, const char *at)
{
    char row[sizeof stored->kind + sizeof stored->job_id + sizeof stored->reason + 16];
    snprintf(row, sizeof row, "%s%s%s%s%s", stored->kind, stored->job_id[0] ? " with job " : "", stored->job_id,
             stored->reason[0] ? ": " : "", stored->reason);
    const char *name = tf_schedule_name(e->schedule);
    s_say(self, e, "alert.schedule", "warn", stored->job_id[0] ? stored->job_id : NULL,
          "schedule %s: the run at %s was not started: the catalog already holds a row for it that "
          "no scheduler wrote (%s); see tapeflow schedule history %s, and ask who ran tapeflow "
          "schedule run %s at that instant or holds a key with role backup (tapeflow keys list)",
          name, at, row, name, name);
}

/* The run of instant I fires: skipped or queued behind a running previous run, or claimed and
   its job started. */
static int
s_fire(scheduler_t *self, s_entry_t *e, int64_t instant, int64_t now, tf_err_t *err)
{
    const char *name = tf_schedule_name(e->schedule);
    char job_id[160], prev[160], at[64];
    tf_job_id_scheduled(job_id, sizeof job_id, name, instant);
    s_local(e, instant, at, sizeof at);
    bool active = false;
    int rc = s_previous(self, e, instant, prev, sizeof prev, &active, err);
    if (rc != TF_OK)
        return rc;
    scheduler_row_t stored;
    char reason[256] = "";
    const char *kind = "fired";
    if (active && tf_schedule_overlap(e->schedule) == TF_OVERLAP_QUEUE && !e->queued)
        kind = "queued";
    else if (active) {
        kind = "skipped";
        if (e->queued)
            snprintf(reason, sizeof reason, "run %s is already queued", e->queued_job);
        else
            snprintf(reason, sizeof reason, "previous run %s still running", prev);
    }
    rc = s_sched(self, e, "claim", instant, kind, reason[0] ? reason : NULL,
                 strcmp(kind, "skipped") == 0 ? NULL : job_id, &stored, err);
    if (rc != TF_OK)
        return rc;
    if (!s_row_ours(&stored, kind, job_id)) {
        s_not_ours(self, e, &stored, at);
        return TF_OK;
    }
    /* Act on the stored row: another scheduler (or this one before a restart) may have claimed
       the instant first. */
    if (strcmp(stored.kind, "fired") == 0) {
        if (strcmp(kind, "fired") == 0)
            s_say(self, e, "fired", "info", stored.job_id, "schedule %s fired at %s: job %s (%s)", name, at,
                  stored.job_id, tf_schedule_level(e->schedule, instant));
        /* A start that fails is kept (unstarted) and tried again each tick: the instant is
           handled. */
        s_start(self, e, instant, stored.job_id, true, now);
    }
    else if (strcmp(stored.kind, "queued") == 0) {
        e->queued = true;
        e->queued_ms = instant;
        snprintf(e->queued_job, sizeof e->queued_job, "%s", stored.job_id);
        if (strcmp(kind, "queued") == 0)
            s_say(self, e, "queued", "info", stored.job_id, "schedule %s: run at %s queued behind %s (job %s)",
                  name, at, prev, stored.job_id);
    } else {
        s_say(self, e, "skipped", "warn", NULL, "schedule %s: run at %s skipped: %s", name, at, reason);
        s_say(self, e, "alert.schedule", "warn", NULL, "schedule %s: run at %s skipped: %s", name, at, reason);
    }
    return TF_OK;
}

/* Why a missed instant did not fire. */
static void
s_missed_reason(const scheduler_t *self, const s_entry_t *e, int64_t instant, bool latest, char *buf, size_t size)
{
    int64_t within_ms = 0;
    tf_catch_up_t policy = tf_schedule_catch_up(e->schedule, &within_ms);
    if (instant >= self->running_since)
        snprintf(buf, size, "the scheduler was late: a later run was due by the time it looked");
    else if (policy == TF_CATCH_UP_SKIP)
        snprintf(buf, size, "catch_up skip");
    else if (latest)
        snprintf(buf, size, "older than catch_up %s", tf_schedule_catch_up_text(e->schedule));
    else {
        char at[64];
        s_local(e, instant, at, sizeof at);
        snprintf(buf, size, "scheduler was not running at %s", at);
    }
}

/* Records the instants of [from, last] missed (count of them) - or, disabled, skipped because
   the schedule is disabled -, at most SCHEDULER_MISSED_MAX rows: the last row stands for the
   rest. */
static int
s_record_missed(scheduler_t *self, s_entry_t *e, int64_t from, int64_t last, uint64_t count, bool last_is_latest,
                bool disabled, tf_err_t *err)
{
    uint64_t n = 0;
    int64_t instant = from;
    int rc = TF_OK;
    while (rc == TF_OK && instant <= last) {
        n++;
        char more[160] = "";
        if (n == SCHEDULER_MISSED_MAX && instant != last) {
            /* One row stands for this instant and the rest: it is recorded at the last one, so
               the history ends there. */
            char at[64];
            s_local(e, instant, at, sizeof at);
            snprintf(more, sizeof more, "; and %" PRIu64 " more runs missed from %s", count - n, at);
            instant = last;
        }
        bool is_last = instant == last;
        char reason[512] = S_DISABLED;
        if (!disabled)
            s_missed_reason(self, e, instant, is_last && last_is_latest, reason, sizeof reason);
        size_t used = strlen(reason);
        snprintf(reason + used, sizeof reason - used, "%s", more);
        scheduler_row_t stored;
        rc = s_sched(self, e, "claim", instant, disabled ? "skipped" : "missed", reason, NULL, &stored, err);
        if (rc != TF_OK || is_last)
            break;
        rc = tf_schedule_next(e->schedule, instant, &instant, err);
    }
    if (rc == TF_OK && count > 0 && disabled) {
        char a[64], b[64];
        s_local(e, from, a, sizeof a);
        s_local(e, last, b, sizeof b);
        if (count == 1)
            s_say(self, e, "skipped", "info", NULL, "schedule %s: run at %s skipped: " S_DISABLED,
                  tf_schedule_name(e->schedule), a);
        else
            s_say(self, e, "skipped", "info", NULL,
                  "schedule %s: %" PRIu64 " runs from %s to %s skipped: " S_DISABLED, tf_schedule_name(e->schedule),
                  count, a, b);
    } else if (rc == TF_OK && count > 0) {
        char a[64], b[64], why[256];
        s_local(e, from, a, sizeof a);
        s_local(e, last, b, sizeof b);
        if (from >= self->running_since)
            snprintf(why, sizeof why, "the scheduler was late: a later run was due by the time it looked");
        else if (tf_schedule_catch_up(e->schedule, NULL) == TF_CATCH_UP_SKIP)
            snprintf(why, sizeof why, "catch_up skip");
        else if (last_is_latest && count == 1)
            snprintf(why, sizeof why, "older than catch_up %s", tf_schedule_catch_up_text(e->schedule));
        else if (last_is_latest)
            snprintf(why, sizeof why, "the scheduler was not running; the latest is older than catch_up %s",
                     tf_schedule_catch_up_text(e->schedule));
        else
            snprintf(why, sizeof why, "the scheduler was not running");
        if (count == 1)
            s_say(self, e, "missed", "warn", NULL, "schedule %s missed its run at %s: %s",
                  tf_schedule_name(e->schedule), a, why);
        else
            s_say(self, e, "missed", "warn", NULL, "schedule %s missed %" PRIu64 " runs from %s to %s: %s",
                  tf_schedule_name(e->schedule), count, a, b, why);
    }
    return rc;
}

/* The due instants from e->next_ms up to now: the latest, the one before it, how many, and
   whether all were walked (S_WALK_MAX). */
typedef struct {
    int64_t first, latest, before;
    uint64_t count;
    bool walked_all;
} s_walk_t;

static void
s_walk(const s_entry_t *e, int64_t now, s_walk_t *w)
{
    *w = (s_walk_t){.first = e->next_ms, .latest = e->next_ms, .count = 1, .walked_all = true};
    int64_t instant = w->first;
    while (true) {
        int64_t next;
        tf_err_t cerr = {0};
        if (tf_schedule_next(e->schedule, instant, &next, &cerr) != TF_OK || next > now)
            break;
        if (w->count == S_WALK_MAX) {
            w->walked_all = false;
            break;
        }
        w->before = w->latest;
        w->latest = instant = next;
        w->count++;
    }
}

/* A disabled schedule's instants are recorded skipped as they pass (S_DISABLED), so that once
   enabled again it does not take them for runs missed while the scheduler was down. */
static int
s_disabled(scheduler_t *self, s_entry_t *e, int64_t now, tf_err_t *err)
{
    s_walk_t w;
    s_walk(e, now, &w);
    int rc = s_record_missed(self, e, w.first, w.latest, w.count, false, true, err);
    if (rc != TF_OK)
        return rc;
    tf_err_t cerr = {0};
    e->done = tf_schedule_next(e->schedule, w.latest, &e->next_ms, &cerr) != TF_OK;
    return TF_OK;
}

/* Handles every instant from e->next_ms up to now. */
static int
s_due(scheduler_t *self, s_entry_t *e, int64_t now, tf_err_t *err)
{
    s_walk_t w;
    s_walk(e, now, &w);
    int64_t first = w.first, latest = w.latest, before = w.before;
    uint64_t count = w.count;
    int rc = TF_OK;
    if (!w.walked_all) {
        /* All of these are missed; the walk goes on from here on the next tick. */
        rc = s_record_missed(self, e, first, latest, count, false, false, err);
    } else {
        int64_t within_ms = 0;
        tf_catch_up_t policy = tf_schedule_catch_up(e->schedule, &within_ms);
        /* Due while this process ran: fires however late the tick (a slow start or catalog
           call before it); catch_up is for the instants the scheduler was not running at. */
        bool on_time = latest >= self->running_since;
        bool fire = on_time || policy == TF_CATCH_UP_ONCE
                    || (policy == TF_CATCH_UP_WITHIN && now - latest <= within_ms);
        if (!fire)
            rc = s_record_missed(self, e, first, latest, count, true, false, err);
        else if (count > 1)
            rc = s_record_missed(self, e, first, before, count - 1, false, false, err);
        if (rc == TF_OK && fire)
            rc = s_fire(self, e, latest, now, err);
    }
    if (rc != TF_OK)
        return rc;
    tf_err_t cerr = {0};
    e->done = tf_schedule_next(e->schedule, latest, &e->next_ms, &cerr) != TF_OK;
    return TF_OK;
}

/* A queued run starts once the run before it has ended. */
static int
s_queued(scheduler_t *self, s_entry_t *e, int64_t now, tf_err_t *err)
{
    char prev[160];
    bool active = false;
    int rc = s_previous(self, e, e->queued_ms, prev, sizeof prev, &active, err);
    if (rc != TF_OK || active)
        return rc;
    scheduler_row_t stored;
    rc = s_sched(self, e, "update", e->queued_ms, "fired", NULL, e->queued_job, &stored, err);
    if (rc != TF_OK)
        return rc;
    e->queued = false;
    char at[64];
    s_local(e, e->queued_ms, at, sizeof at);
    s_say(self, e, "fired", "info", e->queued_job, "schedule %s fired its run of %s queued behind %s: job %s (%s)",
          tf_schedule_name(e->schedule), at, prev[0] ? prev : "(none)", e->queued_job,
          tf_schedule_level(e->schedule, e->queued_ms));
    s_start(self, e, e->queued_ms, e->queued_job, true, now);   /* a failure is kept and retried */
    return TF_OK;
}

/* Everything due for one schedule; an error leaves it to the next tick. */
static int
s_tick_one(scheduler_t *self, s_entry_t *e, int64_t now, tf_err_t *err)
{
    int rc = TF_OK;
    if (!e->loaded)
        rc = s_load(self, e, now, err);
    if (rc == TF_OK && e->unstarted) {
        rc = s_start(self, e, e->unstarted_ms, e->unstarted_job, !e->unstarted_created, now);
        if (rc != TF_OK)
            return TF_OK;   /* already reported by s_start */
    }
    if (rc == TF_OK && e->queued)
        rc = s_queued(self, e, now, err);
    if (rc == TF_OK && e->unstarted)
        return TF_OK;
    if (rc == TF_OK && !e->done && e->next_ms <= now)
        rc = tf_schedule_enabled(e->schedule) ? s_due(self, e, now, err) : s_disabled(self, e, now, err);
    return rc;
}

void
scheduler_tick(scheduler_t *self, int64_t now_ms)
{
    /* An instant within the tick before the first one would have been handled had the process
       started a moment earlier: not missed. */
    if (self->running_since == 0)
        self->running_since = now_ms - self->tick_ms;
    for (size_t i = 0; i < self->broken_count; i++) {
        s_broken_t *b = &self->broken[i];
        if (b->alert_ms != 0 && now_ms - b->alert_ms < SCHEDULER_BROKEN_EVERY_MS)
            continue;
        b->alert_ms = now_ms;
        char topic[256], message[TF_ERR_MESSAGE_MAX + 256];
        snprintf(topic, sizeof topic, "alert.schedule.%s", b->name);
        snprintf(message, sizeof message, "schedule %s is not run: %s", b->name, b->message);
        tf_log_error("%s", message);
        self->ops.publish(self->arg, topic, "error", NULL, message);
    }
    for (size_t i = 0; i < self->count; i++) {
        tf_err_t err = {0};
        s_entry_t *e = &self->entries[i];
        /* Interrupted: the process is stopping, nothing to report. */
        if (s_tick_one(self, e, now_ms, &err) != TF_OK && !e->unstarted && err.code != TF_ERR_INTERRUPTED)
            s_trouble(self, now_ms, "cannot reach the catalog", &err);
    }
}
