/*  tf_checksum - XXH3-128 checksums written as "xxh128:<32 lowercase hex>".

    One streaming class for archive bytes (compressor and stager) and file contents
    (compressor's file rows), so both ends format checksums the same way.
*/
#ifndef TF_CHECKSUM_H_INCLUDED
#define TF_CHECKSUM_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "tf_err.h"

/* "xxh128:" + 32 hex + NUL */
#define TF_CHECKSUM_STRLEN 40

typedef struct _tf_checksum_t tf_checksum_t;

tf_checksum_t *tf_checksum_new(void);
void tf_checksum_destroy(tf_checksum_t **self_p);
/* Starts over (empty input). */
void tf_checksum_reset(tf_checksum_t *self);
void tf_checksum_update(tf_checksum_t *self, const void *data, size_t size);
/* Feeds count zero bytes (holes of sparse files). */
void tf_checksum_update_zeros(tf_checksum_t *self, uint64_t count);
/* Writes the digest of everything fed so far into out (TF_CHECKSUM_STRLEN bytes). */
const char *tf_checksum_format(tf_checksum_t *self, char out[TF_CHECKSUM_STRLEN]);

/* One-shot: checksum of a buffer. */
const char *tf_checksum_of(const void *data, size_t size, char out[TF_CHECKSUM_STRLEN]);

#endif
