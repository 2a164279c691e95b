/*  tf_err - status codes and error messages shared by every tapeflow module.

    Every function that can fail returns an int status: TF_OK (0) on success, a negative
    tf_status_t on failure. When the caller passes a tf_err_t, the callee fills in a message that
    says what went wrong in words an operator can act on (libarchive's convention).
*/
#ifndef TF_ERR_H_INCLUDED
#define TF_ERR_H_INCLUDED

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    TF_OK = 0,
    TF_ERR_INVALID = -1,      /* bad argument or bad input */
    TF_ERR_PROTO = -2,        /* malformed or unexpected message */
    TF_ERR_IO = -3,           /* operating-system I/O failure */
    TF_ERR_NOMEM = -4,
    TF_ERR_NOTFOUND = -5,
    TF_ERR_TIMEOUT = -6,
    TF_ERR_BUSY = -7,
    TF_ERR_STATE = -8,        /* operation not valid in the current state */
    TF_ERR_UNSUPPORTED = -9,
    TF_ERR_INTERRUPTED = -10, /* stopped by a signal */
    TF_ERR_DB = -11,          /* SQLite failure */
    TF_ERR_TOOBIG = -12,      /* a size or count over its limit */
    TF_ERR_DEVICE = -13       /* tape drive / SCSI failure (details in the message) */
} tf_status_t;

#define TF_ERR_MESSAGE_MAX 512

typedef struct {
    int code;                              /* last status, TF_OK when clear */
    char message[TF_ERR_MESSAGE_MAX];      /* human readable, never NULL-terminated badly */
} tf_err_t;

/* Fills err (if not NULL) and returns code, so callers can write: return tf_err_set(err, ...); */
int tf_err_set(tf_err_t *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Like tf_err_set, appending ": strerror(errnum)". */
int tf_err_errno(tf_err_t *err, int code, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Prepends context ("journal: ") to an existing message; returns err->code. */
int tf_err_prefix(tf_err_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void tf_err_clear(tf_err_t *err);

/* Short stable name of a status code ("invalid", "timeout", ...), for logs and JSON. */
const char *tf_status_name(int code);

#ifdef __cplusplus
}
#endif
#endif
