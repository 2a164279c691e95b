/*  test_config_keys - every configuration key the programs read is a row of the key table
    (common/tf_config.c), so the table is the one source of defaults and of what
    `tapeflow config check` validates.

    Scans the C sources of the programs (common, proto, broker, drive, tape, actors, tools) for
      - the key argument of every key-taking getter (tf_config_int/size/ms/bool/str/get/set/
        override/source) when it is a string literal, and
      - every string literal shaped like a key ("section/key...") whose section is one of the
        table's (keys built with snprintf, or kept in arrays, are read through variables);
    a format in a key ("drives/%s/url") stands for a name. Each must be known to
    tf_config_lookup (patterned rows included). The table's own file is not scanned.
*/
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <ctype.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_config.h"
#include "tf_testproc.h"

#ifndef TF_SOURCE_DIR
#error "TF_SOURCE_DIR must name the source tree"
#endif

/* Functions whose second argument is a key. */
static const char *const s_getters[] = {"int", "size", "ms", "bool", "str", "get", "set", "override",
                                         "source", NULL};
/* Folders of the programs' sources. */
static const char *const s_dirs[] = {"common", "proto", "broker", "drive", "tape", "actors", "tools", NULL};

typedef struct {
    zlist_t *problems;  /* "FILE:LINE: KEY (how it is read)" */
    size_t keys;        /* keys checked */
} scan_t;

static int
s_line_of(const char *text, const char *at)
{
    int line = 1;
    for (const char *p = text; p < at; p++)
        line += *p == '\n';
    return line;
}

/* The literal starting at p (a '"'), escapes kept as written, into buf; returns the character
   after its closing quote. */
static const char *
s_literal(const char *p, char *buf, size_t size)
{
    size_t n = 0;
    for (p++; *p && *p != '"' && *p != '\n'; p++) {
        if (*p == '\\' && p[1]) {
            if (n + 1 < size)
                buf[n++] = *p;
            p++;
        }
        if (n + 1 < size)
            buf[n++] = *p;
    }
    buf[n] = '\0';
    return *p == '"' ? p + 1 : p;
}

/* A key with its printf conversions standing for a name ("%s" -> "x", "%d" -> "1"), or false
   when it is not key-shaped: lower-case section, then one or more "/segment". */
static bool
s_key_of(const char *literal, char *key, size_t size)
{
    size_t n = 0;
    int slashes = 0;
    if (!islower((unsigned char) literal[0]))
        return false;
    for (const char *p = literal; *p; p++) {
        if (n + 4 >= size)
            return false;
        if (*p == '%') {
            const char *q = p + 1;
            while (*q && strchr("0123456789.*-lhzj", *q))
                q++;
            if (*q == 's')
                key[n++] = 'x';
            else if (*q && strchr("diuxX", *q))
                key[n++] = '1';
            else
                return false;
            p = q;
            continue;
        }
        if (*p == '/')
            slashes++;
        else if (!isalnum((unsigned char) *p) && *p != '_' && *p != '-' && *p != '.')
            return false;
        key[n++] = *p;
    }
    key[n] = '\0';
    return slashes > 0 && key[n - 1] != '/';
}

static bool
s_is_section(const char *key)
{
    size_t len = strcspn(key, "/");
    for (size_t i = 0; tf_config_keys(i); i++) {
        const char *row = tf_config_keys(i)->key;
        if (strncmp(row, key, len) == 0 && row[len] == '/')
            return true;
    }
    return false;
}

static void
s_problem(scan_t *scan, const char *file, const char *text, const char *at, const char *key, const char *how)
{
    char *line = zsys_sprintf("%s:%d: %s (%s)", file, s_line_of(text, at), key, how);
    zlist_append(scan->problems, line);
    zstr_free(&line);
}

/* The getter call whose '(' is at p: its second argument when that is a literal. */
static const char *
s_getter_key(const char *p, char *buf, size_t size)
{
    int depth = 0;
    for (p++; *p; p++) {
        if (*p == '(')
            depth++;
        else if (*p == ')') {
            if (depth-- == 0)
                return NULL;
        }
        else if (*p == '"') {
            char skip[512];
            p = s_literal(p, skip, sizeof skip) - 1;
        }
        else if (*p == ',' && depth == 0)
            break;
    }
    if (*p != ',')
        return NULL;
    for (p++; isspace((unsigned char) *p); p++)
        ;
    if (*p != '"')
        return NULL;
    s_literal(p, buf, size);
    return buf;
}

/* Checks one source text; file names it in problems. */
static void
s_scan_text(scan_t *scan, const char *file, const char *text)
{
    for (const char *p = text; *p;) {
        if (p[0] == '/' && p[1] == '/') {
            p = strchrnul(p, '\n');
            continue;
        }
        if (p[0] == '/' && p[1] == '*') {
            const char *end = strstr(p + 2, "*/");
            p = end ? end + 2 : p + strlen(p);
            continue;
        }
        if (*p == '\'') {  /* '"' and '\'' are not strings */
            p++;
            if (*p == '\\')
                p++;
            if (*p)
                p++;
            if (*p == '\'')
                p++;
            continue;
        }
        char literal[512], key[512];
        if (*p == '"') {
            const char *start = p;
            p = s_literal(p, literal, sizeof literal);
            if (s_key_of(literal, key, sizeof key) && s_is_section(key)) {
                scan->keys++;
                if (!tf_config_lookup(key))
                    s_problem(scan, file, text, start, literal, "a key-shaped string");
            }
            continue;
        }
        if (strncmp(p, "tf_config_", 10) == 0 && (p == text || !(isalnum((unsigned char) p[-1]) || p[-1] == '_'))) {
            const char *name = p + 10;
            size_t len = strspn(name, "abcdefghijklmnopqrstuvwxyz_");
            const char *open = name + len;
            while (isspace((unsigned char) *open))
                open++;
            for (size_t g = 0; s_getters[g] && *open == '('; g++) {
                if (strlen(s_getters[g]) != len || strncmp(name, s_getters[g], len) != 0)
                    continue;
                if (s_getter_key(open, literal, sizeof literal)) {
                    scan->keys++;
                    if (!s_key_of(literal, key, sizeof key) || !tf_config_lookup(key)) {
                        char how[64];
                        snprintf(how, sizeof how, "read with tf_config_%s", s_getters[g]);
                        s_problem(scan, file, text, p, literal, how);
                    }
                }
            }
            p = open;
            continue;
        }
        p++;
    }
}

static scan_t *s_walking;  /* nftw takes no argument */

static int
s_visit(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    (void) ftw;
    size_t len = strlen(path);
    if (flag != FTW_F || len < 3 || (strcmp(path + len - 2, ".c") != 0 && strcmp(path + len - 2, ".h") != 0))
        return 0;
    if (strstr(path, "/common/tf_config.c"))
        return 0;  /* the table itself */
    char *text = tf_test_read_file(path);
    if (!text) {
        char *line = zsys_sprintf("%s: cannot read", path);
        zlist_append(s_walking->problems, line);
        zstr_free(&line);
        return 0;
    }
    s_scan_text(s_walking, path + strlen(TF_SOURCE_DIR) + 1, text);
    free(text);
    return 0;
}

static scan_t *
s_scan_new(void)
{
    scan_t *scan = calloc(1, sizeof *scan);
    assert_non_null(scan);
    scan->problems = zlist_new();
    zlist_autofree(scan->problems);
    return scan;
}

static void
s_scan_destroy(scan_t **scan_p)
{
    zlist_destroy(&(*scan_p)->problems);
    free(*scan_p);
    *scan_p = NULL;
}

static void
s_fail_with_problems(scan_t *scan, const char *what)
{
    if (zlist_size(scan->problems) == 0)
        return;
    fprintf(stderr, "%s not in the key table (common/tf_config.c s_keys; add a row there and in "
                    "docs/operations.md):\n", what);
    for (const char *line = zlist_first(scan->problems); line; line = zlist_next(scan->problems))
        fprintf(stderr, "  %s\n", line);
    fail_msg("%zu unknown key(s)", zlist_size(scan->problems));
}

static void
test_every_key_read_is_in_the_table(void **state)
{
    (void) state;
    scan_t *scan = s_scan_new();
    s_walking = scan;
    for (size_t i = 0; s_dirs[i]; i++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%s", TF_SOURCE_DIR, s_dirs[i]);
        if (nftw(dir, s_visit, 16, FTW_PHYS) != 0)
            fail_msg("cannot walk %s", dir);
    }
    s_walking = NULL;
    /* the scan found the programs' reads (a broken scanner would pass with none) */
    if (scan->keys < 100)
        fail_msg("only %zu keys found in the sources: is the scan broken?", scan->keys);
    s_fail_with_problems(scan, "keys read by the programs");
    s_scan_destroy(&scan);
}

/* The scan itself: reads it must catch and text it must leave alone. */
static void
test_scan_catches_unknown_keys(void **state)
{
    (void) state;
    static const char text[] =
        "int a = tf_config_int(cfg, \"tapewriter/block_size\");\n"              /* known */
        "int b = tf_config_ms(cfg, \"tapewriter/no_such_wait\");\n"             /* 2: unknown */
        "snprintf(k, sizeof k, \"drives/%s/url\", name);\n"                    /* patterned */
        "snprintf(k, sizeof k, \"drives/%s/colour\", name);\n"                 /* 4: unknown */
        "const char *c = tf_config_str(self->cfg, \"Not A Key\");\n"           /* 5: not a key */
        "bool d = tf_config_bool(cfg,\n    \"backup/nothing\");\n"              /* 6: unknown */
        "/* \"stager/commented_out\" */ // \"stager/also_commented\"\n"
        "printf(\"run/broker.sock '%c'\", '\"');\n"                            /* no section */
        "x = tf_config_get(cfg, \"compressor/levels\");\n"                  /* 10: unknown */
        "y = my_tf_config_int(cfg, \"elsewhere/thing\");\n";
    scan_t *scan = s_scan_new();
    s_scan_text(scan, "sample.c", text);
    const char *expect[] = {
        "sample.c:2: tapewriter/no_such_wait (a key-shaped string)",
        "sample.c:2: tapewriter/no_such_wait (read with tf_config_ms)",
        "sample.c:4: drives/%s/colour (a key-shaped string)",
        "sample.c:5: Not A Key (read with tf_config_str)",
        "sample.c:6: backup/nothing (read with tf_config_bool)",  /* where the call starts */
        "sample.c:7: backup/nothing (a key-shaped string)",
        "sample.c:10: compressor/levels (a key-shaped string)",
        "sample.c:10: compressor/levels (read with tf_config_get)",
    };
    size_t n = sizeof expect / sizeof expect[0];
    bool same = zlist_size(scan->problems) == n;
    for (size_t i = 0; same && i < n; i++) {
        bool found = false;
        for (const char *line = zlist_first(scan->problems); line; line = zlist_next(scan->problems))
            found = found || strcmp(line, expect[i]) == 0;
        same = found;
    }
    if (!same) {
        for (const char *line = zlist_first(scan->problems); line; line = zlist_next(scan->problems))
            fprintf(stderr, "  found: %s\n", line);
        fail_msg("the scan found %zu problems, expected %zu", zlist_size(scan->problems), n);
    }
    s_scan_destroy(&scan);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan_catches_unknown_keys),
        cmocka_unit_test(test_every_key_read_is_in_the_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
