/*  tf_sg_open - opens a Linux SCSI device node (/dev/sgN, /dev/nstN, /dev/tape/by-id/...) for
    SG_IO and explains every way that can fail in words an operator can act on.
*/
#ifndef TF_SG_OPEN_H_INCLUDED
#define TF_SG_OPEN_H_INCLUDED

#include "tf_err.h"

/* Opens path read-write, non-blocking. On success stores the descriptor in *fd. On failure
   returns a status and a message built by tf_sg_open_error. proc_root ("/proc") is scanned to
   name the process holding a busy device. */
int tf_sg_open(const char *path, const char *proc_root, int *fd, tf_err_t *err);

/* Maps an errno from open(path) to a status and message:
   ENOENT -> TF_ERR_NOTFOUND, EACCES/EPERM -> TF_ERR_STATE (permission), EBUSY -> TF_ERR_BUSY
   (naming the holder when proc_root shows one), ENXIO/ENODEV -> TF_ERR_DEVICE, others -> TF_ERR_IO. */
int tf_sg_open_error(const char *path, int errnum, const char *proc_root, tf_err_t *err);

#endif
