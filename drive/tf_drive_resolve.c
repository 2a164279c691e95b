/*  tf_drive_resolve - operator-facing drive names to URLs. */
#include "tf_drive_resolve.h"

#include "tf_fs.h"

#include <stdio.h>
#include <string.h>

#include "tf_discover.h"

int
tf_drive_is_url(const char *text)
{
    return text && (strncmp(text, "sg:", 3) == 0 || strncmp(text, "iscsi://", 8) == 0
                    || strncmp(text, "sim:", 4) == 0);
}

static int
s_by_serial(const char *serial, const char *sysfs_root, const char *dev_root, char *url,
            size_t size, tf_err_t *err)
{
    tf_discover_t *found = tf_discover_scan(sysfs_root, dev_root, err);
    if (!found)
        return err ? err->code : TF_ERR_NOMEM;
    const tf_discover_drive_t *drive = tf_discover_by_serial(found, serial);
    int rc = TF_OK;
    if (drive)
        snprintf(url, size, "%s", drive->url);
    else
        rc = tf_err_set(err, TF_ERR_NOTFOUND,
                        "no attached tape drive has serial %s (%zu drive%s found): check that "
                        "the drive is powered and cabled, that its HBA driver is loaded, and "
                        "compare with 'tapeflow drive list'",
                        serial, tf_discover_count(found), tf_discover_count(found) == 1 ? "" : "s");
    tf_discover_destroy(&found);
    return rc;
}

int
tf_drive_resolve(tf_config_t *cfg, const char *name, const char *sysfs_root, const char *dev_root,
                 char *url, size_t size, tf_err_t *err)
{
    if (!name || !*name)
        return tf_err_set(err, TF_ERR_INVALID, "no drive given");
    if (tf_drive_is_url(name)) {
        snprintf(url, size, "%s", name);
        return TF_OK;
    }
    if (strncmp(name, "serial:", 7) == 0)
        return s_by_serial(name + 7, sysfs_root, dev_root, url, size, err);
    if (name[0] == '/') { /* a device path: accept it as sg: */
        snprintf(url, size, "sg:%s", name);
        return TF_OK;
    }
    const char *value = NULL;
    if (cfg && !strchr(name, '/')) {
        char key[300];
        snprintf(key, sizeof key, "drives/%s/url", name);
        value = tf_config_get(cfg, key);
    }
    if (!value || !*value)
        return tf_err_set(err, TF_ERR_NOTFOUND,
                          "'%s' is neither a drive URL (sg:/dev/sgN, iscsi://host/iqn/lun, "
                          "sim:PATH) nor a drive configured under drives/%s/url%s",
                          name, name,
                          cfg && tf_config_file(cfg) ? "" : " (no config file loaded)");
    if (strncmp(value, "serial:", 7) == 0) {
        int rc = s_by_serial(value + 7, sysfs_root, dev_root, url, size, err);
        if (rc != TF_OK)
            tf_err_prefix(err, "drive '%s' (configured as %s): ", name, value);
        return rc;
    }
    if (!tf_drive_is_url(value))
        return tf_err_set(err, TF_ERR_INVALID,
                          "drive '%s' is configured with url = %s, which is not a drive URL "
                          "(use sg:/dev/tape/by-id/..., serial:XYZ, iscsi://... or sim:...)",
                          name, value);
    snprintf(url, size, "%s", value);
    return TF_OK;
}

int
tf_drive_prepare_sim_folder(const char *url, tf_err_t *err)
{
    if (strncmp(url, "sim:", 4) != 0)
        return TF_OK;
    char path[4096];
    if (snprintf(path, sizeof path, "%s", url + 4) >= (int) sizeof path)
        return tf_err_set(err, TF_ERR_INVALID, "sim: image path too long");
    char *query = strchr(path, '?');
    if (query)
        *query = '\0';
    return path[0] ? tf_fs_mkdir_parent(path, err) : TF_OK;
}
