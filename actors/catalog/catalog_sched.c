/*  catalog_sched - schedule runs (issue 11).
    Placeholder: the groundwork commit wires the dispatch; the implementation follows. */
#include <string.h>

#include "catalog_priv.h"

int
catalog_sched_apply(catalog_t *self, const tf_msg_cat_sched_t *m, tf_msg_t *reply, tf_err_t *err)
{
    (void) self;
    (void) m;
    (void) reply;
    return tf_err_set(err, TF_ERR_INVALID, "cat_sched is not implemented yet");
}

bool
catalog_sched_handles(const char *query)
{
    return strcmp(query, "schedule_history") == 0;
}

int
catalog_sched_query(catalog_t *self, const tf_msg_cat_query_t *q, tf_msg_t *reply, tf_err_t *err)
{
    (void) self;
    (void) reply;
    return tf_err_set(err, TF_ERR_INVALID, "cat_query %s is not implemented yet", q->query);
}
