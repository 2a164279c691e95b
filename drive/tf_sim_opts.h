/*  tf_sim_opts - options of the simulated drive, from the query part of a sim: URL.

        sim:/var/tmp/tape.img?capacity=64M&ew=1M&rate=300MB&not_ready=5

    Sizes take K, M, G, T (powers of 1024) or KB, MB, GB, TB (powers of 1000). See docs/drives.md
    for every option.
*/
#ifndef TF_SIM_OPTS_H_INCLUDED
#define TF_SIM_OPTS_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#include "tf_err.h"

typedef struct {
    uint64_t capacity;        /* capacity=SIZE: usable bytes before volume overflow */
    uint64_t early_warning;   /* ew=SIZE: early-warning zone before the end */
    uint64_t rate;            /* rate=SIZE: bytes per second, 0 = unlimited */
    uint32_t max_block;       /* maxblock=SIZE: READ BLOCK LIMITS maximum */
    double not_ready_s;       /* not_ready=SECONDS: becoming ready for this long after open */
    double busy_s;            /* busy=SECONDS: answer BUSY for this long after open */
    bool no_medium;           /* no_medium=1: no cartridge in the drive */
    bool write_protect;       /* write_protect=1 (or wp=1): cartridge write-protected */
    uint8_t unit_attention;   /* ua=medium|reset: 28h or 29h once after open and after LOAD */
    int64_t medium_error_at;  /* medium_error=N: logical object N cannot be read or written */
    int64_t hardware_error_at; /* hardware_error=N: writing logical object N fails with 4/44/00 */
    bool hard_eom;            /* hard_eom=1: no early warning, writes run into volume overflow */
    bool tgt_quirks;          /* quirks=tgt: behave like tgt's SSC emulation (no LOCATE, ...) */
    bool descriptor_sense;    /* sense=descriptor: answer with 72h sense instead of 70h */
    uint8_t device_type;      /* type=N: peripheral device type in INQUIRY (1 = tape) */
    char serial[33];          /* serial=XYZ: cartridge/drive serial (VPD 80h) */
} tf_sim_opts_t;

/* Fills opts with defaults: capacity 256 MiB, early warning 1/32 of the capacity, unlimited
   rate, 8 MiB max block, no faults. */
void tf_sim_opts_defaults(tf_sim_opts_t *opts);
/* Parses "key=value&key=value" (may be NULL or empty) over the current values. */
int tf_sim_opts_parse(const char *query, tf_sim_opts_t *opts, tf_err_t *err);
/* Parses a size such as "64M", "300MB", "4096". */
int tf_sim_parse_size(const char *text, uint64_t *value);

#endif
