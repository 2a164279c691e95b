/*  tapeflow - the command-line interface: global options and dispatch to one command. */
#define _GNU_SOURCE
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tf_log.h"
#ifdef TF_HAVE_CMD_DRIVE
#include "cli_labeller.h"
#include "cli_volume.h"
#include "cmd_drive.h"
#endif

#ifndef TAPEFLOW_VERSION
#define TAPEFLOW_VERSION "unknown"
#endif

typedef int (*s_command_fn)(cli_t *cli, int argc, char **argv);

static int
s_cmd_drive(cli_t *cli, int argc, char **argv)
{
#ifdef TF_HAVE_CMD_DRIVE
    if (!cli->json)
        return tf_cmd_drive(cli->cfg, cli_volume_may_destroy, argc, argv);
    /* --json given before the command: hand it on after the drive arguments. */
    char **args = calloc((size_t) argc + 2, sizeof *args);
    if (!args) {
        fprintf(stderr, "tapeflow: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    for (int i = 0; i < argc; i++)
        args[i] = argv[i];
    args[argc] = (char *) "--json";
    int rc = tf_cmd_drive(cli->cfg, cli_volume_may_destroy, argc + 1, args);
    free(args);
    return rc;
#else
    (void) cli;
    (void) argc;
    (void) argv;
    fprintf(stderr, "tapeflow drive: the drive layer is not built into this tapeflow; rebuild "
                    "with tools/tapeflow/cmd_drive.c present (issue 3)\n");
    return CLI_EXIT_FAIL;
#endif
}

static const struct {
    const char *name;
    s_command_fn fn;
    bool needs_config;
} s_commands[] = {
    {"up", cmd_up, true},
    {"down", cmd_down, true},
    {"status", cmd_status, true},
    {"events", cmd_events, true},
    {"drive", s_cmd_drive, true},
    /* needs_config false: loaded unchecked, so 'config check' can list every problem itself */
    {"config", cmd_config, false},
    /* Pipeline commands, each present once its cmd_<name>.c is (see CMakeLists.txt). */
#ifdef TF_HAVE_CMD_BACKUP
    {"backup", cmd_backup, true},
#endif
#ifdef TF_HAVE_CMD_RESTORE
    {"restore", cmd_restore, true},
#endif
#ifdef TF_HAVE_CMD_JOBS
    {"jobs", cmd_jobs, true},
    {"job", cmd_job, true},
#endif
#ifdef TF_HAVE_CMD_TAPE
    {"tape", cmd_tape, true},
#endif
#ifdef TF_HAVE_CMD_CHANGER
    {"changer", cmd_changer_labelled, true},   /* cli_labeller.c: inventory, then cmd_changer */
#endif
};

int
main(int argc, char **argv)
{
    const char *config_arg = NULL;
    bool json = false;
    const char *sets[32];   /* --set KEY=VALUE, applied after the file */
    size_t nsets = 0;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            cli_usage(stdout);
            return CLI_EXIT_OK;
        }
        if (strcmp(arg, "--version") == 0) {
            printf("tapeflow %s\n", TAPEFLOW_VERSION);
            return CLI_EXIT_OK;
        }
        if (strcmp(arg, "--json") == 0)
            json = true;
        else if (strcmp(arg, "--config") == 0 || strcmp(arg, "-c") == 0) {
            if (i + 1 >= argc)
                return cli_usage_error(NULL, "--config needs a file");
            config_arg = argv[++i];
        }
        else if (strncmp(arg, "--config=", 9) == 0)
            config_arg = arg + 9;
        else if (strcmp(arg, "--set") == 0 || strncmp(arg, "--set=", 6) == 0) {
            const char *kv = arg[5] == '=' ? arg + 6 : i + 1 < argc ? argv[++i] : NULL;
            if (!kv || !strchr(kv, '='))
                return cli_usage_error(NULL, "--set needs KEY=VALUE, e.g. --set broker/liveness=5");
            if (nsets == sizeof sets / sizeof sets[0])
                return cli_usage_error(NULL, "too many --set options (at most 32)");
            sets[nsets++] = kv;
        }
        else
            return cli_usage_error(NULL, "unknown option '%s'", arg);
    }
    if (i >= argc)
        return cli_usage_error(NULL, "no command given");
    const char *command = argv[i];
    if (strcmp(command, "help") == 0) {
        if (i + 1 >= argc) {
            cli_usage(stdout);
            return CLI_EXIT_OK;
        }
        if (!cli_help(argv[i + 1], stdout))
            return cli_usage_error(NULL, "no such command '%s'", argv[i + 1]);
        return CLI_EXIT_OK;
    }
    if (strcmp(command, "version") == 0) {
        printf("tapeflow %s\n", TAPEFLOW_VERSION);
        return CLI_EXIT_OK;
    }
    s_command_fn fn = NULL;
    bool checked = true;
    for (size_t k = 0; k < sizeof s_commands / sizeof s_commands[0]; k++)
        if (strcmp(s_commands[k].name, command) == 0) {
            fn = s_commands[k].fn;
            checked = s_commands[k].needs_config;
        }
    if (!fn)
        return cli_usage_error(NULL, "unknown command '%s'", command);

    tf_err_t err = {0};
    tf_config_t *cfg = checked ? tf_config_open(config_arg, &err) : tf_config_load(config_arg, &err);
    if (!cfg) {
        fprintf(stderr, "tapeflow: %s\n", err.message);
        return CLI_EXIT_FAIL;
    }
    for (size_t k = 0; k < nsets; k++) {
        char key[256];
        const char *eq = strchr(sets[k], '=');
        snprintf(key, sizeof key, "%.*s", (int) (eq - sets[k]), sets[k]);
        if (tf_config_override(cfg, key, eq + 1, &err) != TF_OK) {
            tf_config_destroy(&cfg);
            return cli_usage_error(NULL, "--set %s: %s", sets[k], err.message);
        }
    }
    /* Children and the detached supervisor may run elsewhere: hand them an absolute path. */
    char config_abs[PATH_MAX];
    const char *config_path = tf_config_file(cfg);
    if (config_path && realpath(config_path, config_abs))
        config_path = config_abs;
    tf_log_init("tapeflow", tf_log_level_parse(tf_config_get(cfg, "tapeflow/log_level")));

    cli_t cli = {.cfg = cfg, .config_path = config_path, .json = json};
    int rc = fn(&cli, argc - i, argv + i);
    tf_config_destroy(&cfg);
    return rc;
}
