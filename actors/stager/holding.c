/*  holding - the stager's holding disk (see holding.h). */
#include "holding.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "tf_fs.h"
#include "tf_log.h"
#include "tf_pipeline_ids.h"

struct _holding_t {
    char *dir;
    char tmp[PATH_MAX];
    char ready[PATH_MAX];
    zhashx_t *index;        /* archive id -> holding_meta_t */
    uint64_t ready_bytes;
};

static void
s_meta_destroy(void **item)
{
    holding_meta_t *meta = *item;
    if (meta) {
        free(meta->archive_id);
        free(meta->job_id);
        free(meta->pool);
        free(meta->compression);
        free(meta->checksum);
        free(meta->rows_checksum);
        free(meta->parked);
        free(meta->host);
        free(meta->replicas);
        free(meta->confirmed);
        free(meta);
        *item = NULL;
    }
}

static char *
s_dup(const char *s)
{
    return strdup(s ? s : "");
}

static holding_meta_t *
s_meta_copy(const holding_meta_t *src)
{
    holding_meta_t *meta = calloc(1, sizeof *meta);
    if (!meta)
        return NULL;
    *meta = *src;
    meta->archive_id = s_dup(src->archive_id);
    meta->job_id = s_dup(src->job_id);
    meta->pool = s_dup(src->pool);
    meta->compression = s_dup(src->compression);
    meta->checksum = s_dup(src->checksum);
    meta->rows_checksum = s_dup(src->rows_checksum);
    meta->parked = s_dup(src->parked);
    meta->host = s_dup(src->host);
    meta->replicas = s_dup(src->replicas);
    meta->confirmed = s_dup(src->confirmed);
    if (!meta->archive_id || !meta->job_id || !meta->pool || !meta->compression || !meta->checksum
        || !meta->rows_checksum || !meta->parked || !meta->host || !meta->replicas || !meta->confirmed) {
        void *p = meta;
        s_meta_destroy(&p);
        return NULL;
    }
    return meta;
}

static int
s_path(char *buf, size_t size, const char *folder, const char *id, const char *ext)
{
    return snprintf(buf, size, "%s/%s%s", folder, id, ext) < (int) size ? TF_OK : TF_ERR_TOOBIG;
}

/* What a ready archive takes on the holding disk: its data and its sidecar. */
static uint64_t
s_bytes(const holding_meta_t *meta)
{
    return meta->size + meta->rows_size;
}

static int
s_fsync_dir(const char *dir, tf_err_t *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return tf_err_errno(err, TF_ERR_IO, errno, "cannot open folder %s", dir);
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0)
        return tf_err_errno(err, TF_ERR_IO, e, "cannot fsync folder %s", dir);
    return TF_OK;
}

static bool
s_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static uint64_t
s_u64(zconfig_t *root, const char *path)
{
    const char *v = zconfig_get(root, path, "0");
    return strtoull(v, NULL, 10);
}

/* Loads ready/<id>.meta; NULL when it is missing or does not describe id's data file. */
static holding_meta_t *
s_meta_load(holding_t *self, const char *id)
{
    char path[PATH_MAX], data[PATH_MAX];
    if (s_path(path, sizeof path, self->ready, id, ".meta") != TF_OK
        || s_path(data, sizeof data, self->ready, id, ".data") != TF_OK)
        return NULL;
    zconfig_t *root = zconfig_load(path);
    if (!root)
        return NULL;
    holding_meta_t m = {
        .archive_id = (char *) zconfig_get(root, "archive/id", ""),
        .job_id = (char *) zconfig_get(root, "archive/job", ""),
        .pool = (char *) zconfig_get(root, "archive/pool", ""),
        .compression = (char *) zconfig_get(root, "archive/compression", ""),
        .checksum = (char *) zconfig_get(root, "archive/checksum", ""),
        .group_no = s_u64(root, "archive/group"),
        .size = s_u64(root, "archive/size"),
        .files = s_u64(root, "archive/files"),
        .bytes = s_u64(root, "archive/bytes"),
        .rows_size = s_u64(root, "archive/rows_size"),
        .rows_checksum = (char *) zconfig_get(root, "archive/rows_checksum", ""),
        .parked = (char *) zconfig_get(root, "archive/parked", ""),
        .restore = strcmp(zconfig_get(root, "archive/purpose", ""), "restore") == 0,
        .host = (char *) zconfig_get(root, "archive/host", ""),
        /* an older .meta has none of these: released by the tape alone */
        .replicas = (char *) zconfig_get(root, "archive/replicas", ""),
        /* replicas without replica_required (written by hand, or damaged): required, the safe
           side - an optional target could give up and let the archive go before it is copied */
        .replica_required = strcmp(zconfig_get(root, "archive/replica_required", "1"), "0") != 0,
        .confirmed = (char *) zconfig_get(root, "archive/confirmed", ""),
    };
    struct stat st;
    holding_meta_t *meta = NULL;
    if (strcmp(m.archive_id, id) == 0 && *m.job_id && *m.checksum && stat(data, &st) == 0
        && (uint64_t) st.st_size == m.size) {
        char rows[PATH_MAX];
        if (m.rows_size > 0
            && (s_path(rows, sizeof rows, self->ready, id, ".rows") != TF_OK || stat(rows, &st) != 0
                || (uint64_t) st.st_size != m.rows_size)) {
            /* The data is what matters: keep the archive, without its sidecar (the tape
               writer then asks the catalog once for the rows). */
            tf_log_warn("archive %s: its file rows sidecar %s is missing or not %" PRIu64 " bytes; the archive "
                        "is kept without it", id, rows, m.rows_size);
            m.rows_size = 0;
            m.rows_checksum = "";
        }
        meta = s_meta_copy(&m);
    }
    zconfig_destroy(&root);
    return meta;
}

static void
s_unlink(const char *folder, const char *name, const char *why)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", folder, name) >= (int) sizeof path)
        return;
    if (unlink(path) == 0)
        tf_log_info("deleted %s (%s)", path, why);
    else if (errno != ENOENT)
        tf_log_warn("cannot delete %s: %s", path, strerror(errno));
}

static int
s_empty_tmp(holding_t *self, tf_err_t *err)
{
    DIR *d = opendir(self->tmp);
    if (!d)
        return tf_err_errno(err, TF_ERR_IO, errno, "cannot read folder %s", self->tmp);
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            s_unlink(self->tmp, de->d_name, "incomplete archive from before the restart; it is staged again");
    closedir(d);
    return TF_OK;
}

static int
s_index_ready(holding_t *self, tf_err_t *err)
{
    DIR *d = opendir(self->ready);
    if (!d)
        return tf_err_errno(err, TF_ERR_IO, errno, "cannot read folder %s", self->ready);
    zlist_t *stray = zlist_new();
    zlist_autofree(stray);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *name = de->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        char id[PATH_MAX];
        snprintf(id, sizeof id, "%s", name);
        bool is_meta = s_ends_with(name, ".meta"), is_data = s_ends_with(name, ".data");
        bool is_rows = s_ends_with(name, ".rows");
        if (is_meta || is_data || is_rows)
            id[strlen(id) - 5] = '\0';
        if (!(is_meta || is_data || is_rows) || !tf_id_safe_name(id)) {
            zlist_append(stray, (void *) name);
            continue;
        }
        if (is_data || is_rows || zhashx_lookup(self->index, id))
            continue;  /* data files and sidecars are checked with their meta */
        holding_meta_t *meta = s_meta_load(self, id);
        if (!meta) {
            zlist_append(stray, (void *) name);
            continue;
        }
        zhashx_insert(self->index, id, meta);
        self->ready_bytes += s_bytes(meta);
    }
    closedir(d);
    /* second pass: data files without a valid meta, sidecars without a ready archive that
       has them */
    d = opendir(self->ready);
    while (d && (de = readdir(d)) != NULL) {
        bool is_rows = s_ends_with(de->d_name, ".rows");
        if (!s_ends_with(de->d_name, ".data") && !is_rows)
            continue;
        char id[PATH_MAX];
        snprintf(id, sizeof id, "%s", de->d_name);
        id[strlen(id) - 5] = '\0';
        const holding_meta_t *meta = tf_id_safe_name(id) ? zhashx_lookup(self->index, id) : NULL;
        if (tf_id_safe_name(id) && (!meta || (is_rows && meta->rows_size == 0)))
            zlist_append(stray, de->d_name);
    }
    if (d)
        closedir(d);
    for (const char *name = zlist_first(stray); name; name = zlist_next(stray))
        s_unlink(self->ready, name, "not a complete verified archive; it is staged again");
    zlist_destroy(&stray);
    return TF_OK;
}

holding_t *
holding_new(const char *dir, tf_err_t *err)
{
    holding_t *self = calloc(1, sizeof *self);
    if (!self) {
        tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    self->dir = strdup(dir);
    self->index = zhashx_new();
    if (!self->dir || !self->index) {
        tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        holding_destroy(&self);
        return NULL;
    }
    zhashx_set_destructor(self->index, s_meta_destroy);
    if (snprintf(self->tmp, sizeof self->tmp, "%s/tmp", dir) >= (int) sizeof self->tmp
        || snprintf(self->ready, sizeof self->ready, "%s/ready", dir) >= (int) sizeof self->ready) {
        tf_err_set(err, TF_ERR_INVALID, "stager/dir %s is too long", dir);
        holding_destroy(&self);
        return NULL;
    }
    if (tf_fs_mkdir_p(self->tmp, err) != TF_OK || tf_fs_mkdir_p(self->ready, err) != TF_OK
        || s_empty_tmp(self, err) != TF_OK || s_index_ready(self, err) != TF_OK) {
        tf_err_prefix(err, "holding disk %s: ", dir);
        holding_destroy(&self);
        return NULL;
    }
    return self;
}

void
holding_destroy(holding_t **self_p)
{
    if (self_p && *self_p) {
        holding_t *self = *self_p;
        zhashx_destroy(&self->index);
        free(self->dir);
        free(self);
        *self_p = NULL;
    }
}

const char *holding_dir(holding_t *self) { return self->dir; }
uint64_t holding_ready_bytes(holding_t *self) { return self->ready_bytes; }
size_t holding_ready_count(holding_t *self) { return zhashx_size(self->index); }

uint64_t
holding_disk_free(holding_t *self)
{
    struct statvfs vfs;
    if (statvfs(self->dir, &vfs) != 0)
        return 0;
    return (uint64_t) vfs.f_bavail * (uint64_t) vfs.f_frsize;
}

uint64_t
holding_disk_size(holding_t *self)
{
    struct statvfs vfs;
    if (statvfs(self->dir, &vfs) != 0)
        return 0;
    uint64_t reserved = vfs.f_bfree > vfs.f_bavail ? (uint64_t) (vfs.f_bfree - vfs.f_bavail) : 0;
    uint64_t blocks = (uint64_t) vfs.f_blocks > reserved ? (uint64_t) vfs.f_blocks - reserved : 0;
    return blocks * (uint64_t) vfs.f_frsize;
}

const holding_meta_t *
holding_lookup(holding_t *self, const char *archive_id)
{
    return zhashx_lookup(self->index, archive_id);
}

zlist_t *
holding_ready_ids(holding_t *self)
{
    zlist_t *ids = zlist_new();
    if (!ids)
        return NULL;
    zlist_autofree(ids);
    for (holding_meta_t *m = zhashx_first(self->index); m; m = zhashx_next(self->index))
        zlist_append(ids, m->archive_id);
    zlist_sort(ids, (zlist_compare_fn *) strcmp);
    return ids;
}

int
holding_part_open(holding_t *self, const char *archive_id, int *fd, tf_err_t *err)
{
    char path[PATH_MAX];
    if (!tf_id_safe_name(archive_id) || s_path(path, sizeof path, self->tmp, archive_id, ".part") != TF_OK)
        return tf_err_set(err, TF_ERR_INVALID, "archive id '%s' cannot be a file name", archive_id);
    *fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (*fd < 0)
        return tf_err_errno(err, TF_ERR_IO, errno, "cannot create %s", path);
    return TF_OK;
}

int
holding_rows_open(holding_t *self, const char *archive_id, int *fd, tf_err_t *err)
{
    char path[PATH_MAX];
    if (!tf_id_safe_name(archive_id) || s_path(path, sizeof path, self->tmp, archive_id, ".rows") != TF_OK)
        return tf_err_set(err, TF_ERR_INVALID, "archive id '%s' cannot be a file name", archive_id);
    *fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (*fd < 0)
        return tf_err_errno(err, TF_ERR_IO, errno, "cannot create %s", path);
    return TF_OK;
}

void
holding_part_drop(holding_t *self, const char *archive_id)
{
    static const char *const exts[] = {".part", ".rows"};
    for (size_t i = 0; i < sizeof exts / sizeof exts[0] && tf_id_safe_name(archive_id); i++) {
        char path[PATH_MAX];
        if (s_path(path, sizeof path, self->tmp, archive_id, exts[i]) == TF_OK && unlink(path) != 0
            && errno != ENOENT)
            tf_log_warn("cannot delete %s: %s", path, strerror(errno));
    }
}

static char *
s_meta_text(const holding_meta_t *m)
{
    zconfig_t *root = zconfig_new("root", NULL);
    if (!root)
        return NULL;
    zconfig_put(root, "archive/id", m->archive_id);
    zconfig_put(root, "archive/job", m->job_id);
    zconfig_putf(root, "archive/group", "%" PRIu64, m->group_no);
    zconfig_put(root, "archive/pool", m->pool ? m->pool : "");
    zconfig_put(root, "archive/compression", m->compression ? m->compression : "");
    zconfig_putf(root, "archive/size", "%" PRIu64, m->size);
    zconfig_put(root, "archive/checksum", m->checksum);
    zconfig_putf(root, "archive/files", "%" PRIu64, m->files);
    zconfig_putf(root, "archive/bytes", "%" PRIu64, m->bytes);
    if (m->rows_size > 0) {
        zconfig_putf(root, "archive/rows_size", "%" PRIu64, m->rows_size);
        zconfig_put(root, "archive/rows_checksum", m->rows_checksum ? m->rows_checksum : "");
    }
    if (m->parked && *m->parked)
        zconfig_put(root, "archive/parked", m->parked);
    if (m->restore)
        zconfig_put(root, "archive/purpose", "restore");
    if (m->host && *m->host)
        zconfig_put(root, "archive/host", m->host);
    if (m->replicas && *m->replicas) {
        zconfig_put(root, "archive/replicas", m->replicas);
        zconfig_put(root, "archive/replica_required", m->replica_required ? "1" : "0");
    }
    if (m->confirmed && *m->confirmed)
        zconfig_put(root, "archive/confirmed", m->confirmed);
    char *text = zconfig_str_save(root);
    zconfig_destroy(&root);
    return text;
}

/* fsyncs and closes fd (path names it in errors); closes it in every case. */
static int
s_sync_close(int fd, const char *path, tf_err_t *err)
{
    if (fsync(fd) != 0) {
        int e = errno;
        close(fd);
        return tf_err_errno(err, TF_ERR_IO, e, "cannot fsync %s", path);
    }
    if (close(fd) != 0)
        return tf_err_errno(err, TF_ERR_IO, errno, "cannot close %s", path);
    return TF_OK;
}

int
holding_commit(holding_t *self, const holding_meta_t *meta, int fd, int rows_fd, tf_err_t *err)
{
    char part[PATH_MAX], data[PATH_MAX], metapath[PATH_MAX], rows_part[PATH_MAX], rows[PATH_MAX];
    const char *id = meta->archive_id;
    if (!tf_id_safe_name(id) || s_path(part, sizeof part, self->tmp, id, ".part") != TF_OK
        || s_path(data, sizeof data, self->ready, id, ".data") != TF_OK
        || s_path(metapath, sizeof metapath, self->ready, id, ".meta") != TF_OK
        || s_path(rows_part, sizeof rows_part, self->tmp, id, ".rows") != TF_OK
        || s_path(rows, sizeof rows, self->ready, id, ".rows") != TF_OK) {
        close(fd);
        if (rows_fd >= 0)
            close(rows_fd);
        return tf_err_set(err, TF_ERR_INVALID, "archive id '%s' cannot be a file name", id);
    }
    int rc = s_sync_close(fd, part, err);
    if (rows_fd >= 0) {
        tf_err_t rerr = {0};
        int rrc = s_sync_close(rows_fd, rows_part, &rerr);
        if (rc == TF_OK && rrc != TF_OK) {
            *err = rerr;
            rc = rrc;
        }
    }
    if (rc != TF_OK)
        return rc;
    holding_meta_t m = *meta;
    if (rows_fd < 0) {
        m.rows_size = 0;
        m.rows_checksum = "";
    }
    holding_meta_t *copy = s_meta_copy(&m);
    char *text = s_meta_text(&m);
    if (!copy || !text) {
        void *p = copy;
        s_meta_destroy(&p);
        free(text);
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    }
    /* meta, sidecar, data: whatever a crash leaves in ready/ without its .data is deleted at
       start, and once the .data is there its sidecar is too */
    rc = tf_fs_write_atomic(metapath, text, strlen(text), err);
    free(text);
    if (rc == TF_OK && rows_fd >= 0 && rename(rows_part, rows) != 0)
        rc = tf_err_errno(err, TF_ERR_IO, errno, "cannot rename %s to %s", rows_part, rows);
    if (rc == TF_OK && rename(part, data) != 0)
        rc = tf_err_errno(err, TF_ERR_IO, errno, "cannot rename %s to %s", part, data);
    if (rc == TF_OK)
        rc = s_fsync_dir(self->ready, err);
    if (rc == TF_OK)
        rc = s_fsync_dir(self->tmp, err);
    if (rc != TF_OK) {
        unlink(metapath);
        unlink(rows);
        unlink(data);
        void *p = copy;
        s_meta_destroy(&p);
        return rc;
    }
    if (zhashx_lookup(self->index, id)) {
        self->ready_bytes -= s_bytes(zhashx_lookup(self->index, id));
        zhashx_delete(self->index, id);
    }
    zhashx_insert(self->index, id, copy);
    self->ready_bytes += s_bytes(copy);
    return TF_OK;
}

int
holding_remove(holding_t *self, const char *archive_id, tf_err_t *err)
{
    char data[PATH_MAX], metapath[PATH_MAX], rows[PATH_MAX];
    if (!tf_id_safe_name(archive_id) || s_path(data, sizeof data, self->ready, archive_id, ".data") != TF_OK
        || s_path(metapath, sizeof metapath, self->ready, archive_id, ".meta") != TF_OK
        || s_path(rows, sizeof rows, self->ready, archive_id, ".rows") != TF_OK)
        return tf_err_set(err, TF_ERR_INVALID, "archive id '%s' cannot be a file name", archive_id);
    /* data first: a meta or sidecar without data is cleaned up at start, a data without meta
       too */
    if (unlink(data) != 0 && errno != ENOENT)
        return tf_err_errno(err, TF_ERR_IO, errno, "cannot delete %s", data);
    if (unlink(rows) != 0 && errno != ENOENT)
        return tf_err_errno(err, TF_ERR_IO, errno, "cannot delete %s", rows);
    if (unlink(metapath) != 0 && errno != ENOENT)
        return tf_err_errno(err, TF_ERR_IO, errno, "cannot delete %s", metapath);
    int rc = s_fsync_dir(self->ready, err);
    holding_meta_t *meta = zhashx_lookup(self->index, archive_id);
    if (meta) {
        self->ready_bytes -= s_bytes(meta);
        zhashx_delete(self->index, archive_id);
    }
    return rc;
}

/* Rewrites ready/<id>.meta from meta. Written in tmp/ under a name that is no archive's, then
   renamed over the .meta: ready/ never holds a file that is not an archive's (tools count
   them). */
static int
s_meta_rewrite(holding_t *self, const holding_meta_t *meta, tf_err_t *err)
{
    char metapath[PATH_MAX], staging[PATH_MAX];
    if (s_path(metapath, sizeof metapath, self->ready, meta->archive_id, ".meta") != TF_OK)
        return tf_err_set(err, TF_ERR_INVALID, "archive id '%s' cannot be a file name", meta->archive_id);
    if (snprintf(staging, sizeof staging, "%s/.rewrite.meta", self->tmp) >= (int) sizeof staging)
        return tf_err_set(err, TF_ERR_INVALID, "holding disk path too long");
    char *text = s_meta_text(meta);
    int rc = text ? tf_fs_write_atomic(staging, text, strlen(text), err)
                  : tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    free(text);
    if (rc == TF_OK && rename(staging, metapath) != 0)
        rc = tf_err_errno(err, TF_ERR_IO, errno, "cannot rename %s to %s", staging, metapath);
    if (rc == TF_OK)
        rc = s_fsync_dir(self->ready, err);
    return rc;
}

/* Sets one string field of a ready archive's meta to value and rewrites its .meta; the old
   value stays when that fails. */
static int
s_meta_update(holding_t *self, holding_meta_t *meta, char **field, const char *value, tf_err_t *err)
{
    char *copy = strdup(value);
    if (!copy)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    char *old = *field;
    *field = copy;
    int rc = s_meta_rewrite(self, meta, err);
    if (rc != TF_OK) {
        *field = old;
        free(copy);
        return rc;
    }
    free(old);
    return TF_OK;
}

int
holding_park(holding_t *self, const char *archive_id, const char *state, tf_err_t *err)
{
    holding_meta_t *meta = zhashx_lookup(self->index, archive_id);
    if (!meta)
        return tf_err_set(err, TF_ERR_NOTFOUND, "archive %s is not staged here", archive_id);
    if (strcmp(meta->parked, state) == 0)
        return TF_OK;
    return s_meta_update(self, meta, &meta->parked, state, err);
}

bool
holding_list_has(const char *list, const char *name)
{
    char item[TF_ID_MAX];
    for (const char *p = list; tf_id_list_next(&p, item, sizeof item);)
        if (*item && strcmp(item, name) == 0)
            return true;
    return false;
}

bool
holding_confirmed(const holding_meta_t *meta, const char *who)
{
    return holding_list_has(meta->confirmed, who);
}

size_t
holding_replicas_waiting(const holding_meta_t *meta, char *buf, size_t size)
{
    size_t count = 0, used = 0;
    if (size > 0)
        buf[0] = '\0';
    char name[TF_ID_MAX];
    for (const char *p = meta->replicas; tf_id_list_next(&p, name, sizeof name);) {
        if (*name && !holding_confirmed(meta, name)) {
            int n = snprintf(buf + used, size > used ? size - used : 0, "%s%s", count ? ", " : "", name);
            if (n > 0 && used + (size_t) n < size)
                used += (size_t) n;
            count++;
        }
    }
    return count;
}

int
holding_confirm(holding_t *self, const char *archive_id, const char *who, tf_err_t *err)
{
    holding_meta_t *meta = zhashx_lookup(self->index, archive_id);
    if (!meta)
        return tf_err_set(err, TF_ERR_NOTFOUND, "archive %s is not staged here", archive_id);
    if (holding_confirmed(meta, who))
        return TF_OK;
    char *list = zsys_sprintf("%s%s%s", meta->confirmed, *meta->confirmed ? "," : "", who);
    if (!list)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    int rc = s_meta_update(self, meta, &meta->confirmed, list, err);
    zstr_free(&list);
    return rc;
}

static void
s_tally(holding_tally_t *t, const holding_meta_t *m)
{
    t->count++;
    t->bytes += s_bytes(m);
    if (!t->first || strcmp(m->archive_id, t->first->archive_id) < 0)
        t->first = m;
}

void
holding_unfreed(holding_t *self, holding_tally_t *parked, holding_tally_t *on_tape)
{
    memset(parked, 0, sizeof *parked);
    memset(on_tape, 0, sizeof *on_tape);
    for (holding_meta_t *m = zhashx_first(self->index); m; m = zhashx_next(self->index)) {
        if (*m->parked)
            s_tally(parked, m);
        else if (holding_confirmed(m, HOLDING_TAPE))
            s_tally(on_tape, m);
    }
}

/* Reads ready/<id><ext> of total bytes at offset; what names it in errors. */
static int
s_read(holding_t *self, const char *archive_id, const char *ext, const char *what, uint64_t total, uint64_t offset,
       void *buf, size_t size, size_t *got, tf_err_t *err)
{
    if (offset > total)
        return tf_err_set(err, TF_ERR_INVALID, "offset %" PRIu64 " is past the end of %s %s (%" PRIu64 " bytes)",
                          offset, what, archive_id, total);
    if (size > total - offset)
        size = (size_t) (total - offset);
    char path[PATH_MAX];
    if (s_path(path, sizeof path, self->ready, archive_id, ext) != TF_OK)
        return tf_err_set(err, TF_ERR_INVALID, "archive id too long");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tf_err_errno(err, TF_ERR_IO, errno, "cannot open %s", path);
    size_t done = 0;
    while (done < size) {
        ssize_t n = pread(fd, (char *) buf + done, size - done, (off_t) (offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;
            close(fd);
            return tf_err_errno(err, TF_ERR_IO, e, "cannot read %s at %" PRIu64, path, offset + done);
        }
        done += (size_t) n;
    }
    close(fd);
    *got = done;
    return TF_OK;
}

int
holding_read(holding_t *self, const char *archive_id, uint64_t offset, void *buf, size_t size, size_t *got,
             tf_err_t *err)
{
    *got = 0;
    const holding_meta_t *meta = zhashx_lookup(self->index, archive_id);
    if (!meta)
        return tf_err_set(err, TF_ERR_NOTFOUND, "archive %s is not staged here", archive_id);
    return s_read(self, archive_id, ".data", "archive", meta->size, offset, buf, size, got, err);
}

int
holding_read_rows(holding_t *self, const char *archive_id, uint64_t offset, void *buf, size_t size,
                  size_t *got, tf_err_t *err)
{
    *got = 0;
    const holding_meta_t *meta = zhashx_lookup(self->index, archive_id);
    if (!meta)
        return tf_err_set(err, TF_ERR_NOTFOUND, "archive %s is not staged here", archive_id);
    if (meta->rows_size == 0)
        return tf_err_set(err, TF_ERR_NOTFOUND, "archive %s has no file rows sidecar here (staged before "
                          "sidecars)", archive_id);
    return s_read(self, archive_id, ".rows", "the file rows sidecar of archive", meta->rows_size, offset, buf, size,
                  got, err);
}
