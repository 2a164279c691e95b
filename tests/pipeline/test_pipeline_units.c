/*  Pipeline logic without processes: ids and checksums, the scanner's walk and grouping
    (sizes, entry and text caps, parents before children, one_fs, unreadable entries,
    deterministic ids), the scanner's manifest (entry records with the xattrs hash, file system
    ids, the begin/diff/end calls and only taken entries grouped), catalog row parts, the archiver's rows and archive bytes, and the file
    rows sidecar's records (what a stager stores and a tape writer must refuse). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <xxhash.h>

#include "archiver.h"
#include "file_rows.h"
#include "pipe_test_util.h"
#include "fs_id.h"
#include "scan_grouper.h"
#include "scan_stat.h"
#include "scan_walk.h"
#include "scanner.h"
#include "tf_checksum.h"
#include "tf_job_start.h"
#include "tf_pipeline_ids.h"
#include "tf_sidecar.h"
#include "tf_testproc.h"

/* ------------------------------------------------------------------ ids, checksums -- */

static void
test_ids(void **state)
{
    (void) state;
    char buf[TF_ID_MAX];
    assert_string_equal(tf_id_archive(buf, sizeof buf, "J20261121-105011-3fa2", 1), "J20261121-105011-3fa2-g00001");
    assert_string_equal(tf_id_archive(buf, sizeof buf, "J1", 123456), "J1-g123456");
    assert_string_equal(tf_id_files(buf, sizeof buf, "J1-g00002", 3), "J1-g00002-files-3");
    assert_string_equal(tf_id_join(buf, sizeof buf, "J1-g00002", "-tape"), "J1-g00002-tape");
    assert_true(tf_id_safe_name("J1-g00001"));
    assert_false(tf_id_safe_name("../etc"));
    assert_false(tf_id_safe_name("a/b"));
    assert_false(tf_id_safe_name(".hidden"));
    assert_false(tf_id_safe_name(""));
}

/* The one target-name check and comma-list reader of the stager, the catalog and job start. */
static void
test_target_names(void **state)
{
    (void) state;
    assert_true(tf_id_target_name("nas"));
    assert_false(tf_id_target_name("tape"));
    assert_false(tf_id_target_name("-x"));
    assert_false(tf_id_target_name(""));
    char name[TF_ID_MAX];
    const char *p = " nas ,offsite,";
    assert_true(tf_id_list_next(&p, name, sizeof name));
    assert_string_equal(name, "nas");
    assert_true(tf_id_list_next(&p, name, sizeof name));
    assert_string_equal(name, "offsite");
    assert_false(tf_id_list_next(&p, name, sizeof name));
    p = "";
    assert_false(tf_id_list_next(&p, name, sizeof name));
    /* an entry too long for name is never cut: "" (refused by the check) */
    char small[4];
    p = "abcdef,ab";
    assert_true(tf_id_list_next(&p, small, sizeof small));
    assert_string_equal(small, "");
    assert_true(tf_id_list_next(&p, small, sizeof small));
    assert_string_equal(small, "ab");
    assert_true(tf_id_target_list_ok(""));
    assert_true(tf_id_target_list_ok("nas,offsite"));
    assert_false(tf_id_target_list_ok("nas,,offsite"));
    assert_false(tf_id_target_list_ok("nas,tape"));
    char long_list[300];
    memset(long_list, 'a', 200);
    long_list[200] = '\0';
    assert_false(tf_id_target_list_ok(long_list));  /* 200 characters: refused, not cut to 128 */
    memset(long_list, 'a', 128);
    long_list[128] = '\0';
    assert_true(tf_id_target_list_ok(long_list));
}

static void
test_checksum(void **state)
{
    (void) state;
    char a[TF_CHECKSUM_STRLEN], b[TF_CHECKSUM_STRLEN];
    const char *text = "hello tape";
    tf_checksum_of(text, strlen(text), a);
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(text, strlen(text)));
    char ref[40] = "xxh128:";
    for (int i = 0; i < 16; i++)
        sprintf(ref + 7 + 2 * i, "%02x", c.digest[i]);
    assert_string_equal(a, ref);
    tf_checksum_t *sum = tf_checksum_new();
    tf_checksum_update(sum, "hello ", 6);
    tf_checksum_update(sum, "tape", 4);
    assert_string_equal(tf_checksum_format(sum, b), ref);
    /* zeros */
    char zeros[100000] = {0};
    tf_checksum_reset(sum);
    tf_checksum_update_zeros(sum, sizeof zeros);
    tf_checksum_of(zeros, sizeof zeros, a);
    assert_string_equal(tf_checksum_format(sum, b), a);
    tf_checksum_destroy(&sum);
    assert_null(sum);
}

/* ------------------------------------------------------------------ grouper --------- */

typedef struct {
    int groups;
    size_t counts[64];
    uint64_t bytes[64];
    char first[64][256];
} groups_t;

static int
s_collect(void *arg, uint64_t group_no, const tf_msg_group_entry_t *entries, size_t count, uint64_t bytes, tf_err_t *err)
{
    (void) err;
    groups_t *g = arg;
    assert_int_equal(group_no, (uint64_t) g->groups + 1);
    g->counts[g->groups] = count;
    g->bytes[g->groups] = bytes;
    snprintf(g->first[g->groups], sizeof g->first[0], "%s", entries[0].path);
    g->groups++;
    return TF_OK;
}

static void
test_grouper_caps(void **state)
{
    (void) state;
    groups_t g = {0};
    /* bytes: closes when it reaches 100 */
    scan_grouper_t *sg = scan_grouper_new(100, 0, 0, s_collect, &g);
    assert_int_equal(scan_grouper_add(sg, "/a", 0, NULL), TF_OK);
    assert_int_equal(scan_grouper_add(sg, "/a/1", 60, NULL), TF_OK);
    assert_int_equal(g.groups, 0);
    assert_int_equal(scan_grouper_add(sg, "/a/2", 40, NULL), TF_OK);
    assert_int_equal(g.groups, 1);
    assert_int_equal(g.counts[0], 3);
    assert_int_equal(g.bytes[0], 100);
    assert_int_equal(scan_grouper_add(sg, "/a/3", 500, NULL), TF_OK);  /* a big file is a group alone */
    assert_int_equal(g.groups, 2);
    assert_int_equal(scan_grouper_add(sg, "/a/4", 1, NULL), TF_OK);
    assert_int_equal(scan_grouper_flush(sg, NULL), TF_OK);
    assert_int_equal(g.groups, 3);
    assert_int_equal(scan_grouper_groups(sg), 3);
    assert_int_equal(scan_grouper_entries(sg), 5);
    assert_int_equal(scan_grouper_bytes(sg), 601);
    assert_int_equal(scan_grouper_flush(sg, NULL), TF_OK);  /* nothing left: no empty group */
    assert_int_equal(g.groups, 3);
    scan_grouper_destroy(&sg);

    /* entries cap */
    memset(&g, 0, sizeof g);
    sg = scan_grouper_new(1 << 30, 3, 0, s_collect, &g);
    for (int i = 0; i < 7; i++)
        assert_int_equal(scan_grouper_add(sg, "/x", 0, NULL), TF_OK);
    scan_grouper_flush(sg, NULL);
    assert_int_equal(g.groups, 3);
    assert_int_equal(g.counts[0], 3);
    assert_int_equal(g.counts[1], 3);
    assert_int_equal(g.counts[2], 1);
    scan_grouper_destroy(&sg);

    /* path text cap: 10 bytes per path, cap 25 -> two per group */
    memset(&g, 0, sizeof g);
    sg = scan_grouper_new(1 << 30, 0, 25, s_collect, &g);
    for (int i = 0; i < 5; i++)
        assert_int_equal(scan_grouper_add(sg, "/123456789", 0, NULL), TF_OK);
    scan_grouper_flush(sg, NULL);
    assert_int_equal(g.groups, 3);
    assert_int_equal(g.counts[0], 2);
    assert_int_equal(g.counts[2], 1);
    scan_grouper_destroy(&sg);
}

/* ------------------------------------------------------------------ walker with a fake fs */

typedef struct {
    const char *other_dev;     /* folder whose subtree is on another device */
    const char *unlistable;    /* folder that cannot be read */
    const char *unstatable;    /* entry that cannot be stat'ed */
} fake_fs_t;

static int
s_fake_lstat(void *arg, const char *path, struct stat *st)
{
    fake_fs_t *f = arg;
    if (f->unstatable && strcmp(path, f->unstatable) == 0) {
        errno = EACCES;
        return -1;
    }
    if (lstat(path, st) != 0)
        return -1;
    size_t n = f->other_dev ? strlen(f->other_dev) : 0;
    if (n && strncmp(path, f->other_dev, n) == 0 && (path[n] == '\0' || path[n] == '/'))
        st->st_dev += 1000;
    return 0;
}

static int
s_fake_list(void *arg, const char *path, char ***names, size_t *count)
{
    fake_fs_t *f = arg;
    if (f->unlistable && strcmp(path, f->unlistable) == 0) {
        errno = EACCES;
        return -1;
    }
    return scan_fs_posix()->list(NULL, path, names, count);
}

typedef struct {
    char paths[256][512];
    uint64_t sizes[256];
    int count;
    char warnings[16][512];
    int nwarn;
    char unread[16][512];
    int nunread;
} walked_t;

static int
s_walked(void *arg, const char *path, const struct stat *st, tf_err_t *err)
{
    (void) err;
    walked_t *w = arg;
    assert_true(w->count < 256);
    snprintf(w->paths[w->count], sizeof w->paths[0], "%s", path);
    w->sizes[w->count++] = S_ISREG(st->st_mode) ? (uint64_t) st->st_size : 0;
    return TF_OK;
}

static void
s_walk_warn(void *arg, const char *path, const char *message)
{
    walked_t *w = arg;
    if (w->nwarn < 16)
        snprintf(w->warnings[w->nwarn], sizeof w->warnings[0], "%s: %s", path, message);
    w->nwarn++;
}

static void
s_walk_unread(void *arg, const char *path, const char *message)
{
    walked_t *w = arg;
    if (w->nunread < 16)
        snprintf(w->unread[w->nunread], sizeof w->unread[0], "%s: %s", path, message);
    w->nunread++;
}

static int
s_index_of(walked_t *w, const char *path)
{
    for (int i = 0; i < w->count; i++)
        if (strcmp(w->paths[i], path) == 0)
            return i;
    return -1;
}

typedef struct {
    char *dir;
} tree_fixture_t;

static int
s_tree_setup(void **state)
{
    tree_fixture_t *f = calloc(1, sizeof *f);
    f->dir = tf_test_tempdir("tfpu");
    char root[512];
    snprintf(root, sizeof root, "%s/tree", f->dir);
    pt_make_tree(root, 200000);
    *state = f;
    return 0;
}

static int
s_tree_teardown(void **state)
{
    tree_fixture_t *f = *state;
    tf_test_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void
test_walk_order_one_fs_warnings(void **state)
{
    tree_fixture_t *t = *state;
    char root[512], docs[600], sub[600], p[700];
    snprintf(root, sizeof root, "%s/tree", t->dir);
    snprintf(docs, sizeof docs, "%s/docs", root);
    snprintf(sub, sizeof sub, "%s/mnt", root);
    pt_mkdir(sub);
    snprintf(p, sizeof p, "%s/inner.txt", sub);
    pt_write_file(p, 10, 1, 1);

    fake_fs_t fake = {0};
    scan_fs_t fs = {s_fake_lstat, s_fake_list, &fake, NULL};
    walked_t *w = calloc(1, sizeof *w);
    assert_int_equal(scan_walk(&fs, root, true, s_walked, s_walk_warn, NULL, w, NULL), TF_OK);
    assert_string_equal(w->paths[0], root);
    /* parents before children, names sorted */
    assert_true(s_index_of(w, docs) >= 0);
    snprintf(p, sizeof p, "%s/note00.txt", docs);
    assert_true(s_index_of(w, docs) < s_index_of(w, p));
    snprintf(p, sizeof p, "%s/link-to-docs", root);
    assert_true(s_index_of(w, p) > 0);  /* the symlink is an entry, not followed */
    snprintf(p, sizeof p, "%s/link-to-docs/note02.txt", root);
    assert_int_equal(s_index_of(w, p), -1);
    for (int i = 1; i < w->count; i++) {
        char parent[512];
        snprintf(parent, sizeof parent, "%s", w->paths[i]);
        *strrchr(parent, '/') = '\0';
        int pi = s_index_of(w, parent);
        assert_true(pi >= 0 && pi < i);
    }
    assert_int_equal(w->nwarn, 0);
    int all = w->count;
    snprintf(p, sizeof p, "%s/inner.txt", sub);
    assert_true(s_index_of(w, p) > 0);

    /* one_fs: mnt on "another device": the folder is listed, its content is not */
    memset(w, 0, sizeof *w);
    fake.other_dev = sub;
    assert_int_equal(scan_walk(&fs, root, true, s_walked, s_walk_warn, NULL, w, NULL), TF_OK);
    assert_int_equal(w->count, all - 1);
    assert_true(s_index_of(w, sub) > 0);
    assert_int_equal(s_index_of(w, p), -1);
    /* without one_fs it descends */
    memset(w, 0, sizeof *w);
    assert_int_equal(scan_walk(&fs, root, false, s_walked, s_walk_warn, NULL, w, NULL), TF_OK);
    assert_int_equal(w->count, all);

    /* unreadable folder and entry: warnings, the walk goes on */
    memset(w, 0, sizeof *w);
    fake.other_dev = NULL;
    fake.unlistable = docs;
    snprintf(p, sizeof p, "%s/big.bin", root);
    fake.unstatable = p;
    assert_int_equal(scan_walk(&fs, root, true, s_walked, s_walk_warn, s_walk_unread, w, NULL), TF_OK);
    assert_int_equal(w->nwarn, 2);
    assert_non_null(strstr(w->warnings[0], "Permission denied"));
    /* both are reported as not looked at: their base entries must not become tombstones */
    assert_int_equal(w->nunread, 2);
    char want[800];
    snprintf(want, sizeof want, "%s: cannot stat: Permission denied", p);
    assert_string_equal(w->unread[0], want);
    snprintf(want, sizeof want, "%s: cannot read folder: Permission denied", docs);
    assert_string_equal(w->unread[1], want);
    assert_true(s_index_of(w, docs) > 0);       /* the folder itself is kept */
    assert_int_equal(s_index_of(w, p), -1);
    assert_int_equal(w->count, all - 21 - 1);   /* docs' 21 files + big.bin */

    /* a root that does not exist */
    tf_err_t err = {0};
    fake.unstatable = NULL;
    snprintf(p, sizeof p, "%s/nope", root);
    assert_int_equal(scan_walk(&fs, p, true, s_walked, s_walk_warn, NULL, w, &err), TF_ERR_NOTFOUND);
    assert_non_null(strstr(err.message, "does not exist"));
    free(w);
}

/* ------------------------------------------------------------------ scanner ---------- */

typedef struct {
    int count;
    char ids[64][TF_ID_MAX];
    char services[64][32];
    uint8_t *payloads[64];
    size_t sizes[64];
} submits_t;

static int
s_submit(void *arg, const char *service, const char *item_id, const char *job_id, const tf_msg_t *payload, tf_err_t *err)
{
    (void) job_id;
    submits_t *s = arg;
    assert_true(s->count < 64);
    snprintf(s->ids[s->count], sizeof s->ids[0], "%s", item_id);
    snprintf(s->services[s->count], sizeof s->services[0], "%s", service);
    assert_int_equal(tf_msg_encode(payload, &s->payloads[s->count], &s->sizes[s->count], err), TF_OK);
    s->count++;
    return TF_OK;
}

static void
s_submits_clear(submits_t *s)
{
    for (int i = 0; i < s->count; i++)
        free(s->payloads[i]);
    memset(s, 0, sizeof *s);
}

/* A host's scan (issue 10): only on its own host, groups numbered from group_base, the groups
   and the catalog items carry the host; path_check answers for this host. */
static void
test_scanner_host_scan(void **state)
{
    tree_fixture_t *t = *state;
    char root[512];
    snprintf(root, sizeof root, "%s/tree", t->dir);
    submits_t *s = calloc(1, sizeof *s);
    scanner_opts_t opts = {.group_bytes = 100000, .compression = "zstd", .pool = "default", .submit = s_submit,
                           .submit_arg = s, .call = pt_manifest_call, .host = "B"};
    scanner_t *scanner = scanner_new_with(&opts, NULL, NULL);
    assert_non_null(scanner);
    tf_msg_path_row_t paths[] = {{root}};
    tf_msg_scan_job_t job = {.job_id = "JH", .paths = paths, .paths_count = 1, .one_fs = true, .host = "C"};
    scanner_totals_t totals;
    tf_err_t err = {0};
    /* Another host's files are not this scanner's to read. */
    assert_int_equal(scanner_scan(scanner, &job, NULL, NULL, &totals, &err), TF_ERR_INVALID);
    assert_non_null(strstr(err.message, "is for host C, but this scanner runs on host B"));
    assert_int_equal(s->count, 0);
    job.host = "B";
    job.group_base = 1000000;
    assert_int_equal(scanner_scan(scanner, &job, NULL, NULL, &totals, &err), TF_OK);
    assert_string_equal(s->ids[0], "JH-stage-scan-B");
    assert_string_equal(s->ids[1], "JH-g1000001");
    tf_msg_t msg;
    assert_int_equal(tf_msg_decode(s->payloads[1], s->sizes[1], &msg, NULL), TF_OK);
    assert_string_equal(msg.file_group.host, "B");
    assert_int_equal(msg.file_group.group_no, 1000001);
    tf_msg_clear(&msg);
    int last = s->count - 1;
    assert_string_equal(s->ids[last], "JH-scanned-B");
    assert_int_equal(tf_msg_decode(s->payloads[last], s->sizes[last], &msg, NULL), TF_OK);
    assert_string_equal(msg.cat_job.host, "B");
    assert_int_equal(msg.cat_job.group_base, 1000000);
    tf_msg_clear(&msg);

    tf_msg_t info;
    tf_msg_path_check_t check = {.path = root};
    assert_int_equal(scanner_check_path(scanner, &check, &info, &err), TF_OK);
    assert_true(info.path_info.exists && info.path_info.readable);
    assert_string_equal(info.path_info.type, "dir");
    assert_string_equal(info.path_info.host, "B");
    tf_msg_clear(&info);
    char missing[600];
    snprintf(missing, sizeof missing, "%s/nope", root);
    check.path = missing;
    assert_int_equal(scanner_check_path(scanner, &check, &info, &err), TF_OK);
    assert_false(info.path_info.exists);
    assert_non_null(strstr(info.path_info.message, "No such file"));
    tf_msg_clear(&info);
    check.path = "relative/path";
    assert_int_equal(scanner_check_path(scanner, &check, &info, &err), TF_OK);
    assert_false(info.path_info.exists);
    assert_string_equal(info.path_info.message, "not an absolute path");
    tf_msg_clear(&info);
    scanner_destroy(&scanner);
    s_submits_clear(s);
    free(s);
}

static void
test_scanner_job(void **state)
{
    tree_fixture_t *t = *state;
    char root[512];
    snprintf(root, sizeof root, "%s/tree/", t->dir);  /* trailing slash is cleaned */
    submits_t *s = calloc(1, sizeof *s);
    scanner_opts_t opts = {.group_bytes = 100000, .compression = "zstd", .pool = "default", .submit = s_submit,
                           .submit_arg = s, .call = pt_manifest_call};
    scanner_t *scanner = scanner_new_with(&opts, NULL, NULL);
    assert_non_null(scanner);
    tf_msg_path_row_t paths[] = {{root}};
    tf_msg_scan_job_t job = {.job_id = "J20261121-105011-3fa2", .paths = paths, .paths_count = 1, .one_fs = true};
    scanner_totals_t totals;
    tf_err_t err = {0};
    assert_int_equal(scanner_scan(scanner, &job, NULL, NULL, &totals, &err), TF_OK);
    /* stage(scan) first, then groups, then scanned */
    assert_string_equal(s->ids[0], "J20261121-105011-3fa2-stage-scan");
    assert_string_equal(s->services[0], "catalog");
    assert_int_equal(totals.groups, (uint64_t) s->count - 2);
    assert_int_equal(totals.groups, 2);  /* big.bin (200000) closes group 1, sparse.img (last) group 2 */
    uint64_t entries = 0;
    for (int i = 1; i <= (int) totals.groups; i++) {
        char want[TF_ID_MAX];
        tf_id_archive(want, sizeof want, job.job_id, (uint64_t) i);
        assert_string_equal(s->ids[i], want);
        assert_string_equal(s->services[i], "compress");
        tf_msg_t msg;
        assert_int_equal(tf_msg_decode(s->payloads[i], s->sizes[i], &msg, NULL), TF_OK);
        assert_int_equal(msg.type, TF_MSG_FILE_GROUP);
        assert_string_equal(msg.file_group.archive_id, want);
        assert_int_equal(msg.file_group.group_no, (uint64_t) i);
        assert_string_equal(msg.file_group.compression, "zstd");
        entries += msg.file_group.entries_count;
        if (i == 1)
            assert_string_equal(msg.file_group.entries[0].path, root[0] ? msg.file_group.entries[0].path : "");
        tf_msg_clear(&msg);
    }
    assert_int_equal(entries, totals.entries);
    int last = s->count - 1;
    assert_string_equal(s->ids[last], "J20261121-105011-3fa2-scanned");
    tf_msg_t scanned;
    assert_int_equal(tf_msg_decode(s->payloads[last], s->sizes[last], &scanned, NULL), TF_OK);
    assert_string_equal(scanned.cat_job.op, "scanned");
    assert_int_equal(scanned.cat_job.files_total, totals.entries);
    assert_int_equal(scanned.cat_job.bytes_total, totals.bytes);
    assert_int_equal(scanned.cat_job.groups_total, totals.groups);
    assert_int_equal(scanned.cat_job.warnings, 0);
    tf_msg_clear(&scanned);

    /* a second scan of the same tree gives the same ids and payloads (idempotent redelivery) */
    submits_t *again = calloc(1, sizeof *again);
    opts.submit_arg = again;
    scanner_t *scanner2 = scanner_new_with(&opts, NULL, NULL);
    assert_int_equal(scanner_scan(scanner2, &job, NULL, NULL, &totals, &err), TF_OK);
    assert_int_equal(again->count, s->count);
    for (int i = 1; i < s->count - 1; i++) {
        assert_string_equal(again->ids[i], s->ids[i]);
        assert_int_equal(again->sizes[i], s->sizes[i]);
        assert_memory_equal(again->payloads[i], s->payloads[i], s->sizes[i]);
    }
    scanner_destroy(&scanner2);
    s_submits_clear(again);
    free(again);

    /* a path that does not exist fails for good, before anything is submitted */
    s_submits_clear(s);
    char missing[600];
    snprintf(missing, sizeof missing, "%s/tree/nope", t->dir);
    tf_msg_path_row_t bad[] = {{root}, {missing}};
    job.paths = bad;
    job.paths_count = 2;
    assert_int_equal(scanner_scan(scanner, &job, NULL, NULL, &totals, &err), TF_ERR_NOTFOUND);
    char want[700];
    snprintf(want, sizeof want, "path %s does not exist", missing);
    assert_string_equal(err.message, want);
    assert_int_equal(s->count, 0);
    /* relative paths are refused */
    tf_msg_path_row_t rel[] = {{"tree"}};
    job.paths = rel;
    job.paths_count = 1;
    assert_int_equal(scanner_scan(scanner, &job, NULL, NULL, &totals, &err), TF_ERR_INVALID);
    scanner_destroy(&scanner);
    s_submits_clear(s);
    free(s);
}

/* ------------------------------------------------------------------ manifest --------- */

/* Job ids: a scheduled run's id is its schedule and instant (every scheduler names it alike);
   a manual one is J<local time>-<6 hex>, two of them differ. */
static void
test_job_ids(void **state)
{
    (void) state;
    char a[64], b[64];
    tf_job_id_scheduled(a, sizeof a, "nightly", 1796184000000LL);   /* 2026-12-02T04:00:00Z */
    assert_string_equal(a, "nightly-20261202T040000Z");
    assert_true(tf_id_safe_name(a));
    tf_job_id_manual(a, sizeof a);
    tf_job_id_manual(b, sizeof b);
    assert_int_equal(a[0], 'J');
    assert_int_equal(strlen(a), strlen("J20261202-101500-3a9f1c"));
    assert_true(tf_id_safe_name(a));
    assert_string_not_equal(a, b);
}

/* A pool that replicates to a target nobody configured is refused before the job starts
   (its archives would wait on the holding disk for a copy that can never be made); once the
   target is configured the check goes on (to the pool check, which needs a broker: none here). */
static void
test_job_check_refuses_an_unconfigured_target(void **state)
{
    (void) state;
    tf_config_t *cfg = tf_config_new();
    assert_non_null(cfg);
    assert_int_equal(tf_config_set(cfg, "pools/default/replicas", "nas, offsite"), TF_OK);
    assert_int_equal(tf_config_set(cfg, "replicas/nas/url", "file:///srv/replica"), TF_OK);
    tf_msg_path_row_t paths[] = {{.path = "/"}};
    tf_job_spec_t spec = {.job_id = "J1", .sources = paths, .sources_count = 1, .pool = "default"};
    tf_err_t err = {0};
    assert_int_not_equal(tf_job_check(cfg, NULL, &spec, &err), TF_OK);
    /* tf_replica_pool_list (tf_replica.c) is the one parser: its message */
    if (!strstr(err.message, "no replication target 'offsite'"))
        fail_msg("unexpected refusal: %s", err.message);
    /* a target named "tape" is refused: the stager's .meta names the tape's confirmation */
    assert_int_equal(tf_config_set(cfg, "pools/default/replicas", "nas,tape"), TF_OK);
    assert_int_equal(tf_config_set(cfg, "replicas/tape/url", "file:///srv/tape"), TF_OK);
    assert_int_not_equal(tf_job_check(cfg, NULL, &spec, &err), TF_OK);
    if (!strstr(err.message, "'tape' cannot name a replication target"))
        fail_msg("unexpected refusal: %s", err.message);
    tf_config_destroy(&cfg);
}

/* A job id and target name whose item ids (<archive>-replica-<target>-copied, ...) would not
   fit the protocol's id limit are refused before the job starts (tf_job_check, and tf_job_start
   before anything is recorded). */
static void
test_job_check_refuses_ids_too_long(void **state)
{
    (void) state;
    tf_config_t *cfg = tf_config_new();
    assert_non_null(cfg);
    char target[64];
    memset(target, 'n', 40);
    target[40] = '\0';
    char key[128];
    assert_int_equal(tf_config_set(cfg, "pools/default/replicas", target), TF_OK);
    snprintf(key, sizeof key, "replicas/%s/url", target);
    assert_int_equal(tf_config_set(cfg, key, "file:///srv/replica"), TF_OK);
    char job[TF_MSG_MAX_ID + 1];
    memset(job, 'J', 80);   /* 80 + "-g999999" + "-replica-" + 40 + "-copied" > 128 */
    job[80] = '\0';
    tf_msg_path_row_t paths[] = {{.path = "/"}};
    tf_job_spec_t spec = {.job_id = job, .sources = paths, .sources_count = 1, .pool = "default"};
    tf_err_t err = {0};
    assert_int_equal(tf_job_check(cfg, NULL, &spec, &err), TF_ERR_TOOBIG);
    if (!strstr(err.message, "makes item ids of") || !strstr(err.message, "use a shorter job id or target name"))
        fail_msg("unexpected refusal: %s", err.message);
    /* one character over: the replicator's "<job>-replica-<target>-committed-<13 digit ms>" of
       56 + 9 + 40 + 11 + 13 = 129 is the longest id here. tf_job_start refuses it too, before it
       records anything (no client needed to tell). */
    job[128 - 9 - 40 - 11 - 13 + 1] = '\0';
    assert_int_equal(tf_job_start(cfg, NULL, &spec, NULL, &err), TF_ERR_TOOBIG);
    if (!strstr(err.message, "makes item ids of 129 characters"))
        fail_msg("unexpected refusal: %s", err.message);
    tf_config_destroy(&cfg);
}

/* The xattrs hash changes when an attribute's value changes and comes back when it is
   restored; an entry without attributes has none. */
static void
test_scan_stat_xattrs(void **state)
{
    tree_fixture_t *t = *state;
    char p[600];
    snprintf(p, sizeof p, "%s/x.txt", t->dir);
    pt_write_file(p, 10, 1, 1);
    char *none = NULL, *one = NULL, *two = NULL, *back = NULL;
    tf_err_t err = {0};
    /* the row carries stat in ns, the hash and the file system id (checked first: it needs no
       user xattrs, so a file system that refuses them still runs it) */
    struct stat st;
    assert_int_equal(lstat(p, &st), 0);
    tf_msg_manifest_row_t row;
    assert_int_equal(scan_stat_row(p, &st, "xxh64:0000000000000001", "tmpfs:tmpfs:/tmp", &row, &err), TF_OK);
    assert_string_equal(row.type, "file");
    assert_int_equal(row.size, 10);
    assert_int_equal(row.mtime_ns, (int64_t) st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec);
    assert_int_equal(row.ctime_ns, (int64_t) st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec);
    assert_int_equal(row.ino, st.st_ino);
    assert_string_equal(row.xattrs, "xxh64:0000000000000001");
    assert_string_equal(row.fs, "tmpfs:tmpfs:/tmp");
    scan_stat_row_clear(&row);
    assert_null(row.path);

    assert_int_equal(scan_stat_xattrs(p, &none, &err), TF_OK);
    if (setxattr(p, "user.tapeflow", "a", 1, 0) != 0) {
        /* tmpfs without user xattrs, some overlays: nothing to hash here */
        print_message("skipped: %s refuses user xattrs (%s)\n", t->dir, strerror(errno));
        free(none);
        return;
    }
    assert_null(none);
    assert_int_equal(scan_stat_xattrs(p, &one, &err), TF_OK);
    assert_non_null(one);
    assert_int_equal(strncmp(one, "xxh64:", 6), 0);
    assert_int_equal(strlen(one), 6 + 16);
    assert_int_equal(setxattr(p, "user.tapeflow", "b", 1, 0), 0);
    assert_int_equal(scan_stat_xattrs(p, &two, &err), TF_OK);
    assert_string_not_equal(one, two);
    assert_int_equal(setxattr(p, "user.tapeflow", "a", 1, 0), 0);
    assert_int_equal(scan_stat_xattrs(p, &back, &err), TF_OK);
    assert_string_equal(one, back);
    free(one);
    free(two);
    free(back);
}

/* Two paths of one file system get one id; a device with a by-uuid entry gets its UUID; a
   mount without one its fstype, source and mount point. */
static void
test_fs_id(void **state)
{
    tree_fixture_t *t = *state;
    char a[600], b[600];
    snprintf(a, sizeof a, "%s/tree", t->dir);
    snprintf(b, sizeof b, "%s/tree/docs", t->dir);
    struct stat sa, sb;
    assert_int_equal(lstat(a, &sa), 0);
    assert_int_equal(lstat(b, &sb), 0);
    tf_err_t err = {0};
    fs_ids_t *ids = fs_ids_new(NULL, NULL);
    assert_non_null(ids);
    const char *ia = fs_ids_get(ids, sa.st_dev, a, &err);
    assert_non_null(ia);
    const char *ib = fs_ids_get(ids, sb.st_dev, b, &err);
    assert_non_null(ib);
    assert_string_equal(ia, ib);
    assert_null(strstr(ia, "dev:"));
    fs_ids_destroy(&ids);
    assert_null(ids);

    /* a mountinfo and by-uuid folder of our own */
    char info[600], by_uuid[600], disk[600], link[700];
    snprintf(info, sizeof info, "%s/mountinfo", t->dir);
    snprintf(by_uuid, sizeof by_uuid, "%s/by-uuid", t->dir);
    snprintf(disk, sizeof disk, "%s/sdz1", t->dir);
    pt_mkdir(by_uuid);
    pt_write_file(disk, 1, 1, 1);
    snprintf(link, sizeof link, "%s/0f3c-42", by_uuid);
    assert_int_equal(symlink(disk, link), 0);
    FILE *f = fopen(info, "w");
    assert_non_null(f);
    fprintf(f, "1 0 8:1 / / rw - ext4 %s rw\n", disk);
    fprintf(f, "2 1 0:40 / /srv/my\\040data rw shared:5 - tmpfs tmpfs rw\n");
    fclose(f);
    ids = fs_ids_new(info, by_uuid);
    assert_non_null(ids);
    assert_string_equal(fs_ids_get(ids, makedev(8, 1), "/home/x", &err), "uuid:0f3c-42");
    assert_string_equal(fs_ids_get(ids, makedev(0, 40), "/srv/my data/y", &err), "tmpfs:tmpfs:/srv/my data");
    /* a device mountinfo does not list: the mount that holds the path */
    assert_string_equal(fs_ids_get(ids, makedev(0, 99), "/srv/my data/sub/z", &err), "tmpfs:tmpfs:/srv/my data");
    fs_ids_destroy(&ids);
    ids = fs_ids_new("/nonexistent/mountinfo", NULL);
    assert_null(fs_ids_get(ids, makedev(8, 1), "/x", &err));
    assert_non_null(strstr(err.message, "cannot read /nonexistent/mountinfo"));
    fs_ids_destroy(&ids);
}

/* A fake catalog for the scanner's manifest: records each call, answers begin with an
   incremental (or fails it), takes every third entry of each diff batch, answers end with
   deleted tombstones. */
typedef struct {
    const char *fail_begin;       /* the catalog's refusal of begin */
    bool bad_take;                /* answers a diff with an index past the batch */
    int calls;
    char ids[16][TF_ID_MAX];
    char runs[16][32];            /* cat_manifest.run of each call */
    char unread[4][512];          /* end's unread rows: "path: reason" */
    size_t nunread;
    char taken[4096][256];        /* the paths it took, in batch order */
    size_t ntaken;
    uint64_t rows;
    uint64_t unchanged;
} fake_catalog_t;

static int
s_fake_call(void *arg, const char *service, const char *item_id, const char *job_id, const tf_msg_t *payload,
            tf_msg_t *result, tf_err_t *err)
{
    (void) job_id;
    fake_catalog_t *c = arg;
    assert_string_equal(service, "catalog");
    assert_int_equal(payload->type, TF_MSG_CAT_MANIFEST);
    assert_true(c->calls < 16);
    const tf_msg_cat_manifest_t *m = &payload->cat_manifest;
    snprintf(c->runs[c->calls], sizeof c->runs[0], "%s", m->run ? m->run : "");
    snprintf(c->ids[c->calls++], TF_ID_MAX, "%s", item_id);
    memset(result, 0, sizeof *result);
    result->type = TF_MSG_CAT_MANIFEST_REPLY;
    tf_msg_cat_manifest_reply_t *r = &result->cat_manifest_reply;
    if (strcmp(m->op, "begin") == 0) {
        if (c->fail_begin)
            return tf_err_set(err, TF_ERR_STATE, "%s", c->fail_begin);
        r->level = strdup("incremental");
        r->base_job = strdup("J0");
    }
    else if (strcmp(m->op, "diff") == 0) {
        r->take = calloc(m->rows_count, sizeof *r->take);
        for (size_t i = 0; i < m->rows_count; i++) {
            const tf_msg_manifest_row_t *row = &m->rows[i];
            assert_non_null(row->fs);
            assert_true(row->mtime_ns > 0 && row->ino > 0 && row->mode != 0);
            if (i % 3 == 0) {
                r->take[r->take_count].index = i;
                r->take[r->take_count++].reason = strdup("new");
                assert_true(c->ntaken < 4096);
                snprintf(c->taken[c->ntaken++], 256, "%s", row->path);
            }
            else
                r->unchanged++;
        }
        c->rows += m->rows_count;
        c->unchanged += r->unchanged;
        if (c->bad_take && r->take_count > 0)
            r->take[0].index = m->rows_count + 7;
    }
    else {
        assert_string_equal(m->op, "end");
        for (size_t i = 0; i < m->unread_count && c->nunread < 4; i++)
            snprintf(c->unread[c->nunread++], sizeof c->unread[0], "%s: %s", m->unread[i].path,
                     m->unread[i].reason);
        r->deleted = 3;
        r->unchanged = c->unchanged;
    }
    return TF_OK;
}

/* begin before the walk, diff per batch of at most SCANNER_DIFF_BATCH in walk order, end after
   it; only the taken entries reach the file groups, and the totals count them. */
static void
test_scanner_manifest(void **state)
{
    tree_fixture_t *t = *state;
    char root[512], p[700];
    snprintf(root, sizeof root, "%s/tree", t->dir);
    snprintf(p, sizeof p, "%s/many", root);
    pt_mkdir(p);
    for (int i = 0; i < SCANNER_DIFF_BATCH + 100; i++) {   /* two batches at least */
        snprintf(p, sizeof p, "%s/many/f%05d", root, i);
        pt_write_file(p, 1, (uint32_t) i, 1);
    }
    submits_t *s = calloc(1, sizeof *s);
    fake_catalog_t *c = calloc(1, sizeof *c);
    scanner_opts_t opts = {.group_bytes = 1u << 30, .compression = "zstd", .pool = "default", .submit = s_submit,
                           .submit_arg = s, .call = s_fake_call, .call_arg = c};
    scanner_t *scanner = scanner_new_with(&opts, NULL, NULL);
    assert_non_null(scanner);
    tf_msg_path_row_t paths[] = {{root}};
    tf_msg_scan_job_t job = {.job_id = "JM", .paths = paths, .paths_count = 1, .one_fs = true};
    tf_msg_work_t work = {.item_id = "JM-scan", .attempt = 2};
    scanner_totals_t totals;
    tf_err_t err = {0};
    assert_int_equal(scanner_scan(scanner, &job, NULL, &work, &totals, &err), TF_OK);
    assert_true(c->calls >= 4);
    /* the ids carry the run's token, never the broker's attempt; every call names the run */
    const char *run = c->runs[0];
    assert_int_equal(strlen(run), 16);
    assert_int_equal(strspn(run, "0123456789abcdef"), 16);
    char want[800];
    snprintf(want, sizeof want, "JM-manifest-local-r%s-begin", run);
    assert_string_equal(c->ids[0], want);
    for (int i = 1; i < c->calls - 1; i++) {
        snprintf(want, sizeof want, "JM-manifest-local-r%s-diff-%d", run, i);
        assert_string_equal(c->ids[i], want);
        assert_string_equal(c->runs[i], run);
    }
    snprintf(want, sizeof want, "JM-manifest-local-r%s-end", run);
    assert_string_equal(c->ids[c->calls - 1], want);
    assert_int_equal(c->nunread, 0);
    assert_true(c->rows > SCANNER_DIFF_BATCH);
    /* the file groups hold exactly the taken entries, in the order they were taken */
    size_t grouped = 0;
    for (int i = 0; i < s->count; i++) {
        if (strcmp(s->services[i], "compress") != 0)
            continue;
        tf_msg_t msg;
        assert_int_equal(tf_msg_decode(s->payloads[i], s->sizes[i], &msg, NULL), TF_OK);
        for (size_t e = 0; e < msg.file_group.entries_count; e++) {
            assert_true(grouped < c->ntaken);
            assert_string_equal(msg.file_group.entries[e].path, c->taken[grouped++]);
        }
        tf_msg_clear(&msg);
    }
    assert_int_equal(grouped, c->ntaken);
    assert_int_equal(totals.entries, c->ntaken);
    assert_int_equal(totals.unchanged, c->rows - c->ntaken);
    assert_int_equal(totals.deleted, 3);
    tf_msg_t scanned;
    assert_int_equal(tf_msg_decode(s->payloads[s->count - 1], s->sizes[s->count - 1], &scanned, NULL), TF_OK);
    assert_string_equal(scanned.cat_job.op, "scanned");
    assert_int_equal(scanned.cat_job.files_total, c->ntaken);
    snprintf(want, sizeof want, ", %llu unchanged, 3 deleted", (unsigned long long) (c->rows - c->ntaken));
    assert_non_null(strstr(scanned.cat_job.message, want));
    tf_msg_clear(&scanned);
    char first_run[32];
    snprintf(first_run, sizeof first_run, "%s", run);

    /* the same job scanned again (a retried job: attempt 1 again) is another run, and a folder
       it cannot list goes with end so the catalog keeps what is under it */
    s_submits_clear(s);
    memset(c, 0, sizeof *c);
    char many[600];
    snprintf(many, sizeof many, "%s/many", root);
    fake_fs_t fake = {.unlistable = many};
    scan_fs_t fs = {s_fake_lstat, s_fake_list, &fake, NULL};
    scanner_opts_t fake_opts = opts;
    fake_opts.fs = &fs;
    scanner_t *again = scanner_new_with(&fake_opts, NULL, NULL);
    work.attempt = 1;
    assert_int_equal(scanner_scan(again, &job, NULL, &work, &totals, &err), TF_OK);
    assert_int_equal(strlen(c->runs[0]), 16);
    assert_string_not_equal(c->runs[0], first_run);
    assert_int_equal(c->nunread, 1);
    snprintf(want, sizeof want, "%s: cannot read folder: Permission denied", many);
    assert_string_equal(c->unread[0], want);
    assert_true(totals.warnings >= 1);
    scanner_destroy(&again);

    /* a take index past the batch is the catalog's error: the scan fails, nothing leaks */
    s_submits_clear(s);
    memset(c, 0, sizeof *c);
    c->bad_take = true;
    assert_int_equal(scanner_scan(scanner, &job, NULL, &work, &totals, &err), TF_ERR_PROTO);
    assert_non_null(strstr(err.message, "the catalog took entry"));
    scanner_destroy(&scanner);

    /* a refused begin fails the scan for good with the catalog's message; nothing is grouped */
    s_submits_clear(s);
    memset(c, 0, sizeof *c);
    c->fail_begin = "the manifest of base job J0 (full) cannot be read: the job is not in the catalog; run a "
                    "full backup: tapeflow backup --level full /x";
    scanner = scanner_new_with(&opts, NULL, NULL);
    assert_int_equal(scanner_scan(scanner, &job, NULL, NULL, &totals, &err), TF_ERR_INVALID);
    assert_string_equal(err.message, c->fail_begin);
    assert_int_equal(c->calls, 1);
    snprintf(want, sizeof want, "JM-manifest-local-r%s-begin", c->runs[0]);
    assert_string_equal(c->ids[0], want);
    for (int i = 0; i < s->count; i++)
        assert_string_not_equal(s->services[i], "compress");
    scanner_destroy(&scanner);
    /* a scanner with a fake submit needs a fake call too */
    opts.call = NULL;
    assert_null(scanner_new_with(&opts, NULL, &err));
    s_submits_clear(s);
    free(s);
    free(c);
}

/* ------------------------------------------------------------------ file rows -------- */

static void
test_file_rows_parts(void **state)
{
    (void) state;
    file_rows_t *rows = file_rows_new();
    char path[64];
    for (int i = 0; i < 120001; i++) {
        snprintf(path, sizeof path, "d/f%06d", i);
        tf_msg_file_row_t row = {.path = path, .type = "file", .size = (uint64_t) i};
        assert_int_equal(file_rows_add(rows, &row, NULL), TF_OK);
    }
    assert_int_equal(file_rows_count(rows), 120001);
    assert_int_equal(file_rows_parts(rows), 3);
    size_t first, count;
    file_rows_part(rows, 1, &first, &count);
    assert_int_equal(first, 0);
    assert_int_equal(count, FILE_ROWS_PART_MAX);
    file_rows_part(rows, 3, &first, &count);
    assert_int_equal(first, 100000);
    assert_int_equal(count, 20001);
    assert_string_equal(file_rows_at(rows, 100000)->path, "d/f100000");
    file_rows_destroy(&rows);
    assert_null(rows);
}

/* ------------------------------------------------------------------ archiver --------- */

typedef struct {
    uint8_t *data;
    size_t size;
    size_t cap;
    int warnings;
    char warning[512];
} membuf_t;

static int
s_mem_sink(void *arg, const void *data, size_t size, tf_err_t *err)
{
    (void) err;
    membuf_t *m = arg;
    if (m->size + size > m->cap) {
        m->cap = (m->size + size) * 2;
        m->data = realloc(m->data, m->cap);
    }
    memcpy(m->data + m->size, data, size);
    m->size += size;
    return TF_OK;
}

static void
s_mem_warn(void *arg, const char *path, const char *message)
{
    membuf_t *m = arg;
    m->warnings++;
    snprintf(m->warning, sizeof m->warning, "%s: %s", path, message);
}

static tf_msg_file_row_t *
s_row(file_rows_t *rows, const char *path)
{
    for (size_t i = 0; i < file_rows_count(rows); i++)
        if (strcmp(file_rows_at(rows, i)->path, path) == 0)
            return file_rows_at(rows, i);
    return NULL;
}

static void
test_archiver_rows(void **state)
{
    tree_fixture_t *t = *state;
    char root[512];
    snprintf(root, sizeof root, "%s/tree", t->dir);
    /* the group: everything the walker finds, plus a file that vanished since the scan */
    walked_t *w = calloc(1, sizeof *w);
    assert_int_equal(scan_walk(scan_fs_posix(), root, true, s_walked, s_walk_warn, NULL, w, NULL), TF_OK);
    tf_msg_group_entry_t entries[260];
    int n = 0;
    for (int i = 0; i < w->count; i++)
        entries[n++] = (tf_msg_group_entry_t){w->paths[i], w->sizes[i]};
    char gone[600];
    snprintf(gone, sizeof gone, "%s/vanished.txt", root);
    entries[n++] = (tf_msg_group_entry_t){gone, 10};
    tf_msg_file_group_t group = {.job_id = "J1", .archive_id = "J1-g00001", .group_no = 1, .entries = entries,
                                 .entries_count = (size_t) n};
    membuf_t mem = {0};
    archiver_opts_t opts = {.compression = "none", .sink = s_mem_sink, .warn = s_mem_warn, .arg = &mem};
    file_rows_t *rows = file_rows_new();
    archiver_stats_t stats;
    tf_err_t err = {0};
    assert_int_equal(archiver_run(&opts, &group, rows, &stats, &err), TF_OK);
    assert_int_equal(mem.warnings, 1);
    assert_non_null(strstr(mem.warning, "vanished.txt"));
    assert_int_equal(stats.files, (uint64_t) w->count);
    assert_int_equal(file_rows_count(rows), (size_t) w->count);

    const char *rel = root + 1;
    if (getenv("PT_DEBUG"))
        for (size_t i = 0; i < file_rows_count(rows); i++)
            fprintf(stderr, "row %s %s %llu\n", file_rows_at(rows, i)->path, file_rows_at(rows, i)->type,
                    (unsigned long long) file_rows_at(rows, i)->offset);
    char p[1024], full[1100], sum[40];
    tf_msg_file_row_t *r;
    /* regular files: size and checksum vs an independent XXH3 */
    snprintf(p, sizeof p, "%s/docs/note03.txt", rel);
    assert_non_null(r = s_row(rows, p));
    assert_string_equal(r->type, "file");
    assert_int_equal(r->size, 100 + 3 * 37);
    snprintf(full, sizeof full, "/%s", p);
    pt_file_checksum(full, sum);
    assert_string_equal(r->checksum, sum);
    assert_int_equal(r->mode, 0644 & ~0);
    assert_string_equal(r->user, "root");
    /* the first of the two hard links carries the data, the other is a link to it */
    snprintf(p, sizeof p, "%s/docs/note01.txt", rel);
    assert_non_null(r = s_row(rows, p));
    assert_string_equal(r->type, "file");
    snprintf(p, sizeof p, "%s/hardlink.txt", rel);
    assert_non_null(r = s_row(rows, p));
    assert_string_equal(r->type, "hardlink");
    snprintf(full, sizeof full, "%s/docs/note01.txt", rel);
    assert_string_equal(r->link, full);
    assert_null(r->checksum);
    snprintf(p, sizeof p, "%s/link-to-docs", rel);
    assert_non_null(r = s_row(rows, p));
    assert_string_equal(r->type, "symlink");
    assert_string_equal(r->link, "docs/note02.txt");
    snprintf(p, sizeof p, "%s/empty-dir", rel);
    assert_non_null(r = s_row(rows, p));
    assert_string_equal(r->type, "dir");
    snprintf(p, sizeof p, "%s/fifo", rel);
    assert_non_null(r = s_row(rows, p));
    assert_string_equal(r->type, "other");
    snprintf(p, sizeof p, "%s/docs/empty.txt", rel);
    assert_non_null(r = s_row(rows, p));
    assert_int_equal(r->size, 0);
    tf_checksum_of("", 0, sum);
    assert_string_equal(r->checksum, sum);
    snprintf(p, sizeof p, "%s/caf\xc3\xa9-\xc3\xbc.txt", rel);
    assert_non_null(r = s_row(rows, p));
    snprintf(full, sizeof full, "/%s", p);
    pt_file_checksum(full, sum);
    assert_string_equal(r->checksum, sum);
    /* sparse: holes count as zeros */
    snprintf(p, sizeof p, "%s/sparse.img", rel);
    assert_non_null(r = s_row(rows, p));
    assert_int_equal(r->size, 4u << 20);
    snprintf(full, sizeof full, "/%s", p);
    pt_file_checksum(full, sum);
    assert_string_equal(r->checksum, sum);

    /* offsets: every row's offset is where a tar header starts in the (uncompressed) stream */
    for (size_t i = 0; i < file_rows_count(rows); i++) {
        r = file_rows_at(rows, i);
        assert_true(r->offset % 512 == 0);
        assert_true(r->offset + 512 <= mem.size);
        assert_memory_equal(mem.data + r->offset + 257, "ustar", 5);
    }
    /* the stream reads back with libarchive: names, the sparse file's content */
    struct archive *a = archive_read_new();
    archive_read_support_format_all(a);
    archive_read_support_filter_all(a);
    assert_int_equal(archive_read_open_memory(a, mem.data, mem.size), ARCHIVE_OK);
    struct archive_entry *e;
    int seen = 0;
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        char name[1024];
        snprintf(name, sizeof name, "%s", archive_entry_pathname(e));
        if (name[strlen(name) - 1] == '/')
            name[strlen(name) - 1] = '\0';  /* folders are stored as "name/" */
        assert_non_null(s_row(rows, name));
        if (strstr(archive_entry_pathname(e), "sparse.img")) {
            assert_true(archive_entry_sparse_count(e) > 0);
            uint8_t *buf = calloc(1, 4u << 20);
            const void *blk;
            size_t sz;
            la_int64_t off;
            while (archive_read_data_block(a, &blk, &sz, &off) == ARCHIVE_OK)
                memcpy(buf + off, blk, sz);
            tf_checksum_of(buf, 4u << 20, sum);
            assert_string_equal(sum, r->checksum);
            free(buf);
        }
        seen++;
    }
    assert_int_equal(seen, w->count);
    archive_read_free(a);
    /* the sparse file's holes are not stored */
    assert_true(mem.size < 1000000);
    file_rows_destroy(&rows);
    free(mem.data);
    free(w);
}

static void
test_archiver_bad_compression(void **state)
{
    (void) state;
    tf_msg_file_group_t group = {.job_id = "J1", .archive_id = "J1-g00001", .group_no = 1};
    membuf_t mem = {0};
    archiver_opts_t opts = {.compression = "lzma", .sink = s_mem_sink, .arg = &mem};
    file_rows_t *rows = file_rows_new();
    archiver_stats_t stats;
    tf_err_t err = {0};
    assert_int_equal(archiver_run(&opts, &group, rows, &stats, &err), TF_ERR_INVALID);
    assert_non_null(strstr(err.message, "lzma"));
    file_rows_destroy(&rows);
    free(mem.data);
}

/* Review R10: the names of a hard-linked file count its bytes once per group, so the group
   does not close early and the stager does not reserve the file once per name. */
typedef struct {
    int groups;
    uint64_t bytes;
    uint64_t sizes[8];
    size_t count;
} link_groups_t;

static int
s_collect_sizes(void *arg, uint64_t group_no, const tf_msg_group_entry_t *entries, size_t count, uint64_t bytes,
                tf_err_t *err)
{
    (void) group_no;
    (void) err;
    link_groups_t *g = arg;
    g->groups++;
    g->bytes = bytes;
    g->count = count;
    for (size_t i = 0; i < count && i < 8; i++)
        g->sizes[i] = entries[i].size;
    return TF_OK;
}

static void
test_grouper_counts_a_hard_linked_file_once(void **state)
{
    (void) state;
    link_groups_t g = {0};
    scan_grouper_t *sg = scan_grouper_new(100, 0, 0, s_collect_sizes, &g);
    assert_int_equal(scan_grouper_add_linked(sg, "/L", 40, 1, 7, 3, NULL), TF_OK);
    assert_int_equal(scan_grouper_add_linked(sg, "/L2", 40, 1, 7, 3, NULL), TF_OK);
    assert_int_equal(scan_grouper_add_linked(sg, "/L3", 40, 1, 7, 3, NULL), TF_OK);
    assert_int_equal(g.groups, 0);  /* 40 bytes, not 120: the group is not full */
    assert_int_equal(scan_grouper_add(sg, "/x", 10, NULL), TF_OK);
    assert_int_equal(scan_grouper_flush(sg, NULL), TF_OK);
    assert_int_equal(g.groups, 1);
    assert_int_equal(g.count, 4);
    assert_int_equal(g.bytes, 50);
    assert_int_equal(g.sizes[0], 40);
    assert_int_equal(g.sizes[1], 0);
    assert_int_equal(g.sizes[2], 0);
    assert_int_equal(scan_grouper_bytes(sg), 50);
    scan_grouper_destroy(&sg);

    /* the bound: an entry without content gets room for a link target; a file's bytes once */
    tf_msg_group_entry_t one[] = {{"/L", 40000}}, three[] = {{"/L", 40000}, {"/L2", 0}, {"/L3", 0}};
    tf_msg_file_group_t a = {.archive_id = "J-g00001", .entries = one, .entries_count = 1};
    tf_msg_file_group_t b = {.archive_id = "J-g00001", .entries = three, .entries_count = 3};
    uint64_t bound_one = archiver_size_bound(&a, "none"), bound_three = archiver_size_bound(&b, "none");
    assert_true(bound_three > bound_one + 2 * 4096);   /* two link targets of up to PATH_MAX */
    assert_true(bound_three < bound_one + 40000);      /* the content is not counted again */
}

/* ------------------------------------------------------------------ file rows sidecar -- */

/* Appends a record of part `part` of archive id with `count` rows to buf. */
static void
s_append_record(uint8_t **buf, size_t *size, const char *id, uint64_t part, size_t count)
{
    tf_msg_file_row_t rows[3] = {{.path = "a", .type = "dir"}, {.path = "a/b", .type = "file", .size = 7},
                                 {.path = "a/c", .type = "symlink", .link = "b"}};
    tf_msg_stage_rows_t msg = {.archive_id = (char *) id, .part = part, .files = count ? rows : NULL,
                               .files_count = count};
    uint8_t *record = NULL;
    size_t n = 0;
    assert_int_equal(tf_sidecar_record(&msg, &record, &n, NULL), TF_OK);
    assert_true(n > TF_SIDECAR_PREFIX);
    /* the prefix is the message's length, big-endian */
    assert_int_equal((size_t) record[0] << 24 | (size_t) record[1] << 16 | (size_t) record[2] << 8 | record[3],
                     n - TF_SIDECAR_PREFIX);
    *buf = realloc(*buf, *size + n);
    memcpy(*buf + *size, record, n);
    *size += n;
    free(record);
}

static void
s_expect_bad_sidecar(const uint8_t *buf, size_t size, const char *needle)
{
    tf_err_t err = {0};
    tf_sidecar_t *sidecar = tf_sidecar_parse(buf, size, "J1-g00001", &err);
    if (sidecar) {
        tf_sidecar_destroy(&sidecar);
        fail_msg("parsed, expected \"%s\"", needle);
    }
    assert_int_equal(err.code, TF_ERR_INVALID);
    if (!strstr(err.message, needle) || !strstr(err.message, "file rows sidecar of archive J1-g00001"))
        fail_msg("\"%s\" does not say \"%s\"", err.message, needle);
}

static void
test_sidecar_records(void **state)
{
    (void) state;
    uint8_t *buf = NULL;
    size_t size = 0;
    s_append_record(&buf, &size, "J1-g00001", 1, 3);
    s_append_record(&buf, &size, "J1-g00001", 2, 0);
    s_append_record(&buf, &size, "J1-g00001", 3, 2);
    tf_err_t err = {0};
    tf_sidecar_t *sidecar = tf_sidecar_parse(buf, size, "J1-g00001", &err);
    if (!sidecar)
        fail_msg("%s", err.message);
    assert_int_equal(tf_sidecar_parts(sidecar), 3);
    assert_int_equal(tf_sidecar_count(sidecar), 5);
    const tf_msg_file_row_t *rows = tf_sidecar_rows(sidecar);
    assert_string_equal(rows[0].path, "a");
    assert_string_equal(rows[2].link, "b");
    assert_string_equal(rows[3].path, "a");
    assert_int_equal(rows[4].size, 7);
    tf_sidecar_destroy(&sidecar);
    assert_null(sidecar);

    /* one part without rows: an archive without entries */
    uint8_t *empty = NULL;
    size_t empty_size = 0;
    s_append_record(&empty, &empty_size, "J1-g00001", 1, 0);
    sidecar = tf_sidecar_parse(empty, empty_size, "J1-g00001", &err);
    assert_non_null(sidecar);
    assert_int_equal(tf_sidecar_count(sidecar), 0);
    assert_null(tf_sidecar_rows(sidecar));
    tf_sidecar_destroy(&sidecar);

    /* what does not check out */
    s_expect_bad_sidecar(buf, 0, "it holds no record");
    s_expect_bad_sidecar(buf, 2, "record 1 at byte 0 is cut short (2 bytes left)");
    s_expect_bad_sidecar(buf, size - 1, "record 3 at byte");
    s_expect_bad_sidecar(empty, empty_size - 1, "record 1 at byte 0 says");
    uint8_t *bad = malloc(size);
    memcpy(bad, buf, size);
    bad[TF_SIDECAR_PREFIX + 1] ^= 0x40;  /* inside the first message */
    tf_sidecar_t *maybe = tf_sidecar_parse(bad, size, "J1-g00001", &err);
    assert_null(maybe);  /* whatever the flipped bit did, the records no longer check out */
    memcpy(bad, buf, size);
    memset(bad, 0, TF_SIDECAR_PREFIX);
    s_expect_bad_sidecar(bad, size, "record 1 at byte 0 says 0 bytes");
    free(bad);
    uint8_t *other = NULL;
    size_t other_size = 0;
    s_append_record(&other, &other_size, "J1-g00002", 1, 1);
    s_expect_bad_sidecar(other, other_size, "record 1 holds rows of archive J1-g00002");
    free(other);
    other = NULL;
    other_size = 0;
    s_append_record(&other, &other_size, "J1-g00001", 2, 1);
    s_expect_bad_sidecar(other, other_size, "record 1 is part 2");
    free(other);
    /* a record that is another message */
    tf_msg_t msg = {.type = TF_MSG_ARCHIVE_RELEASE};
    msg.archive_release.archive_id = "J1-g00001";
    uint8_t *body = NULL;
    size_t len = 0;
    assert_int_equal(tf_msg_encode(&msg, &body, &len, NULL), TF_OK);
    other = malloc(TF_SIDECAR_PREFIX + len);
    other[0] = other[1] = 0;
    other[2] = (uint8_t) (len >> 8);
    other[3] = (uint8_t) len;
    memcpy(other + TF_SIDECAR_PREFIX, body, len);
    s_expect_bad_sidecar(other, TF_SIDECAR_PREFIX + len, "record 1 is not stage_rows but archive_release");
    free(other);
    free(body);
    /* garbage after a good record */
    other = malloc(empty_size + 3);
    memcpy(other, empty, empty_size);
    memcpy(other + empty_size, "xyz", 3);
    s_expect_bad_sidecar(other, empty_size + 3, "record 2 at byte");
    free(other);
    free(empty);
    free(buf);
}

int
main(void)
{
    setlocale(LC_CTYPE, "C.UTF-8");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_target_names),
        cmocka_unit_test(test_checksum),
        cmocka_unit_test(test_grouper_caps),
        cmocka_unit_test(test_grouper_counts_a_hard_linked_file_once),
        cmocka_unit_test_setup_teardown(test_walk_order_one_fs_warnings, s_tree_setup, s_tree_teardown),
        cmocka_unit_test_setup_teardown(test_scanner_job, s_tree_setup, s_tree_teardown),
        cmocka_unit_test_setup_teardown(test_scanner_host_scan, s_tree_setup, s_tree_teardown),
        cmocka_unit_test(test_job_ids),
        cmocka_unit_test_setup_teardown(test_scan_stat_xattrs, s_tree_setup, s_tree_teardown),
        cmocka_unit_test_setup_teardown(test_fs_id, s_tree_setup, s_tree_teardown),
        cmocka_unit_test_setup_teardown(test_scanner_manifest, s_tree_setup, s_tree_teardown),
        cmocka_unit_test(test_file_rows_parts),
        cmocka_unit_test_setup_teardown(test_archiver_rows, s_tree_setup, s_tree_teardown),
        cmocka_unit_test(test_archiver_bad_compression),
        cmocka_unit_test(test_sidecar_records),
        cmocka_unit_test(test_job_check_refuses_an_unconfigured_target),
        cmocka_unit_test(test_job_check_refuses_ids_too_long),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
