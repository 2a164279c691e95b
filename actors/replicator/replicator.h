/*  replicator - the replicator's core: copies staged archives to replication targets, commits
    jobs there and applies the target's retention (docs/architecture.md, "The replicator";
    docs/operations.md, "Replication").

    Socket-free like broker/broker.c and actors/scheduler/scheduler.c: the stager's bytes, the
    catalog, the stager's release item, progress and the clock go through injected ops (the
    process wires them to tf_stage_fetch and tf_client in replicator_client.c, tests to fakes);
    the targets are real (tf_replica_connect on the configured URL).

    replicator_copy (one replica_copy item, <archive>-replica-<target>):
      1. the target's configuration and connection (sentinel, require_fs);
      2. the copy is skipped when .partial/<job>/<archive>.data (and .rows) read back with the
         item's sizes and checksums, or the job is committed there with the archive in its
         manifest (a redelivery);
      3. else the free space is checked (size + rows_size + min_free), both files are written
         under .partial/<job>/, synced, closed, the folder synced, and read back and compared
         (a mismatch removes the file and fails the item);
      4. cat_replica copied (item <archive>-replica-<target>-copied); its reply says whether
         the job is ready (scanned, every archive copied);
      5. archive_release{archive, replica} to the stager (item <archive>-release-<target>);
      6. when ready, the job is committed: .partial/<job> renamed to <job>, manifest.json
         written last (the commit marker), cat_replica committed; then the pool's retention on
         the target, unless anything failed in this item.
    A job that stored no archive (ready with none copied) is committed as an empty folder with a
    manifest listing no archives.
    Every failed attempt records cat_replica failed ("replication to URL failed: WHY") and
    fails the item with retry. An optional target (copy.required false) on its last attempt
    (attempt >= broker/max_attempts) records the failure as final, sends the release with
    gave_up and completes the item: the job then ends completed_with_warnings.

    replicator_sweep (at start and every replicator/sweep between items): commits the jobs the
    catalog says are ready but not committed (query replica_pending: a commit a crash
    interrupted, a job scanned after its last copy); at start also removes .partial leftovers
    older than a day whose job is committed (or deleted) on that target or unknown to the
    catalog, and <job>/ folders without manifest.json whose job retention deleted there. A
    commit that fails in the sweep records cat_replica failed with its reason.

    Retention records cat_replica deleted first and removes the job's files only once the
    catalog has acknowledged it (until then the job counts as a replica).
*/
#ifndef REPLICATOR_H_INCLUDED
#define REPLICATOR_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tf_config.h"
#include "tf_err.h"
#include "tf_msg.h"

/* A .partial leftover younger than this is never removed: its copy may still be going on. */
#define REPLICATOR_LEFTOVER_AGE_MS (86400LL * 1000)

typedef struct _replicator_t replicator_t;

typedef struct {
    /* Starts reading the staged archive (rows false) or its file rows sidecar (rows true) of
       copy from the stager; *reader is the op's. */
    int (*fetch_open)(void *arg, const tf_msg_replica_copy_t *copy, bool rows, void **reader, tf_err_t *err);
    /* The next bytes in order (valid until the next call); *len 0 after the last byte. */
    int (*fetch_next)(void *arg, void *reader, const void **data, size_t *len, tf_err_t *err);
    void (*fetch_close)(void *arg, void **reader_p);
    /* A catalog item (cat_replica or cat_query); *result is its cat_reply, cleared by the
       caller. item_id NULL: a fresh id. A query for a job the catalog does not know is
       TF_ERR_NOTFOUND. */
    int (*catalog)(void *arg, const char *item_id, const char *job_id, const tf_msg_t *payload, tf_msg_t *result,
                   tf_err_t *err);
    /* Submits archive_release to the stager as item item_id. */
    int (*release)(void *arg, const char *item_id, const char *job_id, const tf_msg_archive_release_t *release,
                   tf_err_t *err);
    /* Progress on the item being worked on (may be NULL). */
    void (*progress)(void *arg, const tf_msg_work_t *work, uint64_t done, uint64_t total, const char *message);
    /* True once the process is asked to stop (may be NULL). */
    bool (*interrupted)(void *arg);
    /* Wall clock, UTC ms. */
    int64_t (*now_ms)(void *arg);
} replicator_ops_t;

/* cfg (replicas/NAME/..., pools/POOL/..., replicator/..., broker/max_attempts) stays the caller's. */
replicator_t *replicator_new(tf_config_t *cfg, const replicator_ops_t *ops, void *arg, tf_err_t *err);
void replicator_destroy(replicator_t **self_p);

/* One replica_copy item (work: its delivery, for the attempt and progress). TF_OK: the item is
   done (copied, or an optional target given up); TF_ERR_PROTO: the payload is no good
   replica_copy (fail it for good); any other status: err says why and the item is to be
   failed with retry (the broker's max_attempts ends a required target) - a garbled answer of
   the stager or the catalog included. */
int replicator_copy(replicator_t *self, const tf_msg_work_t *work, const tf_msg_replica_copy_t *copy, tf_err_t *err);

/* Commits the jobs the catalog says are ready (query replica_pending); leftovers: also remove
   old .partial leftovers (at start). Never fails: problems are logged and tried again at the
   next sweep. Returns the number of jobs committed. */
size_t replicator_sweep(replicator_t *self, bool leftovers);

/* Commits job_id on the target named target (the sweep's step, for tests): TF_OK when the job is
   committed there (now or before). */
int replicator_commit(replicator_t *self, const char *job_id, const char *target, tf_err_t *err);

#endif
