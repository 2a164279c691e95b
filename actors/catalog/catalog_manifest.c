/*  catalog_manifest - manifests, levels and restore plans of chains (issue 11).
    Placeholder: the groundwork commit wires the dispatch; the implementation follows. */
#include <string.h>

#include "catalog_priv.h"

int
catalog_manifest_apply(catalog_t *self, const tf_msg_cat_manifest_t *m, tf_msg_t *reply, tf_err_t *err)
{
    (void) self;
    (void) m;
    (void) reply;
    return tf_err_set(err, TF_ERR_INVALID, "cat_manifest is not implemented yet");
}

int
catalog_level_decide(catalog_t *self, const tf_msg_cat_job_t *create, int64_t now, tf_err_t *err)
{
    (void) self;
    (void) create;
    (void) now;
    (void) err;
    return TF_OK;
}

bool
catalog_manifest_handles(const char *query)
{
    return strcmp(query, "manifest") == 0 || strcmp(query, "restore_plan") == 0 || strcmp(query, "job_at") == 0;
}

int
catalog_manifest_query(catalog_t *self, const tf_msg_cat_query_t *q, tf_msg_t *reply, tf_err_t *err)
{
    (void) self;
    (void) reply;
    return tf_err_set(err, TF_ERR_INVALID, "cat_query %s is not implemented yet", q->query);
}
