/*  restore - extract archives from tape with libarchive (see restore.h). */
#define _GNU_SOURCE
#include "restore.h"

#include <archive.h>
#include <archive_entry.h>
#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "tapefile.h"
#include "tf_fs.h"
#include <sys/stat.h>

#include "tf_label.h"
#include "tf_log.h"

#define S_MAX_WARN_TEXT 3

typedef struct s_restore_s s_restore_t;

/* One archive's bytes, segment after segment (one segment unless it spans volumes). */
typedef struct {
    s_restore_t *r;
    const tf_msg_archive_row_t *row;
    size_t seg;               /* the segment being read */
    size_t nseg;
    tapefile_reader_t *reader;
    XXH3_state_t *hash;       /* of the whole archive, for spanned ones */
    tf_err_t err;             /* why the read callback failed */
} s_source_t;

/* Archives reach the tape in any order, so a folder's own entry may come after entries
   inside it created the folder implicitly. libarchive defers the times only of folders it
   creates itself; for one that already exists it sets them at once, and later entries bump
   them. So every restored folder's times are set again at the very end. */
typedef struct {
    char *path;
    struct timespec times[2];  /* atime, mtime */
} s_dir_time_t;

struct s_restore_s {
    const tf_msg_tape_restore_t *req;
    tf_drive_t *drive;        /* the drive, on the volume named below */
    char volume[64];
    const restore_opts_t *opts;
    restore_stats_t *stats;
    struct archive *disk;
    zhashx_t *restored;       /* name written -> stored path it came from (hard link targets) */
    zhashx_t *claimed;        /* names restored or kept so far: a second entry there collides */
    uint64_t total;           /* bytes of all archives */
    uint64_t done;            /* archive bytes read */
    char warn_text[768];
    int warn_shown;
    s_dir_time_t *dirs;       /* folder times to set once everything is extracted */
    size_t ndirs, capdirs;
    restore_overwrite_t overwrite;
    zhashx_t *bad_volumes;    /* volumes that could not be mounted: their archives fail at once */
    bool *pattern_hit;        /* per req->patterns: selected at least one entry */
};

void
restore_stats_free(restore_stats_t *stats)
{
    if (stats) {
        free(stats->failures);
        stats->failures = NULL;
        stats->nfailures = 0;
    }
}

bool
restore_path_safe(const char *path)
{
    if (!path || !*path || path[0] == '/')
        return false;
    for (const char *p = path; *p;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t) (slash - p) : strlen(p);
        if (len == 2 && p[0] == '.' && p[1] == '.')
            return false;
        if (!slash)
            break;
        p = slash + 1;
    }
    return true;
}

bool
restore_target(const char *stored, uint64_t strip_components, bool flat, bool is_dir, char *out, size_t size)
{
    /* Components are counted as tar counts them: empty ones ("a//b") and "." do not count. */
    const char *p = stored;
    if (flat) {
        if (is_dir)
            return false;
        size_t len = strlen(p);
        while (len > 0 && p[len - 1] == '/')
            len--;
        const char *last = p;
        for (size_t i = 0; i < len; i++)
            if (p[i] == '/')
                last = p + i + 1;
        size_t n = len - (size_t) (last - p);
        if (n == 0 || (n == 1 && last[0] == '.') || n >= size)
            return false;
        memcpy(out, last, n);
        out[n] = '\0';
        return true;
    }
    for (uint64_t k = 0; k < strip_components; k++) {
        while (*p == '/')
            p++;
        while (p[0] == '.' && (p[1] == '/' || p[1] == '\0')) {  /* "./" is not a component */
            p++;
            while (*p == '/')
                p++;
        }
        if (!*p)
            return false;
        const char *slash = strchr(p, '/');
        if (!slash)
            return false;  /* the entry is all stripped */
        p = slash;
    }
    if (strip_components > 0) {
        while (*p == '/')
            p++;
        if (!*p)
            return false;
    }
    if (snprintf(out, size, "%s", p) >= (int) size)
        return false;
    return true;
}

static void
s_free_item(void **item)
{
    free(*item);
    *item = NULL;
}

bool
restore_match(const tf_msg_path_row_t *patterns, size_t count, const char *path)
{
    if (count == 0)
        return true;
    char p[TF_MSG_MAX_PATH + 1];
    snprintf(p, sizeof p, "%s", path);
    size_t plen = strlen(p);
    while (plen > 1 && p[plen - 1] == '/')
        p[--plen] = '\0';
    for (size_t i = 0; i < count; i++) {
        const char *pat = patterns[i].path ? patterns[i].path : "";
        while (*pat == '/')
            pat++;
        char q[TF_MSG_MAX_PATH + 3];
        snprintf(q, sizeof q, "%s", pat);
        size_t qlen = strlen(q);
        while (qlen > 0 && q[qlen - 1] == '/')
            q[--qlen] = '\0';
        if (qlen == 0)
            return true; /* "/" means everything */
        if (fnmatch(q, p, 0) == 0)
            return true;
        /* A directory selects what is under it. */
        memcpy(q + qlen, "/*", 3);
        if (fnmatch(q, p, 0) == 0)
            return true;
    }
    return false;
}

static void
s_warn(s_restore_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
s_warn(s_restore_t *r, const char *fmt, ...)
{
    char text[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    tf_log_warn("restore: %s", text);
    r->stats->warnings++;
    if (r->warn_shown < S_MAX_WARN_TEXT) {
        size_t used = strlen(r->warn_text);
        snprintf(r->warn_text + used, sizeof r->warn_text - used, "%s%s", used ? "; " : "", text);
        r->warn_shown++;
    }
}

static void
s_remember_dir(s_restore_t *r, const char *path, struct archive_entry *entry)
{
    if (r->ndirs == r->capdirs) {
        size_t cap = r->capdirs ? r->capdirs * 2 : 64;
        s_dir_time_t *more = realloc(r->dirs, cap * sizeof *more);
        if (!more) {
            s_warn(r, "out of memory: the time of folder %s may be off", path);
            return;
        }
        r->dirs = more;
        r->capdirs = cap;
    }
    s_dir_time_t *d = &r->dirs[r->ndirs];
    d->path = strdup(path);
    if (!d->path)
        return;
    d->times[1] = (struct timespec){archive_entry_mtime(entry), archive_entry_mtime_nsec(entry)};
    if (archive_entry_atime_is_set(entry))
        d->times[0] = (struct timespec){archive_entry_atime(entry), archive_entry_atime_nsec(entry)};
    else
        d->times[0] = d->times[1];
    r->ndirs++;
}

/* Deepest first, so setting a folder's time never disturbs one set before. */
static int
s_deeper_first(const void *a, const void *b)
{
    size_t la = strlen(((const s_dir_time_t *) a)->path), lb = strlen(((const s_dir_time_t *) b)->path);
    return la < lb ? 1 : la > lb ? -1 : 0;
}

static void
s_fix_dir_times(s_restore_t *r)
{
    if (r->ndirs == 0)
        return;
    qsort(r->dirs, r->ndirs, sizeof *r->dirs, s_deeper_first);
    for (size_t i = 0; i < r->ndirs; i++) {
        if (utimensat(AT_FDCWD, r->dirs[i].path, r->dirs[i].times, AT_SYMLINK_NOFOLLOW) != 0)
            s_warn(r, "cannot set the time of folder %s: %s", r->dirs[i].path, strerror(errno));
        free(r->dirs[i].path);
    }
    free(r->dirs);
    r->dirs = NULL;
    r->ndirs = r->capdirs = 0;
}

static int s_open_segment(s_source_t *src, tf_err_t *err);

/* Next slice of the archive: the next segment's once one is used up. */
static int
s_source_read(s_source_t *src, const void **buf, size_t *len, tf_err_t *err)
{
    for (;;) {
        int rc = tapefile_reader_read(src->reader, buf, len, err);
        if (rc != TF_OK)
            return rc;
        if (*len > 0) {
            XXH3_128bits_update(src->hash, *buf, *len);
            return TF_OK;
        }
        if (src->seg + 1 >= src->nseg)
            return TF_OK;
        tapefile_stats_t st;
        rc = tapefile_reader_finish(src->reader, &st, err);
        src->r->stats->blocks_read += tapefile_reader_blocks(src->reader);
        tapefile_reader_destroy(&src->reader);
        if (rc != TF_OK)
            return rc;
        src->seg++;
        rc = s_open_segment(src, err);
        if (rc != TF_OK)
            return rc;
    }
}

static la_ssize_t
s_read_cb(struct archive *a, void *arg, const void **buf)
{
    s_source_t *src = arg;
    size_t len = 0;
    int rc = s_source_read(src, buf, &len, &src->err);
    if (rc != TF_OK) {
        archive_set_error(a, EIO, "%s", src->err.message);
        return -1;
    }
    return (la_ssize_t) len;
}

static int
s_copy_data(s_restore_t *r, struct archive *in, const char *path, tf_err_t *err)
{
    for (;;) {
        const void *buf;
        size_t size;
        la_int64_t offset;
        int rc = archive_read_data_block(in, &buf, &size, &offset);
        if (rc == ARCHIVE_EOF)
            return TF_OK;
        if (rc < ARCHIVE_WARN)
            return tf_err_set(err, TF_ERR_IO, "cannot read %s from the archive: %s", path,
                              archive_error_string(in));
        if (archive_write_data_block(r->disk, buf, size, offset) < ARCHIVE_WARN) {
            s_warn(r, "cannot write %s: %s", path, archive_error_string(r->disk));
            return TF_ERR_IO; /* entry skipped, restore goes on */
        }
        r->stats->bytes += size;
    }
}

/* The first folder on the way to path (relative to dest, the working folder) that is a
   symlink, in found: an entry below it would be written, or checked, outside dest. */
static bool
s_symlink_on_the_way(const char *path, char *found, size_t size)
{
    char buf[TF_MSG_MAX_PATH + 1];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *slash = strchr(buf, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        struct stat st;
        if (buf[0]) {
            if (lstat(buf, &st) != 0)
                return false;   /* not there: nothing deeper is either */
            if (S_ISLNK(st.st_mode)) {
                snprintf(found, size, "%s", buf);
                return true;
            }
        }
        *slash = '/';
    }
    return false;
}

/* Whether the existing `st` at `target` is the stored entry already (a restore run again):
   same type, same size for a regular file (the same file for a hard link), same link text for
   a symlink, same mtime to the nanosecond. */
static bool
s_already_present(struct archive_entry *entry, const char *target, const char *link_target,
                  const struct stat *st)
{
    if (link_target && *link_target) {
        struct stat ls;
        return lstat(link_target, &ls) == 0 && ls.st_dev == st->st_dev && ls.st_ino == st->st_ino;
    }
    if ((st->st_mode & S_IFMT) != (mode_t) archive_entry_filetype(entry))
        return false;
    if (!archive_entry_mtime_is_set(entry) || (int64_t) st->st_mtim.tv_sec != (int64_t) archive_entry_mtime(entry)
        || st->st_mtim.tv_nsec != archive_entry_mtime_nsec(entry))
        return false;
    if (S_ISREG(st->st_mode))
        return (int64_t) st->st_size == (int64_t) archive_entry_size(entry);
    if (S_ISLNK(st->st_mode)) {
        const char *want = archive_entry_symlink(entry);
        char have[TF_MSG_MAX_PATH + 1];
        ssize_t n = readlink(target, have, sizeof have - 1);
        if (n < 0 || !want)
            return false;
        have[n] = '\0';
        return strcmp(have, want) == 0;
    }
    return true;
}

/* Extracts the matching entries of one archive from its source. */
static int
s_extract(s_restore_t *r, s_source_t *source, tf_err_t *err)
{
    struct archive *in = archive_read_new();
    if (!in)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    archive_read_support_filter_all(in);
    archive_read_support_format_tar(in);
    int rc = TF_OK;
    if (archive_read_open(in, source, NULL, s_read_cb, NULL) != ARCHIVE_OK)
        rc = tf_err_set(err, TF_ERR_IO, "cannot open the archive: %s",
                        source->err.message[0] ? source->err.message : archive_error_string(in));
    const tf_msg_tape_restore_t *req = r->req;
    while (rc == TF_OK) {
        if (r->opts->interrupted && r->opts->interrupted(r->opts->arg)) {
            rc = tf_err_set(err, TF_ERR_INTERRUPTED, "restore stopped");
            break;
        }
        struct archive_entry *entry = NULL;
        int ar = archive_read_next_header(in, &entry);
        if (ar == ARCHIVE_EOF)
            break;
        if (ar < ARCHIVE_WARN) {
            rc = tf_err_set(err, TF_ERR_IO, "cannot read the archive: %s",
                            source->err.message[0] ? source->err.message : archive_error_string(in));
            break;
        }
        const char *path = archive_entry_pathname(entry);
        if (!path)
            continue;
        bool selected = req->patterns_count == 0;
        for (size_t i = 0; i < req->patterns_count; i++)
            if (restore_match(&req->patterns[i], 1, path)) {
                selected = true;
                if (r->pattern_hit)
                    r->pattern_hit[i] = true;
            }
        if (!selected)
            continue;
        bool is_dir = archive_entry_filetype(entry) == AE_IFDIR;
        char stored[TF_MSG_MAX_PATH + 1], target[TF_MSG_MAX_PATH + 1];
        snprintf(stored, sizeof stored, "%s", path);
        if (!restore_target(stored, req->strip_components, req->flat, is_dir, target, sizeof target)) {
            /* A folder stripped away is expected; a file is something the user does not get. */
            if (!is_dir && !req->flat && req->strip_components > 0) {
                r->stats->stripped++;
                r->stats->warnings++;
                tf_log_warn("restore: %s left out by --strip-components %" PRIu64, stored, req->strip_components);
            }
            continue;
        }
        size_t tlen = strlen(target);
        while (tlen > 1 && target[tlen - 1] == '/')
            target[--tlen] = '\0';
        if (!restore_path_safe(target)) {
            r->stats->refused++;
            s_warn(r, "refused %s: unsafe path (it would land outside %s)", stored, req->dest);
            continue;
        }
        /* Decided here, before libarchive: a symlink on the way (one restored earlier, or one
           in dest already) would send the entry, and the overwrite check, outside dest. */
        char via[TF_MSG_MAX_PATH + 1];
        if (s_symlink_on_the_way(target, via, sizeof via)) {
            r->stats->refused++;
            s_warn(r, "refused %s: unsafe path (%s is a symlink: it would land outside %s)", stored, via, req->dest);
            continue;
        }
        const char *link = archive_entry_hardlink(entry);
        char link_target[TF_MSG_MAX_PATH + 1] = "";
        if (link) {
            if (!restore_target(link, req->strip_components, req->flat, false, link_target, sizeof link_target)) {
                s_warn(r, "%s is a hard link to %s, which --strip-components leaves out", stored, link);
                continue;
            }
            if (!restore_path_safe(link_target) || s_symlink_on_the_way(link_target, via, sizeof via)) {
                r->stats->refused++;
                s_warn(r, "refused %s: hard link to an unsafe path %s", stored, link);
                continue;
            }
            /* The name must hold that very file (with --flat another one may have it). */
            const char *from = zhashx_lookup(r->restored, link_target);
            if (!from || strcmp(from, link) != 0) {
                if (!from && zhashx_lookup(r->claimed, link_target))
                    s_warn(r, "%s is a hard link to %s, which was kept as it existed: not linked", stored, link);
                else
                    s_warn(r, "%s is a hard link to %s, which is not being restored: restore %s too", stored,
                           link, link);
                continue;
            }
            archive_entry_set_hardlink(entry, link_target);
        }
        /* Two entries on one name (flat, strip_components): the first stays. */
        if (!is_dir && zhashx_lookup(r->claimed, target)) {
            r->stats->collisions++;
            s_warn(r, "%s not restored: %s was restored already from another path", stored, target);
            continue;
        }
        /* A name that exists in dest: the overwrite rule decides. */
        struct stat existing;
        if (lstat(target, &existing) == 0 && !(is_dir && S_ISDIR(existing.st_mode))) {
            /* Restored before (a restore run again after a partial failure): nothing to do,
               and nothing missing. */
            if (s_already_present(entry, target, link ? link_target : NULL, &existing)) {
                r->stats->present++;
                zhashx_insert(r->claimed, target, (void *) 1);
                char *from = strdup(stored);
                if (from)
                    zhashx_update(r->restored, target, from);
                continue;
            }
            bool replace = r->overwrite == RESTORE_OVERWRITE_ALWAYS;
            if (r->overwrite == RESTORE_OVERWRITE_OLDER) {
                int64_t sec = (int64_t) archive_entry_mtime(entry);
                long nsec = archive_entry_mtime_nsec(entry);
                replace = (int64_t) existing.st_mtim.tv_sec < sec
                          || ((int64_t) existing.st_mtim.tv_sec == sec && existing.st_mtim.tv_nsec < nsec);
            }
            if (!replace) {
                zhashx_insert(r->claimed, target, (void *) 1);
                r->stats->kept++;
                s_warn(r, "kept the existing %s (%s)", target,
                       r->overwrite == RESTORE_OVERWRITE_OLDER ? "not older than the stored one"
                                                               : "--overwrite never");
                continue;
            }
        }
        /* Archives store no atime: libarchive would give the restore's start time; the mtime is
           what docs/operations.md promises ("atime is set to the mtime"). */
        if (!archive_entry_atime_is_set(entry) && archive_entry_mtime_is_set(entry))
            archive_entry_set_atime(entry, archive_entry_mtime(entry), archive_entry_mtime_nsec(entry));
        /* A file with data is written under a temporary name beside its target and renamed
           once complete: a restore cut short (a medium error, a tape writer restart) never
           leaves a half-written file under the real name, nor loses the file it replaces.
           (Not ARCHIVE_EXTRACT_SAFE_WRITES: libarchive renames at finish_entry whatever
           happened, and finishing is the only way to end an entry.) */
        bool has_data = archive_entry_size(entry) > 0 || archive_entry_sparse_count(entry) > 0;
        bool via_temp = has_data && !link && archive_entry_filetype(entry) == AE_IFREG;
        char temp[TF_MSG_MAX_PATH + 64];
        if (via_temp) {
            const char *slash = strrchr(target, '/');
            int dirlen = slash ? (int) (slash - target + 1) : 0;
            snprintf(temp, sizeof temp, "%.*s.tapeflow-partial-%016llx", dirlen, target,
                     (unsigned long long) XXH3_64bits(target, strlen(target)));
        }
        archive_entry_set_pathname(entry, via_temp ? temp : target);
        ar = archive_write_header(r->disk, entry);
        if (ar < ARCHIVE_WARN) {
            /* Unsafe paths were refused above: this is a name that cannot be created. */
            const char *why = archive_error_string(r->disk);
            r->stats->unwritable++;
            s_warn(r, "could not write %s: %s", target, why ? why : "cannot create it");
            continue;
        }
        bool ok = true;
        if (has_data) {
            tf_err_t derr = {0};
            int drc = s_copy_data(r, in, target, &derr);
            if (drc != TF_OK && derr.code != TF_OK) {
                /* The archive cannot be read on: a half-written file must not pass for a
                   restored one. */
                archive_write_finish_entry(r->disk);
                bool removed = unlink(via_temp ? temp : target) == 0;
                static const char mark[] = " from the archive: ";
                const char *tail = strstr(derr.message, mark);
                if (removed && tail)
                    rc = tf_err_set(err, derr.code, "%.*s from the archive (the partial file was removed): %s",
                                    (int) (tail - derr.message), derr.message, tail + strlen(mark));
                else
                    rc = tf_err_set(err, derr.code, "%s", derr.message);
                break;
            }
            ok = drc == TF_OK;
        }
        if (archive_write_finish_entry(r->disk) < ARCHIVE_WARN) {
            s_warn(r, "cannot finish %s: %s", target, archive_error_string(r->disk));
            ok = false;
        }
        if (via_temp && ok && rename(temp, target) != 0) {
            s_warn(r, "could not write %s: cannot put it in place: %s", target, strerror(errno));
            r->stats->unwritable++;
            ok = false;
        }
        if (via_temp && !ok)
            unlink(temp);
        if (ok) {
            r->stats->files++;
            char *from = strdup(stored);
            if (from)
                zhashx_update(r->restored, target, from);
            zhashx_insert(r->claimed, target, (void *) 1);
            if (is_dir && archive_entry_mtime_is_set(entry))
                s_remember_dir(r, target, entry);
        }
    }
    archive_read_free(in);
    return rc;
}

/* The label of the tape in the drive: a tapeflow volume, its name in r->volume. */
static int
s_read_volume(s_restore_t *r, const char *needed, tf_err_t *err)
{
    tf_label_info_t info;
    int rc = tf_label_read(r->drive, &info, err);
    r->stats->blocks_read += info.blocks_read;
    if (rc != TF_OK)
        return rc;
    if (info.kind != TF_LABEL_TAPEFLOW)
        return tf_err_set(err, TF_ERR_INVALID, "tape in drive %s is not a tapeflow volume (%s), restore needs volume %s",
                          r->opts->drive_name, info.found, needed ? needed : "?");
    snprintf(r->volume, sizeof r->volume, "%s", info.label.label);
    return TF_OK;
}

/* Makes sure `volume` is in the drive: asks for it (opts->mount) when another one is. */
static int
s_need_volume(s_restore_t *r, const char *volume, tf_err_t *err)
{
    if (!volume || !*volume || strcmp(volume, r->volume) == 0)
        return TF_OK;
    if (!r->opts->mount)
        return tf_err_set(err, TF_ERR_INVALID, "tape in drive %s is %s, restore needs volume %s",
                          r->opts->drive_name, r->volume, volume);
    if (zhashx_lookup(r->bad_volumes, volume))
        return tf_err_set(err, TF_ERR_DEVICE, "volume %s could not be mounted (see the first archive on it)",
                          volume);
    tf_drive_t *drive = r->opts->mount(r->opts->arg, r->drive, volume, err);
    r->drive = drive;
    r->volume[0] = '\0';
    if (!drive) {
        zhashx_insert(r->bad_volumes, volume, (void *) 1);
        return err && err->code ? err->code : TF_ERR_DEVICE;
    }
    int rc = s_read_volume(r, volume, err);
    if (rc == TF_OK && strcmp(volume, r->volume) != 0)
        rc = tf_err_set(err, TF_ERR_INVALID, "tape in drive %s is %s, restore needs volume %s",
                        r->opts->drive_name, r->volume, volume);
    return rc;
}

/* Opens the reader on segment src->seg (the row itself for a one-volume archive). */
static int
s_open_segment(s_source_t *src, tf_err_t *err)
{
    s_restore_t *r = src->r;
    const tf_msg_archive_row_t *row = src->row;
    bool spanned = row->segments_count > 0;
    const char *volume = spanned ? row->segments[src->seg].volume : row->volume;
    uint64_t file = spanned ? row->segments[src->seg].tape_file : row->tape_file;
    int rc = s_need_volume(r, volume, err);
    if (rc != TF_OK)
        return rc;
    if (spanned && r->opts->progress && src->seg > 0) {
        char text[256];
        snprintf(text, sizeof text, "reading archive %s, segment %zu of %zu (tape %s file %" PRIu64 ")",
                 row->archive_id, src->seg + 1, src->nseg, r->volume, file);
        r->opts->progress(r->opts->arg, r->done, r->total, text);
    }
    src->reader = tapefile_reader_open(r->drive, file, err);
    if (!src->reader) {
        if (err && err->code == TF_ERR_INVALID)
            return tf_err_set(err, TF_ERR_INVALID,
                              "tape file %" PRIu64 " of tape %s in drive %s is not archive %s "
                              "(not a tapeflow archive at all): the catalog and the tape disagree",
                              file, r->volume, r->opts->drive_name, row->archive_id);
        return tf_err_prefix(err, "archive %s: ", row->archive_id);
    }
    const tapefile_header_t *h = tapefile_reader_header(src->reader);
    if (strcmp(h->archive_id, row->archive_id) != 0) {
        if (h->volume[0] && strcmp(h->volume, r->volume) != 0)
            return tf_err_set(err, TF_ERR_INVALID, "tape in drive %s is %s, restore needs volume %s",
                              r->opts->drive_name, h->volume, volume ? volume : "?");
        return tf_err_set(err, TF_ERR_INVALID,
                          "tape file %" PRIu64 " of tape %s in drive %s holds archive %s, not %s: "
                          "the catalog and the tape disagree", file, r->volume,
                          r->opts->drive_name, h->archive_id, row->archive_id);
    }
    if (spanned)
        return tapefile_reader_set_segment(src->reader, row->segments[src->seg].offset,
                                           row->segments[src->seg].length, err);
    return TF_OK;
}

static int
s_one_archive(s_restore_t *r, const tf_msg_archive_row_t *row, tf_err_t *err)
{
    s_source_t src = {.r = r, .row = row, .nseg = row->segments_count ? row->segments_count : 1};
    src.hash = XXH3_createState();
    if (!src.hash)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    XXH3_128bits_reset(src.hash);
    int rc = s_open_segment(&src, err);
    if (rc == TF_OK)
        rc = s_extract(r, &src, err);
    /* The rest of the archive (tar padding after the last entry) and the trailers. */
    while (rc == TF_OK) {
        const void *buf;
        size_t len = 0;
        rc = s_source_read(&src, &buf, &len, err);
        if (len == 0)
            break;
    }
    tapefile_stats_t st;
    if (rc == TF_OK)
        rc = tapefile_reader_finish(src.reader, &st, err);
    if (rc == TF_OK && row->segments_count > 0) {
        XXH128_canonical_t canon;
        XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(src.hash));
        char sum[41] = "xxh128:";
        static const char hex[] = "0123456789abcdef";
        for (int i = 0; i < 16; i++) {
            sum[7 + 2 * i] = hex[canon.digest[i] >> 4];
            sum[8 + 2 * i] = hex[canon.digest[i] & 15];
        }
        sum[39] = '\0';
        const char *want = tapefile_reader_header(src.reader)->checksum;
        if (strcmp(sum, want) != 0)
            rc = tf_err_set(err, TF_ERR_IO, "archive %s (spanning %zu volumes): the data read back has "
                            "checksum %s, the archive has %s", row->archive_id, src.nseg, sum, want);
    }
    if (src.reader)
        r->stats->blocks_read += tapefile_reader_blocks(src.reader);
    r->done += row->size;
    tapefile_reader_destroy(&src.reader);
    XXH3_freeState(src.hash);
    if (rc == TF_OK)
        r->stats->archives_read++;
    return rc;
}

/* Without a mount callback every archive (every segment) must be on the mounted volume. */
static int
s_check_volume(s_restore_t *r, tf_err_t *err)
{
    const tf_msg_tape_restore_t *req = r->req;
    const char *first = NULL;
    for (size_t i = 0; i < req->archives_count && !first; i++)
        first = req->archives[i].segments_count ? req->archives[i].segments[0].volume : req->archives[i].volume;
    int rc = s_read_volume(r, first, err);
    if (rc == TF_ERR_INVALID && r->opts->mount) {
        /* Not a tapeflow volume (an empty drive of a library reads blank): the first volume is
           mounted like every other one. */
        r->volume[0] = '\0';
        if (err)
            memset(err, 0, sizeof *err);
        return TF_OK;
    }
    if (rc != TF_OK || r->opts->mount)
        return rc;
    for (size_t i = 0; i < req->archives_count; i++) {
        const tf_msg_archive_row_t *row = &req->archives[i];
        size_t n = row->segments_count ? row->segments_count : 1;
        for (size_t k = 0; k < n; k++) {
            const char *v = row->segments_count ? row->segments[k].volume : row->volume;
            if (v && *v && strcmp(v, r->volume) != 0)
                return tf_err_set(err, TF_ERR_INVALID, "tape in drive %s is %s, restore needs volume %s",
                                  r->opts->drive_name, r->volume, v);
        }
    }
    return TF_OK;
}

/* Records an archive that failed; false when out of memory. */
static bool
s_add_failure(s_restore_t *r, const char *archive_id, int code, const char *reason)
{
    restore_failure_t *more = realloc(r->stats->failures, (r->stats->nfailures + 1) * sizeof *more);
    if (!more)
        return false;
    r->stats->failures = more;
    restore_failure_t *f = &more[r->stats->nfailures++];
    snprintf(f->archive_id, sizeof f->archive_id, "%s", archive_id);
    snprintf(f->reason, sizeof f->reason, "%s", reason);
    f->code = code;
    tf_log_error("restore: archive %s failed: %s", archive_id, reason);
    return true;
}

static int
s_run(s_restore_t *r, tf_err_t *err)
{
    int rc = s_check_volume(r, err);
    for (size_t i = 0; rc == TF_OK && i < r->req->archives_count; i++) {
        const tf_msg_archive_row_t *row = &r->req->archives[i];
        if (r->opts->progress) {
            char text[256];
            snprintf(text, sizeof text, "reading archive %s (tape file %" PRIu64 ")", row->archive_id,
                     row->tape_file);
            r->opts->progress(r->opts->arg, r->done, r->total, text);
        }
        tf_err_t aerr = {0};
        int arc = s_one_archive(r, row, &aerr);
        if (arc == TF_OK)
            continue;
        /* Only a stop or no memory ends the restore: any other trouble is this archive's, and
           the ones after it are still read. */
        if (arc == TF_ERR_INTERRUPTED || arc == TF_ERR_NOMEM) {
            if (err)
                *err = aerr;
            rc = arc;
        }
        else if (!s_add_failure(r, row->archive_id, arc, aerr.message[0] ? aerr.message : "failed"))
            rc = tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        else if (r->drive && tf_drive_last_cond(r->drive) == TF_DRIVE_COND_MEDIUM_ERROR)
            r->stats->medium_errors++;   /* the tape writer counts them on the cartridge */
    }
    return rc;
}

int
restore_run(tf_drive_t *drive, const tf_msg_tape_restore_t *req, const restore_opts_t *opts,
            restore_stats_t *stats, tf_err_t *err)
{
    memset(stats, 0, sizeof *stats);
    if (!req->dest || req->dest[0] != '/')
        return tf_err_set(err, TF_ERR_INVALID, "restore destination '%s' must be an absolute path",
                          req->dest ? req->dest : "");
    int rc = tf_fs_mkdir_p(req->dest, err);
    if (rc != TF_OK)
        return tf_err_prefix(err, "restore destination: ");
    int saved = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (saved < 0)
        return tf_err_errno(err, TF_ERR_IO, errno, "cannot remember the working folder");
    if (chdir(req->dest) != 0) {
        rc = tf_err_errno(err, TF_ERR_IO, errno, "cannot enter the restore destination %s", req->dest);
        close(saved);
        return rc;
    }
    s_restore_t r = {.req = req, .opts = opts, .stats = stats, .drive = drive};
    for (size_t i = 0; i < req->archives_count; i++)
        r.total += req->archives[i].size;
    if (!restore_overwrite_parse(req->overwrite, &r.overwrite)) {
        rc = tf_err_set(err, TF_ERR_INVALID, "restore: overwrite '%s' is not never, older or always",
                        req->overwrite);
        if (fchdir(saved) != 0)
            tf_log_error("cannot return to the working folder: %s", strerror(errno));
        close(saved);
        return rc;
    }
    r.disk = archive_write_disk_new();
    r.restored = zhashx_new();
    if (r.restored)
        zhashx_set_destructor(r.restored, s_free_item);
    r.bad_volumes = zhashx_new();
    r.claimed = zhashx_new();
    r.pattern_hit = req->patterns_count ? calloc(req->patterns_count, sizeof *r.pattern_hit) : NULL;
    if (!r.disk || !r.restored || !r.bad_volumes || !r.claimed || (req->patterns_count && !r.pattern_hit))
        rc = tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    if (rc == TF_OK) {
        int flags = ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS
                    | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS | ARCHIVE_EXTRACT_TIME
                    | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_SPARSE;
        if (geteuid() == 0)
            flags |= ARCHIVE_EXTRACT_OWNER;
        archive_write_disk_set_options(r.disk, flags);
        archive_write_disk_set_standard_lookup(r.disk);
        rc = s_run(&r, err);
    }
    /* A pattern that selected nothing (a typo) is reported, once every archive was read (a
       failed one may have held its match). */
    for (size_t i = 0; rc == TF_OK && stats->nfailures == 0 && r.pattern_hit && i < req->patterns_count; i++) {
        if (r.pattern_hit[i])
            continue;
        stats->unmatched++;
        s_warn(&r, "%s matched nothing: not restored", req->patterns[i].path ? req->patterns[i].path : "");
    }
    if (rc == TF_OK && stats->stripped) {
        /* One line for all of them (each is in the log); counted in warnings already. */
        char text[160];
        snprintf(text, sizeof text, "%" PRIu64 " file%s left out by --strip-components %" PRIu64, stats->stripped,
                 stats->stripped == 1 ? "" : "s", req->strip_components);
        size_t used = strlen(r.warn_text);
        snprintf(r.warn_text + used, sizeof r.warn_text - used, "%s%s", used ? "; " : "", text);
        r.warn_shown += (int) (stats->stripped > 1000000 ? 1000000 : stats->stripped);
    }
    /* Nothing read and every archive refused: the request itself is wrong for this tape. */
    bool all_refused = rc == TF_OK && stats->archives_read == 0 && stats->nfailures > 0;
    for (size_t i = 0; all_refused && i < stats->nfailures; i++)
        all_refused = stats->failures[i].code == TF_ERR_INVALID;
    if (all_refused)
        rc = tf_err_set(err, TF_ERR_INVALID, "%s", stats->failures[0].reason);
    if (rc != TF_OK)
        restore_stats_free(stats);  /* a failed restore says why in err */
    /* Closing sets the times and modes of folders, deferred until their contents exist. */
    if (r.disk && archive_write_close(r.disk) != ARCHIVE_OK && rc == TF_OK)
        s_warn(&r, "cannot finish folder times and modes: %s", archive_error_string(r.disk));
    if (r.disk)
        archive_write_free(r.disk);
    s_fix_dir_times(&r);
    zhashx_destroy(&r.restored);
    zhashx_destroy(&r.bad_volumes);
    zhashx_destroy(&r.claimed);
    free(r.pattern_hit);
    if (fchdir(saved) != 0)
        tf_log_error("cannot return to the working folder: %s", strerror(errno));
    close(saved);
    char failed[64] = "";
    if (stats->nfailures)
        snprintf(failed, sizeof failed, "; %zu archive%s failed", stats->nfailures,
                 stats->nfailures == 1 ? "" : "s");
    char present[64] = "";
    if (stats->present)
        snprintf(present, sizeof present, "; %" PRIu64 " already present", stats->present);
    snprintf(stats->message, sizeof stats->message,
             "restored %" PRIu64 " files (%" PRIu64 " bytes) from %" PRIu64 " archives into %s%s%s%s%s%s",
             stats->files, stats->bytes, stats->archives_read, req->dest, present, failed,
             stats->warnings ? "; warnings: " : "", r.warn_text,
             stats->warnings > (uint64_t) r.warn_shown ? "; ..." : "");
    return rc;
}
