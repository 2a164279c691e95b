/*  test_codec - the message catalogue's msgpack codec (proto/tf_msg.c).

    Generic over the catalogue: the field tables (tf_msg_desc) describe their structs, and
    every type in TF_MSG_TYPES, filled from its table (msg_sample), round-trips in every sample
    mode, with every rows field at 0..3 rows, shows the wire format its table says to
    msgpack-c's own unpacker, and has every required or over-long field refused. Written by
    hand: what tables cannot say - every decode rejection rule with its error message
    (malformed inputs built with msgpack-c's packer or as raw bytes), and what some fields
    mean.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <inttypes.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg_check.h"
#include "msg_sample.h"
#include "tf_msg.h"

/* ----------------------------------------------------------------- helpers ----------- */

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static const tf_msg_type_t s_all_types[] = {
#define TYPE_(E, N, S, M) TF_MSG_##E,
    TF_MSG_TYPES(TYPE_)
#undef TYPE_
};
static const char *const s_all_names[] = {
#define NAME_(E, N, S, M) N,
    TF_MSG_TYPES(NAME_)
#undef NAME_
};

static bool
s_all_zero(const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        if (c[i])
            return false;
    return true;
}

static void
assert_mentions(const tf_err_t *err, const char *needle)
{
    if (!strstr(err->message, needle))
        fail_msg("error \"%s\" does not mention \"%s\"", err->message, needle);
}

/* Decoding must fail with TF_ERR_PROTO, a message containing `needle`, and a zeroed msg. */
static void
expect_reject(const void *data, size_t size, const char *needle)
{
    tf_msg_t m;
    memset(&m, 0xa5, sizeof m);
    tf_err_t err = {0};
    int rc = tf_msg_decode(data, size, &m, &err);
    if (rc != TF_ERR_PROTO) {
        if (rc == TF_OK)
            tf_msg_clear(&m);
        fail_msg("decode returned %d (\"%s\"), expected TF_ERR_PROTO mentioning \"%s\"", rc,
                 err.message, needle);
    }
    assert_int_equal(err.code, TF_ERR_PROTO);
    assert_mentions(&err, needle);
    assert_true(s_all_zero(&m, sizeof m));
}

/* Decoding must succeed; the caller clears *m. */
static void
expect_decode(const void *data, size_t size, tf_msg_t *m)
{
    tf_err_t err = {0};
    int rc = tf_msg_decode(data, size, m, &err);
    if (rc != TF_OK)
        fail_msg("decode failed (%d): %s", rc, err.message);
}

static void
encode_ok(const tf_msg_t *m, uint8_t **data, size_t *size)
{
    tf_err_t err = {0};
    int rc = tf_msg_encode(m, data, size, &err);
    if (rc != TF_OK)
        fail_msg("encode of %s failed (%d): %s", tf_msg_type_name(m->type), rc, err.message);
    assert_non_null(*data);
    assert_true(*size > 0);
}

static void
expect_encode_fails(const tf_msg_t *m, int code, const char *needle)
{
    uint8_t *data = (uint8_t *) &data;  /* must be reset to NULL */
    size_t size = 99;
    tf_err_t err = {0};
    int rc = tf_msg_encode(m, &data, &size, &err);
    if (rc == TF_OK) {
        free(data);
        fail_msg("encode succeeded, expected %d mentioning \"%s\"", code, needle);
    }
    assert_int_equal(rc, code);
    assert_int_equal(err.code, code);
    assert_mentions(&err, needle);
    assert_null(data);
    assert_int_equal(size, 0);
}

/* A msgpack buffer built with msgpack-c's packer; every pack call is checked. */
typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} buf_t;

#define PK(call) assert_int_equal((call), 0)

static void
b_init(buf_t *b)
{
    msgpack_sbuffer_init(&b->sb);
    msgpack_packer_init(&b->pk, &b->sb, msgpack_sbuffer_write);
}
static void b_free(buf_t *b) { msgpack_sbuffer_destroy(&b->sb); }
static void b_map(buf_t *b, size_t n) { PK(msgpack_pack_map(&b->pk, n)); }
static void b_array(buf_t *b, size_t n) { PK(msgpack_pack_array(&b->pk, n)); }
static void b_uint(buf_t *b, uint64_t v) { PK(msgpack_pack_uint64(&b->pk, v)); }
static void b_int(buf_t *b, int64_t v) { PK(msgpack_pack_int64(&b->pk, v)); }
static void b_nil(buf_t *b) { PK(msgpack_pack_nil(&b->pk)); }
static void b_bool(buf_t *b, bool v) { PK(v ? msgpack_pack_true(&b->pk) : msgpack_pack_false(&b->pk)); }
static void b_double(buf_t *b, double v) { PK(msgpack_pack_double(&b->pk, v)); }
static void
b_strn(buf_t *b, const char *s, size_t n)
{
    PK(msgpack_pack_str(&b->pk, n));
    PK(msgpack_pack_str_body(&b->pk, s, n));
}
static void b_str(buf_t *b, const char *s) { b_strn(b, s, strlen(s)); }
static void
b_bin(buf_t *b, const void *p, size_t n)
{
    PK(msgpack_pack_bin(&b->pk, n));
    PK(msgpack_pack_bin_body(&b->pk, p, n));
}
static void b_raw(buf_t *b, const void *p, size_t n) { PK(msgpack_sbuffer_write(&b->sb, p, n)); }
/* The two envelope pairs: "v": 1, "t": type. */
static void
b_env(buf_t *b, const char *type)
{
    b_str(b, "v");
    b_uint(b, TF_PROTO_VERSION);
    b_str(b, "t");
    b_str(b, type);
}
static void b_kv_str(buf_t *b, const char *k, const char *v) { b_str(b, k); b_str(b, v); }
static void b_kv_uint(buf_t *b, const char *k, uint64_t v) { b_str(b, k); b_uint(b, v); }

/* ------------------------------------------------------------- sample messages ------- */

/* Messages come from the codec's tables (msg_sample): every type of the catalogue, a new one
   included, is filled, round-tripped and checked on the wire without an edit here. Each test
   gets a sample (its memory) in *state. */
#define S_ROWS 3  /* rows in every rows field of a full sample */

static int
s_setup(void **state)
{
    *state = tf_msg_sample_new();
    return *state ? 0 : -1;
}

static int
s_teardown(void **state)
{
    tf_msg_sample_destroy((tf_msg_sample_t **) state);
    return 0;
}

static void
fill(tf_msg_sample_t *sample, tf_msg_t *m, tf_msg_type_t type, tf_sample_mode_t mode, size_t rows)
{
    if (tf_msg_sample_fill(sample, m, type, mode, rows) != 0)
        fail_msg("no sample message of type %d", (int) type);
}

/* Every field set, S_ROWS rows in every rows field. */
static void
fill_full(tf_msg_sample_t *sample, tf_msg_type_t type, tf_msg_t *m)
{
    fill(sample, m, type, TF_SAMPLE_FULL, S_ROWS);
}

/* Only the required fields, no rows. */
static void
fill_min(tf_msg_sample_t *sample, tf_msg_type_t type, tf_msg_t *m)
{
    fill(sample, m, type, TF_SAMPLE_MIN, 0);
}

/* Pointer to the field's member in a message body or row. */
static void *
s_at(void *body, const tf_msg_field_t *f)
{
    return (char *) body + f->offset;
}

static size_t
s_count(const void *body, const tf_msg_field_t *f)
{
    size_t n;
    memcpy(&n, (const char *) body + f->count_offset, sizeof n);
    return n;
}

static void
s_set_count(void *body, const tf_msg_field_t *f, size_t n)
{
    memcpy((char *) body + f->count_offset, &n, sizeof n);
}

static char *
s_rows_of(void *body, const tf_msg_field_t *f)
{
    char *rows;
    memcpy(&rows, s_at(body, f), sizeof rows);
    return rows;
}

static void
s_set_rows(void *body, const tf_msg_field_t *f, void *rows)
{
    memcpy(s_at(body, f), &rows, sizeof rows);
}

/* The wire format of a message checked with msgpack-c's unpacker (an independent reader). */
static bool
s_obj_key_is(const msgpack_object *k, const char *name, size_t n)
{
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
           memcmp(k->via.str.ptr, name, n) == 0;
}

static bool
s_obj_kind_is(const msgpack_object *o, const char *kind, size_t n)
{
#define KIND_(s) (n == sizeof(s) - 1 && memcmp(kind, s, n) == 0)
    if (KIND_("str")) return o->type == MSGPACK_OBJECT_STR;
    if (KIND_("uint")) return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER;
    if (KIND_("int"))
        return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER || o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER;
    if (KIND_("bool")) return o->type == MSGPACK_OBJECT_BOOLEAN;
    if (KIND_("bin")) return o->type == MSGPACK_OBJECT_BIN;
    if (KIND_("array")) return o->type == MSGPACK_OBJECT_ARRAY;
#undef KIND_
    fail_msg("bad kind in spec: %.*s", (int) n, kind);
    return false;
}

/* Checks that map `o` has exactly the keys of `spec` ("key:kind ...", kind str | uint | int |
   bool | bin | array) plus `extra` keys already checked by the caller. */
static void
check_map_against(const msgpack_object *o, const char *spec, uint32_t extra, const char *what)
{
    assert_int_equal(o->type, MSGPACK_OBJECT_MAP);
    uint32_t expected = extra;
    for (const char *p = spec; *p;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        const char *colon = strchr(p, ':');
        assert_non_null(colon);
        const char *end = colon + strcspn(colon, " ");
        int found = 0;
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object_kv *kv = &o->via.map.ptr[i];
            if (s_obj_key_is(&kv->key, p, (size_t) (colon - p))) {
                found++;
                if (!s_obj_kind_is(&kv->val, colon + 1, (size_t) (end - colon - 1)))
                    fail_msg("%s.%.*s: wrong msgpack type %d", what, (int) (colon - p), p,
                             (int) kv->val.type);
            }
        }
        if (found != 1)
            fail_msg("%s: key '%.*s' appears %d times", what, (int) (colon - p), p, found);
        expected++;
        p = end;
    }
    if (o->via.map.size != expected)
        fail_msg("%s: %u keys on the wire, expected %u", what, o->via.map.size, expected);
}

static const msgpack_object *
s_obj_get(const msgpack_object *map, const char *key)
{
    for (uint32_t i = 0; i < map->via.map.size; i++)
        if (s_obj_key_is(&map->via.map.ptr[i].key, key, strlen(key)))
            return &map->via.map.ptr[i].val;
    return NULL;
}

/* The spec of a record as its table describes it: the keys a message of it puts on the wire
   (absent strings and byte strings are not sent). */
static void
s_spec_of(const tf_msg_desc_t *rec, const void *body, char *spec, size_t size)
{
    static const char *const kinds[] = {
        [TF_MSG_FIELD_BOOL] = "bool", [TF_MSG_FIELD_UINT] = "uint", [TF_MSG_FIELD_INT] = "int",
        [TF_MSG_FIELD_STR] = "str",   [TF_MSG_FIELD_BIN] = "bin",   [TF_MSG_FIELD_ROWS] = "array"};
    size_t used = 0;
    spec[0] = '\0';
    for (size_t i = 0; i < rec->nfields; i++) {
        const tf_msg_field_t *f = &rec->fields[i];
        const char *at = (const char *) body + f->offset;
        if (f->kind == TF_MSG_FIELD_STR && !*(char *const *) at)
            continue;
        if (f->kind == TF_MSG_FIELD_BIN && !((const tf_bytes_t *) at)->data)
            continue;
        used += (size_t) snprintf(spec + used, size - used, "%s%s:%s", used ? " " : "", f->key, kinds[f->kind]);
        assert_true(used < size);
    }
}

/* Map `o` against the record: its keys and kinds, rows arrays of the right length, each row
   checked the same way. */
static void
check_record_on_wire(const msgpack_object *o, const tf_msg_desc_t *rec, const void *body, uint32_t extra,
                     const char *what)
{
    char spec[2048];
    s_spec_of(rec, body, spec, sizeof spec);
    check_map_against(o, spec, extra, what);
    for (size_t i = 0; i < rec->nfields; i++) {
        const tf_msg_field_t *f = &rec->fields[i];
        if (f->kind != TF_MSG_FIELD_ROWS)
            continue;
        const msgpack_object *rows = s_obj_get(o, f->key);
        assert_non_null(rows);
        size_t count = s_count(body, f);
        if (rows->via.array.size != count)
            fail_msg("%s.%s: %u rows on the wire, %zu in the message", what, f->key, rows->via.array.size, count);
        const char *row = s_rows_of((void *) body, f);
        for (uint32_t r = 0; r < rows->via.array.size; r++) {
            char where[160];
            snprintf(where, sizeof where, "%s.%s[%u]", what, f->key, r);
            check_record_on_wire(&rows->via.array.ptr[r], f->elem, row + r * f->elem->size, 0, where);
        }
    }
}

/* Encode, decode, compare field by field; returns nothing, fails the test on a difference. */
static void
roundtrip(const tf_msg_t *in)
{
    uint8_t *data;
    size_t size;
    encode_ok(in, &data, &size);
    tf_msg_t out;
    tf_err_t err = {0};
    int rc = tf_msg_decode(data, size, &out, &err);
    free(data);
    if (rc != TF_OK)
        fail_msg("%s: decode of own encoding failed: %s", tf_msg_type_name(in->type), err.message);
    char why[256];
    bool same = tf_msg_equal(in, &out, why, sizeof why);
    tf_msg_clear(&out);
    if (!same)
        fail_msg("%s round trip differs: %s", tf_msg_type_name(in->type), why);
}

/* --------------------------------------------------------------- catalogue ----------- */

static void
test_type_names(void **state)
{
    (void) state;
    assert_int_equal(N_ELEMS(s_all_types), TF_MSG_TYPE_COUNT - 1);
    for (size_t i = 0; i < N_ELEMS(s_all_types); i++) {
        assert_int_equal(s_all_types[i], (tf_msg_type_t) (i + 1));
        assert_string_equal(tf_msg_type_name(s_all_types[i]), s_all_names[i]);
        assert_non_null(tf_msg_desc(s_all_types[i]));
        assert_string_equal(tf_msg_desc(s_all_types[i])->name, s_all_names[i]);
    }
    assert_string_equal(tf_msg_type_name(TF_MSG_NONE), "?");
    assert_string_equal(tf_msg_type_name(TF_MSG_TYPE_COUNT), "?");
    assert_string_equal(tf_msg_type_name((tf_msg_type_t) -3), "?");
    assert_null(tf_msg_desc(TF_MSG_NONE));
    assert_null(tf_msg_desc(TF_MSG_TYPE_COUNT));
    assert_null(tf_msg_desc((tf_msg_type_t) -3));
}

/* Bytes a field's member takes in its struct. */
static size_t
s_member_size(const tf_msg_field_t *f)
{
    switch (f->kind) {
    case TF_MSG_FIELD_BOOL: return sizeof(bool);
    case TF_MSG_FIELD_UINT: return sizeof(uint64_t);
    case TF_MSG_FIELD_INT: return sizeof(int64_t);
    case TF_MSG_FIELD_STR: return sizeof(char *);
    case TF_MSG_FIELD_BIN: return sizeof(tf_bytes_t);
    case TF_MSG_FIELD_ROWS: return sizeof(void *);
    }
    fail_msg("%s: unknown field kind %d", f->key, (int) f->kind);
    return 0;
}

/* A table must describe its struct: fields inside it, none overlapping another, no key twice,
   rows of the record their member points to, and no 8-byte word of the struct left out (a
   member the table forgot: the walkers would neither send nor compare it). Kinds are checked
   against the members' C types when tf_msg.c compiles. Returns false with the first problem
   in why. */
static bool
s_table_ok(const tf_msg_desc_t *rec, const char *what, char *why, size_t size)
{
    unsigned char covered[1024] = {0};
    if (rec->size > sizeof covered) {
        snprintf(why, size, "%s: struct of %zu bytes, more than this check knows", what, rec->size);
        return false;
    }
    for (size_t i = 0; i < rec->nfields; i++) {
        const tf_msg_field_t *f = &rec->fields[i];
        size_t spans[2][2] = {{f->offset, s_member_size(f)}, {f->count_offset, 0}};
        if (f->kind == TF_MSG_FIELD_ROWS) {
            spans[1][1] = sizeof(size_t);
            if (!f->elem || f->row_size != f->elem->size) {
                snprintf(why, size, "%s.%s: rows of %zu bytes described by a record of %zu", what, f->key,
                         f->row_size, f->elem ? f->elem->size : 0);
                return false;
            }
            char inner[160];
            snprintf(inner, sizeof inner, "%s.%s[]", what, f->key);
            if (!s_table_ok(f->elem, inner, why, size))
                return false;
        }
        if ((f->kind == TF_MSG_FIELD_STR || f->kind == TF_MSG_FIELD_BIN || f->kind == TF_MSG_FIELD_ROWS)
            && f->max == 0) {
            snprintf(why, size, "%s.%s: a limit of 0", what, f->key);
            return false;
        }
        for (size_t s = 0; s < 2; s++)
            for (size_t b = spans[s][0]; b < spans[s][0] + spans[s][1]; b++) {
                if (b >= rec->size || covered[b]) {
                    snprintf(why, size, "%s.%s: %s at byte %zu", what, f->key,
                             b >= rec->size ? "outside the struct" : "overlaps another field", b);
                    return false;
                }
                covered[b] = 1;
            }
        for (size_t j = 0; j < i; j++)
            if (strcmp(rec->fields[j].key, f->key) == 0) {
                snprintf(why, size, "%s: key '%s' twice", what, f->key);
                return false;
            }
    }
    for (size_t word = 0; word + 8 <= rec->size; word += 8)
        if (!memchr(covered + word, 1, 8)) {
            snprintf(why, size, "%s: bytes %zu..%zu of the struct are in no field", what, word, word + 7);
            return false;
        }
    return true;
}

static void
test_tables_describe_their_structs(void **state)
{
    (void) state;
    char why[256];
    for (size_t i = 0; i < N_ELEMS(s_all_types); i++) {
        const tf_msg_desc_t *desc = tf_msg_desc(s_all_types[i]);
        assert_true(desc->size <= sizeof(tf_msg_t) - offsetof(tf_msg_t, ready));
        if (!s_table_ok(desc, desc->name, why, sizeof why))
            fail_msg("%s (a member missing from the table, or a wrong row?)", why);
    }
    /* The check can fail: a table that forgot a member, one whose rows overlap. */
    typedef struct {
        char *name;
        uint64_t forgotten;
        bool flag;
    } three_t;
    static const tf_msg_field_t forgot[] = {
        {"name", TF_MSG_FIELD_STR, offsetof(three_t, name), 0, false, 8, NULL, 0},
        {"flag", TF_MSG_FIELD_BOOL, offsetof(three_t, flag), 0, false, 0, NULL, 0},
    };
    static const tf_msg_desc_t partial = {"partial", sizeof(three_t), forgot, 2};
    assert_false(s_table_ok(&partial, "partial", why, sizeof why));
    assert_string_equal(why, "partial: bytes 8..15 of the struct are in no field");
    static const tf_msg_field_t twice[] = {
        {"name", TF_MSG_FIELD_STR, offsetof(three_t, name), 0, false, 8, NULL, 0},
        {"forgotten", TF_MSG_FIELD_UINT, offsetof(three_t, forgotten), 0, false, 0, NULL, 0},
        {"flag", TF_MSG_FIELD_UINT, offsetof(three_t, forgotten) + 4, 0, false, 0, NULL, 0},
    };
    static const tf_msg_desc_t overlap = {"overlap", sizeof(three_t), twice, 3};
    assert_false(s_table_ok(&overlap, "overlap", why, sizeof why));
    assert_string_equal(why, "overlap.flag: overlaps another field at byte 12");
}

/* Changes field f of body so that it differs from any other sample's (arena memory). */
static void
s_mutate(tf_msg_sample_t *sample, void *body, const tf_msg_field_t *f)
{
    void *at = s_at(body, f);
    switch (f->kind) {
    case TF_MSG_FIELD_BOOL: *(bool *) at = !*(bool *) at; break;
    case TF_MSG_FIELD_UINT: *(uint64_t *) at += 1; break;
    case TF_MSG_FIELD_INT: {
        int64_t *v = at;
        *v = *v == INT64_MAX ? *v - 1 : *v + 1;
        break;
    }
    case TF_MSG_FIELD_STR: {
        char *other = tf_msg_sample_alloc(sample, 2);
        assert_non_null(other);
        other[0] = '~';
        *(char **) at = other;
        break;
    }
    case TF_MSG_FIELD_BIN: {
        tf_bytes_t *b = at;
        assert_true(b->size > 0);
        b->data[b->size - 1] ^= 0x01;
        break;
    }
    case TF_MSG_FIELD_ROWS: s_set_count(body, f, s_count(body, f) - 1); break;
    }
}

/* For each field of rec in b (rows: the last row's fields too), a changed copy differs from a
   and tf_msg_equal names that field: "<where>.<key>" ("<where>.<key>_count" for a count). */
static void
s_each_field_differs(tf_msg_sample_t *sample, const tf_msg_t *a, tf_msg_type_t type, const tf_msg_desc_t *rec,
                     const char *where, const tf_msg_field_t *outer, const tf_msg_desc_t *outer_rec)
{
    for (size_t i = 0; i < rec->nfields; i++) {
        const tf_msg_field_t *f = &rec->fields[i];
        tf_msg_t b;
        fill_full(sample, type, &b);
        void *body = TF_MSG_BODY(&b);
        if (outer) {
            /* inside the last row of outer (a field of the message) */
            body = s_rows_of(body, outer) + (s_count(body, outer) - 1) * outer_rec->size;
        }
        s_mutate(sample, body, f);
        char why[512], expect[256];
        snprintf(expect, sizeof expect, "%s.%s%s: ", where, f->key, f->kind == TF_MSG_FIELD_ROWS ? "_count" : "");
        if (tf_msg_equal(a, &b, why, sizeof why))
            fail_msg("%s.%s changed, yet equal", where, f->key);
        if (strncmp(why, expect, strlen(expect)) != 0)
            fail_msg("changed %s.%s: the difference reads \"%s\"", where, f->key, why);
    }
}

/* The comparison used by every round trip must itself notice differences, in every field. */
static void
test_equal_helper_detects_differences(void **state)
{
    tf_msg_sample_t *sample = *state;
    tf_msg_t a, b;
    char why[256];
    for (size_t i = 0; i < N_ELEMS(s_all_types); i++) {
        fill_full(sample, s_all_types[i], &a);
        fill_full(sample, s_all_types[i], &b);
        if (!tf_msg_equal(&a, &b, why, sizeof why))
            fail_msg("two samples of %s differ: %s", s_all_names[i], why);
        const tf_msg_desc_t *desc = tf_msg_desc(s_all_types[i]);
        s_each_field_differs(sample, &a, s_all_types[i], desc, desc->name, NULL, NULL);
        for (size_t k = 0; k < desc->nfields; k++) {
            const tf_msg_field_t *f = &desc->fields[k];
            if (f->kind != TF_MSG_FIELD_ROWS || s_count(TF_MSG_BODY(&a), f) == 0)
                continue;
            char where[160];
            snprintf(where, sizeof where, "%s.%s[%zu]", desc->name, f->key, s_count(TF_MSG_BODY(&a), f) - 1);
            s_each_field_differs(sample, &a, s_all_types[i], f->elem, where, f, f->elem);
        }
    }
    /* how differences read */
    fill_full(sample, TF_MSG_WORK, &a);
    fill_full(sample, TF_MSG_WORK, &b);
    a.work.attempt = 3;
    b.work.attempt = 4;
    assert_false(tf_msg_equal(&a, &b, why, sizeof why));
    assert_string_equal(why, "work.attempt: 3 != 4");
    b.work.attempt = 3;
    b.work.job_id = NULL;
    assert_false(tf_msg_equal(&a, &b, why, sizeof why));
    assert_non_null(strstr(why, "!= \"(null)\""));
    fill_full(sample, TF_MSG_DONE, &b);
    assert_false(tf_msg_equal(&a, &b, why, sizeof why));
    assert_string_equal(why, "type work != done");
    fill_full(sample, TF_MSG_STAGE_DATA, &a);
    fill_full(sample, TF_MSG_STAGE_DATA, &b);
    static uint8_t twelve[12], none[1];
    a.stage_data.data = (tf_bytes_t){twelve, 12};
    b.stage_data.data = (tf_bytes_t){none, 0};
    assert_false(tf_msg_equal(&a, &b, why, sizeof why));
    assert_string_equal(why, "stage_data.data: 12 bytes != 0 bytes");
    b.stage_data.data = (tf_bytes_t){NULL, 0};
    assert_false(tf_msg_equal(&a, &b, why, sizeof why));
    assert_string_equal(why, "stage_data.data: 12 bytes != 0 bytes (absent)");
    fill_full(sample, TF_MSG_CAT_REPLY, &a);
    fill_full(sample, TF_MSG_CAT_REPLY, &b);
    b.cat_reply.files[1].link = "../bob/new";
    a.cat_reply.files[1].link = "../bob/old";
    assert_false(tf_msg_equal(&a, &b, why, sizeof why));
    assert_string_equal(why, "cat_reply.files[1].link: \"../bob/old\" != \"../bob/new\"");
    b.cat_reply.files[1].link = "../bob/old";
    b.cat_reply.files_count = 2;
    assert_false(tf_msg_equal(&a, &b, why, sizeof why));
    assert_string_equal(why, "cat_reply.files_count: 3 != 2");
    /* a type outside the catalogue is never equal */
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    assert_false(tf_msg_equal(&a, &b, why, sizeof why));
    assert_string_equal(why, "no comparison for type 0");
}

/* ------------------------------------------------------------- round trips ----------- */

static void
test_roundtrip_every_type_every_mode(void **state)
{
    tf_msg_sample_t *sample = *state;
    static const tf_sample_mode_t modes[] = {TF_SAMPLE_FULL, TF_SAMPLE_MIN, TF_SAMPLE_EMPTY, TF_SAMPLE_LIMITS};
    static const size_t rows[] = {0, 1, S_ROWS};
    for (size_t i = 0; i < N_ELEMS(s_all_types); i++)
        for (size_t k = 0; k < N_ELEMS(modes); k++)
            for (size_t r = 0; r < N_ELEMS(rows); r++) {
                tf_msg_t m;
                fill(sample, &m, s_all_types[i], modes[k], rows[r]);
                /* MIN: optional strings stay NULL and absent bytes absent; EMPTY: "" and
                   present-but-empty bytes stay present; LIMITS: strings at their limits,
                   numbers at their extremes, 1 MiB byte strings */
                roundtrip(&m);
            }
    /* Present-but-empty stays distinguishable from absent after decoding. */
    tf_msg_t m, out;
    fill(sample, &m, TF_MSG_DONE, TF_SAMPLE_EMPTY, 0);
    uint8_t *data;
    size_t size;
    encode_ok(&m, &data, &size);
    expect_decode(data, size, &out);
    free(data);
    assert_non_null(out.done.result.data);
    assert_int_equal(out.done.result.size, 0);
    assert_non_null(out.done.item_id);
    assert_string_equal(out.done.item_id, "");
    tf_msg_clear(&out);
}

/* Byte strings holding NUL and bytes msgpack reserves come back whole, as copies owned by the
   decoded message; strings too. */
static void
test_roundtrip_copies_bytes_and_strings(void **state)
{
    tf_msg_sample_t *sample = *state;
    for (size_t i = 0; i < N_ELEMS(s_all_types); i++) {
        tf_msg_t m, out;
        fill_full(sample, s_all_types[i], &m);
        uint8_t *data;
        size_t size;
        encode_ok(&m, &data, &size);
        expect_decode(data, size, &out);
        free(data);
        const tf_msg_desc_t *desc = tf_msg_desc(s_all_types[i]);
        for (size_t k = 0; k < desc->nfields; k++) {
            const tf_msg_field_t *f = &desc->fields[k];
            void *in_at = s_at(TF_MSG_BODY(&m), f), *out_at = s_at(TF_MSG_BODY(&out), f);
            if (f->kind == TF_MSG_FIELD_BIN) {
                const tf_bytes_t *a = in_at, *b = out_at;
                assert_true(a->size > 0 && memchr(a->data, 0, a->size));
                assert_int_equal(b->size, a->size);
                assert_memory_equal(b->data, a->data, a->size);
                assert_ptr_not_equal(b->data, a->data);
            }
            else if (f->kind == TF_MSG_FIELD_STR) {
                const char *a = *(char **) in_at, *b = *(char **) out_at;
                assert_string_equal(b, a);
                assert_ptr_not_equal(b, a);
            }
        }
        tf_msg_clear(&out);
        assert_true(s_all_zero(&out, sizeof out));
    }

    /* fetch_data at the end of an archive: eof with present-but-empty data, or no data */
    tf_msg_t m, out;
    uint8_t *data;
    size_t size;
    static uint8_t none[1];
    fill_min(sample, TF_MSG_FETCH_DATA, &m);
    m.fetch_data.eof = true;
    m.fetch_data.data = (tf_bytes_t){none, 0};
    encode_ok(&m, &data, &size);
    expect_decode(data, size, &out);
    free(data);
    assert_non_null(out.fetch_data.data.data);
    assert_int_equal(out.fetch_data.data.size, 0);
    assert_true(out.fetch_data.eof);
    tf_msg_clear(&out);
    fill_min(sample, TF_MSG_FETCH_DATA, &m);
    encode_ok(&m, &data, &size);
    expect_decode(data, size, &out);
    free(data);
    assert_null(out.fetch_data.data.data);
    assert_null(out.fetch_data.error);
    tf_msg_clear(&out);
}

/* Every rows field of every message with 0, 1, 2 and 3 rows (the message's other rows fields
   keep theirs; no rows also with a NULL array), then all of a message's rows fields empty at
   once. Decoded: the same count, copies owned by the message, no array for no rows. */
static void
test_roundtrip_every_rows_field(void **state)
{
    tf_msg_sample_t *sample = *state;
    for (size_t i = 0; i < N_ELEMS(s_all_types); i++) {
        const tf_msg_desc_t *desc = tf_msg_desc(s_all_types[i]);
        for (size_t k = 0; k < desc->nfields; k++) {
            const tf_msg_field_t *f = &desc->fields[k];
            if (f->kind != TF_MSG_FIELD_ROWS)
                continue;
            for (size_t count = 0; count <= S_ROWS && count <= f->max; count++)
                for (int null_when_empty = 0; null_when_empty <= (count == 0); null_when_empty++) {
                    tf_msg_t m, out;
                    fill_full(sample, s_all_types[i], &m);
                    void *body = TF_MSG_BODY(&m);
                    /* one row: the last sample row, so not always the first is tested */
                    char *first = s_rows_of(body, f) + (count == 1 ? (s_count(body, f) - 1) * f->elem->size : 0);
                    s_set_rows(body, f, null_when_empty ? NULL : first);
                    s_set_count(body, f, count);
                    roundtrip(&m);
                    uint8_t *data;
                    size_t size;
                    encode_ok(&m, &data, &size);
                    expect_decode(data, size, &out);
                    free(data);
                    if (s_count(TF_MSG_BODY(&out), f) != count)
                        fail_msg("%s.%s: %zu rows decoded, %zu sent", desc->name, f->key,
                                 s_count(TF_MSG_BODY(&out), f), count);
                    if (count == 0)
                        assert_null(s_rows_of(TF_MSG_BODY(&out), f));  /* no rows: no array */
                    else
                        assert_ptr_not_equal(s_rows_of(TF_MSG_BODY(&out), f), first);
                    tf_msg_clear(&out);
                    assert_true(s_all_zero(&out, sizeof out));
                }
        }
        tf_msg_t m;
        fill_full(sample, s_all_types[i], &m);
        for (size_t k = 0; k < desc->nfields; k++)
            if (desc->fields[k].kind == TF_MSG_FIELD_ROWS) {
                s_set_rows(TF_MSG_BODY(&m), &desc->fields[k], NULL);
                s_set_count(TF_MSG_BODY(&m), &desc->fields[k], 0);
            }
        roundtrip(&m);
    }
}

/* The encoder's output read back with msgpack-c's unpacker: "v", "t" and the fields of the
   type's table with the msgpack type of their kind, rows as arrays of maps, nothing else. */
static void
test_wire_format_every_type(void **state)
{
    tf_msg_sample_t *sample = *state;
    static const tf_sample_mode_t modes[] = {TF_SAMPLE_FULL, TF_SAMPLE_MIN, TF_SAMPLE_EMPTY};
    for (size_t i = 0; i < N_ELEMS(s_all_types); i++)
        for (size_t k = 0; k < N_ELEMS(modes); k++) {
            tf_msg_type_t type = s_all_types[i];
            tf_msg_t m;
            fill(sample, &m, type, modes[k], S_ROWS);
            uint8_t *data;
            size_t size;
            encode_ok(&m, &data, &size);

            msgpack_unpacked up;
            msgpack_unpacked_init(&up);
            size_t off = 0;
            assert_int_equal(msgpack_unpack_next(&up, (const char *) data, size, &off),
                             MSGPACK_UNPACK_SUCCESS);
            assert_int_equal(off, size);
            const msgpack_object *o = &up.data;
            assert_int_equal(o->type, MSGPACK_OBJECT_MAP);
            const msgpack_object *v = s_obj_get(o, "v"), *t = s_obj_get(o, "t");
            assert_non_null(v);
            assert_non_null(t);
            assert_int_equal(v->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
            assert_int_equal(v->via.u64, TF_PROTO_VERSION);
            assert_int_equal(t->type, MSGPACK_OBJECT_STR);
            assert_int_equal(t->via.str.size, strlen(s_all_names[i]));
            assert_memory_equal(t->via.str.ptr, s_all_names[i], t->via.str.size);
            check_record_on_wire(o, tf_msg_desc(type), TF_MSG_BODY(&m), 2, s_all_names[i]);
            msgpack_unpacked_destroy(&up);
            free(data);
        }
}

/* Encoding a message with only required fields set puts exactly v, t and those on the wire
   (absent optional strings and byte strings are omitted, numbers and booleans always sent):
   two messages spelled out by hand. */
static void
test_wire_format_omits_absent(void **state)
{
    tf_msg_sample_t *sample = *state;
    tf_msg_t m;
    fill_min(sample, TF_MSG_WORK, &m);
    uint8_t *data;
    size_t size;
    encode_ok(&m, &data, &size);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    assert_int_equal(msgpack_unpack_next(&up, (const char *) data, size, NULL),
                     MSGPACK_UNPACK_SUCCESS);
    check_map_against(&up.data, "item_id:str service:str attempt:uint", 2, "work");
    msgpack_unpacked_destroy(&up);
    free(data);

    fill_min(sample, TF_MSG_FAILED, &m);
    encode_ok(&m, &data, &size);
    msgpack_unpacked_init(&up);
    assert_int_equal(msgpack_unpack_next(&up, (const char *) data, size, NULL),
                     MSGPACK_UNPACK_SUCCESS);
    check_map_against(&up.data, "item_id:str attempt:uint reason:str retry:bool", 2, "failed");
    msgpack_unpacked_destroy(&up);
    free(data);
}

/* ------------------------------------------------------------ encode refusals -------- */

/* The first required field of a type the encoder checks (a string or byte string: numbers,
   booleans and rows are always sent), or NULL. */
static const char *
s_first_required(tf_msg_type_t type, bool strings_only)
{
    const tf_msg_desc_t *desc = tf_msg_desc(type);
    for (size_t i = 0; i < desc->nfields; i++) {
        const tf_msg_field_t *f = &desc->fields[i];
        if (f->required && (!strings_only || f->kind == TF_MSG_FIELD_STR || f->kind == TF_MSG_FIELD_BIN))
            return f->key;
    }
    return NULL;
}

static char *
s_repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static void
test_encode_refuses_unset_required(void **state)
{
    tf_msg_sample_t *sample = *state;
    for (size_t i = 0; i < N_ELEMS(s_all_types); i++) {
        tf_msg_type_t type = s_all_types[i];
        const char *first = s_first_required(type, true);
        tf_msg_t m;
        memset(&m, 0, sizeof m);
        m.type = type;
        if (!first) {
            uint8_t *data;
            size_t size;
            encode_ok(&m, &data, &size);  /* nothing required but numbers/rows */
            free(data);
            continue;
        }
        char needle[128];
        snprintf(needle, sizeof needle, "%s: required field '%s' is not set", s_all_names[i], first);
        expect_encode_fails(&m, TF_ERR_INVALID, needle);
        /* every required string or byte string, unset among others set, in the message or in
           the last row of a rows field */
        const tf_msg_desc_t *desc = tf_msg_desc(type);
        for (size_t k = 0; k < desc->nfields; k++) {
            const tf_msg_field_t *f = &desc->fields[k];
            if (f->required && (f->kind == TF_MSG_FIELD_STR || f->kind == TF_MSG_FIELD_BIN)) {
                fill_full(sample, type, &m);
                memset(s_at(TF_MSG_BODY(&m), f), 0, f->kind == TF_MSG_FIELD_STR ? sizeof(char *) : sizeof(tf_bytes_t));
                snprintf(needle, sizeof needle, "%s: required field '%s' is not set", desc->name, f->key);
                expect_encode_fails(&m, TF_ERR_INVALID, needle);
            }
            if (f->kind != TF_MSG_FIELD_ROWS)
                continue;
            for (size_t r = 0; r < f->elem->nfields; r++) {
                const tf_msg_field_t *g = &f->elem->fields[r];
                if (!g->required || (g->kind != TF_MSG_FIELD_STR && g->kind != TF_MSG_FIELD_BIN))
                    continue;
                fill_full(sample, type, &m);
                char *last = s_rows_of(TF_MSG_BODY(&m), f) + (s_count(TF_MSG_BODY(&m), f) - 1) * f->elem->size;
                memset(s_at(last, g), 0, g->kind == TF_MSG_FIELD_STR ? sizeof(char *) : sizeof(tf_bytes_t));
                snprintf(needle, sizeof needle, "%s: required field '%s' is not set", f->elem->name, g->key);
                expect_encode_fails(&m, TF_ERR_INVALID, needle);
            }
        }
    }
    /* rows counted but no array */
    tf_msg_t m;
    fill_full(sample, TF_MSG_CAT_REPLY, &m);
    m.cat_reply.archives = NULL;
    expect_encode_fails(&m, TF_ERR_INVALID, "cat_reply.archives: 3 rows but no array");
    /* and by name, as operators read them */
    fill_full(sample, TF_MSG_FAILED, &m);
    m.failed.reason = NULL;
    expect_encode_fails(&m, TF_ERR_INVALID, "failed: required field 'reason' is not set");
    fill_full(sample, TF_MSG_STATUS, &m);
    m.status.workers[1].state = NULL;
    expect_encode_fails(&m, TF_ERR_INVALID, "worker: required field 'state' is not set");
    fill_full(sample, TF_MSG_STAGE_DATA, &m);
    m.stage_data.data = (tf_bytes_t){NULL, 0};
    expect_encode_fails(&m, TF_ERR_INVALID, "stage_data: required field 'data' is not set");
}

/* Every string, byte string and rows field one over its limit is refused, naming the field. */
static void
test_encode_refuses_overlong(void **state)
{
    tf_msg_sample_t *sample = *state;
    for (size_t i = 0; i < N_ELEMS(s_all_types); i++) {
        const tf_msg_desc_t *desc = tf_msg_desc(s_all_types[i]);
        for (size_t k = 0; k < desc->nfields; k++) {
            const tf_msg_field_t *f = &desc->fields[k];
            tf_msg_t m;
            char needle[160];
            fill_full(sample, s_all_types[i], &m);
            void *at = s_at(TF_MSG_BODY(&m), f);
            char *text = NULL;
            if (f->kind == TF_MSG_FIELD_STR) {
                text = s_repeat('x', f->max + 1);
                memcpy(at, &text, sizeof text);
                snprintf(needle, sizeof needle, "%s.%s: string of %zu bytes is over the limit of %zu", desc->name,
                         f->key, f->max + 1, f->max);
            }
            else if (f->kind == TF_MSG_FIELD_BIN) {
                /* sizes are checked before the data is read: the buffer is much smaller */
                ((tf_bytes_t *) at)->size = f->max + 1;
                snprintf(needle, sizeof needle, "%s.%s: %zu bytes is over the limit of %zu", desc->name, f->key,
                         f->max + 1, f->max);
            }
            else if (f->kind == TF_MSG_FIELD_ROWS) {
                s_set_count(TF_MSG_BODY(&m), f, f->max + 1);
                snprintf(needle, sizeof needle, "%s.%s: %zu rows is over the limit of %zu", desc->name, f->key,
                         f->max + 1, f->max);
            }
            else
                continue;
            expect_encode_fails(&m, TF_ERR_TOOBIG, needle);
            free(text);
        }
    }
    /* as operators read them */
    char *id = s_repeat('x', TF_MSG_MAX_ID + 1);
    tf_msg_t m;
    fill_full(sample, TF_MSG_WORK, &m);
    m.work.item_id = id;
    expect_encode_fails(&m, TF_ERR_TOOBIG, "work.item_id: string of 129 bytes is over the limit of 128");
    fill_full(sample, TF_MSG_EVENT, &m);
    m.event.level = "informational-ish";  /* 17 > 16 */
    expect_encode_fails(&m, TF_ERR_TOOBIG, "event.level: string of 17 bytes is over the limit of 16");
    fill_full(sample, TF_MSG_DONE, &m);
    m.done.result.size = (size_t) TF_MSG_MAX_BLOB + 1;
    expect_encode_fails(&m, TF_ERR_TOOBIG, "done.result: 67108865 bytes is over the limit");
    fill_full(sample, TF_MSG_STATUS, &m);
    m.status.services_count = TF_MSG_MAX_ROWS + 1;
    expect_encode_fails(&m, TF_ERR_TOOBIG, "status.services: 100001 rows is over the limit");
    /* an over-long string in a row */
    fill_full(sample, TF_MSG_STATUS, &m);
    m.status.services[0].name = id;
    expect_encode_fails(&m, TF_ERR_TOOBIG, "service.name: string of 129 bytes is over the limit");
    free(id);
}

static void
test_encode_refuses_unknown_type(void **state)
{
    (void) state;
    tf_msg_t m;
    memset(&m, 0, sizeof m);
    expect_encode_fails(&m, TF_ERR_INVALID, "unknown message type 0");
    m.type = TF_MSG_TYPE_COUNT;
    expect_encode_fails(&m, TF_ERR_INVALID, "unknown message type");
    m.type = (tf_msg_type_t) 99;
    expect_encode_fails(&m, TF_ERR_INVALID, "unknown message type 99");
    expect_encode_fails(NULL, TF_ERR_INVALID, "unknown message type");
}

/* Out-of-memory in the middle of an encoding: this executable is linked with
   -Wl,--wrap=realloc, so every realloc in it (msgpack's sbuffer is inline code in tf_msg.c)
   comes through here. */
void *__real_realloc(void *ptr, size_t size);
void *__wrap_realloc(void *ptr, size_t size);
static int s_realloc_ok_left = -1;  /* reallocs that still succeed; -1: all */

void *
__wrap_realloc(void *ptr, size_t size)
{
    if (s_realloc_ok_left == 0)
        return NULL;
    if (s_realloc_ok_left > 0)
        s_realloc_ok_left--;
    return __real_realloc(ptr, size);
}

static void
test_encode_out_of_memory(void **state)
{
    tf_msg_sample_t *sample = *state;
    static uint8_t big[20000];
    tf_msg_t m;
    fill_full(sample, TF_MSG_WORK, &m);
    m.work.payload = (tf_bytes_t){big, sizeof big};
    /* The buffer's first allocation (8 KiB) succeeds, growing it for the payload fails: the
       encoder must not hand out the truncated bytes. */
    for (int ok_left = 0; ok_left <= 1; ok_left++) {
        s_realloc_ok_left = ok_left;
        uint8_t *data = (uint8_t *) &data;
        size_t size = 99;
        tf_err_t err = {0};
        int rc = tf_msg_encode(&m, &data, &size, &err);
        s_realloc_ok_left = -1;
        if (rc == TF_OK) {
            free(data);
            fail_msg("encode succeeded with %d successful reallocs", ok_left);
        }
        assert_int_equal(rc, TF_ERR_NOMEM);
        assert_mentions(&err, "out of memory encoding");
        assert_null(data);
        assert_int_equal(size, 0);
    }
    /* and with memory it works */
    uint8_t *data;
    size_t size;
    encode_ok(&m, &data, &size);
    assert_true(size > sizeof big);
    free(data);
}

/* ----------------------------------------------------------- decode rejections ------- */

static void
test_decode_empty(void **state)
{
    (void) state;
    expect_reject(NULL, 0, "empty message");
    expect_reject("", 0, "empty message");
    expect_reject(NULL, 5, "empty message");
}

static void
test_decode_wrong_version(void **state)
{
    (void) state;
    /* Raw bytes: {"v": 2, "t": "heartbeat"} */
    static const uint8_t v2[] = {0x82, 0xa1, 'v', 0x02, 0xa1, 't', 0xa9,
                                 'h', 'e', 'a', 'r', 't', 'b', 'e', 'a', 't'};
    expect_reject(v2, sizeof v2, "protocol version 2, this program speaks 1");

    buf_t b;
    b_init(&b);
    b_map(&b, 2);
    b_kv_str(&b, "t", "heartbeat");
    b_kv_uint(&b, "v", 0);
    expect_reject(b.sb.data, b.sb.size, "protocol version 0");
    b_free(&b);

    b_init(&b);
    b_map(&b, 2);
    b_kv_str(&b, "v", "1");
    b_kv_str(&b, "t", "heartbeat");
    expect_reject(b.sb.data, b.sb.size, "protocol version is string, expected unsigned integer");
    b_free(&b);

    b_init(&b);
    b_map(&b, 2);
    b_str(&b, "v");
    b_int(&b, -1);
    b_kv_str(&b, "t", "heartbeat");
    expect_reject(b.sb.data, b.sb.size, "protocol version is integer");
    b_free(&b);

    b_init(&b);
    b_map(&b, 2);
    b_kv_str(&b, "t", "heartbeat");
    b_kv_uint(&b, "ts", 5);
    expect_reject(b.sb.data, b.sb.size, "message has no protocol version ('v')");
    b_free(&b);

    /* The version is checked even when the rest would not decode. */
    b_init(&b);
    b_map(&b, 3);
    b_kv_uint(&b, "v", UINT64_MAX);
    b_kv_str(&b, "t", "work");
    b_kv_str(&b, "whatever", "x");
    expect_reject(b.sb.data, b.sb.size, "protocol version 18446744073709551615");
    b_free(&b);
}

static void
test_decode_unknown_type(void **state)
{
    (void) state;
    static const char *const bad[] = {"bogus", "none", "", "Work", "work ", "statu", "status_get2"};
    for (size_t i = 0; i < N_ELEMS(bad); i++) {
        buf_t b;
        b_init(&b);
        b_map(&b, 2);
        b_env(&b, bad[i]);
        char needle[64];
        snprintf(needle, sizeof needle, "unknown message type '%s'", bad[i]);
        expect_reject(b.sb.data, b.sb.size, needle);
        b_free(&b);
    }
    /* A type name with an embedded NUL is not a prefix match. */
    buf_t b;
    b_init(&b);
    b_map(&b, 2);
    b_kv_uint(&b, "v", 1);
    b_str(&b, "t");
    b_strn(&b, "ready\0x", 7);
    expect_reject(b.sb.data, b.sb.size, "unknown message type");
    b_free(&b);

    b_init(&b);
    b_map(&b, 2);
    b_kv_uint(&b, "v", 1);
    b_kv_uint(&b, "t", 1);
    expect_reject(b.sb.data, b.sb.size, "message type is unsigned integer, expected string");
    b_free(&b);

    b_init(&b);
    b_map(&b, 1);
    b_kv_uint(&b, "v", 1);
    expect_reject(b.sb.data, b.sb.size, "message has no type ('t')");
    b_free(&b);
}

/* Only the envelope: every type with a required field reports the first one missing. */
static void
test_decode_missing_required_every_type(void **state)
{
    (void) state;
    for (size_t i = 0; i < N_ELEMS(s_all_types); i++) {
        tf_msg_type_t type = s_all_types[i];
        buf_t b;
        b_init(&b);
        b_map(&b, 2);
        b_env(&b, s_all_names[i]);
        const char *first = s_first_required(type, false);  /* of any kind: all must be sent */
        if (first) {
            char needle[128];
            snprintf(needle, sizeof needle, "%s: missing required field '%s'", s_all_names[i], first);
            expect_reject(b.sb.data, b.sb.size, needle);
        }
        else {
            tf_msg_t m;
            expect_decode(b.sb.data, b.sb.size, &m);
            assert_int_equal(m.type, type);
            tf_msg_clear(&m);
        }
        b_free(&b);
    }
}

static void
test_decode_missing_required_field(void **state)
{
    (void) state;
    buf_t b;
    b_init(&b);
    b_map(&b, 5);
    b_env(&b, "work");
    b_kv_str(&b, "service", "s");
    b_kv_uint(&b, "attempt", 1);
    b_kv_str(&b, "job_id", "j");
    expect_reject(b.sb.data, b.sb.size, "work: missing required field 'item_id'");
    b_free(&b);

    b_init(&b);
    b_map(&b, 5);
    b_env(&b, "work");
    b_kv_str(&b, "service", "s");
    b_kv_str(&b, "item_id", "i");
    b_kv_str(&b, "job_id", "j");
    expect_reject(b.sb.data, b.sb.size, "work: missing required field 'attempt'");
    b_free(&b);

    b_init(&b);
    b_map(&b, 3);
    b_env(&b, "status");
    b_str(&b, "services");
    b_array(&b, 0);
    expect_reject(b.sb.data, b.sb.size, "status: missing required field 'workers'");
    b_free(&b);

    /* A required field missing from a row, after other rows allocated strings. */
    b_init(&b);
    b_map(&b, 4);
    b_env(&b, "status");
    b_str(&b, "services");
    b_array(&b, 0);
    b_str(&b, "workers");
    b_array(&b, 2);
    b_map(&b, 3);
    b_kv_str(&b, "id", "01");
    b_kv_str(&b, "service", "s");
    b_kv_str(&b, "state", "idle");
    b_map(&b, 2);
    b_kv_str(&b, "service", "s");
    b_kv_str(&b, "state", "idle");
    expect_reject(b.sb.data, b.sb.size, "status.workers[1]: worker: missing required field 'id'");
    b_free(&b);
}

/* A valid "work" map with one field's value supplied by `put`. */
static void
b_work_with(buf_t *b, const char *key, void (*put)(buf_t *))
{
    b_init(b);
    b_map(b, 5);
    b_env(b, "work");
    static const char *const keys[] = {"item_id", "service", "attempt"};
    for (size_t i = 0; i < N_ELEMS(keys); i++) {
        b_str(b, keys[i]);
        if (strcmp(keys[i], key) == 0)
            put(b);
        else if (strcmp(keys[i], "attempt") == 0)
            b_uint(b, 1);
        else
            b_str(b, "x");
    }
}
static void put_str(buf_t *b) { b_str(b, "3"); }
static void put_uint(buf_t *b) { b_uint(b, 3); }
static void put_neg(buf_t *b) { b_int(b, -1); }
static void put_nil(buf_t *b) { b_nil(b); }
static void put_true(buf_t *b) { b_bool(b, true); }
static void put_float(buf_t *b) { b_double(b, 3.0); }
static void put_bin(buf_t *b) { b_bin(b, "abc", 3); }
static void put_array(buf_t *b) { b_array(b, 1); b_uint(b, 3); }
static void put_map(buf_t *b) { b_map(b, 0); }

static void
test_decode_wrong_types(void **state)
{
    (void) state;
    static const struct {
        const char *key;
        void (*put)(buf_t *);
        const char *needle;
    } cases[] = {
        {"attempt", put_str, "work.attempt: expected unsigned integer, got string"},
        {"attempt", put_nil, "work.attempt: expected unsigned integer, got nil"},
        {"attempt", put_true, "work.attempt: expected unsigned integer, got boolean"},
        {"attempt", put_float, "work.attempt: expected unsigned integer, got float"},
        {"attempt", put_bin, "work.attempt: expected unsigned integer, got byte string"},
        {"attempt", put_array, "work.attempt: expected unsigned integer, got array"},
        {"attempt", put_map, "work.attempt: expected unsigned integer, got map"},
        {"attempt", put_neg, "work.attempt: expected unsigned integer, got integer"},
        {"item_id", put_uint, "work.item_id: expected string, got unsigned integer"},
        {"item_id", put_bin, "work.item_id: expected string, got byte string"},
        {"item_id", put_nil, "work.item_id: expected string, got nil"},
        {"service", put_map, "work.service: expected string, got map"},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        buf_t b;
        b_work_with(&b, cases[i].key, cases[i].put);
        expect_reject(b.sb.data, b.sb.size, cases[i].needle);
        b_free(&b);
    }

    /* The helper builds valid messages when the value fits. */
    buf_t b;
    tf_msg_t m;
    b_work_with(&b, "attempt", put_uint);
    expect_decode(b.sb.data, b.sb.size, &m);
    assert_int_equal(m.work.attempt, 3);
    tf_msg_clear(&m);
    b_free(&b);

    b_init(&b);
    b_map(&b, 5);
    b_env(&b, "done");
    b_kv_str(&b, "item_id", "i");
    b_kv_uint(&b, "attempt", 1);
    b_kv_str(&b, "result", "text, not bin");
    expect_reject(b.sb.data, b.sb.size, "done.result: expected byte string, got string");
    b_free(&b);

    b_init(&b);
    b_map(&b, 6);
    b_env(&b, "failed");
    b_kv_str(&b, "item_id", "i");
    b_kv_uint(&b, "attempt", 1);
    b_kv_str(&b, "reason", "r");
    b_kv_uint(&b, "retry", 1);
    expect_reject(b.sb.data, b.sb.size, "failed.retry: expected boolean, got unsigned integer");
    b_free(&b);

    b_init(&b);
    b_map(&b, 4);
    b_env(&b, "error");
    b_str(&b, "code");
    b_double(&b, -2.0);
    b_kv_str(&b, "message", "m");
    expect_reject(b.sb.data, b.sb.size, "error.code: expected integer, got float");
    b_free(&b);

    b_init(&b);
    b_map(&b, 4);
    b_env(&b, "status");
    b_str(&b, "services");
    b_map(&b, 0);
    b_str(&b, "workers");
    b_array(&b, 0);
    expect_reject(b.sb.data, b.sb.size, "status.services: expected array, got map");
    b_free(&b);

    /* A wrong type inside a row. */
    b_init(&b);
    b_map(&b, 4);
    b_env(&b, "status");
    b_str(&b, "workers");
    b_array(&b, 0);
    b_str(&b, "services");
    b_array(&b, 1);
    b_map(&b, 2);
    b_kv_str(&b, "name", "s");
    b_kv_str(&b, "queued", "7");
    expect_reject(b.sb.data, b.sb.size,
                  "status.services[0]: service.queued: expected unsigned integer, got string");
    b_free(&b);
}

static void
test_decode_signed_and_unsigned(void **state)
{
    (void) state;
    buf_t b;
    tf_msg_t m;
    /* A non-negative value in a signed msgpack format is fine for an unsigned field (other
       packers write 5 as int8). Raw: d0 05. */
    b_init(&b);
    b_map(&b, 5);
    b_env(&b, "work");
    b_kv_str(&b, "item_id", "i");
    b_kv_str(&b, "service", "s");
    b_str(&b, "attempt");
    b_raw(&b, "\xd0\x05", 2);
    expect_decode(b.sb.data, b.sb.size, &m);
    assert_int_equal(m.work.attempt, 5);
    tf_msg_clear(&m);
    b_free(&b);

    /* Negative for unsigned: as int8 (d0 ff), int64 and negative fixint. */
    static const char *const negs[] = {"\xd0\xff", "\xd3\x80\x00\x00\x00\x00\x00\x00\x00", "\xe0"};
    static const size_t neg_len[] = {2, 9, 1};
    for (size_t i = 0; i < N_ELEMS(negs); i++) {
        b_init(&b);
        b_map(&b, 5);
        b_env(&b, "work");
        b_kv_str(&b, "item_id", "i");
        b_kv_str(&b, "service", "s");
        b_str(&b, "attempt");
        b_raw(&b, negs[i], neg_len[i]);
        expect_reject(b.sb.data, b.sb.size, "work.attempt: expected unsigned integer, got integer");
        b_free(&b);
    }

    /* Signed fields: the full int64 range, and nothing above it. */
    static const int64_t ok[] = {INT64_MIN, -1, 0, 1, INT64_MAX};
    for (size_t i = 0; i < N_ELEMS(ok); i++) {
        b_init(&b);
        b_map(&b, 4);
        b_env(&b, "error");
        b_str(&b, "code");
        b_int(&b, ok[i]);
        b_kv_str(&b, "message", "m");
        expect_decode(b.sb.data, b.sb.size, &m);
        assert_true(m.error.code == ok[i]);
        tf_msg_clear(&m);
        b_free(&b);
    }
    static const uint64_t too_big[] = {(uint64_t) INT64_MAX + 1, UINT64_MAX};
    for (size_t i = 0; i < N_ELEMS(too_big); i++) {
        b_init(&b);
        b_map(&b, 4);
        b_env(&b, "error");
        b_kv_uint(&b, "code", too_big[i]);
        b_kv_str(&b, "message", "m");
        expect_reject(b.sb.data, b.sb.size, "error.code: integer out of range");
        b_free(&b);
    }
}

static void
test_decode_trailing_bytes(void **state)
{
    tf_msg_sample_t *sample = *state;
    tf_msg_t m;
    fill_full(sample, TF_MSG_READY, &m);
    uint8_t *data;
    size_t size;
    encode_ok(&m, &data, &size);
    uint8_t *more = malloc(size * 2 + 1);
    assert_non_null(more);
    memcpy(more, data, size);
    more[size] = 0xc0;
    expect_reject(more, size + 1, "1 trailing bytes after the message");
    memcpy(more + size, data, size);  /* two messages in one frame */
    char needle[64];
    snprintf(needle, sizeof needle, "%zu trailing bytes", size);
    expect_reject(more, size * 2, needle);
    free(more);
    free(data);
}

static void
test_decode_counts_larger_than_bytes_left(void **state)
{
    (void) state;
    /* fixmap claiming 15 pairs with 4 bytes after it */
    static const uint8_t fixmap[] = {0x8f, 0xa1, 'v', 0x01, 0xc0};
    expect_reject(fixmap, sizeof fixmap, "map claims 15 elements but only 4 bytes are left");
    /* map16 claiming 1000 pairs */
    static const uint8_t map16[] = {0xde, 0x03, 0xe8, 0xa1, 'v', 0x01};
    expect_reject(map16, sizeof map16, "map claims 1000 elements");
    /* array16 inside an otherwise valid status */
    buf_t b;
    b_init(&b);
    b_map(&b, 4);
    b_env(&b, "status");
    b_str(&b, "workers");
    b_array(&b, 0);
    b_str(&b, "services");
    b_raw(&b, "\xdc\xff\xff\x80\x80", 5);
    expect_reject(b.sb.data, b.sb.size, "array claims 65535 elements but only 2 bytes are left");
    b_free(&b);
    /* a map's count needs two values per pair: 2 pairs, 3 bytes */
    static const uint8_t pairs[] = {0x82, 0x01, 0x02, 0x03};
    expect_reject(pairs, sizeof pairs, "map claims 2 elements but only 3 bytes are left");
}

/* 10 bytes claiming an array32 of 0xffffffff elements: refused by the count check, before
   anything is allocated (msgpack-c's unpacker would ask for 4G x 24 bytes first). */
static void
test_hostile_count(void **state)
{
    (void) state;
    static const uint8_t arr32[10] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00};
    expect_reject(arr32, sizeof arr32, "array claims 4294967295 elements but only 5 bytes are left");
    static const uint8_t map32[10] = {0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 'v', 0x01, 0xa1, 't'};
    expect_reject(map32, sizeof map32, "map claims 4294967295 elements");
    static const uint8_t str32[10] = {0xdb, 0xff, 0xff, 0xff, 0xff, 'a', 'b', 'c', 'd', 'e'};
    expect_reject(str32, sizeof str32, "string of 4294967295 bytes is longer than the 5 bytes left");
    static const uint8_t bin32[10] = {0xc6, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0};
    expect_reject(bin32, sizeof bin32, "byte string of 4294967295 bytes is longer than");

    /* The same lie deep inside a valid envelope, in a known and an unknown field. */
    buf_t b;
    b_init(&b);
    b_map(&b, 4);
    b_env(&b, "status");
    b_str(&b, "workers");
    b_array(&b, 0);
    b_str(&b, "services");
    b_raw(&b, arr32, 5);
    expect_reject(b.sb.data, b.sb.size, "array claims 4294967295 elements but only 0 bytes are left");
    b_free(&b);

    b_init(&b);
    b_map(&b, 3);
    b_env(&b, "heartbeat");
    b_str(&b, "future");
    b_array(&b, 1);
    b_raw(&b, map32, 5);
    b_raw(&b, "\x01\x02", 2);
    expect_reject(b.sb.data, b.sb.size, "map claims 4294967295 elements but only 2 bytes are left");
    b_free(&b);
}

static void
test_decode_overlong_strings(void **state)
{
    (void) state;
    char *id = s_repeat('i', TF_MSG_MAX_ID + 1);
    char *text = s_repeat('t', TF_MSG_MAX_TEXT + 1);
    buf_t b;

    b_init(&b);
    b_map(&b, 5);
    b_env(&b, "work");
    b_kv_str(&b, "item_id", id);
    b_kv_str(&b, "service", "s");
    b_kv_uint(&b, "attempt", 1);
    expect_reject(b.sb.data, b.sb.size, "work.item_id: string of 129 bytes is over the limit of 128");
    b_free(&b);

    b_init(&b);
    b_map(&b, 3);
    b_env(&b, "disconnect");
    b_kv_str(&b, "reason", text);
    expect_reject(b.sb.data, b.sb.size, "disconnect.reason: string of 4097 bytes is over the limit of 4096");
    b_free(&b);

    b_init(&b);
    b_map(&b, 7);
    b_env(&b, "event");
    b_kv_str(&b, "topic", "alert.x");
    b_str(&b, "time_ms");
    b_int(&b, 1);
    b_kv_str(&b, "source", "s");
    b_kv_uint(&b, "seq", 1);
    b_kv_str(&b, "level", "informational-ish");
    expect_reject(b.sb.data, b.sb.size, "event.level: string of 17 bytes is over the limit of 16");
    b_free(&b);

    /* A str8 whose length runs past the end. */
    static const uint8_t str8[] = {0x81, 0xa1, 'v', 0xd9, 0x20, 'a', 'b'};
    expect_reject(str8, sizeof str8, "string of 32 bytes is longer than the 2 bytes left");
    /* A key string running past the end. */
    static const uint8_t key[] = {0x81, 0xbf, 'v'};
    expect_reject(key, sizeof key, "string of 31 bytes is longer than the 1 bytes left");

    free(id);
    free(text);
}

/* A byte string one over TF_MSG_MAX_BLOB (64 MiB): really present, refused before copying. */
static void
test_decode_blob_over_limit(void **state)
{
    (void) state;
    buf_t b;
    b_init(&b);
    b_map(&b, 5);
    b_env(&b, "done");
    b_kv_str(&b, "item_id", "i");
    b_kv_uint(&b, "attempt", 1);
    b_str(&b, "result");
    size_t blob = (size_t) TF_MSG_MAX_BLOB + 1;
    size_t total = b.sb.size + 5 + blob;
    uint8_t *data = calloc(1, total);  /* untouched zero pages: cheap */
    assert_non_null(data);
    memcpy(data, b.sb.data, b.sb.size);
    uint8_t *h = data + b.sb.size;
    h[0] = 0xc6;
    h[1] = (uint8_t) (blob >> 24);
    h[2] = (uint8_t) (blob >> 16);
    h[3] = (uint8_t) (blob >> 8);
    h[4] = (uint8_t) blob;
    expect_reject(data, total, "done.result: 67108865 bytes is over the limit of 67108864");
    free(data);
    b_free(&b);
}

static void
test_decode_rows_over_limit(void **state)
{
    (void) state;
    buf_t b;
    b_init(&b);
    b_map(&b, 4);
    b_env(&b, "status");
    b_str(&b, "workers");
    b_array(&b, 0);
    b_str(&b, "services");
    b_array(&b, TF_MSG_MAX_ROWS + 1);
    for (size_t i = 0; i < TF_MSG_MAX_ROWS + 1; i++)
        b_map(&b, 0);
    expect_reject(b.sb.data, b.sb.size, "status.services: 100001 rows is over the limit of 100000");
    b_free(&b);
}

/* {"v":1,"t":"heartbeat","x": N nested arrays (or maps), innermost empty} */
static void
b_nested(buf_t *b, int levels, bool maps)
{
    b_init(b);
    b_map(b, 3);
    b_env(b, "heartbeat");
    b_str(b, "x");
    for (int i = 0; i < levels; i++) {
        if (maps) {
            if (i == levels - 1) {
                b_map(b, 0);
            }
            else {
                b_map(b, 1);
                b_str(b, "k");
            }
        }
        else
            b_array(b, i == levels - 1 ? 0 : 1);
    }
}

static void
test_decode_deep_nesting(void **state)
{
    (void) state;
    for (int maps = 0; maps <= 1; maps++) {
        buf_t b;
        tf_msg_t m;
        b_nested(&b, TF_MSG_MAX_DEPTH, maps);  /* the deepest accepted */
        expect_decode(b.sb.data, b.sb.size, &m);
        assert_int_equal(m.type, TF_MSG_HEARTBEAT);
        tf_msg_clear(&m);
        b_free(&b);

        b_nested(&b, TF_MSG_MAX_DEPTH + 1, maps);
        expect_reject(b.sb.data, b.sb.size, "nested deeper than 8 levels");
        b_free(&b);
    }
    /* 100000 nested arrays at the top: rejected early, no deep recursion. */
    size_t n = 100000;
    uint8_t *deep = malloc(n);
    assert_non_null(deep);
    memset(deep, 0x91, n - 1);
    deep[n - 1] = 0x90;
    expect_reject(deep, n, "nested deeper than 8 levels");
    free(deep);

    /* Deep inside a row: top map, services array, row map, unknown value (depth 3), ... */
    buf_t b;
    b_init(&b);
    b_map(&b, 4);
    b_env(&b, "status");
    b_str(&b, "workers");
    b_array(&b, 0);
    b_str(&b, "services");
    b_array(&b, 1);
    b_map(&b, 2);
    b_kv_str(&b, "name", "s");
    b_str(&b, "future");
    for (int i = 3; i <= TF_MSG_MAX_DEPTH + 1; i++)
        b_array(&b, i == TF_MSG_MAX_DEPTH + 1 ? 0 : 1);
    expect_reject(b.sb.data, b.sb.size, "nested deeper than 8 levels");
    b_free(&b);
}

static void
test_decode_nul_in_string(void **state)
{
    (void) state;
    buf_t b;
    b_init(&b);
    b_map(&b, 5);
    b_env(&b, "work");
    b_str(&b, "item_id");
    b_strn(&b, "ab\0cd", 5);
    b_kv_str(&b, "service", "s");
    b_kv_uint(&b, "attempt", 1);
    expect_reject(b.sb.data, b.sb.size, "work.item_id: string contains a NUL byte");
    b_free(&b);

    b_init(&b);
    b_map(&b, 3);
    b_env(&b, "disconnect");
    b_str(&b, "reason");
    b_strn(&b, "\0", 1);
    expect_reject(b.sb.data, b.sb.size, "disconnect.reason: string contains a NUL byte");
    b_free(&b);

    /* in a row */
    b_init(&b);
    b_map(&b, 4);
    b_env(&b, "status");
    b_str(&b, "workers");
    b_array(&b, 0);
    b_str(&b, "services");
    b_array(&b, 1);
    b_map(&b, 1);
    b_str(&b, "name");
    b_strn(&b, "svc\0", 4);
    expect_reject(b.sb.data, b.sb.size, "status.services[0]: service.name: string contains a NUL byte");
    b_free(&b);
}

static void
test_decode_duplicate_keys(void **state)
{
    (void) state;
    buf_t b;
    b_init(&b);
    b_map(&b, 6);
    b_env(&b, "work");
    b_kv_str(&b, "item_id", "a");
    b_kv_str(&b, "service", "s");
    b_kv_uint(&b, "attempt", 1);
    b_kv_str(&b, "item_id", "b");
    expect_reject(b.sb.data, b.sb.size, "work: field 'item_id' appears twice");
    b_free(&b);

    /* Envelope keys: a second "t" must neither win nor be ignored. */
    static const char *const second_t[] = {"heartbeat", "disconnect", "bogus"};
    for (size_t i = 0; i < N_ELEMS(second_t); i++) {
        b_init(&b);
        b_map(&b, 3);
        b_env(&b, "heartbeat");
        b_kv_str(&b, "t", second_t[i]);
        expect_reject(b.sb.data, b.sb.size, "field 't' appears twice");
        b_free(&b);
    }
    b_init(&b);
    b_map(&b, 3);
    b_env(&b, "heartbeat");
    b_kv_uint(&b, "v", 1);
    expect_reject(b.sb.data, b.sb.size, "field 'v' appears twice");
    b_free(&b);

    /* in a row */
    b_init(&b);
    b_map(&b, 4);
    b_env(&b, "status");
    b_str(&b, "services");
    b_array(&b, 0);
    b_str(&b, "workers");
    b_array(&b, 1);
    b_map(&b, 4);
    b_kv_str(&b, "id", "1");
    b_kv_str(&b, "service", "s");
    b_kv_str(&b, "state", "idle");
    b_kv_str(&b, "state", "busy");
    expect_reject(b.sb.data, b.sb.size, "status.workers[0]: worker: field 'state' appears twice");
    b_free(&b);
}

static void
test_decode_extension_types(void **state)
{
    (void) state;
    /* fixext 1/2/4/8/16, ext 8/16/32: header bytes followed by enough data */
    static const struct {
        uint8_t head[6];
        size_t len;
    } exts[] = {
        {{0xd4, 0x01, 0x00}, 3},
        {{0xd5, 0x01, 0x00, 0x00}, 4},
        {{0xd6, 0x01, 0, 0, 0, 0}, 6},
        {{0xd7, 0x01}, 2},
        {{0xd8, 0x01}, 2},
        {{0xc7, 0x01, 0x01, 0x00}, 4},
        {{0xc8, 0x00, 0x01, 0x01, 0x00}, 5},
        {{0xc9, 0x00, 0x00, 0x00, 0x01, 0x01}, 6},
    };
    for (size_t i = 0; i < N_ELEMS(exts); i++) {
        char needle[64];
        snprintf(needle, sizeof needle, "msgpack extension type 0x%02x", exts[i].head[0]);
        /* as a known field's value */
        buf_t b;
        b_init(&b);
        b_map(&b, 3);
        b_env(&b, "heartbeat");
        b_str(&b, "ts");
        b_raw(&b, exts[i].head, exts[i].len);
        b_raw(&b, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
        /* the 16 bytes of padding make it "trailing bytes" if the extension were accepted;
           the extension is found first */
        expect_reject(b.sb.data, b.sb.size, needle);
        b_free(&b);
        /* at the top */
        expect_reject(exts[i].head, exts[i].len, needle);
    }
    /* An extension in an unknown field is rejected too (structure is checked everywhere). */
    buf_t b;
    b_init(&b);
    b_map(&b, 3);
    b_env(&b, "heartbeat");
    b_str(&b, "future");
    b_raw(&b, "\xd4\x05\x00", 3);
    expect_reject(b.sb.data, b.sb.size, "extension");
    b_free(&b);

    static const uint8_t c1[] = {0x81, 0xa1, 'v', 0xc1};
    expect_reject(c1, sizeof c1, "invalid msgpack byte 0xc1");
}

static void
test_decode_truncated(void **state)
{
    tf_msg_sample_t *sample = *state;
    /* Every strict prefix of every full message is rejected, with a message. */
    for (size_t i = 0; i < N_ELEMS(s_all_types); i++) {
        tf_msg_t m;
        fill_full(sample, s_all_types[i], &m);
        uint8_t *data;
        size_t size;
        encode_ok(&m, &data, &size);
        for (size_t cut = 0; cut < size; cut++) {
            /* a heap copy of exactly `cut` bytes so ASan catches any read past the end */
            uint8_t *part = malloc(cut ? cut : 1);
            assert_non_null(part);
            memcpy(part, data, cut);
            tf_msg_t out;
            tf_err_t err = {0};
            int rc = tf_msg_decode(part, cut, &out, &err);
            if (rc != TF_ERR_PROTO) {
                if (rc == TF_OK)
                    tf_msg_clear(&out);
                fail_msg("%s cut at %zu of %zu: rc %d", s_all_names[i], cut, size, rc);
            }
            assert_true(err.message[0] != '\0');
            assert_true(s_all_zero(&out, sizeof out));
            free(part);
        }
        free(data);
    }
    /* Cut in the middle of a uint64. */
    static const uint8_t cut64[] = {0x83, 0xa1, 'v', 0x01, 0xa1, 't', 0xa9, 'h', 'e', 'a', 'r',
                                    't', 'b', 'e', 'a', 't', 0xa2, 't', 's', 0xcf, 0x00, 0x01};
    expect_reject(cut64, sizeof cut64, "truncated message: needs 8 more bytes, only 2 left");
    /* Cut after a key. */
    static const uint8_t after_key[] = {0x81, 0xa1, 'v'};
    expect_reject(after_key, sizeof after_key, "truncated message");
    static const uint8_t str16_head[] = {0xda, 0x00};
    expect_reject(str16_head, sizeof str16_head, "truncated message: needs 2 more bytes, only 1 left");
}

static void
test_decode_not_a_map(void **state)
{
    (void) state;
    static const uint8_t arr[] = {0x92, 0xa1, 'v', 0x01};
    expect_reject(arr, sizeof arr, "message is a msgpack array, expected a map");
    static const uint8_t str[] = {0xa4, 'w', 'o', 'r', 'k'};
    expect_reject(str, sizeof str, "message is a msgpack string, expected a map");
    static const uint8_t nil[] = {0xc0};
    expect_reject(nil, sizeof nil, "message is a msgpack nil, expected a map");
    static const uint8_t empty_map[] = {0x80};
    expect_reject(empty_map, sizeof empty_map, "message has no protocol version");
}

static void
test_decode_non_string_keys(void **state)
{
    (void) state;
    buf_t b;
    b_init(&b);
    b_map(&b, 3);
    b_uint(&b, 7);
    b_str(&b, "x");
    b_env(&b, "heartbeat");
    expect_reject(b.sb.data, b.sb.size, "map key is unsigned integer, expected string");
    b_free(&b);

    /* A container key hiding an envelope: {["v"]: 1, "t": "heartbeat", ...} */
    b_init(&b);
    b_map(&b, 3);
    b_array(&b, 1);
    b_str(&b, "v");
    b_uint(&b, 2);
    b_env(&b, "heartbeat");
    expect_reject(b.sb.data, b.sb.size, "map key is array, expected string");
    b_free(&b);

    b_init(&b);
    b_map(&b, 4);
    b_env(&b, "status");
    b_str(&b, "workers");
    b_array(&b, 0);
    b_str(&b, "services");
    b_array(&b, 1);
    b_map(&b, 2);
    b_kv_str(&b, "name", "s");
    b_bin(&b, "idle", 4);
    b_uint(&b, 1);
    expect_reject(b.sb.data, b.sb.size, "status.services[0]: service: map key is byte string");
    b_free(&b);
}

/* A status whose second row is not a map: rejected, and the first row's strings (already
   allocated) are freed: ASan's leak check fails the test otherwise. */
static void
test_decode_status_row_not_map(void **state)
{
    (void) state;
    static const struct {
        void (*put)(buf_t *);
        const char *needle;
    } cases[] = {
        {put_uint, "status.services[1]: expected map, got unsigned integer"},
        {put_str, "status.services[1]: expected map, got string"},
        {put_array, "status.services[1]: expected map, got array"},
        {put_nil, "status.services[1]: expected map, got nil"},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        buf_t b;
        b_init(&b);
        b_map(&b, 5);
        b_env(&b, "status");
        b_kv_str(&b, "journal", "/j");
        b_str(&b, "workers");
        b_array(&b, 1);
        b_map(&b, 3);
        b_kv_str(&b, "id", "01");
        b_kv_str(&b, "service", "s");
        b_kv_str(&b, "state", "idle");
        b_str(&b, "services");
        b_array(&b, 3);
        b_map(&b, 1);
        b_kv_str(&b, "name", "first");
        cases[i].put(&b);
        b_map(&b, 1);
        b_kv_str(&b, "name", "third");
        expect_reject(b.sb.data, b.sb.size, cases[i].needle);
        b_free(&b);
    }
}

/* Fields decoded before the failing one are freed and the message is zeroed. */
static void
test_decode_failure_frees_partial(void **state)
{
    (void) state;
    buf_t b;
    b_init(&b);
    b_map(&b, 13);
    b_env(&b, "item_info");
    b_kv_str(&b, "rid", "r");
    b_kv_str(&b, "item_id", "i");
    b_kv_str(&b, "service", "s");
    b_kv_str(&b, "job_id", "j");
    b_kv_str(&b, "state", "done");
    b_kv_str(&b, "worker", "w");
    b_kv_str(&b, "reason", "r");
    b_str(&b, "result");
    b_bin(&b, "\0\1\2", 3);
    b_kv_uint(&b, "attempts", 2);
    b_kv_uint(&b, "created_ms", 1);
    b_kv_str(&b, "updated_ms", "late");
    expect_reject(b.sb.data, b.sb.size, "item_info.updated_ms: expected integer, got string");
    b_free(&b);
}

/* -------------------------------------------- pipeline messages: nested rejections ---- */

/* {"v","t":"file_group", job_id, archive_id, group_no, "entries": [ then the caller's rows */
static void
b_file_group_head(buf_t *b, uint32_t rows)
{
    b_init(b);
    b_map(b, 6);
    b_env(b, "file_group");
    b_kv_str(b, "job_id", "J1");
    b_kv_str(b, "archive_id", "J1-g00001");
    b_kv_uint(b, "group_no", 1);
    b_str(b, "entries");
    b_array(b, rows);
}

static void
test_decode_file_group_entry_errors(void **state)
{
    (void) state;
    buf_t b;
    /* the second entry has no path (the first one's path is already copied: freed on error) */
    b_file_group_head(&b, 3);
    b_map(&b, 2);
    b_kv_str(&b, "path", "/a");
    b_kv_uint(&b, "size", 1);
    b_map(&b, 1);
    b_kv_uint(&b, "size", 2);
    b_map(&b, 1);
    b_kv_str(&b, "path", "/c");
    expect_reject(b.sb.data, b.sb.size, "file_group.entries[1]: entry: missing required field 'path'");
    b_free(&b);

    /* an empty map as the only entry */
    b_file_group_head(&b, 1);
    b_map(&b, 0);
    expect_reject(b.sb.data, b.sb.size, "file_group.entries[0]: entry: missing required field 'path'");
    b_free(&b);

    /* a negative size */
    b_file_group_head(&b, 1);
    b_map(&b, 2);
    b_kv_str(&b, "path", "/a");
    b_str(&b, "size");
    b_int(&b, -1);
    expect_reject(b.sb.data, b.sb.size,
                  "file_group.entries[0]: entry.size: expected unsigned integer, got integer");
    b_free(&b);

    /* an entry path one byte over PATH */
    char *path = s_repeat('p', TF_MSG_MAX_PATH + 1);
    b_file_group_head(&b, 1);
    b_map(&b, 1);
    b_kv_str(&b, "path", path);
    expect_reject(b.sb.data, b.sb.size,
                  "file_group.entries[0]: entry.path: string of 4097 bytes is over the limit of 4096");
    b_free(&b);
    free(path);

    /* entries missing altogether (required, even when empty) */
    b_init(&b);
    b_map(&b, 5);
    b_env(&b, "file_group");
    b_kv_str(&b, "job_id", "J1");
    b_kv_str(&b, "archive_id", "J1-g00001");
    b_kv_uint(&b, "group_no", 1);
    expect_reject(b.sb.data, b.sb.size, "file_group: missing required field 'entries'");
    b_free(&b);

    /* and the same message with the entries accepted */
    b_file_group_head(&b, 2);
    b_map(&b, 2);
    b_kv_str(&b, "path", "/a");
    b_kv_uint(&b, "size", 1);
    b_map(&b, 1);
    b_kv_str(&b, "path", "/a/b");
    tf_msg_t m;
    expect_decode(b.sb.data, b.sb.size, &m);
    assert_int_equal(m.type, TF_MSG_FILE_GROUP);
    assert_int_equal(m.file_group.entries_count, 2);
    assert_string_equal(m.file_group.entries[1].path, "/a/b");
    assert_int_equal(m.file_group.entries[1].size, 0);
    tf_msg_clear(&m);
    b_free(&b);
}

/* A cat_reply whose jobs decoded fine and whose files row `which` has size as a string. */
static void
test_decode_cat_reply_file_size_string(void **state)
{
    (void) state;
    for (uint32_t which = 0; which < 2; which++) {
        buf_t b;
        b_init(&b);
        b_map(&b, 4);
        b_env(&b, "cat_reply");
        b_str(&b, "jobs");
        b_array(&b, 1);
        b_map(&b, 3);
        b_kv_str(&b, "job_id", "J1");
        b_kv_str(&b, "status", "running");
        b_kv_str(&b, "message", "m");
        b_str(&b, "files");
        b_array(&b, 2);
        for (uint32_t r = 0; r < 2; r++) {
            b_map(&b, 4);
            b_kv_str(&b, "path", r ? "b" : "a");
            b_kv_str(&b, "type", "file");
            b_kv_str(&b, "user", "alice");
            if (r == which)
                b_kv_str(&b, "size", "12");
            else
                b_kv_uint(&b, "size", 12);
        }
        char needle[128];
        snprintf(needle, sizeof needle,
                 "cat_reply.files[%u]: file.size: expected unsigned integer, got string", which);
        expect_reject(b.sb.data, b.sb.size, needle);
        b_free(&b);
    }

    /* other wrong kinds in cat_reply rows */
    buf_t b;
    b_init(&b);
    b_map(&b, 3);
    b_env(&b, "cat_reply");
    b_str(&b, "files");
    b_array(&b, 1);
    b_map(&b, 3);
    b_kv_str(&b, "path", "a");
    b_kv_str(&b, "type", "file");
    b_kv_uint(&b, "mtime", UINT64_MAX);
    expect_reject(b.sb.data, b.sb.size, "cat_reply.files[0]: file.mtime: integer out of range");
    b_free(&b);

    b_init(&b);
    b_map(&b, 3);
    b_env(&b, "cat_reply");
    b_str(&b, "archives");
    b_array(&b, 1);
    b_map(&b, 2);
    b_kv_str(&b, "archive_id", "a");
    b_kv_uint(&b, "written", 1);
    expect_reject(b.sb.data, b.sb.size,
                  "cat_reply.archives[0]: archive.written: expected boolean, got unsigned integer");
    b_free(&b);

    b_init(&b);
    b_map(&b, 3);
    b_env(&b, "cat_reply");
    b_str(&b, "jobs");
    b_array(&b, 1);
    b_map(&b, 3);
    b_kv_str(&b, "job_id", "J1");
    b_kv_str(&b, "status", "running");
    b_kv_str(&b, "status", "failed");
    expect_reject(b.sb.data, b.sb.size, "cat_reply.jobs[0]: job: field 'status' appears twice");
    b_free(&b);

    b_init(&b);
    b_map(&b, 3);
    b_env(&b, "cat_reply");
    b_str(&b, "jobs");
    b_array(&b, 1);
    b_map(&b, 2);
    b_kv_str(&b, "job_id", "J1");
    b_str(&b, "status");
    b_strn(&b, "ok\0", 3);
    expect_reject(b.sb.data, b.sb.size, "cat_reply.jobs[0]: job.status: string contains a NUL byte");
    b_free(&b);
}

/* A tape_restore whose second archive is not a map: rejected, and what the patterns and the
   first archive allocated is freed (ASan's leak check fails the test otherwise). */
static void
test_decode_tape_restore_archive_not_map(void **state)
{
    (void) state;
    static const struct {
        void (*put)(buf_t *);
        const char *needle;
    } cases[] = {
        {put_uint, "tape_restore.archives[1]: expected map, got unsigned integer"},
        {put_str, "tape_restore.archives[1]: expected map, got string"},
        {put_array, "tape_restore.archives[1]: expected map, got array"},
        {put_nil, "tape_restore.archives[1]: expected map, got nil"},
        {put_bin, "tape_restore.archives[1]: expected map, got byte string"},
        {put_true, "tape_restore.archives[1]: expected map, got boolean"},
        {put_float, "tape_restore.archives[1]: expected map, got float"},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        buf_t b;
        b_init(&b);
        b_map(&b, 6);
        b_env(&b, "tape_restore");
        b_kv_str(&b, "job_id", "J1");
        b_kv_str(&b, "dest", "/restore");
        b_str(&b, "patterns");
        b_array(&b, 1);
        b_map(&b, 1);
        b_kv_str(&b, "path", "home/*");
        b_str(&b, "archives");
        b_array(&b, 3);
        b_map(&b, 2);
        b_kv_str(&b, "archive_id", "J1-g00001");
        b_kv_str(&b, "volume", "TF0001L8");
        cases[i].put(&b);
        b_map(&b, 1);
        b_kv_str(&b, "archive_id", "J1-g00003");
        expect_reject(b.sb.data, b.sb.size, cases[i].needle);
        b_free(&b);
    }

    /* archives as a map, not an array; and missing */
    buf_t b;
    b_init(&b);
    b_map(&b, 5);
    b_env(&b, "tape_restore");
    b_kv_str(&b, "job_id", "J1");
    b_kv_str(&b, "dest", "/restore");
    b_str(&b, "archives");
    b_map(&b, 1);
    b_kv_str(&b, "archive_id", "J1-g00001");
    expect_reject(b.sb.data, b.sb.size, "tape_restore.archives: expected array, got map");
    b_free(&b);

    b_init(&b);
    b_map(&b, 5);
    b_env(&b, "tape_restore");
    b_kv_str(&b, "job_id", "J1");
    b_kv_str(&b, "dest", "/restore");
    b_str(&b, "patterns");
    b_array(&b, 0);
    expect_reject(b.sb.data, b.sb.size, "tape_restore: missing required field 'archives'");
    b_free(&b);

    /* a pattern row that is a bare string, as a careless client might send */
    b_init(&b);
    b_map(&b, 6);
    b_env(&b, "tape_restore");
    b_kv_str(&b, "job_id", "J1");
    b_kv_str(&b, "dest", "/restore");
    b_str(&b, "archives");
    b_array(&b, 0);
    b_str(&b, "patterns");
    b_array(&b, 1);
    b_str(&b, "home/*");
    expect_reject(b.sb.data, b.sb.size, "tape_restore.patterns[0]: expected map, got string");
    b_free(&b);
}

static void
test_decode_stage_data_errors(void **state)
{
    (void) state;
    buf_t b;
    b_init(&b);
    b_map(&b, 4);
    b_env(&b, "stage_data");
    b_kv_str(&b, "archive_id", "J1-g00001");
    b_kv_uint(&b, "offset", 0);
    expect_reject(b.sb.data, b.sb.size, "stage_data: missing required field 'data'");
    b_free(&b);

    /* data as text rather than bin */
    b_init(&b);
    b_map(&b, 5);
    b_env(&b, "stage_data");
    b_kv_str(&b, "archive_id", "J1-g00001");
    b_kv_uint(&b, "offset", 0);
    b_kv_str(&b, "data", "bytes");
    expect_reject(b.sb.data, b.sb.size, "stage_data.data: expected byte string, got string");
    b_free(&b);

    /* data present, offset missing */
    b_init(&b);
    b_map(&b, 4);
    b_env(&b, "stage_data");
    b_kv_str(&b, "archive_id", "J1-g00001");
    b_str(&b, "data");
    b_bin(&b, "\0\1", 2);
    expect_reject(b.sb.data, b.sb.size, "stage_data: missing required field 'offset'");
    b_free(&b);

    /* empty data is data */
    b_init(&b);
    b_map(&b, 5);
    b_env(&b, "stage_data");
    b_kv_str(&b, "archive_id", "J1-g00001");
    b_kv_uint(&b, "offset", 7);
    b_str(&b, "data");
    b_bin(&b, "", 0);
    tf_msg_t m;
    expect_decode(b.sb.data, b.sb.size, &m);
    assert_int_equal(m.type, TF_MSG_STAGE_DATA);
    assert_non_null(m.stage_data.data.data);
    assert_int_equal(m.stage_data.data.size, 0);
    assert_int_equal(m.stage_data.offset, 7);
    tf_msg_clear(&m);
    b_free(&b);

    /* stage_result: ok is a required boolean */
    b_init(&b);
    b_map(&b, 3);
    b_env(&b, "stage_result");
    b_kv_str(&b, "archive_id", "J1-g00001");
    expect_reject(b.sb.data, b.sb.size, "stage_result: missing required field 'ok'");
    b_free(&b);
    b_init(&b);
    b_map(&b, 4);
    b_env(&b, "stage_result");
    b_kv_str(&b, "archive_id", "J1-g00001");
    b_kv_str(&b, "ok", "true");
    expect_reject(b.sb.data, b.sb.size, "stage_result.ok: expected boolean, got string");
    b_free(&b);
}

/* The file rows sidecar (docs/staging.md): stage_rows needs its part and its files (an empty
   array is a part without rows); archive_ready, fetch, fetch_data and stage_close from before
   sidecars decode as "no sidecar". */
static void
test_decode_stage_rows_and_sidecar_fields(void **state)
{
    (void) state;
    buf_t b;
    b_init(&b);
    b_map(&b, 4);
    b_env(&b, "stage_rows");
    b_kv_str(&b, "archive_id", "J1-g00001");
    b_str(&b, "files");
    b_array(&b, 0);
    expect_reject(b.sb.data, b.sb.size, "stage_rows: missing required field 'part'");
    b_free(&b);

    b_init(&b);
    b_map(&b, 4);
    b_env(&b, "stage_rows");
    b_kv_str(&b, "archive_id", "J1-g00001");
    b_kv_uint(&b, "part", 1);
    expect_reject(b.sb.data, b.sb.size, "stage_rows: missing required field 'files'");
    b_free(&b);

    /* a row without its type */
    b_init(&b);
    b_map(&b, 5);
    b_env(&b, "stage_rows");
    b_kv_str(&b, "archive_id", "J1-g00001");
    b_kv_uint(&b, "part", 1);
    b_str(&b, "files");
    b_array(&b, 1);
    b_map(&b, 1);
    b_kv_str(&b, "path", "a");
    expect_reject(b.sb.data, b.sb.size, "missing required field 'type'");
    b_free(&b);

    /* part 1 without rows: an archive without entries */
    b_init(&b);
    b_map(&b, 5);
    b_env(&b, "stage_rows");
    b_kv_str(&b, "archive_id", "J1-g00001");
    b_kv_uint(&b, "part", 1);
    b_str(&b, "files");
    b_array(&b, 0);
    tf_msg_t m;
    expect_decode(b.sb.data, b.sb.size, &m);
    assert_int_equal(m.type, TF_MSG_STAGE_ROWS);
    assert_int_equal(m.stage_rows.part, 1);
    assert_int_equal(m.stage_rows.files_count, 0);
    assert_null(m.stage_rows.files);
    tf_msg_clear(&m);
    b_free(&b);

    /* archive_ready as a stager from before sidecars sent it: no sidecar */
    b_init(&b);
    b_map(&b, 7);
    b_env(&b, "archive_ready");
    b_kv_str(&b, "archive_id", "J1-g00001");
    b_kv_str(&b, "job_id", "J1");
    b_kv_uint(&b, "size", 10);
    b_kv_str(&b, "checksum", "xxh128:00");
    b_kv_str(&b, "stager", "ipc://x");
    expect_decode(b.sb.data, b.sb.size, &m);
    assert_int_equal(m.archive_ready.rows_size, 0);
    assert_null(m.archive_ready.rows_checksum);
    tf_msg_clear(&m);
    b_free(&b);

    /* rows_size must be a number */
    b_init(&b);
    b_map(&b, 8);
    b_env(&b, "archive_ready");
    b_kv_str(&b, "archive_id", "J1-g00001");
    b_kv_str(&b, "job_id", "J1");
    b_kv_uint(&b, "size", 10);
    b_kv_str(&b, "checksum", "xxh128:00");
    b_kv_str(&b, "stager", "ipc://x");
    b_kv_str(&b, "rows_size", "12");
    expect_reject(b.sb.data, b.sb.size, "archive_ready.rows_size: expected unsigned integer, got string");
    b_free(&b);

    /* fetch and stage_close from before sidecars: data, no rows parts */
    b_init(&b);
    b_map(&b, 5);
    b_env(&b, "fetch");
    b_kv_str(&b, "archive_id", "J1-g00001");
    b_kv_uint(&b, "offset", 0);
    b_kv_uint(&b, "length", 4096);
    expect_decode(b.sb.data, b.sb.size, &m);
    assert_false(m.fetch.rows);
    tf_msg_clear(&m);
    b_free(&b);
    b_init(&b);
    b_map(&b, 5);
    b_env(&b, "stage_close");
    b_kv_str(&b, "archive_id", "J1-g00001");
    b_kv_uint(&b, "size", 0);
    b_kv_str(&b, "checksum", "xxh128:00");
    expect_decode(b.sb.data, b.sb.size, &m);
    assert_int_equal(m.stage_close.rows_parts, 0);
    tf_msg_clear(&m);
    b_free(&b);

    /* fetch.rows is a boolean */
    b_init(&b);
    b_map(&b, 6);
    b_env(&b, "fetch");
    b_kv_str(&b, "archive_id", "J1-g00001");
    b_kv_uint(&b, "offset", 0);
    b_kv_uint(&b, "length", 4096);
    b_kv_uint(&b, "rows", 1);
    expect_reject(b.sb.data, b.sb.size, "fetch.rows: expected boolean, got unsigned integer");
    b_free(&b);
}

/* ------------------------------------------------------- forward compatibility -------- */

static void
test_decode_unknown_fields_ignored(void **state)
{
    tf_msg_sample_t *sample = *state;
    buf_t b;
    b_init(&b);
    b_map(&b, 10);
    b_kv_str(&b, "zz_future_string", "hello");
    b_env(&b, "work");
    b_kv_str(&b, "item_id", "i-1");
    b_str(&b, "zz_future_map");
    b_map(&b, 2);
    b_kv_uint(&b, "a", 1);
    b_str(&b, "b");
    b_array(&b, 3);
    b_nil(&b);
    b_double(&b, 1.5);
    b_bin(&b, "\0", 1);
    b_kv_str(&b, "service", "svc");
    b_str(&b, "zz_future_int");
    b_int(&b, -77);
    b_kv_uint(&b, "attempt", 2);
    b_str(&b, "Item_id");  /* keys are case-sensitive: unknown, not a duplicate */
    b_bool(&b, true);
    b_str(&b, "");
    b_nil(&b);
    tf_msg_t m;
    expect_decode(b.sb.data, b.sb.size, &m);
    b_free(&b);
    tf_msg_t want;
    fill_min(sample, TF_MSG_WORK, &want);
    want.work.item_id = "i-1";
    want.work.service = "svc";
    want.work.attempt = 2;
    char why[256];
    bool same = tf_msg_equal(&want, &m, why, sizeof why);
    tf_msg_clear(&m);
    if (!same)
        fail_msg("%s", why);

    /* in a row */
    b_init(&b);
    b_map(&b, 4);
    b_env(&b, "status");
    b_str(&b, "workers");
    b_array(&b, 0);
    b_str(&b, "services");
    b_array(&b, 1);
    b_map(&b, 3);
    b_kv_str(&b, "name", "s");
    b_kv_str(&b, "new_column", "x");
    b_kv_uint(&b, "queued", 4);
    expect_decode(b.sb.data, b.sb.size, &m);
    assert_int_equal(m.status.services_count, 1);
    assert_string_equal(m.status.services[0].name, "s");
    assert_int_equal(m.status.services[0].queued, 4);
    tf_msg_clear(&m);
    b_free(&b);
}

static void
test_decode_any_field_order(void **state)
{
    tf_msg_sample_t *sample = *state;
    tf_msg_t want;
    fill_min(sample, TF_MSG_PROGRESS, &want);
    want.progress.item_id = "i";
    want.progress.attempt = 9;
    want.progress.message = "m";
    for (int order = 0; order < 4; order++) {
        buf_t b;
        b_init(&b);
        b_map(&b, 5);
        switch (order) {
        case 0:  /* "t" before "v" */
            b_kv_str(&b, "t", "progress");
            b_kv_uint(&b, "v", 1);
            b_kv_str(&b, "item_id", "i");
            b_kv_uint(&b, "attempt", 9);
            b_kv_str(&b, "message", "m");
            break;
        case 1:  /* fields before the envelope */
            b_kv_str(&b, "message", "m");
            b_kv_uint(&b, "attempt", 9);
            b_kv_str(&b, "item_id", "i");
            b_kv_str(&b, "t", "progress");
            b_kv_uint(&b, "v", 1);
            break;
        case 2:  /* envelope split around fields */
            b_kv_uint(&b, "v", 1);
            b_kv_uint(&b, "attempt", 9);
            b_kv_str(&b, "item_id", "i");
            b_kv_str(&b, "message", "m");
            b_kv_str(&b, "t", "progress");
            break;
        default:
            b_kv_str(&b, "item_id", "i");
            b_kv_str(&b, "t", "progress");
            b_kv_str(&b, "message", "m");
            b_kv_uint(&b, "v", 1);
            b_kv_uint(&b, "attempt", 9);
            break;
        }
        tf_msg_t m;
        expect_decode(b.sb.data, b.sb.size, &m);
        b_free(&b);
        char why[256];
        bool same = tf_msg_equal(&want, &m, why, sizeof why);
        tf_msg_clear(&m);
        if (!same)
            fail_msg("order %d: %s", order, why);
    }
}

/* The fuzz target's check (shared code) accepts our encodings and rejects garbage cleanly. */
static void
test_roundtrip_check_helper(void **state)
{
    tf_msg_sample_t *sample = *state;
    char why[256] = "";
    for (size_t i = 0; i < N_ELEMS(s_all_types); i++) {
        tf_msg_t m;
        fill_full(sample, s_all_types[i], &m);
        uint8_t *data;
        size_t size;
        encode_ok(&m, &data, &size);
        tf_check_result_t r = tf_msg_check_roundtrip(data, size, why, sizeof why);
        free(data);
        if (r != TF_CHECK_DECODED)
            fail_msg("%s: check gave %d: %s", s_all_names[i], (int) r, why);
    }
    static const uint8_t garbage[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x00};
    assert_int_equal(tf_msg_check_roundtrip(garbage, sizeof garbage, why, sizeof why),
                     TF_CHECK_REJECTED);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_type_names, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_tables_describe_their_structs, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_equal_helper_detects_differences, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_roundtrip_every_type_every_mode, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_roundtrip_copies_bytes_and_strings, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_roundtrip_every_rows_field, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_wire_format_every_type, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_wire_format_omits_absent, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_encode_refuses_unset_required, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_encode_refuses_overlong, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_encode_refuses_unknown_type, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_encode_out_of_memory, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_decode_empty, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_decode_wrong_version, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_decode_unknown_type, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_decode_missing_required_every_type, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_decode_missing_required_field, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_decode_wrong_types, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_decode_signed_and_unsigned, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_decode_trailing_bytes, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_decode_counts_larger_than_bytes_left, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_hostile_count, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_decode_overlong_strings, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_decode_blob_over_limit, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_decode_rows_over_limit, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_decode_deep_nesting, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_decode_nul_in_string, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_decode_duplicate_keys, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_decode_extension_types, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_decode_truncated, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_decode_not_a_map, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_decode_non_string_keys, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_decode_status_row_not_map, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_decode_failure_frees_partial, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_decode_file_group_entry_errors, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_decode_cat_reply_file_size_string, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_decode_tape_restore_archive_not_map, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_decode_stage_data_errors, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_decode_stage_rows_and_sidecar_fields, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_decode_unknown_fields_ignored, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_decode_any_field_order, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_roundtrip_check_helper, s_setup, s_teardown),
    };
    return cmocka_run_group_tests_name("codec", tests, NULL, NULL);
}
