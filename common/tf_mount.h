/*  tf_mount - which mount holds a path, read from /proc/self/mountinfo: the scanner names a
    file system by it (actors/scanner/fs_id) and a file:// replication target checks that its
    share is really mounted (actors/common/tf_target_file).
*/
#ifndef TF_MOUNT_H_INCLUDED
#define TF_MOUNT_H_INCLUDED

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#include "tf_err.h"

typedef struct {
    unsigned major, minor;
    char root[PATH_MAX];         /* the folder of the file system mounted here ("/" for a whole one) */
    char mount_point[PATH_MAX];
    char fstype[64];             /* "ext4", "cifs", "nfs4", "tmpfs" ... */
    char source[PATH_MAX];       /* "/dev/sda1", "//server/share", "server:/export" ... */
} tf_mount_t;

/* The mount of device dev that holds path (an absolute, resolved path); when mountinfo does
   not list dev (btrfs subvolumes have anonymous numbers), the longest mount point that holds
   path. Later lines of the same mount point are mounts over earlier ones: they win.
   mountinfo: NULL for /proc/self/mountinfo. TF_ERR_IO when it cannot be read, TF_ERR_NOTFOUND
   when it lists no mount that holds path. */
int tf_mount_find(const char *mountinfo, dev_t dev, const char *path, tf_mount_t *mount, tf_err_t *err);

#endif
