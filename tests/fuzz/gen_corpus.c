/*  gen_corpus - writes the decoder's seed corpus (tests/fuzz/corpus/).

    "ok-*"  valid encodings made by tf_msg_encode: every message type of the codec's tables
            (msg_sample: fully set, minimal, empty, each rows field with 0 and 1 rows), plus
            valid variations another peer may send (field order, unknown fields, ...).
    "bad-*" hand-made malformed inputs, one rejection rule each.
    replay_corpus holds every file to that expectation.

    Regenerate after changing the catalogue:  cmake --build BUILD --target fuzz_corpus_regen
    (or: gen_corpus tests/fuzz/corpus). Output is deterministic.
*/
#include <errno.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg_sample.h"
#include "tf_msg.h"

static const char *s_dir;
static int s_failed;
static int s_written;

static void
s_write(const char *name, const void *data, size_t size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", s_dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        fprintf(stderr, "gen_corpus: %s: %s\n", path, strerror(errno));
        s_failed = 1;
        return;
    }
    s_written++;
}

static void
s_write_msg(const char *name, const tf_msg_t *m)
{
    uint8_t *data;
    size_t size;
    tf_err_t err = {0};
    if (tf_msg_encode(m, &data, &size, &err) != TF_OK) {
        fprintf(stderr, "gen_corpus: %s: %s\n", name, err.message);
        s_failed = 1;
        return;
    }
    s_write(name, data, size);
    free(data);
}

/* --- a checked packer ------------------------------------------------------------------- */

typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} buf_t;

static void
s_ok(int rc)
{
    if (rc != 0) {
        fprintf(stderr, "gen_corpus: msgpack packer failed\n");
        exit(1);
    }
}
static void
b_init(buf_t *b)
{
    msgpack_sbuffer_init(&b->sb);
    msgpack_packer_init(&b->pk, &b->sb, msgpack_sbuffer_write);
}
static void
b_done(buf_t *b, const char *name)
{
    s_write(name, b->sb.data, b->sb.size);
    msgpack_sbuffer_destroy(&b->sb);
}
static void b_map(buf_t *b, size_t n) { s_ok(msgpack_pack_map(&b->pk, n)); }
static void b_array(buf_t *b, size_t n) { s_ok(msgpack_pack_array(&b->pk, n)); }
static void b_uint(buf_t *b, uint64_t v) { s_ok(msgpack_pack_uint64(&b->pk, v)); }
static void b_int(buf_t *b, int64_t v) { s_ok(msgpack_pack_int64(&b->pk, v)); }
static void b_double(buf_t *b, double v) { s_ok(msgpack_pack_double(&b->pk, v)); }
static void b_raw(buf_t *b, const void *p, size_t n) { s_ok(msgpack_sbuffer_write(&b->sb, p, n)); }
static void
b_strn(buf_t *b, const char *s, size_t n)
{
    s_ok(msgpack_pack_str(&b->pk, n));
    s_ok(msgpack_pack_str_body(&b->pk, s, n));
}
static void b_str(buf_t *b, const char *s) { b_strn(b, s, strlen(s)); }
static void b_kv_str(buf_t *b, const char *k, const char *v) { b_str(b, k); b_str(b, v); }
static void b_kv_uint(buf_t *b, const char *k, uint64_t v) { b_str(b, k); b_uint(b, v); }
static void
b_env(buf_t *b, const char *type)
{
    b_kv_uint(b, "v", TF_PROTO_VERSION);
    b_kv_str(b, "t", type);
}
/* {"v":1,"t":"work","item_id":"i-1","service":"svc", then `extra` more pairs from the caller} */
static void
b_work_head(buf_t *b, size_t extra)
{
    b_init(b);
    b_map(b, 4 + extra);
    b_env(b, "work");
    b_kv_str(b, "item_id", "i-1");
    b_kv_str(b, "service", "svc");
}

/* --- valid messages ---------------------------------------------------------------------- */

#define S_ROWS 3  /* rows in every rows field of a sample */

/* The type's rows fields one at a time with `count` rows, the others keeping theirs. */
static void
s_rows_variants(tf_msg_sample_t *sample, tf_msg_type_t type, size_t count)
{
    const tf_msg_desc_t *desc = tf_msg_desc(type);
    for (size_t i = 0; i < desc->nfields; i++) {
        const tf_msg_field_t *f = &desc->fields[i];
        if (f->kind != TF_MSG_FIELD_ROWS || count >= f->max)
            continue;
        tf_msg_t m;
        if (tf_msg_sample_fill(sample, &m, type, TF_SAMPLE_FULL, S_ROWS) != 0) {
            s_failed = 1;
            continue;
        }
        char *body = TF_MSG_BODY(&m);
        memcpy(body + f->count_offset, &count, sizeof count);
        char name[128];
        snprintf(name, sizeof name, "ok-%s-%s-rows-%zu", desc->name, f->key, count);
        s_write_msg(name, &m);
    }
}

/* Every type from the codec's tables: fully set, minimal, empty, and each rows field with 0
   and 1 rows; then valid inputs another peer may send (field order, unknown fields, ...). */
static void
s_valid(tf_msg_sample_t *sample)
{
    static const struct {
        tf_sample_mode_t mode;
        const char *suffix;
    } modes[] = {{TF_SAMPLE_FULL, "full"}, {TF_SAMPLE_MIN, "min"}, {TF_SAMPLE_EMPTY, "empty"}};
    char name[64];
    for (int t = TF_MSG_NONE + 1; t < TF_MSG_TYPE_COUNT; t++) {
        for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
            tf_msg_t m;
            if (tf_msg_sample_fill(sample, &m, (tf_msg_type_t) t, modes[i].mode, S_ROWS) != 0) {
                fprintf(stderr, "gen_corpus: no sample for type %d\n", t);
                s_failed = 1;
                continue;
            }
            snprintf(name, sizeof name, "ok-%s-%s", tf_msg_type_name((tf_msg_type_t) t), modes[i].suffix);
            s_write_msg(name, &m);
        }
        s_rows_variants(sample, (tf_msg_type_t) t, 0);
        s_rows_variants(sample, (tf_msg_type_t) t, 1);
    }

    /* what some fields mean: eof with present-but-empty data; a refused and a permanently
       refused stage */
    tf_msg_t m;
    if (tf_msg_sample_fill(sample, &m, TF_MSG_FETCH_DATA, TF_SAMPLE_MIN, 0) == 0) {
        m.fetch_data.eof = true;
        s_write_msg("ok-fetch_data-eof-empty", &m);
    }
    if (tf_msg_sample_fill(sample, &m, TF_MSG_STAGE_RESULT, TF_SAMPLE_FULL, 0) == 0) {
        m.stage_result.ok = false;
        m.stage_result.permanent = false;
        m.stage_result.message = "size 10 != 12";
        s_write_msg("ok-stage_result-refused", &m);
        m.stage_result.permanent = true;
        m.stage_result.message = "archive J1-g00007 of 1.2 GiB cannot fit the holding disk /x of 64 MiB";
        s_write_msg("ok-stage_result-cannot-fit", &m);
    }

    buf_t b;
    /* field order is free: "t" before "v", fields before the envelope */
    b_init(&b);
    b_map(&b, 4);
    b_kv_uint(&b, "attempt", 1);
    b_kv_str(&b, "item_id", "i-1");
    b_kv_str(&b, "t", "progress");
    b_kv_uint(&b, "v", 1);
    b_done(&b, "ok-order-fields-first");
    /* unknown fields are skipped, whatever their shape */
    b_work_head(&b, 4);
    b_kv_uint(&b, "attempt", 1);
    b_str(&b, "future_map");
    b_map(&b, 2);
    b_kv_str(&b, "a", "b");
    b_str(&b, "c");
    b_array(&b, 2);
    b_double(&b, 0.5);
    b_int(&b, -3);
    b_str(&b, "future_bin");
    s_ok(msgpack_pack_bin(&b.pk, 2));
    s_ok(msgpack_pack_bin_body(&b.pk, "\0\1", 2));
    b_str(&b, "future_nil");
    s_ok(msgpack_pack_nil(&b.pk));
    b_done(&b, "ok-unknown-fields");
    /* nesting at the limit in an unknown field */
    b_init(&b);
    b_map(&b, 3);
    b_env(&b, "heartbeat");
    b_str(&b, "deep");
    for (int i = 1; i <= TF_MSG_MAX_DEPTH; i++)
        b_array(&b, i == TF_MSG_MAX_DEPTH ? 0 : 1);
    b_done(&b, "ok-depth-at-limit");
    /* a non-negative signed int (d0 05) for an unsigned field */
    b_work_head(&b, 1);
    b_str(&b, "attempt");
    b_raw(&b, "\xd0\x05", 2);
    b_done(&b, "ok-signed-for-unsigned");
}

/* --- malformed inputs -------------------------------------------------------------------- */

static void
s_raw(const char *name, const void *p, size_t n)
{
    s_write(name, p, n);
}
/* A string literal's bytes without the terminating NUL. */
#define RAW(name, literal) s_raw(name, literal, sizeof(literal) - 1)

static void
s_malformed(tf_msg_sample_t *sample)
{
    buf_t b;
    tf_msg_t m;
    uint8_t *data;
    size_t size;
    tf_err_t err = {0};

    RAW("bad-empty", "");
    RAW("bad-c1", "\x81\xa1v\xc1");
    RAW("bad-not-a-map", "\x92\xa1v\x01");
    RAW("bad-array32-huge", "\xdd\xff\xff\xff\xff\x00\x00\x00\x00\x00");
    RAW("bad-map32-huge", "\xdf\xff\xff\xff\xff\xa1v\x01\xa1t");
    RAW("bad-str32-huge", "\xdb\xff\xff\xff\xff" "abcde");
    RAW("bad-bin32-huge", "\xc6\xff\xff\xff\xff\x00\x00\x00\x00\x00");
    RAW("bad-map16-count", "\xde\x03\xe8\xa1v\x01");
    RAW("bad-fixext", "\x82\xa1v\xd4\x01\x00\xa1t\xa4work");
    RAW("bad-version-2", "\x82\xa1v\x02\xa1t\xa9heartbeat");
    RAW("bad-truncated-uint64", "\x83\xa1v\x01\xa1t\xa9heartbeat\xa2ts\xcf\x00\x01");

    /* every whole message cut short */
    if (tf_msg_sample_fill(sample, &m, TF_MSG_STATUS, TF_SAMPLE_FULL, S_ROWS) == 0
        && tf_msg_encode(&m, &data, &size, &err) == TF_OK) {
        s_raw("bad-truncated-status-half", data, size / 2);
        s_raw("bad-truncated-status-last-byte", data, size - 1);
        uint8_t *more = malloc(size + 1);
        if (more) {
            memcpy(more, data, size);
            more[size] = 0xc0;
            s_raw("bad-trailing-bytes", more, size + 1);
            free(more);
        }
        free(data);
    }
    else
        s_failed = 1;

    /* hostile count inside a valid envelope */
    b_init(&b);
    b_map(&b, 4);
    b_env(&b, "status");
    b_str(&b, "workers");
    b_array(&b, 0);
    b_str(&b, "services");
    b_raw(&b, "\xdd\xff\xff\xff\xff", 5);
    b_done(&b, "bad-array32-huge-in-status");

    /* nesting one level too deep, and very deep at the top */
    b_init(&b);
    b_map(&b, 3);
    b_env(&b, "heartbeat");
    b_str(&b, "deep");
    for (int i = 1; i <= TF_MSG_MAX_DEPTH + 1; i++)
        b_array(&b, i == TF_MSG_MAX_DEPTH + 1 ? 0 : 1);
    b_done(&b, "bad-deep-nesting");
    {
        uint8_t deep[64];
        memset(deep, 0x91, sizeof deep - 1);
        deep[sizeof deep - 1] = 0x90;
        s_raw("bad-deep-top", deep, sizeof deep);
    }

    b_init(&b);
    b_map(&b, 2);
    b_kv_str(&b, "v", "1");
    b_kv_str(&b, "t", "heartbeat");
    b_done(&b, "bad-version-string");

    b_init(&b);
    b_map(&b, 1);
    b_kv_str(&b, "t", "heartbeat");
    b_done(&b, "bad-no-version");

    b_init(&b);
    b_map(&b, 2);
    b_env(&b, "bogus");
    b_done(&b, "bad-unknown-type");

    b_init(&b);
    b_map(&b, 1);
    b_kv_uint(&b, "v", 1);
    b_done(&b, "bad-no-type");

    b_init(&b);
    b_map(&b, 3);
    b_env(&b, "heartbeat");
    b_kv_str(&b, "t", "disconnect");
    b_done(&b, "bad-type-twice");

    b_init(&b);
    b_map(&b, 3);
    b_env(&b, "work");
    b_kv_str(&b, "service", "svc");
    b_done(&b, "bad-missing-required");

    b_work_head(&b, 1);
    b_kv_str(&b, "attempt", "1");
    b_done(&b, "bad-wrong-type");

    b_work_head(&b, 1);
    b_str(&b, "attempt");
    b_int(&b, -1);
    b_done(&b, "bad-negative-uint");

    b_work_head(&b, 1);
    b_str(&b, "attempt");
    b_double(&b, 1.0);
    b_done(&b, "bad-float-for-uint");

    b_init(&b);
    b_map(&b, 4);
    b_env(&b, "error");
    b_kv_uint(&b, "code", UINT64_MAX);
    b_kv_str(&b, "message", "m");
    b_done(&b, "bad-int-out-of-range");

    {
        char id[TF_MSG_MAX_ID + 2];
        memset(id, 'x', sizeof id - 1);
        id[sizeof id - 1] = '\0';
        b_init(&b);
        b_map(&b, 3);
        b_env(&b, "item_get");
        b_kv_str(&b, "item_id", id);
        b_done(&b, "bad-long-item-id");
    }

    b_init(&b);
    b_map(&b, 3);
    b_env(&b, "item_get");
    b_str(&b, "item_id");
    b_strn(&b, "ab\0cd", 5);
    b_done(&b, "bad-nul-in-string");

    b_work_head(&b, 2);
    b_kv_uint(&b, "attempt", 1);
    b_kv_str(&b, "service", "again");
    b_done(&b, "bad-duplicate-key");

    b_work_head(&b, 1);
    b_str(&b, "attempt");
    b_raw(&b, "\xc7\x01\x05\x00", 4);
    b_done(&b, "bad-ext8");

    b_init(&b);
    b_map(&b, 3);
    b_env(&b, "heartbeat");
    b_uint(&b, 7);
    b_str(&b, "x");
    b_done(&b, "bad-non-string-key");

    b_init(&b);
    b_map(&b, 4);
    b_env(&b, "status");
    b_str(&b, "workers");
    b_array(&b, 0);
    b_str(&b, "services");
    b_array(&b, 2);
    b_map(&b, 1);
    b_kv_str(&b, "name", "first");
    b_uint(&b, 7);
    b_done(&b, "bad-row-not-map");

    b_init(&b);
    b_map(&b, 4);
    b_env(&b, "status");
    b_str(&b, "services");
    b_array(&b, 0);
    b_str(&b, "workers");
    b_array(&b, 1);
    b_map(&b, 2);
    b_kv_str(&b, "id", "01");
    b_kv_str(&b, "state", "idle");
    b_done(&b, "bad-row-missing-field");

    /* pipeline messages: errors inside rows */
    b_init(&b);
    b_map(&b, 6);
    b_env(&b, "file_group");
    b_kv_str(&b, "job_id", "J1");
    b_kv_str(&b, "archive_id", "J1-g00001");
    b_kv_uint(&b, "group_no", 1);
    b_str(&b, "entries");
    b_array(&b, 2);
    b_map(&b, 2);
    b_kv_str(&b, "path", "/a");
    b_kv_uint(&b, "size", 1);
    b_map(&b, 1);
    b_kv_uint(&b, "size", 2);
    b_done(&b, "bad-file_group-entry-no-path");

    b_init(&b);
    b_map(&b, 3);
    b_env(&b, "cat_reply");
    b_str(&b, "files");
    b_array(&b, 1);
    b_map(&b, 3);
    b_kv_str(&b, "path", "a");
    b_kv_str(&b, "type", "file");
    b_kv_str(&b, "size", "12");
    b_done(&b, "bad-cat_reply-file-size-string");

    b_init(&b);
    b_map(&b, 5);
    b_env(&b, "tape_restore");
    b_kv_str(&b, "job_id", "J1");
    b_kv_str(&b, "dest", "/restore");
    b_str(&b, "archives");
    b_array(&b, 2);
    b_map(&b, 1);
    b_kv_str(&b, "archive_id", "J1-g00001");
    b_str(&b, "J1-g00002");
    b_done(&b, "bad-tape_restore-archive-not-map");

    b_init(&b);
    b_map(&b, 3);
    b_env(&b, "cat_reply");
    b_str(&b, "volumes");
    b_array(&b, 1);
    b_map(&b, 2);
    b_kv_str(&b, "pool", "default");
    b_kv_uint(&b, "tape_files", 2);
    b_done(&b, "bad-cat_reply-volume-no-label");

    b_init(&b);
    b_map(&b, 6);   /* claims one pair more than it holds */
    b_env(&b, "cat_volume");
    b_kv_str(&b, "label", "TF0001");
    b_kv_str(&b, "pool", "default");
    b_kv_str(&b, "state", "full");
    b_done(&b, "bad-cat_volume-truncated-map");

    b_init(&b);
    b_map(&b, 6);
    b_env(&b, "cat_volume");
    b_kv_str(&b, "label", "TF0001");
    b_kv_str(&b, "pool", "default");
    b_kv_str(&b, "state", "full");
    b_kv_str(&b, "expires_ms", "2027-01-05");
    b_done(&b, "bad-cat_volume-expires-string");

    b_init(&b);
    b_map(&b, 4);
    b_env(&b, "stage_data");
    b_kv_str(&b, "archive_id", "J1-g00001");
    b_kv_uint(&b, "offset", 0);
    b_done(&b, "bad-stage_data-no-data");
}

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_corpus DIR\n");
        return 2;
    }
    s_dir = argv[1];
    tf_msg_sample_t *sample = tf_msg_sample_new();
    if (!sample) {
        fprintf(stderr, "gen_corpus: out of memory\n");
        return 1;
    }
    s_valid(sample);
    s_malformed(sample);
    tf_msg_sample_destroy(&sample);
    printf("gen_corpus: wrote %d files to %s\n", s_written, s_dir);
    return s_failed;
}
