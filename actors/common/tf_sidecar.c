/*  tf_sidecar - the file rows sidecar's records (see tf_sidecar.h). */
#include "tf_sidecar.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct _tf_sidecar_t {
    tf_msg_t *parts;            /* decoded stage_rows, owning the rows' strings */
    size_t nparts;
    tf_msg_file_row_t *rows;    /* shallow copies of every part's rows, in order */
    size_t count;
};

int
tf_sidecar_record(const tf_msg_stage_rows_t *part, uint8_t **data, size_t *size, tf_err_t *err)
{
    *data = NULL;
    *size = 0;
    tf_msg_t msg = {.type = TF_MSG_STAGE_ROWS};
    msg.stage_rows = *part;
    uint8_t *body = NULL;
    size_t len = 0;
    int rc = tf_msg_encode(&msg, &body, &len, err);
    if (rc != TF_OK)
        return rc;
    if (len > UINT32_MAX) {
        free(body);
        return tf_err_set(err, TF_ERR_TOOBIG, "part %" PRIu64 " of the file rows of archive %s is %zu bytes, "
                          "more than a sidecar record holds", part->part, part->archive_id, len);
    }
    uint8_t *record = malloc(TF_SIDECAR_PREFIX + len);
    if (!record) {
        free(body);
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    }
    record[0] = (uint8_t) (len >> 24);
    record[1] = (uint8_t) (len >> 16);
    record[2] = (uint8_t) (len >> 8);
    record[3] = (uint8_t) len;
    memcpy(record + TF_SIDECAR_PREFIX, body, len);
    free(body);
    *data = record;
    *size = TF_SIDECAR_PREFIX + len;
    return TF_OK;
}

/* Appends part's rows (shallow) to self->rows. */
static int
s_append_rows(tf_sidecar_t *self, const tf_msg_stage_rows_t *part, tf_err_t *err)
{
    if (part->files_count == 0)
        return TF_OK;
    tf_msg_file_row_t *rows = realloc(self->rows, (self->count + part->files_count) * sizeof *rows);
    if (!rows)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory for file rows");
    memcpy(rows + self->count, part->files, part->files_count * sizeof *rows);
    self->rows = rows;
    self->count += part->files_count;
    return TF_OK;
}

tf_sidecar_t *
tf_sidecar_parse(const void *data, size_t size, const char *archive_id, tf_err_t *err)
{
    tf_sidecar_t *self = calloc(1, sizeof *self);
    if (!self) {
        tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    const uint8_t *p = data;
    size_t at = 0;
    int rc = TF_OK;
    while (rc == TF_OK && at < size) {
        uint64_t want = self->nparts + 1;
        if (size - at < TF_SIDECAR_PREFIX) {
            rc = tf_err_set(err, TF_ERR_INVALID, "record %" PRIu64 " at byte %zu is cut short (%zu bytes left)",
                            want, at, size - at);
            break;
        }
        size_t len = (size_t) p[at] << 24 | (size_t) p[at + 1] << 16 | (size_t) p[at + 2] << 8 | p[at + 3];
        at += TF_SIDECAR_PREFIX;
        if (len == 0 || len > size - at) {
            rc = tf_err_set(err, TF_ERR_INVALID, "record %" PRIu64 " at byte %zu says %zu bytes, %zu are left",
                            want, at - TF_SIDECAR_PREFIX, len, size - at);
            break;
        }
        tf_msg_t *parts = realloc(self->parts, (self->nparts + 1) * sizeof *parts);
        if (!parts) {
            rc = tf_err_set(err, TF_ERR_NOMEM, "out of memory");
            break;
        }
        self->parts = parts;
        tf_msg_t *msg = &self->parts[self->nparts];
        tf_err_t derr = {0};
        if (tf_msg_decode(p + at, len, msg, &derr) != TF_OK) {
            rc = tf_err_set(err, TF_ERR_INVALID, "record %" PRIu64 " does not decode: %s", want, derr.message);
            break;
        }
        self->nparts++;
        if (msg->type != TF_MSG_STAGE_ROWS)
            rc = tf_err_set(err, TF_ERR_INVALID, "record %" PRIu64 " is not stage_rows but %s", want,
                            tf_msg_type_name(msg->type));
        else if (strcmp(msg->stage_rows.archive_id, archive_id) != 0)
            rc = tf_err_set(err, TF_ERR_INVALID, "record %" PRIu64 " holds rows of archive %s", want,
                            msg->stage_rows.archive_id);
        else if (msg->stage_rows.part != want)
            rc = tf_err_set(err, TF_ERR_INVALID, "record %" PRIu64 " is part %" PRIu64, want,
                            msg->stage_rows.part);
        else
            rc = s_append_rows(self, &msg->stage_rows, err);
        at += len;
    }
    if (rc == TF_OK && self->nparts == 0)
        rc = tf_err_set(err, TF_ERR_INVALID, "it holds no record");
    if (rc != TF_OK) {
        tf_err_prefix(err, "file rows sidecar of archive %s: ", archive_id);
        tf_sidecar_destroy(&self);
        return NULL;
    }
    return self;
}

void
tf_sidecar_destroy(tf_sidecar_t **self_p)
{
    if (self_p && *self_p) {
        tf_sidecar_t *self = *self_p;
        for (size_t i = 0; i < self->nparts; i++)
            tf_msg_clear(&self->parts[i]);
        free(self->parts);
        free(self->rows);
        free(self);
        *self_p = NULL;
    }
}

size_t tf_sidecar_parts(const tf_sidecar_t *self) { return self->nparts; }
size_t tf_sidecar_count(const tf_sidecar_t *self) { return self->count; }
const tf_msg_file_row_t *tf_sidecar_rows(const tf_sidecar_t *self) { return self->rows; }
