/*  msg_sample - see msg_sample.h. */
#include "msg_sample.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_BLOB_LIMIT (1u << 20)  /* byte strings in TF_SAMPLE_LIMITS */

typedef struct s_block_s {
    struct s_block_s *next;
    alignas(max_align_t) unsigned char data[];
} s_block_t;

struct _tf_msg_sample_t {
    s_block_t *blocks;
    unsigned counter;  /* one per value made in a fill: neighbouring fields differ */
    int failed;
};

/* Unsigned values that are not 0 and take every msgpack encoding (fixint, uint8..uint64). */
static const uint64_t s_uints[] = {
    UINT64_MAX, 1, 127, 128, 255, 256, 65535, 65536, 4294967295ull, 4294967296ull, 1795000000123ull,
    0x8000000000000000ull,
};
/* Signed values that are not 0, negative and positive, of every width. */
static const int64_t s_ints[] = {
    INT64_MIN, -1, INT64_MAX, -32, -33, 127, -128, -129, 32767, -32769, 2147483648ll,
    -2147483649ll, 1795000000123ll,
};
#define S_COUNT(a) (sizeof(a) / sizeof((a)[0]))

tf_msg_sample_t *
tf_msg_sample_new(void)
{
    return calloc(1, sizeof(tf_msg_sample_t));
}

void
tf_msg_sample_destroy(tf_msg_sample_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tf_msg_sample_t *self = *self_p;
    while (self->blocks) {
        s_block_t *next = self->blocks->next;
        free(self->blocks);
        self->blocks = next;
    }
    free(self);
    *self_p = NULL;
}

void *
tf_msg_sample_alloc(tf_msg_sample_t *self, size_t size)
{
    s_block_t *block = calloc(1, sizeof *block + (size ? size : 1));
    if (!block) {
        self->failed = 1;
        return NULL;
    }
    block->next = self->blocks;
    self->blocks = block;
    return block->data;
}

/* A string for rec.key: its name and a number, sometimes with UTF-8, cut to max bytes (at an
   ASCII character). LIMITS: exactly max bytes. */
static char *
s_string(tf_msg_sample_t *self, const tf_msg_desc_t *rec, const tf_msg_field_t *f, tf_sample_mode_t mode)
{
    unsigned n = self->counter++;
    if (mode == TF_SAMPLE_EMPTY)
        return tf_msg_sample_alloc(self, 1);
    if (mode == TF_SAMPLE_LIMITS) {
        char *s = tf_msg_sample_alloc(self, f->max + 1);
        if (s)
            memset(s, 'a' + (int) (n % 26), f->max);
        return s;
    }
    char text[160];
    int len = snprintf(text, sizeof text, "%s.%s %u%s", rec->name, f->key, n,
                       n % 3 == 0 ? " \xc3\xa9t\xc3\xa9 / x" : "");
    size_t keep = (size_t) len < f->max ? (size_t) len : f->max;
    while (keep > 0 && ((unsigned char) text[keep] & 0xc0) == 0x80)
        keep--;  /* not in the middle of a UTF-8 sequence */
    if (keep == 0)
        keep = f->max < 1 ? 0 : 1;
    char *s = tf_msg_sample_alloc(self, keep + 1);
    if (s)
        memcpy(s, text, keep);
    return s;
}

static tf_bytes_t
s_bytes(tf_msg_sample_t *self, tf_sample_mode_t mode)
{
    unsigned n = self->counter++;
    if (mode == TF_SAMPLE_EMPTY || mode == TF_SAMPLE_MIN)
        return (tf_bytes_t){tf_msg_sample_alloc(self, 1), 0};
    size_t size = mode == TF_SAMPLE_LIMITS ? S_BLOB_LIMIT : 5 + n % 7;
    uint8_t *data = tf_msg_sample_alloc(self, size);
    if (!data)
        return (tf_bytes_t){NULL, 0};
    /* NUL, the byte msgpack never uses (0xc1) and format bytes, whatever the size */
    static const uint8_t head[] = {0x00, 0xc1, 0xff, 0xd4, 0x80};
    for (size_t i = 0; i < size; i++)
        data[i] = i < sizeof head ? head[i] : (uint8_t) (i * 7u + n);
    return (tf_bytes_t){data, size};
}

static void s_fill_record(tf_msg_sample_t *self, const tf_msg_desc_t *rec, void *body,
                          tf_sample_mode_t mode, size_t rows);

static void
s_fill_field(tf_msg_sample_t *self, const tf_msg_desc_t *rec, const tf_msg_field_t *f, void *body,
             tf_sample_mode_t mode, size_t rows)
{
    char *at = (char *) body + f->offset;
    /* MIN: optional fields stay absent (NULL, 0, false, no rows) */
    bool set = mode != TF_SAMPLE_MIN || f->required;
    switch (f->kind) {
    case TF_MSG_FIELD_BOOL: {
        bool v = set && mode != TF_SAMPLE_EMPTY;
        memcpy(at, &v, sizeof v);
        break;
    }
    case TF_MSG_FIELD_UINT: {
        unsigned n = self->counter++;
        uint64_t v = !set || mode == TF_SAMPLE_EMPTY ? 0
                     : mode == TF_SAMPLE_LIMITS      ? UINT64_MAX
                                                     : s_uints[n % S_COUNT(s_uints)];
        memcpy(at, &v, sizeof v);
        break;
    }
    case TF_MSG_FIELD_INT: {
        unsigned n = self->counter++;
        int64_t v = !set || mode == TF_SAMPLE_EMPTY ? 0
                    : mode == TF_SAMPLE_LIMITS      ? (n % 2 ? INT64_MAX : INT64_MIN)
                                                    : s_ints[n % S_COUNT(s_ints)];
        memcpy(at, &v, sizeof v);
        break;
    }
    case TF_MSG_FIELD_STR: {
        char *v = set ? s_string(self, rec, f, mode) : NULL;
        memcpy(at, &v, sizeof v);
        break;
    }
    case TF_MSG_FIELD_BIN: {
        tf_bytes_t v = set ? s_bytes(self, mode) : (tf_bytes_t){NULL, 0};
        memcpy(at, &v, sizeof v);
        break;
    }
    case TF_MSG_FIELD_ROWS: {
        size_t count = mode == TF_SAMPLE_EMPTY ? 0 : rows < f->max ? rows : f->max;
        char *array = count ? tf_msg_sample_alloc(self, count * f->elem->size) : NULL;
        if (!array)
            count = 0;
        for (size_t i = 0; i < count; i++)
            s_fill_record(self, f->elem, array + i * f->elem->size, mode, rows);
        memcpy(at, &array, sizeof array);
        memcpy((char *) body + f->count_offset, &count, sizeof count);
        break;
    }
    }
}

static void
s_fill_record(tf_msg_sample_t *self, const tf_msg_desc_t *rec, void *body, tf_sample_mode_t mode,
              size_t rows)
{
    for (size_t i = 0; i < rec->nfields; i++)
        s_fill_field(self, rec, &rec->fields[i], body, mode, rows);
}

int
tf_msg_sample_fill(tf_msg_sample_t *self, tf_msg_t *m, tf_msg_type_t type, tf_sample_mode_t mode,
                   size_t rows)
{
    memset(m, 0, sizeof *m);
    const tf_msg_desc_t *desc = tf_msg_desc(type);
    if (!desc)
        return -1;
    self->failed = 0;
    self->counter = 0;  /* the same type and mode give the same message, whatever came before */
    m->type = type;
    s_fill_record(self, desc, TF_MSG_BODY(m), mode, rows);
    if (self->failed) {
        memset(m, 0, sizeof *m);
        return -1;
    }
    return 0;
}
