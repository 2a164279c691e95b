/*  tf_config - ZPL configuration over one table of keys (see tf_config.h). */
#include "tf_config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tf_log.h"
#include "tf_units.h"

struct _tf_config_t {
    zconfig_t *root;       /* file contents plus tf_config_set overrides */
    char *file;            /* path loaded, or NULL */
    zhashx_t *lines;       /* path -> line number in the file (intptr_t) */
    zhashx_t *overrides;   /* paths set after loading (value unused) */
    zhashx_t *expanded;    /* path -> expanded value, owned; cleared on set */
};

#define S_MS 1LL
#define S_SEC 1000LL
#define S_MIN (60 * S_SEC)
#define S_HOUR (60 * S_MIN)
#define S_DAY (24 * S_HOUR)
#define S_KIB 1024LL
#define S_MIB (1024 * S_KIB)
#define S_GIB (1024 * S_MIB)
#define S_TIB (1024 * S_GIB)

/* Every key tapeflow reads. Paths use ZPL's section/key form; <name> matches any one name,
   drive<n> any drive number. Exact rows win over patterns. docs/operations.md shows this table
   ('tapeflow config show' prints it with the effective values). */
static const tf_config_key_t s_keys[] = {
    /* type, default, min, max, values, names, help */
    {"tapeflow/home", TF_CONFIG_PATH, NULL, 0, 0, NULL, NULL,
     "data folder, base of ${run} and ${log} ($TAPEFLOW_HOME, /var/lib/tapeflow for root, "
     "~/.local/share/tapeflow)"},
    {"tapeflow/run", TF_CONFIG_PATH, "${home}/run", 0, 0, NULL, NULL,
     "sockets, pid file and state file"},
    {"tapeflow/log", TF_CONFIG_PATH, "${home}/log", 0, 0, NULL, NULL, "log files"},
    {"tapeflow/log_level", TF_CONFIG_ENUM, "info", 0, 0, "debug|info|warn|error", NULL,
     "least important log records written"},
    {"tapeflow/host", TF_CONFIG_NAME, NULL, 0, 0, NULL, NULL,
     "this host's name in tapeflow: agents register under it, HOST:/path names it (default: "
     "the machine's host name)"},

    {"keys/dir", TF_CONFIG_PATH, "${home}/keys", 0, 0, NULL, NULL,
     "CURVE keys: this host's certificate (host.cert, host.cert_secret) and trusted/ peers; "
     "tcp endpoints need them (tapeflow keys init)"},
    {"keys/server", TF_CONFIG_STRING, "", 0, 0, NULL, NULL,
     "public key (Z85) or trusted name of the tape server that serves broker/endpoint and "
     "bus/*; empty: this host's own key"},

    {"broker/endpoint", TF_CONFIG_ENDPOINT, "ipc://${run}/broker.sock", 0, 0, NULL, NULL,
     "where the broker binds and clients and workers connect"},
    {"broker/journal", TF_CONFIG_PATH, "${home}/broker.db", 0, 0, NULL, NULL,
     "SQLite journal of queued and in-flight items"},
    {"broker/heartbeat", TF_CONFIG_MS, "1000", 10, 10 * S_MIN, NULL, NULL,
     "time between heartbeats, both ways"},
    {"broker/liveness", TF_CONFIG_INT, "3", 1, 100, NULL, NULL,
     "missed heartbeats before a peer is declared dead"},
    {"broker/max_attempts", TF_CONFIG_INT, "5", 1, 1000, NULL, NULL,
     "deliveries of one item before it is failed for good"},
    {"broker/max_message", TF_CONFIG_SIZE, "67108864", 64 * S_KIB, 4 * S_GIB, NULL, NULL,
     "largest message any receiving socket accepts (ZMQ_MAXMSGSIZE)"},
    {"broker/keep_done", TF_CONFIG_SECONDS, "604800", S_SEC, 3650 * S_DAY, NULL, NULL,
     "how long finished items stay queryable"},
    {"broker/job_service", TF_CONFIG_NAME, "catalog", 0, 0, NULL, NULL,
     "service told (cat_job failed) when a job's item fails for good"},
    {"broker/services", TF_CONFIG_NAMES, "", 0, 0, NULL, NULL,
     "services accepted besides those of the configured actors (workers of other programs)"},
    {"broker/reject_log", TF_CONFIG_INT, "10", 0, 1000000, NULL, NULL,
     "malformed messages logged one by one per peer before a summary per minute"},
    {"broker/reject_log_minute", TF_CONFIG_INT, "100", 1, 1000000, NULL, NULL,
     "refused messages logged one by one per minute across all peers (many short-lived peers)"},
    {"broker/host_wait_alert", TF_CONFIG_MS, "30000", 1000, S_DAY, NULL, NULL,
     "an item for a host with no live worker of its service waits this long before an alert "
     "(alert.worker.<service>) and a job message; repeated at most once per this interval"},

    {"bus/frontend", TF_CONFIG_ENDPOINT, "ipc://${run}/bus-in.sock", 0, 0, NULL, NULL,
     "publishers connect here (XSUB)"},
    {"bus/backend", TF_CONFIG_ENDPOINT, "ipc://${run}/bus-out.sock", 0, 0, NULL, NULL,
     "subscribers connect here (XPUB), e.g. tapeflow events"},
    {"bus/hwm", TF_CONFIG_INT, "10000", 1, 10000000, NULL, NULL,
     "events queued per peer before they are dropped"},

    {"up/roles", TF_CONFIG_NAMES,
     "broker bus catalog labeller scanner compressor stager tapewriter extractor scheduler replicator", 0, 0,
     NULL, NULL,
     "processes 'tapeflow up' runs on this host: broker bus catalog labeller stager tapewriter "
     "scanner compressor extractor scheduler replicator, agent (= scanner compressor extractor) or another actor's "
     "name (echo is the test actor); without broker and bus the workers connect to "
     "broker/endpoint on the tape server"},
    /* Before issue 10: read as up/roles = "broker bus" + its actors when up/roles is not set,
       so old configuration files keep working; 'tapeflow config check' warns. */
    {"up/actors", TF_CONFIG_NAMES, NULL, 0, 0, NULL, NULL,
     "deprecated, use up/roles: the actors 'tapeflow up' runs besides broker and bus"},
    {"up/restart_min", TF_CONFIG_MS, "500", 10, S_HOUR, NULL, NULL,
     "first restart delay of a crashed child"},
    {"up/restart_max", TF_CONFIG_MS, "30000", 10, S_DAY, NULL, NULL,
     "restart delay cap (the delay doubles per crash)"},
    {"up/stable_after", TF_CONFIG_MS, "60000", 0, S_DAY, NULL, NULL,
     "a child up this long has its restart delay reset"},
    {"up/stop_timeout", TF_CONFIG_MS, "10000", 0, S_HOUR, NULL, NULL,
     "SIGTERM grace before SIGKILL when stopping"},
    {"up/settle", TF_CONFIG_MS, "2000", 0, 10 * S_SEC, NULL, NULL,
     "'up --detach' says up once every child has run this long without a crash"},

    {"actors/compressor/instances", TF_CONFIG_INT, "2", 0, 64, NULL, NULL,
     "compressor processes 'tapeflow up' runs"},
    /* One at most: a second stager cannot bind its endpoint, a second catalog would share the
       SQLite file. */
    {"actors/catalog/instances", TF_CONFIG_INT, "1", 0, 1, NULL, NULL,
     "catalog processes 'tapeflow up' runs (one at most: they would share the catalog file)"},
    /* One at most: the labeller serialises every changer move by handling one item at a time. */
    {"actors/labeller/instances", TF_CONFIG_INT, "1", 0, 1, NULL, NULL,
     "labeller processes 'tapeflow up' runs (one at most: it serialises every changer move)"},
    {"actors/stager/instances", TF_CONFIG_INT, "1", 0, 1, NULL, NULL,
     "stager processes 'tapeflow up' runs (one at most: a second cannot bind the stager's endpoint)"},
    {"actors/<name>/instances", TF_CONFIG_INT, "1", 0, 64, NULL,
     "catalog labeller scanner compressor stager tapewriter extractor scheduler echo",
     "processes of tapeflow-<name> 'tapeflow up' runs when up/roles names it"},
    {"actors/echo/record", TF_CONFIG_PATH, NULL, 0, 0, NULL, NULL,
     "test actor: file the echo actor appends each item to"},

    {"scanner/group_size", TF_CONFIG_SIZE, "1073741824", 1, S_TIB, NULL, NULL,
     "bytes of file content per archive"},
    {"scanner/one_fs", TF_CONFIG_BOOL, "1", 0, 0, NULL, NULL,
     "stay on each path's file system"},

    {"compressor/compression", TF_CONFIG_ENUM, "zstd", 0, 0, "zstd|gzip|none", NULL,
     "archive compression"},
    {"compressor/level", TF_CONFIG_INT, "1", 0, 22, NULL, NULL,
     "compression level (0: the library's default; 1 keeps a drive fed; gzip caps it at 9)"},
    {"compressor/threads", TF_CONFIG_INT, "0", 0, 256, NULL, NULL,
     "zstd worker threads per compressor, 0 = one per core"},
    {"compressor/chunk", TF_CONFIG_SIZE, "1048576", 1 * S_KIB, 64 * S_MIB, NULL, NULL,
     "bytes per stage_data message"},
    {"compressor/stager_timeout", TF_CONFIG_MS, "60000", 100, S_DAY, NULL, NULL,
     "silence from the stager before an item is handed back"},

    {"stager/endpoint", TF_CONFIG_ENDPOINT, "ipc://${run}/stager.sock", 0, 0, NULL, NULL,
     "where the stager binds for archive data"},
    {"stager/server_key", TF_CONFIG_STRING, "", 0, 0, NULL, NULL,
     "public key (Z85) or trusted name of the stager's host, for a tcp stager/endpoint; empty: "
     "keys/server"},
    {"stager/advertise", TF_CONFIG_ENDPOINT, NULL, 0, 0, NULL, NULL,
     "endpoint tape writers fetch from, when not stager/endpoint"},
    {"stager/session_timeout", TF_CONFIG_SECONDS, "600", S_SEC, 7 * S_DAY, NULL, NULL,
     "an archive stream silent this long is dropped"},
    {"stager/dir", TF_CONFIG_PATH, "${home}/staging", 0, 0, NULL, NULL,
     "holding disk: tmp/ and ready/"},
    {"stager/capacity", TF_CONFIG_SIZE, "21474836480", 1, INT64_MAX, NULL, NULL,
     "bytes the holding disk may use"},
    {"stager/window", TF_CONFIG_SIZE, "8388608", 1 * S_KIB, 2 * S_GIB, NULL, NULL,
     "bytes of credit one compressor may have"},
    {"stager/space_alert", TF_CONFIG_SECONDS, "60", S_SEC, S_DAY, NULL, NULL,
     "a job waiting this long for holding-disk space raises alert.stager"},
    {"stager/space_alert_repeat", TF_CONFIG_SECONDS, "600", S_SEC, S_DAY, NULL, NULL,
     "time between repeats of that alert while the job still waits"},

    {"tapewriter/drive", TF_CONFIG_NAME, "tape0", 0, 0, NULL, NULL,
     "the drive this tape writer opens (drives/<name>/url)"},
    {"tapewriter/block_size", TF_CONFIG_SIZE, "262144", 4 * S_KIB, 1 * S_MIB, NULL, NULL,
     "variable block size on tape"},
    {"tapewriter/verify", TF_CONFIG_BOOL, "1", 0, 0, NULL, NULL,
     "read every archive back before releasing it"},
    {"tapewriter/fetch_chunk", TF_CONFIG_SIZE, "1048576", 4 * S_KIB, 64 * S_MIB, NULL, NULL,
     "bytes per fetch from the stager"},
    {"tapewriter/fetch_depth", TF_CONFIG_INT, "8", 1, 256, NULL, NULL,
     "fetches in flight (keeps the drive streaming)"},
    {"tapewriter/fetch_timeout", TF_CONFIG_MS, "30000", 100, S_DAY, NULL, NULL,
     "silence from the stager before a fetch gives up"},
    {"tapewriter/ready_timeout", TF_CONFIG_MS, "60000", 0, S_DAY, NULL, NULL,
     "wait for the drive to become ready"},
    {"tapewriter/busy_wait", TF_CONFIG_MS, "10000", 0, S_DAY, NULL, NULL,
     "wait for a drive another process holds"},
    {"tapewriter/catalog_timeout", TF_CONFIG_MS, "120000", 100, S_DAY, NULL, NULL,
     "wait for the catalog to record a position"},
    {"tapewriter/retry_backoff", TF_CONFIG_MS, "5000", 0, S_HOUR, NULL, NULL,
     "wait before a failed archive write goes back to the broker; doubled per attempt"},
    {"tapewriter/retry_backoff_max", TF_CONFIG_MS, "300000", 0, S_DAY, NULL, NULL,
     "cap of that wait"},
    /* Read by nothing since file rows travel with the archive (issue 9): kept so that
       configuration files that set it still load. */
    {"tapewriter/index_wait", TF_CONFIG_MS, "60000", 0, S_DAY, NULL, NULL,
     "no longer used: an archive's file rows travel with it from the stager (its sidecar), "
     "nothing waits for them"},
    {"tapewriter/labeller_timeout", TF_CONFIG_MS, "600000", 1000, S_DAY, NULL, NULL,
     "wait for the labeller's answer about a volume (it may move the robot)"},
    {"tapewriter/drives", TF_CONFIG_NAMES, "", 0, 0, NULL, NULL,
     "one drive per tape writer process: tapewriter.N uses the N-th name (empty: all use tapewriter/drive)"},
    {"tapewriter/mount_wait", TF_CONFIG_MS, "43200000", 0, 7 * S_DAY, NULL, NULL,
     "without a changer, wait for the operator to mount the next volume (0: do not span)"},

    {"drives/tape0/url", TF_CONFIG_URL, "sim:${home}/tapes/tape0.img?capacity=64G", 0, 0, NULL,
     NULL, "the default drive: a simulated tape"},
    {"drives/<name>/url", TF_CONFIG_URL, NULL, 0, 0, NULL, NULL,
     "a tape drive: /dev/nstN, serial:SERIAL, sg:PATH or sim:FILE (docs/drives.md)"},
    {"changers/<name>/url", TF_CONFIG_URL, NULL, 0, 0, NULL, NULL,
     "a media changer (docs/changers.md)"},
    {"changers/<name>/drive<n>", TF_CONFIG_STRING, NULL, 0, 0, NULL, NULL,
     "the drive (name under drives/, or URL) in drive element n"},

    {"catalog/db", TF_CONFIG_PATH, "${home}/catalog.db", 0, 0, NULL, NULL,
     "SQLite catalog of jobs, files, archives and volumes"},
    {"labeller/db", TF_CONFIG_PATH, "${home}/labeller.db", 0, 0, NULL, NULL,
     "SQLite inventory of the changers' cartridges (barcode, location, label known)"},
    {"labeller/catalog_timeout", TF_CONFIG_MS, "30000", 100, S_DAY, NULL, NULL,
     "wait for the catalog's answer about a volume"},
    {"labeller/lease", TF_CONFIG_MS, "600000", 1000, S_DAY, NULL, NULL,
     "how long a cartridge the labeller loaded for a tape writer stays that drive's when the writer does not ask again"},
    {"labeller/unreadable_retry", TF_CONFIG_MS, "43200000", 0, 30 * S_DAY, NULL, NULL,
     "how long a cartridge a tape writer could not read is not loaded on trial again"},
    {"backup/pool", TF_CONFIG_NAME, "default", 0, 0, NULL, NULL,
     "pool a backup writes to unless 'tapeflow backup --pool' says otherwise"},

    {"pools/<name>/retention", TF_CONFIG_RETENTION, "30", 0, 0, NULL, "default",
     "how long a written volume of the pool is kept"},
    {"pools/<name>/volumes", TF_CONFIG_INT, "0", 0, 1000000, NULL, "default",
     "volumes the pool rotates through (0: not set; 'tapeflow tape list' compares)"},
    {"pools/<name>/allow_zero_retention", TF_CONFIG_BOOL, "0", 0, 0, NULL, "default",
     "allow a retention under one day on purpose"},
    {"pools/<name>/chain_retention", TF_CONFIG_ENUM, "keep", 0, 0, "keep|expire", "default",
     "a volume past its retention that holds the base of a job still within retention: keep "
     "it, or expire it and the jobs that depend on it"},
    /* Replication (docs/operations.md, "Replication"). */
    {"pools/<name>/replicas", TF_CONFIG_NAMES, "", 0, 0, NULL, "default",
     "replication targets (names under replicas/) every job of the pool is copied to, "
     "separated by commas; empty: none"},
    {"pools/<name>/replication", TF_CONFIG_ENUM, "required", 0, 0, "required|optional", "default",
     "required: a job completes and its staged archives are deleted only once every target "
     "holds a verified copy; optional: a target that fails only marks the job "
     "completed_with_warnings"},
    {"pools/<name>/replica_keep_last", TF_CONFIG_INT, "0", 0, 1000000, NULL, "default",
     "on each target, keep the newest N jobs of the pool (0: no limit by count)"},
    {"pools/<name>/replica_keep_days", TF_CONFIG_INT, "0", 0, 36500, NULL, "default",
     "on each target, keep jobs of the pool for N days (0: no limit by age)"},
    {"replicas/<name>/url", TF_CONFIG_URL, NULL, 0, 0, NULL, NULL,
     "a replication target: smb://[USER@]HOST[:PORT]/SHARE/PATH (written with libsmbclient, "
     "no mount) or file:///PATH (a mounted share or local disk)"},
    {"replicas/<name>/credentials", TF_CONFIG_PATH, NULL, 0, 0, NULL, NULL,
     "smb:// only: a file in smbclient -A format (username =, password =, domain =), readable "
     "by the service user only"},
    {"replicas/<name>/require_fs", TF_CONFIG_ENUM, "any", 0, 0, "any|cifs|nfs", NULL,
     "file:// only: the file system the path must be on (checked before every copy; cifs or "
     "nfs refuses a path whose share is not mounted)"},
    {"replicas/<name>/min_free", TF_CONFIG_SIZE, "0", 0, 1024 * S_TIB, NULL, NULL,
     "free space to leave on the target: a copy that would go below it is refused, "
     "replica check warns"},
    {"replicator/chunk", TF_CONFIG_SIZE, "4194304", 64 * S_KIB, 64 * S_MIB, NULL, NULL,
     "bytes fetched from the stager and written to a target at a time"},
    {"replicator/timeout", TF_CONFIG_MS, "30000", 1000, S_HOUR, NULL, NULL,
     "how long an SMB server may take to answer before the copy fails"},
    {"replicator/sweep", TF_CONFIG_MS, "30000", 1000, S_HOUR, NULL, NULL,
     "how often the replicator asks the catalog for jobs whose replica is complete but not "
     "committed (a commit a crash interrupted, a job scanned after its last copy)"},

    /* Schedules (docs/operations.md, "Schedules"): one section per schedule. */
    {"schedules/<name>/paths", TF_CONFIG_STRING, NULL, 0, 0, NULL, NULL,
     "what the schedule backs up: paths separated by commas, HOST:/path for another host's"},
    {"schedules/<name>/calendar", TF_CONFIG_STRING, "daily 04:00", 0, 0, NULL, NULL,
     "when it fires, systemd OnCalendar style: 'daily 04:00', 'Sun 23:05', '*-*-01 02:00', "
     "'Mon..Fri 22:30'"},
    {"schedules/<name>/timezone", TF_CONFIG_STRING, "", 0, 0, NULL, NULL,
     "time zone the calendar is read in (Europe/Berlin); empty: the machine's (/etc/localtime)"},
    {"schedules/<name>/level", TF_CONFIG_STRING, "full on Sun *-*-01..07; differential on Sun; incremental",
     0, 0, NULL, NULL,
     "level rules, first match wins: 'LEVEL on DAYS; ...; LEVEL' (DAYS in calendar form: "
     "'Sun *-*-01..07' is the first Sunday of a month)"},
    {"schedules/<name>/pool", TF_CONFIG_NAME, "", 0, 0, NULL, NULL,
     "pool its jobs write to; empty: backup/pool"},
    {"schedules/<name>/catch_up", TF_CONFIG_STRING, "once", 0, 0, NULL, NULL,
     "runs missed while the scheduler was down: once (the latest, once), skip, or 'within "
     "DURATION' (the latest, when it is no older than DURATION)"},
    {"schedules/<name>/overlap", TF_CONFIG_ENUM, "skip", 0, 0, "skip|queue", NULL,
     "when the previous run is still running: skip this one (recorded, alert) or queue it"},
    {"schedules/<name>/enabled", TF_CONFIG_BOOL, "1", 0, 0, NULL, NULL,
     "0: the schedule does not fire (schedule run still starts it by hand)"},
    {"scheduler/tick", TF_CONFIG_MS, "1000", 100, S_MIN, NULL, NULL,
     "how often the scheduler looks for due runs"},
};
#define S_NKEYS (sizeof s_keys / sizeof s_keys[0])

/* The service each actor program registers for (its main.c); others register their name. */
static const struct {
    const char *actor;
    const char *service;
} s_actor_services[] = {
    {"catalog", "catalog"}, {"labeller", "labeller"}, {"scanner", "scan"}, {"compressor", "compress"},
    {"stager", "stager"},   {"tapewriter", "tape"}, {"extractor", "extract"}, {"echo", "echo"},
    {"scheduler", "scheduler"}, {"replicator", "replicate"},
};

/* What the up/roles word agent stands for: the processes of a host that holds data. */
#define S_AGENT_ROLES "scanner compressor extractor"

/* ------------------------------------------------------------------ table ------------- */

const tf_config_key_t *
tf_config_keys(size_t index)
{
    return index < S_NKEYS ? &s_keys[index] : NULL;
}

const char *
tf_config_type_name(tf_config_type_t type)
{
    static const char *names[] = {"string", "path", "name", "names", "int", "size", "duration",
                                  "duration", "bool", "enum", "endpoint", "url", "retention"};
    return (size_t) type < sizeof names / sizeof names[0] ? names[type] : "?";
}

bool
tf_config_name_char(char c)
{
    return isalnum((unsigned char) c) || c == '-' || c == '_' || c == '.';
}

/* One pattern segment against one path segment (both length-delimited). */
static bool
s_segment_matches(const char *pat, size_t plen, const char *seg, size_t slen)
{
    if (plen == 6 && memcmp(pat, "<name>", 6) == 0) {
        if (slen == 0)
            return false;
        for (size_t i = 0; i < slen; i++)
            if (!tf_config_name_char(seg[i]))
                return false;
        return true;
    }
    if (plen > 3 && memcmp(pat + plen - 3, "<n>", 3) == 0) {
        size_t prefix = plen - 3;
        if (slen <= prefix || memcmp(pat, seg, prefix) != 0)
            return false;
        for (size_t i = prefix; i < slen; i++)
            if (!isdigit((unsigned char) seg[i]))
                return false;
        return true;
    }
    return plen == slen && memcmp(pat, seg, plen) == 0;
}

/* Matches path against pattern segment by segment; prefix_only: path may stop early. */
static bool
s_matches(const char *pattern, const char *path, bool prefix_only)
{
    const char *p = pattern, *s = path;
    for (;;) {
        const char *pe = strchr(p, '/'), *se = strchr(s, '/');
        size_t plen = pe ? (size_t) (pe - p) : strlen(p);
        size_t slen = se ? (size_t) (se - s) : strlen(s);
        if (!s_segment_matches(p, plen, s, slen))
            return false;
        if (!se)
            return prefix_only ? true : !pe;
        if (!pe)
            return false;
        p = pe + 1;
        s = se + 1;
    }
}

const tf_config_key_t *
tf_config_lookup(const char *path)
{
    if (!path)
        return NULL;
    for (size_t i = 0; i < S_NKEYS; i++)
        if (!strchr(s_keys[i].key, '<') && strcmp(s_keys[i].key, path) == 0)
            return &s_keys[i];
    for (size_t i = 0; i < S_NKEYS; i++)
        if (strchr(s_keys[i].key, '<') && s_matches(s_keys[i].key, path, false))
            return &s_keys[i];
    return NULL;
}

/* True when path is a section some key lives under ("pools", "pools/offsite"). */
static bool
s_is_section(const char *path)
{
    for (size_t i = 0; i < S_NKEYS; i++)
        if (s_matches(s_keys[i].key, path, true) && !s_matches(s_keys[i].key, path, false))
            return true;
    return false;
}

/* ------------------------------------------------------------------ parsing ----------- */

static int
s_parse_int(const char *text, int64_t *out)
{
    return tf_units_parse_int(text, INT64_MIN, INT64_MAX, out);
}

int
tf_config_parse_duration(const char *text, int64_t unit_ms, int64_t *ms)
{
    if (!text || !isdigit((unsigned char) *text))
        return -1;
    char *end = NULL;
    errno = 0;
    unsigned long long n = strtoull(text, &end, 10);
    if (errno != 0)
        return -1;
    int64_t unit = unit_ms;
    if (strcmp(end, "ms") == 0)
        unit = S_MS;
    else if (strcmp(end, "s") == 0)
        unit = S_SEC;
    else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
        unit = S_MIN;
    else if (strcmp(end, "h") == 0)
        unit = S_HOUR;
    else if (strcmp(end, "d") == 0)
        unit = S_DAY;
    else if (strcmp(end, "w") == 0)
        unit = 7 * S_DAY;
    else if (*end != '\0')
        return -1;
    if (n > (unsigned long long) (INT64_MAX / 2 / unit))
        return -1;
    *ms = (int64_t) n * unit;
    return 0;
}

int
tf_config_parse_retention(const char *text, int64_t *ms)
{
    if (text && strcmp(text, "never") == 0) {
        *ms = TF_CONFIG_RETENTION_NEVER;
        return 0;
    }
    return tf_config_parse_duration(text, S_DAY, ms);
}

static int
s_parse_bool(const char *text, bool *out)
{
    static const char *yes[] = {"1", "true", "yes", "on"}, *no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(text, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(text, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

static bool
s_enum_has(const char *values, const char *text)
{
    size_t len = strlen(text);
    for (const char *p = values; p && *p;) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t) (bar - p) : strlen(p);
        if (n == len && memcmp(p, text, n) == 0)
            return true;
        p = bar ? bar + 1 : NULL;
    }
    return false;
}

/* Number the value stands for: INT and SIZE as is, durations in ms, BOOL 0/1. */
static int
s_parse_number(const tf_config_key_t *row, const char *text, int64_t *out)
{
    switch (row->type) {
    case TF_CONFIG_INT:
        return s_parse_int(text, out);
    case TF_CONFIG_SIZE: {
        uint64_t bytes = 0;
        if (tf_units_parse_size(text, &bytes) != 0 || bytes > INT64_MAX)
            return -1;
        *out = (int64_t) bytes;
        return 0;
    }
    case TF_CONFIG_MS:
        return tf_config_parse_duration(text, S_MS, out);
    case TF_CONFIG_SECONDS:
        return tf_config_parse_duration(text, S_SEC, out);
    case TF_CONFIG_BOOL: {
        bool b = false;
        if (s_parse_bool(text, &b) != 0)
            return -1;
        *out = b;
        return 0;
    }
    default:
        return s_parse_int(text, out);
    }
}

static const char *
s_span(int64_t value, tf_config_type_t type, char *buf, size_t size)
{
    if (type == TF_CONFIG_SIZE) {
        if (value == INT64_MAX)
            snprintf(buf, size, "no limit");
        else if (value >= S_KIB && value % S_TIB == 0)
            snprintf(buf, size, "%" PRId64 "T", (int64_t) (value / S_TIB));
        else if (value >= S_KIB && value % S_GIB == 0)
            snprintf(buf, size, "%" PRId64 "G", (int64_t) (value / S_GIB));
        else if (value >= S_KIB && value % S_MIB == 0)
            snprintf(buf, size, "%" PRId64 "M", (int64_t) (value / S_MIB));
        else if (value >= S_KIB && value % S_KIB == 0)
            snprintf(buf, size, "%" PRId64 "K", (int64_t) (value / S_KIB));
        else
            snprintf(buf, size, "%" PRId64, value);
    }
    else if (type == TF_CONFIG_MS || type == TF_CONFIG_SECONDS) {
        if (value == 0)
            snprintf(buf, size, "0");
        else if (value % S_DAY == 0)
            snprintf(buf, size, "%" PRId64 "d", (int64_t) (value / S_DAY));
        else if (value % S_HOUR == 0)
            snprintf(buf, size, "%" PRId64 "h", (int64_t) (value / S_HOUR));
        else if (value % S_MIN == 0)
            snprintf(buf, size, "%" PRId64 "m", (int64_t) (value / S_MIN));
        else if (value % S_SEC == 0)
            snprintf(buf, size, "%" PRId64 "s", (int64_t) (value / S_SEC));
        else
            snprintf(buf, size, "%" PRId64 "ms", value);
    }
    else
        snprintf(buf, size, "%" PRId64, value);
    return buf;
}

const char *
tf_config_allowed(const tf_config_key_t *row, char *buf, size_t size)
{
    char lo[32], hi[32];
    s_span(row->min, row->type, lo, sizeof lo);
    s_span(row->max, row->type, hi, sizeof hi);
    switch (row->type) {
    case TF_CONFIG_INT:
        snprintf(buf, size, "a whole number from %s to %s", lo, hi);
        break;
    case TF_CONFIG_SIZE:
        if (row->max == INT64_MAX)
            snprintf(buf, size, "a size of at least %s bytes (65536, 512K, 64M, 1G, 2T)", lo);
        else
            snprintf(buf, size, "a size from %s to %s bytes (65536, 512K, 64M, 1G)", lo, hi);
        break;
    case TF_CONFIG_MS:
        snprintf(buf, size, "a duration from %s to %s (a bare number is milliseconds; or "
                            "500ms, 2s, 5m, 12h, 1d)", lo, hi);
        break;
    case TF_CONFIG_SECONDS:
        snprintf(buf, size, "a duration from %s to %s (a bare number is seconds; or 90s, 10m, "
                            "12h, 7d)", lo, hi);
        break;
    case TF_CONFIG_BOOL:
        snprintf(buf, size, "1 or 0 (true/false, yes/no, on/off)");
        break;
    case TF_CONFIG_ENUM: {
        /* "a|b|c" -> "a, b or c" */
        size_t used = 0;
        buf[0] = '\0';
        const char *p = row->values;
        while (p && *p && used + 1 < size) {
            const char *bar = strchr(p, '|');
            size_t n = bar ? (size_t) (bar - p) : strlen(p);
            const char *sep = used == 0 ? "" : bar ? ", " : " or ";
            int w = snprintf(buf + used, size - used, "%s%.*s", sep, (int) n, p);
            used += w > 0 ? (size_t) w : 0;
            if (used >= size)
                used = size - 1;
            p = bar ? bar + 1 : NULL;
        }
        break;
    }
    case TF_CONFIG_ENDPOINT:
        snprintf(buf, size, "ipc://PATH, tcp://HOST:PORT or inproc://NAME");
        break;
    case TF_CONFIG_NAME:
        snprintf(buf, size, "one name of letters, digits, '-', '_' or '.'");
        break;
    case TF_CONFIG_NAMES:
        snprintf(buf, size, "names of letters, digits, '-', '_' or '.', separated by spaces or commas");
        break;
    case TF_CONFIG_RETENTION:
        snprintf(buf, size, "days (30), a number with s, m, h, d or w (90s, 12h, 4w), or never");
        break;
    case TF_CONFIG_PATH:
        snprintf(buf, size, "a path (may use ${home}, ${run}, ${log})");
        break;
    case TF_CONFIG_URL:
        snprintf(buf, size, "a URL");
        break;
    default:
        snprintf(buf, size, "any text");
        break;
    }
    return buf;
}

/* NULL when text is a valid value of row; else what is wrong, in words, into buf. */
static const char *
s_value_problem(const tf_config_key_t *row, const char *text, char *buf, size_t size)
{
    switch (row->type) {
    case TF_CONFIG_INT:
    case TF_CONFIG_SIZE:
    case TF_CONFIG_MS:
    case TF_CONFIG_SECONDS:
    case TF_CONFIG_BOOL: {
        int64_t n = 0;
        if (s_parse_number(row, text, &n) != 0)
            snprintf(buf, size, "is not %s",
                     row->type == TF_CONFIG_INT    ? "a whole number"
                     : row->type == TF_CONFIG_SIZE ? "a size"
                     : row->type == TF_CONFIG_BOOL ? "a yes/no value"
                                                   : "a duration");
        else if (row->type != TF_CONFIG_BOOL && (n < row->min || n > row->max))
            snprintf(buf, size, "is out of range");
        else
            return NULL;
        return buf;
    }
    case TF_CONFIG_ENUM:
        if (s_enum_has(row->values, text))
            return NULL;
        snprintf(buf, size, "is not one of the choices");
        return buf;
    case TF_CONFIG_ENDPOINT:
        if ((strncmp(text, "ipc://", 6) == 0 && text[6]) || (strncmp(text, "inproc://", 9) == 0 && text[9]))
            return NULL;
        if (strncmp(text, "tcp://", 6) == 0) {
            const char *colon = strrchr(text + 6, ':');
            int64_t port = 0;
            if (colon && colon > text + 6 && (strcmp(colon + 1, "*") == 0
                                              || (s_parse_int(colon + 1, &port) == 0 && port > 0
                                                  && port < 65536)))
                return NULL;
        }
        snprintf(buf, size, "is not a ZeroMQ endpoint");
        return buf;
    case TF_CONFIG_NAME:
    case TF_CONFIG_NAMES:
        for (const char *p = text; *p; p++)
            if (!tf_config_name_char(*p) && !(row->type == TF_CONFIG_NAMES && (*p == ' ' || *p == ',' || *p == '\t'))) {
                snprintf(buf, size, "holds '%c', which a name may not", *p);
                return buf;
            }
        return NULL;
    case TF_CONFIG_RETENTION: {
        int64_t ms = 0;
        if (tf_config_parse_retention(text, &ms) == 0)
            return NULL;
        snprintf(buf, size, "is not a retention period");
        return buf;
    }
    case TF_CONFIG_PATH:
    case TF_CONFIG_URL:
        if (*text)
            return NULL;
        snprintf(buf, size, "is empty");
        return buf;
    default:
        return NULL;
    }
}

/* Levenshtein distance, small strings only: for "did you mean". */
static size_t
s_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 99;
    size_t d[64][64];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    return d[la][lb];
}

/* A row's key in the form the user wrote: placeholders take the path's names
   (pools/<name>/retention for pools/offsite/retension -> pools/offsite/retention). False when
   the two have a different number of segments. */
static bool
s_fill_pattern(const char *pattern, const char *path, char *buf, size_t size)
{
    size_t used = 0;
    const char *p = pattern, *s = path;
    buf[0] = '\0';
    for (;;) {
        const char *pe = strchr(p, '/'), *se = strchr(s, '/');
        size_t plen = pe ? (size_t) (pe - p) : strlen(p);
        size_t slen = se ? (size_t) (se - s) : strlen(s);
        bool placeholder = plen == 6 && memcmp(p, "<name>", 6) == 0;
        int w = snprintf(buf + used, size - used, "%s%.*s", used ? "/" : "",
                         (int) (placeholder ? slen : plen), placeholder ? s : p);
        if (w < 0 || used + (size_t) w >= size)
            return false;
        used += (size_t) w;
        if (!pe || !se)
            return !pe && !se;
        p = pe + 1;
        s = se + 1;
    }
}

/* The closest key to an unknown one, or "" when none is close. */
static void
s_suggest(const char *path, char *buf, size_t size)
{
    buf[0] = '\0';
    size_t best = 4;
    for (size_t i = 0; i < S_NKEYS; i++) {
        char candidate[512];
        if (!s_fill_pattern(s_keys[i].key, path, candidate, sizeof candidate))
            continue;
        size_t d = s_distance(path, candidate);
        if (d < best) {
            best = d;
            snprintf(buf, size, "%s", candidate);
        }
    }
}

/* ------------------------------------------------------------------ life cycle -------- */

tf_config_t *
tf_config_new(void)
{
    tf_config_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->root = zconfig_new("root", NULL);
    self->expanded = zhashx_new();
    self->lines = zhashx_new();
    self->overrides = zhashx_new();
    if (!self->root || !self->expanded || !self->lines || !self->overrides) {
        tf_config_destroy(&self);
        return NULL;
    }
    zhashx_set_duplicator(self->expanded, (zhashx_duplicator_fn *) strdup);
    zhashx_set_destructor(self->expanded, (zhashx_destructor_fn *) zstr_free);
    return self;
}

/* Records the line of every name in the ZPL text (zconfig keeps no line numbers): each level
   is indented by 4 spaces, a name ends at a space, '=' or '#'. The first line of a path wins. */
static void
s_index_lines(tf_config_t *self, const char *text)
{
    char stack[16][128];
    int line = 0;
    for (const char *p = text; *p;) {
        line++;
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t) (eol - p) : strlen(p);
        size_t indent = 0;
        while (indent < len && p[indent] == ' ')
            indent++;
        const char *name = p + indent;
        size_t n = 0;
        while (indent + n < len && name[n] != ' ' && name[n] != '\t' && name[n] != '='
               && name[n] != '#' && name[n] != '\r')
            n++;
        size_t level = indent / 4;
        if (n > 0 && level < 16 && n < sizeof stack[0]) {
            snprintf(stack[level], sizeof stack[level], "%.*s", (int) n, name);
            char path[16 * 128 + 16] = "";
            size_t used = 0;
            for (size_t i = 0; i <= level; i++) {
                int w = snprintf(path + used, sizeof path - used, "%s%s", i ? "/" : "", stack[i]);
                used += w > 0 ? (size_t) w : 0;
                if (used >= sizeof path)
                    break;
            }
            if (used < sizeof path && !zhashx_lookup(self->lines, path))
                zhashx_insert(self->lines, path, (void *) (intptr_t) line);
        }
        p = eol ? eol + 1 : p + len;
    }
}

/* zconfig says only that a text does not parse: point at the first line that looks wrong
   (" at line 3: indented by 2 spaces") into buf, or "" when no line does. */
static void
s_syntax_hint(const char *text, char *buf, size_t size)
{
    buf[0] = '\0';
    int line = 0;
    size_t prev_level = 0;
    for (const char *p = text; *p;) {
        line++;
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t) (eol - p) : strlen(p);
        size_t indent = 0;
        while (indent < len && (p[indent] == ' ' || p[indent] == '\t'))
            indent++;
        const char *body = p + indent;
        size_t blen = len - indent;
        if (blen > 0 && body[blen - 1] == '\r')
            blen--;
        if (blen > 0 && *body != '#') {
            const char *eq = memchr(body, '=', blen);
            const char *value = eq ? eq + 1 : NULL;
            while (value && value < body + blen && *value == ' ')
                value++;
            if (memchr(p, '\t', indent))
                snprintf(buf, size, " at line %d: indented with a tab", line);
            else if (indent % 4)
                snprintf(buf, size, " at line %d: indented by %zu spaces", line, indent);
            else if (indent / 4 > prev_level + 1)
                snprintf(buf, size, " at line %d: indented deeper than the section above it", line);
            else if (eq == body)
                snprintf(buf, size, " at line %d: no key before '='", line);
            else if (value && value < body + blen && (*value == '"' || *value == '\'')
                     && !memchr(value + 1, *value, (size_t) (body + blen - value - 1)))
                snprintf(buf, size, " at line %d: the quote is not closed", line);
            if (*buf)
                return;
            prev_level = indent / 4;
        }
        p = eol ? eol + 1 : p + len;
    }
}

tf_config_t *
tf_config_load(const char *path, tf_err_t *err)
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
    if (!loaded) {
        char where[256];
        s_syntax_hint(text, where, sizeof where);
        free(text);
        tf_err_set(err, TF_ERR_INVALID,
                   "config file %s is not valid ZPL%s (indent each level by 4 spaces; "
                   "write 'key = value')", path, where);
        tf_config_destroy(&self);
        return NULL;
    }
    s_index_lines(self, text);
    free(text);
    zconfig_destroy(&self->root);
    self->root = loaded;
    self->file = strdup(path);
    return self;
}

static size_t s_check_structure(tf_config_t *self, zlist_t *problems);

tf_config_t *
tf_config_open(const char *path, tf_err_t *err)
{
    tf_config_t *self = tf_config_load(path, err);
    if (!self || !self->file)
        return self;
    zlist_t *problems = zlist_new();
    if (!problems) {
        tf_err_set(err, TF_ERR_NOMEM, "out of memory checking configuration");
        tf_config_destroy(&self);
        return NULL;
    }
    zlist_autofree(problems);
    size_t n = s_check_structure(self, problems);
    if (n > 0) {
        char more[PATH_MAX + 128] = "";
        if (n > 1)
            snprintf(more, sizeof more, " (and %zu more; list them all with: tapeflow config check %s)",
                     n - 1, self->file);
        tf_err_set(err, TF_ERR_INVALID, "config %s%s", (const char *) zlist_first(problems), more);
        tf_config_destroy(&self);
    }
    zlist_destroy(&problems);
    return self;
}

void
tf_config_destroy(tf_config_t **self_p)
{
    if (self_p && *self_p) {
        tf_config_t *self = *self_p;
        zconfig_destroy(&self->root);
        zhashx_destroy(&self->expanded);
        zhashx_destroy(&self->lines);
        zhashx_destroy(&self->overrides);
        free(self->file);
        free(self);
        *self_p = NULL;
    }
}

/* ------------------------------------------------------------------ checking ---------- */

static int
s_line_of(tf_config_t *self, const char *path)
{
    return (int) (intptr_t) zhashx_lookup(self->lines, path);
}

static void
s_problem(tf_config_t *self, zlist_t *problems, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
s_problem(tf_config_t *self, zlist_t *problems, const char *path, const char *fmt, ...)
{
    char where[PATH_MAX + 32], what[1024];
    int line = s_line_of(self, path);
    if (self->file && line > 0)
        snprintf(where, sizeof where, "%s line %d", self->file, line);
    else if (self->file)
        snprintf(where, sizeof where, "%s", self->file);
    else
        snprintf(where, sizeof where, "override");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    char *text = zsys_sprintf("%s: %s", where, what);
    if (text) {
        zlist_append(problems, text);
        zstr_free(&text);
    }
}

/* Checks one configured value; appends a problem and returns false when it is refused. */
static bool
s_check_value(tf_config_t *self, const char *path, const char *value, zlist_t *problems)
{
    const tf_config_key_t *row = tf_config_lookup(path);
    if (!row) {
        char suggestion[256];
        s_suggest(path, suggestion, sizeof suggestion);
        if (*suggestion)
            s_problem(self, problems, path, "unknown key %s (did you mean %s?); 'tapeflow config "
                      "show' lists every key", path, suggestion);
        else
            s_problem(self, problems, path, "unknown key %s; 'tapeflow config show' lists every key",
                      path);
        return false;
    }
    char why[128], allowed[256];
    if (!s_value_problem(row, value, why, sizeof why))
        return true;
    s_problem(self, problems, path, "%s = '%s' %s: allowed is %s (%s)", path, value, why,
              tf_config_allowed(row, allowed, sizeof allowed), row->help);
    return false;
}

static void
s_check_node(tf_config_t *self, zconfig_t *node, const char *prefix, zlist_t *problems)
{
    for (zconfig_t *c = zconfig_child(node); c; c = zconfig_next(c)) {
        char path[1024];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "/" : "", zconfig_name(c));
        const char *value = zconfig_value(c);
        bool has_children = zconfig_child(c) != NULL;
        if (has_children)
            s_check_node(self, c, path, problems);   /* an unknown section shows in its keys */
        if (value && *value)
            s_check_value(self, path, value, problems);
        else if (!has_children && !tf_config_lookup(path) && !s_is_section(path))
            s_check_value(self, path, "", problems);   /* reports the unknown key */
    }
}

/* True (and the words into buf: "KEY = 'V' is less than 1 day: ...") when pool's retention
   ms is under the floor without pools/<pool>/allow_zero_retention. */
static bool
s_retention_floor(tf_config_t *self, const char *pool, const char *key, int64_t ms, char *buf,
                  size_t size)
{
    if (ms >= TF_CONFIG_RETENTION_MIN_MS)
        return false;
    char allow[300];
    snprintf(allow, sizeof allow, "pools/%s/allow_zero_retention", pool);
    if (tf_config_bool(self, allow))
        return false;
    /* Under a day, the next backup of the pool recycles its tapes and the jobs on them are
       gone: only on purpose. */
    snprintf(buf, size, "%s = '%s' is less than 1 day: the next backup of pool %s would recycle "
             "its tapes and lose the jobs on them; set a retention of at least 1 day (30 = 30 "
             "days), or set %s = 1 to allow this on purpose", key, tf_config_get(self, key), pool,
             allow);
    return true;
}

/* What refuses a configuration at open: unknown keys, values their rows do not allow, keys
   that contradict each other. */
static size_t
s_check_structure(tf_config_t *self, zlist_t *problems)
{
    size_t before = zlist_size(problems);
    s_check_node(self, self->root, "", problems);
    /* Between keys: the restart delay cap cannot be below the first delay. */
    int64_t lo = tf_config_ms(self, "up/restart_min"), hi = tf_config_ms(self, "up/restart_max");
    if (hi < lo)
        s_problem(self, problems, "up/restart_max",
                  "up/restart_max (%" PRId64 " ms) is below up/restart_min (%" PRId64 " ms): "
                  "raise it or lower up/restart_min", hi, lo);
    return zlist_size(problems) - before;
}

size_t
tf_config_check(tf_config_t *self, zlist_t *problems)
{
    size_t before = zlist_size(problems);
    s_check_structure(self, problems);
    /* A pool's retention under a day without allow_zero_retention: refused at every backup, so
       refused here first, with the same words. A value that does not parse is reported above. */
    zlist_t *pools = tf_config_children(self, "pools");
    for (const char *pool = pools ? zlist_first(pools) : NULL; pool; pool = zlist_next(pools)) {
        char key[300], what[TF_ERR_MESSAGE_MAX];
        snprintf(key, sizeof key, "pools/%s/retention", pool);
        int64_t ms;
        if (tf_config_parse_retention(tf_config_get(self, key), &ms) != 0)
            continue;
        if (s_retention_floor(self, pool, key, ms, what, sizeof what))
            s_problem(self, problems, key, "%s", what);
    }
    zlist_destroy(&pools);
    return zlist_size(problems) - before;
}

int
tf_config_pool_retention(tf_config_t *self, const char *pool, int64_t *ms, tf_err_t *err)
{
    char key[300], what[TF_ERR_MESSAGE_MAX];
    snprintf(key, sizeof key, "pools/%s/retention", pool);
    const char *value = tf_config_get(self, key);   /* the pattern row has the default */
    if (tf_config_parse_retention(value, ms) != 0)
        return tf_err_set(err, TF_ERR_INVALID,
                          "config %s = '%s' is not a retention period: use days (30), a number "
                          "with s, m, h, d or w (12h, 90d, 4w), or never", key, value ? value : "");
    if (s_retention_floor(self, pool, key, *ms, what, sizeof what)) {
        char where[PATH_MAX + 8] = "";
        if (self->file)
            snprintf(where, sizeof where, " in %s", self->file);
        /* what starts with "KEY = 'V'": the location goes after it */
        size_t head = strlen(key) + strlen(value) + 5;
        return tf_err_set(err, TF_ERR_INVALID, "config %.*s%s%s", (int) head, what, where, what + head);
    }
    return TF_OK;
}

/* ------------------------------------------------------------------ getting ----------- */

/* Default of a concrete path: exact row, else the pattern's. */
static const char *
s_default(const char *path)
{
    const tf_config_key_t *row = tf_config_lookup(path);
    return row ? row->value : NULL;
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

/* True when the file or an override gives path a (non-empty) value. */
static bool
s_configured(tf_config_t *self, const char *path)
{
    zconfig_t *item = zconfig_locate(self->root, path);
    return item && zconfig_value(item) && *zconfig_value(item);
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
    if (!raw && strcmp(path, "tapeflow/host") == 0) {
        /* The machine's name up to its first dot: what an operator types in HOST:/path. */
        if (gethostname(home_buf, sizeof home_buf - 1) != 0 || !home_buf[0])
            snprintf(home_buf, sizeof home_buf, "localhost");
        home_buf[sizeof home_buf - 1] = '\0';
        char *dot = strchr(home_buf, '.');
        if (dot && dot != home_buf)
            *dot = '\0';
        raw = home_buf;
    }
    if (!raw)
        return NULL;
    char value[2048];
    s_expand(self, raw, value, sizeof value, 0);
    zhashx_update(self->expanded, path, value);
    return zhashx_lookup(self->expanded, path);
}

/* The number a key stands for; its default when the value does not parse (only possible
   through an unchecked tf_config_set), 0 for a key the table does not have. */
static int64_t
s_number(tf_config_t *self, const char *path)
{
    const tf_config_key_t *row = tf_config_lookup(path);
    if (!row) {
        tf_log_error("configuration key %s is not in the key table (common/tf_config.c)", path);
        return 0;
    }
    int64_t n = 0;
    const char *value = tf_config_get(self, path);
    if (value && s_parse_number(row, value, &n) == 0)
        return n;
    if (row->value && s_parse_number(row, row->value, &n) == 0)
        return n;
    return 0;
}

int64_t tf_config_int(tf_config_t *self, const char *path) { return s_number(self, path); }
int64_t tf_config_size(tf_config_t *self, const char *path) { return s_number(self, path); }
int64_t tf_config_ms(tf_config_t *self, const char *path) { return s_number(self, path); }
bool tf_config_bool(tf_config_t *self, const char *path) { return s_number(self, path) != 0; }

const char *
tf_config_str(tf_config_t *self, const char *path)
{
    const char *value = tf_config_get(self, path);
    return value ? value : "";
}

int
tf_config_set(tf_config_t *self, const char *path, const char *value)
{
    zconfig_put(self->root, path, value);
    zhashx_update(self->overrides, path, (void *) 1);
    /* Any value may feed another through ${...}: drop every cached expansion. */
    zhashx_purge(self->expanded);
    return TF_OK;
}

int
tf_config_override(tf_config_t *self, const char *path, const char *value, tf_err_t *err)
{
    zlist_t *problems = zlist_new();
    if (!problems)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory");
    zlist_autofree(problems);
    bool ok = s_check_value(self, path, value, problems);
    int rc = TF_OK;
    if (!ok) {
        /* Skip the "FILE line N: " prefix: the value came from the command line. */
        const char *text = zlist_first(problems);
        const char *colon = strstr(text, ": ");
        rc = tf_err_set(err, TF_ERR_INVALID, "%s", colon ? colon + 2 : text);
    }
    zlist_destroy(&problems);
    if (rc == TF_OK)
        tf_config_set(self, path, value);
    return rc;
}

size_t
tf_config_overrides(tf_config_t *self)
{
    return zhashx_size(self->overrides);
}

const char *
tf_config_file(tf_config_t *self)
{
    return self->file;
}

const char *
tf_config_source(tf_config_t *self, const char *path, char *buf, size_t size)
{
    bool configured = s_configured(self, path);
    if (configured && zhashx_lookup(self->overrides, path))
        snprintf(buf, size, "override");
    else if (configured && self->file && s_line_of(self, path) > 0)
        snprintf(buf, size, "%s:%d", self->file, s_line_of(self, path));
    else if (configured && self->file)
        snprintf(buf, size, "%s", self->file);
    else if (strcmp(path, "tapeflow/home") == 0 && getenv("TAPEFLOW_HOME") && *getenv("TAPEFLOW_HOME"))
        snprintf(buf, size, "environment");
    else
        snprintf(buf, size, "default");
    return buf;
}

static bool
s_list_has(zlist_t *list, const char *name)
{
    for (const char *s = zlist_first(list); s; s = zlist_next(list))
        if (strcmp(s, name) == 0)
            return true;
    return false;
}

/* Adds names from a space-separated list. */
static void
s_add_words(zlist_t *list, const char *words)
{
    char *copy = words ? strdup(words) : NULL;
    char *save = NULL;
    for (char *w = copy ? strtok_r(copy, " ,\t", &save) : NULL; w; w = strtok_r(NULL, " ,\t", &save))
        if (!s_list_has(list, w))
            zlist_append(list, w);
    free(copy);
}

zlist_t *
tf_config_children(tf_config_t *self, const char *section)
{
    zlist_t *names = zlist_new();
    if (!names)
        return NULL;
    zlist_autofree(names);
    size_t len = strlen(section);
    for (size_t i = 0; i < S_NKEYS; i++) {
        const char *p = s_keys[i].key;
        if (strncmp(p, section, len) != 0 || p[len] != '/')
            continue;
        const char *start = p + len + 1;
        const char *slash = strchr(start, '/');
        if (!slash)
            continue;
        if (strncmp(start, "<name>/", 7) == 0) {
            s_add_words(names, s_keys[i].names);
            continue;
        }
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

/* Adds the concrete keys of a pattern for each name: "pools/<name>/volumes" x "default". */
static void
s_add_instances(zlist_t *keys, const char *pattern, zlist_t *names)
{
    const char *mark = strstr(pattern, "<name>");
    if (!mark || strstr(mark + 6, "<"))
        return;
    for (const char *name = zlist_first(names); name; name = zlist_next(names)) {
        char key[512];
        snprintf(key, sizeof key, "%.*s%s%s", (int) (mark - pattern), pattern, name, mark + 6);
        if (!s_list_has(keys, key))
            zlist_append(keys, key);
    }
}

static void
s_collect_file_keys(zconfig_t *node, const char *prefix, zlist_t *keys)
{
    for (zconfig_t *c = zconfig_child(node); c; c = zconfig_next(c)) {
        char path[1024];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "/" : "", zconfig_name(c));
        if (zconfig_value(c) && *zconfig_value(c) && !s_list_has(keys, path))
            zlist_append(keys, path);
        s_collect_file_keys(c, path, keys);
    }
}

zlist_t *
tf_config_effective_keys(tf_config_t *self)
{
    zlist_t *keys = zlist_new();
    if (!keys)
        return NULL;
    zlist_autofree(keys);
    for (size_t i = 0; i < S_NKEYS; i++) {
        const char *key = s_keys[i].key;
        if (!strchr(key, '<')) {
            if ((s_keys[i].value || strcmp(key, "tapeflow/home") == 0) && !s_list_has(keys, key))
                zlist_append(keys, (char *) key);
            continue;
        }
        if (!s_keys[i].value)
            continue;   /* patterns without a default show up through the file's keys */
        char section[256];
        snprintf(section, sizeof section, "%.*s", (int) (strstr(key, "/<name>") ? strstr(key, "/<name>") - key : 0), key);
        if (!*section)
            continue;
        zlist_t *names = tf_config_children(self, section);
        if (names)
            s_add_instances(keys, key, names);
        zlist_destroy(&names);
    }
    s_collect_file_keys(self->root, "", keys);
    zlist_sort(keys, (zlist_compare_fn *) strcmp);
    return keys;
}

int
tf_config_save(tf_config_t *self, const char *path, tf_err_t *err)
{
    char *text = zconfig_str_save(self->root);
    zconfig_t *out = text ? zconfig_str_load(text) : NULL;
    zstr_free(&text);
    if (!out)
        return tf_err_set(err, TF_ERR_NOMEM, "out of memory saving configuration");
    for (size_t i = 0; i < S_NKEYS; i++)
        if (s_keys[i].value && !strchr(s_keys[i].key, '<') && !zconfig_locate(out, s_keys[i].key))
            zconfig_put(out, s_keys[i].key, s_keys[i].value);
    if (!zconfig_locate(out, "tapeflow/home"))
        zconfig_put(out, "tapeflow/home", tf_config_get(self, "tapeflow/home"));
    int rc = zconfig_save(out, path);
    zconfig_destroy(&out);
    if (rc != 0)
        return tf_err_errno(err, TF_ERR_IO, errno, "cannot write config %s", path);
    return TF_OK;
}

/* ------------------------------------------------------------------ services ---------- */

const char *
tf_config_actor_service(const char *actor)
{
    for (size_t i = 0; i < sizeof s_actor_services / sizeof s_actor_services[0]; i++)
        if (strcmp(s_actor_services[i].actor, actor) == 0)
            return s_actor_services[i].service;
    return actor;
}

bool
tf_config_role_is_actor(const char *role)
{
    return strcmp(role, "broker") != 0 && strcmp(role, "bus") != 0;
}

zlist_t *
tf_config_roles(tf_config_t *self)
{
    zlist_t *roles = zlist_new();
    if (!roles)
        return NULL;
    zlist_autofree(roles);
    zlist_comparefn(roles, (zlist_compare_fn *) strcmp);   /* zlist_exists by name */
    char *words = !s_configured(self, "up/roles") && s_configured(self, "up/actors")
                      ? zsys_sprintf("broker bus %s", tf_config_str(self, "up/actors"))
                      : strdup(tf_config_str(self, "up/roles"));
    if (!words) {
        zlist_destroy(&roles);
        return NULL;
    }
    char *save = NULL;
    for (char *w = strtok_r(words, " ,\t", &save); w; w = strtok_r(NULL, " ,\t", &save))
        s_add_words(roles, strcmp(w, "agent") == 0 ? S_AGENT_ROLES : w);
    zstr_free(&words);
    return roles;
}

size_t
tf_config_warnings(tf_config_t *self, zlist_t *warnings)
{
    size_t before = zlist_size(warnings);
    if (s_configured(self, "up/actors")) {
        if (s_configured(self, "up/roles"))
            s_problem(self, warnings, "up/actors",
                      "up/actors is deprecated and ignored because up/roles is set: remove it");
        else
            s_problem(self, warnings, "up/actors",
                      "up/actors is deprecated: read as up/roles = 'broker bus %s'; replace it "
                      "with that up/roles line (a host without broker and bus runs only its "
                      "workers)", tf_config_str(self, "up/actors"));
    }
    return zlist_size(warnings) - before;
}

zlist_t *
tf_config_services(tf_config_t *self)
{
    zlist_t *services = zlist_new();
    /* Every actor the table knows (agents of other hosts register scan, compress and extract
       with a tape server that runs none of them), the file's and this host's roles. */
    zlist_t *actors = tf_config_children(self, "actors");
    zlist_t *roles = tf_config_roles(self);
    if (!services || !actors || !roles) {
        zlist_destroy(&services);
        zlist_destroy(&actors);
        zlist_destroy(&roles);
        return NULL;
    }
    zlist_autofree(services);
    for (const char *r = zlist_first(roles); r; r = zlist_next(roles))
        if (tf_config_role_is_actor(r) && !s_list_has(actors, r))
            zlist_append(actors, (char *) r);
    for (const char *a = zlist_first(actors); a; a = zlist_next(actors))
        if (!s_list_has(services, tf_config_actor_service(a)))
            zlist_append(services, (char *) tf_config_actor_service(a));
    s_add_words(services, tf_config_str(self, "broker/job_service"));
    s_add_words(services, tf_config_str(self, "broker/services"));
    zlist_sort(services, (zlist_compare_fn *) strcmp);
    zlist_destroy(&actors);
    zlist_destroy(&roles);
    return services;
}
