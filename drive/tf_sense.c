/*  tf_sense - decode and build SCSI sense data. */
#include "tf_sense.h"

#include <stdio.h>
#include <string.h>

static int64_t
s_be32_signed(const uint8_t *p)
{
    uint32_t v = ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) | ((uint32_t) p[2] << 8) | p[3];
    return (int64_t) (int32_t) v;
}

static int64_t
s_be64_signed(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return (int64_t) v;
}

static int
s_decode_fixed(const uint8_t *buf, size_t len, tf_sense_t *out, tf_err_t *err)
{
    if (len < 3)
        return tf_err_set(err, TF_ERR_PROTO,
                          "fixed-format sense data truncated at %zu bytes (need at least 3)", len);
    out->filemark = (buf[2] & 0x80) != 0;
    out->eom = (buf[2] & 0x40) != 0;
    out->ili = (buf[2] & 0x20) != 0;
    out->key = buf[2] & 0x0F;
    if (len >= 7 && (buf[0] & 0x80)) {
        out->info_valid = true;
        out->info = s_be32_signed(buf + 3);
    }
    /* Byte 7 says how much follows; honour the smaller of it and what we were given. */
    size_t avail = len;
    if (len >= 8) {
        size_t claimed = 8 + (size_t) buf[7];
        if (claimed < avail)
            avail = claimed;
    }
    if (avail >= 14) {
        out->asc = buf[12];
        out->ascq = buf[13];
    } else if (avail >= 13) {
        out->asc = buf[12];
    }
    if (avail >= 18 && (buf[15] & 0x80)) {
        out->sks_valid = true;
        memcpy(out->sks, buf + 15, 3);
    }
    out->valid = true;
    return TF_OK;
}

static int
s_decode_descriptor(const uint8_t *buf, size_t len, tf_sense_t *out, tf_err_t *err)
{
    if (len < 4)
        return tf_err_set(err, TF_ERR_PROTO,
                          "descriptor-format sense data truncated at %zu bytes (need at least 4)",
                          len);
    out->key = buf[1] & 0x0F;
    out->asc = buf[2];
    out->ascq = buf[3];
    out->valid = true;
    if (len < 8)
        return TF_OK;
    size_t end = 8 + (size_t) buf[7];
    if (end > len)
        end = len;
    size_t at = 8;
    while (at + 2 <= end) {
        uint8_t type = buf[at];
        size_t dlen = 2 + (size_t) buf[at + 1];
        if (at + dlen > end)
            break; /* truncated descriptor: keep what we have */
        const uint8_t *d = buf + at;
        if (type == 0x00 && dlen >= 12) { /* information */
            if (d[2] & 0x80) {
                out->info_valid = true;
                out->info = s_be64_signed(d + 4);
            }
        } else if (type == 0x02 && dlen >= 8) { /* sense-key specific */
            if (d[4] & 0x80) {
                out->sks_valid = true;
                memcpy(out->sks, d + 4, 3);
            }
        } else if (type == 0x04 && dlen >= 4) { /* stream commands */
            out->filemark = (d[3] & 0x80) != 0;
            out->eom = (d[3] & 0x40) != 0;
            out->ili = (d[3] & 0x20) != 0;
        }
        at += dlen;
    }
    return TF_OK;
}

int
tf_sense_decode(const uint8_t *buf, size_t len, tf_sense_t *out, tf_err_t *err)
{
    if (!out)
        return tf_err_set(err, TF_ERR_INVALID, "tf_sense_decode: no output");
    memset(out, 0, sizeof *out);
    if (!buf || len == 0)
        return tf_err_set(err, TF_ERR_PROTO, "no sense data returned");
    uint8_t code = buf[0] & 0x7F;
    out->response_code = code;
    switch (code) {
    case 0x70:
    case 0x71:
        out->deferred = code == 0x71;
        return s_decode_fixed(buf, len, out, err);
    case 0x72:
    case 0x73:
        out->descriptor = true;
        out->deferred = code == 0x73;
        return s_decode_descriptor(buf, len, out, err);
    default:
        return tf_err_set(err, TF_ERR_PROTO, "unrecognised sense response code 0x%02x", code);
    }
}

static void
s_put_be(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--) {
        p[i] = (uint8_t) (v & 0xFF);
        v >>= 8;
    }
}

size_t
tf_sense_build(uint8_t *buf, size_t size, uint8_t key, uint8_t asc, uint8_t ascq, unsigned flags,
               int64_t info)
{
    uint8_t stream = (uint8_t) (flags & (TF_SENSE_F_FILEMARK | TF_SENSE_F_EOM | TF_SENSE_F_ILI));
    bool deferred = (flags & TF_SENSE_F_DEFERRED) != 0;
    if (flags & TF_SENSE_F_DESCRIPTOR) {
        if (size < 32)
            return 0;
        memset(buf, 0, 32);
        buf[0] = deferred ? 0x73 : 0x72;
        buf[1] = key & 0x0F;
        buf[2] = asc;
        buf[3] = ascq;
        size_t at = 8;
        if (flags & TF_SENSE_F_INFO) {
            buf[at] = 0x00;
            buf[at + 1] = 0x0A;
            buf[at + 2] = 0x80;
            s_put_be(buf + at + 4, (uint64_t) info, 8);
            at += 12;
        }
        if (stream) {
            buf[at] = 0x04;
            buf[at + 1] = 0x02;
            buf[at + 3] = stream;
            at += 4;
        }
        buf[7] = (uint8_t) (at - 8);
        return at;
    }
    if (size < 18)
        return 0;
    memset(buf, 0, 18);
    buf[0] = (uint8_t) ((deferred ? 0x71 : 0x70) | ((flags & TF_SENSE_F_INFO) ? 0x80 : 0));
    buf[2] = (uint8_t) (stream | (key & 0x0F));
    if (flags & TF_SENSE_F_INFO)
        s_put_be(buf + 3, (uint64_t) (uint32_t) (int32_t) info, 4);
    buf[7] = 10;
    buf[12] = asc;
    buf[13] = ascq;
    return 18;
}

const char *
tf_sense_key_name(uint8_t key)
{
    static const char *names[16] = {
        "NO SENSE", "RECOVERED ERROR", "NOT READY", "MEDIUM ERROR", "HARDWARE ERROR",
        "ILLEGAL REQUEST", "UNIT ATTENTION", "DATA PROTECT", "BLANK CHECK", "VENDOR SPECIFIC",
        "COPY ABORTED", "ABORTED COMMAND", "RESERVED", "VOLUME OVERFLOW", "MISCOMPARE",
        "COMPLETED"};
    return names[key & 0x0F];
}

static const struct {
    uint8_t asc;
    int ascq; /* -1: any */
    const char *text;
} s_asc_table[] = {
    {0x00, 0x00, "no additional sense information"},
    {0x00, 0x01, "filemark detected"},
    {0x00, 0x02, "end of partition/medium detected"},
    {0x00, 0x04, "beginning of partition/medium detected"},
    {0x00, 0x05, "end of data detected"},
    {0x00, 0x16, "operation in progress"},
    {0x04, 0x00, "logical unit not ready, cause not reportable"},
    {0x04, 0x01, "logical unit is in process of becoming ready"},
    {0x04, 0x02, "logical unit not ready, initializing command required"},
    {0x04, 0x03, "logical unit not ready, manual intervention required"},
    {0x04, 0x07, "logical unit not ready, operation in progress"},
    {0x04, 0x12, "logical unit not ready, offline"},
    {0x04, -1, "logical unit not ready"},
    {0x0C, 0x00, "write error"},
    {0x11, 0x00, "unrecovered read error"},
    {0x14, 0x00, "recorded entity not found"},
    {0x15, 0x00, "random positioning error"},
    {0x1A, 0x00, "parameter list length error"},
    {0x20, 0x00, "invalid command operation code"},
    {0x24, 0x00, "invalid field in CDB"},
    {0x25, 0x00, "logical unit not supported"},
    {0x26, 0x00, "invalid field in parameter list"},
    {0x27, 0x00, "write protected"},
    {0x27, -1, "write protected"},
    {0x28, 0x00, "not ready to ready change, medium may have changed"},
    {0x29, 0x00, "power on, reset, or bus device reset occurred"},
    {0x29, -1, "power on or reset occurred"},
    {0x2A, -1, "parameters changed"},
    {0x30, 0x00, "incompatible medium installed"},
    {0x30, -1, "incompatible medium"},
    {0x31, 0x00, "medium format corrupted"},
    {0x3A, 0x00, "medium not present"},
    {0x3A, -1, "medium not present"},
    {0x3B, 0x00, "sequential positioning error"},
    {0x3B, 0x08, "reposition error"},
    {0x44, 0x00, "internal target failure"},
    {0x50, 0x00, "write append error"},
    {0x51, 0x00, "erase failure"},
    {0x52, 0x00, "cartridge fault"},
    {0x53, 0x00, "media load or eject failed"},
    {0x53, 0x02, "medium removal prevented"},
};

const char *
tf_sense_asc_text(uint8_t asc, uint8_t ascq)
{
    for (size_t i = 0; i < sizeof s_asc_table / sizeof s_asc_table[0]; i++)
        if (s_asc_table[i].asc == asc && (s_asc_table[i].ascq == ascq || s_asc_table[i].ascq < 0))
            return s_asc_table[i].text;
    return NULL;
}

void
tf_sense_describe(const tf_sense_t *sense, char *buf, size_t size)
{
    if (!buf || size == 0)
        return;
    if (!sense || !sense->valid) {
        snprintf(buf, size, "no usable sense data");
        return;
    }
    const char *text = tf_sense_asc_text(sense->asc, sense->ascq);
    char flags[32] = "";
    if (sense->filemark || sense->eom || sense->ili)
        snprintf(flags, sizeof flags, " [%s%s%s%s%s]", sense->filemark ? "FM" : "",
                 sense->filemark && (sense->eom || sense->ili) ? " " : "", sense->eom ? "EOM" : "",
                 sense->eom && sense->ili ? " " : "", sense->ili ? "ILI" : "");
    char info[40] = "";
    if (sense->info_valid)
        snprintf(info, sizeof info, " info=%lld", (long long) sense->info);
    snprintf(buf, size, "%s %02X/%02X (%s)%s%s%s", tf_sense_key_name(sense->key), sense->asc,
             sense->ascq, text ? text : "vendor or unlisted code", flags, info,
             sense->deferred ? " deferred" : "");
}
