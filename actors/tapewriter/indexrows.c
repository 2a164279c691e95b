/*  indexrows - the rows of an archive's on-tape index, from the catalog (see indexrows.h). */
#include "indexrows.h"

#include <inttypes.h>
#include <string.h>

#include "tf_clock.h"
#include "tf_log.h"

#define S_POLL_MS 200

static void
s_job(tf_client_t *client, const tf_msg_archive_ready_t *ready, int timeout_ms, indexrows_job_t *job)
{
    memset(job, 0, sizeof *job);
    tf_msg_t query = {.type = TF_MSG_CAT_QUERY};
    query.cat_query = (tf_msg_cat_query_t){.query = "job", .job_id = ready->job_id};
    tf_msg_t result;
    tf_err_t err = {0};
    if (tf_client_call(client, "catalog", NULL, ready->job_id, &query, &result, timeout_ms, &err) != TF_OK) {
        tf_log_warn("archive %s: cannot ask the catalog about job %s for the tape header: %s", ready->archive_id,
                    ready->job_id, err.message);
        return;
    }
    if (result.type == TF_MSG_CAT_REPLY && result.cat_reply.jobs_count == 1) {
        const tf_msg_job_row_t *j = &result.cat_reply.jobs[0];
        *job = (indexrows_job_t){.known = true, .created_ms = j->created_ms, .scanned = j->scanned,
                                 .files = j->files_total, .bytes = j->bytes_total, .groups = j->groups_total,
                                 .warnings = j->warnings};
    }
    tf_msg_clear(&result);
}

int
indexrows_fetch(tf_client_t *client, const tf_msg_archive_ready_t *ready, int wait_ms, int call_timeout_ms,
                indexrows_stop_fn *stop, void *arg, tapeindex_t **index, indexrows_job_t *job, tf_err_t *err)
{
    *index = NULL;
    int64_t deadline = tf_clock_mono_ms() + (wait_ms > 0 ? wait_ms : 0);
    size_t have = 0;
    int rc;
    bool reachable = true;
    for (;;) {
        tf_msg_t query = {.type = TF_MSG_CAT_QUERY};
        query.cat_query = (tf_msg_cat_query_t){.query = "archive_files", .job_id = ready->job_id,
                                               .pattern = ready->archive_id, .limit = ready->files + 1};
        tf_msg_t result;
        rc = tf_client_call(client, "catalog", NULL, ready->job_id, &query, &result, call_timeout_ms, err);
        if (rc != TF_OK) {
            reachable = rc != TF_ERR_TIMEOUT;
            tf_err_prefix(err, "cannot ask the catalog for the file rows of archive %s: ", ready->archive_id);
            break;
        }
        have = result.type == TF_MSG_CAT_REPLY ? result.cat_reply.files_count : 0;
        if (result.type == TF_MSG_CAT_REPLY && have >= ready->files) {
            if (have > ready->files || result.cat_reply.truncated) {
                rc = tf_err_set(err, TF_ERR_STATE, "the catalog holds %zu%s file rows for archive %s, which has "
                                "%" PRIu64 " entries", have, result.cat_reply.truncated ? "+" : "",
                                ready->archive_id, ready->files);
            } else {
                *index = tapeindex_build(ready->job_id, ready->archive_id, result.cat_reply.files, have, err);
                rc = *index ? TF_OK : err->code;
            }
            tf_msg_clear(&result);
            break;
        }
        tf_msg_clear(&result);
        if (tf_clock_mono_ms() >= deadline) {
            rc = tf_err_set(err, TF_ERR_TIMEOUT, "the catalog has %zu of the %" PRIu64 " file rows of archive %s "
                            "after %.1f s (the compressor sends them after staging)", have, ready->files,
                            ready->archive_id, (double) wait_ms / 1000.0);
            break;
        }
        if (stop && stop(arg)) {
            rc = tf_err_set(err, TF_ERR_INTERRUPTED, "stopped while waiting for the file rows of archive %s",
                            ready->archive_id);
            break;
        }
        tf_clock_sleep_ms(S_POLL_MS);
    }
    if (reachable)
        s_job(client, ready, call_timeout_ms, job);
    else
        memset(job, 0, sizeof *job);
    return rc;
}
