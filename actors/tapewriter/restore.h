/*  restore - extract archives from tape (the tape_restore work item).

    Reads the volume label, checks that the mounted tape is the volume the archives are on
    (or, with a mount callback, asks for each volume in turn), then for each archive row in
    order: positions at its tape file (each segment's in turn when the archive spans volumes,
    docs/tape-format.md "Spanning volumes"), checks the header names that archive, streams its data blocks into libarchive and extracts the entries matching the
    patterns into dest, with libarchive's secure flags (no "..", no absolute paths, no writing
    through symlinks). Owners (when root), modes, times, symlinks, hard links, empty dirs and
    sparse files are restored. Only the archives listed are read.

    Patterns are globs over stored paths (relative, no leading '/'; fnmatch without
    FNM_PATHNAME, so '*' also matches '/'); a pattern naming a directory also selects what is
    under it; no patterns select everything.
*/
#ifndef RESTORE_H_INCLUDED
#define RESTORE_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

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
    void *arg;
} restore_opts_t;

typedef struct {
    uint64_t files;            /* entries restored */
    uint64_t bytes;            /* content bytes written */
    uint64_t archives_read;
    uint64_t blocks_read;      /* every block read from tape: label, headers, data, trailers */
    uint64_t warnings;         /* entries refused or skipped */
    char message[1024];        /* summary, with the first warnings */
} restore_stats_t;

/* True when a stored path is selected by the patterns (count 0: everything). */
bool restore_match(const tf_msg_path_row_t *patterns, size_t count, const char *path);

/* Runs one restore. The drive is open and ready. Changes the working folder to dest for the
   duration (secure extraction refuses absolute names) and restores it before returning. */
int restore_run(tf_drive_t *drive, const tf_msg_tape_restore_t *req, const restore_opts_t *opts,
                restore_stats_t *stats, tf_err_t *err);

#endif
