/*  scan_walk - lstat tree walk (see scan_walk.h). */
#include "scan_walk.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scan_stat.h"
#include "tf_msg.h"

static int
s_posix_lstat(void *arg, const char *path, struct stat *st)
{
    (void) arg;
    return lstat(path, st);
}

static int
s_posix_list(void *arg, const char *path, char ***names_p, size_t *count_p)
{
    (void) arg;
    *names_p = NULL;
    *count_p = 0;
    DIR *d = opendir(path);
    if (!d)
        return -1;
    char **names = NULL;
    size_t count = 0, alloc = 0;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (count == alloc) {
            alloc = alloc ? alloc * 2 : 32;
            char **grown = realloc(names, alloc * sizeof *grown);
            if (!grown)
                break;
            names = grown;
        }
        if (!(names[count] = strdup(de->d_name)))
            break;
        count++;
        errno = 0;
    }
    int e = errno;
    closedir(d);
    if (e != 0) {
        for (size_t i = 0; i < count; i++)
            free(names[i]);
        free(names);
        errno = e;
        return -1;
    }
    *names_p = names;
    *count_p = count;
    return 0;
}

static int
s_posix_xattrs(void *arg, const char *path, char **hash, tf_err_t *err)
{
    (void) arg;
    return scan_stat_xattrs(path, hash, err);
}

const scan_fs_t *
scan_fs_posix(void)
{
    static const scan_fs_t fs = {s_posix_lstat, s_posix_list, NULL, s_posix_xattrs};
    return &fs;
}

typedef struct {
    const scan_fs_t *fs;
    bool one_fs;
    dev_t dev;
    scan_entry_fn *entry;
    scan_warn_fn *warn;
    scan_warn_fn *unread;
    void *arg;
} walk_t;

static int
s_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

/* A warning; an entry not looked at (unread) is also reported as such. */
static void
s_warn_errno(walk_t *w, const char *path, const char *what, int e, bool unread)
{
    char text[512];
    snprintf(text, sizeof text, "%s: %s", what, strerror(e));
    w->warn(w->arg, path, text);
    if (unread && w->unread)
        w->unread(w->arg, path, text);
}

static int s_visit(walk_t *w, const char *path, const struct stat *st, tf_err_t *err);

static int
s_descend(walk_t *w, const char *path, tf_err_t *err)
{
    char **names = NULL;
    size_t count = 0;
    if (w->fs->list(w->fs->arg, path, &names, &count) != 0) {
        s_warn_errno(w, path, "cannot read folder", errno, true);
        return TF_OK;
    }
    if (count > 1)
        qsort(names, count, sizeof *names, s_cmp);
    int rc = TF_OK;
    size_t plen = strlen(path);
    for (size_t i = 0; i < count && rc == TF_OK; i++) {
        size_t len = plen + 1 + strlen(names[i]);
        if (len > TF_MSG_MAX_PATH) {
            char text[128];
            snprintf(text, sizeof text, "skipped: path of %zu bytes is over the limit of %d", len, TF_MSG_MAX_PATH);
            w->warn(w->arg, path, text);
            continue;
        }
        char *child = malloc(len + 1);
        if (!child) {
            rc = tf_err_set(err, TF_ERR_NOMEM, "out of memory walking %s", path);
            break;
        }
        snprintf(child, len + 1, "%s/%s", strcmp(path, "/") == 0 ? "" : path, names[i]);
        struct stat st;
        if (w->fs->lstat(w->fs->arg, child, &st) != 0) {
            int e = errno;
            s_warn_errno(w, child, e == ENOENT ? "vanished during the scan" : "cannot stat", e, e != ENOENT);
        }
        else
            rc = s_visit(w, child, &st, err);
        free(child);
    }
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
    return rc;
}

static int
s_visit(walk_t *w, const char *path, const struct stat *st, tf_err_t *err)
{
    int rc = w->entry(w->arg, path, st, err);
    if (rc != TF_OK || !S_ISDIR(st->st_mode))
        return rc;
    if (w->one_fs && st->st_dev != w->dev)
        return TF_OK;  /* a mount point: the folder is kept, its contents are another file system */
    return s_descend(w, path, err);
}

int
scan_walk(const scan_fs_t *fs, const char *root, bool one_fs, scan_entry_fn *entry, scan_warn_fn *warn,
          scan_warn_fn *unread, void *arg, tf_err_t *err)
{
    struct stat st;
    if (fs->lstat(fs->arg, root, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return tf_err_set(err, TF_ERR_NOTFOUND, "path %s does not exist", root);
        return tf_err_errno(err, TF_ERR_IO, errno, "cannot stat %s", root);
    }
    walk_t w = {.fs = fs, .one_fs = one_fs, .dev = st.st_dev, .entry = entry, .warn = warn, .unread = unread,
                .arg = arg};
    return s_visit(&w, root, &st, err);
}
