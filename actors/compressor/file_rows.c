/*  file_rows - catalog rows of one archive (see file_rows.h). */
#include "file_rows.h"

#include <stdlib.h>
#include <string.h>

struct _file_rows_t {
    tf_msg_file_row_t *rows;
    size_t count;
    size_t alloc;
    size_t *starts;        /* first row of each part */
    size_t nparts;
    size_t starts_alloc;
    size_t part_rows;      /* rows in the current (last) part */
    size_t part_text;
    tf_msg_warning_row_t *warnings;
    size_t nwarnings;
    size_t warnings_alloc;
};

file_rows_t *
file_rows_new(void)
{
    return calloc(1, sizeof(file_rows_t));
}

static void
s_row_free(tf_msg_file_row_t *row)
{
    free(row->path);
    free(row->type);
    free(row->user);
    free(row->group);
    free(row->checksum);
    free(row->link);
}

void
file_rows_destroy(file_rows_t **self_p)
{
    if (self_p && *self_p) {
        file_rows_t *self = *self_p;
        for (size_t i = 0; i < self->count; i++)
            s_row_free(&self->rows[i]);
        for (size_t i = 0; i < self->nwarnings; i++) {
            free(self->warnings[i].path);
            free(self->warnings[i].reason);
        }
        free(self->warnings);
        free(self->rows);
        free(self->starts);
        free(self);
        *self_p = NULL;
    }
}

static bool
s_copy(char **dst, const char *src)
{
    *dst = NULL;
    if (!src)
        return true;
    *dst = strdup(src);
    return *dst != NULL;
}

int
file_rows_add(file_rows_t *self, const tf_msg_file_row_t *row, tf_err_t *err)
{
    if (self->count == self->alloc) {
        size_t alloc = self->alloc ? self->alloc * 2 : 256;
        tf_msg_file_row_t *rows = realloc(self->rows, alloc * sizeof *rows);
        if (!rows)
            return tf_err_set(err, TF_ERR_NOMEM, "out of memory for file rows");
        self->rows = rows;
        self->alloc = alloc;
    }
    size_t text = strlen(row->path) + (row->link ? strlen(row->link) : 0) + 256;
    if (self->nparts == 0 || self->part_rows >= FILE_ROWS_PART_MAX || self->part_text + text > FILE_ROWS_PART_TEXT) {
        if (self->nparts == self->starts_alloc) {
            size_t alloc = self->starts_alloc ? self->starts_alloc * 2 : 8;
            size_t *starts = realloc(self->starts, alloc * sizeof *starts);
            if (!starts)
                return tf_err_set(err, TF_ERR_NOMEM, "out of memory for file rows");
            self->starts = starts;
            self->starts_alloc = alloc;
        }
        self->starts[self->nparts++] = self->count;
        self->part_rows = 0;
        self->part_text = 0;
    }
    tf_msg_file_row_t *r = &self->rows[self->count];
    *r = *row;
    if (!s_copy(&r->path, row->path) || !s_copy(&r->type, row->type) || !s_copy(&r->user, row->user)
        || !s_copy(&r->group, row->group) || !s_copy(&r->checksum, row->checksum) || !s_copy(&r->link, row->link)) {
        s_row_free(r);
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory for file rows");
    }
    self->count++;
    self->part_rows++;
    self->part_text += text;
    return TF_OK;
}

size_t file_rows_count(file_rows_t *self) { return self->count; }
tf_msg_file_row_t *file_rows_at(file_rows_t *self, size_t index) { return &self->rows[index]; }

size_t
file_rows_parts(file_rows_t *self)
{
    return self->nparts;
}

void
file_rows_part(file_rows_t *self, size_t part, size_t *first, size_t *count)
{
    *first = *count = 0;
    if (part < 1 || part > self->nparts)
        return;
    *first = self->starts[part - 1];
    *count = (part < self->nparts ? self->starts[part] : self->count) - *first;
}

int
file_rows_warn(file_rows_t *self, const char *path, const char *reason, bool missing, tf_err_t *err)
{
    if (self->nwarnings == self->warnings_alloc) {
        size_t alloc = self->warnings_alloc ? self->warnings_alloc * 2 : 16;
        tf_msg_warning_row_t *bigger = realloc(self->warnings, alloc * sizeof *bigger);
        if (!bigger)
            return tf_err_set(err, TF_ERR_NOMEM, "out of memory for warnings");
        self->warnings = bigger;
        self->warnings_alloc = alloc;
    }
    tf_msg_warning_row_t *w = &self->warnings[self->nwarnings];
    w->path = strdup(path);
    w->reason = strndup(reason ? reason : "", FILE_ROWS_REASON_MAX);
    w->missing = missing;
    if (!w->path || !w->reason) {
        free(w->path);
        free(w->reason);
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory for warnings");
    }
    self->nwarnings++;
    return TF_OK;
}

size_t file_rows_warnings_count(file_rows_t *self) { return self->nwarnings; }
tf_msg_warning_row_t *file_rows_warnings(file_rows_t *self) { return self->warnings; }
