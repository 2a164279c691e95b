/*  scan_stat - the manifest row of one walked entry (issue 11): what the catalog compares with
    the base job's row to decide whether the entry changed - type, size, mtime and ctime in ns,
    inode, mode, owner, link count, a hash of the extended attributes and the file system's id
    (fs_id.h).

    The xattrs hash is "xxh64:<16 hex>" over the entry's attribute names in byte order, each
    followed by '\0' and its value (name\0value name\0value ...), read without following a
    symlink; NULL when the entry has none or its file system has no xattrs. ACLs are xattrs
    (system.posix_acl_*), so a setfacl is a change too.
*/
#ifndef SCAN_STAT_H_INCLUDED
#define SCAN_STAT_H_INCLUDED

#include <sys/stat.h>

#include "tf_err.h"
#include "tf_msg.h"

/* *hash: malloc'd "xxh64:..." or NULL when path has no xattrs. TF_ERR_IO (err says why) when
   they cannot be read. */
int scan_stat_xattrs(const char *path, char **hash, tf_err_t *err);

/* Fills row from st; path and xattrs are copied (row owns them: scan_stat_row_clear), fs_id is
   borrowed. */
int scan_stat_row(const char *path, const struct stat *st, const char *xattrs, const char *fs_id,
                  tf_msg_manifest_row_t *row, tf_err_t *err);
void scan_stat_row_clear(tf_msg_manifest_row_t *row);

/* "file" | "dir" | "symlink" | "other": the manifest's and path_info's words for st_mode. */
const char *scan_stat_type(mode_t mode);

#endif
