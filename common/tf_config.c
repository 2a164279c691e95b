/*  tf_config - ZPL configuration over built-in defaults. */
#include "tf_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct _tf_config_t {
    zconfig_t *root;       /* file contents plus tf_config_set overrides */
    char *file;            /* path loaded, or NULL */
    zhashx_t *expanded;     /* path -> expanded value, owned; cleared on set */
};

/* Built-in defaults. Paths use ZPL's section/key form. Keep docs/operations.md in step. */
static const struct {
    const char *path;
    const char *value;
} s_defaults[] = {
    {"tapeflow/run", "${home}/run"},
    {"tapeflow/log", "${home}/log"},
    {"tapeflow/log_level", "info"},
    {"broker/endpoint", "ipc://${run}/broker.sock"},
    {"broker/journal", "${home}/broker.db"},
    {"broker/heartbeat", "1000"},   /* ms between heartbeats, both ways */
    {"broker/liveness", "3"},       /* missed heartbeats before a peer is declared dead */
    {"broker/max_attempts", "5"},   /* deliveries of one item before it is failed for good */
    {"broker/max_message", "67108864"}, /* ZMQ_MAXMSGSIZE on every receiving socket */
    {"broker/keep_done", "604800"},  /* s: finished items stay queryable a week */
    {"broker/job_service", "catalog"}, /* gets cat_job{failed} when a job's item fails for good */
    {"bus/frontend", "ipc://${run}/bus-in.sock"},  /* publishers connect here (XSUB) */
    {"bus/backend", "ipc://${run}/bus-out.sock"},  /* subscribers connect here (XPUB) */
    {"bus/hwm", "10000"},           /* events queued per peer before they are dropped */
    /* actors 'tapeflow up' runs, actors/<name>/instances each (echo is the test actor) */
    {"up/actors", "catalog scanner compressor stager tapewriter"},
    {"up/restart_min", "500"},      /* ms: first restart delay of a crashed child */
    {"up/restart_max", "30000"},    /* ms: restart delay cap (doubles each crash) */
    {"up/stable_after", "60000"},   /* ms: a child up this long has its delay reset */
    {"up/stop_timeout", "10000"},   /* ms: SIGTERM grace before SIGKILL */
    {"scanner/group_size", "1073741824"}, /* bytes of file content per archive */
    {"scanner/one_fs", "1"},               /* stay on each path's file system */
    {"compressor/compression", "zstd"},    /* zstd | gzip | none */
    {"compressor/level", "1"},             /* zstd level: 1 keeps a drive fed; raise it for space */
    {"compressor/threads", "0"},           /* zstd worker threads per compressor, 0 = cores */
    {"compressor/chunk", "1048576"},       /* bytes per stage_data message */
    {"compressor/stager_timeout", "60000"}, /* ms without word from the stager before an item is handed back */
    {"stager/endpoint", "ipc://${run}/stager.sock"},
    {"stager/session_timeout", "600"},     /* s: an archive stream silent this long is dropped */
    {"stager/dir", "${home}/staging"},     /* holding disk: tmp/ and ready/ */
    {"stager/capacity", "21474836480"},    /* bytes the holding disk may use */
    {"stager/window", "8388608"},          /* bytes of credit one compressor may have */
    {"tapewriter/drive", "tape0"},         /* names drives/<name>/url */
    {"tapewriter/block_size", "262144"},   /* variable block size on tape, up to 1 MiB */
    {"tapewriter/verify", "1"},            /* read every archive back before releasing it */
    {"tapewriter/fetch_chunk", "1048576"}, /* bytes per fetch from the stager */
    {"tapewriter/fetch_depth", "8"},       /* fetches in flight: keeps the drive streaming */
    {"tapewriter/fetch_timeout", "30000"}, /* ms without data from the stager before giving up */
    {"tapewriter/ready_timeout", "60000"}, /* ms to wait for the drive to become ready */
    {"tapewriter/busy_wait", "10000"},     /* ms to wait for a drive another process holds */
    {"tapewriter/catalog_timeout", "120000"}, /* ms to wait for the catalog to record a position */
    /* ms to wait, without a changer, for the operator to mount the next volume of a spanning
       archive after alert.mount (an overnight run's worth); 0 = do not span, retry later */
    {"tapewriter/mount_wait", "43200000"},
    {"drives/tape0/url", "sim:${home}/tapes/tape0.img?capacity=64G"},
    {"catalog/db", "${home}/catalog.db"},
    {"backup/pool", "default"},
    /* pools/<name>/retention: how long a written volume is kept (days, or 90s/12h/30d/4w, or
       never); pools without the key get 30 days. pools/<name>/volumes: how many volumes the
       pool rotates through (0 = not set; 'tapeflow tape list' compares). */
    {"pools/default/retention", "30"},
    {"pools/default/volumes", "0"},
    /* pools/<name>/allow_zero_retention = 1: a retention under 1 day is meant (test pools);
       otherwise it is refused (issue 8.6) */
    {"pools/default/allow_zero_retention", "0"},
    {"actors/echo/instances", "1"},
    {"actors/catalog/instances", "1"},
    {"actors/scanner/instances", "1"},
    {"actors/compressor/instances", "2"},
    {"actors/stager/instances", "1"},
    {"actors/tapewriter/instances", "1"},   /* one per drive: it alone opens tapewriter/drive */
};
#define S_NDEFAULTS (sizeof s_defaults / sizeof s_defaults[0])

tf_config_t *
tf_config_new(void)
{
    tf_config_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->root = zconfig_new("root", NULL);
    self->expanded = zhashx_new();
    if (!self->root || !self->expanded) {
        tf_config_destroy(&self);
        return NULL;
    }
    zhashx_set_duplicator(self->expanded, (zhashx_duplicator_fn *) strdup);
    zhashx_set_destructor(self->expanded, (zhashx_destructor_fn *) zstr_free);
    return self;
}

tf_config_t *
tf_config_open(const char *path, tf_err_t *err)
{
    bool explicit_path = path != NULL;
    if (!path)
        path = getenv("TAPEFLOW_CONFIG");
    if (path && *path == '\0')
        path = NULL;
    if (path)
        explicit_path = true;
    else {
        struct stat st;
        if (stat("/etc/tapeflow/tapeflow.cfg", &st) == 0)
            path = "/etc/tapeflow/tapeflow.cfg";
    }
    tf_config_t *self = tf_config_new();
    if (!self) {
        tf_err_set(err, TF_ERR_NOMEM, "out of memory loading configuration");
        return NULL;
    }
    if (!path)
        return self;

    struct stat st;
    if (stat(path, &st) != 0) {
        tf_err_errno(err, TF_ERR_NOTFOUND, errno, "config file %s %s", path,
                     explicit_path ? "cannot be read" : "vanished");
        tf_config_destroy(&self);
        return NULL;
    }
    /* Read the text ourselves: czmq's zconfig_load leaks its file handle on a parse error. */
    char *text = NULL;
    FILE *file = fopen(path, "r");
    if (file) {
        text = calloc(1, (size_t) st.st_size + 1);
        if (text && fread(text, 1, (size_t) st.st_size, file) != (size_t) st.st_size) {
            free(text);
            text = NULL;
        }
        fclose(file);
    }
    if (!text) {
        tf_err_errno(err, TF_ERR_IO, errno, "config file %s cannot be read", path);
        tf_config_destroy(&self);
        return NULL;
    }
    zconfig_t *loaded = zconfig_str_load(text);
    free(text);
    if (!loaded) {
        tf_err_set(err, TF_ERR_INVALID,
                   "config file %s is not valid ZPL (indent each level by 4 spaces; "
                   "write 'key = value')", path);
        tf_config_destroy(&self);
        return NULL;
    }
    zconfig_destroy(&self->root);
    self->root = loaded;
    self->file = strdup(path);
    return self;
}

void
tf_config_destroy(tf_config_t **self_p)
{
    if (self_p && *self_p) {
        tf_config_t *self = *self_p;
        zconfig_destroy(&self->root);
        zhashx_destroy(&self->expanded);
        free(self->file);
        free(self);
        *self_p = NULL;
    }
}

static const char *
s_default(const char *path)
{
    for (size_t i = 0; i < S_NDEFAULTS; i++)
        if (strcmp(s_defaults[i].path, path) == 0)
            return s_defaults[i].value;
    return NULL;
}

/* Raw (unexpanded) value: file/override first, then the default. */
static const char *
s_raw(tf_config_t *self, const char *path)
{
    zconfig_t *item = zconfig_locate(self->root, path);
    if (item && zconfig_value(item) && *zconfig_value(item))
        return zconfig_value(item);
    if (strcmp(path, "tapeflow/home") == 0) {
        const char *env = getenv("TAPEFLOW_HOME");
        if (env && *env)
            return env;
        if (geteuid() == 0)
            return "/var/lib/tapeflow";
        return NULL; /* computed from $HOME by the caller */
    }
    return s_default(path);
}

/* Expands ${home}, ${run}, ${log} into out; depth guards against self-reference. */
static void
s_expand(tf_config_t *self, const char *raw, char *out, size_t size, int depth)
{
    size_t used = 0;
    out[0] = '\0';
    for (const char *p = raw; *p && used + 1 < size;) {
        if (p[0] == '$' && p[1] == '{' && depth < 4) {
            const char *end = strchr(p, '}');
            if (end) {
                char name[32];
                size_t n = (size_t) (end - p - 2);
                if (n < sizeof name) {
                    memcpy(name, p + 2, n);
                    name[n] = '\0';
                    char key[64];
                    snprintf(key, sizeof key, "tapeflow/%s", name);
                    const char *value = tf_config_get(self, key);
                    if (value) {
                        char sub[1024];
                        snprintf(sub, sizeof sub, "%s", value);
                        int w = snprintf(out + used, size - used, "%s", sub);
                        used += (w > 0) ? (size_t) w : 0;
                        if (used >= size)
                            used = size - 1;
                        p = end + 1;
                        continue;
                    }
                }
            }
        }
        out[used++] = *p++;
        out[used] = '\0';
    }
}

const char *
tf_config_get(tf_config_t *self, const char *path)
{
    const char *cached = zhashx_lookup(self->expanded, path);
    if (cached)
        return cached;
    const char *raw = s_raw(self, path);
    char home_buf[1024];
    if (!raw && strcmp(path, "tapeflow/home") == 0) {
        const char *home = getenv("HOME");
        snprintf(home_buf, sizeof home_buf, "%s/.local/share/tapeflow", home ? home : "/tmp");
        raw = home_buf;
    }
    if (!raw)
        return NULL;
    char value[2048];
    s_expand(self, raw, value, sizeof value, 0);
    zhashx_update(self->expanded, path, value);
    return zhashx_lookup(self->expanded, path);
}

const char *
tf_config_get_or(tf_config_t *self, const char *path, const char *fallback)
{
    const char *value = tf_config_get(self, path);
    return value ? value : fallback;
}

int64_t
tf_config_get_int(tf_config_t *self, const char *path, int64_t fallback)
{
    const char *value = tf_config_get(self, path);
    if (!value || !*value)
        return fallback;
    char *end = NULL;
    errno = 0;
    long long n = strtoll(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0')
        return fallback;
    return (int64_t) n;
}

int
tf_config_set(tf_config_t *self, const char *path, const char *value)
{
    zconfig_put(self->root, path, value);
    /* Any value may feed another through ${...}: drop every cached expansion. */
    zhashx_purge(self->expanded);
    return TF_OK;
}

const char *
tf_config_file(tf_config_t *self)
{
    return self->file;
}

static bool
s_list_has(zlist_t *list, const char *name)
{
    for (const char *s = zlist_first(list); s; s = zlist_next(list))
        if (strcmp(s, name) == 0)
            return true;
    return false;
}

zlist_t *
tf_config_children(tf_config_t *self, const char *section)
{
    zlist_t *names = zlist_new();
    if (!names)
        return NULL;
    zlist_autofree(names);
    size_t len = strlen(section);
    for (size_t i = 0; i < S_NDEFAULTS; i++) {
        const char *p = s_defaults[i].path;
        if (strncmp(p, section, len) != 0 || p[len] != '/')
            continue;
        const char *start = p + len + 1;
        const char *slash = strchr(start, '/');
        if (!slash)
            continue;
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int) (slash - start), start);
        if (!s_list_has(names, name))
            zlist_append(names, name);
    }
    zconfig_t *sec = zconfig_locate(self->root, section);
    for (zconfig_t *c = sec ? zconfig_child(sec) : NULL; c; c = zconfig_next(c))
        if (!s_list_has(names, zconfig_name(c)))
            zlist_append(names, zconfig_name(c));
    return names;
}

int
tf_config_save(tf_config_t *self, const char *path, tf_err_t *err)
{
    char *text = zconfig_str_save(self->root);
    zconfig_t *out = text ? zconfig_str_load(text) : NULL;
    zstr_free(&text);
    if (!out)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory saving configuration");
    for (size_t i = 0; i < S_NDEFAULTS; i++)
        if (!zconfig_locate(out, s_defaults[i].path))
            zconfig_put(out, s_defaults[i].path, s_defaults[i].value);
    if (!zconfig_locate(out, "tapeflow/home"))
        zconfig_put(out, "tapeflow/home", tf_config_get(self, "tapeflow/home"));
    int rc = zconfig_save(out, path);
    zconfig_destroy(&out);
    if (rc != 0)
        return tf_err_errno(err, TF_ERR_IO, errno, "cannot write config %s", path);
    return TF_OK;
}
