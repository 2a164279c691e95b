/*  tapeflow events [TOPIC-PREFIX] [--json] [--count N] [--timeout SECONDS] - tail the bus. */
#define _GNU_SOURCE
#include <czmq.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_opt.h"
#include "tf_clock.h"
#include "tf_json.h"
#include "tf_secure.h"
#include "tf_wire.h"

typedef struct {
    const char *prefix;
    bool json;
    int64_t count;        /* 0: unlimited */
    int64_t timeout_ms;   /* 0: none */
} s_options_t;

/* Returns -1 when the help was printed, else the exit status (CLI_EXIT_OK to go on). */
static int
s_parse(cli_t *cli, int argc, char **argv, s_options_t *opt)
{
    static const struct option options[] = {
        {"json", no_argument, NULL, 'j'},
        {"count", required_argument, NULL, 'n'},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(opt, 0, sizeof *opt);
    opt->prefix = "";
    opt->json = cli->json;
    int c;
    cli_opt_begin();
    while ((c = getopt_long(argc, argv, ":n:t:h", options, NULL)) != -1) {
        switch (c) {
        case 'j': opt->json = true; break;
        case 'n':
            if (cli_opt_int("events", "--count", optarg, 1, INT64_MAX, "a number of events",
                            &opt->count) != CLI_EXIT_OK)
                return CLI_EXIT_USAGE;
            break;
        case 't':
            if (cli_opt_seconds("events", "--timeout", optarg, 1, 1000000000LL * 1000,
                                &opt->timeout_ms) != CLI_EXIT_OK)
                return CLI_EXIT_USAGE;
            break;
        case 'h': cli_help("events", stdout); return -1;
        default: return cli_opt_error("events", c, argc, argv);
        }
    }
    if (optind < argc)
        opt->prefix = argv[optind++];
    if (optind < argc)
        return cli_usage_error("events", "events: only one TOPIC-PREFIX, got '%s' and '%s'",
                               opt->prefix, argv[optind]);
    return CLI_EXIT_OK;
}

static void
s_print_gap(tf_json_t *j, bool json, const char *source, uint64_t from, uint64_t to)
{
    if (json) {
        tf_json_reset(j);
        tf_json_document_begin(j);
        tf_json_object_begin(j, "gap");
        tf_json_str(j, "source", source);
        tf_json_int(j, "lost", (int64_t) (to - from + 1));
        tf_json_int(j, "from", (int64_t) from);
        tf_json_int(j, "to", (int64_t) to);
        tf_json_object_end(j);
        tf_json_object_end(j);
        printf("%s\n", tf_json_text(j) ? tf_json_text(j) : "{}");
    }
    else
        printf("gap: %s lost %" PRIu64 " events (seq %" PRIu64 "..%" PRIu64 ")\n", source,
               to - from + 1, from, to);
}

static void
s_print_event(tf_json_t *j, bool json, const tf_msg_event_t *e)
{
    char when[64];
    tf_clock_format(e->time_ms, when, sizeof when);
    if (json) {
        tf_json_reset(j);
        tf_json_document_begin(j);
        tf_json_str(j, "time", when);
        tf_json_int(j, "time_ms", e->time_ms);
        tf_json_str(j, "source", e->source);
        tf_json_int(j, "seq", (int64_t) e->seq);
        tf_json_str(j, "topic", e->topic);
        tf_json_str(j, "level", e->level);
        tf_json_str(j, "message", e->message);
        if (e->job_id && *e->job_id)
            tf_json_str(j, "job_id", e->job_id);
        if (e->item_id && *e->item_id)
            tf_json_str(j, "item_id", e->item_id);
        if (e->done || e->total) {
            tf_json_int(j, "done", (int64_t) e->done);
            tf_json_int(j, "total", (int64_t) e->total);
        }
        tf_json_object_end(j);
        printf("%s\n", tf_json_text(j) ? tf_json_text(j) : "{}");
        return;
    }
    printf("%s %s#%" PRIu64 " %s %s %s", when, e->source ? e->source : "?", e->seq,
           e->topic ? e->topic : "?", e->level ? e->level : "-", e->message ? e->message : "");
    if (e->job_id && *e->job_id)
        printf(" job=%s", e->job_id);
    if (e->item_id && *e->item_id)
        printf(" item=%s", e->item_id);
    if (e->done || e->total)
        printf(" %" PRIu64 "/%" PRIu64, e->done, e->total);
    printf("\n");
}

static void
s_seq_free(void **item)
{
    free(*item);
    *item = NULL;
}

/* Tracks the last sequence number per source; reports a gap when one is skipped. */
static void
s_check_seq(zhashx_t *last_seq, tf_json_t *j, bool json, const tf_msg_event_t *e)
{
    const char *source = e->source ? e->source : "?";
    uint64_t *last = zhashx_lookup(last_seq, source);
    if (last && e->seq > *last + 1)
        s_print_gap(j, json, source, *last + 1, e->seq - 1);
    /* A smaller number means the source restarted and counts from 1 again: no gap. */
    if (!last) {
        last = malloc(sizeof *last);
        if (!last)
            return;
        *last = e->seq;
        zhashx_insert(last_seq, source, last);
    }
    else
        *last = e->seq;
}

int
cmd_events(cli_t *cli, int argc, char **argv)
{
    s_options_t opt;
    int rc = s_parse(cli, argc, argv, &opt);
    if (rc != CLI_EXIT_OK)
        return rc < 0 ? CLI_EXIT_OK : rc;

    const char *endpoint = tf_config_get(cli->cfg, "bus/backend");
    zsock_t *sub = zsock_new(ZMQ_SUB);
    zpoller_t *poller = NULL;
    zhashx_t *last_seq = zhashx_new();
    tf_json_t *j = tf_json_new();
    if (!sub || !last_seq || !j) {
        fprintf(stderr, "tapeflow events: cannot create a socket: %s\n", zmq_strerror(errno));
        rc = CLI_EXIT_FAIL;
        goto done;
    }
    zhashx_set_destructor(last_seq, s_seq_free);
    tf_wire_limit(sub, tf_config_size(cli->cfg, "broker/max_message"));
    zsock_set_linger(sub, 0);
    zsock_set_subscribe(sub, opt.prefix);
    tf_err_t cerr = {0};
    if (tf_secure_connect(cli->cfg, sub, endpoint, NULL, &cerr) != TF_OK) {
        fprintf(stderr, "tapeflow events: cannot connect to the bus at %s: %s; check bus/backend "
                        "in the config\n", endpoint, cerr.message);
        rc = CLI_EXIT_FAIL;
        goto done;
    }
    poller = zpoller_new(sub, NULL);
    if (!poller) {
        fprintf(stderr, "tapeflow events: cannot create a poller\n");
        rc = CLI_EXIT_FAIL;
        goto done;
    }
    if (!opt.json)
        fprintf(stderr, "tapeflow events: listening on %s for %s%s%s (Ctrl-C to stop)\n",
                endpoint, *opt.prefix ? "topics starting with '" : "all topics", opt.prefix,
                *opt.prefix ? "'" : "");

    int64_t deadline = opt.timeout_ms ? tf_clock_mono_ms() + opt.timeout_ms : 0;
    int64_t seen = 0;
    rc = CLI_EXIT_OK;
    while (!opt.count || seen < opt.count) {
        int wait_ms = -1;
        if (deadline) {
            int64_t left = deadline - tf_clock_mono_ms();
            if (left <= 0) {
                if (opt.count) {
                    fprintf(stderr, "tapeflow events: timeout after %" PRId64 " of %" PRId64
                                    " events; is anything publishing? (tapeflow status)\n",
                            seen, opt.count);
                    rc = CLI_EXIT_FAIL;
                }
                break;
            }
            wait_ms = left > 1000 ? 1000 : (int) left;
        }
        else
            wait_ms = 1000;
        void *which = zpoller_wait(poller, wait_ms);
        if (zpoller_terminated(poller) || zsys_interrupted)
            break;   /* Ctrl-C */
        if (!which)
            continue;
        tf_msg_t msg;
        tf_err_t err = {0};
        int r = tf_wire_recv_event(sub, &msg, &err);
        if (r == TF_ERR_INTERRUPTED)
            break;
        if (r != TF_OK) {
            fprintf(stderr, "tapeflow events: skipped a malformed bus message: %s\n", err.message);
            continue;
        }
        s_check_seq(last_seq, j, opt.json, &msg.event);
        s_print_event(j, opt.json, &msg.event);
        fflush(stdout);
        tf_msg_clear(&msg);
        seen++;
    }
    fflush(stdout);
done:
    zpoller_destroy(&poller);
    zsock_destroy(&sub);
    zhashx_destroy(&last_seq);
    tf_json_destroy(&j);
    return rc;
}
