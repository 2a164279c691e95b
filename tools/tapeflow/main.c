/*  tapeflow - the command-line interface: global options and dispatch to one command. */
#define _GNU_SOURCE
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_opt.h"
#include "tf_log.h"

#ifndef TAPEFLOW_VERSION
#define TAPEFLOW_VERSION "unknown"
#endif

/* `tapeflow help [COMMAND | --list]` */
static int
s_help(int argc, char **argv)
{
    if (argc < 2) {
        cli_usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "--list") == 0) {
        cli_command_list(stdout);
        return CLI_EXIT_OK;
    }
    if (!cli_help(argv[1], stdout))
        return cli_usage_error(NULL, "no such command '%s'", argv[1]);
    return CLI_EXIT_OK;
}

int
main(int argc, char **argv)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"set", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_arg = NULL;
    bool json = false;
    const char *sets[32];   /* --set KEY=VALUE, applied after the file */
    size_t nsets = 0;
    int opt;
    cli_opt_begin();
    /* '+': the options before the command are tapeflow's; the rest are the command's. */
    while ((opt = getopt_long(argc, argv, "+:c:h", options, NULL)) != -1) {
        switch (opt) {
        case 'c': config_arg = optarg; break;
        case 'j': json = true; break;
        case 'V': printf("tapeflow %s\n", TAPEFLOW_VERSION); return CLI_EXIT_OK;
        case 'h': cli_usage(stdout); return CLI_EXIT_OK;
        case 's':
            if (!strchr(optarg, '='))
                return cli_usage_error(NULL, "--set needs KEY=VALUE, e.g. --set broker/liveness=5");
            if (nsets == sizeof sets / sizeof sets[0])
                return cli_usage_error(NULL, "too many --set options (at most 32)");
            sets[nsets++] = optarg;
            break;
        default: return cli_opt_error(NULL, opt, argc, argv);
        }
    }
    int i = optind;
    if (i >= argc)
        return cli_usage_error(NULL, "no command given");
    const char *command = argv[i];
    if (strcmp(command, "help") == 0)
        return s_help(argc - i, argv + i);
    if (strcmp(command, "version") == 0) {
        printf("tapeflow %s\n", TAPEFLOW_VERSION);
        return CLI_EXIT_OK;
    }
    const cli_command_t *entry = cli_command_find(command);
    if (!entry)
        return cli_usage_error(NULL, "unknown command '%s'", command);
    bool checked = entry->needs_config;

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
    int rc = entry->fn(&cli, argc - i, argv + i);
    tf_config_destroy(&cfg);
    return rc;
}
