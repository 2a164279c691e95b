/*  journal - the broker's durable record of every work item (SQLite, WAL).

    Write-ahead: the broker records a state change here before it acts on it (before a WORK
    goes out, before a SUBMIT is acknowledged), so after a crash every item that was queued or
    in flight is found again by journal_load_pending. Payloads stay on disk and are read back
    only when an item is dispatched, so the broker's memory does not grow with queue depth.
*/
#ifndef JOURNAL_H_INCLUDED
#define JOURNAL_H_INCLUDED

#include <stdint.h>

#include "tf_err.h"
#include "tf_msg.h"

typedef struct _journal_t journal_t;

typedef enum {
    JOURNAL_QUEUED = 0,
    JOURNAL_INFLIGHT = 1,
    JOURNAL_DONE = 2,
    JOURNAL_FAILED = 3,
    JOURNAL_CANCELLED = 4   /* its job was cancelled by an operator (tapeflow job cancel) */
} journal_state_t;

/* One row; strings and bytes owned by the row (journal_row_clear). */
typedef struct {
    char *id;
    char *service;
    char *job_id;
    char *host;           /* runs only on a worker of this host; NULL: any */
    journal_state_t state;
    int64_t attempts;
    char *worker;
    char *reason;
    tf_bytes_t payload;
    tf_bytes_t result;
    int64_t created_ms;
    int64_t updated_ms;
    int64_t seq;          /* arrival order */
} journal_row_t;

journal_t *journal_open(const char *path, tf_err_t *err);
void journal_destroy(journal_t **self_p);
const char *journal_path(journal_t *self);

/* Adds a queued item. TF_ERR_STATE if the id exists already. */
int journal_insert(journal_t *self, const char *id, const char *service, const char *job_id,
                   const void *payload, size_t size, int64_t now_ms, tf_err_t *err);
/* Adds an item in the given state (queued, or cancelled for a new item of a cancelled job) in
   one statement, so a crash never leaves it half recorded. host (NULL or "": any) is the host
   whose worker must run it. */
int journal_insert_as(journal_t *self, const char *id, const char *service, const char *job_id,
                      const char *host, const void *payload, size_t size, journal_state_t state,
                      const char *reason, int64_t now_ms, tf_err_t *err);
int journal_mark_inflight(journal_t *self, const char *id, const char *worker, int64_t attempts,
                          int64_t now_ms, tf_err_t *err);
int journal_mark_queued(journal_t *self, const char *id, int64_t attempts, int64_t now_ms,
                        tf_err_t *err);
int journal_mark_done(journal_t *self, const char *id, const void *result, size_t size,
                      int64_t now_ms, tf_err_t *err);
int journal_mark_failed(journal_t *self, const char *id, const char *reason, int64_t now_ms,
                        tf_err_t *err);

/* Reads one item (with payload and result). TF_ERR_NOTFOUND if unknown. */
int journal_get(journal_t *self, const char *id, journal_row_t *row, tf_err_t *err);

/* Calls fn for every queued or in-flight item in arrival order (no payloads loaded). */
typedef int(journal_row_fn)(const journal_row_t *row, void *arg);
int journal_load_pending(journal_t *self, journal_row_fn *fn, void *arg, tf_err_t *err);

/* Deletes finished (done/failed) items last updated before cutoff; returns count or error. */
int journal_purge(journal_t *self, int64_t cutoff_ms, tf_err_t *err);

/* --- operator actions on jobs (cancel, retry) ------------------------------------------- */

/* Marks a queued or in-flight item cancelled (payload kept, so a retry can run it again). */
int journal_mark_cancelled(journal_t *self, const char *id, const char *reason, int64_t now_ms,
                           tf_err_t *err);
/* Records a late completion of a cancelled item (its worker finished it after all): done. */
int journal_mark_done_late(journal_t *self, const char *id, const void *result, size_t size,
                           int64_t now_ms, tf_err_t *err);
/* Queues a failed or cancelled item again with attempts 0. TF_ERR_NOTFOUND when the item is
   not failed or cancelled. */
int journal_mark_requeued(journal_t *self, const char *id, int64_t now_ms, tf_err_t *err);
/* Deletes a finished (done, failed, cancelled) item; missing is fine. */
int journal_forget(journal_t *self, const char *id, tf_err_t *err);
/* Calls fn for every item of job_id in state (no payloads), in arrival order. */
int journal_load_job(journal_t *self, const char *job_id, journal_state_t state, journal_row_fn *fn,
                     void *arg, tf_err_t *err);

/* The cancelled jobs: new items of such a job are recorded cancelled at once, except for the
   services in spare (comma separated). */
int journal_job_cancelled_set(journal_t *self, const char *job_id, const char *spare,
                              const char *message, int64_t now_ms, tf_err_t *err);
int journal_job_cancelled_clear(journal_t *self, const char *job_id, tf_err_t *err);
typedef int(journal_cancelled_fn)(const char *job_id, const char *spare, void *arg);
int journal_load_cancelled(journal_t *self, journal_cancelled_fn *fn, void *arg, tf_err_t *err);

void journal_row_clear(journal_row_t *row);
const char *journal_state_name(journal_state_t state);

#endif
