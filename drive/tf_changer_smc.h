/*  tf_changer_smc - SCSI Media Changer (SMC) wire formats, shared by the changer API and the
    simulated changer: CDBs, READ ELEMENT STATUS data, the element address assignment mode page
    and the SMC sense codes. Not for other modules.
*/
#ifndef TF_CHANGER_SMC_H_INCLUDED
#define TF_CHANGER_SMC_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tf_changer.h"
#include "tf_err.h"

enum {
    TF_OP_INIT_ELEMENT_STATUS = 0x07,
    TF_OP_MOVE_MEDIUM = 0xA5,
    TF_OP_READ_ELEMENT_STATUS = 0xB8
};

#define TF_SMC_PAGE_EAA 0x1D       /* element address assignment mode page */
#define TF_SMC_RES_ALLOC 4096      /* tgt refuses READ ELEMENT STATUS allocations over a page */

/* Additional sense codes of changers (ASC << 8 | ASCQ). */
enum {
    TF_SMC_INVALID_ELEMENT = 0x2101,      /* 5/21/01 invalid element address */
    TF_SMC_INVALID_FIELD = 0x2400,        /* 5/24/00 invalid field in CDB (tgt: bad address) */
    TF_SMC_SOURCE_EMPTY = 0x3B0E,         /* 5/3B/0E medium source element empty */
    TF_SMC_DEST_FULL = 0x3B0D,            /* 5/3B/0D medium destination element full */
    TF_SMC_MAGAZINE_OUT = 0x3B12,         /* x/3B/12 medium magazine removed */
    TF_SMC_REMOVAL_PREVENTED = 0x5302,    /* 5/53/02 medium removal prevented */
    TF_SMC_MANUAL = 0x0403,               /* 2/04/03 manual intervention required */
    TF_SMC_DOOR_OPEN = 0x0483,            /* 2/04/83 door open (IBM, HP and others) */
    TF_SMC_IE_ACCESSED = 0x2801,          /* 6/28/01 import or export element accessed */
    TF_SMC_POSITIONING = 0x1501,          /* 4/15/01 mechanical positioning error */
    TF_SMC_INIT_REQUIRED = 0x0402         /* 2/04/02 initializing command required */
};

/* READ ELEMENT STATUS (B8h, 12 bytes). */
int tf_smc_cdb_read_element_status(uint8_t *cdb, tf_changer_type_t type, bool voltag,
                                   uint16_t start, uint16_t count, uint32_t alloc);
/* MOVE MEDIUM (A5h, 12 bytes). */
int tf_smc_cdb_move_medium(uint8_t *cdb, uint16_t transport, uint16_t from, uint16_t to);

/* First address and count of each element type, from MODE SENSE page 1Dh. */
typedef struct {
    uint16_t first[5]; /* indexed by tf_changer_type_t; [0] unused */
    uint16_t count[5];
} tf_smc_layout_t;

/* Parses a MODE SENSE(6) reply holding page 1Dh. TF_ERR_PROTO when it is not there. */
int tf_smc_parse_eaa(const uint8_t *data, size_t len, tf_smc_layout_t *layout, tf_err_t *err);
/* Writes page 1Dh (20 bytes: code, length, then first/count for each type). */
size_t tf_smc_build_eaa(uint8_t *page, size_t size, const tf_smc_layout_t *layout);

/* Parses READ ELEMENT STATUS data (len bytes actually returned). Appends every complete
   descriptor to elems (*count in/out, capacity cap). *more is set when the changer has more
   data than was returned (the caller asks again from the last address + 1). *voltags is set
   when any page carried primary volume tags. */
int tf_smc_parse_res(const uint8_t *data, size_t len, tf_changer_elem_t *elems, size_t cap,
                     size_t *count, bool *more, bool *voltags, tf_err_t *err);

/* Builds READ ELEMENT STATUS data: header plus one page per run of same-type elements (elems
   must be grouped by type). Returns the full length the reply needs; writes at most size bytes
   (a short buffer gives a truncated reply, as devices do). */
size_t tf_smc_build_res(uint8_t *buf, size_t size, const tf_changer_elem_t *elems, size_t count,
                        bool voltag);

#endif
