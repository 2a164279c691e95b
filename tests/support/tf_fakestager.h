/*  tf_fakestager - an in-test stager for tape writer tests: a ROUTER on an endpoint answering
    fetch requests from archives the test added, on a thread of its own.

    It serves bytes like tapeflow-stager does (fetch -> fetch_data with eof on the last byte,
    "no such archive" for an unknown one), and an archive's file rows sidecar for fetch.rows
    ("no file rows sidecar" when the test gave none), and lets a test slow it down, count
    requests, and act just before the last byte of an archive goes out (e.g. to corrupt what
    the tape writer is about to verify).
*/
#ifndef TF_FAKESTAGER_H_INCLUDED
#define TF_FAKESTAGER_H_INCLUDED

#include <stddef.h>

typedef struct _tf_fakestager_t tf_fakestager_t;
/* Called from the stager's thread before the answer carrying the last byte of archive_id. */
typedef void(tf_fakestager_hook_fn)(void *arg, const char *archive_id);

/* Binds endpoint (e.g. the stack's ipc://DIR/run/stager.sock); NULL with the reason on stderr. */
tf_fakestager_t *tf_fakestager_new(const char *endpoint);
void tf_fakestager_destroy(tf_fakestager_t **self_p);

/* Serves archive_id from a copy of data. 0, or -1 when full or out of memory. */
int tf_fakestager_add(tf_fakestager_t *self, const char *archive_id, const void *data, size_t size);
/* Serves a copy of data as the file rows sidecar of archive_id (added before). 0, or -1 when
   the archive is unknown or out of memory. */
int tf_fakestager_add_rows(tf_fakestager_t *self, const char *archive_id, const void *data, size_t size);
/* Every answer is delayed by ms. */
void tf_fakestager_set_delay(tf_fakestager_t *self, int ms);
/* Sets (fn NULL: removes) the hook called before an archive's last byte. */
void tf_fakestager_set_last_hook(tf_fakestager_t *self, tf_fakestager_hook_fn *fn, void *arg);
/* Fetch requests answered so far (of the data and of sidecars). */
int tf_fakestager_requests(tf_fakestager_t *self);
/* Of them, fetch.rows requests (for a sidecar). */
int tf_fakestager_rows_requests(tf_fakestager_t *self);

#endif
