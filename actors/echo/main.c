/*  tapeflow-echo - the echo test actor process. */
#include "echo.h"
#include "tf_log.h"
#include "tf_main.h"

int
main(int argc, char **argv)
{
    tf_main_t m;
    int rc = tf_main_init(&m, argc, argv, "tapeflow-echo", "echo.1",
                          "Test actor: answers 'echo' work items (see actors/echo/echo.h).");
    if (rc != TF_MAIN_CONTINUE)
        return rc;
    echo_t echo = {.record_path = tf_config_get(m.config, "actors/echo/record")};
    tf_err_t err = {0};
    tf_actor_t *actor = tf_actor_new(m.config, "echo", m.name, &err);
    if (!actor) {
        tf_log_error("cannot start: %s", err.message);
        tf_main_fini(&m);
        return 1;
    }
    rc = tf_actor_run(actor, echo_routes, &echo);
    tf_actor_destroy(&actor);
    tf_main_fini(&m);
    return rc;
}
