/*  tf_drive_resolve - turns what an operator types (a URL, serial:XYZ, or a configured drive
    name) into a drive URL. Drives are configured by serial or by-id path, never by index:

        drives
            lto1
                url = serial:HU1234567      # resolved through discovery
            lto2
                url = sg:/dev/tape/by-id/scsi-HU7654321-nst
*/
#ifndef TF_DRIVE_RESOLVE_H_INCLUDED
#define TF_DRIVE_RESOLVE_H_INCLUDED

#include <stddef.h>

#include "tf_config.h"
#include "tf_err.h"

/* Writes the URL for name into url. cfg may be NULL (then only URLs and serial: work).
   sysfs_root/dev_root: "/sys" and "/dev" unless testing. */
int tf_drive_resolve(tf_config_t *cfg, const char *name, const char *sysfs_root,
                     const char *dev_root, char *url, size_t size, tf_err_t *err);

/* True when text is already a drive URL (sg:, iscsi://, sim:). */
int tf_drive_is_url(const char *text);

/* For a configured simulated drive (sim:PATH...): creates the folder its image lives in, so
   the default configuration (sim:${home}/tapes/tape0.img) works on a fresh machine. Other
   URLs need nothing. An explicit URL opened with tf_drive_open still requires the folder. */
int tf_drive_prepare_sim_folder(const char *url, tf_err_t *err);

#endif
