/*  authz - what a trusted key may ask of the broker. Pure: no sockets, no clock, no files; the
    broker's main looks the sender's key up (tf_keys) and asks here before broker_handle.

    Over tcp every peer has a trusted key (tf_secure refused the others at the handshake); ipc
    peers are local and trusted, and never come here. A key's roles (tf_keys.h) allow:
      ready                         the role of the service it registers for, from the key's
                                    own host (READY.host = the key's host; admin: any)
      heartbeat, done, failed,      any service role: only workers send these (the broker core
      progress, disconnect          then accepts done/failed/progress only from the item's owner)
      status_get, item_get          any role
      job_op (cancel, retry)        backup
      submit, by its payload: one row per payload type (and op) in authz.c's s_rules, the
        roles of the senders that legitimately produce it - scan_job, path_check,
        cat_job create, stage_purge: backup; tape_restore: restore (inside restore_roots);
        cat_query: query, tape, labeller, replicate; lab_query inventory/list: query; other lab_query
        ops, tape_label: admin; file_group: scan; cat_job stage: scan, compress; cat_job
        scanned: scan; cat_job note: stager; cat_files: compress; archive_ready: stager;
        archive_release: tape, replicate; replica_copy: stager; cat_replica: replicate, stager (an optional
        target skipped on a full holding disk);
        cat_written, cat_volume, vol_request, extract: tape; anything else
        (other cat_job ops, replies, unknown types): admin; a payload that is no message
        (the echo test actor's scripts): echo.
        file_group and cat_job scanned name their sender's host: it (and submit.host, when
        set) must be the key's host.
    admin allows everything except a restore outside the key's restore_roots.

    restore_roots: "HOST:/folder", HOST "*" for every host. A restore without dest_host is
    written on the tape writer's host, which the broker cannot know: only "*" roots cover it.
*/
#ifndef AUTHZ_H_INCLUDED
#define AUTHZ_H_INCLUDED

#include "tf_keys.h"
#include "tf_msg.h"

/* TF_OK when key may send msg; else TF_ERR_INVALID with
   "key 'NAME' may not ACTION (its roles: R...)". */
int authz_check(const tf_key_t *key, const tf_msg_t *msg, tf_err_t *err);

/* True when key may restore into dest on dest_host: it has no restore_roots, or dest is one of
   them or inside one (dest_host NULL or "": only roots of host "*"). */
bool authz_restore_allowed(const tf_key_t *key, const char *dest_host, const char *dest);

/* A submit of a tape_restore gets its submitter set to key_name (NULL: over ipc, cleared), so
   the tape writer and the job record know who asked; the payload is encoded again. Other
   submits are left as they are. */
int authz_stamp_submitter(tf_msg_t *submit, const char *key_name, tf_err_t *err);

#endif
