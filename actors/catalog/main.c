/*  tapeflow-catalog - the catalog actor process: owns the catalog database (catalog/db) and
    serves the `catalog` service (see catalog.h, docs/catalog.md). */
#include <stdio.h>
#include <string.h>

#include "catalog.h"
#include "tf_config.h"
#include "tf_log.h"
#include "tf_main.h"

/* Job events go out on the bus through the actor's publisher (never blocks). */
static void
s_publish(void *arg, const char *topic, const char *level, const tf_msg_job_row_t *job)
{
    tf_msg_event_t ev = {
        .topic = (char *) topic,
        .level = (char *) level,
        .message = job->message,
        .job_id = job->job_id,
        .done = job->files_done,
        .total = job->files_total,
        .job = (tf_msg_job_row_t *) job,
        .job_count = 1,
    };
    tf_publisher_emit(tf_actor_events(arg), &ev);
}

/* pools/<pool>/chain_retention (docs/operations.md, "Retention and chains"). */
static bool
s_chain_expires(void *arg, const char *pool)
{
    char key[256];
    snprintf(key, sizeof key, "pools/%s/chain_retention", pool);
    const char *policy = tf_config_get(arg, key);
    return policy && strcmp(policy, "expire") == 0;
}

int
main(int argc, char **argv)
{
    tf_main_t m;
    int rc = tf_main_init(&m, argc, argv, "tapeflow-catalog", "catalog.1",
                          "Catalog actor: records jobs, archives, tape positions and file entries "
                          "in catalog/db and answers catalog queries (docs/catalog.md).");
    if (rc != TF_MAIN_CONTINUE)
        return rc;
    tf_err_t err = {0};
    catalog_t *catalog = catalog_open(tf_config_get(m.config, "catalog/db"), &err);
    if (!catalog) {
        tf_log_error("cannot start: %s", err.message);
        tf_main_fini(&m);
        return 1;
    }
    tf_actor_t *actor = tf_actor_new(m.config, "catalog", m.name, &err);
    if (!actor) {
        tf_log_error("cannot start: %s", err.message);
        catalog_destroy(&catalog);
        tf_main_fini(&m);
        return 1;
    }
    catalog_set_events(catalog, s_publish, actor);
    catalog_set_chain_policy(catalog, s_chain_expires, m.config);
    tf_log_info("catalog %s ready", catalog_path(catalog));
    rc = tf_actor_run(actor, catalog_routes, catalog);
    tf_actor_destroy(&actor);
    catalog_destroy(&catalog);
    tf_main_fini(&m);
    return rc;
}
