/*  fetcher - reads one staged archive from the stager ahead of the drive.

    A DEALER connected to the stager's ROUTER (archive_ready.stager). It keeps `depth` fetch
    requests of `chunk` bytes in flight and hands the answers out strictly in offset order, so
    the tape writer always has the next bytes waiting while the drive writes the previous ones.
    A wait for data that has not arrived yet is reported to the caller (an underrun when the
    drive was due a block). The archive's file rows sidecar (docs/staging.md) is fetched the
    same way (fetch.rows), by a fetcher of its own.
*/
#ifndef FETCHER_H_INCLUDED
#define FETCHER_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tf_err.h"

typedef struct _fetcher_t fetcher_t;

typedef struct {
    size_t chunk;          /* bytes per fetch (at most 4 MiB, the protocol limit) */
    int depth;             /* requests in flight */
    int timeout_ms;        /* longest wait for one answer before giving up */
    int64_t max_message;   /* ZMQ_MAXMSGSIZE of the socket */
} fetcher_opts_t;

/* Connects and sends the first requests. */
fetcher_t *fetcher_new(const char *endpoint, const char *archive_id, uint64_t size,
                       const fetcher_opts_t *opts, tf_err_t *err);
/* The same for the archive's file rows sidecar of size bytes (archive_ready.rows_size). */
fetcher_t *fetcher_new_rows(const char *endpoint, const char *archive_id, uint64_t size,
                            const fetcher_opts_t *opts, tf_err_t *err);
void fetcher_destroy(fetcher_t **self_p);

/* Waits until every request in flight was answered (or the archive is all here): the
   window is full, writing can start. */
int fetcher_fill(fetcher_t *self, tf_err_t *err);
/* True when the next bytes are already here (takes in what has arrived, never waits). */
bool fetcher_ready(fetcher_t *self);
/* The next bytes in order (valid until the next call); *len == 0 after the last byte.
   Fails with TF_ERR_TIMEOUT when the stager does not answer, TF_ERR_IO when it reports an
   error. */
int fetcher_next(fetcher_t *self, const void **data, size_t *len, tf_err_t *err);

#endif
