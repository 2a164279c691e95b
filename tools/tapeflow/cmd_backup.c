/*  tapeflow backup - starts a backup job (tf_job_start: checks, the job's record in the catalog,
    one scan per host) at the level asked for; with --wait, follows the job to its end with a
    progress display.

    The job's record and the scans are broker items with ids derived from the job id, so a
    retried command never starts the scan twice.
*/
#define _GNU_SOURCE
#include <czmq.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_opt.h"
#include "cli_jobview.h"
#include "tf_client.h"
#include "tf_clock.h"
#include "tf_hostpath.h"
#include "tf_job_start.h"
#include "tf_json.h"
#include "tf_units.h"
#include "tf_schedule.h"
#include "tf_secure.h"
#include "tf_wire.h"

/* ------------------------------------------------------------------ progress --------- */

typedef struct {
    bool tty;
    int64_t started;
    int64_t last_line;
    char last_state[160];
    zsock_t *sub;              /* job.<id>. events: what is happening right now */
    char activity[200];
} s_watch_t;

static void
s_watch_events(s_watch_t *w)
{
    while (w->sub && (zsock_events(w->sub) & ZMQ_POLLIN)) {
        tf_msg_t ev;
        if (tf_wire_recv_event(w->sub, &ev, NULL) != TF_OK)
            continue;
        const tf_msg_event_t *e = &ev.event;
        if (e->total > 0)
            snprintf(w->activity, sizeof w->activity, "%s %.0f%%", e->message ? e->message : "working",
                     100.0 * (double) e->done / (double) e->total);
        else if (e->message)
            snprintf(w->activity, sizeof w->activity, "%s", e->message);
        tf_msg_clear(&ev);
    }
}

static void
s_show_progress(s_watch_t *w, const tf_msg_job_row_t *job)
{
    int64_t now = tf_clock_mono_ms();
    double secs = (double) (now - w->started) / 1000.0;
    double rate = secs > 0 ? (double) job->bytes_done / secs : 0;
    char done[32], total[32], speed[32];
    tf_units_bytes(job->bytes_done, done, sizeof done);
    tf_units_bytes(job->bytes_total, total, sizeof total);
    tf_units_bytes((uint64_t) rate, speed, sizeof speed);
    double fraction = job->scanned && job->bytes_total ? (double) job->bytes_done / (double) job->bytes_total : 0;
    if (job->scanned && job->bytes_total == 0 && cli_job_finished(job))
        fraction = 1;
    char eta[32] = "-";
    if (job->scanned && rate > 0 && job->bytes_total > job->bytes_done)
        cli_duration((int64_t) ((double) (job->bytes_total - job->bytes_done) / rate * 1000), eta, sizeof eta);

    if (w->tty) {
        char bar[31];
        int filled = (int) (fraction * 30 + 0.5);
        for (int i = 0; i < 30; i++)
            bar[i] = i < filled ? '#' : '-';
        bar[30] = '\0';
        fprintf(stderr, "\r\033[K[%s] %3.0f%%  %s / %s  %s/s  ETA %s  %s%s%s", bar, fraction * 100, done,
                job->scanned ? total : "?", speed, eta, job->stage ? job->stage : job->status,
                w->activity[0] ? ": " : "", w->activity);
        fflush(stderr);
        return;
    }
    /* Not a terminal: a plain line when something changed, at most every 2 s. */
    char state[160];
    snprintf(state, sizeof state, "%s %s %llu %llu", job->status, job->stage ? job->stage : "",
             (unsigned long long) job->files_done, (unsigned long long) job->bytes_done);
    if (strcmp(state, w->last_state) == 0 || now - w->last_line < 2000)
        return;
    snprintf(w->last_state, sizeof w->last_state, "%s", state);
    w->last_line = now;
    char files_total[32] = "?";
    if (job->scanned)
        snprintf(files_total, sizeof files_total, "%llu", (unsigned long long) job->files_total);
    fprintf(stderr, "%s: %s, stage %s, files %llu/%s, %s/%s, %s/s, ETA %s\n", job->job_id, job->status,
            job->stage ? job->stage : "-", (unsigned long long) job->files_done, files_total, done,
            job->scanned ? total : "?", speed, eta);
}

/* The job at its end, as `tapeflow job ID` shows it (--json: the same document). */
static void
s_print_done(cli_t *cli, const tf_msg_job_row_t *job)
{
    if (!cli->json) {
        cli_job_print(stdout, job);
        return;
    }
    tf_json_t *j = tf_json_new();
    if (j)
        cli_job_json_document(j, job);
    if (tf_json_print(j, stdout) != 0)
        fprintf(stderr, "tapeflow backup: out of memory building JSON\n");
    tf_json_destroy(&j);
}

static int
s_wait(cli_t *cli, tf_client_t *client, const char *job_id, int64_t timeout_s)
{
    s_watch_t w = {.tty = isatty(STDERR_FILENO) && !cli->json, .started = tf_clock_mono_ms()};
    char topic[160];
    snprintf(topic, sizeof topic, "job.%s.", job_id);
    /* Events only make the wait livelier: without them the job is still polled. */
    w.sub = zsock_new(ZMQ_SUB);
    tf_err_t serr = {0};
    if (w.sub) {
        tf_wire_limit(w.sub, tf_config_size(cli->cfg, "broker/max_message"));
        zsock_set_subscribe(w.sub, topic);
        if (tf_secure_connect(cli->cfg, w.sub, tf_config_get(cli->cfg, "bus/backend"), NULL, &serr) != TF_OK)
            zsock_destroy(&w.sub);
    }
    int64_t deadline = timeout_s > 0 ? w.started + timeout_s * 1000 : INT64_MAX;
    int rc = CLI_EXIT_FAIL;
    for (;;) {
        tf_msg_t reply;
        tf_err_t err = {0};
        int q = cli_job_fetch(client, job_id, &reply, CLI_JOB_TIMEOUT_MS, &err);
        if (q == TF_OK && reply.cat_reply.jobs_count == 1) {
            const tf_msg_job_row_t *job = &reply.cat_reply.jobs[0];
            s_watch_events(&w);
            if (!cli->json)
                s_show_progress(&w, job);
            if (cli_job_finished(job)) {
                if (w.tty)
                    fputc('\n', stderr);
                s_print_done(cli, job);
                /* Anything but completed (completed_with_warnings: entries missing) is a failure
                   for a script; the message says what is missing and where to see it. */
                rc = cli_job_ok(job) ? CLI_EXIT_OK : CLI_EXIT_FAIL;
                tf_msg_clear(&reply);
                break;
            }
            tf_msg_clear(&reply);
        }
        else if (q == TF_OK)
            tf_msg_clear(&reply);
        else if (q != TF_ERR_NOTFOUND) {
            /* NOTFOUND: the catalog has not seen the create yet; anything else is worth saying. */
            fprintf(stderr, "%stapeflow backup: %s\n", w.tty ? "\n" : "", err.message);
            if (q == TF_ERR_INTERRUPTED)
                break;
        }
        if (tf_clock_mono_ms() >= deadline) {
            fprintf(stderr, "%stapeflow backup: job %s still running after %lld s; it goes on - "
                    "follow it with: tapeflow job %s\n", w.tty ? "\n" : "", job_id, (long long) timeout_s, job_id);
            break;
        }
        if (zsys_interrupted) {
            fprintf(stderr, "\ntapeflow backup: stopped waiting; job %s goes on (tapeflow job %s)\n", job_id, job_id);
            break;
        }
        zpoller_t *poller = w.sub ? zpoller_new(w.sub, NULL) : NULL;
        if (poller) {
            zpoller_wait(poller, 500);
            zpoller_destroy(&poller);
        }
        else
            tf_clock_sleep_ms(500);
    }
    zsock_destroy(&w.sub);
    return rc;
}

/* ------------------------------------------------------------------ command ---------- */

typedef struct {
    const char *pool;
    const char *compression;
    uint64_t group_bytes;
    bool one_fs;
    const char *level;  /* full | differential | incremental */
    bool wait;
    int64_t timeout_s;
    char **paths;      /* PATH operands, as given */
    size_t npaths;
} s_args_t;

/* Returns -1 to go on, else the exit status. */
static int
s_parse(cli_t *cli, int argc, char **argv, s_args_t *a)
{
    static const struct option options[] = {
        {"pool", required_argument, NULL, 'p'},
        {"compression", required_argument, NULL, 'c'},
        {"group-size", required_argument, NULL, 'g'},
        {"all-filesystems", no_argument, NULL, 'a'},
        {"level", required_argument, NULL, 'l'},
        {"wait", no_argument, NULL, 'w'},
        {"timeout", required_argument, NULL, 't'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof *a);
    a->pool = tf_config_get(cli->cfg, "backup/pool");
    a->compression = tf_config_get(cli->cfg, "compressor/compression");
    a->group_bytes = (uint64_t) tf_config_size(cli->cfg, "scanner/group_size");
    a->one_fs = tf_config_bool(cli->cfg, "scanner/one_fs");
    a->level = "full";
    int opt;
    cli_opt_begin();
    while ((opt = getopt_long(argc, argv, ":p:c:g:al:wt:jh", options, NULL)) != -1) {
        switch (opt) {
        case 'p': a->pool = optarg; break;
        case 'c':
            if (strcmp(optarg, "zstd") && strcmp(optarg, "gzip") && strcmp(optarg, "none"))
                return cli_usage_error("backup", "--compression must be zstd, gzip or none, not '%s'", optarg);
            a->compression = optarg;
            break;
        case 'g':
            if (tf_units_parse_size(optarg, &a->group_bytes) != 0 || a->group_bytes == 0)
                return cli_usage_error("backup", "--group-size takes a size like 512M or 1G, not '%s'", optarg);
            break;
        case 'a': a->one_fs = false; break;
        case 'l':
            if (!tf_level_known(optarg))
                return cli_usage_error("backup", "--level must be full, differential or incremental, not '%s'",
                                       optarg);
            a->level = optarg;
            break;
        case 'w': a->wait = true; break;
        case 't':   /* 0: no limit */
            if (cli_opt_int("backup", "--timeout", optarg, 0, 366LL * 86400, "a number of seconds", &a->timeout_s) != CLI_EXIT_OK)
                return CLI_EXIT_USAGE;
            break;
        case 'j': cli->json = true; break;
        case 'h': cli_help("backup", stdout); return CLI_EXIT_OK;
        default: return cli_opt_error("backup", opt, argc, argv);
        }
    }
    if (optind >= argc)
        return cli_usage_error("backup", "name at least one path to back up");
    a->paths = argv + optind;
    a->npaths = (size_t) (argc - optind);
    return -1;
}

/* The job's sources: this host's paths made absolute and checked here (realpath: the scanner
   may run in another working folder); HOST:/path operands as given (tf_hostpath.h), checked on
   their host by tf_job_check. */
typedef struct {
    tf_msg_path_row_t *rows;
    size_t count;
} s_sources_t;

static void
s_sources_clear(s_sources_t *src)
{
    for (size_t i = 0; i < src->count; i++)
        free(src->rows[i].path);
    free(src->rows);
    memset(src, 0, sizeof *src);
}

static int
s_resolve_paths(cli_t *cli, const s_args_t *a, s_sources_t *src)
{
    src->rows = calloc(a->npaths, sizeof *src->rows);
    if (!src->rows) {
        fprintf(stderr, "tapeflow backup: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    for (size_t i = 0; i < a->npaths; i++) {
        char host[TF_MSG_MAX_ID + 1], path[PATH_MAX];
        tf_err_t err = {0};
        if (tf_hostpath_parse(cli->cfg, a->paths[i], host, sizeof host, path, sizeof path, &err) != TF_OK)
            return cli_usage_error("backup", "%s", err.message);
        char *text;
        if (tf_hostpath_is_local(cli->cfg, host)) {
            text = realpath(path, NULL);
            if (!text) {
                fprintf(stderr, "tapeflow backup: %s: %s\n", a->paths[i], strerror(errno));
                return CLI_EXIT_FAIL;
            }
        }
        else
            text = strdup(a->paths[i]);
        if (!text) {
            fprintf(stderr, "tapeflow backup: out of memory\n");
            return CLI_EXIT_FAIL;
        }
        src->rows[src->count++].path = text;
    }
    return CLI_EXIT_OK;
}

/* A refused start, said on stderr (and as a JSON document with --json). */
static void
s_refused(cli_t *cli, const s_args_t *a, const tf_err_t *err)
{
    if (cli->json) {
        tf_json_t *j = tf_json_new();
        if (j) {
            tf_json_document_begin(j);
            tf_json_str(j, "error", err->message);
            tf_json_str(j, "code", tf_status_name(err->code));
            tf_json_str(j, "pool", a->pool);
            tf_json_object_end(j);
        }
        if (tf_json_print(j, stdout) != 0)
            fprintf(stderr, "tapeflow backup: out of memory building JSON\n");
        tf_json_destroy(&j);
    }
    fprintf(stderr, "tapeflow backup: %s\n", err->message);
}

/* The level the catalog decided (NULL: it has not recorded the job yet): "job J: incremental,
   base J0" or "job J: full (upgraded: no previous full of these sources)". */
static void
s_print_level(FILE *out, const char *job_id, const tf_msg_job_row_t *job)
{
    if (!job || !job->level)
        return;
    if (job->level_reason && *job->level_reason)
        fprintf(out, "job %s: %s (upgraded: %s)\n", job_id, job->level, job->level_reason);
    else if (job->base_job && *job->base_job)
        fprintf(out, "job %s: %s, base %s\n", job_id, job->level, job->base_job);
    else
        fprintf(out, "job %s: %s\n", job_id, job->level);
}

/* Without --wait: the job id and how to follow it. */
static void
s_print_queued(cli_t *cli, const s_args_t *a, const char *job_id, const tf_msg_job_row_t *job)
{
    if (cli->json) {
        tf_json_t *j = tf_json_new();
        if (j) {
            tf_json_document_begin(j);
            tf_json_str(j, "job_id", job_id);
            tf_json_str(j, "status", "queued");
            tf_json_str(j, "level_requested", a->level);
            /* null until the catalog has recorded the job */
            tf_json_str(j, "level", job ? job->level : NULL);
            tf_json_str(j, "level_reason", job ? job->level_reason : NULL);
            tf_json_str(j, "base_job", job ? job->base_job : NULL);
            tf_json_str(j, "trigger", job ? job->trigger : "manual");
            tf_json_object_end(j);
        }
        if (tf_json_print(j, stdout) != 0)
            fprintf(stderr, "tapeflow backup: job %s queued; out of memory building JSON\n", job_id);
        tf_json_destroy(&j);
    }
    else {
        printf("job %s queued: %zu path%s to pool %s\n", job_id, a->npaths, a->npaths == 1 ? "" : "s", a->pool);
        s_print_level(stdout, job_id, job);
        printf("follow it with: tapeflow job %s  (or tapeflow events job.%s)\n", job_id, job_id);
    }
}

int
cmd_backup(cli_t *cli, int argc, char **argv)
{
    s_args_t a;
    int rc = s_parse(cli, argc, argv, &a);
    if (rc >= 0)
        return rc;
    s_sources_t src = {0};
    tf_client_t *client = NULL;
    tf_msg_t recorded = {0};
    tf_err_t err = {0};
    rc = s_resolve_paths(cli, &a, &src);
    if (rc != CLI_EXIT_OK)
        goto out;
    rc = CLI_EXIT_FAIL;
    char job_id[64];
    tf_job_id_manual(job_id, sizeof job_id);
    tf_job_spec_t spec = {
        .job_id = job_id, .sources = src.rows, .sources_count = src.count, .pool = a.pool,
        .compression = a.compression, .group_bytes = a.group_bytes, .one_fs = a.one_fs, .level = a.level,
    };
    client = tf_client_new(cli->cfg, tf_config_get(cli->cfg, "broker/endpoint"), &err);
    if (!client) {
        fprintf(stderr, "tapeflow backup: %s\n", err.message);
        goto out;
    }
    char note[1024];
    if (tf_job_check_noted(cli->cfg, client, &spec, note, sizeof note, &err) != TF_OK) {
        s_refused(cli, &a, &err);
        goto out;
    }
    if (note[0])
        fprintf(stderr, "tapeflow backup: note: %s\n", note);
    if (tf_job_start(cli->cfg, client, &spec, &recorded, &err) != TF_OK) {
        fprintf(stderr, "tapeflow backup: %s\n", err.message);
        goto out;
    }
    const tf_msg_job_row_t *job = recorded.type == TF_MSG_CAT_REPLY ? &recorded.cat_reply.jobs[0] : NULL;
    if (!a.wait) {
        s_print_queued(cli, &a, job_id, job);
        rc = CLI_EXIT_OK;
        goto out;
    }
    if (!cli->json) {
        fprintf(stderr, "job %s: backing up %zu path%s to pool %s\n", job_id, a.npaths,
                a.npaths == 1 ? "" : "s", a.pool);
        s_print_level(stderr, job_id, job);
    }
    rc = s_wait(cli, client, job_id, a.timeout_s);
out:
    tf_msg_clear(&recorded);
    tf_client_destroy(&client);
    s_sources_clear(&src);
    return rc;
}
