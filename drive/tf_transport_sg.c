/*  tf_transport_sg - Linux SG_IO transport for /dev/sgN and st nodes. */
#include <errno.h>
#include <scsi/sg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "tf_sg_open.h"
#include "tf_transport.h"

typedef struct {
    int fd;
    char *path;
} s_sg_t;

static void
s_sg_destroy(void **state_p)
{
    if (state_p && *state_p) {
        s_sg_t *self = *state_p;
        if (self->fd >= 0)
            close(self->fd);
        free(self->path);
        free(self);
        *state_p = NULL;
    }
}

/* Host byte values from the Linux SCSI midlayer (DID_*). */
static const char *
s_host_status_text(unsigned host)
{
    switch (host) {
    case 0x01: return "no connection to the device";
    case 0x02: return "bus stayed busy";
    case 0x03: return "command timed out";
    case 0x04: return "bad target";
    case 0x05: return "command aborted";
    case 0x06: return "parity error";
    case 0x07: return "host adapter internal error";
    case 0x08: return "bus reset";
    case 0x0E: return "transport disrupted";
    case 0x0F: return "transport failed";
    default: return "host adapter error";
    }
}

static int
s_sg_execute(void *state, const tf_scsi_req_t *req, tf_scsi_res_t *res, tf_err_t *err)
{
    s_sg_t *self = state;
    sg_io_hdr_t io;
    memset(&io, 0, sizeof io);
    io.interface_id = 'S';
    io.cmdp = (unsigned char *) req->cdb;
    io.cmd_len = (unsigned char) req->cdb_len;
    io.sbp = res->sense;
    io.mx_sb_len = (unsigned char) sizeof res->sense;
    io.dxferp = req->data;
    io.dxfer_len = (unsigned int) req->data_len;
    io.dxfer_direction = req->dir == TF_XFER_IN    ? SG_DXFER_FROM_DEV
                         : req->dir == TF_XFER_OUT ? SG_DXFER_TO_DEV
                                                   : SG_DXFER_NONE;
    if (req->dir == TF_XFER_NONE || req->data_len == 0) {
        io.dxfer_direction = SG_DXFER_NONE;
        io.dxferp = NULL;
        io.dxfer_len = 0;
    }
    io.timeout = req->timeout_ms ? req->timeout_ms : 60000;
    if (ioctl(self->fd, SG_IO, &io) < 0) {
        int saved = errno;
        if (saved == EPERM || saved == EACCES)
            return tf_err_set(err, TF_ERR_STATE,
                              "SG_IO on %s not permitted: SCSI pass-through on st nodes needs "
                              "CAP_SYS_RAWIO; use the drive's sg node (tapeflow drive list) or "
                              "run as root",
                              self->path);
        return tf_err_errno(err, TF_ERR_IO, saved, "SG_IO on %s failed", self->path);
    }
    if (io.host_status != 0)
        return tf_err_set(err, io.host_status == 0x03 ? TF_ERR_TIMEOUT : TF_ERR_IO,
                          "%s: %s (host status 0x%02x): check cabling, HBA and drive power",
                          self->path, s_host_status_text(io.host_status), io.host_status);
    if ((io.driver_status & 0x0F) == 0x06) /* DRIVER_TIMEOUT */
        return tf_err_set(err, TF_ERR_TIMEOUT, "%s: command 0x%02x timed out after %u ms",
                          self->path, req->cdb[0], io.timeout);
    res->status = io.status;
    res->sense_len = io.sb_len_wr;
    res->resid = io.resid > 0 ? (size_t) io.resid : 0;
    return TF_OK;
}

static const tf_transport_ops_t s_sg_ops = {"sg", s_sg_execute, s_sg_destroy};

tf_transport_t *
tf_transport_sg_open(const char *path, tf_err_t *err)
{
    int fd = -1;
    if (tf_sg_open(path, "/proc", &fd, err) != TF_OK)
        return NULL;
    s_sg_t *self = calloc(1, sizeof *self);
    if (!self || !(self->path = strdup(path))) {
        free(self);
        close(fd);
        tf_err_set(err, TF_ERR_NOMEM, "out of memory opening %s", path);
        return NULL;
    }
    self->fd = fd;
    char url[4200];
    snprintf(url, sizeof url, "sg:%s", path);
    tf_transport_t *transport = tf_transport_new(&s_sg_ops, self, url);
    if (!transport)
        tf_err_set(err, TF_ERR_NOMEM, "out of memory opening %s", path);
    return transport;
}
