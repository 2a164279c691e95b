/*  The labeller as a process under `tapeflow up` with a sim library (two drives, six slots):

    inventory_without_loads  `tapeflow changer inventory` fills the labeller's inventory from
                             READ ELEMENT STATUS alone: the sim changer's move journal
                             (PATH.moves, one line per MOVE MEDIUM) gets no line, the operator's
                             own load shows up as the one line, and `tape list` shows where a
                             volume is.
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

static tf_teststack_t *
s_library_stack(const char *prefix)
{
    static const char *const config[] = {
        "up/actors=catalog labeller scanner compressor stager tapewriter",
        "drives/tape0/url=sim:${dir}/lib/drive0.img?capacity=64M",
        "drives/tape1/url=sim:${dir}/lib/drive1.img?capacity=64M",
        "changers/lib/url=sim:${dir}/lib/changer.state?type=8&slots=6&drives=2&ie=0",
        "changers/lib/drive0=tape0",
        "changers/lib/drive1=tape1",
        NULL,
    };
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
    if (!strstr(out, "\"label\":\"TF0003L6\"") || !strstr(out, "\"location\":\"drive\"")
        || !strstr(out, "\"changer\":\"lib\""))
        fail_msg("tape list: %s", out);
    free(out);

    /* An unknown changer fails with a message. */
    assert_int_equal(tf_teststack_cli(stack, &out, "changer", "inventory", "nolib", "--json", NULL), 1);
    assert_non_null(strstr(out, "no changer nolib is configured"));
    free(out);
    tf_teststack_destroy(&stack);
}

int
main(int argc, char **argv)
{
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inventory_without_loads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
