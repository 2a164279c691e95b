/*  cli_jobview - fetching and showing catalog jobs (see cli_jobview.h). */
#define _GNU_SOURCE
#include "cli_jobview.h"
#include "tf_units.h"

#include <czmq.h>
#include <inttypes.h>
#include <string.h>

#include "tf_clock.h"



/* Like tf_client_call, with messages about the catalog rather than a generic item (and
   without reading the item's state after it was freed, which tf_client_wait does on timeout). */
int
cli_catalog_query(tf_client_t *client, const tf_msg_cat_query_t *query, tf_msg_t *reply,
                  int timeout_ms, tf_err_t *err)
{
    memset(reply, 0, sizeof *reply);
    tf_msg_t payload = {.type = TF_MSG_CAT_QUERY};
    payload.cat_query = *query;
    tf_msg_t ok;
    int rc = tf_client_submit_msg(client, "catalog", NULL, NULL, &payload, &ok,
                                  timeout_ms < 5000 ? timeout_ms : 5000, err);
    if (rc != TF_OK)
        return rc;   /* "broker not reachable at ... start it with: tapeflow up" */
    char item_id[TF_MSG_MAX_ID + 1];
    snprintf(item_id, sizeof item_id, "%s", ok.submit_ok.item_id);
    tf_msg_clear(&ok);

    int64_t deadline = tf_clock_mono_ms() + timeout_ms;
    int64_t pause = 5;
    char state[32] = "queued";
    for (;;) {
        int64_t left = deadline - tf_clock_mono_ms();
        tf_msg_t info;
        rc = tf_client_item(client, item_id, &info,
                            (int) (left < 100 ? 100 : left > 5000 ? 5000 : left), err);
        if (rc != TF_OK)
            return rc;
        const tf_msg_item_info_t *it = &info.item_info;
        if (strcmp(it->state, "done") == 0) {
            rc = TF_OK;
            if (it->result.size == 0)
                rc = tf_err_set(err, TF_ERR_PROTO, "the catalog answered a query with nothing");
            else
                rc = tf_msg_decode(it->result.data, it->result.size, reply, err);
            tf_msg_clear(&info);
            if (rc == TF_OK && reply->type != TF_MSG_CAT_REPLY) {
                rc = tf_err_set(err, TF_ERR_PROTO, "the catalog answered a query with %s instead "
                                "of cat_reply", tf_msg_type_name(reply->type));
                tf_msg_clear(reply);
            }
            return rc;
        }
        if (strcmp(it->state, "failed") == 0) {
            /* The catalog refused the query: its reason is the message. */
            const char *reason = it->reason && *it->reason ? it->reason : "the catalog refused the query";
            rc = tf_err_set(err, strncmp(reason, "no job ", 7) == 0 ? TF_ERR_NOTFOUND : TF_ERR_STATE,
                            "%s", reason);
            tf_msg_clear(&info);
            return rc;
        }
        snprintf(state, sizeof state, "%s", it->state);
        tf_msg_clear(&info);
        if (tf_clock_mono_ms() + pause > deadline)
            break;
        if (zsys_interrupted)
            return tf_err_set(err, TF_ERR_INTERRUPTED, "interrupted");
        tf_clock_sleep_ms(pause);
        if (pause < 100)
            pause *= 2;
    }
    /* The broker took the item but no catalog worked on it. */
    return tf_err_set(err, TF_ERR_TIMEOUT, "the catalog did not answer within %.1f s (the query "
                      "is still %s) - is tapeflow-catalog running? check with: tapeflow status",
                      timeout_ms / 1000.0, state);
}

int
cli_job_fetch(tf_client_t *client, const char *job_id, tf_msg_t *reply, int timeout_ms,
              tf_err_t *err)
{
    tf_msg_cat_query_t query = {.query = "job", .job_id = (char *) job_id};
    int rc = cli_catalog_query(client, &query, reply, timeout_ms, err);
    if (rc == TF_OK && reply->cat_reply.jobs_count == 0) {
        tf_msg_clear(reply);
        rc = tf_err_set(err, TF_ERR_NOTFOUND, "no job %s in the catalog (tapeflow jobs lists the "
                        "known jobs)", job_id);
    }
    return rc;
}

bool
cli_job_finished(const tf_msg_job_row_t *job)
{
    return job->status
           && (strcmp(job->status, "completed") == 0 || strcmp(job->status, "failed") == 0
               || strcmp(job->status, "completed_with_warnings") == 0 || strcmp(job->status, "expired") == 0
               || strcmp(job->status, "cancelled") == 0);
}

bool
cli_job_ok(const tf_msg_job_row_t *job)
{
    return job->status && strcmp(job->status, "completed") == 0;
}

static const char *
s_or_dash(const char *s)
{
    return s && *s ? s : "-";
}

/* Percent of done over total, or -1 when the total is not known yet. */
static double
s_percent(uint64_t done, uint64_t total, bool scanned)
{
    if (!scanned)
        return -1;
    if (total == 0)
        return 100.0;
    double p = 100.0 * (double) done / (double) total;
    return p > 100.0 ? 100.0 : p;
}

/* Level, base, trigger and the chain (issue 11). Jobs from before levels have none: fulls. */
static void
s_print_level(FILE *out, const tf_msg_job_row_t *job)
{
    if (!job->level) {
        fprintf(out, "level     full (from before levels: no manifest)\n");
        return;
    }
    fprintf(out, "level     %s", job->level);
    if (job->level_reason && *job->level_reason)
        fprintf(out, " (upgraded: %s; %s was asked for)", job->level_reason, s_or_dash(job->level_requested));
    fputc('\n', out);
    fprintf(out, "base job  %s\n", s_or_dash(job->base_job));
    fprintf(out, "trigger   %s\n", job->trigger && *job->trigger ? job->trigger : "manual");
    fprintf(out, "unchanged %" PRIu64 " (carried from the base job)\n", job->files_unchanged);
    fprintf(out, "deleted   %" PRIu64 "\n", job->files_deleted);
    fprintf(out, "depends on");
    for (size_t i = 0; i < job->depends_on_count; i++)
        fprintf(out, "%s%s", i ? ", " : " ", s_or_dash(job->depends_on[i].path));
    fprintf(out, "%s\n", job->depends_on_count ? "" : " - (restores from its own archives only)");
}

/* One target's replica in words: the catalog's message for a verified, failed or deleted
   copy ("replicated to URL (3 archives, 1.2 GiB, verified)", "replication to URL failed: WHY"),
   the progress of one being copied. */
static const char *
s_replica_text(const tf_msg_replica_row_t *r, char *buf, size_t size)
{
    const char *url = s_or_dash(r->url);
    const char *state = r->state ? r->state : "";
    if (strcmp(state, "copying") == 0) {
        char total[32] = "?";
        if (r->archives_total)
            snprintf(total, sizeof total, "%" PRIu64, r->archives_total);
        snprintf(buf, size, "replicating to %s: %" PRIu64 " of %s archives%s%s", url, r->archives, total,
                 r->message && *r->message ? "; last: " : "", r->message && *r->message ? r->message : "");
    }
    else if (r->message && *r->message)
        snprintf(buf, size, "%s", r->message);
    else if (strcmp(state, "verified") == 0) {
        char bytes[32];
        snprintf(buf, size, "replicated to %s (%" PRIu64 " archives, %s, verified)", url, r->archives,
                 tf_units_bytes(r->bytes, bytes, sizeof bytes));
    }
    else if (strcmp(state, "failed") == 0)
        snprintf(buf, size, "replication to %s failed", url);
    else
        snprintf(buf, size, "%s: %s", url, s_or_dash(state));
    return buf;
}

/* The Replicas section: one line per target of the job's pool (nothing for a job without). */
static void
s_print_replicas(FILE *out, const tf_msg_job_row_t *job)
{
    if (!job->replication && job->replicas_count == 0)
        return;
    if (job->replicas_count == 0)
        fprintf(out, "replicas  none copied yet (replication %s)\n", job->replication);
    for (size_t i = 0; i < job->replicas_count; i++) {
        const tf_msg_replica_row_t *r = &job->replicas[i];
        char text[TF_MSG_MAX_PATH + 1200];
        fprintf(out, "%s %s%s: %s\n", i == 0 ? "replicas " : "         ", s_or_dash(r->target),
                r->required ? "" : " (optional)", s_replica_text(r, text, sizeof text));
    }
}

void
cli_job_print(FILE *out, const tf_msg_job_row_t *job)
{
    char a[32], b[32], when[64];
    fprintf(out, "job       %s\n", s_or_dash(job->job_id));
    fprintf(out, "status    %s\n", s_or_dash(job->status));
    fprintf(out, "stage     %s\n", s_or_dash(job->stage));
    fprintf(out, "pool      %s\n", s_or_dash(job->pool));
    /* HOST:/path: whose files these are (a plain /path: a one-host job from before issue 10) */
    for (size_t i = 0; i < job->sources_count; i++)
        fprintf(out, "%s %s\n", i == 0 ? "sources  " : "         ", s_or_dash(job->sources[i].path));
    s_print_level(out, job);
    fprintf(out, "created   %s\n", job->created_ms > 0 ? tf_clock_format(job->created_ms, when, sizeof when) : "-");
    fprintf(out, "updated   %s\n", job->updated_ms > 0 ? tf_clock_format(job->updated_ms, when, sizeof when) : "-");
    if (job->scanned) {
        fprintf(out, "files     %" PRIu64 " of %" PRIu64 " (%.0f%%)\n", job->files_done,
                job->files_total, s_percent(job->files_done, job->files_total, true));
        fprintf(out, "bytes     %s of %s (%.0f%%)\n", tf_units_bytes(job->bytes_done, a, sizeof a),
                tf_units_bytes(job->bytes_total, b, sizeof b),
                s_percent(job->bytes_done, job->bytes_total, true));
        fprintf(out, "archives  %" PRIu64 " of %" PRIu64 " written\n", job->archives_written,
                job->groups_total);
    }
    else {
        fprintf(out, "files     %" PRIu64 " of ? (%s)\n", job->files_done,
                cli_job_finished(job) ? "the scan did not finish" : "still scanning");
        fprintf(out, "bytes     %s of ?\n", tf_units_bytes(job->bytes_done, a, sizeof a));
        fprintf(out, "archives  %" PRIu64 " written\n", job->archives_written);
    }
    s_print_replicas(out, job);
    fprintf(out, "warnings  %" PRIu64 "\n", job->warnings);
    fprintf(out, "message   %s\n", s_or_dash(job->message));
    if (job->detail && *job->detail)
        fprintf(out, "detail    %s\n", job->detail);
}

/* The job's keys, inside an object begun by the caller. */
static void
s_job_fields(tf_json_t *j, const tf_msg_job_row_t *job)
{
    char when[64];
    tf_json_str(j, "job_id", job->job_id);
    tf_json_str(j, "status", job->status);
    tf_json_str(j, "stage", job->stage);
    tf_json_str(j, "pool", job->pool);
    if (job->sources_count > 0) {   /* `tapeflow job` only: the jobs list does not read them */
        tf_json_array_begin(j, "sources");
        for (size_t i = 0; i < job->sources_count; i++)
            tf_json_str(j, NULL, job->sources[i].path);
        tf_json_array_end(j);
    }
    tf_json_str(j, "level", job->level);
    tf_json_str(j, "level_requested", job->level_requested);
    tf_json_str(j, "level_reason", job->level_reason);
    tf_json_str(j, "base_job", job->base_job);
    tf_json_str(j, "schedule", job->schedule);
    tf_json_str(j, "trigger", job->trigger);
    tf_json_int(j, "trigger_ms", job->trigger_ms);
    tf_json_int(j, "files_unchanged", (int64_t) job->files_unchanged);
    tf_json_int(j, "files_deleted", (int64_t) job->files_deleted);
    tf_json_array_begin(j, "depends_on");   /* `tapeflow job` only: the jobs list leaves it empty */
    for (size_t i = 0; i < job->depends_on_count; i++)
        tf_json_str(j, NULL, job->depends_on[i].path);
    tf_json_array_end(j);
    tf_json_str(j, "replication", job->replication);
    tf_json_array_begin(j, "replicas");     /* `tapeflow job` only: the jobs list leaves it empty */
    for (size_t i = 0; i < job->replicas_count; i++) {
        const tf_msg_replica_row_t *r = &job->replicas[i];
        tf_json_object_begin(j, NULL);
        tf_json_str(j, "target", r->target);
        tf_json_str(j, "url", r->url);
        tf_json_str(j, "state", r->state);
        tf_json_bool(j, "required", r->required);
        tf_json_int(j, "archives", (int64_t) r->archives);
        tf_json_int(j, "archives_total", (int64_t) r->archives_total);
        tf_json_int(j, "bytes", (int64_t) r->bytes);
        tf_json_str(j, "message", r->message);
        tf_json_int(j, "verified_ms", r->verified_ms);
        tf_json_bool(j, "final", r->final);
        tf_json_object_end(j);
    }
    tf_json_array_end(j);
    tf_json_str(j, "message", job->message);
    tf_json_str(j, "detail", job->detail);
    if (job->created_ms > 0)
        tf_json_str(j, "created", tf_clock_format(job->created_ms, when, sizeof when));
    else
        tf_json_null(j, "created");
    tf_json_int(j, "created_ms", job->created_ms);
    if (job->updated_ms > 0)
        tf_json_str(j, "updated", tf_clock_format(job->updated_ms, when, sizeof when));
    else
        tf_json_null(j, "updated");
    tf_json_int(j, "updated_ms", job->updated_ms);
    tf_json_bool(j, "scanned", job->scanned);
    tf_json_int(j, "files_done", (int64_t) job->files_done);
    tf_json_int(j, "files_total", (int64_t) job->files_total);
    tf_json_int(j, "bytes_done", (int64_t) job->bytes_done);
    tf_json_int(j, "bytes_total", (int64_t) job->bytes_total);
    tf_json_int(j, "groups_total", (int64_t) job->groups_total);
    tf_json_int(j, "archives_written", (int64_t) job->archives_written);
    tf_json_int(j, "warnings", (int64_t) job->warnings);
    double p = s_percent(job->bytes_done, job->bytes_total, job->scanned);
    if (p < 0)
        tf_json_null(j, "percent");
    else
        tf_json_double(j, "percent", p);
}

void
cli_job_json(tf_json_t *j, const char *key, const tf_msg_job_row_t *job)
{
    tf_json_object_begin(j, key);
    s_job_fields(j, job);
    tf_json_object_end(j);
}

void
cli_job_json_document(tf_json_t *j, const tf_msg_job_row_t *job)
{
    tf_json_document_begin(j);
    s_job_fields(j, job);
    tf_json_object_end(j);
}

/* "done/total", "done/?" before the scan finished. */
static const char *
s_count_pair(uint64_t done, uint64_t total, bool scanned, char *buf, size_t size)
{
    if (scanned)
        snprintf(buf, size, "%" PRIu64 "/%" PRIu64, done, total);
    else
        snprintf(buf, size, "%" PRIu64 "/?", done);
    return buf;
}

static const char *
s_bytes_pair(uint64_t done, uint64_t total, bool scanned, char *buf, size_t size)
{
    char a[32], b[32];
    snprintf(buf, size, "%s/%s", tf_units_bytes(done, a, sizeof a),
             scanned ? tf_units_bytes(total, b, sizeof b) : "?");
    return buf;
}

/* First line of text, at most max bytes (cut at a UTF-8 boundary, "..." appended). */
static const char *
s_oneline(const char *text, size_t max, char *buf, size_t size)
{
    if (!text || !*text)
        return "-";
    size_t n = strcspn(text, "\r\n");
    bool cut = text[n] != '\0';
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char) text[n] & 0xC0) == 0x80)
            n--;
        cut = true;
    }
    if (n + 4 > size)
        n = size - 4;
    memcpy(buf, text, n);
    strcpy(buf + n, cut ? "..." : "");
    return buf;
}

void
cli_jobs_table(FILE *out, const tf_msg_job_row_t *jobs, size_t count)
{
    int idw = 3, stw = 9, basew = 4;
    for (size_t i = 0; i < count; i++) {
        size_t n = strlen(s_or_dash(jobs[i].job_id));
        if ((int) n > idw)
            idw = n > 64 ? 64 : (int) n;
        n = strlen(s_or_dash(jobs[i].status));  /* completed_with_warnings */
        if ((int) n > stw)
            stw = n > 32 ? 32 : (int) n;
        n = strlen(s_or_dash(jobs[i].base_job));
        if ((int) n > basew)
            basew = n > 64 ? 64 : (int) n;
    }
    fprintf(out, "%-*s  %-*s  %-12s  %-16s  %-*s  %-8s  %-20s  %-15s  %-21s  %s\n", idw, "JOB", stw, "STATUS",
            "LEVEL", "TRIGGER", basew, "BASE", "STAGE", "CREATED", "FILES", "BYTES", "MESSAGE");
    for (size_t i = 0; i < count; i++) {
        const tf_msg_job_row_t *job = &jobs[i];
        char when[64] = "-", files[48], bytes[80], msg[128];
        if (job->created_ms > 0) {
            tf_clock_format(job->created_ms, when, sizeof when);
            char *dot = strchr(when, '.');   /* seconds are enough in a table */
            if (dot)
                strcpy(dot, "Z");
        }
        /* TRIGGER: the schedule that fired it, or manual ("NAME (manual)": tapeflow schedule run) */
        char trigger[80];
        bool by_hand = !job->trigger || strncmp(job->trigger, "manual", 6) == 0;
        if (job->schedule && *job->schedule)
            snprintf(trigger, sizeof trigger, "%s%s", job->schedule, by_hand ? " (manual)" : "");
        else
            snprintf(trigger, sizeof trigger, "%s", job->level ? "manual" : "-");
        fprintf(out, "%-*s  %-*s  %-12s  %-16s  %-*s  %-8s  %-20s  %-15s  %-21s  %s\n", idw, s_or_dash(job->job_id),
                stw, s_or_dash(job->status), s_or_dash(job->level), trigger, basew, s_or_dash(job->base_job),
                s_or_dash(job->stage), when,
                s_count_pair(job->files_done, job->files_total, job->scanned, files, sizeof files),
                s_bytes_pair(job->bytes_done, job->bytes_total, job->scanned, bytes, sizeof bytes),
                s_oneline(job->message, 72, msg, sizeof msg));
    }
    if (count == 0)
        fprintf(out, "(no jobs yet: start one with tapeflow backup PATH...)\n");
}
