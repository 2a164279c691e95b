/*  msg_check - field-by-field comparison of tf_msg_t values and the decoder's round-trip check.

    Shared by the libFuzzer target (fuzz_decode.c), the corpus replay (replay_corpus.c) and the
    codec unit tests. It walks the codec's field tables (tf_msg_desc), so a new message is
    compared without an edit here. A wrong table cannot fool it unnoticed: a row's kind is
    checked against its member's C type when tf_msg.c compiles, and test_codec checks that the
    tables cover every member of every struct.
*/
#ifndef TF_MSG_CHECK_H_INCLUDED
#define TF_MSG_CHECK_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#include "tf_msg.h"

/* True when a and b have the same type and equal fields (strings and byte strings compared by
   content; NULL differs from ""/empty-but-present). Otherwise false and `why` (if not NULL)
   names the first differing field, e.g. "work.attempt: 3 != 4" or
   "cat_reply.files[1].link: ...". Returns false with "no comparison for type N" for a type
   outside the catalogue. */
bool tf_msg_equal(const tf_msg_t *a, const tf_msg_t *b, char *why, size_t why_size);

typedef enum {
    TF_CHECK_REJECTED = 0,  /* decode refused the input cleanly (TF_ERR_PROTO + message) */
    TF_CHECK_DECODED = 1,   /* decoded, and encode+decode again gave the same message */
    TF_CHECK_BROKEN = -1    /* an invariant failed; `why` says which */
} tf_check_result_t;

/* The decoder's contract on arbitrary bytes:
   - rejection is TF_ERR_PROTO with a non-empty message and leaves the message zeroed;
   - an accepted message re-encodes (everything decoded is within the encoder's limits), the
     re-encoding decodes to an equal message, and encoding that again gives the same bytes. */
tf_check_result_t tf_msg_check_roundtrip(const void *data, size_t size, char *why, size_t why_size);

#endif
