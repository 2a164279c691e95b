/*  Segment bookkeeping of the tape file writer and reader (docs/tape-format.md, "Spanning
    volumes"): an archive written across sim tapes - on early warning, and at a hard end of
    medium where the refused block is written again on the next tape - reads back segment by
    segment as exactly the bytes written. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tapefile.h"
#include "tf_drive.h"
#include "tf_testproc.h"

#define S_BLOCK 65536u
#define S_SIZE (3u << 20) /* 3 MiB: three tapes of 1.25 MiB */
#define S_SLICE 100000u    /* writes not aligned to blocks */

typedef struct {
    char *dir;
    uint8_t *data;
} fx_t;

static int
s_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    fx->dir = tf_test_tempdir("tfspanu");
    fx->data = malloc(S_SIZE);
    assert_non_null(fx->dir);
    assert_non_null(fx->data);
    uint32_t x = 12345;
    for (size_t i = 0; i < S_SIZE; i++) {
        x = x * 1103515245u + 12345u;
        fx->data[i] = (uint8_t) (x >> 16);
    }
    *state = fx;
    return 0;
}

static int
s_teardown(void **state)
{
    fx_t *fx = *state;
    tf_test_rmtree(fx->dir);
    free(fx->dir);
    free(fx->data);
    free(fx);
    return 0;
}

static tf_drive_t *
s_tape(fx_t *fx, int n, const char *options)
{
    char url[512];
    snprintf(url, sizeof url, "sim:%s/tape%d.img?capacity=1280K%s", fx->dir, n, options);
    tf_err_t err = {0};
    tf_drive_t *d = tf_drive_open(url, &err);
    if (!d)
        fail_msg("%s: %s", url, err.message);
    assert_int_equal(tf_drive_set_variable(d, &err), TF_OK);
    assert_int_equal(tf_drive_rewind(d, &err), TF_OK);
    return d;
}

/* Writes the archive over as many tapes as it takes; returns the segments. */
static size_t
s_write(fx_t *fx, const char *options, tapefile_segment_t *segs, size_t max, bool *any_held)
{
    tf_err_t err = {0};
    int n = 0;
    tf_drive_t *drives[8] = {0};
    drives[0] = s_tape(fx, n, options);
    tapefile_header_t hdr;
    memset(&hdr, 0, sizeof hdr);
    snprintf(hdr.archive_id, sizeof hdr.archive_id, "J1-g00001");
    snprintf(hdr.volume, sizeof hdr.volume, "V0");
    hdr.size = S_SIZE;
    hdr.block_size = S_BLOCK;
    tapefile_writer_t *w = tapefile_writer_new(drives[0], &hdr, &err);
    assert_non_null(w);
    size_t nsegs = 0;
    *any_held = false;
    for (size_t off = 0; off < S_SIZE; off += S_SLICE) {
        size_t len = S_SIZE - off < S_SLICE ? S_SIZE - off : S_SLICE;
        if (tapefile_writer_write(w, fx->data + off, len, &err) != TF_OK)
            fail_msg("write at %zu: %s", off, err.message);
        if (tapefile_writer_volume_full(w)) {
            assert_true(nsegs + 1 < max && n + 1 < 8);
            if (tapefile_writer_end_volume(w, &segs[nsegs], &err) != TF_OK)
                fail_msg("end of volume: %s", err.message);
            if (!segs[nsegs].trailer)
                *any_held = true;
            nsegs++;
            n++;
            drives[n] = s_tape(fx, n, options);
            char vol[16];
            snprintf(vol, sizeof vol, "V%d", n);
            if (tapefile_writer_next_volume(w, drives[n], vol, "V0-set", &err) != TF_OK)
                fail_msg("next volume: %s", err.message);
        }
    }
    tapefile_stats_t st;
    if (tapefile_writer_finish(w, &st, &err) != TF_OK)
        fail_msg("finish: %s", err.message);
    tapefile_writer_segment(w, &segs[nsegs++]);
    tapefile_writer_destroy(&w);
    for (int i = 0; i <= n; i++)
        tf_drive_destroy(&drives[i]);
    return nsegs;
}

/* Reads every segment back and compares with the data. */
static void
s_read_back(fx_t *fx, const char *options, const tapefile_segment_t *segs, size_t nsegs)
{
    uint64_t expect = 0;
    for (size_t i = 0; i < nsegs; i++) {
        assert_int_equal(segs[i].segment, i + 1);
        assert_int_equal(segs[i].offset, expect);
        expect += segs[i].length;
        tf_drive_t *d = s_tape(fx, (int) i, options);
        tf_err_t err = {0};
        tapefile_stats_t st;
        if (tapefile_verify_segment(d, 0, "J1-g00001", segs[i].offset, segs[i].length, &st, &err) != TF_OK)
            fail_msg("verify segment %zu: %s", i + 1, err.message);
        tapefile_reader_t *r = tapefile_reader_open(d, 0, &err);
        assert_non_null(r);
        assert_int_equal(tapefile_reader_header(r)->segment, i == 0 ? 0 : i + 1);
        assert_int_equal(tapefile_reader_header(r)->offset, segs[i].offset);
        assert_int_equal(tapefile_reader_set_segment(r, segs[i].offset, segs[i].length, &err), TF_OK);
        uint64_t at = segs[i].offset;
        for (;;) {
            const void *buf;
            size_t len;
            assert_int_equal(tapefile_reader_read(r, &buf, &len, &err), TF_OK);
            if (len == 0)
                break;
            assert_memory_equal(buf, fx->data + at, len);
            at += len;
        }
        assert_int_equal(at, segs[i].offset + segs[i].length);
        if (tapefile_reader_finish(r, &st, &err) != TF_OK)
            fail_msg("finish segment %zu: %s", i + 1, err.message);
        const tapefile_trailer_t *t = tapefile_reader_trailer(r);
        if (t)
            assert_int_equal(t->continued, i + 1 < nsegs);
        /* A wrong offset is the catalog disagreeing with the tape. */
        tapefile_reader_destroy(&r);
        r = tapefile_reader_open(d, 0, &err);
        assert_non_null(r);
        assert_int_equal(tapefile_reader_set_segment(r, segs[i].offset + 1, 1, &err), TF_ERR_INVALID);
        assert_non_null(strstr(err.message, "the catalog and the tape disagree"));
        tapefile_reader_destroy(&r);
        tf_drive_destroy(&d);
    }
    assert_int_equal(expect, S_SIZE);
}

static void
test_segments_early_warning(void **state)
{
    fx_t *fx = *state;
    tapefile_segment_t segs[8];
    bool held = false;
    size_t n = s_write(fx, "&ew=128K", segs, 8, &held);
    assert_int_equal(n, 3);
    assert_false(held);
    for (size_t i = 0; i + 1 < n; i++)
        assert_true(segs[i].trailer);
    s_read_back(fx, "&ew=128K", segs, n);
}

static void
test_segments_hard_eom(void **state)
{
    fx_t *fx = *state;
    tapefile_segment_t segs[8];
    bool held = false;
    size_t n = s_write(fx, "&hard_eom=1", segs, 8, &held);
    assert_int_equal(n, 3);
    /* The refused block starts the next segment: nothing lost, nothing twice. */
    s_read_back(fx, "&hard_eom=1", segs, n);
    (void) held;
}

int
main(int argc, char **argv)
{
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_segments_early_warning, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_segments_hard_eom, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
