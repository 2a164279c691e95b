/*  indexrows - what the tape writer puts in an archive's on-tape index, and the job facts for
    its header.

    The archive's file rows travel with it: the compressor sends them to the stager with the
    archive, the stager keeps them as the archive's sidecar (docs/staging.md, "File rows
    sidecar"), and indexrows_fetch fetches the sidecar from the stager like the data
    (archive_ready.rows_size, fetch.rows) and builds the index records (tapeindex.h) from it -
    no catalog round trip, no waiting for the rows to reach the catalog.

    An archive without a usable sidecar (staged before sidecars, e.g. parked across the
    upgrade; or a sidecar that does not check out) gets one catalog query (cat_query
    archive_files), never a poll: its rows reached the catalog when it was staged. When that
    does not give exactly `ready->files` rows either, the call fails and the caller writes the
    archive without index (a rebuild then reads the archive's tar headers) and says so.

    It also asks the catalog once for the job (cat_query job): its creation time and, once
    scanned, its totals go into the archive's header for a rebuild (best effort; they are
    known only to the catalog, and only once the scan ended).
*/
#ifndef INDEXROWS_H_INCLUDED
#define INDEXROWS_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#include "tf_stage_fetch.h"
#include "tapeindex.h"
#include "tf_client.h"
#include "tf_msg.h"

typedef struct {
    bool known;             /* the catalog answered the job query */
    int64_t created_ms;
    bool scanned;
    uint64_t files;
    uint64_t bytes;
    uint64_t groups;
    uint64_t warnings;
} indexrows_job_t;

/* Returns true to stop (the item is being interrupted). */
typedef bool(indexrows_stop_fn)(void *arg);

/* *index: the built index (caller destroys) on TF_OK. fetch: how to fetch the sidecar from
   ready->stager. job: filled best effort either way. Errors: the sidecar unusable and the
   catalog's one answer incomplete (TF_ERR_STATE) or missing (its error), TF_ERR_INTERRUPTED. */
int indexrows_fetch(tf_client_t *client, const tf_msg_archive_ready_t *ready, const tf_stage_fetch_opts_t *fetch,
                    int call_timeout_ms, indexrows_stop_fn *stop, void *arg, tapeindex_t **index,
                    indexrows_job_t *job, tf_err_t *err);

#endif
