/*  scanner - scan_job -> file groups (see scanner.h). */
#include "scanner.h"

#include <errno.h>
#include <inttypes.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_id.h"
#include "scan_grouper.h"
#include "scan_stat.h"
#include "tf_client.h"
#include "tf_clock.h"
#include "tf_log.h"
#include "tf_pipeline_ids.h"

#define S_SUBMIT_TIMEOUT 10000
#define S_CALL_TIMEOUT 10000
#define S_FIRST_WARNINGS 5

struct _scanner_t {
    scanner_opts_t opts;
    char *compression;
    char *pool;
    char *host;
    tf_client_t *client;
};

static int
s_client_submit(void *arg, const char *service, const char *item_id, const char *job_id, const tf_msg_t *payload,
                tf_err_t *err)
{
    scanner_t *self = arg;
    tf_msg_t reply;
    /* A file group is read where its files are: only a compressor of its host may take it. */
    const char *host = payload->type == TF_MSG_FILE_GROUP ? payload->file_group.host : NULL;
    int rc = tf_client_submit_msg_on(self->client, service, host, item_id, job_id, payload, &reply,
                                     S_SUBMIT_TIMEOUT, err);
    if (rc != TF_OK)
        return tf_err_prefix(err, "cannot submit %s to %s: ", item_id, service);
    tf_msg_clear(&reply);
    return TF_OK;
}

static int
s_client_call(void *arg, const char *service, const char *item_id, const char *job_id, const tf_msg_t *payload,
              tf_msg_t *result, tf_err_t *err)
{
    scanner_t *self = arg;
    return tf_client_call(self->client, service, item_id, job_id, payload, result,
                          self->opts.call_timeout_ms > 0 ? self->opts.call_timeout_ms : S_CALL_TIMEOUT, err);
}

scanner_t *
scanner_new_with(const scanner_opts_t *opts, const char *broker_endpoint, tf_err_t *err)
{
    if (opts->submit && !opts->call) {
        tf_err_set(err, TF_ERR_INVALID, "a scanner with its own submit function needs its own call function");
        return NULL;
    }
    scanner_t *self = calloc(1, sizeof *self);
    if (!self) {
        tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    self->opts = *opts;
    /* unset: the key table's defaults, as scanner_new reads them */
    self->compression = strdup(opts->compression ? opts->compression : tf_config_lookup("compressor/compression")->value);
    self->pool = strdup(opts->pool ? opts->pool : tf_config_lookup("backup/pool")->value);
    self->host = opts->host && *opts->host ? strdup(opts->host) : NULL;
    if (!self->compression || !self->pool || (opts->host && *opts->host && !self->host)) {
        tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        scanner_destroy(&self);
        return NULL;
    }
    self->opts.compression = self->compression;
    self->opts.pool = self->pool;
    self->opts.host = self->host;
    if (!self->opts.fs)
        self->opts.fs = scan_fs_posix();
    if (!self->opts.submit) {
        self->client = tf_client_new(opts->config, broker_endpoint ? broker_endpoint : "", err);
        if (!self->client) {
            scanner_destroy(&self);
            return NULL;
        }
        self->opts.submit = s_client_submit;
        self->opts.submit_arg = self;
        self->opts.call = s_client_call;
        self->opts.call_arg = self;
    }
    return self;
}

scanner_t *
scanner_new(tf_config_t *cfg, tf_err_t *err)
{
    scanner_opts_t opts = {
        .group_bytes = (uint64_t) tf_config_size(cfg, "scanner/group_size"),  /* >= 1: key table */
        .compression = tf_config_str(cfg, "compressor/compression"),
        .pool = tf_config_str(cfg, "backup/pool"),
        .host = tf_config_get(cfg, "tapeflow/host"),
        .config = cfg,
        /* the catalog's answers wait behind other items: generous, as for the CLI's queries */
        .call_timeout_ms = (int) tf_config_ms(cfg, "broker/heartbeat") * 10,
    };
    return scanner_new_with(&opts, tf_config_str(cfg, "broker/endpoint"), err);
}

void
scanner_destroy(scanner_t **self_p)
{
    if (self_p && *self_p) {
        scanner_t *self = *self_p;
        tf_client_destroy(&self->client);
        free(self->compression);
        free(self->pool);
        free(self->host);
        free(self);
        *self_p = NULL;
    }
}

/* --- one scan ---------------------------------------------------------------------- */

typedef struct {
    scanner_t *self;
    const tf_msg_scan_job_t *job;
    const char *compression;
    const char *pool;
    scan_grouper_t *grouper;
    tf_actor_t *actor;
    const tf_msg_work_t *work;
    uint64_t warnings;
    char first[TF_MSG_MAX_TEXT / 2];
    int64_t next_progress;
    /* the manifest: walked entries wait here for the catalog's diff */
    fs_ids_t *fs_ids;
    char run[17];                         /* this scan run's token: 16 hex digits */
    char id_prefix[TF_MSG_MAX_ID + 1];    /* "<job>-manifest-<host|local>-r<run>" */
    /* what the walk could not look at (folders not listed, entries not stat'ed): sent with
       end, so the catalog keeps their base entries instead of calling them deleted */
    tf_msg_warning_row_t *unread;
    size_t unread_count;
    size_t unread_text;
    bool unread_over;                     /* more than fit: the first ones are kept */
    char unread_first[TF_MSG_MAX_TEXT / 4];
    tf_msg_manifest_row_t *rows;          /* SCANNER_DIFF_BATCH of them */
    uint64_t *devs;                       /* st_dev of each row, for the grouper's hard links */
    size_t count;
    size_t text;                          /* bytes of the batch's paths */
    uint64_t seq;                         /* diff batches sent */
    uint64_t walked;
    uint64_t unchanged;
} scan_t;

static int
s_emit(void *arg, uint64_t group_no, const tf_msg_group_entry_t *entries, size_t count, uint64_t bytes, tf_err_t *err)
{
    scan_t *scan = arg;
    char archive[TF_ID_MAX];
    if (scan->job->host && *scan->job->host && group_no >= TF_ID_HOST_GROUP_STRIDE)
        return tf_err_set(err, TF_ERR_TOOBIG, "the scan of host %s in job %s needs more than %u file groups, the "
                          "most one host of a job may have: raise scanner/group_size or back the host up in "
                          "several jobs", scan->job->host, scan->job->job_id, TF_ID_HOST_GROUP_STRIDE - 1);
    group_no += scan->job->group_base;   /* this host's range of the job's groups */
    tf_id_archive(archive, sizeof archive, scan->job->job_id, group_no);
    tf_msg_t msg = {.type = TF_MSG_FILE_GROUP};
    msg.file_group = (tf_msg_file_group_t){
        .job_id = scan->job->job_id,
        .archive_id = archive,
        .host = (char *) scan->self->opts.host,
        .group_no = group_no,
        .compression = (char *) scan->compression,
        .pool = (char *) scan->pool,
        .entries = (tf_msg_group_entry_t *) entries,
        .entries_count = count,
        .replicas = scan->job->replicas,       /* the job's replication, as tf_job_start decided */
        .replication = scan->job->replication,
    };
    tf_log_debug("group %s: %zu entries, %" PRIu64 " bytes", archive, count, bytes);
    return scan->self->opts.submit(scan->self->opts.submit_arg, "compress", archive, scan->job->job_id, &msg, err);
}

static void
s_warn(void *arg, const char *path, const char *message)
{
    scan_t *scan = arg;
    scan->warnings++;
    tf_log_warn("job %s: %s: %s", scan->job->job_id, path, message);
    if (scan->warnings <= S_FIRST_WARNINGS) {
        size_t used = strlen(scan->first);
        snprintf(scan->first + used, sizeof scan->first - used, "%s%s: %s", used ? "; " : "", path, message);
    }
}

/* Remembers an entry the walk could not look at (the warning is s_warn's). */
static void
s_unread(void *arg, const char *path, const char *message)
{
    scan_t *scan = arg;
    size_t len = strlen(path);
    if (scan->unread_count >= SCANNER_UNREAD_MAX || scan->unread_text + len > SCANNER_DIFF_TEXT) {
        if (!scan->unread_over)
            snprintf(scan->unread_first, sizeof scan->unread_first, "%s: %s", path, message);
        scan->unread_over = true;
        return;
    }
    tf_msg_warning_row_t *u = &scan->unread[scan->unread_count];
    u->path = strdup(path);
    u->reason = strdup(message);
    if (!u->path || !u->reason) {   /* counted as over: the scan fails below with out of memory */
        free(u->path);
        free(u->reason);
        memset(u, 0, sizeof *u);
        scan->unread_over = true;
        return;
    }
    scan->unread_count++;
    scan->unread_text += len;
}

/* A token no other run of any job's scan has: 8 random bytes in hex. */
static int
s_run_token(char *buf, size_t size, tf_err_t *err)
{
    uint8_t bytes[8];
    if (getrandom(bytes, sizeof bytes, 0) != (ssize_t) sizeof bytes)
        return tf_err_errno(err, TF_ERR_IO, errno, "cannot make a scan run token (getrandom)");
    for (size_t i = 0; i < sizeof bytes && 2 * i + 2 < size; i++)
        snprintf(buf + 2 * i, size - 2 * i, "%02x", bytes[i]);
    return TF_OK;
}

/* Runs one cat_manifest op with the catalog. A failed item (the catalog refused: a base whose
   manifest cannot be read) fails the scan for good with the catalog's message; no answer in
   time is worth another attempt. */
static int
s_manifest_call(scan_t *scan, tf_msg_cat_manifest_t *m, const char *op_suffix, tf_msg_t *reply, tf_err_t *err)
{
    const tf_msg_scan_job_t *job = scan->job;
    m->job_id = job->job_id;
    m->host = job->host && *job->host ? job->host : NULL;
    m->run = scan->run;
    char id[TF_ID_MAX];
    if (snprintf(id, sizeof id, "%s-%s", scan->id_prefix, op_suffix) > TF_MSG_MAX_ID)
        return tf_err_set(err, TF_ERR_TOOBIG, "the manifest item id of job %s is longer than %d bytes: use a "
                          "shorter job id or host name", job->job_id, TF_MSG_MAX_ID);
    tf_msg_t payload = {.type = TF_MSG_CAT_MANIFEST};
    payload.cat_manifest = *m;
    int rc = scan->self->opts.call(scan->self->opts.call_arg, "catalog", id, job->job_id, &payload, reply, err);
    if (rc == TF_ERR_STATE) {   /* the message is the catalog's: it says what to do */
        if (err)
            err->code = TF_ERR_INVALID;
        return TF_ERR_INVALID;
    }
    if (rc != TF_OK)
        return tf_err_prefix(err, "manifest %s of job %s: ", m->op, job->job_id);
    if (reply->type != TF_MSG_CAT_MANIFEST_REPLY) {
        rc = tf_err_set(err, TF_ERR_PROTO, "the catalog answered cat_manifest %s of job %s with %s", m->op,
                        job->job_id, tf_msg_type_name(reply->type));
        tf_msg_clear(reply);
    }
    return rc;
}

/* Sends the waiting entries to the catalog and adds the ones it takes to the grouper, in walk
   order. */
static int
s_diff(scan_t *scan, tf_err_t *err)
{
    if (scan->count == 0)
        return TF_OK;
    bool *taken = calloc(scan->count, sizeof *taken);
    if (!taken)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    char op[32];
    snprintf(op, sizeof op, "diff-%" PRIu64, ++scan->seq);
    tf_msg_cat_manifest_t m = {.op = "diff", .seq = scan->seq, .rows = scan->rows, .rows_count = scan->count};
    tf_msg_t reply;
    int rc = s_manifest_call(scan, &m, op, &reply, err);
    bool answered = rc == TF_OK;   /* then the reply is ours to clear, whatever it holds */
    for (size_t i = 0; rc == TF_OK && i < reply.cat_manifest_reply.take_count; i++) {
        uint64_t index = reply.cat_manifest_reply.take[i].index;
        if (index >= scan->count)
            rc = tf_err_set(err, TF_ERR_PROTO, "the catalog took entry %" PRIu64 " of a diff batch of %zu",
                            index, scan->count);
        else
            taken[index] = true;
    }
    if (rc == TF_OK)
        scan->unchanged += reply.cat_manifest_reply.unchanged;
    if (answered)
        tf_msg_clear(&reply);
    for (size_t i = 0; rc == TF_OK && i < scan->count; i++) {
        const tf_msg_manifest_row_t *row = &scan->rows[i];
        if (taken[i])
            rc = scan_grouper_add_linked(scan->grouper, row->path, row->size, scan->devs[i], row->ino,
                                         strcmp(row->type, "dir") == 0 ? 1 : row->nlink, err);
    }
    free(taken);
    for (size_t i = 0; i < scan->count; i++)
        scan_stat_row_clear(&scan->rows[i]);
    scan->count = 0;
    scan->text = 0;
    return rc;
}

static int
s_entry(void *arg, const char *path, const struct stat *st, tf_err_t *err)
{
    scan_t *scan = arg;
    const char *fs_id = fs_ids_get(scan->fs_ids, st->st_dev, path, err);
    if (!fs_id)
        return tf_err_prefix(err, "cannot name the file system of %s: ", path);
    char *xattrs = NULL;
    const scan_fs_t *fs = scan->self->opts.fs;
    tf_err_t xerr = {0};
    if (fs->xattrs && fs->xattrs(fs->arg, path, &xattrs, &xerr) != TF_OK) {
        if (xerr.code == TF_ERR_NOMEM)
            return tf_err_set(err, TF_ERR_NOMEM, "%s", xerr.message);
        /* Compared as "no xattrs": the next backup sees them again. */
        s_warn(scan, path, xerr.message);
    }
    int rc = scan_stat_row(path, st, xattrs, fs_id, &scan->rows[scan->count], err);
    free(xattrs);
    if (rc != TF_OK)
        return rc;
    scan->devs[scan->count++] = (uint64_t) st->st_dev;
    scan->text += strlen(path);
    scan->walked++;
    if (scan->count == SCANNER_DIFF_BATCH || scan->text >= SCANNER_DIFF_TEXT)
        rc = s_diff(scan, err);
    if (rc != TF_OK)
        return rc;
    if (scan->actor && scan->work) {
        int64_t now = tf_clock_mono_ms();
        if (now >= scan->next_progress) {
            scan->next_progress = now + 500;
            char text[128];
            snprintf(text, sizeof text, "%" PRIu64 " entries scanned, %" PRIu64 " to store (%" PRIu64 " bytes)",
                     scan->walked, scan_grouper_entries(scan->grouper), scan_grouper_bytes(scan->grouper));
            tf_actor_progress(scan->actor, scan->work, scan_grouper_bytes(scan->grouper), 0, text);
        }
        if (tf_actor_interrupted(scan->actor))
            return tf_err_set(err, TF_ERR_INTERRUPTED, "stopped while scanning");
    }
    return TF_OK;
}

/* Copies path without trailing slashes into buf; checks it is absolute. */
static int
s_clean_path(const char *path, char *buf, size_t size, tf_err_t *err)
{
    if (!path || path[0] != '/')
        return tf_err_set(err, TF_ERR_INVALID, "path '%s' is not absolute", path ? path : "");
    if (snprintf(buf, size, "%s", path) >= (int) size)
        return tf_err_set(err, TF_ERR_INVALID, "path %.64s... is too long", path);
    size_t len = strlen(buf);
    while (len > 1 && buf[len - 1] == '/')
        buf[--len] = '\0';
    return TF_OK;
}

int
scanner_scan(scanner_t *self, const tf_msg_scan_job_t *job, tf_actor_t *actor, const tf_msg_work_t *work,
             scanner_totals_t *totals, tf_err_t *err)
{
    memset(totals, 0, sizeof *totals);
    if (!tf_id_safe_name(job->job_id) || strlen(job->job_id) > TF_MSG_MAX_ID - 16)
        return tf_err_set(err, TF_ERR_INVALID, "job id '%s' is not valid (letters, digits, '.', '_', '-')",
                          job->job_id);
    if (job->paths_count == 0)
        return tf_err_set(err, TF_ERR_INVALID, "job %s names no paths to back up", job->job_id);
    bool for_host = job->host && *job->host;
    if (for_host && (!self->opts.host || strcmp(job->host, self->opts.host) != 0))
        return tf_err_set(err, TF_ERR_INVALID, "the scan of job %s is for host %s, but this scanner "
                          "runs on host %s (tapeflow/host): it cannot read that host's files",
                          job->job_id, job->host, self->opts.host ? self->opts.host : "(none)");
    /* One scan per host: its catalog items are that host's. */
    char suffix_stage[TF_MSG_MAX_ID + 16], suffix_scanned[TF_MSG_MAX_ID + 16];
    snprintf(suffix_stage, sizeof suffix_stage, "-stage-scan%s%s", for_host ? "-" : "", for_host ? job->host : "");
    snprintf(suffix_scanned, sizeof suffix_scanned, "-scanned%s%s", for_host ? "-" : "", for_host ? job->host : "");
    /* Every path must exist before anything is queued. */
    char path[TF_MSG_MAX_PATH + 1];
    for (size_t i = 0; i < job->paths_count; i++) {
        struct stat st;
        int rc = s_clean_path(job->paths[i].path, path, sizeof path, err);
        if (rc != TF_OK)
            return rc;
        if (self->opts.fs->lstat(self->opts.fs->arg, path, &st) != 0)
            return tf_err_set(err, TF_ERR_NOTFOUND, "path %s does not exist", path);
    }
    char id[TF_ID_MAX];
    tf_msg_t stage = {.type = TF_MSG_CAT_JOB};
    stage.cat_job = (tf_msg_cat_job_t){.job_id = job->job_id, .op = "stage", .stage = "scan", .time_ms = tf_clock_wall_ms()};
    int rc = self->opts.submit(self->opts.submit_arg, "catalog", tf_id_join(id, sizeof id, job->job_id, suffix_stage),
                               job->job_id, &stage, err);
    if (rc != TF_OK)
        return rc;

    scan_t scan = {
        .self = self,
        .job = job,
        .compression = job->compression && *job->compression ? job->compression : self->opts.compression,
        .pool = job->pool && *job->pool ? job->pool : self->opts.pool,
        .actor = actor,
        .work = work,
    };
    /* A token per run, not the broker's attempt: a retried job starts again at attempt 1, and
       its calls must not get the first run's stored answers (nor mix with its rows). */
    rc = s_run_token(scan.run, sizeof scan.run, err);
    if (rc != TF_OK)
        return rc;
    snprintf(scan.id_prefix, sizeof scan.id_prefix, "%s-manifest-%s-r%s", job->job_id,
             for_host ? job->host : "local", scan.run);
    scan.fs_ids = fs_ids_new(self->opts.mountinfo, self->opts.by_uuid);
    scan.rows = calloc(SCANNER_DIFF_BATCH, sizeof *scan.rows);
    scan.devs = calloc(SCANNER_DIFF_BATCH, sizeof *scan.devs);
    scan.unread = calloc(SCANNER_UNREAD_MAX, sizeof *scan.unread);
    scan.grouper = scan_grouper_new(job->group_bytes ? job->group_bytes : self->opts.group_bytes,
                                    self->opts.max_entries, self->opts.max_text, s_emit, &scan);
    if (!scan.fs_ids || !scan.rows || !scan.devs || !scan.unread || !scan.grouper)
        rc = tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    else
        scan_grouper_set_warn(scan.grouper, s_warn, &scan);
    /* The catalog first: the level, the base job, or why the base cannot be compared with. */
    tf_msg_cat_manifest_t m = {.op = "begin"};
    tf_msg_t reply = {0};
    bool full = true;
    if (rc == TF_OK)
        rc = s_manifest_call(&scan, &m, "begin", &reply, err);
    if (rc == TF_OK) {
        const tf_msg_cat_manifest_reply_t *r = &reply.cat_manifest_reply;
        full = !r->level || strcmp(r->level, "full") == 0;
        tf_log_info("job %s: %s scan%s%s%s%s", job->job_id, r->level ? r->level : "full",
                    r->base_job ? ", base " : "", r->base_job ? r->base_job : "", r->reason ? ", upgraded: " : "",
                    r->reason ? r->reason : "");
        tf_msg_clear(&reply);
    }
    for (size_t i = 0; rc == TF_OK && i < job->paths_count; i++) {
        s_clean_path(job->paths[i].path, path, sizeof path, NULL);
        rc = scan_walk(self->opts.fs, path, job->one_fs, s_entry, s_warn, s_unread, &scan, err);
        if (rc == TF_ERR_NOTFOUND) {  /* vanished since the check above: not fatal */
            s_warn(&scan, path, "vanished during the scan");
            rc = TF_OK;
        }
    }
    if (rc == TF_OK)
        rc = s_diff(&scan, err);
    if (rc == TF_OK)
        rc = scan_grouper_flush(scan.grouper, err);
    /* An incremental or differential that cannot say what it did not look at would record
       the rest as deleted: it fails instead (a full has no base entries to keep). */
    if (rc == TF_OK && scan.unread_over && !full)
        rc = tf_err_set(err, TF_ERR_INVALID, "job %s: more than %d folders or entries could not be read "
                        "(%s; the scan's warnings list them): make them readable for the user the scanner "
                        "runs as and run the backup again", job->job_id, SCANNER_UNREAD_MAX,
                        scan.unread_first[0] ? scan.unread_first : "out of memory");
    m = (tf_msg_cat_manifest_t){.op = "end", .unread = scan.unread, .unread_count = scan.unread_count};
    if (rc == TF_OK)
        rc = s_manifest_call(&scan, &m, "end", &reply, err);
    if (rc == TF_OK) {
        totals->deleted = reply.cat_manifest_reply.deleted;
        tf_msg_clear(&reply);
    }
    totals->entries = scan.grouper ? scan_grouper_entries(scan.grouper) : 0;
    totals->bytes = scan.grouper ? scan_grouper_bytes(scan.grouper) : 0;
    totals->groups = scan.grouper ? scan_grouper_groups(scan.grouper) : 0;
    totals->warnings = scan.warnings;
    totals->unchanged = scan.unchanged;
    scan_grouper_destroy(&scan.grouper);
    for (size_t i = 0; scan.rows && i < scan.count; i++)
        scan_stat_row_clear(&scan.rows[i]);
    free(scan.rows);
    free(scan.devs);
    for (size_t i = 0; scan.unread && i < scan.unread_count; i++) {
        free(scan.unread[i].path);
        free(scan.unread[i].reason);
    }
    free(scan.unread);
    fs_ids_destroy(&scan.fs_ids);
    if (rc != TF_OK)
        return rc;

    char message[TF_MSG_MAX_TEXT];
    int used = snprintf(message, sizeof message, "scanned %" PRIu64 " entries, %" PRIu64 " bytes in %" PRIu64
                        " groups, %" PRIu64 " unchanged, %" PRIu64 " deleted", totals->entries, totals->bytes,
                        totals->groups, totals->unchanged, totals->deleted);
    if (scan.warnings && used > 0 && (size_t) used < sizeof message)
        snprintf(message + used, sizeof message - (size_t) used, "; %" PRIu64 " warning(s): %s%s", scan.warnings,
                 scan.first, scan.warnings > S_FIRST_WARNINGS ? "; ..." : "");
    tf_msg_t scanned = {.type = TF_MSG_CAT_JOB};
    scanned.cat_job = (tf_msg_cat_job_t){
        .job_id = job->job_id,
        .op = "scanned",
        .stage = "scan",
        .message = message,
        .files_total = totals->entries,
        .bytes_total = totals->bytes,
        .groups_total = totals->groups,
        .warnings = totals->warnings,
        .time_ms = tf_clock_wall_ms(),
        .host = for_host ? job->host : NULL,
        .group_base = job->group_base,
    };
    rc = self->opts.submit(self->opts.submit_arg, "catalog", tf_id_join(id, sizeof id, job->job_id, suffix_scanned),
                           job->job_id, &scanned, err);
    if (rc == TF_OK)
        tf_log_info("job %s: %s", job->job_id, message);
    return rc;
}

static int
s_on_scan_job(tf_actor_t *actor, const tf_msg_work_t *work, const tf_msg_t *payload, void *arg, tf_err_t *err)
{
    scanner_t *self = arg;
    scanner_totals_t totals;
    return scanner_scan(self, &payload->scan_job, actor, work, &totals, err);
}

int
scanner_check_path(scanner_t *self, const tf_msg_path_check_t *check, tf_msg_t *info, tf_err_t *err)
{
    memset(info, 0, sizeof *info);
    info->type = TF_MSG_PATH_INFO;
    tf_msg_path_info_t *pi = &info->path_info;
    char path[TF_MSG_MAX_PATH + 1];
    const char *why = NULL;
    struct stat st;
    if (s_clean_path(check->path, path, sizeof path, NULL) != TF_OK)
        why = "not an absolute path";
    else if (self->opts.fs->lstat(self->opts.fs->arg, path, &st) != 0)
        why = strerror(errno);
    else {
        pi->exists = true;
        pi->type = strdup(scan_stat_type(st.st_mode));
        /* A folder must be listable and enterable, a file readable, by the user the agents run
           as: that is who reads them during the backup. */
        int mode = S_ISDIR(st.st_mode) ? R_OK | X_OK : R_OK;
        pi->readable = S_ISLNK(st.st_mode) || access(path, mode) == 0;
        if (!pi->readable)
            why = strerror(errno);
    }
    pi->path = strdup(check->path);
    pi->host = self->opts.host ? strdup(self->opts.host) : NULL;
    pi->message = why ? strdup(why) : NULL;
    if (!pi->path || (pi->exists && !pi->type) || (self->opts.host && !pi->host) || (why && !pi->message)) {
        tf_msg_clear(info);
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    }
    return TF_OK;
}

static int
s_on_path_check(tf_actor_t *actor, const tf_msg_work_t *work, const tf_msg_t *payload, void *arg, tf_err_t *err)
{
    (void) work;
    scanner_t *self = arg;
    tf_msg_t info;
    int rc = scanner_check_path(self, &payload->path_check, &info, err);
    if (rc == TF_OK)
        rc = tf_actor_set_result_msg(actor, &info, err);
    tf_msg_clear(&info);
    return rc;
}

const tf_actor_route_t scanner_routes[] = {
    {TF_MSG_SCAN_JOB, s_on_scan_job},
    {TF_MSG_PATH_CHECK, s_on_path_check},
    TF_ACTOR_ROUTES_END
};
