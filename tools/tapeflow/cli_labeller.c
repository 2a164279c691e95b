/*  cli_labeller - changer inventory, tape label --barcodes, tape list's locations (see
    cli_labeller.h). */
#include "cli_labeller.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_opt.h"
#include "tf_client.h"
#include "tf_clock.h"
#include "tf_json.h"

#define S_DEFAULT_TIMEOUT_MS 120000

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

int
cli_labeller_list(tf_config_t *cfg, int timeout_ms, tf_msg_t *reply, tf_err_t *err)
{
    memset(reply, 0, sizeof *reply);
    /* Only when a labeller runs: an item for nobody would wait in the broker's queue. */
    tf_client_t *client = tf_client_new(tf_config_get(cfg, "broker/endpoint"), err);
    if (!client)
        return err->code;
    tf_msg_t status;
    int rc = tf_client_status(client, &status, timeout_ms, err);
    tf_client_destroy(&client);
    if (rc != TF_OK)
        return rc;
    bool running = false;
    for (size_t i = 0; status.type == TF_MSG_STATUS && i < status.status.services_count; i++)
        running = running || (strcmp(status.status.services[i].name, "labeller") == 0
                              && status.status.services[i].workers > 0);
    tf_msg_clear(&status);
    if (!running)
        return tf_err_set(err, TF_ERR_NOTFOUND, "no labeller is running (up/actors)");
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
    int64_t timeout_ms = S_DEFAULT_TIMEOUT_MS;
    int opt;
    cli_opt_begin();
    while ((opt = getopt_long(argc, argv, "jt:h", options, NULL)) != -1) {
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
               r->barcodes ? "" : " (the changer reports no barcodes: nothing can be recorded)");
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

int
cmd_changer_labelled(cli_t *cli, int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "inventory") == 0)
        return cmd_changer_inventory(cli, argc - 1, argv + 1);
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

int
cmd_tape_label_barcodes(cli_t *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"barcodes", required_argument, NULL, 'b'},
        {"pool", required_argument, NULL, 'p'},
        {"json", no_argument, NULL, 'j'},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            s_barcodes_usage(stdout);
            return CLI_EXIT_OK;
        }
    bool json = cli->json;
    const char *changer = NULL, *pool = NULL;
    int64_t timeout_ms = 600000;
    int opt;
    cli_opt_begin();
    while ((opt = getopt_long(argc, argv, "b:p:jt:h", options, NULL)) != -1) {
        switch (opt) {
        case 'b': changer = optarg; break;
        case 'p': pool = optarg; break;
        case 'j': json = true; break;
        case 't':
            if (cli_opt_seconds("tape", "--timeout", optarg, 1, 86400 * 1000LL, &timeout_ms) != CLI_EXIT_OK)
                return CLI_EXIT_USAGE;
            break;
        case 'h': s_barcodes_usage(stdout); return CLI_EXIT_OK;
        default: return cli_opt_error("tape label", opt, argc, argv);
        }
    }
    if (!changer || !pool)
        return cli_usage_error("tape", "label --barcodes needs CHANGER and --pool POOL");
    if (optind != argc)
        return cli_usage_error("tape", "label --barcodes takes no drive: the labeller loads each cartridge");
    tf_err_t err = {0};
    tf_msg_t inv;
    if (s_query(cli->cfg, "inventory", changer, 120000, &inv, &err) != TF_OK)
        return s_fail_json(json, "tape label", changer, &err);
    const tf_msg_lab_reply_t *r = &inv.lab_reply;
    s_outcome_t *out = r->cartridges_count ? calloc(r->cartridges_count, sizeof *out) : NULL;
    tf_client_t *client = tf_client_new(tf_config_get(cli->cfg, "broker/endpoint"), &err);
    if ((r->cartridges_count && !out) || !client) {
        free(out);
        tf_msg_clear(&inv);
        tf_client_destroy(&client);
        if (!err.code)
            tf_err_set(&err, TF_ERR_NOMEM, "out of memory");
        return s_fail_json(json, "tape label", "", &err);
    }
    size_t n = 0, labelled = 0, skipped = 0, failed = 0;
    for (size_t i = 0; i < r->cartridges_count; i++) {
        const tf_msg_cartridge_row_t *c = &r->cartridges[i];
        if (!c->location || strcmp(c->location, "outside") == 0)
            continue;   /* not in the library now */
        s_outcome_t *o = &out[n++];
        snprintf(o->barcode, sizeof o->barcode, "%s", c->barcode);
        const char *kind = c->kind ? c->kind : "unknown";
        if (strcmp(kind, "tapeflow") == 0 || strcmp(kind, "foreign") == 0) {
            /* Known from the inventory: no need to load it to find out. */
            o->outcome = "skipped";
            if (strcmp(kind, "tapeflow") == 0)
                snprintf(o->message, sizeof o->message, "cartridge %s is already labelled %s (pool %s): left as it is",
                         c->barcode, c->label ? c->label : "?", c->pool ? c->pool : "?");
            else
                snprintf(o->message, sizeof o->message, "cartridge %s is not blank (a tape writer read another "
                         "program's data on it): not labelled", c->barcode);
        } else if (strcmp(c->location, "slot") != 0) {
            o->outcome = "skipped";
            snprintf(o->message, sizeof o->message, "cartridge %s is in %s %" PRIu64 ", not in a slot: not labelled "
                     "now (run again once it is back in a slot)", c->barcode, c->location, c->element);
        } else {
            char id[TF_MSG_MAX_ID];
            snprintf(id, sizeof id, "label-%.40s-%.40s-%" PRId64, c->changer ? c->changer : changer, c->barcode,
                     tf_clock_wall_ms());
            tf_msg_t msg = {.type = TF_MSG_TAPE_LABEL};
            msg.tape_label = (tf_msg_tape_label_t){.changer = c->changer ? c->changer : (char *) changer,
                                                   .barcode = c->barcode, .pool = (char *) pool};
            tf_msg_t result;
            tf_err_t ierr = {0};
            if (tf_client_call(client, "tape", id, NULL, &msg, &result, (int) timeout_ms, &ierr) != TF_OK) {
                o->outcome = "failed";
                snprintf(o->message, sizeof o->message, "%s", ierr.message);
            } else if (result.type != TF_MSG_VOL_GRANT) {
                o->outcome = "failed";
                snprintf(o->message, sizeof o->message, "the tape writer answered with %s",
                         tf_msg_type_name(result.type));
            } else {
                const tf_msg_vol_grant_t *g = &result.vol_grant;
                bool ok = strcmp(g->decision, "recycle") == 0;
                o->outcome = ok ? "labelled" : "skipped";
                snprintf(o->label, sizeof o->label, "%s", ok && g->label ? g->label : "");
                snprintf(o->message, sizeof o->message, "%s", g->message ? g->message : "");
            }
            tf_msg_clear(&result);
        }
        labelled += strcmp(o->outcome, "labelled") == 0;
        skipped += strcmp(o->outcome, "skipped") == 0;
        failed += strcmp(o->outcome, "failed") == 0;
        if (!json) {
            printf("%-16s %-9s %s\n", o->barcode, o->outcome, o->message);
            fflush(stdout);
        }
    }
    tf_client_destroy(&client);
    if (json) {
        tf_json_t *j = tf_json_new();
        if (j) {
            tf_json_document_begin(j);
            tf_json_bool(j, "ok", skipped == 0 && failed == 0);
            tf_json_str(j, "changer", changer);
            tf_json_str(j, "pool", pool);
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
    } else
        printf("changer %s: %zu labelled, %zu skipped, %zu failed (pool %s)\n", changer, labelled, skipped, failed,
               pool);
    free(out);
    tf_msg_clear(&inv);
    return skipped == 0 && failed == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}
