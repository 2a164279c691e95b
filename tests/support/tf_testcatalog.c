/*  tf_testcatalog - a real catalog in a temporary folder for unit tests (tf_testcatalog.h). */
#include "tf_testcatalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_testproc.h"

static int64_t
s_clock(void *arg)
{
    return ((tf_testcatalog_t *) arg)->now;
}

tf_testcatalog_t *
tf_testcatalog_new(const char *prefix, int64_t now)
{
    tf_testcatalog_t *self = calloc(1, sizeof *self);
    if (!self) {
        fprintf(stderr, "tf_testcatalog: out of memory\n");
        return NULL;
    }
    self->now = now;
    self->dir = tf_test_tempdir(prefix);
    if (!self->dir) {
        fprintf(stderr, "tf_testcatalog: cannot make a temporary folder\n");
        free(self);
        return NULL;
    }
    snprintf(self->db, sizeof self->db, "%s/catalog.db", self->dir);
    tf_err_t err = {0};
    self->cat = catalog_open(self->db, &err);
    if (!self->cat) {
        fprintf(stderr, "tf_testcatalog: %s\n", err.message);
        tf_testcatalog_destroy(&self);
        return NULL;
    }
    catalog_set_clock(self->cat, s_clock, self);
    return self;
}

void
tf_testcatalog_destroy(tf_testcatalog_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tf_testcatalog_t *self = *self_p;
    catalog_destroy(&self->cat);
    if (self->dir)
        tf_test_rmtree(self->dir);
    free(self->dir);
    free(self);
    *self_p = NULL;
}

int
tf_testcatalog_item(tf_testcatalog_t *self, const tf_msg_t *msg, tf_msg_t *reply)
{
    if (reply)
        memset(reply, 0, sizeof *reply);
    uint8_t *data = NULL;
    size_t size = 0;
    tf_err_clear(&self->err);
    if (tf_msg_encode(msg, &data, &size, &self->err) != TF_OK)
        return TF_ERR_PROTO;
    tf_msg_work_t work = {.item_id = "item-1", .service = "catalog", .attempt = 1, .payload = {data, size}};
    tf_msg_t raw;
    int rc = catalog_handle_item(self->cat, &work, &raw, &self->err);
    free(data);
    data = NULL;
    if (rc == TF_OK && reply
        && (tf_msg_encode(&raw, &data, &size, &self->err) != TF_OK
            || tf_msg_decode(data, size, reply, &self->err) != TF_OK))
        rc = TF_ERR_PROTO;
    free(data);
    tf_msg_clear(&raw);
    return rc;
}
