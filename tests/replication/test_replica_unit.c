/*  actors/common/tf_replica: configuration, sentinel, paths, manifest.json, list, verify and
    the retention rule, on file:// targets in temporary folders (no processes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tf_checksum.h"
#include "tf_config.h"
#include "tf_replica.h"
#include "tf_testproc.h"

typedef struct {
    char *dir;                   /* the test's temp folder */
    char root[512];              /* the target's folder: <dir>/share/nas */
    tf_config_t *cfg;
    tf_replica_conf_t conf;
    tf_target_t *target;         /* connected (after s_connected) */
} s_fix_t;

static int
s_setup(void **state)
{
    s_fix_t *fix = calloc(1, sizeof *fix);
    assert_non_null(fix);
    fix->dir = tf_test_tempdir("tf-replica");
    assert_non_null(fix->dir);
    snprintf(fix->root, sizeof fix->root, "%s/share/nas", fix->dir);
    fix->cfg = tf_config_new();
    assert_non_null(fix->cfg);
    char url[600];
    snprintf(url, sizeof url, "file://%s", fix->root);
    assert_int_equal(tf_config_set(fix->cfg, "replicas/nas/url", url), 0);
    /* A second name for the same folder: "two targets share a folder". */
    assert_int_equal(tf_config_set(fix->cfg, "replicas/other/url", url), 0);
    tf_err_t err = {0};
    assert_int_equal(tf_replica_conf(fix->cfg, "nas", &fix->conf, &err), TF_OK);
    *state = fix;
    return 0;
}

static int
s_teardown(void **state)
{
    s_fix_t *fix = *state;
    tf_target_destroy(&fix->target);
    tf_config_destroy(&fix->cfg);
    tf_test_dir_done(&fix->dir);
    free(fix);
    return 0;
}

/* Initialises nas and connects to it. */
static tf_target_t *
s_connected(s_fix_t *fix)
{
    tf_err_t err = {0};
    bool created = false;
    char id[64];
    assert_int_equal(tf_replica_init(&fix->conf, &created, id, sizeof id, &err), TF_OK);
    fix->target = tf_replica_connect(&fix->conf, NULL, 0, &err);
    if (!fix->target)
        fail_msg("connect: %s", err.message);
    return fix->target;
}

static void
s_local(s_fix_t *fix, const char *rel, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", fix->root, rel);
}

static void
s_put(tf_target_t *target, const char *path, const void *data, size_t len)
{
    tf_err_t err = {0};
    if (tf_target_put(target, path, data, len, &err) != TF_OK)
        fail_msg("put %s: %s", path, err.message);
}

static bool
s_contains(const char *text, const char *part)
{
    if (!strstr(text, part)) {
        print_error("'%s' does not contain '%s'\n", text, part);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------ configuration ----- */

static void
test_conf_and_pool(void **state)
{
    s_fix_t *fix = *state;
    tf_err_t err = {0};
    assert_string_equal(fix->conf.name, "nas");
    assert_true(strncmp(fix->conf.url, "file://", 7) == 0);
    assert_string_equal(fix->conf.require_fs, "any");
    assert_int_equal(fix->conf.min_free, 0);
    assert_int_equal(fix->conf.timeout_ms, 30000);

    tf_replica_conf_t conf;
    assert_int_equal(tf_replica_conf(fix->cfg, "missing", &conf, &err), TF_ERR_NOTFOUND);
    assert_true(s_contains(err.message, "no replication target 'missing' (replicas/missing/url is not set in"));
    assert_int_equal(tf_config_set(fix->cfg, "replicas/ftp/url", "ftp://user:secret@host/x"), 0);
    assert_int_equal(tf_replica_conf(fix->cfg, "ftp", &conf, &err), TF_ERR_INVALID);
    assert_true(s_contains(err.message, "scheme 'ftp'"));
    assert_null(strstr(err.message, "secret"));

    /* A password in an smb:// URL is refused and never quoted. */
    assert_int_equal(tf_config_set(fix->cfg, "replicas/pw/url", "smb://bob:S3cretPw@nas.example:445/backup/tf"), 0);
    assert_int_equal(tf_replica_conf(fix->cfg, "pw", &conf, &err), TF_ERR_INVALID);
    assert_true(s_contains(err.message, "put the password in replicas/pw/credentials"));
    assert_null(strstr(err.message, "S3cret"));
    assert_int_equal(tf_config_set(fix->cfg, "replicas/pw/url", "smb://bob@nas.example/backup/a:b@c"), 0);
    assert_int_equal(tf_replica_conf(fix->cfg, "pw", &conf, &err), TF_OK);   /* ':' and '@' in the path */

    /* tf_target_open's options: require_fs "any" is no check; with_require_fs false drops it. */
    tf_target_opts_t opts = tf_replica_target_opts(&fix->conf, true, true);
    assert_string_equal(opts.name, "nas");
    assert_string_equal(opts.url, fix->conf.url);
    assert_null(opts.credentials);
    assert_null(opts.require_fs);
    assert_int_equal(opts.timeout_ms, 30000);
    assert_true(opts.create_root);
    snprintf(conf.require_fs, sizeof conf.require_fs, "cifs");
    snprintf(conf.credentials, sizeof conf.credentials, "/etc/tapeflow/nas.cred");
    opts = tf_replica_target_opts(&conf, true, false);
    assert_string_equal(opts.require_fs, "cifs");
    assert_string_equal(opts.credentials, "/etc/tapeflow/nas.cred");
    assert_false(opts.create_root);
    assert_null(tf_replica_target_opts(&conf, false, false).require_fs);

    char names[TF_REPLICA_NAMES_MAX][TF_MSG_MAX_ID + 1];
    size_t count = 99;
    bool required = false;
    assert_int_equal(tf_replica_pool(fix->cfg, "default", names, TF_REPLICA_NAMES_MAX, &count, &required, &err),
                     TF_OK);
    assert_int_equal(count, 0);
    assert_true(required);
    tf_config_set(fix->cfg, "pools/default/replicas", "nas, other,nas");
    tf_config_set(fix->cfg, "pools/default/replication", "optional");
    assert_int_equal(tf_replica_pool(fix->cfg, "default", names, TF_REPLICA_NAMES_MAX, &count, &required, &err),
                     TF_OK);
    assert_int_equal(count, 2);
    assert_string_equal(names[0], "nas");
    assert_string_equal(names[1], "other");
    assert_false(required);
    assert_int_equal(tf_replica_pool(fix->cfg, "default", names, 1, &count, &required, &err), TF_ERR_TOOBIG);
    assert_int_equal(count, 0);
    tf_config_set(fix->cfg, "pools/default/replicas", "nas,missing");
    assert_int_equal(tf_replica_pool(fix->cfg, "default", names, TF_REPLICA_NAMES_MAX, &count, &required, &err),
                     TF_ERR_NOTFOUND);
    assert_true(s_contains(err.message, "pool default: no replication target 'missing'"));
    assert_int_equal(count, 0);
}

static void
test_pool_list(void **state)
{
    s_fix_t *fix = *state;
    tf_err_t err = {0};
    char list[64] = "junk";
    bool required = false;
    assert_int_equal(tf_replica_pool_list(fix->cfg, "default", list, sizeof list, &required, &err), TF_OK);
    assert_string_equal(list, "");
    assert_true(required);
    tf_config_set(fix->cfg, "pools/default/replicas", "nas, other,nas");
    tf_config_set(fix->cfg, "pools/default/replication", "optional");
    assert_int_equal(tf_replica_pool_list(fix->cfg, "default", list, sizeof list, &required, &err), TF_OK);
    assert_string_equal(list, "nas,other");
    assert_false(required);
    /* "nas,other" needs 10 bytes: 9 do not fit, and the list is not cut to "nas". */
    assert_int_equal(tf_replica_pool_list(fix->cfg, "default", list, 9, &required, &err), TF_ERR_TOOBIG);
    assert_string_equal(list, "");
    assert_true(s_contains(err.message, "pools/default/replicas"));
    assert_int_equal(tf_replica_pool_list(fix->cfg, "default", list, 10, &required, &err), TF_OK);
    assert_string_equal(list, "nas,other");

    /* "tape" is reserved even when configured like a target. */
    assert_int_equal(tf_config_set(fix->cfg, "replicas/tape/url", "file:///tmp/x"), 0);
    tf_config_set(fix->cfg, "pools/default/replicas", "nas,tape");
    assert_int_equal(tf_replica_pool_list(fix->cfg, "default", list, sizeof list, &required, &err), TF_ERR_INVALID);
    assert_true(s_contains(err.message, "'tape' cannot name a replication target (reserved)"));
    assert_string_equal(list, "");
    /* Not a safe id (leading '-'). */
    tf_config_set(fix->cfg, "pools/default/replicas", "-x");
    assert_int_equal(tf_replica_pool_list(fix->cfg, "default", list, sizeof list, &required, &err), TF_ERR_INVALID);
    assert_true(s_contains(err.message, "'-x' is not a replication target name"));
    tf_config_set(fix->cfg, "pools/default/replicas", "nas,missing");
    assert_int_equal(tf_replica_pool_list(fix->cfg, "default", list, sizeof list, &required, &err), TF_ERR_NOTFOUND);
    assert_string_equal(list, "");
}

/* ------------------------------------------------------------------ sentinel ---------- */

static void
test_init_creates_sentinel_once(void **state)
{
    s_fix_t *fix = *state;
    tf_err_t err = {0};
    bool created = false;
    char id[64] = "", again[64] = "";
    /* The root (and share/ above it) does not exist yet: init creates them. */
    int rc = tf_replica_init(&fix->conf, &created, id, sizeof id, &err);
    if (rc != TF_OK)
        fail_msg("init: %s", err.message);
    assert_true(created);
    assert_int_equal(strlen(id), 32);
    assert_int_equal(strspn(id, "0123456789abcdef"), 32);

    char path[1024];
    s_local(fix, TF_REPLICA_SENTINEL, path, sizeof path);
    char *text = tf_test_read_file(path);
    assert_non_null(text);
    char want[256];
    snprintf(want, sizeof want, "target\n    name = nas\n    id = %s\n    created = ", id);
    assert_true(strncmp(text, want, strlen(want)) == 0);
    free(text);
    s_local(fix, TF_REPLICA_SENTINEL ".tmp", path, sizeof path);
    assert_int_equal(access(path, F_OK), -1);

    /* A second init finds its own sentinel and keeps the id. */
    assert_int_equal(tf_replica_init(&fix->conf, &created, again, sizeof again, &err), TF_OK);
    assert_false(created);
    assert_string_equal(again, id);

    again[0] = '\0';
    fix->target = tf_replica_connect(&fix->conf, again, sizeof again, &err);
    assert_non_null(fix->target);
    assert_string_equal(again, id);
    /* An id that does not fit the caller's buffer is refused, not cut. */
    char small[4];
    assert_null(tf_replica_connect(&fix->conf, small, sizeof small, &err));
    assert_int_equal(err.code, TF_ERR_TOOBIG);
}

static void
test_other_targets_sentinel_refused(void **state)
{
    s_fix_t *fix = *state;
    tf_err_t err = {0};
    bool created = false;
    assert_int_equal(tf_replica_init(&fix->conf, &created, NULL, 0, &err), TF_OK);
    assert_true(created);

    tf_replica_conf_t other;
    assert_int_equal(tf_replica_conf(fix->cfg, "other", &other, &err), TF_OK);
    assert_int_equal(tf_replica_init(&other, &created, NULL, 0, &err), TF_ERR_STATE);
    assert_false(created);
    assert_true(s_contains(err.message, "belongs to replication target nas, not other: two targets share a "
                                        "folder or the wrong share is mounted"));
    tf_target_t *target = tf_replica_connect(&other, NULL, 0, &err);
    assert_null(target);
    assert_true(s_contains(err.message, "replica target other ("));
    assert_true(s_contains(err.message, "belongs to replication target nas, not other"));
}

static void
test_init_under_missing_mount_refused(void **state)
{
    s_fix_t *fix = *state;
    tf_err_t err = {0};
    /* The share should be a CIFS mount; a local temp folder is not: init creates nothing. */
    tf_config_set(fix->cfg, "replicas/nas/require_fs", "cifs");
    tf_replica_conf_t conf;
    assert_int_equal(tf_replica_conf(fix->cfg, "nas", &conf, &err), TF_OK);
    assert_string_equal(conf.require_fs, "cifs");
    bool created = true;
    assert_int_not_equal(tf_replica_init(&conf, &created, NULL, 0, &err), TF_OK);
    assert_false(created);
    assert_true(s_contains(err.message, "not on cifs"));
    assert_int_equal(access(fix->root, F_OK), -1);
    assert_null(tf_replica_connect(&conf, NULL, 0, &err));
}

static void
test_connect_without_sentinel_refused(void **state)
{
    s_fix_t *fix = *state;
    tf_err_t err = {0};
    /* An empty folder where the share should be mounted. */
    char path[1024];
    snprintf(path, sizeof path, "%s/share", fix->dir);
    assert_int_equal(mkdir(path, 0750), 0);
    assert_int_equal(mkdir(fix->root, 0750), 0);
    tf_target_t *target = tf_replica_connect(&fix->conf, NULL, 0, &err);
    assert_null(target);
    assert_int_equal(err.code, TF_ERR_NOTFOUND);
    char want[1024];
    snprintf(want, sizeof want, "replica target nas (file://%s) has no .tapeflow-target: this is not the folder "
             "'tapeflow replica init nas' prepared - if it is a mount point, the share is not mounted (mount it); "
             "a new target needs: tapeflow replica init nas", fix->root);
    assert_string_equal(err.message, want);

    /* A sentinel tapeflow did not write is refused too, with what to do. */
    s_local(fix, TF_REPLICA_SENTINEL, path, sizeof path);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("hello\n", f);
    fclose(f);
    target = tf_replica_connect(&fix->conf, NULL, 0, &err);
    assert_null(target);
    assert_true(s_contains(err.message, "is not a sentinel tapeflow wrote"));
}

/* ------------------------------------------------------------------ paths ------------- */

static void
test_paths(void **state)
{
    (void) state;
    char out[TF_MSG_MAX_PATH];
    tf_replica_partial_dir("J1", out, sizeof out);
    assert_string_equal(out, ".partial/J1");
    tf_replica_job_dir("J1", out, sizeof out);
    assert_string_equal(out, "J1");
    tf_replica_data_path("J1", "J1-s1-g0", out, sizeof out);
    assert_string_equal(out, "J1/J1-s1-g0.data");
    tf_replica_rows_path(".partial/J1", "J1-s1-g0", out, sizeof out);
    assert_string_equal(out, ".partial/J1/J1-s1-g0.rows");
    /* Ids that are not one name below the root never become a path a verb accepts. */
    tf_replica_job_dir("", out, sizeof out);
    assert_non_null(strstr(out, ".."));
    tf_replica_job_dir("a/b", out, sizeof out);
    assert_non_null(strstr(out, ".."));
    tf_replica_partial_dir(".", out, sizeof out);
    assert_non_null(strstr(out, ".."));
    tf_replica_data_path("J1", "../x", out, sizeof out);
    assert_non_null(strstr(out, ".."));
    /* Only the ids' safe set (tf_id_safe_name): no '\\', no space, no leading '-'. */
    tf_replica_job_dir("a\\b", out, sizeof out);
    assert_string_equal(out, "..");
    tf_replica_job_dir("a b", out, sizeof out);
    assert_string_equal(out, "..");
    tf_replica_partial_dir("-rf", out, sizeof out);
    assert_non_null(strstr(out, ".."));
    char tiny[8];
    tf_replica_data_path("J1", "J1-s1-g0", tiny, sizeof tiny);
    assert_string_equal(tiny, "..");
}

/* ------------------------------------------------------------------ manifest ---------- */

/* A manifest of a two-archive incremental (strings borrowed; not cleared). */
static tf_replica_manifest_t
s_manifest(tf_msg_replica_archive_t archives[2])
{
    memset(archives, 0, 2 * sizeof *archives);
    archives[0] = (tf_msg_replica_archive_t){
        .archive_id = "J2-s1-g0", .group_no = 0, .size = 1000,
        .checksum = "xxh128:00112233445566778899aabbccddeeff", .rows_size = 200,
        .rows_checksum = "xxh128:ffeeddccbbaa99887766554433221100", .files = 3, .bytes = 5000,
        .compression = "zstd", .host = NULL};
    archives[1] = (tf_msg_replica_archive_t){
        .archive_id = "J2-s1-g1", .group_no = 1, .size = 24,
        .checksum = "xxh128:0123456789abcdef0123456789abcdef", .rows_size = 0, .rows_checksum = NULL,
        .files = 1, .bytes = 10, .compression = "none", .host = "client-b"};
    return (tf_replica_manifest_t){
        .job_id = "J2", .target = "nas", .target_id = "0123456789abcdef0123456789abcdef", .pool = "default",
        .level = "incremental", .base_job = "J1", .created_ms = 1764640000000, .committed_ms = 1764640100000,
        .archives = archives, .archives_count = 2};
}

static void
test_manifest_round_trip(void **state)
{
    s_fix_t *fix = *state;
    tf_target_t *target = s_connected(fix);
    tf_err_t err = {0};
    tf_msg_replica_archive_t archives[2];
    tf_replica_manifest_t m = s_manifest(archives);
    assert_int_equal(tf_target_mkdir(target, "J2", &err), TF_OK);
    if (tf_replica_manifest_write(target, "J2", &m, &err) != TF_OK)
        fail_msg("write: %s", err.message);

    char path[1024];
    s_local(fix, "J2/manifest.json", path, sizeof path);
    char *text = tf_test_read_file(path);
    assert_non_null(text);
    assert_true(strncmp(text, "{\"schema\":", 10) == 0);
    free(text);
    s_local(fix, "J2/manifest.json.tmp", path, sizeof path);
    assert_int_equal(access(path, F_OK), -1);

    tf_replica_manifest_t r;
    if (tf_replica_manifest_read(target, "J2", &r, &err) != TF_OK)
        fail_msg("read: %s", err.message);
    assert_int_equal(r.format, TF_REPLICA_FORMAT);
    assert_string_equal(r.job_id, "J2");
    assert_string_equal(r.target, "nas");
    assert_string_equal(r.target_id, m.target_id);
    assert_string_equal(r.pool, "default");
    assert_string_equal(r.level, "incremental");
    assert_string_equal(r.base_job, "J1");
    assert_int_equal(r.created_ms, m.created_ms);
    assert_int_equal(r.committed_ms, m.committed_ms);
    assert_string_equal(r.tool_version, TAPEFLOW_VERSION);
    assert_int_equal(r.files, 4);
    assert_int_equal(r.bytes, 5010);
    assert_int_equal(r.stored, 1024);
    assert_int_equal(r.archives_count, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_string_equal(r.archives[i].archive_id, archives[i].archive_id);
        assert_int_equal(r.archives[i].group_no, archives[i].group_no);
        assert_int_equal(r.archives[i].size, archives[i].size);
        assert_string_equal(r.archives[i].checksum, archives[i].checksum);
        assert_int_equal(r.archives[i].rows_size, archives[i].rows_size);
        assert_int_equal(r.archives[i].files, archives[i].files);
        assert_int_equal(r.archives[i].bytes, archives[i].bytes);
        assert_string_equal(r.archives[i].compression, archives[i].compression);
    }
    assert_string_equal(r.archives[0].rows_checksum, archives[0].rows_checksum);
    assert_null(r.archives[1].rows_checksum);
    assert_null(r.archives[0].host);
    assert_string_equal(r.archives[1].host, "client-b");
    tf_replica_manifest_clear(&r);
    assert_null(r.job_id);
    assert_int_equal(r.archives_count, 0);

    /* A full has no base; the commit marker is never overwritten. (J1's manifest still names
       job J2, which reading J1 must refuse.) */
    m.base_job = NULL;
    m.level = "full";
    assert_int_equal(tf_target_mkdir(target, "J1", &err), TF_OK);
    assert_int_equal(tf_replica_manifest_write(target, "J1", &m, &err), TF_OK);
    m.job_id = "J1";
    assert_int_equal(tf_replica_manifest_write(target, "J1", &m, &err), TF_ERR_STATE);
    assert_true(s_contains(err.message, "already exists"));
    assert_int_equal(tf_replica_manifest_read(target, "J1", &r, &err), TF_ERR_INVALID);
    assert_true(s_contains(err.message, "names job J2, not J1"));

    /* A manifest that could not be read back is not written. */
    m.job_id = "J3";
    archives[0].rows_checksum = NULL;
    assert_int_equal(tf_target_mkdir(target, "J3", &err), TF_OK);
    assert_int_equal(tf_replica_manifest_write(target, "J3", &m, &err), TF_ERR_INVALID);
    assert_true(s_contains(err.message, "lacks rows_checksum"));
    assert_int_equal(tf_replica_manifest_read(target, "J3", &r, &err), TF_ERR_NOTFOUND);

    assert_int_equal(tf_replica_manifest_read(target, "J9", &r, &err), TF_ERR_NOTFOUND);
    assert_true(s_contains(err.message, "job J9 is not committed"));
}

/* Writes J/manifest.json as the valid manifest changed by edit (jansson), then reads it back. */
static int
s_read_edited(tf_target_t *target, void (*edit)(json_t *root), tf_err_t *err)
{
    tf_msg_replica_archive_t archives[2];
    tf_replica_manifest_t m = s_manifest(archives);
    assert_int_equal(tf_target_remove_tree(target, "J2", err), TF_OK);
    assert_int_equal(tf_target_mkdir(target, "J2", err), TF_OK);
    assert_int_equal(tf_replica_manifest_write(target, "J2", &m, err), TF_OK);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(tf_target_get(target, "J2/manifest.json", 1 << 20, &text, &len, err), TF_OK);
    json_t *root = json_loadb(text, len, 0, NULL);
    free(text);
    assert_non_null(root);
    edit(root);
    char *edited = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    assert_non_null(edited);
    assert_int_equal(tf_target_remove(target, "J2/manifest.json", err), TF_OK);
    s_put(target, "J2/manifest.json", edited, strlen(edited));
    free(edited);
    tf_replica_manifest_t r;
    int rc = tf_replica_manifest_read(target, "J2", &r, err);
    if (rc == TF_OK)
        tf_replica_manifest_clear(&r);
    else
        assert_null(r.job_id);   /* nothing half-read is left behind */
    return rc;
}

static void s_edit_none(json_t *root) { (void) root; }
static void s_edit_size_string(json_t *root)
{
    json_object_set_new(json_array_get(json_object_get(root, "archives"), 1), "size", json_string("24"));
}
static void s_edit_no_pool(json_t *root) { json_object_del(root, "pool"); }
static void s_edit_no_checksum(json_t *root)
{
    json_object_del(json_array_get(json_object_get(root, "archives"), 0), "checksum");
}
static void s_edit_no_rows_checksum(json_t *root)
{
    json_object_del(json_array_get(json_object_get(root, "archives"), 0), "rows_checksum");
}
static void s_edit_archives_object(json_t *root) { json_object_set_new(root, "archives", json_object()); }
static void s_edit_negative(json_t *root) { json_object_set_new(root, "files", json_integer(-4)); }
static void s_edit_job_number(json_t *root) { json_object_set_new(root, "job_id", json_integer(2)); }
static void s_edit_format(json_t *root) { json_object_set_new(root, "format", json_integer(99)); }

static void
test_manifest_refused(void **state)
{
    s_fix_t *fix = *state;
    tf_target_t *target = s_connected(fix);
    tf_err_t err = {0};
    assert_int_equal(s_read_edited(target, s_edit_none, &err), TF_OK);
    assert_int_equal(s_read_edited(target, s_edit_size_string, &err), TF_ERR_INVALID);
    assert_true(s_contains(err.message, "archives[1].size is not a whole number"));
    assert_int_equal(s_read_edited(target, s_edit_no_pool, &err), TF_ERR_INVALID);
    assert_true(s_contains(err.message, "lacks pool"));
    assert_int_equal(s_read_edited(target, s_edit_no_checksum, &err), TF_ERR_INVALID);
    assert_true(s_contains(err.message, "lacks archives[0].checksum"));
    assert_int_equal(s_read_edited(target, s_edit_no_rows_checksum, &err), TF_ERR_INVALID);
    assert_true(s_contains(err.message, "lacks archives[0].rows_checksum"));
    assert_int_equal(s_read_edited(target, s_edit_archives_object, &err), TF_ERR_INVALID);
    assert_true(s_contains(err.message, "archives is not an array"));
    assert_int_equal(s_read_edited(target, s_edit_negative, &err), TF_ERR_INVALID);
    assert_true(s_contains(err.message, "files is negative"));
    assert_int_equal(s_read_edited(target, s_edit_job_number, &err), TF_ERR_INVALID);
    assert_true(s_contains(err.message, "job_id is not a string"));
    assert_int_equal(s_read_edited(target, s_edit_format, &err), TF_ERR_UNSUPPORTED);
    assert_true(s_contains(err.message, "format 99"));

    assert_int_equal(tf_target_remove(target, "J2/manifest.json", &err), TF_OK);
    const char *cut = "{\"schema\": 1, \"format\": ";
    s_put(target, "J2/manifest.json", cut, strlen(cut));
    tf_replica_manifest_t r;
    assert_int_equal(tf_replica_manifest_read(target, "J2", &r, &err), TF_ERR_INVALID);
    assert_true(s_contains(err.message, "J2/manifest.json on file://"));
    assert_true(s_contains(err.message, "does not parse"));
}

/* ------------------------------------------------------------------ list -------------- */

static void
test_list(void **state)
{
    s_fix_t *fix = *state;
    tf_target_t *target = s_connected(fix);
    tf_err_t err = {0};
    tf_replica_entry_t *entries = NULL;
    size_t count = 9;
    assert_int_equal(tf_replica_list(target, &entries, &count, &err), TF_OK);
    assert_int_equal(count, 0);
    tf_replica_list_free(&entries, count);

    tf_msg_replica_archive_t archives[2];
    tf_replica_manifest_t m = s_manifest(archives);
    assert_int_equal(tf_target_mkdir(target, "J2", &err), TF_OK);
    assert_int_equal(tf_replica_manifest_write(target, "J2", &m, &err), TF_OK);
    assert_int_equal(tf_target_mkdir(target, "J3", &err), TF_OK);           /* renamed, no manifest yet */
    s_put(target, "J3/J3-s1-g0.data", "x", 1);
    assert_int_equal(tf_target_mkdir(target, "J4", &err), TF_OK);           /* damaged manifest */
    s_put(target, "J4/manifest.json", "[]", 2);
    assert_int_equal(tf_target_mkdir(target, ".partial/J5", &err), TF_OK);  /* being copied */
    s_put(target, ".partial/.check-1", "x", 1);                             /* not a job */
    s_put(target, "notes.txt", "x", 1);                                     /* not a job */
    assert_int_equal(tf_target_mkdir(target, ".trash", &err), TF_OK);       /* dot entries are not jobs */

    if (tf_replica_list(target, &entries, &count, &err) != TF_OK)
        fail_msg("list: %s", err.message);
    assert_int_equal(count, 4);
    assert_string_equal(entries[0].job_id, "J2");
    assert_true(entries[0].committed);
    assert_true(entries[0].manifest_ok);
    assert_false(entries[0].in_partial);
    assert_string_equal(entries[0].manifest.level, "incremental");
    assert_int_equal(entries[0].manifest.archives_count, 2);
    assert_true(entries[0].mtime_ms > 0);
    assert_string_equal(entries[1].job_id, "J3");
    assert_false(entries[1].committed);
    assert_false(entries[1].in_partial);
    assert_string_equal(entries[2].job_id, "J4");
    assert_true(entries[2].committed);
    assert_false(entries[2].manifest_ok);
    assert_true(s_contains(entries[2].problem, "not a JSON object"));
    assert_string_equal(entries[3].job_id, "J5");
    assert_false(entries[3].committed);
    assert_true(entries[3].in_partial);
    tf_replica_list_free(&entries, count);
    assert_null(entries);
}

/* ------------------------------------------------------------------ verify ------------ */

typedef struct {
    size_t ok, bad;
    char problem[TF_ERR_MESSAGE_MAX];
    char file[TF_MSG_MAX_PATH];
} s_report_t;

static void
s_report(void *arg, const char *file, const char *problem)
{
    s_report_t *r = arg;
    if (!problem) {
        r->ok++;
        return;
    }
    r->bad++;
    snprintf(r->problem, sizeof r->problem, "%s", problem);
    snprintf(r->file, sizeof r->file, "%s", file);
}

/* Flips one byte of a file under the target's folder. */
static void
s_flip(s_fix_t *fix, const char *rel, off_t at)
{
    char path[1024];
    s_local(fix, rel, path, sizeof path);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    unsigned char c;
    assert_int_equal(pread(fd, &c, 1, at), 1);
    c ^= 0x40;
    assert_int_equal(pwrite(fd, &c, 1, at), 1);
    close(fd);
}

static void
test_checksum_and_verify(void **state)
{
    s_fix_t *fix = *state;
    tf_target_t *target = s_connected(fix);
    tf_err_t err = {0};
    /* Data over several read chunks, not a multiple of them. */
    size_t size = 300001;
    unsigned char *data = malloc(size);
    assert_non_null(data);
    for (size_t i = 0; i < size; i++)
        data[i] = (unsigned char) ((i * 2654435761u) >> 13);
    const char rows[] = "the rows sidecar";
    char data_sum[TF_CHECKSUM_STRLEN], rows_sum[TF_CHECKSUM_STRLEN];
    tf_checksum_of(data, size, data_sum);
    tf_checksum_of(rows, sizeof rows - 1, rows_sum);
    assert_int_equal(tf_target_mkdir(target, "J7", &err), TF_OK);
    s_put(target, "J7/J7-s1-g0.data", data, size);
    s_put(target, "J7/J7-s1-g0.rows", rows, sizeof rows - 1);
    s_put(target, "J7/J7-s1-g1.data", "", 0);

    char sum[TF_CHECKSUM_STRLEN];
    uint64_t bytes = 0;
    assert_int_equal(tf_replica_checksum(target, "J7/J7-s1-g0.data", 4096, sum, sizeof sum, &bytes, &err), TF_OK);
    assert_string_equal(sum, data_sum);
    assert_int_equal(bytes, size);
    assert_int_equal(tf_replica_checksum(target, "J7/nothing.data", 4096, sum, sizeof sum, &bytes, &err),
                     TF_ERR_NOTFOUND);

    char empty_sum[TF_CHECKSUM_STRLEN];
    tf_checksum_of("", 0, empty_sum);
    tf_msg_replica_archive_t archives[2] = {
        {.archive_id = "J7-s1-g0", .group_no = 0, .size = size, .checksum = data_sum,
         .rows_size = sizeof rows - 1, .rows_checksum = rows_sum, .files = 1, .bytes = size, .compression = "none"},
        {.archive_id = "J7-s1-g1", .group_no = 1, .size = 0, .checksum = empty_sum, .compression = "none"},
    };
    tf_replica_manifest_t m = {.job_id = "J7", .archives = archives, .archives_count = 2};
    size_t bad = 99;
    s_report_t report = {0};
    assert_int_equal(tf_replica_verify(target, &m, 4096, &bad, s_report, &report, &err), TF_OK);
    assert_int_equal(bad, 0);
    assert_int_equal(report.ok, 3);      /* two .data, one .rows: g1 has no sidecar */
    assert_int_equal(report.bad, 0);

    s_flip(fix, "J7/J7-s1-g0.data", 150000);
    memset(&report, 0, sizeof report);
    assert_int_equal(tf_replica_verify(target, &m, 4096, &bad, s_report, &report, &err), TF_OK);
    assert_int_equal(bad, 1);
    assert_int_equal(report.bad, 1);
    assert_string_equal(report.file, "J7/J7-s1-g0.data");
    assert_true(s_contains(report.problem, "checksum"));
    s_flip(fix, "J7/J7-s1-g0.data", 150000);

    assert_int_equal(tf_target_remove(target, "J7/J7-s1-g0.rows", &err), TF_OK);
    memset(&report, 0, sizeof report);
    assert_int_equal(tf_replica_verify(target, &m, 0, &bad, s_report, &report, &err), TF_OK);
    assert_int_equal(bad, 1);
    assert_string_equal(report.file, "J7/J7-s1-g0.rows");
    assert_true(s_contains(report.problem, "missing"));

    /* A cut file is a size problem; no report callback is fine. */
    s_put(target, "J7/J7-s1-g0.rows", rows, 5);
    assert_int_equal(tf_replica_verify(target, &m, 4096, &bad, NULL, NULL, &err), TF_OK);
    assert_int_equal(bad, 1);
    free(data);
}

/* ------------------------------------------------------------------ retention --------- */

#define S_DAY (24 * 3600 * 1000LL)
#define S_NOW (1764640000000LL)

static size_t
s_kept(const tf_replica_keep_t *jobs, size_t count)
{
    size_t n = 0;
    for (size_t i = 0; i < count; i++)
        n += jobs[i].keep_reason != NULL;
    return n;
}

static void
test_retention_keep_last(void **state)
{
    (void) state;
    /* Five fulls, listed out of order. */
    tf_replica_keep_t jobs[5] = {
        {.job_id = "J3", .created_ms = S_NOW - 3 * S_DAY}, {.job_id = "J5", .created_ms = S_NOW - 1 * S_DAY},
        {.job_id = "J1", .created_ms = S_NOW - 5 * S_DAY}, {.job_id = "J4", .created_ms = S_NOW - 2 * S_DAY},
        {.job_id = "J2", .created_ms = S_NOW - 4 * S_DAY},
    };
    tf_replica_retention(jobs, 5, 2, 0, S_NOW);
    assert_int_equal(s_kept(jobs, 5), 2);
    assert_non_null(jobs[1].keep_reason);   /* J5 */
    assert_non_null(jobs[3].keep_reason);   /* J4 */
    assert_null(jobs[0].keep_reason);
    assert_null(jobs[2].keep_reason);
    assert_null(jobs[4].keep_reason);
}

static void
test_retention_keep_days(void **state)
{
    (void) state;
    tf_replica_keep_t jobs[4] = {
        {.job_id = "A", .created_ms = S_NOW - 1 * S_DAY}, {.job_id = "B", .created_ms = S_NOW - 6 * S_DAY},
        {.job_id = "C", .created_ms = S_NOW - 8 * S_DAY}, {.job_id = "D", .created_ms = S_NOW - 30 * S_DAY},
    };
    tf_replica_retention(jobs, 4, 0, 7, S_NOW);
    assert_non_null(jobs[0].keep_reason);
    assert_non_null(jobs[1].keep_reason);
    assert_null(jobs[2].keep_reason);
    assert_null(jobs[3].keep_reason);
    /* Both limits: a job stays when either keeps it. */
    tf_replica_retention(jobs, 4, 3, 7, S_NOW);
    assert_int_equal(s_kept(jobs, 4), 3);
    assert_null(jobs[3].keep_reason);
}

static void
test_retention_keeps_chain_of_kept_incremental(void **state)
{
    (void) state;
    /* F <- I1 <- I2 (newest), and an older unrelated full G. */
    tf_replica_keep_t jobs[4] = {
        {.job_id = "I2", .base_job = "I1", .created_ms = S_NOW - 1 * S_DAY},
        {.job_id = "G", .created_ms = S_NOW - 20 * S_DAY},
        {.job_id = "F", .created_ms = S_NOW - 10 * S_DAY},
        {.job_id = "I1", .base_job = "F", .created_ms = S_NOW - 5 * S_DAY},
    };
    tf_replica_retention(jobs, 4, 1, 0, S_NOW);
    assert_non_null(jobs[0].keep_reason);
    assert_null(jobs[1].keep_reason);
    assert_non_null(jobs[2].keep_reason);
    assert_non_null(jobs[3].keep_reason);
    assert_true(s_contains(jobs[2].keep_reason, "base"));
    assert_true(s_contains(jobs[3].keep_reason, "base"));
    /* A base missing from the list (already gone) changes nothing; a cycle ends. */
    tf_replica_keep_t odd[2] = {
        {.job_id = "X", .base_job = "Y", .created_ms = S_NOW - 9 * S_DAY},
        {.job_id = "Y", .base_job = "X", .created_ms = S_NOW - 1 * S_DAY},
    };
    tf_replica_retention(odd, 2, 1, 0, S_NOW);
    assert_int_equal(s_kept(odd, 2), 2);
}

static void
test_retention_only_copy_within_retention(void **state)
{
    (void) state;
    tf_replica_keep_t jobs[4] = {
        {.job_id = "NEW", .created_ms = S_NOW},
        {.job_id = "ONLY", .created_ms = S_NOW - 50 * S_DAY, .only_copy = true, .within_retention = true},
        {.job_id = "EXPIRED", .created_ms = S_NOW - 60 * S_DAY, .only_copy = true, .within_retention = false},
        {.job_id = "ELSEWHERE", .created_ms = S_NOW - 70 * S_DAY, .only_copy = false, .within_retention = true},
    };
    tf_replica_retention(jobs, 4, 1, 0, S_NOW);
    assert_non_null(jobs[0].keep_reason);
    assert_non_null(jobs[1].keep_reason);
    assert_true(s_contains(jobs[1].keep_reason, "only verified replica"));
    assert_null(jobs[2].keep_reason);
    assert_null(jobs[3].keep_reason);
}

static void
test_retention_no_limits_keeps_all(void **state)
{
    (void) state;
    tf_replica_keep_t jobs[3] = {
        {.job_id = "A", .created_ms = S_NOW - 1000 * S_DAY},
        {.job_id = "B", .created_ms = S_NOW - 500 * S_DAY},
        {.job_id = "C", .created_ms = S_NOW},
    };
    tf_replica_retention(jobs, 3, 0, 0, S_NOW);
    assert_int_equal(s_kept(jobs, 3), 3);
    tf_replica_retention(NULL, 0, 2, 2, S_NOW);   /* nothing to decide */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_conf_and_pool, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_init_creates_sentinel_once, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_other_targets_sentinel_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_init_under_missing_mount_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_connect_without_sentinel_refused, s_setup, s_teardown),
        cmocka_unit_test(test_paths),
        cmocka_unit_test_setup_teardown(test_manifest_round_trip, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_manifest_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_list, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_checksum_and_verify, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_pool_list, s_setup, s_teardown),
        cmocka_unit_test(test_retention_keep_last),
        cmocka_unit_test(test_retention_keep_days),
        cmocka_unit_test(test_retention_keeps_chain_of_kept_incremental),
        cmocka_unit_test(test_retention_only_copy_within_retention),
        cmocka_unit_test(test_retention_no_limits_keeps_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
