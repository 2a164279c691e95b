/*  tf_secure - CURVE on every tcp socket (libzmq CURVE, czmq zcert and zauth).

    A bound tcp socket is a CURVE server with this host's certificate; czmq's zauth actor answers
    the ZAP requests of every such socket in the process from keys/dir/trusted (its certificate
    store reads the folder again when it changes, so `tapeflow keys trust` needs no restart).
    zauth does not report refusals, so each bound socket also gets a libzmq socket monitor for the
    handshake failures; one watcher thread reads every monitor and passes each refusal, as text,
    to a PULL socket the process polls (tf_auth_pollable). libzmq 4.3's handshake events name
    the local end of the connection, not the peer, so the refusal says where it arrived.
*/
#include "tf_secure.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tf_keys.h"

#define S_ZAP_DOMAIN "tapeflow"
/* An untrusted key (AUTH) and a peer speaking without CURVE or to another server key
   (PROTOCOL). Not NO_DETAIL: a connection closed before its handshake (a port check) is no
   attempt to get in. */
#define S_REFUSAL_EVENTS (ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)

bool
tf_secure_is_tcp(const char *endpoint)
{
    return endpoint && strncmp(endpoint, "tcp://", 6) == 0;
}

/* Only these transports: ipc and inproc are local (folder permissions), tcp gets CURVE. Any
   other (pgm, epgm, udp, ws, vmci, ...) would carry tapeflow unauthenticated. */

/* An inproc endpoint name no other socket of this process uses (czmq's zuuid: no counter of
   our own to keep). */
static bool
s_unique_inproc(const char *prefix, char *out, size_t size)
{
    zuuid_t *uuid = zuuid_new();
    if (!uuid)
        return false;
    int w = snprintf(out, size, "inproc://%s-%s", prefix, zuuid_str(uuid));
    zuuid_destroy(&uuid);
    return w > 0 && (size_t) w < size;
}

static int
s_check_scheme(const char *endpoint, const char *verb, tf_err_t *err)
{
    static const char *const allowed[] = {"ipc://", "inproc://", "tcp://"};
    for (size_t i = 0; endpoint && i < sizeof allowed / sizeof allowed[0]; i++)
        if (strncmp(endpoint, allowed[i], strlen(allowed[i])) == 0)
            return TF_OK;
    return tf_err_set(err, TF_ERR_INVALID, "cannot %s %s: tapeflow endpoints are ipc://, inproc:// or tcp:// "
                      "(with CURVE); other transports are not authenticated - fix the endpoint in the "
                      "configuration", verb, endpoint ? endpoint : "(none)");
}

/* A folder whose mode lets others (mask: who) put files in it: a planted certificate or key. */
static int
s_check_folder(const char *dir, mode_t mask, const char *who, tf_err_t *err)
{
    struct stat st;
    if (stat(dir, &st) != 0)
        return TF_OK;  /* not made yet: the callers report what is missing */
    if (st.st_mode & mask)
        return tf_err_set(err, TF_ERR_STATE, "%s is writable by %s: anyone there could plant keys; chmod %s %s "
                          "(tapeflow keys init makes it so)", dir, who, mask == 022 ? "700" : "o-w", dir);
    return TF_OK;
}

/* This host's certificate with its secret key; the error every tcp use without keys gives. */
static zcert_t *
s_host_cert(const tf_config_t *cfg, tf_err_t *err)
{
    char dir[1024], path[1200], secret[1200];
    tf_keys_path(cfg, "", dir, sizeof dir);
    tf_keys_path(cfg, "host.cert", path, sizeof path);
    tf_keys_path(cfg, "host.cert_secret", secret, sizeof secret);
    struct stat st;
    if (stat(secret, &st) != 0) {
        tf_err_set(err, TF_ERR_STATE, "tcp endpoints need CURVE keys: run tapeflow keys init (no %s)", secret);
        return NULL;
    }
    if (st.st_mode & 077) {
        tf_err_set(err, TF_ERR_STATE, "the CURVE secret key %s can be read by other users: chmod 600 it "
                   "(and check who has read it)", secret);
        return NULL;
    }
    if (st.st_uid != geteuid()) {
        tf_err_set(err, TF_ERR_STATE, "the CURVE secret key %s belongs to uid %u, not to this process's user "
                   "(uid %u): run the service as its owner, or chown it to the service user",
                   secret, (unsigned) st.st_uid, (unsigned) geteuid());
        return NULL;
    }
    if (s_check_folder(dir, 022, "its group or other users", err) != TF_OK)
        return NULL;
    zcert_t *cert = zcert_load(path);
    if (!cert)
        tf_err_set(err, TF_ERR_INVALID, "%s is not a CURVE certificate: move it away and run tapeflow keys init",
                   path);
    return cert;
}

/* The server's public key: server_key, else keys/server, else this host's own key; each a Z85
   key or the name of a trusted key. */
static int
s_server_key(const tf_config_t *cfg, zcert_t *own, const char *server_key, char out[41], tf_err_t *err)
{
    const char *want = server_key && *server_key ? server_key : tf_config_get((tf_config_t *) cfg, "keys/server");
    if (!want || !*want) {
        snprintf(out, 41, "%s", zcert_public_txt(own));
        return TF_OK;
    }
    uint8_t bin[32];
    if (strlen(want) == 40 && zmq_z85_decode(bin, want)) {
        snprintf(out, 41, "%s", want);
        return TF_OK;
    }
    tf_err_t nerr = {0};
    if (tf_keys_check_name(want, &nerr) == TF_OK) {
        char leaf[TF_KEYS_NAME_MAX + 16], path[1200];
        snprintf(leaf, sizeof leaf, "trusted/%s.cert", want);
        zcert_t *cert = zcert_load(tf_keys_path(cfg, leaf, path, sizeof path));
        if (cert) {
            snprintf(out, 41, "%s", zcert_public_txt(cert));
            zcert_destroy(&cert);
            return TF_OK;
        }
    }
    return tf_err_set(err, TF_ERR_INVALID,
                      "server key '%s' (keys/server or stager/server_key) is neither a public key nor the "
                      "name of a trusted key (tapeflow keys list)", want);
}

int
tf_secure_connect(const tf_config_t *cfg, zsock_t *sock, const char *endpoint, const char *server_key,
                  tf_err_t *err)
{
    if (s_check_scheme(endpoint, "connect to", err) != TF_OK)
        return err->code;
    if (tf_secure_is_tcp(endpoint)) {
        if (!cfg)
            return tf_err_set(err, TF_ERR_INVALID, "cannot connect to %s: tcp needs the configuration's keys",
                              endpoint);
        zcert_t *cert = s_host_cert(cfg, err);
        if (!cert)
            return err->code;
        char server[41];
        int rc = s_server_key(cfg, cert, server_key, server, err);
        if (rc == TF_OK) {
            zcert_apply(cert, sock);
            zsock_set_curve_serverkey(sock, server);
        }
        zcert_destroy(&cert);
        if (rc != TF_OK)
            return rc;
    }
    if (zsock_connect(sock, "%s", endpoint) != 0)
        return tf_err_set(err, TF_ERR_INVALID, "cannot connect to %s: %s", endpoint, zmq_strerror(zmq_errno()));
    return TF_OK;
}

/* ------------------------------------------------------------------ connect watch ---- */

/* A refused handshake on the connecting side: the server's ZAP answer (AUTH), a server that
   does not speak CURVE with our keys (PROTOCOL), or one that closed the handshake without a
   word (NO_DETAIL: what a server key that is not the server's looks like). */
#define S_CONNECT_FAILURES (ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL \
                            | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)

struct _tf_secure_watch_t {
    zsock_t *monitor;          /* PAIR end of the socket's monitor; NULL for ipc/inproc */
    char *endpoint;
    char *why;                 /* the operator's message, made while the configuration is at hand */
    bool refused;
};

tf_secure_watch_t *
tf_secure_watch_new(const tf_config_t *cfg, zsock_t *sock, const char *endpoint, const char *peer,
                    const char *role, tf_err_t *err)
{
    tf_secure_watch_t *self = calloc(1, sizeof *self);
    if (!self || !(self->endpoint = strdup(endpoint))) {
        free(self);
        tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (!tf_secure_is_tcp(endpoint))
        return self;
    char key[41];
    if (tf_secure_public_key(cfg, key, err) != TF_OK) {
        tf_secure_watch_destroy(&self);
        return NULL;
    }
    const char *host = tf_config_get((tf_config_t *) cfg, "tapeflow/host");
    self->why = zsys_sprintf("%s at %s refused this host's key (public key %s): trust it on the tape server "
                             "with tapeflow keys trust %s '%s' --role %s, or check keys/server", peer, endpoint,
                             key, host ? host : "HOST", key, role);
    /* Unique in the process's context: a freed watch's address can come back while libzmq
       still holds the old monitor endpoint (it is released asynchronously), so not %p. */
    char inproc[96];
    if (!s_unique_inproc("tf-connect-watch", inproc, sizeof inproc)) {
        tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        tf_secure_watch_destroy(&self);
        return NULL;
    }
    if (!self->why || zmq_socket_monitor(zsock_resolve(sock), inproc, S_CONNECT_FAILURES) != 0
        || !(self->monitor = zsock_new_pair(inproc))) {
        tf_err_set(err, TF_ERR_IO, "cannot watch the handshakes of %s: %s", endpoint, zmq_strerror(zmq_errno()));
        tf_secure_watch_destroy(&self);
        return NULL;
    }
    return self;
}

void
tf_secure_watch_destroy(tf_secure_watch_t **self_p)
{
    if (self_p && *self_p) {
        tf_secure_watch_t *self = *self_p;
        zsock_destroy(&self->monitor);
        free(self->endpoint);
        zstr_free(&self->why);
        free(self);
        *self_p = NULL;
    }
}

bool
tf_secure_watch_refused(tf_secure_watch_t *self, tf_err_t *err)
{
    /* Each event: [uint16 event, uint32 value][endpoint]; only which event matters here. */
    zmsg_t *event;
    while (self->monitor && zsock_events(self->monitor) & ZMQ_POLLIN
           && (event = zmsg_recv(self->monitor)) != NULL) {
        zframe_t *head = zmsg_first(event);
        if (head && zframe_size(head) >= 2) {
            uint16_t id;
            memcpy(&id, zframe_data(head), sizeof id);
            if (id & S_CONNECT_FAILURES)
                self->refused = true;
        }
        zmsg_destroy(&event);
    }
    if (self->refused)
        tf_err_set(err, TF_ERR_STATE, "%s", self->why);
    return self->refused;
}

int
tf_secure_watch_retry(tf_secure_watch_t *self, zsock_t *sock, tf_err_t *err)
{
    self->refused = false;
    /* The refused connection may be gone already (libzmq ended it): nothing to disconnect. */
    zsock_disconnect(sock, "%s", self->endpoint);
    if (zsock_connect(sock, "%s", self->endpoint) != 0)
        return tf_err_set(err, TF_ERR_IO, "cannot connect to %s again: %s", self->endpoint,
                          zmq_strerror(zmq_errno()));
    return TF_OK;
}

int
tf_secure_public_key(const tf_config_t *cfg, char out[41], tf_err_t *err)
{
    out[0] = '\0';
    char path[1200];
    tf_keys_path(cfg, "host.cert", path, sizeof path);
    zcert_t *cert = access(path, F_OK) == 0 ? zcert_load(path) : NULL;
    if (!cert)
        return tf_err_set(err, TF_ERR_NOTFOUND, "no CURVE keys in %s: run tapeflow keys init", path);
    snprintf(out, 41, "%s", zcert_public_txt(cert));
    zcert_destroy(&cert);
    return TF_OK;
}

/* ------------------------------------------------------------------ refusals --------- */

struct _tf_auth_t {
    const tf_config_t *cfg;
    zactor_t *zauth;           /* started at the first tcp bind */
    zactor_t *watch;           /* reads the socket monitors */
    zsock_t *refusals;         /* PULL: one text per refusal, from watch */
    char refusals_endpoint[96];
    uint64_t refused;          /* written by watch, read by the owner: atomics */
};

typedef struct {
    char *endpoint;            /* the bound endpoint, for the refusal text */
    zsock_t *pair;             /* the monitor's receiving end */
} s_watched_t;

typedef struct {
    tf_auth_t *auth;
    zlistx_t *watched;
    zpoller_t *poller;
    zsock_t *push;
    int64_t window_start;      /* of the current minute of reports */
    int reported;              /* refusals told in it */
    uint64_t untold;           /* counted but not told since the limit was reached */
} s_watch_t;

/* Refusals told one by one per minute; a peer hammering the port is counted, not logged
   thousands of times. */
#define S_TOLD_PER_MINUTE 30

static void
s_watched_free(void **item)
{
    s_watched_t *w = *item;
    if (w) {
        zsock_destroy(&w->pair);
        free(w->endpoint);
        free(w);
        *item = NULL;
    }
}

/* WATCH inproc-endpoint bound-endpoint: starts reading a socket's monitor. */
static int
s_watch_add(s_watch_t *self, const char *monitor, const char *bound)
{
    s_watched_t *w = calloc(1, sizeof *w);
    if (!w)
        return -1;
    w->endpoint = strdup(bound ? bound : "?");
    w->pair = zsock_new(ZMQ_PAIR);
    if (!w->endpoint || !w->pair || zsock_connect(w->pair, "%s", monitor) != 0
        || zpoller_add(self->poller, w->pair) != 0) {
        void *item = w;
        s_watched_free(&item);
        return -1;
    }
    if (!zlistx_add_end(self->watched, w)) {
        zpoller_remove(self->poller, w->pair);
        void *item = w;
        s_watched_free(&item);
        return -1;
    }
    return 0;
}

/* One monitor event: [uint16 event, uint32 value][address]. */
static void
s_watch_event(s_watch_t *self, s_watched_t *w)
{
    zmsg_t *msg = zmsg_recv(w->pair);
    zframe_t *head = msg ? zmsg_first(msg) : NULL;
    if (!head || zframe_size(head) < 6) {
        zmsg_destroy(&msg);
        return;
    }
    uint16_t event;
    memcpy(&event, zframe_data(head), sizeof event);
    char *where = zmsg_size(msg) > 1 ? zframe_strdup(zmsg_next(msg)) : NULL;
    char why[TF_AUTH_REFUSAL_MAX];
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
        snprintf(why, sizeof why, "unknown CURVE key refused on %s (bound as %s): the peer's key is not "
                 "trusted here (tapeflow keys trust NAME KEY --role ...)", where ? where : "?", w->endpoint);
    else if (event & S_REFUSAL_EVENTS)
        snprintf(why, sizeof why, "CURVE handshake failed on %s (bound as %s): a peer without CURVE keys, or "
                 "one that expects another server key (keys/server)", where ? where : "?", w->endpoint);
    else
        why[0] = '\0';
    if (why[0]) {
        __atomic_add_fetch(&self->auth->refused, 1, __ATOMIC_RELAXED);
        int64_t now = zclock_mono();
        if (now - self->window_start >= 60000) {
            if (self->untold > 0) {
                size_t used = strlen(why);
                snprintf(why + used, sizeof why - used, " (and %" PRIu64 " more refused in the minute before, "
                         "counted but not told one by one)", self->untold);
            }
            self->window_start = now;
            self->reported = 0;
            self->untold = 0;
        }
        if (self->reported < S_TOLD_PER_MINUTE) {
            self->reported++;
            /* Never block the watcher: past the queue's limit a refusal is counted, not told. */
            zmq_send(zsock_resolve(self->push), why, strlen(why), ZMQ_DONTWAIT);
        }
        else
            self->untold++;
    }
    free(where);
    zmsg_destroy(&msg);
}

static void
s_watch(zsock_t *pipe, void *arg)
{
    s_watch_t self = {.auth = arg, .window_start = INT64_MIN / 2};
    self.watched = zlistx_new();
    self.poller = zpoller_new(pipe, NULL);
    self.push = zsock_new(ZMQ_PUSH);
    if (!self.watched || !self.poller || !self.push
        || zsock_connect(self.push, "%s", self.auth->refusals_endpoint) != 0) {
        zsock_destroy(&self.push);
        zpoller_destroy(&self.poller);
        zlistx_destroy(&self.watched);
        zsock_signal(pipe, 1);
        return;
    }
    zlistx_set_destructor(self.watched, s_watched_free);
    zsock_set_linger(self.push, 0);
    zsock_signal(pipe, 0);
    for (;;) {
        void *ready = zpoller_wait(self.poller, -1);
        if (ready == pipe) {
            char *cmd = NULL, *monitor = NULL, *bound = NULL;
            if (zstr_recvx(pipe, &cmd, &monitor, &bound, NULL) < 1 || streq(cmd, "$TERM")) {
                zstr_free(&cmd);
                zstr_free(&monitor);
                zstr_free(&bound);
                break;
            }
            zsock_signal(pipe, streq(cmd, "WATCH") && monitor ? (byte) (s_watch_add(&self, monitor, bound) != 0) : 1);
            zstr_free(&cmd);
            zstr_free(&monitor);
            zstr_free(&bound);
        }
        else if (ready) {
            for (s_watched_t *w = zlistx_first(self.watched); w; w = zlistx_next(self.watched))
                if (ready == w->pair) {
                    s_watch_event(&self, w);
                    break;
                }
        }
        else if (zpoller_terminated(self.poller))
            break;
    }
    zsock_destroy(&self.push);
    zpoller_destroy(&self.poller);
    zlistx_destroy(&self.watched);
}

tf_auth_t *
tf_auth_new(const tf_config_t *cfg, tf_err_t *err)
{
    tf_auth_t *self = calloc(1, sizeof *self);
    if (!self) {
        tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    self->cfg = cfg;
    bool named = s_unique_inproc("tf-auth-refusals", self->refusals_endpoint, sizeof self->refusals_endpoint);
    self->refusals = named ? zsock_new(ZMQ_PULL) : NULL;
    if (!self->refusals || zsock_bind(self->refusals, "%s", self->refusals_endpoint) != 0) {
        tf_err_set(err, TF_ERR_IO, "cannot create the refusal queue");
        tf_auth_destroy(&self);
        return NULL;
    }
    return self;
}

void
tf_auth_destroy(tf_auth_t **self_p)
{
    if (self_p && *self_p) {
        tf_auth_t *self = *self_p;
        zactor_destroy(&self->watch);
        zactor_destroy(&self->zauth);
        zsock_destroy(&self->refusals);
        free(self);
        *self_p = NULL;
    }
}

/* zauth and the watcher, once per process, at the first tcp bind. */
static int
s_auth_start(tf_auth_t *self, tf_err_t *err)
{
    if (self->zauth)
        return TF_OK;
    char trusted[1200];
    tf_keys_path(self->cfg, "trusted", trusted, sizeof trusted);
    if (s_check_folder(trusted, 002, "other users", err) != TF_OK)
        return err->code;
    self->watch = zactor_new(s_watch, self);
    self->zauth = self->watch ? zactor_new(zauth, NULL) : NULL;
    if (!self->zauth || zstr_sendx(self->zauth, "CURVE", trusted, NULL) != 0 || zsock_wait(self->zauth) != 0) {
        zactor_destroy(&self->zauth);
        zactor_destroy(&self->watch);
        return tf_err_set(err, TF_ERR_IO, "cannot start the CURVE authenticator (zauth) on %s", trusted);
    }
    return TF_OK;
}

int
tf_secure_bind(tf_auth_t *auth, zsock_t *sock, const char *endpoint, tf_err_t *err)
{
    if (s_check_scheme(endpoint, "listen on", err) != TF_OK)
        return err->code;
    if (tf_secure_is_tcp(endpoint)) {
        if (!auth || !auth->cfg)
            return tf_err_set(err, TF_ERR_INVALID, "cannot listen on %s: tcp needs the process's authenticator",
                              endpoint);
        zcert_t *cert = s_host_cert(auth->cfg, err);
        if (!cert)
            return err->code;
        if (s_auth_start(auth, err) != TF_OK) {
            zcert_destroy(&cert);
            return err->code;
        }
        zcert_apply(cert, sock);
        zcert_destroy(&cert);
        zsock_set_curve_server(sock, 1);
        zsock_set_zap_domain(sock, S_ZAP_DOMAIN);
        char monitor[96];
        if (!s_unique_inproc("tf-auth-monitor", monitor, sizeof monitor)
            || zmq_socket_monitor(zsock_resolve(sock), monitor, S_REFUSAL_EVENTS) != 0
            || zstr_sendx(auth->watch, "WATCH", monitor, endpoint, NULL) != 0 || zsock_wait(auth->watch) != 0)
            return tf_err_set(err, TF_ERR_IO, "cannot watch %s for refused connections", endpoint);
    }
    int port = zsock_bind(sock, "%s", endpoint);
    if (port < 0)
        return tf_err_set(err, TF_ERR_IO, "cannot listen on %s: %s", endpoint, zmq_strerror(zmq_errno()));
    return port;
}

uint64_t
tf_auth_refused(tf_auth_t *auth)
{
    return auth ? __atomic_load_n(&auth->refused, __ATOMIC_RELAXED) : 0;
}

void *
tf_auth_pollable(tf_auth_t *auth)
{
    return auth ? auth->refusals : NULL;
}

bool
tf_auth_next_refusal(tf_auth_t *auth, char *why, size_t size)
{
    if (size)
        why[0] = '\0';
    if (!auth || !(zsock_events(auth->refusals) & ZMQ_POLLIN))
        return false;
    int n = zmq_recv(zsock_resolve(auth->refusals), why, size > 0 ? size - 1 : 0, ZMQ_DONTWAIT);
    if (n < 0)
        return false;
    why[(size_t) n < size ? (size_t) n : size - 1] = '\0';
    return true;
}

const char *
tf_secure_peer_public_key(zframe_t *frame)
{
    const char *user = frame ? zframe_meta(frame, "User-Id") : NULL;
    return user && *user ? user : NULL;
}

const char *
tf_secure_peer_key(zframe_t *frame)
{
    const char *user = tf_secure_peer_public_key(frame);
    if (!user)
        return NULL;
    /* zauth copies the trusted certificate's metadata into the connection's properties. */
    const char *name = zframe_meta(frame, "name");
    return name && *name ? name : user;
}
