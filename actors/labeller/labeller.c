/*  labeller - volumes, pools, the inventory and every changer move (see labeller.h). */
#include "labeller.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inventory.h"
#include "tf_client.h"
#include "tf_clock.h"
#include "tf_drive_resolve.h"
#include "tf_log.h"
#include "tf_volume.h"
#include "volume_decide.h"

/* What the labeller remembers about a drive between its writer's requests. In memory only: a
   restarted labeller holds no lease (the robot's element status and the sim's lock still
   stand) and has no label waiting for confirmation (the cartridge is read again when needed). */
typedef struct {
    char drive[TF_MSG_MAX_ID];
    char changer[129];
    int element;
    /* The lease: the cartridge loaded for this drive's writer (to read) is its own until its
       next vol_request or leased_until_ms; no other drive's request and no operator move
       without force takes it out of the drive meanwhile. */
    int64_t leased_until_ms;
    char leased_barcode[TF_CHANGER_BARCODE_MAX + 1];
    /* A label granted (recycle) and not yet reported written: the inventory records it only
       when the writer reads it back or confirms it (lab_query op labelled). */
    char pending_barcode[TF_CHANGER_BARCODE_MAX + 1];
    char pending_label[33];
    char pending_pool[65];
} s_drive_t;

struct _labeller_t {
    tf_config_t *cfg;
    labeller_ops_t ops;
    tf_client_t *client;       /* the real ops' way to the catalog */
    int catalog_timeout_ms;
    int64_t lease_ms;          /* labeller/lease */
    int64_t unreadable_retry_ms; /* labeller/unreadable_retry */
    inventory_t *inventory;
    zhashx_t *drives;          /* drive name -> s_drive_t */
};

/* --- the real outside world ------------------------------------------------------------- */

static int
s_real_catalog_volumes(void *arg, const char *label, tf_msg_t *reply, tf_err_t *err)
{
    labeller_t *self = arg;
    tf_msg_t query = {.type = TF_MSG_CAT_QUERY};
    query.cat_query = (tf_msg_cat_query_t){.query = "volumes", .pattern = (char *) label};
    int rc = tf_client_call(self->client, "catalog", NULL, NULL, &query, reply, self->catalog_timeout_ms, err);
    if (rc == TF_OK && reply->type != TF_MSG_CAT_REPLY) {
        tf_msg_clear(reply);
        return tf_err_set(err, TF_ERR_PROTO, "the catalog answered a volumes query with %s",
                          tf_msg_type_name(reply->type));
    }
    return rc;
}

static int
s_real_changer_inventory(void *arg, const char *url, tf_changer_inv_t **inv, tf_err_t *err)
{
    (void) arg;
    tf_changer_t *chg = tf_changer_open(url, err);
    if (!chg)
        return err->code;
    int rc = tf_changer_inventory(chg, inv, err);
    tf_changer_destroy(&chg);
    return rc;
}

static int
s_real_changer_load(void *arg, const char *url, int slot, int drive, tf_err_t *err)
{
    (void) arg;
    tf_changer_t *chg = tf_changer_open(url, err);
    if (!chg)
        return err->code;
    int rc = tf_changer_load(chg, slot, drive, err);
    tf_changer_destroy(&chg);
    return rc;
}

static int
s_real_changer_unload(void *arg, const char *url, int drive, int slot, int *slot_out, tf_err_t *err)
{
    (void) arg;
    tf_changer_t *chg = tf_changer_open(url, err);
    if (!chg)
        return err->code;
    int rc = tf_changer_unload(chg, drive, slot, slot_out, err);
    tf_changer_destroy(&chg);
    return rc;
}

static int64_t
s_real_now(void *arg)
{
    (void) arg;
    return tf_clock_wall_ms();
}

static void
s_drive_free(void **item)
{
    free(*item);
    *item = NULL;
}

labeller_t *
labeller_new(tf_config_t *cfg, const labeller_ops_t *ops, tf_err_t *err)
{
    labeller_t *self = calloc(1, sizeof *self);
    if (!self) {
        tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    self->cfg = cfg;
    self->catalog_timeout_ms = (int) tf_config_ms(cfg, "labeller/catalog_timeout");
    self->lease_ms = tf_config_ms(cfg, "labeller/lease");
    self->unreadable_retry_ms = tf_config_ms(cfg, "labeller/unreadable_retry");
    self->drives = zhashx_new();
    if (!self->drives) {
        free(self);
        tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    zhashx_set_destructor(self->drives, s_drive_free);
    if (ops)
        self->ops = *ops;
    else {
        self->client = tf_client_new(cfg, tf_config_get(cfg, "broker/endpoint"), err);
        if (!self->client) {
            labeller_destroy(&self);
            return NULL;
        }
        self->ops = (labeller_ops_t){.catalog_volumes = s_real_catalog_volumes,
                                     .changer_inventory = s_real_changer_inventory,
                                     .changer_load = s_real_changer_load,
                                     .changer_unload = s_real_changer_unload,
                                     .now_ms = s_real_now,
                                     .arg = self};
    }
    self->inventory = inventory_open(tf_config_get(cfg, "labeller/db"), err);
    if (!self->inventory) {
        labeller_destroy(&self);
        return NULL;
    }
    return self;
}

void
labeller_destroy(labeller_t **self_p)
{
    if (self_p && *self_p) {
        inventory_destroy(&(*self_p)->inventory);
        zhashx_destroy(&(*self_p)->drives);
        tf_client_destroy(&(*self_p)->client);
        free(*self_p);
        *self_p = NULL;
    }
}

/* --- drives: leases and labels waiting for confirmation ---------------------------------- */

/* The record of drive (made on first use); NULL only when out of memory. */
static s_drive_t *
s_drive(labeller_t *self, const char *drive, const char *changer, int element)
{
    s_drive_t *d = zhashx_lookup(self->drives, drive);
    if (!d) {
        d = calloc(1, sizeof *d);
        if (!d)
            return NULL;
        snprintf(d->drive, sizeof d->drive, "%s", drive);
        if (zhashx_insert(self->drives, drive, d) != 0) {
            free(d);
            return NULL;
        }
    }
    if (changer) {
        snprintf(d->changer, sizeof d->changer, "%s", changer);
        d->element = element;
    }
    return d;
}

/* The drive record of element `element` of changer whose lease still holds, or NULL. */
static const s_drive_t *
s_leased(labeller_t *self, const char *changer, int element, int64_t now_ms)
{
    for (const s_drive_t *d = zhashx_first(self->drives); d; d = zhashx_next(self->drives))
        if (d->leased_until_ms > now_ms && d->element == element && strcmp(d->changer, changer) == 0)
            return d;
    return NULL;
}

/* --- changers ---------------------------------------------------------------------------- */

/* A changer as the operator or the configuration names it: a configured name, or a URL (named
   after the configured changer with that url, else after the URL itself). */
static int
s_changer_named(labeller_t *self, const char *given, char *name, size_t name_size, char *url, size_t url_size,
                tf_err_t *err)
{
    if (!given || !*given)
        return tf_err_set(err, TF_ERR_INVALID, "which changer? give a configured name or a URL");
    if (!tf_drive_is_url(given)) {
        char key[300];
        snprintf(key, sizeof key, "changers/%s/url", given);
        const char *value = strchr(given, '/') ? NULL : tf_config_get(self->cfg, key);
        if (!value || !*value)
            return tf_err_set(err, TF_ERR_NOTFOUND, "no changer %s is configured (changers/%s/url)", given,
                              given);
        snprintf(name, name_size, "%s", given);
        snprintf(url, url_size, "%s", value);
        return TF_OK;
    }
    snprintf(name, name_size, "%s", given);
    snprintf(url, url_size, "%s", given);
    zlist_t *names = tf_config_children(self->cfg, "changers");
    for (const char *n = names ? zlist_first(names) : NULL; n; n = zlist_next(names)) {
        char key[300];
        snprintf(key, sizeof key, "changers/%s/url", n);
        const char *value = tf_config_get(self->cfg, key);
        if (value && strcmp(value, given) == 0) {
            snprintf(name, name_size, "%s", n);
            break;
        }
    }
    zlist_destroy(&names);
    return TF_OK;
}

/* READ ELEMENT STATUS into the inventory. */
static int
s_sweep(labeller_t *self, const char *name, const char *url, tf_changer_inv_t **inv, tf_err_t *err)
{
    int rc = self->ops.changer_inventory(self->ops.arg, url, inv, err);
    if (rc != TF_OK)
        return tf_err_prefix(err, "changer %s: ", name);
    rc = inventory_update(self->inventory, name, *inv, self->ops.now_ms(self->ops.arg), err);
    if (rc != TF_OK)
        tf_changer_inv_destroy(inv);
    return rc;
}

/* --- vol_request ------------------------------------------------------------------------ */

static bool
s_eq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/* What the writer read from the tape, as the decision's facts. */
static void
s_mounted(const tf_msg_vol_request_t *req, volume_facts_t *f)
{
    const char *m = req->mounted ? req->mounted : "unknown";
    snprintf(f->tape.found, sizeof f->tape.found, "%s", req->found ? req->found : "");
    f->tape_files = req->tape_files;
    f->tape_last_written_ms = req->last_written_ms;
    if (strcmp(m, "none") == 0) {
        f->mount = VOLUME_MOUNT_NONE;
        return;
    }
    f->mount = VOLUME_MOUNT_READ;
    if (strcmp(m, "blank") == 0)
        f->tape.kind = TF_LABEL_BLANK;
    else if (strcmp(m, "tapeflow") == 0 && req->label && req->label_pool) {
        f->tape.kind = TF_LABEL_TAPEFLOW;
        tf_label_t *l = &f->tape.label;
        snprintf(l->label, sizeof l->label, "%s", req->label);
        snprintf(l->pool, sizeof l->pool, "%s", req->label_pool);
        snprintf(l->created, sizeof l->created, "%s", req->label_created ? req->label_created : "");
        snprintf(l->expires, sizeof l->expires, "%s", req->label_expires ? req->label_expires : "");
        snprintf(l->set_id, sizeof l->set_id, "%s", req->label_set_id ? req->label_set_id : "");
        snprintf(l->previous, sizeof l->previous, "%s", req->label_previous ? req->label_previous : "");
        snprintf(l->media_type, sizeof l->media_type, "%s", req->media_type ? req->media_type : "");
        l->sequence = req->label_sequence;
    } else if (strcmp(m, "foreign") == 0 || strcmp(m, "ansi") == 0 || strcmp(m, "ltfs") == 0)
        f->tape.kind = strcmp(m, "ansi") == 0 ? TF_LABEL_ANSI : strcmp(m, "ltfs") == 0 ? TF_LABEL_LTFS
                                                                                    : TF_LABEL_FOREIGN;
    else
        f->mount = VOLUME_MOUNT_UNREADABLE;
}

/* The catalog's row for label into f->row (strings point into *reply, cleared by the caller).
   Without an answer the tape alone decides. */
static void
s_catalog_row(labeller_t *self, const char *label, tf_msg_t *reply, volume_facts_t *f)
{
    tf_err_t err = {0};
    if (self->ops.catalog_volumes(self->ops.arg, label, reply, &err) != TF_OK) {
        tf_log_warn("cannot ask the catalog about volume %s (%s): going by what the tape says", label,
                    err.message);
        return;
    }
    for (size_t i = 0; i < reply->cat_reply.volumes_count; i++) {
        const tf_msg_volume_row_t *r = &reply->cat_reply.volumes[i];
        if (strcmp(r->label, label) != 0)
            continue;
        f->row = (volume_row_t){.present = true, .state = r->state, .pool = r->pool,
                                .created_ms = r->created_ms, .expires_ms = r->expires_ms,
                                .last_written_ms = r->last_written_ms, .bytes_used = r->bytes_used,
                                .write_errors = r->write_errors, .read_errors = r->read_errors,
                                .held = r->held};
    }
}

static const char *
s_kind_of(const volume_facts_t *f)
{
    if (f->mount != VOLUME_MOUNT_READ)
        return "unknown";
    return f->tape.kind == TF_LABEL_BLANK ? "blank" : f->tape.kind == TF_LABEL_TAPEFLOW ? "tapeflow" : "foreign";
}

static bool
s_tried(const tf_msg_vol_request_t *req, const char *barcode)
{
    for (size_t i = 0; i < req->tried_count; i++)
        if (s_eq(req->tried[i].path, barcode))
            return true;
    return false;
}

/* The catalog's row of label among rows (a volumes reply), or NULL. */
static const tf_msg_volume_row_t *
s_row_of(const tf_msg_t *rows, const char *label)
{
    if (rows->type != TF_MSG_CAT_REPLY)
        return NULL;
    for (size_t i = 0; i < rows->cat_reply.volumes_count; i++)
        if (s_eq(rows->cat_reply.volumes[i].label, label))
            return &rows->cat_reply.volumes[i];
    return NULL;
}

/* How well a cartridge in a slot fits the request, from what the inventory and the catalog
   know, without loading it: 2 known to fit, 1 unknown (a trial load: its writer reads the
   label and asks again, and then it is known), 0 not at all. */
static int
s_fit(labeller_t *self, const tf_msg_vol_request_t *req, volume_purpose_t purpose, const inventory_cartridge_t *c,
      const tf_msg_t *rows, int64_t now_ms)
{
    const char *pool = req->pool ? req->pool : "";
    if (strcmp(c->kind, "unreadable") == 0 && purpose != VOLUME_FOR_LABEL && purpose != VOLUME_FOR_RESTORE)
        /* Its writer could not read it lately: not loaded again until unreadable_retry passes
           (a cleaned drive, a cartridge put back after repair), then tried like an unknown one. */
        return now_ms - c->label_ms >= self->unreadable_retry_ms ? 1 : 0;
    if (purpose == VOLUME_FOR_RESTORE)
        return s_eq(c->barcode, req->want_label) || s_eq(c->label, req->want_label) ? 2 : 0;
    if (purpose == VOLUME_FOR_LABEL)
        return s_eq(c->barcode, req->barcode) ? 2 : 0;
    if (strcmp(c->kind, "unknown") == 0)
        return 1;
    if (strcmp(c->kind, "blank") == 0)
        return purpose == VOLUME_FOR_SPAN ? 2 : 0;
    if (strcmp(c->kind, "tapeflow") != 0 || strcmp(c->pool, pool) != 0)
        return 0;
    const tf_msg_volume_row_t *row = s_row_of(rows, c->label);
    if (!row || !row->state)
        return 1;   /* labelled but unknown to the catalog: its tape decides */
    if (strcmp(row->state, "error") == 0 || strcmp(row->state, "full") == 0)
        return 0;
    if (strcmp(row->state, "expired") == 0)
        return 2;
    /* appendable: an archive starts there; a set continues only on an empty one */
    return purpose == VOLUME_FOR_WRITE || row->tape_files <= 1 ? 2 : 0;
}

/* Picks the cartridge to load: the best fit in slot order, never one tried this round nor the
   one just taken out. NULL when none fits. */
static const inventory_cartridge_t *
s_pick(labeller_t *self, const char *changer, const tf_msg_vol_request_t *req, volume_purpose_t purpose,
       const char *unloaded, const inventory_cartridge_t *rows, size_t count)
{
    tf_msg_t volumes;
    memset(&volumes, 0, sizeof volumes);
    tf_err_t err = {0};
    if ((purpose == VOLUME_FOR_WRITE || purpose == VOLUME_FOR_SPAN)
        && self->ops.catalog_volumes(self->ops.arg, NULL, &volumes, &err) != TF_OK)
        tf_log_warn("cannot ask the catalog for the volumes (%s): choosing by the inventory alone", err.message);
    const inventory_cartridge_t *best = NULL;
    int best_fit = 0;
    int64_t now_ms = self->ops.now_ms(self->ops.arg);
    for (size_t i = 0; i < count; i++) {
        const inventory_cartridge_t *c = &rows[i];
        if (strcmp(c->changer, changer) != 0 || strcmp(c->location, "slot") != 0 || s_tried(req, c->barcode)
            || s_eq(c->barcode, unloaded))
            continue;
        int fit = s_fit(self, req, purpose, c, &volumes, now_ms);
        if (fit > best_fit) {
            best = c;
            best_fit = fit;
        }
    }
    tf_msg_clear(&volumes);
    return best;
}

typedef struct {
    char decision[16];
    char message[1200];
    bool eject, wait, loaded;
    char changer[129];
    char barcode[TF_CHANGER_BARCODE_MAX + 1];
    int slot;
    volume_decision_t d;
} s_grant_t;

static int
s_encode_grant(const s_grant_t *g, uint8_t **data, size_t *size, tf_err_t *err)
{
    const volume_decision_t *d = &g->d;
    tf_msg_t msg = {.type = TF_MSG_VOL_GRANT};
    msg.vol_grant = (tf_msg_vol_grant_t){
        .decision = (char *) g->decision, .message = g->message[0] ? (char *) g->message : NULL,
        .eject = g->eject, .wait = g->wait, .loaded = g->loaded,
        .changer = g->changer[0] ? (char *) g->changer : NULL,
        .barcode = g->barcode[0] ? (char *) g->barcode : NULL, .slot = g->slot > 0 ? (uint64_t) g->slot : 0,
        .label = d->label[0] ? (char *) d->label : NULL, .pool = d->pool[0] ? (char *) d->pool : NULL,
        .set_id = d->set_id[0] ? (char *) d->set_id : NULL, .sequence = d->sequence,
        .previous = d->previous[0] ? (char *) d->previous : NULL, .retention_ms = d->retention_ms,
        .created_ms = d->created_ms, .label_expires_ms = d->label_expires_ms, .expires_ms = d->expires_ms,
        .bytes_used = d->bytes_used, .write_errors = d->write_errors, .read_errors = d->read_errors,
        .archives = d->archives, .in_error = d->in_error};
    return tf_msg_encode(&msg, data, size, err);
}

/* A cartridge loaded for the drive's writer (or left in it for the writer to read) is leased to
   that drive until its next request or labeller/lease: between the load and that request the
   writer has not opened it yet, so neither the drive nor the sim's lock holds it. Once the
   writer answers with what it read, it holds the tape open while it uses it. */
static void
s_lease(labeller_t *self, s_drive_t *rec, const s_grant_t *g)
{
    if (!g->loaded)
        return;
    rec->leased_until_ms = self->ops.now_ms(self->ops.arg) + self->lease_ms;
    snprintf(rec->leased_barcode, sizeof rec->leased_barcode, "%s", g->barcode);
}

/* No cartridge fits: what the operator has to do. */
static void
s_none_fits(const tf_msg_vol_request_t *req, volume_purpose_t purpose, const char *name, const char *changer,
            s_grant_t *g)
{
    const char *pool = req->pool ? req->pool : "";
    if (purpose == VOLUME_FOR_RESTORE)
        snprintf(g->message, sizeof g->message, "restore of job %.128s needs volume %s in drive %s: it is not in a "
                 "slot of changer %s; put it in and run the restore again", req->job_id ? req->job_id : "?",
                 req->want_label ? req->want_label : "?", req->drive, changer);
    else if (purpose == VOLUME_FOR_LABEL)
        snprintf(g->message, sizeof g->message, "cartridge %s is not in a slot of changer %s: not labelled "
                 "('tapeflow changer inventory %s' shows where the cartridges are)",
                 req->barcode ? req->barcode : "?", name, name);
    else if (purpose == VOLUME_FOR_SPAN)
        snprintf(g->message, sizeof g->message, "changer %s has no blank or expired tape of pool %s for drive %s "
                 "(set %s continues after %s): put one in a slot; the archive is written again", changer, pool,
                 req->drive, req->set_id ? req->set_id : "?", req->prev_label ? req->prev_label : "?");
    else
        snprintf(g->message, sizeof g->message, "changer %s has no appendable or expired tape of pool %s "
                 "for drive %s: put one in a slot (blank cartridges: 'tapeflow tape label --barcodes %s "
                 "--pool %s'); the archive is written again", changer, pool, req->drive, name, pool);
}

/* NEXT with a changer: eject first (the writer does), then put the tape back and load another. */
static int
s_next_with_changer(labeller_t *self, const tf_msg_vol_request_t *req, volume_purpose_t purpose,
                    const char *changer, const char *url, int element, const tf_changer_elem_t *in_drive,
                    const char *key, s_grant_t *g, tf_err_t *err)
{
    snprintf(g->changer, sizeof g->changer, "%s", changer);
    char unloaded[TF_CHANGER_BARCODE_MAX + 1] = "";
    if (in_drive && in_drive->full) {
        snprintf(g->barcode, sizeof g->barcode, "%s", key);
        if (!req->ejected) {
            /* Only the drive's owner ejects a tape (the drive must let go before the robot can
               take it); the writer asks again once it has. */
            g->eject = true;
            return TF_OK;
        }
        int slot = 0;
        int rc = self->ops.changer_unload(self->ops.arg, url, element, 0, &slot, err);
        if (rc != TF_OK)
            return tf_err_prefix(err, "changer %s: putting %s from drive %d back: ", changer,
                                 key[0] ? key : "the tape", element);
        snprintf(unloaded, sizeof unloaded, "%s", key);
        if (key[0] && inventory_move(self->inventory, changer, key, "slot", slot, err)
            != TF_OK)
            return err->code;
        tf_log_info("changer %s: %s from drive %d (%s) back into slot %d", changer,
                    key[0] ? key : "a tape", element, req->drive, slot);
        g->barcode[0] = '\0';
    }
    inventory_cartridge_t *rows = NULL;
    size_t count = 0;
    int rc = inventory_list(self->inventory, changer, &rows, &count, err);
    if (rc != TF_OK)
        return rc;
    const inventory_cartridge_t *pick = s_pick(self, changer, req, purpose, unloaded, rows, count);
    inventory_cartridge_t fetched;
    if (!pick && purpose == VOLUME_FOR_RESTORE) {
        /* The volume may sit in another drive a restore or a backup left it in: the robot takes
           it back to its slot - unless that drive still holds it (in use), then it refuses. */
        for (size_t i = 0; i < count && !pick; i++) {
            const inventory_cartridge_t *c = &rows[i];
            if (strcmp(c->location, "drive") != 0 || c->element == element
                || !(s_eq(c->barcode, req->want_label) || s_eq(c->label, req->want_label)))
                continue;
            const s_drive_t *holder = s_leased(self, changer, c->element, self->ops.now_ms(self->ops.arg));
            if (holder) {
                /* Given to that drive's writer, which may not have opened it yet: never taken
                   from it (the robot may not refuse: many libraries unload a drive themselves). */
                g->wait = true;
                snprintf(g->message, sizeof g->message, "restore of job %.128s needs volume %s in drive %s: it is in "
                         "drive %s (element %d of changer %s), leased to that drive's tape writer; ask again once "
                         "that drive asks the labeller again or its lease ends (labeller/lease)",
                         req->job_id ? req->job_id : "?", req->want_label, req->drive, holder->drive, c->element,
                         changer);
                free(rows);
                return TF_OK;
            }
            int slot = 0;
            tf_err_t uerr = {0};
            if (self->ops.changer_unload(self->ops.arg, url, c->element, 0, &slot, &uerr) != TF_OK) {
                snprintf(g->message, sizeof g->message, "restore of job %.128s needs volume %s in drive %s: it is in "
                         "drive %d of changer %s, which holds it (%s); run the restore again once that drive is idle",
                         req->job_id ? req->job_id : "?", req->want_label, req->drive, c->element, url, uerr.message);
                free(rows);
                return TF_OK;
            }
            fetched = *c;
            fetched.element = slot;
            snprintf(fetched.location, sizeof fetched.location, "slot");
            if (inventory_move(self->inventory, changer, c->barcode, "slot", slot, err) != TF_OK) {
                free(rows);
                return err->code;
            }
            tf_log_info("changer %s: %s from drive %d back into slot %d for a restore in drive %s", changer,
                        c->barcode, c->element, slot, req->drive);
            pick = &fetched;
        }
    }
    if (!pick) {
        s_none_fits(req, purpose, changer, url, g);
        free(rows);
        return TF_OK;
    }
    inventory_cartridge_t chosen = *pick;
    free(rows);
    rc = self->ops.changer_load(self->ops.arg, url, chosen.element, element, err);
    if (rc != TF_OK)
        return tf_err_prefix(err, "changer %s: loading %s from slot %d into drive %d: ", changer, chosen.barcode,
                             chosen.element, element);
    if (inventory_move(self->inventory, changer, chosen.barcode, "drive", element, err) != TF_OK)
        return err->code;
    g->loaded = true;
    g->slot = chosen.element;
    snprintf(g->barcode, sizeof g->barcode, "%s", chosen.barcode);
    snprintf(g->message, sizeof g->message, "changer %s: loaded %s from slot %d into drive %d (%s)%s", changer,
             chosen.barcode, chosen.element, element, req->drive,
             strcmp(chosen.kind, "unknown") == 0 ? ": its label is not known yet" : "");
    tf_log_info("%s", g->message);
    return TF_OK;
}

int
labeller_vol_request(labeller_t *self, const tf_msg_vol_request_t *req, uint8_t **data, size_t *size,
                     tf_err_t *err)
{
    s_grant_t g;
    memset(&g, 0, sizeof g);
    volume_facts_t f;
    memset(&f, 0, sizeof f);
    volume_purpose_t purpose = VOLUME_FOR_WRITE;
    if (!volume_purpose_parse(req->purpose, &purpose))
        return tf_err_set(err, TF_ERR_INVALID, "vol_request: unknown purpose '%s' (write, span, restore, label)",
                          req->purpose);
    const char *pool = req->pool && *req->pool ? req->pool : NULL;
    if (!pool && (purpose == VOLUME_FOR_WRITE || purpose == VOLUME_FOR_SPAN || purpose == VOLUME_FOR_LABEL))
        return tf_err_set(err, TF_ERR_INVALID, "vol_request for %s names no pool", req->purpose);
    if (pool && tf_volume_retention(self->cfg, pool, &f.retention_ms, err) != TF_OK) {
        /* A pool the configuration gets wrong: no volume decision is possible. */
        snprintf(g.decision, sizeof g.decision, "refuse");
        snprintf(g.message, sizeof g.message, "%s", err->message);
        return s_encode_grant(&g, data, size, err);
    }
    char changer[129] = "", url[1024] = "";
    int element = 0;
    bool has_changer = tf_changer_find_drive(self->cfg, req->drive, changer, sizeof changer, url, sizeof url,
                                             &element);
    f.purpose = purpose;
    f.drive = req->drive;
    f.pool = pool;
    f.set_id = req->set_id;
    f.prev_label = req->prev_label;
    f.prev_sequence = req->prev_sequence;
    f.want_label = req->want_label;
    f.now_ms = self->ops.now_ms(self->ops.arg);
    f.changer = has_changer;
    f.can_next = has_changer || req->operator_mounts;
    s_mounted(req, &f);
    s_drive_t *rec = s_drive(self, req->drive, has_changer ? changer : NULL, element);
    if (!rec)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    /* The drive's writer asks again: whatever it was given is decided anew. */
    rec->leased_until_ms = 0;
    rec->leased_barcode[0] = '\0';

    /* The writer has not looked at the tape in its drive yet (nothing read: no facts, no
       reason it could not read it). */
    bool not_read = (!req->mounted || strcmp(req->mounted, "unknown") == 0) && !req->found;
    tf_changer_inv_t *inv = NULL;
    const tf_changer_elem_t *in_drive = NULL;
    /* The cartridge in the drive as the inventory knows it: barcode, or "slot N" without one. */
    char key[TF_CHANGER_BARCODE_MAX + 1] = "";
    if (has_changer) {
        int rc = s_sweep(self, changer, url, &inv, err);
        if (rc != TF_OK)
            return rc;
        in_drive = tf_changer_inv_find(inv, TF_CHANGER_DRIVE, element);
        if (!in_drive) {
            tf_changer_inv_destroy(&inv);
            return tf_err_set(err, TF_ERR_INVALID, "changer %s has no drive element %d (changers/%s/drive%d = %s): "
                              "fix the configuration", changer, element, changer, element, req->drive);
        }
        if (!in_drive->full)
            f.mount = VOLUME_MOUNT_NONE;   /* whatever the writer saw, the robot says the drive is empty */
        else if (inventory_key(inv, in_drive, key, sizeof key)) {
            f.barcode = in_drive->barcode[0] ? in_drive->barcode : NULL;
            /* What the writer read is what the cartridge holds (an unreadable one is skipped for
               a while instead of being loaded on every request). */
            if (f.mount != VOLUME_MOUNT_NONE && !not_read
                && inventory_set_label(self->inventory, changer, key,
                                       f.mount == VOLUME_MOUNT_UNREADABLE ? "unreadable" : s_kind_of(&f),
                                       f.tape.kind == TF_LABEL_TAPEFLOW ? f.tape.label.label : NULL,
                                       f.tape.kind == TF_LABEL_TAPEFLOW ? f.tape.label.pool : NULL, f.now_ms, err)
                       != TF_OK) {
                tf_changer_inv_destroy(&inv);
                return err->code;
            }
            if (f.mount != VOLUME_MOUNT_NONE && !not_read && s_eq(rec->pending_barcode, key))
                rec->pending_barcode[0] = '\0';   /* read back: the inventory has it now */
        }
        snprintf(g.changer, sizeof g.changer, "%s", changer);
        snprintf(g.barcode, sizeof g.barcode, "%s", key);
    } else if (purpose == VOLUME_FOR_LABEL) {
        return tf_err_set(err, TF_ERR_INVALID, "drive %s is in no changer (changers/NAME/driveN): barcode "
                          "labelling needs a library", req->drive);
    }
    /* Barcode labelling decides on the cartridge asked for only: any other one is put back. */
    bool wrong_cartridge = purpose == VOLUME_FOR_LABEL && !s_eq(f.barcode, req->barcode);
    /* The writer has not looked at the tape in its drive yet: it reads it first (nothing moves). */
    if (has_changer && not_read && in_drive->full && !req->ejected && !wrong_cartridge) {
        snprintf(g.decision, sizeof g.decision, "next");
        g.loaded = true;
        snprintf(g.message, sizeof g.message, "drive %s holds %s: read it and ask again", req->drive,
                 in_drive->barcode[0] ? in_drive->barcode : "a cartridge without barcode");
        tf_changer_inv_destroy(&inv);
        s_lease(self, rec, &g);
        return s_encode_grant(&g, data, size, err);
    }
    tf_msg_t reply;
    memset(&reply, 0, sizeof reply);
    if (!wrong_cartridge && f.mount == VOLUME_MOUNT_READ && f.tape.kind == TF_LABEL_TAPEFLOW)
        s_catalog_row(self, f.tape.label.label, &reply, &f);
    if (wrong_cartridge) {
        g.d.verdict = VOLUME_NEXT;
        snprintf(g.d.reason, sizeof g.d.reason, "drive %s holds %s, not cartridge %s", req->drive,
                 f.mount == VOLUME_MOUNT_NONE ? "no tape" : f.barcode ? f.barcode : "a cartridge without barcode",
                 req->barcode);
    } else
        volume_decide(&f, &g.d);
    tf_msg_clear(&reply);
    snprintf(g.decision, sizeof g.decision, "%s", volume_verdict_name(g.d.verdict));
    snprintf(g.message, sizeof g.message, "%s", g.d.reason);
    int rc = TF_OK;
    if (g.d.verdict == VOLUME_RECYCLE && has_changer && key[0]) {
        /* Not recorded yet: the write may fail. The writer's next request reads it back, or
           the barcode labelling command confirms it (lab_query op labelled). */
        snprintf(rec->pending_barcode, sizeof rec->pending_barcode, "%s", key);
        snprintf(rec->pending_label, sizeof rec->pending_label, "%s", g.d.label);
        snprintf(rec->pending_pool, sizeof rec->pending_pool, "%s", g.d.pool);
    }
    if (rc == TF_OK && g.d.verdict == VOLUME_NEXT) {
        if (has_changer)
            rc = s_next_with_changer(self, req, purpose, changer, url, element, in_drive, key, &g, err);
        else
            g.wait = req->operator_mounts;   /* an operator mounts one (alert.mount) */
    }
    tf_changer_inv_destroy(&inv);
    if (rc != TF_OK)
        return rc;
    if (has_changer)
        s_lease(self, rec, &g);
    return s_encode_grant(&g, data, size, err);
}

/* --- lab_query -------------------------------------------------------------------------- */

static int
s_encode_reply(const char *changer, const char *message, const char *refused, uint8_t **data, size_t *size,
               tf_err_t *err)
{
    tf_msg_t msg = {.type = TF_MSG_LAB_REPLY};
    msg.lab_reply = (tf_msg_lab_reply_t){.changer = (char *) changer, .message = (char *) message,
                                         .refused = (char *) refused};
    return tf_msg_encode(&msg, data, size, err);
}

/* op labelled: a label this labeller granted was written; only then the inventory records it. */
static int
s_labelled(labeller_t *self, const tf_msg_lab_query_t *req, const char *name, uint8_t **data, size_t *size,
           tf_err_t *err)
{
    if (!req->barcode || !req->label)
        return tf_err_set(err, TF_ERR_INVALID, "lab_query labelled needs barcode and label");
    s_drive_t *rec = NULL;
    for (s_drive_t *d = zhashx_first(self->drives); d && !rec; d = zhashx_next(self->drives))
        if (s_eq(d->changer, name) && s_eq(d->pending_barcode, req->barcode) && s_eq(d->pending_label, req->label))
            rec = d;
    if (!rec)
        return tf_err_set(err, TF_ERR_NOTFOUND, "changer %s: no label %s was granted for cartridge %s and not yet "
                          "recorded: nothing to confirm", name, req->label, req->barcode);
    if (inventory_set_label(self->inventory, name, req->barcode, "tapeflow", rec->pending_label, rec->pending_pool,
                            self->ops.now_ms(self->ops.arg), err) != TF_OK)
        return err->code;
    rec->pending_barcode[0] = '\0';
    char message[300];
    snprintf(message, sizeof message, "changer %s: cartridge %s is labelled %s", name, req->barcode, req->label);
    return s_encode_reply(NULL, message, NULL, data, size, err);
}

/* op load, op unload: an operator's move, made here so it is serialised with the tape writers'
   and the inventory follows it; a drive leased to its writer only with force naming it. */
static int
s_operator_move(labeller_t *self, const tf_msg_lab_query_t *req, const char *name, const char *url, bool load,
                uint8_t **data, size_t *size, tf_err_t *err)
{
    int element = (int) req->element;
    uint64_t from = req->slot;
    if (load && req->barcode) {
        tf_changer_inv_t *inv = NULL;
        if (s_sweep(self, name, url, &inv, err) != TF_OK)
            return err->code;
        tf_changer_inv_destroy(&inv);
        inventory_cartridge_t c;
        bool found = false;
        if (inventory_get(self->inventory, name, req->barcode, &c, &found, err) != TF_OK)
            return err->code;
        if (!found || strcmp(c.location, "outside") == 0)
            return tf_err_set(err, TF_ERR_NOTFOUND, "changer %s has no cartridge %s ('tapeflow changer inventory "
                              "%s' shows what it has)", name, req->barcode, name);
        if (strcmp(c.location, "slot") != 0)
            return tf_err_set(err, TF_ERR_STATE, "changer %s: cartridge %s is in %s %d, not in a slot", name,
                              req->barcode, c.location, c.element);
        from = (uint64_t) c.element;
    }
    if (req->element > 4096 || from > 65535 || (load && from < 1))
        return tf_err_set(err, TF_ERR_INVALID, "lab_query %s: bad slot %" PRIu64 " or drive %" PRIu64, req->op,
                          req->slot, req->element);
    int64_t now = self->ops.now_ms(self->ops.arg);
    const s_drive_t *holder = s_leased(self, name, element, now);
    char message[1200];
    if (holder && !s_eq(req->force, holder->drive)) {
        /* Answered, not failed: a failed item would be retried, and the operator decides. */
        snprintf(message, sizeof message, "changer %s: drive %d is %s's, leased to its tape writer for another "
                 "%" PRId64 " s (it was given %s): not moved; wait until that writer is done, or pass --force %s "
                 "to take it over", name, element, holder->drive, (holder->leased_until_ms - now + 999) / 1000,
                 holder->leased_barcode[0] ? holder->leased_barcode : "a cartridge", holder->drive);
        return s_encode_reply(url, message, "leased", data, size, err);
    }
    int slot = (int) from;
    tf_err_t merr = {0};
    int rc = load ? self->ops.changer_load(self->ops.arg, url, slot, element, &merr)
                  : self->ops.changer_unload(self->ops.arg, url, element, slot, &slot, &merr);
    if (rc != TF_OK) {
        snprintf(message, sizeof message, "changer %s: %s", name, merr.message);
        return s_encode_reply(url, message, "robot", data, size, err);
    }
    if (holder) {
        s_drive_t *d = zhashx_lookup(self->drives, holder->drive);
        d->leased_until_ms = 0;
        tf_log_warn("changer %s: drive %s's lease taken over by the operator (--force)", name, d->drive);
    }
    tf_changer_inv_t *inv = NULL;
    if (s_sweep(self, name, url, &inv, err) != TF_OK)
        return tf_err_prefix(err, "moved, but the inventory is not updated: ");
    tf_changer_inv_destroy(&inv);
    if (load)
        snprintf(message, sizeof message, "changer %s: loaded slot %d into drive %d", name, slot, element);
    else
        snprintf(message, sizeof message, "changer %s: unloaded drive %d into slot %d", name, element, slot);
    tf_log_info("%s (an operator's move)", message);
    return s_encode_reply(url, message, NULL, data, size, err);
}

int
labeller_lab_query(labeller_t *self, const tf_msg_lab_query_t *req, uint8_t **data, size_t *size, tf_err_t *err)
{
    char name[129] = "", url[1024] = "";
    bool inventory = s_eq(req->op, "inventory");
    bool load = s_eq(req->op, "load"), unload = s_eq(req->op, "unload"), labelled = s_eq(req->op, "labelled");
    if (!inventory && !load && !unload && !labelled && !s_eq(req->op, "list"))
        return tf_err_set(err, TF_ERR_INVALID, "lab_query: unknown op '%s' (inventory, list, labelled, load, "
                          "unload)", req->op);
    bool one = req->changer && *req->changer;
    if ((!s_eq(req->op, "list") || one)
        && s_changer_named(self, req->changer, name, sizeof name, url, sizeof url, err) != TF_OK)
        return err->code;
    if (labelled)
        return s_labelled(self, req, name, data, size, err);
    if (load || unload)
        return s_operator_move(self, req, name, url, load, data, size, err);
    tf_changer_inv_t *inv = NULL;
    if (inventory && s_sweep(self, name, url, &inv, err) != TF_OK)
        return err->code;
    bool barcodes = inv && inv->barcodes;
    tf_changer_inv_destroy(&inv);
    inventory_cartridge_t *rows = NULL;
    size_t count = 0;
    if (inventory_list(self->inventory, one ? name : NULL, &rows, &count, err) != TF_OK)
        return err->code;
    tf_msg_cartridge_row_t *out = count ? calloc(count, sizeof *out) : NULL;
    if (count && !out) {
        free(rows);
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    }
    size_t unknown = 0, inside = 0;
    for (size_t i = 0; i < count; i++) {
        const inventory_cartridge_t *c = &rows[i];
        const char *drive = strcmp(c->location, "drive") == 0 ? tf_changer_drive_name(self->cfg, c->changer,
                                                                                       c->element) : NULL;
        out[i] = (tf_msg_cartridge_row_t){
            .changer = (char *) c->changer, .barcode = (char *) c->barcode, .location = (char *) c->location,
            .element = c->element > 0 ? (uint64_t) c->element : 0, .kind = (char *) c->kind,
            .label = c->label[0] ? (char *) c->label : NULL, .pool = c->pool[0] ? (char *) c->pool : NULL,
            .drive = (char *) drive, .seen_ms = c->seen_ms};
        if (strcmp(c->location, "outside") != 0) {
            inside++;
            unknown += strcmp(c->kind, "unknown") == 0;
        }
    }
    char message[300];
    snprintf(message, sizeof message, "%zu cartridge%s in the library, %zu of them never read by a tape writer",
             inside, inside == 1 ? "" : "s", unknown);
    tf_msg_t msg = {.type = TF_MSG_LAB_REPLY};
    msg.lab_reply = (tf_msg_lab_reply_t){.changer = inventory ? url : NULL, .barcodes = barcodes,
                                         .cartridges = out, .cartridges_count = count, .message = message};
    int rc = tf_msg_encode(&msg, data, size, err);
    free(out);
    free(rows);
    return rc;
}

/* --- the actor -------------------------------------------------------------------------- */

/* The result of one of the calls as the item's result. */
static int
s_answer(tf_actor_t *actor, int rc, uint8_t *data, size_t size, tf_err_t *err)
{
    if (rc == TF_OK && actor && tf_actor_set_result(actor, data, size) != TF_OK)
        rc = tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    free(data);
    return rc;
}

static int
s_on_vol_request(tf_actor_t *actor, const tf_msg_work_t *work, const tf_msg_t *payload, void *arg, tf_err_t *err)
{
    (void) work;
    uint8_t *data = NULL;
    size_t size = 0;
    int rc = labeller_vol_request(arg, &payload->vol_request, &data, &size, err);
    return s_answer(actor, rc, data, size, err);
}

static int
s_on_lab_query(tf_actor_t *actor, const tf_msg_work_t *work, const tf_msg_t *payload, void *arg, tf_err_t *err)
{
    (void) work;
    uint8_t *data = NULL;
    size_t size = 0;
    int rc = labeller_lab_query(arg, &payload->lab_query, &data, &size, err);
    return s_answer(actor, rc, data, size, err);
}

const tf_actor_route_t labeller_routes[] = {
    {TF_MSG_VOL_REQUEST, s_on_vol_request},
    {TF_MSG_LAB_QUERY, s_on_lab_query},
    TF_ACTOR_ROUTES_END
};
