/*  tf_target - the files of one replication target, whichever way it is reached: the seam
    between the replicator (and the `tapeflow replica` commands) and the storage. An ops table
    chosen by URL, one file per backend (like drive/tf_transport.h):

        smb://[USER@]HOST[:PORT]/SHARE/PATH   libsmbclient, no kernel mount (tf_target_smb.c)
        file:///PATH                          POSIX calls on a mounted share or a local disk
                                              (tf_target_file.c)

    Paths given to the verbs are relative to the target's root (the URL's PATH), '/'-separated,
    never absolute, never with a '..' component (refused with TF_ERR_INVALID). "" is the root.

    Every verb returns a status and, on failure, a message that says what went wrong on which
    target and what to do (docs/operations.md, "Replication", lists them). EINTR is retried
    everywhere. A target is used by one thread at a time.
*/
#ifndef TF_TARGET_H_INCLUDED
#define TF_TARGET_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tf_err.h"

typedef struct {
    const char *name;          /* replicas/NAME, for messages ("replica target nas: ...") */
    const char *url;
    const char *credentials;   /* smb: a file in smbclient -A format (username =, password =,
                                  domain =); NULL or "": user from the URL, no password. The file
                                  must not be readable by group or others (refused otherwise). */
    const char *require_fs;    /* file: any (NULL) | cifs | nfs - statfs and /proc/self/mountinfo
                                  are checked at open: a path on another file system (the share
                                  is not mounted) is refused */
    int timeout_ms;            /* smb: per request; 0: 30000 */
    bool create_root;          /* tapeflow replica init: a missing root folder is created (file:
                                  only when its nearest existing parent passes require_fs) instead
                                  of refused */
} tf_target_opts_t;

typedef struct _tf_target_t tf_target_t;
typedef struct _tf_target_file_t tf_target_file_t;

typedef struct {
    char name[256];
    bool is_dir;
    uint64_t size;
    int64_t mtime_ms;
} tf_target_entry_t;

/* Opens the target and checks that its root is there and reachable: for smb the server
   answers, accepts the credentials and has the share ("SMB server H:P not reachable ...",
   "SMB server H refused the credentials of user U (from FILE) ...", "share S does not exist on
   H ..." - each with its fix); for file the path exists and, with require_fs, is on that file
   system. NULL with err set on failure. */
tf_target_t *tf_target_open(const tf_target_opts_t *opts, tf_err_t *err);
/* The checks of a configured URL that need no connection (tf_target_open makes them first;
   configuration checks call it too): set, smb:// or file:// ("replica target NAME: URL 'U'
   has an unknown scheme 'S': ..."), no password in an smb:// URL ("replica target NAME:
   replicas/NAME/url holds a password: ..."). TF_ERR_INVALID; messages never quote a password. */
int tf_target_url_check(const char *name, const char *url, tf_err_t *err);
void tf_target_destroy(tf_target_t **self_p);

/* The URL as configured, never with a password (smb://USER@HOST/...: USER stays). */
const char *tf_target_url(tf_target_t *self);
/* "smb" or "file". */
const char *tf_target_scheme(tf_target_t *self);
/* The file system type the root is on: "cifs", "nfs4", "ext4", "tmpfs" ... ("smb" for smb://). */
const char *tf_target_fs_type(tf_target_t *self);

/* Creates a folder and its missing parents; an existing folder is fine. */
int tf_target_mkdir(tf_target_t *self, const char *path, tf_err_t *err);
/* Creates (truncates) a file for writing. */
int tf_target_create(tf_target_t *self, const char *path, tf_target_file_t **file, tf_err_t *err);
/* Opens a file for reading; TF_ERR_NOTFOUND when it is not there. */
int tf_target_open_read(tf_target_t *self, const char *path, tf_target_file_t **file, tf_err_t *err);
/* Writes all of buf (short writes continue). A full target: TF_ERR_IO with "no space left on
   replica target ... (ENOSPC)". */
int tf_target_write(tf_target_file_t *file, const void *buf, size_t len, tf_err_t *err);
/* Reads up to len bytes; *got 0 at the end. */
int tf_target_read(tf_target_file_t *file, void *buf, size_t len, size_t *got, tf_err_t *err);
/* Makes the written bytes durable (fsync). EINVAL from fsync is tolerated only on a target
   whose file system is cifs (which does not implement it for every mount); anywhere else it is
   an error. smb: a no-op, the server commits at close (its result is checked). */
int tf_target_sync(tf_target_file_t *file, tf_err_t *err);
/* Closes the file; a failing close (NFS and SMB report deferred write errors there) is an
   error. *file_p is NULL afterwards in every case. */
int tf_target_close(tf_target_file_t **file_p, tf_err_t *err);
/* Makes a folder's entries durable (fsync of the folder; EINVAL tolerated as above; smb:
   no-op). */
int tf_target_sync_dir(tf_target_t *self, const char *path, tf_err_t *err);

/* Renames a file or folder; fails (TF_ERR_STATE) when `to` exists. */
int tf_target_rename(tf_target_t *self, const char *from, const char *to, tf_err_t *err);
/* Removes a file; a missing one is fine. */
int tf_target_remove(tf_target_t *self, const char *path, tf_err_t *err);
/* Removes a folder and everything under it; a missing one is fine. */
int tf_target_remove_tree(tf_target_t *self, const char *path, tf_err_t *err);
/* The entries of a folder, without "." and "..", sorted by name (caller frees *entries).
   TF_ERR_NOTFOUND when the folder is not there. */
int tf_target_list(tf_target_t *self, const char *path, tf_target_entry_t **entries, size_t *count,
                   tf_err_t *err);
/* One entry's facts; TF_ERR_NOTFOUND when it is not there. */
int tf_target_stat(tf_target_t *self, const char *path, tf_target_entry_t *entry, tf_err_t *err);
/* Free and total bytes of the target's file system (statvfs; smb: the share's). */
int tf_target_space(tf_target_t *self, uint64_t *free_bytes, uint64_t *total_bytes, tf_err_t *err);

/* Small whole files: put writes data to path (create, write, sync, close); get reads a file of
   at most max bytes into a NUL-terminated heap buffer (TF_ERR_TOOBIG when larger). */
int tf_target_put(tf_target_t *self, const char *path, const void *data, size_t len, tf_err_t *err);
int tf_target_get(tf_target_t *self, const char *path, size_t max, char **data, size_t *len, tf_err_t *err);

/* Backends, chosen by tf_target_open from the URL's scheme. */
typedef struct {
    const char *scheme;
    void *(*open)(const tf_target_opts_t *opts, tf_err_t *err);
    void (*destroy)(void **state_p);
    const char *(*fs_type)(void *state);
    int (*mkdir)(void *state, const char *path, tf_err_t *err);          /* one level */
    int (*open_file)(void *state, const char *path, bool write, void **fh, tf_err_t *err);
    int (*write)(void *state, void *fh, const void *buf, size_t len, size_t *done, tf_err_t *err);
    int (*read)(void *state, void *fh, void *buf, size_t len, size_t *got, tf_err_t *err);
    int (*sync)(void *state, void *fh, tf_err_t *err);
    int (*close)(void *state, void *fh, tf_err_t *err);
    int (*sync_dir)(void *state, const char *path, tf_err_t *err);
    int (*rename)(void *state, const char *from, const char *to, tf_err_t *err);
    int (*remove)(void *state, const char *path, tf_err_t *err);
    int (*rmdir)(void *state, const char *path, tf_err_t *err);          /* an empty folder */
    int (*list)(void *state, const char *path, tf_target_entry_t **entries, size_t *count, tf_err_t *err);
    int (*stat)(void *state, const char *path, tf_target_entry_t *entry, tf_err_t *err);
    int (*space)(void *state, uint64_t *free_bytes, uint64_t *total_bytes, tf_err_t *err);
} tf_target_ops_t;

/* For the backends (one place for what both do). */
/* Appends an entry named name to a growing array (*cap entries allocated) and returns it in
   *entry, zeroed but for the name. A name that does not fit tf_target_entry_t.name (>= 256
   bytes) is skipped with a warning (*entry NULL, TF_OK): one odd file must not make a whole
   folder unlistable. where names the folder for the warning. */
int tf_target_entries_push(const char *target, const char *where, tf_target_entry_t **entries, size_t *count,
                           size_t *cap, const char *name, tf_target_entry_t **entry, tf_err_t *err);
/* Whether a '/'-separated path has a '..' component ("a/../b" yes, "a/..b" no). */
bool tf_target_path_has_dotdot(const char *path);
/* The "no space left" message (TF_ERR_IO) for errno e (ENOSPC, EDQUOT) on target at where. */
int tf_target_no_space(const char *target, const char *where, int e, tf_err_t *err);
/* url with its userinfo cut to the user name ("smb://bob:pw@h/s" -> "smb://bob@h/s"), for
   messages: a password never reaches a log. */
void tf_target_url_safe(const char *url, char *out, size_t size);

extern const tf_target_ops_t tf_target_file_ops;
extern const tf_target_ops_t tf_target_smb_ops;

#endif
