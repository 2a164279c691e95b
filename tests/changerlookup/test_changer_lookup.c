/*  tf_changer_for_drive / tf_changer_drive_name: the first changer in configuration order that
    lists the drive and has a url; drive elements up to TF_CHANGER_MAX_DRIVES - 1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>

#include "tf_changer_config.h"
#include "tf_testproc.h"

static void
test_first_changer_with_a_url(void **state)
{
    (void) state;
    char *dir = tf_test_tempdir("tfcl");
    char path[512];
    snprintf(path, sizeof path, "%s/tapeflow.cfg", dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    /* lib0 lists tape0 but has no url (it cannot move anything); lib1 has it as element 63 */
    fprintf(fp, "changers\n"
                "    lib0\n        drive0 = \"tape0\"\n"
                "    lib1\n        url = \"sim:/tmp/lib1?type=8\"\n        drive0 = \"tape1\"\n"
                "        drive63 = \"tape0\"\n        drive64 = \"tape2\"\n");
    fclose(fp);
    tf_err_t err = {0};
    tf_config_t *cfg = tf_config_load(path, &err);
    if (!cfg)
        fail_msg("config: %s", err.message);
    char url[256];
    int element = -1;
    assert_true(tf_changer_for_drive(cfg, "tape0", url, sizeof url, &element));
    assert_string_equal(url, "sim:/tmp/lib1?type=8");
    assert_int_equal(element, 63);
    assert_true(tf_changer_for_drive(cfg, "tape1", url, sizeof url, &element));
    assert_int_equal(element, 0);
    assert_true(tf_changer_for_drive(cfg, "tape1", url, sizeof url, NULL));
    /* beyond the drive elements looked at, and a drive no changer lists */
    assert_false(tf_changer_for_drive(cfg, "tape2", url, sizeof url, &element));
    assert_string_equal(url, "");
    assert_false(tf_changer_for_drive(cfg, "tape9", url, sizeof url, &element));
    assert_string_equal(url, "");
    assert_string_equal(tf_changer_drive_name(cfg, "lib1", 63), "tape0");
    assert_string_equal(tf_changer_drive_name(cfg, "lib0", 0), "tape0");
    assert_null(tf_changer_drive_name(cfg, "lib1", 5));
    assert_null(tf_changer_drive_name(cfg, "", 0));
    assert_null(tf_changer_drive_name(NULL, "lib1", 0));
    tf_config_destroy(&cfg);
    tf_test_dir_done(&dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_changer_with_a_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
