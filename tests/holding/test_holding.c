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
#include "tf_teststack.h"

typedef struct {
    tf_teststack_t *stack;
    char *dir;  /* the stack's folder */
} fx_t;

#define s_cli(fx, out, ...) tf_teststack_cli((fx)->stack, (out), __VA_ARGS__)
#define s_json_str tf_test_json_str

static int
s_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    /* No tape writer: archives stay in the holding disk, so it fills deterministically. */
    static const char *const config[] = {
        "up/roles=broker bus catalog scanner compressor stager",
        "scanner/group_size=1048576",
        "stager/capacity=4194304",
        "stager/space_alert=1",
        "stager/space_alert_repeat=1",
        NULL,
    };
    tf_teststack_opts_t opts = {.config = config};
    fx->stack = tf_teststack_new("tfhold", &opts);
    assert_non_null(fx->stack);
    fx->dir = (char *) tf_teststack_dir(fx->stack);
    /* a writable volume of the pool, as an operator has before a backup */
    assert_int_equal(tf_teststack_label(fx->stack, "tape0", "TF0001", "default"), 0);
    *state = fx;
    return 0;
}

static int
s_teardown(void **state)
{
    fx_t *fx = *state;
    int down = tf_teststack_finish(&fx->stack);
    free(fx);
    assert_int_equal(down, 0);
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
    tf_testproc_t *events = tf_testproc_start("tapeflow", events_argv, tf_teststack_env(fx->stack), log);
    assert_non_null(events);

    char *out = NULL;
    int rc = s_cli(fx, &out, "backup", src, "--compression", "none", "--json", NULL);
    char job[128];
    if (rc != 0 || !s_json_str(out, "job_id", job, sizeof job))
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
