/*  Restore, as an operator sees it (issue 8 items 1-3, 9, 10): the whole stack under `tapeflow up`
    on a simulated tape, driven by the `tapeflow` CLI.

    - nanosecond mtimes of files, folders and symlinks survive backup, catalog and restore;
    - hard links whose names lie in different folders, with many small groups, come back as one
      inode per link group;
    - a medium error inside one archive fails that archive only: the others are restored, the
      failing one is named, and the restore exits non-zero with one summary line;
    - --overwrite never|older|always, --strip-components and --flat, and an escape through a
      symlink that --strip-components makes possible is refused.

    The path helpers (restore_target, restore_path_safe) are tested directly too, and
    restore_run's take lists (issue 11: a chain's restore plan takes only some entries of an
    archive) on a tape written by hand, extracted here and streamed. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <sqlite3.h>

#include "catalog.h"
#include "restore.h"
#include "restore_overwrite.h"
#include "scan_grouper.h"
#include "tape_test_util.h"
#include "tapefile.h"
#include "tf_drive.h"
#include "tf_label.h"
#include "tf_client.h"
#include "tf_testproc.h"
#include "tf_teststack.h"
#include "tf_tree.h"

typedef struct {
    tf_teststack_t *stack;
    char *dir;
    tf_client_t *client;
} fx_t;

#define s_cli(fx, out, ...) tf_teststack_cli((fx)->stack, (out), __VA_ARGS__)

static int
s_setup_with(void **state, const char *const *config)
{
    fx_t *fx = calloc(1, sizeof *fx);
    tf_teststack_opts_t opts = {.config = config};
    fx->stack = tf_teststack_new("tfrst", &opts);
    assert_non_null(fx->stack);
    fx->dir = (char *) tf_teststack_dir(fx->stack);
    fx->client = tf_client_new(NULL, tf_teststack_broker(fx->stack), NULL);
    assert_non_null(fx->client);
    *state = fx;
    return 0;
}

static int
s_setup(void **state)
{
    return s_setup_with(state, NULL);
}

/* Groups of 100 KiB: a folder of the link tree (about 200 KiB) spans two or three groups. */
static int
s_setup_small_groups(void **state)
{
    static const char *const config[] = {"scanner/group_size=102400", NULL};
    return s_setup_with(state, config);
}

static int
s_teardown(void **state)
{
    fx_t *fx = *state;
    tf_client_destroy(&fx->client);
    int down = tf_teststack_finish(&fx->stack);
    free(fx);
    assert_int_equal(down, 0);
    return 0;
}

static void
s_backup_ok(fx_t *fx, const char *src, char *job, size_t size)
{
    char *json = NULL;
    int rc = tf_teststack_backup(fx->stack, src, "default", job, size, &json);
    if (rc != 0 || !strstr(json ? json : "", "\"status\":\"completed\""))
        fail_msg("backup of %s failed (%d): %s", src, rc, json ? json : "");
    free(json);
}

static void
s_write(const char *path, const char *text, time_t mtime)
{
    char dir[PATH_MAX];
    if ((size_t) snprintf(dir, sizeof dir, "%s", path) >= sizeof dir)
        fail_msg("path too long for the test: %s", path);
    for (char *p = dir + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(dir, 0755);
            *p = '/';
        }
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    if (mtime) {
        struct timespec ts[2] = {{.tv_sec = mtime}, {.tv_sec = mtime}};
        assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
    }
}

static void
s_expect_text(const char *path, const char *want)
{
    char *got = tf_test_read_file(path);
    if (!got || strcmp(got, want) != 0)
        fail_msg("%s holds '%s', expected '%s'", path, got ? got : "(missing)", want);
    free(got);
}

static bool
s_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* `tapeflow restore ARGS... 2>&1`: the exit status and everything it printed. */
static int
s_restore_text(fx_t *fx, char **out, const char *args)
{
    char exe[PATH_MAX], cmd[PATH_MAX * 4];
    snprintf(exe, sizeof exe, "%s/tapeflow", tf_test_bindir());
    snprintf(cmd, sizeof cmd, "'%s' restore %s 2>&1", exe, args);
    char *const argv[] = {"sh", "-c", cmd, NULL};
    return tf_test_run("/bin/sh", argv, tf_teststack_env(fx->stack), 240000, out);
}

/* --- path helpers -------------------------------------------------------------------------- */

static void
test_target_paths(void **state)
{
    (void) state;
    char out[256];
    assert_true(tf_extract_target("srv/data/a.txt", 0, false, false, out, sizeof out));
    assert_string_equal(out, "srv/data/a.txt");
    assert_true(tf_extract_target("srv/data/a.txt", 2, false, false, out, sizeof out));
    assert_string_equal(out, "a.txt");
    assert_false(tf_extract_target("srv/data", 2, false, true, out, sizeof out));  /* all stripped */
    assert_true(tf_extract_target("srv/data/x/", 2, false, true, out, sizeof out));
    assert_string_equal(out, "x/");
    assert_true(tf_extract_target("srv/data/a.txt", 0, true, false, out, sizeof out));
    assert_string_equal(out, "a.txt");
    assert_false(tf_extract_target("srv/data/", 0, true, true, out, sizeof out));  /* no folders */
    /* Stripping never makes a path safe or unsafe by itself: the check comes after. */
    assert_true(tf_extract_target("a/../../etc/passwd", 1, false, false, out, sizeof out));
    assert_string_equal(out, "../../etc/passwd");
    assert_false(tf_extract_path_safe(out));
    assert_false(tf_extract_path_safe("/etc/passwd"));
    assert_false(tf_extract_path_safe("a/.."));
    assert_false(tf_extract_path_safe(""));
    assert_true(tf_extract_path_safe("a/..b/c"));
    assert_true(tf_extract_path_safe("a.txt"));
    restore_overwrite_t mode;
    assert_true(restore_overwrite_parse(NULL, &mode));
    assert_int_equal(mode, RESTORE_OVERWRITE_NEVER);
    assert_true(restore_overwrite_parse("older", &mode));
    assert_int_equal(mode, RESTORE_OVERWRITE_OLDER);
    assert_false(restore_overwrite_parse("sometimes", &mode));
}

/* --- item 3: a catalog written before files.mtime_nsec existed ------------------------------- */

static void
test_catalog_gains_mtime_nsec(void **state)
{
    (void) state;
    char *dir = tf_test_tempdir("tfrcat");
    assert_non_null(dir);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/catalog.db", dir);
    /* The files table as catalogs had it, with a row. */
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TABLE files (id INTEGER PRIMARY KEY, archive_id TEXT NOT NULL,"
                                  " job_id TEXT NOT NULL, path TEXT NOT NULL, type TEXT NOT NULL,"
                                  " size INTEGER NOT NULL DEFAULT 0, mtime INTEGER NOT NULL DEFAULT 0,"
                                  " mode INTEGER NOT NULL DEFAULT 0, uid INTEGER NOT NULL DEFAULT 0,"
                                  " gid INTEGER NOT NULL DEFAULT 0, user TEXT, grp TEXT, checksum TEXT,"
                                  " offset INTEGER NOT NULL DEFAULT 0, link TEXT, UNIQUE (archive_id, path));"
                                  "INSERT INTO files(archive_id, job_id, path, type, mtime) "
                                  "VALUES('J1-g00001', 'J1', 'old', 'file', 1500000000);"
                                  "PRAGMA user_version=1;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);

    tf_err_t err = {0};
    catalog_t *cat = catalog_open(path, &err);
    if (!cat)
        fail_msg("catalog_open: %s", err.message);
    tf_msg_file_row_t rows[] = {{.path = "new", .type = "file", .mtime = 1600000000, .mtime_nsec = 123456789}};
    tf_msg_t m = {.type = TF_MSG_CAT_FILES};
    m.cat_files = (tf_msg_cat_files_t){.job_id = "J1", .archive_id = "J1-g00001", .part = 1, .files = rows,
                                       .files_count = 1};
    tf_msg_t reply = {0};
    if (catalog_apply(cat, &m, &reply, &err) != TF_OK)
        fail_msg("cat_files: %s", err.message);
    tf_msg_clear(&reply);
    m = (tf_msg_t){.type = TF_MSG_CAT_QUERY};
    m.cat_query = (tf_msg_cat_query_t){.query = "files", .job_id = "J1"};
    if (catalog_apply(cat, &m, &reply, &err) != TF_OK)
        fail_msg("files query: %s", err.message);
    assert_int_equal(reply.cat_reply.files_count, 2);
    assert_string_equal(reply.cat_reply.files[0].path, "new");
    assert_int_equal(reply.cat_reply.files[0].mtime_nsec, 123456789);
    assert_string_equal(reply.cat_reply.files[1].path, "old");
    assert_int_equal(reply.cat_reply.files[1].mtime, 1500000000);
    assert_int_equal(reply.cat_reply.files[1].mtime_nsec, 0);
    tf_msg_clear(&reply);
    catalog_destroy(&cat);
    tf_test_dir_done(&dir);
}

/* --- item 2: the grouper keeps link names together -------------------------------------------- */

typedef struct {
    char groups[16][512];   /* the paths of each group, space-separated */
    int ngroups;
    int warnings;
} s_grouped_t;

static int
s_group_emit(void *arg, uint64_t group_no, const tf_msg_group_entry_t *entries, size_t count, uint64_t bytes,
             tf_err_t *err)
{
    (void) bytes;
    (void) err;
    s_grouped_t *g = arg;
    assert_int_equal((int) group_no, g->ngroups + 1);
    assert_true(g->ngroups < 16);
    char *out = g->groups[g->ngroups++];
    for (size_t i = 0; i < count; i++)
        snprintf(out + strlen(out), 512 - strlen(out), "%s%s", i ? " " : "", entries[i].path);
    return TF_OK;
}

static void
s_group_warn(void *arg, const char *path, const char *message)
{
    (void) path;
    s_grouped_t *g = arg;
    assert_non_null(strstr(message, "stored and restored as a separate copy"));
    g->warnings++;
}

static void
test_grouper_keeps_link_names_together(void **state)
{
    (void) state;
    s_grouped_t g = {0};
    tf_err_t err = {0};
    /* Groups of 100 bytes: L (2 names) fills group 1 and is waited for while the walk goes on
       into group 2; its second name joins group 1. */
    scan_grouper_t *sg = scan_grouper_new(100, 0, 0, s_group_emit, &g);
    assert_non_null(sg);
    scan_grouper_set_warn(sg, s_group_warn, &g);
    assert_int_equal(scan_grouper_add(sg, "a", 50, &err), TF_OK);
    assert_int_equal(scan_grouper_add_linked(sg, "L", 60, 1, 7, 2, &err), TF_OK);
    assert_int_equal(g.ngroups, 0);  /* full, but waiting for L's other name */
    assert_int_equal(scan_grouper_add(sg, "b", 60, &err), TF_OK);
    assert_int_equal(scan_grouper_add_linked(sg, "c/L2", 60, 1, 7, 2, &err), TF_OK);
    assert_int_equal(g.ngroups, 1);
    assert_string_equal(g.groups[0], "a L c/L2");
    /* M waits too (its group is filled by f0), but its other name comes after the next group
       gathered 4 x 100 bytes: the waiting group is given up, M2 is split, and said so. */
    assert_int_equal(scan_grouper_add_linked(sg, "M", 10, 1, 8, 2, &err), TF_OK);
    for (int i = 0; i < 6; i++) {
        char name[8];
        snprintf(name, sizeof name, "f%d", i);
        assert_int_equal(scan_grouper_add(sg, name, 90, &err), TF_OK);
    }
    assert_int_equal(g.warnings, 0);
    assert_int_equal(scan_grouper_add_linked(sg, "M2", 10, 1, 8, 2, &err), TF_OK);
    assert_int_equal(g.warnings, 1);
    assert_int_equal(scan_grouper_flush(sg, &err), TF_OK);
    assert_int_equal(g.ngroups, 4);
    assert_string_equal(g.groups[1], "b M f0");
    assert_string_equal(g.groups[2], "f1 f2 f3 f4 f5");
    assert_string_equal(g.groups[3], "M2");
    assert_int_equal((int) scan_grouper_entries(sg), 12);
    scan_grouper_destroy(&sg);
    assert_null(sg);
}

/* --- item 3: nanoseconds --------------------------------------------------------------------- */

/* Whether two files hold the same bytes (binary safe: sizes first, then every byte). */
static bool
s_same_content(const char *a, const char *b)
{
    struct stat sa, sb;
    if (stat(a, &sa) != 0 || stat(b, &sb) != 0 || sa.st_size != sb.st_size)
        return false;
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    bool same = fa && fb;
    char ba[65536], bb[65536];
    while (same) {
        size_t na = fread(ba, 1, sizeof ba, fa), nb = fread(bb, 1, sizeof bb, fb);
        if (na != nb || memcmp(ba, bb, na) != 0)
            same = false;
        if (na < sizeof ba)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return same;
}

static void
test_nanosecond_times_kept(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(tf_teststack_label(fx->stack, "tape0", "TF0001", "default"), 0);
    char src[PATH_MAX], why[1024];
    snprintf(src, sizeof src, "%s/src", fx->dir);
    tf_tree_spec_t spec = {.files = 150, .bytes = 600000, .seed = 7, .special = true, .nsec_times = true};
    if (tf_tree_generate(src, &spec, NULL, why, sizeof why) != 0)
        fail_msg("tree: %s", why);
    char job[128];
    s_backup_ok(fx, src, job, sizeof job);

    /* The catalog rows carry the nanoseconds. */
    tf_msg_t q = {.type = TF_MSG_CAT_QUERY};
    q.cat_query = (tf_msg_cat_query_t){.query = "files", .job_id = job, .limit = 100000};
    tf_msg_t reply;
    tf_err_t err = {0};
    if (tf_client_call(fx->client, "catalog", NULL, job, &q, &reply, 30000, &err) != TF_OK)
        fail_msg("files query: %s", err.message);
    assert_true(reply.cat_reply.files_count > 150);
    for (size_t i = 0; i < reply.cat_reply.files_count; i++) {
        const tf_msg_file_row_t *f = &reply.cat_reply.files[i];
        char path[PATH_MAX + 8];
        snprintf(path, sizeof path, "/%s", f->path);
        struct stat st;
        assert_int_equal(lstat(path, &st), 0);
        if ((int64_t) st.st_mtim.tv_sec != f->mtime || (uint64_t) st.st_mtim.tv_nsec != f->mtime_nsec)
            fail_msg("catalog row %s: mtime %lld.%09llu, the file has %lld.%09ld", f->path, (long long) f->mtime,
                     (unsigned long long) f->mtime_nsec, (long long) st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    }

    char dest[PATH_MAX], *out = NULL;
    snprintf(dest, sizeof dest, "%s/restored", fx->dir);
    int rc = s_cli(fx, &out, "restore", job, "--to", dest, "--json", NULL);
    if (rc != 0)
        fail_msg("restore failed (%d): %s", rc, out ? out : "");
    free(out);
    /* atime is set to the mtime (docs/operations.md), files included; checked before anything
       reads the files (relatime would move it). */
    size_t files_seen = 0;
    for (size_t i = 0; i < reply.cat_reply.files_count; i++) {
        const tf_msg_file_row_t *f = &reply.cat_reply.files[i];
        if (strcmp(f->type, "file") != 0)
            continue;
        char back[PATH_MAX * 2];
        snprintf(back, sizeof back, "%s/%s", dest, f->path);
        struct stat st;
        if (lstat(back, &st) != 0)
            continue;   /* not every row is a plain name (hard links, specials) */
        if (st.st_atim.tv_sec != st.st_mtim.tv_sec || st.st_atim.tv_nsec != st.st_mtim.tv_nsec)
            fail_msg("%s: atime %lld.%09ld, mtime %lld.%09ld (atime must be set to the mtime)", back,
                     (long long) st.st_atim.tv_sec, st.st_atim.tv_nsec, (long long) st.st_mtim.tv_sec,
                     st.st_mtim.tv_nsec);
        files_seen++;
    }
    assert_true(files_seen > 0);
    tf_msg_clear(&reply);
    char restored[PATH_MAX * 2];
    snprintf(restored, sizeof restored, "%s%s", dest, src);
    if (tf_tree_compare_strict(src, restored, true, why, sizeof why) != 0)
        fail_msg("restored tree differs: %s", why);
}

/* --- item 2: hard links across groups ------------------------------------------------------ */

static void
test_hard_links_across_groups(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(tf_teststack_label(fx->stack, "tape0", "TF0001", "default"), 0);
    char src[PATH_MAX], why[1024];
    snprintf(src, sizeof src, "%s/src", fx->dir);
    tf_tree_spec_t spec = {.files = 600, .bytes = 1200000, .seed = 11, .special = true, .link_groups = 30};
    tf_tree_stats_t stats;
    if (tf_tree_generate(src, &spec, &stats, why, sizeof why) != 0)
        fail_msg("tree: %s", why);
    assert_true(stats.hardlinks >= 40);
    char job[128], *out = NULL;
    s_backup_ok(fx, src, job, sizeof job);
    assert_int_equal(s_cli(fx, &out, "job", job, "--json", NULL), 0);
    long long groups = tf_test_json_int(out, "groups_total");
    if (groups < 8)
        fail_msg("only %lld groups: the test needs many (%s)", groups, out);
    if (tf_test_json_int(out, "warnings") != 0)  /* a link group was split */
        fail_msg("the backup has warnings: %s", out);
    free(out);

    char dest[PATH_MAX];
    snprintf(dest, sizeof dest, "%s/restored", fx->dir);
    int rc = s_cli(fx, &out, "restore", job, "--to", dest, "--json", NULL);
    if (rc != 0)
        fail_msg("restore failed (%d): %s", rc, out ? out : "");
    free(out);
    char restored[PATH_MAX * 2];
    snprintf(restored, sizeof restored, "%s%s", dest, src);
    /* Compares the link structure: every name of an inode maps to one restored inode. */
    if (tf_tree_compare(src, restored, true, why, sizeof why) != 0)
        fail_msg("restored tree differs: %s", why);
    /* And explicitly: the names of link group 0 (folders 0 and 1) are one inode. */
    char a[PATH_MAX * 3], b[PATH_MAX * 3];
    snprintf(a, sizeof a, "%s/d000/s000/hl0000-a", restored);
    snprintf(b, sizeof b, "%s/d000/s001/hl0000-b", restored);
    struct stat sa, sb;
    assert_int_equal(lstat(a, &sa), 0);
    assert_int_equal(lstat(b, &sb), 0);
    assert_true(sa.st_ino == sb.st_ino);
}

/* --- item 9 (and 1): a damaged archive ---------------------------------------------------- */

/* Restarts the stack with the sim drive reading a medium error at logical object `at`. */
static void
s_restart_with_medium_error(fx_t *fx, uint64_t at)
{
    char *out = NULL;
    assert_int_equal(s_cli(fx, &out, "down", NULL), 0);
    free(out);
    zconfig_t *root = zconfig_load(tf_teststack_config(fx->stack));
    assert_non_null(root);
    char url[PATH_MAX * 2];
    snprintf(url, sizeof url, "%s&medium_error=%llu", zconfig_get(root, "drives/tape0/url", ""),
             (unsigned long long) at);
    zconfig_put(root, "drives/tape0/url", url);
    assert_int_equal(zconfig_save(root, tf_teststack_config(fx->stack)), 0);
    zconfig_destroy(&root);
    int rc = s_cli(fx, &out, "up", "--detach", NULL);
    if (rc != 0)
        fail_msg("up again failed (%d): %s", rc, out ? out : "");
    free(out);
    tf_client_destroy(&fx->client);
    fx->client = tf_client_new(NULL, tf_teststack_broker(fx->stack), NULL);
    assert_non_null(fx->client);
}

static void
test_damaged_archive_others_restored(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(tf_teststack_label(fx->stack, "tape0", "TF0001", "default"), 0);
    char src[PATH_MAX], why[1024];
    snprintf(src, sizeof src, "%s/src", fx->dir);
    tf_tree_spec_t spec = {.files = 300, .bytes = 8 << 20, .seed = 5};
    if (tf_tree_generate(src, &spec, NULL, why, sizeof why) != 0)
        fail_msg("tree: %s", why);
    char job[128];
    s_backup_ok(fx, src, job, sizeof job);

    /* The archive in the middle of the tape gets a medium error in its first data block. */
    tf_msg_t q = {.type = TF_MSG_CAT_QUERY};
    q.cat_query = (tf_msg_cat_query_t){.query = "archives", .job_id = job};
    tf_msg_t reply;
    tf_err_t err = {0};
    if (tf_client_call(fx->client, "catalog", NULL, job, &q, &reply, 30000, &err) != TF_OK)
        fail_msg("archives query: %s", err.message);
    size_t n = reply.cat_reply.archives_count;
    assert_true(n >= 3);
    const tf_msg_archive_row_t *bad = NULL;
    for (size_t i = 0; i < n; i++)
        if (reply.cat_reply.archives[i].tape_file == 2)
            bad = &reply.cat_reply.archives[i];
    assert_non_null(bad);
    char bad_id[128];
    snprintf(bad_id, sizeof bad_id, "%s", bad->archive_id);
    /* A few blocks in, so some of its entries come back before the error: those must be
       whole, and the one being written when it hit must not stay half-written. */
    uint64_t at = bad->block + 3;
    if (bad->blocks <= 4)
        fail_msg("archive %s has only %llu blocks", bad->archive_id, (unsigned long long) bad->blocks);
    tf_msg_clear(&reply);

    /* Which files live in the bad archive. */
    q.cat_query = (tf_msg_cat_query_t){.query = "archive_files", .job_id = job, .pattern = bad_id};
    if (tf_client_call(fx->client, "catalog", NULL, job, &q, &reply, 30000, &err) != TF_OK)
        fail_msg("archive_files query: %s", err.message);
    zhashx_t *in_bad = zhashx_new();
    for (size_t i = 0; i < reply.cat_reply.files_count; i++)
        zhashx_insert(in_bad, reply.cat_reply.files[i].path, (void *) 1);
    assert_true(zhashx_size(in_bad) > 0);
    tf_msg_clear(&reply);

    s_restart_with_medium_error(fx, at);

    char dest[PATH_MAX], *out = NULL;
    snprintf(dest, sizeof dest, "%s/restored", fx->dir);
    int rc = s_cli(fx, &out, "restore", job, "--to", dest, "--json", NULL);
    assert_int_equal(rc, 1);
    assert_non_null(out);
    char got[128];
    assert_non_null(tf_test_json_str(out, "archive_id", got, sizeof got));
    assert_string_equal(got, bad_id);
    assert_int_equal(tf_test_json_int(out, "archives_failed"), 1);
    assert_int_equal(tf_test_json_int(out, "archives_read"), (long long) n - 1);
    assert_non_null(strstr(out, "\"complete\":false"));
    assert_non_null(strstr(out, "\"summary\":\"restore incomplete: "));
    free(out);

    /* Every file of the other archives is back, identical. */
    q.cat_query = (tf_msg_cat_query_t){.query = "files", .job_id = job, .limit = 100000};
    if (tf_client_call(fx->client, "catalog", NULL, job, &q, &reply, 30000, &err) != TF_OK)
        fail_msg("files query: %s", err.message);
    size_t checked = 0;
    for (size_t i = 0; i < reply.cat_reply.files_count; i++) {
        const tf_msg_file_row_t *f = &reply.cat_reply.files[i];
        if (strcmp(f->type, "file") != 0 || zhashx_lookup(in_bad, f->path))
            continue;
        char orig[PATH_MAX + 8], back[PATH_MAX * 2];
        snprintf(orig, sizeof orig, "/%s", f->path);
        snprintf(back, sizeof back, "%s/%s", dest, f->path);
        if (!s_same_content(orig, back))
            fail_msg("%s was not restored intact", back);
        checked++;
    }
    assert_true(checked > 0);
    /* Of the damaged archive, what is there is whole. */
    size_t whole = 0;
    for (size_t i = 0; i < reply.cat_reply.files_count; i++) {
        const tf_msg_file_row_t *f = &reply.cat_reply.files[i];
        if (strcmp(f->type, "file") != 0 || !zhashx_lookup(in_bad, f->path))
            continue;
        char orig[PATH_MAX + 8], back[PATH_MAX * 2];
        snprintf(orig, sizeof orig, "/%s", f->path);
        snprintf(back, sizeof back, "%s/%s", dest, f->path);
        if (!s_exists(back))
            continue;
        if (!s_same_content(orig, back))
            fail_msg("%s of the damaged archive was left incomplete", back);
        whole++;
    }
    print_message("%zu whole files of the damaged archive restored before the error\n", whole);
    assert_true(whole > 0);
    tf_msg_clear(&reply);
    zhashx_destroy(&in_bad);

    /* In text: the archive named, one summary line, exit 1. */
    char args[PATH_MAX * 2];
    snprintf(args, sizeof args, "%s --to '%s/again'", job, fx->dir);
    rc = s_restore_text(fx, &out, args);
    assert_int_equal(rc, 1);
    char line[256];
    snprintf(line, sizeof line, "archive %s failed: ", bad_id);
    if (!strstr(out, line) || !strstr(out, "restore incomplete: ") || !strstr(out, "1 archive failed ("))
        fail_msg("restore output lacks the failure report:\n%s", out);
    print_message("%s", out);  /* what an operator sees */
    free(out);
}

/* --- item 10: overwrite, strip, flat --------------------------------------------------------- */

static void
test_overwrite_modes(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(tf_teststack_label(fx->stack, "tape0", "TF0001", "default"), 0);
    char src[PATH_MAX], p[PATH_MAX * 2];
    snprintf(src, sizeof src, "%s/src", fx->dir);
    snprintf(p, sizeof p, "%s/a/old.txt", src);
    s_write(p, "stored old\n", 1500000000);
    snprintf(p, sizeof p, "%s/a/new.txt", src);
    s_write(p, "stored new\n", 1500000000);
    snprintf(p, sizeof p, "%s/b/other.txt", src);
    s_write(p, "stored other\n", 1500000000);
    char job[128];
    s_backup_ok(fx, src, job, sizeof job);

    /* A target where old.txt is older than the stored one and new.txt newer. */
    char dest[PATH_MAX], old_local[PATH_MAX * 3], new_local[PATH_MAX * 3], other[PATH_MAX * 3];
    snprintf(dest, sizeof dest, "%s/target", fx->dir);
    snprintf(old_local, sizeof old_local, "%s%s/a/old.txt", dest, src);
    snprintf(new_local, sizeof new_local, "%s%s/a/new.txt", dest, src);
    snprintf(other, sizeof other, "%s%s/b/other.txt", dest, src);
    s_write(old_local, "local old\n", 1400000000);
    s_write(new_local, "local new\n", 1600000000);

    /* Default never: both kept and reported, the rest restored, exit 1. */
    char *out = NULL;
    int rc = s_cli(fx, &out, "restore", job, "--to", dest, "--json", NULL);
    assert_int_equal(rc, 1);
    assert_int_equal(tf_test_json_int(out, "kept"), 2);
    assert_non_null(strstr(out, "2 existing files kept"));
    free(out);
    s_expect_text(old_local, "local old\n");
    s_expect_text(new_local, "local new\n");
    s_expect_text(other, "stored other\n");

    /* older: the older local file is replaced, the newer one kept. */
    unlink(other);
    rc = s_cli(fx, &out, "restore", job, "--to", dest, "--overwrite", "older", "--json", NULL);
    assert_int_equal(rc, 1);
    assert_int_equal(tf_test_json_int(out, "kept"), 1);
    free(out);
    s_expect_text(old_local, "stored old\n");
    s_expect_text(new_local, "local new\n");

    /* always: everything replaced, exit 0. */
    rc = s_cli(fx, &out, "restore", job, "--to", dest, "--overwrite", "always", "--json", NULL);
    if (rc != 0)
        fail_msg("restore --overwrite always failed (%d): %s", rc, out ? out : "");
    assert_int_equal(tf_test_json_int(out, "kept"), 0);
    assert_non_null(strstr(out, "\"complete\":true"));
    free(out);
    s_expect_text(new_local, "stored new\n");

    /* A bad value is a usage error. */
    assert_int_equal(s_cli(fx, &out, "restore", job, "--to", dest, "--overwrite", "sometimes", NULL), 2);
    free(out);
}

static int
s_components(const char *path)
{
    int n = 0;
    for (const char *p = path; *p; p++)
        if (*p == '/' && p[1] && p[1] != '/')
            n++;
    return n;
}

static void
test_strip_and_flat(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(tf_teststack_label(fx->stack, "tape0", "TF0001", "default"), 0);
    char src[PATH_MAX], p[PATH_MAX * 2];
    snprintf(src, sizeof src, "%s/src", fx->dir);
    snprintf(p, sizeof p, "%s/a/x.txt", src);
    s_write(p, "a x\n", 0);
    snprintf(p, sizeof p, "%s/b/x.txt", src);
    s_write(p, "b x\n", 0);
    snprintf(p, sizeof p, "%s/b/deep/y.txt", src);
    s_write(p, "b y\n", 0);
    char linked[PATH_MAX * 2];  /* b/zz.txt is b/x.txt: with --flat that name holds a/x.txt */
    snprintf(p, sizeof p, "%s/b/x.txt", src);
    snprintf(linked, sizeof linked, "%s/b/zz.txt", src);
    assert_int_equal(link(p, linked), 0);
    char job[128];
    s_backup_ok(fx, src, job, sizeof job);

    /* --strip-components: the stored path minus src's components lands straight in the target. */
    char strip[16], dest[PATH_MAX], *out = NULL;
    snprintf(strip, sizeof strip, "%d", s_components(src));
    snprintf(dest, sizeof dest, "%s/stripped", fx->dir);
    int rc = s_cli(fx, &out, "restore", job, "--to", dest, "--strip-components", strip, "--json", NULL);
    if (rc != 0)
        fail_msg("restore --strip-components %s failed (%d): %s", strip, rc, out ? out : "");
    free(out);
    snprintf(p, sizeof p, "%s/a/x.txt", dest);
    s_expect_text(p, "a x\n");
    snprintf(p, sizeof p, "%s/b/deep/y.txt", dest);
    s_expect_text(p, "b y\n");
    snprintf(p, sizeof p, "%s/%s", dest, src + 1);
    assert_false(s_exists(p));
    struct stat sx, sz;
    snprintf(p, sizeof p, "%s/b/x.txt", dest);
    assert_int_equal(lstat(p, &sx), 0);
    snprintf(p, sizeof p, "%s/b/zz.txt", dest);
    assert_int_equal(lstat(p, &sz), 0);
    assert_true(sx.st_ino == sz.st_ino);

    /* --flat: every file in the target; the second x.txt is a collision, not an overwrite. */
    snprintf(dest, sizeof dest, "%s/flat", fx->dir);
    rc = s_cli(fx, &out, "restore", job, "--to", dest, "--flat", "--json", NULL);
    assert_int_equal(rc, 1);
    assert_int_equal(tf_test_json_int(out, "collisions"), 1);
    assert_int_equal(tf_test_json_int(out, "files"), 2);
    free(out);
    snprintf(p, sizeof p, "%s/x.txt", dest);
    s_expect_text(p, "a x\n");
    snprintf(p, sizeof p, "%s/y.txt", dest);
    s_expect_text(p, "b y\n");
    snprintf(p, sizeof p, "%s/a", dest);
    assert_false(s_exists(p));
    /* zz.txt is a link to b/x.txt, which was not restored: never a link to a/x.txt. */
    snprintf(p, sizeof p, "%s/zz.txt", dest);
    assert_false(s_exists(p));

    /* The same again into the same folder, after the two files changed locally (another
       mtime: not "already present"): nothing restored, everything kept: exit 1. */
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/%s", dest, i ? "y.txt" : "x.txt");
        struct timespec ts[2] = {{.tv_sec = 1400000000}, {.tv_sec = 1400000000}};
        assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
    }
    char args[PATH_MAX * 2];
    snprintf(args, sizeof args, "%s --to '%s' --flat", job, dest);
    rc = s_restore_text(fx, &out, args);
    assert_int_equal(rc, 1);
    if (!strstr(out, "restore incomplete: nothing restored, 2 existing files kept"))
        fail_msg("unexpected output:\n%s", out);
    free(out);

    /* --flat with --strip-components is refused. */
    assert_int_equal(s_cli(fx, &out, "restore", job, "--to", dest, "--flat", "--strip-components", "1", NULL), 2);
    free(out);
}

/* d1/esc is a symlink to a folder outside the target; d2/esc/file, stripped of d1/d2, would be
   written through it. */
static void
test_strip_cannot_escape_through_symlink(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(tf_teststack_label(fx->stack, "tape0", "TF0001", "default"), 0);
    char src[PATH_MAX], outside[PATH_MAX], p[PATH_MAX * 2];
    snprintf(src, sizeof src, "%s/src", fx->dir);
    snprintf(outside, sizeof outside, "%s/outside", fx->dir);
    assert_int_equal(mkdir(outside, 0755), 0);
    snprintf(p, sizeof p, "%s/d2/esc/file", src);
    s_write(p, "escaped\n", 0);
    snprintf(p, sizeof p, "%s/d1", src);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/d1/esc", src);
    assert_int_equal(symlink(outside, p), 0);
    char job[128];
    s_backup_ok(fx, src, job, sizeof job);
    /* A file outside with the name the entry would reach through the symlink (review R7):
       it must be neither checked (reported "kept") nor touched. */
    char outside_file[PATH_MAX + 8];
    snprintf(outside_file, sizeof outside_file, "%s/file", outside);
    s_write(outside_file, "outside\n", 0);

    char strip[16], dest[PATH_MAX], *out = NULL;
    snprintf(strip, sizeof strip, "%d", s_components(src) + 1);
    snprintf(dest, sizeof dest, "%s/target", fx->dir);
    for (int pass = 0; pass < 2; pass++) {
        /* never keeps the symlink, and then file would go through it; always replaces the
           symlink by the folder d2/esc, so the file lands inside the target. */
        const char *mode = pass == 0 ? "never" : "always";
        int rc = s_cli(fx, &out, "restore", job, "--to", dest, "--strip-components", strip, "--overwrite", mode,
                       "--json", NULL);
        if (pass == 0) {
            assert_int_equal(rc, 1);
            assert_true(tf_test_json_int(out, "refused") >= 1);
            if (strstr(out, "kept the existing esc/file"))
                fail_msg("the overwrite check looked through the symlink esc:\n%s", out);
        }
        free(out);
        char *text = tf_test_read_file(outside_file);
        if (!text || strcmp(text, "outside\n") != 0)
            fail_msg("the restore wrote %s, outside its target %s", outside_file, dest);
        free(text);
    }
    snprintf(p, sizeof p, "%s/esc/file", dest);
    s_expect_text(p, "escaped\n");
}

/* --- item 1: refused entries through the CLI ------------------------------------------------ */

/* A tar archive (pax, no filter) in memory of regular files named names[], each holding text. */
static uint8_t *
s_tar_of(const char *const *names, size_t count, const char *text, size_t *size)
{
    struct archive *out = archive_write_new();
    assert_non_null(out);
    archive_write_set_format_pax_restricted(out);
    archive_write_add_filter_none(out);
    size_t cap = 1 << 20, used = 0;
    uint8_t *buf = malloc(cap);
    assert_non_null(buf);
    assert_int_equal(archive_write_open_memory(out, buf, cap, &used), ARCHIVE_OK);
    for (size_t i = 0; i < count; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, names[i]);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, (la_int64_t) strlen(text));
        archive_entry_set_mtime(e, 1600000000, 0);
        assert_int_equal(archive_write_header(out, e), ARCHIVE_OK);
        assert_int_equal(archive_write_data(out, text, strlen(text)), (la_ssize_t) strlen(text));
        archive_entry_free(e);
    }
    assert_int_equal(archive_write_close(out), ARCHIVE_OK);
    archive_write_free(out);
    *size = used;
    return buf;
}

/* A hostile archive: "../evil.txt", an absolute name under `outside`, and "good.txt". */
static uint8_t *
s_hostile_archive(const char *outside, size_t *size)
{
    char abs[PATH_MAX + 16];
    snprintf(abs, sizeof abs, "%s/abs.txt", outside);
    const char *names[] = {"../evil.txt", abs, "good.txt"};
    return s_tar_of(names, 3, "evil", size);
}

/* Writes a sim tape by hand: label TF0001 (pool default), then tape file 1 holding payload as
   archive ARCHIVE of job JOB (one group of `files` files). */
static void
s_write_tape(const char *url, const char *job, const char *archive, const uint8_t *payload, size_t size,
             uint64_t files)
{
    tf_err_t err = {0};
    tf_drive_t *d = tf_drive_open(url, &err);
    if (!d)
        fail_msg("open %s: %s", url, err.message);
    assert_int_equal(tf_drive_wait_ready(d, 5000, &err), TF_OK);
    tf_label_t label;
    assert_int_equal(tf_label_init(&label, "TF0001", "default", "sim", &err), TF_OK);
    assert_int_equal(tf_label_write(d, &label, &err), TF_OK);
    tapefile_header_t h;
    memset(&h, 0, sizeof h);
    snprintf(h.archive_id, sizeof h.archive_id, "%s", archive);
    snprintf(h.job_id, sizeof h.job_id, "%s", job);
    h.group_no = 1;
    snprintf(h.pool, sizeof h.pool, "default");
    snprintf(h.compression, sizeof h.compression, "none");
    h.size = size;
    tt_checksum(payload, size, h.checksum);
    h.block_size = 65536;
    h.files = files;
    h.bytes = files * 4;
    snprintf(h.volume, sizeof h.volume, "TF0001");
    h.job_scanned = true;
    h.job_files = files;
    h.job_bytes = files * 4;
    h.job_groups = 1;
    tapefile_writer_t *w = tapefile_writer_new(d, &h, &err);
    if (!w)
        fail_msg("tape file: %s", err.message);
    assert_int_equal(tapefile_writer_write(w, payload, size, &err), TF_OK);
    tapefile_stats_t st;
    assert_int_equal(tapefile_writer_finish(w, &st, &err), TF_OK);
    tapefile_writer_destroy(&w);
    tf_drive_destroy(&d);
}

/* The tape is written by hand (label, one tape file holding the hostile archive), `tapeflow
   tape scan` puts it in the catalog, and `tapeflow restore` refuses the unsafe names. */
static void
test_hostile_archive_refused(void **state)
{
    fx_t *fx = *state;
    char outside[PATH_MAX], url[PATH_MAX * 2];
    snprintf(outside, sizeof outside, "%s/outside", fx->dir);
    assert_int_equal(mkdir(outside, 0755), 0);
    snprintf(url, sizeof url, "sim:%s/tape0.img?capacity=1G", fx->dir);
    size_t size = 0;
    uint8_t *payload = s_hostile_archive(outside, &size);
    s_write_tape(url, "JEVIL", "JEVIL-g00001", payload, size, 3);
    free(payload);

    char *out = NULL;
    int rc = s_cli(fx, &out, "tape", "scan", "tape0", NULL);
    if (rc != 0)
        fail_msg("tape scan failed (%d): %s", rc, out ? out : "");
    free(out);

    char dest[PATH_MAX];
    snprintf(dest, sizeof dest, "%s/target/inner", fx->dir);
    rc = s_cli(fx, &out, "restore", "JEVIL", "--to", dest, "--json", NULL);
    assert_int_equal(rc, 1);
    assert_int_equal(tf_test_json_int(out, "refused"), 2);
    assert_int_equal(tf_test_json_int(out, "files"), 1);
    assert_non_null(strstr(out, "\"summary\":\"restore incomplete: 1 file restored, 2 refused (unsafe paths)"));
    free(out);
    char p[PATH_MAX * 2];
    snprintf(p, sizeof p, "%s/good.txt", dest);
    s_expect_text(p, "evil");
    snprintf(p, sizeof p, "%s/target/evil.txt", fx->dir);
    assert_false(s_exists(p));
    snprintf(p, sizeof p, "%s/abs.txt", outside);
    assert_false(s_exists(p));
    /* Stripped of their first component, as tar does, the names land inside the target:
       "../evil.txt" becomes "evil.txt"; nothing is ever written outside it. */
    snprintf(dest, sizeof dest, "%s/target2", fx->dir);
    rc = s_cli(fx, &out, "restore", "JEVIL", "--to", dest, "--strip-components", "1", "--json", NULL);
    free(out);
    snprintf(p, sizeof p, "%s/evil.txt", dest);
    s_expect_text(p, "evil");
    snprintf(p, sizeof p, "%s/evil.txt", fx->dir);
    assert_false(s_exists(p));
    snprintf(p, sizeof p, "%s/abs.txt", outside);
    assert_false(s_exists(p));
}

/* --- issue 11: take lists ------------------------------------------------------------------ */

/* Stream mode: the entries of the restore stream, names joined by ' ' in order, into buf. */
typedef struct {
    uint8_t *data;
    size_t size, cap;
} s_membuf_t;

static int
s_mem_write(void *arg, const void *data, size_t len, tf_err_t *err)
{
    s_membuf_t *m = arg;
    if (m->size + len > m->cap) {
        size_t cap = (m->size + len) * 2;
        uint8_t *more = realloc(m->data, cap);
        if (!more)
            return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        m->data = more;
        m->cap = cap;
    }
    memcpy(m->data + m->size, data, len);
    m->size += len;
    return TF_OK;
}

static void
s_stream_names(const s_membuf_t *m, char *buf, size_t size)
{
    struct archive *in = archive_read_new();
    archive_read_support_filter_all(in);
    archive_read_support_format_tar(in);
    assert_int_equal(archive_read_open_memory(in, m->data, m->size), ARCHIVE_OK);
    buf[0] = '\0';
    struct archive_entry *e;
    while (archive_read_next_header(in, &e) == ARCHIVE_OK) {
        size_t used = strlen(buf);
        snprintf(buf + used, size - used, "%s%s", used ? " " : "", archive_entry_pathname(e));
    }
    archive_read_free(in);
}

/* A restore plan of a chain takes only some entries of an archive (archive_row.take_some):
   only those are extracted here, and only those are streamed to another host's extractor. A
   pattern whose only match is not taken selected nothing. The take set holds 50,000 paths. */
static void
test_take_list_filters(void **state)
{
    (void) state;
    char *dir = tf_test_tempdir("tftake");
    assert_non_null(dir);
    char url[PATH_MAX * 2];
    snprintf(url, sizeof url, "sim:%s/tape0.img?capacity=1G", dir);
    const char *names[] = {"srv/a.txt", "srv/b.txt", "srv/sub/c.txt", "srv/sub/d.txt"};
    size_t size = 0;
    uint8_t *payload = s_tar_of(names, 4, "data", &size);
    s_write_tape(url, "JTAKE", "JTAKE-g00001", payload, size, 4);
    free(payload);

    /* The plan's list: two of the four (in the catalog's form, and with a stray '/'), and
       paths of other archives, 50,000 in all. */
    size_t ntake = 50000;
    tf_msg_path_row_t *take = calloc(ntake, sizeof *take);
    assert_non_null(take);
    take[0].path = strdup("srv/a.txt");
    take[1].path = strdup("/srv/sub/c.txt");
    for (size_t i = 2; i < ntake; i++)
        assert_true(asprintf(&take[i].path, "srv/other/f%06zu.txt", i) > 0);
    tf_msg_archive_row_t row = {.archive_id = "JTAKE-g00001", .job_id = "JTAKE", .group_no = 1,
                                .volume = "TF0001", .tape_file = 1, .size = size, .files = 4, .written = true,
                                .take_some = true, .take = take, .take_count = ntake};
    tf_err_t err = {0};
    tf_extract_take_t *set = NULL;
    assert_int_equal(tf_extract_take_new(&row, &set, &err), TF_OK);
    assert_non_null(set);
    assert_true(tf_extract_take_has(set, "srv/a.txt"));
    assert_true(tf_extract_take_has(set, "srv/sub/c.txt"));
    assert_true(tf_extract_take_has(set, "srv/other/f049999.txt/"));
    assert_false(tf_extract_take_has(set, "srv/b.txt"));
    assert_false(tf_extract_take_has(set, "srv/sub"));
    tf_extract_take_destroy(&set);
    tf_msg_archive_row_t whole = row;
    whole.take_some = false;
    assert_int_equal(tf_extract_take_new(&whole, &set, &err), TF_OK);
    assert_null(set);
    assert_true(tf_extract_take_has(NULL, "srv/b.txt"));

    /* Here: a.txt and sub/c.txt land, b.txt and sub/d.txt do not; the pattern naming b.txt
       selected nothing (it is not part of the job's state). */
    char dest[PATH_MAX], p[PATH_MAX + 32];
    snprintf(dest, sizeof dest, "%s/dest", dir);
    tf_msg_path_row_t patterns[] = {{.path = "srv"}, {.path = "srv/b.txt"}};
    tf_msg_tape_restore_t req = {.job_id = "JTAKE", .dest = dest, .patterns = patterns, .patterns_count = 2,
                                 .archives = &row, .archives_count = 1};
    restore_opts_t opts = {.drive_name = "tape0"};
    restore_stats_t st;
    tf_drive_t *d = tf_drive_open(url, &err);
    assert_non_null(d);
    int rc = restore_run(d, &req, &opts, &st, &err);
    if (rc != TF_OK)
        fail_msg("restore_run: %s", err.message);
    assert_int_equal(st.files, 2);
    assert_int_equal(st.unmatched, 1);
    assert_non_null(strstr(st.warn_text, "srv/b.txt matched nothing"));
    restore_stats_free(&st);
    tf_drive_destroy(&d);
    snprintf(p, sizeof p, "%s/srv/a.txt", dest);
    assert_true(s_exists(p));
    snprintf(p, sizeof p, "%s/srv/sub/c.txt", dest);
    assert_true(s_exists(p));
    snprintf(p, sizeof p, "%s/srv/b.txt", dest);
    assert_false(s_exists(p));
    snprintf(p, sizeof p, "%s/srv/sub/d.txt", dest);
    assert_false(s_exists(p));

    /* Streamed for another host: the same two, nothing else. */
    s_membuf_t mem = {0};
    opts.stream_write = s_mem_write;
    opts.arg = &mem;
    req.patterns_count = 1;
    d = tf_drive_open(url, &err);
    assert_non_null(d);
    rc = restore_run(d, &req, &opts, &st, &err);
    if (rc != TF_OK)
        fail_msg("restore_run (stream): %s", err.message);
    assert_int_equal(st.files, 2);
    restore_stats_free(&st);
    tf_drive_destroy(&d);
    char streamed[256];
    s_stream_names(&mem, streamed, sizeof streamed);
    assert_string_equal(streamed, "srv/a.txt srv/sub/c.txt");
    free(mem.data);

    for (size_t i = 0; i < ntake; i++)
        free(take[i].path);
    free(take);
    tf_test_dir_done(&dir);
}

int
main(int argc, char **argv)
{
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);  /* one ctest entry per test */
    zsys_init();
    zsys_handler_set(NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_target_paths),
        cmocka_unit_test(test_grouper_keeps_link_names_together),
        cmocka_unit_test(test_catalog_gains_mtime_nsec),
        cmocka_unit_test(test_take_list_filters),
        cmocka_unit_test_setup_teardown(test_nanosecond_times_kept, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_hard_links_across_groups, s_setup_small_groups, s_teardown),
        cmocka_unit_test_setup_teardown(test_damaged_archive_others_restored, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_overwrite_modes, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_strip_and_flat, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_strip_cannot_escape_through_symlink, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_hostile_archive_refused, s_setup, s_teardown),
    };
    return cmocka_run_group_tests_name("restore", tests, NULL, NULL);
}
