/*  tf_discover - tape drives from sysfs. */
#include "tf_discover.h"

#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* snprintf that truncates silently: sysfs names are short, over-long ones are cut. */
static void s_fmt(char *dst, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
s_fmt(char *dst, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, size, fmt, ap);
    va_end(ap);
}

struct _tf_discover_t {
    tf_discover_drive_t *drives;
    char (*devpaths)[PATH_MAX]; /* resolved sysfs device folder of each drive, for merging */
    size_t count;
    size_t alloc;
};

/* Reads a small sysfs attribute, trimmed. Returns length, or -1. */
static int
s_read_attr(const char *dir, const char *name, char *buf, size_t size)
{
    char path[PATH_MAX + 64];
    s_fmt(path, sizeof path, "%s/%s", dir, name);
    FILE *file = fopen(path, "rb");
    if (!file)
        return -1;
    size_t n = fread(buf, 1, size - 1, file);
    fclose(file);
    buf[n] = '\0';
    while (n > 0 && isspace((unsigned char) buf[n - 1]))
        buf[--n] = '\0';
    size_t start = 0;
    while (start < n && isspace((unsigned char) buf[start]))
        start++;
    memmove(buf, buf + start, n - start + 1);
    return (int) (n - start);
}

/* Serial from vpd_pg80 (binary page: 4-byte header, then the serial), else `serial`. */
static void
s_read_serial(const char *dir, char *serial, size_t size)
{
    serial[0] = '\0';
    char path[PATH_MAX + 64];
    s_fmt(path, sizeof path, "%s/vpd_pg80", dir);
    FILE *file = fopen(path, "rb");
    if (file) {
        unsigned char page[260];
        size_t n = fread(page, 1, sizeof page, file);
        fclose(file);
        if (n > 4 && page[1] == 0x80) {
            size_t len = page[3];
            if (len > n - 4)
                len = n - 4;
            size_t out = 0;
            for (size_t i = 0; i < len && out + 1 < size; i++)
                if (isgraph(page[4 + i]))
                    serial[out++] = (char) page[4 + i];
            serial[out] = '\0';
            if (out > 0)
                return;
        }
    }
    char buf[128];
    if (s_read_attr(dir, "serial", buf, sizeof buf) > 0)
        s_fmt(serial, size, "%s", buf);
}

static tf_discover_drive_t *
s_add(tf_discover_t *self, const char *devpath)
{
    for (size_t i = 0; i < self->count; i++)
        if (strcmp(self->devpaths[i], devpath) == 0)
            return &self->drives[i];
    if (self->count == self->alloc) {
        size_t alloc = self->alloc ? self->alloc * 2 : 8;
        tf_discover_drive_t *drives = realloc(self->drives, alloc * sizeof *drives);
        if (!drives)
            return NULL;
        self->drives = drives;
        char (*paths)[PATH_MAX] = realloc(self->devpaths, alloc * sizeof *paths);
        if (!paths)
            return NULL;
        self->devpaths = paths;
        self->alloc = alloc;
    }
    tf_discover_drive_t *drive = &self->drives[self->count];
    memset(drive, 0, sizeof *drive);
    s_fmt(self->devpaths[self->count], PATH_MAX, "%s", devpath);
    self->count++;
    const char *base = strrchr(devpath, '/');
    s_fmt(drive->hctl, sizeof drive->hctl, "%s", base ? base + 1 : devpath);
    s_read_attr(devpath, "vendor", drive->vendor, sizeof drive->vendor);
    s_read_attr(devpath, "model", drive->model, sizeof drive->model);
    s_read_attr(devpath, "rev", drive->revision, sizeof drive->revision);
    s_read_serial(devpath, drive->serial, sizeof drive->serial);
    return drive;
}

/* First entry of folder dir matching prefix+digits, e.g. scsi_generic/sg3 -> "sg3". */
static int
s_first_entry(const char *dir, const char *prefix, char *name, size_t size)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *entry;
    int found = -1;
    size_t plen = strlen(prefix);
    while ((entry = readdir(d)) != NULL) {
        if (strncmp(entry->d_name, prefix, plen) == 0 && isdigit((unsigned char) entry->d_name[plen])) {
            s_fmt(name, size, "%s", entry->d_name);
            found = 0;
            break;
        }
    }
    closedir(d);
    return found;
}

static bool
s_is_node_name(const char *name, const char *prefix)
{
    size_t plen = strlen(prefix);
    if (strncmp(name, prefix, plen) != 0 || !name[plen])
        return false;
    for (const char *p = name + plen; *p; p++)
        if (!isdigit((unsigned char) *p))
            return false;
    return true;
}

static void
s_scan_class(tf_discover_t *self, const char *sysfs_root, const char *dev_root, bool tape_class)
{
    char class_dir[PATH_MAX];
    s_fmt(class_dir, sizeof class_dir, "%s/class/%s", sysfs_root,
             tape_class ? "scsi_tape" : "scsi_generic");
    DIR *d = opendir(class_dir);
    if (!d)
        return;
    struct dirent *entry;
    while ((entry = readdir(d)) != NULL) {
        if (!s_is_node_name(entry->d_name, tape_class ? "nst" : "sg"))
            continue;
        char link[PATH_MAX + 300];
        s_fmt(link, sizeof link, "%s/%s/device", class_dir, entry->d_name);
        char devpath[PATH_MAX];
        if (!realpath(link, devpath))
            continue;
        if (!tape_class) {
            char type[16];
            if (s_read_attr(devpath, "type", type, sizeof type) <= 0 || strcmp(type, "1") != 0)
                continue;
        }
        tf_discover_drive_t *drive = s_add(self, devpath);
        if (!drive)
            break;
        if (tape_class)
            s_fmt(drive->nst, sizeof drive->nst, "%s/%s", dev_root, entry->d_name);
        else
            s_fmt(drive->sg, sizeof drive->sg, "%s/%s", dev_root, entry->d_name);
        if (tape_class && !drive->sg[0]) {
            char sgdir[PATH_MAX + 32], name[64];
            s_fmt(sgdir, sizeof sgdir, "%s/scsi_generic", devpath);
            if (s_first_entry(sgdir, "sg", name, sizeof name) == 0)
                s_fmt(drive->sg, sizeof drive->sg, "%s/%s", dev_root, name);
        }
    }
    closedir(d);
}

/* Links in DEV/tape/by-id naming a drive's nst or sg node; prefers "-nst" links. */
static void
s_scan_by_id(tf_discover_t *self, const char *dev_root)
{
    char dir[PATH_MAX];
    s_fmt(dir, sizeof dir, "%s/tape/by-id", dev_root);
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *entry;
    while ((entry = readdir(d)) != NULL) {
        if (entry->d_name[0] == '.')
            continue;
        char link[PATH_MAX + 300], target[PATH_MAX];
        s_fmt(link, sizeof link, "%s/%s", dir, entry->d_name);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n <= 0)
            continue;
        target[n] = '\0';
        const char *base = strrchr(target, '/');
        base = base ? base + 1 : target;
        for (size_t i = 0; i < self->count; i++) {
            tf_discover_drive_t *drive = &self->drives[i];
            const char *nst = strrchr(drive->nst, '/');
            const char *sg = strrchr(drive->sg, '/');
            bool match = (nst && strcmp(nst + 1, base) == 0) || (sg && strcmp(sg + 1, base) == 0);
            if (!match)
                continue;
            bool nst_link = strstr(entry->d_name, "-nst") != NULL;
            if (!drive->by_id[0] || nst_link)
                s_fmt(drive->by_id, sizeof drive->by_id, "%s", link);
        }
    }
    closedir(d);
}

tf_discover_t *
tf_discover_scan(const char *sysfs_root, const char *dev_root, tf_err_t *err)
{
    tf_discover_t *self = calloc(1, sizeof *self);
    if (!self) {
        tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (!sysfs_root)
        sysfs_root = "/sys";
    if (!dev_root)
        dev_root = "/dev";
    s_scan_class(self, sysfs_root, dev_root, true);
    s_scan_class(self, sysfs_root, dev_root, false);
    s_scan_by_id(self, dev_root);
    for (size_t i = 0; i < self->count; i++) {
        tf_discover_drive_t *drive = &self->drives[i];
        /* SG_IO works best on the sg node (no CAP_SYS_RAWIO needed); by-id names are stable
           across reboots but point at the st node, so they are shown, not used. */
        const char *node = drive->sg[0] ? drive->sg : drive->by_id[0] ? drive->by_id : drive->nst;
        s_fmt(drive->url, sizeof drive->url, "sg:%s", node);
    }
    return self;
}

void
tf_discover_destroy(tf_discover_t **self_p)
{
    if (self_p && *self_p) {
        free((*self_p)->drives);
        free((*self_p)->devpaths);
        free(*self_p);
        *self_p = NULL;
    }
}

size_t
tf_discover_count(tf_discover_t *self)
{
    return self->count;
}

const tf_discover_drive_t *
tf_discover_get(tf_discover_t *self, size_t index)
{
    return index < self->count ? &self->drives[index] : NULL;
}

const tf_discover_drive_t *
tf_discover_by_serial(tf_discover_t *self, const char *serial)
{
    for (size_t i = 0; i < self->count; i++)
        if (self->drives[i].serial[0] && strcmp(self->drives[i].serial, serial) == 0)
            return &self->drives[i];
    return NULL;
}

const tf_discover_drive_t *
tf_discover_by_path(tf_discover_t *self, const char *path)
{
    char want[PATH_MAX];
    if (!realpath(path, want))
        s_fmt(want, sizeof want, "%s", path);
    for (size_t i = 0; i < self->count; i++) {
        const tf_discover_drive_t *drive = &self->drives[i];
        const char *nodes[3] = {drive->nst, drive->sg, drive->by_id};
        for (int k = 0; k < 3; k++) {
            if (!nodes[k][0])
                continue;
            char have[PATH_MAX];
            if (!realpath(nodes[k], have))
                s_fmt(have, sizeof have, "%s", nodes[k]);
            if (strcmp(have, want) == 0 || strcmp(nodes[k], path) == 0)
                return drive;
        }
    }
    return NULL;
}
