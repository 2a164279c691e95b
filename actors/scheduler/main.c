/*  tapeflow-scheduler - fires the configured schedules (docs/operations.md, "Schedules").

    A worker of the service "scheduler" (so `tapeflow status` and `tapeflow up` see it) that
    takes no items: between items it never gets, it runs the core (scheduler.c) every
    scheduler/tick against the catalog and the broker (scheduler_client.c). Restartable at any
    moment: what has fired is in the catalog (schedule_runs), claimed before each job starts.
*/
#include "scheduler.h"
#include "scheduler_client.h"
#include "tf_actor.h"
#include "tf_clock.h"
#include "tf_log.h"
#include "tf_main.h"

/* Reads every schedule of the configuration into core. A schedule whose settings are wrong is
   left out - the core alerts it every hour, naming the key - and the others run. */
static void
s_add_schedules(tf_config_t *cfg, scheduler_t *core)
{
    zlist_t *names = tf_schedule_names(cfg);
    size_t added = 0;
    for (const char *name = names ? zlist_first(names) : NULL; name; name = zlist_next(names)) {
        tf_err_t err = {0};
        tf_schedule_t *schedule = tf_schedule_new(cfg, name, &err);
        if (schedule && scheduler_add(core, &schedule, &err) == TF_OK) {
            added++;
            continue;
        }
        tf_schedule_destroy(&schedule);
        char why[TF_ERR_MESSAGE_MAX];
        snprintf(why, sizeof why, "%s", err.message);
        tf_err_clear(&err);
        if (scheduler_add_broken(core, name, why, &err) != TF_OK)
            tf_log_error("schedule %s is not run: %s (%s)", name, why, err.message);
    }
    tf_log_info("%zu schedule%s", added, added == 1 ? "" : "s");
    zlist_destroy(&names);
}

int
main(int argc, char **argv)
{
    tf_main_t m;
    int rc = tf_main_init(&m, argc, argv, "tapeflow-scheduler", "scheduler.1",
                          "Fires the backup schedules of the configuration (schedules/NAME).");
    if (rc != TF_MAIN_CONTINUE)
        return rc;
    tf_err_t err = {0};
    tf_actor_t *actor = tf_actor_new(m.config, "scheduler", m.name, &err);
    tf_client_t *client = actor ? tf_client_new(m.config, tf_config_get(m.config, "broker/endpoint"), &err) : NULL;
    int64_t tick_ms = tf_config_ms(m.config, "scheduler/tick");
    /* A catalog call may take a few heartbeats on a busy broker; a tick waits for it. */
    int timeout_ms = (int) (10 * tf_config_ms(m.config, "broker/heartbeat"));
    scheduler_client_t *ops_arg =
        client ? scheduler_client_new(m.config, client, tf_actor_events(actor), timeout_ms) : NULL;
    scheduler_t *core = ops_arg ? scheduler_new(tick_ms, scheduler_client_ops(), ops_arg) : NULL;
    if (!core) {
        tf_log_error("cannot start: %s", err.message[0] ? err.message : "out of memory");
        rc = 1;
    } else {
        s_add_schedules(m.config, core);
        rc = 0;
        int64_t due = 0;
        while (!tf_actor_interrupted(actor)) {
            int64_t now = tf_clock_mono_ms();
            if (now >= due) {
                scheduler_tick(core, tf_clock_wall_ms());
                due = now + tick_ms;
                continue;
            }
            tf_msg_t work;
            int next = tf_actor_next(actor, &work, (int) (due - now), &err);
            if (next == TF_OK) {
                /* Nothing is meant to submit to the scheduler: refuse for good. */
                if (tf_actor_failed(actor, &work.work, false, "the scheduler service takes no work items") != TF_OK)
                    tf_log_warn("could not refuse item %s", work.work.item_id);
                tf_msg_clear(&work);
            } else if (next != TF_ERR_TIMEOUT && next != TF_ERR_INTERRUPTED)
                tf_log_warn("ignored a bad work item: %s", err.message);
        }
    }
    scheduler_destroy(&core);
    scheduler_client_destroy(&ops_arg);
    tf_client_destroy(&client);
    tf_actor_destroy(&actor);
    tf_main_fini(&m);
    return rc;
}
