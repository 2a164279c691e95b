/*  labeller - the one process that decides about volumes (service `labeller`; docs/architecture.md,
    "The labeller", and docs/protocol.md, "Volumes").

    It owns pools and retention (from the configuration), the inventory of every configured
    changer's cartridges (inventory.h, labeller/db), the choice of the next volume for an archive
    or a span, recycling, and every changer move. Items are handled one at a time, so two tape
    writers sharing a library can never race for a cartridge or a drive element. Each item is
    short: a READ ELEMENT STATUS, maybe one unload and one load, a catalog lookup - it never
    waits for a tape writer.

        vol_request -> vol_grant   a tape writer asks which volume to use; the decision itself is
                                   volume_decide() (pure); with a changer the labeller moves
                                   cartridges (never loading one just to read its label when the
                                   inventory knows it; a cartridge never seen is loaded once for
                                   its writer to read, and then known)
        lab_query  -> lab_reply    op inventory: READ ELEMENT STATUS of a changer (no tape moves)
                                   into the inventory; op list: the inventory; op labelled: a
                                   granted label was written (recorded only then); op load /
                                   unload: an operator's move (tapeflow changer load/unload)

    A cartridge loaded for a writer is leased to that drive until the writer's next vol_request
    or labeller/lease: no other drive's request and no operator move without force takes it
    out of the drive before the writer opened it (the robot would not always refuse). An unreadable cartridge is recorded so and not loaded again for
    labeller/unreadable_retry.

    Only a tape writer reads and writes labels: the labeller never opens a drive.

    What talks to the outside is injected (labeller_ops_t): the catalog, the changers and the
    clock, so the module runs in unit tests without processes, like broker/broker.c.
*/
#ifndef LABELLER_H_INCLUDED
#define LABELLER_H_INCLUDED

#include <stdint.h>

#include "tf_actor.h"
#include "tf_changer.h"
#include "tf_config.h"
#include "tf_msg.h"

typedef struct _labeller_t labeller_t;

typedef struct {
    /* The catalog's volume rows into *reply (a cat_reply the caller clears): label's row, or
       every volume with label NULL. */
    int (*catalog_volumes)(void *arg, const char *label, tf_msg_t *reply, tf_err_t *err);
    /* READ ELEMENT STATUS of the changer at url (*inv new; tf_changer_inv_destroy). */
    int (*changer_inventory)(void *arg, const char *url, tf_changer_inv_t **inv, tf_err_t *err);
    /* MOVE MEDIUM slot -> drive element. */
    int (*changer_load)(void *arg, const char *url, int slot, int drive, tf_err_t *err);
    /* MOVE MEDIUM drive element -> slot (0: the slot it came from, or the first empty one):
       *slot_out the slot used. */
    int (*changer_unload)(void *arg, const char *url, int drive, int slot, int *slot_out, tf_err_t *err);
    int64_t (*now_ms)(void *arg);   /* wall clock */
    void *arg;
} labeller_ops_t;

/* ops NULL: the real ones (a broker client for the catalog, tf_changer, the wall clock). The
   inventory is opened at labeller/db. */
labeller_t *labeller_new(tf_config_t *cfg, const labeller_ops_t *ops, tf_err_t *err);
void labeller_destroy(labeller_t **self_p);

/* The two requests, decoded; the result (a vol_grant, a lab_reply) encoded into *data and *size
   (caller frees). An error status means the request could not be answered (the changer or the
   inventory failed): the item is failed with err, retryable unless TF_ERR_INVALID. */
int labeller_vol_request(labeller_t *self, const tf_msg_vol_request_t *req, uint8_t **data, size_t *size,
                         tf_err_t *err);
int labeller_lab_query(labeller_t *self, const tf_msg_lab_query_t *req, uint8_t **data, size_t *size,
                       tf_err_t *err);

/* What the actor serves (tf_actor_run): vol_request and lab_query, each to the call above. */
extern const tf_actor_route_t labeller_routes[];

#endif
