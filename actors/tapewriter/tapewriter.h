/*  tapewriter - the tape writer actor's logic (service "tape", one process per drive).

    archive_ready (write_item.h): checks the catalog (already written? then only the release is
    sent again), opens the drive, asks the labeller whether the archive appends to the volume
    in it, recycles it or needs another (volume.h), writes the archive as one tape file while
    fetching it from the stager ahead of the drive, verifies it by reading it back
    (tapewriter/verify), closes the drive, records it in the catalog (cat_written, waiting until
    recorded) and only then asks the stager to release it. tape_restore (restore_item.h):
    opens the drive and extracts (restore.h); the result is a restore_result. tape_label
    (label_item.h): labels one cartridge of a library from its barcode, as the labeller says.

    Spanning and mounts (mount.h, docs/operations.md "Spanning"): when changers/NAME/driveN
    names this drive, the labeller chooses every volume and moves the robot (the next volume of
    a set, a volume of the pool for an empty drive or a tape of another pool, each volume a
    restore reads); this writer only reads and writes labels. Without a changer
    tapewriter/mount_wait > 0 makes it eject the tape, raise alert.mount.<drive> and poll the
    drive for the volume wanted; with 0 nothing spans (a hard end of medium fails the item with
    retry).

    The drive is open only while an item is worked on, so 'tapeflow tape ...' can use it in
    between. Refusals (unlabelled, foreign or other-pool tape, wrong volume) fail the item for
    good; drive, stager, catalog and labeller trouble ask for another delivery.

    Configuration: the tapewriter/ keys of the key table (common/tf_config.c and the table in
    docs/operations.md, which hold every default): drive, block_size, verify, fetch_chunk,
    fetch_depth, fetch_timeout, ready_timeout, busy_wait, catalog_timeout, labeller_timeout,
    mount_wait, retry_backoff, retry_backoff_max.

    Write errors (a medium error while writing; a hardware error is the drive's and only raises
    alert.tape.<drive>) put the cartridge in state `error` in the catalog: it is not written to
    (not even recycled) until 'tapeflow tape clear LABEL'; the item fails with retry and the
    archive is written to another volume of the pool (the labeller loads one; without a changer
    alert.mount asks for one, or with mount_wait 0 the item is refused naming the tape). Verify
    read errors are counted for the cartridge.
*/
#ifndef TAPEWRITER_H_INCLUDED
#define TAPEWRITER_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#include "tf_actor.h"
#include "tf_config.h"

typedef struct _tapewriter_t tapewriter_t;

tapewriter_t *tapewriter_new(tf_config_t *cfg, tf_err_t *err);
void tapewriter_destroy(tapewriter_t **self_p);

/* The drive name used in messages and event topics (tapewriter/drive). */
const char *tapewriter_drive_name(tapewriter_t *self);

/* The pause before attempt `attempt` (from 1) of an archive item is handed back: base_ms
   doubled per earlier attempt, at most max_ms (0: no cap); 0 when base_ms is 0. */
int64_t tapewriter_backoff_ms(int64_t base_ms, int64_t max_ms, uint64_t attempt);

/* Whether a failed archive item pauses before it is handed back: not when its job was
   cancelled, nor on a hand-off (the volume was full and a changer or tapewriter/mount_wait
   provides the next one): the next attempt goes to another volume. */
bool tapewriter_backoff_wanted(bool cancelled, bool hand_off);

/* The routes tapeflow-tapewriter serves (arg: the tapewriter_t): archive_ready, tape_restore,
   tape_label. */
extern const tf_actor_route_t tapewriter_routes[];

#endif
