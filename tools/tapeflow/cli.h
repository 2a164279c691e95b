/*  cli - what the tapeflow commands share: the invocation context, the command entry points and
    a few small helpers (program folder, pid checks, durations).

    Every command returns the process exit status: 0 success, 1 failure or "something is down",
    2 usage error.
*/
#ifndef CLI_H_INCLUDED
#define CLI_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "tf_config.h"

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2
/* A self-check (tapeflow replica check) has a step that failed (0 all ok, 1 a warning). The
   same number as CLI_EXIT_USAGE, another meaning: scripts tell them apart by the output. */
#define CLI_EXIT_CHECK_FAILED 2

typedef struct {
    tf_config_t *cfg;          /* effective configuration */
    const char *config_path;   /* absolute path of the file loaded, or NULL for defaults only */
    bool json;                 /* --json given before the command */
} cli_t;

/* A command's or a verb's entry point: argv[0] is its word ("backup", "label"). */
typedef int cli_command_fn(cli_t *cli, int argc, char **argv);

/* One verb of a command (tape label, changer list, job cancel); a table ends with a NULL name
   (run with cli_verb_run, cli_opt.h). */
typedef struct {
    const char *name;
    cli_command_fn *fn;
} cli_verb_t;

/* One row of the command table (cli.c): every command and its verbs, which main dispatches,
   help prints and `tapeflow help --list` lists. */
typedef struct {
    const char *name;
    cli_command_fn *fn;
    bool needs_config;               /* false: loaded unchecked ('config check' lists problems) */
    const cli_verb_t *verbs;         /* the verbs it runs with cli_verb_run, or NULL */
    const char *const *verb_names;   /* or the verbs of one that dispatches itself (drive) */
    const char *help;
} cli_command_t;

/* The row of command, or NULL when there is no such command. */
const cli_command_t *cli_command_find(const char *name);
/* Every command, then each of its verbs ("tape label"), one a line: `tapeflow help --list`. */
void cli_command_list(FILE *out);

/* Verb tables of the commands that have verbs. */
extern const cli_verb_t cli_tape_verbs[];     /* cmd_tape.c */
extern const cli_verb_t cli_changer_verbs[];  /* cmd_changer.c */
extern const cli_verb_t cli_job_verbs[];      /* cmd_job_actions.c: cancel, retry, purge */
extern const cli_verb_t cli_config_verbs[];   /* cmd_config.c */
extern const cli_verb_t cli_keys_verbs[];     /* cmd_keys.c: init, show, trust, untrust, list */
extern const cli_verb_t cli_schedule_verbs[]; /* cmd_schedule.c: list, next, history, run */
extern const cli_verb_t cli_replica_verbs[];  /* cmd_replica.c: init, list, verify, check */

int cmd_up(cli_t *cli, int argc, char **argv);
int cmd_down(cli_t *cli, int argc, char **argv);
int cmd_status(cli_t *cli, int argc, char **argv);
int cmd_events(cli_t *cli, int argc, char **argv);
int cmd_config(cli_t *cli, int argc, char **argv);   /* cmd_config.c: check, show, keys */
int cmd_keys(cli_t *cli, int argc, char **argv);     /* cmd_keys.c: CURVE keys and trust */
/* Pipeline commands (argv[0] is the command name, e.g. "backup"). */
int cmd_backup(cli_t *cli, int argc, char **argv);   /* cmd_backup.c */
int cmd_restore(cli_t *cli, int argc, char **argv);  /* cmd_restore.c */
int cmd_jobs(cli_t *cli, int argc, char **argv);     /* cmd_jobs.c: list jobs */
int cmd_job(cli_t *cli, int argc, char **argv);      /* cmd_jobs.c: one job */
int cmd_tape(cli_t *cli, int argc, char **argv);     /* cmd_tape.c: label, dump, ... */
int cmd_changer(cli_t *cli, int argc, char **argv);  /* cmd_changer.c: changer list|load|unload */
int cmd_tape_scan(cli_t *cli, int argc, char **argv); /* cmd_tape_scan.c: tape scan (argv[0] "scan") */
int cmd_schedule(cli_t *cli, int argc, char **argv); /* cmd_schedule.c: schedule list|next|history|run */
int cmd_replica(cli_t *cli, int argc, char **argv);  /* cmd_replica.c: replica init|list|verify|check */

/* Prints the help of one command ("up", ...) to out; false when the command is unknown. */
bool cli_help(const char *command, FILE *out);
/* Prints the general usage to out. */
void cli_usage(FILE *out);
/* Reports a usage problem on stderr with a pointer to the help; returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *command, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Number options: parse text as a whole number in [min, max] (cli_opt_int) or as seconds with
   decimals, into ms (cli_opt_seconds). On bad text print a usage error naming command, option,
   the allowed range and what was given ("backup: --timeout takes a number of seconds from 0
   to 31536000, not 'abc'") and return CLI_EXIT_USAGE; else CLI_EXIT_OK. what says what the
   number is ("a number of seconds", "a slot number"). */
int cli_opt_int(const char *command, const char *opt, const char *text, int64_t min, int64_t max,
                const char *what, int64_t *value);
int cli_opt_seconds(const char *command, const char *opt, const char *text, int64_t min_ms,
                    int64_t max_ms, int64_t *ms);

/* Folder with the tapeflow programs: $TAPEFLOW_BIN_DIR, else the folder of this executable. */
const char *cli_bindir(char *buf, size_t size);

/* ${run}/up.pid, ${run}/up.state, ${log}/up.log into buf. */
const char *cli_pid_path(tf_config_t *cfg, char *buf, size_t size);
const char *cli_state_path(tf_config_t *cfg, char *buf, size_t size);
const char *cli_uplog_path(tf_config_t *cfg, char *buf, size_t size);

/* True when pid names a live (not zombie) process. */
bool cli_pid_alive(pid_t pid);
/* The pid in a pid file when that process is alive and looks like tapeflow; 0 otherwise. */
pid_t cli_pidfile_live(const char *path);

/* "3.2s", "5m03s", "2h05m", "3d04h" */
const char *cli_duration(int64_t ms, char *buf, size_t size);

#endif
