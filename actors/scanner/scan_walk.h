/*  scan_walk - walks one path with lstat (never following symlinks), parents before children,
    children in byte order of their names (so a repeated scan of an unchanged tree gives the
    same order, hence the same groups and archive ids).

    File system access goes through scan_fs_t so tests can fake devices (one_fs) and
    unreadable entries; scan_fs_posix() is the real one. Entries that cannot be read are
    reported to the warn callback and the walk goes on; only the callbacks can stop it.
*/
#ifndef SCAN_WALK_H_INCLUDED
#define SCAN_WALK_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "tf_err.h"

typedef struct {
    /* lstat(2): 0, or -1 with errno set */
    int (*lstat)(void *arg, const char *path, struct stat *st);
    /* Names in a folder except . and .. (malloc'd array of malloc'd strings, any order):
       0, or -1 with errno set. */
    int (*list)(void *arg, const char *path, char ***names, size_t *count);
    void *arg;
    /* The xattrs hash of an entry (scan_stat_xattrs): TF_OK with *hash malloc'd or NULL (none),
       else err says why. NULL: entries have no xattrs (fake file systems of tests). */
    int (*xattrs)(void *arg, const char *path, char **hash, tf_err_t *err);
} scan_fs_t;

const scan_fs_t *scan_fs_posix(void);

typedef int(scan_entry_fn)(void *arg, const char *path, const struct stat *st, tf_err_t *err);
typedef void(scan_warn_fn)(void *arg, const char *path, const char *message);

/* Walks root (absolute, no trailing '/'). With one_fs, folders on another device than root
   are listed as entries but not descended into. A root that does not exist fails with
   TF_ERR_NOTFOUND "path X does not exist"; anything below that cannot be read is a warning.
   unread (may be NULL) is told, besides the warning, of each folder that could not be listed
   and each entry that could not be stat'ed for another reason than being gone (ENOENT):
   what is below them was not looked at, so it must not count as deleted. */
int scan_walk(const scan_fs_t *fs, const char *root, bool one_fs, scan_entry_fn *entry, scan_warn_fn *warn,
              scan_warn_fn *unread, void *arg, tf_err_t *err);

#endif
