/*  tf_drive_cond - classify command outcomes into one error model, with messages and actions. */
#include "tf_drive_cond.h"

static const struct {
    tf_drive_cond_t cond;
    const char *name;
    int status;
    const char *message;
    const char *action;
} s_table[TF_DRIVE_COND_COUNT] = {
    {TF_DRIVE_COND_NONE, "ok", TF_OK, "command completed", "nothing to do"},
    {TF_DRIVE_COND_BECOMING_READY, "becoming_ready", TF_ERR_BUSY,
     "the drive is loading or calibrating the cartridge (becoming ready)",
     "wait and retry; a first load of an LTO cartridge can take several minutes"},
    {TF_DRIVE_COND_NOT_READY, "not_ready", TF_ERR_DEVICE,
     "the drive is not ready and will not become ready by itself",
     "check the drive's front panel; it may need a LOAD, manual intervention or a power cycle"},
    {TF_DRIVE_COND_NO_MEDIUM, "no_medium", TF_ERR_DEVICE, "there is no cartridge in the drive",
     "insert a cartridge (or have the library load one), then retry"},
    {TF_DRIVE_COND_WRITE_PROTECTED, "write_protected", TF_ERR_DEVICE,
     "the cartridge is write-protected",
     "slide the cartridge's write-protect tab to unlocked, or load a writable cartridge"},
    {TF_DRIVE_COND_MEDIUM_CHANGED, "medium_changed", TF_ERR_STATE,
     "the cartridge may have been changed (unit attention); the tape position is lost",
     "re-read the volume label and reposition before writing"},
    {TF_DRIVE_COND_RESET, "reset", TF_ERR_STATE,
     "the drive was reset or powered on (unit attention); the tape position is lost",
     "rewind, re-read the label and reposition; check cabling or the iSCSI session if it repeats"},
    {TF_DRIVE_COND_UNIT_ATTENTION, "unit_attention", TF_ERR_STATE,
     "the drive reported a unit attention (its settings or state changed)",
     "retry the command; re-apply drive settings such as variable block mode"},
    {TF_DRIVE_COND_EARLY_WARNING, "early_warning", TF_OK,
     "early warning: the tape is near its end (the write succeeded)",
     "finish the current tape file soon, write the trailer and filemark, then switch tapes"},
    {TF_DRIVE_COND_END_OF_MEDIUM, "end_of_medium", TF_ERR_TOOBIG,
     "end of medium (volume overflow): the tape is full and the last write did NOT complete",
     "mark the volume full, load a new tape and rewrite the data of the unfinished tape file"},
    {TF_DRIVE_COND_FILEMARK, "filemark", TF_ERR_NOTFOUND, "a filemark was reached",
     "this is the end of the current tape file; continue with the next file if intended"},
    {TF_DRIVE_COND_END_OF_DATA, "end_of_data", TF_ERR_NOTFOUND,
     "end of data: nothing more is recorded on this tape",
     "the requested data is not on this tape; append here or check the catalog position"},
    {TF_DRIVE_COND_BEGINNING_OF_MEDIUM, "beginning_of_medium", TF_ERR_NOTFOUND,
     "the beginning of the tape was reached while spacing backwards",
     "the position asked for is before the start of the tape; check the count"},
    {TF_DRIVE_COND_BLOCK_LENGTH, "block_length", TF_ERR_TOOBIG,
     "the block on tape has a different length than requested",
     "read with a buffer at least as large as the largest block (tapeflow uses up to 1 MiB)"},
    {TF_DRIVE_COND_MEDIUM_ERROR, "medium_error", TF_ERR_DEVICE,
     "medium error: the tape could not be read or written at this position",
     "retire the cartridge (mark the volume failed); keep the data staged and write it to "
     "another tape; clean the drive if it repeats on several cartridges"},
    {TF_DRIVE_COND_HARDWARE_ERROR, "hardware_error", TF_ERR_DEVICE,
     "the drive reported a hardware error",
     "take the drive out of service, check its TapeAlert flags and call for service"},
    {TF_DRIVE_COND_NOT_SUPPORTED, "not_supported", TF_ERR_UNSUPPORTED,
     "the drive does not support this command or option",
     "tapeflow falls back where it can; otherwise use a drive that implements SSC-3"},
    {TF_DRIVE_COND_ILLEGAL_REQUEST, "illegal_request", TF_ERR_INVALID,
     "the drive rejected the command as invalid",
     "this is likely a tapeflow bug or an unusual drive: report it with the sense data shown"},
    {TF_DRIVE_COND_BUSY, "busy", TF_ERR_BUSY,
     "the drive is busy or reserved by another initiator",
     "wait for the other job to finish, or find who holds the drive (tapeflow drive doctor)"},
    {TF_DRIVE_COND_ABORTED, "aborted", TF_ERR_IO, "the drive aborted the command",
     "retry; if it repeats, check the SCSI/SAS/FC cabling or the iSCSI network"},
    {TF_DRIVE_COND_TRANSPORT, "transport", TF_ERR_IO,
     "the command did not reach the drive or no answer came back",
     "check the connection (cable, HBA, iSCSI session) and that the drive is powered"},
    {TF_DRIVE_COND_OTHER, "other", TF_ERR_DEVICE, "the drive reported an unexpected condition",
     "see the sense data in the message; retry once, then take the drive out of service"},
};

static bool
s_valid(tf_drive_cond_t cond)
{
    return (int) cond >= 0 && (int) cond < TF_DRIVE_COND_COUNT;
}

const char *
tf_drive_cond_name(tf_drive_cond_t cond)
{
    return s_valid(cond) ? s_table[cond].name : "other";
}

const char *
tf_drive_cond_message(tf_drive_cond_t cond)
{
    return s_valid(cond) ? s_table[cond].message : s_table[TF_DRIVE_COND_OTHER].message;
}

const char *
tf_drive_cond_action(tf_drive_cond_t cond)
{
    return s_valid(cond) ? s_table[cond].action : s_table[TF_DRIVE_COND_OTHER].action;
}

int
tf_drive_cond_status(tf_drive_cond_t cond)
{
    return s_valid(cond) ? s_table[cond].status : TF_ERR_DEVICE;
}

bool
tf_drive_cond_loses_position(tf_drive_cond_t cond)
{
    return cond == TF_DRIVE_COND_MEDIUM_CHANGED || cond == TF_DRIVE_COND_RESET
           || cond == TF_DRIVE_COND_NO_MEDIUM;
}

static tf_drive_cond_t
s_classify_sense(const tf_sense_t *s)
{
    switch (s->key) {
    case TF_SENSE_NO_SENSE:
    case TF_SENSE_RECOVERED_ERROR:
        if (s->filemark || (s->asc == 0x00 && s->ascq == 0x01))
            return TF_DRIVE_COND_FILEMARK;
        if (s->asc == 0x00 && s->ascq == 0x05)
            return TF_DRIVE_COND_END_OF_DATA;
        if (s->asc == 0x00 && s->ascq == 0x04)
            return TF_DRIVE_COND_BEGINNING_OF_MEDIUM;
        if (s->eom || (s->asc == 0x00 && s->ascq == 0x02))
            return TF_DRIVE_COND_EARLY_WARNING;
        if (s->ili)
            return TF_DRIVE_COND_BLOCK_LENGTH;
        return TF_DRIVE_COND_NONE;
    case TF_SENSE_NOT_READY:
        if (s->asc == 0x3A)
            return TF_DRIVE_COND_NO_MEDIUM;
        if (s->asc == 0x04 && s->ascq == 0x01)
            return TF_DRIVE_COND_BECOMING_READY;
        if (s->asc == 0x04 && s->ascq == 0x07)
            return TF_DRIVE_COND_BUSY;
        return TF_DRIVE_COND_NOT_READY;
    case TF_SENSE_MEDIUM_ERROR:
        return TF_DRIVE_COND_MEDIUM_ERROR;
    case TF_SENSE_HARDWARE_ERROR:
        return TF_DRIVE_COND_HARDWARE_ERROR;
    case TF_SENSE_ILLEGAL_REQUEST:
        if ((s->asc == 0x20 && s->ascq == 0x00) || (s->asc == 0x24 && s->ascq == 0x00)
            || s->asc == 0x26)
            return TF_DRIVE_COND_NOT_SUPPORTED;
        return TF_DRIVE_COND_ILLEGAL_REQUEST;
    case TF_SENSE_UNIT_ATTENTION:
        if (s->asc == 0x28)
            return TF_DRIVE_COND_MEDIUM_CHANGED;
        if (s->asc == 0x29)
            return TF_DRIVE_COND_RESET;
        return TF_DRIVE_COND_UNIT_ATTENTION;
    case TF_SENSE_DATA_PROTECT:
        return TF_DRIVE_COND_WRITE_PROTECTED;
    case TF_SENSE_BLANK_CHECK:
        return TF_DRIVE_COND_END_OF_DATA;
    case TF_SENSE_ABORTED_COMMAND:
        return TF_DRIVE_COND_ABORTED;
    case TF_SENSE_VOLUME_OVERFLOW:
        return TF_DRIVE_COND_END_OF_MEDIUM;
    default:
        return TF_DRIVE_COND_OTHER;
    }
}

tf_drive_cond_t
tf_drive_cond_classify(int scsi_status, const tf_sense_t *sense)
{
    switch (scsi_status) {
    case TF_SCSI_GOOD:
        return TF_DRIVE_COND_NONE;
    case TF_SCSI_BUSY:
    case TF_SCSI_RESERVATION_CONFLICT:
    case TF_SCSI_TASK_SET_FULL:
        return TF_DRIVE_COND_BUSY;
    case TF_SCSI_CHECK_CONDITION:
        if (!sense || !sense->valid)
            return TF_DRIVE_COND_OTHER;
        return s_classify_sense(sense);
    default:
        return TF_DRIVE_COND_OTHER;
    }
}
