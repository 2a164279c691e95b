/*  upstate - the supervisor's state file, ${run}/up.state (ZPL, written atomically).

    `tapeflow up` rewrites it after every change; `tapeflow status` and the tests read it.

        supervisor
            pid = 1234
            started_ms = 1795000000000
            started = "2026-11-21T10:50:11.123Z"
            updated_ms = 1795000000500
            state = running                      (running | stopping | stopped)
            config = "/etc/tapeflow/tapeflow.cfg" (empty: defaults)
            host = "client-b"                    (tapeflow/host)
            roles = "scanner compressor extractor" (up/roles as run: no broker, bus here)
        children
            bus
                program = "/usr/lib/tapeflow/tapeflow-bus"
                pid = 1235
                state = running                  (running | restarting | stopped)
                restarts = 0
                last_exit = ""                   ("killed by SIGKILL", "exited with code 1")
                log = "/var/lib/tapeflow/log/bus.log"
                started_ms = 1795000000100
                started = "2026-11-21T10:50:11.223Z"
*/
#ifndef UPSTATE_H_INCLUDED
#define UPSTATE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tf_err.h"

typedef struct {
    const char *name;
    const char *program;
    int64_t pid;          /* current pid, or the last one when stopped/restarting */
    const char *state;    /* running | restarting | stopped */
    int64_t restarts;
    const char *last_exit;
    const char *log;
    int64_t started_ms;   /* wall clock of the last start */
} upstate_child_t;

typedef struct _upstate_t upstate_t;

upstate_t *upstate_new(void);
void upstate_destroy(upstate_t **self_p);

/* Reads a state file; TF_ERR_NOTFOUND when there is none. */
upstate_t *upstate_load(const char *path, tf_err_t *err);
/* Writes the state file atomically (temp file + rename). */
int upstate_save(upstate_t *self, const char *path, tf_err_t *err);

int upstate_set_supervisor(upstate_t *self, int64_t pid, int64_t started_ms, const char *state,
                           const char *config);
/* This host's name and the roles the supervisor runs (space-separated). */
int upstate_set_host(upstate_t *self, const char *host, const char *roles);
const char *upstate_host(upstate_t *self);
const char *upstate_roles(upstate_t *self);
/* True when roles (as upstate_roles gives them) has the word role: "broker" says whether the
   broker runs on this host. */
bool upstate_has_role(upstate_t *self, const char *role);
int64_t upstate_supervisor_pid(upstate_t *self);
int64_t upstate_started_ms(upstate_t *self);
int64_t upstate_updated_ms(upstate_t *self);
const char *upstate_state(upstate_t *self);
const char *upstate_config(upstate_t *self);

/* Inserts or replaces (by name) a child row; strings are copied. Order of first insert is kept. */
int upstate_put(upstate_t *self, const upstate_child_t *child);
size_t upstate_size(upstate_t *self);
/* Row at index (0-based), NULL past the end; valid until the next put or destroy. */
const upstate_child_t *upstate_child(upstate_t *self, size_t index);
const upstate_child_t *upstate_lookup(upstate_t *self, const char *name);

#endif
