/*  Restores to the host that asks for them (issue 10 item 3), on one machine: the stack under
    `tapeflow up` as host "tapehost" (tapeflow/host), and a second tapeflow-extractor started
    with its own configuration as host "otherhost".

    - `restore JOB --to otherhost:DIR` is streamed by the tape writer through the stager and
      written by otherhost's extractor: the tree comes back identical (links, symlinks, empty
      folders, sparse files as data), the result names otherhost, the extractor's log says it
      wrote the files, the tape writer's says it streamed them, the staged stream is deleted
      afterwards, and a second run finds everything already present;
    - a restore to a host without a file agent fails at once with the message that says what
      to start, and creates nothing;
    - a stager bound to a tcp wildcard without stager/advertise refuses to start and says what
      to set;
    - tf_extract on a stream of a two-host job: entries land under DEST/HOST/, an entry listed
      as cut short is left out with a warning, a prefix that is not one safe name is refused,
      and a second run finds everything present;
    - an incremental job restored to otherhost is the source as it was at that job: the stream
      carries only what each archive's take list names (issue 11). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <czmq.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "stager.h"
#include "tf_extract.h"
#include "tf_client.h"
#include "tf_testcli.h"
#include "tf_testproc.h"
#include "tf_teststack.h"
#include "tf_tree.h"

typedef struct {
    tf_teststack_t *stack;
    char *dir;
    tf_client_t *client;
    tf_testproc_t *extractor;    /* otherhost's extractor */
    char log[PATH_MAX];
} fx_t;

/* Whether the broker lists an extract worker of host otherhost. */
static bool
s_other_registered(void *arg)
{
    fx_t *fx = arg;
    tf_msg_t reply;
    if (tf_client_status(fx->client, &reply, 2000, NULL) != TF_OK)
        return false;
    bool found = false;
    for (size_t i = 0; i < reply.status.workers_count; i++) {
        const tf_msg_worker_row_t *w = &reply.status.workers[i];
        found |= w->service && strcmp(w->service, "extract") == 0 && w->host && strcmp(w->host, "otherhost") == 0;
    }
    tf_msg_clear(&reply);
    return found;
}

static int
s_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    static const char *const config[] = {"tapeflow/host=tapehost", NULL};
    tf_teststack_opts_t opts = {.config = config};
    fx->stack = tf_teststack_new("tfrrs", &opts);
    assert_non_null(fx->stack);
    fx->dir = (char *) tf_teststack_dir(fx->stack);
    fx->client = tf_client_new(NULL, tf_teststack_broker(fx->stack), NULL);
    assert_non_null(fx->client);
    /* otherhost: the same stack's endpoints, its own host name. */
    char other[PATH_MAX];
    snprintf(other, sizeof other, "%s/otherhost.cfg", fx->dir);
    zconfig_t *root = zconfig_load(tf_teststack_config(fx->stack));
    assert_non_null(root);
    zconfig_put(root, "tapeflow/host", "otherhost");
    assert_int_equal(zconfig_save(root, other), 0);
    zconfig_destroy(&root);
    snprintf(fx->log, sizeof fx->log, "%s/extractor-otherhost.log", fx->dir);
    char *const argv[] = {"tapeflow-extractor", "--config", other, "--name", "extractor.otherhost",
                          "--log-level", "debug", NULL};
    fx->extractor = tf_testproc_start("tapeflow-extractor", argv, tf_teststack_env(fx->stack), fx->log);
    assert_non_null(fx->extractor);
    if (!tf_test_wait_for(s_other_registered, fx, 30000))
        fail_msg("otherhost's extractor did not register (log: %s)", fx->log);
    *state = fx;
    return 0;
}

static int
s_teardown(void **state)
{
    fx_t *fx = *state;
    tf_testproc_kill(fx->extractor, SIGTERM);
    int status = -1;
    bool ended = tf_testproc_wait(fx->extractor, 15000, &status);
    tf_testproc_destroy(&fx->extractor);
    tf_client_destroy(&fx->client);
    int down = tf_teststack_finish(&fx->stack);
    free(fx);
    assert_true(ended);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(down, 0);
    return 0;
}

static bool
s_file_has(const char *path, const char *needle)
{
    char *text = tf_test_read_file(path);
    bool has = text && strstr(text, needle);
    free(text);
    return has;
}

/* Files in the stager's ready/ whose name holds "-restore-". */
static int
s_staged_streams(fx_t *fx)
{
    char ready[PATH_MAX];
    snprintf(ready, sizeof ready, "%s/staging/ready", fx->dir);
    DIR *d = opendir(ready);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        n += strstr(de->d_name, "-restore-") != NULL;
    closedir(d);
    return n;
}

static void
test_restore_lands_through_the_extractor(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(tf_teststack_label(fx->stack, "tape0", "TF0001", "default"), 0);
    char src[PATH_MAX], why[1024];
    snprintf(src, sizeof src, "%s/src", fx->dir);
    tf_tree_spec_t spec = {.files = 120, .bytes = 3 << 20, .seed = 10, .special = true, .link_groups = 3};
    tf_tree_stats_t stats;
    if (tf_tree_generate(src, &spec, &stats, why, sizeof why) != 0)
        fail_msg("%s", why);
    char job[128];
    char *json = NULL;
    int rc = tf_teststack_backup(fx->stack, src, "default", job, sizeof job, &json);
    if (rc != 0 || !strstr(json ? json : "", "\"status\":\"completed\""))
        fail_msg("backup failed (%d): %s", rc, json ? json : "");
    free(json);

    char dest[PATH_MAX], to[PATH_MAX + 16];
    snprintf(dest, sizeof dest, "%s/remote", fx->dir);
    snprintf(to, sizeof to, "otherhost:%s", dest);
    char *out = NULL;
    rc = tf_teststack_cli(fx->stack, &out, "restore", job, "--to", to, "--json", NULL);
    if (rc != 0)
        fail_msg("restore --to %s failed (%d): %s", to, rc, out ? out : "");
    char buf[256];
    assert_string_equal(tf_test_json_str(out, "host", buf, sizeof buf), "otherhost");
    assert_non_null(strstr(out, "into otherhost:"));
    long long files = tf_test_json_int(out, "files");
    assert_true(files > 100);
    free(out);

    /* The tree is back, metadata included (holes come back as data: the stream is plain pax). */
    char restored[PATH_MAX * 2];
    snprintf(restored, sizeof restored, "%s%s", dest, src);
    if (tf_tree_compare(src, restored, false, why, sizeof why) != 0)
        fail_msg("restored tree differs: %s", why);

    /* otherhost's extractor wrote it; the tape writer (host tapehost) only streamed it. */
    char wrote[256], twlog[PATH_MAX];
    snprintf(wrote, sizeof wrote, "wrote %lld files", files);
    if (!s_file_has(fx->log, wrote) || !s_file_has(fx->log, "on host otherhost"))
        fail_msg("otherhost's extractor log %s does not say '%s ... on host otherhost'", fx->log, wrote);
    tf_teststack_log(fx->stack, "tapewriter.1", twlog, sizeof twlog);
    assert_true(s_file_has(twlog, "streamed for host otherhost"));

    /* The staged stream is deleted once written. */
    assert_int_equal(s_staged_streams(fx), 0);

    /* Again (a redelivered extract item does the same): every file is there already and left
       alone; only folders are set again (as in a local restore), and the restore is complete. */
    rc = tf_teststack_cli(fx->stack, &out, "restore", job, "--to", to, "--json", NULL);
    if (rc != 0)
        fail_msg("second restore failed (%d): %s", rc, out ? out : "");
    long long present = tf_test_json_int(out, "present"), again = tf_test_json_int(out, "files");
    assert_true(present >= (long long) stats.files);
    assert_int_equal(present + again, files);
    assert_true(again <= (long long) stats.dirs + 1);
    free(out);
    assert_int_equal(s_staged_streams(fx), 0);
}

/* src/NAME holds text. */
static void
s_put(const char *src, const char *name, const char *text)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s", src, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* An incremental job streamed to otherhost (issue 11): the tape writer sends only the entries
   each archive's take list names, so the older copies in the full's archive and the file
   deleted since do not reach the extractor; the tree is the source as it was at the job. */
static void
test_chain_restore_through_the_extractor(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(tf_teststack_label(fx->stack, "tape0", "TF0001", "default"), 0);
    char src[PATH_MAX], why[1024];
    snprintf(src, sizeof src, "%s/src", fx->dir);
    assert_int_equal(mkdir(src, 0755), 0);
    s_put(src, "same.txt", "unchanged\n");
    s_put(src, "grows.txt", "short\n");
    s_put(src, "gone.txt", "deleted before the incremental\n");
    char full[128], incr[128];
    assert_int_equal(tf_teststack_backup_level(fx->stack, src, "default", "full", full, sizeof full, NULL), 0);
    s_put(src, "grows.txt", "longer than it was\n");
    s_put(src, "added.txt", "new in the incremental\n");
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/gone.txt", src);
    assert_int_equal(unlink(p), 0);
    assert_int_equal(tf_teststack_backup_level(fx->stack, src, "default", "incremental", incr, sizeof incr, NULL), 0);

    char dest[PATH_MAX], to[PATH_MAX + 16];
    snprintf(dest, sizeof dest, "%s/chain", fx->dir);
    snprintf(to, sizeof to, "otherhost:%s", dest);
    char *out = NULL;
    int rc = tf_teststack_cli(fx->stack, &out, "restore", incr, "--to", to, "--json", NULL);
    if (rc != 0)
        fail_msg("restore of %s --to %s failed (%d): %s", incr, to, rc, out ? out : "");
    assert_int_equal(tf_test_json_int(out, "archives_read"), 2);   /* the full's and its own */
    assert_int_equal(tf_test_json_int(out, "collisions"), 0);
    free(out);
    char restored[PATH_MAX * 2];
    snprintf(restored, sizeof restored, "%s%s", dest, src);
    /* Strict: times to the nanosecond, as a local restore. */
    if (tf_tree_compare_strict(src, restored, false, why, sizeof why) != 0)
        fail_msg("the streamed restore of %s is not the source as it was: %s", incr, why);
    char gone[PATH_MAX * 2 + 16];
    snprintf(gone, sizeof gone, "%s/gone.txt", restored);
    struct stat st;
    assert_int_not_equal(lstat(gone, &st), 0);
}

static void
test_restore_to_host_without_agent_fails(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(tf_teststack_label(fx->stack, "tape0", "TF0001", "default"), 0);
    char src[PATH_MAX], file[PATH_MAX + 16];
    snprintf(src, sizeof src, "%s/src", fx->dir);
    assert_int_equal(mkdir(src, 0755), 0);
    snprintf(file, sizeof file, "%s/a.txt", src);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fputs("a\n", f);
    fclose(f);
    char job[128];
    assert_int_equal(tf_teststack_backup(fx->stack, src, "default", job, sizeof job, NULL), 0);

    char dest[PATH_MAX], to[PATH_MAX + 16];
    snprintf(dest, sizeof dest, "%s/nowhere", fx->dir);
    snprintf(to, sizeof to, "nohost:%s", dest);
    char *out = NULL;
    int rc = tf_teststack_cli_all(fx->stack, &out, "restore", job, "--to", to, NULL);
    assert_int_not_equal(rc, 0);
    if (!strstr(out ? out : "", "no file agent on host nohost to write the restore: start tapeflow up there "
                                "(up/roles agent)"))
        fail_msg("unexpected output: %s", out ? out : "");
    free(out);
    struct stat st;
    assert_int_not_equal(lstat(dest, &st), 0);   /* nobody made the folder */
    assert_int_equal(s_staged_streams(fx), 0);   /* nothing was streamed */
}

static void
test_wildcard_stager_refused(void **state)
{
    (void) state;
    char example[128] = "";
    assert_true(stager_wildcard("tcp://0.0.0.0:5557", example, sizeof example));
    assert_string_equal(example, "tcp://10.0.0.1:5557");
    assert_true(stager_wildcard("tcp://*:6000", example, sizeof example));
    assert_true(stager_wildcard("tcp://[::]:5557", example, sizeof example));
    assert_false(stager_wildcard("tcp://10.0.0.1:5557", example, sizeof example));
    assert_false(stager_wildcard("ipc:///run/tapeflow/stager.sock", example, sizeof example));

    /* The program refuses to start and says what to set. */
    static const char *const config[] = {"stager/endpoint=tcp://0.0.0.0:5557", NULL};
    tf_teststack_opts_t opts = {.config = config, .no_up = true};
    tf_teststack_t *stack = tf_teststack_new("tfrwc", &opts);
    assert_non_null(stack);
    char *out = NULL;
    int rc = tf_teststack_shell(stack, &out, "tapeflow-stager --config \"$TAPEFLOW_CONFIG\" 2>&1");
    assert_int_not_equal(rc, 0);
    if (!strstr(out ? out : "", "stager/endpoint tcp://0.0.0.0:5557 is a wildcard tape writers cannot connect to: "
                                "set stager/advertise to an address they reach, e.g. tcp://10.0.0.1:5557"))
        fail_msg("unexpected output: %s", out ? out : "");
    free(out);
    tf_teststack_destroy(&stack);
}

static const tf_extract_counts_t *
s_extract_mem(tf_extract_t *ex, const char *buf, size_t size)
{
    struct archive *in = archive_read_new();
    archive_read_support_format_tar(in);
    assert_int_equal(archive_read_open_memory(in, buf, size), ARCHIVE_OK);
    tf_err_t err = {0};
    int rc = tf_extract_archive(ex, in, NULL, &err);
    archive_read_free(in);
    if (rc != TF_OK)
        fail_msg("tf_extract_archive: %s", err.message);
    tf_extract_finish(ex, true);
    return tf_extract_counts(ex);
}

static void
test_extract_prefixed_stream(void **state)
{
    (void) state;
    char *dir = tf_test_tempdir("tfext");
    assert_non_null(dir);
    static const char *const files[] = {"hostb/data/a.txt", "from b\n", "hostc/data/a.txt", "from c\n",
                                        "hostc/data/cut.txt", "zeros\n", "../data/evil.txt", "evil\n", NULL};
    static char buf[1 << 16];
    size_t size = tf_testcli_tar(buf, sizeof buf, files, false);
    assert_true(size > 0);
    char dest[PATH_MAX], p[PATH_MAX + 64];
    snprintf(dest, sizeof dest, "%s/dest", dir);
    tf_msg_path_row_t cut = {.path = "hostc/data/cut.txt"};
    tf_extract_opts_t opts = {.dest = dest, .prefixed_paths = true, .skip = &cut, .skip_count = 1};
    tf_err_t err = {0};
    tf_extract_t *ex = tf_extract_new(&opts, &err);
    assert_non_null(ex);
    const tf_extract_counts_t *c = s_extract_mem(ex, buf, size);
    assert_int_equal(c->files, 2);
    assert_int_equal(c->refused, 1);      /* ".." as a host prefix */
    assert_int_equal(c->warnings, 2);     /* the refusal and the entry cut short */
    char text[800];
    assert_non_null(strstr(tf_extract_warning_text(ex, text, sizeof text),
                           "data/cut.txt not restored: its archive could not be read to its end"));
    tf_extract_destroy(&ex);
    snprintf(p, sizeof p, "%s/hostb/data/a.txt", dest);
    char *got = tf_test_read_file(p);
    assert_string_equal(got ? got : "", "from b\n");
    free(got);
    snprintf(p, sizeof p, "%s/hostc/data/a.txt", dest);
    got = tf_test_read_file(p);
    assert_string_equal(got ? got : "", "from c\n");
    free(got);
    struct stat st;
    snprintf(p, sizeof p, "%s/hostc/data/cut.txt", dest);
    assert_int_not_equal(lstat(p, &st), 0);
    snprintf(p, sizeof p, "%s/data/evil.txt", dir);
    assert_int_not_equal(lstat(p, &st), 0);

    /* Again: what is there is present, nothing rewritten, nothing kept. */
    ex = tf_extract_new(&opts, &err);
    assert_non_null(ex);
    c = s_extract_mem(ex, buf, size);
    assert_int_equal(c->files, 0);
    assert_int_equal(c->present, 2);
    assert_int_equal(c->kept, 0);
    tf_extract_destroy(&ex);

    /* A relative destination is refused before anything is made. */
    tf_extract_opts_t bad = {.dest = "relative/dest"};
    assert_null(tf_extract_new(&bad, &err));
    assert_int_equal(err.code, TF_ERR_INVALID);
    tf_test_dir_done(&dir);
}

/* A symlink on the way to the destination (restore_roots are checked on the text) is refused
   before anything is made through it; so is '..'. */
static void
test_extract_refuses_symlinked_dest(void **state)
{
    (void) state;
    char *dir = tf_test_tempdir("tfext");
    assert_non_null(dir);
    char allowed[PATH_MAX], elsewhere[PATH_MAX], link[PATH_MAX + 16], dest[PATH_MAX + 32], made[PATH_MAX + 32];
    snprintf(allowed, sizeof allowed, "%s/allowed", dir);
    snprintf(elsewhere, sizeof elsewhere, "%s/elsewhere", dir);
    assert_int_equal(mkdir(allowed, 0755), 0);
    assert_int_equal(mkdir(elsewhere, 0755), 0);
    snprintf(link, sizeof link, "%s/escape", allowed);
    assert_int_equal(symlink(elsewhere, link), 0);
    snprintf(dest, sizeof dest, "%s/escape/new", allowed);
    tf_extract_opts_t opts = {.dest = dest};
    tf_err_t err = {0};
    assert_null(tf_extract_new(&opts, &err));
    assert_int_equal(err.code, TF_ERR_INVALID);
    assert_non_null(strstr(err.message, "goes through a symbolic link"));
    struct stat st;
    snprintf(made, sizeof made, "%s/new", elsewhere);
    assert_int_not_equal(lstat(made, &st), 0);  /* nothing made through the link */

    snprintf(dest, sizeof dest, "%s/escape/../../elsewhere", allowed);
    assert_null(tf_extract_new(&opts, &err));
    assert_non_null(strstr(err.message, "holds '..'"));

    /* the same folder named by its real path, with a doubled slash, is fine */
    snprintf(dest, sizeof dest, "%s//new/", elsewhere);
    tf_extract_t *ex = tf_extract_new(&opts, &err);
    if (!ex)
        fail_msg("tf_extract_new %s: %s", dest, err.message);
    tf_extract_destroy(&ex);
    assert_int_equal(lstat(made, &st), 0);
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
        cmocka_unit_test_setup_teardown(test_restore_lands_through_the_extractor, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_restore_to_host_without_agent_fails, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_chain_restore_through_the_extractor, s_setup, s_teardown),
        cmocka_unit_test(test_wildcard_stager_refused),
        cmocka_unit_test(test_extract_prefixed_stream),
        cmocka_unit_test(test_extract_refuses_symlinked_dest),
    };
    return cmocka_run_group_tests_name("remote_restore", tests, NULL, NULL);
}
