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

/* Does root ("HOST:/folder", HOST "*" for any host) cover dest on host (NULL: unknown)? */
static bool
s_root_covers(const char *root, const char *host, const char *dest, size_t dlen)
{
    const char *colon = strchr(root, ':');
    if (!colon)
        return false;
    bool any_host = colon - root == 1 && root[0] == '*';
    if (!any_host && (!host || (size_t) (colon - root) != strlen(host) || strncmp(root, host, strlen(host)) != 0))
        return false;
    const char *dir = colon + 1;
    size_t rlen = s_trimmed(dir);
    if (rlen == 1 && dir[0] == '/')
        return true;  /* the whole host */
    return dlen >= rlen && strncmp(dest, dir, rlen) == 0 && (dlen == rlen || dest[rlen] == '/');
}

bool
authz_restore_allowed(const tf_key_t *key, const char *dest_host, const char *dest)
{
    if (key->nroots == 0)
        return true;
    if (!dest || dest[0] != '/' || s_has_dotdot(dest))
        return false;
    /* Without dest_host the tape writer's host writes, which the broker cannot know: only a
       root for any host ("*:/folder") covers it. */
    const char *host = dest_host && *dest_host ? dest_host : NULL;
    size_t dlen = s_trimmed(dest);
    for (size_t i = 0; i < key->nroots; i++)
        if (s_root_covers(key->roots[i], host, dest, dlen))
            return true;
    return false;
}

/* Who may submit each payload: the roles of the senders that legitimately produce it (grep the
   actors and the CLI for the payload type before changing a row). A payload type or op not
   here needs admin. host says whether the payload names its sender's host (a file group is
   read on the host that scanned it): then that host, and submit.host, must be the key's. */
typedef enum { S_HOST_FREE, S_HOST_SENDER_IF_SET, S_HOST_SENDER } s_host_rule_t;

typedef struct {
    tf_msg_type_t type;
    const char *op;         /* cat_job / lab_query op; NULL: any other op */
    uint32_t need;          /* any of these (admin always passes) */
    s_host_rule_t host;
    const char *action;     /* "key 'K' may not ACTION" */
} s_rule_t;

static const s_rule_t s_rules[] = {
    {TF_MSG_SCAN_JOB, NULL, TF_ROLE_BACKUP, S_HOST_FREE, "start backups"},                 /* CLI backup */
    {TF_MSG_PATH_CHECK, NULL, TF_ROLE_BACKUP, S_HOST_FREE, "check backup paths"},          /* CLI backup */
    {TF_MSG_CAT_JOB, "create", TF_ROLE_BACKUP, S_HOST_FREE, "create backup jobs"},         /* CLI backup */
    {TF_MSG_STAGE_PURGE, NULL, TF_ROLE_BACKUP, S_HOST_FREE, "purge jobs' staged archives"}, /* CLI job purge */
    {TF_MSG_TAPE_RESTORE, NULL, TF_ROLE_RESTORE, S_HOST_FREE, "restore"},                  /* CLI restore */
    {TF_MSG_CAT_QUERY, NULL, TF_ROLE_QUERY | TF_ROLE_TAPE | TF_ROLE_LABELLER | TF_ROLE_REPLICATE, S_HOST_FREE,
     "query the catalog"},                                      /* CLI, tape writer, labeller, replicator */
    {TF_MSG_LAB_QUERY, "inventory", TF_ROLE_QUERY, S_HOST_FREE, "ask the labeller for its inventory"},
    {TF_MSG_LAB_QUERY, "list", TF_ROLE_QUERY, S_HOST_FREE, "ask the labeller for its list"},
    {TF_MSG_LAB_QUERY, NULL, TF_ROLE_ADMIN, S_HOST_FREE, "ask the labeller to load, unload or label"},
    {TF_MSG_TAPE_LABEL, NULL, TF_ROLE_ADMIN, S_HOST_FREE, "label tapes"},                 /* CLI tape label */
    {TF_MSG_FILE_GROUP, NULL, TF_ROLE_SCAN, S_HOST_SENDER, "submit file groups"},          /* scanner */
    {TF_MSG_CAT_JOB, "stage", TF_ROLE_SCAN | TF_ROLE_COMPRESS, S_HOST_FREE,
     "report job stages"},                                                  /* scanner, compressor */
    {TF_MSG_CAT_JOB, "scanned", TF_ROLE_SCAN, S_HOST_SENDER_IF_SET, "report scans"},      /* scanner */
    {TF_MSG_CAT_JOB, "note", TF_ROLE_STAGER, S_HOST_FREE, "add notes to jobs"},           /* stager */
    {TF_MSG_CAT_JOB, NULL, TF_ROLE_ADMIN, S_HOST_FREE,
     "change job records (failed, cancelled, retried: the broker's own)"},
    {TF_MSG_CAT_FILES, NULL, TF_ROLE_COMPRESS, S_HOST_FREE, "record archive files"},       /* compressor */
    {TF_MSG_CAT_MANIFEST, NULL, TF_ROLE_SCAN, S_HOST_SENDER_IF_SET, "record scan manifests"},      /* scanner */
    {TF_MSG_CAT_SCHED, NULL, TF_ROLE_BACKUP, S_HOST_FREE, "record schedule runs"},        /* scheduler, CLI */
    {TF_MSG_ARCHIVE_READY, NULL, TF_ROLE_STAGER, S_HOST_FREE, "announce archives"},        /* stager */
    /* archive_release says who confirms (op derived, s_op_of): the tape writer or a target */
    {TF_MSG_ARCHIVE_RELEASE, "replica", TF_ROLE_REPLICATE, S_HOST_FREE,
     "release staged archives as a replication target"},                                  /* replicator */
    {TF_MSG_ARCHIVE_RELEASE, NULL, TF_ROLE_TAPE, S_HOST_FREE,
     "release staged archives as written to tape"},                                       /* tape writer */
    {TF_MSG_REPLICA_COPY, NULL, TF_ROLE_STAGER, S_HOST_FREE, "queue replica copies"},      /* stager */
    {TF_MSG_CAT_REPLICA, NULL, TF_ROLE_REPLICATE | TF_ROLE_STAGER, S_HOST_FREE,
     "record replicas"},          /* replicator; stager: optional ones skipped (holding disk full); CLI: admin */
    {TF_MSG_CAT_WRITTEN, NULL, TF_ROLE_TAPE, S_HOST_FREE, "record archives on tape"},      /* tape writer */
    {TF_MSG_CAT_VOLUME, NULL, TF_ROLE_TAPE, S_HOST_FREE, "change volume records"},  /* tape writer; CLI: admin */
    {TF_MSG_VOL_REQUEST, NULL, TF_ROLE_TAPE, S_HOST_FREE, "request volumes"},              /* tape writer */
    /* extract.host is where the files go (the restore's dest_host), not the sender's */
    {TF_MSG_EXTRACT, NULL, TF_ROLE_TAPE, S_HOST_FREE, "submit extract items"},             /* tape writer */
};

static const s_rule_t *
s_rule_for(tf_msg_type_t type, const char *op)
{
    for (size_t i = 0; i < sizeof s_rules / sizeof s_rules[0]; i++)
        if (s_rules[i].type == type && (!s_rules[i].op || (op && strcmp(s_rules[i].op, op) == 0)))
            return &s_rules[i];
    return NULL;
}

/* The op a payload's rule is chosen by: cat_job's and lab_query's own; for archive_release
   "replica" when a replication target confirms (replica set), NULL (the tape writer's) when
   not - a key that may only copy replicas cannot pass for the tape and free an archive that is
   not on tape. */
static const char *
s_op_of(const tf_msg_t *payload)
{
    switch (payload->type) {
    case TF_MSG_CAT_JOB: return payload->cat_job.op;
    case TF_MSG_LAB_QUERY: return payload->lab_query.op;
    case TF_MSG_ARCHIVE_RELEASE:
        return payload->archive_release.replica && *payload->archive_release.replica ? "replica" : NULL;
    default: return NULL;
    }
}

/* The host a payload names as its sender's (NULL when it names none). */
static const char *
s_payload_host(const tf_msg_t *payload)
{
    switch (payload->type) {
    case TF_MSG_FILE_GROUP: return payload->file_group.host;
    case TF_MSG_CAT_JOB: return payload->cat_job.host;
    case TF_MSG_CAT_MANIFEST: return payload->cat_manifest.host;
    default: return NULL;
    }
}

static bool
s_same_host(const tf_key_t *key, const char *host)
{
    return host && strcmp(host, key->host) == 0;
}

static int
s_check_restore(const tf_key_t *key, const tf_msg_tape_restore_t *r, tf_err_t *err)
{
    if (authz_restore_allowed(key, r->dest_host, r->dest))
        return TF_OK;
    char roots[TF_KEYS_ROOTS_MAX * 64] = "";
    size_t used = 0;
    for (size_t i = 0; i < key->nroots && used < sizeof roots; i++) {
        int w = snprintf(roots + used, sizeof roots - used, "%s%s", i ? ", " : "", key->roots[i]);
        used += w > 0 ? (size_t) w : 0;
    }
    char action[640];
    if (!r->dest_host || !*r->dest_host)
        /* Long destinations and root lists are cut, never the refusal itself. */
        snprintf(action, sizeof action, "restore to %.256s without naming its host (its restore roots %.200s "
                 "allow named hosts only: restore --to HOST:/folder)", r->dest ? r->dest : "?", roots);
    else
        snprintf(action, sizeof action, "restore to %.64s:%.256s (outside its restore roots %.200s)",
                 r->dest_host, r->dest ? r->dest : "?", roots);
    return s_refuse(key, err, action);
}

/* The roles a submit needs, by its payload (s_rules); for a tape_restore also its destination,
   for a payload that names its sender's host also that host. */
static int
s_check_submit(const tf_key_t *key, const tf_msg_submit_t *submit, tf_err_t *err)
{
    tf_msg_t payload;
    tf_err_t derr = {0};
    char action[320];
    if (tf_msg_decode(submit->payload.data, submit->payload.size, &payload, &derr) != TF_OK) {
        /* Not a catalogue message: only the echo test actor takes such work. */
        snprintf(action, sizeof action, "submit opaque work to %.64s", submit->service ? submit->service : "?");
        return s_has(key, TF_ROLE_ECHO) ? TF_OK : s_refuse(key, err, action);
    }
    const s_rule_t *rule = s_rule_for(payload.type, s_op_of(&payload));
    int rc = TF_OK;
    if (!rule) {
        snprintf(action, sizeof action, "submit %s items (only admin may: no service sends them)",
                 tf_msg_type_name(payload.type));
        rc = s_has(key, TF_ROLE_ADMIN) ? TF_OK : s_refuse(key, err, action);
    }
    else if (!s_has(key, rule->need))
        rc = s_refuse(key, err, rule->action);
    else if (payload.type == TF_MSG_TAPE_RESTORE)
        rc = s_check_restore(key, &payload.tape_restore, err);
    else if (rule->host != S_HOST_FREE && !(key->roles & TF_ROLE_ADMIN)) {
        const char *host = s_payload_host(&payload);
        bool host_ok = rule->host == S_HOST_SENDER ? s_same_host(key, host) : !host || !*host || s_same_host(key, host);
        bool route_ok = !submit->host || !*submit->host || s_same_host(key, submit->host);
        if (!host_ok || !route_ok) {
            snprintf(action, sizeof action, "%s for host %.64s (it is bound to host %s; keys trust ... --host)",
                     rule->action, !host_ok ? (host ? host : "(none)") : submit->host, key->host);
            rc = s_refuse(key, err, action);
        }
    }
    tf_msg_clear(&payload);
    return rc;
}

int
authz_check(const tf_key_t *key, const tf_msg_t *msg, tf_err_t *err)
{
    char action[240];
    switch (msg->type) {
    case TF_MSG_READY: {
        const char *service = msg->ready.service ? msg->ready.service : "";
        uint32_t need = tf_keys_service_role(service);
        snprintf(action, sizeof action, "register as %s", *service ? service : "(no service)");
        /* A service without a role word (a new or misspelled one) is for admin keys only. */
        if (!s_has(key, need ? need : TF_ROLE_ADMIN))
            return s_refuse(key, err, action);
        /* A key is bound to its host: a stolen worker key cannot pose as another host's agent. */
        if (!(key->roles & TF_ROLE_ADMIN) && !s_same_host(key, msg->ready.host)) {
            snprintf(action, sizeof action, "register as %.64s from host %.64s (it is bound to host %s; keys "
                     "trust ... --host)", service, msg->ready.host && *msg->ready.host ? msg->ready.host : "(none)",
                     key->host);
            return s_refuse(key, err, action);
        }
        return TF_OK;
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
        return s_check_submit(key, &msg->submit, err);
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
