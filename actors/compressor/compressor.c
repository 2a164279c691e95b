/*  compressor - file_group items -> staged archives + catalog rows (see compressor.h). */
#include "compressor.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "tf_client.h"
#include "tf_clock.h"
#include "tf_log.h"
#include "tf_pipeline_ids.h"
#include "tf_stage_client.h"

#define S_SUBMIT_TIMEOUT 10000

struct _compressor_t {
    char *compression;
    char *host;             /* tapeflow/host: the files this compressor can read */
    int level;
    int threads;
    tf_client_t *client;
    tf_stage_client_t *stage;
};

compressor_t *
compressor_new(tf_config_t *cfg, tf_err_t *err)
{
    compressor_t *self = calloc(1, sizeof *self);
    if (!self) {
        tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    self->compression = strdup(tf_config_str(cfg, "compressor/compression"));
    self->level = (int) tf_config_int(cfg, "compressor/level");
    self->threads = (int) tf_config_int(cfg, "compressor/threads");
    self->host = strdup(tf_config_str(cfg, "tapeflow/host"));
    if (!self->compression || !self->host) {
        tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        compressor_destroy(&self);
        return NULL;
    }
    if (!archiver_compression_valid(self->compression)) {
        tf_err_set(err, TF_ERR_INVALID, "compressor/compression is '%s'; use zstd, gzip or none", self->compression);
        compressor_destroy(&self);
        return NULL;
    }
    tf_stage_client_opts_t opts = {
        .endpoint = tf_config_str(cfg, "stager/endpoint"),
        .chunk = (size_t) tf_config_size(cfg, "compressor/chunk"),
        .timeout_ms = tf_config_ms(cfg, "compressor/stager_timeout"),
        .max_message = tf_config_size(cfg, "broker/max_message"),
        .config = cfg,
    };
    self->stage = tf_stage_client_new(&opts, err);
    self->client = self->stage ? tf_client_new(cfg, tf_config_str(cfg, "broker/endpoint"), err) : NULL;
    if (!self->client) {
        compressor_destroy(&self);
        return NULL;
    }
    return self;
}

void
compressor_destroy(compressor_t **self_p)
{
    if (self_p && *self_p) {
        compressor_t *self = *self_p;
        tf_client_destroy(&self->client);
        tf_stage_client_destroy(&self->stage);
        free(self->compression);
        free(self->host);
        free(self);
        *self_p = NULL;
    }
}

/* --- callbacks for the archiver ------------------------------------------------------ */

typedef struct {
    compressor_t *self;
    const tf_msg_file_group_t *group;
    tf_actor_t *actor;
    const tf_msg_work_t *work;
    bool discard;             /* already staged: build only for the rows */
    uint64_t total;
    int64_t next_progress;
} ctx_t;

static int
s_sink(void *arg, const void *data, size_t size, tf_err_t *err)
{
    ctx_t *ctx = arg;
    if (ctx->discard)
        return TF_OK;
    return tf_stage_client_write(ctx->self->stage, data, size, err);
}

static void
s_warn(void *arg, const char *path, const char *message)
{
    ctx_t *ctx = arg;
    tf_log_warn("archive %s: %s: %s", ctx->group->archive_id, path, message);
    if (ctx->actor) {
        char topic[TF_ID_MAX + 16];
        snprintf(topic, sizeof topic, "job.%s.warning", ctx->group->job_id);
        tf_publisher_say(tf_actor_events(ctx->actor), topic, "warn", "archive %s: %s: %s", ctx->group->archive_id,
                         path, message);
    }
}

static void
s_progress(void *arg, uint64_t bytes, uint64_t entries)
{
    ctx_t *ctx = arg;
    int64_t now = tf_clock_mono_ms();
    if (!ctx->actor || !ctx->work || now < ctx->next_progress)
        return;
    ctx->next_progress = now + 500;
    char text[128];
    snprintf(text, sizeof text, "%" PRIu64 " entries archived", entries);
    tf_actor_progress(ctx->actor, ctx->work, bytes, ctx->total, text);
}

/* The holding disk is full: say so in the item's progress (tapeflow backup --wait shows it). */
static void
s_waiting(void *arg, int64_t waited_ms)
{
    ctx_t *ctx = arg;
    if (!ctx->actor || !ctx->work)
        return;
    char text[128];
    snprintf(text, sizeof text, "waiting for holding-disk space (%lld s)", (long long) (waited_ms / 1000));
    tf_actor_progress(ctx->actor, ctx->work, 0, ctx->total, text);
}

static bool
s_stop(void *arg)
{
    ctx_t *ctx = arg;
    return ctx->actor && tf_actor_interrupted(ctx->actor);
}

/* The archive's file rows travel with it: the stager keeps them as its sidecar, from which
   the tape writer builds the on-tape index (docs/staging.md, "File rows sidecar"). Parts as
   for the catalog; an archive without rows sends part 1 empty, so its sidecar says "none". */
static int
s_stage_rows(compressor_t *self, file_rows_t *rows, tf_err_t *err)
{
    size_t parts = file_rows_parts(rows);
    for (size_t part = 1; part <= (parts ? parts : 1); part++) {
        size_t first, count;
        file_rows_part(rows, part, &first, &count);
        int rc = tf_stage_client_rows(self->stage, part, count ? file_rows_at(rows, first) : NULL, count, err);
        if (rc != TF_OK)
            return rc;
    }
    return TF_OK;
}

int
compressor_stage(compressor_t *self, const tf_msg_file_group_t *group, tf_actor_t *actor, const tf_msg_work_t *work,
                 file_rows_t **rows_p, archiver_stats_t *stats, tf_err_t *err)
{
    *rows_p = NULL;
    /* Another host's files are not here (or are other files of the same name): the group goes
       back to the broker, which gives it to a compressor of its host (a retryable error). */
    if (group->host && *group->host && strcmp(group->host, self->host) != 0)
        return tf_err_set(err, TF_ERR_STATE, "archive %s: its files are on host %s, but this compressor runs on "
                          "host %s (tapeflow/host): left for a compressor of host %s", group->archive_id, group->host,
                          self->host, group->host);
    const char *compression = group->compression && *group->compression ? group->compression : self->compression;
    if (!archiver_compression_valid(compression))
        return tf_err_set(err, TF_ERR_INVALID, "archive %s: unknown compression '%s' (zstd, gzip or none)",
                          group->archive_id, compression);
    ctx_t ctx = {.self = self, .group = group, .actor = actor, .work = work};
    for (size_t i = 0; i < group->entries_count; i++)
        ctx.total += group->entries[i].size;
    tf_msg_stage_open_t open = {
        .archive_id = group->archive_id,
        .job_id = group->job_id,
        .group_no = group->group_no,
        .compression = (char *) compression,
        .pool = group->pool,
        .expected_size = archiver_size_bound(group, compression),
        .host = group->host,
        .replicas = group->replicas,           /* kept in the archive's .meta by the stager */
        .replication = group->replication,
    };
    tf_stage_client_on_wait(self->stage, s_waiting, &ctx);  /* ctx lives on this stack only: */
    int rc = tf_stage_client_open(self->stage, &open, &ctx.discard, err);
    file_rows_t *rows = rc == TF_OK ? file_rows_new() : NULL;
    if (!rows) {
        tf_stage_client_on_wait(self->stage, NULL, NULL);  /* unset on every way out */
        tf_stage_client_abort(self->stage);
        return rc != TF_OK ? rc : tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    }
    if (ctx.discard)
        tf_log_info("archive %s is already staged; listing its entries for the catalog", group->archive_id);
    archiver_opts_t opts = {
        .compression = compression,
        .level = self->level,
        .threads = self->threads,
        .sink = s_sink,
        .warn = s_warn,
        .progress = s_progress,
        .stop = s_stop,
        .arg = &ctx,
    };
    rc = archiver_run(&opts, group, rows, stats, err);
    if (rc == TF_OK && !ctx.discard)
        rc = s_stage_rows(self, rows, err);
    if (rc == TF_OK && !ctx.discard)
        rc = tf_stage_client_close(self->stage, stats->files, stats->bytes, err);
    tf_stage_client_on_wait(self->stage, NULL, NULL);
    if (rc != TF_OK) {
        tf_stage_client_abort(self->stage);
        file_rows_destroy(&rows);
        return rc;
    }
    if (!ctx.discard)
        tf_log_info("archive %s staged: %" PRIu64 " entries, %" PRIu64 " content bytes, %" PRIu64 " archive bytes (%s)",
                    group->archive_id, stats->files, stats->bytes, tf_stage_client_size(self->stage),
                    tf_stage_client_checksum(self->stage));
    *rows_p = rows;
    return TF_OK;
}

static int
s_submit(compressor_t *self, const char *service, const char *item_id, const char *job_id, const tf_msg_t *payload,
         tf_err_t *err)
{
    tf_msg_t reply;
    int rc = tf_client_submit_msg(self->client, service, item_id, job_id, payload, &reply, S_SUBMIT_TIMEOUT, err);
    if (rc != TF_OK)
        return tf_err_prefix(err, "cannot submit %s to %s: ", item_id, service);
    tf_msg_clear(&reply);
    return TF_OK;
}

int
compressor_submit_rows(compressor_t *self, const tf_msg_file_group_t *group, file_rows_t *rows, tf_err_t *err)
{
    /* Part 1 also carries the entry warnings (skipped entries reach the job's warnings and
       its missing list); an archive that stored nothing but warned still sends it. */
    size_t parts = file_rows_parts(rows);
    if (parts == 0 && file_rows_warnings_count(rows) > 0)
        parts = 1;
    for (size_t part = 1; part <= parts; part++) {
        size_t first, count;
        file_rows_part(rows, part, &first, &count);
        tf_msg_t msg = {.type = TF_MSG_CAT_FILES};
        msg.cat_files = (tf_msg_cat_files_t){
            .job_id = group->job_id,
            .archive_id = group->archive_id,
            .part = part,
            .files = count ? file_rows_at(rows, first) : NULL,
            .files_count = count,
            .warnings = part == 1 ? file_rows_warnings(rows) : NULL,
            .warnings_count = part == 1 ? file_rows_warnings_count(rows) : 0,
        };
        char id[TF_ID_MAX];
        int rc = s_submit(self, "catalog", tf_id_files(id, sizeof id, group->archive_id, part), group->job_id, &msg, err);
        if (rc != TF_OK)
            return rc;
    }
    return TF_OK;
}

static int
s_on_file_group(tf_actor_t *actor, const tf_msg_work_t *work, const tf_msg_t *payload, void *arg, tf_err_t *err)
{
    compressor_t *self = arg;
    const tf_msg_file_group_t *group = &payload->file_group;
    /* The job's stage, once per job: repeats of this id are answered "existed". */
    char id[TF_ID_MAX];
    tf_msg_t stage = {.type = TF_MSG_CAT_JOB};
    stage.cat_job = (tf_msg_cat_job_t){
        .job_id = group->job_id,
        .op = "stage",
        .stage = "compress",
        .time_ms = tf_clock_wall_ms(),
    };
    int rc = s_submit(self, "catalog", tf_id_join(id, sizeof id, group->job_id, "-stage-compress"), group->job_id,
                      &stage, err);
    file_rows_t *rows = NULL;
    archiver_stats_t stats;
    if (rc == TF_OK)
        rc = compressor_stage(self, group, actor, work, &rows, &stats, err);
    if (rc == TF_OK)
        rc = compressor_submit_rows(self, group, rows, err);
    if (rc == TF_OK && stats.warnings > 0)
        tf_log_info("archive %s: %" PRIu64 " entries skipped or incomplete (see warnings)", group->archive_id,
                    stats.warnings);
    file_rows_destroy(&rows);
    return rc;
}

const tf_actor_route_t compressor_routes[] = {
    {TF_MSG_FILE_GROUP, s_on_file_group},
    TF_ACTOR_ROUTES_END
};

uint64_t
compressor_credit_waits(compressor_t *self)
{
    return tf_stage_client_credit_waits(self->stage);
}

uint64_t
compressor_credit_grants(compressor_t *self)
{
    return tf_stage_client_credit_grants(self->stage);
}

uint64_t
compressor_credit_max_held(compressor_t *self)
{
    return tf_stage_client_credit_max_held(self->stage);
}
