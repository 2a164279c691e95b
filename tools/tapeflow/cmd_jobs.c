/*  tapeflow jobs [--limit N] [--json] / tapeflow job ID [--missing | --files [--changed]]
    [--json] - jobs from the catalog.

    Both run a cat_query item on the `catalog` service through the broker (cli_jobview.c).
    Exit status: 0 shown; 1 the broker or catalog did not answer, the job is unknown, or (job)
    the job ended other than completed (completed_with_warnings, failed, expired); 2 usage error.
    job --missing, --files: 0 when the list was shown.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_opt.h"
#include "cli_jobview.h"
#include "tf_client.h"
#include "tf_json.h"

static const char s_jobs_help[] =
    "usage: tapeflow [--config FILE] jobs [--limit N] [--json] [--timeout SECONDS]\n"
    "\n"
    "Lists backup jobs from the catalog, newest first (default the last 100): id, status\n"
    "(queued, running, completed, completed_with_warnings, failed, expired), level (full,\n"
    "differential, incremental), trigger (the schedule that fired it, or manual), base job\n"
    "(what an incremental or differential was compared with), current stage, creation time,\n"
    "files and bytes done/total, and the message. 'tapeflow job ID' shows one job in full.\n"
    "\n"
    "  --limit N           show at most N jobs (1..100000)\n"
    "  --json              one JSON object: {\"jobs\": [...], \"truncated\": bool}\n"
    "  --timeout SECONDS   how long to wait for the catalog (default 10)\n";

static const char s_job_help[] =
    "usage: tapeflow [--config FILE] job ID [--missing | --files [--changed]] [--json]\n"
    "                [--timeout SECONDS]\n"
    "\n"
    "Shows one job from the catalog: status, stage, level (and why it was upgraded to full),\n"
    "base job, trigger, entries unchanged since the base and deleted, the jobs a restore of\n"
    "it reads too (depends on), times, pool, files and bytes done/total, archives written,\n"
    "warnings, message, and on failure the detail (the root cause).\n"
    "Exit 1 when the job is unknown or ended other than completed: completed_with_warnings\n"
    "(entries missing), failed, cancelled or expired (its tape was recycled).\n"
    "Actions: tapeflow job cancel|retry|purge ID (each with --help).\n"
    "\n"
    "  --missing           list the entries the scan counted that no archive stored (vanished\n"
    "                      or unreadable when the compressor came to them), with the reason;\n"
    "                      exit 0 when the list was shown\n"
    "  --files             list the job's manifest, one line per entry: REASON  PATH (why it\n"
    "                      was stored: full, new, changed: size, mtime ..., renamed from P; or\n"
    "                      unchanged, deleted, renamed to P); exit 0 when the list was shown\n"
    "  --changed           with --files: only the entries the job stored or deleted\n"
    "  --json              the job (or with --missing / --files the list) as one JSON object\n"
    "  --timeout SECONDS   how long to wait for the catalog (default 10)\n";

static int s_usage(const char *help, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
s_usage(const char *help, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("tapeflow: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n", stderr);
    va_end(ap);
    fputs(help, stderr);
    return CLI_EXIT_USAGE;
}

/* Whole number in [min, max]; false when text is not one. */
static bool
s_number(const char *text, uint64_t min, uint64_t max, uint64_t *value)
{
    if (!text || !*text || *text == '-' || *text == '+')
        return false;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return false;
    *value = v;
    return true;
}

typedef struct {
    bool json;
    bool missing;
    bool files;
    bool changed;
    uint64_t limit;
    int timeout_ms;
    const char *job_id;
} s_args_t;

/* Parses argv[1..]; with_id: one positional job id (job) instead of --limit (jobs). Returns
   -1 to go on, else the exit status. */
static int
s_parse(cli_t *cli, int argc, char **argv, bool with_id, s_args_t *a)
{
    static const struct option jobs_options[] = {
        {"json", no_argument, NULL, 'j'},
        {"limit", required_argument, NULL, 'l'},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const struct option job_options[] = {
        {"json", no_argument, NULL, 'j'},
        {"missing", no_argument, NULL, 'm'},
        {"files", no_argument, NULL, 'f'},
        {"changed", no_argument, NULL, 'c'},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *help = with_id ? s_job_help : s_jobs_help;
    memset(a, 0, sizeof *a);
    a->json = cli->json;
    a->timeout_ms = CLI_JOB_TIMEOUT_MS;
    int opt;
    cli_opt_begin();
    while ((opt = getopt_long(argc, argv, ":h",
                              with_id ? job_options : jobs_options, NULL)) != -1) {
        uint64_t n;
        switch (opt) {
        case 'j': a->json = true; break;
        case 'm': a->missing = true; break;
        case 'f': a->files = true; break;
        case 'c': a->changed = true; break;
        case 't':
            if (!s_number(optarg, 1, 86400, &n))
                return s_usage(help, "--timeout needs a number of seconds (1..86400), got '%s'",
                               optarg);
            a->timeout_ms = (int) n * 1000;
            break;
        case 'l':
            if (!s_number(optarg, 1, TF_MSG_MAX_ROWS, &n))
                return s_usage(help, "--limit needs a number of jobs (1..100000), got '%s'", optarg);
            a->limit = n;
            break;
        case 'h': fputs(help, stdout); return CLI_EXIT_OK;
        default: return cli_opt_error(with_id ? "job" : "jobs", opt, argc, argv);
        }
    }
    if (with_id && optind < argc)
        a->job_id = argv[optind++];
    if (optind < argc)
        return s_usage(help, "unexpected argument '%s'", argv[optind]);
    if (with_id && (!a->job_id || !*a->job_id))
        return s_usage(help, "%s", "job: which job? give its id (tapeflow jobs lists them)");
    if (a->files && a->missing)
        return s_usage(help, "%s", "job: --files and --missing are two lists: give one");
    if (a->changed && !a->files)
        return s_usage(help, "%s", "job: --changed filters --files: give both");
    return -1;
}

static tf_client_t *
s_client(cli_t *cli, tf_err_t *err)
{
    return tf_client_new(cli->cfg, tf_config_get(cli->cfg, "broker/endpoint"), err);
}

/* Prints the JSON document, or reports that memory ran out. */
static int
s_emit_json(tf_json_t *j, const char *command)
{
    const char *text = j ? tf_json_text(j) : NULL;
    if (!text) {
        fprintf(stderr, "tapeflow %s: out of memory building JSON\n", command);
        return CLI_EXIT_FAIL;
    }
    printf("%s\n", text);
    return CLI_EXIT_OK;
}

/* The error as JSON on stdout (for scripts) and as text on stderr (for people). */
static int
s_fail(const char *command, bool json, const tf_err_t *err)
{
    if (json) {
        tf_json_t *j = tf_json_new();
        if (j) {
            tf_json_document_begin(j);
            tf_json_str(j, "error", err->message);
            tf_json_str(j, "code", tf_status_name(err->code));
            tf_json_object_end(j);
            s_emit_json(j, command);
            tf_json_destroy(&j);
        }
    }
    fprintf(stderr, "tapeflow %s: %s\n", command, err->message);
    return CLI_EXIT_FAIL;
}

int
cmd_jobs(cli_t *cli, int argc, char **argv)
{
    s_args_t a;
    int rc = s_parse(cli, argc, argv, false, &a);
    if (rc >= 0)
        return rc;
    tf_err_t err = {0};
    tf_client_t *client = s_client(cli, &err);
    if (!client)
        return s_fail("jobs", a.json, &err);
    tf_msg_cat_query_t query = {.query = "jobs", .limit = a.limit};
    tf_msg_t reply;
    rc = cli_catalog_query(client, &query, &reply, a.timeout_ms, &err);
    tf_client_destroy(&client);
    if (rc != TF_OK)
        return s_fail("jobs", a.json, &err);
    const tf_msg_cat_reply_t *r = &reply.cat_reply;
    rc = CLI_EXIT_OK;
    if (a.json) {
        tf_json_t *j = tf_json_new();
        if (j) {
            tf_json_document_begin(j);
            tf_json_array_begin(j, "jobs");
            for (size_t i = 0; i < r->jobs_count; i++)
                cli_job_json(j, NULL, &r->jobs[i]);
            tf_json_array_end(j);
            tf_json_bool(j, "truncated", r->truncated);
            tf_json_object_end(j);
        }
        rc = s_emit_json(j, "jobs");
        tf_json_destroy(&j);
    }
    else {
        cli_jobs_table(stdout, r->jobs, r->jobs_count);
        if (r->truncated)
            printf("(the newest %zu jobs; --limit N shows more)\n", r->jobs_count);
    }
    fflush(stdout);
    tf_msg_clear(&reply);
    return rc;
}

/* tapeflow job ID --missing: the entries of the job no archive stored. */
static int
s_job_missing(cli_t *cli, const s_args_t *a)
{
    tf_err_t err = {0};
    tf_client_t *client = s_client(cli, &err);
    if (!client)
        return s_fail("job", a->json, &err);
    tf_msg_t job;
    int rc = cli_job_fetch(client, a->job_id, &job, a->timeout_ms, &err);
    tf_msg_t reply;
    memset(&reply, 0, sizeof reply);
    tf_msg_cat_query_t query = {.query = "missing", .job_id = (char *) a->job_id};
    if (rc == TF_OK)
        rc = cli_catalog_query(client, &query, &reply, a->timeout_ms, &err);
    tf_client_destroy(&client);
    if (rc != TF_OK) {
        tf_msg_clear(&job);
        return s_fail("job", a->json, &err);
    }
    const tf_msg_job_row_t *j = &job.cat_reply.jobs[0];
    const tf_msg_cat_reply_t *r = &reply.cat_reply;
    uint64_t uncounted = j->files_done < j->files_total ? j->files_total - j->files_done : 0;
    rc = CLI_EXIT_OK;
    if (a->json) {
        tf_json_t *out = tf_json_new();
        if (out) {
            tf_json_document_begin(out);
            tf_json_str(out, "job_id", j->job_id);
            tf_json_str(out, "status", j->status);
            tf_json_int(out, "files_total", (int64_t) j->files_total);
            tf_json_int(out, "files_done", (int64_t) j->files_done);
            tf_json_int(out, "missing_count", (int64_t) uncounted);
            tf_json_array_begin(out, "missing");
            for (size_t i = 0; i < r->missing_count; i++) {
                tf_json_object_begin(out, NULL);
                tf_json_str(out, "path", r->missing[i].path);
                tf_json_str(out, "reason", r->missing[i].reason);
                tf_json_object_end(out);
            }
            tf_json_array_end(out);
            tf_json_bool(out, "truncated", r->truncated);
            tf_json_object_end(out);
        }
        rc = s_emit_json(out, "job");
        tf_json_destroy(&out);
    }
    else {
        for (size_t i = 0; i < r->missing_count; i++)
            printf("%s\t%s\n", r->missing[i].path, r->missing[i].reason ? r->missing[i].reason : "");
        if (r->truncated)
            printf("(the first %zu; more are missing)\n", r->missing_count);
        if (!j->scanned)
            fprintf(stderr, "job %s is still scanning: nothing is missing yet\n", j->job_id);
        else if (uncounted == 0 && r->missing_count == 0)
            fprintf(stderr, "job %s: nothing missing (%" PRIu64 " of %" PRIu64 " entries stored so far, "
                    "status %s)\n", j->job_id, j->files_done, j->files_total, j->status);
        else
            fprintf(stderr, "job %s: %zu entr%s missing (skipped by the compressor); %" PRIu64 " of %" PRIu64
                    " entries stored, status %s\n", j->job_id, r->missing_count,
                    r->missing_count == 1 ? "y" : "ies", j->files_done, j->files_total, j->status);
    }
    fflush(stdout);
    tf_msg_clear(&reply);
    tf_msg_clear(&job);
    return rc;
}

/* An entry the job stored or deleted (--changed): anything but an unchanged one. */
static bool
s_manifest_changed(const tf_msg_manifest_row_t *row)
{
    return !row->reason || strcmp(row->reason, "unchanged") != 0;
}

/* tapeflow job ID --files [--changed]: the job's manifest with why each entry was taken. */
static int
s_job_files(cli_t *cli, const s_args_t *a)
{
    tf_err_t err = {0};
    tf_client_t *client = s_client(cli, &err);
    if (!client)
        return s_fail("job", a->json, &err);
    tf_msg_t reply;
    tf_msg_cat_query_t query = {.query = "manifest", .job_id = (char *) a->job_id, .limit = TF_MSG_MAX_ROWS};
    int rc = cli_catalog_query(client, &query, &reply, a->timeout_ms, &err);
    tf_client_destroy(&client);
    if (rc != TF_OK)
        return s_fail("job", a->json, &err);
    const tf_msg_cat_reply_t *r = &reply.cat_reply;
    rc = CLI_EXIT_OK;
    size_t shown = 0;
    if (a->json) {
        tf_json_t *out = tf_json_new();
        if (out) {
            tf_json_document_begin(out);
            tf_json_str(out, "job_id", a->job_id);
            tf_json_array_begin(out, "files");
            for (size_t i = 0; i < r->manifest_count; i++) {
                const tf_msg_manifest_row_t *row = &r->manifest[i];
                if (a->changed && !s_manifest_changed(row))
                    continue;
                tf_json_object_begin(out, NULL);
                tf_json_str(out, "path", row->path);
                tf_json_str(out, "host", row->host);
                tf_json_str(out, "type", row->type);
                tf_json_int(out, "size", (int64_t) row->size);
                tf_json_str(out, "reason", row->reason);
                tf_json_str(out, "data_job", row->data_job);
                tf_json_bool(out, "deleted", row->deleted);
                tf_json_object_end(out);
            }
            tf_json_array_end(out);
            tf_json_bool(out, "truncated", r->truncated);
            tf_json_object_end(out);
        }
        rc = s_emit_json(out, "job");
        tf_json_destroy(&out);
    }
    else {
        for (size_t i = 0; i < r->manifest_count; i++) {
            const tf_msg_manifest_row_t *row = &r->manifest[i];
            if (a->changed && !s_manifest_changed(row))
                continue;
            shown++;
            printf("%s  %s%s%s\n", row->reason ? row->reason : "-", row->host ? row->host : "",
                   row->host ? ":" : "", row->path);
        }
        if (r->truncated)
            printf("(the first %zu entries; the manifest has more)\n", r->manifest_count);
        if (r->manifest_count == 0)
            fprintf(stderr, "job %s has no manifest: it ran before levels, or its scan has not started\n",
                    a->job_id);
        else if (shown == 0)
            fprintf(stderr, "job %s: nothing changed since its base job\n", a->job_id);
    }
    fflush(stdout);
    tf_msg_clear(&reply);
    return rc;
}

int
cmd_job(cli_t *cli, int argc, char **argv)
{
    /* tapeflow job cancel|retry|purge ID (cmd_job_actions.c) */
    for (size_t i = 0; argc > 1 && cli_job_verbs[i].name; i++)
        if (strcmp(argv[1], cli_job_verbs[i].name) == 0)
            return cli_job_verbs[i].fn(cli, argc - 1, argv + 1);
    s_args_t a;
    int rc = s_parse(cli, argc, argv, true, &a);
    if (rc >= 0)
        return rc;
    if (a.missing)
        return s_job_missing(cli, &a);
    if (a.files)
        return s_job_files(cli, &a);
    tf_err_t err = {0};
    tf_client_t *client = s_client(cli, &err);
    if (!client)
        return s_fail("job", a.json, &err);
    tf_msg_t reply;
    rc = cli_job_fetch(client, a.job_id, &reply, a.timeout_ms, &err);
    tf_client_destroy(&client);
    if (rc != TF_OK)
        return s_fail("job", a.json, &err);
    const tf_msg_job_row_t *job = &reply.cat_reply.jobs[0];
    if (a.json) {
        tf_json_t *j = tf_json_new();
        if (j)
            cli_job_json_document(j, job);
        rc = s_emit_json(j, "job");
        tf_json_destroy(&j);
    }
    else {
        cli_job_print(stdout, job);
        rc = CLI_EXIT_OK;
    }
    /* A script can tell "every entry is on tape" from anything else that ended. */
    if (rc == CLI_EXIT_OK && cli_job_finished(job) && !cli_job_ok(job))
        rc = CLI_EXIT_FAIL;
    fflush(stdout);
    tf_msg_clear(&reply);
    return rc;
}
