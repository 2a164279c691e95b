/*  cmd_drive - `tapeflow drive list|status|doctor|test`: find, inspect, diagnose and self-test
    tape drives. See docs/drives.md.
*/
#ifndef TF_CMD_DRIVE_H_INCLUDED
#define TF_CMD_DRIVE_H_INCLUDED

#include "tf_config.h"

/* argv[0] is "drive", argv[1] the verb. Writes to stdout (stderr for usage errors). Returns the
   process exit status: 0 ok, 1 failure (a doctor step or test step failed, drive unusable),
   2 usage error. */
int tf_cmd_drive(tf_config_t *cfg, int argc, char **argv);

#endif
