/*  tf_drive_selftest - btape-style drive self test. */
#include "tf_drive_selftest.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_clock.h"
#include "tf_drive.h"

#define S_MAGIC 0x54464454u /* "TFDT" */
#define S_HEADER 24

typedef struct {
    tf_drive_t *drive;
    const tf_selftest_opts_t *opts;
    tf_selftest_report_t *report;
    uint8_t *buf;
    uint8_t *rbuf;
    size_t rsize;
} s_ctx_t;

static void
s_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t) (v >> (8 * i));
}

static uint32_t
s_get32(const uint8_t *p)
{
    return (uint32_t) p[0] | ((uint32_t) p[1] << 8) | ((uint32_t) p[2] << 16) | ((uint32_t) p[3] << 24);
}

static uint64_t
s_fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* Block length varies so that variable-block handling is exercised. */
static size_t
s_block_len(const s_ctx_t *c, uint32_t file, uint32_t block)
{
    size_t len = c->opts->block_size - ((file * 7 + block * 13) % 5) * 1000;
    return len < 64 ? 64 : len;
}

/* Fills buf with a checksummed test block; returns its length. */
static size_t
s_make_block(const s_ctx_t *c, uint8_t *buf, uint32_t file, uint32_t block)
{
    size_t len = s_block_len(c, file, block);
    uint64_t x = ((uint64_t) file << 32 | block) * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = S_HEADER; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = (uint8_t) x;
    }
    s_put32(buf, S_MAGIC);
    s_put32(buf + 4, file);
    s_put32(buf + 8, block);
    s_put32(buf + 12, (uint32_t) len);
    uint64_t sum = s_fnv1a(buf + S_HEADER, len - S_HEADER);
    s_put32(buf + 16, (uint32_t) sum);
    s_put32(buf + 20, (uint32_t) (sum >> 32));
    return len;
}

/* Checks a block read back; writes a reason into why on mismatch. */
static bool
s_check_block(const uint8_t *buf, size_t len, uint32_t file, uint32_t block, char *why,
              size_t size)
{
    if (len < S_HEADER || s_get32(buf) != S_MAGIC) {
        snprintf(why, size, "expected test block %u/%u, got %zu bytes without the test header",
                 file, block, len);
        return false;
    }
    uint32_t f = s_get32(buf + 4), b = s_get32(buf + 8), l = s_get32(buf + 12);
    if (f != file || b != block) {
        snprintf(why, size, "expected block %u of tape file %u, read block %u of file %u",
                 block, file, b, f);
        return false;
    }
    if (l != len) {
        snprintf(why, size, "block %u/%u: written %u bytes, read %zu", file, block, l, len);
        return false;
    }
    uint64_t sum = (uint64_t) s_get32(buf + 16) | ((uint64_t) s_get32(buf + 20) << 32);
    if (s_fnv1a(buf + S_HEADER, len - S_HEADER) != sum) {
        snprintf(why, size, "block %u/%u: checksum mismatch (data corrupted)", file, block);
        return false;
    }
    return true;
}

static tf_selftest_step_t *
s_step(s_ctx_t *c, const char *name)
{
    tf_selftest_report_t *r = c->report;
    if (r->count >= TF_SELFTEST_MAX_STEPS)
        return &r->steps[TF_SELFTEST_MAX_STEPS - 1];
    tf_selftest_step_t *step = &r->steps[r->count++];
    memset(step, 0, sizeof *step);
    step->name = name;
    return step;
}

static bool
s_result(tf_selftest_step_t *step, tf_selftest_state_t state, int64_t start, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static bool
s_result(tf_selftest_step_t *step, tf_selftest_state_t state, int64_t start, const char *fmt, ...)
{
    step->state = state;
    step->seconds = (double) (tf_clock_mono_ms() - start) / 1000.0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(step->detail, sizeof step->detail, fmt, ap);
    va_end(ap);
    return state != TF_SELFTEST_FAIL;
}

/* Reads the next block, expecting test block (file, block). */
static bool
s_expect_block(s_ctx_t *c, uint32_t file, uint32_t block, char *why, size_t size)
{
    tf_err_t err = {0, ""};
    size_t len = 0;
    if (tf_drive_read_block(c->drive, c->rbuf, c->rsize, &len, &err) != TF_OK) {
        snprintf(why, size, "reading block %u/%u: %s", file, block, err.message);
        return false;
    }
    if (len == 0) {
        snprintf(why, size, "expected block %u of tape file %u, hit %s", block, file,
                 tf_drive_cond_name(tf_drive_last_cond(c->drive)));
        return false;
    }
    return s_check_block(c->rbuf, len, file, block, why, size);
}

/* Reads the next block, expecting a filemark (or end of data when eod). */
static bool
s_expect_mark(s_ctx_t *c, bool eod, char *why, size_t size)
{
    tf_err_t err = {0, ""};
    size_t len = 0;
    tf_drive_cond_t want = eod ? TF_DRIVE_COND_END_OF_DATA : TF_DRIVE_COND_FILEMARK;
    if (tf_drive_read_block(c->drive, c->rbuf, c->rsize, &len, &err) != TF_OK) {
        snprintf(why, size, "reading: %s", err.message);
        return false;
    }
    if (len != 0 || tf_drive_last_cond(c->drive) != want) {
        snprintf(why, size, "expected %s, read %s%s", tf_drive_cond_name(want),
                 len ? "a data block" : tf_drive_cond_name(tf_drive_last_cond(c->drive)),
                 len ? "" : "");
        return false;
    }
    return true;
}

static bool
s_write_file(s_ctx_t *c, uint32_t file, int blocks, uint64_t *bytes, char *why, size_t size)
{
    tf_err_t err = {0, ""};
    for (int b = 0; b < blocks; b++) {
        size_t len = s_make_block(c, c->buf, file, (uint32_t) b);
        if (tf_drive_write_block(c->drive, c->buf, len, &err) != TF_OK) {
            snprintf(why, size, "writing block %d of file %u: %s", b, file, err.message);
            return false;
        }
        *bytes += len;
    }
    if (tf_drive_write_filemarks(c->drive, 1, false, &err) != TF_OK) {
        snprintf(why, size, "writing the filemark after file %u: %s", file, err.message);
        return false;
    }
    return true;
}

static bool
s_check_pos(s_ctx_t *c, uint64_t file, uint64_t block, char *why, size_t size)
{
    tf_drive_pos_t pos;
    tf_drive_position(c->drive, &pos);
    if (!pos.file_known || pos.file != file || !pos.block_known || pos.block != block) {
        snprintf(why, size, "tracked position is file %s%llu block %s%llu, expected %llu/%llu",
                 pos.file_known ? "" : "?", (unsigned long long) pos.file,
                 pos.block_known ? "" : "?", (unsigned long long) pos.block,
                 (unsigned long long) file, (unsigned long long) block);
        return false;
    }
    return true;
}

static bool
s_write_files(s_ctx_t *c)
{
    tf_selftest_step_t *step = s_step(c, "write tape files");
    int64_t start = tf_clock_mono_ms();
    char why[TF_ERR_MESSAGE_MAX];
    tf_err_t err = {0, ""};
    if (tf_drive_rewind(c->drive, &err) != TF_OK)
        return s_result(step, TF_SELFTEST_FAIL, start, "rewind: %s", err.message);
    uint64_t bytes = 0;
    for (int f = 0; f < c->opts->files; f++)
        if (!s_write_file(c, (uint32_t) f, c->opts->blocks, &bytes, why, sizeof why))
            return s_result(step, TF_SELFTEST_FAIL, start, "%s", why);
    double secs = (double) (tf_clock_mono_ms() - start) / 1000.0;
    c->report->bytes_written += bytes;
    c->report->write_mb_s = secs > 0 ? (double) bytes / 1e6 / secs : 0;
    if (!s_check_pos(c, (uint64_t) c->opts->files, 0, why, sizeof why))
        return s_result(step, TF_SELFTEST_FAIL, start, "%s", why);
    return s_result(step, TF_SELFTEST_PASS, start, "%d files x %d blocks, %.1f MB at %.1f MB/s",
                    c->opts->files, c->opts->blocks, (double) bytes / 1e6, c->report->write_mb_s);
}

static bool
s_read_files(s_ctx_t *c)
{
    tf_selftest_step_t *step = s_step(c, "read back and verify");
    int64_t start = tf_clock_mono_ms();
    char why[TF_ERR_MESSAGE_MAX];
    tf_err_t err = {0, ""};
    if (tf_drive_rewind(c->drive, &err) != TF_OK)
        return s_result(step, TF_SELFTEST_FAIL, start, "rewind: %s", err.message);
    uint64_t bytes = 0;
    for (int f = 0; f < c->opts->files; f++) {
        for (int b = 0; b < c->opts->blocks; b++) {
            if (!s_expect_block(c, (uint32_t) f, (uint32_t) b, why, sizeof why))
                return s_result(step, TF_SELFTEST_FAIL, start, "%s", why);
            bytes += s_block_len(c, (uint32_t) f, (uint32_t) b);
        }
        if (!s_expect_mark(c, false, why, sizeof why))
            return s_result(step, TF_SELFTEST_FAIL, start, "after file %d: %s", f, why);
    }
    if (!s_expect_mark(c, true, why, sizeof why))
        return s_result(step, TF_SELFTEST_FAIL, start, "after the last file: %s", why);
    double secs = (double) (tf_clock_mono_ms() - start) / 1000.0;
    c->report->read_mb_s = secs > 0 ? (double) bytes / 1e6 / secs : 0;
    return s_result(step, TF_SELFTEST_PASS, start, "%.1f MB verified at %.1f MB/s",
                    (double) bytes / 1e6, c->report->read_mb_s);
}

static bool
s_filemarks(s_ctx_t *c)
{
    tf_selftest_step_t *step = s_step(c, "filemark positioning");
    int64_t start = tf_clock_mono_ms();
    char why[TF_ERR_MESSAGE_MAX];
    tf_err_t err = {0, ""};
    uint32_t last = (uint32_t) c->opts->files - 1;
    if (tf_drive_locate_file(c->drive, last, 0, &err) != TF_OK)
        return s_result(step, TF_SELFTEST_FAIL, start, "locate file %u: %s", last, err.message);
    if (!s_expect_block(c, last, 0, why, sizeof why))
        return s_result(step, TF_SELFTEST_FAIL, start, "after locating file %u: %s", last, why);
    uint32_t mid = c->opts->files > 1 ? 1 : 0;
    uint32_t blk = c->opts->blocks > 2 ? 2 : 0;
    if (tf_drive_locate_file(c->drive, mid, blk, &err) != TF_OK)
        return s_result(step, TF_SELFTEST_FAIL, start, "locate file %u block %u: %s", mid, blk,
                        err.message);
    if (!s_check_pos(c, mid, blk, why, sizeof why)
        || !s_expect_block(c, mid, blk, why, sizeof why))
        return s_result(step, TF_SELFTEST_FAIL, start, "after locating %u/%u: %s", mid, blk, why);
    if (tf_drive_rewind(c->drive, &err) != TF_OK
        || tf_drive_space(c->drive, TF_DRIVE_SPACE_FILEMARKS, last, &err) != TF_OK)
        return s_result(step, TF_SELFTEST_FAIL, start, "rewind + space %u filemarks: %s", last,
                        err.message);
    if (!s_expect_block(c, last, 0, why, sizeof why) || !s_check_pos(c, last, 1, why, sizeof why))
        return s_result(step, TF_SELFTEST_FAIL, start, "after spacing %u filemarks: %s", last, why);
    return s_result(step, TF_SELFTEST_PASS, start, "locate to file, to file+block, space filemarks");
}

static bool
s_spacing(s_ctx_t *c)
{
    tf_selftest_step_t *step = s_step(c, "space forward and backward");
    int64_t start = tf_clock_mono_ms();
    char why[TF_ERR_MESSAGE_MAX];
    tf_err_t err = {0, ""};
    if (c->opts->files < 3 || c->opts->blocks < 4)
        return s_result(step, TF_SELFTEST_SKIP, start, "needs at least 3 files of 4 blocks");
    if (tf_drive_locate_file(c->drive, 1, 0, &err) != TF_OK
        || tf_drive_space(c->drive, TF_DRIVE_SPACE_BLOCKS, 3, &err) != TF_OK)
        return s_result(step, TF_SELFTEST_FAIL, start, "space 3 blocks forward: %s", err.message);
    if (!s_expect_block(c, 1, 3, why, sizeof why))
        return s_result(step, TF_SELFTEST_FAIL, start, "after spacing 3 blocks: %s", why);
    if (tf_drive_space(c->drive, TF_DRIVE_SPACE_BLOCKS, -2, &err) != TF_OK)
        return s_result(step, TF_SELFTEST_FAIL, start, "space 2 blocks back: %s", err.message);
    if (!s_expect_block(c, 1, 2, why, sizeof why))
        return s_result(step, TF_SELFTEST_FAIL, start, "after spacing 2 blocks back: %s", why);
    if (tf_drive_space(c->drive, TF_DRIVE_SPACE_FILEMARKS, 1, &err) != TF_OK)
        return s_result(step, TF_SELFTEST_FAIL, start, "space 1 filemark: %s", err.message);
    if (!s_expect_block(c, 2, 0, why, sizeof why))
        return s_result(step, TF_SELFTEST_FAIL, start, "after spacing 1 filemark: %s", why);
    if (tf_drive_space(c->drive, TF_DRIVE_SPACE_FILEMARKS, -1, &err) != TF_OK)
        return s_result(step, TF_SELFTEST_FAIL, start, "space 1 filemark back: %s", err.message);
    if (!s_expect_mark(c, false, why, sizeof why))
        return s_result(step, TF_SELFTEST_FAIL, start, "after spacing 1 filemark back: %s", why);
    if (!s_expect_block(c, 2, 0, why, sizeof why))
        return s_result(step, TF_SELFTEST_FAIL, start, "after the filemark: %s", why);
    /* Spacing blocks past the end of a file must stop after its filemark. */
    if (tf_drive_locate_file(c->drive, 1, 0, &err) != TF_OK)
        return s_result(step, TF_SELFTEST_FAIL, start, "locate file 1: %s", err.message);
    int rc = tf_drive_space(c->drive, TF_DRIVE_SPACE_BLOCKS, c->opts->blocks + 5, &err);
    if (rc != TF_ERR_NOTFOUND || tf_drive_last_cond(c->drive) != TF_DRIVE_COND_FILEMARK)
        return s_result(step, TF_SELFTEST_FAIL, start,
                        "spacing past the end of file 1 should stop at its filemark: %s",
                        rc == TF_OK ? "it did not stop" : err.message);
    if (!s_expect_block(c, 2, 0, why, sizeof why))
        return s_result(step, TF_SELFTEST_FAIL, start, "after stopping at the filemark: %s", why);
    return s_result(step, TF_SELFTEST_PASS, start,
                    "blocks +3 -2, filemarks +1 -1, stop at filemark");
}

static bool
s_append(s_ctx_t *c)
{
    tf_selftest_step_t *step = s_step(c, "append at end of data");
    int64_t start = tf_clock_mono_ms();
    char why[TF_ERR_MESSAGE_MAX];
    tf_err_t err = {0, ""};
    if (tf_drive_space(c->drive, TF_DRIVE_SPACE_EOD, 0, &err) != TF_OK)
        return s_result(step, TF_SELFTEST_FAIL, start, "space to end of data: %s", err.message);
    tf_drive_pos_t pos;
    tf_drive_position(c->drive, &pos);
    uint32_t file = (uint32_t) c->opts->files;
    if (!pos.file_known || pos.file != file)
        return s_result(step, TF_SELFTEST_FAIL, start,
                        "at end of data the tape file should be %u, position says %s%llu", file,
                        pos.file_known ? "" : "unknown ", (unsigned long long) pos.file);
    uint64_t bytes = 0;
    if (!s_write_file(c, file, 2, &bytes, why, sizeof why))
        return s_result(step, TF_SELFTEST_FAIL, start, "%s", why);
    c->report->bytes_written += bytes;
    if (tf_drive_locate_file(c->drive, file, 0, &err) != TF_OK)
        return s_result(step, TF_SELFTEST_FAIL, start, "locate file %u: %s", file, err.message);
    if (!s_expect_block(c, file, 0, why, sizeof why) || !s_expect_block(c, file, 1, why, sizeof why)
        || !s_expect_mark(c, false, why, sizeof why) || !s_expect_mark(c, true, why, sizeof why))
        return s_result(step, TF_SELFTEST_FAIL, start, "reading the appended file: %s", why);
    /* The earlier files must be untouched. */
    if (tf_drive_locate_file(c->drive, file - 1, 0, &err) != TF_OK
        || !s_expect_block(c, file - 1, 0, why, sizeof why))
        return s_result(step, TF_SELFTEST_FAIL, start, "file before the appended one: %s",
                        err.message[0] ? err.message : why);
    return s_result(step, TF_SELFTEST_PASS, start, "appended tape file %u and read it back", file);
}

static bool
s_position(s_ctx_t *c)
{
    tf_selftest_step_t *step = s_step(c, "position report");
    int64_t start = tf_clock_mono_ms();
    tf_err_t err = {0, ""};
    if (tf_drive_locate_file(c->drive, 1, 1, &err) != TF_OK)
        return s_result(step, TF_SELFTEST_FAIL, start, "locate 1/1: %s", err.message);
    tf_drive_pos_t pos;
    if (tf_drive_read_position(c->drive, &pos, &err) != TF_OK)
        return s_result(step, TF_SELFTEST_FAIL, start, "READ POSITION: %s", err.message);
    uint64_t object = (uint64_t) c->opts->blocks + 1 + 1; /* file 0 + its filemark + 1 block */
    if (!pos.file_known || pos.file != 1 || !pos.block_known || pos.block != 1
        || !pos.object_known || pos.object != object)
        return s_result(step, TF_SELFTEST_FAIL, start,
                        "expected file 1 block 1 object %llu, got file %llu block %llu object "
                        "%llu (%s)",
                        (unsigned long long) object, (unsigned long long) pos.file,
                        (unsigned long long) pos.block, (unsigned long long) pos.object,
                        pos.source == TF_DRIVE_POS_DRIVE ? "from the drive" : "tracked");
    if (tf_drive_locate(c->drive, object + 1, &err) != TF_OK)
        return s_result(step, TF_SELFTEST_FAIL, start, "locate object %llu: %s",
                        (unsigned long long) object + 1, err.message);
    char why[TF_ERR_MESSAGE_MAX];
    if (!s_expect_block(c, 1, 2, why, sizeof why))
        return s_result(step, TF_SELFTEST_FAIL, start, "after locate by object: %s", why);
    return s_result(step, TF_SELFTEST_PASS, start, "file/block/object agree (%s)",
                    pos.source == TF_DRIVE_POS_DRIVE ? "reported by the drive"
                                                     : "tracked: the drive reports no position");
}

static bool
s_early_warning(s_ctx_t *c)
{
    tf_selftest_step_t *step = s_step(c, "early warning");
    int64_t start = tf_clock_mono_ms();
    char why[TF_ERR_MESSAGE_MAX];
    tf_err_t err = {0, ""};
    if (c->opts->ew_limit == 0)
        return s_result(step, TF_SELFTEST_SKIP, start, "not requested (--ew-limit 0)");
    if (tf_drive_space(c->drive, TF_DRIVE_SPACE_EOD, 0, &err) != TF_OK)
        return s_result(step, TF_SELFTEST_FAIL, start, "space to end of data: %s", err.message);
    tf_drive_pos_t pos;
    tf_drive_position(c->drive, &pos);
    uint32_t file = (uint32_t) pos.file;
    uint64_t bytes = 0;
    uint32_t block = 0;
    while (!tf_drive_early_warning(c->drive) && bytes < c->opts->ew_limit) {
        size_t len = s_make_block(c, c->buf, file, block);
        int rc = tf_drive_write_block(c->drive, c->buf, len, &err);
        if (rc != TF_OK) {
            if (tf_drive_last_cond(c->drive) == TF_DRIVE_COND_END_OF_MEDIUM)
                return s_result(step, TF_SELFTEST_FAIL, start,
                                "the drive reached the physical end of tape after %.1f MB "
                                "without an early warning first: %s",
                                (double) bytes / 1e6, err.message);
            return s_result(step, TF_SELFTEST_FAIL, start, "write: %s", err.message);
        }
        bytes += len;
        block++;
    }
    c->report->bytes_written += bytes;
    if (!tf_drive_early_warning(c->drive))
        return s_result(step, TF_SELFTEST_SKIP, start,
                        "no early warning within %.1f MB (a large tape): raise --ew-limit to "
                        "fill it",
                        (double) c->opts->ew_limit / 1e6);
    if (tf_drive_write_filemarks(c->drive, 1, false, &err) != TF_OK)
        return s_result(step, TF_SELFTEST_FAIL, start,
                        "writing a filemark after early warning failed: %s", err.message);
    /* The block that triggered the warning must be on tape. */
    if (tf_drive_space(c->drive, TF_DRIVE_SPACE_FILEMARKS, -1, &err) != TF_OK
        || tf_drive_space(c->drive, TF_DRIVE_SPACE_BLOCKS, -1, &err) != TF_OK)
        return s_result(step, TF_SELFTEST_FAIL, start, "moving back to the last block: %s",
                        err.message);
    if (!s_expect_block(c, file, block - 1, why, sizeof why)
        || !s_expect_mark(c, false, why, sizeof why))
        return s_result(step, TF_SELFTEST_FAIL, start, "the block written at early warning: %s",
                        why);
    return s_result(step, TF_SELFTEST_PASS, start,
                    "early warning after %.1f MB; that write succeeded and a filemark after it "
                    "too",
                    (double) bytes / 1e6);
}

void
tf_selftest_opts_defaults(tf_selftest_opts_t *opts)
{
    opts->files = 3;
    opts->blocks = 8;
    opts->block_size = 256 * 1024;
    opts->ew_limit = 256ull * 1024 * 1024;
    opts->timeout_ms = 120000;
}

int
tf_drive_selftest_run(const char *url, const tf_selftest_opts_t *opts,
                      tf_selftest_report_t *report, tf_err_t *err)
{
    memset(report, 0, sizeof *report);
    tf_selftest_opts_t defaults;
    tf_selftest_opts_defaults(&defaults);
    if (!opts)
        opts = &defaults;
    if (opts->files < 1 || opts->blocks < 1 || opts->block_size < 64
        || opts->block_size > 16u * 1024 * 1024 - 1)
        return tf_err_set(err, TF_ERR_INVALID, "self test: bad options");
    tf_drive_t *drive = tf_drive_open(url, err);
    if (!drive)
        return err ? err->code : TF_ERR_DEVICE;
    s_ctx_t c = {drive, opts, report, malloc(opts->block_size), malloc(opts->block_size + 4096),
                 opts->block_size + 4096};
    if (!c.buf || !c.rbuf) {
        free(c.buf);
        free(c.rbuf);
        tf_drive_destroy(&drive);
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    }
    tf_selftest_step_t *step = s_step(&c, "ready");
    int64_t start = tf_clock_mono_ms();
    tf_err_t derr = {0, ""};
    bool ok = tf_drive_wait_ready(drive, opts->timeout_ms, &derr) == TF_OK;
    s_result(step, ok ? TF_SELFTEST_PASS : TF_SELFTEST_FAIL, start, "%s",
             ok ? "drive ready" : derr.message);
    if (ok) {
        step = s_step(&c, "variable block mode");
        start = tf_clock_mono_ms();
        ok = tf_drive_set_variable(drive, &derr) == TF_OK;
        s_result(step, ok ? TF_SELFTEST_PASS : TF_SELFTEST_FAIL, start, "%s",
                 ok ? "variable blocks" : derr.message);
    }
    int refused = TF_OK;
    tf_err_t gerr = {0, ""};
    if (ok && opts->guard) {
        step = s_step(&c, "tape may be overwritten");
        start = tf_clock_mono_ms();
        char detail[TF_ERR_MESSAGE_MAX] = "";
        refused = opts->guard(drive, opts->guard_arg, detail, sizeof detail, &gerr);
        if (refused != TF_OK && gerr.code == TF_OK)
            gerr.code = refused;
        ok = refused == TF_OK;
        s_result(step, ok ? TF_SELFTEST_PASS : TF_SELFTEST_FAIL, start, "%s",
                 ok ? detail : gerr.message);
    }
    ok = ok && s_write_files(&c);
    ok = ok && s_read_files(&c);
    ok = ok && s_filemarks(&c);
    ok = ok && s_spacing(&c);
    ok = ok && s_append(&c);
    ok = ok && s_position(&c);
    ok = ok && s_early_warning(&c);
    if (ok) {
        step = s_step(&c, "rewind");
        start = tf_clock_mono_ms();
        ok = tf_drive_rewind(drive, &derr) == TF_OK;
        s_result(step, ok ? TF_SELFTEST_PASS : TF_SELFTEST_FAIL, start, "%s",
                 ok ? "rewound" : derr.message);
    }
    snprintf(report->fallbacks, sizeof report->fallbacks, "%s", tf_drive_fallbacks(drive));
    report->passed = ok;
    free(c.buf);
    free(c.rbuf);
    tf_drive_destroy(&drive);
    if (refused != TF_OK) {
        if (err)
            *err = gerr;
        return gerr.code;
    }
    if (!ok)
        return tf_err_set(err, TF_ERR_DEVICE, "drive self test failed at step '%s'",
                          report->steps[report->count - 1].name);
    return TF_OK;
}
