/*  tf_sg_open - open a SCSI device node with explicit, actionable errors. */
#include "tf_sg_open.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tf_proc_holders.h"

/* "owner root, group tape, mode 0660" for permission messages. */
static void
s_describe_owner(const char *path, char *buf, size_t size)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(buf, size, "owner unknown");
        return;
    }
    char user[64], group[64];
    struct passwd pw, *pwp = NULL;
    struct group gr, *grp = NULL;
    char scratch[2048];
    if (getpwuid_r(st.st_uid, &pw, scratch, sizeof scratch, &pwp) == 0 && pwp)
        snprintf(user, sizeof user, "%s", pwp->pw_name);
    else
        snprintf(user, sizeof user, "%u", (unsigned) st.st_uid);
    if (getgrgid_r(st.st_gid, &gr, scratch, sizeof scratch, &grp) == 0 && grp)
        snprintf(group, sizeof group, "%s", grp->gr_name);
    else
        snprintf(group, sizeof group, "%u", (unsigned) st.st_gid);
    snprintf(buf, size, "owner %s, group %s, mode %04o", user, group,
             (unsigned) (st.st_mode & 07777));
}

int
tf_sg_open_error(const char *path, int errnum, const char *proc_root, tf_err_t *err)
{
    switch (errnum) {
    case ENOENT: {
        struct stat lst;
        if (lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode)) {
            char target[PATH_MAX];
            ssize_t n = readlink(path, target, sizeof target - 1);
            target[n > 0 ? n : 0] = '\0';
            return tf_err_set(err, TF_ERR_NOTFOUND,
                              "%s is a link to %s, which does not exist: the drive is not "
                              "attached now (check power, cabling, and 'tapeflow drive list')",
                              path, target);
        }
        return tf_err_set(err, TF_ERR_NOTFOUND,
                          "device %s does not exist: the drive is not attached, or its node "
                          "name changed (nstN/sgN numbers can change across reboots); run "
                          "'tapeflow drive list' and configure the drive by serial "
                          "(serial:XYZ) or by its /dev/tape/by-id path",
                          path);
    }
    case EACCES:
    case EPERM: {
        char owner[200];
        s_describe_owner(path, owner, sizeof owner);
        return tf_err_set(err, TF_ERR_STATE,
                          "permission denied opening %s (%s): run tapeflow as root, or add the "
                          "user it runs as to the group that owns the device (usually 'tape': "
                          "usermod -aG tape USER, then log in again)",
                          path, owner);
    }
    case EBUSY: {
        char holders[512];
        int n = tf_proc_holders(proc_root, path, holders, sizeof holders);
        if (n > 0)
            return tf_err_set(err, TF_ERR_BUSY,
                              "%s is in use by %s: wait for that job to finish or stop it, "
                              "then retry",
                              path, holders);
        return tf_err_set(err, TF_ERR_BUSY,
                          "%s is in use by another process (could not tell which; try "
                          "'fuser -v %s' as root): wait for that job or stop it, then retry",
                          path, path);
    }
    case ENXIO:
    case ENODEV:
        return tf_err_set(err, TF_ERR_DEVICE,
                          "%s exists but no device answers behind it (%s): the drive was "
                          "removed, is powered off, or its driver is not bound; check dmesg, "
                          "power and cabling, then rescan the SCSI bus",
                          path, strerror(errnum));
    case ENOMEDIUM:
        return tf_err_set(err, TF_ERR_DEVICE,
                          "%s reports no cartridge: insert a cartridge and retry", path);
    case EROFS:
        return tf_err_set(err, TF_ERR_DEVICE,
                          "%s: the cartridge is write-protected; unlock its write-protect tab "
                          "or load a writable cartridge",
                          path);
    case EIO:
        return tf_err_set(err, TF_ERR_IO,
                          "I/O error opening %s: the drive does not respond; check dmesg, "
                          "power and cabling",
                          path);
    default:
        return tf_err_errno(err, TF_ERR_IO, errnum, "cannot open %s", path);
    }
}

int
tf_sg_open(const char *path, const char *proc_root, int *fd, tf_err_t *err)
{
    if (!path || !*path || !fd)
        return tf_err_set(err, TF_ERR_INVALID, "no device path given (use sg:/dev/sgN)");
    *fd = -1;
    int handle = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (handle < 0)
        return tf_sg_open_error(path, errno, proc_root, err);
    struct stat st;
    if (fstat(handle, &st) != 0) {
        int saved = errno;
        close(handle);
        return tf_err_errno(err, TF_ERR_IO, saved, "cannot stat %s", path);
    }
    if (!S_ISCHR(st.st_mode)) {
        close(handle);
        return tf_err_set(err, TF_ERR_INVALID,
                          "%s is not a character device, so it cannot be a SCSI tape drive "
                          "(for a simulated drive on an image file use sim:%s)",
                          path, path);
    }
    *fd = handle;
    return TF_OK;
}
