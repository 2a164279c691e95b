/*  Volume labels (write, read, classify, check) and archive tape files (write, read back,
    verify, corruption and medium errors) on sim drives. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tape_test_util.h"
#include "tapefile.h"
#include "tf_drive.h"
#include "tf_label.h"
#include "tf_testproc.h"

typedef struct {
    char *dir;
    char image[256];
    char url[300];
} fixture_t;

static int
s_setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    f->dir = tf_test_tempdir("tftape");
    snprintf(f->image, sizeof f->image, "%s/tape.img", f->dir);
    snprintf(f->url, sizeof f->url, "sim:%s?capacity=64M", f->image);
    *state = f;
    return 0;
}

static int
s_teardown(void **state)
{
    fixture_t *f = *state;
    tf_test_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static tf_drive_t *
s_open(const char *url)
{
    tf_err_t err = {0};
    tf_drive_t *d = tf_drive_open(url, &err);
    if (!d)
        fail_msg("open %s: %s", url, err.message);
    assert_int_equal(tf_drive_wait_ready(d, 5000, &err), TF_OK);
    assert_int_equal(tf_drive_set_variable(d, &err), TF_OK);
    return d;
}

static void
s_read_label(const char *url, tf_label_info_t *info)
{
    tf_drive_t *d = s_open(url);
    tf_err_t err = {0};
    int rc = tf_label_read(d, info, &err);
    if (rc != TF_OK)
        fail_msg("label read: %s", err.message);
    tf_drive_destroy(&d);
}

/* Writes raw blocks (a filemark after them when fm). */
static void
s_write_raw(const char *url, const void *const *blocks, const size_t *sizes, int n, bool fm)
{
    tf_drive_t *d = s_open(url);
    tf_err_t err = {0};
    assert_int_equal(tf_drive_rewind(d, &err), TF_OK);
    for (int i = 0; i < n; i++)
        assert_int_equal(tf_drive_write_block(d, blocks[i], sizes[i], &err), TF_OK);
    if (fm)
        assert_int_equal(tf_drive_write_filemarks(d, 1, false, &err), TF_OK);
    tf_drive_destroy(&d);
}

static void
test_blank_and_label(void **state)
{
    fixture_t *f = *state;
    tf_label_info_t info;
    s_read_label(f->url, &info);
    assert_int_equal(info.kind, TF_LABEL_BLANK);
    tf_err_t err = {0};
    assert_int_equal(tf_label_check(&info, "tape0", "default", &err), TF_ERR_INVALID);
    assert_string_equal(err.message, "tape in drive tape0 has no label: label it with 'tapeflow tape "
                                     "label tape0 --label NAME --pool default'");

    tf_label_t label;
    assert_int_equal(tf_label_init(&label, "TF0001", "default", "sim", &err), TF_OK);
    tf_drive_t *d = s_open(f->url);
    assert_int_equal(tf_label_write(d, &label, &err), TF_OK);
    tf_drive_destroy(&d);

    s_read_label(f->url, &info);
    assert_int_equal(info.kind, TF_LABEL_TAPEFLOW);
    assert_int_equal(info.blocks_read, TF_LABEL_BLOCKS);
    assert_string_equal(info.label.label, "TF0001");
    assert_string_equal(info.label.pool, "default");
    assert_string_equal(info.label.media_type, "sim");
    assert_string_equal(info.label.created, label.created);
    assert_int_equal(info.label.sequence, 1);
    assert_int_equal(tf_label_check(&info, "tape0", "default", &err), TF_OK);
    assert_int_equal(tf_label_check(&info, "tape0", NULL, &err), TF_OK);
    assert_int_equal(tf_label_check(&info, "tape0", "offsite", &err), TF_ERR_INVALID);
    assert_string_equal(err.message, "tape TF0001 in drive tape0 belongs to pool default; this job "
                                     "writes to pool offsite: mount a tape of pool offsite");

    /* The records are what docs/tape-format.md says: 80-byte VOL1 with TAPEFLOW. */
    uint32_t len = 0;
    long off = tt_sim_record_offset(f->image, 0, &len);
    assert_true(off > 0);
    assert_int_equal(len, 80);
    size_t size = 0;
    uint8_t *img = tt_read_file(f->image, &size);
    assert_memory_equal(img + off, "VOL1TF0001", 10);
    assert_memory_equal(img + off + 24, "TAPEFLOW", 8);
    free(img);
    assert_true(tt_sim_record_offset(f->image, 3, &len) > 0);
    assert_int_equal(len, 4096);

    /* Relabelling replaces everything. */
    assert_int_equal(tf_label_init(&label, "TF0002", "offsite", "sim", &err), TF_OK);
    d = s_open(f->url);
    assert_int_equal(tf_label_write(d, &label, &err), TF_OK);
    tf_drive_destroy(&d);
    s_read_label(f->url, &info);
    assert_string_equal(info.label.label, "TF0002");
    assert_string_equal(info.label.pool, "offsite");
}

static void
test_foreign_kinds(void **state)
{
    fixture_t *f = *state;
    tf_err_t err = {0};
    tf_label_info_t info;

    /* Plain data. */
    uint8_t *raw = tt_random(10000, 7);
    const void *b1[] = {raw};
    size_t s1[] = {10000};
    s_write_raw(f->url, b1, s1, 1, true);
    s_read_label(f->url, &info);
    assert_int_equal(info.kind, TF_LABEL_FOREIGN);
    assert_int_equal(tf_label_check(&info, "tape0", "default", &err), TF_ERR_INVALID);
    assert_non_null(strstr(err.message, "tape in drive tape0 is not a tapeflow tape: it holds data without a label"));
    assert_non_null(strstr(err.message, "--force"));
    free(raw);

    /* A tar archive written straight to tape. */
    uint8_t tarblk[10240];
    memset(tarblk, 0, sizeof tarblk);
    memcpy(tarblk, "file.txt", 8);
    memcpy(tarblk + 257, "ustar", 5);
    const void *b2[] = {tarblk};
    size_t s2[] = {sizeof tarblk};
    s_write_raw(f->url, b2, s2, 1, true);
    s_read_label(f->url, &info);
    assert_int_equal(info.kind, TF_LABEL_FOREIGN);
    assert_string_equal(info.found, "a tar archive without a label");

    /* Another program's ANSI label. */
    char vol1[80], hdr1[80];
    tf_label_format_vol1(vol1, "ABC123", ' ', "BACULA", "backupadmin");
    memset(hdr1, ' ', sizeof hdr1);
    memcpy(hdr1, "HDR1", 4);
    const void *b3[] = {vol1, hdr1};
    size_t s3[] = {80, 80};
    s_write_raw(f->url, b3, s3, 2, true);
    s_read_label(f->url, &info);
    assert_int_equal(info.kind, TF_LABEL_ANSI);
    assert_string_equal(info.found, "an ANSI label 'ABC123' written by BACULA");
    assert_int_equal(tf_label_check(&info, "tape0", "default", &err), TF_ERR_INVALID);
    assert_non_null(strstr(err.message, "it holds an ANSI label 'ABC123' written by BACULA"));

    /* An LTFS volume. */
    tf_label_format_vol1(vol1, "LT0001", 'L', "LTFS", "");
    const void *b4[] = {vol1};
    size_t s4[] = {80};
    s_write_raw(f->url, b4, s4, 1, true);
    s_read_label(f->url, &info);
    assert_int_equal(info.kind, TF_LABEL_LTFS);
    assert_string_equal(info.found, "an LTFS volume 'LT0001'");

    /* A tapeflow VOL1 without its metadata record is not taken for ours. */
    tf_label_format_vol1(vol1, "TF0009", ' ', "TAPEFLOW", "TAPEFLOW");
    s_write_raw(f->url, b4, s4, 1, true);
    s_read_label(f->url, &info);
    assert_int_equal(info.kind, TF_LABEL_ANSI);
    assert_non_null(strstr(info.found, "damaged tapeflow label"));

    /* Names. */
    tf_label_t label;
    assert_int_equal(tf_label_init(&label, "bad name", "default", NULL, &err), TF_ERR_INVALID);
    assert_int_equal(tf_label_init(&label, "TF1", "", NULL, &err), TF_ERR_INVALID);
}

/* Labels the tape and writes one archive of size bytes with block_size; returns its data. */
static uint8_t *
s_write_archive(fixture_t *f, const char *id, size_t size, uint32_t block_size, uint32_t seed,
                uint64_t *file, tapefile_stats_t *st)
{
    tf_err_t err = {0};
    tf_drive_t *d = s_open(f->url);
    tf_label_info_t info;
    assert_int_equal(tf_label_read(d, &info, &err), TF_OK);
    if (info.kind == TF_LABEL_BLANK) {
        tf_label_t label;
        assert_int_equal(tf_label_init(&label, "TF0001", "default", "sim", &err), TF_OK);
        assert_int_equal(tf_label_write(d, &label, &err), TF_OK);
    }
    assert_int_equal(tf_drive_space(d, TF_DRIVE_SPACE_EOD, 0, &err), TF_OK);
    tf_drive_pos_t pos;
    tf_drive_position(d, &pos);
    assert_true(pos.file_known);
    *file = pos.file;
    uint8_t *data = tt_random(size, seed);
    tapefile_header_t h;
    memset(&h, 0, sizeof h);
    snprintf(h.archive_id, sizeof h.archive_id, "%s", id);
    snprintf(h.job_id, sizeof h.job_id, "J1");
    h.size = size;
    tt_checksum(data, size, h.checksum);
    h.block_size = block_size;
    tapefile_writer_t *w = tapefile_writer_new(d, &h, &err);
    assert_non_null(w);
    /* Odd slices, to exercise the block assembly. */
    size_t at = 0, step = 1000;
    while (at < size) {
        size_t n = size - at < step ? size - at : step;
        assert_int_equal(tapefile_writer_write(w, data + at, n, &err), TF_OK);
        at += n;
        step = step * 3 + 17;
    }
    assert_int_equal(tapefile_writer_finish(w, st, &err), TF_OK);
    tapefile_writer_destroy(&w);
    assert_int_equal(st->data_blocks, tapefile_data_blocks(size, block_size));
    assert_int_equal(st->blocks, st->data_blocks + 2);
    assert_string_equal(st->checksum, h.checksum);
    tf_drive_destroy(&d);
    return data;
}

static void
test_archive_roundtrip(void **state)
{
    fixture_t *f = *state;
    tf_err_t err = {0};
    tapefile_stats_t st;
    uint64_t file1, file2, file3;
    /* The last block is exactly 4096 bytes, the size of a header/trailer record. */
    uint8_t *a = s_write_archive(f, "J1-g00001", 3 * 8192 + 4096, 8192, 1, &file1, &st);
    uint8_t *b = s_write_archive(f, "J1-g00002", 5 * 4096, 4096, 2, &file2, &st);
    uint8_t *c = s_write_archive(f, "J1-g00003", 1, 65536, 3, &file3, &st);
    assert_int_equal(file1, 1);
    assert_int_equal(file2, 2);
    assert_int_equal(file3, 3);

    tf_drive_t *d = s_open(f->url);
    tapefile_reader_t *r = tapefile_reader_open(d, 1, &err);
    assert_non_null(r);
    const tapefile_header_t *h = tapefile_reader_header(r);
    assert_string_equal(h->archive_id, "J1-g00001");
    assert_int_equal(h->size, 3 * 8192 + 4096);
    assert_int_equal(h->block_size, 8192);
    assert_int_equal(h->data_blocks, 4);
    uint8_t *back = malloc(h->size);
    size_t got = 0;
    for (;;) {
        const void *data;
        size_t len;
        assert_int_equal(tapefile_reader_read(r, &data, &len, &err), TF_OK);
        if (len == 0)
            break;
        memcpy(back + got, data, len);
        got += len;
    }
    assert_int_equal(got, 3 * 8192 + 4096);
    assert_memory_equal(back, a, got);
    assert_int_equal(tapefile_reader_finish(r, &st, &err), TF_OK);
    assert_int_equal(tapefile_reader_blocks(r), 6);
    tapefile_reader_destroy(&r);
    free(back);

    char sum[40];
    tt_checksum(b, 5 * 4096, sum);
    assert_int_equal(tapefile_verify(d, 2, "J1-g00002", 5 * 4096, sum, &st, &err), TF_OK);
    assert_int_equal(st.blocks, 7);
    tt_checksum(c, 1, sum);
    assert_int_equal(tapefile_verify(d, 3, "J1-g00003", 1, sum, &st, &err), TF_OK);
    /* Wrong expectations are caught. */
    assert_int_equal(tapefile_verify(d, 3, "J1-g00002", 1, sum, &st, &err), TF_ERR_IO);
    assert_non_null(strstr(err.message, "holds archive J1-g00003, not J1-g00002"));
    /* The label file and a missing file are not archives. */
    assert_null(tapefile_reader_open(d, 0, &err));
    assert_int_equal(err.code, TF_ERR_INVALID);
    assert_null(tapefile_reader_open(d, 4, &err));
    assert_int_equal(err.code, TF_ERR_NOTFOUND);
    tf_drive_destroy(&d);
    free(a);
    free(b);
    free(c);
}

static void
test_verify_catches_corruption(void **state)
{
    fixture_t *f = *state;
    tf_err_t err = {0};
    tapefile_stats_t st;
    uint64_t file;
    uint8_t *a = s_write_archive(f, "J1-g00001", 100000, 16384, 5, &file, &st);
    char sum[40];
    tt_checksum(a, 100000, sum);

    /* A flipped byte in the second data block (records: 4 label, FM, header, data...). */
    uint32_t len = 0;
    long off = tt_sim_record_offset(f->image, 7, &len);
    assert_true(off > 0);
    assert_int_equal(len, 16384);
    size_t size = 0;
    uint8_t *img = tt_read_file(f->image, &size);
    img[off + 100] ^= 0xFF;
    tt_write_file(f->image, img, size);

    tf_drive_t *d = s_open(f->url);
    assert_int_equal(tapefile_verify(d, 1, "J1-g00001", 100000, sum, &st, &err), TF_ERR_IO);
    assert_non_null(strstr(err.message, "the tape returned different bytes"));
    tf_drive_destroy(&d);

    /* Restore it, then make the drive fail to read the third data block (object 8). */
    img[off + 100] ^= 0xFF;
    tt_write_file(f->image, img, size);
    free(img);
    char url[400];
    snprintf(url, sizeof url, "%s&medium_error=8", f->url);
    d = s_open(url);
    assert_int_not_equal(tapefile_verify(d, 1, "J1-g00001", 100000, sum, &st, &err), TF_OK);
    assert_non_null(strstr(err.message, "archive J1-g00001 (tape file 1, data block 3)"));
    tf_drive_destroy(&d);
    d = s_open(f->url);
    assert_int_equal(tapefile_verify(d, 1, "J1-g00001", 100000, sum, &st, &err), TF_OK);
    tf_drive_destroy(&d);
    free(a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_blank_and_label, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_foreign_kinds, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_archive_roundtrip, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_verify_catches_corruption, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
