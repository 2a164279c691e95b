/*  authz - the role check of a trusted key, per message (see authz.h). */
#include "authz.h"

#include <stdio.h>
#include <string.h>

/* Any of need; ADMIN always passes. */
static bool
s_has(const tf_key_t *key, uint32_t need)
{
    return (key->roles & TF_ROLE_ADMIN) || (key->roles & need);
}

static int
s_refuse(const tf_key_t *key, tf_err_t *err, const char *action)
{
    char roles[256];
    return tf_err_set(err, TF_ERR_INVALID, "key '%s' may not %s (its roles: %s; change them with tapeflow keys "
                      "trust %s KEY --role ... on the broker's host)", key->name, action,
                      tf_keys_roles_text(key->roles, roles, sizeof roles), key->name);
}

/* "/a/b/" -> length without trailing slashes (but "/" stays 1). */
static size_t
s_trimmed(const char *path)
{
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        len--;
    return len;
}

static bool
s_has_dotdot(const char *path)
{
    for (const char *p = path; (p = strstr(p, "..")); p += 2)
        if ((p == path || p[-1] == '/') && (p[2] == '\0' || p[2] == '/'))
            return true;
    return false;
}

bool
authz_restore_allowed(const tf_key_t *key, const char *dest_host, const char *dest, const char *local_host)
{
    if (key->nroots == 0)
        return true;
    const char *host = dest_host && *dest_host ? dest_host : local_host ? local_host : "";
    if (!dest || dest[0] != '/' || s_has_dotdot(dest))
        return false;
    size_t dlen = s_trimmed(dest);
    for (size_t i = 0; i < key->nroots; i++) {
        const char *root = key->roots[i];
        const char *colon = strchr(root, ':');
        if (!colon || (size_t) (colon - root) != strlen(host) || strncmp(root, host, strlen(host)) != 0)
            continue;
        const char *dir = colon + 1;
        size_t rlen = s_trimmed(dir);
        if (rlen == 1 && dir[0] == '/')
            return true;  /* the whole host */
        if (dlen >= rlen && strncmp(dest, dir, rlen) == 0 && (dlen == rlen || dest[rlen] == '/'))
            return true;
    }
    return false;
}

/* The roles a submit needs, by its payload; for a tape_restore also its destination. */
static int
s_check_submit(const tf_key_t *key, const tf_msg_submit_t *submit, const char *local_host, tf_err_t *err)
{
    tf_msg_t payload;
    tf_err_t derr = {0};
    char action[640];
    if (tf_msg_decode(submit->payload.data, submit->payload.size, &payload, &derr) != TF_OK) {
        /* Not a catalogue message (the echo test actor's scripts): only workers pass such on. */
        snprintf(action, sizeof action, "submit opaque work to %s", submit->service ? submit->service : "?");
        return s_has(key, TF_ROLE_SERVICES) ? TF_OK : s_refuse(key, err, action);
    }
    uint32_t need = TF_ROLE_SERVICES;
    const char *op = NULL;
    int rc = TF_OK;
    switch (payload.type) {
    case TF_MSG_SCAN_JOB:
        need = TF_ROLE_BACKUP;
        snprintf(action, sizeof action, "start backups");
        break;
    case TF_MSG_TAPE_RESTORE: {
        const tf_msg_tape_restore_t *r = &payload.tape_restore;
        need = TF_ROLE_RESTORE;
        snprintf(action, sizeof action, "restore");
        if (s_has(key, need) && !authz_restore_allowed(key, r->dest_host, r->dest, local_host)) {
            char roots[TF_KEYS_ROOTS_MAX * 64] = "";
            size_t used = 0;
            for (size_t i = 0; i < key->nroots && used < sizeof roots; i++) {
                int w = snprintf(roots + used, sizeof roots - used, "%s%s", i ? ", " : "", key->roots[i]);
                used += w > 0 ? (size_t) w : 0;
            }
            /* Long destinations and root lists are cut, never the refusal itself. */
            snprintf(action, sizeof action, "restore to %.64s:%.256s (outside its restore roots %.200s)",
                     r->dest_host && *r->dest_host ? r->dest_host : local_host ? local_host : "?",
                     r->dest ? r->dest : "?", roots);
            rc = s_refuse(key, err, action);
        }
        break;
    }
    case TF_MSG_CAT_QUERY:
        need = TF_ROLE_QUERY;
        snprintf(action, sizeof action, "query the catalog");
        break;
    case TF_MSG_LAB_QUERY:
        op = payload.lab_query.op ? payload.lab_query.op : "";
        need = strcmp(op, "inventory") == 0 || strcmp(op, "list") == 0 ? TF_ROLE_QUERY : TF_ROLE_ADMIN;
        snprintf(action, sizeof action, "ask the labeller to %s", *op ? op : "(no op)");
        break;
    case TF_MSG_TAPE_LABEL:
        need = TF_ROLE_ADMIN;
        snprintf(action, sizeof action, "label tapes");
        break;
    case TF_MSG_CAT_JOB:
    case TF_MSG_STAGE_PURGE:
        need = TF_ROLE_BACKUP | TF_ROLE_SERVICES;
        snprintf(action, sizeof action, "submit %s items", tf_msg_type_name(payload.type));
        break;
    case TF_MSG_CAT_VOLUME:
        need = TF_ROLE_SERVICES;  /* admin passes anyway */
        snprintf(action, sizeof action, "change volume records");
        break;
    default:
        snprintf(action, sizeof action, "submit %s items (pipeline work)", tf_msg_type_name(payload.type));
        break;
    }
    tf_msg_clear(&payload);
    if (rc != TF_OK)
        return rc;
    return s_has(key, need) ? TF_OK : s_refuse(key, err, action);
}

int
authz_check(const tf_key_t *key, const tf_msg_t *msg, const char *local_host, tf_err_t *err)
{
    char action[160];
    switch (msg->type) {
    case TF_MSG_READY: {
        const char *service = msg->ready.service ? msg->ready.service : "";
        uint32_t need = tf_keys_service_role(service);
        snprintf(action, sizeof action, "register as %s", *service ? service : "(no service)");
        /* A service without a role word (a new or misspelled one) is for admin keys only. */
        return s_has(key, need ? need : TF_ROLE_ADMIN) ? TF_OK : s_refuse(key, err, action);
    }
    case TF_MSG_HEARTBEAT:
    case TF_MSG_DONE:
    case TF_MSG_FAILED:
    case TF_MSG_PROGRESS:
    case TF_MSG_DISCONNECT:
        snprintf(action, sizeof action, "act as a worker (%s)", tf_msg_type_name(msg->type));
        return s_has(key, TF_ROLE_SERVICES) ? TF_OK : s_refuse(key, err, action);
    case TF_MSG_STATUS_GET:
    case TF_MSG_ITEM_GET:
        return key->roles ? TF_OK : s_refuse(key, err, "ask anything");
    case TF_MSG_JOB_OP:
        snprintf(action, sizeof action, "%s jobs", msg->job_op.op ? msg->job_op.op : "change");
        return s_has(key, TF_ROLE_BACKUP) ? TF_OK : s_refuse(key, err, action);
    case TF_MSG_SUBMIT:
        return s_check_submit(key, &msg->submit, local_host, err);
    default:
        /* broker_handle answers these as not accepted; nothing to allow. */
        return TF_OK;
    }
}

int
authz_stamp_submitter(tf_msg_t *submit, const char *key_name, tf_err_t *err)
{
    if (submit->type != TF_MSG_SUBMIT)
        return TF_OK;
    tf_msg_t payload;
    tf_err_t derr = {0};
    if (tf_msg_decode(submit->submit.payload.data, submit->submit.payload.size, &payload, &derr) != TF_OK)
        return TF_OK;  /* not a message: nothing to stamp */
    if (payload.type != TF_MSG_TAPE_RESTORE) {
        tf_msg_clear(&payload);
        return TF_OK;
    }
    /* Whatever the client put there is replaced: only the broker knows who asked. */
    free(payload.tape_restore.submitter);
    payload.tape_restore.submitter = key_name ? strdup(key_name) : NULL;
    int rc = key_name && !payload.tape_restore.submitter ? tf_err_set(err, TF_ERR_NOMEM, "out of memory") : TF_OK;
    uint8_t *data = NULL;
    size_t size = 0;
    if (rc == TF_OK)
        rc = tf_msg_encode(&payload, &data, &size, err);
    tf_msg_clear(&payload);
    if (rc != TF_OK)
        return rc;
    free(submit->submit.payload.data);
    submit->submit.payload = (tf_bytes_t){data, size};
    return TF_OK;
}
