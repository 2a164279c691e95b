/*  tf_schedule_job - the job of a schedule's run (see tf_schedule_job.h). */
#include <stdio.h>

#include "tf_schedule_job.h"

void
tf_schedule_job_spec(const tf_schedule_t *schedule, int64_t instant_ms, bool manual, const char *job_id,
                     tf_schedule_job_t *buf, tf_job_spec_t *spec)
{
    const char *name = tf_schedule_name(schedule);
    snprintf(buf->job_id, sizeof buf->job_id, "%s", job_id);
    if (manual)
        snprintf(buf->trigger, sizeof buf->trigger, "manual (schedule %s)", name);
    else {
        char iso[32];
        tf_time_format_utc(instant_ms, iso, sizeof iso);
        snprintf(buf->trigger, sizeof buf->trigger, "schedule %s at %s", name, iso);
    }
    size_t n = tf_schedule_sources_count(schedule);
    if (n > sizeof buf->rows / sizeof buf->rows[0])
        n = sizeof buf->rows / sizeof buf->rows[0];
    for (size_t i = 0; i < n; i++)
        buf->rows[i].path = (char *) tf_schedule_source(schedule, i);
    *spec = (tf_job_spec_t){
        .job_id = buf->job_id,
        .sources = buf->rows,
        .sources_count = n,
        .pool = tf_schedule_pool(schedule),
        .one_fs = true,
        .level = tf_schedule_level(schedule, instant_ms),
        .schedule = name,
        .trigger = buf->trigger,
        .trigger_ms = manual ? 0 : instant_ms,
    };
}

bool
tf_schedule_job_refused(int status)
{
    return status != TF_OK && status != TF_ERR_TIMEOUT && status != TF_ERR_NOMEM && status != TF_ERR_INTERRUPTED;
}
