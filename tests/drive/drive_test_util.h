/*  drive_test_util - temp folders and stdout capture for the drive tests. */
#ifndef DRIVE_TEST_UTIL_H_INCLUDED
#define DRIVE_TEST_UTIL_H_INCLUDED

#include <stddef.h>

/* mkdtemp under /tmp; path written to dir. Returns 0 on success. */
int dt_tempdir(char *dir, size_t size);
/* rm -r of a temp folder created by dt_tempdir (files and one level of folders). */
void dt_remove_tree(const char *dir);
/* Runs fn(arg) with stdout redirected; returns fn's result and the output (malloc'd) in *out. */
int dt_capture(int (*fn)(void *), void *arg, char **out);

#endif
