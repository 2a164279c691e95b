/*  Discovery from a fixture sysfs/dev tree built at test time, and the name resolver. */
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
#include "tf_config.h"
#include "tf_discover.h"
#include "tf_drive_resolve.h"

typedef struct {
    char dir[256];
    char sys[300];
    char dev[300];
} s_tree_t;

static void
s_mkdirs(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(buf, 0755);
            *p = '/';
        }
    }
    mkdir(buf, 0755);
}

static void
s_write(const char *dir, const char *name, const void *data, size_t len)
{
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_true(n > 0 && (size_t) n < sizeof path);
    FILE *file = fopen(path, "wb");
    assert_non_null(file);
    assert_int_equal(fwrite(data, 1, len, file), len);
    fclose(file);
}

/* symlink DIR/NAME[/SUFFIX] -> target */
static void
s_link(const char *target, const char *dir, const char *name, const char *suffix)
{
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/%s%s%s", dir, name, suffix ? "/" : "",
                     suffix ? suffix : "");
    assert_true(n > 0 && (size_t) n < sizeof path);
    assert_int_equal(symlink(target, path), 0);
}

/* Drive A: st + sg, VPD serial HU1234567, by-id links. Drive B: sg only, `serial` attribute.
   A disk on sg5 (type 0) must be ignored, and st0/nst0a aliases too. */
static int
s_setup(void **state)
{
    s_tree_t *t = calloc(1, sizeof *t);
    if (!t || dt_tempdir(t->dir, sizeof t->dir) != 0)
        return -1;
    snprintf(t->sys, sizeof t->sys, "%s/sys", t->dir);
    snprintf(t->dev, sizeof t->dev, "%s/dev", t->dir);
    char d[1024];
    snprintf(d, sizeof d, "%s/devices/host0/0:0:1:0", t->sys);
    s_mkdirs(d);
    s_write(d, "vendor", "HP      \n", 9);
    s_write(d, "model", "Ultrium 9-SCSI  \n", 17);
    s_write(d, "rev", "R3C1\n", 5);
    s_write(d, "type", "1\n", 2);
    const unsigned char vpd[] = {0x01, 0x80, 0x00, 0x0C, ' ', ' ', 'H', 'U', '1', '2', '3', '4',
                                 '5', '6', '7', ' '};
    s_write(d, "vpd_pg80", vpd, sizeof vpd);
    char sg[1100];
    snprintf(sg, sizeof sg, "%s/scsi_generic/sg3", d);
    s_mkdirs(sg);
    snprintf(d, sizeof d, "%s/devices/host0/0:0:2:0", t->sys);
    s_mkdirs(d);
    s_write(d, "vendor", "IBM\n", 4);
    s_write(d, "model", "ULT3580-TD8\n", 12);
    s_write(d, "rev", "Q3A0\n", 5);
    s_write(d, "type", "1\n", 2);
    s_write(d, "serial", "SER2\n", 5);
    snprintf(d, sizeof d, "%s/devices/host0/0:0:3:0", t->sys);
    s_mkdirs(d);
    s_write(d, "type", "0\n", 2);
    s_write(d, "vendor", "ATA\n", 4);
    /* class links */
    snprintf(d, sizeof d, "%s/class/scsi_tape", t->sys);
    const char *tape_names[] = {"nst0", "st0", "nst0a"};
    for (int i = 0; i < 3; i++) {
        char c[1100];
        snprintf(c, sizeof c, "%s/%s", d, tape_names[i]);
        s_mkdirs(c);
        s_link("../../../devices/host0/0:0:1:0", d, tape_names[i], "device");
    }
    snprintf(d, sizeof d, "%s/class/scsi_generic", t->sys);
    const char *sg_names[] = {"sg3", "sg4", "sg5"};
    const char *sg_targets[] = {"../../../devices/host0/0:0:1:0", "../../../devices/host0/0:0:2:0",
                                "../../../devices/host0/0:0:3:0"};
    for (int i = 0; i < 3; i++) {
        char c[1100];
        snprintf(c, sizeof c, "%s/%s", d, sg_names[i]);
        s_mkdirs(c);
        s_link(sg_targets[i], d, sg_names[i], "device");
    }
    /* /dev */
    char by_id[400];
    snprintf(by_id, sizeof by_id, "%s/tape/by-id", t->dev);
    s_mkdirs(by_id);
    s_write(t->dev, "nst0", "", 0);
    s_write(t->dev, "sg3", "", 0);
    s_link("../../st0", by_id, "scsi-HU1234567", NULL);
    s_link("../../nst0", by_id, "scsi-HU1234567-nst", NULL);
    *state = t;
    return 0;
}

static int
s_teardown(void **state)
{
    s_tree_t *t = *state;
    dt_remove_tree(t->dir);
    free(t);
    return 0;
}

static void
test_discover(void **state)
{
    s_tree_t *t = *state;
    tf_err_t err = {0, ""};
    tf_discover_t *found = tf_discover_scan(t->sys, t->dev, &err);
    assert_non_null(found);
    assert_int_equal(tf_discover_count(found), 2);
    const tf_discover_drive_t *a = tf_discover_by_serial(found, "HU1234567");
    assert_non_null(a);
    assert_string_equal(a->vendor, "HP");
    assert_string_equal(a->model, "Ultrium 9-SCSI");
    assert_string_equal(a->revision, "R3C1");
    assert_string_equal(a->hctl, "0:0:1:0");
    char want[600];
    snprintf(want, sizeof want, "%s/nst0", t->dev);
    assert_string_equal(a->nst, want);
    snprintf(want, sizeof want, "%s/sg3", t->dev);
    assert_string_equal(a->sg, want);
    snprintf(want, sizeof want, "%s/tape/by-id/scsi-HU1234567-nst", t->dev);
    assert_string_equal(a->by_id, want);
    snprintf(want, sizeof want, "sg:%s/sg3", t->dev);
    assert_string_equal(a->url, want);
    const tf_discover_drive_t *b = tf_discover_by_serial(found, "SER2");
    assert_non_null(b);
    assert_string_equal(b->vendor, "IBM");
    assert_string_equal(b->nst, "");
    snprintf(want, sizeof want, "%s/sg4", t->dev);
    assert_string_equal(b->sg, want);
    assert_string_equal(b->by_id, "");
    assert_null(tf_discover_by_serial(found, "NOPE"));
    snprintf(want, sizeof want, "%s/tape/by-id/scsi-HU1234567-nst", t->dev);
    assert_ptr_equal(tf_discover_by_path(found, want), a);
    tf_discover_destroy(&found);
    assert_null(found);
    /* An empty or missing tree is no error, just no drives. */
    found = tf_discover_scan("/nonexistent-sys", "/nonexistent-dev", &err);
    assert_non_null(found);
    assert_int_equal(tf_discover_count(found), 0);
    tf_discover_destroy(&found);
}

static void
test_resolve(void **state)
{
    s_tree_t *t = *state;
    tf_err_t err = {0, ""};
    char url[1024], want[600];
    tf_config_t *cfg = tf_config_new();
    assert_non_null(cfg);
    tf_config_set(cfg, "drives/lto1/url", "serial:SER2");
    tf_config_set(cfg, "drives/lto2/url", "sim:/var/tmp/t.img");
    tf_config_set(cfg, "drives/broken/url", "/dev/nst0 please");
    tf_config_set(cfg, "drives/gone/url", "serial:MISSING");
    assert_int_equal(tf_drive_resolve(cfg, "sim:/x.img", t->sys, t->dev, url, sizeof url, &err),
                     TF_OK);
    assert_string_equal(url, "sim:/x.img");
    assert_int_equal(tf_drive_resolve(cfg, "serial:HU1234567", t->sys, t->dev, url, sizeof url,
                                      &err),
                     TF_OK);
    snprintf(want, sizeof want, "sg:%s/sg3", t->dev);
    assert_string_equal(url, want);
    assert_int_equal(tf_drive_resolve(cfg, "lto1", t->sys, t->dev, url, sizeof url, &err), TF_OK);
    snprintf(want, sizeof want, "sg:%s/sg4", t->dev);
    assert_string_equal(url, want);
    assert_int_equal(tf_drive_resolve(cfg, "lto2", t->sys, t->dev, url, sizeof url, &err), TF_OK);
    assert_string_equal(url, "sim:/var/tmp/t.img");
    assert_int_equal(tf_drive_resolve(cfg, "broken", t->sys, t->dev, url, sizeof url, &err),
                     TF_ERR_INVALID);
    assert_non_null(strstr(err.message, "not a drive URL"));
    assert_int_equal(tf_drive_resolve(cfg, "gone", t->sys, t->dev, url, sizeof url, &err),
                     TF_ERR_NOTFOUND);
    assert_non_null(strstr(err.message, "drive 'gone'"));
    assert_non_null(strstr(err.message, "serial MISSING"));
    assert_non_null(strstr(err.message, "2 drives found"));
    assert_int_equal(tf_drive_resolve(cfg, "lto9", t->sys, t->dev, url, sizeof url, &err),
                     TF_ERR_NOTFOUND);
    assert_non_null(strstr(err.message, "drives/lto9/url"));
    assert_int_equal(tf_drive_resolve(NULL, "/dev/sg3", t->sys, t->dev, url, sizeof url, &err),
                     TF_OK);
    assert_string_equal(url, "sg:/dev/sg3");
    assert_int_equal(tf_drive_resolve(NULL, "", t->sys, t->dev, url, sizeof url, &err),
                     TF_ERR_INVALID);
    tf_config_destroy(&cfg);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_discover),
        cmocka_unit_test(test_resolve),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
