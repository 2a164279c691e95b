/*  tf_changer_config - which configured changer serves a drive (see tf_changer_config.h). */
#include "tf_changer_config.h"

#include <stdio.h>
#include <string.h>

#include <czmq.h>

const char *
tf_changer_drive_name(tf_config_t *cfg, const char *changer, int element)
{
    if (!cfg || !changer || !*changer || element < 0)
        return NULL;
    char key[300];
    if (snprintf(key, sizeof key, "changers/%s/drive%d", changer, element) >= (int) sizeof key)
        return NULL;
    const char *value = tf_config_get(cfg, key);
    return value && *value ? value : NULL;
}

bool
tf_changer_for_drive(tf_config_t *cfg, const char *drive, char *url, size_t url_size, int *element)
{
    return tf_changer_find_drive(cfg, drive, NULL, 0, url, url_size, element);
}

bool
tf_changer_find_drive(tf_config_t *cfg, const char *drive, char *changer, size_t changer_size, char *url,
                      size_t url_size, int *element)
{
    if (url_size)
        url[0] = '\0';
    if (changer_size)
        changer[0] = '\0';
    if (!cfg || !drive || !*drive)
        return false;
    bool found = false;
    zlist_t *names = tf_config_children(cfg, "changers");
    for (const char *name = names ? zlist_first(names) : NULL; name && !found; name = zlist_next(names)) {
        char key[300];
        if (snprintf(key, sizeof key, "changers/%s/url", name) >= (int) sizeof key)
            continue;
        const char *u = tf_config_get(cfg, key);
        if (!u || !*u)
            continue;  /* a changer without a url cannot move anything */
        for (int n = 0; n < TF_CHANGER_MAX_DRIVES && !found; n++) {
            const char *value = tf_changer_drive_name(cfg, name, n);
            if (!value || strcmp(value, drive) != 0)
                continue;
            snprintf(url, url_size, "%s", u);
            if (changer_size)
                snprintf(changer, changer_size, "%s", name);
            if (element)
                *element = n;
            found = true;
        }
    }
    zlist_destroy(&names);
    return found;
}
