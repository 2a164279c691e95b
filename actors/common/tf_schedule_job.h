/*  tf_schedule_job - the job of a schedule's run (issue 11): what the scheduler fires and what
    `tapeflow schedule run` starts by hand, built the same way for both.
*/
#ifndef TF_SCHEDULE_JOB_H_INCLUDED
#define TF_SCHEDULE_JOB_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#include "tf_job_start.h"
#include "tf_schedule.h"

/* Where the spec's strings live (the paths stay the schedule's). */
typedef struct {
    char job_id[160];
    char trigger[256];
    tf_msg_path_row_t rows[256];
} tf_schedule_job_t;

/* The job of the run of schedule at instant_ms: its sources, pool, the level of its rules at
   instant_ms, the schedule and the trigger "schedule NAME at 2026-12-02T03:00:00Z" (trigger_ms
   the instant) - or, manual, "manual (schedule NAME)" (trigger_ms 0). spec points into buf and
   schedule. */
void tf_schedule_job_spec(const tf_schedule_t *schedule, int64_t instant_ms, bool manual, const char *job_id,
                          tf_schedule_job_t *buf, tf_job_spec_t *spec);

/* Whether a tf_job_check status means the job cannot start as it is (its checks said why, and
   the job is recorded failed), not that the broker or catalog was out of reach (tried again). */
bool tf_schedule_job_refused(int status);

#endif
