/*  tapeflow-scheduler against a real stack (tf_teststack, sim drive): a schedule of a tiny tree
    firing every 10 seconds ("*:*:0/10", UTC).
    - the scheduler registers as a worker of service scheduler, fires, and the job completes
      with the trigger "schedule tick at <instant>" and the job id of that instant; the rules
      ask for incrementals: the first job is a full (no previous full of the schedule), later
      ones incrementals with a base;
    - kill -9 of the scheduler and a restart: no instant fires twice - every fired row of the
      history has its own job, and the schedule's jobs are exactly those (counted from
      `tapeflow jobs` against `tapeflow schedule history`);
    - `schedule list`, `next`, `history` and `run --wait` (--json) parse and agree: the last run
      list shows is the newest of history, next counts on from it in 10-second steps, and the
      manual run completes with trigger "manual (schedule tick)" and is in the history. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_client.h"
#include "tf_clock.h"
#include "tf_testproc.h"
#include "tf_teststack.h"
#include "tf_tree.h"

#define S_WAIT_MS 120000

typedef struct {
    tf_teststack_t *stack;
    const char *dir;
    tf_client_t *client;
} fx_t;

static int
s_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    const char *config[] = {"schedules/tick/paths=${dir}/src", "schedules/tick/calendar=*:*:0/10",
                            "schedules/tick/timezone=UTC",    "schedules/tick/level=incremental",
                            "scheduler/tick=500",              NULL};
    /* The scheduler is started by the test once the tree and the tape are there. */
    const char *programs[] = {"broker", "bus", "catalog", "labeller", "stager", "tapewriter",
                              "scanner", "compressor", NULL};
    tf_teststack_opts_t opts = {.config = config, .programs = programs};
    fx->stack = tf_teststack_new("tfsched", &opts);
    assert_non_null(fx->stack);
    fx->dir = tf_teststack_dir(fx->stack);
    fx->client = tf_client_new(NULL, tf_teststack_broker(fx->stack), NULL);
    assert_non_null(fx->client);
    *state = fx;
    return 0;
}

static int
s_teardown(void **state)
{
    fx_t *fx = *state;
    tf_client_destroy(&fx->client);
    int down = tf_teststack_finish(&fx->stack);
    free(fx);
    assert_int_equal(down, 0);
    return 0;
}

/* Occurrences of needle in text. */
static size_t
s_count(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = text ? strstr(text, needle) : NULL; p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* `tapeflow WORDS... --json` (NULL-terminated words) that must exit 0; its output (caller
   frees). */
static char *
s_json(fx_t *fx, ...)
{
    char *argv[16] = {"tapeflow"};
    size_t n = 1;
    va_list ap;
    va_start(ap, fx);
    for (char *w = va_arg(ap, char *); w && n < 14; w = va_arg(ap, char *))
        argv[n++] = w;
    va_end(ap);
    argv[n++] = "--json";
    argv[n] = NULL;
    char *out = NULL;
    int rc = tf_teststack_cliv(fx->stack, &out, argv);
    if (rc != 0)
        fail_msg("tapeflow %s %s ... --json: exit %d: %s", argv[1], argv[2] ? argv[2] : "", rc, out ? out : "");
    assert_non_null(strstr(out, "\"schema\":1"));
    return out;
}

static char *
s_history(fx_t *fx)
{
    return s_json(fx, "schedule", "history", "tick", NULL);
}

/* What the catalog recorded of a job (query "job" straight to the catalog service). */
typedef struct {
    char status[64];
    char trigger[256];
    char level[32];
    char level_reason[256];
    char base_job[160];
} s_job_t;

static void
s_job_row(fx_t *fx, const char *job, s_job_t *out)
{
    tf_msg_t payload = {.type = TF_MSG_CAT_QUERY}, result;
    payload.cat_query = (tf_msg_cat_query_t){.query = "job", .job_id = (char *) job};
    tf_err_t err = {0};
    if (tf_client_call(fx->client, "catalog", NULL, NULL, &payload, &result, 10000, &err) != TF_OK)
        fail_msg("query job %s: %s", job, err.message);
    assert_int_equal(result.type, TF_MSG_CAT_REPLY);
    assert_int_equal(result.cat_reply.jobs_count, 1);
    const tf_msg_job_row_t *j = &result.cat_reply.jobs[0];
    snprintf(out->status, sizeof out->status, "%s", j->status ? j->status : "");
    snprintf(out->trigger, sizeof out->trigger, "%s", j->trigger ? j->trigger : "");
    snprintf(out->level, sizeof out->level, "%s", j->level ? j->level : "");
    snprintf(out->level_reason, sizeof out->level_reason, "%s", j->level_reason ? j->level_reason : "");
    snprintf(out->base_job, sizeof out->base_job, "%s", j->base_job ? j->base_job : "");
    tf_msg_clear(&result);
}

/* Waits for a fired run of tick whose job completed, newer than after_ms; its job id and
   instant. */
static void
s_wait_fired_completed(fx_t *fx, int64_t after_ms, char *job, size_t size, int64_t *instant)
{
    int64_t deadline = tf_clock_mono_ms() + S_WAIT_MS;
    for (;;) {
        char *out = s_history(fx);
        /* rows newest first: the first fired row with status completed */
        for (const char *p = strstr(out, "\"kind\":\"fired\""); p; p = strstr(p + 1, "\"kind\":\"fired\"")) {
            char status[64] = "";
            long long ms = tf_test_json_int(p, "instant_ms");
            tf_test_json_str(p, "job_status", status, sizeof status);
            if (ms > after_ms && strcmp(status, "completed") == 0) {
                tf_test_json_str(p, "job_id", job, size);
                *instant = ms;
                free(out);
                return;
            }
        }
        free(out);
        if (tf_clock_mono_ms() > deadline)
            fail_msg("no fired run of schedule tick completed within %d s", S_WAIT_MS / 1000);
        tf_clock_sleep_ms(500);
    }
}

static void
test_scheduler_process(void **state)
{
    fx_t *fx = *state;
    char src[PATH_MAX], why[512];
    snprintf(src, sizeof src, "%s/src", fx->dir);
    tf_tree_spec_t spec = {.files = 6, .bytes = 60000, .seed = 5};
    if (tf_tree_generate(src, &spec, NULL, why, sizeof why) != 0)
        fail_msg("tree: %s", why);
    assert_int_equal(tf_teststack_label(fx->stack, "tape0", "L1", "default"), 0);
    /* Started, it is a worker of service scheduler (tf_teststack_start waits for that). */
    assert_int_equal(tf_teststack_start(fx->stack, "scheduler"), 0);
    int64_t started = tf_clock_wall_ms();

    /* It fires; the job completes, with the trigger of its instant - a full: the first of the
       schedule, whose rules ask for incrementals. */
    char job[160], want[256];
    s_job_t row;
    int64_t instant = 0;
    s_wait_fired_completed(fx, started - 10000, job, sizeof job, &instant);
    assert_int_equal(instant % 10000, 0);
    s_job_row(fx, job, &row);
    assert_string_equal(row.status, "completed");
    time_t secs = (time_t) (instant / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(want, sizeof want, "schedule tick at %Y-%m-%dT%H:%M:%SZ", &tm);
    assert_string_equal(row.trigger, want);
    assert_string_equal(row.level, "full");
    assert_string_equal(row.level_reason, "no previous full of schedule tick");
    strftime(want, sizeof want, "tick-%Y%m%dT%H%M%SZ", &tm);
    assert_string_equal(job, want);

    /* kill -9 and a restart past the next instants: it carries on, fires nothing twice. */
    assert_int_equal(tf_teststack_kill(fx->stack, "scheduler", SIGKILL), 0);
    tf_clock_sleep_ms(25000);   /* two instants or more pass while it is down */
    assert_int_equal(tf_teststack_start(fx->stack, "scheduler"), 0);
    char job2[160];
    int64_t instant2 = 0;
    s_wait_fired_completed(fx, instant, job2, sizeof job2, &instant2);
    assert_true(instant2 > instant);
    s_job_row(fx, job2, &row);   /* later runs are incrementals of the schedule's jobs */
    assert_string_equal(row.level, "incremental");
    assert_true(row.base_job[0] != '\0');
    char stop_why[512];
    assert_int_equal(tf_teststack_stop(fx->stack, "scheduler", stop_why, sizeof stop_why), 0);

    /* Each fired row has its own job and the schedule has no other jobs. */
    char *history = s_json(fx, "schedule", "history", "tick", NULL);
    char *jobs = s_json(fx, "jobs", "--limit", "100000", NULL);
    size_t fired = s_count(history, "\"kind\":\"fired\"");
    assert_true(fired >= 2);
    assert_int_equal(s_count(jobs, "\"job_id\":\"tick-"), fired);
    /* the missed instants while it was down are recorded (catch_up once fired the latest) */
    assert_true(s_count(history, "\"kind\":\"missed\"") + s_count(history, "\"kind\":\"skipped\"") >= 1);
    for (const char *p = strstr(history, "\"kind\":\"fired\""); p; p = strstr(p + 1, "\"kind\":\"fired\"")) {
        char id[160], needle[200];
        tf_test_json_str(p, "job_id", id, sizeof id);
        snprintf(needle, sizeof needle, "\"job_id\":\"%s\"", id);
        assert_int_equal(s_count(history, needle), 1);
        assert_int_equal(s_count(jobs, needle), 1);
    }

    /* list agrees with history: its last run is the newest row. */
    char *list = s_json(fx, "schedule", "list", NULL);
    assert_non_null(strstr(list, "\"schedule\":\"tick\""));
    assert_non_null(strstr(list, "\"calendar\":\"*:*:0/10\""));
    assert_non_null(strstr(list, "\"timezone\":\"UTC\""));
    assert_non_null(strstr(list, "\"level_next\":\"incremental\""));
    long long last = tf_test_json_int(list, "last_ms");
    assert_int_equal(last, tf_test_json_int(history, "instant_ms"));
    long long list_next = tf_test_json_int(list, "next_ms");
    assert_true(list_next > last && list_next % 10000 == 0);

    /* next: 10-second steps from then on, more than 1000 in a day */
    char *next = s_json(fx, "schedule", "next", "tick", "--days=1", NULL);
    long long first = tf_test_json_int(strstr(next, "\"runs\""), "instant_ms");
    assert_true(first >= list_next && first % 10000 == 0);
    const char *second = strstr(strstr(next, "\"runs\"") + 8, "},{");
    assert_non_null(second);
    assert_int_equal(tf_test_json_int(second, "instant_ms"), first + 10000);
    assert_non_null(strstr(next, "\"truncated\":true"));
    assert_int_equal(s_count(next, "\"level\":\"incremental\""), 1000);

    /* run --wait: a manual run of the schedule, completed, in the history */
    char *run = s_json(fx, "schedule", "run", "tick", "--wait", NULL);
    char manual[160];
    assert_non_null(tf_test_json_str(run, "job_id", manual, sizeof manual));
    assert_non_null(strstr(run, "\"status\":\"completed\""));
    s_job_row(fx, manual, &row);
    assert_string_equal(row.trigger, "manual (schedule tick)");
    assert_string_equal(row.level, "incremental");   /* it chains with the schedule's jobs */
    char *after = s_history(fx);
    char needle[200];
    snprintf(needle, sizeof needle, "\"job_id\":\"%s\"", manual);
    assert_non_null(strstr(after, needle));
    assert_int_equal(s_count(after, "\"kind\":\"manual\""), 1);

    /* usage errors name what is wrong */
    char *out = NULL;
    assert_int_equal(tf_teststack_cli_all(fx->stack, &out, "schedule", "next", "nosuch", NULL), 1);
    assert_non_null(strstr(out, "no schedule nosuch in the configuration"));
    free(out);
    out = NULL;
    assert_int_equal(tf_teststack_cli_all(fx->stack, &out, "schedule", "history", "tick", "--days", "3", NULL), 2);
    free(out);
    free(after);
    free(run);
    free(next);
    free(list);
    free(jobs);
    free(history);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_scheduler_process, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
