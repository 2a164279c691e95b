/*  tf_changer - a SCSI media changer (tape library robot), whatever connects it.

    A changer is opened by URL like a drive (tf_transport.h):
        sg:/dev/sgN                          the library's own SCSI generic node (type 8)
        iscsi://host[:port]/iqn/LUN          e.g. tgt's changer LUN
        sim:PATH?type=8[&slots=N&...]        the simulated changer (tf_sim_changer.h)

    Elements are what the robot can reach: the transport (picker), storage slots, import/export
    slots (mail slots) and drives (data transfer elements). Each has a SCSI element address;
    operators use numbers instead, as mtx does: slots and import/export slots from 1, drives
    from 0, all in ascending address order.

    tf_changer_inventory() asks READ ELEMENT STATUS (with volume tags, i.e. barcodes) per element
    type, after learning the address ranges from MODE SENSE page 1Dh (element address
    assignment) when the changer has it. tf_changer_move() is MOVE MEDIUM. tf_changer_load()
    and tf_changer_unload() check the inventory first, so the usual mistakes get plain messages
    ("slot 5 is empty", "drive 1 is full (TF0003L6 from slot 3): unload it first") before the
    robot moves; what the changer itself refuses is explained from its sense data through the
    drive layer's condition model (tf_drive_cond.h) plus the SMC codes (source empty,
    destination full, removal prevented, door open, ...).

    Every call returns TF_OK or a negative tf_status_t with err filled in.
*/
#ifndef TF_CHANGER_H_INCLUDED
#define TF_CHANGER_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tf_changer_config.h"  /* which changer serves a drive */
#include "tf_drive_cond.h"
#include "tf_err.h"
#include "tf_sense.h"

typedef struct _tf_changer_t tf_changer_t;

/* Element type codes of READ ELEMENT STATUS (SMC). */
typedef enum {
    TF_CHANGER_ALL = 0,
    TF_CHANGER_TRANSPORT = 1, /* medium transport element: the picker */
    TF_CHANGER_SLOT = 2,      /* storage element */
    TF_CHANGER_IE = 3,        /* import/export element (mail slot) */
    TF_CHANGER_DRIVE = 4      /* data transfer element */
} tf_changer_type_t;

#define TF_CHANGER_BARCODE_MAX 36

typedef struct {
    tf_changer_type_t type;
    uint16_t address;    /* SCSI element address */
    int number;          /* operator number: slots and ie from 1, drives and transports from 0 */
    bool full;           /* holds a cartridge */
    bool except;         /* the element is in an abnormal state (asc/ascq say why) */
    uint8_t asc, ascq;
    bool access;         /* ie: the robot may reach it (door closed) */
    bool impexp;         /* ie: the operator put the cartridge in (not the robot) */
    bool source_valid;   /* source address is known */
    uint16_t source;     /* element the cartridge came from */
    char barcode[TF_CHANGER_BARCODE_MAX + 1]; /* primary volume tag, trimmed; "" if none */
} tf_changer_elem_t;

/* One READ ELEMENT STATUS sweep: all elements, grouped by type (transport, slots, ie, drives),
   each group in ascending address order. */
typedef struct {
    size_t count;
    tf_changer_elem_t *elem;
    bool barcodes;       /* the changer reported volume tags (has a barcode reader) */
} tf_changer_inv_t;

/* Opens the changer the URL names (no command is sent yet). NULL and err on failure. */
tf_changer_t *tf_changer_open(const char *url, tf_err_t *err);
void tf_changer_destroy(tf_changer_t **self_p);
const char *tf_changer_url(tf_changer_t *self);

/* INQUIRY: checks the device is a medium changer (type 8); vendor/product for display. */
int tf_changer_identify(tf_changer_t *self, char *vendor, size_t vendor_size, char *product,
                        size_t product_size, tf_err_t *err);

/* Reads the whole element status. *inv_p is new on success; free with tf_changer_inv_destroy. */
int tf_changer_inventory(tf_changer_t *self, tf_changer_inv_t **inv_p, tf_err_t *err);
void tf_changer_inv_destroy(tf_changer_inv_t **self_p);

/* Lookups in an inventory; NULL when there is no such element. */
const tf_changer_elem_t *tf_changer_inv_find(const tf_changer_inv_t *inv, tf_changer_type_t type,
                                             int number);
const tf_changer_elem_t *tf_changer_inv_by_address(const tf_changer_inv_t *inv,
                                                   uint16_t address);
/* The element holding the cartridge with this barcode (any type), case-sensitive. */
const tf_changer_elem_t *tf_changer_inv_by_barcode(const tf_changer_inv_t *inv,
                                                   const char *barcode);
size_t tf_changer_inv_count(const tf_changer_inv_t *inv, tf_changer_type_t type);
/* "slot 5", "drive 0", "import/export 1", "transport 0"; "element 0x1234" when unknown. */
const char *tf_changer_elem_name(const tf_changer_elem_t *elem, char *buf, size_t size);
/* "slot", "drive", "ie", "transport" (stable, for JSON). */
const char *tf_changer_type_name(tf_changer_type_t type);

/* MOVE MEDIUM from one element address to another (no checks beyond the changer's own). */
int tf_changer_move(tf_changer_t *self, uint16_t from, uint16_t to, tf_err_t *err);

/* Moves the cartridge in slot `slot` (1..) into drive `drive` (0..). Checks first that the slot
   exists and is full and that the drive exists and is empty. */
int tf_changer_load(tf_changer_t *self, int slot, int drive, tf_err_t *err);
/* Moves the cartridge in drive `drive` to slot `slot`, or with slot < 1 back to the slot it
   came from (or, when that is unknown or taken, the first empty slot). *slot_out (may be NULL)
   gets the slot used. The tape must already be ejected from the drive on most libraries
   (tf_drive_unload); a drive that still holds it makes the changer refuse ("removal
   prevented"). */
int tf_changer_unload(tf_changer_t *self, int drive, int slot, int *slot_out, tf_err_t *err);

/* Outcome of the last command. */
tf_drive_cond_t tf_changer_last_cond(tf_changer_t *self);
const tf_sense_t *tf_changer_last_sense(tf_changer_t *self);

#endif
