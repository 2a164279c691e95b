/*  tf_testkeys - a "host" of a CURVE test in one process: its own key folder under a test
    folder, its tapeflow/host, and the server's public key as keys/server. Tests over tcp
    (security, stager roles) make one per identity and trust the ones they need.
*/
#ifndef TF_TESTKEYS_H_INCLUDED
#define TF_TESTKEYS_H_INCLUDED

#include "tf_config.h"

/* A configuration for host with keys made in DIR/HOST-keys (tapeflow keys init) and
   keys/server = server_key (Z85). Its public key goes to public_key[41] when not NULL.
   NULL (with the reason printed) when the keys cannot be made. */
tf_config_t *tf_testkeys_host(const char *dir, const char *host, const char *server_key, char *public_key);

#endif
