/*  supervisor - runs this host's part of the stack as child processes and keeps it running.

    Children, in start order, for the roles of this host (up/roles, tf_config_roles):
    tapeflow-bus ("bus") and tapeflow-broker ("broker") when the roles name them (the tape
    server; a workers-only host connects to broker/endpoint on another host), then for each
    actor role with instances > 0, tapeflow-<actor> --name <actor>.<n> ("<actor>.<n>").
    Each child gets --config FILE when a file was loaded, stdin from /dev/null and stdout+stderr
    appended to ${log}/<child>.log. A child that exits is restarted after a back-off delay that
    starts at up/restart_min, doubles per crash up to up/restart_max and is reset once a child
    ran up/stable_after ms. SIGINT/SIGTERM/SIGHUP stop the children in reverse order (actors,
    broker, bus), each tier after the previous one is gone, with SIGKILL for whatever still runs
    up/stop_timeout ms after the stop began. The state is rewritten to ${run}/up.state (see
    upstate.h) after every change; ${run}/up.pid holds the supervisor's pid while it runs.
*/
#ifndef SUPERVISOR_H_INCLUDED
#define SUPERVISOR_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>

#include "tf_config.h"
#include "tf_err.h"

typedef struct _supervisor_t supervisor_t;

/* The roles of a tf_config_roles list as one line ("broker bus catalog ...") in buf. */
const char *supervisor_roles_text(zlist_t *roles, char *buf, size_t size);

/* Plans the children from cfg and checks every program exists in bindir; starts nothing.
   config_path (absolute, may be NULL) is passed to the children as --config. With print set,
   start-up and broker-answering lines also go to stdout (foreground mode). */
supervisor_t *supervisor_new(tf_config_t *cfg, const char *bindir, const char *config_path,
                             bool print, tf_err_t *err);
/* Stops (SIGKILL) any child still running, releases the pid file if it holds it. */
void supervisor_destroy(supervisor_t **self_p);

/* Takes ${run}/up.pid (TF_ERR_BUSY when another supervisor is alive; a stale file is replaced),
   routes SIGINT/SIGTERM/SIGHUP/SIGCHLD to the reactor, starts every child and writes the state. */
int supervisor_start(supervisor_t *self, tf_err_t *err);

/* Reactor: reaps and restarts children until a stop signal, then stops them all, removes the
   pid file and returns the exit status (0 after a clean stop). */
int supervisor_run(supervisor_t *self);

#endif
