/*  The on-tape index (docs/tape-format.md "Index records") on sim drives, without processes:
    index records round-trip through the tapefile writer and reader and a scan finds every row
    without reading the data; an archive without index (older tapes) still reads and scans
    through its tar headers; a damaged index record is caught by its checksum (read, verify,
    scan) and the scan falls back to the headers; a tape file without trailer is skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "catalog.h"
#include "tape_test_util.h"
#include "tapefile.h"
#include "tapeindex.h"
#include "tapescan.h"
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
    f->dir = tf_test_tempdir("tfrebuild");
    snprintf(f->image, sizeof f->image, "%s/tape.img", f->dir);
    snprintf(f->url, sizeof f->url, "sim:%s?capacity=256M", f->image);
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

/* n deterministic rows with every field set (paths long enough to need several records). */
static tf_msg_file_row_t *
s_rows(size_t n)
{
    tf_msg_file_row_t *rows = calloc(n, sizeof *rows);
    static const char *types[] = {"file", "dir", "symlink", "hardlink", "other"};
    for (size_t i = 0; i < n; i++) {
        char buf[256];
        snprintf(buf, sizeof buf, "srv/data/project-%03zu/some/deeper/folder/file-%06zu.dat", i % 97, i);
        rows[i].path = strdup(buf);
        rows[i].type = strdup(types[i % 5]);
        rows[i].size = i * 7919u;
        rows[i].mtime = 1795258211 + (int64_t) i;
        rows[i].mode = 0640 + (i % 3);
        rows[i].uid = 1000 + i % 4;
        rows[i].gid = 100 + i % 2;
        rows[i].user = strdup(i % 4 ? "alice" : "bob");
        rows[i].group = strdup("staff");
        snprintf(buf, sizeof buf, "xxh128:%032zx", i * 2654435761u);
        rows[i].checksum = i % 5 == 0 ? strdup(buf) : NULL;
        rows[i].offset = i * 1536u;
        rows[i].link = i % 5 == 2 || i % 5 == 3 ? strdup("target/of/link") : NULL;
    }
    return rows;
}

static void
s_rows_free(tf_msg_file_row_t *rows, size_t n)
{
    tf_msg_t msg = {.type = TF_MSG_CAT_FILES};
    msg.cat_files.files = rows;
    msg.cat_files.files_count = n;
    tf_msg_clear(&msg);
}

static void
s_label(tf_drive_t *d)
{
    tf_err_t err = {0};
    tf_label_info_t info;
    assert_int_equal(tf_label_read(d, &info, &err), TF_OK);
    if (info.kind == TF_LABEL_BLANK) {
        tf_label_t label;
        assert_int_equal(tf_label_init(&label, "TF0001", "default", "sim", &err), TF_OK);
        assert_int_equal(tf_label_write(d, &label, &err), TF_OK);
    }
}

/* Writes data as archive `id` at end of data, with index (NULL: none). finish=false leaves the
   tape file without trailer (a writer that was stopped). Returns the tape file number. */
static uint64_t
s_write(fixture_t *f, const char *id, uint64_t group, const uint8_t *data, size_t size, uint64_t files,
        const tapeindex_t *index, bool finish)
{
    tf_err_t err = {0};
    tf_drive_t *d = s_open(f->url);
    s_label(d);
    assert_int_equal(tf_drive_space(d, TF_DRIVE_SPACE_EOD, 0, &err), TF_OK);
    tf_drive_pos_t pos;
    tf_drive_position(d, &pos);
    tapefile_header_t h;
    memset(&h, 0, sizeof h);
    snprintf(h.archive_id, sizeof h.archive_id, "%s", id);
    snprintf(h.job_id, sizeof h.job_id, "J1");
    snprintf(h.pool, sizeof h.pool, "default");
    snprintf(h.compression, sizeof h.compression, "zstd");
    h.group_no = group;
    h.size = size;
    h.files = files;
    tt_checksum(data, size, h.checksum);
    h.block_size = 8192;
    h.job_created_ms = 1795258211123;
    tapefile_writer_t *w = tapefile_writer_new(d, &h, &err);
    assert_non_null(w);
    tapefile_writer_set_index(w, index);
    assert_int_equal(tapefile_writer_write(w, data, size, &err), TF_OK);
    tapefile_stats_t st;
    if (finish) {
        assert_int_equal(tapefile_writer_finish(w, &st, &err), TF_OK);
        assert_int_equal(st.blocks, st.data_blocks + 2);
        assert_int_equal(st.index_records, tapeindex_records(index));
    } else
        tapefile_writer_abandon(w);
    tapefile_writer_destroy(&w);
    tf_drive_destroy(&d);
    return pos.file;
}

static void
s_row_equal(const tf_msg_file_row_t *a, const tf_msg_file_row_t *b)
{
    assert_string_equal(a->path, b->path);
    assert_string_equal(a->type, b->type);
    assert_int_equal(a->size, b->size);
    assert_int_equal(a->mtime, b->mtime);
    assert_int_equal(a->mode, b->mode);
    assert_int_equal(a->uid, b->uid);
    assert_int_equal(a->gid, b->gid);
    assert_string_equal(a->user, b->user);
    assert_string_equal(a->group, b->group);
    assert_true((a->checksum == NULL) == (b->checksum == NULL));
    if (a->checksum)
        assert_string_equal(a->checksum, b->checksum);
    assert_int_equal(a->offset, b->offset);
    assert_true((a->link == NULL) == (b->link == NULL));
    if (a->link)
        assert_string_equal(a->link, b->link);
}

static void
test_index_roundtrip(void **state)
{
    fixture_t *f = *state;
    tf_err_t err = {0};
    const size_t n = 20000;
    tf_msg_file_row_t *rows = s_rows(n);
    tapeindex_t *index = tapeindex_build("J1", "J1-g00001", rows, n, &err);
    assert_non_null(index);
    assert_true(tapeindex_records(index) > 1);   /* 20,000 rows need several records */
    assert_int_equal(tapeindex_rows(index), n);
    size_t size = 2 * 1024 * 1024 + 123;
    uint8_t *data = tt_random(size, 7);
    uint64_t file = s_write(f, "J1-g00001", 1, data, size, n, index, true);
    assert_int_equal(file, 1);

    tf_drive_t *d = s_open(f->url);
    /* Read back: header, spaced data, trailer, every record. */
    tapefile_reader_t *r = tapefile_reader_open(d, 1, &err);
    assert_non_null(r);
    assert_int_equal(tapefile_reader_header(r)->job_created_ms, 1795258211123);
    assert_false(tapefile_reader_header(r)->job_scanned);
    assert_int_equal(tapefile_reader_skip_data(r, &err), TF_OK);
    const tapefile_trailer_t *t = tapefile_reader_trailer(r);
    assert_true(t->has_index);
    assert_int_equal(t->index_records, tapeindex_records(index));
    assert_int_equal(t->index_rows, n);
    size_t got = 0;
    for (uint64_t part = 1;; part++) {
        tf_msg_t msg;
        assert_int_equal(tapefile_reader_index_next(r, &msg, &err), TF_OK);
        if (msg.type == TF_MSG_NONE)
            break;
        assert_int_equal(msg.cat_files.part, part);
        assert_string_equal(msg.cat_files.archive_id, "J1-g00001");
        assert_string_equal(msg.cat_files.job_id, "J1");
        for (size_t i = 0; i < msg.cat_files.files_count; i++)
            s_row_equal(&msg.cat_files.files[i], &rows[got + i]);
        got += msg.cat_files.files_count;
        tf_msg_clear(&msg);
    }
    assert_int_equal(got, n);
    /* Header + trailer + index records: the data blocks were spaced over, not read. */
    assert_int_equal(tapefile_reader_blocks(r), 2 + tapeindex_records(index));
    tapefile_reader_destroy(&r);

    /* Restore's path is unchanged: all data, then the trailer; verify also reads the index. */
    char sum[40];
    tt_checksum(data, size, sum);
    tapefile_stats_t st;
    assert_int_equal(tapefile_verify(d, 1, "J1-g00001", size, sum, &st, &err), TF_OK);
    assert_int_equal(st.index_records, tapeindex_records(index));

    /* A scan (no catalog) finds every row from the index and reads a small part of the tape. */
    tapescan_opts_t opts = {.drive_name = "tape0"};
    tapescan_result_t res;
    assert_int_equal(tapescan_run(d, &opts, &res, &err), TF_OK);
    assert_string_equal(res.volume, "TF0001");
    assert_int_equal(res.archives_count, 1);
    assert_int_equal(res.from_index, 1);
    assert_int_equal(res.files, n);
    assert_int_equal(res.jobs_count, 1);
    assert_true(res.jobs[0].totals && res.jobs[0].derived);  /* group 1 of 1, on this tape */
    uint64_t data_blocks = tapefile_data_blocks(size, 8192);
    assert_int_equal(res.blocks_total, TF_LABEL_BLOCKS + data_blocks + 2 + tapeindex_records(index));
    assert_int_equal(res.blocks_read, TF_LABEL_BLOCKS + 2 + tapeindex_records(index));
    tapescan_result_clear(&res);
    tf_drive_destroy(&d);
    tapeindex_destroy(&index);
    s_rows_free(rows, n);
    free(data);

    /* An empty archive has an index of no records (and says so). */
    index = tapeindex_build("J1", "J1-g00002", NULL, 0, &err);
    assert_non_null(index);
    assert_int_equal(tapeindex_records(index), 0);
    tapeindex_destroy(&index);
}

/* A small real tree as a pax+zstd archive; names in *names (NULL-terminated). */
static uint8_t *
s_tree_archive(fixture_t *f, size_t *size, size_t *entries)
{
    char root[300], path[400];
    snprintf(root, sizeof root, "%s/tree", f->dir);
    mkdir(root, 0755);
    snprintf(path, sizeof path, "%s/sub", root);
    mkdir(path, 0750);
    snprintf(path, sizeof path, "%s/a.txt", root);
    tt_write_file(path, "hello tape\n", 11);
    snprintf(path, sizeof path, "%s/sub/b.bin", root);
    uint8_t *blob = tt_random(300000, 9);
    tt_write_file(path, blob, 300000);
    free(blob);
    snprintf(path, sizeof path, "%s/sub/link", root);
    assert_int_equal(symlink("../a.txt", path), 0);
    static const char *const names[] = {"a.txt", "sub", "sub/b.bin", "sub/link", NULL};
    *entries = 4;
    return tt_archive_tree(root, names, true, size);
}

static void
test_without_index_still_reads(void **state)
{
    fixture_t *f = *state;
    tf_err_t err = {0};
    size_t size = 0, entries = 0;
    uint8_t *data = s_tree_archive(f, &size, &entries);
    assert_int_equal(s_write(f, "J1-g00001", 1, data, size, entries, NULL, true), 1);

    tf_drive_t *d = s_open(f->url);
    char sum[40];
    tt_checksum(data, size, sum);
    tapefile_stats_t st;
    assert_int_equal(tapefile_verify(d, 1, "J1-g00001", size, sum, &st, &err), TF_OK);
    assert_int_equal(st.index_records, 0);
    tapefile_reader_t *r = tapefile_reader_open(d, 1, &err);
    assert_non_null(r);
    assert_int_equal(tapefile_reader_finish(r, &st, &err), TF_OK);
    assert_false(tapefile_reader_trailer(r)->has_index);
    tf_msg_t msg;
    assert_int_equal(tapefile_reader_index_next(r, &msg, &err), TF_OK);
    assert_int_equal(msg.type, TF_MSG_NONE);
    tapefile_reader_destroy(&r);

    /* The scan reads the tar headers instead (all data blocks). */
    tapescan_opts_t opts = {.drive_name = "tape0"};
    tapescan_result_t res;
    assert_int_equal(tapescan_run(d, &opts, &res, &err), TF_OK);
    assert_int_equal(res.archives_count, 1);
    assert_int_equal(res.from_headers, 1);
    assert_int_equal(res.archives[0].source, TAPESCAN_HEADERS);
    assert_int_equal(res.files, entries);
    assert_true(res.blocks_read >= res.blocks_total);  /* label + whole file (+ header again) */
    tapescan_result_clear(&res);
    tf_drive_destroy(&d);
    free(data);
}

static void
test_damaged_index_detected(void **state)
{
    fixture_t *f = *state;
    tf_err_t err = {0};
    size_t size = 0, entries = 0;
    uint8_t *data = s_tree_archive(f, &size, &entries);
    tf_msg_file_row_t *rows = s_rows(entries);
    tapeindex_t *index = tapeindex_build("J1", "J1-g00001", rows, entries, &err);
    assert_non_null(index);
    assert_int_equal(tapeindex_records(index), 1);
    assert_int_equal(s_write(f, "J1-g00001", 1, data, size, entries, index, true), 1);
    /* A second, incomplete tape file (the writer was stopped mid-archive). */
    assert_int_equal(s_write(f, "J1-g00002", 2, data, size, entries, NULL, false), 2);

    /* Flip a byte in the index record's rows: records 0-3 label, 4 FM, 5 header, data, trailer. */
    uint64_t data_blocks = tapefile_data_blocks(size, 8192);
    uint32_t len = 0;
    long off = tt_sim_record_offset(f->image, 5 + data_blocks + 2, &len);
    assert_true(off > 0);
    assert_int_equal(len, TAPEINDEX_RECORD_SIZE);
    size_t isize = 0;
    uint8_t *img = tt_read_file(f->image, &isize);
    img[off + TAPEINDEX_PAYLOAD_OFFSET + 10] ^= 0x5A;
    tt_write_file(f->image, img, isize);
    free(img);

    tf_drive_t *d = s_open(f->url);
    tapefile_reader_t *r = tapefile_reader_open(d, 1, &err);
    assert_non_null(r);
    assert_int_equal(tapefile_reader_skip_data(r, &err), TF_OK);
    tf_msg_t msg;
    assert_int_equal(tapefile_reader_index_next(r, &msg, &err), TF_ERR_INVALID);
    assert_non_null(strstr(err.message, "is damaged"));
    assert_non_null(strstr(err.message, "checksum"));
    tapefile_reader_destroy(&r);
    char sum[40];
    tt_checksum(data, size, sum);
    tapefile_stats_t st;
    assert_int_equal(tapefile_verify(d, 1, "J1-g00001", size, sum, &st, &err), TF_ERR_INVALID);
    assert_non_null(strstr(err.message, "is damaged"));

    /* The scan says so, reads the archive's tar headers instead, and skips the incomplete file. */
    tapescan_opts_t opts = {.drive_name = "tape0"};
    tapescan_result_t res;
    assert_int_equal(tapescan_run(d, &opts, &res, &err), TF_OK);
    assert_int_equal(res.archives_count, 2);
    assert_int_equal(res.archives[0].source, TAPESCAN_HEADERS);
    assert_non_null(strstr(res.archives[0].message, "is damaged"));
    assert_int_equal(res.archives[0].files, entries);
    assert_int_equal(res.archives[1].source, TAPESCAN_INCOMPLETE);
    assert_non_null(strstr(res.archives[1].message, "incomplete"));
    assert_int_equal(res.skipped, 1);
    assert_int_equal(res.files, entries);
    tapescan_result_clear(&res);
    tf_drive_destroy(&d);
    tapeindex_destroy(&index);
    s_rows_free(rows, entries);
    free(data);

    /* Garbage is not an index record. */
    uint8_t junk[TAPEINDEX_RECORD_SIZE] = {0};
    assert_int_equal(tapeindex_parse(junk, sizeof junk, NULL, 0, &msg, &err), TF_ERR_INVALID);
}

/* The catalog query the tape writer takes the index rows from: one archive's rows only. */
static void
test_catalog_archive_files(void **state)
{
    fixture_t *f = *state;
    tf_err_t err = {0};
    char path[400];
    snprintf(path, sizeof path, "%s/catalog.db", f->dir);
    catalog_t *cat = catalog_open(path, &err);
    assert_non_null(cat);
    tf_msg_file_row_t *rows = s_rows(30);
    for (int g = 1; g <= 2; g++) {
        tf_msg_t msg = {.type = TF_MSG_CAT_FILES};
        msg.cat_files = (tf_msg_cat_files_t){.job_id = "J1", .archive_id = g == 1 ? "J1-g00001" : "J1-g00002",
                                             .part = 1, .files = rows + (g - 1) * 10, .files_count = g == 1 ? 10 : 20};
        assert_int_equal(catalog_apply(cat, &msg, NULL, &err), TF_OK);
    }
    tf_msg_t q = {.type = TF_MSG_CAT_QUERY}, reply;
    q.cat_query = (tf_msg_cat_query_t){.query = "archive_files", .job_id = "J1", .pattern = "J1-g00002"};
    assert_int_equal(catalog_apply(cat, &q, &reply, &err), TF_OK);
    assert_int_equal(reply.cat_reply.files_count, 20);
    for (size_t i = 0; i < 20; i++) {
        bool found = false;
        for (size_t k = 10; k < 30 && !found; k++)
            found = strcmp(reply.cat_reply.files[i].path, rows[k].path) == 0;
        assert_true(found);
    }
    tf_msg_clear(&reply);
    /* An archive id is not a glob. */
    q.cat_query.pattern = "J1-g*";
    assert_int_equal(catalog_apply(cat, &q, &reply, &err), TF_OK);
    assert_int_equal(reply.cat_reply.files_count, 0);
    tf_msg_clear(&reply);
    q.cat_query.pattern = NULL;
    assert_int_equal(catalog_apply(cat, &q, &reply, &err), TF_ERR_INVALID);
    assert_non_null(strstr(err.message, "no archive id"));
    s_rows_free(rows, 30);
    catalog_destroy(&cat);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_index_roundtrip, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_without_index_still_reads, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_damaged_index_detected, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_catalog_archive_files, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
