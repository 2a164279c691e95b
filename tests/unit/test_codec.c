/*  test_codec - the message catalogue's msgpack codec (proto/tf_msg.c).

    Round trips for every type in TF_MSG_TYPES, the wire format checked with msgpack-c's own
    unpacker, the encoder's refusals, and every decode rejection rule with its error message.
    Malformed inputs are built with msgpack-c's packer or as raw bytes.
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

static uint8_t s_blob[] = {0x00, 'b', 'i', 'n', 0x00, 0x00, 0xff, 0xc1, 0xd4, 0x00, 0x80, 0x7f};
static uint8_t s_empty_blob[1];

static tf_msg_service_row_t s_services[] = {
    {.name = "stager", .workers = 2, .idle = 1, .queued = 7, .inflight = 1, .done = 100,
     .failed = 3, .redelivered = 2, .oldest_age_ms = 1234},
    {.name = "compressor", .workers = 4, .idle = 4, .queued = UINT64_MAX, .inflight = 9,
     .done = 1, .failed = 11, .redelivered = 12, .oldest_age_ms = -5},
    {.name = "tape-writer", .workers = 1, .idle = 5, .queued = 6, .inflight = 7, .done = 8,
     .failed = 9, .redelivered = 10, .oldest_age_ms = INT64_MAX},
};
static tf_msg_worker_row_t s_workers[] = {
    {.id = "00a1b2c3d4", .service = "stager", .name = "stager@host:10", .pid = 10,
     .state = "busy", .item_id = "item-1", .idle_ms = 250},
    {.id = "00ffeeddcc", .service = "compressor", .name = "compressor@other:11", .pid = 11,
     .state = "idle", .item_id = "item-2", .idle_ms = -1},
    {.id = "0012345678", .service = "echo", .name = "echo@x:12", .pid = UINT64_MAX,
     .state = "busy", .item_id = "item-3", .idle_ms = INT64_MIN},
};

static tf_msg_reject_row_t s_rejects[] = {
    {.peer = "00a1b2c3d4", .name = "echo.1", .rejected = 10056,
     .last_reason = "malformed message: work.attempt: expected unsigned integer, got string",
     .last_ms = 1795000000123ll},
    {.peer = "00ffeeddcc", .name = "stager.1", .rejected = UINT64_MAX,
     .last_reason = "no service 'xyz'", .last_ms = -1},
    {.peer = "0012345678", .name = "", .rejected = 0, .last_reason = "", .last_ms = INT64_MAX},
};

/* Pipeline rows: every field set, several rows, extremes in the numbers. */
static tf_msg_path_row_t s_paths[] = {
    {.path = "/home"},
    {.path = "/srv/data with spaces/\xc3\xa9t\xc3\xa9"},
    {.path = "/"},
};
static tf_msg_path_row_t s_patterns[] = {
    {.path = "home/alice/*.txt"},
    {.path = "srv/**"},
    {.path = "etc/[a-c]?"},
};
static tf_msg_group_entry_t s_entries[] = {
    {.path = "/home", .size = 0},
    {.path = "/home/alice/big.iso", .size = UINT64_MAX},
    {.path = "/home/alice/notes.txt", .size = 4096},
};
static tf_msg_file_row_t s_files[] = {
    {.path = "home/alice/notes.txt", .type = "file", .size = 4096, .mtime = 1795000000,
     .mode = 0100644, .uid = 1000, .gid = 1000, .user = "alice", .group = "staff",
     .checksum = "xxh128:0123456789abcdef0123456789abcdef", .offset = 1536, .link = "x",
     .mtime_nsec = 123456789},
    {.path = "home/alice/old", .type = "symlink", .size = 0, .mtime = -86400, .mode = 0120777,
     .uid = 0, .gid = 0, .user = "root", .group = "root", .checksum = "",
     .offset = UINT64_MAX, .link = "../bob/old", .mtime_nsec = 999999999},
    {.path = "home/alice/hard", .type = "hardlink", .size = UINT64_MAX, .mtime = INT64_MIN,
     .mode = 0100600, .uid = UINT64_MAX, .gid = 4294967294ull, .user = "u", .group = "g",
     .checksum = "xxh128:ffffffffffffffffffffffffffffffff", .offset = 0,
     .link = "home/alice/notes.txt", .mtime_nsec = 1},
};
static tf_msg_archive_failure_t s_failures[] = {
    {.archive_id = "J1-g00003", .reason = "medium error at block 812"},
    {.archive_id = "J1-g00004", .reason = "the catalog and the tape disagree"},
    {.archive_id = "J1-g00009", .reason = "volume TF0002 was not mounted"},
};
static tf_msg_job_row_t s_jobs[] = {
    {.job_id = "J20261121-105011-3fa2", .status = "running", .stage = "compress",
     .message = "3 of 9 archives written", .detail = "-", .pool = "weekly",
     .created_ms = 1795000000000ll, .updated_ms = 1795000001000ll, .files_total = 120000,
     .bytes_total = 5000000000ull, .files_done = 40000, .bytes_done = 1600000000ull,
     .groups_total = 9, .archives_written = 3, .warnings = 2, .scanned = true},
    {.job_id = "J20261120-000000-0001", .status = "failed", .stage = "tape",
     .message = "failed", .detail = "drive lto1: MEDIUM ERROR", .pool = "monthly",
     .created_ms = INT64_MIN, .updated_ms = -1, .files_total = UINT64_MAX, .bytes_total = 1,
     .files_done = 2, .bytes_done = 3, .groups_total = 4, .archives_written = 5,
     .warnings = UINT64_MAX, .scanned = true},
    {.job_id = "J3", .status = "queued", .stage = "scan", .message = "m", .detail = "d",
     .pool = "p", .created_ms = 1, .updated_ms = INT64_MAX, .files_total = 6,
     .bytes_total = 7, .files_done = 8, .bytes_done = 9, .groups_total = 10,
     .archives_written = 11, .warnings = 12, .scanned = false},
};
static tf_msg_warning_row_t s_warnings[] = {
    {.path = "/home/alice/gone.txt", .reason = "skipped: vanished since the scan", .missing = true},
    {.path = "/home/alice/shrunk", .reason = "file shrank while archiving; the rest is stored as zeros",
     .missing = false},
    {.path = "/x", .reason = "", .missing = true},
};
static tf_msg_segment_row_t s_segments[] = {
    {.volume = "TF0001L8", .tape_file = 1, .block = 2, .offset = 0, .length = 536870912},
    {.volume = "TF0002L8", .tape_file = UINT64_MAX, .block = UINT64_MAX, .offset = 536870912,
     .length = UINT64_MAX},
    {.volume = "TF0003L8", .tape_file = 1, .block = 5, .offset = 1073741823, .length = 1},
};
static tf_msg_archive_row_t s_archives[] = {
    {.archive_id = "J1-g00001", .job_id = "J1", .group_no = 1, .volume = "TF0001L8",
     .tape_file = 1, .block = 2, .blocks = 4098, .size = 1073741824,
     .checksum = "xxh128:00112233445566778899aabbccddeeff", .files = 5000, .written = true,
     .segments = s_segments, .segments_count = 3},
    {.archive_id = "J1-g00002", .job_id = "J1", .group_no = 2, .volume = "TF0002L8",
     .tape_file = UINT64_MAX, .block = UINT64_MAX, .blocks = UINT64_MAX, .size = UINT64_MAX,
     .checksum = "xxh128:ffeeddccbbaa99887766554433221100", .files = UINT64_MAX,
     .written = true, .lost = true, .lost_ms = 1795258211000},
    {.archive_id = "J1-g00003", .job_id = "J1", .group_no = 3, .volume = "-", .tape_file = 7,
     .block = 8, .blocks = 9, .size = 10, .checksum = "c", .files = 11, .written = false},
};
static tf_msg_volume_row_t s_volumes[] = {
    {.label = "TF0001", .pool = "default", .state = "appendable", .media_type = "sim",
     .created_ms = 1795258211000, .expires_ms = 1797850211000, .bytes_used = 734003,
     .last_written_ms = 1795258360000, .write_errors = 1, .read_errors = 2, .tape_files = 2,
     .drive = "tape0", .updated_ms = 1795258360001},
    {.label = "TF0002L8", .pool = "offsite", .state = "full", .media_type = "density 0x5a",
     .created_ms = INT64_MIN, .expires_ms = INT64_MAX, .bytes_used = UINT64_MAX,
     .last_written_ms = -1, .write_errors = UINT64_MAX, .read_errors = UINT64_MAX,
     .tape_files = UINT64_MAX, .drive = "lto1", .updated_ms = -2},
    {.label = "TF0003", .pool = "default", .state = "expired", .media_type = "",
     .created_ms = 1, .expires_ms = 2, .bytes_used = 3, .last_written_ms = 4, .write_errors = 5,
     .read_errors = 6, .tape_files = 7, .drive = "", .updated_ms = 8},
};

/* Every field set to a non-default value. `empty_bytes`: byte fields present but empty
   (otherwise binary data with NULs). Returns false for a type it does not know. */
static bool
fill_full(tf_msg_type_t type, tf_msg_t *m, bool empty_bytes)
{
    tf_bytes_t bytes = empty_bytes ? (tf_bytes_t){s_empty_blob, 0}
                                   : (tf_bytes_t){s_blob, sizeof s_blob};
    memset(m, 0, sizeof *m);
    m->type = type;
    switch (type) {
    case TF_MSG_READY:
        m->ready = (tf_msg_ready_t){.service = "echo", .worker = "echo@host:1234",
                                    .host = "host.example", .pid = 4242};
        return true;
    case TF_MSG_HEARTBEAT:
        m->heartbeat = (tf_msg_heartbeat_t){.ts = 1795000000123ull};
        return true;
    case TF_MSG_DISCONNECT:
        m->disconnect = (tf_msg_disconnect_t){.reason = "shutting down: SIGTERM"};
        return true;
    case TF_MSG_WORK:
        m->work = (tf_msg_work_t){.item_id = "item-42", .service = "compressor",
                                  .job_id = "job-7", .attempt = 3, .payload = bytes};
        return true;
    case TF_MSG_PROGRESS:
        m->progress = (tf_msg_progress_t){.item_id = "item-42", .attempt = 2, .done = 512,
                                          .total = 1024, .message = "half way \xc3\xa9"};
        return true;
    case TF_MSG_DONE:
        m->done = (tf_msg_done_t){.item_id = "item-42", .attempt = 4, .result = bytes};
        return true;
    case TF_MSG_FAILED:
        m->failed = (tf_msg_failed_t){.item_id = "item-42", .attempt = 5,
                                      .reason = "drive sg:/dev/sg3: MEDIUM ERROR", .retry = true};
        return true;
    case TF_MSG_SUBMIT:
        m->submit = (tf_msg_submit_t){.rid = "r-1", .service = "scanner", .item_id = "key-9",
                                      .job_id = "job-8", .payload = bytes};
        return true;
    case TF_MSG_SUBMIT_OK:
        m->submit_ok = (tf_msg_submit_ok_t){.rid = "r-1", .item_id = "key-9", .state = "inflight",
                                            .existed = true};
        return true;
    case TF_MSG_ITEM_GET:
        m->item_get = (tf_msg_item_get_t){.rid = "r-2", .item_id = "key-9"};
        return true;
    case TF_MSG_ITEM_INFO:
        m->item_info = (tf_msg_item_info_t){
            .rid = "r-2", .item_id = "key-9", .service = "scanner", .job_id = "job-8",
            .state = "failed", .attempts = 6, .worker = "scanner@h:1", .reason = "no space",
            .result = bytes, .created_ms = -1000, .updated_ms = INT64_MAX};
        return true;
    case TF_MSG_STATUS_GET:
        m->status_get = (tf_msg_status_get_t){.rid = "r-3"};
        return true;
    case TF_MSG_STATUS:
        m->status = (tf_msg_status_t){.rid = "r-3", .pid = 77, .uptime_ms = 99999,
                                      .journal = "/var/lib/tapeflow/journal.db", .recovered = 5,
                                      .services = s_services, .services_count = 3,
                                      .workers = s_workers, .workers_count = 3,
                                      .rejects = s_rejects, .rejects_count = 3};
        return true;
    case TF_MSG_ERROR:
        m->error = (tf_msg_error_t){.rid = "r-4", .code = TF_ERR_NOTFOUND,
                                    .message = "no such item 'key-10'"};
        return true;
    case TF_MSG_EVENT:
        m->event = (tf_msg_event_t){.topic = "job.8.progress", .time_ms = 1795000000456ll,
                                    .source = "stager@host:10", .seq = 17, .level = "warn",
                                    .message = "slow disk", .job_id = "job-8",
                                    .item_id = "item-42", .done = 3, .total = 9,
                                    .job = &s_jobs[0], .job_count = 1};
        return true;
    case TF_MSG_SCAN_JOB:
        m->scan_job = (tf_msg_scan_job_t){.job_id = "J20261121-105011-3fa2", .paths = s_paths,
                                          .paths_count = N_ELEMS(s_paths),
                                          .group_bytes = 1073741824, .one_fs = true,
                                          .compression = "zstd", .pool = "weekly"};
        return true;
    case TF_MSG_FILE_GROUP:
        m->file_group = (tf_msg_file_group_t){
            .job_id = "J20261121-105011-3fa2", .archive_id = "J20261121-105011-3fa2-g00007",
            .group_no = 7, .compression = "gzip", .pool = "weekly", .entries = s_entries,
            .entries_count = N_ELEMS(s_entries)};
        return true;
    case TF_MSG_STAGE_OPEN:
        m->stage_open = (tf_msg_stage_open_t){.archive_id = "J1-g00007", .job_id = "J1",
                                              .group_no = 7, .compression = "none",
                                              .pool = "weekly", .expected_size = 1288490189};
        return true;
    case TF_MSG_STAGE_CREDIT:
        m->stage_credit = (tf_msg_stage_credit_t){.archive_id = "J1-g00007", .bytes = 8388608};
        return true;
    case TF_MSG_STAGE_DATA:
        m->stage_data = (tf_msg_stage_data_t){.archive_id = "J1-g00007",
                                              .offset = 5000000000ull, .data = bytes};
        return true;
    case TF_MSG_STAGE_CLOSE:
        m->stage_close = (tf_msg_stage_close_t){
            .archive_id = "J1-g00007", .size = 5000000012ull,
            .checksum = "xxh128:0123456789abcdef0123456789abcdef", .files = 50000,
            .bytes = UINT64_MAX, .rows_parts = 2};
        return true;
    case TF_MSG_STAGE_ROWS:
        m->stage_rows = (tf_msg_stage_rows_t){.archive_id = "J1-g00007", .part = UINT64_MAX,
                                              .files = s_files, .files_count = N_ELEMS(s_files)};
        return true;
    case TF_MSG_STAGE_RESULT:
        m->stage_result = (tf_msg_stage_result_t){.archive_id = "J1-g00007", .ok = true,
                                                  .message = "checksum mismatch? no: ok",
                                                  .permanent = true};
        return true;
    case TF_MSG_FETCH:
        m->fetch = (tf_msg_fetch_t){.archive_id = "J1-g00007", .offset = UINT64_MAX - 1,
                                    .length = 4194304, .rows = true};
        return true;
    case TF_MSG_FETCH_DATA:
        m->fetch_data = (tf_msg_fetch_data_t){.archive_id = "J1-g00007", .offset = 262144,
                                              .data = bytes, .eof = true,
                                              .error = "pread: Input/output error", .rows = true};
        return true;
    case TF_MSG_ARCHIVE_READY:
        m->archive_ready = (tf_msg_archive_ready_t){
            .archive_id = "J1-g00007", .job_id = "J1", .group_no = 7, .pool = "weekly",
            .compression = "zstd", .size = 1073741825, .checksum = "xxh128:aa", .files = 3,
            .bytes = 2147483648ull, .stager = "tcp://stager.example:5557", .rows_size = UINT64_MAX,
            .rows_checksum = "xxh128:0123456789abcdef0123456789abcdef"};
        return true;
    case TF_MSG_ARCHIVE_RELEASE:
        m->archive_release = (tf_msg_archive_release_t){.archive_id = "J1-g00007"};
        return true;
    case TF_MSG_CAT_JOB:
        m->cat_job = (tf_msg_cat_job_t){
            .job_id = "J1", .op = "failed", .stage = "tape", .message = "tape failed",
            .detail = "drive lto1: MEDIUM ERROR", .paths = s_paths,
            .paths_count = N_ELEMS(s_paths), .pool = "weekly", .compression = "zstd",
            .files_total = 120000, .bytes_total = UINT64_MAX, .groups_total = 9, .warnings = 4,
            .time_ms = -1795000000000ll};
        return true;
    case TF_MSG_CAT_FILES:
        m->cat_files = (tf_msg_cat_files_t){.job_id = "J1", .archive_id = "J1-g00007",
                                            .part = 2, .files = s_files,
                                            .files_count = N_ELEMS(s_files), .warnings = s_warnings,
                                            .warnings_count = N_ELEMS(s_warnings)};
        return true;
    case TF_MSG_CAT_WRITTEN:
        m->cat_written = (tf_msg_cat_written_t){
            .job_id = "J1", .archive_id = "J1-g00007", .group_no = 7, .volume = "TF0001L8",
            .drive = "lto1", .tape_file = 12, .block = 409600, .blocks = 4098,
            .size = 1073741825, .checksum = "xxh128:aa", .files = 3, .bytes = UINT64_MAX,
            .segments = s_segments, .segments_count = N_ELEMS(s_segments), .segment = 2};
        return true;
    case TF_MSG_CAT_QUERY:
        m->cat_query = (tf_msg_cat_query_t){.query = "files", .job_id = "J1",
                                            .pattern = "home/*/[a-z]*.txt", .limit = 500};
        return true;
    case TF_MSG_CAT_REPLY:
        m->cat_reply = (tf_msg_cat_reply_t){
            .jobs = s_jobs, .jobs_count = N_ELEMS(s_jobs), .files = s_files,
            .files_count = N_ELEMS(s_files), .archives = s_archives,
            .archives_count = N_ELEMS(s_archives), .truncated = true, .volumes = s_volumes,
            .volumes_count = N_ELEMS(s_volumes), .missing = s_warnings,
            .missing_count = N_ELEMS(s_warnings)};
        return true;
    case TF_MSG_TAPE_RESTORE:
        m->tape_restore = (tf_msg_tape_restore_t){
            .job_id = "J1", .dest = "/restore/here", .patterns = s_patterns,
            .patterns_count = N_ELEMS(s_patterns), .archives = s_archives,
            .archives_count = N_ELEMS(s_archives), .overwrite = "older", .strip_components = 3,
            .flat = true};
        return true;
    case TF_MSG_RESTORE_RESULT:
        m->restore_result = (tf_msg_restore_result_t){
            .files = 4999, .bytes = UINT64_MAX, .archives_read = 2, .blocks_read = 8196,
            .warnings = 1, .message = "1 file could not be restored: permission denied",
            .refused = 2, .kept = UINT64_MAX, .collisions = 7, .failures = s_failures,
            .failures_count = N_ELEMS(s_failures), .present = 12};
        return true;
    case TF_MSG_CAT_VOLUME:
        m->cat_volume = (tf_msg_cat_volume_t){
            .label = "TF0001", .pool = "default", .state = "full", .media_type = "density 0x5a",
            .created_ms = 1795258211000, .expires_ms = INT64_MAX, .bytes_used = UINT64_MAX,
            .last_written_ms = -1795258360000ll, .write_errors = 3, .read_errors = UINT64_MAX,
            .tape_files = 17, .drive = "tape0", .time_ms = INT64_MIN};
        return true;
    case TF_MSG_JOB_OP:
        m->job_op = (tf_msg_job_op_t){
            .rid = "r9", .job_id = "J1", .op = "cancel",
            .message = "cancelled by alice@host at 2026-12-02 04:30:00 UTC: wrong paths",
            .spare = "catalog,stager"};
        return true;
    case TF_MSG_JOB_OP_OK:
        m->job_op_ok = (tf_msg_job_op_ok_t){
            .rid = "r9", .job_id = "J1", .op = "retry", .cancelled = 3, .abandoned = 1,
            .requeued = UINT64_MAX, .catalog_item = "J1-retried-1795258211000", .finishing = 2,
            .unrecorded = 1, .note = "2 items still finishing; retry again shortly"};
        return true;
    case TF_MSG_STAGE_PURGE:
        m->stage_purge = (tf_msg_stage_purge_t){.job_id = "J1", .dry_run = true};
        return true;
    case TF_MSG_STAGE_PURGE_RESULT:
        m->stage_purge_result = (tf_msg_stage_purge_result_t){
            .job_id = "J1", .files = s_patterns, .files_count = N_ELEMS(s_patterns),
            .archives = 1, .bytes = UINT64_MAX, .in_use = s_patterns, .in_use_count = 1};
        return true;
    case TF_MSG_NONE:
    case TF_MSG_TYPE_COUNT:
        break;
    }
    return false;
}

/* Only the required fields. */
static bool
fill_min(tf_msg_type_t type, tf_msg_t *m)
{
    memset(m, 0, sizeof *m);
    m->type = type;
    switch (type) {
    case TF_MSG_READY: m->ready.service = "echo"; return true;
    case TF_MSG_HEARTBEAT: return true;
    case TF_MSG_DISCONNECT: return true;
    case TF_MSG_WORK:
        m->work = (tf_msg_work_t){.item_id = "i", .service = "s", .attempt = 1};
        return true;
    case TF_MSG_PROGRESS: m->progress = (tf_msg_progress_t){.item_id = "i", .attempt = 1}; return true;
    case TF_MSG_DONE: m->done = (tf_msg_done_t){.item_id = "i", .attempt = 1}; return true;
    case TF_MSG_FAILED:
        m->failed = (tf_msg_failed_t){.item_id = "i", .attempt = 1, .reason = "r"};
        return true;
    case TF_MSG_SUBMIT: m->submit.service = "s"; return true;
    case TF_MSG_SUBMIT_OK: m->submit_ok = (tf_msg_submit_ok_t){.item_id = "i", .state = "queued"}; return true;
    case TF_MSG_ITEM_GET: m->item_get.item_id = "i"; return true;
    case TF_MSG_ITEM_INFO:
        m->item_info = (tf_msg_item_info_t){.item_id = "i", .service = "s", .state = "done"};
        return true;
    case TF_MSG_STATUS_GET: return true;
    case TF_MSG_STATUS: return true;  /* services and workers: required, zero rows */
    case TF_MSG_ERROR: m->error = (tf_msg_error_t){.code = TF_ERR_PROTO, .message = "m"}; return true;
    case TF_MSG_EVENT:
        m->event = (tf_msg_event_t){.topic = "alert.x", .time_ms = 1, .source = "src", .seq = 1};
        return true;
    case TF_MSG_SCAN_JOB: m->scan_job.job_id = "j"; return true;  /* paths: zero rows */
    case TF_MSG_FILE_GROUP:
        m->file_group = (tf_msg_file_group_t){.job_id = "j", .archive_id = "a", .group_no = 1};
        return true;
    case TF_MSG_STAGE_OPEN:
        m->stage_open = (tf_msg_stage_open_t){.archive_id = "a", .job_id = "j"};
        return true;
    case TF_MSG_STAGE_CREDIT:
        m->stage_credit = (tf_msg_stage_credit_t){.archive_id = "a", .bytes = 1};
        return true;
    case TF_MSG_STAGE_DATA:
        m->stage_data = (tf_msg_stage_data_t){.archive_id = "a",
                                              .data = {s_empty_blob, 0}};  /* required bytes */
        return true;
    case TF_MSG_STAGE_CLOSE:
        m->stage_close = (tf_msg_stage_close_t){.archive_id = "a", .checksum = "c"};
        return true;
    case TF_MSG_STAGE_ROWS: m->stage_rows = (tf_msg_stage_rows_t){.archive_id = "a", .part = 1}; return true;
    case TF_MSG_STAGE_RESULT: m->stage_result.archive_id = "a"; return true;
    case TF_MSG_FETCH: m->fetch = (tf_msg_fetch_t){.archive_id = "a", .length = 1}; return true;
    case TF_MSG_FETCH_DATA: m->fetch_data.archive_id = "a"; return true;
    case TF_MSG_ARCHIVE_READY:
        m->archive_ready = (tf_msg_archive_ready_t){.archive_id = "a", .job_id = "j",
                                                    .checksum = "c", .stager = "s"};
        return true;
    case TF_MSG_ARCHIVE_RELEASE: m->archive_release.archive_id = "a"; return true;
    case TF_MSG_CAT_JOB: m->cat_job = (tf_msg_cat_job_t){.job_id = "j", .op = "create"}; return true;
    case TF_MSG_CAT_FILES:
        m->cat_files = (tf_msg_cat_files_t){.job_id = "j", .archive_id = "a"};
        return true;
    case TF_MSG_CAT_WRITTEN:
        m->cat_written = (tf_msg_cat_written_t){.job_id = "j", .archive_id = "a", .volume = "v",
                                                .checksum = "c"};
        return true;
    case TF_MSG_CAT_QUERY: m->cat_query.query = "jobs"; return true;
    case TF_MSG_CAT_REPLY: return true;
    case TF_MSG_TAPE_RESTORE:
        m->tape_restore = (tf_msg_tape_restore_t){.job_id = "j", .dest = "/d"};
        return true;
    case TF_MSG_RESTORE_RESULT: return true;
    case TF_MSG_CAT_VOLUME:
        m->cat_volume = (tf_msg_cat_volume_t){.label = "v", .pool = "p", .state = "appendable"};
        return true;
    case TF_MSG_JOB_OP: m->job_op = (tf_msg_job_op_t){.job_id = "j", .op = "retry"}; return true;
    case TF_MSG_JOB_OP_OK: m->job_op_ok = (tf_msg_job_op_ok_t){.job_id = "j", .op = "retry"}; return true;
    case TF_MSG_STAGE_PURGE: m->stage_purge.job_id = "j"; return true;
    case TF_MSG_STAGE_PURGE_RESULT: m->stage_purge_result.job_id = "j"; return true;
    case TF_MSG_NONE:
    case TF_MSG_TYPE_COUNT:
        break;
    }
    return false;
}

/* The wire format of a fully set message, checked with msgpack-c's unpacker (an independent
   reader): "key:kind" with kind str | uint | int | bool | bin | array. */
static const char *const s_wire_spec[TF_MSG_TYPE_COUNT] = {
    [TF_MSG_READY] = "service:str worker:str host:str pid:uint",
    [TF_MSG_HEARTBEAT] = "ts:uint",
    [TF_MSG_DISCONNECT] = "reason:str",
    [TF_MSG_WORK] = "item_id:str service:str job_id:str attempt:uint payload:bin",
    [TF_MSG_PROGRESS] = "item_id:str attempt:uint done:uint total:uint message:str",
    [TF_MSG_DONE] = "item_id:str attempt:uint result:bin",
    [TF_MSG_FAILED] = "item_id:str attempt:uint reason:str retry:bool",
    [TF_MSG_SUBMIT] = "rid:str service:str item_id:str job_id:str payload:bin",
    [TF_MSG_SUBMIT_OK] = "rid:str item_id:str state:str existed:bool",
    [TF_MSG_ITEM_GET] = "rid:str item_id:str",
    [TF_MSG_ITEM_INFO] = "rid:str item_id:str service:str job_id:str state:str attempts:uint "
                         "worker:str reason:str result:bin created_ms:int updated_ms:int",
    [TF_MSG_STATUS_GET] = "rid:str",
    [TF_MSG_STATUS] = "rid:str pid:uint uptime_ms:int journal:str recovered:uint "
                      "services:array workers:array rejects:array",
    [TF_MSG_ERROR] = "rid:str code:int message:str",
    [TF_MSG_EVENT] = "topic:str time_ms:int source:str seq:uint level:str message:str "
                     "job_id:str item_id:str done:uint total:uint job:array",
    [TF_MSG_SCAN_JOB] = "job_id:str paths:array group_bytes:uint one_fs:bool compression:str "
                        "pool:str",
    [TF_MSG_FILE_GROUP] = "job_id:str archive_id:str group_no:uint compression:str pool:str "
                          "entries:array",
    [TF_MSG_STAGE_OPEN] = "archive_id:str job_id:str group_no:uint compression:str pool:str expected_size:uint",
    [TF_MSG_STAGE_CREDIT] = "archive_id:str bytes:uint",
    [TF_MSG_STAGE_DATA] = "archive_id:str offset:uint data:bin",
    [TF_MSG_STAGE_ROWS] = "archive_id:str part:uint files:array",
    [TF_MSG_STAGE_CLOSE] = "archive_id:str size:uint checksum:str files:uint bytes:uint rows_parts:uint",
    [TF_MSG_STAGE_RESULT] = "archive_id:str ok:bool message:str permanent:bool",
    [TF_MSG_FETCH] = "archive_id:str offset:uint length:uint rows:bool",
    [TF_MSG_FETCH_DATA] = "archive_id:str offset:uint data:bin eof:bool error:str rows:bool",
    [TF_MSG_ARCHIVE_READY] = "archive_id:str job_id:str group_no:uint pool:str compression:str "
                             "size:uint checksum:str files:uint bytes:uint stager:str rows_size:uint "
                             "rows_checksum:str",
    [TF_MSG_ARCHIVE_RELEASE] = "archive_id:str",
    [TF_MSG_CAT_JOB] = "job_id:str op:str stage:str message:str detail:str paths:array pool:str "
                       "compression:str files_total:uint bytes_total:uint groups_total:uint "
                       "warnings:uint time_ms:int",
    [TF_MSG_CAT_FILES] = "job_id:str archive_id:str part:uint files:array warnings:array",
    [TF_MSG_CAT_WRITTEN] = "job_id:str archive_id:str group_no:uint volume:str drive:str "
                           "tape_file:uint block:uint blocks:uint size:uint checksum:str "
                           "files:uint bytes:uint segments:array segment:uint",
    [TF_MSG_CAT_QUERY] = "query:str job_id:str pattern:str limit:uint",
    [TF_MSG_CAT_REPLY] = "jobs:array files:array archives:array truncated:bool volumes:array "
                         "missing:array",
    [TF_MSG_TAPE_RESTORE] = "job_id:str dest:str patterns:array archives:array overwrite:str "
                            "strip_components:uint flat:bool",
    [TF_MSG_RESTORE_RESULT] = "files:uint bytes:uint archives_read:uint blocks_read:uint "
                              "warnings:uint message:str refused:uint kept:uint collisions:uint "
                              "failures:array present:uint",
    [TF_MSG_CAT_VOLUME] = "label:str pool:str state:str media_type:str created_ms:int "
                          "expires_ms:int bytes_used:uint last_written_ms:int write_errors:uint "
                          "read_errors:uint tape_files:uint drive:str time_ms:int",
    [TF_MSG_JOB_OP] = "rid:str job_id:str op:str message:str spare:str",
    [TF_MSG_JOB_OP_OK] = "rid:str job_id:str op:str cancelled:uint abandoned:uint requeued:uint "
                         "catalog_item:str finishing:uint unrecorded:uint note:str",
    [TF_MSG_STAGE_PURGE] = "job_id:str dry_run:bool",
    [TF_MSG_STAGE_PURGE_RESULT] = "job_id:str files:array archives:uint bytes:uint in_use:array",
};
static const char s_service_row_spec[] = "name:str workers:uint idle:uint queued:uint inflight:uint "
                                         "done:uint failed:uint redelivered:uint oldest_age_ms:int";
static const char s_worker_row_spec[] = "id:str service:str name:str pid:uint state:str "
                                        "item_id:str idle_ms:int";
static const char s_reject_row_spec[] = "peer:str name:str rejected:uint last_reason:str "
                                        "last_ms:int";
static const char s_path_row_spec[] = "path:str";
static const char s_entry_row_spec[] = "path:str size:uint";
static const char s_file_row_spec[] = "path:str type:str size:uint mtime:int mode:uint uid:uint "
                                      "gid:uint user:str group:str checksum:str offset:uint "
                                      "link:str mtime_nsec:uint";
static const char s_archive_failure_spec[] = "archive_id:str reason:str";
static const char s_job_row_spec[] = "job_id:str status:str stage:str message:str detail:str "
                                     "pool:str created_ms:int updated_ms:int files_total:uint "
                                     "bytes_total:uint files_done:uint bytes_done:uint "
                                     "groups_total:uint archives_written:uint warnings:uint "
                                     "scanned:bool";
static const char s_archive_row_spec[] = "archive_id:str job_id:str group_no:uint volume:str "
                                         "tape_file:uint block:uint blocks:uint size:uint "
                                         "checksum:str files:uint written:bool segments:array lost:bool lost_ms:int";
static const char s_warning_row_spec[] = "path:str reason:str missing:bool";
static const char s_segment_row_spec[] = "volume:str tape_file:uint block:uint offset:uint length:uint";
static const char s_volume_row_spec[] = "label:str pool:str state:str media_type:str "
                                        "created_ms:int expires_ms:int bytes_used:uint "
                                        "last_written_ms:int write_errors:uint read_errors:uint "
                                        "tape_files:uint drive:str updated_ms:int";

/* Every rows field of the catalogue: its row spec and the rows in fill_full's message. */
static const struct {
    tf_msg_type_t type;
    const char *field;
    const char *spec;
    uint32_t rows;
} s_wire_rows[] = {
    {TF_MSG_STATUS, "services", s_service_row_spec, 3},
    {TF_MSG_STATUS, "workers", s_worker_row_spec, 3},
    {TF_MSG_STATUS, "rejects", s_reject_row_spec, 3},
    {TF_MSG_SCAN_JOB, "paths", s_path_row_spec, 3},
    {TF_MSG_FILE_GROUP, "entries", s_entry_row_spec, 3},
    {TF_MSG_CAT_JOB, "paths", s_path_row_spec, 3},
    {TF_MSG_CAT_FILES, "files", s_file_row_spec, 3},
    {TF_MSG_STAGE_ROWS, "files", s_file_row_spec, 3},
    {TF_MSG_CAT_FILES, "warnings", s_warning_row_spec, 3},
    {TF_MSG_EVENT, "job", s_job_row_spec, 1},
    {TF_MSG_CAT_WRITTEN, "segments", s_segment_row_spec, 3},
    {TF_MSG_CAT_REPLY, "jobs", s_job_row_spec, 3},
    {TF_MSG_CAT_REPLY, "files", s_file_row_spec, 3},
    {TF_MSG_CAT_REPLY, "archives", s_archive_row_spec, 3},
    {TF_MSG_CAT_REPLY, "volumes", s_volume_row_spec, 3},
    {TF_MSG_CAT_REPLY, "missing", s_warning_row_spec, 3},
    {TF_MSG_TAPE_RESTORE, "patterns", s_path_row_spec, 3},
    {TF_MSG_TAPE_RESTORE, "archives", s_archive_row_spec, 3},
    {TF_MSG_RESTORE_RESULT, "failures", s_archive_failure_spec, 3},
};

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

/* Checks that map `o` has exactly the keys of `spec` (plus `extra` keys already checked by the
   caller) with the right kinds. */
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
    }
    assert_string_equal(tf_msg_type_name(TF_MSG_NONE), "?");
    assert_string_equal(tf_msg_type_name(TF_MSG_TYPE_COUNT), "?");
    assert_string_equal(tf_msg_type_name((tf_msg_type_t) -3), "?");
}

/* The comparison used by every round trip must itself notice differences. */
static void
test_equal_helper_detects_differences(void **state)
{
    (void) state;
    tf_msg_t a, b;
    char why[256];
    for (size_t i = 0; i < N_ELEMS(s_all_types); i++) {
        assert_true(fill_full(s_all_types[i], &a, false));
        assert_true(fill_full(s_all_types[i], &b, false));
        assert_true(tf_msg_equal(&a, &b, why, sizeof why));
    }
    fill_full(TF_MSG_WORK, &a, false);
    fill_full(TF_MSG_WORK, &b, false);
    b.work.attempt = 4;
    assert_false(tf_msg_equal(&a, &b, why, sizeof why));
    assert_string_equal(why, "work.attempt: 3 != 4");
    b.work.attempt = 3;
    b.work.payload.size--;
    assert_false(tf_msg_equal(&a, &b, why, sizeof why));
    b.work.payload = (tf_bytes_t){s_empty_blob, 0};
    assert_false(tf_msg_equal(&a, &b, why, sizeof why));
    fill_full(TF_MSG_WORK, &b, false);
    b.work.job_id = NULL;
    assert_false(tf_msg_equal(&a, &b, why, sizeof why));
    b.work.job_id = "job-8";
    assert_false(tf_msg_equal(&a, &b, why, sizeof why));
    fill_full(TF_MSG_FAILED, &a, false);
    fill_full(TF_MSG_FAILED, &b, false);
    b.failed.retry = false;
    assert_false(tf_msg_equal(&a, &b, why, sizeof why));

    tf_msg_service_row_t other[3];
    memcpy(other, s_services, sizeof other);
    other[2].oldest_age_ms = 0;
    fill_full(TF_MSG_STATUS, &a, false);
    fill_full(TF_MSG_STATUS, &b, false);
    b.status.services = other;
    assert_false(tf_msg_equal(&a, &b, why, sizeof why));
    assert_non_null(strstr(why, "status.services[2].oldest_age_ms"));
    b.status.services = s_services;
    b.status.workers_count = 2;
    assert_false(tf_msg_equal(&a, &b, why, sizeof why));

    fill_full(TF_MSG_DONE, &b, false);
    assert_false(tf_msg_equal(&a, &b, why, sizeof why));
    assert_string_equal(why, "type status != done");

    /* pipeline rows: every row type is compared field by field */
    tf_msg_file_row_t files[3];
    memcpy(files, s_files, sizeof files);
    files[1].link = "../bob/new";
    fill_full(TF_MSG_CAT_REPLY, &a, false);
    fill_full(TF_MSG_CAT_REPLY, &b, false);
    b.cat_reply.files = files;
    assert_false(tf_msg_equal(&a, &b, why, sizeof why));
    assert_string_equal(why, "cat_reply.files[1].link: \"../bob/old\" != \"../bob/new\"");
    files[1] = s_files[1];
    files[2].mtime = 0;
    assert_false(tf_msg_equal(&a, &b, why, sizeof why));
    assert_non_null(strstr(why, "cat_reply.files[2].mtime"));
    b.cat_reply.files = s_files;
    b.cat_reply.files_count = 2;
    assert_false(tf_msg_equal(&a, &b, why, sizeof why));
    assert_string_equal(why, "cat_reply.files_count: 3 != 2");

    tf_msg_job_row_t jobs[3];
    memcpy(jobs, s_jobs, sizeof jobs);
    jobs[2].scanned = true;
    fill_full(TF_MSG_CAT_REPLY, &b, false);
    b.cat_reply.jobs = jobs;
    assert_false(tf_msg_equal(&a, &b, why, sizeof why));
    assert_string_equal(why, "cat_reply.jobs[2].scanned: 0 != 1");

    tf_msg_volume_row_t volumes[3];
    memcpy(volumes, s_volumes, sizeof volumes);
    volumes[1].read_errors = 9;
    fill_full(TF_MSG_CAT_REPLY, &b, false);
    b.cat_reply.volumes = volumes;
    assert_false(tf_msg_equal(&a, &b, why, sizeof why));
    assert_string_equal(why, "cat_reply.volumes[1].read_errors: 18446744073709551615 != 9");
    volumes[1] = s_volumes[1];
    volumes[2].state = "full";
    assert_false(tf_msg_equal(&a, &b, why, sizeof why));
    assert_string_equal(why, "cat_reply.volumes[2].state: \"expired\" != \"full\"");

    fill_full(TF_MSG_CAT_VOLUME, &a, false);
    fill_full(TF_MSG_CAT_VOLUME, &b, false);
    assert_true(tf_msg_equal(&a, &b, why, sizeof why));
    b.cat_volume.expires_ms = 0;
    assert_false(tf_msg_equal(&a, &b, why, sizeof why));
    assert_non_null(strstr(why, "cat_volume.expires_ms"));

    tf_msg_archive_row_t archives[3];
    memcpy(archives, s_archives, sizeof archives);
    archives[0].volume = NULL;
    fill_full(TF_MSG_TAPE_RESTORE, &a, false);
    fill_full(TF_MSG_TAPE_RESTORE, &b, false);
    b.tape_restore.archives = archives;
    assert_false(tf_msg_equal(&a, &b, why, sizeof why));
    assert_non_null(strstr(why, "tape_restore.archives[0].volume"));

    tf_msg_path_row_t paths[3];
    memcpy(paths, s_paths, sizeof paths);
    paths[2].path = "/x";
    fill_full(TF_MSG_SCAN_JOB, &a, false);
    fill_full(TF_MSG_SCAN_JOB, &b, false);
    b.scan_job.paths = paths;
    assert_false(tf_msg_equal(&a, &b, why, sizeof why));
    assert_string_equal(why, "scan_job.paths[2].path: \"/\" != \"/x\"");

    tf_msg_group_entry_t entries[3];
    memcpy(entries, s_entries, sizeof entries);
    entries[1].size = 1;
    fill_full(TF_MSG_FILE_GROUP, &a, false);
    fill_full(TF_MSG_FILE_GROUP, &b, false);
    b.file_group.entries = entries;
    assert_false(tf_msg_equal(&a, &b, why, sizeof why));
    assert_string_equal(why, "file_group.entries[1].size: 18446744073709551615 != 1");

    fill_full(TF_MSG_STAGE_DATA, &a, false);
    fill_full(TF_MSG_STAGE_DATA, &b, true);
    assert_false(tf_msg_equal(&a, &b, why, sizeof why));
    assert_string_equal(why, "stage_data.data: 12 bytes != 0 bytes");
    fill_full(TF_MSG_STAGE_RESULT, &a, false);
    fill_full(TF_MSG_STAGE_RESULT, &b, false);
    b.stage_result.ok = false;
    assert_false(tf_msg_equal(&a, &b, why, sizeof why));
    assert_string_equal(why, "stage_result.ok: 1 != 0");

    /* the file rows sidecar's fields */
    fill_full(TF_MSG_STAGE_ROWS, &a, false);
    fill_full(TF_MSG_STAGE_ROWS, &b, false);
    assert_true(tf_msg_equal(&a, &b, why, sizeof why));
    b.stage_rows.files = files;  /* files[2].mtime differs (above) */
    assert_false(tf_msg_equal(&a, &b, why, sizeof why));
    assert_non_null(strstr(why, "stage_rows.files[2].mtime"));
    fill_full(TF_MSG_ARCHIVE_READY, &b, false);
    fill_full(TF_MSG_ARCHIVE_READY, &a, false);
    b.archive_ready.rows_size = 0;
    assert_false(tf_msg_equal(&a, &b, why, sizeof why));
    assert_non_null(strstr(why, "archive_ready.rows_size"));
    fill_full(TF_MSG_FETCH, &a, false);
    fill_full(TF_MSG_FETCH, &b, false);
    b.fetch.rows = false;
    assert_false(tf_msg_equal(&a, &b, why, sizeof why));
    assert_string_equal(why, "fetch.rows: 1 != 0");
    fill_full(TF_MSG_STAGE_CLOSE, &a, false);
    fill_full(TF_MSG_STAGE_CLOSE, &b, false);
    b.stage_close.rows_parts = 1;
    assert_false(tf_msg_equal(&a, &b, why, sizeof why));
    assert_string_equal(why, "stage_close.rows_parts: 2 != 1");
}

/* ------------------------------------------------------------- round trips ----------- */

static void
test_roundtrip_every_type_full(void **state)
{
    (void) state;
    for (size_t i = 0; i < N_ELEMS(s_all_types); i++) {
        tf_msg_t m;
        if (!fill_full(s_all_types[i], &m, false))
            fail_msg("no sample message for type %s: add one to fill_full()", s_all_names[i]);
        roundtrip(&m);
    }
}

static void
test_roundtrip_every_type_empty_bytes(void **state)
{
    (void) state;
    for (size_t i = 0; i < N_ELEMS(s_all_types); i++) {
        tf_msg_t m;
        assert_true(fill_full(s_all_types[i], &m, true));
        roundtrip(&m);
    }
    /* Present-but-empty stays distinguishable from absent after decoding. */
    tf_msg_t m, out;
    fill_full(TF_MSG_DONE, &m, true);
    uint8_t *data;
    size_t size;
    encode_ok(&m, &data, &size);
    expect_decode(data, size, &out);
    free(data);
    assert_non_null(out.done.result.data);
    assert_int_equal(out.done.result.size, 0);
    tf_msg_clear(&out);
}

static void
test_roundtrip_binary_with_nuls(void **state)
{
    (void) state;
    tf_msg_t m, out;
    fill_full(TF_MSG_WORK, &m, false);
    uint8_t *data;
    size_t size;
    encode_ok(&m, &data, &size);
    expect_decode(data, size, &out);
    free(data);
    assert_int_equal(out.type, TF_MSG_WORK);
    assert_int_equal(out.work.payload.size, sizeof s_blob);
    assert_memory_equal(out.work.payload.data, s_blob, sizeof s_blob);
    assert_ptr_not_equal(out.work.payload.data, s_blob);  /* a copy owned by the message */
    assert_string_equal(out.work.item_id, "item-42");
    assert_string_equal(out.work.service, "compressor");
    assert_string_equal(out.work.job_id, "job-7");
    assert_int_equal(out.work.attempt, 3);
    tf_msg_clear(&out);
    assert_true(s_all_zero(&out, sizeof out));

    /* the stager's data messages */
    fill_full(TF_MSG_STAGE_DATA, &m, false);
    encode_ok(&m, &data, &size);
    expect_decode(data, size, &out);
    free(data);
    assert_int_equal(out.type, TF_MSG_STAGE_DATA);
    assert_int_equal(out.stage_data.data.size, sizeof s_blob);
    assert_memory_equal(out.stage_data.data.data, s_blob, sizeof s_blob);
    assert_ptr_not_equal(out.stage_data.data.data, s_blob);
    assert_true(out.stage_data.offset == 5000000000ull);
    tf_msg_clear(&out);

    fill_full(TF_MSG_FETCH_DATA, &m, false);
    encode_ok(&m, &data, &size);
    expect_decode(data, size, &out);
    free(data);
    assert_int_equal(out.fetch_data.data.size, sizeof s_blob);
    assert_memory_equal(out.fetch_data.data.data, s_blob, sizeof s_blob);
    assert_true(out.fetch_data.eof);
    tf_msg_clear(&out);

    /* fetch_data at the end of an archive: eof with present-but-empty data, or no data */
    fill_min(TF_MSG_FETCH_DATA, &m);
    m.fetch_data.eof = true;
    m.fetch_data.data = (tf_bytes_t){s_empty_blob, 0};
    encode_ok(&m, &data, &size);
    expect_decode(data, size, &out);
    free(data);
    assert_non_null(out.fetch_data.data.data);
    assert_int_equal(out.fetch_data.data.size, 0);
    assert_true(out.fetch_data.eof);
    tf_msg_clear(&out);
    fill_min(TF_MSG_FETCH_DATA, &m);
    encode_ok(&m, &data, &size);
    expect_decode(data, size, &out);
    free(data);
    assert_null(out.fetch_data.data.data);
    assert_null(out.fetch_data.error);
    tf_msg_clear(&out);
}

static void
test_roundtrip_every_type_minimal(void **state)
{
    (void) state;
    for (size_t i = 0; i < N_ELEMS(s_all_types); i++) {
        tf_msg_t m;
        if (!fill_min(s_all_types[i], &m))
            fail_msg("no minimal message for type %s: add one to fill_min()", s_all_names[i]);
        roundtrip(&m);  /* optional strings stay NULL, absent bytes stay absent */
    }
}

static void
test_roundtrip_status_rows(void **state)
{
    (void) state;
    static const size_t counts[][2] = {{0, 0}, {1, 0}, {0, 1}, {1, 1}, {3, 1}, {1, 3}, {3, 3}};
    for (size_t i = 0; i < N_ELEMS(counts); i++) {
        tf_msg_t m, out;
        fill_full(TF_MSG_STATUS, &m, false);
        m.status.services_count = counts[i][0];
        m.status.workers_count = counts[i][1];
        if (!counts[i][0])
            m.status.services = NULL;
        roundtrip(&m);
        uint8_t *data;
        size_t size;
        encode_ok(&m, &data, &size);
        expect_decode(data, size, &out);
        free(data);
        assert_int_equal(out.status.services_count, counts[i][0]);
        assert_int_equal(out.status.workers_count, counts[i][1]);
        if (counts[i][0] == 0)
            assert_null(out.status.services);
        else
            assert_string_equal(out.status.services[counts[i][0] - 1].name,
                                s_services[counts[i][0] - 1].name);
        if (counts[i][1] > 0)
            assert_int_equal(out.status.workers[counts[i][1] - 1].idle_ms,
                             s_workers[counts[i][1] - 1].idle_ms);
        tf_msg_clear(&out);
    }
}

/* Every rows field of the pipeline messages with 0, 1 and several rows (the other rows fields
   of the message stay at fill_full's rows), and all of a message's rows fields empty at once. */
#define ROWS_FIELD_(T, M, F, SAMPLE)                                                        \
    {T, #M "." #F, offsetof(tf_msg_t, M.F), offsetof(tf_msg_t, M.F##_count), SAMPLE,       \
     sizeof SAMPLE[0], N_ELEMS(SAMPLE)}
static const struct {
    tf_msg_type_t type;
    const char *name;
    size_t rows_offset;   /* of the row pointer in tf_msg_t */
    size_t count_offset;  /* of the count */
    const void *sample;
    size_t row_size;
    size_t sample_rows;
} s_pipeline_rows[] = {
    ROWS_FIELD_(TF_MSG_SCAN_JOB, scan_job, paths, s_paths),
    ROWS_FIELD_(TF_MSG_FILE_GROUP, file_group, entries, s_entries),
    ROWS_FIELD_(TF_MSG_CAT_JOB, cat_job, paths, s_paths),
    ROWS_FIELD_(TF_MSG_CAT_FILES, cat_files, files, s_files),
    ROWS_FIELD_(TF_MSG_STAGE_ROWS, stage_rows, files, s_files),
    ROWS_FIELD_(TF_MSG_CAT_REPLY, cat_reply, jobs, s_jobs),
    ROWS_FIELD_(TF_MSG_CAT_REPLY, cat_reply, files, s_files),
    ROWS_FIELD_(TF_MSG_CAT_REPLY, cat_reply, archives, s_archives),
    ROWS_FIELD_(TF_MSG_CAT_REPLY, cat_reply, volumes, s_volumes),
    ROWS_FIELD_(TF_MSG_CAT_FILES, cat_files, warnings, s_warnings),
    ROWS_FIELD_(TF_MSG_CAT_REPLY, cat_reply, missing, s_warnings),
    ROWS_FIELD_(TF_MSG_TAPE_RESTORE, tape_restore, patterns, s_patterns),
    ROWS_FIELD_(TF_MSG_TAPE_RESTORE, tape_restore, archives, s_archives),
    ROWS_FIELD_(TF_MSG_RESTORE_RESULT, restore_result, failures, s_failures),
};
#undef ROWS_FIELD_

static void
s_set_rows(tf_msg_t *m, size_t k, const void *rows, size_t count)
{
    memcpy((char *) m + s_pipeline_rows[k].rows_offset, &rows, sizeof rows);
    memcpy((char *) m + s_pipeline_rows[k].count_offset, &count, sizeof count);
}

static void
s_get_rows(const tf_msg_t *m, size_t k, const char **rows, size_t *count)
{
    memcpy(rows, (const char *) m + s_pipeline_rows[k].rows_offset, sizeof *rows);
    memcpy(count, (const char *) m + s_pipeline_rows[k].count_offset, sizeof *count);
}

static void
test_roundtrip_pipeline_rows(void **state)
{
    (void) state;
    for (size_t k = 0; k < N_ELEMS(s_pipeline_rows); k++) {
        assert_true(s_pipeline_rows[k].sample_rows >= 3);
        static const size_t counts[] = {0, 1, 2, 3};
        for (size_t c = 0; c < N_ELEMS(counts); c++) {
            for (int null_when_empty = 0; null_when_empty <= 1; null_when_empty++) {
                if (counts[c] > 0 && null_when_empty)
                    continue;
                tf_msg_t m, out;
                assert_true(fill_full(s_pipeline_rows[k].type, &m, false));
                /* a later row (c = 1: the last sample row) so not always the first is tested */
                const char *first = (const char *) s_pipeline_rows[k].sample +
                                    (counts[c] == 1 ? 2 * s_pipeline_rows[k].row_size : 0);
                s_set_rows(&m, k, null_when_empty ? NULL : first, counts[c]);
                roundtrip(&m);
                uint8_t *data;
                size_t size;
                encode_ok(&m, &data, &size);
                expect_decode(data, size, &out);
                free(data);
                const char *rows;
                size_t count;
                s_get_rows(&out, k, &rows, &count);
                if (count != counts[c])
                    fail_msg("%s: %zu rows decoded, %zu sent", s_pipeline_rows[k].name, count,
                             counts[c]);
                if (counts[c] == 0)
                    assert_null(rows);  /* no rows: no array */
                else
                    assert_ptr_not_equal(rows, first);  /* copies owned by the message */
                tf_msg_clear(&out);
                assert_true(s_all_zero(&out, sizeof out));
            }
        }
    }
    /* Every rows field of a message empty at once. */
    for (size_t k = 0; k < N_ELEMS(s_pipeline_rows); k++) {
        tf_msg_t m;
        assert_true(fill_full(s_pipeline_rows[k].type, &m, false));
        for (size_t j = 0; j < N_ELEMS(s_pipeline_rows); j++)
            if (s_pipeline_rows[j].type == s_pipeline_rows[k].type)
                s_set_rows(&m, j, NULL, 0);
        roundtrip(&m);
    }
}

/* Rows holding only their required fields: optional strings stay NULL through a round trip. */
static void
test_roundtrip_pipeline_minimal_rows(void **state)
{
    (void) state;
    tf_msg_group_entry_t entries[] = {{.path = "/a"}, {.path = "/a/b", .size = 3}};
    tf_msg_file_row_t files[] = {{.path = "a", .type = "dir"}, {.path = "a/b", .type = "other"}};
    tf_msg_job_row_t jobs[] = {{.job_id = "J1", .status = "queued"}};
    tf_msg_archive_row_t archives[] = {{.archive_id = "J1-g00001"}, {.archive_id = "J1-g00002"}};
    tf_msg_t m, out;

    fill_min(TF_MSG_FILE_GROUP, &m);
    m.file_group.entries = entries;
    m.file_group.entries_count = N_ELEMS(entries);
    roundtrip(&m);

    fill_min(TF_MSG_CAT_FILES, &m);
    m.cat_files.files = files;
    m.cat_files.files_count = N_ELEMS(files);
    roundtrip(&m);

    fill_min(TF_MSG_CAT_REPLY, &m);
    m.cat_reply = (tf_msg_cat_reply_t){.jobs = jobs, .jobs_count = 1, .files = files,
                                       .files_count = 2, .archives = archives,
                                       .archives_count = 2};
    roundtrip(&m);
    uint8_t *data;
    size_t size;
    encode_ok(&m, &data, &size);
    expect_decode(data, size, &out);
    free(data);
    assert_int_equal(out.cat_reply.files_count, 2);
    assert_string_equal(out.cat_reply.files[1].path, "a/b");
    assert_string_equal(out.cat_reply.files[1].type, "other");
    assert_null(out.cat_reply.files[1].link);
    assert_null(out.cat_reply.files[1].checksum);
    assert_null(out.cat_reply.jobs[0].detail);
    assert_null(out.cat_reply.archives[1].volume);
    assert_false(out.cat_reply.archives[1].written);
    tf_msg_clear(&out);

    /* A volume row with only its label; a cat_volume with only what it requires. */
    tf_msg_volume_row_t volumes[] = {{.label = "TF0009"}};
    fill_min(TF_MSG_CAT_REPLY, &m);
    m.cat_reply.volumes = volumes;
    m.cat_reply.volumes_count = 1;
    roundtrip(&m);
    encode_ok(&m, &data, &size);
    expect_decode(data, size, &out);
    free(data);
    assert_string_equal(out.cat_reply.volumes[0].label, "TF0009");
    assert_null(out.cat_reply.volumes[0].pool);
    assert_null(out.cat_reply.volumes[0].state);
    assert_int_equal(out.cat_reply.volumes[0].expires_ms, 0);
    tf_msg_clear(&out);
    fill_min(TF_MSG_CAT_VOLUME, &m);
    roundtrip(&m);

    fill_min(TF_MSG_TAPE_RESTORE, &m);
    m.tape_restore.archives = archives;
    m.tape_restore.archives_count = N_ELEMS(archives);
    roundtrip(&m);
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
test_roundtrip_limits(void **state)
{
    (void) state;
    char *id = s_repeat('i', TF_MSG_MAX_ID);
    char *text = s_repeat('t', TF_MSG_MAX_TEXT);
    char *path = s_repeat('p', TF_MSG_MAX_PATH);
    char *topic = s_repeat('j', TF_MSG_MAX_ID * 2);
    char *level = s_repeat('l', 16);
    tf_msg_t m;

    fill_full(TF_MSG_FAILED, &m, false);
    m.failed.item_id = id;
    m.failed.reason = text;
    m.failed.attempt = UINT64_MAX;
    roundtrip(&m);

    fill_full(TF_MSG_STATUS, &m, false);
    m.status.journal = path;
    m.status.uptime_ms = INT64_MIN;
    m.status.pid = UINT64_MAX;
    roundtrip(&m);

    fill_full(TF_MSG_EVENT, &m, false);
    m.event.topic = topic;
    m.event.level = level;
    m.event.time_ms = INT64_MIN;
    m.event.seq = UINT64_MAX;
    roundtrip(&m);

    fill_full(TF_MSG_ERROR, &m, false);
    m.error.code = INT64_MAX;
    m.error.message = "";  /* empty strings are strings too */
    roundtrip(&m);

    /* pipeline strings at their limits, in messages and in rows */
    tf_msg_path_row_t long_paths[2] = {{.path = path}, {.path = ""}};
    fill_full(TF_MSG_SCAN_JOB, &m, false);
    m.scan_job.job_id = id;
    m.scan_job.pool = id;
    m.scan_job.paths = long_paths;
    m.scan_job.paths_count = 2;
    m.scan_job.group_bytes = UINT64_MAX;
    roundtrip(&m);

    tf_msg_file_row_t files[1] = {s_files[0]};
    files[0].path = path;
    files[0].link = path;
    files[0].user = id;
    files[0].checksum = id;
    fill_full(TF_MSG_CAT_FILES, &m, false);
    m.cat_files.files = files;
    m.cat_files.files_count = 1;
    roundtrip(&m);

    tf_msg_job_row_t jobs[1] = {s_jobs[0]};
    jobs[0].message = text;
    jobs[0].detail = text;
    fill_full(TF_MSG_CAT_REPLY, &m, false);
    m.cat_reply.jobs = jobs;
    m.cat_reply.jobs_count = 1;
    roundtrip(&m);

    fill_full(TF_MSG_ARCHIVE_READY, &m, false);
    m.archive_ready.stager = path;
    m.archive_ready.checksum = id;
    roundtrip(&m);

    fill_full(TF_MSG_TAPE_RESTORE, &m, false);
    m.tape_restore.dest = path;
    roundtrip(&m);

    fill_full(TF_MSG_STAGE_RESULT, &m, false);
    m.stage_result.ok = false;
    m.stage_result.message = text;
    roundtrip(&m);

    /* 1 MiB chunk of stage_data (the compressor's chunk size) */
    size_t chunk = 1u << 20;
    uint8_t *big = malloc(chunk);
    assert_non_null(big);
    for (size_t i = 0; i < chunk; i++)
        big[i] = (uint8_t) (i * 7u);
    fill_full(TF_MSG_STAGE_DATA, &m, false);
    m.stage_data.data = (tf_bytes_t){big, chunk};
    m.stage_data.offset = UINT64_MAX - chunk;
    roundtrip(&m);
    free(big);

    free(id);
    free(text);
    free(path);
    free(topic);
    free(level);
}

/* The encoder's output read back with msgpack-c's unpacker: the documented wire format. */
static void
test_wire_format_every_type(void **state)
{
    (void) state;
    for (size_t i = 0; i < N_ELEMS(s_all_types); i++) {
        tf_msg_type_t type = s_all_types[i];
        tf_msg_t m;
        assert_true(fill_full(type, &m, false));
        if (!s_wire_spec[type])
            fail_msg("no wire spec for %s", s_all_names[i]);
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
        check_map_against(o, s_wire_spec[type], 2, s_all_names[i]);
        for (size_t w = 0; w < N_ELEMS(s_wire_rows); w++) {
            if (s_wire_rows[w].type != type)
                continue;
            const msgpack_object *rows = s_obj_get(o, s_wire_rows[w].field);
            assert_non_null(rows);
            assert_int_equal(rows->type, MSGPACK_OBJECT_ARRAY);
            assert_int_equal(rows->via.array.size, s_wire_rows[w].rows);
            char what[64];
            snprintf(what, sizeof what, "%s.%s row", s_all_names[i], s_wire_rows[w].field);
            for (uint32_t r = 0; r < rows->via.array.size; r++)
                check_map_against(&rows->via.array.ptr[r], s_wire_rows[w].spec, 0, what);
        }
        msgpack_unpacked_destroy(&up);
        free(data);
    }
}

/* Encoding a message with only required fields set puts exactly v, t and those on the wire
   (absent optional strings and byte strings are omitted, numbers and booleans always sent). */
static void
test_wire_format_omits_absent(void **state)
{
    (void) state;
    tf_msg_t m;
    fill_min(TF_MSG_WORK, &m);
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

    fill_min(TF_MSG_FAILED, &m);
    encode_ok(&m, &data, &size);
    msgpack_unpacked_init(&up);
    assert_int_equal(msgpack_unpack_next(&up, (const char *) data, size, NULL),
                     MSGPACK_UNPACK_SUCCESS);
    check_map_against(&up.data, "item_id:str attempt:uint reason:str retry:bool", 2, "failed");
    msgpack_unpacked_destroy(&up);
    free(data);
}

/* ------------------------------------------------------------ encode refusals -------- */

/* First required string/int/rows field per type as the encoder / decoder report it. */
static const char *const s_enc_first_required[TF_MSG_TYPE_COUNT] = {
    [TF_MSG_READY] = "service",     [TF_MSG_WORK] = "item_id",      [TF_MSG_PROGRESS] = "item_id",
    [TF_MSG_DONE] = "item_id",      [TF_MSG_FAILED] = "item_id",    [TF_MSG_SUBMIT] = "service",
    [TF_MSG_SUBMIT_OK] = "item_id", [TF_MSG_ITEM_GET] = "item_id",  [TF_MSG_ITEM_INFO] = "item_id",
    [TF_MSG_ERROR] = "message",     [TF_MSG_EVENT] = "topic",
    [TF_MSG_SCAN_JOB] = "job_id",          [TF_MSG_FILE_GROUP] = "job_id",
    [TF_MSG_STAGE_OPEN] = "archive_id",    [TF_MSG_STAGE_CREDIT] = "archive_id",
    [TF_MSG_STAGE_DATA] = "archive_id",    [TF_MSG_STAGE_CLOSE] = "archive_id",
    [TF_MSG_STAGE_ROWS] = "archive_id",
    [TF_MSG_STAGE_RESULT] = "archive_id",  [TF_MSG_FETCH] = "archive_id",
    [TF_MSG_FETCH_DATA] = "archive_id",    [TF_MSG_ARCHIVE_READY] = "archive_id",
    [TF_MSG_ARCHIVE_RELEASE] = "archive_id", [TF_MSG_CAT_JOB] = "job_id",
    [TF_MSG_CAT_FILES] = "job_id",         [TF_MSG_CAT_WRITTEN] = "job_id",
    [TF_MSG_CAT_QUERY] = "query",          [TF_MSG_TAPE_RESTORE] = "job_id",
    [TF_MSG_CAT_VOLUME] = "label",
    [TF_MSG_JOB_OP] = "job_id",            [TF_MSG_JOB_OP_OK] = "job_id",
    [TF_MSG_STAGE_PURGE] = "job_id",       [TF_MSG_STAGE_PURGE_RESULT] = "job_id",
    /* cat_reply, restore_result: nothing required */
};
static const char *const s_dec_first_required[TF_MSG_TYPE_COUNT] = {
    [TF_MSG_READY] = "service",     [TF_MSG_WORK] = "item_id",      [TF_MSG_PROGRESS] = "item_id",
    [TF_MSG_DONE] = "item_id",      [TF_MSG_FAILED] = "item_id",    [TF_MSG_SUBMIT] = "service",
    [TF_MSG_SUBMIT_OK] = "item_id", [TF_MSG_ITEM_GET] = "item_id",  [TF_MSG_ITEM_INFO] = "item_id",
    [TF_MSG_ERROR] = "code",        [TF_MSG_EVENT] = "topic",       [TF_MSG_STATUS] = "services",
    [TF_MSG_SCAN_JOB] = "job_id",          [TF_MSG_FILE_GROUP] = "job_id",
    [TF_MSG_STAGE_OPEN] = "archive_id",    [TF_MSG_STAGE_CREDIT] = "archive_id",
    [TF_MSG_STAGE_DATA] = "archive_id",    [TF_MSG_STAGE_CLOSE] = "archive_id",
    [TF_MSG_STAGE_ROWS] = "archive_id",
    [TF_MSG_STAGE_RESULT] = "archive_id",  [TF_MSG_FETCH] = "archive_id",
    [TF_MSG_FETCH_DATA] = "archive_id",    [TF_MSG_ARCHIVE_READY] = "archive_id",
    [TF_MSG_ARCHIVE_RELEASE] = "archive_id", [TF_MSG_CAT_JOB] = "job_id",
    [TF_MSG_CAT_FILES] = "job_id",         [TF_MSG_CAT_WRITTEN] = "job_id",
    [TF_MSG_CAT_QUERY] = "query",          [TF_MSG_TAPE_RESTORE] = "job_id",
    [TF_MSG_CAT_VOLUME] = "label",
    [TF_MSG_JOB_OP] = "job_id",            [TF_MSG_JOB_OP_OK] = "job_id",
    [TF_MSG_STAGE_PURGE] = "job_id",       [TF_MSG_STAGE_PURGE_RESULT] = "job_id",
};

static void
test_encode_refuses_unset_required(void **state)
{
    (void) state;
    for (size_t i = 0; i < N_ELEMS(s_all_types); i++) {
        tf_msg_type_t type = s_all_types[i];
        tf_msg_t m;
        memset(&m, 0, sizeof m);
        m.type = type;
        if (!s_enc_first_required[type]) {
            uint8_t *data;
            size_t size;
            encode_ok(&m, &data, &size);  /* nothing required but numbers/rows */
            free(data);
            continue;
        }
        char needle[128];
        snprintf(needle, sizeof needle, "%s: required field '%s' is not set", s_all_names[i],
                 s_enc_first_required[type]);
        expect_encode_fails(&m, TF_ERR_INVALID, needle);
    }
    /* One required field missing among others set. */
    tf_msg_t m;
    fill_full(TF_MSG_FAILED, &m, false);
    m.failed.reason = NULL;
    expect_encode_fails(&m, TF_ERR_INVALID, "failed: required field 'reason' is not set");
    /* ... and inside a status row. */
    tf_msg_worker_row_t rows[2];
    memcpy(rows, s_workers, sizeof rows);
    rows[1].state = NULL;
    fill_full(TF_MSG_STATUS, &m, false);
    m.status.workers = rows;
    m.status.workers_count = 2;
    expect_encode_fails(&m, TF_ERR_INVALID, "worker: required field 'state' is not set");

    /* ... inside pipeline rows, and required bytes */
    tf_msg_file_row_t files[3];
    memcpy(files, s_files, sizeof files);
    files[2].type = NULL;
    fill_full(TF_MSG_CAT_FILES, &m, false);
    m.cat_files.files = files;
    expect_encode_fails(&m, TF_ERR_INVALID, "file: required field 'type' is not set");
    tf_msg_archive_row_t archives[1] = {s_archives[0]};
    archives[0].archive_id = NULL;
    fill_full(TF_MSG_TAPE_RESTORE, &m, false);
    m.tape_restore.archives = archives;
    m.tape_restore.archives_count = 1;
    expect_encode_fails(&m, TF_ERR_INVALID, "archive: required field 'archive_id' is not set");
    tf_msg_volume_row_t volumes[1] = {s_volumes[0]};
    volumes[0].label = NULL;
    fill_full(TF_MSG_CAT_REPLY, &m, false);
    m.cat_reply.volumes = volumes;
    m.cat_reply.volumes_count = 1;
    expect_encode_fails(&m, TF_ERR_INVALID, "volume: required field 'label' is not set");
    fill_full(TF_MSG_CAT_VOLUME, &m, false);
    m.cat_volume.state = NULL;
    expect_encode_fails(&m, TF_ERR_INVALID, "cat_volume: required field 'state' is not set");
    tf_msg_group_entry_t entries[1] = {{.size = 1}};
    fill_full(TF_MSG_FILE_GROUP, &m, false);
    m.file_group.entries = entries;
    m.file_group.entries_count = 1;
    expect_encode_fails(&m, TF_ERR_INVALID, "entry: required field 'path' is not set");
    fill_full(TF_MSG_STAGE_DATA, &m, false);
    m.stage_data.data = (tf_bytes_t){NULL, 0};
    expect_encode_fails(&m, TF_ERR_INVALID, "stage_data: required field 'data' is not set");
    fill_full(TF_MSG_ARCHIVE_READY, &m, false);
    m.archive_ready.stager = NULL;
    expect_encode_fails(&m, TF_ERR_INVALID, "archive_ready: required field 'stager' is not set");
    fill_full(TF_MSG_CAT_REPLY, &m, false);
    m.cat_reply.archives = NULL;
    expect_encode_fails(&m, TF_ERR_INVALID, "cat_reply.archives: 3 rows but no array");
}

static void
test_encode_refuses_overlong(void **state)
{
    (void) state;
    char *id = s_repeat('x', TF_MSG_MAX_ID + 1);
    char *text = s_repeat('x', TF_MSG_MAX_TEXT + 1);
    tf_msg_t m;

    fill_full(TF_MSG_WORK, &m, false);
    m.work.item_id = id;
    expect_encode_fails(&m, TF_ERR_TOOBIG, "work.item_id: string of 129 bytes is over the limit of 128");
    fill_full(TF_MSG_FAILED, &m, false);
    m.failed.reason = text;
    expect_encode_fails(&m, TF_ERR_TOOBIG, "failed.reason: string of 4097 bytes is over the limit");
    fill_full(TF_MSG_EVENT, &m, false);
    m.event.level = "informational-ish";  /* 17 > 16 */
    expect_encode_fails(&m, TF_ERR_TOOBIG, "event.level: string of 17 bytes is over the limit of 16");

    /* Sizes are checked before the data is read: the buffer here is much smaller. */
    fill_full(TF_MSG_DONE, &m, false);
    m.done.result.size = (size_t) TF_MSG_MAX_BLOB + 1;
    expect_encode_fails(&m, TF_ERR_TOOBIG, "done.result: 67108865 bytes is over the limit");
    fill_full(TF_MSG_STATUS, &m, false);
    m.status.services_count = TF_MSG_MAX_ROWS + 1;
    expect_encode_fails(&m, TF_ERR_TOOBIG, "status.services: 100001 rows is over the limit");
    fill_full(TF_MSG_STATUS, &m, false);
    m.status.workers = NULL;
    expect_encode_fails(&m, TF_ERR_INVALID, "status.workers: 3 rows but no array");
    /* An over-long string in a row. */
    tf_msg_service_row_t rows[1] = {s_services[0]};
    rows[0].name = id;
    fill_full(TF_MSG_STATUS, &m, false);
    m.status.services = rows;
    m.status.services_count = 1;
    expect_encode_fails(&m, TF_ERR_TOOBIG, "service.name: string of 129 bytes is over the limit");
    free(id);
    free(text);
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
    (void) state;
    static uint8_t big[20000];
    tf_msg_t m;
    fill_full(TF_MSG_WORK, &m, false);
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
        if (s_dec_first_required[type]) {
            char needle[128];
            snprintf(needle, sizeof needle, "%s: missing required field '%s'", s_all_names[i],
                     s_dec_first_required[type]);
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
    (void) state;
    tf_msg_t m;
    fill_full(TF_MSG_READY, &m, false);
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
    (void) state;
    /* Every strict prefix of every full message is rejected, with a message. */
    for (size_t i = 0; i < N_ELEMS(s_all_types); i++) {
        tf_msg_t m;
        fill_full(s_all_types[i], &m, false);
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
    (void) state;
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
    fill_min(TF_MSG_WORK, &want);
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
    (void) state;
    tf_msg_t want;
    fill_min(TF_MSG_PROGRESS, &want);
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
    (void) state;
    char why[256] = "";
    for (size_t i = 0; i < N_ELEMS(s_all_types); i++) {
        tf_msg_t m;
        fill_full(s_all_types[i], &m, false);
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
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_equal_helper_detects_differences),
        cmocka_unit_test(test_roundtrip_every_type_full),
        cmocka_unit_test(test_roundtrip_every_type_empty_bytes),
        cmocka_unit_test(test_roundtrip_binary_with_nuls),
        cmocka_unit_test(test_roundtrip_every_type_minimal),
        cmocka_unit_test(test_roundtrip_status_rows),
        cmocka_unit_test(test_roundtrip_pipeline_rows),
        cmocka_unit_test(test_roundtrip_pipeline_minimal_rows),
        cmocka_unit_test(test_roundtrip_limits),
        cmocka_unit_test(test_wire_format_every_type),
        cmocka_unit_test(test_wire_format_omits_absent),
        cmocka_unit_test(test_encode_refuses_unset_required),
        cmocka_unit_test(test_encode_refuses_overlong),
        cmocka_unit_test(test_encode_refuses_unknown_type),
        cmocka_unit_test(test_encode_out_of_memory),
        cmocka_unit_test(test_decode_empty),
        cmocka_unit_test(test_decode_wrong_version),
        cmocka_unit_test(test_decode_unknown_type),
        cmocka_unit_test(test_decode_missing_required_every_type),
        cmocka_unit_test(test_decode_missing_required_field),
        cmocka_unit_test(test_decode_wrong_types),
        cmocka_unit_test(test_decode_signed_and_unsigned),
        cmocka_unit_test(test_decode_trailing_bytes),
        cmocka_unit_test(test_decode_counts_larger_than_bytes_left),
        cmocka_unit_test(test_hostile_count),
        cmocka_unit_test(test_decode_overlong_strings),
        cmocka_unit_test(test_decode_blob_over_limit),
        cmocka_unit_test(test_decode_rows_over_limit),
        cmocka_unit_test(test_decode_deep_nesting),
        cmocka_unit_test(test_decode_nul_in_string),
        cmocka_unit_test(test_decode_duplicate_keys),
        cmocka_unit_test(test_decode_extension_types),
        cmocka_unit_test(test_decode_truncated),
        cmocka_unit_test(test_decode_not_a_map),
        cmocka_unit_test(test_decode_non_string_keys),
        cmocka_unit_test(test_decode_status_row_not_map),
        cmocka_unit_test(test_decode_failure_frees_partial),
        cmocka_unit_test(test_decode_file_group_entry_errors),
        cmocka_unit_test(test_decode_cat_reply_file_size_string),
        cmocka_unit_test(test_decode_tape_restore_archive_not_map),
        cmocka_unit_test(test_decode_stage_data_errors),
        cmocka_unit_test(test_decode_stage_rows_and_sidecar_fields),
        cmocka_unit_test(test_decode_unknown_fields_ignored),
        cmocka_unit_test(test_decode_any_field_order),
        cmocka_unit_test(test_roundtrip_check_helper),
    };
    return cmocka_run_group_tests_name("codec", tests, NULL, NULL);
}
