/*  tf_keys - the key folder: this host's certificate and the trusted peers. */
#include "tf_keys.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tf_fs.h"
#include "tf_log.h"

static const struct {
    const char *word;
    uint32_t bits;
} s_roles[] = {
    {"scan", TF_ROLE_SCAN},
    {"compress", TF_ROLE_COMPRESS},
    {"extract", TF_ROLE_EXTRACT},
    {"stager", TF_ROLE_STAGER},
    {"tape", TF_ROLE_TAPE},
    {"labeller", TF_ROLE_LABELLER},
    {"catalog", TF_ROLE_CATALOG},
    {"echo", TF_ROLE_ECHO},
    {"backup", TF_ROLE_BACKUP},
    {"restore", TF_ROLE_RESTORE},
    {"query", TF_ROLE_QUERY},
    {"admin", TF_ROLE_ADMIN},
    {"replicate", TF_ROLE_REPLICATE},
    /* shorthands: only read, never written back */
    {"agent", TF_ROLE_AGENT},
    {"server", TF_ROLE_SERVICES},
};
#define S_ROLE_WORDS 13  /* the rows above the shorthands: one bit each */

int
tf_keys_parse_roles(const char *text, uint32_t *roles, tf_err_t *err)
{
    *roles = 0;
    const char *p = text ? text : "";
    while (*p) {
        size_t len = strcspn(p, ", \t");
        if (len > 0) {
            bool found = false;
            for (size_t i = 0; i < sizeof s_roles / sizeof s_roles[0]; i++)
                if (strlen(s_roles[i].word) == len && strncmp(p, s_roles[i].word, len) == 0) {
                    *roles |= s_roles[i].bits;
                    found = true;
                }
            if (!found)
                return tf_err_set(err, TF_ERR_INVALID,
                                  "unknown role '%.*s' (roles: scan, compress, extract, stager, tape, "
                                  "labeller, catalog, echo, backup, restore, query, admin, replicate, agent = "
                                  "scan+compress+extract, server = every service)",
                                  (int) (len > 64 ? 64 : len), p);
        }
        p += len;
        p += strspn(p, ", \t");
    }
    if (*roles == 0)
        return tf_err_set(err, TF_ERR_INVALID, "no role given (e.g. --role agent, --role query)");
    return TF_OK;
}

const char *
tf_keys_roles_text(uint32_t roles, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < S_ROLE_WORDS; i++)
        if (roles & s_roles[i].bits) {
            int w = snprintf(buf + used, size - used, "%s%s", used ? "," : "", s_roles[i].word);
            if (w < 0 || (size_t) w >= size - used)
                break;
            used += (size_t) w;
        }
    if (!buf[0])
        snprintf(buf, size, "none");
    return buf;
}

uint32_t
tf_keys_service_role(const char *service)
{
    for (size_t i = 0; service && i < S_ROLE_WORDS; i++)
        if ((s_roles[i].bits & TF_ROLE_SERVICES) && strcmp(service, s_roles[i].word) == 0)
            return s_roles[i].bits;
    return 0;
}

int
tf_keys_check_name(const char *name, tf_err_t *err)
{
    size_t len = name ? strlen(name) : 0;
    bool ok = len > 0 && len < TF_KEYS_NAME_MAX && isalnum((unsigned char) name[0]);
    for (size_t i = 0; ok && i < len; i++)
        ok = isalnum((unsigned char) name[i]) || strchr("._-", name[i]);
    if (!ok)
        return tf_err_set(err, TF_ERR_INVALID,
                          "bad key name '%s': use letters, digits, '.', '_' and '-' (up to %d, "
                          "starting with a letter or digit), e.g. the peer's host name",
                          name ? name : "", TF_KEYS_NAME_MAX - 1);
    return TF_OK;
}

int
tf_keys_check_public(const char *public_key, tf_err_t *err)
{
    uint8_t bin[32];
    if (!public_key || strlen(public_key) != 40 || !zmq_z85_decode(bin, public_key))
        return tf_err_set(err, TF_ERR_INVALID,
                          "'%s' is not a CURVE public key (40 Z85 characters, as `tapeflow keys show` "
                          "prints it on the peer)", public_key ? public_key : "");
    return TF_OK;
}

int
tf_keys_add_root(tf_key_t *key, const char *root, tf_err_t *err)
{
    const char *colon = strchr(root, ':');
    const char *slash = strchr(root, '/');
    if (!colon || !slash || colon > slash || colon == root || colon[1] != '/' || strchr(root, ',')
        || strstr(root, "/../") || strcmp(root + strlen(root) - (strlen(root) >= 3 ? 3 : 0), "/..") == 0)
        return tf_err_set(err, TF_ERR_INVALID,
                          "bad restore root '%s': give HOST:/folder (an absolute folder on a named "
                          "host, no ',' and no '..')", root);
    if (key->nroots >= TF_KEYS_ROOTS_MAX)
        return tf_err_set(err, TF_ERR_TOOBIG, "at most %d restore roots per key", TF_KEYS_ROOTS_MAX);
    if (strlen(root) >= TF_KEYS_ROOT_MAX)
        return tf_err_set(err, TF_ERR_TOOBIG, "restore root '%.40s...' is longer than %d characters",
                          root, TF_KEYS_ROOT_MAX - 1);
    snprintf(key->roots[key->nroots++], TF_KEYS_ROOT_MAX, "%s", root);
    return TF_OK;
}

const char *
tf_keys_path(const tf_config_t *cfg, const char *leaf, char *buf, size_t size)
{
    /* tf_config_get only caches the expanded value; the configuration does not change. */
    const char *dir = tf_config_get((tf_config_t *) cfg, "keys/dir");
    snprintf(buf, size, "%s%s%s", dir ? dir : "", leaf[0] ? "/" : "", leaf);
    return buf;
}

/* Reads a trusted certificate file into key. */
static int
s_load_key(const char *path, const char *file_name, tf_key_t *key, tf_err_t *err)
{
    memset(key, 0, sizeof *key);
    zcert_t *cert = zcert_load(path);
    if (!cert)
        return tf_err_set(err, TF_ERR_INVALID, "%s is not a certificate", path);
    const char *name = zcert_meta(cert, "name");
    if (name && *name)
        snprintf(key->name, sizeof key->name, "%s", name);
    else
        snprintf(key->name, sizeof key->name, "%.*s", (int) strcspn(file_name, "."), file_name);
    const char *host = zcert_meta(cert, "host");
    snprintf(key->host, sizeof key->host, "%s", host && *host ? host : key->name);
    snprintf(key->public_key, sizeof key->public_key, "%s", zcert_public_txt(cert));
    tf_err_t rerr = {0};
    const char *roles = zcert_meta(cert, "roles");
    if (roles && tf_keys_parse_roles(roles, &key->roles, &rerr) != TF_OK) {
        /* A hand-edited file: trust it with no rights rather than guess. */
        tf_log_warn("trusted key %s: %s; it gets no roles until `tapeflow keys trust` fixes it", path,
                    rerr.message);
        key->roles = 0;
    }
    const char *roots = zcert_meta(cert, "restore_roots");
    while (roots && *roots) {
        size_t len = strcspn(roots, ",");
        char root[TF_KEYS_ROOT_MAX];
        snprintf(root, sizeof root, "%.*s", (int) (len < sizeof root ? len : sizeof root - 1), roots);
        if (len > 0 && tf_keys_add_root(key, root, &rerr) != TF_OK)
            tf_log_warn("trusted key %s: %s", path, rerr.message);
        roots += len;
        roots += *roots == ',';
    }
    zcert_destroy(&cert);
    return TF_OK;
}

static bool
s_is_cert_file(const char *name)
{
    size_t len = strlen(name);
    return name[0] != '.' && len > 5 && strcmp(name + len - 5, ".cert") == 0;
}

static int
s_compare_keys(const void *a, const void *b)
{
    return strcmp(((const tf_key_t *) a)->name, ((const tf_key_t *) b)->name);
}

static void
s_key_free(void **item)
{
    free(*item);
    *item = NULL;
}

zlistx_t *
tf_keys_list(const tf_config_t *cfg, tf_err_t *err)
{
    char dir[1024];
    tf_keys_path(cfg, "trusted", dir, sizeof dir);
    zlistx_t *list = zlistx_new();
    if (!list) {
        tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    zlistx_set_destructor(list, s_key_free);
    zlistx_set_comparator(list, (zlistx_comparator_fn *) s_compare_keys);
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT)
            return list;  /* nothing trusted yet */
        tf_err_errno(err, TF_ERR_IO, errno, "cannot read %s", dir);
        zlistx_destroy(&list);
        return NULL;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!s_is_cert_file(e->d_name))
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        tf_key_t *key = malloc(sizeof *key);
        tf_err_t lerr = {0};
        if (!key || s_load_key(path, e->d_name, key, &lerr) != TF_OK) {
            if (key)
                tf_log_warn("ignoring %s", lerr.message);
            free(key);
            continue;
        }
        zlistx_add_end(list, key);
    }
    closedir(d);
    zlistx_sort(list);
    return list;
}

/* Writes cert's public part to keys/dir/trusted/NAME.cert through a temporary file outside
   trusted/, so the ZAP handler never reads half a file. */
static int
s_save_trusted(const tf_config_t *cfg, zcert_t *cert, const char *name, tf_err_t *err)
{
    char dir[1024], tmp[1200], path[1200], leaf[TF_KEYS_NAME_MAX + 16];
    tf_keys_path(cfg, "trusted", dir, sizeof dir);
    if (tf_fs_mkdir_p(dir, err) != TF_OK)
        return err->code;
    snprintf(leaf, sizeof leaf, "trust-%s.tmp", name);
    tf_keys_path(cfg, leaf, tmp, sizeof tmp);
    snprintf(leaf, sizeof leaf, "trusted/%s.cert", name);
    tf_keys_path(cfg, leaf, path, sizeof path);
    if (zcert_save_public(cert, tmp) != 0)
        return tf_err_errno(err, TF_ERR_IO, errno, "cannot write %s", tmp);
    if (chmod(tmp, 0644) != 0 || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return tf_err_errno(err, TF_ERR_IO, e, "cannot write %s", path);
    }
    return TF_OK;
}

int
tf_keys_trust(const tf_config_t *cfg, const tf_key_t *key, tf_err_t *err)
{
    if (tf_keys_check_name(key->name, err) != TF_OK || tf_keys_check_public(key->public_key, err) != TF_OK)
        return err->code;
    zlistx_t *known = tf_keys_list(cfg, err);
    if (!known)
        return err->code;
    for (tf_key_t *k = zlistx_first(known); k; k = zlistx_next(known))
        if (strcmp(k->public_key, key->public_key) == 0 && strcmp(k->name, key->name) != 0) {
            int rc = tf_err_set(err, TF_ERR_INVALID,
                                "this key is already trusted as '%s': change its roles with "
                                "tapeflow keys trust %s KEY --role ..., or untrust it first",
                                k->name, k->name);
            zlistx_destroy(&known);
            return rc;
        }
    zlistx_destroy(&known);
    uint8_t public_bin[32], secret_bin[32] = {0};  /* a peer's secret is never known here */
    zmq_z85_decode(public_bin, key->public_key);
    zcert_t *cert = zcert_new_from(public_bin, secret_bin);
    if (!cert)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    char roles[256], roots[TF_KEYS_ROOTS_MAX * TF_KEYS_ROOT_MAX] = "";
    size_t used = 0;
    for (size_t i = 0; i < key->nroots; i++) {
        int w = snprintf(roots + used, sizeof roots - used, "%s%s", i ? "," : "", key->roots[i]);
        used += w > 0 ? (size_t) w : 0;
    }
    zcert_set_meta(cert, "name", "%s", key->name);
    zcert_set_meta(cert, "host", "%s", key->host[0] ? key->host : key->name);
    zcert_set_meta(cert, "roles", "%s", tf_keys_roles_text(key->roles, roles, sizeof roles));
    if (key->nroots > 0)
        zcert_set_meta(cert, "restore_roots", "%s", roots);
    int rc = s_save_trusted(cfg, cert, key->name, err);
    zcert_destroy(&cert);
    return rc;
}

int
tf_keys_untrust(const tf_config_t *cfg, const char *name, tf_err_t *err)
{
    if (tf_keys_check_name(name, err) != TF_OK)
        return err->code;
    char leaf[TF_KEYS_NAME_MAX + 16], path[1200];
    snprintf(leaf, sizeof leaf, "trusted/%s.cert", name);
    tf_keys_path(cfg, leaf, path, sizeof path);
    if (unlink(path) != 0) {
        if (errno == ENOENT)
            return tf_err_set(err, TF_ERR_NOTFOUND, "no trusted key named '%s' (tapeflow keys list shows them)",
                              name);
        return tf_err_errno(err, TF_ERR_IO, errno, "cannot remove %s", path);
    }
    return TF_OK;
}

int
tf_keys_init(const tf_config_t *cfg, bool *created, char public_key[41], tf_err_t *err)
{
    char dir[1024], path[1200], secret[1200], tmp[1200], tmp_secret[1200];
    *created = false;
    public_key[0] = '\0';
    tf_keys_path(cfg, "", dir, sizeof dir);
    tf_keys_path(cfg, "host.cert", path, sizeof path);
    tf_keys_path(cfg, "host.cert_secret", secret, sizeof secret);
    if (tf_fs_mkdir_p(dir, err) != TF_OK)
        return err->code;
    /* The secret key lives here: only the service user may look in. */
    if (chmod(dir, 0700) != 0)
        return tf_err_errno(err, TF_ERR_IO, errno, "cannot make %s private", dir);
    const char *host = tf_config_get((tf_config_t *) cfg, "tapeflow/host");
    zcert_t *cert = access(secret, F_OK) == 0 ? zcert_load(path) : NULL;
    if (cert)
        snprintf(public_key, 41, "%s", zcert_public_txt(cert));
    else {
        cert = zcert_new();
        if (!cert)
            return tf_err_set(err, TF_ERR_NOMEM, "cannot make a certificate");
        zcert_set_meta(cert, "name", "%s", host ? host : "");
        snprintf(tmp, sizeof tmp, "%s/host.cert.new", dir);
        snprintf(tmp_secret, sizeof tmp_secret, "%s/host.cert.new_secret", dir);
        bool ok = zcert_save(cert, tmp) == 0 && chmod(tmp_secret, 0600) == 0 && chmod(tmp, 0644) == 0
                  && rename(tmp_secret, secret) == 0 && rename(tmp, path) == 0;
        if (!ok) {
            int e = errno;
            unlink(tmp);
            unlink(tmp_secret);
            zcert_destroy(&cert);
            return tf_err_errno(err, TF_ERR_IO, e, "cannot write the host certificate in %s", dir);
        }
        snprintf(public_key, 41, "%s", zcert_public_txt(cert));
        *created = true;
    }
    zcert_destroy(&cert);
    if (!public_key[0])
        return tf_err_set(err, TF_ERR_INVALID, "%s is not a certificate: move it away and run tapeflow keys "
                          "init again", path);
    /* Trusting itself lets this host's own processes talk over tcp. */
    tf_key_t self = {.roles = TF_ROLE_ADMIN};
    snprintf(self.name, sizeof self.name, "%s", host ? host : "localhost");
    snprintf(self.public_key, sizeof self.public_key, "%s", public_key);
    zlistx_t *known = tf_keys_list(cfg, err);
    if (!known)
        return err->code;
    bool trusted = false;
    for (tf_key_t *k = zlistx_first(known); k; k = zlistx_next(known))
        trusted |= strcmp(k->public_key, public_key) == 0;
    zlistx_destroy(&known);
    return trusted ? TF_OK : tf_keys_trust(cfg, &self, err);
}

/* ------------------------------------------------------------------ store ------------ */

struct _tf_keys_t {
    char dir[1024];
    struct timespec mtime;   /* of trusted/ when last read */
    bool loaded;
    zhashx_t *by_public;     /* public key -> tf_key_t */
    const tf_config_t *cfg;
};

tf_keys_t *
tf_keys_new(const tf_config_t *cfg, tf_err_t *err)
{
    tf_keys_t *self = calloc(1, sizeof *self);
    if (!self || !(self->by_public = zhashx_new())) {
        free(self);
        tf_err_set(err, TF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    zhashx_set_destructor(self->by_public, s_key_free);
    tf_keys_path(cfg, "trusted", self->dir, sizeof self->dir);
    self->cfg = cfg;
    return self;
}

void
tf_keys_destroy(tf_keys_t **self_p)
{
    if (self_p && *self_p) {
        zhashx_destroy(&(*self_p)->by_public);
        free(*self_p);
        *self_p = NULL;
    }
}

/* Reads trusted/ again when it changed (a file added, replaced or removed changes the
   folder's mtime: every write goes through rename). */
static void
s_refresh(tf_keys_t *self)
{
    struct stat st;
    struct timespec mtime = {0};
    if (stat(self->dir, &st) == 0)
        mtime = st.st_mtim;
    if (self->loaded && mtime.tv_sec == self->mtime.tv_sec && mtime.tv_nsec == self->mtime.tv_nsec)
        return;
    tf_err_t err = {0};
    zlistx_t *list = tf_keys_list(self->cfg, &err);
    if (!list) {
        tf_log_warn("cannot read the trusted keys: %s (keeping the ones read before)", err.message);
        return;
    }
    zhashx_purge(self->by_public);
    for (tf_key_t *k = zlistx_first(list); k; k = zlistx_next(list)) {
        tf_key_t *copy = malloc(sizeof *copy);
        if (copy) {
            *copy = *k;
            zhashx_update(self->by_public, copy->public_key, copy);
        }
    }
    zlistx_destroy(&list);
    self->mtime = mtime;
    self->loaded = true;
}

const tf_key_t *
tf_keys_lookup(tf_keys_t *self, const char *public_key)
{
    if (!self || !public_key)
        return NULL;
    s_refresh(self);
    return zhashx_lookup(self->by_public, public_key);
}
