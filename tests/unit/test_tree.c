/*  tests/support/tf_tree: the generator is deterministic and makes every special case; the
    comparison finds copies equal (cp -a) and catches each kind of difference. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tf_testproc.h"
#include "tf_tree.h"

static void
s_cp(const char *from, const char *to)
{
    char *argv[] = {"cp", "-a", (char *) from, (char *) to, NULL};
    assert_int_equal(tf_test_run("/bin/cp", argv, NULL, 30000, NULL), 0);
}

static void
test_generate_copy_compare_mutate(void **state)
{
    (void) state;
    char *dir = tf_test_tempdir("tftree");
    char a[256], b[256], why[512], p[512];
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b, sizeof b, "%s/b", dir);
    tf_tree_spec_t spec = {.files = 300, .bytes = 3 << 20, .seed = 7, .special = true};
    tf_tree_stats_t st;
    assert_int_equal(tf_tree_generate(a, &spec, &st, why, sizeof why), 0);
    assert_true(st.files >= 300);
    assert_int_equal(st.hardlinks, 2);
    assert_int_equal(st.symlinks, 3);
    s_cp(a, b);
    assert_int_equal(tf_tree_compare(a, b, true, why, sizeof why), 0);

    /* content */
    snprintf(p, sizeof p, "%s/special/private", b);
    FILE *f = fopen(p, "r+");
    assert_non_null(f);
    fputc('X', f);
    fclose(f);
    assert_int_equal(tf_tree_compare(a, b, true, why, sizeof why), -1);
    assert_non_null(strstr(why, "private"));
    tf_test_rmtree(b);
    s_cp(a, b);
    /* mode */
    snprintf(p, sizeof p, "%s/special/script.sh", b);
    chmod(p, 0755);
    assert_int_equal(tf_tree_compare(a, b, true, why, sizeof why), -1);
    assert_non_null(strstr(why, "mode"));
    tf_test_rmtree(b);
    s_cp(a, b);
    /* a broken hard link */
    snprintf(p, sizeof p, "%s/special/linked.hard2", b);
    unlink(p);
    s_cp(a, p);  /* anything in its place */
    tf_test_rmtree(p);
    char q[512];
    snprintf(q, sizeof q, "%s/special/linked", b);
    char *argv[] = {"cp", q, p, NULL};
    assert_int_equal(tf_test_run("/bin/cp", argv, NULL, 30000, NULL), 0);
    assert_int_equal(tf_tree_compare(a, b, false, why, sizeof why), -1);
    tf_test_rmtree(b);
    s_cp(a, b);
    /* a missing empty folder */
    snprintf(p, sizeof p, "%s/special/empty/nested-empty", b);
    assert_int_equal(rmdir(p), 0);
    assert_int_equal(tf_tree_compare(a, b, true, why, sizeof why), -1);

    /* deterministic: the same seed twice gives equal trees (owners/times/content) */
    char c[256];
    snprintf(c, sizeof c, "%s/c", dir);
    assert_int_equal(tf_tree_generate(c, &spec, NULL, why, sizeof why), 0);
    snprintf(p, sizeof p, "%s/d000/s000/f000042.dat", a);
    snprintf(q, sizeof q, "%s/d000/s000/f000042.dat", c);
    char *ta = tf_test_read_file(p), *tc = tf_test_read_file(q);
    assert_non_null(ta);
    assert_non_null(tc);
    assert_string_equal(ta, tc);
    free(ta);
    free(tc);
    tf_test_rmtree(dir);
    free(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_generate_copy_compare_mutate)};
    return cmocka_run_group_tests_name("tree", tests, NULL, NULL);
}
