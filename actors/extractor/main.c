/*  tapeflow-extractor - the `extract` worker of a file agent (see extractor.h). */
#include "extractor.h"
#include "tf_log.h"
#include "tf_main.h"

int
main(int argc, char **argv)
{
    tf_main_t m;
    int rc = tf_main_init(&m, argc, argv, "tapeflow-extractor", "extractor.1",
                          "Extract worker: writes restores the tape writer streams through the stager "
                          "into folders of this host (service 'extract'; see docs/restore.md).");
    if (rc != TF_MAIN_CONTINUE)
        return rc;
    tf_err_t err = {0};
    extractor_t *extractor = extractor_new(m.config, &err);
    tf_actor_t *actor = extractor ? tf_actor_new(m.config, "extract", m.name, &err) : NULL;
    if (!actor) {
        tf_log_error("cannot start: %s", err.message);
        extractor_destroy(&extractor);
        tf_main_fini(&m);
        return 1;
    }
    tf_log_info("extractor of host %s ready", extractor_host(extractor));
    rc = tf_actor_run(actor, extractor_routes, extractor);
    tf_actor_destroy(&actor);
    extractor_destroy(&extractor);
    tf_main_fini(&m);
    return rc;
}
