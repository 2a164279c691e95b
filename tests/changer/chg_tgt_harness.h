/*  chg_tgt_harness - starts a private tgtd with a virtual tape library for the changer tests:
    one tape drive LUN (empty at start) and one changer LUN whose storage slots hold barcoded
    tgtimg tapes, and removes it all afterwards.

    Layout: LUN 1 = tape drive (data transfer element 500), LUN 2 = changer with transport 1,
    import/export 10, slots 1000.. (slots), the first `tapes` slots holding TFC001L6, TFC002L6...
    whose images live in the media_home folder (tgt swaps the drive's backing store on MOVE
    MEDIUM). tgtd runs on a free loopback port with a private control port (-C N) and dies
    with the test process (PR_SET_PDEATHSIG); chg_tgt_stop deletes the target, kills tgtd
    (SIGKILL if it will not exit) and removes the images.
*/
#ifndef CHG_TGT_HARNESS_H_INCLUDED
#define CHG_TGT_HARNESS_H_INCLUDED

#include <stddef.h>

typedef struct _chg_tgt_t chg_tgt_t;

/* NULL with the reason in why when tgtd cannot start (*no_tgtd set: the caller may skip) or
   the library cannot be set up (a failure). */
chg_tgt_t *chg_tgt_start(int slots, int tapes, int *no_tgtd, char *why, size_t why_size);
/* The same with tapes of tape_mb MB (chg_tgt_start: 8), e.g. small ones for spanning tests. */
chg_tgt_t *chg_tgt_start_sized(int slots, int tapes, int tape_mb, int *no_tgtd, char *why, size_t why_size);
void chg_tgt_stop(chg_tgt_t **self_p);
const char *chg_tgt_changer_url(chg_tgt_t *self); /* iscsi://127.0.0.1:PORT/IQN/2 */
const char *chg_tgt_drive_url(chg_tgt_t *self);   /* iscsi://127.0.0.1:PORT/IQN/1 */

#endif
