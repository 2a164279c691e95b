/*  tapeflow-compressor - a `compress` worker (see compressor.h). */
#include <locale.h>

#include "compressor.h"
#include "tf_log.h"
#include "tf_main.h"

int
main(int argc, char **argv)
{
    tf_main_t m;
    int rc = tf_main_init(&m, argc, argv, "tapeflow-compressor", "compressor.1",
                          "Compress worker: turns file groups into archives streamed to the stager.");
    if (rc != TF_MAIN_CONTINUE)
        return rc;
    /* File names are stored as UTF-8 in pax headers; names that are not valid UTF-8 are
       stored as raw bytes (hdrcharset=BINARY). */
    if (!setlocale(LC_CTYPE, "C.UTF-8"))
        setlocale(LC_CTYPE, "");
    tf_err_t err = {0};
    compressor_t *compressor = compressor_new(m.config, &err);
    tf_actor_t *actor = compressor ? tf_actor_new(m.config, "compress", m.name, &err) : NULL;
    if (!actor) {
        tf_log_error("cannot start: %s", err.message);
        compressor_destroy(&compressor);
        tf_main_fini(&m);
        return 1;
    }
    rc = tf_actor_run(actor, compressor_routes, compressor);
    tf_actor_destroy(&actor);
    compressor_destroy(&compressor);
    tf_main_fini(&m);
    return rc;
}
