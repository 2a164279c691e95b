/*  inventory - the labeller's cartridge store (see inventory.h). */
#include "inventory.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_fs.h"

struct _inventory_t {
    sqlite3 *db;
};

static const char s_schema[] =
    "CREATE TABLE IF NOT EXISTS cartridges ("
    " changer TEXT NOT NULL, barcode TEXT NOT NULL,"
    " location TEXT NOT NULL DEFAULT 'outside', element INTEGER NOT NULL DEFAULT 0,"
    " kind TEXT NOT NULL DEFAULT 'unknown', label TEXT NOT NULL DEFAULT '', pool TEXT NOT NULL DEFAULT '',"
    " seen_ms INTEGER NOT NULL DEFAULT 0, label_ms INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (changer, barcode))";

static int
s_db_error(inventory_t *self, tf_err_t *err, const char *what)
{
    return tf_err_set(err, TF_ERR_DB, "labeller inventory: %s: %s", what,
                      self && self->db ? sqlite3_errmsg(self->db) : "no database");
}

static int
s_exec(inventory_t *self, const char *sql, tf_err_t *err)
{
    char *msg = NULL;
    if (sqlite3_exec(self->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        tf_err_set(err, TF_ERR_DB, "labeller inventory: %s", msg ? msg : "cannot run a statement");
        sqlite3_free(msg);
        return TF_ERR_DB;
    }
    return TF_OK;
}

inventory_t *
inventory_open(const char *path, tf_err_t *err)
{
    if (tf_fs_mkdir_parent(path, err) != TF_OK)
        return NULL;
    inventory_t *self = calloc(1, sizeof *self);
    if (!self) {
        tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (sqlite3_open_v2(path, &self->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        tf_err_set(err, TF_ERR_DB, "cannot open the labeller's inventory %s: %s (check labeller/db and "
                   "the folder's permissions)", path, self->db ? sqlite3_errmsg(self->db) : "out of memory");
        inventory_destroy(&self);
        return NULL;
    }
    sqlite3_busy_timeout(self->db, 5000);
    if (s_exec(self, "PRAGMA journal_mode=WAL", err) != TF_OK || s_exec(self, "PRAGMA synchronous=NORMAL", err) != TF_OK
        || s_exec(self, s_schema, err) != TF_OK) {
        tf_err_prefix(err, "%s: ", path);
        inventory_destroy(&self);
        return NULL;
    }
    return self;
}

void
inventory_destroy(inventory_t **self_p)
{
    if (self_p && *self_p) {
        sqlite3_close((*self_p)->db);
        free(*self_p);
        *self_p = NULL;
    }
}

static sqlite3_stmt *
s_prepare(inventory_t *self, const char *sql, tf_err_t *err)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(self->db, sql, -1, &stmt, NULL) != SQLITE_OK) {
        s_db_error(self, err, "cannot prepare a statement");
        return NULL;
    }
    return stmt;
}

/* Checks a sqlite3_bind_* result: on failure the statement is finalized (*stmt_p NULL) and
   err says so, so a row is never written with a value missing. */
static int
s_bound(inventory_t *self, int s, sqlite3_stmt **stmt_p, tf_err_t *err)
{
    if (s == SQLITE_OK)
        return TF_OK;
    s_db_error(self, err, "cannot bind a value");
    sqlite3_finalize(*stmt_p);
    *stmt_p = NULL;
    return TF_ERR_DB;
}

/* Steps a statement that returns no rows, and finalizes it. */
static int
s_run(inventory_t *self, sqlite3_stmt *stmt, const char *what, tf_err_t *err)
{
    int s = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    if (s != SQLITE_DONE)
        return s_db_error(self, err, what);
    return TF_OK;
}

static const char *
s_location(tf_changer_type_t type)
{
    switch (type) {
    case TF_CHANGER_SLOT: return "slot";
    case TF_CHANGER_DRIVE: return "drive";
    case TF_CHANGER_IE: return "ie";
    default: return "transport";
    }
}

bool
inventory_key(const tf_changer_inv_t *inv, const tf_changer_elem_t *e, char *key, size_t size)
{
    key[0] = '\0';
    if (!e || !e->full || e->type == TF_CHANGER_TRANSPORT)
        return false;
    if (e->barcode[0]) {
        snprintf(key, size, "%s", e->barcode);
        return true;
    }
    const tf_changer_elem_t *home = e->type == TF_CHANGER_SLOT ? e
                                    : e->source_valid ? tf_changer_inv_by_address(inv, e->source) : NULL;
    if (!home || home->type != TF_CHANGER_SLOT)
        return false;
    snprintf(key, size, "slot %d", home->number);
    return true;
}

bool
inventory_key_is_slot(const char *key)
{
    return key && strncmp(key, "slot ", 5) == 0;
}

int
inventory_update(inventory_t *self, const char *changer, const tf_changer_inv_t *inv, int64_t now_ms,
                 tf_err_t *err)
{
    if (s_exec(self, "BEGIN IMMEDIATE", err) != TF_OK)
        return TF_ERR_DB;
    /* The sweep before this one: a row it did not see was outside the library. */
    int64_t last_sweep = 0;
    sqlite3_stmt *stmt = s_prepare(self, "SELECT COALESCE(MAX(seen_ms), 0) FROM cartridges WHERE changer = ?1", err);
    int rc = stmt ? TF_OK : TF_ERR_DB;
    if (rc == TF_OK)
        rc = s_bound(self, sqlite3_bind_text(stmt, 1, changer, -1, SQLITE_STATIC), &stmt, err);
    if (rc == TF_OK) {
        if (sqlite3_step(stmt) == SQLITE_ROW)
            last_sweep = sqlite3_column_int64(stmt, 0);
        else
            rc = s_db_error(self, err, "cannot read the last sweep");
        sqlite3_finalize(stmt);
    }
    stmt = rc == TF_OK ? s_prepare(self, "UPDATE cartridges SET location = 'outside', element = 0 "
                                         "WHERE changer = ?1", err) : NULL;
    if (rc == TF_OK && !stmt)
        rc = TF_ERR_DB;
    if (rc == TF_OK)
        rc = s_bound(self, sqlite3_bind_text(stmt, 1, changer, -1, SQLITE_STATIC), &stmt, err);
    if (rc == TF_OK)
        rc = s_run(self, stmt, "cannot update cartridges", err);
    for (size_t i = 0; rc == TF_OK && i < inv->count; i++) {
        const tf_changer_elem_t *e = &inv->elem[i];
        char key[TF_CHANGER_BARCODE_MAX + 1];
        if (!inventory_key(inv, e, key, sizeof key))
            continue;
        /* The row's location is 'outside' here unless the sweep saw it already. */
        stmt = s_prepare(self,
                         "INSERT INTO cartridges (changer, barcode, location, element, seen_ms) "
                         "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (changer, barcode) DO UPDATE SET "
                         "location = excluded.location, element = excluded.element, seen_ms = excluded.seen_ms, "
                         "kind = CASE WHEN ?6 AND cartridges.seen_ms < ?7 THEN 'unknown' ELSE cartridges.kind END, "
                         "label = CASE WHEN ?6 AND cartridges.seen_ms < ?7 THEN '' ELSE cartridges.label END, "
                         "pool = CASE WHEN ?6 AND cartridges.seen_ms < ?7 THEN '' ELSE cartridges.pool END",
                         err);
        if (!stmt) {
            rc = TF_ERR_DB;
            break;
        }
        if (s_bound(self, sqlite3_bind_text(stmt, 1, changer, -1, SQLITE_STATIC), &stmt, err) != TF_OK
            || s_bound(self, sqlite3_bind_text(stmt, 2, key, -1, SQLITE_TRANSIENT), &stmt, err) != TF_OK
            || s_bound(self, sqlite3_bind_text(stmt, 3, s_location(e->type), -1, SQLITE_STATIC), &stmt, err) != TF_OK
            || s_bound(self, sqlite3_bind_int(stmt, 4, e->number), &stmt, err) != TF_OK
            || s_bound(self, sqlite3_bind_int64(stmt, 5, now_ms), &stmt, err) != TF_OK
            || s_bound(self, sqlite3_bind_int(stmt, 6, inventory_key_is_slot(key)), &stmt, err) != TF_OK
            || s_bound(self, sqlite3_bind_int64(stmt, 7, last_sweep), &stmt, err) != TF_OK) {
            rc = TF_ERR_DB;
            break;
        }
        rc = s_run(self, stmt, "cannot record a cartridge", err);
    }
    if (rc == TF_OK)
        return s_exec(self, "COMMIT", err);
    tf_err_t rerr = {0};
    s_exec(self, "ROLLBACK", &rerr);
    return rc;
}

int
inventory_move(inventory_t *self, const char *changer, const char *barcode, const char *location, int element,
               tf_err_t *err)
{
    sqlite3_stmt *stmt = s_prepare(self,
                                   "INSERT INTO cartridges (changer, barcode, location, element) VALUES "
                                   "(?1, ?2, ?3, ?4) ON CONFLICT (changer, barcode) DO UPDATE SET "
                                   "location = excluded.location, element = excluded.element", err);
    if (!stmt)
        return TF_ERR_DB;
    if (s_bound(self, sqlite3_bind_text(stmt, 1, changer, -1, SQLITE_STATIC), &stmt, err) != TF_OK
        || s_bound(self, sqlite3_bind_text(stmt, 2, barcode, -1, SQLITE_STATIC), &stmt, err) != TF_OK
        || s_bound(self, sqlite3_bind_text(stmt, 3, location, -1, SQLITE_STATIC), &stmt, err) != TF_OK
        || s_bound(self, sqlite3_bind_int(stmt, 4, element), &stmt, err) != TF_OK)
        return TF_ERR_DB;
    return s_run(self, stmt, "cannot record a move", err);
}

int
inventory_set_label(inventory_t *self, const char *changer, const char *barcode, const char *kind,
                    const char *label, const char *pool, int64_t now_ms, tf_err_t *err)
{
    sqlite3_stmt *stmt = s_prepare(self,
                                   "INSERT INTO cartridges (changer, barcode, kind, label, pool, label_ms) VALUES "
                                   "(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (changer, barcode) DO UPDATE SET "
                                   "kind = excluded.kind, label = excluded.label, pool = excluded.pool, "
                                   "label_ms = excluded.label_ms", err);
    if (!stmt)
        return TF_ERR_DB;
    if (s_bound(self, sqlite3_bind_text(stmt, 1, changer, -1, SQLITE_STATIC), &stmt, err) != TF_OK
        || s_bound(self, sqlite3_bind_text(stmt, 2, barcode, -1, SQLITE_STATIC), &stmt, err) != TF_OK
        || s_bound(self, sqlite3_bind_text(stmt, 3, kind, -1, SQLITE_STATIC), &stmt, err) != TF_OK
        || s_bound(self, sqlite3_bind_text(stmt, 4, label ? label : "", -1, SQLITE_STATIC), &stmt, err) != TF_OK
        || s_bound(self, sqlite3_bind_text(stmt, 5, pool ? pool : "", -1, SQLITE_STATIC), &stmt, err) != TF_OK
        || s_bound(self, sqlite3_bind_int64(stmt, 6, now_ms), &stmt, err) != TF_OK)
        return TF_ERR_DB;
    return s_run(self, stmt, "cannot record a label", err);
}

static void
s_text(sqlite3_stmt *stmt, int col, char *out, size_t size)
{
    const unsigned char *t = sqlite3_column_text(stmt, col);
    snprintf(out, size, "%s", t ? (const char *) t : "");
}

static void
s_read_row(sqlite3_stmt *stmt, inventory_cartridge_t *c)
{
    memset(c, 0, sizeof *c);
    s_text(stmt, 0, c->changer, sizeof c->changer);
    s_text(stmt, 1, c->barcode, sizeof c->barcode);
    s_text(stmt, 2, c->location, sizeof c->location);
    c->element = sqlite3_column_int(stmt, 3);
    s_text(stmt, 4, c->kind, sizeof c->kind);
    s_text(stmt, 5, c->label, sizeof c->label);
    s_text(stmt, 6, c->pool, sizeof c->pool);
    c->seen_ms = sqlite3_column_int64(stmt, 7);
    c->label_ms = sqlite3_column_int64(stmt, 8);
}

#define S_COLUMNS "changer, barcode, location, element, kind, label, pool, seen_ms, label_ms"

int
inventory_get(inventory_t *self, const char *changer, const char *barcode, inventory_cartridge_t *out,
              bool *found, tf_err_t *err)
{
    *found = false;
    sqlite3_stmt *stmt = s_prepare(self, "SELECT " S_COLUMNS " FROM cartridges WHERE changer = ?1 AND barcode = ?2",
                                   err);
    if (!stmt)
        return TF_ERR_DB;
    if (s_bound(self, sqlite3_bind_text(stmt, 1, changer, -1, SQLITE_STATIC), &stmt, err) != TF_OK
        || s_bound(self, sqlite3_bind_text(stmt, 2, barcode, -1, SQLITE_STATIC), &stmt, err) != TF_OK)
        return TF_ERR_DB;
    int s = sqlite3_step(stmt);
    if (s == SQLITE_ROW) {
        s_read_row(stmt, out);
        *found = true;
    }
    sqlite3_finalize(stmt);
    if (s != SQLITE_ROW && s != SQLITE_DONE)
        return s_db_error(self, err, "cannot read a cartridge");
    return TF_OK;
}

int
inventory_list(inventory_t *self, const char *changer, inventory_cartridge_t **rows, size_t *count,
               tf_err_t *err)
{
    *rows = NULL;
    *count = 0;
    sqlite3_stmt *stmt = s_prepare(self,
                                   "SELECT " S_COLUMNS " FROM cartridges WHERE ?1 IS NULL OR changer = ?1 "
                                   "ORDER BY changer, CASE location WHEN 'drive' THEN 0 WHEN 'slot' THEN 1 "
                                   "WHEN 'ie' THEN 2 ELSE 3 END, element, barcode", err);
    if (!stmt)
        return TF_ERR_DB;
    int bound = changer ? sqlite3_bind_text(stmt, 1, changer, -1, SQLITE_STATIC) : sqlite3_bind_null(stmt, 1);
    if (s_bound(self, bound, &stmt, err) != TF_OK)
        return TF_ERR_DB;
    size_t cap = 0;
    int s;
    int rc = TF_OK;
    while ((s = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (*count == cap) {
            size_t more = cap ? cap * 2 : 16;
            inventory_cartridge_t *grown = realloc(*rows, more * sizeof *grown);
            if (!grown) {
                rc = tf_err_set(err, TF_ERR_NOMEM, "out of memory");
                break;
            }
            *rows = grown;
            cap = more;
        }
        s_read_row(stmt, &(*rows)[(*count)++]);
    }
    sqlite3_finalize(stmt);
    if (rc == TF_OK && s != SQLITE_DONE)
        rc = s_db_error(self, err, "cannot list cartridges");
    if (rc != TF_OK) {
        free(*rows);
        *rows = NULL;
        *count = 0;
    }
    return rc;
}
