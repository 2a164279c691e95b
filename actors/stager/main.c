/*  tapeflow-stager - the holding disk process (see stager.h, docs/staging.md). */
#include "stager.h"
#include "tf_log.h"
#include "tf_main.h"

int
main(int argc, char **argv)
{
    tf_main_t m;
    int rc = tf_main_init(&m, argc, argv, "tapeflow-stager", "stager.1",
                          "Holding disk: receives archives from compressors, queues them for tape, "
                          "serves them to tape writers, deletes them when released.");
    if (rc != TF_MAIN_CONTINUE)
        return rc;
    tf_err_t err = {0};
    stager_t *stager = stager_new(m.config, &err);
    tf_actor_t *actor = stager ? tf_actor_new(m.config, "stager", m.name, &err) : NULL;
    if (!actor) {
        tf_log_error("cannot start: %s", err.message);
        stager_destroy(&stager);
        tf_main_fini(&m);
        return 1;
    }
    rc = stager_serve(stager, actor, NULL);
    tf_log_info("stager stopping");
    tf_actor_destroy(&actor);
    stager_destroy(&stager);
    tf_main_fini(&m);
    return rc == TF_OK ? 0 : 1;
}
