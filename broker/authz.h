/*  authz - what a trusted key may ask of the broker. Pure: no sockets, no clock, no files; the
    broker's main looks the sender's key up (tf_keys) and asks here before broker_handle.

    Over tcp every peer has a trusted key (tf_secure refused the others at the handshake); ipc
    peers are local and trusted, and never come here. A key's roles (tf_keys.h) allow:
      ready                         the role of the service it registers for (admin: any)
      heartbeat, done, failed,      any service role: only workers send these
      progress, disconnect
      status_get, item_get          any role
      job_op (cancel, retry)        backup
      submit, by its payload:
        scan_job                    backup
        tape_restore                restore, and the destination inside the key's
                                    restore_roots (when it has any)
        cat_query                   query
        lab_query inventory, list   query
        lab_query load, unload,     admin
        labelled; tape_label
        cat_job, stage_purge        backup or any service role (the CLI starts jobs and
                                    purges; the actors report)
        cat_volume                  admin or any service role (tape label/clear; tape writers)
        anything else               any service role (pipeline-internal: file groups,
                                    archives, catalog rows, volume requests, test payloads)
    admin allows everything except a restore outside the key's restore_roots.
*/
#ifndef AUTHZ_H_INCLUDED
#define AUTHZ_H_INCLUDED

#include "tf_keys.h"
#include "tf_msg.h"

/* TF_OK when key may send msg; else TF_ERR_INVALID with
   "key 'NAME' may not ACTION (its roles: R...)". local_host is the host a restore without
   dest_host writes on (the tape writer's: the broker's own tapeflow/host). */
int authz_check(const tf_key_t *key, const tf_msg_t *msg, const char *local_host, tf_err_t *err);

/* True when key may restore into dest on dest_host (NULL or "": local_host): it has no
   restore_roots, or dest is one of them or inside one. */
bool authz_restore_allowed(const tf_key_t *key, const char *dest_host, const char *dest, const char *local_host);

/* A submit of a tape_restore gets its submitter set to key_name (NULL: over ipc, cleared), so
   the tape writer and the job record know who asked; the payload is encoded again. Other
   submits are left as they are. */
int authz_stamp_submitter(tf_msg_t *submit, const char *key_name, tf_err_t *err);

#endif
