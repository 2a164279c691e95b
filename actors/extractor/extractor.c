/*  extractor - the extract worker (see extractor.h). */
#include "extractor.h"

#include <archive.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_checksum.h"
#include "tf_clock.h"
#include "tf_extract.h"
#include "tf_log.h"
#include "tf_stage_fetch.h"

struct _extractor_t {
    tf_config_t *cfg;
    char host[TF_MSG_MAX_ID + 1];
    char stager[1024];             /* stager/endpoint: where the restore streams are staged */
    tf_stage_fetch_opts_t fetch;
};

/* The stream being read: fetched in order, hashed, and progress reported about once a second. */
typedef struct {
    tf_actor_t *actor;
    const tf_msg_work_t *work;
    const tf_msg_extract_t *req;
    tf_stage_fetch_t *fetch;
    tf_checksum_t *sum;
    uint64_t got;
    int64_t next_progress;
    tf_err_t err;                  /* why the read callback failed */
} s_stream_t;

extractor_t *
extractor_new(tf_config_t *cfg, tf_err_t *err)
{
    extractor_t *self = calloc(1, sizeof *self);
    if (!self) {
        tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    self->cfg = cfg;
    snprintf(self->host, sizeof self->host, "%s", tf_config_str(cfg, "tapeflow/host"));
    snprintf(self->stager, sizeof self->stager, "%s", tf_config_str(cfg, "stager/endpoint"));
    /* The tape writer's fetch settings: one stager, one way of reading from it. */
    self->fetch.chunk = (size_t) tf_config_size(cfg, "tapewriter/fetch_chunk");
    self->fetch.depth = (int) tf_config_int(cfg, "tapewriter/fetch_depth");
    self->fetch.timeout_ms = (int) tf_config_ms(cfg, "tapewriter/fetch_timeout");
    self->fetch.max_message = tf_config_size(cfg, "broker/max_message");
    self->fetch.cfg = cfg;
    return self;
}

void
extractor_destroy(extractor_t **self_p)
{
    if (self_p && *self_p) {
        free(*self_p);
        *self_p = NULL;
    }
}

const char *
extractor_host(extractor_t *self)
{
    return self->host;
}

static bool
s_interrupted(void *arg)
{
    s_stream_t *s = arg;
    return s->actor && tf_actor_interrupted(s->actor);
}

static la_ssize_t
s_read_cb(struct archive *a, void *arg, const void **buf)
{
    s_stream_t *s = arg;
    size_t len = 0;
    if (tf_stage_fetch_next(s->fetch, buf, &len, &s->err) != TF_OK) {
        archive_set_error(a, EIO, "%s", s->err.message);
        return -1;
    }
    tf_checksum_update(s->sum, *buf, len);
    s->got += len;
    if (s->actor && tf_clock_mono_ms() >= s->next_progress) {
        s->next_progress = tf_clock_mono_ms() + 1000;
        char text[TF_MSG_MAX_PATH + 128];
        snprintf(text, sizeof text, "writing the restore of job %s into %s on host %s", s->req->job_id, s->req->dest,
                 s->req->host);
        tf_actor_progress(s->actor, s->work, s->got, s->req->size, text);
    }
    return (la_ssize_t) len;
}

/* Reads what the archive left of the stream (tar padding) and checks size and checksum: the
   stream must be the one the tape writer staged. */
static int
s_verify(s_stream_t *s, tf_err_t *err)
{
    for (;;) {
        const void *buf;
        size_t len = 0;
        int rc = tf_stage_fetch_next(s->fetch, &buf, &len, err);
        if (rc != TF_OK)
            return rc;
        if (len == 0)
            break;
        tf_checksum_update(s->sum, buf, len);
        s->got += len;
    }
    char digest[TF_CHECKSUM_STRLEN];
    tf_checksum_format(s->sum, digest);
    if (s->got != s->req->size || strcmp(digest, s->req->checksum) != 0)
        return tf_err_set(err, TF_ERR_IO,
                          "restore stream %s read from the stager is %" PRIu64 " bytes with checksum %s, the tape "
                          "writer staged %" PRIu64 " bytes with checksum %s", s->req->archive_id, s->got, digest,
                          s->req->size, s->req->checksum);
    return TF_OK;
}

static int
s_extract(extractor_t *self, s_stream_t *s, tf_extract_t *ex, tf_err_t *err)
{
    const tf_msg_extract_t *req = s->req;
    s->fetch = tf_stage_fetch_new(self->stager, NULL, req->archive_id, req->size, &self->fetch, err);
    if (!s->fetch)
        return err->code;
    struct archive *in = archive_read_new();
    if (!in)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    archive_read_support_filter_all(in);
    archive_read_support_format_tar(in);
    int rc = TF_OK;
    if (archive_read_open(in, s, NULL, s_read_cb, NULL) != ARCHIVE_OK)
        rc = tf_err_set(err, TF_ERR_IO, "cannot open restore stream %s: %s", req->archive_id,
                        s->err.message[0] ? s->err.message : archive_error_string(in));
    if (rc == TF_OK)
        rc = tf_extract_archive(ex, in, NULL, err);
    archive_read_free(in);
    if (rc == TF_OK)
        rc = s_verify(s, err);
    return rc;
}

static int
s_on_extract(tf_actor_t *actor, const tf_msg_work_t *work, const tf_msg_t *payload, void *arg, tf_err_t *err)
{
    extractor_t *self = arg;
    const tf_msg_extract_t *req = &payload->extract;
    /* Written only on the host the operator named: an item that reached another host (a broker
       without host routing) goes back for the right extractor. */
    if (strcmp(req->host, self->host) != 0)
        return tf_err_set(err, TF_ERR_IO, "restore of job %s into %s:%s reached the extractor of host %s: "
                          "it is for the extractor of host %s", req->job_id, req->host, req->dest, self->host,
                          req->host);
    s_stream_t s = {.actor = actor, .work = work, .req = req, .sum = tf_checksum_new()};
    if (!s.sum)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    tf_extract_opts_t eo = {.dest = req->dest, .overwrite = req->overwrite,
                            .strip_components = req->strip_components, .flat = req->flat,
                            .prefixed_paths = req->host_prefixed, .skip = req->partial,
                            .skip_count = req->partial_count, .interrupted = s_interrupted, .arg = &s};
    tf_extract_t *ex = tf_extract_new(&eo, err);
    int rc = ex ? s_extract(self, &s, ex, err) : err->code;
    if (ex)
        tf_extract_finish(ex, false);
    if (rc == TF_OK) {
        const tf_extract_counts_t *c = tf_extract_counts(ex);
        char warnings[800], message[TF_MSG_MAX_PATH + 256];
        tf_extract_warning_text(ex, warnings, sizeof warnings);
        snprintf(message, sizeof message, "wrote %" PRIu64 " files (%" PRIu64 " bytes) into %s on host %s%s%s",
                 c->files, c->bytes, req->dest, self->host, c->present ? " (some were already present)" : "",
                 c->warnings ? "; with warnings" : "");
        tf_log_info("%s", message);
        tf_msg_t result = {.type = TF_MSG_EXTRACT_RESULT};
        result.extract_result = (tf_msg_extract_result_t){
            .files = c->files, .bytes = c->bytes, .warnings = c->warnings, .refused = c->refused, .kept = c->kept,
            .collisions = c->collisions, .present = c->present, .message = message, .warning_text = warnings,
            .host = self->host, .stripped = c->stripped, .unwritable = c->unwritable};
        rc = tf_actor_set_result_msg(actor, &result, err);
    }
    else
        tf_log_warn("restore of job %s into %s: %s", req->job_id, req->dest, err->message);
    tf_extract_destroy(&ex);
    tf_stage_fetch_destroy(&s.fetch);
    tf_checksum_destroy(&s.sum);
    return rc;
}

const tf_actor_route_t extractor_routes[] = {
    {TF_MSG_EXTRACT, s_on_extract},
    TF_ACTOR_ROUTES_END
};
