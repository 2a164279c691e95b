/*  test_replica_cli - `tapeflow replica init|list|verify|check` and the --from-replica reader
    against a file:// target in a temp folder, with NO stack running (the catalog cannot be
    reached: the commands must still do and say what they can).

    The jobs on the target are made by hand with the tf_replica library (manifest.json by
    tf_replica_manifest_write, archives as real tar+zstd streams), so list and verify see what a
    replicator would have left. The reader of `restore --from-replica` (cli_replica_restore.c)
    is compiled in and driven directly with catalog-like plan rows: whole archive, take list,
    a chain job missing from the target, a damaged archive. The Replicas section of `tapeflow
    job` (cli_jobview.c, compiled in too) is checked on hand-made job rows.

    Run one test: test_replica_cli <name-pattern> (used by ctest, one entry per test).
*/
#define _GNU_SOURCE
#include <czmq.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli_jobview.h"
#include "cli_replica_restore.h"
#include "tf_checksum.h"
#include "tf_client.h"
#include "tf_replica.h"
#include "tf_target.h"
#include "tf_testcli.h"
#include "tf_testproc.h"
#include "tf_teststack.h"

#define S_RUN_TIMEOUT 30000   /* ms for one CLI command */

typedef struct {
    char *home;
    char cfg[PATH_MAX];
    char root[PATH_MAX - 64];  /* target nas: file://root */
    char bare[PATH_MAX - 64];  /* target cifsy: a local folder with require_fs = cifs */
    char url[PATH_MAX - 16];   /* file://root, within replica conf's url */
    char env_home[PATH_MAX + 32];
    char *env[3];
} fx_t;

/* --- helpers ------------------------------------------------------------------------------ */

/* Runs tapeflow --config CFG ARGS... (NULL-terminated); stdout in *out, stderr in *err. */
static int
s_cli(fx_t *fx, char **out, char **err, ...)
{
    va_list ap;
    va_start(ap, err);
    int rc = tf_testcli_vrun(fx->cfg, fx->env, fx->home, S_RUN_TIMEOUT, out, err, ap);
    va_end(ap);
    return rc;
}

static void
s_expect(const char *text, const char *needle)
{
    if (!strstr(text ? text : "", needle))
        fail_msg("expected '%s' in:\n%s", needle, text ? text : "(null)");
}

static tf_target_t *
s_connect(fx_t *fx)
{
    tf_replica_conf_t conf = {0};
    snprintf(conf.name, sizeof conf.name, "nas");
    snprintf(conf.url, sizeof conf.url, "%s", fx->url);
    snprintf(conf.require_fs, sizeof conf.require_fs, "any");
    conf.timeout_ms = 5000;
    tf_err_t err = {0};
    tf_target_t *t = tf_replica_connect(&conf, NULL, 0, &err);
    if (!t)
        fail_msg("tf_replica_connect: %s", err.message);
    return t;
}

/* The archive ARCHIVE of job JOB holding files, as the replicator leaves it: DIR/ARCHIVE.data
   and an (empty) DIR/ARCHIVE.rows; *copy gets its manifest entry (strings borrowed from
   static storage of the caller: archive id). */
static void
s_put_archive(tf_target_t *t, const char *dir, const char *archive_id, uint64_t group, const char *const *files,
              tf_msg_replica_archive_t *copy, char sums[2][TF_CHECKSUM_STRLEN])
{
    static char buf[1 << 20];
    size_t len = tf_testcli_tar(buf, sizeof buf, files, true);
    assert_true(len > 0);
    char path[512];
    tf_err_t err = {0};
    assert_int_equal(tf_target_mkdir(t, dir, &err), TF_OK);
    tf_replica_data_path(dir, archive_id, path, sizeof path);
    if (tf_target_put(t, path, buf, len, &err) != TF_OK)
        fail_msg("put %s: %s", path, err.message);
    tf_replica_rows_path(dir, archive_id, path, sizeof path);
    assert_int_equal(tf_target_put(t, path, "", 0, &err), TF_OK);
    tf_checksum_of(buf, len, sums[0]);
    tf_checksum_of("", 0, sums[1]);
    uint64_t n = 0;
    for (size_t i = 0; files[i]; i += 2)
        n++;
    *copy = (tf_msg_replica_archive_t){.archive_id = (char *) archive_id, .group_no = group, .size = len,
                                       .checksum = sums[0], .rows_size = 0, .rows_checksum = sums[1], .files = n,
                                       .bytes = 10 * n, .compression = (char *) "zstd"};
}

/* A committed job: its archives in JOB/ and manifest.json last. */
static void
s_commit_job(tf_target_t *t, const char *job_id, const char *level, const char *base, int64_t created_ms,
             tf_msg_replica_archive_t *copies, size_t n)
{
    tf_replica_manifest_t m = {
        .format = TF_REPLICA_FORMAT, .job_id = (char *) job_id, .target = (char *) "nas",
        .target_id = (char *) "0123456789abcdef0123456789abcdef", .pool = (char *) "default", .level = (char *) level,
        .base_job = (char *) base, .created_ms = created_ms, .committed_ms = created_ms + 1000,
        .tool_version = (char *) "test", .archives = copies, .archives_count = n,
    };
    for (size_t i = 0; i < n; i++) {
        m.files += copies[i].files;
        m.bytes += copies[i].bytes;
        m.stored += copies[i].size;
    }
    char dir[256];
    tf_replica_job_dir(job_id, dir, sizeof dir);
    tf_err_t err = {0};
    if (tf_replica_manifest_write(t, dir, &m, &err) != TF_OK)
        fail_msg("manifest of %s: %s", job_id, err.message);
}

/* The target as a replicator leaves it: J1 (full, committed, archive J1-g1 with a/x and a/y),
   J2 (incremental of J1, committed, J2-g1 with a/x changed) and J3 partial (.partial/J3). */
static void
s_populate(fx_t *fx)
{
    char *out, *err;
    assert_int_equal(s_cli(fx, &out, &err, "replica", "init", "nas", NULL), 0);
    free(out);
    free(err);
    tf_target_t *t = s_connect(fx);
    static char sums[3][2][TF_CHECKSUM_STRLEN];
    tf_msg_replica_archive_t c1, c2, c3;
    static const char *const f1[] = {"a/x", "x of J1\n", "a/y", "y of J1\n", NULL};
    static const char *const f2[] = {"a/x", "x of J2\n", NULL};
    static const char *const f3[] = {"b/z", "z of J3\n", NULL};
    s_put_archive(t, "J1", "J1-g1", 1, f1, &c1, sums[0]);
    s_commit_job(t, "J1", "full", NULL, 1700000000000, &c1, 1);
    s_put_archive(t, "J2", "J2-g1", 1, f2, &c2, sums[1]);
    s_commit_job(t, "J2", "incremental", "J1", 1700000100000, &c2, 1);
    char partial[256];
    tf_replica_partial_dir("J3", partial, sizeof partial);
    s_put_archive(t, partial, "J3-g1", 1, f3, &c3, sums[2]);
    tf_target_destroy(&t);
}

/* Flips one byte in the middle of a file of the target. */
static void
s_flip(fx_t *fx, const char *rel)
{
    char path[PATH_MAX + 300];
    snprintf(path, sizeof path, "%s/%s", fx->root, rel);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    off_t at = st.st_size / 2;
    unsigned char c;
    assert_int_equal(pread(fd, &c, 1, at), 1);
    c ^= 0xff;
    assert_int_equal(pwrite(fd, &c, 1, at), 1);
    close(fd);
}

/* --- fixture ------------------------------------------------------------------------------ */

static int
s_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    if (!fx || !(fx->home = tf_test_tempdir("tfrcli")))
        return -1;
    snprintf(fx->cfg, sizeof fx->cfg, "%s/tapeflow.cfg", fx->home);
    snprintf(fx->root, sizeof fx->root, "%s/target", fx->home);
    snprintf(fx->bare, sizeof fx->bare, "%s/bare", fx->home);
    snprintf(fx->url, sizeof fx->url, "file://%s", fx->root);
    if (mkdir(fx->bare, 0755) != 0)
        return -1;
    FILE *f = fopen(fx->cfg, "w");
    if (!f)
        return -1;
    /* No broker runs: its endpoint is an ipc path in the temp folder nobody listens on. */
    fprintf(f, "tapeflow\n"
               "    host = tapehost\n"
               "broker\n"
               "    endpoint = \"ipc://%s/broker.ipc\"\n"
               "replicas\n"
               "    nas\n"
               "        url = \"%s\"\n"
               "    cifsy\n"
               "        url = \"file://%s\"\n"
               "        require_fs = cifs\n",
            fx->home, fx->url, fx->bare);
    fclose(f);
    snprintf(fx->env_home, sizeof fx->env_home, "TAPEFLOW_HOME=%s", fx->home);
    fx->env[0] = fx->env_home;
    fx->env[1] = (char *) "TAPEFLOW_CONFIG=";
    fx->env[2] = NULL;
    *state = fx;
    return 0;
}

static int
s_teardown(void **state)
{
    fx_t *fx = *state;
    tf_test_dir_done(&fx->home);
    free(fx);
    return 0;
}

/* --- tests -------------------------------------------------------------------------------- */

/* init creates the folder and the sentinel once; a second init changes nothing; a folder that
   holds another target's sentinel is refused. */
static void
test_init(void **state)
{
    fx_t *fx = *state;
    char *out, *err;
    assert_int_equal(s_cli(fx, &out, &err, "replica", "init", "nas", NULL), 0);
    s_expect(out, "initialised: wrote .tapeflow-target");
    free(out);
    free(err);
    char sentinel[PATH_MAX + 32];
    snprintf(sentinel, sizeof sentinel, "%s/.tapeflow-target", fx->root);
    char *text = tf_test_read_file(sentinel);
    s_expect(text, "nas");
    free(text);
    assert_int_equal(s_cli(fx, &out, &err, "replica", "init", "nas", NULL), 0);
    s_expect(out, "was initialised already");
    free(out);
    free(err);
    assert_int_equal(s_cli(fx, &out, &err, "replica", "init", "nas", "--json", NULL), 0);
    s_expect(out, "{\"schema\":1,");
    s_expect(out, "\"created\":false");
    free(out);
    free(err);
    /* Another target configured on the same folder. */
    FILE *f = fopen(fx->cfg, "a");
    assert_non_null(f);
    fprintf(f, "    other\n        url = \"%s\"\n", fx->url);
    fclose(f);
    assert_int_equal(s_cli(fx, &out, &err, "replica", "init", "other", NULL), 1);
    s_expect(err, "nas");
    free(out);
    free(err);
    /* Not configured at all. */
    assert_int_equal(s_cli(fx, &out, &err, "replica", "init", "nosuch", NULL), 1);
    s_expect(err, "replicas/nosuch/url");
    free(out);
    free(err);
}

/* check: every step ok on an initialised local target; before init the sentinel step fails
   (exit 2); require_fs = cifs on a local folder fails the mounted step with the message. */
static void
test_check(void **state)
{
    fx_t *fx = *state;
    char *out, *err;
    assert_int_equal(mkdir(fx->root, 0755), 0);
    assert_int_equal(s_cli(fx, &out, &err, "replica", "check", "nas", NULL), 2);
    s_expect(out, "FAIL  sentinel");
    s_expect(out, "tapeflow replica init nas");
    s_expect(out, "skip  writable");
    free(out);
    free(err);
    assert_int_equal(s_cli(fx, &out, &err, "replica", "init", "nas", NULL), 0);
    free(out);
    free(err);
    assert_int_equal(s_cli(fx, &out, &err, "replica", "check", "nas", NULL), 0);
    static const char *const steps[] = {"ok    config", "ok    reachable", "ok    mounted", "ok    sentinel",
                                        "ok    writable", "ok    space", "replica target nas: ok"};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        s_expect(out, steps[i]);
    free(out);
    free(err);
    /* The check leaves nothing behind. */
    char check_dir[PATH_MAX + 16];
    snprintf(check_dir, sizeof check_dir, "%s/.partial", fx->root);
    zdir_t *d = zdir_new(check_dir, NULL);
    assert_non_null(d);
    assert_int_equal(zdir_count(d), 0);
    zdir_destroy(&d);

    assert_int_equal(s_cli(fx, &out, &err, "replica", "check", "cifsy", "--json", NULL), 2);
    s_expect(out, "{\"schema\":1,");
    s_expect(out, "\"state\":\"fail\"");
    s_expect(out, "{\"step\":\"mounted\",\"state\":\"FAIL\"");
    s_expect(out, "not on cifs");
    s_expect(out, "not mounted");
    free(out);
    free(err);
    assert_int_equal(s_cli(fx, &out, &err, "replica", "check", "nosuch", NULL), 2);
    s_expect(out, "FAIL  config");
    free(out);
    free(err);
}

/* list TARGET: committed and partial jobs of the target; the catalog cannot be asked, which is
   said, and the target is listed anyway. */
static void
test_list(void **state)
{
    fx_t *fx = *state;
    s_populate(fx);
    char *out, *err;
    assert_int_equal(s_cli(fx, &out, &err, "replica", "list", "nas", "--timeout", "1", NULL), 0);
    s_expect(out, "3 jobs on the target");
    s_expect(out, "J1   committed");
    s_expect(out, "J2   committed");
    s_expect(out, "J3   partial");
    s_expect(out, "incremental");
    s_expect(err, "the catalog could not be asked");
    free(out);
    free(err);
    assert_int_equal(s_cli(fx, &out, &err, "replica", "list", "nas", "--json", "--timeout", "1", NULL), 0);
    s_expect(out, "{\"schema\":1,");
    s_expect(out, "\"catalog_reachable\":false");
    s_expect(out, "{\"job_id\":\"J1\",\"on_target\":\"committed\"");
    s_expect(out, "{\"job_id\":\"J3\",\"on_target\":\"partial\"");
    s_expect(out, "\"base_job\":\"J1\"");
    free(out);
    free(err);
    /* Without TARGET the catalog is the source: not reachable is a failure, said as JSON too. */
    assert_int_equal(s_cli(fx, &out, &err, "replica", "list", "--timeout", "1", NULL), 1);
    s_expect(err, "broker not reachable");
    free(out);
    free(err);
    assert_int_equal(s_cli(fx, &out, &err, "replica", "list", "--json", "--timeout", "1", NULL), 1);
    s_expect(out, "{\"schema\":1,");
    s_expect(out, "\"error\":\"broker not reachable");
    s_expect(out, "\"code\":");
    free(out);
    free(err);
    /* A target whose configuration is wrong is listed with its error, not dropped. */
    FILE *f = fopen(fx->cfg, "w");
    assert_non_null(f);
    fprintf(f, "tapeflow\n    host = tapehost\nbroker\n    endpoint = \"ipc://%s/broker.ipc\"\n"
               "replicas\n    bad\n        url = \"ftp://nas/backup\"\n", fx->home);
    fclose(f);
    assert_int_equal(s_cli(fx, &out, &err, "replica", "list", "--timeout", "1", NULL), 1);
    s_expect(out, "target bad: not usable: ");
    s_expect(err, "1 target is not usable");
    free(out);
    free(err);
    assert_int_equal(s_cli(fx, &out, &err, "replica", "list", "--json", "--timeout", "1", NULL), 1);
    s_expect(out, "{\"target\":\"bad\",\"url\":\"ftp://nas/backup\",\"error\":\"");
    free(out);
    free(err);
}

/* verify: ok while the files match their manifests (the result could not be recorded: said,
   exit still 0); a flipped byte and a missing file make exit 1 and are named. */
static void
test_verify(void **state)
{
    fx_t *fx = *state;
    s_populate(fx);
    char *out, *err;
    assert_int_equal(s_cli(fx, &out, &err, "replica", "verify", "nas", "--timeout", "1", NULL), 0);
    s_expect(out, "job J1: ok");
    s_expect(out, "job J2: ok");
    s_expect(out, "1 partial job");
    s_expect(out, "target nas: 2 jobs checked, 0 bad");
    s_expect(err, "could not be recorded in the catalog");
    free(out);
    free(err);
    s_flip(fx, "J1/J1-g1.data");
    assert_int_equal(s_cli(fx, &out, &err, "replica", "verify", "nas", "--timeout", "1", NULL), 1);
    s_expect(out, "job J1: 1 bad file");
    s_expect(out, "J1-g1.data");
    s_expect(out, "job J2: ok");
    s_expect(out, "1 bad");
    free(out);
    free(err);
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/J2/J2-g1.rows", fx->root);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(s_cli(fx, &out, &err, "replica", "verify", "nas", "J2", "--json", "--timeout", "1", NULL), 1);
    s_expect(out, "{\"schema\":1,");
    s_expect(out, "\"ok\":false");
    s_expect(out, "{\"job_id\":\"J2\",\"ok\":false");
    s_expect(out, "J2-g1.rows");
    s_expect(out, "\"recorded\":false");
    free(out);
    free(err);
    /* A job that is not there (or only partial) is bad too; with no catalog to say whether it
       has a row there, recording is tried (and fails). */
    assert_int_equal(s_cli(fx, &out, &err, "replica", "verify", "nas", "J3", "--timeout", "1", NULL), 1);
    s_expect(out, "job J3: missing (no J3/manifest.json on the target)");
    s_expect(err, "replica verify: job J3 is missing on file://");
    s_expect(err, "could not be recorded in the catalog");
    free(out);
    free(err);
    /* A manifest that is there and wrong: bad, not a failure of the command. */
    char manifest[PATH_MAX + 32];
    snprintf(manifest, sizeof manifest, "%s/J1/manifest.json", fx->root);
    FILE *f = fopen(manifest, "w");
    assert_non_null(f);
    fputs("{\"format\": 1, \"job_id\": ", f);
    fclose(f);
    assert_int_equal(s_cli(fx, &out, &err, "replica", "verify", "nas", "J1", "--json", "--timeout", "1", NULL), 1);
    s_expect(out, "{\"job_id\":\"J1\",\"ok\":false,\"missing\":false");
    s_expect(out, "manifest.json");
    free(out);
    free(err);
    /* A target that cannot be read (its folder unreadable) fails the command: nothing is
       bad, nothing recorded. Root reads any folder: only checked for other users. */
    char dir[PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/J2", fx->root);
    if (geteuid() != 0) {
        assert_int_equal(chmod(dir, 0), 0);
        assert_int_equal(s_cli(fx, &out, &err, "replica", "verify", "nas", "J2", "--json", "--timeout", "1", NULL),
                         1);
        s_expect(out, "\"error\":");
        assert_null(strstr(out, "\"jobs\""));
        free(out);
        free(err);
        assert_int_equal(chmod(dir, 0755), 0);
    }
}

/* The restore reader: a chain (J2 incremental of J1) restored with the catalog's take lists:
   a/x from J2, a/y from J1. */
static void
test_restore_reader_chain(void **state)
{
    fx_t *fx = *state;
    s_populate(fx);
    tf_target_t *t = s_connect(fx);
    char dest[PATH_MAX + 16];
    snprintf(dest, sizeof dest, "%s/restored", fx->home);
    tf_msg_path_row_t take1[] = {{.path = (char *) "a/y"}}, take2[] = {{.path = (char *) "a/x"}};
    tf_msg_archive_row_t rows[] = {
        {.archive_id = (char *) "J1-g1", .job_id = (char *) "J1", .take_some = true, .take = take1, .take_count = 1},
        {.archive_id = (char *) "J2-g1", .job_id = (char *) "J2", .take_some = true, .take = take2, .take_count = 1},
    };
    cli_replica_restore_opts_t o = {.target_name = "nas", .dest = dest, .chunk = 4096};
    tf_msg_t result;
    tf_err_t err = {0};
    if (cli_replica_restore_run(t, rows, 2, &o, &result, &err) != TF_OK)
        fail_msg("restore: %s", err.message);
    const tf_msg_restore_result_t *r = &result.restore_result;
    assert_int_equal(result.type, TF_MSG_RESTORE_RESULT);
    assert_int_equal(r->failures_count, 0);
    assert_int_equal(r->archives_read, 2);
    assert_int_equal(r->files, 2);
    assert_int_equal(r->warnings, 0);
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/a/x", dest);
    char *x = tf_test_read_file(path);
    assert_string_equal(x ? x : "", "x of J2\n");
    free(x);
    snprintf(path, sizeof path, "%s/a/y", dest);
    char *y = tf_test_read_file(path);
    assert_string_equal(y ? y : "", "y of J1\n");
    free(y);
    tf_msg_clear(&result);
    tf_target_destroy(&t);
}

/* A job of the chain that is not committed on the target refuses the restore before anything
   is written; a damaged archive fails (named with the checksum) and the others are restored. */
static void
test_restore_reader_refusals(void **state)
{
    fx_t *fx = *state;
    s_populate(fx);
    tf_target_t *t = s_connect(fx);
    char dest[PATH_MAX + 16];
    snprintf(dest, sizeof dest, "%s/restored", fx->home);
    tf_msg_archive_row_t missing[] = {
        {.archive_id = (char *) "J1-g1", .job_id = (char *) "J1"},
        {.archive_id = (char *) "J3-g1", .job_id = (char *) "J3"},
    };
    cli_replica_restore_opts_t o = {.target_name = "nas", .dest = dest, .chunk = 4096};
    tf_msg_t result;
    tf_err_t err = {0};
    assert_int_equal(cli_replica_restore_run(t, missing, 2, &o, &result, &err), TF_ERR_NOTFOUND);
    s_expect(err.message, "job J3 of the chain is not on replica nas");
    struct stat st;
    assert_int_not_equal(stat(dest, &st), 0);   /* nothing written, not even the folder */

    s_flip(fx, "J1/J1-g1.data");
    tf_msg_path_row_t take1[] = {{.path = (char *) "a/y"}}, take2[] = {{.path = (char *) "a/x"}};
    tf_msg_archive_row_t rows[] = {
        {.archive_id = (char *) "J1-g1", .job_id = (char *) "J1", .take_some = true, .take = take1, .take_count = 1},
        {.archive_id = (char *) "J2-g1", .job_id = (char *) "J2", .take_some = true, .take = take2, .take_count = 1},
    };
    memset(&err, 0, sizeof err);
    if (cli_replica_restore_run(t, rows, 2, &o, &result, &err) != TF_OK)
        fail_msg("restore: %s", err.message);
    const tf_msg_restore_result_t *r = &result.restore_result;
    assert_int_equal(r->failures_count, 1);
    assert_string_equal(r->failures[0].archive_id, "J1-g1");
    s_expect(r->failures[0].reason, "the copy is damaged");
    s_expect(r->failures[0].reason, "tapeflow replica verify nas J1");
    assert_int_equal(r->archives_read, 1);
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/a/x", dest);
    char *x = tf_test_read_file(path);
    assert_string_equal(x ? x : "", "x of J2\n");
    free(x);
    tf_msg_clear(&result);

    /* An archive its job's manifest does not list. */
    tf_msg_archive_row_t stray[] = {{.archive_id = (char *) "J2-g9", .job_id = (char *) "J2"}};
    memset(&err, 0, sizeof err);
    if (cli_replica_restore_run(t, stray, 1, &o, &result, &err) != TF_OK)
        fail_msg("restore: %s", err.message);
    assert_int_equal(result.restore_result.failures_count, 1);
    s_expect(result.restore_result.failures[0].reason, "not in the manifest of job J2");
    tf_msg_clear(&result);
    tf_target_destroy(&t);
}

static void
s_count_progress(void *arg, size_t index, size_t count, const tf_msg_archive_row_t *row)
{
    size_t *calls = arg;
    assert_int_equal(index, *calls);
    assert_int_equal(count, 2);
    assert_non_null(row->archive_id);
    (*calls)++;
}

/* The catalog's size and checksum of an archive (the plan row's) must agree with the
   manifest's: an archive whose manifest disagrees fails before it is read, naming the catalog;
   one that agrees is read. A manifest that does not parse is said as it is, not as "not on
   replica". Progress is called once per archive. */
static void
test_restore_reader_catalog(void **state)
{
    fx_t *fx = *state;
    s_populate(fx);
    tf_target_t *t = s_connect(fx);
    tf_replica_manifest_t m1 = {0};
    tf_err_t err = {0};
    assert_int_equal(tf_replica_manifest_read(t, "J1", &m1, &err), TF_OK);
    char dest[PATH_MAX + 16];
    snprintf(dest, sizeof dest, "%s/restored", fx->home);
    tf_msg_archive_row_t rows[] = {
        {.archive_id = (char *) "J1-g1", .job_id = (char *) "J1", .size = m1.archives[0].size,
         .checksum = m1.archives[0].checksum},
        {.archive_id = (char *) "J2-g1", .job_id = (char *) "J2", .size = 99,
         .checksum = (char *) "xxh128:00000000000000000000000000000000"},
    };
    size_t calls = 0;
    cli_replica_restore_opts_t o = {.target_name = "nas", .dest = dest, .chunk = 4096,
                                    .progress = s_count_progress, .progress_arg = &calls};
    tf_msg_t result;
    if (cli_replica_restore_run(t, rows, 2, &o, &result, &err) != TF_OK)
        fail_msg("restore: %s", err.message);
    assert_int_equal(calls, 2);
    const tf_msg_restore_result_t *r = &result.restore_result;
    assert_int_equal(r->archives_read, 1);
    assert_int_equal(r->failures_count, 1);
    assert_string_equal(r->failures[0].archive_id, "J2-g1");
    s_expect(r->failures[0].reason, "the catalog says 99 bytes with checksum xxh128:0000");
    s_expect(r->failures[0].reason, "the manifest of job J2 on replica nas says");
    s_expect(r->failures[0].reason, "nothing was read from it");
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/a/x", dest);
    char *x = tf_test_read_file(path);
    assert_string_equal(x ? x : "", "x of J1\n");   /* J1's archive was read; J2's (a/x too) was not */
    free(x);
    tf_msg_clear(&result);
    tf_replica_manifest_clear(&m1);

    /* J2's manifest broken: its own message (the manifest's problem), code INVALID. */
    snprintf(path, sizeof path, "%s/J2/manifest.json", fx->root);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("not json", f);
    fclose(f);
    memset(&err, 0, sizeof err);
    o.progress = NULL;
    assert_int_equal(cli_replica_restore_run(t, &rows[1], 1, &o, &result, &err), TF_ERR_INVALID);
    assert_null(strstr(err.message, "is not on replica"));
    s_expect(err.message, "manifest.json");
    tf_target_destroy(&t);
}

/* restore --from-replica refuses what it cannot do before asking the catalog: a folder of
   another host, a missing value. */
static void
test_restore_args(void **state)
{
    fx_t *fx = *state;
    char *out, *err;
    assert_int_equal(s_cli(fx, &out, &err, "restore", "J1", "--from-replica", "nas", "--to", "otherhost:/tmp/x", NULL),
                     2);
    s_expect(err, "--from-replica reads the replica on this host");
    s_expect(err, "otherhost");
    free(out);
    free(err);
    assert_int_equal(s_cli(fx, &out, &err, "restore", "J1", "--to", "/tmp/x", "--from-replica", NULL), 2);
    s_expect(err, "'--from-replica' needs a value");
    free(out);
    free(err);
    /* A target name that is not configured is a usage error, found before the catalog is
       asked (no broker runs here: planning would fail otherwise). */
    assert_int_equal(s_cli(fx, &out, &err, "restore", "J1", "--from-replica", "typo", "--to", "/tmp/x", NULL), 2);
    s_expect(err, "no replication target 'typo' (replicas/typo/url is not set in ");
    free(out);
    free(err);
    assert_int_equal(s_cli(fx, &out, &err, "restore", "--help", NULL), 0);
    s_expect(out, "--from-replica TARGET");
    free(out);
    free(err);
}

/* tapeflow job ID: a Replicas line per target (verified, failed, copying) and --json
   "replication" and "replicas"; a job without targets shows no such line. */
static void
test_job_view(void **state)
{
    (void) state;
    tf_msg_replica_row_t rows[] = {
        {.target = (char *) "nas", .url = (char *) "smb://nas/backup", .state = (char *) "verified", .required = true,
         .archives = 3, .archives_total = 3, .bytes = 1288490189, .verified_ms = 1700000000000,
         .message = (char *) "replicated to smb://nas/backup (3 archives, 1.2 GiB, verified)"},
        {.target = (char *) "off", .url = (char *) "file:///mnt/off", .state = (char *) "failed", .final = true,
         .message = (char *) "replication to file:///mnt/off failed: share not mounted"},
        {.target = (char *) "usb", .url = (char *) "file:///mnt/usb", .state = (char *) "copying", .required = true,
         .archives = 2, .archives_total = 3},
    };
    tf_msg_job_row_t job = {.job_id = (char *) "J1", .status = (char *) "running", .replication = (char *) "required",
                            .replicas = rows, .replicas_count = 3};
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    cli_job_print(out, &job);
    fclose(out);
    printf("%s", text);
    s_expect(text, "replicas  nas: replicated to smb://nas/backup (3 archives, 1.2 GiB, verified)\n");
    s_expect(text, "          off (optional): replication to file:///mnt/off failed: share not mounted\n");
    s_expect(text, "          usb: replicating to file:///mnt/usb: 2 of 3 archives\n");
    free(text);

    tf_json_t *j = tf_json_new();
    assert_non_null(j);
    cli_job_json_document(j, &job);
    const char *json = tf_json_text(j);
    printf("%s\n", json);
    s_expect(json, "\"replication\":\"required\"");
    s_expect(json, "\"replicas\":[{\"target\":\"nas\",\"url\":\"smb://nas/backup\",\"state\":\"verified\","
                   "\"required\":true,\"archives\":3,\"archives_total\":3,\"bytes\":1288490189,");
    s_expect(json, "\"verified_ms\":1700000000000");
    s_expect(json, "{\"target\":\"off\",\"url\":\"file:///mnt/off\",\"state\":\"failed\",\"required\":false");
    tf_json_destroy(&j);

    /* No targets: no Replicas line, an empty array. */
    tf_msg_job_row_t plain = {.job_id = (char *) "J2", .status = (char *) "completed"};
    out = open_memstream(&text, &len);
    assert_non_null(out);
    cli_job_print(out, &plain);
    fclose(out);
    assert_null(strstr(text, "replicas"));
    free(text);
    j = tf_json_new();
    assert_non_null(j);
    cli_job_json_document(j, &plain);
    s_expect(tf_json_text(j), "\"replication\":null,\"replicas\":[]");
    tf_json_destroy(&j);
}

/* --- with a catalog ----------------------------------------------------------------------- */

/* One item to the catalog of the stack (called: the reply is waited for). */
static void
s_catalog(tf_client_t *client, const tf_msg_t *msg, const char *job)
{
    static int seq;
    char item[64];
    snprintf(item, sizeof item, "test-item-%d", ++seq);
    tf_msg_t result;
    tf_err_t err = {0};
    if (tf_client_call(client, "catalog", item, job, msg, &result, 20000, &err) != TF_OK)
        fail_msg("catalog %s (%s): %s", tf_msg_type_name(msg->type), job, err.message);
    tf_msg_clear(&result);
}

/* A full job of /a with replicas/nas, scanned (the manifest of entries a/x and a/y in archive
   JOB-g1 when files, else nothing), never written to tape, and its replica on nas recorded
   copied and committed (verified) with the archive as copy. */
static void
s_catalog_job(tf_client_t *client, const char *job, bool files, const tf_msg_replica_archive_t *copy,
              const char *url)
{
    tf_msg_path_row_t path = {.path = (char *) "/a"};
    tf_msg_t m = {.type = TF_MSG_CAT_JOB};
    m.cat_job = (tf_msg_cat_job_t){.job_id = (char *) job, .op = "create", .paths = &path, .paths_count = 1,
                                   .pool = "default", .compression = "zstd", .level = "full",
                                   .replicas = "nas", .replication = "required"};
    s_catalog(client, &m, job);
    if (files) {
        tf_msg_manifest_row_t rows[2] = {
            {.path = (char *) "/a/x", .type = (char *) "file", .size = 8, .mtime_ns = 1, .ctime_ns = 1, .ino = 1,
             .mode = 0100644, .nlink = 1, .fs = (char *) "uuid:0a1b2c3d-0000-4000-8000-000000000001"},
            {.path = (char *) "/a/y", .type = (char *) "file", .size = 8, .mtime_ns = 1, .ctime_ns = 1, .ino = 2,
             .mode = 0100644, .nlink = 1, .fs = (char *) "uuid:0a1b2c3d-0000-4000-8000-000000000001"},
        };
        static const char *const ops[] = {"begin", "diff", "end"};
        for (size_t i = 0; i < 3; i++) {
            tf_msg_t mm = {.type = TF_MSG_CAT_MANIFEST};
            bool diff = i == 1;
            mm.cat_manifest = (tf_msg_cat_manifest_t){.job_id = (char *) job, .op = (char *) ops[i],
                                                      .seq = diff ? 1 : 0, .rows = diff ? rows : NULL,
                                                      .rows_count = diff ? 2 : 0};
            s_catalog(client, &mm, job);
        }
        tf_msg_file_row_t frows[2] = {{.path = (char *) "a/x", .type = (char *) "file", .size = 8, .mode = 0644},
                                      {.path = (char *) "a/y", .type = (char *) "file", .size = 8, .mode = 0644}};
        tf_msg_t f = {.type = TF_MSG_CAT_FILES};
        f.cat_files = (tf_msg_cat_files_t){.job_id = (char *) job, .archive_id = copy->archive_id, .part = 1,
                                           .files = frows, .files_count = 2};
        s_catalog(client, &f, job);
    }
    m.cat_job = (tf_msg_cat_job_t){.job_id = (char *) job, .op = "scanned", .files_total = files ? 2 : 0,
                                   .groups_total = 1, .message = "scanned"};
    s_catalog(client, &m, job);
    static const char *const ops[] = {"copied", "committed"};
    for (size_t i = 0; i < 2; i++) {
        tf_msg_t r = {.type = TF_MSG_CAT_REPLICA};
        r.cat_replica = (tf_msg_cat_replica_t){.op = (char *) ops[i], .job_id = (char *) job, .target = "nas",
                                               .url = (char *) url, .required = true,
                                               .copies = i == 0 ? (tf_msg_replica_archive_t *) copy : NULL,
                                               .copies_count = i == 0 ? 1 : 0};
        s_catalog(client, &r, job);
    }
}

/* The catalog's row of job on nas (caller clears *reply). */
static const tf_msg_replica_row_t *
s_catalog_row(tf_client_t *client, const char *job, tf_msg_t *reply)
{
    tf_msg_t q = {.type = TF_MSG_CAT_QUERY};
    q.cat_query = (tf_msg_cat_query_t){.query = "replicas", .job_id = (char *) job};
    tf_err_t err = {0};
    if (tf_client_call(client, "catalog", NULL, NULL, &q, reply, 20000, &err) != TF_OK)
        fail_msg("query replicas %s: %s", job, err.message);
    assert_int_equal(reply->cat_reply.replicas_count, 1);
    return &reply->cat_reply.replicas[0];
}

/* With a catalog (broker and catalog running): J1 replicated and never on tape restores from
   the replica through the CLI (and not from tape); jobs the catalog has as verified on the
   target that are not there (J9 gone, J3 only partial) fail list and verify, and verify
   records them failed ("replica verify: job J is missing on URL"), after which list is clean.
   verify TARGET JOB records only on a job the catalog has on the target: a job it never had
   there (J2, J4) gets no row. */
static void
test_catalog_missing(void **state)
{
    fx_t *fx = *state;
    static const char *const config[] = {"replicas/nas/url=file://${dir}/target", "replicas/nas/require_fs=any",
                                         NULL};
    static const char *const programs[] = {"broker", "catalog", NULL};
    tf_teststack_opts_t opts = {.config = config, .programs = programs};
    tf_teststack_t *stack = tf_teststack_new("tfrcc", &opts);
    assert_non_null(stack);
    const char *dir = tf_teststack_dir(stack);
    snprintf(fx->cfg, sizeof fx->cfg, "%s", tf_teststack_config(stack));
    snprintf(fx->root, sizeof fx->root, "%s/target", dir);
    snprintf(fx->url, sizeof fx->url, "file://%s", fx->root);
    snprintf(fx->env_home, sizeof fx->env_home, "TAPEFLOW_HOME=%s", dir);
    s_populate(fx);

    tf_target_t *t = s_connect(fx);
    tf_replica_manifest_t m1 = {0}, m2 = {0};
    tf_err_t err = {0};
    assert_int_equal(tf_replica_manifest_read(t, "J1", &m1, &err), TF_OK);
    assert_int_equal(tf_replica_manifest_read(t, "J2", &m2, &err), TF_OK);
    tf_target_destroy(&t);
    tf_client_t *client = tf_client_new(NULL, tf_teststack_broker(stack), NULL);
    assert_non_null(client);
    s_catalog_job(client, "J1", true, &m1.archives[0], fx->url);
    tf_msg_replica_archive_t c9 = m2.archives[0], c3 = m2.archives[0];
    c9.archive_id = (char *) "J9-g1";
    c3.archive_id = (char *) "J3-g1";
    s_catalog_job(client, "J9", false, &c9, fx->url);
    s_catalog_job(client, "J3", false, &c3, fx->url);

    /* From the replica: J1's files, though nothing of it is on tape. */
    char dest[PATH_MAX + 16], path[PATH_MAX + 32];
    snprintf(dest, sizeof dest, "%s/restored", dir);
    char *out, *cerr;
    assert_int_equal(s_cli(fx, &out, &cerr, "restore", "J1", "--from-replica", "nas", "--to", dest, NULL), 0);
    s_expect(out, "restored 2 files");
    s_expect(out, "of replica nas");
    free(out);
    free(cerr);
    snprintf(path, sizeof path, "%s/a/y", dest);
    char *y = tf_test_read_file(path);
    assert_string_equal(y ? y : "", "y of J1\n");
    free(y);
    /* From tape: nothing there. */
    snprintf(dest, sizeof dest, "%s/fromtape", dir);
    assert_int_equal(s_cli(fx, &out, &cerr, "restore", "J1", "--to", dest, NULL), 1);
    s_expect(cerr, "job J1 has nothing on tape to restore");
    free(out);
    free(cerr);

    assert_int_equal(s_cli(fx, &out, &cerr, "replica", "list", "nas", NULL), 1);
    s_expect(cerr, "2 jobs the catalog has as verified on file://");
    s_expect(out, "J9   missing");
    free(out);
    free(cerr);
    assert_int_equal(s_cli(fx, &out, &cerr, "replica", "verify", "nas", NULL), 1);
    s_expect(out, "job J1: ok");
    s_expect(out, "job J9: missing");
    s_expect(out, "job J3: missing");
    s_expect(out, "job J2: ok");   /* unknown to the catalog: checked, nothing to record */
    s_expect(out, "4 jobs checked, 2 bad");
    assert_null(strstr(cerr, "could not be recorded"));
    free(out);
    free(cerr);
    tf_msg_t reply;
    const tf_msg_replica_row_t *row = s_catalog_row(client, "J9", &reply);
    assert_string_equal(row->state, "failed");
    char want[PATH_MAX * 2 + 128];
    snprintf(want, sizeof want, "replication to %s failed: replica verify: job J9 is missing on %s", fx->url, fx->url);
    assert_string_equal(row->message, want);
    tf_msg_clear(&reply);
    assert_string_equal(s_catalog_row(client, "J1", &reply)->state, "verified");
    tf_msg_clear(&reply);
    assert_int_equal(s_cli(fx, &out, &cerr, "replica", "list", "nas", NULL), 0);
    free(out);
    free(cerr);

    /* One job: recorded when the catalog has it on nas (J9), not otherwise (J4 was never
       there, J2 is there but unknown to the catalog). */
    assert_int_equal(s_cli(fx, &out, &cerr, "replica", "verify", "nas", "J9", "--json", NULL), 1);
    s_expect(out, "{\"job_id\":\"J9\",\"ok\":false,\"missing\":true");
    s_expect(out, "\"recorded\":true");
    s_expect(out, "\"record_error\":null");
    free(out);
    free(cerr);
    assert_int_equal(s_cli(fx, &out, &cerr, "replica", "verify", "nas", "J4", "--json", NULL), 1);
    s_expect(out, "{\"job_id\":\"J4\",\"ok\":false,\"missing\":true");
    s_expect(out, "\"recorded\":false");
    s_expect(out, "\"record_error\":null");
    free(out);
    free(cerr);
    assert_int_equal(s_cli(fx, &out, &cerr, "replica", "verify", "nas", "J2", "--json", NULL), 0);
    s_expect(out, "{\"job_id\":\"J2\",\"ok\":true");
    s_expect(out, "\"recorded\":false");
    free(out);
    free(cerr);
    /* nas's rows in the catalog are still J1, J9 and J3 only. */
    tf_msg_t q = {.type = TF_MSG_CAT_QUERY};
    q.cat_query = (tf_msg_cat_query_t){.query = "replicas", .pattern = (char *) "nas", .limit = 100};
    tf_err_t qerr = {0};
    if (tf_client_call(client, "catalog", NULL, NULL, &q, &reply, 20000, &qerr) != TF_OK)
        fail_msg("query replicas of nas: %s", qerr.message);
    assert_int_equal(reply.cat_reply.replicas_count, 3);
    for (size_t i = 0; i < reply.cat_reply.replicas_count; i++) {
        const char *job = reply.cat_reply.replicas[i].job_id;
        if (!job || (strcmp(job, "J1") != 0 && strcmp(job, "J9") != 0 && strcmp(job, "J3") != 0))
            fail_msg("nas has a catalog row of %s", job ? job : "(null)");
    }
    tf_msg_clear(&reply);

    tf_client_destroy(&client);
    tf_replica_manifest_clear(&m1);
    tf_replica_manifest_clear(&m2);
    assert_int_equal(tf_teststack_finish(&stack), 0);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_init, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_check, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_list, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_verify, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_restore_reader_chain, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_restore_reader_refusals, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_restore_reader_catalog, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_restore_args, s_setup, s_teardown),
        cmocka_unit_test(test_job_view),
        cmocka_unit_test_setup_teardown(test_catalog_missing, s_setup, s_teardown),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests_name("replica_cli", tests, NULL, NULL);
}
