/*  tf_kvrec - the fixed-size key=value text records tapeflow puts on tape (volume metadata,
    archive header and trailer; docs/tape-format.md).

    A record is a magic first line ("TAPEFLOW-ARCHIVE 1"), then "key=value" lines, each ended by
    '\n', padded with NUL bytes to the record size. Values never contain '\n' or NUL.
*/
#ifndef TF_KVREC_H_INCLUDED
#define TF_KVREC_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tf_err.h"

/* The size of every tapeflow metadata record (label metadata, header, trailer). */
#define TF_KVREC_SIZE 4096

typedef struct _tf_kvrec_t tf_kvrec_t;

/* Starts a record of TF_KVREC_SIZE bytes with its magic line. */
tf_kvrec_t *tf_kvrec_new(const char *magic);
void tf_kvrec_destroy(tf_kvrec_t **self_p);
/* Appends "key=value\n". A value with '\n', or a record that would overflow, is an error. */
int tf_kvrec_put(tf_kvrec_t *self, const char *key, const char *value, tf_err_t *err);
int tf_kvrec_put_u64(tf_kvrec_t *self, const char *key, uint64_t value, tf_err_t *err);
/* The whole record (TF_KVREC_SIZE bytes, NUL padded). */
const uint8_t *tf_kvrec_data(tf_kvrec_t *self);

/* True when data (a block read from tape) starts with magic followed by '\n'. */
bool tf_kvrec_is(const void *data, size_t len, const char *magic);
/* Copies the value of key into out; TF_ERR_NOTFOUND when absent, TF_ERR_TOOBIG when longer
   than size - 1. */
int tf_kvrec_get(const void *data, size_t len, const char *key, char *out, size_t size);
/* Unsigned decimal value of key. */
int tf_kvrec_get_u64(const void *data, size_t len, const char *key, uint64_t *value);

#endif
