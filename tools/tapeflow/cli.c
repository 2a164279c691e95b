/*  cli - helpers shared by the tapeflow commands, and the help texts. */
#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tf_units.h"
#include "cli_labeller.h"
#ifdef TF_HAVE_CMD_DRIVE
#include "cli_volume.h"
#include "cmd_drive.h"
#endif

/* `tapeflow drive ...`: the drive layer's command, with tapeflow's volume rule as its guard. */
static int
s_cmd_drive(cli_t *cli, int argc, char **argv)
{
#ifdef TF_HAVE_CMD_DRIVE
    if (!cli->json)
        return tf_cmd_drive(cli->cfg, cli_volume_may_destroy, argc, argv);
    /* --json given before the command: hand it on after the drive arguments. */
    char **args = calloc((size_t) argc + 2, sizeof *args);
    if (!args) {
        fprintf(stderr, "tapeflow: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    for (int i = 0; i < argc; i++)
        args[i] = argv[i];
    args[argc] = (char *) "--json";
    int rc = tf_cmd_drive(cli->cfg, cli_volume_may_destroy, argc + 1, args);
    free(args);
    return rc;
#else
    (void) cli;
    (void) argc;
    (void) argv;
    fprintf(stderr, "tapeflow drive: the drive layer is not built into this tapeflow; rebuild "
                    "with tools/tapeflow/cmd_drive.c present (issue 3)\n");
    return CLI_EXIT_FAIL;
#endif
}

#ifdef TF_HAVE_CMD_DRIVE
#define S_DRIVE_VERBS tf_cmd_drive_verbs
#else
#define S_DRIVE_VERBS NULL
#endif

/* Every command: what main dispatches, help prints and `help --list` lists. Pipeline commands
   are present once their cmd_<name>.c is (see CMakeLists.txt). */
static const cli_command_t s_commands[] = {
    {"up", cmd_up, true, NULL, NULL,
     "usage: tapeflow [--config FILE] up [--detach]\n"
     "\n"
     "Starts this host's roles (up/roles) as supervised child processes: the event bus and the\n"
     "broker (the tape server) and the actor roles (actors/<name>/instances). A host without\n"
     "broker and bus (e.g. up/roles = agent) runs only its workers, connected to broker/endpoint\n"
     "on the tape server (docs/deployment.md). Each child logs to ${log}/<child>.log; a crashed\n"
     "child is restarted with exponential back-off (up/restart_min .. up/restart_max). Ctrl-C or\n"
     "SIGTERM stops the children in reverse order (SIGKILL after up/stop_timeout ms).\n"
     "\n"
     "  --detach   run in the background (log in ${log}/up.log); returns once the broker\n"
     "             answers, every child has run up/settle ms without crashing and the\n"
     "             broker shows this host's workers of every actor role; exit 1 (naming\n"
     "             the child, its restarts and the last lines of its log) if a child keeps\n"
     "             crashing, the broker does not answer within 15 s, or the workers are\n"
     "             missing by the deadline\n"},
    {"down", cmd_down, true, NULL, NULL,
     "usage: tapeflow [--config FILE] down\n"
     "\n"
     "Stops the supervisor started by 'tapeflow up' (and with it every child) and waits until it\n"
     "is gone. Exit 0 also when nothing was running.\n"},
    {"status", cmd_status, true, NULL, NULL,
     "usage: tapeflow [--config FILE] status [--json]\n"
     "\n"
     "Shows the supervisor and its children (from ${run}/up.state) and asks the broker for its\n"
     "services, queues and workers. Exit 0 when everything is up, 1 when anything is down.\n"},
    {"events", cmd_events, true, NULL, NULL,
     "usage: tapeflow [--config FILE] events [TOPIC-PREFIX] [--json] [--count N] [--timeout SECONDS]\n"
     "\n"
     "Tails the event bus: one line per event (time, source#seq, topic, level, message, job,\n"
     "item, progress) and a 'gap:' line when a source's sequence numbers skip (lost events).\n"
     "Runs until Ctrl-C, N events (--count) or the timeout; exit 1 when the timeout comes\n"
     "before --count events.\n"},
    /* needs_config false: loaded unchecked, so 'config check' can list every problem itself */
    {"config", cmd_config, false, cli_config_verbs, NULL,
     "usage: tapeflow [--config FILE] config check [FILE] | show | keys [--json]\n"
     "\n"
     "  check [FILE]   every problem of a config file, with its line (exit 1 when any)\n"
     "  show           the effective value of every key and its source (default, FILE:LINE,\n"
     "                 override, environment)\n"
     "  keys           every key: type, default, allowed values, meaning\n"},
    {"keys", cmd_keys, true, cli_keys_verbs, NULL,
     "usage: tapeflow [--config FILE] keys init | show [--json] | list [--json]\n"
     "       tapeflow [--config FILE] keys trust NAME PUBLIC-KEY --role ROLE[,ROLE...] [--host HOST]\n"
     "                                [--restore-root HOST:/DIR]...\n"
     "       tapeflow [--config FILE] keys untrust NAME [--json]\n"
     "\n"
     "CURVE keys for tcp endpoints (keys/dir; docs/security.md).\n"
     "  init      make this host's certificate (once) and trust it as tapeflow/host, role admin\n"
     "  show      this host's public key, to trust it on the tape server\n"
     "  trust     trust a peer's public key as NAME with roles (again: change its roles)\n"
     "  untrust   forget the trusted key NAME\n"
     "  list      the trusted keys, their roles and restore roots\n"
     "roles: scan compress extract stager tape labeller catalog echo (may register as that\n"
     "service), backup, restore, query, admin; agent = scan,compress,extract; server = every\n"
     "service. --host: the host the key belongs to (default NAME): its workers must register\n"
     "from it and its pipeline items name it (admin keys: any host). --restore-root limits the\n"
     "key's restores to those folders (repeat it; HOST * = any host, needed for restores that\n"
     "name no host).\n"},
    {"drive", s_cmd_drive, true, NULL, S_DRIVE_VERBS,
     "usage: tapeflow [--config FILE] drive list|status|doctor|test ...\n"
     "\n"
     "Tape drive commands (see 'tapeflow drive --help').\n"},
#ifdef TF_HAVE_CMD_BACKUP
    {"backup", cmd_backup, true, NULL, NULL,
     "usage: tapeflow [--config FILE] backup PATH... [--pool POOL] [--compression zstd|gzip|none]\n"
     "                [--group-size SIZE] [--all-filesystems] [--level full|differential|incremental]\n"
     "                [--wait [--timeout SECONDS]] [--json]\n"
     "\n"
     "Starts a backup job of the paths (folders are walked; symlinks are stored, not followed;\n"
     "other file systems are skipped unless --all-filesystems) to a tape of POOL (backup/pool).\n"
     "A path HOST:/path is read on HOST by its file agent (checked there first; a plain path is\n"
     "this host's, tapeflow/host); one job may name paths on several hosts.\n"
     "Prints the job id. --wait follows the job to its end with a progress bar (plain lines when\n"
     "not on a terminal) and exits 0 when it completed, 1 when it ended any other way:\n"
     "completed_with_warnings (entries missing: the message says how many; tapeflow job ID\n"
     "--missing lists them), failed (with the root cause) or expired.\n"
     "--level (default full): incremental stores what changed since the last backup of the\n"
     "same paths, differential what changed since their last full. Changes are found by\n"
     "comparing each entry with the base job's manifest (size, times in ns, inode, mode, owner,\n"
     "xattrs, file system), never a timestamp; deletions and renames are recorded. Without a\n"
     "previous full the job runs as a full and says why (\"job J: full (upgraded: ...)\");\n"
     "otherwise \"job J: incremental, base J0\". tapeflow job J --files shows why each entry\n"
     "was stored.\n"},
#endif
#ifdef TF_HAVE_CMD_RESTORE
    {"restore", cmd_restore, true, NULL, NULL,
     "usage: tapeflow [--config FILE] restore JOB [PATH-OR-GLOB...] --to [HOST:]DIR\n"
     "                [--overwrite never|older|always] [--strip-components N | --flat]\n"
     "                [--from-replica TARGET] [--json]\n"
     "       tapeflow [--config FILE] restore --at TIME SOURCE --to [HOST:]DIR [options]\n"
     "\n"
     "Restores a job's files (all, or those matching the paths or globs; a folder brings what is\n"
     "under it) into DIR, keeping their stored paths. Reads only the archives holding them, in\n"
     "tape order, positioning the tape directly at each. Owners, modes, times (to the\n"
     "nanosecond), links and sparse files are restored; names with '..' or absolute paths, or\n"
     "that would be written through a symlink, are refused: nothing is ever written outside DIR.\n"
     "An incremental or differential job restores the state of its sources at that job: each\n"
     "file comes from the newest job of its chain that stored it, and files deleted before the\n"
     "job do not come back.\n"
     "\n"
     "  --at TIME SOURCE    restore SOURCE (/path or HOST:/path, as backed up) as it was at TIME:\n"
     "                      the newest completed job created at or before TIME that holds it\n"
     "                      (named on stderr); TIME is 2026-12-01, '2026-12-01 04:00[:00]'\n"
     "                      (local time) or 2026-12-01T03:00:00Z (UTC)\n"
     "  --to DIR            a folder of this host (tapeflow/host)\n"
     "  --to HOST:/DIR      a folder of host HOST: its file agent (tapeflow-extractor) writes\n"
     "                      the files, the tape writer's host writes nothing\n"
     "  --overwrite never   a file that exists in DIR is kept and counted (the default)\n"
     "  --overwrite older   replaced only when it is older than the stored one\n"
     "  --overwrite always  always replaced\n"
     "  --strip-components N  drop the first N folders of each stored path (entries with no\n"
     "                      more than N are left out)\n"
     "  --flat              every file straight into DIR (no folders); a name restored once\n"
     "                      already is a collision, counted and not overwritten\n"
     "  --from-replica TARGET  read the archives from replication target TARGET (replicas/TARGET)\n"
     "                      instead of tape, on this host (--to DIR of this host only); every\n"
     "                      job of the chain must be committed there; each archive's checksum\n"
     "                      is checked against the target's manifest.json while it is read\n"
     "\n"
     "An archive that cannot be read (a medium error) is reported and the others are still\n"
     "restored. Exit 0 only when everything selected was restored; otherwise 1 with one line\n"
     "'restore incomplete: ...' giving the counts (refused, kept, collisions, failed archives,\n"
     "entries not on tape).\n"},
#endif
#ifdef TF_HAVE_CMD_JOBS
    {"jobs", cmd_jobs, true, NULL, NULL,
     "usage: tapeflow [--config FILE] jobs [--limit N] [--json]\n"
     "\n"
     "Lists backup jobs, newest first: status, level, trigger, base job, stage, files and bytes\n"
     "done/total, message.\n"},
#endif
#ifdef TF_HAVE_CMD_JOBS
    {"job", cmd_job, true, cli_job_verbs, NULL,
     "usage: tapeflow [--config FILE] job ID [--missing | --files [--changed]] [--json]\n"
     "       tapeflow [--config FILE] job cancel|retry|purge ID [--json] ...\n"
     "\n"
     "Shows one job: status, stage, level, base job, trigger, progress, archives and, when it\n"
     "failed, the root cause. Exit 1 when the job is unknown or ended other than completed\n"
     "(completed_with_warnings, failed, cancelled, expired). --missing lists the entries the\n"
     "scan counted that no archive stored; --files the job's entries with why each was stored\n"
     "(--changed: only those stored or deleted).\n"
     "  job cancel ID [--keep-staged]   stop its work; release its staged archives unless kept\n"
     "  job retry ID                    run a failed or cancelled job again from where it stopped\n"
     "  job purge ID [--force]          delete what it left on the holding disk\n"},
#endif
#ifdef TF_HAVE_CMD_CHANGER
    /* inventory talks to the labeller (cli_labeller.c); list, load and unload to the robot. */
    {"changer", cmd_changer_labelled, true, NULL, cli_changer_verb_names,
     "usage: tapeflow [--config FILE] changer list|load|unload|inventory CHANGER ...\n"
     "\n"
     "  changer list CHANGER                                 slots, drives, barcodes\n"
     "  changer load CHANGER (--slot N | --barcode B) [--drive D]\n"
     "  changer unload CHANGER [--drive D] [--slot N]        back to its slot by default\n"
     "  changer inventory CHANGER                            the labeller reads the barcodes (no loads)\n"
     "CHANGER is a URL or a name from changers/<name>/url (see docs/changers.md).\n"},
#endif
#ifdef TF_HAVE_CMD_SCHEDULE
    {"schedule", cmd_schedule, true, cli_schedule_verbs, NULL,
     "usage: tapeflow [--config FILE] schedule list|next|history|run ...\n"
     "\n"
     "  schedule list                          every schedule: calendar, zone, next and last run,\n"
     "                                         last result, level of the next run\n"
     "  schedule next NAME [--days N]          the coming runs (default 7 days) with their level\n"
     "  schedule history NAME [--limit N]      fired, missed, skipped, queued and manual runs\n"
     "  schedule run NAME [--wait]             start the schedule's job now (recorded as manual)\n"
     "All take --json. Schedules are schedules/NAME in the configuration; tapeflow-scheduler\n"
     "fires them (docs/operations.md, \"Schedules\").\n"},
#endif
    {"replica", cmd_replica, true, cli_replica_verbs, NULL,
     "usage: tapeflow [--config FILE] replica init|list|verify|check ...\n"
     "\n"
     "  replica init NAME                      prepare target NAME (folder and sentinel)\n"
     "  replica list [TARGET]                  jobs on TARGET and what the catalog says of them;\n"
     "                                         without TARGET: the catalog's replicas of every target\n"
     "  replica verify TARGET [JOB]            re-read every file and compare with manifest.json\n"
     "  replica check TARGET                   reachable, mounted, sentinel, writable, free space\n"
     "All take --json. Targets are replicas/NAME in the configuration; a pool copies its jobs\n"
     "to those in pools/POOL/replicas (docs/operations.md, \"Replication\").\n"},
#ifdef TF_HAVE_CMD_TAPE
    {"tape", cmd_tape, true, cli_tape_verbs, NULL,
     "usage: tapeflow [--config FILE] tape label|info|dump|list|erase|scan|clear ...\n"
     "\n"
     "  tape label DRIVE --label NAME --pool POOL [--force]   label a blank tape\n"
     "       [--expires DATE]                                 not to be overwritten before DATE\n"
     "  tape label --barcodes CHANGER --pool POOL            label every blank cartridge by barcode\n"
     "  tape info DRIVE                                      what is on the tape in DRIVE\n"
     "  tape dump DRIVE --file N                             one archive's data to stdout\n"
     "  tape list [--pool POOL]                              volumes: pool, state, expiry, use, where\n"
     "  tape erase DRIVE [--yes]                             erase an expired volume, keep its label\n"
     "  tape scan DRIVE                                      rebuild the catalog rows of a tape from it\n"
     "  tape clear LABEL                                     a volume in state error appendable again\n"},
#endif
};
#define S_NCOMMANDS (sizeof s_commands / sizeof s_commands[0])

void
cli_usage(FILE *out)
{
    fprintf(out,
            "usage: tapeflow [--config FILE] [--json] COMMAND [ARGS]\n"
            "       tapeflow --help | --version | help COMMAND | help --list\n"
            "\n"
            "commands:\n"
            "  up [--detach]     start the local stack (bus, broker, actors) and supervise it\n"
            "  down              stop the stack started by 'tapeflow up'\n"
            "  status [--json]   show the supervisor, children, broker, services and workers\n"
            "  events [PREFIX]   tail the event bus (--json, --count N, --timeout SECONDS)\n"
            "  config ...        check FILE, show effective values, list keys\n"
            "  keys ...          CURVE keys: init, show, trust NAME KEY --role R, untrust, list\n"
            "  drive ...         tape drive commands\n"
            "  backup PATH...    back up paths to tape (--wait to follow the job)\n"
            "  restore JOB ...   restore a job's files (--to DIR)\n"
            "  jobs, job ID      list jobs, show one\n"
            "  job cancel|retry|purge ID   stop, re-run, or clean up after a job\n"
            "  schedule ...      backup schedules: list, next NAME, history NAME, run NAME\n"
            "  replica ...       replication targets: init, list, verify, check\n"
            "  tape ...          label, info, dump, list, erase\n"
            "  changer ...       media changer: list, load, unload, inventory\n"
            "\n"
            "options:\n"
            "  --config FILE     configuration file (ZPL); default $TAPEFLOW_CONFIG, else\n"
            "                    /etc/tapeflow/tapeflow.cfg when present, else built-in defaults\n"
            "  --set KEY=VALUE   override one configuration key (checked like the file)\n"
            "  --json            machine-readable output\n"
            "\n"
            "environment: TAPEFLOW_HOME (data folder), TAPEFLOW_CONFIG, TAPEFLOW_BIN_DIR\n");
}

const cli_command_t *
cli_command_find(const char *name)
{
    for (size_t i = 0; name && i < S_NCOMMANDS; i++)
        if (strcmp(s_commands[i].name, name) == 0)
            return &s_commands[i];
    return NULL;
}

void
cli_command_list(FILE *out)
{
    for (size_t i = 0; i < S_NCOMMANDS; i++) {
        const cli_command_t *c = &s_commands[i];
        fprintf(out, "%s\n", c->name);
        for (size_t v = 0; c->verbs && c->verbs[v].name; v++)
            fprintf(out, "%s %s\n", c->name, c->verbs[v].name);
        for (size_t v = 0; c->verb_names && c->verb_names[v]; v++)
            fprintf(out, "%s %s\n", c->name, c->verb_names[v]);
    }
}

bool
cli_help(const char *command, FILE *out)
{
    const cli_command_t *c = cli_command_find(command);
    if (c)
        fputs(c->help, out);
    return c != NULL;
}

int
cli_usage_error(const char *command, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("tapeflow: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    if (!command || !cli_help(command, stderr))
        cli_usage(stderr);
    return CLI_EXIT_USAGE;
}

int
cli_opt_int(const char *command, const char *opt, const char *text, int64_t min, int64_t max,
            const char *what, int64_t *value)
{
    if (tf_units_parse_int(text, min, max, value) == 0)
        return CLI_EXIT_OK;
    if (max == INT64_MAX)
        return cli_usage_error(command, "%s: %s takes %s of at least %" PRId64 ", not '%s'",
                               command, opt, what, min, text ? text : "");
    return cli_usage_error(command, "%s: %s takes %s from %" PRId64 " to %" PRId64 ", not '%s'",
                           command, opt, what, min, max, text ? text : "");
}

int
cli_opt_seconds(const char *command, const char *opt, const char *text, int64_t min_ms,
                int64_t max_ms, int64_t *ms)
{
    if (tf_units_parse_seconds(text, min_ms, max_ms, ms) == 0)
        return CLI_EXIT_OK;
    return cli_usage_error(command, "%s: %s takes a number of seconds from %g to %g, not '%s'",
                           command, opt, (double) min_ms / 1000.0, (double) max_ms / 1000.0,
                           text ? text : "");
}

const char *
cli_bindir(char *buf, size_t size)
{
    const char *env = getenv("TAPEFLOW_BIN_DIR");
    if (env && *env) {
        snprintf(buf, size, "%s", env);
        return buf;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        snprintf(buf, size, ".");
        return buf;
    }
    exe[n] = '\0';
    snprintf(buf, size, "%s", dirname(exe));
    return buf;
}

const char *
cli_pid_path(tf_config_t *cfg, char *buf, size_t size)
{
    snprintf(buf, size, "%s/up.pid", tf_config_get(cfg, "tapeflow/run"));
    return buf;
}

const char *
cli_state_path(tf_config_t *cfg, char *buf, size_t size)
{
    snprintf(buf, size, "%s/up.state", tf_config_get(cfg, "tapeflow/run"));
    return buf;
}

const char *
cli_uplog_path(tf_config_t *cfg, char *buf, size_t size)
{
    snprintf(buf, size, "%s/up.log", tf_config_get(cfg, "tapeflow/log"));
    return buf;
}

bool
cli_pid_alive(pid_t pid)
{
    if (pid <= 0)
        return false;
    if (kill(pid, 0) != 0 && errno != EPERM)
        return false;
    /* A zombie has exited; it only waits for a parent (maybe a non-reaping init) to reap it. */
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return true;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return true;
    buf[n] = '\0';
    const char *paren = strrchr(buf, ')');
    if (paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X'))
        return false;
    return true;
}

/* True unless /proc shows that pid runs something other than a tapeflow program. */
static bool
s_looks_like_tapeflow(pid_t pid)
{
    char path[64], buf[PATH_MAX];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int) pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return true;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return true;
    buf[n] = '\0';   /* argv[0] ends at the first NUL */
    const char *base = strrchr(buf, '/');
    base = base ? base + 1 : buf;
    return strncmp(base, "tapeflow", 8) == 0;
}

pid_t
cli_pidfile_live(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    long pid = 0;
    int got = fscanf(f, "%ld", &pid);
    fclose(f);
    if (got != 1 || pid <= 0 || pid > INT_MAX)
        return 0;
    if (!cli_pid_alive((pid_t) pid) || !s_looks_like_tapeflow((pid_t) pid))
        return 0;
    return (pid_t) pid;
}

const char *
cli_duration(int64_t ms, char *buf, size_t size)
{
    if (ms < 0)
        ms = 0;
    int64_t s = ms / 1000;
    if (ms < 60000)
        snprintf(buf, size, "%" PRId64 ".%" PRId64 "s", s, (ms % 1000) / 100);
    else if (s < 3600)
        snprintf(buf, size, "%" PRId64 "m%02" PRId64 "s", s / 60, s % 60);
    else if (s < 86400)
        snprintf(buf, size, "%" PRId64 "h%02" PRId64 "m", s / 3600, (s % 3600) / 60);
    else
        snprintf(buf, size, "%" PRId64 "d%02" PRId64 "h", s / 86400, (s % 86400) / 3600);
    return buf;
}
