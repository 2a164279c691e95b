/*  tf_drive_doctor - walks the chain from "the drive exists" to "it can take a backup" and says,
    for the first step that fails, what it means and what to do.

    Steps: found -> openable -> is a tape drive -> ready (within the timeout) -> cartridge loaded
    -> not write-protected -> block limits fit tapeflow's blocks -> no critical TapeAlert flags.
    The doctor does not write to the tape; it sets variable-block mode (what tapeflow uses).
*/
#ifndef TF_DRIVE_DOCTOR_H_INCLUDED
#define TF_DRIVE_DOCTOR_H_INCLUDED

#include <stdint.h>

#include "tf_config.h"
#include "tf_err.h"

typedef enum {
    TF_DOCTOR_FOUND = 0,
    TF_DOCTOR_OPENABLE,
    TF_DOCTOR_IS_TAPE,
    TF_DOCTOR_READY,
    TF_DOCTOR_LOADED,
    TF_DOCTOR_WRITE_PROTECT,
    TF_DOCTOR_BLOCK_LIMITS,
    TF_DOCTOR_TAPEALERT,
    TF_DOCTOR_STEPS
} tf_doctor_step_t;

typedef enum { TF_DOCTOR_OK = 0, TF_DOCTOR_WARN, TF_DOCTOR_FAIL, TF_DOCTOR_SKIP } tf_doctor_state_t;

typedef struct {
    tf_doctor_step_t step;
    tf_doctor_state_t state;
    char detail[TF_ERR_MESSAGE_MAX];  /* what was found */
    char meaning[TF_ERR_MESSAGE_MAX]; /* on FAIL/WARN: what it means */
    char action[TF_ERR_MESSAGE_MAX];  /* on FAIL/WARN: what to do */
} tf_doctor_result_t;

typedef struct {
    char drive[256];  /* as given */
    char url[1024];   /* resolved, "" when resolving failed */
    tf_doctor_result_t steps[TF_DOCTOR_STEPS];
    int first_failure; /* index of the first FAIL step, -1 when none */
} tf_doctor_report_t;

typedef struct {
    tf_config_t *cfg;        /* may be NULL */
    const char *sysfs_root;  /* NULL: /sys */
    const char *dev_root;    /* NULL: /dev */
    int64_t timeout_ms;      /* ready wait */
} tf_doctor_opts_t;

/* Runs every step for `drive` (URL, serial:XYZ or configured name). Returns TF_OK when no step
   failed, TF_ERR_DEVICE otherwise; the report says which and why. */
int tf_drive_doctor_run(const char *drive, const tf_doctor_opts_t *opts, tf_doctor_report_t *report);

const char *tf_drive_doctor_step_name(tf_doctor_step_t step);  /* "found", "openable", ... */
const char *tf_drive_doctor_step_title(tf_doctor_step_t step); /* "drive found", ... */
const char *tf_drive_doctor_state_name(tf_doctor_state_t state); /* "ok", "WARN", "FAIL", "skip" */

#endif
