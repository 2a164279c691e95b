/*  volume - the tape writer's side of the volume decisions (docs/operations.md, "Volumes,
    pools and retention" and "Spanning"). The labeller decides (vol_request -> vol_grant,
    docs/protocol.md "Volumes"): whether an item appends to the volume in the drive, recycles it
    or needs the next one, whether a tape can join a set. The tape writer, the drive's owner,
    reads what is on the tape for it (volume_look), asks (volume_ask) and carries the grant out
    (writes a label, positions the tape); it tells the catalog how a volume stands after an
    item (cat_volume). Each call works on the item's volume state (it->vol).
*/
#ifndef VOLUME_H_INCLUDED
#define VOLUME_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tapewriter_priv.h"

/* What the tape writer read on the tape in its drive, for the labeller. */
typedef struct {
    bool read;                 /* info is valid (else: the tape could not be read, why says) */
    bool empty;                /* no tape in the drive (medium not present): told as "none" */
    tf_label_info_t info;
    uint64_t tape_files;       /* tapeflow volumes: tape files, the label included */
    int64_t last_written_ms;   /* and the last archive's time (0: none) */
    char why[512];
} volume_seen_t;

/* Reads the label and, for a tapeflow volume, its use (read-only: nothing is written, not even
   to close a tape file a stopped writer left open). Never fails: an unreadable tape is !read. */
void volume_look(item_t *it, tf_drive_t *drive, volume_seen_t *seen);

/* Asks the labeller (service labeller) for a volume: req's purpose and what is wanted come from
   the caller; drive, operator_mounts and what is mounted (seen; NULL: not read) are filled
   here. *grant is a vol_grant (caller clears). Fails when the labeller does not answer. */
int volume_ask(item_t *it, tf_msg_vol_request_t *req, const volume_seen_t *seen, tf_msg_t *grant, tf_err_t *err);

/* What volume_prepare leaves to the caller. */
typedef enum {
    VOLUME_NEXT_NONE,      /* the item goes to the tape in the drive (positioned) */
    VOLUME_NEXT_OF_SET,    /* it is full or marked error: the next volume of its set */
    VOLUME_NEXT_OF_POOL    /* no tape, an unreadable one or none of the pool's: with a changer the
                              labeller loads a volume of the pool */
} volume_next_t;

/* Asks the labeller about the start of an item on what is in the drive (seen, from
   volume_look; drive NULL when seen->empty) and carries the grant out: append (positioned at
   end of data: *file, *object), recycle (expired: new label, tape file 1), next (*next says
   which: a changer or tapewriter/mount_wait brings one), or refuse (the labeller's message,
   the item fails for good). Fills it->vol for a tapeflow volume. */
int volume_prepare(item_t *it, tf_drive_t *drive, const char *pool, const volume_seen_t *seen, uint64_t *file,
                   uint64_t *object, volume_next_t *next, tf_err_t *err);

/* Carries out the labeller's answer for a span on the tape in drive (seen: what was read on
   it): append (the next volume of this very set: positioned at end of data) or recycle (a
   blank, empty or expired tape labelled into the set as the grant says). *taken false for
   anything else: leave the tape and try another (the caller says why: grant->message, once
   per tape). Taken: it->vol is the new volume and *file, *object where the next write starts. */
int volume_take_granted(item_t *it, tf_drive_t *drive, const char *pool, const tf_label_t *prev,
                        const volume_seen_t *seen, const tf_msg_vol_grant_t *grant, uint64_t *file,
                        uint64_t *object, bool *taken, tf_err_t *err);

/* Carries out the labeller's answer for the start of an archive on a tape the labeller loaded
   (seen: what was read on it): append (positioned at end of data) or recycle (expired: new
   label, tape file 1). *taken false for anything else. */
int volume_start_granted(item_t *it, tf_drive_t *drive, const char *pool, const volume_seen_t *seen,
                         const tf_msg_vol_grant_t *grant, uint64_t *file, uint64_t *object, bool *taken,
                         tf_err_t *err);

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
