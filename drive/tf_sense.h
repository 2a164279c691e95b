/*  tf_sense - SCSI sense data: decode fixed (70h/71h) and descriptor (72h/73h) formats, and
    build them (the simulated drive emits real sense bytes through tf_sense_build).

    Decoding never trusts the buffer: short or garbage input gives TF_ERR_PROTO and a
    sense with valid == false, never a read past the end.
*/
#ifndef TF_SENSE_H_INCLUDED
#define TF_SENSE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tf_err.h"

/* Sense keys (SPC). */
enum {
    TF_SENSE_NO_SENSE = 0x0,
    TF_SENSE_RECOVERED_ERROR = 0x1,
    TF_SENSE_NOT_READY = 0x2,
    TF_SENSE_MEDIUM_ERROR = 0x3,
    TF_SENSE_HARDWARE_ERROR = 0x4,
    TF_SENSE_ILLEGAL_REQUEST = 0x5,
    TF_SENSE_UNIT_ATTENTION = 0x6,
    TF_SENSE_DATA_PROTECT = 0x7,
    TF_SENSE_BLANK_CHECK = 0x8,
    TF_SENSE_ABORTED_COMMAND = 0xB,
    TF_SENSE_VOLUME_OVERFLOW = 0xD,
    TF_SENSE_MISCOMPARE = 0xE
};

/* SCSI status bytes. */
enum {
    TF_SCSI_GOOD = 0x00,
    TF_SCSI_CHECK_CONDITION = 0x02,
    TF_SCSI_BUSY = 0x08,
    TF_SCSI_RESERVATION_CONFLICT = 0x18,
    TF_SCSI_TASK_SET_FULL = 0x28
};

#define TF_SENSE_MAX 252

typedef struct {
    bool valid;            /* a recognised response code with at least the sense key */
    uint8_t response_code; /* 70h..73h */
    bool descriptor;       /* 72h/73h */
    bool deferred;         /* 71h/73h: belongs to an earlier command (e.g. a buffered write) */
    uint8_t key;           /* low 4 bits */
    uint8_t asc;
    uint8_t ascq;
    bool filemark;         /* FM */
    bool eom;              /* EOM: early warning, end or beginning of partition */
    bool ili;              /* incorrect length (short or long block) */
    bool info_valid;
    int64_t info;          /* information field, sign-extended (residue for READ/WRITE/SPACE) */
    bool sks_valid;        /* sense-key specific bytes present and valid */
    uint8_t sks[3];
} tf_sense_t;

/* Decodes len bytes. TF_OK when the key could be read; TF_ERR_PROTO for empty, unknown or
   truncated data (out->valid false, message in err). */
int tf_sense_decode(const uint8_t *buf, size_t len, tf_sense_t *out, tf_err_t *err);

/* Flags for tf_sense_build. */
#define TF_SENSE_F_FILEMARK 0x80
#define TF_SENSE_F_EOM 0x40
#define TF_SENSE_F_ILI 0x20
#define TF_SENSE_F_DEFERRED 0x100
#define TF_SENSE_F_DESCRIPTOR 0x200
#define TF_SENSE_F_INFO 0x400 /* information field valid */

/* Writes sense bytes into buf (at least 18 for fixed, 32 for descriptor format); returns the
   number of bytes written, or 0 when size is too small. */
size_t tf_sense_build(uint8_t *buf, size_t size, uint8_t key, uint8_t asc, uint8_t ascq,
                      unsigned flags, int64_t info);

/* "MEDIUM ERROR" etc.; "key 0xN" style for unknown keys lives in tf_sense_describe. */
const char *tf_sense_key_name(uint8_t key);
/* Text for common ASC/ASCQ pairs in tape use; NULL when not in the table. */
const char *tf_sense_asc_text(uint8_t asc, uint8_t ascq);
/* One line: "MEDIUM ERROR 11/00 (unrecovered read error) [FM EOM ILI] info=42 deferred". */
void tf_sense_describe(const tf_sense_t *sense, char *buf, size_t size);

#endif
