/*  scan_grouper - entries -> file groups (see scan_grouper.h). */
#include "scan_grouper.h"

#include <stdlib.h>
#include <string.h>

struct _scan_grouper_t {
    uint64_t group_bytes;
    size_t max_entries;
    size_t max_text;
    scan_group_fn *emit;
    void *arg;
    tf_msg_group_entry_t *entries;
    size_t count;
    size_t alloc;
    size_t text;
    uint64_t bytes;
    uint64_t groups;
    uint64_t total_entries;
    uint64_t total_bytes;
};

scan_grouper_t *
scan_grouper_new(uint64_t group_bytes, size_t max_entries, size_t max_text, scan_group_fn *emit, void *arg)
{
    scan_grouper_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->group_bytes = group_bytes ? group_bytes : 1;
    self->max_entries = max_entries ? max_entries : SCAN_GROUP_MAX_ENTRIES;
    self->max_text = max_text ? max_text : SCAN_GROUP_MAX_TEXT;
    self->emit = emit;
    self->arg = arg;
    return self;
}

static void
s_clear(scan_grouper_t *self)
{
    for (size_t i = 0; i < self->count; i++)
        free(self->entries[i].path);
    self->count = 0;
    self->text = 0;
    self->bytes = 0;
}

void
scan_grouper_destroy(scan_grouper_t **self_p)
{
    if (self_p && *self_p) {
        scan_grouper_t *self = *self_p;
        s_clear(self);
        free(self->entries);
        free(self);
        *self_p = NULL;
    }
}

int
scan_grouper_flush(scan_grouper_t *self, tf_err_t *err)
{
    if (self->count == 0)
        return TF_OK;
    self->groups++;
    int rc = self->emit(self->arg, self->groups, self->entries, self->count, self->bytes, err);
    s_clear(self);
    return rc;
}

int
scan_grouper_add(scan_grouper_t *self, const char *path, uint64_t size, tf_err_t *err)
{
    size_t len = strlen(path);
    if (self->count > 0 && self->text + len > self->max_text) {
        int rc = scan_grouper_flush(self, err);
        if (rc != TF_OK)
            return rc;
    }
    if (self->count == self->alloc) {
        size_t alloc = self->alloc ? self->alloc * 2 : 1024;
        tf_msg_group_entry_t *grown = realloc(self->entries, alloc * sizeof *grown);
        if (!grown)
            return tf_err_set(err, TF_ERR_NOMEM, "out of memory grouping files");
        self->entries = grown;
        self->alloc = alloc;
    }
    char *copy = strdup(path);
    if (!copy)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory grouping files");
    self->entries[self->count++] = (tf_msg_group_entry_t){.path = copy, .size = size};
    self->text += len;
    self->bytes += size;
    self->total_entries++;
    self->total_bytes += size;
    if (self->bytes >= self->group_bytes || self->count >= self->max_entries)
        return scan_grouper_flush(self, err);
    return TF_OK;
}

uint64_t scan_grouper_groups(scan_grouper_t *self) { return self->groups + (self->count > 0 ? 1 : 0); }
uint64_t scan_grouper_entries(scan_grouper_t *self) { return self->total_entries; }
uint64_t scan_grouper_bytes(scan_grouper_t *self) { return self->total_bytes; }
