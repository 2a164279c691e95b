/*  tf_stage_client - the compressor's end of the stage protocol (docs/staging.md).

    One archive at a time: open, write the archive bytes as they are produced, send its file
    rows (the sidecar the stager keeps next to the archive for the tape writer), close. The
    client cuts them into stage_data chunks of at most `chunk` bytes and sends only while it
    holds credit; when it runs out it waits for stage_credit, so the compressor is slowed down
    to the stager's pace (back-pressure) and never holds more than one chunk in memory.

    Each open uses a fresh DEALER socket, so nothing from an earlier attempt at the same
    archive can be mistaken for an answer to this one. The stager answers an open session at
    least every second (a zero-byte credit while it waits for space); when it is silent for
    `timeout_ms` the call fails with TF_ERR_TIMEOUT ("stager at ... not answering"), which the
    compressor turns into a retry of its work item. A refusal fails with TF_ERR_IO (retry),
    or with TF_ERR_TOOBIG and the stager's message alone when the stager says it is permanent
    (the archive can never fit the holding disk): the compressor's item then fails for good.
*/
#ifndef TF_STAGE_CLIENT_H_INCLUDED
#define TF_STAGE_CLIENT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tf_config.h"
#include "tf_err.h"
#include "tf_msg.h"

typedef struct _tf_stage_client_t tf_stage_client_t;

typedef struct {
    const char *endpoint;     /* stager/endpoint */
    size_t chunk;             /* bytes per stage_data, at most 1 MiB is sensible */
    int64_t timeout_ms;       /* stager silence that fails the archive */
    int64_t max_message;      /* broker/max_message: receive limit */
    const tf_config_t *config; /* keys for a tcp stager (tf_secure); NULL: ipc only */
    const char *server_key;   /* the stager's key; NULL: stager/server_key (empty: keys/server) */
} tf_stage_client_opts_t;

tf_stage_client_t *tf_stage_client_new(const tf_stage_client_opts_t *opts, tf_err_t *err);
void tf_stage_client_destroy(tf_stage_client_t **self_p);

/* Starts (or restarts) an archive and waits for the stager's first answer. *already_staged is
   set when the stager already holds this archive verified in ready/ (nothing to send). */
int tf_stage_client_open(tf_stage_client_t *self, const tf_msg_stage_open_t *open, bool *already_staged,
                         tf_err_t *err);
/* Streams bytes of the open archive (buffers at most one chunk). */
int tf_stage_client_write(tf_stage_client_t *self, const void *data, size_t size, tf_err_t *err);
/* Sends part `part` (from 1, in order) of the open archive's file rows as one stage_rows, after
   what is buffered of its bytes: call it once the archive is complete, before close. The
   parts are not counted against credit (each is at most one cat_files part: 50,000 rows or
   16 MiB of text); the stager counts them as holding-disk space. */
int tf_stage_client_rows(tf_stage_client_t *self, uint64_t part, const tf_msg_file_row_t *rows, size_t count,
                         tf_err_t *err);
/* Sends what is buffered and stage_close with the size and checksum of everything written
   (and how many parts of file rows were sent), then waits for the verdict: TF_OK when the
   stager verified and queued the archive. */
int tf_stage_client_close(tf_stage_client_t *self, uint64_t files, uint64_t bytes, tf_err_t *err);
/* Drops the open archive (the stager drops its partial file when the next open comes or the
   session is refused). */
void tf_stage_client_abort(tf_stage_client_t *self);

/* Called about once a second while the open archive waits for credit (the holding disk is
   full), with how long it has waited so far; for progress reports. NULL to stop. */
typedef void(tf_stage_client_wait_fn)(void *arg, int64_t waited_ms);
void tf_stage_client_on_wait(tf_stage_client_t *self, tf_stage_client_wait_fn *fn, void *arg);

/* Bytes written to the open archive so far, and its checksum when closed. */
uint64_t tf_stage_client_size(tf_stage_client_t *self);
const char *tf_stage_client_checksum(tf_stage_client_t *self);
/* Times the client had to wait for credit in this archive (back-pressure, for tests/stats). */
uint64_t tf_stage_client_credit_waits(tf_stage_client_t *self);
/* Credit grants received in this archive, and the most credit held at once (flow control:
   never more than the stager's window). Deterministic, unlike waits. */
uint64_t tf_stage_client_credit_grants(tf_stage_client_t *self);
uint64_t tf_stage_client_credit_max_held(tf_stage_client_t *self);

#endif
