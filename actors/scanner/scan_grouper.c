/*  scan_grouper - entries -> file groups (see scan_grouper.h). */
#include "scan_grouper.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A hard-linked file with names not seen yet. */
typedef struct {
    uint64_t serial;     /* the buffer (group being built) holding its first name */
    uint64_t remaining;  /* names not seen yet */
    char *first;         /* its first name */
} s_link_t;

/* A group being built. */
typedef struct {
    tf_msg_group_entry_t *entries;
    size_t count;
    size_t alloc;
    size_t text;
    uint64_t bytes;
    uint64_t serial;     /* tells the buffers' link groups apart (never reused) */
    size_t open_links;   /* link groups whose first name is here and that wait for names */
} s_buf_t;

struct _scan_grouper_t {
    uint64_t group_bytes;
    size_t max_entries;
    size_t max_text;
    scan_group_fn *emit;
    void *arg;
    /* cur is the group being filled; once full with link names still to come it waits
       (waiting) and the walk goes on into next, except for those names, which join cur. */
    s_buf_t bufs[2];
    s_buf_t *cur, *next;
    bool waiting;
    uint64_t serials;
    uint64_t groups;
    uint64_t total_entries;
    uint64_t total_bytes;
    zhashx_t *links;     /* "dev:ino" -> s_link_t, files with names still to come */
    scan_link_warn_fn *warn;
    void *warn_arg;
};

static void
s_link_free(void **item)
{
    if (item && *item) {
        s_link_t *link = *item;
        free(link->first);
        free(link);
        *item = NULL;
    }
}

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
    self->cur = &self->bufs[0];
    self->next = &self->bufs[1];
    self->cur->serial = ++self->serials;
    self->next->serial = ++self->serials;
    self->links = zhashx_new();
    if (!self->links) {
        free(self);
        return NULL;
    }
    zhashx_set_destructor(self->links, s_link_free);
    return self;
}

void
scan_grouper_set_warn(scan_grouper_t *self, scan_link_warn_fn *warn, void *arg)
{
    self->warn = warn;
    self->warn_arg = arg;
}

static void
s_clear(scan_grouper_t *self, s_buf_t *buf)
{
    for (size_t i = 0; i < buf->count; i++)
        free(buf->entries[i].path);
    buf->count = 0;
    buf->text = 0;
    buf->bytes = 0;
    buf->open_links = 0;
    buf->serial = ++self->serials;  /* its link groups, if any names come later, are split */
}

void
scan_grouper_destroy(scan_grouper_t **self_p)
{
    if (self_p && *self_p) {
        scan_grouper_t *self = *self_p;
        for (int i = 0; i < 2; i++) {
            s_clear(self, &self->bufs[i]);
            free(self->bufs[i].entries);
        }
        zhashx_destroy(&self->links);
        free(self);
        *self_p = NULL;
    }
}

/* Emits cur (when it holds anything); next becomes cur. */
static int
s_emit_cur(scan_grouper_t *self, tf_err_t *err)
{
    int rc = TF_OK;
    s_buf_t *buf = self->cur;
    if (buf->count > 0) {
        self->groups++;
        rc = self->emit(self->arg, self->groups, buf->entries, buf->count, buf->bytes, err);
    }
    s_clear(self, buf);
    if (self->waiting) {
        self->cur = self->next;
        self->next = buf;
        self->waiting = false;
    }
    return rc;
}

int
scan_grouper_flush(scan_grouper_t *self, tf_err_t *err)
{
    int rc = s_emit_cur(self, err);  /* with a waiting group, next becomes cur */
    if (rc == TF_OK && self->cur->count > 0)
        rc = s_emit_cur(self, err);
    return rc;
}

/* After an entry: closes cur when full and no link names are awaited, or lets it wait; a
   waiting cur closes once its names came, or when next filled SCAN_GROUP_LINK_SLACK groups'
   worth meanwhile (the names still to come are then split off). */
static int
s_settle(scan_grouper_t *self, tf_err_t *err)
{
    for (;;) {
        s_buf_t *cur = self->cur, *next = self->next;
        if (!self->waiting) {
            bool full = cur->bytes >= self->group_bytes || cur->count >= self->max_entries;
            if (!full)
                return TF_OK;
            if (cur->open_links == 0 || cur->count >= self->max_entries)
                return s_emit_cur(self, err);
            self->waiting = true;
            return TF_OK;
        }
        bool give_up = next->bytes / SCAN_GROUP_LINK_SLACK >= self->group_bytes || next->count >= self->max_entries
                       || cur->count >= self->max_entries;
        if (cur->open_links > 0 && !give_up)
            return TF_OK;
        int rc = s_emit_cur(self, err);  /* next becomes cur: it may be full itself */
        if (rc != TF_OK)
            return rc;
    }
}

/* The buffer an entry goes to: cur, or next while cur waits (unless it is a name cur waits for). */
static s_buf_t *
s_target(scan_grouper_t *self, const s_link_t *link)
{
    if (!self->waiting)
        return self->cur;
    return link && link->serial == self->cur->serial ? self->cur : self->next;
}

/* Appends to buf; the text limit has been checked. */
static int
s_append(scan_grouper_t *self, s_buf_t *buf, const char *path, uint64_t size, tf_err_t *err)
{
    if (buf->count == buf->alloc) {
        size_t alloc = buf->alloc ? buf->alloc * 2 : 1024;
        tf_msg_group_entry_t *grown = realloc(buf->entries, alloc * sizeof *grown);
        if (!grown)
            return tf_err_set(err, TF_ERR_NOMEM, "out of memory grouping files");
        buf->entries = grown;
        buf->alloc = alloc;
    }
    char *copy = strdup(path);
    if (!copy)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory grouping files");
    buf->entries[buf->count++] = (tf_msg_group_entry_t){.path = copy, .size = size};
    buf->text += strlen(path);
    buf->bytes += size;
    self->total_entries++;
    self->total_bytes += size;
    return TF_OK;
}

/* Makes room for len more bytes of path text in the buffer the entry goes to. */
static int
s_room(scan_grouper_t *self, const s_link_t *link, size_t len, tf_err_t *err)
{
    for (int guard = 0; guard < 3; guard++) {
        s_buf_t *buf = s_target(self, link);
        if (buf->count == 0 || buf->text + len <= self->max_text)
            return TF_OK;
        int rc = s_emit_cur(self, err);  /* cur full of text, or next: cur has waited long enough */
        if (rc != TF_OK)
            return rc;
    }
    return TF_OK;
}

int
scan_grouper_add(scan_grouper_t *self, const char *path, uint64_t size, tf_err_t *err)
{
    int rc = s_room(self, NULL, strlen(path), err);
    if (rc == TF_OK)
        rc = s_append(self, s_target(self, NULL), path, size, err);
    return rc == TF_OK ? s_settle(self, err) : rc;
}

int
scan_grouper_add_linked(scan_grouper_t *self, const char *path, uint64_t size, uint64_t dev, uint64_t ino,
                        uint64_t nlink, tf_err_t *err)
{
    if (nlink <= 1)
        return scan_grouper_add(self, path, size, err);
    char key[48];
    snprintf(key, sizeof key, "%" PRIu64 ":%" PRIu64, dev, ino);
    s_link_t *link = zhashx_lookup(self->links, key);
    int rc = s_room(self, link, strlen(path), err);
    if (rc != TF_OK)
        return rc;
    link = zhashx_lookup(self->links, key);
    s_buf_t *buf = s_target(self, link);
    if (!link) {
        link = calloc(1, sizeof *link);
        if (!link || !(link->first = strdup(path))) {
            free(link);
            return tf_err_set(err, TF_ERR_NOMEM, "out of memory grouping files");
        }
        link->serial = buf->serial;
        link->remaining = nlink - 1;
        if (zhashx_insert(self->links, key, link) != 0) {
            s_link_free((void **) &link);
            return tf_err_set(err, TF_ERR_NOMEM, "out of memory grouping files");
        }
        buf->open_links++;
    }
    else {
        bool here = link->serial == buf->serial;
        if (here)
            size = 0;  /* another name of a file the group holds already: no more content */
        if (!here && self->warn) {
            char text[TF_MSG_MAX_PATH + 200];
            snprintf(text, sizeof text, "hard link to %s, which went into an earlier archive (more than %d x "
                     "scanner/group_size before it): stored and restored as a separate copy",
                     link->first, SCAN_GROUP_LINK_SLACK);
            self->warn(self->warn_arg, path, text);
        }
        if (link->remaining > 0)
            link->remaining--;
        if (link->remaining == 0) {
            if (here && buf->open_links > 0)
                buf->open_links--;
            zhashx_delete(self->links, key);
        }
    }
    rc = s_append(self, buf, path, size, err);
    return rc == TF_OK ? s_settle(self, err) : rc;
}

uint64_t
scan_grouper_groups(scan_grouper_t *self)
{
    return self->groups + (self->cur->count > 0 ? 1 : 0) + (self->waiting && self->next->count > 0 ? 1 : 0);
}

uint64_t scan_grouper_entries(scan_grouper_t *self) { return self->total_entries; }
uint64_t scan_grouper_bytes(scan_grouper_t *self) { return self->total_bytes; }
