/*  tf_msg - the tapeflow message catalogue and its table-driven msgpack codec.

    Every message on every socket is one msgpack map: {"v": TF_PROTO_VERSION, "t": "<type>",
    <typed fields>}. Each message type has a C struct and a field-descriptor table (tf_msg.c);
    one encoder and one decoder walk the tables, so adding a message is adding a struct and a
    table, never new codec code.

    Ownership: tf_msg_decode fills a tf_msg_t whose strings, byte strings and arrays are heap
    copies owned by the message; release them with tf_msg_clear. Messages built by a caller for
    tf_msg_encode only borrow their pointers and need no clear.

    Decoding treats its input as untrusted: it checks structure, container counts against the
    bytes left, string lengths, nesting depth and trailing bytes before msgpack-c allocates
    anything, then checks version, type, required fields and field types, and reports the first
    problem as a message like "work.attempt: expected unsigned integer, got string".
*/
#ifndef TF_MSG_H_INCLUDED
#define TF_MSG_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tf_err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TF_PROTO_VERSION 1

/* Limits applied while decoding (per field limits live in the tables). */
#define TF_MSG_MAX_DEPTH 8            /* nesting of maps/arrays */
#define TF_MSG_MAX_ID 128             /* ids, names, service names */
#define TF_MSG_MAX_TEXT 4096          /* free text: reasons, messages */
#define TF_MSG_MAX_PATH 4096          /* file paths */
#define TF_MSG_MAX_ROWS 100000        /* rows in one array field */
#define TF_MSG_MAX_BLOB (64u << 20)   /* one byte-string field */

typedef struct {
    uint8_t *data;
    size_t size;
} tf_bytes_t;

/* --- broker <-> worker (Majordomo-style, one item at a time) --------------------------- */

/* worker -> broker: register for a service; the worker has one credit. */
typedef struct {
    char *service;
    char *worker;        /* human name, e.g. "echo@host:1234" */
    char *host;
    uint64_t pid;
} tf_msg_ready_t;

/* either way; any message also counts as a sign of life */
typedef struct {
    uint64_t ts;         /* sender's wall clock, ms, for diagnosis only */
} tf_msg_heartbeat_t;

/* either way: the peer should forget us (worker: re-register after this) */
typedef struct {
    char *reason;
} tf_msg_disconnect_t;

/* broker -> worker: one work item */
typedef struct {
    char *item_id;
    char *service;
    char *job_id;
    uint64_t attempt;    /* 1 for the first delivery */
    tf_bytes_t payload;  /* a message of this catalogue, encoded, or opaque bytes */
} tf_msg_work_t;

/* worker -> broker: progress on the current item */
typedef struct {
    char *item_id;
    uint64_t attempt;
    uint64_t done;
    uint64_t total;
    char *message;
} tf_msg_progress_t;

/* worker -> broker: the item is finished; result is handed back to whoever asks */
typedef struct {
    char *item_id;
    uint64_t attempt;
    tf_bytes_t result;
} tf_msg_done_t;

/* worker -> broker: the item could not be done */
typedef struct {
    char *item_id;
    uint64_t attempt;
    char *reason;        /* the root cause, shown to operators */
    bool retry;          /* true: deliver again (maybe elsewhere); false: fail for good */
} tf_msg_failed_t;

/* --- client <-> broker (Titanic-style: submit, then ask) -------------------------------- */

typedef struct {
    char *rid;           /* request id, echoed in the reply */
    char *service;
    char *item_id;       /* optional idempotency key; the broker makes one when absent */
    char *job_id;
    tf_bytes_t payload;
    char *host;          /* run only on a worker registered from this host (ready.host);
                            NULL or "": any worker of the service */
} tf_msg_submit_t;

typedef struct {
    char *rid;
    char *item_id;
    char *state;         /* queued | inflight | done | failed */
    bool existed;        /* the id was known: nothing new was queued */
} tf_msg_submit_ok_t;

typedef struct {
    char *rid;
    char *item_id;
} tf_msg_item_get_t;

typedef struct {
    char *rid;
    char *item_id;
    char *service;
    char *job_id;
    char *state;
    uint64_t attempts;
    char *worker;
    char *reason;
    tf_bytes_t result;
    int64_t created_ms;
    int64_t updated_ms;
} tf_msg_item_info_t;

typedef struct {
    char *rid;
} tf_msg_status_get_t;

typedef struct {
    char *name;
    uint64_t workers;
    uint64_t idle;
    uint64_t queued;
    uint64_t inflight;
    uint64_t done;
    uint64_t failed;
    uint64_t redelivered;
    int64_t oldest_age_ms;  /* age of the oldest queued or in-flight item; 0 if none */
} tf_msg_service_row_t;

typedef struct {
    char *id;            /* routing id, hex */
    char *service;
    char *name;
    uint64_t pid;
    char *state;         /* idle | busy */
    char *item_id;
    int64_t idle_ms;     /* since the broker last heard from it */
    char *host;          /* ready.host: the host it registered from (items with a host go only
                            to workers of that host) */
    char *key;           /* name of the trusted CURVE key it registered with; NULL over ipc */
} tf_msg_worker_row_t;

/* A peer whose messages the broker refused: malformed, or work for a service nobody runs. */
typedef struct {
    char *peer;          /* routing id, hex */
    char *name;          /* worker name when the peer is a registered worker */
    uint64_t rejected;   /* messages refused since the broker started */
    char *last_reason;
    int64_t last_ms;     /* wall clock of the last one */
} tf_msg_reject_row_t;

typedef struct {
    char *rid;
    uint64_t pid;
    int64_t uptime_ms;
    char *journal;
    uint64_t recovered;  /* items recovered from the journal at start */
    tf_msg_service_row_t *services;
    size_t services_count;
    tf_msg_worker_row_t *workers;
    size_t workers_count;
    tf_msg_reject_row_t *rejects;  /* optional: peers with refused messages, most first */
    size_t rejects_count;
    uint64_t security_refused;     /* connections and requests refused for security since the
                                      broker started: unknown keys at the CURVE handshake, and
                                      trusted keys asking beyond their roles */
} tf_msg_status_t;

typedef struct {
    char *rid;
    int64_t code;        /* a tf_status_t */
    char *message;
} tf_msg_error_t;

/* --- event bus ------------------------------------------------------------------------- */

typedef struct {
    char *topic;         /* job.<id>.progress, stage.<service>, drive.<name>, alert.<what> */
    int64_t time_ms;
    char *source;        /* publisher name, unique per process */
    uint64_t seq;        /* per source, from 1, no gaps unless events were dropped */
    char *level;         /* info | warn | error */
    char *message;
    char *job_id;
    char *item_id;
    uint64_t done;
    uint64_t total;
    /* job.<id>.stage and the job-end events from the catalog (completed, completed_with_warnings,
       failed, expired): the job as `tapeflow job ID --json` shows it, one row */
    struct tf_msg_job_row_s *job;
    size_t job_count;
} tf_msg_event_t;

/* --- backup pipeline (payloads of work items, and the stager's data protocol) ---------- */

typedef struct {
    char *path;
} tf_msg_path_row_t;

/* client -> scan: back up these paths as job job_id */
typedef struct {
    char *job_id;
    tf_msg_path_row_t *paths;
    size_t paths_count;
    uint64_t group_bytes;   /* target uncompressed size of one archive */
    bool one_fs;            /* stay on the file system of each path */
    char *compression;      /* zstd | gzip | none */
    char *pool;             /* tape pool the job writes to */
    char *host;             /* the host whose files these are (tapeflow/host of its agent);
                               NULL or "": whichever scanner takes it (before issue 10) */
    uint64_t group_base;    /* this scan numbers its groups group_base+1, +2, ...: a job with
                               sources on several hosts gives each host's scan its own range,
                               so group numbers and archive ids stay unique in the job */
    char *replicas;         /* (issue 12) the job's replication targets as tf_job_start decided
                               them ("nas,offsite"; NULL or "": none), carried to each
                               file_group and stage_open and kept in the archive's .meta */
    char *replication;      /* required | optional (NULL: no targets) */
} tf_msg_scan_job_t;

/* client -> scan (work item, submitted with submit.host): is this path there to back up, on
   the host that will read it? Result: path_info. */
typedef struct {
    char *path;
} tf_msg_path_check_t;

/* scan -> client (result of path_check) */
typedef struct {
    char *path;
    char *host;             /* the scanner's tapeflow/host */
    bool exists;
    char *type;             /* file | dir | symlink | other; NULL when it does not exist */
    bool readable;          /* the scanner's user may read it (and list it, for a folder) */
    char *message;          /* why not, in words: "no such file or directory" */
} tf_msg_path_info_t;

typedef struct {
    char *path;             /* absolute */
    uint64_t size;          /* as scanned (0 for non-regular files) */
} tf_msg_group_entry_t;

/* scan -> compress: one archive's worth of entries (files, dirs, links) */
typedef struct {
    char *job_id;
    char *archive_id;       /* "<job_id>-g<NNNNN>", deterministic: redelivery is idempotent */
    uint64_t group_no;      /* from 1 */
    char *compression;
    char *pool;
    tf_msg_group_entry_t *entries;
    size_t entries_count;
    char *host;             /* the host that holds the entries (scan_job.host) */
    char *replicas;         /* scan_job.replicas */
    char *replication;      /* scan_job.replication */
} tf_msg_file_group_t;

/* compressor -> stager (DEALER -> stager ROUTER): start (or restart) an archive */
typedef struct {
    char *archive_id;
    char *job_id;
    uint64_t group_no;
    char *compression;
    char *pool;
    uint64_t expected_size; /* the compressor's upper estimate of the archive's size (0 =
                               unknown): the stager reserves this much holding disk for it */
    char *purpose;          /* NULL or "backup": an archive for tape (announced to the tape
                               service); "restore": entries a tape writer restores to another
                               host, fetched by that host's extractor, never announced */
    char *host;             /* backup: the host the archive's files come from */
    char *replicas;         /* backup: file_group.replicas; NULL (an older compressor) or "":
                               the archive is not replicated */
    char *replication;      /* required | optional */
} tf_msg_stage_open_t;

/* stager -> compressor: you may send `bytes` more data bytes (credit-based flow control) */
typedef struct {
    char *archive_id;
    uint64_t bytes;
} tf_msg_stage_credit_t;

/* compressor -> stager: archive bytes at offset (offsets are contiguous) */
typedef struct {
    char *archive_id;
    uint64_t offset;
    tf_bytes_t data;
} tf_msg_stage_data_t;

/* compressor -> stager: part `part` of the archive's file rows, after its last stage_data and
   before stage_close; the stager keeps them next to the archive as its sidecar (ready/<archive>.rows,
   docs/staging.md "File rows sidecar"), so the tape writer's index needs no catalog */
typedef struct {
    char *archive_id;
    uint64_t part;          /* from 1, contiguous; an archive without entries sends part 1 empty */
    struct tf_msg_file_row_s *files;  /* tf_msg_file_row_t, below */
    size_t files_count;
} tf_msg_stage_rows_t;

/* compressor -> stager: the archive is complete */
typedef struct {
    char *archive_id;
    uint64_t size;          /* total bytes */
    char *checksum;         /* "xxh128:<32 hex>" of all bytes */
    uint64_t files;         /* entries in the archive (catalog rows to expect) */
    uint64_t bytes;         /* uncompressed content bytes of those entries */
    uint64_t rows_parts;    /* stage_rows parts sent before this close (0: none, a compressor
                               from before sidecars: the archive is kept without one) */
} tf_msg_stage_close_t;

/* stager -> compressor: answer to open (refusal) or close (verdict) */
typedef struct {
    char *archive_id;
    bool ok;
    char *message;          /* why not, when !ok */
    bool permanent;         /* !ok and staging it again cannot help (it can never fit) */
} tf_msg_stage_result_t;

/* tape writer -> stager: read staged bytes */
typedef struct {
    char *archive_id;
    uint64_t offset;
    uint64_t length;        /* at most 4 MiB */
    bool rows;              /* read the archive's file rows sidecar instead of its data */
} tf_msg_fetch_t;

/* stager -> tape writer */
typedef struct {
    char *archive_id;
    uint64_t offset;
    tf_bytes_t data;
    bool eof;               /* offset + data.size == archive size (sidecar size with rows) */
    char *error;            /* set when the archive cannot be read */
    bool rows;              /* the fetch.rows answered: bytes of the sidecar */
} tf_msg_fetch_data_t;

/* stager -> tape (work item): a verified archive waits on the holding disk */
typedef struct {
    char *archive_id;
    char *job_id;
    uint64_t group_no;
    char *pool;
    char *compression;
    uint64_t size;
    char *checksum;
    uint64_t files;
    uint64_t bytes;
    char *stager;           /* endpoint to fetch from */
    uint64_t rows_size;     /* bytes of its file rows sidecar on the stager (fetch.rows); 0: none
                               (staged before sidecars) */
    char *rows_checksum;    /* "xxh128:<32 hex>" of the sidecar, with rows_size */
    char *stager_key;       /* the stager's CURVE public key (Z85) for a tcp stager endpoint */
    char *host;             /* the host the archive's files come from */
} tf_msg_archive_ready_t;

/* tape writer or replicator -> stager (work item): one holder of the archive confirmed it. The
   tape writer (replica NULL): it is on tape and in the catalog (item <archive>-release). The
   replicator (replica = the target's name, item <archive>-release-<target>): a verified copy is
   on that target, or (gave_up) an optional target's copy failed for good and the archive no
   longer waits for it. The stager deletes the archive once the tape and every replication
   target its .meta lists have confirmed (docs/staging.md, "Release"). */
typedef struct {
    char *archive_id;
    char *replica;          /* NULL or "": the tape's confirmation */
    bool gave_up;           /* replica: an optional target failed for good (not a copy) */
} tf_msg_archive_release_t;

/* any -> catalog (work item): job record changes. op: create | stage | scanned | failed */
typedef struct {
    char *job_id;
    char *op;
    char *stage;            /* scan | compress | stage | tape | catalog */
    char *message;
    char *detail;           /* root cause on failure */
    tf_msg_path_row_t *paths;
    size_t paths_count;
    char *pool;
    char *compression;
    uint64_t files_total;
    uint64_t bytes_total;
    uint64_t groups_total;
    uint64_t warnings;
    int64_t time_ms;
    char *host;             /* scanned: the host this scan read (a job with sources on several
                               hosts is scanned once per host); NULL: the job's only scan */
    uint64_t group_base;    /* scanned: its groups are group_base+1 .. group_base+groups_total */
    /* create (issue 11): the level asked for and what started the job. The catalog decides the
       level it runs at and its base job when it records the create (docs/operations.md,
       "Incremental and differential backups"); a repeated create changes neither. */
    char *level;            /* full (NULL, "") | differential | incremental */
    char *schedule;         /* the schedule that fired it; NULL: started by hand */
    char *trigger;          /* "manual" | "schedule NAME at 2026-12-02T03:00:00Z" */
    int64_t trigger_ms;     /* the scheduled instant (UTC ms); 0 for manual jobs */
    /* create (issue 12): the replication targets of the job's pool when it started
       (pools/POOL/replicas, "nas,offsite"; NULL or "": none) and whether they are required
       (pools/POOL/replication: required | optional). The job ends only when each target's
       replica is verified (required) or verified or given up (optional). */
    char *replicas;
    char *replication;
} tf_msg_cat_job_t;

typedef struct tf_msg_file_row_s {
    char *path;             /* as stored in the archive (relative, no leading /) */
    char *type;             /* file | dir | symlink | hardlink | other */
    uint64_t size;
    int64_t mtime;          /* seconds since the epoch */
    uint64_t mode;
    uint64_t uid;
    uint64_t gid;
    char *user;
    char *group;
    char *checksum;         /* "xxh128:<hex>" of the content, regular files only */
    uint64_t offset;        /* byte offset of the entry's header in the uncompressed tar stream */
    char *link;             /* symlink target or hard link target */
    uint64_t mtime_nsec;    /* nanoseconds of mtime (0..999999999) */
} tf_msg_file_row_t;

/* A problem with one entry of an archive (the compressor's warnings): the entry was skipped
   (missing: not in the archive - vanished, unreadable) or stored incomplete (missing false). */
typedef struct {
    char *path;             /* as scanned (absolute) */
    char *reason;
    bool missing;
} tf_msg_warning_row_t;

/* compressor -> catalog (work item): the entries of one archive */
typedef struct {
    char *job_id;
    char *archive_id;
    uint64_t part;          /* large archives send their rows in parts, from 1 */
    tf_msg_file_row_t *files;
    size_t files_count;
    tf_msg_warning_row_t *warnings; /* the archive's entry warnings (sent with part 1) */
    size_t warnings_count;
} tf_msg_cat_files_t;

/* One piece of an archive on one volume (docs/tape-format.md, "Spanning volumes"). An
   archive on one volume has one segment (or none listed: the row's own position is it). */
typedef struct {
    char *volume;           /* volume label */
    uint64_t tape_file;
    uint64_t block;         /* logical block of the segment's header record */
    uint64_t offset;        /* archive byte offset of the segment's first data byte */
    uint64_t length;        /* archive bytes in this segment */
} tf_msg_segment_row_t;

/* tape writer -> catalog (work item): an archive is on tape and verified */
typedef struct {
    char *job_id;
    char *archive_id;
    uint64_t group_no;
    char *volume;           /* volume label */
    char *drive;
    uint64_t tape_file;     /* tape file number (0 is the label) */
    uint64_t block;         /* logical block of the header record */
    uint64_t blocks;        /* records including header and trailer */
    uint64_t size;
    char *checksum;
    uint64_t files;
    uint64_t bytes;
    tf_msg_segment_row_t *segments; /* in archive order; empty: one segment at volume/tape_file */
    size_t segments_count;
    uint64_t segment;       /* 0: the whole archive (above). N: a tape scan found segment N of a
                               spanned archive, segments[0] (volume/tape_file/block are its own);
                               the catalog merges the segments and records the archive written
                               once they cover its size */
} tf_msg_cat_written_t;

/* client -> catalog (work item): query: jobs | job | files | archives | archive_files | volumes
   | missing (archive_files: pattern is the exact archive id; volumes: pattern is a glob over
   labels; missing: the job's entries the scan counted but no archive stored) */
typedef struct {
    char *query;
    char *job_id;
    char *pattern;          /* glob over stored paths, for files/archives */
    uint64_t limit;
    int64_t at_ms;          /* job_at: the time the wanted state is of (UTC ms) */
    char *replica;          /* restore_plan, archives: read from this replication target (its
                               verified copies) instead of tape; NULL: tape */
} tf_msg_cat_query_t;

typedef struct tf_msg_job_row_s {
    char *job_id;
    char *status;           /* queued | running | completed | completed_with_warnings | failed |
                               cancelled | expired */
    char *stage;
    char *message;
    char *detail;
    char *pool;
    int64_t created_ms;
    int64_t updated_ms;
    uint64_t files_total;
    uint64_t bytes_total;
    uint64_t files_done;
    uint64_t bytes_done;
    uint64_t groups_total;
    uint64_t archives_written;
    uint64_t warnings;
    bool scanned;
    tf_msg_path_row_t *sources;    /* the job's paths as given: HOST:/path, or /path for a job
                                      of one host from before issue 10 (query "job" only) */
    size_t sources_count;
    /* issue 11 */
    char *level;            /* full | differential | incremental (what it ran at); NULL: a job
                               from before levels (a full without a manifest) */
    char *level_requested;  /* what was asked for; differs from level when upgraded */
    char *level_reason;     /* why it was upgraded to full ("no previous full of these
                               sources", ...); NULL when not upgraded */
    char *base_job;         /* the job the manifest was compared with; NULL for a full */
    char *schedule;         /* NULL: not started by a schedule */
    char *trigger;          /* manual | schedule NAME at ISO-TIME */
    int64_t trigger_ms;
    uint64_t files_unchanged; /* manifest entries carried from the base job (not stored again) */
    uint64_t files_deleted;   /* tombstones: entries of the base job that are gone */
    tf_msg_path_row_t *depends_on; /* (query "job" only) the other jobs whose archives a restore
                                      of this job reads: its chain */
    size_t depends_on_count;
    /* issue 12 */
    char *replication;      /* required | optional; NULL: the job has no replication targets */
    struct tf_msg_replica_row_s *replicas; /* (query "job" only) one row per target of the job */
    size_t replicas_count;
} tf_msg_job_row_t;

typedef struct {
    char *archive_id;
    char *job_id;
    uint64_t group_no;
    char *volume;
    uint64_t tape_file;
    uint64_t block;
    uint64_t blocks;
    uint64_t size;
    char *checksum;
    uint64_t files;
    bool written;
    tf_msg_segment_row_t *segments; /* spanned archives: every segment in order (the first is
                                       volume/tape_file above); empty for one-volume archives */
    size_t segments_count;
    bool lost;                      /* its tape was recycled (relabelled): the archive is gone */
    int64_t lost_ms;                /* when that tape was relabelled; 0 when not lost */
    char *host;                     /* the host its files came from (tapeflow/host of the agent
                                       that read them); NULL: before issue 10 */
    bool take_some;                 /* restore plans of a chain (query restore_plan): only the
                                       entries in take come from this archive; false: all */
    tf_msg_path_row_t *take;        /* stored paths (relative, as in the files rows) */
    size_t take_count;
} tf_msg_archive_row_t;

/* A tape volume as the catalog knows it (docs/catalog.md, "Volumes"). */
typedef struct {
    char *label;
    char *pool;
    char *state;            /* appendable | full | expired (computed when the query runs) | error */
    char *media_type;
    int64_t created_ms;     /* when the label was written (its generation); 0 = unknown */
    int64_t expires_ms;     /* 0 = no expiry yet (nothing written) */
    uint64_t bytes_used;    /* archive bytes plus header and trailer records */
    int64_t last_written_ms; /* 0 = never written since labelled */
    uint64_t write_errors;
    uint64_t read_errors;
    uint64_t tape_files;    /* tape files on the volume, the label (file 0) included */
    char *drive;            /* drive it was last seen in */
    int64_t updated_ms;
    tf_msg_path_row_t *orphans; /* jobs on other volumes whose restore needs an archive on this
                                   one (their chain): recycling it would orphan them */
    size_t orphans_count;
    bool held;              /* past its expiry but kept: a job still within its retention
                               depends on it (pools/<pool>/chain_retention keep) */
} tf_msg_volume_row_t;

/* tape writer / tapeflow tape -> catalog (work item): the state of one volume, absolute values
   (not increments), so applying it again changes nothing. state: appendable | full | error. Applied
   only when time_ms is not older than what the catalog has for the volume. */
typedef struct {
    char *label;
    char *pool;
    char *state;
    char *media_type;
    int64_t created_ms;
    int64_t expires_ms;
    uint64_t bytes_used;
    int64_t last_written_ms;
    uint64_t write_errors;
    uint64_t read_errors;
    uint64_t tape_files;
    char *drive;
    int64_t time_ms;        /* when this state was observed; 0: the catalog's clock */
} tf_msg_cat_volume_t;

/* catalog -> client: the result of a query (the item's result bytes) */
typedef struct {
    tf_msg_job_row_t *jobs;
    size_t jobs_count;
    tf_msg_file_row_t *files;
    size_t files_count;
    tf_msg_archive_row_t *archives;
    size_t archives_count;
    bool truncated;         /* more rows than the limit */
    tf_msg_volume_row_t *volumes;
    size_t volumes_count;
    tf_msg_warning_row_t *missing;  /* query missing: path, reason (missing is true) */
    size_t missing_count;
    struct tf_msg_manifest_row_s *manifest; /* query manifest: the job's entries with why */
    size_t manifest_count;
    struct tf_msg_sched_row_s *sched;       /* query schedule_history, and cat_sched's result */
    size_t sched_count;
    struct tf_msg_replica_row_s *replicas;  /* queries replicas and replica, and cat_replica's
                                               result (replicas[0]: the row after the change) */
    size_t replicas_count;
} tf_msg_cat_reply_t;

/* --- levels and schedules (issue 11) ------------------------------------------------------ */

/* One entry of a job's manifest: what the scanner saw (stat and xattrs), and - in query
   replies - why the job took it and which job holds its content. */
typedef struct tf_msg_manifest_row_s {
    char *path;             /* absolute, as scanned */
    char *type;             /* file | dir | symlink | other */
    uint64_t size;          /* regular files; 0 otherwise */
    int64_t mtime_ns;       /* st_mtim as ns since the epoch */
    int64_t ctime_ns;       /* st_ctim */
    uint64_t ino;
    uint64_t mode;          /* st_mode, type bits included */
    uint64_t uid;
    uint64_t gid;
    uint64_t nlink;
    char *xattrs;           /* "xxh64:<16 hex>" over the sorted names and values; NULL: none */
    char *fs;               /* the file system's id: "uuid:<UUID>", or "<fstype>:<source>" when
                               it has no UUID (tmpfs, overlay) - never st_dev */
    /* replies only */
    char *reason;           /* full | new | changed: size, mtime ... | renamed from P |
                               unchanged | deleted | renamed to P | not stored in base */
    char *data_job;         /* the job whose archive holds its content; NULL: a tombstone */
    char *host;             /* the host it was read on; NULL: the job's only host */
    bool deleted;           /* a tombstone: in the base job, gone now */
} tf_msg_manifest_row_t;

/* The reason a restore_plan's missing row gives for an entry whose job has no archive row for
   it: "not on tape: job J" (the CLI tells a job's own unwritten entries from its chain's by it). */
#define TF_MSG_REASON_NOT_ON_TAPE "not on tape: job %s"
/* The same for a plan read from a replication target (cat_query replica): target, job. */
#define TF_MSG_REASON_NOT_ON_REPLICA "not on replica %s: job %s"

/* catalog -> scanner: one taken entry of a diff batch (index into the batch's rows). */
typedef struct {
    uint64_t index;
    char *reason;
} tf_msg_take_row_t;

/* scanner -> catalog (work item, called: the result is a cat_manifest_reply). The manifest of a
   host's scan of job_id. op begin: the scan starts (again: rows of an earlier attempt are
   dropped); the reply says the level, the base job and fails when the base's manifest cannot
   be read. op diff: rows (seq numbers the batch from 1, so a redelivered batch is applied once)
   are recorded and compared with the base; the reply lists the entries to store. op end: the
   walk is over: base entries not seen become tombstones (renames matched by fs + inode),
   except under the unread paths, whose base entries are carried forward.
   run fences scan runs: begin makes run the current run of job + host; a diff or end of
   another run (an older scan, a retried job's first run) is refused for good. */
typedef struct {
    char *job_id;
    char *host;             /* the scan's host; NULL or "": the job's only scan */
    char *op;               /* begin | diff | end */
    uint64_t seq;
    tf_msg_manifest_row_t *rows;
    size_t rows_count;
    char *run;              /* the scan run's token (16 hex); NULL: a scanner from before runs */
    tf_msg_warning_row_t *unread; /* end: folders that could not be listed and entries that
                                     could not be stat'ed (path, reason; missing unused) */
    size_t unread_count;
} tf_msg_cat_manifest_t;

typedef struct {
    char *level;            /* full | differential | incremental */
    char *base_job;         /* NULL for a full */
    char *reason;           /* begin: why upgraded to full, NULL when not */
    tf_msg_take_row_t *take; /* diff: the entries to store, with why */
    size_t take_count;
    uint64_t unchanged;     /* diff: entries carried from the base; end: the scan's total */
    uint64_t deleted;       /* end: tombstones recorded */
    uint64_t renamed;       /* end: of them, renames */
    char *message;
} tf_msg_cat_manifest_reply_t;

/* A schedule's record of one scheduled instant (unique per schedule and instant). */
typedef struct tf_msg_sched_row_s {
    char *schedule;
    int64_t instant_ms;     /* the scheduled instant, UTC ms; manual runs: when asked */
    char *kind;             /* fired | missed | skipped | queued | manual */
    char *reason;           /* missed/skipped: why ("scheduler was down", "previous run J still
                               running", "catch_up skip") */
    char *job_id;           /* fired, queued, manual: the job */
    int64_t recorded_ms;
    char *job_status;       /* replies: the job's status now */
    char *level;            /* replies: the job's level */
} tf_msg_sched_row_t;

/* scheduler / CLI -> catalog (work item, called: the result is a cat_reply whose sched[0] is
   the stored row). op claim: record the row unless (schedule, instant_ms) is there already -
   the reply holds whichever row is stored, so a second claimer sees the first's. op update:
   change kind/reason/job_id of an existing row (queued -> fired). */
typedef struct {
    char *op;               /* claim | update */
    char *schedule;
    int64_t instant_ms;
    char *kind;
    char *reason;
    char *job_id;
} tf_msg_cat_sched_t;

/* --- replication (issue 12, docs/operations.md "Replication") --------------------------- */

/* One archive copied to a replication target: what manifest.json lists for it. */
typedef struct {
    char *archive_id;
    uint64_t group_no;
    uint64_t size;          /* bytes of <archive>.data (the staged archive, as on tape) */
    char *checksum;         /* xxh128 of them */
    uint64_t rows_size;     /* bytes of <archive>.rows (its file rows sidecar); 0: none */
    char *rows_checksum;
    uint64_t files;
    uint64_t bytes;         /* uncompressed content bytes */
    char *compression;
    char *host;             /* the host its files came from; NULL: the job's only host */
} tf_msg_replica_archive_t;

/* A job's replica on one target, as the catalog knows it. */
typedef struct tf_msg_replica_row_s {
    char *job_id;
    char *target;           /* replicas/NAME */
    char *url;              /* the target's URL (never credentials) */
    char *state;            /* copying | verified | failed | deleted */
    bool required;
    uint64_t archives;      /* archives copied and verified (in .partial or committed) */
    uint64_t archives_total;/* the job's archives once it is scanned; 0 before */
    uint64_t bytes;         /* bytes of the archives copied */
    bool ready;             /* the job is scanned and every archive is copied: commit it */
    char *message;          /* "replicated to URL (3 archives, 1.2 GiB, verified)" or
                               "replication to URL failed: WHY" */
    int64_t updated_ms;
    int64_t verified_ms;    /* when committed or last verified by replica verify; 0: never */
    bool final;             /* failed: given up (an optional target); the job does not wait */
    /* replies: the job's facts, for manifests, lists and retention */
    char *job_status;
    char *pool;
    char *level;
    char *base_job;
    int64_t created_ms;
    tf_msg_replica_archive_t *copies; /* query replica: every archive copied, by group */
    size_t copies_count;
} tf_msg_replica_row_t;

/* stager -> replicate (work item <archive>-replica-<target>, job_id set): copy one staged archive
   and its sidecar to the target's <root>/.partial/<job>/, verify them, record them (cat_replica
   copied), confirm to the stager (archive_release with replica) and, when the job's last archive
   is there, commit the job's folder. */
typedef struct {
    char *archive_id;
    char *job_id;
    uint64_t group_no;
    char *pool;
    char *target;
    bool required;          /* false: a failure for good only marks the job (gave_up release) */
    char *compression;
    uint64_t size;
    char *checksum;
    uint64_t files;
    uint64_t bytes;
    char *stager;           /* endpoint to fetch from */
    uint64_t rows_size;
    char *rows_checksum;
    char *stager_key;
    char *host;
} tf_msg_replica_copy_t;

/* replicator / CLI -> catalog (work item, called: the result is a cat_reply whose replicas[0] is
   the row after the change); also stager -> catalog: op failed, final, when an optional target
   is skipped on a full holding disk. op copied: copies[] are on the target (verified, in .partial);
   committed: the job's folder and manifest.json are in place (state verified); failed: message
   says why (final: an optional target gave up); verified: replica verify re-read it all;
   deleted: retention removed it from the target. */
typedef struct {
    char *op;
    char *job_id;
    char *target;
    char *url;
    bool required;
    tf_msg_replica_archive_t *copies;
    size_t copies_count;
    char *message;
    bool final;
    int64_t time_ms;        /* when it happened; 0: the catalog's clock */
} tf_msg_cat_replica_t;

/* client -> tape (work item): restore archives of a job into dest */
typedef struct {
    char *job_id;
    char *dest;
    tf_msg_path_row_t *patterns;   /* globs over stored paths; none: everything */
    size_t patterns_count;
    tf_msg_archive_row_t *archives; /* where to read, in tape order */
    size_t archives_count;
    char *overwrite;        /* existing files: never (absent) | older | always */
    uint64_t strip_components; /* leading path components removed from stored paths */
    bool flat;              /* every file straight into dest (folders not created) */
    char *dest_host;        /* the host dest is on (its extractor writes the files); NULL or
                               "": the tape writer's own host */
    char *submitter;        /* set by the broker: name of the trusted key that submitted the
                               restore (NULL over ipc) */
} tf_msg_tape_restore_t;

/* One archive a restore could not read to its end (restore_result.failures). */
typedef struct {
    char *archive_id;
    char *reason;
} tf_msg_archive_failure_t;

/* tape -> client: the restore item's result */
typedef struct {
    uint64_t files;
    uint64_t bytes;
    uint64_t archives_read;
    uint64_t blocks_read;
    uint64_t warnings;      /* every entry not restored as stored (the counts below and others) */
    char *message;
    uint64_t refused;       /* entries refused: unsafe paths (.., absolute, through a symlink) */
    uint64_t kept;          /* existing files kept (--overwrite) */
    uint64_t collisions;    /* --flat: names restored once already, not overwritten */
    tf_msg_archive_failure_t *failures; /* archives that failed, in tape order */
    size_t failures_count;
    uint64_t present;       /* existing files identical to the stored entry: left alone */
} tf_msg_restore_result_t;

/* tape writer -> extract (work item, submit.host = the restore's dest_host): write a restore
   the tape writer staged (stage_open.purpose "restore") into dest on this host. The extractor
   fetches it from its own stager/endpoint, checks size and checksum, and extracts it with the
   rules of a local restore (docs/restore.md). */
typedef struct {
    char *job_id;           /* the job restored */
    char *archive_id;       /* the staged restore stream */
    uint64_t size;
    char *checksum;         /* "xxh128:<32 hex>" of the staged bytes */
    uint64_t files;         /* entries in the stream (for progress) */
    char *host;             /* the host that must write it (the extractor checks it is its own) */
    char *dest;             /* absolute folder on that host */
    char *overwrite;        /* never (absent) | older | always */
    uint64_t strip_components;
    bool flat;
    bool host_prefixed;     /* the first component of every stored path is the host its files
                               came from: kept as DEST/HOST/..., strip and flat apply to the rest */
    tf_msg_path_row_t *partial; /* entries the tape writer could not read to their end (their
                               header is in the stream, their data is not): left out */
    size_t partial_count;
} tf_msg_extract_t;

/* extract -> tape writer: the extract item's result (the counts of restore_result) */
typedef struct {
    uint64_t files;
    uint64_t bytes;
    uint64_t warnings;
    uint64_t refused;
    uint64_t kept;
    uint64_t collisions;
    uint64_t present;
    char *message;          /* summary: "wrote N files (B bytes) into DEST on host H" */
    char *warning_text;     /* the first warnings, "; " between them ("" when none) */
    char *host;             /* the host that wrote them */
    uint64_t stripped;      /* non-folder entries strip_components left out (in warnings) */
    uint64_t unwritable;    /* entries that could not be created (in warnings) */
} tf_msg_extract_result_t;

/* --- operator actions on a job (issue 8, item 13) ------------------------------------------ */

/* client -> broker: an operator action on every item of one job.
   op cancel: queued items of the job are dropped and in-flight ones abandoned (journal state
   cancelled; a late done/failed from their worker is ignored); later submits for the job are
   recorded as cancelled at once - except items of the services named in spare (comma
   separated, e.g. "catalog,stager": bookkeeping that must still run). op retry: the job's
   failed and cancelled items are queued again (attempts from 0) and the job is no longer
   cancelled. Either way the broker first queues cat_job{op: cancelled|retried, message} for
   its job service, so the catalog sees the action before any effect of it. */
typedef struct {
    char *rid;
    char *job_id;
    char *op;               /* cancel | retry */
    char *message;          /* for the job's record: "cancelled by alice@host at ..." */
    char *spare;            /* cancel: services whose items of the job keep running */
} tf_msg_job_op_t;

/* broker -> client: what a job_op did */
typedef struct {
    char *rid;
    char *job_id;
    char *op;
    uint64_t cancelled;     /* cancel: queued items dropped */
    uint64_t abandoned;     /* cancel: in-flight items whose results will be ignored */
    uint64_t requeued;      /* retry: failed or cancelled items queued again */
    char *catalog_item;     /* the cat_job item queued for the catalog (wait on it) */
    uint64_t finishing;     /* retry: abandoned items whose old workers still run them (not
                               queued again; retry again once they end) */
    uint64_t unrecorded;    /* items the journal could not record the action for */
    char *note;             /* what did not happen and what to do, for the operator; NULL: all done */
} tf_msg_job_op_ok_t;

/* client -> stager (work item): delete what a job left on the holding disk - its ready
   archives and the partial files of its open sessions (docs/staging.md, "Purge") */
typedef struct {
    char *job_id;
    bool dry_run;           /* only list what would be deleted */
} tf_msg_stage_purge_t;

/* stager -> client: the stage_purge item's result */
typedef struct {
    char *job_id;
    tf_msg_path_row_t *files; /* relative to stager/dir: ready/<a>.data, ready/<a>.meta, tmp/<a>.part */
    size_t files_count;
    uint64_t archives;      /* ready archives among them */
    uint64_t bytes;         /* bytes freed (dry run: that would be freed) */
    tf_msg_path_row_t *in_use; /* ready/<a>.data a tape writer read lately: deleted after its write */
    size_t in_use_count;
} tf_msg_stage_purge_result_t;

/* --- volumes: the labeller (docs/protocol.md, "Volumes") ---------------------------------- */

/* tape writer -> labeller (work item): which volume to use in drive, for purpose write (the
   start of an archive), span (the next volume of a set), restore (want_label) or label
   (barcode labelling: the cartridge `barcode`). mounted..last_written_ms are what the writer
   read from the tape in its drive now; ejected: it has ejected that tape and closed the drive,
   so the labeller may move it. tried: barcodes of cartridges this request round already
   loaded that did not fit (path rows, path = barcode), never offered again. */
typedef struct {
    char *drive;
    char *purpose;          /* write | span | restore | label */
    char *pool;
    char *job_id;
    char *archive_id;
    char *set_id;           /* span: the set continued */
    char *prev_label;       /* span: the volume that is full */
    uint64_t prev_sequence;
    char *want_label;       /* restore: the volume needed */
    char *barcode;          /* label: the cartridge to label */
    bool ejected;
    bool operator_mounts;   /* without a changer an operator may mount another tape (mount_wait) */
    tf_msg_path_row_t *tried;
    size_t tried_count;
    char *mounted;          /* none | blank | tapeflow | foreign | unknown (absent: unknown) */
    char *found;            /* what the tape holds, in words (tf_label_info_t.found) */
    char *label;            /* tapeflow: the label's fields */
    char *label_pool;
    char *label_created;    /* ISO 8601, as on the tape */
    char *label_expires;
    char *label_set_id;
    uint64_t label_sequence;
    char *label_previous;
    char *media_type;
    uint64_t tape_files;    /* the label included; an unterminated last file counts */
    int64_t last_written_ms; /* the last archive's header time; 0: no archive */
} tf_msg_vol_request_t;

/* labeller -> tape writer: the vol_request item's result (and the tape_label item's result).
   decision append: write after the data of `label`; recycle: write a new label (label, pool,
   set_id, sequence, previous) and start at tape file 1; next: this tape will not do - eject
   (eject: eject it and ask again with ejected), or a cartridge was loaded (loaded: read it and
   ask again), or wait for an operator (wait: no changer); refuse: the item cannot be done
   (message). The facts are what the writer needs to write and report the volume. */
typedef struct {
    char *decision;         /* append | recycle | next | refuse */
    char *message;
    bool eject;
    bool wait;
    bool loaded;
    char *changer;
    char *barcode;          /* the cartridge in the drive (loaded: the one just loaded) */
    uint64_t slot;          /* loaded: the slot it came from */
    char *label;
    char *pool;
    char *set_id;
    uint64_t sequence;
    char *previous;
    int64_t retention_ms;
    int64_t created_ms;
    int64_t label_expires_ms;
    int64_t expires_ms;
    uint64_t bytes_used;
    uint64_t write_errors;
    uint64_t read_errors;
    uint64_t archives;      /* archives on the volume (recycle: those now gone) */
    bool in_error;
} tf_msg_vol_grant_t;

/* One cartridge of the labeller's inventory (lab_reply.cartridges). */
typedef struct {
    char *changer;          /* configured changer name */
    char *barcode;
    char *location;         /* slot | drive | ie | outside */
    uint64_t element;       /* slot, drive or ie number */
    char *kind;             /* unknown | blank | tapeflow | foreign */
    char *label;
    char *pool;
    char *drive;            /* location drive: the configured drive in that element */
    int64_t seen_ms;        /* last READ ELEMENT STATUS that saw it */
} tf_msg_cartridge_row_t;

/* client -> labeller (work item). op inventory: read the changer's element status (no tape is
   loaded) and update the inventory; op list: the inventory as it is (changer: only that one);
   op labelled: a tape writer wrote label (granted by the labeller) on cartridge barcode of
   changer (tapeflow tape label --barcodes passes on the tape_label item's result), so the
   inventory records it; op load: move the cartridge in slot into drive element `element`;
   op unload: move the cartridge in drive element `element` to slot (0: where it came from).
   load and unload refuse a drive leased to its tape writer unless force names that drive. */
typedef struct {
    char *op;               /* inventory | list | labelled | load | unload */
    char *changer;
    char *barcode;          /* labelled */
    char *label;            /* labelled */
    uint64_t slot;          /* load: from; unload: to (0: the slot it came from) */
    uint64_t element;       /* load, unload: the drive element */
    char *force;            /* load, unload: the leased drive (its name) the operator takes over */
} tf_msg_lab_query_t;

/* labeller -> client: the lab_query item's result */
typedef struct {
    char *changer;          /* inventory: the changer's URL */
    bool barcodes;          /* inventory: the changer reported barcodes */
    tf_msg_cartridge_row_t *cartridges;
    size_t cartridges_count;
    char *message;
    char *refused;          /* load, unload not done: leased (the drive is a writer's; message
                               names it) | robot (the changer refused; message says why) */
} tf_msg_lab_reply_t;

/* client -> tape (work item): label the blank cartridge `barcode` of changer with its barcode
   as label name, in pool (tapeflow tape label --barcodes). Result: vol_grant (recycle:
   labelled; refuse: not labelled, message says why). */
typedef struct {
    char *changer;
    char *barcode;
    char *pool;
} tf_msg_tape_label_t;

/* X-macro: every message type. (ENUM, wire name, struct, union member) */
#define TF_MSG_TYPES(X)                                                   \
    X(READY, "ready", tf_msg_ready_t, ready)                              \
    X(HEARTBEAT, "heartbeat", tf_msg_heartbeat_t, heartbeat)              \
    X(DISCONNECT, "disconnect", tf_msg_disconnect_t, disconnect)          \
    X(WORK, "work", tf_msg_work_t, work)                                  \
    X(PROGRESS, "progress", tf_msg_progress_t, progress)                  \
    X(DONE, "done", tf_msg_done_t, done)                                  \
    X(FAILED, "failed", tf_msg_failed_t, failed)                          \
    X(SUBMIT, "submit", tf_msg_submit_t, submit)                          \
    X(SUBMIT_OK, "submit_ok", tf_msg_submit_ok_t, submit_ok)              \
    X(ITEM_GET, "item_get", tf_msg_item_get_t, item_get)                  \
    X(ITEM_INFO, "item_info", tf_msg_item_info_t, item_info)              \
    X(STATUS_GET, "status_get", tf_msg_status_get_t, status_get)          \
    X(STATUS, "status", tf_msg_status_t, status)                          \
    X(ERROR, "error", tf_msg_error_t, error)                              \
    X(EVENT, "event", tf_msg_event_t, event)                              \
    X(SCAN_JOB, "scan_job", tf_msg_scan_job_t, scan_job)                 \
    X(FILE_GROUP, "file_group", tf_msg_file_group_t, file_group)          \
    X(STAGE_OPEN, "stage_open", tf_msg_stage_open_t, stage_open)          \
    X(STAGE_CREDIT, "stage_credit", tf_msg_stage_credit_t, stage_credit)  \
    X(STAGE_DATA, "stage_data", tf_msg_stage_data_t, stage_data)          \
    X(STAGE_ROWS, "stage_rows", tf_msg_stage_rows_t, stage_rows)          \
    X(STAGE_CLOSE, "stage_close", tf_msg_stage_close_t, stage_close)      \
    X(STAGE_RESULT, "stage_result", tf_msg_stage_result_t, stage_result)  \
    X(FETCH, "fetch", tf_msg_fetch_t, fetch)                              \
    X(FETCH_DATA, "fetch_data", tf_msg_fetch_data_t, fetch_data)          \
    X(ARCHIVE_READY, "archive_ready", tf_msg_archive_ready_t, archive_ready) \
    X(ARCHIVE_RELEASE, "archive_release", tf_msg_archive_release_t, archive_release) \
    X(CAT_JOB, "cat_job", tf_msg_cat_job_t, cat_job)                      \
    X(CAT_FILES, "cat_files", tf_msg_cat_files_t, cat_files)              \
    X(CAT_WRITTEN, "cat_written", tf_msg_cat_written_t, cat_written)      \
    X(CAT_QUERY, "cat_query", tf_msg_cat_query_t, cat_query)              \
    X(CAT_REPLY, "cat_reply", tf_msg_cat_reply_t, cat_reply)              \
    X(TAPE_RESTORE, "tape_restore", tf_msg_tape_restore_t, tape_restore)  \
    X(RESTORE_RESULT, "restore_result", tf_msg_restore_result_t, restore_result) \
    X(CAT_VOLUME, "cat_volume", tf_msg_cat_volume_t, cat_volume)          \
    X(JOB_OP, "job_op", tf_msg_job_op_t, job_op)                          \
    X(JOB_OP_OK, "job_op_ok", tf_msg_job_op_ok_t, job_op_ok)              \
    X(STAGE_PURGE, "stage_purge", tf_msg_stage_purge_t, stage_purge)      \
    X(STAGE_PURGE_RESULT, "stage_purge_result", tf_msg_stage_purge_result_t, stage_purge_result) \
    X(VOL_REQUEST, "vol_request", tf_msg_vol_request_t, vol_request)      \
    X(VOL_GRANT, "vol_grant", tf_msg_vol_grant_t, vol_grant)              \
    X(LAB_QUERY, "lab_query", tf_msg_lab_query_t, lab_query)              \
    X(LAB_REPLY, "lab_reply", tf_msg_lab_reply_t, lab_reply)              \
    X(TAPE_LABEL, "tape_label", tf_msg_tape_label_t, tape_label)                \
    X(PATH_CHECK, "path_check", tf_msg_path_check_t, path_check)                \
    X(PATH_INFO, "path_info", tf_msg_path_info_t, path_info)                    \
    X(EXTRACT, "extract", tf_msg_extract_t, extract)                            \
    X(EXTRACT_RESULT, "extract_result", tf_msg_extract_result_t, extract_result) \
    X(CAT_MANIFEST, "cat_manifest", tf_msg_cat_manifest_t, cat_manifest)        \
    X(CAT_MANIFEST_REPLY, "cat_manifest_reply", tf_msg_cat_manifest_reply_t, cat_manifest_reply) \
    X(CAT_SCHED, "cat_sched", tf_msg_cat_sched_t, cat_sched)                    \
    X(REPLICA_COPY, "replica_copy", tf_msg_replica_copy_t, replica_copy)        \
    X(CAT_REPLICA, "cat_replica", tf_msg_cat_replica_t, cat_replica)

typedef enum {
    TF_MSG_NONE = 0,
#define TF_MSG_ENUM_(E, N, S, M) TF_MSG_##E,
    TF_MSG_TYPES(TF_MSG_ENUM_)
#undef TF_MSG_ENUM_
    TF_MSG_TYPE_COUNT
} tf_msg_type_t;

typedef struct {
    tf_msg_type_t type;
    union {
#define TF_MSG_MEMBER_(E, N, S, M) S M;
        TF_MSG_TYPES(TF_MSG_MEMBER_)
#undef TF_MSG_MEMBER_
    };
} tf_msg_t;

/* --- read-only view of the catalogue ---------------------------------------------------
   The tables the codec walks, for code that must cover every message without naming each one
   (the codec tests, the fuzz corpus generator, the fuzz target's equality check): a new
   message is covered by them as soon as it has its X() row and field table. */

/* What a field is in its C struct. */
typedef enum {
    TF_MSG_FIELD_BOOL,   /* bool; always on the wire */
    TF_MSG_FIELD_UINT,   /* uint64_t; always on the wire */
    TF_MSG_FIELD_INT,    /* int64_t; always on the wire */
    TF_MSG_FIELD_STR,    /* char *, NUL-terminated, no embedded NUL; NULL: absent */
    TF_MSG_FIELD_BIN,    /* tf_bytes_t; data NULL: absent */
    TF_MSG_FIELD_ROWS    /* T *rows at offset, size_t count at count_offset; always on the wire */
} tf_msg_field_kind_t;

typedef struct tf_msg_desc_s tf_msg_desc_t;

typedef struct {
    const char *key;             /* wire key: the struct member's name */
    tf_msg_field_kind_t kind;    /* checked against the member's C type at compile time */
    size_t offset;               /* of the member in its struct */
    size_t count_offset;         /* ROWS: of the size_t count */
    bool required;
    size_t max;                  /* STR, BIN: max bytes; ROWS: max rows */
    const tf_msg_desc_t *elem;   /* ROWS: the record of one row */
    size_t row_size;             /* ROWS: sizeof one row as the struct declares it */
} tf_msg_field_t;

/* A message body or a row record. */
struct tf_msg_desc_s {
    const char *name;            /* wire name of a message ("work") or a row's name ("file") */
    size_t size;                 /* sizeof the struct */
    const tf_msg_field_t *fields;
    size_t nfields;
};

/* The description of a message type, NULL for TF_MSG_NONE and unknown types. Its struct is
   the tf_msg_t union member, at TF_MSG_BODY(msg) for every type. */
const tf_msg_desc_t *tf_msg_desc(tf_msg_type_t type);
#define TF_MSG_BODY(msg) ((void *) &(msg)->ready)

/* Encodes msg into a new heap buffer (*data, *size); caller frees *data. */
int tf_msg_encode(const tf_msg_t *msg, uint8_t **data, size_t *size, tf_err_t *err);

/* Decodes untrusted bytes into msg (zeroed first). On error msg is left cleared. */
int tf_msg_decode(const void *data, size_t size, tf_msg_t *msg, tf_err_t *err);

/* Frees what a decode allocated and zeroes msg. Safe on a zeroed message. */
void tf_msg_clear(tf_msg_t *msg);

/* Wire name of a type ("work"), or "?" */
const char *tf_msg_type_name(tf_msg_type_t type);

#ifdef __cplusplus
}
#endif
#endif
