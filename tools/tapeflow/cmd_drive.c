/*  cmd_drive - the `tapeflow drive ...` subcommands. */
#include "cmd_drive.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_opt.h"
#include "tf_discover.h"
#include "tf_drive.h"
#include "tf_drive_doctor.h"
#include "tf_drive_resolve.h"
#include "tf_drive_selftest.h"
#include "tf_json.h"
#include "tf_sim_opts.h"
#include "tf_units.h"

typedef struct {
    bool json;
    bool yes_overwrite;
    double timeout_s;
    const char *sysfs;
    const char *dev;
    const char *drive;
    const char *destroy_volume; /* test --destroy-volume LABEL */
    tf_selftest_opts_t test;
} s_args_t;

static void
s_usage(FILE *out)
{
    fprintf(out,
            "usage: tapeflow drive list [--json]\n"
            "       tapeflow drive status DRIVE [--json]\n"
            "       tapeflow drive doctor DRIVE [--timeout SECONDS] [--json]\n"
            "       tapeflow drive test DRIVE --yes-overwrite [--destroy-volume LABEL]\n"
            "                               [--ew-limit SIZE] [--files N] [--blocks N]\n"
            "                               [--block-size SIZE] [--json]\n"
            "test   DESTROYS what is on the tape. A tapeflow volume that has not expired is refused\n"
            "       (as by 'tape erase' and 'tape label --force') unless --destroy-volume names\n"
            "       its label exactly.\n"
            "DRIVE is a URL (sg:/dev/sgN, sg:/dev/tape/by-id/..., iscsi://host[:port]/iqn/lun,\n"
            "sim:/path/tape.img[?options]), serial:XYZ, or a drive name from the config\n"
            "(drives/NAME/url). Test options: --sysfs DIR, --dev DIR (discovery roots).\n");
}

/* argv[0] is "drive", argv[1] the verb. Returns -1 to go on, else the exit status. */
static int
s_parse(int argc, char **argv, s_args_t *args)
{
    static const struct option options[] = {
        {"json", no_argument, NULL, 'j'},
        {"yes-overwrite", no_argument, NULL, 'Y'},
        {"timeout", required_argument, NULL, 't'},
        {"destroy-volume", required_argument, NULL, 'D'},
        {"sysfs", required_argument, NULL, 'S'},
        {"dev", required_argument, NULL, 'V'},
        {"ew-limit", required_argument, NULL, 'e'},
        {"block-size", required_argument, NULL, 'b'},
        {"files", required_argument, NULL, 'f'},
        {"blocks", required_argument, NULL, 'B'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(args, 0, sizeof *args);
    args->timeout_s = 120;
    tf_selftest_opts_defaults(&args->test);
    char command[32];
    snprintf(command, sizeof command, "drive %s", argv[1]);
    int opt;
    cli_opt_begin();
    /* From the verb on: argv[1] is getopt's argv[0]. */
    while ((opt = getopt_long(argc - 1, argv + 1, ":h", options, NULL)) != -1) {
        uint64_t size = 0;
        int64_t n = 0;
        switch (opt) {
        case 'j': args->json = true; break;
        case 'Y': args->yes_overwrite = true; break;
        case 't': {
            int64_t ms = 0;
            if (tf_units_parse_seconds(optarg, 0, 366LL * 86400 * 1000, &ms) != 0) {
                fprintf(stderr, "tapeflow drive: --timeout wants seconds, not '%s'\n", optarg);
                return 2;
            }
            args->timeout_s = (double) ms / 1000.0;
            break;
        }
        case 'D': args->destroy_volume = optarg; break;
        case 'S': args->sysfs = optarg; break;
        case 'V': args->dev = optarg; break;
        case 'e':
        case 'b':
            if (tf_sim_parse_size(optarg, &size) != TF_OK) {
                fprintf(stderr, "tapeflow drive: %s wants a size like 256M, not '%s'\n",
                        opt == 'e' ? "--ew-limit" : "--block-size", optarg);
                return 2;
            }
            if (opt == 'e')
                args->test.ew_limit = size;
            else
                args->test.block_size = (size_t) size;
            break;
        case 'f':
        case 'B':
            if (tf_units_parse_int(optarg, 1, 100000, &n) != 0) {
                fprintf(stderr, "tapeflow drive: %s wants a count from 1 to 100000, not '%s'\n",
                        opt == 'f' ? "--files" : "--blocks", optarg);
                return 2;
            }
            if (opt == 'f')
                args->test.files = (int) n;
            else
                args->test.blocks = (int) n;
            break;
        case 'h': s_usage(stdout); return 0;
        default: return cli_opt_error(command, opt, argc - 1, argv + 1);
        }
    }
    int next = optind + 1;   /* in argv */
    if (next < argc)
        args->drive = argv[next++];
    if (next < argc) {
        fprintf(stderr, "tapeflow drive: unexpected argument '%s'\n", argv[next]);
        return 2;
    }
    args->test.timeout_ms = (int64_t) (args->timeout_s * 1000);
    return -1;
}

static void
s_print_json(tf_json_t *json)
{
    const char *text = tf_json_text(json);
    printf("%s\n", text ? text : "{}");
}

static int
s_list(tf_config_t *cfg, const s_args_t *args)
{
    tf_err_t err = {0, ""};
    tf_discover_t *found = tf_discover_scan(args->sysfs, args->dev, &err);
    if (!found) {
        fprintf(stderr, "tapeflow drive list: %s\n", err.message);
        return 1;
    }
    zlist_t *names = cfg ? tf_config_children(cfg, "drives") : NULL;
    tf_json_t *json = args->json ? tf_json_new() : NULL;
    if (json) {
        tf_json_document_begin(json);
        tf_json_array_begin(json, "attached");
    } else {
        printf("Attached tape drives (%zu):\n", tf_discover_count(found));
    }
    for (size_t i = 0; i < tf_discover_count(found); i++) {
        const tf_discover_drive_t *d = tf_discover_get(found, i);
        if (json) {
            tf_json_object_begin(json, NULL);
            tf_json_str(json, "hctl", d->hctl);
            tf_json_str(json, "vendor", d->vendor);
            tf_json_str(json, "model", d->model);
            tf_json_str(json, "revision", d->revision);
            tf_json_str(json, "serial", d->serial[0] ? d->serial : NULL);
            tf_json_str(json, "nst", d->nst[0] ? d->nst : NULL);
            tf_json_str(json, "sg", d->sg[0] ? d->sg : NULL);
            tf_json_str(json, "by_id", d->by_id[0] ? d->by_id : NULL);
            tf_json_str(json, "url", d->url);
            tf_json_object_end(json);
        } else {
            printf("  %-10s %s %s rev %s  serial %s\n", d->hctl, d->vendor, d->model,
                   d->revision, d->serial[0] ? d->serial : "(none)");
            printf("             url %s  (nst %s, sg %s)\n", d->url, d->nst[0] ? d->nst : "-",
                   d->sg[0] ? d->sg : "-");
            if (d->by_id[0])
                printf("             by-id %s  -> configure as url = serial:%s\n", d->by_id,
                       d->serial[0] ? d->serial : "?");
        }
    }
    if (json) {
        tf_json_array_end(json);
        tf_json_array_begin(json, "configured");
    } else {
        printf("Configured drives (%zu):\n", names ? zlist_size(names) : 0);
    }
    for (const char *name = names ? zlist_first(names) : NULL; name; name = zlist_next(names)) {
        char key[300], url[1024];
        snprintf(key, sizeof key, "drives/%s/url", name);
        const char *value = tf_config_get(cfg, key);
        tf_err_t rerr = {0, ""};
        int rc = tf_drive_resolve(cfg, name, args->sysfs, args->dev, url, sizeof url, &rerr);
        if (json) {
            tf_json_object_begin(json, NULL);
            tf_json_str(json, "name", name);
            tf_json_str(json, "configured", value);
            tf_json_str(json, "url", rc == TF_OK ? url : NULL);
            tf_json_str(json, "error", rc == TF_OK ? NULL : rerr.message);
            tf_json_object_end(json);
        } else {
            printf("  %-10s %s -> %s\n", name, value ? value : "(no url)",
                   rc == TF_OK ? url : rerr.message);
        }
    }
    if (json) {
        tf_json_array_end(json);
        tf_json_object_end(json);
        s_print_json(json);
        tf_json_destroy(&json);
    }
    if (names)
        zlist_destroy(&names);
    tf_discover_destroy(&found);
    return 0;
}

/* What `drive status` learns from the drive: each query's answer or why it failed. */
typedef struct {
    const char *drive;       /* as the operator named it */
    char url[1024];
    tf_drive_inquiry_t inq;
    int inq_rc;
    char inq_err[TF_ERR_MESSAGE_MAX];
    int ready_rc;
    tf_err_t rerr;
    tf_drive_cond_t ready_cond;
    tf_drive_medium_t medium;
    int medium_rc;
    tf_err_t merr;
    tf_drive_limits_t limits;
    int limits_rc;
    tf_drive_pos_t pos;
    int pos_rc;
    uint64_t alerts;
    int alert_rc;
    tf_err_t aerr;
    char fallbacks[512];   /* as tf_drive_fallbacks says them */
} s_probe_t;

/* Asks the open drive everything `drive status` shows; a failed query is kept, not fatal. */
static void
s_probe(tf_drive_t *drive, s_probe_t *p)
{
    tf_err_t err = {0, ""};
    p->inq_rc = tf_drive_inquiry(drive, &p->inq, &err);
    snprintf(p->inq_err, sizeof p->inq_err, "%s", err.message);
    p->ready_rc = tf_drive_test_unit_ready(drive, &p->rerr);
    p->ready_cond = tf_drive_last_cond(drive);
    p->medium_rc = tf_drive_medium_status(drive, &p->medium, &p->merr);
    tf_err_t lerr = {0, ""};
    p->limits_rc = tf_drive_block_limits(drive, &p->limits, &lerr);
    tf_err_t perr = {0, ""};
    p->pos_rc = p->ready_rc == TF_OK ? tf_drive_read_position(drive, &p->pos, &perr) : TF_ERR_STATE;
    p->alert_rc = tf_drive_tapealert(drive, &p->alerts, &p->aerr);
    snprintf(p->fallbacks, sizeof p->fallbacks, "%s", tf_drive_fallbacks(drive));
}

static void
s_status_json(const s_probe_t *p)
{
    tf_json_t *json = tf_json_new();
    tf_json_document_begin(json);
    tf_json_str(json, "drive", p->drive);
    tf_json_str(json, "url", p->url);
    if (p->inq_rc == TF_OK) {
        tf_json_str(json, "vendor", p->inq.vendor);
        tf_json_str(json, "product", p->inq.product);
        tf_json_str(json, "revision", p->inq.revision);
        tf_json_str(json, "serial", p->inq.serial);
        tf_json_int(json, "device_type", p->inq.device_type);
    } else {
        tf_json_str(json, "error", p->inq_err);
    }
    tf_json_bool(json, "ready", p->ready_rc == TF_OK);
    tf_json_str(json, "condition", tf_drive_cond_name(p->ready_cond));
    if (p->medium_rc == TF_OK) {
        tf_json_bool(json, "medium_present", p->medium.present);
        tf_json_bool(json, "write_protected", p->medium.write_protected);
        tf_json_int(json, "density", p->medium.density);
        tf_json_int(json, "block_length", p->medium.block_length);
    }
    if (p->limits_rc == TF_OK) {
        tf_json_int(json, "min_block", p->limits.min_block);
        tf_json_int(json, "max_block", p->limits.max_block);
    }
    if (p->pos_rc == TF_OK) {
        tf_json_object_begin(json, "position");
        if (p->pos.file_known)
            tf_json_int(json, "file", (int64_t) p->pos.file);
        if (p->pos.block_known)
            tf_json_int(json, "block", (int64_t) p->pos.block);
        if (p->pos.object_known)
            tf_json_int(json, "object", (int64_t) p->pos.object);
        tf_json_str(json, "source", p->pos.source == TF_DRIVE_POS_DRIVE ? "drive" : "tracked");
        tf_json_object_end(json);
    }
    if (p->alert_rc == TF_OK) {
        tf_json_array_begin(json, "tapealert");
        for (int f = 1; f <= 64; f++)
            if (p->alerts & (1ull << (f - 1)))
                tf_json_str(json, NULL, tf_drive_tapealert_name(f));
        tf_json_array_end(json);
    }
    tf_json_str(json, "fallbacks", p->fallbacks);
    tf_json_object_end(json);
    s_print_json(json);
    tf_json_destroy(&json);
}

static void
s_status_text(const s_probe_t *p)
{
    printf("%s\n", p->url);
    if (p->inq_rc == TF_OK)
        printf("  identity:   %s %s rev %s, serial %s, device type %u%s\n", p->inq.vendor,
               p->inq.product, p->inq.revision, p->inq.serial[0] ? p->inq.serial : "(none)",
               p->inq.device_type, p->inq.device_type == 1 ? " (tape)" : " (NOT a tape drive)");
    else
        printf("  identity:   %s\n", p->inq_err);
    printf("  ready:      %s\n", p->ready_rc == TF_OK ? "yes" : p->rerr.message);
    if (p->medium_rc == TF_OK)
        printf("  cartridge:  %s, %s, density 0x%02x, %s\n",
               p->medium.present ? "loaded" : "none",
               p->medium.write_protected ? "WRITE-PROTECTED" : "writable", p->medium.density,
               p->medium.block_length ? "fixed blocks" : "variable blocks");
    else
        printf("  cartridge:  %s\n", p->merr.message);
    if (p->limits_rc == TF_OK)
        printf("  blocks:     %u .. %u bytes\n", p->limits.min_block, p->limits.max_block);
    if (p->pos_rc == TF_OK) {
        char file[32] = "unknown", block[32] = "unknown";
        if (p->pos.file_known)
            snprintf(file, sizeof file, "%llu", (unsigned long long) p->pos.file);
        if (p->pos.block_known)
            snprintf(block, sizeof block, "%llu", (unsigned long long) p->pos.block);
        printf("  position:   tape file %s, block %s (%s)\n", file, block,
               p->pos.source == TF_DRIVE_POS_DRIVE ? "from the drive" : "tracked");
    }
    if (p->alert_rc == TF_OK) {
        printf("  TapeAlert:  %s", p->alerts ? "" : "none\n");
        for (int f = 1, first = 1; f <= 64; f++)
            if (p->alerts & (1ull << (f - 1))) {
                printf("%s%d %s", first ? "" : ", ", f, tf_drive_tapealert_name(f));
                first = 0;
            }
        if (p->alerts)
            printf("\n");
    } else {
        printf("  TapeAlert:  %s\n", p->aerr.message);
    }
    if (*p->fallbacks)
        printf("  fallbacks:  %s\n", p->fallbacks);
}

static int
s_status(tf_config_t *cfg, const s_args_t *args)
{
    s_probe_t *p = calloc(1, sizeof *p);
    if (!p) {
        fprintf(stderr, "tapeflow drive status: out of memory\n");
        return 1;
    }
    p->drive = args->drive;
    tf_err_t err = {0, ""};
    int rc = 1;
    tf_drive_t *drive = NULL;
    if (tf_drive_resolve(cfg, args->drive, args->sysfs, args->dev, p->url, sizeof p->url, &err)
        != TF_OK) {
        fprintf(stderr, "tapeflow drive status: %s\n", err.message);
        goto done;
    }
    drive = tf_drive_open(p->url, &err);
    if (!drive) {
        if (args->json) {
            tf_json_t *json = tf_json_new();
            tf_json_document_begin(json);
            tf_json_str(json, "drive", p->drive);
            tf_json_str(json, "url", p->url);
            tf_json_str(json, "error", err.message);
            tf_json_object_end(json);
            s_print_json(json);
            tf_json_destroy(&json);
        } else {
            printf("%s: cannot open: %s\n", p->url, err.message);
        }
        goto done;
    }
    s_probe(drive, p);
    if (args->json)
        s_status_json(p);
    else
        s_status_text(p);
    rc = p->inq_rc == TF_OK ? 0 : 1;
done:
    tf_drive_destroy(&drive);
    free(p);
    return rc;
}

static int
s_doctor(tf_config_t *cfg, const s_args_t *args)
{
    tf_doctor_opts_t opts = {cfg, args->sysfs, args->dev, (int64_t) (args->timeout_s * 1000)};
    tf_doctor_report_t *report = calloc(1, sizeof *report);
    if (!report) {
        fprintf(stderr, "tapeflow drive doctor: out of memory\n");
        return 1;
    }
    int rc = tf_drive_doctor_run(args->drive, &opts, report);
    if (args->json) {
        tf_json_t *json = tf_json_new();
        tf_json_document_begin(json);
        tf_json_str(json, "drive", report->drive);
        tf_json_str(json, "url", report->url[0] ? report->url : NULL);
        tf_json_bool(json, "ok", rc == TF_OK);
        tf_json_str(json, "first_failure",
                    report->first_failure >= 0
                        ? tf_drive_doctor_step_name((tf_doctor_step_t) report->first_failure)
                        : NULL);
        tf_json_array_begin(json, "steps");
        for (int i = 0; i < TF_DOCTOR_STEPS; i++) {
            const tf_doctor_result_t *r = &report->steps[i];
            tf_json_object_begin(json, NULL);
            tf_json_str(json, "step", tf_drive_doctor_step_name(r->step));
            tf_json_str(json, "title", tf_drive_doctor_step_title(r->step));
            tf_json_str(json, "state", tf_drive_doctor_state_name(r->state));
            tf_json_str(json, "detail", r->detail);
            if (r->state == TF_DOCTOR_FAIL || r->state == TF_DOCTOR_WARN) {
                tf_json_str(json, "meaning", r->meaning);
                tf_json_str(json, "action", r->action);
            }
            tf_json_object_end(json);
        }
        tf_json_array_end(json);
        tf_json_object_end(json);
        s_print_json(json);
        tf_json_destroy(&json);
    } else {
        printf("Diagnosing %s%s%s\n", report->drive, report->url[0] ? " -> " : "", report->url);
        for (int i = 0; i < TF_DOCTOR_STEPS; i++) {
            const tf_doctor_result_t *r = &report->steps[i];
            printf("  %-4s  %-24s %s\n", tf_drive_doctor_state_name(r->state),
                   tf_drive_doctor_step_title(r->step), r->detail);
        }
        if (report->first_failure >= 0) {
            const tf_doctor_result_t *r = &report->steps[report->first_failure];
            printf("\nFAILED at step '%s' (%s):\n  %s\n  What it means: %s\n  What to do:    %s\n",
                   tf_drive_doctor_step_title(r->step), tf_drive_doctor_step_name(r->step),
                   r->detail, r->meaning, r->action);
        } else {
            for (int i = 0; i < TF_DOCTOR_STEPS; i++)
                if (report->steps[i].state == TF_DOCTOR_WARN)
                    printf("\nWARNING at step '%s': %s\n  What to do: %s\n",
                           tf_drive_doctor_step_title(report->steps[i].step),
                           report->steps[i].meaning, report->steps[i].action);
            printf("\nThe drive is usable.\n");
        }
    }
    free(report);
    return rc == TF_OK ? 0 : 1;
}

static const char *
s_test_state(tf_selftest_state_t state)
{
    return state == TF_SELFTEST_PASS ? "PASS" : state == TF_SELFTEST_FAIL ? "FAIL" : "skip";
}

typedef struct {
    tf_config_t *cfg;
    tf_cmd_drive_guard_fn *guard;
    const char *destroy_volume;
} s_guard_t;

static int
s_guard(tf_drive_t *drive, void *arg, char *detail, size_t size, tf_err_t *err)
{
    s_guard_t *g = arg;
    return g->guard(g->cfg, drive, g->destroy_volume, detail, size, err);
}

static int
s_test(tf_config_t *cfg, tf_cmd_drive_guard_fn *guard, const s_args_t *args)
{
    if (!args->yes_overwrite) {
        fprintf(stderr,
                "tapeflow drive test: refusing to run: the self test DESTROYS ALL DATA on the "
                "tape in %s (it rewinds and writes from the start). Load a scratch tape and "
                "rerun with --yes-overwrite.\n",
                args->drive);
        return 2;
    }
    char url[1024];
    tf_err_t err = {0, ""};
    if (tf_drive_resolve(cfg, args->drive, args->sysfs, args->dev, url, sizeof url, &err)
        != TF_OK) {
        fprintf(stderr, "tapeflow drive test: %s\n", err.message);
        return 1;
    }
    if (args->destroy_volume && !guard) {
        fprintf(stderr, "tapeflow drive test: --destroy-volume needs the tapeflow volume rule, "
                        "which this build of the command lacks\n");
        return 2;
    }
    tf_selftest_report_t *report = calloc(1, sizeof *report);
    if (!report)
        return 1;
    if (!args->json)
        printf("Self test of %s (overwrites the tape)\n", url);
    tf_selftest_opts_t opts = args->test;
    s_guard_t g = {cfg, guard, args->destroy_volume};
    if (guard) {
        opts.guard = s_guard;
        opts.guard_arg = &g;
    }
    int rc = tf_drive_selftest_run(url, &opts, report, &err);
    if (args->json) {
        tf_json_t *json = tf_json_new();
        tf_json_document_begin(json);
        tf_json_str(json, "drive", args->drive);
        tf_json_str(json, "url", url);
        tf_json_bool(json, "passed", rc == TF_OK);
        if (rc != TF_OK)
            tf_json_str(json, "error", err.message);
        tf_json_double(json, "write_mb_s", report->write_mb_s);
        tf_json_double(json, "read_mb_s", report->read_mb_s);
        tf_json_int(json, "bytes_written", (int64_t) report->bytes_written);
        tf_json_str(json, "fallbacks", report->fallbacks);
        tf_json_array_begin(json, "steps");
        for (size_t i = 0; i < report->count; i++) {
            tf_json_object_begin(json, NULL);
            tf_json_str(json, "step", report->steps[i].name);
            tf_json_str(json, "state", s_test_state(report->steps[i].state));
            tf_json_str(json, "detail", report->steps[i].detail);
            tf_json_double(json, "seconds", report->steps[i].seconds);
            tf_json_object_end(json);
        }
        tf_json_array_end(json);
        tf_json_object_end(json);
        s_print_json(json);
        tf_json_destroy(&json);
    } else {
        for (size_t i = 0; i < report->count; i++)
            printf("  %-4s  %-28s %s (%.2f s)\n", s_test_state(report->steps[i].state),
                   report->steps[i].name, report->steps[i].detail, report->steps[i].seconds);
        if (report->count > 0)
            printf("Throughput: write %.1f MB/s, read %.1f MB/s\n", report->write_mb_s,
                   report->read_mb_s);
        if (report->fallbacks[0])
            printf("Fallbacks used: %s\n", report->fallbacks);
        if (rc == TF_OK)
            printf("Self test PASSED.\n");
        else
            fprintf(stderr, "tapeflow drive test: %s\n", err.message);
    }
    free(report);
    return rc == TF_OK ? 0 : 1;
}

const char *const tf_cmd_drive_verbs[] = {"list", "status", "doctor", "test", NULL};

int
tf_cmd_drive(tf_config_t *cfg, tf_cmd_drive_guard_fn *guard, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0
        || strcmp(argv[1], "-h") == 0) {
        s_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *verb = argv[1];
    bool known = false;
    char names[128] = "";
    for (size_t i = 0; tf_cmd_drive_verbs[i]; i++) {
        known = known || strcmp(verb, tf_cmd_drive_verbs[i]) == 0;
        size_t used = strlen(names);
        snprintf(names + used, sizeof names - used, "%s%s", i == 0 ? "" : !tf_cmd_drive_verbs[i + 1]
                 ? " or " : ", ", tf_cmd_drive_verbs[i]);
    }
    if (!known)
        return cli_verb_unknown("drive", names, verb);
    s_args_t args;
    int rc = s_parse(argc, argv, &args);
    if (rc >= 0)
        return rc;
    if (strcmp(verb, "list") == 0)
        return s_list(cfg, &args);
    if (!args.drive) {
        fprintf(stderr, "tapeflow drive %s: which drive? give a URL, serial:XYZ or a name\n",
                verb);
        s_usage(stderr);
        return 2;
    }
    if (strcmp(verb, "status") == 0)
        return s_status(cfg, &args);
    if (strcmp(verb, "doctor") == 0)
        return s_doctor(cfg, &args);
    return s_test(cfg, guard, &args);
}
