/*  tf_msg - table-driven msgpack codec for the tapeflow message catalogue.

    Encoding uses msgpack-c's packer. Decoding reads the bytes directly: msgpack-c's unpacker
    allocates count x sizeof(msgpack_object) for a container before it has seen the elements,
    so an attacker's "array of 4 billion" costs memory before anything can be checked. Here a
    first pass walks the whole buffer checking every count against the bytes left, every
    length, the nesting depth and trailing bytes; only then does a second pass copy out the
    fields the tables name, each with its own size limit. Memory used is bounded by the input
    size and the table limits.
*/
#include "tf_msg.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- field tables ------- */

/* The tables' types are the read-only view tf_msg.h exports (tf_msg_desc). */
typedef tf_msg_field_t tf_field_t;
typedef tf_msg_desc_t tf_record_t;

/* A field's kind must match its member's C type: a mismatch is a compile error (GCC, Clang),
   so the generic tests that walk these tables cannot inherit a wrong row. */
#define S_IS_(T, f, ctype) __builtin_types_compatible_p(__typeof__(((T *) 0)->f), ctype)
#define S_AT_(T, f, ctype)                                                                   \
    (offsetof(T, f) + 0 * sizeof(struct {                                                    \
         _Static_assert(S_IS_(T, f, ctype), #T "." #f ": the table row's kind is not its C type"); \
         int ok_;                                                                             \
     }))

#define REQ true
#define OPT false
#define F_BOOL(T, f, r) {#f, TF_MSG_FIELD_BOOL, S_AT_(T, f, bool), 0, r, 0, NULL, 0}
#define F_UINT(T, f, r) {#f, TF_MSG_FIELD_UINT, S_AT_(T, f, uint64_t), 0, r, 0, NULL, 0}
#define F_INT(T, f, r) {#f, TF_MSG_FIELD_INT, S_AT_(T, f, int64_t), 0, r, 0, NULL, 0}
#define F_STR(T, f, r, max) {#f, TF_MSG_FIELD_STR, S_AT_(T, f, char *), 0, r, max, NULL, 0}
#define F_BIN(T, f, r, max) {#f, TF_MSG_FIELD_BIN, S_AT_(T, f, tf_bytes_t), 0, r, max, NULL, 0}
#define F_ROWS(T, f, r, max, elem) \
    {#f, TF_MSG_FIELD_ROWS, offsetof(T, f), S_AT_(T, f##_count, size_t), r, max, &elem, \
     sizeof *((T *) 0)->f}
#define RECORD(name, T, fields) {name, sizeof(T), fields, sizeof fields / sizeof fields[0]}

static const tf_field_t s_ready_fields[] = {
    F_STR(tf_msg_ready_t, service, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_ready_t, worker, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_ready_t, host, OPT, TF_MSG_MAX_ID),
    F_UINT(tf_msg_ready_t, pid, OPT),
};
static const tf_field_t s_heartbeat_fields[] = {
    F_UINT(tf_msg_heartbeat_t, ts, OPT),
};
static const tf_field_t s_disconnect_fields[] = {
    F_STR(tf_msg_disconnect_t, reason, OPT, TF_MSG_MAX_TEXT),
};
static const tf_field_t s_work_fields[] = {
    F_STR(tf_msg_work_t, item_id, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_work_t, service, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_work_t, job_id, OPT, TF_MSG_MAX_ID),
    F_UINT(tf_msg_work_t, attempt, REQ),
    F_BIN(tf_msg_work_t, payload, OPT, TF_MSG_MAX_BLOB),
};
static const tf_field_t s_progress_fields[] = {
    F_STR(tf_msg_progress_t, item_id, REQ, TF_MSG_MAX_ID),
    F_UINT(tf_msg_progress_t, attempt, REQ),
    F_UINT(tf_msg_progress_t, done, OPT),
    F_UINT(tf_msg_progress_t, total, OPT),
    F_STR(tf_msg_progress_t, message, OPT, TF_MSG_MAX_TEXT),
};
static const tf_field_t s_done_fields[] = {
    F_STR(tf_msg_done_t, item_id, REQ, TF_MSG_MAX_ID),
    F_UINT(tf_msg_done_t, attempt, REQ),
    F_BIN(tf_msg_done_t, result, OPT, TF_MSG_MAX_BLOB),
};
static const tf_field_t s_failed_fields[] = {
    F_STR(tf_msg_failed_t, item_id, REQ, TF_MSG_MAX_ID),
    F_UINT(tf_msg_failed_t, attempt, REQ),
    F_STR(tf_msg_failed_t, reason, REQ, TF_MSG_MAX_TEXT),
    F_BOOL(tf_msg_failed_t, retry, OPT),
};
static const tf_field_t s_submit_fields[] = {
    F_STR(tf_msg_submit_t, rid, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_submit_t, service, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_submit_t, item_id, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_submit_t, job_id, OPT, TF_MSG_MAX_ID),
    F_BIN(tf_msg_submit_t, payload, OPT, TF_MSG_MAX_BLOB),
    F_STR(tf_msg_submit_t, host, OPT, TF_MSG_MAX_ID),
};
static const tf_field_t s_submit_ok_fields[] = {
    F_STR(tf_msg_submit_ok_t, rid, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_submit_ok_t, item_id, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_submit_ok_t, state, REQ, TF_MSG_MAX_ID),
    F_BOOL(tf_msg_submit_ok_t, existed, OPT),
};
static const tf_field_t s_item_get_fields[] = {
    F_STR(tf_msg_item_get_t, rid, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_item_get_t, item_id, REQ, TF_MSG_MAX_ID),
};
static const tf_field_t s_item_info_fields[] = {
    F_STR(tf_msg_item_info_t, rid, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_item_info_t, item_id, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_item_info_t, service, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_item_info_t, job_id, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_item_info_t, state, REQ, TF_MSG_MAX_ID),
    F_UINT(tf_msg_item_info_t, attempts, OPT),
    F_STR(tf_msg_item_info_t, worker, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_item_info_t, reason, OPT, TF_MSG_MAX_TEXT),
    F_BIN(tf_msg_item_info_t, result, OPT, TF_MSG_MAX_BLOB),
    F_INT(tf_msg_item_info_t, created_ms, OPT),
    F_INT(tf_msg_item_info_t, updated_ms, OPT),
};
static const tf_field_t s_status_get_fields[] = {
    F_STR(tf_msg_status_get_t, rid, OPT, TF_MSG_MAX_ID),
};
static const tf_field_t s_service_row_fields[] = {
    F_STR(tf_msg_service_row_t, name, REQ, TF_MSG_MAX_ID),
    F_UINT(tf_msg_service_row_t, workers, OPT),
    F_UINT(tf_msg_service_row_t, idle, OPT),
    F_UINT(tf_msg_service_row_t, queued, OPT),
    F_UINT(tf_msg_service_row_t, inflight, OPT),
    F_UINT(tf_msg_service_row_t, done, OPT),
    F_UINT(tf_msg_service_row_t, failed, OPT),
    F_UINT(tf_msg_service_row_t, redelivered, OPT),
    F_INT(tf_msg_service_row_t, oldest_age_ms, OPT),
};
static const tf_record_t s_service_row = RECORD("service", tf_msg_service_row_t, s_service_row_fields);
static const tf_field_t s_worker_row_fields[] = {
    F_STR(tf_msg_worker_row_t, id, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_worker_row_t, service, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_worker_row_t, name, OPT, TF_MSG_MAX_ID),
    F_UINT(tf_msg_worker_row_t, pid, OPT),
    F_STR(tf_msg_worker_row_t, state, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_worker_row_t, item_id, OPT, TF_MSG_MAX_ID),
    F_INT(tf_msg_worker_row_t, idle_ms, OPT),
    F_STR(tf_msg_worker_row_t, host, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_worker_row_t, key, OPT, TF_MSG_MAX_ID),
};
static const tf_record_t s_worker_row = RECORD("worker", tf_msg_worker_row_t, s_worker_row_fields);
static const tf_field_t s_reject_row_fields[] = {
    F_STR(tf_msg_reject_row_t, peer, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_reject_row_t, name, OPT, TF_MSG_MAX_ID),
    F_UINT(tf_msg_reject_row_t, rejected, OPT),
    F_STR(tf_msg_reject_row_t, last_reason, OPT, TF_MSG_MAX_TEXT),
    F_INT(tf_msg_reject_row_t, last_ms, OPT),
};
static const tf_record_t s_reject_row = RECORD("reject", tf_msg_reject_row_t, s_reject_row_fields);
static const tf_field_t s_status_fields[] = {
    F_STR(tf_msg_status_t, rid, OPT, TF_MSG_MAX_ID),
    F_UINT(tf_msg_status_t, pid, OPT),
    F_INT(tf_msg_status_t, uptime_ms, OPT),
    F_STR(tf_msg_status_t, journal, OPT, TF_MSG_MAX_PATH),
    F_UINT(tf_msg_status_t, recovered, OPT),
    F_ROWS(tf_msg_status_t, services, REQ, TF_MSG_MAX_ROWS, s_service_row),
    F_ROWS(tf_msg_status_t, workers, REQ, TF_MSG_MAX_ROWS, s_worker_row),
    F_ROWS(tf_msg_status_t, rejects, OPT, TF_MSG_MAX_ROWS, s_reject_row),
    F_UINT(tf_msg_status_t, security_refused, OPT),
};
static const tf_field_t s_error_fields[] = {
    F_STR(tf_msg_error_t, rid, OPT, TF_MSG_MAX_ID),
    F_INT(tf_msg_error_t, code, REQ),
    F_STR(tf_msg_error_t, message, REQ, TF_MSG_MAX_TEXT),
};
static const tf_record_t s_job_row;  /* defined with the catalog's records below */
static const tf_field_t s_event_fields[] = {
    F_STR(tf_msg_event_t, topic, REQ, TF_MSG_MAX_ID * 2),
    F_INT(tf_msg_event_t, time_ms, REQ),
    F_STR(tf_msg_event_t, source, REQ, TF_MSG_MAX_ID),
    F_UINT(tf_msg_event_t, seq, REQ),
    F_STR(tf_msg_event_t, level, OPT, 16),
    F_STR(tf_msg_event_t, message, OPT, TF_MSG_MAX_TEXT),
    F_STR(tf_msg_event_t, job_id, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_event_t, item_id, OPT, TF_MSG_MAX_ID),
    F_UINT(tf_msg_event_t, done, OPT),
    F_UINT(tf_msg_event_t, total, OPT),
    F_ROWS(tf_msg_event_t, job, OPT, 1, s_job_row),
};

/* --- backup pipeline ---------------------------------------------------------------- */

static const tf_field_t s_path_row_fields[] = {
    F_STR(tf_msg_path_row_t, path, REQ, TF_MSG_MAX_PATH),
};
static const tf_record_t s_path_row = RECORD("path", tf_msg_path_row_t, s_path_row_fields);

static const tf_field_t s_scan_job_fields[] = {
    F_STR(tf_msg_scan_job_t, job_id, REQ, TF_MSG_MAX_ID),
    F_ROWS(tf_msg_scan_job_t, paths, REQ, TF_MSG_MAX_ROWS, s_path_row),
    F_UINT(tf_msg_scan_job_t, group_bytes, OPT),
    F_BOOL(tf_msg_scan_job_t, one_fs, OPT),
    F_STR(tf_msg_scan_job_t, compression, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_scan_job_t, pool, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_scan_job_t, host, OPT, TF_MSG_MAX_ID),
    F_UINT(tf_msg_scan_job_t, group_base, OPT),
    F_STR(tf_msg_scan_job_t, replicas, OPT, TF_MSG_MAX_TEXT),
    F_STR(tf_msg_scan_job_t, replication, OPT, TF_MSG_MAX_ID),
};
static const tf_field_t s_group_entry_fields[] = {
    F_STR(tf_msg_group_entry_t, path, REQ, TF_MSG_MAX_PATH),
    F_UINT(tf_msg_group_entry_t, size, OPT),
};
static const tf_record_t s_group_entry = RECORD("entry", tf_msg_group_entry_t, s_group_entry_fields);
static const tf_field_t s_file_group_fields[] = {
    F_STR(tf_msg_file_group_t, job_id, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_file_group_t, archive_id, REQ, TF_MSG_MAX_ID),
    F_UINT(tf_msg_file_group_t, group_no, REQ),
    F_STR(tf_msg_file_group_t, compression, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_file_group_t, pool, OPT, TF_MSG_MAX_ID),
    F_ROWS(tf_msg_file_group_t, entries, REQ, TF_MSG_MAX_ROWS, s_group_entry),
    F_STR(tf_msg_file_group_t, host, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_file_group_t, replicas, OPT, TF_MSG_MAX_TEXT),
    F_STR(tf_msg_file_group_t, replication, OPT, TF_MSG_MAX_ID),
};
static const tf_field_t s_stage_open_fields[] = {
    F_STR(tf_msg_stage_open_t, archive_id, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_stage_open_t, job_id, REQ, TF_MSG_MAX_ID),
    F_UINT(tf_msg_stage_open_t, group_no, OPT),
    F_STR(tf_msg_stage_open_t, compression, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_stage_open_t, pool, OPT, TF_MSG_MAX_ID),
    F_UINT(tf_msg_stage_open_t, expected_size, OPT),
    F_STR(tf_msg_stage_open_t, purpose, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_stage_open_t, host, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_stage_open_t, replicas, OPT, TF_MSG_MAX_TEXT),
    F_STR(tf_msg_stage_open_t, replication, OPT, TF_MSG_MAX_ID),
};
static const tf_field_t s_stage_credit_fields[] = {
    F_STR(tf_msg_stage_credit_t, archive_id, REQ, TF_MSG_MAX_ID),
    F_UINT(tf_msg_stage_credit_t, bytes, REQ),
};
static const tf_field_t s_stage_data_fields[] = {
    F_STR(tf_msg_stage_data_t, archive_id, REQ, TF_MSG_MAX_ID),
    F_UINT(tf_msg_stage_data_t, offset, REQ),
    F_BIN(tf_msg_stage_data_t, data, REQ, TF_MSG_MAX_BLOB),
};
static const tf_field_t s_stage_close_fields[] = {
    F_STR(tf_msg_stage_close_t, archive_id, REQ, TF_MSG_MAX_ID),
    F_UINT(tf_msg_stage_close_t, size, REQ),
    F_STR(tf_msg_stage_close_t, checksum, REQ, TF_MSG_MAX_ID),
    F_UINT(tf_msg_stage_close_t, files, OPT),
    F_UINT(tf_msg_stage_close_t, bytes, OPT),
    F_UINT(tf_msg_stage_close_t, rows_parts, OPT),
};
static const tf_field_t s_stage_result_fields[] = {
    F_STR(tf_msg_stage_result_t, archive_id, REQ, TF_MSG_MAX_ID),
    F_BOOL(tf_msg_stage_result_t, ok, REQ),
    F_STR(tf_msg_stage_result_t, message, OPT, TF_MSG_MAX_TEXT),
    F_BOOL(tf_msg_stage_result_t, permanent, OPT),
};
static const tf_field_t s_fetch_fields[] = {
    F_STR(tf_msg_fetch_t, archive_id, REQ, TF_MSG_MAX_ID),
    F_UINT(tf_msg_fetch_t, offset, REQ),
    F_UINT(tf_msg_fetch_t, length, REQ),
    F_BOOL(tf_msg_fetch_t, rows, OPT),
};
static const tf_field_t s_fetch_data_fields[] = {
    F_STR(tf_msg_fetch_data_t, archive_id, REQ, TF_MSG_MAX_ID),
    F_UINT(tf_msg_fetch_data_t, offset, REQ),
    F_BIN(tf_msg_fetch_data_t, data, OPT, TF_MSG_MAX_BLOB),
    F_BOOL(tf_msg_fetch_data_t, eof, OPT),
    F_STR(tf_msg_fetch_data_t, error, OPT, TF_MSG_MAX_TEXT),
    F_BOOL(tf_msg_fetch_data_t, rows, OPT),
};
static const tf_field_t s_archive_ready_fields[] = {
    F_STR(tf_msg_archive_ready_t, archive_id, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_archive_ready_t, job_id, REQ, TF_MSG_MAX_ID),
    F_UINT(tf_msg_archive_ready_t, group_no, OPT),
    F_STR(tf_msg_archive_ready_t, pool, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_archive_ready_t, compression, OPT, TF_MSG_MAX_ID),
    F_UINT(tf_msg_archive_ready_t, size, REQ),
    F_STR(tf_msg_archive_ready_t, checksum, REQ, TF_MSG_MAX_ID),
    F_UINT(tf_msg_archive_ready_t, files, OPT),
    F_UINT(tf_msg_archive_ready_t, bytes, OPT),
    F_STR(tf_msg_archive_ready_t, stager, REQ, TF_MSG_MAX_PATH),
    F_UINT(tf_msg_archive_ready_t, rows_size, OPT),
    F_STR(tf_msg_archive_ready_t, rows_checksum, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_archive_ready_t, stager_key, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_archive_ready_t, host, OPT, TF_MSG_MAX_ID),
};
static const tf_field_t s_archive_release_fields[] = {
    F_STR(tf_msg_archive_release_t, archive_id, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_archive_release_t, replica, OPT, TF_MSG_MAX_ID),
    F_BOOL(tf_msg_archive_release_t, gave_up, OPT),
};
static const tf_field_t s_cat_job_fields[] = {
    F_STR(tf_msg_cat_job_t, job_id, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_cat_job_t, op, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_cat_job_t, stage, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_cat_job_t, message, OPT, TF_MSG_MAX_TEXT),
    F_STR(tf_msg_cat_job_t, detail, OPT, TF_MSG_MAX_TEXT),
    F_ROWS(tf_msg_cat_job_t, paths, OPT, TF_MSG_MAX_ROWS, s_path_row),
    F_STR(tf_msg_cat_job_t, pool, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_cat_job_t, compression, OPT, TF_MSG_MAX_ID),
    F_UINT(tf_msg_cat_job_t, files_total, OPT),
    F_UINT(tf_msg_cat_job_t, bytes_total, OPT),
    F_UINT(tf_msg_cat_job_t, groups_total, OPT),
    F_UINT(tf_msg_cat_job_t, warnings, OPT),
    F_INT(tf_msg_cat_job_t, time_ms, OPT),
    F_STR(tf_msg_cat_job_t, host, OPT, TF_MSG_MAX_ID),
    F_UINT(tf_msg_cat_job_t, group_base, OPT),
    F_STR(tf_msg_cat_job_t, level, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_cat_job_t, schedule, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_cat_job_t, trigger, OPT, TF_MSG_MAX_TEXT),
    F_INT(tf_msg_cat_job_t, trigger_ms, OPT),
    F_STR(tf_msg_cat_job_t, replicas, OPT, TF_MSG_MAX_TEXT),
    F_STR(tf_msg_cat_job_t, replication, OPT, TF_MSG_MAX_ID),
};
static const tf_field_t s_file_row_fields[] = {
    F_STR(tf_msg_file_row_t, path, REQ, TF_MSG_MAX_PATH),
    F_STR(tf_msg_file_row_t, type, REQ, TF_MSG_MAX_ID),
    F_UINT(tf_msg_file_row_t, size, OPT),
    F_INT(tf_msg_file_row_t, mtime, OPT),
    F_UINT(tf_msg_file_row_t, mode, OPT),
    F_UINT(tf_msg_file_row_t, uid, OPT),
    F_UINT(tf_msg_file_row_t, gid, OPT),
    F_STR(tf_msg_file_row_t, user, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_file_row_t, group, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_file_row_t, checksum, OPT, TF_MSG_MAX_ID),
    F_UINT(tf_msg_file_row_t, offset, OPT),
    F_STR(tf_msg_file_row_t, link, OPT, TF_MSG_MAX_PATH),
    F_UINT(tf_msg_file_row_t, mtime_nsec, OPT),
};
static const tf_record_t s_file_row = RECORD("file", tf_msg_file_row_t, s_file_row_fields);
static const tf_field_t s_warning_row_fields[] = {
    F_STR(tf_msg_warning_row_t, path, REQ, TF_MSG_MAX_PATH),
    F_STR(tf_msg_warning_row_t, reason, OPT, TF_MSG_MAX_TEXT),
    F_BOOL(tf_msg_warning_row_t, missing, OPT),
};
static const tf_record_t s_warning_row = RECORD("warning", tf_msg_warning_row_t, s_warning_row_fields);
static const tf_field_t s_cat_files_fields[] = {
    F_STR(tf_msg_cat_files_t, job_id, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_cat_files_t, archive_id, REQ, TF_MSG_MAX_ID),
    F_UINT(tf_msg_cat_files_t, part, OPT),
    F_ROWS(tf_msg_cat_files_t, files, REQ, TF_MSG_MAX_ROWS, s_file_row),
    F_ROWS(tf_msg_cat_files_t, warnings, OPT, TF_MSG_MAX_ROWS, s_warning_row),
};
static const tf_field_t s_stage_rows_fields[] = {
    F_STR(tf_msg_stage_rows_t, archive_id, REQ, TF_MSG_MAX_ID),
    F_UINT(tf_msg_stage_rows_t, part, REQ),
    F_ROWS(tf_msg_stage_rows_t, files, REQ, TF_MSG_MAX_ROWS, s_file_row),
};
static const tf_field_t s_segment_row_fields[] = {
    F_STR(tf_msg_segment_row_t, volume, REQ, TF_MSG_MAX_ID),
    F_UINT(tf_msg_segment_row_t, tape_file, REQ),
    F_UINT(tf_msg_segment_row_t, block, OPT),
    F_UINT(tf_msg_segment_row_t, offset, REQ),
    F_UINT(tf_msg_segment_row_t, length, REQ),
};
static const tf_record_t s_segment_row = RECORD("segment", tf_msg_segment_row_t, s_segment_row_fields);
static const tf_field_t s_cat_written_fields[] = {
    F_STR(tf_msg_cat_written_t, job_id, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_cat_written_t, archive_id, REQ, TF_MSG_MAX_ID),
    F_UINT(tf_msg_cat_written_t, group_no, OPT),
    F_STR(tf_msg_cat_written_t, volume, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_cat_written_t, drive, OPT, TF_MSG_MAX_ID),
    F_UINT(tf_msg_cat_written_t, tape_file, REQ),
    F_UINT(tf_msg_cat_written_t, block, REQ),
    F_UINT(tf_msg_cat_written_t, blocks, OPT),
    F_UINT(tf_msg_cat_written_t, size, REQ),
    F_STR(tf_msg_cat_written_t, checksum, REQ, TF_MSG_MAX_ID),
    F_UINT(tf_msg_cat_written_t, files, OPT),
    F_UINT(tf_msg_cat_written_t, bytes, OPT),
    F_ROWS(tf_msg_cat_written_t, segments, OPT, TF_MSG_MAX_ROWS, s_segment_row),
    F_UINT(tf_msg_cat_written_t, segment, OPT),
};
static const tf_field_t s_cat_query_fields[] = {
    F_STR(tf_msg_cat_query_t, query, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_cat_query_t, job_id, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_cat_query_t, pattern, OPT, TF_MSG_MAX_PATH),
    F_UINT(tf_msg_cat_query_t, limit, OPT),
    F_INT(tf_msg_cat_query_t, at_ms, OPT),
    F_STR(tf_msg_cat_query_t, replica, OPT, TF_MSG_MAX_ID),
};
static const tf_field_t s_replica_archive_fields[] = {
    F_STR(tf_msg_replica_archive_t, archive_id, REQ, TF_MSG_MAX_ID),
    F_UINT(tf_msg_replica_archive_t, group_no, OPT),
    F_UINT(tf_msg_replica_archive_t, size, OPT),
    F_STR(tf_msg_replica_archive_t, checksum, OPT, TF_MSG_MAX_ID),
    F_UINT(tf_msg_replica_archive_t, rows_size, OPT),
    F_STR(tf_msg_replica_archive_t, rows_checksum, OPT, TF_MSG_MAX_ID),
    F_UINT(tf_msg_replica_archive_t, files, OPT),
    F_UINT(tf_msg_replica_archive_t, bytes, OPT),
    F_STR(tf_msg_replica_archive_t, compression, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_replica_archive_t, host, OPT, TF_MSG_MAX_ID),
};
static const tf_record_t s_replica_archive = RECORD("replica_archive", tf_msg_replica_archive_t, s_replica_archive_fields);
static const tf_field_t s_replica_row_fields[] = {
    F_STR(tf_msg_replica_row_t, job_id, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_replica_row_t, target, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_replica_row_t, url, OPT, TF_MSG_MAX_PATH),
    F_STR(tf_msg_replica_row_t, state, OPT, TF_MSG_MAX_ID),
    F_BOOL(tf_msg_replica_row_t, required, OPT),
    F_UINT(tf_msg_replica_row_t, archives, OPT),
    F_UINT(tf_msg_replica_row_t, archives_total, OPT),
    F_UINT(tf_msg_replica_row_t, bytes, OPT),
    F_BOOL(tf_msg_replica_row_t, ready, OPT),
    F_STR(tf_msg_replica_row_t, message, OPT, TF_MSG_MAX_TEXT),
    F_INT(tf_msg_replica_row_t, updated_ms, OPT),
    F_INT(tf_msg_replica_row_t, verified_ms, OPT),
    F_BOOL(tf_msg_replica_row_t, final, OPT),
    F_STR(tf_msg_replica_row_t, job_status, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_replica_row_t, pool, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_replica_row_t, level, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_replica_row_t, base_job, OPT, TF_MSG_MAX_ID),
    F_INT(tf_msg_replica_row_t, created_ms, OPT),
    F_ROWS(tf_msg_replica_row_t, copies, OPT, TF_MSG_MAX_ROWS, s_replica_archive),
};
static const tf_record_t s_replica_row = RECORD("replica", tf_msg_replica_row_t, s_replica_row_fields);
static const tf_field_t s_job_row_fields[] = {
    F_STR(tf_msg_job_row_t, job_id, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_job_row_t, status, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_job_row_t, stage, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_job_row_t, message, OPT, TF_MSG_MAX_TEXT),
    F_STR(tf_msg_job_row_t, detail, OPT, TF_MSG_MAX_TEXT),
    F_STR(tf_msg_job_row_t, pool, OPT, TF_MSG_MAX_ID),
    F_INT(tf_msg_job_row_t, created_ms, OPT),
    F_INT(tf_msg_job_row_t, updated_ms, OPT),
    F_UINT(tf_msg_job_row_t, files_total, OPT),
    F_UINT(tf_msg_job_row_t, bytes_total, OPT),
    F_UINT(tf_msg_job_row_t, files_done, OPT),
    F_UINT(tf_msg_job_row_t, bytes_done, OPT),
    F_UINT(tf_msg_job_row_t, groups_total, OPT),
    F_UINT(tf_msg_job_row_t, archives_written, OPT),
    F_UINT(tf_msg_job_row_t, warnings, OPT),
    F_BOOL(tf_msg_job_row_t, scanned, OPT),
    F_ROWS(tf_msg_job_row_t, sources, OPT, TF_MSG_MAX_ROWS, s_path_row),
    F_STR(tf_msg_job_row_t, level, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_job_row_t, level_requested, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_job_row_t, level_reason, OPT, TF_MSG_MAX_TEXT),
    F_STR(tf_msg_job_row_t, base_job, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_job_row_t, schedule, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_job_row_t, trigger, OPT, TF_MSG_MAX_TEXT),
    F_INT(tf_msg_job_row_t, trigger_ms, OPT),
    F_UINT(tf_msg_job_row_t, files_unchanged, OPT),
    F_UINT(tf_msg_job_row_t, files_deleted, OPT),
    F_ROWS(tf_msg_job_row_t, depends_on, OPT, TF_MSG_MAX_ROWS, s_path_row),
    F_STR(tf_msg_job_row_t, replication, OPT, TF_MSG_MAX_ID),
    F_ROWS(tf_msg_job_row_t, replicas, OPT, TF_MSG_MAX_ROWS, s_replica_row),
};
static const tf_record_t s_job_row = RECORD("job", tf_msg_job_row_t, s_job_row_fields);
static const tf_field_t s_archive_row_fields[] = {
    F_STR(tf_msg_archive_row_t, archive_id, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_archive_row_t, job_id, OPT, TF_MSG_MAX_ID),
    F_UINT(tf_msg_archive_row_t, group_no, OPT),
    F_STR(tf_msg_archive_row_t, volume, OPT, TF_MSG_MAX_ID),
    F_UINT(tf_msg_archive_row_t, tape_file, OPT),
    F_UINT(tf_msg_archive_row_t, block, OPT),
    F_UINT(tf_msg_archive_row_t, blocks, OPT),
    F_UINT(tf_msg_archive_row_t, size, OPT),
    F_STR(tf_msg_archive_row_t, checksum, OPT, TF_MSG_MAX_ID),
    F_UINT(tf_msg_archive_row_t, files, OPT),
    F_BOOL(tf_msg_archive_row_t, written, OPT),
    F_ROWS(tf_msg_archive_row_t, segments, OPT, TF_MSG_MAX_ROWS, s_segment_row),
    F_BOOL(tf_msg_archive_row_t, lost, OPT),
    F_INT(tf_msg_archive_row_t, lost_ms, OPT),
    F_STR(tf_msg_archive_row_t, host, OPT, TF_MSG_MAX_ID),
    F_BOOL(tf_msg_archive_row_t, take_some, OPT),
    F_ROWS(tf_msg_archive_row_t, take, OPT, TF_MSG_MAX_ROWS, s_path_row),
};
static const tf_record_t s_archive_row = RECORD("archive", tf_msg_archive_row_t, s_archive_row_fields);
static const tf_field_t s_volume_row_fields[] = {
    F_STR(tf_msg_volume_row_t, label, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_volume_row_t, pool, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_volume_row_t, state, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_volume_row_t, media_type, OPT, TF_MSG_MAX_ID),
    F_INT(tf_msg_volume_row_t, created_ms, OPT),
    F_INT(tf_msg_volume_row_t, expires_ms, OPT),
    F_UINT(tf_msg_volume_row_t, bytes_used, OPT),
    F_INT(tf_msg_volume_row_t, last_written_ms, OPT),
    F_UINT(tf_msg_volume_row_t, write_errors, OPT),
    F_UINT(tf_msg_volume_row_t, read_errors, OPT),
    F_UINT(tf_msg_volume_row_t, tape_files, OPT),
    F_STR(tf_msg_volume_row_t, drive, OPT, TF_MSG_MAX_ID),
    F_INT(tf_msg_volume_row_t, updated_ms, OPT),
    F_ROWS(tf_msg_volume_row_t, orphans, OPT, TF_MSG_MAX_ROWS, s_path_row),
    F_BOOL(tf_msg_volume_row_t, held, OPT),
};
static const tf_record_t s_volume_row = RECORD("volume", tf_msg_volume_row_t, s_volume_row_fields);
static const tf_field_t s_manifest_row_fields[] = {
    F_STR(tf_msg_manifest_row_t, path, REQ, TF_MSG_MAX_PATH),
    F_STR(tf_msg_manifest_row_t, type, REQ, TF_MSG_MAX_ID),
    F_UINT(tf_msg_manifest_row_t, size, OPT),
    F_INT(tf_msg_manifest_row_t, mtime_ns, OPT),
    F_INT(tf_msg_manifest_row_t, ctime_ns, OPT),
    F_UINT(tf_msg_manifest_row_t, ino, OPT),
    F_UINT(tf_msg_manifest_row_t, mode, OPT),
    F_UINT(tf_msg_manifest_row_t, uid, OPT),
    F_UINT(tf_msg_manifest_row_t, gid, OPT),
    F_UINT(tf_msg_manifest_row_t, nlink, OPT),
    F_STR(tf_msg_manifest_row_t, xattrs, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_manifest_row_t, fs, OPT, TF_MSG_MAX_PATH),
    F_STR(tf_msg_manifest_row_t, reason, OPT, TF_MSG_MAX_TEXT),
    F_STR(tf_msg_manifest_row_t, data_job, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_manifest_row_t, host, OPT, TF_MSG_MAX_ID),
    F_BOOL(tf_msg_manifest_row_t, deleted, OPT),
};
static const tf_record_t s_manifest_row = RECORD("manifest", tf_msg_manifest_row_t, s_manifest_row_fields);
static const tf_field_t s_sched_row_fields[] = {
    F_STR(tf_msg_sched_row_t, schedule, REQ, TF_MSG_MAX_ID),
    F_INT(tf_msg_sched_row_t, instant_ms, REQ),
    F_STR(tf_msg_sched_row_t, kind, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_sched_row_t, reason, OPT, TF_MSG_MAX_TEXT),
    F_STR(tf_msg_sched_row_t, job_id, OPT, TF_MSG_MAX_ID),
    F_INT(tf_msg_sched_row_t, recorded_ms, OPT),
    F_STR(tf_msg_sched_row_t, job_status, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_sched_row_t, level, OPT, TF_MSG_MAX_ID),
};
static const tf_record_t s_sched_row = RECORD("sched", tf_msg_sched_row_t, s_sched_row_fields);
static const tf_field_t s_cat_reply_fields[] = {
    F_ROWS(tf_msg_cat_reply_t, jobs, OPT, TF_MSG_MAX_ROWS, s_job_row),
    F_ROWS(tf_msg_cat_reply_t, files, OPT, TF_MSG_MAX_ROWS, s_file_row),
    F_ROWS(tf_msg_cat_reply_t, archives, OPT, TF_MSG_MAX_ROWS, s_archive_row),
    F_BOOL(tf_msg_cat_reply_t, truncated, OPT),
    F_ROWS(tf_msg_cat_reply_t, volumes, OPT, TF_MSG_MAX_ROWS, s_volume_row),
    F_ROWS(tf_msg_cat_reply_t, missing, OPT, TF_MSG_MAX_ROWS, s_warning_row),
    F_ROWS(tf_msg_cat_reply_t, manifest, OPT, TF_MSG_MAX_ROWS, s_manifest_row),
    F_ROWS(tf_msg_cat_reply_t, sched, OPT, TF_MSG_MAX_ROWS, s_sched_row),
    F_ROWS(tf_msg_cat_reply_t, replicas, OPT, TF_MSG_MAX_ROWS, s_replica_row),
};
static const tf_field_t s_tape_restore_fields[] = {
    F_STR(tf_msg_tape_restore_t, job_id, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_tape_restore_t, dest, REQ, TF_MSG_MAX_PATH),
    F_ROWS(tf_msg_tape_restore_t, patterns, OPT, TF_MSG_MAX_ROWS, s_path_row),
    F_ROWS(tf_msg_tape_restore_t, archives, REQ, TF_MSG_MAX_ROWS, s_archive_row),
    F_STR(tf_msg_tape_restore_t, overwrite, OPT, TF_MSG_MAX_ID),
    F_UINT(tf_msg_tape_restore_t, strip_components, OPT),
    F_BOOL(tf_msg_tape_restore_t, flat, OPT),
    F_STR(tf_msg_tape_restore_t, dest_host, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_tape_restore_t, submitter, OPT, TF_MSG_MAX_ID),
};
static const tf_field_t s_archive_failure_fields[] = {
    F_STR(tf_msg_archive_failure_t, archive_id, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_archive_failure_t, reason, OPT, TF_MSG_MAX_TEXT),
};
static const tf_record_t s_archive_failure =
    RECORD("archive_failure", tf_msg_archive_failure_t, s_archive_failure_fields);
static const tf_field_t s_restore_result_fields[] = {
    F_UINT(tf_msg_restore_result_t, files, OPT),
    F_UINT(tf_msg_restore_result_t, bytes, OPT),
    F_UINT(tf_msg_restore_result_t, archives_read, OPT),
    F_UINT(tf_msg_restore_result_t, blocks_read, OPT),
    F_UINT(tf_msg_restore_result_t, warnings, OPT),
    F_STR(tf_msg_restore_result_t, message, OPT, TF_MSG_MAX_TEXT),
    F_UINT(tf_msg_restore_result_t, refused, OPT),
    F_UINT(tf_msg_restore_result_t, kept, OPT),
    F_UINT(tf_msg_restore_result_t, collisions, OPT),
    F_ROWS(tf_msg_restore_result_t, failures, OPT, TF_MSG_MAX_ROWS, s_archive_failure),
    F_UINT(tf_msg_restore_result_t, present, OPT),
};
static const tf_field_t s_cat_volume_fields[] = {
    F_STR(tf_msg_cat_volume_t, label, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_cat_volume_t, pool, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_cat_volume_t, state, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_cat_volume_t, media_type, OPT, TF_MSG_MAX_ID),
    F_INT(tf_msg_cat_volume_t, created_ms, OPT),
    F_INT(tf_msg_cat_volume_t, expires_ms, OPT),
    F_UINT(tf_msg_cat_volume_t, bytes_used, OPT),
    F_INT(tf_msg_cat_volume_t, last_written_ms, OPT),
    F_UINT(tf_msg_cat_volume_t, write_errors, OPT),
    F_UINT(tf_msg_cat_volume_t, read_errors, OPT),
    F_UINT(tf_msg_cat_volume_t, tape_files, OPT),
    F_STR(tf_msg_cat_volume_t, drive, OPT, TF_MSG_MAX_ID),
    F_INT(tf_msg_cat_volume_t, time_ms, OPT),
};

static const tf_field_t s_job_op_fields[] = {
    F_STR(tf_msg_job_op_t, rid, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_job_op_t, job_id, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_job_op_t, op, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_job_op_t, message, OPT, TF_MSG_MAX_TEXT),
    F_STR(tf_msg_job_op_t, spare, OPT, TF_MSG_MAX_TEXT),
};
static const tf_field_t s_job_op_ok_fields[] = {
    F_STR(tf_msg_job_op_ok_t, rid, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_job_op_ok_t, job_id, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_job_op_ok_t, op, REQ, TF_MSG_MAX_ID),
    F_UINT(tf_msg_job_op_ok_t, cancelled, OPT),
    F_UINT(tf_msg_job_op_ok_t, abandoned, OPT),
    F_UINT(tf_msg_job_op_ok_t, requeued, OPT),
    F_STR(tf_msg_job_op_ok_t, catalog_item, OPT, TF_MSG_MAX_ID),
    F_UINT(tf_msg_job_op_ok_t, finishing, OPT),
    F_UINT(tf_msg_job_op_ok_t, unrecorded, OPT),
    F_STR(tf_msg_job_op_ok_t, note, OPT, TF_MSG_MAX_TEXT),
};
static const tf_field_t s_stage_purge_fields[] = {
    F_STR(tf_msg_stage_purge_t, job_id, REQ, TF_MSG_MAX_ID),
    F_BOOL(tf_msg_stage_purge_t, dry_run, OPT),
};
static const tf_field_t s_stage_purge_result_fields[] = {
    F_STR(tf_msg_stage_purge_result_t, job_id, REQ, TF_MSG_MAX_ID),
    F_ROWS(tf_msg_stage_purge_result_t, files, OPT, TF_MSG_MAX_ROWS, s_path_row),
    F_UINT(tf_msg_stage_purge_result_t, archives, OPT),
    F_UINT(tf_msg_stage_purge_result_t, bytes, OPT),
    F_ROWS(tf_msg_stage_purge_result_t, in_use, OPT, TF_MSG_MAX_ROWS, s_path_row),
};

static const tf_field_t s_vol_request_fields[] = {
    F_STR(tf_msg_vol_request_t, drive, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_vol_request_t, purpose, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_vol_request_t, pool, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_vol_request_t, job_id, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_vol_request_t, archive_id, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_vol_request_t, set_id, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_vol_request_t, prev_label, OPT, TF_MSG_MAX_ID),
    F_UINT(tf_msg_vol_request_t, prev_sequence, OPT),
    F_STR(tf_msg_vol_request_t, want_label, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_vol_request_t, barcode, OPT, TF_MSG_MAX_ID),
    F_BOOL(tf_msg_vol_request_t, ejected, OPT),
    F_BOOL(tf_msg_vol_request_t, operator_mounts, OPT),
    F_ROWS(tf_msg_vol_request_t, tried, OPT, TF_MSG_MAX_ROWS, s_path_row),
    F_STR(tf_msg_vol_request_t, mounted, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_vol_request_t, found, OPT, TF_MSG_MAX_TEXT),
    F_STR(tf_msg_vol_request_t, label, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_vol_request_t, label_pool, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_vol_request_t, label_created, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_vol_request_t, label_expires, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_vol_request_t, label_set_id, OPT, TF_MSG_MAX_ID),
    F_UINT(tf_msg_vol_request_t, label_sequence, OPT),
    F_STR(tf_msg_vol_request_t, label_previous, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_vol_request_t, media_type, OPT, TF_MSG_MAX_ID),
    F_UINT(tf_msg_vol_request_t, tape_files, OPT),
    F_INT(tf_msg_vol_request_t, last_written_ms, OPT),
};
static const tf_field_t s_vol_grant_fields[] = {
    F_STR(tf_msg_vol_grant_t, decision, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_vol_grant_t, message, OPT, TF_MSG_MAX_TEXT),
    F_BOOL(tf_msg_vol_grant_t, eject, OPT),
    F_BOOL(tf_msg_vol_grant_t, wait, OPT),
    F_BOOL(tf_msg_vol_grant_t, loaded, OPT),
    F_STR(tf_msg_vol_grant_t, changer, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_vol_grant_t, barcode, OPT, TF_MSG_MAX_ID),
    F_UINT(tf_msg_vol_grant_t, slot, OPT),
    F_STR(tf_msg_vol_grant_t, label, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_vol_grant_t, pool, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_vol_grant_t, set_id, OPT, TF_MSG_MAX_ID),
    F_UINT(tf_msg_vol_grant_t, sequence, OPT),
    F_STR(tf_msg_vol_grant_t, previous, OPT, TF_MSG_MAX_ID),
    F_INT(tf_msg_vol_grant_t, retention_ms, OPT),
    F_INT(tf_msg_vol_grant_t, created_ms, OPT),
    F_INT(tf_msg_vol_grant_t, label_expires_ms, OPT),
    F_INT(tf_msg_vol_grant_t, expires_ms, OPT),
    F_UINT(tf_msg_vol_grant_t, bytes_used, OPT),
    F_UINT(tf_msg_vol_grant_t, write_errors, OPT),
    F_UINT(tf_msg_vol_grant_t, read_errors, OPT),
    F_UINT(tf_msg_vol_grant_t, archives, OPT),
    F_BOOL(tf_msg_vol_grant_t, in_error, OPT),
};
static const tf_field_t s_cartridge_row_fields[] = {
    F_STR(tf_msg_cartridge_row_t, changer, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_cartridge_row_t, barcode, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_cartridge_row_t, location, OPT, TF_MSG_MAX_ID),
    F_UINT(tf_msg_cartridge_row_t, element, OPT),
    F_STR(tf_msg_cartridge_row_t, kind, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_cartridge_row_t, label, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_cartridge_row_t, pool, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_cartridge_row_t, drive, OPT, TF_MSG_MAX_ID),
    F_INT(tf_msg_cartridge_row_t, seen_ms, OPT),
};
static const tf_record_t s_cartridge_row =
    RECORD("cartridge", tf_msg_cartridge_row_t, s_cartridge_row_fields);
static const tf_field_t s_lab_query_fields[] = {
    F_STR(tf_msg_lab_query_t, op, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_lab_query_t, changer, OPT, TF_MSG_MAX_PATH),
    F_STR(tf_msg_lab_query_t, barcode, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_lab_query_t, label, OPT, TF_MSG_MAX_ID),
    F_UINT(tf_msg_lab_query_t, slot, OPT),
    F_UINT(tf_msg_lab_query_t, element, OPT),
    F_STR(tf_msg_lab_query_t, force, OPT, TF_MSG_MAX_ID),
};
static const tf_field_t s_lab_reply_fields[] = {
    F_STR(tf_msg_lab_reply_t, changer, OPT, TF_MSG_MAX_PATH),
    F_BOOL(tf_msg_lab_reply_t, barcodes, OPT),
    F_ROWS(tf_msg_lab_reply_t, cartridges, OPT, TF_MSG_MAX_ROWS, s_cartridge_row),
    F_STR(tf_msg_lab_reply_t, message, OPT, TF_MSG_MAX_TEXT),
    F_STR(tf_msg_lab_reply_t, refused, OPT, TF_MSG_MAX_ID),
};
static const tf_field_t s_tape_label_fields[] = {
    F_STR(tf_msg_tape_label_t, changer, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_tape_label_t, barcode, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_tape_label_t, pool, REQ, TF_MSG_MAX_ID),
};

static const tf_field_t s_extract_fields[] = {
    F_STR(tf_msg_extract_t, job_id, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_extract_t, archive_id, REQ, TF_MSG_MAX_ID),
    F_UINT(tf_msg_extract_t, size, REQ),
    F_STR(tf_msg_extract_t, checksum, REQ, TF_MSG_MAX_ID),
    F_UINT(tf_msg_extract_t, files, OPT),
    F_STR(tf_msg_extract_t, host, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_extract_t, dest, REQ, TF_MSG_MAX_PATH),
    F_STR(tf_msg_extract_t, overwrite, OPT, TF_MSG_MAX_ID),
    F_UINT(tf_msg_extract_t, strip_components, OPT),
    F_BOOL(tf_msg_extract_t, flat, OPT),
    F_BOOL(tf_msg_extract_t, host_prefixed, OPT),
    F_ROWS(tf_msg_extract_t, partial, OPT, TF_MSG_MAX_ROWS, s_path_row),
};
static const tf_field_t s_extract_result_fields[] = {
    F_UINT(tf_msg_extract_result_t, files, OPT),
    F_UINT(tf_msg_extract_result_t, bytes, OPT),
    F_UINT(tf_msg_extract_result_t, warnings, OPT),
    F_UINT(tf_msg_extract_result_t, refused, OPT),
    F_UINT(tf_msg_extract_result_t, kept, OPT),
    F_UINT(tf_msg_extract_result_t, collisions, OPT),
    F_UINT(tf_msg_extract_result_t, present, OPT),
    F_STR(tf_msg_extract_result_t, message, OPT, TF_MSG_MAX_TEXT),
    F_STR(tf_msg_extract_result_t, warning_text, OPT, TF_MSG_MAX_TEXT),
    F_STR(tf_msg_extract_result_t, host, OPT, TF_MSG_MAX_ID),
    F_UINT(tf_msg_extract_result_t, stripped, OPT),
    F_UINT(tf_msg_extract_result_t, unwritable, OPT),
};
static const tf_field_t s_path_check_fields[] = {
    F_STR(tf_msg_path_check_t, path, REQ, TF_MSG_MAX_PATH),
};

static const tf_field_t s_path_info_fields[] = {
    F_STR(tf_msg_path_info_t, path, REQ, TF_MSG_MAX_PATH),
    F_STR(tf_msg_path_info_t, host, OPT, TF_MSG_MAX_ID),
    F_BOOL(tf_msg_path_info_t, exists, OPT),
    F_STR(tf_msg_path_info_t, type, OPT, TF_MSG_MAX_ID),
    F_BOOL(tf_msg_path_info_t, readable, OPT),
    F_STR(tf_msg_path_info_t, message, OPT, TF_MSG_MAX_TEXT),
};

static const tf_field_t s_cat_manifest_fields[] = {
    F_STR(tf_msg_cat_manifest_t, job_id, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_cat_manifest_t, host, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_cat_manifest_t, op, REQ, TF_MSG_MAX_ID),
    F_UINT(tf_msg_cat_manifest_t, seq, OPT),
    F_ROWS(tf_msg_cat_manifest_t, rows, OPT, TF_MSG_MAX_ROWS, s_manifest_row),
    F_STR(tf_msg_cat_manifest_t, run, OPT, TF_MSG_MAX_ID),
    F_ROWS(tf_msg_cat_manifest_t, unread, OPT, TF_MSG_MAX_ROWS, s_warning_row),
};
static const tf_field_t s_take_row_fields[] = {
    F_UINT(tf_msg_take_row_t, index, REQ),
    F_STR(tf_msg_take_row_t, reason, OPT, TF_MSG_MAX_TEXT),
};
static const tf_record_t s_take_row = RECORD("take", tf_msg_take_row_t, s_take_row_fields);
static const tf_field_t s_cat_manifest_reply_fields[] = {
    F_STR(tf_msg_cat_manifest_reply_t, level, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_cat_manifest_reply_t, base_job, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_cat_manifest_reply_t, reason, OPT, TF_MSG_MAX_TEXT),
    F_ROWS(tf_msg_cat_manifest_reply_t, take, OPT, TF_MSG_MAX_ROWS, s_take_row),
    F_UINT(tf_msg_cat_manifest_reply_t, unchanged, OPT),
    F_UINT(tf_msg_cat_manifest_reply_t, deleted, OPT),
    F_UINT(tf_msg_cat_manifest_reply_t, renamed, OPT),
    F_STR(tf_msg_cat_manifest_reply_t, message, OPT, TF_MSG_MAX_TEXT),
};
static const tf_field_t s_cat_sched_fields[] = {
    F_STR(tf_msg_cat_sched_t, op, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_cat_sched_t, schedule, REQ, TF_MSG_MAX_ID),
    F_INT(tf_msg_cat_sched_t, instant_ms, REQ),
    F_STR(tf_msg_cat_sched_t, kind, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_cat_sched_t, reason, OPT, TF_MSG_MAX_TEXT),
    F_STR(tf_msg_cat_sched_t, job_id, OPT, TF_MSG_MAX_ID),
};
static const tf_field_t s_replica_copy_fields[] = {
    F_STR(tf_msg_replica_copy_t, archive_id, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_replica_copy_t, job_id, REQ, TF_MSG_MAX_ID),
    F_UINT(tf_msg_replica_copy_t, group_no, OPT),
    F_STR(tf_msg_replica_copy_t, pool, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_replica_copy_t, target, REQ, TF_MSG_MAX_ID),
    F_BOOL(tf_msg_replica_copy_t, required, OPT),
    F_STR(tf_msg_replica_copy_t, compression, OPT, TF_MSG_MAX_ID),
    F_UINT(tf_msg_replica_copy_t, size, REQ),
    F_STR(tf_msg_replica_copy_t, checksum, REQ, TF_MSG_MAX_ID),
    F_UINT(tf_msg_replica_copy_t, files, OPT),
    F_UINT(tf_msg_replica_copy_t, bytes, OPT),
    F_STR(tf_msg_replica_copy_t, stager, REQ, TF_MSG_MAX_PATH),
    F_UINT(tf_msg_replica_copy_t, rows_size, OPT),
    F_STR(tf_msg_replica_copy_t, rows_checksum, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_replica_copy_t, stager_key, OPT, TF_MSG_MAX_ID),
    F_STR(tf_msg_replica_copy_t, host, OPT, TF_MSG_MAX_ID),
};
static const tf_field_t s_cat_replica_fields[] = {
    F_STR(tf_msg_cat_replica_t, op, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_cat_replica_t, job_id, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_cat_replica_t, target, REQ, TF_MSG_MAX_ID),
    F_STR(tf_msg_cat_replica_t, url, OPT, TF_MSG_MAX_PATH),
    F_BOOL(tf_msg_cat_replica_t, required, OPT),
    F_ROWS(tf_msg_cat_replica_t, copies, OPT, TF_MSG_MAX_ROWS, s_replica_archive),
    F_STR(tf_msg_cat_replica_t, message, OPT, TF_MSG_MAX_TEXT),
    F_BOOL(tf_msg_cat_replica_t, final, OPT),
    F_INT(tf_msg_cat_replica_t, time_ms, OPT),
};

/* Indexed by tf_msg_type_t. */
static const tf_record_t s_records[TF_MSG_TYPE_COUNT] = {
    [TF_MSG_NONE] = {"none", 0, NULL, 0},
#define TF_MSG_RECORD_(E, N, S, M) [TF_MSG_##E] = RECORD(N, S, s_##M##_fields),
    TF_MSG_TYPES(TF_MSG_RECORD_)
#undef TF_MSG_RECORD_
};

const tf_msg_desc_t *
tf_msg_desc(tf_msg_type_t type)
{
    if (type <= TF_MSG_NONE || type >= TF_MSG_TYPE_COUNT)
        return NULL;
    return &s_records[type];
}

const char *
tf_msg_type_name(tf_msg_type_t type)
{
    if (type <= TF_MSG_NONE || type >= TF_MSG_TYPE_COUNT)
        return "?";
    return s_records[type].name;
}

static void *
s_body(const tf_msg_t *msg)
{
    /* Every member of the anonymous union starts at the same address. */
    return (void *) &msg->ready;
}

/* ---------------------------------------------------------------- encoding ----------- */

static int s_pack_record(msgpack_packer *pk, const tf_record_t *rec, const void *body,
                         size_t extra_keys, tf_err_t *err);

static bool
s_field_present(const tf_field_t *f, const void *body)
{
    const char *base = (const char *) body + f->offset;
    switch (f->kind) {
    case TF_MSG_FIELD_STR: return *(char *const *) base != NULL;
    case TF_MSG_FIELD_BIN: return ((const tf_bytes_t *) base)->data != NULL;
    default: return true;
    }
}

/* msgpack-c returns 0 or -1; the only failure of an sbuffer write is memory. */
static int
s_packed(int msgpack_rc, tf_err_t *err)
{
    return msgpack_rc == 0 ? TF_OK : tf_err_set(err, TF_ERR_NOMEM, "out of memory encoding message");
}

static void
s_pack_str(msgpack_packer *pk, const char *s)
{
    size_t len = strlen(s);
    msgpack_pack_str(pk, len);
    msgpack_pack_str_body(pk, s, len);
}

static int
s_pack_field(msgpack_packer *pk, const tf_record_t *rec, const tf_field_t *f, const void *body,
             tf_err_t *err)
{
    const char *base = (const char *) body + f->offset;
    switch (f->kind) {
    case TF_MSG_FIELD_BOOL:
        return s_packed(*(const bool *) base ? msgpack_pack_true(pk) : msgpack_pack_false(pk), err);
    case TF_MSG_FIELD_UINT:
        return s_packed(msgpack_pack_uint64(pk, *(const uint64_t *) base), err);
    case TF_MSG_FIELD_INT:
        return s_packed(msgpack_pack_int64(pk, *(const int64_t *) base), err);
    case TF_MSG_FIELD_STR: {
        const char *s = *(char *const *) base;
        if (strlen(s) > f->max)
            return tf_err_set(err, TF_ERR_TOOBIG, "%s.%s: string of %zu bytes is over the limit of %zu",
                              rec->name, f->key, strlen(s), f->max);
        s_pack_str(pk, s);
        return 0;
    }
    case TF_MSG_FIELD_BIN: {
        const tf_bytes_t *b = (const tf_bytes_t *) base;
        if (b->size > f->max)
            return tf_err_set(err, TF_ERR_TOOBIG, "%s.%s: %zu bytes is over the limit of %zu",
                              rec->name, f->key, b->size, f->max);
        msgpack_pack_bin(pk, b->size);
        msgpack_pack_bin_body(pk, b->data, b->size);
        return 0;
    }
    case TF_MSG_FIELD_ROWS: {
        const char *rows = *(char *const *) base;
        size_t count = *(const size_t *) ((const char *) body + f->count_offset);
        if (count > f->max)
            return tf_err_set(err, TF_ERR_TOOBIG, "%s.%s: %zu rows is over the limit of %zu",
                              rec->name, f->key, count, f->max);
        if (count > 0 && !rows)
            return tf_err_set(err, TF_ERR_INVALID, "%s.%s: %zu rows but no array", rec->name,
                              f->key, count);
        msgpack_pack_array(pk, count);
        for (size_t i = 0; i < count; i++) {
            int rc = s_pack_record(pk, f->elem, rows + i * f->elem->size, 0, err);
            if (rc != TF_OK)
                return rc;
        }
        return 0;
    }
    }
    return tf_err_set(err, TF_ERR_INVALID, "%s.%s: unknown field kind", rec->name, f->key);
}

static int
s_pack_record(msgpack_packer *pk, const tf_record_t *rec, const void *body, size_t extra_keys,
              tf_err_t *err)
{
    size_t present = 0;
    for (size_t i = 0; i < rec->nfields; i++) {
        const tf_field_t *f = &rec->fields[i];
        if (s_field_present(f, body))
            present++;
        else if (f->required)
            return tf_err_set(err, TF_ERR_INVALID, "%s: required field '%s' is not set", rec->name,
                              f->key);
    }
    msgpack_pack_map(pk, present + extra_keys);
    if (extra_keys)
        return TF_OK;  /* the caller packs its keys first, then calls s_pack_fields */
    for (size_t i = 0; i < rec->nfields; i++) {
        const tf_field_t *f = &rec->fields[i];
        if (!s_field_present(f, body))
            continue;
        s_pack_str(pk, f->key);
        int rc = s_pack_field(pk, rec, f, body, err);
        if (rc != TF_OK)
            return rc;
    }
    return TF_OK;
}

/* Every packer write goes through the sink, which remembers a failed one (out of memory): most
   pack calls' results are not checked one by one, and a single failed write would otherwise
   leave a silently truncated message that is reported as encoded. */
typedef struct {
    msgpack_sbuffer sbuf;
    bool failed;
} s_sink_t;

static int
s_sink_write(void *data, const char *buf, size_t len)
{
    s_sink_t *sink = data;
    if (!sink->failed && msgpack_sbuffer_write(&sink->sbuf, buf, len) != 0)
        sink->failed = true;
    return sink->failed ? -1 : 0;
}

int
tf_msg_encode(const tf_msg_t *msg, uint8_t **data, size_t *size, tf_err_t *err)
{
    *data = NULL;
    *size = 0;
    if (!msg || msg->type <= TF_MSG_NONE || msg->type >= TF_MSG_TYPE_COUNT)
        return tf_err_set(err, TF_ERR_INVALID, "cannot encode: unknown message type %d",
                          msg ? (int) msg->type : -1);
    const tf_record_t *rec = &s_records[msg->type];
    const void *body = s_body(msg);

    s_sink_t sink = {.failed = false};
    msgpack_sbuffer_init(&sink.sbuf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sink, s_sink_write);

    int rc = s_pack_record(&pk, rec, body, 2, err);  /* map header with room for v and t */
    if (rc == TF_OK) {
        s_pack_str(&pk, "v");
        msgpack_pack_uint64(&pk, TF_PROTO_VERSION);
        s_pack_str(&pk, "t");
        s_pack_str(&pk, rec->name);
        for (size_t i = 0; i < rec->nfields && rc == TF_OK; i++) {
            const tf_field_t *f = &rec->fields[i];
            if (!s_field_present(f, body))
                continue;
            s_pack_str(&pk, f->key);
            rc = s_pack_field(&pk, rec, f, body, err);
        }
    }
    if (rc == TF_OK && sink.failed)
        rc = tf_err_set(err, TF_ERR_NOMEM, "out of memory encoding %s", rec->name);
    if (rc != TF_OK) {
        msgpack_sbuffer_destroy(&sink.sbuf);
        return rc;
    }
    /* Hand the buffer over; msgpack_sbuffer_release leaves sbuf empty. */
    *size = sink.sbuf.size;
    *data = (uint8_t *) msgpack_sbuffer_release(&sink.sbuf);
    if (!*data) {
        /* An empty buffer is never produced (there is always a map header). */
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory encoding %s", rec->name);
    }
    return TF_OK;
}

/* ---------------------------------------------------------------- reading ------------ */

typedef enum { V_NIL, V_BOOL, V_UINT, V_INT, V_FLOAT, V_STR, V_BIN, V_ARRAY, V_MAP } s_kind_t;

static const char *s_kind_names[] = {"nil", "boolean", "unsigned integer", "integer", "float",
                                     "string", "byte string", "array", "map"};

typedef struct {
    const uint8_t *p;
    size_t left;
} s_reader_t;

typedef struct {
    s_kind_t kind;
    bool b;
    uint64_t u;
    int64_t i;
    const uint8_t *ptr;  /* str/bin bytes */
    uint32_t len;        /* str/bin length, array/map element count */
} s_value_t;

static uint64_t
s_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

static int
s_take(s_reader_t *r, size_t n, const uint8_t **out, tf_err_t *err)
{
    if (n > r->left)
        return tf_err_set(err, TF_ERR_PROTO,
                          "truncated message: needs %zu more bytes, only %zu left", n, r->left);
    *out = r->p;
    r->p += n;
    r->left -= n;
    return TF_OK;
}

/* Reads one value's header (and a str/bin's bytes). Container counts are checked against the
   bytes left: every element needs at least one byte, so a larger count is a lie. */
static int
s_read(s_reader_t *r, s_value_t *v, tf_err_t *err)
{
    const uint8_t *p = NULL;
    if (s_take(r, 1, &p, err) != TF_OK)
        return TF_ERR_PROTO;
    uint8_t b = p[0];
    size_t width = 0;
    memset(v, 0, sizeof *v);

    if (b <= 0x7f) { v->kind = V_UINT; v->u = b; return TF_OK; }
    if (b >= 0xe0) { v->kind = V_INT; v->i = (int8_t) b; return TF_OK; }
    if (b >= 0x80 && b <= 0x8f) { v->kind = V_MAP; v->len = b & 0x0f; goto count; }
    if (b >= 0x90 && b <= 0x9f) { v->kind = V_ARRAY; v->len = b & 0x0f; goto count; }
    if (b >= 0xa0 && b <= 0xbf) { v->kind = V_STR; v->len = b & 0x1f; goto bytes; }

    switch (b) {
    case 0xc0: v->kind = V_NIL; return TF_OK;
    case 0xc2: v->kind = V_BOOL; v->b = false; return TF_OK;
    case 0xc3: v->kind = V_BOOL; v->b = true; return TF_OK;
    case 0xc4: case 0xc5: case 0xc6:
        v->kind = V_BIN; width = (size_t) 1 << (b - 0xc4); goto length;
    case 0xd9: case 0xda: case 0xdb:
        v->kind = V_STR; width = (size_t) 1 << (b - 0xd9); goto length;
    case 0xdc: case 0xdd:
        v->kind = V_ARRAY; width = b == 0xdc ? 2 : 4; goto length;
    case 0xde: case 0xdf:
        v->kind = V_MAP; width = b == 0xde ? 2 : 4; goto length;
    case 0xca: case 0xcb:
        v->kind = V_FLOAT;
        return s_take(r, b == 0xca ? 4 : 8, &p, err);
    case 0xcc: case 0xcd: case 0xce: case 0xcf:
        if (s_take(r, (size_t) 1 << (b - 0xcc), &p, err) != TF_OK)
            return TF_ERR_PROTO;
        v->kind = V_UINT;
        v->u = s_be(p, (size_t) 1 << (b - 0xcc));
        return TF_OK;
    case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
        size_t n = (size_t) 1 << (b - 0xd0);
        if (s_take(r, n, &p, err) != TF_OK)
            return TF_ERR_PROTO;
        uint64_t raw = s_be(p, n);
        v->kind = V_INT;
        if (n == 1) v->i = (int8_t) raw;
        else if (n == 2) v->i = (int16_t) raw;
        else if (n == 4) v->i = (int32_t) raw;
        else v->i = (int64_t) raw;
        return TF_OK;
    }
    case 0xc1:
        return tf_err_set(err, TF_ERR_PROTO, "invalid msgpack byte 0xc1");
    default:  /* 0xc7-0xc9, 0xd4-0xd8: extension types */
        return tf_err_set(err, TF_ERR_PROTO, "msgpack extension type 0x%02x is not used by tapeflow", b);
    }

length:
    if (s_take(r, width, &p, err) != TF_OK)
        return TF_ERR_PROTO;
    {
        uint64_t n = s_be(p, width);
        if (n > UINT32_MAX)
            return tf_err_set(err, TF_ERR_PROTO, "length %llu out of range", (unsigned long long) n);
        v->len = (uint32_t) n;
    }
    if (v->kind == V_ARRAY || v->kind == V_MAP)
        goto count;
bytes:
    if (v->len > r->left)
        return tf_err_set(err, TF_ERR_PROTO, "%s of %u bytes is longer than the %zu bytes left",
                          s_kind_names[v->kind], v->len, r->left);
    return s_take(r, v->len, &v->ptr, err);
count: {
        uint64_t need = (uint64_t) v->len * (v->kind == V_MAP ? 2 : 1);
        if (need > r->left)
            return tf_err_set(err, TF_ERR_PROTO,
                              "%s claims %u elements but only %zu bytes are left",
                              s_kind_names[v->kind], v->len, r->left);
        return TF_OK;
    }
}

/* Reads and discards one complete value, checking the structure underneath. */
static int
s_skip(s_reader_t *r, int depth, tf_err_t *err)
{
    if (depth > TF_MSG_MAX_DEPTH)
        return tf_err_set(err, TF_ERR_PROTO, "nested deeper than %d levels", TF_MSG_MAX_DEPTH);
    s_value_t v;
    int rc = s_read(r, &v, err);
    if (rc != TF_OK)
        return rc;
    if (v.kind == V_ARRAY || v.kind == V_MAP) {
        uint64_t n = (uint64_t) v.len * (v.kind == V_MAP ? 2 : 1);
        for (uint64_t i = 0; i < n; i++)
            if ((rc = s_skip(r, depth + 1, err)) != TF_OK)
                return rc;
    }
    return TF_OK;
}

/* ---------------------------------------------------------------- decoding ----------- */

static void s_clear_record(const tf_record_t *rec, void *body);

static bool
s_key_is(const s_value_t *k, const char *name)
{
    size_t n = strlen(name);
    return k->len == n && memcmp(k->ptr, name, n) == 0;
}

static int
s_type_error(tf_err_t *err, const tf_record_t *rec, const tf_field_t *f, const char *want,
             const s_value_t *got)
{
    return tf_err_set(err, TF_ERR_PROTO, "%s.%s: expected %s, got %s", rec->name, f->key, want,
                      s_kind_names[got->kind]);
}

static int s_decode_map(s_reader_t *r, const tf_record_t *rec, void *body, uint32_t pairs,
                        int depth, tf_err_t *err);

static int
s_decode_field(s_reader_t *r, const tf_record_t *rec, const tf_field_t *f, void *body, int depth,
               tf_err_t *err)
{
    char *base = (char *) body + f->offset;
    s_value_t v;
    int rc = s_read(r, &v, err);
    if (rc != TF_OK)
        return tf_err_prefix(err, "%s.%s: ", rec->name, f->key);

    switch (f->kind) {
    case TF_MSG_FIELD_BOOL:
        if (v.kind != V_BOOL)
            return s_type_error(err, rec, f, "boolean", &v);
        *(bool *) base = v.b;
        return TF_OK;
    case TF_MSG_FIELD_UINT:
        if (v.kind == V_INT && v.i >= 0)
            v.u = (uint64_t) v.i;
        else if (v.kind != V_UINT)
            return s_type_error(err, rec, f, "unsigned integer", &v);
        *(uint64_t *) base = v.u;
        return TF_OK;
    case TF_MSG_FIELD_INT:
        if (v.kind == V_UINT) {
            if (v.u > (uint64_t) INT64_MAX)
                return tf_err_set(err, TF_ERR_PROTO, "%s.%s: integer out of range", rec->name, f->key);
            v.i = (int64_t) v.u;
        }
        else if (v.kind != V_INT)
            return s_type_error(err, rec, f, "integer", &v);
        *(int64_t *) base = v.i;
        return TF_OK;
    case TF_MSG_FIELD_STR: {
        if (v.kind != V_STR)
            return s_type_error(err, rec, f, "string", &v);
        if (v.len > f->max)
            return tf_err_set(err, TF_ERR_PROTO, "%s.%s: string of %u bytes is over the limit of %zu",
                              rec->name, f->key, v.len, f->max);
        if (memchr(v.ptr, '\0', v.len))
            return tf_err_set(err, TF_ERR_PROTO, "%s.%s: string contains a NUL byte", rec->name, f->key);
        char *s = malloc((size_t) v.len + 1);
        if (!s)
            return tf_err_set(err, TF_ERR_NOMEM, "%s.%s: out of memory", rec->name, f->key);
        memcpy(s, v.ptr, v.len);
        s[v.len] = '\0';
        *(char **) base = s;
        return TF_OK;
    }
    case TF_MSG_FIELD_BIN: {
        if (v.kind != V_BIN)
            return s_type_error(err, rec, f, "byte string", &v);
        if (v.len > f->max)
            return tf_err_set(err, TF_ERR_PROTO, "%s.%s: %u bytes is over the limit of %zu",
                              rec->name, f->key, v.len, f->max);
        tf_bytes_t *b = (tf_bytes_t *) base;
        /* Allocate at least one byte so a present-but-empty field stays distinguishable. */
        b->data = malloc(v.len ? v.len : 1);
        if (!b->data)
            return tf_err_set(err, TF_ERR_NOMEM, "%s.%s: out of memory", rec->name, f->key);
        if (v.len)
            memcpy(b->data, v.ptr, v.len);
        b->size = v.len;
        return TF_OK;
    }
    case TF_MSG_FIELD_ROWS: {
        if (v.kind != V_ARRAY)
            return s_type_error(err, rec, f, "array", &v);
        if (v.len > f->max)
            return tf_err_set(err, TF_ERR_PROTO, "%s.%s: %u rows is over the limit of %zu",
                              rec->name, f->key, v.len, f->max);
        if (depth + 1 > TF_MSG_MAX_DEPTH)
            return tf_err_set(err, TF_ERR_PROTO, "nested deeper than %d levels", TF_MSG_MAX_DEPTH);
        char *rows = v.len ? calloc(v.len, f->elem->size) : NULL;
        if (v.len && !rows)
            return tf_err_set(err, TF_ERR_NOMEM, "%s.%s: out of memory", rec->name, f->key);
        *(char **) base = rows;
        size_t *count = (size_t *) ((char *) body + f->count_offset);
        *count = 0;
        for (uint32_t i = 0; i < v.len; i++) {
            s_value_t m;
            if ((rc = s_read(r, &m, err)) != TF_OK)
                return rc;
            if (m.kind != V_MAP)
                return tf_err_set(err, TF_ERR_PROTO, "%s.%s[%u]: expected map, got %s", rec->name,
                                  f->key, i, s_kind_names[m.kind]);
            (*count)++;  /* counted before decoding so a failure still frees what it made */
            rc = s_decode_map(r, f->elem, rows + (size_t) i * f->elem->size, m.len, depth + 2, err);
            if (rc != TF_OK)
                return tf_err_prefix(err, "%s.%s[%u]: ", rec->name, f->key, i);
        }
        return TF_OK;
    }
    }
    return tf_err_set(err, TF_ERR_PROTO, "%s.%s: unknown field kind", rec->name, f->key);
}

/* Decodes `pairs` key/value pairs into body. Unknown keys are skipped (newer peers may add
   optional fields); duplicate keys and missing required fields are errors. */
static int
s_decode_map(s_reader_t *r, const tf_record_t *rec, void *body, uint32_t pairs, int depth,
             tf_err_t *err)
{
    uint64_t seen = 0;  /* bit per field; tables have fewer than 64 fields */
    for (uint32_t i = 0; i < pairs; i++) {
        s_value_t k;
        int rc = s_read(r, &k, err);
        if (rc != TF_OK)
            return rc;
        if (k.kind != V_STR)
            return tf_err_set(err, TF_ERR_PROTO, "%s: map key is %s, expected string", rec->name,
                              s_kind_names[k.kind]);
        const tf_field_t *field = NULL;
        size_t index = 0;
        for (size_t j = 0; j < rec->nfields; j++)
            if (s_key_is(&k, rec->fields[j].key)) {
                field = &rec->fields[j];
                index = j;
                break;
            }
        if (!field) {
            if ((rc = s_skip(r, depth + 1, err)) != TF_OK)
                return rc;
            continue;
        }
        if (seen & ((uint64_t) 1 << index))
            return tf_err_set(err, TF_ERR_PROTO, "%s: field '%s' appears twice", rec->name, field->key);
        seen |= (uint64_t) 1 << index;
        if ((rc = s_decode_field(r, rec, field, body, depth, err)) != TF_OK)
            return rc;
    }
    for (size_t j = 0; j < rec->nfields; j++)
        if (rec->fields[j].required && !(seen & ((uint64_t) 1 << j)))
            return tf_err_set(err, TF_ERR_PROTO, "%s: missing required field '%s'", rec->name,
                              rec->fields[j].key);
    return TF_OK;
}

int
tf_msg_decode(const void *data, size_t size, tf_msg_t *msg, tf_err_t *err)
{
    memset(msg, 0, sizeof *msg);
    if (!data || size == 0)
        return tf_err_set(err, TF_ERR_PROTO, "empty message");

    /* Pass 1: structure, counts, depth and trailing bytes, before anything is allocated. */
    s_reader_t r = {data, size};
    int rc = s_skip(&r, 0, err);
    if (rc != TF_OK)
        return rc;
    if (r.left != 0)
        return tf_err_set(err, TF_ERR_PROTO, "%zu trailing bytes after the message", r.left);

    /* Pass 2a: the envelope keys, wherever they are in the map. */
    r = (s_reader_t){data, size};
    s_value_t top;
    if ((rc = s_read(&r, &top, err)) != TF_OK)
        return rc;
    if (top.kind != V_MAP)
        return tf_err_set(err, TF_ERR_PROTO, "message is a msgpack %s, expected a map",
                          s_kind_names[top.kind]);
    bool have_version = false;
    tf_msg_type_t type = TF_MSG_NONE;
    const s_reader_t fields_start = r;
    for (uint32_t i = 0; i < top.len; i++) {
        s_value_t k, v;
        if ((rc = s_read(&r, &k, err)) != TF_OK)
            return rc;
        /* A container key would be read as a header only and shift every pair after it. */
        if (k.kind != V_STR)
            return tf_err_set(err, TF_ERR_PROTO, "message: map key is %s, expected string",
                              s_kind_names[k.kind]);
        if (s_key_is(&k, "v")) {
            if (have_version)
                return tf_err_set(err, TF_ERR_PROTO, "message: field 'v' appears twice");
            if ((rc = s_read(&r, &v, err)) != TF_OK)
                return rc;
            if (v.kind != V_UINT)
                return tf_err_set(err, TF_ERR_PROTO, "protocol version is %s, expected unsigned integer",
                                  s_kind_names[v.kind]);
            if (v.u != TF_PROTO_VERSION)
                return tf_err_set(err, TF_ERR_PROTO,
                                  "protocol version %llu, this program speaks %d "
                                  "(run the same tapeflow version on every host)",
                                  (unsigned long long) v.u, TF_PROTO_VERSION);
            have_version = true;
        }
        else if (s_key_is(&k, "t")) {
            /* A second "t" must not silently win (or be ignored when unknown): peers that keep
               the first and peers that keep the last would read different messages. */
            if (type != TF_MSG_NONE)
                return tf_err_set(err, TF_ERR_PROTO, "message: field 't' appears twice");
            if ((rc = s_read(&r, &v, err)) != TF_OK)
                return rc;
            if (v.kind != V_STR)
                return tf_err_set(err, TF_ERR_PROTO, "message type is %s, expected string",
                                  s_kind_names[v.kind]);
            for (int t = TF_MSG_NONE + 1; t < TF_MSG_TYPE_COUNT; t++)
                if (s_key_is(&v, s_records[t].name))
                    type = (tf_msg_type_t) t;
            if (type == TF_MSG_NONE)
                return tf_err_set(err, TF_ERR_PROTO, "unknown message type '%.*s'",
                                  (int) (v.len > 64 ? 64 : v.len), (const char *) v.ptr);
        }
        else if ((rc = s_skip(&r, 1, err)) != TF_OK)
            return rc;
    }
    if (!have_version)
        return tf_err_set(err, TF_ERR_PROTO, "message has no protocol version ('v')");
    if (type == TF_MSG_NONE)
        return tf_err_set(err, TF_ERR_PROTO, "message has no type ('t')");

    /* Pass 2b: the typed fields; "v" and "t" are not in any table, so they are skipped. */
    r = fields_start;
    msg->type = type;
    rc = s_decode_map(&r, &s_records[type], s_body(msg), top.len, 0, err);
    if (rc != TF_OK)
        tf_msg_clear(msg);
    return rc;
}

/* ---------------------------------------------------------------- clearing ----------- */

static void
s_clear_record(const tf_record_t *rec, void *body)
{
    for (size_t i = 0; i < rec->nfields; i++) {
        const tf_field_t *f = &rec->fields[i];
        char *base = (char *) body + f->offset;
        switch (f->kind) {
        case TF_MSG_FIELD_STR:
            free(*(char **) base);
            *(char **) base = NULL;
            break;
        case TF_MSG_FIELD_BIN:
            free(((tf_bytes_t *) base)->data);
            ((tf_bytes_t *) base)->data = NULL;
            ((tf_bytes_t *) base)->size = 0;
            break;
        case TF_MSG_FIELD_ROWS: {
            char *rows = *(char **) base;
            size_t *count = (size_t *) ((char *) body + f->count_offset);
            for (size_t j = 0; rows && j < *count; j++)
                s_clear_record(f->elem, rows + j * f->elem->size);
            free(rows);
            *(char **) base = NULL;
            *count = 0;
            break;
        }
        default:
            break;
        }
    }
}

void
tf_msg_clear(tf_msg_t *msg)
{
    if (!msg)
        return;
    if (msg->type > TF_MSG_NONE && msg->type < TF_MSG_TYPE_COUNT)
        s_clear_record(&s_records[msg->type], s_body(msg));
    memset(msg, 0, sizeof *msg);
}
