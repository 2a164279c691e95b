/*  cmd_drive - `tapeflow drive list|status|doctor|test`: find, inspect, diagnose and self-test
    tape drives. See docs/drives.md.
*/
#ifndef TF_CMD_DRIVE_H_INCLUDED
#define TF_CMD_DRIVE_H_INCLUDED

#include <stddef.h>

#include "tf_config.h"
#include "tf_drive.h"
#include "tf_err.h"

/* Decides whether `drive test` may overwrite the tape in the (ready) drive: the tapeflow
   volume rule (tools/tapeflow/cli_volume.h, cli_volume_may_destroy), which the drive layer
   cannot know. destroy_volume is --destroy-volume's label or NULL. */
typedef int(tf_cmd_drive_guard_fn)(tf_config_t *cfg, tf_drive_t *drive, const char *destroy_volume,
                                   char *detail, size_t size, tf_err_t *err);

/* The verbs, NULL-terminated: list, status, doctor, test. */
extern const char *const tf_cmd_drive_verbs[];

/* argv[0] is "drive", argv[1] the verb. Writes to stdout (stderr for usage errors). Returns the
   process exit status: 0 ok, 1 failure (a doctor step or test step failed, drive unusable, the
   tape may not be overwritten), 2 usage error. guard: the overwrite rule for `drive test`
   (tapeflow passes cli_volume_may_destroy; NULL only in tests of the drive layer alone). */
int tf_cmd_drive(tf_config_t *cfg, tf_cmd_drive_guard_fn *guard, int argc, char **argv);

#endif
