/*  catalog_priv - what catalog.c (schema, updates) and catalog_query.c share. */
#ifndef CATALOG_PRIV_H_INCLUDED
#define CATALOG_PRIV_H_INCLUDED

#include <sqlite3.h>

#include "catalog.h"

/* A job event to publish once the transaction that caused it commits. */
typedef struct {
    char job_id[TF_MSG_MAX_ID + 1];
    char kind[32];          /* stage, or the final status */
    char stage[32];         /* stage: the one the job moved to */
} catalog_pending_t;

struct _catalog_t {
    sqlite3 *db;
    char *path;
    catalog_clock_fn *clock;
    void *clock_arg;
    catalog_event_fn *events;
    void *events_arg;
    catalog_pending_t *pending;   /* events of the open transaction */
    size_t pending_count, pending_cap;
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
