/*  tf_secure - placeholder until the CURVE implementation lands (issue 10): ipc and inproc work,
    tcp is refused. */
#include "tf_secure.h"

#include <string.h>

struct _tf_auth_t {
    uint64_t refused;
};

bool
tf_secure_is_tcp(const char *endpoint)
{
    return endpoint && strncmp(endpoint, "tcp://", 6) == 0;
}

static int
s_no_keys(tf_err_t *err)
{
    return tf_err_set(err, TF_ERR_STATE, "tcp endpoints need CURVE keys: run tapeflow keys init");
}

int
tf_secure_connect(const tf_config_t *cfg, zsock_t *sock, const char *endpoint,
                  const char *server_key, tf_err_t *err)
{
    (void) cfg;
    (void) server_key;
    if (tf_secure_is_tcp(endpoint))
        return s_no_keys(err);
    if (zsock_connect(sock, "%s", endpoint) != 0)
        return tf_err_set(err, TF_ERR_INVALID, "cannot connect to %s: %s", endpoint,
                          zmq_strerror(zmq_errno()));
    return TF_OK;
}

int
tf_secure_public_key(const tf_config_t *cfg, char out[41], tf_err_t *err)
{
    (void) cfg;
    out[0] = '\0';
    return tf_err_set(err, TF_ERR_NOTFOUND, "no CURVE keys: run tapeflow keys init");
}

tf_auth_t *
tf_auth_new(const tf_config_t *cfg, tf_err_t *err)
{
    (void) cfg;
    (void) err;
    return calloc(1, sizeof(tf_auth_t));
}

void
tf_auth_destroy(tf_auth_t **self_p)
{
    if (self_p && *self_p) {
        free(*self_p);
        *self_p = NULL;
    }
}

int
tf_secure_bind(tf_auth_t *auth, zsock_t *sock, const char *endpoint, tf_err_t *err)
{
    (void) auth;
    if (tf_secure_is_tcp(endpoint))
        return s_no_keys(err);
    int port = zsock_bind(sock, "%s", endpoint);
    if (port < 0)
        return tf_err_set(err, TF_ERR_IO, "cannot listen on %s: %s", endpoint,
                          zmq_strerror(zmq_errno()));
    return port;
}

uint64_t
tf_auth_refused(tf_auth_t *auth)
{
    return auth ? auth->refused : 0;
}

void *
tf_auth_pollable(tf_auth_t *auth)
{
    (void) auth;
    return NULL;
}

bool
tf_auth_next_refusal(tf_auth_t *auth, char *why, size_t size)
{
    (void) auth;
    if (size)
        why[0] = '\0';
    return false;
}

const char *
tf_secure_peer_key(zframe_t *frame)
{
    (void) frame;
    return NULL;
}
