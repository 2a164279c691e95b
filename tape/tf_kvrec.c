/*  tf_kvrec - fixed-size key=value records (see tf_kvrec.h). */
#include "tf_kvrec.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct _tf_kvrec_t {
    uint8_t data[TF_KVREC_SIZE];
    size_t used;
};

tf_kvrec_t *
tf_kvrec_new(const char *magic)
{
    tf_kvrec_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    size_t len = strlen(magic);
    if (len + 1 >= TF_KVREC_SIZE) {
        free(self);
        return NULL;
    }
    memcpy(self->data, magic, len);
    self->data[len] = '\n';
    self->used = len + 1;
    return self;
}

void
tf_kvrec_destroy(tf_kvrec_t **self_p)
{
    if (self_p && *self_p) {
        free(*self_p);
        *self_p = NULL;
    }
}

int
tf_kvrec_put(tf_kvrec_t *self, const char *key, const char *value, tf_err_t *err)
{
    if (!value)
        value = "";
    if (strchr(value, '\n') || strchr(key, '\n') || strchr(key, '='))
        return tf_err_set(err, TF_ERR_INVALID, "record field %s: a value may not contain a line break", key);
    size_t klen = strlen(key), vlen = strlen(value);
    if (self->used + klen + vlen + 2 >= TF_KVREC_SIZE)
        return tf_err_set(err, TF_ERR_TOOBIG, "record field %s does not fit in a %d-byte record", key,
                          TF_KVREC_SIZE);
    memcpy(self->data + self->used, key, klen);
    self->used += klen;
    self->data[self->used++] = '=';
    memcpy(self->data + self->used, value, vlen);
    self->used += vlen;
    self->data[self->used++] = '\n';
    return TF_OK;
}

int
tf_kvrec_put_u64(tf_kvrec_t *self, const char *key, uint64_t value, tf_err_t *err)
{
    char text[24];
    snprintf(text, sizeof text, "%" PRIu64, value);
    return tf_kvrec_put(self, key, text, err);
}

const uint8_t *
tf_kvrec_data(tf_kvrec_t *self)
{
    return self->data;
}

bool
tf_kvrec_is(const void *data, size_t len, const char *magic)
{
    size_t mlen = strlen(magic);
    return len > mlen && memcmp(data, magic, mlen) == 0 && ((const char *) data)[mlen] == '\n';
}

int
tf_kvrec_get(const void *data, size_t len, const char *key, char *out, size_t size)
{
    const char *p = data;
    const char *end = p + len;
    const void *nul = memchr(p, '\0', len);
    if (nul)
        end = nul;
    size_t klen = strlen(key);
    /* Skip the magic line. */
    const char *line = memchr(p, '\n', (size_t) (end - p));
    if (!line)
        return TF_ERR_NOTFOUND;
    line++;
    while (line < end) {
        const char *eol = memchr(line, '\n', (size_t) (end - line));
        if (!eol)
            eol = end;
        if ((size_t) (eol - line) > klen && memcmp(line, key, klen) == 0 && line[klen] == '=') {
            size_t vlen = (size_t) (eol - line) - klen - 1;
            if (vlen + 1 > size)
                return TF_ERR_TOOBIG;
            memcpy(out, line + klen + 1, vlen);
            out[vlen] = '\0';
            return TF_OK;
        }
        line = eol + 1;
    }
    return TF_ERR_NOTFOUND;
}

int
tf_kvrec_get_u64(const void *data, size_t len, const char *key, uint64_t *value)
{
    char text[32];
    int rc = tf_kvrec_get(data, len, key, text, sizeof text);
    if (rc != TF_OK)
        return rc;
    if (text[0] < '0' || text[0] > '9')
        return TF_ERR_INVALID;
    errno = 0;
    char *endp = NULL;
    unsigned long long v = strtoull(text, &endp, 10);
    if (errno != 0 || *endp != '\0')
        return TF_ERR_INVALID;
    *value = (uint64_t) v;
    return TF_OK;
}
