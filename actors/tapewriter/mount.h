/*  mount - getting the next volume into the drive, for spanning, restore and (with a changer)
    the start of an archive (mount_next).

    With a changer (changers/NAME/driveN names this drive) the labeller does it: the tape in the
    drive is ejected, the labeller has the robot put it back and load the cartridge it chooses,
    this writer reads it and asks again until the labeller grants it (docs/architecture.md, "The
    labeller"). Without one (tapewriter/mount_wait > 0) an operator does it: alert.mount.<drive>
    says what is wanted and the drive is polled every 500 ms until such a tape is in it (the
    labeller decides about each tape mounted), or mount_wait passes. Either way the tape in the
    drive is ejected first and its handle closed.
*/
#ifndef MOUNT_H_INCLUDED
#define MOUNT_H_INCLUDED

#include <stdint.h>

#include "tapewriter_priv.h"

typedef enum {
    MOUNT_SPAN,      /* the next volume of a set, for an archive that continues on it */
    MOUNT_RESTORE,   /* a given volume, for a restore that reads from it */
    MOUNT_WRITE      /* with a changer: a volume of the pool for an archive that starts (the
                        tape in the drive is none of the pool's, or the drive is empty) */
} mount_purpose_t;

/* What is wanted. */
typedef struct {
    mount_purpose_t purpose;
    const char *pool;          /* span: the set's pool; write: the pool */
    const char *set_id;        /* span: the set (volume_set_id) */
    tf_label_t previous;       /* span: the volume before (a copy: taking a volume changes it->vol) */
    const char *volume;        /* restore: the volume's label */
    const char *archive_id;    /* span: the archive that continues, for messages */
    const char *job_id;        /* span: that archive's job; restore: the job restored ("?": unknown) */
} mount_want_t;

/* Where the archive continues after a span (or starts, for write). */
typedef struct {
    char volume[33];           /* the volume taken (it->vol is its state) */
    uint64_t file;             /* the tape file the next write starts */
    uint64_t object;           /* and its first block */
} mount_at_t;

/* Whether this drive can get a next volume: a changer, or an operator within
   tapewriter/mount_wait. */
bool mount_possible(const tapewriter_t *tw);

/* Ejects the tape in *drive_p, closes it, and opens the drive on the volume wanted (*drive_p;
   NULL on failure: the old handle is never used again). For a span the volume taken is it->vol
   and *at where the archive continues (at is not used for a restore).
   Events: a span that gets no volume from the changer raises alert.tape; a restore volume in
   no slot of the changer raises alert.mount; an operator is asked with alert.mount, and
   alert.tape says when mount_wait passed. A span whose job is cancelled while an operator is
   asked stops waiting (it->cancelled, alert.tape). */
int mount_next(item_t *it, tf_drive_t **drive_p, const mount_want_t *want, mount_at_t *at, tf_err_t *err);

#endif
