/*  tf_drive - one tape drive, whatever connects it (sg:, iscsi:, sim: URLs; tf_transport.h).

    Every call returns TF_OK or a negative tf_status_t and fills err with a message that names
    the drive, the command, what the drive said and what to do. The condition of the last command
    (tf_drive_cond.h) and its raw sense are kept for callers that need details.

    Writing:  tf_drive_write_block() returns TF_OK when the block is on tape. When the drive
              signals early warning the call still returns TF_OK and tf_drive_early_warning()
              turns true: finish the tape file and switch tapes. TF_ERR_TOOBIG with condition
              end_of_medium means the block was NOT written (volume overflow).
    Reading:  tf_drive_read_block() returns TF_OK and the block length; a length of 0 means a
              filemark (condition filemark: the next read starts the next tape file) or end of
              data (condition end_of_data).
    Position: the layer tracks tape file, block-in-file and logical object number itself, and
              uses the drive's READ POSITION where it works, so callers know where they are even
              on drives that report nothing (tgt). Missing commands are replaced by fallbacks
              (LOCATE -> rewind + space), logged once per drive.
*/
#ifndef TF_DRIVE_H_INCLUDED
#define TF_DRIVE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tf_drive_cond.h"
#include "tf_err.h"
#include "tf_sense.h"

typedef struct _tf_drive_t tf_drive_t;

typedef struct {
    uint8_t device_type;  /* 1 = sequential access (tape), 8 = medium changer */
    bool removable;
    char vendor[9];
    char product[17];
    char revision[5];
    char serial[65];      /* unit serial number (VPD 80h); "" when the drive has none */
} tf_drive_inquiry_t;

typedef struct {
    uint32_t min_block;
    uint32_t max_block;
    uint8_t granularity;
} tf_drive_limits_t;

typedef struct {
    bool present;          /* a cartridge is loaded and ready */
    bool write_protected;  /* MODE SENSE WP bit */
    uint8_t medium_type;
    uint8_t density;
    uint32_t block_length; /* 0: variable-block mode */
    bool buffered;         /* buffered mode: writes may be reported before they reach tape */
} tf_drive_medium_t;

typedef enum {
    TF_DRIVE_POS_TRACKED = 0, /* computed by this layer from the commands it issued */
    TF_DRIVE_POS_DRIVE        /* confirmed by the drive's READ POSITION */
} tf_drive_pos_source_t;

typedef struct {
    bool file_known;     /* false after a reset, medium change or an unexplained stop */
    uint64_t file;       /* tape file number: filemarks between BOT and here */
    bool block_known;
    uint64_t block;      /* blocks from the start of this tape file */
    bool object_known;
    uint64_t object;     /* logical object number (blocks + filemarks from BOT), for LOCATE */
    bool bot;            /* at the beginning of the tape */
    bool eod;            /* at end of data (known because we went there or read it) */
    tf_drive_pos_source_t source;
} tf_drive_pos_t;

typedef enum {
    TF_DRIVE_SPACE_BLOCKS = 0,
    TF_DRIVE_SPACE_FILEMARKS,
    TF_DRIVE_SPACE_EOD
} tf_drive_space_t;

/* Opens the drive the URL names (no command is sent yet). NULL and err on failure. */
tf_drive_t *tf_drive_open(const char *url, tf_err_t *err);
void tf_drive_destroy(tf_drive_t **self_p);
const char *tf_drive_url(tf_drive_t *self);

/* Identification: standard INQUIRY plus the unit serial number page. */
int tf_drive_inquiry(tf_drive_t *self, tf_drive_inquiry_t *inq, tf_err_t *err);
/* One TEST UNIT READY. */
int tf_drive_test_unit_ready(tf_drive_t *self, tf_err_t *err);
/* Polls TEST UNIT READY until ready or timeout_ms. Becoming ready and busy are waited out;
   no medium fails at once (TF_ERR_DEVICE, condition no_medium); a timeout gives TF_ERR_TIMEOUT
   with the condition still pending (e.g. becoming_ready). Unit attentions are consumed and
   noted (tf_drive_unit_attention). */
int tf_drive_wait_ready(tf_drive_t *self, int64_t timeout_ms, tf_err_t *err);
int tf_drive_block_limits(tf_drive_t *self, tf_drive_limits_t *limits, tf_err_t *err);
/* Switches to variable-block mode (MODE SELECT, block length 0). A drive that refuses but is
   already in variable mode is fine (logged once); one stuck in fixed mode is an error. */
int tf_drive_set_variable(tf_drive_t *self, tf_err_t *err);
/* MODE SENSE: cartridge present, write protect, density, block length. */
int tf_drive_medium_status(tf_drive_t *self, tf_drive_medium_t *medium, tf_err_t *err);
/* TapeAlert flags (LOG SENSE page 2Eh): bit n-1 set for flag n. TF_ERR_UNSUPPORTED when the
   drive has no TapeAlert page. Reading clears the flags on many drives. */
int tf_drive_tapealert(tf_drive_t *self, uint64_t *flags, tf_err_t *err);
/* Name of TapeAlert flag n (1..64) and whether it is critical (the drive or tape is unusable). */
const char *tf_drive_tapealert_name(int flag);
bool tf_drive_tapealert_critical(int flag);

/* Writes one variable-length block (1 byte .. block limit). */
int tf_drive_write_block(tf_drive_t *self, const void *buf, size_t len, tf_err_t *err);
/* True once a write or filemark reported early warning; cleared by rewind, load, locate or a
   reposition before the warning zone. */
bool tf_drive_early_warning(tf_drive_t *self);
/* Reads one block into buf (size bytes). *len = bytes read; 0 at a filemark or end of data.
   A block larger than size gives TF_ERR_TOOBIG (condition block_length); the tape moves past it. */
int tf_drive_read_block(tf_drive_t *self, void *buf, size_t size, size_t *len, tf_err_t *err);
/* Writes count filemarks (0 flushes the drive's buffer). immediate: return before the data is
   on tape (faster; errors then arrive as deferred errors on a later command). */
int tf_drive_write_filemarks(tf_drive_t *self, uint32_t count, bool immediate, tf_err_t *err);
/* Spaces count blocks or filemarks (negative: backwards), or to end of data (count ignored).
   Stopping early (filemark while spacing blocks, end of data, beginning of tape) gives
   TF_ERR_NOTFOUND with the condition saying why; the position is updated either way. */
int tf_drive_space(tf_drive_t *self, tf_drive_space_t what, int64_t count, tf_err_t *err);
/* Positions at logical object `object` (LOCATE(16); fallback: rewind + space). */
int tf_drive_locate(tf_drive_t *self, uint64_t object, tf_err_t *err);
/* Positions at block `block` of tape file `file` (LOCATE to the file if the drive can, else
   rewind + space filemarks; then space blocks). What the tape writer and restore use. */
int tf_drive_locate_file(tf_drive_t *self, uint64_t file, uint64_t block, tf_err_t *err);
/* Asks the drive (long form, then short form) and reconciles with the tracked position; falls
   back to the tracked position when the drive reports nothing useful. */
int tf_drive_read_position(tf_drive_t *self, tf_drive_pos_t *pos, tf_err_t *err);
/* The tracked position, no I/O. */
void tf_drive_position(tf_drive_t *self, tf_drive_pos_t *pos);
int tf_drive_rewind(tf_drive_t *self, tf_err_t *err);
int tf_drive_load(tf_drive_t *self, tf_err_t *err);
int tf_drive_unload(tf_drive_t *self, tf_err_t *err);
/* Erases from the current position to the end of the tape. long_erase: erase the whole rest of
   the medium (slow: hours on LTO); else just write end of data here. Drives without ERASE get a
   filemark written here instead (makes everything after unreachable), logged. */
int tf_drive_erase(tf_drive_t *self, bool long_erase, tf_err_t *err);

/* Outcome of the last command. */
tf_drive_cond_t tf_drive_last_cond(tf_drive_t *self);
const tf_sense_t *tf_drive_last_sense(tf_drive_t *self);
/* The last unit attention seen (medium_changed, reset, unit_attention) since the last call, and
   clears it; TF_DRIVE_COND_NONE when there was none. */
tf_drive_cond_t tf_drive_unit_attention(tf_drive_t *self);
/* Fallbacks in use, as a comma-separated list ("no LOCATE: rewind + space, ..."); "" if none. */
const char *tf_drive_fallbacks(tf_drive_t *self);

#endif
