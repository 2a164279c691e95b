/*  tf_teststack - a whole tapeflow stack under `tapeflow up` for process tests. */
#define _GNU_SOURCE
#include "tf_teststack.h"

#include <czmq.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_testproc.h"
#include "tf_tree.h"

#define S_CLI_TIMEOUT_MS 240000
#define S_JOB_WAIT_S "180"

struct _tf_teststack_t {
    char *dir;
    char cfg[PATH_MAX];
    char env_cfg[PATH_MAX + 32];
    char env_home[PATH_MAX + 32];
    char *env[3];
    char broker[PATH_MAX + 32];
    bool up;
};

/* The baseline every process test starts from: quick failure detection and restarts, small
   groups so a small tree makes several archives, a 1 GiB sim tape. */
static const char *s_baseline[] = {
    "tapeflow/log_level=debug",
    "broker/heartbeat=250",
    "broker/liveness=4",
    "up/actors=catalog labeller scanner compressor stager tapewriter",
    "up/restart_min=200",
    "up/restart_max=1000",
    "actors/compressor/instances=2",
    "scanner/group_size=2097152",
    "compressor/chunk=131072",
    "stager/window=524288",
    NULL,
};

/* Sets "section/key=value" in root, with ${dir} replaced by the stack's folder. */
static int
s_put(zconfig_t *root, const char *setting, const char *dir)
{
    const char *eq = strchr(setting, '=');
    if (!eq || eq == setting) {
        fprintf(stderr, "tf_teststack: bad setting '%s' (want section/key=value)\n", setting);
        return -1;
    }
    char path[256];
    snprintf(path, sizeof path, "%.*s", (int) (eq - setting), setting);
    char value[PATH_MAX * 2];
    size_t n = 0;
    for (const char *p = eq + 1; *p && n + 1 < sizeof value;) {
        if (strncmp(p, "${dir}", 6) == 0) {
            n += (size_t) snprintf(value + n, sizeof value - n, "%s", dir);
            p += 6;
        } else
            value[n++] = *p++;
    }
    value[n < sizeof value ? n : sizeof value - 1] = '\0';
    zconfig_put(root, path, value);
    return 0;
}

static int
s_write_config(tf_teststack_t *self, const tf_teststack_opts_t *opts)
{
    zconfig_t *root = zconfig_new("root", NULL);
    if (!root)
        return -1;
    zconfig_put(root, "tapeflow/home", self->dir);
    for (size_t i = 0; s_baseline[i]; i++)
        s_put(root, s_baseline[i], self->dir);
    char url[PATH_MAX * 2];
    snprintf(url, sizeof url, "sim:%s/tape0.img?capacity=1G%s", self->dir,
             opts && opts->sim_options ? opts->sim_options : "");
    zconfig_put(root, "drives/tape0/url", url);
    int rc = 0;
    for (size_t i = 0; opts && opts->config && opts->config[i]; i++)
        if (s_put(root, opts->config[i], self->dir) != 0)
            rc = -1;
    if (rc == 0 && zconfig_save(root, self->cfg) != 0) {
        fprintf(stderr, "tf_teststack: cannot write %s\n", self->cfg);
        rc = -1;
    }
    zconfig_destroy(&root);
    return rc;
}

tf_teststack_t *
tf_teststack_new(const char *prefix, const tf_teststack_opts_t *opts)
{
    tf_teststack_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->dir = tf_test_tempdir(prefix ? prefix : "tfstk");
    if (!self->dir) {
        free(self);
        return NULL;
    }
    snprintf(self->cfg, sizeof self->cfg, "%s/tapeflow.cfg", self->dir);
    snprintf(self->env_cfg, sizeof self->env_cfg, "TAPEFLOW_CONFIG=%s", self->cfg);
    snprintf(self->env_home, sizeof self->env_home, "TAPEFLOW_HOME=%s", self->dir);
    snprintf(self->broker, sizeof self->broker, "ipc://%s/run/broker.sock", self->dir);
    self->env[0] = self->env_cfg;
    self->env[1] = self->env_home;
    self->env[2] = NULL;
    if (s_write_config(self, opts) != 0) {
        tf_teststack_destroy(&self);
        return NULL;
    }
    if (opts && opts->no_up)
        return self;
    char *out = NULL;
    int rc = tf_teststack_cli(self, &out, "up", "--detach", NULL);
    if (rc != 0) {
        fprintf(stderr, "tapeflow up --detach failed (%d):\n%s\n", rc, out ? out : "");
        free(out);
        tf_teststack_destroy(&self);
        return NULL;
    }
    free(out);
    self->up = true;
    return self;
}

void
tf_teststack_destroy(tf_teststack_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tf_teststack_t *self = *self_p;
    /* Always: a test may have started the stack itself (no_up). Harmless when it is down. */
    char *out = NULL;
    tf_teststack_cli(self, &out, "down", NULL);
    free(out);
    tf_test_dir_done(&self->dir);
    free(self);
    *self_p = NULL;
}

const char *
tf_teststack_dir(tf_teststack_t *self)
{
    return self->dir;
}

const char *
tf_teststack_config(tf_teststack_t *self)
{
    return self->cfg;
}

char *const *
tf_teststack_env(tf_teststack_t *self)
{
    return self->env;
}

const char *
tf_teststack_broker(tf_teststack_t *self)
{
    return self->broker;
}

int
tf_teststack_cliv(tf_teststack_t *self, char **out, char *const argv[])
{
    char *text = NULL;
    int rc = tf_test_run("tapeflow", argv, self->env, S_CLI_TIMEOUT_MS, &text);
    if (out)
        *out = text;
    else
        free(text);
    return rc;
}

int
tf_teststack_cli(tf_teststack_t *self, char **out, ...)
{
    char *argv[64] = {"tapeflow"};
    int argc = 1;
    va_list ap;
    va_start(ap, out);
    for (char *a = va_arg(ap, char *); a && argc < 63; a = va_arg(ap, char *))
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    return tf_teststack_cliv(self, out, argv);
}

int
tf_teststack_label(tf_teststack_t *self, const char *drive, const char *label, const char *pool)
{
    char *out = NULL;
    int rc = tf_teststack_cli(self, &out, "tape", "label", drive, "--label", label, "--pool", pool, NULL);
    if (rc != 0)
        fprintf(stderr, "tapeflow tape label %s --label %s --pool %s: exit %d\n%s\n", drive, label, pool,
                rc, out ? out : "");
    free(out);
    return rc;
}

int
tf_teststack_backup(tf_teststack_t *self, const char *src, const char *pool, char *job, size_t job_size,
                    char **json)
{
    char *out = NULL;
    int rc = tf_teststack_cli(self, &out, "backup", src, "--pool", pool, "--wait", "--timeout", S_JOB_WAIT_S,
                              "--json", NULL);
    if (!tf_test_json_str(out, "job_id", job, job_size))
        job[0] = '\0';
    if (json)
        *json = out;
    else
        free(out);
    return rc;
}

int
tf_teststack_restore_compare(tf_teststack_t *self, const char *job, const char *src, const char *to,
                             char *why, size_t why_size)
{
    char dest[PATH_MAX];
    snprintf(dest, sizeof dest, "%s/%s", self->dir, to);
    char *out = NULL;
    int rc = tf_teststack_cli(self, &out, "restore", job, "--to", dest, "--json", NULL);
    if (rc != 0) {
        snprintf(why, why_size, "restore failed (%d): %s", rc, out ? out : "");
        free(out);
        return -1;
    }
    free(out);
    char restored[PATH_MAX * 2], diff[1024];
    snprintf(restored, sizeof restored, "%s%s", dest, src);
    if (tf_tree_compare(src, restored, true, diff, sizeof diff) != 0) {
        snprintf(why, why_size, "restored tree differs: %s", diff);
        return -1;
    }
    return 0;
}

int
tf_teststack_child_pid(tf_teststack_t *self, const char *name)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/run/up.state", self->dir);
    zconfig_t *root = zconfig_load(path);
    if (!root)
        return 0;
    char key[128];
    snprintf(key, sizeof key, "children/%s/pid", name);
    int pid = atoi(zconfig_get(root, key, "0"));
    zconfig_destroy(&root);
    return pid;
}

const char *
tf_test_json_str(const char *json, const char *key, char *buf, size_t size)
{
    char pattern[128];
    snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
    const char *at = json ? strstr(json, pattern) : NULL;
    if (!at)
        return NULL;
    at += strlen(pattern);
    const char *end = at;
    for (; *end && *end != '"'; end++)
        if (*end == '\\' && end[1])
            end++;  /* an escaped character, \" included */
    if (!*end)
        return NULL;
    snprintf(buf, size, "%.*s", (int) (end - at), at);
    return buf;
}

long long
tf_test_json_int(const char *json, const char *key)
{
    char pattern[128];
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    const char *at = json ? strstr(json, pattern) : NULL;
    return at ? atoll(at + strlen(pattern)) : -1;
}
