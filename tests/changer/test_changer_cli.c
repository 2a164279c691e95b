/*  `tapeflow changer list|load|unload` against the simulated changer: text and JSON output,
    configured changer names and drive mapping, exit codes and usage errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chg_test_util.h"
#include "cli.h"
#include "tf_config.h"
#include "tf_drive.h"

int cmd_changer(cli_t *cli, int argc, char **argv);

typedef struct {
    char dir[256];
    char url[512];
    char drive_url[512];
    tf_config_t *cfg;
    bool json;
} s_fixture_t;

static int
s_setup(void **state)
{
    s_fixture_t *f = calloc(1, sizeof *f);
    if (!f || ct_tempdir(f->dir, sizeof f->dir) != 0 || !(f->cfg = tf_config_new())) {
        free(f);
        return -1;
    }
    snprintf(f->url, sizeof f->url, "sim:%s/lib.state?type=8&slots=4&drives=2&tapes=3", f->dir);
    snprintf(f->drive_url, sizeof f->drive_url, "sim:%s/drive0.img", f->dir);
    if (tf_config_set(f->cfg, "changers/lib/url", f->url) != TF_OK
        || tf_config_set(f->cfg, "changers/lib/drive0", "d0") != TF_OK
        || tf_config_set(f->cfg, "drives/d0/url", f->drive_url) != TF_OK)
        return -1;
    *state = f;
    return 0;
}

static int
s_teardown(void **state)
{
    s_fixture_t *f = *state;
    tf_config_destroy(&f->cfg);
    ct_remove_tree(f->dir);
    free(f);
    return 0;
}

typedef struct {
    s_fixture_t *f;
    int argc;
    char **argv;
} s_call_t;

static int
s_cli(void *arg)
{
    s_call_t *call = arg;
    cli_t cli = {call->f->cfg, NULL, call->f->json};
    return cmd_changer(&cli, call->argc, call->argv);
}

/* Runs `changer ARGS...` (NULL-terminated); returns the exit status, stdout in *out. */
static int
s_run(s_fixture_t *f, char **out, ...)
{
    char *argv[16] = {"changer"};
    int argc = 1;
    va_list ap;
    va_start(ap, out);
    char *arg;
    while (argc < 15 && (arg = va_arg(ap, char *)) != NULL)
        argv[argc++] = arg;
    va_end(ap);
    s_call_t call = {f, argc, argv};
    return ct_capture(s_cli, &call, out);
}

static void
s_has(const char *out, const char *text)
{
    if (!out || !strstr(out, text))
        fail_msg("expected '%s' in:\n%s", text, out ? out : "(null)");
}

static void
test_list(void **state)
{
    s_fixture_t *f = *state;
    char *out = NULL;
    assert_int_equal(s_run(f, &out, "list", "lib", NULL), 0);
    s_has(out, "Changer lib (sim:");
    s_has(out, "TAPEFLOW SIM CHANGER: 4 slots, 2 drives, 1 import/export");
    s_has(out, "slot 1                 full  TF0001L6");
    s_has(out, "slot 4                 empty");
    s_has(out, "drive 0                empty");
    s_has(out, "d0 = sim:");
    s_has(out, "import/export 1        empty");
    free(out);
    assert_int_equal(s_run(f, &out, "list", f->url, "--json", NULL), 0);
    s_has(out, "\"ok\":true");
    s_has(out, "\"barcodes\":true");
    s_has(out, "\"slots\":[{\"number\":1,\"address\":1000,\"full\":true,\"barcode\":\"TF0001L6\"");
    s_has(out, "\"drive_url\":\"sim:");
    s_has(out, "\"import_export\":[{\"number\":1");
    free(out);
    /* --json given before the command. */
    f->json = true;
    assert_int_equal(s_run(f, &out, "list", "lib", NULL), 0);
    s_has(out, "\"name\":\"lib\"");
    s_has(out, "\"drive\":\"d0\"");
    free(out);
}

static void
test_load_unload(void **state)
{
    s_fixture_t *f = *state;
    char *out = NULL;
    assert_int_equal(s_run(f, &out, "load", "lib", "--slot", "2", NULL), 0);
    s_has(out, "loaded TF0002L6 from slot 2 into drive 0 (sim:");
    free(out);
    /* The configured drive sees it. */
    tf_err_t err = {0, ""};
    tf_drive_t *d = tf_drive_open(f->drive_url, &err);
    assert_non_null(d);
    assert_int_equal(tf_drive_wait_ready(d, 2000, &err), TF_OK);
    assert_int_equal(tf_drive_write_block(d, "x", 1, &err), TF_OK);
    tf_drive_destroy(&d);
    assert_int_equal(s_run(f, &out, "list", "lib", NULL), 0);
    s_has(out, "drive 0                full  TF0002L6      (from slot 2)");
    free(out);
    assert_int_equal(s_run(f, &out, "load", "lib", "--slot", "1", NULL), 1);
    free(out);
    assert_int_equal(s_run(f, &out, "unload", "lib", "--json", NULL), 0);
    s_has(out, "\"action\":\"unload\",\"slot\":2,\"drive_element\":0,\"barcode\":\"TF0002L6\"");
    free(out);
    assert_int_equal(s_run(f, &out, "load", "lib", "--barcode", "TF0003L6", "--drive", "1",
                           "--json", NULL),
                     0);
    s_has(out, "\"slot\":3,\"drive_element\":1,\"barcode\":\"TF0003L6\"");
    s_has(out, "\"drive_url\":\"sim:");
    free(out);
    assert_int_equal(s_run(f, &out, "unload", f->url, "--drive", "1", "--slot", "4", NULL), 0);
    s_has(out, "unloaded TF0003L6 from drive 1 into slot 4");
    free(out);
    /* Errors an operator can act on, as JSON too. */
    assert_int_equal(s_run(f, &out, "load", "lib", "--slot", "3", "--json", NULL), 1);
    s_has(out, "\"ok\":false");
    s_has(out, "slot 3 is empty");
    free(out);
    assert_int_equal(s_run(f, &out, "load", "lib", "--barcode", "NOPE01L6", NULL), 1);
    free(out);
    assert_int_equal(s_run(f, &out, "unload", "lib", "--drive", "1", "--json", NULL), 1);
    s_has(out, "drive 1 is empty: nothing to unload");
    free(out);
    assert_int_equal(s_run(f, &out, "load", "lib", "--slot", "9", "--json", NULL), 1);
    s_has(out, "slot 9 does not exist");
    free(out);
}

static void
test_usage(void **state)
{
    s_fixture_t *f = *state;
    char *out = NULL;
    assert_int_equal(s_run(f, &out, NULL), 2);
    free(out);
    assert_int_equal(s_run(f, &out, "--help", NULL), 0);
    s_has(out, "usage: tapeflow changer list");
    free(out);
    assert_int_equal(s_run(f, &out, "shuffle", "lib", NULL), 2);
    free(out);
    assert_int_equal(s_run(f, &out, "list", NULL), 2);
    free(out);
    assert_int_equal(s_run(f, &out, "load", "lib", NULL), 2);
    free(out);
    assert_int_equal(s_run(f, &out, "load", "lib", "--slot", "1", "--barcode", "X", NULL), 2);
    free(out);
    assert_int_equal(s_run(f, &out, "load", "lib", "--slot", "0", NULL), 2);
    free(out);
    assert_int_equal(s_run(f, &out, "load", "lib", "--slot", "two", NULL), 2);
    free(out);
    assert_int_equal(s_run(f, &out, "list", "lib", "--slot", "1", NULL), 2);
    free(out);
    assert_int_equal(s_run(f, &out, "unload", "lib", "--barcode", "X", NULL), 2);
    free(out);
    assert_int_equal(s_run(f, &out, "list", "nosuchlib", "--json", NULL), 1);
    s_has(out, "neither a changer URL");
    free(out);
    assert_int_equal(tf_config_set(f->cfg, "changers/bad/url", "robot://1"), TF_OK);
    assert_int_equal(s_run(f, &out, "list", "bad", NULL), 1);
    free(out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_list, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_load_unload, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_usage, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
