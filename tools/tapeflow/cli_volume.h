/*  cli_volume - the rule that protects a tapeflow volume from being overwritten, shared by
    every command that destroys what is on a tape: `tapeflow tape label --force`, `tapeflow tape
    erase` and `tapeflow drive test --yes-overwrite` (docs/operations.md, "Volumes, pools and
    retention").

    The decision itself is tf_volume_check_overwrite (tape/tf_volume.h); this module
    gathers the facts it needs - the label, the tape's own use, the catalog's row when the
    broker answers - so that each command applies the same rule to the same facts.
*/
#ifndef CLI_VOLUME_H_INCLUDED
#define CLI_VOLUME_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tf_client.h"
#include "tf_config.h"
#include "tf_drive.h"
#include "tf_err.h"
#include "tf_label.h"

typedef struct {
    uint64_t tape_files;      /* label included */
    int64_t last_written_ms;  /* of the last archive; 0 = none */
    int64_t expires_ms;       /* 0 = no expiry */
    uint64_t write_errors;    /* as the catalog counted them for this cartridge */
    uint64_t read_errors;
    bool error;               /* the catalog has the cartridge in state error (write errors) */
    bool held;                /* past expiry, kept: jobs within retention depend on it (chains) */
    char orphans[256];        /* those jobs, ", " between them ("" when none) */
} cli_volume_t;

/* A broker client when the broker answers at once; NULL when the stack is down (then the
   tape alone decides, and the catalog learns about a label when the tape writer writes). */
tf_client_t *cli_volume_catalog_client(tf_config_t *cfg);

/* What decides whether the tapeflow volume in the drive may be overwritten: the label's own
   expires, its last archive + the pool's retention, and the catalog's expiry when it knows
   this label (the later date wins, so neither a lost catalog nor a tape read alone makes a
   volume expire early). client may be NULL. Leaves the tape at end of data. */
int cli_volume_facts(tf_config_t *cfg, tf_client_t *client, tf_drive_t *drive,
                     const tf_label_info_t *info, cli_volume_t *v, tf_err_t *err);

/* The rule on the facts: tf_volume_check_overwrite, and a held volume (a base that jobs still
   within their retention need: docs/operations.md, "Retention and chains") is refused too. */
int cli_volume_check_overwrite(const char *label, const cli_volume_t *v, tf_err_t *err);

/* For commands that destroy the whole tape (drive test): reads what is on the tape in the
   (ready) drive and applies the rule. TF_OK when the tape may be overwritten - it is not a
   tapeflow volume, or the volume has expired or holds nothing, or destroy_volume names it
   exactly (the operator's explicit '--destroy-volume LABEL'); detail then says what is lost.
   Otherwise TF_ERR_STATE with "tape TF0001 expires on 2027-01-05 and cannot be overwritten"
   and what to do, or, when destroy_volume names another label, that the tape is not the one
   named. Other errors: the label could not be read. */
int cli_volume_may_destroy(tf_config_t *cfg, tf_drive_t *drive, const char *destroy_volume,
                           char *detail, size_t size, tf_err_t *err);

#endif
