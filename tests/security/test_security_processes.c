/*  CURVE over tcp loopback with real broker and bus processes: a trusted client talks, an
    unknown key gets nothing and is counted (status.security_refused, alert.security), a key
    without the tape role cannot register as tape, and tcp without keys is refused. Each side
    has its own key folder, as separate hosts would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tf_client.h"
#include "tf_keys.h"
#include "tf_secure.h"
#include "tf_testkeys.h"
#include "tf_testproc.h"
#include "tf_wire.h"

#define S_NO_KEYS "tcp endpoints need CURVE keys: run tapeflow keys init"

typedef struct {
    char *dir;
    char cfg_path[1024];
    char env_home[1100], env_cfg[1100];
    char *env[3];
    char broker[64], bus_in[64], bus_out[64];
    char server_key[41];
    tf_testproc_t *broker_proc, *bus_proc;
    tf_config_t *trusted, *unknown, *worker;  /* client configurations, one key folder each */
} fixture_t;


/* A client host: its own key folder, the server's public key. */
static tf_config_t *
s_client(fixture_t *f, const char *host)
{
    tf_config_t *cfg = tf_testkeys_host(f->dir, host, f->server_key, NULL);
    assert_non_null(cfg);
    return cfg;
}

static int
s_cli(fixture_t *f, char **out, char *const argv[])
{
    return tf_test_run("tapeflow", argv, f->env, 20000, out);
}

/* `tapeflow keys trust NAME KEY --role ROLES [--restore-root ROOT]` on the server. */
static void
s_trust_root(fixture_t *f, const char *name, tf_config_t *client, const char *roles, const char *root)
{
    char pub[41];
    tf_err_t err = {0};
    assert_int_equal(tf_secure_public_key(client, pub, &err), TF_OK);
    char *argv[] = {"tapeflow", "--config", f->cfg_path, "keys", "trust", (char *) name, pub, "--role",
                    (char *) roles, root ? "--restore-root" : NULL, (char *) root, NULL};
    assert_int_equal(s_cli(f, NULL, argv), 0);  /* a key starting with '-' is a key, not an option */
}

static void
s_trust(fixture_t *f, const char *name, tf_config_t *client, const char *roles)
{
    s_trust_root(f, name, client, roles, NULL);
}

/* True when the file at path holds every needle (the broker's log). */
static bool
s_file_has(const char *path, const char *needle, const char *needle2)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return false;
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof line, fp))
        found = strstr(line, needle) && (!needle2 || strstr(line, needle2));
    fclose(fp);
    return found;
}

static bool
s_port_open(void *arg)
{
    return tf_test_port_accepts(*(int *) arg);
}

static int
s_setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    f->dir = tf_test_tempdir("sec");
    int ports[3] = {tf_test_free_port(), tf_test_free_port(), tf_test_free_port()};
    snprintf(f->broker, sizeof f->broker, "tcp://127.0.0.1:%d", ports[0]);
    snprintf(f->bus_in, sizeof f->bus_in, "tcp://127.0.0.1:%d", ports[1]);
    snprintf(f->bus_out, sizeof f->bus_out, "tcp://127.0.0.1:%d", ports[2]);
    snprintf(f->cfg_path, sizeof f->cfg_path, "%s/tapeflow.cfg", f->dir);
    zconfig_t *root = zconfig_new("root", NULL);
    zconfig_put(root, "tapeflow/home", f->dir);
    zconfig_put(root, "tapeflow/host", "tapesrv");
    zconfig_put(root, "broker/endpoint", f->broker);
    zconfig_put(root, "bus/frontend", f->bus_in);
    zconfig_put(root, "bus/backend", f->bus_out);
    zconfig_put(root, "broker/heartbeat", "200");
    assert_int_equal(zconfig_save(root, f->cfg_path), 0);
    zconfig_destroy(&root);
    snprintf(f->env_home, sizeof f->env_home, "TAPEFLOW_HOME=%s", f->dir);
    snprintf(f->env_cfg, sizeof f->env_cfg, "TAPEFLOW_CONFIG=%s", f->cfg_path);
    f->env[0] = f->env_home;
    f->env[1] = f->env_cfg;

    char *init[] = {"tapeflow", "--config", f->cfg_path, "keys", "init", NULL};
    assert_int_equal(s_cli(f, NULL, init), 0);
    char *show[] = {"tapeflow", "--config", f->cfg_path, "keys", "show", NULL};
    char *out = NULL;
    assert_int_equal(s_cli(f, &out, show), 0);
    assert_non_null(out);
    snprintf(f->server_key, sizeof f->server_key, "%.40s", out);
    free(out);

    f->trusted = s_client(f, "hostt");
    f->unknown = s_client(f, "hostu");
    f->worker = s_client(f, "hostw");
    s_trust(f, "hostt", f->trusted, "query");
    s_trust(f, "hostw", f->worker, "agent");

    char log[1200];
    char *bus_argv[] = {"tapeflow-bus", "--config", f->cfg_path, "--log-level", "debug", NULL};
    snprintf(log, sizeof log, "%s/bus.log", f->dir);
    f->bus_proc = tf_testproc_start("tapeflow-bus", bus_argv, f->env, log);
    char *broker_argv[] = {"tapeflow-broker", "--config", f->cfg_path, "--log-level", "debug", NULL};
    snprintf(log, sizeof log, "%s/broker.log", f->dir);
    f->broker_proc = tf_testproc_start("tapeflow-broker", broker_argv, f->env, log);
    assert_non_null(f->bus_proc);
    assert_non_null(f->broker_proc);
    assert_true(tf_test_wait_for(s_port_open, &ports[1], 10000));
    assert_true(tf_test_wait_for(s_port_open, &ports[2], 10000));
    assert_true(tf_test_wait_for(s_port_open, &ports[0], 10000));
    *state = f;
    return 0;
}

static int
s_teardown(void **state)
{
    fixture_t *f = *state;
    int status = -1;
    if (f->broker_proc) {
        tf_testproc_kill(f->broker_proc, SIGTERM);
        assert_true(tf_testproc_wait(f->broker_proc, 15000, &status));
        assert_int_equal(status, 0);
    }
    if (f->bus_proc) {
        tf_testproc_kill(f->bus_proc, SIGTERM);
        assert_true(tf_testproc_wait(f->bus_proc, 15000, &status));
        assert_int_equal(status, 0);
    }
    tf_testproc_destroy(&f->broker_proc);
    tf_testproc_destroy(&f->bus_proc);
    tf_config_destroy(&f->trusted);
    tf_config_destroy(&f->unknown);
    tf_config_destroy(&f->worker);
    tf_test_dir_done(&f->dir);
    free(f);
    return 0;
}

/* The broker's status as the trusted client sees it (the caller clears). */
static void
s_status(fixture_t *f, tf_msg_t *reply)
{
    tf_err_t err = {0};
    tf_client_t *client = tf_client_new(f->trusted, f->broker, &err);
    assert_non_null(client);
    int rc = tf_client_status(client, reply, 10000, &err);
    if (rc != TF_OK)
        fail_msg("trusted client got no status: %s", err.message);
    tf_client_destroy(&client);
}

/* status.security_refused now. */
static uint64_t
s_refused(fixture_t *f)
{
    tf_msg_t reply;
    s_status(f, &reply);
    uint64_t refused = reply.status.security_refused;
    tf_msg_clear(&reply);
    return refused;
}

static bool
s_has_worker(const tf_msg_t *status, const char *service, uint64_t pid)
{
    for (size_t i = 0; i < status->status.workers_count; i++)
        if (strcmp(status->status.workers[i].service, service) == 0 && status->status.workers[i].pid == pid)
            return true;
    return false;
}

/* A SUB on the bus for alert.security, live when it returns: the query key asks to register
   as tape (refused, counted) until the broker's alert about it comes through, so the path from
   the broker's publisher to this subscriber is up before the test's own refusal. */
static zsock_t *
s_alerts(fixture_t *f)
{
    zsock_t *sub = zsock_new(ZMQ_SUB);
    zsock_set_subscribe(sub, "alert.security");
    tf_err_t err = {0};
    assert_int_equal(tf_secure_connect(f->trusted, sub, f->bus_out, NULL, &err), TF_OK);
    zsock_t *dealer = zsock_new(ZMQ_DEALER);
    assert_int_equal(tf_secure_connect(f->trusted, dealer, f->broker, NULL, &err), TF_OK);
    tf_msg_t ready = {.type = TF_MSG_READY};
    ready.ready = (tf_msg_ready_t){.service = "tape", .worker = "probe", .host = "hostt", .pid = 1};
    zpoller_t *poller = zpoller_new(sub, NULL);
    bool live = false;
    for (int i = 0; i < 100 && !live; i++) {
        assert_int_equal(tf_wire_send(dealer, NULL, &ready, &err), TF_OK);
        while (!live && zpoller_wait(poller, 200)) {
            tf_msg_t ev;
            live = tf_wire_recv_event(sub, &ev, &err) == TF_OK && ev.event.message
                   && strstr(ev.event.message, "key 'hostt' may not register as tape");
            tf_msg_clear(&ev);
        }
    }
    zpoller_destroy(&poller);
    zsock_destroy(&dealer);
    assert_true(live);
    return sub;
}

/* Waits (up to 15 s) for an alert.security event whose message holds needle. */
static bool
s_alert_seen(zsock_t *sub, const char *needle)
{
    zpoller_t *poller = zpoller_new(sub, NULL);
    bool seen = false;
    for (int i = 0; i < 150 && !seen; i++) {
        if (!zpoller_wait(poller, 100))
            continue;
        tf_msg_t ev;
        tf_err_t err = {0};
        if (tf_wire_recv_event(sub, &ev, &err) == TF_OK && ev.event.message && strstr(ev.event.message, needle))
            seen = true;
        tf_msg_clear(&ev);
    }
    zpoller_destroy(&poller);
    return seen;
}

static void
test_trusted_client_gets_status(void **state)
{
    fixture_t *f = *state;
    tf_msg_t reply;
    s_status(f, &reply);
    assert_int_equal(reply.type, TF_MSG_STATUS);
    assert_int_equal(reply.status.security_refused, 0);
    tf_msg_clear(&reply);
}

static void
test_unknown_key_gets_nothing_and_is_counted(void **state)
{
    fixture_t *f = *state;
    zsock_t *alerts = s_alerts(f);
    tf_err_t err = {0};
    tf_client_t *rogue = tf_client_new(f->unknown, f->broker, &err);
    assert_non_null(rogue);
    tf_msg_t reply;
    /* refused, and told so (not a plain timeout) */
    assert_int_equal(tf_client_status(rogue, &reply, 1500, &err), TF_ERR_STATE);
    assert_non_null(strstr(err.message, "refused this host's key"));
    assert_non_null(strstr(err.message, "tapeflow keys trust hostu"));
    tf_client_destroy(&rogue);
    /* no registration either */
    zsock_t *dealer = zsock_new(ZMQ_DEALER);
    assert_int_equal(tf_secure_connect(f->unknown, dealer, f->broker, NULL, &err), TF_OK);
    tf_msg_t ready = {.type = TF_MSG_READY};
    ready.ready = (tf_msg_ready_t){.service = "scan", .worker = "rogue", .host = "hostu", .pid = 424242};
    assert_int_equal(tf_wire_send(dealer, NULL, &ready, &err), TF_OK);
    assert_true(s_alert_seen(alerts, "unknown CURVE key"));
    zsock_destroy(&dealer);

    s_status(f, &reply);
    assert_true(reply.status.security_refused >= 1);
    assert_false(s_has_worker(&reply, "scan", 424242));
    tf_msg_clear(&reply);
    zsock_destroy(&alerts);
}

/* An actor (tapeflow-echo) on a host whose key the broker does not trust: it says so in its log
   (once), keeps trying, and registers without a restart once the key is trusted. */
typedef struct {
    fixture_t *f;
    const char *log;
    int pid;
} s_agent_wait_t;

static bool
s_agent_logged_refusal(void *arg)
{
    s_agent_wait_t *w = arg;
    return s_file_has(w->log, "the broker at", "refused this host's key");
}

static bool
s_agent_logged_acceptance(void *arg)
{
    s_agent_wait_t *w = arg;
    return s_file_has(w->log, "accepted this host's key now", NULL);
}

static bool
s_agent_registered(void *arg)
{
    s_agent_wait_t *w = arg;
    tf_msg_t reply;
    s_status(w->f, &reply);
    bool listed = s_has_worker(&reply, "echo", (uint64_t) w->pid);
    tf_msg_clear(&reply);
    return listed;
}

static void
test_refused_actor_says_so_and_gets_in_once_trusted(void **state)
{
    fixture_t *f = *state;
    char cfg_path[1200], keys[1200], log[1200];
    snprintf(cfg_path, sizeof cfg_path, "%s/hostu.cfg", f->dir);
    snprintf(keys, sizeof keys, "%s/hostu-keys", f->dir);
    snprintf(log, sizeof log, "%s/echo-hostu.log", f->dir);
    zconfig_t *root = zconfig_new("root", NULL);
    zconfig_put(root, "tapeflow/home", f->dir);
    zconfig_put(root, "tapeflow/host", "hostu");
    zconfig_put(root, "keys/dir", keys);
    zconfig_put(root, "keys/server", f->server_key);
    zconfig_put(root, "broker/endpoint", f->broker);
    zconfig_put(root, "bus/frontend", f->bus_in);
    zconfig_put(root, "broker/heartbeat", "200");
    assert_int_equal(zconfig_save(root, cfg_path), 0);
    zconfig_destroy(&root);
    char *argv[] = {"tapeflow-echo", "--config", cfg_path, "--log-level", "info", NULL};
    tf_testproc_t *echo = tf_testproc_start("tapeflow-echo", argv, NULL, log);
    assert_non_null(echo);
    s_agent_wait_t w = {.f = f, .log = log, .pid = tf_testproc_pid(echo)};

    assert_true(tf_test_wait_for(s_agent_logged_refusal, &w, 15000));
    assert_true(s_file_has(log, "tapeflow keys trust hostu", "--role echo"));
    assert_false(s_agent_registered(&w));

    s_trust(f, "hostu", f->unknown, "echo");
    assert_true(tf_test_wait_for(s_agent_registered, &w, 20000));
    /* said once the broker's first answer arrives, which may follow the registration */
    assert_true(tf_test_wait_for(s_agent_logged_acceptance, &w, 15000));

    int status = -1;
    tf_testproc_kill(echo, SIGTERM);
    assert_true(tf_testproc_wait(echo, 15000, &status));
    assert_int_equal(status, 0);
    tf_testproc_destroy(&echo);
}

static void
test_agent_key_cannot_register_as_tape(void **state)
{
    fixture_t *f = *state;
    zsock_t *alerts = s_alerts(f);
    tf_msg_t reply;
    uint64_t before = s_refused(f);

    tf_err_t err = {0};
    zsock_t *dealer = zsock_new(ZMQ_DEALER);
    assert_int_equal(tf_secure_connect(f->worker, dealer, f->broker, NULL, &err), TF_OK);
    tf_msg_t ready = {.type = TF_MSG_READY};
    ready.ready = (tf_msg_ready_t){.service = "tape", .worker = "fake-tape", .host = "hostw", .pid = 515151};
    assert_int_equal(tf_wire_send(dealer, NULL, &ready, &err), TF_OK);
    zpoller_t *poller = zpoller_new(dealer, NULL);
    assert_non_null(zpoller_wait(poller, 10000));
    tf_msg_t answer;
    assert_int_equal(tf_wire_recv(dealer, NULL, &answer, &err), TF_OK);
    assert_int_equal(answer.type, TF_MSG_ERROR);
    assert_non_null(strstr(answer.error.message, "key 'hostw' may not register as tape"));
    tf_msg_clear(&answer);
    assert_true(s_alert_seen(alerts, "key 'hostw' may not register as tape"));

    s_status(f, &reply);
    assert_false(s_has_worker(&reply, "tape", 515151));
    assert_true(reply.status.security_refused > before);
    tf_msg_clear(&reply);

    /* the same key may register for a service of its roles: the refusal was the role's */
    ready.ready.service = "scan";
    assert_int_equal(tf_wire_send(dealer, NULL, &ready, &err), TF_OK);
    bool listed = false;
    for (int i = 0; i < 100 && !listed; i++) {
        s_status(f, &reply);
        listed = s_has_worker(&reply, "scan", 515151);
        tf_msg_clear(&reply);
        if (!listed)
            usleep(50000);
    }
    assert_true(listed);
    tf_msg_t bye = {.type = TF_MSG_DISCONNECT};
    bye.disconnect.reason = "test done";
    tf_wire_send(dealer, NULL, &bye, &err);
    zpoller_destroy(&poller);
    zsock_destroy(&dealer);
    zsock_destroy(&alerts);
}

static void
test_query_key_cannot_start_backups(void **state)
{
    fixture_t *f = *state;
    tf_err_t err = {0};
    tf_client_t *client = tf_client_new(f->trusted, f->broker, &err);
    assert_non_null(client);
    tf_msg_t scan = {.type = TF_MSG_SCAN_JOB}, reply;
    tf_msg_path_row_t paths[] = {{"/root"}};
    scan.scan_job = (tf_msg_scan_job_t){.job_id = "J20261202-110000-0001", .paths = paths, .paths_count = 1};
    assert_int_equal(tf_client_submit_msg(client, "scan", NULL, scan.scan_job.job_id, &scan, &reply, 10000, &err),
                     TF_ERR_INVALID);
    assert_non_null(strstr(err.message, "key 'hostt' may not start backups"));
    tf_client_destroy(&client);
}

static void
test_tcp_without_keys_is_refused(void **state)
{
    fixture_t *f = *state;
    /* a client */
    tf_config_t *bare = tf_config_new();
    char keys[1200];
    snprintf(keys, sizeof keys, "%s/none-keys", f->dir);
    tf_config_set(bare, "keys/dir", keys);
    tf_err_t err = {0};
    assert_null(tf_client_new(bare, f->broker, &err));
    assert_non_null(strstr(err.message, S_NO_KEYS));
    tf_config_destroy(&bare);

    /* a broker: it does not start */
    char home[1200], cfg[1300], log[1300], env_home[1300], env_cfg[1400];
    snprintf(home, sizeof home, "%s/bare", f->dir);
    assert_int_equal(mkdir(home, 0700), 0);
    snprintf(cfg, sizeof cfg, "%s/tapeflow.cfg", home);
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", tf_test_free_port());
    zconfig_t *root = zconfig_new("root", NULL);
    zconfig_put(root, "tapeflow/home", home);
    zconfig_put(root, "broker/endpoint", endpoint);
    zconfig_put(root, "bus/frontend", f->bus_in);
    assert_int_equal(zconfig_save(root, cfg), 0);
    zconfig_destroy(&root);
    snprintf(env_home, sizeof env_home, "TAPEFLOW_HOME=%s", home);
    snprintf(env_cfg, sizeof env_cfg, "TAPEFLOW_CONFIG=%s", cfg);
    char *env[] = {env_home, env_cfg, NULL};
    snprintf(log, sizeof log, "%s/broker.log", home);
    char *argv[] = {"tapeflow-broker", "--config", cfg, NULL};
    tf_testproc_t *proc = tf_testproc_start("tapeflow-broker", argv, env, log);
    assert_non_null(proc);
    int status = 0;
    assert_true(tf_testproc_wait(proc, 15000, &status));
    assert_int_not_equal(status, 0);
    tf_testproc_destroy(&proc);
    char *text = tf_test_read_file(log);
    assert_non_null(text);
    assert_non_null(strstr(text, S_NO_KEYS));
    free(text);
}

/* Z85 keys may start with '-': `keys trust` takes them as keys, not options. */
static void
test_trust_takes_a_key_starting_with_a_dash(void **state)
{
    fixture_t *f = *state;
    zcert_t *cert = zcert_new();
    for (int i = 0; i < 100000 && zcert_public_txt(cert)[0] != '-'; i++) {
        zcert_destroy(&cert);
        cert = zcert_new();
    }
    assert_int_equal(zcert_public_txt(cert)[0], '-');
    char *argv[] = {"tapeflow", "--config", f->cfg_path, "keys", "trust", "dashed", (char *) zcert_public_txt(cert),
                    "--role", "query", NULL};
    assert_int_equal(s_cli(f, NULL, argv), 0);
    char *list[] = {"tapeflow", "--config", f->cfg_path, "keys", "list", "--json", NULL};
    char *out = NULL;
    assert_int_equal(s_cli(f, &out, list), 0);
    assert_non_null(out);
    assert_non_null(strstr(out, zcert_public_txt(cert)));
    free(out);
    zcert_destroy(&cert);
}


/* The arbitrary-restore attack: a key that may restore, but only into hostb:/restore, asks the
   tape writer to write into hostb:/root. The broker refuses it before any tape writer sees it:
   the client gets the reason, the broker logs it, counts it and publishes alert.security. */
static void
test_restore_outside_its_roots_is_refused(void **state)
{
    fixture_t *f = *state;
    tf_config_t *hostr = s_client(f, "hostr");
    s_trust_root(f, "hostr", hostr, "restore", "hostb:/restore");
    zsock_t *alerts = s_alerts(f);
    tf_msg_t reply;
    uint64_t before = s_refused(f);

    tf_err_t err = {0};
    tf_client_t *client = tf_client_new(hostr, f->broker, &err);
    assert_non_null(client);
    tf_msg_t restore = {.type = TF_MSG_TAPE_RESTORE};
    restore.tape_restore = (tf_msg_tape_restore_t){.job_id = "J20261202-110000-0002", .dest = "/root",
                                                   .dest_host = "hostb"};
    assert_int_equal(tf_client_submit_msg(client, "tape", NULL, restore.tape_restore.job_id, &restore, &reply,
                                          10000, &err), TF_ERR_INVALID);
    assert_non_null(strstr(err.message, "key 'hostr' may not restore to hostb:/root (outside its restore roots "
                                        "hostb:/restore)"));
    assert_true(s_alert_seen(alerts, "key 'hostr' may not restore to hostb:/root"));
    assert_int_equal(s_refused(f), before + 1);
    char log[1200];
    snprintf(log, sizeof log, "%s/broker.log", f->dir);
    assert_true(s_file_has(log, "security: refused submit", "may not restore to hostb:/root"));

    /* Without a host the tape writer's own host would write: refused too. */
    restore.tape_restore.dest_host = NULL;
    restore.tape_restore.dest = "/restore/j2";
    assert_int_equal(tf_client_submit_msg(client, "tape", NULL, restore.tape_restore.job_id, &restore, &reply,
                                          10000, &err), TF_ERR_INVALID);
    assert_non_null(strstr(err.message, "without naming its host"));

    /* Inside its roots the same key is accepted: the refusals were the destination's. */
    restore.tape_restore.dest_host = "hostb";
    if (tf_client_submit_msg(client, "tape", "restore-ok-1", restore.tape_restore.job_id, &restore, &reply, 10000,
                             &err) != TF_OK)
        fail_msg("a restore inside the key's roots was refused: %s", err.message);
    assert_int_equal(reply.type, TF_MSG_SUBMIT_OK);
    tf_msg_clear(&reply);
    tf_client_destroy(&client);
    zsock_destroy(&alerts);
    tf_config_destroy(&hostr);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_trusted_client_gets_status, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_key_gets_nothing_and_is_counted, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_refused_actor_says_so_and_gets_in_once_trusted, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_agent_key_cannot_register_as_tape, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_query_key_cannot_start_backups, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_tcp_without_keys_is_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_restore_outside_its_roots_is_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_trust_takes_a_key_starting_with_a_dash, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
