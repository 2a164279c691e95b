/*  tapeflow restore - brings a job's files back from tape.

    Asks the catalog which archives hold the requested paths (all of the job's archives when
    none are named) and where they are on tape, then gives the tape writer - the only process
    that touches the drive - one restore item that reads just those archives, positioning
    directly at each.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_opt.h"
#include "cli_jobview.h"
#include "restore_overwrite.h"
#include "tf_client.h"
#include "tf_clock.h"
#include "tf_fs.h"
#include "tf_json.h"

/* Stored paths are relative ("srv/data/x"); accept "/srv/data/x" too. */
static const char *
s_stored(const char *path)
{
    while (*path == '/')
        path++;
    return path;
}

static bool
s_has_archive(const tf_msg_archive_row_t *rows, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(rows[i].archive_id, id) == 0)
            return true;
    return false;
}

static int
s_by_position(const void *a, const void *b)
{
    const tf_msg_archive_row_t *x = a, *y = b;
    int v = strcmp(x->volume ? x->volume : "", y->volume ? y->volume : "");
    if (v)
        return v;
    return x->tape_file < y->tape_file ? -1 : x->tape_file > y->tape_file;
}

/* Collects the archives to read: for each pattern those holding a match (a pattern naming a
   folder also matches what is under it), or all of the job's. Rows are deep-copied into
   *out by re-encoding nothing: we keep the replies alive and point into them. */
typedef struct {
    tf_msg_t *replies;
    size_t nreplies;
    tf_msg_archive_row_t *rows;
    size_t nrows;
} s_plan_t;

static void
s_plan_clear(s_plan_t *plan)
{
    for (size_t i = 0; i < plan->nreplies; i++)
        tf_msg_clear(&plan->replies[i]);
    free(plan->replies);
    free(plan->rows);
    memset(plan, 0, sizeof *plan);
}

static int
s_plan_add(s_plan_t *plan, tf_client_t *client, const char *job_id, const char *pattern, tf_err_t *err)
{
    tf_msg_t *more = realloc(plan->replies, (plan->nreplies + 1) * sizeof *more);
    if (!more)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    plan->replies = more;
    tf_msg_cat_query_t q = {.query = "archives", .job_id = (char *) job_id, .pattern = (char *) pattern};
    tf_msg_t *reply = &plan->replies[plan->nreplies];
    int rc = cli_catalog_query(client, &q, reply, CLI_JOB_TIMEOUT_MS, err);
    if (rc != TF_OK)
        return rc;
    plan->nreplies++;
    const tf_msg_cat_reply_t *r = &reply->cat_reply;
    for (size_t i = 0; i < r->archives_count; i++) {
        if (s_has_archive(plan->rows, plan->nrows, r->archives[i].archive_id))
            continue;
        tf_msg_archive_row_t *rows = realloc(plan->rows, (plan->nrows + 1) * sizeof *rows);
        if (!rows)
            return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        plan->rows = rows;
        plan->rows[plan->nrows++] = r->archives[i];  /* borrowed from the reply */
    }
    return TF_OK;
}

/* Appends ", TEXT" (or TEXT when first) to the summary. */
static void
s_part(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
s_part(char *buf, size_t size, const char *fmt, ...)
{
    size_t used = strlen(buf);
    if (used + 2 >= size)
        return;
    if (used && buf[used - 1] != ' ')
        used += (size_t) snprintf(buf + used, size - used, ", ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + used, size - used, fmt, ap);
    va_end(ap);
}

/* The one line saying why a restore is not complete, e.g. "restore incomplete: 312 files
   restored, 2 refused (unsafe paths), 1 archive failed (J...-g00003: medium error ...); see above". */
static void
s_summary(const tf_msg_restore_result_t *r, bool no_match, size_t not_on_tape, size_t lost, char *buf,
          size_t size)
{
    snprintf(buf, size, "restore incomplete: ");
    if (r->files == 0)
        s_part(buf, size, "nothing restored%s", no_match ? " (no file matched)" : "");
    else
        s_part(buf, size, "%llu file%s restored", (unsigned long long) r->files, r->files == 1 ? "" : "s");
    if (r->refused)
        s_part(buf, size, "%llu refused (unsafe paths)", (unsigned long long) r->refused);
    if (r->kept)
        s_part(buf, size, "%llu existing file%s kept (--overwrite older or always replaces them)",
               (unsigned long long) r->kept, r->kept == 1 ? "" : "s");
    if (r->collisions)
        s_part(buf, size, "%llu name collision%s (not overwritten)", (unsigned long long) r->collisions,
               r->collisions == 1 ? "" : "s");
    uint64_t other = r->warnings - (r->warnings >= r->refused + r->kept + r->collisions
                                    ? r->refused + r->kept + r->collisions : r->warnings);
    if (other)
        s_part(buf, size, "%llu other entr%s not restored", (unsigned long long) other, other == 1 ? "y" : "ies");
    if (r->failures_count) {
        /* The first reason up to its first ';' or '[' (the details are printed above). */
        const char *reason = r->failures[0].reason ? r->failures[0].reason : "";
        int len = (int) strcspn(reason, ";[");
        while (len > 0 && reason[len - 1] == ' ')
            len--;
        s_part(buf, size, "%zu archive%s failed (%s: %.*s%s)", r->failures_count,
               r->failures_count == 1 ? "" : "s", r->failures[0].archive_id, len > 300 ? 300 : len, reason,
               r->failures_count > 1 ? "; ..." : "");
    }
    if (not_on_tape)
        s_part(buf, size, "%zu archive%s not on tape yet", not_on_tape, not_on_tape == 1 ? "" : "s");
    if (lost)
        s_part(buf, size, "%zu archive%s lost (tape recycled)", lost, lost == 1 ? "" : "s");
    size_t used = strlen(buf);
    snprintf(buf + used, size - used, "; see above");
}

int
cmd_restore(cli_t *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"to", required_argument, NULL, 't'},
        {"timeout", required_argument, NULL, 'T'},
        {"overwrite", required_argument, NULL, 'o'},
        {"strip-components", required_argument, NULL, 's'},
        {"flat", no_argument, NULL, 'f'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *to = NULL;
    const char *overwrite = "never";
    uint64_t strip = 0;
    bool flat = false, strip_given = false;
    int64_t timeout_s = 24 * 3600;
    int opt;
    cli_opt_begin();
    while ((opt = getopt_long(argc, argv, ":t:T:o:s:fjh", options, NULL)) != -1) {
        switch (opt) {
        case 't': to = optarg; break;
        case 'T':
            if (cli_opt_int("restore", "--timeout", optarg, 1, 366LL * 86400, "a number of seconds", &timeout_s) != CLI_EXIT_OK)
                return CLI_EXIT_USAGE;
            break;
        case 'o': {
            restore_overwrite_t mode;
            if (!restore_overwrite_parse(optarg, &mode))
                return cli_usage_error("restore", "--overwrite takes never, older or always, not '%s'", optarg);
            overwrite = optarg;
            break;
        }
        case 's': {
            int64_t n = 0;
            if (cli_opt_int("restore", "--strip-components", optarg, 0, 4096,
                            "a number of leading folders", &n) != CLI_EXIT_OK)
                return CLI_EXIT_USAGE;
            strip = (uint64_t) n;
            strip_given = true;
            break;
        }
        case 'f': flat = true; break;
        case 'j': cli->json = true; break;
        case 'h': cli_help("restore", stdout); return CLI_EXIT_OK;
        default: return cli_opt_error("restore", opt, argc, argv);
        }
    }
    if (optind >= argc)
        return cli_usage_error("restore", "name the job to restore (see: tapeflow jobs)");
    if (!to)
        return cli_usage_error("restore", "say where to restore with --to DIR");
    if (flat && strip_given)
        return cli_usage_error("restore", "--flat puts every file straight into DIR: it does not combine "
                               "with --strip-components");
    const char *job_id = argv[optind++];
    int npatterns = argc - optind;

    tf_err_t err = {0};
    if (tf_fs_mkdir_p(to, &err) != TF_OK) {
        fprintf(stderr, "tapeflow restore: %s\n", err.message);
        return CLI_EXIT_FAIL;
    }
    char dest[PATH_MAX];
    if (!realpath(to, dest)) {
        fprintf(stderr, "tapeflow restore: %s: %s\n", to, strerror(errno));
        return CLI_EXIT_FAIL;
    }

    int rc = CLI_EXIT_FAIL;
    s_plan_t plan = {0};
    tf_msg_archive_row_t *lost_rows = NULL;   /* borrowed from the plan's replies */
    tf_msg_path_row_t *patterns = npatterns ? calloc((size_t) npatterns, sizeof *patterns) : NULL;
    char **owned = npatterns ? calloc((size_t) npatterns * 2, sizeof *owned) : NULL;
    tf_client_t *client = tf_client_new(tf_config_get(cli->cfg, "broker/endpoint"), &err);
    if (!client || (npatterns && (!patterns || !owned))) {
        fprintf(stderr, "tapeflow restore: %s\n", client ? "out of memory" : err.message);
        goto out;
    }
    /* The job must exist; its state says whether everything can be restored. */
    tf_msg_t job;
    if (cli_job_fetch(client, job_id, &job, CLI_JOB_TIMEOUT_MS, &err) != TF_OK) {
        fprintf(stderr, "tapeflow restore: %s\n", err.message);
        goto out;
    }
    bool job_completed = strcmp(job.cat_reply.jobs[0].status, "completed") == 0;
    /* An expired job (a tape of it was recycled) still restores what is on its other tapes;
       the archives that were on the recycled tape are named and skipped below. */
    tf_msg_clear(&job);

    if (npatterns == 0) {
        if (s_plan_add(&plan, client, job_id, NULL, &err) != TF_OK)
            goto query_failed;
    }
    for (int i = 0; i < npatterns; i++) {
        const char *stored = s_stored(argv[optind + i]);
        patterns[i].path = (char *) stored;
        /* The pattern itself, and everything under it when it names a folder. */
        if (s_plan_add(&plan, client, job_id, stored, &err) != TF_OK)
            goto query_failed;
        if (asprintf(&owned[i], "%s/*", stored) < 0) {
            owned[i] = NULL;
            goto out;
        }
        if (s_plan_add(&plan, client, job_id, owned[i], &err) != TF_OK)
            goto query_failed;
    }
    /* Only what is on tape can be read; archives on a recycled tape are gone (kept in
       lost_rows for --json). */
    size_t readable = 0, missing = 0, lost = 0;
    lost_rows = plan.nrows ? calloc(plan.nrows, sizeof *lost_rows) : NULL;
    if (plan.nrows && !lost_rows) {
        fprintf(stderr, "tapeflow restore: out of memory\n");
        goto out;
    }
    for (size_t i = 0; i < plan.nrows; i++) {
        const tf_msg_archive_row_t *a = &plan.rows[i];
        if (a->written && a->lost) {
            lost_rows[lost] = *a;
            char when[64];
            tf_clock_format(a->lost_ms, when, sizeof when);
            fprintf(stderr, "tapeflow restore: archive %s was on tape %s, recycled on %s: lost (%llu "
                    "file%s not restored)\n", a->archive_id, a->volume ? a->volume : "?", when,
                    (unsigned long long) a->files, a->files == 1 ? "" : "s");
            lost++;
        }
        else if (a->written)
            plan.rows[readable++] = plan.rows[i];
        else
            missing++;
    }
    plan.nrows = readable;
    if (missing)
        fprintf(stderr, "tapeflow restore: warning: %zu archive%s of job %s %s not on tape yet%s\n", missing,
                missing == 1 ? "" : "s", job_id, missing == 1 ? "is" : "are",
                job_completed ? "" : " (the job has not completed)");
    if (plan.nrows == 0) {
        if (lost)
            fprintf(stderr, "tapeflow restore: nothing restored: every archive of job %s to read was on a "
                    "recycled tape (%zu lost)\n", job_id, lost);
        else if (npatterns)
            fprintf(stderr, "tapeflow restore: nothing of job %s on tape matches %s%s (list files with: "
                    "tapeflow job %s)\n", job_id, argv[optind], npatterns > 1 ? " ..." : "", job_id);
        else
            fprintf(stderr, "tapeflow restore: job %s has nothing on tape to restore\n", job_id);
        goto out;
    }
    qsort(plan.rows, plan.nrows, sizeof *plan.rows, s_by_position);

    tf_msg_t request = {.type = TF_MSG_TAPE_RESTORE};
    request.tape_restore = (tf_msg_tape_restore_t){
        .job_id = (char *) job_id, .dest = dest, .patterns = patterns,
        .patterns_count = (size_t) npatterns, .archives = plan.rows, .archives_count = plan.nrows,
        .overwrite = (char *) overwrite, .strip_components = strip, .flat = flat,
    };
    if (!cli->json)
        fprintf(stderr, "restoring from %zu archive%s of job %s into %s\n", plan.nrows,
                plan.nrows == 1 ? "" : "s", job_id, dest);
    tf_msg_t result;
    /* The item carries no job id: a restore is not part of the backup job (cancelling the job
       must not cancel it, and its failure is not the job's). */
    int call = tf_client_call(client, "tape", NULL, NULL, &request, &result,
                              (int) (timeout_s * 1000 > INT32_MAX ? INT32_MAX : timeout_s * 1000), &err);
    if (call != TF_OK) {
        fprintf(stderr, "tapeflow restore: %s\n", err.message);
        goto out;
    }
    if (result.type != TF_MSG_RESTORE_RESULT) {
        fprintf(stderr, "tapeflow restore: the tape writer answered %s, expected a restore result\n",
                tf_msg_type_name(result.type));
        tf_msg_clear(&result);
        goto out;
    }
    const tf_msg_restore_result_t *r = &result.restore_result;
    /* Everything that kept the restore from being complete, in one line (docs/operations.md,
       "Restore outcome"). */
    /* A re-run after a partial restore finds what the first run wrote: identical entries are
       "already present", which is complete, not nothing. */
    bool nothing = r->files == 0 && r->present == 0;
    bool complete = !nothing && r->refused == 0 && r->kept == 0 && r->collisions == 0
                    && r->failures_count == 0 && r->warnings == 0 && missing == 0 && lost == 0;
    char summary[1400] = "";
    if (!complete)
        s_summary(r, nothing && npatterns > 0, missing, lost, summary, sizeof summary);
    if (cli->json) {
        tf_json_t *j = tf_json_new();
        tf_json_object_begin(j, NULL);
        tf_json_str(j, "job", job_id);
        tf_json_str(j, "to", dest);
        tf_json_int(j, "files", (int64_t) r->files);
        tf_json_int(j, "bytes", (int64_t) r->bytes);
        tf_json_int(j, "archives_read", (int64_t) r->archives_read);
        tf_json_int(j, "blocks_read", (int64_t) r->blocks_read);
        tf_json_int(j, "warnings", (int64_t) r->warnings);
        tf_json_str(j, "message", r->message);
        tf_json_bool(j, "complete", complete);
        tf_json_int(j, "refused", (int64_t) r->refused);
        tf_json_int(j, "kept", (int64_t) r->kept);
        tf_json_int(j, "collisions", (int64_t) r->collisions);
        tf_json_int(j, "present", (int64_t) r->present);
        tf_json_int(j, "archives_failed", (int64_t) r->failures_count);
        tf_json_int(j, "archives_lost", (int64_t) lost);
        tf_json_array_begin(j, "lost");
        for (size_t i = 0; i < lost; i++) {
            tf_json_object_begin(j, NULL);
            tf_json_str(j, "archive_id", lost_rows[i].archive_id);
            tf_json_str(j, "volume", lost_rows[i].volume);
            tf_json_int(j, "lost_ms", lost_rows[i].lost_ms);
            tf_json_int(j, "files", (int64_t) lost_rows[i].files);
            tf_json_object_end(j);
        }
        tf_json_array_end(j);
        tf_json_array_begin(j, "failures");
        for (size_t i = 0; i < r->failures_count; i++) {
            tf_json_object_begin(j, NULL);
            tf_json_str(j, "archive_id", r->failures[i].archive_id);
            tf_json_str(j, "reason", r->failures[i].reason);
            tf_json_object_end(j);
        }
        tf_json_array_end(j);
        tf_json_str(j, "overwrite", overwrite);
        tf_json_int(j, "strip_components", (int64_t) strip);
        tf_json_bool(j, "flat", flat);
        tf_json_str(j, "summary", complete ? NULL : summary);
        tf_json_object_end(j);
        printf("%s\n", tf_json_text(j));
        tf_json_destroy(&j);
    }
    else {
        char size[32];
        tf_units_bytes(r->bytes, size, sizeof size);
        printf("restored %llu files (%s) from %llu archive%s (%llu blocks read) into %s\n",
               (unsigned long long) r->files, size, (unsigned long long) r->archives_read,
               r->archives_read == 1 ? "" : "s", (unsigned long long) r->blocks_read, dest);
        if (r->present)
            printf("%llu file%s already present (identical to the stored entry, left alone)\n",
                   (unsigned long long) r->present, r->present == 1 ? "" : "s");
        if (r->warnings)
            printf("%llu warning%s: %s\n", (unsigned long long) r->warnings, r->warnings == 1 ? "" : "s",
                   r->message ? r->message : "see the tape writer's log");
        fflush(stdout);
        for (size_t i = 0; i < r->failures_count; i++)
            fprintf(stderr, "tapeflow restore: archive %s failed: %s\n", r->failures[i].archive_id,
                    r->failures[i].reason ? r->failures[i].reason : "(no reason given)");
    }
    fflush(stdout);  /* the summary comes last, also when both go to one place */
    if (!complete)
        fprintf(stderr, "%s\n", summary);
    rc = complete ? CLI_EXIT_OK : CLI_EXIT_FAIL;
    tf_msg_clear(&result);
    goto out;
query_failed:
    fprintf(stderr, "tapeflow restore: %s\n", err.message);
out:
    tf_client_destroy(&client);
    for (int i = 0; owned && i < npatterns; i++)
        free(owned[i]);
    free(owned);
    free(patterns);
    free(lost_rows);
    s_plan_clear(&plan);
    return rc;
}
