/*  inventory - the labeller's record of cartridges (labeller/db, SQLite WAL): for every
    cartridge of a configured changer, by barcode (or "slot N", its home slot, without one),
    where it is (slot N, drive D, import/export slot N, or outside the library) and what a tape
    writer last read on it (blank, a tapeflow label and pool, another program's data, unreadable,
    or unknown: never loaded since tapeflow saw it).

    Locations come from READ ELEMENT STATUS (inventory_update) and from the labeller's own moves
    (inventory_move); labels only from what a tape writer read (inventory_set_label): the
    labeller never opens a drive. A cartridge the changer no longer reports is kept, located
    outside, so its label is known again when it comes back.
*/
#ifndef INVENTORY_H_INCLUDED
#define INVENTORY_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tf_changer.h"
#include "tf_err.h"

typedef struct _inventory_t inventory_t;

typedef struct {
    char changer[129];         /* configured changer name */
    char barcode[TF_CHANGER_BARCODE_MAX + 1]; /* the key: barcode, or "slot N" (inventory_key) */
    char location[16];         /* slot | drive | ie | outside */
    int element;               /* slot, drive or ie number */
    char kind[16];             /* unknown | blank | tapeflow | foreign */
    char label[33];
    char pool[65];
    int64_t seen_ms;           /* last READ ELEMENT STATUS that saw it */
    int64_t label_ms;          /* when a tape writer last read it (0: never) */
} inventory_cartridge_t;

/* Opens (creates) the store at path; its folder is made when missing. */
inventory_t *inventory_open(const char *path, tf_err_t *err);
void inventory_destroy(inventory_t **self_p);

/* The key a cartridge is recorded under: its barcode, or for a cartridge without one (a library
   without a barcode reader) "slot N" after its home slot - the slot it is in, or for a drive
   the slot the changer says it came from. false (key "") when it has none (an empty element,
   a barcode-less cartridge in a drive or mail slot of unknown source). */
bool inventory_key(const tf_changer_inv_t *inv, const tf_changer_elem_t *e, char *key, size_t size);
/* Whether key names a cartridge by its home slot (no barcode). */
bool inventory_key_is_slot(const char *key);

/* Records one READ ELEMENT STATUS sweep of changer: every full element's cartridge (by its key,
   inventory_key) at its element; cartridges of the changer not in the sweep are outside. A
   barcode-less cartridge seen again after it was outside may be another one: what was read on
   it is forgotten (unknown). */
int inventory_update(inventory_t *self, const char *changer, const tf_changer_inv_t *inv, int64_t now_ms,
                     tf_err_t *err);
/* A move the labeller made. */
int inventory_move(inventory_t *self, const char *changer, const char *barcode, const char *location,
                   int element, tf_err_t *err);
/* What a tape writer read on a cartridge (kind blank | tapeflow | foreign; label/pool for tapeflow). */
int inventory_set_label(inventory_t *self, const char *changer, const char *barcode, const char *kind,
                        const char *label, const char *pool, int64_t now_ms, tf_err_t *err);
/* One cartridge; *found false when the store has none with this barcode. */
int inventory_get(inventory_t *self, const char *changer, const char *barcode, inventory_cartridge_t *out,
                  bool *found, tf_err_t *err);
/* Every cartridge (of changer, or of all with NULL), by changer, location and element. *rows is
   new (free() it), *count its length. */
int inventory_list(inventory_t *self, const char *changer, inventory_cartridge_t **rows, size_t *count,
                   tf_err_t *err);

#endif
