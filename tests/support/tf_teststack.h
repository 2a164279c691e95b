/*  tf_teststack - a tapeflow stack in a temp home for process tests, driven as an operator
    would: the shared set-up of the process tests.

    The configuration starts from a small-test baseline (fast heartbeats, quick restarts, small
    groups and chunks, a 1 GiB sim drive tape0) and takes "section/key=value" overrides, so a
    test states only what it changes. The stack is either the whole one under `tapeflow up
    --detach`, or a set of programs started one by one (opts.programs: e.g. broker, bus and a
    tape writer next to an in-test fake stager). Tests run the CLI against it, read JSON
    fields, subscribe to its events and wait for a topic, stop programs and the stack and
    check that they ended cleanly (exit 0, no sanitizer report in their logs). Everything lives
    in the stack's folder; destroy stops what runs and removes the folder (kept when
    TF_KEEP_TEST_DIRS is set).
*/
#ifndef TF_TESTSTACK_H_INCLUDED
#define TF_TESTSTACK_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#include "tf_testevents.h"

typedef struct _tf_teststack_t tf_teststack_t;

typedef struct {
    /* "section/key=value" strings, NULL-terminated, applied over the baseline; may be NULL.
       "${dir}" in a value is replaced by the stack's folder. */
    const char *const *config;
    /* Extra query options for the sim drive tape0 (e.g. "&rate=15M"); may be NULL. */
    const char *sim_options;
    /* Write the configuration but start nothing (the test runs `up` itself, or wants a
       configuration nothing answers for). */
    bool no_up;
    /* Instead of `tapeflow up`: these programs, NULL-terminated, started in order as
       `tapeflow-<program> --config CFG --log-level debug` with their output in DIR/<name>.log.
       A name with a dot ("catalog.1", "echo.1") is the program before the dot started with
       --name NAME. The broker and the bus are waited for (their sockets) before the next, the
       others (with a broker running) until the broker lists them as workers. */
    const char *const *programs;
    /* A command prefix (NULL-terminated, e.g. tf_testnet_wrap: nsenter ... --) every program,
       CLI run and shell command of the stack goes through: the stack is a host of a multi-host
       test. Its programs are then not waited for (their sockets and the broker may be on
       another host): the test checks what it needs. May be NULL. */
    char *const *wrap;
} tf_teststack_opts_t;

/* Writes the configuration in a new temp folder (prefix: a few letters) and starts the stack;
   NULL (with the reason on stderr) when it did not come up. */
tf_teststack_t *tf_teststack_new(const char *prefix, const tf_teststack_opts_t *opts);
/* Stops what runs (`tapeflow down`; programs: SIGKILL), removes the folder (or keeps it, see
   above), nulls the pointer. Checks nothing: see tf_teststack_down. */
void tf_teststack_destroy(tf_teststack_t **self_p);

/* The stack's folder (= TAPEFLOW_HOME), its config file, and the environment to run its
   programs with (TAPEFLOW_CONFIG, TAPEFLOW_HOME; NULL-terminated). */
const char *tf_teststack_dir(tf_teststack_t *self);
const char *tf_teststack_config(tf_teststack_t *self);
char *const *tf_teststack_env(tf_teststack_t *self);
/* ipc endpoints of the broker (for tf_client) and of the bus frontend and backend. */
const char *tf_teststack_broker(tf_teststack_t *self);
const char *tf_teststack_bus_in(tf_teststack_t *self);
const char *tf_teststack_bus_out(tf_teststack_t *self);

/* Changes one setting ("section/key=value", ${dir} as above) in the configuration file: the
   programs started after it read it. 0 or -1. */
int tf_teststack_set(tf_teststack_t *self, const char *setting);

/* --- programs --------------------------------------------------------------------------- */

/* Starts program `name` (see opts.programs) - one more, or again after a stop or a kill (its
   log is appended to). 0, or -1 with the reason on stderr. */
int tf_teststack_start(tf_teststack_t *self, const char *name);
/* Sends sig to a program started by the stack (SIGKILL: and reaps it); 0, or -1 when it is
   not running. */
int tf_teststack_kill(tf_teststack_t *self, const char *name, int sig);
/* Process id of a program started by the stack, -1 when unknown. */
int tf_teststack_pid(tf_teststack_t *self, const char *name);
/* Waits up to timeout_ms for the program to exit; true and its wait status when it did. */
bool tf_teststack_wait(tf_teststack_t *self, const char *name, int timeout_ms, int *status);
/* True while the program runs. */
bool tf_teststack_alive(tf_teststack_t *self, const char *name);
/* SIGTERM to the program, then: it exited within 15 s with status 0 and its log (of this run)
   holds no sanitizer report. 0, or -1 with why. */
int tf_teststack_stop(tf_teststack_t *self, const char *name, char *why, size_t why_size);
/* Stops the whole stack and checks it ended cleanly: `tapeflow down` exits 0 and every child
   of `tapeflow up` last exited with code 0 (programs: tf_teststack_stop of each one still
   running, last started first), and no log of the stack holds a sanitizer report. 0, or -1 with why (the first
   problem). With TAPEFLOW_SANITIZE builds run by tools/test the reports go to files of their
   own, which tools/test checks after the run. */
int tf_teststack_down(tf_teststack_t *self, char *why, size_t why_size);
/* tf_teststack_down, then tf_teststack_destroy: what a test's teardown does. 0, or -1 when
   the stack did not stop cleanly (the reason on stderr). */
int tf_teststack_finish(tf_teststack_t **self_p);
/* Starts the stack again after tf_teststack_down (`tapeflow up --detach`, or the programs of
   opts.programs). 0, or -1 with the reason on stderr. */
int tf_teststack_up(tf_teststack_t *self);
/* The log file of a program (programs: DIR/<name>.log; under `tapeflow up`: the child's log,
   "broker", "tapewriter.1", ...) into buf; buf. */
const char *tf_teststack_log(tf_teststack_t *self, const char *name, char *buf, size_t size);
/* Lines of all the stack's logs holding needle; *last (may be NULL) gets the word after needle
   on the last such line. */
int tf_teststack_log_count(tf_teststack_t *self, const char *needle, char *last, size_t last_size);
/* Archives of job the stager still holds: files DIR/staging/ready/<job>...data (the stager's
   holding disk; a released archive is gone from it). */
int tf_teststack_staged(tf_teststack_t *self, const char *job);
/* pid of a child of `tapeflow up` ("compressor.1", "stager.1", ...) from its state file, 0
   when unknown. */
int tf_teststack_child_pid(tf_teststack_t *self, const char *name);

/* Subscribes to the stack's bus for the topic prefixes (NULL-terminated); live when it
   returns (see tf_testevents). NULL with the reason on stderr. */
tf_testevents_t *tf_teststack_events(tf_teststack_t *self, const char *const prefixes[]);

/* --- the CLI ---------------------------------------------------------------------------- */
/* With TF_TEST_VERBOSE set, each command and what it printed go to stdout. */

/* Runs `tapeflow ARGS...` (NULL-terminated) to completion; returns the exit status (-1 when it
   timed out or did not run) and its stdout in *out (caller frees; out may be NULL). */
int tf_teststack_cli(tf_teststack_t *self, char **out, ...);
/* The same with an argv array (argv[0] is "tapeflow"). */
int tf_teststack_cliv(tf_teststack_t *self, char **out, char *const argv[]);
/* The same with stderr joined to stdout in *out (messages for people go to stderr). */
int tf_teststack_cli_all(tf_teststack_t *self, char **out, ...);
/* Runs a shell command line (sh -c) in the stack's environment with the built programs first
   on PATH, e.g. "tapeflow tape dump tape0 --file 1 | tar -tvf -"; exit status and stdout. */
int tf_teststack_shell(tf_teststack_t *self, char **out, const char *command);

/* `tapeflow tape label DRIVE --label LABEL --pool POOL`; returns the exit status (output of a
   failure goes to stderr). */
int tf_teststack_label(tf_teststack_t *self, const char *drive, const char *label, const char *pool);
/* `tapeflow backup SRC --pool POOL --wait --timeout 180 --json`: the exit status, the job id in
   job (empty when none) and the final JSON in *json (caller frees; json may be NULL). */
int tf_teststack_backup(tf_teststack_t *self, const char *src, const char *pool, char *job,
                        size_t job_size, char **json);
/* tf_teststack_backup with `--level LEVEL` (full | differential | incremental). */
int tf_teststack_backup_level(tf_teststack_t *self, const char *src, const char *pool, const char *level, char *job,
                              size_t job_size, char **json);
/* `tapeflow backup SRC --pool POOL --json` without waiting: the exit status and the job id in
   job (empty when none). */
int tf_teststack_backup_start(tf_teststack_t *self, const char *src, const char *pool, char *job,
                              size_t job_size);
/* `tapeflow job JOB --json` (exit 0, or 1 for a failed job: the JSON is there either way):
   its output (caller frees), or NULL with the exit status and output on stderr when it did
   not answer with the job. */
char *tf_teststack_job(tf_teststack_t *self, const char *job);
/* Polls the job (every 100 ms, up to timeout_ms) until its status is want (NULL: any end, not
   queued nor running). 0 when it got there, -1 when not; *json (may be NULL) gets the last
   JSON (caller frees; NULL when the job never answered). */
int tf_teststack_wait_job(tf_teststack_t *self, const char *job, const char *want, int timeout_ms, char **json);
/* `tapeflow restore JOB --to DIR/TO` of the whole job, then the restored copy of src (stored
   under its full path) compared with src, metadata included (tf_tree_compare). 0, or -1 with
   why saying what failed: the restore's exit status and output, or the first difference. */
int tf_teststack_restore_compare(tf_teststack_t *self, const char *job, const char *src, const char *to,
                                 char *why, size_t why_size);
/* The catalog's file rows of job: exactly one per entry of src (src included). 0, or -1 with
   why. */
int tf_teststack_catalog_has_each_entry_once(tf_teststack_t *self, const char *job, const char *src,
                                             char *why, size_t why_size);

/* --- JSON ------------------------------------------------------------------------------- */

/* The string value of "key":"..." (first occurrence) in a JSON text, copied into buf; NULL
   when absent. */
const char *tf_test_json_str(const char *json, const char *key, char *buf, size_t size);
/* The integer value of "key": (first occurrence), -1 when absent. */
long long tf_test_json_int(const char *json, const char *key);
/* The job id in the JSON of `tapeflow backup`: "job_id" only (one key per concept: a CLI that
   wrote "job" again would be a regression this must not hide). */
const char *tf_test_json_job(const char *json, char *buf, size_t size);

#endif
