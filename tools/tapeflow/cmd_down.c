/*  tapeflow down - stop the supervisor started by `tapeflow up`. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_opt.h"
#include "tf_clock.h"

int
cmd_down(cli_t *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"json", no_argument, NULL, 'j'},   /* nothing to report as JSON; accepted like everywhere */
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    cli_opt_begin();
    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
        case 'j': break;
        case 'h': cli_help("down", stdout); return CLI_EXIT_OK;
        default: return cli_opt_error("down", opt, argc, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error("down", "down: unknown argument '%s'", argv[optind]);
    char pid_path[PATH_MAX], uplog[PATH_MAX];
    cli_pid_path(cli->cfg, pid_path, sizeof pid_path);
    cli_uplog_path(cli->cfg, uplog, sizeof uplog);
    pid_t pid = cli_pidfile_live(pid_path);
    if (pid <= 0) {
        printf("tapeflow is not running (no live supervisor in %s)\n", pid_path);
        return CLI_EXIT_OK;
    }
    if (kill(pid, SIGTERM) != 0) {
        fprintf(stderr, "tapeflow down: cannot signal the supervisor (pid %d): %s%s\n", (int) pid,
                strerror(errno), errno == EPERM ? "; run as the user who started it" : "");
        return CLI_EXIT_FAIL;
    }
    int64_t wait_ms = tf_config_ms(cli->cfg, "up/stop_timeout") + 5000;
    int64_t deadline = tf_clock_mono_ms() + wait_ms;
    while (cli_pid_alive(pid)) {
        if (tf_clock_mono_ms() >= deadline) {
            char took[32];
            fprintf(stderr,
                    "tapeflow down: the supervisor (pid %d) did not stop within %s; see %s. "
                    "Kill it with: kill -9 %d (its children get SIGTERM when it dies)\n",
                    (int) pid, cli_duration(wait_ms, took, sizeof took), uplog, (int) pid);
            return CLI_EXIT_FAIL;
        }
        tf_clock_sleep_ms(50);
    }
    printf("stopped\n");
    return CLI_EXIT_OK;
}
