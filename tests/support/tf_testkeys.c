/*  tf_testkeys - see tf_testkeys.h. */
#include "tf_testkeys.h"

#include <stdio.h>

#include "tf_keys.h"

tf_config_t *
tf_testkeys_host(const char *dir, const char *host, const char *server_key, char *public_key)
{
    tf_config_t *cfg = tf_config_new();
    if (!cfg)
        return NULL;
    char keys[1200];
    snprintf(keys, sizeof keys, "%s/%s-keys", dir, host);
    tf_config_set(cfg, "keys/dir", keys);
    tf_config_set(cfg, "tapeflow/host", host);
    tf_config_set(cfg, "keys/server", server_key);
    bool created;
    char pub[41];
    tf_err_t err = {0};
    if (tf_keys_init(cfg, &created, pub, &err) != TF_OK) {
        fprintf(stderr, "tf_testkeys: keys for %s: %s\n", host, err.message);
        tf_config_destroy(&cfg);
        return NULL;
    }
    if (public_key)
        snprintf(public_key, 41, "%s", pub);
    return cfg;
}
