/*  tf_keys: role words, the key folder (init, trust, untrust, list) and the running store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tf_keys.h"
#include "tf_secure.h"
#include "tf_testproc.h"

typedef struct {
    char *dir;
    tf_config_t *cfg;
} fixture_t;

static int
s_setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    f->dir = tf_test_tempdir("keys");
    f->cfg = tf_config_new();
    char keys[1024];
    snprintf(keys, sizeof keys, "%s/keys", f->dir);
    assert_int_equal(tf_config_set(f->cfg, "keys/dir", keys), 0);
    assert_int_equal(tf_config_set(f->cfg, "tapeflow/host", "tapesrv"), 0);
    *state = f;
    return 0;
}

static int
s_teardown(void **state)
{
    fixture_t *f = *state;
    tf_config_destroy(&f->cfg);
    tf_test_dir_done(&f->dir);
    free(f);
    return 0;
}

static void
test_roles_parse_and_print(void **state)
{
    (void) state;
    uint32_t roles;
    tf_err_t err = {0};
    assert_int_equal(tf_keys_parse_roles("agent,query", &roles, &err), TF_OK);
    assert_int_equal(roles, TF_ROLE_SCAN | TF_ROLE_COMPRESS | TF_ROLE_EXTRACT | TF_ROLE_QUERY);
    char text[256];
    assert_string_equal(tf_keys_roles_text(roles, text, sizeof text), "scan,compress,extract,query");
    assert_int_equal(tf_keys_parse_roles("server backup", &roles, &err), TF_OK);
    assert_int_equal(roles, TF_ROLE_SERVICES | TF_ROLE_BACKUP);
    /* a bad word is named, and the valid ones listed */
    assert_int_equal(tf_keys_parse_roles("agent,tapes", &roles, &err), TF_ERR_INVALID);
    assert_non_null(strstr(err.message, "unknown role 'tapes'"));
    assert_non_null(strstr(err.message, "labeller"));
    assert_int_equal(tf_keys_parse_roles("", &roles, &err), TF_ERR_INVALID);
    assert_int_equal(tf_keys_service_role("tape"), TF_ROLE_TAPE);
    assert_int_equal(tf_keys_service_role("backup"), 0);  /* a right, not a service */
    assert_int_equal(tf_keys_service_role("nosuch"), 0);
}

static void
test_names_keys_roots(void **state)
{
    (void) state;
    tf_err_t err = {0};
    assert_int_equal(tf_keys_check_name("client-b.lan", &err), TF_OK);
    assert_int_equal(tf_keys_check_name("../etc", &err), TF_ERR_INVALID);
    assert_int_equal(tf_keys_check_name("", &err), TF_ERR_INVALID);
    assert_int_equal(tf_keys_check_public("short", &err), TF_ERR_INVALID);
    zcert_t *cert = zcert_new();
    assert_int_equal(tf_keys_check_public(zcert_public_txt(cert), &err), TF_OK);
    zcert_destroy(&cert);
    tf_key_t key = {0};
    assert_int_equal(tf_keys_add_root(&key, "hostb:/restore", &err), TF_OK);
    assert_int_equal(tf_keys_add_root(&key, "/restore", &err), TF_ERR_INVALID);      /* no host */
    assert_int_equal(tf_keys_add_root(&key, "hostb:restore", &err), TF_ERR_INVALID); /* relative */
    assert_int_equal(tf_keys_add_root(&key, "hostb:/a/../b", &err), TF_ERR_INVALID);
    assert_int_equal(key.nroots, 1);
}

static void
test_init_makes_private_cert_and_trusts_itself(void **state)
{
    fixture_t *f = *state;
    bool created = false;
    char pub[41], again[41], shown[41];
    tf_err_t err = {0};
    assert_int_equal(tf_secure_public_key(f->cfg, shown, &err), TF_ERR_NOTFOUND);
    assert_int_equal(tf_keys_init(f->cfg, &created, pub, &err), TF_OK);
    assert_true(created);
    assert_int_equal(strlen(pub), 40);
    char path[1200];
    struct stat st;
    assert_int_equal(stat(tf_keys_path(f->cfg, "", path, sizeof path), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(stat(tf_keys_path(f->cfg, "host.cert_secret", path, sizeof path), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* a second init keeps the certificate */
    assert_int_equal(tf_keys_init(f->cfg, &created, again, &err), TF_OK);
    assert_false(created);
    assert_string_equal(pub, again);
    assert_int_equal(tf_secure_public_key(f->cfg, shown, &err), TF_OK);
    assert_string_equal(pub, shown);
    zlistx_t *list = tf_keys_list(f->cfg, &err);
    assert_non_null(list);
    assert_int_equal(zlistx_size(list), 1);
    tf_key_t *self = zlistx_first(list);
    assert_string_equal(self->name, "tapesrv");
    assert_string_equal(self->public_key, pub);
    assert_int_equal(self->roles, TF_ROLE_ADMIN);
    zlistx_destroy(&list);
}

static void
test_trust_untrust_and_store_refresh(void **state)
{
    fixture_t *f = *state;
    tf_err_t err = {0};
    tf_keys_t *store = tf_keys_new(f->cfg, &err);
    assert_non_null(store);
    zcert_t *peer = zcert_new();
    const char *pub = zcert_public_txt(peer);
    assert_null(tf_keys_lookup(store, pub));

    tf_key_t key = {.roles = TF_ROLE_AGENT};
    snprintf(key.name, sizeof key.name, "hostb");
    snprintf(key.public_key, sizeof key.public_key, "%s", pub);
    assert_int_equal(tf_keys_add_root(&key, "hostb:/restore", &err), TF_OK);
    assert_int_equal(tf_keys_add_root(&key, "hostc:/srv/in", &err), TF_OK);
    assert_int_equal(tf_keys_trust(f->cfg, &key, &err), TF_OK);
    const tf_key_t *found = tf_keys_lookup(store, pub);  /* read again: the folder changed */
    assert_non_null(found);
    assert_string_equal(found->name, "hostb");
    assert_string_equal(found->host, "hostb");   /* no --host: the key's name */
    assert_int_equal(found->roles, TF_ROLE_AGENT);
    assert_int_equal(found->nroots, 2);
    assert_string_equal(found->roots[1], "hostc:/srv/in");

    /* the same key under another name is refused, naming the first */
    tf_key_t twin = key;
    snprintf(twin.name, sizeof twin.name, "other");
    assert_int_equal(tf_keys_trust(f->cfg, &twin, &err), TF_ERR_INVALID);
    assert_non_null(strstr(err.message, "already trusted as 'hostb'"));

    /* trusting the name again changes its roles (and here its host) */
    key.roles = TF_ROLE_QUERY;
    key.nroots = 0;
    snprintf(key.host, sizeof key.host, "laptop7");
    assert_int_equal(tf_keys_trust(f->cfg, &key, &err), TF_OK);
    found = tf_keys_lookup(store, pub);
    assert_non_null(found);
    assert_int_equal(found->roles, TF_ROLE_QUERY);
    assert_string_equal(found->host, "laptop7");
    assert_int_equal(found->nroots, 0);

    assert_int_equal(tf_keys_untrust(f->cfg, "hostb", &err), TF_OK);
    assert_null(tf_keys_lookup(store, pub));
    assert_int_equal(tf_keys_untrust(f->cfg, "hostb", &err), TF_ERR_NOTFOUND);
    zcert_destroy(&peer);
    tf_keys_destroy(&store);
    assert_null(store);
}

static void
test_tcp_without_keys_is_refused(void **state)
{
    fixture_t *f = *state;
    tf_err_t err = {0};
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    assert_int_equal(tf_secure_connect(f->cfg, sock, "tcp://127.0.0.1:9", NULL, &err), TF_ERR_STATE);
    assert_non_null(strstr(err.message, "tcp endpoints need CURVE keys: run tapeflow keys init"));
    tf_auth_t *auth = tf_auth_new(f->cfg, &err);
    assert_non_null(auth);
    assert_true(tf_secure_bind(auth, sock, "tcp://127.0.0.1:*", &err) < 0);
    assert_non_null(strstr(err.message, "tcp endpoints need CURVE keys: run tapeflow keys init"));
    /* ipc needs no keys */
    char ep[1200];
    snprintf(ep, sizeof ep, "ipc://%s/x.sock", f->dir);
    assert_true(tf_secure_bind(auth, sock, ep, &err) >= 0);
    zsock_destroy(&sock);
    tf_auth_destroy(&auth);
}

static void
test_readable_secret_is_refused(void **state)
{
    fixture_t *f = *state;
    bool created;
    char pub[41], path[1200];
    tf_err_t err = {0};
    assert_int_equal(tf_keys_init(f->cfg, &created, pub, &err), TF_OK);
    assert_int_equal(chmod(tf_keys_path(f->cfg, "host.cert_secret", path, sizeof path), 0644), 0);
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    assert_int_equal(tf_secure_connect(f->cfg, sock, "tcp://127.0.0.1:9", NULL, &err), TF_ERR_STATE);
    assert_non_null(strstr(err.message, "can be read by other users"));
    zsock_destroy(&sock);
}


static void
test_only_ipc_inproc_and_tcp_endpoints(void **state)
{
    fixture_t *f = *state;
    tf_err_t err = {0};
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    tf_auth_t *auth = tf_auth_new(f->cfg, &err);
    assert_non_null(auth);
    const char *refused[] = {"pgm://eth0;239.192.1.1:5555", "epgm://eth0;239.192.1.1:5555", "udp://127.0.0.1:5555",
                             "ws://127.0.0.1:5555", "vmci://1:5555", "127.0.0.1:5555"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        assert_int_equal(tf_secure_connect(f->cfg, sock, refused[i], NULL, &err), TF_ERR_INVALID);
        assert_non_null(strstr(err.message, "tapeflow endpoints are ipc://, inproc:// or tcp://"));
        assert_int_equal(tf_secure_bind(auth, sock, refused[i], &err), TF_ERR_INVALID);
        assert_non_null(strstr(err.message, refused[i]));
    }
    assert_int_equal(tf_secure_bind(auth, sock, "inproc://tf-test-scheme", &err), 0);
    zsock_destroy(&sock);
    tf_auth_destroy(&auth);
}

/* A key folder others can write lets them plant a certificate: refused, with the fix. */
static void
test_writable_key_folders_are_refused(void **state)
{
    fixture_t *f = *state;
    bool created;
    char pub[41], dir[1200], trusted[1200];
    tf_err_t err = {0};
    assert_int_equal(tf_keys_init(f->cfg, &created, pub, &err), TF_OK);
    tf_keys_path(f->cfg, "", dir, sizeof dir);
    tf_keys_path(f->cfg, "trusted", trusted, sizeof trusted);
    zsock_t *sock = zsock_new(ZMQ_ROUTER);
    assert_int_equal(chmod(dir, 0770), 0);
    assert_int_equal(tf_secure_connect(f->cfg, sock, "tcp://127.0.0.1:9", NULL, &err), TF_ERR_STATE);
    assert_non_null(strstr(err.message, "is writable by its group or other users"));
    assert_non_null(strstr(err.message, "chmod 700"));
    assert_int_equal(chmod(dir, 0700), 0);

    assert_int_equal(chmod(trusted, 0777), 0);
    tf_auth_t *auth = tf_auth_new(f->cfg, &err);
    assert_non_null(auth);
    assert_true(tf_secure_bind(auth, sock, "tcp://127.0.0.1:*", &err) < 0);
    assert_non_null(strstr(err.message, "trusted is writable by other users"));
    assert_int_equal(chmod(trusted, 0755), 0);
    assert_true(tf_secure_bind(auth, sock, "tcp://127.0.0.1:*", &err) >= 0);
    zsock_destroy(&sock);
    tf_auth_destroy(&auth);
}

/* The secret key must belong to the process's user (root can test another owner). */
static void
test_secret_of_another_user_is_refused(void **state)
{
    fixture_t *f = *state;
    if (geteuid() != 0) {
        print_message("skipped: only root can give the secret key another owner\n");
        skip();
    }
    bool created;
    char pub[41], path[1200];
    tf_err_t err = {0};
    assert_int_equal(tf_keys_init(f->cfg, &created, pub, &err), TF_OK);
    assert_int_equal(chown(tf_keys_path(f->cfg, "host.cert_secret", path, sizeof path), 65534, 65534), 0);
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    assert_int_equal(tf_secure_connect(f->cfg, sock, "tcp://127.0.0.1:9", NULL, &err), TF_ERR_STATE);
    assert_non_null(strstr(err.message, "belongs to uid 65534, not to this process's user"));
    zsock_destroy(&sock);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roles_parse_and_print),
        cmocka_unit_test(test_names_keys_roots),
        cmocka_unit_test_setup_teardown(test_init_makes_private_cert_and_trusts_itself, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_trust_untrust_and_store_refresh, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_tcp_without_keys_is_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_readable_secret_is_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_only_ipc_inproc_and_tcp_endpoints, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_writable_key_folders_are_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_secret_of_another_user_is_refused, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
