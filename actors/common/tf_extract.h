/*  tf_extract - writes the entries of tar archives into a folder with the restore rules: the
    one place those rules live, used by the tape writer (a restore on its own host) and by the
    extractor (a restore streamed to another host).

    The caller opens each archive as a libarchive read handle; tf_extract_archive reads it to
    its last entry and extracts the entries the patterns select (none: everything) into dest,
    with libarchive's secure flags (no "..", no absolute paths, no writing through symlinks).
    Owners (when root), modes, times, symlinks, hard links, empty dirs and sparse files are
    restored.

    Where entries land (tf_extract_target): the stored path below dest, with strip_components
    leading components removed (entries with no more than that many are left out, as tar
    does), or with flat only the last name (folders are not created). A prefix (the host an
    archive's files came from, for jobs of several hosts) puts the entries under dest/PREFIX;
    strip and flat apply to the stored path after it. An entry that would land outside dest
    ('..', absolute, through a symlink) is refused and counted. An entry whose name exists
    already in dest is kept or replaced as overwrite says (never: kept; older: replaced when the
    existing one has an older mtime; always: replaced), and counted when kept; two entries
    landing on one name (flat, strip_components) keep the first and count a collision. An
    existing name that holds the stored entry already (same type, size, symlink text or
    hard-link file, mtime to the nanosecond) is "already present": left alone, counted in
    present, not a warning. Before anything is checked or written, every folder on the way to
    the target is looked at: a symlink among them refuses the entry. A file is written to a
    temporary name beside its target and renamed once complete, so an extraction cut short
    never leaves a half-written file nor loses the file it replaces. Non-folder entries
    strip_components leaves out, and patterns that select nothing, are counted as warnings.

    Patterns are globs over stored paths (relative, no leading '/'; fnmatch without
    FNM_PATHNAME, so '*' also matches '/'); a pattern naming a directory also selects what is
    under it.

    The extractor enters dest (chdir: secure extraction refuses absolute names) from
    tf_extract_new until tf_extract_finish or tf_extract_destroy, so one exists at a time in a
    process and nothing else in it may rely on the working folder meanwhile.
*/
#ifndef TF_EXTRACT_H_INCLUDED
#define TF_EXTRACT_H_INCLUDED

#include <archive.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tf_err.h"
#include "tf_msg.h"

typedef struct _tf_extract_t tf_extract_t;

typedef struct {
    const char *dest;                   /* absolute folder, created when missing */
    const tf_msg_path_row_t *patterns;  /* none: everything */
    size_t patterns_count;
    const char *overwrite;              /* never (NULL) | older | always */
    uint64_t strip_components;
    bool flat;
    /* The first component of every stored path is the prefix to land under (a stream the
       tape writer made of a job of several hosts): strip, flat and patterns see the rest. */
    bool prefixed_paths;
    /* Stored paths (as in the archive) to leave out with a warning: entries the tape writer
       could not read to their end while streaming (their header is in the stream). */
    const tf_msg_path_row_t *skip;
    size_t skip_count;
    bool (*interrupted)(void *arg);     /* checked between entries; may be NULL */
    void *arg;
} tf_extract_opts_t;

typedef struct {
    uint64_t files;            /* entries restored */
    uint64_t bytes;            /* content bytes written */
    uint64_t warnings;         /* entries not restored as stored (the counts below and others) */
    uint64_t refused;          /* unsafe paths: '..', absolute, through a symlink */
    uint64_t kept;             /* existing files kept (overwrite rule) */
    uint64_t collisions;       /* names restored once already */
    uint64_t present;          /* existing files identical to the stored entry */
    uint64_t stripped;         /* non-folder entries strip_components left out (warnings) */
    uint64_t unmatched;        /* patterns that selected nothing (warnings) */
    uint64_t unwritable;       /* entries libarchive could not create (warnings) */
} tf_extract_counts_t;

/* Checks dest (absolute) and overwrite, creates dest and enters it. */
tf_extract_t *tf_extract_new(const tf_extract_opts_t *opts, tf_err_t *err);
/* Leaves dest (when tf_extract_finish did not) and frees everything. */
void tf_extract_destroy(tf_extract_t **self_p);

/* Extracts the selected entries of the open archive `in` (read to its end). prefix: the
   folder below dest its entries land in (NULL or "": dest itself; must be one safe name).
   TF_OK; TF_ERR_INTERRUPTED when opts.interrupted said so; TF_ERR_IO when the archive cannot
   be read on (the file being written is removed and err says so); TF_ERR_NOMEM. Entries that
   cannot be written are warnings, not errors. */
int tf_extract_archive(tf_extract_t *self, struct archive *in, const char *prefix, tf_err_t *err);

/* The entries a restore plan takes from one archive (archive_row.take_some and take: a job of
   a chain takes each path from the newest job holding it, so an older archive may give only a
   few of its entries). A hash set of stored paths - a take list can hold tens of thousands;
   leading and trailing '/' do not count ("srv/data/" is "srv/data"). */
typedef struct _tf_extract_take_t tf_extract_take_t;

/* The take set of an archive row; *take is NULL when the row takes every entry (take_some
   false). TF_OK or TF_ERR_NOMEM. */
int tf_extract_take_new(const tf_msg_archive_row_t *row, tf_extract_take_t **take, tf_err_t *err);
void tf_extract_take_destroy(tf_extract_take_t **self_p);
/* True when the stored path is taken; a NULL set takes everything. */
bool tf_extract_take_has(const tf_extract_take_t *self, const char *stored);

/* tf_extract_archive of only the entries in take (NULL: all); the patterns still apply, and
   only taken entries count as a pattern's match. */
int tf_extract_archive_take(tf_extract_t *self, struct archive *in, const char *prefix,
                            const tf_extract_take_t *take, tf_err_t *err);

/* The next entry of the open archive `in` and its stored path: TF_OK with *entry NULL at the
   end; TF_ERR_INTERRUPTED when interrupted (may be NULL) says so; TF_ERR_IO when it cannot be
   read on. Entries without a path are passed over. */
int tf_extract_next(struct archive *in, bool (*interrupted)(void *arg), void *arg, struct archive_entry **entry,
                    const char **path, tf_err_t *err);

/* Ends the extraction: with report_unmatched, counts and names the patterns that selected
   nothing; sets the folders' modes and times (deferred until their contents exist) and leaves
   dest. Call once, after the last archive. */
void tf_extract_finish(tf_extract_t *self, bool report_unmatched);

const tf_extract_counts_t *tf_extract_counts(tf_extract_t *self);
/* The first warnings, "; " between them and "; ..." when there were more ("" when none). */
const char *tf_extract_warning_text(tf_extract_t *self, char *buf, size_t size);

/* Whether the archives of a restore come from more than one host (archive_row.host): their
   entries then land in DEST/HOST/stored/path (the prefix of tf_extract_archive). Shared by the
   tape writer and `restore --from-replica`. */
bool tf_extract_multi_host(const tf_msg_archive_row_t *rows, size_t count);

/* Where a stored path lands under dest (see above): false when the entry is left out
   (strip_components removes all of it; a folder with flat). is_dir: the entry is a folder. */
bool tf_extract_target(const char *stored, uint64_t strip_components, bool flat, bool is_dir, char *out,
                       size_t size);
/* True when a relative path stays below its folder: not absolute, no '..' component. */
bool tf_extract_path_safe(const char *path);
/* True when a stored path is selected by the patterns (count 0: everything). */
bool tf_extract_match(const tf_msg_path_row_t *patterns, size_t count, const char *path);
/* The same, and hit[i] set for every pattern that selects it (hit: count flags, for "PATTERN
   matched nothing"). */
bool tf_extract_select(const tf_msg_path_row_t *patterns, size_t count, const char *path, bool *hit);

#endif
