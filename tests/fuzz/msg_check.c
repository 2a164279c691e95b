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

/* Each macro returns false from the enclosing function on the first difference. `W` names the
   record for the message, `A`/`B` are pointers to the two structs being compared. */
#define EQ_STR(f)                                                                           \
    do {                                                                                    \
        if (!s_str_eq(A->f, B->f))                                                          \
            return s_differ(why, why_size, "%s.%s: \"%s\" != \"%s\"", W, #f,                \
                            A->f ? A->f : "(null)", B->f ? B->f : "(null)");                \
    } while (0)
#define EQ_U(f)                                                                             \
    do {                                                                                    \
        if (A->f != B->f)                                                                   \
            return s_differ(why, why_size, "%s.%s: %" PRIu64 " != %" PRIu64, W, #f,         \
                            (uint64_t) A->f, (uint64_t) B->f);                              \
    } while (0)
#define EQ_I(f)                                                                             \
    do {                                                                                    \
        if (A->f != B->f)                                                                   \
            return s_differ(why, why_size, "%s.%s: %" PRId64 " != %" PRId64, W, #f,         \
                            (int64_t) A->f, (int64_t) B->f);                                \
    } while (0)
#define EQ_B(f)                                                                             \
    do {                                                                                    \
        if (A->f != B->f)                                                                   \
            return s_differ(why, why_size, "%s.%s: %d != %d", W, #f, (int) A->f, (int) B->f); \
    } while (0)
#define EQ_BIN(f)                                                                           \
    do {                                                                                    \
        if (!s_bytes_eq(&A->f, &B->f))                                                      \
            return s_differ(why, why_size, "%s.%s: %zu bytes%s != %zu bytes%s", W, #f,      \
                            A->f.size, A->f.data ? "" : " (absent)", B->f.size,             \
                            B->f.data ? "" : " (absent)");                                  \
    } while (0)

static bool
s_service_row_eq(const tf_msg_service_row_t *A, const tf_msg_service_row_t *B, const char *W,
                 char *why, size_t why_size)
{
    EQ_STR(name);
    EQ_U(workers);
    EQ_U(idle);
    EQ_U(queued);
    EQ_U(inflight);
    EQ_U(done);
    EQ_U(failed);
    EQ_U(redelivered);
    EQ_I(oldest_age_ms);
    return true;
}

static bool
s_worker_row_eq(const tf_msg_worker_row_t *A, const tf_msg_worker_row_t *B, const char *W,
                char *why, size_t why_size)
{
    EQ_STR(id);
    EQ_STR(service);
    EQ_STR(name);
    EQ_U(pid);
    EQ_STR(state);
    EQ_STR(item_id);
    EQ_I(idle_ms);
    return true;
}

static bool
s_status_eq(const tf_msg_status_t *A, const tf_msg_status_t *B, char *why, size_t why_size)
{
    const char *W = "status";
    EQ_STR(rid);
    EQ_U(pid);
    EQ_I(uptime_ms);
    EQ_STR(journal);
    EQ_U(recovered);
    EQ_U(services_count);
    EQ_U(workers_count);
    char where[64];
    for (size_t i = 0; i < A->services_count; i++) {
        snprintf(where, sizeof where, "status.services[%zu]", i);
        if (!s_service_row_eq(&A->services[i], &B->services[i], where, why, why_size))
            return false;
    }
    for (size_t i = 0; i < A->workers_count; i++) {
        snprintf(where, sizeof where, "status.workers[%zu]", i);
        if (!s_worker_row_eq(&A->workers[i], &B->workers[i], where, why, why_size))
            return false;
    }
    return true;
}

/* Row arrays: the counts first, then row by row, named "<W>.<field>[i]" in `why`. */
#define EQ_ROWS(f, row_eq)                                                                  \
    do {                                                                                    \
        EQ_U(f##_count);                                                                    \
        for (size_t i_ = 0; i_ < A->f##_count; i_++) {                                      \
            char where_[96];                                                                \
            snprintf(where_, sizeof where_, "%s.%s[%zu]", W, #f, i_);                       \
            if (!row_eq(&A->f[i_], &B->f[i_], where_, why, why_size))                       \
                return false;                                                               \
        }                                                                                   \
    } while (0)

static bool
s_path_row_eq(const tf_msg_path_row_t *A, const tf_msg_path_row_t *B, const char *W, char *why,
              size_t why_size)
{
    EQ_STR(path);
    return true;
}

static bool
s_group_entry_eq(const tf_msg_group_entry_t *A, const tf_msg_group_entry_t *B, const char *W,
                 char *why, size_t why_size)
{
    EQ_STR(path);
    EQ_U(size);
    return true;
}

static bool
s_file_row_eq(const tf_msg_file_row_t *A, const tf_msg_file_row_t *B, const char *W, char *why,
              size_t why_size)
{
    EQ_STR(path);
    EQ_STR(type);
    EQ_U(size);
    EQ_I(mtime);
    EQ_U(mode);
    EQ_U(uid);
    EQ_U(gid);
    EQ_STR(user);
    EQ_STR(group);
    EQ_STR(checksum);
    EQ_U(offset);
    EQ_STR(link);
    EQ_U(mtime_nsec);
    return true;
}

static bool
s_archive_failure_eq(const tf_msg_archive_failure_t *A, const tf_msg_archive_failure_t *B, const char *W,
                     char *why, size_t why_size)
{
    EQ_STR(archive_id);
    EQ_STR(reason);
    return true;
}

static bool
s_job_row_eq(const tf_msg_job_row_t *A, const tf_msg_job_row_t *B, const char *W, char *why,
             size_t why_size)
{
    EQ_STR(job_id);
    EQ_STR(status);
    EQ_STR(stage);
    EQ_STR(message);
    EQ_STR(detail);
    EQ_STR(pool);
    EQ_I(created_ms);
    EQ_I(updated_ms);
    EQ_U(files_total);
    EQ_U(bytes_total);
    EQ_U(files_done);
    EQ_U(bytes_done);
    EQ_U(groups_total);
    EQ_U(archives_written);
    EQ_U(warnings);
    EQ_B(scanned);
    return true;
}

static bool
s_warning_row_eq(const tf_msg_warning_row_t *A, const tf_msg_warning_row_t *B, const char *W, char *why,
                 size_t why_size)
{
    EQ_STR(path);
    EQ_STR(reason);
    EQ_B(missing);
    return true;
}

static bool
s_segment_row_eq(const tf_msg_segment_row_t *A, const tf_msg_segment_row_t *B, const char *W,
                 char *why, size_t why_size)
{
    EQ_STR(volume);
    EQ_U(tape_file);
    EQ_U(block);
    EQ_U(offset);
    EQ_U(length);
    return true;
}

static bool
s_archive_row_eq(const tf_msg_archive_row_t *A, const tf_msg_archive_row_t *B, const char *W,
                 char *why, size_t why_size)
{
    EQ_STR(archive_id);
    EQ_STR(job_id);
    EQ_U(group_no);
    EQ_STR(volume);
    EQ_U(tape_file);
    EQ_U(block);
    EQ_U(blocks);
    EQ_U(size);
    EQ_STR(checksum);
    EQ_U(files);
    EQ_B(written);
    EQ_ROWS(segments, s_segment_row_eq);
    return true;
}

static bool
s_volume_row_eq(const tf_msg_volume_row_t *A, const tf_msg_volume_row_t *B, const char *W,
                char *why, size_t why_size)
{
    EQ_STR(label);
    EQ_STR(pool);
    EQ_STR(state);
    EQ_STR(media_type);
    EQ_I(created_ms);
    EQ_I(expires_ms);
    EQ_U(bytes_used);
    EQ_I(last_written_ms);
    EQ_U(write_errors);
    EQ_U(read_errors);
    EQ_U(tape_files);
    EQ_STR(drive);
    EQ_I(updated_ms);
    return true;
}

bool
tf_msg_equal(const tf_msg_t *a, const tf_msg_t *b, char *why, size_t why_size)
{
    if (a->type != b->type)
        return s_differ(why, why_size, "type %s != %s", tf_msg_type_name(a->type),
                        tf_msg_type_name(b->type));
    switch (a->type) {
    case TF_MSG_READY: {
        const tf_msg_ready_t *A = &a->ready, *B = &b->ready;
        const char *W = "ready";
        EQ_STR(service);
        EQ_STR(worker);
        EQ_STR(host);
        EQ_U(pid);
        return true;
    }
    case TF_MSG_HEARTBEAT: {
        const tf_msg_heartbeat_t *A = &a->heartbeat, *B = &b->heartbeat;
        const char *W = "heartbeat";
        EQ_U(ts);
        return true;
    }
    case TF_MSG_DISCONNECT: {
        const tf_msg_disconnect_t *A = &a->disconnect, *B = &b->disconnect;
        const char *W = "disconnect";
        EQ_STR(reason);
        return true;
    }
    case TF_MSG_WORK: {
        const tf_msg_work_t *A = &a->work, *B = &b->work;
        const char *W = "work";
        EQ_STR(item_id);
        EQ_STR(service);
        EQ_STR(job_id);
        EQ_U(attempt);
        EQ_BIN(payload);
        return true;
    }
    case TF_MSG_PROGRESS: {
        const tf_msg_progress_t *A = &a->progress, *B = &b->progress;
        const char *W = "progress";
        EQ_STR(item_id);
        EQ_U(attempt);
        EQ_U(done);
        EQ_U(total);
        EQ_STR(message);
        return true;
    }
    case TF_MSG_DONE: {
        const tf_msg_done_t *A = &a->done, *B = &b->done;
        const char *W = "done";
        EQ_STR(item_id);
        EQ_U(attempt);
        EQ_BIN(result);
        return true;
    }
    case TF_MSG_FAILED: {
        const tf_msg_failed_t *A = &a->failed, *B = &b->failed;
        const char *W = "failed";
        EQ_STR(item_id);
        EQ_U(attempt);
        EQ_STR(reason);
        EQ_B(retry);
        return true;
    }
    case TF_MSG_SUBMIT: {
        const tf_msg_submit_t *A = &a->submit, *B = &b->submit;
        const char *W = "submit";
        EQ_STR(rid);
        EQ_STR(service);
        EQ_STR(item_id);
        EQ_STR(job_id);
        EQ_BIN(payload);
        return true;
    }
    case TF_MSG_SUBMIT_OK: {
        const tf_msg_submit_ok_t *A = &a->submit_ok, *B = &b->submit_ok;
        const char *W = "submit_ok";
        EQ_STR(rid);
        EQ_STR(item_id);
        EQ_STR(state);
        EQ_B(existed);
        return true;
    }
    case TF_MSG_ITEM_GET: {
        const tf_msg_item_get_t *A = &a->item_get, *B = &b->item_get;
        const char *W = "item_get";
        EQ_STR(rid);
        EQ_STR(item_id);
        return true;
    }
    case TF_MSG_ITEM_INFO: {
        const tf_msg_item_info_t *A = &a->item_info, *B = &b->item_info;
        const char *W = "item_info";
        EQ_STR(rid);
        EQ_STR(item_id);
        EQ_STR(service);
        EQ_STR(job_id);
        EQ_STR(state);
        EQ_U(attempts);
        EQ_STR(worker);
        EQ_STR(reason);
        EQ_BIN(result);
        EQ_I(created_ms);
        EQ_I(updated_ms);
        return true;
    }
    case TF_MSG_STATUS_GET: {
        const tf_msg_status_get_t *A = &a->status_get, *B = &b->status_get;
        const char *W = "status_get";
        EQ_STR(rid);
        return true;
    }
    case TF_MSG_STATUS:
        return s_status_eq(&a->status, &b->status, why, why_size);
    case TF_MSG_ERROR: {
        const tf_msg_error_t *A = &a->error, *B = &b->error;
        const char *W = "error";
        EQ_STR(rid);
        EQ_I(code);
        EQ_STR(message);
        return true;
    }
    case TF_MSG_EVENT: {
        const tf_msg_event_t *A = &a->event, *B = &b->event;
        const char *W = "event";
        EQ_STR(topic);
        EQ_I(time_ms);
        EQ_STR(source);
        EQ_U(seq);
        EQ_STR(level);
        EQ_STR(message);
        EQ_STR(job_id);
        EQ_STR(item_id);
        EQ_U(done);
        EQ_U(total);
        EQ_ROWS(job, s_job_row_eq);
        return true;
    }
    case TF_MSG_SCAN_JOB: {
        const tf_msg_scan_job_t *A = &a->scan_job, *B = &b->scan_job;
        const char *W = "scan_job";
        EQ_STR(job_id);
        EQ_ROWS(paths, s_path_row_eq);
        EQ_U(group_bytes);
        EQ_B(one_fs);
        EQ_STR(compression);
        EQ_STR(pool);
        return true;
    }
    case TF_MSG_FILE_GROUP: {
        const tf_msg_file_group_t *A = &a->file_group, *B = &b->file_group;
        const char *W = "file_group";
        EQ_STR(job_id);
        EQ_STR(archive_id);
        EQ_U(group_no);
        EQ_STR(compression);
        EQ_STR(pool);
        EQ_ROWS(entries, s_group_entry_eq);
        return true;
    }
    case TF_MSG_STAGE_OPEN: {
        const tf_msg_stage_open_t *A = &a->stage_open, *B = &b->stage_open;
        const char *W = "stage_open";
        EQ_STR(archive_id);
        EQ_STR(job_id);
        EQ_U(group_no);
        EQ_STR(compression);
        EQ_STR(pool);
        return true;
    }
    case TF_MSG_STAGE_CREDIT: {
        const tf_msg_stage_credit_t *A = &a->stage_credit, *B = &b->stage_credit;
        const char *W = "stage_credit";
        EQ_STR(archive_id);
        EQ_U(bytes);
        return true;
    }
    case TF_MSG_STAGE_DATA: {
        const tf_msg_stage_data_t *A = &a->stage_data, *B = &b->stage_data;
        const char *W = "stage_data";
        EQ_STR(archive_id);
        EQ_U(offset);
        EQ_BIN(data);
        return true;
    }
    case TF_MSG_STAGE_CLOSE: {
        const tf_msg_stage_close_t *A = &a->stage_close, *B = &b->stage_close;
        const char *W = "stage_close";
        EQ_STR(archive_id);
        EQ_U(size);
        EQ_STR(checksum);
        EQ_U(files);
        EQ_U(bytes);
        EQ_U(rows_parts);
        return true;
    }
    case TF_MSG_STAGE_ROWS: {
        const tf_msg_stage_rows_t *A = &a->stage_rows, *B = &b->stage_rows;
        const char *W = "stage_rows";
        EQ_STR(archive_id);
        EQ_U(part);
        EQ_ROWS(files, s_file_row_eq);
        return true;
    }
    case TF_MSG_STAGE_RESULT: {
        const tf_msg_stage_result_t *A = &a->stage_result, *B = &b->stage_result;
        const char *W = "stage_result";
        EQ_STR(archive_id);
        EQ_B(ok);
        EQ_STR(message);
        return true;
    }
    case TF_MSG_FETCH: {
        const tf_msg_fetch_t *A = &a->fetch, *B = &b->fetch;
        const char *W = "fetch";
        EQ_STR(archive_id);
        EQ_U(offset);
        EQ_U(length);
        EQ_B(rows);
        return true;
    }
    case TF_MSG_FETCH_DATA: {
        const tf_msg_fetch_data_t *A = &a->fetch_data, *B = &b->fetch_data;
        const char *W = "fetch_data";
        EQ_STR(archive_id);
        EQ_U(offset);
        EQ_BIN(data);
        EQ_B(eof);
        EQ_STR(error);
        EQ_B(rows);
        return true;
    }
    case TF_MSG_ARCHIVE_READY: {
        const tf_msg_archive_ready_t *A = &a->archive_ready, *B = &b->archive_ready;
        const char *W = "archive_ready";
        EQ_STR(archive_id);
        EQ_STR(job_id);
        EQ_U(group_no);
        EQ_STR(pool);
        EQ_STR(compression);
        EQ_U(size);
        EQ_STR(checksum);
        EQ_U(files);
        EQ_U(bytes);
        EQ_STR(stager);
        EQ_U(rows_size);
        EQ_STR(rows_checksum);
        return true;
    }
    case TF_MSG_ARCHIVE_RELEASE: {
        const tf_msg_archive_release_t *A = &a->archive_release, *B = &b->archive_release;
        const char *W = "archive_release";
        EQ_STR(archive_id);
        return true;
    }
    case TF_MSG_CAT_JOB: {
        const tf_msg_cat_job_t *A = &a->cat_job, *B = &b->cat_job;
        const char *W = "cat_job";
        EQ_STR(job_id);
        EQ_STR(op);
        EQ_STR(stage);
        EQ_STR(message);
        EQ_STR(detail);
        EQ_ROWS(paths, s_path_row_eq);
        EQ_STR(pool);
        EQ_STR(compression);
        EQ_U(files_total);
        EQ_U(bytes_total);
        EQ_U(groups_total);
        EQ_U(warnings);
        EQ_I(time_ms);
        return true;
    }
    case TF_MSG_CAT_FILES: {
        const tf_msg_cat_files_t *A = &a->cat_files, *B = &b->cat_files;
        const char *W = "cat_files";
        EQ_STR(job_id);
        EQ_STR(archive_id);
        EQ_U(part);
        EQ_ROWS(files, s_file_row_eq);
        EQ_ROWS(warnings, s_warning_row_eq);
        return true;
    }
    case TF_MSG_CAT_WRITTEN: {
        const tf_msg_cat_written_t *A = &a->cat_written, *B = &b->cat_written;
        const char *W = "cat_written";
        EQ_STR(job_id);
        EQ_STR(archive_id);
        EQ_U(group_no);
        EQ_STR(volume);
        EQ_STR(drive);
        EQ_U(tape_file);
        EQ_U(block);
        EQ_U(blocks);
        EQ_U(size);
        EQ_STR(checksum);
        EQ_U(files);
        EQ_U(bytes);
        EQ_ROWS(segments, s_segment_row_eq);
        EQ_U(segment);
        return true;
    }
    case TF_MSG_CAT_QUERY: {
        const tf_msg_cat_query_t *A = &a->cat_query, *B = &b->cat_query;
        const char *W = "cat_query";
        EQ_STR(query);
        EQ_STR(job_id);
        EQ_STR(pattern);
        EQ_U(limit);
        return true;
    }
    case TF_MSG_CAT_REPLY: {
        const tf_msg_cat_reply_t *A = &a->cat_reply, *B = &b->cat_reply;
        const char *W = "cat_reply";
        EQ_ROWS(jobs, s_job_row_eq);
        EQ_ROWS(files, s_file_row_eq);
        EQ_ROWS(archives, s_archive_row_eq);
        EQ_B(truncated);
        EQ_ROWS(volumes, s_volume_row_eq);
        EQ_ROWS(missing, s_warning_row_eq);
        return true;
    }
    case TF_MSG_TAPE_RESTORE: {
        const tf_msg_tape_restore_t *A = &a->tape_restore, *B = &b->tape_restore;
        const char *W = "tape_restore";
        EQ_STR(job_id);
        EQ_STR(dest);
        EQ_ROWS(patterns, s_path_row_eq);
        EQ_ROWS(archives, s_archive_row_eq);
        EQ_STR(overwrite);
        EQ_U(strip_components);
        EQ_B(flat);
        return true;
    }
    case TF_MSG_RESTORE_RESULT: {
        const tf_msg_restore_result_t *A = &a->restore_result, *B = &b->restore_result;
        const char *W = "restore_result";
        EQ_U(files);
        EQ_U(bytes);
        EQ_U(archives_read);
        EQ_U(blocks_read);
        EQ_U(warnings);
        EQ_STR(message);
        EQ_U(refused);
        EQ_U(kept);
        EQ_U(collisions);
        EQ_ROWS(failures, s_archive_failure_eq);
        EQ_U(present);
        return true;
    }
    case TF_MSG_CAT_VOLUME: {
        const tf_msg_cat_volume_t *A = &a->cat_volume, *B = &b->cat_volume;
        const char *W = "cat_volume";
        EQ_STR(label);
        EQ_STR(pool);
        EQ_STR(state);
        EQ_STR(media_type);
        EQ_I(created_ms);
        EQ_I(expires_ms);
        EQ_U(bytes_used);
        EQ_I(last_written_ms);
        EQ_U(write_errors);
        EQ_U(read_errors);
        EQ_U(tape_files);
        EQ_STR(drive);
        EQ_I(time_ms);
        return true;
    }
    case TF_MSG_JOB_OP: {
        const tf_msg_job_op_t *A = &a->job_op, *B = &b->job_op;
        const char *W = "job_op";
        EQ_STR(rid);
        EQ_STR(job_id);
        EQ_STR(op);
        EQ_STR(message);
        EQ_STR(spare);
        return true;
    }
    case TF_MSG_JOB_OP_OK: {
        const tf_msg_job_op_ok_t *A = &a->job_op_ok, *B = &b->job_op_ok;
        const char *W = "job_op_ok";
        EQ_STR(rid);
        EQ_STR(job_id);
        EQ_STR(op);
        EQ_U(cancelled);
        EQ_U(abandoned);
        EQ_U(requeued);
        EQ_STR(catalog_item);
        return true;
    }
    case TF_MSG_STAGE_PURGE: {
        const tf_msg_stage_purge_t *A = &a->stage_purge, *B = &b->stage_purge;
        const char *W = "stage_purge";
        EQ_STR(job_id);
        EQ_B(dry_run);
        return true;
    }
    case TF_MSG_STAGE_PURGE_RESULT: {
        const tf_msg_stage_purge_result_t *A = &a->stage_purge_result, *B = &b->stage_purge_result;
        const char *W = "stage_purge_result";
        EQ_STR(job_id);
        EQ_ROWS(files, s_path_row_eq);
        EQ_U(archives);
        EQ_U(bytes);
        return true;
    }
    case TF_MSG_NONE:
    case TF_MSG_TYPE_COUNT:
        break;
    }
    /* No default above, so -Wswitch flags a new type added to TF_MSG_TYPES but not here. */
    return s_differ(why, why_size, "no comparison for type %d", (int) a->type);
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
