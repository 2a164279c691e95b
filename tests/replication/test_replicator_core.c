/*  The replicator core without processes (actors/replicator/replicator.c): a real file://
    target in a temp folder (tf_target's file backend, tf_replica's layout), a fake stager
    (archives in memory, optionally corrupted on the way), a fake catalog (replica rows in
    memory, answered through the message codec like the real one), a fake release queue and a
    clock set by hand. Covers a copy end to end (files in .partial, checks, copied recorded,
    release sent, commit when ready: folder renamed and manifest written), a redelivery that
    skips the copy (before and after the commit), wrong bytes from the stager (checksum
    mismatch: the item fails with the file removed), an optional target on its last attempt
    (final failure, gave_up release, item done), a redelivery whose deduplicated record says
    "not ready" while the job is ready now, an idempotent commit (job folder there, with or
    without its manifest), retention (the oldest beyond keep_last deleted; nothing deleted after
    an error in the same sweep), a target without its sentinel, and .partial leftovers. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "replicator.h"
#include "tf_checksum.h"
#include "tf_config.h"
#include "tf_replica.h"
#include "tf_target.h"

#define S_DAY (86400LL * 1000)
#define S_MAX 32

/* --- fake stager ----------------------------------------------------------------------- */

typedef struct {
    char id[64];
    char job[64];
    uint64_t group;
    uint8_t *data;
    size_t size;
    uint8_t *rows;
    size_t rows_size;
    char checksum[TF_CHECKSUM_STRLEN];
    char rows_checksum[TF_CHECKSUM_STRLEN];
} fake_archive_t;

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t off;
    bool corrupt;
    uint8_t piece[1000];
} fake_reader_t;

/* --- fake catalog ---------------------------------------------------------------------- */

typedef struct {
    char id[64];
    char pool[32];
    char level[16];
    char base_job[64];
    int64_t created_ms;
    uint64_t archives;         /* the job's archive count */
    bool scanned;
} fake_job_t;

typedef struct {
    char job[64];
    char target[32];
    char state[16];
    char url[512];
    bool required;
    bool final;
    char message[1024];
    tf_msg_replica_archive_t copies[S_MAX];
    char copy_ids[S_MAX][64];
    char copy_sums[S_MAX][TF_CHECKSUM_STRLEN];
    char copy_rows_sums[S_MAX][TF_CHECKSUM_STRLEN];
    char copy_compressions[S_MAX][16];
    size_t copies_count;
} fake_row_t;

typedef struct {
    char item_id[256];
    char archive[64];
    char replica[64];
    bool gave_up;
} fake_release_t;

typedef struct {
    char dir[256];               /* mkdtemp */
    char root[300];              /* the target's folder */
    char url[320];
    tf_config_t *cfg;
    replicator_t *core;
    int64_t now;
    fake_archive_t archives[S_MAX];
    size_t archives_count;
    bool corrupt;                /* the stager sends a flipped byte */
    bool fetch_fails;
    bool fetch_proto;            /* the stager's answer does not decode */
    bool catalog_proto;          /* the catalog's reply does not decode */
    char refuse_op[16];          /* cat_replica op the catalog fails (TF_ERR_IO) */
    bool manifest_at_delete;     /* the job's manifest existed when "deleted" was recorded */
    size_t fetch_opens;
    fake_job_t jobs[S_MAX];
    size_t jobs_count;
    fake_row_t rows[S_MAX];
    size_t rows_count;
    char ops_seen[64][32];       /* cat_replica ops in order */
    size_t ops_count;
    fake_release_t releases[S_MAX];
    size_t releases_count;
    uint64_t progress_done, progress_total;
    size_t progress_calls;
    /* Items the broker has done: a called item with a known id answers its first result. */
    char done_ids[64][256];
    uint8_t *done_results[64];
    size_t done_sizes[64];
    size_t done_count;
    size_t deduplicated;
} fixture_t;

static fake_archive_t *
s_archive(fixture_t *f, const char *id)
{
    for (size_t i = 0; i < f->archives_count; i++)
        if (strcmp(f->archives[i].id, id) == 0)
            return &f->archives[i];
    return NULL;
}

static fake_job_t *
s_job(fixture_t *f, const char *id)
{
    for (size_t i = 0; i < f->jobs_count; i++)
        if (strcmp(f->jobs[i].id, id) == 0)
            return &f->jobs[i];
    return NULL;
}

static fake_row_t *
s_row(fixture_t *f, const char *job, const char *target, bool create)
{
    for (size_t i = 0; i < f->rows_count; i++)
        if (strcmp(f->rows[i].job, job) == 0 && strcmp(f->rows[i].target, target) == 0)
            return &f->rows[i];
    if (!create)
        return NULL;
    assert_true(f->rows_count < S_MAX);
    fake_row_t *r = &f->rows[f->rows_count++];
    memset(r, 0, sizeof *r);
    snprintf(r->job, sizeof r->job, "%s", job);
    snprintf(r->target, sizeof r->target, "%s", target);
    snprintf(r->state, sizeof r->state, "copying");
    return r;
}

static bool
s_ready(fixture_t *f, const fake_row_t *r)
{
    fake_job_t *j = s_job(f, r->job);
    return j && j->scanned && r->copies_count >= j->archives;
}

/* A row as the catalog answers it (borrowed pointers; encoded at once). */
static tf_msg_replica_row_t
s_row_msg(fixture_t *f, fake_row_t *r, bool copies)
{
    fake_job_t *j = s_job(f, r->job);
    return (tf_msg_replica_row_t){
        .job_id = r->job, .target = r->target, .url = r->url, .state = r->state, .required = r->required,
        .archives = r->copies_count, .archives_total = j ? j->archives : 0, .ready = s_ready(f, r),
        .message = r->message, .final = r->final, .job_status = "running",
        .pool = j ? j->pool : NULL, .level = j ? j->level : NULL,
        .base_job = j && j->base_job[0] ? j->base_job : NULL, .created_ms = j ? j->created_ms : 0,
        .copies = copies ? r->copies : NULL, .copies_count = copies ? r->copies_count : 0};
}

/* The reply goes through the codec, so the core gets owned copies as from the real client. */
static int
s_answer(tf_msg_replica_row_t *rows, size_t count, tf_msg_job_row_t *jobs, size_t jobs_count, tf_msg_t *result,
         tf_err_t *err)
{
    tf_msg_t reply = {.type = TF_MSG_CAT_REPLY};
    reply.cat_reply.replicas = rows;
    reply.cat_reply.replicas_count = count;
    reply.cat_reply.jobs = jobs;
    reply.cat_reply.jobs_count = jobs_count;
    uint8_t *data = NULL;
    size_t size = 0;
    int rc = tf_msg_encode(&reply, &data, &size, err);
    if (rc == TF_OK)
        rc = tf_msg_decode(data, size, result, err);
    free(data);
    return rc;
}

static int
s_cat_replica(fixture_t *f, const tf_msg_cat_replica_t *req, tf_msg_t *result, tf_err_t *err)
{
    assert_true(f->ops_count < 64);
    snprintf(f->ops_seen[f->ops_count++], 32, "%s", req->op);
    if (f->refuse_op[0] && strcmp(req->op, f->refuse_op) == 0)
        return tf_err_set(err, TF_ERR_IO, "the catalog's database is locked");
    if (strcmp(req->op, "deleted") == 0) {
        char path[1024];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s/%s", f->root, req->job_id, TF_REPLICA_MANIFEST);
        f->manifest_at_delete = stat(path, &st) == 0;
    }
    fake_row_t *r = s_row(f, req->job_id, req->target, true);
    snprintf(r->url, sizeof r->url, "%s", req->url ? req->url : "");
    r->required = req->required;
    if (strcmp(req->op, "copied") == 0) {
        for (size_t i = 0; i < req->copies_count; i++) {
            const tf_msg_replica_archive_t *a = &req->copies[i];
            bool seen = false;
            for (size_t k = 0; k < r->copies_count; k++)
                seen = seen || strcmp(r->copy_ids[k], a->archive_id) == 0;
            if (seen)
                continue;
            size_t k = r->copies_count++;
            snprintf(r->copy_ids[k], 64, "%s", a->archive_id);
            snprintf(r->copy_sums[k], TF_CHECKSUM_STRLEN, "%s", a->checksum);
            snprintf(r->copy_rows_sums[k], TF_CHECKSUM_STRLEN, "%s", a->rows_checksum ? a->rows_checksum : "");
            r->copies[k] = *a;
            r->copies[k].archive_id = r->copy_ids[k];
            r->copies[k].checksum = r->copy_sums[k];
            r->copies[k].rows_checksum = a->rows_checksum ? r->copy_rows_sums[k] : NULL;
            snprintf(r->copy_compressions[k], 16, "%s", a->compression ? a->compression : "");
            r->copies[k].compression = a->compression ? r->copy_compressions[k] : NULL;
            r->copies[k].host = NULL;
        }
        if (strcmp(r->state, "verified") != 0)
            snprintf(r->state, sizeof r->state, "copying");
    } else if (strcmp(req->op, "committed") == 0) {
        snprintf(r->state, sizeof r->state, "verified");
        snprintf(r->message, sizeof r->message, "%s", req->message ? req->message : "");
    } else if (strcmp(req->op, "failed") == 0) {
        snprintf(r->state, sizeof r->state, "failed");
        snprintf(r->message, sizeof r->message, "%s", req->message ? req->message : "");
        r->final = req->final;
    } else if (strcmp(req->op, "deleted") == 0) {
        snprintf(r->state, sizeof r->state, "deleted");   /* worded as the catalog does */
        snprintf(r->message, sizeof r->message, "deleted from %s by retention (%s)", r->url,
                 req->message ? req->message : "");
    } else
        return tf_err_set(err, TF_ERR_INVALID, "unknown op %s", req->op);
    tf_msg_replica_row_t row = s_row_msg(f, r, false);
    return s_answer(&row, 1, NULL, 0, result, err);
}

static int
s_cat_query(fixture_t *f, const tf_msg_cat_query_t *q, tf_msg_t *result, tf_err_t *err)
{
    tf_msg_replica_row_t rows[S_MAX];
    size_t n = 0;
    if (strcmp(q->query, "replica") == 0) {
        fake_row_t *r = s_row(f, q->job_id, q->pattern, false);
        if (!r)
            return tf_err_set(err, TF_ERR_NOTFOUND, "no replica of job %s on %s", q->job_id, q->pattern);
        rows[n++] = s_row_msg(f, r, true);
    } else if (strcmp(q->query, "replicas") == 0) {
        if (!s_job(f, q->job_id))
            return tf_err_set(err, TF_ERR_NOTFOUND, "no job %s", q->job_id);
        for (size_t i = 0; i < f->rows_count; i++)
            if (strcmp(f->rows[i].job, q->job_id) == 0)
                rows[n++] = s_row_msg(f, &f->rows[i], false);
    } else if (strcmp(q->query, "replica_pending") == 0) {
        for (size_t i = 0; i < f->rows_count; i++)
            if (strcmp(f->rows[i].state, "copying") == 0 && s_ready(f, &f->rows[i]))
                rows[n++] = s_row_msg(f, &f->rows[i], false);
    } else if (strcmp(q->query, "job") == 0) {
        if (!s_job(f, q->job_id))
            return tf_err_set(err, TF_ERR_NOTFOUND, "no job %s", q->job_id);
        tf_msg_job_row_t job = {.job_id = (char *) q->job_id, .status = "running"};
        return s_answer(NULL, 0, &job, 1, result, err);
    } else
        return tf_err_set(err, TF_ERR_INVALID, "unknown query %s", q->query);
    return s_answer(rows, n, NULL, 0, result, err);
}

/* --- ops ------------------------------------------------------------------------------- */

static int
s_fetch_open(void *arg, const tf_msg_replica_copy_t *copy, bool rows, void **reader, tf_err_t *err)
{
    fixture_t *f = arg;
    f->fetch_opens++;
    if (f->fetch_fails)
        return tf_err_set(err, TF_ERR_TIMEOUT, "the stager did not answer");
    if (f->fetch_proto)
        return tf_err_set(err, TF_ERR_PROTO, "the stager's answer does not decode");
    fake_archive_t *a = s_archive(f, copy->archive_id);
    if (!a)
        return tf_err_set(err, TF_ERR_IO, "no archive %s on the stager", copy->archive_id);
    fake_reader_t *r = calloc(1, sizeof *r);
    assert_non_null(r);
    r->data = rows ? a->rows : a->data;
    r->size = rows ? a->rows_size : a->size;
    r->corrupt = f->corrupt && !rows;
    *reader = r;
    return TF_OK;
}

static int
s_fetch_next(void *arg, void *reader, const void **data, size_t *len, tf_err_t *err)
{
    fake_reader_t *r = reader;
    size_t n = r->size - r->off < sizeof r->piece ? r->size - r->off : sizeof r->piece;
    memcpy(r->piece, r->data + r->off, n);
    if (r->corrupt && r->off == 0 && n > 0)
        r->piece[0] ^= 0x40;
    r->off += n;
    *data = r->piece;
    *len = n;
    return TF_OK;
}

static void
s_fetch_close(void *arg, void **reader_p)
{
    free(*reader_p);
    *reader_p = NULL;
}

static int
s_catalog(void *arg, const char *item_id, const char *job_id, const tf_msg_t *payload, tf_msg_t *result,
          tf_err_t *err)
{
    fixture_t *f = arg;
    if (f->catalog_proto)
        return tf_err_set(err, TF_ERR_PROTO, "the catalog's reply does not decode");
    for (size_t i = 0; item_id && i < f->done_count; i++)
        if (strcmp(f->done_ids[i], item_id) == 0) {
            f->deduplicated++;
            return tf_msg_decode(f->done_results[i], f->done_sizes[i], result, err);
        }
    int rc;
    if (payload->type == TF_MSG_CAT_REPLICA)
        rc = s_cat_replica(f, &payload->cat_replica, result, err);
    else if (payload->type == TF_MSG_CAT_QUERY)
        rc = s_cat_query(f, &payload->cat_query, result, err);
    else
        rc = tf_err_set(err, TF_ERR_INVALID, "the fake catalog takes no %s", tf_msg_type_name(payload->type));
    if (rc == TF_OK && item_id) {
        assert_true(f->done_count < 64);
        size_t i = f->done_count++;
        snprintf(f->done_ids[i], sizeof f->done_ids[i], "%s", item_id);
        assert_int_equal(tf_msg_encode(result, &f->done_results[i], &f->done_sizes[i], err), TF_OK);
    }
    return rc;
}

static int
s_release(void *arg, const char *item_id, const char *job_id, const tf_msg_archive_release_t *release, tf_err_t *err)
{
    fixture_t *f = arg;
    assert_true(f->releases_count < S_MAX);
    fake_release_t *r = &f->releases[f->releases_count++];
    snprintf(r->item_id, sizeof r->item_id, "%s", item_id);
    snprintf(r->archive, sizeof r->archive, "%s", release->archive_id);
    snprintf(r->replica, sizeof r->replica, "%s", release->replica ? release->replica : "");
    r->gave_up = release->gave_up;
    return TF_OK;
}

static void
s_progress(void *arg, const tf_msg_work_t *work, uint64_t done, uint64_t total, const char *message)
{
    fixture_t *f = arg;
    f->progress_calls++;
    f->progress_done = done;
    f->progress_total = total;
}

/* Time moves on by 1 ms per reading, as it does between two records of the real thing (their
   item ids hold the time). */
static int64_t
s_now(void *arg)
{
    return ((fixture_t *) arg)->now++;
}

static const replicator_ops_t s_ops = {
    .fetch_open = s_fetch_open, .fetch_next = s_fetch_next, .fetch_close = s_fetch_close,
    .catalog = s_catalog, .release = s_release, .progress = s_progress, .now_ms = s_now};

/* --- helpers --------------------------------------------------------------------------- */

static int
s_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void
s_add_job(fixture_t *f, const char *id, uint64_t archives, int64_t created_ms)
{
    assert_true(f->jobs_count < S_MAX);
    fake_job_t *j = &f->jobs[f->jobs_count++];
    memset(j, 0, sizeof *j);
    snprintf(j->id, sizeof j->id, "%s", id);
    snprintf(j->pool, sizeof j->pool, "default");
    snprintf(j->level, sizeof j->level, "full");
    j->created_ms = created_ms;
    j->archives = archives;
    j->scanned = true;
}

/* An archive of size bytes (and a sidecar) on the fake stager. */
static void
s_add_archive(fixture_t *f, const char *id, const char *job, uint64_t group, size_t size)
{
    assert_true(f->archives_count < S_MAX);
    fake_archive_t *a = &f->archives[f->archives_count++];
    memset(a, 0, sizeof *a);
    snprintf(a->id, sizeof a->id, "%s", id);
    snprintf(a->job, sizeof a->job, "%s", job);
    a->group = group;
    a->size = size;
    a->data = malloc(size);
    assert_non_null(a->data);
    for (size_t i = 0; i < size; i++)
        a->data[i] = (uint8_t) ((i * 7 + group * 13) & 0xff);
    a->rows_size = 300 + group;
    a->rows = malloc(a->rows_size);
    assert_non_null(a->rows);
    for (size_t i = 0; i < a->rows_size; i++)
        a->rows[i] = (uint8_t) ('a' + (i + group) % 26);
    tf_checksum_of(a->data, a->size, a->checksum);
    tf_checksum_of(a->rows, a->rows_size, a->rows_checksum);
}

static tf_msg_replica_copy_t
s_copy_of(fixture_t *f, const char *archive, bool required)
{
    fake_archive_t *a = s_archive(f, archive);
    assert_non_null(a);
    return (tf_msg_replica_copy_t){
        .archive_id = a->id, .job_id = a->job, .group_no = a->group, .pool = "default", .target = "nas",
        .required = required, .compression = "zstd", .size = a->size, .checksum = a->checksum, .files = 3,
        .bytes = a->size * 2, .stager = "ipc:///nowhere", .rows_size = a->rows_size,
        .rows_checksum = a->rows_checksum};
}

static int
s_deliver(fixture_t *f, const char *archive, bool required, uint64_t attempt, tf_err_t *err)
{
    tf_msg_replica_copy_t copy = s_copy_of(f, archive, required);
    char item[128];
    snprintf(item, sizeof item, "%s-replica-nas", archive);
    tf_msg_work_t work = {.item_id = item, .service = "replicate", .job_id = copy.job_id, .attempt = attempt};
    tf_err_clear(err);
    return replicator_copy(f->core, &work, &copy, err);
}

static bool
s_exists(fixture_t *f, const char *rel)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", f->root, rel);
    struct stat st;
    return stat(path, &st) == 0;
}

/* The bytes of a file under the target's root equal data. */
static void
s_assert_file(fixture_t *f, const char *rel, const uint8_t *data, size_t size)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", f->root, rel);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    uint8_t *buf = malloc(size + 1);
    assert_non_null(buf);
    size_t got = fread(buf, 1, size + 1, fp);
    fclose(fp);
    assert_int_equal(got, size);
    assert_memory_equal(buf, data, size);
    free(buf);
}

static size_t
s_ops_count(fixture_t *f, const char *op)
{
    size_t n = 0;
    for (size_t i = 0; i < f->ops_count; i++)
        n += strcmp(f->ops_seen[i], op) == 0;
    return n;
}

static void
s_init_target(fixture_t *f)
{
    tf_err_t err = {0};
    tf_replica_conf_t conf;
    assert_int_equal(tf_replica_conf(f->cfg, "nas", &conf, &err), TF_OK);
    bool created = false;
    char id[80];
    int rc = tf_replica_init(&conf, &created, id, sizeof id, &err);
    if (rc != TF_OK)
        fail_msg("replica init: %s", err.message);
    assert_true(created);
}

static int
s_setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/tf-replicator-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->root, sizeof f->root, "%s/target", f->dir);
    assert_int_equal(mkdir(f->root, 0700), 0);
    snprintf(f->url, sizeof f->url, "file://%s", f->root);
    f->cfg = tf_config_new();
    assert_non_null(f->cfg);
    assert_int_equal(tf_config_set(f->cfg, "replicas/nas/url", f->url), 0);
    assert_int_equal(tf_config_set(f->cfg, "pools/default/replicas", "nas"), 0);
    assert_int_equal(tf_config_set(f->cfg, "broker/max_attempts", "3"), 0);
    assert_int_equal(tf_config_set(f->cfg, "replicator/chunk", "65536"), 0);
    f->now = 1800000000000LL;
    tf_err_t err = {0};
    f->core = replicator_new(f->cfg, &s_ops, f, &err);
    assert_non_null(f->core);
    *state = f;
    return 0;
}

static int
s_teardown(void **state)
{
    fixture_t *f = *state;
    replicator_destroy(&f->core);
    tf_config_destroy(&f->cfg);
    for (size_t i = 0; i < f->archives_count; i++) {
        free(f->archives[i].data);
        free(f->archives[i].rows);
    }
    for (size_t i = 0; i < f->done_count; i++)
        free(f->done_results[i]);
    nftw(f->dir, s_rm, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* --- tests ----------------------------------------------------------------------------- */

/* Two archives of one job: each lands verified in .partial, is recorded and released; the
   second makes the job ready and commits it: folder renamed, manifest written, row verified. */
static void
test_copy_end_to_end(void **state)
{
    fixture_t *f = *state;
    s_init_target(f);
    int64_t created = f->now - S_DAY;
    s_add_job(f, "J1", 2, created);
    s_add_archive(f, "J1-g1", "J1", 1, 150000);
    s_add_archive(f, "J1-g2", "J1", 2, 2500);
    tf_err_t err = {0};

    int rc = s_deliver(f, "J1-g1", true, 1, &err);
    if (rc != TF_OK)
        fail_msg("first archive: %s", err.message);
    fake_archive_t *a1 = s_archive(f, "J1-g1");
    s_assert_file(f, ".partial/J1/J1-g1.data", a1->data, a1->size);
    s_assert_file(f, ".partial/J1/J1-g1.rows", a1->rows, a1->rows_size);
    fake_row_t *row = s_row(f, "J1", "nas", false);
    assert_non_null(row);
    assert_int_equal(row->copies_count, 1);
    assert_string_equal(row->state, "copying");
    assert_string_equal(row->url, f->url);
    assert_int_equal(f->releases_count, 1);
    assert_string_equal(f->releases[0].item_id, "J1-g1-release-nas");
    assert_string_equal(f->releases[0].replica, "nas");
    assert_false(f->releases[0].gave_up);
    assert_false(s_exists(f, "J1"));                 /* not ready: not committed */
    assert_true(f->progress_calls > 0);
    assert_int_equal(f->progress_done, a1->size + a1->rows_size);
    assert_int_equal(f->progress_total, a1->size + a1->rows_size);

    rc = s_deliver(f, "J1-g2", true, 1, &err);
    if (rc != TF_OK)
        fail_msg("second archive: %s", err.message);
    assert_true(s_exists(f, "J1/manifest.json"));
    assert_false(s_exists(f, ".partial/J1"));
    fake_archive_t *a2 = s_archive(f, "J1-g2");
    s_assert_file(f, "J1/J1-g1.data", a1->data, a1->size);
    s_assert_file(f, "J1/J1-g2.data", a2->data, a2->size);
    s_assert_file(f, "J1/J1-g2.rows", a2->rows, a2->rows_size);
    assert_string_equal(row->state, "verified");
    assert_non_null(strstr(row->message, "replicated to "));
    assert_non_null(strstr(row->message, f->url));
    assert_non_null(strstr(row->message, "(2 archives, "));
    assert_non_null(strstr(row->message, "verified)"));
    assert_int_equal(f->releases_count, 2);
    assert_string_equal(f->releases[1].item_id, "J1-g2-release-nas");

    /* The manifest reads back with both archives and the job's facts. */
    tf_replica_conf_t conf;
    assert_int_equal(tf_replica_conf(f->cfg, "nas", &conf, &err), TF_OK);
    tf_target_t *target = tf_replica_connect(&conf, NULL, 0, &err);
    assert_non_null(target);
    tf_replica_manifest_t m;
    memset(&m, 0, sizeof m);
    rc = tf_replica_manifest_read(target, "J1", &m, &err);
    if (rc != TF_OK)
        fail_msg("manifest: %s", err.message);
    assert_string_equal(m.job_id, "J1");
    assert_string_equal(m.pool, "default");
    assert_string_equal(m.level, "full");
    assert_int_equal(m.created_ms, created);
    assert_int_equal(m.archives_count, 2);
    assert_int_equal(m.stored, a1->size + a2->size);
    size_t bad = 99;
    assert_int_equal(tf_replica_verify(target, &m, 4096, &bad, NULL, NULL, &err), TF_OK);
    assert_int_equal(bad, 0);
    tf_replica_manifest_clear(&m);
    tf_target_destroy(&target);
}

/* A redelivery after the copy does not fetch again, before and after the commit. */
static void
test_redelivery_skips_copy(void **state)
{
    fixture_t *f = *state;
    s_init_target(f);
    s_add_job(f, "J2", 2, f->now);
    s_add_archive(f, "J2-g1", "J2", 1, 70000);
    s_add_archive(f, "J2-g2", "J2", 2, 900);
    tf_err_t err = {0};
    assert_int_equal(s_deliver(f, "J2-g1", true, 1, &err), TF_OK);
    size_t opens = f->fetch_opens;
    assert_int_equal(opens, 2);                      /* data and rows */
    f->fetch_fails = true;                           /* the stager released it meanwhile */
    int rc = s_deliver(f, "J2-g1", true, 2, &err);
    if (rc != TF_OK)
        fail_msg("redelivery: %s", err.message);
    assert_int_equal(f->fetch_opens, opens);
    assert_int_equal(f->releases_count, 2);          /* confirmed again (the broker deduplicates) */
    f->fetch_fails = false;
    assert_int_equal(s_deliver(f, "J2-g2", true, 1, &err), TF_OK);
    assert_true(s_exists(f, "J2/manifest.json"));
    opens = f->fetch_opens;
    f->fetch_fails = true;
    rc = s_deliver(f, "J2-g1", true, 3, &err);       /* committed: the manifest lists it */
    if (rc != TF_OK)
        fail_msg("redelivery after the commit: %s", err.message);
    assert_int_equal(f->fetch_opens, opens);
    assert_false(s_exists(f, ".partial/J2"));
}

/* A job retry delivers an item again from attempt 1, and the broker answers its copied
   record with the first result (not ready then); the job became ready since (scanned after
   its copies): the replicator asks again and commits. */
static void
test_stale_ready_asked_again(void **state)
{
    fixture_t *f = *state;
    s_init_target(f);
    s_add_job(f, "J8", 2, f->now);
    s_add_archive(f, "J8-g1", "J8", 1, 2000);
    s_add_archive(f, "J8-g2", "J8", 2, 2100);
    s_job(f, "J8")->scanned = false;
    tf_err_t err = {0};
    assert_int_equal(s_deliver(f, "J8-g1", true, 1, &err), TF_OK);
    assert_int_equal(s_deliver(f, "J8-g2", true, 1, &err), TF_OK);
    assert_false(s_exists(f, "J8"));
    s_job(f, "J8")->scanned = true;
    size_t dedup = f->deduplicated;
    int rc = s_deliver(f, "J8-g2", true, 1, &err);
    if (rc != TF_OK)
        fail_msg("redelivery: %s", err.message);
    assert_int_equal(f->deduplicated, dedup + 1);
    assert_true(s_exists(f, "J8/manifest.json"));
    assert_string_equal(s_row(f, "J8", "nas", false)->state, "verified");
}

/* Wrong bytes from the stager: read back, mismatch, file removed, failure recorded, retry. */
static void
test_wrong_bytes_fail(void **state)
{
    fixture_t *f = *state;
    s_init_target(f);
    s_add_job(f, "J3", 1, f->now);
    s_add_archive(f, "J3-g1", "J3", 1, 10000);
    f->corrupt = true;
    tf_err_t err = {0};
    int rc = s_deliver(f, "J3-g1", true, 1, &err);
    assert_int_not_equal(rc, TF_OK);
    assert_non_null(strstr(err.message, "reads back"));
    assert_false(s_exists(f, ".partial/J3/J3-g1.data"));
    assert_int_equal(f->releases_count, 0);
    assert_int_equal(s_ops_count(f, "copied"), 0);
    fake_row_t *row = s_row(f, "J3", "nas", false);
    assert_non_null(row);
    assert_string_equal(row->state, "failed");
    assert_false(row->final);
    char want[400];
    snprintf(want, sizeof want, "replication to %s failed: ", f->url);
    assert_non_null(strstr(row->message, want));
    /* The next delivery with good bytes succeeds. */
    f->corrupt = false;
    assert_int_equal(s_deliver(f, "J3-g1", true, 2, &err), TF_OK);
    assert_true(s_exists(f, "J3/manifest.json"));
    assert_string_equal(row->state, "verified");
}

/* An optional target fails: retried with final false until the last attempt, which records
   the failure final, releases with gave_up and completes the item. */
static void
test_optional_last_attempt_gives_up(void **state)
{
    fixture_t *f = *state;
    s_init_target(f);
    s_add_job(f, "J4", 1, f->now);
    s_add_archive(f, "J4-g1", "J4", 1, 5000);
    f->fetch_fails = true;
    tf_err_t err = {0};
    assert_int_not_equal(s_deliver(f, "J4-g1", false, 1, &err), TF_OK);
    fake_row_t *row = s_row(f, "J4", "nas", false);
    assert_non_null(row);
    assert_string_equal(row->state, "failed");
    assert_false(row->final);
    assert_int_equal(f->releases_count, 0);
    assert_int_not_equal(s_deliver(f, "J4-g1", false, 2, &err), TF_OK);
    assert_false(row->final);
    int rc = s_deliver(f, "J4-g1", false, 3, &err);  /* broker/max_attempts */
    if (rc != TF_OK)
        fail_msg("last attempt of an optional target: %s", err.message);
    assert_true(row->final);
    assert_non_null(strstr(row->message, "the stager did not answer"));
    assert_int_equal(f->releases_count, 1);
    assert_true(f->releases[0].gave_up);
    assert_string_equal(f->releases[0].item_id, "J4-g1-release-nas");
    /* A required target never gives up: its last attempt fails (the broker fails the job). */
    assert_int_not_equal(s_deliver(f, "J4-g1", true, 3, &err), TF_OK);
    assert_int_equal(f->releases_count, 1);
}

/* A commit again (sweep, redelivery) with the job folder there: fine, recorded again; a job
   folder a crash left without its manifest gets it written. */
static void
test_commit_idempotent(void **state)
{
    fixture_t *f = *state;
    s_init_target(f);
    s_add_job(f, "J5", 1, f->now);
    s_add_archive(f, "J5-g1", "J5", 1, 3000);
    tf_err_t err = {0};
    assert_int_equal(s_deliver(f, "J5-g1", true, 1, &err), TF_OK);
    assert_true(s_exists(f, "J5/manifest.json"));
    assert_int_equal(s_ops_count(f, "committed"), 1);
    int rc = replicator_commit(f->core, "J5", "nas", &err);
    if (rc != TF_OK)
        fail_msg("second commit: %s", err.message);
    assert_int_equal(s_ops_count(f, "committed"), 2);
    assert_true(s_exists(f, "J5/J5-g1.data"));

    /* Crash between the rename and the manifest. */
    s_add_job(f, "J6", 1, f->now);
    s_add_archive(f, "J6-g1", "J6", 1, 4000);
    s_job(f, "J6")->scanned = false;                 /* copied, not ready yet */
    assert_int_equal(s_deliver(f, "J6-g1", true, 1, &err), TF_OK);
    assert_false(s_exists(f, "J6"));
    char from[1024], to[1024];
    snprintf(from, sizeof from, "%s/.partial/J6", f->root);
    snprintf(to, sizeof to, "%s/J6", f->root);
    assert_int_equal(rename(from, to), 0);
    s_job(f, "J6")->scanned = true;
    assert_int_equal(replicator_sweep(f->core, false), 1);
    assert_true(s_exists(f, "J6/manifest.json"));
    assert_string_equal(s_row(f, "J6", "nas", false)->state, "verified");
    /* A redelivery finds the archive in the committed folder. */
    f->fetch_fails = true;
    assert_int_equal(s_deliver(f, "J6-g1", true, 2, &err), TF_OK);
}

/* keep_last 2: each commit deletes the oldest jobs beyond it (manifest gone, folder gone,
   row deleted); after an error in the same sweep nothing is deleted. */
static void
test_retention(void **state)
{
    fixture_t *f = *state;
    s_init_target(f);
    tf_err_t err = {0};
    /* Old jobs past the pool's retention (30 days), so the only-copy rule does not keep them. */
    const char *jobs[] = {"R1", "R2", "R3"};
    for (size_t i = 0; i < 3; i++) {
        char archive[32];
        snprintf(archive, sizeof archive, "%s-g1", jobs[i]);
        s_add_job(f, jobs[i], 1, f->now - (100 - (int64_t) i) * S_DAY);
        s_add_archive(f, archive, jobs[i], 1, 2000 + i);
        assert_int_equal(s_deliver(f, archive, true, 1, &err), TF_OK);
    }
    assert_true(s_exists(f, "R1/manifest.json"));    /* no limit yet */
    assert_int_equal(tf_config_set(f->cfg, "pools/default/replica_keep_last", "2"), 0);

    /* A sweep with an error before the commit of R4: R4 committed, nothing deleted. */
    s_add_job(f, "RBAD", 1, f->now - 50 * S_DAY);
    s_add_archive(f, "RBAD-g1", "RBAD", 1, 1000);
    s_job(f, "RBAD")->scanned = false;
    assert_int_equal(s_deliver(f, "RBAD-g1", true, 1, &err), TF_OK);
    char path[1024];
    snprintf(path, sizeof path, "%s/.partial/RBAD/RBAD-g1.data", f->root);
    assert_int_equal(unlink(path), 0);               /* lost: its commit fails */
    s_job(f, "RBAD")->scanned = true;
    s_add_job(f, "R4", 1, f->now - 40 * S_DAY);
    s_add_archive(f, "R4-g1", "R4", 1, 1500);
    s_job(f, "R4")->scanned = false;
    assert_int_equal(s_deliver(f, "R4-g1", true, 1, &err), TF_OK);
    s_job(f, "R4")->scanned = true;
    assert_int_equal(replicator_sweep(f->core, false), 1);
    assert_true(s_exists(f, "R4/manifest.json"));
    assert_false(s_exists(f, "RBAD/manifest.json"));
    assert_true(s_exists(f, "R1/manifest.json"));
    assert_true(s_exists(f, "R2/manifest.json"));
    assert_int_equal(s_ops_count(f, "deleted"), 0);

    /* The next clean commit applies it: R1 and R2 go, R3 and R4 (the newest two) stay. */
    fake_row_t *rbad = s_row(f, "RBAD", "nas", false);   /* out of the pending list */
    snprintf(rbad->state, sizeof rbad->state, "failed");
    assert_int_equal(replicator_commit(f->core, "R4", "nas", &err), TF_OK);
    assert_false(s_exists(f, "R1"));
    assert_false(s_exists(f, "R2"));
    assert_true(s_exists(f, "R3/manifest.json"));
    assert_true(s_exists(f, "R4/manifest.json"));
    assert_int_equal(s_ops_count(f, "deleted"), 2);
    assert_string_equal(s_row(f, "R1", "nas", false)->state, "deleted");
    assert_non_null(strstr(s_row(f, "R1", "nas", false)->message, "deleted from "));
    assert_non_null(strstr(s_row(f, "R1", "nas", false)->message, "keep_last 2"));

    /* The only verified copy of a job within its retention stays whatever keep_last says. */
    s_add_job(f, "R5", 1, f->now - 2 * S_DAY);
    s_add_archive(f, "R5-g1", "R5", 1, 1200);
    s_add_job(f, "R6", 1, f->now - 1 * S_DAY);
    s_add_archive(f, "R6-g1", "R6", 1, 1300);
    assert_int_equal(tf_config_set(f->cfg, "pools/default/replica_keep_last", "1"), 0);
    assert_int_equal(s_deliver(f, "R5-g1", true, 1, &err), TF_OK);
    assert_int_equal(s_deliver(f, "R6-g1", true, 1, &err), TF_OK);
    assert_true(s_exists(f, "R5/manifest.json"));
    assert_true(s_exists(f, "R6/manifest.json"));
    assert_false(s_exists(f, "R3"));
    assert_false(s_exists(f, "R4"));
}

/* A folder without the sentinel (a share not mounted): refused with the target's message. */
static void
test_no_sentinel(void **state)
{
    fixture_t *f = *state;
    s_add_job(f, "J7", 1, f->now);
    s_add_archive(f, "J7-g1", "J7", 1, 1000);
    tf_err_t err = {0};
    assert_int_not_equal(s_deliver(f, "J7-g1", true, 1, &err), TF_OK);
    assert_non_null(strstr(err.message, TF_REPLICA_SENTINEL));
    assert_int_equal(f->fetch_opens, 0);
    assert_false(s_exists(f, ".partial"));
    fake_row_t *row = s_row(f, "J7", "nas", false);
    assert_non_null(row);
    assert_string_equal(row->state, "failed");
    assert_non_null(strstr(row->message, "replication to "));
    assert_non_null(strstr(row->message, TF_REPLICA_SENTINEL));

    /* A target that is not configured fails the same way, naming it. */
    tf_msg_replica_copy_t copy = s_copy_of(f, "J7-g1", true);
    copy.target = "offsite";
    tf_msg_work_t work = {.item_id = "J7-g1-replica-offsite", .job_id = "J7", .attempt = 1};
    assert_int_not_equal(replicator_copy(f->core, &work, &copy, &err), TF_OK);
    fake_row_t *off = s_row(f, "J7", "offsite", false);
    assert_non_null(off);
    assert_non_null(strstr(off->message, "replication to offsite failed: "));
}

/* Leftovers in .partial older than a day go when the job is committed there or unknown to the
   catalog; a young one and one of a job still copying stay. */
static void
test_leftovers(void **state)
{
    fixture_t *f = *state;
    s_init_target(f);
    tf_err_t err = {0};
    s_add_job(f, "L1", 1, f->now);
    s_add_archive(f, "L1-g1", "L1", 1, 800);
    assert_int_equal(s_deliver(f, "L1-g1", true, 1, &err), TF_OK);   /* committed */
    s_add_job(f, "L2", 2, f->now);                                     /* still copying */
    s_add_archive(f, "L2-g1", "L2", 1, 800);
    assert_int_equal(s_deliver(f, "L2-g1", true, 1, &err), TF_OK);
    const char *dirs[] = {".partial/L1", ".partial/GONE", ".partial/YOUNG"};
    for (size_t i = 0; i < 3; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", f->root, dirs[i]);
        assert_int_equal(mkdir(path, 0700), 0);
    }
    /* Age them (and L2's) by the clock: the core compares the folders' mtime with now. */
    f->now += 2 * S_DAY;
    char young[1024];
    snprintf(young, sizeof young, "%s/.partial/YOUNG", f->root);
    struct timeval tv[2];
    tv[0].tv_sec = tv[1].tv_sec = (time_t) ((f->now - 3600 * 1000) / 1000);
    tv[0].tv_usec = tv[1].tv_usec = 0;
    assert_int_equal(utimes(young, tv), 0);
    replicator_sweep(f->core, true);
    assert_false(s_exists(f, ".partial/L1"));
    assert_false(s_exists(f, ".partial/GONE"));
    assert_true(s_exists(f, ".partial/YOUNG"));
    assert_true(s_exists(f, ".partial/L2/L2-g1.data"));
}

/* Retention records the deletion first and removes files only once the catalog has it: a
   refused record leaves the job whole; an accepted one finds the manifest still there. */
static void
test_retention_records_first(void **state)
{
    fixture_t *f = *state;
    s_init_target(f);
    tf_err_t err = {0};
    s_add_job(f, "D1", 1, f->now - 100 * S_DAY);
    s_add_archive(f, "D1-g1", "D1", 1, 1000);
    assert_int_equal(s_deliver(f, "D1-g1", true, 1, &err), TF_OK);
    assert_int_equal(tf_config_set(f->cfg, "pools/default/replica_keep_last", "1"), 0);
    s_add_job(f, "D2", 1, f->now - 90 * S_DAY);
    s_add_archive(f, "D2-g1", "D2", 1, 1000);
    snprintf(f->refuse_op, sizeof f->refuse_op, "deleted");
    assert_int_equal(s_deliver(f, "D2-g1", true, 1, &err), TF_OK);   /* the copy itself is fine */
    assert_int_equal(s_ops_count(f, "deleted"), 1);
    assert_true(s_exists(f, "D1/manifest.json"));
    assert_true(s_exists(f, "D1/D1-g1.data"));
    assert_string_equal(s_row(f, "D1", "nas", false)->state, "verified");

    f->refuse_op[0] = '\0';
    assert_int_equal(replicator_commit(f->core, "D2", "nas", &err), TF_OK);
    assert_int_equal(s_ops_count(f, "deleted"), 2);
    assert_true(f->manifest_at_delete);
    assert_false(s_exists(f, "D1"));
    assert_string_equal(s_row(f, "D1", "nas", false)->state, "deleted");
}

/* A <job>/ without manifest whose row retention deleted is a leftover (a deletion cut short);
   one whose row is copying is a commit cut short and stays for the sweep to finish. */
static void
test_leftover_deleted_job_folder(void **state)
{
    fixture_t *f = *state;
    s_init_target(f);
    tf_err_t err = {0};
    s_add_job(f, "X1", 1, f->now);
    s_add_archive(f, "X1-g1", "X1", 1, 700);
    assert_int_equal(s_deliver(f, "X1-g1", true, 1, &err), TF_OK);
    s_add_job(f, "X2", 1, f->now);
    s_add_archive(f, "X2-g1", "X2", 1, 700);
    s_job(f, "X2")->scanned = false;
    assert_int_equal(s_deliver(f, "X2-g1", true, 1, &err), TF_OK);
    char path[1024], to[1024];
    /* X1: the catalog recorded the deletion, the crash came after the manifest went. */
    snprintf(path, sizeof path, "%s/X1/%s", f->root, TF_REPLICA_MANIFEST);
    assert_int_equal(unlink(path), 0);
    snprintf(s_row(f, "X1", "nas", false)->state, sizeof s_row(f, "X1", "nas", false)->state, "deleted");
    /* X2: renamed into place, manifest not yet written, the job not ready: it stays. */
    snprintf(path, sizeof path, "%s/.partial/X2", f->root);
    snprintf(to, sizeof to, "%s/X2", f->root);
    assert_int_equal(rename(path, to), 0);
    replicator_sweep(f->core, true);
    assert_false(s_exists(f, "X1"));
    assert_true(s_exists(f, "X2/X2-g1.data"));
}

/* A commit the sweep cannot do is recorded as failed with its reason, not only logged. */
static void
test_sweep_commit_failure_recorded(void **state)
{
    fixture_t *f = *state;
    s_init_target(f);
    tf_err_t err = {0};
    s_add_job(f, "S1", 1, f->now);
    s_add_archive(f, "S1-g1", "S1", 1, 900);
    s_job(f, "S1")->scanned = false;
    assert_int_equal(s_deliver(f, "S1-g1", true, 1, &err), TF_OK);
    char path[1024];
    snprintf(path, sizeof path, "%s/.partial/S1/S1-g1.data", f->root);
    assert_int_equal(unlink(path), 0);
    s_job(f, "S1")->scanned = true;
    assert_int_equal(replicator_sweep(f->core, false), 0);
    fake_row_t *row = s_row(f, "S1", "nas", false);
    assert_string_equal(row->state, "failed");
    assert_false(row->final);
    assert_non_null(strstr(row->message, "replication to "));
    assert_non_null(strstr(row->message, "S1-g1.data is missing"));
    /* No retry is promised: the archive's holding copy may be gone. */
    assert_null(strstr(row->message, "job retry"));
    assert_non_null(strstr(row->message, "back the job up again"));
}

/* A job that stored no archive (ready with none copied) is committed: an empty folder and a
   manifest listing no archives. */
static void
test_sweep_commits_empty_job(void **state)
{
    fixture_t *f = *state;
    s_init_target(f);
    s_add_job(f, "E1", 0, f->now);
    fake_row_t *row = s_row(f, "E1", "nas", true);
    snprintf(row->url, sizeof row->url, "%s", f->url);
    row->required = true;
    assert_int_equal(replicator_sweep(f->core, false), 1);
    assert_string_equal(row->state, "verified");
    assert_true(s_exists(f, "E1/manifest.json"));
    assert_false(s_exists(f, ".partial/E1"));
    tf_err_t err = {0};
    tf_replica_conf_t conf;
    assert_int_equal(tf_replica_conf(f->cfg, "nas", &conf, &err), TF_OK);
    tf_target_t *target = tf_replica_connect(&conf, NULL, 0, &err);
    assert_non_null(target);
    tf_replica_manifest_t m;
    int rc = tf_replica_manifest_read(target, "E1", &m, &err);
    if (rc != TF_OK)
        fail_msg("manifest: %s", err.message);
    assert_int_equal(m.archives_count, 0);
    assert_int_equal(m.stored, 0);
    tf_replica_manifest_clear(&m);
    tf_target_destroy(&target);
}

/* Only a payload that is no good replica_copy fails for good (TF_ERR_PROTO); a garbled answer of
   the stager or the catalog to a good item is retried. */
static void
test_proto_answers_are_retried(void **state)
{
    fixture_t *f = *state;
    s_init_target(f);
    s_add_job(f, "P1", 1, f->now);
    s_add_archive(f, "P1-g1", "P1", 1, 600);
    tf_err_t err = {0};
    f->fetch_proto = true;
    int rc = s_deliver(f, "P1-g1", true, 1, &err);
    assert_int_not_equal(rc, TF_OK);
    assert_int_not_equal(rc, TF_ERR_PROTO);
    assert_non_null(strstr(err.message, "does not decode"));
    f->fetch_proto = false;
    f->catalog_proto = true;
    rc = s_deliver(f, "P1-g1", true, 2, &err);
    assert_int_not_equal(rc, TF_OK);
    assert_int_not_equal(rc, TF_ERR_PROTO);
    f->catalog_proto = false;
    assert_int_equal(s_deliver(f, "P1-g1", true, 3, &err), TF_OK);

    tf_msg_replica_copy_t copy = s_copy_of(f, "P1-g1", true);
    copy.checksum = NULL;
    tf_msg_work_t work = {.item_id = "P1-g1-replica-nas", .job_id = "P1", .attempt = 1};
    assert_int_equal(replicator_copy(f->core, &work, &copy, &err), TF_ERR_PROTO);
}

/* A password in a target's smb:// URL is refused, and neither the error nor the row quotes it. */
static void
test_password_url_refused(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(tf_config_set(f->cfg, "replicas/pw/url", "smb://bob:S3cretPw@nas.example/backup/tf"), 0);
    s_add_job(f, "W1", 1, f->now);
    s_add_archive(f, "W1-g1", "W1", 1, 500);
    tf_msg_replica_copy_t copy = s_copy_of(f, "W1-g1", true);
    copy.target = "pw";
    tf_msg_work_t work = {.item_id = "W1-g1-replica-pw", .job_id = "W1", .attempt = 1};
    tf_err_t err = {0};
    assert_int_not_equal(replicator_copy(f->core, &work, &copy, &err), TF_OK);
    assert_non_null(strstr(err.message, "put the password in replicas/pw/credentials"));
    assert_null(strstr(err.message, "S3cret"));
    fake_row_t *row = s_row(f, "W1", "pw", false);
    assert_non_null(row);
    assert_string_equal(row->state, "failed");
    assert_null(strstr(row->message, "S3cret"));
    assert_null(strstr(row->url, "S3cret"));
    assert_int_equal(f->fetch_opens, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_copy_end_to_end, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_redelivery_skips_copy, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_stale_ready_asked_again, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_wrong_bytes_fail, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_optional_last_attempt_gives_up, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_commit_idempotent, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_retention, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_no_sentinel, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_leftovers, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_retention_records_first, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_leftover_deleted_job_folder, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_sweep_commit_failure_recorded, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_sweep_commits_empty_job, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_proto_answers_are_retried, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_password_url_refused, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
