/*  SG_IO transport: open-error mapping (ENOENT, EACCES, EBUSY with the holder named, ENXIO),
    non-device paths, and the holder scan over a fixture /proc tree. Real hardware is not
    needed: /dev/null stands in for a character device that does not speak SCSI. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "drive_test_util.h"
#include "tf_drive.h"
#include "tf_proc_holders.h"
#include "tf_sg_open.h"

/* Fixture: DIR/dev/nst0 (a file standing in for the node) and DIR/proc/<pid>/{comm,fd/N}. */
static void
s_make_proc(const char *dir, const char *target, int pid, const char *comm)
{
    char path[512];
    snprintf(path, sizeof path, "%s/proc", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/proc/%d", dir, pid);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/proc/%d/fd", dir, pid);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/proc/%d/fd/3", dir, pid);
    assert_int_equal(symlink(target, path), 0);
    snprintf(path, sizeof path, "%s/proc/%d/fd/0", dir, pid);
    assert_int_equal(symlink("/dev/null", path), 0);
    snprintf(path, sizeof path, "%s/proc/%d/comm", dir, pid);
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    fprintf(file, "%s\n", comm);
    fclose(file);
}

static void
test_open_errors(void **state)
{
    (void) state;
    char dir[256];
    assert_int_equal(dt_tempdir(dir, sizeof dir), 0);
    char node[400], link[400], proc[400];
    snprintf(node, sizeof node, "%s/nst0", dir);
    FILE *file = fopen(node, "w");
    assert_non_null(file);
    fclose(file);
    snprintf(proc, sizeof proc, "%s/proc", dir);
    s_make_proc(dir, node, 4242, "bacula-sd");
    s_make_proc(dir, "/etc/hostname", 4343, "unrelated");

    tf_err_t err = {0, ""};
    /* ENOENT: no such node. */
    assert_int_equal(tf_sg_open_error("/dev/nst9", ENOENT, proc, &err), TF_ERR_NOTFOUND);
    assert_non_null(strstr(err.message, "does not exist"));
    assert_non_null(strstr(err.message, "serial"));
    /* ENOENT through a dangling by-id link. */
    snprintf(link, sizeof link, "%s/scsi-HU123-nst", dir);
    assert_int_equal(symlink("../../nst7", link), 0);
    assert_int_equal(tf_sg_open_error(link, ENOENT, proc, &err), TF_ERR_NOTFOUND);
    assert_non_null(strstr(err.message, "is a link to ../../nst7"));
    /* EACCES: permission, suggesting the tape group or root. */
    assert_int_equal(tf_sg_open_error(node, EACCES, proc, &err), TF_ERR_STATE);
    assert_non_null(strstr(err.message, "permission denied"));
    assert_non_null(strstr(err.message, "'tape'"));
    assert_non_null(strstr(err.message, "root"));
    assert_non_null(strstr(err.message, "mode 0"));
    /* EBUSY: the holder is named from /proc. */
    assert_int_equal(tf_sg_open_error(node, EBUSY, proc, &err), TF_ERR_BUSY);
    assert_non_null(strstr(err.message, "in use by pid 4242 (bacula-sd)"));
    assert_null(strstr(err.message, "unrelated"));
    /* EBUSY without a visible holder. */
    assert_int_equal(tf_sg_open_error("/dev/sg99", EBUSY, proc, &err), TF_ERR_BUSY);
    assert_non_null(strstr(err.message, "fuser"));
    /* ENXIO / ENODEV: node without a device. */
    assert_int_equal(tf_sg_open_error(node, ENXIO, proc, &err), TF_ERR_DEVICE);
    assert_non_null(strstr(err.message, "no device answers"));
    assert_int_equal(tf_sg_open_error(node, ENODEV, proc, &err), TF_ERR_DEVICE);
    assert_int_equal(tf_sg_open_error(node, ENOMEDIUM, proc, &err), TF_ERR_DEVICE);
    assert_non_null(strstr(err.message, "no cartridge"));
    assert_int_equal(tf_sg_open_error(node, EIO, proc, &err), TF_ERR_IO);
    assert_int_equal(tf_sg_open_error(node, EMFILE, proc, &err), TF_ERR_IO);
    assert_non_null(strstr(err.message, "cannot open"));

    /* Holder scan directly. */
    char holders[256];
    assert_int_equal(tf_proc_holders(proc, node, holders, sizeof holders), 1);
    assert_string_equal(holders, "pid 4242 (bacula-sd)");
    assert_int_equal(tf_proc_holders("/nonexistent-proc", node, holders, sizeof holders), 0);
    assert_int_equal(tf_proc_holders(proc, "/nonexistent-file", holders, sizeof holders), 0);

    /* Real opens: missing path, and a regular file that is no device. */
    int fd = -1;
    assert_int_equal(tf_sg_open("/dev/tf-no-such-tape", "/proc", &fd, &err), TF_ERR_NOTFOUND);
    assert_int_equal(fd, -1);
    assert_int_equal(tf_sg_open(node, "/proc", &fd, &err), TF_ERR_INVALID);
    assert_non_null(strstr(err.message, "not a character device"));
    assert_non_null(strstr(err.message, "sim:"));
    assert_int_equal(tf_sg_open(NULL, "/proc", &fd, &err), TF_ERR_INVALID);
    dt_remove_tree(dir);
}

static void
test_sg_transport_on_non_scsi_device(void **state)
{
    (void) state;
    /* /dev/null opens (character device) but rejects SG_IO: a transport failure. */
    tf_err_t err = {0, ""};
    tf_drive_t *drive = tf_drive_open("sg:/dev/null", &err);
    if (!drive)
        fail_msg("open sg:/dev/null: %s", err.message);
    tf_drive_inquiry_t inq;
    assert_int_not_equal(tf_drive_inquiry(drive, &inq, &err), TF_OK);
    assert_int_equal(tf_drive_last_cond(drive), TF_DRIVE_COND_TRANSPORT);
    assert_non_null(strstr(err.message, "SG_IO"));
    assert_non_null(strstr(err.message, "/dev/null"));
    tf_drive_destroy(&drive);
    assert_null(tf_drive_open("sg:/dev/tf-no-such-sg", &err));
    assert_int_equal(err.code, TF_ERR_NOTFOUND);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_sg_transport_on_non_scsi_device),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
