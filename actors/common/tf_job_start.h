/*  tf_job_start - starts a backup job: what `tapeflow backup` and the scheduler share
    (issue 11). The job's record (cat_job create, carrying the level asked for and the trigger)
    is applied by the catalog first - that is where the level it runs at and its base job are
    decided - then one scan per host is submitted. Every item id derives from the job id, so
    starting the same job again (a retried command, a restarted or second scheduler) queues
    nothing new.

        tf_job_spec_t spec = {.job_id = "nightly-20261202T030000Z", .sources = rows,
                              .sources_count = n, .level = "incremental",
                              .schedule = "nightly", .trigger = "schedule nightly at ...",
                              .trigger_ms = instant};
        rc = tf_job_check(cfg, client, &spec, &err);   // pool and every host's agent and paths
        if (rc == TF_OK)
            rc = tf_job_start(cfg, client, &spec, &job, &err);
        else
            tf_job_record_failure(cfg, client, &spec, err.message, &err2);
*/
#ifndef TF_JOB_START_H_INCLUDED
#define TF_JOB_START_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tf_client.h"
#include "tf_config.h"
#include "tf_err.h"
#include "tf_msg.h"

typedef struct {
    const char *job_id;                 /* tf_id_safe_name */
    const tf_msg_path_row_t *sources;   /* "HOST:/path", or "/path" on this host (absolute,
                                           resolved by the caller) */
    size_t sources_count;
    const char *pool;                   /* NULL: backup/pool */
    const char *compression;            /* NULL: compressor/compression */
    uint64_t group_bytes;               /* 0: scanner/group_size */
    bool one_fs;
    const char *level;                  /* full | differential | incremental; NULL: full */
    const char *schedule;               /* NULL: started by hand */
    const char *trigger;                /* NULL: "manual" */
    int64_t trigger_ms;                 /* the scheduled instant; 0 for manual */
} tf_job_spec_t;

/* The job id of a scheduled run: "<schedule>-<YYYYmmddTHHMMSSZ>" of the instant (UTC), so
   every scheduler that fires that instant names the same job. */
void tf_job_id_scheduled(char *buf, size_t size, const char *schedule, int64_t instant_ms);
/* A fresh id for a job started by hand: "J<YYYYmmdd-HHMMSS>-<6 hex>". */
void tf_job_id_manual(char *buf, size_t size);

/* Checks what would make the job fail at once: the pool's retention is sane, every
   replication target of the pool (pools/POOL/replicas) is configured, the pool exists and has
   something writable, this host's paths exist, each other host has a file agent and
   its paths are there and readable. The error says what is wrong and how to fix it. */
int tf_job_check(tf_config_t *cfg, tf_client_t *client, const tf_job_spec_t *spec, tf_err_t *err);
/* The same; note gets what the operator should know when the job may start anyway (the
   catalog did not answer the pool check, it knows no volume of the pool, ...), or "". */
int tf_job_check_noted(tf_config_t *cfg, tf_client_t *client, const tf_job_spec_t *spec, char *note,
                       size_t note_size, tf_err_t *err);

/* Records the job (cat_job create, with the pool's replication targets as replicas
   "nas,offsite" and pools/POOL/replication when it has any) and submits its scans. *job (may be NULL) becomes the job as the catalog
   recorded it (a cat_reply with one job row: level, base_job, level_reason, trigger); clear
   it with tf_msg_clear. When the catalog has not applied the create within 10 heartbeats the
   scans are queued all the same and *job stays TF_MSG_NONE (the job goes on once the catalog
   answers). A create the catalog refused fails the start before any scan is queued. */
int tf_job_start(tf_config_t *cfg, tf_client_t *client, const tf_job_spec_t *spec, tf_msg_t *job, tf_err_t *err);

/* Records a job that could not start (create, then failed with message), so the operator
   finds it where they look for jobs. */
int tf_job_record_failure(tf_config_t *cfg, tf_client_t *client, const tf_job_spec_t *spec, const char *message,
                          tf_err_t *err);

#endif
