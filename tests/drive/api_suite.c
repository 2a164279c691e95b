/*  api_suite - drive API tests shared by the sim and tgt suites. */
#include "api_suite.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tf_drive.h"

#define S_MAX 300000

static tf_drive_t *
s_open(const api_suite_t *suite)
{
    tf_err_t err = {0, ""};
    tf_drive_t *drive = tf_drive_open(suite->url, &err);
    if (!drive)
        fail_msg("open %s: %s", suite->url, err.message);
    if (tf_drive_wait_ready(drive, 10000, &err) != TF_OK)
        fail_msg("wait ready %s: %s", suite->url, err.message);
    tf_drive_unit_attention(drive);
    return drive;
}

static void
s_fill(uint8_t *buf, size_t len, unsigned file, unsigned block)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t) (i * 31 + file * 7 + block * 13);
}

static void
s_write(tf_drive_t *drive, unsigned file, unsigned block, size_t len)
{
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    s_fill(buf, len, file, block);
    tf_err_t err = {0, ""};
    int rc = tf_drive_write_block(drive, buf, len, &err);
    if (rc != TF_OK)
        fail_msg("write %u/%u (%zu bytes): %s", file, block, len, err.message);
    free(buf);
}

static void
s_expect(tf_drive_t *drive, unsigned file, unsigned block, size_t len)
{
    uint8_t *buf = malloc(S_MAX), *want = malloc(len);
    assert_non_null(buf);
    assert_non_null(want);
    size_t got = 0;
    tf_err_t err = {0, ""};
    int rc = tf_drive_read_block(drive, buf, S_MAX, &got, &err);
    if (rc != TF_OK)
        fail_msg("read %u/%u: %s", file, block, err.message);
    if (got != len)
        fail_msg("read %u/%u: %zu bytes, expected %zu (condition %s)", file, block, got, len,
                 tf_drive_cond_name(tf_drive_last_cond(drive)));
    s_fill(want, len, file, block);
    assert_memory_equal(buf, want, len);
    free(buf);
    free(want);
}

static void
s_expect_mark(tf_drive_t *drive, tf_drive_cond_t cond)
{
    uint8_t buf[4096];
    size_t got = 99;
    tf_err_t err = {0, ""};
    int rc = tf_drive_read_block(drive, buf, sizeof buf, &got, &err);
    if (rc != TF_OK)
        fail_msg("read expecting %s: %s", tf_drive_cond_name(cond), err.message);
    assert_int_equal(got, 0);
    assert_string_equal(tf_drive_cond_name(tf_drive_last_cond(drive)), tf_drive_cond_name(cond));
}

static void
s_expect_pos(tf_drive_t *drive, uint64_t file, uint64_t block)
{
    tf_drive_pos_t pos;
    tf_drive_position(drive, &pos);
    if (!pos.file_known || pos.file != file || !pos.block_known || pos.block != block)
        fail_msg("position: file %s%llu block %s%llu, expected %llu/%llu",
                 pos.file_known ? "" : "?", (unsigned long long) pos.file,
                 pos.block_known ? "" : "?", (unsigned long long) pos.block,
                 (unsigned long long) file, (unsigned long long) block);
}

/* Standard layout: file 0 = 1000, 2000, 200000 bytes; file 1 = 4000, 5000; file 2 = 600
   (no filemark after file 2). */
static void
s_layout(tf_drive_t *drive)
{
    tf_err_t err = {0, ""};
    assert_int_equal(tf_drive_rewind(drive, &err), TF_OK);
    s_expect_pos(drive, 0, 0);
    s_write(drive, 0, 0, 1000);
    s_write(drive, 0, 1, 2000);
    s_write(drive, 0, 2, 200000);
    assert_int_equal(tf_drive_write_filemarks(drive, 1, false, &err), TF_OK);
    s_expect_pos(drive, 1, 0);
    s_write(drive, 1, 0, 4000);
    s_write(drive, 1, 1, 5000);
    assert_int_equal(tf_drive_write_filemarks(drive, 1, false, &err), TF_OK);
    s_write(drive, 2, 0, 600);
    s_expect_pos(drive, 2, 1);
    assert_false(tf_drive_early_warning(drive));
}

void
api_suite_identity(const api_suite_t *suite)
{
    tf_drive_t *drive = s_open(suite);
    tf_err_t err = {0, ""};
    tf_drive_inquiry_t inq;
    assert_int_equal(tf_drive_inquiry(drive, &inq, &err), TF_OK);
    assert_int_equal(inq.device_type, 1);
    assert_true(inq.removable);
    assert_true(strlen(inq.vendor) > 0);
    assert_true(strlen(inq.product) > 0);
    assert_true(strlen(inq.serial) > 0);
    assert_null(strchr(inq.serial, ' '));
    assert_int_equal(tf_drive_test_unit_ready(drive, &err), TF_OK);
    assert_int_equal(tf_drive_last_cond(drive), TF_DRIVE_COND_NONE);
    if (tf_drive_set_variable(drive, &err) != TF_OK)
        fail_msg("set variable: %s", err.message);
    tf_drive_limits_t limits;
    assert_int_equal(tf_drive_block_limits(drive, &limits, &err), TF_OK);
    assert_true(limits.max_block >= 256 * 1024);
    assert_true(limits.min_block >= 1 && limits.min_block <= 1024);
    tf_drive_medium_t medium;
    assert_int_equal(tf_drive_medium_status(drive, &medium, &err), TF_OK);
    assert_true(medium.present);
    assert_false(medium.write_protected);
    assert_int_equal(medium.block_length, 0);
    tf_drive_destroy(&drive);
    assert_null(drive);
}

void
api_suite_read_write(const api_suite_t *suite)
{
    tf_drive_t *drive = s_open(suite);
    tf_err_t err = {0, ""};
    assert_int_equal(tf_drive_set_variable(drive, &err), TF_OK);
    s_layout(drive);
    assert_int_equal(tf_drive_rewind(drive, &err), TF_OK);
    s_expect(drive, 0, 0, 1000);
    /* A buffer smaller than the block: TOOBIG, the tape moves past the block. */
    uint8_t small[500];
    size_t got = 0;
    assert_int_equal(tf_drive_read_block(drive, small, sizeof small, &got, &err), TF_ERR_TOOBIG);
    assert_int_equal(tf_drive_last_cond(drive), TF_DRIVE_COND_BLOCK_LENGTH);
    assert_non_null(strstr(err.message, "2000"));
    assert_int_equal(got, sizeof small);
    s_expect_pos(drive, 0, 2);
    s_expect(drive, 0, 2, 200000);
    s_expect_mark(drive, TF_DRIVE_COND_FILEMARK);
    s_expect_pos(drive, 1, 0);
    s_expect(drive, 1, 0, 4000);
    s_expect(drive, 1, 1, 5000);
    s_expect_mark(drive, TF_DRIVE_COND_FILEMARK);
    s_expect(drive, 2, 0, 600);
    s_expect_mark(drive, TF_DRIVE_COND_END_OF_DATA);
    s_expect_mark(drive, TF_DRIVE_COND_END_OF_DATA);
    tf_drive_destroy(&drive);
    /* The tape persists across opens. */
    drive = s_open(suite);
    assert_int_equal(tf_drive_rewind(drive, &err), TF_OK);
    s_expect(drive, 0, 0, 1000);
    tf_drive_destroy(&drive);
}

void
api_suite_positioning(const api_suite_t *suite)
{
    tf_drive_t *drive = s_open(suite);
    tf_err_t err = {0, ""};
    assert_int_equal(tf_drive_set_variable(drive, &err), TF_OK);
    s_layout(drive);
    /* Read everything once so the layer has seen every filemark. */
    assert_int_equal(tf_drive_rewind(drive, &err), TF_OK);
    s_expect(drive, 0, 0, 1000);
    s_expect(drive, 0, 1, 2000);
    s_expect(drive, 0, 2, 200000);
    s_expect_mark(drive, TF_DRIVE_COND_FILEMARK);

    /* locate_file */
    if (tf_drive_locate_file(drive, 1, 1, &err) != TF_OK)
        fail_msg("locate_file 1/1: %s", err.message);
    s_expect_pos(drive, 1, 1);
    s_expect(drive, 1, 1, 5000);
    if (tf_drive_locate_file(drive, 0, 0, &err) != TF_OK)
        fail_msg("locate_file 0/0: %s", err.message);
    s_expect_pos(drive, 0, 0);
    assert_int_equal(tf_drive_locate_file(drive, 7, 0, &err), TF_ERR_NOTFOUND);
    assert_non_null(strstr(err.message, "tape file 7"));

    /* Space blocks forward past the end of file 0: stops after its filemark. */
    assert_int_equal(tf_drive_locate_file(drive, 0, 0, &err), TF_OK);
    assert_int_equal(tf_drive_space(drive, TF_DRIVE_SPACE_BLOCKS, 5, &err), TF_ERR_NOTFOUND);
    assert_int_equal(tf_drive_last_cond(drive), TF_DRIVE_COND_FILEMARK);
    s_expect_pos(drive, 1, 0);
    s_expect(drive, 1, 0, 4000);

    /* Blocks backwards within a file, then back over the filemark. */
    assert_int_equal(tf_drive_space(drive, TF_DRIVE_SPACE_BLOCKS, -1, &err), TF_OK);
    s_expect_pos(drive, 1, 0);
    s_expect(drive, 1, 0, 4000);
    assert_int_equal(tf_drive_space(drive, TF_DRIVE_SPACE_BLOCKS, -3, &err), TF_ERR_NOTFOUND);
    assert_int_equal(tf_drive_last_cond(drive), TF_DRIVE_COND_FILEMARK);
    s_expect_pos(drive, 0, 3);
    s_expect_mark(drive, TF_DRIVE_COND_FILEMARK);

    /* Filemarks forward and backward. */
    assert_int_equal(tf_drive_rewind(drive, &err), TF_OK);
    assert_int_equal(tf_drive_space(drive, TF_DRIVE_SPACE_FILEMARKS, 2, &err), TF_OK);
    s_expect_pos(drive, 2, 0);
    s_expect(drive, 2, 0, 600);
    if (tf_drive_space(drive, TF_DRIVE_SPACE_FILEMARKS, -1, &err) != TF_OK)
        fail_msg("space -1 filemark: %s", err.message);
    s_expect_pos(drive, 1, 2);
    s_expect_mark(drive, TF_DRIVE_COND_FILEMARK);
    s_expect(drive, 2, 0, 600);
    assert_int_equal(tf_drive_space(drive, TF_DRIVE_SPACE_FILEMARKS, -2, &err), TF_OK);
    s_expect_pos(drive, 0, 3);
    s_expect_mark(drive, TF_DRIVE_COND_FILEMARK);
    assert_int_equal(tf_drive_space(drive, TF_DRIVE_SPACE_FILEMARKS, 5, &err), TF_ERR_NOTFOUND);
    assert_int_equal(tf_drive_last_cond(drive), TF_DRIVE_COND_END_OF_DATA);

    /* End of data: the file number must be known even if the drive reports no position. */
    assert_int_equal(tf_drive_space(drive, TF_DRIVE_SPACE_EOD, 0, &err), TF_OK);
    tf_drive_pos_t pos;
    tf_drive_position(drive, &pos);
    assert_true(pos.file_known);
    assert_int_equal(pos.file, 2);
    assert_true(pos.eod);
    /* Append a tape file there. */
    assert_int_equal(tf_drive_write_filemarks(drive, 1, false, &err), TF_OK);
    s_write(drive, 3, 0, 7000);
    assert_int_equal(tf_drive_write_filemarks(drive, 1, false, &err), TF_OK);
    assert_int_equal(tf_drive_locate_file(drive, 3, 0, &err), TF_OK);
    s_expect(drive, 3, 0, 7000);
    s_expect_mark(drive, TF_DRIVE_COND_FILEMARK);
    s_expect_mark(drive, TF_DRIVE_COND_END_OF_DATA);
    assert_int_equal(tf_drive_locate_file(drive, 2, 0, &err), TF_OK);
    s_expect(drive, 2, 0, 600);

    /* Locate by logical object: file 0 has 3 blocks + 1 filemark, so object 5 is 1/1. */
    if (tf_drive_locate(drive, 5, &err) != TF_OK)
        fail_msg("locate 5: %s", err.message);
    s_expect_pos(drive, 1, 1);
    s_expect(drive, 1, 1, 5000);
    assert_int_equal(tf_drive_read_position(drive, &pos, &err), TF_OK);
    assert_true(pos.object_known);
    assert_int_equal(pos.object, 6);
    assert_int_equal(pos.file, 1);
    assert_int_equal(pos.block, 2);
    assert_int_equal(pos.source, suite->reports_position ? TF_DRIVE_POS_DRIVE
                                                         : TF_DRIVE_POS_TRACKED);
    if (!suite->reports_position)
        assert_non_null(strstr(tf_drive_fallbacks(drive), "READ POSITION"));
    tf_drive_destroy(&drive);
}

void
api_suite_misc(const api_suite_t *suite)
{
    tf_drive_t *drive = s_open(suite);
    tf_err_t err = {0, ""};
    assert_int_equal(tf_drive_set_variable(drive, &err), TF_OK);
    s_layout(drive);
    /* Erase from the start of file 1: nothing of it remains readable. */
    assert_int_equal(tf_drive_locate_file(drive, 1, 0, &err), TF_OK);
    if (tf_drive_erase(drive, false, &err) != TF_OK)
        fail_msg("erase: %s", err.message);
    assert_int_equal(tf_drive_locate_file(drive, 1, 0, &err), TF_OK);
    uint8_t buf[8192];
    size_t got = 1;
    assert_int_equal(tf_drive_read_block(drive, buf, sizeof buf, &got, &err), TF_OK);
    assert_int_equal(got, 0);
    assert_int_equal(tf_drive_rewind(drive, &err), TF_OK);
    s_expect(drive, 0, 0, 1000);

    /* Unload, load: back at the beginning. */
    assert_int_equal(tf_drive_unload(drive, &err), TF_OK);
    assert_int_equal(tf_drive_load(drive, &err), TF_OK);
    assert_int_equal(tf_drive_wait_ready(drive, 5000, &err), TF_OK);
    s_expect_pos(drive, 0, 0);
    s_expect(drive, 0, 0, 1000);

    uint64_t flags = 99;
    int rc = tf_drive_tapealert(drive, &flags, &err);
    if (suite->has_tapealert) {
        assert_int_equal(rc, TF_OK);
        assert_int_equal(flags, 0);
    } else {
        assert_int_equal(rc, TF_ERR_UNSUPPORTED);
        assert_non_null(strstr(err.message, "TapeAlert"));
        assert_non_null(strstr(tf_drive_fallbacks(drive), "LOG SENSE"));
    }
    tf_drive_destroy(&drive);
}
