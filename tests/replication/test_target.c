/*  actors/common/tf_target: the file:// backend on temp folders (and a small tmpfs for a full
    target, as root), the smb:// backend against a private smbd (tests/support tf_testsmb):
    the verbs, and each failure's own message. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tf_target.h"
#include "tf_testproc.h"
#include "tf_testsmb.h"

/* --- helpers ------------------------------------------------------------------------------- */

static tf_target_t *
s_open_file_target(const char *dir, const char *require_fs)
{
    char url[4096];
    snprintf(url, sizeof url, "file://%s", dir);
    tf_target_opts_t opts = {.name = "nas", .url = url, .require_fs = require_fs};
    tf_err_t err = {0};
    tf_target_t *target = tf_target_open(&opts, &err);
    if (!target)
        fail_msg("open %s: %s", url, err.message);
    return target;
}

static void
s_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
}

/* The verbs every backend must do the same way; used on a file and an smb target. */
static void
s_check_verbs(tf_target_t *target, const char *local_root)
{
    tf_err_t err = {0};
    /* put / get */
    assert_int_equal(tf_target_mkdir(target, "a/b/c", &err), TF_OK);
    assert_int_equal(tf_target_mkdir(target, "a/b", &err), TF_OK);   /* existing: fine */
    assert_int_equal(tf_target_put(target, "a/b/c/x.txt", "hello", 5, &err), TF_OK);
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(tf_target_get(target, "a/b/c/x.txt", 100, &data, &len, &err), TF_OK);
    assert_int_equal(len, 5);
    assert_string_equal(data, "hello");
    free(data);
    assert_int_equal(tf_target_get(target, "a/b/c/x.txt", 4, &data, &len, &err), TF_ERR_TOOBIG);
    assert_null(data);
    assert_int_equal(tf_target_get(target, "a/missing", 100, &data, &len, &err), TF_ERR_NOTFOUND);

    /* what the test sees on disk is what was written */
    char local[4096];
    snprintf(local, sizeof local, "%s/a/b/c/x.txt", local_root);
    char *on_disk = tf_test_read_file(local);
    assert_non_null(on_disk);
    assert_string_equal(on_disk, "hello");
    free(on_disk);

    /* a bigger file in pieces, read back in other pieces */
    size_t big = 3 * 1024 * 1024 + 17;
    unsigned char *buf = malloc(big), *back = malloc(big);
    assert_non_null(buf);
    assert_non_null(back);
    for (size_t i = 0; i < big; i++)
        buf[i] = (unsigned char) (i * 7 + i / 251);
    tf_target_file_t *file = NULL;
    assert_int_equal(tf_target_create(target, "a/big.data", &file, &err), TF_OK);
    for (size_t off = 0; off < big; off += 100000) {
        size_t n = big - off < 100000 ? big - off : 100000;
        assert_int_equal(tf_target_write(file, buf + off, n, &err), TF_OK);
    }
    assert_int_equal(tf_target_sync(file, &err), TF_OK);
    assert_int_equal(tf_target_close(&file, &err), TF_OK);
    assert_null(file);
    assert_int_equal(tf_target_sync_dir(target, "a", &err), TF_OK);
    assert_int_equal(tf_target_open_read(target, "a/big.data", &file, &err), TF_OK);
    size_t used = 0, got = 0;
    do {
        assert_int_equal(tf_target_read(file, back + used, big - used < 65536 ? big - used + 1 : 65536, &got, &err),
                         TF_OK);
        used += got;
    } while (got > 0 && used <= big);
    assert_int_equal(tf_target_close(&file, &err), TF_OK);
    assert_int_equal(used, big);
    assert_memory_equal(buf, back, big);
    free(buf);
    free(back);
    tf_target_entry_t entry;
    assert_int_equal(tf_target_stat(target, "a/big.data", &entry, &err), TF_OK);
    assert_string_equal(entry.name, "big.data");
    assert_false(entry.is_dir);
    assert_int_equal(entry.size, big);
    assert_true(entry.mtime_ms > 0);
    assert_int_equal(tf_target_stat(target, "a/b", &entry, &err), TF_OK);
    assert_true(entry.is_dir);
    assert_int_equal(tf_target_stat(target, "a/nothing", &entry, &err), TF_ERR_NOTFOUND);
    assert_int_equal(tf_target_open_read(target, "a/nothing", &file, &err), TF_ERR_NOTFOUND);
    assert_null(file);

    /* list: sorted by name, no "." and ".." */
    assert_int_equal(tf_target_mkdir(target, "l", &err), TF_OK);
    const char *names[] = {"zeta", "alpha", "mid.rows", "beta"};
    for (size_t i = 0; i < 4; i++) {
        char path[64];
        snprintf(path, sizeof path, "l/%s", names[i]);
        if (i == 3)
            assert_int_equal(tf_target_mkdir(target, path, &err), TF_OK);
        else
            assert_int_equal(tf_target_put(target, path, names[i], strlen(names[i]), &err), TF_OK);
    }
    tf_target_entry_t *entries = NULL;
    size_t count = 0;
    assert_int_equal(tf_target_list(target, "l", &entries, &count, &err), TF_OK);
    assert_int_equal(count, 4);
    assert_string_equal(entries[0].name, "alpha");
    assert_string_equal(entries[1].name, "beta");
    assert_true(entries[1].is_dir);
    assert_string_equal(entries[2].name, "mid.rows");
    assert_int_equal(entries[2].size, strlen("mid.rows"));
    assert_false(entries[2].is_dir);
    assert_string_equal(entries[3].name, "zeta");
    free(entries);
    assert_int_equal(tf_target_list(target, "nope", &entries, &count, &err), TF_ERR_NOTFOUND);
    assert_null(entries);

    /* rename: a file, a folder; never over an existing one */
    assert_int_equal(tf_target_rename(target, "l/alpha", "l/alpha2", &err), TF_OK);
    assert_int_equal(tf_target_rename(target, "l/alpha2", "l/zeta", &err), TF_ERR_STATE);
    assert_non_null(strstr(err.message, "exists already"));
    assert_int_equal(tf_target_get(target, "l/zeta", 100, &data, &len, &err), TF_OK);
    assert_string_equal(data, "zeta");   /* untouched */
    free(data);
    assert_int_equal(tf_target_mkdir(target, "p/job1", &err), TF_OK);
    assert_int_equal(tf_target_put(target, "p/job1/f", "1", 1, &err), TF_OK);
    assert_int_equal(tf_target_mkdir(target, "job1", &err), TF_OK);
    assert_int_equal(tf_target_rename(target, "p/job1", "job1", &err), TF_ERR_STATE);
    assert_int_equal(tf_target_remove_tree(target, "job1", &err), TF_OK);
    assert_int_equal(tf_target_rename(target, "p/job1", "job1", &err), TF_OK);
    assert_int_equal(tf_target_stat(target, "job1/f", &entry, &err), TF_OK);
    assert_int_equal(tf_target_stat(target, "p/job1", &entry, &err), TF_ERR_NOTFOUND);

    /* remove, remove_tree; missing ones are fine */
    assert_int_equal(tf_target_remove(target, "l/zeta", &err), TF_OK);
    assert_int_equal(tf_target_remove(target, "l/zeta", &err), TF_OK);
    assert_int_equal(tf_target_remove_tree(target, "a", &err), TF_OK);
    assert_int_equal(tf_target_stat(target, "a", &entry, &err), TF_ERR_NOTFOUND);
    assert_int_equal(tf_target_remove_tree(target, "a", &err), TF_OK);
    snprintf(local, sizeof local, "%s/a", local_root);
    struct stat st;
    assert_int_equal(stat(local, &st), -1);

    /* paths stay below the root */
    assert_int_equal(tf_target_put(target, "../escape", "x", 1, &err), TF_ERR_INVALID);
    assert_non_null(strstr(err.message, "'..'"));
    assert_int_equal(tf_target_mkdir(target, "l/../../up", &err), TF_ERR_INVALID);
    assert_int_equal(tf_target_remove_tree(target, "l/..", &err), TF_ERR_INVALID);
    assert_false(tf_target_path_has_dotdot("a..b/..c/d.."));
    assert_true(tf_target_path_has_dotdot(".."));
    assert_true(tf_target_path_has_dotdot("a//../b"));
    assert_int_equal(tf_target_rename(target, "l/beta", "/tmp/beta", &err), TF_ERR_INVALID);
    assert_non_null(strstr(err.message, "absolute"));
    assert_int_equal(tf_target_list(target, "/", &entries, &count, &err), TF_ERR_INVALID);
    assert_int_equal(tf_target_stat(target, "l/beta", &entry, &err), TF_OK);   /* "..x" names are fine */
    assert_int_equal(tf_target_put(target, "l/..x", "x", 1, &err), TF_OK);
    assert_int_equal(tf_target_put(target, "l\\..\\..\\x", "x", 1, &err), TF_ERR_INVALID);
    assert_non_null(strstr(err.message, "has a '\\'"));

    /* remove_tree of the root empties it and keeps it */
    assert_int_equal(tf_target_remove_tree(target, "", &err), TF_OK);
    assert_int_equal(tf_target_list(target, "", &entries, &count, &err), TF_OK);
    assert_int_equal(count, 0);
    free(entries);
    assert_int_equal(stat(local_root, &st), 0);

    uint64_t free_bytes = 0, total_bytes = 0;
    assert_int_equal(tf_target_space(target, &free_bytes, &total_bytes, &err), TF_OK);
    assert_true(total_bytes > 0);
    assert_true(free_bytes > 0 && free_bytes <= total_bytes);
}

/* --- file:// --------------------------------------------------------------------------------- */

static void
test_file_verbs(void **state)
{
    (void) state;
    char *dir = tf_test_tempdir("tgt");
    assert_non_null(dir);
    tf_target_t *target = s_open_file_target(dir, NULL);
    assert_string_equal(tf_target_scheme(target), "file");
    assert_non_null(tf_target_fs_type(target));
    assert_true(strlen(tf_target_fs_type(target)) > 0);
    s_check_verbs(target, dir);
    tf_target_destroy(&target);
    assert_null(target);
    tf_test_dir_done(&dir);
}

/* A symlink on the target is never followed: remove_tree unlinks it, stat and list report it
   as no folder, a file is never created through one. */
static void
test_file_symlinks_not_followed(void **state)
{
    (void) state;
    char *dir = tf_test_tempdir("tgt");
    assert_non_null(dir);
    char root[4096], outside[4096], path[4200], link[4200];
    snprintf(root, sizeof root, "%s/root", dir);
    snprintf(outside, sizeof outside, "%s/outside", dir);
    assert_int_equal(mkdir(root, 0700), 0);
    assert_int_equal(mkdir(outside, 0700), 0);
    snprintf(path, sizeof path, "%s/keep.txt", outside);
    s_write_file(path, "keep");
    tf_target_t *target = s_open_file_target(root, NULL);
    tf_err_t err = {0};
    assert_int_equal(tf_target_mkdir(target, "J1", &err), TF_OK);
    assert_int_equal(tf_target_put(target, "J1/a.data", "a", 1, &err), TF_OK);
    snprintf(link, sizeof link, "%s/J1/link", root);
    assert_int_equal(symlink(outside, link), 0);
    snprintf(link, sizeof link, "%s/J1/file-link", root);
    assert_int_equal(symlink(path, link), 0);

    tf_target_entry_t entry;
    assert_int_equal(tf_target_stat(target, "J1/link", &entry, &err), TF_OK);
    assert_false(entry.is_dir);
    tf_target_entry_t *entries = NULL;
    size_t count = 0;
    assert_int_equal(tf_target_list(target, "J1", &entries, &count, &err), TF_OK);
    assert_int_equal(count, 3);
    for (size_t i = 0; i < count; i++)
        assert_false(entries[i].is_dir);
    free(entries);

    /* writing through the file link fails and leaves its target alone */
    assert_int_equal(tf_target_put(target, "J1/file-link", "overwritten", 11, &err), TF_ERR_IO);
    char *text = tf_test_read_file(path);
    assert_non_null(text);
    assert_string_equal(text, "keep");
    free(text);

    assert_int_equal(tf_target_remove_tree(target, "J1", &err), TF_OK);
    struct stat st;
    snprintf(link, sizeof link, "%s/J1", root);
    assert_int_equal(lstat(link, &st), -1);
    assert_int_equal(stat(outside, &st), 0);
    text = tf_test_read_file(path);
    assert_non_null(text);
    assert_string_equal(text, "keep");
    free(text);
    tf_target_destroy(&target);
    tf_test_dir_done(&dir);
}

/* What a target holds is the backups of every host: owner only. */
static void
test_file_modes(void **state)
{
    (void) state;
    char *dir = tf_test_tempdir("tgt");
    assert_non_null(dir);
    tf_target_t *target = s_open_file_target(dir, NULL);
    tf_err_t err = {0};
    mode_t old = umask(0);
    assert_int_equal(tf_target_mkdir(target, "j/k", &err), TF_OK);
    assert_int_equal(tf_target_put(target, "j/k/f", "x", 1, &err), TF_OK);
    umask(old);
    char path[4200];
    struct stat st;
    snprintf(path, sizeof path, "%s/j", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    snprintf(path, sizeof path, "%s/j/k/f", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    tf_target_destroy(&target);
    tf_test_dir_done(&dir);
}

/* A name longer than an entry holds is skipped (with a warning), the rest is listed. */
static void
test_entries_push_skips_long_names(void **state)
{
    (void) state;
    tf_target_entry_t *entries = NULL, *entry = NULL;
    size_t count = 0, cap = 0;
    tf_err_t err = {0};
    char long_name[300];
    memset(long_name, 'n', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    assert_int_equal(tf_target_entries_push("nas", "J1", &entries, &count, &cap, "a", &entry, &err), TF_OK);
    assert_non_null(entry);
    assert_string_equal(entry->name, "a");
    assert_int_equal(tf_target_entries_push("nas", "J1", &entries, &count, &cap, long_name, &entry, &err), TF_OK);
    assert_null(entry);
    long_name[255] = '\0';   /* 255 bytes: fits */
    assert_int_equal(tf_target_entries_push("nas", "J1", &entries, &count, &cap, long_name, &entry, &err), TF_OK);
    assert_non_null(entry);
    for (int i = 0; i < 40; i++)   /* grows past the first allocation */
        assert_int_equal(tf_target_entries_push("nas", "J1", &entries, &count, &cap, "b", &entry, &err), TF_OK);
    assert_int_equal(count, 42);
    assert_string_equal(entries[0].name, "a");
    assert_int_equal(strlen(entries[1].name), 255);
    free(entries);
}

/* No message quotes a URL's password. */
static void
test_url_password_never_quoted(void **state)
{
    (void) state;
    char safe[256];
    tf_target_url_safe("smb://bob:S3cretPw@host:445/share/x", safe, sizeof safe);
    assert_string_equal(safe, "smb://bob@host:445/share/x");
    tf_target_url_safe("smb://bob@host/share", safe, sizeof safe);
    assert_string_equal(safe, "smb://bob@host/share");
    tf_target_url_safe("file:///a:b@c/d", safe, sizeof safe);   /* no userinfo: a path */
    assert_string_equal(safe, "file:///a:b@c/d");
    tf_target_opts_t opts = {.name = "nas", .url = "ftp://bob:S3cretPw@host/x"};
    tf_err_t err = {0};
    assert_null(tf_target_open(&opts, &err));
    assert_non_null(strstr(err.message, "unknown scheme"));
    assert_non_null(strstr(err.message, "ftp://bob@host/x"));
    assert_null(strstr(err.message, "S3cret"));
    /* The same checks without opening (tapeflow's configuration checks use them). */
    assert_int_equal(tf_target_url_check("nas", "ftp://bob:S3cretPw@host/x", &err), TF_ERR_INVALID);
    assert_non_null(strstr(err.message, "replica target nas: URL 'ftp://bob@host/x' has an unknown scheme 'ftp'"));
    assert_null(strstr(err.message, "S3cret"));
    assert_int_equal(tf_target_url_check("nas", "smb://bob:S3cretPw@host/share", &err), TF_ERR_INVALID);
    assert_non_null(strstr(err.message, "replica target nas: replicas/nas/url holds a password"));
    assert_null(strstr(err.message, "S3cret"));
    assert_int_equal(tf_target_url_check("nas", "", &err), TF_ERR_INVALID);
    assert_non_null(strstr(err.message, "no URL: set replicas/nas/url"));
    assert_int_equal(tf_target_url_check("nas", "smb://bob@host/share/a:b@c", &err), TF_OK);
    assert_int_equal(tf_target_url_check("nas", "file:///srv/a:b@c", &err), TF_OK);
}

static void
test_file_open_refusals(void **state)
{
    (void) state;
    char *dir = tf_test_tempdir("tgt");
    assert_non_null(dir);
    tf_err_t err = {0};
    char url[4096];

    /* a missing root: create it and init */
    snprintf(url, sizeof url, "file://%s/missing", dir);
    tf_target_opts_t opts = {.name = "nas", .url = url};
    assert_null(tf_target_open(&opts, &err));
    assert_int_equal(err.code, TF_ERR_NOTFOUND);
    assert_non_null(strstr(err.message, "replica target nas: folder "));
    assert_non_null(strstr(err.message, "/missing does not exist: create it and run tapeflow replica init nas"));

    /* ... unless replica init asks for it */
    opts.create_root = true;
    tf_target_t *target = tf_target_open(&opts, &err);
    assert_non_null(target);
    tf_target_destroy(&target);
    struct stat st;
    char local[4096];
    snprintf(local, sizeof local, "%s/missing", dir);
    assert_int_equal(stat(local, &st), 0);
    assert_true(S_ISDIR(st.st_mode));

    /* require_fs cifs on a local folder: the share is not mounted */
    snprintf(url, sizeof url, "file://%s", dir);
    opts = (tf_target_opts_t){.name = "nas", .url = url, .require_fs = "cifs"};
    assert_null(tf_target_open(&opts, &err));
    assert_int_equal(err.code, TF_ERR_STATE);
    assert_non_null(strstr(err.message, "replica target nas: "));
    assert_non_null(strstr(err.message, "(mounted at "));
    assert_non_null(strstr(err.message, "not on cifs as replicas/nas/require_fs says: the share is not mounted "
                                        "there; mount it (mount "));
    /* nfs the same way */
    opts.require_fs = "nfs";
    assert_null(tf_target_open(&opts, &err));
    assert_non_null(strstr(err.message, "not on nfs as replicas/nas/require_fs says"));
    /* and replica init does not create a root under a missing mount */
    snprintf(url, sizeof url, "file://%s/new", dir);
    opts.create_root = true;
    opts.require_fs = "cifs";
    assert_null(tf_target_open(&opts, &err));
    assert_non_null(strstr(err.message, "not on cifs"));
    snprintf(local, sizeof local, "%s/new", dir);
    assert_int_equal(stat(local, &st), -1);
    /* any is any */
    snprintf(url, sizeof url, "file://%s", dir);
    opts = (tf_target_opts_t){.name = "nas", .url = url, .require_fs = "any"};
    target = tf_target_open(&opts, &err);
    assert_non_null(target);
    tf_target_destroy(&target);

    /* bad settings */
    opts.require_fs = "ntfs";
    assert_null(tf_target_open(&opts, &err));
    assert_int_equal(err.code, TF_ERR_INVALID);
    assert_non_null(strstr(err.message, "replicas/nas/require_fs is 'ntfs': use cifs, nfs or any"));
    opts = (tf_target_opts_t){.name = "nas", .url = "file://relative/path"};
    assert_null(tf_target_open(&opts, &err));
    assert_non_null(strstr(err.message, "file:///PATH"));
    opts.url = "ftp://host/x";
    assert_null(tf_target_open(&opts, &err));
    assert_non_null(strstr(err.message, "unknown scheme"));
    snprintf(local, sizeof local, "%s/plain", dir);
    s_write_file(local, "x");
    snprintf(url, sizeof url, "file://%s/plain", dir);
    opts.url = url;
    assert_null(tf_target_open(&opts, &err));
    assert_non_null(strstr(err.message, "is not a folder"));
    tf_test_dir_done(&dir);
}

/* A small tmpfs as the target: writing more than it holds says what to do (root only). The
   mount is the test's state, so a failed assertion still unmounts it (teardown). */
typedef struct {
    char *dir;
    bool mounted;
} s_tmpfs_t;

static int
s_tmpfs_setup(void **state)
{
    s_tmpfs_t *t = calloc(1, sizeof *t);
    assert_non_null(t);
    *state = t;
    if (geteuid() != 0)
        return 0;
    t->dir = tf_test_tempdir("tgt");
    assert_non_null(t->dir);
    t->mounted = mount("tapeflow-test", t->dir, "tmpfs", 0, "size=1m") == 0;
    if (!t->mounted)
        printf("cannot mount a tmpfs on %s: %s\n", t->dir, strerror(errno));
    return 0;
}

static int
s_tmpfs_teardown(void **state)
{
    s_tmpfs_t *t = *state;
    if (t->mounted && umount(t->dir) != 0)
        printf("cannot unmount %s: %s\n", t->dir, strerror(errno));
    tf_test_dir_done(&t->dir);
    free(t);
    return 0;
}

static void
test_file_full(void **state)
{
    s_tmpfs_t *t = *state;
    if (!t->mounted) {
        printf("skipped: a full target needs a small tmpfs (%s)\n",
               geteuid() != 0 ? "mounting one needs root" : "the mount failed");
        skip();
    }
    tf_target_t *target = s_open_file_target(t->dir, NULL);
    assert_string_equal(tf_target_fs_type(target), "tmpfs");
    tf_target_file_t *file = NULL;
    tf_err_t err = {0};
    assert_int_equal(tf_target_create(target, "big", &file, &err), TF_OK);
    char chunk[65536];
    memset(chunk, 'x', sizeof chunk);
    int rc = TF_OK;
    for (int i = 0; i < 64 && rc == TF_OK; i++)   /* 4 MiB into 1 MiB */
        rc = tf_target_write(file, chunk, sizeof chunk, &err);
    assert_int_equal(rc, TF_ERR_IO);
    assert_non_null(strstr(err.message, "no space left on replica target nas ("));
    assert_non_null(strstr(err.message, "free space on the share or lower pools/POOL/replica_keep_last"));
    tf_err_t close_err;
    tf_target_close(&file, &close_err);
    assert_int_equal(tf_target_remove(target, "big", &err), TF_OK);
    tf_target_destroy(&target);
}

/* --- smb:// ---------------------------------------------------------------------------------- */

static int
s_smb_setup(void **state)
{
    char why[1024] = "";
    tf_testsmb_t *smb = tf_testsmb_new(why, sizeof why);
    if (!smb) {
        printf("cannot start smbd: %s\n", why);
        return -1;
    }
    *state = smb;
    return 0;
}

static int
s_smb_teardown(void **state)
{
    tf_testsmb_t *smb = *state;
    tf_testsmb_destroy(&smb);
    return 0;
}

static tf_target_t *
s_open_smb(tf_testsmb_t *smb, const char *path, tf_err_t *err)
{
    char url[1024];
    tf_testsmb_url(smb, "backup", path, url, sizeof url);
    tf_target_opts_t opts = {.name = "nas", .url = url, .credentials = tf_testsmb_creds(smb), .timeout_ms = 5000};
    return tf_target_open(&opts, err);
}

static void
test_smb_verbs(void **state)
{
    tf_testsmb_t *smb = *state;
    char local[4096];
    snprintf(local, sizeof local, "%s/tf", tf_testsmb_share_path(smb, "backup"));
    assert_int_equal(mkdir(local, 0777), 0);
    assert_int_equal(chmod(local, 0777), 0);
    tf_err_t err = {0};
    tf_target_t *target = s_open_smb(smb, "tf", &err);
    if (!target)
        fail_msg("open: %s", err.message);
    assert_string_equal(tf_target_scheme(target), "smb");
    assert_string_equal(tf_target_fs_type(target), "smb");
    char url[1024];
    assert_string_equal(tf_target_url(target), tf_testsmb_url(smb, "backup", "tf", url, sizeof url));
    s_check_verbs(target, local);
    tf_target_destroy(&target);
}

static void
test_smb_create_root(void **state)
{
    tf_testsmb_t *smb = *state;
    tf_err_t err = {0};
    assert_null(s_open_smb(smb, "made/by/init", &err));
    assert_int_equal(err.code, TF_ERR_NOTFOUND);
    assert_non_null(strstr(err.message, "replica target nas: folder made/by/init does not exist on //127.0.0.1/backup: "
                                        "run tapeflow replica init nas"));
    char url[1024];
    tf_testsmb_url(smb, "backup", "made/by/init", url, sizeof url);
    tf_target_opts_t opts = {.name = "nas", .url = url, .credentials = tf_testsmb_creds(smb), .create_root = true};
    tf_target_t *target = tf_target_open(&opts, &err);
    if (!target)
        fail_msg("open with create_root: %s", err.message);
    assert_int_equal(tf_target_put(target, "x", "y", 1, &err), TF_OK);
    tf_target_destroy(&target);
    char local[4096];
    snprintf(local, sizeof local, "%s/made/by/init/x", tf_testsmb_share_path(smb, "backup"));
    char *text = tf_test_read_file(local);
    assert_non_null(text);
    assert_string_equal(text, "y");
    free(text);
}

static void
test_smb_wrong_password(void **state)
{
    tf_testsmb_t *smb = *state;
    char *dir = tf_test_tempdir("cred");
    assert_non_null(dir);
    char creds[4096], url[1024];
    snprintf(creds, sizeof creds, "%s/creds", dir);
    char text[512];
    snprintf(text, sizeof text, "username = %s\npassword = not-the-password\n", tf_testsmb_user(smb));
    s_write_file(creds, text);
    assert_int_equal(chmod(creds, 0600), 0);
    tf_testsmb_url(smb, "backup", "", url, sizeof url);
    tf_target_opts_t opts = {.name = "nas", .url = url, .credentials = creds};
    tf_err_t err = {0};
    assert_null(tf_target_open(&opts, &err));
    char want[3 * 4096];
    snprintf(want, sizeof want,
             "replica target nas: SMB server 127.0.0.1 refused the credentials of user %s (from %s): check "
             "username, password and domain in %s",
             tf_testsmb_user(smb), creds, creds);
    assert_string_equal(err.message, want);
    assert_null(strstr(err.message, "not-the-password"));

    /* group-readable credentials are refused before they are used */
    assert_int_equal(chmod(creds, 0644), 0);
    assert_null(tf_target_open(&opts, &err));
    assert_non_null(strstr(err.message, "can be read by group or others (mode 0644): chmod 600 "));
    assert_non_null(strstr(err.message, creds));
    tf_test_dir_done(&dir);
}

static void
test_smb_url_refusals(void **state)
{
    tf_testsmb_t *smb = *state;
    char url[1024];
    snprintf(url, sizeof url, "smb://%s:secret@127.0.0.1:%d/backup/tf", tf_testsmb_user(smb), tf_testsmb_port(smb));
    tf_target_opts_t opts = {.name = "nas", .url = url, .credentials = tf_testsmb_creds(smb)};
    tf_err_t err = {0};
    assert_null(tf_target_open(&opts, &err));
    assert_int_equal(err.code, TF_ERR_INVALID);
    assert_non_null(strstr(err.message, "put the password in replicas/nas/credentials"));
    assert_null(strstr(err.message, "secret"));
    opts.url = "smb://127.0.0.1";
    assert_null(tf_target_open(&opts, &err));
    assert_non_null(strstr(err.message, "smb://[USER@]HOST[:PORT]/SHARE/PATH"));
    opts.url = "smb://127.0.0.1:99999/backup";
    assert_null(tf_target_open(&opts, &err));
    assert_non_null(strstr(err.message, "bad port"));
    /* '..' is refused per component: "a/.." is, "a..b" and "..a" are plain names. */
    tf_testsmb_url(smb, "backup", "tf/a/..", url, sizeof url);
    opts.url = url;
    assert_null(tf_target_open(&opts, &err));
    assert_int_equal(err.code, TF_ERR_INVALID);
    assert_non_null(strstr(err.message, "has a '..' component"));
    tf_testsmb_url(smb, "backup", "tf/a..b/..c", url, sizeof url);
    opts.create_root = true;
    tf_target_t *target = tf_target_open(&opts, &err);
    if (!target)
        fail_msg("open of tf/a..b/..c: %s", err.message);
    tf_target_destroy(&target);
}

static void
test_smb_missing_share(void **state)
{
    tf_testsmb_t *smb = *state;
    char url[1024];
    tf_testsmb_url(smb, "noshare", "tf", url, sizeof url);
    tf_target_opts_t opts = {.name = "nas", .url = url, .credentials = tf_testsmb_creds(smb)};
    tf_err_t err = {0};
    assert_null(tf_target_open(&opts, &err));
    assert_int_equal(err.code, TF_ERR_NOTFOUND);
    assert_string_equal(err.message,
                        "replica target nas: share noshare does not exist on 127.0.0.1: create it or fix replicas/nas/url");
    tf_testsmb_url(smb, "noshare", "", url, sizeof url);
    assert_null(tf_target_open(&opts, &err));
    assert_non_null(strstr(err.message, "share noshare does not exist on 127.0.0.1"));
}

static void
test_smb_credentials_file(void **state)
{
    tf_testsmb_t *smb = *state;
    char *dir = tf_test_tempdir("cred");
    assert_non_null(dir);
    char creds[4096], url[1024];
    tf_testsmb_url(smb, "backup", "", url, sizeof url);
    tf_err_t err = {0};
    /* none: no password */
    tf_target_opts_t opts = {.name = "nas", .url = url};
    assert_null(tf_target_open(&opts, &err));
    assert_non_null(strstr(err.message, "without a password: put username, password and domain in a file"));
    assert_non_null(strstr(err.message, "replicas/nas/credentials"));
    /* missing */
    snprintf(creds, sizeof creds, "%s/none", dir);
    opts.credentials = creds;
    assert_null(tf_target_open(&opts, &err));
    assert_int_equal(err.code, TF_ERR_NOTFOUND);
    assert_non_null(strstr(err.message, "cannot read the credentials file "));
    /* a key smbclient -A does not know */
    snprintf(creds, sizeof creds, "%s/creds", dir);
    s_write_file(creds, "# a comment\nusername = x\npasswort = y\n");
    assert_int_equal(chmod(creds, 0600), 0);
    assert_null(tf_target_open(&opts, &err));
    assert_non_null(strstr(err.message, "line 3 of the credentials file"));
    assert_non_null(strstr(err.message, "unknown key 'passwort'"));
    /* the user from the URL wins over the file's */
    char text[512];
    snprintf(text, sizeof text, "username = nobody-here\npassword = %s\n", tf_testsmb_password(smb));
    s_write_file(creds, text);
    snprintf(url, sizeof url, "smb://%s@127.0.0.1:%d/backup", tf_testsmb_user(smb), tf_testsmb_port(smb));
    tf_target_t *target = tf_target_open(&opts, &err);
    if (!target)
        fail_msg("open with the user in the URL: %s", err.message);
    assert_string_equal(tf_target_url(target), url);
    tf_target_destroy(&target);
    tf_test_dir_done(&dir);
}

/* A share added to the server and removed again: the harness rewrites its config and
   restarts smbd; the target sees the share come and go. */
static void
test_smb_share_comes_and_goes(void **state)
{
    tf_testsmb_t *smb = *state;
    char why[1024] = "";
    if (tf_testsmb_add_share(smb, "second", NULL, why, sizeof why) != 0)
        fail_msg("add share: %s", why);
    char url[1024];
    tf_testsmb_url(smb, "second", "", url, sizeof url);
    tf_target_opts_t opts = {.name = "off", .url = url, .credentials = tf_testsmb_creds(smb)};
    tf_err_t err = {0};
    tf_target_t *target = tf_target_open(&opts, &err);
    if (!target)
        fail_msg("open the new share: %s", err.message);
    assert_int_equal(tf_target_put(target, "f", "2", 1, &err), TF_OK);
    tf_target_destroy(&target);
    char local[4096];
    snprintf(local, sizeof local, "%s/f", tf_testsmb_share_path(smb, "second"));
    struct stat st;
    assert_int_equal(stat(local, &st), 0);
    if (tf_testsmb_remove_share(smb, "second", why, sizeof why) != 0)
        fail_msg("remove share: %s", why);
    assert_null(tf_testsmb_share_path(smb, "second"));
    assert_null(tf_target_open(&opts, &err));
    assert_non_null(strstr(err.message, "share second does not exist on 127.0.0.1: create it or fix replicas/off/url"));
}

/* Last: it stops the server (and starts it again for whatever follows). */
static void
test_smb_unreachable(void **state)
{
    tf_testsmb_t *smb = *state;
    tf_err_t err = {0};
    tf_target_t *target = s_open_smb(smb, "", &err);
    if (!target)
        fail_msg("open: %s", err.message);
    assert_int_equal(tf_target_put(target, "before", "1", 1, &err), TF_OK);
    assert_int_equal(tf_testsmb_stop(smb), 0);
    /* an open target whose server went away */
    assert_int_not_equal(tf_target_put(target, "after", "1", 1, &err), TF_OK);
    char want[256];
    snprintf(want, sizeof want, "SMB server 127.0.0.1:%d not reachable (", tf_testsmb_port(smb));
    assert_non_null(strstr(err.message, want));
    assert_non_null(strstr(err.message, "check that it runs and the port is open"));
    assert_non_null(strstr(err.message, " after: SMB server"));   /* which file it was */
    tf_target_destroy(&target);
    /* a new one */
    assert_null(s_open_smb(smb, "", &err));
    assert_string_equal(err.message + strlen(err.message) - strlen("check that it runs and the port is open"),
                        "check that it runs and the port is open");
    assert_non_null(strstr(err.message, want));
    /* and back */
    char why[1024] = "";
    if (tf_testsmb_start_again(smb, why, sizeof why) != 0)
        fail_msg("smbd did not start again: %s", why);
    target = s_open_smb(smb, "", &err);
    if (!target)
        fail_msg("open after the restart: %s", err.message);
    tf_target_entry_t entry;
    assert_int_equal(tf_target_stat(target, "before", &entry, &err), TF_OK);
    tf_target_destroy(&target);
}

int
main(void)
{
    const struct CMUnitTest file_tests[] = {
        cmocka_unit_test(test_file_verbs),
        cmocka_unit_test(test_file_open_refusals),
        cmocka_unit_test(test_file_symlinks_not_followed),
        cmocka_unit_test(test_file_modes),
        cmocka_unit_test(test_entries_push_skips_long_names),
        cmocka_unit_test(test_url_password_never_quoted),
        cmocka_unit_test_setup_teardown(test_file_full, s_tmpfs_setup, s_tmpfs_teardown),
    };
    const struct CMUnitTest smb_tests[] = {
        cmocka_unit_test(test_smb_verbs),
        cmocka_unit_test(test_smb_create_root),
        cmocka_unit_test(test_smb_wrong_password),
        cmocka_unit_test(test_smb_url_refusals),
        cmocka_unit_test(test_smb_missing_share),
        cmocka_unit_test(test_smb_credentials_file),
        cmocka_unit_test(test_smb_share_comes_and_goes),
        cmocka_unit_test(test_smb_unreachable),
    };
    int failed = cmocka_run_group_tests_name("file", file_tests, NULL, NULL);
    failed += cmocka_run_group_tests_name("smb", smb_tests, s_smb_setup, s_smb_teardown);
    return failed;
}
