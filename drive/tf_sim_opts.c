/*  tf_sim_opts - parse the simulated drive's URL options. */
#include "tf_sim_opts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void
tf_sim_opts_defaults(tf_sim_opts_t *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->capacity = 256ull << 20;
    opts->early_warning = opts->capacity / 32;
    opts->max_block = 8u << 20;
    opts->medium_error_at = -1;
    opts->hardware_error_at = -1;
    opts->device_type = 1;
}

int
tf_sim_parse_size(const char *text, uint64_t *value)
{
    if (!text || !*text)
        return TF_ERR_INVALID;
    errno = 0;
    char *end = NULL;
    double number = strtod(text, &end);
    if (errno != 0 || end == text || number < 0)
        return TF_ERR_INVALID;
    double scale = 1;
    if (*end) {
        char unit = (char) (*end >= 'a' ? *end - 32 : *end);
        const char *rest = end + 1;
        int power = unit == 'K' ? 1 : unit == 'M' ? 2 : unit == 'G' ? 3 : unit == 'T' ? 4 : -1;
        if (power < 0)
            return TF_ERR_INVALID;
        double base = 1024;
        if (strcasecmp(rest, "B") == 0)
            base = 1000;
        else if (strcasecmp(rest, "iB") != 0 && *rest != '\0')
            return TF_ERR_INVALID;
        for (int i = 0; i < power; i++)
            scale *= base;
    }
    double result = number * scale;
    if (result > 1.8e19)
        return TF_ERR_TOOBIG;
    *value = (uint64_t) result;
    return TF_OK;
}

static int
s_parse_bool(const char *text, bool *value)
{
    if (!*text || strcmp(text, "1") == 0 || strcasecmp(text, "yes") == 0
        || strcasecmp(text, "true") == 0 || strcasecmp(text, "on") == 0)
        *value = true;
    else if (strcmp(text, "0") == 0 || strcasecmp(text, "no") == 0
             || strcasecmp(text, "false") == 0 || strcasecmp(text, "off") == 0)
        *value = false;
    else
        return TF_ERR_INVALID;
    return TF_OK;
}

static int
s_parse_seconds(const char *text, double *value)
{
    errno = 0;
    char *end = NULL;
    double v = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || v < 0 || v > 86400)
        return TF_ERR_INVALID;
    *value = v;
    return TF_OK;
}

static int
s_parse_int(const char *text, int64_t *value)
{
    errno = 0;
    char *end = NULL;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < 0)
        return TF_ERR_INVALID;
    *value = v;
    return TF_OK;
}

static int
s_apply(tf_sim_opts_t *opts, const char *key, const char *value, bool *ew_set)
{
    uint64_t size = 0;
    int64_t n = 0;
    if (strcmp(key, "capacity") == 0) {
        if (tf_sim_parse_size(value, &size) != TF_OK || size < 4096)
            return TF_ERR_INVALID;
        opts->capacity = size;
    } else if (strcmp(key, "ew") == 0 || strcmp(key, "early_warning") == 0) {
        if (tf_sim_parse_size(value, &size) != TF_OK)
            return TF_ERR_INVALID;
        opts->early_warning = size;
        *ew_set = true;
    } else if (strcmp(key, "rate") == 0) {
        if (tf_sim_parse_size(value, &size) != TF_OK)
            return TF_ERR_INVALID;
        opts->rate = size;
    } else if (strcmp(key, "maxblock") == 0) {
        if (tf_sim_parse_size(value, &size) != TF_OK || size < 1 || size > 0xFFFFFF)
            return TF_ERR_INVALID;
        opts->max_block = (uint32_t) size;
    } else if (strcmp(key, "not_ready") == 0) {
        return s_parse_seconds(value, &opts->not_ready_s);
    } else if (strcmp(key, "busy") == 0) {
        return s_parse_seconds(value, &opts->busy_s);
    } else if (strcmp(key, "no_medium") == 0) {
        return s_parse_bool(value, &opts->no_medium);
    } else if (strcmp(key, "write_protect") == 0 || strcmp(key, "wp") == 0) {
        return s_parse_bool(value, &opts->write_protect);
    } else if (strcmp(key, "ua") == 0) {
        if (strcmp(value, "medium") == 0 || strcmp(value, "1") == 0)
            opts->unit_attention = 0x28;
        else if (strcmp(value, "reset") == 0)
            opts->unit_attention = 0x29;
        else if (strcmp(value, "0") == 0 || strcmp(value, "none") == 0)
            opts->unit_attention = 0;
        else
            return TF_ERR_INVALID;
    } else if (strcmp(key, "medium_error") == 0) {
        if (s_parse_int(value, &n) != TF_OK)
            return TF_ERR_INVALID;
        opts->medium_error_at = n;
    } else if (strcmp(key, "hardware_error") == 0) {
        if (s_parse_int(value, &n) != TF_OK)
            return TF_ERR_INVALID;
        opts->hardware_error_at = n;
    } else if (strcmp(key, "hard_eom") == 0) {
        return s_parse_bool(value, &opts->hard_eom);
    } else if (strcmp(key, "quirks") == 0) {
        if (strcmp(value, "tgt") == 0)
            opts->tgt_quirks = true;
        else if (strcmp(value, "none") == 0)
            opts->tgt_quirks = false;
        else
            return TF_ERR_INVALID;
    } else if (strcmp(key, "sense") == 0) {
        if (strcmp(value, "descriptor") == 0)
            opts->descriptor_sense = true;
        else if (strcmp(value, "fixed") == 0)
            opts->descriptor_sense = false;
        else
            return TF_ERR_INVALID;
    } else if (strcmp(key, "type") == 0) {
        if (s_parse_int(value, &n) != TF_OK || n > 0x1F)
            return TF_ERR_INVALID;
        opts->device_type = (uint8_t) n;
    } else if (strcmp(key, "serial") == 0) {
        if (!*value || strlen(value) > 32)
            return TF_ERR_INVALID;
        snprintf(opts->serial, sizeof opts->serial, "%s", value);
    } else {
        return TF_ERR_NOTFOUND;
    }
    return TF_OK;
}

int
tf_sim_opts_parse(const char *query, tf_sim_opts_t *opts, tf_err_t *err)
{
    if (!query || !*query)
        return TF_OK;
    char *copy = strdup(query);
    if (!copy)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    bool ew_set = false;
    int rc = TF_OK;
    char *save = NULL;
    for (char *item = strtok_r(copy, "&", &save); item; item = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(item, '=');
        const char *value = "";
        if (eq) {
            *eq = '\0';
            value = eq + 1;
        }
        int applied = s_apply(opts, item, value, &ew_set);
        if (applied == TF_ERR_NOTFOUND) {
            rc = tf_err_set(err, TF_ERR_INVALID,
                            "unknown sim option '%s' (known: capacity, ew, rate, maxblock, "
                            "not_ready, busy, no_medium, write_protect, ua, medium_error, hardware_error, "
                            "hard_eom, quirks, sense, type, serial)",
                            item);
            break;
        }
        if (applied != TF_OK) {
            rc = tf_err_set(err, TF_ERR_INVALID, "bad value '%s' for sim option '%s'", value,
                            item);
            break;
        }
    }
    free(copy);
    if (rc == TF_OK && !ew_set)
        opts->early_warning = opts->capacity / 32;
    if (rc == TF_OK && opts->early_warning >= opts->capacity)
        rc = tf_err_set(err, TF_ERR_INVALID,
                        "sim early-warning zone (%llu bytes) must be smaller than the capacity "
                        "(%llu bytes)",
                        (unsigned long long) opts->early_warning,
                        (unsigned long long) opts->capacity);
    return rc;
}
