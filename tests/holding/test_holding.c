/*  Holding-disk faults through the `tapeflow` CLI (issue 8 item 7), the stack under `tapeflow up`
    with a 4 MiB holding disk and no tape writer (nothing leaves the holding disk):

    - an archive larger than the holding disk fails its job: `tapeflow backup --wait` exits
      non-zero and `tapeflow job ID` says which archive cannot fit which holding disk and what
      to change (before: the job stayed `running` with no word, forever);
    - a job whose archives fill the holding disk waits: `tapeflow events alert.stager` shows the
      alert, the waiting compressor's progress events and `tapeflow job ID` say it is waiting
      for holding-disk space. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tf_testproc.h"

typedef struct {
    char *dir;
    char cfg[300];
    char env_cfg[320];
    char env_home[320];
    char *env[3];
} fx_t;

/* Runs `tapeflow ARGS...`; returns the exit status and stdout in *out (caller frees). */
static int
s_cli(fx_t *fx, char **out, ...)
{
    char *argv[32] = {"tapeflow"};
    int argc = 1;
    va_list ap;
    va_start(ap, out);
    for (char *a = va_arg(ap, char *); a && argc < 31; a = va_arg(ap, char *))
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    char *text = NULL;
    int rc = tf_test_run("tapeflow", argv, fx->env, 200000, &text);
    if (out)
        *out = text;
    else
        free(text);
    return rc;
}

static int
s_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    fx->dir = tf_test_tempdir("tfhold");
    assert_non_null(fx->dir);
    snprintf(fx->cfg, sizeof fx->cfg, "%s/tapeflow.cfg", fx->dir);
    FILE *f = fopen(fx->cfg, "w");
    assert_non_null(f);
    /* No tape writer: archives stay in the holding disk, so it fills deterministically. */
    fprintf(f,
            "tapeflow\n    home = \"%s\"\n    log_level = debug\n"
            "broker\n    heartbeat = 250\n    liveness = 4\n"
            "up\n    actors = \"catalog scanner compressor stager\"\n"
            "    restart_min = 200\n    restart_max = 1000\n"
            "actors\n    compressor\n        instances = 2\n"
            "scanner\n    group_size = 1048576\n"
            "compressor\n    chunk = 131072\n"
            "stager\n    capacity = 4194304\n    window = 524288\n"
            "    space_alert = 1\n    space_alert_repeat = 1\n"
            "drives\n    tape0\n        url = \"sim:%s/tape0.img?capacity=1G\"\n",
            fx->dir, fx->dir);
    fclose(f);
    snprintf(fx->env_cfg, sizeof fx->env_cfg, "TAPEFLOW_CONFIG=%s", fx->cfg);
    snprintf(fx->env_home, sizeof fx->env_home, "TAPEFLOW_HOME=%s", fx->dir);
    fx->env[0] = fx->env_cfg;
    fx->env[1] = fx->env_home;
    char *out = NULL;
    int rc = s_cli(fx, &out, "up", "--detach", NULL);
    if (rc != 0)
        fprintf(stderr, "tapeflow up --detach failed (%d):\n%s\n", rc, out ? out : "");
    free(out);
    assert_int_equal(rc, 0);
    /* a writable volume of the pool, as an operator has before a backup */
    rc = s_cli(fx, &out, "tape", "label", "tape0", "--label", "TF0001", "--pool", "default", NULL);
    if (rc != 0)
        fprintf(stderr, "tape label: %s\n", out ? out : "");
    free(out);
    assert_int_equal(rc, 0);
    *state = fx;
    return 0;
}

static int
s_teardown(void **state)
{
    fx_t *fx = *state;
    s_cli(fx, NULL, "down", NULL);
    tf_test_dir_done(&fx->dir);
    free(fx);
    return 0;
}

/* size bytes that do not compress (xorshift), so archive sizes are known. */
static void
s_random_file(const char *path, size_t size, uint64_t seed)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < size; i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t n = size - i < 8 ? size - i : 8;
        assert_int_equal(fwrite(&x, 1, n, f), n);
    }
    fclose(f);
}

/* The value of "key":"..." in a JSON text (first occurrence), copied into buf. */
static const char *
s_json_str(const char *json, const char *key, char *buf, size_t size)
{
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
    const char *at = json ? strstr(json, pattern) : NULL;
    if (!at)
        return NULL;
    at += strlen(pattern);
    const char *end = at;
    while (*end && !(*end == '"' && end[-1] != '\\'))
        end++;
    snprintf(buf, size, "%.*s", (int) (end - at), at);
    return buf;
}

static void
test_archive_that_cannot_fit_fails_the_job(void **state)
{
    fx_t *fx = *state;
    char src[400], path[500];
    snprintf(src, sizeof src, "%s/src", fx->dir);
    assert_int_equal(mkdir(src, 0755), 0);
    snprintf(path, sizeof path, "%s/big.bin", src);
    s_random_file(path, 6u << 20, 1);
    char *out = NULL;
    /* one group of 6 MiB (the group size is a target, a single file is never split) */
    int rc = s_cli(fx, &out, "backup", src, "--compression", "none", "--wait", "--timeout", "120", "--json", NULL);
    char job[128], status[32];
    if (!s_json_str(out, "job_id", job, sizeof job))
        fail_msg("no job id in: %s", out ? out : "");
    assert_non_null(s_json_str(out, "status", status, sizeof status));
    if (rc == 0 || strcmp(status, "failed") != 0)
        fail_msg("backup exited %d with status %s (expected a failed job): %s", rc, status, out);
    free(out);

    rc = s_cli(fx, &out, "job", job, NULL);
    assert_int_equal(rc, 1);  /* a failed job */
    char want[300];
    snprintf(want, sizeof want, "archive %s-g00001 of 6.0 MiB cannot fit the holding disk %s/staging of 4.0 MiB "
             "(stager/capacity); lower scanner/group_size or raise stager/capacity", job, fx->dir);
    if (!strstr(out, "failed") || !strstr(out, want))
        fail_msg("tapeflow job %s does not say '%s':\n%s", job, want, out);
    free(out);
    /* the same as JSON; and nothing of it is left on the holding disk */
    rc = s_cli(fx, &out, "job", job, "--json", NULL);
    assert_int_equal(rc, 1);
    char detail[1024];
    assert_non_null(s_json_str(out, "detail", detail, sizeof detail));
    assert_non_null(strstr(detail, "cannot fit the holding disk"));
    free(out);
    snprintf(path, sizeof path, "%s/staging/tmp/%s-g00001.part", fx->dir, job);
    struct stat st;
    assert_int_not_equal(stat(path, &st), 0);
}

static void
test_job_waiting_for_space_is_reported(void **state)
{
    fx_t *fx = *state;
    char src[400], path[500];
    snprintf(src, sizeof src, "%s/src", fx->dir);
    assert_int_equal(mkdir(src, 0755), 0);
    /* three archives of 1.5 MiB: two fill the 4 MiB holding disk (no tape writer empties
       it), the third waits for space */
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/part%d.bin", src, i);
        s_random_file(path, 1536u << 10, (uint64_t) i + 10);
    }
    char log[500];
    snprintf(log, sizeof log, "%s/events.out", fx->dir);
    char *events_argv[] = {"tapeflow", "events", "alert.stager", "--count", "1", "--timeout", "120", "--json", NULL};
    tf_testproc_t *events = tf_testproc_start("tapeflow", events_argv, fx->env, log);
    assert_non_null(events);

    char *out = NULL;
    int rc = s_cli(fx, &out, "backup", src, "--compression", "none", "--json", NULL);
    char job[128];
    if (rc != 0 || !s_json_str(out, "job", job, sizeof job))
        fail_msg("backup exited %d: %s", rc, out ? out : "");
    free(out);

    /* the alert (bounded: the events command ends after one event or 120 s) */
    int status = -1;
    assert_true(tf_testproc_wait(events, 150000, &status));
    tf_testproc_destroy(&events);
    char *text = tf_test_read_file(log);
    char want[200];
    snprintf(want, sizeof want, "job %s has waited ", job);
    if (!text || !strstr(text, "alert.stager") || !strstr(text, want) || !strstr(text, "for holding-disk space"))
        fail_msg("tapeflow events alert.stager printed:\n%s", text ? text : "(nothing)");
    free(text);

    /* the waiting compressor's item says so in its progress (tapeflow backup --wait shows it) */
    char topic[200];
    snprintf(topic, sizeof topic, "job.%s.progress", job);
    rc = s_cli(fx, &out, "events", topic, "--count", "3", "--timeout", "60", NULL);
    if (rc != 0 || !out || !strstr(out, "waiting for holding-disk space ("))
        fail_msg("tapeflow events %s exited %d:\n%s", topic, rc, out ? out : "");
    free(out);

    /* the job's message says so (the catalog gets it right after the first alert) */
    bool seen = false;
    for (int i = 0; i < 100 && !seen; i++) {
        rc = s_cli(fx, &out, "job", job, NULL);
        seen = rc == 0 && out && strstr(out, "waiting for holding-disk space since ") && strstr(out, "running");
        if (!seen && i == 99)
            fail_msg("tapeflow job %s:\n%s", job, out ? out : "");
        free(out);
        out = NULL;
        if (!seen)
            usleep(200000);
    }
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_archive_that_cannot_fit_fails_the_job, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_job_waiting_for_space_is_reported, s_setup, s_teardown),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);  /* one ctest entry per test */
    return cmocka_run_group_tests_name("holding", tests, NULL, NULL);
}
