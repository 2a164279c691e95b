/*  tf_sim_changer - the simulated changer: lifecycle and SMC command handling. */
#include "tf_sim_changer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tf_cdb.h"
#include "tf_changer_smc.h"
#include "tf_sim.h"
#include "tf_sim_changer_priv.h"
#include "tf_sim_image.h"

tf_simchg_t *
tf_simchg_new(const char *spec, tf_err_t *err)
{
    if (!spec || !*spec || *spec == '?') {
        tf_err_set(err, TF_ERR_INVALID,
                   "sim changer needs a state file path, e.g. sim:/var/tmp/lib/changer.state"
                   "?type=8&slots=8");
        return NULL;
    }
    tf_simchg_t *self = calloc(1, sizeof *self);
    if (!self || !(self->path = strdup(spec)) || !(self->state = calloc(1, sizeof *self->state))) {
        if (self)
            free(self->path);
        free(self);
        tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    char *query = strchr(self->path, '?');
    if (query)
        *query++ = '\0';
    size_t len = strlen(self->path);
    if (tf_simchg_opts_parse(query, &self->opts, err) != TF_OK) {
        tf_simchg_destroy(&self);
        return NULL;
    }
    if (!(self->lock_path = malloc(len + 6)) || !(self->dir = strdup(self->path))) {
        tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        tf_simchg_destroy(&self);
        return NULL;
    }
    snprintf(self->lock_path, len + 6, "%s.lock", self->path);
    char *slash = strrchr(self->dir, '/');
    if (!slash)
        snprintf(self->dir, len + 1, ".");
    else if (slash == self->dir)
        slash[1] = '\0';
    else
        *slash = '\0';
    self->pending_ua = self->opts.ua;
    int fd = -1;
    int rc = tf_simchg_lock(self, &fd, err);
    if (rc == TF_OK)
        rc = tf_simchg_load(self, err);
    tf_simchg_unlock(&fd);
    if (rc != TF_OK)
        tf_simchg_destroy(&self);
    return self;
}

void
tf_simchg_destroy(tf_simchg_t **self_p)
{
    if (self_p && *self_p) {
        tf_simchg_t *self = *self_p;
        free(self->path);
        free(self->dir);
        free(self->lock_path);
        free(self->state);
        free(self);
        *self_p = NULL;
    }
}

static void
s_check(tf_simchg_t *self, tf_scsi_res_t *res, uint8_t key, unsigned code)
{
    unsigned flags = self->opts.descriptor ? TF_SENSE_F_DESCRIPTOR : 0;
    res->status = TF_SCSI_CHECK_CONDITION;
    res->sense_len = tf_sense_build(res->sense, sizeof res->sense, key, (uint8_t) (code >> 8),
                                    (uint8_t) (code & 0xFF), flags, 0);
    memcpy(self->last_sense, res->sense, res->sense_len);
    self->last_sense_len = res->sense_len;
}

static void
s_reply(const tf_scsi_req_t *req, tf_scsi_res_t *res, const void *data, size_t len)
{
    size_t n = len < req->data_len ? len : req->data_len;
    if (n && req->data)
        memcpy(req->data, data, n);
    res->resid = req->data_len - n;
}

static void
s_inquiry(tf_simchg_t *self, const tf_scsi_req_t *req, tf_scsi_res_t *res)
{
    uint8_t buf[96];
    memset(buf, 0, sizeof buf);
    if (req->cdb[1] & 0x01) {
        if (req->cdb[2] == 0x00) {
            const uint8_t pages[] = {0x00, 0x80};
            buf[1] = 0x00;
            buf[3] = sizeof pages;
            memcpy(buf + 4, pages, sizeof pages);
            buf[0] = 0x08;
            s_reply(req, res, buf, 4 + sizeof pages);
        } else if (req->cdb[2] == 0x80) {
            unsigned hash = 5381;
            for (const char *p = self->path; *p; p++)
                hash = hash * 33 + (unsigned char) *p;
            buf[0] = 0x08;
            buf[1] = 0x80;
            int n = snprintf((char *) buf + 4, sizeof buf - 4, "SIMCHG%08X", hash);
            buf[3] = (uint8_t) n;
            s_reply(req, res, buf, 4 + (size_t) n);
        } else {
            s_check(self, res, TF_SENSE_ILLEGAL_REQUEST, TF_SMC_INVALID_FIELD);
        }
        return;
    }
    buf[0] = 0x08; /* medium changer */
    buf[1] = 0x80; /* removable */
    buf[2] = 0x05;
    buf[3] = 0x02;
    buf[4] = 91;
    memcpy(buf + 8, "TAPEFLOW", 8);
    memcpy(buf + 16, "SIM CHANGER     ", 16);
    memcpy(buf + 32, "0001", 4);
    s_reply(req, res, buf, sizeof buf);
}

static void
s_layout(tf_simchg_t *self, tf_smc_layout_t *layout)
{
    memset(layout, 0, sizeof *layout);
    for (size_t i = 0; i < self->state->count; i++) {
        const tf_changer_elem_t *e = &self->state->elem[i];
        if (layout->count[e->type] == 0 || e->address < layout->first[e->type])
            layout->first[e->type] = e->address;
        layout->count[e->type]++;
    }
}

static void
s_mode_sense(tf_simchg_t *self, const tf_scsi_req_t *req, tf_scsi_res_t *res)
{
    uint8_t page = req->cdb[2] & 0x3F;
    if (self->opts.no_eaa || (page != TF_SMC_PAGE_EAA && page != 0x3F)) {
        s_check(self, res, TF_SENSE_ILLEGAL_REQUEST, TF_SMC_INVALID_FIELD);
        return;
    }
    uint8_t buf[4 + 20];
    memset(buf, 0, 4);
    tf_smc_layout_t layout;
    s_layout(self, &layout);
    size_t n = tf_smc_build_eaa(buf + 4, sizeof buf - 4, &layout);
    buf[0] = (uint8_t) (3 + n);
    size_t alloc = req->cdb[4];
    s_reply(req, res, buf, 4 + n < alloc ? 4 + n : alloc);
}

/* Elements in the order READ ELEMENT STATUS reports them: transport, slots, ie, drives. */
static size_t
s_select(tf_simchg_t *self, tf_changer_type_t type, uint16_t start, uint16_t max,
         tf_changer_elem_t *out)
{
    size_t n = 0;
    for (int t = TF_CHANGER_TRANSPORT; t <= TF_CHANGER_DRIVE; t++) {
        if (type != TF_CHANGER_ALL && t != (int) type)
            continue;
        for (size_t i = 0; i < self->state->count && n < max; i++) {
            const tf_changer_elem_t *e = &self->state->elem[i];
            if ((int) e->type == t && e->address >= start)
                out[n++] = *e;
        }
    }
    return n;
}

static int
s_read_element_status(tf_simchg_t *self, const tf_scsi_req_t *req, tf_scsi_res_t *res,
                      tf_err_t *err)
{
    const uint8_t *cdb = req->cdb;
    unsigned type = cdb[1] & 0x0F;
    bool voltag = (cdb[1] & 0x10) != 0;
    uint16_t start = (uint16_t) tf_cdb_get_be(cdb + 2, 2);
    uint16_t max = (uint16_t) tf_cdb_get_be(cdb + 4, 2);
    size_t alloc = (size_t) tf_cdb_get_be(cdb + 7, 3);
    if (req->cdb_len < 12 || type > TF_CHANGER_DRIVE || (voltag && self->opts.no_barcodes)) {
        s_check(self, res, TF_SENSE_ILLEGAL_REQUEST, TF_SMC_INVALID_FIELD);
        return TF_OK;
    }
    tf_changer_elem_t *sel = calloc(TF_SIMCHG_MAX_ELEMS, sizeof *sel);
    uint8_t *buf = alloc ? malloc(alloc) : NULL;
    if (!sel || (alloc && !buf)) {
        free(sel);
        free(buf);
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    }
    size_t n = s_select(self, (tf_changer_type_t) type, start, max, sel);
    size_t full = tf_smc_build_res(buf, alloc, sel, n, voltag);
    s_reply(req, res, buf, full < alloc ? full : alloc);
    free(sel);
    free(buf);
    return TF_OK;
}

static tf_changer_elem_t *
s_elem(tf_simchg_t *self, uint16_t address)
{
    for (size_t i = 0; i < self->state->count; i++)
        if (self->state->elem[i].address == address)
            return &self->state->elem[i];
    return NULL;
}

/* True when a sim drive has the cartridge image open (it holds its flock). */
static bool
s_cart_in_use(tf_simchg_t *self, const char *barcode)
{
    char path[4200];
    tf_simchg_cart_path(self, barcode, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool busy = flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd);
    return busy;
}

/* Points DIR/driveN.img at the cartridge (load), or removes it (unload). */
static int
s_link(tf_simchg_t *self, const tf_changer_elem_t *drive, const char *barcode, tf_err_t *err)
{
    char link[4200];
    tf_simchg_drive_path(self, tf_simchg_drive_number(self, drive), link, sizeof link);
    if (unlink(link) != 0 && errno != ENOENT)
        return tf_err_errno(err, TF_ERR_IO, errno, "sim changer: cannot remove %s", link);
    if (!barcode) {
        /* An emptied drive answers MEDIUM NOT PRESENT, as a real one does (tf_sim.h). */
        char empty[64];
        snprintf(empty, sizeof empty, "drive%d%s", tf_simchg_drive_number(self, drive), TF_SIM_EMPTY_SUFFIX);
        if (symlink(empty, link) != 0)
            return tf_err_errno(err, TF_ERR_IO, errno, "sim changer: cannot mark %s empty", link);
        return TF_OK;
    }
    char cart[4200];
    tf_simchg_cart_path(self, barcode, cart, sizeof cart);
    struct stat st;
    if (stat(cart, &st) != 0) { /* a lost image is a blank cartridge */
        tf_simimg_t *img = tf_simimg_open(cart, barcode, err);
        if (!img)
            return tf_err_prefix(err, "sim changer: ");
        tf_simimg_destroy(&img);
    }
    char target[64];
    snprintf(target, sizeof target, "%s.img", barcode);
    if (symlink(target, link) != 0)
        return tf_err_errno(err, TF_ERR_IO, errno, "sim changer: cannot link %s", link);
    return TF_OK;
}

/* PATH.moves: one line per MOVE MEDIUM - "pid from-address to-address barcode outcome" (ok, or
   the sense as key/asc/ascq) - so tests can see who moved what and whether the robot refused. */
static void
s_journal(tf_simchg_t *self, const tf_scsi_req_t *req, const tf_scsi_res_t *res, const char *barcode)
{
    char path[4200];
    snprintf(path, sizeof path, "%s.moves", self->path);
    FILE *f = fopen(path, "a");
    if (!f)
        return;   /* an observation aid: the move itself does not depend on it */
    char outcome[32] = "ok";
    const uint8_t *sense = self->last_sense;
    bool descriptor = self->last_sense_len >= 4 && (sense[0] & 0x7f) >= 0x72;
    if (res->status != TF_SCSI_GOOD && descriptor)
        snprintf(outcome, sizeof outcome, "sense-%x/%02x/%02x", sense[1] & 0x0f, sense[2], sense[3]);
    else if (res->status != TF_SCSI_GOOD && self->last_sense_len >= 14)
        snprintf(outcome, sizeof outcome, "sense-%x/%02x/%02x", sense[2] & 0x0f, sense[12], sense[13]);
    else if (res->status != TF_SCSI_GOOD)
        snprintf(outcome, sizeof outcome, "refused");
    fprintf(f, "%d %u %u %s %s\n", (int) getpid(), (unsigned) tf_cdb_get_be(req->cdb + 4, 2),
            (unsigned) tf_cdb_get_be(req->cdb + 6, 2), barcode && *barcode ? barcode : "-", outcome);
    fclose(f);
}

static int s_move_elems(tf_simchg_t *self, const tf_scsi_req_t *req, tf_scsi_res_t *res, tf_err_t *err);

static int
s_move(tf_simchg_t *self, const tf_scsi_req_t *req, tf_scsi_res_t *res, tf_err_t *err)
{
    tf_changer_elem_t *from = req->cdb_len >= 12 ? s_elem(self, (uint16_t) tf_cdb_get_be(req->cdb + 4, 2)) : NULL;
    char barcode[TF_CHANGER_BARCODE_MAX + 1] = "";
    if (from)
        snprintf(barcode, sizeof barcode, "%s", from->barcode);
    int rc = s_move_elems(self, req, res, err);
    if (rc == TF_OK)
        s_journal(self, req, res, barcode);
    return rc;
}

static int
s_move_elems(tf_simchg_t *self, const tf_scsi_req_t *req, tf_scsi_res_t *res, tf_err_t *err)
{
    tf_changer_elem_t *from = s_elem(self, (uint16_t) tf_cdb_get_be(req->cdb + 4, 2));
    tf_changer_elem_t *to = s_elem(self, (uint16_t) tf_cdb_get_be(req->cdb + 6, 2));
    if (req->cdb_len < 12 || !from || !to || from == to || from->type == TF_CHANGER_TRANSPORT
        || to->type == TF_CHANGER_TRANSPORT) {
        s_check(self, res, TF_SENSE_ILLEGAL_REQUEST, TF_SMC_INVALID_ELEMENT);
        return TF_OK;
    }
    if (self->opts.door_open) {
        s_check(self, res, TF_SENSE_NOT_READY, TF_SMC_DOOR_OPEN);
        return TF_OK;
    }
    if (!from->full) {
        s_check(self, res, TF_SENSE_ILLEGAL_REQUEST, TF_SMC_SOURCE_EMPTY);
        return TF_OK;
    }
    if (to->full) {
        s_check(self, res, TF_SENSE_ILLEGAL_REQUEST, TF_SMC_DEST_FULL);
        return TF_OK;
    }
    if (self->opts.stuck) {
        s_check(self, res, TF_SENSE_HARDWARE_ERROR, TF_SMC_POSITIONING);
        return TF_OK;
    }
    if (from->type == TF_CHANGER_DRIVE && s_cart_in_use(self, from->barcode)) {
        s_check(self, res, TF_SENSE_ILLEGAL_REQUEST, TF_SMC_REMOVAL_PREVENTED);
        return TF_OK;
    }
    int rc = TF_OK;
    if (from->type == TF_CHANGER_DRIVE)
        rc = s_link(self, from, NULL, err);
    if (rc == TF_OK && to->type == TF_CHANGER_DRIVE)
        rc = s_link(self, to, from->barcode, err);
    if (rc != TF_OK)
        return rc;
    to->full = true;
    snprintf(to->barcode, sizeof to->barcode, "%s", from->barcode);
    bool home = from->type == TF_CHANGER_SLOT || from->type == TF_CHANGER_IE;
    to->source_valid = home ? true : from->source_valid;
    to->source = home ? from->address : from->source;
    from->full = false;
    from->barcode[0] = '\0';
    from->source_valid = false;
    from->source = 0;
    return tf_simchg_save(self, err);
}

/* Commands answered before the unit attention and regardless of the door. */
static bool
s_no_gate(uint8_t op)
{
    return op == TF_OP_INQUIRY || op == TF_OP_REQUEST_SENSE;
}

int
tf_simchg_execute(tf_simchg_t *self, const tf_scsi_req_t *req, tf_scsi_res_t *res,
                  tf_err_t *err)
{
    uint8_t op = req->cdb[0];
    res->status = TF_SCSI_GOOD;
    res->resid = req->dir == TF_XFER_IN ? req->data_len : 0;
    if (!s_no_gate(op) && self->pending_ua) {
        uint8_t asc = self->pending_ua;
        self->pending_ua = 0;
        s_check(self, res, TF_SENSE_UNIT_ATTENTION, (unsigned) asc << 8);
        return TF_OK;
    }
    int fd = -1;
    int rc = tf_simchg_lock(self, &fd, err);
    if (rc == TF_OK)
        rc = tf_simchg_load(self, err);
    if (rc != TF_OK) {
        tf_simchg_unlock(&fd);
        return rc;
    }
    switch (op) {
    case TF_OP_TEST_UNIT_READY:
        if (self->opts.door_open)
            s_check(self, res, TF_SENSE_NOT_READY, TF_SMC_DOOR_OPEN);
        break;
    case TF_OP_REQUEST_SENSE:
        s_reply(req, res, self->last_sense, self->last_sense_len);
        self->last_sense_len = 0;
        break;
    case TF_OP_INQUIRY:
        s_inquiry(self, req, res);
        break;
    case TF_OP_MODE_SENSE6:
        s_mode_sense(self, req, res);
        break;
    case TF_OP_READ_ELEMENT_STATUS:
        rc = s_read_element_status(self, req, res, err);
        break;
    case TF_OP_MOVE_MEDIUM:
        rc = s_move(self, req, res, err);
        break;
    case TF_OP_INIT_ELEMENT_STATUS:
    case TF_OP_PREVENT_ALLOW:
        break;
    default:
        s_check(self, res, TF_SENSE_ILLEGAL_REQUEST, 0x2000);
        break;
    }
    tf_simchg_unlock(&fd);
    return rc;
}

static int
s_execute(void *state, const tf_scsi_req_t *req, tf_scsi_res_t *res, tf_err_t *err)
{
    return tf_simchg_execute(state, req, res, err);
}

static void
s_destroy(void **state_p)
{
    if (state_p && *state_p) {
        tf_simchg_t *sim = *state_p;
        tf_simchg_destroy(&sim);
        *state_p = NULL;
    }
}

static const tf_transport_ops_t s_ops = {"sim", s_execute, s_destroy};

tf_transport_t *
tf_sim_changer_transport_open(const char *spec, tf_err_t *err)
{
    tf_simchg_t *sim = tf_simchg_new(spec, err);
    if (!sim)
        return NULL;
    size_t size = strlen(spec) + 8;
    char *url = malloc(size);
    if (!url) {
        tf_simchg_destroy(&sim);
        tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    snprintf(url, size, "sim:%s", spec);
    tf_transport_t *transport = tf_transport_new(&s_ops, sim, url);
    free(url);
    if (!transport)
        tf_err_set(err, TF_ERR_NOMEM, "out of memory opening sim:%s", spec);
    return transport;
}

int
tf_sim_changer_drive_url(const char *changer_url, int drive, char *buf, size_t size)
{
    if (!changer_url || strncmp(changer_url, "sim:", 4) != 0 || drive < 0)
        return TF_ERR_INVALID;
    const char *path = changer_url + 4;
    size_t len = strcspn(path, "?");
    const char *slash = NULL;
    for (size_t i = 0; i < len; i++)
        if (path[i] == '/')
            slash = path + i;
    if (!slash)
        snprintf(buf, size, "sim:drive%d.img", drive);
    else
        snprintf(buf, size, "sim:%.*s/drive%d.img", (int) (slash - path), path, drive);
    return TF_OK;
}
