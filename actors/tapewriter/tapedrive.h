/*  tapedrive - the tape writer's drive while it works on one item: opening it (waiting for a
    drive another process holds, then for the tape to be ready), going to end of data (closing
    a tape file a stopped writer left open), and what a failed write means for the item.
*/
#ifndef TAPEDRIVE_H_INCLUDED
#define TAPEDRIVE_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#include "tapewriter_priv.h"

/* Opens the drive tapewriter/drive names, waits up to tapewriter/busy_wait for another
   process to let go of it and up to tapewriter/ready_timeout for a tape, and sets variable
   block mode. NULL: err says why, prefixed with the drive's name; *empty (may be NULL) true
   when that is because no cartridge is in the drive (medium not present), so a caller with a
   changer can have the labeller load one. Both waits end early when the actor is stopped
   (TF_ERR_INTERRUPTED). */
tf_drive_t *tapedrive_open(item_t *it, bool *empty, tf_err_t *err);

/* Ejects the tape in *drive_p (if any) and closes the handle (*drive_p NULL). A drive that has
   no tape any more is no trouble, any other failure only a warning naming `what` ("tape
   TF0001"): the robot (robot true) or the operator takes over. */
void tapedrive_eject(item_t *it, tf_drive_t **drive_p, const char *what, bool robot);

/* Goes to end of data and makes sure the last tape file there is closed (a writer killed
   mid-archive leaves one open). *file: the tape file the next write starts; *object: the
   block it starts at (0 when the drive does not tell). */
int tapedrive_goto_eod(tf_drive_t *drive, uint64_t *file, uint64_t *object, tf_err_t *err);

/* After a failed drive operation on tape `volume` (of pool): end of medium marks the volume
   full (it->vol.hit_end), a medium error is a write error of the cartridge
   (it->vol.write_error), a hardware error is the drive's and leaves the cartridge alone; these
   and a write-protected tape raise alert.tape with err made to say so. Returns the status to
   fail the item with. */
int tapedrive_error(item_t *it, tf_drive_t *drive, const char *volume, const char *pool, tf_err_t *err);

#endif
