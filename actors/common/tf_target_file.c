/*  tf_target_file - file:///PATH targets: POSIX calls on a mounted share (CIFS, NFS) or a local
    disk. With require_fs the root must be on that file system by statfs AND by the mount table,
    so an empty folder under a missing mount is refused instead of written into. */
#define _GNU_SOURCE
#include "tf_target.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "tf_fs.h"
#include "tf_mount.h"

/* statfs f_type of the network file systems require_fs names (linux/magic.h, fs/smb). */
#define S_CIFS_MAGIC 0xFF534D42UL
#define S_SMB2_MAGIC 0xFE534D42UL
#define S_NFS_MAGIC 0x6969UL

/* Files on a target are the backups of every host: owner only. */
#define S_FILE_MODE 0600
#define S_DIR_MODE 0700

/* Retries a call that returns 0 or -1 while it fails with EINTR (NFS and CIFS mounted with
   intr can interrupt any of them). r gets the call's last result. */
#define S_EINTR(r, call)                                                                                     \
    do                                                                                                       \
        (r) = (call);                                                                                        \
    while ((r) != 0 && errno == EINTR)

typedef struct {
    char *name;
    char *root;          /* absolute, no trailing '/' (except "/") */
    char require[16];    /* "", "cifs" or "nfs" */
    char fs_type[64];    /* from the mount table */
    bool cifs;           /* fsync's EINVAL is tolerated */
} s_state_t;

typedef struct {
    int fd;
    char path[];         /* the full path, for messages */
} s_fh_t;

static void
s_destroy(void **state_p)
{
    if (state_p && *state_p) {
        s_state_t *self = *state_p;
        free(self->name);
        free(self->root);
        free(self);
        *state_p = NULL;
    }
}

/* The full path of rel below the root (rel "" is the root); NULL when out of memory. */
static char *
s_full(s_state_t *self, const char *rel)
{
    char *full = NULL;
    bool slash = strcmp(self->root, "/") != 0;
    if (asprintf(&full, "%s%s%s", self->root, *rel && slash ? "/" : "", rel) < 0)
        return NULL;
    return full;
}

/* The message of a failed call on path: ENOSPC names the fix, ENOENT is TF_ERR_NOTFOUND. */
static int
s_fail(s_state_t *self, int e, const char *verb, const char *path, tf_err_t *err)
{
    if (e == ENOSPC || e == EDQUOT)
        return tf_target_no_space(self->name, self->root, e, err);
    int code = e == ENOENT ? TF_ERR_NOTFOUND : e == EEXIST ? TF_ERR_STATE : TF_ERR_IO;
    return tf_err_errno(err, code, e, "replica target %s: %s %s failed", self->name, verb, path);
}

#define S_OOM(self, err) tf_err_set(err, TF_ERR_NOMEM, "replica target %s: out of memory", (self)->name)

static bool
s_magic_is(unsigned long magic, const char *require)
{
    if (strcmp(require, "cifs") == 0)
        return magic == S_CIFS_MAGIC || magic == S_SMB2_MAGIC;
    return magic == S_NFS_MAGIC;
}

static bool
s_fstype_is(const char *fstype, const char *require)
{
    if (strcmp(require, "cifs") == 0)
        return strcmp(fstype, "cifs") == 0 || strcmp(fstype, "smb3") == 0;
    return strcmp(fstype, "nfs") == 0 || strcmp(fstype, "nfs4") == 0;
}

/* Names the file system path (an existing folder) is on and, with require_fs, refuses another
   one: statfs and the mount table must both say so. */
static int
s_check_fs(s_state_t *self, const char *path, tf_err_t *err)
{
    char *real = realpath(path, NULL);
    if (!real)
        return s_fail(self, errno, "resolving", path, err);
    struct stat st;
    struct statfs sfs;
    int rc = TF_OK;
    if (stat(real, &st) != 0)
        rc = s_fail(self, errno, "stat of", real, err);
    else if (statfs(real, &sfs) != 0)
        rc = s_fail(self, errno, "statfs of", real, err);
    tf_mount_t *mount = rc == TF_OK ? calloc(1, sizeof *mount) : NULL;
    if (rc == TF_OK && !mount)
        rc = S_OOM(self, err);
    if (rc == TF_OK && (rc = tf_mount_find(NULL, st.st_dev, real, mount, err)) != TF_OK)
        tf_err_prefix(err, "replica target %s: ", self->name);
    if (rc == TF_OK) {
        snprintf(self->fs_type, sizeof self->fs_type, "%s", mount->fstype);
        self->cifs = s_fstype_is(mount->fstype, "cifs");
        unsigned long magic = (unsigned long) sfs.f_type & 0xFFFFFFFFUL;
        if (self->require[0] && !(s_fstype_is(mount->fstype, self->require) && s_magic_is(magic, self->require)))
            rc = tf_err_set(err, TF_ERR_STATE,
                            "replica target %s: %s is on %s (mounted at %s from %s, statfs type 0x%lx), not on %s "
                            "as replicas/%s/require_fs says: the share is not mounted there; mount it (mount %s) "
                            "and try again",
                            self->name, path, mount->fstype, mount->mount_point, mount->source, magic,
                            self->require, self->name, path);
    }
    free(mount);
    free(real);
    return rc;
}

/* tapeflow replica init of a target whose root is missing: the nearest existing parent must
   pass require_fs (a missing mount is not papered over with a local folder), then the root is
   made. */
static int
s_create_root(s_state_t *self, tf_err_t *err)
{
    char *parent = strdup(self->root);
    if (!parent)
        return S_OOM(self, err);
    struct stat st;
    int rc = TF_OK;
    for (;;) {
        char *slash = strrchr(parent, '/');
        if (!slash)
            break;
        if (slash == parent) {
            parent[1] = '\0';
            break;
        }
        *slash = '\0';
        if (stat(parent, &st) == 0)
            break;
    }
    rc = s_check_fs(self, parent, err);
    free(parent);
    if (rc == TF_OK && (rc = tf_fs_mkdir_p(self->root, err)) != TF_OK)
        tf_err_prefix(err, "replica target %s: ", self->name);
    return rc;
}

static void *
s_open(const tf_target_opts_t *opts, tf_err_t *err)
{
    const char *name = opts->name && *opts->name ? opts->name : "?";
    const char *path = opts->url + strlen("file://");
    if (path[0] != '/') {
        tf_err_set(err, TF_ERR_INVALID,
                   "replica target %s: URL '%s' names no absolute path (file:///PATH, three slashes): fix "
                   "replicas/%s/url",
                   name, opts->url, name);
        return NULL;
    }
    const char *require = opts->require_fs && *opts->require_fs ? opts->require_fs : "any";
    if (strcmp(require, "any") != 0 && strcmp(require, "cifs") != 0 && strcmp(require, "nfs") != 0) {
        tf_err_set(err, TF_ERR_INVALID, "replica target %s: replicas/%s/require_fs is '%s': use cifs, nfs or any",
                   name, name, require);
        return NULL;
    }
    s_state_t *self = calloc(1, sizeof *self);
    if (!self || !(self->name = strdup(name)) || !(self->root = strdup(path))) {
        s_destroy((void **) &self);
        tf_err_set(err, TF_ERR_NOMEM, "replica target %s: out of memory", name);
        return NULL;
    }
    for (size_t len = strlen(self->root); len > 1 && self->root[len - 1] == '/'; len--)
        self->root[len - 1] = '\0';
    if (strcmp(require, "any") != 0)
        snprintf(self->require, sizeof self->require, "%s", require);

    struct stat st;
    int rc = TF_OK;
    if (stat(self->root, &st) != 0) {
        int e = errno;
        if (e == ENOENT && opts->create_root)
            rc = s_create_root(self, err);
        else if (e == ENOENT)
            rc = tf_err_set(err, TF_ERR_NOTFOUND,
                            "replica target %s: folder %s does not exist: create it and run tapeflow replica init %s",
                            name, self->root, name);
        else
            rc = tf_err_errno(err, TF_ERR_IO, e, "replica target %s: cannot reach folder %s", name, self->root);
    }
    else if (!S_ISDIR(st.st_mode))
        rc = tf_err_set(err, TF_ERR_INVALID, "replica target %s: %s is not a folder: fix replicas/%s/url", name,
                        self->root, name);
    if (rc == TF_OK)
        rc = s_check_fs(self, self->root, err);
    if (rc != TF_OK) {
        s_destroy((void **) &self);
        return NULL;
    }
    return self;
}

static const char *
s_fs_type(void *state)
{
    return ((s_state_t *) state)->fs_type;
}

static int
s_mkdir(void *state, const char *path, tf_err_t *err)
{
    s_state_t *self = state;
    char *full = s_full(self, path);
    if (!full)
        return S_OOM(self, err);
    int rc = TF_OK, r;
    S_EINTR(r, mkdir(full, S_DIR_MODE));
    if (r != 0) {
        int e = errno;
        struct stat st;
        /* lstat: a symlink where a folder belongs would lead the writes out of the target */
        if (e != EEXIST)
            rc = s_fail(self, e, "creating folder", full, err);
        else if (lstat(full, &st) != 0 || !S_ISDIR(st.st_mode))
            rc = tf_err_set(err, TF_ERR_STATE, "replica target %s: %s exists and is not a folder: remove it",
                            self->name, full);
    }
    free(full);
    return rc;
}

/* The replicator re-reads what it wrote to prove the copy: served from the page cache that
   re-read would check our own memory, not the disk or the share. Once the bytes are synced
   (clean pages can be dropped), drop them, and again before reading a file back. Advice only:
   a file system that ignores it makes the check weaker, not wrong, so its result is not an
   error. */
static void
s_drop_cache(int fd)
{
    (void) posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
}

static int
s_open_file(void *state, const char *path, bool write, void **fh, tf_err_t *err)
{
    s_state_t *self = state;
    char *full = s_full(self, path);
    if (!full)
        return S_OOM(self, err);
    s_fh_t *h = malloc(sizeof *h + strlen(full) + 1);
    if (!h) {
        free(full);
        return S_OOM(self, err);
    }
    strcpy(h->path, full);
    free(full);
    /* O_NOFOLLOW: a symlink planted on the share must not redirect a write outside it, nor make
       a verify or a restore read (and trust) a file outside it. */
    int flags = write ? O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW : O_RDONLY | O_CLOEXEC | O_NOFOLLOW;
    do
        h->fd = open(h->path, flags, S_FILE_MODE);
    while (h->fd < 0 && errno == EINTR);
    if (h->fd < 0) {
        int rc = s_fail(self, errno, write ? "creating" : "opening", h->path, err);
        free(h);
        return rc;
    }
    if (!write)
        s_drop_cache(h->fd);
    *fh = h;
    return TF_OK;
}

static int
s_write(void *state, void *fh, const void *buf, size_t len, size_t *done, tf_err_t *err)
{
    s_fh_t *h = fh;
    ssize_t n;
    do
        n = write(h->fd, buf, len);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return s_fail(state, errno, "writing", h->path, err);
    *done = (size_t) n;
    return TF_OK;
}

static int
s_read(void *state, void *fh, void *buf, size_t len, size_t *got, tf_err_t *err)
{
    s_fh_t *h = fh;
    ssize_t n;
    do
        n = read(h->fd, buf, len);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return s_fail(state, errno, "reading", h->path, err);
    *got = (size_t) n;
    return TF_OK;
}

/* fsync; EINVAL is tolerated on CIFS only (some of its mounts do not implement it), anywhere
   else it means the bytes are not durable. */
static int
s_fsync(s_state_t *self, int fd, const char *path, tf_err_t *err)
{
    int rc;
    do
        rc = fsync(fd);
    while (rc != 0 && errno == EINTR);
    if (rc != 0 && !(errno == EINVAL && self->cifs))
        return s_fail(self, errno, "syncing", path, err);
    return TF_OK;
}

static int
s_sync(void *state, void *fh, tf_err_t *err)
{
    s_fh_t *h = fh;
    int rc = s_fsync(state, h->fd, h->path, err);
    if (rc == TF_OK)
        s_drop_cache(h->fd);
    return rc;
}

static int
s_close(void *state, void *fh, tf_err_t *err)
{
    s_fh_t *h = fh;
    int rc = TF_OK;
    /* Linux releases the descriptor even when close fails, so a failed close is never retried;
       EINTR means nothing was lost. Other errors (NFS, CIFS) are deferred write errors. */
    if (close(h->fd) != 0 && errno != EINTR)
        rc = s_fail(state, errno, "closing", h->path, err);
    free(h);
    return rc;
}

static int
s_sync_dir(void *state, const char *path, tf_err_t *err)
{
    s_state_t *self = state;
    char *full = s_full(self, path);
    if (!full)
        return S_OOM(self, err);
    int fd, rc = TF_OK;
    do
        fd = open(full, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        rc = s_fail(self, errno, "opening folder", full, err);
    else {
        rc = s_fsync(self, fd, full, err);
        (void) close(fd);   /* opened read-only to sync it: nothing deferred to report */
    }
    free(full);
    return rc;
}

static int
s_rename(void *state, const char *from, const char *to, tf_err_t *err)
{
    s_state_t *self = state;
    char *full_from = s_full(self, from), *full_to = s_full(self, to);
    int rc = TF_OK;
    if (!full_from || !full_to)
        rc = S_OOM(self, err);
    else {
        int r;
        S_EINTR(r, renameat2(AT_FDCWD, full_from, AT_FDCWD, full_to, RENAME_NOREPLACE));
        int e = r != 0 ? errno : 0;
        struct stat st;
        /* file systems without RENAME_NOREPLACE (CIFS, NFS): a stat check, then a plain rename */
        if (e == EINVAL || e == ENOSYS || e == EOPNOTSUPP) {
            S_EINTR(r, lstat(full_to, &st));
            if (r == 0)
                e = EEXIST;
            else {
                S_EINTR(r, rename(full_from, full_to));
                e = r == 0 ? 0 : errno;
            }
        }
        if (e == EEXIST)
            rc = tf_err_set(err, TF_ERR_STATE, "replica target %s: cannot rename %s to %s: %s exists already",
                            self->name, from, to, to);
        else if (e != 0)
            rc = s_fail(self, e, "renaming", full_from, err);
    }
    free(full_from);
    free(full_to);
    return rc;
}

static int
s_remove(void *state, const char *path, tf_err_t *err)
{
    s_state_t *self = state;
    char *full = s_full(self, path);
    if (!full)
        return S_OOM(self, err);
    int rc = TF_OK, r;
    S_EINTR(r, unlink(full));   /* a symlink goes as itself, never what it points to */
    if (r != 0 && errno != ENOENT)
        rc = s_fail(self, errno, "removing", full, err);
    free(full);
    return rc;
}

static int
s_rmdir(void *state, const char *path, tf_err_t *err)
{
    s_state_t *self = state;
    char *full = s_full(self, path);
    if (!full)
        return S_OOM(self, err);
    int rc = TF_OK, r;
    S_EINTR(r, rmdir(full));
    if (r != 0 && errno != ENOENT)
        rc = s_fail(self, errno, "removing folder", full, err);
    free(full);
    return rc;
}

static void
s_entry_fill(tf_target_entry_t *entry, const struct stat *st)
{
    entry->is_dir = S_ISDIR(st->st_mode);
    entry->size = (uint64_t) st->st_size;
    entry->mtime_ms = (int64_t) st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
}

static int
s_list(void *state, const char *path, tf_target_entry_t **entries, size_t *count, tf_err_t *err)
{
    s_state_t *self = state;
    char *full = s_full(self, path);
    if (!full)
        return S_OOM(self, err);
    DIR *dir;
    do
        dir = opendir(full);
    while (!dir && errno == EINTR);
    if (!dir) {
        int rc = s_fail(self, errno, "listing", full, err);
        free(full);
        return rc;
    }
    int rc = TF_OK;
    size_t cap = 0;
    struct dirent *e;
    for (errno = 0; rc == TF_OK && (e = readdir(dir)) != NULL; errno = 0) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        struct stat st;
        int r;
        /* a symlink is listed as itself (not a folder): remove_tree unlinks it, never follows it */
        S_EINTR(r, fstatat(dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW));
        if (r != 0) {
            if (errno == ENOENT)
                continue;   /* removed meanwhile */
            rc = s_fail(self, errno, "stat in", full, err);
            break;
        }
        tf_target_entry_t *entry = NULL;
        rc = tf_target_entries_push(self->name, full, entries, count, &cap, e->d_name, &entry, err);
        if (entry)
            s_entry_fill(entry, &st);
    }
    if (rc == TF_OK && errno != 0)
        rc = s_fail(self, errno, "listing", full, err);
    closedir(dir);
    free(full);
    return rc;
}

static int
s_stat(void *state, const char *path, tf_target_entry_t *entry, tf_err_t *err)
{
    s_state_t *self = state;
    char *full = s_full(self, path);
    if (!full)
        return S_OOM(self, err);
    struct stat st;
    int rc = TF_OK, r;
    /* lstat below the root: a symlink is reported as what it is (not a folder); the root itself
       may be reached through one (a mount point's alias) */
    if (*path)
        S_EINTR(r, lstat(full, &st));
    else
        S_EINTR(r, stat(full, &st));
    if (r != 0)
        rc = s_fail(self, errno, "stat of", full, err);
    else {
        const char *slash = strrchr(path, '/');
        snprintf(entry->name, sizeof entry->name, "%s", slash ? slash + 1 : path);
        s_entry_fill(entry, &st);
    }
    free(full);
    return rc;
}

static int
s_space(void *state, uint64_t *free_bytes, uint64_t *total_bytes, tf_err_t *err)
{
    s_state_t *self = state;
    struct statvfs vfs;
    int r;
    S_EINTR(r, statvfs(self->root, &vfs));
    if (r != 0)
        return s_fail(self, errno, "statvfs of", self->root, err);
    *free_bytes = (uint64_t) vfs.f_bavail * vfs.f_frsize;
    *total_bytes = (uint64_t) vfs.f_blocks * vfs.f_frsize;
    return TF_OK;
}

const tf_target_ops_t tf_target_file_ops = {
    .scheme = "file",
    .open = s_open,
    .destroy = s_destroy,
    .fs_type = s_fs_type,
    .mkdir = s_mkdir,
    .open_file = s_open_file,
    .write = s_write,
    .read = s_read,
    .sync = s_sync,
    .close = s_close,
    .sync_dir = s_sync_dir,
    .rename = s_rename,
    .remove = s_remove,
    .rmdir = s_rmdir,
    .list = s_list,
    .stat = s_stat,
    .space = s_space,
};
