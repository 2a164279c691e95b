/*  The stager checks the roles of its tcp peers (issue 10, review finding 4): a real
    tapeflow-stager on tcp loopback with CURVE, clients with key folders of their own. A query
    key stages nothing, a compressor's key stages no restore stream, only a tape writer or a
    replicator fetches backup archives, and a restore stream is fetched by the extractor of its
    own host only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_keys.h"
#include "tf_secure.h"
#include "tf_stage_client.h"
#include "tf_testkeys.h"
#include "tf_testproc.h"
#include "tf_wire.h"

#define S_STREAM "J20261202-120000-0001-restore-00000000000000aa"
#define S_STREAM_BYTES "restore stream bytes"

typedef struct {
    char *dir;
    char cfg_path[1024], log[1100];
    char env_home[1100], env_cfg[1100];
    char *env[3];
    char endpoint[64];
    char server_key[41];
    tf_testproc_t *broker, *stager;
    tf_config_t *tape, *agent, *other_agent, *query, *replicator;  /* one key folder each, as separate hosts */
} fixture_t;

/* A client host trusted by the stager's host with roles (NULL: not trusted). */
static tf_config_t *
s_client(fixture_t *f, tf_config_t *server, const char *host, const char *roles)
{
    tf_key_t key = {0};
    tf_err_t err = {0};
    tf_config_t *cfg = tf_testkeys_host(f->dir, host, f->server_key, key.public_key);
    assert_non_null(cfg);
    snprintf(key.name, sizeof key.name, "%s", host);
    assert_int_equal(tf_keys_parse_roles(roles, &key.roles, &err), TF_OK);
    assert_int_equal(tf_keys_trust(server, &key, &err), TF_OK);
    return cfg;
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
    f->dir = tf_test_tempdir("stroles");
    int port = tf_test_free_port();
    snprintf(f->endpoint, sizeof f->endpoint, "tcp://127.0.0.1:%d", port);
    snprintf(f->cfg_path, sizeof f->cfg_path, "%s/tapeflow.cfg", f->dir);
    char path[1200];
    zconfig_t *root = zconfig_new("root", NULL);
    zconfig_put(root, "tapeflow/home", f->dir);
    zconfig_put(root, "tapeflow/host", "tapesrv");
    zconfig_put(root, "stager/endpoint", f->endpoint);
    snprintf(path, sizeof path, "%s/holding", f->dir);
    zconfig_put(root, "stager/dir", path);
    snprintf(path, sizeof path, "ipc://%s/broker.sock", f->dir);  /* queues the backup archives for tape */
    zconfig_put(root, "broker/endpoint", path);
    assert_int_equal(zconfig_save(root, f->cfg_path), 0);
    zconfig_destroy(&root);
    snprintf(f->env_home, sizeof f->env_home, "TAPEFLOW_HOME=%s", f->dir);
    snprintf(f->env_cfg, sizeof f->env_cfg, "TAPEFLOW_CONFIG=%s", f->cfg_path);
    f->env[0] = f->env_home;
    f->env[1] = f->env_cfg;

    tf_config_t *server = tf_config_new();
    tf_config_set(server, "tapeflow/home", f->dir);
    tf_config_set(server, "tapeflow/host", "tapesrv");
    bool created;
    tf_err_t err = {0};
    assert_int_equal(tf_keys_init(server, &created, f->server_key, &err), TF_OK);
    f->tape = s_client(f, server, "tapehost", "tape");
    f->agent = s_client(f, server, "hostb", "agent");
    f->other_agent = s_client(f, server, "hostc", "agent");
    f->query = s_client(f, server, "monitor", "query");
    f->replicator = s_client(f, server, "replhost", "replicate");
    tf_config_destroy(&server);

    char *broker_argv[] = {"tapeflow-broker", "--config", f->cfg_path, NULL};
    char broker_log[1200];
    snprintf(broker_log, sizeof broker_log, "%s/broker.log", f->dir);
    f->broker = tf_testproc_start("tapeflow-broker", broker_argv, f->env, broker_log);
    assert_non_null(f->broker);
    char *argv[] = {"tapeflow-stager", "--config", f->cfg_path, "--log-level", "debug", NULL};
    snprintf(f->log, sizeof f->log, "%s/stager.log", f->dir);
    f->stager = tf_testproc_start("tapeflow-stager", argv, f->env, f->log);
    assert_non_null(f->stager);
    assert_true(tf_test_wait_for(s_port_open, &port, 10000));
    *state = f;
    return 0;
}

static int
s_teardown(void **state)
{
    fixture_t *f = *state;
    int status = -1;
    tf_testproc_kill(f->stager, SIGTERM);
    assert_true(tf_testproc_wait(f->stager, 15000, &status));
    assert_int_equal(status, 0);
    tf_testproc_destroy(&f->stager);
    tf_testproc_kill(f->broker, SIGTERM);
    assert_true(tf_testproc_wait(f->broker, 15000, &status));
    assert_int_equal(status, 0);
    tf_testproc_destroy(&f->broker);
    tf_config_destroy(&f->tape);
    tf_config_destroy(&f->agent);
    tf_config_destroy(&f->other_agent);
    tf_config_destroy(&f->query);
    tf_config_destroy(&f->replicator);
    tf_test_dir_done(&f->dir);
    free(f);
    return 0;
}

/* Stages archive_id (purpose "backup" or "restore", for host) as cfg's key: TF_OK or the
   stager's refusal in err. */
static int
s_stage(fixture_t *f, tf_config_t *cfg, const char *archive_id, const char *purpose, const char *host,
        tf_err_t *err)
{
    tf_stage_client_opts_t opts = {.endpoint = f->endpoint, .chunk = 65536, .timeout_ms = 10000,
                                   .max_message = 64 << 20, .config = cfg};
    tf_stage_client_t *stage = tf_stage_client_new(&opts, err);
    assert_non_null(stage);
    tf_msg_stage_open_t open = {.archive_id = (char *) archive_id, .job_id = "J20261202-120000-0001",
                                .compression = "zstd", .pool = "", .purpose = (char *) purpose,
                                .host = (char *) host};
    bool already = false;
    int rc = tf_stage_client_open(stage, &open, &already, err);
    if (rc == TF_OK)
        rc = tf_stage_client_write(stage, S_STREAM_BYTES, strlen(S_STREAM_BYTES), err);
    if (rc == TF_OK)
        rc = tf_stage_client_close(stage, 1, strlen(S_STREAM_BYTES), err);
    tf_stage_client_destroy(&stage);
    return rc;
}

/* Fetches the first bytes of archive_id as cfg's key: the stager's answer (caller clears). */
static void
s_fetch(fixture_t *f, tf_config_t *cfg, const char *archive_id, tf_msg_t *answer)
{
    tf_err_t err = {0};
    zsock_t *dealer = zsock_new(ZMQ_DEALER);
    assert_non_null(dealer);
    assert_int_equal(tf_secure_connect(cfg, dealer, f->endpoint, NULL, &err), TF_OK);
    tf_msg_t fetch = {.type = TF_MSG_FETCH};
    fetch.fetch = (tf_msg_fetch_t){.archive_id = (char *) archive_id, .offset = 0, .length = 4096};
    assert_int_equal(tf_wire_send(dealer, NULL, &fetch, &err), TF_OK);
    zsock_set_rcvtimeo(dealer, 10000);
    assert_int_equal(tf_wire_recv(dealer, NULL, answer, &err), TF_OK);
    assert_int_equal(answer->type, TF_MSG_FETCH_DATA);
    zsock_destroy(&dealer);
}

static bool
s_log_has(fixture_t *f, const char *needle)
{
    char *text = tf_test_read_file(f->log);
    bool found = text && strstr(text, needle);
    free(text);
    return found;
}

static void
test_query_key_stages_nothing(void **state)
{
    fixture_t *f = *state;
    tf_err_t err = {0};
    assert_int_not_equal(s_stage(f, f->query, "J20261202-120000-0001-g1", "backup", "", &err), TF_OK);
    assert_non_null(strstr(err.message, "key 'monitor' (roles query) may not stage archive"));
    assert_non_null(strstr(err.message, "needs the role compress"));
    assert_true(s_log_has(f, "security: stager refused stage_open"));
    /* the role, not the key, was refused: a compressor's key stages it */
    memset(&err, 0, sizeof err);
    int rc = s_stage(f, f->agent, "J20261202-120000-0001-g1", "backup", "hostb", &err);
    if (rc != TF_OK)
        fail_msg("a compressor's key could not stage a backup archive: %s", err.message);
}

static void
test_compressor_key_stages_no_restore_stream(void **state)
{
    fixture_t *f = *state;
    tf_err_t err = {0};
    assert_int_not_equal(s_stage(f, f->agent, S_STREAM, "restore", "hostb", &err), TF_OK);
    assert_non_null(strstr(err.message, "key 'hostb' (roles scan,compress,extract) may not stage restore stream"));
    assert_non_null(strstr(err.message, "needs the role tape"));
}

static void
test_restore_stream_goes_to_its_host_only(void **state)
{
    fixture_t *f = *state;
    tf_err_t err = {0};
    int rc = s_stage(f, f->tape, S_STREAM, "restore", "hostb", &err);
    if (rc != TF_OK)
        fail_msg("the tape writer's key could not stage a restore stream: %s", err.message);

    tf_msg_t answer;
    s_fetch(f, f->agent, S_STREAM, &answer);  /* hostb's extractor: its own host's stream */
    assert_null(answer.fetch_data.error);
    assert_int_equal(answer.fetch_data.data.size, strlen(S_STREAM_BYTES));
    assert_memory_equal(answer.fetch_data.data.data, S_STREAM_BYTES, strlen(S_STREAM_BYTES));
    tf_msg_clear(&answer);

    s_fetch(f, f->other_agent, S_STREAM, &answer);  /* hostc's extractor: not its stream */
    assert_non_null(answer.fetch_data.error);
    assert_non_null(strstr(answer.fetch_data.error, "key 'hostc' (roles scan,compress,extract) may not fetch "
                                                    "restore stream " S_STREAM " of host hostb"));
    assert_int_equal(answer.fetch_data.data.size, 0);
    tf_msg_clear(&answer);

    s_fetch(f, f->query, S_STREAM, &answer);
    assert_non_null(answer.fetch_data.error);
    assert_non_null(strstr(answer.fetch_data.error, "key 'monitor' (roles query) may not fetch restore stream"));
    tf_msg_clear(&answer);

    s_fetch(f, f->tape, S_STREAM, &answer);  /* the tape writer that wrote it */
    assert_null(answer.fetch_data.error);
    tf_msg_clear(&answer);
    assert_true(s_log_has(f, "security: stager refused fetch: key 'hostc'"));
}

static void
test_only_tape_writers_fetch_backup_archives(void **state)
{
    fixture_t *f = *state;
    tf_err_t err = {0};
    int rc = s_stage(f, f->agent, "J20261202-120000-0001-g2", "backup", "hostb", &err);
    if (rc != TF_OK)
        fail_msg("a compressor's key could not stage a backup archive: %s", err.message);
    tf_msg_t answer;
    s_fetch(f, f->agent, "J20261202-120000-0001-g2", &answer);
    assert_non_null(answer.fetch_data.error);
    assert_non_null(strstr(answer.fetch_data.error, "key 'hostb' (roles scan,compress,extract) may not fetch "
                                                    "archive J20261202-120000-0001-g2: that needs the role (one of) "
                                                    "tape,replicate"));
    tf_msg_clear(&answer);
    s_fetch(f, f->tape, "J20261202-120000-0001-g2", &answer);
    assert_null(answer.fetch_data.error);
    assert_int_equal(answer.fetch_data.data.size, strlen(S_STREAM_BYTES));
    tf_msg_clear(&answer);
    /* the replicator copies backup archives to replication targets (issue 12) */
    s_fetch(f, f->replicator, "J20261202-120000-0001-g2", &answer);
    assert_null(answer.fetch_data.error);
    assert_int_equal(answer.fetch_data.data.size, strlen(S_STREAM_BYTES));
    tf_msg_clear(&answer);
    /* but not restore streams: those are the extractor's of their host */
    assert_int_equal(s_stage(f, f->tape, S_STREAM, "restore", "hostb", &err), TF_OK);
    s_fetch(f, f->replicator, S_STREAM, &answer);
    assert_non_null(answer.fetch_data.error);
    assert_non_null(strstr(answer.fetch_data.error, "key 'replhost' (roles replicate) may not fetch restore stream"));
    tf_msg_clear(&answer);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_query_key_stages_nothing, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_compressor_key_stages_no_restore_stream, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_restore_stream_goes_to_its_host_only, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_only_tape_writers_fetch_backup_archives, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
