/*  tf_teststack - a tapeflow stack for process tests; see tf_teststack.h. */
#define _GNU_SOURCE
#include "tf_teststack.h"

#include <czmq.h>
#include <dirent.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tf_client.h"
#include "tf_testproc.h"
#include "tf_tree.h"

#define S_CLI_TIMEOUT_MS 240000
#define S_JOB_WAIT_S "180"
#define S_STOP_WAIT_MS 15000
#define S_SOCKET_WAIT_MS 10000
#define S_MAX_PROGRAMS 16
#define S_MAX_ARGS 80

typedef struct {
    char name[64];          /* "tapewriter", "catalog.1" */
    tf_testproc_t *proc;
    long log_start;         /* size of its log when last started: a stop checks what that run wrote */
} s_program_t;

struct _tf_teststack_t {
    char *dir;
    char cfg[PATH_MAX];
    char env_cfg[PATH_MAX + 32];
    char env_home[PATH_MAX + 32];
    char *env[3];
    char broker[PATH_MAX + 32];
    char bus_in[PATH_MAX + 32];
    char bus_out[PATH_MAX + 32];
    const char *const *programs;  /* opts.programs: NULL under `tapeflow up` */
    char *const *wrap;            /* opts.wrap: NULL on the test's own host */
    s_program_t running[S_MAX_PROGRAMS];
    size_t nrunning;
};

/* The baseline every process test starts from: quick failure detection and restarts, small
   groups so a small tree makes several archives, a 1 GiB sim tape. */
static const char *s_baseline[] = {
    "tapeflow/log_level=debug",
    "broker/heartbeat=250",
    "broker/liveness=4",
    "up/roles=broker bus catalog labeller scanner compressor stager tapewriter",
    "up/restart_min=200",
    "up/restart_max=1000",
    "actors/compressor/instances=2",
    "scanner/group_size=2097152",
    "compressor/chunk=131072",
    "stager/window=524288",
    NULL,
};

/* What sanitizers print at the start of a report. */
static const char *s_sanitizer_marks[] = {"AddressSanitizer", "LeakSanitizer", "ThreadSanitizer",
                                          "runtime error:", NULL};

/* Sets "section/key=value" in root, with ${dir} replaced by the stack's folder. */
static int
s_put(zconfig_t *root, const char *setting, const char *dir)
{
    const char *eq = strchr(setting, '=');
    if (!eq || eq == setting) {
        fprintf(stderr, "tf_teststack: bad setting '%s' (want section/key=value)\n", setting);
        return -1;
    }
    char path[256];
    snprintf(path, sizeof path, "%.*s", (int) (eq - setting), setting);
    char value[PATH_MAX * 2];
    size_t n = 0;
    for (const char *p = eq + 1; *p && n + 1 < sizeof value;) {
        if (strncmp(p, "${dir}", 6) == 0) {
            n += (size_t) snprintf(value + n, sizeof value - n, "%s", dir);
            p += 6;
        } else
            value[n++] = *p++;
    }
    value[n < sizeof value ? n : sizeof value - 1] = '\0';
    zconfig_put(root, path, value);
    return 0;
}

static int
s_write_config(tf_teststack_t *self, const tf_teststack_opts_t *opts)
{
    zconfig_t *root = zconfig_new("root", NULL);
    if (!root)
        return -1;
    zconfig_put(root, "tapeflow/home", self->dir);
    for (size_t i = 0; s_baseline[i]; i++)
        s_put(root, s_baseline[i], self->dir);
    char url[PATH_MAX * 2];
    snprintf(url, sizeof url, "sim:%s/tape0.img?capacity=1G%s", self->dir,
             opts && opts->sim_options ? opts->sim_options : "");
    zconfig_put(root, "drives/tape0/url", url);
    int rc = 0;
    for (size_t i = 0; opts && opts->config && opts->config[i]; i++)
        if (s_put(root, opts->config[i], self->dir) != 0)
            rc = -1;
    if (rc == 0 && zconfig_save(root, self->cfg) != 0) {
        fprintf(stderr, "tf_teststack: cannot write %s\n", self->cfg);
        rc = -1;
    }
    zconfig_destroy(&root);
    return rc;
}

int
tf_teststack_set(tf_teststack_t *self, const char *setting)
{
    zconfig_t *root = zconfig_load(self->cfg);
    if (!root) {
        fprintf(stderr, "tf_teststack: cannot read %s\n", self->cfg);
        return -1;
    }
    int rc = s_put(root, setting, self->dir);
    if (rc == 0 && zconfig_save(root, self->cfg) != 0) {
        fprintf(stderr, "tf_teststack: cannot write %s\n", self->cfg);
        rc = -1;
    }
    zconfig_destroy(&root);
    return rc;
}

static s_program_t *
s_program(tf_teststack_t *self, const char *name)
{
    for (size_t i = 0; i < self->nrunning; i++)
        if (strcmp(self->running[i].name, name) == 0)
            return &self->running[i];
    return NULL;
}

static long
s_file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long) st.st_size : 0;
}

/* What to exec for running exe (a name in the bin folder, or a path) with argv: exe itself, or
   with opts.wrap the wrap's program and full = wrap + exe's path + argv[1...]. *argv_out gets
   the argv to pass; NULL when it does not fit. */
static const char *
s_wrapped(tf_teststack_t *self, const char *exe, char *const argv[], char *full[S_MAX_ARGS], char *path,
          size_t path_size, char *const **argv_out)
{
    *argv_out = argv;
    if (!self->wrap)
        return exe;
    if (strchr(exe, '/'))
        snprintf(path, path_size, "%s", exe);
    else
        snprintf(path, path_size, "%s/%s", tf_test_bindir(), exe);
    size_t n = 0;
    for (size_t i = 0; self->wrap[i] && n + 1 < S_MAX_ARGS; i++)
        full[n++] = self->wrap[i];
    full[n++] = path;
    for (size_t i = 1; argv[i]; i++) {
        if (n + 1 >= S_MAX_ARGS) {
            fprintf(stderr, "tf_teststack: too many arguments for %s\n", exe);
            return NULL;
        }
        full[n++] = argv[i];
    }
    full[n] = NULL;
    *argv_out = full;
    return self->wrap[0];
}

/* The ipc socket file a program binds that the next ones need, or NULL. */
static const char *
s_socket_of(tf_teststack_t *self, const char *name, int which, char *buf, size_t size)
{
    if (strcmp(name, "broker") == 0 && which == 0)
        snprintf(buf, size, "%s/run/broker.sock", self->dir);
    else if (strcmp(name, "bus") == 0 && which < 2)
        snprintf(buf, size, "%s/run/%s.sock", self->dir, which == 0 ? "bus-in" : "bus-out");
    else
        return NULL;
    return buf;
}

static int s_wait_registered(tf_teststack_t *self, s_program_t *p, const char *log);

int
tf_teststack_start(tf_teststack_t *self, const char *name)
{
    s_program_t *p = s_program(self, name);
    if (p && tf_testproc_alive(p->proc)) {
        fprintf(stderr, "tf_teststack: %s is already running\n", name);
        return -1;
    }
    if (!p) {
        if (self->nrunning == S_MAX_PROGRAMS || strlen(name) >= sizeof p->name) {
            fprintf(stderr, "tf_teststack: cannot start %s: too many programs or too long a name\n", name);
            return -1;
        }
        p = &self->running[self->nrunning++];
        snprintf(p->name, sizeof p->name, "%s", name);
    }
    tf_testproc_destroy(&p->proc);
    char program[128], log[PATH_MAX + 80], sock[PATH_MAX + 32];
    snprintf(program, sizeof program, "tapeflow-%.*s", (int) strcspn(name, "."), name);
    tf_teststack_log(self, name, log, sizeof log);
    for (int i = 0; s_socket_of(self, name, i, sock, sizeof sock); i++)
        unlink(sock);  /* a killed program's socket: the wait below is for the new one */
    char *argv[] = {program, "--config", self->cfg, "--log-level", "debug", NULL, NULL, NULL};
    if (strchr(name, '.')) {
        argv[5] = "--name";
        argv[6] = (char *) name;
    }
    p->log_start = s_file_size(log);
    char *full[S_MAX_ARGS], path[PATH_MAX];
    char *const *run_argv = NULL;
    const char *exe = s_wrapped(self, program, argv, full, path, sizeof path, &run_argv);
    p->proc = exe ? tf_testproc_start(exe, run_argv, self->env, log) : NULL;
    if (!p->proc) {
        fprintf(stderr, "tf_teststack: cannot start %s\n", program);
        return -1;
    }
    if (self->wrap)
        return 0;  /* on another host: see opts.wrap */
    for (int i = 0; s_socket_of(self, name, i, sock, sizeof sock); i++) {
        struct stat st;
        int waited = 0;
        while (stat(sock, &st) != 0 && waited < S_SOCKET_WAIT_MS && tf_testproc_alive(p->proc)) {
            usleep(20000);
            waited += 20;
        }
        if (stat(sock, &st) != 0) {
            char why[PATH_MAX * 2 + 256] = "";
            snprintf(why, sizeof why, "%s did not bind %s", program, sock);
            tf_test_log_tail(log, why, sizeof why);
            fprintf(stderr, "tf_teststack: %s\n", why);
            return -1;
        }
    }
    return s_wait_registered(self, p, log);
}

/* True once the broker lists a worker with process id pid. */
static bool
s_registered(tf_client_t *client, int pid)
{
    tf_msg_t reply;
    if (tf_client_status(client, &reply, 500, NULL) != TF_OK)
        return false;
    bool found = false;
    for (size_t i = 0; i < reply.status.workers_count && !found; i++)
        found = reply.status.workers[i].pid == (uint64_t) pid;
    tf_msg_clear(&reply);
    return found;
}

/* An actor (any program but the broker and the bus) started next to a running broker (one of
   the programs, or tapeflow up's): waits
   until the broker lists it as a worker, so the test starts with it in its loop (a SIGTERM in
   its first moments is not what a test means to send). */
static int
s_wait_registered(tf_teststack_t *self, s_program_t *p, const char *log)
{
    char pidfile[PATH_MAX + 32];
    snprintf(pidfile, sizeof pidfile, "%s/run/up.pid", self->dir);
    bool broker = self->programs ? tf_teststack_alive(self, "broker") : access(pidfile, F_OK) == 0;
    if (strcmp(p->name, "broker") == 0 || strcmp(p->name, "bus") == 0 || !broker)
        return 0;
    tf_client_t *client = tf_client_new(NULL, self->broker, NULL);
    if (!client)
        return -1;
    int waited = 0;
    bool ok = false;
    while (!(ok = s_registered(client, tf_testproc_pid(p->proc))) && waited < S_SOCKET_WAIT_MS
           && tf_testproc_alive(p->proc)) {
        usleep(50000);
        waited += 50;
    }
    tf_client_destroy(&client);
    if (!ok) {
        char why[PATH_MAX * 2 + 256];
        snprintf(why, sizeof why, "%s did not register with the broker within %d s", p->name,
                 S_SOCKET_WAIT_MS / 1000);
        tf_test_log_tail(log, why, sizeof why);
        fprintf(stderr, "tf_teststack: %s\n", why);
        return -1;
    }
    return 0;
}

static int
s_start_programs(tf_teststack_t *self)
{
    for (size_t i = 0; self->programs[i]; i++)
        if (tf_teststack_start(self, self->programs[i]) != 0)
            return -1;
    return 0;
}

int
tf_teststack_up(tf_teststack_t *self)
{
    if (self->programs)
        return s_start_programs(self);
    char *out = NULL;
    int rc = tf_teststack_cli(self, &out, "up", "--detach", NULL);
    if (rc != 0)
        fprintf(stderr, "tapeflow up --detach failed (%d):\n%s\n", rc, out ? out : "");
    free(out);
    return rc == 0 ? 0 : -1;
}

tf_teststack_t *
tf_teststack_new(const char *prefix, const tf_teststack_opts_t *opts)
{
    tf_teststack_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->dir = tf_test_tempdir(prefix ? prefix : "tfstk");
    if (!self->dir) {
        free(self);
        return NULL;
    }
    snprintf(self->cfg, sizeof self->cfg, "%s/tapeflow.cfg", self->dir);
    snprintf(self->env_cfg, sizeof self->env_cfg, "TAPEFLOW_CONFIG=%s", self->cfg);
    snprintf(self->env_home, sizeof self->env_home, "TAPEFLOW_HOME=%s", self->dir);
    snprintf(self->broker, sizeof self->broker, "ipc://%s/run/broker.sock", self->dir);
    snprintf(self->bus_in, sizeof self->bus_in, "ipc://%s/run/bus-in.sock", self->dir);
    snprintf(self->bus_out, sizeof self->bus_out, "ipc://%s/run/bus-out.sock", self->dir);
    self->env[0] = self->env_cfg;
    self->env[1] = self->env_home;
    self->env[2] = NULL;
    self->programs = opts ? opts->programs : NULL;
    self->wrap = opts ? opts->wrap : NULL;
    char run[PATH_MAX + 8];
    snprintf(run, sizeof run, "%s/run", self->dir);
    if (mkdir(run, 0755) != 0 || s_write_config(self, opts) != 0) {
        tf_teststack_destroy(&self);
        return NULL;
    }
    if (opts && opts->no_up)
        return self;
    if (tf_teststack_up(self) != 0)
        tf_teststack_destroy(&self);
    return self;
}

void
tf_teststack_destroy(tf_teststack_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tf_teststack_t *self = *self_p;
    if (self->programs || self->nrunning)
        for (size_t i = self->nrunning; i-- > 0;)
            tf_testproc_destroy(&self->running[i].proc);
    if (!self->programs) {
        /* Always: a test may have started the stack itself (no_up). Harmless when it is down. */
        char *out = NULL;
        tf_teststack_cli(self, &out, "down", NULL);
        free(out);
    }
    tf_test_dir_done(&self->dir);
    free(self);
    *self_p = NULL;
}

const char *
tf_teststack_dir(tf_teststack_t *self)
{
    return self->dir;
}

const char *
tf_teststack_config(tf_teststack_t *self)
{
    return self->cfg;
}

char *const *
tf_teststack_env(tf_teststack_t *self)
{
    return self->env;
}

const char *
tf_teststack_broker(tf_teststack_t *self)
{
    return self->broker;
}

const char *
tf_teststack_bus_in(tf_teststack_t *self)
{
    return self->bus_in;
}

const char *
tf_teststack_bus_out(tf_teststack_t *self)
{
    return self->bus_out;
}

/* --- stopping and checking ----------------------------------------------------------------- */

/* The first sanitizer report line in log from byte `from`, into why; false when none. */
static bool
s_sanitizer_report(const char *log, long from, char *why, size_t why_size)
{
    char *text = tf_test_read_file(log);
    if (!text)
        return false;
    const char *start = (size_t) from <= strlen(text) ? text + from : text;
    for (size_t i = 0; s_sanitizer_marks[i]; i++) {
        const char *at = strstr(start, s_sanitizer_marks[i]);
        if (at) {
            while (at > start && at[-1] != '\n')
                at--;
            snprintf(why, why_size, "%s holds a sanitizer report: %.*s", log, (int) strcspn(at, "\n"), at);
            free(text);
            return true;
        }
    }
    free(text);
    return false;
}

int
tf_teststack_kill(tf_teststack_t *self, const char *name, int sig)
{
    s_program_t *p = s_program(self, name);
    if (!p || !p->proc || tf_testproc_kill(p->proc, sig) != 0)
        return -1;
    if (sig == SIGKILL)
        tf_testproc_wait(p->proc, S_STOP_WAIT_MS, NULL);  /* gone: it may be started again at once */
    return 0;
}

int
tf_teststack_pid(tf_teststack_t *self, const char *name)
{
    s_program_t *p = s_program(self, name);
    return p && p->proc ? tf_testproc_pid(p->proc) : -1;
}

bool
tf_teststack_wait(tf_teststack_t *self, const char *name, int timeout_ms, int *status)
{
    s_program_t *p = s_program(self, name);
    return p && p->proc && tf_testproc_wait(p->proc, timeout_ms, status);
}

bool
tf_teststack_alive(tf_teststack_t *self, const char *name)
{
    s_program_t *p = s_program(self, name);
    return p && tf_testproc_alive(p->proc);
}

int
tf_teststack_stop(tf_teststack_t *self, const char *name, char *why, size_t why_size)
{
    s_program_t *p = s_program(self, name);
    if (!p || !p->proc) {
        snprintf(why, why_size, "%s was not started by the stack", name);
        return -1;
    }
    char log[PATH_MAX + 80];
    tf_teststack_log(self, name, log, sizeof log);
    int status = 0;
    tf_testproc_kill(p->proc, SIGTERM);
    bool exited = tf_testproc_wait(p->proc, S_STOP_WAIT_MS, &status);
    tf_testproc_destroy(&p->proc);
    if (!exited) {
        snprintf(why, why_size, "%s did not stop within %d s of SIGTERM", name, S_STOP_WAIT_MS / 1000);
        tf_test_log_tail(log, why, why_size);
        return -1;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (WIFSIGNALED(status))
            snprintf(why, why_size, "%s was killed by signal %d at SIGTERM", name, WTERMSIG(status));
        else
            snprintf(why, why_size, "%s exited with status %d at SIGTERM", name, WEXITSTATUS(status));
        tf_test_log_tail(log, why, why_size);
        return -1;
    }
    return s_sanitizer_report(log, p->log_start, why, why_size) ? -1 : 0;
}

/* Every log of the stack (DIR/NAME.log of programs, DIR/log/NAME.log under `tapeflow up`), in
   a list the caller destroys. */
static zlist_t *
s_logs(tf_teststack_t *self)
{
    zlist_t *logs = zlist_new();
    zlist_autofree(logs);
    const char *where[] = {"", "/log"};
    for (size_t w = 0; w < 2; w++) {
        char dir_path[PATH_MAX + 8];
        snprintf(dir_path, sizeof dir_path, "%s%s", self->dir, where[w]);
        DIR *dir = opendir(dir_path);
        struct dirent *de;
        while (dir && (de = readdir(dir)) != NULL) {
            size_t len = strlen(de->d_name);
            if (len > 4 && strcmp(de->d_name + len - 4, ".log") == 0) {
                char path[PATH_MAX * 2];
                snprintf(path, sizeof path, "%s/%s", dir_path, de->d_name);
                zlist_append(logs, path);
            }
        }
        if (dir)
            closedir(dir);
    }
    zlist_sort(logs, NULL);
    return logs;
}

int
tf_teststack_down(tf_teststack_t *self, char *why, size_t why_size)
{
    int rc = 0;
    if (self->programs || self->nrunning) {
        for (size_t i = self->nrunning; i-- > 0;)  /* those a test stopped or killed are left alone */
            if (tf_testproc_alive(self->running[i].proc)
                && tf_teststack_stop(self, self->running[i].name, why, why_size) != 0)
                return -1;
    }
    if (!self->programs) {
        char *out = NULL;
        rc = tf_teststack_cli_all(self, &out, "down", NULL);
        if (rc != 0) {
            snprintf(why, why_size, "tapeflow down exited %d: %s", rc, out ? out : "");
            free(out);
            return -1;
        }
        free(out);
        char path[PATH_MAX + 32];
        snprintf(path, sizeof path, "%s/run/up.state", self->dir);
        zconfig_t *root = zconfig_load(path);
        zconfig_t *children = root ? zconfig_locate(root, "children") : NULL;
        for (zconfig_t *c = children ? zconfig_child(children) : NULL; c && rc == 0; c = zconfig_next(c)) {
            const char *last = zconfig_get(c, "last_exit", "");
            if (strcmp(last, "exited with code 0") != 0) {
                snprintf(why, why_size, "%s did not stop cleanly: %s (log %s)", zconfig_name(c),
                         *last ? last : "no exit recorded", zconfig_get(c, "log", "?"));
                rc = -1;
            }
        }
        if (!root) {
            snprintf(why, why_size, "no state file %s after tapeflow down", path);
            rc = -1;
        }
        zconfig_destroy(&root);
        if (rc != 0)
            return -1;
    }
    zlist_t *logs = s_logs(self);
    for (const char *log = zlist_first(logs); log && rc == 0; log = zlist_next(logs))
        if (s_sanitizer_report(log, 0, why, why_size))
            rc = -1;
    zlist_destroy(&logs);
    return rc;
}

int
tf_teststack_finish(tf_teststack_t **self_p)
{
    if (!self_p || !*self_p)
        return 0;
    char why[PATH_MAX * 2 + 1024] = "";
    int rc = tf_teststack_down(*self_p, why, sizeof why);
    if (rc != 0)
        fprintf(stderr, "the stack did not stop cleanly: %s\n", why);
    tf_teststack_destroy(self_p);
    return rc;
}

const char *
tf_teststack_log(tf_teststack_t *self, const char *name, char *buf, size_t size)
{
    if (self->programs || s_program(self, name)) {
        snprintf(buf, size, "%s/%s.log", self->dir, name);
        return buf;
    }
    char path[PATH_MAX + 32], key[128];
    snprintf(path, sizeof path, "%s/run/up.state", self->dir);
    snprintf(key, sizeof key, "children/%s/log", name);
    zconfig_t *root = zconfig_load(path);
    const char *log = root ? zconfig_get(root, key, NULL) : NULL;
    if (log)
        snprintf(buf, size, "%s", log);
    else
        snprintf(buf, size, "%s/log/%s.log", self->dir, name);
    zconfig_destroy(&root);
    return buf;
}

int
tf_teststack_log_count(tf_teststack_t *self, const char *needle, char *last, size_t last_size)
{
    int n = 0;
    zlist_t *logs = s_logs(self);
    for (const char *log = zlist_first(logs); log; log = zlist_next(logs)) {
        FILE *f = fopen(log, "r");
        char line[4096];
        while (f && fgets(line, sizeof line, f)) {
            const char *at = strstr(line, needle);
            if (!at)
                continue;
            n++;
            if (last)
                snprintf(last, last_size, "%.*s", (int) strcspn(at + strlen(needle), " \n"), at + strlen(needle));
        }
        if (f)
            fclose(f);
    }
    zlist_destroy(&logs);
    return n;
}

int
tf_teststack_staged(tf_teststack_t *self, const char *job)
{
    char ready[PATH_MAX + 32];
    snprintf(ready, sizeof ready, "%s/staging/ready", self->dir);
    DIR *d = opendir(ready);
    if (!d)
        return 0;
    int n = 0;
    size_t len = strlen(job);
    for (struct dirent *e = readdir(d); e; e = readdir(d)) {
        size_t name_len = strlen(e->d_name);
        if (strncmp(e->d_name, job, len) == 0 && name_len > 5 && strcmp(e->d_name + name_len - 5, ".data") == 0)
            n++;
    }
    closedir(d);
    return n;
}

int
tf_teststack_child_pid(tf_teststack_t *self, const char *name)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/run/up.state", self->dir);
    zconfig_t *root = zconfig_load(path);
    if (!root)
        return 0;
    char key[128];
    snprintf(key, sizeof key, "children/%s/pid", name);
    int pid = atoi(zconfig_get(root, key, "0"));
    zconfig_destroy(&root);
    return pid;
}

tf_testevents_t *
tf_teststack_events(tf_teststack_t *self, const char *const prefixes[])
{
    char why[512];
    tf_testevents_t *events = tf_testevents_new(self->bus_in, self->bus_out, prefixes, why, sizeof why);
    if (!events)
        fprintf(stderr, "tf_teststack: %s\n", why);
    return events;
}

/* --- the CLI ------------------------------------------------------------------------------ */

/* With TF_TEST_VERBOSE set, what a command printed, for reading a test's run. */
static void
s_verbose(char *const argv[], int rc, const char *text)
{
    if (!getenv("TF_TEST_VERBOSE"))
        return;
    printf("----");
    for (size_t i = 0; argv[i]; i++)
        printf(" %s", argv[i]);
    printf(" (exit %d):\n%s", rc, text ? text : "(no output)\n");
}

int
tf_teststack_cliv(tf_teststack_t *self, char **out, char *const argv[])
{
    char *text = NULL, *full[S_MAX_ARGS], path[PATH_MAX];
    char *const *run_argv = NULL;
    const char *exe = s_wrapped(self, "tapeflow", argv, full, path, sizeof path, &run_argv);
    int rc = exe ? tf_test_run(exe, run_argv, self->env, S_CLI_TIMEOUT_MS, &text) : -1;
    s_verbose(argv, rc, text);
    if (out)
        *out = text;
    else
        free(text);
    return rc;
}

/* argv from a NULL-terminated va_list after `first` slots already filled; argc. */
static int
s_args(char **argv, int first, va_list ap)
{
    int argc = first;
    for (char *a = va_arg(ap, char *); a && argc < 63; a = va_arg(ap, char *))
        argv[argc++] = a;
    argv[argc] = NULL;
    return argc;
}

int
tf_teststack_cli(tf_teststack_t *self, char **out, ...)
{
    char *argv[64] = {"tapeflow"};
    va_list ap;
    va_start(ap, out);
    s_args(argv, 1, ap);
    va_end(ap);
    return tf_teststack_cliv(self, out, argv);
}

int
tf_teststack_cli_all(tf_teststack_t *self, char **out, ...)
{
    char exe[PATH_MAX];
    snprintf(exe, sizeof exe, "%s/tapeflow", tf_test_bindir());
    char *argv[64] = {"sh", "-c", "exec \"$0\" \"$@\" 2>&1", exe};
    va_list ap;
    va_start(ap, out);
    s_args(argv, 4, ap);
    va_end(ap);
    char *text = NULL, *full[S_MAX_ARGS], path[PATH_MAX];
    char *const *run_argv = NULL;
    const char *sh = s_wrapped(self, "/bin/sh", argv, full, path, sizeof path, &run_argv);
    int rc = sh ? tf_test_run(sh, run_argv, self->env, S_CLI_TIMEOUT_MS, &text) : -1;
    s_verbose(argv + 3, rc, text);
    if (out)
        *out = text;
    else
        free(text);
    return rc;
}

int
tf_teststack_shell(tf_teststack_t *self, char **out, const char *command)
{
    char path[PATH_MAX * 2];
    const char *old = getenv("PATH");
    snprintf(path, sizeof path, "PATH=%s:%s", tf_test_bindir(), old ? old : "/usr/bin:/bin");
    char *env[] = {self->env[0], self->env[1], path, NULL};
    char *argv[] = {"sh", "-c", (char *) command, NULL};
    char *text = NULL, *full[S_MAX_ARGS], sh_path[PATH_MAX];
    char *const *run_argv = NULL;
    const char *sh = s_wrapped(self, "/bin/sh", argv, full, sh_path, sizeof sh_path, &run_argv);
    int rc = sh ? tf_test_run(sh, run_argv, env, S_CLI_TIMEOUT_MS, &text) : -1;
    s_verbose(argv + 2, rc, text);
    if (out)
        *out = text;
    else
        free(text);
    return rc;
}

int
tf_teststack_label(tf_teststack_t *self, const char *drive, const char *label, const char *pool)
{
    char *out = NULL;
    int rc = tf_teststack_cli(self, &out, "tape", "label", drive, "--label", label, "--pool", pool, NULL);
    if (rc != 0)
        fprintf(stderr, "tapeflow tape label %s --label %s --pool %s: exit %d\n%s\n", drive, label, pool,
                rc, out ? out : "");
    free(out);
    return rc;
}

int
tf_teststack_backup(tf_teststack_t *self, const char *src, const char *pool, char *job, size_t job_size,
                    char **json)
{
    return tf_teststack_backup_level(self, src, pool, "full", job, job_size, json);
}

int
tf_teststack_backup_level(tf_teststack_t *self, const char *src, const char *pool, const char *level, char *job,
                          size_t job_size, char **json)
{
    char *out = NULL;
    int rc = tf_teststack_cli(self, &out, "backup", src, "--pool", pool, "--level", level, "--wait", "--timeout",
                              S_JOB_WAIT_S, "--json", NULL);
    if (!tf_test_json_str(out, "job_id", job, job_size))
        job[0] = '\0';
    if (json)
        *json = out;
    else
        free(out);
    return rc;
}

int
tf_teststack_backup_start(tf_teststack_t *self, const char *src, const char *pool, char *job, size_t job_size)
{
    char *out = NULL;
    int rc = tf_teststack_cli(self, &out, "backup", src, "--pool", pool, "--json", NULL);
    if (!tf_test_json_job(out, job, job_size))
        job[0] = '\0';
    if (rc != 0 || !job[0])
        fprintf(stderr, "tapeflow backup %s --pool %s --json: exit %d\n%s\n", src, pool, rc, out ? out : "");
    free(out);
    return rc;
}

char *
tf_teststack_job(tf_teststack_t *self, const char *job)
{
    char *out = NULL;
    int rc = tf_teststack_cli(self, &out, "job", job, "--json", NULL);
    if ((rc == 0 || rc == 1) && out && strstr(out, "\"job_id\""))
        return out;
    fprintf(stderr, "tf_teststack: tapeflow job %s --json: exit %d: %s\n", job, rc, out ? out : "");
    free(out);
    return NULL;
}

int
tf_teststack_wait_job(tf_teststack_t *self, const char *job, const char *want, int timeout_ms, char **json)
{
    char *last = NULL;
    int rc = -1;
    for (int waited = 0; rc != 0 && waited <= timeout_ms; waited += 100) {
        char *now = tf_teststack_job(self, job);
        char status[64] = "";
        if (now) {
            free(last);
            last = now;
            tf_test_json_str(last, "status", status, sizeof status);
        }
        if (status[0] && (want ? strcmp(status, want) == 0
                               : strcmp(status, "running") != 0 && strcmp(status, "queued") != 0))
            rc = 0;
        else
            usleep(100 * 1000);
    }
    if (json)
        *json = last;
    else
        free(last);
    return rc;
}

int
tf_teststack_restore_compare(tf_teststack_t *self, const char *job, const char *src, const char *to,
                             char *why, size_t why_size)
{
    char dest[PATH_MAX];
    snprintf(dest, sizeof dest, "%s/%s", self->dir, to);
    char *out = NULL;
    int rc = tf_teststack_cli(self, &out, "restore", job, "--to", dest, "--json", NULL);
    if (rc != 0) {
        snprintf(why, why_size, "restore failed (%d): %s", rc, out ? out : "");
        free(out);
        return -1;
    }
    free(out);
    char restored[PATH_MAX * 2], diff[1024];
    snprintf(restored, sizeof restored, "%s%s", dest, src);
    if (tf_tree_compare(src, restored, true, diff, sizeof diff) != 0) {
        snprintf(why, why_size, "restored tree differs: %s", diff);
        return -1;
    }
    return 0;
}

int
tf_teststack_catalog_has_each_entry_once(tf_teststack_t *self, const char *job, const char *src, char *why,
                                         size_t why_size)
{
    tf_err_t err = {0};
    tf_client_t *client = tf_client_new(NULL, self->broker, &err);
    if (!client) {
        snprintf(why, why_size, "cannot reach the broker: %s", err.message);
        return -1;
    }
    tf_msg_t q = {.type = TF_MSG_CAT_QUERY};
    q.cat_query = (tf_msg_cat_query_t){.query = "files", .job_id = (char *) job, .limit = 100000};
    tf_msg_t reply;
    int rc = -1;
    long entries = tf_tree_entries(src);
    if (tf_client_call(client, "catalog", NULL, job, &q, &reply, 30000, &err) != TF_OK)
        snprintf(why, why_size, "files query: %s", err.message);
    else {
        if (reply.type != TF_MSG_CAT_REPLY || reply.cat_reply.truncated)
            snprintf(why, why_size, "files query of %s: %s", job,
                     reply.type != TF_MSG_CAT_REPLY ? "not a catalog reply" : "truncated");
        else if ((long) reply.cat_reply.files_count != entries)
            snprintf(why, why_size, "the catalog holds %zu files of %s; %s has %ld entries",
                     reply.cat_reply.files_count, job, src, entries);
        else {
            zhashx_t *seen = zhashx_new();
            rc = 0;
            for (size_t i = 0; i < reply.cat_reply.files_count && rc == 0; i++) {
                const char *p = reply.cat_reply.files[i].path;
                if (zhashx_lookup(seen, p)) {
                    snprintf(why, why_size, "catalog holds %s twice", p);
                    rc = -1;
                }
                zhashx_insert(seen, p, (void *) 1);
            }
            zhashx_destroy(&seen);
        }
        tf_msg_clear(&reply);
    }
    tf_client_destroy(&client);
    return rc;
}

/* --- JSON --------------------------------------------------------------------------------- */

const char *
tf_test_json_str(const char *json, const char *key, char *buf, size_t size)
{
    char pattern[128];
    snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
    const char *at = json ? strstr(json, pattern) : NULL;
    if (!at)
        return NULL;
    at += strlen(pattern);
    const char *end = at;
    for (; *end && *end != '"'; end++)
        if (*end == '\\' && end[1])
            end++;  /* an escaped character, \" included */
    if (!*end)
        return NULL;
    snprintf(buf, size, "%.*s", (int) (end - at), at);
    return buf;
}

long long
tf_test_json_int(const char *json, const char *key)
{
    char pattern[128];
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    const char *at = json ? strstr(json, pattern) : NULL;
    return at ? atoll(at + strlen(pattern)) : -1;
}

const char *
tf_test_json_job(const char *json, char *buf, size_t size)
{
    return tf_test_json_str(json, "job_id", buf, size);
}
