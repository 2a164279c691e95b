/*  tapewriter - the tape writer actor's logic (service "tape", one process per drive).

    archive_ready: checks the catalog (already written? then only the release is sent again),
    opens the drive, checks the volume label against the job's pool, spaces to end of data,
    writes the archive as one tape file while fetching it from the stager ahead of the drive,
    verifies it by reading it back (tapewriter/verify), closes the drive, records it in the
    catalog (cat_written, waiting until recorded) and only then asks the stager to release it.
    tape_restore: opens the drive and extracts (restore.h); the result is a restore_result.

    Spanning (docs/operations.md, "Spanning"): when changers/NAME/driveN names this drive, an
    archive that reaches early warning or the end of the medium is continued on the next volume
    of the set, which the changer loads (a blank or expired cartridge of the pool, labelled into
    the set, or the set's next volume); the catalog gets the archive's segments in order. A full
    volume at the start of an item likewise makes way for the next one. A restore loads every
    volume it needs by barcode. Without a changer, tapewriter/mount_wait (ms, default 12 h) > 0
    makes it eject the full tape, raise alert.mount.<drive> and poll the drive for the next
    volume (and a restore for each volume it needs); with 0 nothing spans (a hard end of medium
    fails the item with retry, as before).

    The drive is open only while an item is worked on, so 'tapeflow tape ...' can use it in
    between. Refusals (unlabelled, foreign or other-pool tape, wrong volume) fail the item for
    good; drive, stager and catalog trouble ask for another delivery.

    Configuration: tapewriter/drive (a name under drives/, or a URL), tapewriter/block_size,
    tapewriter/verify, and with built-in fallbacks: tapewriter/fetch_chunk (1 MiB),
    tapewriter/fetch_depth (8), tapewriter/fetch_timeout (30000 ms), tapewriter/ready_timeout
    (60000 ms), tapewriter/busy_wait (10000 ms: how long to wait for a drive another process
    holds), tapewriter/catalog_timeout (120000 ms),
    tapewriter/mount_wait (12 h: see above), tapewriter/retry_backoff and retry_backoff_max
    (5000 and 300000 ms: the pause before a failed archive item goes back to the broker).

    Write errors (a medium error while writing; a hardware error is the drive's and only raises
    alert.tape.<drive>) put the cartridge in state `error`
    in the catalog: it is not written to (not even recycled) until 'tapeflow tape clear LABEL';
    the item fails with retry and the archive is written to another volume of the pool (the
    changer loads one; without a changer alert.mount asks for one, or with mount_wait 0 the item
    is refused naming the tape). Verify read errors are counted for the cartridge.
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

/* The routes tapeflow-tapewriter serves (arg: the tapewriter_t): archive_ready, tape_restore. */
extern const tf_actor_route_t tapewriter_routes[];

#endif
