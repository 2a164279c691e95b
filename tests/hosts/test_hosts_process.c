/*  Host routing across processes (issue 10 item 2), on one machine: the stack's actors register
    under tapeflow/host "tapesrv" (the CLI's host too), a second scanner under "hostb", and
    compressors under either, each started with its own tapeflow/host.

    - One job backs up a path of tapesrv and hostb:/path. hostb has a scanner but no compressor
      at first: its file group waits (never goes to tapesrv's compressor), the broker raises
      alert.worker.compress naming hostb and the fix, and `tapeflow job` says why the job
      waits. Once a compressor of hostb starts, the job completes; each group was compressed
      by a compressor of its own host (their logs).
    - A backup of a path on a host without a file agent is refused at once, naming the host
      and what to start there. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <czmq.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tf_clock.h"
#include "tf_testproc.h"
#include "tf_teststack.h"
#include "tf_tree.h"

typedef struct {
    tf_teststack_t *stack;
    const char *dir;
} fx_t;

/* Starts program name (see tf_teststack_opts_t.programs) registered under host. The CLI
   keeps tapesrv: the setting goes back once the program runs. */
static void
s_start_on(fx_t *fx, const char *name, const char *host)
{
    char setting[128];
    snprintf(setting, sizeof setting, "tapeflow/host=%s", host);
    assert_int_equal(tf_teststack_set(fx->stack, setting), 0);
    assert_int_equal(tf_teststack_start(fx->stack, name), 0);
    assert_int_equal(tf_teststack_set(fx->stack, "tapeflow/host=tapesrv"), 0);
}

static int
s_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    const char *config[] = {"tapeflow/host=tapesrv", "broker/host_wait_alert=1s", NULL};
    const char *programs[] = {"broker", "bus", "catalog", "labeller", "stager", "tapewriter",
                              "scanner", "compressor", NULL};
    tf_teststack_opts_t opts = {.config = config, .programs = programs};
    fx->stack = tf_teststack_new("tfhost", &opts);
    assert_non_null(fx->stack);
    fx->dir = tf_teststack_dir(fx->stack);
    *state = fx;
    return 0;
}

static int
s_teardown(void **state)
{
    fx_t *fx = *state;
    int down = tf_teststack_finish(&fx->stack);
    free(fx);
    assert_int_equal(down, 0);
    return 0;
}

static void
s_make_tree(fx_t *fx, const char *name, char *path, size_t size)
{
    snprintf(path, size, "%s/%s", fx->dir, name);
    tf_tree_spec_t spec = {.files = 12, .bytes = 200000, .seed = 11};
    char why[512];
    if (tf_tree_generate(path, &spec, NULL, why, sizeof why) != 0)
        fail_msg("tree: %s", why);
}

/* `tapeflow job ID --json` until its status is not running/queued or timeout_ms passed; the
   last output (caller frees). */
static char *
s_job_until_ended(fx_t *fx, const char *job, int timeout_ms)
{
    int64_t deadline = tf_clock_mono_ms() + timeout_ms;
    for (;;) {
        char *out = NULL, status[64] = "";
        tf_teststack_cli(fx->stack, &out, "job", job, "--json", NULL);
        tf_test_json_str(out ? out : "", "status", status, sizeof status);
        bool open = strcmp(status, "running") == 0 || strcmp(status, "queued") == 0 || !status[0];
        if (!open || tf_clock_mono_ms() > deadline)
            return out;
        free(out);
        tf_clock_sleep_ms(300);
    }
}

/* Whether the log of program name mentions text. */
static bool
s_log_has(fx_t *fx, const char *name, const char *text)
{
    char path[PATH_MAX];
    tf_teststack_log(fx->stack, name, path, sizeof path);
    char *log = tf_test_read_file(path);
    bool has = log && strstr(log, text);
    free(log);
    return has;
}

static void
test_groups_go_to_their_host(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(tf_teststack_label(fx->stack, "tape0", "TF0001", "default"), 0);
    s_start_on(fx, "scanner.b", "hostb");
    const char *prefixes[] = {"alert.worker.compress", NULL};
    tf_testevents_t *alerts = tf_teststack_events(fx->stack, prefixes);
    assert_non_null(alerts);

    char local[PATH_MAX], remote[PATH_MAX], remote_arg[PATH_MAX + 16];
    s_make_tree(fx, "src-a", local, sizeof local);
    s_make_tree(fx, "src-b", remote, sizeof remote);
    snprintf(remote_arg, sizeof remote_arg, "hostb:%s", remote);
    char *out = NULL, job[96] = "";
    int rc = tf_teststack_cli(fx->stack, &out, "backup", local, remote_arg, "--pool", "default", "--json", NULL);
    if (rc != 0 || !tf_test_json_job(out ? out : "", job, sizeof job))
        fail_msg("backup did not start (%d): %s", rc, out ? out : "");
    free(out);

    /* hostb's group waits for a compressor of hostb: an alert, and the job says why. */
    tf_msg_t ev;
    assert_true(tf_testevents_wait(alerts, "alert.worker.compress", "for host hostb, which has no live compress worker", 30000, &ev));
    assert_non_null(strstr(ev.event.message, "start the file agent on hostb"));
    tf_msg_clear(&ev);
    tf_testevents_destroy(&alerts);
    int64_t deadline = tf_clock_mono_ms() + 30000;
    bool told = false;
    while (!told && tf_clock_mono_ms() < deadline) {
        tf_teststack_cli(fx->stack, &out, "job", job, "--json", NULL);
        told = out && strstr(out, "waiting for host hostb");
        free(out);
        out = NULL;
        if (!told)
            tf_clock_sleep_ms(300);
    }
    assert_true(told);
    char hostb_group[128];
    snprintf(hostb_group, sizeof hostb_group, "%s-g1000001", job);
    assert_false(s_log_has(fx, "compressor", hostb_group));

    s_start_on(fx, "compressor.b", "hostb");
    out = s_job_until_ended(fx, job, 180000);
    char status[64] = "";
    tf_test_json_str(out ? out : "", "status", status, sizeof status);
    if (strcmp(status, "completed") != 0)
        fail_msg("job %s ended %s: %s", job, status, out ? out : "");
    assert_non_null(strstr(out, "hostb:"));   /* its sources name their host */
    free(out);
    /* Each group went to a compressor of its own host. */
    char local_group[128];
    snprintf(local_group, sizeof local_group, "%s-g00001", job);
    assert_true(s_log_has(fx, "compressor.b", hostb_group));
    assert_false(s_log_has(fx, "compressor.b", local_group));
    assert_true(s_log_has(fx, "compressor", local_group));
    assert_false(s_log_has(fx, "compressor", hostb_group));
}

static void
test_no_agent_refused(void **state)
{
    fx_t *fx = *state;
    char *out = NULL;
    int rc = tf_teststack_cli_all(fx->stack, &out, "backup", "hostc:/srv/data", "--pool", "default", NULL);
    assert_int_not_equal(rc, 0);
    assert_non_null(out);
    if (!strstr(out, "no file agent on host hostc: start tapeflow up there (up/roles agent)"))
        fail_msg("unexpected output: %s", out);
    free(out);
    /* A path the agent of hostb cannot find is refused by that agent. */
    s_start_on(fx, "scanner.b", "hostb");
    rc = tf_teststack_cli_all(fx->stack, &out, "backup", "hostb:/no/such/path", "--pool", "default", NULL);
    assert_int_not_equal(rc, 0);
    if (!out || !strstr(out, "hostb:/no/such/path: No such file or directory (checked on host hostb)"))
        fail_msg("unexpected output: %s", out ? out : "");
    free(out);
}

int
main(int argc, char **argv)
{
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_groups_go_to_their_host, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_no_agent_refused, s_setup, s_teardown),
    };
    return cmocka_run_group_tests_name("hosts", tests, NULL, NULL);
}
