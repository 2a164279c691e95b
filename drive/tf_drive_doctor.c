/*  tf_drive_doctor - step-by-step drive diagnosis. */
#include "tf_drive_doctor.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tf_drive.h"
#include "tf_drive_resolve.h"

#define S_MIN_BLOCK_NEEDED (256u * 1024u)

static const char *s_names[TF_DOCTOR_STEPS] = {"found", "openable", "is_tape", "ready",
                                                "loaded", "write_protect", "block_limits",
                                                "tapealert"};
static const char *s_titles[TF_DOCTOR_STEPS] = {
    "drive found",        "device can be opened", "device is a tape drive",
    "drive is ready",     "cartridge loaded",     "cartridge writable",
    "block limits",       "TapeAlert flags"};

const char *
tf_drive_doctor_step_name(tf_doctor_step_t step)
{
    return step < TF_DOCTOR_STEPS ? s_names[step] : "unknown";
}

const char *
tf_drive_doctor_step_title(tf_doctor_step_t step)
{
    return step < TF_DOCTOR_STEPS ? s_titles[step] : "unknown";
}

const char *
tf_drive_doctor_state_name(tf_doctor_state_t state)
{
    switch (state) {
    case TF_DOCTOR_OK: return "ok";
    case TF_DOCTOR_WARN: return "WARN";
    case TF_DOCTOR_FAIL: return "FAIL";
    default: return "skip";
    }
}

static void
s_set(tf_doctor_report_t *report, tf_doctor_step_t step, tf_doctor_state_t state,
      const char *meaning, const char *action, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void
s_set(tf_doctor_report_t *report, tf_doctor_step_t step, tf_doctor_state_t state,
      const char *meaning, const char *action, const char *fmt, ...)
{
    tf_doctor_result_t *r = &report->steps[step];
    r->state = state;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->detail, sizeof r->detail, fmt, ap);
    va_end(ap);
    snprintf(r->meaning, sizeof r->meaning, "%s", meaning ? meaning : "");
    snprintf(r->action, sizeof r->action, "%s", action ? action : "");
    if (state == TF_DOCTOR_FAIL && report->first_failure < 0)
        report->first_failure = (int) step;
}

static void
s_skip_from(tf_doctor_report_t *report, tf_doctor_step_t from)
{
    for (int i = from; i < TF_DOCTOR_STEPS; i++)
        if (report->steps[i].state == TF_DOCTOR_SKIP && !report->steps[i].detail[0])
            snprintf(report->steps[i].detail, sizeof report->steps[i].detail,
                     "not checked: an earlier step failed");
}

/* found: the URL resolves and its device node / image folder / portal is there. */
static bool
s_found(const char *drive, const tf_doctor_opts_t *opts, tf_doctor_report_t *report)
{
    tf_err_t err = {0, ""};
    if (tf_drive_resolve(opts->cfg, drive, opts->sysfs_root, opts->dev_root, report->url,
                         sizeof report->url, &err)
        != TF_OK) {
        report->url[0] = '\0';
        s_set(report, TF_DOCTOR_FOUND, TF_DOCTOR_FAIL,
              "tapeflow cannot tell which device this drive is",
              "run 'tapeflow drive list' to see attached drives and their serials, then fix the "
              "drive's url in the config (serial:XYZ or a /dev/tape/by-id path)",
              "%s", err.message);
        return false;
    }
    const char *url = report->url;
    if (strncmp(url, "sg:", 3) == 0) {
        const char *path = url + 3;
        struct stat st, lst;
        if (stat(path, &st) != 0) {
            bool dangling = lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode);
            s_set(report, TF_DOCTOR_FOUND, TF_DOCTOR_FAIL,
                  dangling ? "the by-id link exists but the device it names is gone: the drive "
                             "is visible to udev history but not attached now"
                           : "the device node does not exist: the drive is not attached, not "
                             "powered, or its node name changed (nstN/sgN can change across "
                             "reboots)",
                  "check power and cabling, 'dmesg | grep -i tape', and 'tapeflow drive list'; "
                  "configure drives by serial:XYZ or /dev/tape/by-id, never by nstN/sgN",
                  "%s: %s", path, strerror(errno));
            return false;
        }
        if (!S_ISCHR(st.st_mode)) {
            s_set(report, TF_DOCTOR_FOUND, TF_DOCTOR_FAIL,
                  "the path exists but is not a device node",
                  "point the drive at its sg or nst device (tapeflow drive list), or use "
                  "sim:PATH for an image file",
                  "%s is not a character device", path);
            return false;
        }
        s_set(report, TF_DOCTOR_FOUND, TF_DOCTOR_OK, NULL, NULL, "%s exists", path);
        return true;
    }
    if (strncmp(url, "sim:", 4) == 0) {
        char folder[PATH_MAX];
        snprintf(folder, sizeof folder, "%s", url + 4);
        char *q = strchr(folder, '?');
        if (q)
            *q = '\0';
        char *slash = strrchr(folder, '/');
        if (slash)
            *(slash == folder ? slash + 1 : slash) = '\0';
        else
            snprintf(folder, sizeof folder, ".");
        struct stat st;
        if (stat(folder, &st) != 0 || !S_ISDIR(st.st_mode)) {
            s_set(report, TF_DOCTOR_FOUND, TF_DOCTOR_FAIL,
                  "the simulated drive's image folder does not exist",
                  "create the folder or fix the sim: path", "folder %s: %s", folder,
                  strerror(errno ? errno : ENOTDIR));
            return false;
        }
        s_set(report, TF_DOCTOR_FOUND, TF_DOCTOR_OK, NULL, NULL, "simulated drive, image folder %s",
              folder);
        return true;
    }
    s_set(report, TF_DOCTOR_FOUND, TF_DOCTOR_OK, NULL, NULL,
          "network drive: reachability is checked when opening");
    return true;
}

static void
s_open_failed(tf_doctor_report_t *report, const tf_err_t *err)
{
    const char *meaning, *action;
    switch (err->code) {
    case TF_ERR_BUSY:
        meaning = "another process has the drive open (a running backup, restore or tool)";
        action = "wait for that job to finish, or stop the process named above; then retry";
        break;
    case TF_ERR_STATE:
        meaning = "tapeflow's user may not open the device";
        action = "run tapeflow as root, or add its user to the device's group (usually 'tape') "
                 "and log in again";
        break;
    case TF_ERR_NOTFOUND:
        meaning = "the device or target named by the URL does not exist";
        action = "check the URL against 'tapeflow drive list' (or the iSCSI target's name and "
                 "LUN)";
        break;
    default:
        meaning = "the device could not be opened";
        action = "follow the hint in the message above; check dmesg, cabling and power (or the "
                 "network and target daemon for iSCSI)";
        break;
    }
    s_set(report, TF_DOCTOR_OPENABLE, TF_DOCTOR_FAIL, meaning, action, "%s", err->message);
}

static const char *
s_type_name(uint8_t type)
{
    switch (type) {
    case 0: return "a disk";
    case 1: return "a tape drive";
    case 5: return "a CD/DVD drive";
    case 8: return "a medium changer (tape library robot)";
    default: return "not a tape drive";
    }
}

static void
s_check_drive(tf_drive_t *drive, const tf_doctor_opts_t *opts, tf_doctor_report_t *report)
{
    tf_err_t err = {0, ""};
    tf_drive_inquiry_t inq;
    if (tf_drive_inquiry(drive, &inq, &err) != TF_OK) {
        s_set(report, TF_DOCTOR_IS_TAPE, TF_DOCTOR_FAIL,
              "the device does not answer INQUIRY, the most basic SCSI command",
              "check dmesg for SCSI errors, cabling and power; power-cycle the drive", "%s",
              err.message);
        return;
    }
    if (inq.device_type != 1) {
        s_set(report, TF_DOCTOR_IS_TAPE, TF_DOCTOR_FAIL,
              "this device is not a tape drive; in a tape library the robot (medium changer) "
              "and the drives have separate devices",
              "point the drive at the tape drive's own device: 'tapeflow drive list' shows "
              "tape drives only",
              "%s %s reports device type %u: %s", inq.vendor, inq.product, inq.device_type,
              s_type_name(inq.device_type));
        return;
    }
    s_set(report, TF_DOCTOR_IS_TAPE, TF_DOCTOR_OK, NULL, NULL, "%s %s rev %s, serial %s",
          inq.vendor, inq.product, inq.revision, inq.serial[0] ? inq.serial : "(none)");

    int64_t timeout = opts->timeout_ms > 0 ? opts->timeout_ms : 120000;
    int rc = tf_drive_wait_ready(drive, timeout, &err);
    tf_drive_cond_t ua = tf_drive_unit_attention(drive);
    if (rc != TF_OK) {
        tf_drive_cond_t cond = tf_drive_last_cond(drive);
        s_set(report, TF_DOCTOR_READY, TF_DOCTOR_FAIL, tf_drive_cond_message(cond),
              cond == TF_DRIVE_COND_BECOMING_READY
                  ? "wait: a first load can take minutes; run doctor again with a longer "
                    "--timeout, and check the drive's display if it never gets ready"
                  : tf_drive_cond_action(cond),
              "%s", err.message);
        return;
    }
    if (ua != TF_DRIVE_COND_NONE)
        s_set(report, TF_DOCTOR_READY, TF_DOCTOR_WARN, tf_drive_cond_message(ua),
              tf_drive_cond_action(ua), "ready, after a unit attention (%s)",
              tf_drive_cond_name(ua));
    else
        s_set(report, TF_DOCTOR_READY, TF_DOCTOR_OK, NULL, NULL, "ready");

    tf_drive_medium_t medium;
    if (tf_drive_medium_status(drive, &medium, &err) != TF_OK || !medium.present) {
        s_set(report, TF_DOCTOR_LOADED, TF_DOCTOR_FAIL, "no usable cartridge is loaded",
              "load a cartridge and run doctor again", "%s",
              err.message[0] ? err.message : "MODE SENSE reports no cartridge");
        return;
    }
    s_set(report, TF_DOCTOR_LOADED, TF_DOCTOR_OK, NULL, NULL,
          "cartridge loaded (medium type 0x%02x, density 0x%02x, %s)", medium.medium_type,
          medium.density, medium.block_length ? "fixed blocks" : "variable blocks");
    if (medium.write_protected)
        s_set(report, TF_DOCTOR_WRITE_PROTECT, TF_DOCTOR_FAIL,
              tf_drive_cond_message(TF_DRIVE_COND_WRITE_PROTECTED),
              tf_drive_cond_action(TF_DRIVE_COND_WRITE_PROTECTED),
              "MODE SENSE reports the write-protect bit set");
    else
        s_set(report, TF_DOCTOR_WRITE_PROTECT, TF_DOCTOR_OK, NULL, NULL, "writable");

    tf_drive_limits_t limits;
    tf_err_t verr = {0, ""};
    int vrc = tf_drive_set_variable(drive, &verr);
    if (tf_drive_block_limits(drive, &limits, &err) != TF_OK)
        s_set(report, TF_DOCTOR_BLOCK_LIMITS, TF_DOCTOR_FAIL,
              "the drive does not report its block limits", "check the drive's firmware; "
              "report the message above",
              "%s", err.message);
    else if (vrc != TF_OK)
        s_set(report, TF_DOCTOR_BLOCK_LIMITS, TF_DOCTOR_FAIL,
              "the drive cannot be switched to variable-length blocks, which tapeflow writes",
              "set the drive to variable-block mode or use another drive", "%s", verr.message);
    else if (limits.max_block < S_MIN_BLOCK_NEEDED)
        s_set(report, TF_DOCTOR_BLOCK_LIMITS, TF_DOCTOR_FAIL,
              "the drive cannot write blocks as large as tapeflow's (256 KiB to 1 MiB)",
              "use a drive (or HBA/driver setting) that allows blocks of at least 256 KiB",
              "blocks %u .. %u bytes", limits.min_block, limits.max_block);
    else
        s_set(report, TF_DOCTOR_BLOCK_LIMITS, TF_DOCTOR_OK, NULL, NULL,
              "variable blocks of %u .. %u bytes", limits.min_block, limits.max_block);

    uint64_t flags = 0;
    rc = tf_drive_tapealert(drive, &flags, &err);
    if (rc == TF_ERR_UNSUPPORTED) {
        s_set(report, TF_DOCTOR_TAPEALERT, TF_DOCTOR_SKIP, NULL, NULL,
              "the drive does not report TapeAlert flags");
        return;
    }
    if (rc != TF_OK) {
        s_set(report, TF_DOCTOR_TAPEALERT, TF_DOCTOR_WARN, "TapeAlert flags could not be read",
              "retry; report the message if it persists", "%s", err.message);
        return;
    }
    char list[TF_ERR_MESSAGE_MAX] = "";
    bool critical = false;
    size_t used = 0;
    for (int f = 1; f <= 64; f++) {
        if (!(flags & (1ull << (f - 1))))
            continue;
        critical = critical || tf_drive_tapealert_critical(f);
        int n = snprintf(list + used, sizeof list - used, "%s%d %s%s", used ? ", " : "", f,
                         tf_drive_tapealert_name(f), tf_drive_tapealert_critical(f) ? " (!)" : "");
        if (n > 0 && used + (size_t) n < sizeof list)
            used += (size_t) n;
    }
    if (!flags)
        s_set(report, TF_DOCTOR_TAPEALERT, TF_DOCTOR_OK, NULL, NULL, "no flags set");
    else if (critical)
        s_set(report, TF_DOCTOR_TAPEALERT, TF_DOCTOR_FAIL,
              "the drive reports a problem with itself or the cartridge",
              "for media flags retire the cartridge; for clean-now clean the drive; for "
              "hardware flags call for service",
              "flags set: %s", list);
    else
        s_set(report, TF_DOCTOR_TAPEALERT, TF_DOCTOR_WARN,
              "the drive reports warnings", "note them; act if they persist",
              "flags set: %s", list);
}

int
tf_drive_doctor_run(const char *drive, const tf_doctor_opts_t *opts, tf_doctor_report_t *report)
{
    memset(report, 0, sizeof *report);
    report->first_failure = -1;
    snprintf(report->drive, sizeof report->drive, "%s", drive ? drive : "");
    for (int i = 0; i < TF_DOCTOR_STEPS; i++) {
        report->steps[i].step = (tf_doctor_step_t) i;
        report->steps[i].state = TF_DOCTOR_SKIP;
    }
    tf_doctor_opts_t defaults = {NULL, NULL, NULL, 120000};
    if (!opts)
        opts = &defaults;
    if (s_found(drive, opts, report)) {
        tf_err_t err = {0, ""};
        tf_drive_t *handle = tf_drive_open(report->url, &err);
        if (!handle) {
            s_open_failed(report, &err);
        } else {
            s_set(report, TF_DOCTOR_OPENABLE, TF_DOCTOR_OK, NULL, NULL, "opened %s",
                  report->url);
            s_check_drive(handle, opts, report);
            tf_drive_destroy(&handle);
        }
    }
    s_skip_from(report, TF_DOCTOR_FOUND);
    return report->first_failure < 0 ? TF_OK : TF_ERR_DEVICE;
}
