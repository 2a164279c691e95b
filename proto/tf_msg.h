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
} tf_msg_worker_row_t;

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
} tf_msg_event_t;

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
    X(EVENT, "event", tf_msg_event_t, event)

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
