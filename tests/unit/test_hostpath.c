/*  common/tf_hostpath: HOST:/path and plain paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "tf_config.h"
#include "tf_hostpath.h"

static tf_config_t *
s_config(void)
{
    tf_config_t *cfg = tf_config_new();
    assert_non_null(cfg);
    tf_config_set(cfg, "tapeflow/host", "tapesrv");
    return cfg;
}

static void
test_plain_and_remote_paths(void **state)
{
    (void) state;
    tf_config_t *cfg = s_config();
    char host[64], path[256];
    tf_err_t err = {0};
    assert_int_equal(tf_hostpath_parse(cfg, "/data/x", host, sizeof host, path, sizeof path, &err), TF_OK);
    assert_string_equal(host, "tapesrv");
    assert_string_equal(path, "/data/x");
    assert_int_equal(tf_hostpath_parse(cfg, "client-b.lan:/data/a:b", host, sizeof host, path,
                                       sizeof path, &err), TF_OK);
    assert_string_equal(host, "client-b.lan");
    assert_string_equal(path, "/data/a:b");
    /* A ':' after the first '/' is part of a local path. */
    assert_int_equal(tf_hostpath_parse(cfg, "/srv/a:b", host, sizeof host, path, sizeof path, &err), TF_OK);
    assert_string_equal(host, "tapesrv");
    assert_string_equal(path, "/srv/a:b");
    /* Relative paths stay as written: the caller resolves them on this host. */
    assert_int_equal(tf_hostpath_parse(cfg, "./a:b", host, sizeof host, path, sizeof path, &err), TF_OK);
    assert_string_equal(host, "tapesrv");
    assert_string_equal(path, "./a:b");
    assert_true(tf_hostpath_is_local(cfg, "tapesrv"));
    assert_true(tf_hostpath_is_local(cfg, ""));
    assert_true(tf_hostpath_is_local(cfg, NULL));
    assert_false(tf_hostpath_is_local(cfg, "B"));
    tf_config_destroy(&cfg);
}

static void
test_malformed_remote_paths(void **state)
{
    (void) state;
    tf_config_t *cfg = s_config();
    char host[8], path[16];
    tf_err_t err = {0};
    assert_int_equal(tf_hostpath_parse(cfg, ":/data", host, sizeof host, path, sizeof path, &err),
                     TF_ERR_INVALID);
    assert_non_null(strstr(err.message, "no host before ':'"));
    assert_int_equal(tf_hostpath_parse(cfg, "B:data", host, sizeof host, path, sizeof path, &err),
                     TF_ERR_INVALID);
    assert_non_null(strstr(err.message, "must be absolute (B:/data)"));
    assert_int_equal(tf_hostpath_parse(cfg, "b c:/data", host, sizeof host, path, sizeof path, &err),
                     TF_ERR_INVALID);
    assert_non_null(strstr(err.message, "holds ' '"));
    assert_int_equal(tf_hostpath_parse(cfg, "", host, sizeof host, path, sizeof path, &err),
                     TF_ERR_INVALID);
    assert_int_equal(tf_hostpath_parse(cfg, "longhostname:/d", host, sizeof host, path, sizeof path,
                                       &err), TF_ERR_TOOBIG);
    assert_int_equal(tf_hostpath_parse(cfg, "B:/a/very/long/path/indeed", host, sizeof host, path,
                                       sizeof path, &err), TF_ERR_TOOBIG);
    /* This host's own name does not fit host[8]. */
    assert_int_equal(tf_hostpath_parse(cfg, "/d", host, 4, path, sizeof path, &err), TF_ERR_TOOBIG);
    tf_config_destroy(&cfg);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_and_remote_paths),
        cmocka_unit_test(test_malformed_remote_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
