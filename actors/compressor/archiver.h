/*  archiver - turns one file group into a pax (restricted) archive with libarchive, streaming
    the compressed bytes to a sink as they are produced, and records a catalog row per entry.

    Each entry is read with archive_read_disk (lstat metadata, user/group names, sparse map;
    symlinks are stored as links), hard links within the archive go through a link resolver
    (the first occurrence carries the data, later ones are hard-link entries), stored paths are
    relative (leading '/' removed). An entry that vanished or cannot be read since the scan is
    skipped with a warning, not an error. No file system or socket knowledge beyond that: the
    sink decides where the bytes go, so tests and the "already staged" case can use their own.
*/
#ifndef ARCHIVER_H_INCLUDED
#define ARCHIVER_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#include "file_rows.h"
#include "tf_err.h"
#include "tf_msg.h"

typedef int(archiver_sink_fn)(void *arg, const void *data, size_t size, tf_err_t *err);
typedef void(archiver_warn_fn)(void *arg, const char *path, const char *message);
typedef void(archiver_progress_fn)(void *arg, uint64_t bytes_done, uint64_t entries_done);
typedef bool(archiver_stop_fn)(void *arg);

typedef struct {
    const char *compression;        /* zstd | gzip | none */
    int level;                      /* compression level; <= 0: the filter's default */
    int threads;                    /* zstd workers; 0: one per core */
    archiver_sink_fn *sink;
    archiver_warn_fn *warn;         /* may be NULL */
    archiver_progress_fn *progress; /* may be NULL */
    archiver_stop_fn *stop;         /* may be NULL; true aborts with TF_ERR_INTERRUPTED */
    void *arg;                      /* passed to every callback */
} archiver_opts_t;

typedef struct {
    uint64_t files;                 /* entries stored (rows) */
    uint64_t bytes;                 /* content bytes stored */
    uint64_t warnings;              /* entries skipped or read with problems */
} archiver_stats_t;

/* Writes the archive of group's entries to opts->sink and appends one row per stored entry
   to rows. Fails only when the archive cannot be produced (bad options, the sink failed,
   stopped); problems with single files are warnings. */
int archiver_run(const archiver_opts_t *opts, const tf_msg_file_group_t *group, file_rows_t *rows,
                 archiver_stats_t *stats, tf_err_t *err);

/* An upper estimate of the archive's size for group as scanned (content rounded to tar blocks,
   headers with long paths, end records, worst-case growth of incompressible data): what the
   stager reserves for it (docs/staging.md). Files that grew since the scan can exceed it. */
uint64_t archiver_size_bound(const tf_msg_file_group_t *group, const char *compression);

/* Whether compression names a supported filter. */
bool archiver_compression_valid(const char *compression);

#endif
