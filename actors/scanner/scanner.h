/*  scanner - the `scan` service: a scan_job item -> file_group items for `compress`
    (ids "<job>-g<NNNNN>"), plus cat_job{op: stage, stage: scan} ("<job>-stage-scan") when it
    starts and cat_job{op: scanned, totals} ("<job>-scanned") at the end, to `catalog`.

    Hosts: the scanner reads the files of its own host (tapeflow/host). A scan_job for another
    host is refused. Its file groups carry the host (file_group.host) and are submitted with
    submit.host, so only compressors of this host read them. A job with sources on several
    hosts has one scan per host: scan_job.host names it, its groups are numbered from
    scan_job.group_base + 1 (archive ids stay unique in the job), and its catalog items get the
    host appended ("<job>-scanned-<host>"), with cat_job.host and group_base on the scanned op.
    It also answers path_check (does this path exist here, can it be read) with path_info.

    Levels (issue 11): every scan records the job's manifest with the catalog and stores only
    what the catalog says changed. Before walking: cat_manifest begin (the catalog says the
    level and base job; a base whose manifest cannot be read fails the scan for good with the
    catalog's message). The walk's entries (scan_stat.h) go in batches of SCANNER_DIFF_BATCH
    to cat_manifest diff, in walk order; only the entries of the reply's take[] reach the
    grouper. After the walk: cat_manifest end (tombstones, renames), with the folders it could
    not list and the entries it could not stat (unread: their base entries are kept, not called
    deleted; more than SCANNER_UNREAD_MAX fails an incremental or differential). Each scan run
    makes a random token (cat_manifest.run) and the ids are
    "<job>-manifest-<host|local>-r<run>-begin|diff-<seq>|end": a redelivered scan or a retried
    job starts the manifest again instead of getting the old answers, and the catalog refuses
    the calls of a run a newer one superseded. The scanned op counts taken entries only, its
    message adds ", N unchanged, D deleted".

    A redelivered scan walks again and submits the same ids: the broker answers "existed" and
    queues nothing twice. Submissions and calls go through functions so tests can collect and
    answer them.
*/
#ifndef SCANNER_H_INCLUDED
#define SCANNER_H_INCLUDED

#include "scan_walk.h"
#include "tf_actor.h"
#include "tf_config.h"
#include "tf_msg.h"

typedef int(scanner_submit_fn)(void *arg, const char *service, const char *item_id, const char *job_id,
                               const tf_msg_t *payload, tf_err_t *err);
/* Runs payload as an item of service and waits for its result (tf_client_call): TF_OK with
   *result filled (caller clears); TF_ERR_STATE with the item's reason when the service failed
   it; TF_ERR_TIMEOUT when it did not answer in time. */
typedef int(scanner_call_fn)(void *arg, const char *service, const char *item_id, const char *job_id,
                             const tf_msg_t *payload, tf_msg_t *result, tf_err_t *err);

#define SCANNER_DIFF_BATCH 2000            /* entries per cat_manifest diff */
#define SCANNER_DIFF_TEXT (4u << 20)       /* ... or fewer, once their paths hold this many bytes */
#define SCANNER_UNREAD_MAX 1000            /* unread paths sent with end (and at most
                                              SCANNER_DIFF_TEXT bytes of them) */

typedef struct {
    uint64_t group_bytes;        /* used when the job names none */
    const char *compression;     /* used when the job names none */
    const char *pool;            /* used when the job names none */
    size_t max_entries;          /* 0: SCAN_GROUP_MAX_ENTRIES */
    size_t max_text;             /* 0: SCAN_GROUP_MAX_TEXT */
    const scan_fs_t *fs;         /* NULL: scan_fs_posix() */
    scanner_submit_fn *submit;   /* NULL: submit to the broker (broker/endpoint); file groups go
                                    with submit.host = file_group.host */
    void *submit_arg;
    scanner_call_fn *call;       /* NULL: call the broker; must be set when submit is */
    void *call_arg;
    int call_timeout_ms;         /* 0: 10 s (scanner_new: 10 x broker/heartbeat) */
    const char *mountinfo;       /* NULL: /proc/self/mountinfo (fs_id.h) */
    const char *by_uuid;         /* NULL: /dev/disk/by-uuid */
    const char *host;            /* this host (tapeflow/host); NULL: the groups name no host */
    const tf_config_t *config;   /* keys for a tcp broker (tf_secure); NULL: ipc only */
} scanner_opts_t;

typedef struct {
    uint64_t entries;            /* taken: to be stored */
    uint64_t bytes;
    uint64_t groups;
    uint64_t warnings;
    uint64_t unchanged;          /* carried from the base job */
    uint64_t deleted;            /* tombstones the end recorded */
} scanner_totals_t;

typedef struct _scanner_t scanner_t;

/* Settings from the configuration (scanner/group_size, compressor/compression, backup/pool). */
scanner_t *scanner_new(tf_config_t *cfg, tf_err_t *err);
scanner_t *scanner_new_with(const scanner_opts_t *opts, const char *broker_endpoint, tf_err_t *err);
void scanner_destroy(scanner_t **self_p);

/* Runs one scan job. actor/work may be NULL (no progress reports). */
int scanner_scan(scanner_t *self, const tf_msg_scan_job_t *job, tf_actor_t *actor, const tf_msg_work_t *work,
                 scanner_totals_t *totals, tf_err_t *err);

/* Answers a path_check on this host (info filled, heap-owned: tf_msg_clear). */
int scanner_check_path(scanner_t *self, const tf_msg_path_check_t *check, tf_msg_t *info, tf_err_t *err);

/* The routes tapeflow-scanner serves (arg: the scanner_t): scan_job, path_check. */
extern const tf_actor_route_t scanner_routes[];

#endif
