/*  cmd_tape_scan - `tapeflow tape scan DRIVE`: rebuild the catalog rows of a tape from the tape
    (docs/tape-format.md "Index records", docs/operations.md "Rebuilding the catalog").

    Needs the broker and the catalog running (the rows go to the catalog as items); opens the
    drive itself, which works between the tape writer's items (it opens its drive per item).
*/
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_opt.h"
#include "tapescan.h"
#include "tf_client.h"
#include "tf_clock.h"
#include "tf_drive.h"
#include "tf_drive_resolve.h"
#include "tf_json.h"

#define S_BUSY_WAIT_MS 30000

static const char s_help[] =
    "usage: tapeflow tape scan DRIVE [--json] [--timeout SECONDS]\n"
    "Reads the volume label, then the header, trailer and index records of every archive on\n"
    "the tape in DRIVE (spacing over the data blocks) and records the jobs, archives, tape\n"
    "positions and file entries in the catalog, so a lost catalog is rebuilt from the tapes.\n"
    "Archives without index records (older tapes) are read through their tar headers; tape\n"
    "files without a trailer (the writer was stopped) are reported and skipped. Scanning a tape\n"
    "again changes nothing. Scan every tape of a job for it to show as completed; an archive that\n"
    "spans volumes is recorded once every volume of its set is scanned (in any order).\n"
    "Needs the stack running (tapeflow up): the broker and the catalog.\n"
    "  --json              print the result as JSON\n"
    "  --timeout SECONDS   how long to wait for the catalog per item (default 30)\n";

typedef struct {
    const char *drive;
    bool json;
    int timeout_ms;
} s_args_t;

/* Returns -1 to go on, else the exit status. */
static int
s_parse(int argc, char **argv, bool json, s_args_t *a)
{
    static const struct option options[] = {
        {"json", no_argument, NULL, 'j'},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof *a);
    a->json = json;
    a->timeout_ms = 30000;
    int opt;
    cli_opt_begin();
    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
        case 'j': a->json = true; break;
        case 't': {
            int64_t n = 0;
            if (cli_opt_int("tape", "--timeout", optarg, 1, 86400, "a number of seconds", &n) != CLI_EXIT_OK)
                return CLI_EXIT_USAGE;
            a->timeout_ms = (int) n * 1000;
            break;
        }
        case 'h': fputs(s_help, stdout); return CLI_EXIT_OK;
        default: return cli_opt_error("tape scan", opt, argc, argv);
        }
    }
    if (optind < argc)
        a->drive = argv[optind++];
    if (optind < argc)
        return cli_usage_error("tape", "unexpected argument '%s'", argv[optind]);
    if (!a->drive)
        return cli_usage_error("tape", "name the drive (e.g. 'tapeflow tape scan tape0')");
    return -1;
}

/* Opens and readies the drive, waiting a while when the tape writer holds it. */
static tf_drive_t *
s_open(cli_t *cli, const char *name, char *url, size_t size, tf_err_t *err)
{
    if (tf_drive_resolve(cli->cfg, name, "/sys", "/dev", url, size, err) != TF_OK)
        return NULL;
    int64_t deadline = tf_clock_mono_ms() + S_BUSY_WAIT_MS;
    tf_drive_t *drive = NULL;
    for (;;) {
        drive = tf_drive_open(url, err);
        if (drive || err->code != TF_ERR_BUSY || tf_clock_mono_ms() >= deadline)
            break;
        tf_clock_sleep_ms(250);
    }
    if (!drive) {
        if (err->code == TF_ERR_BUSY)
            tf_err_prefix(err, "in use by another process for more than %d s (the tape writer holds its "
                          "drive while it writes or restores an archive): ", S_BUSY_WAIT_MS / 1000);
        return NULL;
    }
    int rc = tf_drive_wait_ready(drive, 120000, err);
    if (rc == TF_OK)
        rc = tf_drive_set_variable(drive, err);
    if (rc != TF_OK)
        tf_drive_destroy(&drive);
    return drive;
}

static void
s_print_json(const s_args_t *a, const char *url, const tapescan_result_t *r)
{
    tf_json_t *j = tf_json_new();
    if (!j)
        return;
    tf_json_document_begin(j);
    tf_json_str(j, "drive", a->drive);
    tf_json_str(j, "url", url);
    tf_json_str(j, "volume", r->volume);
    tf_json_str(j, "pool", r->pool);
    tf_json_int(j, "jobs_found", (int64_t) r->jobs_count);
    tf_json_int(j, "archives_found", (int64_t) (r->from_index + r->from_headers));
    tf_json_int(j, "files", (int64_t) r->files);
    tf_json_int(j, "from_index", (int64_t) r->from_index);
    tf_json_int(j, "from_headers", (int64_t) r->from_headers);
    tf_json_int(j, "segments", (int64_t) r->segments);
    tf_json_int(j, "skipped", (int64_t) r->skipped);
    tf_json_int(j, "blocks_read", (int64_t) r->blocks_read);
    tf_json_int(j, "blocks_total", (int64_t) r->blocks_total);
    tf_json_array_begin(j, "jobs");
    for (size_t i = 0; i < r->jobs_count; i++) {
        const tapescan_job_t *job = &r->jobs[i];
        tf_json_object_begin(j, NULL);
        tf_json_str(j, "job_id", job->job_id);
        tf_json_int(j, "archives", (int64_t) job->archives);
        tf_json_int(j, "files", (int64_t) job->files);
        tf_json_bool(j, "totals", job->totals);
        tf_json_bool(j, "derived", job->derived);
        tf_json_str(j, "status", job->status[0] ? job->status : NULL);
        tf_json_str(j, "message", job->message[0] ? job->message : NULL);
        tf_json_object_end(j);
    }
    tf_json_array_end(j);
    tf_json_array_begin(j, "archives");
    for (size_t i = 0; i < r->archives_count; i++) {
        const tapescan_archive_t *ar = &r->archives[i];
        tf_json_object_begin(j, NULL);
        tf_json_int(j, "tape_file", (int64_t) ar->tape_file);
        tf_json_str(j, "archive_id", ar->archive_id[0] ? ar->archive_id : NULL);
        tf_json_str(j, "job_id", ar->job_id[0] ? ar->job_id : NULL);
        tf_json_int(j, "group", (int64_t) ar->group_no);
        tf_json_int(j, "files", (int64_t) ar->files);
        tf_json_int(j, "blocks", (int64_t) ar->blocks);
        tf_json_str(j, "source", tapescan_source_name(ar->source));
        tf_json_str(j, "message", ar->message[0] ? ar->message : NULL);
        if (ar->segment > 0) {
            tf_json_object_begin(j, "segment");
            tf_json_int(j, "number", (int64_t) ar->segment);
            tf_json_str(j, "volume", r->volume);
            tf_json_int(j, "tape_file", (int64_t) ar->tape_file);
            tf_json_int(j, "block", (int64_t) ar->block);
            tf_json_int(j, "offset", (int64_t) ar->offset);
            tf_json_int(j, "length", (int64_t) ar->length);
            tf_json_int(j, "data_blocks", (int64_t) ar->data_blocks);
            tf_json_str(j, "checksum", ar->checksum);
            tf_json_bool(j, "last", ar->last);
            tf_json_object_end(j);
        }
        tf_json_object_end(j);
    }
    tf_json_array_end(j);
    tf_json_object_end(j);
    const char *text = tf_json_text(j);
    printf("%s\n", text ? text : "{}");
    tf_json_destroy(&j);
}

static void
s_print_text(const s_args_t *a, const tapescan_result_t *r)
{
    printf("tape %s (pool %s) in drive %s\n", r->volume, r->pool, a->drive);
    if (r->archives_count > 0)
        printf("%6s  %-40s %9s  %s\n", "FILE", "ARCHIVE", "FILES", "FROM");
    for (size_t i = 0; i < r->archives_count; i++) {
        const tapescan_archive_t *ar = &r->archives[i];
        bool skipped = ar->source != TAPESCAN_INDEX && ar->source != TAPESCAN_HEADERS
                       && ar->source != TAPESCAN_SEGMENT;
        char files[32];
        snprintf(files, sizeof files, skipped || ar->source == TAPESCAN_SEGMENT ? "-" : "%" PRIu64, ar->files);
        printf("%6" PRIu64 "  %-40s %9s  %s%s%s\n", ar->tape_file, ar->archive_id[0] ? ar->archive_id : "?", files,
               tapescan_source_name(ar->source), ar->message[0] ? ": " : "", ar->message);
        if (ar->segment > 0 && !skipped)
            printf("%6s  segment %" PRIu64 "%s: block %" PRIu64 ", bytes %" PRIu64 "..%" PRIu64 " (%" PRIu64
                   " bytes in %" PRIu64 " blocks, %s)\n", "", ar->segment, ar->last ? " (last)" : "", ar->block,
                   ar->offset, ar->offset + ar->length, ar->length, ar->data_blocks, ar->checksum);
    }
    for (size_t i = 0; i < r->jobs_count; i++) {
        const tapescan_job_t *job = &r->jobs[i];
        printf("job %s: %" PRIu64 " archive%s, %" PRIu64 " files on this tape; %s%s%s%s\n", job->job_id,
               job->archives, job->archives == 1 ? "" : "s", job->files,
               job->status[0] ? job->status : "status unknown", job->message[0] ? " (" : "", job->message,
               job->message[0] ? ")" : "");
    }
    uint64_t archives = r->from_index + r->from_headers;
    if (r->segments > 0)
        printf("%" PRIu64 " segment%s of spanned archives recorded (an archive is complete once all its "
               "volumes are scanned)\n", r->segments, r->segments == 1 ? "" : "s");
    printf("rebuilt %zu job%s, %" PRIu64 " archive%s, %" PRIu64 " files (%" PRIu64 " archive%s from the tape "
           "index, %" PRIu64 " from tar headers, %" PRIu64 " tape file%s skipped)\n",
           r->jobs_count, r->jobs_count == 1 ? "" : "s", archives, archives == 1 ? "" : "s", r->files,
           r->from_index, r->from_index == 1 ? "" : "s", r->from_headers, r->skipped, r->skipped == 1 ? "" : "s");
    printf("read %" PRIu64 " of %" PRIu64 " blocks (%.1f%%)\n", r->blocks_read, r->blocks_total,
           r->blocks_total ? 100.0 * (double) r->blocks_read / (double) r->blocks_total : 0.0);
}

/* tapescan's catalog call: one work item to the catalog through the broker. */
static int
s_catalog_call(void *arg, const char *job_id, const tf_msg_t *msg, tf_msg_t *result, int timeout_ms,
               tf_err_t *err)
{
    return tf_client_call((tf_client_t *) arg, "catalog", NULL, job_id, msg, result, timeout_ms, err);
}

int
cmd_tape_scan(cli_t *cli, int argc, char **argv)
{
    s_args_t a;
    int rc = s_parse(argc, argv, cli->json, &a);
    if (rc >= 0)
        return rc;
    tf_err_t err = {0};
    const char *endpoint = tf_config_get(cli->cfg, "broker/endpoint");
    tf_client_t *client = tf_client_new(cli->cfg, endpoint, &err);
    tf_msg_t status;
    if (client && tf_client_status(client, &status, 5000, &err) == TF_OK)
        tf_msg_clear(&status);
    else {
        fprintf(stderr, "tapeflow tape scan: %s\n", err.message);
        tf_client_destroy(&client);
        return CLI_EXIT_FAIL;
    }
    char url[1024] = "";
    tf_drive_t *drive = s_open(cli, a.drive, url, sizeof url, &err);
    if (!drive) {
        fprintf(stderr, "tapeflow tape scan: drive %s: %s\n", a.drive, err.message);
        tf_client_destroy(&client);
        return CLI_EXIT_FAIL;
    }
    tapescan_opts_t opts = {.drive_name = a.drive, .call = s_catalog_call, .call_arg = client,
                            .timeout_ms = a.timeout_ms};
    tapescan_result_t res;
    rc = tapescan_run(drive, &opts, &res, &err);
    tf_drive_destroy(&drive);
    tf_client_destroy(&client);
    if (rc != TF_OK)
        fprintf(stderr, "tapeflow tape scan: %s\n", err.message);
    if (rc == TF_OK || res.volume[0]) {
        if (a.json)
            s_print_json(&a, url, &res);
        else
            s_print_text(&a, &res);
    }
    tapescan_result_clear(&res);
    return rc == TF_OK ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}
