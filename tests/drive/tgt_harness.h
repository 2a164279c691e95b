/*  tgt_harness - starts a private tgtd with one virtual tape LUN for tests, and removes it.

    tgtd runs on a free loopback port with a private control port (-C N), from a fresh tgtimg
    image in a temporary folder. It is killed if the test process dies (PR_SET_PDEATHSIG), and
    tgt_harness_stop deletes the target, kills tgtd (SIGKILL if it will not exit) and removes
    the image. Used by the API suite and the `drive test` CLI test against tgt.
*/
#ifndef TGT_HARNESS_H_INCLUDED
#define TGT_HARNESS_H_INCLUDED

#include <stddef.h>

typedef struct _tgt_harness_t tgt_harness_t;

/* Starts tgtd; NULL with the reason in why when it cannot start. size_mb: image size. */
tgt_harness_t *tgt_harness_start(int size_mb, char *why, size_t why_size);
void tgt_harness_stop(tgt_harness_t **self_p);
/* iscsi://127.0.0.1:PORT/IQN/1 */
const char *tgt_harness_url(tgt_harness_t *self);
int tgt_harness_port(tgt_harness_t *self);
const char *tgt_harness_iqn(tgt_harness_t *self);


#endif
