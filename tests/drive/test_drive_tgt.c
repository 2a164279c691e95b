/*  The drive API suite, the self test and `tapeflow drive test` against tgt's SSC emulation
    (a private tgtd started here), plus the iSCSI connection errors. Skipped, loudly, only when
    tgtd cannot start at all. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api_suite.h"
#include "cmd_drive.h"
#include "drive_test_util.h"
#include "tf_drive.h"
#include "tgt_harness.h"
#include "tf_testproc.h"

static tgt_harness_t *s_tgt;
static char s_why[512];

static int
s_setup(void **state)
{
    (void) state;
    s_tgt = tgt_harness_start(64, s_why, sizeof s_why);
    if (!s_tgt)
        fprintf(stderr, "SKIPPED: tgtd could not start: %s\n", s_why);
    return 0;
}

static int
s_teardown(void **state)
{
    (void) state;
    tgt_harness_stop(&s_tgt);
    return 0;
}

#define S_NEED_TGT()                                                                          \
    do {                                                                                      \
        if (!s_tgt) {                                                                         \
            fprintf(stderr, "SKIPPED: tgtd could not start: %s\n", s_why);                    \
            skip();                                                                           \
        }                                                                                     \
    } while (0)

static api_suite_t
s_suite(void)
{
    api_suite_t suite = {tgt_harness_url(s_tgt), false, false};
    return suite;
}

static void
test_tgt_identity(void **state)
{
    (void) state;
    S_NEED_TGT();
    api_suite_t suite = s_suite();
    api_suite_identity(&suite);
}

static void
test_tgt_read_write(void **state)
{
    (void) state;
    S_NEED_TGT();
    api_suite_t suite = s_suite();
    api_suite_read_write(&suite);
}

static void
test_tgt_positioning(void **state)
{
    (void) state;
    S_NEED_TGT();
    api_suite_t suite = s_suite();
    api_suite_positioning(&suite);
}

static void
test_tgt_misc(void **state)
{
    (void) state;
    S_NEED_TGT();
    api_suite_t suite = s_suite();
    api_suite_misc(&suite);
}

static void
test_tgt_connect_errors(void **state)
{
    (void) state;
    S_NEED_TGT();
    tf_err_t err = {0, ""};
    char url[600];
    /* Nobody listening. */
    snprintf(url, sizeof url, "iscsi://127.0.0.1:%d/%s/1", tf_test_free_port(),
             tgt_harness_iqn(s_tgt));
    assert_null(tf_drive_open(url, &err));
    assert_non_null(strstr(err.message, "refused"));
    assert_non_null(strstr(err.message, "tgtd"));
    /* Wrong target name. */
    snprintf(url, sizeof url, "iscsi://127.0.0.1:%d/iqn.2026-11.org.tapeflow:nosuch/1",
             tgt_harness_port(s_tgt));
    assert_null(tf_drive_open(url, &err));
    assert_non_null(strstr(err.message, "iqn.2026-11.org.tapeflow:nosuch"));
    assert_non_null(strstr(err.message, "target name"));
    /* No such LUN. */
    snprintf(url, sizeof url, "iscsi://127.0.0.1:%d/%s/5", tgt_harness_port(s_tgt),
             tgt_harness_iqn(s_tgt));
    tf_drive_t *drive = tf_drive_open(url, &err);
    if (drive) {
        /* Some targets accept the login and fail the commands instead. */
        tf_drive_inquiry_t inq;
        int rc = tf_drive_inquiry(drive, &inq, &err);
        assert_true(rc != TF_OK || inq.device_type != 1);
        tf_drive_destroy(&drive);
    } else {
        assert_non_null(strstr(err.message, "LUN 5"));
    }
    /* Malformed URL. */
    assert_null(tf_drive_open("iscsi://", &err));
    assert_int_equal(err.code, TF_ERR_INVALID);
}

typedef struct {
    int argc;
    char *argv[8];
} s_cli_t;

static int
s_cli_run(void *arg)
{
    s_cli_t *cli = arg;
    return tf_cmd_drive(NULL, NULL, cli->argc, cli->argv);
}

static void
test_tgt_drive_test_cli(void **state)
{
    (void) state;
    S_NEED_TGT();
    char *out = NULL;
    s_cli_t cli = {3, {"drive", "test", (char *) tgt_harness_url(s_tgt), "--yes-overwrite"}};
    cli.argc = 4;
    int rc = dt_capture(s_cli_run, &cli, &out);
    assert_non_null(out);
    if (rc != 0)
        fail_msg("drive test on tgt failed:\n%s", out);
    assert_non_null(strstr(out, "Self test PASSED."));
    assert_non_null(strstr(out, "PASS  early warning"));
    assert_non_null(strstr(out, "no LOCATE"));
    free(out);
    s_cli_t doctor = {3, {"drive", "doctor", (char *) tgt_harness_url(s_tgt)}};
    rc = dt_capture(s_cli_run, &doctor, &out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "The drive is usable."));
    assert_non_null(strstr(out, "VIRTUAL-TAPE"));
    free(out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tgt_identity),     cmocka_unit_test(test_tgt_read_write),
        cmocka_unit_test(test_tgt_positioning),  cmocka_unit_test(test_tgt_misc),
        cmocka_unit_test(test_tgt_connect_errors), cmocka_unit_test(test_tgt_drive_test_cli),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
