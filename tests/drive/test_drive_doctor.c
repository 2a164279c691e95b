/*  `tapeflow drive doctor|status|list|test` against the simulated drive: the doctor pins the
    failing step for each injected fault with an actionable message; the CLI's text and JSON
    output and exit codes; the self test passes on sim. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cmd_drive.h"
#include "drive_test_util.h"
#include "tf_drive.h"
#include "tf_drive_doctor.h"
#include "tf_drive_selftest.h"

static char s_dir[256];

static int
s_setup(void **state)
{
    (void) state;
    return dt_tempdir(s_dir, sizeof s_dir);
}

static int
s_teardown(void **state)
{
    (void) state;
    dt_remove_tree(s_dir);
    return 0;
}

static const char *
s_sim(char *buf, size_t size, const char *name, const char *options)
{
    snprintf(buf, size, "sim:%s/%s%s%s", s_dir, name, options ? "?" : "", options ? options : "");
    return buf;
}

/* Runs the doctor and checks which step failed first and what the report says. */
static void
s_doctor_expect(const char *drive, int step, const char *detail_has, const char *meaning_has,
                const char *action_has)
{
    tf_doctor_opts_t opts = {NULL, NULL, NULL, 300};
    tf_doctor_report_t *report = calloc(1, sizeof *report);
    assert_non_null(report);
    int rc = tf_drive_doctor_run(drive, &opts, report);
    if (report->first_failure != step)
        fail_msg("%s: first failing step %s (%d), expected %s; detail: %s", drive,
                 report->first_failure >= 0
                     ? tf_drive_doctor_step_name((tf_doctor_step_t) report->first_failure)
                     : "none",
                 report->first_failure, step >= 0 ? tf_drive_doctor_step_name((tf_doctor_step_t) step) : "none",
                 report->first_failure >= 0 ? report->steps[report->first_failure].detail : "");
    if (step < 0) {
        assert_int_equal(rc, TF_OK);
        free(report);
        return;
    }
    assert_int_equal(rc, TF_ERR_DEVICE);
    const tf_doctor_result_t *r = &report->steps[step];
    assert_int_equal(r->state, TF_DOCTOR_FAIL);
    if (detail_has && !strstr(r->detail, detail_has))
        fail_msg("%s: detail '%s' lacks '%s'", drive, r->detail, detail_has);
    if (meaning_has && !strstr(r->meaning, meaning_has))
        fail_msg("%s: meaning '%s' lacks '%s'", drive, r->meaning, meaning_has);
    if (action_has && !strstr(r->action, action_has))
        fail_msg("%s: action '%s' lacks '%s'", drive, r->action, action_has);
    for (int i = 0; i < step; i++)
        assert_true(report->steps[i].state == TF_DOCTOR_OK
                    || report->steps[i].state == TF_DOCTOR_WARN);
    free(report);
}

static void
test_doctor_faults(void **state)
{
    (void) state;
    char url[600];
    s_doctor_expect(s_sim(url, sizeof url, "ok.img", NULL), -1, NULL, NULL, NULL);
    s_doctor_expect("sg:/dev/tf-no-such-tape", TF_DOCTOR_FOUND, "/dev/tf-no-such-tape",
                    "not attached", "by-id");
    s_doctor_expect("sim:/nonexistent-tf-folder/t.img", TF_DOCTOR_FOUND, "nonexistent",
                    "folder", NULL);
    s_doctor_expect("nosuchdrive", TF_DOCTOR_FOUND, "nosuchdrive", NULL, "tapeflow drive list");
    s_doctor_expect(s_sim(url, sizeof url, "t.img", "colour=red"), TF_DOCTOR_OPENABLE,
                    "unknown sim option", NULL, NULL);
    s_doctor_expect(s_sim(url, sizeof url, "chg.img", "type=8"), TF_DOCTOR_IS_TAPE,
                    "medium changer", "robot", "tape drive's own device");
    s_doctor_expect(s_sim(url, sizeof url, "nr.img", "not_ready=60"), TF_DOCTOR_READY,
                    "still not ready", "becoming ready", "--timeout");
    s_doctor_expect(s_sim(url, sizeof url, "nm.img", "no_medium=1"), TF_DOCTOR_READY,
                    "no cartridge", "no cartridge", "insert a cartridge");
    s_doctor_expect(s_sim(url, sizeof url, "busy.img", "busy=60"), TF_DOCTOR_READY, "busy",
                    "busy", "wait");
    s_doctor_expect(s_sim(url, sizeof url, "wp.img", "write_protect=1"), TF_DOCTOR_WRITE_PROTECT,
                    "write-protect", "write-protected", "write-protect tab");
    s_doctor_expect(s_sim(url, sizeof url, "small.img", "maxblock=64K"), TF_DOCTOR_BLOCK_LIMITS,
                    "65536", "256 KiB", "at least 256 KiB");

    /* The image is held open by another handle: in use, naming this process. */
    tf_err_t err = {0, ""};
    tf_drive_t *holder = tf_drive_open(s_sim(url, sizeof url, "held.img", NULL), &err);
    assert_non_null(holder);
    char pid[32];
    snprintf(pid, sizeof pid, "pid %d", (int) getpid());
    s_doctor_expect(url, TF_DOCTOR_OPENABLE, pid, "another process", "wait for that job");
    tf_drive_destroy(&holder);

    /* A medium error latches TapeAlert flags: the doctor fails on them. */
    tf_drive_t *drive = tf_drive_open(s_sim(url, sizeof url, "me.img", "medium_error=0"), &err);
    assert_non_null(drive);
    uint8_t buf[512] = {0};
    assert_int_equal(tf_drive_rewind(drive, &err), TF_OK);
    assert_int_equal(tf_drive_write_block(drive, buf, sizeof buf, &err), TF_ERR_DEVICE);
    tf_drive_destroy(&drive);
    s_doctor_expect(s_sim(url, sizeof url, "me.img", NULL), TF_DOCTOR_TAPEALERT, "4 media",
                    "cartridge", "retire the cartridge");

    /* A unit attention is a warning, not a failure. */
    tf_doctor_report_t *report = calloc(1, sizeof *report);
    tf_doctor_opts_t opts = {NULL, NULL, NULL, 2000};
    assert_int_equal(tf_drive_doctor_run(s_sim(url, sizeof url, "ua.img", "ua=reset"), &opts,
                                         report),
                     TF_OK);
    assert_int_equal(report->steps[TF_DOCTOR_READY].state, TF_DOCTOR_WARN);
    assert_non_null(strstr(report->steps[TF_DOCTOR_READY].meaning, "reset"));
    /* tgt-like drive: no TapeAlert is a skip, not a failure. */
    assert_int_equal(tf_drive_doctor_run(s_sim(url, sizeof url, "q.img", "quirks=tgt"), &opts,
                                         report),
                     TF_OK);
    assert_int_equal(report->steps[TF_DOCTOR_TAPEALERT].state, TF_DOCTOR_SKIP);
    assert_int_equal(report->steps[TF_DOCTOR_BLOCK_LIMITS].state, TF_DOCTOR_OK);
    free(report);
}

typedef struct {
    int argc;
    char *argv[16];
} s_cli_t;

static int
s_cli_run(void *arg)
{
    s_cli_t *cli = arg;
    return tf_cmd_drive(NULL, NULL, cli->argc, cli->argv);
}

/* Runs `tapeflow drive ARGS...`, returns the exit status and the output in *out. */
static int
s_cli(char **out, ...)
{
    s_cli_t cli = {0, {NULL}};
    cli.argv[cli.argc++] = "drive";
    va_list ap;
    va_start(ap, out);
    char *a;
    while ((a = va_arg(ap, char *)) != NULL && cli.argc < 15)
        cli.argv[cli.argc++] = a;
    va_end(ap);
    return dt_capture(s_cli_run, &cli, out);
}

static void
test_cli_doctor(void **state)
{
    (void) state;
    char url[600];
    char *out = NULL;
    s_sim(url, sizeof url, "cli-wp.img", "write_protect=1");
    assert_int_equal(s_cli(&out, "doctor", url, "--timeout", "1", (char *) NULL), 1);
    assert_non_null(strstr(out, "FAILED at step 'cartridge writable'"));
    assert_non_null(strstr(out, "What it means: the cartridge is write-protected"));
    assert_non_null(strstr(out, "What to do:"));
    assert_non_null(strstr(out, "ok    drive is ready"));
    free(out);
    assert_int_equal(s_cli(&out, "doctor", url, "--json", (char *) NULL), 1);
    assert_non_null(strstr(out, "\"first_failure\":\"write_protect\""));
    assert_non_null(strstr(out, "\"ok\":false"));
    assert_int_equal(out[0], '{');
    free(out);
    s_sim(url, sizeof url, "cli-ok.img", NULL);
    assert_int_equal(s_cli(&out, "doctor", url, (char *) NULL), 0);
    assert_non_null(strstr(out, "The drive is usable."));
    free(out);
    s_sim(url, sizeof url, "cli-nm.img", "no_medium=1");
    assert_int_equal(s_cli(&out, "doctor", url, "--timeout", "0.5", (char *) NULL), 1);
    assert_non_null(strstr(out, "FAILED at step 'drive is ready'"));
    assert_non_null(strstr(out, "no cartridge"));
    free(out);
}

static void
test_cli_status_list_usage(void **state)
{
    (void) state;
    char url[600];
    char *out = NULL;
    s_sim(url, sizeof url, "cli-st.img", "serial=ST0001");
    assert_int_equal(s_cli(&out, "status", url, (char *) NULL), 0);
    assert_non_null(strstr(out, "TAPEFLOW SIM-TAPE"));
    assert_non_null(strstr(out, "ST0001"));
    assert_non_null(strstr(out, "variable blocks"));
    free(out);
    assert_int_equal(s_cli(&out, "status", url, "--json", (char *) NULL), 0);
    assert_non_null(strstr(out, "\"serial\":\"ST0001\""));
    assert_non_null(strstr(out, "\"ready\":true"));
    free(out);
    assert_int_equal(s_cli(&out, "status", "sg:/dev/tf-no-such-tape", (char *) NULL), 1);
    assert_non_null(strstr(out, "does not exist"));
    free(out);
    assert_int_equal(s_cli(&out, "list", "--sysfs", "/nonexistent-sys", "--dev",
                           "/nonexistent-dev", (char *) NULL),
                     0);
    assert_non_null(strstr(out, "Attached tape drives (0)"));
    free(out);
    assert_int_equal(s_cli(&out, "list", "--json", "--sysfs", "/nonexistent-sys", (char *) NULL),
                     0);
    assert_non_null(strstr(out, "\"attached\":[]"));
    free(out);
    assert_int_equal(s_cli(&out, "frobnicate", (char *) NULL), 2);
    free(out);
    assert_int_equal(s_cli(&out, "status", (char *) NULL), 2);
    free(out);
    assert_int_equal(s_cli(&out, "doctor", url, "--timeout", "soon", (char *) NULL), 2);
    free(out);
    assert_int_equal(s_cli(&out, "doctor", url, "--bogus", (char *) NULL), 2);
    free(out);
}

static void
test_cli_selftest(void **state)
{
    (void) state;
    char url[600];
    char *out = NULL;
    s_sim(url, sizeof url, "selftest.img", "capacity=16M&ew=2M");
    /* Refuses without --yes-overwrite, and says why. */
    assert_int_equal(s_cli(&out, "test", url, (char *) NULL), 2);
    free(out);
    assert_int_equal(s_cli(&out, "test", url, "--yes-overwrite", (char *) NULL), 0);
    assert_non_null(strstr(out, "Self test PASSED."));
    assert_non_null(strstr(out, "PASS  early warning"));
    assert_non_null(strstr(out, "PASS  space forward and backward"));
    assert_non_null(strstr(out, "Throughput: write"));
    assert_null(strstr(out, "FAIL"));
    free(out);
    assert_int_equal(s_cli(&out, "test", url, "--yes-overwrite", "--json", "--ew-limit", "0",
                           (char *) NULL),
                     0);
    assert_non_null(strstr(out, "\"passed\":true"));
    assert_non_null(strstr(out, "\"state\":\"skip\""));
    free(out);
    /* On a drive without LOCATE or READ POSITION the same test passes via fallbacks. */
    s_sim(url, sizeof url, "selftest-q.img", "capacity=16M&ew=2M&quirks=tgt&sense=descriptor");
    assert_int_equal(s_cli(&out, "test", url, "--yes-overwrite", (char *) NULL), 0);
    assert_non_null(strstr(out, "Fallbacks used"));
    assert_non_null(strstr(out, "no LOCATE"));
    free(out);
    /* A write-protected tape fails the test with the reason. */
    s_sim(url, sizeof url, "selftest-wp.img", "write_protect=1");
    assert_int_equal(s_cli(&out, "test", url, "--yes-overwrite", (char *) NULL), 1);
    assert_non_null(strstr(out, "FAIL  write tape files"));
    assert_non_null(strstr(out, "write-protected"));
    free(out);
    /* A drive without early warning is caught. */
    s_sim(url, sizeof url, "selftest-eom.img", "capacity=8M&hard_eom=1");
    assert_int_equal(s_cli(&out, "test", url, "--yes-overwrite", (char *) NULL), 1);
    assert_non_null(strstr(out, "FAIL  early warning"));
    assert_non_null(strstr(out, "without an early warning"));
    free(out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doctor_faults),
        cmocka_unit_test(test_cli_doctor),
        cmocka_unit_test(test_cli_status_list_usage),
        cmocka_unit_test(test_cli_selftest),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
