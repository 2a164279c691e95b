/*  fs_id - names the file system an entry is on, for the manifest (issue 11): "uuid:<UUID>"
    when /dev/disk/by-uuid has the mount's device, else "<fstype>:<mount source>:<mount point>"
    (tmpfs, overlay, nfs). Never st_dev: device numbers change across reboots and disk order,
    and a changed number would make every file of an incremental look changed.

    The device of st_dev is looked up in /proc/self/mountinfo (major:minor); a device it does
    not list (btrfs subvolumes have their own anonymous numbers) is found by the longest mount
    point that holds the path. Answers are cached per st_dev for the life of the object (one
    scan), so a scan reads mountinfo once per file system.

        fs_ids_t *ids = fs_ids_new(NULL, NULL);
        const char *id = fs_ids_get(ids, st.st_dev, path, &err);   // owned by ids
        fs_ids_destroy(&ids);
*/
#ifndef FS_ID_H_INCLUDED
#define FS_ID_H_INCLUDED

#include <sys/types.h>

#include "tf_err.h"

typedef struct _fs_ids_t fs_ids_t;

/* mountinfo: NULL for /proc/self/mountinfo; by_uuid: NULL for /dev/disk/by-uuid (tests name
   their own). */
fs_ids_t *fs_ids_new(const char *mountinfo, const char *by_uuid);
void fs_ids_destroy(fs_ids_t **self_p);

/* The id of the file system of path (whose lstat gave dev); NULL with err when mountinfo
   cannot be read or lists no mount that holds path. The text lives as long as self. */
const char *fs_ids_get(fs_ids_t *self, dev_t dev, const char *path, tf_err_t *err);

#endif
