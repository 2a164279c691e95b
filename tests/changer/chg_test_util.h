/*  chg_test_util - temp folders and stdout capture for the changer tests. */
#ifndef CHG_TEST_UTIL_H_INCLUDED
#define CHG_TEST_UTIL_H_INCLUDED

#include <stddef.h>

/* mkdtemp under /tmp; path written to dir. Returns 0 on success. */
int ct_tempdir(char *dir, size_t size);
/* rm -r of a folder (files, symlinks, subfolders). */
void ct_remove_tree(const char *dir);
/* Runs fn(arg) with stdout redirected; returns fn's result and the output (malloc'd) in *out. */
int ct_capture(int (*fn)(void *), void *arg, char **out);

#endif
