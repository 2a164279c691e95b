/*  Recovery without tapeflow (issue 8 item 16, docs/tape-format.md "Recovering a whole job with
    dd, zstd and GNU tar"): the whole stack under `tapeflow up` backs up a tree whose folders are
    split across many archives, to a sim tape (`recovery.sim`) and to tgt's virtual tape over
    iSCSI (`recovery.tgt`). Then, with the stack down, the tape files are copied off the tape
    the way step A's `dd bs=1M` does it - one read per block up to the filemark, here through
    the drive layer since there is no st device to give dd - and step B of the doc is run as it
    is written there (taken from the doc; only JOB and DEST are set). The restored tree must be
    the source: content, modes, owners, symlinks, times of files and folders. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tf_drive.h"
#include "tf_testproc.h"
#include "tf_teststack.h"
#include "tf_tree.h"
#include "tgt_harness.h"

#ifndef TF_SOURCE_DIR
#error "TF_SOURCE_DIR (the source tree, for docs/tape-format.md) must be defined"
#endif

typedef struct {
    tf_teststack_t *stack;
    const char *dir;  /* the stack's folder */
    char url[600];    /* the drive */
    bool up;
} fx_t;

static tgt_harness_t *s_tgt;

#define s_cli(fx, out, ...) tf_teststack_cli((fx)->stack, (out), __VA_ARGS__)

/* The stack on the drive at url (NULL: a sim tape in the stack's folder). */
static int
s_setup_url(void **state, const char *url)
{
    fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    char drive[700];
    snprintf(drive, sizeof drive, "drives/tape0/url=%s", url ? url : "sim:${dir}/tape0.img?capacity=256M");
    /* Small groups: many archives, folders split across them. */
    const char *config[] = {"scanner/group_size=131072", "tapewriter/block_size=65536",
                            "tapewriter/mount_wait=0", drive, NULL};
    tf_teststack_opts_t opts = {.config = config};
    fx->stack = tf_teststack_new("tfrecov", &opts);
    assert_non_null(fx->stack);
    fx->dir = tf_teststack_dir(fx->stack);
    if (url)
        snprintf(fx->url, sizeof fx->url, "%s", url);
    else
        snprintf(fx->url, sizeof fx->url, "sim:%s/tape0.img?capacity=256M", fx->dir);
    fx->up = true;
    *state = fx;
    char *out = NULL;
    if (s_cli(fx, &out, "tape", "label", "tape0", "--label", "TF0001", "--pool", "default", "--force", NULL)
        != 0)
        fail_msg("tape label: %s", out ? out : "");
    free(out);
    return 0;
}

static int
s_setup_sim(void **state)
{
    return s_setup_url(state, NULL);
}

static int
s_setup_tgt(void **state)
{
    char why[512];
    s_tgt = tgt_harness_start(256, why, sizeof why);
    if (!s_tgt) {
        printf("SKIPPED: tgtd could not start: %s\n", why);
        *state = NULL;
        return 0;
    }
    return s_setup_url(state, tgt_harness_url(s_tgt));
}

static int
s_teardown(void **state)
{
    fx_t *fx = *state;
    int down = 0;
    if (fx) {
        /* after the test's own down (the recipe runs without tapeflow) only the folder is left */
        down = fx->up ? tf_teststack_finish(&fx->stack) : 0;
        tf_teststack_destroy(&fx->stack);
        free(fx);
    }
    tgt_harness_stop(&s_tgt);
    assert_int_equal(down, 0);
    return 0;
}

/* Step A of the doc: every tape file into tapes/file.N, each block as one read, up to the
   filemark - what `dd if=$TAPE of=file.$N bs=1M` writes. Returns the number of tape files. */
static int
s_copy_tape_files(fx_t *fx, const char *folder)
{
    tf_err_t err = {0};
    tf_drive_t *drive = tf_drive_open(fx->url, &err);
    if (!drive || tf_drive_wait_ready(drive, 30000, &err) != TF_OK
        || tf_drive_set_variable(drive, &err) != TF_OK || tf_drive_rewind(drive, &err) != TF_OK)
        fail_msg("drive %s: %s", fx->url, err.message);
    size_t size = (1u << 20) + 4096;
    uint8_t *buf = malloc(size);
    assert_non_null(buf);
    int files = 0;
    for (;;) {
        char path[PATH_MAX + 32];
        snprintf(path, sizeof path, "%s/file.%d", folder, files);
        FILE *out = fopen(path, "wb");
        assert_non_null(out);
        size_t blocks = 0;
        for (;;) {
            size_t len = 0;
            if (tf_drive_read_block(drive, buf, size, &len, &err) != TF_OK)
                fail_msg("reading tape file %d: %s", files, err.message);
            if (len == 0)
                break;
            assert_int_equal(fwrite(buf, 1, len, out), len);
            blocks++;
        }
        fclose(out);
        if (blocks == 0) {
            /* the empty read at end of data */
            assert_int_equal(tf_drive_last_cond(drive), TF_DRIVE_COND_END_OF_DATA);
            unlink(path);
            break;
        }
        files++;
    }
    free(buf);
    tf_drive_destroy(&drive);
    return files;
}

/* Step B of the doc, as written there, with JOB and DEST set. */
static char *
s_recipe(const char *job, const char *dest)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/docs/tape-format.md", TF_SOURCE_DIR);
    char *doc = tf_test_read_file(path);
    assert_non_null(doc);
    const char *begin = strstr(doc, "<!-- recovery-recipe-begin -->");
    const char *end = begin ? strstr(begin, "<!-- recovery-recipe-end -->") : NULL;
    if (!begin || !end)
        fail_msg("docs/tape-format.md has no recovery recipe between its markers");
    const char *code = strstr(begin, "```sh\n");
    assert_true(code && code < end);
    code += 6;
    const char *code_end = strstr(code, "```");
    assert_true(code_end && code_end < end);
    size_t cap = (size_t) (code_end - code) + 2 * PATH_MAX + 256;
    char *script = calloc(1, cap);
    assert_non_null(script);
    bool job_set = false, dest_set = false;
    for (const char *line = code; line < code_end;) {
        const char *nl = memchr(line, '\n', (size_t) (code_end - line));
        size_t n = nl ? (size_t) (nl - line) + 1 : (size_t) (code_end - line);
        size_t used = strlen(script);
        if (strncmp(line, "JOB=", 4) == 0) {
            snprintf(script + used, cap - used, "JOB='%s'\n", job);
            job_set = true;
        } else if (strncmp(line, "DEST=", 5) == 0) {
            snprintf(script + used, cap - used, "DEST='%s'\n", dest);
            dest_set = true;
        } else
            snprintf(script + used, cap - used, "%.*s", (int) n, line);
        line += n;
    }
    assert_true(job_set && dest_set);
    free(doc);
    return script;
}

static void
s_recover(void **state)
{
    fx_t *fx = *state;
    char src[PATH_MAX], why[1024];
    snprintf(src, sizeof src, "%s/src", fx->dir);
    tf_tree_spec_t spec = {.files = 120, .bytes = 3u << 20, .seed = 16, .special = false};
    if (tf_tree_generate(src, &spec, NULL, why, sizeof why) != 0)
        fail_msg("tree: %s", why);
    char *out = NULL;
    int rc = s_cli(fx, &out, "backup", src, "--pool", "default", "--wait", "--timeout", "300", "--json", NULL);
    if (rc != 0 || !strstr(out, "\"status\":\"completed\""))
        fail_msg("backup (%d): %s", rc, out ? out : "");
    char job[128];
    assert_non_null(tf_test_json_str(out, "job_id", job, sizeof job));
    free(out);
    /* No tapeflow process may hold the drive; the stack stops cleanly. */
    if (tf_teststack_down(fx->stack, why, sizeof why) != 0)
        fail_msg("%s", why);
    fx->up = false;

    char tapes[PATH_MAX + 16], dest[PATH_MAX + 16];
    snprintf(tapes, sizeof tapes, "%s/tapes", fx->dir);
    snprintf(dest, sizeof dest, "%s/restored", fx->dir);
    assert_int_equal(mkdir(tapes, 0755), 0);
    int files = s_copy_tape_files(fx, tapes);
    if (files < 4)
        fail_msg("only %d tape files: the job should have many archives", files);

    char *script = s_recipe(job, dest);
    char script_path[PATH_MAX + 32];
    snprintf(script_path, sizeof script_path, "%s/recipe.sh", tapes);
    FILE *f = fopen(script_path, "w");
    assert_non_null(f);
    fputs(script, f);
    fclose(f);
    free(script);
    char cmd[3 * PATH_MAX];
    snprintf(cmd, sizeof cmd, "cd '%s' && sh -e recipe.sh 2>&1 && ls group.*.tar.zst | wc -l", tapes);
    char *argv[] = {"sh", "-c", cmd, NULL};
    rc = tf_test_run("/bin/sh", argv, NULL, 120000, &out);
    if (rc != 0)
        fail_msg("the recipe failed (%d): %s", rc, out ? out : "");
    long archives = out ? strtol(out, NULL, 10) : 0;
    if (archives != files - 1)
        fail_msg("the recipe took %ld archives of the job from %d archive tape files: %s", archives,
                 files - 1, out ? out : "");
    free(out);
    char restored[PATH_MAX * 2 + 16];
    snprintf(restored, sizeof restored, "%s%s", dest, src);
    if (tf_tree_compare(src, restored, false, why, sizeof why) != 0)
        fail_msg("the tree recovered with dd, zstd and tar differs: %s", why);
}

static void
test_recipe_sim(void **state)
{
    s_recover(state);
}

static void
test_recipe_tgt(void **state)
{
    if (!*state)
        skip();
    s_recover(state);
}

int
main(int argc, char **argv)
{
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_recipe_sim, s_setup_sim, s_teardown),
        cmocka_unit_test_setup_teardown(test_recipe_tgt, s_setup_tgt, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
