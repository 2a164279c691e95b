/*  tapeflow restore - brings a job's files back from tape.

    Asks the catalog for the job's restore plan (query restore_plan) of the requested paths
    (the whole job when none are named): the archives holding them and where they are on tape
    - for an incremental or differential job, the archives of every job of its chain that
    holds the newest copy of a path, each with the paths to take from it - then gives the tape
    writer - the only process that touches the drive - one restore item that reads just those
    archives, in tape order, positioning directly at each. Entries the plan names as not on
    tape are reported and make the restore incomplete.

    --at TIME SOURCE first asks the catalog which job holds the state of SOURCE at TIME (query
    job_at), then restores SOURCE from that job.

    --from-replica TARGET reads the same plan's archives from the replication target instead of
    tape, here, without the tape writer (cli_replica_restore.h); the outcome is reported the
    same way.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <czmq.h>

#include "cli.h"
#include "cli_opt.h"
#include "cli_jobview.h"
#include "cli_replica_restore.h"
#include "restore_overwrite.h"
#include "tf_client.h"
#include "tf_clock.h"
#include "tf_fs.h"
#include "tf_hostpath.h"
#include "tf_json.h"
#include "tf_replica.h"

/* Stored paths are relative ("srv/data/x"); accept "/srv/data/x" too. */
static const char *
s_stored(const char *path)
{
    while (*path == '/')
        path++;
    return path;
}

static int
s_by_position(const void *a, const void *b)
{
    const tf_msg_archive_row_t *x = a, *y = b;
    int v = strcmp(x->volume ? x->volume : "", y->volume ? y->volume : "");
    if (v)
        return v;
    return x->tape_file < y->tape_file ? -1 : x->tape_file > y->tape_file;
}

/* What to read: the catalog's restore plan (query restore_plan) of each pattern, merged. A
   job of a chain takes each path from the newest job holding it, so an archive row may take
   only some of its entries (take_some, take). The catalog's "whole" means every entry of the
   archive that matches that pattern; the tape writer applies the patterns after the take
   list, so two patterns' rows of one archive merge as: both partial - the union of their
   lists; both whole - whole; one whole and one partial - neither is right (whole would bring
   the other pattern's old copies back, the union would leave out the first pattern's
   entries), so the archive takes the list of the whole job's plan (s_plan_settle). Rows are
   shallow copies borrowed from the replies, kept alive here; merged take lists are this
   plan's own (take_owned). */
typedef struct {
    tf_msg_t *replies;
    size_t nreplies;
    tf_msg_archive_row_t *rows;
    size_t nrows;
    bool *whole_for_one;            /* per row: a pattern takes it whole */
    bool *part_for_one;             /* per row: a pattern takes some of it */
    tf_msg_path_row_t **take_owned; /* take arrays allocated by merging (paths borrowed) */
    size_t ntake_owned;
    const tf_msg_warning_row_t **missing; /* entries of the job not on tape (borrowed), once each */
    size_t nmissing;
    zhashx_t *missing_seen;         /* their paths */
    bool missing_truncated;         /* the catalog listed only the first of them */
    const char *replica;            /* --from-replica TARGET: the plan of its verified copies */
} s_plan_t;

static void
s_plan_clear(s_plan_t *plan)
{
    for (size_t i = 0; i < plan->nreplies; i++)
        tf_msg_clear(&plan->replies[i]);
    free(plan->replies);
    free(plan->rows);
    free(plan->whole_for_one);
    free(plan->part_for_one);
    for (size_t i = 0; i < plan->ntake_owned; i++)
        free(plan->take_owned[i]);
    free(plan->take_owned);
    free(plan->missing);
    zhashx_destroy(&plan->missing_seen);
    memset(plan, 0, sizeof *plan);
}

static const tf_msg_archive_row_t *
s_rows_find(const tf_msg_archive_row_t *rows, size_t n, const char *archive_id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(rows[i].archive_id, archive_id) == 0)
            return &rows[i];
    return NULL;
}

/* A new row, borrowed from a reply. */
static int
s_plan_push(s_plan_t *plan, const tf_msg_archive_row_t *add, tf_err_t *err)
{
    size_t n = plan->nrows + 1;
    tf_msg_archive_row_t *rows = realloc(plan->rows, n * sizeof *rows);
    if (rows)
        plan->rows = rows;
    bool *whole = realloc(plan->whole_for_one, n * sizeof *whole);
    if (whole)
        plan->whole_for_one = whole;
    bool *part = realloc(plan->part_for_one, n * sizeof *part);
    if (part)
        plan->part_for_one = part;
    if (!rows || !whole || !part)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    plan->rows[plan->nrows] = *add;
    plan->whole_for_one[plan->nrows] = !add->take_some;
    plan->part_for_one[plan->nrows] = add->take_some;
    plan->nrows = n;
    return TF_OK;
}

/* Adds add's take list to row's (both take_some): the union, each path once. */
static int
s_take_union(s_plan_t *plan, tf_msg_archive_row_t *row, const tf_msg_archive_row_t *add, tf_err_t *err)
{
    tf_msg_path_row_t **owned = realloc(plan->take_owned, (plan->ntake_owned + 1) * sizeof *owned);
    if (!owned)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    plan->take_owned = owned;
    tf_msg_path_row_t *take = calloc(row->take_count + add->take_count + 1, sizeof *take);
    zhashx_t *seen = zhashx_new();
    if (!take || !seen) {
        free(take);
        zhashx_destroy(&seen);
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    }
    size_t n = 0;
    for (size_t i = 0; i < row->take_count + add->take_count; i++) {
        const tf_msg_path_row_t *p = i < row->take_count ? &row->take[i] : &add->take[i - row->take_count];
        if (p->path && zhashx_insert(seen, p->path, (void *) 1) == 0)
            take[n++] = *p;
    }
    zhashx_destroy(&seen);
    plan->take_owned[plan->ntake_owned++] = take;
    row->take = take;
    row->take_count = n;
    return TF_OK;
}

/* Merges one reply's archive rows and missing entries into the plan. */
static int
s_plan_merge(s_plan_t *plan, const tf_msg_cat_reply_t *r, tf_err_t *err)
{
    for (size_t i = 0; i < r->archives_count; i++) {
        const tf_msg_archive_row_t *add = &r->archives[i];
        const tf_msg_archive_row_t *found = s_rows_find(plan->rows, plan->nrows, add->archive_id);
        if (!found) {
            int rc = s_plan_push(plan, add, err);
            if (rc != TF_OK)
                return rc;
            continue;
        }
        size_t k = (size_t) (found - plan->rows);
        tf_msg_archive_row_t *row = &plan->rows[k];
        if (add->take_some)
            plan->part_for_one[k] = true;
        else
            plan->whole_for_one[k] = true;
        if (row->take_some && add->take_some) {
            int rc = s_take_union(plan, row, add, err);
            if (rc != TF_OK)
                return rc;
        }
        else if (row->take_some) {
            row->take_some = false;   /* whole for this pattern: s_plan_settle decides */
            row->take = NULL;
            row->take_count = 0;
        }
    }
    /* restore_plan truncates nothing but its missing rows (too many archives is an error). */
    plan->missing_truncated |= r->truncated && r->missing_count > 0;
    for (size_t i = 0; i < r->missing_count; i++) {
        const tf_msg_warning_row_t *m = &r->missing[i];
        if (!m->path || zhashx_insert(plan->missing_seen, m->path, (void *) 1) != 0)
            continue;
        const tf_msg_warning_row_t **more = realloc(plan->missing, (plan->nmissing + 1) * sizeof *more);
        if (!more)
            return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        plan->missing = more;
        plan->missing[plan->nmissing++] = m;
    }
    return TF_OK;
}

/* The restore plan of one pattern (NULL: the whole job) from the catalog, kept in the plan's
   replies; *reply points at it. */
static int
s_plan_query(s_plan_t *plan, tf_client_t *client, const char *job_id, const char *pattern,
             const tf_msg_cat_reply_t **reply, tf_err_t *err)
{
    tf_msg_t *more = realloc(plan->replies, (plan->nreplies + 1) * sizeof *more);
    if (!more)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    plan->replies = more;
    tf_msg_cat_query_t q = {.query = "restore_plan", .job_id = (char *) job_id, .pattern = (char *) pattern,
                            .replica = (char *) plan->replica};
    tf_msg_t *msg = &plan->replies[plan->nreplies];
    int rc = cli_catalog_query(client, &q, msg, CLI_JOB_TIMEOUT_MS, err);
    if (rc != TF_OK)
        return rc;
    plan->nreplies++;
    *reply = &msg->cat_reply;
    return TF_OK;
}

/* The restore plan of one pattern (NULL: the whole job), merged in. */
static int
s_plan_add(s_plan_t *plan, tf_client_t *client, const char *job_id, const char *pattern, tf_err_t *err)
{
    if (!plan->missing_seen && !(plan->missing_seen = zhashx_new()))
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    const tf_msg_cat_reply_t *reply = NULL;
    int rc = s_plan_query(plan, client, job_id, pattern, &reply, err);
    return rc == TF_OK ? s_plan_merge(plan, reply, err) : rc;
}

/* After every pattern: an archive one pattern takes whole and another only in part takes the
   list of the whole job's plan (the job's current entries in it); the patterns, applied after
   it by the tape writer, select among them. */
static int
s_plan_settle(s_plan_t *plan, tf_client_t *client, const char *job_id, tf_err_t *err)
{
    const tf_msg_cat_reply_t *whole_job = NULL;
    for (size_t i = 0; i < plan->nrows; i++) {
        if (!plan->whole_for_one[i] || !plan->part_for_one[i])
            continue;
        if (!whole_job) {
            int rc = s_plan_query(plan, client, job_id, NULL, &whole_job, err);
            if (rc != TF_OK)
                return tf_err_prefix(err, "the restore plan of the whole job (for archive %s): ",
                                     plan->rows[i].archive_id);
        }
        const tf_msg_archive_row_t *all = s_rows_find(whole_job->archives, whole_job->archives_count,
                                                      plan->rows[i].archive_id);
        if (!all)
            return tf_err_set(err, TF_ERR_STATE, "the catalog's restore plan of job %s names archive %s for a "
                              "path but not for the whole job (did the catalog change meanwhile?): run the "
                              "restore again", job_id, plan->rows[i].archive_id);
        plan->rows[i].take_some = all->take_some;
        plan->rows[i].take = all->take;
        plan->rows[i].take_count = all->take_count;
    }
    return TF_OK;
}

/* Appends ", TEXT" (or TEXT when first) to the summary. */
static void
s_part(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
s_part(char *buf, size_t size, const char *fmt, ...)
{
    size_t used = strlen(buf);
    if (used + 2 >= size)
        return;
    if (used && buf[used - 1] != ' ')
        used += (size_t) snprintf(buf + used, size - used, ", ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + used, size - used, fmt, ap);
    va_end(ap);
}

/* The one line saying why a restore is not complete, e.g. "restore incomplete: 312 files
   restored, 2 refused (unsafe paths), 1 archive failed (J...-g00003: medium error ...); see above". */
static void
s_summary(const tf_msg_restore_result_t *r, bool no_match, size_t not_on_tape, size_t lost, size_t entries_missing,
          bool missing_truncated, const char *where, char *buf, size_t size)
{
    snprintf(buf, size, "restore incomplete: ");
    if (r->files == 0)
        s_part(buf, size, "nothing restored%s", no_match ? " (no file matched)" : "");
    else
        s_part(buf, size, "%llu file%s restored", (unsigned long long) r->files, r->files == 1 ? "" : "s");
    if (r->refused)
        s_part(buf, size, "%llu refused (unsafe paths)", (unsigned long long) r->refused);
    if (r->kept)
        s_part(buf, size, "%llu existing file%s kept (--overwrite older or always replaces them)",
               (unsigned long long) r->kept, r->kept == 1 ? "" : "s");
    if (r->collisions)
        s_part(buf, size, "%llu name collision%s (not overwritten)", (unsigned long long) r->collisions,
               r->collisions == 1 ? "" : "s");
    uint64_t other = r->warnings - (r->warnings >= r->refused + r->kept + r->collisions
                                    ? r->refused + r->kept + r->collisions : r->warnings);
    if (other)
        s_part(buf, size, "%llu other entr%s not restored", (unsigned long long) other, other == 1 ? "y" : "ies");
    if (r->failures_count) {
        /* The first reason up to its first ';' or '[' (the details are printed above). */
        const char *reason = r->failures[0].reason ? r->failures[0].reason : "";
        int len = (int) strcspn(reason, ";[");
        while (len > 0 && reason[len - 1] == ' ')
            len--;
        s_part(buf, size, "%zu archive%s failed (%s: %.*s%s)", r->failures_count,
               r->failures_count == 1 ? "" : "s", r->failures[0].archive_id, len > 300 ? 300 : len, reason,
               r->failures_count > 1 ? "; ..." : "");
    }
    if (not_on_tape)
        s_part(buf, size, "%zu archive%s not on tape yet", not_on_tape, not_on_tape == 1 ? "" : "s");
    if (lost)
        s_part(buf, size, "%zu archive%s lost (tape recycled)", lost, lost == 1 ? "" : "s");
    if (entries_missing)
        s_part(buf, size, "%s%zu entr%s not %s", missing_truncated ? "at least " : "", entries_missing,
               entries_missing == 1 ? "y" : "ies", where);
    size_t used = strlen(buf);
    snprintf(buf + used, size - used, "; see above");
}

typedef struct {
    const char *job_id;    /* the job named, or the one --at chose */
    const char *to;
    char host[TF_MSG_MAX_ID + 1];     /* the host --to is on (this host's tapeflow/host without HOST:) */
    char path[PATH_MAX];              /* --to without its HOST: */
    const char *overwrite;
    uint64_t strip;
    bool flat;
    bool json;
    int64_t timeout_s;
    char **patterns;       /* PATH-OR-GLOB operands, as given (--at: SOURCE's path) */
    int npatterns;
    const char *at;        /* --at TIME as given; NULL: a job is named */
    int64_t at_ms;
    const char *source;    /* --at: SOURCE as given (HOST:/path or /path) */
    char source_path[PATH_MAX]; /* its path, the pattern restored */
    char *at_pattern[1];
    char chosen_job[TF_MSG_MAX_ID + 1];
    const char *from_replica; /* --from-replica TARGET; NULL: from tape */
} s_args_t;

/* --to HOST:/DIR or DIR (this host), split by the shared rule (tf_hostpath.h). */
static int
s_host_path(cli_t *cli, s_args_t *a)
{
    tf_err_t err = {0};
    if (tf_hostpath_parse(cli->cfg, a->to, a->host, sizeof a->host, a->path, sizeof a->path, &err) != TF_OK)
        return cli_usage_error("restore", "--to %s: %s", a->to, err.message);
    return CLI_EXIT_OK;
}

/* --at TIME: "YYYY-MM-DD[ HH:MM[:SS]]" (also with 'T') in local time, or the same with 'Z' (and
   optional .mmm before it) in UTC. False when it is neither. */
static bool
s_parse_time(const char *text, int64_t *ms)
{
    struct tm tm = {0};
    int len = 0, n = sscanf(text, "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &len);
    if (n != 3 || len != 10)
        return false;
    const char *p = text + len;
    int frac_ms = 0;
    if (*p == ' ' || *p == 'T') {
        int used = 0;
        n = sscanf(p + 1, "%2d:%2d%n", &tm.tm_hour, &tm.tm_min, &used);
        if (n != 2 || used != 5)
            return false;
        p += 1 + used;
        if (*p == ':') {
            if (sscanf(p + 1, "%2d%n", &tm.tm_sec, &used) != 1 || used != 2)
                return false;
            p += 1 + used;
        }
        if (*p == '.') {
            if (sscanf(p + 1, "%3d%n", &frac_ms, &used) != 1 || used != 3)
                return false;
            p += 1 + used;
        }
    }
    bool utc = *p == 'Z';
    if (utc)
        p++;
    if (*p || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23
        || tm.tm_min > 59 || tm.tm_sec > 60)
        return false;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_isdst = -1;   /* local time: whatever daylight saving that date has */
    time_t t = utc ? timegm(&tm) : mktime(&tm);
    if (t == (time_t) -1)
        return false;
    *ms = (int64_t) t * 1000 + frac_ms;
    return true;
}

/* --at: SOURCE's path is the one pattern restored (the job's stored paths carry no host). */
static int
s_parse_at(cli_t *cli, s_args_t *a, int argc, char **argv)
{
    if (!s_parse_time(a->at, &a->at_ms))
        return cli_usage_error("restore", "--at %s: give a time as 2026-12-01, 2026-12-01 04:00[:00] (local "
                               "time) or 2026-12-01T03:00:00Z (UTC)", a->at);
    if (argc - optind != 1)
        return cli_usage_error("restore", "--at TIME restores one SOURCE as it was then: name it, e.g. "
                               "tapeflow restore --at '%s' /srv/data --to DIR", a->at);
    a->source = argv[optind];
    char host[TF_MSG_MAX_ID + 1];
    tf_err_t err = {0};
    if (tf_hostpath_parse(cli->cfg, a->source, host, sizeof host, a->source_path, sizeof a->source_path, &err)
        != TF_OK)
        return cli_usage_error("restore", "%s: %s", a->source, err.message);
    if (a->source_path[0] != '/')
        return cli_usage_error("restore", "--at: name SOURCE by its absolute path as it was backed up, not '%s'",
                               a->source);
    a->at_pattern[0] = a->source_path;
    a->patterns = a->at_pattern;
    a->npatterns = 1;
    return CLI_EXIT_OK;
}

/* Returns -1 to go on, else the exit status. */
static int
s_parse(cli_t *cli, int argc, char **argv, s_args_t *a)
{
    static const struct option options[] = {
        {"to", required_argument, NULL, 't'},
        {"at", required_argument, NULL, 'a'},
        {"timeout", required_argument, NULL, 'T'},
        {"overwrite", required_argument, NULL, 'o'},
        {"strip-components", required_argument, NULL, 's'},
        {"flat", no_argument, NULL, 'f'},
        {"from-replica", required_argument, NULL, 'R'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof *a);
    a->overwrite = "never";
    a->json = cli->json;
    a->timeout_s = 24 * 3600;
    bool strip_given = false;
    int opt;
    cli_opt_begin();
    while ((opt = getopt_long(argc, argv, ":t:T:o:s:fjh", options, NULL)) != -1) {
        switch (opt) {
        case 't': a->to = optarg; break;
        case 'a': a->at = optarg; break;
        case 'T':
            if (cli_opt_int("restore", "--timeout", optarg, 1, 366LL * 86400, "a number of seconds", &a->timeout_s) != CLI_EXIT_OK)
                return CLI_EXIT_USAGE;
            break;
        case 'o': {
            restore_overwrite_t mode;
            if (!restore_overwrite_parse(optarg, &mode))
                return cli_usage_error("restore", "--overwrite takes never, older or always, not '%s'", optarg);
            a->overwrite = optarg;
            break;
        }
        case 's': {
            int64_t n = 0;
            if (cli_opt_int("restore", "--strip-components", optarg, 0, 4096,
                            "a number of leading folders", &n) != CLI_EXIT_OK)
                return CLI_EXIT_USAGE;
            a->strip = (uint64_t) n;
            strip_given = true;
            break;
        }
        case 'f': a->flat = true; break;
        case 'R': a->from_replica = optarg; break;
        case 'j': a->json = true; break;
        case 'h': cli_help("restore", stdout); return CLI_EXIT_OK;
        default: return cli_opt_error("restore", opt, argc, argv);
        }
    }
    if (optind >= argc)
        return cli_usage_error("restore", a->at ? "--at TIME restores one SOURCE as it was then: name it"
                                                : "name the job to restore (see: tapeflow jobs)");
    if (!a->to)
        return cli_usage_error("restore", "say where to restore with --to DIR or --to HOST:/DIR");
    if (s_host_path(cli, a) != CLI_EXIT_OK)
        return CLI_EXIT_USAGE;
    /* The replica is read here: the files can only be written here too. */
    if (a->from_replica && !tf_hostpath_is_local(cli->cfg, a->host))
        return cli_usage_error("restore", "--from-replica reads the replica on this host and writes the files "
                               "here: --to %s names host %s; run the restore on %s (with --to %s) or restore "
                               "from tape", a->to, a->host, a->host, a->path);
    /* A target name that is not configured is a typo: say so before anything is planned. */
    if (a->from_replica) {
        tf_replica_conf_t conf;
        tf_err_t err = {0};
        if (tf_replica_conf(cli->cfg, a->from_replica, &conf, &err) != TF_OK)
            return cli_usage_error("restore", "%s", err.message);
    }
    if (a->flat && strip_given)
        return cli_usage_error("restore", "--flat puts every file straight into DIR: it does not combine "
                               "with --strip-components");
    if (a->at)
        return s_parse_at(cli, a, argc, argv) == CLI_EXIT_OK ? -1 : CLI_EXIT_USAGE;
    a->job_id = argv[optind++];
    a->patterns = argv + optind;
    a->npatterns = argc - optind;
    return -1;
}

/* What the catalog says is to be read: the archives on tape (plan), those on a recycled tape
   (lost, borrowed from the plan's replies) and the count not on tape yet. */
typedef struct {
    s_plan_t plan;
    tf_msg_archive_row_t *lost;
    size_t nlost;
    size_t missing;
    bool job_completed;
    char job_status[32];           /* the job's status, for the entries it never wrote */
    size_t unwritten;              /* entries of a job that did not complete never written */
    tf_msg_path_row_t *patterns;   /* the stored form of each pattern (into args' words) */
    char where[TF_MSG_MAX_ID + 16]; /* "on tape" | "on replica T": where the plan reads from */
} s_select_t;

static void
s_select_clear(s_select_t *sel)
{
    free(sel->patterns);
    free(sel->lost);
    s_plan_clear(&sel->plan);
    memset(sel, 0, sizeof *sel);
}

/* The remote part of choosing: the job from the catalog, then the restore plan of each pattern
   (the catalog matches what is under a folder too), or of the whole job. */
static int
s_select_query(tf_client_t *client, const s_args_t *a, s_select_t *sel, tf_err_t *err)
{
    /* The job must exist; its state says whether everything can be restored. An expired job
       (a tape of it was recycled) still restores what is on its other tapes; the archives
       that were on the recycled tape are named and skipped by s_select_split. */
    tf_msg_t job;
    int rc = cli_job_fetch(client, a->job_id, &job, CLI_JOB_TIMEOUT_MS, err);
    if (rc != TF_OK)
        return rc;
    sel->job_completed = strcmp(job.cat_reply.jobs[0].status, "completed") == 0;
    sel->plan.replica = a->from_replica;
    snprintf(sel->job_status, sizeof sel->job_status, "%s", job.cat_reply.jobs[0].status);
    tf_msg_clear(&job);
    if (a->npatterns == 0)
        return s_plan_add(&sel->plan, client, a->job_id, NULL, err);
    for (int i = 0; i < a->npatterns; i++) {
        const char *stored = s_stored(a->patterns[i]);
        sel->patterns[i].path = (char *) stored;
        rc = s_plan_add(&sel->plan, client, a->job_id, stored, err);
        if (rc != TF_OK)
            return rc;
    }
    return s_plan_settle(&sel->plan, client, a->job_id, err);
}

/* Entries not on tape named one per line before the summary; --json lists them all. */
#define S_MISSING_SHOWN 20

/* A job that did not complete (cancelled, failed, still running) restores what reached tape,
   as always: its own entries that never did are a warning, not entries lost from its chain.
   The catalog names the job that should hold an entry in the reason ("not on tape: job J"). */
static void
s_select_unwritten(const s_args_t *a, s_select_t *sel)
{
    bool ended_well = sel->job_completed || strcmp(sel->job_status, "completed_with_warnings") == 0;
    if (ended_well)
        return;
    char own[TF_MSG_MAX_ID + 32];
    snprintf(own, sizeof own, TF_MSG_REASON_NOT_ON_TAPE, a->job_id);
    s_plan_t *plan = &sel->plan;
    size_t kept = 0;
    for (size_t i = 0; i < plan->nmissing; i++) {
        const char *reason = plan->missing[i]->reason;
        if (reason && strcmp(reason, own) == 0)
            sel->unwritten++;
        else
            plan->missing[kept++] = plan->missing[i];
    }
    plan->nmissing = kept;
    if (sel->unwritten)
        fprintf(stderr, "tapeflow restore: warning: %zu entr%s of job %s never reached tape (the job is %s): "
                "restoring what did\n", sel->unwritten, sel->unwritten == 1 ? "y" : "ies", a->job_id,
                sel->job_status);
}

/* A replica's archives sort by id (job, then group): they have no tape position. */
static int
s_by_id(const void *a, const void *b)
{
    const tf_msg_archive_row_t *x = a, *y = b;
    return strcmp(x->archive_id, y->archive_id);
}

/* Only what is on tape can be read: keeps the written archives in the plan, names those on a
   recycled tape (lost) and counts those not written yet. From a replica the catalog's plan
   holds only what the target has verified: all of it is read, and an entry of the job not
   there is missing whatever the job's state (it is not on tape either, or it would not be
   asked for here). */
static int
s_select_split(const s_args_t *a, s_select_t *sel)
{
    s_plan_t *plan = &sel->plan;
    if (a->from_replica)
        snprintf(sel->where, sizeof sel->where, "on replica %s", a->from_replica);
    else {
        snprintf(sel->where, sizeof sel->where, "on tape");
        s_select_unwritten(a, sel);
    }
    /* Entries of the job whose content no archive on tape holds (the catalog's reason names
       the job that should have stored them): a few named here, all in --json. */
    for (size_t i = 0; i < plan->nmissing && !a->json; i++) {
        if (i == S_MISSING_SHOWN) {
            fprintf(stderr, "tapeflow restore: ... and %zu more entries not %s\n", plan->nmissing - i, sel->where);
            break;
        }
        fprintf(stderr, "tapeflow restore: %s: %s\n", plan->missing[i]->path,
                plan->missing[i]->reason ? plan->missing[i]->reason : "missing");
    }
    sel->lost = plan->nrows ? calloc(plan->nrows, sizeof *sel->lost) : NULL;
    if (plan->nrows && !sel->lost) {
        fprintf(stderr, "tapeflow restore: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    size_t readable = 0;
    for (size_t i = 0; i < plan->nrows; i++) {
        const tf_msg_archive_row_t *ar = &plan->rows[i];
        if (a->from_replica)
            plan->rows[readable++] = plan->rows[i];   /* the replica holds it, on tape or not */
        else if (ar->written && ar->lost) {
            sel->lost[sel->nlost++] = *ar;
            uint64_t files = ar->take_some ? ar->take_count : ar->files;
            char when[64];
            tf_clock_format(ar->lost_ms, when, sizeof when);
            fprintf(stderr, "tapeflow restore: archive %s was on tape %s, recycled on %s: lost (%llu "
                    "file%s not restored)\n", ar->archive_id, ar->volume ? ar->volume : "?", when,
                    (unsigned long long) files, files == 1 ? "" : "s");
        }
        else if (ar->written)
            plan->rows[readable++] = plan->rows[i];
        else
            sel->missing++;
    }
    plan->nrows = readable;
    if (sel->missing)
        fprintf(stderr, "tapeflow restore: warning: %zu archive%s of job %s %s not on tape yet%s\n",
                sel->missing, sel->missing == 1 ? "" : "s", a->job_id, sel->missing == 1 ? "is" : "are",
                sel->job_completed ? "" : " (the job has not completed)");
    if (plan->nrows == 0) {
        if (sel->nlost)
            fprintf(stderr, "tapeflow restore: nothing restored: every archive of job %s to read was on a "
                    "recycled tape (%zu lost)\n", a->job_id, sel->nlost);
        else if (plan->nmissing)
            fprintf(stderr, "tapeflow restore: nothing restored: no entry of job %s to restore is %s (%zu "
                    "not %s)\n", a->job_id, sel->where, plan->nmissing, sel->where);
        else if (a->npatterns)
            fprintf(stderr, "tapeflow restore: nothing of job %s %s matches %s%s (list files with: "
                    "tapeflow job %s)\n", a->job_id, sel->where, a->patterns[0], a->npatterns > 1 ? " ..." : "",
                    a->job_id);
        else
            fprintf(stderr, "tapeflow restore: job %s has nothing %s to restore\n", a->job_id, sel->where);
        return CLI_EXIT_FAIL;
    }
    qsort(plan->rows, plan->nrows, sizeof *plan->rows, a->from_replica ? s_by_id : s_by_position);
    return CLI_EXIT_OK;
}

/* --at: the job holding SOURCE's state at TIME (catalog query job_at: the newest completed job
   created at or before it whose sources hold SOURCE), named on stderr (and in --json as
   job_id). */
static int
s_choose_job(tf_client_t *client, s_args_t *a, tf_err_t *err)
{
    tf_msg_cat_query_t q = {.query = "job_at", .pattern = (char *) a->source, .at_ms = a->at_ms};
    tf_msg_t reply;
    int rc = cli_catalog_query(client, &q, &reply, CLI_JOB_TIMEOUT_MS, err);
    if (rc != TF_OK)
        return rc;
    if (reply.cat_reply.jobs_count == 0) {
        tf_msg_clear(&reply);
        return tf_err_set(err, TF_ERR_NOTFOUND, "no job holds %s as it was at %s (list jobs with: tapeflow jobs)",
                          a->source, a->at);
    }
    const tf_msg_job_row_t *job = &reply.cat_reply.jobs[0];
    snprintf(a->chosen_job, sizeof a->chosen_job, "%s", job->job_id);
    a->job_id = a->chosen_job;
    if (!a->json) {
        char created[64], base[TF_MSG_MAX_ID + 16] = "";
        tf_clock_format(job->created_ms, created, sizeof created);
        if (job->base_job && *job->base_job)
            snprintf(base, sizeof base, " of %s", job->base_job);
        fprintf(stderr, "%s as it was at %s: job %s (%s%s, created %s)\n", a->source, a->at, job->job_id,
                job->level && *job->level ? job->level : "full", base, created);
    }
    tf_msg_clear(&reply);
    return TF_OK;
}

/* The remote call: one restore item to the tape writer; *result is its restore_result. */
static int
s_restore_call(tf_client_t *client, const s_args_t *a, const char *dest, const s_select_t *sel,
               tf_msg_t *result, tf_err_t *err)
{
    tf_msg_t request = {.type = TF_MSG_TAPE_RESTORE};
    request.tape_restore = (tf_msg_tape_restore_t){
        .job_id = (char *) a->job_id, .dest = (char *) dest, .patterns = sel->patterns,
        .patterns_count = (size_t) a->npatterns, .archives = sel->plan.rows,
        .archives_count = sel->plan.nrows, .overwrite = (char *) a->overwrite,
        .strip_components = a->strip, .flat = a->flat, .dest_host = (char *) a->host,
    };
    /* The item carries no job id: a restore is not part of the backup job (cancelling the job
       must not cancel it, and its failure is not the job's). */
    int timeout_ms = (int) (a->timeout_s * 1000 > INT32_MAX ? INT32_MAX : a->timeout_s * 1000);
    int rc = tf_client_call(client, "tape", NULL, NULL, &request, result, timeout_ms, err);
    if (rc == TF_OK && result->type != TF_MSG_RESTORE_RESULT) {
        rc = tf_err_set(err, TF_ERR_PROTO, "the tape writer answered %s, expected a restore result",
                        tf_msg_type_name(result->type));
        tf_msg_clear(result);
    }
    return rc;
}

/* A line per archive on a terminal: a restore from a share can take hours. */
static void
s_replica_progress(void *arg, size_t index, size_t count, const tf_msg_archive_row_t *row)
{
    const char *target = arg;
    char size[32];
    tf_units_bytes(row->size, size, sizeof size);
    fprintf(stderr, "reading archive %zu of %zu from replica %s: %s (%s)\n", index + 1, count, target,
            row->archive_id, row->size ? size : "size unknown");
}

/* --from-replica: the plan's archives read from the target here; *result as from the tape
   writer. */
static int
s_restore_replica(cli_t *cli, const s_args_t *a, const char *dest, const s_select_t *sel, tf_msg_t *result,
                  tf_err_t *err)
{
    tf_replica_conf_t conf;
    int rc = tf_replica_conf(cli->cfg, a->from_replica, &conf, err);
    if (rc != TF_OK)
        return rc;
    tf_target_t *target = tf_replica_connect(&conf, NULL, 0, err);
    if (!target)
        return err->code ? err->code : TF_ERR_IO;
    cli_replica_restore_opts_t o = {
        .target_name = a->from_replica, .dest = dest, .patterns = sel->patterns,
        .patterns_count = (size_t) a->npatterns, .overwrite = a->overwrite, .strip_components = a->strip,
        .flat = a->flat, .chunk = (size_t) tf_config_size(cli->cfg, "replicator/chunk"),
        /* As `tapeflow backup --wait`: progress on a terminal only, never in --json. */
        .progress = isatty(STDERR_FILENO) && !a->json ? s_replica_progress : NULL,
        .progress_arg = (void *) a->from_replica,
    };
    rc = cli_replica_restore_run(target, sel->plan.rows, sel->plan.nrows, &o, result, err);
    tf_target_destroy(&target);
    return rc;
}

static void
s_print_json(const s_args_t *a, const char *dest, const s_select_t *sel,
             const tf_msg_restore_result_t *r, bool complete, const char *summary)
{
    tf_json_t *j = tf_json_new();
    tf_json_document_begin(j);
    tf_json_str(j, "job_id", a->job_id);
    tf_json_str(j, "to", dest);
    tf_json_str(j, "host", a->host);
    tf_json_str(j, "from_replica", a->from_replica);
    tf_json_int(j, "files", (int64_t) r->files);
    tf_json_int(j, "bytes", (int64_t) r->bytes);
    tf_json_int(j, "archives_read", (int64_t) r->archives_read);
    tf_json_int(j, "blocks_read", (int64_t) r->blocks_read);
    tf_json_int(j, "warnings", (int64_t) r->warnings);
    tf_json_str(j, "message", r->message);
    tf_json_bool(j, "complete", complete);
    tf_json_int(j, "refused", (int64_t) r->refused);
    tf_json_int(j, "kept", (int64_t) r->kept);
    tf_json_int(j, "collisions", (int64_t) r->collisions);
    tf_json_int(j, "present", (int64_t) r->present);
    tf_json_int(j, "archives_failed", (int64_t) r->failures_count);
    tf_json_int(j, "archives_lost", (int64_t) sel->nlost);
    if (a->at) {
        tf_json_str(j, "source", a->source);
        tf_json_int(j, "at_ms", a->at_ms);
    }
    tf_json_int(j, "entries_missing", (int64_t) sel->plan.nmissing);
    tf_json_int(j, "entries_unwritten", (int64_t) sel->unwritten);
    tf_json_bool(j, "missing_truncated", sel->plan.missing_truncated);
    tf_json_array_begin(j, "missing");
    for (size_t i = 0; i < sel->plan.nmissing; i++) {
        tf_json_object_begin(j, NULL);
        tf_json_str(j, "path", sel->plan.missing[i]->path);
        tf_json_str(j, "reason", sel->plan.missing[i]->reason);
        tf_json_object_end(j);
    }
    tf_json_array_end(j);
    tf_json_array_begin(j, "lost");
    for (size_t i = 0; i < sel->nlost; i++) {
        tf_json_object_begin(j, NULL);
        tf_json_str(j, "archive_id", sel->lost[i].archive_id);
        tf_json_str(j, "volume", sel->lost[i].volume);
        tf_json_int(j, "lost_ms", sel->lost[i].lost_ms);
        tf_json_int(j, "files", (int64_t) sel->lost[i].files);
        tf_json_object_end(j);
    }
    tf_json_array_end(j);
    tf_json_array_begin(j, "failures");
    for (size_t i = 0; i < r->failures_count; i++) {
        tf_json_object_begin(j, NULL);
        tf_json_str(j, "archive_id", r->failures[i].archive_id);
        tf_json_str(j, "reason", r->failures[i].reason);
        tf_json_object_end(j);
    }
    tf_json_array_end(j);
    tf_json_str(j, "overwrite", a->overwrite);
    tf_json_int(j, "strip_components", (int64_t) a->strip);
    tf_json_bool(j, "flat", a->flat);
    tf_json_str(j, "summary", complete ? NULL : summary);
    tf_json_object_end(j);
    tf_json_print(j, stdout);
    tf_json_destroy(&j);
}

static void
s_print_text(const s_args_t *a, const char *dest, const tf_msg_restore_result_t *r)
{
    char size[32], from[TF_MSG_MAX_ID + 64];
    tf_units_bytes(r->bytes, size, sizeof size);
    if (a->from_replica)
        snprintf(from, sizeof from, "of replica %s", a->from_replica);
    else
        snprintf(from, sizeof from, "(%llu blocks read)", (unsigned long long) r->blocks_read);
    printf("restored %llu files (%s) from %llu archive%s %s into %s:%s\n",
           (unsigned long long) r->files, size, (unsigned long long) r->archives_read,
           r->archives_read == 1 ? "" : "s", from, a->host, dest);
    if (r->present)
        printf("%llu file%s already present (identical to the stored entry, left alone)\n",
               (unsigned long long) r->present, r->present == 1 ? "" : "s");
    if (r->warnings)
        printf("%llu warning%s: %s\n", (unsigned long long) r->warnings, r->warnings == 1 ? "" : "s",
               r->message ? r->message : "see the tape writer's log");
    fflush(stdout);
    for (size_t i = 0; i < r->failures_count; i++)
        fprintf(stderr, "tapeflow restore: archive %s failed: %s\n", r->failures[i].archive_id,
                r->failures[i].reason ? r->failures[i].reason : "(no reason given)");
}

/* Prints the outcome; CLI_EXIT_OK only when everything selected was restored. */
static int
s_report(const s_args_t *a, const char *dest, const s_select_t *sel, const tf_msg_restore_result_t *r)
{
    /* Everything that kept the restore from being complete, in one line (docs/operations.md,
       "Restore outcome"). A re-run after a partial restore finds what the first run wrote:
       identical entries are "already present", which is complete, not nothing. */
    bool nothing = r->files == 0 && r->present == 0;
    bool complete = !nothing && r->refused == 0 && r->kept == 0 && r->collisions == 0
                    && r->failures_count == 0 && r->warnings == 0 && sel->missing == 0
                    && sel->nlost == 0 && sel->plan.nmissing == 0;
    char summary[1400] = "";
    if (!complete)
        s_summary(r, nothing && a->npatterns > 0, sel->missing, sel->nlost, sel->plan.nmissing,
                  sel->plan.missing_truncated, sel->where, summary, sizeof summary);
    if (a->json)
        s_print_json(a, dest, sel, r, complete, summary);
    else
        s_print_text(a, dest, r);
    fflush(stdout);  /* the summary comes last, also when both go to one place */
    if (!complete)
        fprintf(stderr, "%s\n", summary);
    return complete ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

int
cmd_restore(cli_t *cli, int argc, char **argv)
{
    s_args_t a;
    int rc = s_parse(cli, argc, argv, &a);
    if (rc >= 0)
        return rc;
    tf_err_t err = {0};
    /* A folder of this host is made (and resolved) here; one of another host is that host's
       extractor's to make. */
    char dest[PATH_MAX];
    if (!tf_hostpath_is_local(cli->cfg, a.host))
        snprintf(dest, sizeof dest, "%s", a.path);
    else if (tf_fs_mkdir_p(a.path, &err) != TF_OK) {
        fprintf(stderr, "tapeflow restore: %s\n", err.message);
        return CLI_EXIT_FAIL;
    }
    else if (!realpath(a.path, dest)) {
        fprintf(stderr, "tapeflow restore: %s: %s\n", a.path, strerror(errno));
        return CLI_EXIT_FAIL;
    }
    rc = CLI_EXIT_FAIL;
    s_select_t sel = {0};
    if (a.npatterns) {
        sel.patterns = calloc((size_t) a.npatterns, sizeof *sel.patterns);
    }
    tf_client_t *client = tf_client_new(cli->cfg, tf_config_get(cli->cfg, "broker/endpoint"), &err);
    if (!client || (a.npatterns && !sel.patterns)) {
        fprintf(stderr, "tapeflow restore: %s\n", client ? "out of memory" : err.message);
        goto out;
    }
    if (a.at && s_choose_job(client, &a, &err) != TF_OK) {
        fprintf(stderr, "tapeflow restore: %s\n", err.message);
        goto out;
    }
    if (s_select_query(client, &a, &sel, &err) != TF_OK) {
        fprintf(stderr, "tapeflow restore: %s\n", err.message);
        goto out;
    }
    if (s_select_split(&a, &sel) != CLI_EXIT_OK)
        goto out;
    if (!a.json)
        fprintf(stderr, "restoring from %zu archive%s of job %s%s%s into %s:%s\n", sel.plan.nrows,
                sel.plan.nrows == 1 ? "" : "s", a.job_id, a.from_replica ? " on replica " : "",
                a.from_replica ? a.from_replica : "", a.host, dest);
    tf_msg_t result;
    if (a.from_replica ? s_restore_replica(cli, &a, dest, &sel, &result, &err) != TF_OK
                       : s_restore_call(client, &a, dest, &sel, &result, &err) != TF_OK) {
        fprintf(stderr, "tapeflow restore: %s\n", err.message);
        goto out;
    }
    rc = s_report(&a, dest, &sel, &result.restore_result);
    tf_msg_clear(&result);
out:
    tf_client_destroy(&client);
    s_select_clear(&sel);
    return rc;
}
