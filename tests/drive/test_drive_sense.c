/*  Sense decoding, error model and CDB building, from a table of real-looking sense buffers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tf_cdb.h"
#include "tf_drive_cond.h"
#include "tf_drive_track.h"
#include "tf_sense.h"

typedef struct {
    const char *what;
    uint8_t bytes[40];
    size_t len;
    uint8_t key, asc, ascq;
    bool fm, eom, ili, deferred, descriptor, info_valid;
    int64_t info;
    tf_drive_cond_t cond;
} s_case_t;

/* Fixed format: 70h|VALID, 0, FM/EOM/ILI|key, info[4], addl len 10, cmd info[4], ASC, ASCQ. */
static const s_case_t s_cases[] = {
    {"early warning, key NO SENSE, EOM, 00/02",
     {0xF0, 0, 0x40, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x00, 0x02, 0, 0, 0, 0}, 18,
     0, 0x00, 0x02, false, true, false, false, false, true, 0, TF_DRIVE_COND_EARLY_WARNING},
    {"early warning, key RECOVERED ERROR, EOM, any ASC (tgt sends 00/00)",
     {0x70, 0, 0x41, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x00, 0x00, 0, 0, 0, 0}, 18,
     1, 0x00, 0x00, false, true, false, false, false, false, 0, TF_DRIVE_COND_EARLY_WARNING},
    {"volume overflow D/00/02 with EOM, residue 262144",
     {0xF0, 0, 0x4D, 0x00, 0x04, 0x00, 0x00, 10, 0, 0, 0, 0, 0x00, 0x02, 0, 0, 0, 0}, 18,
     0xD, 0x00, 0x02, false, true, false, false, false, true, 262144,
     TF_DRIVE_COND_END_OF_MEDIUM},
    {"filemark on read, FM bit, 00/01, residue 65536",
     {0xF0, 0, 0x80, 0x00, 0x01, 0x00, 0x00, 10, 0, 0, 0, 0, 0x00, 0x01, 0, 0, 0, 0}, 18,
     0, 0x00, 0x01, true, false, false, false, false, true, 65536, TF_DRIVE_COND_FILEMARK},
    {"blank check / end of data 8/00/05",
     {0xF0, 0, 0x08, 0, 0, 0x10, 0, 10, 0, 0, 0, 0, 0x00, 0x05, 0, 0, 0, 0}, 18,
     8, 0x00, 0x05, false, false, false, false, false, true, 4096, TF_DRIVE_COND_END_OF_DATA},
    {"becoming ready 2/04/01", {0x70, 0, 0x02, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x04, 0x01}, 14,
     2, 0x04, 0x01, false, false, false, false, false, false, 0, TF_DRIVE_COND_BECOMING_READY},
    {"no medium 2/3A/00", {0x70, 0, 0x02, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x3A, 0x00}, 14,
     2, 0x3A, 0x00, false, false, false, false, false, false, 0, TF_DRIVE_COND_NO_MEDIUM},
    {"medium may have changed 6/28/00", {0x70, 0, 0x06, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x28, 0x00},
     14, 6, 0x28, 0x00, false, false, false, false, false, false, 0,
     TF_DRIVE_COND_MEDIUM_CHANGED},
    {"power on / reset 6/29/00", {0x70, 0, 0x06, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x29, 0x00}, 14,
     6, 0x29, 0x00, false, false, false, false, false, false, 0, TF_DRIVE_COND_RESET},
    {"write protected 7/27/00", {0x70, 0, 0x07, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x27, 0x00}, 14,
     7, 0x27, 0x00, false, false, false, false, false, false, 0,
     TF_DRIVE_COND_WRITE_PROTECTED},
    {"medium error 3/11/00 unrecovered read", {0x70, 0, 0x03, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x11, 0x00},
     14, 3, 0x11, 0x00, false, false, false, false, false, false, 0,
     TF_DRIVE_COND_MEDIUM_ERROR},
    {"hardware error 4/44/00", {0x70, 0, 0x04, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x44, 0x00}, 14,
     4, 0x44, 0x00, false, false, false, false, false, false, 0, TF_DRIVE_COND_HARDWARE_ERROR},
    {"invalid opcode 5/20/00", {0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x20, 0x00}, 14,
     5, 0x20, 0x00, false, false, false, false, false, false, 0, TF_DRIVE_COND_NOT_SUPPORTED},
    {"invalid field in CDB 5/24/00 with SKS", {0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x24, 0x00, 0, 0xC0, 0x00, 0x01},
     18, 5, 0x24, 0x00, false, false, false, false, false, false, 0,
     TF_DRIVE_COND_NOT_SUPPORTED},
    {"short block: ILI, residue +1000", {0xF0, 0, 0x20, 0x00, 0x00, 0x03, 0xE8, 10, 0, 0, 0, 0, 0, 0},
     14, 0, 0, 0, false, false, true, false, false, true, 1000, TF_DRIVE_COND_BLOCK_LENGTH},
    {"long block: ILI, residue -1500", {0xF0, 0, 0x20, 0xFF, 0xFF, 0xFA, 0x24, 10, 0, 0, 0, 0, 0, 0},
     14, 0, 0, 0, false, false, true, false, false, true, -1500, TF_DRIVE_COND_BLOCK_LENGTH},
    {"deferred write error 71h, 3/0C/00", {0x71, 0, 0x03, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x0C, 0x00},
     14, 3, 0x0C, 0x00, false, false, false, true, false, false, 0, TF_DRIVE_COND_MEDIUM_ERROR},
    {"beginning of medium while spacing back: EOM, 00/04",
     {0xF0, 0, 0x40, 0, 0, 0, 2, 10, 0, 0, 0, 0, 0x00, 0x04}, 14,
     0, 0x00, 0x04, false, true, false, false, false, true, 2,
     TF_DRIVE_COND_BEGINNING_OF_MEDIUM},
    {"tgt end of data while spacing: NO SENSE 00/05, no info",
     {0x70, 0, 0x00, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x00, 0x05}, 14,
     0, 0x00, 0x05, false, false, false, false, false, false, 0, TF_DRIVE_COND_END_OF_DATA},
    {"aborted command B/47/00", {0x70, 0, 0x0B, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x47, 0x00}, 14,
     0xB, 0x47, 0x00, false, false, false, false, false, false, 0, TF_DRIVE_COND_ABORTED},
    /* Descriptor format: 72h, key, ASC, ASCQ, ..., addl len, descriptors. */
    {"descriptor: early warning via stream descriptor EOM",
     {0x72, 0x00, 0x00, 0x02, 0, 0, 0, 4, 0x04, 0x02, 0x00, 0x40}, 12,
     0, 0x00, 0x02, false, true, false, false, true, false, 0, TF_DRIVE_COND_EARLY_WARNING},
    {"descriptor: filemark with information 4096",
     {0x72, 0x00, 0x00, 0x01, 0, 0, 0, 16, 0x00, 0x0A, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x00,
      0x04, 0x02, 0x00, 0x80}, 24,
     0, 0x00, 0x01, true, false, false, false, true, true, 4096, TF_DRIVE_COND_FILEMARK},
    {"descriptor: volume overflow D/00/02",
     {0x72, 0x0D, 0x00, 0x02, 0, 0, 0, 4, 0x04, 0x02, 0x00, 0x40}, 12,
     0xD, 0x00, 0x02, false, true, false, false, true, false, 0, TF_DRIVE_COND_END_OF_MEDIUM},
    {"descriptor deferred 73h: hardware 4/15/01",
     {0x73, 0x04, 0x15, 0x01, 0, 0, 0, 0}, 8,
     4, 0x15, 0x01, false, false, false, true, true, false, 0, TF_DRIVE_COND_HARDWARE_ERROR},
    {"descriptor: not ready 2/3A/00, no descriptors", {0x72, 0x02, 0x3A, 0x00}, 4,
     2, 0x3A, 0x00, false, false, false, false, true, false, 0, TF_DRIVE_COND_NO_MEDIUM},
};

static void
test_sense_table(void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof s_cases / sizeof s_cases[0]; i++) {
        const s_case_t *c = &s_cases[i];
        tf_sense_t s;
        tf_err_t err = {0, ""};
        int rc = tf_sense_decode(c->bytes, c->len, &s, &err);
        if (rc != TF_OK)
            fail_msg("%s: decode failed: %s", c->what, err.message);
        if (s.key != c->key || s.asc != c->asc || s.ascq != c->ascq || s.filemark != c->fm
            || s.eom != c->eom || s.ili != c->ili || s.deferred != c->deferred
            || s.descriptor != c->descriptor || s.info_valid != c->info_valid
            || (c->info_valid && s.info != c->info))
            fail_msg("%s: decoded key %x %02x/%02x fm%d eom%d ili%d def%d desc%d info%d=%lld",
                     c->what, s.key, s.asc, s.ascq, s.filemark, s.eom, s.ili, s.deferred,
                     s.descriptor, s.info_valid, (long long) s.info);
        tf_drive_cond_t cond = tf_drive_cond_classify(TF_SCSI_CHECK_CONDITION, &s);
        if (cond != c->cond)
            fail_msg("%s: classified %s, expected %s", c->what, tf_drive_cond_name(cond),
                     tf_drive_cond_name(c->cond));
        char text[200];
        tf_sense_describe(&s, text, sizeof text);
        assert_non_null(strstr(text, tf_sense_key_name(c->key)));
    }
}

static void
test_sense_garbage(void **state)
{
    (void) state;
    tf_sense_t s;
    tf_err_t err = {0, ""};
    assert_int_equal(tf_sense_decode(NULL, 0, &s, &err), TF_ERR_PROTO);
    assert_false(s.valid);
    uint8_t one[1] = {0x70};
    assert_int_equal(tf_sense_decode(one, 1, &s, &err), TF_ERR_PROTO);
    assert_non_null(strstr(err.message, "truncated"));
    uint8_t bad[18] = {0x12, 0x34};
    assert_int_equal(tf_sense_decode(bad, sizeof bad, &s, &err), TF_ERR_PROTO);
    assert_non_null(strstr(err.message, "response code"));
    /* Fixed header claiming more than given: ASC beyond the buffer is not read. */
    uint8_t short_fixed[8] = {0x70, 0, 0x03, 0, 0, 0, 0, 200};
    assert_int_equal(tf_sense_decode(short_fixed, sizeof short_fixed, &s, &err), TF_OK);
    assert_int_equal(s.key, 3);
    assert_int_equal(s.asc, 0);
    /* Descriptor whose length runs past the end. */
    uint8_t torn[12] = {0x72, 0x00, 0x00, 0x00, 0, 0, 0, 30, 0x00, 0x0A, 0x80, 0};
    assert_int_equal(tf_sense_decode(torn, sizeof torn, &s, &err), TF_OK);
    assert_false(s.info_valid);
    /* Random bytes never crash, whatever they decode to. */
    unsigned seed = 12345;
    for (int round = 0; round < 20000; round++) {
        uint8_t buf[64];
        size_t len = (size_t) (rand_r(&seed) % 65);
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t) rand_r(&seed);
        if (len && round % 2)
            buf[0] = (uint8_t) (0x70 + rand_r(&seed) % 4);
        tf_sense_decode(buf, len, &s, NULL);
        char text[200];
        tf_sense_describe(&s, text, sizeof text);
        tf_drive_cond_classify(TF_SCSI_CHECK_CONDITION, &s);
    }
    /* CHECK CONDITION without usable sense. */
    memset(&s, 0, sizeof s);
    assert_int_equal(tf_drive_cond_classify(TF_SCSI_CHECK_CONDITION, &s), TF_DRIVE_COND_OTHER);
    assert_int_equal(tf_drive_cond_classify(TF_SCSI_BUSY, NULL), TF_DRIVE_COND_BUSY);
    assert_int_equal(tf_drive_cond_classify(TF_SCSI_RESERVATION_CONFLICT, NULL),
                     TF_DRIVE_COND_BUSY);
    assert_int_equal(tf_drive_cond_classify(TF_SCSI_GOOD, NULL), TF_DRIVE_COND_NONE);
}

static void
test_sense_build_roundtrip(void **state)
{
    (void) state;
    unsigned formats[2] = {0, TF_SENSE_F_DESCRIPTOR};
    for (int f = 0; f < 2; f++) {
        uint8_t buf[TF_SENSE_MAX];
        size_t len = tf_sense_build(buf, sizeof buf, 0x0, 0x00, 0x01,
                                    formats[f] | TF_SENSE_F_FILEMARK | TF_SENSE_F_INFO, -77);
        assert_true(len > 0);
        tf_sense_t s;
        assert_int_equal(tf_sense_decode(buf, len, &s, NULL), TF_OK);
        assert_true(s.filemark);
        assert_true(s.info_valid);
        assert_int_equal(s.info, -77);
        assert_int_equal(s.descriptor, f == 1);
        len = tf_sense_build(buf, sizeof buf, 0x3, 0x0C, 0x00, formats[f] | TF_SENSE_F_DEFERRED, 0);
        assert_int_equal(tf_sense_decode(buf, len, &s, NULL), TF_OK);
        assert_true(s.deferred);
        assert_int_equal(s.key, 3);
        assert_int_equal(s.asc, 0x0C);
    }
    uint8_t tiny[8];
    assert_int_equal(tf_sense_build(tiny, sizeof tiny, 0, 0, 0, 0, 0), 0);
}

static void
test_cond_table(void **state)
{
    (void) state;
    for (int c = 0; c < TF_DRIVE_COND_COUNT; c++) {
        assert_true(strlen(tf_drive_cond_name((tf_drive_cond_t) c)) > 0);
        assert_true(strlen(tf_drive_cond_message((tf_drive_cond_t) c)) > 10);
        assert_true(strlen(tf_drive_cond_action((tf_drive_cond_t) c)) > 10);
    }
    assert_int_equal(tf_drive_cond_status(TF_DRIVE_COND_EARLY_WARNING), TF_OK);
    assert_int_equal(tf_drive_cond_status(TF_DRIVE_COND_END_OF_MEDIUM), TF_ERR_TOOBIG);
    assert_int_equal(tf_drive_cond_status(TF_DRIVE_COND_NOT_SUPPORTED), TF_ERR_UNSUPPORTED);
    assert_int_equal(tf_drive_cond_status(TF_DRIVE_COND_BUSY), TF_ERR_BUSY);
    assert_non_null(strstr(tf_drive_cond_message(TF_DRIVE_COND_END_OF_MEDIUM), "NOT"));
    assert_non_null(strstr(tf_drive_cond_message(TF_DRIVE_COND_EARLY_WARNING), "succeeded"));
    assert_string_equal(tf_drive_cond_name((tf_drive_cond_t) 999), "other");
}

static void
test_cdb(void **state)
{
    (void) state;
    uint8_t cdb[TF_CDB_MAX];
    assert_int_equal(tf_cdb_write6(cdb, 262144), 6);
    uint8_t w[6] = {0x0A, 0x00, 0x04, 0x00, 0x00, 0x00};
    assert_memory_equal(cdb, w, 6);
    assert_int_equal(tf_cdb_write6(cdb, 0x1000000), TF_ERR_TOOBIG);
    assert_int_equal(tf_cdb_read6(cdb, 1000, true), 6);
    uint8_t r[6] = {0x08, 0x02, 0x00, 0x03, 0xE8, 0x00};
    assert_memory_equal(cdb, r, 6);
    assert_int_equal(tf_cdb_space6(cdb, TF_SPACE_CODE_FILEMARKS, -1), 6);
    uint8_t sp[6] = {0x11, 0x01, 0xFF, 0xFF, 0xFF, 0x00};
    assert_memory_equal(cdb, sp, 6);
    assert_int_equal(tf_cdb_get_be24_signed(cdb + 2), -1);
    assert_int_equal(tf_cdb_space6(cdb, TF_SPACE_CODE_BLOCKS, 0x800000), TF_ERR_TOOBIG);
    assert_int_equal(tf_cdb_space6(cdb, 2, 1), TF_ERR_INVALID);
    assert_int_equal(tf_cdb_space16(cdb, TF_SPACE_CODE_BLOCKS, -2), 16);
    assert_int_equal(cdb[0], 0x91);
    assert_int_equal(cdb[11], 0xFE);
    assert_int_equal(cdb[4], 0xFF);
    assert_int_equal(tf_cdb_write_filemarks6(cdb, 2, true), 6);
    uint8_t fm[6] = {0x10, 0x01, 0x00, 0x00, 0x02, 0x00};
    assert_memory_equal(cdb, fm, 6);
    assert_int_equal(tf_cdb_locate16(cdb, TF_LOCATE_FILE, 0x0102030405ull, false), 16);
    assert_int_equal(cdb[0], 0x92);
    assert_int_equal(cdb[1], 0x08);
    assert_int_equal(tf_cdb_get_be(cdb + 4, 8), 0x0102030405ull);
    assert_int_equal(tf_cdb_locate16(cdb, 2, 0, false), TF_ERR_INVALID);
    assert_int_equal(tf_cdb_read_position(cdb, TF_READPOS_LONG, 32), 10);
    assert_int_equal(cdb[1], 0x06);
    assert_int_equal(cdb[8], 32);
    assert_int_equal(tf_cdb_read_position(cdb, TF_READPOS_SHORT, 20), 10);
    assert_int_equal(cdb[8], 0);
    assert_int_equal(tf_cdb_log_sense(cdb, 0x2E, 324), 10);
    assert_int_equal(cdb[2], 0x6E);
    assert_int_equal(tf_cdb_get_be(cdb + 7, 2), 324);
    assert_int_equal(tf_cdb_inquiry(cdb, true, 0x80, 255), 6);
    uint8_t inq[6] = {0x12, 0x01, 0x80, 0x00, 0xFF, 0x00};
    assert_memory_equal(cdb, inq, 6);
    assert_int_equal(tf_cdb_mode_select6(cdb, true, 12), 6);
    assert_int_equal(cdb[1], 0x10);
    assert_int_equal(cdb[4], 12);
    assert_int_equal(tf_cdb_erase(cdb, true, false), 6);
    assert_int_equal(cdb[1], 0x01);
    assert_int_equal(tf_cdb_load_unload(cdb, true, false), 6);
    assert_int_equal(cdb[4], 0x01);
}

static void
test_track(void **state)
{
    (void) state;
    tf_drive_track_t *t = tf_drive_track_new();
    assert_non_null(t);
    tf_drive_pos_t p;
    tf_drive_track_get(t, &p);
    assert_false(p.file_known);
    tf_drive_track_bot(t);
    tf_drive_track_wrote_blocks(t, 3);
    tf_drive_track_wrote_filemarks(t, 1);
    tf_drive_track_wrote_blocks(t, 2);
    tf_drive_track_wrote_filemarks(t, 1);
    tf_drive_track_get(t, &p);
    assert_int_equal(p.file, 2);
    assert_int_equal(p.block, 0);
    assert_int_equal(p.object, 7);
    /* Back over the filemark that ends file 1: end of file 1 = block 2, object 6. */
    tf_drive_track_filemark_backward(t, false);
    tf_drive_track_get(t, &p);
    assert_true(p.block_known);
    assert_int_equal(p.file, 1);
    assert_int_equal(p.block, 2);
    assert_int_equal(p.object, 6);
    uint64_t len = 0;
    assert_true(tf_drive_track_file_length(t, 0, &len));
    assert_int_equal(len, 3);
    tf_drive_track_at_object(t, 2);
    tf_drive_track_get(t, &p);
    assert_int_equal(p.file, 0);
    assert_int_equal(p.block, 2);
    /* Rewriting file 1 forgets the filemarks after it. */
    tf_drive_track_at_object(t, 4);
    tf_drive_track_wrote_blocks(t, 1);
    assert_false(tf_drive_track_file_length(t, 1, &len));
    assert_true(tf_drive_track_file_length(t, 0, &len));
    /* Spacing filemarks forward into unknown territory: block known (0), object unknown. */
    tf_drive_track_bot(t);
    tf_drive_track_filemark_forward(t, false);
    tf_drive_track_get(t, &p);
    assert_int_equal(p.file, 1);
    assert_true(p.block_known);
    assert_true(p.object_known); /* file 0's length is still in the map */
    tf_drive_track_lost(t);
    tf_drive_track_get(t, &p);
    assert_false(p.file_known || p.block_known || p.object_known);
    tf_drive_track_destroy(&t);
    assert_null(t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sense_table),   cmocka_unit_test(test_sense_garbage),
        cmocka_unit_test(test_sense_build_roundtrip), cmocka_unit_test(test_cond_table),
        cmocka_unit_test(test_cdb),           cmocka_unit_test(test_track),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
