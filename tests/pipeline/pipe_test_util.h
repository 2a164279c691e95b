/*  Helpers shared by the pipeline tests: building file trees, reference checksums. */
#ifndef PIPE_TEST_UTIL_H_INCLUDED
#define PIPE_TEST_UTIL_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "tf_err.h"
#include "tf_msg.h"

/* Writes size bytes of deterministic data (seeded; compressible when text != 0). */
void pt_write_file(const char *path, size_t size, uint32_t seed, int text);
/* Creates a file of logical size with data only in [data_at, data_at + data_len). */
void pt_write_sparse(const char *path, uint64_t size, uint64_t data_at, size_t data_len);
/* "xxh128:..." of a file's content, computed independently of tf_checksum (XXH3 one-shot). */
void pt_file_checksum(const char *path, char out[40]);
/* mkdir -p */
void pt_mkdir(const char *path);
/* Builds the standard tree under root: small files, a few bigger ones, an empty dir, a
   symlink, a hard link pair, a sparse file, a non-ASCII name, a FIFO. */
void pt_make_tree(const char *root, size_t big_size);
/* Runs a shell command line, returns its exit status; *out gets stdout (malloc'd) when set. */
int pt_sh(const char *cmdline, char **out);

/* What a catalog that keeps no manifest answers a cat_manifest: begin says full, diff takes
   every row (reason "full"), end deletes nothing. *result is heap-owned (tf_msg_clear). */
int pt_manifest_answer(const tf_msg_t *payload, tf_msg_t *result, tf_err_t *err);
/* A scanner_call_fn (scanner.h) answering with pt_manifest_answer; arg unused. */
int pt_manifest_call(void *arg, const char *service, const char *item_id, const char *job_id,
                     const tf_msg_t *payload, tf_msg_t *result, tf_err_t *err);

#endif
