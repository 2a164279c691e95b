/*  tf_sim - an in-process simulated SSC tape drive on an image file (tf_sim_image.h).

    It answers CDBs the way a drive does, with SCSI status and real sense bytes, so everything
    above it (sense decoding, error model, fallbacks) runs exactly as against hardware. Faults
    are injected through URL options (tf_sim_opts.h).
*/
#ifndef TF_SIM_H_INCLUDED
#define TF_SIM_H_INCLUDED

#include "tf_sim_opts.h"
#include "tf_transport.h"

/* A sim changer empties a drive by pointing its image (DIR/driveN.img) at DIR/driveN.empty:
   a drive opened through such a link has no cartridge (MEDIUM NOT PRESENT, and a LOAD finds
   none), like a real drive the robot took the tape from. */
#define TF_SIM_EMPTY_SUFFIX ".empty"

typedef struct _tf_sim_t tf_sim_t;

/* spec is "PATH[?options]", the part of a sim: URL after the scheme. */
tf_sim_t *tf_sim_new(const char *spec, tf_err_t *err);
void tf_sim_destroy(tf_sim_t **self_p);

/* Executes one command. Returns TF_OK with a SCSI status in res (like a drive), or an error
   only for host-side failures (image I/O). */
int tf_sim_execute(tf_sim_t *self, const tf_scsi_req_t *req, tf_scsi_res_t *res, tf_err_t *err);

#endif
