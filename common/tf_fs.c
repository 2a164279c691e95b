/*  tf_fs - small file-system helpers. */
#include "tf_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int
tf_fs_mkdir_p(const char *path, tf_err_t *err)
{
    char buf[PATH_MAX];
    if (!path || !*path)
        return tf_err_set(err, TF_ERR_INVALID, "empty folder path");
    if (snprintf(buf, sizeof buf, "%s", path) >= (int) sizeof buf)
        return tf_err_set(err, TF_ERR_INVALID, "folder path too long: %s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0750) != 0 && errno != EEXIST)
            return tf_err_errno(err, TF_ERR_IO, errno, "cannot create folder %s", buf);
        *p = '/';
    }
    if (mkdir(buf, 0750) != 0 && errno != EEXIST)
        return tf_err_errno(err, TF_ERR_IO, errno, "cannot create folder %s", buf);
    struct stat st;
    if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
        return tf_err_set(err, TF_ERR_IO, "%s exists but is not a folder", buf);
    return TF_OK;
}

int
tf_fs_mkdir_parent(const char *file_path, tf_err_t *err)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", file_path) >= (int) sizeof buf)
        return tf_err_set(err, TF_ERR_INVALID, "path too long: %s", file_path);
    return tf_fs_mkdir_p(dirname(buf), err);
}

int
tf_fs_write_atomic(const char *path, const void *data, size_t size, tf_err_t *err)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int) getpid()) >= (int) sizeof tmp)
        return tf_err_set(err, TF_ERR_INVALID, "path too long: %s", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        return tf_err_errno(err, TF_ERR_IO, errno, "cannot create %s", tmp);
    const char *p = data;
    size_t left = size;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            return tf_err_errno(err, TF_ERR_IO, e, "cannot write %s", tmp);
        }
        p += n;
        left -= (size_t) n;
    }
    if (fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return tf_err_errno(err, TF_ERR_IO, e, "cannot fsync %s", tmp);
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return tf_err_errno(err, TF_ERR_IO, e, "cannot rename %s to %s", tmp, path);
    }
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return TF_OK;
}
