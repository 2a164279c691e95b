/*  tf_err - status codes and error messages. */
#include "tf_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int
tf_err_set(tf_err_t *err, int code, const char *fmt, ...)
{
    if (err) {
        err->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

int
tf_err_errno(tf_err_t *err, int code, int errnum, const char *fmt, ...)
{
    if (err) {
        err->code = code;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t) n < sizeof err->message)
            snprintf(err->message + n, sizeof err->message - (size_t) n, ": %s", strerror(errnum));
    }
    return code;
}

int
tf_err_prefix(tf_err_t *err, const char *fmt, ...)
{
    if (!err)
        return TF_ERR_INVALID;
    char prefix[TF_ERR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    /* Move the message right to make room, then copy the prefix in front (truncating). */
    size_t plen = strlen(prefix), mlen = strlen(err->message);
    if (plen >= sizeof err->message)
        plen = sizeof err->message - 1;
    if (plen + mlen >= sizeof err->message)
        mlen = sizeof err->message - 1 - plen;
    memmove(err->message + plen, err->message, mlen);
    memcpy(err->message, prefix, plen);
    err->message[plen + mlen] = '\0';
    return err->code;
}

void
tf_err_clear(tf_err_t *err)
{
    if (err) {
        err->code = TF_OK;
        err->message[0] = '\0';
    }
}

const char *
tf_status_name(int code)
{
    switch (code) {
    case TF_OK: return "ok";
    case TF_ERR_INVALID: return "invalid";
    case TF_ERR_PROTO: return "protocol";
    case TF_ERR_IO: return "io";
    case TF_ERR_NOMEM: return "nomem";
    case TF_ERR_NOTFOUND: return "notfound";
    case TF_ERR_TIMEOUT: return "timeout";
    case TF_ERR_BUSY: return "busy";
    case TF_ERR_STATE: return "state";
    case TF_ERR_UNSUPPORTED: return "unsupported";
    case TF_ERR_INTERRUPTED: return "interrupted";
    case TF_ERR_DB: return "database";
    case TF_ERR_TOOBIG: return "toobig";
    case TF_ERR_DEVICE: return "device";
    default: return "unknown";
    }
}
