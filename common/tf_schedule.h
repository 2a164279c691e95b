/*  tf_schedule - one schedule of the configuration (schedules/NAME/..., docs/operations.md,
    "Schedules"): what it backs up, when (a calendar read in a time zone), at which level, and
    what to do with runs missed while the scheduler was down or with a run that would overlap
    the previous one. The scheduler fires schedules; `tapeflow schedule` shows them.

        tf_schedule_t *s = tf_schedule_new(cfg, "nightly", &err);
        tf_schedule_next(s, after_ms, &next_ms, &err);   // the next instant it fires
        tf_schedule_level(s, next_ms);                    // "incremental"

    Every problem of the configuration is found by tf_schedule_new, with a message that names
    the key and the fix: "schedules/nightly/catch_up = 'twice': use once, skip or 'within
    DURATION' (within 2h)".
*/
#ifndef TF_SCHEDULE_H_INCLUDED
#define TF_SCHEDULE_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tf_calendar.h"
#include "tf_config.h"
#include "tf_err.h"

typedef struct _tf_schedule_t tf_schedule_t;

/* What happens to the runs missed while the scheduler was not running. */
typedef enum {
    TF_CATCH_UP_ONCE,    /* the latest fires once, the others are recorded missed */
    TF_CATCH_UP_SKIP,    /* none fires; each is recorded missed */
    TF_CATCH_UP_WITHIN   /* the latest fires when it is no older than within_ms */
} tf_catch_up_t;

/* What happens when the previous run of the schedule is still running. */
typedef enum {
    TF_OVERLAP_SKIP,     /* the run is recorded skipped (and an alert published) */
    TF_OVERLAP_QUEUE     /* it starts when the previous one ends */
} tf_overlap_t;

/* The names of the sections under schedules/ (a list of strings; caller destroys). NULL when
   out of memory. */
zlist_t *tf_schedule_names(tf_config_t *cfg);

/* Reads the keys of schedules/NAME: NULL with err naming the key when a value is wrong (or the schedule
   has no paths). */
tf_schedule_t *tf_schedule_new(tf_config_t *cfg, const char *name, tf_err_t *err);
void tf_schedule_destroy(tf_schedule_t **self_p);

const char *tf_schedule_name(const tf_schedule_t *self);
/* The paths as configured: "/srv/data" (this host's) or "HOST:/path". */
size_t tf_schedule_sources_count(const tf_schedule_t *self);
const char *tf_schedule_source(const tf_schedule_t *self, size_t index);
/* The pool its jobs write to; NULL: backup/pool. */
const char *tf_schedule_pool(const tf_schedule_t *self);
const tf_calendar_t *tf_schedule_calendar(const tf_schedule_t *self);
const tf_tz_t *tf_schedule_tz(const tf_schedule_t *self);
/* The policy; *within_ms (may be NULL) gets the DURATION of 'within DURATION', else 0. */
tf_catch_up_t tf_schedule_catch_up(const tf_schedule_t *self, int64_t *within_ms);
/* "once", "skip", "within 2h" as configured. */
const char *tf_schedule_catch_up_text(const tf_schedule_t *self);
tf_overlap_t tf_schedule_overlap(const tf_schedule_t *self);
bool tf_schedule_enabled(const tf_schedule_t *self);
/* The level rules as configured ("full on Sun *-*-01..07; differential on Sun; incremental"). */
const char *tf_schedule_level_text(const tf_schedule_t *self);

/* The first instant (UTC ms) strictly after after_ms at which it fires; TF_ERR_NOTFOUND when
   it never fires again. */
int tf_schedule_next(const tf_schedule_t *self, int64_t after_ms, int64_t *next_ms, tf_err_t *err);

/* The level of a run at instant_ms: the first rule whose days match the local date of the
   instant in the schedule's zone ("full", "differential" or "incremental"). */
const char *tf_schedule_level(const tf_schedule_t *self, int64_t instant_ms);

/* True for the backup levels: full, differential, incremental - the one list the CLI, the
   schedule rules and the catalog check a level against. */
bool tf_level_known(const char *word);

/* Level rules on their own (what tf_schedule_new reads from schedules/NAME/level): "RULE; RULE;
   ...; LEVEL", RULE = "LEVEL on DAYS" with DAYS a calendar expression's date part. key names the
   setting in messages. */
typedef struct _tf_level_rules_t tf_level_rules_t;
tf_level_rules_t *tf_level_rules_new(const char *text, const char *key, tf_err_t *err);
void tf_level_rules_destroy(tf_level_rules_t **self_p);
const char *tf_level_rules_level(const tf_level_rules_t *self, const tf_tz_t *tz, int64_t instant_ms);

#endif
