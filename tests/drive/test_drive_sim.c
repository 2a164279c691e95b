/*  The drive API against the simulated drive: the shared suite on several sim variants, and
    every injected fault giving the right condition and an actionable message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "api_suite.h"
#include "drive_test_util.h"
#include "tf_drive.h"

typedef struct {
    char dir[256];
    char url[512];
} s_fixture_t;

static int
s_setup(void **state)
{
    s_fixture_t *f = calloc(1, sizeof *f);
    if (!f || dt_tempdir(f->dir, sizeof f->dir) != 0)
        return -1;
    *state = f;
    return 0;
}

static int
s_teardown(void **state)
{
    s_fixture_t *f = *state;
    dt_remove_tree(f->dir);
    free(f);
    return 0;
}

/* sim URL for image `name` with options. */
static const char *
s_url(s_fixture_t *f, const char *name, const char *options)
{
    snprintf(f->url, sizeof f->url, "sim:%s/%s%s%s", f->dir, name, options ? "?" : "",
             options ? options : "");
    return f->url;
}

static void
s_run_suite(void **state, const char *options, bool reports_position, bool tapealert)
{
    s_fixture_t *f = *state;
    char url[512];
    snprintf(url, sizeof url, "%s", s_url(f, "suite.img", options));
    api_suite_t suite = {url, tapealert, reports_position};
    api_suite_identity(&suite);
    api_suite_read_write(&suite);
    api_suite_positioning(&suite);
    api_suite_misc(&suite);
}

static void
test_suite_plain(void **state)
{
    s_run_suite(state, NULL, true, true);
}

static void
test_suite_descriptor_sense(void **state)
{
    s_run_suite(state, "sense=descriptor", true, true);
}

static void
test_suite_tgt_quirks(void **state)
{
    /* LOCATE, ERASE, LOG SENSE, SPACE(16) missing; READ POSITION says nothing. */
    s_run_suite(state, "quirks=tgt", false, false);
}

static tf_drive_t *
s_open(const char *url)
{
    tf_err_t err = {0, ""};
    tf_drive_t *drive = tf_drive_open(url, &err);
    if (!drive)
        fail_msg("open %s: %s", url, err.message);
    return drive;
}

static void
test_fault_becoming_ready(void **state)
{
    s_fixture_t *f = *state;
    tf_drive_t *drive = s_open(s_url(f, "nr.img", "not_ready=0.3"));
    tf_err_t err = {0, ""};
    assert_int_equal(tf_drive_test_unit_ready(drive, &err), TF_ERR_BUSY);
    assert_int_equal(tf_drive_last_cond(drive), TF_DRIVE_COND_BECOMING_READY);
    assert_non_null(strstr(err.message, "becoming ready"));
    assert_non_null(strstr(err.message, "04/01"));
    /* Waiting long enough succeeds. */
    assert_int_equal(tf_drive_wait_ready(drive, 20000, &err), TF_OK);
    tf_drive_destroy(&drive);

    drive = s_open(s_url(f, "nr.img", "not_ready=60"));
    assert_int_equal(tf_drive_wait_ready(drive, 200, &err), TF_ERR_TIMEOUT);
    assert_int_equal(tf_drive_last_cond(drive), TF_DRIVE_COND_BECOMING_READY);
    assert_non_null(strstr(err.message, "still not ready"));
    assert_non_null(strstr(err.message, "--timeout"));
    tf_drive_destroy(&drive);
}

static void
test_fault_no_medium(void **state)
{
    s_fixture_t *f = *state;
    tf_drive_t *drive = s_open(s_url(f, "nm.img", "no_medium=1"));
    tf_err_t err = {0, ""};
    tf_drive_inquiry_t inq;
    assert_int_equal(tf_drive_inquiry(drive, &inq, &err), TF_OK); /* answers without tape */
    assert_int_equal(tf_drive_wait_ready(drive, 5000, &err), TF_ERR_DEVICE);
    assert_int_equal(tf_drive_last_cond(drive), TF_DRIVE_COND_NO_MEDIUM);
    assert_non_null(strstr(err.message, "no cartridge"));
    assert_non_null(strstr(err.message, "insert a cartridge"));
    uint8_t buf[100] = {0};
    assert_int_equal(tf_drive_write_block(drive, buf, sizeof buf, &err), TF_ERR_DEVICE);
    assert_int_equal(tf_drive_last_cond(drive), TF_DRIVE_COND_NO_MEDIUM);
    tf_drive_medium_t medium;
    assert_int_equal(tf_drive_medium_status(drive, &medium, &err), TF_OK);
    assert_false(medium.present);
    assert_int_equal(tf_drive_load(drive, &err), TF_ERR_DEVICE);
    tf_drive_destroy(&drive);
}

static void
test_fault_write_protect(void **state)
{
    s_fixture_t *f = *state;
    tf_drive_t *drive = s_open(s_url(f, "wp.img", "write_protect=1"));
    tf_err_t err = {0, ""};
    assert_int_equal(tf_drive_wait_ready(drive, 5000, &err), TF_OK);
    assert_int_equal(tf_drive_rewind(drive, &err), TF_OK);
    uint8_t buf[100] = {0};
    assert_int_equal(tf_drive_write_block(drive, buf, sizeof buf, &err), TF_ERR_DEVICE);
    assert_int_equal(tf_drive_last_cond(drive), TF_DRIVE_COND_WRITE_PROTECTED);
    assert_non_null(strstr(err.message, "write-protected"));
    assert_non_null(strstr(err.message, "write-protect tab"));
    assert_int_equal(tf_drive_write_filemarks(drive, 1, false, &err), TF_ERR_DEVICE);
    assert_int_equal(tf_drive_erase(drive, false, &err), TF_ERR_DEVICE);
    tf_drive_medium_t medium;
    assert_int_equal(tf_drive_medium_status(drive, &medium, &err), TF_OK);
    assert_true(medium.write_protected);
    uint64_t flags = 0;
    assert_int_equal(tf_drive_tapealert(drive, &flags, &err), TF_OK);
    assert_true(flags & (1ull << 8)); /* flag 9: write protect */
    assert_string_equal(tf_drive_tapealert_name(9), "write protect");
    tf_drive_destroy(&drive);
}

static void
test_fault_unit_attention(void **state)
{
    s_fixture_t *f = *state;
    const char *variants[2] = {"ua=medium", "ua=reset"};
    tf_drive_cond_t conds[2] = {TF_DRIVE_COND_MEDIUM_CHANGED, TF_DRIVE_COND_RESET};
    for (int i = 0; i < 2; i++) {
        tf_err_t err = {0, ""};
        /* A write as the first command fails: the position is unknown after a UA. */
        tf_drive_t *drive = s_open(s_url(f, "ua.img", variants[i]));
        uint8_t buf[100] = {0};
        assert_int_equal(tf_drive_write_block(drive, buf, sizeof buf, &err), TF_ERR_STATE);
        assert_int_equal(tf_drive_last_cond(drive), conds[i]);
        assert_non_null(strstr(err.message, "position"));
        tf_drive_pos_t pos;
        tf_drive_position(drive, &pos);
        assert_false(pos.file_known);
        assert_int_equal(tf_drive_unit_attention(drive), conds[i]);
        assert_int_equal(tf_drive_unit_attention(drive), TF_DRIVE_COND_NONE);
        tf_drive_destroy(&drive);
        /* Commands that do not move the tape are retried transparently. */
        drive = s_open(s_url(f, "ua.img", variants[i]));
        assert_int_equal(tf_drive_wait_ready(drive, 5000, &err), TF_OK);
        assert_int_equal(tf_drive_unit_attention(drive), conds[i]);
        assert_int_equal(tf_drive_rewind(drive, &err), TF_OK);
        assert_int_equal(tf_drive_write_block(drive, buf, sizeof buf, &err), TF_OK);
        tf_drive_destroy(&drive);
    }
    /* After a LOAD the drive raises a UA again; the layer consumes it. */
    tf_drive_t *drive = s_open(s_url(f, "ua.img", "ua=medium"));
    tf_err_t err = {0, ""};
    assert_int_equal(tf_drive_wait_ready(drive, 5000, &err), TF_OK);
    assert_int_equal(tf_drive_unload(drive, &err), TF_OK);
    assert_int_equal(tf_drive_load(drive, &err), TF_OK);
    uint8_t buf[10] = {0};
    assert_int_equal(tf_drive_write_block(drive, buf, sizeof buf, &err), TF_OK);
    tf_drive_destroy(&drive);
}

static void
test_fault_medium_error(void **state)
{
    s_fixture_t *f = *state;
    tf_err_t err = {0, ""};
    uint8_t buf[4096];
    memset(buf, 0x5A, sizeof buf);
    /* Writing object 2 fails. */
    tf_drive_t *drive = s_open(s_url(f, "me.img", "medium_error=2"));
    assert_int_equal(tf_drive_rewind(drive, &err), TF_OK);
    assert_int_equal(tf_drive_write_block(drive, buf, sizeof buf, &err), TF_OK);
    assert_int_equal(tf_drive_write_block(drive, buf, sizeof buf, &err), TF_OK);
    assert_int_equal(tf_drive_write_block(drive, buf, sizeof buf, &err), TF_ERR_DEVICE);
    assert_int_equal(tf_drive_last_cond(drive), TF_DRIVE_COND_MEDIUM_ERROR);
    assert_non_null(strstr(err.message, "0C/00"));
    assert_non_null(strstr(err.message, "retire the cartridge"));
    uint64_t flags = 0;
    assert_int_equal(tf_drive_tapealert(drive, &flags, &err), TF_OK);
    assert_true(flags & (1ull << 3)); /* 4: media */
    assert_true(flags & (1ull << 5)); /* 6: write failure */
    assert_true(tf_drive_tapealert_critical(4));
    /* Reading the page cleared the flags. */
    assert_int_equal(tf_drive_tapealert(drive, &flags, &err), TF_OK);
    assert_int_equal(flags, 0);
    tf_drive_destroy(&drive);
    /* Write three good blocks, then read them with block 1 unreadable. */
    drive = s_open(s_url(f, "me.img", NULL));
    assert_int_equal(tf_drive_rewind(drive, &err), TF_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(tf_drive_write_block(drive, buf, sizeof buf, &err), TF_OK);
    tf_drive_destroy(&drive);
    drive = s_open(s_url(f, "me.img", "medium_error=1"));
    assert_int_equal(tf_drive_rewind(drive, &err), TF_OK);
    uint8_t in[8192];
    size_t len = 0;
    assert_int_equal(tf_drive_read_block(drive, in, sizeof in, &len, &err), TF_OK);
    assert_int_equal(len, sizeof buf);
    assert_int_equal(tf_drive_read_block(drive, in, sizeof in, &len, &err), TF_ERR_DEVICE);
    assert_int_equal(tf_drive_last_cond(drive), TF_DRIVE_COND_MEDIUM_ERROR);
    assert_non_null(strstr(err.message, "11/00"));
    assert_non_null(strstr(err.message, "unrecovered read error"));
    tf_drive_destroy(&drive);
}

static void
test_early_warning_and_overflow(void **state)
{
    s_fixture_t *f = *state;
    tf_err_t err = {0, ""};
    tf_drive_t *drive = s_open(s_url(f, "ew.img", "capacity=1M&ew=256K"));
    assert_int_equal(tf_drive_rewind(drive, &err), TF_OK);
    static uint8_t buf[65536];
    int written = 0;
    while (!tf_drive_early_warning(drive)) {
        int rc = tf_drive_write_block(drive, buf, sizeof buf, &err);
        if (rc != TF_OK)
            fail_msg("write %d before early warning: %s", written, err.message);
        written++;
        assert_true(written < 100);
    }
    /* The warning arrives inside the zone: between 768 KiB and 1 MiB of data. */
    assert_true(written * 65544 > 768 * 1024);
    assert_true(written * 65544 <= 1024 * 1024);
    assert_int_equal(tf_drive_last_cond(drive), TF_DRIVE_COND_EARLY_WARNING);
    tf_drive_pos_t pos;
    tf_drive_position(drive, &pos);
    assert_int_equal(pos.block, (uint64_t) written); /* the warned write counted: it happened */
    /* Keep writing: the physical end refuses the block. */
    int rc;
    int more = 0;
    while ((rc = tf_drive_write_block(drive, buf, sizeof buf, &err)) == TF_OK)
        assert_true(++more < 10);
    assert_int_equal(rc, TF_ERR_TOOBIG);
    assert_int_equal(tf_drive_last_cond(drive), TF_DRIVE_COND_END_OF_MEDIUM);
    assert_non_null(strstr(err.message, "did NOT complete"));
    /* Read back: exactly the acknowledged blocks are on tape. */
    assert_int_equal(tf_drive_rewind(drive, &err), TF_OK);
    int count = 0;
    size_t len = 0;
    while (tf_drive_read_block(drive, buf, sizeof buf, &len, &err) == TF_OK && len > 0)
        count++;
    assert_int_equal(count, written + more);
    assert_int_equal(tf_drive_last_cond(drive), TF_DRIVE_COND_END_OF_DATA);
    tf_drive_destroy(&drive);

    /* hard_eom: no early warning, straight into volume overflow. */
    drive = s_open(s_url(f, "eom.img", "capacity=256K&hard_eom=1"));
    assert_int_equal(tf_drive_rewind(drive, &err), TF_OK);
    int n = 0;
    while ((rc = tf_drive_write_block(drive, buf, sizeof buf, &err)) == TF_OK) {
        assert_false(tf_drive_early_warning(drive));
        assert_true(++n < 10);
    }
    assert_int_equal(n, 3);
    assert_int_equal(tf_drive_last_cond(drive), TF_DRIVE_COND_END_OF_MEDIUM);
    assert_int_equal(tf_drive_last_sense(drive)->key, 0xD);
    assert_int_equal(tf_drive_last_sense(drive)->info, (int64_t) sizeof buf);
    assert_true(tf_drive_early_warning(drive));
    tf_drive_destroy(&drive);
}

static void
test_fault_busy(void **state)
{
    s_fixture_t *f = *state;
    tf_err_t err = {0, ""};
    tf_drive_t *drive = s_open(s_url(f, "busy.img", "busy=60"));
    assert_int_equal(tf_drive_test_unit_ready(drive, &err), TF_ERR_BUSY);
    assert_int_equal(tf_drive_last_cond(drive), TF_DRIVE_COND_BUSY);
    assert_non_null(strstr(err.message, "busy"));
    assert_int_equal(tf_drive_wait_ready(drive, 200, &err), TF_ERR_TIMEOUT);
    tf_drive_destroy(&drive);
    /* An image held by another handle is in use: open names the holder. */
    tf_drive_t *first = s_open(s_url(f, "held.img", NULL));
    tf_drive_t *second = tf_drive_open(s_url(f, "held.img", NULL), &err);
    assert_null(second);
    assert_int_equal(err.code, TF_ERR_BUSY);
    char pid[32];
    snprintf(pid, sizeof pid, "pid %d", (int) getpid());
    assert_non_null(strstr(err.message, pid));
    assert_non_null(strstr(err.message, "in use"));
    tf_drive_destroy(&first);
    second = s_open(s_url(f, "held.img", NULL));
    tf_drive_destroy(&second);
}

static void
test_bad_urls_and_options(void **state)
{
    s_fixture_t *f = *state;
    tf_err_t err = {0, ""};
    assert_null(tf_drive_open(s_url(f, "x.img", "colour=blue"), &err));
    assert_int_equal(err.code, TF_ERR_INVALID);
    assert_non_null(strstr(err.message, "unknown sim option 'colour'"));
    assert_null(tf_drive_open(s_url(f, "x.img", "capacity=lots"), &err));
    assert_non_null(strstr(err.message, "capacity"));
    assert_null(tf_drive_open(s_url(f, "x.img", "capacity=1M&ew=2M"), &err));
    assert_null(tf_drive_open("tape:/dev/st0", &err));
    assert_non_null(strstr(err.message, "unknown scheme"));
    assert_null(tf_drive_open("sim:/nonexistent-folder-tf/x.img", &err));
    assert_int_equal(err.code, TF_ERR_NOTFOUND);
    assert_null(tf_drive_open("", &err));
    /* A file that is not a sim image. */
    char path[400];
    snprintf(path, sizeof path, "%s/garbage.img", f->dir);
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    fputs("this is not a tape image, just some words that are long enough for a header.......",
          file);
    fclose(file);
    snprintf(path, sizeof path, "sim:%s/garbage.img", f->dir);
    assert_null(tf_drive_open(path, &err));
    assert_non_null(strstr(err.message, "not a tapeflow simulated tape image"));
    /* Device type override: a "changer". */
    tf_drive_t *drive = s_open(s_url(f, "chg.img", "type=8&serial=CHG001"));
    tf_drive_inquiry_t inq;
    assert_int_equal(tf_drive_inquiry(drive, &inq, &err), TF_OK);
    assert_int_equal(inq.device_type, 8);
    assert_string_equal(inq.serial, "CHG001");
    /* Bad arguments. */
    uint8_t buf[8];
    size_t len;
    assert_int_equal(tf_drive_write_block(drive, buf, 0, &err), TF_ERR_INVALID);
    assert_int_equal(tf_drive_write_block(drive, buf, 0x1000000, &err), TF_ERR_TOOBIG);
    assert_int_equal(tf_drive_read_block(drive, buf, 0, &len, &err), TF_ERR_INVALID);
    tf_drive_destroy(&drive);
}

static void
test_throughput_limit(void **state)
{
    /* rate= is honoured: 2 MiB at 20 MB/s cannot take less than ~0.1 s. Only a lower bound is
       checked, so a slow machine cannot make this fail. */
    s_fixture_t *f = *state;
    tf_err_t err = {0, ""};
    tf_drive_t *drive = s_open(s_url(f, "rate.img", "rate=20MB"));
    assert_int_equal(tf_drive_rewind(drive, &err), TF_OK);
    static uint8_t buf[262144];
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < 8; i++)
        assert_int_equal(tf_drive_write_block(drive, buf, sizeof buf, &err), TF_OK);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double secs = (double) (b.tv_sec - a.tv_sec) + (double) (b.tv_nsec - a.tv_nsec) / 1e9;
    assert_true(secs >= 0.09);
    tf_drive_destroy(&drive);
}

static void
test_read_position_forms(void **state)
{
    s_fixture_t *f = *state;
    tf_err_t err = {0, ""};
    tf_drive_t *drive = s_open(s_url(f, "pos.img", NULL));
    assert_int_equal(tf_drive_rewind(drive, &err), TF_OK);
    uint8_t buf[1000] = {0};
    for (int i = 0; i < 4; i++)
        assert_int_equal(tf_drive_write_block(drive, buf, sizeof buf, &err), TF_OK);
    assert_int_equal(tf_drive_write_filemarks(drive, 2, false, &err), TF_OK);
    tf_drive_pos_t pos;
    assert_int_equal(tf_drive_read_position(drive, &pos, &err), TF_OK);
    assert_int_equal(pos.source, TF_DRIVE_POS_DRIVE);
    assert_int_equal(pos.object, 6);
    assert_int_equal(pos.file, 2);
    assert_int_equal(pos.block, 0);
    /* A position the layer lost is recovered from the drive. */
    tf_drive_destroy(&drive);
    drive = s_open(s_url(f, "pos.img", NULL));
    tf_drive_position(drive, &pos);
    assert_false(pos.file_known);
    assert_int_equal(tf_drive_space(drive, TF_DRIVE_SPACE_EOD, 0, &err), TF_OK);
    tf_drive_position(drive, &pos);
    assert_true(pos.file_known);
    assert_int_equal(pos.file, 2);
    assert_int_equal(pos.object, 6);
    assert_string_equal(tf_drive_fallbacks(drive), "");
    tf_drive_destroy(&drive);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_suite_plain, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_suite_descriptor_sense, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_suite_tgt_quirks, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_fault_becoming_ready, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_fault_no_medium, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_fault_write_protect, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_fault_unit_attention, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_fault_medium_error, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_early_warning_and_overflow, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_fault_busy, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_bad_urls_and_options, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_throughput_limit, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_read_position_forms, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
