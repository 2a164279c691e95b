/*  tf_testproc - real child processes for integration tests (libuv's helper-process style).

    A test starts the programs it needs (broker, bus, actors, CLI) as separate processes with
    their output in a log file, talks to them over ipc/tcp on this machine, kills them when the
    test wants a crash, and always reaps them: tf_testproc_destroy SIGKILLs what is still alive.
*/
#ifndef TF_TESTPROC_H_INCLUDED
#define TF_TESTPROC_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

typedef struct _tf_testproc_t tf_testproc_t;

/* Starts exe (a path, or a name looked up in tf_test_bindir()) with argv (NULL-terminated,
   argv[0] included) and the current environment plus env_extra ("K=V" strings, NULL-ended,
   may be NULL). stdout and stderr go to log_path (appended), or are inherited when NULL. */
tf_testproc_t *tf_testproc_start(const char *exe, char *const argv[], char *const env_extra[],
                                 const char *log_path);
int tf_testproc_pid(tf_testproc_t *self);
/* Sends a signal; returns 0 or -1. */
int tf_testproc_kill(tf_testproc_t *self, int sig);
/* Waits up to timeout_ms for exit; returns true and the wait status when it exited. */
bool tf_testproc_wait(tf_testproc_t *self, int timeout_ms, int *status);
/* True while the process has not exited. */
bool tf_testproc_alive(tf_testproc_t *self);
/* SIGKILLs the process if it still runs, reaps it, frees, nulls the pointer. */
void tf_testproc_destroy(tf_testproc_t **self_p);

/* Runs a command to completion (timeout_ms) capturing stdout into *out (malloc'd, may be
   NULL); returns the exit status, or -1 on timeout/spawn failure. */
int tf_test_run(const char *exe, char *const argv[], char *const env_extra[], int timeout_ms,
                char **out);

/* Folder with the built programs: $TAPEFLOW_BIN_DIR or the build's bin folder. */
const char *tf_test_bindir(void);
/* A new short temp folder (ipc:// paths must stay under 107 bytes); caller frees. */
char *tf_test_tempdir(const char *prefix);
/* Removes a folder tree (tests' temp folders only). */
void tf_test_rmtree(const char *path);
/* Ends a test's temp folder: removes it (or keeps it and says where when TF_KEEP_TEST_DIRS
   is set, to look at logs after a failure), frees the path, nulls the pointer. */
void tf_test_dir_done(char **dir_p);
/* A TCP port on 127.0.0.1 that was free a moment ago. */
int tf_test_free_port(void);
/* True when something accepts TCP connections on 127.0.0.1:port. */
bool tf_test_port_accepts(int port);
/* Runs argv (PATH lookup) to completion with stdout and stderr appended to log; returns the
   exit status, -1 when it did not run or was killed. For setup tools (tgtimg, tgtadm). */
int tf_test_run_logged(char *const argv[], const char *log);
/* Appends " (log: <last non-empty line of log>)" to why, so a setup failure says what the
   tool said. */
void tf_test_log_tail(const char *log, char *why, size_t size);
/* Polls cond every 20 ms until true or timeout; returns the last result. */
bool tf_test_wait_for(bool (*cond)(void *arg), void *arg, int timeout_ms);
/* Reads a whole file (malloc'd, NUL-terminated) or NULL. */
char *tf_test_read_file(const char *path);
/* The same for binary files: *size is the byte count (the NUL after them not counted). */
char *tf_test_read_bytes(const char *path, size_t *size);

#endif
