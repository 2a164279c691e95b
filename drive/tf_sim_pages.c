/*  tf_sim_pages - simulated drive: INQUIRY, MODE SENSE/SELECT, LOG SENSE, READ POSITION. */
#include <stdio.h>
#include <string.h>

#include "tf_cdb.h"
#include "tf_sim_priv.h"

#define S_VENDOR "TAPEFLOW"
#define S_PRODUCT "SIM-TAPE"
/* quirks=tgt answers with tgt's product id, so the drive layer applies its tgt fallbacks. */
#define S_PRODUCT_TGT "VIRTUAL-TAPE"
#define S_REVISION "0100"
#define S_DENSITY 0x5A /* arbitrary, reported in the block descriptor */
#define S_ALERT_WRITE_PROTECT 9

static void
s_pad(uint8_t *dst, const char *src, size_t width)
{
    memset(dst, ' ', width);
    size_t n = strlen(src);
    memcpy(dst, src, n < width ? n : width);
}

static void
s_invalid_field(tf_sim_t *self, tf_scsi_res_t *res)
{
    tf_sim_check(self, res, TF_SENSE_ILLEGAL_REQUEST, 0x24, 0x00, 0, 0);
}

void
tf_sim_inquiry(tf_sim_t *self, const tf_scsi_req_t *req, tf_scsi_res_t *res)
{
    bool evpd = (req->cdb[1] & 0x01) != 0;
    uint8_t page = req->cdb[2];
    uint8_t buf[128];
    memset(buf, 0, sizeof buf);
    buf[0] = self->opts.device_type & 0x1F;
    const char *serial = tf_simimg_serial(self->img);
    if (!evpd) {
        if (page != 0) {
            s_invalid_field(self, res);
            return;
        }
        buf[1] = 0x80; /* removable medium */
        buf[2] = 0x06; /* SPC-4 */
        buf[3] = 0x02;
        buf[4] = 96 - 5;
        s_pad(buf + 8, S_VENDOR, 8);
        s_pad(buf + 16, self->opts.tgt_quirks ? S_PRODUCT_TGT : S_PRODUCT, 16);
        s_pad(buf + 32, S_REVISION, 4);
        tf_sim_reply(req, res, buf, 96);
        return;
    }
    size_t len;
    buf[1] = page;
    switch (page) {
    case 0x00:
        buf[3] = 3;
        buf[4] = 0x00;
        buf[5] = 0x80;
        buf[6] = 0x83;
        len = 7;
        break;
    case 0x80: {
        size_t n = strlen(serial);
        buf[3] = (uint8_t) n;
        memcpy(buf + 4, serial, n);
        len = 4 + n;
        break;
    }
    case 0x83: { /* one T10 vendor identification designator */
        char id[80];
        snprintf(id, sizeof id, "%-8s%-16s%s", S_VENDOR,
                 self->opts.tgt_quirks ? S_PRODUCT_TGT : S_PRODUCT, serial);
        size_t n = strlen(id);
        buf[4] = 0x02; /* ASCII */
        buf[5] = 0x01; /* T10 vendor ID, associated with the logical unit */
        buf[7] = (uint8_t) n;
        memcpy(buf + 8, id, n);
        buf[3] = (uint8_t) (4 + n);
        len = 8 + n;
        break;
    }
    default:
        s_invalid_field(self, res);
        return;
    }
    tf_sim_reply(req, res, buf, len);
}

void
tf_sim_read_block_limits(tf_sim_t *self, const tf_scsi_req_t *req, tf_scsi_res_t *res)
{
    uint8_t buf[6] = {0};
    tf_cdb_put_be(buf + 1, self->opts.max_block, 3);
    tf_cdb_put_be(buf + 4, 1, 2);
    tf_sim_reply(req, res, buf, sizeof buf);
}

void
tf_sim_request_sense(tf_sim_t *self, const tf_scsi_req_t *req, tf_scsi_res_t *res)
{
    uint8_t buf[TF_SENSE_MAX];
    size_t len = self->last_sense_len;
    if (len)
        memcpy(buf, self->last_sense, len);
    else
        len = tf_sense_build(buf, sizeof buf, TF_SENSE_NO_SENSE, 0, 0,
                             self->opts.descriptor_sense ? TF_SENSE_F_DESCRIPTOR : 0, 0);
    self->last_sense_len = 0;
    size_t alloc = req->cdb[4];
    tf_sim_reply(req, res, buf, len < alloc ? len : alloc);
}

/* Appends mode page `page` at p; returns its length, 0 for an unknown page. */
static size_t
s_mode_page(uint8_t page, uint8_t *p)
{
    if (page == 0x0F) { /* data compression */
        memset(p, 0, 16);
        p[0] = 0x0F;
        p[1] = 0x0E;
        p[2] = 0x40; /* DCC: compression capable, DCE off */
        p[3] = 0x80; /* DDE */
        return 16;
    }
    if (page == 0x10) { /* device configuration */
        memset(p, 0, 16);
        p[0] = 0x10;
        p[1] = 0x0E;
        p[8] = 0x10; /* EEG: end-of-data generation */
        return 16;
    }
    return 0;
}

void
tf_sim_mode_sense6(tf_sim_t *self, const tf_scsi_req_t *req, tf_scsi_res_t *res)
{
    bool dbd = (req->cdb[1] & 0x08) != 0;
    uint8_t page = req->cdb[2] & 0x3F;
    uint8_t pc = req->cdb[2] >> 6;
    uint8_t buf[64];
    memset(buf, 0, sizeof buf);
    if (pc == 3) { /* saved values: not supported */
        tf_sim_check(self, res, TF_SENSE_ILLEGAL_REQUEST, 0x39, 0x00, 0, 0);
        return;
    }
    size_t len = 4;
    buf[1] = 0; /* medium type */
    buf[2] = (uint8_t) (0x10 | ((self->opts.write_protect && self->loaded) ? 0x80 : 0));
    if (!dbd) {
        buf[3] = 8;
        buf[4] = self->loaded ? S_DENSITY : 0;
        tf_cdb_put_be(buf + 9, self->block_length, 3);
        len += 8;
    }
    if (page == 0x3F) {
        len += s_mode_page(0x0F, buf + len);
        len += s_mode_page(0x10, buf + len);
    } else if (page != 0x00) {
        size_t n = s_mode_page(page, buf + len);
        if (n == 0) {
            s_invalid_field(self, res);
            return;
        }
        len += n;
    }
    buf[0] = (uint8_t) (len - 1);
    size_t alloc = req->cdb[4];
    tf_sim_reply(req, res, buf, len < alloc ? len : alloc);
}

void
tf_sim_mode_select6(tf_sim_t *self, const tf_scsi_req_t *req, tf_scsi_res_t *res)
{
    size_t len = req->cdb[4];
    if (len > req->data_len)
        len = req->data_len;
    const uint8_t *p = req->data;
    if (len == 0)
        return;
    if (len < 4 || (size_t) 4 + p[3] > len) {
        tf_sim_check(self, res, TF_SENSE_ILLEGAL_REQUEST, 0x1A, 0x00, 0, 0);
        return;
    }
    uint32_t block_length = self->block_length;
    if (p[3] >= 8)
        block_length = (uint32_t) tf_cdb_get_be(p + 4 + 5, 3);
    size_t pages = 4 + (size_t) p[3];
    if (pages < len) {
        bool pf = (req->cdb[1] & 0x10) != 0;
        uint8_t code = p[pages] & 0x3F;
        if (self->opts.tgt_quirks || !pf || (code != 0x0F && code != 0x10)) {
            tf_sim_check(self, res, TF_SENSE_ILLEGAL_REQUEST, 0x26, 0x00, 0, 0);
            return;
        }
    }
    if (block_length != 0) { /* the simulator records variable blocks only */
        tf_sim_check(self, res, TF_SENSE_ILLEGAL_REQUEST, 0x26, 0x00, 0, 0);
        return;
    }
    self->block_length = block_length;
}

void
tf_sim_log_sense(tf_sim_t *self, const tf_scsi_req_t *req, tf_scsi_res_t *res)
{
    uint8_t page = req->cdb[2] & 0x3F;
    uint8_t buf[4 + 64 * 5];
    memset(buf, 0, sizeof buf);
    size_t len;
    if (page == 0x00) {
        buf[0] = 0x00;
        buf[3] = 2;
        buf[4] = 0x00;
        buf[5] = 0x2E;
        len = 6;
    } else if (page == 0x2E) {
        uint64_t flags = tf_simimg_alerts(self->img);
        if (self->opts.write_protect && self->loaded)
            flags |= 1ull << (S_ALERT_WRITE_PROTECT - 1);
        buf[0] = 0x2E;
        tf_cdb_put_be(buf + 2, 64 * 5, 2);
        for (int i = 0; i < 64; i++) {
            uint8_t *param = buf + 4 + i * 5;
            tf_cdb_put_be(param, (uint64_t) i + 1, 2);
            param[2] = 0x03; /* binary list format */
            param[3] = 1;
            param[4] = (flags >> i) & 1 ? 1 : 0;
        }
        len = sizeof buf;
        /* Reading the page clears latched flags, as on many drives. */
        tf_err_t ignored;
        tf_simimg_set_alerts(self->img, 0, &ignored);
    } else {
        s_invalid_field(self, res);
        return;
    }
    size_t alloc = (size_t) tf_cdb_get_be(req->cdb + 7, 2);
    tf_sim_reply(req, res, buf, len < alloc ? len : alloc);
}

void
tf_sim_read_position(tf_sim_t *self, const tf_scsi_req_t *req, tf_scsi_res_t *res)
{
    uint8_t sa = req->cdb[1] & 0x1F;
    uint8_t buf[32];
    memset(buf, 0, sizeof buf);
    uint64_t object = self->pos;
    uint64_t file = 0;
    for (size_t i = 0; i < self->pos; i++)
        if (tf_simimg_type(self->img, i) == TF_SIMIMG_FILEMARK)
            file++;
    uint64_t used = tf_simimg_used(self->img, self->pos);
    bool bop = self->pos == 0;
    bool eop = !self->opts.hard_eom && used > self->opts.capacity - self->opts.early_warning;
    if (sa == 0x00 || sa == 0x01) {
        if (self->opts.tgt_quirks) {
            buf[0] = 0x14; /* position unknown, like tgt */
        } else {
            buf[0] = (uint8_t) ((bop ? 0x80 : 0) | (eop ? 0x40 : 0));
            if (object > 0xFFFFFFFFu)
                buf[0] |= 0x04;
            tf_cdb_put_be(buf + 4, object, 4);
            tf_cdb_put_be(buf + 8, object, 4);
        }
        tf_sim_reply(req, res, buf, 20);
        return;
    }
    if (sa == 0x06) {
        if (!self->opts.tgt_quirks) {
            buf[0] = (uint8_t) ((bop ? 0x80 : 0) | (eop ? 0x40 : 0));
            tf_cdb_put_be(buf + 8, object, 8);
            tf_cdb_put_be(buf + 16, file, 8);
        }
        tf_sim_reply(req, res, buf, 32);
        return;
    }
    s_invalid_field(self, res);
}
