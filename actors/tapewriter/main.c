/*  tapeflow-tapewriter - the tape writer actor: one process per drive (service "tape"). */
#include "tapewriter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_log.h"
#include "tf_main.h"

/* tapewriter/drives: tape writer N (--name tapewriter.N, as 'tapeflow up' names it) writes to the
   N-th drive named there, so several tape writers share one configuration. */
static int
s_pick_drive(tf_main_t *m)
{
    const char *drives = tf_config_str(m->config, "tapewriter/drives");
    if (!drives || !*drives)
        return 0;
    const char *dot = m->name ? strrchr(m->name, '.') : NULL;
    long n = dot ? strtol(dot + 1, NULL, 10) : 0;
    if (n < 1) {
        tf_log_error("cannot start: tapewriter/drives is set but this tape writer's name %s ends in no "
                     "instance number (tapewriter.N)", m->name ? m->name : "?");
        return -1;
    }
    char *list = strdup(drives);
    char *save = NULL;
    long i = 0;
    const char *picked = NULL;
    for (char *d = list ? strtok_r(list, " ,\t", &save) : NULL; d; d = strtok_r(NULL, " ,\t", &save))
        if (++i == n) {
            picked = d;
            break;
        }
    int rc = 0;
    if (!picked) {
        tf_log_error("cannot start: tapewriter/drives names %ld drive%s, not one for tape writer %s", i,
                     i == 1 ? "" : "s", m->name);
        rc = -1;
    } else
        tf_config_set(m->config, "tapewriter/drive", picked);
    free(list);
    return rc;
}

int
main(int argc, char **argv)
{
    tf_main_t m;
    int rc = tf_main_init(&m, argc, argv, "tapeflow-tapewriter", "tapewriter",
                          "Tape writer: writes staged archives to tape, verifies them, restores "
                          "(service 'tape'; see docs/pipeline.md and docs/tape-format.md).");
    if (rc != TF_MAIN_CONTINUE)
        return rc;
    if (s_pick_drive(&m) != 0) {
        tf_main_fini(&m);
        return 1;
    }
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
