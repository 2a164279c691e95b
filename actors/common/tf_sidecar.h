/*  tf_sidecar - an archive's file rows as they travel with it through the holding disk
    (docs/staging.md, "File rows sidecar").

    The compressor sends the rows to the stager as `stage_rows` parts after the archive's data;
    the stager appends each part to the archive's sidecar file (ready/<archive>.rows); the tape
    writer fetches the sidecar like the data and builds the archive's on-tape index from it,
    without asking the catalog. The file is a sequence of records, one per part, in part order:

        4 bytes     N, the record's length, big-endian
        N bytes     one msgpack `stage_rows` message (tf_msg_encode): archive_id, part, files

    An archive without entries has one record with no rows, so a sidecar is never empty.

        uint8_t *record; size_t size;
        rc = tf_sidecar_record(&msg.stage_rows, &record, &size, &err);    // stager: append
        ...
        tf_sidecar_t *rows = tf_sidecar_parse(bytes, size, archive_id, &err);   // tape writer
        tapeindex_build(job, archive_id, tf_sidecar_rows(rows), tf_sidecar_count(rows), &err);
        tf_sidecar_destroy(&rows);
*/
#ifndef TF_SIDECAR_H_INCLUDED
#define TF_SIDECAR_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "tf_err.h"
#include "tf_msg.h"

/* Bytes of a record's length prefix. */
#define TF_SIDECAR_PREFIX 4

typedef struct _tf_sidecar_t tf_sidecar_t;

/* Encodes one part as a record (length prefix and message) into a new heap buffer. */
int tf_sidecar_record(const tf_msg_stage_rows_t *part, uint8_t **data, size_t *size, tf_err_t *err);

/* Checks and decodes a whole sidecar: every record whole and a `stage_rows` of archive_id,
   parts 1, 2, ... in order, nothing after the last. TF_ERR_INVALID with what is wrong (which
   record, at which byte) when it is not a sidecar of that archive. */
tf_sidecar_t *tf_sidecar_parse(const void *data, size_t size, const char *archive_id, tf_err_t *err);
void tf_sidecar_destroy(tf_sidecar_t **self_p);

/* Parts (records) and file rows in the sidecar. */
size_t tf_sidecar_parts(const tf_sidecar_t *self);
size_t tf_sidecar_count(const tf_sidecar_t *self);
/* All file rows in part order (valid until destroy; NULL when there are none). */
const tf_msg_file_row_t *tf_sidecar_rows(const tf_sidecar_t *self);

#endif
