/*  msg_check - see msg_check.h. */
#include "msg_check.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool __attribute__((format(printf, 3, 4)))
s_differ(char *why, size_t why_size, const char *fmt, ...)
{
    if (why && why_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, why_size, fmt, ap);
        va_end(ap);
    }
    return false;
}

static bool
s_str_eq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

static bool
s_bytes_eq(const tf_bytes_t *a, const tf_bytes_t *b)
{
    if (!a->data || !b->data)
        return a->data == b->data && a->size == b->size;
    return a->size == b->size && (a->size == 0 || memcmp(a->data, b->data, a->size) == 0);
}

static bool s_record_eq(const tf_msg_desc_t *rec, const void *a, const void *b, const char *where,
                        char *why, size_t why_size);

/* One field of two structs described by rec; `where` names the struct ("work",
   "status.services[2]"). */
static bool
s_field_eq(const tf_msg_field_t *f, const void *a, const void *b, const char *where, char *why,
           size_t why_size)
{
    const char *pa = (const char *) a + f->offset, *pb = (const char *) b + f->offset;
    switch (f->kind) {
    case TF_MSG_FIELD_BOOL: {
        bool va, vb;
        memcpy(&va, pa, sizeof va);
        memcpy(&vb, pb, sizeof vb);
        return va == vb || s_differ(why, why_size, "%s.%s: %d != %d", where, f->key, (int) va, (int) vb);
    }
    case TF_MSG_FIELD_UINT: {
        uint64_t va, vb;
        memcpy(&va, pa, sizeof va);
        memcpy(&vb, pb, sizeof vb);
        return va == vb
               || s_differ(why, why_size, "%s.%s: %" PRIu64 " != %" PRIu64, where, f->key, va, vb);
    }
    case TF_MSG_FIELD_INT: {
        int64_t va, vb;
        memcpy(&va, pa, sizeof va);
        memcpy(&vb, pb, sizeof vb);
        return va == vb
               || s_differ(why, why_size, "%s.%s: %" PRId64 " != %" PRId64, where, f->key, va, vb);
    }
    case TF_MSG_FIELD_STR: {
        const char *va, *vb;
        memcpy(&va, pa, sizeof va);
        memcpy(&vb, pb, sizeof vb);
        return s_str_eq(va, vb)
               || s_differ(why, why_size, "%s.%s: \"%s\" != \"%s\"", where, f->key, va ? va : "(null)",
                           vb ? vb : "(null)");
    }
    case TF_MSG_FIELD_BIN: {
        tf_bytes_t va, vb;
        memcpy(&va, pa, sizeof va);
        memcpy(&vb, pb, sizeof vb);
        return s_bytes_eq(&va, &vb)
               || s_differ(why, why_size, "%s.%s: %zu bytes%s != %zu bytes%s", where, f->key, va.size,
                           va.data ? "" : " (absent)", vb.size, vb.data ? "" : " (absent)");
    }
    case TF_MSG_FIELD_ROWS: {
        const char *ra, *rb;
        size_t na, nb;
        memcpy(&ra, pa, sizeof ra);
        memcpy(&rb, pb, sizeof rb);
        memcpy(&na, (const char *) a + f->count_offset, sizeof na);
        memcpy(&nb, (const char *) b + f->count_offset, sizeof nb);
        if (na != nb)
            return s_differ(why, why_size, "%s.%s_count: %zu != %zu", where, f->key, na, nb);
        for (size_t i = 0; i < na; i++) {
            char row[160];
            snprintf(row, sizeof row, "%s.%s[%zu]", where, f->key, i);
            if (!s_record_eq(f->elem, ra + i * f->elem->size, rb + i * f->elem->size, row, why, why_size))
                return false;
        }
        return true;
    }
    }
    return s_differ(why, why_size, "%s.%s: unknown field kind %d", where, f->key, (int) f->kind);
}

static bool
s_record_eq(const tf_msg_desc_t *rec, const void *a, const void *b, const char *where, char *why,
            size_t why_size)
{
    for (size_t i = 0; i < rec->nfields; i++)
        if (!s_field_eq(&rec->fields[i], a, b, where, why, why_size))
            return false;
    return true;
}

bool
tf_msg_equal(const tf_msg_t *a, const tf_msg_t *b, char *why, size_t why_size)
{
    if (a->type != b->type)
        return s_differ(why, why_size, "type %s != %s", tf_msg_type_name(a->type),
                        tf_msg_type_name(b->type));
    const tf_msg_desc_t *desc = tf_msg_desc(a->type);
    if (!desc)
        return s_differ(why, why_size, "no comparison for type %d", (int) a->type);
    return s_record_eq(desc, TF_MSG_BODY(a), TF_MSG_BODY(b), desc->name, why, why_size);
}

static bool
s_all_zero(const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        if (c[i])
            return false;
    return true;
}

tf_check_result_t
tf_msg_check_roundtrip(const void *data, size_t size, char *why, size_t why_size)
{
    tf_msg_t first, second;
    tf_err_t err = {0};
    int rc = tf_msg_decode(data, size, &first, &err);
    if (rc != TF_OK) {
        bool zeroed = s_all_zero(&first, sizeof first);
        if (rc != TF_ERR_PROTO || err.code != rc || err.message[0] == '\0' || !zeroed) {
            s_differ(why, why_size, "bad rejection: rc %d, err.code %d, message \"%s\"%s", rc,
                     err.code, err.message, zeroed ? "" : ", message not left zeroed");
            return TF_CHECK_BROKEN;
        }
        return TF_CHECK_REJECTED;
    }
    if (first.type <= TF_MSG_NONE || first.type >= TF_MSG_TYPE_COUNT) {
        s_differ(why, why_size, "decoded a message of type %d", (int) first.type);
        tf_msg_clear(&first);
        return TF_CHECK_BROKEN;
    }

    tf_check_result_t result = TF_CHECK_BROKEN;
    uint8_t *enc1 = NULL, *enc2 = NULL;
    size_t size1 = 0, size2 = 0;
    memset(&second, 0, sizeof second);
    if ((rc = tf_msg_encode(&first, &enc1, &size1, &err)) != TF_OK)
        s_differ(why, why_size, "decoded %s does not encode again: %s",
                 tf_msg_type_name(first.type), err.message);
    else if ((rc = tf_msg_decode(enc1, size1, &second, &err)) != TF_OK)
        s_differ(why, why_size, "re-encoded %s does not decode: %s", tf_msg_type_name(first.type),
                 err.message);
    else if (!tf_msg_equal(&first, &second, why, why_size))
        ;  /* why says which field */
    else if ((rc = tf_msg_encode(&second, &enc2, &size2, &err)) != TF_OK)
        s_differ(why, why_size, "second encode of %s failed: %s", tf_msg_type_name(first.type),
                 err.message);
    else if (size1 != size2 || memcmp(enc1, enc2, size1) != 0)
        s_differ(why, why_size, "%s: encoding is not stable (%zu then %zu bytes)",
                 tf_msg_type_name(first.type), size1, size2);
    else
        result = TF_CHECK_DECODED;
    free(enc1);
    free(enc2);
    tf_msg_clear(&second);
    tf_msg_clear(&first);
    return result;
}
