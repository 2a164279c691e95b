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
    return key;
}

static tf_msg_t
s_ready(const char *service)
{
    tf_msg_t msg = {.type = TF_MSG_READY};
    msg.ready.service = (char *) service;
    return msg;
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
    assert_int_equal(authz_check(&agent, &scan, "srv", &err), TF_OK);
    assert_int_equal(authz_check(&agent, &tape, "srv", &err), TF_ERR_INVALID);
    assert_non_null(strstr(err.message, "key 'hostb' may not register as tape"));
    assert_non_null(strstr(err.message, "its roles: scan,compress,extract"));
    /* a service without a role word: admin only */
    assert_int_equal(authz_check(&agent, &odd, "srv", &err), TF_ERR_INVALID);
    tf_key_t admin = s_key("srv", TF_ROLE_ADMIN);
    assert_int_equal(authz_check(&admin, &tape, "srv", &err), TF_OK);
    assert_int_equal(authz_check(&admin, &odd, "srv", &err), TF_OK);
    tf_key_t server = s_key("srv2", TF_ROLE_SERVICES);
    assert_int_equal(authz_check(&server, &tape, "srv", &err), TF_OK);
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
    assert_int_equal(authz_check(&query, &hb, "srv", &err), TF_ERR_INVALID);
    assert_int_equal(authz_check(&query, &done, "srv", &err), TF_ERR_INVALID);
    assert_int_equal(authz_check(&agent, &done, "srv", &err), TF_OK);
    assert_int_equal(authz_check(&query, &status, "srv", &err), TF_OK);
    assert_int_equal(authz_check(&query, &item, "srv", &err), TF_OK);
    assert_int_equal(authz_check(&none, &status, "srv", &err), TF_ERR_INVALID);
    assert_int_equal(authz_check(&query, &cancel, "srv", &err), TF_ERR_INVALID);
    assert_non_null(strstr(err.message, "may not cancel jobs"));
    tf_key_t backup = s_key("ops", TF_ROLE_BACKUP);
    assert_int_equal(authz_check(&backup, &cancel, "srv", &err), TF_OK);
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
    assert_int_equal(authz_check(&query, &sub, "srv", &err), TF_ERR_INVALID);
    assert_non_null(strstr(err.message, "may not start backups"));
    assert_int_equal(authz_check(&backup, &sub, "srv", &err), TF_OK);
    free(sub.submit.payload.data);

    tf_msg_t cq = {.type = TF_MSG_CAT_QUERY};
    cq.cat_query.query = "jobs";
    sub = s_submit("catalog", &cq);
    assert_int_equal(authz_check(&query, &sub, "srv", &err), TF_OK);
    assert_int_equal(authz_check(&backup, &sub, "srv", &err), TF_ERR_INVALID);
    free(sub.submit.payload.data);

    tf_msg_t lq = {.type = TF_MSG_LAB_QUERY};
    lq.lab_query.op = "list";
    sub = s_submit("labeller", &lq);
    assert_int_equal(authz_check(&query, &sub, "srv", &err), TF_OK);
    free(sub.submit.payload.data);
    lq.lab_query.op = "load";
    sub = s_submit("labeller", &lq);
    assert_int_equal(authz_check(&query, &sub, "srv", &err), TF_ERR_INVALID);
    assert_non_null(strstr(err.message, "may not ask the labeller to load"));
    free(sub.submit.payload.data);

    /* pipeline-internal work: any service role */
    tf_msg_t group = {.type = TF_MSG_FILE_GROUP};
    group.file_group.job_id = "J1";
    group.file_group.archive_id = "J1-a0001";
    sub = s_submit("compress", &group);
    assert_int_equal(authz_check(&agent, &sub, "srv", &err), TF_OK);
    assert_int_equal(authz_check(&query, &sub, "srv", &err), TF_ERR_INVALID);
    free(sub.submit.payload.data);

    /* not a message at all (echo scripts): any service role */
    tf_msg_t opaque = {.type = TF_MSG_SUBMIT};
    opaque.submit.service = "echo";
    opaque.submit.payload = (tf_bytes_t){(uint8_t *) "sleep 1", 7};
    assert_int_equal(authz_check(&agent, &opaque, "srv", &err), TF_OK);
    assert_int_equal(authz_check(&query, &opaque, "srv", &err), TF_ERR_INVALID);
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

    assert_true(authz_restore_allowed(&any, "hostc", "/etc", "srv"));
    assert_true(authz_restore_allowed(&limited, "hostb", "/restore", "srv"));
    assert_true(authz_restore_allowed(&limited, "hostb", "/restore/x/y", "srv"));
    assert_false(authz_restore_allowed(&limited, "hostb", "/restored", "srv"));
    assert_false(authz_restore_allowed(&limited, "hostb", "/restore/../etc", "srv"));
    assert_false(authz_restore_allowed(&limited, "hostb", "restore/x", "srv"));
    assert_false(authz_restore_allowed(&limited, "hostc", "/restore", "srv"));
    /* no dest_host: the tape writer's host, the broker's own */
    assert_true(authz_restore_allowed(&limited, NULL, "/spool/a", "srv"));
    assert_false(authz_restore_allowed(&limited, "", "/restore", "srv"));

    tf_msg_t sub = s_restore_to("hostb", "/root/.ssh");
    assert_int_equal(authz_check(&limited, &sub, "srv", &err), TF_ERR_INVALID);
    assert_non_null(strstr(err.message, "may not restore to hostb:/root/.ssh"));
    assert_non_null(strstr(err.message, "hostb:/restore/"));
    assert_int_equal(authz_check(&any, &sub, "srv", &err), TF_OK);
    tf_key_t agent = s_key("hostc", TF_ROLE_AGENT);
    assert_int_equal(authz_check(&agent, &sub, "srv", &err), TF_ERR_INVALID);
    free(sub.submit.payload.data);
    sub = s_restore_to("hostb", "/restore/job1");
    assert_int_equal(authz_check(&limited, &sub, "srv", &err), TF_OK);
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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ready_needs_the_service_role),
        cmocka_unit_test(test_worker_messages_and_queries),
        cmocka_unit_test(test_submits_by_payload),
        cmocka_unit_test(test_restore_roots),
        cmocka_unit_test(test_submitter_is_stamped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
