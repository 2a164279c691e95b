/*  tapeflow config check [FILE] | show [--json] | keys [--json] - the configuration as tapeflow
    reads it (issue 8 item 12).

    check   every problem of a file (unknown keys, values out of range, schedules the scheduler
            would not run), one per line with the file and line where known; exit 0 when
            there is none, 1 otherwise. Warnings (deprecated keys
            that still work, such as up/actors) are listed too and do not fail the check.
    show    the effective value of every key and where it comes from: default, FILE:LINE,
            override (--set) or environment.
    keys    the key table itself: type, default, allowed values, help.
*/
#define _GNU_SOURCE
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_opt.h"
#include "tf_json.h"
#include "tf_schedule.h"


static int
s_print_json(tf_json_t *j)
{
    const char *text = tf_json_text(j);
    if (!text) {
        fprintf(stderr, "tapeflow config: out of memory building JSON\n");
        return CLI_EXIT_FAIL;
    }
    printf("%s\n", text);
    return CLI_EXIT_OK;
}

/* Appends to problems what tf_schedule_new finds wrong in each schedule (the scheduler would
   not run it); returns how many. */
static size_t
s_check_schedules(tf_config_t *cfg, zlist_t *problems)
{
    size_t n = 0;
    zlist_t *names = tf_schedule_names(cfg);
    for (const char *name = names ? zlist_first(names) : NULL; name; name = zlist_next(names)) {
        tf_err_t err = {0};
        tf_schedule_t *s = tf_schedule_new(cfg, name, &err);
        if (s) {
            tf_schedule_destroy(&s);
            continue;
        }
        char line[TF_ERR_MESSAGE_MAX + 256];
        snprintf(line, sizeof line, "schedule %s is not run: %s", name, err.message);
        if (zlist_append(problems, line) == 0)
            n++;
    }
    zlist_destroy(&names);
    return n;
}

static int
s_check(cli_t *cli, const char *file, bool json)
{
    tf_config_t *own = NULL;
    tf_config_t *cfg = cli->cfg;
    if (file) {
        tf_err_t err = {0};
        own = tf_config_load(file, &err);
        if (!own) {
            if (json) {
                tf_json_t *j = tf_json_new();
                tf_json_document_begin(j);
                tf_json_str(j, "file", file);
                tf_json_bool(j, "ok", false);
                tf_json_array_begin(j, "problems");
                tf_json_str(j, NULL, err.message);
                tf_json_array_end(j);
                tf_json_object_end(j);
                s_print_json(j);
                tf_json_destroy(&j);
            }
            else
                fprintf(stderr, "tapeflow config check: %s\n", err.message);
            return CLI_EXIT_FAIL;
        }
        cfg = own;
    }
    zlist_t *problems = zlist_new();
    zlist_t *warnings = zlist_new();
    if (!problems || !warnings) {
        zlist_destroy(&problems);
        zlist_destroy(&warnings);
        tf_config_destroy(&own);
        return CLI_EXIT_FAIL;
    }
    zlist_autofree(problems);
    zlist_autofree(warnings);
    size_t n = tf_config_check(cfg, problems);
    n += s_check_schedules(cfg, problems);
    size_t nwarn = tf_config_warnings(cfg, warnings);
    const char *path = tf_config_file(cfg);
    int rc = n ? CLI_EXIT_FAIL : CLI_EXIT_OK;
    if (json) {
        tf_json_t *j = tf_json_new();
        tf_json_document_begin(j);
        tf_json_str(j, "file", path);
        tf_json_bool(j, "ok", n == 0);
        tf_json_array_begin(j, "problems");
        for (const char *p = zlist_first(problems); p; p = zlist_next(problems))
            tf_json_str(j, NULL, p);
        tf_json_array_end(j);
        tf_json_array_begin(j, "warnings");
        for (const char *w = zlist_first(warnings); w; w = zlist_next(warnings))
            tf_json_str(j, NULL, w);
        tf_json_array_end(j);
        tf_json_object_end(j);
        if (s_print_json(j) != CLI_EXIT_OK)
            rc = CLI_EXIT_FAIL;
        tf_json_destroy(&j);
    }
    else {
        for (const char *p = zlist_first(problems); p; p = zlist_next(problems))
            printf("%s\n", p);
        for (const char *w = zlist_first(warnings); w; w = zlist_next(warnings))
            printf("warning: %s\n", w);
        if (!path)
            printf("no config file: built-in defaults only (TAPEFLOW_CONFIG, --config or "
                   "/etc/tapeflow/tapeflow.cfg name one)\n");
        else if (n)
            printf("%s: %zu problem%s; fix %s, then run 'tapeflow config check' again\n", path, n,
                   n == 1 ? "" : "s", n == 1 ? "it" : "them");
        else
            printf("%s: ok%s\n", path, nwarn ? " (see the warnings above)" : "");
    }
    zlist_destroy(&problems);
    zlist_destroy(&warnings);
    tf_config_destroy(&own);
    return rc;
}

static int
s_show(cli_t *cli, bool json)
{
    zlist_t *keys = tf_config_effective_keys(cli->cfg);
    if (!keys) {
        fprintf(stderr, "tapeflow config show: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    int rc = CLI_EXIT_OK;
    tf_json_t *j = json ? tf_json_new() : NULL;
    if (j) {
        tf_json_document_begin(j);
        tf_json_str(j, "file", tf_config_file(cli->cfg));
        tf_json_array_begin(j, "keys");
    }
    else
        printf("# config file: %s\n%-40s %-44s %s\n",
               tf_config_file(cli->cfg) ? tf_config_file(cli->cfg) : "none (built-in defaults)",
               "KEY", "VALUE", "SOURCE");
    for (const char *key = zlist_first(keys); key; key = zlist_next(keys)) {
        const tf_config_key_t *row = tf_config_lookup(key);
        const char *value = tf_config_get(cli->cfg, key);
        char source[PATH_MAX + 32];
        tf_config_source(cli->cfg, key, source, sizeof source);
        if (j) {
            tf_json_object_begin(j, NULL);
            tf_json_str(j, "key", key);
            tf_json_str(j, "value", value);
            tf_json_str(j, "source", source);
            tf_json_str(j, "type", row ? tf_config_type_name(row->type) : NULL);
            tf_json_str(j, "default", row ? row->value : NULL);
            tf_json_str(j, "help", row ? row->help : NULL);
            tf_json_object_end(j);
        }
        else
            printf("%-40s %-44s %s\n", key, value ? value : "(unset)", source);
    }
    if (j) {
        tf_json_array_end(j);
        tf_json_object_end(j);
        rc = s_print_json(j);
        tf_json_destroy(&j);
    }
    zlist_destroy(&keys);
    return rc;
}

static int
s_keys(bool json)
{
    tf_json_t *j = json ? tf_json_new() : NULL;
    if (j) {
        tf_json_document_begin(j);
        tf_json_array_begin(j, "keys");
    }
    for (size_t i = 0; tf_config_keys(i); i++) {
        const tf_config_key_t *row = tf_config_keys(i);
        char allowed[256];
        tf_config_allowed(row, allowed, sizeof allowed);
        if (j) {
            tf_json_object_begin(j, NULL);
            tf_json_str(j, "key", row->key);
            tf_json_str(j, "type", tf_config_type_name(row->type));
            tf_json_str(j, "default", row->value);
            tf_json_str(j, "allowed", allowed);
            tf_json_str(j, "help", row->help);
            tf_json_object_end(j);
        }
        else
            printf("%s (%s, default %s): %s; %s\n", row->key, tf_config_type_name(row->type),
                   row->value ? (*row->value ? row->value : "\"\"") : "unset", row->help, allowed);
    }
    int rc = CLI_EXIT_OK;
    if (j) {
        tf_json_array_end(j);
        tf_json_object_end(j);
        rc = s_print_json(j);
        tf_json_destroy(&j);
    }
    return rc;
}

/* --json and --help, and at most max_operands words (into operand). Returns -1 to go on, else
   the exit status. */
static int
s_parse(cli_t *cli, const char *command, int argc, char **argv, int max_operands, bool *json,
        const char **operand)
{
    static const struct option options[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *json = cli->json;
    int opt;
    cli_opt_begin();
    while ((opt = getopt_long(argc, argv, ":jh", options, NULL)) != -1) {
        switch (opt) {
        case 'j': *json = true; break;
        case 'h': cli_help("config", stdout); return CLI_EXIT_OK;
        default: return cli_opt_error(command, opt, argc, argv);
        }
    }
    if (max_operands > 0 && optind < argc)
        *operand = argv[optind++];
    if (optind < argc)
        return cli_usage_error("config", "%s: unexpected argument '%s'", command, argv[optind]);
    return -1;
}

static int
s_cmd_check(cli_t *cli, int argc, char **argv)
{
    bool json = false;
    const char *file = NULL;
    int rc = s_parse(cli, "config check", argc, argv, 1, &json, &file);
    return rc >= 0 ? rc : s_check(cli, file, json);
}

static int
s_cmd_show(cli_t *cli, int argc, char **argv)
{
    bool json = false;
    int rc = s_parse(cli, "config show", argc, argv, 0, &json, NULL);
    return rc >= 0 ? rc : s_show(cli, json);
}

static int
s_cmd_keys(cli_t *cli, int argc, char **argv)
{
    bool json = false;
    int rc = s_parse(cli, "config keys", argc, argv, 0, &json, NULL);
    return rc >= 0 ? rc : s_keys(json);
}

const cli_verb_t cli_config_verbs[] = {
    {"check", s_cmd_check},
    {"show", s_cmd_show},
    {"keys", s_cmd_keys},
    {NULL, NULL},
};

static void
s_usage(FILE *out)
{
    cli_help("config", out);
}

int
cmd_config(cli_t *cli, int argc, char **argv)
{
    return cli_verb_run(cli, "config", cli_config_verbs, s_usage, argc, argv);
}
