/*  common/: configuration defaults, ${...} expansion, ZPL files and their errors, the JSON
    writer's escaping and nesting, error message composition. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_config.h"
#include "tf_err.h"
#include "tf_fs.h"
#include "tf_json.h"
#include "tf_testproc.h"

static void
test_config_defaults_follow_home(void **state)
{
    (void) state;
    setenv("TAPEFLOW_HOME", "/srv/tf", 1);
    unsetenv("TAPEFLOW_CONFIG");
    tf_config_t *cfg = tf_config_new();
    assert_non_null(cfg);
    assert_string_equal(tf_config_get(cfg, "tapeflow/home"), "/srv/tf");
    assert_string_equal(tf_config_get(cfg, "tapeflow/run"), "/srv/tf/run");
    assert_string_equal(tf_config_get(cfg, "broker/endpoint"), "ipc:///srv/tf/run/broker.sock");
    assert_string_equal(tf_config_get(cfg, "broker/journal"), "/srv/tf/broker.db");
    assert_int_equal(tf_config_ms(cfg, "broker/heartbeat"), 1000);
    assert_null(tf_config_get(cfg, "no/such/key"));
    assert_null(tf_config_lookup("no/such/key"));
    /* An override changes what depends on it. */
    tf_config_set(cfg, "tapeflow/run", "/tmp/r");
    assert_string_equal(tf_config_get(cfg, "broker/endpoint"), "ipc:///tmp/r/broker.sock");
    /* An unchecked value that does not parse reads as the key's default, never a caller's. */
    tf_config_set(cfg, "broker/heartbeat", "not a number");
    assert_string_equal(tf_config_get(cfg, "broker/heartbeat"), "not a number");
    assert_int_equal(tf_config_ms(cfg, "broker/heartbeat"), 1000);
    tf_config_destroy(&cfg);
    assert_null(cfg);
    unsetenv("TAPEFLOW_HOME");
}

static void
test_config_file_and_errors(void **state)
{
    (void) state;
    char *dir = tf_test_tempdir("tfcfg");
    char path[256];
    snprintf(path, sizeof path, "%s/tf.cfg", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "tapeflow\n    home = \"%s\"\nbroker\n    endpoint = tcp://127.0.0.1:5555\n"
               "actors\n    echo\n        instances = 3\n    scanner\n        instances = 1\n", dir);
    fclose(f);
    tf_err_t err = {0};
    tf_config_t *cfg = tf_config_open(path, &err);
    assert_non_null(cfg);
    assert_string_equal(tf_config_file(cfg), path);
    assert_string_equal(tf_config_get(cfg, "broker/endpoint"), "tcp://127.0.0.1:5555");
    assert_int_equal(tf_config_int(cfg, "actors/echo/instances"), 3);
    zlist_t *names = tf_config_children(cfg, "actors");
    assert_non_null(names);
    /* echo (in the defaults and the file) once, scanner from the file */
    int echo = 0, scanner = 0;
    for (const char *n = zlist_first(names); n; n = zlist_next(names)) {
        echo += strcmp(n, "echo") == 0;
        scanner += strcmp(n, "scanner") == 0;
    }
    assert_int_equal(echo, 1);
    assert_int_equal(scanner, 1);
    zlist_destroy(&names);
    /* The effective config saved and loaded again gives the same values. */
    char saved[256];
    snprintf(saved, sizeof saved, "%s/saved.cfg", dir);
    assert_int_equal(tf_config_save(cfg, saved, &err), TF_OK);
    tf_config_t *again = tf_config_open(saved, &err);
    assert_non_null(again);
    assert_string_equal(tf_config_get(again, "broker/endpoint"), "tcp://127.0.0.1:5555");
    assert_string_equal(tf_config_get(again, "broker/journal"), tf_config_get(cfg, "broker/journal"));
    tf_config_destroy(&again);
    tf_config_destroy(&cfg);

    snprintf(saved, sizeof saved, "%s/missing.cfg", dir);
    assert_null(tf_config_open(saved, &err));
    assert_int_equal(err.code, TF_ERR_NOTFOUND);
    assert_non_null(strstr(err.message, "missing.cfg"));

    f = fopen(path, "w");
    fprintf(f, "broker\n  endpoint = \"unterminated\n");
    fclose(f);
    assert_null(tf_config_open(path, &err));
    assert_int_equal(err.code, TF_ERR_INVALID);
    assert_non_null(strstr(err.message, "not valid ZPL"));
    tf_test_rmtree(dir);
    free(dir);
}

static void
test_json_escaping_and_nesting(void **state)
{
    (void) state;
    tf_json_t *j = tf_json_new();
    tf_json_object_begin(j, NULL);
    tf_json_str(j, "name", "a \"quoted\"\\ name\n\t\x01");
    tf_json_int(j, "n", -42);
    tf_json_bool(j, "ok", true);
    tf_json_str(j, "none", NULL);
    tf_json_array_begin(j, "rows");
    tf_json_object_begin(j, NULL);
    tf_json_int(j, "a", 1);
    tf_json_object_end(j);
    tf_json_object_begin(j, NULL);
    tf_json_int(j, "a", 2);
    tf_json_object_end(j);
    tf_json_array_end(j);
    tf_json_double(j, "ratio", 0.5);
    tf_json_object_end(j);
    assert_string_equal(tf_json_text(j),
                        "{\"name\":\"a \\\"quoted\\\"\\\\ name\\n\\t\\u0001\",\"n\":-42,\"ok\":true,"
                        "\"none\":null,\"rows\":[{\"a\":1},{\"a\":2}],\"ratio\":0.5}");
    tf_json_reset(j);
    tf_json_array_begin(j, NULL);
    tf_json_array_end(j);
    assert_string_equal(tf_json_text(j), "[]");
    tf_json_destroy(&j);
    assert_null(j);
}

/* Every --json document starts with "schema"; one per line after a reset (events --json). */
static void
test_json_document_schema(void **state)
{
    (void) state;
    tf_json_t *j = tf_json_new();
    for (int line = 1; line <= 2; line++) {
        tf_json_reset(j);
        tf_json_document_begin(j);
        tf_json_int(j, "seq", line);
        tf_json_object_end(j);
        char want[64];
        snprintf(want, sizeof want, "{\"schema\":%d,\"seq\":%d}", TF_JSON_SCHEMA, line);
        assert_string_equal(tf_json_text(j), want);
    }
    assert_int_equal(TF_JSON_SCHEMA, 1);
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    assert_non_null(out);
    assert_int_equal(tf_json_print(j, out), 0);
    fclose(out);
    assert_string_equal(text, "{\"schema\":1,\"seq\":2}\n");
    free(text);
    tf_json_destroy(&j);
}

static void
test_err_compose(void **state)
{
    (void) state;
    tf_err_t err = {0};
    assert_int_equal(tf_err_set(&err, TF_ERR_IO, "cannot read %s", "x"), TF_ERR_IO);
    tf_err_prefix(&err, "journal %d: ", 7);
    assert_string_equal(err.message, "journal 7: cannot read x");
    assert_int_equal(err.code, TF_ERR_IO);
    tf_err_errno(&err, TF_ERR_IO, 2, "open %s", "/nope");
    assert_string_equal(err.message, "open /nope: No such file or directory");
    /* A prefix longer than the room left truncates instead of overflowing. */
    char big[1000];
    memset(big, 'p', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    tf_err_prefix(&err, "%s", big);
    assert_int_equal(strlen(err.message), TF_ERR_MESSAGE_MAX - 1);
    assert_string_equal(tf_status_name(TF_ERR_TIMEOUT), "timeout");
    assert_int_equal(tf_err_set(NULL, TF_ERR_STATE, "ignored"), TF_ERR_STATE);
}

static void
test_fs_helpers(void **state)
{
    (void) state;
    char *dir = tf_test_tempdir("tffs");
    char path[256];
    snprintf(path, sizeof path, "%s/a/b/c", dir);
    tf_err_t err = {0};
    assert_int_equal(tf_fs_mkdir_p(path, &err), TF_OK);
    assert_int_equal(tf_fs_mkdir_p(path, &err), TF_OK);  /* again: fine */
    snprintf(path, sizeof path, "%s/a/b/c/file", dir);
    assert_int_equal(tf_fs_write_atomic(path, "hello", 5, &err), TF_OK);
    char *text = tf_test_read_file(path);
    assert_string_equal(text, "hello");
    free(text);
    /* A file where a folder should be is reported. */
    snprintf(path, sizeof path, "%s/a/b/c/file/sub", dir);
    assert_int_not_equal(tf_fs_mkdir_p(path, &err), TF_OK);
    assert_non_null(strstr(err.message, "file"));
    tf_test_rmtree(dir);
    free(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_defaults_follow_home),
        cmocka_unit_test(test_config_file_and_errors),
        cmocka_unit_test(test_json_escaping_and_nesting),
        cmocka_unit_test(test_json_document_schema),
        cmocka_unit_test(test_err_compose),
        cmocka_unit_test(test_fs_helpers),
    };
    return cmocka_run_group_tests_name("common", tests, NULL, NULL);
}
