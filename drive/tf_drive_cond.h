/*  tf_drive_cond - the drive layer's one error model.

    Every command outcome (SCSI status plus decoded sense, or a transport failure) is classified
    into one condition. Each condition has a stable name (logs, JSON), a message saying what it
    means and an action saying what to do, and the tf_status_t that API calls return for it.
*/
#ifndef TF_DRIVE_COND_H_INCLUDED
#define TF_DRIVE_COND_H_INCLUDED

#include "tf_sense.h"

typedef enum {
    TF_DRIVE_COND_NONE = 0,        /* command succeeded */
    TF_DRIVE_COND_BECOMING_READY,  /* 2/04/01: loading or calibrating, retry soon */
    TF_DRIVE_COND_NOT_READY,       /* 2/04/xx other than becoming ready */
    TF_DRIVE_COND_NO_MEDIUM,       /* 2/3A/xx */
    TF_DRIVE_COND_WRITE_PROTECTED, /* 7/27/xx */
    TF_DRIVE_COND_MEDIUM_CHANGED,  /* 6/28/00 */
    TF_DRIVE_COND_RESET,           /* 6/29/xx */
    TF_DRIVE_COND_UNIT_ATTENTION,  /* other 6/xx/xx (e.g. parameters changed) */
    TF_DRIVE_COND_EARLY_WARNING,   /* EOM with NO SENSE/RECOVERED: written, but near the end */
    TF_DRIVE_COND_END_OF_MEDIUM,   /* D/00/02 volume overflow: the write did not happen */
    TF_DRIVE_COND_FILEMARK,        /* FM: a filemark was read or crossed */
    TF_DRIVE_COND_END_OF_DATA,     /* 8/00/05 blank check, or 0/00/05 */
    TF_DRIVE_COND_BEGINNING_OF_MEDIUM, /* 0/00/04 with EOM: spaced back into BOT */
    TF_DRIVE_COND_BLOCK_LENGTH,    /* ILI: block shorter or longer than asked */
    TF_DRIVE_COND_MEDIUM_ERROR,    /* 3/xx */
    TF_DRIVE_COND_HARDWARE_ERROR,  /* 4/xx */
    TF_DRIVE_COND_NOT_SUPPORTED,   /* 5/20/00, 5/24/00, 5/26/00: command or field not supported */
    TF_DRIVE_COND_ILLEGAL_REQUEST, /* other 5/xx */
    TF_DRIVE_COND_BUSY,            /* status BUSY / RESERVATION CONFLICT / TASK SET FULL, 2/04/07 */
    TF_DRIVE_COND_ABORTED,         /* B/xx: aborted command (transport hiccup), retry */
    TF_DRIVE_COND_TRANSPORT,       /* no SCSI status: connection, timeout, host adapter */
    TF_DRIVE_COND_OTHER            /* anything else, e.g. CHECK CONDITION with garbage sense */
} tf_drive_cond_t;

#define TF_DRIVE_COND_COUNT (TF_DRIVE_COND_OTHER + 1)

/* Classifies a completed command. sense may be NULL or invalid. */
tf_drive_cond_t tf_drive_cond_classify(int scsi_status, const tf_sense_t *sense);

/* Stable short name: "early_warning", "no_medium", ... */
const char *tf_drive_cond_name(tf_drive_cond_t cond);
/* What it means, for operators. */
const char *tf_drive_cond_message(tf_drive_cond_t cond);
/* What to do about it. */
const char *tf_drive_cond_action(tf_drive_cond_t cond);
/* Status an API call returns when the command ended in this condition (TF_OK for NONE). */
int tf_drive_cond_status(tf_drive_cond_t cond);
/* True when the condition means the drive no longer knows where the tape is for us. */
bool tf_drive_cond_loses_position(tf_drive_cond_t cond);

#endif
