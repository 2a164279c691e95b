/*  tapeflow schedule list|next|history|run - the backup schedules of the configuration and what
    the scheduler did with them (docs/operations.md, "Schedules").

    list and next are computed from the configuration (schedules/NAME) and the catalog's last
    recorded run of each schedule (query schedule_history); history is the catalog's record;
    run starts the schedule's job now, recorded as a manual run (cat_sched claim, kind manual,
    then tf_job_check and tf_job_start like the scheduler) so it chains with the schedule's
    jobs.
    Exit status: 0 shown / started; 1 a schedule is unknown or wrong, the catalog did not answer
    (list, history, run), or the job could not start or (run --wait) ended other than completed;
    2 usage error.
*/
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_jobview.h"
#include "cli_opt.h"
#include "tf_clock.h"
#include "tf_job_start.h"
#include "tf_json.h"
#include "tf_schedule.h"
#include "tf_schedule_job.h"

/* `schedule next` lists at most this many instants (a seconds calendar over a week). */
#define S_NEXT_MAX 1000
#define S_DAY_MS (86400LL * 1000)

static void
s_usage(FILE *out)
{
    fputs("usage: tapeflow schedule list [--json] [--timeout SECONDS]\n"
          "       tapeflow schedule next NAME [--days N] [--json] [--timeout SECONDS]\n"
          "       tapeflow schedule history NAME [--limit N] [--json] [--timeout SECONDS]\n"
          "       tapeflow schedule run NAME [--wait] [--json] [--timeout SECONDS]\n"
          "\n"
          "The backup schedules of the configuration (schedules/NAME: paths, calendar, timezone,\n"
          "level, pool, catch_up, overlap, enabled) and what the scheduler (tapeflow-scheduler) did.\n"
          "list     every schedule: calendar, zone, next run, last run and its result, the level\n"
          "         of the next run\n"
          "next     the coming runs of NAME within --days N days (default 7), in its zone and UTC,\n"
          "         with their level; computed from the configuration (and the last recorded run\n"
          "         when the catalog answers)\n"
          "history  the recorded runs of NAME, newest first (default the last 100): fired,\n"
          "         missed, skipped, queued or manual, the instant in its zone and UTC, the job,\n"
          "         its status and why a run was missed or skipped\n"
          "run      starts NAME's job now, recorded as a manual run of the schedule (its level\n"
          "         from the schedule's rules, trigger 'manual (schedule NAME)'); --wait follows\n"
          "         it to its end: exit 0 only when it completed\n"
          "--timeout SECONDS: how long to wait for the catalog (default 10); with run --wait, for\n"
          "the job (default: until it ends).\n",
          out);
}

typedef struct {
    bool json;
    bool wait;
    int64_t days;
    int64_t limit;
    int64_t timeout_s;
    const char *name;
} s_args_t;

/* Parses a verb's words. with_name: one operand, the schedule. Returns -1 to go on, else the
   exit status. */
static int
s_parse(cli_t *cli, const char *verb, bool with_name, int argc, char **argv, s_args_t *a)
{
    static const struct option options[] = {
        {"json", no_argument, NULL, 'j'},     {"days", required_argument, NULL, 'd'},
        {"limit", required_argument, NULL, 'l'}, {"wait", no_argument, NULL, 'w'},
        {"timeout", required_argument, NULL, 't'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char command[64];
    snprintf(command, sizeof command, "schedule %s", verb);
    *a = (s_args_t){.json = cli->json, .days = 7, .limit = 100};
    int opt, rc = CLI_EXIT_OK;
    cli_opt_begin();
    while (rc == CLI_EXIT_OK && (opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        /* --days only for next, --limit only for history, --wait only for run */
        bool fits = (opt != 'd' || strcmp(verb, "next") == 0) && (opt != 'l' || strcmp(verb, "history") == 0)
                    && (opt != 'w' || strcmp(verb, "run") == 0);
        if (!fits)
            return cli_usage_error("schedule", "'%s' is not an option of schedule %s", argv[optind - 1], verb);
        switch (opt) {
        case 'j': a->json = true; break;
        case 'w': a->wait = true; break;
        case 'd': rc = cli_opt_int(command, "--days", optarg, 1, 3660, "a number of days", &a->days); break;
        case 'l': rc = cli_opt_int(command, "--limit", optarg, 1, TF_MSG_MAX_ROWS, "a number of runs", &a->limit); break;
        case 't':
            rc = cli_opt_int(command, "--timeout", optarg, 1, 31536000, "a number of seconds", &a->timeout_s);
            break;
        case 'h': s_usage(stdout); return CLI_EXIT_OK;
        default: return cli_opt_error(command, opt, argc, argv);
        }
    }
    if (rc != CLI_EXIT_OK)
        return rc;
    if (with_name && optind < argc)
        a->name = argv[optind++];
    if (optind < argc)
        return cli_usage_error("schedule", "schedule %s: unexpected argument '%s'", verb, argv[optind]);
    if (with_name && (!a->name || !*a->name))
        return cli_usage_error("schedule", "schedule %s: which schedule? give its name (tapeflow schedule "
                               "list shows them)", verb);
    return -1;
}

/* The error as JSON on stdout (for scripts) and as text on stderr (for people). */
static int
s_fail(const char *verb, bool json, const char *message)
{
    if (json) {
        tf_json_t *j = tf_json_new();
        if (j) {
            tf_json_document_begin(j);
            tf_json_str(j, "error", message);
            tf_json_object_end(j);
            if (tf_json_print(j, stdout) != 0)
                fprintf(stderr, "tapeflow schedule %s: out of memory building JSON\n", verb);
            tf_json_destroy(&j);
        }
    }
    fprintf(stderr, "tapeflow schedule %s: %s\n", verb, message);
    return CLI_EXIT_FAIL;
}

static int
s_print_json(tf_json_t *j, const char *verb)
{
    if (tf_json_print(j, stdout) != 0) {
        fprintf(stderr, "tapeflow schedule %s: out of memory building JSON\n", verb);
        return CLI_EXIT_FAIL;
    }
    return CLI_EXIT_OK;
}

/* The schedule NAME of the configuration; NULL with the reason in err. */
static tf_schedule_t *
s_schedule(cli_t *cli, const char *name, tf_err_t *err)
{
    zlist_t *names = tf_schedule_names(cli->cfg);
    bool known = false;
    for (const char *n = names ? zlist_first(names) : NULL; n && !known; n = zlist_next(names))
        known = strcmp(n, name) == 0;
    zlist_destroy(&names);
    if (!known) {
        tf_err_set(err, TF_ERR_NOTFOUND,
                   "no schedule %s in the configuration (schedules/%s/paths); tapeflow schedule list shows "
                   "them",
                   name, name);
        return NULL;
    }
    return tf_schedule_new(cli->cfg, name, err);
}

static tf_client_t *
s_client(cli_t *cli, tf_err_t *err)
{
    return tf_client_new(cli->cfg, tf_config_get(cli->cfg, "broker/endpoint"), err);
}

static int
s_timeout_ms(const s_args_t *a)
{
    return a->timeout_s > 0 ? (int) (a->timeout_s * 1000) : CLI_JOB_TIMEOUT_MS;
}

/* schedule_history rows of name (NULL: the newest of every schedule) into *reply. */
static int
s_history(cli_t *cli, const char *name, int64_t limit, int timeout_ms, tf_msg_t *reply, tf_err_t *err)
{
    tf_client_t *client = s_client(cli, err);
    if (!client)
        return err->code;
    tf_msg_cat_query_t query = {.query = "schedule_history", .pattern = (char *) name, .limit = (uint64_t) limit};
    int rc = cli_catalog_query(client, &query, reply, timeout_ms, err);
    tf_client_destroy(&client);
    return rc;
}

/* The instant the next run is computed after: the last recorded scheduled run, or now. */
static int64_t
s_after(const tf_msg_sched_row_t *last, int64_t now)
{
    return last && last->instant_ms > now ? last->instant_ms : now;
}

static void
s_local(const tf_schedule_t *s, int64_t ms, char *buf, size_t size)
{
    if (s)
        tf_tz_format(tf_schedule_tz(s), ms, buf, size);
    else
        tf_time_format_utc(ms, buf, size);
}

/* A time as JSON: KEY_ms and KEY (ISO UTC); 0 is null. */
static void
s_json_time(tf_json_t *j, const char *key, int64_t ms)
{
    char k[64], iso[32];
    snprintf(k, sizeof k, "%s_ms", key);
    if (ms == 0) {
        tf_json_null(j, k);
        tf_json_null(j, key);
        return;
    }
    tf_json_int(j, k, ms);
    tf_time_format_utc(ms, iso, sizeof iso);
    tf_json_str(j, key, iso);
}

/* ------------------------------------------------------------------ list -------------- */

static const tf_msg_sched_row_t *
s_last_of(const tf_msg_t *reply, const char *name)
{
    for (size_t i = 0; reply && i < reply->cat_reply.sched_count; i++)
        if (reply->cat_reply.sched[i].schedule && strcmp(reply->cat_reply.sched[i].schedule, name) == 0)
            return &reply->cat_reply.sched[i];
    return NULL;
}

/* What became of a run: its job's status, or the kind (missed, skipped, queued). */
static const char *
s_result(const tf_msg_sched_row_t *row)
{
    if (!row)
        return "-";
    if (row->job_status && *row->job_status)
        return row->job_status;
    return row->kind ? row->kind : "?";
}

static int
s_cmd_list(cli_t *cli, int argc, char **argv)
{
    s_args_t a;
    int rc = s_parse(cli, "list", false, argc, argv, &a);
    if (rc >= 0)
        return rc;
    rc = CLI_EXIT_OK;
    tf_err_t err = {0};
    tf_msg_t reply = {0};
    int q = s_history(cli, NULL, 0, s_timeout_ms(&a), &reply, &err);
    const tf_msg_t *history = q == TF_OK ? &reply : NULL;
    int64_t now = tf_clock_wall_ms();
    zlist_t *names = tf_schedule_names(cli->cfg);
    tf_json_t *j = a.json ? tf_json_new() : NULL;
    if (!names || (a.json && !j)) {
        zlist_destroy(&names);
        tf_json_destroy(&j);
        tf_msg_clear(&reply);
        return s_fail("list", a.json, "out of memory");
    }
    if (j) {
        tf_json_document_begin(j);
        tf_json_array_begin(j, "schedules");
    } else if (zlist_size(names) == 0)
        printf("no schedules (add a section schedules/NAME to the configuration: docs/operations.md, "
               "\"Schedules\")\n");
    else
        printf("%-16s %-22s %-16s %-27s %-27s %-24s %s\n", "NAME", "CALENDAR", "ZONE", "NEXT", "LAST",
               "LAST RESULT", "LEVEL NEXT");
    bool bad = false;
    for (const char *name = zlist_first(names); name; name = zlist_next(names)) {
        tf_err_t serr = {0};
        tf_schedule_t *s = tf_schedule_new(cli->cfg, name, &serr);
        const tf_msg_sched_row_t *last = s_last_of(history, name);
        int64_t next = 0;
        tf_err_t nerr = {0};
        if (s && tf_schedule_enabled(s) && tf_schedule_next(s, s_after(last, now), &next, &nerr) != TF_OK)
            next = 0;
        bad = bad || !s;
        if (j) {
            tf_json_object_begin(j, NULL);
            tf_json_str(j, "schedule", name);
            tf_json_str(j, "calendar", s ? tf_calendar_text(tf_schedule_calendar(s)) : NULL);
            tf_json_str(j, "timezone", s ? tf_tz_name(tf_schedule_tz(s)) : NULL);
            tf_json_bool(j, "enabled", s && tf_schedule_enabled(s));
            s_json_time(j, "next", next);
            tf_json_str(j, "level_next", s && next ? tf_schedule_level(s, next) : NULL);
            s_json_time(j, "last", last ? last->instant_ms : 0);
            tf_json_str(j, "last_kind", last ? last->kind : NULL);
            tf_json_str(j, "last_job_id", last ? last->job_id : NULL);
            tf_json_str(j, "last_status", last ? last->job_status : NULL);
            tf_json_str(j, "error", s ? NULL : serr.message);
            tf_json_object_end(j);
        } else if (!s)
            printf("%-16s %s\n", name, serr.message);
        else {
            char next_text[64] = "-", last_text[64] = "-";
            if (!tf_schedule_enabled(s))
                snprintf(next_text, sizeof next_text, "disabled");
            else if (next)
                s_local(s, next, next_text, sizeof next_text);
            if (last)
                s_local(s, last->instant_ms, last_text, sizeof last_text);
            else if (!history)
                snprintf(last_text, sizeof last_text, "?");
            printf("%-16s %-22s %-16s %-27s %-27s %-24s %s\n", name, tf_calendar_text(tf_schedule_calendar(s)),
                   tf_tz_name(tf_schedule_tz(s)), next_text, last_text, history ? s_result(last) : "?",
                   next ? tf_schedule_level(s, next) : "-");
        }
        tf_schedule_destroy(&s);
    }
    zlist_destroy(&names);
    if (j) {
        tf_json_array_end(j);
        tf_json_str(j, "catalog_error", history ? NULL : err.message);
        tf_json_object_end(j);
        rc = s_print_json(j, "list");
        tf_json_destroy(&j);
    }
    if (!history)
        fprintf(stderr, "tapeflow schedule list: the last runs are unknown: %s\n", err.message);
    tf_msg_clear(&reply);
    return rc == CLI_EXIT_OK && history && !bad ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

/* ------------------------------------------------------------------ next -------------- */

static int
s_cmd_next(cli_t *cli, int argc, char **argv)
{
    s_args_t a;
    int rc = s_parse(cli, "next", true, argc, argv, &a);
    if (rc >= 0)
        return rc;
    rc = CLI_EXIT_OK;
    tf_err_t err = {0};
    tf_schedule_t *s = s_schedule(cli, a.name, &err);
    if (!s)
        return s_fail("next", a.json, err.message);
    /* The last recorded run, when the catalog answers: the scheduler counts from it. */
    tf_msg_t reply = {0};
    tf_err_t herr = {0};
    int q = s_history(cli, a.name, 1, s_timeout_ms(&a), &reply, &herr);
    const tf_msg_sched_row_t *last = q == TF_OK && reply.cat_reply.sched_count ? &reply.cat_reply.sched[0] : NULL;
    int64_t now = tf_clock_wall_ms(), end = now + a.days * S_DAY_MS, at = s_after(last, now);
    tf_json_t *j = a.json ? tf_json_new() : NULL;
    if (j) {
        tf_json_document_begin(j);
        tf_json_str(j, "schedule", a.name);
        tf_json_str(j, "calendar", tf_calendar_text(tf_schedule_calendar(s)));
        tf_json_str(j, "timezone", tf_tz_name(tf_schedule_tz(s)));
        tf_json_bool(j, "enabled", tf_schedule_enabled(s));
        tf_json_int(j, "days", a.days);
        s_json_time(j, "last", last ? last->instant_ms : 0);
        tf_json_array_begin(j, "runs");
    } else {
        if (!tf_schedule_enabled(s))
            printf("schedule %s is disabled (schedules/%s/enabled = 0): these are the runs it would have\n",
                   a.name, a.name);
        printf("%-27s %-21s %s\n", "LOCAL TIME", "UTC", "LEVEL");
    }
    size_t count = 0;
    bool truncated = false;
    for (;;) {
        int64_t next;
        tf_err_t nerr = {0};
        if (tf_schedule_next(s, at, &next, &nerr) != TF_OK || next > end)
            break;
        if (count == S_NEXT_MAX) {
            truncated = true;
            break;
        }
        count++;
        at = next;
        char local[64], iso[32];
        tf_tz_format(tf_schedule_tz(s), next, local, sizeof local);
        tf_time_format_utc(next, iso, sizeof iso);
        if (j) {
            tf_json_object_begin(j, NULL);
            tf_json_int(j, "instant_ms", next);
            tf_json_str(j, "instant", iso);
            tf_json_str(j, "local", local);
            tf_json_str(j, "level", tf_schedule_level(s, next));
            tf_json_object_end(j);
        } else
            printf("%-27s %-21s %s\n", local, iso, tf_schedule_level(s, next));
    }
    if (j) {
        tf_json_array_end(j);
        tf_json_bool(j, "truncated", truncated);
        tf_json_str(j, "catalog_error", q == TF_OK ? NULL : herr.message);
        tf_json_object_end(j);
        rc = s_print_json(j, "next");
        tf_json_destroy(&j);
    } else if (count == 0)
        printf("(no run within %" PRId64 " days)\n", a.days);
    else if (truncated)
        printf("(the first %d runs; more follow within %" PRId64 " days)\n", S_NEXT_MAX, a.days);
    if (q != TF_OK)
        fprintf(stderr, "tapeflow schedule next: counted from now, not from the last recorded run: %s\n",
                herr.message);
    tf_msg_clear(&reply);
    tf_schedule_destroy(&s);
    return rc;
}

/* ------------------------------------------------------------------ history ----------- */

static int
s_cmd_history(cli_t *cli, int argc, char **argv)
{
    s_args_t a;
    int rc = s_parse(cli, "history", true, argc, argv, &a);
    if (rc >= 0)
        return rc;
    tf_err_t err = {0};
    /* A schedule taken out of the configuration still has its history: shown in UTC then. */
    tf_schedule_t *s = s_schedule(cli, a.name, &err);
    tf_err_clear(&err);
    tf_msg_t reply = {0};
    if (s_history(cli, a.name, a.limit, s_timeout_ms(&a), &reply, &err) != TF_OK) {
        tf_schedule_destroy(&s);
        return s_fail("history", a.json, err.message);
    }
    const tf_msg_cat_reply_t *r = &reply.cat_reply;
    tf_json_t *j = a.json ? tf_json_new() : NULL;
    if (j) {
        tf_json_document_begin(j);
        tf_json_str(j, "schedule", a.name);
        tf_json_str(j, "timezone", s ? tf_tz_name(tf_schedule_tz(s)) : "UTC");
        tf_json_array_begin(j, "runs");
    } else if (r->sched_count == 0)
        printf("no recorded runs of schedule %s\n", a.name);
    else
        printf("%-8s %-27s %-21s %-34s %-24s %s\n", "KIND", "INSTANT", "UTC", "JOB", "STATUS", "REASON");
    for (size_t i = 0; i < r->sched_count; i++) {
        const tf_msg_sched_row_t *row = &r->sched[i];
        char local[64], iso[32];
        s_local(s, row->instant_ms, local, sizeof local);
        tf_time_format_utc(row->instant_ms, iso, sizeof iso);
        if (j) {
            tf_json_object_begin(j, NULL);
            tf_json_str(j, "kind", row->kind);
            tf_json_int(j, "instant_ms", row->instant_ms);
            tf_json_str(j, "instant", iso);
            tf_json_str(j, "local", local);
            tf_json_str(j, "job_id", row->job_id && *row->job_id ? row->job_id : NULL);
            tf_json_str(j, "job_status", row->job_status);
            tf_json_str(j, "level", row->level);
            tf_json_str(j, "reason", row->reason && *row->reason ? row->reason : NULL);
            tf_json_int(j, "recorded_ms", row->recorded_ms);
            tf_json_object_end(j);
        } else
            printf("%-8s %-27s %-21s %-34s %-24s %s\n", row->kind ? row->kind : "?", local, iso,
                   row->job_id && *row->job_id ? row->job_id : "-", row->job_status ? row->job_status : "-",
                   row->reason ? row->reason : "");
    }
    if (j) {
        tf_json_array_end(j);
        tf_json_bool(j, "truncated", r->truncated);
        tf_json_object_end(j);
        rc = s_print_json(j, "history");
        tf_json_destroy(&j);
    } else {
        rc = CLI_EXIT_OK;
        if (r->truncated)
            printf("(the newest %" PRId64 " runs; --limit N shows more)\n", a.limit);
    }
    tf_msg_clear(&reply);
    tf_schedule_destroy(&s);
    return rc;
}

/* ------------------------------------------------------------------ run --------------- */

/* Polls the job until it ends (or timeout_s, 0: no limit); prints it. Exit 0 when completed. */
static int
s_wait_job(tf_client_t *client, const char *job_id, bool json, int64_t timeout_s)
{
    int64_t deadline = timeout_s > 0 ? tf_clock_mono_ms() + timeout_s * 1000 : INT64_MAX;
    for (;;) {
        tf_msg_t reply;
        tf_err_t err = {0};
        int q = cli_job_fetch(client, job_id, &reply, CLI_JOB_TIMEOUT_MS, &err);
        if (q == TF_OK && reply.cat_reply.jobs_count == 1 && cli_job_finished(&reply.cat_reply.jobs[0])) {
            const tf_msg_job_row_t *job = &reply.cat_reply.jobs[0];
            int rc = cli_job_ok(job) ? CLI_EXIT_OK : CLI_EXIT_FAIL;
            tf_json_t *j = json ? tf_json_new() : NULL;
            if (j) {
                cli_job_json_document(j, job);
                if (s_print_json(j, "run") != CLI_EXIT_OK)
                    rc = CLI_EXIT_FAIL;
                tf_json_destroy(&j);
            } else
                cli_job_print(stdout, job);
            tf_msg_clear(&reply);
            return rc;
        }
        if (q == TF_OK)
            tf_msg_clear(&reply);
        else if (q != TF_ERR_NOTFOUND)   /* NOTFOUND: the create is not applied yet */
            fprintf(stderr, "tapeflow schedule run: %s\n", err.message);
        if (tf_clock_mono_ms() >= deadline || zsys_interrupted) {
            fprintf(stderr, "tapeflow schedule run: stopped waiting; job %s goes on (tapeflow job %s)\n", job_id,
                    job_id);
            return CLI_EXIT_FAIL;
        }
        tf_clock_sleep_ms(500);
    }
}

/* Records the manual run (cat_sched claim) before its job starts: the history shows it even
   when the job cannot start. */
static int
s_claim_manual(tf_client_t *client, const char *name, int64_t now, const char *job_id, tf_err_t *err)
{
    tf_msg_t payload = {.type = TF_MSG_CAT_SCHED}, result;
    payload.cat_sched = (tf_msg_cat_sched_t){.op = "claim", .schedule = (char *) name, .instant_ms = now,
                                             .kind = "manual", .job_id = (char *) job_id};
    int rc = tf_client_call(client, "catalog", NULL, NULL, &payload, &result, CLI_JOB_TIMEOUT_MS, err);
    if (rc == TF_OK && (result.type != TF_MSG_CAT_REPLY || result.cat_reply.sched_count == 0))
        rc = tf_err_set(err, TF_ERR_PROTO, "the catalog answered the claim of the run without its row");
    tf_msg_clear(&result);
    return rc;
}

static int
s_cmd_run(cli_t *cli, int argc, char **argv)
{
    s_args_t a;
    int rc = s_parse(cli, "run", true, argc, argv, &a);
    if (rc >= 0)
        return rc;
    tf_err_t err = {0};
    tf_schedule_t *s = s_schedule(cli, a.name, &err);
    tf_client_t *client = s ? s_client(cli, &err) : NULL;
    if (!client) {
        tf_schedule_destroy(&s);
        return s_fail("run", a.json, err.message);
    }
    int64_t now = tf_clock_wall_ms();
    char job_id[160];
    tf_job_id_manual(job_id, sizeof job_id);
    tf_schedule_job_t buf;
    tf_job_spec_t spec;
    tf_schedule_job_spec(s, now, true, job_id, &buf, &spec);
    bool refused = false;
    rc = s_claim_manual(client, a.name, now, job_id, &err);
    if (rc == TF_OK) {
        rc = tf_job_check(cli->cfg, client, &spec, &err);
        refused = tf_schedule_job_refused(rc);
    }
    if (rc == TF_OK)
        rc = tf_job_start(cli->cfg, client, &spec, NULL, &err);
    if (rc != TF_OK) {
        char why[2 * TF_ERR_MESSAGE_MAX + 256];
        snprintf(why, sizeof why, "%s", err.message);
        tf_err_t ferr = {0};
        /* The checks refused it: a failed job, where the operator looks for jobs. */
        if (refused && tf_job_record_failure(cli->cfg, client, &spec, err.message, &ferr) == TF_OK)
            snprintf(why, sizeof why, "job %s could not start: %s (recorded as a failed job)", job_id,
                     err.message);
        else if (refused)
            snprintf(why, sizeof why, "job %s could not start: %s; recording it as a failed job failed "
                     "too: %s", job_id, err.message, ferr.message);
        rc = s_fail("run", a.json, why);
    } else if (a.wait) {
        if (!a.json)
            printf("job %s: manual run of schedule %s (%s)\n", job_id, a.name, spec.level);
        rc = s_wait_job(client, job_id, a.json, a.timeout_s);
    } else {
        rc = CLI_EXIT_OK;
        tf_json_t *j = a.json ? tf_json_new() : NULL;
        if (j) {
            tf_json_document_begin(j);
            tf_json_str(j, "job_id", job_id);
            tf_json_str(j, "schedule", a.name);
            tf_json_str(j, "kind", "manual");
            s_json_time(j, "instant", now);
            tf_json_str(j, "level_requested", spec.level);
            tf_json_str(j, "trigger", spec.trigger);
            tf_json_object_end(j);
            rc = s_print_json(j, "run");
            tf_json_destroy(&j);
        } else
            printf("job %s: manual run of schedule %s (%s); follow it with: tapeflow job %s\n", job_id, a.name,
                   spec.level, job_id);
    }
    tf_client_destroy(&client);
    tf_schedule_destroy(&s);
    return rc;
}

const cli_verb_t cli_schedule_verbs[] = {
    {"list", s_cmd_list},
    {"next", s_cmd_next},
    {"history", s_cmd_history},
    {"run", s_cmd_run},
    {NULL, NULL},
};

int
cmd_schedule(cli_t *cli, int argc, char **argv)
{
    return cli_verb_run(cli, "schedule", cli_schedule_verbs, s_usage, argc, argv);
}
