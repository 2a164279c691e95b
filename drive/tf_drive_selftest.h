/*  tf_drive_selftest - a self test on a scratch tape, in the spirit of Bacula's btape.

    DESTROYS THE DATA ON THE TAPE. Writes several tape files of checksummed blocks, reads them
    back and verifies them, checks filemark positioning, appending at end of data, spacing
    forward and backward, the position report and early-warning handling, and measures
    throughput.
*/
#ifndef TF_DRIVE_SELFTEST_H_INCLUDED
#define TF_DRIVE_SELFTEST_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tf_err.h"

#define TF_SELFTEST_MAX_STEPS 12

typedef enum { TF_SELFTEST_PASS = 0, TF_SELFTEST_FAIL, TF_SELFTEST_SKIP } tf_selftest_state_t;

typedef struct {
    const char *name;
    tf_selftest_state_t state;
    char detail[TF_ERR_MESSAGE_MAX];
    double seconds;
} tf_selftest_step_t;

typedef struct {
    tf_selftest_step_t steps[TF_SELFTEST_MAX_STEPS];
    size_t count;
    double write_mb_s;       /* MB = 10^6 bytes */
    double read_mb_s;
    uint64_t bytes_written;
    char fallbacks[512];     /* fallbacks the drive layer used */
    bool passed;
} tf_selftest_report_t;

struct _tf_drive_t;

/* Asked once the drive is ready and before anything is written: TF_OK when the tape may be
   overwritten (detail says why), an error (its message says why not) to stop the test with
   the tape untouched. The drive layer knows nothing of volume labels; the caller does. */
typedef int(tf_selftest_guard_fn)(struct _tf_drive_t *drive, void *arg, char *detail,
                                  size_t size, tf_err_t *err);

typedef struct {
    int files;               /* tape files written (default 3) */
    int blocks;              /* blocks per file (default 8) */
    size_t block_size;       /* largest block (default 256 KiB; sizes vary below it) */
    uint64_t ew_limit;       /* write at most this much looking for early warning; 0: skip */
    int64_t timeout_ms;      /* ready wait */
    tf_selftest_guard_fn *guard;  /* NULL: the tape is overwritten without asking */
    void *guard_arg;
} tf_selftest_opts_t;

void tf_selftest_opts_defaults(tf_selftest_opts_t *opts);
/* Runs the test on url. TF_OK when every step passed (or was skipped); TF_ERR_DEVICE when a
   step failed; the guard's error when it refused the tape (step "tape may be overwritten"
   FAIL, nothing written); other errors when the drive could not be opened. */
int tf_drive_selftest_run(const char *url, const tf_selftest_opts_t *opts,
                          tf_selftest_report_t *report, tf_err_t *err);

#endif
