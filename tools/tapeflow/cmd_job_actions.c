/*  tapeflow job cancel|retry|purge ID - what an operator does to a job that went wrong.

    cancel: the broker drops the job's queued items and abandons its in-flight ones (job_op
            cancel; their late results are ignored and nothing new of the job is queued), the
            catalog records status cancelled with who and when, and the job's staged archives
            are deleted from the holding disk unless --keep-staged.
    retry:  the broker queues the job's failed and cancelled items again (job_op retry) - what
            finished stays finished, archives on tape are not written again - and the catalog
            puts the job back to running. Refused when archives it needs were released from the
            holding disk (cancel without --keep-staged, or purge).
    purge:  deletes what a failed or cancelled job left on the holding disk (stage_purge item of
            the stager), naming every file and the space freed. Refused for a queued, running or
            completed job unless --force.

    Exit status: 0 done (or nothing to do), 1 refused or failed, 2 usage error.
*/
#define _GNU_SOURCE
#include <getopt.h>
#include <stdarg.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_opt.h"
#include "cli_jobview.h"
#include "tf_client.h"
#include "tf_clock.h"
#include "tf_json.h"
#include "tf_pipeline_ids.h"
#include "tf_units.h"

/* Services whose items of a cancelled job still run: the catalog records facts (archives that
   did reach tape), the stager deletes what was released. Names as in docs/pipeline.md. */
#define S_SPARED_SERVICES "catalog,stager"

static const char s_cancel_help[] =
    "usage: tapeflow [--config FILE] job cancel ID [--keep-staged] [--reason TEXT] [--json]\n"
    "                [--timeout SECONDS]\n"
    "\n"
    "Cancels a queued, running or failed job: its queued work items are dropped, items in\n"
    "flight finish on their own but their results are ignored (nothing after them is written),\n"
    "and the catalog records the job as 'cancelled by USER@HOST at TIME'. The job's archives\n"
    "waiting on the holding disk are deleted unless --keep-staged (keep them to 'tapeflow job\n"
    "retry ID' later); an archive a tape writer is reading right now is deleted after its write.\n"
    "\n"
    "  --keep-staged       keep the job's staged archives (default: release them)\n"
    "  --reason TEXT       why, recorded in the job's message\n"
    "  --json              one JSON object with what was done\n"
    "  --timeout SECONDS   how long to wait for the broker, catalog and stager (default 10)\n";

static const char s_retry_help[] =
    "usage: tapeflow [--config FILE] job retry ID [--reason TEXT] [--json] [--timeout SECONDS]\n"
    "\n"
    "Runs a failed or cancelled job again from where it stopped: its failed and cancelled work\n"
    "items (file groups, tape writes of staged archives, ...) are queued again; archives already\n"
    "on tape are not written again. The job goes back to 'running' and completes as usual.\n"
    "Fix the cause first (see 'tapeflow job ID', detail). Refused when archives the job needs\n"
    "were deleted from the holding disk (cancel without --keep-staged, or purge).\n"
    "\n"
    "  --reason TEXT       recorded in the job's message\n"
    "  --json              one JSON object with what was done\n"
    "  --timeout SECONDS   how long to wait for the broker, catalog and stager (default 10)\n";

static const char s_purge_help[] =
    "usage: tapeflow [--config FILE] job purge ID [--dry-run] [--force] [--json]\n"
    "                [--timeout SECONDS]\n"
    "\n"
    "Deletes what a failed or cancelled job left on the holding disk (stager/dir): its archives\n"
    "in ready/ and the partial files of archives still being received, and says what it\n"
    "deleted and how much space that freed. Those archives are not on tape: after a purge the\n"
    "job cannot be retried. A queued, running or completed job is refused unless --force.\n"
    "\n"
    "  --dry-run           only list what would be deleted\n"
    "  --force             purge even a queued, running or completed job\n"
    "  --json              one JSON object with the files and bytes\n"
    "  --timeout SECONDS   how long to wait for the broker, catalog and stager (default 10)\n";

typedef enum { S_CANCEL, S_RETRY, S_PURGE } s_action_t;

typedef struct {
    s_action_t action;
    const char *name;       /* "cancel" ... */
    const char *help;
    const char *job_id;
    const char *reason;
    bool keep_staged;
    bool force;
    bool dry_run;
    bool json;
    int timeout_ms;
} s_args_t;

static int s_usage(const s_args_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
s_usage(const s_args_t *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tapeflow job %s: ", a->name);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n", stderr);
    fputs(a->help, stderr);
    return CLI_EXIT_USAGE;
}

/* Returns -1 to go on, else the exit status. */
static int
s_parse(cli_t *cli, int argc, char **argv, s_args_t *a)
{
    static const struct option options[] = {
        {"keep-staged", no_argument, NULL, 'k'},
        {"reason", required_argument, NULL, 'r'},
        {"force", no_argument, NULL, 'f'},
        {"dry-run", no_argument, NULL, 'n'},
        {"json", no_argument, NULL, 'j'},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof *a);
    a->name = argv[0];
    a->action = strcmp(argv[0], "cancel") == 0 ? S_CANCEL : strcmp(argv[0], "retry") == 0 ? S_RETRY : S_PURGE;
    a->help = a->action == S_CANCEL ? s_cancel_help : a->action == S_RETRY ? s_retry_help : s_purge_help;
    a->json = cli->json;
    a->timeout_ms = CLI_JOB_TIMEOUT_MS;
    int opt;
    cli_opt_begin();
    while ((opt = getopt_long(argc, argv, ":hj", options, NULL)) != -1) {
        switch (opt) {
        case 'k':
            if (a->action != S_CANCEL)
                return s_usage(a, "%s", "--keep-staged is an option of 'job cancel'");
            a->keep_staged = true;
            break;
        case 'r':
            if (a->action == S_PURGE)
                return s_usage(a, "%s", "--reason is an option of 'job cancel' and 'job retry'");
            a->reason = optarg;
            break;
        case 'f':
            if (a->action != S_PURGE)
                return s_usage(a, "%s", "--force is an option of 'job purge'");
            a->force = true;
            break;
        case 'n':
            if (a->action != S_PURGE)
                return s_usage(a, "%s", "--dry-run is an option of 'job purge'");
            a->dry_run = true;
            break;
        case 'j': a->json = true; break;
        case 't': {
            char *end = NULL;
            long v = strtol(optarg, &end, 10);
            if (!*optarg || *end || v < 1 || v > 86400)
                return s_usage(a, "--timeout needs a number of seconds (1..86400), got '%s'", optarg);
            a->timeout_ms = (int) v * 1000;
            break;
        }
        case 'h': fputs(a->help, stdout); return CLI_EXIT_OK;
        default: {
            char command[32];
            snprintf(command, sizeof command, "job %s", a->name);
            return cli_opt_error(command, opt, argc, argv);
        }
        }
    }
    if (optind >= argc)
        return s_usage(a, "%s", "which job? give its id (tapeflow jobs lists them)");
    a->job_id = argv[optind++];
    if (optind < argc)
        return s_usage(a, "unexpected argument '%s'", argv[optind]);
    return -1;
}

/* ------------------------------------------------------------------ output -------------- */

typedef struct {
    const s_args_t *a;
    tf_json_t *j;           /* --json: the document being built */
} s_out_t;

/* Refusal or failure: one line on stderr; with --json also {"error", "code"} on stdout. */
static int s_fail(s_out_t *o, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
s_fail(s_out_t *o, int code, const char *fmt, ...)
{
    char message[TF_ERR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    fprintf(stderr, "tapeflow job %s: %s\n", o->a->name, message);
    if (o->a->json) {
        tf_json_t *j = tf_json_new();
        if (j) {
            tf_json_document_begin(j);
            tf_json_str(j, "job_id", o->a->job_id);
            tf_json_str(j, "action", o->a->name);
            tf_json_str(j, "error", message);
            tf_json_str(j, "code", tf_status_name(code));
            tf_json_object_end(j);
            tf_json_print(j, stdout);
            tf_json_destroy(&j);
        }
    }
    fflush(stdout);
    return CLI_EXIT_FAIL;
}

/* "alice@backup1" */
static void
s_who(char *buf, size_t size)
{
    const char *user = getenv("SUDO_USER");
    if (!user || !*user) {
        struct passwd *pw = getpwuid(getuid());
        user = pw ? pw->pw_name : getenv("USER");
    }
    char host[256] = "localhost";
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    snprintf(buf, size, "%s@%s", user && *user ? user : "unknown", host);
}

/* "cancelled by alice@backup1 at 2026-12-02 04:30:00 UTC: reason" */
static void
s_record_text(char *buf, size_t size, const char *verb, const char *reason)
{
    char who[300], when[64];
    s_who(who, sizeof who);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
    snprintf(buf, size, "%s by %s at %s%s%s", verb, who, when, reason && *reason ? ": " : "",
             reason && *reason ? reason : "");
}

static bool
s_status_is(const tf_msg_job_row_t *job, const char *status)
{
    return job->status && strcmp(job->status, status) == 0;
}

/* Completed in any flavour (completed, completed_with_warnings): its data is on tape. */
static bool
s_completed(const tf_msg_job_row_t *job)
{
    return job->status && strncmp(job->status, "completed", 9) == 0;
}

/* Runs stage_purge (dry run or not) on the stager and decodes its result. */
static int
s_stage_purge(tf_client_t *client, const s_args_t *a, bool dry_run, tf_msg_t *result, tf_err_t *err)
{
    tf_msg_t payload = {.type = TF_MSG_STAGE_PURGE};
    payload.stage_purge = (tf_msg_stage_purge_t){.job_id = (char *) a->job_id, .dry_run = dry_run};
    int rc = tf_client_call(client, "stager", NULL, a->job_id, &payload, result, a->timeout_ms, err);
    if (rc == TF_ERR_TIMEOUT)
        return tf_err_set(err, rc, "the stager did not answer within %d s - is tapeflow-stager "
                          "running? check with: tapeflow status", a->timeout_ms / 1000);
    if (rc == TF_OK && result->type != TF_MSG_STAGE_PURGE_RESULT) {
        tf_msg_clear(result);
        return tf_err_set(err, TF_ERR_PROTO, "the stager answered stage_purge with something else");
    }
    return rc;
}

/* Archives a tape writer is reading now: kept until its write ends (docs/staging.md). */
static void
s_in_use_json(tf_json_t *j, const tf_msg_stage_purge_result_t *r)
{
    tf_json_array_begin(j, "in_use");
    for (size_t i = 0; i < r->in_use_count; i++)
        tf_json_str(j, NULL, r->in_use[i].path);
    tf_json_array_end(j);
}

static void
s_in_use_print(const char *indent, const tf_msg_stage_purge_result_t *r)
{
    if (r->in_use_count > 0)
        printf("%s%zu of them in use by a tape writer: deleted after its write (%s%s)\n", indent,
               r->in_use_count, r->in_use[0].path, r->in_use_count > 1 ? ", ..." : "");
}

static void
s_purge_json(tf_json_t *j, const char *key, const tf_msg_stage_purge_result_t *r)
{
    tf_json_object_begin(j, key);
    tf_json_int(j, "archives", (int64_t) r->archives);
    tf_json_int(j, "bytes", (int64_t) r->bytes);
    tf_json_array_begin(j, "files");
    for (size_t i = 0; i < r->files_count; i++)
        tf_json_str(j, NULL, r->files[i].path);
    tf_json_array_end(j);
    s_in_use_json(j, r);
    tf_json_object_end(j);
}

/* Waits until the catalog applied the broker's record of the action. */
static int
s_wait_catalog(tf_client_t *client, const s_args_t *a, const char *item, tf_err_t *err)
{
    if (!item || !*item)
        return TF_OK;
    tf_msg_t info;
    int rc = tf_client_wait(client, item, a->timeout_ms, &info, err);
    if (rc == TF_OK)
        tf_msg_clear(&info);
    else if (rc == TF_ERR_TIMEOUT)
        tf_err_set(err, rc, "the catalog has not recorded it within %d s (it will when "
                   "tapeflow-catalog runs; check with: tapeflow status)", a->timeout_ms / 1000);
    return rc;
}

/* The job as the catalog now has it (after the action was recorded): its status into status,
   its message into message. False when it cannot be read (err says why). */
static bool
s_refetch(tf_client_t *client, const s_args_t *a, char *status, size_t ssize, char *message, size_t msize,
          tf_err_t *err)
{
    tf_msg_t reply;
    if (cli_job_fetch(client, a->job_id, &reply, a->timeout_ms, err) != TF_OK)
        return false;
    const tf_msg_job_row_t *job = &reply.cat_reply.jobs[0];
    snprintf(status, ssize, "%s", job->status ? job->status : "?");
    snprintf(message, msize, "%s", job->message ? job->message : "");
    tf_msg_clear(&reply);
    return true;
}

/* ------------------------------------------------------------------ cancel -------------- */

/* What a cancel did: the broker's counts, what the catalog now says, what the stager released. */
typedef struct {
    char text[TF_MSG_MAX_TEXT];           /* "cancelled by USER@HOST at TIME: reason" */
    tf_msg_job_op_ok_t ok;                /* counts only (strings cleared) */
    char note[TF_MSG_MAX_TEXT];           /* what the broker could not do (job_op_ok.note) */
    bool recorded;                        /* the catalog recorded it and was read back */
    char catalog_problem[TF_ERR_MESSAGE_MAX];
    char now_status[40];
    char now_message[TF_MSG_MAX_TEXT];
    bool cancelled;                       /* the catalog says cancelled */
    tf_msg_t purge;                       /* the stager's stage_purge_result when purged */
    bool purged;
    tf_err_t purge_err;
} s_cancel_t;

/* A job that cannot be cancelled: the refusal (exit 1), else -1. */
static int
s_cancel_refused(s_out_t *o, const tf_msg_job_row_t *job)
{
    const s_args_t *a = o->a;
    if (s_completed(job))
        return s_fail(o, TF_ERR_STATE, "job %s is %s: its data is on tape, there is nothing to cancel",
                      a->job_id, job->status);
    if (s_status_is(job, "expired"))
        return s_fail(o, TF_ERR_STATE, "job %s is expired: it completed, then a tape it was on was recycled "
                      "(%s); there is nothing to cancel (what is on its other tapes: tapeflow restore %s)",
                      a->job_id, job->message ? job->message : "", a->job_id);
    if (s_status_is(job, "cancelled"))
        return s_fail(o, TF_ERR_STATE, "job %s is cancelled already (%s); 'tapeflow job purge %s' "
                      "deletes what it left on the holding disk", a->job_id,
                      job->message ? job->message : "", a->job_id);
    return -1;
}

/* The remote part: the broker's job_op, the catalog's record read back, the stager's purge (or
   listing with --keep-staged). Fails only when the broker refused (err says why). */
static int
s_cancel_request(tf_client_t *client, const s_args_t *a, s_cancel_t *c, tf_err_t *err)
{
    s_record_text(c->text, sizeof c->text, "cancelled", a->reason);
    tf_msg_job_op_t op = {.job_id = (char *) a->job_id, .op = "cancel", .message = c->text,
                          .spare = S_SPARED_SERVICES};
    tf_msg_t reply;
    int rc = tf_client_job_op(client, &op, &reply, a->timeout_ms < 5000 ? a->timeout_ms : 5000, err);
    if (rc != TF_OK)
        return rc;
    c->ok = reply.job_op_ok;
    char catalog_item[TF_MSG_MAX_ID + 1] = "";
    snprintf(catalog_item, sizeof catalog_item, "%s", c->ok.catalog_item ? c->ok.catalog_item : "");
    snprintf(c->note, sizeof c->note, "%s", c->ok.note ? c->ok.note : "");
    c->ok.rid = c->ok.job_id = c->ok.op = c->ok.catalog_item = c->ok.note = NULL;   /* freed with the reply */
    tf_msg_clear(&reply);
    tf_err_t cerr = {0};
    c->recorded = s_wait_catalog(client, a, catalog_item, &cerr) == TF_OK;
    snprintf(c->catalog_problem, sizeof c->catalog_problem, "%s", c->recorded ? "" : cerr.message);
    /* What the catalog made of it: a job that ended while the cancel was on its way (its last
       archive reached tape) keeps its outcome - say that, not "cancelled". */
    snprintf(c->now_status, sizeof c->now_status, "cancelled");
    snprintf(c->now_message, sizeof c->now_message, "%s", c->text);
    if (c->recorded && !s_refetch(client, a, c->now_status, sizeof c->now_status, c->now_message,
                                  sizeof c->now_message, &cerr)) {
        c->recorded = false;
        tf_err_prefix(&cerr, "cannot read the job back: ");
        snprintf(c->catalog_problem, sizeof c->catalog_problem, "%s", cerr.message);
    }
    c->cancelled = strcmp(c->now_status, "cancelled") == 0;
    if (!c->cancelled) {
        fprintf(stderr, "tapeflow job cancel: job %s was not cancelled: it is %s (%s)%s\n", a->job_id,
                c->now_status, c->now_message,
                strncmp(c->now_status, "completed", 9) == 0 ? "; its data is on tape" : "");
        /* Its queued items were dropped all the same: release nothing more of it. */
    }
    c->purged = s_stage_purge(client, a, a->keep_staged, &c->purge, &c->purge_err) == TF_OK;
    return TF_OK;
}

static void
s_cancel_print_json(const s_args_t *a, const s_cancel_t *c)
{
    tf_json_t *j = tf_json_new();
    tf_json_document_begin(j);
    tf_json_str(j, "job_id", a->job_id);
    tf_json_str(j, "action", "cancel");
    tf_json_str(j, "status", c->now_status);
    tf_json_bool(j, "cancelled", c->cancelled);
    tf_json_str(j, "message", c->now_message);
    tf_json_int(j, "items_cancelled", (int64_t) c->ok.cancelled);
    tf_json_int(j, "items_abandoned", (int64_t) c->ok.abandoned);
    tf_json_int(j, "items_unrecorded", (int64_t) c->ok.unrecorded);
    if (c->note[0])
        tf_json_str(j, "note", c->note);
    tf_json_bool(j, "catalog_recorded", c->recorded);
    tf_json_bool(j, "keep_staged", a->keep_staged);
    if (c->purged)
        s_purge_json(j, a->keep_staged ? "staged_kept" : "staged_released", &c->purge.stage_purge_result);
    else
        tf_json_str(j, "staged_error", c->purge_err.message);
    tf_json_object_end(j);
    tf_json_print(j, stdout);
    tf_json_destroy(&j);
}

static void
s_cancel_print_text(const s_args_t *a, const s_cancel_t *c)
{
    const tf_msg_job_op_ok_t *ok = &c->ok;
    if (c->cancelled)
        printf("job %s %s\n", a->job_id, c->now_message);
    else
        printf("job %s is %s: %s\n", a->job_id, c->now_status, c->now_message);
    printf("  %" PRIu64 " queued item%s dropped", ok->cancelled, ok->cancelled == 1 ? "" : "s");
    if (ok->abandoned)
        printf(", %" PRIu64 " in flight (%s on to %s end; %s ignored and nothing of "
               "the job runs after it)", ok->abandoned, ok->abandoned == 1 ? "it goes" : "they go",
               ok->abandoned == 1 ? "its" : "their",
               ok->abandoned == 1 ? "its result is" : "their results are");
    printf("\n");
    if (c->purged) {
        const tf_msg_stage_purge_result_t *r = &c->purge.stage_purge_result;
        char size[32];
        tf_units_bytes(r->bytes, size, sizeof size);
        if (r->files_count == 0)
            printf("  nothing of the job was on the holding disk\n");
        else if (a->keep_staged)
            printf("  kept %" PRIu64 " staged archive%s (%s) on the holding disk: 'tapeflow job "
                   "retry %s' writes them, 'tapeflow job purge %s' deletes them\n", r->archives,
                   r->archives == 1 ? "" : "s", size, a->job_id, a->job_id);
        else
            printf("  released %" PRIu64 " staged archive%s from the holding disk (%zu file%s, "
                   "%s freed)\n", r->archives, r->archives == 1 ? "" : "s", r->files_count,
                   r->files_count == 1 ? "" : "s", size);
        s_in_use_print("  ", r);
        if (!a->keep_staged && r->archives)
            printf("  (those archives were not on tape: a retry of this job cannot write them; "
                   "--keep-staged keeps them for 'tapeflow job retry')\n");
    }
    if (ok->abandoned && !a->keep_staged)
        printf("  what the items in flight still stage is left on the holding disk: "
               "'tapeflow job purge %s' removes it\n", a->job_id);
}

static int
s_cancel(tf_client_t *client, s_out_t *o, const tf_msg_job_row_t *job)
{
    const s_args_t *a = o->a;
    int refused = s_cancel_refused(o, job);
    if (refused >= 0)
        return refused;
    s_cancel_t *c = calloc(1, sizeof *c);
    if (!c)
        return s_fail(o, TF_ERR_NOMEM, "out of memory");
    tf_err_t err = {0};
    if (s_cancel_request(client, a, c, &err) != TF_OK) {
        free(c);
        return s_fail(o, err.code, "%s", err.message);
    }
    if (a->json)
        s_cancel_print_json(a, c);
    else
        s_cancel_print_text(a, c);
    if (!c->recorded)
        fprintf(stderr, "tapeflow job cancel: %s\n", c->catalog_problem);
    if (!c->purged)
        fprintf(stderr, "tapeflow job cancel: the job is cancelled, but its staged archives were "
                "not %s: %s\n", a->keep_staged ? "listed" : "released", c->purge_err.message);
    if (c->note[0] && !a->json)
        fprintf(stderr, "tapeflow job cancel: %s\n", c->note);
    fflush(stdout);
    bool done = c->recorded && c->purged && c->cancelled && c->ok.unrecorded == 0;
    tf_msg_clear(&c->purge);
    free(c);
    return done ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

/* ------------------------------------------------------------------ retry --------------- */

/* Archives the retry would need that are no longer staged: a tape item that failed or was
   cancelled while its archive is not on the holding disk. names gets the first few. */
static int
s_missing_archives(tf_client_t *client, const s_args_t *a, const tf_msg_job_row_t *job,
                   const tf_msg_stage_purge_result_t *staged, char *names, size_t size,
                   uint64_t *missing, tf_err_t *err)
{
    *missing = 0;
    names[0] = '\0';
    for (uint64_t g = 1; g <= job->groups_total; g++) {
        char archive[TF_MSG_MAX_ID + 16], item[TF_MSG_MAX_ID + 32], data[TF_MSG_MAX_ID + 32];
        tf_id_archive(archive, sizeof archive, a->job_id, g);
        tf_id_join(item, sizeof item, archive, "-tape");
        snprintf(data, sizeof data, "ready/%s.data", archive);
        tf_msg_t info;
        int rc = tf_client_item(client, item, &info, a->timeout_ms < 5000 ? a->timeout_ms : 5000, err);
        if (rc == TF_ERR_NOTFOUND)
            continue;  /* never staged: its file group runs again */
        if (rc != TF_OK)
            return rc;
        bool again = strcmp(info.item_info.state, "failed") == 0
                     || strcmp(info.item_info.state, "cancelled") == 0;
        tf_msg_clear(&info);
        if (!again)
            continue;
        bool there = false;
        for (size_t i = 0; i < staged->files_count && !there; i++)
            there = strcmp(staged->files[i].path, data) == 0;
        if (there)
            continue;
        if (*missing < 3) {
            size_t len = strlen(names);
            snprintf(names + len, size - len, "%s%s", len ? ", " : "", archive);
        }
        (*missing)++;
    }
    *err = (tf_err_t){0};
    return TF_OK;
}

static int
s_retry(tf_client_t *client, s_out_t *o, const tf_msg_job_row_t *job)
{
    const s_args_t *a = o->a;
    if (s_status_is(job, "completed_with_warnings"))
        return s_fail(o, TF_ERR_STATE, "job %s is completed_with_warnings: what it stored is on tape and a "
                      "retry would not read the entries it missed; list them with 'tapeflow job %s "
                      "--missing' and back them up with a new 'tapeflow backup'", a->job_id, a->job_id);
    if (s_completed(job))
        return s_fail(o, TF_ERR_STATE, "job %s is %s: there is nothing to retry", a->job_id, job->status);
    if (s_status_is(job, "expired"))
        return s_fail(o, TF_ERR_STATE, "job %s is expired (%s): archives of it are gone with a recycled "
                      "tape and a retry cannot bring them back; run a new 'tapeflow backup'", a->job_id,
                      job->message ? job->message : "");
    if (!s_status_is(job, "failed") && !s_status_is(job, "cancelled"))
        return s_fail(o, TF_ERR_STATE, "job %s is %s: only a failed or cancelled job can be retried "
                      "(to stop it: tapeflow job cancel %s --keep-staged)", a->job_id,
                      job->status ? job->status : "?", a->job_id);
    tf_msg_t staged = {0};
    tf_err_t err = {0};
    if (s_stage_purge(client, a, true, &staged, &err) != TF_OK)
        return s_fail(o, err.code, "cannot see the job's staged archives: %s", err.message);
    char names[512];
    uint64_t missing = 0;
    int rc = s_missing_archives(client, a, job, &staged.stage_purge_result, names, sizeof names,
                                &missing, &err);
    uint64_t staged_count = staged.stage_purge_result.archives;
    tf_msg_clear(&staged);
    if (rc != TF_OK)
        return s_fail(o, err.code, "%s", err.message);
    if (missing)
        return s_fail(o, TF_ERR_STATE, "job %s cannot be retried: %" PRIu64 " of its archives (%s%s) "
                      "were staged but are no longer on the holding disk (released when the job was "
                      "cancelled, or purged) and cannot be written to tape; back the paths up again "
                      "with 'tapeflow backup'", a->job_id, missing, names, missing > 3 ? ", ..." : "");
    char text[TF_MSG_MAX_TEXT];
    s_record_text(text, sizeof text, "retried", a->reason);
    tf_msg_job_op_t op = {.job_id = (char *) a->job_id, .op = "retry", .message = text};
    tf_msg_t reply;
    if (tf_client_job_op(client, &op, &reply, a->timeout_ms < 5000 ? a->timeout_ms : 5000, &err) != TF_OK)
        return s_fail(o, err.code, "%s", err.message);
    tf_msg_job_op_ok_t ok = reply.job_op_ok;
    char catalog_item[TF_MSG_MAX_ID + 1];
    snprintf(catalog_item, sizeof catalog_item, "%s", ok.catalog_item ? ok.catalog_item : "");
    char note[TF_MSG_MAX_TEXT];   /* what the broker could not do (job_op_ok.note) */
    snprintf(note, sizeof note, "%s", ok.note ? ok.note : "");
    tf_msg_clear(&reply);
    bool recorded = s_wait_catalog(client, a, catalog_item, &err) == TF_OK;
    char now_status[40] = "running", now_message[TF_MSG_MAX_TEXT] = "";
    snprintf(now_message, sizeof now_message, "%s", text);
    if (recorded && !s_refetch(client, a, now_status, sizeof now_status, now_message, sizeof now_message, &err)) {
        recorded = false;
        tf_err_prefix(&err, "cannot read the job back: ");
    }
    /* The catalog refuses a retry it cannot complete (archives on a recycled tape). */
    bool retried = strcmp(now_status, "failed") != 0 && strcmp(now_status, "cancelled") != 0;
    if (!retried)
        fprintf(stderr, "tapeflow job retry: job %s was not retried: it is still %s (%s)\n", a->job_id,
                now_status, now_message);
    if (a->json) {
        tf_json_t *j = tf_json_new();
        tf_json_document_begin(j);
        tf_json_str(j, "job_id", a->job_id);
        tf_json_str(j, "action", "retry");
        tf_json_str(j, "status", now_status);
        tf_json_bool(j, "retried", retried);
        tf_json_str(j, "message", text);
        tf_json_int(j, "items_requeued", (int64_t) ok.requeued);
        tf_json_int(j, "items_finishing", (int64_t) ok.finishing);
        tf_json_int(j, "items_unrecorded", (int64_t) ok.unrecorded);
        if (note[0])
            tf_json_str(j, "note", note);
        tf_json_int(j, "archives_staged", (int64_t) staged_count);
        tf_json_int(j, "archives_written", (int64_t) job->archives_written);
        tf_json_bool(j, "catalog_recorded", recorded);
        tf_json_object_end(j);
        tf_json_print(j, stdout);
        tf_json_destroy(&j);
    }
    else {
        printf("job %s %s\n", a->job_id, text);
        printf("  %" PRIu64 " failed or cancelled item%s queued again; %" PRIu64 " archive%s already "
               "on tape stay%s, %" PRIu64 " staged archive%s wait%s for the tape writer\n", ok.requeued,
               ok.requeued == 1 ? "" : "s", job->archives_written, job->archives_written == 1 ? "" : "s",
               job->archives_written == 1 ? "s" : "", staged_count, staged_count == 1 ? "" : "s",
               staged_count == 1 ? "s" : "");
        printf("follow it with: tapeflow job %s\n", a->job_id);
    }
    if (!recorded)
        fprintf(stderr, "tapeflow job retry: %s\n", err.message);
    if (note[0] && !a->json)
        fprintf(stderr, "tapeflow job retry: %s\n", note);
    fflush(stdout);
    return recorded && retried && ok.unrecorded == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

/* ------------------------------------------------------------------ purge --------------- */

static int
s_purge(tf_client_t *client, s_out_t *o, const tf_msg_job_row_t *job)
{
    const s_args_t *a = o->a;
    bool stopped = s_status_is(job, "failed") || s_status_is(job, "cancelled");
    if (!stopped && !a->force) {
        if (s_completed(job))
            return s_fail(o, TF_ERR_STATE, "job %s is %s: its archives are on tape and were released "
                          "already; to delete whatever of it is still on the holding disk add --force",
                          a->job_id, job->status);
        return s_fail(o, TF_ERR_STATE, "job %s is %s: purging would delete archives it is about to "
                      "write to tape; cancel it first ('tapeflow job cancel %s') or add --force",
                      a->job_id, job->status ? job->status : "?", a->job_id);
    }
    tf_msg_t result;
    tf_err_t err = {0};
    if (s_stage_purge(client, a, a->dry_run, &result, &err) != TF_OK)
        return s_fail(o, err.code, "%s", err.message);
    const tf_msg_stage_purge_result_t *r = &result.stage_purge_result;
    char size[32];
    tf_units_bytes(r->bytes, size, sizeof size);
    if (a->json) {
        tf_json_t *j = tf_json_new();
        tf_json_document_begin(j);
        tf_json_str(j, "job_id", a->job_id);
        tf_json_str(j, "action", "purge");
        tf_json_str(j, "status", job->status);
        tf_json_bool(j, "dry_run", a->dry_run);
        tf_json_int(j, "archives", (int64_t) r->archives);
        tf_json_int(j, "bytes", (int64_t) r->bytes);
        tf_json_array_begin(j, "files");
        for (size_t i = 0; i < r->files_count; i++)
            tf_json_str(j, NULL, r->files[i].path);
        tf_json_array_end(j);
        s_in_use_json(j, r);
        tf_json_object_end(j);
        tf_json_print(j, stdout);
        tf_json_destroy(&j);
    }
    else if (r->files_count == 0)
        printf("nothing of job %s is on the holding disk\n", a->job_id);
    else {
        for (size_t i = 0; i < r->files_count; i++)
            printf("%s %s\n", a->dry_run ? "would delete" : "deleted", r->files[i].path);
        printf("%s job %s from the holding disk: %" PRIu64 " archive%s, %zu file%s, %s %s\n",
               a->dry_run ? "would purge" : "purged", a->job_id, r->archives, r->archives == 1 ? "" : "s",
               r->files_count, r->files_count == 1 ? "" : "s", size, a->dry_run ? "to free" : "freed");
        s_in_use_print("", r);
        if (!a->dry_run && r->archives && !s_completed(job))
            printf("those archives were not on tape: the job cannot be retried now\n");
    }
    tf_msg_clear(&result);
    fflush(stdout);
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------------ entry --------------- */

static int
s_job_action(cli_t *cli, int argc, char **argv)
{
    s_args_t a;
    int rc = s_parse(cli, argc, argv, &a);
    if (rc >= 0)
        return rc;
    s_out_t o = {.a = &a};
    tf_err_t err = {0};
    tf_client_t *client = tf_client_new(cli->cfg, tf_config_get(cli->cfg, "broker/endpoint"), &err);
    if (!client)
        return s_fail(&o, err.code, "%s", err.message);
    tf_msg_t reply;
    if (cli_job_fetch(client, a.job_id, &reply, a.timeout_ms, &err) != TF_OK) {
        tf_client_destroy(&client);
        return s_fail(&o, err.code, "%s", err.message);
    }
    const tf_msg_job_row_t *job = &reply.cat_reply.jobs[0];
    rc = a.action == S_CANCEL ? s_cancel(client, &o, job)
         : a.action == S_RETRY ? s_retry(client, &o, job) : s_purge(client, &o, job);
    tf_msg_clear(&reply);
    tf_client_destroy(&client);
    return rc;
}

const cli_verb_t cli_job_verbs[] = {
    {"cancel", s_job_action},
    {"retry", s_job_action},
    {"purge", s_job_action},
    {NULL, NULL},
};
