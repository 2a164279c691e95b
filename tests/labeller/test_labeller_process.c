/*  The labeller as a process under `tapeflow up` with a sim library (two drives, six slots):

    inventory_without_loads  `tapeflow changer inventory` fills the labeller's inventory from
                             READ ELEMENT STATUS alone: the sim changer's move journal
                             (PATH.moves, one line per MOVE MEDIUM) gets no line, the operator's
                             own load shows up as the one line, and `tape list` shows where a
                             volume is.
    label_barcodes           `tapeflow tape label --barcodes lib --pool default` labels every
                             blank cartridge with its barcode (one tape_label item each, the tape
                             writer reads and writes, the labeller loads), leaves the one the
                             operator labelled before untouched (its image file unchanged) and
                             reports it skipped (exit 1); every move is the labeller's; a second
                             run loads nothing (the inventory knows every label now).
    two_writers_one_library  two tape writers (tapewriter/drives) with small tapes in one sim
                             library back up two trees at the same time: both need further
                             volumes while the other does; both jobs complete and restore
                             identically, every move is the labeller's, and the robot refused
                             none (no element full/empty: no cartridge was wanted in two places).
*/
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tf_teststack.h"
#include "tf_testproc.h"
#include "tf_tree.h"

/* Lines of the sim changer's move journal (0 when it does not exist: nothing moved). */
static int
s_moves(tf_teststack_t *stack, char *last, size_t size)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/lib/changer.state.moves", tf_teststack_dir(stack));
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int n = 0;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        n++;
        if (last)
            snprintf(last, size, "%s", line);
    }
    fclose(f);
    return n;
}

/* Moves in the journal made by a process other than pid, or refused by the robot, from line
   `from` on (1-based); the first such line into why. */
static int
s_foreign_or_refused_moves(tf_teststack_t *stack, int from, int pid, char *why, size_t size)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/lib/changer.state.moves", tf_teststack_dir(stack));
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int n = 0, bad = 0;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (++n < from)
            continue;
        int who = atoi(line);
        if (who != pid || !strstr(line, " ok")) {
            if (!bad++)
                snprintf(why, size, "%s", line);
        }
    }
    fclose(f);
    return bad;
}

static const char *const s_library_config[] = {
    "up/roles=broker bus catalog labeller scanner compressor stager tapewriter",
    "drives/tape0/url=sim:${dir}/lib/drive0.img?capacity=64M",
    "drives/tape1/url=sim:${dir}/lib/drive1.img?capacity=64M",
    "changers/lib/url=sim:${dir}/lib/changer.state?type=8&slots=6&drives=2&ie=0",
    "changers/lib/drive0=tape0",
    "changers/lib/drive1=tape1",
    NULL,
};

static tf_teststack_t *
s_stack_with(const char *prefix, const char *const *config)
{
    tf_teststack_opts_t opts = {.config = config, .no_up = true};
    tf_teststack_t *stack = tf_teststack_new(prefix, &opts);
    assert_non_null(stack);
    char lib[PATH_MAX];
    snprintf(lib, sizeof lib, "%s/lib", tf_teststack_dir(stack));
    assert_int_equal(mkdir(lib, 0755), 0);
    char *out = NULL;
    int rc = tf_teststack_cli(stack, &out, "up", "--detach", NULL);
    if (rc != 0)
        fail_msg("tapeflow up: %d: %s", rc, out ? out : "");
    free(out);
    return stack;
}

static tf_teststack_t *
s_library_stack(const char *prefix)
{
    return s_stack_with(prefix, s_library_config);
}

static void
test_inventory_without_loads(void **state)
{
    (void) state;
    tf_teststack_t *stack = s_library_stack("tflabinv");
    char *out = NULL;
    assert_int_equal(tf_teststack_cli(stack, &out, "changer", "inventory", "--help", NULL), 0);
    assert_non_null(strstr(out, "usage: tapeflow changer inventory CHANGER"));
    free(out);

    assert_int_equal(tf_teststack_cli(stack, &out, "changer", "inventory", "lib", "--json", NULL), 0);
    assert_non_null(out);
    for (int i = 1; i <= 6; i++) {
        char barcode[64];
        snprintf(barcode, sizeof barcode, "\"barcode\":\"TF%04dL6\"", i);
        if (!strstr(out, barcode))
            fail_msg("inventory lacks %s: %s", barcode, out);
    }
    assert_non_null(strstr(out, "\"kind\":\"unknown\""));
    assert_non_null(strstr(out, "\"schema\":1"));
    free(out);
    assert_int_equal(s_moves(stack, NULL, 0), 0);   /* no cartridge was loaded to read it */

    /* The operator loads slot 3 into drive 0 (one move), labels it; inventory again: no move. */
    assert_int_equal(tf_teststack_cli(stack, NULL, "changer", "load", "lib", "--slot", "3", "--drive", "0", NULL), 0);
    assert_int_equal(s_moves(stack, NULL, 0), 1);
    assert_int_equal(tf_teststack_label(stack, "tape0", "TF0003L6", "default"), 0);
    assert_int_equal(tf_teststack_cli(stack, &out, "changer", "inventory", "lib", NULL), 0);
    if (!strstr(out, "drive 0 (tape0)") || !strstr(out, "TF0003L6"))
        fail_msg("inventory text: %s", out);
    free(out);
    char last[512] = "";
    assert_int_equal(s_moves(stack, last, sizeof last), 1);
    assert_non_null(strstr(last, " ok"));

    /* tape list shows where the volume is. */
    assert_int_equal(tf_teststack_cli(stack, &out, "tape", "list", "--json", NULL), 0);
    if (!strstr(out, "\"volume\":\"TF0003L6\"") || !strstr(out, "\"location\":\"drive\"")
        || !strstr(out, "\"changer\":\"lib\""))
        fail_msg("tape list: %s", out);
    free(out);

    /* An unknown changer fails with a message. */
    assert_int_equal(tf_teststack_cli(stack, &out, "changer", "inventory", "nolib", "--json", NULL), 1);
    assert_non_null(strstr(out, "no changer nolib is configured"));
    free(out);
    tf_teststack_destroy(&stack);
}

static bool
s_stat(const char *path, struct stat *st)
{
    return stat(path, st) == 0;
}

static void
test_label_barcodes(void **state)
{
    (void) state;
    tf_teststack_t *stack = s_library_stack("tflabbc");
    /* The operator labels the cartridge of slot 2 by hand: it must stay exactly as it is. */
    assert_int_equal(tf_teststack_cli(stack, NULL, "changer", "load", "lib", "--slot", "2", "--drive", "0", NULL), 0);
    assert_int_equal(tf_teststack_label(stack, "tape0", "MINE02", "other"), 0);
    assert_int_equal(tf_teststack_cli(stack, NULL, "changer", "unload", "lib", "--drive", "0", NULL), 0);
    int before = s_moves(stack, NULL, 0);
    char image[PATH_MAX];
    snprintf(image, sizeof image, "%s/lib/TF0002L6.img", tf_teststack_dir(stack));
    struct stat st1, st2;
    assert_true(s_stat(image, &st1));

    char *out = NULL;
    assert_int_equal(tf_teststack_cli(stack, &out, "tape", "label", "--barcodes", "--help", NULL), 0);
    assert_non_null(strstr(out, "usage: tapeflow tape label --barcodes CHANGER --pool POOL"));
    free(out);
    int rc = tf_teststack_cli(stack, &out, "tape", "label", "--barcodes", "lib", "--pool", "default", "--json", NULL);
    if (rc != 1 || tf_test_json_int(out, "labelled") != 5 || tf_test_json_int(out, "skipped") != 1
        || tf_test_json_int(out, "failed") != 0)
        fail_msg("label --barcodes: exit %d: %s", rc, out ? out : "");
    if (!strstr(out, "\"barcode\":\"TF0002L6\",\"outcome\":\"skipped\"") || !strstr(out, "already labelled MINE02"))
        fail_msg("the labelled cartridge is not reported skipped: %s", out);
    free(out);
    assert_true(s_stat(image, &st2));
    assert_true(st1.st_size == st2.st_size && st1.st_mtim.tv_sec == st2.st_mtim.tv_sec
                && st1.st_mtim.tv_nsec == st2.st_mtim.tv_nsec);

    /* Labels equal barcodes: the catalog lists them (pool default), the inventory knows them. */
    assert_int_equal(tf_teststack_cli(stack, &out, "tape", "list", "--json", NULL), 0);
    for (int i = 1; i <= 6; i++) {
        char want[64];
        snprintf(want, sizeof want, "\"volume\":\"TF%04dL6\",\"pool\":\"default\"", i);
        if ((i == 2) == (strstr(out, want) != NULL))
            fail_msg("tape list %s %s: %s", i == 2 ? "has" : "lacks", want, out);
    }
    free(out);
    assert_int_equal(tf_teststack_cli(stack, &out, "changer", "inventory", "lib", "--json", NULL), 0);
    assert_non_null(strstr(out, "\"barcode\":\"TF0005L6\""));
    assert_null(strstr(out, "\"kind\":\"unknown\""));
    assert_non_null(strstr(out, "\"label\":\"MINE02\""));
    free(out);
    char why[512] = "";
    int pid = tf_teststack_child_pid(stack, "labeller.1");
    assert_true(pid > 0);
    if (s_foreign_or_refused_moves(stack, before + 1, pid, why, sizeof why) != 0)
        fail_msg("a move not by the labeller, or refused: %s", why);
    assert_true(s_moves(stack, NULL, 0) > before);

    /* Again: everything is known, nothing is loaded, everything is skipped. */
    int moves = s_moves(stack, NULL, 0);
    rc = tf_teststack_cli(stack, &out, "tape", "label", "--barcodes", "lib", "--pool", "default", NULL);
    if (rc != 1 || !strstr(out, "0 labelled, 6 skipped, 0 failed"))
        fail_msg("second run: exit %d: %s", rc, out ? out : "");
    free(out);
    assert_int_equal(s_moves(stack, NULL, 0), moves);
    tf_teststack_destroy(&stack);
}

/* Polls `tapeflow job ID --json` until the job ends; its status into status. */
static void
s_wait_job(tf_teststack_t *stack, const char *job, char *status, size_t size)
{
    for (int i = 0; i < 600; i++) {
        char *out = NULL;
        tf_teststack_cli(stack, &out, "job", job, "--json", NULL);
        if (out && tf_test_json_str(out, "status", status, size)
            && strcmp(status, "queued") != 0 && strcmp(status, "running") != 0) {
            free(out);
            return;
        }
        free(out);
        usleep(500000);
    }
    snprintf(status, size, "timed out");
}

static void
test_two_writers_one_library(void **state)
{
    (void) state;
    static const char *const config[] = {
        "up/roles=broker bus catalog labeller scanner compressor stager tapewriter",
        "actors/tapewriter/instances=2",
        "tapewriter/drives=tape0 tape1",
        "tapewriter/block_size=65536",
        "drives/tape0/url=sim:${dir}/lib/drive0.img?capacity=2M&ew=256K",
        "drives/tape1/url=sim:${dir}/lib/drive1.img?capacity=2M&ew=256K",
        "changers/lib/url=sim:${dir}/lib/changer.state?type=8&slots=10&drives=2&ie=0",
        "changers/lib/drive0=tape0",
        "changers/lib/drive1=tape1",
        NULL,
    };
    tf_teststack_t *stack = s_stack_with("tflab2w", config);
    /* Each drive starts with a labelled volume; the other cartridges are blank. */
    assert_int_equal(tf_teststack_cli(stack, NULL, "changer", "load", "lib", "--slot", "1", "--drive", "0", NULL), 0);
    assert_int_equal(tf_teststack_cli(stack, NULL, "changer", "load", "lib", "--slot", "2", "--drive", "1", NULL), 0);
    assert_int_equal(tf_teststack_label(stack, "tape0", "TF0001L6", "default"), 0);
    assert_int_equal(tf_teststack_label(stack, "tape1", "TF0002L6", "default"), 0);
    int before = s_moves(stack, NULL, 0);

    char src[2][PATH_MAX], job[2][128];
    for (int k = 0; k < 2; k++) {
        snprintf(src[k], sizeof src[k], "%s/src%d", tf_teststack_dir(stack), k);
        tf_tree_spec_t spec = {.files = 120, .bytes = 5u << 20, .seed = 11 + (unsigned) k};
        char why[512];
        if (tf_tree_generate(src[k], &spec, NULL, why, sizeof why) != 0)
            fail_msg("tree: %s", why);
    }
    for (int k = 0; k < 2; k++) {
        char *out = NULL;
        int rc = tf_teststack_cli(stack, &out, "backup", src[k], "--pool", "default", "--json", NULL);
        if (rc != 0 || !tf_test_json_str(out, "job_id", job[k], sizeof job[k]))
            fail_msg("backup %d: exit %d: %s", k, rc, out ? out : "");
        free(out);
    }
    for (int k = 0; k < 2; k++) {
        char status[64];
        s_wait_job(stack, job[k], status, sizeof status);
        if (strcmp(status, "completed") != 0) {
            char *out = NULL;
            tf_teststack_cli(stack, &out, "job", job[k], NULL);
            fail_msg("job %s ended %s: %s", job[k], status, out ? out : "");
        }
    }
    char why[1024] = "";
    int pid = tf_teststack_child_pid(stack, "labeller.1");
    assert_true(pid > 0);
    int moves = s_moves(stack, NULL, 0);
    if (moves - before < 4)
        fail_msg("only %d moves: the backups did not need more volumes", moves - before);
    if (s_foreign_or_refused_moves(stack, before + 1, pid, why, sizeof why) != 0)
        fail_msg("a move not by the labeller, or refused by the robot: %s", why);
    /* Both volumes sets were written by both drives at once: the catalog knows more volumes. */
    char *out = NULL;
    assert_int_equal(tf_teststack_cli(stack, &out, "tape", "list", "--json", NULL), 0);
    assert_non_null(strstr(out, "TF0003L6"));
    free(out);
    /* The data: the operator empties both drives (a restore loads each volume it needs from
       its slot; the labeller never takes a cartridge out of another writer's drive). */
    assert_int_equal(tf_teststack_cli(stack, NULL, "changer", "unload", "lib", "--drive", "0", NULL), 0);
    assert_int_equal(tf_teststack_cli(stack, NULL, "changer", "unload", "lib", "--drive", "1", NULL), 0);
    before = s_moves(stack, NULL, 0) + 1;
    for (int k = 0; k < 2; k++) {
        char to[PATH_MAX];
        snprintf(to, sizeof to, "%s/restore%d", tf_teststack_dir(stack), k);
        if (tf_teststack_restore_compare(stack, job[k], src[k], to, why, sizeof why) != 0)
            fail_msg("restore of job %s: %s", job[k], why);
    }
    /* Empty both drives again (a restore may have left one empty already): a backup then
       starts on a volume the labeller loads. */
    tf_teststack_cli(stack, NULL, "changer", "unload", "lib", "--drive", "0", NULL);
    tf_teststack_cli(stack, NULL, "changer", "unload", "lib", "--drive", "1", NULL);
    int again = s_moves(stack, NULL, 0) + 1;
    char third[128] = "";
    char *json = NULL;
    if (tf_teststack_backup(stack, src[0], "default", third, sizeof third, &json) != 0)
        fail_msg("a backup starting on empty drives: %s", json ? json : "");
    free(json);
    if (s_foreign_or_refused_moves(stack, again, pid, why, sizeof why) != 0)
        fail_msg("a move not by the labeller, or refused by the robot: %s", why);
    assert_true(s_moves(stack, NULL, 0) >= again);   /* the labeller loaded a volume */
    /* An emptied sim drive answers MEDIUM NOT PRESENT (as a real one does), not a blank tape:
       the restores and this backup went the empty-drive way, asking the labeller. */
    assert_true(tf_teststack_log_count(stack, "is empty: asking the labeller for a volume of pool default", NULL, 0)
                > 0);
    tf_teststack_destroy(&stack);
}

int
main(int argc, char **argv)
{
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inventory_without_loads),
        cmocka_unit_test(test_label_barcodes),
        cmocka_unit_test(test_two_writers_one_library),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
