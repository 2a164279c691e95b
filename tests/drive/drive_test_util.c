/*  drive_test_util - helpers shared by the drive tests. */
#include "drive_test_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int
dt_tempdir(char *dir, size_t size)
{
    snprintf(dir, size, "/tmp/tf-drive-test-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

void
dt_remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
            dt_remove_tree(path);
        else
            unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

int
dt_capture(int (*fn)(void *), void *arg, char **out)
{
    fflush(stdout);
    char path[] = "/tmp/tf-drive-out-XXXXXX";
    int fd = mkstemp(path);
    int saved = dup(1);
    if (fd < 0 || saved < 0)
        return -1000;
    dup2(fd, 1);
    int rc = fn(arg);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    off_t len = lseek(fd, 0, SEEK_END);
    *out = calloc(1, (size_t) (len > 0 ? len : 0) + 1);
    if (*out && len > 0 && pread(fd, *out, (size_t) len, 0) != len)
        (*out)[0] = '\0';
    close(fd);
    unlink(path);
    /* Echo for the test log. */
    if (*out)
        fprintf(stderr, "%s", *out);
    return rc;
}
