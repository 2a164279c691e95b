/*  tapeflow-scanner - the `scan` worker (see scanner.h). */
#include "scanner.h"
#include "tf_log.h"
#include "tf_main.h"

int
main(int argc, char **argv)
{
    tf_main_t m;
    int rc = tf_main_init(&m, argc, argv, "tapeflow-scanner", "scanner.1",
                          "Scan worker: walks a backup job's paths and queues file groups for the compressors.");
    if (rc != TF_MAIN_CONTINUE)
        return rc;
    tf_err_t err = {0};
    scanner_t *scanner = scanner_new(m.config, &err);
    tf_actor_t *actor = scanner ? tf_actor_new(m.config, "scan", m.name, &err) : NULL;
    if (!actor) {
        tf_log_error("cannot start: %s", err.message);
        scanner_destroy(&scanner);
        tf_main_fini(&m);
        return 1;
    }
    rc = tf_actor_run(actor, scanner_routes, scanner);
    tf_actor_destroy(&actor);
    scanner_destroy(&scanner);
    tf_main_fini(&m);
    return rc;
}
