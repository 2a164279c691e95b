/*  restore_item - a tape_restore item: the glue around restore.c (see restore_item.h). */
#include "restore_item.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "item.h"
#include "mount.h"
#include "restore.h"
#include "tapedrive.h"
#include "tf_clock.h"
#include "tf_stage_client.h"
#include "tf_log.h"
#include "volume.h"

static void
s_restore_progress(void *arg, uint64_t done, uint64_t total, const char *message)
{
    item_t *it = arg;
    if (it->actor)
        tf_actor_progress(it->actor, it->work, done, total, message);
}

static bool
s_restore_interrupted(void *arg)
{
    return item_interrupted(arg);
}

/* Restore needs another volume (restore_opts_t.mount): the changer or an operator puts it in
   (mount_next); `current` is closed either way. */
static tf_drive_t *
s_restore_mount(void *arg, tf_drive_t *current, const char *volume, tf_err_t *err)
{
    item_t *it = arg;
    if (current == it->rdrive)
        it->rdrive = NULL;
    mount_want_t want = {.purpose = MOUNT_RESTORE, .volume = volume,
                         .job_id = it->restore_job ? it->restore_job : "?"};
    tf_drive_t *drive = current;
    if (mount_next(it, &drive, &want, NULL, err) != TF_OK)
        return NULL;
    it->rdrive = drive;
    return drive;
}

/* --- restore to another host --------------------------------------------------------- */

/* The restore's stream on its way to the stager, and what the extractor answered. */
typedef struct {
    item_t *it;
    const tf_msg_tape_restore_t *req;
    tf_stage_client_t *stage;
    char archive_id[TF_MSG_MAX_ID + 1];
    bool staged;               /* the stager holds the stream: release it at the end */
} s_remote_t;

static int
s_stream_write(void *arg, const void *data, size_t len, tf_err_t *err)
{
    item_t *it = arg;
    s_remote_t *rm = it->remote;
    return tf_stage_client_write(rm->stage, data, len, err);
}

/* A refusal (restore_item_handle refuses it). */
static int
s_no_agent(const char *host, tf_err_t *err)
{
    return tf_err_set(err, TF_ERR_INVALID, "no file agent on host %s to write the restore: start tapeflow up "
                      "there (up/roles agent)", host);
}

/* Submits the extract item for the restore's host (submit.host: only that host's extractor
   takes it). It belongs to no job: cancelling the backup job whose files are restored must not
   cancel the restore, and the broker's notes about a host that has no extractor belong on the
   restore, not on that job. */
static int
s_submit_extract(s_remote_t *rm, const tf_msg_extract_t *ex, const char *item_id, tf_err_t *err)
{
    tf_msg_t payload = {.type = TF_MSG_EXTRACT}, reply;
    payload.extract = *ex;
    int rc = tf_client_submit_msg_on(rm->it->tw->client, "extract", rm->req->dest_host, item_id, NULL,
                                     &payload, &reply, 10000, err);
    if (rc != TF_OK)
        return tf_err_prefix(err, "cannot hand the restore to host %s: ", rm->req->dest_host);
    tf_msg_clear(&reply);
    return TF_OK;
}

/* Waits for the extract item: done (its result into *result), failed, cancelled, or still
   queued after tapewriter/ready_timeout (no extractor of that host took it). Progress names
   the extractor that works on it. */
static int
s_wait_extract(s_remote_t *rm, const char *item_id, tf_msg_t *result, tf_err_t *err)
{
    item_t *it = rm->it;
    const char *host = rm->req->dest_host;
    int64_t queued_since = tf_clock_mono_ms();
    int64_t next_cancel_check = queued_since + 2000;
    for (;;) {
        if (item_interrupted(it))
            return tf_err_set(err, TF_ERR_INTERRUPTED, "restore stopped while host %s wrote it", host);
        if (tf_clock_mono_ms() >= next_cancel_check) {
            next_cancel_check = tf_clock_mono_ms() + 2000;
            if (item_cancelled(it))
                return tf_err_set(err, TF_ERR_INVALID, "restore of job %s cancelled while host %s wrote it",
                                  rm->req->job_id, host);
        }
        tf_msg_t info;
        tf_err_t ierr = {0};
        if (tf_client_item(it->tw->client, item_id, &info, 2000, &ierr) != TF_OK) {
            tf_clock_sleep_ms(200);
            continue;   /* the broker is restarting: it keeps the item */
        }
        const char *state = info.item_info.state ? info.item_info.state : "";
        if (strcmp(state, "done") == 0) {
            int rc = tf_msg_decode(info.item_info.result.data, info.item_info.result.size, result, err);
            tf_msg_clear(&info);
            if (rc == TF_OK && result->type != TF_MSG_EXTRACT_RESULT) {
                tf_msg_clear(result);
                rc = tf_err_set(err, TF_ERR_PROTO, "the extractor of host %s answered a %s, not an extract_result",
                                host, tf_msg_type_name(result->type));
            }
            return rc;
        }
        if (strcmp(state, "failed") == 0 || strcmp(state, "cancelled") == 0) {
            int rc = tf_err_set(err, TF_ERR_INVALID, "host %s could not write the restore: %s", host,
                                info.item_info.reason && *info.item_info.reason ? info.item_info.reason : state);
            tf_msg_clear(&info);
            return rc;
        }
        if (strcmp(state, "queued") != 0)
            queued_since = tf_clock_mono_ms();
        else if (tf_clock_mono_ms() - queued_since > it->tw->ready_timeout_ms) {
            tf_msg_clear(&info);
            return s_no_agent(host, err);
        }
        if (it->actor) {
            char text[TF_MSG_MAX_PATH + 256];
            snprintf(text, sizeof text, "host %s writes the restore into %s (extract item %s, worker %s)", host,
                     rm->req->dest, state, info.item_info.worker && *info.item_info.worker ? info.item_info.worker : "-");
            tf_actor_progress(it->actor, it->work, 0, 0, text);
        }
        tf_msg_clear(&info);
        tf_clock_sleep_ms(500);
    }
}

/* Deletes the stream from the holding disk (an archive_release item for the stager, of no job
   like the extract item). wait: until the stager did it (a stale stream in the way of this
   restore's), else only queued. */
static int
s_release(s_remote_t *rm, bool wait, tf_err_t *err)
{
    char id[TF_MSG_MAX_ID + 48];
    snprintf(id, sizeof id, "%s-release-%lld", rm->archive_id, (long long) tf_clock_wall_ms());
    tf_msg_t msg = {.type = TF_MSG_ARCHIVE_RELEASE}, reply;
    msg.archive_release = (tf_msg_archive_release_t){.archive_id = rm->archive_id};
    tf_client_t *client = rm->it->tw->client;
    int rc = wait ? tf_client_call(client, "stager", id, NULL, &msg, &reply, 30000, err)
                  : tf_client_submit_msg(client, "stager", id, NULL, &msg, &reply, 10000, err);
    if (rc == TF_OK)
        tf_msg_clear(&reply);
    return rc;
}

/* The staged stream is deleted once the extractor is done with it, whatever happened: a late
   extractor then finds nothing to write (an extract item still queued for a host whose
   extractor never came fails with "archive is not staged here" once one does). */
static void
s_release_stream(s_remote_t *rm)
{
    if (!rm->staged)
        return;
    tf_err_t err = {0};
    if (s_release(rm, false, &err) != TF_OK)
        tf_log_warn("restore stream %s stays on the holding disk: %s ('tapeflow job purge %s' deletes it)",
                    rm->archive_id, err.message, rm->req->job_id);
}

/* Opens the restore stream. One the stager holds already is a stale one of this item (the
   tape writer stopped after staging it): it is released and the stream staged again. */
static int
s_open_stream(s_remote_t *rm, tf_msg_stage_open_t *open, tf_err_t *err)
{
    bool already = false;
    int rc = tf_stage_client_open(rm->stage, open, &already, err);
    if (rc != TF_OK || !already)
        return rc;
    tf_log_info("restore stream %s: the stager holds a stale copy; releasing it and staging the stream again",
                rm->archive_id);
    rc = s_release(rm, true, err);
    if (rc != TF_OK)
        return tf_err_prefix(err, "the stager holds a stale restore stream %s that could not be released: ",
                             rm->archive_id);
    rc = tf_stage_client_open(rm->stage, open, &already, err);
    if (rc == TF_OK && already)
        rc = tf_err_set(err, TF_ERR_IO, "the stager still holds restore stream %s after its release: run the "
                        "restore again", rm->archive_id);
    return rc;
}

/* Reads the tape into the restore stream and has host dest_host write it: st gets the tape's
   counts merged with the extractor's. */
static int
s_remote_restore(item_t *it, const tf_msg_tape_restore_t *req, restore_opts_t *opts, restore_stats_t *st,
                 tf_err_t *err)
{
    int rc;
    tf_config_t *cfg = it->tw->cfg;
    s_remote_t rm = {.it = it, .req = req};
    /* One stream per restore item: its id ties the stream to the item, not only to the job. */
    const char *item_id = it->work && it->work->item_id ? it->work->item_id : req->job_id;
    snprintf(rm.archive_id, sizeof rm.archive_id, "%.64s-restore-%016llx", req->job_id,
             (unsigned long long) XXH3_64bits(item_id, strlen(item_id)));
    tf_stage_client_opts_t so = {.endpoint = tf_config_str(cfg, "stager/endpoint"),
                                 .chunk = (size_t) tf_config_size(cfg, "compressor/chunk"),
                                 .timeout_ms = it->tw->fetch.timeout_ms,
                                 .max_message = it->tw->fetch.max_message,
                                 .config = cfg};
    rm.stage = tf_stage_client_new(&so, err);
    if (!rm.stage)
        return err->code;
    it->remote = &rm;
    tf_msg_stage_open_t open = {.archive_id = rm.archive_id, .job_id = req->job_id, .compression = "zstd",
                                .pool = "", .purpose = "restore", .host = req->dest_host};
    rc = s_open_stream(&rm, &open, err);
    if (rc == TF_OK) {
        opts->stream_write = s_stream_write;
        rc = restore_run(it->rdrive, req, opts, st, err);
    }
    if (rc == TF_OK)
        rc = tf_stage_client_close(rm.stage, st->files, st->bytes, err);
    if (rc == TF_OK)
        rm.staged = true;
    else
        tf_stage_client_abort(rm.stage);
    tf_msg_extract_t ex = {.job_id = req->job_id, .archive_id = rm.archive_id,
                           .size = tf_stage_client_size(rm.stage),
                           .checksum = (char *) tf_stage_client_checksum(rm.stage), .files = st->files,
                           .host = req->dest_host, .dest = req->dest, .overwrite = req->overwrite,
                           .strip_components = req->strip_components, .flat = req->flat,
                           .host_prefixed = restore_multi_host(req), .partial = st->partial,
                           .partial_count = st->npartial};
    char ex_id[TF_MSG_MAX_ID + 16];
    snprintf(ex_id, sizeof ex_id, "%s-extract", rm.archive_id);
    tf_msg_t result = {0};
    if (rc == TF_OK)
        rc = s_submit_extract(&rm, &ex, ex_id, err);
    if (rc == TF_OK) {
        item_event(it, false, "info", "restore of job %s: %" PRIu64 " entries streamed for host %s, which writes "
                   "them into %s", req->job_id, st->files, req->dest_host, req->dest);
        rc = s_wait_extract(&rm, ex_id, &result, err);
    }
    s_release_stream(&rm);
    it->remote = NULL;
    tf_stage_client_destroy(&rm.stage);
    if (rc != TF_OK) {
        restore_stats_free(st);
        return rc;
    }
    /* The extractor's counts are the restore's; the tape's (archives, blocks, failures,
       patterns that selected nothing) are added. */
    const tf_msg_extract_result_t *er = &result.extract_result;
    st->files = er->files;
    st->bytes = er->bytes;
    st->warnings += er->warnings;
    st->refused = er->refused;
    st->kept = er->kept;
    st->collisions = er->collisions;
    st->present = er->present;
    st->stripped = er->stripped;
    st->unwritable = er->unwritable;
    char merged[TF_MSG_MAX_TEXT + sizeof st->warn_text + 4];
    snprintf(merged, sizeof merged, "%s%s%s", er->warning_text ? er->warning_text : "",
             er->warning_text && *er->warning_text && *st->warn_text ? "; " : "", st->warn_text);
    snprintf(st->warn_text, sizeof st->warn_text, "%.*s", (int) sizeof st->warn_text - 1, merged);
    restore_summary(st, req->dest, req->dest_host);
    tf_msg_clear(&result);
    return TF_OK;
}

int
restore_item_handle(item_t *it, const tf_msg_tape_restore_t *req, tf_err_t *err)
{
    it->restore_job = req->job_id && *req->job_id ? req->job_id : it->work ? it->work->job_id : NULL;
    /* Delivered again: the tape writer stopped (or was restarted) in the middle of this
       restore. Running it again would meet its own half-done work as existing files; the
       operator runs it again knowingly instead. */
    if (it->work && it->work->attempt > 1) {
        tf_err_set(err, TF_ERR_INVALID, "restore of job %s into %s: the restore was interrupted (tape writer "
                   "restarted): run the restore again", req->job_id ? req->job_id : "?", req->dest ? req->dest : "?");
        return item_refuse(it, err);
    }
    /* Another host writes the files: its file agent must be there before the tape is read. */
    const char *own = tf_config_str(it->tw->cfg, "tapeflow/host");
    bool remote = req->dest_host && *req->dest_host && strcmp(req->dest_host, own) != 0;
    if (remote) {
        bool there = false;
        int rc = tf_client_has_worker(it->tw->client, "extract", req->dest_host, it->tw->ready_timeout_ms,
                                      &there, err);
        if (rc != TF_OK)
            return tf_err_prefix(err, "cannot ask the broker for host %s's file agent: ", req->dest_host);
        if (!there) {
            s_no_agent(req->dest_host, err);
            return item_refuse(it, err);
        }
    }
    bool empty = false;
    it->rdrive = tapedrive_open(it, &empty, err);
    if (!it->rdrive && empty && it->tw->changer_url[0] && req->archives_count > 0) {
        /* An empty drive of a library: the labeller loads the first volume the restore reads
           (the archives come in tape order; a spanned one starts on its first segment's). */
        const tf_msg_archive_row_t *first = &req->archives[0];
        const char *volume = first->segments_count > 0 ? first->segments[0].volume : first->volume;
        mount_want_t want = {.purpose = MOUNT_RESTORE, .volume = volume,
                             .job_id = it->restore_job ? it->restore_job : "?"};
        if (volume && *volume && mount_next(it, &it->rdrive, &want, NULL, err) != TF_OK)
            it->rdrive = NULL;
    }
    if (!it->rdrive)
        return err->code;
    restore_opts_t opts = {.drive_name = it->tw->drive_name, .progress = s_restore_progress,
                           .interrupted = s_restore_interrupted, .arg = it,
                           .mount = mount_possible(it->tw) ? s_restore_mount : NULL};
    restore_stats_t st;
    int rc = remote ? s_remote_restore(it, req, &opts, &st, err) : restore_run(it->rdrive, req, &opts, &st, err);
    /* A medium error counts a read error of the cartridge, whether it ended the restore or only
       failed one archive of it (the rest was still read). */
    if (it->rdrive && (rc == TF_OK ? st.medium_errors > 0
                                   : tf_drive_last_cond(it->rdrive) == TF_DRIVE_COND_MEDIUM_ERROR))
        volume_count_read_error(it, it->rdrive);
    tf_drive_destroy(&it->rdrive);
    if (rc != TF_OK)
        restore_stats_free(&st);
    /* TOOBIG: the stager refused the restore stream for good (bigger than the holding disk). */
    if (rc == TF_ERR_INVALID || rc == TF_ERR_TOOBIG)
        return item_refuse(it, err);
    if (rc != TF_OK)
        return rc;
    tf_log_info("%s", st.message);
    tf_msg_archive_failure_t *failures = st.nfailures ? calloc(st.nfailures, sizeof *failures) : NULL;
    if (st.nfailures && !failures) {
        restore_stats_free(&st);
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < st.nfailures; i++)
        failures[i] = (tf_msg_archive_failure_t){st.failures[i].archive_id, st.failures[i].reason};
    tf_msg_t result = {.type = TF_MSG_RESTORE_RESULT};
    result.restore_result = (tf_msg_restore_result_t){
        .files = st.files, .bytes = st.bytes, .archives_read = st.archives_read,
        .blocks_read = st.blocks_read, .warnings = st.warnings, .message = st.message,
        .refused = st.refused, .kept = st.kept, .collisions = st.collisions, .present = st.present,
        .failures = failures, .failures_count = st.nfailures};
    rc = tf_actor_set_result_msg(it->actor, &result, err);  /* encoded even without an actor (tests) */
    free(failures);
    restore_stats_free(&st);
    return rc;
}
