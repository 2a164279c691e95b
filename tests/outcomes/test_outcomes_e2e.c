/*  Honest job outcomes with the whole stack under `tapeflow up`, driven through the CLI as an
    operator would (issue 8 items 1, 6 and 14).

    Deterministic without timing: the stack runs without compressors, so a job waits after its
    scan; the test deletes files then, and only then starts a compressor (tapeflow-compressor).
    - files deleted between scan and archive: the job ends completed_with_warnings, `tapeflow
      backup --wait` and `tapeflow job ID` exit 1, the message counts the missing files and
      `tapeflow job ID --missing [--json]` lists exactly the deleted ones;
    - everything deleted: the job ends failed;
    - a monitor subscribed to job.<id>. alone sees the stage changes and exactly one completed;
    - a pool with retention 0 on purpose (allow_zero_retention = 1): the second backup recycles
      the tape and the first job becomes expired (jobs, job, restore refuses it);
    - retention 0 without the flag: `tapeflow backup` refuses, naming the key and the file. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <czmq.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tf_client.h"
#include "tf_clock.h"
#include "tf_testproc.h"
#include "tf_teststack.h"

#define S_WAIT_MS 120000

typedef struct {
    tf_teststack_t *stack;
    const char *dir;
    tf_testproc_t *backup;
    char backup_log[PATH_MAX];
} fx_t;

#define s_cli(fx, out, ...) tf_teststack_cli((fx)->stack, (out), __VA_ARGS__)

/* No compressor runs: jobs stop after their scan until the test starts one. */
static const char *s_no_compressor[] = {"actors/compressor/instances=0", NULL};

static int
s_setup_with(void **state, const char *const *config)
{
    fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    tf_teststack_opts_t opts = {.config = config};
    fx->stack = tf_teststack_new("tfout", &opts);
    assert_non_null(fx->stack);
    fx->dir = tf_teststack_dir(fx->stack);
    *state = fx;
    return 0;
}

static int
s_setup(void **state)
{
    return s_setup_with(state, s_no_compressor);
}

static int
s_teardown(void **state)
{
    fx_t *fx = *state;
    tf_testproc_destroy(&fx->backup);
    int down = tf_teststack_finish(&fx->stack);
    free(fx);
    assert_int_equal(down, 0);
    return 0;
}

/* --- helpers ------------------------------------------------------------------------------ */

static void
s_write_file(const char *path, size_t size)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (size_t i = 0; i < size; i++)
        fputc('a' + (int) (i % 26), f);
    assert_int_equal(fclose(f), 0);
}

/* dir/NAME with files f00.txt .. f<n-1>.txt of 1000 bytes each; its path into path. */
static void
s_make_tree(fx_t *fx, const char *name, int files, char *path, size_t size)
{
    snprintf(path, size, "%s/%s", fx->dir, name);
    assert_int_equal(mkdir(path, 0755), 0);
    for (int i = 0; i < files; i++) {
        char file[PATH_MAX + 16];
        snprintf(file, sizeof file, "%s/f%02d.txt", path, i);
        s_write_file(file, 1000);
    }
}

/* `tapeflow backup SRC --pool POOL --wait --timeout 180` in the background (the test acts
   while it waits); its output goes to fx->backup_log. */
static void
s_backup_start(fx_t *fx, const char *src, const char *pool)
{
    snprintf(fx->backup_log, sizeof fx->backup_log, "%s/backup-%d.log", fx->dir, (int) tf_clock_mono_ms());
    char bin[PATH_MAX];
    snprintf(bin, sizeof bin, "%s/tapeflow", tf_test_bindir());
    char *argv[] = {"tapeflow", "backup", (char *) src, "--pool", (char *) pool, "--wait", "--timeout", "180",
                    NULL};
    fx->backup = tf_testproc_start(bin, argv, tf_teststack_env(fx->stack), fx->backup_log);
    assert_non_null(fx->backup);
}

/* Waits for the background backup to end; its exit status and its output (caller frees). */
static int
s_backup_end(fx_t *fx, char **output)
{
    int status = 0;
    if (!tf_testproc_wait(fx->backup, S_WAIT_MS, &status))
        fail_msg("tapeflow backup --wait did not end within %d s", S_WAIT_MS / 1000);
    tf_testproc_destroy(&fx->backup);
    *output = tf_test_read_file(fx->backup_log);
    assert_non_null(*output);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The newest job's id (from `tapeflow jobs --json`), waiting until there is one. */
static void
s_newest_job(fx_t *fx, char *job, size_t size)
{
    int64_t deadline = tf_clock_mono_ms() + S_WAIT_MS;
    for (;;) {
        char *out = NULL;
        int rc = s_cli(fx, &out, "jobs", "--json", NULL);
        const char *id = rc == 0 && out ? tf_test_json_str(out, "job_id", job, size) : NULL;
        free(out);
        if (id)
            return;
        if (tf_clock_mono_ms() > deadline)
            fail_msg("no job appeared in the catalog");
        tf_clock_sleep_ms(200);
    }
}

/* `tapeflow job ID --json` until "key" (a JSON fragment like "\"scanned\":true") is in it, or
   the job ended when key is NULL; returns the JSON (caller frees). */
static char *
s_wait_job(fx_t *fx, const char *job, const char *key)
{
    int64_t deadline = tf_clock_mono_ms() + S_WAIT_MS;
    for (;;) {
        char *out = NULL;
        s_cli(fx, &out, "job", job, "--json", NULL);
        char status[64] = "";
        if (out && key && strstr(out, key))
            return out;
        if (out && !key && tf_test_json_str(out, "status", status, sizeof status)
            && strcmp(status, "queued") != 0 && strcmp(status, "running") != 0)
            return out;
        if (tf_clock_mono_ms() > deadline)
            fail_msg("job %s: no %s within %d s; last: %s", job, key ? key : "end", S_WAIT_MS / 1000,
                     out ? out : "(no answer)");
        free(out);
        tf_clock_sleep_ms(200);
    }
}

/* A compressor of the stack's configuration, started by the test. */
static void
s_start_compressor(fx_t *fx)
{
    assert_int_equal(tf_teststack_start(fx->stack, "compressor.test"), 0);
}

/* Runs `tapeflow ARGS` with stderr joined to stdout (messages for people go to stderr). */
static int
s_cli_all(fx_t *fx, char **out, const char *args)
{
    char cmd[PATH_MAX * 2 + 32];
    snprintf(cmd, sizeof cmd, "tapeflow %s 2>&1", args);
    return tf_teststack_shell(fx->stack, out, cmd);
}

/* --- item 1: entries that vanished between scan and archive ------------------------------ */

static void
test_vanished_files_completed_with_warnings(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(tf_teststack_label(fx->stack, "tape0", "TF0001", "default"), 0);
    char src[PATH_MAX];
    s_make_tree(fx, "src", 10, src, sizeof src);
    s_backup_start(fx, src, "default");
    char job[128];
    s_newest_job(fx, job, sizeof job);
    free(s_wait_job(fx, job, "\"scanned\":true"));   /* 11 entries: the folder and 10 files */

    /* Three files vanish before any compressor reads them. */
    const char *gone[] = {"f02.txt", "f05.txt", "f07.txt"};
    for (size_t i = 0; i < 3; i++) {
        char path[PATH_MAX + 16];
        snprintf(path, sizeof path, "%s/%s", src, gone[i]);
        assert_int_equal(unlink(path), 0);
    }
    s_start_compressor(fx);
    char *out = NULL;
    int rc = s_backup_end(fx, &out);
    if (rc != 1 || !strstr(out, "status    completed_with_warnings"))
        fail_msg("backup --wait exit %d (want 1):\n%s", rc, out);
    free(out);

    out = s_wait_job(fx, job, NULL);
    char status[64], message[4096];
    assert_non_null(tf_test_json_str(out, "status", status, sizeof status));
    assert_string_equal(status, "completed_with_warnings");
    assert_int_equal(tf_test_json_int(out, "files_total"), 11);
    assert_int_equal(tf_test_json_int(out, "files_done"), 8);
    assert_int_equal(tf_test_json_int(out, "warnings"), 3);
    assert_non_null(tf_test_json_str(out, "message", message, sizeof message));
    char want[512];
    snprintf(want, sizeof want, "completed with warnings: 3 of 11 files missing (list them with: tapeflow job %s "
             "--missing)", job);
    if (!strstr(message, want))
        fail_msg("message: %s\nwant: %s", message, want);
    free(out);

    /* tapeflow job: exit 1 (not every file is on tape); tapeflow jobs shows the status. */
    assert_int_equal(s_cli(fx, &out, "job", job, NULL), 1);
    assert_non_null(strstr(out, "status    completed_with_warnings"));
    free(out);
    assert_int_equal(s_cli(fx, &out, "jobs", NULL), 0);
    assert_non_null(strstr(out, "completed_with_warnings"));
    free(out);
    /* A retry would not read the missing entries: refused, pointing to --missing and a new backup. */
    char args[PATH_MAX];
    snprintf(args, sizeof args, "job retry %s", job);
    assert_int_equal(s_cli_all(fx, &out, args), 1);
    snprintf(want, sizeof want, "list them with 'tapeflow job %s --missing' and back them up with a new "
             "'tapeflow backup'", job);
    if (!strstr(out, want))
        fail_msg("retry said:\n%s", out);
    free(out);

    /* --missing lists exactly the deleted files, with the reason. */
    assert_int_equal(s_cli(fx, &out, "job", job, "--missing", NULL), 0);
    for (size_t i = 0; i < 3; i++) {
        char line[PATH_MAX + 64];
        snprintf(line, sizeof line, "%s/%s\tskipped: vanished since the scan", src, gone[i]);
        if (!strstr(out, line))
            fail_msg("--missing without %s:\n%s", gone[i], out);
    }
    int lines = 0;
    for (const char *p = out; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 3);
    free(out);
    assert_int_equal(s_cli(fx, &out, "job", job, "--missing", "--json", NULL), 0);
    assert_int_equal(tf_test_json_int(out, "missing_count"), 3);
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "\"path\":\"%s/f02.txt\"", src);
    assert_non_null(strstr(out, path));
    assert_non_null(strstr(out, "\"truncated\":false"));
    free(out);

    /* A job whose entries are all on tape: nothing missing, exit 0. */
    tf_teststack_kill(fx->stack, "compressor.test", SIGKILL);
}

static void
test_everything_vanished_fails(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(tf_teststack_label(fx->stack, "tape0", "TF0001", "default"), 0);
    char src[PATH_MAX];
    s_make_tree(fx, "all", 4, src, sizeof src);
    s_backup_start(fx, src, "default");
    char job[128];
    s_newest_job(fx, job, sizeof job);
    free(s_wait_job(fx, job, "\"scanned\":true"));
    tf_test_rmtree(src);   /* the folder and all 4 files */
    s_start_compressor(fx);
    char *out = NULL;
    int rc = s_backup_end(fx, &out);
    if (rc != 1 || !strstr(out, "status    failed"))
        fail_msg("backup --wait exit %d (want 1):\n%s", rc, out);
    free(out);
    out = s_wait_job(fx, job, NULL);
    char status[64], message[4096];
    assert_non_null(tf_test_json_str(out, "status", status, sizeof status));
    assert_string_equal(status, "failed");
    assert_int_equal(tf_test_json_int(out, "files_done"), 0);
    assert_non_null(tf_test_json_str(out, "message", message, sizeof message));
    if (!strstr(message, "failed: none of the 5 scanned entries could be stored (5 missing"))
        fail_msg("message: %s", message);
    free(out);
    assert_int_equal(s_cli(fx, &out, "job", job, NULL), 1);
    free(out);
    assert_int_equal(s_cli(fx, &out, "job", job, "--missing", "--json", NULL), 0);
    assert_int_equal(tf_test_json_int(out, "missing_count"), 5);
    free(out);
}

/* --- item 14: a monitor follows a job by subscribing to job.<id>. alone ----------------- */

static void
test_job_events_on_the_bus(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(tf_teststack_label(fx->stack, "tape0", "TF0001", "default"), 0);
    char src[PATH_MAX];
    s_make_tree(fx, "ev", 5, src, sizeof src);
    char *out = NULL;
    assert_int_equal(s_cli(fx, &out, "backup", src, "--json", NULL), 0);
    char job[128];
    assert_non_null(tf_test_json_str(out, "job_id", job, sizeof job));
    free(out);
    free(s_wait_job(fx, job, "\"scanned\":true"));

    char topic[200];
    snprintf(topic, sizeof topic, "job.%s.", job);
    const char *topics[] = {topic, NULL};
    tf_testevents_t *bus = tf_teststack_events(fx->stack, topics);  /* live when it returns */
    assert_non_null(bus);
    s_start_compressor(fx);
    free(s_wait_job(fx, job, NULL));

    /* Collect until the bus is quiet for 2 s after the job ended (bounded). */
    int stages = 0, completed = 0, others = 0;
    bool saw_tape = false;
    char stage_topic[220], done_topic[220];
    snprintf(stage_topic, sizeof stage_topic, "job.%s.stage", job);
    snprintf(done_topic, sizeof done_topic, "job.%s.completed", job);
    int64_t deadline = tf_clock_mono_ms() + 30000;
    tf_msg_t ev;
    while (tf_clock_mono_ms() < deadline && tf_testevents_next(bus, 2000, &ev)) {
        const tf_msg_event_t *e = &ev.event;
        assert_int_equal(strncmp(e->topic, topic, strlen(topic)), 0);
        if (strcmp(e->topic, stage_topic) == 0) {
            stages++;
            assert_int_equal(e->job_count, 1);
            if (e->job[0].stage && strcmp(e->job[0].stage, "tape") == 0)
                saw_tape = true;
        }
        else if (strcmp(e->topic, done_topic) == 0) {
            completed++;
            assert_int_equal(e->job_count, 1);
            assert_string_equal(e->job[0].status, "completed");
            assert_int_equal(e->job[0].files_done, 6);
            assert_int_equal(e->job[0].files_total, 6);
            assert_int_equal(e->job[0].archives_written, 1);
            assert_non_null(strstr(e->message, "completed: 6 files"));
        }
        else if (strstr(e->topic, ".progress") == NULL)
            others++;   /* any other end event would be wrong */
        tf_msg_clear(&ev);
    }
    tf_testevents_destroy(&bus);
    if (stages < 2 || !saw_tape || completed != 1 || others != 0)
        fail_msg("events for %s: %d stage (tape seen: %d), %d completed, %d others", job, stages, saw_tape,
                 completed, others);
    assert_int_equal(s_cli(fx, &out, "job", job, NULL), 0);
    free(out);
    assert_int_equal(s_cli(fx, &out, "job", job, "--missing", NULL), 0);
    assert_string_equal(out, "");
    free(out);
}

/* --- item 6: retention 0 on purpose recycles, and the older job is expired --------------- */

static const char *s_zero_retention[] = {"pools/short/retention=0", "pools/short/allow_zero_retention=1", NULL};

static int
s_setup_zero(void **state)
{
    return s_setup_with(state, s_zero_retention);
}

static void
test_recycled_tape_expires_job(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(tf_teststack_label(fx->stack, "tape0", "TF0001", "short"), 0);
    char src1[PATH_MAX], src2[PATH_MAX];
    s_make_tree(fx, "one", 3, src1, sizeof src1);
    s_make_tree(fx, "two", 3, src2, sizeof src2);
    char job1[128], job2[128];
    char *out = NULL;
    assert_int_equal(tf_teststack_backup(fx->stack, src1, "short", job1, sizeof job1, &out), 0);
    free(out);
    assert_int_equal(tf_teststack_backup(fx->stack, src2, "short", job2, sizeof job2, &out), 0);
    free(out);

    /* The second backup recycled TF0001: the first job's archive is gone. */
    assert_int_equal(s_cli(fx, &out, "job", job1, "--json", NULL), 1);
    char status[64], message[4096];
    assert_non_null(tf_test_json_str(out, "status", status, sizeof status));
    assert_string_equal(status, "expired");
    assert_non_null(tf_test_json_str(out, "message", message, sizeof message));
    if (!strstr(message, "expired: tape TF0001 was relabelled for pool short on ")
        || !strstr(message, "(recycled); the 1 archive of this job on it is gone and cannot be restored"))
        fail_msg("message: %s", message);
    free(out);
    assert_int_equal(s_cli(fx, &out, "job", job2, "--json", NULL), 0);
    assert_non_null(tf_test_json_str(out, "status", status, sizeof status));
    assert_string_equal(status, "completed");
    free(out);
    assert_int_equal(s_cli(fx, &out, "jobs", NULL), 0);
    assert_non_null(strstr(out, "expired"));
    free(out);

    /* Restore of the expired job is not refused as a whole: each archive that was on the
       recycled tape is named as lost and counted in the summary (exit 1); what is on other
       tapes would be restored (here the job had only the one archive). */
    char args[PATH_MAX * 2];
    snprintf(args, sizeof args, "restore %s --to '%s/back'", job1, fx->dir);
    assert_int_equal(s_cli_all(fx, &out, args), 1);
    char want[256];
    snprintf(want, sizeof want, "tapeflow restore: archive %s-g00001 was on tape TF0001, recycled on ", job1);
    if (!strstr(out, want) || !strstr(out, ": lost (")
        || !strstr(out, "every archive of job") || strstr(out, "cannot be restored: expired"))
        fail_msg("restore said:\n%s", out);
    free(out);
    /* An expired job is neither cancelled nor retried (the CLI said "cancelled" before). */
    snprintf(args, sizeof args, "job cancel %s", job1);
    assert_int_equal(s_cli_all(fx, &out, args), 1);
    if (!strstr(out, "job ") || !strstr(out, " is expired: it completed, then a tape it was on was recycled"))
        fail_msg("cancel said:\n%s", out);
    free(out);
    snprintf(args, sizeof args, "job retry %s", job1);
    assert_int_equal(s_cli_all(fx, &out, args), 1);
    if (!strstr(out, " is expired ("))
        fail_msg("retry said:\n%s", out);
    free(out);
    assert_int_equal(s_cli(fx, &out, "job", job1, "--json", NULL), 1);
    assert_non_null(strstr(out, "\"status\":\"expired\""));
    free(out);
}

/* --- review F2: an expired job on two tapes restores what is on the tape that remains ------- */

/* One file per group: the job has several archives. */
static const char *s_small_groups[] = {"scanner/group_size=1", NULL};

static int
s_setup_small_groups(void **state)
{
    return s_setup_with(state, s_small_groups);
}

static void
s_catalog_apply(fx_t *fx, tf_client_t *client, tf_msg_t *msg)
{
    tf_msg_t reply;
    tf_err_t err = {0};
    if (tf_client_call(client, "catalog", NULL, NULL, msg, &reply, 30000, &err) != TF_OK)
        fail_msg("catalog item: %s", err.message);
    tf_msg_clear(&reply);
    (void) fx;
}

static void
test_expired_job_restores_other_tape(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(tf_teststack_label(fx->stack, "tape0", "TF0001", "default"), 0);
    char src[PATH_MAX], job[128];
    s_make_tree(fx, "two", 3, src, sizeof src);
    char *out = NULL;
    assert_int_equal(tf_teststack_backup(fx->stack, src, "default", job, sizeof job, &out), 0);
    free(out);
    assert_int_equal(s_cli(fx, &out, "job", job, "--json", NULL), 0);
    long long archives = tf_test_json_int(out, "archives_written");
    free(out);
    assert_true(archives >= 2);

    /* The catalog learns that the job's last archive is on tape TF0009 (one drive here: the
       second tape is simulated in the catalog), then that TF0009 was relabelled. */
    tf_client_t *client = tf_client_new(NULL, tf_teststack_broker(fx->stack), NULL);
    assert_non_null(client);
    char archive[160];
    snprintf(archive, sizeof archive, "%s-g%05lld", job, archives);
    tf_msg_t m = {.type = TF_MSG_CAT_WRITTEN};
    m.cat_written = (tf_msg_cat_written_t){.job_id = job, .archive_id = archive, .volume = "TF0009",
                                           .drive = "tape1", .tape_file = 1, .block = 1, .blocks = 1,
                                           .size = 4096, .checksum = "xxh128:00", .files = 1, .bytes = 1000};
    s_catalog_apply(fx, client, &m);
    int64_t now = tf_clock_wall_ms();
    m = (tf_msg_t){.type = TF_MSG_CAT_VOLUME};
    m.cat_volume = (tf_msg_cat_volume_t){.label = "TF0009", .pool = "default", .state = "appendable",
                                         .created_ms = now - 60000, .tape_files = 2,
                                         .last_written_ms = now - 1000, .time_ms = now};
    s_catalog_apply(fx, client, &m);
    m.cat_volume.created_ms = now + 1000;   /* relabelled: a new generation, nothing on it */
    m.cat_volume.tape_files = 1;
    m.cat_volume.last_written_ms = 0;
    m.cat_volume.time_ms = now + 1000;
    s_catalog_apply(fx, client, &m);
    tf_client_destroy(&client);

    assert_int_equal(s_cli(fx, &out, "job", job, "--json", NULL), 1);
    assert_non_null(strstr(out, "\"status\":\"expired\""));
    assert_int_equal(tf_test_json_int(out, "archives_written"), archives - 1);
    free(out);

    /* The restore reads the archives on TF0001 and names the lost one; exit 1. */
    char args[PATH_MAX * 2];
    snprintf(args, sizeof args, "restore %s --to '%s/back'", job, fx->dir);
    assert_int_equal(s_cli_all(fx, &out, args), 1);
    char want[300];
    snprintf(want, sizeof want, "tapeflow restore: archive %s was on tape TF0009, recycled on ", archive);
    if (!strstr(out, want) || !strstr(out, ", 1 archive lost (tape recycled); see above")
        || !strstr(out, "files restored"))
        fail_msg("restore said:\n%s", out);
    free(out);
    /* What was on TF0001 is back. */
    char back[PATH_MAX * 2];
    snprintf(back, sizeof back, "%s/back%s/f00.txt", fx->dir, src);
    struct stat st;
    if (stat(back, &st) != 0 || st.st_size != 1000)
        fail_msg("%s not restored", back);
    /* --json lists the lost archives. */
    char dest[PATH_MAX];
    snprintf(dest, sizeof dest, "%s/back2", fx->dir);
    assert_int_equal(s_cli(fx, &out, "restore", job, "--to", dest, "--json", NULL), 1);
    snprintf(want, sizeof want, "\"lost\":[{\"archive_id\":\"%s\",\"volume\":\"TF0009\",\"lost_ms\":", archive);
    if (tf_test_json_int(out, "archives_lost") != 1 || !strstr(out, want))
        fail_msg("restore --json:\n%s", out);
    free(out);
}

/* --- item 6: retention 0 without the flag is refused ------------------------------------- */

static const char *s_zero_unflagged[] = {"pools/short/retention=0", NULL};

static int
s_setup_unflagged(void **state)
{
    return s_setup_with(state, s_zero_unflagged);
}

static void
test_zero_retention_refused(void **state)
{
    fx_t *fx = *state;
    char src[PATH_MAX];
    s_make_tree(fx, "z", 1, src, sizeof src);
    char args[PATH_MAX * 2];
    snprintf(args, sizeof args, "backup '%s' --pool short", src);
    char *out = NULL;
    assert_int_equal(s_cli_all(fx, &out, args), 1);
    char want[PATH_MAX + 512];
    snprintf(want, sizeof want, "tapeflow backup: config pools/short/retention = '0' in %s is less than 1 day: "
             "the next backup of pool short would recycle its tapes and lose the jobs on them; set a "
             "retention of at least 1 day (30 = 30 days), or set pools/short/allow_zero_retention = 1 to "
             "allow this on purpose", tf_teststack_config(fx->stack));
    if (!strstr(out, want))
        fail_msg("backup said:\n%s\nwant:\n%s", out, want);
    free(out);
    /* Nothing was started. */
    assert_int_equal(s_cli(fx, &out, "jobs", "--json", NULL), 0);
    assert_non_null(strstr(out, "\"jobs\":[]"));
    free(out);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_vanished_files_completed_with_warnings, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_everything_vanished_fails, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_job_events_on_the_bus, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_recycled_tape_expires_job, s_setup_zero, s_teardown),
        cmocka_unit_test_setup_teardown(test_zero_retention_refused, s_setup_unflagged, s_teardown),
        cmocka_unit_test_setup_teardown(test_expired_job_restores_other_tape, s_setup_small_groups, s_teardown),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
