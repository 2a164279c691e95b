/*  tapeflow up [--detach] - start this host's part of the stack (up/roles) and supervise it. */
#define _GNU_SOURCE
#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "cli_opt.h"
#include "supervisor.h"
#include "tf_client.h"
#include "tf_clock.h"
#include "tf_fs.h"
#include "tf_log.h"
#include "upstate.h"

#define S_HEALTHY_WITHIN 15000   /* ms the detached start waits for the broker to answer */
#define S_SETTLE_SLACK 10000     /* ms on top of up/settle for every child to settle */
#define S_CRASH_LOOP 2           /* restarts during the start that make a child crash-looping */

#define S_LOG_LINES 5   /* lines of a failing child's log 'up' shows */

/* Prints the last (up to S_LOG_LINES) lines a child wrote to its log (not the supervisor's
   "==== ... starting" lines) to out, each indented, after a heading; nothing when there are
   none. Returns the number printed. */
static int
s_print_log_tail(const char *path, FILE *out)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char tail[8192];
    long at = 0;
    if (fseek(f, 0, SEEK_END) == 0 && (at = ftell(f)) > (long) sizeof tail - 1)
        fseek(f, at - (long) sizeof tail + 1, SEEK_SET);
    else
        fseek(f, 0, SEEK_SET);
    size_t n = fread(tail, 1, sizeof tail - 1, f);
    fclose(f);
    tail[n] = '\0';
    const char *lines[S_LOG_LINES];
    int count = 0;
    char *save = NULL;
    for (char *line = strtok_r(tail, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (!*line || strncmp(line, "==== ", 5) == 0)
            continue;
        if (count == S_LOG_LINES) {
            memmove(lines, lines + 1, sizeof lines - sizeof lines[0]);
            count--;
        }
        lines[count++] = line;
    }
    if (count > 0)
        fprintf(out, "  last line%s of %s:\n", count > 1 ? "s" : "", path);
    for (int i = 0; i < count; i++)
        fprintf(out, "    %s\n", lines[i]);
    return count;
}

static int
s_make_folders(tf_config_t *cfg)
{
    static const char *keys[] = {"tapeflow/home", "tapeflow/run", "tapeflow/log"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        tf_err_t err = {0};
        if (tf_fs_mkdir_p(tf_config_get(cfg, keys[i]), &err) != TF_OK) {
            fprintf(stderr, "tapeflow up: %s (%s); set TAPEFLOW_HOME or %s in the config\n",
                    err.message, keys[i], keys[i]);
            return CLI_EXIT_FAIL;
        }
    }
    return CLI_EXIT_OK;
}

/* Prints one line per child from the state file: name, pid, log; with problems_only, the
   children that are not running or restarted (but skip), with their last log line. */
static void
s_print_children(tf_config_t *cfg, bool problems_only, const char *skip, FILE *out)
{
    char path[PATH_MAX];
    upstate_t *state = upstate_load(cli_state_path(cfg, path, sizeof path), NULL);
    for (size_t i = 0; state && i < upstate_size(state); i++) {
        const upstate_child_t *c = upstate_child(state, i);
        if (skip && strcmp(c->name, skip) == 0)
            continue;
        if (!problems_only)
            fprintf(out, "  %-12s pid %-8" PRId64 " log %s\n", c->name, c->pid, c->log);
        else if (strcmp(c->state, "running") != 0 || c->restarts > 0) {
            fprintf(out, "  %-12s %s, %" PRId64 " restart(s), last exit: %s (log %s)\n", c->name,
                   c->state, c->restarts, *c->last_exit ? c->last_exit : "-", c->log);
            s_print_log_tail(c->log, out);
        }
    }
    upstate_destroy(&state);
}

/* Reads the daemon's one-line start report ("ok PID" / "error MESSAGE") from fd. */
static int
s_read_report(int fd, char *line, size_t size, int timeout_ms)
{
    size_t used = 0;
    int64_t deadline = tf_clock_mono_ms() + timeout_ms;
    while (used + 1 < size) {
        int64_t left = deadline - tf_clock_mono_ms();
        if (left <= 0)
            return TF_ERR_TIMEOUT;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int n = poll(&pfd, 1, (int) left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n == 0 ? TF_ERR_TIMEOUT : TF_ERR_IO;
        ssize_t got = read(fd, line + used, size - used - 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        used += (size_t) got;
        line[used] = '\0';
        if (strchr(line, '\n'))
            break;
    }
    line[used] = '\0';
    char *nl = strchr(line, '\n');
    if (nl)
        *nl = '\0';
    return used > 0 ? TF_OK : TF_ERR_NOTFOUND;
}

#define S_MAX_SERVICES 64

/* A service this host's actor roles provide and how many of its workers 'up' waits for. */
typedef struct {
    char service[64];
    char actor[64];          /* the (first) actor that provides it, for the message */
    int64_t want;
} s_service_want_t;

/* The services of this host's actor roles with their instances (the supervisor runs exactly
   these). */
static size_t
s_wanted_services(tf_config_t *cfg, s_service_want_t *wants, size_t max)
{
    size_t n = 0;
    zlist_t *roles = tf_config_roles(cfg);
    for (const char *name = roles ? zlist_first(roles) : NULL; name; name = zlist_next(roles)) {
        char key[256];
        snprintf(key, sizeof key, "actors/%s/instances", name);
        int64_t instances = tf_config_role_is_actor(name) ? tf_config_int(cfg, key) : 0;
        if (instances <= 0)
            continue;
        const char *service = tf_config_actor_service(name);
        size_t i = 0;
        while (i < n && strcmp(wants[i].service, service) != 0)
            i++;
        if (i == n) {
            if (n == max)
                break;
            wants[n] = (s_service_want_t){.want = 0};
            snprintf(wants[n].service, sizeof wants[n].service, "%s", service);
            snprintf(wants[n].actor, sizeof wants[n].actor, "%s", name);
            n++;
        }
        wants[i].want += instances;
    }
    zlist_destroy(&roles);
    return n;
}

/* The first wanted service the broker's status shows with fewer workers of this host than
   configured (*have: how many it shows), or NULL when every one is there. Agents of other
   hosts register the same services: a worker counts when it registered from host (a worker
   row without a host, from a broker that does not record it, counts too). NULL status: none. */
static const s_service_want_t *
s_missing_workers(const tf_msg_status_t *status, const s_service_want_t *wants, size_t n,
                  const char *host, int64_t *have)
{
    for (size_t i = 0; i < n; i++) {
        *have = 0;
        for (size_t j = 0; status && j < status->workers_count; j++) {
            const tf_msg_worker_row_t *w = &status->workers[j];
            if (w->service && strcmp(w->service, wants[i].service) == 0
                && (!w->host || !*w->host || strcmp(w->host, host) == 0))
                (*have)++;
        }
        if (*have < wants[i].want)
            return &wants[i];
    }
    return NULL;
}

/* The first child that restarted S_CRASH_LOOP times or more since 'up' began, or NULL. */
static const upstate_child_t *
s_looping_child(upstate_t *state)
{
    for (size_t i = 0; state && i < upstate_size(state); i++)
        if (upstate_child(state, i)->restarts >= S_CRASH_LOOP)
            return upstate_child(state, i);
    return NULL;
}

/* Says on stderr why child bad keeps the stack from being up: it keeps crashing (looping) or
   did not stay up; with how it ended, its restarts, the last lines of its log and every other
   child with a problem. */
static void
s_report_bad_child(cli_t *cli, const upstate_child_t *bad, bool looping)
{
    char ran[32];
    /* A looping child may be running again just now: how long says nothing then. */
    bool running = !looping && strcmp(bad->state, "running") == 0;
    fprintf(stderr, "tapeflow up: the stack is not up: %s %s (%s, %" PRId64 " restart(s)%s%s); "
                    "see %s\n",
            bad->name, looping ? "keeps crashing" : "did not stay up",
            *bad->last_exit ? bad->last_exit : bad->state, bad->restarts,
            running ? ", running for " : "",
            running ? cli_duration(tf_clock_wall_ms() - bad->started_ms, ran, sizeof ran) : "",
            bad->log);
    s_print_log_tail(bad->log, stderr);
    s_print_children(cli->cfg, true, bad->name, stderr);
}

/* Waits until every child has run up/settle ms since its last start and the broker's status
   shows every actor role's service with this host's worker count (a child that runs but never
   registers, or crashes later, is not "up"). CLI_EXIT_FAIL, with the child, how it ended and
   the last lines of its log on stderr, when a child restarts S_CRASH_LOOP times meanwhile, the
   supervisor dies, or at the deadline - always with a message naming what is missing. */
static int
s_wait_settled(cli_t *cli, pid_t spid, tf_client_t *client)
{
    int64_t settle = tf_config_ms(cli->cfg, "up/settle");
    int64_t deadline = tf_clock_mono_ms() + settle + S_SETTLE_SLACK;
    const char *host = tf_config_str(cli->cfg, "tapeflow/host");
    char path[PATH_MAX];
    cli_state_path(cli->cfg, path, sizeof path);
    s_service_want_t wants[S_MAX_SERVICES];
    size_t nwants = s_wanted_services(cli->cfg, wants, S_MAX_SERVICES);
    for (;;) {
        tf_err_t load_err = {0};
        upstate_t *state = upstate_load(path, &load_err);
        int64_t now = tf_clock_wall_ms();
        bool settled = state != NULL && upstate_size(state) > 0;
        const upstate_child_t *looping = s_looping_child(state), *waiting = NULL;
        for (size_t i = 0; state && i < upstate_size(state); i++) {
            const upstate_child_t *c = upstate_child(state, i);
            if (strcmp(c->state, "running") != 0 || now - c->started_ms < settle) {
                settled = false;
                if (!waiting)
                    waiting = c;
            }
        }
        bool late = tf_clock_mono_ms() >= deadline;
        const upstate_child_t *bad = looping ? looping : late ? waiting : NULL;
        if (bad)
            s_report_bad_child(cli, bad, looping != NULL);
        /* Settled by the state file: the broker must also see every actor's workers. */
        const s_service_want_t *missing = NULL;
        int64_t have = 0;
        if (!bad && settled && nwants > 0) {
            tf_msg_t reply;
            memset(&reply, 0, sizeof reply);
            tf_err_t err = {0};
            bool answered = tf_client_status(client, &reply, 1000, &err) == TF_OK;
            missing = s_missing_workers(answered ? &reply.status : NULL, wants, nwants, host,
                                        &have);
            if (answered)
                tf_msg_clear(&reply);
            settled = missing == NULL;
        }
        if (!bad && !settled && late) {
            /* Never wait past the deadline without saying why. */
            const upstate_child_t *c = NULL;
            char child[80], waited[32];
            if (missing) {
                snprintf(child, sizeof child, "%s.1", missing->actor);
                c = state ? upstate_lookup(state, child) : NULL;
                fprintf(stderr, "tapeflow up: the stack is not up: the broker shows %" PRId64 " of %"
                                PRId64 " worker(s) of service %s (actor %s) from host %s after "
                                "%s; see %s\n",
                        have, missing->want, missing->service, missing->actor, host,
                        cli_duration(settle + S_SETTLE_SLACK, waited, sizeof waited),
                        c ? c->log : "the child logs");
                if (c)
                    s_print_log_tail(c->log, stderr);
                s_print_children(cli->cfg, true, NULL, stderr);
            }
            else
                fprintf(stderr, "tapeflow up: the stack is not up: state file unreadable: %s (%s)\n",
                        path, load_err.code ? load_err.message : "no children listed");
            upstate_destroy(&state);
            return CLI_EXIT_FAIL;
        }
        upstate_destroy(&state);
        if (bad)
            return CLI_EXIT_FAIL;
        if (settled)
            return CLI_EXIT_OK;
        if (!cli_pid_alive(spid)) {
            fprintf(stderr, "tapeflow up: the supervisor (pid %d) exited while starting\n", (int) spid);
            return CLI_EXIT_FAIL;
        }
        if (zsys_interrupted)
            return CLI_EXIT_FAIL;
        tf_clock_sleep_ms(100);
    }
}

/* A child of this host crash-looping while 'up' waits for the broker: reported (true) at once
   rather than after the broker's deadline. */
static bool
s_crash_loop_reported(cli_t *cli)
{
    char path[PATH_MAX];
    upstate_t *state = upstate_load(cli_state_path(cli->cfg, path, sizeof path), NULL);
    const upstate_child_t *looping = s_looping_child(state);
    if (looping)
        s_report_bad_child(cli, looping, true);
    upstate_destroy(&state);
    return looping != NULL;
}

/* After a failed start: the supervisor is still there, what to do about it. */
static void
s_print_keeps_running(long spid, const char *logdir)
{
    fprintf(stderr, "The supervisor (pid %ld) keeps running and restarting children; logs are in "
                    "%s (up.log and <child>.log). Fix the cause (the next restart picks it up) "
                    "or stop it with: tapeflow down\n", spid, logdir);
}

/* Parent side of --detach: wait for the daemon's report, then for the broker to answer and
   every child to settle. */
static int
s_wait_healthy(cli_t *cli, int report_fd, bool broker_here)
{
    char uplog[PATH_MAX], line[TF_ERR_MESSAGE_MAX + 64];
    const char *logdir = tf_config_get(cli->cfg, "tapeflow/log");
    cli_uplog_path(cli->cfg, uplog, sizeof uplog);
    int rc = s_read_report(report_fd, line, sizeof line, S_HEALTHY_WITHIN);
    if (rc != TF_OK) {
        fprintf(stderr, "tapeflow up: the background supervisor %s; see %s\n",
                rc == TF_ERR_TIMEOUT ? "did not report its start within 15 s"
                                     : "exited during start-up",
                uplog);
        return CLI_EXIT_FAIL;
    }
    if (strncmp(line, "error ", 6) == 0) {
        fprintf(stderr, "tapeflow up: %s\n(supervisor log: %s)\n", line + 6, uplog);
        return CLI_EXIT_FAIL;
    }
    long spid = strncmp(line, "ok ", 3) == 0 ? strtol(line + 3, NULL, 10) : 0;
    if (spid <= 0) {
        fprintf(stderr, "tapeflow up: unexpected start report '%s'; see %s\n", line, uplog);
        return CLI_EXIT_FAIL;
    }

    const char *endpoint = tf_config_get(cli->cfg, "broker/endpoint");
    tf_err_t err = {0};
    tf_client_t *client = tf_client_new(endpoint, &err);
    if (!client) {
        fprintf(stderr, "tapeflow up: %s\n", err.message);
        return CLI_EXIT_FAIL;
    }
    int64_t deadline = tf_clock_mono_ms() + S_HEALTHY_WITHIN;
    int exit_code = CLI_EXIT_FAIL;
    for (;;) {
        if (!cli_pid_alive((pid_t) spid)) {
            fprintf(stderr, "tapeflow up: the supervisor (pid %ld) exited while starting; see %s "
                            "and the child logs in %s\n", spid, uplog, logdir);
            break;
        }
        if (s_crash_loop_reported(cli)) {
            s_print_keeps_running(spid, logdir);
            break;
        }
        tf_msg_t reply;
        memset(&reply, 0, sizeof reply);
        if (tf_client_status(client, &reply, 500, &err) == TF_OK) {
            tf_msg_clear(&reply);
            /* The broker answers; "up" only once no child is crash-looping. */
            if (s_wait_settled(cli, (pid_t) spid, client) != CLI_EXIT_OK) {
                s_print_keeps_running(spid, logdir);
                break;
            }
            char path[PATH_MAX];
            upstate_t *state = upstate_load(cli_state_path(cli->cfg, path, sizeof path), NULL);
            printf("tapeflow up: supervisor pid %ld, log %s\n", spid, uplog);
            printf("tapeflow up: host %s runs %s\n", state ? upstate_host(state) : "?",
                   state ? upstate_roles(state) : "?");
            upstate_destroy(&state);
            s_print_children(cli->cfg, false, NULL, stdout);
            printf("tapeflow is up (broker %s%s)\n", endpoint,
                   broker_here ? "" : " on another host answers");
            exit_code = CLI_EXIT_OK;
            break;
        }
        if (zsys_interrupted) {
            fprintf(stderr, "tapeflow up: interrupted; the stack keeps starting in the background "
                            "(check: tapeflow status, stop: tapeflow down)\n");
            break;
        }
        if (tf_clock_mono_ms() >= deadline) {
            if (broker_here)
                fprintf(stderr, "tapeflow up: the stack did not become healthy within 15 s: the "
                                "broker did not answer at %s (%s)\n",
                        endpoint, tf_status_name(err.code));
            else
                fprintf(stderr, "tapeflow up: this host runs no broker (up/roles) and the broker "
                                "at %s did not answer within 15 s (%s): is the tape server up, "
                                "and are broker/endpoint and keys/server right?\n",
                        endpoint, tf_status_name(err.code));
            s_print_children(cli->cfg, true, NULL, stderr);
            fprintf(stderr,
                    "The supervisor (pid %ld) keeps running and restarting children; logs are in "
                    "%s (up.log and <child>.log). Stop it with: tapeflow down\n",
                    spid, logdir);
            break;
        }
    }
    tf_client_destroy(&client);
    return exit_code;
}

/* --detach: fork, setsid, fork; the grandchild supervises and reports its start on a pipe.
   Returns in the grandchild with *is_daemon set (the caller runs the supervisor). */
static int
s_detach(cli_t *cli, supervisor_t **sup_p, bool broker_here, bool *is_daemon, int *report_fd)
{
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0) {
        fprintf(stderr, "tapeflow up: cannot create a pipe: %s\n", strerror(errno));
        return CLI_EXIT_FAIL;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "tapeflow up: cannot fork: %s\n", strerror(errno));
        close(pfd[0]);
        close(pfd[1]);
        return CLI_EXIT_FAIL;
    }
    if (pid == 0) {
        close(pfd[0]);
        if (setsid() < 0)
            _exit(1);
        pid_t grandchild = fork();
        if (grandchild != 0)
            _exit(grandchild < 0 ? 1 : 0);
        char uplog[PATH_MAX];
        cli_uplog_path(cli->cfg, uplog, sizeof uplog);
        int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
        int out = open(uplog, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        if (in < 0 || out < 0 || dup2(in, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0
            || dup2(out, STDERR_FILENO) < 0) {
            dprintf(pfd[1], "error cannot open %s for the supervisor's log: %s\n", uplog,
                    strerror(errno));
            _exit(1);
        }
        close(in);
        close(out);
        *is_daemon = true;
        *report_fd = pfd[1];
        return CLI_EXIT_OK;
    }
    close(pfd[1]);
    supervisor_destroy(sup_p);   /* the parent only waits; the daemon has its own copy */
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    int rc = s_wait_healthy(cli, pfd[0], broker_here);
    close(pfd[0]);
    return rc;
}

int
cmd_up(cli_t *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"detach", no_argument, NULL, 'd'},
        {"json", no_argument, NULL, 'j'},   /* nothing to report as JSON; accepted like everywhere */
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool detach = false;
    int opt;
    cli_opt_begin();
    while ((opt = getopt_long(argc, argv, ":dh", options, NULL)) != -1) {
        switch (opt) {
        case 'd': detach = true; break;
        case 'j': break;
        case 'h': cli_help("up", stdout); return CLI_EXIT_OK;
        default: return cli_opt_error("up", opt, argc, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error("up", "up: unknown argument '%s'", argv[optind]);
    if (tf_config_overrides(cli->cfg) > 0)
        return cli_usage_error("up", "up: --set does not reach the programs 'up' starts (they "
                                     "read the config file); put the value in %s",
                               cli->config_path ? cli->config_path : "a config file (--config FILE)");
    if (s_make_folders(cli->cfg) != CLI_EXIT_OK)
        return CLI_EXIT_FAIL;
    /* Settings that still work but should change (up/actors), before anything starts. */
    zlist_t *warnings = zlist_new();
    if (warnings) {
        zlist_autofree(warnings);
        tf_config_warnings(cli->cfg, warnings);
        for (const char *w = zlist_first(warnings); w; w = zlist_next(warnings))
            fprintf(stderr, "tapeflow up: warning: %s\n", w);
        zlist_destroy(&warnings);
    }
    zlist_t *roles = tf_config_roles(cli->cfg);
    if (!roles) {
        fprintf(stderr, "tapeflow up: out of memory reading up/roles\n");
        return CLI_EXIT_FAIL;
    }
    bool broker_here = zlist_exists(roles, "broker");
    zlist_destroy(&roles);

    char pid_path[PATH_MAX], bindir[PATH_MAX];
    cli_pid_path(cli->cfg, pid_path, sizeof pid_path);
    pid_t other = cli_pidfile_live(pid_path);
    if (other > 0) {
        fprintf(stderr,
                "tapeflow up: tapeflow is already running (supervisor pid %d, pid file %s); "
                "see 'tapeflow status', stop it with 'tapeflow down'\n",
                (int) other, pid_path);
        return CLI_EXIT_FAIL;
    }
    tf_err_t err = {0};
    supervisor_t *sup = supervisor_new(cli->cfg, cli_bindir(bindir, sizeof bindir),
                                       cli->config_path, !detach, &err);
    if (!sup) {
        fprintf(stderr, "tapeflow up: %s\n", err.message);
        return CLI_EXIT_FAIL;
    }
    int report_fd = -1;
    if (detach) {
        bool is_daemon = false;
        int rc = s_detach(cli, &sup, broker_here, &is_daemon, &report_fd);
        if (!is_daemon) {
            supervisor_destroy(&sup);
            return rc;
        }
        tf_log_info("tapeflow up --detach: supervisor pid %d", (int) getpid());
    }
    int rc = supervisor_start(sup, &err);
    if (rc != TF_OK) {
        if (report_fd >= 0) {
            dprintf(report_fd, "error %s\n", err.message);
            close(report_fd);
        }
        if (detach)
            tf_log_error("%s", err.message);
        else
            fprintf(stderr, "tapeflow up: %s\n", err.message);
        supervisor_destroy(&sup);
        return CLI_EXIT_FAIL;
    }
    if (report_fd >= 0) {
        dprintf(report_fd, "ok %d\n", (int) getpid());
        close(report_fd);
    }
    rc = supervisor_run(sup);
    supervisor_destroy(&sup);
    return rc;
}
