/*  tapeflow status [--json] - the supervisor, its children, and the broker's view. */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <string.h>

#include "cli.h"
#include "cli_opt.h"
#include "tf_client.h"
#include "supervisor.h"
#include "tf_clock.h"
#include "tf_json.h"
#include "upstate.h"

#define S_BROKER_TIMEOUT 2000

typedef struct {
    const char *endpoint;
    char state_path[PATH_MAX];
    upstate_t *state;            /* NULL when `tapeflow up` never ran here */
    bool supervisor_alive;
    bool children_ok;            /* every child running */
    tf_msg_t reply;              /* STATUS when the broker answered */
    bool broker_ok;
    tf_err_t broker_err;
    bool broker_here;            /* the broker is one of this host's roles (else another host's) */
    char host[256];
    char roles[1024];            /* this host's roles: as the supervisor runs them, else up/roles */
} s_report_t;

static void
s_gather(cli_t *cli, s_report_t *r)
{
    memset(r, 0, sizeof *r);
    r->endpoint = tf_config_get(cli->cfg, "broker/endpoint");
    cli_state_path(cli->cfg, r->state_path, sizeof r->state_path);
    r->state = upstate_load(r->state_path, NULL);
    if (r->state) {
        pid_t pid = (pid_t) upstate_supervisor_pid(r->state);
        r->supervisor_alive = cli_pid_alive(pid) && strcmp(upstate_state(r->state), "stopped") != 0;
        r->children_ok = r->supervisor_alive;
        for (size_t i = 0; i < upstate_size(r->state); i++)
            if (strcmp(upstate_child(r->state, i)->state, "running") != 0)
                r->children_ok = false;
    }
    /* The roles the running supervisor was started with; the config's when none runs (or an
       older supervisor did not record them). */
    if (r->state && r->supervisor_alive && *upstate_roles(r->state)) {
        snprintf(r->host, sizeof r->host, "%s", upstate_host(r->state));
        snprintf(r->roles, sizeof r->roles, "%s", upstate_roles(r->state));
        r->broker_here = upstate_has_role(r->state, "broker");
    }
    else {
        zlist_t *roles = tf_config_roles(cli->cfg);
        snprintf(r->host, sizeof r->host, "%s", tf_config_str(cli->cfg, "tapeflow/host"));
        if (roles)
            supervisor_roles_text(roles, r->roles, sizeof r->roles);
        r->broker_here = !roles || zlist_exists(roles, "broker");
        zlist_destroy(&roles);
    }
    tf_client_t *client = tf_client_new(r->endpoint, &r->broker_err);
    if (client) {
        r->broker_ok = tf_client_status(client, &r->reply, S_BROKER_TIMEOUT, &r->broker_err)
                       == TF_OK;
        if (r->broker_ok && r->reply.type != TF_MSG_STATUS) {
            tf_err_set(&r->broker_err, TF_ERR_PROTO, "broker answered a status request with %s",
                       tf_msg_type_name(r->reply.type));
            tf_msg_clear(&r->reply);
            r->broker_ok = false;
        }
        tf_client_destroy(&client);
    }
}

/* Healthy: the broker answers and, when `tapeflow up` manages this host, all its children run. */
static bool
s_healthy(const s_report_t *r)
{
    return r->broker_ok && (!r->state || r->children_ok);
}

static const char *
s_age(int64_t ms, char *buf, size_t size)
{
    if (ms <= 0)
        return "-";
    return cli_duration(ms, buf, size);
}

static void
s_print_human(const s_report_t *r)
{
    char a[32], b[64];
    int64_t now = tf_clock_wall_ms();
    printf("tapeflow: %s\n", s_healthy(r) ? "healthy" : "DOWN");
    printf("host        %s  roles %s%s\n", r->host, r->roles,
           r->broker_here ? "" : "  (broker on another host)");

    if (!r->state)
        printf("supervisor  not running here (no %s; start the stack with: tapeflow up)\n",
               r->state_path);
    else if (!r->supervisor_alive)
        printf("supervisor  not running (last pid %" PRId64 ", state from %s; start it with: "
               "tapeflow up)\n",
               upstate_supervisor_pid(r->state),
               tf_clock_format(upstate_updated_ms(r->state), b, sizeof b));
    else
        printf("supervisor  %s  pid %" PRId64 "  up %s  state %s\n",
               upstate_state(r->state), upstate_supervisor_pid(r->state),
               cli_duration(now - upstate_started_ms(r->state), a, sizeof a), r->state_path);

    if (r->state && r->supervisor_alive && upstate_size(r->state) > 0) {
        printf("\n%-12s %-10s %8s %8s %8s  %-22s %s\n", "CHILD", "STATE", "PID", "UPTIME",
               "RESTARTS", "LAST EXIT", "LOG");
        for (size_t i = 0; i < upstate_size(r->state); i++) {
            const upstate_child_t *c = upstate_child(r->state, i);
            bool running = strcmp(c->state, "running") == 0;
            printf("%-12s %-10s %8" PRId64 " %8s %8" PRId64 "  %-22s %s\n", c->name, c->state,
                   c->pid, running ? cli_duration(now - c->started_ms, a, sizeof a) : "-",
                   c->restarts, *c->last_exit ? c->last_exit : "-", c->log);
        }
    }

    printf("\n");
    if (!r->broker_ok) {
        if (r->broker_here)
            printf("broker not reachable at %s — is the stack running? start it with: tapeflow "
                   "up\n", r->endpoint);
        else
            printf("broker not reachable at %s (another host: this host's roles have no broker) "
                   "— is the tape server up, and are broker/endpoint and keys/server right?\n",
                   r->endpoint);
        if (r->broker_err.code != TF_ERR_TIMEOUT && r->broker_err.message[0])
            printf("  (%s)\n", r->broker_err.message);
        return;
    }
    const tf_msg_status_t *st = &r->reply.status;
    printf("broker      answering  pid %" PRIu64 "  up %s  journal %s  recovered %" PRIu64
           "  at %s\n",
           st->pid, cli_duration(st->uptime_ms, a, sizeof a), st->journal ? st->journal : "-",
           st->recovered, r->endpoint);
    printf("\n%-16s %7s %5s %7s %9s %8s %7s %11s %8s\n", "SERVICE", "WORKERS", "IDLE", "QUEUED",
           "IN FLIGHT", "DONE", "FAILED", "REDELIVERED", "OLDEST");
    if (st->services_count == 0)
        printf("(no services yet: no worker has registered)\n");
    for (size_t i = 0; i < st->services_count; i++) {
        const tf_msg_service_row_t *s = &st->services[i];
        printf("%-16s %7" PRIu64 " %5" PRIu64 " %7" PRIu64 " %9" PRIu64 " %8" PRIu64 " %7" PRIu64
               " %11" PRIu64 " %8s\n",
               s->name ? s->name : "?", s->workers, s->idle, s->queued, s->inflight, s->done,
               s->failed, s->redelivered, s_age(s->oldest_age_ms, a, sizeof a));
    }
    printf("\n%-28s %-16s %-16s %8s %-5s %-24s %8s  %s\n", "WORKER", "SERVICE", "HOST", "PID", "STATE",
           "ITEM", "IDLE", "KEY");
    if (st->workers_count == 0)
        printf("(no workers)\n");
    for (size_t i = 0; i < st->workers_count; i++) {
        const tf_msg_worker_row_t *w = &st->workers[i];
        /* KEY: the trusted CURVE key it registered with; "-" over ipc (a local peer). */
        printf("%-28s %-16s %-16s %8" PRIu64 " %-5s %-24s %8s  %s\n", w->name ? w->name : "?",
               w->service ? w->service : "?", w->host && *w->host ? w->host : "-", w->pid,
               w->state ? w->state : "?", w->item_id && *w->item_id ? w->item_id : "-",
               cli_duration(w->idle_ms, a, sizeof a), w->key && *w->key ? w->key : "-");
    }
    if (st->rejects_count > 0) {
        /* Peers whose messages the broker refused (malformed, or for an unknown service). */
        printf("\n%-20s %-20s %9s %8s  %s\n", "REFUSED FROM", "WORKER", "MESSAGES", "AGO", "LAST REASON");
        for (size_t i = 0; i < st->rejects_count; i++) {
            const tf_msg_reject_row_t *x = &st->rejects[i];
            printf("%-20s %-20s %9" PRIu64 " %8s  %s\n", x->peer ? x->peer : "?",
                   x->name && *x->name ? x->name : "-", x->rejected,
                   cli_duration(now - x->last_ms, a, sizeof a),
                   x->last_reason ? x->last_reason : "-");
        }
    }
}

static void
s_json_supervisor(tf_json_t *j, const s_report_t *r)
{
    char when[64];
    tf_json_object_begin(j, "supervisor");
    tf_json_bool(j, "running", r->supervisor_alive);
    tf_json_str(j, "state_file", r->state_path);
    if (r->state) {
        tf_json_int(j, "pid", upstate_supervisor_pid(r->state));
        tf_json_str(j, "state", r->supervisor_alive ? upstate_state(r->state) : "stopped");
        tf_json_str(j, "started",
                    tf_clock_format(upstate_started_ms(r->state), when, sizeof when));
        tf_json_int(j, "started_ms", upstate_started_ms(r->state));
        tf_json_int(j, "updated_ms", upstate_updated_ms(r->state));
        tf_json_str(j, "config", *upstate_config(r->state) ? upstate_config(r->state) : NULL);
    }
    tf_json_object_end(j);

    tf_json_array_begin(j, "children");
    for (size_t i = 0; r->state && i < upstate_size(r->state); i++) {
        const upstate_child_t *c = upstate_child(r->state, i);
        tf_json_object_begin(j, NULL);
        tf_json_str(j, "name", c->name);
        tf_json_str(j, "program", c->program);
        tf_json_int(j, "pid", c->pid);
        tf_json_str(j, "state", r->supervisor_alive ? c->state : "stopped");
        tf_json_int(j, "restarts", c->restarts);
        tf_json_str(j, "last_exit", *c->last_exit ? c->last_exit : NULL);
        tf_json_str(j, "log", c->log);
        tf_json_str(j, "started", tf_clock_format(c->started_ms, when, sizeof when));
        tf_json_int(j, "started_ms", c->started_ms);
        tf_json_object_end(j);
    }
    tf_json_array_end(j);
}

/* The broker, and its services, workers and refused peers (empty when it did not answer). */
static void
s_json_broker(tf_json_t *j, const s_report_t *r)
{
    const tf_msg_status_t *st = &r->reply.status;
    tf_json_object_begin(j, "broker");
    tf_json_str(j, "endpoint", r->endpoint);
    tf_json_bool(j, "local", r->broker_here);
    tf_json_bool(j, "reachable", r->broker_ok);
    if (r->broker_ok) {
        tf_json_int(j, "pid", (int64_t) st->pid);
        tf_json_int(j, "uptime_ms", st->uptime_ms);
        tf_json_str(j, "journal", st->journal);
        tf_json_int(j, "recovered", (int64_t) st->recovered);
    }
    else
        tf_json_str(j, "error", r->broker_err.message);
    tf_json_object_end(j);

    tf_json_array_begin(j, "services");
    for (size_t i = 0; r->broker_ok && i < st->services_count; i++) {
        const tf_msg_service_row_t *s = &st->services[i];
        tf_json_object_begin(j, NULL);
        tf_json_str(j, "name", s->name);
        tf_json_int(j, "workers", (int64_t) s->workers);
        tf_json_int(j, "idle", (int64_t) s->idle);
        tf_json_int(j, "queued", (int64_t) s->queued);
        tf_json_int(j, "inflight", (int64_t) s->inflight);
        tf_json_int(j, "done", (int64_t) s->done);
        tf_json_int(j, "failed", (int64_t) s->failed);
        tf_json_int(j, "redelivered", (int64_t) s->redelivered);
        tf_json_int(j, "oldest_age_ms", s->oldest_age_ms);
        tf_json_object_end(j);
    }
    tf_json_array_end(j);

    tf_json_array_begin(j, "workers");
    for (size_t i = 0; r->broker_ok && i < st->workers_count; i++) {
        const tf_msg_worker_row_t *w = &st->workers[i];
        tf_json_object_begin(j, NULL);
        tf_json_str(j, "id", w->id);
        tf_json_str(j, "service", w->service);
        tf_json_str(j, "name", w->name);
        tf_json_int(j, "pid", (int64_t) w->pid);
        tf_json_str(j, "state", w->state);
        tf_json_str(j, "item_id", w->item_id && *w->item_id ? w->item_id : NULL);
        tf_json_int(j, "idle_ms", w->idle_ms);
        tf_json_str(j, "host", w->host && *w->host ? w->host : NULL);
        tf_json_str(j, "key", w->key && *w->key ? w->key : NULL);
        tf_json_object_end(j);
    }
    tf_json_array_end(j);

    tf_json_array_begin(j, "rejects");
    for (size_t i = 0; r->broker_ok && i < st->rejects_count; i++) {
        const tf_msg_reject_row_t *x = &st->rejects[i];
        tf_json_object_begin(j, NULL);
        tf_json_str(j, "peer", x->peer);
        tf_json_str(j, "worker", x->name && *x->name ? x->name : NULL);
        tf_json_int(j, "rejected", (int64_t) x->rejected);
        tf_json_str(j, "last_reason", x->last_reason);
        tf_json_int(j, "last_ms", x->last_ms);
        tf_json_object_end(j);
    }
    tf_json_array_end(j);
}

static int
s_print_json(const s_report_t *r)
{
    tf_json_t *j = tf_json_new();
    if (!j) {
        fprintf(stderr, "tapeflow status: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    tf_json_document_begin(j);
    tf_json_bool(j, "healthy", s_healthy(r));
    tf_json_str(j, "host", r->host);
    tf_json_array_begin(j, "roles");
    char roles[sizeof r->roles], *save = NULL;
    snprintf(roles, sizeof roles, "%s", r->roles);
    for (char *w = strtok_r(roles, " ", &save); w; w = strtok_r(NULL, " ", &save))
        tf_json_str(j, NULL, w);
    tf_json_array_end(j);
    s_json_supervisor(j, r);
    s_json_broker(j, r);
    tf_json_object_end(j);

    const char *text = tf_json_text(j);
    int rc = CLI_EXIT_OK;
    if (text)
        printf("%s\n", text);
    else {
        fprintf(stderr, "tapeflow status: out of memory building JSON\n");
        rc = CLI_EXIT_FAIL;
    }
    tf_json_destroy(&j);
    return rc;
}

int
cmd_status(cli_t *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool json = cli->json;
    int opt;
    cli_opt_begin();
    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
        case 'j': json = true; break;
        case 'h': cli_help("status", stdout); return CLI_EXIT_OK;
        default: return cli_opt_error("status", opt, argc, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error("status", "status: unknown argument '%s'", argv[optind]);
    s_report_t r;
    s_gather(cli, &r);
    int rc = json ? s_print_json(&r) : (s_print_human(&r), CLI_EXIT_OK);
    if (rc == CLI_EXIT_OK && !s_healthy(&r))
        rc = CLI_EXIT_FAIL;
    fflush(stdout);
    tf_msg_clear(&r.reply);
    upstate_destroy(&r.state);
    return rc;
}
