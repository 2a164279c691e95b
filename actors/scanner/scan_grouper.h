/*  scan_grouper - cuts the walk's entries into file groups (one archive each). A group
    closes when its regular-file bytes reach group_bytes, at max_entries entries, or before
    its path text would pass max_text (so a group always fits in one message). Entries keep
    walk order, so parents come before children across groups too. */
#ifndef SCAN_GROUPER_H_INCLUDED
#define SCAN_GROUPER_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "tf_err.h"
#include "tf_msg.h"

#define SCAN_GROUP_MAX_ENTRIES 50000
#define SCAN_GROUP_MAX_TEXT (16u << 20)

typedef struct _scan_grouper_t scan_grouper_t;

/* Called for each closed group (group_no from 1). The entries are only valid during the call. */
typedef int(scan_group_fn)(void *arg, uint64_t group_no, const tf_msg_group_entry_t *entries, size_t count,
                           uint64_t bytes, tf_err_t *err);

scan_grouper_t *scan_grouper_new(uint64_t group_bytes, size_t max_entries, size_t max_text, scan_group_fn *emit,
                                 void *arg);
void scan_grouper_destroy(scan_grouper_t **self_p);

/* Adds an entry (size counts only for regular files: pass 0 for others). */
int scan_grouper_add(scan_grouper_t *self, const char *path, uint64_t size, tf_err_t *err);
/* Emits the last, partly filled group. */
int scan_grouper_flush(scan_grouper_t *self, tf_err_t *err);

uint64_t scan_grouper_groups(scan_grouper_t *self);
uint64_t scan_grouper_entries(scan_grouper_t *self);
uint64_t scan_grouper_bytes(scan_grouper_t *self);

#endif
