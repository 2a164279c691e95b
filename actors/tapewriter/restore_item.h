/*  restore_item - a tape_restore item (tapewriter.h): refuses one delivered again (a restore
    cut short is run again by the operator, knowingly), opens the drive and runs the restore
    (restore.h), asking mount_next for each further volume it needs (mount.h), counts a medium
    error as a read error of the cartridge (volume.h), and sets the restore_result.
*/
#ifndef RESTORE_ITEM_H_INCLUDED
#define RESTORE_ITEM_H_INCLUDED

#include "tapewriter_priv.h"

/* Works on one tape_restore item. A refusal sets it->permanent. */
int restore_item_handle(item_t *it, const tf_msg_tape_restore_t *req, tf_err_t *err);

#endif
