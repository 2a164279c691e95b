/*  Operator actions on jobs (issue 8, item 13), through the `tapeflow` CLI on a whole stack
    under `tapeflow up` with a simulated tape:

    - cancel of a running job (slow drive): status cancelled with who/when, nothing of the job
      left queued (status --json queue depths), no further tape writes, late results do not
      revive it, staged archives released (default) and purge removes what came later;
    - cancel of a job whose tape writer waits for the operator to mount the next volume: it
      stops waiting at once instead of after tapewriter/mount_wait;
    - cancel --keep-staged, then retry: the kept archives are written, the job completes and
      restores identically;
    - retry of a job whose tape stage failed (wrong-pool tape), after labelling the right tape:
      completes, restores identically;
    - purge of a failed job: names the deleted files and the bytes freed, a retry is then
      refused; purge and cancel of a completed job are refused;
    - backup pre-check: an unknown pool and a pool whose only volume is full are refused with
      what to do; with a changer, refused when its slots hold no candidate, started when they
      do. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <czmq.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tf_client.h"
#include "tf_clock.h"
#include "tf_testproc.h"
#include "tf_teststack.h"
#include "tf_tree.h"

typedef struct {
    tf_teststack_t *stack;
    char *dir;
    tf_client_t *client;
} fx_t;

#define s_cli(fx, out, ...) tf_teststack_cli((fx)->stack, (out), __VA_ARGS__)
#define s_json_str tf_test_json_str
#define s_json_int tf_test_json_int

static int
s_setup_with(void **state, const char *sim_options)
{
    fx_t *fx = calloc(1, sizeof *fx);
    tf_teststack_opts_t opts = {.sim_options = sim_options};
    fx->stack = tf_teststack_new("tfjob", &opts);
    assert_non_null(fx->stack);
    fx->dir = (char *) tf_teststack_dir(fx->stack);
    fx->client = tf_client_new(NULL, tf_teststack_broker(fx->stack), NULL);
    assert_non_null(fx->client);
    *state = fx;
    return 0;
}

static int
s_setup(void **state)
{
    return s_setup_with(state, NULL);
}

/* 6 MB/s: the tape stage lasts long enough to cancel a job in the middle of it, even on a
   loaded machine. */
static int
s_setup_slow(void **state)
{
    return s_setup_with(state, "&rate=6M");
}

static int
s_teardown(void **state)
{
    fx_t *fx = *state;
    tf_client_destroy(&fx->client);
    /* A clean stop: every child exits within up/stop_timeout (a tape writer busy with a mount,
       a back-off or a fetch must notice SIGTERM), no sanitizer report. */
    int down = tf_teststack_finish(&fx->stack);
    free(fx);
    assert_int_equal(down, 0);
    return 0;
}

static void
s_label(fx_t *fx, const char *label, const char *pool)
{
    assert_int_equal(tf_teststack_label(fx->stack, "tape0", label, pool), 0);
}

static void
s_make_tree(fx_t *fx, const char *name, uint64_t files, uint64_t bytes, char *path, size_t size)
{
    snprintf(path, size, "%s/%s", fx->dir, name);
    tf_tree_spec_t spec = {.files = files, .bytes = bytes, .seed = 7};
    char why[512];
    if (tf_tree_generate(path, &spec, NULL, why, sizeof why) != 0)
        fail_msg("tree: %s", why);
}

static void
s_restore_and_compare(fx_t *fx, const char *job, const char *src, const char *to)
{
    char why[PATH_MAX + 2048];
    if (tf_teststack_restore_compare(fx->stack, job, src, to, why, sizeof why) != 0)
        fail_msg("%s", why);
}

/* `backup SRC --pool POOL --json` without waiting: the job id. */
static void
s_start_backup(fx_t *fx, const char *src, const char *pool, char *job, size_t size)
{
    char *out = NULL;
    int rc = s_cli(fx, &out, "backup", src, "--pool", pool, "--json", NULL);
    if (rc != 0 || !s_json_str(out, "job_id", job, size))
        fail_msg("backup did not start (%d): %s", rc, out ? out : "");
    free(out);
}

/* `job ID --json` (the caller frees). */
static char *
s_job(fx_t *fx, const char *job)
{
    char *out = NULL;
    s_cli(fx, &out, "job", job, "--json", NULL);
    assert_non_null(out);
    return out;
}

static long long
s_job_int(fx_t *fx, const char *job, const char *key)
{
    char *out = s_job(fx, job);
    long long v = s_json_int(out, key);
    free(out);
    return v;
}

static bool
s_job_status_is(fx_t *fx, const char *job, const char *status)
{
    char *out = s_job(fx, job);
    char buf[64];
    bool is = s_json_str(out, "status", buf, sizeof buf) && strcmp(buf, status) == 0;
    free(out);
    return is;
}

static void
s_wait_job_int(fx_t *fx, const char *job, const char *key, long long at_least, int timeout_ms)
{
    int64_t deadline = tf_clock_mono_ms() + timeout_ms;
    while (s_job_int(fx, job, key) < at_least) {
        if (tf_clock_mono_ms() > deadline)
            fail_msg("job %s: %s did not reach %lld in %d ms", job, key, at_least, timeout_ms);
        tf_clock_sleep_ms(50);
    }
}

static void
s_wait_job_status(fx_t *fx, const char *job, const char *status, int timeout_ms)
{
    int64_t deadline = tf_clock_mono_ms() + timeout_ms;
    while (!s_job_status_is(fx, job, status)) {
        if (tf_clock_mono_ms() > deadline) {
            char *out = s_job(fx, job);
            fail_msg("job %s is not %s after %d ms: %s", job, status, timeout_ms, out);
        }
        tf_clock_sleep_ms(200);
    }
}

/* The integer "key" of service name in `status --json` ("services": [{"name": ...}]). */
static long long
s_service_int(const char *status_json, const char *service, const char *key)
{
    char pattern[128];
    snprintf(pattern, sizeof pattern, "\"name\":\"%s\"", service);
    const char *at = strstr(status_json, pattern);
    if (!at)
        return 0;  /* the broker has not seen the service */
    const char *end = strchr(at, '}');
    char sub[1024];
    snprintf(sub, sizeof sub, "%.*s", (int) (end ? end - at : 0), at);
    return s_json_int(sub, key);
}

/* Every pipeline service idle: nothing queued, every worker back in the idle list (a worker
   still busy with an abandoned item of a cancelled job is not). */
static bool
s_pipeline_quiet(fx_t *fx, char **last)
{
    char *out = NULL;
    s_cli(fx, &out, "status", "--json", NULL);
    bool quiet = out != NULL;
    static const char *const services[] = {"scan", "compress", "tape", "stager", "catalog"};
    for (size_t i = 0; quiet && i < sizeof services / sizeof services[0]; i++)
        quiet = s_service_int(out, services[i], "queued") == 0
                && s_service_int(out, services[i], "inflight") == 0
                && s_service_int(out, services[i], "idle") == s_service_int(out, services[i], "workers");
    free(*last);
    *last = out;
    return quiet;
}

static void
s_wait_quiet(fx_t *fx, int timeout_ms)
{
    char *last = NULL;
    int64_t deadline = tf_clock_mono_ms() + timeout_ms;
    while (!s_pipeline_quiet(fx, &last)) {
        if (tf_clock_mono_ms() > deadline)
            fail_msg("the pipeline did not settle in %d ms: %s", timeout_ms, last ? last : "");
        tf_clock_sleep_ms(100);
    }
    free(last);
}

/* Files of job in staging/ready and staging/tmp. */
static int
s_staged_files(fx_t *fx, const char *job)
{
    int n = 0;
    static const char *const sub[] = {"ready", "tmp"};
    for (size_t i = 0; i < 2; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/staging/%s", fx->dir, sub[i]);
        DIR *d = opendir(path);
        if (!d)
            continue;
        for (struct dirent *e = readdir(d); e; e = readdir(d))
            if (strncmp(e->d_name, job, strlen(job)) == 0)
                n++;
        closedir(d);
    }
    return n;
}

/* ------------------------------------------------------------------ cancel ---------- */

/* Starts a backup big enough for many archives on the slow drive and waits until its first
   archive is on tape, so the job is in the middle of its tape stage. */
static void
s_backup_until_writing(fx_t *fx, char *src, size_t src_size, char *job, size_t job_size)
{
    s_label(fx, "TF0001", "default");
    s_make_tree(fx, "src", 300, 64 << 20, src, src_size);
    s_start_backup(fx, src, "default", job, job_size);
    s_wait_job_int(fx, job, "archives_written", 1, 120000);
}

/* Tape files on a volume (the label's included), as the catalog has them. */
static long long
s_tape_files(fx_t *fx, const char *label)
{
    tf_msg_t q = {.type = TF_MSG_CAT_QUERY}, reply;
    q.cat_query = (tf_msg_cat_query_t){.query = "volumes", .pattern = (char *) label};
    tf_err_t err = {0};
    if (tf_client_call(fx->client, "catalog", NULL, NULL, &q, &reply, 30000, &err) != TF_OK)
        fail_msg("volumes query: %s", err.message);
    assert_int_equal(reply.cat_reply.volumes_count, 1);
    long long n = (long long) reply.cat_reply.volumes[0].tape_files;
    tf_msg_clear(&reply);
    return n;
}

static void
test_cancel_running_job(void **state)
{
    fx_t *fx = *state;
    char src[PATH_MAX], job[128], *out = NULL;
    s_backup_until_writing(fx, src, sizeof src, job, sizeof job);

    int rc = s_cli(fx, &out, "job", "cancel", job, "--reason", "wrong paths", "--json", NULL);
    if (rc != 0)
        fail_msg("cancel failed (%d): %s", rc, out ? out : "");
    assert_non_null(strstr(out, "\"status\":\"cancelled\""));
    assert_non_null(strstr(out, "\"catalog_recorded\":true"));
    assert_non_null(strstr(out, "\"staged_released\""));
    assert_true(s_json_int(out, "items_cancelled") + s_json_int(out, "items_abandoned") >= 1);
    free(out);
    long long written_at_cancel = s_job_int(fx, job, "archives_written");

    /* The catalog says who cancelled it; `tapeflow job` exits 1 for a cancelled job. */
    rc = s_cli(fx, &out, "job", job, "--json", NULL);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "\"status\":\"cancelled\""));
    char message[512];
    assert_non_null(s_json_str(out, "message", message, sizeof message));
    assert_non_null(strstr(message, "cancelled by "));
    assert_non_null(strstr(message, " UTC: wrong paths"));
    free(out);

    /* Nothing of it stays queued; what was in flight ends, and then nothing more is written. */
    s_wait_quiet(fx, 60000);
    long long written = s_job_int(fx, job, "archives_written");
    long long groups = s_job_int(fx, job, "groups_total");
    assert_true(written <= written_at_cancel + 1);
    assert_true(written < groups);
    tf_clock_sleep_ms(1500);
    assert_int_equal(s_job_int(fx, job, "archives_written"), written);
    assert_true(s_job_status_is(fx, job, "cancelled"));

    /* Cancelling again says so; purge removes whatever items in flight staged after the
       release, and names it. */
    rc = s_cli(fx, &out, "job", "cancel", job, NULL);
    assert_int_equal(rc, 1);
    free(out);
    rc = s_cli(fx, &out, "job", "purge", job, "--json", NULL);
    if (rc != 0)
        fail_msg("purge failed (%d): %s", rc, out ? out : "");
    free(out);
    assert_int_equal(s_staged_files(fx, job), 0);
}

/* A restore is not part of the backup job: after the job was cancelled, `tapeflow restore`
   of it restores what reached tape (the broker does not cancel the restore item with the job). */
static void
test_restore_cancelled_job(void **state)
{
    fx_t *fx = *state;
    char src[PATH_MAX], job[128], *out = NULL;
    s_backup_until_writing(fx, src, sizeof src, job, sizeof job);
    int rc = s_cli(fx, &out, "job", "cancel", job, NULL);
    if (rc != 0)
        fail_msg("cancel failed (%d): %s", rc, out ? out : "");
    free(out);
    s_wait_quiet(fx, 60000);
    assert_true(s_job_status_is(fx, job, "cancelled"));
    long long written = s_job_int(fx, job, "archives_written");
    assert_true(written >= 1);

    char dest[PATH_MAX];
    snprintf(dest, sizeof dest, "%s/back", fx->dir);
    rc = s_cli(fx, &out, "restore", job, "--to", dest, "--json", NULL);
    if (rc != 0 || strstr(out ? out : "", "cancelled"))
        fail_msg("restore of the cancelled job (%d): %s", rc, out ? out : "");
    assert_int_equal(s_json_int(out, "archives_read"), written);
    assert_true(s_json_int(out, "files") >= 1);
    free(out);
    /* The restore wrote nothing into the job's record. */
    char *job_json = s_job(fx, job);
    assert_null(strstr(job_json, "failed in tape"));
    free(job_json);
}

static void
test_cancel_keep_staged_then_retry(void **state)
{
    fx_t *fx = *state;
    char src[PATH_MAX], job[128], *out = NULL;
    s_backup_until_writing(fx, src, sizeof src, job, sizeof job);

    int rc = s_cli(fx, &out, "job", "cancel", job, "--keep-staged", "--json", NULL);
    if (rc != 0)
        fail_msg("cancel failed (%d): %s", rc, out ? out : "");
    assert_non_null(strstr(out, "\"keep_staged\":true"));
    assert_non_null(strstr(out, "\"staged_kept\""));
    free(out);
    s_wait_quiet(fx, 60000);
    assert_true(s_job_status_is(fx, job, "cancelled"));
    assert_true(s_staged_files(fx, job) > 0);  /* kept for the retry */

    rc = s_cli(fx, &out, "job", "retry", job, "--json", NULL);
    if (rc != 0)
        fail_msg("retry failed (%d): %s", rc, out ? out : "");
    assert_non_null(strstr(out, "\"status\":\"running\""));
    assert_true(s_json_int(out, "items_requeued") >= 1);
    free(out);
    s_wait_job_status(fx, job, "completed", 180000);
    long long groups = s_job_int(fx, job, "groups_total");
    assert_int_equal(s_job_int(fx, job, "archives_written"), groups);
    /* Archives written before the cancel were not written again: one tape file per archive
       after the label. */
    assert_int_equal(s_tape_files(fx, "TF0001"), groups + 1);
    s_restore_and_compare(fx, job, src, "restored");
    s_wait_quiet(fx, 60000);
    assert_int_equal(s_staged_files(fx, job), 0);  /* released once on tape */
}

/* A tape writer waiting for the operator to mount the next volume of a spanning archive (no
   changer, tapewriter/mount_wait = 10 minutes) stops waiting once its job is cancelled. */
static int
s_setup_mount_wait(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    static const char *const config[] = {
        "drives/tape0/url=sim:${dir}/tape0.img?capacity=2M&ew=256K",
        "tapewriter/mount_wait=600000",
        "tapewriter/block_size=65536",
        NULL,
    };
    tf_teststack_opts_t opts = {.config = config};
    fx->stack = tf_teststack_new("tfjob", &opts);
    assert_non_null(fx->stack);
    fx->dir = (char *) tf_teststack_dir(fx->stack);
    fx->client = tf_client_new(NULL, tf_teststack_broker(fx->stack), NULL);
    assert_non_null(fx->client);
    *state = fx;
    return 0;
}

static bool
s_log_has(fx_t *fx, const char *log, const char *text)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/log/%s", fx->dir, log);
    char *content = tf_test_read_file(path);
    bool has = content && strstr(content, text);
    free(content);
    return has;
}

static void
test_cancel_while_waiting_for_mount(void **state)
{
    fx_t *fx = *state;
    char src[PATH_MAX], job[128], *out = NULL;
    s_label(fx, "TF0001", "default");
    s_make_tree(fx, "src", 100, 8 << 20, src, sizeof src);
    s_start_backup(fx, src, "default", job, sizeof job);
    int64_t deadline = tf_clock_mono_ms() + 120000;
    while (!s_log_has(fx, "tapewriter.1.log", "mount a tape of pool default in drive tape0")) {
        if (tf_clock_mono_ms() > deadline)
            fail_msg("the tape writer never asked for the next tape");
        tf_clock_sleep_ms(100);
    }
    int rc = s_cli(fx, &out, "job", "cancel", job, "--json", NULL);
    if (rc != 0)
        fail_msg("cancel failed (%d): %s", rc, out ? out : "");
    assert_true(s_json_int(out, "items_abandoned") >= 1);  /* the tape item, waiting */
    free(out);
    /* Well before mount_wait: the tape writer is free again. */
    s_wait_quiet(fx, 30000);
    assert_true(s_log_has(fx, "tapewriter.1.log", "was cancelled: drive tape0 stops waiting for a tape"));
    assert_true(s_job_status_is(fx, job, "cancelled"));
}

/* ------------------------------------------------------------------ retry ----------- */

/* A backup to pool default while the drive holds a tape of pool offsite: the tape stage fails
   and the archives stay staged. */
static void
s_failed_backup(fx_t *fx, char *src, size_t src_size, char *job, size_t job_size)
{
    s_label(fx, "TF0002", "offsite");
    s_make_tree(fx, "src", 120, 8 << 20, src, src_size);
    char *json = NULL;
    int rc = tf_teststack_backup(fx->stack, src, "default", job, job_size, &json);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(json, "\"status\":\"failed\""));
    assert_non_null(strstr(json, "offsite"));
    free(json);
    s_wait_quiet(fx, 60000);
    assert_true(s_staged_files(fx, job) > 0);
}

static void
test_retry_after_tape_failure(void **state)
{
    fx_t *fx = *state;
    char src[PATH_MAX], job[128], *out = NULL;
    s_failed_backup(fx, src, sizeof src, job, sizeof job);

    /* A running job is not retried; this one failed. Mount (label) the right tape, retry. */
    assert_int_equal(tf_teststack_cli(fx->stack, &out, "tape", "label", "tape0", "--label", "TF0003",
                                      "--pool", "default", "--force", NULL), 0);
    free(out);
    int rc = s_cli(fx, &out, "job", "retry", job, "--json", NULL);
    if (rc != 0)
        fail_msg("retry failed (%d): %s", rc, out ? out : "");
    assert_true(s_json_int(out, "items_requeued") >= 1);
    free(out);
    s_wait_job_status(fx, job, "completed", 180000);
    rc = s_cli(fx, &out, "job", job, "--json", NULL);
    assert_int_equal(rc, 0);
    char detail[64];
    assert_null(s_json_str(out, "detail", detail, sizeof detail));  /* the old cause is gone */
    free(out);
    s_restore_and_compare(fx, job, src, "restored");

    /* Nothing left to retry or cancel. */
    rc = s_cli(fx, &out, "job", "retry", job, "--json", NULL);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "nothing to retry"));
    free(out);
    rc = s_cli(fx, &out, "job", "cancel", job, "--json", NULL);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "nothing to cancel"));
    free(out);
}

/* ------------------------------------------------------------------ purge ----------- */

static void
test_purge_failed_job(void **state)
{
    fx_t *fx = *state;
    char src[PATH_MAX], job[128], *out = NULL;
    s_failed_backup(fx, src, sizeof src, job, sizeof job);
    int staged = s_staged_files(fx, job);

    /* A dry run lists and keeps. */
    int rc = s_cli(fx, &out, "job", "purge", job, "--dry-run", "--json", NULL);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "\"dry_run\":true"));
    assert_int_equal(s_json_int(out, "archives") * 3, staged);  /* .data, .meta, .rows */
    free(out);
    assert_int_equal(s_staged_files(fx, job), staged);

    rc = s_cli(fx, &out, "job", "purge", job, NULL);
    if (rc != 0)
        fail_msg("purge failed (%d): %s", rc, out ? out : "");
    char first[256];
    snprintf(first, sizeof first, "deleted ready/%s-g00001.data", job);
    assert_non_null(strstr(out, first));
    assert_non_null(strstr(out, "freed"));
    assert_non_null(strstr(out, "cannot be retried"));
    free(out);
    assert_int_equal(s_staged_files(fx, job), 0);

    /* Its archives are gone from the holding disk: a retry cannot write them. */
    rc = s_cli(fx, &out, "job", "retry", job, "--json", NULL);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "no longer on the holding disk"));
    free(out);

    /* A completed job is not purged without --force. */
    char job2[128], *json = NULL;
    rc = tf_teststack_backup(fx->stack, src, "offsite", job2, sizeof job2, &json);
    if (rc != 0)
        fail_msg("backup failed (%d): %s", rc, json ? json : "");
    free(json);
    rc = s_cli(fx, &out, "job", "purge", job2, "--json", NULL);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "--force"));
    free(out);
    rc = s_cli(fx, &out, "job", "purge", job2, "--force", NULL);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "nothing of job"));
    free(out);
}

/* ------------------------------------------------------------------ backup pre-check - */

/* `backup SRC --json` with the stack's configuration plus a sim changer (layout options
   layout, e.g. "tapes=0") serving tape0, in a library folder of its own. */
static int
s_backup_with_changer(fx_t *fx, const char *src, const char *layout, char **out)
{
    char cfg[PATH_MAX + 32], lib[PATH_MAX];
    snprintf(lib, sizeof lib, "%s/lib-%s", fx->dir, layout);
    assert_int_equal(mkdir(lib, 0755), 0);
    snprintf(cfg, sizeof cfg, "%s/changer.cfg", lib);
    char *base = tf_test_read_file(tf_teststack_config(fx->stack));
    assert_non_null(base);
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fprintf(f, "%s\nchangers\n    lib1\n        url = \"sim:%s/changer.state?type=8&slots=4&%s\"\n"
            "        drive0 = \"tape0\"\n", base, lib, layout);
    fclose(f);
    free(base);
    return s_cli(fx, out, "--config", cfg, "backup", src, "--json", NULL);
}

static void
test_backup_precheck(void **state)
{
    fx_t *fx = *state;
    char src[PATH_MAX], *out = NULL;
    s_make_tree(fx, "src", 5, 10000, src, sizeof src);

    /* A pool nobody configured or labelled a tape for. */
    int rc = s_cli(fx, &out, "backup", src, "--pool", "nosuch", "--json", NULL);
    assert_int_equal(rc, 1);
    char error[1024];
    assert_non_null(s_json_str(out, "error", error, sizeof error));
    assert_non_null(strstr(error, "pool 'nosuch' is unknown"));
    assert_non_null(strstr(error, "tapeflow tape label tape0 --label TF0001 --pool nosuch"));
    free(out);

    /* Its only volume is full (as the tape writer reports it at early warning). */
    s_label(fx, "TF0001", "default");
    tf_msg_t vol = {.type = TF_MSG_CAT_VOLUME};
    vol.cat_volume = (tf_msg_cat_volume_t){.label = "TF0001", .pool = "default", .state = "full",
                                           .tape_files = 5, .time_ms = tf_clock_wall_ms() + 1000};
    tf_msg_t result;
    tf_err_t err = {0};
    assert_int_equal(tf_client_call(fx->client, "catalog", NULL, NULL, &vol, &result, 10000, &err), TF_OK);
    tf_msg_clear(&result);
    rc = s_cli(fx, &out, "backup", src, "--json", NULL);
    assert_int_equal(rc, 1);
    assert_non_null(s_json_str(out, "error", error, sizeof error));
    assert_non_null(strstr(error, "pool 'default' has no writable volume (TF0001 full)"));
    assert_non_null(strstr(error, "tapeflow tape label tape0 --label TF0002 --pool default"));
    free(out);
    rc = s_cli(fx, &out, "jobs", "--json", NULL);
    assert_int_equal(rc, 0);
    assert_null(strstr(out, "\"job_id\""));  /* nothing was started */
    free(out);

    /* With a changer: refused while its slots hold nothing the tape writer could take... */
    rc = s_backup_with_changer(fx, src, "tapes=0", &out);
    assert_int_equal(rc, 1);
    assert_non_null(s_json_str(out, "error", error, sizeof error));
    assert_non_null(strstr(error, "pool 'default' has no writable volume (TF0001 full) and changer "));
    assert_non_null(strstr(error, "has no cartridge in its slots: put a blank or expired cartridge"));
    free(out);
    /* ... and started when a slot holds a cartridge the catalog does not know (a blank one). */
    rc = s_backup_with_changer(fx, src, "tapes=2", &out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "\"status\":\"queued\""));
    free(out);
}

int
main(int argc, char **argv)
{
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);  /* one ctest entry per test */
    zsys_init();
    zsys_handler_set(NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cancel_running_job, s_setup_slow, s_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_keep_staged_then_retry, s_setup_slow, s_teardown),
        cmocka_unit_test_setup_teardown(test_restore_cancelled_job, s_setup_slow, s_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_while_waiting_for_mount, s_setup_mount_wait, s_teardown),
        cmocka_unit_test_setup_teardown(test_retry_after_tape_failure, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_purge_failed_job, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_backup_precheck, s_setup, s_teardown),
    };
    return cmocka_run_group_tests_name("jobops", tests, NULL, NULL);
}
