/*  tapefile - one archive as one tape file (see tapefile.h). */
#include "tapefile.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "tf_clock.h"
#include "tf_kvrec.h"
#include "tf_log.h"

#ifndef TAPEFLOW_VERSION
#define TAPEFLOW_VERSION "unknown"
#endif

/* Largest data block a reader accepts (writers stay at or below TAPEFILE_BLOCK_MAX). */
#define S_READ_BLOCK_MAX (16u << 20)

uint64_t
tapefile_data_blocks(uint64_t size, uint32_t block_size)
{
    return block_size ? (size + block_size - 1) / block_size : 0;
}

static void
s_digest(XXH3_state_t *state, char out[TAPEFILE_CHECKSUM_LEN])
{
    XXH128_canonical_t canon;
    XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(state));
    static const char hex[] = "0123456789abcdef";
    memcpy(out, "xxh128:", 7);
    for (int i = 0; i < 16; i++) {
        out[7 + 2 * i] = hex[canon.digest[i] >> 4];
        out[8 + 2 * i] = hex[canon.digest[i] & 15];
    }
    out[39] = '\0';
}

static void
s_now(char *out, size_t size)
{
    char now[40];
    tf_clock_format(tf_clock_wall_ms(), now, sizeof now);
    char *dot = strchr(now, '.');
    if (dot)
        snprintf(dot, sizeof now - (size_t) (dot - now), "Z");
    snprintf(out, size, "%.31s", now);
}

static int
s_format_header(tf_kvrec_t *rec, const tapefile_header_t *h, tf_err_t *err)
{
    int rc = tf_kvrec_put(rec, "archive", h->archive_id, err);
    if (rc == TF_OK) rc = tf_kvrec_put(rec, "job", h->job_id, err);
    if (rc == TF_OK) rc = tf_kvrec_put_u64(rec, "group", h->group_no, err);
    if (rc == TF_OK) rc = tf_kvrec_put(rec, "pool", h->pool, err);
    if (rc == TF_OK) rc = tf_kvrec_put(rec, "format", "pax", err);
    if (rc == TF_OK) rc = tf_kvrec_put(rec, "compression", h->compression, err);
    if (rc == TF_OK) rc = tf_kvrec_put_u64(rec, "size", h->size, err);
    if (rc == TF_OK) rc = tf_kvrec_put(rec, "checksum", h->checksum, err);
    if (rc == TF_OK) rc = tf_kvrec_put_u64(rec, "block_size", h->block_size, err);
    if (rc == TF_OK) rc = tf_kvrec_put_u64(rec, "data_blocks", h->data_blocks, err);
    if (rc == TF_OK) rc = tf_kvrec_put_u64(rec, "files", h->files, err);
    if (rc == TF_OK) rc = tf_kvrec_put_u64(rec, "bytes", h->bytes, err);
    if (rc == TF_OK) rc = tf_kvrec_put(rec, "volume", h->volume, err);
    if (rc == TF_OK) rc = tf_kvrec_put(rec, "created", h->created, err);
    if (rc == TF_OK) rc = tf_kvrec_put(rec, "software", "tapeflow " TAPEFLOW_VERSION, err);
    /* Segment 2.. of an archive that spans volumes. */
    if (rc == TF_OK && h->segment > 1) {
        rc = tf_kvrec_put_u64(rec, "segment", h->segment, err);
        if (rc == TF_OK) rc = tf_kvrec_put_u64(rec, "offset", h->offset, err);
        if (rc == TF_OK && h->set_id[0]) rc = tf_kvrec_put(rec, "set", h->set_id, err);
    }
    /* For a catalog rebuild: what the catalog knew of the job (absent when unknown). */
    if (rc == TF_OK && h->job_created_ms > 0)
        rc = tf_kvrec_put_u64(rec, "job_created_ms", (uint64_t) h->job_created_ms, err);
    if (rc == TF_OK && h->job_scanned) {
        rc = tf_kvrec_put_u64(rec, "job_files", h->job_files, err);
        if (rc == TF_OK) rc = tf_kvrec_put_u64(rec, "job_bytes", h->job_bytes, err);
        if (rc == TF_OK) rc = tf_kvrec_put_u64(rec, "job_groups", h->job_groups, err);
        if (rc == TF_OK) rc = tf_kvrec_put_u64(rec, "job_warnings", h->job_warnings, err);
    }
    return rc;
}

static int
s_parse_header(const uint8_t *buf, size_t len, tapefile_header_t *h)
{
    memset(h, 0, sizeof *h);
    uint64_t block_size = 0;
    if (!tf_kvrec_is(buf, len, TAPEFILE_HEADER_MAGIC)
        || tf_kvrec_get(buf, len, "archive", h->archive_id, sizeof h->archive_id) != TF_OK
        || tf_kvrec_get_u64(buf, len, "size", &h->size) != TF_OK
        || tf_kvrec_get(buf, len, "checksum", h->checksum, sizeof h->checksum) != TF_OK
        || tf_kvrec_get_u64(buf, len, "block_size", &block_size) != TF_OK
        || block_size == 0 || block_size > S_READ_BLOCK_MAX)
        return TF_ERR_INVALID;
    h->block_size = (uint32_t) block_size;
    if (tf_kvrec_get_u64(buf, len, "data_blocks", &h->data_blocks) != TF_OK)
        h->data_blocks = tapefile_data_blocks(h->size, h->block_size);
    tf_kvrec_get(buf, len, "job", h->job_id, sizeof h->job_id);
    tf_kvrec_get_u64(buf, len, "group", &h->group_no);
    tf_kvrec_get(buf, len, "pool", h->pool, sizeof h->pool);
    tf_kvrec_get(buf, len, "compression", h->compression, sizeof h->compression);
    tf_kvrec_get_u64(buf, len, "files", &h->files);
    tf_kvrec_get_u64(buf, len, "bytes", &h->bytes);
    tf_kvrec_get(buf, len, "volume", h->volume, sizeof h->volume);
    tf_kvrec_get(buf, len, "created", h->created, sizeof h->created);
    uint64_t created_ms = 0;
    if (tf_kvrec_get_u64(buf, len, "job_created_ms", &created_ms) == TF_OK && created_ms <= INT64_MAX)
        h->job_created_ms = (int64_t) created_ms;
    if (tf_kvrec_get_u64(buf, len, "segment", &h->segment) == TF_OK && h->segment > 1) {
        if (tf_kvrec_get_u64(buf, len, "offset", &h->offset) != TF_OK || h->offset >= h->size)
            return TF_ERR_INVALID;
        tf_kvrec_get(buf, len, "set", h->set_id, sizeof h->set_id);
    }
    else
        h->segment = 0;
    h->job_scanned = tf_kvrec_get_u64(buf, len, "job_groups", &h->job_groups) == TF_OK;
    if (h->job_scanned) {
        tf_kvrec_get_u64(buf, len, "job_files", &h->job_files);
        tf_kvrec_get_u64(buf, len, "job_bytes", &h->job_bytes);
        tf_kvrec_get_u64(buf, len, "job_warnings", &h->job_warnings);
    }
    return TF_OK;
}

/* --- writer ---------------------------------------------------------------------------- */

struct _tapefile_writer_t {
    tf_drive_t *drive;
    tapefile_header_t hdr;
    uint8_t *block;
    size_t pending;
    uint64_t size;
    uint64_t data_blocks;
    XXH3_state_t *hash;
    const tapeindex_t *index;
    bool early_warning;
    bool finished;
    /* Spanning: the segment on the current volume. */
    uint64_t segment;         /* from 1 */
    uint64_t seg_offset;      /* archive offset of its first data byte */
    uint64_t seg_size;        /* data bytes of it on tape */
    uint64_t seg_blocks;
    XXH3_state_t *seg_hash;
    bool overflow;            /* the drive refused a block: end of medium */
    uint8_t *carry;           /* bytes after the refused block, for the next volume */
    size_t carry_len, carry_cap;
};

static int
s_put(tapefile_writer_t *self, const void *data, size_t len, tf_err_t *err)
{
    int rc = tf_drive_write_block(self->drive, data, len, err);
    if (tf_drive_early_warning(self->drive))
        self->early_warning = true;
    return rc;
}

/* A data block onto tape. A block the drive refuses at the end of the medium (volume
   overflow) is kept in self->block for the next volume: *held turns true. */
static int
s_put_data(tapefile_writer_t *self, const uint8_t *data, size_t len, bool *held, tf_err_t *err)
{
    *held = false;
    tf_err_t perr = {0};
    int rc = s_put(self, data, len, &perr);
    if (rc == TF_ERR_TOOBIG && tf_drive_last_cond(self->drive) == TF_DRIVE_COND_END_OF_MEDIUM) {
        if (data != self->block)
            memcpy(self->block, data, len);
        self->pending = len;
        self->overflow = true;
        *held = true;
        return TF_OK;
    }
    if (rc != TF_OK) {
        if (err)
            *err = perr;
        return rc;
    }
    self->data_blocks++;
    self->seg_blocks++;
    self->seg_size += len;
    XXH3_128bits_update(self->seg_hash, data, len);
    return TF_OK;
}

static int
s_carry(tapefile_writer_t *self, const uint8_t *p, size_t len, tf_err_t *err)
{
    if (self->carry_len + len > self->carry_cap) {
        size_t cap = self->carry_len + len;
        uint8_t *more = realloc(self->carry, cap);
        if (!more)
            return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        self->carry = more;
        self->carry_cap = cap;
    }
    memcpy(self->carry + self->carry_len, p, len);
    self->carry_len += len;
    return TF_OK;
}

/* Cuts data into blocks; after a volume overflow everything goes to the carry buffer. */
static int
s_feed(tapefile_writer_t *self, const uint8_t *p, size_t len, tf_err_t *err)
{
    size_t bs = self->hdr.block_size;
    while (len > 0) {
        if (self->overflow)
            return s_carry(self, p, len, err);
        bool held = false;
        if (self->pending == 0 && len >= bs) {
            /* A whole block straight from the caller's buffer. */
            int rc = s_put_data(self, p, bs, &held, err);
            if (rc != TF_OK)
                return rc;
            p += bs;
            len -= bs;
            continue;
        }
        size_t take = bs - self->pending < len ? bs - self->pending : len;
        memcpy(self->block + self->pending, p, take);
        self->pending += take;
        p += take;
        len -= take;
        if (self->pending == bs) {
            int rc = s_put_data(self, self->block, bs, &held, err);
            if (rc != TF_OK)
                return rc;
            if (!held)
                self->pending = 0;
        }
    }
    return TF_OK;
}

tapefile_writer_t *
tapefile_writer_new(tf_drive_t *drive, tapefile_header_t *hdr, tf_err_t *err)
{
    if (hdr->block_size < TAPEFILE_BLOCK_MIN || hdr->block_size > TAPEFILE_BLOCK_MAX) {
        tf_err_set(err, TF_ERR_INVALID, "block size %u is out of range (%u .. %u bytes)",
                   hdr->block_size, TAPEFILE_BLOCK_MIN, TAPEFILE_BLOCK_MAX);
        return NULL;
    }
    tapefile_writer_t *self = calloc(1, sizeof *self);
    tf_kvrec_t *rec = tf_kvrec_new(TAPEFILE_HEADER_MAGIC);
    if (self)
        self->block = malloc(hdr->block_size);
    if (self) {
        self->hash = XXH3_createState();
        self->seg_hash = XXH3_createState();
    }
    if (!self || !rec || !self->block || !self->hash || !self->seg_hash) {
        tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        tf_kvrec_destroy(&rec);
        tapefile_writer_destroy(&self);
        return NULL;
    }
    XXH3_128bits_reset(self->hash);
    XXH3_128bits_reset(self->seg_hash);
    self->segment = 1;
    self->drive = drive;
    hdr->data_blocks = tapefile_data_blocks(hdr->size, hdr->block_size);
    if (!hdr->created[0])
        s_now(hdr->created, sizeof hdr->created);
    self->hdr = *hdr;
    int rc = s_format_header(rec, hdr, err);
    if (rc == TF_OK)
        rc = s_put(self, tf_kvrec_data(rec), TF_KVREC_SIZE, err);
    tf_kvrec_destroy(&rec);
    if (rc != TF_OK) {
        tapefile_writer_destroy(&self);
        return NULL;
    }
    return self;
}

void
tapefile_writer_destroy(tapefile_writer_t **self_p)
{
    if (self_p && *self_p) {
        tapefile_writer_t *self = *self_p;
        free(self->block);
        free(self->carry);
        if (self->hash)
            XXH3_freeState(self->hash);
        if (self->seg_hash)
            XXH3_freeState(self->seg_hash);
        free(self);
        *self_p = NULL;
    }
}

int
tapefile_writer_write(tapefile_writer_t *self, const void *data, size_t len, tf_err_t *err)
{
    if (self->size + len > self->hdr.size)
        return tf_err_set(err, TF_ERR_INVALID, "archive %s: more than the %" PRIu64 " bytes announced",
                          self->hdr.archive_id, self->hdr.size);
    XXH3_128bits_update(self->hash, data, len);
    self->size += len;
    return s_feed(self, data, len, err);
}

size_t
tapefile_writer_pending(tapefile_writer_t *self)
{
    return self->pending;
}

void
tapefile_writer_set_index(tapefile_writer_t *self, const tapeindex_t *index)
{
    self->index = index;
}

int
tapefile_writer_finish(tapefile_writer_t *self, tapefile_stats_t *stats, tf_err_t *err)
{
    if (self->size != self->hdr.size)
        return tf_err_set(err, TF_ERR_INVALID, "archive %s: got %" PRIu64 " of %" PRIu64 " bytes",
                          self->hdr.archive_id, self->size, self->hdr.size);
    char sum[TAPEFILE_CHECKSUM_LEN];
    s_digest(self->hash, sum);
    if (self->hdr.checksum[0] && strcmp(sum, self->hdr.checksum) != 0)
        return tf_err_set(err, TF_ERR_IO,
                          "archive %s: the bytes fetched from the stager have checksum %s, not %s",
                          self->hdr.archive_id, sum, self->hdr.checksum);
    if (self->overflow || self->carry_len > 0)
        return tf_err_set(err, TF_ERR_STATE, "archive %s: the tape is full: continue on the next "
                          "volume before finishing", self->hdr.archive_id);
    if (self->pending > 0) {
        /* The last (short) block; refused at the end of the medium it waits for the next
           volume (tapefile_writer_volume_full turns true). */
        bool held = false;
        int rc = s_put_data(self, self->block, self->pending, &held, err);
        if (rc != TF_OK)
            return rc;
        if (held)
            return tf_err_set(err, TF_ERR_TOOBIG, "archive %s: the tape is full (end of medium) before "
                              "the last block", self->hdr.archive_id);
        self->pending = 0;
    }
    /* A spanned archive's last segment: the trailer describes the segment's own data. */
    bool spanned = self->segment > 1;
    char seg_sum[TAPEFILE_CHECKSUM_LEN];
    s_digest(self->seg_hash, seg_sum);
    tf_kvrec_t *rec = tf_kvrec_new(TAPEFILE_TRAILER_MAGIC);
    if (!rec)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    int rc = tf_kvrec_put(rec, "archive", self->hdr.archive_id, err);
    if (rc == TF_OK) rc = tf_kvrec_put_u64(rec, "size", spanned ? self->seg_size : self->size, err);
    if (rc == TF_OK) rc = tf_kvrec_put_u64(rec, "data_blocks", spanned ? self->seg_blocks : self->data_blocks, err);
    if (rc == TF_OK) rc = tf_kvrec_put(rec, "checksum", spanned ? seg_sum : sum, err);
    if (rc == TF_OK && spanned) rc = tf_kvrec_put_u64(rec, "segment", self->segment, err);
    if (rc == TF_OK && spanned) rc = tf_kvrec_put_u64(rec, "offset", self->seg_offset, err);
    size_t nindex = tapeindex_records(self->index);
    if (rc == TF_OK) rc = tf_kvrec_put_u64(rec, "index_records", nindex, err);
    if (rc == TF_OK && self->index) rc = tf_kvrec_put_u64(rec, "index_rows", tapeindex_rows(self->index), err);
    if (rc == TF_OK) rc = s_put(self, tf_kvrec_data(rec), TF_KVREC_SIZE, err);
    tf_kvrec_destroy(&rec);
    for (size_t i = 0; rc == TF_OK && i < nindex; i++)
        rc = s_put(self, tapeindex_record(self->index, i), TAPEINDEX_RECORD_SIZE, err);
    /* Not immediate: the filemark returns once everything is on tape, so a buffered write
       error shows up here and not after the archive was reported written. */
    if (rc == TF_OK)
        rc = tf_drive_write_filemarks(self->drive, 1, false, err);
    if (tf_drive_early_warning(self->drive))
        self->early_warning = true;
    if (rc != TF_OK)
        return rc;
    self->finished = true;
    if (stats) {
        memset(stats, 0, sizeof *stats);
        stats->size = self->size;
        stats->data_blocks = self->data_blocks;
        stats->blocks = self->seg_blocks + 2;
        memcpy(stats->checksum, sum, sizeof sum);
        stats->early_warning = self->early_warning;
        stats->index_records = nindex;
    }
    return TF_OK;
}

bool
tapefile_writer_volume_full(tapefile_writer_t *self)
{
    /* Early warning seen while writing the header alone: put one block on this tape first, so
       no segment is empty. */
    return self->overflow || (self->early_warning && self->seg_blocks > 0 && self->size < self->hdr.size);
}

bool
tapefile_writer_overflow(tapefile_writer_t *self)
{
    return self->overflow;
}

void
tapefile_writer_segment(tapefile_writer_t *self, tapefile_segment_t *seg)
{
    memset(seg, 0, sizeof *seg);
    seg->segment = self->segment;
    seg->offset = self->seg_offset;
    seg->length = self->seg_size;
    seg->data_blocks = self->seg_blocks;
}

int
tapefile_writer_end_volume(tapefile_writer_t *self, tapefile_segment_t *seg, tf_err_t *err)
{
    tapefile_writer_segment(self, seg);
    char sum[TAPEFILE_CHECKSUM_LEN];
    s_digest(self->seg_hash, sum);
    tf_kvrec_t *rec = tf_kvrec_new(TAPEFILE_TRAILER_MAGIC);
    if (!rec)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    int rc = tf_kvrec_put(rec, "archive", self->hdr.archive_id, err);
    if (rc == TF_OK) rc = tf_kvrec_put_u64(rec, "size", self->seg_size, err);
    if (rc == TF_OK) rc = tf_kvrec_put_u64(rec, "data_blocks", self->seg_blocks, err);
    if (rc == TF_OK) rc = tf_kvrec_put(rec, "checksum", sum, err);
    if (rc == TF_OK) rc = tf_kvrec_put_u64(rec, "segment", self->segment, err);
    if (rc == TF_OK) rc = tf_kvrec_put_u64(rec, "offset", self->seg_offset, err);
    if (rc == TF_OK) rc = tf_kvrec_put_u64(rec, "continued", 1, err);
    if (rc == TF_OK) rc = tf_kvrec_put_u64(rec, "index_records", 0, err);
    if (rc != TF_OK) {
        tf_kvrec_destroy(&rec);
        return rc;
    }
    /* At the end of the medium the trailer may not fit: the segment then ends at the filemark
       (or at end of data), and a reader takes its length from the catalog. */
    tf_err_t terr = {0};
    rc = s_put(self, tf_kvrec_data(rec), TF_KVREC_SIZE, &terr);
    tf_kvrec_destroy(&rec);
    bool eom = rc == TF_ERR_TOOBIG && tf_drive_last_cond(self->drive) == TF_DRIVE_COND_END_OF_MEDIUM;
    if (rc != TF_OK && !eom) {
        if (err)
            *err = terr;
        return rc;
    }
    seg->trailer = rc == TF_OK;
    seg->overflow = self->overflow;
    tf_err_t ferr = {0};
    rc = tf_drive_write_filemarks(self->drive, 1, false, &ferr);
    if (rc != TF_OK && !(rc == TF_ERR_TOOBIG || tf_drive_last_cond(self->drive) == TF_DRIVE_COND_END_OF_MEDIUM)) {
        if (err)
            *err = ferr;
        return rc;
    }
    return TF_OK;
}

int
tapefile_writer_next_volume(tapefile_writer_t *self, tf_drive_t *drive, const char *volume,
                            const char *set_id, tf_err_t *err)
{
    self->drive = drive;
    self->early_warning = false;
    self->segment++;
    self->seg_offset += self->seg_size;
    self->seg_size = 0;
    self->seg_blocks = 0;
    XXH3_128bits_reset(self->seg_hash);
    tapefile_header_t hdr = self->hdr;
    hdr.segment = self->segment;
    hdr.offset = self->seg_offset;
    snprintf(hdr.volume, sizeof hdr.volume, "%s", volume);
    snprintf(hdr.set_id, sizeof hdr.set_id, "%s", set_id ? set_id : "");
    tf_kvrec_t *rec = tf_kvrec_new(TAPEFILE_HEADER_MAGIC);
    if (!rec)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    int rc = s_format_header(rec, &hdr, err);
    if (rc == TF_OK)
        rc = s_put(self, tf_kvrec_data(rec), TF_KVREC_SIZE, err);
    tf_kvrec_destroy(&rec);
    if (rc != TF_OK)
        return rc;
    self->hdr = hdr;
    /* The block the last volume refused, then what came after it. */
    bool was_overflow = self->overflow;
    self->overflow = false;
    if (was_overflow && self->pending > 0) {
        bool held = false;
        rc = s_put_data(self, self->block, self->pending, &held, err);
        if (rc != TF_OK)
            return rc;
        if (held)
            return tf_err_set(err, TF_ERR_DEVICE, "archive %s: tape %s is full right after its header",
                              self->hdr.archive_id, volume);
        self->pending = 0;
    }
    if (self->carry_len > 0) {
        uint8_t *carry = self->carry;
        size_t len = self->carry_len;
        self->carry = NULL;
        self->carry_len = self->carry_cap = 0;
        rc = s_feed(self, carry, len, err);
        free(carry);
    }
    return rc;
}

void
tapefile_writer_abandon(tapefile_writer_t *self)
{
    if (!self || self->finished || !self->drive)
        return;
    tf_err_t err = {0};
    if (tf_drive_write_filemarks(self->drive, 1, false, &err) != TF_OK)
        tf_log_warn("could not close the incomplete tape file of %s: %s", self->hdr.archive_id, err.message);
}

void
tapefile_writer_detach(tapefile_writer_t *self)
{
    if (self)
        self->drive = NULL;
}

/* --- reader ---------------------------------------------------------------------------- */

struct _tapefile_reader_t {
    tf_drive_t *drive;
    uint64_t file;
    tapefile_header_t hdr;
    uint8_t *buf;
    size_t buf_size;
    uint64_t size;          /* data bytes handed out */
    uint64_t data_blocks;
    uint64_t blocks;        /* all records read */
    XXH3_state_t *hash;
    bool have_trailer;
    tapefile_trailer_t trailer;
    uint64_t index_read;    /* index records read so far */
    bool segment;           /* one segment of a spanned archive (tapefile_reader_set_segment) */
    uint64_t want;          /* data bytes in this tape file */
};

tapefile_reader_t *
tapefile_reader_open(tf_drive_t *drive, uint64_t file, tf_err_t *err)
{
    tapefile_reader_t *self = calloc(1, sizeof *self);
    if (self) {
        self->buf_size = TAPEINDEX_RECORD_SIZE;
        self->buf = malloc(self->buf_size);
        self->hash = XXH3_createState();
    }
    if (!self || !self->buf || !self->hash) {
        tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        tapefile_reader_destroy(&self);
        return NULL;
    }
    XXH3_128bits_reset(self->hash);
    self->drive = drive;
    self->file = file;
    int rc = tf_drive_locate_file(drive, file, 0, err);
    size_t len = 0;
    if (rc == TF_OK)
        rc = tf_drive_read_block(drive, self->buf, self->buf_size, &len, err);
    if (rc == TF_OK && len > 0)
        self->blocks++;
    if (rc == TF_OK && len == 0)
        rc = tf_err_set(err, TF_ERR_NOTFOUND, "tape file %" PRIu64 " %s", file,
                        tf_drive_last_cond(drive) == TF_DRIVE_COND_FILEMARK
                            ? "is empty (a filemark right after the previous one)"
                            : "does not exist (end of data)");
    else if (rc == TF_ERR_NOTFOUND && tf_drive_last_cond(drive) == TF_DRIVE_COND_END_OF_DATA)
        rc = tf_err_set(err, TF_ERR_NOTFOUND, "tape file %" PRIu64 " does not exist (end of data)", file);
    if (rc == TF_ERR_TOOBIG || (rc == TF_OK && s_parse_header(self->buf, len, &self->hdr) != TF_OK)) {
        rc = tf_err_set(err, TF_ERR_INVALID, "tape file %" PRIu64 " is not a tapeflow archive (no %s header)",
                        file, TAPEFILE_HEADER_MAGIC);
    }
    if (rc == TF_OK)
        self->want = self->hdr.size;
    if (rc == TF_OK && self->hdr.block_size > self->buf_size) {
        uint8_t *bigger = realloc(self->buf, self->hdr.block_size);
        if (!bigger)
            rc = tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        else {
            self->buf = bigger;
            self->buf_size = self->hdr.block_size;
        }
    }
    if (rc != TF_OK) {
        tapefile_reader_destroy(&self);
        return NULL;
    }
    return self;
}

void
tapefile_reader_destroy(tapefile_reader_t **self_p)
{
    if (self_p && *self_p) {
        tapefile_reader_t *self = *self_p;
        free(self->buf);
        if (self->hash)
            XXH3_freeState(self->hash);
        free(self);
        *self_p = NULL;
    }
}

const tapefile_header_t *
tapefile_reader_header(tapefile_reader_t *self)
{
    return &self->hdr;
}

uint64_t
tapefile_reader_blocks(tapefile_reader_t *self)
{
    return self->blocks;
}

int
tapefile_reader_set_segment(tapefile_reader_t *self, uint64_t offset, uint64_t length, tf_err_t *err)
{
    if (self->size != 0 || self->have_trailer)
        return tf_err_set(err, TF_ERR_STATE, "archive %s: set_segment must follow the header", self->hdr.archive_id);
    if (self->hdr.offset != offset || offset > self->hdr.size || length > self->hdr.size - offset)
        return tf_err_set(err, TF_ERR_INVALID,
                          "tape file %" PRIu64 " holds archive %s from byte %" PRIu64 ", the catalog "
                          "says from byte %" PRIu64 " (%" PRIu64 " bytes): the catalog and the tape "
                          "disagree", self->file, self->hdr.archive_id, self->hdr.offset, offset, length);
    self->segment = true;
    self->want = length;
    return TF_OK;
}

int
tapefile_reader_read(tapefile_reader_t *self, const void **data, size_t *len, tf_err_t *err)
{
    *data = NULL;
    *len = 0;
    uint64_t left = self->want - self->size;
    if (left == 0)
        return TF_OK;
    size_t got = 0;
    int rc = tf_drive_read_block(self->drive, self->buf, self->hdr.block_size, &got, err);
    if (rc == TF_ERR_TOOBIG)
        return tf_err_set(err, TF_ERR_INVALID,
                          "archive %s (tape file %" PRIu64 "): a data block is larger than the "
                          "header's block size %u", self->hdr.archive_id, self->file, self->hdr.block_size);
    if (rc != TF_OK)
        return tf_err_prefix(err, "archive %s (tape file %" PRIu64 ", data block %" PRIu64 "): ",
                             self->hdr.archive_id, self->file, self->data_blocks + 1);
    if (got == 0)
        return tf_err_set(err, TF_ERR_IO,
                          "archive %s (tape file %" PRIu64 ") ends after %" PRIu64 " of %" PRIu64
                          " bytes: the tape file is incomplete",
                          self->hdr.archive_id, self->file, self->size, self->want);
    self->blocks++;
    self->data_blocks++;
    if (got > left)
        return tf_err_set(err, TF_ERR_IO,
                          "archive %s (tape file %" PRIu64 "): data runs past the %" PRIu64
                          " bytes the header announces", self->hdr.archive_id, self->file, self->want);
    XXH3_128bits_update(self->hash, self->buf, got);
    self->size += got;
    *data = self->buf;
    *len = got;
    return TF_OK;
}

/* Parses the trailer record in buf (got bytes, rc of its read). */
static int
s_parse_trailer(tapefile_reader_t *self, int rc, size_t got, tf_err_t *err)
{
    tapefile_trailer_t *t = &self->trailer;
    memset(t, 0, sizeof *t);
    if (rc != TF_OK || !tf_kvrec_is(self->buf, got, TAPEFILE_TRAILER_MAGIC)
        || tf_kvrec_get_u64(self->buf, got, "size", &t->size) != TF_OK
        || tf_kvrec_get_u64(self->buf, got, "data_blocks", &t->data_blocks) != TF_OK
        || tf_kvrec_get(self->buf, got, "checksum", t->checksum, sizeof t->checksum) != TF_OK)
        return tf_err_set(err, TF_ERR_IO,
                          "archive %s (tape file %" PRIu64 "): no trailer after the data: the "
                          "tape file is incomplete", self->hdr.archive_id, self->file);
    tf_kvrec_get(self->buf, got, "archive", t->archive_id, sizeof t->archive_id);
    /* Older tape files have no index keys: no index records follow. */
    if (tf_kvrec_get_u64(self->buf, got, "index_records", &t->index_records) != TF_OK)
        t->index_records = 0;
    t->has_index = tf_kvrec_get_u64(self->buf, got, "index_rows", &t->index_rows) == TF_OK;
    uint64_t continued = 0;
    t->continued = tf_kvrec_get_u64(self->buf, got, "continued", &continued) == TF_OK && continued;
    tf_kvrec_get_u64(self->buf, got, "offset", &t->offset);
    self->have_trailer = true;
    return TF_OK;
}

/* Reads the trailer record (the reader stands after the data). */
static int
s_read_trailer(tapefile_reader_t *self, tf_err_t *err)
{
    size_t got = 0;
    int rc = tf_drive_read_block(self->drive, self->buf, self->buf_size, &got, err);
    if (rc != TF_OK && rc != TF_ERR_TOOBIG)
        return tf_err_prefix(err, "archive %s (tape file %" PRIu64 ", trailer): ", self->hdr.archive_id, self->file);
    if (rc == TF_OK && got > 0)
        self->blocks++;
    return s_parse_trailer(self, rc, got, err);
}

/* Whether buf holds this archive's trailer record. */
static bool
s_is_own_trailer(tapefile_reader_t *self, size_t got)
{
    char id[sizeof self->hdr.archive_id];
    return tf_kvrec_is(self->buf, got, TAPEFILE_TRAILER_MAGIC)
           && tf_kvrec_get(self->buf, got, "archive", id, sizeof id) == TF_OK
           && strcmp(id, self->hdr.archive_id) == 0;
}

int
tapefile_reader_scan_segment(tapefile_reader_t *self, bool allow_cut, tapefile_stats_t *stats, tf_err_t *err)
{
    if (self->size != 0 || self->have_trailer)
        return tf_err_set(err, TF_ERR_STATE, "archive %s: scan_segment must follow the header", self->hdr.archive_id);
    if (self->hdr.offset > self->hdr.size)
        return tf_err_set(err, TF_ERR_INVALID, "archive %s (tape file %" PRIu64 "): the header puts the "
                          "segment at byte %" PRIu64 " of %" PRIu64, self->hdr.archive_id, self->file,
                          self->hdr.offset, self->hdr.size);
    uint64_t left = self->hdr.size - self->hdr.offset;
    memset(stats, 0, sizeof *stats);
    for (;;) {
        size_t got = 0;
        tf_err_t rerr = {0};
        int rc = tf_drive_read_block(self->drive, self->buf, self->buf_size, &got, &rerr);
        bool end = (rc == TF_OK && got == 0)
                   || (rc == TF_ERR_NOTFOUND && tf_drive_last_cond(self->drive) == TF_DRIVE_COND_END_OF_DATA);
        if (end) {
            if (!allow_cut)
                return tf_err_set(err, TF_ERR_IO, "archive %s (tape file %" PRIu64 ", segment %" PRIu64
                                  "): no trailer after %" PRIu64 " bytes of data: the tape file is incomplete",
                                  self->hdr.archive_id, self->file, self->hdr.segment, self->size);
            break;  /* cut at the end of the medium: the data ends at the filemark */
        }
        if (rc == TF_ERR_TOOBIG)
            return tf_err_set(err, TF_ERR_INVALID, "archive %s (tape file %" PRIu64 "): a data block is larger "
                              "than the header's block size %u", self->hdr.archive_id, self->file,
                              self->hdr.block_size);
        if (rc != TF_OK) {
            if (err)
                *err = rerr;
            return tf_err_prefix(err, "archive %s (tape file %" PRIu64 ", data block %" PRIu64 "): ",
                                 self->hdr.archive_id, self->file, self->data_blocks + 1);
        }
        self->blocks++;
        if (s_is_own_trailer(self, got)) {
            rc = s_parse_trailer(self, TF_OK, got, err);
            if (rc != TF_OK)
                return rc;
            break;
        }
        if (got > self->hdr.block_size || got > left - self->size)
            return tf_err_set(err, TF_ERR_IO, "archive %s (tape file %" PRIu64 "): data runs past the %" PRIu64
                              " bytes the header leaves from byte %" PRIu64, self->hdr.archive_id, self->file,
                              left, self->hdr.offset);
        XXH3_128bits_update(self->hash, self->buf, got);
        self->size += got;
        self->data_blocks++;
    }
    char sum[TAPEFILE_CHECKSUM_LEN];
    s_digest(self->hash, sum);
    const tapefile_trailer_t *t = &self->trailer;
    if (self->have_trailer
        && (t->size != self->size || t->data_blocks != self->data_blocks || strcmp(sum, t->checksum) != 0
            || t->offset != self->hdr.offset))
        return tf_err_set(err, TF_ERR_IO,
                          "archive %s (tape file %" PRIu64 "): the trailer says %" PRIu64 " bytes from byte %"
                          PRIu64 " in %" PRIu64 " blocks (%s), read %" PRIu64 " bytes from byte %" PRIu64
                          " in %" PRIu64 " blocks (%s)", self->hdr.archive_id, self->file, t->size, t->offset,
                          t->data_blocks, t->checksum, self->size, self->hdr.offset, self->data_blocks, sum);
    bool whole = self->hdr.offset == 0 && self->size == self->hdr.size;
    if (whole && strcmp(sum, self->hdr.checksum) != 0)
        return tf_err_set(err, TF_ERR_IO, "archive %s (tape file %" PRIu64 "): the data read back has checksum %s, "
                          "the archive has %s", self->hdr.archive_id, self->file, sum, self->hdr.checksum);
    stats->size = self->size;
    stats->data_blocks = self->data_blocks;
    stats->blocks = self->blocks;
    memcpy(stats->checksum, sum, sizeof sum);
    stats->index_records = self->have_trailer ? t->index_records : 0;
    return TF_OK;
}

int
tapefile_reader_finish(tapefile_reader_t *self, tapefile_stats_t *stats, tf_err_t *err)
{
    for (;;) {
        const void *data;
        size_t len;
        int rc = tapefile_reader_read(self, &data, &len, err);
        if (rc != TF_OK)
            return rc;
        if (len == 0)
            break;
    }
    if (self->segment) {
        /* A segment cut off at the end of the medium has no trailer: its data ends at the
           filemark (or end of data). */
        size_t got = 0;
        tf_err_t perr = {0};
        int prc = tf_drive_read_block(self->drive, self->buf, self->buf_size, &got, &perr);
        if ((prc == TF_OK && got == 0) || (prc == TF_ERR_NOTFOUND
                                           && tf_drive_last_cond(self->drive) == TF_DRIVE_COND_END_OF_DATA)) {
            if (stats) {
                memset(stats, 0, sizeof *stats);
                stats->size = self->size;
                stats->data_blocks = self->data_blocks;
                stats->blocks = self->blocks;
            }
            return TF_OK;
        }
        if (prc == TF_OK || prc == TF_ERR_TOOBIG) {
            /* Step back so the trailer is read as usual. */
            int src = tf_drive_space(self->drive, TF_DRIVE_SPACE_BLOCKS, -1, err);
            if (src != TF_OK)
                return tf_err_prefix(err, "archive %s (tape file %" PRIu64 "): ", self->hdr.archive_id, self->file);
        }
        else {
            if (err)
                *err = perr;
            return tf_err_prefix(err, "archive %s (tape file %" PRIu64 ", trailer): ", self->hdr.archive_id, self->file);
        }
    }
    int rc = s_read_trailer(self, err);
    if (rc != TF_OK)
        return rc;
    uint64_t t_size = self->trailer.size, t_blocks = self->trailer.data_blocks;
    const char *t_sum = self->trailer.checksum;
    char sum[TAPEFILE_CHECKSUM_LEN];
    s_digest(self->hash, sum);
    if (t_size != self->size || t_blocks != self->data_blocks)
        return tf_err_set(err, TF_ERR_IO,
                          "archive %s (tape file %" PRIu64 "): trailer says %" PRIu64 " bytes in %"
                          PRIu64 " blocks, read %" PRIu64 " bytes in %" PRIu64 " blocks",
                          self->hdr.archive_id, self->file, t_size, t_blocks, self->size, self->data_blocks);
    bool whole = !self->segment || (self->hdr.offset == 0 && self->want == self->hdr.size);
    if (strcmp(sum, t_sum) != 0 || (whole && strcmp(sum, self->hdr.checksum) != 0))
        return tf_err_set(err, TF_ERR_IO,
                          "archive %s (tape file %" PRIu64 "): the data read back has checksum %s, "
                          "the archive has %s: the tape returned different bytes",
                          self->hdr.archive_id, self->file, sum, whole ? self->hdr.checksum : t_sum);
    if (stats) {
        memset(stats, 0, sizeof *stats);
        stats->size = self->size;
        stats->data_blocks = self->data_blocks;
        stats->blocks = self->blocks;
        memcpy(stats->checksum, sum, sizeof sum);
        stats->index_records = self->trailer.index_records;
    }
    return TF_OK;
}

int
tapefile_reader_skip_data(tapefile_reader_t *self, tf_err_t *err)
{
    if (self->size != 0 || self->have_trailer)
        return tf_err_set(err, TF_ERR_STATE, "archive %s: skip_data must follow the header", self->hdr.archive_id);
    uint64_t n = self->hdr.data_blocks;
    if (n > 0) {
        tf_err_t serr = {0};
        int rc = n <= INT64_MAX ? tf_drive_space(self->drive, TF_DRIVE_SPACE_BLOCKS, (int64_t) n, &serr)
                                : TF_ERR_INVALID;
        if (rc == TF_ERR_NOTFOUND) {
            tf_drive_cond_t cond = tf_drive_last_cond(self->drive);
            return tf_err_set(err, TF_ERR_IO, "archive %s (tape file %" PRIu64 ") ends %s within its %" PRIu64
                              " data blocks: the tape file is incomplete", self->hdr.archive_id, self->file,
                              cond == TF_DRIVE_COND_FILEMARK ? "(filemark)" : "(end of data)", n);
        }
        if (rc == TF_ERR_UNSUPPORTED) {
            /* No SPACE: read the data instead (checked against the trailer as usual). */
            tf_log_info("drive cannot space over blocks (%s): reading archive %s instead", serr.message,
                        self->hdr.archive_id);
            tapefile_stats_t ignored;
            return tapefile_reader_finish(self, &ignored, err);
        }
        if (rc != TF_OK) {
            if (err)
                *err = serr;
            return tf_err_prefix(err, "archive %s (tape file %" PRIu64 "): cannot space over the data: ",
                                 self->hdr.archive_id, self->file);
        }
        self->data_blocks = n;
    }
    int rc = s_read_trailer(self, err);
    if (rc != TF_OK)
        return rc;
    const tapefile_trailer_t *t = &self->trailer;
    if (t->size != self->hdr.size || t->data_blocks != n || strcmp(t->checksum, self->hdr.checksum) != 0)
        return tf_err_set(err, TF_ERR_IO,
                          "archive %s (tape file %" PRIu64 "): the trailer (%" PRIu64 " bytes, %" PRIu64
                          " blocks, %s) does not match the header (%" PRIu64 " bytes, %" PRIu64 " blocks, %s)",
                          self->hdr.archive_id, self->file, t->size, t->data_blocks, t->checksum,
                          self->hdr.size, n, self->hdr.checksum);
    return TF_OK;
}

const tapefile_trailer_t *
tapefile_reader_trailer(tapefile_reader_t *self)
{
    return self->have_trailer ? &self->trailer : NULL;
}

int
tapefile_reader_index_next(tapefile_reader_t *self, tf_msg_t *msg, tf_err_t *err)
{
    memset(msg, 0, sizeof *msg);
    if (!self->have_trailer)
        return tf_err_set(err, TF_ERR_STATE, "archive %s: the index follows the trailer: read that first",
                          self->hdr.archive_id);
    if (self->index_read >= self->trailer.index_records)
        return TF_OK;
    uint64_t part = ++self->index_read;
    size_t got = 0;
    int rc = tf_drive_read_block(self->drive, self->buf, self->buf_size, &got, err);
    if (rc == TF_ERR_TOOBIG)
        return tf_err_set(err, TF_ERR_INVALID, "archive %s (tape file %" PRIu64 "): index record %" PRIu64
                          " is larger than %u bytes", self->hdr.archive_id, self->file, part, TAPEINDEX_RECORD_SIZE);
    if (rc != TF_OK)
        return tf_err_prefix(err, "archive %s (tape file %" PRIu64 ", index record %" PRIu64 "): ",
                             self->hdr.archive_id, self->file, part);
    if (got == 0) {
        self->index_read = self->trailer.index_records;  /* at the filemark: nothing more to read */
        return tf_err_set(err, TF_ERR_IO, "archive %s (tape file %" PRIu64 "): the trailer announces %" PRIu64
                          " index records, the tape file ends after %" PRIu64, self->hdr.archive_id,
                          self->file, self->trailer.index_records, part - 1);
    }
    self->blocks++;
    rc = tapeindex_parse(self->buf, got, self->hdr.archive_id, part, msg, err);
    if (rc != TF_OK)
        return tf_err_prefix(err, "tape file %" PRIu64 ": ", self->file);
    return TF_OK;
}

int
tapefile_verify_segment(tf_drive_t *drive, uint64_t file, const char *archive_id,
                        uint64_t offset, uint64_t length, tapefile_stats_t *stats, tf_err_t *err)
{
    tapefile_reader_t *reader = tapefile_reader_open(drive, file, err);
    if (!reader)
        return err ? err->code : TF_ERR_IO;
    int rc = TF_OK;
    if (strcmp(tapefile_reader_header(reader)->archive_id, archive_id) != 0)
        rc = tf_err_set(err, TF_ERR_IO, "tape file %" PRIu64 " holds archive %s, not %s", file,
                        tapefile_reader_header(reader)->archive_id, archive_id);
    if (rc == TF_OK)
        rc = tapefile_reader_set_segment(reader, offset, length, err);
    if (rc == TF_OK)
        rc = tapefile_reader_finish(reader, stats, err);
    while (rc == TF_OK && reader->have_trailer) {
        tf_msg_t msg;
        rc = tapefile_reader_index_next(reader, &msg, err);
        bool more = msg.type != TF_MSG_NONE;
        tf_msg_clear(&msg);
        if (!more)
            break;
    }
    tapefile_reader_destroy(&reader);
    return rc;
}

int
tapefile_verify(tf_drive_t *drive, uint64_t file, const char *archive_id, uint64_t size,
                const char *checksum, tapefile_stats_t *stats, tf_err_t *err)
{
    tapefile_reader_t *reader = tapefile_reader_open(drive, file, err);
    if (!reader)
        return err ? err->code : TF_ERR_IO;
    const tapefile_header_t *h = tapefile_reader_header(reader);
    int rc = TF_OK;
    if (strcmp(h->archive_id, archive_id) != 0)
        rc = tf_err_set(err, TF_ERR_IO, "tape file %" PRIu64 " holds archive %s, not %s", file,
                        h->archive_id, archive_id);
    else if (h->size != size || (checksum && strcmp(h->checksum, checksum) != 0))
        rc = tf_err_set(err, TF_ERR_IO, "tape file %" PRIu64 ": header says %" PRIu64 " bytes %s, "
                        "expected %" PRIu64 " bytes %s", file, h->size, h->checksum, size,
                        checksum ? checksum : "");
    if (rc == TF_OK)
        rc = tapefile_reader_finish(reader, stats, err);
    /* The index records too: a damaged one would send a later rebuild to the slow path. */
    while (rc == TF_OK) {
        tf_msg_t msg;
        rc = tapefile_reader_index_next(reader, &msg, err);
        bool more = msg.type != TF_MSG_NONE;
        tf_msg_clear(&msg);
        if (!more)
            break;
    }
    tapefile_reader_destroy(&reader);
    return rc;
}
