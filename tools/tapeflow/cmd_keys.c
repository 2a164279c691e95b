/*  tapeflow keys init|show|trust|untrust|list - this host's CURVE certificate and the peers it
    trusts (common/tf_keys.h; docs/security.md). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_opt.h"
#include "tf_json.h"
#include "tf_keys.h"
#include "tf_secure.h"

static void
s_usage(FILE *out)
{
    cli_help("keys", out);
}

/* --json and --help only; the operands left start at optind. */
static int
s_parse_plain(cli_t *cli, const char *command, int argc, char **argv, bool *json)
{
    static const struct option options[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *json = cli->json;
    int opt;
    cli_opt_begin();
    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
        case 'j': *json = true; break;
        case 'h': s_usage(stdout); return CLI_EXIT_OK;
        default: return cli_opt_error(command, opt, argc, argv);
        }
    }
    return -1;
}

static int
s_no_operands(const char *command, int argc, char **argv)
{
    if (optind < argc)
        return cli_usage_error("keys", "%s: unexpected argument '%s'", command, argv[optind]);
    return -1;
}

static int
s_print_key_json(cli_t *cli, const char *public_key)
{
    tf_json_t *j = tf_json_new();
    if (!j)
        return CLI_EXIT_FAIL;
    tf_json_document_begin(j);
    tf_json_str(j, "host", tf_config_get(cli->cfg, "tapeflow/host"));
    tf_json_str(j, "public_key", public_key);
    char dir[1024];
    tf_json_str(j, "dir", tf_keys_path(cli->cfg, "", dir, sizeof dir));
    tf_json_object_end(j);
    int rc = tf_json_print(j, stdout);
    tf_json_destroy(&j);
    return rc == TF_OK ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

static int
s_cmd_init(cli_t *cli, int argc, char **argv)
{
    bool json;
    int rc = s_parse_plain(cli, "keys init", argc, argv, &json);
    if (rc >= 0 || (rc = s_no_operands("keys init", argc, argv)) >= 0)
        return rc;
    bool created;
    char public_key[41];
    tf_err_t err = {0};
    if (tf_keys_init(cli->cfg, &created, public_key, &err) != TF_OK) {
        fprintf(stderr, "tapeflow keys init: %s\n", err.message);
        return CLI_EXIT_FAIL;
    }
    if (json)
        return s_print_key_json(cli, public_key);
    char dir[1024];
    printf("%s %s: %s\n", created ? "created the CURVE certificate of" : "keeping the CURVE certificate of",
           tf_config_get(cli->cfg, "tapeflow/host"), tf_keys_path(cli->cfg, "", dir, sizeof dir));
    printf("public key: %s\n", public_key);
    printf("trust it on the tape server with: tapeflow keys trust %s %s --role ROLE\n",
           tf_config_get(cli->cfg, "tapeflow/host"), public_key);
    return CLI_EXIT_OK;
}

static int
s_cmd_show(cli_t *cli, int argc, char **argv)
{
    bool json;
    int rc = s_parse_plain(cli, "keys show", argc, argv, &json);
    if (rc >= 0 || (rc = s_no_operands("keys show", argc, argv)) >= 0)
        return rc;
    char public_key[41];
    tf_err_t err = {0};
    if (tf_secure_public_key(cli->cfg, public_key, &err) != TF_OK) {
        fprintf(stderr, "tapeflow keys show: %s\n", err.message);
        return CLI_EXIT_FAIL;
    }
    if (json)
        return s_print_key_json(cli, public_key);
    printf("%s\n", public_key);
    return CLI_EXIT_OK;
}

static int
s_trust(cli_t *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"role", required_argument, NULL, 'r'},
        {"restore-root", required_argument, NULL, 'R'},
        {"host", required_argument, NULL, 'H'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    tf_key_t key = {0};
    char roles[512] = "";
    tf_err_t err = {0};
    int opt;
    cli_opt_begin();
    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
        case 'r': {
            size_t used = strlen(roles);
            snprintf(roles + used, sizeof roles - used, "%s%s", used ? "," : "", optarg);
            break;
        }
        case 'R':
            if (tf_keys_add_root(&key, optarg, &err) != TF_OK)
                return cli_usage_error("keys", "keys trust: %s", err.message);
            break;
        case 'H':
            /* Host names follow the key name rules (letters, digits, '.', '_', '-'). */
            if (tf_keys_check_name(optarg, &err) != TF_OK)
                return cli_usage_error("keys", "keys trust --host: %s", err.message);
            snprintf(key.host, sizeof key.host, "%s", optarg);
            break;
        case 'h': s_usage(stdout); return CLI_EXIT_OK;
        default: return cli_opt_error("keys trust", opt, argc, argv);
        }
    }
    if (argc - optind != 2)
        return cli_usage_error("keys", "keys trust needs NAME and PUBLIC-KEY (the peer's `tapeflow keys show`)");
    if (!roles[0])
        return cli_usage_error("keys", "keys trust needs --role (e.g. --role agent, --role query, --role server)");
    if (tf_keys_parse_roles(roles, &key.roles, &err) != TF_OK)
        return cli_usage_error("keys", "keys trust: %s", err.message);
    snprintf(key.name, sizeof key.name, "%s", argv[optind]);
    if (tf_keys_check_name(argv[optind], &err) != TF_OK || tf_keys_check_public(argv[optind + 1], &err) != TF_OK)
        return cli_usage_error("keys", "keys trust: %s", err.message);
    snprintf(key.public_key, sizeof key.public_key, "%s", argv[optind + 1]);
    if (tf_keys_trust(cli->cfg, &key, &err) != TF_OK) {
        fprintf(stderr, "tapeflow keys trust: %s\n", err.message);
        return CLI_EXIT_FAIL;
    }
    char text[256];
    printf("trusted %s (host %s) with roles %s%s (running processes pick it up at its next connection)\n",
           key.name, key.host[0] ? key.host : key.name, tf_keys_roles_text(key.roles, text, sizeof text),
           key.nroots ? " and restore roots" : "");
    return CLI_EXIT_OK;
}

static int
s_cmd_untrust(cli_t *cli, int argc, char **argv)
{
    bool json;
    int rc = s_parse_plain(cli, "keys untrust", argc, argv, &json);
    if (rc >= 0)
        return rc;
    if (argc - optind != 1)
        return cli_usage_error("keys", "keys untrust needs the NAME of a trusted key (tapeflow keys list)");
    tf_err_t err = {0};
    if (tf_keys_untrust(cli->cfg, argv[optind], &err) != TF_OK) {
        fprintf(stderr, "tapeflow keys untrust: %s\n", err.message);
        return CLI_EXIT_FAIL;
    }
    if (json) {
        tf_json_t *j = tf_json_new();
        if (!j)
            return CLI_EXIT_FAIL;
        tf_json_document_begin(j);
        tf_json_str(j, "untrusted", argv[optind]);
        tf_json_object_end(j);
        rc = tf_json_print(j, stdout) == TF_OK ? CLI_EXIT_OK : CLI_EXIT_FAIL;
        tf_json_destroy(&j);
        return rc;
    }
    printf("%s is no longer trusted: the broker refuses it from its next message; its bus and stager "
           "connections already open stay until they reconnect (restart those services to cut them)\n",
           argv[optind]);
    return CLI_EXIT_OK;
}

static int
s_cmd_list(cli_t *cli, int argc, char **argv)
{
    bool json;
    int rc = s_parse_plain(cli, "keys list", argc, argv, &json);
    if (rc >= 0 || (rc = s_no_operands("keys list", argc, argv)) >= 0)
        return rc;
    tf_err_t err = {0};
    zlistx_t *keys = tf_keys_list(cli->cfg, &err);
    if (!keys) {
        fprintf(stderr, "tapeflow keys list: %s\n", err.message);
        return CLI_EXIT_FAIL;
    }
    char roles[256];
    rc = CLI_EXIT_OK;
    if (json) {
        tf_json_t *j = tf_json_new();
        if (!j) {
            zlistx_destroy(&keys);
            return CLI_EXIT_FAIL;
        }
        tf_json_document_begin(j);
        tf_json_array_begin(j, "keys");
        for (tf_key_t *k = zlistx_first(keys); k; k = zlistx_next(keys)) {
            tf_json_object_begin(j, NULL);
            tf_json_str(j, "name", k->name);
            tf_json_str(j, "host", k->host);
            tf_json_str(j, "public_key", k->public_key);
            tf_json_str(j, "roles", tf_keys_roles_text(k->roles, roles, sizeof roles));
            tf_json_array_begin(j, "restore_roots");
            for (size_t i = 0; i < k->nroots; i++)
                tf_json_str(j, NULL, k->roots[i]);
            tf_json_array_end(j);
            tf_json_object_end(j);
        }
        tf_json_array_end(j);
        tf_json_object_end(j);
        rc = tf_json_print(j, stdout) == TF_OK ? CLI_EXIT_OK : CLI_EXIT_FAIL;
        tf_json_destroy(&j);
    }
    else if (zlistx_size(keys) == 0)
        printf("no trusted keys (tapeflow keys init trusts this host's own)\n");
    else
        for (tf_key_t *k = zlistx_first(keys); k; k = zlistx_next(keys)) {
            printf("%-20s %s  %s  host %s", k->name, k->public_key,
                   tf_keys_roles_text(k->roles, roles, sizeof roles), k->host);
            for (size_t i = 0; i < k->nroots; i++)
                printf("%s%s", i ? "," : "  restore roots: ", k->roots[i]);
            printf("\n");
        }
    zlistx_destroy(&keys);
    return rc;
}

/* A Z85 public key may start with '-' ("-Lq3..."): getopt would take it for options. Such an
   argument (a whole valid key) is moved behind "--", after the other operands, so operators can
   paste keys as they are. Returns the new argc; args has room for argc + 2. */
static int
s_keys_behind_dashes(int argc, char **argv, char **args)
{
    int n = 0;
    char *key = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            while (i < argc)
                args[n++] = argv[i++];
            break;
        }
        if (i > 0 && !key && argv[i][0] == '-' && tf_keys_check_public(argv[i], NULL) == TF_OK)
            key = argv[i];
        else
            args[n++] = argv[i];
    }
    if (key) {
        args[n++] = "--";
        args[n++] = key;
    }
    args[n] = NULL;
    return n;
}

static int
s_cmd_trust(cli_t *cli, int argc, char **argv_in)
{
    char **argv = calloc((size_t) argc + 3, sizeof *argv);
    if (!argv)
        return CLI_EXIT_FAIL;
    argc = s_keys_behind_dashes(argc, argv_in, argv);
    int rc = s_trust(cli, argc, argv);
    free(argv);
    return rc;
}

const cli_verb_t cli_keys_verbs[] = {
    {"init", s_cmd_init},
    {"show", s_cmd_show},
    {"trust", s_cmd_trust},
    {"untrust", s_cmd_untrust},
    {"list", s_cmd_list},
    {NULL, NULL},
};

int
cmd_keys(cli_t *cli, int argc, char **argv)
{
    return cli_verb_run(cli, "keys", cli_keys_verbs, s_usage, argc, argv);
}
