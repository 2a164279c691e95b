/*  tf_hostpath - "HOST:/path" names a path on one host; a plain path is on this host.

    A text is HOST:/path only when it holds a ':' before its first '/', and then HOST must be a
    host name (letters, digits, '-', '_', '.', as tapeflow/host) and the path absolute. Anything
    else is a path on this host (tapeflow/host), returned as written: the caller decides what a
    relative path means. A local file whose name holds ':' is written ./NAME.
*/
#ifndef TF_HOSTPATH_H_INCLUDED
#define TF_HOSTPATH_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#include "tf_config.h"
#include "tf_err.h"

/* Splits text into host (tapeflow/host of cfg for a plain path) and path. TF_ERR_INVALID with
   the reason for a malformed HOST:/path, TF_ERR_TOOBIG when a part does not fit. */
int tf_hostpath_parse(tf_config_t *cfg, const char *text, char *host, size_t hostsize, char *path,
                      size_t pathsize, tf_err_t *err);

/* True when host is this configuration's own host (tapeflow/host); NULL or "" count as own. */
bool tf_hostpath_is_local(tf_config_t *cfg, const char *host);

#endif
