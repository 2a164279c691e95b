/*  tf_sim - simulated SSC drive: lifecycle, fault gates and command dispatch. */
#include "tf_sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tf_cdb.h"
#include "tf_clock.h"
#include "tf_sim_priv.h"

tf_sim_t *
tf_sim_new(const char *spec, tf_err_t *err)
{
    if (!spec || !*spec) {
        tf_err_set(err, TF_ERR_INVALID, "sim: needs an image path, e.g. sim:/var/tmp/tape.img");
        return NULL;
    }
    tf_sim_t *self = calloc(1, sizeof *self);
    if (!self || !(self->path = strdup(spec))) {
        free(self);
        tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    char *query = strchr(self->path, '?');
    if (query)
        *query++ = '\0';
    tf_sim_opts_defaults(&self->opts);
    if (tf_sim_opts_parse(query, &self->opts, err) != TF_OK) {
        tf_sim_destroy(&self);
        return NULL;
    }
    self->img = tf_simimg_open(self->path, self->opts.serial, err);
    if (!self->img) {
        tf_sim_destroy(&self);
        return NULL;
    }
    /* A drive a sim changer emptied: no cartridge, and none can be loaded but by the robot. */
    char target[64];
    ssize_t n = readlink(self->path, target, sizeof target - 1);
    if (n > 0) {
        target[n] = '\0';
        size_t len = strlen(target), suffix = strlen(TF_SIM_EMPTY_SUFFIX);
        if (len > suffix && strcmp(target + len - suffix, TF_SIM_EMPTY_SUFFIX) == 0)
            self->opts.no_medium = true;
    }
    self->loaded = !self->opts.no_medium;
    self->open_ms = tf_clock_mono_ms();
    self->pending_ua = self->opts.unit_attention;
    return self;
}

void
tf_sim_destroy(tf_sim_t **self_p)
{
    if (self_p && *self_p) {
        tf_sim_t *self = *self_p;
        tf_simimg_destroy(&self->img);
        free(self->path);
        free(self);
        *self_p = NULL;
    }
}

void
tf_sim_check(tf_sim_t *self, tf_scsi_res_t *res, uint8_t key, uint8_t asc, uint8_t ascq,
             unsigned flags, int64_t info)
{
    if (self->opts.descriptor_sense)
        flags |= TF_SENSE_F_DESCRIPTOR;
    res->status = TF_SCSI_CHECK_CONDITION;
    res->sense_len = tf_sense_build(res->sense, sizeof res->sense, key, asc, ascq, flags, info);
    memcpy(self->last_sense, res->sense, res->sense_len);
    self->last_sense_len = res->sense_len;
}

static uint64_t
s_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

void
tf_sim_throttle(tf_sim_t *self, uint64_t bytes)
{
    if (self->opts.rate == 0 || bytes == 0)
        return;
    uint64_t now = s_now_us();
    uint64_t start = self->busy_until_us > now ? self->busy_until_us : now;
    self->busy_until_us = start + (uint64_t) ((double) bytes * 1e6 / (double) self->opts.rate);
    if (self->busy_until_us > now + 1000) {
        uint64_t wait = self->busy_until_us - now;
        struct timespec ts = {(time_t) (wait / 1000000u), (long) (wait % 1000000u) * 1000};
        nanosleep(&ts, NULL);
    }
}

void
tf_sim_alert(tf_sim_t *self, int flag)
{
    if (flag < 1 || flag > 64)
        return;
    uint64_t flags = tf_simimg_alerts(self->img) | (1ull << (flag - 1));
    tf_err_t ignored;
    tf_simimg_set_alerts(self->img, flags, &ignored);
}

void
tf_sim_reply(const tf_scsi_req_t *req, tf_scsi_res_t *res, const void *data, size_t len)
{
    size_t n = len < req->data_len ? len : req->data_len;
    if (n && req->data)
        memcpy(req->data, data, n);
    res->resid = req->data_len - n;
}

/* Commands a drive answers without a ready cartridge. */
static bool
s_needs_medium(uint8_t op)
{
    switch (op) {
    case TF_OP_INQUIRY:
    case TF_OP_REQUEST_SENSE:
    case TF_OP_READ_BLOCK_LIMITS:
    case TF_OP_MODE_SENSE6:
    case TF_OP_MODE_SELECT6:
    case TF_OP_LOG_SENSE:
    case TF_OP_LOAD_UNLOAD:
    case TF_OP_PREVENT_ALLOW:
        return false;
    default:
        return true;
    }
}

static bool
s_unsupported_by_tgt(uint8_t op)
{
    return op == TF_OP_LOCATE16 || op == TF_OP_ERASE6 || op == TF_OP_LOG_SENSE
           || op == TF_OP_SPACE16;
}

/* Fault gates: busy, becoming ready, no medium, unit attention. True when answered. */
static bool
s_gate(tf_sim_t *self, uint8_t op, tf_scsi_res_t *res)
{
    if (op == TF_OP_INQUIRY || op == TF_OP_REQUEST_SENSE)
        return false;
    int64_t since = tf_clock_mono_ms() - self->open_ms;
    if (self->opts.busy_s > 0 && since < (int64_t) (self->opts.busy_s * 1000)) {
        res->status = TF_SCSI_BUSY;
        return true;
    }
    if (self->loaded && self->opts.not_ready_s > 0
        && since < (int64_t) (self->opts.not_ready_s * 1000) && op != TF_OP_LOAD_UNLOAD) {
        tf_sim_check(self, res, TF_SENSE_NOT_READY, 0x04, 0x01, 0, 0);
        return true;
    }
    if (!self->loaded && s_needs_medium(op)) {
        tf_sim_check(self, res, TF_SENSE_NOT_READY, 0x3A, 0x00, 0, 0);
        return true;
    }
    if (self->pending_ua && self->loaded) {
        uint8_t asc = self->pending_ua;
        self->pending_ua = 0;
        self->pos = 0;
        tf_sim_check(self, res, TF_SENSE_UNIT_ATTENTION, asc, 0x00, 0, 0);
        return true;
    }
    return false;
}

static void
s_load_unload(tf_sim_t *self, const tf_scsi_req_t *req, tf_scsi_res_t *res)
{
    bool load = (req->cdb[4] & 0x01) != 0;
    self->pos = 0;
    if (!load) {
        self->loaded = false;
        return;
    }
    if (self->opts.no_medium) {
        tf_sim_check(self, res, TF_SENSE_NOT_READY, 0x3A, 0x00, 0, 0);
        return;
    }
    bool was_loaded = self->loaded;
    self->loaded = true;
    if (!was_loaded)
        self->pending_ua = self->opts.unit_attention ? self->opts.unit_attention : 0x28;
}

int
tf_sim_execute(tf_sim_t *self, const tf_scsi_req_t *req, tf_scsi_res_t *res, tf_err_t *err)
{
    uint8_t op = req->cdb[0];
    res->status = TF_SCSI_GOOD;
    res->resid = req->dir == TF_XFER_IN ? req->data_len : 0;
    if (s_gate(self, op, res))
        return TF_OK;
    if (self->opts.tgt_quirks && s_unsupported_by_tgt(op)) {
        tf_sim_check(self, res, TF_SENSE_ILLEGAL_REQUEST, 0x20, 0x00, 0, 0);
        return TF_OK;
    }
    switch (op) {
    case TF_OP_TEST_UNIT_READY:
    case TF_OP_PREVENT_ALLOW:
        return TF_OK;
    case TF_OP_REWIND:
        self->pos = 0;
        return TF_OK;
    case TF_OP_REQUEST_SENSE:
        tf_sim_request_sense(self, req, res);
        return TF_OK;
    case TF_OP_READ_BLOCK_LIMITS:
        tf_sim_read_block_limits(self, req, res);
        return TF_OK;
    case TF_OP_READ6:
        return tf_sim_read6(self, req, res, err);
    case TF_OP_WRITE6:
        return tf_sim_write6(self, req, res, err);
    case TF_OP_WRITE_FILEMARKS6:
        return tf_sim_write_filemarks(self, req, res, err);
    case TF_OP_SPACE6:
        tf_sim_space(self, req->cdb[1] & 0x0F, tf_cdb_get_be24_signed(req->cdb + 2), res);
        return TF_OK;
    case TF_OP_SPACE16:
        if (req->cdb_len < 16) {
            tf_sim_check(self, res, TF_SENSE_ILLEGAL_REQUEST, 0x24, 0x00, 0, 0);
            return TF_OK;
        }
        tf_sim_space(self, req->cdb[1] & 0x0F, (int64_t) tf_cdb_get_be(req->cdb + 4, 8), res);
        return TF_OK;
    case TF_OP_INQUIRY:
        tf_sim_inquiry(self, req, res);
        return TF_OK;
    case TF_OP_MODE_SELECT6:
        tf_sim_mode_select6(self, req, res);
        return TF_OK;
    case TF_OP_MODE_SENSE6:
        tf_sim_mode_sense6(self, req, res);
        return TF_OK;
    case TF_OP_ERASE6:
        return tf_sim_erase(self, req, res, err);
    case TF_OP_LOAD_UNLOAD:
        s_load_unload(self, req, res);
        return TF_OK;
    case TF_OP_READ_POSITION:
        tf_sim_read_position(self, req, res);
        return TF_OK;
    case TF_OP_LOG_SENSE:
        tf_sim_log_sense(self, req, res);
        return TF_OK;
    case TF_OP_LOCATE16:
        tf_sim_locate16(self, req, res);
        return TF_OK;
    default:
        tf_sim_check(self, res, TF_SENSE_ILLEGAL_REQUEST, 0x20, 0x00, 0, 0);
        return TF_OK;
    }
}
