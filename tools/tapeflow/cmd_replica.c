/*  tapeflow replica init|list|verify|check - the replication targets (replicas/NAME) as the
    operator sees them (docs/operations.md, "Replication").

    init    prepares a target: creates its root when missing and writes the sentinel
            .tapeflow-target (tf_replica_init); a folder holding another target's sentinel is
            refused.
    list    with TARGET: what the target holds (committed and partial jobs, tf_replica_list)
            next to what the catalog says of each (query replicas); a job the catalog has as
            verified that is not committed there fails the command. Without TARGET: the
            catalog's rows of every configured target; a target whose configuration is wrong is
            listed with its error (and fails the command).
    verify  re-reads every file of each committed job (or of JOB) and compares size and
            checksum with its manifest (tf_replica_verify); records the outcome in the catalog
            (cat_replica verified | failed). A job the catalog has as verified there that is not
            committed on the target is bad and recorded failed ("replica verify: job J is missing
            on URL"), as is JOB when its manifest is missing. Only a manifest that is there and
            wrong makes a job bad: a target that stops answering fails the command and records
            nothing. When the catalog cannot be reached the files are still checked and the
            output says the result was not recorded: the exit status is decided by the files.
    check   the daily self-check: configuration, reachable (server, credentials, share or the
            folder), mounted as required (require_fs), sentinel, writable, free space.

    Exit status: 0 ok; 1 failure (list, init), bad or missing files or jobs (verify, list), a
    warning (check); 2 usage error (CLI_EXIT_USAGE), or a failed step of check
    (CLI_EXIT_CHECK_FAILED).
*/
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <czmq.h>

#include "cli.h"
#include "cli_jobview.h"
#include "cli_opt.h"
#include "tf_clock.h"
#include "tf_json.h"
#include "tf_replica.h"
#include "tf_target.h"
#include "tf_units.h"

static void
s_usage(FILE *out)
{
    fputs("usage: tapeflow replica init NAME [--json]\n"
          "       tapeflow replica list [TARGET] [--json] [--timeout SECONDS]\n"
          "       tapeflow replica verify TARGET [JOB] [--json] [--timeout SECONDS]\n"
          "       tapeflow replica check TARGET [--json]\n"
          "\n"
          "Replication targets are replicas/NAME in the configuration (url, credentials, require_fs,\n"
          "min_free); a pool copies its jobs to the targets in pools/POOL/replicas.\n"
          "init    prepare target NAME: create its folder when missing and write its sentinel\n"
          "        .tapeflow-target (nothing is ever written to a target without one); says whether\n"
          "        it was created or initialised already\n"
          "list    with TARGET: the jobs the target holds (committed or partial) and what the\n"
          "        catalog says of each (exit 1 when a job the catalog has as verified is not\n"
          "        there); without: the catalog's replicas of every target (exit 1 when a target's\n"
          "        configuration is wrong: it is listed with its error)\n"
          "verify  re-read every file of each committed job on TARGET (or of JOB) and compare size\n"
          "        and checksum with its manifest.json; a job the catalog has as verified that is\n"
          "        not there is bad too; records the result in the catalog. Exit 1 when a file or\n"
          "        a job is bad or missing\n"
          "check   reachable (server, credentials, share or folder), mounted as required\n"
          "        (require_fs), sentinel, writable, free space: each step ok, warn or FAIL with\n"
          "        its fix. Exit 0 all ok, 1 a warning, 2 a step failed\n"
          "--timeout SECONDS: how long to wait for the catalog (default 10).\n",
          out);
}

typedef struct {
    bool json;
    int64_t timeout_s;
    const char *target;        /* first operand */
    const char *job;           /* verify's second operand */
} s_args_t;

/* Parses a verb's words: need..max operands. Returns -1 to go on, else the exit status. */
static int
s_parse(cli_t *cli, const char *verb, int need, int max, const char *what, int argc, char **argv, s_args_t *a)
{
    static const struct option options[] = {
        {"json", no_argument, NULL, 'j'},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char command[64];
    snprintf(command, sizeof command, "replica %s", verb);
    *a = (s_args_t){.json = cli->json, .timeout_s = CLI_JOB_TIMEOUT_MS / 1000};
    int opt, rc = CLI_EXIT_OK;
    cli_opt_begin();
    while (rc == CLI_EXIT_OK && (opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
        case 'j': a->json = true; break;
        case 't': rc = cli_opt_int(command, "--timeout", optarg, 1, 31536000, "a number of seconds", &a->timeout_s); break;
        case 'h': s_usage(stdout); return CLI_EXIT_OK;
        default: return cli_opt_error(command, opt, argc, argv);
        }
    }
    if (rc != CLI_EXIT_OK)
        return rc;
    int n = argc - optind;
    if (n < need)
        return cli_usage_error("replica", "replica %s: which %s? (tapeflow config show lists replicas/NAME)", verb,
                               what);
    if (n > max)
        return cli_usage_error("replica", "replica %s: unexpected argument '%s'", verb, argv[optind + max]);
    if (n > 0)
        a->target = argv[optind];
    if (n > 1)
        a->job = argv[optind + 1];
    return -1;
}

/* The error as JSON on stdout (for scripts: "error" and "code") and as text on stderr (for
   people). Returns CLI_EXIT_FAIL. */
static int
s_fail(const char *verb, bool json, const char *target, const tf_err_t *err)
{
    if (json) {
        tf_json_t *j = tf_json_new();
        if (j) {
            tf_json_document_begin(j);
            tf_json_str(j, "target", target);
            tf_json_str(j, "error", err->message);
            tf_json_str(j, "code", tf_status_name(err->code));
            tf_json_object_end(j);
            if (tf_json_print(j, stdout) != 0)
                fprintf(stderr, "tapeflow replica %s: out of memory building JSON\n", verb);
            tf_json_destroy(&j);
        }
    }
    fprintf(stderr, "tapeflow replica %s: %s\n", verb, err->message);
    return CLI_EXIT_FAIL;
}

static const tf_err_t s_oom = {.code = TF_ERR_NOMEM, .message = "out of memory"};

static int
s_print_json(tf_json_t *j, const char *verb, int rc)
{
    if (tf_json_print(j, stdout) != 0) {
        fprintf(stderr, "tapeflow replica %s: out of memory building JSON\n", verb);
        return CLI_EXIT_FAIL;
    }
    return rc;
}

/* A time as ISO UTC into buf; "-" for 0. */
static const char *
s_when(int64_t ms, char *buf, size_t size)
{
    if (ms <= 0) {
        snprintf(buf, size, "-");
        return buf;
    }
    tf_clock_format(ms, buf, size);
    char *dot = strchr(buf, '.');   /* seconds are enough in a table */
    if (dot)
        strcpy(dot, "Z");
    return buf;
}

static const char *
s_or_dash(const char *s)
{
    return s && *s ? s : "-";
}

/* A client of the broker for the catalog's questions (one per command, not per question). */
static tf_client_t *
s_client(cli_t *cli, tf_err_t *err)
{
    return tf_client_new(cli->cfg, tf_config_get(cli->cfg, "broker/endpoint"), err);
}

/* The catalog's rows of target (query replicas, pattern = the target's name). */
static int
s_catalog_rows(tf_client_t *client, const char *target, int timeout_ms, tf_msg_t *reply, tf_err_t *err)
{
    tf_msg_cat_query_t q = {.query = "replicas", .pattern = (char *) target, .limit = TF_MSG_MAX_ROWS};
    return cli_catalog_query(client, &q, reply, timeout_ms, err);
}

/* ------------------------------------------------------------------ init -------------- */

static int
s_cmd_init(cli_t *cli, int argc, char **argv)
{
    s_args_t a;
    int rc = s_parse(cli, "init", 1, 1, "target", argc, argv, &a);
    if (rc >= 0)
        return rc;
    tf_err_t err = {0};
    tf_replica_conf_t conf;
    bool created = false;
    char id[128] = "";
    if (tf_replica_conf(cli->cfg, a.target, &conf, &err) != TF_OK
        || tf_replica_init(&conf, &created, id, sizeof id, &err) != TF_OK)
        return s_fail("init", a.json, a.target, &err);
    if (a.json) {
        tf_json_t *j = tf_json_new();
        if (!j)
            return s_fail("init", false, a.target, &s_oom);
        tf_json_document_begin(j);
        tf_json_str(j, "target", a.target);
        tf_json_str(j, "url", conf.url);
        tf_json_str(j, "target_id", id);
        tf_json_bool(j, "created", created);
        tf_json_object_end(j);
        rc = s_print_json(j, "init", CLI_EXIT_OK);
        tf_json_destroy(&j);
        return rc;
    }
    if (created)
        printf("replica target %s (%s) initialised: wrote %s (id %s); pools copy to it once it is in "
               "pools/POOL/replicas\n", a.target, conf.url, TF_REPLICA_SENTINEL, id);
    else
        printf("replica target %s (%s) was initialised already (id %s): nothing changed\n", a.target, conf.url, id);
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------------ list -------------- */

static const tf_msg_replica_row_t *
s_row_of(const tf_msg_t *reply, const char *job_id)
{
    for (size_t i = 0; reply && i < reply->cat_reply.replicas_count; i++)
        if (reply->cat_reply.replicas[i].job_id && strcmp(reply->cat_reply.replicas[i].job_id, job_id) == 0)
            return &reply->cat_reply.replicas[i];
    return NULL;
}

static const tf_replica_entry_t *
s_entry_of(const tf_replica_entry_t *entries, size_t count, const char *job_id)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(entries[i].job_id, job_id) == 0)
            return &entries[i];
    return NULL;
}

/* A row the catalog has as verified whose job is not committed on the target: lost. */
static bool
s_verified_missing(const tf_msg_replica_row_t *row, const tf_replica_entry_t *entries, size_t count)
{
    if (!row->job_id || !row->state || strcmp(row->state, "verified") != 0)
        return false;
    const tf_replica_entry_t *e = s_entry_of(entries, count, row->job_id);
    return !e || !e->committed;
}

/* What the target holds of a job, in words (row: the catalog's, for a job not there). */
static const char *
s_on_target(const tf_replica_entry_t *e, const tf_msg_replica_row_t *row)
{
    if (!e)
        return row && row->state && strcmp(row->state, "deleted") == 0 ? "deleted" : "missing";
    if (!e->committed)
        return "partial";
    return e->manifest_ok ? "committed" : "bad manifest";
}

/* One job of a target: what it holds (e, may be NULL) and the catalog's row (row, may be NULL). */
static void
s_list_json_job(tf_json_t *j, const tf_replica_entry_t *e, const tf_msg_replica_row_t *row, bool catalog)
{
    const tf_replica_manifest_t *m = e && e->manifest_ok ? &e->manifest : NULL;
    tf_json_object_begin(j, NULL);
    tf_json_str(j, "job_id", e ? e->job_id : row->job_id);
    tf_json_str(j, "on_target", s_on_target(e, row));
    tf_json_str(j, "problem", e && e->committed && !e->manifest_ok ? e->problem : NULL);
    if (!catalog)
        tf_json_null(j, "catalog_state");
    else
        tf_json_str(j, "catalog_state", row ? row->state : "unknown");
    tf_json_str(j, "pool", m ? m->pool : row ? row->pool : NULL);
    tf_json_str(j, "level", m ? m->level : row ? row->level : NULL);
    tf_json_str(j, "base_job", m ? m->base_job : row ? row->base_job : NULL);
    tf_json_int(j, "created_ms", m ? m->created_ms : row ? row->created_ms : 0);
    tf_json_int(j, "committed_ms", m ? m->committed_ms : 0);
    tf_json_int(j, "archives", (int64_t) (m ? m->archives_count : row ? row->archives : 0));
    tf_json_int(j, "bytes", (int64_t) (m ? m->stored : row ? row->bytes : 0));
    tf_json_int(j, "verified_ms", row ? row->verified_ms : 0);
    tf_json_str(j, "message", row ? row->message : NULL);
    tf_json_object_end(j);
}

static void
s_list_text_job(const tf_replica_entry_t *e, const tf_msg_replica_row_t *row, bool catalog, int idw)
{
    const tf_replica_manifest_t *m = e && e->manifest_ok ? &e->manifest : NULL;
    char created[64], size[32], archives[32];
    s_when(m ? m->created_ms : row ? row->created_ms : 0, created, sizeof created);
    tf_units_bytes(m ? m->stored : row ? row->bytes : 0, size, sizeof size);
    snprintf(archives, sizeof archives, "%zu", m ? m->archives_count : row ? (size_t) row->archives : 0);
    const char *state = !catalog ? "?" : row ? s_or_dash(row->state) : "unknown to catalog";
    const char *note = e && e->committed && !e->manifest_ok ? e->problem : row ? row->message : NULL;
    printf("%-*s  %-12s  %-18s  %-12s  %-20s  %8s  %10s  %s\n", idw, e ? e->job_id : s_or_dash(row->job_id),
           s_on_target(e, row), state, s_or_dash(m ? m->level : row ? row->level : NULL), created, archives, size,
           s_or_dash(note));
}

/* list TARGET: the target's jobs joined with the catalog's rows of it. */
static int
s_list_target(cli_t *cli, const s_args_t *a)
{
    tf_err_t err = {0};
    tf_replica_conf_t conf;
    if (tf_replica_conf(cli->cfg, a->target, &conf, &err) != TF_OK)
        return s_fail("list", a->json, a->target, &err);
    tf_target_t *target = tf_replica_connect(&conf, NULL, 0, &err);
    if (!target)
        return s_fail("list", a->json, a->target, &err);
    tf_replica_entry_t *entries = NULL;
    size_t count = 0;
    if (tf_replica_list(target, &entries, &count, &err) != TF_OK) {
        tf_target_destroy(&target);
        return s_fail("list", a->json, a->target, &err);
    }
    tf_msg_t reply = {0};
    tf_err_t cerr = {0};
    tf_client_t *client = s_client(cli, &cerr);
    bool catalog = client && s_catalog_rows(client, a->target, (int) (a->timeout_s * 1000), &reply, &cerr) == TF_OK;
    tf_client_destroy(&client);
    if (!catalog && !a->json)
        fprintf(stderr, "tapeflow replica list: the catalog could not be asked (%s): the CATALOG column is "
                "'?'\n", cerr.message);
    /* Rows the catalog has for this target whose job is not there (deleted by retention, or
       lost: verified in the catalog but gone from the target). */
    size_t extra = 0, lost = 0;
    for (size_t i = 0; catalog && i < reply.cat_reply.replicas_count; i++) {
        if (reply.cat_reply.replicas[i].job_id && !s_entry_of(entries, count, reply.cat_reply.replicas[i].job_id))
            extra++;
        lost += s_verified_missing(&reply.cat_reply.replicas[i], entries, count);
    }
    int rc = lost ? CLI_EXIT_FAIL : CLI_EXIT_OK;
    if (a->json) {
        tf_json_t *j = tf_json_new();
        if (!j)
            rc = s_fail("list", false, a->target, &s_oom);
        else {
            tf_json_document_begin(j);
            tf_json_str(j, "target", a->target);
            tf_json_str(j, "url", tf_target_url(target));
            tf_json_bool(j, "catalog_reachable", catalog);
            tf_json_str(j, "catalog_error", catalog ? NULL : cerr.message);
            tf_json_int(j, "missing_verified", (int64_t) lost);
            tf_json_array_begin(j, "jobs");
            for (size_t i = 0; i < count; i++)
                s_list_json_job(j, &entries[i], catalog ? s_row_of(&reply, entries[i].job_id) : NULL, catalog);
            for (size_t i = 0; catalog && i < reply.cat_reply.replicas_count; i++) {
                const tf_msg_replica_row_t *row = &reply.cat_reply.replicas[i];
                if (row->job_id && !s_entry_of(entries, count, row->job_id))
                    s_list_json_job(j, NULL, row, true);
            }
            tf_json_array_end(j);
            tf_json_object_end(j);
            rc = s_print_json(j, "list", rc);
            tf_json_destroy(&j);
        }
    }
    else {
        int idw = 3;
        for (size_t i = 0; i < count; i++)
            if ((int) strlen(entries[i].job_id) > idw)
                idw = (int) strlen(entries[i].job_id);
        for (size_t i = 0; extra && i < reply.cat_reply.replicas_count; i++)
            if (reply.cat_reply.replicas[i].job_id && (int) strlen(reply.cat_reply.replicas[i].job_id) > idw)
                idw = (int) strlen(reply.cat_reply.replicas[i].job_id);
        printf("target %s (%s): %zu job%s on the target\n", a->target, tf_target_url(target), count,
               count == 1 ? "" : "s");
        printf("%-*s  %-12s  %-18s  %-12s  %-20s  %8s  %10s  %s\n", idw, "JOB", "ON TARGET", "CATALOG", "LEVEL",
               "CREATED", "ARCHIVES", "SIZE", "MESSAGE");
        for (size_t i = 0; i < count; i++)
            s_list_text_job(&entries[i], catalog ? s_row_of(&reply, entries[i].job_id) : NULL, catalog, idw);
        for (size_t i = 0; extra && i < reply.cat_reply.replicas_count; i++) {
            const tf_msg_replica_row_t *row = &reply.cat_reply.replicas[i];
            if (row->job_id && !s_entry_of(entries, count, row->job_id))
                s_list_text_job(NULL, row, true, idw);
        }
        if (count == 0 && extra == 0)
            printf("(nothing yet: jobs of a pool whose pools/POOL/replicas names %s are copied here)\n", a->target);
    }
    if (lost) {
        fflush(stdout);
        fprintf(stderr, "tapeflow replica list: %zu job%s the catalog has as verified on %s %s missing there "
                "(ON TARGET missing or partial): run tapeflow replica verify %s to record %s as failed, and "
                "check who removed %s\n", lost, lost == 1 ? "" : "s", tf_target_url(target),
                lost == 1 ? "is" : "are", a->target, lost == 1 ? "it" : "them", lost == 1 ? "it" : "them");
    }
    if (catalog)
        tf_msg_clear(&reply);
    tf_replica_list_free(&entries, count);
    tf_target_destroy(&target);
    return rc;
}

/* list: the catalog's rows of every configured target. */
static int
s_list_all(cli_t *cli, const s_args_t *a)
{
    zlist_t *names = tf_config_children(cli->cfg, "replicas");
    if (!names)
        return s_fail("list", a->json, NULL, &s_oom);
    tf_json_t *j = a->json ? tf_json_new() : NULL;
    if (a->json && !j) {
        zlist_destroy(&names);
        return s_fail("list", false, NULL, &s_oom);
    }
    if (j) {
        tf_json_document_begin(j);
        tf_json_array_begin(j, "targets");
    }
    int rc = CLI_EXIT_OK;
    size_t shown = 0, misconfigured = 0;
    tf_err_t err = {0};
    tf_client_t *client = NULL;   /* made at the first target that has a configuration */
    for (const char *name = zlist_first(names); name && rc == CLI_EXIT_OK; name = zlist_next(names)) {
        tf_replica_conf_t conf;
        tf_err_t conf_err = {0};
        int crc = tf_replica_conf(cli->cfg, name, &conf, &conf_err);
        if (crc == TF_ERR_NOTFOUND)
            continue;   /* a name with no url: not a target */
        if (crc != TF_OK) {
            /* A target whose configuration is wrong copies nothing: the operator must see it. */
            misconfigured++;
            char key[TF_MSG_MAX_ID + 32];
            snprintf(key, sizeof key, "replicas/%s/url", name);
            if (j) {
                tf_json_object_begin(j, NULL);
                tf_json_str(j, "target", name);
                tf_json_str(j, "url", tf_config_get(cli->cfg, key));
                tf_json_str(j, "error", conf_err.message);
                tf_json_array_begin(j, "jobs");
                tf_json_array_end(j);
                tf_json_object_end(j);
            }
            else
                printf("%starget %s: not usable: %s\n", shown ? "\n" : "", name, conf_err.message);
            shown++;
            continue;
        }
        tf_msg_t reply;
        if ((!client && !(client = s_client(cli, &err)))
            || s_catalog_rows(client, name, (int) (a->timeout_s * 1000), &reply, &err) != TF_OK) {
            rc = CLI_EXIT_FAIL;   /* the catalog is the source here: without it, nothing to show */
            break;
        }
        const tf_msg_cat_reply_t *r = &reply.cat_reply;
        if (j) {
            tf_json_object_begin(j, NULL);
            tf_json_str(j, "target", name);
            tf_json_str(j, "url", conf.url);
            tf_json_null(j, "error");
            tf_json_array_begin(j, "jobs");
            for (size_t i = 0; i < r->replicas_count; i++)
                s_list_json_job(j, NULL, &r->replicas[i], true);
            tf_json_array_end(j);
            tf_json_object_end(j);
        }
        else {
            printf("%starget %s (%s): %zu job%s in the catalog%s\n", shown ? "\n" : "", name, conf.url,
                   r->replicas_count,
                   r->replicas_count == 1 ? "" : "s",
                   r->replicas_count ? "" : " (tapeflow replica list NAME shows what the target holds)");
            int idw = 3;
            for (size_t i = 0; i < r->replicas_count; i++)
                if (r->replicas[i].job_id && (int) strlen(r->replicas[i].job_id) > idw)
                    idw = (int) strlen(r->replicas[i].job_id);
            if (r->replicas_count)
                printf("%-*s  %-9s  %-12s  %-20s  %8s  %10s  %-20s  %s\n", idw, "JOB", "STATE", "LEVEL", "CREATED",
                       "ARCHIVES", "SIZE", "VERIFIED", "MESSAGE");
            for (size_t i = 0; i < r->replicas_count; i++) {
                const tf_msg_replica_row_t *row = &r->replicas[i];
                char created[64], verified[64], size[32];
                printf("%-*s  %-9s  %-12s  %-20s  %8" PRIu64 "  %10s  %-20s  %s\n", idw, s_or_dash(row->job_id),
                       s_or_dash(row->state), s_or_dash(row->level), s_when(row->created_ms, created, sizeof created),
                       row->archives, tf_units_bytes(row->bytes, size, sizeof size),
                       s_when(row->verified_ms, verified, sizeof verified), s_or_dash(row->message));
            }
        }
        shown++;
        tf_msg_clear(&reply);
    }
    tf_client_destroy(&client);
    zlist_destroy(&names);
    if (rc != CLI_EXIT_OK) {
        tf_json_destroy(&j);
        return s_fail("list", a->json, NULL, &err);
    }
    if (j) {
        tf_json_array_end(j);
        tf_json_object_end(j);
        rc = s_print_json(j, "list", rc);
        tf_json_destroy(&j);
    }
    else if (shown == 0)
        printf("no replication targets configured (replicas/NAME/url; docs/operations.md, \"Replication\")\n");
    if (misconfigured) {
        fflush(stdout);
        fprintf(stderr, "tapeflow replica list: %zu target%s not usable (see above): fix replicas/NAME in the "
                "configuration, then run tapeflow replica check NAME\n", misconfigured,
                misconfigured == 1 ? " is" : "s are");
        rc = CLI_EXIT_FAIL;
    }
    return rc;
}

static int
s_cmd_list(cli_t *cli, int argc, char **argv)
{
    s_args_t a;
    int rc = s_parse(cli, "list", 0, 1, "target", argc, argv, &a);
    if (rc >= 0)
        return rc;
    return a.target ? s_list_target(cli, &a) : s_list_all(cli, &a);
}

/* ------------------------------------------------------------------ verify ------------ */

/* One job's verification. */
typedef struct {
    char job_id[TF_MSG_MAX_ID + 1];
    size_t files;              /* files checked */
    size_t bad;
    char problems[1024];       /* the first problems, "; " between them */
    bool record;               /* the outcome goes to the catalog (a job copied fully, or lost) */
    bool missing;              /* not committed on the target: problems is the whole message */
    bool recorded;
} s_job_check_t;

typedef struct {
    s_job_check_t *job;
    bool json;
} s_verify_ctx_t;

static void
s_verify_report(void *arg, const char *file, const char *problem)
{
    s_verify_ctx_t *ctx = arg;
    ctx->job->files++;
    if (!problem)
        return;
    size_t used = strlen(ctx->job->problems);
    if (used + 8 < sizeof ctx->job->problems)
        snprintf(ctx->job->problems + used, sizeof ctx->job->problems - used, "%s%s: %s", used ? "; " : "",
                 file ? file : "?", problem);
    if (!ctx->json)
        fprintf(stderr, "tapeflow replica verify: job %s: %s: %s\n", ctx->job->job_id, file ? file : "?", problem);
}

/* Records one job's outcome (cat_replica verified | failed), with a deterministic item id. */
static int
s_record(tf_client_t *client, const char *target, const char *url, const s_job_check_t *jc, int timeout_ms,
         tf_err_t *err)
{
    int64_t now = tf_clock_wall_ms();
    bool ok = jc->bad == 0;
    char message[TF_ERR_MESSAGE_MAX + 1200] = "", item[TF_MSG_MAX_ID * 3];
    if (!ok && jc->missing)
        snprintf(message, sizeof message, "%s", jc->problems);   /* the catalog says "replication to URL failed: " */
    else if (!ok)
        snprintf(message, sizeof message, "replication to %s failed: replica verify found %zu bad file%s: %s", url,
                 jc->bad, jc->bad == 1 ? "" : "s", jc->problems);
    snprintf(item, sizeof item, "%s-replica-%s-%s-%" PRId64, jc->job_id, target, ok ? "verified" : "failed", now);
    tf_msg_t payload = {.type = TF_MSG_CAT_REPLICA}, result;
    payload.cat_replica = (tf_msg_cat_replica_t){.op = ok ? "verified" : "failed", .job_id = (char *) jc->job_id,
                                                 .target = (char *) target, .url = (char *) url,
                                                 .message = ok ? NULL : message, .time_ms = now};
    int rc = tf_client_call(client, "catalog", item, jc->job_id, &payload, &result, timeout_ms, err);
    if (rc == TF_OK)
        tf_msg_clear(&result);
    return rc;
}

/* Checks one committed job's files against its manifest. */
static int
s_verify_job(tf_target_t *target, const tf_replica_manifest_t *m, size_t chunk, bool json, s_job_check_t *jc,
             tf_err_t *err)
{
    s_verify_ctx_t ctx = {.job = jc, .json = json};
    return tf_replica_verify(target, m, chunk, &jc->bad, s_verify_report, &ctx, err);
}

static int
s_cmd_verify(cli_t *cli, int argc, char **argv)
{
    s_args_t a;
    int rc = s_parse(cli, "verify", 1, 2, "target", argc, argv, &a);
    if (rc >= 0)
        return rc;
    tf_err_t err = {0};
    tf_replica_conf_t conf;
    if (tf_replica_conf(cli->cfg, a.target, &conf, &err) != TF_OK)
        return s_fail("verify", a.json, a.target, &err);
    tf_target_t *target = tf_replica_connect(&conf, NULL, 0, &err);
    if (!target)
        return s_fail("verify", a.json, a.target, &err);
    size_t chunk = (size_t) tf_config_size(cli->cfg, "replicator/chunk");
    tf_replica_entry_t *entries = NULL;
    size_t count = 0;
    size_t partial = 0;
    s_job_check_t *checks = NULL;
    size_t nchecks = 0;
    const char *url = tf_target_url(target);
    char record_error[TF_ERR_MESSAGE_MAX + 128] = "";
    tf_msg_t rows = {0};
    bool catalog = false;
    if (a.job) {
        /* One job: it must be committed there. Only a manifest that is there and wrong makes
           it bad; a target that stops answering fails the command and records nothing. */
        entries = calloc(1, sizeof *entries);
        if (!entries) {
            tf_target_destroy(&target);
            return s_fail("verify", a.json, a.target, &s_oom);
        }
        count = 1;
        if (tf_replica_entry_read(target, a.job, &entries[0], &err) != TF_OK) {
            tf_replica_list_free(&entries, count);
            tf_target_destroy(&target);
            return s_fail("verify", a.json, a.target, &err);
        }
    }
    else if (tf_replica_list(target, &entries, &count, &err) != TF_OK) {
        tf_target_destroy(&target);
        return s_fail("verify", a.json, a.target, &err);
    }
    /* What the catalog has as verified there must be there: a job gone from the target
       (deleted by hand, a share restored from an old snapshot) is bad too. Its rows also say
       which jobs have a row on this target to record the outcome on. */
    tf_err_t cerr = {0};
    tf_client_t *client = s_client(cli, &cerr);
    catalog = client && s_catalog_rows(client, a.target, (int) (a.timeout_s * 1000), &rows, &cerr) == TF_OK;
    if (!catalog)
        snprintf(record_error, sizeof record_error, "%s (jobs the catalog has on %s were not looked for)",
                 cerr.message, a.target);
    size_t nrows = catalog ? rows.cat_reply.replicas_count : 0;
    checks = count + nrows ? calloc(count + nrows, sizeof *checks) : NULL;
    if (count + nrows && !checks) {
        if (catalog)
            tf_msg_clear(&rows);
        tf_client_destroy(&client);
        tf_replica_list_free(&entries, count);
        tf_target_destroy(&target);
        return s_fail("verify", a.json, a.target, &s_oom);
    }
    int failed = TF_OK;
    for (size_t i = 0; i < count && failed == TF_OK; i++) {
        const tf_replica_entry_t *e = &entries[i];
        const tf_msg_replica_row_t *row = catalog ? s_row_of(&rows, e->job_id) : NULL;
        bool lost = row && s_verified_missing(row, entries, count);
        if (!e->committed && !a.job && !lost) {
            partial++;   /* not a replica yet: nothing to check against */
            continue;
        }
        s_job_check_t *jc = &checks[nchecks++];
        snprintf(jc->job_id, sizeof jc->job_id, "%s", e->job_id);
        /* A job the catalog has no row of on this target (it knows every one, the reply is
           whole) has nothing to record the outcome on. */
        jc->record = !catalog || row || rows.cat_reply.truncated;
        if (!e->committed) {
            jc->bad = 1;
            jc->missing = true;
            snprintf(jc->problems, sizeof jc->problems, "replica verify: job %s is missing on %s", e->job_id, url);
        }
        else if (!e->manifest_ok) {
            jc->bad = 1;
            snprintf(jc->problems, sizeof jc->problems, "%s/%s: %s", e->job_id, TF_REPLICA_MANIFEST, e->problem);
        }
        else if ((failed = s_verify_job(target, &e->manifest, chunk, a.json, jc, &err)) != TF_OK)
            break;
    }
    for (size_t i = 0; failed == TF_OK && !a.job && i < nrows; i++) {
        const tf_msg_replica_row_t *row = &rows.cat_reply.replicas[i];
        if (!s_verified_missing(row, entries, count) || s_entry_of(entries, count, row->job_id))
            continue;   /* there (checked above), or not the catalog's verified replica */
        s_job_check_t *jc = &checks[nchecks++];
        snprintf(jc->job_id, sizeof jc->job_id, "%s", row->job_id);
        jc->record = jc->missing = true;
        jc->bad = 1;
        snprintf(jc->problems, sizeof jc->problems, "replica verify: job %s is missing on %s", row->job_id, url);
    }
    if (catalog)
        tf_msg_clear(&rows);
    if (failed != TF_OK) {
        free(checks);
        tf_client_destroy(&client);
        tf_replica_list_free(&entries, count);
        tf_target_destroy(&target);
        return s_fail("verify", a.json, a.target, &err);
    }
    for (size_t i = 0; !a.json && i < nchecks; i++)
        if (checks[i].missing)
            fprintf(stderr, "tapeflow %s\n", checks[i].problems);   /* "tapeflow replica verify: job J is ..." */
    /* The catalog learns the outcome of committed jobs and of lost ones (a job only partial
       there may still be being copied: its row is the replicator's); when the catalog cannot
       be reached the files still decide the exit. */
    size_t to_record = 0;
    for (size_t i = 0; i < nchecks; i++)
        to_record += checks[i].record;
    if (!to_record)
        tf_client_destroy(&client);
    else if (!client && !(client = s_client(cli, &err)))
        snprintf(record_error, sizeof record_error, "%s", err.message);
    for (size_t i = 0; client && i < nchecks; i++) {
        if (!checks[i].record)
            continue;
        tf_err_t rerr = {0};
        if (s_record(client, a.target, url, &checks[i], (int) (a.timeout_s * 1000), &rerr) == TF_OK)
            checks[i].recorded = true;
        else {
            snprintf(record_error, sizeof record_error, "%s", rerr.message);
            if (rerr.code == TF_ERR_TIMEOUT)
                break;   /* the broker or catalog is not there: the others would wait as long */
        }
    }
    tf_client_destroy(&client);
    size_t bad_jobs = 0;
    for (size_t i = 0; i < nchecks; i++)
        bad_jobs += checks[i].bad > 0;
    rc = bad_jobs ? CLI_EXIT_FAIL : CLI_EXIT_OK;
    if (a.json) {
        tf_json_t *j = tf_json_new();
        if (j) {
            tf_json_document_begin(j);
            tf_json_str(j, "target", a.target);
            tf_json_str(j, "url", tf_target_url(target));
            tf_json_bool(j, "ok", bad_jobs == 0);
            tf_json_int(j, "jobs_checked", (int64_t) nchecks);
            tf_json_int(j, "jobs_bad", (int64_t) bad_jobs);
            tf_json_int(j, "jobs_partial", (int64_t) partial);
            tf_json_str(j, "record_error", record_error[0] ? record_error : NULL);
            tf_json_array_begin(j, "jobs");
            for (size_t i = 0; i < nchecks; i++) {
                tf_json_object_begin(j, NULL);
                tf_json_str(j, "job_id", checks[i].job_id);
                tf_json_bool(j, "ok", checks[i].bad == 0);
                tf_json_bool(j, "missing", checks[i].missing);
                tf_json_int(j, "files", (int64_t) checks[i].files);
                tf_json_int(j, "bad", (int64_t) checks[i].bad);
                tf_json_str(j, "problems", checks[i].problems[0] ? checks[i].problems : NULL);
                tf_json_bool(j, "recorded", checks[i].recorded);
                tf_json_object_end(j);
            }
            tf_json_array_end(j);
            tf_json_object_end(j);
            rc = s_print_json(j, "verify", rc);
            tf_json_destroy(&j);
        }
        else
            rc = s_fail("verify", false, a.target, &s_oom);
    }
    else {
        for (size_t i = 0; i < nchecks; i++) {
            if (checks[i].bad == 0)
                printf("job %s: ok (%zu files re-read, sizes and checksums match the manifest)\n", checks[i].job_id,
                       checks[i].files);
            else if (checks[i].missing)
                printf("job %s: missing (no %s/%s on the target)\n", checks[i].job_id, checks[i].job_id,
                       TF_REPLICA_MANIFEST);
            else
                printf("job %s: %zu bad file%s: %s\n", checks[i].job_id, checks[i].bad,
                       checks[i].bad == 1 ? "" : "s", checks[i].problems);
        }
        if (nchecks == 0)
            printf("target %s (%s) holds no committed job to verify%s\n", a.target, tf_target_url(target),
                   partial ? "" : " (tapeflow replica list shows what it holds)");
        if (partial)
            printf("%zu partial job%s (still being copied, or left by an interrupted copy) not verified\n", partial,
                   partial == 1 ? "" : "s");
        printf("target %s: %zu job%s checked, %zu bad\n", a.target, nchecks, nchecks == 1 ? "" : "s", bad_jobs);
        if (record_error[0])
            fprintf(stderr, "tapeflow replica verify: the result could not be recorded in the catalog: %s "
                    "(the files were checked; the exit status says how they are)\n", record_error);
    }
    free(checks);
    tf_replica_list_free(&entries, count);
    tf_target_destroy(&target);
    return rc;
}

/* ------------------------------------------------------------------ check ------------- */

typedef enum { S_OK, S_WARN, S_FAIL, S_SKIP } s_step_status_t;

typedef struct {
    const char *name;
    s_step_status_t status;
    char message[TF_ERR_MESSAGE_MAX + 256];
} s_step_t;

#define S_STEPS 6

typedef struct {
    s_step_t steps[S_STEPS];
    size_t count;
} s_check_t;

static void
s_step(s_check_t *c, const char *name, s_step_status_t status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
s_step(s_check_t *c, const char *name, s_step_status_t status, const char *fmt, ...)
{
    if (c->count == S_STEPS)
        return;
    s_step_t *s = &c->steps[c->count++];
    s->name = name;
    s->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->message, sizeof s->message, fmt, ap);
    va_end(ap);
}

static const char *
s_status_word(s_step_status_t s)
{
    return s == S_OK ? "ok" : s == S_WARN ? "warn" : s == S_FAIL ? "FAIL" : "skip";
}

/* The steps after a failure are not run. */
static void
s_skip_rest(s_check_t *c, const char *const *names, size_t from)
{
    for (size_t i = from; i < S_STEPS; i++)
        s_step(c, names[i], S_SKIP, "not checked (an earlier step failed)");
}

/* writable: write, read back and delete .partial/.check-<pid>. */
static int
s_check_write(tf_target_t *target, char *path, size_t size, tf_err_t *err)
{
    char want[64];
    snprintf(want, sizeof want, "tapeflow replica check %ld\n", (long) getpid());
    snprintf(path, size, "%s/.check-%ld", TF_REPLICA_PARTIAL, (long) getpid());
    int rc = tf_target_mkdir(target, TF_REPLICA_PARTIAL, err);
    if (rc == TF_OK)
        rc = tf_target_put(target, path, want, strlen(want), err);
    char *got = NULL;
    size_t len = 0;
    if (rc == TF_OK)
        rc = tf_target_get(target, path, 4096, &got, &len, err);
    if (rc == TF_OK && (len != strlen(want) || memcmp(got, want, len) != 0))
        rc = tf_err_set(err, TF_ERR_IO, "%s read back differs from what was written (%zu bytes, %zu expected): "
                        "the target does not keep what is written to it", path, len, strlen(want));
    free(got);
    tf_err_t rerr = {0};
    if (tf_target_remove(target, path, &rerr) != TF_OK && rc == TF_OK)
        rc = tf_err_set(err, rerr.code, "%s", rerr.message);
    return rc;
}

/* space: free bytes against min_free and the newest committed job's size. */
static void
s_check_space(s_check_t *c, tf_target_t *target, const tf_replica_conf_t *conf)
{
    uint64_t free_bytes = 0, total = 0;
    tf_err_t err = {0};
    if (tf_target_space(target, &free_bytes, &total, &err) != TF_OK) {
        s_step(c, "space", S_WARN, "free space not known (%s): copies are not checked against it", err.message);
        return;
    }
    /* The newest job: the next one is likely about its size. Only its manifest is read (the
       folder written last), not every job's. */
    tf_target_entry_t *root = NULL;
    size_t nroot = 0;
    const tf_target_entry_t *newest = NULL;
    if (tf_target_list(target, "", &root, &nroot, &err) == TF_OK)
        for (size_t i = 0; i < nroot; i++)
            if (root[i].is_dir && root[i].name[0] != '.' && strlen(root[i].name) <= TF_MSG_MAX_ID
                && (!newest || root[i].mtime_ms > newest->mtime_ms))
                newest = &root[i];   /* dot entries are tapeflow's own (.partial) */
    tf_replica_manifest_t manifest = {0};
    const tf_replica_manifest_t *last = NULL;
    if (newest && tf_replica_manifest_read(target, newest->name, &manifest, &err) == TF_OK)
        last = &manifest;
    free(root);
    char f[32], t[32], need[32];
    tf_units_bytes(free_bytes, f, sizeof f);
    tf_units_bytes(total, t, sizeof t);
    if (conf->min_free && free_bytes < conf->min_free)
        s_step(c, "space", S_WARN, "%s free of %s, under replicas/%s/min_free %s: copies are refused until there "
               "is more; free space on the share or lower pools/POOL/replica_keep_last|replica_keep_days", f, t,
               conf->name, tf_units_bytes(conf->min_free, need, sizeof need));
    else if (last && free_bytes < last->stored + conf->min_free)
        s_step(c, "space", S_WARN, "%s free of %s, less than the last job (%s) needed (%s): the next copy may not "
               "fit; free space on the share or lower pools/POOL/replica_keep_last|replica_keep_days", f, t,
               last->job_id, tf_units_bytes(last->stored, need, sizeof need));
    else
        s_step(c, "space", S_OK, "%s free of %s", f, t);
    tf_replica_manifest_clear(&manifest);
}

static void
s_check_run(cli_t *cli, const char *name, s_check_t *c, char *url, size_t url_size)
{
    static const char *const names[S_STEPS] = {"config", "reachable", "mounted", "sentinel", "writable", "space"};
    tf_err_t err = {0};
    tf_replica_conf_t conf;
    if (tf_replica_conf(cli->cfg, name, &conf, &err) != TF_OK) {
        s_step(c, "config", S_FAIL, "%s", err.message);
        s_skip_rest(c, names, 1);
        return;
    }
    bool smb_url = strncmp(conf.url, "smb:", 4) == 0;
    s_step(c, "config", S_OK, "replicas/%s: %s target%s%s", name, smb_url ? "an smb://" : "a file://",
           conf.credentials[0] ? ", credentials from " : "", conf.credentials);
    /* First without require_fs: is the folder (or server, share) there at all? */
    tf_target_opts_t opts = tf_replica_target_opts(&conf, false, false);
    tf_target_t *target = tf_target_open(&opts, &err);
    if (!target) {
        s_step(c, "reachable", S_FAIL, "%s", err.message);
        s_skip_rest(c, names, 2);
        return;
    }
    snprintf(url, url_size, "%s", tf_target_url(target));
    bool smb = strcmp(tf_target_scheme(target), "smb") == 0;
    if (smb)
        s_step(c, "reachable", S_OK, "%s: the server answered, accepted the credentials and has the folder", url);
    else
        s_step(c, "reachable", S_OK, "%s: the folder is there, on %s", url, tf_target_fs_type(target));
    char fs[64];
    snprintf(fs, sizeof fs, "%s", tf_target_fs_type(target));
    tf_target_destroy(&target);
    /* Then as the replicator opens it: require_fs checked. */
    opts = tf_replica_target_opts(&conf, true, false);
    if (smb)
        s_step(c, "mounted", S_OK, "no mount needed (smb:// is written with libsmbclient)");
    else if (!opts.require_fs)
        s_step(c, "mounted", S_OK, "on %s (replicas/%s/require_fs is any: not checked)", fs, name);
    else if (!(target = tf_target_open(&opts, &err))) {
        s_step(c, "mounted", S_FAIL, "%s", err.message);
        s_skip_rest(c, names, 3);
        return;
    }
    else {
        s_step(c, "mounted", S_OK, "on %s as replicas/%s/require_fs = %s asks", fs, name, opts.require_fs);
        tf_target_destroy(&target);
    }
    char id[128] = "";
    target = tf_replica_connect(&conf, id, sizeof id, &err);
    if (!target) {
        s_step(c, "sentinel", S_FAIL, "%s", err.message);
        tf_target_destroy(&target);
        s_skip_rest(c, names, 4);
        return;
    }
    s_step(c, "sentinel", S_OK, "%s names target %s (id %s)", TF_REPLICA_SENTINEL, name, id);
    char path[128];
    if (s_check_write(target, path, sizeof path, &err) != TF_OK) {
        s_step(c, "writable", S_FAIL, "%s", err.message);
        tf_target_destroy(&target);
        s_skip_rest(c, names, 5);
        return;
    }
    s_step(c, "writable", S_OK, "wrote, read back and deleted %s", path);
    s_check_space(c, target, &conf);
    tf_target_destroy(&target);
}

static int
s_cmd_check(cli_t *cli, int argc, char **argv)
{
    s_args_t a;
    int rc = s_parse(cli, "check", 1, 1, "target", argc, argv, &a);
    if (rc >= 0)
        return rc;
    s_check_t c = {0};
    char url[TF_MSG_MAX_PATH + 1] = "";
    s_check_run(cli, a.target, &c, url, sizeof url);
    s_step_status_t worst = S_OK;
    for (size_t i = 0; i < c.count; i++)
        if (c.steps[i].status != S_SKIP && c.steps[i].status > worst)
            worst = c.steps[i].status;
    rc = worst == S_FAIL ? CLI_EXIT_CHECK_FAILED : worst == S_WARN ? CLI_EXIT_FAIL : CLI_EXIT_OK;
    const char *verdict = worst == S_FAIL ? "fail" : worst == S_WARN ? "warn" : "ok";
    if (a.json) {
        tf_json_t *j = tf_json_new();
        if (!j)
            return s_fail("check", false, a.target, &s_oom);
        tf_json_document_begin(j);
        tf_json_str(j, "target", a.target);
        tf_json_str(j, "url", url[0] ? url : NULL);
        tf_json_str(j, "state", verdict);   /* "state" as drive doctor|test's steps */
        tf_json_array_begin(j, "steps");
        for (size_t i = 0; i < c.count; i++) {
            tf_json_object_begin(j, NULL);
            tf_json_str(j, "step", c.steps[i].name);
            tf_json_str(j, "state", s_status_word(c.steps[i].status));
            tf_json_str(j, "detail", c.steps[i].message);
            tf_json_object_end(j);
        }
        tf_json_array_end(j);
        tf_json_object_end(j);
        rc = s_print_json(j, "check", rc);
        tf_json_destroy(&j);
        return rc;
    }
    for (size_t i = 0; i < c.count; i++)
        printf("%-4s  %-9s  %s\n", s_status_word(c.steps[i].status), c.steps[i].name, c.steps[i].message);
    printf("replica target %s: %s\n", a.target,
           worst == S_FAIL ? "FAILED (see the FAIL line for the fix)" : worst == S_WARN ? "usable, with warnings" : "ok");
    return rc;
}

const cli_verb_t cli_replica_verbs[] = {
    {"init", s_cmd_init},
    {"list", s_cmd_list},
    {"verify", s_cmd_verify},
    {"check", s_cmd_check},
    {NULL, NULL},
};

int
cmd_replica(cli_t *cli, int argc, char **argv)
{
    return cli_verb_run(cli, "replica", cli_replica_verbs, s_usage, argc, argv);
}
