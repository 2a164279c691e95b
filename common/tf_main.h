/*  tf_main - what every tapeflow program's main does first: parse the common options
    (--config FILE, --name NAME, --log-level LEVEL, --help, --version), load the configuration
    and start logging. Programs add their own options after these.
*/
#ifndef TF_MAIN_H_INCLUDED
#define TF_MAIN_H_INCLUDED

#include "tf_config.h"

typedef struct {
    tf_config_t *config;
    const char *name;      /* --name, or the program's default */
    const char *program;   /* e.g. "tapeflow-broker" */
} tf_main_t;

#define TF_MAIN_CONTINUE (-1)

/* Returns TF_MAIN_CONTINUE to go on, or an exit status (0 after --help/--version, 2 on usage errors, 1 when
   the configuration cannot be loaded) with the reason already printed. */
int tf_main_init(tf_main_t *m, int argc, char **argv, const char *program, const char *default_name,
                 const char *summary);
void tf_main_fini(tf_main_t *m);

/* Creates the folder an ipc:// endpoint lives in, and checks the path fits a socket address.
   Other transports need nothing. */
int tf_main_prepare_endpoint(const char *endpoint, tf_err_t *err);

#endif
