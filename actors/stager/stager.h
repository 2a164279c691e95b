/*  stager - the holding disk actor: receives archives and their file rows (the sidecar the
    tape writer builds the on-tape index from) from compressors over the stage protocol (ROUTER
    at stager/endpoint), verifies and keeps them in ready/, announces them to the tape service
    and (replica_copy) to the replicate service for each replication target of their pool,
    serves fetch requests for both, and deletes them once the tape and every target confirmed
    them (archive_release items).

    Everything runs on one thread: stager_serve polls the ROUTER, the actor runtime (release
    items) and the announcer. The full protocol, credit rules and restart behaviour are in
    docs/staging.md.
*/
#ifndef STAGER_H_INCLUDED
#define STAGER_H_INCLUDED

#include <czmq.h>

#include "tf_actor.h"
#include "tf_config.h"

typedef struct _stager_t stager_t;

/* Opens the holding disk (empties tmp/, indexes ready/), binds the ROUTER and queues an
   announcement of every ready archive. Uses stager/endpoint, stager/dir, stager/capacity,
   stager/window, stager/space_alert, stager/space_alert_repeat, broker/endpoint,
   broker/max_message; stager/advertise (optional) is the endpoint tape writers are told to
   fetch from when it differs from the bound one. A wildcard stager/endpoint (host 0.0.0.0, '*'
   or [::]) without stager/advertise is refused (tape writers cannot connect to a
   wildcard). With a tcp advertise, archive_ready carries this host's CURVE public key
   (stager_key), so tape writers authenticate this stager. cfg must outlive the stager. An
   archive's replication targets and whether they are required come with its stage_open
   (decided by the job at start), not from cfg. */
stager_t *stager_new(tf_config_t *cfg, tf_err_t *err);
void stager_destroy(stager_t **self_p);

/* Serves until SIGINT/SIGTERM, or until pipe (may be NULL; for tests running the stager on a
   zactor thread) receives $TERM. actor is a worker of service "stager"; its publisher carries
   the alert.stager events (a job waiting for holding-disk space). */
int stager_serve(stager_t *self, tf_actor_t *actor, zsock_t *pipe);

/* True when endpoint is a tcp wildcard; example gets an advertise to suggest (its port). */
bool stager_wildcard(const char *endpoint, char *example, size_t size);

/* For tests and status: bytes reserved (ready + received + granted credit, sidecars included). */
uint64_t stager_reserved(stager_t *self);
/* Messages refused so far for their sender's roles (tcp peers; see docs/staging.md). */
uint64_t stager_denied(const stager_t *self);

#endif
