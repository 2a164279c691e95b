/*  fs_id - the file system an entry is on (see fs_id.h). */
#define _GNU_SOURCE
#include "fs_id.h"
#include "tf_mount.h"

#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

struct _fs_ids_t {
    char *mountinfo;
    char *by_uuid;
    zhashx_t *by_dev;    /* "<major>:<minor>" -> id (char *, owned) */
};

fs_ids_t *
fs_ids_new(const char *mountinfo, const char *by_uuid)
{
    fs_ids_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->mountinfo = strdup(mountinfo ? mountinfo : "/proc/self/mountinfo");
    self->by_uuid = strdup(by_uuid ? by_uuid : "/dev/disk/by-uuid");
    self->by_dev = zhashx_new();
    if (!self->mountinfo || !self->by_uuid || !self->by_dev) {
        fs_ids_destroy(&self);
        return NULL;
    }
    zhashx_set_destructor(self->by_dev, (zhashx_destructor_fn *) zstr_free);
    return self;
}

void
fs_ids_destroy(fs_ids_t **self_p)
{
    if (self_p && *self_p) {
        fs_ids_t *self = *self_p;
        zhashx_destroy(&self->by_dev);
        free(self->mountinfo);
        free(self->by_uuid);
        free(self);
        *self_p = NULL;
    }
}

/* "uuid:<UUID>" when an entry of by_uuid leads to the mount's device (same device number, or
   the same file as the mount source), else "". */
static void
s_uuid_of(const char *by_uuid, const tf_mount_t *m, char *buf, size_t size)
{
    buf[0] = '\0';
    DIR *dir = opendir(by_uuid);
    if (!dir)
        return;   /* no udev (containers): the fstype:source:mount point form */
    char *source = m->source[0] == '/' ? realpath(m->source, NULL) : NULL;
    dev_t want = makedev(m->major, m->minor);
    struct dirent *e;
    while (!buf[0] && (e = readdir(dir)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char link[PATH_MAX];
        if (snprintf(link, sizeof link, "%s/%s", by_uuid, e->d_name) >= (int) sizeof link)
            continue;
        struct stat st;
        bool same = stat(link, &st) == 0 && S_ISBLK(st.st_mode) && st.st_rdev == want;
        if (!same && source) {
            char *target = realpath(link, NULL);
            same = target && strcmp(target, source) == 0;
            free(target);
        }
        if (same)
            snprintf(buf, size, "uuid:%s", e->d_name);
    }
    free(source);
    closedir(dir);
}

/* Finds the mount of dev (or, when mountinfo does not list dev, the one that holds path) and
   names its file system into buf. */
static int
s_lookup(fs_ids_t *self, dev_t dev, const char *path, char *buf, size_t size, tf_err_t *err)
{
    tf_mount_t m;
    int rc = tf_mount_find(self->mountinfo, dev, path, &m, err);
    if (rc != TF_OK)
        return rc;
    s_uuid_of(self->by_uuid, &m, buf, size);
    if (!buf[0])
        snprintf(buf, size, "%s:%s:%s", m.fstype, m.source, m.mount_point);
    return TF_OK;
}

const char *
fs_ids_get(fs_ids_t *self, dev_t dev, const char *path, tf_err_t *err)
{
    char key[32];
    snprintf(key, sizeof key, "%u:%u", major(dev), minor(dev));
    const char *known = zhashx_lookup(self->by_dev, key);
    if (known)
        return known;
    char id[PATH_MAX * 2 + 64];
    if (s_lookup(self, dev, path, id, sizeof id, err) != TF_OK)
        return NULL;
    char *copy = strdup(id);
    if (!copy || zhashx_insert(self->by_dev, key, copy) != 0) {
        free(copy);
        tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    return copy;
}
