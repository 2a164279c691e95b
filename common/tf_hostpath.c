/*  tf_hostpath - HOST:/path parsing (see tf_hostpath.h). */
#include "tf_hostpath.h"

#include <string.h>

int
tf_hostpath_parse(tf_config_t *cfg, const char *text, char *host, size_t hostsize, char *path,
                  size_t pathsize, tf_err_t *err)
{
    if (!text || !*text)
        return tf_err_set(err, TF_ERR_INVALID, "empty path: give /path or HOST:/path");
    const char *colon = strchr(text, ':');
    const char *slash = strchr(text, '/');
    bool remote_form = colon && (!slash || colon < slash);
    const char *own = tf_config_get(cfg, "tapeflow/host");
    const char *host_text = own ? own : "";
    size_t host_len = strlen(host_text);
    const char *path_text = text;
    if (remote_form) {
        host_text = text;
        host_len = (size_t) (colon - text);
        path_text = colon + 1;
        if (host_len == 0)
            return tf_err_set(err, TF_ERR_INVALID, "'%s': no host before ':' (write HOST:/path, "
                              "or ./NAME for a local file whose name holds ':')", text);
        for (size_t i = 0; i < host_len; i++)
            if (!tf_config_name_char(text[i]))
                return tf_err_set(err, TF_ERR_INVALID, "'%s': host name '%.*s' holds '%c'; a host "
                                  "name is letters, digits, '-', '_' or '.' (write ./NAME for a "
                                  "local file whose name holds ':')", text, (int) host_len, text,
                                  text[i]);
        if (path_text[0] != '/')
            return tf_err_set(err, TF_ERR_INVALID, "'%s': a path on host %.*s must be absolute "
                              "(%.*s:/%s), or write ./NAME for a local file whose name holds ':'",
                              text, (int) host_len, text, (int) host_len, text, path_text);
    }
    if (host_len + 1 > hostsize)
        return tf_err_set(err, TF_ERR_TOOBIG, "'%s': host name longer than %zu characters", text,
                          hostsize ? hostsize - 1 : 0);
    if (strlen(path_text) + 1 > pathsize)
        return tf_err_set(err, TF_ERR_TOOBIG, "'%s': path longer than %zu characters", text,
                          pathsize ? pathsize - 1 : 0);
    memcpy(host, host_text, host_len);
    host[host_len] = '\0';
    strcpy(path, path_text);
    return TF_OK;
}

bool
tf_hostpath_is_local(tf_config_t *cfg, const char *host)
{
    if (!host || !*host)
        return true;
    const char *own = tf_config_get(cfg, "tapeflow/host");
    return own && strcmp(own, host) == 0;
}
