/*  catalog - the backup catalog: jobs, archives and their tape positions, file entries.

    One SQLite database (WAL, synchronous=FULL) owned by the tapeflow-catalog process. Every
    work item of the `catalog` service is applied in one transaction, and applying the same item
    again leaves the same state (idempotent): a redelivered cat_files adds no rows, a repeated
    cat_written rewrites the same position, a job op that arrives twice or late changes nothing
    it should not. Items for one job may arrive in any order (different services feed them):
    every op creates the job or archive row it needs.

    The class is usable without processes (tests call it directly):

        tf_err_t err = {0};
        catalog_t *cat = catalog_open("/var/lib/tapeflow/catalog.db", &err);
        tf_msg_t reply = {0};
        rc = catalog_handle_item(cat, work, &reply, &err);  // reply: cat_reply for cat_query
        tf_msg_clear(&reply);
        catalog_destroy(&cat);

    catalog_routes is the tf_actor route table tapeflow-catalog runs (arg: the catalog).
    Semantics, schema and queries: docs/catalog.md.
*/
#ifndef CATALOG_H_INCLUDED
#define CATALOG_H_INCLUDED

#include <stdint.h>

#include "tf_actor.h"
#include "tf_msg.h"

typedef struct _catalog_t catalog_t;

/* Default and largest row counts of the queries. */
#define CATALOG_JOBS_LIMIT 100
#define CATALOG_FILES_LIMIT 1000
#define CATALOG_MAX_ROWS TF_MSG_MAX_ROWS
/* Encoded size a reply stops growing at (it is then marked truncated). */
#define CATALOG_REPLY_BUDGET (32u << 20)

/* Opens (creating it and its folder when missing) the catalog database at path. */
catalog_t *catalog_open(const char *path, tf_err_t *err);
void catalog_destroy(catalog_t **self_p);
const char *catalog_path(catalog_t *self);

/* Wall clock in ms used for times the items do not carry (tests pin it). NULL: the real one. */
typedef int64_t(catalog_clock_fn)(void *arg);
void catalog_set_clock(catalog_t *self, catalog_clock_fn *clock, void *arg);

/* The pool policy for a volume past its retention that holds the base of a job still within
   its own (pools/<pool>/chain_retention, docs/operations.md "Retention and chains"): true =
   expire it and the jobs that depend on it, false = keep it (held). No policy set: keep. */
typedef bool(catalog_chain_policy_fn)(void *arg, const char *pool);
void catalog_set_chain_policy(catalog_t *self, catalog_chain_policy_fn *fn, void *arg);

/* Job events (docs/pipeline.md, "Events"): called after the transaction that changed the job
   committed - never for a change that rolled back, never again for a redelivered item. topic is
   job.<id>.stage (the job moved to another stage), job.<id>.<final status> (completed,
   completed_with_warnings, failed, expired) or job.<id>.replica (a replica row changed state,
   issue 12); job is the job as the `job` query shows it.
   level: info, warn (completed_with_warnings, expired) or error (failed). */
typedef void(catalog_event_fn)(void *arg, const char *topic, const char *level, const tf_msg_job_row_t *job);
void catalog_set_events(catalog_t *self, catalog_event_fn *fn, void *arg);

/* Applies one decoded catalog message (cat_job, cat_files, cat_written, cat_query). For
   cat_query, *reply becomes the cat_reply (the caller clears it with tf_msg_clear); for the
   others it is left TF_MSG_NONE. reply may be NULL for messages that are not queries.
   Errors: TF_ERR_INVALID / TF_ERR_PROTO (bad input: fail the item for good),
   TF_ERR_NOTFOUND (query of an unknown job), TF_ERR_DB / TF_ERR_NOMEM (try again). */
int catalog_apply(catalog_t *self, const tf_msg_t *msg, tf_msg_t *reply, tf_err_t *err);

/* Decodes work->payload and applies it (see catalog_apply), refusing what tapeflow-catalog
   refuses with the same messages; a refusal for good is recorded on the item's job. */
int catalog_handle_item(catalog_t *self, const tf_msg_work_t *work, tf_msg_t *reply, tf_err_t *err);

/* The routes tapeflow-catalog serves (arg: the catalog_t): cat_job, cat_files, cat_written,
   cat_volume, and cat_query, cat_manifest, cat_sched, cat_replica (their reply becomes the
   item's result), and refused payloads (the refusal is recorded on the item's job). */
extern const tf_actor_route_t catalog_routes[];

#endif
