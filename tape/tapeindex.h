/*  tapeindex - the on-tape index of one archive (docs/tape-format.md, "Index records").

    After an archive's trailer the tape writer puts the archive's file rows (the catalog's
    `file_row`s) as index records, so `tapeflow tape scan` can rebuild the catalog from a tape
    without reading the data blocks. Each record is exactly TAPEINDEX_RECORD_SIZE bytes and
    stands alone:

        bytes 0 .. 4095     text header (tf_kvrec): "TAPEFLOW-INDEX 1", archive, job, part,
                            parts, rows, encoding, length, raw_length, checksum
        bytes 4096 ..       `length` bytes: one tapeflow msgpack `cat_files` message
                            (tf_msg_encode) of `rows` rows, compressed as one zstd frame
        the rest            NUL bytes

    `checksum` is xxh128 of the `length` compressed bytes, so a damaged record is found before
    anything is decoded.

        tf_err_t err = {0};
        tapeindex_t *index = tapeindex_build(job_id, archive_id, rows, count, &err);
        for (size_t i = 0; i < tapeindex_records(index); i++)
            write_block(tapeindex_record(index, i), TAPEINDEX_RECORD_SIZE);
        tapeindex_destroy(&index);
        ...
        tf_msg_t msg;   // a cat_files: job_id, archive_id, part, files
        rc = tapeindex_parse(block, len, archive_id, part, &msg, &err);
        tf_msg_clear(&msg);
*/
#ifndef TAPEINDEX_H_INCLUDED
#define TAPEINDEX_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "tf_err.h"
#include "tf_msg.h"

#define TAPEINDEX_MAGIC "TAPEFLOW-INDEX 1"
/* Every index record has this size, whatever the data block size. */
#define TAPEINDEX_RECORD_SIZE 65536u
/* The compressed rows start here (after the text header). */
#define TAPEINDEX_PAYLOAD_OFFSET 4096u
#define TAPEINDEX_PAYLOAD_MAX (TAPEINDEX_RECORD_SIZE - TAPEINDEX_PAYLOAD_OFFSET)
#define TAPEINDEX_ENCODING "msgpack-cat_files+zstd"

typedef struct _tapeindex_t tapeindex_t;

/* Encodes rows into as few records as fit (parts 1..N). count may be 0 (no records). */
tapeindex_t *tapeindex_build(const char *job_id, const char *archive_id, const tf_msg_file_row_t *rows,
                             size_t count, tf_err_t *err);
void tapeindex_destroy(tapeindex_t **self_p);
size_t tapeindex_records(const tapeindex_t *self);
uint64_t tapeindex_rows(const tapeindex_t *self);
/* Record i (TAPEINDEX_RECORD_SIZE bytes). */
const uint8_t *tapeindex_record(const tapeindex_t *self, size_t i);

/* Checks and decodes one index record read from tape into *msg (a cat_files; the caller clears
   it). archive_id (may be NULL) and part (0: any) are what the reader expects there.
   TF_ERR_INVALID: not an index record, another archive or part, a wrong checksum or a payload
   that does not decode - the message says which. */
int tapeindex_parse(const void *block, size_t len, const char *archive_id, uint64_t part, tf_msg_t *msg,
                    tf_err_t *err);

#endif
