/*  supervisor - the local stack as supervised child processes. */
#define _GNU_SOURCE
#include "supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "tf_clock.h"
#include "tf_client.h"
#include "tf_log.h"
#include "upstate.h"

#define S_HEALTH_INTERVAL 500     /* ms between "is the broker answering?" checks */
#define S_HEALTH_TIMEOUT 250      /* ms one check may block the reactor */
#define S_REMOTE_SILENT 10000     /* ms without an answer from a remote broker before saying so */

typedef enum { S_STOPPED, S_RUNNING, S_RESTARTING } s_state_t;

typedef struct {
    char name[64];                /* bus, broker, echo.1 */
    char program[PATH_MAX];
    char log[PATH_MAX];
    char *argv[6];
    int tier;                     /* 0 bus, 1 broker, 2 actors: start ascending, stop descending */
    pid_t pid;                    /* current pid while running, else the last one */
    s_state_t state;
    int64_t restarts;
    char last_exit[128];
    int64_t started_mono;
    int64_t started_wall;
    int64_t restart_at;           /* mono ms, while restarting */
    int64_t next_delay;           /* back-off for the next crash */
    bool term_sent;
} s_child_t;

struct _supervisor_t {
    tf_config_t *cfg;
    bool print;
    char *config_path;            /* passed to children; NULL for defaults */
    char bindir[PATH_MAX];
    char pid_path[PATH_MAX];
    char state_path[PATH_MAX];
    char endpoint[1024];
    s_child_t *children;
    size_t count;
    int64_t restart_min, restart_max, stable_after, stop_timeout;

    int sigfd;
    sigset_t oldmask;
    bool signals_routed;
    bool pidfile_owned;
    int64_t started_wall;
    bool stopping;
    int64_t stop_deadline;        /* mono ms */
    bool broker_answered;
    bool broker_here;             /* the broker role runs on this host */
    int64_t next_health;          /* mono ms */
    int64_t silent_since;         /* mono ms the broker was first asked without an answer */
    bool told_silent;             /* said so once since */
    tf_client_t *client;
    upstate_t *state;
};

static const char *s_state_names[] = {"stopped", "running", "restarting"};

static int
s_add_child(supervisor_t *self, const char *name, const char *program, int tier, bool named)
{
    s_child_t *c = &self->children[self->count];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    if (snprintf(c->program, sizeof c->program, "%s/%s", self->bindir, program)
            >= (int) sizeof c->program
        || snprintf(c->log, sizeof c->log, "%s/%s.log", tf_config_get(self->cfg, "tapeflow/log"),
                    name) >= (int) sizeof c->log)
        return TF_ERR_INVALID;
    c->tier = tier;
    c->next_delay = self->restart_min;
    size_t n = 0;
    c->argv[n++] = c->program;
    if (self->config_path) {
        c->argv[n++] = (char *) "--config";
        c->argv[n++] = self->config_path;
    }
    if (named) {
        c->argv[n++] = (char *) "--name";
        c->argv[n++] = c->name;
    }
    c->argv[n] = NULL;
    self->count++;
    return TF_OK;
}

static bool
s_valid_actor_name(const char *name)
{
    if (!*name || strlen(name) > 40)
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
              || *p == '-' || *p == '_'))
            return false;
    return true;
}

const char *
supervisor_roles_text(zlist_t *roles, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (const char *r = zlist_first(roles); r && used < size; r = zlist_next(roles)) {
        int n = snprintf(buf + used, size - used, "%s%s", used ? " " : "", r);
        used += n > 0 ? (size_t) n : 0;
    }
    return buf;
}

/* Adds the actor roles of this host (tf_config_roles); only counts them when children is
   NULL. */
static int
s_plan_actors(supervisor_t *self, zlist_t *roles, size_t *total, tf_err_t *err)
{
    int rc = TF_OK;
    *total = 0;
    for (const char *name = zlist_first(roles); name && rc == TF_OK; name = zlist_next(roles)) {
        if (!tf_config_role_is_actor(name))
            continue;
        char key[256];
        snprintf(key, sizeof key, "actors/%s/instances", name);
        /* In range: the key table's row for it was checked when the config was opened. */
        int64_t instances = tf_config_int(self->cfg, key);
        if (instances > 0 && !s_valid_actor_name(name))
            rc = tf_err_set(err, TF_ERR_INVALID,
                            "role '%s' in up/roles: an actor name may only hold letters, digits, "
                            "'-' and '_'", name);
        else if (self->children) {
            for (int64_t i = 1; i <= instances && rc == TF_OK; i++) {
                char child[64], program[128];
                snprintf(child, sizeof child, "%s.%" PRId64, name, i);
                snprintf(program, sizeof program, "tapeflow-%s", name);
                rc = s_add_child(self, child, program, 2, true);
                if (rc != TF_OK)
                    tf_err_set(err, rc, "path of actor %s is too long", child);
            }
        }
        if (rc == TF_OK)
            *total += (size_t) instances;
    }
    return rc;
}

/* Lists every missing program in one error naming the folder searched. */
static int
s_check_programs(supervisor_t *self, tf_err_t *err)
{
    char missing[TF_ERR_MESSAGE_MAX] = "";
    size_t used = 0;
    for (size_t i = 0; i < self->count; i++) {
        const s_child_t *c = &self->children[i];
        bool seen = false;
        for (size_t j = 0; j < i; j++)
            seen = seen || strcmp(self->children[j].program, c->program) == 0;
        if (seen || access(c->program, X_OK) == 0)
            continue;
        const char *base = strrchr(c->program, '/') + 1;
        char role[64];
        snprintf(role, sizeof role, "%s", c->name);
        char *dot = strchr(role, '.');
        if (dot)
            *dot = '\0';
        int n = snprintf(missing + used, sizeof missing - used, "%s%s (role %s)",
                         used ? ", " : "", base, role);
        if (n > 0 && used + (size_t) n < sizeof missing)
            used += (size_t) n;
    }
    if (used == 0)
        return TF_OK;
    return tf_err_set(err, TF_ERR_NOTFOUND,
                      "program(s) not found in %s: %s; build them (cmake --build BUILD-DIR), "
                      "set TAPEFLOW_BIN_DIR to the folder holding the tapeflow-* programs, or "
                      "take the role out of up/roles",
                      self->bindir, missing);
}

supervisor_t *
supervisor_new(tf_config_t *cfg, const char *bindir, const char *config_path, bool print,
               tf_err_t *err)
{
    supervisor_t *self = calloc(1, sizeof *self);
    if (!self) {
        tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    self->cfg = cfg;
    self->print = print;
    self->sigfd = -1;
    snprintf(self->bindir, sizeof self->bindir, "%s", bindir);
    cli_pid_path(cfg, self->pid_path, sizeof self->pid_path);
    cli_state_path(cfg, self->state_path, sizeof self->state_path);
    snprintf(self->endpoint, sizeof self->endpoint, "%s", tf_config_get(cfg, "broker/endpoint"));
    self->restart_min = tf_config_ms(cfg, "up/restart_min");
    self->restart_max = tf_config_ms(cfg, "up/restart_max");
    self->stable_after = tf_config_ms(cfg, "up/stable_after");
    self->stop_timeout = tf_config_ms(cfg, "up/stop_timeout");
    if (self->restart_min < 10)
        self->restart_min = 10;
    if (self->restart_max < self->restart_min)
        self->restart_max = self->restart_min;
    if (self->stop_timeout < 0)
        self->stop_timeout = 0;
    if (config_path && !(self->config_path = strdup(config_path))) {
        tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        supervisor_destroy(&self);
        return NULL;
    }
    zlist_t *roles = tf_config_roles(cfg);
    size_t actors = 0;
    if (!roles || s_plan_actors(self, roles, &actors, err) != TF_OK) {
        if (!roles)
            tf_err_set(err, TF_ERR_NOMEM, "out of memory reading up/roles");
        zlist_destroy(&roles);
        supervisor_destroy(&self);
        return NULL;
    }
    self->children = calloc(actors + 2, sizeof *self->children);
    self->state = upstate_new();
    int rc = self->children && self->state ? TF_OK
                                           : tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    /* Bus and broker only on the host whose roles name them (the tape server). */
    if (rc == TF_OK && ((zlist_exists(roles, "bus")
                         && s_add_child(self, "bus", "tapeflow-bus", 0, false) != TF_OK)
                        || (zlist_exists(roles, "broker")
                            && s_add_child(self, "broker", "tapeflow-broker", 1, false) != TF_OK)))
        rc = tf_err_set(err, TF_ERR_INVALID, "program folder or log folder path is too long");
    if (rc == TF_OK && self->count == 0 && actors == 0)
        rc = tf_err_set(err, TF_ERR_INVALID, "up/roles (%s) names nothing to run on this host; "
                        "name its roles (a tape server: broker bus catalog labeller stager "
                        "tapewriter; a client: agent) and check actors/<name>/instances",
                        tf_config_str(cfg, "up/roles"));
    self->broker_here = zlist_exists(roles, "broker");
    if (rc == TF_OK)
        rc = s_plan_actors(self, roles, &actors, err);
    if (rc == TF_OK)
        rc = s_check_programs(self, err);
    char words[1024];
    if (rc == TF_OK)
        rc = upstate_set_host(self->state, tf_config_str(cfg, "tapeflow/host"),
                              supervisor_roles_text(roles, words, sizeof words));
    if (rc == TF_ERR_NOMEM)
        tf_err_set(err, rc, "out of memory");
    zlist_destroy(&roles);
    if (rc != TF_OK)
        supervisor_destroy(&self);
    return self;
}

static void
s_signal_child(s_child_t *c, int sig)
{
    /* Each child leads its own process group: reach whatever it started too. */
    if (kill(-c->pid, sig) != 0)
        kill(c->pid, sig);
}

void
supervisor_destroy(supervisor_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    supervisor_t *self = *self_p;
    for (size_t i = 0; self->children && i < self->count; i++) {
        s_child_t *c = &self->children[i];
        if (c->state == S_RUNNING) {
            s_signal_child(c, SIGKILL);
            waitpid(c->pid, NULL, 0);
            c->state = S_STOPPED;
        }
    }
    if (self->pidfile_owned && cli_pidfile_live(self->pid_path) == getpid())
        unlink(self->pid_path);
    if (self->sigfd >= 0)
        close(self->sigfd);
    if (self->signals_routed)
        sigprocmask(SIG_SETMASK, &self->oldmask, NULL);
    tf_client_destroy(&self->client);
    upstate_destroy(&self->state);
    free(self->children);
    free(self->config_path);
    free(self);
    *self_p = NULL;
}

static void
s_save_state(supervisor_t *self)
{
    const char *state = self->stopping ? "stopping" : "running";
    bool all_stopped = true;
    for (size_t i = 0; i < self->count; i++)
        all_stopped = all_stopped && self->children[i].state == S_STOPPED;
    if (self->stopping && all_stopped)
        state = "stopped";
    if (upstate_set_supervisor(self->state, getpid(), self->started_wall, state,
                               self->config_path) != TF_OK) {
        tf_log_error("out of memory updating the state");
        return;
    }
    for (size_t i = 0; i < self->count; i++) {
        const s_child_t *c = &self->children[i];
        upstate_child_t row = {.name = c->name, .program = c->program, .pid = c->pid,
                               .state = s_state_names[c->state], .restarts = c->restarts,
                               .last_exit = c->last_exit, .log = c->log,
                               .started_ms = c->started_wall};
        if (upstate_put(self->state, &row) != TF_OK) {
            tf_log_error("out of memory updating the state");
            return;
        }
    }
    tf_err_t err = {0};
    if (upstate_save(self->state, self->state_path, &err) != TF_OK)
        tf_log_error("cannot write the state file (tapeflow status will be stale): %s",
                     err.message);
}

/* Creates the pid file with our pid in one step (link of a filled temp file), replacing a
   stale one. */
static int
s_pidfile_take(supervisor_t *self, tf_err_t *err)
{
    char tmp[PATH_MAX + 32], text[32];
    snprintf(tmp, sizeof tmp, "%s.%d", self->pid_path, (int) getpid());
    int len = snprintf(text, sizeof text, "%d\n", (int) getpid());
    for (int attempt = 0; attempt < 3; attempt++) {
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
            return tf_err_errno(err, TF_ERR_IO, errno, "cannot create %s", tmp);
        bool written = write(fd, text, (size_t) len) == len;
        int write_errno = errno;
        close(fd);
        if (!written) {
            unlink(tmp);
            return tf_err_errno(err, TF_ERR_IO, write_errno, "cannot write %s", tmp);
        }
        int rc = link(tmp, self->pid_path);
        int link_errno = errno;
        unlink(tmp);
        if (rc == 0) {
            self->pidfile_owned = true;
            return TF_OK;
        }
        if (link_errno != EEXIST)
            return tf_err_errno(err, TF_ERR_IO, link_errno, "cannot create pid file %s",
                                self->pid_path);
        pid_t other = cli_pidfile_live(self->pid_path);
        if (other > 0)
            return tf_err_set(err, TF_ERR_BUSY,
                              "tapeflow is already running (supervisor pid %d, pid file %s); "
                              "see 'tapeflow status', stop it with 'tapeflow down'",
                              (int) other, self->pid_path);
        tf_log_warn("replacing stale pid file %s", self->pid_path);
        if (unlink(self->pid_path) != 0 && errno != ENOENT)
            return tf_err_errno(err, TF_ERR_IO, errno, "cannot remove stale pid file %s",
                                self->pid_path);
    }
    return tf_err_set(err, TF_ERR_BUSY, "pid file %s keeps changing: is another tapeflow up "
                                        "starting?", self->pid_path);
}

static int
s_spawn(supervisor_t *self, s_child_t *c, tf_err_t *err)
{
    int fd = open(c->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0)
        return tf_err_errno(err, TF_ERR_IO, errno, "cannot open log %s for %s", c->log, c->name);
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0) {
        int e = errno;
        close(fd);
        return tf_err_errno(err, TF_ERR_IO, e, "cannot open /dev/null");
    }
    char when[64], header[PATH_MAX + 256], failure[PATH_MAX + 64];
    int hlen = snprintf(header, sizeof header, "==== %s tapeflow up: starting %s (%s)%s ====\n",
                        tf_clock_format(tf_clock_wall_ms(), when, sizeof when), c->name,
                        c->program, c->restarts ? ", restarted" : "");
    if (hlen > 0 && write(fd, header, strlen(header)) < 0)
        tf_log_warn("cannot write to %s: %s", c->log, strerror(errno));
    int flen = snprintf(failure, sizeof failure, "tapeflow up: cannot execute %s\n", c->program);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(fd);
        close(devnull);
        return tf_err_errno(err, TF_ERR_IO, e, "cannot fork to start %s", c->name);
    }
    if (pid == 0) {
        /* Only async-signal-safe calls from here to exec. */
        setpgid(0, 0);  /* Ctrl-C on the terminal reaches the supervisor only */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(1);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        dup2(devnull, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        execv(c->program, c->argv);
        if (flen > 0 && write(STDERR_FILENO, failure, (size_t) flen) < 0)
            _exit(126);
        _exit(127);
    }
    setpgid(pid, pid);  /* also from here, so signals to the group work right away */
    close(fd);
    close(devnull);
    c->pid = pid;
    c->state = S_RUNNING;
    c->term_sent = false;
    c->started_mono = tf_clock_mono_ms();
    c->started_wall = tf_clock_wall_ms();
    tf_log_info("started %s (pid %d), log %s", c->name, (int) pid, c->log);
    if (self->print) {
        printf("  %-12s pid %-8d log %s\n", c->name, (int) pid, c->log);
        fflush(stdout);
    }
    return TF_OK;
}

int
supervisor_start(supervisor_t *self, tf_err_t *err)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &set, &self->oldmask) != 0)
        return tf_err_errno(err, TF_ERR_IO, errno, "cannot block signals");
    self->signals_routed = true;
    self->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (self->sigfd < 0)
        return tf_err_errno(err, TF_ERR_IO, errno, "cannot create signalfd");
    int rc = s_pidfile_take(self, err);
    if (rc != TF_OK)
        return rc;
    self->started_wall = tf_clock_wall_ms();
    char where[1200];
    snprintf(where, sizeof where, "%s", self->broker_here ? "" : self->endpoint);
    tf_log_info("supervisor starting %zu children from %s (config %s); host %s, roles: %s%s%s",
                self->count, self->bindir, self->config_path ? self->config_path : "defaults",
                upstate_host(self->state), upstate_roles(self->state),
                *where ? "; broker on another host at " : "", where);
    if (self->print) {
        printf("tapeflow up: supervisor pid %d, state %s\n", (int) getpid(), self->state_path);
        printf("tapeflow up: host %s runs %s%s%s\n", upstate_host(self->state),
               upstate_roles(self->state), *where ? "; broker on another host at " : "", where);
        fflush(stdout);
    }
    for (size_t i = 0; i < self->count; i++) {
        rc = s_spawn(self, &self->children[i], err);
        if (rc != TF_OK) {
            /* Leave nothing half-started: destroy kills what runs. */
            self->stopping = true;
            for (size_t j = 0; j < i; j++)
                if (self->children[j].state == S_RUNNING) {
                    s_signal_child(&self->children[j], SIGKILL);
                    waitpid(self->children[j].pid, NULL, 0);
                    self->children[j].state = S_STOPPED;
                    snprintf(self->children[j].last_exit, sizeof self->children[j].last_exit,
                             "killed: start-up failed");
                }
            s_save_state(self);
            return rc;
        }
    }
    self->next_health = tf_clock_mono_ms();
    s_save_state(self);
    return TF_OK;
}

static void
s_describe_exit(int status, char *buf, size_t size)
{
    if (WIFEXITED(status))
        snprintf(buf, size, "exited with code %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status)) {
        const char *abbrev = sigabbrev_np(WTERMSIG(status));
        if (abbrev)
            snprintf(buf, size, "killed by SIG%s%s", abbrev, WCOREDUMP(status) ? " (core dumped)" : "");
        else
            snprintf(buf, size, "killed by signal %d", WTERMSIG(status));
    }
    else
        snprintf(buf, size, "ended with wait status %d", status);
}

static void
s_on_exit(supervisor_t *self, s_child_t *c, int status)
{
    int64_t now = tf_clock_mono_ms();
    int64_t ran = now - c->started_mono;
    char ran_s[32], delay_s[32];
    s_describe_exit(status, c->last_exit, sizeof c->last_exit);
    if (strcmp(c->name, "broker") == 0) {
        self->broker_answered = false;   /* announce again once the new one answers */
        self->next_health = now;
    }
    if (self->stopping) {
        c->state = S_STOPPED;
        tf_log_info("%s (pid %d) stopped: %s", c->name, (int) c->pid, c->last_exit);
        return;
    }
    if (ran >= self->stable_after)
        c->next_delay = self->restart_min;
    int64_t delay = c->next_delay;
    c->next_delay = delay * 2 > self->restart_max ? self->restart_max : delay * 2;
    c->state = S_RESTARTING;
    c->restart_at = now + delay;
    tf_log_warn("%s (pid %d) %s after %s; restarting in %s (restart %" PRId64 "); see %s",
                c->name, (int) c->pid, c->last_exit, cli_duration(ran, ran_s, sizeof ran_s),
                cli_duration(delay, delay_s, sizeof delay_s), c->restarts + 1, c->log);
}

static void
s_reap(supervisor_t *self)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            break;
        for (size_t i = 0; i < self->count; i++) {
            s_child_t *c = &self->children[i];
            if (c->state == S_RUNNING && c->pid == pid) {
                s_on_exit(self, c, status);
                break;
            }
        }
    }
}

static void
s_kill_remaining(supervisor_t *self)
{
    char timeout_s[32];
    for (size_t i = self->count; i-- > 0;) {
        s_child_t *c = &self->children[i];
        if (c->state != S_RUNNING)
            continue;
        tf_log_warn("%s (pid %d) still runs %s after the stop began; sending SIGKILL", c->name,
                    (int) c->pid, cli_duration(self->stop_timeout, timeout_s, sizeof timeout_s));
        s_signal_child(c, SIGKILL);
        int status = 0;
        while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR)
            ;
        s_describe_exit(status, c->last_exit, sizeof c->last_exit);
        c->state = S_STOPPED;
    }
}

/* Sends SIGTERM to the highest tier still running; true when every child is stopped. */
static bool
s_stop_progress(supervisor_t *self)
{
    int top = -1;
    for (size_t i = 0; i < self->count; i++)
        if (self->children[i].state == S_RUNNING && self->children[i].tier > top)
            top = self->children[i].tier;
    if (top < 0)
        return true;
    for (size_t i = self->count; i-- > 0;) {
        s_child_t *c = &self->children[i];
        if (c->state == S_RUNNING && c->tier == top && !c->term_sent) {
            tf_log_info("stopping %s (pid %d)", c->name, (int) c->pid);
            s_signal_child(c, SIGTERM);
            c->term_sent = true;
        }
    }
    return false;
}

static void
s_begin_stop(supervisor_t *self, int sig)
{
    self->stopping = true;
    self->stop_deadline = tf_clock_mono_ms() + self->stop_timeout;
    tf_log_info("SIG%s received: stopping children (actors, broker, bus)", sigabbrev_np(sig));
    for (size_t i = 0; i < self->count; i++)
        if (self->children[i].state == S_RESTARTING)
            self->children[i].state = S_STOPPED;
}

static void
s_health_check(supervisor_t *self)
{
    tf_err_t err = {0};
    if (!self->client)
        self->client = tf_client_new(self->endpoint, &err);
    if (!self->client) {
        tf_log_warn("cannot create a broker client: %s", err.message);
        self->next_health = tf_clock_mono_ms() + 10 * S_HEALTH_INTERVAL;
        return;
    }
    tf_msg_t reply;
    memset(&reply, 0, sizeof reply);
    int64_t now = tf_clock_mono_ms();
    if (tf_client_status(self->client, &reply, S_HEALTH_TIMEOUT, &err) == TF_OK) {
        self->broker_answered = true;
        self->silent_since = 0;
        self->told_silent = false;
        tf_log_info("broker answering at %s (pid %" PRIu64 ")", self->endpoint,
                    reply.status.pid);
        if (self->print) {
            printf("broker answering at %s\n", self->endpoint);
            fflush(stdout);
        }
        tf_msg_clear(&reply);
        tf_client_destroy(&self->client);
        return;
    }
    self->next_health = now + S_HEALTH_INTERVAL;
    if (!self->silent_since)
        self->silent_since = now;
    /* A broker on another host is not ours to restart: say once why workers may idle. */
    if (!self->broker_here && !self->told_silent && now - self->silent_since >= S_REMOTE_SILENT) {
        self->told_silent = true;
        tf_log_warn("the broker at %s (another host) does not answer (%s): is the tape server "
                    "up, and are broker/endpoint and keys/server right? This host's workers "
                    "keep trying", self->endpoint, err.code ? err.message : "no answer");
        if (self->print) {
            printf("the broker at %s (another host) does not answer yet; this host's workers "
                   "keep trying\n", self->endpoint);
            fflush(stdout);
        }
    }
}

/* Milliseconds until the next timed job, -1 for none. */
static int
s_poll_timeout(supervisor_t *self)
{
    int64_t now = tf_clock_mono_ms();
    int64_t next = INT64_MAX;
    if (self->stopping)
        next = self->stop_deadline;
    else {
        for (size_t i = 0; i < self->count; i++)
            if (self->children[i].state == S_RESTARTING && self->children[i].restart_at < next)
                next = self->children[i].restart_at;
        if (!self->broker_answered && self->next_health < next)
            next = self->next_health;
    }
    if (next == INT64_MAX)
        return -1;
    if (next <= now)
        return 0;
    return next - now > INT32_MAX ? INT32_MAX : (int) (next - now);
}

int
supervisor_run(supervisor_t *self)
{
    if (self->sigfd < 0) {
        tf_log_error("supervisor_run called before supervisor_start");
        return CLI_EXIT_FAIL;
    }
    for (;;) {
        struct pollfd pfd = {.fd = self->sigfd, .events = POLLIN};
        int n = poll(&pfd, 1, s_poll_timeout(self));
        if (n < 0 && errno != EINTR) {
            tf_log_error("poll failed: %s; stopping the children", strerror(errno));
            if (!self->stopping)
                s_begin_stop(self, SIGTERM);
        }
        bool changed = false;
        if (n > 0) {
            struct signalfd_siginfo info;
            while (read(self->sigfd, &info, sizeof info) == (ssize_t) sizeof info) {
                if (info.ssi_signo == SIGCHLD)
                    continue;  /* reaped below, all at once */
                if (!self->stopping)
                    s_begin_stop(self, (int) info.ssi_signo);
                else {
                    tf_log_warn("second stop signal: killing the children now");
                    self->stop_deadline = tf_clock_mono_ms();
                }
                changed = true;
            }
        }
        size_t running_before = 0, running_after = 0;
        for (size_t i = 0; i < self->count; i++)
            running_before += self->children[i].state == S_RUNNING;
        s_reap(self);
        for (size_t i = 0; i < self->count; i++)
            running_after += self->children[i].state == S_RUNNING;
        changed = changed || running_after != running_before;

        int64_t now = tf_clock_mono_ms();
        if (self->stopping) {
            if (now >= self->stop_deadline) {
                s_kill_remaining(self);
                changed = true;
            }
            if (s_stop_progress(self)) {
                s_save_state(self);
                break;
            }
        }
        else {
            for (size_t i = 0; i < self->count; i++) {
                s_child_t *c = &self->children[i];
                if (c->state != S_RESTARTING || c->restart_at > now)
                    continue;
                c->restarts++;
                tf_err_t err = {0};
                if (s_spawn(self, c, &err) != TF_OK) {
                    tf_log_error("cannot restart %s: %s; trying again later", c->name,
                                 err.message);
                    snprintf(c->last_exit, sizeof c->last_exit, "restart failed");
                    c->restart_at = now + c->next_delay;
                }
                changed = true;
            }
            if (!self->broker_answered && now >= self->next_health)
                s_health_check(self);
        }
        if (changed)
            s_save_state(self);
    }
    tf_log_info("all children stopped");
    if (self->pidfile_owned && cli_pidfile_live(self->pid_path) == getpid())
        unlink(self->pid_path);
    self->pidfile_owned = false;
    return CLI_EXIT_OK;
}
