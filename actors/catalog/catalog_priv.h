/*  catalog_priv - what catalog.c (schema, updates) and catalog_query.c share. */
#ifndef CATALOG_PRIV_H_INCLUDED
#define CATALOG_PRIV_H_INCLUDED

#include <sqlite3.h>

#include "catalog.h"

struct _catalog_t {
    sqlite3 *db;
    char *path;
    catalog_clock_fn *clock;
    void *clock_arg;
};

/* Sets err to TF_ERR_DB with "catalog PATH: WHAT: sqlite's message"; returns TF_ERR_DB. */
int catalog_db_error(catalog_t *self, tf_err_t *err, const char *what);
sqlite3_stmt *catalog_prepare(catalog_t *self, const char *sql, tf_err_t *err);
int64_t catalog_now(catalog_t *self);

/* Text column as a heap copy (NULL stays NULL); *oom set when the copy fails. */
char *catalog_column_dup(sqlite3_stmt *stmt, int col, bool *oom);

/* catalog_query.c: answers a cat_query into *reply (TF_MSG_CAT_REPLY). */
int catalog_query(catalog_t *self, const tf_msg_cat_query_t *query, tf_msg_t *reply, tf_err_t *err);

#endif
