/*  restore - extract archives from tape (the tape_restore work item).

    Reads the volume label, checks that the mounted tape is the volume the archives are on
    (or, with a mount callback, asks for each volume in turn), then for each archive row in
    order: positions at its tape file (each segment's in turn when the archive spans volumes,
    docs/tape-format.md "Spanning volumes"), checks the header names that archive, streams its data blocks into libarchive and extracts the entries matching the
    patterns into dest, with libarchive's secure flags (no "..", no absolute paths, no writing
    through symlinks). Owners (when root), modes, times, symlinks, hard links, empty dirs and
    sparse files are restored. Only the archives listed are read.

    Where entries land (restore_target): the stored path below dest, with strip_components
    leading components removed (entries with no more than that many are left out, as tar
    does), or with flat only the last name (folders are not created). An entry that would land
    outside dest ('..', absolute, through a symlink) is refused and counted. An entry whose
    name exists already in dest is kept or replaced as req->overwrite says (never: kept;
    older: replaced when the existing one has an older mtime; always: replaced), and counted
    when kept; two entries landing on one name (flat, strip_components) keep the first and
    count a collision. An existing name that holds the stored entry already (same type, size,
    symlink text or hard-link file, mtime to the nanosecond) is "already present": left alone,
    counted in present, not a warning. Before anything is checked or written, every folder on
    the way to the target is looked at: a symlink among them refuses the entry. A file is
    written to a temporary name beside its target and renamed once complete, so a restore cut
    short never leaves a half-written file nor loses the file it replaces. Non-folder entries
    strip_components leaves out, and patterns that select nothing, are counted as warnings.

    An archive that cannot be read to its end (medium error, wrong tape file, a volume that
    cannot be mounted) is recorded in stats->failures with the reason, the file it was writing
    is removed (its temporary name), and the restore goes on with the next archive: everything readable is restored.
    When no archive could be read and every one was refused (TF_ERR_INVALID: the tape is not
    what the catalog says), the restore itself fails with the first reason, as a refusal.

    Patterns are globs over stored paths (relative, no leading '/'; fnmatch without
    FNM_PATHNAME, so '*' also matches '/'); a pattern naming a directory also selects what is
    under it; no patterns select everything.
*/
#ifndef RESTORE_H_INCLUDED
#define RESTORE_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#include "restore_overwrite.h"
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
    char message[1024];        /* summary, with the first warnings */
} restore_stats_t;

/* Frees stats->failures (restore_run allocates it when it returns TF_OK). */
void restore_stats_free(restore_stats_t *stats);

/* restore_overwrite_t and restore_overwrite_parse: restore_overwrite.h (shared with the CLI). */

/* Where a stored path lands under dest (see above): false when the entry is left out
   (strip_components removes all of it; a folder with flat). is_dir: the entry is a folder. */
bool restore_target(const char *stored, uint64_t strip_components, bool flat, bool is_dir, char *out,
                    size_t size);

/* True when a relative path stays below its folder: not absolute, no '..' component. */
bool restore_path_safe(const char *path);

/* True when a stored path is selected by the patterns (count 0: everything). */
bool restore_match(const tf_msg_path_row_t *patterns, size_t count, const char *path);

/* Runs one restore. The drive is open and ready. Changes the working folder to dest for the
   duration (secure extraction refuses absolute names) and restores it before returning. */
int restore_run(tf_drive_t *drive, const tf_msg_tape_restore_t *req, const restore_opts_t *opts,
                restore_stats_t *stats, tf_err_t *err);

#endif
