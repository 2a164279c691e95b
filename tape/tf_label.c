/*  tf_label - volume labels: write, read and classify, check (see tf_label.h). */
#define _GNU_SOURCE
#include "tf_label.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tf_clock.h"
#include "tf_kvrec.h"

#ifndef TAPEFLOW_VERSION
#define TAPEFLOW_VERSION "unknown"
#endif

/* Big enough for any label block; a larger first block is somebody else's data. */
#define S_READ_BUF (64 * 1024)
#define S_ANSI 80

const char *
tf_label_kind_name(tf_label_kind_t kind)
{
    switch (kind) {
    case TF_LABEL_BLANK: return "blank";
    case TF_LABEL_TAPEFLOW: return "tapeflow";
    case TF_LABEL_ANSI: return "ansi";
    case TF_LABEL_LTFS: return "ltfs";
    case TF_LABEL_FOREIGN: return "foreign";
    }
    return "?";
}

bool
tf_label_name_valid(const char *name, size_t max)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len > max)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) name[i];
        if (!isalnum(c) && c != '.' && c != '_' && c != '-')
            return false;
    }
    return true;
}

int
tf_label_init(tf_label_t *label, const char *name, const char *pool, const char *media_type,
              tf_err_t *err)
{
    memset(label, 0, sizeof *label);
    if (!tf_label_name_valid(name, sizeof label->label - 1))
        return tf_err_set(err, TF_ERR_INVALID,
                          "volume label '%s' is not valid: use 1 to %zu letters, digits, '.', '_' or '-'",
                          name ? name : "", sizeof label->label - 1);
    if (!tf_label_name_valid(pool, sizeof label->pool - 1))
        return tf_err_set(err, TF_ERR_INVALID,
                          "pool name '%s' is not valid: use 1 to %zu letters, digits, '.', '_' or '-'",
                          pool ? pool : "", sizeof label->pool - 1);
    snprintf(label->label, sizeof label->label, "%s", name);
    snprintf(label->pool, sizeof label->pool, "%s", pool);
    snprintf(label->media_type, sizeof label->media_type, "%s", media_type ? media_type : "");
    char now[40];
    tf_clock_format(tf_clock_wall_ms(), now, sizeof now);
    /* Whole seconds are enough: 2026-11-21T10:50:11Z */
    char *dot = strchr(now, '.');
    if (dot)
        snprintf(dot, sizeof now - (size_t) (dot - now), "Z");
    snprintf(label->created, sizeof label->created, "%.31s", now);
    label->sequence = 1;
    snprintf(label->software, sizeof label->software, "tapeflow %s", TAPEFLOW_VERSION);
    return TF_OK;
}

/* Copies text into a space-padded field of width bytes (uppercased: ANSI "a-characters"). */
static void
s_field(char *out, size_t width, const char *text, bool upper)
{
    memset(out, ' ', width);
    size_t len = text ? strlen(text) : 0;
    if (len > width)
        len = width;
    for (size_t i = 0; i < len; i++)
        out[i] = upper ? (char) toupper((unsigned char) text[i]) : text[i];
}

void
tf_label_format_vol1(char out[80], const char *volser, char accessibility,
                     const char *implementation, const char *owner)
{
    memset(out, ' ', S_ANSI);
    memcpy(out, "VOL1", 4);
    s_field(out + 4, 6, volser, true);          /* 5-10 volume identifier */
    out[10] = accessibility;                    /* 11 accessibility */
    s_field(out + 24, 13, implementation, false); /* 25-37 implementation identifier */
    s_field(out + 37, 14, owner, false);        /* 38-51 owner identifier */
    out[79] = '4';                              /* 80 label standard version */
}

/* " yyddd" / "0yyddd": ANSI date (century flag, year in century, day of year). */
static void
s_ansi_date(char out[6], const char *iso)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int y = 0, mo = 0, d = 0;
    if (!iso || sscanf(iso, "%d-%d-%d", &y, &mo, &d) != 3) {
        memcpy(out, " 00000", 6);
        return;
    }
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = 12;
    time_t t = timegm(&tm);
    struct tm norm;
    gmtime_r(&t, &norm);
    char text[32];
    snprintf(text, sizeof text, "%c%02d%03d", y >= 2000 ? (char) ('0' + ((y - 2000) / 100) % 10) : ' ',
             (y % 100 + 100) % 100, (norm.tm_yday + 1) % 1000);
    memcpy(out, text, 6);
}

static void
s_format_hdr1(char out[80], const tf_label_t *label)
{
    memset(out, ' ', S_ANSI);
    memcpy(out, "HDR1", 4);
    s_field(out + 4, 17, "TAPEFLOW.LABEL", false);  /* 5-21 file identifier */
    s_field(out + 21, 6, label->label, true);       /* 22-27 file set identifier */
    memcpy(out + 27, "0001", 4);                    /* 28-31 file section number */
    memcpy(out + 31, "0001", 4);                    /* 32-35 file sequence number */
    memcpy(out + 35, "0001", 4);                    /* 36-39 generation number */
    memcpy(out + 39, "00", 2);                      /* 40-41 generation version */
    s_ansi_date(out + 41, label->created);          /* 42-47 creation date */
    if (label->expires[0])
        s_ansi_date(out + 47, label->expires);      /* 48-53 expiration date */
    else
        memcpy(out + 47, " 00000", 6);
    out[53] = ' ';                                  /* 54 accessibility */
    memcpy(out + 54, "000000", 6);                  /* 55-60 block count */
    s_field(out + 60, 13, TF_LABEL_IMPLEMENTATION, false); /* 61-73 implementation id */
}

static void
s_format_hdr2(char out[80])
{
    memset(out, ' ', S_ANSI);
    memcpy(out, "HDR2", 4);
    out[4] = 'F';                   /* 5 record format: fixed (the metadata record) */
    char num[8];
    snprintf(num, sizeof num, "%05d", TF_KVREC_SIZE);
    memcpy(out + 5, num, 5);        /* 6-10 block length */
    memcpy(out + 10, num, 5);       /* 11-15 record length */
    memcpy(out + 50, "00", 2);      /* 51-52 buffer offset length */
}

static int
s_format_meta(tf_kvrec_t *rec, const tf_label_t *label, tf_err_t *err)
{
    int rc = tf_kvrec_put(rec, "label", label->label, err);
    if (rc == TF_OK) rc = tf_kvrec_put(rec, "pool", label->pool, err);
    if (rc == TF_OK) rc = tf_kvrec_put(rec, "media_type", label->media_type, err);
    if (rc == TF_OK) rc = tf_kvrec_put(rec, "created", label->created, err);
    if (rc == TF_OK) rc = tf_kvrec_put(rec, "expires", label->expires, err);
    if (rc == TF_OK) rc = tf_kvrec_put_u64(rec, "volume_sequence", label->sequence, err);
    if (rc == TF_OK) rc = tf_kvrec_put(rec, "set_id", label->set_id, err);
    if (rc == TF_OK) rc = tf_kvrec_put(rec, "previous_volume", label->previous, err);
    if (rc == TF_OK) rc = tf_kvrec_put(rec, "software", label->software, err);
    return rc;
}

int
tf_label_write(tf_drive_t *drive, const tf_label_t *label, tf_err_t *err)
{
    if (!tf_label_name_valid(label->label, sizeof label->label - 1)
        || !tf_label_name_valid(label->pool, sizeof label->pool - 1))
        return tf_err_set(err, TF_ERR_INVALID, "label '%s' / pool '%s' not valid", label->label, label->pool);
    tf_kvrec_t *rec = tf_kvrec_new(TF_LABEL_MAGIC);
    if (!rec)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    int rc = s_format_meta(rec, label, err);
    if (rc != TF_OK) {
        tf_kvrec_destroy(&rec);
        return rc;
    }
    char vol1[S_ANSI], hdr1[S_ANSI], hdr2[S_ANSI];
    tf_label_format_vol1(vol1, label->label, ' ', TF_LABEL_IMPLEMENTATION, TF_LABEL_IMPLEMENTATION);
    s_format_hdr1(hdr1, label);
    s_format_hdr2(hdr2);
    rc = tf_drive_rewind(drive, err);
    if (rc == TF_OK) rc = tf_drive_write_block(drive, vol1, S_ANSI, err);
    if (rc == TF_OK) rc = tf_drive_write_block(drive, hdr1, S_ANSI, err);
    if (rc == TF_OK) rc = tf_drive_write_block(drive, hdr2, S_ANSI, err);
    if (rc == TF_OK) rc = tf_drive_write_block(drive, tf_kvrec_data(rec), TF_KVREC_SIZE, err);
    if (rc == TF_OK) rc = tf_drive_write_filemarks(drive, 1, false, err);
    tf_kvrec_destroy(&rec);
    if (rc != TF_OK)
        return tf_err_prefix(err, "cannot write the volume label: ");
    return TF_OK;
}

/* Trimmed copy of a space-padded field. */
static void
s_trim(char *out, size_t size, const char *field, size_t width)
{
    size_t len = width < size - 1 ? width : size - 1;
    memcpy(out, field, len);
    out[len] = '\0';
    while (len > 0 && (out[len - 1] == ' ' || out[len - 1] == '\0'))
        out[--len] = '\0';
    for (size_t i = 0; i < len; i++)
        if (!isprint((unsigned char) out[i]))
            out[i] = '?';
}

static int
s_read(tf_drive_t *drive, uint8_t *buf, size_t *len, tf_label_info_t *info, tf_err_t *err)
{
    int rc = tf_drive_read_block(drive, buf, S_READ_BUF, len, err);
    if (rc == TF_OK && *len > 0)
        info->blocks_read++;
    return rc;
}

static void
s_parse_meta(const uint8_t *buf, size_t len, tf_label_t *label)
{
    tf_kvrec_get(buf, len, "label", label->label, sizeof label->label);
    tf_kvrec_get(buf, len, "pool", label->pool, sizeof label->pool);
    tf_kvrec_get(buf, len, "media_type", label->media_type, sizeof label->media_type);
    tf_kvrec_get(buf, len, "created", label->created, sizeof label->created);
    tf_kvrec_get(buf, len, "expires", label->expires, sizeof label->expires);
    if (tf_kvrec_get_u64(buf, len, "volume_sequence", &label->sequence) != TF_OK)
        label->sequence = 1;
    tf_kvrec_get(buf, len, "set_id", label->set_id, sizeof label->set_id);
    tf_kvrec_get(buf, len, "previous_volume", label->previous, sizeof label->previous);
    tf_kvrec_get(buf, len, "software", label->software, sizeof label->software);
}

/* After a tapeflow VOL1: HDR1, HDR2 and the metadata record. */
static int
s_read_ours(tf_drive_t *drive, uint8_t *buf, tf_label_info_t *info, const char *volser, tf_err_t *err)
{
    size_t len = 0;
    for (int i = 0; i < 3; i++) {
        int rc = s_read(drive, buf, &len, info, err);
        if (rc != TF_OK && tf_drive_last_cond(drive) == TF_DRIVE_COND_MEDIUM_ERROR)
            return rc;
        if (rc != TF_OK || len == 0)
            break;
        if (i == 2 && tf_kvrec_is(buf, len, TF_LABEL_MAGIC)) {
            s_parse_meta(buf, len, &info->label);
            if (tf_label_name_valid(info->label.label, sizeof info->label.label - 1)
                && tf_label_name_valid(info->label.pool, sizeof info->label.pool - 1)) {
                info->kind = TF_LABEL_TAPEFLOW;
                snprintf(info->found, sizeof info->found, "tapeflow volume %s (pool %s)",
                         info->label.label, info->label.pool);
                return TF_OK;
            }
        }
    }
    memset(&info->label, 0, sizeof info->label);
    info->kind = TF_LABEL_ANSI;
    snprintf(info->found, sizeof info->found,
             "a damaged tapeflow label (VOL1 '%s' without a readable metadata record)", volser);
    return TF_OK;
}

static void
s_describe_data(const uint8_t *buf, size_t len, tf_label_info_t *info)
{
    info->kind = TF_LABEL_FOREIGN;
    if (len >= 512 && memcmp(buf + 257, "ustar", 5) == 0)
        snprintf(info->found, sizeof info->found, "a tar archive without a label");
    else if (len >= 5 && memcmp(buf, "<?xml", 5) == 0
             && memmem(buf, len, "ltfslabel", 9) != NULL) {
        info->kind = TF_LABEL_LTFS;
        snprintf(info->found, sizeof info->found, "an LTFS volume (XML label without VOL1)");
    } else if (tf_kvrec_is(buf, len, "TAPEFLOW-ARCHIVE 1"))
        snprintf(info->found, sizeof info->found, "tapeflow archives without a volume label");
    else
        snprintf(info->found, sizeof info->found, "data without a label (first block %zu bytes)", len);
}

int
tf_label_read(tf_drive_t *drive, tf_label_info_t *info, tf_err_t *err)
{
    memset(info, 0, sizeof *info);
    int rc = tf_drive_rewind(drive, err);
    if (rc != TF_OK)
        return tf_err_prefix(err, "cannot read the volume label: ");
    uint8_t *buf = malloc(S_READ_BUF);
    if (!buf)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    size_t len = 0;
    tf_err_t rerr = {0};
    rc = s_read(drive, buf, &len, info, &rerr);
    tf_drive_cond_t cond = tf_drive_last_cond(drive);
    if (rc == TF_ERR_TOOBIG || (rc != TF_OK && cond == TF_DRIVE_COND_BLOCK_LENGTH)) {
        info->kind = TF_LABEL_FOREIGN;
        info->blocks_read = 1;
        snprintf(info->found, sizeof info->found, "data without a label (first block over %d KiB)",
                 S_READ_BUF / 1024);
        rc = TF_OK;
    } else if (rc != TF_OK && (cond == TF_DRIVE_COND_END_OF_DATA)) {
        info->kind = TF_LABEL_BLANK;
        snprintf(info->found, sizeof info->found, "a blank tape");
        rc = TF_OK;
    } else if (rc != TF_OK) {
        if (err)
            *err = rerr;
        tf_err_prefix(err, "cannot read the volume label: ");
    } else if (len == 0) {
        if (cond == TF_DRIVE_COND_FILEMARK) {
            info->kind = TF_LABEL_FOREIGN;
            snprintf(info->found, sizeof info->found, "an empty first tape file (a filemark at the beginning)");
        } else {
            info->kind = TF_LABEL_BLANK;
            snprintf(info->found, sizeof info->found, "a blank tape");
        }
    } else if (len == S_ANSI && memcmp(buf, "VOL1", 4) == 0) {
        char volser[8], impl[16], owner[16];
        s_trim(volser, sizeof volser, (const char *) buf + 4, 6);
        s_trim(impl, sizeof impl, (const char *) buf + 24, 13);
        s_trim(owner, sizeof owner, (const char *) buf + 37, 14);
        if (buf[10] == 'L' || strncmp(impl, "LTFS", 4) == 0) {
            info->kind = TF_LABEL_LTFS;
            snprintf(info->found, sizeof info->found, "an LTFS volume '%s'", volser);
        } else if (strcmp(impl, TF_LABEL_IMPLEMENTATION) == 0) {
            rc = s_read_ours(drive, buf, info, volser, err);
        } else {
            info->kind = TF_LABEL_ANSI;
            const char *who = impl[0] ? impl : owner[0] ? owner : "an unknown program";
            snprintf(info->found, sizeof info->found, "an ANSI label '%s' written by %s", volser, who);
        }
    } else {
        s_describe_data(buf, len, info);
    }
    free(buf);
    return rc;
}

int
tf_label_check(const tf_label_info_t *info, const char *drive_name, const char *pool, tf_err_t *err)
{
    const char *want = pool ? pool : "POOL";
    switch (info->kind) {
    case TF_LABEL_BLANK:
        return tf_err_set(err, TF_ERR_INVALID,
                          "tape in drive %s has no label: label it with 'tapeflow tape label %s "
                          "--label NAME --pool %s'",
                          drive_name, drive_name, want);
    case TF_LABEL_ANSI:
    case TF_LABEL_LTFS:
    case TF_LABEL_FOREIGN:
        return tf_err_set(err, TF_ERR_INVALID,
                          "tape in drive %s is not a tapeflow tape: it holds %s; mount a tape of "
                          "pool %s, or relabel this one with 'tapeflow tape label %s --label NAME "
                          "--pool %s --force' (its contents will be lost)",
                          drive_name, info->found, want, drive_name, want);
    case TF_LABEL_TAPEFLOW:
        if (pool && strcmp(info->label.pool, pool) != 0)
            return tf_err_set(err, TF_ERR_INVALID,
                              "tape %s in drive %s belongs to pool %s; this job writes to pool %s: "
                              "mount a tape of pool %s",
                              info->label.label, drive_name, info->label.pool, pool, pool);
        return TF_OK;
    }
    return tf_err_set(err, TF_ERR_INVALID, "tape in drive %s: unknown label kind", drive_name);
}
