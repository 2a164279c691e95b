/*  tapeflow jobs [--limit N] [--json] / tapeflow job ID [--json] - jobs from the catalog.

    Both run a cat_query item on the `catalog` service through the broker (cli_jobview.c).
    Exit status: 0 shown; 1 the broker or catalog did not answer, the job is unknown, or (job)
    the job failed; 2 usage error.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_jobview.h"
#include "tf_client.h"
#include "tf_json.h"

static const char s_jobs_help[] =
    "usage: tapeflow [--config FILE] jobs [--limit N] [--json] [--timeout SECONDS]\n"
    "\n"
    "Lists backup jobs from the catalog, newest first (default the last 100): id, status\n"
    "(queued, running, completed, failed), current stage, creation time, files and bytes\n"
    "done/total, and the message. 'tapeflow job ID' shows one job in full.\n"
    "\n"
    "  --limit N           show at most N jobs (1..100000)\n"
    "  --json              one JSON object: {\"jobs\": [...], \"truncated\": bool}\n"
    "  --timeout SECONDS   how long to wait for the catalog (default 10)\n";

static const char s_job_help[] =
    "usage: tapeflow [--config FILE] job ID [--json] [--timeout SECONDS]\n"
    "\n"
    "Shows one job from the catalog: status, stage, times, pool, files and bytes done/total,\n"
    "archives written, warnings, message, and on failure the detail (the root cause).\n"
    "Exit 1 when the job failed, was cancelled or is unknown.\n"
    "Actions: tapeflow job cancel|retry|purge ID (each with --help).\n"
    "\n"
    "  --json              the job as one JSON object\n"
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
    bool help;
    uint64_t limit;
    int timeout_ms;
    const char *job_id;
} s_args_t;

/* Parses argv[1..]; with_id: one positional job id (job) instead of --limit (jobs). */
static int
s_parse(cli_t *cli, int argc, char **argv, bool with_id, s_args_t *a)
{
    const char *help = with_id ? s_job_help : s_jobs_help;
    memset(a, 0, sizeof *a);
    a->json = cli->json;
    a->timeout_ms = CLI_JOB_TIMEOUT_MS;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        uint64_t n;
        if (strcmp(arg, "--json") == 0)
            a->json = true;
        else if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
            a->help = true;
        else if (strcmp(arg, "--timeout") == 0 || strncmp(arg, "--timeout=", 10) == 0) {
            const char *v = arg[9] == '=' ? arg + 10 : (i + 1 < argc ? argv[++i] : NULL);
            if (!s_number(v, 1, 86400, &n))
                return s_usage(help, "--timeout needs a number of seconds (1..86400), got '%s'",
                               v ? v : "");
            a->timeout_ms = (int) n * 1000;
        }
        else if (!with_id && (strcmp(arg, "--limit") == 0 || strncmp(arg, "--limit=", 8) == 0)) {
            const char *v = arg[7] == '=' ? arg + 8 : (i + 1 < argc ? argv[++i] : NULL);
            if (!s_number(v, 1, TF_MSG_MAX_ROWS, &n))
                return s_usage(help, "--limit needs a number of jobs (1..100000), got '%s'", v ? v : "");
            a->limit = n;
        }
        else if (arg[0] == '-' && arg[1] != '\0')
            return s_usage(help, "unknown option '%s'", arg);
        else if (with_id && !a->job_id)
            a->job_id = arg;
        else
            return s_usage(help, "unexpected argument '%s'", arg);
    }
    if (a->help) {
        fputs(help, stdout);
        return CLI_EXIT_OK;
    }
    if (with_id && (!a->job_id || !*a->job_id))
        return s_usage(help, "%s", "job: which job? give its id (tapeflow jobs lists them)");
    return -1;
}

static tf_client_t *
s_client(cli_t *cli, tf_err_t *err)
{
    return tf_client_new(tf_config_get(cli->cfg, "broker/endpoint"), err);
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
            tf_json_object_begin(j, NULL);
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
            tf_json_object_begin(j, NULL);
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

int
cmd_job(cli_t *cli, int argc, char **argv)
{
    /* tapeflow job cancel|retry|purge ID (cmd_job_actions.c) */
    if (argc > 1 && cli_job_action_name(argv[1]))
        return cmd_job_action(cli, argc - 1, argv + 1);
    s_args_t a;
    int rc = s_parse(cli, argc, argv, true, &a);
    if (rc >= 0)
        return rc;
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
            cli_job_json(j, NULL, job);
        rc = s_emit_json(j, "job");
        tf_json_destroy(&j);
    }
    else {
        cli_job_print(stdout, job);
        rc = CLI_EXIT_OK;
    }
    if (rc == CLI_EXIT_OK && job->status
        && (strcmp(job->status, "failed") == 0 || strcmp(job->status, "cancelled") == 0))
        rc = CLI_EXIT_FAIL;
    fflush(stdout);
    tf_msg_clear(&reply);
    return rc;
}
