/*  The labeller module without processes (actors/labeller/labeller.h): requests answered with a
    fake catalog, a fake library (two drives, six slots) and a fixed clock injected as ops, and
    the inventory persisted in labeller/db across a restart.

    What is checked: READ ELEMENT STATUS alone fills the inventory (no moves); a tape writer is
    told to eject before the robot touches its drive; a never-read cartridge is loaded once for
    its writer to read (then known and never loaded for reading again); known cartridges are
    chosen without loads; tried cartridges are skipped; barcode labelling loads the asked
    cartridge and labels only a blank one; restore loads by barcode; no changer means wait. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "labeller.h"
#include "tf_testproc.h"

#define NOW (1796083200000LL)
#define SLOTS 6
#define DRIVES 2

typedef struct {
    char slot[SLOTS + 1][16];      /* barcode or "" */
    char drive[DRIVES][16];
    int drive_source[DRIVES];
    int inventories, loads, unloads;
    int64_t now;                   /* 0: NOW */
    bool no_barcodes;              /* a library without a barcode reader (the names stay internal) */
    /* the catalog */
    tf_msg_volume_row_t rows[8];
    size_t nrows;
    int catalog_calls;
} fake_t;

typedef struct {
    char *dir;
    tf_config_t *cfg;
    fake_t fake;
    labeller_ops_t ops;
    labeller_t *lab;
} fx_t;

static int
s_catalog(void *arg, const char *label, tf_msg_t *reply, tf_err_t *err)
{
    (void) err;
    fake_t *f = arg;
    f->catalog_calls++;
    memset(reply, 0, sizeof *reply);
    reply->type = TF_MSG_CAT_REPLY;
    reply->cat_reply.volumes = calloc(f->nrows ? f->nrows : 1, sizeof *reply->cat_reply.volumes);
    for (size_t i = 0; i < f->nrows; i++) {
        const tf_msg_volume_row_t *r = &f->rows[i];
        if (label && strcmp(label, r->label) != 0)
            continue;
        tf_msg_volume_row_t *o = &reply->cat_reply.volumes[reply->cat_reply.volumes_count++];
        *o = *r;
        o->label = strdup(r->label);
        o->pool = strdup(r->pool);
        o->state = strdup(r->state);
        o->media_type = o->drive = NULL;
    }
    return TF_OK;
}

static int
s_inventory(void *arg, const char *url, tf_changer_inv_t **inv, tf_err_t *err)
{
    (void) url;
    (void) err;
    fake_t *f = arg;
    f->inventories++;
    tf_changer_inv_t *i = calloc(1, sizeof *i);
    i->elem = calloc(SLOTS + DRIVES, sizeof *i->elem);
    i->barcodes = !f->no_barcodes;
    for (int s = 1; s <= SLOTS; s++) {
        tf_changer_elem_t *e = &i->elem[i->count++];
        e->type = TF_CHANGER_SLOT;
        e->number = s;
        e->address = (uint16_t) (1000 + s);
        e->full = f->slot[s][0] != '\0';
        snprintf(e->barcode, sizeof e->barcode, "%s", f->no_barcodes ? "" : f->slot[s]);
    }
    for (int d = 0; d < DRIVES; d++) {
        tf_changer_elem_t *e = &i->elem[i->count++];
        e->type = TF_CHANGER_DRIVE;
        e->number = d;
        e->address = (uint16_t) (100 + d);
        e->full = f->drive[d][0] != '\0';
        e->source_valid = e->full;
        e->source = (uint16_t) (1000 + f->drive_source[d]);
        snprintf(e->barcode, sizeof e->barcode, "%s", f->no_barcodes ? "" : f->drive[d]);
    }
    *inv = i;
    return TF_OK;
}

static int
s_load(void *arg, const char *url, int slot, int drive, tf_err_t *err)
{
    (void) url;
    fake_t *f = arg;
    if (!f->slot[slot][0])
        return tf_err_set(err, TF_ERR_DEVICE, "slot %d is empty", slot);
    if (f->drive[drive][0])
        return tf_err_set(err, TF_ERR_DEVICE, "drive %d is full", drive);
    f->loads++;
    memcpy(f->drive[drive], f->slot[slot], sizeof f->drive[drive]);
    f->slot[slot][0] = '\0';
    f->drive_source[drive] = slot;
    return TF_OK;
}

static int
s_unload(void *arg, const char *url, int drive, int to, int *slot_out, tf_err_t *err)
{
    (void) url;
    fake_t *f = arg;
    if (!f->drive[drive][0])
        return tf_err_set(err, TF_ERR_DEVICE, "drive %d is empty", drive);
    int slot = to > 0 ? to : f->drive_source[drive];
    f->unloads++;
    memcpy(f->slot[slot], f->drive[drive], sizeof f->slot[slot]);
    f->drive[drive][0] = '\0';
    *slot_out = slot;
    return TF_OK;
}

static int64_t
s_now(void *arg)
{
    fake_t *f = arg;
    return f->now ? f->now : NOW;
}

static int
s_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    fx->dir = tf_test_tempdir("tflab");
    assert_non_null(fx->dir);
    fx->cfg = tf_config_new();
    char db[600];
    snprintf(db, sizeof db, "%s/labeller.db", fx->dir);
    tf_config_set(fx->cfg, "labeller/db", db);
    tf_config_set(fx->cfg, "changers/lib/url", "sim:/nowhere/changer.state?type=8");
    tf_config_set(fx->cfg, "changers/lib/drive0", "d0");
    tf_config_set(fx->cfg, "changers/lib/drive1", "d1");
    tf_config_set(fx->cfg, "pools/p/retention", "30d");
    for (int s = 1; s <= SLOTS; s++)
        snprintf(fx->fake.slot[s], sizeof fx->fake.slot[s], "TF%04dL6", s);
    fx->ops = (labeller_ops_t){.catalog_volumes = s_catalog, .changer_inventory = s_inventory,
                               .changer_load = s_load, .changer_unload = s_unload, .now_ms = s_now,
                               .arg = &fx->fake};
    tf_err_t err = {0};
    fx->lab = labeller_new(fx->cfg, &fx->ops, &err);
    if (!fx->lab)
        fail_msg("labeller_new: %s", err.message);
    *state = fx;
    return 0;
}

static int
s_teardown(void **state)
{
    fx_t *fx = *state;
    labeller_destroy(&fx->lab);
    tf_config_destroy(&fx->cfg);
    tf_test_rmtree(fx->dir);
    free(fx->dir);
    free(fx);
    return 0;
}

/* Sends req, decodes the grant into *out (caller clears). */
static void
s_request(fx_t *fx, const tf_msg_vol_request_t *req, tf_msg_t *out)
{
    uint8_t *data = NULL;
    size_t size = 0;
    tf_err_t err = {0};
    if (labeller_vol_request(fx->lab, req, &data, &size, &err) != TF_OK)
        fail_msg("vol_request: %s", err.message);
    assert_int_equal(tf_msg_decode(data, size, out, &err), TF_OK);
    free(data);
    assert_int_equal(out->type, TF_MSG_VOL_GRANT);
}

/* Sends q (changer lib unless set); its status, the reply decoded into *out when TF_OK. */
static int
s_query_full(fx_t *fx, tf_msg_lab_query_t q, tf_msg_t *out, tf_err_t *err)
{
    uint8_t *data = NULL;
    size_t size = 0;
    if (!q.changer)
        q.changer = "lib";
    memset(out, 0, sizeof *out);
    int rc = labeller_lab_query(fx->lab, &q, &data, &size, err);
    if (rc != TF_OK)
        return rc;
    assert_int_equal(tf_msg_decode(data, size, out, err), TF_OK);
    free(data);
    assert_int_equal(out->type, TF_MSG_LAB_REPLY);
    return TF_OK;
}

static void
s_query(fx_t *fx, const char *op, tf_msg_t *out)
{
    tf_err_t err = {0};
    if (s_query_full(fx, (tf_msg_lab_query_t){.op = (char *) op}, out, &err) != TF_OK)
        fail_msg("lab_query: %s", err.message);
}

/* Confirms label written on barcode (what tape label --barcodes passes on). */
static int
s_confirm(fx_t *fx, const char *barcode, const char *label, tf_err_t *err)
{
    tf_msg_t r;
    int rc = s_query_full(fx, (tf_msg_lab_query_t){.op = "labelled", .barcode = (char *) barcode,
                                                   .label = (char *) label}, &r, err);
    tf_msg_clear(&r);
    return rc;
}

static const tf_msg_cartridge_row_t *
s_cartridge(const tf_msg_t *reply, const char *barcode)
{
    for (size_t i = 0; i < reply->lab_reply.cartridges_count; i++)
        if (strcmp(reply->lab_reply.cartridges[i].barcode, barcode) == 0)
            return &reply->lab_reply.cartridges[i];
    return NULL;
}

static void
test_inventory_reads_without_moving(void **state)
{
    fx_t *fx = *state;
    memcpy(fx->fake.drive[1], fx->fake.slot[6], sizeof fx->fake.drive[1]);
    fx->fake.slot[6][0] = '\0';
    fx->fake.drive_source[1] = 6;
    tf_msg_t r;
    s_query(fx, "inventory", &r);
    assert_int_equal(fx->fake.inventories, 1);
    assert_int_equal(fx->fake.loads + fx->fake.unloads, 0);
    assert_int_equal(r.lab_reply.cartridges_count, 6);
    assert_true(r.lab_reply.barcodes);
    assert_string_equal(r.lab_reply.changer, "sim:/nowhere/changer.state?type=8");
    const tf_msg_cartridge_row_t *c = s_cartridge(&r, "TF0006L6");
    assert_non_null(c);
    assert_string_equal(c->location, "drive");
    assert_int_equal(c->element, 1);
    assert_string_equal(c->drive, "d1");
    assert_string_equal(c->kind, "unknown");
    c = s_cartridge(&r, "TF0003L6");
    assert_string_equal(c->location, "slot");
    assert_int_equal(c->element, 3);
    tf_msg_clear(&r);
    /* A cartridge taken out of the library is kept, outside. */
    fx->fake.slot[2][0] = '\0';
    s_query(fx, "inventory", &r);
    c = s_cartridge(&r, "TF0002L6");
    assert_non_null(c);
    assert_string_equal(c->location, "outside");
    tf_msg_clear(&r);
    /* list reads the store only */
    s_query(fx, "list", &r);
    assert_int_equal(fx->fake.inventories, 2);
    assert_int_equal(r.lab_reply.cartridges_count, 6);
    tf_msg_clear(&r);
}

static void
test_span_ejects_then_loads_and_learns(void **state)
{
    fx_t *fx = *state;
    /* TF0001L6 in drive 0 is full; the writer asks for the next volume of its set. */
    assert_int_equal(s_load(&fx->fake, NULL, 1, 0, NULL), TF_OK);
    fx->fake.loads = 0;
    fx->fake.rows[fx->fake.nrows++] = (tf_msg_volume_row_t){.label = "TF0001L6", .pool = "p", .state = "full",
                                                            .created_ms = 1, .tape_files = 9};
    tf_msg_vol_request_t req = {.drive = "d0", .purpose = "span", .pool = "p", .set_id = "S",
                                .prev_label = "TF0001L6", .prev_sequence = 1, .mounted = "tapeflow",
                                .label = "TF0001L6", .label_pool = "p", .label_created = "1970-01-01T00:00:00Z",
                                .tape_files = 9, .last_written_ms = NOW - 1000};
    tf_msg_t g;
    s_request(fx, &req, &g);
    assert_string_equal(g.vol_grant.decision, "next");
    assert_true(g.vol_grant.eject);            /* the writer ejects first */
    assert_false(g.vol_grant.loaded);
    assert_string_equal(g.vol_grant.barcode, "TF0001L6");
    assert_int_equal(fx->fake.loads + fx->fake.unloads, 0);
    tf_msg_clear(&g);
    /* Ejected: the labeller puts it back and loads a cartridge it has never seen read. */
    req.ejected = true;
    s_request(fx, &req, &g);
    assert_string_equal(g.vol_grant.decision, "next");
    assert_true(g.vol_grant.loaded);
    assert_int_equal(fx->fake.unloads, 1);
    assert_int_equal(fx->fake.loads, 1);
    assert_string_equal(g.vol_grant.barcode, "TF0002L6");
    assert_int_equal(g.vol_grant.slot, 2);
    assert_string_equal(fx->fake.drive[0], "TF0002L6");
    assert_string_equal(fx->fake.slot[1], "TF0001L6");
    tf_msg_clear(&g);
    /* The writer reads it: another program's tape. It tries again with it tried. */
    tf_msg_path_row_t tried[] = {{.path = "TF0002L6"}};
    tf_msg_vol_request_t again = {.drive = "d0", .purpose = "span", .pool = "p", .set_id = "S",
                                  .prev_label = "TF0001L6", .prev_sequence = 1, .mounted = "foreign",
                                  .found = "a tar archive", .tried = tried, .tried_count = 1};
    s_request(fx, &again, &g);
    assert_true(g.vol_grant.eject);
    tf_msg_clear(&g);
    again.ejected = true;
    s_request(fx, &again, &g);
    assert_true(g.vol_grant.loaded);
    assert_string_equal(g.vol_grant.barcode, "TF0003L6");
    tf_msg_clear(&g);
    /* Blank: labelled into the set with its barcode. */
    tf_msg_vol_request_t blank = {.drive = "d0", .purpose = "span", .pool = "p", .set_id = "S",
                                  .prev_label = "TF0001L6", .prev_sequence = 1, .mounted = "blank"};
    s_request(fx, &blank, &g);
    assert_string_equal(g.vol_grant.decision, "recycle");
    assert_string_equal(g.vol_grant.label, "TF0003L6");
    assert_string_equal(g.vol_grant.set_id, "S");
    assert_int_equal(g.vol_grant.sequence, 2);
    assert_int_equal(g.vol_grant.retention_ms, 30LL * 86400000);
    tf_msg_clear(&g);
    /* The inventory remembers what was read: TF0002L6 foreign, TF0003L6 blank - the label
       granted is not written yet (review item 8: it was recorded here before, and a failed
       write left it "tapeflow" for good). */
    tf_msg_t r;
    s_query(fx, "list", &r);
    assert_string_equal(s_cartridge(&r, "TF0002L6")->kind, "foreign");
    assert_string_equal(s_cartridge(&r, "TF0003L6")->kind, "blank");
    assert_string_equal(s_cartridge(&r, "TF0001L6")->location, "slot");
    tf_msg_clear(&r);
    /* The writer's next request reads it back: now TF0003L6 of p. */
    tf_msg_vol_request_t next = {.drive = "d0", .purpose = "write", .pool = "p", .mounted = "tapeflow",
                                 .label = "TF0003L6", .label_pool = "p", .label_created = "2026-12-01T00:00:00Z",
                                 .label_set_id = "S", .label_sequence = 2, .tape_files = 1};
    s_request(fx, &next, &g);
    tf_msg_clear(&g);
    s_query(fx, "list", &r);
    assert_string_equal(s_cartridge(&r, "TF0003L6")->kind, "tapeflow");
    assert_string_equal(s_cartridge(&r, "TF0003L6")->label, "TF0003L6");
    tf_msg_clear(&r);
}

static void
test_known_blank_chosen_before_unknown(void **state)
{
    fx_t *fx = *state;
    tf_err_t err = {0};
    /* Slot 5's cartridge is known blank (read before): no trial load of slots 1-4. */
    tf_msg_t r;
    s_query(fx, "inventory", &r);
    tf_msg_clear(&r);
    assert_int_equal(s_load(&fx->fake, NULL, 5, 1, NULL), TF_OK);
    tf_msg_vol_request_t look = {.drive = "d1", .purpose = "label", .pool = "p", .barcode = "TF0004L6",
                                 .mounted = "blank"};
    tf_msg_t g;
    s_request(fx, &look, &g);   /* records TF0005L6 as blank, then asks for an eject */
    assert_true(g.vol_grant.eject);
    tf_msg_clear(&g);
    assert_int_equal(s_unload(&fx->fake, NULL, 1, 0, &(int){0}, &err), TF_OK);
    fx->fake.loads = fx->fake.unloads = 0;
    tf_msg_vol_request_t req = {.drive = "d0", .purpose = "span", .pool = "p", .set_id = "S",
                                .prev_label = "X", .prev_sequence = 1, .mounted = "none", .ejected = true};
    s_request(fx, &req, &g);
    assert_true(g.vol_grant.loaded);
    assert_string_equal(g.vol_grant.barcode, "TF0005L6");
    assert_int_equal(fx->fake.loads, 1);
    tf_msg_clear(&g);
}

static void
test_label_purpose(void **state)
{
    fx_t *fx = *state;
    tf_msg_vol_request_t req = {.drive = "d1", .purpose = "label", .pool = "p", .barcode = "TF0004L6",
                                .mounted = "none"};
    tf_msg_t g;
    s_request(fx, &req, &g);
    assert_string_equal(g.vol_grant.decision, "next");
    assert_true(g.vol_grant.loaded);
    assert_string_equal(g.vol_grant.barcode, "TF0004L6");
    assert_string_equal(fx->fake.drive[1], "TF0004L6");
    tf_msg_clear(&g);
    req.mounted = "blank";
    s_request(fx, &req, &g);
    assert_string_equal(g.vol_grant.decision, "recycle");
    assert_string_equal(g.vol_grant.label, "TF0004L6");
    assert_string_equal(g.vol_grant.pool, "p");
    tf_msg_clear(&g);
    /* Once labelled it is never labelled again. */
    req.mounted = "tapeflow";
    req.label = "TF0004L6";
    req.label_pool = "p";
    req.tape_files = 1;
    s_request(fx, &req, &g);
    assert_string_equal(g.vol_grant.decision, "refuse");
    assert_non_null(strstr(g.vol_grant.message, "already labelled TF0004L6"));
    tf_msg_clear(&g);
    /* A cartridge not in the library. */
    req.barcode = "NOPE01";
    req.ejected = true;
    s_request(fx, &req, &g);
    assert_string_equal(g.vol_grant.decision, "next");
    assert_false(g.vol_grant.loaded);
    assert_non_null(strstr(g.vol_grant.message, "cartridge NOPE01 is not in a slot of changer lib"));
    tf_msg_clear(&g);
}

static void
test_restore_loads_by_barcode(void **state)
{
    fx_t *fx = *state;
    tf_msg_vol_request_t req = {.drive = "d0", .purpose = "restore", .want_label = "TF0006L6", .job_id = "J1",
                                .mounted = "none"};
    tf_msg_t g;
    s_request(fx, &req, &g);
    assert_true(g.vol_grant.loaded);
    assert_string_equal(fx->fake.drive[0], "TF0006L6");
    tf_msg_clear(&g);
    req.want_label = "TF0099L6";
    req.mounted = "tapeflow";
    req.label = "TF0006L6";
    req.label_pool = "p";
    req.ejected = true;
    s_request(fx, &req, &g);
    assert_false(g.vol_grant.loaded);
    assert_non_null(strstr(g.vol_grant.message, "restore of job J1 needs volume TF0099L6 in drive d0: it is not in "
                                                "a slot of changer sim:/nowhere/changer.state?type=8"));
    tf_msg_clear(&g);
}

static void
test_no_changer_waits_for_operator(void **state)
{
    fx_t *fx = *state;
    tf_msg_vol_request_t req = {.drive = "tape9", .purpose = "write", .pool = "p", .mounted = "tapeflow",
                                .label = "V1", .label_pool = "p", .tape_files = 3,
                                .last_written_ms = NOW - 1000, .operator_mounts = true};
    fx->fake.rows[fx->fake.nrows++] = (tf_msg_volume_row_t){.label = "V1", .pool = "p", .state = "full",
                                                            .created_ms = 0, .tape_files = 3};
    tf_msg_t g;
    s_request(fx, &req, &g);
    assert_string_equal(g.vol_grant.decision, "next");
    assert_true(g.vol_grant.wait);
    assert_int_equal(fx->fake.inventories, 0);   /* no changer touched */
    tf_msg_clear(&g);
    req.operator_mounts = false;
    s_request(fx, &req, &g);
    assert_string_equal(g.vol_grant.decision, "refuse");
    assert_non_null(strstr(g.vol_grant.message, "tape V1 in drive tape9 is full: mount an appendable"));
    tf_msg_clear(&g);
}

static void
test_inventory_survives_restart(void **state)
{
    fx_t *fx = *state;
    tf_msg_vol_request_t req = {.drive = "d1", .purpose = "label", .pool = "p", .barcode = "TF0002L6",
                                .mounted = "none"};
    tf_msg_t g;
    s_request(fx, &req, &g);
    tf_msg_clear(&g);
    req.mounted = "blank";
    s_request(fx, &req, &g);
    assert_string_equal(g.vol_grant.decision, "recycle");
    tf_msg_clear(&g);
    tf_err_t cerr = {0};
    assert_int_equal(s_confirm(fx, "TF0002L6", "TF0002L6", &cerr), TF_OK);
    labeller_destroy(&fx->lab);
    tf_err_t err = {0};
    fx->lab = labeller_new(fx->cfg, &fx->ops, &err);
    assert_non_null(fx->lab);
    tf_msg_t r;
    s_query(fx, "list", &r);
    const tf_msg_cartridge_row_t *c = s_cartridge(&r, "TF0002L6");
    assert_non_null(c);
    assert_string_equal(c->label, "TF0002L6");
    assert_string_equal(c->location, "drive");
    tf_msg_clear(&r);
}

static void
test_bad_requests(void **state)
{
    fx_t *fx = *state;
    uint8_t *data = NULL;
    size_t size = 0;
    tf_err_t err = {0};
    tf_msg_vol_request_t req = {.drive = "d0", .purpose = "bogus"};
    assert_int_equal(labeller_vol_request(fx->lab, &req, &data, &size, &err), TF_ERR_INVALID);
    assert_non_null(strstr(err.message, "unknown purpose 'bogus'"));
    tf_msg_lab_query_t q = {.op = "inventory", .changer = "nolib"};
    assert_int_equal(labeller_lab_query(fx->lab, &q, &data, &size, &err), TF_ERR_NOTFOUND);
    assert_non_null(strstr(err.message, "no changer nolib is configured"));
    tf_msg_vol_request_t label = {.drive = "tape9", .purpose = "label", .pool = "p", .barcode = "B"};
    assert_int_equal(labeller_vol_request(fx->lab, &label, &data, &size, &err), TF_ERR_INVALID);
    assert_non_null(strstr(err.message, "is in no changer"));
}

/* The actor's route table: its two requests go through, anything else is refused for good. */
static void
test_routes(void **state)
{
    fx_t *fx = *state;
    tf_msg_t q = {.type = TF_MSG_LAB_QUERY};
    q.lab_query = (tf_msg_lab_query_t){.op = "inventory", .changer = "lib"};
    uint8_t *data = NULL;
    size_t size = 0;
    tf_err_t err = {0};
    assert_int_equal(tf_msg_encode(&q, &data, &size, &err), TF_OK);
    tf_msg_work_t work = {.item_id = "i1", .service = "labeller", .attempt = 1,
                          .payload = {.data = data, .size = size}};
    assert_int_equal(tf_actor_route(NULL, labeller_routes, &work, fx->lab, &err), TF_OK);
    assert_int_equal(fx->fake.inventories, 1);
    free(data);
    tf_msg_t hb = {.type = TF_MSG_HEARTBEAT};
    assert_int_equal(tf_msg_encode(&hb, &data, &size, &err), TF_OK);
    work.payload = (tf_bytes_t){.data = data, .size = size};
    assert_int_equal(tf_actor_route(NULL, labeller_routes, &work, fx->lab, &err), TF_ERR_PROTO);
    assert_non_null(strstr(err.message, "heartbeat"));
    free(data);
}

/* Review item 8: a label granted is recorded only once written (confirmed, or read back). */
static void
test_label_recorded_only_when_written(void **state)
{
    fx_t *fx = *state;
    tf_msg_vol_request_t req = {.drive = "d1", .purpose = "label", .pool = "p", .barcode = "TF0004L6",
                                .mounted = "none"};
    tf_msg_t g, r;
    s_request(fx, &req, &g);
    assert_true(g.vol_grant.loaded);
    tf_msg_clear(&g);
    req.mounted = "blank";
    s_request(fx, &req, &g);
    assert_string_equal(g.vol_grant.decision, "recycle");
    tf_msg_clear(&g);
    /* The write failed (no confirmation): still blank, so it is labelled on the next run. */
    s_query(fx, "list", &r);
    assert_string_equal(s_cartridge(&r, "TF0004L6")->kind, "blank");
    assert_null(s_cartridge(&r, "TF0004L6")->label);
    tf_msg_clear(&r);
    /* Only the label granted is confirmed. */
    tf_err_t err = {0};
    assert_int_equal(s_confirm(fx, "TF0004L6", "OTHER", &err), TF_ERR_NOTFOUND);
    assert_non_null(strstr(err.message, "no label OTHER was granted for cartridge TF0004L6"));
    assert_int_equal(s_confirm(fx, "TF0005L6", "TF0005L6", &err), TF_ERR_NOTFOUND);
    assert_int_equal(s_confirm(fx, "TF0004L6", "TF0004L6", &err), TF_OK);
    s_query(fx, "list", &r);
    assert_string_equal(s_cartridge(&r, "TF0004L6")->kind, "tapeflow");
    assert_string_equal(s_cartridge(&r, "TF0004L6")->label, "TF0004L6");
    assert_string_equal(s_cartridge(&r, "TF0004L6")->pool, "p");
    tf_msg_clear(&r);
    /* Once: a second confirmation finds nothing pending. */
    assert_int_equal(s_confirm(fx, "TF0004L6", "TF0004L6", &err), TF_ERR_NOTFOUND);
}

/* Review item 3: a cartridge loaded for drive d0's writer (not opened by it yet) is d0's until
   d0 asks again or the lease ends: a restore in d1 waits (named drive), an operator move needs
   --force d0. */
static void
test_lease_keeps_a_drive_for_its_writer(void **state)
{
    fx_t *fx = *state;
    tf_msg_vol_request_t r0 = {.drive = "d0", .purpose = "restore", .want_label = "TF0003L6", .job_id = "J0",
                               .mounted = "none"};
    tf_msg_t g;
    s_request(fx, &r0, &g);
    assert_true(g.vol_grant.loaded);
    assert_string_equal(fx->fake.drive[0], "TF0003L6");
    tf_msg_clear(&g);
    /* d1's restore wants the same volume before d0's writer opened it. */
    tf_msg_vol_request_t r1 = {.drive = "d1", .purpose = "restore", .want_label = "TF0003L6", .job_id = "J1",
                               .mounted = "none"};
    int unloads = fx->fake.unloads;
    s_request(fx, &r1, &g);
    assert_string_equal(g.vol_grant.decision, "next");
    assert_true(g.vol_grant.wait);
    assert_false(g.vol_grant.loaded);
    assert_non_null(strstr(g.vol_grant.message, "it is in drive d0 (element 0 of changer lib), leased"));
    assert_int_equal(fx->fake.unloads, unloads);
    assert_string_equal(fx->fake.drive[0], "TF0003L6");
    tf_msg_clear(&g);
    /* The operator neither, unless forcing that drive. */
    tf_msg_t r;
    tf_err_t err = {0};
    assert_int_equal(s_query_full(fx, (tf_msg_lab_query_t){.op = "unload", .element = 0}, &r, &err), TF_OK);
    assert_string_equal(r.lab_reply.refused, "leased");
    assert_non_null(strstr(r.lab_reply.message, "drive 0 is d0's, leased to its tape writer"));
    assert_non_null(strstr(r.lab_reply.message, "--force d0"));
    tf_msg_clear(&r);
    assert_int_equal(s_query_full(fx, (tf_msg_lab_query_t){.op = "unload", .element = 0, .force = "d1"}, &r, &err),
                     TF_OK);
    assert_string_equal(r.lab_reply.refused, "leased");
    tf_msg_clear(&r);
    assert_int_equal(fx->fake.unloads, unloads);
    /* Once the lease ends (labeller/lease, 10 min by default), the restore in d1 gets it. */
    fx->fake.now = NOW + 10LL * 60 * 1000 + 1;
    s_request(fx, &r1, &g);
    assert_true(g.vol_grant.loaded);
    assert_string_equal(fx->fake.drive[1], "TF0003L6");
    assert_int_equal(fx->fake.unloads, unloads + 1);
    tf_msg_clear(&g);
    /* Now d1's: the operator forces it out, naming d1; the inventory follows the move. */
    assert_int_equal(s_query_full(fx, (tf_msg_lab_query_t){.op = "unload", .element = 1, .force = "d1"}, &r, &err),
                     TF_OK);
    assert_null(r.lab_reply.refused);
    assert_non_null(strstr(r.lab_reply.message, "unloaded drive 1 into slot 3"));
    tf_msg_clear(&r);
    assert_string_equal(fx->fake.slot[3], "TF0003L6");
    s_query(fx, "list", &r);
    assert_string_equal(s_cartridge(&r, "TF0003L6")->location, "slot");
    tf_msg_clear(&r);
    /* An unleased drive: an operator load needs no force. */
    assert_int_equal(s_query_full(fx, (tf_msg_lab_query_t){.op = "load", .slot = 5, .element = 1}, &r, &err), TF_OK);
    tf_msg_clear(&r);
    assert_string_equal(fx->fake.drive[1], "TF0005L6");
}

/* A drive's own next request ends its lease. */
static void
test_lease_ends_at_the_drives_next_request(void **state)
{
    fx_t *fx = *state;
    tf_msg_vol_request_t r0 = {.drive = "d0", .purpose = "restore", .want_label = "TF0003L6", .job_id = "J0",
                               .mounted = "none"};
    tf_msg_t g, r;
    s_request(fx, &r0, &g);
    assert_true(g.vol_grant.loaded);
    tf_msg_clear(&g);
    /* d0's writer read it and does not want it after all (another volume): it ejects. */
    tf_msg_vol_request_t other = {.drive = "d0", .purpose = "restore", .want_label = "TF0004L6", .job_id = "J0",
                                  .mounted = "tapeflow", .label = "TF0003L6", .label_pool = "p"};
    s_request(fx, &other, &g);
    assert_true(g.vol_grant.eject);
    tf_msg_clear(&g);
    tf_err_t err = {0};
    assert_int_equal(s_query_full(fx, (tf_msg_lab_query_t){.op = "unload", .element = 0}, &r, &err), TF_OK);
    assert_null(r.lab_reply.refused);
    tf_msg_clear(&r);
    assert_string_equal(fx->fake.slot[3], "TF0003L6");
}

/* Review item 19: a cartridge its writer could not read is recorded and skipped for a while. */
static void
test_unreadable_skipped_for_a_while(void **state)
{
    fx_t *fx = *state;
    tf_msg_vol_request_t req = {.drive = "d0", .purpose = "span", .pool = "p", .set_id = "S",
                                .prev_label = "X", .prev_sequence = 1, .mounted = "none", .ejected = true};
    tf_msg_t g, r;
    s_request(fx, &req, &g);
    assert_true(g.vol_grant.loaded);
    assert_string_equal(g.vol_grant.barcode, "TF0001L6");
    tf_msg_clear(&g);
    tf_msg_vol_request_t bad = req;
    bad.ejected = false;
    bad.mounted = "unknown";
    bad.found = "medium error reading the label";
    s_request(fx, &bad, &g);
    assert_true(g.vol_grant.eject);
    tf_msg_clear(&g);
    s_query(fx, "list", &r);
    assert_string_equal(s_cartridge(&r, "TF0001L6")->kind, "unreadable");
    tf_msg_clear(&r);
    /* Ejected: put back, the next one loaded. */
    bad.ejected = true;
    s_request(fx, &bad, &g);
    assert_string_equal(g.vol_grant.barcode, "TF0002L6");
    tf_msg_clear(&g);
    assert_string_equal(fx->fake.slot[1], "TF0001L6");
    /* Another round in d1 (nothing tried, nothing just unloaded): TF0001L6 is not loaded
       again, though the first slot... */
    tf_msg_vol_request_t d1 = req;
    d1.drive = "d1";
    s_request(fx, &d1, &g);
    assert_true(g.vol_grant.loaded);
    assert_string_equal(g.vol_grant.barcode, "TF0003L6");
    tf_msg_clear(&g);
    /* ...until labeller/unreadable_retry (12 h by default) has passed: tried like an unknown one. */
    fx->fake.now = NOW + 12LL * 3600 * 1000;
    tf_msg_path_row_t tried[] = {{.path = "TF0003L6"}};
    d1.tried = tried;
    d1.tried_count = 1;
    s_request(fx, &d1, &g);
    assert_true(g.vol_grant.loaded);
    assert_string_equal(g.vol_grant.barcode, "TF0001L6");
    tf_msg_clear(&g);
}

/* Review item 2: a library without a barcode reader. Its cartridges are known by their home
   slot ("slot N"); one never read is trial-loaded, its writer reads it and asks again, and the
   round ends because `tried` carries slot keys too (the grant's barcode is the key). */
static void
test_library_without_barcodes(void **state)
{
    fx_t *fx = *state;
    fx->fake.no_barcodes = true;
    tf_msg_t g, r;
    s_query(fx, "inventory", &r);
    assert_false(r.lab_reply.barcodes);
    assert_int_equal(r.lab_reply.cartridges_count, SLOTS);
    assert_non_null(s_cartridge(&r, "slot 1"));
    assert_string_equal(s_cartridge(&r, "slot 6")->kind, "unknown");
    tf_msg_clear(&r);
    /* A backup starts with an empty drive: slot 1 is loaded for its writer to read. */
    tf_msg_vol_request_t req = {.drive = "d0", .purpose = "write", .pool = "p", .mounted = "none",
                                .ejected = true};
    s_request(fx, &req, &g);
    assert_true(g.vol_grant.loaded);
    assert_string_equal(g.vol_grant.barcode, "slot 1");
    assert_int_equal(g.vol_grant.slot, 1);
    assert_string_equal(fx->fake.drive[0], "TF0001L6");
    tf_msg_clear(&g);
    /* Another program's tape: eject it; the inventory knows slot 1 now. */
    tf_msg_vol_request_t seen = {.drive = "d0", .purpose = "write", .pool = "p", .mounted = "foreign",
                                 .found = "a tar archive"};
    s_request(fx, &seen, &g);
    assert_true(g.vol_grant.eject);
    assert_string_equal(g.vol_grant.barcode, "slot 1");
    tf_msg_clear(&g);
    s_query(fx, "list", &r);
    assert_string_equal(s_cartridge(&r, "slot 1")->kind, "foreign");
    assert_string_equal(s_cartridge(&r, "slot 1")->location, "drive");
    tf_msg_clear(&r);
    /* Ejected: back to slot 1, slot 2 loaded (slot 1 in tried). */
    tf_msg_path_row_t tried[SLOTS];
    char names[SLOTS][16];
    size_t ntried = 0;
    snprintf(names[ntried], sizeof names[ntried], "slot 1");
    tried[ntried].path = names[ntried];
    ntried++;
    tf_msg_vol_request_t again = {.drive = "d0", .purpose = "write", .pool = "p", .mounted = "foreign",
                                  .found = "a tar archive", .ejected = true, .tried = tried, .tried_count = ntried};
    s_request(fx, &again, &g);
    assert_true(g.vol_grant.loaded);
    assert_string_equal(g.vol_grant.barcode, "slot 2");
    assert_string_equal(fx->fake.slot[1], "TF0001L6");
    tf_msg_clear(&g);
    /* Every one foreign: the round ends with no volume after each slot was tried once. */
    int loads = fx->fake.loads;
    for (int round = 0; round < 2 * SLOTS; round++) {
        snprintf(names[ntried], sizeof names[ntried], "slot %zu", ntried + 1);
        tried[ntried].path = names[ntried];
        ntried++;
        again.tried_count = ntried;
        s_request(fx, &again, &g);
        bool loaded = g.vol_grant.loaded;
        tf_msg_clear(&g);
        if (!loaded)
            break;
    }
    assert_int_equal(fx->fake.loads - loads, SLOTS - 2);
    s_request(fx, &again, &g);
    assert_false(g.vol_grant.loaded);
    assert_non_null(strstr(g.vol_grant.message, "has no appendable or expired tape of pool p"));
    tf_msg_clear(&g);
    /* Each slot's cartridge went back home: nothing lost, every one known now. */
    s_query(fx, "list", &r);
    for (int s = 1; s <= SLOTS; s++) {
        char name[16], cartridge[16];
        snprintf(name, sizeof name, "slot %d", s);
        snprintf(cartridge, sizeof cartridge, "TF%04dL6", s);
        assert_string_equal(fx->fake.slot[s], cartridge);
        assert_string_equal(s_cartridge(&r, name)->kind, "foreign");
        assert_string_equal(s_cartridge(&r, name)->location, "slot");
    }
    tf_msg_clear(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_inventory_reads_without_moving, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_span_ejects_then_loads_and_learns, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_known_blank_chosen_before_unknown, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_label_purpose, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_restore_loads_by_barcode, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_no_changer_waits_for_operator, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_inventory_survives_restart, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_bad_requests, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_routes, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_label_recorded_only_when_written, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_lease_keeps_a_drive_for_its_writer, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_lease_ends_at_the_drives_next_request, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_unreadable_skipped_for_a_while, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_library_without_barcodes, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
