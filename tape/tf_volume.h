/*  tf_volume - pools, retention and the state of a volume (docs/operations.md, "Volumes,
    pools and retention").

    A pool has a retention period (pools/<pool>/retention; default in the key table) and a volume
    count (pools/<pool>/volumes, the number of volumes it is meant to rotate through; 0 = not
    set). A volume is
        appendable  it has room and has not expired: the tape writer appends to it;
        full        it reached early warning (or the end of the tape): nothing more is written
                    to it until it expires;
        expired     its expiry has passed: a (full) backup of its pool may recycle it (rewrite
                    the label, start again at tape file 1), and 'tapeflow tape erase' may erase it.
    Expiry = the later of the label's `expires` (an operator's floor, set with 'tapeflow tape
    label --expires') and last written + retention of the pool. Nothing written and no floor:
    no expiry (the volume holds nothing to protect).

    Where the facts come from: the catalog's volume row (what the tape writer reported) when it
    is there and belongs to the label on the tape (same `created`); otherwise the tape itself -
    the label, and the `created` of the last archive header on it - so a tape is
    self-describing and a lost catalog never makes a volume expire early.
*/
#ifndef TF_VOLUME_H_INCLUDED
#define TF_VOLUME_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tf_config.h"
#include "tf_drive.h"
#include "tf_err.h"

/* Expiry of a volume whose pool keeps volumes forever (retention "never"). */
#define TF_VOLUME_NEVER TF_CONFIG_RETENTION_NEVER

/* "30" (days), "90s", "90min", "500ms", "12h", "30d", "4w", or "never" (TF_VOLUME_NEVER) into
   *ms: the configuration's own parser (tf_config_parse_retention), so what 'config check'
   accepts is what a backup reads. */
int tf_volume_parse_period(const char *text, int64_t *ms);

/* Shortest retention allowed without pools/<pool>/allow_zero_retention: one day. */
#define TF_VOLUME_RETENTION_MIN_MS TF_CONFIG_RETENTION_MIN_MS

/* Retention of pool in ms (TF_VOLUME_NEVER: kept forever), from pools/<pool>/retention (default:
   the key table's); see tf_config_pool_retention, which 'config check' applies too. */
int tf_volume_retention(tf_config_t *cfg, const char *pool, int64_t *ms, tf_err_t *err);

/* pools/<pool>/volumes: how many volumes the pool rotates through; 0 when not set. */
int64_t tf_volume_pool_count(tf_config_t *cfg, const char *pool);

/* "2026-11-21T10:50:11Z", "2026-11-21T10:50:11.123Z" or "2027-01-05" (midnight UTC) into ms
   since the epoch. "" is 0. TF_ERR_INVALID when it is none of these. */
int tf_volume_parse_time(const char *text, int64_t *ms);
/* ISO 8601 UTC in whole seconds ("2026-11-21T10:50:11Z"); "" for 0; "never" for TF_VOLUME_NEVER. */
const char *tf_volume_format_time(int64_t ms, char *buf, size_t size);
/* The UTC date ("2027-01-05"); "never" for TF_VOLUME_NEVER. */
const char *tf_volume_format_date(int64_t ms, char *buf, size_t size);

/* The later of label_expires_ms and last_written_ms + retention_ms (0 when never written);
   0 when neither applies. */
int64_t tf_volume_expiry(int64_t label_expires_ms, int64_t last_written_ms, int64_t retention_ms);

/* Expiry from everything known about a volume - the one rule every reader applies (the
   labeller's volume decision, the overwrite check of 'tapeflow tape label --force|erase'):
   tf_volume_expiry of the label's floor and the last archive, or catalog_expires_ms (the
   catalog's expiry for this very generation of the label; 0 when it has none) when that is
   later. The later date wins, so neither a lost catalog nor a tape read alone makes a volume
   expire early. */
int64_t tf_volume_expiry_known(int64_t label_expires_ms, int64_t last_written_ms, int64_t retention_ms,
                               int64_t catalog_expires_ms);

/* "appendable", "full" or "expired" at now_ms. */
const char *tf_volume_state(bool full, int64_t expires_ms, int64_t now_ms);
/* The state every reader shows (the catalog's volume rows, 'tapeflow tape list'): "error" (write
   errors: out of use until 'tapeflow tape clear') wins, then "expired" (an expired volume may be
   recycled whatever it holds), then "full", else "appendable". */
const char *tf_volume_state_of(bool error, bool full, int64_t expires_ms, int64_t now_ms);

/* TF_OK when a tapeflow volume may be overwritten (relabelled, recycled, erased) at now_ms:
   it has no expiry, or it has passed. Otherwise TF_ERR_STATE with
   "tape TF0003 expires on 2027-01-05 and cannot be overwritten". */
int tf_volume_check_overwrite(const char *label, int64_t expires_ms, int64_t now_ms, tf_err_t *err);

/* What the tape says about its use: spaces to end of data and counts the tape files (label
   included; an unterminated last file counts), and reads the header of the last archive for
   when it was written. *last_written_ms is 0 when the tape holds no archive; when the last
   archive's header cannot be read it is now (the safe guess: not expired). The tape is left
   at end of data. */
int tf_volume_tape_usage(tf_drive_t *drive, uint64_t *tape_files, int64_t *last_written_ms,
                         tf_err_t *err);

#endif
