/*  volume - the tape writer's volume policy (docs/operations.md, "Volumes, pools and
    retention" and "Spanning"): whether an item appends to the volume in the drive, recycles it
    or needs the next one; whether a tape can join a set; what the catalog learns about a volume.

    Each call works on the item's volume state (it->vol) and asks or tells the catalog
    (cat_query volumes, cat_volume); the catalog being unreachable is logged, never fatal here:
    the tape's own label and contents decide then.
*/
#ifndef VOLUME_H_INCLUDED
#define VOLUME_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tapewriter_priv.h"

/* After the label check (info: the label read, of pool): decides whether the item appends to
   the volume (positioned at end of data: *file, *object), recycles it (expired: new label,
   tape file 1), needs the next volume (*need_next: full or marked error, and a changer or
   tapewriter/mount_wait can bring one), or is refused (full or marked error, nothing to bring
   another). Fills it->vol. */
int volume_prepare(item_t *it, tf_drive_t *drive, const char *pool, const tf_label_info_t *info,
                   uint64_t *file, uint64_t *object, bool *need_next, tf_err_t *err);

/* Whether the tape in the drive can continue set `set_id` after volume prev: blank (labelled
   into the set with barcode as its name; NULL: no barcode, then it is not taken), the next
   volume of this very set, or an empty or expired tape of the pool (labelled into the set).
   *taken false: leave it and try another. Taken: it->vol is the new volume and *file, *object
   where the next write starts. */
int volume_take(item_t *it, tf_drive_t *drive, const char *pool, const tf_label_t *prev, const char *set_id,
                const char *barcode, uint64_t *file, uint64_t *object, bool *taken, tf_err_t *err);

/* Tells the catalog how the volume stands after this item (ready NULL: it failed, only the
   errors and a full tape are news). tape_file: the tape file the archive was written to (or
   the next write would start); early_warning: the drive reported it while writing. Best
   effort: the archive's own record does not depend on it. */
void volume_report(item_t *it, const tf_msg_archive_ready_t *ready, uint64_t tape_file, bool early_warning);

/* The set a volume belongs to: its label's set id, or for the first volume of a set (labelled
   before it spanned) its name and creation time, so every later volume is checked against the
   first volume's identity and generation. */
void volume_set_id(const tf_label_t *label, char *out, size_t size);

/* A medium error while reading counts as a read error of the cartridge in the drive (its
   state stays). Best effort: the restore's own failure is what the operator sees. */
void volume_count_read_error(item_t *it, tf_drive_t *drive);

#endif
