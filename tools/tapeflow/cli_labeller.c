/*  cli_labeller - changer inventory, tape label --barcodes, tape list's locations (see
    cli_labeller.h). */
#include "cli_labeller.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_opt.h"
#include "cmd_changer.h"
#include "tf_client.h"
#include "tf_clock.h"
#include "tf_json.h"

/* How long the CLI waits for the labeller's answer to a query (an element status, a move):
   --timeout of changer inventory overrides it. */
#define S_QUERY_TIMEOUT_MS 120000
/* How long tape label --barcodes waits for one cartridge (a load, a label read and write, an
   unload): --timeout overrides it. */
#define S_LABEL_TIMEOUT_MS 600000

/* Asks the labeller (service labeller) one lab_query. */
static int
s_query(tf_config_t *cfg, const char *op, const char *changer, int timeout_ms, tf_msg_t *reply, tf_err_t *err)
{
    memset(reply, 0, sizeof *reply);
    tf_client_t *client = tf_client_new(tf_config_get(cfg, "broker/endpoint"), err);
    if (!client)
        return err->code;
    tf_msg_t msg = {.type = TF_MSG_LAB_QUERY};
    msg.lab_query = (tf_msg_lab_query_t){.op = (char *) op, .changer = (char *) changer};
    int rc = tf_client_call(client, "labeller", NULL, NULL, &msg, reply, timeout_ms, err);
    tf_client_destroy(&client);
    if (rc == TF_OK && reply->type != TF_MSG_LAB_REPLY) {
        tf_msg_clear(reply);
        rc = tf_err_set(err, TF_ERR_PROTO, "the labeller answered with %s, not lab_reply",
                        tf_msg_type_name(reply->type));
    }
    return rc;
}

/* Whether a labeller serves now (an item for nobody would wait in the broker's queue):
   TF_OK with *running, or the broker could not be asked. */
static int
s_labeller_running(tf_config_t *cfg, int timeout_ms, bool *running, tf_err_t *err)
{
    *running = false;
    tf_client_t *client = tf_client_new(tf_config_get(cfg, "broker/endpoint"), err);
    if (!client)
        return err->code;
    tf_msg_t status;
    int rc = tf_client_status(client, &status, timeout_ms, err);
    tf_client_destroy(&client);
    if (rc != TF_OK)
        return rc;
    for (size_t i = 0; status.type == TF_MSG_STATUS && i < status.status.services_count; i++)
        *running = *running || (strcmp(status.status.services[i].name, "labeller") == 0
                                && status.status.services[i].workers > 0);
    tf_msg_clear(&status);
    return TF_OK;
}

int
cli_labeller_list(tf_config_t *cfg, int timeout_ms, tf_msg_t *reply, tf_err_t *err)
{
    memset(reply, 0, sizeof *reply);
    bool running = false;
    if (s_labeller_running(cfg, timeout_ms, &running, err) != TF_OK)
        return err->code;
    if (!running)
        return tf_err_set(err, TF_ERR_NOTFOUND, "no labeller is running (up/roles)");
    return s_query(cfg, "list", NULL, timeout_ms, reply, err);
}

const tf_msg_cartridge_row_t *
cli_labeller_find(const tf_msg_t *reply, const char *label)
{
    if (!reply || reply->type != TF_MSG_LAB_REPLY || !label)
        return NULL;
    const tf_msg_cartridge_row_t *by_barcode = NULL;
    for (size_t i = 0; i < reply->lab_reply.cartridges_count; i++) {
        const tf_msg_cartridge_row_t *c = &reply->lab_reply.cartridges[i];
        if (c->label && strcmp(c->label, label) == 0)
            return c;
        if (strcmp(c->barcode, label) == 0)
            by_barcode = c;
    }
    return by_barcode;
}

static void
s_print_json(tf_json_t *j)
{
    const char *text = tf_json_text(j);
    printf("%s\n", text ? text : "{}");
}

static int
s_fail_json(bool json, const char *command, const char *what, const tf_err_t *err)
{
    if (json) {
        tf_json_t *j = tf_json_new();
        if (j) {
            tf_json_document_begin(j);
            tf_json_bool(j, "ok", false);
            tf_json_str(j, "error", err->message);
            tf_json_str(j, "code", tf_status_name(err->code));
            tf_json_object_end(j);
            s_print_json(j);
            tf_json_destroy(&j);
        }
    }
    fprintf(stderr, "tapeflow %s: %s%s%s\n", command, what, what[0] ? ": " : "", err->message);
    return CLI_EXIT_FAIL;
}

/* --- changer inventory ------------------------------------------------------------------ */

static void
s_inventory_usage(FILE *out)
{
    fprintf(out,
            "usage: tapeflow changer inventory CHANGER [--json] [--timeout SECONDS]\n"
            "The labeller reads the changer's element status with barcodes (READ ELEMENT STATUS;\n"
            "no tape is loaded), updates its inventory and shows every cartridge: where it is,\n"
            "and what a tape writer last read on it (unknown: never read yet). Needs the stack\n"
            "running (the labeller owns the changer).\n");
}

int
cmd_changer_inventory(cli_t *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"json", no_argument, NULL, 'j'},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            s_inventory_usage(stdout);
            return CLI_EXIT_OK;
        }
    bool json = cli->json;
    int64_t timeout_ms = S_QUERY_TIMEOUT_MS;
    int opt;
    cli_opt_begin();
    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
        case 'j': json = true; break;
        case 't':
            if (cli_opt_seconds("changer", "--timeout", optarg, 1, 86400 * 1000LL, &timeout_ms) != CLI_EXIT_OK)
                return CLI_EXIT_USAGE;
            break;
        case 'h': s_inventory_usage(stdout); return CLI_EXIT_OK;
        default: return cli_opt_error("changer inventory", opt, argc, argv);
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error("changer", "inventory takes one CHANGER (a configured name or a URL)");
    const char *changer = argv[optind];
    tf_msg_t reply;
    tf_err_t err = {0};
    if (s_query(cli->cfg, "inventory", changer, (int) timeout_ms, &reply, &err) != TF_OK)
        return s_fail_json(json, "changer inventory", changer, &err);
    const tf_msg_lab_reply_t *r = &reply.lab_reply;
    if (json) {
        tf_json_t *j = tf_json_new();
        if (j) {
            tf_json_document_begin(j);
            tf_json_bool(j, "ok", true);
            tf_json_str(j, "changer", changer);
            tf_json_str(j, "url", r->changer);
            tf_json_bool(j, "barcodes", r->barcodes);
            tf_json_array_begin(j, "cartridges");
            for (size_t i = 0; i < r->cartridges_count; i++) {
                const tf_msg_cartridge_row_t *c = &r->cartridges[i];
                tf_json_object_begin(j, NULL);
                tf_json_str(j, "barcode", c->barcode);
                tf_json_str(j, "location", c->location);
                if (c->location && strcmp(c->location, "outside") != 0)
                    tf_json_int(j, "element", (int64_t) c->element);
                else
                    tf_json_null(j, "element");
                tf_json_str(j, "drive", c->drive);
                tf_json_str(j, "kind", c->kind);
                tf_json_str(j, "label", c->label);
                tf_json_str(j, "pool", c->pool);
                tf_json_object_end(j);
            }
            tf_json_array_end(j);
            tf_json_str(j, "message", r->message);
            tf_json_object_end(j);
            s_print_json(j);
            tf_json_destroy(&j);
        }
    } else {
        printf("changer %s (%s): %s%s\n", changer, r->changer ? r->changer : "?", r->message ? r->message : "",
               r->barcodes ? "" : " (the changer reports no barcodes: cartridges are known by their home slot, "
               "'slot N', as long as they stay in it)");
        printf("%-16s %-16s %-9s %-16s %s\n", "WHERE", "BARCODE", "KIND", "LABEL", "POOL");
        for (size_t i = 0; i < r->cartridges_count; i++) {
            const tf_msg_cartridge_row_t *c = &r->cartridges[i];
            char where[64];
            if (c->location && strcmp(c->location, "outside") == 0)
                snprintf(where, sizeof where, "outside");
            else
                snprintf(where, sizeof where, "%s %" PRIu64 "%s%s%s", c->location ? c->location : "?", c->element,
                         c->drive ? " (" : "", c->drive ? c->drive : "", c->drive ? ")" : "");
            printf("%-16s %-16s %-9s %-16s %s\n", where, c->barcode, c->kind ? c->kind : "?",
                   c->label ? c->label : "-", c->pool ? c->pool : "-");
        }
    }
    tf_msg_clear(&reply);
    return CLI_EXIT_OK;
}

const char *const cli_changer_verb_names[] = {"list", "load", "unload", "inventory", NULL};

/* One lab_query load/unload; reply is a lab_reply on TF_OK. */
static int
s_move_query(tf_config_t *cfg, const cmd_changer_move_t *m, bool load, tf_msg_t *reply, tf_err_t *err)
{
    memset(reply, 0, sizeof *reply);
    tf_client_t *client = tf_client_new(tf_config_get(cfg, "broker/endpoint"), err);
    if (!client)
        return err->code;
    tf_msg_t msg = {.type = TF_MSG_LAB_QUERY};
    msg.lab_query = (tf_msg_lab_query_t){.op = load ? "load" : "unload", .changer = (char *) m->changer,
                                         .barcode = (char *) m->barcode, .slot = m->slot > 0 ? (uint64_t) m->slot : 0,
                                         .element = m->drive > 0 ? (uint64_t) m->drive : 0,
                                         .force = (char *) m->force};
    int rc = tf_client_call(client, "labeller", NULL, NULL, &msg, reply, S_QUERY_TIMEOUT_MS, err);
    tf_client_destroy(&client);
    if (rc == TF_OK && reply->type != TF_MSG_LAB_REPLY) {
        tf_msg_clear(reply);
        rc = tf_err_set(err, TF_ERR_PROTO, "the labeller answered with %s, not lab_reply",
                        tf_msg_type_name(reply->type));
    }
    return rc;
}

/* changer load|unload while a labeller runs: it moves the robot (serialised with the tape
   writers' moves, its inventory follows). A drive that has not let go of its tape makes the
   robot refuse: then the tape is ejected from the configured drive and the move asked again. */
static int
s_move_by_labeller(cli_t *cli, const cmd_changer_move_t *m)
{
    bool load = strcmp(m->verb, "load") == 0;
    tf_msg_t reply;
    tf_err_t err = {0};
    int rc = s_move_query(cli->cfg, m, load, &reply, &err);
    if (rc == TF_OK && reply.lab_reply.refused && strcmp(reply.lab_reply.refused, "robot") == 0 && !load
        && !m->no_eject) {
        tf_msg_clear(&reply);
        cmd_changer_eject(cli->cfg, m->changer, m->drive > 0 ? m->drive : 0);
        rc = s_move_query(cli->cfg, m, load, &reply, &err);
    }
    char command[32];
    snprintf(command, sizeof command, "changer %s", m->verb);
    if (rc == TF_OK && reply.lab_reply.refused) {
        tf_err_set(&err, strcmp(reply.lab_reply.refused, "leased") == 0 ? TF_ERR_BUSY : TF_ERR_DEVICE, "%s",
                   reply.lab_reply.message ? reply.lab_reply.message : "not moved");
        tf_msg_clear(&reply);
        rc = err.code;
    }
    if (rc != TF_OK)
        return s_fail_json(m->json, command, "", &err);
    const char *message = reply.lab_reply.message ? reply.lab_reply.message : "moved";
    if (m->json) {
        tf_json_t *j = tf_json_new();
        if (j) {
            tf_json_document_begin(j);
            tf_json_bool(j, "ok", true);
            tf_json_str(j, "changer", m->changer);
            tf_json_str(j, "action", m->verb);
            tf_json_str(j, "by", "labeller");
            tf_json_str(j, "message", message);
            tf_json_object_end(j);
            s_print_json(j);
            tf_json_destroy(&j);
        }
    } else
        printf("%s (by the labeller)\n", message);
    tf_msg_clear(&reply);
    return CLI_EXIT_OK;
}

int
cmd_changer_labelled(cli_t *cli, int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "inventory") == 0)
        return cmd_changer_inventory(cli, argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "load") == 0 || strcmp(argv[1], "unload") == 0)) {
        cmd_changer_move_t m;
        int rc = cmd_changer_parse_move(argc - 1, argv + 1, cli->json, &m);
        if (rc >= 0)
            return rc;
        bool running = false;
        tf_err_t err = {0};
        /* A broker that does not answer: the stack is down, the robot is moved directly. */
        if (s_labeller_running(cli->cfg, 1000, &running, &err) == TF_OK && running)
            return s_move_by_labeller(cli, &m);
        fprintf(stderr, "tapeflow changer %s: no labeller is running: moving the robot directly (the labeller's "
                "inventory follows at its next element status)\n", m.verb);
    }
    return cmd_changer(cli, argc, argv);
}

/* --- tape label --barcodes -------------------------------------------------------------- */

static void
s_barcodes_usage(FILE *out)
{
    fprintf(out,
            "usage: tapeflow tape label --barcodes CHANGER --pool POOL [--json] [--timeout SECONDS]\n"
            "Labels every blank cartridge of the library with its barcode as label name (pool\n"
            "POOL). The labeller reads the changer's barcodes; each cartridge not known to hold a\n"
            "label becomes one item of the tape service: a tape writer whose drive is in the\n"
            "library has it loaded, reads the tape and writes the label only when the tape is\n"
            "blank - a tape with a label or data is never overwritten and is reported as skipped.\n"
            "Exit status 1 when any cartridge was skipped or failed. Needs the stack running.\n");
}

typedef struct {
    char barcode[64];
    const char *outcome;     /* labelled | skipped | failed */
    char label[64];
    char message[1200];
} s_outcome_t;

typedef struct {
    bool json;
    const char *changer;
    const char *pool;
    int64_t timeout_ms;      /* per cartridge */
} s_barcodes_opts_t;

/* Parses tape label --barcodes: CLI_EXIT_OK to go on, or the exit status (--help: 0). */
static int
s_barcodes_parse(cli_t *cli, int argc, char **argv, s_barcodes_opts_t *o, bool *done)
{
    static const struct option options[] = {
        {"barcodes", required_argument, NULL, 'b'},
        {"pool", required_argument, NULL, 'p'},
        {"json", no_argument, NULL, 'j'},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *done = true;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            s_barcodes_usage(stdout);
            return CLI_EXIT_OK;
        }
    *o = (s_barcodes_opts_t){.json = cli->json, .timeout_ms = S_LABEL_TIMEOUT_MS};
    int opt;
    cli_opt_begin();
    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
        case 'b': o->changer = optarg; break;
        case 'p': o->pool = optarg; break;
        case 'j': o->json = true; break;
        case 't':
            if (cli_opt_seconds("tape", "--timeout", optarg, 1, 86400 * 1000LL, &o->timeout_ms) != CLI_EXIT_OK)
                return CLI_EXIT_USAGE;
            break;
        case 'h': s_barcodes_usage(stdout); return CLI_EXIT_OK;
        default: return cli_opt_error("tape label", opt, argc, argv);
        }
    }
    if (!o->changer || !o->pool)
        return cli_usage_error("tape", "label --barcodes needs CHANGER and --pool POOL");
    if (optind != argc)
        return cli_usage_error("tape", "label --barcodes takes no drive: the labeller loads each cartridge");
    *done = false;
    return CLI_EXIT_OK;
}

/* Whether cartridge c is to be labelled; when not, o says why. */
static bool
s_barcodes_wanted(const tf_msg_cartridge_row_t *c, s_outcome_t *o)
{
    const char *kind = c->kind ? c->kind : "unknown";
    o->outcome = "skipped";
    if (strcmp(kind, "tapeflow") == 0) {
        /* Known from the inventory: no need to load it to find out. */
        snprintf(o->message, sizeof o->message, "cartridge %s is already labelled %s (pool %s): left as it is",
                 c->barcode, c->label ? c->label : "?", c->pool ? c->pool : "?");
        return false;
    }
    if (strcmp(kind, "foreign") == 0) {
        snprintf(o->message, sizeof o->message, "cartridge %s is not blank (a tape writer read another "
                 "program's data on it): not labelled", c->barcode);
        return false;
    }
    if (strncmp(c->barcode, "slot ", 5) == 0) {
        /* No barcode: the inventory knows it by its home slot (docs/protocol.md, cartridge row). */
        snprintf(o->message, sizeof o->message, "the cartridge in %s has no barcode: not labelled (load it and "
                 "label it by hand: 'tapeflow changer load CHANGER --slot N', 'tapeflow tape label DRIVE --label NAME')",
                 c->barcode);
        return false;
    }
    if (strcmp(c->location, "slot") != 0) {
        snprintf(o->message, sizeof o->message, "cartridge %s is in %s %" PRIu64 ", not in a slot: not labelled "
                 "now (run again once it is back in a slot)", c->barcode, c->location, c->element);
        return false;
    }
    return true;
}

/* One tape_label item for cartridge c; a label written is confirmed to the labeller (which
   records a label only once a tape writer reports it written). */
static void
s_barcodes_label_one(tf_client_t *client, const s_barcodes_opts_t *opts, const tf_msg_cartridge_row_t *c,
                     s_outcome_t *o)
{
    const char *changer = c->changer ? c->changer : opts->changer;
    char id[TF_MSG_MAX_ID];
    snprintf(id, sizeof id, "label-%.40s-%.40s-%" PRId64, changer, c->barcode, tf_clock_wall_ms());
    tf_msg_t msg = {.type = TF_MSG_TAPE_LABEL};
    msg.tape_label = (tf_msg_tape_label_t){.changer = (char *) changer, .barcode = c->barcode,
                                           .pool = (char *) opts->pool};
    tf_msg_t result;
    tf_err_t ierr = {0};
    if (tf_client_call(client, "tape", id, NULL, &msg, &result, (int) opts->timeout_ms, &ierr) != TF_OK) {
        o->outcome = "failed";
        snprintf(o->message, sizeof o->message, "%s", ierr.message);
        return;
    }
    if (result.type != TF_MSG_VOL_GRANT) {
        o->outcome = "failed";
        snprintf(o->message, sizeof o->message, "the tape writer answered with %s", tf_msg_type_name(result.type));
        tf_msg_clear(&result);
        return;
    }
    const tf_msg_vol_grant_t *g = &result.vol_grant;
    bool ok = strcmp(g->decision, "recycle") == 0;
    o->outcome = ok ? "labelled" : "skipped";
    snprintf(o->label, sizeof o->label, "%s", ok && g->label ? g->label : "");
    snprintf(o->message, sizeof o->message, "%s", g->message ? g->message : "");
    tf_msg_clear(&result);
    if (!ok)
        return;
    tf_msg_t confirm = {.type = TF_MSG_LAB_QUERY}, reply;
    confirm.lab_query = (tf_msg_lab_query_t){.op = "labelled", .changer = (char *) changer, .barcode = c->barcode,
                                             .label = o->label};
    if (tf_client_call(client, "labeller", NULL, NULL, &confirm, &reply, S_QUERY_TIMEOUT_MS, &ierr) != TF_OK)
        /* Labelled all the same: the labeller learns it when a tape writer next reads it. */
        fprintf(stderr, "tapeflow tape label: cartridge %s is labelled, but the labeller could not record it (%s): "
                "it is read again when next loaded\n", c->barcode, ierr.message);
    else
        tf_msg_clear(&reply);
}

static void
s_barcodes_print_json(const s_barcodes_opts_t *opts, const s_outcome_t *out, size_t n, size_t labelled,
                      size_t skipped, size_t failed)
{
    tf_json_t *j = tf_json_new();
    if (!j)
        return;
    tf_json_document_begin(j);
    tf_json_bool(j, "ok", skipped == 0 && failed == 0);
    tf_json_str(j, "changer", opts->changer);
    tf_json_str(j, "pool", opts->pool);
    tf_json_array_begin(j, "cartridges");
    for (size_t i = 0; i < n; i++) {
        tf_json_object_begin(j, NULL);
        tf_json_str(j, "barcode", out[i].barcode);
        tf_json_str(j, "outcome", out[i].outcome);
        tf_json_str(j, "label", out[i].label[0] ? out[i].label : NULL);
        tf_json_str(j, "message", out[i].message);
        tf_json_object_end(j);
    }
    tf_json_array_end(j);
    tf_json_int(j, "labelled", (int64_t) labelled);
    tf_json_int(j, "skipped", (int64_t) skipped);
    tf_json_int(j, "failed", (int64_t) failed);
    tf_json_object_end(j);
    s_print_json(j);
    tf_json_destroy(&j);
}

int
cmd_tape_label_barcodes(cli_t *cli, int argc, char **argv)
{
    s_barcodes_opts_t opts;
    bool done = false;
    int exit_status = s_barcodes_parse(cli, argc, argv, &opts, &done);
    if (done)
        return exit_status;
    tf_err_t err = {0};
    tf_msg_t inv;
    if (s_query(cli->cfg, "inventory", opts.changer, S_QUERY_TIMEOUT_MS, &inv, &err) != TF_OK)
        return s_fail_json(opts.json, "tape label", opts.changer, &err);
    const tf_msg_lab_reply_t *r = &inv.lab_reply;
    s_outcome_t *out = r->cartridges_count ? calloc(r->cartridges_count, sizeof *out) : NULL;
    tf_client_t *client = tf_client_new(tf_config_get(cli->cfg, "broker/endpoint"), &err);
    if ((r->cartridges_count && !out) || !client) {
        free(out);
        tf_msg_clear(&inv);
        tf_client_destroy(&client);
        if (!err.code)
            tf_err_set(&err, TF_ERR_NOMEM, "out of memory");
        return s_fail_json(opts.json, "tape label", "", &err);
    }
    size_t n = 0, labelled = 0, skipped = 0, failed = 0;
    for (size_t i = 0; i < r->cartridges_count; i++) {
        const tf_msg_cartridge_row_t *c = &r->cartridges[i];
        if (!c->location || strcmp(c->location, "outside") == 0)
            continue;   /* not in the library now */
        s_outcome_t *o = &out[n++];
        snprintf(o->barcode, sizeof o->barcode, "%s", c->barcode);
        if (s_barcodes_wanted(c, o))
            s_barcodes_label_one(client, &opts, c, o);
        labelled += strcmp(o->outcome, "labelled") == 0;
        skipped += strcmp(o->outcome, "skipped") == 0;
        failed += strcmp(o->outcome, "failed") == 0;
        if (!opts.json) {
            printf("%-16s %-9s %s\n", o->barcode, o->outcome, o->message);
            fflush(stdout);
        }
    }
    tf_client_destroy(&client);
    if (opts.json)
        s_barcodes_print_json(&opts, out, n, labelled, skipped, failed);
    else
        printf("changer %s: %zu labelled, %zu skipped, %zu failed (pool %s)\n", opts.changer, labelled, skipped,
               failed, opts.pool);
    free(out);
    tf_msg_clear(&inv);
    return skipped == 0 && failed == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}
