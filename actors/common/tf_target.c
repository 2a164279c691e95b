/*  tf_target - URL dispatch, path checks and the verbs built on the backends' one-level
    operations (see tf_target.h). */
#define _GNU_SOURCE
#include "tf_target.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_log.h"

struct _tf_target_t {
    const tf_target_ops_t *ops;
    void *state;
    char *name;
    char *url;
};

struct _tf_target_file_t {
    tf_target_t *target;
    void *fh;
    char *path;
};

/* Deep enough for any layout tf_replica makes; a deeper tree is refused, not recursed into. */
#define S_TREE_DEPTH_MAX 32

static const tf_target_ops_t *
s_ops_for(const char *url)
{
    if (strncmp(url, "smb://", 6) == 0)
        return &tf_target_smb_ops;
    if (strncmp(url, "file://", 7) == 0)
        return &tf_target_file_ops;
    return NULL;
}

int
tf_target_url_check(const char *name, const char *url, tf_err_t *err)
{
    name = name && *name ? name : "?";
    if (!url || !*url)
        return tf_err_set(err, TF_ERR_INVALID, "replica target %s: no URL: set replicas/%s/url", name, name);
    if (!s_ops_for(url)) {
        char safe[512];
        tf_target_url_safe(url, safe, sizeof safe);
        size_t scheme = strcspn(url, ":");
        return tf_err_set(err, TF_ERR_INVALID,
                          "replica target %s: URL '%s' has an unknown scheme '%.*s': use "
                          "smb://[USER@]HOST[:PORT]/SHARE/PATH or file:///PATH in replicas/%s/url",
                          name, safe, (int) (scheme > 16 ? 16 : scheme), url, name);
    }
    if (strncmp(url, "smb://", 6) == 0) {
        /* USER:PASSWORD@ would put the password in every message and log quoting the URL. */
        const char *auth = url + 6;
        size_t auth_len = strcspn(auth, "/");
        const char *at = memchr(auth, '@', auth_len);
        if (at && memchr(auth, ':', (size_t) (at - auth)))
            return tf_err_set(err, TF_ERR_INVALID,
                              "replica target %s: replicas/%s/url holds a password: put the password in "
                              "replicas/%s/credentials (a file in smbclient -A format, chmod 600) and remove it "
                              "from the URL",
                              name, name, name);
    }
    return TF_OK;
}

tf_target_t *
tf_target_open(const tf_target_opts_t *opts, tf_err_t *err)
{
    const char *name = opts && opts->name && *opts->name ? opts->name : "?";
    if (tf_target_url_check(name, opts ? opts->url : NULL, err) != TF_OK)
        return NULL;
    const tf_target_ops_t *ops = s_ops_for(opts->url);
    tf_target_t *self = calloc(1, sizeof *self);
    if (!self || !(self->name = strdup(name)) || !(self->url = strdup(opts->url))) {
        tf_target_destroy(&self);
        tf_err_set(err, TF_ERR_NOMEM, "replica target %s: out of memory", name);
        return NULL;
    }
    self->ops = ops;
    self->state = ops->open(opts, err);
    if (!self->state) {
        tf_target_destroy(&self);
        return NULL;
    }
    return self;
}

void
tf_target_destroy(tf_target_t **self_p)
{
    if (self_p && *self_p) {
        tf_target_t *self = *self_p;
        if (self->state)
            self->ops->destroy(&self->state);
        free(self->name);
        free(self->url);
        free(self);
        *self_p = NULL;
    }
}

const char *
tf_target_url(tf_target_t *self)
{
    return self ? self->url : NULL;
}

const char *
tf_target_scheme(tf_target_t *self)
{
    return self ? self->ops->scheme : NULL;
}

const char *
tf_target_fs_type(tf_target_t *self)
{
    return self ? self->ops->fs_type(self->state) : NULL;
}

void
tf_target_url_safe(const char *url, char *out, size_t size)
{
    if (!out || size == 0)
        return;
    if (!url) {
        out[0] = '\0';
        return;
    }
    const char *scheme = strstr(url, "://");
    const char *auth = scheme ? scheme + 3 : url;
    size_t auth_len = strcspn(auth, "/");
    const char *at = memchr(auth, '@', auth_len);
    const char *colon = at ? memchr(auth, ':', (size_t) (at - auth)) : NULL;
    if (!colon) {
        snprintf(out, size, "%s", url);
        return;
    }
    /* USER:PASSWORD@ -> USER@ */
    snprintf(out, size, "%.*s%s", (int) (colon - url), url, at);
}

int
tf_target_no_space(const char *target, const char *where, int e, tf_err_t *err)
{
    return tf_err_set(err, TF_ERR_IO,
                      "no space left on replica target %s (%s): free space on the share or lower "
                      "pools/POOL/replica_keep_last|replica_keep_days of the pools replicating to %s (%s)",
                      target, where, target, strerror(e));
}

int
tf_target_entries_push(const char *target, const char *where, tf_target_entry_t **entries, size_t *count,
                       size_t *cap, const char *name, tf_target_entry_t **entry, tf_err_t *err)
{
    *entry = NULL;
    if (strlen(name) >= sizeof(*entries)->name) {
        tf_log_warn("replica target %s: %s holds a name of %zu bytes (more than %zu): skipped", target, where,
                    strlen(name), sizeof(*entries)->name - 1);
        return TF_OK;
    }
    if (*count == *cap) {
        size_t next = *cap ? *cap * 2 : 16;
        tf_target_entry_t *bigger = realloc(*entries, next * sizeof *bigger);
        if (!bigger)
            return tf_err_set(err, TF_ERR_NOMEM, "replica target %s: out of memory listing %s", target, where);
        *entries = bigger;
        *cap = next;
    }
    *entry = &(*entries)[(*count)++];
    memset(*entry, 0, sizeof **entry);
    memcpy((*entry)->name, name, strlen(name) + 1);
    return TF_OK;
}

bool
tf_target_path_has_dotdot(const char *path)
{
    for (const char *p = path; *p;) {
        size_t len = strcspn(p, "/");
        if (len == 2 && p[0] == '.' && p[1] == '.')
            return true;
        p += len;
        if (*p == '/')
            p++;
    }
    return false;
}

/* Paths stay below the root: never absolute, never with a '..' component, never with '\\'
   (a separator to an SMB server and to Windows tools reading the share). */
static int
s_path_check(tf_target_t *self, const char *path, tf_err_t *err)
{
    if (!self)
        return tf_err_set(err, TF_ERR_INVALID, "replica target: not open");
    if (!path)
        return tf_err_set(err, TF_ERR_INVALID, "replica target %s: no path given", self->name);
    if (path[0] == '/')
        return tf_err_set(err, TF_ERR_INVALID,
                          "replica target %s: path '%s' is absolute: paths are relative to the target's root",
                          self->name, path);
    if (strchr(path, '\\'))
        return tf_err_set(err, TF_ERR_INVALID,
                          "replica target %s: path '%s' has a '\\': SMB servers take it for a separator; paths "
                          "use '/'",
                          self->name, path);
    if (tf_target_path_has_dotdot(path))
        return tf_err_set(err, TF_ERR_INVALID,
                          "replica target %s: path '%s' has a '..' component: paths stay below the target's root",
                          self->name, path);
    return TF_OK;
}

int
tf_target_mkdir(tf_target_t *self, const char *path, tf_err_t *err)
{
    int rc = s_path_check(self, path, err);
    if (rc != TF_OK)
        return rc;
    char *copy = strdup(path);
    if (!copy)
        return tf_err_set(err, TF_ERR_NOMEM, "replica target %s: out of memory", self->name);
    /* each prefix in turn: the backends create one level, an existing folder is fine */
    for (char *p = copy; rc == TF_OK && *p;) {
        char *slash = strchr(p, '/');
        if (slash)
            *slash = '\0';
        if (*p)   /* "a//b": the empty component is the same folder */
            rc = self->ops->mkdir(self->state, copy, err);
        if (!slash)
            break;
        *slash = '/';
        p = slash + 1;
    }
    free(copy);
    return rc;
}

static tf_target_file_t *
s_file_new(tf_target_t *self, const char *path)
{
    tf_target_file_t *file = calloc(1, sizeof *file);
    if (file && !(file->path = strdup(path))) {
        free(file);
        file = NULL;
    }
    if (file)
        file->target = self;
    return file;
}

static void
s_file_free(tf_target_file_t **file_p)
{
    if (*file_p) {
        free((*file_p)->path);
        free(*file_p);
        *file_p = NULL;
    }
}

static int
s_open_file(tf_target_t *self, const char *path, bool write, tf_target_file_t **file, tf_err_t *err)
{
    if (!file)
        return tf_err_set(err, TF_ERR_INVALID, "replica target: no file handle to fill");
    *file = NULL;
    int rc = s_path_check(self, path, err);
    if (rc != TF_OK)
        return rc;
    tf_target_file_t *f = s_file_new(self, path);
    if (!f)
        return tf_err_set(err, TF_ERR_NOMEM, "replica target %s: out of memory", self->name);
    rc = self->ops->open_file(self->state, path, write, &f->fh, err);
    if (rc != TF_OK) {
        s_file_free(&f);
        return rc;
    }
    *file = f;
    return TF_OK;
}

int
tf_target_create(tf_target_t *self, const char *path, tf_target_file_t **file, tf_err_t *err)
{
    return s_open_file(self, path, true, file, err);
}

int
tf_target_open_read(tf_target_t *self, const char *path, tf_target_file_t **file, tf_err_t *err)
{
    return s_open_file(self, path, false, file, err);
}

int
tf_target_write(tf_target_file_t *file, const void *buf, size_t len, tf_err_t *err)
{
    if (!file || (!buf && len))
        return tf_err_set(err, TF_ERR_INVALID, "replica target: write without a file or data");
    const char *p = buf;
    while (len > 0) {
        size_t done = 0;
        int rc = file->target->ops->write(file->target->state, file->fh, p, len, &done, err);
        if (rc != TF_OK)
            return rc;
        if (done == 0 || done > len)
            return tf_err_set(err, TF_ERR_IO, "replica target %s: writing %s made no progress",
                              file->target->name, file->path);
        p += done;
        len -= done;
    }
    return TF_OK;
}

int
tf_target_read(tf_target_file_t *file, void *buf, size_t len, size_t *got, tf_err_t *err)
{
    if (!file || !buf || !got)
        return tf_err_set(err, TF_ERR_INVALID, "replica target: read without a file or buffer");
    *got = 0;
    return file->target->ops->read(file->target->state, file->fh, buf, len, got, err);
}

int
tf_target_sync(tf_target_file_t *file, tf_err_t *err)
{
    if (!file)
        return tf_err_set(err, TF_ERR_INVALID, "replica target: sync without a file");
    return file->target->ops->sync(file->target->state, file->fh, err);
}

int
tf_target_close(tf_target_file_t **file_p, tf_err_t *err)
{
    if (!file_p || !*file_p)
        return TF_OK;
    tf_target_file_t *file = *file_p;
    int rc = file->target->ops->close(file->target->state, file->fh, err);
    s_file_free(file_p);
    return rc;
}

int
tf_target_sync_dir(tf_target_t *self, const char *path, tf_err_t *err)
{
    int rc = s_path_check(self, path, err);
    return rc != TF_OK ? rc : self->ops->sync_dir(self->state, path, err);
}

int
tf_target_rename(tf_target_t *self, const char *from, const char *to, tf_err_t *err)
{
    int rc = s_path_check(self, from, err);
    if (rc == TF_OK)
        rc = s_path_check(self, to, err);
    if (rc == TF_OK && (!*from || !*to))
        rc = tf_err_set(err, TF_ERR_INVALID, "replica target %s: the root cannot be renamed", self->name);
    return rc != TF_OK ? rc : self->ops->rename(self->state, from, to, err);
}

int
tf_target_remove(tf_target_t *self, const char *path, tf_err_t *err)
{
    int rc = s_path_check(self, path, err);
    return rc != TF_OK ? rc : self->ops->remove(self->state, path, err);
}

static int
s_remove_tree(tf_target_t *self, const char *path, int depth, tf_err_t *err)
{
    if (depth > S_TREE_DEPTH_MAX)
        return tf_err_set(err, TF_ERR_TOOBIG,
                          "replica target %s: %s is more than %d folders deep: remove it by hand", self->name,
                          path, S_TREE_DEPTH_MAX);
    tf_target_entry_t entry;
    int rc = self->ops->stat(self->state, path, &entry, err);
    if (rc == TF_ERR_NOTFOUND)
        return TF_OK;
    if (rc != TF_OK)
        return rc;
    if (!entry.is_dir)
        return self->ops->remove(self->state, path, err);
    tf_target_entry_t *entries = NULL;
    size_t count = 0;
    rc = self->ops->list(self->state, path, &entries, &count, err);
    if (rc == TF_ERR_NOTFOUND)
        return TF_OK;
    for (size_t i = 0; rc == TF_OK && i < count; i++) {
        char *child = NULL;
        if (asprintf(&child, "%s%s%s", path, *path ? "/" : "", entries[i].name) < 0) {
            child = NULL;
            rc = tf_err_set(err, TF_ERR_NOMEM, "replica target %s: out of memory", self->name);
        }
        else if (entries[i].is_dir)
            rc = s_remove_tree(self, child, depth + 1, err);
        else
            rc = self->ops->remove(self->state, child, err);
        free(child);
    }
    free(entries);
    if (rc == TF_OK && *path)   /* the root itself stays: only what is under it goes */
        rc = self->ops->rmdir(self->state, path, err);
    return rc;
}

int
tf_target_remove_tree(tf_target_t *self, const char *path, tf_err_t *err)
{
    int rc = s_path_check(self, path, err);
    return rc != TF_OK ? rc : s_remove_tree(self, path, 0, err);
}

static int
s_entry_cmp(const void *a, const void *b)
{
    return strcmp(((const tf_target_entry_t *) a)->name, ((const tf_target_entry_t *) b)->name);
}

int
tf_target_list(tf_target_t *self, const char *path, tf_target_entry_t **entries, size_t *count, tf_err_t *err)
{
    if (!entries || !count)
        return tf_err_set(err, TF_ERR_INVALID, "replica target: list without a place for the entries");
    *entries = NULL;
    *count = 0;
    int rc = s_path_check(self, path, err);
    if (rc == TF_OK)
        rc = self->ops->list(self->state, path, entries, count, err);
    if (rc != TF_OK) {
        free(*entries);
        *entries = NULL;
        *count = 0;
        return rc;
    }
    if (*count > 1)
        qsort(*entries, *count, sizeof **entries, s_entry_cmp);
    return TF_OK;
}

int
tf_target_stat(tf_target_t *self, const char *path, tf_target_entry_t *entry, tf_err_t *err)
{
    int rc = s_path_check(self, path, err);
    if (rc == TF_OK && !entry)
        rc = tf_err_set(err, TF_ERR_INVALID, "replica target: stat without an entry to fill");
    if (rc != TF_OK)
        return rc;
    memset(entry, 0, sizeof *entry);
    return self->ops->stat(self->state, path, entry, err);
}

int
tf_target_space(tf_target_t *self, uint64_t *free_bytes, uint64_t *total_bytes, tf_err_t *err)
{
    if (!self || !free_bytes || !total_bytes)
        return tf_err_set(err, TF_ERR_INVALID, "replica target: space without a target or results");
    *free_bytes = *total_bytes = 0;
    return self->ops->space(self->state, free_bytes, total_bytes, err);
}

int
tf_target_put(tf_target_t *self, const char *path, const void *data, size_t len, tf_err_t *err)
{
    tf_target_file_t *file = NULL;
    int rc = tf_target_create(self, path, &file, err);
    if (rc == TF_OK)
        rc = tf_target_write(file, data, len, err);
    if (rc == TF_OK)
        rc = tf_target_sync(file, err);
    if (rc == TF_OK)
        rc = tf_target_close(&file, err);
    else if (file) {
        tf_err_t ignored;   /* the first error is the one to report */
        tf_target_close(&file, &ignored);
    }
    return rc;
}

int
tf_target_get(tf_target_t *self, const char *path, size_t max, char **data, size_t *len, tf_err_t *err)
{
    if (!data || !len)
        return tf_err_set(err, TF_ERR_INVALID, "replica target: get without a place for the data");
    *data = NULL;
    *len = 0;
    tf_target_file_t *file = NULL;
    int rc = tf_target_open_read(self, path, &file, err);
    if (rc != TF_OK)
        return rc;
    if (max > SIZE_MAX / 2)
        max = SIZE_MAX / 2;   /* max + 1 below must not wrap */
    size_t cap = max < 65536 ? max + 1 : 65536, used = 0;
    char *buf = malloc(cap + 1);
    if (!buf)
        rc = tf_err_set(err, TF_ERR_NOMEM, "replica target %s: out of memory reading %s", self->name, path);
    while (rc == TF_OK) {
        if (used == cap) {
            if (cap > max)
                break;
            size_t next = cap * 2 > max + 1 ? max + 1 : cap * 2;
            char *bigger = realloc(buf, next + 1);
            if (!bigger) {
                rc = tf_err_set(err, TF_ERR_NOMEM, "replica target %s: out of memory reading %s", self->name, path);
                break;
            }
            buf = bigger;
            cap = next;
        }
        size_t got = 0;
        rc = tf_target_read(file, buf + used, cap - used, &got, err);
        if (rc != TF_OK || got == 0)
            break;
        used += got;
    }
    if (rc == TF_OK && used > max)
        rc = tf_err_set(err, TF_ERR_TOOBIG, "replica target %s: %s is larger than %zu bytes", self->name, path, max);
    tf_err_t close_err;
    int close_rc = tf_target_close(&file, &close_err);
    if (rc == TF_OK && close_rc != TF_OK) {
        rc = close_rc;
        if (err)
            *err = close_err;
    }
    if (rc != TF_OK) {
        free(buf);
        return rc;
    }
    buf[used] = '\0';
    *data = buf;
    *len = used;
    return TF_OK;
}
