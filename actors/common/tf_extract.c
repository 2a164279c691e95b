/*  tf_extract - the restore rules, writing archive entries into a folder (see tf_extract.h). */
#define _GNU_SOURCE
#include "tf_extract.h"

#include <archive_entry.h>
#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "restore_overwrite.h"
#include "tf_fs.h"
#include "tf_log.h"

#define S_MAX_WARN_TEXT 3

/* Archives reach the tape in any order, so a folder's own entry may come after entries
   inside it created the folder implicitly. libarchive defers the times only of folders it
   creates itself; for one that already exists it sets them at once, and later entries bump
   them. So every restored folder's times are set again at the very end. */
typedef struct {
    char *path;
    struct timespec times[2];  /* atime, mtime */
} s_dir_time_t;

struct _tf_extract_t {
    tf_extract_opts_t opts;
    char *dest;
    restore_overwrite_t overwrite;
    tf_extract_counts_t counts;
    struct archive *disk;
    zhashx_t *restored;       /* name written -> stored path it came from (hard link targets) */
    zhashx_t *claimed;        /* names restored or kept so far: a second entry there collides */
    char warn_text[768];
    int warn_shown;
    s_dir_time_t *dirs;       /* folder times to set once everything is extracted */
    size_t ndirs, capdirs;
    bool *pattern_hit;        /* per pattern: selected at least one entry */
    int saved_cwd;            /* the working folder before dest was entered; -1 once left */
    bool finished;
};

bool
tf_extract_path_safe(const char *path)
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
tf_extract_target(const char *stored, uint64_t strip_components, bool flat, bool is_dir, char *out, size_t size)
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
tf_extract_match(const tf_msg_path_row_t *patterns, size_t count, const char *path)
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

bool
tf_extract_select(const tf_msg_path_row_t *patterns, size_t count, const char *path, bool *hit)
{
    bool selected = count == 0;
    for (size_t i = 0; i < count; i++)
        if (tf_extract_match(&patterns[i], 1, path)) {
            selected = true;
            hit[i] = true;
        }
    return selected;
}

static void
s_warn(tf_extract_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
s_warn(tf_extract_t *r, const char *fmt, ...)
{
    char text[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    tf_log_warn("restore: %s", text);
    r->counts.warnings++;
    if (r->warn_shown < S_MAX_WARN_TEXT) {
        size_t used = strlen(r->warn_text);
        snprintf(r->warn_text + used, sizeof r->warn_text - used, "%s%s", used ? "; " : "", text);
        r->warn_shown++;
    }
}

static void
s_remember_dir(tf_extract_t *r, const char *path, struct archive_entry *entry)
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
s_fix_dir_times(tf_extract_t *r)
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


static int
s_copy_data(tf_extract_t *r, struct archive *in, const char *path, tf_err_t *err)
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
        r->counts.bytes += size;
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

/* Splits a prefixed stored path ("HOST/srv/a") into its prefix and the rest: 0; 1 when it has
   no rest (the prefix folder itself); -1 when the prefix is not one safe name. */
static int
s_split_prefix(const char *path, char *prefix, size_t psize, const char **rest)
{
    const char *slash = strchr(path, '/');
    size_t n = slash ? (size_t) (slash - path) : strlen(path);
    if (n == 0 || n >= psize || (n == 1 && path[0] == '.') || (n == 2 && path[0] == '.' && path[1] == '.'))
        return -1;
    memcpy(prefix, path, n);
    prefix[n] = '\0';
    *rest = slash ? slash + 1 : path + n;
    while (**rest == '/')
        (*rest)++;
    return **rest ? 0 : 1;
}

/* Where stored lands: prefix/target (prefix may be ""). False when it is left out. */
static bool
s_place(tf_extract_t *r, const char *prefix, const char *stored, bool is_dir, char *out, size_t size)
{
    char target[TF_MSG_MAX_PATH + 1];
    if (!tf_extract_target(stored, r->opts.strip_components, r->opts.flat, is_dir, target, sizeof target))
        return false;
    size_t tlen = strlen(target);
    while (tlen > 1 && target[tlen - 1] == '/')
        target[--tlen] = '\0';
    int n = *prefix ? snprintf(out, size, "%s/%s", prefix, target) : snprintf(out, size, "%s", target);
    return n >= 0 && (size_t) n < size;
}

/* One entry the patterns selected: written, kept, or refused with a warning. TF_OK, or the
   error that ends the archive (it cannot be read on). */
static int
s_entry(tf_extract_t *r, struct archive *in, struct archive_entry *entry, const char *prefix, const char *stored,
        tf_err_t *err)
{
    const tf_extract_opts_t *o = &r->opts;
    bool is_dir = archive_entry_filetype(entry) == AE_IFDIR;
    char target[TF_MSG_MAX_PATH + 1];
    if (!s_place(r, prefix, stored, is_dir, target, sizeof target)) {
        /* A folder stripped away is expected; a file is something the user does not get. */
        if (!is_dir && !o->flat && o->strip_components > 0) {
            r->counts.stripped++;
            r->counts.warnings++;
            tf_log_warn("restore: %s left out by --strip-components %" PRIu64, stored, o->strip_components);
        }
        return TF_OK;
    }
    if (!tf_extract_path_safe(target) || (*prefix && !tf_extract_path_safe(prefix))) {
        r->counts.refused++;
        s_warn(r, "refused %s: unsafe path (it would land outside %s)", stored, r->dest);
        return TF_OK;
    }
    /* Decided here, before libarchive: a symlink on the way (one restored earlier, or one
       in dest already) would send the entry, and the overwrite check, outside dest. */
    char via[TF_MSG_MAX_PATH + 1];
    if (s_symlink_on_the_way(target, via, sizeof via)) {
        r->counts.refused++;
        s_warn(r, "refused %s: unsafe path (%s is a symlink: it would land outside %s)", stored, via, r->dest);
        return TF_OK;
    }
    const char *link = archive_entry_hardlink(entry);
    char link_target[TF_MSG_MAX_PATH + 1] = "";
    if (link) {
        char link_prefix[TF_MSG_MAX_ID + 1] = "";
        if (o->prefixed_paths && (s_split_prefix(link, link_prefix, sizeof link_prefix, &link) != 0
                                  || strcmp(link_prefix, prefix) != 0)) {
            r->counts.refused++;
            s_warn(r, "refused %s: hard link to an unsafe path %s", stored, archive_entry_hardlink(entry));
            return TF_OK;
        }
        if (!s_place(r, prefix, link, false, link_target, sizeof link_target)) {
            s_warn(r, "%s is a hard link to %s, which --strip-components leaves out", stored, link);
            return TF_OK;
        }
        if (!tf_extract_path_safe(link_target) || s_symlink_on_the_way(link_target, via, sizeof via)) {
            r->counts.refused++;
            s_warn(r, "refused %s: hard link to an unsafe path %s", stored, link);
            return TF_OK;
        }
        /* The name must hold that very file (with --flat another one may have it). */
        const char *from = zhashx_lookup(r->restored, link_target);
        if (!from || strcmp(from, link) != 0) {
            if (!from && zhashx_lookup(r->claimed, link_target))
                s_warn(r, "%s is a hard link to %s, which was kept as it existed: not linked", stored, link);
            else
                s_warn(r, "%s is a hard link to %s, which is not being restored: restore %s too", stored, link,
                       link);
            return TF_OK;
        }
        archive_entry_set_hardlink(entry, link_target);
    }
    /* Two entries on one name (flat, strip_components): the first stays. */
    if (!is_dir && zhashx_lookup(r->claimed, target)) {
        r->counts.collisions++;
        s_warn(r, "%s not restored: %s was restored already from another path", stored, target);
        return TF_OK;
    }
    /* A name that exists in dest: the overwrite rule decides. */
    struct stat existing;
    if (lstat(target, &existing) == 0 && !(is_dir && S_ISDIR(existing.st_mode))) {
        /* Restored before (a restore run again after a partial failure): nothing to do, and
           nothing missing. */
        if (s_already_present(entry, target, link ? link_target : NULL, &existing)) {
            r->counts.present++;
            zhashx_insert(r->claimed, target, (void *) 1);
            char *from = strdup(stored);
            if (from)
                zhashx_update(r->restored, target, from);
            return TF_OK;
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
            r->counts.kept++;
            s_warn(r, "kept the existing %s (%s)", target,
                   r->overwrite == RESTORE_OVERWRITE_OLDER ? "not older than the stored one" : "--overwrite never");
            return TF_OK;
        }
    }
    /* Archives store no atime: libarchive would give the restore's start time; the mtime is
       what docs/operations.md promises ("atime is set to the mtime"). */
    if (!archive_entry_atime_is_set(entry) && archive_entry_mtime_is_set(entry))
        archive_entry_set_atime(entry, archive_entry_mtime(entry), archive_entry_mtime_nsec(entry));
    /* A file with data is written under a temporary name beside its target and renamed once
       complete: an extraction cut short (a medium error, a restart) never leaves a
       half-written file under the real name, nor loses the file it replaces. (Not
       ARCHIVE_EXTRACT_SAFE_WRITES: libarchive renames at finish_entry whatever happened, and
       finishing is the only way to end an entry.) */
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
    if (archive_write_header(r->disk, entry) < ARCHIVE_WARN) {
        /* Unsafe paths were refused above: this is a name that cannot be created. */
        const char *why = archive_error_string(r->disk);
        r->counts.unwritable++;
        s_warn(r, "could not write %s: %s", target, why ? why : "cannot create it");
        return TF_OK;
    }
    bool ok = true;
    if (has_data) {
        tf_err_t derr = {0};
        int drc = s_copy_data(r, in, target, &derr);
        if (drc != TF_OK && derr.code != TF_OK) {
            /* The archive cannot be read on: a half-written file must not pass for a restored
               one. */
            archive_write_finish_entry(r->disk);
            bool removed = unlink(via_temp ? temp : target) == 0;
            static const char mark[] = " from the archive: ";
            const char *tail = strstr(derr.message, mark);
            if (removed && tail)
                return tf_err_set(err, derr.code, "%.*s from the archive (the partial file was removed): %s",
                                  (int) (tail - derr.message), derr.message, tail + strlen(mark));
            return tf_err_set(err, derr.code, "%s", derr.message);
        }
        ok = drc == TF_OK;
    }
    if (archive_write_finish_entry(r->disk) < ARCHIVE_WARN) {
        s_warn(r, "cannot finish %s: %s", target, archive_error_string(r->disk));
        ok = false;
    }
    if (via_temp && ok && rename(temp, target) != 0) {
        s_warn(r, "could not write %s: cannot put it in place: %s", target, strerror(errno));
        r->counts.unwritable++;
        ok = false;
    }
    if (via_temp && !ok)
        unlink(temp);
    if (ok) {
        r->counts.files++;
        char *from = strdup(stored);
        if (from)
            zhashx_update(r->restored, target, from);
        zhashx_insert(r->claimed, target, (void *) 1);
        if (is_dir && archive_entry_mtime_is_set(entry))
            s_remember_dir(r, target, entry);
    }
    return TF_OK;
}

int
tf_extract_next(struct archive *in, bool (*interrupted)(void *arg), void *arg, struct archive_entry **entry,
                const char **path, tf_err_t *err)
{
    for (;;) {
        *entry = NULL;
        if (interrupted && interrupted(arg))
            return tf_err_set(err, TF_ERR_INTERRUPTED, "restore stopped");
        int ar = archive_read_next_header(in, entry);
        if (ar == ARCHIVE_EOF) {
            *entry = NULL;
            return TF_OK;
        }
        if (ar < ARCHIVE_WARN) {
            *entry = NULL;
            return tf_err_set(err, TF_ERR_IO, "cannot read the archive: %s", archive_error_string(in));
        }
        *path = archive_entry_pathname(*entry);
        if (*path)
            return TF_OK;
    }
}

struct _tf_extract_take_t {
    zhashx_t *paths;          /* normalised stored path -> (void *) 1 */
};

/* A stored path without its leading and trailing '/' into buf; false when it does not fit. */
static bool
s_take_key(const char *stored, char *buf, size_t size)
{
    while (*stored == '/')
        stored++;
    size_t len = strlen(stored);
    while (len > 1 && stored[len - 1] == '/')
        len--;
    if (len >= size)
        return false;
    memcpy(buf, stored, len);
    buf[len] = '\0';
    return true;
}

int
tf_extract_take_new(const tf_msg_archive_row_t *row, tf_extract_take_t **take, tf_err_t *err)
{
    *take = NULL;
    if (!row->take_some)
        return TF_OK;
    tf_extract_take_t *self = calloc(1, sizeof *self);
    if (self)
        self->paths = zhashx_new();
    if (!self || !self->paths) {
        free(self);
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < row->take_count; i++) {
        char key[TF_MSG_MAX_PATH + 1];
        const char *path = row->take[i].path;
        /* A path too long for any archive entry can select none: leaving it out is exact. */
        if (!path || !s_take_key(path, key, sizeof key))
            continue;
        zhashx_insert(self->paths, key, (void *) 1);  /* -1: listed twice, harmless */
    }
    *take = self;
    return TF_OK;
}

void
tf_extract_take_destroy(tf_extract_take_t **self_p)
{
    if (self_p && *self_p) {
        zhashx_destroy(&(*self_p)->paths);
        free(*self_p);
        *self_p = NULL;
    }
}

bool
tf_extract_take_has(const tf_extract_take_t *self, const char *stored)
{
    if (!self)
        return true;
    char key[TF_MSG_MAX_PATH + 1];
    return s_take_key(stored, key, sizeof key) && zhashx_lookup(self->paths, key) != NULL;
}

bool
tf_extract_multi_host(const tf_msg_archive_row_t *rows, size_t count)
{
    const char *first = NULL;
    for (size_t i = 0; i < count; i++) {
        const char *h = rows[i].host;
        if (!h || !*h)
            continue;
        if (!first)
            first = h;
        else if (strcmp(first, h) != 0)
            return true;
    }
    return false;
}

int
tf_extract_archive(tf_extract_t *self, struct archive *in, const char *prefix, tf_err_t *err)
{
    return tf_extract_archive_take(self, in, prefix, NULL, err);
}

int
tf_extract_archive_take(tf_extract_t *self, struct archive *in, const char *prefix, const tf_extract_take_t *take,
                        tf_err_t *err)
{
    const tf_extract_opts_t *o = &self->opts;
    if (prefix && *prefix && (strchr(prefix, '/') || !tf_extract_path_safe(prefix)))
        return tf_err_set(err, TF_ERR_INVALID, "restore: '%s' is not a folder name to restore into", prefix);
    for (;;) {
        struct archive_entry *entry = NULL;
        const char *path = NULL;
        int rc = tf_extract_next(in, o->interrupted, o->arg, &entry, &path, err);
        if (rc != TF_OK || !entry)
            return rc;
        bool skipped = false;
        for (size_t i = 0; i < o->skip_count && !skipped; i++)
            skipped = o->skip[i].path && strcmp(o->skip[i].path, path) == 0;
        if (skipped) {
            s_warn(self, "%s not restored: its archive could not be read to its end", path);
            continue;
        }
        char entry_prefix[TF_MSG_MAX_ID + 1] = "";
        snprintf(entry_prefix, sizeof entry_prefix, "%s", prefix ? prefix : "");
        if (o->prefixed_paths) {
            const char *full = path;
            int split = s_split_prefix(full, entry_prefix, sizeof entry_prefix, &path);
            if (split == 1)
                continue;  /* the prefix folder itself: made when its first entry is written */
            if (split < 0) {
                self->counts.refused++;
                s_warn(self, "refused %s: unsafe path (it would land outside %s)", full, self->dest);
                continue;
            }
        }
        /* Not taken: a newer job of the chain holds this path, or it was deleted since. */
        if (!tf_extract_take_has(take, path))
            continue;
        if (!tf_extract_select(o->patterns, o->patterns_count, path, self->pattern_hit))
            continue;
        char stored[TF_MSG_MAX_PATH + 1];
        snprintf(stored, sizeof stored, "%s", path);
        rc = s_entry(self, in, entry, entry_prefix, stored, err);
        if (rc != TF_OK)
            return rc;
    }
}

static void
s_leave_dest(tf_extract_t *self)
{
    if (self->saved_cwd < 0)
        return;
    if (fchdir(self->saved_cwd) != 0)
        tf_log_error("cannot return to the working folder: %s", strerror(errno));
    close(self->saved_cwd);
    self->saved_cwd = -1;
}

/* dest without repeated '/', '.' components and a trailing '/' into norm; a '..' is refused
   (the text would not say where the files go). */
static int
s_dest_normalise(const char *dest, char *norm, size_t size, tf_err_t *err)
{
    size_t used = 0;
    for (const char *p = dest; *p;) {
        while (*p == '/')
            p++;
        size_t len = strcspn(p, "/");
        if (len == 0 || (len == 1 && p[0] == '.')) {
            p += len;
            continue;
        }
        if (len == 2 && p[0] == '.' && p[1] == '.')
            return tf_err_set(err, TF_ERR_INVALID, "restore destination %s holds '..': name the folder without it",
                              dest);
        if (used + 1 + len >= size)
            return tf_err_set(err, TF_ERR_TOOBIG, "restore destination %s is too long", dest);
        norm[used++] = '/';
        memcpy(norm + used, p, len);
        used += len;
        p += len;
    }
    if (used == 0)
        norm[used++] = '/';
    norm[used] = '\0';
    return TF_OK;
}

/* A symlink on the way to the destination would send the restore somewhere its text - and the
   restore_roots of the key that asked, checked on that text - does not say: the deepest folder
   of dest that exists must resolve to its own text. Checked before anything is created. */
static int
s_dest_no_symlink(const char *dest, const char *norm, tf_err_t *err)
{
    char probe[PATH_MAX];
    snprintf(probe, sizeof probe, "%s", norm);
    for (;;) {
        char real[PATH_MAX];
        if (realpath(probe, real)) {
            if (strcmp(real, probe) != 0)
                return tf_err_set(err, TF_ERR_INVALID, "restore destination %s goes through a symbolic link (%s is "
                                  "%s): name the real folder instead", dest, probe, real);
            return TF_OK;
        }
        if (errno != ENOENT && errno != ENOTDIR)
            return tf_err_errno(err, TF_ERR_IO, errno, "cannot check the restore destination %s", dest);
        char *slash = strrchr(probe, '/');
        if (!slash || slash == probe)
            return TF_OK;  /* "/" itself */
        *slash = '\0';
    }
}

tf_extract_t *
tf_extract_new(const tf_extract_opts_t *opts, tf_err_t *err)
{
    if (!opts->dest || opts->dest[0] != '/') {
        tf_err_set(err, TF_ERR_INVALID, "restore destination '%s' must be an absolute path",
                   opts->dest ? opts->dest : "");
        return NULL;
    }
    restore_overwrite_t overwrite;
    if (!restore_overwrite_parse(opts->overwrite, &overwrite)) {
        tf_err_set(err, TF_ERR_INVALID, "restore: overwrite '%s' is not never, older or always", opts->overwrite);
        return NULL;
    }
    char norm[PATH_MAX];
    if (s_dest_normalise(opts->dest, norm, sizeof norm, err) != TF_OK
        || s_dest_no_symlink(opts->dest, norm, err) != TF_OK)
        return NULL;
    if (tf_fs_mkdir_p(opts->dest, err) != TF_OK) {
        tf_err_prefix(err, "restore destination: ");
        return NULL;
    }
    tf_extract_t *self = calloc(1, sizeof *self);
    if (!self) {
        tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    self->saved_cwd = -1;
    self->opts = *opts;
    self->overwrite = overwrite;
    self->dest = strdup(opts->dest);
    self->disk = archive_write_disk_new();
    self->restored = zhashx_new();
    if (self->restored)
        zhashx_set_destructor(self->restored, s_free_item);
    self->claimed = zhashx_new();
    self->pattern_hit = opts->patterns_count ? calloc(opts->patterns_count, sizeof *self->pattern_hit) : NULL;
    if (!self->dest || !self->disk || !self->restored || !self->claimed || (opts->patterns_count && !self->pattern_hit)) {
        tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        tf_extract_destroy(&self);
        return NULL;
    }
    self->opts.dest = self->dest;
    int flags = ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS
                | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM
                | ARCHIVE_EXTRACT_SPARSE;
    if (geteuid() == 0)
        flags |= ARCHIVE_EXTRACT_OWNER;
    archive_write_disk_set_options(self->disk, flags);
    archive_write_disk_set_standard_lookup(self->disk);
    self->saved_cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (self->saved_cwd < 0) {
        tf_err_errno(err, TF_ERR_IO, errno, "cannot remember the working folder");
        tf_extract_destroy(&self);
        return NULL;
    }
    if (chdir(opts->dest) != 0) {
        tf_err_errno(err, TF_ERR_IO, errno, "cannot enter the restore destination %s", opts->dest);
        tf_extract_destroy(&self);
        return NULL;
    }
    /* again where we are: a symlink put on the way while the folders were made */
    char here[PATH_MAX];
    if (!getcwd(here, sizeof here) || strcmp(here, norm) != 0) {
        tf_err_set(err, TF_ERR_INVALID, "restore destination %s goes through a symbolic link (it leads to %s): "
                   "name the real folder instead", opts->dest, getcwd(here, sizeof here) ? here : "?");
        tf_extract_destroy(&self);
        return NULL;
    }
    return self;
}

void
tf_extract_finish(tf_extract_t *self, bool report_unmatched)
{
    if (self->finished)
        return;
    self->finished = true;
    /* A pattern that selected nothing (a typo) is reported once every archive was read (a
       failed one may have held its match: the caller says whether all were). */
    for (size_t i = 0; report_unmatched && i < self->opts.patterns_count; i++) {
        if (self->pattern_hit[i])
            continue;
        self->counts.unmatched++;
        s_warn(self, "%s matched nothing: not restored",
               self->opts.patterns[i].path ? self->opts.patterns[i].path : "");
    }
    if (self->counts.stripped) {
        /* One line for all of them (each is in the log); counted in warnings already. */
        char text[160];
        snprintf(text, sizeof text, "%" PRIu64 " file%s left out by --strip-components %" PRIu64,
                 self->counts.stripped, self->counts.stripped == 1 ? "" : "s", self->opts.strip_components);
        size_t used = strlen(self->warn_text);
        snprintf(self->warn_text + used, sizeof self->warn_text - used, "%s%s", used ? "; " : "", text);
        self->warn_shown += (int) (self->counts.stripped > 1000000 ? 1000000 : self->counts.stripped);
    }
    /* Closing sets the times and modes of folders, deferred until their contents exist. */
    if (archive_write_close(self->disk) != ARCHIVE_OK)
        s_warn(self, "cannot finish folder times and modes: %s", archive_error_string(self->disk));
    s_fix_dir_times(self);
    s_leave_dest(self);
}

void
tf_extract_destroy(tf_extract_t **self_p)
{
    if (self_p && *self_p) {
        tf_extract_t *self = *self_p;
        if (self->disk)
            archive_write_free(self->disk);  /* closes it when tf_extract_finish did not */
        for (size_t i = 0; i < self->ndirs; i++)
            free(self->dirs[i].path);
        free(self->dirs);
        s_leave_dest(self);
        zhashx_destroy(&self->restored);
        zhashx_destroy(&self->claimed);
        free(self->pattern_hit);
        free(self->dest);
        free(self);
        *self_p = NULL;
    }
}

const tf_extract_counts_t *
tf_extract_counts(tf_extract_t *self)
{
    return &self->counts;
}

const char *
tf_extract_warning_text(tf_extract_t *self, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s", self->warn_text,
             self->counts.warnings > (uint64_t) self->warn_shown ? "; ..." : "");
    return buf;
}
