/*  The changer API against the simulated changer: inventory with N slots and barcodes, load and
    unload, the sim drive seeing the loaded cartridge, every error case and fallback, and the SMC
    data parser on tgt-shaped replies. */
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

#include "chg_test_util.h"
#include "tf_changer.h"
#include "tf_changer_smc.h"
#include "tf_drive.h"
#include "tf_sim_changer.h"

typedef struct {
    char dir[256];
    char url[512];
} s_fixture_t;

static int
s_setup(void **state)
{
    s_fixture_t *f = calloc(1, sizeof *f);
    if (!f || ct_tempdir(f->dir, sizeof f->dir) != 0) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int
s_teardown(void **state)
{
    s_fixture_t *f = *state;
    ct_remove_tree(f->dir);
    free(f);
    return 0;
}

static const char *
s_url(s_fixture_t *f, const char *options)
{
    snprintf(f->url, sizeof f->url, "sim:%s/lib.state?type=8%s%s", f->dir, options ? "&" : "",
             options ? options : "");
    return f->url;
}

static tf_changer_t *
s_open(s_fixture_t *f, const char *options)
{
    tf_err_t err = {0, ""};
    tf_changer_t *c = tf_changer_open(s_url(f, options), &err);
    if (!c)
        fail_msg("open %s: %s", f->url, err.message);
    return c;
}

static tf_changer_inv_t *
s_inventory(tf_changer_t *c)
{
    tf_err_t err = {0, ""};
    tf_changer_inv_t *inv = NULL;
    if (tf_changer_inventory(c, &inv, &err) != TF_OK)
        fail_msg("inventory: %s", err.message);
    return inv;
}

static void
test_inventory(void **state)
{
    s_fixture_t *f = *state;
    tf_changer_t *c = s_open(f, "slots=5&drives=2&ie=1&tapes=4&prefix=TA");
    char vendor[16], product[24];
    tf_err_t err = {0, ""};
    assert_int_equal(tf_changer_identify(c, vendor, sizeof vendor, product, sizeof product, &err),
                     TF_OK);
    assert_string_equal(vendor, "TAPEFLOW");
    assert_string_equal(product, "SIM CHANGER");
    tf_changer_inv_t *inv = s_inventory(c);
    assert_true(inv->barcodes);
    assert_int_equal(tf_changer_inv_count(inv, TF_CHANGER_SLOT), 5);
    assert_int_equal(tf_changer_inv_count(inv, TF_CHANGER_DRIVE), 2);
    assert_int_equal(tf_changer_inv_count(inv, TF_CHANGER_IE), 1);
    assert_int_equal(tf_changer_inv_count(inv, TF_CHANGER_TRANSPORT), 1);
    for (int s = 1; s <= 4; s++) {
        const tf_changer_elem_t *e = tf_changer_inv_find(inv, TF_CHANGER_SLOT, s);
        assert_non_null(e);
        assert_true(e->full);
        char want[16];
        snprintf(want, sizeof want, "TA%04dL6", s);
        assert_string_equal(e->barcode, want);
        assert_int_equal(e->address, 1000 + s - 1);
        assert_ptr_equal(tf_changer_inv_by_barcode(inv, want), e);
        char path[400];
        snprintf(path, sizeof path, "%s/%s.img", f->dir, want);
        assert_int_equal(access(path, F_OK), 0);
    }
    const tf_changer_elem_t *e5 = tf_changer_inv_find(inv, TF_CHANGER_SLOT, 5);
    assert_false(e5->full);
    assert_string_equal(e5->barcode, "");
    assert_null(tf_changer_inv_find(inv, TF_CHANGER_SLOT, 6));
    assert_null(tf_changer_inv_find(inv, TF_CHANGER_SLOT, 0));
    assert_null(tf_changer_inv_by_barcode(inv, "NOPE01L6"));
    const tf_changer_elem_t *d0 = tf_changer_inv_find(inv, TF_CHANGER_DRIVE, 0);
    const tf_changer_elem_t *d1 = tf_changer_inv_find(inv, TF_CHANGER_DRIVE, 1);
    assert_int_equal(d0->address, 100);
    assert_int_equal(d1->address, 101);
    assert_false(d0->full);
    const tf_changer_elem_t *ie = tf_changer_inv_find(inv, TF_CHANGER_IE, 1);
    assert_non_null(ie);
    assert_false(ie->full);
    assert_true(ie->access);
    char name[48];
    assert_string_equal(tf_changer_elem_name(ie, name, sizeof name), "import/export slot 1");
    assert_string_equal(tf_changer_elem_name(d1, name, sizeof name), "drive 1");
    tf_changer_inv_destroy(&inv);
    assert_null(inv);
    tf_changer_destroy(&c);
    assert_null(c);
}

static void
s_write(const char *url, const char *text)
{
    tf_err_t err = {0, ""};
    tf_drive_t *d = tf_drive_open(url, &err);
    assert_non_null(d);
    assert_int_equal(tf_drive_wait_ready(d, 5000, &err), TF_OK);
    assert_int_equal(tf_drive_rewind(d, &err), TF_OK);
    assert_int_equal(tf_drive_write_block(d, text, strlen(text), &err), TF_OK);
    assert_int_equal(tf_drive_write_filemarks(d, 1, false, &err), TF_OK);
    tf_drive_destroy(&d);
}

/* The first block on the tape, "" when the tape is blank. */
static void
s_read(const char *url, char *buf, size_t size)
{
    tf_err_t err = {0, ""};
    tf_drive_t *d = tf_drive_open(url, &err);
    assert_non_null(d);
    assert_int_equal(tf_drive_wait_ready(d, 5000, &err), TF_OK);
    assert_int_equal(tf_drive_rewind(d, &err), TF_OK);
    size_t len = 0;
    assert_int_equal(tf_drive_read_block(d, buf, size - 1, &len, &err), TF_OK);
    buf[len] = '\0';
    tf_drive_destroy(&d);
}

static void
s_load(tf_changer_t *c, int slot, int drive)
{
    tf_err_t err = {0, ""};
    if (tf_changer_load(c, slot, drive, &err) != TF_OK)
        fail_msg("load slot %d drive %d: %s", slot, drive, err.message);
}

static int
s_unload(tf_changer_t *c, int drive, int slot)
{
    tf_err_t err = {0, ""};
    int to = -1;
    if (tf_changer_unload(c, drive, slot, &to, &err) != TF_OK)
        fail_msg("unload drive %d: %s", drive, err.message);
    return to;
}

static void
test_drive_sees_cartridge(void **state)
{
    s_fixture_t *f = *state;
    tf_changer_t *c = s_open(f, "slots=4&drives=2&tapes=3");
    char drive0[400], drive1[400], buf[64];
    assert_int_equal(tf_sim_changer_drive_url(f->url, 0, drive0, sizeof drive0), TF_OK);
    assert_int_equal(tf_sim_changer_drive_url(f->url, 1, drive1, sizeof drive1), TF_OK);
    char want[400];
    snprintf(want, sizeof want, "sim:%s/drive0.img", f->dir);
    assert_string_equal(drive0, want);

    s_load(c, 1, 0);
    tf_changer_inv_t *inv = s_inventory(c);
    const tf_changer_elem_t *d0 = tf_changer_inv_find(inv, TF_CHANGER_DRIVE, 0);
    assert_true(d0->full);
    assert_string_equal(d0->barcode, "TF0001L6");
    assert_true(d0->source_valid);
    assert_int_equal(tf_changer_inv_by_address(inv, d0->source)->number, 1);
    assert_false(tf_changer_inv_find(inv, TF_CHANGER_SLOT, 1)->full);
    tf_changer_inv_destroy(&inv);

    s_write(drive0, "cartridge A");
    assert_int_equal(s_unload(c, 0, -1), 1); /* back home */
    s_load(c, 2, 0);
    s_read(drive0, buf, sizeof buf);
    assert_string_equal(buf, ""); /* B is blank */
    s_write(drive0, "cartridge B");
    assert_int_equal(s_unload(c, 0, -1), 2);

    /* A again, this time in the other drive. */
    s_load(c, 1, 1);
    s_read(drive1, buf, sizeof buf);
    assert_string_equal(buf, "cartridge A");
    s_load(c, 2, 0);
    s_read(drive0, buf, sizeof buf);
    assert_string_equal(buf, "cartridge B");
    /* Unload into an explicit slot. */
    assert_int_equal(s_unload(c, 1, 4), 4);
    assert_int_equal(s_unload(c, 0, -1), 2);
    inv = s_inventory(c);
    assert_string_equal(tf_changer_inv_find(inv, TF_CHANGER_SLOT, 4)->barcode, "TF0001L6");
    assert_false(tf_changer_inv_find(inv, TF_CHANGER_SLOT, 1)->full);
    tf_changer_inv_destroy(&inv);
    /* An emptied drive has no cartridge: it answers MEDIUM NOT PRESENT like a real one (it
       does not read as a blank tape), and a LOAD finds nothing to load. */
    tf_err_t derr = {0};
    tf_drive_t *empty = tf_drive_open(drive0, &derr);
    assert_non_null(empty);
    assert_int_not_equal(tf_drive_test_unit_ready(empty, &derr), TF_OK);
    assert_int_equal(tf_drive_last_cond(empty), TF_DRIVE_COND_NO_MEDIUM);
    assert_int_not_equal(tf_drive_load(empty, &derr), TF_OK);
    assert_int_equal(tf_drive_last_cond(empty), TF_DRIVE_COND_NO_MEDIUM);
    tf_drive_destroy(&empty);
    tf_changer_destroy(&c);

    /* The state persists across opens. */
    c = s_open(f, NULL);
    inv = s_inventory(c);
    assert_string_equal(tf_changer_inv_find(inv, TF_CHANGER_SLOT, 4)->barcode, "TF0001L6");
    assert_string_equal(tf_changer_inv_find(inv, TF_CHANGER_SLOT, 2)->barcode, "TF0002L6");
    tf_changer_inv_destroy(&inv);
    tf_changer_destroy(&c);
}

static void
s_expect(int rc, int status, const tf_err_t *err, const char *text)
{
    if (rc != status || !strstr(err->message, text))
        fail_msg("expected status %d with '%s', got %d: %s", status, text, rc, err->message);
}

static void
test_errors(void **state)
{
    s_fixture_t *f = *state;
    tf_changer_t *c = s_open(f, "slots=3&drives=2&tapes=2");
    tf_err_t err = {0, ""};
    s_expect(tf_changer_load(c, 3, 0, &err), TF_ERR_NOTFOUND, &err, "slot 3 is empty");
    s_expect(tf_changer_load(c, 9, 0, &err), TF_ERR_INVALID, &err,
             "slot 9 does not exist: changer");
    s_expect(tf_changer_load(c, 9, 0, &err), TF_ERR_INVALID, &err, "has slots 1-3");
    s_expect(tf_changer_load(c, 1, 2, &err), TF_ERR_INVALID, &err, "drive 2 does not exist");
    s_expect(tf_changer_unload(c, 1, -1, NULL, &err), TF_ERR_NOTFOUND, &err,
             "drive 1 is empty: nothing to unload");
    s_load(c, 1, 1);
    s_expect(tf_changer_load(c, 2, 1, &err), TF_ERR_STATE, &err,
             "drive 1 is full (TF0001L6 from slot 1): unload it first");
    s_expect(tf_changer_unload(c, 1, 2, NULL, &err), TF_ERR_STATE, &err, "slot 2 is full");

    /* The changer's own refusals, decoded from its sense data. */
    tf_changer_inv_t *inv = s_inventory(c);
    uint16_t slot3 = tf_changer_inv_find(inv, TF_CHANGER_SLOT, 3)->address;
    uint16_t slot2 = tf_changer_inv_find(inv, TF_CHANGER_SLOT, 2)->address;
    uint16_t drive1 = tf_changer_inv_find(inv, TF_CHANGER_DRIVE, 1)->address;
    tf_changer_inv_destroy(&inv);
    s_expect(tf_changer_move(c, slot3, drive1, &err), TF_ERR_NOTFOUND, &err, "is empty");
    assert_int_equal(tf_changer_last_sense(c)->asc, 0x3B);
    assert_int_equal(tf_changer_last_sense(c)->ascq, 0x0E);
    s_expect(tf_changer_move(c, slot2, drive1, &err), TF_ERR_STATE, &err, "is full: ");
    s_expect(tf_changer_move(c, slot2, 4242, &err), TF_ERR_INVALID, &err, "not valid here");

    /* A sim drive that still has the cartridge open keeps it in. */
    char drive_url[400];
    assert_int_equal(tf_sim_changer_drive_url(f->url, 1, drive_url, sizeof drive_url), TF_OK);
    tf_drive_t *d = tf_drive_open(drive_url, &err);
    assert_non_null(d);
    s_expect(tf_changer_unload(c, 1, -1, NULL, &err), TF_ERR_BUSY, &err,
             "drive 1: medium removal prevented");
    tf_drive_destroy(&d);
    assert_int_equal(s_unload(c, 1, -1), 1);

    /* Unloading when the home slot was taken meanwhile: the first empty slot. */
    s_load(c, 1, 0);
    inv = s_inventory(c);
    uint16_t slot1 = tf_changer_inv_find(inv, TF_CHANGER_SLOT, 1)->address;
    tf_changer_inv_destroy(&inv);
    assert_int_equal(tf_changer_move(c, slot2, slot1, &err), TF_OK);
    assert_int_equal(s_unload(c, 0, -1), 2);
    tf_changer_destroy(&c);

    /* Door open and a stuck robot. */
    c = s_open(f, "door_open=1");
    s_expect(tf_changer_load(c, 1, 0, &err), TF_ERR_DEVICE, &err, "changer door open");
    tf_changer_destroy(&c);
    c = s_open(f, "stuck=1");
    s_expect(tf_changer_load(c, 1, 0, &err), TF_ERR_DEVICE, &err, "could not move TF0002L6");
    tf_changer_destroy(&c);
    /* Nothing moved. */
    c = s_open(f, "sense=descriptor");
    inv = s_inventory(c);
    assert_true(tf_changer_inv_find(inv, TF_CHANGER_SLOT, 1)->full);
    assert_false(tf_changer_inv_find(inv, TF_CHANGER_DRIVE, 0)->full);
    tf_changer_inv_destroy(&inv);
    s_expect(tf_changer_load(c, 3, 0, &err), TF_ERR_NOTFOUND, &err, "slot 3 is empty");
    s_expect(tf_changer_move(c, slot3, drive1, &err), TF_ERR_NOTFOUND, &err, "is empty");
    tf_changer_destroy(&c);
}

static void
test_full_library(void **state)
{
    s_fixture_t *f = *state;
    /* Three cartridges, two slots: the third waits in the import/export slot. */
    tf_changer_t *c = s_open(f, "slots=2&drives=1&ie=1&tapes=3");
    tf_changer_inv_t *inv = s_inventory(c);
    const tf_changer_elem_t *ie = tf_changer_inv_find(inv, TF_CHANGER_IE, 1);
    assert_true(ie->full);
    assert_true(ie->impexp);
    assert_string_equal(ie->barcode, "TF0003L6");
    uint16_t ie1 = ie->address;
    uint16_t slot2 = tf_changer_inv_find(inv, TF_CHANGER_SLOT, 2)->address;
    tf_changer_inv_destroy(&inv);
    s_load(c, 2, 0);
    tf_err_t err = {0, ""};
    assert_int_equal(tf_changer_move(c, ie1, slot2, &err), TF_OK);
    s_expect(tf_changer_unload(c, 0, -1, NULL, &err), TF_ERR_STATE, &err, "no empty slot");
    /* Export it instead: unload into the import/export slot by address. */
    inv = s_inventory(c);
    uint16_t drive0 = tf_changer_inv_find(inv, TF_CHANGER_DRIVE, 0)->address;
    tf_changer_inv_destroy(&inv);
    assert_int_equal(tf_changer_move(c, drive0, ie1, &err), TF_OK);
    inv = s_inventory(c);
    ie = tf_changer_inv_find(inv, TF_CHANGER_IE, 1);
    assert_string_equal(ie->barcode, "TF0002L6");
    assert_false(ie->impexp);
    tf_changer_inv_destroy(&inv);
    tf_changer_destroy(&c);
}

static void
test_open_errors(void **state)
{
    s_fixture_t *f = *state;
    tf_err_t err = {0, ""};
    char url[512];
    snprintf(url, sizeof url, "sim:%s/tape.img", f->dir);
    assert_null(tf_changer_open(url, &err));
    assert_non_null(strstr(err.message, "needs type=8"));
    assert_null(tf_changer_open(s_url(f, "slots=0"), &err));
    assert_non_null(strstr(err.message, "bad value '0' for sim changer option 'slots'"));
    assert_null(tf_changer_open(s_url(f, "robots=2"), &err));
    assert_non_null(strstr(err.message, "unknown sim changer option 'robots'"));
    assert_null(tf_changer_open(s_url(f, "slots=2&ie=0&tapes=3"), &err));
    assert_non_null(strstr(err.message, "tapes=3 does not fit"));
    assert_null(tf_changer_open("", &err));
    assert_null(tf_changer_open("tape://x", &err));
    assert_non_null(strstr(err.message, "unknown scheme"));
    tf_changer_t *c = s_open(f, "slots=3");
    tf_changer_destroy(&c);
    assert_null(tf_changer_open(s_url(f, "slots=4"), &err));
    assert_non_null(strstr(err.message, "has 3 slots but the URL says slots=4"));
    tf_changer_destroy(&c); /* NULL is fine */
    assert_int_equal(tf_sim_changer_drive_url("iscsi://x/y/1", 0, url, sizeof url),
                     TF_ERR_INVALID);
}

static void
test_fallbacks(void **state)
{
    s_fixture_t *f = *state;
    /* No element address page, no barcode reader, a reset pending: still a full inventory. */
    tf_changer_t *c = s_open(f, "slots=100&drives=3&ie=2&tapes=90&no_eaa=1&no_barcodes=1&ua=reset");
    tf_changer_inv_t *inv = s_inventory(c);
    assert_false(inv->barcodes);
    assert_int_equal(tf_changer_inv_count(inv, TF_CHANGER_SLOT), 100);
    assert_int_equal(tf_changer_inv_count(inv, TF_CHANGER_DRIVE), 3);
    assert_int_equal(tf_changer_inv_count(inv, TF_CHANGER_IE), 2);
    assert_true(tf_changer_inv_find(inv, TF_CHANGER_SLOT, 90)->full);
    assert_false(tf_changer_inv_find(inv, TF_CHANGER_SLOT, 91)->full);
    assert_string_equal(tf_changer_inv_find(inv, TF_CHANGER_SLOT, 90)->barcode, "");
    tf_changer_inv_destroy(&inv);
    s_load(c, 90, 2);
    tf_changer_destroy(&c);
    /* More slots than one 4 KiB READ ELEMENT STATUS holds, with barcodes: paged. */
    c = s_open(f, NULL);
    inv = s_inventory(c);
    assert_true(inv->barcodes);
    assert_int_equal(tf_changer_inv_count(inv, TF_CHANGER_SLOT), 100);
    assert_string_equal(tf_changer_inv_find(inv, TF_CHANGER_SLOT, 89)->barcode, "TF0089L6");
    assert_string_equal(tf_changer_inv_find(inv, TF_CHANGER_DRIVE, 2)->barcode, "TF0090L6");
    tf_changer_inv_destroy(&inv);
    tf_changer_destroy(&c);
}

/* tgt answers READ ELEMENT STATUS 8 bytes shorter than it describes. */
static void
test_parse_tgt_shape(void **state)
{
    (void) state;
    tf_changer_elem_t in[3];
    memset(in, 0, sizeof in);
    for (int i = 0; i < 3; i++) {
        in[i].type = TF_CHANGER_SLOT;
        in[i].address = (uint16_t) (1000 + i);
        in[i].full = i != 1;
        snprintf(in[i].barcode, sizeof in[i].barcode, "%s", i != 1 ? "ABC123L6" : "");
    }
    in[2].source_valid = true;
    in[2].source = 500;
    uint8_t buf[512];
    size_t len = tf_smc_build_res(buf, sizeof buf, in, 3, true);
    assert_int_equal(len, 8 + 8 + 3 * 52);
    tf_changer_elem_t out[8];
    size_t count = 0;
    bool more = false, voltags = false;
    tf_err_t err = {0, ""};
    assert_int_equal(tf_smc_parse_res(buf, len - 8, out, 8, &count, &more, &voltags, &err), TF_OK);
    assert_int_equal(count, 3);
    assert_true(voltags);
    assert_string_equal(out[0].barcode, "ABC123L6");
    assert_false(out[1].full);
    assert_true(out[2].source_valid);
    assert_int_equal(out[2].source, 500);
    assert_string_equal(out[2].barcode, "ABC123L6");
    /* Garbage is refused, not read past. */
    count = 0;
    assert_int_equal(tf_smc_parse_res(buf, 4, out, 8, &count, &more, &voltags, &err),
                     TF_ERR_PROTO);
    buf[8] = 9; /* element type 9 */
    assert_int_equal(tf_smc_parse_res(buf, len, out, 8, &count, &more, &voltags, &err),
                     TF_ERR_PROTO);
    /* Page 1Dh round trip. */
    tf_smc_layout_t layout = {{0, 1, 1000, 10, 100}, {0, 1, 40, 2, 4}}, back;
    uint8_t ms[4 + 20] = {0};
    tf_smc_build_eaa(ms + 4, 20, &layout);
    ms[0] = 23;
    assert_int_equal(tf_smc_parse_eaa(ms, sizeof ms, &back, &err), TF_OK);
    assert_memory_equal(&layout, &back, sizeof layout);
    assert_int_equal(tf_smc_parse_eaa(ms, 10, &back, &err), TF_ERR_PROTO);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_inventory, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_drive_sees_cartridge, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_errors, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_full_library, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_fallbacks, s_setup, s_teardown),
        cmocka_unit_test(test_parse_tgt_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
