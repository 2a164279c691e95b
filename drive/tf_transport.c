/*  tf_transport - URL dispatch and the common wrapper around transport implementations. */
#include "tf_transport.h"

#include <stdlib.h>
#include <string.h>

struct _tf_transport_t {
    const tf_transport_ops_t *ops;
    void *state;
    char *url;
};

tf_transport_t *
tf_transport_new(const tf_transport_ops_t *ops, void *state, const char *url)
{
    tf_transport_t *self = calloc(1, sizeof *self);
    char *copy = strdup(url ? url : "");
    if (!self || !copy) {
        free(self);
        free(copy);
        if (ops && ops->destroy)
            ops->destroy(&state);
        return NULL;
    }
    self->ops = ops;
    self->state = state;
    self->url = copy;
    return self;
}

void
tf_transport_destroy(tf_transport_t **self_p)
{
    if (self_p && *self_p) {
        tf_transport_t *self = *self_p;
        if (self->ops && self->ops->destroy)
            self->ops->destroy(&self->state);
        free(self->url);
        free(self);
        *self_p = NULL;
    }
}

int
tf_transport_execute(tf_transport_t *self, const tf_scsi_req_t *req, tf_scsi_res_t *res,
                     tf_err_t *err)
{
    if (!self || !req || !res || !req->cdb || req->cdb_len == 0)
        return tf_err_set(err, TF_ERR_INVALID, "transport: bad request");
    memset(res, 0, sizeof *res);
    return self->ops->execute(self->state, req, res, err);
}

const char *
tf_transport_url(tf_transport_t *self)
{
    return self ? self->url : NULL;
}

const char *
tf_transport_scheme(tf_transport_t *self)
{
    return self ? self->ops->scheme : NULL;
}

tf_transport_t *
tf_transport_open(const char *url, tf_err_t *err)
{
    if (!url || !*url) {
        tf_err_set(err, TF_ERR_INVALID, "no drive URL given");
        return NULL;
    }
    if (strncmp(url, "sg:", 3) == 0)
        return tf_transport_sg_open(url + 3, err);
    if (strncmp(url, "iscsi://", 8) == 0)
        return tf_transport_iscsi_open(url, err);
    if (strncmp(url, "sim:", 4) == 0)
        return tf_transport_sim_open(url + 4, err);
    tf_err_set(err, TF_ERR_INVALID,
               "drive URL '%s' has an unknown scheme: use sg:/dev/sgN, sg:/dev/nstN, "
               "sg:/dev/tape/by-id/..., iscsi://host[:port]/iqn/lun or sim:/path/to/tape.img",
               url);
    return NULL;
}
