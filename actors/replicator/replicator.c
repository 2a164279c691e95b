/*  replicator - the replicator's core (see replicator.h). */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replicator.h"
#include "tf_log.h"
#include "tf_replica.h"
#include "tf_target.h"
#include "tf_units.h"

/* Item ids and target paths: ids and names are at most TF_MSG_MAX_ID each. */
#define S_ID_MAX 512
#define S_PATH_MAX 1024
#define S_TARGET_ID_MAX 80   /* a sentinel's target id (tf_replica_connect) */
/* Progress is reported at most once per this many bytes (and at the end). */
#define S_PROGRESS_EVERY (16u << 20)

struct _replicator_t {
    tf_config_t *cfg;
    replicator_ops_t ops;
    void *arg;
    size_t chunk;              /* replicator/chunk: read-back piece */
    uint64_t max_attempts;     /* broker/max_attempts: the last delivery of an item */
    /* Something failed in this item or sweep: retention deletes nothing (rclone's rule). */
    bool run_failed;
};

replicator_t *
replicator_new(tf_config_t *cfg, const replicator_ops_t *ops, void *arg, tf_err_t *err)
{
    if (!cfg || !ops || !ops->fetch_open || !ops->fetch_next || !ops->fetch_close || !ops->catalog
        || !ops->release || !ops->now_ms) {
        tf_err_set(err, TF_ERR_INVALID, "replicator_new: the configuration and every required op are needed");
        return NULL;
    }
    replicator_t *self = calloc(1, sizeof *self);
    if (!self) {
        tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    self->cfg = cfg;
    self->ops = *ops;
    self->arg = arg;
    int64_t chunk = tf_config_size(cfg, "replicator/chunk");
    self->chunk = chunk > 0 ? (size_t) chunk : (4u << 20);
    int64_t attempts = tf_config_int(cfg, "broker/max_attempts");
    self->max_attempts = attempts > 0 ? (uint64_t) attempts : 1;
    return self;
}

void
replicator_destroy(replicator_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

/* --- catalog and stager ---------------------------------------------------------------- */

static int64_t
s_now(replicator_t *self)
{
    return self->ops.now_ms(self->arg);
}

static bool
s_interrupted(replicator_t *self)
{
    return self->ops.interrupted && self->ops.interrupted(self->arg);
}

/* A catalog item whose answer must be a cat_reply. */
static int
s_catalog(replicator_t *self, const char *item_id, const char *job_id, const tf_msg_t *payload,
          tf_msg_t *result, tf_err_t *err)
{
    memset(result, 0, sizeof *result);
    int rc = self->ops.catalog(self->arg, item_id, job_id, payload, result, err);
    if (rc != TF_OK)
        return rc;
    if (result->type != TF_MSG_CAT_REPLY) {
        rc = tf_err_set(err, TF_ERR_PROTO, "the catalog answered %s with %s instead of cat_reply",
                        tf_msg_type_name(payload->type), tf_msg_type_name(result->type));
        tf_msg_clear(result);
    }
    return rc;
}

/* Records a cat_replica op; *result (may be NULL) gets the reply, cleared by the caller. */
static int
s_record(replicator_t *self, const char *item_id, const tf_msg_cat_replica_t *req, tf_msg_t *result,
         tf_err_t *err)
{
    tf_msg_t payload = {.type = TF_MSG_CAT_REPLICA};
    payload.cat_replica = *req;
    tf_msg_t reply;
    int rc = s_catalog(self, item_id, req->job_id, &payload, &reply, err);
    if (rc != TF_OK)
        return tf_err_prefix(err, "the catalog did not record %s of job %s on replica target %s: ", req->op,
                             req->job_id, req->target);
    if (result)
        *result = reply;
    else
        tf_msg_clear(&reply);
    return TF_OK;
}

/* Query replica: the job's row on target with every copy and the job's facts. */
static int
s_query_replica(replicator_t *self, const char *job_id, const char *target, tf_msg_t *result, tf_err_t *err)
{
    tf_msg_t payload = {.type = TF_MSG_CAT_QUERY};
    payload.cat_query = (tf_msg_cat_query_t){.query = "replica", .job_id = (char *) job_id,
                                             .pattern = (char *) target};
    int rc = s_catalog(self, NULL, job_id, &payload, result, err);
    if (rc != TF_OK)
        return tf_err_prefix(err, "cannot ask the catalog about job %s on replica target %s: ", job_id, target);
    if (result->cat_reply.replicas_count == 0) {
        tf_msg_clear(result);
        return tf_err_set(err, TF_ERR_NOTFOUND, "the catalog has no replica of job %s on target %s", job_id, target);
    }
    return TF_OK;
}

/* Query replicas of one job: its rows on every target (TF_ERR_NOTFOUND: job unknown). */
static int
s_query_replicas(replicator_t *self, const char *job_id, tf_msg_t *result, tf_err_t *err)
{
    tf_msg_t payload = {.type = TF_MSG_CAT_QUERY};
    payload.cat_query = (tf_msg_cat_query_t){.query = "replicas", .job_id = (char *) job_id};
    return s_catalog(self, NULL, job_id, &payload, result, err);
}

static int
s_release(replicator_t *self, const tf_msg_replica_copy_t *copy, bool gave_up, tf_err_t *err)
{
    char id[S_ID_MAX];
    snprintf(id, sizeof id, "%s-release-%s", copy->archive_id, copy->target);
    tf_msg_archive_release_t release = {.archive_id = copy->archive_id, .replica = copy->target,
                                        .gave_up = gave_up};
    int rc = self->ops.release(self->arg, id, copy->job_id, &release, err);
    if (rc != TF_OK)
        return tf_err_prefix(err, "cannot tell the stager that archive %s %s replica target %s: ",
                             copy->archive_id, gave_up ? "no longer waits for" : "is on", copy->target);
    return TF_OK;
}

/* --- files on the target --------------------------------------------------------------- */

/* Whether path on the target has size bytes with checksum (read back). A missing file is not
   an error: *ok false. */
static int
s_file_matches(replicator_t *self, tf_target_t *target, const char *path, uint64_t size, const char *checksum,
               bool *ok, tf_err_t *err)
{
    *ok = false;
    tf_target_entry_t entry;
    int rc = tf_target_stat(target, path, &entry, err);
    if (rc == TF_ERR_NOTFOUND) {
        tf_err_clear(err);
        return TF_OK;
    }
    if (rc != TF_OK)
        return rc;
    if (entry.is_dir || entry.size != size)
        return TF_OK;
    char sum[80];
    uint64_t bytes = 0;
    rc = tf_replica_checksum(target, path, self->chunk, sum, sizeof sum, &bytes, err);
    if (rc != TF_OK)
        return rc;
    *ok = bytes == size && checksum && strcmp(sum, checksum) == 0;
    return TF_OK;
}

/* Whether both files of the archive are in dir, whole and verified. */
static int
s_archive_in(replicator_t *self, tf_target_t *target, const char *dir, const tf_msg_replica_copy_t *copy,
             bool *ok, tf_err_t *err)
{
    char path[S_PATH_MAX];
    tf_replica_data_path(dir, copy->archive_id, path, sizeof path);
    int rc = s_file_matches(self, target, path, copy->size, copy->checksum, ok, err);
    if (rc != TF_OK || !*ok || copy->rows_size == 0)
        return rc;
    tf_replica_rows_path(dir, copy->archive_id, path, sizeof path);
    return s_file_matches(self, target, path, copy->rows_size, copy->rows_checksum, ok, err);
}

/* A redelivery: the archive is committed on the target already (the job's manifest lists it
   with the same checksum) or its verified copy waits in .partial (or in a job folder a crash
   left without its manifest). */
static int
s_already_there(replicator_t *self, tf_target_t *target, const tf_msg_replica_copy_t *copy, bool *there,
                tf_err_t *err)
{
    *there = false;
    tf_replica_manifest_t m;
    memset(&m, 0, sizeof m);
    int rc = tf_replica_manifest_read(target, copy->job_id, &m, err);
    if (rc == TF_OK) {
        for (size_t i = 0; i < m.archives_count && !*there; i++)
            *there = m.archives[i].archive_id && strcmp(m.archives[i].archive_id, copy->archive_id) == 0
                     && m.archives[i].checksum && copy->checksum
                     && strcmp(m.archives[i].checksum, copy->checksum) == 0;
        tf_replica_manifest_clear(&m);
        if (!*there)
            return tf_err_set(err, TF_ERR_STATE, "job %s is committed on replica target %s without archive %s: "
                              "its folder was written by another run; remove the folder %s on the target "
                              "(or run tapeflow replica verify %s %s) and the job is copied again",
                              copy->job_id, copy->target, copy->archive_id, copy->job_id, copy->target,
                              copy->job_id);
        return TF_OK;
    }
    if (rc != TF_ERR_NOTFOUND)
        return tf_err_prefix(err, "job %s on replica target %s: ", copy->job_id, copy->target);
    tf_err_clear(err);
    char dir[S_PATH_MAX];
    tf_replica_job_dir(copy->job_id, dir, sizeof dir);
    tf_target_entry_t entry;
    rc = tf_target_stat(target, dir, &entry, err);
    if (rc == TF_OK && entry.is_dir) {
        rc = s_archive_in(self, target, dir, copy, there, err);
        if (rc != TF_OK || *there)
            return rc;
    } else if (rc != TF_OK && rc != TF_ERR_NOTFOUND)
        return rc;
    tf_err_clear(err);
    tf_replica_partial_dir(copy->job_id, dir, sizeof dir);
    return s_archive_in(self, target, dir, copy, there, err);
}

typedef struct {
    const tf_msg_work_t *work;
    uint64_t done;
    uint64_t total;
    uint64_t reported;
    char message[TF_MSG_MAX_PATH + TF_MSG_MAX_ID + 64];
} s_progress_t;

static void
s_progress(replicator_t *self, s_progress_t *p, bool last)
{
    if (!self->ops.progress || !p->work)
        return;
    if (!last && p->done - p->reported < S_PROGRESS_EVERY)
        return;
    self->ops.progress(self->arg, p->work, p->done, p->total, p->message);
    p->reported = p->done;
}

/* Fetches one file of the archive from the stager into path on the target: written, synced,
   closed (a failing close is an error: NFS and SMB report deferred write errors there). */
static int
s_write_file(replicator_t *self, tf_target_t *target, const tf_msg_replica_copy_t *copy, bool rows,
             const char *path, uint64_t size, s_progress_t *progress, tf_err_t *err)
{
    void *reader = NULL;
    int rc = self->ops.fetch_open(self->arg, copy, rows, &reader, err);
    if (rc != TF_OK)
        return tf_err_prefix(err, "cannot fetch %s of archive %s from the stager: ", rows ? "the file rows" : "the data",
                             copy->archive_id);
    tf_target_file_t *file = NULL;
    rc = tf_target_create(target, path, &file, err);
    uint64_t written = 0;
    while (rc == TF_OK) {
        const void *data;
        size_t len = 0;
        rc = self->ops.fetch_next(self->arg, reader, &data, &len, err);
        if (rc != TF_OK) {
            tf_err_prefix(err, "fetching archive %s from the stager: ", copy->archive_id);
            break;
        }
        if (len == 0)
            break;
        if (written + len > size) {
            rc = tf_err_set(err, TF_ERR_PROTO, "the stager sent more than the %" PRIu64 " bytes of %s of archive %s",
                            size, rows ? "the file rows" : "the data", copy->archive_id);
            break;
        }
        rc = tf_target_write(file, data, len, err);
        if (rc != TF_OK)
            break;
        written += len;
        progress->done += len;
        s_progress(self, progress, false);
        if (s_interrupted(self))
            rc = tf_err_set(err, TF_ERR_INTERRUPTED, "stopped while copying archive %s to replica target %s",
                            copy->archive_id, copy->target);
    }
    if (rc == TF_OK && written != size)
        rc = tf_err_set(err, TF_ERR_IO, "the stager sent %" PRIu64 " of the %" PRIu64 " bytes of %s of archive %s",
                        written, size, rows ? "the file rows" : "the data", copy->archive_id);
    if (rc == TF_OK)
        rc = tf_target_sync(file, err);
    if (file) {
        tf_err_t cerr = {0};
        int crc = tf_target_close(&file, &cerr);
        if (rc == TF_OK && crc != TF_OK) {
            rc = crc;
            *err = cerr;
        }
    }
    self->ops.fetch_close(self->arg, &reader);
    return rc;
}

/* Reads path back and compares it with the item's size and checksum; a file that differs is
   removed (it is written again at the next delivery). */
static int
s_check_copy(replicator_t *self, tf_target_t *target, const tf_msg_replica_copy_t *copy, const char *path,
             uint64_t size, const char *checksum, tf_err_t *err)
{
    char sum[80];
    uint64_t bytes = 0;
    int rc = tf_replica_checksum(target, path, self->chunk, sum, sizeof sum, &bytes, err);
    if (rc != TF_OK)
        return tf_err_prefix(err, "cannot read back %s on replica target %s: ", path, copy->target);
    if (bytes == size && checksum && strcmp(sum, checksum) == 0)
        return TF_OK;
    tf_err_t rerr = {0};
    if (tf_target_remove(target, path, &rerr) != TF_OK)
        tf_log_warn("could not remove the bad copy %s on replica target %s: %s", path, copy->target, rerr.message);
    return tf_err_set(err, TF_ERR_IO, "%s on replica target %s reads back as %s (%" PRIu64 " bytes), expected %s "
                      "(%" PRIu64 " bytes): the target does not keep what was written (check its disk or "
                      "share); the copy was removed and is tried again",
                      path, copy->target, sum, bytes, checksum ? checksum : "?", size);
}

/* Free space on the target for the archive's two files plus min_free. A server that reports
   no space (total 0, or the call unsupported) is not checked. */
static int
s_check_space(tf_target_t *target, const tf_replica_conf_t *conf, const tf_msg_replica_copy_t *copy, tf_err_t *err)
{
    uint64_t free_bytes = 0, total_bytes = 0;
    tf_err_t serr = {0};
    if (tf_target_space(target, &free_bytes, &total_bytes, &serr) != TF_OK || total_bytes == 0) {
        tf_log_debug("replica target %s reports no free space (%s): not checked", conf->name,
                     serr.message[0] ? serr.message : "total 0");
        return TF_OK;
    }
    uint64_t need = copy->size + copy->rows_size;
    if (free_bytes >= need + conf->min_free)
        return TF_OK;
    char f[32], n[32], m[32];
    const char *pool = copy->pool && *copy->pool ? copy->pool : "POOL";
    return tf_err_set(err, TF_ERR_IO, "replica target %s is full: %s free, the archive needs %s (+ min_free %s): "
                      "free space on the share or lower pools/%s/replica_keep_last|replica_keep_days",
                      conf->name, tf_units_bytes(free_bytes, f, sizeof f), tf_units_bytes(need, n, sizeof n),
                      tf_units_bytes(conf->min_free, m, sizeof m), pool);
}

/* Copies the archive and its sidecar into .partial/<job>/ and checks them. */
static int
s_copy_files(replicator_t *self, const tf_msg_work_t *work, tf_target_t *target, const tf_replica_conf_t *conf,
             const tf_msg_replica_copy_t *copy, tf_err_t *err)
{
    int rc = s_check_space(target, conf, copy, err);
    if (rc != TF_OK)
        return rc;
    char dir[S_PATH_MAX], data[S_PATH_MAX], rows[S_PATH_MAX];
    tf_replica_partial_dir(copy->job_id, dir, sizeof dir);
    tf_replica_data_path(dir, copy->archive_id, data, sizeof data);
    tf_replica_rows_path(dir, copy->archive_id, rows, sizeof rows);
    rc = tf_target_mkdir(target, dir, err);
    if (rc != TF_OK)
        return rc;
    s_progress_t progress = {.work = work, .total = copy->size + copy->rows_size};
    snprintf(progress.message, sizeof progress.message, "copying archive %s to %s", copy->archive_id, conf->url);
    s_progress(self, &progress, true);
    rc = s_write_file(self, target, copy, false, data, copy->size, &progress, err);
    if (rc == TF_OK && copy->rows_size > 0)
        rc = s_write_file(self, target, copy, true, rows, copy->rows_size, &progress, err);
    /* The files' names must be durable before they count: the job folder, and .partial that
       holds it (mkdir may just have made both). */
    if (rc == TF_OK)
        rc = tf_target_sync_dir(target, dir, err);
    if (rc == TF_OK)
        rc = tf_target_sync_dir(target, TF_REPLICA_PARTIAL, err);
    if (rc == TF_OK)
        rc = s_check_copy(self, target, copy, data, copy->size, copy->checksum, err);
    if (rc == TF_OK && copy->rows_size > 0)
        rc = s_check_copy(self, target, copy, rows, copy->rows_size, copy->rows_checksum, err);
    if (rc != TF_OK)
        return rc;
    s_progress(self, &progress, true);
    char size[32];
    tf_log_info("archive %s of job %s copied to %s (%s, verified)", copy->archive_id, copy->job_id, conf->url,
                tf_units_bytes(copy->size + copy->rows_size, size, sizeof size));
    return TF_OK;
}

/* --- commit and retention -------------------------------------------------------------- */

/* Every copy of row is in dir with its size. */
static int
s_copies_in(tf_target_t *target, const tf_replica_conf_t *conf, const tf_msg_replica_row_t *row, const char *dir,
            tf_err_t *err)
{
    for (size_t i = 0; i < row->copies_count; i++) {
        const tf_msg_replica_archive_t *a = &row->copies[i];
        for (int rows = 0; rows < 2; rows++) {
            if (rows && a->rows_size == 0)
                continue;
            char path[S_PATH_MAX];
            if (rows)
                tf_replica_rows_path(dir, a->archive_id, path, sizeof path);
            else
                tf_replica_data_path(dir, a->archive_id, path, sizeof path);
            uint64_t want = rows ? a->rows_size : a->size;
            tf_target_entry_t entry;
            int rc = tf_target_stat(target, path, &entry, err);
            /* The catalog recorded the copy, so the stager may have released the archive's holding
               copy already: a retry cannot be promised to find it. */
            if (rc == TF_ERR_NOTFOUND)
                return tf_err_set(err, TF_ERR_STATE, "job %s cannot be committed on replica target %s: %s is "
                                  "missing although the catalog recorded archive %s as copied; the archive's "
                                  "holding copy may be released already, so back the job up again (or restore "
                                  "it from tape) to replicate it",
                                  row->job_id, conf->name, path, a->archive_id);
            if (rc != TF_OK)
                return rc;
            if (entry.size != want)
                return tf_err_set(err, TF_ERR_STATE, "job %s cannot be committed on replica target %s: %s has %"
                                  PRIu64 " bytes, the catalog recorded %" PRIu64 "; the archive's holding copy "
                                  "may be released already, so back the job up again (or restore it from tape) "
                                  "to replicate it",
                                  row->job_id, conf->name, path, entry.size, want);
        }
    }
    return TF_OK;
}

static void s_retention(replicator_t *self, tf_target_t *target, const tf_replica_conf_t *conf, const char *pool);

/* Commits job_id on the target (DESIGN12 "Commit of job J"): idempotent at every step.
   target_id: the id its sentinel holds (from tf_replica_connect). */
static int
s_commit(replicator_t *self, tf_target_t *target, const tf_replica_conf_t *conf, const char *target_id,
         const char *job_id, tf_err_t *err)
{
    tf_msg_t reply;
    int rc = s_query_replica(self, job_id, conf->name, &reply, err);
    if (rc != TF_OK)
        return rc;
    const tf_msg_replica_row_t *row = &reply.cat_reply.replicas[0];
    char job_dir[S_PATH_MAX], partial[S_PATH_MAX];
    tf_replica_job_dir(job_id, job_dir, sizeof job_dir);
    tf_replica_partial_dir(job_id, partial, sizeof partial);
    tf_replica_manifest_t existing;
    memset(&existing, 0, sizeof existing);
    rc = tf_replica_manifest_read(target, job_id, &existing, err);
    bool committed = rc == TF_OK;
    tf_replica_manifest_clear(&existing);
    if (rc == TF_ERR_NOTFOUND) {
        tf_err_clear(err);
        rc = TF_OK;
    }
    uint64_t stored = 0;     /* for the message; tf_replica_manifest_write sums the archives itself */
    for (size_t i = 0; i < row->copies_count; i++)
        stored += row->copies[i].size;
    if (rc == TF_OK && !committed) {
        /* A <job>/ without manifest.json: a crash between the rename and the manifest. */
        tf_target_entry_t entry;
        int src = tf_target_stat(target, job_dir, &entry, err);
        bool renamed = src == TF_OK;
        if (src == TF_ERR_NOTFOUND)
            tf_err_clear(err);
        else if (src != TF_OK)
            rc = src;
        if (rc == TF_OK)
            rc = s_copies_in(target, conf, row, renamed ? job_dir : partial, err);
        /* A job that stored no archive (an incremental of an unchanged tree) is ready with none
           copied: it gets an empty folder and a manifest without archives, like any other. */
        if (rc == TF_OK && !renamed && row->copies_count == 0)
            rc = tf_target_mkdir(target, partial, err);
        if (rc == TF_OK && !renamed) {
            rc = tf_target_rename(target, partial, job_dir, err);
            if (rc == TF_OK)
                rc = tf_target_sync_dir(target, "", err);
        }
        if (rc == TF_OK) {
            tf_replica_manifest_t m = {
                .format = TF_REPLICA_FORMAT,
                .job_id = (char *) job_id,
                .target = (char *) conf->name,
                .target_id = (char *) target_id,
                .pool = row->pool,
                .level = row->level && *row->level ? row->level : (char *) "full",
                .base_job = row->base_job && *row->base_job ? row->base_job : NULL,
                .created_ms = row->created_ms,
                .committed_ms = s_now(self),
                .tool_version = (char *) TAPEFLOW_VERSION,
                .archives = row->copies,
                .archives_count = row->copies_count,
            };
            rc = tf_replica_manifest_write(target, job_dir, &m, err);
        }
        if (rc != TF_OK)
            tf_err_prefix(err, "commit of job %s on replica target %s: ", job_id, conf->name);
    }
    char message[TF_MSG_MAX_TEXT], size[32];
    snprintf(message, sizeof message, "replicated to %.3900s (%zu archive%s, %s, verified)", conf->url,
             row->copies_count, row->copies_count == 1 ? "" : "s", tf_units_bytes(stored, size, sizeof size));
    char pool[TF_MSG_MAX_ID + 1];
    snprintf(pool, sizeof pool, "%s", row->pool ? row->pool : "");
    if (rc == TF_OK) {
        int64_t now = s_now(self);
        char id[S_ID_MAX];
        snprintf(id, sizeof id, "%s-replica-%s-committed-%" PRId64, job_id, conf->name, now);
        tf_msg_cat_replica_t req = {.op = "committed", .job_id = (char *) job_id, .target = (char *) conf->name,
                                    .url = (char *) conf->url, .required = row->required, .message = message,
                                    .time_ms = now};
        rc = s_record(self, id, &req, NULL, err);
    }
    tf_msg_clear(&reply);
    if (rc != TF_OK)
        return rc;
    tf_log_info("job %s %s%s", job_id, message, committed ? " (it was committed there already)" : "");
    if (pool[0])
        s_retention(self, target, conf, pool);
    return TF_OK;
}

/* Only copy and within retention, from the catalog's rows of the job. */
static int
s_keep_facts(replicator_t *self, const tf_replica_conf_t *conf, const tf_replica_entry_t *e, int64_t retention_ms,
             int64_t now, tf_replica_keep_t *keep, tf_err_t *err)
{
    tf_msg_t reply;
    int rc = s_query_replicas(self, e->job_id, &reply, err);
    keep->only_copy = true;
    if (rc == TF_ERR_NOTFOUND) {
        tf_err_clear(err);   /* unknown to the catalog: this may well be the only copy */
    } else if (rc != TF_OK) {
        return tf_err_prefix(err, "cannot ask the catalog where else job %s is: ", e->job_id);
    } else {
        for (size_t i = 0; i < reply.cat_reply.replicas_count; i++) {
            const tf_msg_replica_row_t *r = &reply.cat_reply.replicas[i];
            if (r->target && strcmp(r->target, conf->name) != 0 && r->state && strcmp(r->state, "verified") == 0)
                keep->only_copy = false;
        }
        tf_msg_clear(&reply);
    }
    keep->within_retention = retention_ms == TF_CONFIG_RETENTION_NEVER
                             || e->manifest.created_ms + retention_ms > now;
    return TF_OK;
}

/* Removes one job from the target. The catalog records it first: until it has, the job is
   still counted as a replica (a restore may pick it, retention elsewhere may rely on it), so
   its files must stay; a crash after the record leaves a folder the start's leftover cleanup
   removes. Then the manifest (the folder stops being a replica at once), then the folder. */
static int
s_delete_job(replicator_t *self, tf_target_t *target, const tf_replica_conf_t *conf, const char *job_id,
             const char *why, tf_err_t *err)
{
    int64_t now = s_now(self);
    char id[S_ID_MAX];
    snprintf(id, sizeof id, "%s-replica-%s-deleted-%" PRId64, job_id, conf->name, now);
    /* The catalog words it: "deleted from URL by retention (<message>)". */
    tf_msg_cat_replica_t req = {.op = "deleted", .job_id = (char *) job_id, .target = (char *) conf->name,
                                .url = (char *) conf->url, .message = (char *) why, .time_ms = now};
    int rc = s_record(self, id, &req, NULL, err);
    if (rc != TF_OK)
        return tf_err_prefix(err, "retention kept job %s on replica target %s: ", job_id, conf->name);
    char dir[S_PATH_MAX], manifest[S_PATH_MAX + sizeof TF_REPLICA_MANIFEST + 1];
    tf_replica_job_dir(job_id, dir, sizeof dir);
    snprintf(manifest, sizeof manifest, "%s/%s", dir, TF_REPLICA_MANIFEST);
    rc = tf_target_remove(target, manifest, err);
    if (rc == TF_OK)
        rc = tf_target_sync_dir(target, dir, err);
    if (rc == TF_OK)
        rc = tf_target_remove_tree(target, dir, err);
    if (rc != TF_OK)
        return tf_err_prefix(err, "retention could not delete job %s from replica target %s (the catalog records "
                             "it as deleted; the replicator's next start removes what is left): ", job_id,
                             conf->name);
    tf_log_info("job %s deleted from %s by retention (%s)", job_id, conf->url, why);
    return TF_OK;
}

/* The pool's retention on the target (pools/POOL/replica_keep_last|replica_keep_days). Never
   after an error in this run, and never on facts it could not get. */
static void
s_retention(replicator_t *self, tf_target_t *target, const tf_replica_conf_t *conf, const char *pool)
{
    char key[TF_MSG_MAX_ID + 64];
    snprintf(key, sizeof key, "pools/%s/replica_keep_last", pool);
    int64_t keep_last = tf_config_int(self->cfg, key);
    snprintf(key, sizeof key, "pools/%s/replica_keep_days", pool);
    int64_t keep_days = tf_config_int(self->cfg, key);
    if (keep_last <= 0 && keep_days <= 0)
        return;
    if (self->run_failed) {
        tf_log_info("retention on target %s skipped: an error happened in this run (rclone-style: nothing is "
                    "deleted after an error)", conf->name);
        return;
    }
    tf_err_t err = {0};
    int64_t retention_ms = 0;
    tf_replica_entry_t *entries = NULL;
    size_t count = 0;
    int rc = tf_config_pool_retention(self->cfg, pool, &retention_ms, &err);
    if (rc == TF_OK)
        rc = tf_replica_list(target, &entries, &count, &err);
    tf_replica_keep_t *keep = rc == TF_OK && count > 0 ? calloc(count, sizeof *keep) : NULL;
    const tf_replica_entry_t **from = rc == TF_OK && count > 0 ? calloc(count, sizeof *from) : NULL;
    if (rc == TF_OK && count > 0 && (!keep || !from))
        rc = tf_err_set(&err, TF_ERR_NOMEM, "out of memory");
    size_t n = 0;
    int64_t now = s_now(self);
    for (size_t i = 0; rc == TF_OK && i < count; i++) {
        const tf_replica_entry_t *e = &entries[i];
        if (!e->committed || !e->manifest_ok || !e->manifest.pool || strcmp(e->manifest.pool, pool) != 0)
            continue;
        keep[n] = (tf_replica_keep_t){.job_id = e->job_id, .base_job = e->manifest.base_job,
                                      .created_ms = e->manifest.created_ms};
        from[n++] = e;
    }
    /* The limits alone keep most jobs: the catalog is asked (only_copy, within_retention) only
       about those they would delete, then the rule runs again with those facts. */
    if (rc == TF_OK)
        tf_replica_retention(keep, n, (uint64_t) keep_last, (uint64_t) keep_days, now);
    bool asked = false;
    for (size_t i = 0; rc == TF_OK && i < n; i++) {
        if (keep[i].keep_reason)
            continue;
        rc = s_keep_facts(self, conf, from[i], retention_ms, now, &keep[i], &err);
        asked = true;
    }
    if (rc == TF_OK && asked)
        tf_replica_retention(keep, n, (uint64_t) keep_last, (uint64_t) keep_days, now);
    char why[96];
    snprintf(why, sizeof why, "keep_last %" PRId64 " / keep_days %" PRId64, keep_last, keep_days);
    for (size_t i = 0; rc == TF_OK && i < n; i++) {
        if (keep[i].keep_reason)
            continue;
        rc = s_delete_job(self, target, conf, keep[i].job_id, why, &err);
    }
    if (rc != TF_OK) {
        self->run_failed = true;
        tf_log_error("retention on target %s stopped: %s", conf->name, err.message);
    }
    free(keep);
    free(from);
    tf_replica_list_free(&entries, count);
}

/* --- the item -------------------------------------------------------------------------- */

/* Records cat_replica failed "replication to URL failed: WHY" for job_id on target (*message
   gets the text). A failure to record is logged and returned in rerr. */
static int
s_record_failed(replicator_t *self, const char *job_id, const char *target, const char *url, bool required,
                bool final, const char *why, char *message, size_t size, tf_err_t *rerr)
{
    snprintf(message, size, "replication to %s failed: %s", url, why);
    int64_t now = s_now(self);
    char id[S_ID_MAX];
    snprintf(id, sizeof id, "%s-replica-%s-failed-%" PRId64, job_id, target, now);
    tf_msg_cat_replica_t req = {.op = "failed", .job_id = (char *) job_id, .target = (char *) target,
                                .url = (char *) url, .required = required, .message = message, .final = final,
                                .time_ms = now};
    int rc = s_record(self, id, &req, NULL, rerr);
    if (rc != TF_OK)
        tf_log_warn("%s", rerr->message);
    return rc;
}

/* A failed attempt: recorded as failed (final for an optional target's last attempt, which
   then gives up: release with gave_up, item done). Returns the item's status. */
static int
s_failed(replicator_t *self, const tf_msg_work_t *work, const tf_msg_replica_copy_t *copy, const char *url,
         int status, tf_err_t *err)
{
    bool give_up = !copy->required && work && work->attempt >= self->max_attempts;
    char message[TF_MSG_MAX_TEXT];
    tf_err_t rerr = {0};
    int rrc = s_record_failed(self, copy->job_id, copy->target, url, copy->required, give_up, err->message,
                              message, sizeof message, &rerr);
    if (!give_up) {
        tf_log_warn("archive %s of job %s: %s (attempt %" PRIu64 " of %" PRIu64 ")", copy->archive_id, copy->job_id,
                    message, work ? work->attempt : 0, self->max_attempts);
        return status;
    }
    tf_log_warn("archive %s of job %s: %s; replication is optional for pool %s: given up after %" PRIu64
                " attempts, the job ends completed_with_warnings", copy->archive_id, copy->job_id, message,
                copy->pool ? copy->pool : "?", work->attempt);
    if (rrc != TF_OK) {
        *err = rerr;
        return rrc;
    }
    int rc = s_release(self, copy, true, err);
    if (rc == TF_OK)
        tf_err_clear(err);
    return rc;
}

static int
s_item_check(const tf_msg_replica_copy_t *copy, tf_err_t *err)
{
    if (!copy->archive_id || !*copy->archive_id || !copy->job_id || !*copy->job_id || !copy->target
        || !*copy->target || !copy->checksum || !*copy->checksum || !copy->compression || !*copy->compression)
        return tf_err_set(err, TF_ERR_PROTO, "replica_copy without archive_id, job_id, target, checksum or "
                          "compression (the manifest needs them)");
    if (copy->rows_size > 0 && (!copy->rows_checksum || !*copy->rows_checksum))
        return tf_err_set(err, TF_ERR_PROTO, "replica_copy of archive %s has rows_size but no rows_checksum",
                          copy->archive_id);
    return TF_OK;
}

static int s_copy_item(replicator_t *self, const tf_msg_work_t *work, const tf_msg_replica_copy_t *copy,
                       tf_err_t *err);

int
replicator_copy(replicator_t *self, const tf_msg_work_t *work, const tf_msg_replica_copy_t *copy, tf_err_t *err)
{
    int rc = s_item_check(copy, err);
    if (rc != TF_OK)
        return rc;
    rc = s_copy_item(self, work, copy, err);
    /* TF_ERR_PROTO means "the payload is no good replica_copy: fail it for good". A garbled
       answer of the stager or the catalog to a good item is a failure like any other: the item
       is delivered again. */
    return rc == TF_ERR_PROTO ? TF_ERR_IO : rc;
}

static int
s_copy_item(replicator_t *self, const tf_msg_work_t *work, const tf_msg_replica_copy_t *copy, tf_err_t *err)
{
    int rc;
    self->run_failed = false;
    tf_replica_conf_t conf;
    memset(&conf, 0, sizeof conf);
    rc = tf_replica_conf(self->cfg, copy->target, &conf, err);
    if (rc != TF_OK) {
        self->run_failed = true;
        return s_failed(self, work, copy, copy->target, rc, err);
    }
    char target_id[S_TARGET_ID_MAX] = "";
    tf_target_t *target = tf_replica_connect(&conf, target_id, sizeof target_id, err);
    rc = target ? TF_OK : (err->code != TF_OK ? err->code : TF_ERR_IO);
    bool there = false;
    if (rc == TF_OK)
        rc = s_already_there(self, target, copy, &there, err);
    if (rc == TF_OK && there)
        tf_log_info("archive %s of job %s is on %s already (verified): not copied again", copy->archive_id,
                    copy->job_id, conf.url);
    else if (rc == TF_OK)
        rc = s_copy_files(self, work, target, &conf, copy, err);
    bool ready = false;
    if (rc == TF_OK) {
        char id[S_ID_MAX];
        snprintf(id, sizeof id, "%s-replica-%s-copied", copy->archive_id, copy->target);
        tf_msg_replica_archive_t archive = {
            .archive_id = copy->archive_id, .group_no = copy->group_no, .size = copy->size,
            .checksum = copy->checksum, .rows_size = copy->rows_size, .rows_checksum = copy->rows_checksum,
            .files = copy->files, .bytes = copy->bytes, .compression = copy->compression, .host = copy->host};
        tf_msg_cat_replica_t req = {.op = "copied", .job_id = copy->job_id, .target = copy->target,
                                    .url = conf.url, .required = copy->required, .copies = &archive,
                                    .copies_count = 1, .time_ms = s_now(self)};
        tf_msg_t reply;
        rc = s_record(self, id, &req, &reply, err);
        if (rc == TF_OK) {
            ready = reply.cat_reply.replicas_count > 0 && reply.cat_reply.replicas[0].ready;
            tf_msg_clear(&reply);
        }
    }
    /* A redelivery (or a job retry, whose attempts start again at 1) gets the first
       delivery's deduplicated answer, and another archive's item may have been recorded
       since: a "not ready" is asked again. */
    if (rc == TF_OK && !ready) {
        tf_msg_t reply;
        rc = s_query_replica(self, copy->job_id, copy->target, &reply, err);
        if (rc == TF_OK) {
            ready = reply.cat_reply.replicas[0].ready;
            tf_msg_clear(&reply);
        }
    }
    if (rc == TF_OK)
        rc = s_release(self, copy, false, err);
    if (rc == TF_OK && ready)
        rc = s_commit(self, target, &conf, target_id, copy->job_id, err);
    tf_target_destroy(&target);
    if (rc == TF_ERR_INTERRUPTED)
        return rc;      /* handed back, not a failure of the target */
    if (rc != TF_OK) {
        self->run_failed = true;
        return s_failed(self, work, copy, conf.url, rc, err);
    }
    return TF_OK;
}

/* --- sweep ----------------------------------------------------------------------------- */

/* Connects to the target and commits the job there (run_failed is the caller's run). */
static int
s_commit_named(replicator_t *self, const char *job_id, const char *target_name, tf_err_t *err)
{
    tf_replica_conf_t conf;
    memset(&conf, 0, sizeof conf);
    int rc = tf_replica_conf(self->cfg, target_name, &conf, err);
    if (rc != TF_OK)
        return rc;
    char target_id[S_TARGET_ID_MAX] = "";
    tf_target_t *target = tf_replica_connect(&conf, target_id, sizeof target_id, err);
    if (!target)
        return err->code != TF_OK ? err->code : TF_ERR_IO;
    rc = s_commit(self, target, &conf, target_id, job_id, err);
    tf_target_destroy(&target);
    return rc;
}

int
replicator_commit(replicator_t *self, const char *job_id, const char *target_name, tf_err_t *err)
{
    self->run_failed = false;
    return s_commit_named(self, job_id, target_name, err);
}

/* Why a leftover may go, or NULL when it stays. deleted_only: a <job>/ folder without
   manifest, which goes only when retention deleted the job there (the catalog recorded it
   before the files went); for "committed" it is a commit a crash cut short, which the sweep
   finishes. */
static const char *
s_leftover_reason(replicator_t *self, const char *target, const char *job_id, bool deleted_only, tf_err_t *err)
{
    if (deleted_only) {
        tf_msg_t reply;
        int rc = s_query_replicas(self, job_id, &reply, err);
        if (rc == TF_ERR_NOTFOUND)
            tf_err_clear(err);
        if (rc != TF_OK)
            return NULL;
        const char *why = NULL;
        for (size_t i = 0; i < reply.cat_reply.replicas_count; i++) {
            const tf_msg_replica_row_t *r = &reply.cat_reply.replicas[i];
            if (r->target && strcmp(r->target, target) == 0 && r->state && strcmp(r->state, "deleted") == 0)
                why = "the job was deleted there by retention";
        }
        tf_msg_clear(&reply);
        return why;
    }
    /* "replicas" answers NOTFOUND for a job the catalog does not know. */
    tf_msg_t reply;
    int rc = s_query_replicas(self, job_id, &reply, err);
    if (rc == TF_ERR_NOTFOUND) {
        tf_err_clear(err);
        return "the job is unknown to the catalog";
    }
    if (rc != TF_OK)
        return NULL;
    const char *why = NULL;
    for (size_t i = 0; i < reply.cat_reply.replicas_count; i++) {
        const tf_msg_replica_row_t *r = &reply.cat_reply.replicas[i];
        if (!r->target || strcmp(r->target, target) != 0 || !r->state)
            continue;
        if (strcmp(r->state, "verified") == 0)
            why = "the job is committed there";
        else if (strcmp(r->state, "deleted") == 0)
            why = "the job was deleted there by retention";
    }
    tf_msg_clear(&reply);
    return why;
}

/* <job>/ folders without manifest.json whose job retention deleted there: a deletion cut
   short after the catalog recorded it (s_delete_job). */
static void
s_deleted_leftovers(replicator_t *self, tf_target_t *target, const tf_replica_conf_t *conf)
{
    tf_err_t err = {0};
    tf_target_entry_t *entries = NULL;
    size_t count = 0;
    if (tf_target_list(target, "", &entries, &count, &err) != TF_OK) {
        tf_log_warn("cannot look for leftovers on replica target %s: %s", conf->name, err.message);
        return;
    }
    for (size_t i = 0; i < count; i++) {
        const tf_target_entry_t *e = &entries[i];
        if (!e->is_dir || e->name[0] == '.')
            continue;
        char dir[S_PATH_MAX], manifest[S_PATH_MAX + sizeof TF_REPLICA_MANIFEST + 1];
        tf_replica_job_dir(e->name, dir, sizeof dir);
        snprintf(manifest, sizeof manifest, "%s/%s", dir, TF_REPLICA_MANIFEST);
        tf_target_entry_t m;
        tf_err_clear(&err);
        int rc = tf_target_stat(target, manifest, &m, &err);
        if (rc != TF_ERR_NOTFOUND) {
            if (rc != TF_OK)
                tf_log_warn("leftover check of %s on target %s: %s", dir, conf->name, err.message);
            continue;   /* committed (or unreadable): never a leftover */
        }
        tf_err_clear(&err);
        const char *why = s_leftover_reason(self, conf->name, e->name, true, &err);
        if (!why) {
            if (err.code != TF_OK)
                tf_log_warn("leftover %s on target %s kept: %s", dir, conf->name, err.message);
            continue;
        }
        if (tf_target_remove_tree(target, dir, &err) != TF_OK)
            tf_log_warn("could not remove leftover %s on target %s: %s", dir, conf->name, err.message);
        else
            tf_log_info("removed leftover %s on target %s: %s", dir, conf->name, why);
    }
    free(entries);
}

static void
s_leftovers(replicator_t *self, tf_target_t *target, const tf_replica_conf_t *conf)
{
    tf_err_t err = {0};
    tf_target_entry_t *entries = NULL;
    size_t count = 0;
    int rc = tf_target_list(target, TF_REPLICA_PARTIAL, &entries, &count, &err);
    if (rc != TF_OK && rc != TF_ERR_NOTFOUND) {
        tf_log_warn("cannot look for leftovers on replica target %s: %s", conf->name, err.message);
        return;
    }
    int64_t now = s_now(self);
    for (size_t i = 0; i < count; i++) {
        const tf_target_entry_t *e = &entries[i];
        if (!e->is_dir || e->name[0] == '.' || now - e->mtime_ms < REPLICATOR_LEFTOVER_AGE_MS)
            continue;
        tf_err_clear(&err);
        const char *why = s_leftover_reason(self, conf->name, e->name, false, &err);
        if (!why) {
            if (err.code != TF_OK)
                tf_log_warn("leftover %s/%s on target %s kept: %s", TF_REPLICA_PARTIAL, e->name, conf->name,
                            err.message);
            continue;
        }
        char dir[S_PATH_MAX];
        tf_replica_partial_dir(e->name, dir, sizeof dir);
        if (tf_target_remove_tree(target, dir, &err) != TF_OK)
            tf_log_warn("could not remove leftover %s on target %s: %s", dir, conf->name, err.message);
        else
            tf_log_info("removed leftover %s on target %s: %s", dir, conf->name, why);
    }
    free(entries);
    s_deleted_leftovers(self, target, conf);
}

size_t
replicator_sweep(replicator_t *self, bool leftovers)
{
    self->run_failed = false;
    if (leftovers) {
        zlist_t *names = tf_config_children(self->cfg, "replicas");
        for (const char *name = names ? zlist_first(names) : NULL; name; name = zlist_next(names)) {
            tf_err_t err = {0};
            tf_replica_conf_t conf;
            memset(&conf, 0, sizeof conf);
            tf_target_t *target = tf_replica_conf(self->cfg, name, &conf, &err) == TF_OK
                                      ? tf_replica_connect(&conf, NULL, 0, &err) : NULL;
            if (!target) {
                tf_log_warn("replica target %s: %s", name, err.message);
                continue;
            }
            s_leftovers(self, target, &conf);
            tf_target_destroy(&target);
        }
        zlist_destroy(&names);
    }
    tf_msg_t payload = {.type = TF_MSG_CAT_QUERY}, reply;
    payload.cat_query = (tf_msg_cat_query_t){.query = "replica_pending"};
    tf_err_t err = {0};
    if (s_catalog(self, NULL, NULL, &payload, &reply, &err) != TF_OK) {
        tf_log_warn("cannot ask the catalog for replicas to commit (tried again at the next sweep): %s", err.message);
        return 0;
    }
    size_t committed = 0;
    for (size_t i = 0; i < reply.cat_reply.replicas_count && !s_interrupted(self); i++) {
        const tf_msg_replica_row_t *r = &reply.cat_reply.replicas[i];
        if (!r->job_id || !r->target)
            continue;
        tf_err_clear(&err);
        if (s_commit_named(self, r->job_id, r->target, &err) == TF_OK)
            committed++;
        else {
            self->run_failed = true;
            tf_log_warn("job %s: commit on replica target %s failed: %s", r->job_id, r->target, err.message);
            /* The job's replica says why (tapeflow job shows it), not only this log. */
            char message[TF_MSG_MAX_TEXT];
            tf_err_t rerr = {0};
            (void) s_record_failed(self, r->job_id, r->target, r->url && *r->url ? r->url : r->target, r->required,
                                   false, err.message, message, sizeof message, &rerr);
        }
    }
    tf_msg_clear(&reply);
    return committed;
}
