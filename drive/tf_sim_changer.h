/*  tf_sim_changer - an in-process simulated SCSI media changer (SMC), the changer twin of the
    simulated drive (tf_sim.h). Opened through tf_changer_open("sim:PATH?type=8&...").

    PATH is a small text state file; its folder DIR holds the library:
        DIR/<BARCODE>.img   one sim tape image per cartridge (tf_sim_image.h), created blank
                            when the library is first made; it stays there wherever the
                            cartridge is
        DIR/driveN.img      for drive element N (0..): a symlink to the cartridge image while a
                            cartridge is loaded in that drive, absent while the drive is empty
    So a sim drive configured as sim:DIR/driveN.img sees whatever cartridge the changer loaded
    into drive N: data written to cartridge A is on A.img, there again when A is loaded later.
    Open the sim drive after the load and close it before the unload: while a sim drive has the
    cartridge open (its image is locked), MOVE MEDIUM out of that drive is refused with
    5/53/02 (medium removal prevented), like a library whose drive has not ejected the tape.
    A sim drive opened on an empty drive works on a blank scratch DIR/driveN.img, which the next
    load replaces.

    Options (first open creates the library; later opens read the state file, and the layout
    options must then agree with it):
        slots=N (8)  drives=N (1)  ie=N (1)  tapes=N (all slots)  prefix=TEXT (TF)
        barcodes are PREFIX + 4 digits + "L6": TF0001L6, TF0002L6, ...; cartridges fill the
        slots first, then the import/export slots
    Faults, per open:
        door_open=1     TEST UNIT READY and MOVE MEDIUM get 2/04/83 (not ready, door open)
        stuck=1         MOVE MEDIUM gets 4/15/01 (mechanical positioning error)
        no_barcodes=1   no barcode reader: volume tags refused with 5/24/00
        no_eaa=1        MODE SENSE page 1Dh refused (element address assignment)
        ua=reset        6/29/00 on the first command
        sense=descriptor
    Element addresses: transport 1, import/export 10.., drives 100.., slots 1000...
*/
#ifndef TF_SIM_CHANGER_H_INCLUDED
#define TF_SIM_CHANGER_H_INCLUDED

#include <stddef.h>

#include "tf_err.h"
#include "tf_transport.h"

typedef struct _tf_simchg_t tf_simchg_t;

/* spec is "PATH?type=8[&options]", the part of the sim: URL after the scheme. */
tf_simchg_t *tf_simchg_new(const char *spec, tf_err_t *err);
void tf_simchg_destroy(tf_simchg_t **self_p);
/* Answers one command like a changer: TF_OK with a SCSI status in res, or an error for
   host-side failures (state file I/O). */
int tf_simchg_execute(tf_simchg_t *self, const tf_scsi_req_t *req, tf_scsi_res_t *res,
                      tf_err_t *err);

/* A transport over a new simulated changer (what tf_changer_open uses for sim: URLs). */
tf_transport_t *tf_sim_changer_transport_open(const char *spec, tf_err_t *err);

/* The sim drive URL that sees drive element `drive` of the sim changer at changer_url
   ("sim:DIR/driveN.img"). TF_ERR_INVALID when changer_url is not a sim changer URL. */
int tf_sim_changer_drive_url(const char *changer_url, int drive, char *buf, size_t size);

#endif
