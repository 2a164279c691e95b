/*  indexrows - the rows of an archive's on-tape index, from its sidecar (see indexrows.h). */
#include "indexrows.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "tf_checksum.h"
#include "tf_log.h"
#include "tf_sidecar.h"

/* A sidecar larger than this is not what a stager sends (a group has at most 50,000 entries
   by default, about 10 MiB of rows): not held in memory. */
#define S_SIDECAR_MAX (1ull << 30)

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

/* Reads the whole sidecar from the stager into *data (caller frees). */
static int
s_fetch_sidecar(const tf_msg_archive_ready_t *ready, const tf_stage_fetch_opts_t *opts, uint8_t **data, tf_err_t *err)
{
    *data = NULL;
    if (ready->rows_size > S_SIDECAR_MAX)
        return tf_err_set(err, TF_ERR_TOOBIG, "the sidecar is said to be %" PRIu64 " bytes, more than the %llu "
                          "a stager sends", ready->rows_size, S_SIDECAR_MAX);
    uint8_t *buf = malloc((size_t) ready->rows_size);
    if (!buf)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory for a sidecar of %" PRIu64 " bytes", ready->rows_size);
    tf_stage_fetch_t *fetcher = tf_stage_fetch_new_rows(ready->stager, ready->stager_key, ready->archive_id, ready->rows_size, opts, err);
    int rc = fetcher ? TF_OK : err->code;
    uint64_t have = 0;
    while (rc == TF_OK) {
        const void *chunk;
        size_t len;
        rc = tf_stage_fetch_next(fetcher, &chunk, &len, err);
        if (rc != TF_OK || len == 0)
            break;
        memcpy(buf + have, chunk, len);  /* tf_stage_fetch_next never hands out more than size */
        have += len;
    }
    tf_stage_fetch_destroy(&fetcher);
    if (rc == TF_OK && ready->rows_checksum && *ready->rows_checksum) {
        char digest[TF_CHECKSUM_STRLEN];
        tf_checksum_of(buf, (size_t) have, digest);
        if (strcmp(digest, ready->rows_checksum) != 0)
            rc = tf_err_set(err, TF_ERR_INVALID, "its %" PRIu64 " bytes hash to %s, the stager announced %s", have,
                            digest, ready->rows_checksum);
    }
    if (rc != TF_OK) {
        free(buf);
        return rc;
    }
    *data = buf;
    return TF_OK;
}

/* The index from the archive's sidecar, fetched from the stager. */
static int
s_from_sidecar(const tf_msg_archive_ready_t *ready, const tf_stage_fetch_opts_t *opts, tapeindex_t **index,
               tf_err_t *err)
{
    uint8_t *data = NULL;
    int rc = s_fetch_sidecar(ready, opts, &data, err);
    tf_sidecar_t *sidecar = rc == TF_OK ? tf_sidecar_parse(data, (size_t) ready->rows_size, ready->archive_id, err)
                                        : NULL;
    if (rc == TF_OK && !sidecar)
        rc = err->code;
    if (rc == TF_OK && tf_sidecar_count(sidecar) != ready->files)
        rc = tf_err_set(err, TF_ERR_STATE, "it holds %zu file rows, the archive has %" PRIu64 " entries",
                        tf_sidecar_count(sidecar), ready->files);
    if (rc == TF_OK) {
        *index = tapeindex_build(ready->job_id, ready->archive_id, tf_sidecar_rows(sidecar),
                                 tf_sidecar_count(sidecar), err);
        rc = *index ? TF_OK : err->code;
    }
    tf_sidecar_destroy(&sidecar);
    free(data);
    return rc;
}

/* The index from the catalog's rows: one query, no waiting (an archive without a sidecar was
   staged long enough ago for its rows to be in the catalog). *reachable: false when the
   catalog did not answer in time. */
static int
s_from_catalog(tf_client_t *client, const tf_msg_archive_ready_t *ready, int call_timeout_ms, tapeindex_t **index,
               bool *reachable, tf_err_t *err)
{
    tf_msg_t query = {.type = TF_MSG_CAT_QUERY};
    query.cat_query = (tf_msg_cat_query_t){.query = "archive_files", .job_id = ready->job_id,
                                           .pattern = ready->archive_id, .limit = ready->files + 1};
    tf_msg_t result;
    int rc = tf_client_call(client, "catalog", NULL, ready->job_id, &query, &result, call_timeout_ms, err);
    if (rc != TF_OK) {
        *reachable = rc != TF_ERR_TIMEOUT;
        return tf_err_prefix(err, "cannot ask the catalog for the file rows of archive %s: ", ready->archive_id);
    }
    size_t have = result.type == TF_MSG_CAT_REPLY ? result.cat_reply.files_count : 0;
    if (result.type != TF_MSG_CAT_REPLY || have != ready->files || result.cat_reply.truncated)
        rc = tf_err_set(err, TF_ERR_STATE, "the catalog holds %zu%s file rows for archive %s, which has %" PRIu64
                        " entries", have, result.type == TF_MSG_CAT_REPLY && result.cat_reply.truncated ? "+" : "",
                        ready->archive_id, ready->files);
    else {
        *index = tapeindex_build(ready->job_id, ready->archive_id, result.cat_reply.files, have, err);
        rc = *index ? TF_OK : err->code;
    }
    tf_msg_clear(&result);
    return rc;
}

int
indexrows_fetch(tf_client_t *client, const tf_msg_archive_ready_t *ready, const tf_stage_fetch_opts_t *fetch,
                int call_timeout_ms, indexrows_stop_fn *stop, void *arg, tapeindex_t **index, indexrows_job_t *job,
                tf_err_t *err)
{
    *index = NULL;
    memset(job, 0, sizeof *job);
    int rc = TF_OK;
    bool reachable = true;
    if (ready->rows_size > 0) {
        tf_err_t serr = {0};
        if (s_from_sidecar(ready, fetch, index, &serr) != TF_OK)
            tf_log_warn("archive %s: its file rows sidecar on the stager cannot be used (%s); asking the catalog "
                        "once instead", ready->archive_id, serr.message);
    }
    else if (ready->files == 0)  /* nothing to list (also without a sidecar) */
        *index = tapeindex_build(ready->job_id, ready->archive_id, NULL, 0, err);
    else
        tf_log_info("archive %s was staged without its file rows sidecar (before sidecars); asking the catalog "
                    "once for them", ready->archive_id);
    if (!*index) {
        if (stop && stop(arg))
            return tf_err_set(err, TF_ERR_INTERRUPTED, "stopped before the file rows of archive %s were read",
                              ready->archive_id);
        rc = s_from_catalog(client, ready, call_timeout_ms, index, &reachable, err);
    }
    if (reachable)
        s_job(client, ready, call_timeout_ms, job);
    return rc;
}
