/*  Replication end to end (issue 12): the whole stack under `tapeflow up` with the replicator,
    a private smbd (tests/support tf_testsmb) as the target `nas`
    (smb://127.0.0.1:PORT/backup/tf), driven through the CLI as an operator would.

      1. a backup lands on the share, verified: <root>/<job>/manifest.json and each archive's
         .data and .rows, seen on smbd's share folder; `replica verify` passes (and fails on a
         flipped byte); restores from the replica (whole job, one file, an incremental chain)
         equal the source;
      2. smbd stopped as soon as .partial/<job> appears: the job fails with "replication to ...
         failed", only .partial/<job> is on the share, the stager still holds the archives; smbd
         started again and `tapeflow job retry` completes it, the .partial folder is gone;
      3. a wrong password: `replica check` exit 2 with the credentials message; a backup's
         replication fails with it;
      4. a share that does not exist: `replica check` says so;
      5. a full share (an 8 MiB tmpfs as the share's folder; root only): the replication fails
         with the "no space left" / "full" message;
      6. a file:// target on a local folder with require_fs = cifs: `replica check` exit 2 with
         "not on cifs ... not mounted"; a backup's replication fails with it (or is refused);
      7. optional replication to a failing target: the job ends completed_with_warnings naming
         the replica failure, and the stager releases the archives.

    Between the cases the pool's targets change: the configuration is rewritten and the stack
    restarted (the stager reads a pool's targets at start). broker/max_attempts is 2 so a
    required replica that cannot be written fails the job quickly. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tf_testproc.h"
#include "tf_testsmb.h"
#include "tf_teststack.h"
#include "tf_tree.h"

typedef struct {
    tf_teststack_t *stack;
    const char *dir;              /* the stack's folder */
    tf_testsmb_t *smb;
    char *work;                   /* credentials files, the small share, the local target */
    char bad_creds[PATH_MAX];
    char small[PATH_MAX];         /* the tmpfs share folder; "" when none (not root) */
    char small_why[PATH_MAX + 128]; /* why there is none */
    char local[PATH_MAX];         /* the file:// target's folder (a local disk) */
    char root[PATH_MAX];          /* the nas target's root as smbd's share folder has it */
} fx_t;

#define s_cli(fx, out, ...) tf_teststack_cli((fx)->stack, (out), __VA_ARGS__)
#define s_cli_all(fx, out, ...) tf_teststack_cli_all((fx)->stack, (out), __VA_ARGS__)

/* --- set-up --------------------------------------------------------------------------------- */

static void
s_write_file(const char *path, const void *data, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        fail_msg("cannot write %s: %s", path, strerror(errno));
    assert_int_equal(write(fd, data, len), (ssize_t) len);
    assert_int_equal(close(fd), 0);
    assert_int_equal(chmod(path, mode), 0);
}

/* n files of size bytes each that no compressor shrinks (xorshift), in a new folder dir. */
static void
s_random_tree(const char *dir, int n, size_t size, uint64_t seed)
{
    assert_int_equal(mkdir(dir, 0755), 0);
    uint64_t *buf = malloc(size + 8);
    assert_non_null(buf);
    uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (int f = 0; f < n; f++) {
        for (size_t i = 0; i < size / 8 + 1; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[i] = x;
        }
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/random-%02d.bin", dir, f);
        s_write_file(path, buf, size, 0644);
    }
    free(buf);
}

static int
s_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    char why[1024] = "";
    fx->smb = tf_testsmb_new(why, sizeof why);
    if (!fx->smb)
        fail_msg("cannot start smbd: %s", why);
    fx->work = tf_test_tempdir("tfrepw");
    assert_non_null(fx->work);

    /* the wrong password, in a file as an operator would write it */
    snprintf(fx->bad_creds, sizeof fx->bad_creds, "%s/bad-creds", fx->work);
    char text[256];
    snprintf(text, sizeof text, "username = %s\npassword = not-%s\n", tf_testsmb_user(fx->smb),
             tf_testsmb_password(fx->smb));
    s_write_file(fx->bad_creds, text, strlen(text), 0600);

    /* a small share: an 8 MiB tmpfs (root only) */
    if (geteuid() != 0)
        snprintf(fx->small_why, sizeof fx->small_why, "mounting a small tmpfs as the share needs root");
    else {
        snprintf(fx->small, sizeof fx->small, "%s/small", fx->work);
        assert_int_equal(mkdir(fx->small, 0777), 0);
        if (mount("tapeflow-test", fx->small, "tmpfs", 0, "size=8m,mode=0777") != 0) {
            snprintf(fx->small_why, sizeof fx->small_why, "cannot mount a tmpfs on %s: %s", fx->small,
                     strerror(errno));
            fx->small[0] = '\0';
        }
        else if (tf_testsmb_add_share(fx->smb, "small", fx->small, why, sizeof why) != 0)
            fail_msg("cannot add share small: %s", why);
    }
    /* a local folder, not a mounted share */
    snprintf(fx->local, sizeof fx->local, "%s/local", fx->work);
    assert_int_equal(mkdir(fx->local, 0755), 0);
    snprintf(fx->root, sizeof fx->root, "%s/tf", tf_testsmb_share_path(fx->smb, "backup"));

    char nas_url[512], bad_url[512], noshare_url[512], small_url[512];
    char s_nas[600], s_nas_creds[PATH_MAX + 64], s_bad[600], s_bad_creds[PATH_MAX + 64], s_noshare[600],
        s_noshare_creds[PATH_MAX + 64], s_small[600], s_small_creds[PATH_MAX + 64], s_local[PATH_MAX + 64];
    snprintf(s_nas, sizeof s_nas, "replicas/nas/url=%s", tf_testsmb_url(fx->smb, "backup", "tf", nas_url, sizeof nas_url));
    snprintf(s_nas_creds, sizeof s_nas_creds, "replicas/nas/credentials=%s", tf_testsmb_creds(fx->smb));
    snprintf(s_bad, sizeof s_bad, "replicas/bad/url=%s", tf_testsmb_url(fx->smb, "backup", "bad", bad_url, sizeof bad_url));
    snprintf(s_bad_creds, sizeof s_bad_creds, "replicas/bad/credentials=%s", fx->bad_creds);
    snprintf(s_noshare, sizeof s_noshare, "replicas/noshare/url=%s",
             tf_testsmb_url(fx->smb, "noshare", "tf", noshare_url, sizeof noshare_url));
    snprintf(s_noshare_creds, sizeof s_noshare_creds, "replicas/noshare/credentials=%s", tf_testsmb_creds(fx->smb));
    snprintf(s_small, sizeof s_small, "replicas/small/url=%s",
             tf_testsmb_url(fx->smb, "small", "tf", small_url, sizeof small_url));
    snprintf(s_small_creds, sizeof s_small_creds, "replicas/small/credentials=%s", tf_testsmb_creds(fx->smb));
    snprintf(s_local, sizeof s_local, "replicas/local/url=file://%s", fx->local);
    const char *config[] = {
        "up/roles=broker bus catalog labeller scanner compressor stager tapewriter replicator",
        "broker/max_attempts=2",
        "replicator/timeout=5000",
        "replicator/sweep=1000",
        "pools/default/replicas=nas",
        s_nas, s_nas_creds,
        s_bad, s_bad_creds,
        s_noshare, s_noshare_creds,
        s_small, s_small_creds,
        s_local, "replicas/local/require_fs=cifs",
        NULL,
    };
    tf_teststack_opts_t opts = {.config = config};
    fx->stack = tf_teststack_new("tfrep", &opts);
    if (!fx->stack)
        fail_msg("the stack did not come up (see stderr)");
    fx->dir = tf_teststack_dir(fx->stack);
    assert_int_equal(tf_teststack_label(fx->stack, "tape0", "TF0001", "default"), 0);
    char *out = NULL;
    int rc = s_cli_all(fx, &out, "replica", "init", "nas", NULL);
    if (rc != 0)
        fail_msg("replica init nas: exit %d: %s", rc, out ? out : "");
    free(out);
    if (fx->small[0]) {
        rc = s_cli_all(fx, &out, "replica", "init", "small", NULL);
        if (rc != 0)
            fail_msg("replica init small: exit %d: %s", rc, out ? out : "");
        free(out);
    }
    *state = fx;
    return 0;
}

static int
s_teardown(void **state)
{
    fx_t *fx = *state;
    int down = tf_teststack_finish(&fx->stack);
    tf_testsmb_destroy(&fx->smb);
    if (fx->small[0] && umount(fx->small) != 0)
        fprintf(stderr, "cannot unmount %s: %s\n", fx->small, strerror(errno));
    tf_test_dir_done(&fx->work);
    free(fx);
    assert_int_equal(down, 0);
    return 0;
}

/* The pool's targets and replication changed: config rewritten, the stack restarted. */
static void
s_reconfigure(fx_t *fx, const char *replicas, const char *replication)
{
    char a[256], b[256], why[1024] = "";
    snprintf(a, sizeof a, "pools/default/replicas=%s", replicas);
    snprintf(b, sizeof b, "pools/default/replication=%s", replication);
    assert_int_equal(tf_teststack_set(fx->stack, a), 0);
    assert_int_equal(tf_teststack_set(fx->stack, b), 0);
    if (tf_teststack_down(fx->stack, why, sizeof why) != 0)
        fail_msg("the stack did not stop cleanly: %s", why);
    if (tf_teststack_up(fx->stack) != 0)
        fail_msg("the stack did not come up again (see stderr)");
}

/* Every case starts with smbd serving (a failed case before may have left it stopped). */
static void
s_smbd_up(fx_t *fx)
{
    char why[1024] = "";
    if (!tf_testsmb_running(fx->smb) && tf_testsmb_start_again(fx->smb, why, sizeof why) != 0)
        fail_msg("smbd did not start again: %s", why);
}

/* --- jobs ------------------------------------------------------------------------------------ */

/* `tapeflow job ID --json` (caller frees); its exit status says how the job ended (1 for a
   failed one), the JSON is there either way. */
static char *
s_job_json(fx_t *fx, const char *job)
{
    char *out = NULL;
    int rc = s_cli(fx, &out, "job", job, "--json", NULL);
    if ((rc != 0 && rc != 1) || !strstr(out ? out : "", "\"job_id\""))
        fail_msg("tapeflow job %s --json: exit %d: %s", job, rc, out ? out : "");
    return out;
}

static const char *
s_str(const char *json, const char *key, char *buf, size_t size)
{
    return json && tf_test_json_str(json, key, buf, size) ? buf : "";
}

/* The first replica's field ("state", "target", ...) in a job's JSON. */
static const char *
s_replica_str(const char *json, const char *key, char *buf, size_t size)
{
    const char *replicas = json ? strstr(json, "\"replicas\":[") : NULL;
    return replicas ? s_str(replicas, key, buf, size) : "";
}

/* The job's own message: the first "message" after the replicas array (each replica has a
   message of its own, and the array comes first). */
static const char *
s_job_message(const char *json, char *buf, size_t size)
{
    const char *p = json ? strstr(json, "\"replicas\":[") : NULL;
    if (!p)
        return s_str(json, "message", buf, size);
    int depth = 0;
    bool in_string = false;
    for (p = strchr(p, '['); *p; p++) {
        if (in_string) {
            if (*p == '\\' && p[1])
                p++;
            else if (*p == '"')
                in_string = false;
        }
        else if (*p == '"')
            in_string = true;
        else if (*p == '[' || *p == '{')
            depth++;
        else if ((*p == ']' || *p == '}') && --depth == 0)
            break;
    }
    return s_str(*p ? p : NULL, "message", buf, size);
}

/* Polls the job until its status is want (or, with want NULL, until it is no longer running
   or queued); fails after timeout_ms saying what it was. Returns its JSON (caller frees). */
static char *
s_wait_job(fx_t *fx, const char *job, const char *want, int timeout_ms)
{
    char status[64] = "";
    char *json = NULL;
    for (int waited = 0; waited <= timeout_ms; waited += 250) {
        free(json);
        json = s_job_json(fx, job);
        s_str(json, "status", status, sizeof status);
        if (want ? strcmp(status, want) == 0
                 : strcmp(status, "running") != 0 && strcmp(status, "queued") != 0 && status[0])
            return json;
        usleep(250 * 1000);
    }
    fail_msg("job %s is %s after %d ms, expected %s:\n%s", job, status, timeout_ms, want ? want : "an end", json);
    return NULL;
}

/* `tapeflow backup SRC --wait --json` (level NULL: the default); the job id in job, the exit
   status returned, the final JSON in *json. */
static int
s_backup(fx_t *fx, const char *src, const char *level, char *job, size_t size, char **json)
{
    job[0] = '\0';
    return level ? tf_teststack_backup_level(fx->stack, src, "default", level, job, size, json)
                 : tf_teststack_backup(fx->stack, src, "default", job, size, json);
}

static bool
s_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* The archives of job still on the stager's holding disk (ready/<job>...data). */
static int
s_staged(fx_t *fx, const char *job)
{
    char ready[PATH_MAX];
    snprintf(ready, sizeof ready, "%s/staging/ready", fx->dir);
    DIR *d = opendir(ready);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    size_t len = strlen(job);
    while ((e = readdir(d)) != NULL) {
        size_t name_len = strlen(e->d_name);
        if (strncmp(e->d_name, job, len) == 0 && name_len > 5 && strcmp(e->d_name + name_len - 5, ".data") == 0)
            n++;
    }
    closedir(d);
    return n;
}

/* Waits until the stager holds no archive of job (it released them all). */
static void
s_wait_released(fx_t *fx, const char *job, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 200) {
        if (s_staged(fx, job) == 0)
            return;
        usleep(200 * 1000);
    }
    fail_msg("the stager still holds %d archives of job %s after %d ms", s_staged(fx, job), job, timeout_ms);
}

/* A committed job on the share (seen in smbd's folder): manifest.json naming each archive, and
   each archive's .data and .rows next to it; no .partial/<job> left. Returns the archive
   count; the first archive's id in first. */
static int
s_expect_committed(fx_t *fx, const char *job, char *first, size_t first_size)
{
    char path[PATH_MAX * 2];
    snprintf(path, sizeof path, "%s/%s/manifest.json", fx->root, job);
    char *manifest = tf_test_read_file(path);
    if (!manifest)
        fail_msg("no %s: job %s is not committed on the share", path, job);
    char got[256];
    if (strcmp(s_str(manifest, "job_id", got, sizeof got), job) != 0)
        fail_msg("%s names job %s", path, got);
    int n = 0;
    for (const char *p = manifest; (p = strstr(p, "\"archive_id\":")) != NULL; p++) {
        char id[256];
        if (!tf_test_json_str(p, "archive_id", id, sizeof id))
            fail_msg("%s: an archive_id without a value", path);
        if (n == 0 && first)
            snprintf(first, first_size, "%s", id);
        const char *ext[] = {"data", "rows"};
        for (int i = 0; i < 2; i++) {
            snprintf(path, sizeof path, "%s/%s/%s.%s", fx->root, job, id, ext[i]);
            struct stat st;
            if (stat(path, &st) != 0 || st.st_size == 0)
                fail_msg("archive %s of job %s: no %s on the share (or empty)", id, job, path);
        }
        n++;
    }
    free(manifest);
    if (n == 0)
        fail_msg("the manifest of job %s lists no archive", job);
    snprintf(path, sizeof path, "%s/.partial/%s", fx->root, job);
    if (s_exists(path))
        fail_msg("%s is still there after the commit", path);
    return n;
}

/* `tapeflow restore ARGS... --from-replica TARGET --to DIR/TO` (ARGS NULL-terminated): exit
   status, output (stdout and stderr) in *out. */
static int
s_restore_replica(fx_t *fx, const char *target, const char *to, char **out, ...)
{
    char dest[PATH_MAX];
    snprintf(dest, sizeof dest, "%s/%s", fx->dir, to);
    char *argv[16] = {"tapeflow", "restore"};
    int n = 2;
    va_list ap;
    va_start(ap, out);
    for (const char *a; n < 10 && (a = va_arg(ap, const char *));)
        argv[n++] = (char *) a;
    va_end(ap);
    argv[n++] = "--from-replica";
    argv[n++] = (char *) target;
    argv[n++] = "--to";
    argv[n++] = dest;
    argv[n] = NULL;
    /* stderr too: the report for people goes there */
    char cmd[PATH_MAX * 4] = "tapeflow";
    for (int i = 1; i < n; i++) {
        strncat(cmd, " '", sizeof cmd - strlen(cmd) - 1);
        strncat(cmd, argv[i], sizeof cmd - strlen(cmd) - 1);
        strncat(cmd, "'", sizeof cmd - strlen(cmd) - 1);
    }
    strncat(cmd, " 2>&1", sizeof cmd - strlen(cmd) - 1);
    return tf_teststack_shell(fx->stack, out, cmd);
}

/* The restored copy of src (stored under its full path in DIR/TO) equals src. */
static void
s_expect_restored(fx_t *fx, const char *to, const char *src)
{
    char restored[PATH_MAX * 2], why[1024];
    snprintf(restored, sizeof restored, "%s/%s%s", fx->dir, to, src);
    if (tf_tree_compare(src, restored, false, why, sizeof why) != 0)
        fail_msg("the restore from the replica in %s differs from %s: %s", to, src, why);
}

static void
s_expect_contains(const char *what, const char *text, const char *needle)
{
    if (!strstr(text ? text : "", needle))
        fail_msg("%s does not say '%s':\n%s", what, needle, text ? text : "(nothing)");
}

/* The job's replica on target failed: its row says "replication to URL failed: ... why ...",
   and so does the job's message (the broker's "failed in replicate: ..." or the catalog's
   "...; replication to URL failed: ..."). */
static void
s_expect_replica_failed(const char *json, const char *target, const char *why)
{
    char got[2048], message[2048];
    if (strcmp(s_replica_str(json, "target", got, sizeof got), target) != 0 ||
        strcmp(s_replica_str(json, "state", got, sizeof got), "failed") != 0)
        fail_msg("replicas[0] is not %s, failed:\n%s", target, json);
    s_replica_str(json, "message", message, sizeof message);
    s_expect_contains("the replica's message", message, "replication to ");
    s_expect_contains("the replica's message", message, " failed: ");
    s_expect_contains("the replica's message", message, why);
    s_expect_contains("the job's message", s_job_message(json, got, sizeof got), why);
}

/* --- 1: a backup on the share, verified, restored from it ------------------------------------ */

static void
test_backup_is_replicated_and_restores(void **state)
{
    fx_t *fx = *state;
    s_smbd_up(fx);
    char src[PATH_MAX], one[PATH_MAX + 16], why[512];
    snprintf(src, sizeof src, "%s/src1", fx->dir);
    tf_tree_spec_t spec = {.files = 40, .bytes = 3 << 20, .seed = 12, .special = true};
    tf_tree_stats_t stats;
    if (tf_tree_generate(src, &spec, &stats, why, sizeof why) != 0)
        fail_msg("tree: %s", why);
    snprintf(one, sizeof one, "%s/one.txt", src);
    s_write_file(one, "version one\n", 12, 0644);

    char j1[128], *json = NULL;
    int rc = s_backup(fx, src, NULL, j1, sizeof j1, &json);
    if (rc != 0 || !j1[0])
        fail_msg("backup of %s: exit %d: %s", src, rc, json ? json : "");
    free(json);

    /* the job says completed and its replica verified */
    json = s_job_json(fx, j1);
    char got[2048];
    if (strcmp(s_str(json, "status", got, sizeof got), "completed") != 0)
        fail_msg("job %s is %s, expected completed:\n%s", j1, got, json);
    if (strcmp(s_replica_str(json, "target", got, sizeof got), "nas") != 0 ||
        strcmp(s_replica_str(json, "state", got, sizeof got), "verified") != 0)
        fail_msg("job %s: replicas[0] is not nas, verified:\n%s", j1, json);
    s_expect_contains("the job's message", s_job_message(json, got, sizeof got), "replicated to smb://127.0.0.1:");
    free(json);

    /* on the share, as smbd wrote it; the stager let the archives go (tape and nas have them) */
    char first[256];
    s_expect_committed(fx, j1, first, sizeof first);
    s_wait_released(fx, j1, 30000);

    /* replica verify reads it back: ok, and not ok after a flipped byte */
    char *out = NULL;
    rc = s_cli_all(fx, &out, "replica", "verify", "nas", j1, NULL);
    if (rc != 0)
        fail_msg("replica verify nas %s: exit %d: %s", j1, rc, out ? out : "");
    free(out);
    char data[PATH_MAX * 2];
    snprintf(data, sizeof data, "%s/%s/%s.data", fx->root, j1, first);
    int fd = open(data, O_RDWR);
    assert_true(fd >= 0);
    unsigned char byte;
    assert_int_equal(pread(fd, &byte, 1, 100), 1);
    byte ^= 0x40;
    assert_int_equal(pwrite(fd, &byte, 1, 100), 1);
    rc = s_cli_all(fx, &out, "replica", "verify", "nas", j1, NULL);
    if (rc != 1)
        fail_msg("replica verify nas %s with a flipped byte in %s: exit %d (expected 1): %s", j1, data, rc,
                 out ? out : "");
    free(out);
    /* a restore from the replica reads the share, and checks what it reads */
    rc = s_restore_replica(fx, "nas", "r1-bad", &out, j1, NULL);
    if (rc == 0)
        fail_msg("restore %s --from-replica nas with a flipped byte in %s: exit 0: %s", j1, data, out ? out : "");
    free(out);
    byte ^= 0x40;
    assert_int_equal(pwrite(fd, &byte, 1, 100), 1);
    assert_int_equal(close(fd), 0);
    rc = s_cli_all(fx, &out, "replica", "verify", "nas", j1, NULL);
    if (rc != 0)
        fail_msg("replica verify nas %s after the byte was put back: exit %d: %s", j1, rc, out ? out : "");
    free(out);

    /* the whole job from the replica */
    rc = s_restore_replica(fx, "nas", "r1", &out, j1, NULL);
    if (rc != 0)
        fail_msg("restore %s --from-replica nas: exit %d: %s", j1, rc, out ? out : "");
    free(out);
    s_expect_restored(fx, "r1", src);

    /* one file of it */
    rc = s_restore_replica(fx, "nas", "r1-one", &out, j1, one, NULL);
    if (rc != 0)
        fail_msg("restore %s %s --from-replica nas: exit %d: %s", j1, one, rc, out ? out : "");
    free(out);
    char restored[PATH_MAX * 2];
    snprintf(restored, sizeof restored, "%s/r1-one%s", fx->dir, one);
    char *text = tf_test_read_file(restored);
    if (!text || strcmp(text, "version one\n") != 0)
        fail_msg("the single-file restore gave %s: %s", restored, text ? text : "(missing)");
    free(text);
    snprintf(restored, sizeof restored, "%s/r1-one%s", fx->dir, src);
    long entries = tf_tree_entries(restored);
    if (entries != 2)   /* the folder and one.txt */
        fail_msg("the single-file restore wrote %ld entries under %s, expected the file alone", entries, restored);

    /* an incremental on top, restored from the replica: the chain's archives come from both
       jobs' folders on the share */
    s_write_file(one, "version two, longer\n", 20, 0644);
    char two[PATH_MAX + 16];
    snprintf(two, sizeof two, "%s/two.txt", src);
    s_write_file(two, "new in the incremental\n", 23, 0644);
    char j2[128];
    rc = s_backup(fx, src, "incremental", j2, sizeof j2, &json);
    if (rc != 0 || !j2[0])
        fail_msg("incremental backup of %s: exit %d: %s", src, rc, json ? json : "");
    free(json);
    json = s_job_json(fx, j2);
    if (strcmp(s_str(json, "base_job", got, sizeof got), j1) != 0 ||
        strcmp(s_replica_str(json, "state", got, sizeof got), "verified") != 0)
        fail_msg("job %s: not an incremental of %s replicated and verified:\n%s", j2, j1, json);
    free(json);
    s_expect_committed(fx, j2, NULL, 0);
    rc = s_restore_replica(fx, "nas", "r2", &out, j2, NULL);
    if (rc != 0)
        fail_msg("restore %s --from-replica nas: exit %d: %s", j2, rc, out ? out : "");
    free(out);
    s_expect_restored(fx, "r2", src);
}

/* --- 2: smbd stopped mid-copy, then started again and the job retried ------------------------- */

static void
test_server_stopped_mid_copy_then_retry(void **state)
{
    fx_t *fx = *state;
    s_smbd_up(fx);
    char src[PATH_MAX];
    snprintf(src, sizeof src, "%s/src2", fx->dir);
    s_random_tree(src, 16, 2 << 20, 2);   /* 32 MiB that does not compress: ~16 archives */
    char job[128];
    assert_int_equal(tf_teststack_backup_start(fx->stack, src, "default", job, sizeof job), 0);
    assert_true(job[0] != '\0');

    /* the first archive copy makes .partial/<job>: stop the server then */
    char partial[PATH_MAX * 2], committed[PATH_MAX * 2];
    snprintf(partial, sizeof partial, "%s/.partial/%s", fx->root, job);
    snprintf(committed, sizeof committed, "%s/%s", fx->root, job);
    int waited = 0;
    while (!s_exists(partial) && waited < 120000) {
        usleep(5 * 1000);
        waited += 5;
    }
    if (!s_exists(partial))
        fail_msg("no %s after %d ms: the replicator did not start copying job %s", partial, waited, job);
    assert_int_equal(tf_testsmb_stop(fx->smb), 0);
    if (s_exists(committed))
        fail_msg("job %s was committed before smbd could be stopped: the corpus is too small", job);

    /* the job fails with the replica's message */
    char *json = s_wait_job(fx, job, NULL, 120000);
    char got[2048];
    if (strcmp(s_str(json, "status", got, sizeof got), "completed") == 0)
        fail_msg("job %s completed with its replica's server stopped:\n%s", job, json);
    s_expect_replica_failed(json, "nas", "not reachable");
    free(json);
    /* only .partial on the share; the stager keeps the archives for the replica */
    assert_true(s_exists(partial));
    assert_false(s_exists(committed));
    if (s_staged(fx, job) == 0)
        fail_msg("the stager released the archives of job %s, whose replica failed", job);

    /* the server again, the job retried: it completes */
    char why[1024] = "";
    if (tf_testsmb_start_again(fx->smb, why, sizeof why) != 0)
        fail_msg("smbd did not start again: %s", why);
    char *out = NULL;
    int rc = s_cli_all(fx, &out, "job", "retry", job, NULL);
    if (rc != 0)
        fail_msg("job retry %s: exit %d: %s", job, rc, out ? out : "");
    free(out);
    json = s_wait_job(fx, job, "completed", 120000);
    if (strcmp(s_replica_str(json, "state", got, sizeof got), "verified") != 0)
        fail_msg("job %s completed without a verified replica:\n%s", job, json);
    free(json);
    s_expect_committed(fx, job, NULL, 0);
    assert_false(s_exists(partial));
    s_wait_released(fx, job, 30000);
}

/* --- 3, 4: refused credentials, a missing share ----------------------------------------------- */

static void
test_wrong_password(void **state)
{
    fx_t *fx = *state;
    s_smbd_up(fx);
    char *out = NULL;
    int rc = s_cli_all(fx, &out, "replica", "check", "bad", NULL);
    char want[3 * PATH_MAX];
    snprintf(want, sizeof want, "SMB server 127.0.0.1 refused the credentials of user %s (from %s): check username, "
             "password and domain in %s", tf_testsmb_user(fx->smb), fx->bad_creds, fx->bad_creds);
    if (rc != 2)
        fail_msg("replica check bad: exit %d, expected 2: %s", rc, out ? out : "");
    s_expect_contains("replica check bad", out, want);
    if (strstr(out, "not-"))
        fail_msg("replica check shows the password: %s", out);
    free(out);

    s_reconfigure(fx, "bad", "required");
    char src[PATH_MAX], why[512], job[128], *json = NULL;
    snprintf(src, sizeof src, "%s/src3", fx->dir);
    tf_tree_spec_t spec = {.files = 10, .bytes = 1 << 18, .seed = 3};
    tf_tree_stats_t stats;
    if (tf_tree_generate(src, &spec, &stats, why, sizeof why) != 0)
        fail_msg("tree: %s", why);
    rc = s_backup(fx, src, NULL, job, sizeof job, &json);
    assert_true(job[0] != '\0');
    free(json);
    json = s_wait_job(fx, job, NULL, 120000);
    char got[2048];
    if (rc == 0 || strcmp(s_str(json, "status", got, sizeof got), "completed") == 0)
        fail_msg("a backup replicating with a wrong password completed (exit %d):\n%s", rc, json);
    s_expect_replica_failed(json, "bad", "refused the credentials of user");
    free(json);
}

static void
test_missing_share(void **state)
{
    fx_t *fx = *state;
    s_smbd_up(fx);
    char *out = NULL;
    int rc = s_cli_all(fx, &out, "replica", "check", "noshare", NULL);
    if (rc != 2)
        fail_msg("replica check noshare: exit %d, expected 2: %s", rc, out ? out : "");
    s_expect_contains("replica check noshare", out,
                      "share noshare does not exist on 127.0.0.1: create it or fix replicas/noshare/url");
    free(out);
}

/* --- 5: a full share ---------------------------------------------------------------------------- */

static void
test_full_share(void **state)
{
    fx_t *fx = *state;
    s_smbd_up(fx);
    if (!fx->small[0]) {
        printf("skipped: %s\n", fx->small_why);
        skip();
    }
    s_reconfigure(fx, "small", "required");
    char src[PATH_MAX], job[128], *json = NULL;
    snprintf(src, sizeof src, "%s/src5", fx->dir);
    s_random_tree(src, 6, 2 << 20, 5);   /* 12 MiB into 8 */
    int rc = s_backup(fx, src, NULL, job, sizeof job, &json);
    assert_true(job[0] != '\0');
    free(json);
    json = s_wait_job(fx, job, NULL, 120000);
    char got[2048];
    if (rc == 0 || strcmp(s_str(json, "status", got, sizeof got), "completed") == 0)
        fail_msg("a backup larger than its replica's share completed (exit %d):\n%s", rc, json);
    s_replica_str(json, "message", got, sizeof got);
    s_expect_replica_failed(json, "small", strstr(got, "no space left") ? "no space left" : "is full");
    free(json);
}

/* --- 6: a file:// target whose share is not mounted -------------------------------------------- */

static void
test_file_target_not_mounted(void **state)
{
    fx_t *fx = *state;
    s_smbd_up(fx);
    char *out = NULL;
    int rc = s_cli_all(fx, &out, "replica", "check", "local", NULL);
    if (rc != 2)
        fail_msg("replica check local: exit %d, expected 2: %s", rc, out ? out : "");
    s_expect_contains("replica check local", out, "not on cifs as replicas/local/require_fs says: the share is "
                                                  "not mounted there; mount it");
    free(out);

    s_reconfigure(fx, "local", "required");
    char src[PATH_MAX], why[512], job[128], *json = NULL;
    snprintf(src, sizeof src, "%s/src6", fx->dir);
    tf_tree_spec_t spec = {.files = 8, .bytes = 1 << 17, .seed = 6};
    tf_tree_stats_t stats;
    if (tf_tree_generate(src, &spec, &stats, why, sizeof why) != 0)
        fail_msg("tree: %s", why);
    rc = s_backup(fx, src, NULL, job, sizeof job, &json);
    if (!job[0]) {
        /* refused before it started: with the reason */
        if (rc == 0)
            fail_msg("backup without a job and exit 0: %s", json ? json : "");
        s_expect_contains("the refused backup", json, "not on cifs");
        free(json);
    }
    else {
        free(json);
        json = s_wait_job(fx, job, NULL, 120000);
        char got[2048];
        if (strcmp(s_str(json, "status", got, sizeof got), "completed") == 0)
            fail_msg("a backup replicating to a folder that is not the mounted share completed:\n%s", json);
        s_expect_replica_failed(json, "local", "not on cifs");
        free(json);
    }
    /* nothing was written into the local folder */
    assert_int_equal(tf_tree_entries(fx->local), 1);
}

/* --- 7: optional replication to a failing target ------------------------------------------------ */

static void
test_optional_replica_fails(void **state)
{
    fx_t *fx = *state;
    s_smbd_up(fx);
    s_reconfigure(fx, "bad", "optional");
    char src[PATH_MAX], why[512], job[128], *json = NULL;
    snprintf(src, sizeof src, "%s/src7", fx->dir);
    tf_tree_spec_t spec = {.files = 12, .bytes = 1 << 18, .seed = 7};
    tf_tree_stats_t stats;
    if (tf_tree_generate(src, &spec, &stats, why, sizeof why) != 0)
        fail_msg("tree: %s", why);
    int rc = s_backup(fx, src, NULL, job, sizeof job, &json);
    assert_true(job[0] != '\0');
    free(json);
    json = s_wait_job(fx, job, NULL, 120000);
    char got[2048];
    if (strcmp(s_str(json, "status", got, sizeof got), "completed_with_warnings") != 0)
        fail_msg("job %s (optional replica failing) is %s, expected completed_with_warnings (backup exit %d):\n%s",
                 job, got, rc, json);
    s_expect_replica_failed(json, "bad", "refused the credentials");
    s_expect_contains("the job's message", s_job_message(json, got, sizeof got), "; replication to ");
    free(json);
    /* an optional replica never holds the holding disk */
    s_wait_released(fx, job, 30000);
}

int
main(int argc, char **argv)
{
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    zsys_init();
    zsys_handler_set(NULL);
    /* One stack and one smbd for all cases, in this order: the first two with nas, then the
       checks and the cases that change the pool's targets. */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backup_is_replicated_and_restores),
        cmocka_unit_test(test_server_stopped_mid_copy_then_retry),
        cmocka_unit_test(test_missing_share),
        cmocka_unit_test(test_wrong_password),
        cmocka_unit_test(test_full_share),
        cmocka_unit_test(test_file_target_not_mounted),
        cmocka_unit_test(test_optional_replica_fails),
    };
    return cmocka_run_group_tests_name("replication", tests, s_setup, s_teardown);
}
