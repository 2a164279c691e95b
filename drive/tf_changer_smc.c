/*  tf_changer_smc - SMC CDBs, element status data and the element address assignment page. */
#include "tf_changer_smc.h"

#include <ctype.h>
#include <string.h>

#include "tf_cdb.h"

int
tf_smc_cdb_read_element_status(uint8_t *cdb, tf_changer_type_t type, bool voltag,
                               uint16_t start, uint16_t count, uint32_t alloc)
{
    if ((unsigned) type > TF_CHANGER_DRIVE || alloc > 0xFFFFFF)
        return TF_ERR_INVALID;
    memset(cdb, 0, TF_CDB_MAX);
    cdb[0] = TF_OP_READ_ELEMENT_STATUS;
    cdb[1] = (uint8_t) ((voltag ? 0x10 : 0x00) | ((unsigned) type & 0x0F));
    tf_cdb_put_be(cdb + 2, start, 2);
    tf_cdb_put_be(cdb + 4, count, 2);
    tf_cdb_put_be(cdb + 7, alloc, 3);
    return 12;
}

int
tf_smc_cdb_move_medium(uint8_t *cdb, uint16_t transport, uint16_t from, uint16_t to)
{
    memset(cdb, 0, TF_CDB_MAX);
    cdb[0] = TF_OP_MOVE_MEDIUM;
    tf_cdb_put_be(cdb + 2, transport, 2);
    tf_cdb_put_be(cdb + 4, from, 2);
    tf_cdb_put_be(cdb + 6, to, 2);
    return 12;
}

int
tf_smc_parse_eaa(const uint8_t *data, size_t len, tf_smc_layout_t *layout, tf_err_t *err)
{
    memset(layout, 0, sizeof *layout);
    if (len < 4)
        return tf_err_set(err, TF_ERR_PROTO, "MODE SENSE reply too short (%zu bytes)", len);
    size_t avail = (size_t) data[0] + 1 < len ? (size_t) data[0] + 1 : len;
    size_t off = 4 + (size_t) data[3]; /* header, then block descriptors */
    while (off + 2 <= avail) {
        uint8_t code = data[off] & 0x3F;
        size_t plen = data[off + 1];
        if (code == TF_SMC_PAGE_EAA) {
            if (plen < 16 || off + 2 + 16 > avail)
                return tf_err_set(err, TF_ERR_PROTO,
                                  "element address assignment page is truncated (%zu bytes)",
                                  plen);
            const uint8_t *p = data + off + 2;
            for (int t = TF_CHANGER_TRANSPORT; t <= TF_CHANGER_DRIVE; t++) {
                layout->first[t] = (uint16_t) tf_cdb_get_be(p + (t - 1) * 4, 2);
                layout->count[t] = (uint16_t) tf_cdb_get_be(p + (t - 1) * 4 + 2, 2);
            }
            return TF_OK;
        }
        if (plen == 0 && code == 0)
            break;
        off += 2 + plen;
    }
    return tf_err_set(err, TF_ERR_PROTO, "no element address assignment page (1Dh) in the reply");
}

size_t
tf_smc_build_eaa(uint8_t *page, size_t size, const tf_smc_layout_t *layout)
{
    if (size < 20)
        return 0;
    memset(page, 0, 20);
    page[0] = TF_SMC_PAGE_EAA;
    page[1] = 18;
    for (int t = TF_CHANGER_TRANSPORT; t <= TF_CHANGER_DRIVE; t++) {
        tf_cdb_put_be(page + 2 + (t - 1) * 4, layout->first[t], 2);
        tf_cdb_put_be(page + 4 + (t - 1) * 4, layout->count[t], 2);
    }
    return 20;
}

static void
s_tag(char *dst, size_t size, const uint8_t *src, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n + 1 < size; i++) {
        if (src[i] == '\0')
            break;
        dst[n++] = isprint(src[i]) ? (char) src[i] : '?';
    }
    while (n > 0 && dst[n - 1] == ' ')
        n--;
    dst[n] = '\0';
}

static void
s_parse_desc(const uint8_t *d, size_t dlen, tf_changer_type_t type, bool pvoltag,
             tf_changer_elem_t *e)
{
    memset(e, 0, sizeof *e);
    e->type = type;
    e->address = (uint16_t) tf_cdb_get_be(d, 2);
    e->full = (d[2] & 0x01) != 0;
    e->impexp = type == TF_CHANGER_IE && (d[2] & 0x02) != 0;
    e->except = (d[2] & 0x04) != 0;
    e->access = (d[2] & 0x08) != 0;
    e->asc = d[4];
    e->ascq = d[5];
    if (dlen >= 12) {
        e->source_valid = (d[9] & 0x80) != 0;
        e->source = (uint16_t) tf_cdb_get_be(d + 10, 2);
    }
    if (pvoltag && dlen >= 12 + 32)
        s_tag(e->barcode, sizeof e->barcode, d + 12, 32);
}

int
tf_smc_parse_res(const uint8_t *data, size_t len, tf_changer_elem_t *elems, size_t cap,
                 size_t *count, bool *more, bool *voltags, tf_err_t *err)
{
    *more = false;
    if (len < 8)
        return tf_err_set(err, TF_ERR_PROTO,
                          "READ ELEMENT STATUS returned %zu bytes, less than its 8-byte header",
                          len);
    size_t total = 8 + (size_t) tf_cdb_get_be(data + 5, 3);
    size_t avail = total < len ? total : len;
    if (total > len)
        *more = true;
    size_t off = 8;
    while (off + 8 <= avail) {
        const uint8_t *page = data + off;
        uint8_t code = page[0] & 0x0F;
        bool pvoltag = (page[1] & 0x80) != 0;
        size_t dlen = (size_t) tf_cdb_get_be(page + 2, 2);
        size_t bytes = (size_t) tf_cdb_get_be(page + 5, 3);
        if (code < TF_CHANGER_TRANSPORT || code > TF_CHANGER_DRIVE || dlen < 12)
            return tf_err_set(err, TF_ERR_PROTO,
                              "READ ELEMENT STATUS page with element type %u and descriptor "
                              "length %zu is not valid",
                              code, dlen);
        if (pvoltag)
            *voltags = true;
        off += 8;
        size_t end = off + bytes;
        if (end > avail) {
            end = avail;
            *more = true;
        }
        /* A descriptor cut short is still used when its address, status, source and volume
           tag arrived: tgt returns 8 bytes less than it describes. */
        size_t need = 12 + (pvoltag ? 32 : 0) < dlen ? 12 + (pvoltag ? 32 : 0) : dlen;
        while (off + need <= end) {
            if (*count >= cap)
                return tf_err_set(err, TF_ERR_TOOBIG,
                                  "the changer reports more than %zu elements", cap);
            size_t have = end - off < dlen ? end - off : dlen;
            s_parse_desc(data + off, have, (tf_changer_type_t) code, pvoltag, &elems[*count]);
            (*count)++;
            off += dlen;
        }
        off = end;
    }
    return TF_OK;
}

static size_t
s_put_desc(uint8_t *d, const tf_changer_elem_t *e, bool voltag)
{
    size_t dlen = voltag ? 52 : 16;
    memset(d, 0, dlen);
    tf_cdb_put_be(d, e->address, 2);
    d[2] = (uint8_t) ((e->full ? 0x01 : 0) | (e->impexp ? 0x02 : 0) | (e->except ? 0x04 : 0)
                      | (e->access ? 0x08 : 0));
    if (e->type == TF_CHANGER_IE)
        d[2] |= 0x30; /* INENAB, EXENAB */
    d[4] = e->asc;
    d[5] = e->ascq;
    if (e->source_valid) {
        d[9] = 0x80;
        tf_cdb_put_be(d + 10, e->source, 2);
    }
    if (voltag) {
        memset(d + 12, ' ', 32);
        size_t n = strlen(e->barcode);
        memcpy(d + 12, e->barcode, n < 32 ? n : 32);
    }
    return dlen;
}

/* Copies len bytes to buf + off, as far as they fit in size. */
static void
s_put(uint8_t *buf, size_t size, size_t off, const uint8_t *src, size_t len)
{
    if (off >= size)
        return;
    memcpy(buf + off, src, len < size - off ? len : size - off);
}

size_t
tf_smc_build_res(uint8_t *buf, size_t size, const tf_changer_elem_t *elems, size_t count,
                 bool voltag)
{
    size_t dlen = voltag ? 52 : 16;
    size_t off = 8;
    size_t i = 0;
    while (i < count) {
        size_t page = off;
        tf_changer_type_t type = elems[i].type;
        off += 8;
        size_t start = off;
        for (; i < count && elems[i].type == type; i++) {
            uint8_t d[52];
            s_put(buf, size, off, d, s_put_desc(d, &elems[i], voltag));
            off += dlen;
        }
        uint8_t head[8] = {(uint8_t) type, voltag ? 0x80 : 0x00, 0, 0, 0, 0, 0, 0};
        tf_cdb_put_be(head + 2, dlen, 2);
        tf_cdb_put_be(head + 5, off - start, 3);
        s_put(buf, size, page, head, 8);
    }
    uint8_t head[8] = {0};
    tf_cdb_put_be(head, count ? elems[0].address : 0, 2);
    tf_cdb_put_be(head + 2, count, 2);
    tf_cdb_put_be(head + 5, off - 8, 3);
    s_put(buf, size, 0, head, 8);
    return off;
}
