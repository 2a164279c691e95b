/*  scan_grouper - cuts the walk's entries into file groups (one archive each). A group
    closes when its regular-file bytes reach group_bytes, at max_entries entries, or before
    its path text would pass max_text (so a group always fits in one message). Entries keep
    walk order, except hard-link names that join a waiting group (below): such a name may be
    in an earlier group than its folder's own entry, so restore must not rely on parents
    coming first.

    Hard links (docs/pipeline.md, "Hard links"): an archive links the names of one file only
    within itself, so the names of a file (same device and inode, st_nlink > 1) are kept in one
    group. A group that is full while one of its files still has names not seen yet waits for
    them: the walk goes on into the next group, and those names join the waiting group (their
    folders' own entries stay where the walk put them; restore creates folders as needed). The
    waiting group closes when its names have come, or once the next group has gathered
    SCAN_GROUP_LINK_SLACK x group_bytes meanwhile (or the entry or text limit); a name that comes
    after that is reported to the warn callback: it is stored, and restores, as a separate copy.
    The grouper remembers every file with names still unseen (device, inode, first name):
    memory grows with hard-linked files whose other names are outside the walk, as with tar and
    rsync. */
#ifndef SCAN_GROUPER_H_INCLUDED
#define SCAN_GROUPER_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "tf_err.h"
#include "tf_msg.h"

#define SCAN_GROUP_MAX_ENTRIES 50000
#define SCAN_GROUP_MAX_TEXT (16u << 20)
#define SCAN_GROUP_LINK_SLACK 4

typedef struct _scan_grouper_t scan_grouper_t;

/* Called for each closed group (group_no from 1). The entries are only valid during the call. */
typedef int(scan_group_fn)(void *arg, uint64_t group_no, const tf_msg_group_entry_t *entries, size_t count,
                           uint64_t bytes, tf_err_t *err);

scan_grouper_t *scan_grouper_new(uint64_t group_bytes, size_t max_entries, size_t max_text, scan_group_fn *emit,
                                 void *arg);
void scan_grouper_destroy(scan_grouper_t **self_p);

/* A hard link name that ends up in another group than its file's first name. */
typedef void(scan_link_warn_fn)(void *arg, const char *path, const char *message);

/* Where split hard links are reported (none by default). */
void scan_grouper_set_warn(scan_grouper_t *self, scan_link_warn_fn *warn, void *arg);

/* Adds an entry (size counts only for regular files: pass 0 for others). */
int scan_grouper_add(scan_grouper_t *self, const char *path, uint64_t size, tf_err_t *err);
/* The same for an entry with st_nlink names (> 1: a hard-linked file, not a folder) on device
   dev with inode ino. */
int scan_grouper_add_linked(scan_grouper_t *self, const char *path, uint64_t size, uint64_t dev, uint64_t ino,
                            uint64_t nlink, tf_err_t *err);
/* Emits the last, partly filled group. */
int scan_grouper_flush(scan_grouper_t *self, tf_err_t *err);

uint64_t scan_grouper_groups(scan_grouper_t *self);
uint64_t scan_grouper_entries(scan_grouper_t *self);
uint64_t scan_grouper_bytes(scan_grouper_t *self);

#endif
