/*  The changer API and CLI against tgt's media changer emulation: a private tgtd with a changer
    LUN (4 slots, 3 barcoded tapes) and one tape drive LUN. Inventory, load slot -> drive, the
    drive (over its own iSCSI URL) sees the tape and keeps what was written, unload, and the
    changer's refusals. Skipped (loudly) only when tgtd cannot start at all. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chg_test_util.h"
#include "chg_tgt_harness.h"
#include "cli.h"
#include "tf_changer.h"
#include "tf_drive.h"

int cmd_changer(cli_t *cli, int argc, char **argv);

static chg_tgt_t *s_tgt;

static tf_changer_t *
s_open(void)
{
    tf_err_t err = {0, ""};
    tf_changer_t *c = tf_changer_open(chg_tgt_changer_url(s_tgt), &err);
    if (!c)
        fail_msg("open changer: %s", err.message);
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
s_expect(int rc, int status, const tf_err_t *err, const char *text)
{
    if (rc != status || !strstr(err->message, text))
        fail_msg("expected status %d with '%s', got %d: %s", status, text, rc, err->message);
}

static tf_drive_t *
s_drive_ready(void)
{
    tf_err_t err = {0, ""};
    tf_drive_t *d = tf_drive_open(chg_tgt_drive_url(s_tgt), &err);
    if (!d)
        fail_msg("open drive: %s", err.message);
    if (tf_drive_wait_ready(d, 10000, &err) != TF_OK)
        fail_msg("drive not ready after the load: %s", err.message);
    if (tf_drive_set_variable(d, &err) != TF_OK || tf_drive_rewind(d, &err) != TF_OK)
        fail_msg("drive setup: %s", err.message);
    return d;
}

static void
s_write(const char *text)
{
    tf_err_t err = {0, ""};
    tf_drive_t *d = s_drive_ready();
    assert_int_equal(tf_drive_write_block(d, text, strlen(text), &err), TF_OK);
    assert_int_equal(tf_drive_write_filemarks(d, 1, false, &err), TF_OK);
    tf_drive_destroy(&d);
}

static void
s_read(char *buf, size_t size)
{
    tf_err_t err = {0, ""};
    tf_drive_t *d = s_drive_ready();
    size_t len = 0;
    int rc = tf_drive_read_block(d, buf, size - 1, &len, &err);
    if (rc != TF_OK)
        fail_msg("read: %s", err.message);
    buf[len] = '\0';
    tf_drive_destroy(&d);
}

static void
test_inventory(void **state)
{
    (void) state;
    tf_changer_t *c = s_open();
    tf_err_t err = {0, ""};
    char vendor[16], product[24];
    if (tf_changer_identify(c, vendor, sizeof vendor, product, sizeof product, &err) != TF_OK)
        fail_msg("identify: %s", err.message);
    tf_changer_inv_t *inv = s_inventory(c);
    assert_true(inv->barcodes);
    assert_int_equal(tf_changer_inv_count(inv, TF_CHANGER_SLOT), 4);
    assert_int_equal(tf_changer_inv_count(inv, TF_CHANGER_DRIVE), 1);
    assert_int_equal(tf_changer_inv_count(inv, TF_CHANGER_IE), 1);
    for (int s = 1; s <= 3; s++) {
        const tf_changer_elem_t *e = tf_changer_inv_find(inv, TF_CHANGER_SLOT, s);
        char want[16];
        snprintf(want, sizeof want, "TFC%03dL6", s);
        assert_true(e->full);
        assert_string_equal(e->barcode, want);
        assert_int_equal(e->address, 999 + s);
    }
    assert_false(tf_changer_inv_find(inv, TF_CHANGER_SLOT, 4)->full);
    const tf_changer_elem_t *d0 = tf_changer_inv_find(inv, TF_CHANGER_DRIVE, 0);
    assert_int_equal(d0->address, 500);
    assert_false(d0->full);
    tf_changer_inv_destroy(&inv);
    /* An empty drive has no tape. */
    tf_drive_t *d = tf_drive_open(chg_tgt_drive_url(s_tgt), &err);
    assert_non_null(d);
    assert_int_not_equal(tf_drive_wait_ready(d, 3000, &err), TF_OK);
    tf_drive_destroy(&d);
    tf_changer_destroy(&c);
}

static void
test_load_write_unload(void **state)
{
    (void) state;
    tf_changer_t *c = s_open();
    tf_err_t err = {0, ""};
    if (tf_changer_load(c, 1, 0, &err) != TF_OK)
        fail_msg("load: %s", err.message);
    tf_changer_inv_t *inv = s_inventory(c);
    const tf_changer_elem_t *d0 = tf_changer_inv_find(inv, TF_CHANGER_DRIVE, 0);
    assert_true(d0->full);
    assert_string_equal(d0->barcode, "TFC001L6");
    assert_true(d0->source_valid);
    assert_int_equal(d0->source, 1000);
    assert_false(tf_changer_inv_find(inv, TF_CHANGER_SLOT, 1)->full);
    tf_changer_inv_destroy(&inv);
    s_write("tgt cartridge 1");
    char buf[64];
    s_read(buf, sizeof buf);
    assert_string_equal(buf, "tgt cartridge 1");

    /* Refusals: a full drive, an empty slot (our checks and the changer's own sense). */
    s_expect(tf_changer_load(c, 2, 0, &err), TF_ERR_STATE, &err,
             "drive 0 is full (TFC001L6 from slot 1): unload it first");
    s_expect(tf_changer_load(c, 4, 0, &err), TF_ERR_NOTFOUND, &err, "slot 4 is empty");
    s_expect(tf_changer_move(c, 1003, 1000, &err), TF_ERR_NOTFOUND, &err, "is empty");
    assert_int_equal(tf_changer_last_sense(c)->asc, 0x3B);
    s_expect(tf_changer_move(c, 1001, 500, &err), TF_ERR_STATE, &err, "is full");
    s_expect(tf_changer_move(c, 1001, 4242, &err), TF_ERR_INVALID, &err, "not valid here");
    s_expect(tf_changer_unload(c, 0, 2, NULL, &err), TF_ERR_STATE, &err, "slot 2 is full");

    int slot = -1;
    if (tf_changer_unload(c, 0, -1, &slot, &err) != TF_OK)
        fail_msg("unload: %s", err.message);
    assert_int_equal(slot, 1);
    s_expect(tf_changer_unload(c, 0, -1, NULL, &err), TF_ERR_NOTFOUND, &err,
             "drive 0 is empty");

    /* Another cartridge is blank; the first keeps its data. */
    if (tf_changer_load(c, 2, 0, &err) != TF_OK)
        fail_msg("load 2: %s", err.message);
    tf_drive_t *d = s_drive_ready();
    size_t len = 99;
    tf_drive_read_block(d, buf, sizeof buf, &len, &err);
    assert_int_equal(len, 0);
    tf_drive_destroy(&d);
    assert_int_equal(tf_changer_unload(c, 0, 4, &slot, &err), TF_OK);
    assert_int_equal(slot, 4);
    if (tf_changer_load(c, 1, 0, &err) != TF_OK)
        fail_msg("load 1 again: %s", err.message);
    s_read(buf, sizeof buf);
    assert_string_equal(buf, "tgt cartridge 1");
    assert_int_equal(tf_changer_unload(c, 0, -1, &slot, &err), TF_OK);
    assert_int_equal(slot, 1);
    tf_changer_destroy(&c);
}

typedef struct {
    int argc;
    char **argv;
} s_cli_args_t;

static int
s_cli(void *arg)
{
    s_cli_args_t *a = arg;
    cli_t cli = {NULL, NULL, false};
    return cmd_changer(&cli, a->argc, a->argv);
}

static int
s_run(char **out, int argc, ...)
{
    char *argv[16];
    va_list ap;
    va_start(ap, argc);
    for (int i = 0; i < argc && i < 16; i++)
        argv[i] = va_arg(ap, char *);
    va_end(ap);
    s_cli_args_t a = {argc, argv};
    return ct_capture(s_cli, &a, out);
}

static void
test_cli(void **state)
{
    (void) state;
    char *url = (char *) chg_tgt_changer_url(s_tgt);
    char *out = NULL;
    assert_int_equal(s_run(&out, 4, "changer", "list", url, "--json"), 0);
    assert_non_null(strstr(out, "\"barcode\":\"TFC002L6\""));
    assert_non_null(strstr(out, "\"ok\":true"));
    free(out);
    assert_int_equal(s_run(&out, 6, "changer", "load", url, "--barcode", "TFC003L6", "--json"),
                     0);
    assert_non_null(strstr(out, "\"slot\":3"));
    free(out);
    assert_int_equal(s_run(&out, 3, "changer", "list", url), 0);
    assert_non_null(strstr(out, "TFC003L6      (from slot 3)"));
    free(out);
    assert_int_equal(s_run(&out, 3, "changer", "unload", url), 0);
    assert_non_null(strstr(out, "unloaded TFC003L6 from drive 0 into slot 3"));
    free(out);
    /* Slot 2's tape went to slot 4 in the test before. */
    assert_int_equal(s_run(&out, 6, "changer", "load", url, "--slot", "2", "--json"), 1);
    assert_non_null(strstr(out, "slot 2 is empty"));
    free(out);
    /* The drive LUN is not a changer. */
    int rc = s_run(&out, 3, "changer", "list", (char *) chg_tgt_drive_url(s_tgt));
    if (rc != 1)
        fail_msg("list on the drive LUN gave %d: %s", rc, out);
    free(out);
}

int
main(void)
{
    char why[512];
    int no_tgtd = 0;
    s_tgt = chg_tgt_start(4, 3, &no_tgtd, why, sizeof why);
    if (!s_tgt && no_tgtd) {
        fprintf(stderr, "SKIPPED: tgtd could not start: %s\n", why);
        return 0;
    }
    if (!s_tgt) {
        fprintf(stderr, "tgt library setup failed: %s\n", why);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inventory),
        cmocka_unit_test(test_load_write_unload),
        cmocka_unit_test(test_cli),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    chg_tgt_stop(&s_tgt);
    return rc;
}
