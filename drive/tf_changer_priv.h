/*  tf_changer_priv - shared by the changer API's source files. Not for other modules. */
#ifndef TF_CHANGER_PRIV_H_INCLUDED
#define TF_CHANGER_PRIV_H_INCLUDED

#include "tf_changer.h"

/* What a MOVE MEDIUM is about, in operator words, for its error messages. */
typedef struct {
    char from[48];    /* "slot 5" */
    char to[48];      /* "drive 1" */
    char barcode[TF_CHANGER_BARCODE_MAX + 1]; /* cartridge being moved, "" if unknown */
    bool to_drive;    /* destination is a drive */
    bool from_drive;  /* source is a drive */
} tf_changer_move_ctx_t;

/* Builds the error for a failed changer command from its status and sense: SMC codes first
   (source empty, destination full, removal prevented, door open...), then the drive layer's
   condition model. Returns the status. move may be NULL (not a move). */
int tf_changer_explain(const char *url, const char *op, int scsi_status, const tf_sense_t *sense,
                       tf_drive_cond_t cond, const tf_changer_move_ctx_t *move, tf_err_t *err);

/* MOVE MEDIUM with operator names for the messages. */
int tf_changer_move_named(tf_changer_t *self, uint16_t from, uint16_t to,
                          const tf_changer_move_ctx_t *move, tf_err_t *err);

#endif
