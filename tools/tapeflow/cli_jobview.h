/*  cli_jobview - how tapeflow commands fetch and show catalog jobs: `tapeflow jobs`,
    `tapeflow job ID`, and `tapeflow backup --wait` (which polls cli_job_fetch and prints
    cli_job_print / cli_job_json at the end).
*/
#ifndef CLI_JOBVIEW_H_INCLUDED
#define CLI_JOBVIEW_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tf_client.h"
#include "tf_json.h"
#include "tf_units.h"
#include "tf_msg.h"

/* How long a catalog query may take by default (the catalog answers in milliseconds; this
   covers a busy broker). */
#define CLI_JOB_TIMEOUT_MS 10000


/* Runs query as a `catalog` item (fresh id) and waits for its result; *reply is the
   cat_reply (the caller clears it with tf_msg_clear). Errors, with operator messages:
   TF_ERR_TIMEOUT "broker not reachable ... start it with: tapeflow up" or "the catalog did not
   answer ... is tapeflow-catalog running?"; TF_ERR_NOTFOUND "no job J..." for an unknown job;
   TF_ERR_STATE with the catalog's reason when it refused the query. */
int cli_catalog_query(tf_client_t *client, const tf_msg_cat_query_t *query, tf_msg_t *reply,
                      int timeout_ms, tf_err_t *err);

/* One job with its progress: on TF_OK reply->cat_reply.jobs[0] is the job (caller clears). */
int cli_job_fetch(tf_client_t *client, const char *job_id, tf_msg_t *reply, int timeout_ms,
                  tf_err_t *err);

/* True when the job has ended: completed, completed_with_warnings, failed, cancelled or
   expired (the pipeline changes nothing more; a later recycle of its tape may still make it
   expired). */
bool cli_job_finished(const tf_msg_job_row_t *job);
/* True only for completed: every scanned entry is on tape. Commands exit 1 for the others. */
bool cli_job_ok(const tf_msg_job_row_t *job);

/* Human block, one "label  value" line each: job, status, stage, pool, sources, level (with
   the reason of an upgrade), base job, trigger, unchanged, deleted, depends on, created, updated,
   files and bytes done/total (with percent once scanned), archives, replicas (one line per
   replication target: "replicated to URL (3 archives, 1.2 GiB, verified)", "replication to URL
   failed: WHY" or "replicating to URL: 2 of 3 archives"; none for a job without targets),
   warnings, message, and the detail (root cause) when set. */
void cli_job_print(FILE *out, const tf_msg_job_row_t *job);

/* The job as a JSON object under key (NULL inside arrays); see docs/catalog.md. */
void cli_job_json(tf_json_t *j, const char *key, const tf_msg_job_row_t *job);
/* The job as a whole document ("schema" and the job's keys): what `tapeflow job ID --json` and
   `tapeflow backup --wait --json` print. */
void cli_job_json_document(tf_json_t *j, const tf_msg_job_row_t *job);

/* Table of jobs, one line each, with a header (and a hint when there are none): JOB, STATUS,
   LEVEL, TRIGGER (schedule name or manual), BASE, STAGE, CREATED, FILES, BYTES, MESSAGE. */
void cli_jobs_table(FILE *out, const tf_msg_job_row_t *jobs, size_t count);

#endif
