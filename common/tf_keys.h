/*  tf_keys - this host's CURVE certificate and the peers it trusts, with their roles.

    The key folder (keys/dir, mode 0700) holds
      host.cert, host.cert_secret   this host's certificate (czmq zcert; the secret part 0600)
      trusted/NAME.cert             public certificates of trusted peers, with the metadata
                                    name, host (default: name), roles and restore_roots
    `tapeflow keys init` makes the host certificate and trusts it as NAME = tapeflow/host with
    the role admin, so the processes of one host can talk over tcp. The broker's, bus's and
    stager's ZAP handler (tf_secure) accepts exactly the keys in trusted/; the broker then checks
    each message against the key's roles (broker/authz).

    Role words (keys trust NAME KEY --role R[,R...]):
      services  scan compress extract stager tape labeller catalog echo   (register as it)
      rights    backup (start backups, cancel/retry/purge jobs), restore (tape_restore, limited
                by restore_roots), query (status, items, catalog and labeller queries),
                admin (everything, incl. labelling and changer moves)
      shorthand agent = scan compress extract; server = every service
*/
#ifndef TF_KEYS_H_INCLUDED
#define TF_KEYS_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "tf_config.h"
#include "tf_err.h"

enum {
    TF_ROLE_SCAN = 1u << 0,
    TF_ROLE_COMPRESS = 1u << 1,
    TF_ROLE_EXTRACT = 1u << 2,
    TF_ROLE_STAGER = 1u << 3,
    TF_ROLE_TAPE = 1u << 4,
    TF_ROLE_LABELLER = 1u << 5,
    TF_ROLE_CATALOG = 1u << 6,
    TF_ROLE_ECHO = 1u << 7,
    TF_ROLE_BACKUP = 1u << 8,
    TF_ROLE_RESTORE = 1u << 9,
    TF_ROLE_QUERY = 1u << 10,
    TF_ROLE_ADMIN = 1u << 11,
    TF_ROLE_REPLICATE = 1u << 12,
};
#define TF_ROLE_SERVICES (0xffu | TF_ROLE_REPLICATE)  /* every service role */
#define TF_ROLE_AGENT (TF_ROLE_SCAN | TF_ROLE_COMPRESS | TF_ROLE_EXTRACT)

#define TF_KEYS_NAME_MAX 64
#define TF_KEYS_ROOTS_MAX 16
#define TF_KEYS_ROOT_MAX 512

/* One trusted key. roots: "HOST:/folder" a restore may write into ("*:/folder": on any
   host); none: anywhere. host: the host it belongs to (certificate metadata host, default
   its name): its workers register from there and its pipeline items name it. */
typedef struct {
    char name[TF_KEYS_NAME_MAX];
    char host[TF_KEYS_NAME_MAX];
    char public_key[41];
    uint32_t roles;
    size_t nroots;
    char roots[TF_KEYS_ROOTS_MAX][TF_KEYS_ROOT_MAX];
} tf_key_t;

/* Role words ("agent,query" or "agent query") into bits. A bad word fails naming it and
   listing the valid ones. */
int tf_keys_parse_roles(const char *text, uint32_t *roles, tf_err_t *err);
/* Bits back into words ("scan,compress,query"; "none" for 0). */
const char *tf_keys_roles_text(uint32_t roles, char *buf, size_t size);
/* The role a worker of service needs; 0 for a service without one (only admin may). */
uint32_t tf_keys_service_role(const char *service);

/* Checks a key name (what `keys trust NAME` takes) and a Z85 public key. */
int tf_keys_check_name(const char *name, tf_err_t *err);
int tf_keys_check_public(const char *public_key, tf_err_t *err);
/* Adds a restore root ("HOST:/folder") to key. */
int tf_keys_add_root(tf_key_t *key, const char *root, tf_err_t *err);

/* keys/dir/leaf into buf (leaf "" for the folder itself). */
const char *tf_keys_path(const tf_config_t *cfg, const char *leaf, char *buf, size_t size);

/* Makes this host's certificate unless there is one (*created says which) and trusts it as
   tapeflow/host with the role admin. public_key gets the host's public key. */
int tf_keys_init(const tf_config_t *cfg, bool *created, char public_key[41], tf_err_t *err);
/* Trusts key (replacing a trusted key of the same name); an empty key->host means its name.
   Refuses a public key already trusted under another name. */
int tf_keys_trust(const tf_config_t *cfg, const tf_key_t *key, tf_err_t *err);
/* Forgets the trusted key NAME (TF_ERR_NOTFOUND when there is none). */
int tf_keys_untrust(const tf_config_t *cfg, const char *name, tf_err_t *err);
/* Every trusted key, sorted by name (tf_key_t *, freed by the list). NULL with err on failure;
   an empty list when nothing is trusted yet. */
zlistx_t *tf_keys_list(const tf_config_t *cfg, tf_err_t *err);

/* The trusted keys of a running process, read again when keys/dir/trusted changes, so
   `keys trust` and `keys untrust` take effect without a restart. */
typedef struct _tf_keys_t tf_keys_t;

tf_keys_t *tf_keys_new(const tf_config_t *cfg, tf_err_t *err);
void tf_keys_destroy(tf_keys_t **self_p);
/* The trusted key with this public key, or NULL (not trusted, or no longer). Valid until the
   next call. */
const tf_key_t *tf_keys_lookup(tf_keys_t *self, const char *public_key);

#endif
