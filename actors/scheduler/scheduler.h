/*  scheduler - the scheduler's core: fires the configured schedules exactly once per instant
    (docs/operations.md, "Schedules"; docs/architecture.md, "The scheduler").

    Socket-free like broker/broker.c: the clock is the now_ms each call gets, and everything
    outside goes through injected ops (the process wires them to the catalog through the broker,
    tests to a fake catalog in memory). One scheduler_tick(now) does everything due:

    - a schedule seen for the first time reads its history (the catalog's schedule_runs rows):
      the next instant is the first after the last recorded one (none: after now); the newest
      fired run whose job the catalog does not know or still has queued (a crash between the
      claim and the job's create, or between the create and its scans) is started again - with
      the same job id and item ids, so a start that did happen is not repeated; a queued run
      waits for the run before it again;
    - instants due before this process ran (its first tick, less one tick) were missed (the
      scheduler was down): catch_up once fires the latest and records the others missed, skip
      records all, within D fires the latest when it is no older than D; each missed instant
      is one row (at most SCHEDULER_MISSED_MAX per outage, then one row says how many more).
      An instant due while it ran fires however late the tick that sees it (a slow start or
      catalog call before); when a tick sees several, the latest fires and the others are
      recorded missed ("the scheduler was late");
    - firing instant I: when the schedule's previous job is still queued or running, overlap
      skip records I skipped (and publishes alert.schedule.NAME), queue records it queued and
      starts it when the previous job ends; otherwise I is claimed (kind fired, job id from
      the schedule and I) BEFORE its job is started: the claim is the durable, unique record,
      whichever scheduler claimed first wins and every claimer starts the same job id; a stored
      row that no scheduler of this schedule would have written (another kind, or another job
      id: a manual run or a backup key's claim at that instant) is not acted on - it raises
      alert.schedule.NAME naming the row, and nothing else is recorded for the instant;
    - a start that fails the job's checks is recorded as a failed job, so the night shows a
      failed job, not nothing; a start that could not reach the broker is tried again each tick.

    Catalog errors leave the schedule as it was, tried again on the next tick; alert.scheduler
    (warn) says so at most once a minute.
*/
#ifndef SCHEDULER_H_INCLUDED
#define SCHEDULER_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tf_err.h"
#include "tf_job_start.h"
#include "tf_schedule_job.h"
#include "tf_msg.h"
#include "tf_schedule.h"

/* Missed rows recorded per outage, the last one counting the rest. */
#define SCHEDULER_MISSED_MAX 1000
/* History rows read at a time. At start the newest that is not a manual run is looked for
   in ten times as many while they are all manual, up to SCHEDULER_HISTORY_MAX. */
#define SCHEDULER_HISTORY_ROWS 50
#define SCHEDULER_HISTORY_MAX 5000
/* How often a schedule whose configuration is wrong is alerted again. */
#define SCHEDULER_BROKEN_EVERY_MS (3600LL * 1000)

typedef struct _scheduler_t scheduler_t;

/* A schedule_runs row as the core needs it. */
typedef struct {
    char kind[16];            /* fired | missed | skipped | queued | manual */
    int64_t instant_ms;
    char job_id[160];         /* "" when none */
    char reason[512];         /* missed/skipped: why; "" when none */
} scheduler_row_t;

typedef struct {
    /* cat_sched claim or update; *stored gets the row the catalog holds afterwards. */
    int (*sched)(void *arg, const tf_msg_cat_sched_t *req, scheduler_row_t *stored, tf_err_t *err);
    /* The newest rows of schedule (at most max, newest instant first) into rows, *count. */
    int (*history)(void *arg, const char *schedule, scheduler_row_t *rows, size_t max, size_t *count,
                   tf_err_t *err);
    /* The job's status (queued, running, completed, ...); TF_ERR_NOTFOUND: no such job. */
    int (*job_status)(void *arg, const char *job_id, char *status, size_t size, tf_err_t *err);
    /* Checks (when check) and starts the job (tf_job_check, tf_job_start). *refused: the checks
       failed (err says why) - the job cannot start; other errors (broker or catalog
       unreachable) are tried again. check is false for a job the catalog has already: it
       passed them, and failing it now would fail a job that is only waiting. */
    int (*start_job)(void *arg, const tf_job_spec_t *spec, bool check, bool *refused, tf_err_t *err);
    /* Records a job that could not start as failed with message (tf_job_record_failure). */
    int (*record_failure)(void *arg, const tf_job_spec_t *spec, const char *message, tf_err_t *err);
    /* Publishes an event (level info | warn | error); job_id may be NULL. */
    void (*publish)(void *arg, const char *topic, const char *level, const char *job_id, const char *message);
} scheduler_ops_t;

/* tick_ms: how often scheduler_tick is called (scheduler/tick): an instant due more than that
   before the first tick was missed (the scheduler was not running); one due after it fires,
   however late a tick comes. */
scheduler_t *scheduler_new(int64_t tick_ms, const scheduler_ops_t *ops, void *arg);
void scheduler_destroy(scheduler_t **self_p);

/* Adds a schedule; the core owns it from now on (*schedule_p becomes NULL). */
int scheduler_add(scheduler_t *self, tf_schedule_t **schedule_p, tf_err_t *err);

/* A schedule whose configuration is wrong (message: tf_schedule_new's, naming the key): it is
   not run, and alert.schedule.NAME (error) "schedule NAME is not run: <message>" is published
   at the first tick and every SCHEDULER_BROKEN_EVERY_MS after - one event at start is easily
   missed - until the configuration is fixed and the scheduler restarted. */
int scheduler_add_broken(scheduler_t *self, const char *name, const char *message, tf_err_t *err);

/* Does everything due at now_ms (UTC). Never fails: problems are published and retried. */
void scheduler_tick(scheduler_t *self, int64_t now_ms);

/* Jobs this core started (or started again after a crash), for tests and logs. */
uint64_t scheduler_started(scheduler_t *self);

#endif
