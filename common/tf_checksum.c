/*  tf_checksum - XXH3-128 checksum strings (see tf_checksum.h). */
#include "tf_checksum.h"

#include <string.h>
#include <stdlib.h>
#include <xxhash.h>

struct _tf_checksum_t {
    XXH3_state_t *state;
};

tf_checksum_t *
tf_checksum_new(void)
{
    tf_checksum_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->state = XXH3_createState();
    if (!self->state) {
        free(self);
        return NULL;
    }
    tf_checksum_reset(self);
    return self;
}

void
tf_checksum_destroy(tf_checksum_t **self_p)
{
    if (self_p && *self_p) {
        XXH3_freeState((*self_p)->state);
        free(*self_p);
        *self_p = NULL;
    }
}

void
tf_checksum_reset(tf_checksum_t *self)
{
    XXH3_128bits_reset(self->state);
}

void
tf_checksum_update(tf_checksum_t *self, const void *data, size_t size)
{
    if (size)
        XXH3_128bits_update(self->state, data, size);
}

void
tf_checksum_update_zeros(tf_checksum_t *self, uint64_t count)
{
    static const uint8_t zeros[65536];
    while (count > 0) {
        size_t n = count < sizeof zeros ? (size_t) count : sizeof zeros;
        XXH3_128bits_update(self->state, zeros, n);
        count -= n;
    }
}

static const char *
s_format(XXH128_hash_t hash, char out[TF_CHECKSUM_STRLEN])
{
    XXH128_canonical_t canon;
    XXH128_canonicalFromHash(&canon, hash);
    static const char hex[] = "0123456789abcdef";
    memcpy(out, "xxh128:", 7);
    for (int i = 0; i < 16; i++) {
        out[7 + 2 * i] = hex[canon.digest[i] >> 4];
        out[8 + 2 * i] = hex[canon.digest[i] & 15];
    }
    out[39] = '\0';
    return out;
}

const char *
tf_checksum_format(tf_checksum_t *self, char out[TF_CHECKSUM_STRLEN])
{
    return s_format(XXH3_128bits_digest(self->state), out);
}

const char *
tf_checksum_of(const void *data, size_t size, char out[TF_CHECKSUM_STRLEN])
{
    return s_format(XXH3_128bits(data, size), out);
}
