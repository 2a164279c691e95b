/*  test_cli - the tapeflow CLI against real processes: up/status/down, crash restart, events,
    refusal of a second supervisor, usage errors, the roles of a host (up/roles: a workers-only
    host next to a tape server, each a home of its own).

    Each test runs in its own temp folder used as TAPEFLOW_HOME (so its ipc sockets, pid file and
    logs are its own) with a small config file that makes restarts and stops fast. Teardown
    always stops whatever the test started: the foreground supervisor it spawned, a detached
    supervisor from the pid file, and any child pid listed in up.state.

    Run one test: test_cli <name-pattern> (used by ctest, one entry per test).
*/
#define _GNU_SOURCE
#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tf_testcli.h"
#include "tf_testproc.h"
#include "tf_wire.h"

#define S_RUN_TIMEOUT 30000   /* ms for one CLI command */
#define S_WAIT 20000          /* ms for a condition to come true */

typedef struct {
    char *home;
    char cfg[PATH_MAX];
    char state_path[PATH_MAX];
    char pid_path[PATH_MAX];
    char env_home[PATH_MAX + 32];
    char env_bindir[PATH_MAX + 32];
    char *env[4];
    tf_testproc_t *up;       /* foreground supervisor started by the test */
    tf_testproc_t *events;   /* `tapeflow events` started by the test */
} fx_t;

/* --- helpers ------------------------------------------------------------------------------ */

static bool
s_pid_alive(int pid)
{
    if (pid <= 0 || (kill(pid, 0) != 0 && errno != EPERM))
        return false;
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return true;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *paren = strrchr(buf, ')');
    return !(paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X'));
}

/* Runs tapeflow --config CFG ARGS...; captures stdout (and stderr with merge). */
static int
s_cli(fx_t *fx, bool merge, char **out, ...)
{
    char *dummy = NULL, *err = NULL;
    va_list ap;
    va_start(ap, out);
    int rc = tf_testcli_vrun(fx->cfg, fx->env, fx->home, S_RUN_TIMEOUT, out ? out : &dummy, merge ? NULL : &err, ap);
    va_end(ap);
    free(dummy);
    free(err);
    return rc;
}

/* Same, with no config file: exercises the bare CLI. */
static int
s_cli_bare(fx_t *fx, char **out, ...)
{
    va_list ap;
    va_start(ap, out);
    int rc = tf_testcli_vrun(NULL, fx->env, fx->home, S_RUN_TIMEOUT, out, NULL, ap);
    va_end(ap);
    return rc;
}

/* A child row of up.state; false when the file or child is missing. */
typedef struct {
    int pid;
    char state[32];
    int restarts;
    char last_exit[128];
} s_row_t;

static bool
s_state_child(fx_t *fx, const char *name, s_row_t *row)
{
    memset(row, 0, sizeof *row);
    zconfig_t *root = zconfig_load(fx->state_path);
    if (!root)
        return false;
    char key[256];
    snprintf(key, sizeof key, "children/%s", name);
    zconfig_t *c = zconfig_locate(root, key);
    if (c) {
        row->pid = atoi(zconfig_get(c, "pid", "0"));
        snprintf(row->state, sizeof row->state, "%s", zconfig_get(c, "state", ""));
        row->restarts = atoi(zconfig_get(c, "restarts", "0"));
        snprintf(row->last_exit, sizeof row->last_exit, "%s", zconfig_get(c, "last_exit", ""));
    }
    zconfig_destroy(&root);
    return c != NULL;
}

/* Every child pid in up.state (up to max). */
static int
s_state_pids(fx_t *fx, int *pids, int max)
{
    zconfig_t *root = zconfig_load(fx->state_path);
    if (!root)
        return 0;
    int n = 0;
    zconfig_t *children = zconfig_locate(root, "children");
    for (zconfig_t *c = children ? zconfig_child(children) : NULL; c && n < max;
         c = zconfig_next(c))
        pids[n++] = atoi(zconfig_get(c, "pid", "0"));
    zconfig_destroy(&root);
    return n;
}

static int
s_pidfile(fx_t *fx)
{
    char *text = tf_test_read_file(fx->pid_path);
    int pid = text ? atoi(text) : 0;
    free(text);
    return pid;
}

static bool
s_all_running(void *arg)
{
    fx_t *fx = arg;
    static const char *names[] = {"bus", "broker", "echo.1"};
    for (size_t i = 0; i < 3; i++) {
        s_row_t row;
        if (!s_state_child(fx, names[i], &row) || strcmp(row.state, "running") != 0
            || !s_pid_alive(row.pid))
            return false;
    }
    return true;
}

/* Starts `tapeflow up` in the foreground as the test's child and waits for its children. */
static void
s_up_foreground(fx_t *fx)
{
    char exe[PATH_MAX], log[PATH_MAX];
    snprintf(exe, sizeof exe, "%s/tapeflow", tf_test_bindir());
    snprintf(log, sizeof log, "%s/up-foreground.out", fx->home);
    char *argv[] = {(char *) "tapeflow", (char *) "--config", fx->cfg, (char *) "up", NULL};
    fx->up = tf_testproc_start(exe, argv, fx->env, log);
    assert_non_null(fx->up);
    assert_true(tf_test_wait_for(s_all_running, fx, S_WAIT));
}

static bool
s_file_has(const char *path, const char *needle)
{
    char *text = tf_test_read_file(path);
    bool found = text && strstr(text, needle);
    free(text);
    return found;
}

/* --- fixture ------------------------------------------------------------------------------ */

static int
s_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    if (!fx)
        return -1;
    fx->home = tf_test_tempdir("tfcli");
    if (!fx->home) {
        free(fx);
        return -1;
    }
    snprintf(fx->cfg, sizeof fx->cfg, "%s/tapeflow.cfg", fx->home);
    snprintf(fx->state_path, sizeof fx->state_path, "%s/run/up.state", fx->home);
    snprintf(fx->pid_path, sizeof fx->pid_path, "%s/run/up.pid", fx->home);
    FILE *f = fopen(fx->cfg, "w");
    if (!f)
        return -1;
    fprintf(f, "#   tapeflow CLI test configuration\n"
               "up\n"
               "    roles = \"broker bus echo\"\n"
               "    restart_min = 200\n"
               "    restart_max = 2000\n"
               "    stop_timeout = 5000\n");
    fclose(f);
    snprintf(fx->env_home, sizeof fx->env_home, "TAPEFLOW_HOME=%s", fx->home);
    fx->env[0] = fx->env_home;
    fx->env[1] = (char *) "TAPEFLOW_CONFIG=";
    fx->env[2] = NULL;
    *state = fx;
    return 0;
}

static int
s_teardown(void **state)
{
    fx_t *fx = *state;
    tf_testproc_destroy(&fx->events);
    if (fx->up) {
        tf_testproc_kill(fx->up, SIGTERM);
        tf_testproc_wait(fx->up, 15000, NULL);
        tf_testproc_destroy(&fx->up);
    }
    int pid = s_pidfile(fx);
    if (s_pid_alive(pid)) {   /* a detached supervisor */
        kill(pid, SIGTERM);
        for (int i = 0; i < 750 && s_pid_alive(pid); i++)
            usleep(20000);
        if (s_pid_alive(pid))
            kill(pid, SIGKILL);
    }
    int pids[64];
    int n = s_state_pids(fx, pids, 64);
    for (int i = 0; i < n; i++)
        if (s_pid_alive(pids[i])) {
            char path[64], cmd[256] = "";
            snprintf(path, sizeof path, "/proc/%d/cmdline", pids[i]);
            FILE *f = fopen(path, "r");
            if (f) {
                size_t len = fread(cmd, 1, sizeof cmd - 1, f);
                cmd[len] = '\0';
                fclose(f);
            }
            if (strstr(cmd, "tapeflow"))
                kill(pids[i], SIGKILL);
        }
    tf_test_rmtree(fx->home);
    free(fx->home);
    free(fx);
    return 0;
}

/* --- tests -------------------------------------------------------------------------------- */

static void
test_usage_errors(void **state)
{
    fx_t *fx = *state;
    char *out = NULL;
    assert_int_equal(s_cli_bare(fx, &out, NULL), 2);
    assert_non_null(strstr(out, "usage: tapeflow"));
    free(out);
    assert_int_equal(s_cli_bare(fx, &out, "bogus", NULL), 2);
    assert_non_null(strstr(out, "unknown command 'bogus'"));
    free(out);
    assert_int_equal(s_cli_bare(fx, &out, "--bogus", "status", NULL), 2);
    free(out);
    assert_int_equal(s_cli_bare(fx, &out, "status", "--bogus", NULL), 2);
    free(out);
    assert_int_equal(s_cli_bare(fx, &out, "up", "--what", NULL), 2);
    free(out);
    assert_int_equal(s_cli_bare(fx, &out, "events", "--count", "x", NULL), 2);
    free(out);
    assert_int_equal(s_cli_bare(fx, &out, "events", "a", "b", NULL), 2);
    free(out);
    assert_int_equal(s_cli_bare(fx, &out, "--config", NULL), 2);
    free(out);
    assert_int_equal(s_cli_bare(fx, &out, "help", "nope", NULL), 2);
    free(out);
    /* replica (issue 12): a verb is needed, operands are counted, before anything is opened */
    assert_int_equal(s_cli_bare(fx, &out, "replica", NULL), 2);
    assert_non_null(strstr(out, "usage: tapeflow replica init NAME"));
    free(out);
    assert_int_equal(s_cli_bare(fx, &out, "replica", "bogus", NULL), 2);
    assert_non_null(strstr(out, "'bogus'"));
    free(out);
    assert_int_equal(s_cli_bare(fx, &out, "replica", "init", NULL), 2);
    assert_non_null(strstr(out, "replica init: which target?"));
    free(out);
    assert_int_equal(s_cli_bare(fx, &out, "replica", "verify", "nas", "J1", "J2", NULL), 2);
    assert_non_null(strstr(out, "unexpected argument 'J2'"));
    free(out);
    assert_int_equal(s_cli_bare(fx, &out, "replica", "check", "nas", "--timeout", "x", NULL), 2);
    free(out);
    assert_int_equal(s_cli_bare(fx, &out, "restore", "J1", "--to", "/tmp/x", "--from-replica", NULL), 2);
    assert_non_null(strstr(out, "'--from-replica' needs a value"));
    free(out);

    assert_int_equal(s_cli_bare(fx, &out, "--help", NULL), 0);
    assert_non_null(strstr(out, "usage: tapeflow"));
    free(out);
    assert_int_equal(s_cli_bare(fx, &out, "help", "events", NULL), 0);
    assert_non_null(strstr(out, "TOPIC-PREFIX"));
    free(out);
    assert_int_equal(s_cli_bare(fx, &out, "--version", NULL), 0);
    assert_non_null(strstr(out, "tapeflow "));
    free(out);
    /* A config file that is not there is an error, not a usage error. */
    assert_int_equal(s_cli_bare(fx, &out, "--config", "/nonexistent/tf.cfg", "status", NULL), 1);
    assert_non_null(strstr(out, "/nonexistent/tf.cfg"));
    free(out);
}

static void
test_status_when_nothing_runs(void **state)
{
    fx_t *fx = *state;
    char *out = NULL;
    assert_int_equal(s_cli(fx, false, &out, "status", NULL), 1);
    assert_non_null(strstr(out, "broker not reachable at ipc://"));
    assert_non_null(strstr(out, "start it with: tapeflow up"));
    assert_non_null(strstr(out, "supervisor  not running"));
    free(out);
    assert_int_equal(s_cli(fx, false, &out, "status", "--json", NULL), 1);
    assert_non_null(strstr(out, "\"healthy\":false"));
    assert_non_null(strstr(out, "\"reachable\":false"));
    free(out);
    assert_int_equal(s_cli(fx, false, &out, "down", NULL), 0);
    assert_non_null(strstr(out, "not running"));
    free(out);
}

static void
test_missing_program(void **state)
{
    fx_t *fx = *state;
    char nobin[PATH_MAX];
    snprintf(nobin, sizeof nobin, "%s/nobin", fx->home);
    assert_int_equal(mkdir(nobin, 0755), 0);
    snprintf(fx->env_bindir, sizeof fx->env_bindir, "TAPEFLOW_BIN_DIR=%s", nobin);
    fx->env[2] = fx->env_bindir;
    fx->env[3] = NULL;
    char *out = NULL;
    assert_int_equal(s_cli(fx, true, &out, "up", NULL), 1);
    assert_non_null(strstr(out, "tapeflow-bus"));
    assert_non_null(strstr(out, "tapeflow-echo"));
    assert_non_null(strstr(out, nobin));
    free(out);
    assert_false(s_pid_alive(s_pidfile(fx)));
}

static bool
s_echo_registered(void *arg)
{
    fx_t *fx = arg;
    char *out = NULL;
    int rc = s_cli(fx, false, &out, "status", "--json", NULL);
    bool ok = rc == 0 && out && strstr(out, "\"reachable\":true")
              && strstr(out, "\"name\":\"echo\",\"workers\":1");
    free(out);
    return ok;
}

static void
test_up_detach_status_down(void **state)
{
    fx_t *fx = *state;
    char *out = NULL;
    assert_int_equal(s_cli(fx, true, &out, "up", "--detach", NULL), 0);
    assert_non_null(strstr(out, "tapeflow is up (broker ipc://"));
    assert_non_null(strstr(out, "echo.1"));
    assert_non_null(strstr(out, "/log/broker.log"));
    free(out);
    assert_true(s_pid_alive(s_pidfile(fx)));

    /* The broker answers before the echo worker has registered: give it a moment. */
    assert_true(tf_test_wait_for(s_echo_registered, fx, S_WAIT));
    assert_int_equal(s_cli(fx, false, &out, "status", NULL), 0);
    assert_non_null(strstr(out, "tapeflow: healthy"));
    assert_non_null(strstr(out, "broker      answering"));
    assert_non_null(strstr(out, "echo.1"));
    free(out);

    int pids[64];
    int n = s_state_pids(fx, pids, 64);
    assert_int_equal(n, 3);
    int supervisor = s_pidfile(fx);
    assert_int_equal(s_cli(fx, false, &out, "down", NULL), 0);
    assert_non_null(strstr(out, "stopped"));
    free(out);
    assert_false(s_pid_alive(supervisor));
    for (int i = 0; i < n; i++)
        assert_false(s_pid_alive(pids[i]));
    assert_int_equal(access(fx->pid_path, F_OK), -1);
    s_row_t row;
    assert_true(s_state_child(fx, "broker", &row));
    assert_string_equal(row.state, "stopped");
    assert_string_equal(row.last_exit, "exited with code 0");

    assert_int_equal(s_cli(fx, false, &out, "status", NULL), 1);
    assert_non_null(strstr(out, "not reachable"));
    free(out);
}

typedef struct {
    fx_t *fx;
    int old_pid;
} s_restart_t;

static bool
s_echo_restarted(void *arg)
{
    s_restart_t *r = arg;
    s_row_t row;
    return s_state_child(r->fx, "echo.1", &row) && strcmp(row.state, "running") == 0
           && row.pid > 0 && row.pid != r->old_pid && row.restarts == 1 && s_pid_alive(row.pid);
}

static void
test_crash_restart(void **state)
{
    fx_t *fx = *state;
    s_up_foreground(fx);
    s_row_t row;
    assert_true(s_state_child(fx, "echo.1", &row));
    assert_int_equal(row.restarts, 0);
    assert_int_equal(kill(row.pid, SIGKILL), 0);
    s_restart_t r = {fx, row.pid};
    assert_true(tf_test_wait_for(s_echo_restarted, &r, S_WAIT));
    assert_true(s_state_child(fx, "echo.1", &row));
    assert_string_equal(row.last_exit, "killed by SIGKILL");

    /* SIGTERM stops everything and the supervisor exits 0. */
    int pids[64];
    int n = s_state_pids(fx, pids, 64);
    assert_int_equal(tf_testproc_kill(fx->up, SIGTERM), 0);
    int status = -1;
    assert_true(tf_testproc_wait(fx->up, 15000, &status));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    for (int i = 0; i < n; i++)
        assert_false(s_pid_alive(pids[i]));
    char log[PATH_MAX];
    snprintf(log, sizeof log, "%s/up-foreground.out", fx->home);
    assert_true(s_file_has(log, "echo.1"));
    assert_true(s_file_has(log, "killed by SIGKILL"));
}

static void
test_second_up_refused(void **state)
{
    fx_t *fx = *state;
    s_up_foreground(fx);
    char *out = NULL;
    assert_int_equal(s_cli(fx, true, &out, "up", NULL), 1);
    assert_non_null(strstr(out, "already running"));
    free(out);
    assert_int_equal(s_cli(fx, true, &out, "up", "--detach", NULL), 1);
    assert_non_null(strstr(out, "already running"));
    free(out);
    assert_true(tf_testproc_alive(fx->up));
    assert_true(s_all_running(fx));
}

static zsock_t *
s_publisher(fx_t *fx)
{
    zsock_t *pub = zsock_new(ZMQ_PUB);
    assert_non_null(pub);
    zsock_set_linger(pub, 0);
    assert_int_equal(zsock_connect(pub, "ipc://%s/run/bus-in.sock", fx->home), 0);
    return pub;
}

static void
s_publish(zsock_t *pub, const char *topic, uint64_t seq)
{
    tf_msg_t msg;
    memset(&msg, 0, sizeof msg);
    msg.type = TF_MSG_EVENT;
    msg.event.topic = (char *) topic;
    msg.event.time_ms = zclock_time();
    msg.event.source = (char *) "test-cli";
    msg.event.seq = seq;
    msg.event.level = (char *) "info";
    msg.event.message = (char *) "hello from the test";
    msg.event.job_id = (char *) "job-7";
    msg.event.done = 3;
    msg.event.total = 10;
    tf_err_t err = {0};
    assert_int_equal(tf_wire_publish(pub, &msg, &err), TF_OK);
}

static void
s_events_start(fx_t *fx, char *out_path, size_t size, const char *const args[])
{
    char exe[PATH_MAX];
    snprintf(exe, sizeof exe, "%s/tapeflow", tf_test_bindir());
    snprintf(out_path, size, "%s/events.out", fx->home);
    char *argv[16] = {(char *) "tapeflow", (char *) "--config", fx->cfg, (char *) "events"};
    int n = 4;
    for (int i = 0; args[i] && n < 15; i++)
        argv[n++] = (char *) args[i];
    argv[n] = NULL;
    fx->events = tf_testproc_start(exe, argv, fx->env, out_path);
    assert_non_null(fx->events);
}

static void
test_events_count(void **state)
{
    fx_t *fx = *state;
    s_up_foreground(fx);
    char out[PATH_MAX];
    const char *const args[] = {"test.cli", "--count", "1", "--timeout", "10", "--json", NULL};
    s_events_start(fx, out, sizeof out, args);
    zsock_t *pub = s_publisher(fx);
    /* Subscriptions take a moment to reach the publisher: publish until the CLI has one. */
    int status = -1;
    bool exited = false;
    for (uint64_t seq = 1; seq <= 200 && !exited; seq++) {
        s_publish(pub, "test.cli.hello", seq);
        exited = tf_testproc_wait(fx->events, 50, &status);
    }
    zsock_destroy(&pub);
    assert_true(exited || tf_testproc_wait(fx->events, 12000, &status));
    char *text = tf_test_read_file(out);
    assert_non_null(text);
    printf("---- events output:\n%s", text);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_non_null(strstr(text, "\"topic\":\"test.cli.hello\""));
    assert_non_null(strstr(text, "\"source\":\"test-cli\""));
    assert_non_null(strstr(text, "\"message\":\"hello from the test\""));
    assert_non_null(strstr(text, "\"job_id\":\"job-7\""));
    assert_non_null(strstr(text, "\"done\":3,\"total\":10"));
    free(text);
}

static void
test_events_gap(void **state)
{
    fx_t *fx = *state;
    s_up_foreground(fx);
    char out[PATH_MAX];
    const char *const args[] = {"test.gap", "--timeout", "30", NULL};
    s_events_start(fx, out, sizeof out, args);
    zsock_t *pub = s_publisher(fx);
    uint64_t seq = 0;
    bool seen = false;
    while (!seen && seq < 400) {
        s_publish(pub, "test.gap.tick", ++seq);
        usleep(50000);
        seen = s_file_has(out, "test.gap.tick");
    }
    assert_true(seen);
    seq += 5;   /* four events never sent: seq+1 .. seq+4 */
    s_publish(pub, "test.gap.tick", seq);
    char expect[128];
    snprintf(expect, sizeof expect, "gap: test-cli lost 4 events (seq %llu..%llu)",
             (unsigned long long) (seq - 4), (unsigned long long) (seq - 1));
    bool gap = false;
    for (int i = 0; i < 200 && !gap; i++) {
        usleep(50000);
        gap = s_file_has(out, expect);
    }
    zsock_destroy(&pub);
    char *text = tf_test_read_file(out);
    printf("---- events output:\n%s", text ? text : "(none)");
    free(text);
    assert_true(gap);
    assert_true(s_file_has(out, "test-cli#1 test.gap.tick info hello from the test job=job-7 3/10")
                || s_file_has(out, "test.gap.tick info hello from the test job=job-7 3/10"));
    /* Ctrl-C ends the tail with exit 0. */
    assert_int_equal(tf_testproc_kill(fx->events, SIGINT), 0);
    int status = -1;
    assert_true(tf_testproc_wait(fx->events, 10000, &status));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* A program folder for 'tapeflow up' with the real bus, broker and echo except fake (one of
   them), a /bin/sh running script; the CLI finds it through TAPEFLOW_BIN_DIR. */
static void
s_fake_bin(fx_t *fx, const char *fake, const char *script)
{
    char bin[PATH_MAX], path[PATH_MAX + 32], real[PATH_MAX + 32];
    snprintf(bin, sizeof bin, "%s/bin", fx->home);
    assert_int_equal(mkdir(bin, 0755), 0);
    static const char *programs[] = {"tapeflow-bus", "tapeflow-broker", "tapeflow-echo"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", bin, programs[i]);
        if (strcmp(programs[i], fake) == 0) {
            FILE *f = fopen(path, "w");
            assert_non_null(f);
            fprintf(f, "#!/bin/sh\n%s", script);
            fclose(f);
            assert_int_equal(chmod(path, 0755), 0);
        }
        else {
            snprintf(real, sizeof real, "%s/%s", tf_test_bindir(), programs[i]);
            assert_int_equal(symlink(real, path), 0);
        }
    }
    snprintf(fx->env_bindir, sizeof fx->env_bindir, "TAPEFLOW_BIN_DIR=%s", bin);
    fx->env[2] = fx->env_bindir;
    fx->env[3] = NULL;
}

/* A broker that runs but never answers: --detach gives up after 15 s, says what failed and
   where the logs are, and leaves the supervisor for `tapeflow down`. */
static void
test_detach_unhealthy(void **state)
{
    fx_t *fx = *state;
    s_fake_bin(fx, "tapeflow-broker", "echo 'fake broker: cannot open journal' >&2\nexec sleep 120\n");

    char *out = NULL;
    assert_int_equal(s_cli(fx, true, &out, "up", "--detach", NULL), 1);
    assert_non_null(strstr(out, "did not become healthy within 15 s: the broker did not answer at "
                                "ipc://"));
    assert_non_null(strstr(out, "/log"));
    assert_non_null(strstr(out, "tapeflow down"));
    free(out);
    char log[PATH_MAX];
    snprintf(log, sizeof log, "%s/log/broker.log", fx->home);
    assert_true(s_file_has(log, "fake broker: cannot open journal"));
    assert_int_equal(s_cli(fx, false, &out, "down", NULL), 0);
    assert_non_null(strstr(out, "stopped"));
    free(out);
}


/* Runs 'up --detach' with a fake program that writes log_line and exits with code at once,
   and checks that child is reported as crash-looping - how it ended, its restarts and the last
   lines of its log - as soon as it is (from the state file, not at the broker's 15 s deadline,
   also while no broker answers), never as "up"; then stops the supervisor. */
static void
s_expect_crash_loop(fx_t *fx, const char *program, const char *child, int code,
                    const char *log_line)
{
    char script[512], expect[640];
    snprintf(script, sizeof script, "echo '%s' >&2\nexit %d\n", log_line, code);
    s_fake_bin(fx, program, script);
    char *out = NULL;
    assert_int_equal(s_cli(fx, true, &out, "up", "--detach", NULL), 1);
    assert_null(strstr(out, "tapeflow is up"));
    assert_null(strstr(out, "did not become healthy"));
    assert_null(strstr(out, "did not answer within"));
    snprintf(expect, sizeof expect, "tapeflow up: the stack is not up: %s keeps crashing (exited "
             "with code %d, ", child, code);
    assert_non_null(strstr(out, expect));
    assert_non_null(strstr(out, " restart(s)); see "));
    snprintf(expect, sizeof expect, "%s.log:\n    %s\n", child, log_line);
    assert_non_null(strstr(out, expect));
    assert_non_null(strstr(out, "tapeflow down"));
    free(out);
    assert_int_equal(s_cli(fx, false, &out, "down", NULL), 0);
    free(out);
}

/* Issue 8 item 12: an actor that exits at once must not let 'up --detach' say "up". */
static void
test_detach_crash_loop(void **state)
{
    s_expect_crash_loop(*state, "tapeflow-echo", "echo.1", 1,
                        "fake echo: cannot open drive /dev/nst9");
}

/* Issue 10 item 4: neither must a broker that exits at once (a tape server's broker that
   cannot start) - reported before the 15 s the broker has to answer. */
static void
test_detach_broker_crash_loop(void **state)
{
    s_expect_crash_loop(*state, "tapeflow-broker", "broker", 3,
                        "fake broker: cannot open journal");
}

/* R12: a child that stays alive but never registers with the broker (or crashed after the
   settle time) is not "up": 'up --detach' waits for the broker's status to show every actor's
   service with its workers, and at the deadline names the service, the child's log and its
   last line, and exits 1. */
static void
test_detach_worker_missing(void **state)
{
    fx_t *fx = *state;
    s_fake_bin(fx, "tapeflow-echo", "echo 'fake echo: waiting for a drive' >&2\nexec sleep 120\n");

    char *out = NULL;
    assert_int_equal(s_cli(fx, true, &out, "up", "--detach", NULL), 1);
    assert_null(strstr(out, "tapeflow is up"));
    assert_non_null(strstr(out, "tapeflow up: the stack is not up: the broker shows 0 of 1 worker(s) "
                                "of service echo (actor echo) from host "));
    assert_non_null(strstr(out, "echo.1.log:\n    fake echo: waiting for a drive\n"));
    assert_non_null(strstr(out, "tapeflow down"));
    free(out);
    assert_int_equal(s_cli(fx, false, &out, "down", NULL), 0);
    free(out);
}

/* Issue 8 item 12: a config file with an unknown key or a value out of range is refused when
   a program starts, with the file, the line and what is allowed; 'config check' lists every
   problem, 'config show' the effective values and their source; number options are checked. */
static void
test_config_checked(void **state)
{
    fx_t *fx = *state;
    char bad[PATH_MAX + 16];
    snprintf(bad, sizeof bad, "%s/bad.cfg", fx->home);
    FILE *f = fopen(bad, "w");
    assert_non_null(f);
    fprintf(f, "up\n    actors = echo\ntapewriter\n    verfy = 0\nbroker\n    liveness = -4\n"
               "stager\n    capacity = -1\nschedules\n    nightly\n        paths = /srv\n"
               "        catch_up = twice\n");
    fclose(f);
    char *out = NULL, expect[PATH_MAX + 200];
    assert_int_equal(s_cli_bare(fx, &out, "--config", bad, "up", "--detach", NULL), 1);
    snprintf(expect, sizeof expect, "tapeflow: config %s line 4: unknown key tapewriter/verfy (did "
                                    "you mean tapewriter/verify?)", bad);
    assert_non_null(strstr(out, expect));
    assert_non_null(strstr(out, "and 2 more; list them all with: tapeflow config check"));
    free(out);
    assert_false(s_pid_alive(s_pidfile(fx)));   /* nothing started */
    assert_int_equal(s_cli_bare(fx, &out, "--config", bad, "status", NULL), 1);
    assert_non_null(strstr(out, "unknown key tapewriter/verfy"));
    free(out);

    assert_int_equal(s_cli(fx, false, &out, "config", "check", bad, NULL), 1);
    snprintf(expect, sizeof expect, "%s line 6: broker/liveness = '-4' is out of range: allowed is "
                                    "a whole number from 1 to 100", bad);
    assert_non_null(strstr(out, expect));
    snprintf(expect, sizeof expect, "%s line 8: stager/capacity = '-1' is not a size", bad);
    assert_non_null(strstr(out, expect));
    /* a schedule the scheduler would not run */
    assert_non_null(strstr(out, "schedule nightly is not run: schedules/nightly/catch_up = 'twice': use once, "
                                "skip or 'within DURATION' (within 2h)"));
    assert_non_null(strstr(out, "4 problems"));
    free(out);
    assert_int_equal(s_cli(fx, false, &out, "config", "check", "--json", bad, NULL), 1);
    assert_non_null(strstr(out, "\"ok\":false"));
    free(out);
    assert_int_equal(s_cli(fx, false, &out, "config", "check", NULL), 0);
    assert_non_null(strstr(out, "tapeflow.cfg: ok"));
    free(out);

    assert_int_equal(s_cli(fx, false, &out, "--set", "broker/liveness=7", "config", "show", NULL), 0);
    snprintf(expect, sizeof expect, "%s:4", fx->cfg);
    assert_non_null(strstr(out, expect));   /* up/restart_min, line 4 of the test config */
    assert_non_null(strstr(out, "broker/liveness"));
    assert_non_null(strstr(out, "override"));
    free(out);
    assert_int_equal(s_cli(fx, false, &out, "config", "show", "--json", NULL), 0);
    assert_non_null(strstr(out, "\"key\":\"up/restart_min\",\"value\":\"200\",\"source\":"));
    assert_non_null(strstr(out, "\"key\":\"broker/liveness\",\"value\":\"3\",\"source\":\"default\""));
    free(out);
    assert_int_equal(s_cli(fx, true, &out, "--set", "broker/liveness=-4", "status", NULL), 2);
    assert_non_null(strstr(out, "broker/liveness = '-4' is out of range"));
    free(out);
    assert_int_equal(s_cli(fx, true, &out, "--set", "up/settle=1s", "up", NULL), 2);
    assert_non_null(strstr(out, "--set does not reach the programs"));
    free(out);

    /* Number options: garbage is a usage error, not a zero. */
    assert_int_equal(s_cli(fx, true, &out, "backup", "--wait", "--timeout", "abc", "/tmp", NULL), 2);
    assert_non_null(strstr(out, "backup: --timeout takes a number of seconds from 0 to"));
    assert_non_null(strstr(out, "not 'abc'"));
    free(out);
    assert_int_equal(s_cli(fx, true, &out, "restore", "J1", "--to", fx->home, "--timeout", "5x", NULL), 2);
    assert_non_null(strstr(out, "not '5x'"));
    free(out);
    assert_int_equal(s_cli(fx, true, &out, "tape", "dump", "tape0", "--file", "", NULL), 2);
    free(out);
}

/* Runs tapeflow (no config file) with the words of line and then extra; stdout in *out, stderr
   in *err. */
static int
s_cli_words(fx_t *fx, const char *line, const char *extra, char **out, char **err)
{
    char exe[PATH_MAX], err_path[PATH_MAX], script[PATH_MAX + 64], words[256];
    snprintf(exe, sizeof exe, "%s/tapeflow", tf_test_bindir());
    snprintf(err_path, sizeof err_path, "%s/cli-words.err", fx->home);
    snprintf(script, sizeof script, "exec \"$0\" \"$@\" 2>'%s'", err_path);
    snprintf(words, sizeof words, "%s", line);
    char *argv[32] = {(char *) "sh", (char *) "-c", script, exe};
    int n = 4;
    for (char *save = NULL, *w = strtok_r(words, " ", &save); w && n < 30; w = strtok_r(NULL, " ", &save))
        argv[n++] = w;
    if (extra)
        argv[n++] = (char *) extra;
    argv[n] = NULL;
    *out = NULL;
    int rc = tf_test_run("/bin/sh", argv, fx->env, S_RUN_TIMEOUT, out);
    *err = tf_test_read_file(err_path);
    return rc;
}

/* Issue 9 item 8: every command and verb, as `tapeflow help --list` names them (from the CLI's
   one command table, so a new command or verb is walked without touching this test), answers
   --help and -h with its usage on stdout (exit 0), and refuses an unknown option with a
   message on stderr naming it and pointing at --help (exit 2) before doing anything. */
static void
test_every_command_help(void **state)
{
    fx_t *fx = *state;
    char *list = NULL, *err = NULL;
    assert_int_equal(s_cli_words(fx, "help --list", NULL, &list, &err), 0);
    assert_non_null(list);
    free(err);
    /* The list is the table, not a stub: the commands and verbs of the docs are in it. */
    static const char *known[] = {"up\n", "status\n", "backup\n", "restore\n", "jobs\n",
                                  "job cancel\n", "tape label\n", "tape list\n", "changer list\n",
                                  "drive status\n", "config show\n"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (!strstr(list, known[i]))
            fail_msg("'tapeflow help --list' lacks %s:\n%s", known[i], list);
    int walked = 0;
    char *save = NULL;
    for (char *line = strtok_r(list, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *out = NULL;
        static const char *helps[] = {"--help", "-h"};
        for (size_t h = 0; h < 2; h++) {
            int rc = s_cli_words(fx, line, helps[h], &out, &err);
            if (rc != 0 || !out || !strstr(out, "usage:") || (err && *err))
                fail_msg("'tapeflow %s %s': exit %d, stdout:\n%s\nstderr:\n%s", line, helps[h], rc,
                         out ? out : "", err ? err : "");
            free(out);
            free(err);
        }
        int rc = s_cli_words(fx, line, "--no-such-option", &out, &err);
        if (rc != 2 || (out && *out) || !err || !strstr(err, "'--no-such-option'")
            || !strstr(err, "--help'"))
            fail_msg("'tapeflow %s --no-such-option': exit %d (want 2), stdout:\n%s\nstderr:\n%s",
                     line, rc, out ? out : "", err ? err : "");
        free(out);
        free(err);
        /* A command (not a verb) is one `tapeflow help` knows. */
        if (!strchr(line, ' ')) {
            rc = s_cli_words(fx, "help", line, &out, &err);
            if (rc != 0 || !out || !strstr(out, "usage:"))
                fail_msg("'tapeflow help %s': exit %d", line, rc);
            free(out);
            free(err);
        }
        walked++;
    }
    free(list);
    assert_true(walked >= 11);
    /* tapeflow's own options follow the same rule. */
    char *out = NULL;
    assert_int_equal(s_cli_words(fx, "--no-such-option status", NULL, &out, &err), 2);
    assert_non_null(strstr(err, "unknown option '--no-such-option'; try 'tapeflow --help'"));
    free(out);
    free(err);
}

/* Issue 9 item 8: every JSON document starts with "schema": 1 - also the error documents of
   commands whose stack is not running, which is what can be run here. */
static void
test_json_schema(void **state)
{
    fx_t *fx = *state;
    char changer_list[PATH_MAX + 64];
    snprintf(changer_list, sizeof changer_list, "changer list sim:%s/lib.state?type=8&slots=2&drives=1",
             fx->home);
    static const char *const commands[] = {
        "status --json", "config show --json", "config keys --json", "config check --json",
        "jobs --json --timeout 1", "job J-none --json --timeout 1",
        "job cancel J-none --json --timeout 1", "tape list --json --timeout 1",
        "changer list nosuchchanger --json", "replica list --json --timeout 1", "replica check nosuch --json",
        "replica verify nosuch --json", NULL /* the sim changer, below */,
    };
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        const char *line = commands[i] ? commands[i] : changer_list;
        char *out = NULL, *err = NULL;
        int rc = s_cli_words(fx, line, commands[i] ? NULL : "--json", &out, &err);
        if (rc < 0 || !out || strncmp(out, "{\"schema\":1,", 12) != 0 || !strchr(out, '\n')
            || strchr(out, '\n')[1] != '\0')
            fail_msg("'tapeflow %s': exit %d, not one document with \"schema\":1 first:\n%s\nstderr:\n%s",
                     line, rc, out ? out : "", err ? err : "");
        free(out);
        free(err);
    }
}

/* Issue 10 item 4: a second home on this machine standing in for a workers-only host: its own
   TAPEFLOW_HOME and config with tapeflow/host = host, up/roles = roles and the broker and bus
   endpoints of server_home (NULL: a broker endpoint where nothing listens). Destroy with
   s_teardown. */
static fx_t *
s_client_home(const char *host, const char *roles, const char *server_home)
{
    void *state = NULL;
    assert_int_equal(s_setup(&state), 0);
    fx_t *client = state;
    FILE *f = fopen(client->cfg, "w");
    assert_non_null(f);
    fprintf(f, "tapeflow\n    host = %s\nup\n    roles = \"%s\"\n    restart_min = 200\n"
               "    restart_max = 2000\n    stop_timeout = 5000\n",
            host, roles);
    if (server_home)
        fprintf(f, "broker\n    endpoint = \"ipc://%s/run/broker.sock\"\n"
                   "bus\n    frontend = \"ipc://%s/run/bus-in.sock\"\n"
                   "    backend = \"ipc://%s/run/bus-out.sock\"\n",
                server_home, server_home, server_home);
    else
        fprintf(f, "broker\n    endpoint = \"ipc://%s/nobroker.sock\"\n", client->home);
    fclose(f);
    return client;
}

static void
s_client_destroy(fx_t **client_p)
{
    void *state = *client_p;
    s_teardown(&state);
    *client_p = NULL;
}

static bool
s_path_exists(const char *dir, const char *name)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

/* Issue 10 item 4: a host whose roles have no broker and no bus starts only its workers, binds
   nothing, connects them to the configured broker (another host's: here another home's),
   says which roles it runs and that the broker answers; status and down work there, and
   down leaves the tape server's broker alone. */
static void
test_workers_only(void **state)
{
    fx_t *fx = *state;
    /* The tape server: broker and bus only. */
    FILE *f = fopen(fx->cfg, "w");
    assert_non_null(f);
    fprintf(f, "up\n    roles = \"broker bus\"\n    restart_min = 200\n    stop_timeout = 5000\n");
    fclose(f);
    char *out = NULL;
    assert_int_equal(s_cli(fx, true, &out, "up", "--detach", NULL), 0);
    assert_non_null(strstr(out, "runs broker bus\n"));
    free(out);

    fx_t *client = s_client_home("clientb", "echo", fx->home);
    assert_int_equal(s_cli(client, true, &out, "up", "--detach", NULL), 0);
    assert_non_null(strstr(out, "tapeflow up: host clientb runs echo\n"));
    assert_non_null(strstr(out, "echo.1"));
    assert_non_null(strstr(out, "tapeflow is up (broker ipc://"));
    assert_non_null(strstr(out, " on another host answers)"));
    assert_null(strstr(out, "broker.log"));
    free(out);
    /* Only the workers: no bus or broker child, nothing bound in the client's run folder. */
    int pids[64];
    assert_int_equal(s_state_pids(client, pids, 64), 1);
    s_row_t row;
    assert_true(s_state_child(client, "echo.1", &row));
    assert_false(s_state_child(client, "broker", &row));
    assert_false(s_state_child(client, "bus", &row));
    char run[PATH_MAX];
    snprintf(run, sizeof run, "%s/run", client->home);
    assert_false(s_path_exists(run, "broker.sock"));
    assert_false(s_path_exists(run, "bus-in.sock"));
    assert_false(s_path_exists(run, "bus-out.sock"));
    /* The client's worker registered with the server's broker. */
    assert_true(tf_test_wait_for(s_echo_registered, fx, S_WAIT));

    assert_int_equal(s_cli(client, false, &out, "status", NULL), 0);
    assert_non_null(strstr(out, "tapeflow: healthy"));
    assert_non_null(strstr(out, "host        clientb  roles echo  (broker on another host)"));
    assert_non_null(strstr(out, "broker      answering"));
    free(out);
    assert_int_equal(s_cli(client, false, &out, "status", "--json", NULL), 0);
    assert_non_null(strstr(out, "\"host\":\"clientb\",\"roles\":[\"echo\"]"));
    assert_non_null(strstr(out, "\"local\":false,\"reachable\":true"));
    free(out);

    int supervisor = s_pidfile(client);
    assert_int_equal(s_cli(client, false, &out, "down", NULL), 0);
    assert_non_null(strstr(out, "stopped"));
    free(out);
    assert_false(s_pid_alive(supervisor));
    assert_false(s_pid_alive(row.pid));
    /* The server's broker still runs. */
    assert_int_equal(s_cli(fx, false, &out, "status", NULL), 0);
    assert_non_null(strstr(out, "roles broker bus\n"));
    free(out);
    s_client_destroy(&client);
    assert_int_equal(s_cli(fx, false, &out, "down", NULL), 0);
    free(out);
}

/* A workers-only host whose broker does not answer is not "up": --detach says this host runs
   no broker and which endpoint did not answer, and status points at the tape server. */
static void
test_workers_only_no_broker(void **state)
{
    fx_t *fx = *state;
    fx_t *client = s_client_home("clientc", "echo", NULL);
    char *out = NULL;
    assert_int_equal(s_cli(client, true, &out, "up", "--detach", NULL), 1);
    assert_null(strstr(out, "tapeflow is up"));
    assert_non_null(strstr(out, "tapeflow up: this host runs no broker (up/roles) and the broker "
                                "at ipc://"));
    assert_non_null(strstr(out, "/nobroker.sock did not answer within 15 s"));
    assert_non_null(strstr(out, "is the tape server up"));
    assert_non_null(strstr(out, "tapeflow down"));
    free(out);
    assert_int_equal(s_cli(client, false, &out, "status", NULL), 1);
    assert_non_null(strstr(out, "(another host: this host's roles have no broker)"));
    assert_non_null(strstr(out, "echo.1"));
    free(out);
    assert_int_equal(s_cli(client, false, &out, "down", NULL), 0);
    assert_non_null(strstr(out, "stopped"));
    free(out);
    s_client_destroy(&client);
    (void) fx;
}

/* A workers-only host with a worker that exits at once: the crash loop is reported although no
   broker answers (it is not hidden behind the broker's deadline). */
static void
test_workers_only_crash_loop(void **state)
{
    (void) state;
    fx_t *client = s_client_home("clientd", "echo", NULL);
    s_expect_crash_loop(client, "tapeflow-echo", "echo.1", 1, "fake echo: no such file /data");
    s_client_destroy(&client);
}

/* A configuration from before up/roles: up/actors still runs broker, bus and its actors;
   'config check' and 'up' warn that it is deprecated, with the file and line. */
static void
test_up_actors_deprecated(void **state)
{
    fx_t *fx = *state;
    FILE *f = fopen(fx->cfg, "w");
    assert_non_null(f);
    fprintf(f, "up\n    actors = echo\n    restart_min = 200\n    stop_timeout = 5000\n");
    fclose(f);
    char *out = NULL, expect[PATH_MAX + 128];
    assert_int_equal(s_cli(fx, false, &out, "config", "check", NULL), 0);
    snprintf(expect, sizeof expect, "warning: %s line 2: up/actors is deprecated: read as up/roles "
             "= 'broker bus echo'; replace it", fx->cfg);
    assert_non_null(strstr(out, expect));
    assert_non_null(strstr(out, "tapeflow.cfg: ok (see the warnings above)"));
    free(out);
    assert_int_equal(s_cli(fx, false, &out, "config", "check", "--json", NULL), 0);
    assert_non_null(strstr(out, "\"ok\":true,\"problems\":[],\"warnings\":[\""));
    free(out);

    assert_int_equal(s_cli(fx, true, &out, "up", "--detach", NULL), 0);
    assert_non_null(strstr(out, "tapeflow up: warning: "));
    assert_non_null(strstr(out, "runs broker bus echo\n"));
    assert_non_null(strstr(out, "tapeflow is up (broker ipc://"));
    free(out);
    assert_true(s_all_running(fx));
    assert_int_equal(s_cli(fx, false, &out, "down", NULL), 0);
    free(out);
}

static void
test_events_timeout(void **state)
{
    fx_t *fx = *state;
    char *out = NULL;
    assert_int_equal(s_cli(fx, true, &out, "events", "--count", "1", "--timeout", "0.5", NULL), 1);
    assert_non_null(strstr(out, "timeout after 0 of 1 events"));
    free(out);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_usage_errors, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_status_when_nothing_runs, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_missing_program, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_up_detach_status_down, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_crash_restart, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_second_up_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_events_count, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_events_gap, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_detach_worker_missing, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_events_timeout, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_detach_unhealthy, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_detach_crash_loop, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_detach_broker_crash_loop, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_workers_only, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_workers_only_no_broker, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_workers_only_crash_loop, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_up_actors_deprecated, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_config_checked, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_every_command_help, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_json_schema, s_setup, s_teardown),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    zsys_handler_set(NULL);   /* the test's own publisher must not swallow signals */
    return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
