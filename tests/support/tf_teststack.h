/*  tf_teststack - a whole tapeflow stack under `tapeflow up --detach` in a temp home, driven
    through the `tapeflow` CLI as an operator would: the shared set-up of the process tests.

    The configuration starts from a small-test baseline (fast heartbeats, quick restarts, small
    groups and chunks, a 1 GiB sim drive tape0) and takes "section/key=value" overrides, so a test
    states only what it changes. Everything lives in the stack's folder; destroy stops the stack
    and removes the folder (kept when TF_KEEP_TEST_DIRS is set).
*/
#ifndef TF_TESTSTACK_H_INCLUDED
#define TF_TESTSTACK_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

typedef struct _tf_teststack_t tf_teststack_t;

typedef struct {
    /* "section/key=value" strings, NULL-terminated, applied over the baseline; may be NULL.
       "${dir}" in a value is replaced by the stack's folder. */
    const char *const *config;
    /* Extra query options for the sim drive tape0 (e.g. "&rate=15M"); may be NULL. */
    const char *sim_options;
    /* Write the configuration but do not start the stack (the test runs `up` itself). */
    bool no_up;
} tf_teststack_opts_t;

/* Writes the configuration in a new temp folder (prefix: a few letters) and runs
   `tapeflow up --detach`; NULL (with the reason on stderr) when it did not come up. */
tf_teststack_t *tf_teststack_new(const char *prefix, const tf_teststack_opts_t *opts);
/* `tapeflow down`, then the folder is removed (or kept, see above); nulls the pointer. */
void tf_teststack_destroy(tf_teststack_t **self_p);

/* The stack's folder (= TAPEFLOW_HOME), its config file, and the environment to run its
   programs with (TAPEFLOW_CONFIG, TAPEFLOW_HOME; NULL-terminated). */
const char *tf_teststack_dir(tf_teststack_t *self);
const char *tf_teststack_config(tf_teststack_t *self);
char *const *tf_teststack_env(tf_teststack_t *self);
/* ipc endpoint of the broker, for tests that submit or query with tf_client. */
const char *tf_teststack_broker(tf_teststack_t *self);

/* Runs `tapeflow ARGS...` (NULL-terminated) to completion; returns the exit status (-1 when it
   timed out or did not run) and its stdout in *out (caller frees; out may be NULL). */
int tf_teststack_cli(tf_teststack_t *self, char **out, ...);
/* The same with an argv array (argv[0] is "tapeflow"). */
int tf_teststack_cliv(tf_teststack_t *self, char **out, char *const argv[]);

/* `tapeflow tape label DRIVE --label LABEL --pool POOL`; returns the exit status (output of a
   failure goes to stderr). */
int tf_teststack_label(tf_teststack_t *self, const char *drive, const char *label, const char *pool);
/* `tapeflow backup SRC --pool POOL --wait --timeout 180 --json`: the exit status, the job id in
   job (empty when none) and the final JSON in *json (caller frees; json may be NULL). */
int tf_teststack_backup(tf_teststack_t *self, const char *src, const char *pool, char *job,
                        size_t job_size, char **json);
/* `tapeflow restore JOB --to DIR/TO` of the whole job, then the restored copy of src (stored
   under its full path) compared with src, metadata included (tf_tree_compare). 0, or -1 with
   why saying what failed: the restore's exit status and output, or the first difference. */
int tf_teststack_restore_compare(tf_teststack_t *self, const char *job, const char *src, const char *to,
                                 char *why, size_t why_size);
/* pid of a child of `tapeflow up` ("compressor.1", "stager.1", ...) from its state file, 0
   when unknown. */
int tf_teststack_child_pid(tf_teststack_t *self, const char *name);

/* The string value of "key":"..." (first occurrence) in a JSON text, copied into buf; NULL
   when absent. */
const char *tf_test_json_str(const char *json, const char *key, char *buf, size_t size);
/* The integer value of "key": (first occurrence), -1 when absent. */
long long tf_test_json_int(const char *json, const char *key);

#endif
