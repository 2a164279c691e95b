/*  restore - extract archives from tape (the tape_restore work item).

    Reads the volume label, checks that the mounted tape is the volume the archives are on
    (or, with a mount callback, asks for each volume in turn), then for each archive row in
    order: positions at its tape file (each segment's in turn when the archive spans volumes,
    docs/tape-format.md "Spanning volumes"), checks the header names that archive, streams its data blocks into libarchive and extracts the entries matching the
    patterns into dest, with libarchive's secure flags (no "..", no absolute paths, no writing
    through symlinks). Owners (when root), modes, times, symlinks, hard links, empty dirs and
    sparse files are restored. Only the archives listed are read; of an archive whose row has
    take_some (a restore plan of an incremental or differential job), only the entries in its
    take list, for local restores and streams alike (tf_extract_take_t).

    Where entries land, and every rule about existing names, unsafe paths, collisions and
    temporary names: actors/common/tf_extract.h (the extractor on another host applies the
    same rules). A job whose archives come from more than one host (archive_row.host) lands
    in DEST/HOST/stored/path.

    Restore to another host (opts.stream_write): nothing is written here. The selected entries
    are streamed as one tar archive (pax, zstd level 1), under HOST/ for a job of several
    hosts, for the extractor of that host to write (restore_item.c). stats then count the
    entries streamed and their bytes; an entry whose data could not all be read is listed in
    stats->partial (its header is in the stream: the extractor leaves it out).

    An archive that cannot be read to its end (medium error, wrong tape file, a volume that
    cannot be mounted) is recorded in stats->failures with the reason, the file it was writing
    is removed (its temporary name), and the restore goes on with the next archive: everything readable is restored.
    When no archive could be read and every one was refused (TF_ERR_INVALID: the tape is not
    what the catalog says), the restore itself fails with the first reason, as a refusal.

    Patterns: tf_extract_match.
*/
#ifndef RESTORE_H_INCLUDED
#define RESTORE_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#include "restore_overwrite.h"
#include "tf_extract.h"
#include "tf_drive.h"
#include "tf_err.h"
#include "tf_msg.h"

typedef struct {
    const char *drive_name;    /* for messages: "tape in drive tape0 is ..." */
    void (*progress)(void *arg, uint64_t done, uint64_t total, const char *message);
    bool (*interrupted)(void *arg);
    /* Spanning and archives on several volumes: puts `volume` into the drive (changer) and
       returns the drive opened on it; `current` (the drive restore was reading, already
       closed by the callee as it sees fit) is not used again. NULL: every archive must be on
       the mounted tape, which is checked before anything is read. */
    tf_drive_t *(*mount)(void *arg, tf_drive_t *current, const char *volume, tf_err_t *err);
    /* Restore to another host: the stream's bytes go here (see above); NULL: extract here. */
    int (*stream_write)(void *arg, const void *data, size_t len, tf_err_t *err);
    void *arg;
} restore_opts_t;


/* One archive that could not be read to its end. */
typedef struct {
    char archive_id[TF_MSG_MAX_ID + 1];
    char reason[1024];
    int code;                  /* TF_ERR_* */
} restore_failure_t;

typedef struct {
    uint64_t files;            /* entries restored */
    uint64_t bytes;            /* content bytes written */
    uint64_t archives_read;
    uint64_t blocks_read;      /* every block read from tape: label, headers, data, trailers */
    uint64_t warnings;         /* entries not restored as stored (the counts below and others) */
    uint64_t refused;          /* unsafe paths: '..', absolute, through a symlink */
    uint64_t kept;             /* existing files kept (overwrite rule) */
    uint64_t collisions;       /* names restored once already in this restore */
    uint64_t medium_errors;    /* failed archives whose drive reported a medium error */
    uint64_t present;          /* existing files identical to the stored entry: left alone, not "kept" */
    uint64_t stripped;         /* non-folder entries --strip-components left out (warnings) */
    uint64_t unmatched;        /* patterns that selected nothing in the archives read (warnings) */
    uint64_t unwritable;       /* entries libarchive could not create (warnings) */
    restore_failure_t *failures; /* archives that failed, in the order read */
    size_t nfailures;
    tf_msg_path_row_t *partial; /* streaming: entries cut short (names as in the stream) */
    size_t npartial;
    char warn_text[800];       /* the first warnings */
    char message[1024];        /* summary, with the first warnings */
} restore_stats_t;

/* Frees stats->failures (restore_run allocates it when it returns TF_OK). */
void restore_stats_free(restore_stats_t *stats);

/* Whether the archives come from more than one host (archive_row.host): entries then land in
   DEST/HOST/stored/path. */
bool restore_multi_host(const tf_msg_tape_restore_t *req);

/* stats->message from the counts: "restored N files (B bytes) from A archives into [HOST:]DEST..." */
void restore_summary(restore_stats_t *stats, const char *dest, const char *host);

/* Runs one restore. The drive is open and ready. Extracting here, changes the working folder to
   dest for the duration (tf_extract.h) and restores it before returning. */
int restore_run(tf_drive_t *drive, const tf_msg_tape_restore_t *req, const restore_opts_t *opts,
                restore_stats_t *stats, tf_err_t *err);

#endif
