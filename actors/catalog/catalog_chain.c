/*  catalog_chain - retention that knows chains (issue 11).
    Placeholder: the groundwork commit wires the dispatch; the implementation follows. */
#include "catalog_priv.h"

int
catalog_chain_volume(catalog_t *self, tf_msg_volume_row_t *row, tf_err_t *err)
{
    (void) self;
    (void) row;
    (void) err;
    return TF_OK;
}

int
catalog_chain_job(catalog_t *self, tf_msg_job_row_t *row, tf_err_t *err)
{
    (void) self;
    (void) row;
    (void) err;
    return TF_OK;
}
