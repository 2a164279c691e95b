/*  Incremental and differential chains end to end (issue 11 items 2, 3, 5): the whole stack
    under `tapeflow up` on a simulated tape, driven by the CLI as an operator would.

    A generated tree (symlinks, hard links, empty folders, odd modes, nanosecond times) plus a
    folder of files this test changes goes through:
      1. a full backup;
      2. add a file, rewrite one with the same size and put its mtime back (only its ctime
         tells), delete one, rename one, chmod one, move a folder; then an incremental;
      3. more changes (a grown file, a new folder, a deleted one); then a differential;
      4. more changes (the file added in 2 deleted, a folder chmodded, a rename back and forth,
         the ctime-only file again); then an incremental.
    After each job the source is copied (cp -a) as it is then. Each job restored into a folder of
    its own equals that copy byte for byte with metadata (tf_tree_compare_strict: names, types,
    content, modes, owners, mtimes to the nanosecond, symlink targets, hard links); a deleted
    file does not come back. `tapeflow job ID --json` shows level, base_job and trigger, and
    `tapeflow job ID --files --json` why the ctime-only file was taken. `restore --at TIME
    SOURCE` picks the job holding SOURCE's state at TIME (also for a folder inside a job's
    source), and refuses a time before the first job. A restore with two patterns takes each
    archive's entries once: the union of their take lists, and where an archive is whole for
    one pattern (all its matches are current) but holds old copies of the other's, only the
    entries of the job's state. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <czmq.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tf_clock.h"
#include "tf_testproc.h"
#include "tf_teststack.h"
#include "tf_tree.h"

typedef struct {
    tf_teststack_t *stack;
    const char *dir;      /* the stack's folder */
    char src[PATH_MAX];   /* the backed-up tree */
    char chg[PATH_MAX + 8]; /* src/chg: the files this test changes */
} fx_t;

#define s_cli(fx, out, ...) tf_teststack_cli((fx)->stack, (out), __VA_ARGS__)

static int
s_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->stack = tf_teststack_new("tfinc", NULL);
    assert_non_null(fx->stack);
    fx->dir = tf_teststack_dir(fx->stack);
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

/* --- changing the source ------------------------------------------------------------------- */

static void
s_path(const fx_t *fx, const char *name, char *out, size_t size)
{
    if ((size_t) snprintf(out, size, "%s/%s", fx->chg, name) >= size)
        fail_msg("path too long for the test: %s/%s", fx->chg, name);
}

/* chg/NAME holds text (created or rewritten in place: same inode). */
static void
s_write(const fx_t *fx, const char *name, const char *text)
{
    char p[PATH_MAX];
    s_path(fx, name, p, sizeof p);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        fail_msg("cannot write %s", p);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t) len);
    assert_int_equal(close(fd), 0);
}

/* Rewrites chg/NAME with other text of the same size and puts its atime and mtime back to the
   nanosecond (what `touch -r` does): only its ctime says it changed. */
static void
s_rewrite_keep_times(const fx_t *fx, const char *name, const char *text)
{
    char p[PATH_MAX];
    s_path(fx, name, p, sizeof p);
    struct stat before;
    assert_int_equal(stat(p, &before), 0);
    assert_int_equal((size_t) before.st_size, strlen(text));
    s_write(fx, name, text);
    struct timespec times[2] = {before.st_atim, before.st_mtim};
    assert_int_equal(utimensat(AT_FDCWD, p, times, 0), 0);
    struct stat after;
    assert_int_equal(stat(p, &after), 0);
    assert_int_equal(after.st_size, before.st_size);
    assert_int_equal(after.st_ino, before.st_ino);
    assert_true(after.st_mtim.tv_sec == before.st_mtim.tv_sec && after.st_mtim.tv_nsec == before.st_mtim.tv_nsec);
}

static void
s_remove(const fx_t *fx, const char *name)
{
    char p[PATH_MAX];
    s_path(fx, name, p, sizeof p);
    assert_int_equal(unlink(p), 0);
}

static void
s_rename(const fx_t *fx, const char *from, const char *to)
{
    char a[PATH_MAX], b[PATH_MAX];
    s_path(fx, from, a, sizeof a);
    s_path(fx, to, b, sizeof b);
    assert_int_equal(rename(a, b), 0);
}

static void
s_chmod(const fx_t *fx, const char *name, mode_t mode)
{
    char p[PATH_MAX];
    s_path(fx, name, p, sizeof p);
    assert_int_equal(chmod(p, mode), 0);
}

static void
s_mkdir(const fx_t *fx, const char *name)
{
    char p[PATH_MAX];
    s_path(fx, name, p, sizeof p);
    assert_int_equal(mkdir(p, 0755), 0);
}

/* The source as it is now, copied with every attribute into DIR/snapN. */
static void
s_snapshot(fx_t *fx, int n, char *out, size_t size)
{
    snprintf(out, size, "%s/snap%d", fx->dir, n);
    char cmd[PATH_MAX * 3];
    snprintf(cmd, sizeof cmd, "cp -a '%s' '%s'", fx->src, out);
    char *text = NULL;
    int rc = tf_teststack_shell(fx->stack, &text, cmd);
    free(text);
    if (rc != 0)
        fail_msg("%s failed (%d)", cmd, rc);
}

/* --- jobs ------------------------------------------------------------------------------------ */

/* `tapeflow backup SRC --level LEVEL --wait --json`: completed, its id in job. */
static void
s_backup(fx_t *fx, const char *level, char *job, size_t size)
{
    char *out = NULL;
    int rc = tf_teststack_backup_level(fx->stack, fx->src, "default", level, job, size, &out);
    if (rc != 0 || !job[0] || !strstr(out ? out : "", "\"status\":\"completed\""))
        fail_msg("%s backup of %s failed (%d): %s", level, fx->src, rc, out ? out : "");
    free(out);
}

/* `tapeflow job ID --json`: its level, base job (NULL: none) and trigger are what is expected;
   *created_ms gets its creation time. */
static void
s_expect_job(fx_t *fx, const char *job, const char *level, const char *base, int64_t *created_ms)
{
    char *out = NULL;
    int rc = s_cli(fx, &out, "job", job, "--json", NULL);
    if (rc != 0)
        fail_msg("tapeflow job %s failed (%d): %s", job, rc, out ? out : "");
    char got[128];
    if (!tf_test_json_str(out, "level", got, sizeof got) || strcmp(got, level) != 0)
        fail_msg("job %s: level %s, expected %s:\n%s", job, tf_test_json_str(out, "level", got, sizeof got) ? got : "(none)",
                 level, out);
    if (base && (!tf_test_json_str(out, "base_job", got, sizeof got) || strcmp(got, base) != 0))
        fail_msg("job %s: base_job is not %s:\n%s", job, base, out);
    if (!base && tf_test_json_str(out, "base_job", got, sizeof got) && got[0])
        fail_msg("job %s (a full) has base_job %s:\n%s", job, got, out);
    if (!tf_test_json_str(out, "trigger", got, sizeof got) || strcmp(got, "manual") != 0)
        fail_msg("job %s: trigger is not manual:\n%s", job, out);
    *created_ms = tf_test_json_int(out, "created_ms");
    assert_true(*created_ms > 0);
    free(out);
}

/* `tapeflow job ID --files --json`: the reason recorded for the entry whose path ends in
   chg/NAME; it holds `want`. */
static void
s_expect_reason(fx_t *fx, const char *job, const char *name, const char *want)
{
    char *out = NULL;
    int rc = s_cli(fx, &out, "job", job, "--files", "--json", NULL);
    if (rc != 0)
        fail_msg("tapeflow job %s --files failed (%d): %s", job, rc, out ? out : "");
    char key[PATH_MAX + 32];
    snprintf(key, sizeof key, "\"path\":\"%s/%s\"", fx->chg, name);
    const char *row = strstr(out, key);
    if (!row)
        fail_msg("job %s --files lists no %s/%s:\n%s", job, fx->chg, name, out);
    const char *end = strchr(row, '}');
    char reason[256];
    const char *got = tf_test_json_str(row, "reason", reason, sizeof reason);
    if (!got || (end && strstr(row, "\"reason\"") > end) || !strstr(reason, want))
        fail_msg("job %s: %s/%s taken for '%s', expected '%s'", job, fx->chg, name, got ? reason : "(none)", want);
    free(out);
}

/* `tapeflow restore ARGS... --to DIR/TO --json` (ARGS NULL-terminated after to): exit 0, and the
   chosen job's id in job (may be NULL). */
static void
s_restore(fx_t *fx, const char *to, char *job, size_t size, ...)
{
    char dest[PATH_MAX];
    snprintf(dest, sizeof dest, "%s/%s", fx->dir, to);
    char *argv[16] = {"tapeflow", "restore"};
    int n = 2;
    va_list ap;
    va_start(ap, size);
    for (const char *a; n < 12 && (a = va_arg(ap, const char *));)
        argv[n++] = (char *) a;
    va_end(ap);
    argv[n++] = "--to";
    argv[n++] = dest;
    argv[n++] = "--json";
    argv[n] = NULL;
    char *out = NULL;
    int rc = tf_teststack_cliv(fx->stack, &out, argv);
    if (rc != 0)
        fail_msg("tapeflow restore %s %s into %s failed (%d): %s", argv[2], argv[3] ? argv[3] : "", dest, rc,
                 out ? out : "");
    if (job && !tf_test_json_str(out, "job_id", job, size))
        fail_msg("restore output names no job: %s", out);
    free(out);
}

/* DIR/TO + path (the restored copy of path) equals snap (+ the part of path below src). */
static void
s_expect_equal(fx_t *fx, const char *to, const char *path, const char *snap)
{
    char restored[PATH_MAX * 2], expected[PATH_MAX * 2], why[1024];
    snprintf(restored, sizeof restored, "%s/%s%s", fx->dir, to, path);
    snprintf(expected, sizeof expected, "%s%s", snap, path + strlen(fx->src));
    if (tf_tree_compare_strict(expected, restored, false, why, sizeof why) != 0)
        fail_msg("the restore in %s is not the source as it was (%s): %s", to, expected, why);
}

static void
s_expect_absent(fx_t *fx, const char *to, const char *name)
{
    char p[PATH_MAX * 2];
    snprintf(p, sizeof p, "%s/%s%s/%s", fx->dir, to, fx->chg, name);
    struct stat st;
    if (lstat(p, &st) == 0)
        fail_msg("%s came back in %s: it was deleted before that job", name, to);
}

/* --- the test ---------------------------------------------------------------------------------- */

static void
test_chain_restores_each_state(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(tf_teststack_label(fx->stack, "tape0", "TF0001", "default"), 0);
    snprintf(fx->src, sizeof fx->src, "%s/src", fx->dir);
    snprintf(fx->chg, sizeof fx->chg, "%s/chg", fx->src);
    tf_tree_spec_t spec = {.files = 60, .bytes = 1 << 20, .seed = 11, .special = true, .nsec_times = true};
    tf_tree_stats_t stats;
    char why[512];
    if (tf_tree_generate(fx->src, &spec, &stats, why, sizeof why) != 0)
        fail_msg("tree: %s", why);
    assert_int_equal(mkdir(fx->chg, 0755), 0);
    s_write(fx, "same.txt", "version one\n");
    s_write(fx, "deleted.txt", "gone in 2\n");
    s_write(fx, "renamed.txt", "moves in 2\n");
    s_write(fx, "mode.txt", "chmod in 2\n");
    s_write(fx, "grows.txt", "grows in 3\n");
    s_write(fx, "kept.txt", "never changes\n");
    s_mkdir(fx, "folder");
    s_write(fx, "folder/inside.txt", "the folder moves in 2\n");
    s_mkdir(fx, "perm");
    s_write(fx, "perm/x.txt", "its folder is chmodded in 4\n");

    /* 1: full */
    char j1[128], j2[128], j3[128], j4[128], snap1[PATH_MAX], snap2[PATH_MAX], snap3[PATH_MAX], snap4[PATH_MAX];
    s_backup(fx, "full", j1, sizeof j1);
    s_snapshot(fx, 1, snap1, sizeof snap1);

    /* 2: incremental of 1 */
    s_write(fx, "added.txt", "new in 2, deleted in 4\n");
    s_rewrite_keep_times(fx, "same.txt", "version two\n");
    s_remove(fx, "deleted.txt");
    s_rename(fx, "renamed.txt", "renamed-2.txt");
    s_chmod(fx, "mode.txt", 0600);
    s_rename(fx, "folder", "folder-moved");
    s_backup(fx, "incremental", j2, sizeof j2);
    s_snapshot(fx, 2, snap2, sizeof snap2);

    /* 3: differential of 1 */
    s_write(fx, "grows.txt", "grows in 3, and now it is longer\n");
    s_mkdir(fx, "new-folder");
    s_write(fx, "new-folder/n.txt", "new in 3\n");
    s_remove(fx, "kept.txt");
    s_backup(fx, "differential", j3, sizeof j3);
    s_snapshot(fx, 3, snap3, sizeof snap3);

    /* 4: incremental of 3 */
    s_remove(fx, "added.txt");
    s_chmod(fx, "perm", 0750);
    s_rename(fx, "renamed-2.txt", "renamed.txt");
    s_rewrite_keep_times(fx, "same.txt", "version 3!!\n");
    s_backup(fx, "incremental", j4, sizeof j4);
    s_snapshot(fx, 4, snap4, sizeof snap4);

    /* The jobs say what they are and what they are based on. */
    int64_t c1, c2, c3, c4;
    s_expect_job(fx, j1, "full", NULL, &c1);
    s_expect_job(fx, j2, "incremental", j1, &c2);
    s_expect_job(fx, j3, "differential", j1, &c3);
    s_expect_job(fx, j4, "incremental", j3, &c4);
    /* Content changed, size and mtime as before: the ctime told (a timestamp would not). */
    s_expect_reason(fx, j2, "same.txt", "changed: ctime");
    s_expect_reason(fx, j2, "deleted.txt", "deleted");
    s_expect_reason(fx, j2, "added.txt", "new");
    s_expect_reason(fx, j2, "mode.txt", "changed: ctime, mode");
    s_expect_reason(fx, j3, "same.txt", "changed: ctime");   /* against the full */
    s_expect_reason(fx, j4, "added.txt", "deleted");

    /* Each job restores the source as it was right after it. */
    const char *jobs[] = {j1, j2, j3, j4};
    const char *snaps[] = {snap1, snap2, snap3, snap4};
    for (int i = 0; i < 4; i++) {
        char to[32];
        snprintf(to, sizeof to, "restore-%d", i + 1);
        s_restore(fx, to, NULL, 0, jobs[i], NULL);
        s_expect_equal(fx, to, fx->src, snaps[i]);
    }
    /* Deleted files stay deleted; the renamed and moved ones are only under their new names. */
    s_expect_absent(fx, "restore-2", "deleted.txt");
    s_expect_absent(fx, "restore-2", "renamed.txt");
    s_expect_absent(fx, "restore-2", "folder");
    s_expect_absent(fx, "restore-3", "deleted.txt");
    s_expect_absent(fx, "restore-3", "kept.txt");
    s_expect_absent(fx, "restore-4", "added.txt");
    s_expect_absent(fx, "restore-4", "renamed-2.txt");
    s_expect_absent(fx, "restore-4", "kept.txt");

    /* --at: just before job 3 was created is job 2's state, of the whole source and of a
       folder inside it; job 4's own creation time is job 4. */
    char at[64], chosen[128];
    tf_clock_format(c3 - 1, at, sizeof at);
    s_restore(fx, "at-2", chosen, sizeof chosen, "--at", at, fx->src, NULL);
    assert_string_equal(chosen, j2);
    s_expect_equal(fx, "at-2", fx->src, snap2);
    s_restore(fx, "at-2-chg", chosen, sizeof chosen, "--at", at, fx->chg, NULL);
    assert_string_equal(chosen, j2);
    s_expect_equal(fx, "at-2-chg", fx->chg, snap2);
    tf_clock_format(c4, at, sizeof at);
    s_restore(fx, "at-4", chosen, sizeof chosen, "--at", at, fx->src, NULL);
    assert_string_equal(chosen, j4);
    s_expect_equal(fx, "at-4", fx->src, snap4);
    /* Before the first job there is nothing to restore: said, and exit 1. */
    tf_clock_format(c1 - 60000, at, sizeof at);
    char dest[PATH_MAX], *out = NULL;
    snprintf(dest, sizeof dest, "%s/at-0", fx->dir);
    int rc = tf_teststack_cli_all(fx->stack, &out, "restore", "--at", at, fx->src, "--to", dest, NULL);
    assert_int_not_equal(rc, 0);
    assert_int_equal(rc, 1);   /* a failure, not a usage error (2) */
    if (!strstr(out ? out : "", fx->src))
        fail_msg("restore --at %s names no source: %s", at, out ? out : "");
    free(out);

    /* A time in another form is a usage error that shows the forms. */
    rc = tf_teststack_cli_all(fx->stack, &out, "restore", "--at", "yesterday", fx->src, "--to", dest, NULL);
    assert_int_equal(rc, 2);
    if (!strstr(out ? out : "", "--at yesterday: give a time as 2026-12-01, 2026-12-01 04:00[:00] (local time) "
                                "or 2026-12-01T03:00:00Z (UTC)"))
        fail_msg("restore --at yesterday: %s", out ? out : "");
    free(out);

    /* Two overlapping patterns: each archive is read once and each entry restored once
       (an entry restored twice would be a collision, a warning, exit 1). */
    s_restore(fx, "two-patterns", NULL, 0, j4, fx->chg, fx->src, NULL);
    s_expect_equal(fx, "two-patterns", fx->src, snap4);
    /* The full's archive of chg/ gives the only match of perm/x.txt (whole for that pattern)
       but only the unchanged part of chg/: the older copies in it and the files deleted since
       stay out. */
    char one[PATH_MAX + 32];
    s_path(fx, "perm/x.txt", one, sizeof one);
    s_restore(fx, "whole-and-part", NULL, 0, j4, one, fx->chg, NULL);
    s_expect_equal(fx, "whole-and-part", fx->chg, snap4);
    s_expect_absent(fx, "whole-and-part", "deleted.txt");
    s_expect_absent(fx, "whole-and-part", "kept.txt");
}

int
main(int argc, char **argv)
{
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);  /* one ctest entry per test */
    zsys_init();
    zsys_handler_set(NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_chain_restores_each_state, s_setup, s_teardown),
    };
    return cmocka_run_group_tests_name("incremental", tests, NULL, NULL);
}
