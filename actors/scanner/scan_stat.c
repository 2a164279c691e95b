/*  scan_stat - manifest rows and xattrs hashes (see scan_stat.h). */
#define _GNU_SOURCE
#include "scan_stat.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <xxhash.h>

const char *
scan_stat_type(mode_t mode)
{
    return S_ISDIR(mode) ? "dir" : S_ISREG(mode) ? "file" : S_ISLNK(mode) ? "symlink" : "other";
}

static int
s_by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The names list of llistxattr, retried while it grows between the size query and the read.
   *names NULL when there are none. */
static int
s_list(const char *path, char **names, ssize_t *len, tf_err_t *err)
{
    *names = NULL;
    *len = 0;
    for (int tries = 0; tries < 5; tries++) {
        ssize_t need = llistxattr(path, NULL, 0);
        if (need < 0 && (errno == ENOTSUP || errno == ENOSYS))
            return TF_OK;   /* a file system without xattrs: none */
        if (need < 0)
            return tf_err_set(err, TF_ERR_IO, "cannot list the extended attributes: %s", strerror(errno));
        if (need == 0)
            return TF_OK;
        char *buf = malloc((size_t) need);
        if (!buf)
            return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        ssize_t got = llistxattr(path, buf, (size_t) need);
        if (got >= 0) {
            *names = buf;
            *len = got;
            return TF_OK;
        }
        free(buf);
        if (errno != ERANGE)
            return tf_err_set(err, TF_ERR_IO, "cannot list the extended attributes: %s", strerror(errno));
    }
    return tf_err_set(err, TF_ERR_IO, "cannot list the extended attributes: they keep changing");
}

/* Feeds name\0value into state; an attribute removed since the list is skipped. */
static int
s_feed(XXH64_state_t *state, const char *path, const char *name, tf_err_t *err)
{
    for (int tries = 0; tries < 5; tries++) {
        ssize_t need = lgetxattr(path, name, NULL, 0);
        if (need < 0 && errno == ENODATA)
            return TF_OK;
        if (need < 0)
            return tf_err_set(err, TF_ERR_IO, "cannot read extended attribute %s: %s", name, strerror(errno));
        char *value = malloc(need > 0 ? (size_t) need : 1);
        if (!value)
            return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        ssize_t got = lgetxattr(path, name, value, (size_t) need);
        if (got >= 0) {
            XXH64_update(state, name, strlen(name) + 1);
            XXH64_update(state, value, (size_t) got);
            free(value);
            return TF_OK;
        }
        free(value);
        if (errno == ENODATA)
            return TF_OK;
        if (errno != ERANGE)
            return tf_err_set(err, TF_ERR_IO, "cannot read extended attribute %s: %s", name, strerror(errno));
    }
    return tf_err_set(err, TF_ERR_IO, "cannot read extended attribute %s: it keeps changing", name);
}

int
scan_stat_xattrs(const char *path, char **hash, tf_err_t *err)
{
    *hash = NULL;
    char *names = NULL;
    ssize_t len = 0;
    int rc = s_list(path, &names, &len, err);
    if (rc != TF_OK || !names)
        return rc;
    size_t count = 0;
    for (ssize_t i = 0; i < len; i += (ssize_t) strlen(names + i) + 1)
        count++;
    char **sorted = calloc(count ? count : 1, sizeof *sorted);
    XXH64_state_t *state = XXH64_createState();
    if (!sorted || !state || XXH64_reset(state, 0) != XXH_OK)
        rc = tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    size_t n = 0;
    for (ssize_t i = 0; rc == TF_OK && i < len; i += (ssize_t) strlen(names + i) + 1)
        sorted[n++] = names + i;
    if (rc == TF_OK)
        qsort(sorted, n, sizeof *sorted, s_by_name);
    for (size_t i = 0; rc == TF_OK && i < n; i++)
        rc = s_feed(state, path, sorted[i], err);
    if (rc == TF_OK) {
        char text[32];
        snprintf(text, sizeof text, "xxh64:%016" PRIx64, (uint64_t) XXH64_digest(state));
        *hash = strdup(text);
        if (!*hash)
            rc = tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    }
    XXH64_freeState(state);
    free(sorted);
    free(names);
    return rc;
}

int
scan_stat_row(const char *path, const struct stat *st, const char *xattrs, const char *fs_id,
              tf_msg_manifest_row_t *row, tf_err_t *err)
{
    *row = (tf_msg_manifest_row_t){
        .path = strdup(path),
        .type = (char *) scan_stat_type(st->st_mode),
        .size = S_ISREG(st->st_mode) ? (uint64_t) st->st_size : 0,
        .mtime_ns = (int64_t) st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec,
        .ctime_ns = (int64_t) st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec,
        .ino = (uint64_t) st->st_ino,
        .mode = (uint64_t) st->st_mode,
        .uid = (uint64_t) st->st_uid,
        .gid = (uint64_t) st->st_gid,
        .nlink = (uint64_t) st->st_nlink,
        .xattrs = xattrs ? strdup(xattrs) : NULL,
        .fs = (char *) fs_id,
    };
    if (!row->path || (xattrs && !row->xattrs)) {
        scan_stat_row_clear(row);
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    }
    return TF_OK;
}

void
scan_stat_row_clear(tf_msg_manifest_row_t *row)
{
    free(row->path);
    free(row->xattrs);
    memset(row, 0, sizeof *row);
}
