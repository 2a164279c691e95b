/*  tf_target_smb - smb://[USER@]HOST[:PORT]/SHARE/PATH targets through libsmbclient's context
    API: no kernel mount, so "the share is not mounted" cannot happen; an unreachable server,
    refused credentials and a missing share each fail at open with their own message and fix.

    One SMBCCTX per target (never the library's global context, never smbc_init); its debug
    output goes to stderr at level 0, so nothing of it reaches a command's stdout (JSON). The
    password lives only in this state and in the auth callback's buffers; no message holds it. */
#define _GNU_SOURCE
#include "tf_target.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libsmbclient.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#define S_FIELD_MAX 256

typedef struct {
    char *name;
    char *url;            /* as configured (no password: one is refused) */
    char host[S_FIELD_MAX];
    int port;             /* 0: the default (445) */
    char share[S_FIELD_MAX];
    char *base;           /* "smb://HOST[:PORT]/SHARE[/PATH]", PATH percent-encoded */
    char *path;           /* the root below the share ("" for the share itself) */
    char user[S_FIELD_MAX];
    char domain[S_FIELD_MAX];
    char password[S_FIELD_MAX];
    char *credentials;    /* the file, for messages */
    SMBCCTX *ctx;
} s_state_t;

/* An open file and its path below the root, for messages. */
typedef struct {
    SMBCFILE *file;
    char path[];
} s_fh_t;

#define S_OOM(self, err) tf_err_set(err, TF_ERR_NOMEM, "replica target %s: out of memory", (self)->name)

static void
s_destroy(void **state_p)
{
    if (state_p && *state_p) {
        s_state_t *self = *state_p;
        if (self->ctx)
            smbc_free_context(self->ctx, 1);
        explicit_bzero(self->password, sizeof self->password);
        free(self->name);
        free(self->url);
        free(self->base);
        free(self->path);
        free(self->credentials);
        free(self);
        *state_p = NULL;
    }
}

/* libsmbclient asks for credentials per server and share. */
static void
s_auth(SMBCCTX *c, const char *srv, const char *shr, char *wg, int wglen, char *un, int unlen, char *pw, int pwlen)
{
    (void) srv;
    (void) shr;
    s_state_t *self = smbc_getOptionUserData(c);
    if (!self)
        return;
    if (self->domain[0])
        snprintf(wg, (size_t) wglen, "%s", self->domain);
    snprintf(un, (size_t) unlen, "%s", self->user);
    snprintf(pw, (size_t) pwlen, "%s", self->password);
}

static bool
s_errno_unreachable(int e)
{
    return e == ECONNREFUSED || e == EHOSTUNREACH || e == ENETUNREACH || e == ETIMEDOUT || e == ECONNRESET ||
           e == ECONNABORTED || e == EPIPE || e == EHOSTDOWN;
}

/* doing: what was being done ("writing .partial/J/A.data: "), "" at open. */
static int
s_unreachable(s_state_t *self, int e, const char *doing, tf_err_t *err)
{
    return tf_err_set(err, TF_ERR_IO,
                      "replica target %s: %sSMB server %s:%d not reachable (%s): check that it runs and the port is "
                      "open",
                      self->name, doing, self->host, self->port ? self->port : 445, strerror(e));
}

/* The message of a failed call on a path below the root. */
static int
s_fail(s_state_t *self, int e, const char *verb, const char *path, tf_err_t *err)
{
    if (e == ENOSPC || e == EDQUOT)
        return tf_target_no_space(self->name, self->url, e, err);
    if (s_errno_unreachable(e)) {
        char doing[TF_ERR_MESSAGE_MAX / 2];
        snprintf(doing, sizeof doing, "%s %s: ", verb, *path ? path : "the root");
        return s_unreachable(self, e, doing, err);
    }
    int code = e == ENOENT ? TF_ERR_NOTFOUND : e == EEXIST ? TF_ERR_STATE : TF_ERR_IO;
    return tf_err_errno(err, code, e, "replica target %s: %s %s on //%s/%s failed", self->name, verb,
                        *path ? path : "the root", self->host, self->share);
}

/* Appends s to the URL being built, percent-encoding what libsmbclient would decode or split. */
static bool
s_append_encoded(char **url, const char *s)
{
    size_t len = strlen(*url), cap = len + strlen(s) * 3 + 1;
    char *bigger = realloc(*url, cap);
    if (!bigger)
        return false;
    char *out = bigger + len;
    for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
        if (isalnum(*p) || strchr("/._-~", *p))
            *out++ = (char) *p;
        else
            out += sprintf(out, "%%%02X", *p);
    }
    *out = '\0';
    *url = bigger;
    return true;
}

/* "smb://HOST[:PORT]/SHARE" (heap), NULL when out of memory. */
static char *
s_share_url(s_state_t *self)
{
    char *url = NULL;
    char port[16] = "";
    if (self->port)
        snprintf(port, sizeof port, ":%d", self->port);
    if (asprintf(&url, "smb://%s%s/", self->host, port) < 0)
        return NULL;
    if (!s_append_encoded(&url, self->share)) {
        free(url);
        return NULL;
    }
    return url;
}

/* The URL of rel below the root (heap), NULL when out of memory. */
static char *
s_url(s_state_t *self, const char *rel)
{
    char *url = strdup(self->base);
    if (url && *rel && !(s_append_encoded(&url, "/") && s_append_encoded(&url, rel))) {
        free(url);
        url = NULL;
    }
    return url;
}

/* smb://[USER@]HOST[:PORT]/SHARE[/PATH] into the state (tf_target_open refused a password
   already: tf_target_url_check). */
static int
s_parse_url(s_state_t *self, const char *configured, tf_err_t *err)
{
    /* Messages quote the URL without its userinfo beyond the user name. */
    char url[TF_ERR_MESSAGE_MAX / 2];
    tf_target_url_safe(configured, url, sizeof url);
    const char *p = configured + strlen("smb://");
    const char *slash = strchr(p, '/');
    const char *at = memchr(p, '@', slash ? (size_t) (slash - p) : strlen(p));
    if (at) {
        if ((size_t) (at - p) >= sizeof self->user)
            return tf_err_set(err, TF_ERR_INVALID, "replica target %s: the user in replicas/%s/url is too long",
                              self->name, self->name);
        memcpy(self->user, p, (size_t) (at - p));
        self->user[at - p] = '\0';
        p = at + 1;
    }
    size_t host_len = slash ? (size_t) (slash - p) : strlen(p);
    const char *colon = memchr(p, ':', host_len);
    size_t name_len = colon ? (size_t) (colon - p) : host_len;
    if (name_len == 0 || name_len >= sizeof self->host || !slash)
        return tf_err_set(err, TF_ERR_INVALID,
                          "replica target %s: URL '%s' is not smb://[USER@]HOST[:PORT]/SHARE/PATH: fix replicas/%s/url",
                          self->name, url, self->name);
    memcpy(self->host, p, name_len);
    self->host[name_len] = '\0';
    if (colon) {
        char *end = NULL;
        long port = strtol(colon + 1, &end, 10);
        if (end != slash || port < 1 || port > 65535)
            return tf_err_set(err, TF_ERR_INVALID, "replica target %s: URL '%s' has a bad port: fix replicas/%s/url",
                              self->name, url, self->name);
        self->port = (int) port;
    }
    const char *share = slash + 1;
    size_t share_len = strcspn(share, "/");
    if (share_len == 0 || share_len >= sizeof self->share)
        return tf_err_set(err, TF_ERR_INVALID,
                          "replica target %s: URL '%s' names no share (smb://HOST/SHARE/PATH): fix replicas/%s/url",
                          self->name, url, self->name);
    memcpy(self->share, share, share_len);
    self->share[share_len] = '\0';
    const char *path = share + share_len;
    while (*path == '/')
        path++;
    if (!(self->path = strdup(path)))
        return S_OOM(self, err);
    for (size_t len = strlen(self->path); len > 0 && self->path[len - 1] == '/'; len--)
        self->path[len - 1] = '\0';
    if (tf_target_path_has_dotdot(self->path))
        return tf_err_set(err, TF_ERR_INVALID, "replica target %s: URL '%s' has a '..' component: fix replicas/%s/url",
                          self->name, url, self->name);
    if (!(self->base = s_share_url(self)) ||
        (*self->path && !(s_append_encoded(&self->base, "/") && s_append_encoded(&self->base, self->path))))
        return S_OOM(self, err);
    return TF_OK;
}

/* The credentials file in smbclient -A format: "username = U", "password = P", "domain = D"
   (blank lines and # comments skipped). Readable by its owner only. */
static int
s_read_credentials(s_state_t *self, const char *file, tf_err_t *err)
{
    if (!(self->credentials = strdup(file)))
        return S_OOM(self, err);
    FILE *f = fopen(file, "r");
    if (!f)
        return tf_err_errno(err, errno == ENOENT ? TF_ERR_NOTFOUND : TF_ERR_IO, errno,
                            "replica target %s: cannot read the credentials file %s (replicas/%s/credentials)",
                            self->name, file, self->name);
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        int e = errno;
        fclose(f);
        return tf_err_errno(err, TF_ERR_IO, e, "replica target %s: cannot stat the credentials file %s", self->name,
                            file);
    }
    if (st.st_mode & 077) {
        fclose(f);
        return tf_err_set(err, TF_ERR_STATE,
                          "replica target %s: the credentials file %s can be read by group or others (mode %04o): "
                          "chmod 600 %s",
                          self->name, file, (unsigned) (st.st_mode & 07777), file);
    }
    char line[1024];
    char user[S_FIELD_MAX] = "";
    int rc = TF_OK;
    unsigned lineno = 0;
    while (rc == TF_OK && fgets(line, sizeof line, f)) {
        lineno++;
        char *key = line;
        while (isspace((unsigned char) *key))
            key++;
        if (!*key || *key == '#' || *key == ';')
            continue;
        char *eq = strchr(key, '=');
        if (!eq) {
            rc = tf_err_set(err, TF_ERR_INVALID,
                            "replica target %s: line %u of the credentials file %s is not 'key = value' "
                            "(username =, password =, domain =)",
                            self->name, lineno, file);
            break;
        }
        char *end = eq;
        while (end > key && isspace((unsigned char) end[-1]))
            end--;
        *end = '\0';
        char *value = eq + 1;
        while (isspace((unsigned char) *value))
            value++;
        size_t len = strlen(value);
        while (len > 0 && (value[len - 1] == '\n' || value[len - 1] == '\r'))
            value[--len] = '\0';
        char *dest = NULL;
        if (strcmp(key, "username") == 0)
            dest = user;
        else if (strcmp(key, "password") == 0)
            dest = self->password;
        else if (strcmp(key, "domain") == 0)
            dest = self->domain;
        else {
            rc = tf_err_set(err, TF_ERR_INVALID,
                            "replica target %s: line %u of the credentials file %s has the unknown key '%s' "
                            "(username, password, domain)",
                            self->name, lineno, file, key);
            break;
        }
        if (len >= S_FIELD_MAX)
            rc = tf_err_set(err, TF_ERR_INVALID, "replica target %s: line %u of the credentials file %s is too long",
                            self->name, lineno, file);
        else
            memcpy(dest, value, len + 1);
    }
    explicit_bzero(line, sizeof line);
    fclose(f);
    /* smbclient -A allows "username = DOMAIN/user" or "DOMAIN\user" */
    char *sep = strpbrk(user, "/\\");
    if (rc == TF_OK && sep && !self->domain[0]) {
        *sep = '\0';
        snprintf(self->domain, sizeof self->domain, "%s", user);
        memmove(user, sep + 1, strlen(sep + 1) + 1);
    }
    if (rc == TF_OK && !self->user[0])   /* a USER@ in the URL wins */
        snprintf(self->user, sizeof self->user, "%s", user);
    return rc;
}

/* errno of opendir of the share itself, 0 when it opens. */
static int
s_probe_share(s_state_t *self, int *share_errno)
{
    char *share_url = s_share_url(self);
    if (!share_url)
        return -1;
    SMBCFILE *dir = smbc_getFunctionOpendir(self->ctx)(self->ctx, share_url);
    *share_errno = dir ? 0 : errno;
    if (dir)
        (void) smbc_getFunctionClosedir(self->ctx)(self->ctx, dir);   /* only listed */
    free(share_url);
    return 0;
}

/* Why opendir of the root failed, said in the operator's words: the server, the credentials,
   the share or the folder. What libsmbclient 4.17 says against smbd (checked by
   tests/replication/test_target): refused connection ECONNREFUSED, no answer ECONNABORTED
   (after smbc_setTimeout), wrong password EACCES, a missing share ENOENT, a missing folder
   below the share ENOENT too - so the share itself is opened to tell those apart, and to tell
   refused credentials from a folder the user may not open. */
static int
s_open_failed(s_state_t *self, int e, bool *folder_missing, tf_err_t *err)
{
    if (s_errno_unreachable(e))
        return s_unreachable(self, e, "", err);
    int share_errno = e;
    if (*self->path && (e == EACCES || e == EPERM || e == ENOENT || e == ENODEV || e == ENXIO) &&
        s_probe_share(self, &share_errno) != 0)
        return S_OOM(self, err);
    if ((e == EACCES || e == EPERM) && share_errno == 0)
        return tf_err_set(err, TF_ERR_STATE,
                          "replica target %s: user %s may not open folder %s on //%s/%s: give %s access to it on "
                          "the server",
                          self->name, self->user[0] ? self->user : "(none)", self->path, self->host, self->share,
                          self->user[0] ? self->user : "the user");
    if ((e == EACCES || e == EPERM) && !self->credentials)
        return tf_err_set(err, TF_ERR_STATE,
                          "replica target %s: SMB server %s refused user %s without a password: put username, "
                          "password and domain in a file (smbclient -A format, chmod 600) and name it in "
                          "replicas/%s/credentials",
                          self->name, self->host, self->user[0] ? self->user : "(none)", self->name);
    if (e == EACCES || e == EPERM)
        return tf_err_set(err, TF_ERR_STATE,
                          "replica target %s: SMB server %s refused the credentials of user %s (from %s): check "
                          "username, password and domain in %s",
                          self->name, self->host, self->user[0] ? self->user : "(none)", self->credentials,
                          self->credentials);
    if (e == ENOENT || e == ENODEV || e == ENXIO) {
        if (share_errno == ENOENT || share_errno == ENODEV || share_errno == ENXIO)
            return tf_err_set(err, TF_ERR_NOTFOUND,
                              "replica target %s: share %s does not exist on %s: create it or fix replicas/%s/url",
                              self->name, self->share, self->host, self->name);
        if (share_errno != 0)
            return s_open_failed(self, share_errno, folder_missing, err);
        *folder_missing = true;
        return tf_err_set(err, TF_ERR_NOTFOUND,
                          "replica target %s: folder %s does not exist on //%s/%s: run tapeflow replica init %s",
                          self->name, self->path, self->host, self->share, self->name);
    }
    return tf_err_errno(err, TF_ERR_IO, e, "replica target %s: cannot open //%s/%s/%s", self->name, self->host,
                        self->share, self->path);
}

static int s_mkdir(void *state, const char *path, tf_err_t *err);

/* tapeflow replica init: the root's folders below the share, one level at a time. */
static int
s_create_root(s_state_t *self, tf_err_t *err)
{
    char *root = strdup(self->path), *saved = self->base, *cut = NULL;
    if (!root)
        return S_OOM(self, err);
    /* mkdir works below base; make base the share itself for this */
    int rc = TF_OK;
    if (!(self->base = s_share_url(self)))
        rc = S_OOM(self, err);
    for (char *p = root; rc == TF_OK && p && *p; p = cut ? cut + 1 : NULL) {
        cut = strchr(p, '/');
        if (cut)
            *cut = '\0';
        rc = s_mkdir(self, root, err);
        if (cut)
            *cut = '/';
    }
    free(self->base);
    self->base = saved;
    free(root);
    return rc;
}

static void *
s_open(const tf_target_opts_t *opts, tf_err_t *err)
{
    const char *name = opts->name && *opts->name ? opts->name : "?";
    s_state_t *self = calloc(1, sizeof *self);
    if (!self || !(self->name = strdup(name)) || !(self->url = strdup(opts->url))) {
        s_destroy((void **) &self);
        tf_err_set(err, TF_ERR_NOMEM, "replica target %s: out of memory", name);
        return NULL;
    }
    int rc = s_parse_url(self, opts->url, err);
    if (rc == TF_OK && opts->credentials && *opts->credentials)
        rc = s_read_credentials(self, opts->credentials, err);
    if (rc == TF_OK && !(self->ctx = smbc_new_context()))
        rc = tf_err_errno(err, TF_ERR_NOMEM, errno, "replica target %s: cannot make an SMB client context", name);
    if (rc == TF_OK) {
        smbc_setDebug(self->ctx, 0);
        smbc_setOptionDebugToStderr(self->ctx, 1);
        smbc_setOptionUserData(self->ctx, self);
        smbc_setFunctionAuthDataWithContext(self->ctx, s_auth);
        smbc_setTimeout(self->ctx, opts->timeout_ms > 0 ? opts->timeout_ms : 30000);
        /* wrong credentials must fail, not fall back to a guest session */
        smbc_setOptionNoAutoAnonymousLogin(self->ctx, 1);
        smbc_setOptionUseKerberos(self->ctx, 0);
        smbc_setOptionUseCCache(self->ctx, 0);
        if (self->port)
            smbc_setPort(self->ctx, (uint16_t) self->port);
        if (!smbc_init_context(self->ctx)) {
            rc = tf_err_errno(err, TF_ERR_IO, errno, "replica target %s: cannot start the SMB client", name);
            smbc_free_context(self->ctx, 0);
            self->ctx = NULL;
        }
    }
    if (rc == TF_OK) {
        SMBCFILE *dir = smbc_getFunctionOpendir(self->ctx)(self->ctx, self->base);
        int e = dir ? 0 : errno;
        if (dir)
            (void) smbc_getFunctionClosedir(self->ctx)(self->ctx, dir);   /* only listed */
        bool folder_missing = false;
        if (e != 0) {
            rc = s_open_failed(self, e, &folder_missing, err);
            if (folder_missing && opts->create_root)
                rc = s_create_root(self, err);
        }
    }
    if (rc != TF_OK) {
        s_destroy((void **) &self);
        return NULL;
    }
    return self;
}

static const char *
s_fs_type(void *state)
{
    (void) state;
    return "smb";
}

static int
s_stat_url(s_state_t *self, const char *url, struct stat *st)
{
    memset(st, 0, sizeof *st);
    int rc;
    do
        rc = smbc_getFunctionStat(self->ctx)(self->ctx, url, st);
    while (rc < 0 && errno == EINTR);
    return rc < 0 ? errno : 0;
}

static int
s_mkdir(void *state, const char *path, tf_err_t *err)
{
    s_state_t *self = state;
    char *url = s_url(self, path);
    if (!url)
        return S_OOM(self, err);
    int rc = TF_OK, r;
    do
        r = smbc_getFunctionMkdir(self->ctx)(self->ctx, url, 0700);   /* owner only: the backups of every host */
    while (r < 0 && errno == EINTR);
    if (r < 0) {
        int e = errno;
        struct stat st;
        if (e != EEXIST)
            rc = s_fail(self, e, "creating folder", path, err);
        else if (s_stat_url(self, url, &st) != 0 || !S_ISDIR(st.st_mode))
            rc = tf_err_set(err, TF_ERR_STATE, "replica target %s: %s exists on //%s/%s and is not a folder: remove it",
                            self->name, path, self->host, self->share);
    }
    free(url);
    return rc;
}

static int
s_open_file(void *state, const char *path, bool write, void **fh, tf_err_t *err)
{
    s_state_t *self = state;
    char *url = s_url(self, path);
    if (!url)
        return S_OOM(self, err);
    s_fh_t *h = malloc(sizeof *h + strlen(path) + 1);
    if (!h) {
        free(url);
        return S_OOM(self, err);
    }
    strcpy(h->path, path);
    int flags = write ? O_WRONLY | O_CREAT | O_TRUNC : O_RDONLY;
    do
        h->file = smbc_getFunctionOpen(self->ctx)(self->ctx, url, flags, 0600);
    while (!h->file && errno == EINTR);
    int rc = h->file ? TF_OK : s_fail(self, errno, write ? "creating" : "opening", path, err);
    free(url);
    if (rc == TF_OK)
        *fh = h;
    else
        free(h);
    return rc;
}

static int
s_write(void *state, void *fh, const void *buf, size_t len, size_t *done, tf_err_t *err)
{
    s_state_t *self = state;
    s_fh_t *h = fh;
    ssize_t n;
    do
        n = smbc_getFunctionWrite(self->ctx)(self->ctx, h->file, buf, len);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return s_fail(self, errno, "writing", h->path, err);
    *done = (size_t) n;
    return TF_OK;
}

static int
s_read(void *state, void *fh, void *buf, size_t len, size_t *got, tf_err_t *err)
{
    s_state_t *self = state;
    s_fh_t *h = fh;
    ssize_t n;
    do
        n = smbc_getFunctionRead(self->ctx)(self->ctx, h->file, buf, len);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return s_fail(self, errno, "reading", h->path, err);
    *got = (size_t) n;
    return TF_OK;
}

/* The server commits at close, whose result is checked. */
static int
s_sync(void *state, void *fh, tf_err_t *err)
{
    (void) state;
    (void) fh;
    (void) err;
    return TF_OK;
}

static int
s_close(void *state, void *fh, tf_err_t *err)
{
    s_state_t *self = state;
    s_fh_t *h = fh;
    int rc = TF_OK;
    /* no retry on EINTR: the handle is gone either way; other errors are deferred write
       errors the server reports at close */
    if (smbc_getFunctionClose(self->ctx)(self->ctx, h->file) < 0 && errno != EINTR)
        rc = s_fail(self, errno, "closing", h->path, err);
    free(h);
    return rc;
}

static int
s_sync_dir(void *state, const char *path, tf_err_t *err)
{
    (void) state;
    (void) path;
    (void) err;
    return TF_OK;
}

static int
s_rename(void *state, const char *from, const char *to, tf_err_t *err)
{
    s_state_t *self = state;
    char *url_from = s_url(self, from), *url_to = s_url(self, to);
    int rc = TF_OK;
    struct stat st;
    if (!url_from || !url_to)
        rc = S_OOM(self, err);
    else {
        /* libsmbclient's rename replaces an existing file: look first (one thread per target) */
        int e = s_stat_url(self, url_to, &st);
        if (e == 0)
            rc = tf_err_set(err, TF_ERR_STATE, "replica target %s: cannot rename %s to %s: %s exists already",
                            self->name, from, to, to);
        else if (e != ENOENT)
            rc = s_fail(self, e, "stat of", to, err);
    }
    if (rc == TF_OK) {
        int r;
        do
            r = smbc_getFunctionRename(self->ctx)(self->ctx, url_from, self->ctx, url_to);
        while (r < 0 && errno == EINTR);
        if (r < 0)
            rc = errno == EEXIST ? tf_err_set(err, TF_ERR_STATE,
                                              "replica target %s: cannot rename %s to %s: %s exists already",
                                              self->name, from, to, to)
                                 : s_fail(self, errno, "renaming", from, err);
    }
    free(url_from);
    free(url_to);
    return rc;
}

static int
s_remove(void *state, const char *path, tf_err_t *err)
{
    s_state_t *self = state;
    char *url = s_url(self, path);
    if (!url)
        return S_OOM(self, err);
    int rc = TF_OK, r;
    do
        r = smbc_getFunctionUnlink(self->ctx)(self->ctx, url);
    while (r < 0 && errno == EINTR);
    if (r < 0 && errno != ENOENT)
        rc = s_fail(self, errno, "removing", path, err);
    free(url);
    return rc;
}

static int
s_rmdir(void *state, const char *path, tf_err_t *err)
{
    s_state_t *self = state;
    char *url = s_url(self, path);
    if (!url)
        return S_OOM(self, err);
    int rc = TF_OK, r;
    do
        r = smbc_getFunctionRmdir(self->ctx)(self->ctx, url);
    while (r < 0 && errno == EINTR);
    if (r < 0 && errno != ENOENT)
        rc = s_fail(self, errno, "removing folder", path, err);
    free(url);
    return rc;
}

static void
s_entry_fill(tf_target_entry_t *entry, const struct stat *st)
{
    entry->is_dir = S_ISDIR(st->st_mode);
    entry->size = entry->is_dir ? 0 : (uint64_t) st->st_size;
    entry->mtime_ms = (int64_t) st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
}

static int
s_list(void *state, const char *path, tf_target_entry_t **entries, size_t *count, tf_err_t *err)
{
    s_state_t *self = state;
    char *url = s_url(self, path);
    if (!url)
        return S_OOM(self, err);
    SMBCFILE *dir = smbc_getFunctionOpendir(self->ctx)(self->ctx, url);
    free(url);
    if (!dir)
        return s_fail(self, errno, "listing", path, err);
    int rc = TF_OK;
    size_t cap = 0;
    for (;;) {
        struct stat st;
        memset(&st, 0, sizeof st);
        errno = 0;
        const struct libsmb_file_info *info = smbc_getFunctionReaddirPlus2(self->ctx)(self->ctx, dir, &st);
        if (!info) {
            if (errno != 0 && errno != ENOENT)
                rc = s_fail(self, errno, "listing", path, err);
            break;
        }
        if (!info->name || strcmp(info->name, ".") == 0 || strcmp(info->name, "..") == 0)
            continue;
        tf_target_entry_t *entry = NULL;
        rc = tf_target_entries_push(self->name, *path ? path : "the root", entries, count, &cap, info->name, &entry,
                                    err);
        if (rc != TF_OK)
            break;
        if (entry)
            s_entry_fill(entry, &st);
    }
    (void) smbc_getFunctionClosedir(self->ctx)(self->ctx, dir);   /* only listed */
    return rc;
}

static int
s_stat(void *state, const char *path, tf_target_entry_t *entry, tf_err_t *err)
{
    s_state_t *self = state;
    char *url = s_url(self, path);
    if (!url)
        return S_OOM(self, err);
    struct stat st;
    int e = s_stat_url(self, url, &st);
    free(url);
    if (e != 0)
        return s_fail(self, e, "stat of", path, err);
    const char *slash = strrchr(path, '/');
    snprintf(entry->name, sizeof entry->name, "%s", slash ? slash + 1 : path);
    s_entry_fill(entry, &st);
    return TF_OK;
}

static int
s_space(void *state, uint64_t *free_bytes, uint64_t *total_bytes, tf_err_t *err)
{
    s_state_t *self = state;
    struct statvfs vfs;
    memset(&vfs, 0, sizeof vfs);
    int r;
    do
        r = smbc_getFunctionStatVFS(self->ctx)(self->ctx, self->base, &vfs);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return s_fail(self, errno, "asking the free space of", "", err);
    /* libsmbclient fills f_bsize with the bytes of a sector and f_frsize with the sectors of
       an allocation unit (a count, not bytes, unlike statvfs(3)); f_bavail and f_blocks count
       allocation units. */
    uint64_t unit = (uint64_t) (vfs.f_bsize ? vfs.f_bsize : 1) * (vfs.f_frsize ? vfs.f_frsize : 1);
    *free_bytes = (uint64_t) vfs.f_bavail * unit;
    *total_bytes = (uint64_t) vfs.f_blocks * unit;
    return TF_OK;
}

const tf_target_ops_t tf_target_smb_ops = {
    .scheme = "smb",
    .open = s_open,
    .destroy = s_destroy,
    .fs_type = s_fs_type,
    .mkdir = s_mkdir,
    .open_file = s_open_file,
    .write = s_write,
    .read = s_read,
    .sync = s_sync,
    .close = s_close,
    .sync_dir = s_sync_dir,
    .rename = s_rename,
    .remove = s_remove,
    .rmdir = s_rmdir,
    .list = s_list,
    .stat = s_stat,
    .space = s_space,
};
