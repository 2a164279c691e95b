/*  The scheduler core without sockets (actors/scheduler/scheduler.c): a fake catalog in memory
    (schedule_runs rows, jobs) behind the core's ops, and a clock the tests set by hand. Covers
    exact fire instants across both DST changes in Europe/Berlin, a scheduler killed before,
    during and just after firing and between a job's create and its scans (the core object
    dropped at that point and a new one made on the same fake catalog: one job overall), two
    schedulers at once, a 6-hour outage with catch_up once / skip / within (also behind many
    manual runs), late ticks (not an outage), the cap on missed rows, overlap skip (row and
    alert) and queue (starts when the previous run ends), a run row no scheduler wrote (alert,
    no start), a start refused by its checks (a failed job), an unreachable catalog (one alert a
    minute), a disabled schedule (skipped rows, nothing caught up once enabled), level rules,
    schedule config errors (alerted hourly) and the job of a run (scheduled and manual). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler.h"
#include "tf_config.h"
#include "tf_schedule.h"

#define S_MAX_ROWS 4096
#define S_MAX_JOBS 256
#define S_MAX_EVENTS 256
#define S_HOUR (3600LL * 1000)

typedef struct {
    char schedule[64];
    int64_t instant_ms;
    char kind[16];
    char reason[512];
    char job_id[160];
} fake_row_t;

typedef struct {
    char job_id[160];
    char status[32];
    char level[16];
    char trigger[256];
    char message[512];
} fake_job_t;

/* The fake catalog and what the core did to it. */
typedef struct {
    fake_row_t rows[S_MAX_ROWS];
    size_t nrows;
    fake_job_t jobs[S_MAX_JOBS];
    size_t njobs;
    char starts[S_MAX_JOBS][160];   /* start_job calls, in order */
    size_t nstarts;
    size_t nfailures;               /* record_failure calls */
    char events[S_MAX_EVENTS][640]; /* "topic level message" */
    size_t nevents;
    /* injected faults */
    bool down;                      /* every catalog op times out */
    bool crash_before_claim;        /* a claim fails, nothing stored */
    bool crash_after_claim;         /* a claim is stored, then fails */
    bool crash_after_start;         /* a start records the job, then fails */
    bool crash_after_create;        /* a start records the job queued (no scans), then fails */
    bool refuse_start;              /* the job's checks fail */
} fake_t;

static fake_row_t *
s_find_row(fake_t *f, const char *schedule, int64_t instant)
{
    for (size_t i = 0; i < f->nrows; i++)
        if (strcmp(f->rows[i].schedule, schedule) == 0 && f->rows[i].instant_ms == instant)
            return &f->rows[i];
    return NULL;
}

static fake_job_t *
s_find_job(fake_t *f, const char *job_id)
{
    for (size_t i = 0; i < f->njobs; i++)
        if (strcmp(f->jobs[i].job_id, job_id) == 0)
            return &f->jobs[i];
    return NULL;
}

static fake_job_t *
s_add_job(fake_t *f, const char *job_id, const char *status)
{
    assert_true(f->njobs < S_MAX_JOBS);
    fake_job_t *j = &f->jobs[f->njobs++];
    memset(j, 0, sizeof *j);
    snprintf(j->job_id, sizeof j->job_id, "%s", job_id);
    snprintf(j->status, sizeof j->status, "%s", status);
    return j;
}

static fake_row_t *
s_add_row(fake_t *f, const char *schedule, int64_t instant, const char *kind, const char *reason, const char *job)
{
    assert_true(f->nrows < S_MAX_ROWS);
    fake_row_t *r = &f->rows[f->nrows++];
    memset(r, 0, sizeof *r);
    snprintf(r->schedule, sizeof r->schedule, "%s", schedule);
    r->instant_ms = instant;
    snprintf(r->kind, sizeof r->kind, "%s", kind);
    snprintf(r->reason, sizeof r->reason, "%s", reason ? reason : "");
    snprintf(r->job_id, sizeof r->job_id, "%s", job ? job : "");
    return r;
}

static void
s_out(const fake_row_t *r, scheduler_row_t *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->kind, sizeof out->kind, "%s", r->kind);
    out->instant_ms = r->instant_ms;
    snprintf(out->job_id, sizeof out->job_id, "%s", r->job_id);
    snprintf(out->reason, sizeof out->reason, "%s", r->reason);
}

static int
s_sched(void *arg, const tf_msg_cat_sched_t *req, scheduler_row_t *stored, tf_err_t *err)
{
    fake_t *f = arg;
    if (f->down || f->crash_before_claim)
        return tf_err_set(err, TF_ERR_TIMEOUT, "the catalog did not answer");
    fake_row_t *r = s_find_row(f, req->schedule, req->instant_ms);
    if (strcmp(req->op, "claim") == 0) {
        if (!r)
            r = s_add_row(f, req->schedule, req->instant_ms, req->kind, req->reason, req->job_id);
    } else {
        assert_string_equal(req->op, "update");
        if (!r)
            return tf_err_set(err, TF_ERR_NOTFOUND, "no run of %s at that instant", req->schedule);
        snprintf(r->kind, sizeof r->kind, "%s", req->kind);
        snprintf(r->job_id, sizeof r->job_id, "%s", req->job_id ? req->job_id : "");
    }
    if (f->crash_after_claim)
        return tf_err_set(err, TF_ERR_TIMEOUT, "the catalog did not answer");
    s_out(r, stored);
    return TF_OK;
}

static int
s_history(void *arg, const char *schedule, scheduler_row_t *rows, size_t max, size_t *count, tf_err_t *err)
{
    fake_t *f = arg;
    *count = 0;
    if (f->down)
        return tf_err_set(err, TF_ERR_TIMEOUT, "the catalog did not answer");
    /* newest instant first: pick the newest not yet taken, max times */
    int64_t below = INT64_MAX;
    while (*count < max) {
        const fake_row_t *best = NULL;
        for (size_t i = 0; i < f->nrows; i++)
            if (strcmp(f->rows[i].schedule, schedule) == 0 && f->rows[i].instant_ms < below
                && (!best || f->rows[i].instant_ms > best->instant_ms))
                best = &f->rows[i];
        if (!best)
            break;
        s_out(best, &rows[(*count)++]);
        below = best->instant_ms;
    }
    return TF_OK;
}

static int
s_job_status(void *arg, const char *job_id, char *status, size_t size, tf_err_t *err)
{
    fake_t *f = arg;
    if (f->down)
        return tf_err_set(err, TF_ERR_TIMEOUT, "the catalog did not answer");
    const fake_job_t *j = s_find_job(f, job_id);
    if (!j)
        return tf_err_set(err, TF_ERR_NOTFOUND, "no job %s in the catalog", job_id);
    snprintf(status, size, "%s", j->status);
    return TF_OK;
}

static int
s_start_job(void *arg, const tf_job_spec_t *spec, bool check, bool *refused, tf_err_t *err)
{
    fake_t *f = arg;
    *refused = false;
    if (f->down)
        return tf_err_set(err, TF_ERR_TIMEOUT, "broker not reachable");
    if (f->refuse_start && check) {
        *refused = true;
        return tf_err_set(err, TF_ERR_INVALID, "pool nightly has no writable volume");
    }
    assert_true(f->nstarts < S_MAX_JOBS);
    snprintf(f->starts[f->nstarts++], sizeof f->starts[0], "%s", spec->job_id);
    /* like the catalog: a repeated create changes nothing */
    fake_job_t *j = s_find_job(f, spec->job_id);
    if (!j) {
        j = s_add_job(f, spec->job_id, f->crash_after_create ? "queued" : "running");
        snprintf(j->level, sizeof j->level, "%s", spec->level);
        snprintf(j->trigger, sizeof j->trigger, "%s", spec->trigger);
    }
    if (f->crash_after_create)
        return tf_err_set(err, TF_ERR_TIMEOUT, "broker not reachable");
    if (strcmp(j->status, "queued") == 0)
        snprintf(j->status, sizeof j->status, "running");   /* its scans are submitted now */
    if (f->crash_after_start)
        return tf_err_set(err, TF_ERR_TIMEOUT, "broker not reachable");
    return TF_OK;
}

static int
s_record_failure(void *arg, const tf_job_spec_t *spec, const char *message, tf_err_t *err)
{
    fake_t *f = arg;
    (void) err;
    f->nfailures++;
    fake_job_t *j = s_find_job(f, spec->job_id);
    if (!j)
        j = s_add_job(f, spec->job_id, "failed");
    snprintf(j->status, sizeof j->status, "failed");
    snprintf(j->message, sizeof j->message, "%s", message);
    return TF_OK;
}

static void
s_publish(void *arg, const char *topic, const char *level, const char *job_id, const char *message)
{
    fake_t *f = arg;
    (void) job_id;
    if (f->nevents < S_MAX_EVENTS)
        snprintf(f->events[f->nevents++], sizeof f->events[0], "%s %s %s", topic, level, message);
}

static const scheduler_ops_t s_ops = {s_sched, s_history, s_job_status, s_start_job, s_record_failure, s_publish};

/* ------------------------------------------------------------------ helpers ----------- */

/* UTC ms of a civil date and time (proleptic Gregorian). */
static int64_t
s_utc(int y, int mo, int d, int h, int mi, int s)
{
    y -= mo <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = era * 146097 + doe - 719468;
    return ((days * 24 + h) * 60 + mi) * 60000LL + s * 1000LL;
}

/* A schedule "nightly" with settings "key=value" (NULL-terminated) over paths=/srv. */
static tf_schedule_t *
s_schedule(const char *name, const char *const settings[])
{
    tf_config_t *cfg = tf_config_new();
    assert_non_null(cfg);
    char key[256];
    snprintf(key, sizeof key, "schedules/%s/paths", name);
    assert_int_equal(tf_config_set(cfg, key, "/srv"), 0);
    for (size_t i = 0; settings && settings[i]; i++) {
        const char *eq = strchr(settings[i], '=');
        assert_non_null(eq);
        snprintf(key, sizeof key, "schedules/%s/%.*s", name, (int) (eq - settings[i]), settings[i]);
        assert_int_equal(tf_config_set(cfg, key, eq + 1), 0);
    }
    tf_err_t err = {0};
    tf_schedule_t *s = tf_schedule_new(cfg, name, &err);
    if (!s)
        fail_msg("schedule %s: %s", name, err.message);
    tf_config_destroy(&cfg);
    return s;
}

static scheduler_t *
s_core(fake_t *f, const char *name, const char *const settings[])
{
    scheduler_t *core = scheduler_new(1000, &s_ops, f);
    assert_non_null(core);
    tf_schedule_t *s = s_schedule(name, settings);
    tf_err_t err = {0};
    assert_int_equal(scheduler_add(core, &s, &err), TF_OK);
    assert_null(s);
    return core;
}

static size_t
s_count_kind(const fake_t *f, const char *kind)
{
    size_t n = 0;
    for (size_t i = 0; i < f->nrows; i++)
        n += strcmp(f->rows[i].kind, kind) == 0;
    return n;
}

static size_t
s_count_events(const fake_t *f, const char *prefix)
{
    size_t n = 0;
    for (size_t i = 0; i < f->nevents; i++)
        n += strncmp(f->events[i], prefix, strlen(prefix)) == 0;
    return n;
}

/* Every start was of the same job id and exactly one job was started: the instant fired once. */
static void
s_assert_one_job(const fake_t *f, const char *job_id)
{
    assert_true(f->nstarts >= 1);
    for (size_t i = 0; i < f->nstarts; i++)
        assert_string_equal(f->starts[i], job_id);
    size_t jobs = 0;
    for (size_t i = 0; i < f->njobs; i++)
        jobs += strncmp(f->jobs[i].job_id, "nightly-", 8) == 0 && strcmp(f->jobs[i].job_id, "nightly-prev") != 0;
    assert_int_equal(jobs, 1);
}

/* The job started last completes. */
static void
s_job_ends(fake_t *f)
{
    assert_true(f->njobs > 0);
    snprintf(f->jobs[f->njobs - 1].status, sizeof f->jobs[0].status, "completed");
}

/* A previous run of nightly at instant, its job completed: what a schedule that ran before has. */
static void
s_previous_run(fake_t *f, int64_t instant, const char *status)
{
    s_add_row(f, "nightly", instant, "fired", NULL, "nightly-prev");
    s_add_job(f, "nightly-prev", status);
}

/* A fake catalog where the schedule's run due at *instant (2026-12-02 04:00 UTC) follows a
   previous run before_ms earlier whose job is status. */
static fake_t *
s_fake(int64_t *instant, int64_t before_ms, const char *status)
{
    fake_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    *instant = s_utc(2026, 12, 2, 4, 0, 0);
    s_previous_run(f, *instant - before_ms, status);
    return f;
}

/* A daily 04:00 UTC schedule whose previous run (the day before) completed. */
static const char *const s_daily[] = {"calendar=daily 04:00", "timezone=UTC", NULL};

static fake_t *
s_daily_fake(int64_t *instant)
{
    return s_fake(instant, 24 * S_HOUR, "completed");
}

/* ------------------------------------------------------------------ fire instants ----- */

/* Europe/Berlin: 02:30 does not exist on 2026-03-29 (fires when the clocks jump, 03:00 CEST =
   01:00Z) and happens twice on 2026-10-25 (fires at the first, 02:30 CEST = 00:30Z). */
static void
test_berlin_dst_fire_instants(void **state)
{
    (void) state;
    fake_t *f = calloc(1, sizeof *f);
    const char *const settings[] = {"calendar=daily 02:30", "timezone=Europe/Berlin", NULL};
    s_add_row(f, "nightly", s_utc(2026, 3, 28, 1, 30, 0), "fired", NULL, "nightly-prev");
    s_add_job(f, "nightly-prev", "completed");
    scheduler_t *core = s_core(f, "nightly", settings);
    const int64_t expected[] = {
        s_utc(2026, 3, 29, 1, 0, 0),   /* the gap: 03:00 CEST */
        s_utc(2026, 3, 30, 0, 30, 0),  /* 02:30 CEST */
    };
    for (size_t i = 0; i < 2; i++) {
        scheduler_tick(core, expected[i] - 1000);
        assert_int_equal(s_count_kind(f, "fired"), 1 + i);
        scheduler_tick(core, expected[i]);
        scheduler_tick(core, expected[i] + 500);
        assert_int_equal(s_count_kind(f, "fired"), 2 + i);
        assert_non_null(s_find_row(f, "nightly", expected[i]));
        s_job_ends(f);
    }
    char job[160];
    tf_job_id_scheduled(job, sizeof job, "nightly", expected[0]);
    assert_non_null(s_find_job(f, job));
    assert_string_equal(s_find_job(f, job)->trigger, "schedule nightly at 2026-03-29T01:00:00Z");
    scheduler_destroy(&core);

    /* Autumn: a new core whose history ends the day before. */
    memset(f, 0, sizeof *f);
    s_add_row(f, "nightly", s_utc(2026, 10, 24, 0, 30, 0), "fired", NULL, "nightly-prev");
    s_add_job(f, "nightly-prev", "completed");
    core = s_core(f, "nightly", settings);
    int64_t first = s_utc(2026, 10, 25, 0, 30, 0), second = s_utc(2026, 10, 25, 1, 30, 0);
    scheduler_tick(core, first);
    assert_non_null(s_find_row(f, "nightly", first));
    s_job_ends(f);
    scheduler_tick(core, second);          /* 02:30 CET, the repeat: nothing */
    scheduler_tick(core, second + 500);
    assert_null(s_find_row(f, "nightly", second));
    assert_int_equal(s_count_kind(f, "fired"), 2);
    int64_t next = s_utc(2026, 10, 26, 1, 30, 0);   /* 02:30 CET */
    scheduler_tick(core, next);
    assert_non_null(s_find_row(f, "nightly", next));
    assert_int_equal(f->nstarts, 2);
    scheduler_destroy(&core);
    free(f);
}

/* ------------------------------------------------------------------ exactly once ------ */

typedef enum { S_KILL_BEFORE_CLAIM, S_KILL_AFTER_CLAIM, S_KILL_AFTER_CREATE, S_KILL_AFTER_START } s_kill_t;

/* The first core dies at the point (its op fails and it is dropped); a second core on the same
   catalog, a moment later: exactly one job for the instant. */
static void
s_kill_and_restart(s_kill_t point)
{
    int64_t instant;
    fake_t *f = s_daily_fake(&instant);
    const char *const *settings = s_daily;
    char job[160];
    tf_job_id_scheduled(job, sizeof job, "nightly", instant);

    scheduler_t *core = s_core(f, "nightly", settings);
    scheduler_tick(core, instant - 60000);
    assert_int_equal(f->nrows, 1);
    f->crash_before_claim = point == S_KILL_BEFORE_CLAIM;
    f->crash_after_claim = point == S_KILL_AFTER_CLAIM;
    f->crash_after_start = point == S_KILL_AFTER_START;
    f->crash_after_create = point == S_KILL_AFTER_CREATE;
    scheduler_tick(core, instant + 200);
    scheduler_destroy(&core);
    assert_int_equal(f->nrows, point == S_KILL_BEFORE_CLAIM ? 1 : 2);
    bool created = point == S_KILL_AFTER_START || point == S_KILL_AFTER_CREATE;
    assert_int_equal(f->nstarts, created ? 1 : 0);
    f->crash_before_claim = f->crash_after_claim = f->crash_after_start = f->crash_after_create = false;
    /* the job that exists already is not checked again: checks failing now (an agent down
       meanwhile) do not fail a job that only waits */
    f->refuse_start = point == S_KILL_AFTER_CREATE;

    core = s_core(f, "nightly", settings);
    scheduler_tick(core, instant + 700);
    scheduler_tick(core, instant + 1700);
    scheduler_tick(core, instant + 12 * S_HOUR);
    scheduler_destroy(&core);

    s_assert_one_job(f, job);
    /* created but never scanned: started again (same job id), so its scans run */
    assert_int_equal(f->nstarts, point == S_KILL_AFTER_CREATE ? 2 : 1);
    assert_int_equal(f->nfailures, 0);
    assert_string_equal(s_find_job(f, job)->status, "running");
    assert_int_equal(s_count_kind(f, "fired"), 2);
    assert_string_equal(s_find_row(f, "nightly", instant)->job_id, job);
    free(f);
}

static void
test_killed_before_claim(void **state)
{
    (void) state;
    s_kill_and_restart(S_KILL_BEFORE_CLAIM);
}

static void
test_killed_after_claim(void **state)
{
    (void) state;
    s_kill_and_restart(S_KILL_AFTER_CLAIM);
}

/* Between the job's create and its scans: the job stays queued; the restart starts it again. */
static void
test_killed_after_create(void **state)
{
    (void) state;
    s_kill_and_restart(S_KILL_AFTER_CREATE);
}

static void
test_killed_after_start(void **state)
{
    (void) state;
    s_kill_and_restart(S_KILL_AFTER_START);
}

/* Two schedulers at once: one claim is stored; both start the same job id. */
static void
test_two_schedulers(void **state)
{
    (void) state;
    int64_t instant;
    fake_t *f = s_daily_fake(&instant);
    const char *const *settings = s_daily;
    scheduler_t *a = s_core(f, "nightly", settings), *b = s_core(f, "nightly", settings);
    scheduler_tick(a, instant - 500);
    scheduler_tick(b, instant - 400);
    scheduler_tick(a, instant + 100);
    scheduler_tick(b, instant + 200);
    scheduler_tick(a, instant + 1100);
    scheduler_tick(b, instant + 1200);
    char job[160];
    tf_job_id_scheduled(job, sizeof job, "nightly", instant);
    s_assert_one_job(f, job);
    assert_int_equal(s_count_kind(f, "fired"), 2);
    scheduler_destroy(&a);
    scheduler_destroy(&b);
    free(f);
}

/* ------------------------------------------------------------------ outages ----------- */

/* Hourly, down from 00:00 (fired) to 06:30: the instants 01:00 .. 06:00 were missed. */
static fake_t *
s_outage(const char *catch_up, scheduler_t **core_p)
{
    fake_t *f = calloc(1, sizeof *f);
    char setting[64];
    snprintf(setting, sizeof setting, "catch_up=%s", catch_up);
    const char *const settings[] = {"calendar=hourly", "timezone=UTC", setting, NULL};
    s_previous_run(f, s_utc(2026, 12, 2, 0, 0, 0), "completed");
    *core_p = s_core(f, "nightly", settings);
    scheduler_tick(*core_p, s_utc(2026, 12, 2, 6, 30, 0));
    scheduler_tick(*core_p, s_utc(2026, 12, 2, 6, 30, 1));
    return f;
}

static void
test_outage_catch_up_once(void **state)
{
    (void) state;
    scheduler_t *core;
    fake_t *f = s_outage("once", &core);
    for (int h = 1; h <= 5; h++) {
        fake_row_t *r = s_find_row(f, "nightly", s_utc(2026, 12, 2, h, 0, 0));
        assert_non_null(r);
        assert_string_equal(r->kind, "missed");
        char want[128];
        snprintf(want, sizeof want, "scheduler was not running at 2026-12-02 %02d:00:00 UTC", h);
        assert_string_equal(r->reason, want);
    }
    fake_row_t *latest = s_find_row(f, "nightly", s_utc(2026, 12, 2, 6, 0, 0));
    assert_non_null(latest);
    assert_string_equal(latest->kind, "fired");
    char job[160];
    tf_job_id_scheduled(job, sizeof job, "nightly", latest->instant_ms);
    s_assert_one_job(f, job);
    assert_int_equal(f->nstarts, 1);
    assert_int_equal(f->nrows, 7);
    assert_int_equal(s_count_events(f, "schedule.nightly.missed warn schedule nightly missed 5 runs from "
                                       "2026-12-02 01:00:00 UTC to 2026-12-02 05:00:00 UTC: the scheduler was "
                                       "not running"),
                     1);
    assert_int_equal(s_count_events(f, "schedule.nightly.fired info"), 1);
    /* on time again at 07:00 */
    s_job_ends(f);
    scheduler_tick(core, s_utc(2026, 12, 2, 7, 0, 0));
    assert_string_equal(s_find_row(f, "nightly", s_utc(2026, 12, 2, 7, 0, 0))->kind, "fired");
    assert_int_equal(f->nstarts, 2);
    scheduler_destroy(&core);
    free(f);
}

static void
test_outage_catch_up_skip(void **state)
{
    (void) state;
    scheduler_t *core;
    fake_t *f = s_outage("skip", &core);
    for (int h = 1; h <= 6; h++) {
        fake_row_t *r = s_find_row(f, "nightly", s_utc(2026, 12, 2, h, 0, 0));
        assert_non_null(r);
        assert_string_equal(r->kind, "missed");
        assert_string_equal(r->reason, "catch_up skip");
    }
    assert_int_equal(f->nstarts, 0);
    assert_int_equal(f->nrows, 7);
    assert_int_equal(s_count_events(f, "schedule.nightly.missed warn schedule nightly missed 6 runs from "
                                       "2026-12-02 01:00:00 UTC to 2026-12-02 06:00:00 UTC: catch_up skip"),
                     1);
    scheduler_destroy(&core);
    free(f);
}

static void
test_outage_catch_up_within(void **state)
{
    (void) state;
    scheduler_t *core;
    fake_t *f = s_outage("within 2h", &core);   /* 06:00 is 30 minutes old: fires */
    assert_string_equal(s_find_row(f, "nightly", s_utc(2026, 12, 2, 6, 0, 0))->kind, "fired");
    assert_string_equal(s_find_row(f, "nightly", s_utc(2026, 12, 2, 5, 0, 0))->kind, "missed");
    assert_int_equal(f->nstarts, 1);
    scheduler_destroy(&core);
    free(f);

    f = s_outage("within 20m", &core);          /* too old */
    fake_row_t *r = s_find_row(f, "nightly", s_utc(2026, 12, 2, 6, 0, 0));
    assert_string_equal(r->kind, "missed");
    assert_string_equal(r->reason, "older than catch_up within 20m");
    assert_int_equal(f->nstarts, 0);
    scheduler_destroy(&core);
    free(f);
}

/* More manual runs than one history read (SCHEDULER_HISTORY_ROWS) since the last scheduled
   run: the restart still finds where the scheduled runs end and catches up the outage. */
static void
test_outage_after_many_manual_runs(void **state)
{
    (void) state;
    fake_t *f = calloc(1, sizeof *f);
    const char *const settings[] = {"calendar=hourly", "timezone=UTC", NULL};
    s_previous_run(f, s_utc(2026, 12, 2, 0, 0, 0), "completed");
    for (int i = 0; i < 2 * SCHEDULER_HISTORY_ROWS; i++) {
        char job[64];
        snprintf(job, sizeof job, "J-manual-%d", i);
        s_add_row(f, "nightly", s_utc(2026, 12, 2, 0, 10, i), "manual", NULL, job);
        s_add_job(f, job, "completed");
    }
    scheduler_t *core = s_core(f, "nightly", settings);
    scheduler_tick(core, s_utc(2026, 12, 2, 6, 30, 0));
    for (int h = 1; h <= 5; h++)
        assert_string_equal(s_find_row(f, "nightly", s_utc(2026, 12, 2, h, 0, 0))->kind, "missed");
    assert_string_equal(s_find_row(f, "nightly", s_utc(2026, 12, 2, 6, 0, 0))->kind, "fired");
    assert_int_equal(f->nstarts, 1);
    scheduler_destroy(&core);
    free(f);
}

/* Every 10 seconds, 6 hours down: 2159 missed instants make SCHEDULER_MISSED_MAX rows, the last
   one counting the rest and recorded at the last missed instant. */
static void
test_outage_missed_rows_capped(void **state)
{
    (void) state;
    fake_t *f = calloc(1, sizeof *f);
    const char *const settings[] = {"calendar=*:*:0/10", "timezone=UTC", NULL};
    int64_t start = s_utc(2026, 12, 2, 0, 0, 0), now = start + 6 * S_HOUR + 5000;
    s_previous_run(f, start, "completed");
    scheduler_t *core = s_core(f, "nightly", settings);
    scheduler_tick(core, now);
    assert_int_equal(s_count_kind(f, "missed"), SCHEDULER_MISSED_MAX);
    assert_int_equal(s_count_kind(f, "fired"), 2);
    fake_row_t *summary = s_find_row(f, "nightly", now - 5000 - 10000);
    assert_non_null(summary);
    assert_non_null(strstr(summary->reason, "; and 1159 more runs missed from 2026-12-02 02:46:40 UTC"));
    assert_non_null(s_find_row(f, "nightly", now - 5000));
    scheduler_destroy(&core);
    free(f);
}

/* A tick late by more than a tick (the one before waited on a slow start or catalog) is not
   an outage: the run due meanwhile fires under catch_up skip and within. Only a scheduler that
   was not running at the instant misses it. */
static void
test_late_tick_fires(void **state)
{
    (void) state;
    const char *const policies[] = {"catch_up=skip", "catch_up=within 1m"};
    for (size_t i = 0; i < 2; i++) {
        int64_t instant;
        fake_t *f = s_daily_fake(&instant);
        const char *const settings[] = {"calendar=daily 04:00", "timezone=UTC", policies[i], NULL};
        scheduler_t *core = s_core(f, "nightly", settings);
        scheduler_tick(core, instant - 1000);
        scheduler_tick(core, instant + 2 * 60000);   /* two minutes late: older than within 1m */
        fake_row_t *r = s_find_row(f, "nightly", instant);
        assert_non_null(r);
        assert_string_equal(r->kind, "fired");
        assert_int_equal(f->nstarts, 1);
        assert_int_equal(s_count_kind(f, "missed"), 0);
        scheduler_destroy(&core);
        free(f);
    }

    /* The scheduler started after the instant: it was not running then. */
    int64_t instant;
    fake_t *f = s_daily_fake(&instant);
    const char *const skip[] = {"calendar=daily 04:00", "timezone=UTC", "catch_up=skip", NULL};
    scheduler_t *core = s_core(f, "nightly", skip);
    scheduler_tick(core, instant + 5000);
    assert_string_equal(s_find_row(f, "nightly", instant)->kind, "missed");
    assert_string_equal(s_find_row(f, "nightly", instant)->reason, "catch_up skip");
    assert_int_equal(f->nstarts, 0);
    scheduler_destroy(&core);
    free(f);

    /* Every 10 s, one tick 25 s late: the latest fires, the two before are recorded as missed
       because the scheduler was late (not because it was down). */
    f = calloc(1, sizeof *f);
    const char *const often[] = {"calendar=*:*:0/10", "timezone=UTC", "catch_up=skip", NULL};
    int64_t t0 = s_utc(2026, 12, 2, 4, 0, 0);
    s_previous_run(f, t0 - 10000, "completed");
    core = s_core(f, "nightly", often);
    scheduler_tick(core, t0 - 1000);
    scheduler_tick(core, t0 + 25000);
    assert_string_equal(s_find_row(f, "nightly", t0 + 20000)->kind, "fired");
    for (int64_t t = t0; t < t0 + 20000; t += 10000) {
        fake_row_t *r = s_find_row(f, "nightly", t);
        assert_non_null(r);
        assert_string_equal(r->kind, "missed");
        assert_string_equal(r->reason, "the scheduler was late: a later run was due by the time it looked");
    }
    assert_int_equal(f->nstarts, 1);
    scheduler_destroy(&core);
    free(f);
}

/* ------------------------------------------------------------------ overlap ----------- */

static void
test_overlap_skip(void **state)
{
    (void) state;
    int64_t instant;
    fake_t *f = s_fake(&instant, S_HOUR, "running");
    const char *const settings[] = {"calendar=hourly", "timezone=UTC", NULL};
    scheduler_t *core = s_core(f, "nightly", settings);
    scheduler_tick(core, instant);
    fake_row_t *r = s_find_row(f, "nightly", instant);
    assert_non_null(r);
    assert_string_equal(r->kind, "skipped");
    assert_string_equal(r->reason, "previous run nightly-prev still running");
    assert_int_equal(f->nstarts, 0);
    assert_int_equal(s_count_events(f, "alert.schedule.nightly warn"), 1);
    assert_int_equal(s_count_events(f, "schedule.nightly.skipped warn"), 1);
    /* the next instant, the previous run over: fires */
    snprintf(f->jobs[0].status, sizeof f->jobs[0].status, "completed");
    scheduler_tick(core, instant + S_HOUR);
    assert_string_equal(s_find_row(f, "nightly", instant + S_HOUR)->kind, "fired");
    assert_int_equal(f->nstarts, 1);
    scheduler_destroy(&core);
    free(f);
}

static void
test_overlap_queue(void **state)
{
    (void) state;
    int64_t instant;
    fake_t *f = s_fake(&instant, S_HOUR, "running");
    const char *const settings[] = {"calendar=hourly", "timezone=UTC", "overlap=queue", NULL};
    scheduler_t *core = s_core(f, "nightly", settings);
    scheduler_tick(core, instant);
    fake_row_t *r = s_find_row(f, "nightly", instant);
    assert_non_null(r);
    assert_string_equal(r->kind, "queued");
    char job[160];
    tf_job_id_scheduled(job, sizeof job, "nightly", instant);
    assert_string_equal(r->job_id, job);
    assert_int_equal(f->nstarts, 0);
    scheduler_tick(core, instant + 60000);       /* still running: still queued */
    assert_int_equal(f->nstarts, 0);
    assert_string_equal(r->kind, "queued");

    /* a restart meanwhile keeps waiting */
    scheduler_destroy(&core);
    core = s_core(f, "nightly", settings);
    scheduler_tick(core, instant + 120000);
    assert_int_equal(f->nstarts, 0);

    snprintf(f->jobs[0].status, sizeof f->jobs[0].status, "completed");
    scheduler_tick(core, instant + 180000);
    assert_string_equal(r->kind, "fired");
    assert_int_equal(f->nstarts, 1);
    assert_string_equal(f->starts[0], job);
    assert_string_equal(s_find_job(f, job)->trigger, "schedule nightly at 2026-12-02T04:00:00Z");
    scheduler_tick(core, instant + 240000);
    assert_int_equal(f->nstarts, 1);
    scheduler_destroy(&core);
    free(f);
}

/* The instant is already recorded, but not as a scheduler of nightly would record it (a key
   with role backup claimed it, or tapeflow schedule run hit the very instant): the run is not
   started, an alert names the row and who to ask, nothing else is recorded; the next instant
   fires. */
static void
test_foreign_row_alerts(void **state)
{
    (void) state;
    const char *const kinds[][2] = {
        {"missed", NULL},           /* suppressed in advance */
        {"fired", "nightly-prev"},  /* redirected to an old, completed job */
        {"manual", "J20261202-040000-abcdef"},
    };
    for (size_t i = 0; i < 3; i++) {
        int64_t instant;
        fake_t *f = s_daily_fake(&instant);
        s_add_row(f, "nightly", instant, kinds[i][0], kinds[i][1] ? NULL : "scheduler was not running",
                  kinds[i][1]);
        scheduler_t *core = s_core(f, "nightly", s_daily);
        scheduler_tick(core, instant - 1000);
        scheduler_tick(core, instant);
        scheduler_tick(core, instant + 1000);
        assert_int_equal(f->nstarts, 0);
        assert_int_equal(f->nrows, 2);
        assert_int_equal(s_count_events(f, "schedule.nightly.fired"), 0);
        char want[512];
        snprintf(want, sizeof want,
                 "alert.schedule.nightly warn schedule nightly: the run at 2026-12-02 04:00:00 UTC was not "
                 "started: the catalog already holds a row for it that no scheduler wrote (%s%s%s%s); see "
                 "tapeflow schedule history nightly, and ask who ran tapeflow schedule run nightly at that "
                 "instant or holds a key with role backup (tapeflow keys list)",
                 kinds[i][0], kinds[i][1] ? " with job " : "", kinds[i][1] ? kinds[i][1] : "",
                 kinds[i][1] ? "" : ": scheduler was not running");
        assert_int_equal(s_count_events(f, want), 1);
        /* a restart does not start the foreign job either */
        scheduler_destroy(&core);
        core = s_core(f, "nightly", s_daily);
        scheduler_tick(core, instant + 2000);
        assert_int_equal(f->nstarts, 0);
        /* the next night fires */
        scheduler_tick(core, instant + 24 * S_HOUR);
        assert_string_equal(s_find_row(f, "nightly", instant + 24 * S_HOUR)->kind, "fired");
        assert_int_equal(f->nstarts, 1);
        scheduler_destroy(&core);
        free(f);
    }
}

/* ------------------------------------------------------------------ failures ---------- */

/* The job's checks refuse it: a failed job is recorded (once), the run stays fired. */
static void
test_refused_start_records_failed_job(void **state)
{
    (void) state;
    int64_t instant;
    fake_t *f = s_daily_fake(&instant);
    const char *const *settings = s_daily;
    f->refuse_start = true;
    scheduler_t *core = s_core(f, "nightly", settings);
    scheduler_tick(core, instant);
    scheduler_tick(core, instant + 1000);
    scheduler_tick(core, instant + 2000);
    char job[160];
    tf_job_id_scheduled(job, sizeof job, "nightly", instant);
    assert_int_equal(f->nfailures, 1);
    assert_string_equal(s_find_job(f, job)->status, "failed");
    assert_string_equal(s_find_job(f, job)->message, "pool nightly has no writable volume");
    assert_string_equal(s_find_row(f, "nightly", instant)->kind, "fired");
    assert_int_equal(s_count_events(f, "alert.schedule.nightly error"), 1);
    scheduler_destroy(&core);
    free(f);
}

/* The catalog does not answer: one alert a minute, then it fires (catch_up once) when back. */
static void
test_catalog_unreachable(void **state)
{
    (void) state;
    int64_t instant;
    fake_t *f = s_daily_fake(&instant);
    const char *const *settings = s_daily;
    f->down = true;
    scheduler_t *core = s_core(f, "nightly", settings);
    for (int s = 0; s < 90; s++)
        scheduler_tick(core, instant - 10000 + s * 1000);
    assert_int_equal(s_count_events(f, "alert.scheduler warn cannot reach the catalog: the catalog did not "
                                       "answer; schedules wait"),
                     2);
    assert_int_equal(f->nrows, 1);
    f->down = false;
    scheduler_tick(core, instant + 90000);
    assert_string_equal(s_find_row(f, "nightly", instant)->kind, "fired");
    assert_int_equal(f->nstarts, 1);
    scheduler_destroy(&core);
    free(f);
}

/* A disabled schedule does not fire; its instants are recorded skipped "schedule disabled" as
   they pass, so that enabled again (a restart with enabled = 1) it does not catch them up as
   runs missed while the scheduler was down. */
static void
test_disabled(void **state)
{
    (void) state;
    int64_t instant;
    fake_t *f = s_fake(&instant, S_HOUR, "completed");
    const char *const off[] = {"calendar=hourly", "timezone=UTC", "enabled=0", NULL};
    scheduler_t *core = s_core(f, "nightly", off);
    scheduler_tick(core, instant - 1000);
    for (int h = 0; h < 3; h++)
        scheduler_tick(core, instant + h * S_HOUR);
    assert_int_equal(f->nstarts, 0);
    for (int h = 0; h < 3; h++) {
        fake_row_t *r = s_find_row(f, "nightly", instant + h * S_HOUR);
        assert_non_null(r);
        assert_string_equal(r->kind, "skipped");
        assert_string_equal(r->reason, "schedule disabled");
    }
    assert_int_equal(s_count_events(f, "schedule.nightly.skipped info schedule nightly: run at 2026-12-02 "
                                       "05:00:00 UTC skipped: schedule disabled"),
                     1);
    assert_int_equal(s_count_events(f, "alert."), 0);
    scheduler_destroy(&core);

    /* enabled again half an hour after the last disabled instant, catch_up once: nothing to
       catch up; the next instant fires */
    const char *const on[] = {"calendar=hourly", "timezone=UTC", NULL};
    core = s_core(f, "nightly", on);
    scheduler_tick(core, instant + 2 * S_HOUR + 30 * 60000);
    assert_int_equal(f->nstarts, 0);
    assert_int_equal(s_count_kind(f, "missed"), 0);
    scheduler_tick(core, instant + 3 * S_HOUR);
    assert_string_equal(s_find_row(f, "nightly", instant + 3 * S_HOUR)->kind, "fired");
    assert_int_equal(f->nstarts, 1);
    scheduler_destroy(&core);
    free(f);
}

/* ------------------------------------------------------------------ config ------------ */

static void
test_level_rules(void **state)
{
    (void) state;
    tf_err_t err = {0};
    tf_tz_t *tz = tf_tz_new("Europe/Berlin", &err);
    assert_non_null(tz);
    tf_level_rules_t *r =
        tf_level_rules_new("full on Sun *-*-01..07; differential on Sun; incremental", "schedules/n/level", &err);
    assert_non_null(r);
    assert_string_equal(tf_level_rules_level(r, tz, s_utc(2026, 12, 6, 3, 0, 0)), "full");          /* 1st Sun */
    assert_string_equal(tf_level_rules_level(r, tz, s_utc(2026, 12, 13, 3, 0, 0)), "differential"); /* 2nd Sun */
    assert_string_equal(tf_level_rules_level(r, tz, s_utc(2026, 12, 14, 3, 0, 0)), "incremental");
    /* the local date counts: Sat 23:30 UTC is Sunday 00:30 in Berlin */
    assert_string_equal(tf_level_rules_level(r, tz, s_utc(2026, 12, 5, 23, 30, 0)), "full");
    tf_level_rules_destroy(&r);

    r = tf_level_rules_new("full on Sun", "schedules/n/level", &err);
    assert_null(r);
    assert_string_equal(err.message, "schedules/n/level = 'full on Sun': the last rule must be a level without "
                                     "'on' (the catch-all), e.g. 'full on Sun; incremental'");
    r = tf_level_rules_new("weekly on Sun; full", "schedules/n/level", &err);
    assert_null(r);
    assert_string_equal(err.message, "schedules/n/level = 'weekly on Sun; full': unknown level 'weekly' (use "
                                     "full, differential or incremental)");
    r = tf_level_rules_new("incremental; full on Sun", "schedules/n/level", &err);
    assert_null(r);
    assert_non_null(strstr(err.message, "a rule follows the catch-all 'incremental'"));
    tf_tz_destroy(&tz);
}

static void
test_schedule_config_errors(void **state)
{
    (void) state;
    tf_config_t *cfg = tf_config_new();
    tf_err_t err = {0};
    assert_int_equal(tf_config_set(cfg, "schedules/a/calendar", "daily 04:00"), 0);
    assert_null(tf_schedule_new(cfg, "a", &err));
    assert_string_equal(err.message, "schedules/a/paths is not set: the schedule backs up nothing; set it to "
                                     "the paths to back up (/srv/data, HOST:/path, separated by commas)");
    assert_int_equal(tf_config_set(cfg, "schedules/a/paths", "/srv, db1:/var/lib/db"), 0);
    assert_int_equal(tf_config_set(cfg, "schedules/a/catch_up", "twice"), 0);
    assert_null(tf_schedule_new(cfg, "a", &err));
    assert_string_equal(err.message, "schedules/a/catch_up = 'twice': use once, skip or 'within DURATION' "
                                     "(within 2h)");
    assert_int_equal(tf_config_set(cfg, "schedules/a/catch_up", "within 90m"), 0);
    assert_int_equal(tf_config_set(cfg, "schedules/a/timezone", "Europe/Berln"), 0);
    assert_null(tf_schedule_new(cfg, "a", &err));
    assert_non_null(strstr(err.message, "schedules/a/timezone: "));
    assert_non_null(strstr(err.message, "Europe/Berln"));
    assert_int_equal(tf_config_set(cfg, "schedules/a/timezone", "UTC"), 0);
    tf_schedule_t *s = tf_schedule_new(cfg, "a", &err);
    if (!s)
        fail_msg("%s", err.message);
    assert_int_equal(tf_schedule_sources_count(s), 2);
    assert_string_equal(tf_schedule_source(s, 1), "db1:/var/lib/db");
    int64_t within = 0;
    assert_int_equal(tf_schedule_catch_up(s, &within), TF_CATCH_UP_WITHIN);
    assert_int_equal(within, 90 * 60000);
    assert_null(tf_schedule_pool(s));
    tf_schedule_destroy(&s);
    zlist_t *names = tf_schedule_names(cfg);
    assert_int_equal(zlist_size(names), 1);
    assert_string_equal(zlist_first(names), "a");
    zlist_destroy(&names);
    tf_config_destroy(&cfg);
}

/* A schedule whose configuration is wrong is alerted at the first tick and again every hour
   (one event at start is easily lost), not only once; the others run. */
static void
test_broken_schedule_alerted_hourly(void **state)
{
    (void) state;
    int64_t instant;
    fake_t *f = s_daily_fake(&instant);
    scheduler_t *core = s_core(f, "nightly", s_daily);
    tf_err_t err = {0};
    const char *why = "schedules/typo/catch_up = 'twice': use once, skip or 'within DURATION' (within 2h)";
    assert_int_equal(scheduler_add_broken(core, "typo", why, &err), TF_OK);
    const char *alert = "alert.schedule.typo error schedule typo is not run: schedules/typo/catch_up = 'twice': "
                        "use once, skip or 'within DURATION' (within 2h)";
    int64_t t = instant - S_HOUR;
    scheduler_tick(core, t);
    assert_int_equal(s_count_events(f, alert), 1);
    scheduler_tick(core, t + 1000);
    scheduler_tick(core, t + S_HOUR - 1000);
    assert_int_equal(s_count_events(f, alert), 1);
    scheduler_tick(core, t + S_HOUR);   /* nightly fires meanwhile */
    assert_int_equal(s_count_events(f, alert), 2);
    assert_int_equal(f->nstarts, 1);
    for (int h = 2; h <= 24; h++)
        scheduler_tick(core, t + h * S_HOUR);
    assert_int_equal(s_count_events(f, alert), 25);
    scheduler_destroy(&core);
    free(f);
}

/* The job of a run: scheduled (trigger with the instant) and manual (tapeflow schedule run). */
static void
test_job_spec(void **state)
{
    (void) state;
    const char *const settings[] = {"calendar=Sun 03:00", "timezone=Europe/Berlin", "pool=offsite", NULL};
    tf_schedule_t *s = s_schedule("weekly", settings);
    tf_schedule_job_t buf;
    tf_job_spec_t spec;
    int64_t instant = s_utc(2026, 12, 6, 2, 0, 0);   /* the first Sunday, 03:00 CET */
    tf_schedule_job_spec(s, instant, false, "weekly-20261206T020000Z", &buf, &spec);
    assert_string_equal(spec.job_id, "weekly-20261206T020000Z");
    assert_string_equal(spec.trigger, "schedule weekly at 2026-12-06T02:00:00Z");
    assert_int_equal(spec.trigger_ms, instant);
    assert_string_equal(spec.schedule, "weekly");
    assert_string_equal(spec.pool, "offsite");
    assert_string_equal(spec.level, "full");
    assert_int_equal(spec.sources_count, 1);
    assert_string_equal(spec.sources[0].path, "/srv");
    tf_schedule_job_spec(s, instant + 7 * 24 * S_HOUR, true, "J20261213-030000-abcdef", &buf, &spec);
    assert_string_equal(spec.trigger, "manual (schedule weekly)");
    assert_int_equal(spec.trigger_ms, 0);
    assert_string_equal(spec.level, "differential");
    assert_string_equal(spec.schedule, "weekly");
    assert_true(tf_schedule_job_refused(TF_ERR_INVALID));
    assert_false(tf_schedule_job_refused(TF_ERR_TIMEOUT));
    tf_schedule_destroy(&s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_berlin_dst_fire_instants),
        cmocka_unit_test(test_killed_before_claim),
        cmocka_unit_test(test_killed_after_claim),
        cmocka_unit_test(test_killed_after_create),
        cmocka_unit_test(test_killed_after_start),
        cmocka_unit_test(test_two_schedulers),
        cmocka_unit_test(test_outage_catch_up_once),
        cmocka_unit_test(test_outage_catch_up_skip),
        cmocka_unit_test(test_outage_catch_up_within),
        cmocka_unit_test(test_outage_missed_rows_capped),
        cmocka_unit_test(test_outage_after_many_manual_runs),
        cmocka_unit_test(test_late_tick_fires),
        cmocka_unit_test(test_overlap_skip),
        cmocka_unit_test(test_overlap_queue),
        cmocka_unit_test(test_foreign_row_alerts),
        cmocka_unit_test(test_refused_start_records_failed_job),
        cmocka_unit_test(test_catalog_unreachable),
        cmocka_unit_test(test_disabled),
        cmocka_unit_test(test_level_rules),
        cmocka_unit_test(test_schedule_config_errors),
        cmocka_unit_test(test_broken_schedule_alerted_hourly),
        cmocka_unit_test(test_job_spec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
