/*  test_manifest - levels, manifests and restore plans of chains (issue 11) against a real
    catalog file: the level decision and its upgrade reasons, change detection of each kind,
    tombstones and renames, a redelivered diff batch, an unreadable base, restore plans that
    take each path from the newest job holding it, job_at, and an incremental with nothing to
    store completing. Items go through the codec both ways, as the broker delivers them. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_testcatalog.h"

typedef tf_testcatalog_t fx_t;

static int
s_setup(void **state)
{
    fx_t *fx = tf_testcatalog_new("tfmanifest", 1780000000000);
    assert_non_null(fx);
    *state = fx;
    return 0;
}

static int
s_teardown(void **state)
{
    fx_t *fx = *state;
    tf_testcatalog_destroy(&fx);
    return 0;
}

static void
s_ok(fx_t *fx, const tf_msg_t *msg, tf_msg_t *reply)
{
    if (tf_testcatalog_item(fx, msg, reply) != TF_OK)
        fail_msg("item failed: %s", fx->err.message);
}

/* Runs SQL on the catalog file as an operator's tool would (what no item can do: a job
   expiring, a manifest lost). */
static void
s_sql(fx_t *fx, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(fx->db, &db), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
    sqlite3_close(db);
}

/* --- jobs -------------------------------------------------------------------------------- */

static void
s_create(fx_t *fx, const char *job, const char *level, const char *schedule, const char *paths)
{
    tf_msg_path_row_t rows[8];
    char buf[256];
    snprintf(buf, sizeof buf, "%s", paths);
    size_t n = 0;
    for (char *save = NULL, *p = strtok_r(buf, " ", &save); p && n < 8; p = strtok_r(NULL, " ", &save))
        rows[n++].path = p;
    fx->now += 60000;
    tf_msg_t m = {.type = TF_MSG_CAT_JOB};
    m.cat_job = (tf_msg_cat_job_t){.job_id = (char *) job, .op = "create", .paths = rows, .paths_count = n,
                                   .pool = "default", .compression = "zstd", .level = (char *) level,
                                   .schedule = (char *) schedule, .time_ms = fx->now,
                                   .trigger = schedule ? "schedule nightly at 2026-06-01T04:00:00Z" : NULL,
                                   .trigger_ms = schedule ? 1780286400000 : 0};
    s_ok(fx, &m, NULL);
}

/* The job row as the "job" query returns it (caller clears *reply). */
static const tf_msg_job_row_t *
s_job(fx_t *fx, const char *job, tf_msg_t *reply)
{
    tf_msg_t q = {.type = TF_MSG_CAT_QUERY};
    q.cat_query = (tf_msg_cat_query_t){.query = "job", .job_id = (char *) job};
    s_ok(fx, &q, reply);
    assert_int_equal(reply->cat_reply.jobs_count, 1);
    return &reply->cat_reply.jobs[0];
}

static void
s_assert_level(fx_t *fx, const char *job, const char *level, const char *base, const char *reason)
{
    tf_msg_t r;
    const tf_msg_job_row_t *j = s_job(fx, job, &r);
    assert_string_equal(j->level, level);
    if (base)
        assert_string_equal(j->base_job, base);
    else
        assert_null(j->base_job);
    if (reason)
        assert_string_equal(j->level_reason, reason);
    else
        assert_null(j->level_reason);
    tf_msg_clear(&r);
}

/* --- scans ------------------------------------------------------------------------------- */

/* A walked entry: a regular file unless type says otherwise. */
static tf_msg_manifest_row_t
s_entry(const char *path, uint64_t ino, uint64_t size, int64_t mtime_ns)
{
    return (tf_msg_manifest_row_t){.path = (char *) path, .type = "file", .size = size, .mtime_ns = mtime_ns,
                                   .ctime_ns = mtime_ns, .ino = ino, .mode = 0100644, .uid = 1000,
                                   .gid = 1000, .nlink = 1, .fs = "uuid:0a1b2c3d-0000-4000-8000-000000000001"};
}

static int
s_manifest(fx_t *fx, const char *job, const char *op, uint64_t seq, tf_msg_manifest_row_t *rows, size_t count,
           tf_msg_t *reply)
{
    tf_msg_t m = {.type = TF_MSG_CAT_MANIFEST};
    m.cat_manifest = (tf_msg_cat_manifest_t){.job_id = (char *) job, .op = (char *) op, .seq = seq,
                                             .rows = rows, .rows_count = count};
    return tf_testcatalog_item(fx, &m, reply);
}

/* What a scan reported: taken[i] = reason of rows[i] (NULL: unchanged), and the end's counts. */
typedef struct {
    char *taken[32];
    uint64_t unchanged, deleted, renamed;
} s_scan_t;

static void
s_scan_clear(s_scan_t *scan)
{
    for (size_t i = 0; i < 32; i++)
        free(scan->taken[i]);
    memset(scan, 0, sizeof *scan);
}

/* begin, one diff batch, end - as the scanner does. */
static void
s_scan(fx_t *fx, const char *job, tf_msg_manifest_row_t *rows, size_t count, s_scan_t *out)
{
    memset(out, 0, sizeof *out);
    assert_true(count <= 32);
    tf_msg_t r;
    if (s_manifest(fx, job, "begin", 0, NULL, 0, &r) != TF_OK)
        fail_msg("begin: %s", fx->err.message);
    tf_msg_clear(&r);
    if (s_manifest(fx, job, "diff", 1, rows, count, &r) != TF_OK)
        fail_msg("diff: %s", fx->err.message);
    for (size_t i = 0; i < r.cat_manifest_reply.take_count; i++) {
        const tf_msg_take_row_t *t = &r.cat_manifest_reply.take[i];
        assert_true(t->index < count);
        out->taken[t->index] = strdup(t->reason);
    }
    assert_int_equal(r.cat_manifest_reply.unchanged + r.cat_manifest_reply.take_count, count);
    tf_msg_clear(&r);
    if (s_manifest(fx, job, "end", 0, NULL, 0, &r) != TF_OK)
        fail_msg("end: %s", fx->err.message);
    out->unchanged = r.cat_manifest_reply.unchanged;
    out->deleted = r.cat_manifest_reply.deleted;
    out->renamed = r.cat_manifest_reply.renamed;
    tf_msg_clear(&r);
}

/* The compressor, scan report and tape writer of a job that stores the taken entries in one
   archive "<job>-g00001" at tape file tape_file (none when nothing was taken): the job
   completes. */
static void
s_store(fx_t *fx, const char *job, tf_msg_manifest_row_t *rows, size_t count, const s_scan_t *scan,
        uint64_t tape_file)
{
    tf_msg_file_row_t files[32];
    size_t n = 0;
    for (size_t i = 0; i < count; i++)
        if (scan->taken[i])
            files[n++] = (tf_msg_file_row_t){.path = rows[i].path[1] ? rows[i].path + 1 : ".",   /* as archiver.c */
                                             .type = rows[i].type, .size = rows[i].size,
                                             .mode = rows[i].mode & 07777};
    char archive[128];
    snprintf(archive, sizeof archive, "%s-g00001", job);
    if (n > 0) {
        tf_msg_t m = {.type = TF_MSG_CAT_FILES};
        m.cat_files = (tf_msg_cat_files_t){.job_id = (char *) job, .archive_id = archive, .part = 1,
                                           .files = files, .files_count = n};
        s_ok(fx, &m, NULL);
    }
    tf_msg_t m = {.type = TF_MSG_CAT_JOB};
    m.cat_job = (tf_msg_cat_job_t){.job_id = (char *) job, .op = "scanned", .files_total = n,
                                   .groups_total = n > 0 ? 1 : 0, .message = "scanned"};
    s_ok(fx, &m, NULL);
    if (n > 0) {
        tf_msg_t w = {.type = TF_MSG_CAT_WRITTEN};
        w.cat_written = (tf_msg_cat_written_t){.job_id = (char *) job, .archive_id = archive, .volume = "TF0001",
                                               .drive = "tape0", .tape_file = tape_file, .block = tape_file * 10,
                                               .blocks = 5, .size = 4096, .checksum = "xxh128:ab", .files = n};
        s_ok(fx, &w, NULL);
    }
    tf_msg_t r;
    assert_string_equal(s_job(fx, job, &r)->status, "completed");
    tf_msg_clear(&r);
}

/* A full job of paths that scans rows and stores them all at tape file tape_file: completed. */
static void
s_full(fx_t *fx, const char *job, const char *paths, tf_msg_manifest_row_t *rows, size_t count, uint64_t tape_file)
{
    s_scan_t scan;
    s_create(fx, job, "full", NULL, paths);
    s_scan(fx, job, rows, count, &scan);
    s_store(fx, job, rows, count, &scan, tape_file);
    s_scan_clear(&scan);
}

/* The compressor's part 1 of archive "<job>-g00001": its file rows and entry warnings. */
static void
s_files(fx_t *fx, const char *job, tf_msg_file_row_t *files, size_t count, tf_msg_warning_row_t *warnings,
        size_t warnings_count)
{
    char archive[128];
    snprintf(archive, sizeof archive, "%s-g00001", job);
    tf_msg_t m = {.type = TF_MSG_CAT_FILES};
    m.cat_files = (tf_msg_cat_files_t){.job_id = (char *) job, .archive_id = archive, .part = 1, .files = files,
                                       .files_count = count, .warnings = warnings, .warnings_count = warnings_count};
    s_ok(fx, &m, NULL);
}

/* Archive "<job>-g00001" (files entries) on tape at file 1, and the scan's report of
   files_total entries in 1 group: the job ends. */
static void
s_written_scanned(fx_t *fx, const char *job, uint64_t files, uint64_t files_total)
{
    char archive[128];
    snprintf(archive, sizeof archive, "%s-g00001", job);
    tf_msg_t w = {.type = TF_MSG_CAT_WRITTEN};
    w.cat_written = (tf_msg_cat_written_t){.job_id = (char *) job, .archive_id = archive, .volume = "TF0001",
                                           .drive = "tape0", .checksum = "xxh128:ab",
                                           .tape_file = 1, .blocks = 5, .size = 4096, .files = files};
    s_ok(fx, &w, NULL);
    tf_msg_t m = {.type = TF_MSG_CAT_JOB};
    m.cat_job = (tf_msg_cat_job_t){.job_id = (char *) job, .op = "scanned", .files_total = files_total,
                                   .groups_total = 1, .message = "scanned"};
    s_ok(fx, &m, NULL);
}

/* The manifest row of path in the job (caller clears *reply). */
static const tf_msg_manifest_row_t *
s_row(fx_t *fx, const char *job, const char *path, tf_msg_t *reply)
{
    tf_msg_t q = {.type = TF_MSG_CAT_QUERY};
    q.cat_query = (tf_msg_cat_query_t){.query = "manifest", .job_id = (char *) job};
    s_ok(fx, &q, reply);
    for (size_t i = 0; i < reply->cat_reply.manifest_count; i++)
        if (strcmp(reply->cat_reply.manifest[i].path, path) == 0)
            return &reply->cat_reply.manifest[i];
    fail_msg("job %s has no manifest row %s", job, path);
    return NULL;
}

static void
s_assert_row(fx_t *fx, const char *job, const char *path, const char *reason, const char *data_job, bool deleted)
{
    tf_msg_t r;
    const tf_msg_manifest_row_t *row = s_row(fx, job, path, &r);
    assert_string_equal(row->reason, reason);
    if (data_job)
        assert_string_equal(row->data_job, data_job);
    else
        assert_null(row->data_job);
    assert_int_equal(row->deleted, deleted);
    tf_msg_clear(&r);
}

/* --- the chain of test_chain ------------------------------------------------------------- */

enum { E_DIR, E_SAME, E_SIZE, E_CTIME, E_XATTR, E_MODE, E_OWNER, E_GONE, E_MOVED, E_COUNT };

static void
s_tree_full(tf_msg_manifest_row_t *rows)
{
    rows[E_DIR] = s_entry("/data", 10, 0, 1000);
    rows[E_DIR].type = "dir";
    rows[E_DIR].mode = 040755;
    rows[E_SAME] = s_entry("/data/same", 11, 100, 1000);
    rows[E_SIZE] = s_entry("/data/size", 12, 100, 1000);
    rows[E_CTIME] = s_entry("/data/ctime", 13, 100, 1000);
    rows[E_XATTR] = s_entry("/data/xattr", 14, 100, 1000);
    rows[E_XATTR].xattrs = "xxh64:0000000000000001";
    rows[E_MODE] = s_entry("/data/mode", 15, 100, 1000);
    rows[E_OWNER] = s_entry("/data/owner", 16, 100, 1000);
    rows[E_GONE] = s_entry("/data/gone", 17, 100, 1000);
    rows[E_MOVED] = s_entry("/data/moved", 18, 100, 1000);
}

/* Full J1, then incremental J2 with one entry of each kind of change, J3 with nothing
   changed (0 groups: completes), then differential J4 whose base is the full. */
static void
test_chain(void **state)
{
    fx_t *fx = *state;
    tf_msg_manifest_row_t full[E_COUNT];
    s_tree_full(full);
    s_create(fx, "J1", "full", NULL, "/data");
    s_assert_level(fx, "J1", "full", NULL, NULL);
    s_scan_t scan;
    s_scan(fx, "J1", full, E_COUNT, &scan);
    for (int i = 0; i < E_COUNT; i++)
        assert_string_equal(scan.taken[i], "full");
    s_store(fx, "J1", full, E_COUNT, &scan, 1);
    s_scan_clear(&scan);

    s_create(fx, "J2", "incremental", NULL, "/data");
    s_assert_level(fx, "J2", "incremental", "J1", NULL);
    tf_msg_manifest_row_t inc[E_COUNT + 1];
    s_tree_full(inc);
    inc[E_DIR].mtime_ns = inc[E_DIR].ctime_ns = 2000;    /* entries added and removed */
    inc[E_SIZE].size = 200;
    inc[E_SIZE].mtime_ns = inc[E_SIZE].ctime_ns = 2000;
    inc[E_CTIME].ctime_ns = 2000;                         /* content rewritten, mtime put back */
    inc[E_XATTR].xattrs = "xxh64:0000000000000002";
    inc[E_MODE].mode = 0100600;
    inc[E_OWNER].gid = 0;
    inc[E_GONE] = s_entry("/data/new", 20, 5, 2000);      /* gone is not walked; new is */
    inc[E_MOVED] = s_entry("/data/renamed", 18, 100, 1000); /* the same inode under a new name */
    s_scan(fx, "J2", inc, E_COUNT, &scan);
    assert_string_equal(scan.taken[E_DIR], "changed: mtime, ctime");
    assert_null(scan.taken[E_SAME]);
    assert_string_equal(scan.taken[E_SIZE], "changed: size, mtime, ctime");
    assert_string_equal(scan.taken[E_CTIME], "changed: ctime");
    assert_string_equal(scan.taken[E_XATTR], "changed: xattrs");
    assert_string_equal(scan.taken[E_MODE], "changed: mode");
    assert_string_equal(scan.taken[E_OWNER], "changed: owner");
    assert_string_equal(scan.taken[E_GONE], "new");
    assert_string_equal(scan.taken[E_MOVED], "new");
    assert_int_equal(scan.unchanged, 1);
    assert_int_equal(scan.deleted, 2);
    assert_int_equal(scan.renamed, 1);
    s_store(fx, "J2", inc, E_COUNT, &scan, 2);
    s_scan_clear(&scan);

    s_assert_row(fx, "J2", "/data/same", "unchanged", "J1", false);
    s_assert_row(fx, "J2", "/data/gone", "deleted", NULL, true);
    s_assert_row(fx, "J2", "/data/moved", "renamed to /data/renamed", NULL, true);
    s_assert_row(fx, "J2", "/data/renamed", "renamed from /data/moved", "J2", false);
    s_assert_row(fx, "J2", "/data/size", "changed: size, mtime, ctime", "J2", false);
    tf_msg_t r;
    const tf_msg_job_row_t *j = s_job(fx, "J2", &r);
    assert_int_equal(j->files_unchanged, 1);
    assert_int_equal(j->files_deleted, 2);
    assert_string_equal(j->level_requested, "incremental");
    assert_string_equal(j->trigger, "manual");
    tf_msg_clear(&r);

    /* Restore of J2: same from J1's archive (the only entry it still provides, so a take
       list), the rest from J2's whole archive; gone and moved come from nowhere. */
    tf_msg_t q = {.type = TF_MSG_CAT_QUERY};
    q.cat_query = (tf_msg_cat_query_t){.query = "restore_plan", .job_id = "J2"};
    s_ok(fx, &q, &r);
    tf_msg_cat_reply_t *plan = &r.cat_reply;
    assert_int_equal(plan->archives_count, 2);
    assert_int_equal(plan->missing_count, 0);
    assert_string_equal(plan->archives[0].archive_id, "J1-g00001");   /* tape order */
    assert_true(plan->archives[0].take_some);
    assert_int_equal(plan->archives[0].take_count, 1);
    assert_string_equal(plan->archives[0].take[0].path, "data/same");
    assert_string_equal(plan->archives[1].archive_id, "J2-g00001");
    assert_false(plan->archives[1].take_some);
    assert_int_equal(plan->archives[1].take_count, 0);
    tf_msg_clear(&r);

    /* A pattern: only archives holding what lies below it; J1's archive holds nothing else
       matching it, so the restore's own pattern is enough (no take list). */
    q.cat_query.pattern = "/data/same";
    s_ok(fx, &q, &r);
    assert_int_equal(r.cat_reply.archives_count, 1);
    assert_string_equal(r.cat_reply.archives[0].archive_id, "J1-g00001");
    assert_false(r.cat_reply.archives[0].take_some);
    tf_msg_clear(&r);
    q.cat_query.pattern = "/data";
    s_ok(fx, &q, &r);
    assert_int_equal(r.cat_reply.archives_count, 2);
    assert_true(r.cat_reply.archives[0].take_some);
    tf_msg_clear(&r);

    /* J3: nothing changed since J2 - nothing to store, and the job still completes. */
    s_create(fx, "J3", "incremental", NULL, "/data");
    s_assert_level(fx, "J3", "incremental", "J2", NULL);
    s_scan(fx, "J3", inc, E_COUNT, &scan);
    for (int i = 0; i < E_COUNT; i++)
        assert_null(scan.taken[i]);
    assert_int_equal(scan.unchanged, E_COUNT);
    assert_int_equal(scan.deleted, 0);
    s_store(fx, "J3", inc, E_COUNT, &scan, 0);
    s_scan_clear(&scan);
    s_assert_row(fx, "J3", "/data/size", "unchanged", "J2", false);
    q.cat_query = (tf_msg_cat_query_t){.query = "restore_plan", .job_id = "J3"};
    s_ok(fx, &q, &r);
    assert_int_equal(r.cat_reply.archives_count, 2);
    assert_true(r.cat_reply.archives[0].take_some);
    assert_false(r.cat_reply.archives[1].take_some);
    tf_msg_clear(&r);

    /* J4 differential: against the full, whatever incrementals came between. */
    s_create(fx, "J4", "differential", NULL, "/data");
    s_assert_level(fx, "J4", "differential", "J1", NULL);
    s_scan(fx, "J4", inc, E_COUNT, &scan);
    assert_string_equal(scan.taken[E_SIZE], "changed: size, mtime, ctime");
    assert_null(scan.taken[E_SAME]);
    assert_int_equal(scan.deleted, 2);
    s_scan_clear(&scan);
}

/* Upgrades to full, each with its recorded reason; a repeated create changes nothing. */
static void
test_upgrade_reasons(void **state)
{
    fx_t *fx = *state;
    s_create(fx, "U1", "incremental", NULL, "/u");
    s_assert_level(fx, "U1", "full", NULL, "no previous full of these sources");
    s_create(fx, "S1", "incremental", "nightly", "/s");
    s_assert_level(fx, "S1", "full", NULL, "no previous full of schedule nightly");

    /* A full of the schedule, then the schedule's paths change. */
    tf_msg_manifest_row_t rows[1] = {s_entry("/s/f", 1, 1, 1)};
    s_scan_t scan;
    s_scan(fx, "S1", rows, 1, &scan);
    s_store(fx, "S1", rows, 1, &scan, 1);
    s_scan_clear(&scan);
    s_create(fx, "S2", "incremental", "nightly", "/s /t");
    s_assert_level(fx, "S2", "full", NULL, "the source set changed since full S1");
    s_create(fx, "S3", "incremental", "nightly", "/s");
    s_assert_level(fx, "S3", "incremental", "S1", NULL);

    /* The full expires: the next incremental of its sources is a full, saying why. */
    rows[0] = s_entry("/u/f", 2, 1, 1);
    s_scan(fx, "U1", rows, 1, &scan);
    s_store(fx, "U1", rows, 1, &scan, 2);
    s_scan_clear(&scan);
    s_create(fx, "U2", "differential", NULL, "/u");
    s_assert_level(fx, "U2", "differential", "U1", NULL);
    s_sql(fx, "UPDATE jobs SET status = 'expired' WHERE job_id = 'U1'");
    s_create(fx, "U3", "incremental", NULL, "/u");
    s_assert_level(fx, "U3", "full", NULL, "the previous full U1 expired");
    s_sql(fx, "UPDATE jobs SET status = 'completed' WHERE job_id = 'U1'");
    s_create(fx, "U3", "incremental", NULL, "/u");   /* redelivered: the first decision stays */
    s_assert_level(fx, "U3", "full", NULL, "the previous full U1 expired");
    s_create(fx, "U2", "differential", NULL, "/u");
    s_assert_level(fx, "U2", "differential", "U1", NULL);

    /* A job that never recorded a complete manifest is no base. */
    s_create(fx, "V1", "full", NULL, "/v");
    s_store(fx, "V1", rows, 0, &scan, 0);
    s_create(fx, "V2", "incremental", NULL, "/v");
    s_assert_level(fx, "V2", "full", NULL, "no previous full of these sources");
}

/* A base whose manifest cannot be read fails the scan for good, saying what to do. */
static void
test_unreadable_base(void **state)
{
    fx_t *fx = *state;
    tf_msg_manifest_row_t rows[1] = {s_entry("/data/f", 1, 1, 1)};
    s_full(fx, "B1", "/data", rows, 1, 1);
    s_create(fx, "B2", "incremental", NULL, "/data");
    s_assert_level(fx, "B2", "incremental", "B1", NULL);

    s_sql(fx, "DELETE FROM manifest_scans WHERE job_id = 'B1'");
    tf_msg_t r;
    assert_int_equal(s_manifest(fx, "B2", "begin", 0, NULL, 0, &r), TF_ERR_INVALID);
    assert_string_equal(fx->err.message, "the manifest of base job B1 (full) cannot be read: its scan never "
                        "recorded a complete manifest; run a full backup: tapeflow backup --level full /data");
    const tf_msg_job_row_t *j = s_job(fx, "B2", &r);
    assert_string_equal(j->status, "failed");       /* the item failed for good: so did the job */
    assert_string_equal(j->level, "incremental");   /* never upgraded silently */
    tf_msg_clear(&r);

    s_create(fx, "B3", "incremental", NULL, "/other");
    s_sql(fx, "UPDATE jobs SET level = 'incremental', base_job = 'B0' WHERE job_id = 'B3'");
    assert_int_equal(s_manifest(fx, "B3", "begin", 0, NULL, 0, &r), TF_ERR_INVALID);
    assert_string_equal(fx->err.message, "the manifest of base job B0 (no longer in the catalog) cannot be read: "
                        "the job is not in the catalog; run a full backup: tapeflow backup --level full /other");
}

/* The same diff batch twice: the same reply, nothing counted twice; a rescan starts clean. */
static void
test_redelivered_diff(void **state)
{
    fx_t *fx = *state;
    tf_msg_manifest_row_t rows[3] = {s_entry("/d/a", 1, 1, 1), s_entry("/d/b", 2, 1, 1), s_entry("/d/c", 3, 1, 1)};
    s_scan_t scan;
    s_full(fx, "R1", "/d", rows, 3, 1);
    s_create(fx, "R2", "incremental", NULL, "/d");
    rows[1].size = 9;
    tf_msg_t first, again;
    assert_int_equal(s_manifest(fx, "R2", "begin", 0, NULL, 0, &first), TF_OK);
    tf_msg_clear(&first);
    assert_int_equal(s_manifest(fx, "R2", "diff", 1, rows, 3, &first), TF_OK);
    assert_int_equal(s_manifest(fx, "R2", "diff", 1, rows, 3, &again), TF_OK);
    assert_int_equal(first.cat_manifest_reply.take_count, 1);
    assert_int_equal(again.cat_manifest_reply.take_count, 1);
    assert_int_equal(again.cat_manifest_reply.take[0].index, first.cat_manifest_reply.take[0].index);
    assert_string_equal(again.cat_manifest_reply.take[0].reason, "changed: size");
    assert_int_equal(again.cat_manifest_reply.unchanged, first.cat_manifest_reply.unchanged);
    tf_msg_clear(&first);
    tf_msg_clear(&again);
    assert_int_equal(s_manifest(fx, "R2", "end", 0, NULL, 0, &first), TF_OK);
    assert_int_equal(s_manifest(fx, "R2", "end", 0, NULL, 0, &again), TF_OK);
    assert_int_equal(again.cat_manifest_reply.unchanged, 2);
    assert_int_equal(again.cat_manifest_reply.deleted, 0);
    tf_msg_clear(&first);
    tf_msg_clear(&again);
    tf_msg_t r;
    assert_int_equal(s_job(fx, "R2", &r)->files_unchanged, 2);
    tf_msg_clear(&r);
    /* A rescan of fewer entries: the earlier attempt's rows are gone. */
    s_scan(fx, "R2", rows, 2, &scan);
    assert_int_equal(scan.deleted, 1);
    assert_int_equal(s_job(fx, "R2", &r)->files_deleted, 1);
    tf_msg_clear(&r);
    s_scan_clear(&scan);
}

/* An entry the compressor could not store: not stored in the manifest, taken again by the
   next incremental, reported missing by the restore plan. */
static void
test_missing_entry(void **state)
{
    fx_t *fx = *state;
    tf_msg_manifest_row_t rows[2] = {s_entry("/m/ok", 1, 1, 1), s_entry("/m/vanished", 2, 1, 1)};
    s_scan_t scan;
    s_create(fx, "M1", "full", NULL, "/m");
    s_scan(fx, "M1", rows, 2, &scan);
    s_scan_clear(&scan);
    tf_msg_file_row_t file = {.path = "m/ok", .type = "file", .size = 1};
    tf_msg_warning_row_t warning = {.path = "/m/vanished", .reason = "vanished", .missing = true};
    s_files(fx, "M1", &file, 1, &warning, 1);
    s_assert_row(fx, "M1", "/m/vanished", "not stored: vanished", NULL, false);
    s_written_scanned(fx, "M1", 1, 2);

    tf_msg_t r;
    tf_msg_t q = {.type = TF_MSG_CAT_QUERY};
    q.cat_query = (tf_msg_cat_query_t){.query = "restore_plan", .job_id = "M1"};
    s_ok(fx, &q, &r);
    assert_int_equal(r.cat_reply.archives_count, 1);
    assert_false(r.cat_reply.archives[0].take_some);
    assert_int_equal(r.cat_reply.missing_count, 1);
    assert_string_equal(r.cat_reply.missing[0].path, "/m/vanished");
    assert_string_equal(r.cat_reply.missing[0].reason, "not stored: vanished");
    tf_msg_clear(&r);

    s_create(fx, "M2", "incremental", NULL, "/m");
    s_assert_level(fx, "M2", "incremental", "M1", NULL);
    s_scan(fx, "M2", rows, 2, &scan);
    assert_null(scan.taken[0]);
    assert_string_equal(scan.taken[1], "not stored in base");
    s_scan_clear(&scan);

    /* A content row that is not on tape (its files row lost): "not on tape: job J". */
    s_sql(fx, "DELETE FROM files WHERE job_id = 'M1'");
    q.cat_query.job_id = "M2";
    s_ok(fx, &q, &r);
    assert_int_equal(r.cat_reply.missing_count, 2);
    assert_string_equal(r.cat_reply.missing[0].path, "/m/ok");
    assert_string_equal(r.cat_reply.missing[0].reason, "not on tape: job M1");
    tf_msg_clear(&r);
}

/* cat_replica op of job J on target "nas" with archive "<job>-g00001" as the replicator
   reports it (size 4000, checksum xxh128:r1). */
static void
s_replica_op(fx_t *fx, const char *op, const char *job)
{
    char archive[128];
    snprintf(archive, sizeof archive, "%s-g00001", job);
    tf_msg_replica_archive_t copy = {.archive_id = archive, .group_no = 1, .size = 4000, .checksum = "xxh128:r1",
                                     .files = 2, .bytes = 2, .compression = "zstd"};
    bool copied = strcmp(op, "copied") == 0;
    tf_msg_t m = {.type = TF_MSG_CAT_REPLICA}, r;
    m.cat_replica = (tf_msg_cat_replica_t){.op = (char *) op, .job_id = (char *) job, .target = "nas",
                                           .url = "smb://nas/backup", .required = true,
                                           .copies = copied ? &copy : NULL, .copies_count = copied ? 1 : 0};
    s_ok(fx, &m, &r);
    tf_msg_clear(&r);
}

/* The restore plan (or archives) of job with the given replica target (NULL: tape). */
static void
s_plan(fx_t *fx, const char *query, const char *job, const char *replica, tf_msg_t *reply)
{
    tf_msg_t q = {.type = TF_MSG_CAT_QUERY};
    q.cat_query = (tf_msg_cat_query_t){.query = (char *) query, .job_id = (char *) job, .replica = (char *) replica};
    s_ok(fx, &q, reply);
}

/* A job copied to a replication target and never written to tape: the plan of a restore from
   the replica holds its archive (with the replica's size and checksum) once the replica is
   verified, and never before; the tape's plan and another target's do not. */
static void
test_plan_from_replica(void **state)
{
    fx_t *fx = *state;
    fx->now += 60000;
    tf_msg_path_row_t path = {.path = "/r"};
    tf_msg_t m = {.type = TF_MSG_CAT_JOB};
    m.cat_job = (tf_msg_cat_job_t){.job_id = "R1", .op = "create", .paths = &path, .paths_count = 1,
                                   .pool = "default", .compression = "zstd", .level = "full", .time_ms = fx->now,
                                   .replicas = "nas", .replication = "required"};
    s_ok(fx, &m, NULL);
    tf_msg_manifest_row_t rows[2] = {s_entry("/r/a", 1, 1, 1), s_entry("/r/b", 2, 1, 1)};
    s_scan_t scan;
    s_scan(fx, "R1", rows, 2, &scan);
    s_scan_clear(&scan);
    tf_msg_file_row_t files[2] = {{.path = "r/a", .type = "file", .size = 1}, {.path = "r/b", .type = "file", .size = 1}};
    s_files(fx, "R1", files, 2, NULL, 0);
    m.cat_job = (tf_msg_cat_job_t){.job_id = "R1", .op = "scanned", .files_total = 2, .groups_total = 1,
                                   .message = "scanned"};
    s_ok(fx, &m, NULL);

    /* Copied, not committed yet: not a replica to read. */
    s_replica_op(fx, "copied", "R1");
    tf_msg_t r;
    s_plan(fx, "restore_plan", "R1", "nas", &r);
    assert_int_equal(r.cat_reply.archives_count, 0);
    assert_int_equal(r.cat_reply.missing_count, 2);
    assert_string_equal(r.cat_reply.missing[0].reason, "not on replica nas: job R1");
    tf_msg_clear(&r);

    s_replica_op(fx, "committed", "R1");
    s_plan(fx, "restore_plan", "R1", "nas", &r);
    assert_int_equal(r.cat_reply.archives_count, 1);
    assert_string_equal(r.cat_reply.archives[0].archive_id, "R1-g00001");
    assert_false(r.cat_reply.archives[0].written);
    assert_false(r.cat_reply.archives[0].take_some);
    assert_int_equal(r.cat_reply.archives[0].size, 4000);
    assert_string_equal(r.cat_reply.archives[0].checksum, "xxh128:r1");
    assert_int_equal(r.cat_reply.missing_count, 0);
    tf_msg_clear(&r);

    /* From tape: nothing there. From another target: nothing there either. */
    s_plan(fx, "restore_plan", "R1", NULL, &r);
    assert_int_equal(r.cat_reply.archives_count, 0);
    assert_int_equal(r.cat_reply.missing_count, 2);
    assert_string_equal(r.cat_reply.missing[0].reason, "not on tape: job R1");
    tf_msg_clear(&r);
    s_plan(fx, "restore_plan", "R1", "offsite", &r);
    assert_int_equal(r.cat_reply.archives_count, 0);
    tf_msg_clear(&r);

    /* The "archives" query (a job from before levels plans with it) follows the same rule. */
    s_plan(fx, "archives", "R1", "nas", &r);
    assert_int_equal(r.cat_reply.archives_count, 1);
    assert_string_equal(r.cat_reply.archives[0].checksum, "xxh128:r1");
    tf_msg_clear(&r);
    s_plan(fx, "archives", "R1", NULL, &r);
    assert_int_equal(r.cat_reply.archives_count, 0);
    tf_msg_clear(&r);

    /* A replica the catalog no longer has as verified (retention deleted it) is not read. */
    s_replica_op(fx, "deleted", "R1");
    s_plan(fx, "restore_plan", "R1", "nas", &r);
    assert_int_equal(r.cat_reply.archives_count, 0);
    tf_msg_clear(&r);
}

/* A job from before levels (no manifest): its restore plan is the "archives" answer. */
static void
test_plan_without_manifest(void **state)
{
    fx_t *fx = *state;
    s_create(fx, "L1", NULL, NULL, "/l");
    tf_msg_manifest_row_t rows[2] = {s_entry("/l/a", 1, 1, 1), s_entry("/l/b", 2, 1, 1)};
    s_scan_t scan = {.taken = {strdup("full"), strdup("full")}};
    s_store(fx, "L1", rows, 2, &scan, 1);
    s_scan_clear(&scan);
    tf_msg_t r;
    tf_msg_t q = {.type = TF_MSG_CAT_QUERY};
    q.cat_query = (tf_msg_cat_query_t){.query = "restore_plan", .job_id = "L1"};
    s_ok(fx, &q, &r);
    assert_int_equal(r.cat_reply.archives_count, 1);
    assert_string_equal(r.cat_reply.archives[0].archive_id, "L1-g00001");
    assert_false(r.cat_reply.archives[0].take_some);
    tf_msg_clear(&r);
}

static int
s_job_at(fx_t *fx, const char *source, int64_t at_ms, char *job, size_t size)
{
    tf_msg_t q = {.type = TF_MSG_CAT_QUERY};
    q.cat_query = (tf_msg_cat_query_t){.query = "job_at", .pattern = (char *) source, .at_ms = at_ms};
    tf_msg_t r;
    int rc = tf_testcatalog_item(fx, &q, &r);
    if (rc == TF_OK) {
        assert_int_equal(r.cat_reply.jobs_count, 1);
        snprintf(job, size, "%s", r.cat_reply.jobs[0].job_id);
        tf_msg_clear(&r);
    }
    return rc;
}

/* job_at: the newest completed job at or before the time whose sources hold the source. */
static void
test_job_at(void **state)
{
    fx_t *fx = *state;
    tf_msg_manifest_row_t rows[1] = {s_entry("/srv/f", 1, 1, 1)};
    s_scan_t scan = {.taken = {strdup("full")}};
    s_create(fx, "A1", "full", NULL, "/srv");
    s_store(fx, "A1", rows, 1, &scan, 1);
    int64_t t1 = fx->now;
    s_create(fx, "A2", "full", NULL, "hostb:/srv");
    s_store(fx, "A2", rows, 1, &scan, 2);
    int64_t t2 = fx->now;
    s_create(fx, "A3", "full", NULL, "/srv /other");   /* never completes */
    s_scan_clear(&scan);

    char job[64];
    assert_int_equal(s_job_at(fx, "/srv/f", t1 + 1000, job, sizeof job), TF_OK);
    assert_string_equal(job, "A1");
    assert_int_equal(s_job_at(fx, "/srv/f/", t2, job, sizeof job), TF_OK);
    assert_string_equal(job, "A2");   /* no host given: any host's /srv */
    assert_int_equal(s_job_at(fx, "hostb:/srv/f", fx->now + 1000, job, sizeof job), TF_OK);
    assert_string_equal(job, "A2");
    assert_int_equal(s_job_at(fx, "hostc:/srv/f", fx->now, job, sizeof job), TF_ERR_NOTFOUND);
    assert_int_equal(s_job_at(fx, "/srvx", fx->now, job, sizeof job), TF_ERR_NOTFOUND);
    assert_int_equal(s_job_at(fx, "/srv", t1 - 1, job, sizeof job), TF_ERR_NOTFOUND);
    assert_non_null(strstr(fx->err.message, "no completed backup of /srv at or before 2026-"));
}

/* A full batch (2000 rows, the scanner's batch size) compared row by row with its base. */
static void
test_big_batch(void **state)
{
    fx_t *fx = *state;
    enum { N = 2000 };
    tf_msg_manifest_row_t *rows = calloc(N, sizeof *rows);
    char (*paths)[32] = calloc(N, sizeof *paths);
    assert_true(rows && paths);
    for (int i = 0; i < N; i++) {
        snprintf(paths[i], sizeof paths[i], "/big/f%05d", i);
        rows[i] = s_entry(paths[i], (uint64_t) i + 100, 10, 1000);
    }
    tf_msg_t r;
    for (int pass = 0; pass < 2; pass++) {
        const char *job = pass == 0 ? "G1" : "G2";
        s_create(fx, job, pass == 0 ? "full" : "incremental", NULL, "/big");
        assert_int_equal(s_manifest(fx, job, "begin", 0, NULL, 0, &r), TF_OK);
        tf_msg_clear(&r);
        if (pass == 1)
            for (int i = 0; i < N; i += 100)
                rows[i].mtime_ns = 2000;
        assert_int_equal(s_manifest(fx, job, "diff", 1, rows, N, &r), TF_OK);
        assert_int_equal(r.cat_manifest_reply.take_count, pass == 0 ? N : N / 100);
        assert_int_equal(r.cat_manifest_reply.unchanged, pass == 0 ? 0 : N - N / 100);
        if (pass == 1) {
            assert_int_equal(r.cat_manifest_reply.take[1].index, 100);
            assert_string_equal(r.cat_manifest_reply.take[1].reason, "changed: mtime");
        }
        tf_msg_clear(&r);
        assert_int_equal(s_manifest(fx, job, "end", 0, NULL, 0, &r), TF_OK);
        tf_msg_clear(&r);
        if (pass == 0)   /* the full completes (its archive holds nothing here: 0 groups) */
            s_sql(fx, "UPDATE jobs SET status = 'completed' WHERE job_id = 'G1'");
    }
    /* One diff batch over the limit is refused for good. */
    tf_msg_manifest_row_t *more = realloc(rows, (N + 1) * sizeof *rows);
    assert_non_null(more);
    rows = more;
    rows[N] = s_entry("/big/extra", 1, 1, 1);
    assert_int_equal(s_manifest(fx, "G2", "diff", 2, rows, N + 1, &r), TF_ERR_TOOBIG);
    free(rows);
    free(paths);
}

/* A cat_manifest of scan run `run` (NULL: a scanner from before runs), with end's unread rows. */
static int
s_manifest_run(fx_t *fx, const char *job, const char *op, uint64_t seq, tf_msg_manifest_row_t *rows, size_t count,
               const char *run, tf_msg_warning_row_t *unread, size_t unread_count)
{
    tf_msg_t m = {.type = TF_MSG_CAT_MANIFEST}, reply;
    m.cat_manifest = (tf_msg_cat_manifest_t){.job_id = (char *) job, .op = (char *) op, .seq = seq,
                                             .rows = rows, .rows_count = count, .run = (char *) run,
                                             .unread = unread, .unread_count = unread_count};
    int rc = tf_testcatalog_item(fx, &m, &reply);
    tf_msg_clear(&reply);
    return rc;
}

/* A retried job's scan is a new run: the first run's late diff or end (or a repeated begin) is
   refused for good, and cannot mix its rows into the new run's manifest. */
static void
test_superseded_run(void **state)
{
    fx_t *fx = *state;
    tf_msg_manifest_row_t rows[2] = {s_entry("/r/a", 1, 1, 1), s_entry("/r/b", 2, 1, 1)};
    s_create(fx, "S1", "full", NULL, "/r");
    assert_int_equal(s_manifest_run(fx, "S1", "begin", 0, NULL, 0, "00000000000000aa", NULL, 0), TF_OK);
    assert_int_equal(s_manifest_run(fx, "S1", "diff", 1, rows, 1, "00000000000000aa", NULL, 0), TF_OK);
    /* the job is retried: run bb begins; a redelivered begin of bb is fine */
    assert_int_equal(s_manifest_run(fx, "S1", "begin", 0, NULL, 0, "00000000000000bb", NULL, 0), TF_OK);
    assert_int_equal(s_manifest_run(fx, "S1", "begin", 0, NULL, 0, "00000000000000bb", NULL, 0), TF_OK);
    const char *why = "scan run 00000000000000aa of job S1 host (local) was superseded by a newer scan";
    assert_int_equal(s_manifest_run(fx, "S1", "diff", 2, rows + 1, 1, "00000000000000aa", NULL, 0),
                     TF_ERR_INVALID);
    assert_string_equal(fx->err.message, why);
    assert_int_equal(s_manifest_run(fx, "S1", "end", 0, NULL, 0, "00000000000000aa", NULL, 0), TF_ERR_INVALID);
    assert_string_equal(fx->err.message, why);
    assert_int_equal(s_manifest_run(fx, "S1", "begin", 0, NULL, 0, "00000000000000aa", NULL, 0), TF_ERR_INVALID);
    /* a scanner without runs cannot write into a job whose scans have them */
    assert_int_equal(s_manifest_run(fx, "S1", "diff", 3, rows, 1, NULL, NULL, 0), TF_ERR_INVALID);
    assert_string_equal(fx->err.message, "scan run (none) of job S1 host (local) was superseded by a newer scan");
    /* the current run's manifest holds only its own rows */
    assert_int_equal(s_manifest_run(fx, "S1", "diff", 1, rows + 1, 1, "00000000000000bb", NULL, 0), TF_OK);
    assert_int_equal(s_manifest_run(fx, "S1", "end", 0, NULL, 0, "00000000000000bb", NULL, 0), TF_OK);
    tf_msg_t r;
    tf_msg_t q = {.type = TF_MSG_CAT_QUERY};
    q.cat_query = (tf_msg_cat_query_t){.query = "manifest", .job_id = "S1"};
    s_ok(fx, &q, &r);
    assert_int_equal(r.cat_reply.manifest_count, 1);
    assert_string_equal(r.cat_reply.manifest[0].path, "/r/b");
    tf_msg_clear(&r);
    /* runs are per host: another host's scan has its own */
    tf_msg_t m = {.type = TF_MSG_CAT_MANIFEST};
    m.cat_manifest = (tf_msg_cat_manifest_t){.job_id = "S1", .host = "nas", .op = "begin",
                                             .run = "00000000000000aa"};
    assert_int_equal(tf_testcatalog_item(fx, &m, &r), TF_OK);
    tf_msg_clear(&r);
}

/* A finished job's manifest is never changed again (it may be a base already); a scan of a job
   whose create has not arrived yet is handed back to be tried again. */
static void
test_finished_and_unknown_jobs(void **state)
{
    fx_t *fx = *state;
    tf_msg_manifest_row_t rows[1] = {s_entry("/f/a", 1, 1, 1)};
    s_full(fx, "F1", "/f", rows, 1, 1);
    const char *ops[] = {"begin", "diff", "end"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(s_manifest_run(fx, "F1", ops[i], 1, rows, 1, "00000000000000cc", NULL, 0), TF_ERR_INVALID);
        assert_string_equal(fx->err.message, "job F1 is finished; its manifest is not changed");
    }
    s_assert_row(fx, "F1", "/f/a", "full", "F1", false);
    s_sql(fx, "UPDATE jobs SET status = 'expired' WHERE job_id = 'F1'");
    assert_int_equal(s_manifest_run(fx, "F1", "begin", 0, NULL, 0, NULL, NULL, 0), TF_ERR_INVALID);

    /* TF_ERR_BUSY: the actor hands the item back (retryable), it is not failed for good */
    assert_int_equal(s_manifest_run(fx, "NOPE", "begin", 0, NULL, 0, "00000000000000dd", NULL, 0), TF_ERR_BUSY);
    assert_non_null(strstr(fx->err.message, "no job NOPE in the catalog yet"));
}

/* An incremental that could not list a folder or stat an entry keeps their base entries (with
   why) instead of recording them deleted; the job ends with the scan's warnings. */
static void
test_unread_kept(void **state)
{
    fx_t *fx = *state;
    tf_msg_manifest_row_t rows[6] = {s_entry("/u", 1, 0, 1), s_entry("/u/d", 2, 0, 1), s_entry("/u/d/a", 3, 1, 1),
                                     s_entry("/u/d/b", 4, 1, 1), s_entry("/u/x", 5, 1, 1), s_entry("/u/y", 6, 1, 1)};
    rows[0].type = rows[1].type = "dir";
    s_scan_t scan;
    s_full(fx, "U1", "/u", rows, 6, 1);

    /* /u/d cannot be listed now, /u/y cannot be stat'ed, /u/x is really gone */
    s_create(fx, "U2", "incremental", NULL, "/u");
    tf_msg_warning_row_t unread[2] = {{.path = "/u/d", .reason = "cannot read folder: Permission denied"},
                                      {.path = "/u/y", .reason = "cannot stat: Input/output error"}};
    const char *run = "00000000000000ee";
    assert_int_equal(s_manifest_run(fx, "U2", "begin", 0, NULL, 0, run, NULL, 0), TF_OK);
    assert_int_equal(s_manifest_run(fx, "U2", "diff", 1, rows, 2, run, NULL, 0), TF_OK);
    tf_msg_t m = {.type = TF_MSG_CAT_MANIFEST}, r;
    m.cat_manifest = (tf_msg_cat_manifest_t){.job_id = "U2", .op = "end", .run = (char *) run, .unread = unread,
                                             .unread_count = 2};
    s_ok(fx, &m, &r);
    assert_int_equal(r.cat_manifest_reply.deleted, 1);
    assert_int_equal(r.cat_manifest_reply.unchanged, 5);
    tf_msg_clear(&r);
    s_assert_row(fx, "U2", "/u/d", "unchanged", "U1", false);
    s_assert_row(fx, "U2", "/u/d/a", "unchanged: not readable now (cannot read folder: Permission denied)", "U1",
                 false);
    s_assert_row(fx, "U2", "/u/d/b", "unchanged: not readable now (cannot read folder: Permission denied)", "U1",
                 false);
    s_assert_row(fx, "U2", "/u/y", "unchanged: not readable now (cannot stat: Input/output error)", "U1", false);
    s_assert_row(fx, "U2", "/u/x", "deleted", NULL, true);
    /* the scan warned: nothing to store, the job ends with warnings */
    tf_msg_t job = {.type = TF_MSG_CAT_JOB};
    job.cat_job = (tf_msg_cat_job_t){.job_id = "U2", .op = "scanned", .warnings = 2,
                                     .message = "scanned 0 entries; 2 warning(s): /u/d: cannot read folder: "
                                                "Permission denied; /u/y: cannot stat: Input/output error"};
    s_ok(fx, &job, NULL);
    assert_string_equal(s_job(fx, "U2", &r)->status, "completed_with_warnings");
    tf_msg_clear(&r);
    /* the next incremental compares with the kept rows: /u/d/a unchanged, carried from U1 */
    s_create(fx, "U3", "incremental", NULL, "/u");
    s_assert_level(fx, "U3", "incremental", "U2", NULL);
    tf_msg_manifest_row_t now[4] = {rows[0], rows[1], rows[2], rows[3]};
    s_scan(fx, "U3", now, 4, &scan);
    for (size_t i = 0; i < 4; i++)
        assert_null(scan.taken[i]);
    s_scan_clear(&scan);
    s_assert_row(fx, "U3", "/u/d/a", "unchanged", "U1", false);
    s_assert_row(fx, "U3", "/u/y", "deleted", NULL, true);
}

/* An entry stored incomplete (a read error: the rest is zeros) keeps its data_job, says so,
   and is taken again by the next incremental although its stat did not change. */
static void
test_stored_incomplete(void **state)
{
    fx_t *fx = *state;
    tf_msg_manifest_row_t rows[2] = {s_entry("/i/ok", 1, 1, 1), s_entry("/i/vm.img", 2, 1, 1)};
    s_scan_t scan;
    s_create(fx, "I1", "full", NULL, "/i");
    s_scan(fx, "I1", rows, 2, &scan);
    s_scan_clear(&scan);
    tf_msg_file_row_t files[2] = {{.path = "i/ok", .type = "file", .size = 1},
                                  {.path = "i/vm.img", .type = "file", .size = 1}};
    tf_msg_warning_row_t warning = {.path = "/i/vm.img", .reason = "Input/output error while archiving; the rest "
                                    "is stored as zeros", .missing = false};
    s_files(fx, "I1", files, 2, &warning, 1);
    s_assert_row(fx, "I1", "/i/vm.img", "stored incomplete: Input/output error while archiving; the rest is "
                 "stored as zeros", "I1", false);
    s_assert_row(fx, "I1", "/i/ok", "full", "I1", false);
    s_written_scanned(fx, "I1", 2, 2);
    tf_msg_t r;
    assert_string_equal(s_job(fx, "I1", &r)->status, "completed_with_warnings");
    tf_msg_clear(&r);

    s_create(fx, "I2", "incremental", NULL, "/i");
    s_assert_level(fx, "I2", "incremental", "I1", NULL);
    s_scan(fx, "I2", rows, 2, &scan);
    assert_null(scan.taken[0]);
    assert_string_equal(scan.taken[1], "stored incomplete in base");
    s_scan_clear(&scan);
}

/* Entries the scan took that no archive of the job holds (a rescan took other entries than the
   deduplicated archive of an earlier attempt): not stored, the job completes with warnings
   saying how many, and the next incremental takes them again. */
static void
test_taken_not_stored(void **state)
{
    fx_t *fx = *state;
    tf_msg_manifest_row_t rows[3] = {s_entry("/", 1, 0, 1), s_entry("/a", 2, 1, 1), s_entry("/b", 3, 1, 1)};
    rows[0].type = "dir";
    s_scan_t scan;
    s_create(fx, "T1", "full", NULL, "/");
    s_scan(fx, "T1", rows, 3, &scan);
    s_scan_clear(&scan);
    /* the archive of an earlier attempt: ".", /a and /old - not /b */
    tf_msg_file_row_t files[3] = {{.path = ".", .type = "dir"}, {.path = "a", .type = "file", .size = 1},
                                  {.path = "old", .type = "file", .size = 1}};
    s_files(fx, "T1", files, 3, NULL, 0);
    s_written_scanned(fx, "T1", 3, 3);
    tf_msg_t r;
    const tf_msg_job_row_t *j = s_job(fx, "T1", &r);
    assert_string_equal(j->status, "completed_with_warnings");
    assert_string_equal(j->message, "completed with warnings: 1 entry the scan took is in no archive: "
                        "tapeflow job T1 --files");
    tf_msg_clear(&r);
    s_assert_row(fx, "T1", "/b", "not stored: no archive of the job holds it", NULL, false);
    s_assert_row(fx, "T1", "/", "full", "T1", false);
    s_assert_row(fx, "T1", "/a", "full", "T1", false);

    s_create(fx, "T2", "incremental", NULL, "/");
    s_assert_level(fx, "T2", "incremental", "T1", NULL);
    s_scan(fx, "T2", rows, 3, &scan);
    assert_null(scan.taken[0]);
    assert_null(scan.taken[1]);
    assert_string_equal(scan.taken[2], "not stored in base");
    s_scan_clear(&scan);
}

/* A rename whose other path is very long still fits the manifest query's reply. */
static void
test_long_rename(void **state)
{
    fx_t *fx = *state;
    static char old_path[4001], new_path[4001];
    memset(old_path, 'o', 4000);
    memset(new_path, 'n', 4000);
    memcpy(old_path, "/l/", 3);
    memcpy(new_path, "/l/", 3);
    tf_msg_manifest_row_t rows[2] = {s_entry("/l", 1, 0, 1), s_entry(old_path, 2, 5, 5)};
    rows[0].type = "dir";
    s_scan_t scan;
    s_full(fx, "N1", "/l", rows, 2, 1);
    s_create(fx, "N2", "incremental", NULL, "/l");
    rows[1].path = new_path;
    s_scan(fx, "N2", rows, 2, &scan);
    assert_int_equal(scan.renamed, 1);
    s_scan_clear(&scan);
    tf_msg_t r;
    const tf_msg_manifest_row_t *row = s_row(fx, "N2", old_path, &r);
    assert_true(strncmp(row->reason, "renamed to /l/nnn", 17) == 0);
    assert_true(strlen(row->reason) < TF_MSG_MAX_TEXT);
    assert_string_equal(row->reason + strlen(row->reason) - 3, "...");
    tf_msg_clear(&r);
}

/* The jobs a job depends on, as the "job" query says: ids joined with ' ' ("" for none). */
static void
s_assert_depends(fx_t *fx, const char *job, const char *expected)
{
    tf_msg_t r;
    const tf_msg_job_row_t *j = s_job(fx, job, &r);
    char got[256] = "";
    for (size_t i = 0; i < j->depends_on_count; i++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", i ? " " : "", j->depends_on[i].path);
    assert_string_equal(got, expected);
    tf_msg_clear(&r);
}

/* What a job depends on is recorded without reading manifests at query time: the base and
   what the base depends on from the level decision (a job being scanned needs them already),
   exactly the manifest's data_jobs once its scan has ended. */
static void
test_job_deps(void **state)
{
    fx_t *fx = *state;
    tf_msg_manifest_row_t rows[2] = {s_entry("/d/a", 1, 10, 1000), s_entry("/d/b", 2, 10, 1000)};
    s_scan_t scan;
    s_create(fx, "D1", "full", NULL, "/d");
    s_scan(fx, "D1", rows, 2, &scan);
    s_store(fx, "D1", rows, 2, &scan, 1);
    s_scan_clear(&scan);
    s_assert_depends(fx, "D1", "");

    rows[1].size = 20;   /* b changed: a comes from D1 */
    s_create(fx, "D2", "incremental", NULL, "/d");
    s_scan(fx, "D2", rows, 2, &scan);
    s_store(fx, "D2", rows, 2, &scan, 2);
    s_scan_clear(&scan);
    s_assert_depends(fx, "D2", "D1");

    s_create(fx, "D3", "incremental", NULL, "/d");
    s_assert_level(fx, "D3", "incremental", "D2", NULL);
    s_assert_depends(fx, "D3", "D1 D2");   /* before its scan: all its base may hand on */
    rows[0].size = 30;   /* both changed: D3 needs nothing of its chain */
    rows[1].size = 40;
    s_scan(fx, "D3", rows, 2, &scan);
    s_store(fx, "D3", rows, 2, &scan, 3);
    s_scan_clear(&scan);
    s_assert_depends(fx, "D3", "");
}

/* Two entries of /k: a full K1, K2 taking b, K3 taking nothing (it restores a from K1 and b
   from K2). */
static void
s_chain_k(fx_t *fx)
{
    tf_msg_manifest_row_t rows[2] = {s_entry("/k/a", 1, 10, 1000), s_entry("/k/b", 2, 10, 1000)};
    s_scan_t scan;
    const char *const jobs[] = {"K1", "K2", "K3"};
    for (int i = 0; i < 3; i++) {
        if (i == 1)
            rows[1].size = 20;
        s_create(fx, jobs[i], i == 0 ? "full" : "incremental", NULL, "/k");
        s_scan(fx, jobs[i], rows, 2, &scan);
        s_store(fx, jobs[i], rows, 2, &scan, (uint64_t) i + 1);
        s_scan_clear(&scan);
    }
    s_assert_level(fx, "K3", "incremental", "K2", NULL);
    s_assert_depends(fx, "K3", "K1 K2");
}

/* A job whose chain is broken is no base: K2's archive lost leaves K3 unrestorable, so the next
   incremental chains on K1; K1's lost too, and the next is a full saying which chain broke. */
static void
test_broken_chain(void **state)
{
    fx_t *fx = *state;
    s_chain_k(fx);
    s_sql(fx, "UPDATE archives SET lost = 1 WHERE job_id = 'K2'");
    s_create(fx, "K4", "incremental", NULL, "/k");
    s_assert_level(fx, "K4", "incremental", "K1", NULL);
    s_sql(fx, "UPDATE archives SET lost = 1 WHERE job_id = 'K1'");
    s_create(fx, "K5", "incremental", NULL, "/k");
    s_assert_level(fx, "K5", "full", NULL, "the chain of K3 is broken: its base K1 expired");
    s_create(fx, "K6", "differential", NULL, "/k");
    s_assert_level(fx, "K6", "full", NULL, "the chain of K3 is broken: its base K1 expired");
}

static bool
s_expire_all(void *arg, const char *pool)
{
    (void) arg;
    (void) pool;
    return true;
}

/* A volume past its expiry in a pool whose chain_retention is expire is gone for chains before
   it is recycled: its jobs are no base. With keep it is held, and they are. */
static void
test_base_expiring(void **state)
{
    fx_t *fx = *state;
    s_chain_k(fx);
    char sql[256];
    snprintf(sql, sizeof sql, "INSERT INTO volumes (label, pool, full, expires_ms) VALUES ('TF0001', 'default', 1, "
             "%" PRId64 ")", fx->now - 1);
    s_sql(fx, sql);
    catalog_set_chain_policy(fx->cat, s_expire_all, NULL);
    s_create(fx, "K4", "incremental", NULL, "/k");
    s_assert_level(fx, "K4", "full", NULL, "the chain of K3 is broken: its base K1 expired");
    catalog_set_chain_policy(fx->cat, NULL, NULL);
    s_create(fx, "K5", "incremental", NULL, "/k");
    s_assert_level(fx, "K5", "incremental", "K3", NULL);
}

/* A backup of '/': the root's stored path is '.', as the compressor stores it. An incremental
   that restores only the root from the full still needs the full's volume (orphan) and shows
   expired when the full's archive is lost. */
static void
test_root_chain(void **state)
{
    fx_t *fx = *state;
    tf_msg_manifest_row_t rows[2] = {s_entry("/", 1, 0, 1000), s_entry("/f", 2, 10, 1000)};
    rows[0].type = "dir";
    rows[0].mode = 040755;
    s_scan_t scan;
    for (int i = 0; i < 2; i++) {
        const char *job = i == 0 ? "R1" : "R2";
        rows[1].size = i == 0 ? 10 : 20;
        s_create(fx, job, i == 0 ? "full" : "incremental", NULL, "/");
        s_scan(fx, job, rows, 2, &scan);
        s_store(fx, job, rows, 2, &scan, (uint64_t) i + 1);
        s_scan_clear(&scan);
    }
    s_assert_row(fx, "R2", "/", "unchanged", "R1", false);
    s_assert_depends(fx, "R2", "R1");
    s_sql(fx, "UPDATE archives SET volume = 'TF0002' WHERE job_id = 'R2';"
              "INSERT INTO volumes (label, pool, full, expires_ms) VALUES ('TF0001', 'default', 1, 0), "
              "('TF0002', 'default', 0, 0)");
    tf_msg_t r;
    tf_msg_t q = {.type = TF_MSG_CAT_QUERY};
    q.cat_query = (tf_msg_cat_query_t){.query = "volumes", .pattern = "TF0001"};
    s_ok(fx, &q, &r);
    assert_int_equal(r.cat_reply.volumes_count, 1);
    assert_int_equal(r.cat_reply.volumes[0].orphans_count, 1);
    assert_string_equal(r.cat_reply.volumes[0].orphans[0].path, "R2");
    tf_msg_clear(&r);
    s_sql(fx, "UPDATE archives SET lost = 1 WHERE job_id = 'R1'");
    const tf_msg_job_row_t *j = s_job(fx, "R2", &r);
    assert_string_equal(j->status, "expired");
    assert_string_equal(j->message, "expired: its base R1 expired with volume TF0001");
    tf_msg_clear(&r);
}

/* begin, one diff batch and end of host's scan of job, as that host's scanner sends them. */
static void
s_host_scan(fx_t *fx, const char *job, const char *host, tf_msg_manifest_row_t *rows, size_t count)
{
    const char *const ops[] = {"begin", "diff", "end"};
    for (int i = 0; i < 3; i++) {
        tf_msg_t m = {.type = TF_MSG_CAT_MANIFEST}, r;
        m.cat_manifest = (tf_msg_cat_manifest_t){.job_id = (char *) job, .host = (char *) host, .op = (char *) ops[i],
                                                 .seq = i == 1 ? 1 : 0, .rows = i == 1 ? rows : NULL,
                                                 .rows_count = i == 1 ? count : 0};
        s_ok(fx, &m, &r);
        tf_msg_clear(&r);
    }
}

/* A job scanned on two hosts keeps its base's dependencies until both scans have ended: the
   host still scanning may yet carry references to them. */
static void
test_job_deps_hosts(void **state)
{
    fx_t *fx = *state;
    tf_msg_manifest_row_t rows[1] = {s_entry("/m/a", 1, 10, 1000)};
    s_create(fx, "H1", "full", NULL, "hosta:/m hostb:/m");
    s_host_scan(fx, "H1", "hosta", rows, 1);
    s_host_scan(fx, "H1", "hostb", rows, 1);
    s_sql(fx, "UPDATE jobs SET status = 'completed' WHERE job_id = 'H1'");
    s_create(fx, "H2", "incremental", NULL, "hosta:/m hostb:/m");
    s_assert_level(fx, "H2", "incremental", "H1", NULL);
    rows[0].size = 20;   /* changed on both hosts: H2 needs nothing of H1 in the end */
    s_host_scan(fx, "H2", "hosta", rows, 1);
    s_assert_depends(fx, "H2", "H1");
    s_host_scan(fx, "H2", "hostb", rows, 1);
    s_assert_depends(fx, "H2", "");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_chain, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_reasons, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_unreadable_base, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_redelivered_diff, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_missing_entry, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_plan_without_manifest, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_plan_from_replica, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_job_at, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_big_batch, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_superseded_run, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_finished_and_unknown_jobs, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_unread_kept, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_stored_incomplete, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_taken_not_stored, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_long_rename, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_job_deps, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_broken_chain, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_base_expiring, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_root_chain, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_job_deps_hosts, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
