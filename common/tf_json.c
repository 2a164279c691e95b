/*  tf_json - a small streaming JSON writer. */
#include "tf_json.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TF_JSON_MAX_DEPTH 32

struct _tf_json_t {
    char *buf;
    size_t len, cap;
    bool failed;                       /* out of memory: text becomes NULL */
    int depth;
    bool has_items[TF_JSON_MAX_DEPTH]; /* whether a comma is due at each level */
};

tf_json_t *
tf_json_new(void)
{
    tf_json_t *self = calloc(1, sizeof *self);
    return self;
}

void
tf_json_destroy(tf_json_t **self_p)
{
    if (self_p && *self_p) {
        free((*self_p)->buf);
        free(*self_p);
        *self_p = NULL;
    }
}

static void
s_append(tf_json_t *self, const char *data, size_t size)
{
    if (self->failed)
        return;
    if (self->len + size + 1 > self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 256;
        while (cap < self->len + size + 1)
            cap *= 2;
        char *buf = realloc(self->buf, cap);
        if (!buf) {
            self->failed = true;
            return;
        }
        self->buf = buf;
        self->cap = cap;
    }
    memcpy(self->buf + self->len, data, size);
    self->len += size;
    self->buf[self->len] = '\0';
}

static void
s_append_str(tf_json_t *self, const char *s)
{
    s_append(self, s, strlen(s));
}

static void
s_quote(tf_json_t *self, const char *s)
{
    s_append(self, "\"", 1);
    for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
        char esc[8];
        switch (*p) {
        case '"': s_append(self, "\\\"", 2); break;
        case '\\': s_append(self, "\\\\", 2); break;
        case '\n': s_append(self, "\\n", 2); break;
        case '\r': s_append(self, "\\r", 2); break;
        case '\t': s_append(self, "\\t", 2); break;
        default:
            if (*p < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", *p);
                s_append_str(self, esc);
            }
            else
                s_append(self, (const char *) p, 1);
        }
    }
    s_append(self, "\"", 1);
}

/* Emits the comma and key that precede any value at the current level. */
static void
s_prefix(tf_json_t *self, const char *key)
{
    if (self->depth > 0) {
        if (self->has_items[self->depth - 1])
            s_append(self, ",", 1);
        self->has_items[self->depth - 1] = true;
    }
    if (key) {
        s_quote(self, key);
        s_append(self, ":", 1);
    }
}

static void
s_open(tf_json_t *self, const char *key, const char *bracket)
{
    s_prefix(self, key);
    s_append_str(self, bracket);
    if (self->depth < TF_JSON_MAX_DEPTH)
        self->has_items[self->depth] = false;
    self->depth++;
}

static void
s_close(tf_json_t *self, const char *bracket)
{
    if (self->depth > 0)
        self->depth--;
    s_append_str(self, bracket);
}

void tf_json_object_begin(tf_json_t *self, const char *key) { s_open(self, key, "{"); }
void tf_json_object_end(tf_json_t *self) { s_close(self, "}"); }
void tf_json_array_begin(tf_json_t *self, const char *key) { s_open(self, key, "["); }
void tf_json_array_end(tf_json_t *self) { s_close(self, "]"); }

void
tf_json_document_begin(tf_json_t *self)
{
    tf_json_object_begin(self, NULL);
    tf_json_int(self, "schema", TF_JSON_SCHEMA);
}

void
tf_json_str(tf_json_t *self, const char *key, const char *value)
{
    s_prefix(self, key);
    if (value)
        s_quote(self, value);
    else
        s_append_str(self, "null");
}

void
tf_json_int(tf_json_t *self, const char *key, int64_t value)
{
    char num[32];
    snprintf(num, sizeof num, "%" PRId64, value);
    s_prefix(self, key);
    s_append_str(self, num);
}

void
tf_json_double(tf_json_t *self, const char *key, double value)
{
    char num[64];
    if (!isfinite(value))
        snprintf(num, sizeof num, "null");
    else
        snprintf(num, sizeof num, "%.6g", value);
    s_prefix(self, key);
    s_append_str(self, num);
}

void
tf_json_bool(tf_json_t *self, const char *key, bool value)
{
    s_prefix(self, key);
    s_append_str(self, value ? "true" : "false");
}

void
tf_json_null(tf_json_t *self, const char *key)
{
    s_prefix(self, key);
    s_append_str(self, "null");
}

const char *
tf_json_text(tf_json_t *self)
{
    if (self->failed)
        return NULL;
    return self->buf ? self->buf : "";
}

void
tf_json_reset(tf_json_t *self)
{
    self->len = 0;
    self->depth = 0;
    self->failed = false;
    if (self->buf)
        self->buf[0] = '\0';
}

int
tf_json_print(tf_json_t *self, FILE *out)
{
    const char *text = self ? tf_json_text(self) : NULL;
    if (!text)
        return -1;
    fprintf(out, "%s\n", text);
    return 0;
}
