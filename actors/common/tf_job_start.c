/*  tf_job_start - starts a backup job (see tf_job_start.h). */
#define _GNU_SOURCE
#include "tf_job_start.h"

#include <czmq.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tf_clock.h"
#include "tf_hostpath.h"
#include "tf_pipeline_ids.h"
#include "tf_pool_check.h"
#include "tf_replica.h"
#include "tf_volume.h"

/* Enqueueing answers at once (the broker only records the item). */
#define S_SUBMIT_TIMEOUT_MS 5000

void
tf_job_id_scheduled(char *buf, size_t size, const char *schedule, int64_t instant_ms)
{
    time_t t = (time_t) (instant_ms / 1000);
    struct tm tm;
    char stamp[32] = "";
    if (gmtime_r(&t, &tm))
        strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    snprintf(buf, size, "%s-%s", schedule, stamp);
}

void
tf_job_id_manual(char *buf, size_t size)
{
    char stamp[32] = "";
    time_t now = time(NULL);
    struct tm tm;
    if (localtime_r(&now, &tm))
        strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    /* Random bits from the kernel: two backups started in the same second must differ
       (czmq's randof is not seeded per process). */
    uint32_t bits = 0;
    if (getrandom(&bits, sizeof bits, 0) != (ssize_t) sizeof bits)
        bits = (uint32_t) getpid() ^ (uint32_t) tf_clock_mono_ms();
    snprintf(buf, size, "J%s-%06x", stamp, (unsigned) (bits & 0xffffff));
}

/* ------------------------------------------------------------------ sources ---------- */

/* The job's sources split by host: a job reads each host's files there, one scan per host. */
typedef struct {
    char host[TF_MSG_MAX_ID + 1];
    tf_msg_path_row_t *rows;      /* this host's paths (absolute) */
    size_t count;
} s_host_t;

typedef struct {
    s_host_t *hosts;              /* in the order the sources name them */
    size_t nhosts;
    tf_msg_path_row_t *rows;      /* the job's sources as the catalog keeps them */
    zlist_t *owned;               /* every string the rows point to */
    bool legacy;                  /* only this host's paths: plain "/path" rows, one scan
                                     without a host (ids as before issue 10) */
} s_sources_t;

static void
s_sources_clear(s_sources_t *src)
{
    for (size_t i = 0; i < src->nhosts; i++)
        free(src->hosts[i].rows);
    free(src->hosts);
    free(src->rows);
    zlist_destroy(&src->owned);
    memset(src, 0, sizeof *src);
}

static s_host_t *
s_host_of(s_sources_t *src, const char *host, size_t max)
{
    for (size_t i = 0; i < src->nhosts; i++)
        if (strcmp(src->hosts[i].host, host) == 0)
            return &src->hosts[i];
    s_host_t *h = &src->hosts[src->nhosts];
    snprintf(h->host, sizeof h->host, "%s", host);
    h->rows = calloc(max, sizeof *h->rows);
    if (!h->rows)
        return NULL;
    src->nhosts++;
    return h;
}

static int
s_sources_split(tf_config_t *cfg, const tf_job_spec_t *spec, s_sources_t *src, tf_err_t *err)
{
    size_t n = spec->sources_count;
    if (n == 0)
        return tf_err_set(err, TF_ERR_INVALID, "job %s names no paths to back up", spec->job_id);
    src->hosts = calloc(n, sizeof *src->hosts);
    src->rows = calloc(n, sizeof *src->rows);
    src->owned = zlist_new();
    if (!src->hosts || !src->rows || !src->owned)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    zlist_autofree(src->owned);  /* autofree copies: keep pointers to the list's own copies */
    bool remote = false;
    for (size_t i = 0; i < n; i++) {
        char host[TF_MSG_MAX_ID + 1], path[PATH_MAX];
        const char *text = spec->sources[i].path ? spec->sources[i].path : "";
        int rc = tf_hostpath_parse(cfg, text, host, sizeof host, path, sizeof path, err);
        if (rc != TF_OK)
            return rc;
        if (path[0] != '/')
            return tf_err_set(err, TF_ERR_INVALID, "source %s of job %s is not an absolute path", text,
                              spec->job_id);
        remote = remote || !tf_hostpath_is_local(cfg, host);
        s_host_t *h = s_host_of(src, host, n);
        if (!h || zlist_append(src->owned, path) != 0)
            return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        h->rows[h->count++].path = zlist_last(src->owned);
    }
    src->legacy = !remote && src->nhosts == 1;
    for (size_t i = 0, k = 0; i < src->nhosts; i++)
        for (size_t r = 0; r < src->hosts[i].count; r++, k++) {
            if (src->legacy) {
                src->rows[k].path = src->hosts[i].rows[r].path;
                continue;
            }
            char *text = zsys_sprintf("%s:%s", src->hosts[i].host, src->hosts[i].rows[r].path);
            int fail = !text || zlist_append(src->owned, text) != 0;
            zstr_free(&text);
            if (fail)
                return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
            src->rows[k].path = zlist_last(src->owned);
        }
    return TF_OK;
}

/* ------------------------------------------------------------------ checks ----------- */

/* Another host's paths, checked where they are: its file agent must be up, and each path there
   and readable by it. */
static int
s_check_remote(tf_config_t *cfg, tf_client_t *client, const s_host_t *h, tf_err_t *err)
{
    bool present = false;
    int rc = tf_client_has_worker(client, "scan", h->host, S_SUBMIT_TIMEOUT_MS, &present, err);
    if (rc != TF_OK)
        return rc;
    if (!present)
        return tf_err_set(err, TF_ERR_NOTFOUND, "no file agent on host %s: start tapeflow up there (up/roles "
                          "agent)", h->host);
    int timeout = (int) tf_config_ms(cfg, "broker/heartbeat") * 10;
    for (size_t i = 0; i < h->count; i++) {
        tf_msg_t check = {.type = TF_MSG_PATH_CHECK}, info;
        check.path_check.path = h->rows[i].path;
        rc = tf_client_call_on(client, "scan", h->host, NULL, NULL, &check, &info, timeout, err);
        if (rc != TF_OK)
            return tf_err_prefix(err, "cannot check %s:%s on host %s: ", h->host, h->rows[i].path, h->host);
        bool ok = info.type == TF_MSG_PATH_INFO && info.path_info.exists && info.path_info.readable;
        if (!ok)
            rc = tf_err_set(err, TF_ERR_NOTFOUND, "%s:%s: %s (checked on host %s)", h->host, h->rows[i].path,
                            info.type == TF_MSG_PATH_INFO && info.path_info.message ? info.path_info.message
                                                                                   : "not there",
                            h->host);
        tf_msg_clear(&info);
        if (rc != TF_OK)
            return rc;
    }
    return TF_OK;
}

/* This host's paths, checked here (a scheduled job names them in the configuration: a typo
   should fail the run at once, with the path in the message). */
static int
s_check_local(const s_host_t *h, tf_err_t *err)
{
    for (size_t i = 0; i < h->count; i++) {
        struct stat st;
        if (lstat(h->rows[i].path, &st) != 0)
            return tf_err_set(err, TF_ERR_NOTFOUND, "%s: %s", h->rows[i].path, strerror(errno));
    }
    return TF_OK;
}

static const char *
s_pool(tf_config_t *cfg, const tf_job_spec_t *spec)
{
    return spec->pool && *spec->pool ? spec->pool : tf_config_get(cfg, "backup/pool");
}

static const char *
s_compression(tf_config_t *cfg, const tf_job_spec_t *spec)
{
    return spec->compression && *spec->compression ? spec->compression : tf_config_get(cfg, "compressor/compression");
}

/* The job's replication: the one place it is decided (issue 12). The pool's targets
   (pools/POOL/replicas, each configured, none named "tape") as the comma list the job carries
   ("nas,offsite"; "" none) and pools/POOL/replication; the list goes to the job's record
   (cat_job create) and with its scans to every file group, stage_open and archive .meta, so
   nothing downstream reads the configuration again. */
typedef struct {
    char list[TF_MSG_MAX_PATH + 1];
    bool required;
} s_replication_t;

static int
s_replication(const tf_config_t *cfg, const char *pool, s_replication_t *r, tf_err_t *err)
{
    r->list[0] = '\0';
    r->required = false;
    if (!pool || !*pool)
        return TF_OK;
    return tf_replica_pool_list(cfg, pool, r->list, sizeof r->list, &r->required, err);
}

/* The longest item id a job's replication makes must fit the protocol's id limit
   (TF_MSG_MAX_ID): "<archive>-replica-<target>-copied" (catalog), "<archive>-release-<target>"
   (stager) and "<job>-replica-<target>-committed-<ms>" (replicator). The archive id is the one
   of the job's largest possible group (host index times TF_ID_HOST_GROUP_STRIDE). */
static int
s_replication_ids_fit(const char *job_id, const s_replication_t *r, size_t nhosts, tf_err_t *err)
{
    char archive[TF_ID_MAX];
    tf_id_archive(archive, sizeof archive, job_id, (uint64_t) (nhosts ? nhosts : 1) * TF_ID_HOST_GROUP_STRIDE - 1);
    char target[TF_ID_MAX];
    for (const char *p = r->list; tf_id_list_next(&p, target, sizeof target);) {
        if (!tf_id_target_name(target))  /* tf_replica_pool_list checked them: a name cut or empty */
            return tf_err_set(err, TF_ERR_INVALID, "replication target '%s' of job %s is not a name (letters, "
                              "digits, '-', '_' and '.', not first '.' or '-', not 'tape', at most %d characters)",
                              target, job_id, TF_MSG_MAX_ID);
        size_t by_archive = strlen(archive) + strlen("-replica-") + strlen(target) + strlen("-copied");
        size_t by_job = strlen(job_id) + strlen("-replica-") + strlen(target) + strlen("-committed-")
                        + 13;  /* a wall clock in ms has 13 digits until the year 2286 */
        size_t need = by_archive > by_job ? by_archive : by_job;
        if (need > TF_MSG_MAX_ID)
            return tf_err_set(err, TF_ERR_TOOBIG, "job id %s with replication target %s makes item ids of %zu "
                              "characters (%s-replica-%s-copied), at most %d fit: use a shorter job id or target "
                              "name", job_id, target, need, archive, target, TF_MSG_MAX_ID);
    }
    return TF_OK;
}

int
tf_job_check_noted(tf_config_t *cfg, tf_client_t *client, const tf_job_spec_t *spec, char *note, size_t note_size,
                   tf_err_t *err)
{
    note[0] = '\0';
    const char *pool = s_pool(cfg, spec);
    /* A pool whose retention would recycle its tapes at once is refused before anything starts. */
    int64_t retention_ms = 0;
    int rc = tf_volume_retention(cfg, pool, &retention_ms, err);
    if (rc != TF_OK)
        return rc;
    s_replication_t replication;
    rc = s_replication(cfg, pool, &replication, err);
    if (rc != TF_OK)
        return rc;
    s_sources_t src = {0};
    rc = s_sources_split(cfg, spec, &src, err);
    if (rc == TF_OK && spec->job_id)
        rc = s_replication_ids_fit(spec->job_id, &replication, src.nhosts, err);
    if (rc == TF_OK)
        rc = tf_pool_check(cfg, client, pool, note, note_size, err);
    for (size_t i = 0; rc == TF_OK && i < src.nhosts; i++)
        rc = tf_hostpath_is_local(cfg, src.hosts[i].host) ? s_check_local(&src.hosts[i], err)
                                                           : s_check_remote(cfg, client, &src.hosts[i], err);
    s_sources_clear(&src);
    return rc;
}

int
tf_job_check(tf_config_t *cfg, tf_client_t *client, const tf_job_spec_t *spec, tf_err_t *err)
{
    char note[1024];
    return tf_job_check_noted(cfg, client, spec, note, sizeof note, err);
}

/* ------------------------------------------------------------------ start ------------ */

/* The job's record: cat_job create with the level asked for and the trigger. Item
   "<job>-create": a repeated start is the same item. */
static int
s_create(tf_config_t *cfg, tf_client_t *client, const tf_job_spec_t *spec, const s_sources_t *src,
         const s_replication_t *r, char *create_id, size_t id_size, tf_err_t *err)
{
    tf_msg_t create = {.type = TF_MSG_CAT_JOB}, reply;
    create.cat_job = (tf_msg_cat_job_t){
        .job_id = (char *) spec->job_id, .op = "create", .paths = src->rows, .paths_count = spec->sources_count,
        .pool = (char *) s_pool(cfg, spec),
        .compression = (char *) s_compression(cfg, spec),
        .time_ms = tf_clock_wall_ms(), .message = "queued",
        .level = (char *) (spec->level && *spec->level ? spec->level : "full"),
        .schedule = (char *) (spec->schedule && *spec->schedule ? spec->schedule : NULL),
        .trigger = (char *) (spec->trigger && *spec->trigger ? spec->trigger : "manual"),
        .trigger_ms = spec->trigger_ms,
        .replicas = *r->list ? (char *) r->list : NULL,
        .replication = *r->list ? (r->required ? "required" : "optional") : NULL,
    };
    tf_id_join(create_id, id_size, spec->job_id, "-create");
    int rc = tf_client_submit_msg(client, "catalog", create_id, spec->job_id, &create, &reply, S_SUBMIT_TIMEOUT_MS, err);
    if (rc != TF_OK)
        return tf_err_prefix(err, "cannot record job %s: ", spec->job_id);
    tf_msg_clear(&reply);
    return TF_OK;
}

/* The job as the catalog recorded it: once the create is applied, the level and base job are
   decided. TF_ERR_TIMEOUT when the catalog has not applied it yet. */
static int
s_recorded(tf_config_t *cfg, tf_client_t *client, const char *job_id, const char *create_id, tf_msg_t *job,
           tf_err_t *err)
{
    int timeout = (int) tf_config_ms(cfg, "broker/heartbeat") * 10;
    tf_msg_t info;
    int rc = tf_client_wait(client, create_id, timeout, &info, err);
    if (rc != TF_OK)
        return rc;
    tf_msg_clear(&info);
    tf_msg_t query = {.type = TF_MSG_CAT_QUERY};
    query.cat_query = (tf_msg_cat_query_t){.query = "job", .job_id = (char *) job_id};
    rc = tf_client_call(client, "catalog", NULL, job_id, &query, job, timeout, err);
    if (rc == TF_OK && (job->type != TF_MSG_CAT_REPLY || job->cat_reply.jobs_count != 1)) {
        rc = tf_err_set(err, TF_ERR_PROTO, "the catalog answered the query of job %s with %s", job_id,
                        job->type == TF_MSG_CAT_REPLY ? "no job row" : tf_msg_type_name(job->type));
        tf_msg_clear(job);
    }
    return rc;
}

/* One scan per host, each run by a scanner of its host. */
static int
s_scans(tf_config_t *cfg, tf_client_t *client, const tf_job_spec_t *spec, const s_sources_t *src,
        const s_replication_t *r, tf_err_t *err)
{
    for (size_t i = 0; i < src->nhosts; i++) {
        const s_host_t *h = &src->hosts[i];
        tf_msg_t scan = {.type = TF_MSG_SCAN_JOB}, reply;
        scan.scan_job = (tf_msg_scan_job_t){
            .job_id = (char *) spec->job_id, .paths = h->rows, .paths_count = h->count,
            .group_bytes = spec->group_bytes ? spec->group_bytes : (uint64_t) tf_config_size(cfg, "scanner/group_size"),
            .one_fs = spec->one_fs,
            .compression = (char *) s_compression(cfg, spec),
            .pool = (char *) s_pool(cfg, spec), .host = src->legacy ? NULL : (char *) h->host,
            .group_base = (uint64_t) i * TF_ID_HOST_GROUP_STRIDE,
            .replicas = *r->list ? (char *) r->list : NULL,
            .replication = *r->list ? (r->required ? "required" : "optional") : NULL,
        };
        char suffix[TF_MSG_MAX_ID + 16], scan_id[TF_ID_MAX];
        snprintf(suffix, sizeof suffix, "-scan%s%s", src->legacy ? "" : "-", src->legacy ? "" : h->host);
        tf_id_join(scan_id, sizeof scan_id, spec->job_id, suffix);
        int rc = tf_client_submit_msg_on(client, "scan", h->host, scan_id, spec->job_id, &scan, &reply,
                                         S_SUBMIT_TIMEOUT_MS, err);
        if (rc != TF_OK)
            return tf_err_prefix(err, "job %s recorded but the scan of host %s was not queued: ", spec->job_id,
                                 h->host);
        tf_msg_clear(&reply);
    }
    return TF_OK;
}

int
tf_job_start(tf_config_t *cfg, tf_client_t *client, const tf_job_spec_t *spec, tf_msg_t *job, tf_err_t *err)
{
    if (job)
        memset(job, 0, sizeof *job);
    if (!spec->job_id || !tf_id_safe_name(spec->job_id))
        return tf_err_set(err, TF_ERR_INVALID, "job id '%s' is not valid (letters, digits, '.', '_', '-')",
                          spec->job_id ? spec->job_id : "");
    s_sources_t src = {0};
    char create_id[TF_ID_MAX];
    /* Decided once here; a target that is not configured was refused by tf_job_check. */
    s_replication_t replication;
    int rc = s_replication(cfg, s_pool(cfg, spec), &replication, err);
    if (rc != TF_OK)
        return tf_err_prefix(err, "cannot start job %s: ", spec->job_id);
    rc = s_sources_split(cfg, spec, &src, err);
    if (rc == TF_OK)
        rc = s_replication_ids_fit(spec->job_id, &replication, src.nhosts, err);
    if (rc == TF_OK)
        rc = s_create(cfg, client, spec, &src, &replication, create_id, sizeof create_id, err);
    /* The record first: the scans' manifests ask the catalog for the level it decided. */
    if (rc == TF_OK && job) {
        tf_err_t jerr = {0};
        int q = s_recorded(cfg, client, spec->job_id, create_id, job, &jerr);
        if (q == TF_ERR_STATE)   /* the catalog refused the create: nothing to scan for */
            rc = tf_err_set(err, q, "job %s was not recorded: %s", spec->job_id, jerr.message);
        /* Not applied yet (catalog busy or down): the job goes on; *job stays empty. */
    }
    if (rc == TF_OK)
        rc = s_scans(cfg, client, spec, &src, &replication, err);
    if (rc != TF_OK && job)
        tf_msg_clear(job);
    s_sources_clear(&src);
    return rc;
}

int
tf_job_record_failure(tf_config_t *cfg, tf_client_t *client, const tf_job_spec_t *spec, const char *message,
                      tf_err_t *err)
{
    s_sources_t src = {0};
    char create_id[TF_ID_MAX];
    /* The failure may be the pool's replication itself (a target not configured): the job is
       recorded as is, without the targets it could not have. */
    s_replication_t replication;
    tf_err_t rerr = {0};
    if (s_replication(cfg, s_pool(cfg, spec), &replication, &rerr) != TF_OK)
        replication = (s_replication_t){0};
    int rc = s_sources_split(cfg, spec, &src, err);
    if (rc == TF_OK)
        rc = s_create(cfg, client, spec, &src, &replication, create_id, sizeof create_id, err);
    s_sources_clear(&src);
    if (rc != TF_OK)
        return rc;
    tf_msg_t failed = {.type = TF_MSG_CAT_JOB}, reply;
    failed.cat_job = (tf_msg_cat_job_t){
        .job_id = (char *) spec->job_id, .op = "failed", .stage = "start", .message = (char *) message,
        .detail = (char *) message, .time_ms = tf_clock_wall_ms(),
    };
    char failed_id[TF_ID_MAX];
    tf_id_join(failed_id, sizeof failed_id, spec->job_id, "-start-failed");
    rc = tf_client_submit_msg(client, "catalog", failed_id, spec->job_id, &failed, &reply, S_SUBMIT_TIMEOUT_MS, err);
    if (rc != TF_OK)
        return tf_err_prefix(err, "cannot record the failure of job %s: ", spec->job_id);
    tf_msg_clear(&reply);
    return TF_OK;
}
