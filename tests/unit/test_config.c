/*  common/tf_config: the one key table (issue 8 item 12). Unknown keys and values out of range
    are refused at open with the file, the line and what is allowed; the typed getters read
    sizes, durations and booleans; patterned keys match any name; every default obeys its own
    row; the broker's service set comes from the configured actors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_config.h"
#include "tf_testproc.h"
#include "tf_units.h"

typedef struct {
    char *dir;
    char path[512];
} fx_t;

static int
s_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    fx->dir = tf_test_tempdir("tfcfg");
    snprintf(fx->path, sizeof fx->path, "%s/tapeflow.cfg", fx->dir);
    setenv("TAPEFLOW_HOME", fx->dir, 1);
    unsetenv("TAPEFLOW_CONFIG");
    *state = fx;
    return 0;
}

static int
s_teardown(void **state)
{
    fx_t *fx = *state;
    tf_test_rmtree(fx->dir);
    free(fx->dir);
    free(fx);
    return 0;
}

static void
s_write(fx_t *fx, const char *text)
{
    FILE *f = fopen(fx->path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void
test_unknown_key_refused_with_line(void **state)
{
    fx_t *fx = *state;
    s_write(fx, "# comment line\n"
                "broker\n"
                "    heartbeat = 200\n"
                "tapewriter\n"
                "    block_size = 65536\n"
                "    verfy = 0\n");
    tf_err_t err = {0};
    tf_config_t *cfg = tf_config_open(fx->path, &err);
    assert_null(cfg);
    printf("%s\n", err.message);
    char expect[600];
    snprintf(expect, sizeof expect, "%s line 6: unknown key tapewriter/verfy (did you mean "
                                    "tapewriter/verify?)", fx->path);
    assert_non_null(strstr(err.message, expect));
}

static void
test_out_of_range_refused_with_allowed_values(void **state)
{
    fx_t *fx = *state;
    s_write(fx, "broker\n"
                "    liveness = -4\n"
                "stager\n"
                "    capacity = -1\n"
                "compressor\n"
                "    compression = lz4\n"
                "    chunk = lots\n");
    tf_err_t err = {0};
    assert_null(tf_config_open(fx->path, &err));
    printf("%s\n", err.message);
    assert_non_null(strstr(err.message, "line 2: broker/liveness = '-4' is out of range: allowed "
                                        "is a whole number from 1 to 100"));
    assert_non_null(strstr(err.message, "and 3 more; list them all with: tapeflow config check"));

    tf_config_t *cfg = tf_config_load(fx->path, &err);
    assert_non_null(cfg);
    zlist_t *problems = zlist_new();
    zlist_autofree(problems);
    assert_int_equal(tf_config_check(cfg, problems), 4);
    const char *p = zlist_first(problems);
    assert_non_null(strstr(p, "line 2: broker/liveness"));
    p = zlist_next(problems);
    assert_non_null(strstr(p, "line 4: stager/capacity = '-1' is not a size"));
    p = zlist_next(problems);
    assert_non_null(strstr(p, "line 6: compressor/compression = 'lz4' is not one of the choices: "
                              "allowed is zstd, gzip or none"));
    p = zlist_next(problems);
    assert_non_null(strstr(p, "line 7: compressor/chunk = 'lots' is not a size"));
    zlist_destroy(&problems);
    tf_config_destroy(&cfg);
}

static void
test_typed_values_and_patterns(void **state)
{
    fx_t *fx = *state;
    s_write(fx, "broker\n"
                "    heartbeat = 2s\n"
                "    keep_done = 1d\n"
                "scanner\n"
                "    group_size = 64M\n"
                "    one_fs = no\n"
                "pools\n"
                "    offsite\n"
                "        retention = 12h\n"
                "        volumes = 12\n"
                "        allow_zero_retention = yes\n"
                "drives\n"
                "    lto1\n"
                "        url = \"serial:HU1234\"\n"
                "changers\n"
                "    lib\n"
                "        url = \"sg:/dev/sg3\"\n"
                "        drive0 = lto1\n"
                "actors\n"
                "    echo\n"
                "        instances = 3\n");
    tf_err_t err = {0};
    tf_config_t *cfg = tf_config_open(fx->path, &err);
    if (!cfg)
        fail_msg("%s", err.message);
    assert_int_equal(tf_config_ms(cfg, "broker/heartbeat"), 2000);
    assert_int_equal(tf_config_ms(cfg, "broker/keep_done"), 86400000);
    assert_int_equal(tf_config_ms(cfg, "stager/session_timeout"), 600000);   /* bare = seconds */
    assert_int_equal(tf_config_ms(cfg, "up/restart_min"), 500);              /* bare = ms */
    assert_int_equal(tf_config_size(cfg, "scanner/group_size"), 64LL << 20);
    assert_false(tf_config_bool(cfg, "scanner/one_fs"));
    assert_true(tf_config_bool(cfg, "tapewriter/verify"));
    assert_int_equal(tf_config_int(cfg, "pools/offsite/volumes"), 12);
    assert_int_equal(tf_config_int(cfg, "pools/other/volumes"), 0);
    assert_true(tf_config_bool(cfg, "pools/offsite/allow_zero_retention"));
    assert_false(tf_config_bool(cfg, "pools/default/allow_zero_retention"));
    assert_string_equal(tf_config_get(cfg, "pools/elsewhere/retention"), "30");
    assert_int_equal(tf_config_int(cfg, "actors/echo/instances"), 3);
    assert_int_equal(tf_config_int(cfg, "actors/compressor/instances"), 2);
    assert_int_equal(tf_config_int(cfg, "actors/scanner/instances"), 1);
    assert_null(tf_config_get(cfg, "drives/lto2/url"));
    assert_string_equal(tf_config_str(cfg, "stager/advertise"), "");

    /* Where each value comes from. */
    char buf[600], expect[600];
    snprintf(expect, sizeof expect, "%s:2", fx->path);
    assert_string_equal(tf_config_source(cfg, "broker/heartbeat", buf, sizeof buf), expect);
    assert_string_equal(tf_config_source(cfg, "broker/liveness", buf, sizeof buf), "default");
    assert_string_equal(tf_config_source(cfg, "tapeflow/home", buf, sizeof buf), "environment");
    assert_int_equal(tf_config_override(cfg, "broker/liveness", "7", &err), TF_OK);
    assert_string_equal(tf_config_source(cfg, "broker/liveness", buf, sizeof buf), "override");
    assert_int_equal(tf_config_int(cfg, "broker/liveness"), 7);
    assert_int_equal(tf_config_override(cfg, "broker/liveness", "0", &err), TF_ERR_INVALID);
    assert_string_equal(err.message, "broker/liveness = '0' is out of range: allowed is a whole "
                                     "number from 1 to 100 (missed heartbeats before a peer is "
                                     "declared dead)");
    assert_int_equal(tf_config_override(cfg, "broker/livenes", "3", &err), TF_ERR_INVALID);
    assert_non_null(strstr(err.message, "did you mean broker/liveness?"));

    /* Every key with a value, patterns expanded for the names there are. */
    zlist_t *keys = tf_config_effective_keys(cfg);
    bool offsite = false, def = false, lto1 = false;
    for (const char *k = zlist_first(keys); k; k = zlist_next(keys)) {
        offsite = offsite || strcmp(k, "pools/offsite/retention") == 0;
        def = def || strcmp(k, "pools/default/volumes") == 0;
        lto1 = lto1 || strcmp(k, "drives/lto1/url") == 0;
    }
    assert_true(offsite && def && lto1);
    zlist_destroy(&keys);
    tf_config_destroy(&cfg);
}

static void
test_pattern_keys_checked(void **state)
{
    fx_t *fx = *state;
    s_write(fx, "pools\n"
                "    offsite\n"
                "        retention = soon\n"
                "        retension = 30\n"
                "actors\n"
                "    echo\n"
                "        instances = 100\n"
                "changers\n"
                "    lib\n"
                "        drivex = lto1\n");
    tf_config_t *cfg = tf_config_load(fx->path, NULL);
    assert_non_null(cfg);
    zlist_t *problems = zlist_new();
    zlist_autofree(problems);
    assert_int_equal(tf_config_check(cfg, problems), 4);
    for (const char *p = zlist_first(problems); p; p = zlist_next(problems))
        printf("%s\n", p);
    assert_non_null(strstr(zlist_first(problems), "line 3: pools/offsite/retention = 'soon' is not a retention period"));
    assert_non_null(strstr(zlist_next(problems), "line 4: unknown key pools/offsite/retension (did you mean pools/offsite/retention?)"));
    assert_non_null(strstr(zlist_next(problems), "line 7: actors/echo/instances = '100' is out of range: allowed is a whole number from 0 to 64"));
    assert_non_null(strstr(zlist_next(problems), "line 10: unknown key changers/lib/drivex (did you mean changers/lib/drive<n>?)"));
    zlist_destroy(&problems);
    tf_config_destroy(&cfg);
}

/* R8: 'config check' applies the retention floor the backups apply, with the same words, and
   reads allow_zero_retention as a yes/no value. */
static void
test_retention_floor_checked(void **state)
{
    fx_t *fx = *state;
    s_write(fx, "pools\n"
                "    offsite\n"
                "        retention = 0\n"
                "    scratch\n"
                "        retention = 90min\n"
                "        allow_zero_retention = yes\n"
                "    weekly\n"
                "        retention = 4w\n");
    tf_config_t *cfg = tf_config_load(fx->path, NULL);
    assert_non_null(cfg);
    zlist_t *problems = zlist_new();
    zlist_autofree(problems);
    assert_int_equal(tf_config_check(cfg, problems), 1);
    const char *p = zlist_first(problems);
    printf("%s\n", p);
    assert_non_null(strstr(p, "line 3: pools/offsite/retention = '0' is less than 1 day: the next "
                              "backup of pool offsite would recycle its tapes and lose the jobs on "
                              "them; set a retention of at least 1 day (30 = 30 days), or set "
                              "pools/offsite/allow_zero_retention = 1 to allow this on purpose"));
    zlist_destroy(&problems);
    /* The runtime refusal says the same, with the file. */
    int64_t ms = -1;
    tf_err_t err = {0};
    assert_int_equal(tf_config_pool_retention(cfg, "offsite", &ms, &err), TF_ERR_INVALID);
    char want[1024];
    snprintf(want, sizeof want, "config pools/offsite/retention = '0' in %s is less than 1 day: "
             "the next backup of pool offsite", fx->path);
    assert_non_null(strstr(err.message, want));
    /* Only that pool's backups are refused: the programs still start with it. */
    tf_config_t *opened = tf_config_open(fx->path, &err);
    assert_non_null(opened);
    tf_config_destroy(&opened);
    assert_int_equal(tf_config_pool_retention(cfg, "scratch", &ms, &err), TF_OK);
    assert_true(ms == 90 * 60000);
    tf_config_destroy(&cfg);
}

/* R15: the catalog and the stager run once at most; other actors up to 64. */
static void
test_single_instance_actors(void **state)
{
    fx_t *fx = *state;
    s_write(fx, "actors\n"
                "    catalog\n"
                "        instances = 2\n"
                "    stager\n"
                "        instances = 3\n"
                "    scanner\n"
                "        instances = 64\n");
    tf_config_t *cfg = tf_config_load(fx->path, NULL);
    assert_non_null(cfg);
    zlist_t *problems = zlist_new();
    zlist_autofree(problems);
    assert_int_equal(tf_config_check(cfg, problems), 2);
    assert_non_null(strstr(zlist_first(problems), "line 3: actors/catalog/instances = '2' is out of range: allowed is a whole number from 0 to 1"));
    assert_non_null(strstr(zlist_next(problems), "line 5: actors/stager/instances = '3' is out of range: allowed is a whole number from 0 to 1"));
    zlist_destroy(&problems);
    assert_int_equal(tf_config_int(cfg, "actors/scanner/instances"), 64);
    tf_config_destroy(&cfg);
}

/* Each default must be a valid value of its own row: a table typo would refuse every start. */
static void
test_defaults_obey_their_rows(void **state)
{
    (void) state;
    tf_config_t *cfg = tf_config_new();
    for (size_t i = 0; tf_config_keys(i); i++) {
        const tf_config_key_t *row = tf_config_keys(i);
        assert_non_null(row->help);
        if (!row->value)
            continue;
        char path[256];
        snprintf(path, sizeof path, "%s", row->key);
        char *mark = strstr(path, "<name>");
        if (mark)
            memcpy(mark, "xname_", 6);
        tf_err_t err = {0};
        if (tf_config_override(cfg, path, row->value, &err) != TF_OK)
            fail_msg("default of %s: %s", row->key, err.message);
    }
    tf_config_destroy(&cfg);
}

static void
test_services_from_actors(void **state)
{
    fx_t *fx = *state;
    s_write(fx, "broker\n"
                "    services = \"thumbs, index\"\n"
                "up\n"
                "    actors = \"catalog scanner custom\"\n");
    tf_config_t *cfg = tf_config_open(fx->path, NULL);
    assert_non_null(cfg);
    zlist_t *services = tf_config_services(cfg);
    char all[512] = "";
    for (const char *s = zlist_first(services); s; s = zlist_next(services)) {
        strcat(all, s);
        strcat(all, " ");
    }
    printf("%s\n", all);
    assert_string_equal(all, "catalog compress custom echo extract index labeller scan scheduler "
                             "stager tape thumbs ");
    zlist_destroy(&services);
    tf_config_destroy(&cfg);
}

/* Joins a list of names with spaces into buf. */
static const char *
s_join(zlist_t *list, char *buf, size_t size)
{
    buf[0] = '\0';
    for (const char *s = zlist_first(list); s; s = zlist_next(list)) {
        strncat(buf, s, size - strlen(buf) - 1);
        strncat(buf, " ", size - strlen(buf) - 1);
    }
    return buf;
}

/* Asserts cfg's roles, joined with spaces (and a trailing one), are expect. */
static void
s_assert_roles(tf_config_t *cfg, const char *expect)
{
    char all[512];
    zlist_t *roles = tf_config_roles(cfg);
    assert_non_null(roles);
    assert_string_equal(s_join(roles, all, sizeof all), expect);
    zlist_destroy(&roles);
}

/* Issue 10 item 4: up/roles says which processes this host runs; agent is scanner, compressor
   and extractor; the default runs everything (a one-host install). */
static void
test_roles(void **state)
{
    fx_t *fx = *state;
    char all[512];
    tf_config_t *cfg = tf_config_new();
    s_assert_roles(cfg, "broker bus catalog labeller scanner compressor stager tapewriter "
                        "extractor scheduler replicator ");
    zlist_t *roles = tf_config_roles(cfg);
    assert_true(zlist_exists(roles, "broker"));   /* found by name, not by pointer */
    zlist_destroy(&roles);
    tf_config_destroy(&cfg);

    s_write(fx, "up\n    roles = \"agent, echo scanner\"\n");
    cfg = tf_config_open(fx->path, NULL);
    assert_non_null(cfg);
    s_assert_roles(cfg, "scanner compressor extractor echo ");
    /* A tape server whose roles run no agent still knows the services agents register. */
    tf_config_set(cfg, "up/roles", "broker bus catalog stager tapewriter");
    zlist_t *services = tf_config_services(cfg);
    assert_non_null(services);
    assert_string_equal(s_join(services, all, sizeof all),
                        "catalog compress echo extract labeller scan scheduler stager tape ");
    zlist_destroy(&services);
    assert_true(tf_config_role_is_actor("extractor"));
    assert_false(tf_config_role_is_actor("broker"));
    assert_false(tf_config_role_is_actor("bus"));
    tf_config_destroy(&cfg);
}

/* The deprecated up/actors still works (read as broker, bus and its actors) and is warned about
   with the file and line; when up/roles is set too, up/actors is ignored and that is said. */
static void
test_up_actors_deprecated(void **state)
{
    fx_t *fx = *state;
    char expect[700];
    s_write(fx, "# old file\nup\n    actors = \"catalog echo\"\n");
    tf_config_t *cfg = tf_config_open(fx->path, NULL);
    assert_non_null(cfg);
    s_assert_roles(cfg, "broker bus catalog echo ");
    zlist_t *warnings = zlist_new();
    zlist_autofree(warnings);
    assert_int_equal(tf_config_warnings(cfg, warnings), 1);
    snprintf(expect, sizeof expect, "%s line 3: up/actors is deprecated: read as up/roles = "
             "'broker bus catalog echo'; replace it with that up/roles line", fx->path);
    assert_non_null(strstr(zlist_first(warnings), expect));
    zlist_t *problems = zlist_new();
    zlist_autofree(problems);
    assert_int_equal(tf_config_check(cfg, problems), 0);   /* a warning, not a problem */
    zlist_destroy(&problems);
    zlist_destroy(&warnings);
    tf_config_destroy(&cfg);

    s_write(fx, "up\n    roles = agent\n    actors = echo\n");
    cfg = tf_config_open(fx->path, NULL);
    assert_non_null(cfg);
    s_assert_roles(cfg, "scanner compressor extractor ");
    warnings = zlist_new();
    zlist_autofree(warnings);
    assert_int_equal(tf_config_warnings(cfg, warnings), 1);
    assert_non_null(strstr(zlist_first(warnings), "line 3: up/actors is deprecated and ignored "
                                                  "because up/roles is set"));
    zlist_destroy(&warnings);
    tf_config_destroy(&cfg);

    /* Neither set: no warning. */
    cfg = tf_config_new();
    warnings = zlist_new();
    assert_int_equal(tf_config_warnings(cfg, warnings), 0);
    zlist_destroy(&warnings);
    tf_config_destroy(&cfg);
}

/* A file zconfig cannot parse: the message points at the line. */
static void
test_syntax_error_line(void **state)
{
    fx_t *fx = *state;
    static const struct {
        const char *text;
        const char *hint;
    } cases[] = {
        {"broker\n    heartbeat = 200\n  liveness = 3\n", "not valid ZPL at line 3: indented by 2 spaces"},
        {"broker\n    endpoint = \"unterminated\n", "not valid ZPL at line 2: the quote is not closed"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s_write(fx, cases[i].text);
        tf_err_t err = {0};
        assert_null(tf_config_open(fx->path, &err));
        printf("%s\n", err.message);
        assert_int_equal(err.code, TF_ERR_INVALID);
        assert_non_null(strstr(err.message, cases[i].hint));
    }
}

/* The number parsers the CLI options share: garbage is refused, never read as 0. */
static void
test_number_parsers(void **state)
{
    (void) state;
    int64_t v = -1;
    assert_int_equal(tf_units_parse_int("42", 0, 100, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(tf_units_parse_int("-3", -5, 5, &v), 0);
    assert_int_equal(v, -3);
    static const char *bad[] = {"", "abc", "5x", " 5", "+5", "0x10", "101", "-1", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(tf_units_parse_int(bad[i], 0, 100, &v), -1);
    assert_int_equal(tf_units_parse_int(NULL, 0, 100, &v), -1);
    assert_int_equal(tf_units_parse_seconds("0.5", 1, 60000, &v), 0);
    assert_int_equal(v, 500);
    assert_int_equal(tf_units_parse_seconds("10", 1, 60000, &v), 0);
    assert_int_equal(v, 10000);
    static const char *bad_s[] = {"", "abc", "inf", "nan", "-1", "10s", "61", "0"};
    for (size_t i = 0; i < sizeof bad_s / sizeof bad_s[0]; i++)
        assert_int_equal(tf_units_parse_seconds(bad_s[i], 1, 60000, &v), -1);
    int64_t ms = 0;
    assert_int_equal(tf_config_parse_duration("90s", 1, &ms), 0);
    assert_int_equal(ms, 90000);
    assert_int_equal(tf_config_parse_duration("4w", 1, &ms), 0);
    assert_int_equal(ms, 4LL * 7 * 86400000);
    assert_int_equal(tf_config_parse_duration("5", 1000, &ms), 0);
    assert_int_equal(ms, 5000);
    assert_int_equal(tf_config_parse_duration("-5", 1000, &ms), -1);
    assert_int_equal(tf_config_parse_duration("5 s", 1000, &ms), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unknown_key_refused_with_line, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_out_of_range_refused_with_allowed_values, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_typed_values_and_patterns, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_single_instance_actors, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_retention_floor_checked, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_pattern_keys_checked, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_defaults_obey_their_rows, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_services_from_actors, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_roles, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_up_actors_deprecated, s_setup, s_teardown),
        cmocka_unit_test(test_number_parsers),
        cmocka_unit_test_setup_teardown(test_syntax_error_line, s_setup, s_teardown),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
