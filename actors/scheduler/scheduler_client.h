/*  scheduler_client - the scheduler core's ops over the broker (scheduler.h): schedule runs and
    job states from the catalog service, job starts through tf_job_start, events on the bus.
    What tapeflow-scheduler runs with, and what `tapeflow schedule run` uses to record and start
    a manual run.
*/
#ifndef SCHEDULER_CLIENT_H_INCLUDED
#define SCHEDULER_CLIENT_H_INCLUDED

#include "scheduler.h"
#include "tf_client.h"
#include "tf_config.h"
#include "tf_publisher.h"

typedef struct _scheduler_client_t scheduler_client_t;

/* client and events (may be NULL: nothing is published) stay the caller's. timeout_ms bounds
   each catalog call. */
scheduler_client_t *scheduler_client_new(tf_config_t *cfg, tf_client_t *client, tf_publisher_t *events,
                                         int timeout_ms);
void scheduler_client_destroy(scheduler_client_t **self_p);

/* The ops table; the arg they take is the scheduler_client_t. */
const scheduler_ops_t *scheduler_client_ops(void);

#endif
