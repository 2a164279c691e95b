/*  tf_transport - executes one CDB on a drive: the seam between the drive API and the ways a
    drive is reached (Linux SG_IO, iSCSI, the in-process simulator).

    A transport is chosen by URL:
        sg:/dev/sgN  sg:/dev/nstN  sg:/dev/tape/by-id/...   Linux SG_IO
        iscsi://host[:port]/iqn/lun                          libiscsi
        sim:PATH[?options]                                   simulated drive (tf_sim.h)
*/
#ifndef TF_TRANSPORT_H_INCLUDED
#define TF_TRANSPORT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tf_err.h"
#include "tf_sense.h"

typedef enum { TF_XFER_NONE = 0, TF_XFER_IN, TF_XFER_OUT } tf_xfer_t;

typedef struct {
    const uint8_t *cdb;
    size_t cdb_len;
    tf_xfer_t dir;
    void *data;          /* IN: filled by the drive; OUT: sent to the drive */
    size_t data_len;
    unsigned timeout_ms; /* 0: transport default */
} tf_scsi_req_t;

typedef struct {
    int status;                   /* SCSI status byte (TF_SCSI_GOOD, TF_SCSI_CHECK_CONDITION...) */
    uint8_t sense[TF_SENSE_MAX];
    size_t sense_len;
    size_t resid;                 /* bytes of data_len not transferred */
} tf_scsi_res_t;

/* What every transport provides. execute returns TF_OK when the command reached the drive and a
   SCSI status came back (which may be CHECK CONDITION), or a negative status with a message when
   it did not (connection lost, timeout, adapter error). */
typedef struct {
    const char *scheme;
    int (*execute)(void *state, const tf_scsi_req_t *req, tf_scsi_res_t *res, tf_err_t *err);
    void (*destroy)(void **state_p);
} tf_transport_ops_t;

typedef struct _tf_transport_t tf_transport_t;

/* Opens the transport the URL names. On failure returns NULL and explains why in err. */
tf_transport_t *tf_transport_open(const char *url, tf_err_t *err);
/* Wraps a transport implementation's state; takes ownership of state. */
tf_transport_t *tf_transport_new(const tf_transport_ops_t *ops, void *state, const char *url);
void tf_transport_destroy(tf_transport_t **self_p);

int tf_transport_execute(tf_transport_t *self, const tf_scsi_req_t *req, tf_scsi_res_t *res,
                         tf_err_t *err);
const char *tf_transport_url(tf_transport_t *self);
const char *tf_transport_scheme(tf_transport_t *self);

/* Implementations (tf_transport_sg.c, tf_transport_iscsi.c, tf_transport_sim.c). */
tf_transport_t *tf_transport_sg_open(const char *path, tf_err_t *err);
tf_transport_t *tf_transport_iscsi_open(const char *url, tf_err_t *err);
tf_transport_t *tf_transport_sim_open(const char *spec, tf_err_t *err);

#endif
