/*  tapescan - rebuild the catalog rows of one tape from the tape alone (`tapeflow tape scan`).

    Reads the volume label, then every tape file: the archive header, spaces over the data
    blocks, reads the trailer and the index records after it (tapeindex.h). A tape file without
    index (older tapes, or the writer had no file rows) is read through libarchive instead and
    its rows are made from the tar headers (content checksums included). A tape file without
    trailer (the writer was stopped) is reported as incomplete and skipped.

    A segment of an archive that spans volumes (docs/tape-format.md, "Spanning volumes") is read
    to its trailer (its length is only there) and checked against it; the scan submits it as a
    cat_written with `segment` = N and that one segment row, and the catalog merges the
    segments that the scans of the set's volumes find, in any order, and records the archive
    written once they cover it. The file rows come from the index records after the last
    segment.

    With a catalog call (opts.call), what was found is submitted to the catalog as the pipeline would: cat_job
    create (pool, compression, creation time), cat_files (the rows), cat_written (volume, tape
    file, block, size, checksum) and, when the tape tells the job's totals, cat_job scanned - so
    a job whose archives are all rebuilt is completed again. Items get fresh ids: the catalog is
    idempotent by content (one row per archive and path, one position per archive, one create
    and one scan per job), so scanning a tape again changes nothing, and it works while the
    broker still remembers the pipeline's own item ids.

        tapescan_opts_t opts = {.drive_name = "tape0", .call = my_catalog_call, .call_arg = client,
                                .timeout_ms = 30000};
        tapescan_result_t res;
        rc = tapescan_run(drive, &opts, &res, &err);
        ... res.archives_count, res.files, res.blocks_read of res.blocks_total ...
        tapescan_result_clear(&res);
*/
#ifndef TAPESCAN_H_INCLUDED
#define TAPESCAN_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tf_drive.h"
#include "tf_err.h"
#include "tf_msg.h"

/* Sends one catalog work item (job_id: the item's job, may be NULL) and waits up to timeout_ms
   for its result (the caller clears *result). The tape library knows no broker: the caller
   injects how items reach the catalog (the CLI: tf_client_call to service "catalog"). */
typedef int (tapescan_call_fn)(void *arg, const char *job_id, const tf_msg_t *msg, tf_msg_t *result,
                               int timeout_ms, tf_err_t *err);

typedef struct {
    const char *drive_name;   /* recorded as the archives' drive; used in messages */
    tapescan_call_fn *call;   /* NULL: only read the tape, submit nothing */
    void *call_arg;
    int timeout_ms;           /* per catalog item; 0: 30 s */
} tapescan_opts_t;

/* How an archive's rows were found. */
typedef enum {
    TAPESCAN_INDEX = 0,       /* the index records after the trailer */
    TAPESCAN_HEADERS,         /* no (usable) index: the archive's tar headers */
    TAPESCAN_SEGMENT,         /* a segment of a spanned archive without the index (not the last) */
    TAPESCAN_INCOMPLETE,      /* no trailer: skipped */
    TAPESCAN_FOREIGN,         /* not a tapeflow archive: skipped */
    TAPESCAN_FAILED           /* could not be read or recorded: skipped */
} tapescan_source_t;

typedef struct {
    uint64_t tape_file;
    char archive_id[129];
    char job_id[129];
    uint64_t group_no;
    uint64_t files;           /* rows found */
    uint64_t blocks;          /* header + data + trailer + index records */
    tapescan_source_t source;
    char message[600];        /* why, when not from the index */
    /* Spanned archives (segment > 0): this tape file's segment. */
    uint64_t segment;         /* 0: the archive is on this volume alone */
    uint64_t block;           /* logical block of the segment's header */
    uint64_t offset;          /* archive byte offset of its first data byte */
    uint64_t length;          /* archive bytes in it */
    uint64_t data_blocks;
    char checksum[64];        /* of its bytes */
    bool last;                /* the archive's last segment (its index follows) */
} tapescan_archive_t;

typedef struct {
    char job_id[129];
    uint64_t archives;
    uint64_t files;
    bool totals;              /* the job's totals were known and submitted (cat_job scanned) */
    bool derived;             /* ... derived from the archives on this tape */
    char status[16];          /* the catalog's status after the scan; "" without a catalog call */
    char message[300];        /* why the totals are unknown, or the catalog's message */
} tapescan_job_t;

typedef struct {
    char volume[33];
    char pool[65];
    tapescan_archive_t *archives;
    size_t archives_count;
    tapescan_job_t *jobs;
    size_t jobs_count;
    uint64_t files;           /* rows found, all archives */
    uint64_t from_index;      /* archives by source */
    uint64_t from_headers;
    uint64_t segments;        /* segments of spanned archives submitted (the last ones included) */
    uint64_t skipped;         /* incomplete, foreign or failed tape files */
    uint64_t blocks_read;     /* blocks read from tape (label included) */
    uint64_t blocks_total;    /* blocks the tape holds (as far as known) */
} tapescan_result_t;

/* Scans the tape in drive. TF_OK when the label was read (problems with single tape files are
   reported per archive); an error when the tape is not a tapeflow volume or the catalog
   refused or did not take the rows. res is filled as far as the scan got either way. */
int tapescan_run(tf_drive_t *drive, const tapescan_opts_t *opts, tapescan_result_t *res, tf_err_t *err);
void tapescan_result_clear(tapescan_result_t *res);
const char *tapescan_source_name(tapescan_source_t source);

#endif
