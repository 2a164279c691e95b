/*  file_rows - the catalog rows of one archive (tf_msg_file_row_t with owned strings), and
    their split into cat_files parts of at most 50,000 rows / 16 MiB of text each; plus the
    archive's entry warnings (skipped or incomplete entries). */
#ifndef FILE_ROWS_H_INCLUDED
#define FILE_ROWS_H_INCLUDED

#include <stddef.h>

#include "tf_err.h"
#include "tf_msg.h"

#include <stdbool.h>

#define FILE_ROWS_PART_MAX 50000
/* An entry warning's reason is cut at this many bytes (a group has up to 50,000 entries). */
#define FILE_ROWS_REASON_MAX 256
#define FILE_ROWS_PART_TEXT (16u << 20)

typedef struct _file_rows_t file_rows_t;

file_rows_t *file_rows_new(void);
void file_rows_destroy(file_rows_t **self_p);

/* Appends a copy of row (strings copied; NULL strings stay NULL). */
int file_rows_add(file_rows_t *self, const tf_msg_file_row_t *row, tf_err_t *err);
size_t file_rows_count(file_rows_t *self);
tf_msg_file_row_t *file_rows_at(file_rows_t *self, size_t index);

/* Number of cat_files parts, and the rows [*first, *first + *count) of part (from 1). */
size_t file_rows_parts(file_rows_t *self);
void file_rows_part(file_rows_t *self, size_t part, size_t *first, size_t *count);

/* The archive's entry warnings (sent with part 1, docs/catalog.md "Missing entries"): path as
   scanned, the reason, and whether the entry is missing from the archive (skipped). */
int file_rows_warn(file_rows_t *self, const char *path, const char *reason, bool missing, tf_err_t *err);
size_t file_rows_warnings_count(file_rows_t *self);
tf_msg_warning_row_t *file_rows_warnings(file_rows_t *self);

#endif
