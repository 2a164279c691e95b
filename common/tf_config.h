/*  tf_config - tapeflow configuration: a ZPL file (czmq zconfig) over built-in defaults.

    Every key has a default, so a missing file is fine. Values may refer to ${home}, ${run} and
    ${log}; they are expanded when read. The home folder is the config's tapeflow/home, else
    $TAPEFLOW_HOME, else /var/lib/tapeflow for root and ~/.local/share/tapeflow for others.

    Example file:
        broker
            endpoint = tcp://0.0.0.0:5555
        actors
            echo
                instances = 2
*/
#ifndef TF_CONFIG_H_INCLUDED
#define TF_CONFIG_H_INCLUDED
#include <czmq.h>
#include <stdint.h>

#include "tf_err.h"

typedef struct _tf_config_t tf_config_t;

/* Defaults only. */
tf_config_t *tf_config_new(void);
/* Loads path, or $TAPEFLOW_CONFIG, or /etc/tapeflow/tapeflow.cfg when it exists; else defaults.
   An explicit path that does not exist or does not parse is an error. */
tf_config_t *tf_config_open(const char *path, tf_err_t *err);
void tf_config_destroy(tf_config_t **self_p);

/* Expanded value of "section/key", the default when unset, NULL when unknown. The string lives
   until the next tf_config_set or destroy. */
const char *tf_config_get(tf_config_t *self, const char *path);
const char *tf_config_get_or(tf_config_t *self, const char *path, const char *fallback);
/* Integer value; fallback when unset or not a number. */
int64_t tf_config_get_int(tf_config_t *self, const char *path, int64_t fallback);
/* Overrides a value in memory (command-line flags, tests). */
int tf_config_set(tf_config_t *self, const char *path, const char *value);

/* File the values came from, or NULL for defaults only. */
const char *tf_config_file(tf_config_t *self);
/* Names of the children of a section (e.g. "actors"), from defaults and file; caller destroys. */
zlist_t *tf_config_children(tf_config_t *self, const char *section);
/* Writes the effective configuration (defaults and overrides, unexpanded) as ZPL. */
int tf_config_save(tf_config_t *self, const char *path, tf_err_t *err);

#endif
