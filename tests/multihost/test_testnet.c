/*  The multi-host harness itself (tests/support/tf_testnet): hosts reach each other over the
    test's bridge and the capture sees it, a host's private files are invisible to the others,
    a tapeflow stack runs on a host (tf_teststack through the host's wrap), and the teardown
    leaves no namespace and no process behind - also when the test dies.

    The program doubles as the little tools it runs on the hosts (argv[1]: listen, send,
    orphan), so the harness is tested without any tapeflow feature.
*/
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tf_testnet.h"
#include "tf_testproc.h"
#include "tf_teststack.h"

#define S_PORT "7070"
#define S_TIMEOUT_MS 20000

static char s_self[PATH_MAX];  /* this program, run on the hosts as a tool */

/* --- the tools ------------------------------------------------------------------------------ */

/* listen ADDR PORT: accepts one connection and prints what it sent. */
static int
s_tool_listen(const char *addr, const char *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t) atoi(port))};
    int one = 1;
    if (fd < 0 || inet_pton(AF_INET, addr, &sa.sin_addr) != 1
        || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0
        || bind(fd, (struct sockaddr *) &sa, sizeof sa) != 0 || listen(fd, 1) != 0) {
        fprintf(stderr, "listen %s:%s: %s\n", addr, port, strerror(errno));
        return 1;
    }
    printf("listening\n");
    fflush(stdout);
    int conn = accept(fd, NULL, NULL);
    char buf[256];
    ssize_t n = conn >= 0 ? read(conn, buf, sizeof buf - 1) : -1;
    if (n <= 0) {
        fprintf(stderr, "nothing received on %s:%s\n", addr, port);
        return 1;
    }
    buf[n] = '\0';
    printf("received %s\n", buf);
    close(conn);
    close(fd);
    return 0;
}

/* send ADDR PORT TEXT: connects (retrying while the listener comes up) and sends TEXT. */
static int
s_tool_send(const char *addr, const char *port, const char *text)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t) atoi(port))};
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
        return 1;
    for (int tries = 0; tries < 500; tries++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *) &sa, sizeof sa) == 0) {
            ssize_t n = write(fd, text, strlen(text));
            close(fd);
            return n == (ssize_t) strlen(text) ? 0 : 1;
        }
        if (fd >= 0)
            close(fd);
        usleep(20000);
    }
    fprintf(stderr, "cannot connect to %s:%s: %s\n", addr, port, strerror(errno));
    return 1;
}

/* orphan: makes a network with a host running a sleep, prints "PREFIX DIR PID", and dies of
   SIGKILL - nothing of tf_testnet gets to run after that. */
static int
s_tool_orphan(void)
{
    char why[1024];
    tf_testnet_t *net = tf_testnet_new(why, sizeof why);
    if (!net || tf_testnet_add_host(net, "x", true, why, sizeof why) != 0) {
        fprintf(stderr, "orphan: %s\n", why);
        return 1;
    }
    char log[PATH_MAX + 16];
    snprintf(log, sizeof log, "%s/sleep.log", tf_testnet_dir(net));
    char *argv[] = {"sleep", "infinity", NULL};
    tf_testproc_t *sleeper = tf_testnet_start(net, "x", argv, NULL, log);
    if (!sleeper)
        return 1;
    printf("%s %s %d\n", tf_testnet_prefix(net), tf_testnet_dir(net), tf_testproc_pid(sleeper));
    fflush(stdout);
    raise(SIGKILL);
    return 1;
}

/* --- helpers -------------------------------------------------------------------------------- */

/* Namespaces whose names start with "prefix-". */
static int
s_namespaces_of(const char *prefix)
{
    DIR *dir = opendir("/run/netns");
    if (!dir)
        return 0;
    int n = 0;
    size_t len = strlen(prefix);
    struct dirent *de;
    while ((de = readdir(dir)) != NULL)
        if (strncmp(de->d_name, prefix, len) == 0 && de->d_name[len] == '-')
            n++;
    closedir(dir);
    return n;
}

static bool
s_no_namespaces(void *prefix)
{
    return s_namespaces_of(prefix) == 0;
}

static bool
s_pid_gone(void *pid)
{
    return kill(*(pid_t *) pid, 0) != 0 && errno == ESRCH;
}

/* A network with hosts (private_files for each), kept in *state: the teardown destroys it
   whatever the test did. */
static tf_testnet_t *
s_net(void **state, const char *const hosts[], const bool private_files[])
{
    char why[1024];
    tf_testnet_t *net = tf_testnet_new(why, sizeof why);
    if (!net)
        fail_msg("tf_testnet_new: %s", why);
    *state = net;
    for (size_t i = 0; hosts[i]; i++)
        if (tf_testnet_add_host(net, hosts[i], private_files[i], why, sizeof why) != 0)
            fail_msg("add host %s: %s", hosts[i], why);
    return net;
}

static int
s_teardown(void **state)
{
    tf_testnet_t *net = *state;
    tf_testnet_destroy(&net);
    *state = NULL;
    return 0;
}

/* Runs `sh -c SCRIPT` on host; exit status, stdout in *out (may be NULL). */
static int
s_sh(tf_testnet_t *net, const char *host, const char *script, char **out)
{
    char *argv[] = {"sh", "-c", (char *) script, NULL};
    return tf_testnet_run(net, host, argv, NULL, S_TIMEOUT_MS, out);
}

/* --- tests ---------------------------------------------------------------------------------- */

static void
test_hosts_talk_over_the_bridge_and_the_capture_sees_it(void **state)
{
    tf_testnet_t *net = s_net(state, (const char *const[]){"a", "b", NULL}, (const bool[]){false, true});
    char why[1024], pcap[PATH_MAX + 16], log[PATH_MAX + 16], marker[64];
    snprintf(pcap, sizeof pcap, "%s/wire.pcap", tf_testnet_dir(net));
    snprintf(log, sizeof log, "%s/listen.log", tf_testnet_dir(net));
    snprintf(marker, sizeof marker, "tf-marker-%d-in-clear", (int) getpid());
    if (tf_testnet_capture_start(net, pcap, why, sizeof why) != 0)
        fail_msg("capture: %s", why);

    const char *a = tf_testnet_addr(net, "a");
    assert_non_null(a);
    assert_string_not_equal(a, tf_testnet_addr(net, "b"));
    char *listen_argv[] = {s_self, "listen", (char *) a, S_PORT, NULL};
    tf_testproc_t *listener = tf_testnet_start(net, "a", listen_argv, NULL, log);
    assert_non_null(listener);
    char *send_argv[] = {s_self, "send", (char *) a, S_PORT, marker, NULL};
    assert_int_equal(tf_testnet_run(net, "b", send_argv, NULL, S_TIMEOUT_MS, NULL), 0);
    int status = -1;
    assert_true(tf_testproc_wait(listener, S_TIMEOUT_MS, &status));
    tf_testproc_destroy(&listener);
    char *text = tf_test_read_file(log);
    assert_non_null(text);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !strstr(text, marker))
        fail_msg("host a did not receive the marker from b: %s", text);
    free(text);

    if (tf_testnet_capture_stop(net, why, sizeof why) != 0)
        fail_msg("capture stop: %s", why);
    long size = 0;
    assert_true(tf_testnet_file_holds(pcap, marker, strlen(marker), &size));
    assert_false(tf_testnet_file_holds(pcap, "not-sent-anywhere", 17, &size));
    assert_true(size > 0);
}

static void
test_private_files_are_invisible_to_other_hosts(void **state)
{
    tf_testnet_t *net = s_net(state, (const char *const[]){"a", "b", "c", NULL}, (const bool[]){false, true, true});
    const char *files = tf_testnet_files(net);
    char path[PATH_MAX * 2], script[PATH_MAX * 2];

    /* Written by the test into b's view; read on b; absent on c, on a and for the test. */
    char own[PATH_MAX + 16];
    snprintf(own, sizeof own, "%s/only-b", files);
    FILE *f = fopen(tf_testnet_path(net, "b", own, path, sizeof path), "w");
    assert_non_null(f);
    fputs("b's own\n", f);
    assert_int_equal(fclose(f), 0);
    char *out = NULL;
    snprintf(script, sizeof script, "cat '%s'", own);
    assert_int_equal(s_sh(net, "b", script, &out), 0);
    assert_string_equal(out, "b's own\n");
    free(out);
    assert_int_not_equal(s_sh(net, "c", script, NULL), 0);
    assert_int_not_equal(s_sh(net, "a", script, NULL), 0);
    assert_int_not_equal(access(tf_testnet_path(net, "c", own, path, sizeof path), F_OK), 0);
    assert_int_not_equal(access(own, F_OK), 0);

    /* Written on c by a program there: the test sees it through c's view only. */
    snprintf(script, sizeof script, "echo c > '%s/only-c'", files);
    assert_int_equal(s_sh(net, "c", script, NULL), 0);
    snprintf(own, sizeof own, "%s/only-c", files);
    assert_int_equal(access(tf_testnet_path(net, "c", own, path, sizeof path), F_OK), 0);
    assert_int_not_equal(access(tf_testnet_path(net, "b", own, path, sizeof path), F_OK), 0);
}

/* True when process pid runs in network namespace ns (/run/netns/NS). */
static bool
s_in_namespace(int pid, const char *ns)
{
    char proc[64], named[PATH_MAX];
    snprintf(proc, sizeof proc, "/proc/%d/ns/net", pid);
    snprintf(named, sizeof named, "/run/netns/%s", ns);
    struct stat a, b;
    return stat(proc, &a) == 0 && stat(named, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

/* A whole stack under `tapeflow up` on host b (private files) through its wrap: its
   programs run in b's namespace, its CLI reaches it there, and it stops cleanly. */
static void
test_stack_runs_on_a_host(void **state)
{
    tf_testnet_t *net = s_net(state, (const char *const[]){"a", "b", NULL}, (const bool[]){false, true});
    tf_teststack_opts_t opts = {.wrap = tf_testnet_wrap(net, "b")};
    tf_teststack_t *stack = tf_teststack_new("tfnst", &opts);
    assert_non_null(stack);
    char *out = NULL;
    int rc = tf_teststack_cli(stack, &out, "status", "--json", NULL);
    long long broker = tf_test_json_int(out ? strstr(out, "\"broker\"") : NULL, "pid");
    bool reachable = out && strstr(out, "\"reachable\":true");
    free(out);
    char ns[64];
    snprintf(ns, sizeof ns, "%s-b", tf_testnet_prefix(net));
    bool on_b = broker > 0 && s_in_namespace((int) broker, ns);
    int down = tf_teststack_finish(&stack);
    assert_int_equal(rc, 0);
    assert_true(reachable);
    if (!on_b)
        fail_msg("the broker (pid %lld) does not run in %s", broker, ns);
    assert_int_equal(down, 0);
}

static void
test_destroy_removes_namespaces_and_processes(void **state)
{
    tf_testnet_t *net = s_net(state, (const char *const[]){"a", "b", NULL}, (const bool[]){false, true});
    char prefix[64], log[PATH_MAX + 16], dir[PATH_MAX];
    snprintf(prefix, sizeof prefix, "%s", tf_testnet_prefix(net));
    snprintf(dir, sizeof dir, "%s", tf_testnet_dir(net));
    snprintf(log, sizeof log, "%s/sleep.log", dir);
    assert_int_equal(s_namespaces_of(prefix), 3);  /* a, b and the bridge */
    char *argv[] = {"sleep", "infinity", NULL};
    tf_testproc_t *on_a = tf_testnet_start(net, "a", argv, NULL, log);
    tf_testproc_t *on_b = tf_testnet_start(net, "b", argv, NULL, log);
    assert_non_null(on_a);
    assert_non_null(on_b);
    assert_true(tf_testproc_alive(on_a) && tf_testproc_alive(on_b));

    tf_testnet_destroy(&net);
    *state = NULL;
    assert_int_equal(s_namespaces_of(prefix), 0);
    assert_true(tf_testproc_wait(on_a, S_TIMEOUT_MS, NULL));
    assert_true(tf_testproc_wait(on_b, S_TIMEOUT_MS, NULL));
    tf_testproc_destroy(&on_a);
    tf_testproc_destroy(&on_b);
    if (!getenv("TF_KEEP_TEST_DIRS"))
        assert_int_not_equal(access(dir, F_OK), 0);
}

static void
test_teardown_when_the_test_dies(void **state)
{
    (void) state;
    char *argv[] = {s_self, "orphan", NULL};
    char *out = NULL;
    int rc = tf_test_run(s_self, argv, NULL, S_TIMEOUT_MS, &out);
    char prefix[64] = "", dir[PATH_MAX] = "";
    int pid = 0;
    if (!out || sscanf(out, "%63s %4095s %d", prefix, dir, &pid) != 3)
        fail_msg("the orphan did not set up its network (exit %d): %s", rc, out ? out : "");
    free(out);
    assert_int_equal(rc, 128 + SIGKILL);
    /* The watchdog works on its own once the orphan is gone. */
    pid_t sleeper = pid;
    bool gone = tf_test_wait_for(s_no_namespaces, prefix, S_TIMEOUT_MS);
    bool dead = tf_test_wait_for(s_pid_gone, &sleeper, S_TIMEOUT_MS);
    tf_test_rmtree(dir);  /* the orphan could not remove its folder */
    if (!gone)
        fail_msg("namespaces %s-* are left after the test died", prefix);
    if (!dead)
        fail_msg("process %d in the dead test's host is still running", pid);
}

int
main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "listen") == 0)
        return s_tool_listen(argv[2], argv[3]);
    if (argc > 4 && strcmp(argv[1], "send") == 0)
        return s_tool_send(argv[2], argv[3], argv[4]);
    if (argc > 1 && strcmp(argv[1], "orphan") == 0)
        return s_tool_orphan();

    ssize_t n = readlink("/proc/self/exe", s_self, sizeof s_self - 1);
    if (n <= 0) {
        fprintf(stderr, "cannot read /proc/self/exe\n");
        return 1;
    }
    s_self[n] = '\0';
    char why[1024];
    if (!tf_testnet_possible(why, sizeof why))
        return tf_testnet_skip(why);
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_hosts_talk_over_the_bridge_and_the_capture_sees_it, s_teardown),
        cmocka_unit_test_teardown(test_private_files_are_invisible_to_other_hosts, s_teardown),
        cmocka_unit_test_teardown(test_stack_runs_on_a_host, s_teardown),
        cmocka_unit_test_teardown(test_destroy_removes_namespaces_and_processes, s_teardown),
        cmocka_unit_test(test_teardown_when_the_test_dies),
    };
    return cmocka_run_group_tests_name("testnet", tests, NULL, NULL);
}
