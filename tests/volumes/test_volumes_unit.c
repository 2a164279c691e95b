/*  Volumes, pools and retention without processes: retention periods and times, expiry and
    the overwrite rule (the exact message), what a tape says about its use, the catalog's
    volumes table (cat_volume, the volumes query, states with a pinned clock), a label that
    stays readable after the block size changed, and other programs' labels recognised. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "tape_test_util.h"
#include "tapewriter.h"
#include "tapefile.h"
#include "tf_clock.h"
#include "tf_config.h"
#include "tf_drive.h"
#include "tf_label.h"
#include "tf_testproc.h"
#include "tf_volume.h"

#define DAY (86400LL * 1000)

typedef struct {
    char *dir;
    char image[256];
    char url[300];
    int64_t now;   /* the catalog's clock */
} fixture_t;

static int
s_setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    f->dir = tf_test_tempdir("tfvolu");
    assert_non_null(f->dir);
    snprintf(f->image, sizeof f->image, "%s/tape.img", f->dir);
    snprintf(f->url, sizeof f->url, "sim:%s?capacity=64M", f->image);
    *state = f;
    return 0;
}

static int
s_teardown(void **state)
{
    fixture_t *f = *state;
    tf_test_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static tf_drive_t *
s_open(const char *url)
{
    tf_err_t err = {0};
    tf_drive_t *d = tf_drive_open(url, &err);
    if (!d)
        fail_msg("open %s: %s", url, err.message);
    assert_int_equal(tf_drive_wait_ready(d, 5000, &err), TF_OK);
    assert_int_equal(tf_drive_set_variable(d, &err), TF_OK);
    return d;
}

static void
test_periods_and_times(void **state)
{
    (void) state;
    int64_t ms = 0;
    assert_int_equal(tf_volume_parse_period("30", &ms), TF_OK);
    assert_true(ms == 30 * DAY);
    assert_int_equal(tf_volume_parse_period("90s", &ms), TF_OK);
    assert_true(ms == 90000);
    assert_int_equal(tf_volume_parse_period("12h", &ms), TF_OK);
    assert_true(ms == 12 * 3600000LL);
    assert_int_equal(tf_volume_parse_period("4w", &ms), TF_OK);
    assert_true(ms == 28 * DAY);
    assert_int_equal(tf_volume_parse_period("never", &ms), TF_OK);
    assert_true(ms == TF_VOLUME_NEVER);
    assert_int_not_equal(tf_volume_parse_period("", &ms), TF_OK);
    assert_int_not_equal(tf_volume_parse_period("-3d", &ms), TF_OK);
    assert_int_not_equal(tf_volume_parse_period("3 days", &ms), TF_OK);
    assert_int_not_equal(tf_volume_parse_period("3dd", &ms), TF_OK);
    assert_int_not_equal(tf_volume_parse_period("99999999999999999999", &ms), TF_OK);

    assert_int_equal(tf_volume_parse_time("2027-01-05", &ms), TF_OK);
    assert_true(ms == 1799107200000LL);
    assert_int_equal(tf_volume_parse_time("2026-11-21T10:50:11Z", &ms), TF_OK);
    assert_true(ms == 1795258211000LL);
    assert_int_equal(tf_volume_parse_time("2026-11-21T10:50:11.250Z", &ms), TF_OK);
    assert_true(ms == 1795258211250LL);
    assert_int_equal(tf_volume_parse_time("", &ms), TF_OK);
    assert_true(ms == 0);
    assert_int_not_equal(tf_volume_parse_time("2026-11-21 10:50", &ms), TF_OK);
    assert_int_not_equal(tf_volume_parse_time("tomorrow", &ms), TF_OK);
    assert_int_not_equal(tf_volume_parse_time("2026-13-01", &ms), TF_OK);
    char buf[40];
    assert_string_equal(tf_volume_format_time(1795258211250LL, buf, sizeof buf), "2026-11-21T10:50:11Z");
    assert_string_equal(tf_volume_format_date(1799107200000LL + 3600000, buf, sizeof buf), "2027-01-05");

    /* Config: pools/<pool>/retention, default 30 days for any pool; bad values name the key. */
    tf_config_t *cfg = tf_config_new();
    assert_non_null(cfg);
    tf_err_t err = {0};
    assert_int_equal(tf_volume_retention(cfg, "default", &ms, &err), TF_OK);
    assert_true(ms == 30 * DAY);
    assert_int_equal(tf_volume_retention(cfg, "offsite", &ms, &err), TF_OK);
    int64_t table_default = 0;   /* the one default: the key table's */
    assert_int_equal(tf_config_parse_retention(tf_config_lookup("pools/offsite/retention")->value,
                                               &table_default), 0);
    assert_true(ms == table_default);
    assert_int_equal(tf_config_set(cfg, "pools/offsite/retention", "2s"), 0);
    /* Under a day only on purpose (issue 8.6): refused naming the key and the flag. */
    assert_int_equal(tf_volume_retention(cfg, "offsite", &ms, &err), TF_ERR_INVALID);
    assert_string_equal(err.message, "config pools/offsite/retention = '2s' is less than 1 day: the "
                                     "next backup of pool offsite would recycle its tapes and lose the "
                                     "jobs on them; set a retention of at least 1 day (30 = 30 days), "
                                     "or set pools/offsite/allow_zero_retention = 1 to allow this on purpose");
    assert_int_equal(tf_config_set(cfg, "pools/offsite/retention", "0"), 0);
    assert_int_equal(tf_volume_retention(cfg, "offsite", &ms, &err), TF_ERR_INVALID);
    assert_int_equal(tf_config_set(cfg, "pools/offsite/retention", "1d"), 0);
    assert_int_equal(tf_volume_retention(cfg, "offsite", &ms, &err), TF_OK);
    assert_int_equal(tf_config_set(cfg, "pools/offsite/allow_zero_retention", "1"), 0);
    assert_int_equal(tf_config_set(cfg, "pools/offsite/retention", "0"), 0);
    assert_int_equal(tf_volume_retention(cfg, "offsite", &ms, &err), TF_OK);
    assert_true(ms == 0);
    assert_int_equal(tf_config_set(cfg, "pools/offsite/retention", "2s"), 0);
    assert_int_equal(tf_volume_retention(cfg, "offsite", &ms, &err), TF_OK);
    assert_true(ms == 2000);
    /* R8: what 'config check' accepts is what a backup reads: a yes/no allow flag, and every
       duration the config parser knows. */
    assert_int_equal(tf_config_set(cfg, "pools/offsite/allow_zero_retention", "yes"), 0);
    assert_int_equal(tf_config_set(cfg, "pools/offsite/retention", "90min"), 0);
    assert_int_equal(tf_volume_retention(cfg, "offsite", &ms, &err), TF_OK);
    assert_true(ms == 90 * 60000);
    assert_int_equal(tf_config_set(cfg, "pools/offsite/retention", "500ms"), 0);
    assert_int_equal(tf_volume_retention(cfg, "offsite", &ms, &err), TF_OK);
    assert_true(ms == 500);
    assert_int_equal(tf_volume_parse_period("90min", &ms), TF_OK);
    assert_true(ms == 90 * 60000);
    assert_int_equal(tf_config_set(cfg, "pools/offsite/allow_zero_retention", "no"), 0);
    assert_int_equal(tf_volume_retention(cfg, "offsite", &ms, &err), TF_ERR_INVALID);
    assert_int_equal(tf_config_set(cfg, "pools/offsite/retention", "soon"), 0);
    assert_int_equal(tf_volume_retention(cfg, "offsite", &ms, &err), TF_ERR_INVALID);
    assert_string_equal(err.message, "config pools/offsite/retention = 'soon' is not a retention "
                                     "period: use days (30), a number with s, m, h, d or w (12h, "
                                     "90d, 4w), or never");
    assert_int_equal(tf_volume_pool_count(cfg, "default"), 0);
    assert_int_equal(tf_config_set(cfg, "pools/offsite/volumes", "12"), 0);
    assert_int_equal(tf_volume_pool_count(cfg, "offsite"), 12);
    tf_config_destroy(&cfg);
}

static void
test_expiry_and_overwrite_rule(void **state)
{
    (void) state;
    int64_t jan5 = 1799107200000LL, written = 1795258360000LL;
    /* Nothing written, no floor: no expiry. */
    assert_true(tf_volume_expiry(0, 0, 30 * DAY) == 0);
    /* Last written + retention; the label's floor wins when later. */
    assert_true(tf_volume_expiry(0, written, 30 * DAY) == written + 30 * DAY);
    assert_true(tf_volume_expiry(jan5 + 100 * DAY, written, 30 * DAY) == jan5 + 100 * DAY);
    assert_true(tf_volume_expiry(0, written, TF_VOLUME_NEVER) == TF_VOLUME_NEVER);
    assert_string_equal(tf_volume_state(false, 0, written), "appendable");
    assert_string_equal(tf_volume_state(true, jan5, written), "full");
    assert_string_equal(tf_volume_state(true, jan5, jan5), "expired");
    assert_string_equal(tf_volume_state(false, jan5, jan5 + 1), "expired");

    tf_err_t err = {0};
    assert_int_equal(tf_volume_check_overwrite("TF0003", jan5 + 3600000, written, &err), TF_ERR_STATE);
    assert_string_equal(err.message, "tape TF0003 expires on 2027-01-05 and cannot be overwritten");
    assert_int_equal(tf_volume_check_overwrite("TF0003", jan5, jan5, &err), TF_OK);
    assert_int_equal(tf_volume_check_overwrite("TF0003", 0, written, &err), TF_OK);
    assert_int_equal(tf_volume_check_overwrite("TF0009", TF_VOLUME_NEVER, written, &err), TF_ERR_STATE);
    assert_string_equal(err.message, "tape TF0009 never expires (its pool keeps volumes forever) "
                                     "and cannot be overwritten");
}

/* Writes one archive of size bytes at end of data with block_size; returns its data. */
static uint8_t *
s_append(tf_drive_t *d, const char *id, size_t size, uint32_t block_size)
{
    tf_err_t err = {0};
    assert_int_equal(tf_drive_space(d, TF_DRIVE_SPACE_EOD, 0, &err), TF_OK);
    uint8_t *data = tt_random(size, (uint32_t) size);
    tapefile_header_t h;
    memset(&h, 0, sizeof h);
    snprintf(h.archive_id, sizeof h.archive_id, "%s", id);
    snprintf(h.job_id, sizeof h.job_id, "J1");
    snprintf(h.pool, sizeof h.pool, "default");
    h.size = size;
    tt_checksum(data, size, h.checksum);
    h.block_size = block_size;
    tapefile_writer_t *w = tapefile_writer_new(d, &h, &err);
    if (!w)
        fail_msg("writer: %s", err.message);
    assert_int_equal(tapefile_writer_write(w, data, size, &err), TF_OK);
    tapefile_stats_t st;
    assert_int_equal(tapefile_writer_finish(w, &st, &err), TF_OK);
    tapefile_writer_destroy(&w);
    return data;
}

/* The label is 80- and 4096-byte records whatever tapewriter/block_size is: after archives
   in 1 MiB and 4 KiB blocks it still reads, the tape is never taken for blank, and what the
   tape says about its use (tape files, when last written) comes back. */
static void
test_label_survives_block_size_change(void **state)
{
    fixture_t *f = *state;
    tf_err_t err = {0};
    tf_drive_t *d = s_open(f->url);
    tf_label_t label;
    assert_int_equal(tf_label_init(&label, "TF0001", "default", "sim", &err), TF_OK);
    assert_int_equal(tf_label_write(d, &label, &err), TF_OK);
    uint64_t files = 9;
    int64_t last = -1;
    assert_int_equal(tf_volume_tape_usage(d, &files, &last, &err), TF_OK);
    assert_int_equal(files, 1);
    assert_true(last == 0);   /* no archive yet */

    free(s_append(d, "J1-g00001", 3 * 1048576 + 5, 1048576));
    free(s_append(d, "J1-g00002", 50000, 4096));
    free(s_append(d, "J1-g00003", 200000, 262144));
    tf_drive_destroy(&d);

    d = s_open(f->url);
    tf_label_info_t info;
    assert_int_equal(tf_label_read(d, &info, &err), TF_OK);
    assert_int_equal(info.kind, TF_LABEL_TAPEFLOW);
    assert_string_equal(info.label.label, "TF0001");
    assert_string_equal(info.label.pool, "default");
    assert_int_equal(info.blocks_read, TF_LABEL_BLOCKS);
    assert_int_equal(tf_label_check(&info, "tape0", "default", &err), TF_OK);
    assert_int_equal(tf_volume_tape_usage(d, &files, &last, &err), TF_OK);
    assert_int_equal(files, 4);
    /* The last header's created (whole seconds) is within a few seconds of now. */
    int64_t now = tf_clock_wall_ms();
    assert_true(last > now - 10000 && last <= now);
    /* Every archive reads back whatever block size it was written with. */
    for (uint64_t file = 1; file <= 3; file++) {
        tapefile_reader_t *r = tapefile_reader_open(d, file, &err);
        if (!r)
            fail_msg("tape file %d: %s", (int) file, err.message);
        const void *p;
        size_t n;
        do
            assert_int_equal(tapefile_reader_read(r, &p, &n, &err), TF_OK);
        while (n > 0);
        tapefile_stats_t st;
        assert_int_equal(tapefile_reader_finish(r, &st, &err), TF_OK);
        tapefile_reader_destroy(&r);
    }
    tf_drive_destroy(&d);
}

/* Writes one block and a filemark at the beginning of the tape. */
static void
s_fake(const char *url, const void *block, size_t len)
{
    tf_err_t err = {0};
    tf_drive_t *d = s_open(url);
    assert_int_equal(tf_drive_rewind(d, &err), TF_OK);
    assert_int_equal(tf_drive_write_block(d, block, len, &err), TF_OK);
    assert_int_equal(tf_drive_write_filemarks(d, 1, false, &err), TF_OK);
    tf_drive_destroy(&d);
}

static void
test_foreign_labels_recognised(void **state)
{
    fixture_t *f = *state;
    tf_err_t err = {0};
    tf_label_info_t info;
    char vol1[80];
    struct {
        char access;
        const char *impl;
        tf_label_kind_t kind;
        const char *found;
    } cases[] = {
        {' ', "BACULA", TF_LABEL_ANSI, "an ANSI label 'ABC123' written by BACULA"},
        {'L', "", TF_LABEL_LTFS, "an LTFS volume 'ABC123'"},
        {' ', "LTFS 2.4", TF_LABEL_LTFS, "an LTFS volume 'ABC123'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tf_label_format_vol1(vol1, "ABC123", cases[i].access, cases[i].impl, "");
        s_fake(f->url, vol1, sizeof vol1);
        tf_drive_t *d = s_open(f->url);
        assert_int_equal(tf_label_read(d, &info, &err), TF_OK);
        tf_drive_destroy(&d);
        assert_int_equal(info.kind, cases[i].kind);
        assert_string_equal(info.found, cases[i].found);
        assert_int_equal(tf_label_check(&info, "tape0", "default", &err), TF_ERR_INVALID);
        assert_non_null(strstr(err.message, "is not a tapeflow tape"));
        assert_non_null(strstr(err.message, "--force' (its contents will be lost)"));
    }
    static const char xml[] = "<?xml version=\"1.0\"?><ltfslabel version=\"2.4\"></ltfslabel>";
    s_fake(f->url, xml, sizeof xml - 1);
    tf_drive_t *d = s_open(f->url);
    assert_int_equal(tf_label_read(d, &info, &err), TF_OK);
    tf_drive_destroy(&d);
    assert_int_equal(info.kind, TF_LABEL_LTFS);
}

/* --- the catalog's volumes ----------------------------------------------------------- */

static int64_t
s_clock(void *arg)
{
    return ((fixture_t *) arg)->now;
}

static int
s_apply(catalog_t *cat, const tf_msg_t *msg, tf_msg_t *reply, tf_err_t *err)
{
    return catalog_apply(cat, msg, reply, err);
}

static void
s_report(catalog_t *cat, const char *label, const char *pool, const char *state, int64_t created,
         int64_t expires, uint64_t bytes, int64_t written, uint64_t files, int64_t time_ms)
{
    tf_msg_t m = {.type = TF_MSG_CAT_VOLUME};
    m.cat_volume = (tf_msg_cat_volume_t){
        .label = (char *) label, .pool = (char *) pool, .state = (char *) state, .media_type = "sim",
        .created_ms = created, .expires_ms = expires, .bytes_used = bytes, .last_written_ms = written,
        .write_errors = 1, .read_errors = 2, .tape_files = files, .drive = "tape0", .time_ms = time_ms};
    tf_err_t err = {0};
    if (s_apply(cat, &m, NULL, &err) != TF_OK)
        fail_msg("cat_volume: %s", err.message);
}

static tf_msg_t
s_volumes(catalog_t *cat, const char *pattern)
{
    tf_msg_t q = {.type = TF_MSG_CAT_QUERY}, reply;
    q.cat_query = (tf_msg_cat_query_t){.query = "volumes", .pattern = (char *) pattern};
    tf_err_t err = {0};
    if (s_apply(cat, &q, &reply, &err) != TF_OK)
        fail_msg("volumes: %s", err.message);
    assert_int_equal(reply.type, TF_MSG_CAT_REPLY);
    return reply;
}

static void
test_catalog_volumes(void **state)
{
    fixture_t *f = *state;
    char path[300];
    snprintf(path, sizeof path, "%s/catalog.db", f->dir);
    tf_err_t err = {0};
    catalog_t *cat = catalog_open(path, &err);
    assert_non_null(cat);
    f->now = 1795258400000LL;
    catalog_set_clock(cat, s_clock, f);
    int64_t created = 1795258211000LL, written = 1795258360000LL;
    s_report(cat, "TF0002", "offsite", "full", created, written + 7 * DAY, 900, written, 5, written);
    s_report(cat, "TF0001", "default", "appendable", created, written + 30 * DAY, 734003 + 8192,
             written, 2, written);
    s_report(cat, "TF0003", "default", "full", created, written + DAY, 5000, written, 3, written);
    /* A repeat and an older report change nothing. */
    s_report(cat, "TF0001", "default", "appendable", created, written + 30 * DAY, 734003 + 8192,
             written, 2, written);
    s_report(cat, "TF0001", "default", "full", created, 1, 1, 1, 9, written - 1);

    tf_msg_t r = s_volumes(cat, NULL);
    assert_int_equal(r.cat_reply.volumes_count, 3);
    const tf_msg_volume_row_t *v = r.cat_reply.volumes;
    /* pool, then label */
    assert_string_equal(v[0].label, "TF0001");
    assert_string_equal(v[1].label, "TF0003");
    assert_string_equal(v[2].label, "TF0002");
    assert_string_equal(v[0].state, "appendable");
    assert_string_equal(v[0].pool, "default");
    assert_string_equal(v[0].media_type, "sim");
    assert_string_equal(v[0].drive, "tape0");
    assert_true(v[0].created_ms == created);
    assert_true(v[0].expires_ms == written + 30 * DAY);
    assert_int_equal(v[0].bytes_used, 734003 + 8192);
    assert_true(v[0].last_written_ms == written);
    assert_int_equal(v[0].write_errors, 1);
    assert_int_equal(v[0].read_errors, 2);
    assert_int_equal(v[0].tape_files, 2);
    assert_true(v[0].updated_ms == written);
    assert_string_equal(v[1].state, "full");
    assert_string_equal(v[2].state, "full");
    tf_msg_clear(&r);

    /* Two days later TF0003 has expired (expired wins over full), the others have not. */
    f->now = written + 2 * DAY;
    r = s_volumes(cat, "TF000[13]");
    assert_int_equal(r.cat_reply.volumes_count, 2);
    assert_string_equal(r.cat_reply.volumes[0].state, "appendable");
    assert_string_equal(r.cat_reply.volumes[1].state, "expired");
    tf_msg_clear(&r);
    f->now = written + 31 * DAY;
    r = s_volumes(cat, "TF0001");
    assert_int_equal(r.cat_reply.volumes_count, 1);
    assert_string_equal(r.cat_reply.volumes[0].state, "expired");
    tf_msg_clear(&r);

    /* Recycled: a new generation replaces the row. */
    s_report(cat, "TF0001", "default", "appendable", written + 31 * DAY, 0, 0, 0, 1, written + 31 * DAY);
    r = s_volumes(cat, "TF0001");
    assert_string_equal(r.cat_reply.volumes[0].state, "appendable");
    assert_int_equal(r.cat_reply.volumes[0].tape_files, 1);
    assert_true(r.cat_reply.volumes[0].expires_ms == 0);
    tf_msg_clear(&r);

    /* Refusals: bad label, bad pool, a state that is computed, not reported. */
    tf_msg_t m = {.type = TF_MSG_CAT_VOLUME};
    m.cat_volume = (tf_msg_cat_volume_t){.label = "bad label", .pool = "default", .state = "full"};
    assert_int_equal(s_apply(cat, &m, NULL, &err), TF_ERR_INVALID);
    assert_non_null(strstr(err.message, "is not a volume label"));
    m.cat_volume.label = "TF0001";
    m.cat_volume.pool = "";
    assert_int_equal(s_apply(cat, &m, NULL, &err), TF_ERR_INVALID);
    m.cat_volume.pool = "default";
    m.cat_volume.state = "expired";
    assert_int_equal(s_apply(cat, &m, NULL, &err), TF_ERR_INVALID);
    assert_string_equal(err.message, "cat_volume TF0001: state 'expired' is not appendable or full "
                                     "(expired is computed from expires_ms)");
    /* No job is failed for a refused volume report (it belongs to none). */
    tf_msg_t q = {.type = TF_MSG_CAT_QUERY}, reply;
    q.cat_query = (tf_msg_cat_query_t){.query = "jobs"};
    assert_int_equal(s_apply(cat, &q, &reply, &err), TF_OK);
    assert_int_equal(reply.cat_reply.jobs_count, 0);
    tf_msg_clear(&reply);

    /* issue 8 item 8: a cartridge with write errors is in state error - even past its expiry,
       so it is never recycled - until a report with another state (tapeflow tape clear). */
    s_report(cat, "TF0003", "default", "error", created, written + DAY, 5000, written, 3, written + 40 * DAY);
    r = s_volumes(cat, "TF0003");
    assert_string_equal(r.cat_reply.volumes[0].state, "error");
    tf_msg_clear(&r);
    s_report(cat, "TF0003", "default", "appendable", created, written + DAY, 5000, written, 3, written + 41 * DAY);
    r = s_volumes(cat, "TF0003");
    assert_string_equal(r.cat_reply.volumes[0].state, "expired");
    tf_msg_clear(&r);
    m.cat_volume.state = "broken";
    assert_int_equal(s_apply(cat, &m, NULL, &err), TF_ERR_INVALID);
    assert_string_equal(err.message, "cat_volume TF0001: state 'broken' is not appendable, full or error");

    /* The rows survive reopening the database. */
    catalog_destroy(&cat);
    cat = catalog_open(path, &err);
    assert_non_null(cat);
    r = s_volumes(cat, NULL);
    assert_int_equal(r.cat_reply.volumes_count, 3);
    tf_msg_clear(&r);
    catalog_destroy(&cat);
}

/* issue 8 item 8: the pause before a failed archive item is handed back. */
static void
test_retry_backoff(void **state)
{
    (void) state;
    assert_int_equal(tapewriter_backoff_ms(5000, 300000, 1), 5000);
    assert_int_equal(tapewriter_backoff_ms(5000, 300000, 2), 10000);
    assert_int_equal(tapewriter_backoff_ms(5000, 300000, 4), 40000);
    assert_int_equal(tapewriter_backoff_ms(5000, 300000, 7), 300000);   /* capped */
    assert_int_equal(tapewriter_backoff_ms(5000, 300000, 1000), 300000);
    assert_int_equal(tapewriter_backoff_ms(5000, 0, 3), 20000);         /* no cap */
    assert_int_equal(tapewriter_backoff_ms(0, 300000, 3), 0);           /* off */
    /* No pause when the retry goes elsewhere at once (issue 8 review R11). */
    assert_true(tapewriter_backoff_wanted(false, false));
    assert_false(tapewriter_backoff_wanted(true, false));    /* job cancelled */
    assert_false(tapewriter_backoff_wanted(false, true));    /* full volume, the next one comes */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_periods_and_times),
        cmocka_unit_test(test_retry_backoff),
        cmocka_unit_test(test_expiry_and_overwrite_rule),
        cmocka_unit_test_setup_teardown(test_label_survives_block_size_change, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_foreign_labels_recognised, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_catalog_volumes, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
