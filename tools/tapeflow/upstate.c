/*  upstate - the supervisor's state file. */
#include "upstate.h"

#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tf_clock.h"
#include "tf_fs.h"

typedef struct {
    upstate_child_t row;   /* strings below are owned through these pointers */
} s_entry_t;

struct _upstate_t {
    int64_t pid;
    int64_t started_ms;
    int64_t updated_ms;
    char *state;
    char *config;
    char *host;
    char *roles;
    s_entry_t *children;
    size_t count, cap;
};

static char *
s_dup(const char *s)
{
    return strdup(s ? s : "");
}

static void
s_row_free(upstate_child_t *row)
{
    free((char *) row->name);
    free((char *) row->program);
    free((char *) row->state);
    free((char *) row->last_exit);
    free((char *) row->log);
    memset(row, 0, sizeof *row);
}

upstate_t *
upstate_new(void)
{
    upstate_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->state = s_dup("running");
    self->config = s_dup("");
    self->host = s_dup("");
    self->roles = s_dup("");
    if (!self->state || !self->config || !self->host || !self->roles)
        upstate_destroy(&self);
    return self;
}

void
upstate_destroy(upstate_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    upstate_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++)
        s_row_free(&self->children[i].row);
    free(self->children);
    free(self->state);
    free(self->config);
    free(self->host);
    free(self->roles);
    free(self);
    *self_p = NULL;
}

int
upstate_set_supervisor(upstate_t *self, int64_t pid, int64_t started_ms, const char *state,
                       const char *config)
{
    char *st = s_dup(state);
    char *cf = s_dup(config);
    if (!st || !cf) {
        free(st);
        free(cf);
        return TF_ERR_NOMEM;
    }
    free(self->state);
    free(self->config);
    self->state = st;
    self->config = cf;
    self->pid = pid;
    self->started_ms = started_ms;
    return TF_OK;
}

int
upstate_set_host(upstate_t *self, const char *host, const char *roles)
{
    char *h = s_dup(host);
    char *r = s_dup(roles);
    if (!h || !r) {
        free(h);
        free(r);
        return TF_ERR_NOMEM;
    }
    free(self->host);
    free(self->roles);
    self->host = h;
    self->roles = r;
    return TF_OK;
}

bool
upstate_has_role(upstate_t *self, const char *role)
{
    size_t len = strlen(role);
    for (const char *p = self->roles; (p = strstr(p, role)) != NULL; p += len)
        if ((p == self->roles || p[-1] == ' ') && (p[len] == ' ' || p[len] == '\0'))
            return true;
    return false;
}

const char *upstate_host(upstate_t *self) { return self->host; }
const char *upstate_roles(upstate_t *self) { return self->roles; }
int64_t upstate_supervisor_pid(upstate_t *self) { return self->pid; }
int64_t upstate_started_ms(upstate_t *self) { return self->started_ms; }
int64_t upstate_updated_ms(upstate_t *self) { return self->updated_ms; }
const char *upstate_state(upstate_t *self) { return self->state; }
const char *upstate_config(upstate_t *self) { return self->config; }
size_t upstate_size(upstate_t *self) { return self->count; }

const upstate_child_t *
upstate_child(upstate_t *self, size_t index)
{
    return index < self->count ? &self->children[index].row : NULL;
}

const upstate_child_t *
upstate_lookup(upstate_t *self, const char *name)
{
    for (size_t i = 0; i < self->count; i++)
        if (strcmp(self->children[i].row.name, name) == 0)
            return &self->children[i].row;
    return NULL;
}

int
upstate_put(upstate_t *self, const upstate_child_t *child)
{
    if (!child || !child->name || !*child->name)
        return TF_ERR_INVALID;
    upstate_child_t row = {
        .name = s_dup(child->name),
        .program = s_dup(child->program),
        .pid = child->pid,
        .state = s_dup(child->state),
        .restarts = child->restarts,
        .last_exit = s_dup(child->last_exit),
        .log = s_dup(child->log),
        .started_ms = child->started_ms,
    };
    if (!row.name || !row.program || !row.state || !row.last_exit || !row.log) {
        s_row_free(&row);
        return TF_ERR_NOMEM;
    }
    for (size_t i = 0; i < self->count; i++)
        if (strcmp(self->children[i].row.name, child->name) == 0) {
            s_row_free(&self->children[i].row);
            self->children[i].row = row;
            return TF_OK;
        }
    if (self->count == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 8;
        s_entry_t *bigger = realloc(self->children, cap * sizeof *bigger);
        if (!bigger) {
            s_row_free(&row);
            return TF_ERR_NOMEM;
        }
        self->children = bigger;
        self->cap = cap;
    }
    self->children[self->count++].row = row;
    return TF_OK;
}

/* zconfig_put with a check; false on failure. */
static bool
s_put(zconfig_t *root, const char *path, const char *value)
{
    zconfig_put(root, path, value ? value : "");
    zconfig_t *item = zconfig_locate(root, path);
    return item != NULL;
}

static bool
s_put_int(zconfig_t *root, const char *path, int64_t value)
{
    char num[32];
    snprintf(num, sizeof num, "%" PRId64, value);
    return s_put(root, path, num);
}

int
upstate_save(upstate_t *self, const char *path, tf_err_t *err)
{
    self->updated_ms = tf_clock_wall_ms();
    zconfig_t *root = zconfig_new("root", NULL);
    if (!root)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory writing %s", path);
    char when[64], key[512];
    bool ok = s_put_int(root, "supervisor/pid", self->pid)
              && s_put_int(root, "supervisor/started_ms", self->started_ms)
              && s_put(root, "supervisor/started",
                       tf_clock_format(self->started_ms, when, sizeof when))
              && s_put_int(root, "supervisor/updated_ms", self->updated_ms)
              && s_put(root, "supervisor/state", self->state)
              && s_put(root, "supervisor/config", self->config)
              && s_put(root, "supervisor/host", self->host)
              && s_put(root, "supervisor/roles", self->roles)
              && zconfig_new("children", root) != NULL;
    for (size_t i = 0; ok && i < self->count; i++) {
        const upstate_child_t *c = &self->children[i].row;
#define S_KEY(k) (snprintf(key, sizeof key, "children/%s/" k, c->name), key)
        ok = s_put(root, S_KEY("program"), c->program) && s_put_int(root, S_KEY("pid"), c->pid)
             && s_put(root, S_KEY("state"), c->state)
             && s_put_int(root, S_KEY("restarts"), c->restarts)
             && s_put(root, S_KEY("last_exit"), c->last_exit) && s_put(root, S_KEY("log"), c->log)
             && s_put_int(root, S_KEY("started_ms"), c->started_ms)
             && s_put(root, S_KEY("started"), tf_clock_format(c->started_ms, when, sizeof when));
#undef S_KEY
    }
    char *text = ok ? zconfig_str_save(root) : NULL;
    zconfig_destroy(&root);
    if (!text)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory writing %s", path);
    int rc = tf_fs_write_atomic(path, text, strlen(text), err);
    zstr_free(&text);
    return rc;
}

static int64_t
s_get_int(zconfig_t *root, const char *path)
{
    const char *value = zconfig_get(root, path, "0");
    if (!value || !*value)
        return 0;
    char *end = NULL;
    long long n = strtoll(value, &end, 10);
    return (end && *end == '\0') ? (int64_t) n : 0;
}

upstate_t *
upstate_load(const char *path, tf_err_t *err)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        tf_err_errno(err, errno == ENOENT ? TF_ERR_NOTFOUND : TF_ERR_IO, errno,
                     "cannot read state file %s", path);
        return NULL;
    }
    zconfig_t *root = zconfig_load(path);
    if (!root) {
        tf_err_set(err, TF_ERR_INVALID, "state file %s is not valid ZPL", path);
        return NULL;
    }
    upstate_t *self = upstate_new();
    if (!self || upstate_set_supervisor(self, s_get_int(root, "supervisor/pid"),
                                        s_get_int(root, "supervisor/started_ms"),
                                        zconfig_get(root, "supervisor/state", "running"),
                                        zconfig_get(root, "supervisor/config", ""))
                     != TF_OK
        || upstate_set_host(self, zconfig_get(root, "supervisor/host", ""),
                            zconfig_get(root, "supervisor/roles", ""))
               != TF_OK) {
        upstate_destroy(&self);
        zconfig_destroy(&root);
        tf_err_set(err, TF_ERR_NOMEM, "out of memory reading %s", path);
        return NULL;
    }
    self->updated_ms = s_get_int(root, "supervisor/updated_ms");
    zconfig_t *children = zconfig_locate(root, "children");
    for (zconfig_t *c = children ? zconfig_child(children) : NULL; c; c = zconfig_next(c)) {
        upstate_child_t row = {
            .name = zconfig_name(c),
            .program = zconfig_get(c, "program", ""),
            .pid = s_get_int(c, "pid"),
            .state = zconfig_get(c, "state", "stopped"),
            .restarts = s_get_int(c, "restarts"),
            .last_exit = zconfig_get(c, "last_exit", ""),
            .log = zconfig_get(c, "log", ""),
            .started_ms = s_get_int(c, "started_ms"),
        };
        if (upstate_put(self, &row) != TF_OK) {
            upstate_destroy(&self);
            zconfig_destroy(&root);
            tf_err_set(err, TF_ERR_NOMEM, "out of memory reading %s", path);
            return NULL;
        }
    }
    zconfig_destroy(&root);
    return self;
}
