/*  tf_replica - the layout, sentinel, manifest, verification and retention of a replication
    target (see tf_replica.h). Storage access goes through tf_target only, so every rule here
    holds for smb:// and file:// alike. */
#include "tf_replica.h"

#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "tf_calendar.h"
#include "tf_checksum.h"
#include "tf_clock.h"
#include "tf_json.h"
#include "tf_pipeline_ids.h"

#define S_SENTINEL_MAX 4096                  /* a sentinel is a few lines */
#define S_MANIFEST_MAX (64 * 1024 * 1024)    /* thousands of archives fit easily */
#define S_CHUNK_DEFAULT (1024 * 1024)
#define S_MANIFEST_TMP TF_REPLICA_MANIFEST ".tmp"
#define S_SENTINEL_TMP TF_REPLICA_SENTINEL ".tmp"
#define S_DAY_MS (24 * 3600 * 1000LL)

/* ------------------------------------------------------------------ configuration ----- */

/* A target name is a folder name in manifests and a value in the catalog's replica rows:
   the same safe set as ids (tf_id_safe_name). "tape" is reserved: the catalog names a job's
   tape copy so. */
#define S_RESERVED_NAME "tape"

static bool
s_name_ok(const char *name)
{
    return name && strlen(name) <= TF_MSG_MAX_ID && tf_id_safe_name(name);
}

static int
s_copy(char *dst, size_t size, const char *src, const char *what, const char *name, tf_err_t *err)
{
    size_t len = strlen(src);
    if (len >= size)
        return tf_err_set(err, TF_ERR_TOOBIG, "replicas/%s/%s is %zu characters long, at most %zu are allowed",
                          name, what, len, size - 1);
    memcpy(dst, src, len + 1);
    return TF_OK;
}

int
tf_replica_conf(const tf_config_t *cfg, const char *name, tf_replica_conf_t *conf, tf_err_t *err)
{
    /* The config getters are not const-qualified; reading does not change the configuration. */
    tf_config_t *c = (tf_config_t *) cfg;
    memset(conf, 0, sizeof *conf);
    if (name && strcmp(name, S_RESERVED_NAME) == 0)
        return tf_err_set(err, TF_ERR_INVALID, "'" S_RESERVED_NAME "' cannot name a replication target (reserved)");
    if (!s_name_ok(name))
        return tf_err_set(err, TF_ERR_INVALID, "'%s' is not a replication target name: use letters, digits, "
                          "'-', '_' and '.', not first '.' or '-' (at most %d characters)", name ? name : "",
                          TF_MSG_MAX_ID);
    char key[TF_MSG_MAX_ID + 64];
    snprintf(key, sizeof key, "replicas/%s/url", name);
    const char *url = tf_config_str(c, key);
    if (!*url) {
        const char *file = tf_config_file(c);
        return tf_err_set(err, TF_ERR_NOTFOUND, "no replication target '%s' (replicas/%s/url is not set in %s): "
                          "configure it or remove it from the pool's replicas", name, name,
                          file ? file : "the configuration, which has defaults only");
    }
    int rc = tf_target_url_check(name, url, err);
    if (rc != TF_OK)
        return rc;
    rc = s_copy(conf->name, sizeof conf->name, name, "name", name, err);
    if (rc == TF_OK)
        rc = s_copy(conf->url, sizeof conf->url, url, "url", name, err);
    snprintf(key, sizeof key, "replicas/%s/credentials", name);
    if (rc == TF_OK)
        rc = s_copy(conf->credentials, sizeof conf->credentials, tf_config_str(c, key), "credentials", name, err);
    snprintf(key, sizeof key, "replicas/%s/require_fs", name);
    const char *fs = tf_config_str(c, key);
    if (rc == TF_OK)
        rc = s_copy(conf->require_fs, sizeof conf->require_fs, *fs ? fs : "any", "require_fs", name, err);
    if (rc != TF_OK) {
        memset(conf, 0, sizeof *conf);
        return rc;
    }
    snprintf(key, sizeof key, "replicas/%s/min_free", name);
    int64_t min_free = tf_config_size(c, key);
    conf->min_free = min_free > 0 ? (uint64_t) min_free : 0;
    int64_t timeout = tf_config_ms(c, "replicator/timeout");
    conf->timeout_ms = timeout > 0 && timeout < INT32_MAX ? (int) timeout : 0;
    return TF_OK;
}

int
tf_replica_pool(const tf_config_t *cfg, const char *pool, char names[][TF_MSG_MAX_ID + 1], size_t max,
                size_t *count, bool *required, tf_err_t *err)
{
    tf_config_t *c = (tf_config_t *) cfg;
    *count = 0;
    char key[TF_MSG_MAX_PATH];
    snprintf(key, sizeof key, "pools/%s/replication", pool);
    *required = strcmp(tf_config_str(c, key), "optional") != 0;
    snprintf(key, sizeof key, "pools/%s/replicas", pool);
    const char *list = tf_config_str(c, key);
    const char *p = list;
    while (*p) {
        p += strspn(p, " ,\t");
        size_t len = strcspn(p, " ,\t");
        if (len == 0)
            break;
        char name[TF_MSG_MAX_ID + 1];
        if (len > TF_MSG_MAX_ID) {
            *count = 0;
            return tf_err_set(err, TF_ERR_INVALID, "pools/%s/replicas: a name is %zu characters long, at most %d "
                              "are allowed", pool, len, TF_MSG_MAX_ID);
        }
        memcpy(name, p, len);
        name[len] = '\0';
        p += len;
        /* A name listed twice is one target: copying twice to it would gain nothing. */
        bool seen = false;
        for (size_t i = 0; i < *count && !seen; i++)
            seen = strcmp(names[i], name) == 0;
        if (seen)
            continue;
        if (*count >= max) {
            size_t n = *count;
            *count = 0;
            return tf_err_set(err, TF_ERR_TOOBIG, "pools/%s/replicas names more than %zu replication targets "
                              "(at %s): list at most %zu", pool, n, name, max);
        }
        tf_replica_conf_t conf;
        int rc = tf_replica_conf(cfg, name, &conf, err);
        if (rc != TF_OK) {
            *count = 0;
            tf_err_prefix(err, "pool %s: ", pool);
            return rc;
        }
        memcpy(names[*count], name, len + 1);
        (*count)++;
    }
    return TF_OK;
}

int
tf_replica_pool_list(const tf_config_t *cfg, const char *pool, char *list, size_t size, bool *required,
                     tf_err_t *err)
{
    if (size > 0)
        list[0] = '\0';
    char names[TF_REPLICA_NAMES_MAX][TF_MSG_MAX_ID + 1];
    size_t count = 0;
    int rc = tf_replica_pool(cfg, pool, names, TF_REPLICA_NAMES_MAX, &count, required, err);
    if (rc != TF_OK)
        return rc;
    size_t used = 0;
    for (size_t i = 0; i < count; i++) {
        size_t len = strlen(names[i]);
        size_t need = used + (i > 0 ? 1 : 0) + len;
        /* A truncated list would drop a target silently: refuse instead. */
        if (need >= size) {
            if (size > 0)
                list[0] = '\0';
            return tf_err_set(err, TF_ERR_TOOBIG, "pools/%s/replicas: the list of %zu replication targets needs "
                              "%zu characters, at most %zu fit: list fewer or shorter names", pool, count, need,
                              size ? size - 1 : 0);
        }
        if (i > 0)
            list[used++] = ',';
        memcpy(list + used, names[i], len + 1);
        used += len;
    }
    return TF_OK;
}

/* ------------------------------------------------------------------ sentinel ---------- */

typedef struct {
    char name[TF_MSG_MAX_ID + 1];
    char id[64];
} s_sentinel_t;

/* create_root: tapeflow replica init (tf_target creates a missing root only where
   require_fs allows). */
tf_target_opts_t
tf_replica_target_opts(const tf_replica_conf_t *conf, bool with_require_fs, bool create_root)
{
    bool fs = with_require_fs && conf->require_fs[0] && strcmp(conf->require_fs, "any") != 0;
    return (tf_target_opts_t){
        .name = conf->name,
        .url = conf->url,
        .credentials = conf->credentials[0] ? conf->credentials : NULL,
        .require_fs = fs ? conf->require_fs : NULL,
        .timeout_ms = conf->timeout_ms,
        .create_root = create_root,
    };
}

static tf_target_t *
s_open(const tf_replica_conf_t *conf, bool create_root, tf_err_t *err)
{
    tf_target_opts_t opts = tf_replica_target_opts(conf, true, create_root);
    return tf_target_open(&opts, err);
}

/* Reads and parses the sentinel of target NAME (NULL: not known here, the URL says which).
   TF_ERR_NOTFOUND (message from tf_target) when there is none; TF_ERR_INVALID when it is not
   one tapeflow wrote. */
static int
s_sentinel_read(tf_target_t *target, const char *name, s_sentinel_t *s, tf_err_t *err)
{
    memset(s, 0, sizeof *s);
    char *text = NULL;
    size_t len = 0;
    int rc = tf_target_get(target, TF_REPLICA_SENTINEL, S_SENTINEL_MAX, &text, &len, err);
    if (rc == TF_ERR_NOTFOUND)
        return rc;
    if (rc != TF_OK) {
        tf_err_prefix(err, "replica target %s: cannot read " TF_REPLICA_SENTINEL ": ", name ? name : "");
        return rc;
    }
    zconfig_t *zpl = len == strlen(text) ? zconfig_str_load(text) : NULL;
    free(text);
    const char *owner = zpl ? zconfig_get(zpl, "target/name", "") : "";
    const char *id = zpl ? zconfig_get(zpl, "target/id", "") : "";
    if (!*owner || !*id || strlen(owner) >= sizeof s->name || strlen(id) >= sizeof s->id) {
        zconfig_destroy(&zpl);
        return tf_err_set(err, TF_ERR_INVALID, "replica target %s%s(%s): " TF_REPLICA_SENTINEL " is not a "
                          "sentinel tapeflow wrote (no target/name and target/id): move it away and run tapeflow "
                          "replica init %s if this folder is meant to be that target", name ? name : "",
                          name ? " " : "", tf_target_url(target), name ? name : "NAME");
    }
    strcpy(s->name, owner);
    strcpy(s->id, id);
    zconfig_destroy(&zpl);
    return TF_OK;
}

static int
s_sentinel_other(tf_target_t *target, const char *name, const char *other, tf_err_t *err)
{
    return tf_err_set(err, TF_ERR_STATE, "replica target %s (%s): the folder belongs to replication target %s, "
                      "not %s: two targets share a folder or the wrong share is mounted", name,
                      tf_target_url(target), other, name);
}

tf_target_t *
tf_replica_connect(const tf_replica_conf_t *conf, char *id, size_t size, tf_err_t *err)
{
    tf_target_t *target = s_open(conf, false, err);
    if (!target)
        return NULL;
    s_sentinel_t s;
    int rc = s_sentinel_read(target, conf->name, &s, err);
    if (rc == TF_ERR_NOTFOUND)
        tf_err_set(err, TF_ERR_NOTFOUND, "replica target %s (%s) has no " TF_REPLICA_SENTINEL ": this is not the "
                   "folder 'tapeflow replica init %s' prepared - if it is a mount point, the share is not mounted "
                   "(mount it); a new target needs: tapeflow replica init %s", conf->name, tf_target_url(target),
                   conf->name, conf->name);
    else if (rc == TF_OK && strcmp(s.name, conf->name) != 0)
        rc = s_sentinel_other(target, conf->name, s.name, err);
    else if (rc == TF_OK && id && strlen(s.id) >= size)
        rc = tf_err_set(err, TF_ERR_TOOBIG, "target id of %s does not fit %zu bytes", tf_target_url(target), size);
    else if (rc == TF_OK && id)
        strcpy(id, s.id);
    if (rc != TF_OK) {
        tf_target_destroy(&target);
        return NULL;
    }
    return target;
}

int
tf_replica_init(const tf_replica_conf_t *conf, bool *created, char *id, size_t id_size, tf_err_t *err)
{
    *created = false;
    tf_err_t open_err = {0};
    tf_target_t *target = s_open(conf, true, &open_err);
    if (!target) {
        if (err)
            *err = open_err;
        return open_err.code;
    }
    s_sentinel_t s;
    int rc = s_sentinel_read(target, conf->name, &s, err);
    if (rc == TF_OK && strcmp(s.name, conf->name) != 0)
        rc = s_sentinel_other(target, conf->name, s.name, err);
    else if (rc == TF_ERR_NOTFOUND) {
        /* A fresh id from the kernel: two targets initialised alike still differ. */
        uint8_t bits[16];
        if (getrandom(bits, sizeof bits, 0) != (ssize_t) sizeof bits) {
            tf_target_destroy(&target);
            return tf_err_errno(err, TF_ERR_IO, errno, "replica target %s: no random bytes for its id", conf->name);
        }
        for (size_t i = 0; i < sizeof bits; i++)
            snprintf(s.id + 2 * i, 3, "%02x", bits[i]);
        snprintf(s.name, sizeof s.name, "%s", conf->name);
        char created_at[64];
        tf_time_format_utc(tf_clock_wall_ms(), created_at, sizeof created_at);
        char text[S_SENTINEL_MAX];
        int n = snprintf(text, sizeof text, "target\n    name = %s\n    id = %s\n    created = %s\n", s.name,
                         s.id, created_at);
        /* Written under a temporary name and renamed: a crash never leaves half a sentinel,
           and a concurrent init of the same folder loses the rename instead of overwriting. */
        rc = tf_target_put(target, S_SENTINEL_TMP, text, (size_t) n, err);
        if (rc == TF_OK)
            rc = tf_target_rename(target, S_SENTINEL_TMP, TF_REPLICA_SENTINEL, err);
        if (rc == TF_OK)
            rc = tf_target_sync_dir(target, "", err);
        if (rc == TF_OK)
            *created = true;
        else {
            tf_err_t ignored = {0};
            tf_target_remove(target, S_SENTINEL_TMP, &ignored);
            tf_err_prefix(err, "replica target %s: cannot write " TF_REPLICA_SENTINEL ": ", conf->name);
        }
    }
    if (rc == TF_OK && id) {
        if (strlen(s.id) >= id_size)
            rc = tf_err_set(err, TF_ERR_TOOBIG, "replica target %s: its id does not fit %zu bytes", conf->name,
                            id_size);
        else
            strcpy(id, s.id);
    }
    tf_target_destroy(&target);
    return rc;
}

/* ------------------------------------------------------------------ paths ------------- */

/* A path too long for out becomes "..", which every tf_target verb refuses: a cut path must
   never name another file or folder (an empty one would be the root). Ids are at most
   TF_MSG_MAX_ID, so TF_MSG_MAX_PATH buffers never see it. */
static void __attribute__((format(printf, 3, 4)))
s_path(char *out, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, size, fmt, ap);
    va_end(ap);
    if ((n < 0 || (size_t) n >= size) && size >= 3)
        strcpy(out, "..");
}

/* A job or archive id that can be one path component below the root: the ids' safe set
   (tf_id_safe_name: no '/', no '\\', not a dot name like ".partial", "..", the sentinel). Anything
   else must never reach a verb: removing job "" would remove the root. */
static bool
s_id_ok(const char *id)
{
    return tf_id_safe_name(id) && strlen(id) <= TF_MSG_MAX_ID;
}

static void
s_file_path(const char *dir, const char *archive_id, const char *suffix, char *out, size_t size)
{
    if (!s_id_ok(archive_id))
        s_path(out, size, "..");
    else if (dir && *dir)
        s_path(out, size, "%s/%s%s", dir, archive_id, suffix);
    else
        s_path(out, size, "%s%s", archive_id, suffix);
}

void
tf_replica_partial_dir(const char *job_id, char *out, size_t size)
{
    s_path(out, size, TF_REPLICA_PARTIAL "/%s", s_id_ok(job_id) ? job_id : "..");
}

void
tf_replica_job_dir(const char *job_id, char *out, size_t size)
{
    s_path(out, size, "%s", s_id_ok(job_id) ? job_id : "..");
}

void
tf_replica_data_path(const char *dir, const char *archive_id, char *out, size_t size)
{
    s_file_path(dir, archive_id, ".data", out, size);
}

void
tf_replica_rows_path(const char *dir, const char *archive_id, char *out, size_t size)
{
    s_file_path(dir, archive_id, ".rows", out, size);
}

/* ------------------------------------------------------------------ checksum ---------- */

int
tf_replica_checksum(tf_target_t *target, const char *path, size_t chunk, char *checksum, size_t size,
                    uint64_t *bytes, tf_err_t *err)
{
    if (bytes)
        *bytes = 0;
    if (size < TF_CHECKSUM_STRLEN)
        return tf_err_set(err, TF_ERR_INVALID, "checksum buffer of %zu bytes, %d needed", size, TF_CHECKSUM_STRLEN);
    if (chunk == 0)
        chunk = S_CHUNK_DEFAULT;
    uint8_t *buf = malloc(chunk);
    tf_checksum_t *sum = tf_checksum_new();
    if (!buf || !sum) {
        free(buf);
        tf_checksum_destroy(&sum);
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory for a read buffer of %zu bytes", chunk);
    }
    tf_target_file_t *file = NULL;
    int rc = tf_target_open_read(target, path, &file, err);
    uint64_t total = 0;
    while (rc == TF_OK) {
        size_t got = 0;
        rc = tf_target_read(file, buf, chunk, &got, err);
        if (rc != TF_OK || got == 0)
            break;
        tf_checksum_update(sum, buf, got);
        total += got;
    }
    if (file) {
        tf_err_t close_err = {0};
        int crc = tf_target_close(&file, &close_err);
        if (rc == TF_OK && crc != TF_OK) {
            rc = crc;
            if (err)
                *err = close_err;
        }
    }
    if (rc == TF_OK) {
        char out[TF_CHECKSUM_STRLEN];
        tf_checksum_format(sum, out);
        memcpy(checksum, out, TF_CHECKSUM_STRLEN);
        if (bytes)
            *bytes = total;
    }
    free(buf);
    tf_checksum_destroy(&sum);
    return rc;
}

/* ------------------------------------------------------------------ manifest ---------- */

static void
s_archive_clear(tf_msg_replica_archive_t *a)
{
    free(a->archive_id);
    free(a->checksum);
    free(a->rows_checksum);
    free(a->compression);
    free(a->host);
    memset(a, 0, sizeof *a);
}

void
tf_replica_manifest_clear(tf_replica_manifest_t *m)
{
    if (!m)
        return;
    free(m->job_id);
    free(m->target);
    free(m->target_id);
    free(m->pool);
    free(m->level);
    free(m->base_job);
    free(m->tool_version);
    for (size_t i = 0; i < m->archives_count; i++)
        s_archive_clear(&m->archives[i]);
    free(m->archives);
    memset(m, 0, sizeof *m);
}

/* The field a manifest needs but m lacks, or NULL: a commit marker that could not be read
   back must never be written. */
static const char *
s_manifest_missing(const tf_replica_manifest_t *m)
{
    const char *top[][2] = {{"job_id", m->job_id}, {"target", m->target}, {"target_id", m->target_id},
                            {"pool", m->pool}, {"level", m->level}};
    for (size_t i = 0; i < sizeof top / sizeof top[0]; i++)
        if (!top[i][1] || !*top[i][1])
            return top[i][0];
    for (size_t i = 0; i < m->archives_count; i++) {
        const tf_msg_replica_archive_t *a = &m->archives[i];
        if (!a->archive_id || !*a->archive_id)
            return "archive_id";
        if (!a->checksum || !*a->checksum)
            return "checksum";
        if (!a->compression || !*a->compression)
            return "compression";
        if (a->rows_size > 0 && (!a->rows_checksum || !*a->rows_checksum))
            return "rows_checksum";
    }
    return NULL;
}

int
tf_replica_manifest_write(tf_target_t *target, const char *dir, const tf_replica_manifest_t *m, tf_err_t *err)
{
    const char *missing = s_manifest_missing(m);
    if (missing)
        return tf_err_set(err, TF_ERR_INVALID, "manifest of job %s for %s lacks %s: not written",
                          m->job_id ? m->job_id : "(none)", tf_target_url(target), missing);
    /* The sums are computed here so the totals can never disagree with the archives. */
    uint64_t files = 0, bytes = 0, stored = 0;
    for (size_t i = 0; i < m->archives_count; i++) {
        files += m->archives[i].files;
        bytes += m->archives[i].bytes;
        stored += m->archives[i].size;
    }
    tf_json_t *json = tf_json_new();
    if (!json)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory for manifest.json");
    tf_json_document_begin(json);
    tf_json_int(json, "format", TF_REPLICA_FORMAT);
    tf_json_str(json, "job_id", m->job_id);
    tf_json_str(json, "target", m->target);
    tf_json_str(json, "target_id", m->target_id);
    tf_json_str(json, "pool", m->pool);
    tf_json_str(json, "level", m->level);
    tf_json_str(json, "base_job", m->base_job && *m->base_job ? m->base_job : NULL);
    tf_json_int(json, "created_ms", m->created_ms);
    tf_json_int(json, "committed_ms", m->committed_ms);
    tf_json_str(json, "tool_version", m->tool_version && *m->tool_version ? m->tool_version : TAPEFLOW_VERSION);
    tf_json_int(json, "files", (int64_t) files);
    tf_json_int(json, "bytes", (int64_t) bytes);
    tf_json_int(json, "stored", (int64_t) stored);
    tf_json_array_begin(json, "archives");
    for (size_t i = 0; i < m->archives_count; i++) {
        const tf_msg_replica_archive_t *a = &m->archives[i];
        tf_json_object_begin(json, NULL);
        tf_json_str(json, "archive_id", a->archive_id);
        tf_json_int(json, "group_no", (int64_t) a->group_no);
        tf_json_int(json, "size", (int64_t) a->size);
        tf_json_str(json, "checksum", a->checksum);
        tf_json_int(json, "rows_size", (int64_t) a->rows_size);
        tf_json_str(json, "rows_checksum", a->rows_checksum && *a->rows_checksum ? a->rows_checksum : NULL);
        tf_json_int(json, "files", (int64_t) a->files);
        tf_json_int(json, "bytes", (int64_t) a->bytes);
        tf_json_str(json, "compression", a->compression);
        tf_json_str(json, "host", a->host && *a->host ? a->host : NULL);
        tf_json_object_end(json);
    }
    tf_json_array_end(json);
    tf_json_object_end(json);
    const char *text = tf_json_text(json);
    if (!text) {
        tf_json_destroy(&json);
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory for manifest.json");
    }
    char tmp[TF_MSG_MAX_PATH], path[TF_MSG_MAX_PATH];
    s_file_path(dir, S_MANIFEST_TMP, "", tmp, sizeof tmp);
    s_file_path(dir, TF_REPLICA_MANIFEST, "", path, sizeof path);
    /* A temporary file a crash left behind is stale; the rename below would not mind it, but
       tf_target_create truncates anyway. put syncs and closes (checking the close). */
    int rc = tf_target_put(target, tmp, text, strlen(text), err);
    tf_json_destroy(&json);
    if (rc == TF_OK) {
        rc = tf_target_rename(target, tmp, path, err);
        if (rc == TF_ERR_STATE)
            tf_err_set(err, TF_ERR_STATE, "%s already exists on %s: the job is committed there already", path,
                       tf_target_url(target));
    }
    if (rc == TF_OK)
        rc = tf_target_sync_dir(target, dir ? dir : "", err);
    if (rc != TF_OK) {
        tf_err_t ignored = {0};
        tf_target_remove(target, tmp, &ignored);
        if (rc != TF_ERR_STATE)
            tf_err_prefix(err, "writing %s on %s: ", path, tf_target_url(target));
    }
    return rc;
}

/* Type-checked access to a manifest's JSON: the first problem found names the field. */
typedef struct {
    const char *where;           /* "J/manifest.json on URL" */
    tf_err_t *err;
    int rc;
} s_reader_t;

static json_t *
s_field(s_reader_t *r, json_t *obj, const char *prefix, const char *key, bool required)
{
    if (r->rc != TF_OK)
        return NULL;
    json_t *v = json_object_get(obj, key);
    if ((!v || json_is_null(v)) && required)
        r->rc = tf_err_set(r->err, TF_ERR_INVALID, "%s lacks %s%s: the manifest is damaged; the copy is not "
                           "trusted (remove the job's folder on the target and back the job up again)", r->where,
                           prefix, key);
    return v && !json_is_null(v) ? v : NULL;
}

static char *
s_str(s_reader_t *r, json_t *obj, const char *prefix, const char *key, bool required)
{
    json_t *v = s_field(r, obj, prefix, key, required);
    if (!v)
        return NULL;
    if (!json_is_string(v)) {
        r->rc = tf_err_set(r->err, TF_ERR_INVALID, "%s: %s%s is not a string", r->where, prefix, key);
        return NULL;
    }
    char *s = strdup(json_string_value(v));
    if (!s)
        r->rc = tf_err_set(r->err, TF_ERR_NOMEM, "out of memory reading %s", r->where);
    return s;
}

static int64_t
s_int(s_reader_t *r, json_t *obj, const char *prefix, const char *key, bool required)
{
    json_t *v = s_field(r, obj, prefix, key, required);
    if (!v)
        return 0;
    if (!json_is_integer(v)) {
        r->rc = tf_err_set(r->err, TF_ERR_INVALID, "%s: %s%s is not a whole number", r->where, prefix, key);
        return 0;
    }
    return (int64_t) json_integer_value(v);
}

static uint64_t
s_uint(s_reader_t *r, json_t *obj, const char *prefix, const char *key, bool required)
{
    int64_t v = s_int(r, obj, prefix, key, required);
    if (r->rc == TF_OK && v < 0) {
        r->rc = tf_err_set(r->err, TF_ERR_INVALID, "%s: %s%s is negative (%" PRId64 ")", r->where, prefix, key, v);
        return 0;
    }
    return (uint64_t) v;
}

static void
s_archive_read(s_reader_t *r, json_t *obj, size_t index, tf_msg_replica_archive_t *a)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "archives[%zu].", index);
    if (r->rc == TF_OK && !json_is_object(obj)) {
        r->rc = tf_err_set(r->err, TF_ERR_INVALID, "%s: archives[%zu] is not an object", r->where, index);
        return;
    }
    a->archive_id = s_str(r, obj, prefix, "archive_id", true);
    a->group_no = s_uint(r, obj, prefix, "group_no", true);
    a->size = s_uint(r, obj, prefix, "size", true);
    a->checksum = s_str(r, obj, prefix, "checksum", true);
    a->rows_size = s_uint(r, obj, prefix, "rows_size", true);
    a->rows_checksum = s_str(r, obj, prefix, "rows_checksum", a->rows_size > 0);
    a->files = s_uint(r, obj, prefix, "files", true);
    a->bytes = s_uint(r, obj, prefix, "bytes", true);
    a->compression = s_str(r, obj, prefix, "compression", true);
    a->host = s_str(r, obj, prefix, "host", false);
}

int
tf_replica_manifest_read(tf_target_t *target, const char *job_id, tf_replica_manifest_t *m, tf_err_t *err)
{
    memset(m, 0, sizeof *m);
    char path[TF_MSG_MAX_PATH];
    char dir[TF_MSG_MAX_PATH];
    tf_replica_job_dir(job_id, dir, sizeof dir);
    s_file_path(dir, TF_REPLICA_MANIFEST, "", path, sizeof path);
    char where[TF_MSG_MAX_PATH + 64];
    snprintf(where, sizeof where, "%s on %s", path, tf_target_url(target));
    char *text = NULL;
    size_t len = 0;
    int rc = tf_target_get(target, path, S_MANIFEST_MAX, &text, &len, err);
    if (rc == TF_ERR_NOTFOUND)
        return tf_err_set(err, TF_ERR_NOTFOUND, "job %s is not committed on %s: it has no %s", job_id,
                          tf_target_url(target), path);
    if (rc != TF_OK) {
        tf_err_prefix(err, "reading %s: ", where);
        return rc;
    }
    json_error_t jerr;
    json_t *root = json_loadb(text, len, 0, &jerr);
    free(text);
    if (!root)
        return tf_err_set(err, TF_ERR_INVALID, "%s does not parse (line %d column %d: %s): the manifest is damaged",
                          where, jerr.line, jerr.column, jerr.text);
    s_reader_t r = {.where = where, .err = err, .rc = TF_OK};
    if (!json_is_object(root))
        r.rc = tf_err_set(err, TF_ERR_INVALID, "%s is not a JSON object", where);
    s_int(&r, root, "", "schema", true);
    m->format = s_uint(&r, root, "", "format", true);
    if (r.rc == TF_OK && m->format != TF_REPLICA_FORMAT)
        r.rc = tf_err_set(err, TF_ERR_UNSUPPORTED, "%s has format %" PRIu64 ", this tapeflow (%s) reads format %d: "
                          "use the tapeflow version that wrote it", where, m->format, TAPEFLOW_VERSION,
                          TF_REPLICA_FORMAT);
    m->job_id = s_str(&r, root, "", "job_id", true);
    if (r.rc == TF_OK && strcmp(m->job_id, job_id) != 0)
        r.rc = tf_err_set(err, TF_ERR_INVALID, "%s names job %s, not %s: the folder was renamed or copied by hand",
                          where, m->job_id, job_id);
    m->target = s_str(&r, root, "", "target", true);
    m->target_id = s_str(&r, root, "", "target_id", true);
    m->pool = s_str(&r, root, "", "pool", true);
    m->level = s_str(&r, root, "", "level", true);
    m->base_job = s_str(&r, root, "", "base_job", false);
    m->created_ms = s_int(&r, root, "", "created_ms", true);
    m->committed_ms = s_int(&r, root, "", "committed_ms", true);
    m->tool_version = s_str(&r, root, "", "tool_version", true);
    m->files = s_uint(&r, root, "", "files", true);
    m->bytes = s_uint(&r, root, "", "bytes", true);
    m->stored = s_uint(&r, root, "", "stored", true);
    json_t *archives = s_field(&r, root, "", "archives", true);
    if (r.rc == TF_OK && !json_is_array(archives))
        r.rc = tf_err_set(err, TF_ERR_INVALID, "%s: archives is not an array", where);
    size_t n = r.rc == TF_OK ? json_array_size(archives) : 0;
    if (n > 0) {
        m->archives = calloc(n, sizeof *m->archives);
        if (!m->archives)
            r.rc = tf_err_set(err, TF_ERR_NOMEM, "out of memory reading %s", where);
        else
            m->archives_count = n;
    }
    for (size_t i = 0; i < m->archives_count && r.rc == TF_OK; i++)
        s_archive_read(&r, json_array_get(archives, i), i, &m->archives[i]);
    json_decref(root);
    if (r.rc != TF_OK)
        tf_replica_manifest_clear(m);
    return r.rc;
}

/* ------------------------------------------------------------------ list -------------- */

static int
s_entries_add(tf_replica_entry_t **entries, size_t *count, size_t *cap, const tf_target_entry_t *e,
              bool in_partial, tf_err_t *err)
{
    if (*count == *cap) {
        size_t grow = *cap ? *cap * 2 : 16;
        tf_replica_entry_t *more = realloc(*entries, grow * sizeof *more);
        if (!more)
            return tf_err_set(err, TF_ERR_NOMEM, "out of memory listing a replica target");
        *entries = more;
        *cap = grow;
    }
    tf_replica_entry_t *entry = &(*entries)[(*count)++];
    memset(entry, 0, sizeof *entry);
    size_t len = strnlen(e->name, sizeof e->name);
    if (len >= sizeof entry->job_id)
        len = sizeof entry->job_id - 1;   /* callers skip longer names */
    memcpy(entry->job_id, e->name, len);
    entry->job_id[len] = '\0';
    entry->mtime_ms = e->mtime_ms;
    entry->in_partial = in_partial;
    return TF_OK;
}

int
tf_replica_list(tf_target_t *target, tf_replica_entry_t **entries, size_t *count, tf_err_t *err)
{
    *entries = NULL;
    *count = 0;
    size_t cap = 0;
    tf_target_entry_t *root = NULL, *partial = NULL;
    size_t nroot = 0, npartial = 0;
    int rc = tf_target_list(target, "", &root, &nroot, err);
    for (size_t i = 0; rc == TF_OK && i < nroot; i++) {
        /* Dot entries are tapeflow's own (.partial, the sentinel) or not a job's. */
        if (!root[i].is_dir || root[i].name[0] == '.' || strlen(root[i].name) > TF_MSG_MAX_ID)
            continue;
        rc = s_entries_add(entries, count, &cap, &root[i], false, err);
        if (rc != TF_OK)
            break;
        tf_replica_entry_t *entry = &(*entries)[*count - 1];
        rc = tf_replica_entry_read(target, entry->job_id, entry, err);
    }
    if (rc == TF_OK) {
        int prc = tf_target_list(target, TF_REPLICA_PARTIAL, &partial, &npartial, err);
        if (prc != TF_OK && prc != TF_ERR_NOTFOUND)
            rc = prc;
    }
    for (size_t i = 0; rc == TF_OK && i < npartial; i++) {
        if (!partial[i].is_dir || partial[i].name[0] == '.' || strlen(partial[i].name) > TF_MSG_MAX_ID)
            continue;
        rc = s_entries_add(entries, count, &cap, &partial[i], true, err);
    }
    free(root);
    free(partial);
    if (rc != TF_OK) {
        tf_replica_list_free(entries, *count);
        *count = 0;
        tf_err_prefix(err, "listing %s: ", tf_target_url(target));
    } else if (err)
        tf_err_clear(err);
    return rc;
}

void
tf_replica_list_free(tf_replica_entry_t **entries, size_t count)
{
    if (!entries || !*entries)
        return;
    for (size_t i = 0; i < count; i++)
        tf_replica_manifest_clear(&(*entries)[i].manifest);
    free(*entries);
    *entries = NULL;
}

/* ------------------------------------------------------------------ verify ------------ */

/* Checks one file; *bad grows and report hears of it when it differs or is missing. */
static int
s_verify_file(tf_target_t *target, const char *path, uint64_t size, const char *checksum, size_t chunk,
              size_t *bad, tf_replica_report_fn *report, void *arg, tf_err_t *err)
{
    char got[TF_CHECKSUM_STRLEN];
    uint64_t bytes = 0;
    tf_err_t ferr = {0};
    int rc = tf_replica_checksum(target, path, chunk, got, sizeof got, &bytes, &ferr);
    char problem[TF_ERR_MESSAGE_MAX] = "";
    if (rc == TF_ERR_NOTFOUND)
        snprintf(problem, sizeof problem, "missing");
    else if (rc != TF_OK) {
        if (err)
            *err = ferr;
        tf_err_prefix(err, "verifying %s on %s: ", path, tf_target_url(target));
        return rc;
    } else if (bytes != size)
        snprintf(problem, sizeof problem, "size %" PRIu64 " bytes, the manifest says %" PRIu64, bytes, size);
    else if (!checksum || strcmp(got, checksum) != 0)
        snprintf(problem, sizeof problem, "checksum %s differs from the manifest's %s", got,
                 checksum ? checksum : "(none)");
    if (*problem)
        (*bad)++;
    if (report)
        report(arg, path, *problem ? problem : NULL);
    return TF_OK;
}

int
tf_replica_verify(tf_target_t *target, const tf_replica_manifest_t *m, size_t chunk, size_t *bad,
                  tf_replica_report_fn *report, void *arg, tf_err_t *err)
{
    *bad = 0;
    char dir[TF_MSG_MAX_PATH], path[TF_MSG_MAX_PATH];
    tf_replica_job_dir(m->job_id, dir, sizeof dir);
    int rc = TF_OK;
    for (size_t i = 0; rc == TF_OK && i < m->archives_count; i++) {
        const tf_msg_replica_archive_t *a = &m->archives[i];
        tf_replica_data_path(dir, a->archive_id, path, sizeof path);
        rc = s_verify_file(target, path, a->size, a->checksum, chunk, bad, report, arg, err);
        /* An archive without file rows has no sidecar. */
        if (rc == TF_OK && (a->rows_size > 0 || (a->rows_checksum && *a->rows_checksum))) {
            tf_replica_rows_path(dir, a->archive_id, path, sizeof path);
            rc = s_verify_file(target, path, a->rows_size, a->rows_checksum, chunk, bad, report, arg, err);
        }
    }
    return rc;
}

/* ------------------------------------------------------------------ retention --------- */

static const char *const s_keep_all = "no replica retention limit (replica_keep_last and replica_keep_days are 0)";
static const char *const s_keep_last = "among the newest (replica_keep_last)";
static const char *const s_keep_days = "younger than replica_keep_days";
static const char *const s_keep_only = "the only verified replica of a job within its retention";
static const char *const s_keep_base = "the base of a job that stays";

/* True when a is newer than b (created_ms, then job id for a stable order). */
static bool
s_newer(const tf_replica_keep_t *a, const tf_replica_keep_t *b)
{
    if (a->created_ms != b->created_ms)
        return a->created_ms > b->created_ms;
    return strcmp(a->job_id ? a->job_id : "", b->job_id ? b->job_id : "") > 0;
}

void
tf_replica_retention(tf_replica_keep_t *jobs, size_t count, uint64_t keep_last, uint64_t keep_days,
                     int64_t now_ms)
{
    for (size_t i = 0; i < count; i++) {
        tf_replica_keep_t *job = &jobs[i];
        job->keep_reason = NULL;
        if (keep_last == 0 && keep_days == 0) {
            job->keep_reason = s_keep_all;
            continue;
        }
        if (keep_last > 0) {
            /* Rank without sorting (no allocation; a target holds hundreds of jobs at most). */
            uint64_t newer = 0;
            for (size_t j = 0; j < count; j++)
                if (j != i && s_newer(&jobs[j], job))
                    newer++;
            if (newer < keep_last)
                job->keep_reason = s_keep_last;
        }
        if (!job->keep_reason && keep_days > 0 && now_ms - job->created_ms < (int64_t) keep_days * S_DAY_MS)
            job->keep_reason = s_keep_days;
        if (!job->keep_reason && job->only_copy && job->within_retention)
            job->keep_reason = s_keep_only;
    }
    /* A kept job keeps its chain: mark bases until nothing changes (each pass marks at least
       one more job, so count passes suffice even for a cycle). */
    bool changed = true;
    for (size_t pass = 0; changed && pass < count; pass++) {
        changed = false;
        for (size_t i = 0; i < count; i++) {
            if (!jobs[i].keep_reason || !jobs[i].base_job || !*jobs[i].base_job)
                continue;
            for (size_t j = 0; j < count; j++)
                if (!jobs[j].keep_reason && jobs[j].job_id && strcmp(jobs[j].job_id, jobs[i].base_job) == 0) {
                    jobs[j].keep_reason = s_keep_base;
                    changed = true;
                }
        }
    }
}

int
tf_replica_entry_read(tf_target_t *target, const char *job_id, tf_replica_entry_t *entry, tf_err_t *err)
{
    if (entry->job_id != job_id)
        snprintf(entry->job_id, sizeof entry->job_id, "%s", job_id);
    entry->committed = entry->manifest_ok = false;
    entry->problem[0] = '\0';
    tf_err_t merr = {0};
    int mrc = tf_replica_manifest_read(target, job_id, &entry->manifest, &merr);
    if (mrc == TF_OK) {
        entry->committed = true;
        entry->manifest_ok = true;
    } else if (mrc == TF_ERR_INVALID || mrc == TF_ERR_UNSUPPORTED || mrc == TF_ERR_TOOBIG) {
        /* It is committed (the marker is there) but unreadable: say why, list on. */
        entry->committed = true;
        snprintf(entry->problem, sizeof entry->problem, "%s", merr.message);
    } else if (mrc != TF_ERR_NOTFOUND) {
        if (err)
            *err = merr;
        return mrc;
    }
    return TF_OK;
}
