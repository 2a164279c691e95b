/*  announcer - submits archive_ready items (service "tape", id "<archive>-tape") to the broker
    from a background thread, retrying until the broker takes each one, so the stager's socket
    loop never waits for the broker.

    The stager sends it archive_ready messages; for each one the broker accepted, the announcer
    sends back one line the stager reads with announcer_recv: which archive, the item's state
    and whether the item already existed (a repeat).
*/
#ifndef ANNOUNCER_H_INCLUDED
#define ANNOUNCER_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>

#include "tf_err.h"
#include "tf_config.h"
#include "tf_msg.h"
#include "tf_pipeline_ids.h"

typedef struct _announcer_t announcer_t;

announcer_t *announcer_new(const tf_config_t *cfg, const char *broker_endpoint, tf_err_t *err);
void announcer_destroy(announcer_t **self_p);

/* Queues an announcement (copied). */
int announcer_send(announcer_t *self, const tf_msg_archive_ready_t *ready, tf_err_t *err);
/* Queues any other work item (copied) for the broker, retried the same way until it is taken;
   no acknowledgement comes back (e.g. the stager's cat_job stage messages). */
int announcer_submit(announcer_t *self, const char *service, const char *item_id, const char *job_id,
                     const tf_msg_t *msg, tf_err_t *err);
/* Asks the broker the state of one of archive_id's items without creating it: item_id, or its
   tape item ("<archive>-tape") when NULL - e.g. a replica item "<archive>-replica-<target>".
   The answer comes back as an acknowledgement (existed false and state "" when the broker does
   not know it). */
int announcer_probe(announcer_t *self, const char *archive_id, const char *item_id, tf_err_t *err);
/* Readable (for a zpoller) when an acceptance is waiting. */
void *announcer_pollable(announcer_t *self);

typedef struct {
    char archive_id[TF_MSG_MAX_ID + 1];
    char item_id[TF_ID_MAX];     /* which of its items: "<archive>-tape", "<archive>-replica-<target>" */
    char state[32];      /* the item's state: queued | inflight | done | failed | cancelled */
    bool existed;
} announcer_ack_t;

/* Takes one acceptance. */
int announcer_recv(announcer_t *self, announcer_ack_t *ack, tf_err_t *err);

#endif
