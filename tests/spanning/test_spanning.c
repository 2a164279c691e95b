/*  Multi-volume spanning end to end (docs/operations.md, "Spanning"): the whole stack under
    `tapeflow up` with a sim changer of six cartridges and a drive of small sim tapes. A backup
    larger than one tape spans at least three volumes (the first labelled by the operator, the
    others blank cartridges the tape writer labels into the set), archives are cut in segments
    across tapes, the catalog lists the segments in order, and a restore - which has to ask the
    changer for each volume in turn - gives back the identical tree. With hard_eom=1 (no early
    warning) the block the full tape refused is written again on the next one. Without a changer
    for the drive (tapewriter/mount_wait set) the test plays the operator: at each alert.mount
    it loads and labels the next cartridge, and during the restore mounts each volume asked for. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <czmq.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "chg_tgt_harness.h"
#include "tf_client.h"
#include "tf_testproc.h"
#include "tf_teststack.h"
#include "tf_tree.h"

#define S_JOB_WAIT_S "300"

typedef struct {
    tf_teststack_t *stack;
    const char *dir;  /* the stack's folder */
    tf_client_t *client;
} fx_t;

#define s_cli(fx, out, ...) tf_teststack_cli((fx)->stack, (out), __VA_ARGS__)
#define s_cli_ok(fx, what, ...)                                                \
    do {                                                                       \
        char *out_ = NULL;                                                     \
        int rc_ = s_cli(fx, &out_, __VA_ARGS__);                               \
        if (rc_ != 0)                                                          \
            fail_msg("%s failed (%d): %s", what, rc_, out_ ? out_ : "");       \
        free(out_);                                                            \
    } while (0)

/* The stack with the drive at drive_url and the changer at changer_url (${dir} in them: the
   stack's folder, whose lib/ holds the sim images); the changer's drive 0 is tape0 when
   changer_drive (without it the test plays the operator, with the same changer, when
   alert.mount asks). The cartridge in slot 1 is loaded and labelled `first`. */
static int
s_setup_urls(void **state, const char *prefix, const char *drive_url, const char *changer_url,
             bool changer_drive, const char *first, int group_size)
{
    fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    char group[64], drive[PATH_MAX + 64], changer[PATH_MAX + 64];
    snprintf(group, sizeof group, "scanner/group_size=%d", group_size);
    snprintf(drive, sizeof drive, "drives/tape0/url=%s", drive_url);
    snprintf(changer, sizeof changer, "changers/lib/url=%s", changer_url);
    const char *config[] = {group, "tapewriter/block_size=65536", drive, changer,
                            changer_drive ? "changers/lib/drive0=tape0" : "tapewriter/mount_wait=120000", NULL};
    tf_teststack_opts_t opts = {.config = config, .no_up = true};
    fx->stack = tf_teststack_new(prefix, &opts);
    assert_non_null(fx->stack);
    fx->dir = tf_teststack_dir(fx->stack);
    *state = fx;
    char lib[PATH_MAX];
    snprintf(lib, sizeof lib, "%s/lib", fx->dir);
    assert_int_equal(mkdir(lib, 0755), 0);
    assert_int_equal(tf_teststack_up(fx->stack), 0);
    fx->client = tf_client_new(NULL, tf_teststack_broker(fx->stack), NULL);
    assert_non_null(fx->client);
    /* The operator loads the first cartridge and labels it; the others stay blank. */
    s_cli_ok(fx, "changer load", "changer", "load", "lib", "--slot", "1", "--drive", "0", NULL);
    s_cli_ok(fx, "tape label", "tape", "label", "tape0", "--label", first, "--pool", "default", NULL);
    return 0;
}

#define S_CHANGER "sim:${dir}/lib/changer.state?type=8&slots=6&drives=1&ie=0"

/* A sim library of six cartridges, tapes of 2 MB with drive_options. */
static int
s_setup_with(void **state, const char *drive_options, bool changer_drive)
{
    char drive[256];
    snprintf(drive, sizeof drive, "sim:${dir}/lib/drive0.img?capacity=2M%s", drive_options);
    return s_setup_urls(state, "tfspan", drive, S_CHANGER, changer_drive, "TF0001L6", 2097152);
}

static int
s_setup(void **state)
{
    return s_setup_with(state, "&ew=256K", true);
}

/* One group of the whole tree: an archive of several tapes, so it spans three volumes or more. */
static int
s_setup_big_groups(void **state)
{
    return s_setup_urls(state, "tfspan", "sim:${dir}/lib/drive0.img?capacity=2M&ew=256K", S_CHANGER, true,
                        "TF0001L6", 24 << 20);
}

static int
s_setup_no_changer(void **state)
{
    return s_setup_with(state, "&ew=256K", false);
}

static int
s_setup_hard(void **state)
{
    return s_setup_with(state, "&hard_eom=1", true);
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

/* Backs up a tree of `bytes`, restores it elsewhere and compares; returns the job's
   archives query reply (caller clears). */
static void
s_backup_restore(fx_t *fx, uint64_t bytes, tf_msg_t *archives)
{
    char src[PATH_MAX];
    snprintf(src, sizeof src, "%s/src", fx->dir);
    tf_tree_spec_t spec = {.files = 300, .bytes = bytes, .seed = 7, .special = true};
    char why[PATH_MAX + 2048];
    if (tf_tree_generate(src, &spec, NULL, why, sizeof why) != 0)
        fail_msg("tree: %s", why);
    char *out = NULL;
    int rc = s_cli(fx, &out, "backup", src, "--pool", "default", "--wait", "--timeout", S_JOB_WAIT_S, "--json",
                   NULL);
    if (rc != 0)
        fail_msg("backup failed (%d): %s", rc, out ? out : "");
    assert_non_null(strstr(out, "\"status\":\"completed\""));
    char job[128];
    assert_non_null(tf_test_json_str(out, "job_id", job, sizeof job));
    free(out);

    if (tf_teststack_restore_compare(fx->stack, job, src, "restored", why, sizeof why) != 0)
        fail_msg("%s", why);

    tf_msg_t q = {.type = TF_MSG_CAT_QUERY};
    q.cat_query = (tf_msg_cat_query_t){.query = "archives", .job_id = job};
    tf_err_t err = {0};
    if (tf_client_call(fx->client, "catalog", NULL, job, &q, archives, 30000, &err) != TF_OK)
        fail_msg("archives query: %s", err.message);
    assert_int_equal(archives->type, TF_MSG_CAT_REPLY);
}

/* Volumes used, spanned archives, and that every spanned archive's segments are contiguous
   and in order, on consecutive volumes. */
static void
s_check_segments(const tf_msg_cat_reply_t *r, size_t *volumes, size_t *spanned)
{
    zhashx_t *seen = zhashx_new();
    *spanned = 0;
    for (size_t i = 0; i < r->archives_count; i++) {
        const tf_msg_archive_row_t *a = &r->archives[i];
        zhashx_insert(seen, a->volume, (void *) 1);
        if (a->segments_count == 0)
            continue;
        (*spanned)++;
        assert_true(a->segments_count >= 2);
        assert_string_equal(a->segments[0].volume, a->volume);
        assert_int_equal(a->segments[0].tape_file, a->tape_file);
        uint64_t off = 0;
        for (size_t k = 0; k < a->segments_count; k++) {
            assert_int_equal(a->segments[k].offset, off);
            assert_true(a->segments[k].length > 0 || k + 1 == a->segments_count);
            off += a->segments[k].length;
            if (k > 0)
                assert_string_not_equal(a->segments[k].volume, a->segments[k - 1].volume);
            zhashx_insert(seen, a->segments[k].volume, (void *) 1);
        }
        assert_int_equal(off, a->size);
    }
    *volumes = zhashx_size(seen);
    zhashx_destroy(&seen);
}

static void
test_three_volumes_with_changer(void **state)
{
    fx_t *fx = *state;
    tf_msg_t reply;
    s_backup_restore(fx, 20u << 20, &reply);
    size_t volumes = 0, spanned = 0;
    s_check_segments(&reply.cat_reply, &volumes, &spanned);
    tf_msg_clear(&reply);
    if (volumes < 3 || spanned < 1)
        fail_msg("the backup used %zu volumes with %zu spanned archives: expected at least 3 and 1",
                 volumes, spanned);

    /* The volumes of the set: the later ones labelled into it by the tape writer. */
    char *out = NULL;
    assert_int_equal(s_cli(fx, &out, "tape", "list", "--json", NULL), 0);
    assert_non_null(strstr(out, "TF0001L6"));
    assert_non_null(strstr(out, "TF0002L6"));
    assert_non_null(strstr(out, "TF0003L6"));
    assert_non_null(strstr(out, "\"full\""));
    free(out);
}

static void
test_hard_eom_with_changer(void **state)
{
    fx_t *fx = *state;
    tf_msg_t reply;
    s_backup_restore(fx, 20u << 20, &reply);
    size_t volumes = 0, spanned = 0;
    s_check_segments(&reply.cat_reply, &volumes, &spanned);
    tf_msg_clear(&reply);
    if (volumes < 2 || spanned < 1)
        fail_msg("the backup used %zu volumes with %zu spanned archives: expected at least 2 and 1",
                 volumes, spanned);
}

/* Lines of the stack's logs holding needle; *last (may be NULL) gets the word after it. */
static int
s_log_count(fx_t *fx, const char *needle, char *last, size_t last_size)
{
    return tf_teststack_log_count(fx->stack, needle, last, last_size);
}

static void
s_swap(fx_t *fx, const char *slot_or_barcode, bool barcode)
{
    char *out = NULL;
    s_cli(fx, &out, "changer", "unload", "lib", "--drive", "0", NULL);  /* may already be out */
    free(out);
    s_cli_ok(fx, "changer load", "changer", "load", "lib", barcode ? "--barcode" : "--slot", slot_or_barcode,
             "--drive", "0", NULL);
}

static void
test_no_changer_mount_wait(void **state)
{
    fx_t *fx = *state;
    char src[PATH_MAX];
    snprintf(src, sizeof src, "%s/src", fx->dir);
    tf_tree_spec_t spec = {.files = 300, .bytes = 20u << 20, .seed = 7, .special = true};
    char why[1024];
    if (tf_tree_generate(src, &spec, NULL, why, sizeof why) != 0)
        fail_msg("tree: %s", why);
    char *out = NULL;
    char job[128];
    assert_int_equal(tf_teststack_backup_start(fx->stack, src, "default", job, sizeof job), 0);
    assert_true(job[0] != '\0');

    /* The operator: at each "mount a tape" alert, the next cartridge, labelled for the pool. */
    int handled = 0, slot = 1;
    time_t deadline = time(NULL) + 300;
    for (;;) {
        assert_true(time(NULL) < deadline);
        assert_int_equal(s_cli(fx, &out, "job", job, "--json", NULL) <= 1, 1);
        bool done = strstr(out, "\"status\":\"completed\"") != NULL;
        if (strstr(out, "\"status\":\"failed\""))
            fail_msg("job failed: %s", out);
        free(out);
        if (done)
            break;
        if (s_log_count(fx, "mount a tape of pool default in drive tape0", NULL, 0) > handled) {
            handled++;
            char n[16], label[24];
            snprintf(n, sizeof n, "%d", ++slot);
            snprintf(label, sizeof label, "TF%04dL6", slot);
            s_swap(fx, n, false);
            s_cli_ok(fx, "tape label", "tape", "label", "tape0", "--label", label, "--pool", "default", NULL);
        }
        usleep(200000);
    }
    assert_true(handled >= 2);

    /* Restore: at each "needs volume" alert the operator mounts that volume. */
    char dest[PATH_MAX];
    snprintf(dest, sizeof dest, "%s/restored", fx->dir);
    char *argv[] = {"tapeflow", "restore", job, "--to", dest, NULL};
    char exe[PATH_MAX];
    snprintf(exe, sizeof exe, "%s/tapeflow", tf_test_bindir());
    tf_testproc_t *proc = tf_testproc_start(exe, argv, tf_teststack_env(fx->stack), NULL);
    assert_non_null(proc);
    int asked = 0, status = -1;
    while (!tf_testproc_wait(proc, 200, &status)) {
        assert_true(time(NULL) < deadline);
        char volume[64] = "";
        if (s_log_count(fx, "needs volume ", volume, sizeof volume) > asked) {
            asked++;
            s_swap(fx, volume, true);
        }
    }
    tf_testproc_destroy(&proc);
    assert_int_equal(status, 0);
    assert_true(asked >= 2);
    char restored[PATH_MAX * 2];
    snprintf(restored, sizeof restored, "%s%s", dest, src);
    if (tf_tree_compare(src, restored, true, why, sizeof why) != 0)
        fail_msg("restored tree differs: %s", why);
}

/* The archives query of job (caller clears). */
static void
s_archives(fx_t *fx, const char *job, tf_msg_t *reply)
{
    tf_msg_t q = {.type = TF_MSG_CAT_QUERY};
    q.cat_query = (tf_msg_cat_query_t){.query = "archives", .job_id = (char *) job};
    tf_err_t err = {0};
    if (tf_client_call(fx->client, "catalog", NULL, job, &q, reply, 30000, &err) != TF_OK)
        fail_msg("archives query: %s", err.message);
    assert_int_equal(reply->type, TF_MSG_CAT_REPLY);
}

/* Both replies list the same archives at the same places, segment for segment. */
static void
s_same_archives(const tf_msg_cat_reply_t *a, const tf_msg_cat_reply_t *b)
{
    assert_int_equal(a->archives_count, b->archives_count);
    for (size_t i = 0; i < a->archives_count; i++) {
        const tf_msg_archive_row_t *x = &a->archives[i], *y = NULL;
        for (size_t k = 0; k < b->archives_count && !y; k++)
            if (strcmp(b->archives[k].archive_id, x->archive_id) == 0)
                y = &b->archives[k];
        if (!y)
            fail_msg("archive %s is missing after the rebuild", x->archive_id);
        assert_true(y->written);
        assert_string_equal(x->volume, y->volume);
        assert_int_equal(x->tape_file, y->tape_file);
        assert_int_equal(x->block, y->block);
        assert_int_equal(x->size, y->size);
        assert_string_equal(x->checksum, y->checksum);
        assert_int_equal(x->files, y->files);
        if (x->segments_count != y->segments_count)
            fail_msg("archive %s: %zu segments before, %zu after the rebuild", x->archive_id,
                     x->segments_count, y->segments_count);
        for (size_t k = 0; k < x->segments_count; k++) {
            assert_string_equal(x->segments[k].volume, y->segments[k].volume);
            assert_int_equal(x->segments[k].tape_file, y->segments[k].tape_file);
            assert_int_equal(x->segments[k].block, y->segments[k].block);
            assert_int_equal(x->segments[k].offset, y->segments[k].offset);
            assert_int_equal(x->segments[k].length, y->segments[k].length);
        }
    }
}

static void
s_scan_volume(fx_t *fx, const char *volume, int *segments)
{
    s_swap(fx, volume, true);
    char *out = NULL;
    int rc = s_cli(fx, &out, "tape", "scan", "tape0", NULL);
    if (rc != 0)
        fail_msg("tape scan of %s failed (%d): %s", volume, rc, out ? out : "");
    /* An archive whose index did not fit at the end of a tape is written again on the next
       one: that copy is incomplete; so is a segment 1 cut off without trailer (recorded). */
    if (strstr(out, "failed") || strstr(out, "not rebuilt"))
        fail_msg("tape scan of %s skipped tape files: %s", volume, out);
    *segments += strstr(out, " segment ") != NULL;
    free(out);
}

/* The catalog is lost after a backup that spans three volumes: scanning the volumes of the set
   in any order (2, 1, 3, ...) records every archive again, the spanned ones with all their
   segments, the job is completed and the restore identical; scanning again changes nothing. */
static void
test_rebuild_spanned(void **state)
{
    fx_t *fx = *state;
    tf_msg_t before;
    s_backup_restore(fx, 20u << 20, &before);
    size_t volumes = 0, spanned = 0;
    s_check_segments(&before.cat_reply, &volumes, &spanned);
    if (volumes < 3 || spanned < 1)
        fail_msg("the backup used %zu volumes with %zu spanned archives: expected at least 3 and 1",
                 volumes, spanned);
    size_t most = 0;
    for (size_t i = 0; i < before.cat_reply.archives_count; i++)
        if (before.cat_reply.archives[i].segments_count > most)
            most = before.cat_reply.archives[i].segments_count;
    if (most < 3)
        fail_msg("no archive spans three volumes (at most %zu segments)", most);
    assert_true(before.cat_reply.archives_count > 0);
    char job[128];
    snprintf(job, sizeof job, "%s", before.cat_reply.archives[0].job_id);

    char why[PATH_MAX + 1024];
    tf_client_destroy(&fx->client);
    if (tf_teststack_down(fx->stack, why, sizeof why) != 0)
        fail_msg("%s", why);
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "rm -f '%s'/catalog.db*", fx->dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(tf_teststack_up(fx->stack), 0);
    fx->client = tf_client_new(NULL, tf_teststack_broker(fx->stack), NULL);
    assert_non_null(fx->client);

    /* Not in order: 2, 1, then 3 and any later ones. */
    char labels[8][16];
    size_t n = volumes < 8 ? volumes : 8;
    for (size_t i = 0; i < n; i++)
        snprintf(labels[i], sizeof labels[i], "TF%04zuL6", i + 1);
    const size_t order[8] = {1, 0, 2, 3, 4, 5, 6, 7};
    for (int pass = 0; pass < 2; pass++) {
        int segments = 0;
        for (size_t i = 0; i < n; i++)
            s_scan_volume(fx, labels[order[i]], &segments);
        assert_true(segments >= 2);
        char *out = NULL;
        assert_int_equal(s_cli(fx, &out, "job", job, "--json", NULL), 0);
        if (!strstr(out, "\"status\":\"completed\""))
            fail_msg("after scanning the %zu volumes (pass %d) the job is not completed: %s", n, pass + 1, out);
        free(out);
        tf_msg_t after;
        s_archives(fx, job, &after);
        s_same_archives(&before.cat_reply, &after.cat_reply);
        tf_msg_clear(&after);
    }
    tf_msg_clear(&before);

    char src[PATH_MAX];
    snprintf(src, sizeof src, "%s/src", fx->dir);
    if (tf_teststack_restore_compare(fx->stack, job, src, "rebuilt", why, sizeof why) != 0)
        fail_msg("after the rebuild: %s", why);
}

/* tgt's virtual library: eight 3 MB tapes (TFC001L6..), its changer LUN and tape LUN. */
static chg_tgt_t *s_tgt;

static int
s_setup_tgt(void **state)
{
    char why[512];
    int no_tgtd = 0;
    s_tgt = chg_tgt_start_sized(8, 8, 3, &no_tgtd, why, sizeof why);
    if (!s_tgt && no_tgtd) {
        fprintf(stderr, "tgtd could not start (%s): skipping\n", why);
        *state = NULL;
        return 0;
    }
    if (!s_tgt)
        fail_msg("tgt library setup failed: %s", why);
    /* Archives of some MB, so that a tape change falls inside one. */
    return s_setup_urls(state, "tfspantgt", chg_tgt_drive_url(s_tgt), chg_tgt_changer_url(s_tgt), true,
                        "TFC001L6", 8 << 20);
}

static int
s_teardown_tgt(void **state)
{
    if (*state)
        s_teardown(state);
    chg_tgt_stop(&s_tgt);
    return 0;
}

static void
test_tgt_three_volumes(void **state)
{
    if (!*state)
        skip();
    fx_t *fx = *state;
    tf_msg_t reply;
    s_backup_restore(fx, 28u << 20, &reply);
    size_t volumes = 0, spanned = 0;
    s_check_segments(&reply.cat_reply, &volumes, &spanned);
    tf_msg_clear(&reply);
    if (volumes < 3 || spanned < 1)
        fail_msg("the backup used %zu volumes with %zu spanned archives on tgt: expected at least 3 and 1",
                 volumes, spanned);
    fprintf(stderr, "tgt: %zu volumes, %zu spanned archives\n", volumes, spanned);
}

/* issue 8 item 8 with a changer: the drive's sim tapes fail a write at logical object 15 - the
   first data block of the second archive on TF0001L6 (label 0..3, filemark 4, archive 1 at
   5..13: header, 5 data blocks, trailer, index, filemark) and beyond anything one archive
   reaches on a fresh volume. The write error marks TF0001L6 `error`; after the back-off the
   archive goes to the next cartridge of the changer (TF0002L6, labelled into the set), the job
   completes and restores identically; `tape clear` makes TF0001L6 appendable again. */
static int
s_setup_write_error(void **state)
{
    const char *drive = "sim:${dir}/lib/drive0.img?capacity=64M&medium_error=15";
    /* group_size below each file's size: one file per archive, archives of equal length */
    return s_setup_urls(state, "tfwerr", drive, S_CHANGER, true, "TF0001L6", 200000);
}

/* The same fault without a changer for the drive (tapewriter/mount_wait set): alert.mount asks
   for another tape; the test plays the operator with the library's cartridges. */
static int
s_setup_write_error_no_changer(void **state)
{
    const char *drive = "sim:${dir}/lib/drive0.img?capacity=64M&medium_error=15";
    return s_setup_urls(state, "tfwerr", drive, S_CHANGER, false, "TF0001L6", 200000);
}

static void
s_random_file(const char *path, size_t size, unsigned seed)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    uint64_t x = 0x9E3779B97F4A7C15ull * (seed + 1);
    for (size_t i = 0; i < size; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        fputc((int) (x & 0xFF), f);
    }
    fclose(f);
}

static void
test_write_error_next_volume(void **state)
{
    fx_t *fx = *state;
    char src[PATH_MAX], path[PATH_MAX + 16];
    snprintf(src, sizeof src, "%s/src", fx->dir);
    assert_int_equal(mkdir(src, 0755), 0);
    snprintf(path, sizeof path, "%s/a.bin", src);
    s_random_file(path, 300000, 1);
    snprintf(path, sizeof path, "%s/b.bin", src);
    s_random_file(path, 300000, 2);
    char *out = NULL;
    int rc = s_cli(fx, &out, "backup", src, "--pool", "default", "--wait", "--timeout", S_JOB_WAIT_S, "--json",
                   NULL);
    if (rc != 0 || !strstr(out, "\"status\":\"completed\""))
        fail_msg("backup (%d): %s", rc, out ? out : "");
    const char *at = strstr(out, "\"job_id\":\"");
    assert_non_null(at);
    char job[128];
    snprintf(job, sizeof job, "%.*s", (int) strcspn(at + 10, "\""), at + 10);
    free(out);

    /* The write error, the back-off, and the archive on the next volume. */
    assert_true(s_log_count(fx, "tape TF0001L6 in drive tape0: ", NULL, 0) >= 1);
    assert_true(s_log_count(fx, "handing it back in 5.0 s", NULL, 0) >= 1);
    assert_true(s_log_count(fx, "tape TF0001L6 in drive tape0 is marked error (write errors): loading the next "
                                "volume of set", NULL, 0) >= 1);
    tf_msg_t reply;
    s_archives(fx, job, &reply);
    assert_int_equal(reply.cat_reply.archives_count, 2);
    int on1 = 0, on2 = 0;
    for (size_t i = 0; i < reply.cat_reply.archives_count; i++) {
        on1 += strcmp(reply.cat_reply.archives[i].volume, "TF0001L6") == 0;
        on2 += strcmp(reply.cat_reply.archives[i].volume, "TF0002L6") == 0;
    }
    tf_msg_clear(&reply);
    assert_int_equal(on1, 1);
    assert_int_equal(on2, 1);
    assert_int_equal(s_cli(fx, &out, "tape", "list", "--json", NULL), 0);
    at = strstr(out, "{\"volume\":\"TF0001L6\"");
    assert_non_null(at);
    assert_int_equal(strncmp(strstr(at, "\"state\":"), "\"state\":\"error\"", 15), 0);
    assert_int_equal(strncmp(strstr(at, "\"write_errors\":"), "\"write_errors\":1", 16), 0);
    at = strstr(out, "{\"volume\":\"TF0002L6\"");
    assert_non_null(at);
    assert_int_equal(strncmp(strstr(at, "\"state\":"), "\"state\":\"appendable\"", 20), 0);
    free(out);

    /* Everything is there: the restore loads both volumes. */
    char dest[PATH_MAX], restored[PATH_MAX * 2], why[1024];
    snprintf(dest, sizeof dest, "%s/restored", fx->dir);
    rc = s_cli(fx, &out, "restore", job, "--to", dest, NULL);
    if (rc != 0)
        fail_msg("restore (%d): %s", rc, out ? out : "");
    free(out);
    snprintf(restored, sizeof restored, "%s%s", dest, src);
    if (tf_tree_compare(src, restored, true, why, sizeof why) != 0)
        fail_msg("restored tree differs: %s", why);

    s_cli_ok(fx, "tape clear", "tape", "clear", "TF0001L6", NULL);
    assert_int_equal(s_cli(fx, &out, "tape", "list", "--json", NULL), 0);
    at = strstr(out, "{\"volume\":\"TF0001L6\"");
    assert_non_null(at);
    assert_int_equal(strncmp(strstr(at, "\"state\":"), "\"state\":\"appendable\"", 20), 0);
    free(out);
}

static void
test_write_error_no_changer(void **state)
{
    fx_t *fx = *state;
    char src[PATH_MAX], path[PATH_MAX + 16];
    snprintf(src, sizeof src, "%s/src", fx->dir);
    assert_int_equal(mkdir(src, 0755), 0);
    snprintf(path, sizeof path, "%s/a.bin", src);
    s_random_file(path, 300000, 1);
    snprintf(path, sizeof path, "%s/b.bin", src);
    s_random_file(path, 300000, 2);
    char *out = NULL;
    char job[128];
    assert_int_equal(tf_teststack_backup_start(fx->stack, src, "default", job, sizeof job), 0);
    assert_true(job[0] != '\0');
    /* The operator: at the "mount a tape" alert, the next cartridge, labelled for the pool. */
    bool mounted = false;
    time_t deadline = time(NULL) + 300;
    for (;;) {
        assert_true(time(NULL) < deadline);
        assert_int_equal(s_cli(fx, &out, "job", job, "--json", NULL) <= 1, 1);
        bool done = strstr(out, "\"status\":\"completed\"") != NULL;
        if (strstr(out, "\"status\":\"failed\""))
            fail_msg("job failed: %s", out);
        free(out);
        if (done)
            break;
        if (!mounted && s_log_count(fx, "(tape TF0001L6 is marked error after write errors; waiting up to 120 s)",
                                    NULL, 0) > 0) {
            mounted = true;
            s_swap(fx, "2", false);
            s_cli_ok(fx, "tape label", "tape", "label", "tape0", "--label", "TF0002L6", "--pool", "default", NULL);
        }
        usleep(200000);
    }
    assert_true(mounted);
    assert_int_equal(s_cli(fx, &out, "tape", "list", "--json", NULL), 0);
    const char *at = strstr(out, "{\"volume\":\"TF0001L6\"");
    assert_non_null(at);
    assert_int_equal(strncmp(strstr(at, "\"state\":"), "\"state\":\"error\"", 15), 0);
    assert_non_null(strstr(out, "{\"volume\":\"TF0002L6\""));
    free(out);
}

int
main(int argc, char **argv)
{
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    zsys_init();
    zsys_handler_set(NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_three_volumes_with_changer, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_hard_eom_with_changer, s_setup_hard, s_teardown),
        cmocka_unit_test_setup_teardown(test_rebuild_spanned, s_setup_big_groups, s_teardown),
        cmocka_unit_test_setup_teardown(test_no_changer_mount_wait, s_setup_no_changer, s_teardown),
        cmocka_unit_test_setup_teardown(test_tgt_three_volumes, s_setup_tgt, s_teardown_tgt),
        cmocka_unit_test_setup_teardown(test_write_error_next_volume, s_setup_write_error, s_teardown),
        cmocka_unit_test_setup_teardown(test_write_error_no_changer, s_setup_write_error_no_changer, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
