/*  tf_testnet - hosts on a private network for multi-host tests; see tf_testnet.h. */
#define _GNU_SOURCE
#include "tf_testnet.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_MAX_HOSTS 8
#define S_MAX_WRAP 8
#define S_MAX_ARGS 64
#define S_SETUP_TIMEOUT_MS 20000
#define S_WAIT_MS 10000

typedef struct {
    char name[16];
    char ns[48];            /* <prefix>-<name> */
    char addr[20];
    bool private_files;
    tf_testproc_t *holder;  /* private_files: keeps the mount namespace */
    char pid[16];
    char net_opt[96];       /* --net=/run/netns/<ns> */
    char *wrap[S_MAX_WRAP];
} s_host_t;

struct _tf_testnet_t {
    char prefix[32];
    char *dir;
    char files[PATH_MAX];
    char log[PATH_MAX];
    char ip[PATH_MAX];
    char nsenter[PATH_MAX];
    char unshare[PATH_MAX];
    char bridge_opt[96];    /* --net=/run/netns/<prefix>-br */
    int subnet;             /* third octet of 10.77.x.0/24 */
    s_host_t hosts[S_MAX_HOSTS];
    size_t nhosts;
    pid_t watchdog;
    int watchdog_fd;        /* the write end only this process holds; closing it tears down */
    tf_testproc_t *capture;
    char capture_log[PATH_MAX];
};

/* Kills everything in the test's namespaces and deletes them, once stdin reaches EOF: when the
   test closes the pipe or dies. $1: ip, $2: the prefix. Kills in rounds, because a supervisor
   in a namespace may start a child between the listing and the kill. */
static const char s_watchdog_script[] =
    "trap '' INT TERM HUP\n"
    "cat >/dev/null\n"
    "for ns in $(\"$1\" netns list | cut -d' ' -f1); do\n"
    "  case \"$ns\" in \"$2\"-*) ;; *) continue ;; esac\n"
    "  i=0\n"
    "  while [ $i -lt 200 ]; do\n"
    "    pids=$(\"$1\" netns pids \"$ns\")\n"
    "    [ -n \"$pids\" ] || break\n"
    "    kill -9 $pids 2>/dev/null\n"
    "    sleep 0.05\n"
    "    i=$((i + 1))\n"
    "  done\n"
    "  \"$1\" netns del \"$ns\" || echo \"tf_testnet watchdog: cannot delete $ns\"\n"
    "done\n";

/* argv[0]'s full path from PATH and the sbin folders (root's tools live there) into path;
   false when none is executable. */
static bool
s_which(const char *name, char *path, size_t size)
{
    if (strchr(name, '/')) {
        snprintf(path, size, "%s", name);
        return access(path, X_OK) == 0;
    }
    const char *env = getenv("PATH");
    char dirs[PATH_MAX * 2];
    snprintf(dirs, sizeof dirs, "%s:/usr/sbin:/sbin:/usr/bin:/bin", env ? env : "");
    char *save = NULL;
    for (char *dir = strtok_r(dirs, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        if (!*dir)
            continue;
        snprintf(path, size, "%s/%s", dir, name);
        if (access(path, X_OK) == 0)
            return true;
    }
    return false;
}

/* Runs a setup command (argv with its full path first) with its output appended to the
   network's log; 0, or -1 with the command and what it said in why. */
static int
s_setup_cmd(tf_testnet_t *self, char *const argv[], char *why, size_t why_size)
{
    int rc = tf_test_run_logged(argv, self->log);
    if (rc == 0)
        return 0;
    size_t n = (size_t) snprintf(why, why_size, "exit %d:", rc);
    for (size_t i = 0; argv[i] && n < why_size; i++)
        n += (size_t) snprintf(why + n, why_size - n, " %s", argv[i]);
    tf_test_log_tail(self->log, why, why_size);
    return -1;
}

/* `ip ARGS...` (NULL-terminated) as a setup command. */
static int
s_ip(tf_testnet_t *self, char *why, size_t why_size, ...)
{
    char *argv[S_MAX_ARGS] = {self->ip};
    size_t argc = 1;
    va_list ap;
    va_start(ap, why_size);
    for (char *a = va_arg(ap, char *); a && argc + 1 < S_MAX_ARGS; a = va_arg(ap, char *))
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    return s_setup_cmd(self, argv, why, why_size);
}

bool
tf_testnet_possible(char *why, size_t why_size)
{
    if (geteuid() != 0) {
        snprintf(why, why_size, "not root (uid %d)", (int) geteuid());
        return false;
    }
    char ip[PATH_MAX], tool[PATH_MAX];
    if (!s_which("ip", ip, sizeof ip)) {
        snprintf(why, why_size, "no ip program (iproute2) on PATH or in /usr/sbin, /sbin");
        return false;
    }
    const char *tools[] = {"nsenter", "unshare", NULL};
    for (size_t i = 0; tools[i]; i++)
        if (!s_which(tools[i], tool, sizeof tool)) {
            snprintf(why, why_size, "no %s program (util-linux)", tools[i]);
            return false;
        }
    char ns[48];
    snprintf(ns, sizeof ns, "tf-%d-probe", (int) getpid());
    char *argv[] = {"sh", "-c", "\"$0\" netns add \"$1\" 2>&1 && \"$0\" netns del \"$1\" 2>&1", ip, ns, NULL};
    char *out = NULL;
    int rc = tf_test_run("/bin/sh", argv, NULL, S_WAIT_MS, &out);
    if (rc != 0) {
        snprintf(why, why_size, "ip netns add %s failed (exit %d): %.*s", ns, rc,
                 out ? (int) strcspn(out, "\n") : 0, out ? out : "");
        free(out);
        return false;
    }
    free(out);
    return true;
}

int
tf_testnet_skip(const char *why)
{
    printf("skipped: cannot create network namespaces (needs root and iproute2): %s\n", why);
    fflush(stdout);
    return TF_TESTNET_SKIP;
}

/* The watchdog: a shell in a session of its own (a Ctrl-C for the test's group does not reach
   it) reading a pipe whose write end only this process holds (close-on-exec: the programs
   the test starts do not keep it open). */
static int
s_watchdog_start(tf_testnet_t *self, char *why, size_t why_size)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        snprintf(why, why_size, "pipe: %s", strerror(errno));
        return -1;
    }
    int log = open(self->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log < 0) {
        snprintf(why, why_size, "cannot open %s: %s", self->log, strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        /* Only async-signal-safe calls until exec: the test may already run threads. */
        setsid();
        dup2(fds[0], STDIN_FILENO);
        dup2(log, STDOUT_FILENO);
        dup2(log, STDERR_FILENO);
        execl("/bin/sh", "sh", "-c", s_watchdog_script, "tf-testnet-watchdog", self->ip, self->prefix,
              (char *) NULL);
        _exit(127);
    }
    close(fds[0]);
    close(log);
    if (pid < 0) {
        snprintf(why, why_size, "fork: %s", strerror(errno));
        close(fds[1]);
        return -1;
    }
    self->watchdog = pid;
    self->watchdog_fd = fds[1];
    return 0;
}

static int
s_make_bridge(tf_testnet_t *self, char *why, size_t why_size)
{
    char ns[64];
    snprintf(ns, sizeof ns, "%s-br", self->prefix);
    snprintf(self->bridge_opt, sizeof self->bridge_opt, "--net=/run/netns/%s", ns);
    if (s_ip(self, why, why_size, "netns", "add", ns, NULL) != 0
        || s_ip(self, why, why_size, "-n", ns, "link", "set", "lo", "up", NULL) != 0
        || s_ip(self, why, why_size, "-n", ns, "link", "add", "br0", "type", "bridge", NULL) != 0
        || s_ip(self, why, why_size, "-n", ns, "link", "set", "br0", "up", NULL) != 0)
        return -1;
    return 0;
}

tf_testnet_t *
tf_testnet_new(char *why, size_t why_size)
{
    tf_testnet_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(why, why_size, "out of memory");
        return NULL;
    }
    self->watchdog = -1;
    self->watchdog_fd = -1;
    snprintf(self->prefix, sizeof self->prefix, "tf-%d", (int) getpid());
    /* The subnet exists only between the test's namespaces, so no address of the machine can
       clash with it; the pid only tells parallel runs apart in logs. */
    self->subnet = (int) (getpid() % 250) + 1;
    self->dir = tf_test_tempdir("tfnet");
    if (!self->dir) {
        snprintf(why, why_size, "cannot make a temp folder: %s", strerror(errno));
        free(self);
        return NULL;
    }
    snprintf(self->files, sizeof self->files, "%s/files", self->dir);
    snprintf(self->log, sizeof self->log, "%s/net.log", self->dir);
    char bridge_path[PATH_MAX];
    snprintf(bridge_path, sizeof bridge_path, "/run/netns/%s-br", self->prefix);
    if (mkdir(self->files, 0755) != 0)
        snprintf(why, why_size, "cannot make %s: %s", self->files, strerror(errno));
    else if (!s_which("ip", self->ip, sizeof self->ip) || !s_which("nsenter", self->nsenter, sizeof self->nsenter)
             || !s_which("unshare", self->unshare, sizeof self->unshare))
        snprintf(why, why_size, "ip, nsenter or unshare is missing (see tf_testnet_possible)");
    else if (access(bridge_path, F_OK) == 0)
        snprintf(why, why_size, "%s exists: another network of this process is still up (destroy it first)",
                 bridge_path);
    else if (s_watchdog_start(self, why, why_size) == 0 && s_make_bridge(self, why, why_size) == 0)
        return self;
    tf_testnet_destroy(&self);
    return NULL;
}

void
tf_testnet_destroy(tf_testnet_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tf_testnet_t *self = *self_p;
    if (self->capture) {
        tf_testproc_kill(self->capture, SIGINT);
        tf_testproc_wait(self->capture, S_WAIT_MS, NULL);
        tf_testproc_destroy(&self->capture);
    }
    if (self->watchdog_fd >= 0)
        close(self->watchdog_fd);
    if (self->watchdog > 0) {
        int status = 0, waited = 0;
        while (waitpid(self->watchdog, &status, WNOHANG) == 0 && waited < 3 * S_SETUP_TIMEOUT_MS) {
            usleep(20000);
            waited += 20;
        }
        if (waited >= 3 * S_SETUP_TIMEOUT_MS)
            fprintf(stderr, "tf_testnet: the watchdog did not finish the teardown of %s (see %s)\n",
                    self->prefix, self->log);
    }
    for (size_t i = 0; i < self->nhosts; i++)
        tf_testproc_destroy(&self->hosts[i].holder);  /* killed by the watchdog: reaped here */
    tf_test_dir_done(&self->dir);
    free(self);
    *self_p = NULL;
}

const char *
tf_testnet_prefix(tf_testnet_t *self)
{
    return self->prefix;
}

const char *
tf_testnet_dir(tf_testnet_t *self)
{
    return self->dir;
}

const char *
tf_testnet_files(tf_testnet_t *self)
{
    return self->files;
}

static s_host_t *
s_host(tf_testnet_t *self, const char *name)
{
    for (size_t i = 0; name && i < self->nhosts; i++)
        if (strcmp(self->hosts[i].name, name) == 0)
            return &self->hosts[i];
    return NULL;
}

static bool
s_name_ok(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > 12)
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-'))
            return false;
    return true;
}

/* True once the holder's view of the files folder is another file system than ours: its
   tmpfs is mounted. */
static bool
s_files_mounted(tf_testnet_t *self, s_host_t *h)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "/proc/%s/root%s", h->pid, self->files);
    struct stat theirs, ours;
    return stat(path, &theirs) == 0 && stat(self->files, &ours) == 0 && theirs.st_dev != ours.st_dev;
}

/* The holder: in the host's network namespace, a private mount namespace with a tmpfs on the
   files folder, kept by a sleep that only the teardown ends. */
static int
s_start_holder(tf_testnet_t *self, s_host_t *h, char *why, size_t why_size)
{
    char *argv[] = {self->nsenter, h->net_opt, self->unshare, "--mount", "--propagation", "private",
                    "/bin/sh", "-c", "mount -t tmpfs -o mode=0755 tf-files \"$0\" && exec sleep infinity",
                    self->files, NULL};
    h->holder = tf_testproc_start(self->nsenter, argv, NULL, self->log);
    if (!h->holder) {
        snprintf(why, why_size, "cannot start the mount namespace of %s", h->name);
        return -1;
    }
    snprintf(h->pid, sizeof h->pid, "%d", tf_testproc_pid(h->holder));
    int waited = 0;
    while (!s_files_mounted(self, h) && tf_testproc_alive(h->holder) && waited < S_WAIT_MS) {
        usleep(20000);
        waited += 20;
    }
    if (!s_files_mounted(self, h)) {
        snprintf(why, why_size, "no private tmpfs on %s for host %s", self->files, h->name);
        tf_test_log_tail(self->log, why, why_size);
        return -1;
    }
    return 0;
}

int
tf_testnet_add_host(tf_testnet_t *self, const char *name, bool private_files, char *why, size_t why_size)
{
    if (!s_name_ok(name)) {
        snprintf(why, why_size, "bad host name '%s': up to 12 letters, digits or '-'", name);
        return -1;
    }
    if (s_host(self, name) || self->nhosts == S_MAX_HOSTS) {
        snprintf(why, why_size, "host %s: already there, or more than %d hosts", name, S_MAX_HOSTS);
        return -1;
    }
    s_host_t host = {0};
    snprintf(host.name, sizeof host.name, "%s", name);
    snprintf(host.ns, sizeof host.ns, "%s-%s", self->prefix, name);
    snprintf(host.net_opt, sizeof host.net_opt, "--net=/run/netns/%s", host.ns);
    s_host_t *h = &self->hosts[self->nhosts];
    *h = host;
    snprintf(h->addr, sizeof h->addr, "10.77.%d.%zu", self->subnet, self->nhosts + 1);
    h->private_files = private_files;
    char bridge_ns[64], port[24], cidr[32];
    snprintf(bridge_ns, sizeof bridge_ns, "%s-br", self->prefix);
    snprintf(port, sizeof port, "h-%s", name);
    snprintf(cidr, sizeof cidr, "%s/24", h->addr);
    self->nhosts++;  /* counted now: a failure below still has its holder reaped by destroy */
    if (s_ip(self, why, why_size, "netns", "add", h->ns, NULL) != 0
        || s_ip(self, why, why_size, "-n", h->ns, "link", "set", "lo", "up", NULL) != 0
        || s_ip(self, why, why_size, "-n", bridge_ns, "link", "add", port, "type", "veth", "peer", "name",
                "eth0", "netns", h->ns, NULL) != 0
        || s_ip(self, why, why_size, "-n", bridge_ns, "link", "set", port, "master", "br0", "up", NULL) != 0
        || s_ip(self, why, why_size, "-n", h->ns, "addr", "add", cidr, "dev", "eth0", NULL) != 0
        || s_ip(self, why, why_size, "-n", h->ns, "link", "set", "eth0", "up", NULL) != 0)
        return -1;
    size_t n = 0;
    h->wrap[n++] = self->nsenter;
    if (private_files) {
        if (s_start_holder(self, h, why, why_size) != 0)
            return -1;
        h->wrap[n++] = "-t";
        h->wrap[n++] = h->pid;
        h->wrap[n++] = "-n";
        h->wrap[n++] = "-m";
    } else
        h->wrap[n++] = h->net_opt;
    h->wrap[n++] = "--";
    h->wrap[n] = NULL;
    return 0;
}

const char *
tf_testnet_addr(tf_testnet_t *self, const char *host)
{
    s_host_t *h = s_host(self, host);
    return h ? h->addr : NULL;
}

char *const *
tf_testnet_wrap(tf_testnet_t *self, const char *host)
{
    s_host_t *h = s_host(self, host);
    return h ? h->wrap : NULL;
}

const char *
tf_testnet_path(tf_testnet_t *self, const char *host, const char *path, char *buf, size_t size)
{
    s_host_t *h = s_host(self, host);
    if (h && h->private_files)
        snprintf(buf, size, "/proc/%s/root%s", h->pid, path);
    else
        snprintf(buf, size, "%s", path);
    return buf;
}

/* wrap + argv (argv[0] resolved to a full path) into full; false when the host is unknown,
   the program is not found or argv is too long. */
static bool
s_wrapped(tf_testnet_t *self, const char *host, char *const argv[], char *full[S_MAX_ARGS], char *exe,
          size_t exe_size)
{
    s_host_t *h = s_host(self, host);
    if (!h || !argv || !argv[0]) {
        fprintf(stderr, "tf_testnet: unknown host %s or no command\n", host ? host : "(null)");
        return false;
    }
    if (!s_which(argv[0], exe, exe_size)) {
        fprintf(stderr, "tf_testnet: %s not found\n", argv[0]);
        return false;
    }
    size_t n = 0;
    for (size_t i = 0; h->wrap[i]; i++)
        full[n++] = h->wrap[i];
    full[n++] = exe;
    for (size_t i = 1; argv[i]; i++) {
        if (n + 1 >= S_MAX_ARGS) {
            fprintf(stderr, "tf_testnet: too many arguments for %s\n", argv[0]);
            return false;
        }
        full[n++] = argv[i];
    }
    full[n] = NULL;
    return true;
}

int
tf_testnet_run(tf_testnet_t *self, const char *host, char *const argv[], char *const env[], int timeout_ms,
               char **out)
{
    char *full[S_MAX_ARGS], exe[PATH_MAX];
    if (out)
        *out = NULL;
    if (!s_wrapped(self, host, argv, full, exe, sizeof exe))
        return -1;
    return tf_test_run(self->nsenter, full, env, timeout_ms, out);
}

tf_testproc_t *
tf_testnet_start(tf_testnet_t *self, const char *host, char *const argv[], char *const env[], const char *log)
{
    char *full[S_MAX_ARGS], exe[PATH_MAX];
    if (!s_wrapped(self, host, argv, full, exe, sizeof exe))
        return NULL;
    return tf_testproc_start(self->nsenter, full, env, log);
}

/* True once tcpdump said it listens. */
static bool
s_capture_listens(void *arg)
{
    tf_testnet_t *self = arg;
    char *text = tf_test_read_file(self->capture_log);
    bool listens = text && strstr(text, "listening on");
    free(text);
    return listens || !tf_testproc_alive(self->capture);
}

int
tf_testnet_capture_start(tf_testnet_t *self, const char *pcap, char *why, size_t why_size)
{
    char tcpdump[PATH_MAX];
    if (self->capture) {
        snprintf(why, why_size, "a capture is already running");
        return -1;
    }
    if (!s_which("tcpdump", tcpdump, sizeof tcpdump)) {
        snprintf(why, why_size, "no tcpdump program (tools/install-deps installs it)");
        return -1;
    }
    snprintf(self->capture_log, sizeof self->capture_log, "%s/tcpdump.log", self->dir);
    /* -U and --immediate-mode: each frame is written as it comes (else frames still in the
       kernel ring at SIGINT are lost); -Z root: tcpdump would otherwise drop to its own
       user, who cannot write the test's folder; -B 16 MiB: the kernel drops frames a busy
       tcpdump (two loaded cores, sanitizer builds) has not read yet from a smaller buffer. */
    char *argv[] = {self->nsenter, self->bridge_opt, tcpdump, "-i", "br0", "-n", "-U", "--immediate-mode",
                    "-B", "16384", "-s", "0", "-Z", "root", "-w", (char *) pcap, NULL};
    self->capture = tf_testproc_start(self->nsenter, argv, NULL, self->capture_log);
    if (!self->capture) {
        snprintf(why, why_size, "cannot start tcpdump");
        return -1;
    }
    tf_test_wait_for(s_capture_listens, self, S_WAIT_MS);
    if (!tf_testproc_alive(self->capture) || !s_capture_listens(self)) {
        snprintf(why, why_size, "tcpdump did not start listening on the bridge");
        tf_test_log_tail(self->capture_log, why, why_size);
        tf_testproc_destroy(&self->capture);
        return -1;
    }
    return 0;
}

int
tf_testnet_capture_stop(tf_testnet_t *self, char *why, size_t why_size)
{
    if (!self->capture) {
        snprintf(why, why_size, "no capture is running");
        return -1;
    }
    int status = 0;
    tf_testproc_kill(self->capture, SIGINT);
    bool exited = tf_testproc_wait(self->capture, S_WAIT_MS, &status);
    tf_testproc_destroy(&self->capture);
    if (!exited || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(why, why_size, "tcpdump did not end cleanly at SIGINT");
        tf_test_log_tail(self->capture_log, why, why_size);
        return -1;
    }
    return 0;
}

bool
tf_testnet_file_holds(const char *path, const void *needle, size_t len, long *size)
{
    size_t n = 0;
    char *bytes = tf_test_read_bytes(path, &n);
    *size = bytes ? (long) n : -1;
    bool found = bytes && len > 0 && memmem(bytes, n, needle, len) != NULL;
    free(bytes);
    return found;
}
