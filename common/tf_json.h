/*  tf_json - a small streaming JSON writer for `--json` output.

    Calls nest: object/array begin and end; values take a key inside objects and NULL inside
    arrays or at the top. Commas and string escaping are handled here so callers cannot emit
    invalid JSON.
*/
#ifndef TF_JSON_H_INCLUDED
#define TF_JSON_H_INCLUDED
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct _tf_json_t tf_json_t;

/* The version of the JSON documents tapeflow prints (`--json`): the first key of each,
   "schema". Raised when a key changes meaning or goes away; new keys do not raise it
   (docs/operations.md, "JSON output"). */
#define TF_JSON_SCHEMA 1

tf_json_t *tf_json_new(void);
void tf_json_destroy(tf_json_t **self_p);

/* Begins a document: the top-level object with "schema": TF_JSON_SCHEMA as its first key.
   Every document a tapeflow command prints begins so (each line of JSON lines output too);
   end it with tf_json_object_end. */
void tf_json_document_begin(tf_json_t *self);

void tf_json_object_begin(tf_json_t *self, const char *key);
void tf_json_object_end(tf_json_t *self);
void tf_json_array_begin(tf_json_t *self, const char *key);
void tf_json_array_end(tf_json_t *self);
void tf_json_str(tf_json_t *self, const char *key, const char *value); /* NULL value: null */
void tf_json_int(tf_json_t *self, const char *key, int64_t value);
void tf_json_double(tf_json_t *self, const char *key, double value);
void tf_json_bool(tf_json_t *self, const char *key, bool value);
void tf_json_null(tf_json_t *self, const char *key);

/* The text so far (NUL-terminated), or NULL if memory ran out. */
const char *tf_json_text(tf_json_t *self);
/* Writes the text and a newline to out; -1 (nothing written) when memory ran out. */
int tf_json_print(tf_json_t *self, FILE *out);
/* Clears the text for reuse (e.g. one JSON document per line). */
void tf_json_reset(tf_json_t *self);

#endif
