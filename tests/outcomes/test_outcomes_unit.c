/*  Honest job outcomes in the catalog, without processes (issue 8 items 1, 6 and 14):
    - entries the compressor skipped reach the job's warnings once (a redelivered cat_files
      counts nothing twice) and its missing list; a job with files_done below files_total ends
      completed_with_warnings, or failed when nothing was stored;
    - a new label generation of a volume (recycled) makes the completed jobs on it expired;
    - job events (stage changes, one final event) only for changes that committed, never again
      for a redelivered item. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "tf_testproc.h"

#define S_MAX_EVENTS 64

typedef struct {
    char *dir;
    char db[512];
    catalog_t *cat;
    int64_t now;
    tf_err_t err;
    char topics[S_MAX_EVENTS][160];
    char statuses[S_MAX_EVENTS][40];
    uint64_t files_done[S_MAX_EVENTS];
    int events;
} fx_t;

static int64_t
s_clock(void *arg)
{
    return ((fx_t *) arg)->now;
}

static void
s_event(void *arg, const char *topic, const char *level, const tf_msg_job_row_t *job)
{
    fx_t *fx = arg;
    assert_non_null(level);
    if (fx->events < S_MAX_EVENTS) {
        snprintf(fx->topics[fx->events], sizeof fx->topics[0], "%s", topic);
        snprintf(fx->statuses[fx->events], sizeof fx->statuses[0], "%s", job->status);
        fx->files_done[fx->events] = job->files_done;
    }
    fx->events++;
}

static int
s_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->dir = tf_test_tempdir("tfout");
    assert_non_null(fx->dir);
    snprintf(fx->db, sizeof fx->db, "%s/catalog.db", fx->dir);
    fx->now = 1700000000000;
    tf_err_t err = {0};
    fx->cat = catalog_open(fx->db, &err);
    if (!fx->cat)
        fail_msg("catalog_open: %s", err.message);
    catalog_set_clock(fx->cat, s_clock, fx);
    catalog_set_events(fx->cat, s_event, fx);
    *state = fx;
    return 0;
}

static int
s_teardown(void **state)
{
    fx_t *fx = *state;
    catalog_destroy(&fx->cat);
    tf_test_rmtree(fx->dir);
    free(fx->dir);
    free(fx);
    return 0;
}

static int
s_item(fx_t *fx, const tf_msg_t *msg, tf_msg_t *reply)
{
    uint8_t *data = NULL;
    size_t size = 0;
    tf_err_t err = {0};
    if (tf_msg_encode(msg, &data, &size, &err) != TF_OK)
        fail_msg("encode: %s", err.message);
    tf_msg_work_t work = {.item_id = "item-1", .service = "catalog", .attempt = 1, .payload = {data, size}};
    tf_err_clear(&fx->err);
    tf_msg_t local;
    int rc = catalog_handle_item(fx->cat, &work, reply ? reply : &local, &fx->err);
    if (!reply)
        tf_msg_clear(&local);
    free(data);
    return rc;
}

static void
s_ok(fx_t *fx, const tf_msg_t *msg)
{
    if (s_item(fx, msg, NULL) != TF_OK)
        fail_msg("item failed: %s", fx->err.message);
}

static void
s_job_op(fx_t *fx, const char *job, const char *op, const char *stage, int64_t time_ms, uint64_t files_total,
         uint64_t groups, uint64_t warnings)
{
    tf_msg_t m = {.type = TF_MSG_CAT_JOB};
    m.cat_job = (tf_msg_cat_job_t){.job_id = (char *) job, .op = (char *) op, .stage = (char *) stage,
                                   .time_ms = time_ms, .files_total = files_total, .bytes_total = files_total * 100,
                                   .groups_total = groups, .warnings = warnings, .pool = "default",
                                   .message = strcmp(op, "scanned") == 0 ? "scanned" : NULL};
    s_ok(fx, &m);
}

/* cat_files part 1 of "<job>-g<group>": rows stored (paths data/fNNNNN) and skipped entries
   (paths /src/skipped-NNNNN). */
static void
s_files(fx_t *fx, const char *job, int group, int stored, int skipped)
{
    char archive[128];
    snprintf(archive, sizeof archive, "%s-g%05d", job, group);
    tf_msg_file_row_t rows[16] = {0};
    tf_msg_warning_row_t warnings[16] = {0};
    char paths[16][64], wpaths[16][64];
    for (int i = 0; i < stored; i++) {
        snprintf(paths[i], sizeof paths[i], "data/g%d-f%05d", group, i);
        rows[i] = (tf_msg_file_row_t){.path = paths[i], .type = "file", .size = 100};
    }
    for (int i = 0; i < skipped; i++) {
        snprintf(wpaths[i], sizeof wpaths[i], "/src/g%d-skipped-%05d", group, i);
        warnings[i] = (tf_msg_warning_row_t){.path = wpaths[i], .reason = "skipped: vanished since the scan",
                                             .missing = true};
    }
    tf_msg_t m = {.type = TF_MSG_CAT_FILES};
    m.cat_files = (tf_msg_cat_files_t){.job_id = (char *) job, .archive_id = archive, .part = 1, .files = rows,
                                       .files_count = (size_t) stored, .warnings = warnings,
                                       .warnings_count = (size_t) skipped};
    s_ok(fx, &m);
}

static void
s_written(fx_t *fx, const char *job, int group, const char *volume, uint64_t tape_file, uint64_t files)
{
    char archive[128];
    snprintf(archive, sizeof archive, "%s-g%05d", job, group);
    tf_msg_t m = {.type = TF_MSG_CAT_WRITTEN};
    m.cat_written = (tf_msg_cat_written_t){.job_id = (char *) job, .archive_id = archive, .volume = (char *) volume,
                                           .drive = "tape0", .tape_file = tape_file, .block = tape_file * 10,
                                           .blocks = 5, .size = 4096, .checksum = "xxh128:ab", .files = files,
                                           .bytes = files * 100};
    s_ok(fx, &m);
}

static void
s_volume(fx_t *fx, const char *label, int64_t created_ms, uint64_t tape_files, int64_t last_written_ms,
         int64_t time_ms)
{
    tf_msg_t m = {.type = TF_MSG_CAT_VOLUME};
    m.cat_volume = (tf_msg_cat_volume_t){.label = (char *) label, .pool = "default", .state = "appendable",
                                         .created_ms = created_ms, .tape_files = tape_files,
                                         .last_written_ms = last_written_ms, .time_ms = time_ms};
    s_ok(fx, &m);
}

typedef struct {
    char status[40], stage[32], message[4200], detail[4200];
    uint64_t files_done, files_total, warnings;
} s_job_t;

static s_job_t
s_get(fx_t *fx, const char *job)
{
    tf_msg_t q = {.type = TF_MSG_CAT_QUERY}, r;
    q.cat_query = (tf_msg_cat_query_t){.query = "job", .job_id = (char *) job};
    if (s_item(fx, &q, &r) != TF_OK)
        fail_msg("job query: %s", fx->err.message);
    assert_int_equal(r.cat_reply.jobs_count, 1);
    const tf_msg_job_row_t *j = &r.cat_reply.jobs[0];
    s_job_t out = {0};
    snprintf(out.status, sizeof out.status, "%s", j->status);
    snprintf(out.stage, sizeof out.stage, "%s", j->stage ? j->stage : "");
    snprintf(out.message, sizeof out.message, "%s", j->message ? j->message : "");
    snprintf(out.detail, sizeof out.detail, "%s", j->detail ? j->detail : "");
    out.files_done = j->files_done;
    out.files_total = j->files_total;
    out.warnings = j->warnings;
    tf_msg_clear(&r);
    return out;
}

/* --- missing entries ---------------------------------------------------------------------- */

static void
test_skipped_entries_make_warnings(void **state)
{
    fx_t *fx = *state;
    s_job_op(fx, "J1", "create", NULL, 1000, 0, 0, 0);
    s_job_op(fx, "J1", "scanned", "scan", 2000, 6, 2, 1);   /* one scan warning */
    s_files(fx, "J1", 1, 3, 1);
    s_written(fx, "J1", 1, "TF0001", 1, 3);
    /* g2 stored nothing: written with 0 files (the tape writer has no rows to wait for), so the
       job ends before g2's part 1 with its warnings; they still count, the message is made again,
       and there is no second end event. */
    s_written(fx, "J1", 2, "TF0001", 2, 0);
    s_job_t j = s_get(fx, "J1");
    assert_string_equal(j.status, "completed_with_warnings");
    assert_int_equal(j.warnings, 2);
    if (!strstr(j.message, "completed with warnings: 3 of 6 files missing"))
        fail_msg("message: %s", j.message);
    int ends = fx->events;
    s_files(fx, "J1", 2, 0, 2);
    assert_int_equal(fx->events, ends);
    j = s_get(fx, "J1");
    assert_string_equal(j.status, "completed_with_warnings");
    assert_int_equal(j.files_done, 3);
    assert_int_equal(j.warnings, 4);   /* 1 scan + 3 skipped */
    if (!strstr(j.message, "completed with warnings: 3 of 6 files missing (list them with: tapeflow job J1 "
                           "--missing); 4 warnings: /src/g1-skipped-00000: skipped: vanished since the scan"))
        fail_msg("message: %s", j.message);
    if (!strstr(j.message, "; scan: scanned"))
        fail_msg("message without the scan's: %s", j.message);
    /* Redelivered parts count nothing twice. */
    s_files(fx, "J1", 1, 3, 1);
    s_files(fx, "J1", 2, 0, 2);
    assert_int_equal(s_get(fx, "J1").warnings, 4);

    tf_msg_t q = {.type = TF_MSG_CAT_QUERY}, r;
    q.cat_query = (tf_msg_cat_query_t){.query = "missing", .job_id = "J1"};
    assert_int_equal(s_item(fx, &q, &r), TF_OK);
    assert_int_equal(r.cat_reply.missing_count, 3);
    assert_string_equal(r.cat_reply.missing[0].path, "/src/g1-skipped-00000");
    assert_string_equal(r.cat_reply.missing[1].path, "/src/g2-skipped-00000");
    assert_string_equal(r.cat_reply.missing[2].path, "/src/g2-skipped-00001");
    assert_string_equal(r.cat_reply.missing[2].reason, "skipped: vanished since the scan");
    tf_msg_clear(&r);
    q.cat_query.pattern = "src/g2-*";
    assert_int_equal(s_item(fx, &q, &r), TF_OK);
    assert_int_equal(r.cat_reply.missing_count, 2);
    tf_msg_clear(&r);
    q.cat_query = (tf_msg_cat_query_t){.query = "missing", .job_id = "J-none"};
    assert_int_equal(s_item(fx, &q, &r), TF_ERR_NOTFOUND);
    tf_msg_clear(&r);

    /* A failure reported later keeps the outcome (its data is on tape). */
    s_job_op(fx, "J1", "failed", "stager", 9000, 0, 0, 0);
    assert_string_equal(s_get(fx, "J1").status, "completed_with_warnings");
}

static void
test_nothing_stored_fails(void **state)
{
    fx_t *fx = *state;
    s_job_op(fx, "J2", "create", NULL, 1000, 0, 0, 0);
    s_job_op(fx, "J2", "scanned", "scan", 2000, 2, 1, 0);
    s_files(fx, "J2", 1, 0, 2);
    s_written(fx, "J2", 1, "TF0001", 1, 0);
    s_job_t j = s_get(fx, "J2");
    assert_int_equal(j.warnings, 2);
    assert_string_equal(j.status, "failed");
    if (!strstr(j.message, "failed: none of the 2 scanned entries could be stored (2 missing; list them "
                           "with: tapeflow job J2 --missing)"))
        fail_msg("message: %s", j.message);
    assert_non_null(strstr(j.detail, "/src/g1-skipped-00000: skipped: vanished since the scan"));

    /* On tape before its warnings: failed at once, the reasons follow into detail and message. */
    s_job_op(fx, "J4", "scanned", "scan", 2000, 2, 1, 0);
    s_written(fx, "J4", 1, "TF0001", 3, 0);
    j = s_get(fx, "J4");
    assert_string_equal(j.status, "failed");
    assert_string_equal(j.detail, "no archive stored any of the scanned entries");
    int ends = fx->events;
    s_files(fx, "J4", 1, 0, 2);
    j = s_get(fx, "J4");
    assert_string_equal(j.status, "failed");
    assert_int_equal(j.warnings, 2);
    assert_non_null(strstr(j.detail, "/src/g1-skipped-00000: skipped: vanished since the scan"));
    assert_non_null(strstr(j.message, "(2 missing; list them with: tapeflow job J4 --missing); /src/g1-skipped"));
    assert_int_equal(fx->events, ends);

    /* Everything stored, no warnings: plain completed as before. */
    s_job_op(fx, "J3", "scanned", "scan", 2000, 3, 1, 0);
    s_files(fx, "J3", 1, 3, 0);
    s_written(fx, "J3", 1, "TF0001", 2, 3);
    j = s_get(fx, "J3");
    assert_string_equal(j.status, "completed");
    assert_non_null(strstr(j.message, "completed: 3 files"));
}

/* --- recycled volumes --------------------------------------------------------------------- */

static void
test_recycled_volume_expires_jobs(void **state)
{
    fx_t *fx = *state;
    s_job_op(fx, "JA", "scanned", "scan", 2000, 2, 1, 0);
    s_files(fx, "JA", 1, 2, 0);
    s_written(fx, "JA", 1, "TF0001", 1, 2);
    s_job_op(fx, "JB", "scanned", "scan", 2000, 1, 1, 0);
    s_files(fx, "JB", 1, 1, 0);
    s_written(fx, "JB", 1, "TF0002", 1, 1);
    s_volume(fx, "TF0001", 1000, 2, fx->now, fx->now);
    s_volume(fx, "TF0002", 1000, 2, fx->now, fx->now);
    assert_string_equal(s_get(fx, "JA").status, "completed");
    int before = fx->events;

    /* TF0001 relabelled (recycled): a new generation with nothing written. */
    fx->now += 60000;
    s_volume(fx, "TF0001", 1700000050000, 1, 0, fx->now);
    s_job_t j = s_get(fx, "JA");
    assert_string_equal(j.status, "expired");
    if (!strstr(j.message, "expired: tape TF0001 was relabelled for pool default on 2023-11-14T22:14:10.000Z "
                           "(recycled); the 1 archive of this job on it is gone and cannot be restored"))
        fail_msg("message: %s", j.message);
    assert_string_equal(s_get(fx, "JB").status, "completed");
    assert_int_equal(fx->events, before + 1);
    assert_string_equal(fx->topics[before], "job.JA.expired");
    assert_string_equal(fx->statuses[before], "expired");

    /* A new job written to the new generation, then its report: stays completed. */
    fx->now += 1000;
    s_job_op(fx, "JC", "scanned", "scan", 2000, 1, 1, 0);
    s_files(fx, "JC", 1, 1, 0);
    s_written(fx, "JC", 1, "TF0001", 1, 1);
    s_volume(fx, "TF0001", 1700000050000, 2, fx->now, fx->now);
    s_volume(fx, "TF0001", 1700000050000, 1, 0, fx->now - 5000);   /* late, older: ignored */
    assert_string_equal(s_get(fx, "JC").status, "completed");
    /* A later generation learnt only from a report that counts its archives: jobs written before
       the label are expired, not the later ones. */
    fx->now += 120000;
    int64_t gen3 = fx->now - 30000;
    s_volume(fx, "TF0001", gen3, 2, fx->now, fx->now);
    assert_string_equal(s_get(fx, "JC").status, "expired");
    assert_string_equal(s_get(fx, "JB").status, "completed");
    /* Labels count whole seconds: relabelled within the same second as the label before, the
       volume that held archives and now holds none is a new generation too. */
    s_job_op(fx, "JS", "scanned", "scan", 2000, 1, 1, 0);
    s_files(fx, "JS", 1, 1, 0);
    s_written(fx, "JS", 1, "TF0003", 1, 1);
    s_volume(fx, "TF0003", 1700000100000, 2, fx->now, fx->now);
    assert_string_equal(s_get(fx, "JS").status, "completed");
    s_volume(fx, "TF0003", 1700000100000, 1, 0, fx->now + 10);
    assert_string_equal(s_get(fx, "JS").status, "expired");
    /* The expired stays expired: a failure report changes nothing. */
    s_job_op(fx, "JA", "failed", "tape", 0, 0, 0, 0);
    assert_string_equal(s_get(fx, "JA").status, "expired");
}

/* --- review fixes: lost archives, the scan's message, notes, operator events --------------- */

static void
s_msg(fx_t *fx, const char *job, const char *op, const char *stage, int64_t time_ms, const char *message)
{
    tf_msg_t m = {.type = TF_MSG_CAT_JOB};
    m.cat_job = (tf_msg_cat_job_t){.job_id = (char *) job, .op = (char *) op, .stage = (char *) stage,
                                   .time_ms = time_ms, .message = (char *) message};
    s_ok(fx, &m);
}

/* The archives query's rows of job (lost flags by group; -1 when the group is not listed). */
static void
s_lost_flags(fx_t *fx, const char *job, int lost[3], int64_t lost_ms[3])
{
    tf_msg_t q = {.type = TF_MSG_CAT_QUERY}, r;
    q.cat_query = (tf_msg_cat_query_t){.query = "archives", .job_id = (char *) job};
    if (s_item(fx, &q, &r) != TF_OK)
        fail_msg("archives query: %s", fx->err.message);
    for (int i = 0; i < 3; i++)
        lost[i] = -1, lost_ms[i] = 0;
    for (size_t i = 0; i < r.cat_reply.archives_count; i++) {
        uint64_t g = r.cat_reply.archives[i].group_no;
        if (g >= 1 && g <= 3) {
            lost[g - 1] = r.cat_reply.archives[i].lost;
            lost_ms[g - 1] = r.cat_reply.archives[i].lost_ms;
        }
    }
    tf_msg_clear(&r);
}

/* F2: a recycled tape loses the archives of jobs of every status; a job on two tapes keeps the
   other tape's archives (restorable), and a job still going can never complete. */
static void
test_recycled_volume_loses_archives_of_every_job(void **state)
{
    fx_t *fx = *state;
    /* JM: completed on two tapes. */
    s_job_op(fx, "JM", "scanned", "scan", 2000, 5, 2, 0);
    s_files(fx, "JM", 1, 2, 0);
    s_written(fx, "JM", 1, "TF0007", 1, 2);
    s_files(fx, "JM", 2, 3, 0);
    s_written(fx, "JM", 2, "TF0008", 1, 3);
    /* JR: running, its first archive on TF0007, the second not written yet. */
    s_job_op(fx, "JR", "scanned", "scan", 2000, 2, 2, 0);
    s_files(fx, "JR", 1, 1, 0);
    s_written(fx, "JR", 1, "TF0007", 2, 1);
    /* JX: cancelled with its archive on TF0007. */
    s_job_op(fx, "JX", "scanned", "scan", 2000, 2, 2, 0);
    s_files(fx, "JX", 1, 1, 0);
    s_written(fx, "JX", 1, "TF0007", 3, 1);
    s_msg(fx, "JX", "cancelled", NULL, 0, "cancelled by alice");
    s_volume(fx, "TF0007", 1000, 4, fx->now, fx->now);
    assert_string_equal(s_get(fx, "JM").status, "completed");
    assert_string_equal(s_get(fx, "JR").status, "running");

    fx->now += 60000;
    s_volume(fx, "TF0007", 1700000050000, 1, 0, fx->now);
    s_job_t j = s_get(fx, "JM");
    assert_string_equal(j.status, "expired");
    assert_int_equal(j.files_done, 3);          /* only TF0008's archive counts now */
    int lost[3];
    int64_t lost_ms[3];
    s_lost_flags(fx, "JM", lost, lost_ms);
    assert_int_equal(lost[0], 1);
    assert_int_equal(lost_ms[0], 1700000050000);
    assert_int_equal(lost[1], 0);
    assert_int_equal(lost_ms[1], 0);

    j = s_get(fx, "JR");
    assert_string_equal(j.status, "failed");
    assert_int_equal(j.files_done, 0);
    if (!strstr(j.message, "tape TF0007 was relabelled") || !strstr(j.detail, "tape TF0007 was relabelled"))
        fail_msg("JR: %s / %s", j.message, j.detail);
    /* Its last archive arrives: it does not complete with an archive that is gone. */
    s_files(fx, "JR", 2, 1, 0);
    s_written(fx, "JR", 2, "TF0008", 2, 1);
    assert_string_equal(s_get(fx, "JR").status, "failed");
    s_lost_flags(fx, "JR", lost, lost_ms);
    assert_int_equal(lost[0], 1);
    assert_int_equal(lost[1], 0);
    /* A retry cannot bring the archive back: refused (the job stays failed). */
    s_msg(fx, "JR", "retried", NULL, 0, "retried by bob");
    assert_string_equal(s_get(fx, "JR").status, "failed");

    j = s_get(fx, "JX");
    assert_string_equal(j.status, "cancelled");
    if (!strstr(j.message, "cancelled by alice; tape TF0007 was relabelled"))
        fail_msg("JX: %s", j.message);
    /* The last archive of the cancelled job: still not complete (its first is lost). */
    s_files(fx, "JX", 2, 1, 0);
    s_written(fx, "JX", 2, "TF0008", 3, 1);
    j = s_get(fx, "JX");
    assert_string_equal(j.status, "cancelled");
    assert_null(strstr(j.message, "reached tape"));
}

/* F3: the final message uses the scan's own message, not what a later note or retry wrote. */
static void
test_outcome_uses_the_scans_message(void **state)
{
    fx_t *fx = *state;
    s_job_op(fx, "JW", "create", NULL, 1000, 0, 0, 0);
    s_job_op(fx, "JW", "scanned", "scan", 2000, 2, 1, 1);   /* one scan warning, message "scanned" */
    s_msg(fx, "JW", "stage", "stage", 3000, "waiting for holding-disk space");
    s_msg(fx, "JW", "stage", "stage", 4000, "staging goes on after waiting 3 min for holding-disk space");
    s_files(fx, "JW", 1, 2, 0);
    s_written(fx, "JW", 1, "TF0001", 1, 2);
    s_job_t j = s_get(fx, "JW");
    assert_string_equal(j.status, "completed_with_warnings");
    assert_string_equal(j.message, "completed with 1 warning: scanned");

    /* Retried after a failure: the retry's message does not become the scan's. */
    s_job_op(fx, "JV", "create", NULL, 1000, 0, 0, 0);
    s_job_op(fx, "JV", "scanned", "scan", 2000, 3, 1, 1);
    s_files(fx, "JV", 1, 2, 1);
    s_job_op(fx, "JV", "failed", "tape", 3000, 0, 0, 0);
    s_msg(fx, "JV", "retried", NULL, 0, "retried by bob");
    s_written(fx, "JV", 1, "TF0001", 2, 2);
    j = s_get(fx, "JV");
    assert_string_equal(j.status, "completed_with_warnings");
    if (!strstr(j.message, "; scan: scanned") || strstr(j.message, "retried by"))
        fail_msg("JV: %s", j.message);
}

/* F11: a note changes the message only: a job in tape stays in tape, no stage event. */
static void
test_note_keeps_the_stage(void **state)
{
    fx_t *fx = *state;
    s_job_op(fx, "JN", "create", NULL, 1000, 0, 0, 0);
    s_job_op(fx, "JN", "scanned", "scan", 2000, 4, 2, 0);
    s_files(fx, "JN", 1, 2, 0);
    s_written(fx, "JN", 1, "TF0001", 1, 2);
    assert_string_equal(s_get(fx, "JN").stage, "tape");
    int before = fx->events;
    s_msg(fx, "JN", "note", "stage", fx->now + 5000, "staging goes on after waiting 3 min for holding-disk space");
    s_job_t j = s_get(fx, "JN");
    assert_string_equal(j.stage, "tape");
    assert_string_equal(j.status, "running");
    assert_string_equal(j.message, "staging goes on after waiting 3 min for holding-disk space");
    assert_int_equal(fx->events, before);
    s_files(fx, "JN", 2, 2, 0);
    s_written(fx, "JN", 2, "TF0001", 2, 2);
    assert_string_equal(s_get(fx, "JN").status, "completed");
    /* Ended: a late note is ignored. */
    s_msg(fx, "JN", "note", NULL, 0, "waiting for holding-disk space");
    if (!strstr(s_get(fx, "JN").message, "completed: 4 files"))
        fail_msg("JN: %s", s_get(fx, "JN").message);
}

/* F15: cancel and retry publish job.<id>.cancelled and job.<id>.retried; a retried job ends
   again. F1-race: a job cancelled before its last archive reached tape says so. */
static void
test_operator_events_and_cancelled_on_tape(void **state)
{
    fx_t *fx = *state;
    s_job_op(fx, "JO", "create", NULL, 1000, 0, 0, 0);
    s_job_op(fx, "JO", "scanned", "scan", 2000, 2, 2, 0);
    s_files(fx, "JO", 1, 1, 0);
    s_written(fx, "JO", 1, "TF0001", 1, 1);
    int before = fx->events;
    s_msg(fx, "JO", "cancelled", NULL, 0, "cancelled by alice");
    assert_int_equal(fx->events, before + 1);
    assert_string_equal(fx->topics[before], "job.JO.cancelled");
    assert_string_equal(fx->statuses[before], "cancelled");
    s_msg(fx, "JO", "cancelled", NULL, 0, "cancelled by alice");   /* no change: no event */
    assert_int_equal(fx->events, before + 1);
    /* The last archive reaches tape after the cancel: cancelled, and says all is on tape. */
    s_files(fx, "JO", 2, 1, 0);
    s_written(fx, "JO", 2, "TF0001", 2, 1);
    s_job_t j = s_get(fx, "JO");
    assert_string_equal(j.status, "cancelled");
    assert_string_equal(j.message, "cancelled by alice; all 2 archives of this job reached tape (restore "
                                   "with: tapeflow restore JO)");
    s_written(fx, "JO", 2, "TF0001", 3, 1);   /* a new position: said once */
    assert_string_equal(s_get(fx, "JO").message, j.message);
    before = fx->events;
    s_msg(fx, "JO", "retried", NULL, 0, "retried by bob");
    assert_int_equal(fx->events, before + 2);   /* retried, then it ends again */
    assert_string_equal(fx->topics[before], "job.JO.retried");
    assert_string_equal(fx->topics[before + 1], "job.JO.completed");
    assert_string_equal(s_get(fx, "JO").status, "completed");
}

/* --- events ------------------------------------------------------------------------------- */

static void
test_events_once_after_commit(void **state)
{
    fx_t *fx = *state;
    s_job_op(fx, "JE", "create", NULL, 1000, 0, 0, 0);
    s_job_op(fx, "JE", "stage", "scan", 1100, 0, 0, 0);
    s_job_op(fx, "JE", "stage", "scan", 1150, 0, 0, 0);     /* same stage: no event */
    s_job_op(fx, "JE", "stage", "compress", 1200, 0, 0, 0);
    s_job_op(fx, "JE", "stage", "scan", 1120, 0, 0, 0);     /* late, older: no event */
    s_job_op(fx, "JE", "scanned", "scan", 1300, 2, 1, 0);
    s_job_op(fx, "JE", "stage", "tape", 1400, 0, 0, 0);
    s_files(fx, "JE", 1, 2, 0);
    s_written(fx, "JE", 1, "TF0001", 1, 2);
    assert_int_equal(fx->events, 4);
    assert_string_equal(fx->topics[0], "job.JE.stage");
    assert_string_equal(fx->topics[1], "job.JE.stage");
    assert_string_equal(fx->topics[2], "job.JE.stage");
    assert_string_equal(fx->topics[3], "job.JE.completed");
    assert_string_equal(fx->statuses[3], "completed");
    assert_int_equal(fx->files_done[3], 2);
    /* Everything delivered again: no event. */
    s_job_op(fx, "JE", "stage", "tape", 1400, 0, 0, 0);
    s_job_op(fx, "JE", "scanned", "scan", 1300, 2, 1, 0);
    s_files(fx, "JE", 1, 2, 0);
    s_written(fx, "JE", 1, "TF0001", 1, 2);
    assert_int_equal(fx->events, 4);

    /* A failure: one failed event; later ones (consequences) none. */
    s_job_op(fx, "JF", "stage", "compress", 1200, 0, 0, 0);
    s_job_op(fx, "JF", "failed", "compress", 1300, 0, 0, 0);
    s_job_op(fx, "JF", "failed", "stager", 1400, 0, 0, 0);
    assert_int_equal(fx->events, 6);
    assert_string_equal(fx->topics[5], "job.JF.failed");
    /* An item the catalog refuses records the failure on its job: one failed event too. */
    tf_msg_t m = {.type = TF_MSG_CAT_FILES};
    tf_msg_file_row_t bad = {.path = "x", .type = "strange"};
    m.cat_files = (tf_msg_cat_files_t){.job_id = "JG", .archive_id = "JG-g00001", .part = 1, .files = &bad,
                                       .files_count = 1};
    assert_int_equal(s_item(fx, &m, NULL), TF_ERR_INVALID);
    assert_int_equal(fx->events, 7);
    assert_string_equal(fx->topics[6], "job.JG.failed");
    /* A job with warnings ends with its own topic; its first archive on tape moved it to stage
       tape (the catalog's own stage change). */
    s_job_op(fx, "JH", "scanned", "scan", 1300, 2, 1, 0);
    s_files(fx, "JH", 1, 1, 1);
    s_written(fx, "JH", 1, "TF0001", 3, 1);
    assert_int_equal(fx->events, 9);
    assert_string_equal(fx->topics[7], "job.JH.stage");
    assert_string_equal(fx->topics[8], "job.JH.completed_with_warnings");
    assert_string_equal(fx->statuses[8], "completed_with_warnings");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_skipped_entries_make_warnings, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_nothing_stored_fails, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_recycled_volume_expires_jobs, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_events_once_after_commit, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_recycled_volume_loses_archives_of_every_job, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_outcome_uses_the_scans_message, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_note_keeps_the_stage, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_operator_events_and_cancelled_on_tape, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
