/*  tapeindex - the on-tape index of one archive (see tapeindex.h). */
#include "tapeindex.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "tf_kvrec.h"

/* Largest decompressed payload accepted (a cat_files of TF_MSG_MAX_ROWS short rows fits). */
#define S_RAW_MAX (64u << 20)
/* Fill records up to this share of the payload space before cutting (fewer encode passes). */
#define S_TARGET (TAPEINDEX_PAYLOAD_MAX - TAPEINDEX_PAYLOAD_MAX / 32)

typedef struct {
    uint8_t *data;
    size_t size;
    size_t raw_size;
    uint64_t rows;
} s_part_t;

struct _tapeindex_t {
    uint8_t *records;    /* nrecords * TAPEINDEX_RECORD_SIZE */
    size_t nrecords;
    uint64_t rows;
};

static void
s_checksum(const void *data, size_t size, char out[40])
{
    XXH128_canonical_t canon;
    XXH128_canonicalFromHash(&canon, XXH3_128bits(data, size));
    static const char hex[] = "0123456789abcdef";
    memcpy(out, "xxh128:", 7);
    for (int i = 0; i < 16; i++) {
        out[7 + 2 * i] = hex[canon.digest[i] >> 4];
        out[8 + 2 * i] = hex[canon.digest[i] & 15];
    }
    out[39] = '\0';
}

/* --- zstd through libarchive's raw format (no extra dependency) ------------------------- */

typedef struct {
    uint8_t *data;
    size_t size;
    size_t cap;
    bool oom;
} s_buf_t;

static la_ssize_t
s_write_cb(struct archive *a, void *arg, const void *data, size_t len)
{
    s_buf_t *b = arg;
    if (b->size + len > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
        while (cap < b->size + len)
            cap *= 2;
        uint8_t *bigger = realloc(b->data, cap);
        if (!bigger) {
            b->oom = true;
            archive_set_error(a, ENOMEM, "out of memory");
            return -1;
        }
        b->data = bigger;
        b->cap = cap;
    }
    memcpy(b->data + b->size, data, len);
    b->size += len;
    return (la_ssize_t) len;
}

static int
s_compress(const uint8_t *in, size_t len, s_buf_t *out, tf_err_t *err)
{
    memset(out, 0, sizeof *out);
    struct archive *a = archive_write_new();
    struct archive_entry *e = archive_entry_new();
    int rc = TF_OK;
    if (!a || !e)
        rc = tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    else if (archive_write_add_filter_zstd(a) != ARCHIVE_OK || archive_write_set_format_raw(a) != ARCHIVE_OK
             || archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK
             || archive_write_open2(a, out, NULL, s_write_cb, NULL, NULL) != ARCHIVE_OK)
        rc = tf_err_set(err, TF_ERR_INVALID, "cannot compress the tape index: %s", archive_error_string(a));
    if (rc == TF_OK) {
        archive_entry_set_pathname(e, "index");
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_size(e, (la_int64_t) len);
        if (archive_write_header(a, e) != ARCHIVE_OK)
            rc = tf_err_set(err, TF_ERR_INVALID, "cannot compress the tape index: %s", archive_error_string(a));
    }
    size_t done = 0;
    while (rc == TF_OK && done < len) {
        la_ssize_t n = archive_write_data(a, in + done, len - done);
        if (n <= 0)
            rc = tf_err_set(err, out->oom ? TF_ERR_NOMEM : TF_ERR_INVALID, "cannot compress the tape index: %s",
                            archive_error_string(a));
        else
            done += (size_t) n;
    }
    if (rc == TF_OK && archive_write_close(a) != ARCHIVE_OK)
        rc = tf_err_set(err, out->oom ? TF_ERR_NOMEM : TF_ERR_INVALID, "cannot compress the tape index: %s",
                        archive_error_string(a));
    archive_entry_free(e);
    if (a)
        archive_write_free(a);
    if (rc != TF_OK) {
        free(out->data);
        memset(out, 0, sizeof *out);
    }
    return rc;
}

/* Decompresses exactly raw_size bytes into a new buffer. */
static int
s_decompress(const uint8_t *in, size_t len, size_t raw_size, uint8_t **out, tf_err_t *err)
{
    *out = NULL;
    if (raw_size == 0 || raw_size > S_RAW_MAX)
        return tf_err_set(err, TF_ERR_INVALID, "raw_length %zu is out of range", raw_size);
    uint8_t *buf = malloc(raw_size + 1);
    struct archive *a = archive_read_new();
    int rc = TF_OK;
    struct archive_entry *e = NULL;
    if (!buf || !a)
        rc = tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    else if (archive_read_support_filter_zstd(a) != ARCHIVE_OK || archive_read_support_format_raw(a) != ARCHIVE_OK
             || archive_read_open_memory(a, in, len) != ARCHIVE_OK || archive_read_next_header(a, &e) != ARCHIVE_OK)
        rc = tf_err_set(err, TF_ERR_INVALID, "the rows do not decompress: %s", archive_error_string(a));
    size_t got = 0;
    while (rc == TF_OK) {
        la_ssize_t n = archive_read_data(a, buf + got, raw_size + 1 - got);
        if (n < 0)
            rc = tf_err_set(err, TF_ERR_INVALID, "the rows do not decompress: %s", archive_error_string(a));
        else if (n == 0)
            break;
        else {
            got += (size_t) n;
            if (got > raw_size)
                rc = tf_err_set(err, TF_ERR_INVALID, "the rows decompress to more than raw_length %zu bytes",
                                raw_size);
        }
    }
    if (rc == TF_OK && got != raw_size)
        rc = tf_err_set(err, TF_ERR_INVALID, "the rows decompress to %zu bytes, not raw_length %zu", got,
                        raw_size);
    if (a)
        archive_read_free(a);
    if (rc != TF_OK) {
        free(buf);
        return rc;
    }
    *out = buf;
    return TF_OK;
}

/* --- building --------------------------------------------------------------------------- */

/* Encodes and compresses rows[0..n) as one cat_files message. */
static int
s_pack(const char *job_id, const char *archive_id, uint64_t part, const tf_msg_file_row_t *rows, size_t n,
       s_part_t *out, tf_err_t *err)
{
    memset(out, 0, sizeof *out);
    tf_msg_t msg = {.type = TF_MSG_CAT_FILES};
    msg.cat_files = (tf_msg_cat_files_t){.job_id = (char *) job_id, .archive_id = (char *) archive_id,
                                         .part = part, .files = (tf_msg_file_row_t *) rows, .files_count = n};
    uint8_t *raw = NULL;
    size_t raw_size = 0;
    int rc = tf_msg_encode(&msg, &raw, &raw_size, err);
    if (rc != TF_OK)
        return tf_err_prefix(err, "cannot encode the index of archive %s: ", archive_id);
    s_buf_t z;
    rc = s_compress(raw, raw_size, &z, err);
    free(raw);
    if (rc != TF_OK)
        return rc;
    *out = (s_part_t){.data = z.data, .size = z.size, .raw_size = raw_size, .rows = n};
    return TF_OK;
}

/* The largest run of rows from rows[0] (at most left) whose record fits; *best gets it. Tries
   a size estimated from the compressed size of the previous try, narrowing [fit, fail). */
static int
s_next_part(const char *job_id, const char *archive_id, uint64_t part, const tf_msg_file_row_t *rows,
            size_t left, size_t guess, s_part_t *best, tf_err_t *err)
{
    memset(best, 0, sizeof *best);
    size_t fit = 0, fail = left + 1;
    size_t n = guess < left ? guess : left;
    if (n == 0)
        n = 1;
    for (int tries = 0; tries < 32; tries++) {
        s_part_t cand;
        int rc = s_pack(job_id, archive_id, part, rows, n, &cand, err);
        if (rc != TF_OK)
            return rc;
        double scale = (double) S_TARGET / (double) (cand.size ? cand.size : 1);
        if (cand.size <= TAPEINDEX_PAYLOAD_MAX) {
            free(best->data);
            *best = cand;
            fit = n;
        } else {
            free(cand.data);
            fail = n;
        }
        if (fit == left || fail - fit <= 1 || (fit > 0 && fail - fit <= fit / 16 + 1))
            break;
        size_t next = (size_t) ((double) n * scale);
        if (next <= fit)
            next = fit + 1;
        if (next >= fail)
            next = fail - 1;
        if (next > left)
            next = left;
        n = next;
    }
    if (fit == 0)
        return tf_err_set(err, TF_ERR_TOOBIG, "archive %s: a file row does not fit in a %u-byte index record",
                          archive_id, TAPEINDEX_RECORD_SIZE);
    return TF_OK;
}

static int
s_header(uint8_t *record, const char *job_id, const char *archive_id, uint64_t part, uint64_t parts,
         const s_part_t *p, tf_err_t *err)
{
    char sum[40];
    s_checksum(p->data, p->size, sum);
    tf_kvrec_t *rec = tf_kvrec_new(TAPEINDEX_MAGIC);
    if (!rec)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    int rc = tf_kvrec_put(rec, "archive", archive_id, err);
    if (rc == TF_OK) rc = tf_kvrec_put(rec, "job", job_id, err);
    if (rc == TF_OK) rc = tf_kvrec_put_u64(rec, "part", part, err);
    if (rc == TF_OK) rc = tf_kvrec_put_u64(rec, "parts", parts, err);
    if (rc == TF_OK) rc = tf_kvrec_put_u64(rec, "rows", p->rows, err);
    if (rc == TF_OK) rc = tf_kvrec_put(rec, "encoding", TAPEINDEX_ENCODING, err);
    if (rc == TF_OK) rc = tf_kvrec_put_u64(rec, "offset", TAPEINDEX_PAYLOAD_OFFSET, err);
    if (rc == TF_OK) rc = tf_kvrec_put_u64(rec, "length", p->size, err);
    if (rc == TF_OK) rc = tf_kvrec_put_u64(rec, "raw_length", p->raw_size, err);
    if (rc == TF_OK) rc = tf_kvrec_put(rec, "checksum", sum, err);
    if (rc == TF_OK) {
        memset(record, 0, TAPEINDEX_RECORD_SIZE);
        memcpy(record, tf_kvrec_data(rec), TF_KVREC_SIZE);
        memcpy(record + TAPEINDEX_PAYLOAD_OFFSET, p->data, p->size);
    }
    tf_kvrec_destroy(&rec);
    return rc;
}

tapeindex_t *
tapeindex_build(const char *job_id, const char *archive_id, const tf_msg_file_row_t *rows, size_t count,
                tf_err_t *err)
{
    tapeindex_t *self = calloc(1, sizeof *self);
    if (!self) {
        tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    s_part_t *parts = NULL;
    size_t nparts = 0, cap = 0, done = 0, guess = 512;
    int rc = TF_OK;
    while (rc == TF_OK && done < count) {
        if (nparts == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            s_part_t *bigger = realloc(parts, ncap * sizeof *parts);
            if (!bigger) {
                rc = tf_err_set(err, TF_ERR_NOMEM, "out of memory");
                break;
            }
            parts = bigger;
            cap = ncap;
        }
        rc = s_next_part(job_id, archive_id, nparts + 1, rows + done, count - done, guess, &parts[nparts], err);
        if (rc == TF_OK) {
            done += parts[nparts].rows;
            guess = parts[nparts].rows;
            nparts++;
        }
    }
    if (rc == TF_OK && nparts > 0) {
        self->records = malloc(nparts * TAPEINDEX_RECORD_SIZE);
        if (!self->records)
            rc = tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; rc == TF_OK && i < nparts; i++)
        rc = s_header(self->records + i * TAPEINDEX_RECORD_SIZE, job_id, archive_id, i + 1, nparts, &parts[i], err);
    for (size_t i = 0; i < nparts; i++)
        free(parts[i].data);
    free(parts);
    if (rc != TF_OK) {
        tapeindex_destroy(&self);
        return NULL;
    }
    self->nrecords = nparts;
    self->rows = count;
    return self;
}

void
tapeindex_destroy(tapeindex_t **self_p)
{
    if (self_p && *self_p) {
        free((*self_p)->records);
        free(*self_p);
        *self_p = NULL;
    }
}

size_t
tapeindex_records(const tapeindex_t *self)
{
    return self ? self->nrecords : 0;
}

uint64_t
tapeindex_rows(const tapeindex_t *self)
{
    return self ? self->rows : 0;
}

const uint8_t *
tapeindex_record(const tapeindex_t *self, size_t i)
{
    return self && i < self->nrecords ? self->records + i * TAPEINDEX_RECORD_SIZE : NULL;
}

/* --- reading ---------------------------------------------------------------------------- */

int
tapeindex_parse(const void *block, size_t len, const char *archive_id, uint64_t part, tf_msg_t *msg,
                tf_err_t *err)
{
    memset(msg, 0, sizeof *msg);
    const uint8_t *b = block;
    char id[TF_MSG_MAX_ID + 2] = "", sum[48] = "", encoding[64] = "";
    uint64_t p = 0, rows = 0, offset = 0, length = 0, raw_length = 0;
    size_t head = len < TF_KVREC_SIZE ? len : TF_KVREC_SIZE;
    if (len != TAPEINDEX_RECORD_SIZE || !tf_kvrec_is(b, head, TAPEINDEX_MAGIC))
        return tf_err_set(err, TF_ERR_INVALID, "not a %s record (%zu bytes)", TAPEINDEX_MAGIC, len);
    if (tf_kvrec_get(b, head, "archive", id, sizeof id) != TF_OK
        || tf_kvrec_get_u64(b, head, "part", &p) != TF_OK || tf_kvrec_get_u64(b, head, "rows", &rows) != TF_OK
        || tf_kvrec_get(b, head, "encoding", encoding, sizeof encoding) != TF_OK
        || tf_kvrec_get_u64(b, head, "offset", &offset) != TF_OK
        || tf_kvrec_get_u64(b, head, "length", &length) != TF_OK
        || tf_kvrec_get_u64(b, head, "raw_length", &raw_length) != TF_OK
        || tf_kvrec_get(b, head, "checksum", sum, sizeof sum) != TF_OK)
        return tf_err_set(err, TF_ERR_INVALID, "index record header is incomplete (archive, part, rows, "
                          "encoding, offset, length, raw_length, checksum)");
    if (archive_id && strcmp(id, archive_id) != 0)
        return tf_err_set(err, TF_ERR_INVALID, "index record of archive %s, expected %s", id, archive_id);
    if (part && p != part)
        return tf_err_set(err, TF_ERR_INVALID, "index record part %" PRIu64 ", expected part %" PRIu64, p, part);
    if (strcmp(encoding, TAPEINDEX_ENCODING) != 0)
        return tf_err_set(err, TF_ERR_UNSUPPORTED, "index record encoding '%s' is unknown (this tapeflow "
                          "reads %s)", encoding, TAPEINDEX_ENCODING);
    if (offset < TF_KVREC_SIZE || offset > len || length > len - offset)
        return tf_err_set(err, TF_ERR_INVALID, "index record payload (offset %" PRIu64 ", length %" PRIu64
                          ") lies outside the record", offset, length);
    char actual[40];
    s_checksum(b + offset, (size_t) length, actual);
    if (strcmp(actual, sum) != 0)
        return tf_err_set(err, TF_ERR_INVALID, "index record part %" PRIu64 " of archive %s is damaged: its "
                          "rows have checksum %s, the record says %s", p, id, actual, sum);
    uint8_t *raw = NULL;
    int rc = s_decompress(b + offset, (size_t) length, (size_t) raw_length, &raw, err);
    if (rc == TF_OK) {
        rc = tf_msg_decode(raw, (size_t) raw_length, msg, err);
        free(raw);
    }
    if (rc == TF_OK && msg->type != TF_MSG_CAT_FILES) {
        tf_msg_clear(msg);
        rc = tf_err_set(err, TF_ERR_INVALID, "payload is not a cat_files message");
    }
    if (rc == TF_OK && (msg->cat_files.files_count != rows || strcmp(msg->cat_files.archive_id, id) != 0)) {
        tf_msg_clear(msg);
        rc = tf_err_set(err, TF_ERR_INVALID, "payload does not match its header (rows, archive)");
    }
    if (rc != TF_OK)
        return tf_err_prefix(err, "index record part %" PRIu64 " of archive %s: ", p, id);
    return TF_OK;
}
