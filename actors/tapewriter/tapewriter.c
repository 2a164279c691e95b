/*  tapewriter - the tape writer's construction and dispatch: archive_ready, tape_restore and
    tape_label items (see tapewriter.h; the files and their jobs: docs/architecture.md). */
#include "tapewriter.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "item.h"
#include "label_item.h"
#include "restore_item.h"
#include "tapefile.h"
#include "tapewriter_priv.h"
#include "tf_changer.h"
#include "write_item.h"

/* Finds changers/<name>/drive<N> naming this drive (docs/changers.md). */
static void
s_find_changer(tapewriter_t *self)
{
    tf_changer_find_drive(self->cfg, self->drive_name, self->changer_name, sizeof self->changer_name,
                          self->changer_url, sizeof self->changer_url, &self->changer_drive);
}

tapewriter_t *
tapewriter_new(tf_config_t *cfg, tf_err_t *err)
{
    tapewriter_t *self = calloc(1, sizeof *self);
    if (!self) {
        tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    self->cfg = cfg;
    snprintf(self->drive_name, sizeof self->drive_name, "%s", tf_config_str(cfg, "tapewriter/drive"));
    int64_t bs = tf_config_size(cfg, "tapewriter/block_size");
    if (bs < TAPEFILE_BLOCK_MIN || bs > TAPEFILE_BLOCK_MAX) {
        tf_err_set(err, TF_ERR_INVALID,
                   "tapewriter/block_size = %" PRId64 " is out of range: use %u to %u bytes (256 KiB "
                   "to 1 MiB is usual)", bs, TAPEFILE_BLOCK_MIN, TAPEFILE_BLOCK_MAX);
        free(self);
        return NULL;
    }
    self->block_size = (uint32_t) bs;
    self->verify = tf_config_bool(cfg, "tapewriter/verify");
    self->fetch.chunk = (size_t) tf_config_size(cfg, "tapewriter/fetch_chunk");
    self->fetch.depth = (int) tf_config_int(cfg, "tapewriter/fetch_depth");
    self->fetch.timeout_ms = (int) tf_config_ms(cfg, "tapewriter/fetch_timeout");
    self->fetch.max_message = tf_config_size(cfg, "broker/max_message");
    self->fetch.cfg = cfg;
    self->ready_timeout_ms = (int) tf_config_ms(cfg, "tapewriter/ready_timeout");
    self->busy_wait_ms = (int) tf_config_ms(cfg, "tapewriter/busy_wait");
    self->catalog_timeout_ms = (int) tf_config_ms(cfg, "tapewriter/catalog_timeout");
    self->labeller_timeout_ms = (int) tf_config_ms(cfg, "tapewriter/labeller_timeout");
    s_find_changer(self);
    self->mount_wait_ms = (int) tf_config_ms(cfg, "tapewriter/mount_wait");
    self->retry_backoff_ms = tf_config_ms(cfg, "tapewriter/retry_backoff");
    self->retry_backoff_max_ms = tf_config_ms(cfg, "tapewriter/retry_backoff_max");
    self->max_attempts = tf_config_int(cfg, "broker/max_attempts");
    self->client = tf_client_new(cfg, tf_config_get(cfg, "broker/endpoint"), err);
    if (!self->client) {
        free(self);
        return NULL;
    }
    return self;
}

void
tapewriter_destroy(tapewriter_t **self_p)
{
    if (self_p && *self_p) {
        tf_client_destroy(&(*self_p)->client);
        free(*self_p);
        *self_p = NULL;
    }
}

const char *
tapewriter_drive_name(tapewriter_t *self)
{
    return self->drive_name;
}

/* --- entry ----------------------------------------------------------------------------- */

/* What the runtime is told about a failed item: refusals fail for good, other trouble may
   pass after a pause (archive items only). */
static int
s_item_status(item_t *it, bool archive, int rc, tf_err_t *err)
{
    if (rc == TF_OK || rc == TF_ERR_INTERRUPTED)
        return rc;
    /* The runtime fails INVALID/PROTO/NOTFOUND/UNSUPPORTED/TOOBIG for good: keep that for
       refusals only; any other trouble (a full tape, a drive that stopped early) may pass. */
    if (it->permanent)
        return rc == TF_ERR_PROTO ? rc : TF_ERR_INVALID;
    /* No pause when the retry goes elsewhere at once: a cancelled job, or a full tape when
       the next attempt takes another volume (a changer loads one, or mount_wait asks for one).
       After a write error the pause stays (docs/operations.md "Write errors", step 3): the
       drive may be what failed. */
    bool next_volume = it->tw->changer_url[0] || it->tw->mount_wait_ms > 0;
    bool hand_off = next_volume && it->vol.hit_end && !it->vol.write_error;
    if (archive && tapewriter_backoff_wanted(it->cancelled, hand_off))
        item_backoff(it, err->message);
    if (!tf_actor_status_retryable(rc))
        return TF_ERR_DEVICE;
    return rc;
}

static int
s_on_archive_ready(tf_actor_t *actor, const tf_msg_work_t *work, const tf_msg_t *payload, void *arg,
                   tf_err_t *err)
{
    item_t it = {.tw = arg, .actor = actor, .work = work};
    int rc = write_item_handle(&it, &payload->archive_ready, err);
    return s_item_status(&it, true, rc, err);
}

static int
s_on_tape_restore(tf_actor_t *actor, const tf_msg_work_t *work, const tf_msg_t *payload, void *arg,
                  tf_err_t *err)
{
    item_t it = {.tw = arg, .actor = actor, .work = work};
    int rc = restore_item_handle(&it, &payload->tape_restore, err);
    return s_item_status(&it, false, rc, err);
}

static int
s_on_tape_label(tf_actor_t *actor, const tf_msg_work_t *work, const tf_msg_t *payload, void *arg, tf_err_t *err)
{
    item_t it = {.tw = arg, .actor = actor, .work = work};
    int rc = label_item_handle(&it, &payload->tape_label, err);
    return s_item_status(&it, false, rc, err);
}

const tf_actor_route_t tapewriter_routes[] = {
    {TF_MSG_ARCHIVE_READY, s_on_archive_ready},
    {TF_MSG_TAPE_RESTORE, s_on_tape_restore},
    {TF_MSG_TAPE_LABEL, s_on_tape_label},
    TF_ACTOR_ROUTES_END
};
