/*  write_item - an archive_ready item (tapewriter.h): asks the catalog whether the archive is
    on tape already (then only releases it), gets its file rows for the on-tape index
    (indexrows.h), opens the drive, checks the label against the job's pool, lets the volume
    policy decide (volume.h), streams the archive from the stager (tf_stage_fetch.h) onto tape as one
    tape file - continuing on the next volume of its set when the tape fills (mount.h) -,
    verifies it by reading it back, records it in the catalog and only then asks the stager to
    release it.
*/
#ifndef WRITE_ITEM_H_INCLUDED
#define WRITE_ITEM_H_INCLUDED

#include "tapewriter_priv.h"

/* Works on one archive_ready item. A refusal sets it->permanent; a full volume it->vol.hit_end. */
int write_item_handle(item_t *it, const tf_msg_archive_ready_t *ready, tf_err_t *err);

#endif
