/*  restore_item - a tape_restore item: the glue around restore.c (see restore_item.h). */
#include "restore_item.h"

#include <stdlib.h>

#include "item.h"
#include "mount.h"
#include "restore.h"
#include "tapedrive.h"
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
    int rc = restore_run(it->rdrive, req, &opts, &st, err);
    /* A medium error counts a read error of the cartridge, whether it ended the restore or only
       failed one archive of it (the rest was still read). */
    if (it->rdrive && (rc == TF_OK ? st.medium_errors > 0
                                   : tf_drive_last_cond(it->rdrive) == TF_DRIVE_COND_MEDIUM_ERROR))
        volume_count_read_error(it, it->rdrive);
    tf_drive_destroy(&it->rdrive);
    if (rc != TF_OK)
        restore_stats_free(&st);
    if (rc == TF_ERR_INVALID)
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
