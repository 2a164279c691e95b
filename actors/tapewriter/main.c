/*  tapeflow-tapewriter - the tape writer actor: one process per drive (service "tape"). */
#include "tapewriter.h"
#include "tf_log.h"
#include "tf_main.h"

int
main(int argc, char **argv)
{
    tf_main_t m;
    int rc = tf_main_init(&m, argc, argv, "tapeflow-tapewriter", "tapewriter",
                          "Tape writer: writes staged archives to tape, verifies them, restores "
                          "(service 'tape'; see docs/pipeline.md and docs/tape-format.md).");
    if (rc != TF_MAIN_CONTINUE)
        return rc;
    tf_err_t err = {0};
    tapewriter_t *tw = tapewriter_new(m.config, &err);
    if (!tw) {
        tf_log_error("cannot start: %s", err.message);
        tf_main_fini(&m);
        return 1;
    }
    tf_actor_t *actor = tf_actor_new(m.config, "tape", m.name, &err);
    if (!actor) {
        tf_log_error("cannot start: %s", err.message);
        tapewriter_destroy(&tw);
        tf_main_fini(&m);
        return 1;
    }
    tf_log_info("tape writer for drive %s ready", tapewriter_drive_name(tw));
    rc = tf_actor_run(actor, tapewriter_routes, tw);
    tf_actor_destroy(&actor);
    tapewriter_destroy(&tw);
    tf_main_fini(&m);
    return rc;
}
