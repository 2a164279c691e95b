/*  cmd_changer - `tapeflow changer list|load|unload`: the tape library's robot.
    See docs/changers.md.

        tapeflow changer list CHANGER [--json]
        tapeflow changer load CHANGER (--slot N | --barcode B) [--drive D] [--force DRIVE] [--json]
        tapeflow changer unload CHANGER [--drive D] [--slot N] [--no-eject] [--force DRIVE] [--json]

    While a labeller runs, load and unload ask it to move (cli_labeller.c, cmd_changer.h): it
    serialises every move and keeps its inventory; this file moves the robot directly, for when
    no labeller runs (the stack is down, for repair). CHANGER is a URL (sg:/dev/sgN, iscsi://host[:port]/iqn/lun, sim:PATH?type=8...) or a name
    configured under changers/NAME/url. changers/NAME/driveN = DRIVE names the configured drive
    (drives/DRIVE/url) sitting in drive element N: list shows it, and unload ejects the tape in
    that drive before the robot takes it out.
*/
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_opt.h"
#include "cmd_changer.h"
#include "tf_units.h"
#include "tf_changer.h"
#include "tf_drive.h"
#include "tf_drive_resolve.h"
#include "tf_json.h"
#include "tf_sim_changer.h"

typedef struct {
    const char *verb;
    const char *changer; /* as given */
    char name[128];      /* configured name, "" for a URL */
    char url[1024];
    int slot;            /* -1: not given */
    int drive;
    const char *barcode;
    const char *force;   /* a leased drive taken over: only the labeller has leases */
    bool json;
    bool no_eject;
} s_args_t;

static void
s_usage(FILE *out)
{
    fprintf(out,
            "usage: tapeflow changer list CHANGER [--json]\n"
            "       tapeflow changer load CHANGER (--slot N | --barcode B) [--drive D] [--force DRIVE]\n"
            "                             [--json]\n"
            "       tapeflow changer unload CHANGER [--drive D] [--slot N] [--no-eject] [--force DRIVE]\n"
            "                               [--json]\n"
            "       tapeflow changer inventory CHANGER [--json] [--timeout SECONDS]\n"
            "CHANGER is a URL (sg:/dev/sgN, iscsi://host[:port]/iqn/lun, sim:PATH?type=8&...)\n"
            "or a changer name from the config (changers/NAME/url). Slots count from 1, drives\n"
            "from 0 (default drive 0). unload returns the cartridge to the slot it came from\n"
            "unless --slot is given, after ejecting it from the drive configured as\n"
            "changers/NAME/driveD (skip with --no-eject). While the stack runs, load and unload\n"
            "ask the labeller, which makes every move: it refuses a drive it just loaded for a\n"
            "tape writer unless --force names that drive; with no labeller running the robot\n"
            "is moved directly (and the output says so). inventory asks the labeller to read the\n"
            "barcodes into its inventory (no tape is loaded) and shows what it knows of each\n"
            "cartridge ('tapeflow changer inventory --help').\n");
}

static int
s_number(const char *opt, const char *value, int min, int *out)
{
    int64_t v = 0;
    if (tf_units_parse_int(value, min, 65535, &v) != 0) {
        fprintf(stderr, "tapeflow changer: %s wants a number from %d to 65535, not '%s'\n", opt,
                min, value ? value : "");
        return CLI_EXIT_USAGE;
    }
    *out = (int) v;
    return CLI_EXIT_OK;
}

/* argv[0] is the verb. Returns -1 to go on, else the exit status. */
static int
s_parse(int argc, char **argv, bool json, s_args_t *args)
{
    static const struct option options[] = {
        {"json", no_argument, NULL, 'j'},
        {"no-eject", no_argument, NULL, 'E'},
        {"slot", required_argument, NULL, 's'},
        {"drive", required_argument, NULL, 'd'},
        {"barcode", required_argument, NULL, 'b'},
        {"force", required_argument, NULL, 'F'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(args, 0, sizeof *args);
    args->slot = -1;
    args->drive = -1;
    args->json = json;
    args->verb = argv[0];
    char command[32];
    snprintf(command, sizeof command, "changer %s", args->verb);
    int opt;
    cli_opt_begin();
    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        int rc = CLI_EXIT_OK;
        switch (opt) {
        case 'j': args->json = true; break;
        case 'E': args->no_eject = true; break;
        case 's': rc = s_number("--slot", optarg, 1, &args->slot); break;
        case 'd': rc = s_number("--drive", optarg, 0, &args->drive); break;
        case 'b': args->barcode = optarg; break;
        case 'F': args->force = optarg; break;
        case 'h': s_usage(stdout); return CLI_EXIT_OK;
        default: return cli_opt_error(command, opt, argc, argv);
        }
        if (rc != CLI_EXIT_OK)
            return rc;
    }
    if (optind < argc)
        args->changer = argv[optind++];
    if (optind < argc) {
        fprintf(stderr, "tapeflow changer %s: unexpected argument '%s'\n", args->verb, argv[optind]);
        return CLI_EXIT_USAGE;
    }
    if (!args->changer) {
        fprintf(stderr, "tapeflow changer %s: which changer? Give a URL or a configured name\n",
                args->verb);
        return CLI_EXIT_USAGE;
    }
    bool load = strcmp(args->verb, "load") == 0;
    bool list = strcmp(args->verb, "list") == 0;
    if (load && (args->slot < 0) == (args->barcode == NULL)) {
        fprintf(stderr, "tapeflow changer load: give either --slot N or --barcode B\n");
        return CLI_EXIT_USAGE;
    }
    if (list && (args->slot >= 0 || args->drive >= 0 || args->barcode || args->no_eject || args->force)) {
        fprintf(stderr, "tapeflow changer list: takes only CHANGER and --json\n");
        return CLI_EXIT_USAGE;
    }
    if (!load && args->barcode) {
        fprintf(stderr, "tapeflow changer %s: --barcode is for load\n", args->verb);
        return CLI_EXIT_USAGE;
    }
    return -1;
}

int
cmd_changer_parse_move(int argc, char **argv, bool json, cmd_changer_move_t *move)
{
    s_args_t args;
    int rc = s_parse(argc, argv, json, &args);
    if (rc >= 0)
        return rc;
    *move = (cmd_changer_move_t){.verb = args.verb, .changer = args.changer, .slot = args.slot,
                                 .drive = args.drive, .barcode = args.barcode, .force = args.force,
                                 .json = args.json, .no_eject = args.no_eject};
    return -1;
}

/* The changer URL for what the operator typed. */
static int
s_resolve(tf_config_t *cfg, s_args_t *args, tf_err_t *err)
{
    const char *given = args->changer;
    if (tf_drive_is_url(given)) {
        snprintf(args->url, sizeof args->url, "%s", given);
        return TF_OK;
    }
    if (given[0] == '/') {
        snprintf(args->url, sizeof args->url, "sg:%s", given);
        return TF_OK;
    }
    const char *value = NULL;
    if (cfg && !strchr(given, '/') && strlen(given) < sizeof args->name) {
        char key[300];
        snprintf(key, sizeof key, "changers/%s/url", given);
        value = tf_config_get(cfg, key);
    }
    if (!value || !*value)
        return tf_err_set(err, TF_ERR_NOTFOUND,
                          "'%s' is neither a changer URL (sg:/dev/sgN, iscsi://host/iqn/lun, "
                          "sim:PATH?type=8) nor a changer configured under changers/%s/url%s",
                          given, given,
                          cfg && tf_config_file(cfg) ? "" : " (no config file loaded)");
    if (!tf_drive_is_url(value))
        return tf_err_set(err, TF_ERR_INVALID,
                          "changer '%s' is configured with url = %s, which is not a URL (use "
                          "sg:/dev/tape/by-id/..., iscsi://... or sim:...)",
                          given, value);
    snprintf(args->name, sizeof args->name, "%s", given);
    snprintf(args->url, sizeof args->url, "%s", value);
    return TF_OK;
}

/* The configured drive in drive element n: its name (or "") and URL (or ""). A sim changer
   without configuration gets the sim drive URL that sees that drive element. */
static void
s_drive_of(tf_config_t *cfg, const s_args_t *args, int n, char *name, size_t name_size,
           char *url, size_t url_size)
{
    name[0] = url[0] = '\0';
    const char *value = tf_changer_drive_name(cfg, args->name, n);
    if (value) {
        snprintf(name, name_size, "%s", value);
        tf_err_t err = {0, ""};
        if (tf_drive_resolve(cfg, value, NULL, NULL, url, url_size, &err) != TF_OK)
            url[0] = '\0';
        return;
    }
    if (tf_sim_changer_drive_url(args->url, n, url, url_size) != TF_OK)
        url[0] = '\0';
}

static int
s_fail(const s_args_t *args, const char *message)
{
    if (args->json) {
        tf_json_t *json = tf_json_new();
        if (json) {
            tf_json_document_begin(json);
            tf_json_str(json, "changer", args->url[0] ? args->url : args->changer);
            tf_json_bool(json, "ok", false);
            tf_json_str(json, "error", message);
            tf_json_object_end(json);
            const char *text = tf_json_text(json);
            printf("%s\n", text ? text : "{}");
            tf_json_destroy(&json);
        }
    }
    fprintf(stderr, "tapeflow changer %s: %s\n", args->verb, message);
    return CLI_EXIT_FAIL;
}

static void
s_elem_json(tf_json_t *json, const tf_changer_inv_t *inv, const tf_changer_elem_t *e)
{
    tf_json_object_begin(json, NULL);
    tf_json_int(json, "number", e->number);
    tf_json_int(json, "address", e->address);
    tf_json_bool(json, "full", e->full);
    tf_json_str(json, "barcode", e->full && e->barcode[0] ? e->barcode : NULL);
    const tf_changer_elem_t *src = e->source_valid ? tf_changer_inv_by_address(inv, e->source)
                                                   : NULL;
    if (e->full && src) {
        tf_json_str(json, "source_type", tf_changer_type_name(src->type));
        tf_json_int(json, "source", src->number);
    } else {
        tf_json_null(json, "source_type");
        tf_json_null(json, "source");
    }
    if (e->except)
        tf_json_str(json, "exception", "yes");
}

static void
s_elem_text(const tf_changer_inv_t *inv, const tf_changer_elem_t *e, const char *label)
{
    char src[64] = "";
    const tf_changer_elem_t *s = e->source_valid ? tf_changer_inv_by_address(inv, e->source)
                                                 : NULL;
    if (e->full && s && s != e) {
        char name[48];
        snprintf(src, sizeof src, "  (from %s)", tf_changer_elem_name(s, name, sizeof name));
    }
    printf("  %-22s %-5s %-12s%s%s\n", label, e->full ? "full" : "empty",
           e->full ? (e->barcode[0] ? e->barcode : "(no barcode)") : "", src,
           e->except ? "  EXCEPTION" : "");
}

static int
s_list(tf_config_t *cfg, const s_args_t *args, tf_changer_t *changer, const char *vendor,
       const char *product)
{
    tf_err_t err = {0, ""};
    tf_changer_inv_t *inv = NULL;
    if (tf_changer_inventory(changer, &inv, &err) != TF_OK)
        return s_fail(args, err.message);
    tf_json_t *json = args->json ? tf_json_new() : NULL;
    if (json) {
        tf_json_document_begin(json);
        tf_json_str(json, "changer", args->url);
        tf_json_str(json, "name", args->name[0] ? args->name : NULL);
        tf_json_bool(json, "ok", true);
        tf_json_str(json, "vendor", vendor);
        tf_json_str(json, "product", product);
        tf_json_bool(json, "barcodes", inv->barcodes);
    } else {
        printf("Changer %s%s%s%s, %s %s: %zu slots, %zu drives, %zu import/export%s\n",
               args->name[0] ? args->name : "", args->name[0] ? " (" : "", args->url,
               args->name[0] ? ")" : "", vendor, product,
               tf_changer_inv_count(inv, TF_CHANGER_SLOT),
               tf_changer_inv_count(inv, TF_CHANGER_DRIVE),
               tf_changer_inv_count(inv, TF_CHANGER_IE),
               inv->barcodes ? "" : " (no barcode reader)");
    }
    static const tf_changer_type_t order[] = {TF_CHANGER_DRIVE, TF_CHANGER_SLOT, TF_CHANGER_IE};
    static const char *keys[] = {"drives", "slots", "import_export"};
    for (size_t t = 0; t < 3; t++) {
        if (json)
            tf_json_array_begin(json, keys[t]);
        for (size_t i = 0; i < inv->count; i++) {
            const tf_changer_elem_t *e = &inv->elem[i];
            if (e->type != order[t])
                continue;
            char dname[128] = "", durl[1024] = "";
            if (e->type == TF_CHANGER_DRIVE)
                s_drive_of(cfg, args, e->number, dname, sizeof dname, durl, sizeof durl);
            if (json) {
                s_elem_json(json, inv, e);
                if (e->type == TF_CHANGER_DRIVE) {
                    tf_json_str(json, "drive", dname[0] ? dname : NULL);
                    tf_json_str(json, "drive_url", durl[0] ? durl : NULL);
                }
                tf_json_object_end(json);
                continue;
            }
            char label[64];
            tf_changer_elem_name(e, label, sizeof label);
            if (e->type == TF_CHANGER_IE)
                snprintf(label, sizeof label, "import/export %d", e->number);
            s_elem_text(inv, e, label);
            if (dname[0] || durl[0])
                printf("  %-22s %s%s%s\n", "", dname[0] ? dname : "",
                       dname[0] && durl[0] ? " = " : "", durl);
        }
        if (json)
            tf_json_array_end(json);
    }
    if (json) {
        tf_json_object_end(json);
        const char *text = tf_json_text(json);
        printf("%s\n", text ? text : "{}");
        tf_json_destroy(&json);
    }
    tf_changer_inv_destroy(&inv);
    return CLI_EXIT_OK;
}

/* Ejects the tape from the configured drive in element n, so the robot may take it. */
static void
s_eject(tf_config_t *cfg, const s_args_t *args, int n)
{
    if (!args->name[0] || args->no_eject)
        return;
    char dname[128], durl[1024];
    s_drive_of(cfg, args, n, dname, sizeof dname, durl, sizeof durl);
    if (!dname[0] || !durl[0])
        return;
    tf_err_t err = {0, ""};
    tf_drive_t *drive = tf_drive_open(durl, &err);
    int rc = drive ? tf_drive_unload(drive, &err) : err.code;
    if (rc != TF_OK && !(drive && tf_drive_last_cond(drive) == TF_DRIVE_COND_NO_MEDIUM))
        fprintf(stderr, "tapeflow changer unload: warning: could not eject the tape from drive "
                        "%s (%s): %s; trying the robot anyway\n",
                dname, durl, err.message);
    tf_drive_destroy(&drive);
}

void
cmd_changer_eject(tf_config_t *cfg, const char *changer, int element)
{
    s_args_t args;
    memset(&args, 0, sizeof args);
    args.changer = changer;
    tf_err_t err = {0, ""};
    if (s_resolve(cfg, &args, &err) == TF_OK)
        s_eject(cfg, &args, element);
}

static int
s_move(tf_config_t *cfg, const s_args_t *args, tf_changer_t *changer)
{
    tf_err_t err = {0, ""};
    int drive = args->drive >= 0 ? args->drive : 0;
    bool load = strcmp(args->verb, "load") == 0;
    int slot = args->slot;
    char barcode[TF_CHANGER_BARCODE_MAX + 1] = "";
    tf_changer_inv_t *inv = NULL;
    if (tf_changer_inventory(changer, &inv, &err) != TF_OK)
        return s_fail(args, err.message);
    if (load && args->barcode) {
        const tf_changer_elem_t *e = tf_changer_inv_by_barcode(inv, args->barcode);
        char where[48];
        if (!e) {
            tf_err_set(&err, TF_ERR_NOTFOUND, "no cartridge with barcode %s in changer %s%s",
                       args->barcode, args->url,
                       inv->barcodes ? "" : " (it reports no barcodes: load by --slot)");
        } else if (e->type != TF_CHANGER_SLOT) {
            tf_err_set(&err, TF_ERR_STATE, "cartridge %s is in %s, not in a slot",
                       args->barcode, tf_changer_elem_name(e, where, sizeof where));
        } else {
            slot = e->number;
        }
        if (slot < 0) {
            tf_changer_inv_destroy(&inv);
            return s_fail(args, err.message);
        }
    }
    const tf_changer_elem_t *what = load ? tf_changer_inv_find(inv, TF_CHANGER_SLOT, slot)
                                         : tf_changer_inv_find(inv, TF_CHANGER_DRIVE, drive);
    bool full = what && what->full;
    if (full)
        snprintf(barcode, sizeof barcode, "%s", what->barcode);
    tf_changer_inv_destroy(&inv);
    int rc;
    if (load) {
        rc = tf_changer_load(changer, slot, drive, &err);
    } else {
        if (full)
            s_eject(cfg, args, drive);
        rc = tf_changer_unload(changer, drive, slot, &slot, &err);
    }
    if (rc != TF_OK)
        return s_fail(args, err.message);
    char dname[128], durl[1024];
    s_drive_of(cfg, args, drive, dname, sizeof dname, durl, sizeof durl);
    if (args->json) {
        tf_json_t *json = tf_json_new();
        if (!json)
            return s_fail(args, "out of memory");
        tf_json_document_begin(json);
        tf_json_str(json, "changer", args->url);
        tf_json_bool(json, "ok", true);
        tf_json_str(json, "action", args->verb);
        tf_json_int(json, "slot", slot);
        tf_json_int(json, "drive_element", drive);
        tf_json_str(json, "barcode", barcode[0] ? barcode : NULL);
        tf_json_str(json, "drive", dname[0] ? dname : NULL);
        tf_json_str(json, "drive_url", durl[0] ? durl : NULL);
        tf_json_object_end(json);
        const char *text = tf_json_text(json);
        printf("%s\n", text ? text : "{}");
        tf_json_destroy(&json);
    } else if (load) {
        printf("loaded %s from slot %d into drive %d%s%s%s\n",
               barcode[0] ? barcode : "the cartridge", slot, drive, durl[0] ? " (" : "", durl,
               durl[0] ? ")" : "");
    } else if (slot > 0) {
        printf("unloaded %s from drive %d into slot %d\n", barcode[0] ? barcode : "the cartridge",
               drive, slot);
    } else {
        printf("unloaded %s from drive %d into an import/export slot\n",
               barcode[0] ? barcode : "the cartridge", drive);
    }
    return CLI_EXIT_OK;
}

/* One verb: parse, find the changer, then list or move. */
static int
s_run(cli_t *cli, int argc, char **argv)
{
    s_args_t args;
    int rc = s_parse(argc, argv, cli && cli->json, &args);
    if (rc >= 0)
        return rc;
    tf_config_t *cfg = cli ? cli->cfg : NULL;
    tf_err_t err = {0, ""};
    if (s_resolve(cfg, &args, &err) != TF_OK)
        return s_fail(&args, err.message);
    tf_changer_t *changer = tf_changer_open(args.url, &err);
    if (!changer)
        return s_fail(&args, err.message);
    char vendor[16] = "", product[24] = "";
    if (tf_changer_identify(changer, vendor, sizeof vendor, product, sizeof product, &err)
        != TF_OK)
        rc = s_fail(&args, err.message);
    else if (strcmp(args.verb, "list") == 0)
        rc = s_list(cfg, &args, changer, vendor, product);
    else
        rc = s_move(cfg, &args, changer);
    tf_changer_destroy(&changer);
    return rc;
}

const cli_verb_t cli_changer_verbs[] = {
    {"list", s_run},
    {"load", s_run},
    {"unload", s_run},
    {NULL, NULL},
};

int
cmd_changer(cli_t *cli, int argc, char **argv)
{
    return cli_verb_run(cli, "changer", cli_changer_verbs, s_usage, argc, argv);
}
