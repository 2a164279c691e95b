/*  tapeflow-labeller - the labeller actor process: decides about volumes, owns the inventory
    (labeller/db) and every changer move; serves the `labeller` service (see labeller.h). */
#include "labeller.h"
#include "tf_log.h"
#include "tf_main.h"

int
main(int argc, char **argv)
{
    tf_main_t m;
    int rc = tf_main_init(&m, argc, argv, "tapeflow-labeller", "labeller.1",
                          "Labeller: chooses the volume for every tape write, span and restore, owns "
                          "the cartridge inventory (labeller/db) and moves every changer (service "
                          "'labeller'; see docs/architecture.md).");
    if (rc != TF_MAIN_CONTINUE)
        return rc;
    tf_err_t err = {0};
    labeller_t *labeller = labeller_new(m.config, NULL, &err);
    if (!labeller) {
        tf_log_error("cannot start: %s", err.message);
        tf_main_fini(&m);
        return 1;
    }
    tf_actor_t *actor = tf_actor_new(m.config, "labeller", m.name, &err);
    if (!actor) {
        tf_log_error("cannot start: %s", err.message);
        labeller_destroy(&labeller);
        tf_main_fini(&m);
        return 1;
    }
    tf_log_info("labeller ready (inventory %s)", tf_config_get(m.config, "labeller/db"));
    rc = tf_actor_run(actor, labeller_routes, labeller);
    tf_actor_destroy(&actor);
    labeller_destroy(&labeller);
    tf_main_fini(&m);
    return rc;
}
