/*  tf_mount - which mount holds a path (see tf_mount.h). */
#define _GNU_SOURCE
#include "tf_mount.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

typedef struct {
    unsigned major, minor;
    char *root;
    char *mount_point;
    char *fstype;
    char *source;
} s_fields_t;

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
s_parse_line(char *line, s_fields_t *m)
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

int
tf_mount_find(const char *mountinfo, dev_t dev, const char *path, tf_mount_t *mount, tf_err_t *err)
{
    if (!mountinfo)
        mountinfo = "/proc/self/mountinfo";
    FILE *f = fopen(mountinfo, "r");
    if (!f)
        return tf_err_set(err, TF_ERR_IO, "cannot read %s to find the mount that holds %s: %s", mountinfo, path,
                          strerror(errno));
    char *line = NULL, *best_line = NULL;
    size_t cap = 0, best_len = 0;
    bool by_dev = false;
    int rc = TF_OK;
    while (getline(&line, &cap, f) > 0) {
        char *copy = strdup(line);
        s_fields_t m;
        if (!copy) {
            rc = tf_err_set(err, TF_ERR_NOMEM, "out of memory reading %s", mountinfo);
            break;
        }
        if (!s_parse_line(copy, &m)) {
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
    s_fields_t m;
    if (rc == TF_OK && (!best_line || !s_parse_line(best_line, &m)))
        rc = tf_err_set(err, TF_ERR_NOTFOUND, "%s lists no mount that holds %s (device %u:%u)", mountinfo, path,
                        major(dev), minor(dev));
    if (rc == TF_OK) {
        memset(mount, 0, sizeof *mount);
        mount->major = m.major;
        mount->minor = m.minor;
        snprintf(mount->root, sizeof mount->root, "%s", m.root);
        snprintf(mount->mount_point, sizeof mount->mount_point, "%s", m.mount_point);
        snprintf(mount->fstype, sizeof mount->fstype, "%s", m.fstype);
        snprintf(mount->source, sizeof mount->source, "%s", m.source);
    }
    free(best_line);
    return rc;
}
