/*  fs_id - the file system an entry is on (see fs_id.h). */
#define _GNU_SOURCE
#include "fs_id.h"

#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

typedef struct {
    unsigned major, minor;
    char *root;          /* the folder of the file system mounted here ("/" for a whole one) */
    char *mount_point;
    char *fstype;
    char *source;
} s_mount_t;

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

/* mountinfo writes space, tab, newline and backslash as \ooo. In place. */
static void
s_unescape(char *s)
{
    char *out = s;
    for (char *p = s; *p; out++) {
        if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' && p[3] >= '0' && p[3] <= '7') {
            *out = (char) ((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
            p += 4;
        }
        else
            *out = *p++;
    }
    *out = '\0';
}

/* One mountinfo line: "36 35 98:0 /root /mnt/point rw,noatime master:1 - ext4 /dev/sda1 rw".
   The fields point into line. False for a line of another shape. */
static bool
s_parse_line(char *line, s_mount_t *m)
{
    char *save = NULL, *field[5];
    for (int n = 0; n < 5; n++)
        if (!(field[n] = strtok_r(n ? NULL : line, " \n", &save)))
            return false;
    if (sscanf(field[2], "%u:%u", &m->major, &m->minor) != 2)
        return false;
    /* the options, optional fields up to the "-" separator, then fstype and source */
    char *t;
    while ((t = strtok_r(NULL, " \n", &save)) && strcmp(t, "-") != 0)
        ;
    m->fstype = t ? strtok_r(NULL, " \n", &save) : NULL;
    m->source = m->fstype ? strtok_r(NULL, " \n", &save) : NULL;
    if (!m->source)
        return false;
    m->root = field[3];
    m->mount_point = field[4];
    s_unescape(m->root);
    s_unescape(m->mount_point);
    s_unescape(m->source);
    return true;
}

/* Length of the mount point when it holds path, else 0 ("/" holds everything: 1). */
static size_t
s_holds(const char *mount_point, const char *path)
{
    size_t len = strlen(mount_point);
    if (len == 1 && mount_point[0] == '/')
        return 1;
    if (strncmp(path, mount_point, len) == 0 && (path[len] == '/' || path[len] == '\0'))
        return len;
    return 0;
}

/* "uuid:<UUID>" when an entry of by_uuid leads to the mount's device (same device number, or
   the same file as the mount source), else "". */
static void
s_uuid_of(const char *by_uuid, const s_mount_t *m, char *buf, size_t size)
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
    FILE *f = fopen(self->mountinfo, "r");
    if (!f)
        return tf_err_set(err, TF_ERR_IO, "cannot read %s to name the file system of %s: %s", self->mountinfo,
                          path, strerror(errno));
    char *line = NULL, *best_line = NULL;
    size_t cap = 0, best_len = 0;
    bool by_dev = false;
    while (getline(&line, &cap, f) > 0) {
        char *copy = strdup(line);
        s_mount_t m;
        if (!copy || !s_parse_line(copy, &m)) {
            free(copy);
            continue;
        }
        bool dev_match = m.major == major(dev) && m.minor == minor(dev);
        size_t len = s_holds(m.mount_point, path);
        /* The device's mount holding path wins (bind mounts: the longest); else the device's
           first mount; else the longest mount point holding path. Later lines of the same
           length are mounts over earlier ones: they win. */
        bool better = dev_match ? !by_dev || len >= best_len : !by_dev && len > 0 && len >= best_len;
        if (better) {
            free(best_line);
            best_line = strdup(line);
            best_len = len;
            by_dev = dev_match;
        }
        free(copy);
    }
    free(line);
    fclose(f);
    s_mount_t m;
    if (!best_line || !s_parse_line(best_line, &m)) {
        free(best_line);
        return tf_err_set(err, TF_ERR_NOTFOUND, "%s lists no mount that holds %s (device %u:%u)", self->mountinfo,
                          path, major(dev), minor(dev));
    }
    s_uuid_of(self->by_uuid, &m, buf, size);
    if (!buf[0])
        snprintf(buf, size, "%s:%s:%s", m.fstype, m.source, m.mount_point);
    free(best_line);
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
