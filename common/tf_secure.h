/*  tf_secure - every socket tapeflow binds or connects goes through here, so no tcp endpoint is
    ever used without CURVE.

    - Only ipc://, inproc:// and tcp:// endpoints: any other transport is refused (it would
      carry tapeflow unauthenticated).
    - ipc:// and inproc:// endpoints are bound and connected as they are (ipc is protected by
      the folder's permissions, tapeflow/run).
    - tcp:// endpoints need this host's CURVE certificate (keys/dir, made by `tapeflow keys
      init`). Without it the call fails with "tcp endpoints need CURVE keys: run tapeflow keys
      init". The secret key must be 0600 and owned by the process's user, keys/dir writable
      by its owner only, keys/dir/trusted not writable by others. A connecting socket authenticates the server with server_key: a Z85 public key or
      the name of a trusted key; NULL means keys/server (stager sockets: stager/server_key),
      and an empty keys/server means this host's own key (one tape server, one certificate).
    - A binding socket is a CURVE server whose clients the process's tf_auth_t (czmq zauth)
      checks against the trusted keys (keys/dir/trusted): an unknown key is refused during the
      handshake, before any message is read, and counted.

    Roles (what a trusted key may do) live in tf_keys.h; the broker checks them per message,
    using the key name tf_secure_peer_key reads off a received frame.
*/
#ifndef TF_SECURE_H_INCLUDED
#define TF_SECURE_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "tf_config.h"
#include "tf_err.h"

/* True for tcp:// endpoints (the ones that need CURVE). */
bool tf_secure_is_tcp(const char *endpoint);

/* Connects sock to endpoint; tcp: as a CURVE client of server_key (see above). cfg may be NULL
   for ipc/inproc endpoints only. */
int tf_secure_connect(const tf_config_t *cfg, zsock_t *sock, const char *endpoint,
                      const char *server_key, tf_err_t *err);

/* What the connecting side of a tcp socket learns about its CURVE handshakes. libzmq does not
   retry a connection whose handshake the server refused (4.3.4 has no ZMQ_RECONNECT_STOP), so
   without this a refused process waits in silence. tf_secure_watch_new after tf_secure_connect,
   in the thread that made the socket; the watch then belongs to whoever owns the socket (hand
   both to an actor thread together). For ipc/inproc endpoints the watch never reports.
   peer names the other side in the message ("the broker"), role the role this process needs
   ("agent"). */
typedef struct _tf_secure_watch_t tf_secure_watch_t;

tf_secure_watch_t *tf_secure_watch_new(const tf_config_t *cfg, zsock_t *sock, const char *endpoint,
                                       const char *peer, const char *role, tf_err_t *err);
void tf_secure_watch_destroy(tf_secure_watch_t **self_p);

/* Reads the handshake events that arrived (never blocks). True when the server refused this
   host's key since the last tf_secure_watch_retry; err then says so and what to do: "the broker
   at tcp://10.0.0.1:5555 refused this host's key (public key XYZ...): trust it on the tape
   server with tapeflow keys trust HOST XYZ... --role agent, or check keys/server". */
bool tf_secure_watch_refused(tf_secure_watch_t *self, tf_err_t *err);

/* Connects sock again (same CURVE keys), so a key trusted meanwhile gets in without a restart.
   Only after a refusal: libzmq itself reconnects other lost connections. */
int tf_secure_watch_retry(tf_secure_watch_t *self, zsock_t *sock, tf_err_t *err);

/* This host's public key (Z85, 40 characters) into out[41]. TF_ERR_NOTFOUND without keys. */
int tf_secure_public_key(const tf_config_t *cfg, char out[41], tf_err_t *err);

/* The ZAP handler of a process that binds tcp endpoints: one per process, made before the
   first tcp bind, destroyed after the last bound socket. */
typedef struct _tf_auth_t tf_auth_t;

tf_auth_t *tf_auth_new(const tf_config_t *cfg, tf_err_t *err);
void tf_auth_destroy(tf_auth_t **self_p);

/* Binds sock to endpoint; tcp: as a CURVE server with this host's certificate, clients checked
   by auth (which must not be NULL for tcp). Returns the bound port (>= 0) like zsock_bind, or
   a TF_ERR_* with err set. A tcp endpoint with a wildcard port ("tcp://127.0.0.1:*") binds an
   ephemeral port. */
int tf_secure_bind(tf_auth_t *auth, zsock_t *sock, const char *endpoint, tf_err_t *err);

/* Handshakes refused so far on sockets bound through auth (unknown or untrusted keys). */
uint64_t tf_auth_refused(tf_auth_t *auth);

/* Readable (zpoller) when refusals are waiting to be reported; tf_auth_next_refusal takes one:
   "unknown CURVE key from 10.0.0.3:51234 on tcp://0.0.0.0:5555" into why. Returns false when
   none is waiting. */
#define TF_AUTH_REFUSAL_MAX 1024  /* a why buffer that never cuts a refusal short */
void *tf_auth_pollable(tf_auth_t *auth);
bool tf_auth_next_refusal(tf_auth_t *auth, char *why, size_t size);

/* Name of the trusted key (keys trust NAME) that sent frame, read from the ZAP User-Id of a
   frame received on a CURVE socket; NULL for ipc/inproc peers. Valid while frame lives.
   Receive such a ROUTER with a timeout, never after zmq_poll/ZMQ_EVENTS on it: libzmq 4.3
   drops the metadata of the message a poll prefetches, and the key would read as NULL. */
const char *tf_secure_peer_key(zframe_t *frame);
/* The peer's public key (Z85, the ZAP User-Id) of such a frame; NULL for ipc/inproc peers.
   The broker looks the key's roles up by it (tf_keys_lookup), so a key untrusted after it
   connected is refused from its next message on. */
const char *tf_secure_peer_public_key(zframe_t *frame);

#endif
