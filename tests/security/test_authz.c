/*  broker/authz: what each role may send, restore roots, the submitter stamp. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <string.h>

#include "authz.h"

static tf_key_t
s_key(const char *name, uint32_t roles)
{
    tf_key_t key = {.roles = roles};
    snprintf(key.name, sizeof key.name, "%s", name);
    snprintf(key.host, sizeof key.host, "%s", name);  /* as `keys trust` without --host */
    return key;
}

static tf_msg_t
s_ready_from(const char *service, const char *host)
{
    tf_msg_t msg = {.type = TF_MSG_READY};
    msg.ready.service = (char *) service;
    msg.ready.host = (char *) host;
    return msg;
}

/* The keys below are named after their host, so this READY comes from the key's own host. */
static tf_msg_t
s_ready(const char *service)
{
    return s_ready_from(service, "hostb");
}

/* A SUBMIT carrying payload, encoded (the caller frees submit.payload.data). */
static tf_msg_t
s_submit(const char *service, const tf_msg_t *payload)
{
    tf_msg_t msg = {.type = TF_MSG_SUBMIT};
    msg.submit.service = (char *) service;
    tf_err_t err = {0};
    uint8_t *data;
    size_t size;
    if (tf_msg_encode(payload, &data, &size, &err) != TF_OK)
        fail_msg("cannot encode the %s payload: %s", tf_msg_type_name(payload->type), err.message);
    msg.submit.payload = (tf_bytes_t){data, size};
    return msg;
}

static tf_msg_t
s_restore_to(const char *host, const char *dest)
{
    tf_msg_t r = {.type = TF_MSG_TAPE_RESTORE};
    r.tape_restore.job_id = "J1";
    r.tape_restore.dest = (char *) dest;
    r.tape_restore.dest_host = (char *) host;
    return s_submit("tape", &r);
}

static void
test_ready_needs_the_service_role(void **state)
{
    (void) state;
    tf_err_t err = {0};
    tf_key_t agent = s_key("hostb", TF_ROLE_AGENT);
    tf_msg_t scan = s_ready("scan"), tape = s_ready("tape"), odd = s_ready("custom");
    assert_int_equal(authz_check(&agent, &scan, &err), TF_OK);
    assert_int_equal(authz_check(&agent, &tape, &err), TF_ERR_INVALID);
    assert_non_null(strstr(err.message, "key 'hostb' may not register as tape"));
    assert_non_null(strstr(err.message, "its roles: scan,compress,extract"));
    /* a service without a role word: admin only */
    assert_int_equal(authz_check(&agent, &odd, &err), TF_ERR_INVALID);
    tf_key_t admin = s_key("srv", TF_ROLE_ADMIN);
    assert_int_equal(authz_check(&admin, &tape, &err), TF_OK);
    assert_int_equal(authz_check(&admin, &odd, &err), TF_OK);
    tf_key_t server = s_key("hostb", TF_ROLE_SERVICES);
    assert_int_equal(authz_check(&server, &tape, &err), TF_OK);
}

static void
test_worker_messages_and_queries(void **state)
{
    (void) state;
    tf_err_t err = {0};
    tf_key_t query = s_key("monitor", TF_ROLE_QUERY);
    tf_key_t agent = s_key("hostb", TF_ROLE_AGENT);
    tf_key_t none = s_key("nothing", 0);
    tf_msg_t hb = {.type = TF_MSG_HEARTBEAT}, done = {.type = TF_MSG_DONE};
    tf_msg_t status = {.type = TF_MSG_STATUS_GET}, item = {.type = TF_MSG_ITEM_GET};
    tf_msg_t cancel = {.type = TF_MSG_JOB_OP};
    cancel.job_op.op = "cancel";
    assert_int_equal(authz_check(&query, &hb, &err), TF_ERR_INVALID);
    assert_int_equal(authz_check(&query, &done, &err), TF_ERR_INVALID);
    assert_int_equal(authz_check(&agent, &done, &err), TF_OK);
    assert_int_equal(authz_check(&query, &status, &err), TF_OK);
    assert_int_equal(authz_check(&query, &item, &err), TF_OK);
    assert_int_equal(authz_check(&none, &status, &err), TF_ERR_INVALID);
    assert_int_equal(authz_check(&query, &cancel, &err), TF_ERR_INVALID);
    assert_non_null(strstr(err.message, "may not cancel jobs"));
    tf_key_t backup = s_key("ops", TF_ROLE_BACKUP);
    assert_int_equal(authz_check(&backup, &cancel, &err), TF_OK);
}

static void
test_submits_by_payload(void **state)
{
    (void) state;
    tf_err_t err = {0};
    tf_key_t query = s_key("monitor", TF_ROLE_QUERY);
    tf_key_t backup = s_key("ops", TF_ROLE_BACKUP);
    tf_key_t agent = s_key("hostb", TF_ROLE_AGENT);

    tf_msg_t scan = {.type = TF_MSG_SCAN_JOB};
    scan.scan_job.job_id = "J1";
    tf_msg_t sub = s_submit("scan", &scan);
    assert_int_equal(authz_check(&query, &sub, &err), TF_ERR_INVALID);
    assert_non_null(strstr(err.message, "may not start backups"));
    assert_int_equal(authz_check(&backup, &sub, &err), TF_OK);
    free(sub.submit.payload.data);

    tf_msg_t cq = {.type = TF_MSG_CAT_QUERY};
    cq.cat_query.query = "jobs";
    sub = s_submit("catalog", &cq);
    assert_int_equal(authz_check(&query, &sub, &err), TF_OK);
    assert_int_equal(authz_check(&backup, &sub, &err), TF_ERR_INVALID);
    free(sub.submit.payload.data);

    tf_msg_t lq = {.type = TF_MSG_LAB_QUERY};
    lq.lab_query.op = "list";
    sub = s_submit("labeller", &lq);
    assert_int_equal(authz_check(&query, &sub, &err), TF_OK);
    free(sub.submit.payload.data);
    lq.lab_query.op = "load";
    sub = s_submit("labeller", &lq);
    assert_int_equal(authz_check(&query, &sub, &err), TF_ERR_INVALID);
    assert_non_null(strstr(err.message, "may not ask the labeller to load, unload or label"));
    free(sub.submit.payload.data);

    /* not a message at all (echo scripts): the echo role */
    tf_msg_t opaque = {.type = TF_MSG_SUBMIT};
    opaque.submit.service = "echo";
    opaque.submit.payload = (tf_bytes_t){(uint8_t *) "sleep 1", 7};
    tf_key_t echo = s_key("hostb", TF_ROLE_ECHO);
    assert_int_equal(authz_check(&echo, &opaque, &err), TF_OK);
    assert_int_equal(authz_check(&agent, &opaque, &err), TF_ERR_INVALID);
    assert_int_equal(authz_check(&query, &opaque, &err), TF_ERR_INVALID);
}

static void
test_restore_roots(void **state)
{
    (void) state;
    tf_err_t err = {0};
    tf_key_t any = s_key("ops", TF_ROLE_RESTORE);
    tf_key_t limited = s_key("hostb", TF_ROLE_RESTORE | TF_ROLE_AGENT);
    assert_int_equal(tf_keys_add_root(&limited, "hostb:/restore/", &err), TF_OK);
    assert_int_equal(tf_keys_add_root(&limited, "srv:/spool", &err), TF_OK);

    assert_true(authz_restore_allowed(&any, "hostc", "/etc"));
    assert_true(authz_restore_allowed(&limited, "hostb", "/restore"));
    assert_true(authz_restore_allowed(&limited, "hostb", "/restore/x/y"));
    assert_false(authz_restore_allowed(&limited, "hostb", "/restored"));
    assert_false(authz_restore_allowed(&limited, "hostb", "/restore/../etc"));
    assert_false(authz_restore_allowed(&limited, "hostb", "restore/x"));
    assert_false(authz_restore_allowed(&limited, "hostc", "/restore"));
    /* no dest_host: the tape writer's host, which the broker cannot know - only "*" roots */
    assert_false(authz_restore_allowed(&limited, NULL, "/spool/a"));
    assert_false(authz_restore_allowed(&limited, "", "/restore"));
    assert_true(authz_restore_allowed(&any, NULL, "/anywhere"));
    tf_key_t star = s_key("ops2", TF_ROLE_RESTORE);
    assert_int_equal(tf_keys_add_root(&star, "*:/restore", &err), TF_OK);
    assert_true(authz_restore_allowed(&star, NULL, "/restore/x"));
    assert_true(authz_restore_allowed(&star, "hostc", "/restore"));
    assert_false(authz_restore_allowed(&star, NULL, "/etc"));
    assert_false(authz_restore_allowed(&star, "hostc", "/restored"));

    tf_msg_t sub = s_restore_to("hostb", "/root/.ssh");
    assert_int_equal(authz_check(&limited, &sub, &err), TF_ERR_INVALID);
    assert_non_null(strstr(err.message, "may not restore to hostb:/root/.ssh"));
    assert_non_null(strstr(err.message, "hostb:/restore/"));
    assert_int_equal(authz_check(&any, &sub, &err), TF_OK);
    tf_key_t agent = s_key("hostc", TF_ROLE_AGENT);
    assert_int_equal(authz_check(&agent, &sub, &err), TF_ERR_INVALID);
    free(sub.submit.payload.data);
    sub = s_restore_to("hostb", "/restore/job1");
    assert_int_equal(authz_check(&limited, &sub, &err), TF_OK);
    free(sub.submit.payload.data);
    sub = s_restore_to(NULL, "/restore/job1");
    assert_int_equal(authz_check(&limited, &sub, &err), TF_ERR_INVALID);
    assert_non_null(strstr(err.message, "without naming its host"));
    free(sub.submit.payload.data);
}

static void
test_submitter_is_stamped(void **state)
{
    (void) state;
    tf_err_t err = {0};
    tf_msg_t r = {.type = TF_MSG_TAPE_RESTORE};
    r.tape_restore.job_id = "J1";
    r.tape_restore.dest = "/restore";
    r.tape_restore.submitter = "forged";
    tf_msg_t sub = s_submit("tape", &r);
    assert_int_equal(authz_stamp_submitter(&sub, "hostb", &err), TF_OK);
    tf_msg_t back;
    assert_int_equal(tf_msg_decode(sub.submit.payload.data, sub.submit.payload.size, &back, &err), TF_OK);
    assert_string_equal(back.tape_restore.submitter, "hostb");
    assert_string_equal(back.tape_restore.dest, "/restore");
    tf_msg_clear(&back);
    /* over ipc (no key) the client's value is cleared too */
    assert_int_equal(authz_stamp_submitter(&sub, NULL, &err), TF_OK);
    assert_int_equal(tf_msg_decode(sub.submit.payload.data, sub.submit.payload.size, &back, &err), TF_OK);
    assert_null(back.tape_restore.submitter);
    tf_msg_clear(&back);
    free(sub.submit.payload.data);
    /* other payloads are left alone */
    tf_msg_t scan = {.type = TF_MSG_SCAN_JOB};
    scan.scan_job.job_id = "J1";
    sub = s_submit("scan", &scan);
    uint8_t *before = sub.submit.payload.data;
    assert_int_equal(authz_stamp_submitter(&sub, "hostb", &err), TF_OK);
    assert_ptr_equal(sub.submit.payload.data, before);
    free(sub.submit.payload.data);
}


/* authz_check of a SUBMIT of payload (service and submit.host as given) by key. */
static int
s_check_payload(const tf_key_t *key, const tf_msg_t *payload, const char *submit_host, tf_err_t *err)
{
    tf_msg_t sub = s_submit("any", payload);
    sub.submit.host = (char *) submit_host;
    int rc = authz_check(key, &sub, err);
    free(sub.submit.payload.data);
    return rc;
}

/* One row of authz.c's table: the payload, a role its sender has (passes) and one it lacks. */
typedef struct {
    tf_msg_type_t type;
    const char *op;
    uint32_t allowed;
    uint32_t refused;
} row_t;

static void
test_every_payload_row(void **state)
{
    (void) state;
    static const row_t rows[] = {
        {TF_MSG_SCAN_JOB, NULL, TF_ROLE_BACKUP, TF_ROLE_AGENT},
        {TF_MSG_PATH_CHECK, NULL, TF_ROLE_BACKUP, TF_ROLE_SCAN},
        {TF_MSG_CAT_JOB, "create", TF_ROLE_BACKUP, TF_ROLE_SCAN},
        {TF_MSG_STAGE_PURGE, NULL, TF_ROLE_BACKUP, TF_ROLE_SERVICES},
        {TF_MSG_TAPE_RESTORE, NULL, TF_ROLE_RESTORE, TF_ROLE_SERVICES | TF_ROLE_BACKUP},
        {TF_MSG_CAT_QUERY, NULL, TF_ROLE_QUERY, TF_ROLE_AGENT | TF_ROLE_STAGER},
        {TF_MSG_CAT_QUERY, NULL, TF_ROLE_TAPE, TF_ROLE_BACKUP},
        {TF_MSG_CAT_QUERY, NULL, TF_ROLE_LABELLER, TF_ROLE_RESTORE},
        {TF_MSG_LAB_QUERY, "inventory", TF_ROLE_QUERY, TF_ROLE_SERVICES},
        {TF_MSG_LAB_QUERY, "list", TF_ROLE_QUERY, TF_ROLE_SERVICES},
        {TF_MSG_LAB_QUERY, "load", TF_ROLE_ADMIN, TF_ROLE_SERVICES | TF_ROLE_QUERY | TF_ROLE_BACKUP},
        {TF_MSG_TAPE_LABEL, NULL, TF_ROLE_ADMIN, TF_ROLE_SERVICES | TF_ROLE_QUERY | TF_ROLE_BACKUP},
        {TF_MSG_FILE_GROUP, NULL, TF_ROLE_SCAN, TF_ROLE_COMPRESS | TF_ROLE_EXTRACT | TF_ROLE_TAPE | TF_ROLE_BACKUP},
        {TF_MSG_CAT_JOB, "stage", TF_ROLE_SCAN, TF_ROLE_STAGER | TF_ROLE_TAPE | TF_ROLE_BACKUP},
        {TF_MSG_CAT_JOB, "stage", TF_ROLE_COMPRESS, TF_ROLE_EXTRACT},
        {TF_MSG_CAT_JOB, "scanned", TF_ROLE_SCAN, TF_ROLE_COMPRESS | TF_ROLE_BACKUP},
        {TF_MSG_CAT_JOB, "note", TF_ROLE_STAGER, TF_ROLE_AGENT | TF_ROLE_BACKUP},
        {TF_MSG_CAT_JOB, "failed", TF_ROLE_ADMIN, TF_ROLE_SERVICES | TF_ROLE_BACKUP},
        {TF_MSG_CAT_JOB, "cancelled", TF_ROLE_ADMIN, TF_ROLE_SERVICES | TF_ROLE_BACKUP},
        {TF_MSG_CAT_JOB, "retried", TF_ROLE_ADMIN, TF_ROLE_SERVICES | TF_ROLE_BACKUP},
        {TF_MSG_CAT_JOB, "bogus", TF_ROLE_ADMIN, TF_ROLE_SERVICES | TF_ROLE_BACKUP},
        {TF_MSG_CAT_FILES, NULL, TF_ROLE_COMPRESS, TF_ROLE_SCAN | TF_ROLE_STAGER | TF_ROLE_TAPE},
        {TF_MSG_ARCHIVE_READY, NULL, TF_ROLE_STAGER, TF_ROLE_AGENT | TF_ROLE_TAPE},
        /* the tape's release needs tape, a replication target's needs replicate: neither passes
           for the other (a replicator key cannot free an archive that is not on tape) */
        {TF_MSG_ARCHIVE_RELEASE, NULL, TF_ROLE_TAPE, TF_ROLE_AGENT | TF_ROLE_STAGER | TF_ROLE_REPLICATE},
        {TF_MSG_ARCHIVE_RELEASE, "replica", TF_ROLE_REPLICATE, TF_ROLE_AGENT | TF_ROLE_STAGER | TF_ROLE_TAPE},
        {TF_MSG_CAT_REPLICA, NULL, TF_ROLE_REPLICATE, TF_ROLE_AGENT | TF_ROLE_TAPE | TF_ROLE_BACKUP},
        {TF_MSG_CAT_REPLICA, NULL, TF_ROLE_STAGER, TF_ROLE_QUERY | TF_ROLE_SCAN},
        {TF_MSG_CAT_WRITTEN, NULL, TF_ROLE_TAPE, TF_ROLE_AGENT | TF_ROLE_STAGER},
        {TF_MSG_CAT_VOLUME, NULL, TF_ROLE_TAPE, TF_ROLE_AGENT | TF_ROLE_STAGER | TF_ROLE_LABELLER},
        {TF_MSG_CAT_VOLUME, NULL, TF_ROLE_ADMIN, TF_ROLE_BACKUP | TF_ROLE_QUERY},
        {TF_MSG_VOL_REQUEST, NULL, TF_ROLE_TAPE, TF_ROLE_LABELLER | TF_ROLE_AGENT},
        {TF_MSG_EXTRACT, NULL, TF_ROLE_TAPE, TF_ROLE_AGENT | TF_ROLE_STAGER | TF_ROLE_RESTORE},
        /* payloads no service submits (results, replies): admin only */
        {TF_MSG_RESTORE_RESULT, NULL, TF_ROLE_ADMIN, TF_ROLE_SERVICES | TF_ROLE_BACKUP | TF_ROLE_RESTORE},
        {TF_MSG_PATH_INFO, NULL, TF_ROLE_ADMIN, TF_ROLE_SERVICES | TF_ROLE_BACKUP},
        {TF_MSG_CAT_REPLY, NULL, TF_ROLE_ADMIN, TF_ROLE_SERVICES | TF_ROLE_QUERY},
        {TF_MSG_EXTRACT_RESULT, NULL, TF_ROLE_ADMIN, TF_ROLE_SERVICES},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        tf_msg_t payload = {.type = rows[i].type};
        /* Every payload names job J1 and, where it has one, the sender's host hostb. */
        switch (rows[i].type) {
        case TF_MSG_SCAN_JOB: payload.scan_job.job_id = "J1"; break;
        case TF_MSG_PATH_CHECK: payload.path_check.path = "/data"; break;
        case TF_MSG_STAGE_PURGE: payload.stage_purge.job_id = "J1"; break;
        case TF_MSG_CAT_QUERY: payload.cat_query.query = "jobs"; break;
        case TF_MSG_TAPE_LABEL: payload.tape_label = (tf_msg_tape_label_t){.changer = "c", .barcode = "b", .pool = "p"}; break;
        case TF_MSG_CAT_FILES: payload.cat_files = (tf_msg_cat_files_t){.job_id = "J1", .archive_id = "a"}; break;
        case TF_MSG_ARCHIVE_READY:
            payload.archive_ready = (tf_msg_archive_ready_t){.job_id = "J1", .archive_id = "a", .checksum = "x",
                                                             .stager = "tcp://s:1"};
            break;
        case TF_MSG_ARCHIVE_RELEASE:
            /* op "replica": the release names the target that confirms it */
            payload.archive_release.archive_id = "a";
            payload.archive_release.replica = rows[i].op ? "nas" : NULL;
            break;
        case TF_MSG_CAT_REPLICA:
            payload.cat_replica = (tf_msg_cat_replica_t){.op = "failed", .job_id = "J1", .target = "nas"};
            break;
        case TF_MSG_CAT_WRITTEN:
            payload.cat_written = (tf_msg_cat_written_t){.job_id = "J1", .archive_id = "a", .volume = "V",
                                                         .checksum = "x"};
            break;
        case TF_MSG_CAT_VOLUME: payload.cat_volume = (tf_msg_cat_volume_t){.label = "V", .pool = "p", .state = "s"}; break;
        case TF_MSG_VOL_REQUEST: payload.vol_request = (tf_msg_vol_request_t){.drive = "d", .purpose = "write"}; break;
        case TF_MSG_PATH_INFO: payload.path_info.path = "/data"; break;
        case TF_MSG_EXTRACT:
            payload.extract = (tf_msg_extract_t){.job_id = "J1", .archive_id = "J1-r1", .checksum = "x", .host = "hostc",
                                                 .dest = "/r"};
            break;
        case TF_MSG_CAT_JOB: payload.cat_job = (tf_msg_cat_job_t){.job_id = "J1", .op = (char *) rows[i].op}; break;
        case TF_MSG_LAB_QUERY: payload.lab_query.op = (char *) rows[i].op; break;
        case TF_MSG_TAPE_RESTORE: payload.tape_restore = (tf_msg_tape_restore_t){.job_id = "J1", .dest = "/r"}; break;
        case TF_MSG_FILE_GROUP:
            payload.file_group = (tf_msg_file_group_t){.job_id = "J1", .archive_id = "J1-g00001", .host = "hostb"};
            break;
        default: break;
        }
        tf_key_t allowed = s_key("hostb", rows[i].allowed), refused = s_key("hostb", rows[i].refused);
        tf_err_t err = {0};
        if (s_check_payload(&allowed, &payload, NULL, &err) != TF_OK)
            fail_msg("row %zu (%s %s): refused for its sender: %s", i, tf_msg_type_name(rows[i].type),
                     rows[i].op ? rows[i].op : "", err.message);
        if (s_check_payload(&refused, &payload, NULL, &err) != TF_ERR_INVALID)
            fail_msg("row %zu (%s %s): allowed for roles that do not send it", i, tf_msg_type_name(rows[i].type),
                     rows[i].op ? rows[i].op : "");
        assert_non_null(strstr(err.message, "key 'hostb' may not"));
    }
}

static void
test_keys_are_bound_to_their_host(void **state)
{
    (void) state;
    tf_err_t err = {0};
    tf_key_t agent = s_key("hostb", TF_ROLE_AGENT);
    tf_msg_t from_c = s_ready_from("compress", "hostc"), no_host = s_ready_from("compress", NULL);
    tf_msg_t from_b = s_ready_from("compress", "hostb");
    assert_int_equal(authz_check(&agent, &from_b, &err), TF_OK);
    assert_int_equal(authz_check(&agent, &from_c, &err), TF_ERR_INVALID);
    assert_non_null(strstr(err.message, "may not register as compress from host hostc (it is bound to host hostb"));
    assert_int_equal(authz_check(&agent, &no_host, &err), TF_ERR_INVALID);
    /* keys trust laptop KEY --host hostc */
    tf_key_t laptop = s_key("laptop", TF_ROLE_AGENT);
    snprintf(laptop.host, sizeof laptop.host, "hostc");
    assert_int_equal(authz_check(&laptop, &from_c, &err), TF_OK);
    assert_int_equal(authz_check(&laptop, &from_b, &err), TF_ERR_INVALID);
    /* admin keys (the tape server's own) may speak for any host */
    tf_key_t admin = s_key("srv", TF_ROLE_ADMIN);
    assert_int_equal(authz_check(&admin, &from_c, &err), TF_OK);

    /* a file group names the host that reads it: only that host's scanner may submit it */
    tf_msg_t group = {.type = TF_MSG_FILE_GROUP};
    group.file_group = (tf_msg_file_group_t){.job_id = "J1", .archive_id = "J1-g00001", .host = "hostb"};
    assert_int_equal(s_check_payload(&agent, &group, "hostb", &err), TF_OK);
    assert_int_equal(s_check_payload(&agent, &group, "hostc", &err), TF_ERR_INVALID);
    assert_non_null(strstr(err.message, "for host hostc (it is bound to host hostb"));
    group.file_group.host = "hostc";
    assert_int_equal(s_check_payload(&agent, &group, NULL, &err), TF_ERR_INVALID);
    assert_int_equal(s_check_payload(&admin, &group, "hostc", &err), TF_OK);
    group.file_group.host = NULL;   /* any compressor would read it: not from a host-bound key */
    assert_int_equal(s_check_payload(&agent, &group, NULL, &err), TF_ERR_INVALID);

    /* a scan report names the host scanned, when the job has several */
    tf_msg_t scanned = {.type = TF_MSG_CAT_JOB};
    scanned.cat_job = (tf_msg_cat_job_t){.job_id = "J1", .op = "scanned"};
    assert_int_equal(s_check_payload(&agent, &scanned, NULL, &err), TF_OK);
    scanned.cat_job.host = "hostb";
    assert_int_equal(s_check_payload(&agent, &scanned, NULL, &err), TF_OK);
    scanned.cat_job.host = "hostc";
    assert_int_equal(s_check_payload(&agent, &scanned, NULL, &err), TF_ERR_INVALID);

    /* an extract names where the files go, not who sends it: the tape server sends it anywhere */
    tf_key_t tape = s_key("srvtape", TF_ROLE_TAPE);
    tf_msg_t extract = {.type = TF_MSG_EXTRACT};
    extract.extract = (tf_msg_extract_t){.job_id = "J1", .archive_id = "J1-r1", .checksum = "x", .host = "hostc",
                                     .dest = "/r"};
    assert_int_equal(s_check_payload(&tape, &extract, "hostc", &err), TF_OK);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ready_needs_the_service_role),
        cmocka_unit_test(test_worker_messages_and_queries),
        cmocka_unit_test(test_submits_by_payload),
        cmocka_unit_test(test_restore_roots),
        cmocka_unit_test(test_submitter_is_stamped),
        cmocka_unit_test(test_every_payload_row),
        cmocka_unit_test(test_keys_are_bound_to_their_host),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
