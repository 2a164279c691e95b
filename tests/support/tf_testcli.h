/*  tf_testcli - what tests that drive `tapeflow` and its archives share: running the CLI with
    its output captured, and tar streams made in memory (the archives a stager, replicator or
    extractor would see).
*/
#ifndef TF_TESTCLI_H_INCLUDED
#define TF_TESTCLI_H_INCLUDED

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* Runs BINDIR/tapeflow [--config cfg] ARGS... (NULL-terminated; cfg NULL: no --config) with
   env ("K=V", NULL-ended, may be NULL) added to the environment, for at most timeout_ms.
   *out gets its stdout; with err its stderr apart (through tmpdir/cli.err), without it stderr
   is merged into *out. Neither is NULL on return. The command, its exit status and its output
   are printed for the test log. Returns the exit status (-1: could not run or timed out). */
int tf_testcli_run(const char *cfg, char *const env[], const char *tmpdir, int timeout_ms, char **out, char **err,
                   ...);
int tf_testcli_vrun(const char *cfg, char *const env[], const char *tmpdir, int timeout_ms, char **out,
                    char **err, va_list args);

/* A tar (pax) stream in buf of regular files from NAME, TEXT pairs (NULL-terminated), mode 0644,
   one fixed mtime; zstd-compressed when zstd. Returns its size; 0 when it does not fit or
   libarchive failed. */
size_t tf_testcli_tar(char *buf, size_t size, const char *const *files, bool zstd);

#endif
