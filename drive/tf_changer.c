/*  tf_changer - media changer lifecycle, command execution, inventory and moves. */
#include "tf_changer.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_cdb.h"
#include "tf_changer_priv.h"
#include "tf_changer_smc.h"
#include "tf_log.h"
#include "tf_sim_changer.h"
#include "tf_transport.h"

#define S_T_SHORT (60 * 1000)
#define S_T_MOVE (15 * 60 * 1000) /* a big library's robot can take minutes */
#define S_MAX_ELEMENTS 8192

struct _tf_changer_t {
    tf_transport_t *transport;
    char *url;
    tf_drive_cond_t last_cond;
    tf_sense_t last_sense;
    size_t last_resid;
    uint16_t transport_addr; /* picker used for MOVE MEDIUM (0: the changer's default) */
    bool no_eaa;             /* MODE SENSE page 1Dh missing: logged once */
    bool no_voltag;          /* volume tags refused: logged once */
};

/* A sim: URL with type=8 is the simulated changer; anything else goes to the drive transports. */
static bool
s_is_sim_changer(const char *url)
{
    if (strncmp(url, "sim:", 4) != 0)
        return false;
    const char *query = strchr(url, '?');
    while (query) {
        query++;
        if (strncmp(query, "type=8", 6) == 0 && (query[6] == '\0' || query[6] == '&'))
            return true;
        query = strchr(query, '&');
    }
    return false;
}

tf_changer_t *
tf_changer_open(const char *url, tf_err_t *err)
{
    if (!url || !*url) {
        tf_err_set(err, TF_ERR_INVALID, "no changer URL given");
        return NULL;
    }
    tf_transport_t *transport = NULL;
    if (strncmp(url, "sim:", 4) == 0) {
        if (!s_is_sim_changer(url)) {
            tf_err_set(err, TF_ERR_INVALID,
                       "'%s' is a simulated tape drive; a simulated changer needs type=8 "
                       "(sim:PATH?type=8&slots=N)",
                       url);
            return NULL;
        }
        transport = tf_sim_changer_transport_open(url + 4, err);
    } else {
        transport = tf_transport_open(url, err);
    }
    if (!transport)
        return NULL;
    tf_changer_t *self = calloc(1, sizeof *self);
    if (!self || !(self->url = strdup(url))) {
        free(self);
        tf_transport_destroy(&transport);
        tf_err_set(err, TF_ERR_NOMEM, "out of memory opening %s", url);
        return NULL;
    }
    self->transport = transport;
    return self;
}

void
tf_changer_destroy(tf_changer_t **self_p)
{
    if (self_p && *self_p) {
        tf_changer_t *self = *self_p;
        tf_transport_destroy(&self->transport);
        free(self->url);
        free(self);
        *self_p = NULL;
    }
}

const char *
tf_changer_url(tf_changer_t *self)
{
    return self->url;
}

tf_drive_cond_t
tf_changer_last_cond(tf_changer_t *self)
{
    return self->last_cond;
}

const tf_sense_t *
tf_changer_last_sense(tf_changer_t *self)
{
    return &self->last_sense;
}

static const char *
s_op_name(uint8_t op)
{
    switch (op) {
    case TF_OP_TEST_UNIT_READY: return "TEST UNIT READY";
    case TF_OP_INQUIRY: return "INQUIRY";
    case TF_OP_MODE_SENSE6: return "MODE SENSE(6)";
    case TF_OP_READ_ELEMENT_STATUS: return "READ ELEMENT STATUS";
    case TF_OP_MOVE_MEDIUM: return "MOVE MEDIUM";
    case TF_OP_INIT_ELEMENT_STATUS: return "INITIALIZE ELEMENT STATUS";
    default: return "command";
    }
}

static bool
s_is_unit_attention(tf_drive_cond_t cond)
{
    return cond == TF_DRIVE_COND_MEDIUM_CHANGED || cond == TF_DRIVE_COND_RESET
           || cond == TF_DRIVE_COND_UNIT_ATTENTION;
}

static int
s_exec_once(tf_changer_t *self, const uint8_t *cdb, int cdb_len, tf_xfer_t dir, void *data,
            size_t len, unsigned timeout_ms, const tf_changer_move_ctx_t *move, tf_err_t *err)
{
    tf_scsi_req_t req = {cdb, (size_t) cdb_len, dir, data, len, timeout_ms};
    tf_scsi_res_t res;
    memset(&self->last_sense, 0, sizeof self->last_sense);
    self->last_resid = 0;
    tf_err_t terr = {0, ""};
    int rc = tf_transport_execute(self->transport, &req, &res, &terr);
    if (rc != TF_OK) {
        self->last_cond = TF_DRIVE_COND_TRANSPORT;
        return tf_err_set(err, rc, "changer %s: %s: %s", self->url, s_op_name(cdb[0]),
                          terr.message);
    }
    self->last_resid = res.resid;
    if (res.status == TF_SCSI_CHECK_CONDITION) {
        tf_err_t serr = {0, ""};
        if (tf_sense_decode(res.sense, res.sense_len, &self->last_sense, &serr) != TF_OK)
            tf_log_warn("changer %s: %s returned CHECK CONDITION with unusable sense: %s",
                        self->url, s_op_name(cdb[0]), serr.message);
    }
    self->last_cond = tf_drive_cond_classify(res.status, &self->last_sense);
    if (tf_drive_cond_status(self->last_cond) == TF_OK && !self->last_sense.deferred)
        return TF_OK;
    return tf_changer_explain(self->url, s_op_name(cdb[0]), res.status, &self->last_sense,
                              self->last_cond, move, err);
}

/* Runs one command. Unit attentions (reset, inventory changed, import/export accessed) mean the
   command was not executed: it is repeated (a few may be queued). */
static int
s_exec(tf_changer_t *self, const uint8_t *cdb, int cdb_len, tf_xfer_t dir, void *data,
       size_t len, unsigned timeout_ms, const tf_changer_move_ctx_t *move, tf_err_t *err)
{
    if (cdb_len < 0)
        return tf_err_set(err, cdb_len, "changer %s: %s: argument out of range", self->url,
                          s_op_name(cdb[0]));
    int rc = s_exec_once(self, cdb, cdb_len, dir, data, len, timeout_ms, move, err);
    for (int i = 0; i < 4 && rc != TF_OK && s_is_unit_attention(self->last_cond); i++) {
        tf_log_info("changer %s: %s; repeating %s", self->url,
                    tf_drive_cond_message(self->last_cond), s_op_name(cdb[0]));
        rc = s_exec_once(self, cdb, cdb_len, dir, data, len, timeout_ms, move, err);
    }
    return rc;
}

static void
s_field(char *dst, size_t size, const uint8_t *src, size_t len)
{
    if (!dst || size == 0)
        return;
    size_t n = 0;
    for (size_t i = 0; i < len && n + 1 < size; i++)
        dst[n++] = isprint(src[i]) ? (char) src[i] : '?';
    while (n > 0 && (dst[n - 1] == ' ' || dst[n - 1] == '\0'))
        n--;
    dst[n] = '\0';
}

int
tf_changer_identify(tf_changer_t *self, char *vendor, size_t vendor_size, char *product,
                    size_t product_size, tf_err_t *err)
{
    uint8_t cdb[TF_CDB_MAX];
    uint8_t buf[96];
    memset(buf, 0, sizeof buf);
    int rc = s_exec(self, cdb, tf_cdb_inquiry(cdb, false, 0, sizeof buf), TF_XFER_IN, buf,
                    sizeof buf, S_T_SHORT, NULL, err);
    if (rc != TF_OK)
        return rc;
    size_t got = sizeof buf - (self->last_resid < sizeof buf ? self->last_resid : sizeof buf);
    if (got < 36)
        return tf_err_set(err, TF_ERR_PROTO, "changer %s: INQUIRY returned only %zu bytes",
                          self->url, got);
    s_field(vendor, vendor_size, buf + 8, 8);
    s_field(product, product_size, buf + 16, 16);
    uint8_t type = buf[0] & 0x1F;
    if (type != 8)
        return tf_err_set(err, TF_ERR_INVALID,
                          "%s is not a media changer (SCSI device type %u%s): point the changer "
                          "at the library's robot, usually the sg node or LUN of type 8 next "
                          "to its drives",
                          self->url, type, type == 1 ? ", a tape drive" : "");
    return TF_OK;
}

/* Element address ranges from MODE SENSE page 1Dh; false when the changer has no such page. */
static bool
s_layout(tf_changer_t *self, tf_smc_layout_t *layout)
{
    if (self->no_eaa)
        return false;
    uint8_t cdb[TF_CDB_MAX];
    uint8_t buf[255];
    memset(buf, 0, sizeof buf);
    tf_err_t err = {0, ""};
    int rc = s_exec(self, cdb, tf_cdb_mode_sense6(cdb, true, TF_SMC_PAGE_EAA, sizeof buf),
                    TF_XFER_IN, buf, sizeof buf, S_T_SHORT, NULL, &err);
    size_t got = sizeof buf - (self->last_resid < sizeof buf ? self->last_resid : sizeof buf);
    if (rc == TF_OK)
        rc = tf_smc_parse_eaa(buf, got, layout, &err);
    if (rc != TF_OK) {
        self->no_eaa = true;
        tf_log_info("changer %s: no element address assignment page (%s); reading element "
                    "status of each type instead",
                    self->url, err.message);
        return false;
    }
    return true;
}

/* READ ELEMENT STATUS for one element type from `start`, in allocation-sized steps. */
static int
s_read_type(tf_changer_t *self, tf_changer_type_t type, uint16_t start, uint16_t expect,
            tf_changer_inv_t *inv, size_t cap, tf_err_t *err)
{
    uint8_t *buf = malloc(TF_SMC_RES_ALLOC);
    if (!buf)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    size_t before = inv->count;
    int rc = TF_OK;
    for (int round = 0; round < S_MAX_ELEMENTS; round++) {
        uint8_t cdb[TF_CDB_MAX];
        bool voltag = !self->no_voltag;
        memset(buf, 0, TF_SMC_RES_ALLOC);
        uint16_t want = expect ? (uint16_t) (expect - (inv->count - before)) : 0xFFFF;
        rc = s_exec(self, cdb,
                    tf_smc_cdb_read_element_status(cdb, type, voltag, start, want,
                                                   TF_SMC_RES_ALLOC),
                    TF_XFER_IN, buf, TF_SMC_RES_ALLOC, S_T_MOVE, NULL, err);
        if (rc != TF_OK && voltag && self->last_cond == TF_DRIVE_COND_NOT_SUPPORTED) {
            self->no_voltag = true;
            tf_log_info("changer %s: volume tags (barcodes) not supported; inventory without "
                        "barcodes",
                        self->url);
            round--;
            continue;
        }
        if (rc != TF_OK)
            break;
        size_t got = TF_SMC_RES_ALLOC
                     - (self->last_resid < TF_SMC_RES_ALLOC ? self->last_resid : TF_SMC_RES_ALLOC);
        size_t had = inv->count;
        bool more = false;
        rc = tf_smc_parse_res(buf, got, inv->elem, cap, &inv->count, &more, &inv->barcodes, err);
        if (rc != TF_OK) {
            tf_err_prefix(err, "changer %s: ", self->url);
            break;
        }
        /* Keep only elements of this type at or after start (some changers ignore the type). */
        size_t keep = had;
        uint16_t last = start;
        for (size_t i = had; i < inv->count; i++) {
            if (inv->elem[i].type == type && inv->elem[i].address >= start) {
                if (inv->elem[i].address >= last)
                    last = inv->elem[i].address;
                inv->elem[keep++] = inv->elem[i];
            }
        }
        inv->count = keep;
        if (keep == had || !more || (expect && inv->count - before >= expect) || last == 0xFFFF)
            break;
        start = (uint16_t) (last + 1);
    }
    free(buf);
    return rc;
}

static int
s_cmp_elem(const void *a, const void *b)
{
    const tf_changer_elem_t *x = a, *y = b;
    if (x->type != y->type)
        return (int) x->type - (int) y->type;
    return (int) x->address - (int) y->address;
}

int
tf_changer_inventory(tf_changer_t *self, tf_changer_inv_t **inv_p, tf_err_t *err)
{
    *inv_p = NULL;
    tf_changer_inv_t *inv = calloc(1, sizeof *inv);
    if (!inv || !(inv->elem = calloc(S_MAX_ELEMENTS, sizeof *inv->elem))) {
        free(inv);
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    }
    tf_smc_layout_t layout;
    bool have_layout = s_layout(self, &layout);
    int rc = TF_OK;
    for (int t = TF_CHANGER_TRANSPORT; t <= TF_CHANGER_DRIVE && rc == TF_OK; t++) {
        if (have_layout && layout.count[t] == 0)
            continue;
        rc = s_read_type(self, (tf_changer_type_t) t, have_layout ? layout.first[t] : 0,
                         have_layout ? layout.count[t] : 0, inv, S_MAX_ELEMENTS, err);
    }
    if (rc != TF_OK) {
        tf_changer_inv_destroy(&inv);
        return rc;
    }
    qsort(inv->elem, inv->count, sizeof *inv->elem, s_cmp_elem);
    int number = 0;
    for (size_t i = 0; i < inv->count; i++) {
        if (i == 0 || inv->elem[i].type != inv->elem[i - 1].type)
            number = inv->elem[i].type == TF_CHANGER_SLOT || inv->elem[i].type == TF_CHANGER_IE
                         ? 1
                         : 0;
        inv->elem[i].number = number++;
        if (!inv->elem[i].full)
            inv->elem[i].barcode[0] = '\0';
    }
    const tf_changer_elem_t *picker = tf_changer_inv_find(inv, TF_CHANGER_TRANSPORT, 0);
    self->transport_addr = picker ? picker->address : 0;
    if (tf_changer_inv_count(inv, TF_CHANGER_SLOT) == 0
        && tf_changer_inv_count(inv, TF_CHANGER_DRIVE) == 0) {
        tf_changer_inv_destroy(&inv);
        return tf_err_set(err, TF_ERR_DEVICE,
                          "changer %s reports no slots and no drives: check the library's "
                          "configuration (partitions, element setup) and that this is its "
                          "robot",
                          self->url);
    }
    *inv_p = inv;
    return TF_OK;
}

void
tf_changer_inv_destroy(tf_changer_inv_t **self_p)
{
    if (self_p && *self_p) {
        free((*self_p)->elem);
        free(*self_p);
        *self_p = NULL;
    }
}

const tf_changer_elem_t *
tf_changer_inv_find(const tf_changer_inv_t *inv, tf_changer_type_t type, int number)
{
    for (size_t i = 0; inv && i < inv->count; i++)
        if (inv->elem[i].type == type && inv->elem[i].number == number)
            return &inv->elem[i];
    return NULL;
}

const tf_changer_elem_t *
tf_changer_inv_by_address(const tf_changer_inv_t *inv, uint16_t address)
{
    for (size_t i = 0; inv && i < inv->count; i++)
        if (inv->elem[i].address == address)
            return &inv->elem[i];
    return NULL;
}

const tf_changer_elem_t *
tf_changer_inv_by_barcode(const tf_changer_inv_t *inv, const char *barcode)
{
    if (!barcode || !*barcode)
        return NULL;
    for (size_t i = 0; inv && i < inv->count; i++)
        if (inv->elem[i].full && strcmp(inv->elem[i].barcode, barcode) == 0)
            return &inv->elem[i];
    return NULL;
}

size_t
tf_changer_inv_count(const tf_changer_inv_t *inv, tf_changer_type_t type)
{
    size_t n = 0;
    for (size_t i = 0; inv && i < inv->count; i++)
        if (inv->elem[i].type == type)
            n++;
    return n;
}

const char *
tf_changer_type_name(tf_changer_type_t type)
{
    switch (type) {
    case TF_CHANGER_TRANSPORT: return "transport";
    case TF_CHANGER_SLOT: return "slot";
    case TF_CHANGER_IE: return "ie";
    case TF_CHANGER_DRIVE: return "drive";
    default: return "element";
    }
}

const char *
tf_changer_elem_name(const tf_changer_elem_t *elem, char *buf, size_t size)
{
    if (!elem)
        snprintf(buf, size, "element ?");
    else if (elem->type == TF_CHANGER_IE)
        snprintf(buf, size, "import/export slot %d", elem->number);
    else if (elem->type >= TF_CHANGER_TRANSPORT && elem->type <= TF_CHANGER_DRIVE)
        snprintf(buf, size, "%s %d", tf_changer_type_name(elem->type), elem->number);
    else
        snprintf(buf, size, "element 0x%04x", elem->address);
    return buf;
}

int
tf_changer_move(tf_changer_t *self, uint16_t from, uint16_t to, tf_err_t *err)
{
    tf_changer_move_ctx_t move;
    memset(&move, 0, sizeof move);
    snprintf(move.from, sizeof move.from, "element %u", from);
    snprintf(move.to, sizeof move.to, "element %u", to);
    return tf_changer_move_named(self, from, to, &move, err);
}

int
tf_changer_move_named(tf_changer_t *self, uint16_t from, uint16_t to,
                      const tf_changer_move_ctx_t *move, tf_err_t *err)
{
    uint8_t cdb[TF_CDB_MAX];
    int rc = s_exec(self, cdb, tf_smc_cdb_move_medium(cdb, self->transport_addr, from, to),
                    TF_XFER_NONE, NULL, 0, S_T_MOVE, move, err);
    if (rc == TF_OK)
        tf_log_info("changer %s: moved %s from %s to %s", self->url,
                    move->barcode[0] ? move->barcode : "the cartridge", move->from, move->to);
    return rc;
}
