/*  tf_label - tapeflow volume labels (docs/tape-format.md, "Tape file 0: the volume label").

    Tape file 0 of every tapeflow tape holds four blocks and a filemark:
        VOL1  (80 bytes, ANSI X3.27 / ISO 1001 style; owner and implementation id "TAPEFLOW")
        HDR1  (80 bytes)
        HDR2  (80 bytes)
        metadata record (TF_KVREC_SIZE = 4096 bytes, "TAPEFLOW-VOLUME 1" + key=value lines)
    Label records have fixed sizes, so no later block-size setting can make them unreadable,
    and a labelled tape is never taken for blank.

    Reading classifies what is at the beginning of a tape: nothing (blank), a tapeflow label,
    another program's ANSI label, an LTFS label, or data without any label we know (foreign).
    Checking turns the classification into the refusals operators see.
*/
#ifndef TF_LABEL_H_INCLUDED
#define TF_LABEL_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#include "tf_drive.h"
#include "tf_err.h"

#define TF_LABEL_MAGIC "TAPEFLOW-VOLUME 1"
#define TF_LABEL_IMPLEMENTATION "TAPEFLOW"
/* Blocks in tape file 0 (the filemark not counted). */
#define TF_LABEL_BLOCKS 4

typedef enum {
    TF_LABEL_BLANK = 0,   /* end of data at the beginning of the tape */
    TF_LABEL_TAPEFLOW,    /* ours */
    TF_LABEL_ANSI,        /* an ANSI VOL1 label written by another program (or a damaged one of ours) */
    TF_LABEL_LTFS,        /* an LTFS volume */
    TF_LABEL_FOREIGN      /* data without a label we know (tar, dump, another backup program) */
} tf_label_kind_t;

typedef struct {
    char label[33];       /* volume label, 1..32 of [A-Za-z0-9._-]; VOL1 holds its first 6 */
    char pool[65];        /* pool name, same characters */
    char media_type[33];  /* e.g. "sim", "LTO density 0x5a" */
    char created[32];     /* ISO 8601 UTC */
    char expires[32];     /* ISO 8601 UTC, "" = never (retention comes with issue 5) */
    uint64_t sequence;    /* volume sequence within a set, from 1 */
    char set_id[65];      /* "" until multi-volume sets exist */
    char previous[33];    /* previous volume of the set, "" for the first */
    char software[33];    /* "tapeflow 0.1.0" */
} tf_label_t;

typedef struct {
    tf_label_kind_t kind;
    tf_label_t label;     /* filled when kind is TF_LABEL_TAPEFLOW */
    char found[256];      /* what is on the tape, in words ("an ANSI label 'ABC123' written by BACULA") */
    uint64_t blocks_read; /* blocks read from the tape while classifying */
} tf_label_info_t;

/* Stable short name of a kind: blank, tapeflow, ansi, ltfs, foreign. */
const char *tf_label_kind_name(tf_label_kind_t kind);

/* True when name is a usable label or pool name (1..max bytes of [A-Za-z0-9._-]). */
bool tf_label_name_valid(const char *name, size_t max);

/* Fills label with defaults for a new volume: the name, the pool, created = now, sequence 1,
   software = this version. Checks both names. */
int tf_label_init(tf_label_t *label, const char *name, const char *pool, const char *media_type,
                  tf_err_t *err);

/* Rewinds and classifies the beginning of the tape. Fails only when the tape cannot be read
   (no cartridge, medium error); anything readable gives a kind. */
int tf_label_read(tf_drive_t *drive, tf_label_info_t *info, tf_err_t *err);

/* Rewinds and writes the label (tape file 0), which makes everything after it unreachable. */
int tf_label_write(tf_drive_t *drive, const tf_label_t *label, tf_err_t *err);

/* Whether a tape may be written (or read) by a job of pool (NULL: any pool). Refusals are
   TF_ERR_INVALID with the message an operator sees, naming the drive and what to mount. */
int tf_label_check(const tf_label_info_t *info, const char *drive_name, const char *pool,
                   tf_err_t *err);

/* The 80-byte ANSI records, for tests and for tools that fake other software's labels.
   implementation and owner are copied as given (space padded, truncated to 13 / 14 bytes). */
void tf_label_format_vol1(char out[80], const char *volser, char accessibility,
                          const char *implementation, const char *owner);

#endif
