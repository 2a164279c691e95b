/*  tf_stage_fetch - reads one staged archive from the stager ahead of its consumer (the tape
    writer's drive, the extractor's disk writes).

    A DEALER connected to the stager's ROUTER (archive_ready.stager, or the extractor's
    stager/endpoint) through tf_secure_connect: over tcp a CURVE client of the stager's key -
    archive_ready.stager_key when the stager announced one, else stager/server_key (empty:
    keys/server). It keeps `depth` fetch
    requests of `chunk` bytes in flight and hands the answers out strictly in offset order, so
    the consumer always has the next bytes waiting while it writes the previous ones.
    A wait for data that has not arrived yet is reported to the caller (an underrun when the
    drive was due a block). The archive's file rows sidecar (docs/staging.md) is fetched the
    same way (fetch.rows), by a fetch of its own.
*/
#ifndef TF_STAGE_FETCH_H_INCLUDED
#define TF_STAGE_FETCH_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tf_config.h"
#include "tf_err.h"

typedef struct _tf_stage_fetch_t tf_stage_fetch_t;

typedef struct {
    size_t chunk;          /* bytes per fetch (at most 4 MiB, the protocol limit) */
    int depth;             /* requests in flight */
    int timeout_ms;        /* longest wait for one answer before giving up */
    int64_t max_message;   /* ZMQ_MAXMSGSIZE of the socket */
    tf_config_t *cfg;      /* keys for a tcp endpoint (tf_secure.h); NULL: ipc only */
} tf_stage_fetch_opts_t;

/* Connects and sends the first requests. stager_key: archive_ready.stager_key (NULL or "":
   stager/server_key, see above). */
tf_stage_fetch_t *tf_stage_fetch_new(const char *endpoint, const char *stager_key, const char *archive_id,
                                     uint64_t size, const tf_stage_fetch_opts_t *opts, tf_err_t *err);
/* The same for the archive's file rows sidecar of size bytes (archive_ready.rows_size). */
tf_stage_fetch_t *tf_stage_fetch_new_rows(const char *endpoint, const char *stager_key, const char *archive_id,
                                          uint64_t size, const tf_stage_fetch_opts_t *opts, tf_err_t *err);
void tf_stage_fetch_destroy(tf_stage_fetch_t **self_p);

/* Waits until every request in flight was answered (or the archive is all here): the
   window is full, writing can start. */
int tf_stage_fetch_fill(tf_stage_fetch_t *self, tf_err_t *err);
/* True when the next bytes are already here (takes in what has arrived, never waits). */
bool tf_stage_fetch_ready(tf_stage_fetch_t *self);
/* The next bytes in order (valid until the next call); *len == 0 after the last byte.
   Fails with TF_ERR_TIMEOUT when the stager does not answer, TF_ERR_IO when it reports an
   error. */
int tf_stage_fetch_next(tf_stage_fetch_t *self, const void **data, size_t *len, tf_err_t *err);

#endif
