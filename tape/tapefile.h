/*  tapefile - one archive as one tape file (docs/tape-format.md, "Archive tape files").

        header record   TF_KVREC_SIZE (4096) bytes, "TAPEFLOW-ARCHIVE 1" + key=value lines
        data blocks     the archive's bytes in variable blocks of block_size, the last one short
        trailer record  4096 bytes, "TAPEFLOW-TRAILER 1": byte count, data blocks, checksum,
                        number of index records
        index records   0 or more, 64 KiB each, "TAPEFLOW-INDEX 1": the archive's file rows
                        (tapeindex.h), so a scan can rebuild the catalog without the data
        filemark

    A short last data block may itself be 4096 bytes long, so records are recognised by their
    magic and position, never by their size: a reader takes exactly `size` bytes of data after
    the header and expects the trailer next.

    The writer streams: it takes data in any slices and writes a block as soon as it has one.
    The reader pulls: it hands out the data block by block (restore feeds libarchive from it,
    verify and dump just consume it) and checks the trailer and checksum at the end. A scan
    instead spaces over the data (tapefile_reader_skip_data) and reads trailer and index.
    Tape files written before index records existed have none: their trailer has no
    index_records key and everything else reads as before.
*/
#ifndef TAPEFILE_H_INCLUDED
#define TAPEFILE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tapeindex.h"
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
    /* What the catalog knew of the job when the archive was written (for a rebuild); 0/false
       when unknown (older tapes, or the catalog did not answer). */
    int64_t job_created_ms;
    bool job_scanned;         /* the totals below are the scan's */
    uint64_t job_files;
    uint64_t job_bytes;
    uint64_t job_groups;
    uint64_t job_warnings;
    /* Spanning (docs/tape-format.md, "Spanning volumes"): segment 2.. of an archive that
       continues from the previous volume of its set. 0/1 with offset 0: the archive starts
       here. size, checksum and data_blocks stay the whole archive's. */
    uint64_t segment;
    uint64_t offset;          /* archive byte offset of this tape file's first data byte */
    char set_id[65];          /* the volume set the archive spans ("" for segment 1) */
} tapefile_header_t;

/* The trailer as read back. */
typedef struct {
    char archive_id[129];
    uint64_t size;
    uint64_t data_blocks;
    char checksum[TAPEFILE_CHECKSUM_LEN];
    bool has_index;           /* the writer put the file rows after the trailer */
    uint64_t index_records;   /* index records that follow (0 with has_index: no rows) */
    uint64_t index_rows;
    bool continued;           /* end-of-volume trailer: the archive goes on on the next volume */
    uint64_t offset;          /* archive offset of the first data byte (segments) */
} tapefile_trailer_t;

/* One segment of an archive as written (spanning). */
typedef struct {
    uint64_t segment;         /* from 1 */
    uint64_t offset;          /* archive byte offset of its first data byte */
    uint64_t length;          /* archive bytes in it */
    uint64_t data_blocks;
    bool trailer;             /* an end-of-volume trailer follows the data (false: hard end of medium) */
    bool overflow;            /* the drive refused a block (hard end of medium): it starts the next segment */
} tapefile_segment_t;

/* Outcome of writing or reading one tape file. */
typedef struct {
    uint64_t size;            /* data bytes */
    uint64_t data_blocks;
    uint64_t blocks;          /* records: header + data blocks + trailer */
    char checksum[TAPEFILE_CHECKSUM_LEN];
    bool early_warning;       /* the drive reported early warning while writing */
    uint64_t index_records;   /* index records after the trailer (not counted in blocks) */
} tapefile_stats_t;

/* Number of data blocks for size bytes. */
uint64_t tapefile_data_blocks(uint64_t size, uint32_t block_size);

/* --- writing --------------------------------------------------------------------------- */

typedef struct _tapefile_writer_t tapefile_writer_t;

/* Writes the header record at the drive's position (the caller put it at end of data).
   hdr->data_blocks and hdr->created are filled in here. */
tapefile_writer_t *tapefile_writer_new(tf_drive_t *drive, tapefile_header_t *hdr, tf_err_t *err);
void tapefile_writer_destroy(tapefile_writer_t **self_p);
/* Adds archive bytes; every full block is written at once. A block the drive refuses at the
   end of the medium (volume overflow) is not an error: it and the bytes after it are held for
   the next volume and tapefile_writer_volume_full turns true. */
int tapefile_writer_write(tapefile_writer_t *self, const void *data, size_t len, tf_err_t *err);
/* Bytes held for the next block (less than block_size). */
size_t tapefile_writer_pending(tapefile_writer_t *self);
/* Index records to write after the trailer (borrowed until finish; NULL: none, the trailer
   then says the tape file has no index). */
void tapefile_writer_set_index(tapefile_writer_t *self, const tapeindex_t *index);
/* Writes the last (short) block, the trailer, the index records and a filemark. Checks that
   exactly hdr->size bytes came and that their checksum is hdr->checksum (when set). When the
   drive refuses the last block at the end of the medium this is TF_ERR_TOOBIG with
   tapefile_writer_volume_full true: continue on the next volume, then finish again. */
int tapefile_writer_finish(tapefile_writer_t *self, tapefile_stats_t *stats, tf_err_t *err);
/* Spanning. True once the drive reported early warning while archive bytes are still to
   come, or refused a block at the end of the medium (volume overflow: the writer keeps that
   block and anything after it for the next volume). The caller then ends the volume and
   continues on the next one. */
bool tapefile_writer_volume_full(tapefile_writer_t *self);
/* True when the drive refused a block (hard end of medium): the archive cannot finish on this
   volume. (Early warning alone leaves room to finish it: a writer without a next volume may.) */
bool tapefile_writer_overflow(tapefile_writer_t *self);
/* Ends the segment on this volume: the end-of-volume trailer (TAPEFILE_TRAILER_MAGIC with
   continued=1; skipped when the medium has no room left) and a filemark. *seg: the segment. */
int tapefile_writer_end_volume(tapefile_writer_t *self, tapefile_segment_t *seg, tf_err_t *err);
/* Continues on the next volume (drive positioned where the tape file starts): writes the
   header of the next segment (segment, offset, set_id, volume) and the bytes held back. */
int tapefile_writer_next_volume(tapefile_writer_t *self, tf_drive_t *drive, const char *volume,
                                const char *set_id, tf_err_t *err);
/* The segment being written (offset, bytes and blocks so far). */
void tapefile_writer_segment(tapefile_writer_t *self, tapefile_segment_t *seg);

/* After a failure: closes the incomplete tape file with a filemark (best effort). */
void tapefile_writer_abandon(tapefile_writer_t *self);
/* The writer's drive handle was closed while changing volumes (the segment on the old volume
   is complete): the writer no longer touches it, and abandon writes nothing. */
void tapefile_writer_detach(tapefile_writer_t *self);

/* --- reading --------------------------------------------------------------------------- */

typedef struct _tapefile_reader_t tapefile_reader_t;

/* Positions at block 0 of tape file `file` and reads and parses the header record. A first
   block that is not a tapeflow header is TF_ERR_INVALID ("tape file 3 is not a tapeflow
   archive"). */
tapefile_reader_t *tapefile_reader_open(tf_drive_t *drive, uint64_t file, tf_err_t *err);
void tapefile_reader_destroy(tapefile_reader_t **self_p);
const tapefile_header_t *tapefile_reader_header(tapefile_reader_t *self);
/* Reads one segment of a spanned archive: `length` archive bytes starting at `offset` (the
   header must say the same offset). Finish then checks the segment's own trailer (or accepts
   none after the data: hard end of medium) instead of the whole archive's checksum. */
int tapefile_reader_set_segment(tapefile_reader_t *self, uint64_t offset, uint64_t length, tf_err_t *err);
/* Next slice of data (valid until the next call); *len == 0 once all size bytes were handed out. */
int tapefile_reader_read(tapefile_reader_t *self, const void **data, size_t *len, tf_err_t *err);
/* Reads what is left of the data, then the trailer; checks byte count, block count and the
   checksum of everything read against header and trailer. */
int tapefile_reader_finish(tapefile_reader_t *self, tapefile_stats_t *stats, tf_err_t *err);
/* Blocks read from tape so far (header, trailer and index records included; blocks spaced
   over are not read). */
uint64_t tapefile_reader_blocks(tapefile_reader_t *self);

/* Instead of reading the data: spaces over the header's data_blocks (reads them where the
   drive cannot space), then reads the trailer and checks it against the header (size, blocks,
   checksum - the data itself is not checked). A tape file that ends before its trailer is
   TF_ERR_IO "... is incomplete". */
int tapefile_reader_skip_data(tapefile_reader_t *self, tf_err_t *err);
/* For a tape scan, instead of the above: reads the data of the segment of a spanned archive
   this tape file holds (its length is only in its trailer) up to this archive's trailer and
   checks bytes, blocks, checksum and offset against it. With allow_cut a filemark or end of
   data right after the data is accepted (hard end of medium; no trailer then). *stats: the
   segment's bytes, data blocks, blocks read and checksum. */
int tapefile_reader_scan_segment(tapefile_reader_t *self, bool allow_cut, tapefile_stats_t *stats, tf_err_t *err);
/* The trailer, after tapefile_reader_finish, tapefile_reader_skip_data or
   tapefile_reader_scan_segment succeeded (NULL when there was none). */
const tapefile_trailer_t *tapefile_reader_trailer(tapefile_reader_t *self);
/* Reads and decodes the next index record into *msg (a cat_files, caller clears); after the
   last one (or with no index) msg->type is TF_MSG_NONE. A damaged record is TF_ERR_INVALID
   with the reason (checksum, encoding); the next call reads the record after it. */
int tapefile_reader_index_next(tapefile_reader_t *self, tf_msg_t *msg, tf_err_t *err);

/* Verify of one segment of a spanned archive (after write, before the volume is changed):
   reads `length` bytes at `offset` of archive_id in tape file `file` and checks the segment
   trailer's byte count, block count and checksum; the last segment also its index records. */
int tapefile_verify_segment(tf_drive_t *drive, uint64_t file, const char *archive_id,
                            uint64_t offset, uint64_t length, tapefile_stats_t *stats, tf_err_t *err);

/* Reads all of tape file `file` and checks it against the expected archive id, size and
   checksum, and that every index record reads back intact (verify after write). */
int tapefile_verify(tf_drive_t *drive, uint64_t file, const char *archive_id, uint64_t size,
                    const char *checksum, tapefile_stats_t *stats, tf_err_t *err);

#endif
