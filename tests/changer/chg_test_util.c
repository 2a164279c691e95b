/*  chg_test_util - temp folders and stdout capture for the changer tests. */
#define _GNU_SOURCE
#include "chg_test_util.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
ct_tempdir(char *dir, size_t size)
{
    snprintf(dir, size, "/tmp/tf-chg-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int
s_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;
    return remove(path) == 0 ? 0 : 0;
}

void
ct_remove_tree(const char *dir)
{
    if (dir && *dir)
        nftw(dir, s_rm, 16, FTW_DEPTH | FTW_PHYS);
}

int
ct_capture(int (*fn)(void *), void *arg, char **out)
{
    *out = NULL;
    fflush(stdout);
    char path[] = "/tmp/tf-chg-out-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return -1000;
    int saved = dup(1);
    if (saved < 0) {
        close(fd);
        unlink(path);
        return -1000;
    }
    dup2(fd, 1);
    int rc = fn(arg);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    off_t len = lseek(fd, 0, SEEK_END);
    char *text = malloc(len > 0 ? (size_t) len + 1 : 1);
    if (text) {
        ssize_t got = len > 0 ? pread(fd, text, (size_t) len, 0) : 0;
        text[got > 0 ? got : 0] = '\0';
    }
    close(fd);
    unlink(path);
    *out = text;
    return rc;
}
