/*  tf_changer_move - load and unload with checks first, and what changers' refusals mean. */
#include <stdio.h>
#include <string.h>

#include "tf_changer_priv.h"
#include "tf_changer_smc.h"

int
tf_changer_explain(const char *url, const char *op, int scsi_status, const tf_sense_t *sense,
                   tf_drive_cond_t cond, const tf_changer_move_ctx_t *move, tf_err_t *err)
{
    char detail[200];
    if (scsi_status == TF_SCSI_CHECK_CONDITION && sense && sense->valid)
        tf_sense_describe(sense, detail, sizeof detail);
    else
        snprintf(detail, sizeof detail, "SCSI status 0x%02x", scsi_status);
    unsigned code = sense && sense->valid ? (unsigned) (sense->asc << 8 | sense->ascq) : 0;
    uint8_t key = sense && sense->valid ? sense->key : 0;
    const char *from = move ? move->from : "the source";
    const char *to = move ? move->to : "the destination";
    if (code == TF_SMC_SOURCE_EMPTY)
        return tf_err_set(err, TF_ERR_NOTFOUND,
                          "%s is empty: there is no cartridge to move (changer %s said: %s); "
                          "run 'tapeflow changer list' to see where the cartridges are",
                          from, url, detail);
    if (code == TF_SMC_DEST_FULL)
        return tf_err_set(err, TF_ERR_STATE, "%s is full: %s first (changer %s said: %s)", to,
                          move && move->to_drive ? "unload it" : "pick an empty slot", url,
                          detail);
    if (code == TF_SMC_REMOVAL_PREVENTED)
        return tf_err_set(err, TF_ERR_BUSY,
                          "%s: medium removal prevented (changer %s said: %s): the drive still "
                          "holds the cartridge or a program keeps it locked; eject it in the "
                          "drive (tapeflow does this for configured drives) and close the "
                          "program using the drive, then retry",
                          move && move->from_drive ? from : op, url, detail);
    if (code == TF_SMC_DOOR_OPEN || (key == TF_SENSE_NOT_READY && code == TF_SMC_MANUAL))
        return tf_err_set(err, TF_ERR_DEVICE,
                          "changer door open or manual intervention required (changer %s, %s: "
                          "%s): close the library door / insert the magazine and retry",
                          url, op, detail);
    if (code == TF_SMC_MAGAZINE_OUT || code == 0x3B11)
        return tf_err_set(err, TF_ERR_DEVICE,
                          "a magazine of changer %s is removed or not accessible (%s: %s): "
                          "insert it and let the library scan its inventory",
                          url, op, detail);
    if (code == TF_SMC_INVALID_ELEMENT
        || (move && key == TF_SENSE_ILLEGAL_REQUEST && code == TF_SMC_INVALID_FIELD))
        return tf_err_set(err, TF_ERR_INVALID,
                          "changer %s refused to move from %s to %s (%s): one of the element "
                          "addresses is not valid here; compare with 'tapeflow changer list'",
                          url, from, to, detail);
    if (code == TF_SMC_POSITIONING || (move && key == TF_SENSE_HARDWARE_ERROR))
        return tf_err_set(err, TF_ERR_DEVICE,
                          "the robot of changer %s could not move %s from %s to %s (%s): look "
                          "for a stuck cartridge or a drive that did not accept or release "
                          "the tape; check the library's panel",
                          url, move && move->barcode[0] ? move->barcode : "the cartridge",
                          from, to, detail);
    if (code == TF_SMC_INIT_REQUIRED)
        return tf_err_set(err, TF_ERR_DEVICE,
                          "changer %s needs an inventory scan (%s: %s): let the library "
                          "finish initialising or start an inventory on its panel",
                          url, op, detail);
    int status = tf_drive_cond_status(cond);
    if (status == TF_OK)
        status = TF_ERR_DEVICE;
    return tf_err_set(err, status, "changer %s: %s%s%s%s%s: %s [%s]; %s", url, op,
                      move ? " from " : "", move ? from : "", move ? " to " : "",
                      move ? to : "", tf_drive_cond_message(cond), detail,
                      tf_drive_cond_action(cond));
}

static void
s_range(const tf_changer_inv_t *inv, tf_changer_type_t type, char *buf, size_t size)
{
    size_t n = tf_changer_inv_count(inv, type);
    int first = type == TF_CHANGER_DRIVE ? 0 : 1;
    if (n == 0)
        snprintf(buf, size, "no %ss", tf_changer_type_name(type));
    else if (n == 1)
        snprintf(buf, size, "only %s %d", tf_changer_type_name(type), first);
    else
        snprintf(buf, size, "%ss %d-%d", tf_changer_type_name(type), first,
                 first + (int) n - 1);
}

static const tf_changer_elem_t *
s_need(const tf_changer_t *self, const tf_changer_inv_t *inv, tf_changer_type_t type, int number,
       tf_err_t *err)
{
    const tf_changer_elem_t *e = tf_changer_inv_find(inv, type, number);
    if (!e) {
        char range[64];
        s_range(inv, type, range, sizeof range);
        tf_err_set(err, TF_ERR_INVALID, "%s %d does not exist: changer %s has %s",
                   tf_changer_type_name(type), number,
                   tf_changer_url((tf_changer_t *) self), range);
    }
    return e;
}

static void
s_ctx(tf_changer_move_ctx_t *ctx, const tf_changer_elem_t *from, const tf_changer_elem_t *to)
{
    memset(ctx, 0, sizeof *ctx);
    tf_changer_elem_name(from, ctx->from, sizeof ctx->from);
    tf_changer_elem_name(to, ctx->to, sizeof ctx->to);
    snprintf(ctx->barcode, sizeof ctx->barcode, "%s", from->barcode);
    ctx->from_drive = from->type == TF_CHANGER_DRIVE;
    ctx->to_drive = to->type == TF_CHANGER_DRIVE;
}

/* " (TF0003L6 from slot 3)" describing what an element holds. */
static void
s_holding(const tf_changer_inv_t *inv, const tf_changer_elem_t *e, char *buf, size_t size)
{
    char src[48] = "";
    if (e->source_valid) {
        const tf_changer_elem_t *s = tf_changer_inv_by_address(inv, e->source);
        char name[40];
        if (s && s != e)
            snprintf(src, sizeof src, "from %s", tf_changer_elem_name(s, name, sizeof name));
    }
    if (e->barcode[0] || src[0])
        snprintf(buf, size, " (%s%s%s)", e->barcode[0] ? e->barcode : "no barcode",
                 src[0] ? " " : "", src);
    else
        buf[0] = '\0';
}

int
tf_changer_load(tf_changer_t *self, int slot, int drive, tf_err_t *err)
{
    tf_changer_inv_t *inv = NULL;
    int rc = tf_changer_inventory(self, &inv, err);
    if (rc != TF_OK)
        return rc;
    const tf_changer_elem_t *from = s_need(self, inv, TF_CHANGER_SLOT, slot, err);
    const tf_changer_elem_t *to = from ? s_need(self, inv, TF_CHANGER_DRIVE, drive, err) : NULL;
    if (!from || !to)
        rc = err ? err->code : TF_ERR_INVALID;
    else if (!from->full)
        rc = tf_err_set(err, TF_ERR_NOTFOUND,
                        "slot %d is empty: nothing to load (see 'tapeflow changer list')", slot);
    else if (to->full) {
        char what[96];
        s_holding(inv, to, what, sizeof what);
        rc = tf_err_set(err, TF_ERR_STATE, "drive %d is full%s: unload it first", drive, what);
    } else {
        tf_changer_move_ctx_t ctx;
        s_ctx(&ctx, from, to);
        rc = tf_changer_move_named(self, from->address, to->address, &ctx, err);
    }
    tf_changer_inv_destroy(&inv);
    return rc;
}

/* Where an unloaded cartridge goes: its source slot when known and empty, else the first empty
   slot. */
static const tf_changer_elem_t *
s_home(const tf_changer_inv_t *inv, const tf_changer_elem_t *drive)
{
    if (drive->source_valid) {
        const tf_changer_elem_t *src = tf_changer_inv_by_address(inv, drive->source);
        if (src && (src->type == TF_CHANGER_SLOT || src->type == TF_CHANGER_IE) && !src->full)
            return src;
    }
    for (size_t i = 0; i < inv->count; i++)
        if (inv->elem[i].type == TF_CHANGER_SLOT && !inv->elem[i].full)
            return &inv->elem[i];
    return NULL;
}

int
tf_changer_unload(tf_changer_t *self, int drive, int slot, int *slot_out, tf_err_t *err)
{
    if (slot_out)
        *slot_out = -1;
    tf_changer_inv_t *inv = NULL;
    int rc = tf_changer_inventory(self, &inv, err);
    if (rc != TF_OK)
        return rc;
    const tf_changer_elem_t *from = s_need(self, inv, TF_CHANGER_DRIVE, drive, err);
    const tf_changer_elem_t *to = NULL;
    if (from && slot >= 1)
        to = s_need(self, inv, TF_CHANGER_SLOT, slot, err);
    else if (from && from->full)
        to = s_home(inv, from);
    if (!from || (slot >= 1 && !to)) {
        rc = err ? err->code : TF_ERR_INVALID;
    } else if (!from->full) {
        rc = tf_err_set(err, TF_ERR_NOTFOUND, "drive %d is empty: nothing to unload", drive);
    } else if (!to) {
        rc = tf_err_set(err, TF_ERR_STATE,
                        "no empty slot to unload drive %d into: every slot of changer %s is "
                        "full; export a cartridge first",
                        drive, self ? tf_changer_url(self) : "");
    } else if (to->full) {
        char what[96];
        s_holding(inv, to, what, sizeof what);
        rc = tf_err_set(err, TF_ERR_STATE,
                        "slot %d is full%s: pick an empty slot, or leave out --slot to return "
                        "the cartridge to the slot it came from",
                        slot, what);
    } else {
        tf_changer_move_ctx_t ctx;
        s_ctx(&ctx, from, to);
        rc = tf_changer_move_named(self, from->address, to->address, &ctx, err);
        if (rc == TF_OK && slot_out)
            *slot_out = to->type == TF_CHANGER_SLOT ? to->number : -1;
    }
    tf_changer_inv_destroy(&inv);
    return rc;
}
