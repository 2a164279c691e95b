/*  cli_volume - the overwrite rule's facts, shared by tape label/erase and drive test (see
    cli_volume.h). */
#include "cli_volume.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli_jobview.h"
#include "tf_clock.h"
#include "tf_log.h"
#include "tf_volume.h"

tf_client_t *
cli_volume_catalog_client(tf_config_t *cfg)
{
    tf_err_t err = {0};
    tf_client_t *client = tf_client_new(cfg, tf_config_get(cfg, "broker/endpoint"), &err);
    if (!client)
        return NULL;
    tf_msg_t reply;
    if (tf_client_status(client, &reply, 500, &err) != TF_OK) {
        tf_client_destroy(&client);
        return NULL;
    }
    tf_msg_clear(&reply);
    return client;
}

int
cli_volume_facts(tf_config_t *cfg, tf_client_t *client, tf_drive_t *drive,
                 const tf_label_info_t *info, cli_volume_t *v, tf_err_t *err)
{
    memset(v, 0, sizeof *v);
    int64_t retention = 0, floor_ms = 0, created = 0;
    if (tf_volume_retention(cfg, info->label.pool, &retention, err) != TF_OK)
        return TF_ERR_INVALID;
    if (tf_volume_parse_time(info->label.expires, &floor_ms) != TF_OK)
        floor_ms = 0;
    if (tf_volume_parse_time(info->label.created, &created) != TF_OK)
        created = 0;
    int rc = tf_volume_tape_usage(drive, &v->tape_files, &v->last_written_ms, err);
    if (rc != TF_OK)
        return rc;
    v->expires_ms = tf_volume_expiry(floor_ms, v->tape_files > 1 ? v->last_written_ms : 0, retention);
    if (!client)
        return TF_OK;
    tf_msg_cat_query_t query = {.query = "volumes", .pattern = (char *) info->label.label};
    tf_msg_t reply;
    tf_err_t qerr = {0};
    if (cli_catalog_query(client, &query, &reply, 3000, &qerr) != TF_OK) {
        tf_log_debug("no answer from the catalog about %s: %s", info->label.label, qerr.message);
        return TF_OK;
    }
    for (size_t i = 0; i < reply.cat_reply.volumes_count; i++) {
        const tf_msg_volume_row_t *row = &reply.cat_reply.volumes[i];
        if (strcmp(row->label, info->label.label) != 0)
            continue;
        v->write_errors = row->write_errors;
        v->read_errors = row->read_errors;
        v->error = row->state && strcmp(row->state, "error") == 0;
        if (row->created_ms == created) {
            v->held = row->held;
            for (size_t k = 0; k < row->orphans_count; k++) {
                size_t used = strlen(v->orphans);
                snprintf(v->orphans + used, sizeof v->orphans - used, "%s%s", used ? ", " : "",
                         row->orphans[k].path);
            }
            v->expires_ms = tf_volume_expiry_known(floor_ms, v->tape_files > 1 ? v->last_written_ms : 0,
                                                   retention, row->expires_ms);
        }
    }
    tf_msg_clear(&reply);
    return TF_OK;
}

int
cli_volume_check_overwrite(const char *label, const cli_volume_t *v, tf_err_t *err)
{
    if (v->held)
        return tf_err_set(err, TF_ERR_STATE, "tape %s is past its retention but held: job%s %s still "
                          "within retention restore%s from it (an incremental chain on its full) and "
                          "cannot be overwritten", label, strchr(v->orphans, ',') ? "s" : "",
                          v->orphans[0] ? v->orphans : "(see tapeflow tape list)",
                          strchr(v->orphans, ',') ? "" : "s");
    return tf_volume_check_overwrite(label, v->expires_ms, tf_clock_wall_ms(), err);
}

int
cli_volume_may_destroy(tf_config_t *cfg, tf_drive_t *drive, const char *destroy_volume,
                       char *detail, size_t size, tf_err_t *err)
{
    bool named = destroy_volume && *destroy_volume;
    tf_label_info_t info;
    if (tf_label_read(drive, &info, err) != TF_OK)
        return tf_err_prefix(err, "cannot tell what is on the tape, so it is not overwritten: ");
    if (info.kind != TF_LABEL_TAPEFLOW) {
        if (named)
            return tf_err_set(err, TF_ERR_STATE, "--destroy-volume %s names a tapeflow volume, but "
                              "the tape in the drive holds %s: check which tape is loaded",
                              destroy_volume, info.found);
        snprintf(detail, size, "the tape holds %s, not a tapeflow volume", info.found);
        return TF_OK;
    }
    const tf_label_t *l = &info.label;
    if (named && strcmp(destroy_volume, l->label) != 0)
        return tf_err_set(err, TF_ERR_STATE, "--destroy-volume %s does not name the tape in the "
                          "drive: it holds tapeflow volume %s (pool %s); nothing was written",
                          destroy_volume, l->label, l->pool);
    tf_client_t *client = cli_volume_catalog_client(cfg);
    cli_volume_t v;
    int rc = cli_volume_facts(cfg, client, drive, &info, &v, err);
    tf_client_destroy(&client);
    if (rc != TF_OK)
        return tf_err_prefix(err, "cannot tell whether tape %s has expired, so it is not "
                             "overwritten: ", l->label);
    uint64_t archives = v.tape_files > 1 ? v.tape_files - 1 : 0;
    tf_err_t rule = {0};
    if (cli_volume_check_overwrite(l->label, &v, &rule) == TF_OK) {
        snprintf(detail, size, "tapeflow volume %s (pool %s, %" PRIu64 " archive%s) %s: it may be "
                 "overwritten", l->label, l->pool, archives, archives == 1 ? "" : "s",
                 archives == 0 || v.expires_ms <= 0 ? "holds nothing to protect" : "has expired");
        return TF_OK;
    }
    if (named) {
        snprintf(detail, size, "tapeflow volume %s (pool %s, %" PRIu64 " archive%s) has not "
                 "expired and is destroyed as --destroy-volume %s asks: the catalog still lists "
                 "its archives, and they cannot be restored", l->label, l->pool, archives,
                 archives == 1 ? "" : "s", destroy_volume);
        return TF_OK;
    }
    return tf_err_set(err, TF_ERR_STATE, "%s; it holds %" PRIu64 " archive%s of pool %s. Load a "
                      "scratch tape, or destroy this volume and its archives on purpose with "
                      "--destroy-volume %s", rule.message, archives, archives == 1 ? "" : "s",
                      l->pool, l->label);
}
