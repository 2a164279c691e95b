/*  tf_drive_track - the drive layer's own record of where the tape is.

    It follows every movement the layer makes (blocks and filemarks read, written or spaced over)
    and remembers where each filemark is once it has been passed, so that backward movement and
    locate-by-object stay exact on drives that report no position. Parts it cannot know (e.g. the
    block number after spacing over filemarks into a file never seen) are marked unknown.
*/
#ifndef TF_DRIVE_TRACK_H_INCLUDED
#define TF_DRIVE_TRACK_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#include "tf_drive.h"

typedef struct _tf_drive_track_t tf_drive_track_t;

tf_drive_track_t *tf_drive_track_new(void);
void tf_drive_track_destroy(tf_drive_track_t **self_p);

/* Position unknown (unexplained stop, error); what is known about the tape is kept. */
void tf_drive_track_lost(tf_drive_track_t *self);
/* Position unknown and the tape may be another one (reset, medium change, unload): the
   filemark map is dropped too. */
void tf_drive_track_forget_tape(tf_drive_track_t *self);
/* At the beginning of tape: file 0, block 0, object 0. */
void tf_drive_track_bot(tf_drive_track_t *self);
/* Moved over n data blocks forward (n > 0) or backward (n < 0), no filemark crossed. */
void tf_drive_track_blocks(tf_drive_track_t *self, int64_t n);
/* Crossed one filemark forward. at_mark: we were right before it (read or spaced blocks up to
   it), so its object number is known; false when spacing filemarks over unknown blocks. */
void tf_drive_track_filemark_forward(tf_drive_track_t *self, bool at_mark);
/* Crossed one filemark backward; now on its BOT side (end of the previous file). */
void tf_drive_track_filemark_backward(tf_drive_track_t *self, bool at_mark);
/* Wrote n blocks / n filemarks here: everything after the old position is gone. */
void tf_drive_track_wrote_blocks(tf_drive_track_t *self, uint64_t n);
void tf_drive_track_wrote_filemarks(tf_drive_track_t *self, uint64_t n);
/* The block number within the current file (and the object number) became unknown. */
void tf_drive_track_forget_block(tf_drive_track_t *self);
/* At end of data; file/block stay as computed. */
void tf_drive_track_eod(tf_drive_track_t *self, bool at_eod);
/* Facts from the drive's READ POSITION. file < 0: not reported. */
void tf_drive_track_from_drive(tf_drive_track_t *self, uint64_t object, int64_t file, bool bot);
/* Positioned at logical object `object` (e.g. after a locate): file and block come from the
   filemark map when it covers the object, else they become unknown. */
void tf_drive_track_at_object(tf_drive_track_t *self, uint64_t object);
/* Object number at which tape file `file` starts, when known. */
bool tf_drive_track_file_start(tf_drive_track_t *self, uint64_t file, uint64_t *object);
/* Number of blocks in tape file `file`, when both its ends are known. */
bool tf_drive_track_file_length(tf_drive_track_t *self, uint64_t file, uint64_t *blocks);

void tf_drive_track_get(tf_drive_track_t *self, tf_drive_pos_t *pos);

#endif
