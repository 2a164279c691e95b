/*  tf_sim_priv - state shared by the simulated drive's source files. Not for other modules. */
#ifndef TF_SIM_PRIV_H_INCLUDED
#define TF_SIM_PRIV_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#include "tf_sim.h"
#include "tf_sim_image.h"

struct _tf_sim_t {
    tf_sim_opts_t opts;
    tf_simimg_t *img;
    char *path;
    size_t pos;             /* index of the next record: the logical object number */
    bool loaded;            /* a cartridge is loaded (false after UNLOAD or with no_medium) */
    int64_t open_ms;        /* monotonic time of open, for not_ready and busy */
    uint8_t pending_ua;     /* ASC of a unit attention not yet reported, 0 for none */
    uint32_t block_length;  /* from MODE SELECT: 0 = variable */
    uint8_t last_sense[TF_SENSE_MAX];
    size_t last_sense_len;  /* for REQUEST SENSE */
    uint64_t busy_until_us; /* throughput model: when the drive's data path is free */
};

/* Finishes res with CHECK CONDITION and sense bytes in the configured format. */
void tf_sim_check(tf_sim_t *self, tf_scsi_res_t *res, uint8_t key, uint8_t asc, uint8_t ascq,
                  unsigned flags, int64_t info);
/* Sleeps as long as moving bytes takes at the configured rate. */
void tf_sim_throttle(tf_sim_t *self, uint64_t bytes);
/* Sets a TapeAlert flag (1..64) on the cartridge. */
void tf_sim_alert(tf_sim_t *self, int flag);

/* Media movement (tf_sim_media.c). */
int tf_sim_read6(tf_sim_t *self, const tf_scsi_req_t *req, tf_scsi_res_t *res, tf_err_t *err);
int tf_sim_write6(tf_sim_t *self, const tf_scsi_req_t *req, tf_scsi_res_t *res, tf_err_t *err);
int tf_sim_write_filemarks(tf_sim_t *self, const tf_scsi_req_t *req, tf_scsi_res_t *res,
                           tf_err_t *err);
void tf_sim_space(tf_sim_t *self, int code, int64_t count, tf_scsi_res_t *res);
void tf_sim_locate16(tf_sim_t *self, const tf_scsi_req_t *req, tf_scsi_res_t *res);
int tf_sim_erase(tf_sim_t *self, const tf_scsi_req_t *req, tf_scsi_res_t *res, tf_err_t *err);

/* Information pages (tf_sim_pages.c). */
void tf_sim_inquiry(tf_sim_t *self, const tf_scsi_req_t *req, tf_scsi_res_t *res);
void tf_sim_mode_sense6(tf_sim_t *self, const tf_scsi_req_t *req, tf_scsi_res_t *res);
void tf_sim_mode_select6(tf_sim_t *self, const tf_scsi_req_t *req, tf_scsi_res_t *res);
void tf_sim_log_sense(tf_sim_t *self, const tf_scsi_req_t *req, tf_scsi_res_t *res);
void tf_sim_read_position(tf_sim_t *self, const tf_scsi_req_t *req, tf_scsi_res_t *res);
void tf_sim_read_block_limits(tf_sim_t *self, const tf_scsi_req_t *req, tf_scsi_res_t *res);
void tf_sim_request_sense(tf_sim_t *self, const tf_scsi_req_t *req, tf_scsi_res_t *res);

/* Copies len bytes of a reply into the request's data-in buffer, setting the residue. */
void tf_sim_reply(const tf_scsi_req_t *req, tf_scsi_res_t *res, const void *data, size_t len);

#endif
