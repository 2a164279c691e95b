/*  replicator_client - the replicator core's ops (replicator.h) in the process: the stager's
    archives through tf_stage_fetch, the catalog and the stager's release items through the
    broker (tf_client), progress and stop requests through the actor runtime.
*/
#ifndef REPLICATOR_CLIENT_H_INCLUDED
#define REPLICATOR_CLIENT_H_INCLUDED

#include "replicator.h"
#include "tf_actor.h"
#include "tf_client.h"
#include "tf_config.h"

typedef struct _replicator_client_t replicator_client_t;

/* cfg, client and actor stay the caller's; actor may be NULL (no progress, never
   interrupted). timeout_ms bounds each catalog call and release submit. */
replicator_client_t *replicator_client_new(tf_config_t *cfg, tf_client_t *client, tf_actor_t *actor, int timeout_ms);
void replicator_client_destroy(replicator_client_t **self_p);

/* The ops table; the arg they take is the replicator_client_t. */
const replicator_ops_t *replicator_client_ops(void);

#endif
