/*  tf_discover - finds tape drives the Linux kernel knows, from sysfs.

    Sources: SYSFS/class/scsi_tape/nstN (st driver) and SYSFS/class/scsi_generic/sgM whose
    device has type 1 (tape without st). For each drive: vendor, model, revision, serial (VPD 80h
    from vpd_pg80, else a `serial` attribute), the matching sg and nst nodes and the
    DEV/tape/by-id links that point at them. The roots are parameters so tests use a fixture
    tree; on a live system they are "/sys" and "/dev".
*/
#ifndef TF_DISCOVER_H_INCLUDED
#define TF_DISCOVER_H_INCLUDED

#include <stddef.h>

#include "tf_err.h"

typedef struct {
    char hctl[32];        /* SCSI address host:channel:target:lun */
    char vendor[16];
    char model[32];
    char revision[16];
    char serial[72];      /* "" when the drive reports none */
    char nst[64];         /* "/dev/nst0" or "" */
    char sg[64];          /* "/dev/sg3" or "" */
    char by_id[512];      /* "/dev/tape/by-id/scsi-XYZ-nst" or "" */
    char url[600];        /* best URL to reach it: sg: node, by-id preferred for stability */
} tf_discover_drive_t;

typedef struct _tf_discover_t tf_discover_t;

/* Scans sysfs_root and dev_root. A missing sysfs class folder is not an error (no drives). */
tf_discover_t *tf_discover_scan(const char *sysfs_root, const char *dev_root, tf_err_t *err);
void tf_discover_destroy(tf_discover_t **self_p);
size_t tf_discover_count(tf_discover_t *self);
const tf_discover_drive_t *tf_discover_get(tf_discover_t *self, size_t index);
/* The drive with this serial, or NULL. */
const tf_discover_drive_t *tf_discover_by_serial(tf_discover_t *self, const char *serial);
/* The drive one of whose nodes or links is path (after resolving links), or NULL. */
const tf_discover_drive_t *tf_discover_by_path(tf_discover_t *self, const char *path);

#endif
