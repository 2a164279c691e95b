/*  tf_replica - what a replication target holds and how it is laid out: the one place the
    layout, the sentinel, manifest.json, verification and the retention rule live, shared by
    the replicator (actors/replicator) and `tapeflow replica` / `restore --from-replica`.

    Layout under the target's root (docs/operations.md, "Replication"):
        .tapeflow-target             the sentinel `tapeflow replica init NAME` writes (ZPL:
                                     target/name, target/id, target/created); a root without it
                                     (an empty folder under a missing mount) is never written to
        .partial/<job>/              a job being copied: <archive>.data and <archive>.rows, each
                                     written, synced, re-read and checked before it counts
        <job>/                       a committed job: the .partial folder renamed into place ...
        <job>/manifest.json          ... then its manifest, written last: the commit marker. A
                                     <job>/ without manifest.json is not a replica.

    Configuration: replicas/NAME/{url, credentials, require_fs, min_free}; a pool's targets in
    pools/POOL/replicas, with pools/POOL/{replication, replica_keep_last, replica_keep_days}.
*/
#ifndef TF_REPLICA_H_INCLUDED
#define TF_REPLICA_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tf_config.h"
#include "tf_err.h"
#include "tf_msg.h"
#include "tf_target.h"

#define TF_REPLICA_SENTINEL ".tapeflow-target"
#define TF_REPLICA_PARTIAL ".partial"
#define TF_REPLICA_MANIFEST "manifest.json"
#define TF_REPLICA_FORMAT 1          /* manifest.json "format" */
#define TF_REPLICA_NAMES_MAX 16      /* targets of one pool */

/* A target as configured. */
typedef struct {
    char name[TF_MSG_MAX_ID + 1];
    char url[TF_MSG_MAX_PATH + 1];
    char credentials[TF_MSG_MAX_PATH + 1];
    char require_fs[16];             /* any | cifs | nfs */
    uint64_t min_free;
    int timeout_ms;                  /* replicator/timeout */
} tf_replica_conf_t;

/* Reads replicas/NAME/...: TF_ERR_NOTFOUND "no replication target 'NAME' (replicas/NAME/url is
   not set in FILE)" when it is not configured, TF_ERR_INVALID for a name that is not
   tf_id_safe_name or is "tape" (reserved), or a URL of another scheme. */
int tf_replica_conf(const tf_config_t *cfg, const char *name, tf_replica_conf_t *conf, tf_err_t *err);

/* A pool's targets (pools/POOL/replicas: *count names, each checked with tf_replica_conf) and
   whether they are required (pools/POOL/replication). *count 0: the pool replicates nowhere. */
int tf_replica_pool(const tf_config_t *cfg, const char *pool, char names[][TF_MSG_MAX_ID + 1], size_t max,
                    size_t *count, bool *required, tf_err_t *err);

/* tf_replica_pool joined as one comma list ("nas,offsite"; "" when the pool replicates
   nowhere), names deduplicated and each checked with tf_replica_conf. A list that does not fit
   in size is TF_ERR_TOOBIG (list ""), never truncated. Target names are tf_id_safe_name
   (tf_pipeline_ids.h); "tape" is reserved (the catalog names tape copies so). */
int tf_replica_pool_list(const tf_config_t *cfg, const char *pool, char *list, size_t size, bool *required,
                         tf_err_t *err);

/* tf_target_open's options for the target (they point into conf). with_require_fs false:
   any file system (tapeflow replica check looks at the mount itself first). */
tf_target_opts_t tf_replica_target_opts(const tf_replica_conf_t *conf, bool with_require_fs, bool create_root);
/* Opens the target and checks its sentinel: missing ("replica target NAME (URL) has no
   .tapeflow-target: ... not mounted? ... tapeflow replica init NAME"), unreadable, or naming
   another target are refused. id (NULL: not wanted) gets the target id the sentinel holds. */
tf_target_t *tf_replica_connect(const tf_replica_conf_t *conf, char *id, size_t size, tf_err_t *err);
/* tapeflow replica init: opens the target without the sentinel check, creates the root when
   missing and writes the sentinel (a fresh id) unless one for this name is there already
   (*created false). A sentinel of another target is refused. */
int tf_replica_init(const tf_replica_conf_t *conf, bool *created, char *id, size_t id_size, tf_err_t *err);

/* Paths relative to the root: ".partial/<job>", "<job>", "<dir>/<archive>.data|.rows". An id
   that cannot be one folder or file name below the root (not tf_id_safe_name: empty, with '/'
   or '\\', starting with '.' or '-')
   or a path too long for out gives a path with "..", which every tf_target verb refuses. */
void tf_replica_partial_dir(const char *job_id, char *out, size_t size);
void tf_replica_job_dir(const char *job_id, char *out, size_t size);
void tf_replica_data_path(const char *dir, const char *archive_id, char *out, size_t size);
void tf_replica_rows_path(const char *dir, const char *archive_id, char *out, size_t size);

/* The xxh128 ("xxh128:<32 hex>") of a file on the target, read back in chunks of `chunk`
   bytes, and its size. */
int tf_replica_checksum(tf_target_t *target, const char *path, size_t chunk, char *checksum, size_t size,
                        uint64_t *bytes, tf_err_t *err);

/* manifest.json: what a committed job folder holds. */
typedef struct {
    uint64_t format;                 /* TF_REPLICA_FORMAT */
    char *job_id;
    char *target;
    char *target_id;
    char *pool;
    char *level;                     /* full | differential | incremental */
    char *base_job;                  /* NULL for a full */
    int64_t created_ms;              /* the job's creation */
    int64_t committed_ms;
    char *tool_version;              /* TAPEFLOW_VERSION of the replicator that wrote it */
    tf_msg_replica_archive_t *archives; /* by group */
    size_t archives_count;
    uint64_t files;                  /* sums over archives (write computes them) */
    uint64_t bytes;                  /* content bytes */
    uint64_t stored;                 /* archive bytes (.data) */
} tf_replica_manifest_t;

void tf_replica_manifest_clear(tf_replica_manifest_t *m);
/* Writes <dir>/manifest.json (through a temporary name, synced, renamed, folder synced).
   format is TF_REPLICA_FORMAT, files/bytes/stored the sums over archives, tool_version
   TAPEFLOW_VERSION when m's is NULL. TF_ERR_STATE when <dir>/manifest.json exists already. */
int tf_replica_manifest_write(tf_target_t *target, const char *dir, const tf_replica_manifest_t *m, tf_err_t *err);
/* Reads <job>/manifest.json: TF_ERR_NOTFOUND when the job is not committed there,
   TF_ERR_INVALID (with what is wrong) when it does not parse (jansson), lacks a field, has one
   of the wrong type or names another job; TF_ERR_UNSUPPORTED for a format this tapeflow does
   not read. */
int tf_replica_manifest_read(tf_target_t *target, const char *job_id, tf_replica_manifest_t *m, tf_err_t *err);

/* What a target holds: committed jobs (a <job>/ with manifest.json; manifest read) and
   partial ones (.partial/<job>/, or a <job>/ without manifest). */
typedef struct {
    char job_id[TF_MSG_MAX_ID + 1];
    bool committed;
    bool in_partial;                 /* .partial/<job>/ (else <job>/ at the root) */
    bool manifest_ok;                /* committed and its manifest parsed */
    tf_replica_manifest_t manifest;  /* when manifest_ok */
    char problem[TF_ERR_MESSAGE_MAX];/* why the manifest did not parse */
    int64_t mtime_ms;                /* of the folder */
} tf_replica_entry_t;

int tf_replica_list(tf_target_t *target, tf_replica_entry_t **entries, size_t *count, tf_err_t *err);
void tf_replica_list_free(tf_replica_entry_t **entries, size_t count);

/* Re-reads every file a manifest lists and compares size and checksum; *bad counts the files
   that differ or are missing, report (may be NULL) is called for each file with NULL (ok) or
   the problem. TF_OK when it could read on (bad may still be > 0). */
typedef void (tf_replica_report_fn)(void *arg, const char *file, const char *problem);
int tf_replica_verify(tf_target_t *target, const tf_replica_manifest_t *m, size_t chunk, size_t *bad,
                      tf_replica_report_fn *report, void *arg, tf_err_t *err);

/* Retention on a target (pure): which committed jobs of one pool to delete.
   jobs[i].keep_reason is set to why a job stays or NULL when it goes. A job stays when it is
   among the newest keep_last (0: no count limit), or younger than keep_days (0: no age
   limit), or it is the base (directly or through its chain) of a job that stays, or it is
   the only verified replica of a job still within its pool's retention (only_copy and
   within_retention, from the catalog). Both limits 0: every job stays. */
typedef struct {
    const char *job_id;
    const char *base_job;
    int64_t created_ms;
    bool only_copy;                  /* no other target holds it verified */
    bool within_retention;           /* the job's pool retention has not passed */
    const char *keep_reason;         /* out */
} tf_replica_keep_t;

void tf_replica_retention(tf_replica_keep_t *jobs, size_t count, uint64_t keep_last, uint64_t keep_days,
                          int64_t now_ms);

/* One job's entry as tf_replica_list has it: sets job_id, committed, manifest_ok, manifest and
   problem (leaves mtime_ms and in_partial as they are). A manifest that is missing (not
   committed) or unreadable (committed, problem says why) is TF_OK; only a target that cannot
   be read fails. */
int tf_replica_entry_read(tf_target_t *target, const char *job_id, tf_replica_entry_t *entry, tf_err_t *err);

#endif
