/*  tapeflow-replicator - copies staged archives to the replication targets and commits jobs
    there (docs/architecture.md, "The replicator"; docs/operations.md, "Replication").

    A worker of the service "replicate": one replica_copy item at a time through the core
    (replicator.c) with the ops of replicator_client.c, and between items, every
    replicator/sweep, the sweep that commits jobs a crash or a late scan left uncommitted.
    Restartable at any moment: a copy is in .partial until verified and recorded, a job counts
    on a target only once its manifest.json is written, and every step is idempotent.
*/
#include "replicator.h"
#include "replicator_client.h"
#include "tf_actor.h"
#include "tf_clock.h"
#include "tf_log.h"
#include "tf_main.h"

typedef struct {
    replicator_t *core;
    bool called;               /* the payload reached the handler (not refused) */
} s_serve_t;

static int
s_on_replica_copy(tf_actor_t *actor, const tf_msg_work_t *work, const tf_msg_t *payload, void *arg, tf_err_t *err)
{
    (void) actor;
    s_serve_t *serve = arg;
    serve->called = true;
    return replicator_copy(serve->core, work, &payload->replica_copy, err);
}

static const tf_actor_route_t s_routes[] = {
    {TF_MSG_REPLICA_COPY, s_on_replica_copy},
    TF_ACTOR_ROUTES_END
};

/* Runs one item and answers it. Unlike tf_actor_dispatch every failure of a copy asks for
   another delivery, whatever its status (a target that is not configured or not mounted may
   be fixed before the next one); only a payload that is not a good replica_copy fails for
   good. */
static void
s_serve(tf_actor_t *actor, replicator_t *core, const tf_msg_work_t *work)
{
    s_serve_t serve = {.core = core};
    tf_err_t err = {0};
    int rc = tf_actor_route(actor, s_routes, work, &serve, &err);
    int answered;
    if (rc == TF_OK)
        answered = tf_actor_done(actor, work, NULL, 0);
    else {
        bool retry = serve.called && rc != TF_ERR_PROTO;
        const char *reason = err.message[0] ? err.message : tf_status_name(rc);
        tf_log_warn("item %s %s: %s", work->item_id, retry ? "handed back" : "failed", reason);
        answered = tf_actor_failed(actor, work, retry, reason);
    }
    if (answered != TF_OK)
        tf_log_warn("could not answer item %s (the broker delivers it again)", work->item_id);
}

int
main(int argc, char **argv)
{
    tf_main_t m;
    int rc = tf_main_init(&m, argc, argv, "tapeflow-replicator", "replicator.1",
                          "Copies staged archives to the replication targets (replicas/NAME) and commits "
                          "the jobs there.");
    if (rc != TF_MAIN_CONTINUE)
        return rc;
    tf_err_t err = {0};
    tf_actor_t *actor = tf_actor_new(m.config, "replicate", m.name, &err);
    tf_client_t *client = actor ? tf_client_new(m.config, tf_config_get(m.config, "broker/endpoint"), &err) : NULL;
    /* A catalog call may take a few heartbeats on a busy broker. */
    int timeout_ms = (int) (10 * tf_config_ms(m.config, "broker/heartbeat"));
    replicator_client_t *ops_arg = client ? replicator_client_new(m.config, client, actor, timeout_ms) : NULL;
    replicator_t *core = ops_arg ? replicator_new(m.config, replicator_client_ops(), ops_arg, &err) : NULL;
    if (!core) {
        tf_log_error("cannot start: %s", err.message[0] ? err.message : "out of memory");
        rc = 1;
    } else {
        rc = 0;
        int64_t sweep_ms = tf_config_ms(m.config, "replicator/sweep");
        size_t committed = replicator_sweep(core, true);
        if (committed > 0)
            tf_log_info("committed %zu job%s left uncommitted", committed, committed == 1 ? "" : "s");
        int64_t due = tf_clock_mono_ms() + sweep_ms;
        while (!tf_actor_interrupted(actor)) {
            int64_t now = tf_clock_mono_ms();
            if (now >= due) {
                replicator_sweep(core, false);
                due = tf_clock_mono_ms() + sweep_ms;
                continue;
            }
            tf_msg_t work;
            tf_err_clear(&err);
            int next = tf_actor_next(actor, &work, (int) (due - now), &err);
            if (next == TF_OK) {
                s_serve(actor, core, &work.work);
                tf_msg_clear(&work);
            } else if (next != TF_ERR_TIMEOUT && next != TF_ERR_INTERRUPTED)
                tf_log_warn("ignored a bad work item: %s", err.message);
        }
    }
    replicator_destroy(&core);
    replicator_client_destroy(&ops_arg);
    tf_client_destroy(&client);
    tf_actor_destroy(&actor);
    tf_main_fini(&m);
    return rc;
}
