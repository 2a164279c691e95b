/*  tf_transport_iscsi - iSCSI transport on libiscsi's synchronous API. */
#include <errno.h>
#include <iscsi/iscsi.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <iscsi/scsi-lowlevel.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tf_transport.h"

#define S_INITIATOR "iqn.2026-11.org.tapeflow:initiator"

typedef struct {
    struct iscsi_context *iscsi;
    int lun;
    char portal[256];
    char target[256];
} s_iscsi_t;

static void
s_iscsi_destroy(void **state_p)
{
    if (state_p && *state_p) {
        s_iscsi_t *self = *state_p;
        if (self->iscsi) {
            if (iscsi_is_logged_in(self->iscsi))
                iscsi_logout_sync(self->iscsi);
            iscsi_destroy_context(self->iscsi);
        }
        free(self);
        *state_p = NULL;
    }
}

static int
s_iscsi_execute(void *state, const tf_scsi_req_t *req, tf_scsi_res_t *res, tf_err_t *err)
{
    s_iscsi_t *self = state;
    int dir = SCSI_XFER_NONE;
    if (req->data_len > 0 && req->dir == TF_XFER_IN)
        dir = SCSI_XFER_READ;
    else if (req->data_len > 0 && req->dir == TF_XFER_OUT)
        dir = SCSI_XFER_WRITE;
    struct scsi_task *task = scsi_create_task((int) req->cdb_len, (unsigned char *) req->cdb, dir,
                                              (int) req->data_len);
    if (!task)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory building an iSCSI task");
    /* Data-in lands straight in the caller's buffer, so sense data cannot overwrite it. */
    if (dir == SCSI_XFER_READ
        && scsi_task_add_data_in_buffer(task, (int) req->data_len, req->data) != 0) {
        scsi_free_scsi_task(task);
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory building an iSCSI task");
    }
    struct iscsi_data out = {0, NULL};
    if (dir == SCSI_XFER_WRITE) {
        out.size = req->data_len;
        out.data = req->data;
    }
    unsigned timeout_s = req->timeout_ms ? (req->timeout_ms + 999) / 1000 : 60;
    iscsi_set_timeout(self->iscsi, (int) timeout_s);
    struct scsi_task *done = iscsi_scsi_command_sync(self->iscsi, self->lun, task,
                                                     dir == SCSI_XFER_WRITE ? &out : NULL);
    if (!done) {
        int rc = tf_err_set(err, TF_ERR_IO, "iSCSI command 0x%02x to %s (%s) failed: %s",
                            req->cdb[0], self->target, self->portal, iscsi_get_error(self->iscsi));
        scsi_free_scsi_task(task);
        return rc;
    }
    int status = task->status;
    if (status == SCSI_STATUS_TIMEOUT || status == SCSI_STATUS_CANCELLED
        || status == SCSI_STATUS_ERROR) {
        int rc = tf_err_set(err, status == SCSI_STATUS_TIMEOUT ? TF_ERR_TIMEOUT : TF_ERR_IO,
                            "iSCSI command 0x%02x to %s (%s) %s: %s", req->cdb[0], self->target,
                            self->portal,
                            status == SCSI_STATUS_TIMEOUT ? "timed out" : "failed",
                            iscsi_get_error(self->iscsi));
        scsi_free_scsi_task(task);
        return rc;
    }
    res->status = status;
    if (status == SCSI_STATUS_CHECK_CONDITION && task->datain.size >= 2 && task->datain.data) {
        /* libiscsi keeps the raw sense segment: 2-byte length, then the sense bytes. */
        size_t len = ((size_t) task->datain.data[0] << 8) | task->datain.data[1];
        size_t have = (size_t) task->datain.size - 2;
        if (len > have)
            len = have;
        if (len > sizeof res->sense)
            len = sizeof res->sense;
        memcpy(res->sense, task->datain.data + 2, len);
        res->sense_len = len;
    }
    if (task->residual_status == SCSI_RESIDUAL_UNDERFLOW)
        res->resid = task->residual;
    scsi_free_scsi_task(task);
    return TF_OK;
}

static const tf_transport_ops_t s_iscsi_ops = {"iscsi", s_iscsi_execute, s_iscsi_destroy};

/* A plain TCP connect to the portal, to tell "refused" and "unreachable" apart when libiscsi's
   own message does not. Returns 0 when it connects, else the errno. */
static int
s_probe_portal(const char *portal)
{
    char host[256];
    snprintf(host, sizeof host, "%s", portal);
    char *port = "3260";
    char *colon = strrchr(host, ':');
    if (host[0] == '[') {
        char *close_bracket = strchr(host, ']');
        if (close_bracket) {
            *close_bracket = '\0';
            if (close_bracket[1] == ':')
                port = close_bracket + 2;
            memmove(host, host + 1, strlen(host));
        }
    } else if (colon) {
        *colon = '\0';
        port = colon + 1;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &res) != 0 || !res)
        return EHOSTUNREACH;
    int result = ECONNREFUSED;
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        struct timeval tv = {5, 0};
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        result = connect(fd, res->ai_addr, res->ai_addrlen) == 0 ? 0 : errno;
        close(fd);
    }
    freeaddrinfo(res);
    return result;
}

/* Turns libiscsi's connect error into what the operator should check. */
static int
s_connect_error(s_iscsi_t *self, const char *url, tf_err_t *err)
{
    char why[256];
    snprintf(why, sizeof why, "%s", iscsi_get_error(self->iscsi) ? iscsi_get_error(self->iscsi)
                                                                   : "unknown error");
    why[strcspn(why, "\r\n")] = '\0';
    int tcp = s_probe_portal(self->portal);
    if (tcp == ECONNREFUSED || strstr(why, "refused"))
        return tf_err_set(err, TF_ERR_IO,
                          "iSCSI portal %s refused the connection: is the target daemon "
                          "(e.g. tgtd) running and listening on that address and port?",
                          self->portal);
    if (tcp != 0)
        return tf_err_set(err, TF_ERR_IO,
                          "iSCSI portal %s cannot be reached (%s): check the address, routing "
                          "and firewalls",
                          self->portal, strerror(tcp));
    if (strstr(why, "ogin") || strstr(why, "arget not found") || strstr(why, "authoriz"))
        return tf_err_set(err, TF_ERR_NOTFOUND,
                          "login to iSCSI target %s at %s failed (%s): check the target name "
                          "(IQN) in the URL and that the target allows this initiator "
                          "(tgtadm ... --op bind --initiator-address ...)",
                          self->target, self->portal, why);
    if (strstr(why, "LUN") || strstr(why, "lun") || strstr(why, "LOGICAL_UNIT")
        || strstr(why, "NOT_SUPPORTED"))
        return tf_err_set(err, TF_ERR_NOTFOUND,
                          "iSCSI target %s at %s has no LUN %d (%s): check the LUN number at "
                          "the end of the URL (%s)",
                          self->target, self->portal, self->lun, why, url);
    return tf_err_set(err, TF_ERR_IO,
                      "cannot connect to iSCSI target %s at %s (%s): check the address, port "
                      "and network",
                      self->target, self->portal, why);
}

tf_transport_t *
tf_transport_iscsi_open(const char *url, tf_err_t *err)
{
    s_iscsi_t *self = calloc(1, sizeof *self);
    if (!self) {
        tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    self->iscsi = iscsi_create_context(S_INITIATOR);
    if (!self->iscsi) {
        free(self);
        tf_err_set(err, TF_ERR_NOMEM, "cannot create an iSCSI context");
        return NULL;
    }
    struct iscsi_url *parsed = iscsi_parse_full_url(self->iscsi, url);
    if (!parsed) {
        tf_err_set(err, TF_ERR_INVALID,
                   "bad iSCSI URL '%s' (%s): use iscsi://host[:port]/iqn.target.name/LUN", url,
                   iscsi_get_error(self->iscsi));
        void *state = self;
        s_iscsi_destroy(&state);
        return NULL;
    }
    snprintf(self->portal, sizeof self->portal, "%s", parsed->portal);
    snprintf(self->target, sizeof self->target, "%s", parsed->target);
    self->lun = parsed->lun;
    int rc = iscsi_set_targetname(self->iscsi, parsed->target);
    if (rc == 0)
        rc = iscsi_set_session_type(self->iscsi, ISCSI_SESSION_NORMAL);
    if (rc == 0)
        rc = iscsi_set_header_digest(self->iscsi, ISCSI_HEADER_DIGEST_NONE_CRC32C);
    iscsi_destroy_url(parsed);
    if (rc != 0) {
        tf_err_set(err, TF_ERR_INVALID, "cannot set up iSCSI session for %s: %s", url,
                   iscsi_get_error(self->iscsi));
        void *state = self;
        s_iscsi_destroy(&state);
        return NULL;
    }
    iscsi_set_timeout(self->iscsi, 10);
    if (iscsi_full_connect_sync(self->iscsi, self->portal, self->lun) != 0) {
        s_connect_error(self, url, err);
        void *state = self;
        s_iscsi_destroy(&state);
        return NULL;
    }
    tf_transport_t *transport = tf_transport_new(&s_iscsi_ops, self, url);
    if (!transport)
        tf_err_set(err, TF_ERR_NOMEM, "out of memory opening %s", url);
    return transport;
}
