/*  tf_config - tapeflow configuration: a ZPL file (czmq zconfig) over one table of keys.

    One table (tf_config.c s_keys) holds every key: its type, allowed range or values, default
    and a one-line help. Patterned keys (drives/<name>/url, pools/<name>/retention,
    actors/<name>/instances, changers/<name>/drive<n>) match any name. tf_config_open refuses a
    file with an unknown key or a value its type does not allow, naming the file, the line and
    the allowed values, so every program finds problems at start rather than at use; once a
    configuration is open, the typed getters cannot fail.

    Values may refer to ${home}, ${run} and ${log}; they are expanded when read. The home folder
    is the config's tapeflow/home, else $TAPEFLOW_HOME, else /var/lib/tapeflow for root and
    ~/.local/share/tapeflow for others.

    Example file:
        broker
            endpoint = tcp://0.0.0.0:5555
        actors
            echo
                instances = 2
*/
#ifndef TF_CONFIG_H_INCLUDED
#define TF_CONFIG_H_INCLUDED
#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "tf_err.h"

typedef struct _tf_config_t tf_config_t;

/* Value types of the key table. */
typedef enum {
    TF_CONFIG_STRING,    /* any text */
    TF_CONFIG_PATH,      /* a file or folder, not empty */
    TF_CONFIG_NAME,      /* one name: letters, digits, '-', '_', '.'; may be empty */
    TF_CONFIG_NAMES,     /* names separated by spaces or commas */
    TF_CONFIG_INT,       /* whole number in [min, max] */
    TF_CONFIG_SIZE,      /* bytes: 65536, 512K, 64M, 1G, 2T */
    TF_CONFIG_MS,        /* duration, a bare number is milliseconds: 500, 2s, 5m, 12h, 1d */
    TF_CONFIG_SECONDS,   /* duration, a bare number is seconds: 600, 10m, 7d */
    TF_CONFIG_BOOL,      /* 1/0, true/false, yes/no, on/off */
    TF_CONFIG_ENUM,      /* one of the listed values */
    TF_CONFIG_ENDPOINT,  /* ZeroMQ endpoint: ipc://PATH, tcp://HOST:PORT, inproc://NAME */
    TF_CONFIG_URL,       /* drive or changer URL (checked by the drive layer) */
    TF_CONFIG_RETENTION  /* a bare number is days; 90s, 12h, 30d, 4w; or never */
} tf_config_type_t;

/* One row of the key table, as tf_config_keys() shows it. */
typedef struct {
    const char *key;         /* "broker/heartbeat" or a pattern "pools/<name>/retention" */
    tf_config_type_t type;
    const char *value;       /* default (unexpanded); NULL: unset unless configured */
    int64_t min, max;        /* INT, SIZE (bytes), MS / SECONDS (milliseconds) */
    const char *values;      /* ENUM: "zstd|gzip|none" */
    const char *names;       /* pattern rows: names that exist without configuration */
    const char *help;
} tf_config_key_t;

/* Defaults only. */
tf_config_t *tf_config_new(void);
/* Loads path, or $TAPEFLOW_CONFIG, or /etc/tapeflow/tapeflow.cfg when it exists; else defaults.
   An explicit path that does not exist or does not parse is an error, and so is any problem
   tf_config_check finds (the message names the first one, the file and its line). */
tf_config_t *tf_config_open(const char *path, tf_err_t *err);
/* Like tf_config_open without the check: for 'tapeflow config check', which lists them all. */
tf_config_t *tf_config_load(const char *path, tf_err_t *err);
void tf_config_destroy(tf_config_t **self_p);

/* Appends one line per problem ("FILE line N: KEY = 'V' ...; allowed: ...") to problems
   (autofree strings). Returns the number of problems. Besides what tf_config_open refuses, it
   reports a pool whose retention is under a day without pools/<pool>/allow_zero_retention, in
   the words a backup of that pool is refused with (tf_config_pool_retention); that does not
   stop the programs from starting, only that pool's backups. */
size_t tf_config_check(tf_config_t *self, zlist_t *problems);

/* Expanded value of "section/key", the default when unset, NULL when unknown or unset without
   a default. The string lives until the next tf_config_set or destroy. */
const char *tf_config_get(tf_config_t *self, const char *path);

/* Typed getters for keys of the table. The value was checked when the configuration was
   opened; a value set later by tf_config_set that does not parse gives the key's default. */
int64_t tf_config_int(tf_config_t *self, const char *path);     /* INT, SIZE (bytes) */
int64_t tf_config_size(tf_config_t *self, const char *path);    /* SIZE: bytes */
int64_t tf_config_ms(tf_config_t *self, const char *path);      /* MS, SECONDS: milliseconds */
bool tf_config_bool(tf_config_t *self, const char *path);
/* Expanded string, "" when unset. */
const char *tf_config_str(tf_config_t *self, const char *path);

/* Overrides a value in memory (tests), unchecked. */
int tf_config_set(tf_config_t *self, const char *path, const char *value);
/* Overrides a value after checking key and value against the table (command-line --set). */
int tf_config_override(tf_config_t *self, const char *path, const char *value, tf_err_t *err);
/* Number of keys overridden in memory (tf_config_set, tf_config_override). */
size_t tf_config_overrides(tf_config_t *self);

/* File the values came from, or NULL for defaults only. */
const char *tf_config_file(tf_config_t *self);
/* Names of the children of a section (e.g. "actors"), from the table and file; caller destroys. */
zlist_t *tf_config_children(tf_config_t *self, const char *section);
/* Writes the effective configuration (defaults and overrides, unexpanded) as ZPL. */
int tf_config_save(tf_config_t *self, const char *path, tf_err_t *err);

/* The key table: rows in order, NULL past the end. */
const tf_config_key_t *tf_config_keys(size_t index);
/* The row a concrete key matches (exact rows before patterns), or NULL when unknown. */
const tf_config_key_t *tf_config_lookup(const char *path);
/* "bool", "size", ... */
const char *tf_config_type_name(tf_config_type_t type);

/* True for a character a NAME value may hold (letters, digits, '-', '_', '.'): the one rule for
   names, host names included. */
bool tf_config_name_char(char c);
/* What a row allows, in words: "a whole number from 1 to 100", "zstd, gzip or none". */
const char *tf_config_allowed(const tf_config_key_t *row, char *buf, size_t size);

/* Where a key's effective value comes from: "default", "FILE:LINE", "override" or
   "environment" (tapeflow/home from $TAPEFLOW_HOME). */
const char *tf_config_source(tf_config_t *self, const char *path, char *buf, size_t size);
/* Every concrete key with a value or a default: table rows, pattern rows for each name the
   file or the table has, and file keys. Sorted; caller destroys. */
zlist_t *tf_config_effective_keys(tf_config_t *self);

/* Appends one line per warning ("FILE line N: up/actors is deprecated: ...") to warnings
   (autofree strings): settings that still work but should be changed. Returns the number. */
size_t tf_config_warnings(tf_config_t *self, zlist_t *warnings);

/* The processes 'tapeflow up' runs on this host, in order, each once: the words of up/roles
   with agent spelled out (scanner compressor extractor). A configuration that sets the
   deprecated up/actors and not up/roles means "broker bus" and those actors. zlist_exists
   finds a role by name. Caller destroys; NULL when out of memory. */
zlist_t *tf_config_roles(tf_config_t *self);
/* False for the roles that are not actors (broker, bus); an actor role runs tapeflow-<role>. */
bool tf_config_role_is_actor(const char *role);

/* Services the broker accepts work for: the service of every actor the key table or the file
   knows and of every role (catalog, scan, compress, extract, stager, tape, echo, ...: agents on
   other hosts register theirs), broker/job_service and broker/services. Caller destroys. */
zlist_t *tf_config_services(tf_config_t *self);
/* The service an actor program registers for ("scanner" -> "scan"); the name itself if unknown. */
const char *tf_config_actor_service(const char *actor);

/* Duration text to ms: a bare number counts unit_ms each; suffixes ms, s, m, h, d, w. */
int tf_config_parse_duration(const char *text, int64_t unit_ms, int64_t *ms);

/* Retention of a pool that keeps its volumes forever ("never"). */
#define TF_CONFIG_RETENTION_NEVER INT64_MAX
/* Shortest retention allowed without pools/<pool>/allow_zero_retention: one day. */
#define TF_CONFIG_RETENTION_MIN_MS (86400LL * 1000)
/* A retention period: a duration (a bare number is days) or "never" (TF_CONFIG_RETENTION_NEVER).
   0 or -1 when it does not parse. */
int tf_config_parse_retention(const char *text, int64_t *ms);
/* pools/<pool>/retention in ms, the one reading for every program and for 'config check': a
   value that does not parse, or one under a day without pools/<pool>/allow_zero_retention (a
   yes/no value), is TF_ERR_INVALID with a message naming the key, the file and what to do. */
int tf_config_pool_retention(tf_config_t *self, const char *pool, int64_t *ms, tf_err_t *err);

#endif
