/*  msg_sample - messages of any type built from the codec's tables (tf_msg_desc), for the codec
    tests and the fuzz corpus generator: a message added to the catalogue gets samples without
    an edit here.

    A sample owns the memory of the messages it fills (strings, byte strings, rows), like a
    caller building a message for tf_msg_encode: the messages only borrow it, need no
    tf_msg_clear, and may be changed in place (a field set to NULL, a count lowered) before
    encoding. Everything goes when the sample is destroyed. Values are deterministic: a type
    filled in a mode with a number of rows is the same message every time.
*/
#ifndef TF_MSG_SAMPLE_H_INCLUDED
#define TF_MSG_SAMPLE_H_INCLUDED

#include <stddef.h>

#include "tf_msg.h"

typedef enum {
    /* Every field set: strings that are not empty (some with UTF-8), byte strings holding NUL
       and bytes msgpack reserves, numbers that are not 0 and take every msgpack width,
       booleans true, rows set the same way. */
    TF_SAMPLE_FULL,
    /* Only what a field table requires: required strings, required byte strings (present but
       empty), required numbers and booleans; optional ones absent or 0; rows hold only their
       required fields. */
    TF_SAMPLE_MIN,
    /* Present but empty: every string "", every byte string of 0 bytes, numbers 0, false. */
    TF_SAMPLE_EMPTY,
    /* At the limits: every string exactly as long as its field allows, byte strings of 1 MiB,
       numbers at their extremes, booleans true. */
    TF_SAMPLE_LIMITS
} tf_sample_mode_t;

typedef struct _tf_msg_sample_t tf_msg_sample_t;

tf_msg_sample_t *tf_msg_sample_new(void);
void tf_msg_sample_destroy(tf_msg_sample_t **self_p);

/* Fills *m with a message of type in mode, with `rows` rows in every rows field (fewer when
   the field allows fewer; in nested rows too). 0, or -1 for an unknown type or when memory ran
   out (*m is then zeroed). */
int tf_msg_sample_fill(tf_msg_sample_t *self, tf_msg_t *m, tf_msg_type_t type, tf_sample_mode_t mode,
                       size_t rows);

/* Memory owned by the sample (zeroed), for a test's own strings and rows; NULL when out of
   memory. */
void *tf_msg_sample_alloc(tf_msg_sample_t *self, size_t size);

#endif
