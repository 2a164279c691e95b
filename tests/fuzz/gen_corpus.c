/*  gen_corpus - writes the decoder's seed corpus (tests/fuzz/corpus/).

    "ok-*"  valid encodings made by tf_msg_encode: every message type, fully set and minimal,
            plus valid variations another peer may send (field order, unknown fields, ...).
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

static uint8_t s_blob[] = {0x00, 'b', 'i', 'n', 0x00, 0xff, 0xc1, 0xdd, 0xff, 0xff, 0xff, 0xff};
static uint8_t s_none[1];

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
     .state = "idle", .idle_ms = INT64_MIN},
};
static tf_msg_reject_row_t s_rejects[] = {
    {.peer = "00a1b2c3d4", .name = "echo.1", .rejected = 10056,
     .last_reason = "malformed message: work.attempt: expected unsigned integer, got string",
     .last_ms = 1795000000123ll},
    {.peer = "00ffeeddcc", .rejected = 3, .last_reason = "no service 'xyz'"},
};

static tf_msg_path_row_t s_paths[] = {
    {.path = "/home"}, {.path = "/srv/data with spaces/\xc3\xa9t\xc3\xa9"}, {.path = "/"},
};
static tf_msg_path_row_t s_patterns[] = {{.path = "home/alice/*.txt"}, {.path = "srv/**"}};
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
    {.path = "home/alice/old", .type = "symlink", .mtime = -86400, .mode = 0120777,
     .user = "root", .group = "root", .offset = UINT64_MAX, .link = "../bob/old",
     .mtime_nsec = 999999999},
    {.path = "home/alice/hard", .type = "hardlink", .size = UINT64_MAX, .mtime = INT64_MIN,
     .mode = 0100600, .uid = UINT64_MAX, .gid = 4294967294ull, .link = "home/alice/notes.txt"},
};
static tf_msg_archive_failure_t s_failures[] = {
    {.archive_id = "J1-g00003", .reason = "medium error at block 812"},
    {.archive_id = "J1-g00009"},
};
static tf_msg_job_row_t s_jobs[] = {
    {.job_id = "J20261121-105011-3fa2", .status = "running", .stage = "compress",
     .message = "3 of 9 archives written", .detail = "-", .pool = "weekly",
     .created_ms = 1795000000000ll, .updated_ms = 1795000001000ll, .files_total = 120000,
     .bytes_total = 5000000000ull, .files_done = 40000, .bytes_done = 1600000000ull,
     .groups_total = 9, .archives_written = 3, .warnings = 2, .scanned = true},
    {.job_id = "J20261120-000000-0001", .status = "failed", .stage = "tape",
     .detail = "drive lto1: MEDIUM ERROR", .created_ms = INT64_MIN, .updated_ms = -1,
     .files_total = UINT64_MAX},
};
static tf_msg_warning_row_t s_warnings[] = {
    {.path = "/home/alice/gone.txt", .reason = "skipped: vanished since the scan", .missing = true},
    {.path = "/home/alice/shrunk", .reason = "file shrank while archiving", .missing = false},
    {.path = "/x", .reason = "", .missing = true},
};
static tf_msg_segment_row_t s_segments[] = {
    {.volume = "TF0001L8", .tape_file = 1, .block = 2, .offset = 0, .length = 536870912},
    {.volume = "TF0002L8", .tape_file = UINT64_MAX, .block = UINT64_MAX, .offset = 536870912,
     .length = UINT64_MAX},
};
static tf_msg_archive_row_t s_archives[] = {
    {.archive_id = "J1-g00001", .job_id = "J1", .group_no = 1, .volume = "TF0001L8",
     .tape_file = 1, .block = 2, .blocks = 4098, .size = 1073741824,
     .checksum = "xxh128:00112233445566778899aabbccddeeff", .files = 5000, .written = true,
     .segments = s_segments, .segments_count = 2},
    {.archive_id = "J1-g00002", .tape_file = UINT64_MAX, .block = UINT64_MAX,
     .size = UINT64_MAX},
    {.archive_id = "J1-g00003", .job_id = "J1", .group_no = 3, .volume = "TF0002L8",
     .tape_file = 7, .block = 8, .blocks = 9, .size = 10, .checksum = "c", .files = 11,
     .lost = true, .lost_ms = 1795258211000},
};
static tf_msg_volume_row_t s_volumes[] = {
    {.label = "TF0001", .pool = "default", .state = "appendable", .media_type = "sim",
     .created_ms = 1795258211000, .expires_ms = 1797850211000, .bytes_used = 734003,
     .last_written_ms = 1795258360000, .write_errors = 0, .read_errors = 1, .tape_files = 2,
     .drive = "tape0", .updated_ms = 1795258360001},
    {.label = "TF0002"},
    {.label = "TF0003", .pool = "offsite", .state = "expired", .created_ms = INT64_MIN,
     .expires_ms = -1, .bytes_used = UINT64_MAX, .last_written_ms = INT64_MAX,
     .write_errors = UINT64_MAX, .tape_files = UINT64_MAX},
};

static void
s_full(tf_msg_type_t type, tf_msg_t *m)
{
    tf_bytes_t bytes = {s_blob, sizeof s_blob};
    memset(m, 0, sizeof *m);
    m->type = type;
    switch (type) {
    case TF_MSG_READY:
        m->ready = (tf_msg_ready_t){.service = "echo", .worker = "echo@host:1234", .host = "host",
                                    .pid = 4242};
        break;
    case TF_MSG_HEARTBEAT: m->heartbeat.ts = 1795000000123ull; break;
    case TF_MSG_DISCONNECT: m->disconnect.reason = "shutting down"; break;
    case TF_MSG_WORK:
        m->work = (tf_msg_work_t){.item_id = "item-42", .service = "compressor", .job_id = "job-7",
                                  .attempt = 3, .payload = bytes};
        break;
    case TF_MSG_PROGRESS:
        m->progress = (tf_msg_progress_t){.item_id = "item-42", .attempt = 2, .done = 512,
                                          .total = 1024, .message = "half way"};
        break;
    case TF_MSG_DONE:
        m->done = (tf_msg_done_t){.item_id = "item-42", .attempt = 4, .result = bytes};
        break;
    case TF_MSG_FAILED:
        m->failed = (tf_msg_failed_t){.item_id = "item-42", .attempt = 5, .reason = "MEDIUM ERROR",
                                      .retry = true};
        break;
    case TF_MSG_SUBMIT:
        m->submit = (tf_msg_submit_t){.rid = "r-1", .service = "scanner", .item_id = "key-9",
                                      .job_id = "job-8", .payload = bytes};
        break;
    case TF_MSG_SUBMIT_OK:
        m->submit_ok = (tf_msg_submit_ok_t){.rid = "r-1", .item_id = "key-9", .state = "queued",
                                            .existed = true};
        break;
    case TF_MSG_ITEM_GET: m->item_get = (tf_msg_item_get_t){.rid = "r-2", .item_id = "key-9"}; break;
    case TF_MSG_ITEM_INFO:
        m->item_info = (tf_msg_item_info_t){
            .rid = "r-2", .item_id = "key-9", .service = "scanner", .job_id = "job-8",
            .state = "done", .attempts = 2, .worker = "scanner@h:1", .reason = "ok",
            .result = bytes, .created_ms = -1000, .updated_ms = INT64_MAX};
        break;
    case TF_MSG_STATUS_GET: m->status_get.rid = "r-3"; break;
    case TF_MSG_STATUS:
        m->status = (tf_msg_status_t){.rid = "r-3", .pid = 77, .uptime_ms = 99999,
                                      .journal = "/var/lib/tapeflow/journal.db", .recovered = 5,
                                      .services = s_services, .services_count = 3,
                                      .workers = s_workers, .workers_count = 2,
                                      .rejects = s_rejects, .rejects_count = 2};
        break;
    case TF_MSG_ERROR:
        m->error = (tf_msg_error_t){.rid = "r-4", .code = TF_ERR_NOTFOUND, .message = "no such item"};
        break;
    case TF_MSG_EVENT:
        m->event = (tf_msg_event_t){.topic = "job.8.progress", .time_ms = 1795000000456ll,
                                    .source = "stager@host:10", .seq = 17, .level = "info",
                                    .message = "m", .job_id = "job-8", .item_id = "item-42",
                                    .done = 3, .total = 9, .job = &s_jobs[0], .job_count = 1};
        break;
    case TF_MSG_SCAN_JOB:
        m->scan_job = (tf_msg_scan_job_t){.job_id = "J20261121-105011-3fa2", .paths = s_paths,
                                          .paths_count = 3, .group_bytes = 1073741824,
                                          .one_fs = true, .compression = "zstd", .pool = "weekly"};
        break;
    case TF_MSG_FILE_GROUP:
        m->file_group = (tf_msg_file_group_t){
            .job_id = "J20261121-105011-3fa2", .archive_id = "J20261121-105011-3fa2-g00007",
            .group_no = 7, .compression = "gzip", .pool = "weekly", .entries = s_entries,
            .entries_count = 3};
        break;
    case TF_MSG_STAGE_OPEN:
        m->stage_open = (tf_msg_stage_open_t){.archive_id = "J1-g00007", .job_id = "J1",
                                              .group_no = 7, .compression = "zstd",
                                              .pool = "weekly", .expected_size = 67108864};
        break;
    case TF_MSG_STAGE_CREDIT:
        m->stage_credit = (tf_msg_stage_credit_t){.archive_id = "J1-g00007", .bytes = 8388608};
        break;
    case TF_MSG_STAGE_DATA:
        m->stage_data = (tf_msg_stage_data_t){.archive_id = "J1-g00007", .offset = 1048576,
                                              .data = bytes};
        break;
    case TF_MSG_STAGE_CLOSE:
        m->stage_close = (tf_msg_stage_close_t){
            .archive_id = "J1-g00007", .size = 5000000012ull,
            .checksum = "xxh128:0123456789abcdef0123456789abcdef", .files = 50000,
            .bytes = UINT64_MAX, .rows_parts = 1};
        break;
    case TF_MSG_STAGE_ROWS:
        m->stage_rows = (tf_msg_stage_rows_t){.archive_id = "J1-g00007", .part = 1, .files = s_files,
                                              .files_count = 3};
        break;
    case TF_MSG_STAGE_RESULT:
        m->stage_result = (tf_msg_stage_result_t){.archive_id = "J1-g00007", .ok = true,
                                                  .message = "ok"};
        break;
    case TF_MSG_FETCH:
        m->fetch = (tf_msg_fetch_t){.archive_id = "J1-g00007", .offset = 262144,
                                    .length = 4194304, .rows = true};
        break;
    case TF_MSG_FETCH_DATA:
        m->fetch_data = (tf_msg_fetch_data_t){.archive_id = "J1-g00007", .offset = 262144,
                                              .data = bytes, .eof = true,
                                              .error = "pread: Input/output error", .rows = true};
        break;
    case TF_MSG_ARCHIVE_READY:
        m->archive_ready = (tf_msg_archive_ready_t){
            .archive_id = "J1-g00007", .job_id = "J1", .group_no = 7, .pool = "weekly",
            .compression = "zstd", .size = 1073741825, .checksum = "xxh128:aa", .files = 3,
            .bytes = 2147483648ull, .stager = "tcp://stager.example:5557", .rows_size = 4242,
            .rows_checksum = "xxh128:0123456789abcdef0123456789abcdef"};
        break;
    case TF_MSG_ARCHIVE_RELEASE: m->archive_release.archive_id = "J1-g00007"; break;
    case TF_MSG_CAT_JOB:
        m->cat_job = (tf_msg_cat_job_t){
            .job_id = "J1", .op = "failed", .stage = "tape", .message = "tape failed",
            .detail = "drive lto1: MEDIUM ERROR", .paths = s_paths, .paths_count = 3,
            .pool = "weekly", .compression = "zstd", .files_total = 120000,
            .bytes_total = UINT64_MAX, .groups_total = 9, .warnings = 4,
            .time_ms = 1795000000000ll};
        break;
    case TF_MSG_CAT_FILES:
        m->cat_files = (tf_msg_cat_files_t){.job_id = "J1", .archive_id = "J1-g00007",
                                            .part = 2, .files = s_files, .files_count = 3,
                                            .warnings = s_warnings, .warnings_count = 3};
        break;
    case TF_MSG_CAT_WRITTEN:
        m->cat_written = (tf_msg_cat_written_t){
            .job_id = "J1", .archive_id = "J1-g00007", .group_no = 7, .volume = "TF0001L8",
            .drive = "lto1", .tape_file = 12, .block = 409600, .blocks = 4098,
            .size = 1073741825, .checksum = "xxh128:aa", .files = 3, .bytes = UINT64_MAX,
            .segments = s_segments, .segments_count = 2, .segment = 2};
        break;
    case TF_MSG_CAT_QUERY:
        m->cat_query = (tf_msg_cat_query_t){.query = "files", .job_id = "J1",
                                            .pattern = "home/*/[a-z]*.txt", .limit = 500};
        break;
    case TF_MSG_CAT_REPLY:
        m->cat_reply = (tf_msg_cat_reply_t){.jobs = s_jobs, .jobs_count = 2, .files = s_files,
                                            .files_count = 3, .archives = s_archives,
                                            .archives_count = 3, .truncated = true,
                                            .volumes = s_volumes, .volumes_count = 3,
                                            .missing = s_warnings, .missing_count = 3};
        break;
    case TF_MSG_TAPE_RESTORE:
        m->tape_restore = (tf_msg_tape_restore_t){
            .job_id = "J1", .dest = "/restore/here", .patterns = s_patterns,
            .patterns_count = 2, .archives = s_archives, .archives_count = 3,
            .overwrite = "older", .strip_components = 2, .flat = true};
        break;
    case TF_MSG_RESTORE_RESULT:
        m->restore_result = (tf_msg_restore_result_t){
            .files = 4999, .bytes = UINT64_MAX, .archives_read = 2, .blocks_read = 8196,
            .warnings = 1, .message = "1 file could not be restored: permission denied",
            .refused = 2, .kept = 3, .collisions = UINT64_MAX, .failures = s_failures,
            .failures_count = 2, .present = 5};
        break;
    case TF_MSG_CAT_VOLUME:
        m->cat_volume = (tf_msg_cat_volume_t){
            .label = "TF0001", .pool = "default", .state = "full", .media_type = "density 0x5a",
            .created_ms = 1795258211000, .expires_ms = 1797850211000, .bytes_used = UINT64_MAX,
            .last_written_ms = -1, .write_errors = 3, .read_errors = 4, .tape_files = 17,
            .drive = "tape0", .time_ms = INT64_MIN};
        break;
    case TF_MSG_JOB_OP:
        m->job_op = (tf_msg_job_op_t){
            .rid = "r7", .job_id = "J1", .op = "cancel",
            .message = "cancelled by alice@host at 2026-12-02 04:30:00 UTC: wrong paths",
            .spare = "catalog,stager"};
        break;
    case TF_MSG_JOB_OP_OK:
        m->job_op_ok = (tf_msg_job_op_ok_t){
            .rid = "r7", .job_id = "J1", .op = "cancel", .cancelled = 12, .abandoned = 2,
            .requeued = UINT64_MAX, .catalog_item = "J1-cancelled-1795258211000", .finishing = 1,
            .unrecorded = 1, .note = "1 item still finishing; retry again shortly"};
        break;
    case TF_MSG_STAGE_PURGE:
        m->stage_purge = (tf_msg_stage_purge_t){.job_id = "J1", .dry_run = true};
        break;
    case TF_MSG_STAGE_PURGE_RESULT:
        m->stage_purge_result = (tf_msg_stage_purge_result_t){
            .job_id = "J1", .files = s_patterns, .files_count = 2, .archives = 1,
            .bytes = UINT64_MAX, .in_use = s_patterns, .in_use_count = 1};
        break;
    case TF_MSG_NONE:
    case TF_MSG_TYPE_COUNT:
        fprintf(stderr, "gen_corpus: no sample for type %d\n", (int) type);
        s_failed = 1;
        break;
    }
}

/* Keeps only what is required: strings and bytes the type requires, and every number. */
static void
s_minimal(tf_msg_type_t type, tf_msg_t *m)
{
    s_full(type, m);
    switch (type) {
    case TF_MSG_READY: m->ready.worker = m->ready.host = NULL; break;
    case TF_MSG_DISCONNECT: m->disconnect.reason = NULL; break;
    case TF_MSG_WORK: m->work.job_id = NULL; m->work.payload = (tf_bytes_t){NULL, 0}; break;
    case TF_MSG_PROGRESS: m->progress.message = NULL; break;
    case TF_MSG_DONE: m->done.result = (tf_bytes_t){NULL, 0}; break;
    case TF_MSG_SUBMIT:
        m->submit.rid = m->submit.item_id = m->submit.job_id = NULL;
        m->submit.payload = (tf_bytes_t){NULL, 0};
        break;
    case TF_MSG_SUBMIT_OK: m->submit_ok.rid = NULL; break;
    case TF_MSG_ITEM_GET: m->item_get.rid = NULL; break;
    case TF_MSG_ITEM_INFO:
        m->item_info.rid = m->item_info.job_id = m->item_info.worker = m->item_info.reason = NULL;
        m->item_info.result = (tf_bytes_t){NULL, 0};
        break;
    case TF_MSG_STATUS_GET: m->status_get.rid = NULL; break;
    case TF_MSG_STATUS:
        m->status.rid = m->status.journal = NULL;
        m->status.services_count = m->status.workers_count = m->status.rejects_count = 0;
        break;
    case TF_MSG_ERROR: m->error.rid = NULL; break;
    case TF_MSG_EVENT:
        m->event.level = m->event.message = m->event.job_id = m->event.item_id = NULL;
        m->event.job_count = 0;
        break;
    case TF_MSG_SCAN_JOB:
        m->scan_job.paths_count = 0;
        m->scan_job.compression = m->scan_job.pool = NULL;
        break;
    case TF_MSG_FILE_GROUP:
        m->file_group.entries_count = 0;
        m->file_group.compression = m->file_group.pool = NULL;
        break;
    case TF_MSG_STAGE_OPEN: m->stage_open.compression = m->stage_open.pool = NULL; break;
    case TF_MSG_STAGE_DATA: m->stage_data.data = (tf_bytes_t){s_none, 0}; break;  /* required */
    case TF_MSG_STAGE_RESULT: m->stage_result.message = NULL; break;
    case TF_MSG_FETCH_DATA:
        m->fetch_data.data = (tf_bytes_t){NULL, 0};
        m->fetch_data.error = NULL;
        break;
    case TF_MSG_ARCHIVE_READY:
        m->archive_ready.pool = m->archive_ready.compression = m->archive_ready.rows_checksum = NULL;
        break;
    case TF_MSG_STAGE_ROWS: m->stage_rows.files_count = 0; break;
    case TF_MSG_CAT_JOB:
        m->cat_job.stage = m->cat_job.message = m->cat_job.detail = NULL;
        m->cat_job.pool = m->cat_job.compression = NULL;
        m->cat_job.paths_count = 0;
        break;
    case TF_MSG_CAT_FILES: m->cat_files.files_count = m->cat_files.warnings_count = 0; break;
    case TF_MSG_CAT_WRITTEN: m->cat_written.drive = NULL; break;
    case TF_MSG_CAT_QUERY: m->cat_query.job_id = m->cat_query.pattern = NULL; break;
    case TF_MSG_CAT_REPLY:
        m->cat_reply.jobs_count = m->cat_reply.files_count = m->cat_reply.archives_count = 0;
        m->cat_reply.volumes_count = m->cat_reply.missing_count = 0;
        break;
    case TF_MSG_TAPE_RESTORE:
        m->tape_restore.patterns_count = m->tape_restore.archives_count = 0;
        m->tape_restore.overwrite = NULL;
        break;
    case TF_MSG_RESTORE_RESULT:
        m->restore_result.message = NULL;
        m->restore_result.failures_count = 0;
        break;
    case TF_MSG_CAT_VOLUME: m->cat_volume.media_type = m->cat_volume.drive = NULL; break;
    case TF_MSG_JOB_OP: m->job_op.rid = m->job_op.message = m->job_op.spare = NULL; break;
    case TF_MSG_JOB_OP_OK: m->job_op_ok.rid = m->job_op_ok.catalog_item = m->job_op_ok.note = NULL; break;
    case TF_MSG_STAGE_PURGE_RESULT:
        m->stage_purge_result.files_count = 0;
        m->stage_purge_result.in_use_count = 0;
        break;
    default: break;
    }
}

static void
s_valid(void)
{
    char name[64];
    for (int t = TF_MSG_NONE + 1; t < TF_MSG_TYPE_COUNT; t++) {
        tf_msg_t m;
        s_full((tf_msg_type_t) t, &m);
        snprintf(name, sizeof name, "ok-%s-full", tf_msg_type_name((tf_msg_type_t) t));
        s_write_msg(name, &m);
        s_minimal((tf_msg_type_t) t, &m);
        snprintf(name, sizeof name, "ok-%s-min", tf_msg_type_name((tf_msg_type_t) t));
        s_write_msg(name, &m);
    }
    tf_msg_t m;
    s_full(TF_MSG_STATUS, &m);
    m.status.services_count = 1;
    m.status.workers_count = 1;
    s_write_msg("ok-status-rows-1", &m);
    m.status.services_count = 0;
    m.status.workers_count = 2;
    s_write_msg("ok-status-rows-0-2", &m);
    s_full(TF_MSG_WORK, &m);
    m.work.payload = (tf_bytes_t){s_none, 0};
    s_write_msg("ok-work-empty-payload", &m);
    s_full(TF_MSG_ERROR, &m);
    m.error.code = INT64_MIN;
    m.error.message = "";
    s_write_msg("ok-error-extremes", &m);

    /* pipeline rows: one row each, and one message with an empty and a full rows field */
    s_full(TF_MSG_SCAN_JOB, &m);
    m.scan_job.paths_count = 1;
    s_write_msg("ok-scan_job-rows-1", &m);
    s_full(TF_MSG_FILE_GROUP, &m);
    m.file_group.entries = &s_entries[1];
    m.file_group.entries_count = 1;
    s_write_msg("ok-file_group-rows-1", &m);
    s_full(TF_MSG_CAT_FILES, &m);
    m.cat_files.files = &s_files[1];
    m.cat_files.files_count = 1;
    s_write_msg("ok-cat_files-rows-1", &m);
    s_full(TF_MSG_CAT_REPLY, &m);
    m.cat_reply.jobs_count = 1;
    m.cat_reply.files_count = 0;
    m.cat_reply.archives_count = 1;
    s_write_msg("ok-cat_reply-rows-1-0-1", &m);
    s_full(TF_MSG_CAT_REPLY, &m);
    m.cat_reply.jobs_count = 0;
    m.cat_reply.archives_count = 0;
    m.cat_reply.volumes_count = 0;
    s_write_msg("ok-cat_reply-files-only", &m);
    s_full(TF_MSG_CAT_REPLY, &m);
    m.cat_reply.jobs_count = m.cat_reply.files_count = m.cat_reply.archives_count = 0;
    m.cat_reply.volumes = &s_volumes[1];
    m.cat_reply.volumes_count = 1;
    s_write_msg("ok-cat_reply-volumes-1-min", &m);
    s_full(TF_MSG_TAPE_RESTORE, &m);
    m.tape_restore.patterns_count = 0;
    m.tape_restore.archives_count = 1;
    s_write_msg("ok-tape_restore-rows-0-1", &m);
    s_full(TF_MSG_FETCH_DATA, &m);
    m.fetch_data.data = (tf_bytes_t){s_none, 0};
    m.fetch_data.error = NULL;
    s_write_msg("ok-fetch_data-eof-empty", &m);
    s_full(TF_MSG_STAGE_RESULT, &m);
    m.stage_result.ok = false;
    m.stage_result.message = "size 10 != 12";
    s_write_msg("ok-stage_result-refused", &m);
    s_full(TF_MSG_STAGE_RESULT, &m);
    m.stage_result.ok = false;
    m.stage_result.permanent = true;
    m.stage_result.message = "archive J1-g00007 of 1.2 GiB cannot fit the holding disk /x of 64 MiB";
    s_write_msg("ok-stage_result-cannot-fit", &m);

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
s_malformed(void)
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
    s_full(TF_MSG_STATUS, &m);
    if (tf_msg_encode(&m, &data, &size, &err) == TF_OK) {
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
    s_valid();
    s_malformed();
    printf("gen_corpus: wrote %d files to %s\n", s_written, s_dir);
    return s_failed;
}
