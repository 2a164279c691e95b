/*  tapefile - one archive as one tape file (docs/tape-format.md, "Archive tape files").

        header record   TF_KVREC_SIZE (4096) bytes, "TAPEFLOW-ARCHIVE 1" + key=value lines
        data blocks     the archive's bytes in variable blocks of block_size, the last one short
        trailer record  4096 bytes, "TAPEFLOW-TRAILER 1": byte count, data blocks, checksum
        filemark

    A short last data block may itself be 4096 bytes long, so records are recognised by their
    magic and position, never by their size: a reader takes exactly `size` bytes of data after
    the header and expects the trailer next.

    The writer streams: it takes data in any slices and writes a block as soon as it has one.
    The reader pulls: it hands out the data block by block (restore feeds libarchive from it,
    verify and dump just consume it) and checks the trailer and checksum at the end.
*/
#ifndef TAPEFILE_H_INCLUDED
#define TAPEFILE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tf_drive.h"
#include "tf_err.h"

#define TAPEFILE_HEADER_MAGIC "TAPEFLOW-ARCHIVE 1"
#define TAPEFILE_TRAILER_MAGIC "TAPEFLOW-TRAILER 1"
/* "xxh128:" + 32 hex + NUL */
#define TAPEFILE_CHECKSUM_LEN 40
/* Data block limits: 4 KiB .. 1 MiB. */
#define TAPEFILE_BLOCK_MIN 4096u
#define TAPEFILE_BLOCK_MAX (1u << 20)

typedef struct {
    char archive_id[129];
    char job_id[129];
    uint64_t group_no;
    char pool[65];
    char compression[17];     /* zstd | gzip | none */
    uint64_t size;            /* archive bytes (data blocks hold exactly this many) */
    char checksum[TAPEFILE_CHECKSUM_LEN]; /* xxh128 of the archive bytes */
    uint32_t block_size;      /* data block size; the last block is shorter */
    uint64_t data_blocks;     /* ceil(size / block_size) */
    uint64_t files;
    uint64_t bytes;
    char volume[33];
    char created[32];         /* ISO 8601 UTC */
} tapefile_header_t;

/* Outcome of writing or reading one tape file. */
typedef struct {
    uint64_t size;            /* data bytes */
    uint64_t data_blocks;
    uint64_t blocks;          /* records: header + data blocks + trailer */
    char checksum[TAPEFILE_CHECKSUM_LEN];
    bool early_warning;       /* the drive reported early warning while writing */
} tapefile_stats_t;

/* Number of data blocks for size bytes. */
uint64_t tapefile_data_blocks(uint64_t size, uint32_t block_size);

/* --- writing --------------------------------------------------------------------------- */

typedef struct _tapefile_writer_t tapefile_writer_t;

/* Writes the header record at the drive's position (the caller put it at end of data).
   hdr->data_blocks and hdr->created are filled in here. */
tapefile_writer_t *tapefile_writer_new(tf_drive_t *drive, tapefile_header_t *hdr, tf_err_t *err);
void tapefile_writer_destroy(tapefile_writer_t **self_p);
/* Adds archive bytes; every full block is written at once. */
int tapefile_writer_write(tapefile_writer_t *self, const void *data, size_t len, tf_err_t *err);
/* Bytes held for the next block (less than block_size). */
size_t tapefile_writer_pending(tapefile_writer_t *self);
/* Writes the last (short) block, the trailer and a filemark. Checks that exactly hdr->size
   bytes came and that their checksum is hdr->checksum (when set). */
int tapefile_writer_finish(tapefile_writer_t *self, tapefile_stats_t *stats, tf_err_t *err);
/* After a failure: closes the incomplete tape file with a filemark (best effort). */
void tapefile_writer_abandon(tapefile_writer_t *self);

/* --- reading --------------------------------------------------------------------------- */

typedef struct _tapefile_reader_t tapefile_reader_t;

/* Positions at block 0 of tape file `file` and reads and parses the header record. A first
   block that is not a tapeflow header is TF_ERR_INVALID ("tape file 3 is not a tapeflow
   archive"). */
tapefile_reader_t *tapefile_reader_open(tf_drive_t *drive, uint64_t file, tf_err_t *err);
void tapefile_reader_destroy(tapefile_reader_t **self_p);
const tapefile_header_t *tapefile_reader_header(tapefile_reader_t *self);
/* Next slice of data (valid until the next call); *len == 0 once all size bytes were handed out. */
int tapefile_reader_read(tapefile_reader_t *self, const void **data, size_t *len, tf_err_t *err);
/* Reads what is left of the data, then the trailer; checks byte count, block count and the
   checksum of everything read against header and trailer. */
int tapefile_reader_finish(tapefile_reader_t *self, tapefile_stats_t *stats, tf_err_t *err);
/* Blocks read from tape so far (header and trailer included). */
uint64_t tapefile_reader_blocks(tapefile_reader_t *self);

/* Reads all of tape file `file` and checks it against the expected archive id, size and
   checksum (verify after write). */
int tapefile_verify(tf_drive_t *drive, uint64_t file, const char *archive_id, uint64_t size,
                    const char *checksum, tapefile_stats_t *stats, tf_err_t *err);

#endif
