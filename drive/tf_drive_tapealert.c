/*  tf_drive_tapealert - names and severity of TapeAlert flags (SSC, LOG SENSE page 2Eh). */
#include "tf_drive.h"

static const char *s_names[64] = {
    "read warning", "write warning", "hard error", "media", "read failure", "write failure",
    "media life", "not data grade", "write protect", "no removal", "cleaning media",
    "unsupported format", "recoverable mechanical cartridge failure",
    "unrecoverable mechanical cartridge failure", "memory chip in cartridge failure",
    "forced eject", "read only format", "tape directory corrupted on load", "nearing media life",
    "clean now", "clean periodic", "expired cleaning media", "invalid cleaning tape",
    "retension requested", "dual-port interface error", "cooling fan failure",
    "power supply failure", "power consumption", "drive maintenance", "hardware A",
    "hardware B", "interface", "eject media", "microcode update fail", "drive humidity",
    "drive temperature", "drive voltage", "predictive failure", "diagnostics required",
    "obsolete (40)", "obsolete (41)", "obsolete (42)", "obsolete (43)", "obsolete (44)",
    "obsolete (45)", "obsolete (46)", "obsolete (47)", "obsolete (48)", "obsolete (49)",
    "lost statistics", "tape directory invalid at unload", "tape system area write failure",
    "tape system area read failure", "no start of data", "loading failure",
    "unrecoverable unload failure", "automation interface failure", "microcode failure",
    "WORM medium - integrity check failed", "WORM medium - overwrite attempted",
    "reserved (61)", "reserved (62)", "reserved (63)", "reserved (64)"};

const char *
tf_drive_tapealert_name(int flag)
{
    if (flag < 1 || flag > 64)
        return "unknown";
    return s_names[flag - 1];
}

bool
tf_drive_tapealert_critical(int flag)
{
    switch (flag) {
    case 3: case 4: case 5: case 6: case 12: case 14: case 15: case 16: case 18: case 20:
    case 22: case 23: case 26: case 27: case 30: case 31: case 32: case 34: case 39:
    case 52: case 53: case 54: case 55: case 56: case 57: case 58: case 59: case 60:
        return true;
    default:
        return false;
    }
}
