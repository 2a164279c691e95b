/*  tf_fs - small file-system helpers. */
#ifndef TF_FS_H_INCLUDED
#define TF_FS_H_INCLUDED
#include "tf_err.h"

/* Creates path and its parents (mode 0750 for new folders); existing folders are fine. */
int tf_fs_mkdir_p(const char *path, tf_err_t *err);
/* Creates the parent folder of a file path. */
int tf_fs_mkdir_parent(const char *file_path, tf_err_t *err);
/* Writes data to path atomically: temp file in the same folder, fsync, rename, fsync folder. */
int tf_fs_write_atomic(const char *path, const void *data, size_t size, tf_err_t *err);

#endif
