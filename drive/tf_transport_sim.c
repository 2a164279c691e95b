/*  tf_transport_sim - the sim: transport, a thin adapter over tf_sim. */
#include <stdio.h>
#include <stdlib.h>

#include "tf_sim.h"
#include "tf_transport.h"

static int
s_sim_execute(void *state, const tf_scsi_req_t *req, tf_scsi_res_t *res, tf_err_t *err)
{
    return tf_sim_execute(state, req, res, err);
}

static void
s_sim_destroy(void **state_p)
{
    if (state_p && *state_p) {
        tf_sim_t *sim = *state_p;
        tf_sim_destroy(&sim);
        *state_p = NULL;
    }
}

static const tf_transport_ops_t s_sim_ops = {"sim", s_sim_execute, s_sim_destroy};

tf_transport_t *
tf_transport_sim_open(const char *spec, tf_err_t *err)
{
    tf_sim_t *sim = tf_sim_new(spec, err);
    if (!sim)
        return NULL;
    char url[4200];
    snprintf(url, sizeof url, "sim:%s", spec);
    tf_transport_t *transport = tf_transport_new(&s_sim_ops, sim, url);
    if (!transport)
        tf_err_set(err, TF_ERR_NOMEM, "out of memory opening sim:%s", spec);
    return transport;
}
