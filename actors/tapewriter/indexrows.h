/*  indexrows - what the tape writer puts in an archive's on-tape index, asked from the catalog.

    The compressor sends an archive's file rows to the catalog (cat_files) after the archive is
    staged, so they may arrive a little after the archive_ready item. indexrows_fetch asks the
    catalog (cat_query archive_files) until it has all `ready->files` rows or wait_ms passed,
    and builds the index records (tapeindex.h). It also asks for the job (cat_query job): its
    creation time and, once scanned, its totals go into the archive's header for a rebuild.

    Failing to get the rows is not fatal for the archive: the caller writes it without index
    (a rebuild then reads the archive's tar headers) and says so.
*/
#ifndef INDEXROWS_H_INCLUDED
#define INDEXROWS_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

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

/* Returns true to stop waiting (the item is being interrupted). */
typedef bool(indexrows_stop_fn)(void *arg);

/* *index: the built index (caller destroys) on TF_OK. job: filled best effort either way.
   Errors: TF_ERR_TIMEOUT (rows missing after wait_ms), or the catalog's refusal/unreachability. */
int indexrows_fetch(tf_client_t *client, const tf_msg_archive_ready_t *ready, int wait_ms, int call_timeout_ms,
                    indexrows_stop_fn *stop, void *arg, tapeindex_t **index, indexrows_job_t *job, tf_err_t *err);

#endif
