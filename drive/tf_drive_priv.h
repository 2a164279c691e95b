/*  tf_drive_priv - state shared by the drive API's source files. Not for other modules. */
#ifndef TF_DRIVE_PRIV_H_INCLUDED
#define TF_DRIVE_PRIV_H_INCLUDED

#include "tf_drive.h"
#include "tf_drive_track.h"
#include "tf_transport.h"

/* Missing or broken drive features, discovered at run time (or from INQUIRY for tgt). */
enum {
    TF_DRIVE_NO_READPOS_LONG = 1 << 0,
    TF_DRIVE_NO_READPOS_SHORT = 1 << 1,
    TF_DRIVE_NO_LOCATE = 1 << 2,
    TF_DRIVE_NO_LOGSENSE = 1 << 3,
    TF_DRIVE_NO_MODESELECT = 1 << 4,
    TF_DRIVE_NO_ERASE = 1 << 5,
    TF_DRIVE_NO_SPACE16 = 1 << 6,
    /* tgt: SPACE over blocks counts filemarks as blocks, SPACE back over filemarks stops one
       object too far, and neither reports a residue. */
    TF_DRIVE_TGT_SPACE = 1 << 7
};

/* Command timeouts in milliseconds. */
#define TF_DRIVE_T_SHORT (60 * 1000)
#define TF_DRIVE_T_RW (20 * 60 * 1000)
#define TF_DRIVE_T_MOVE (3 * 60 * 60 * 1000)
#define TF_DRIVE_T_ERASE (24u * 60 * 60 * 1000)

struct _tf_drive_t {
    tf_transport_t *transport;
    char *url;
    tf_drive_track_t *track;
    tf_drive_cond_t last_cond;
    tf_sense_t last_sense;
    size_t last_resid;
    tf_drive_cond_t unit_attention; /* last one seen, for tf_drive_unit_attention */
    bool early_warning;
    bool identified;                /* INQUIRY done (quirks known) */
    unsigned quirks;                /* TF_DRIVE_NO_... */
    char fallbacks[512];
};

/* Runs one command; classifies the outcome into last_cond/last_sense. Returns TF_OK when the
   command succeeded (GOOD, recovered, or early warning), else the condition's status with a
   message naming the command. Unit attentions mark the position lost; for commands that do not
   move the tape they are retried once. */
int tf_drive_exec(tf_drive_t *self, const uint8_t *cdb, int cdb_len, tf_xfer_t dir, void *data,
                  size_t len, unsigned timeout_ms, tf_err_t *err);
/* Records a fallback in use (logged once per drive). */
void tf_drive_fallback(tf_drive_t *self, unsigned quirk, const char *text);
/* INQUIRY once, to learn quirks of known emulations. */
int tf_drive_identify(tf_drive_t *self, tf_err_t *err);
/* Human name of an opcode: "WRITE(6)". */
const char *tf_drive_op_name(uint8_t op);

#endif
