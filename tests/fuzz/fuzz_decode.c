/*  fuzz_decode - libFuzzer target for tf_msg_decode.

    Any input either is rejected cleanly (TF_ERR_PROTO, a message, the output zeroed) or decodes
    to a message that encodes again and decodes to an equal message (round-trip stability).
    Anything else aborts, and ASan/UBSan catch memory and arithmetic errors on the way.

    Built with clang -fsanitize=fuzzer,address,undefined (see CMakeLists.txt). Run:
        fuzz_decode -max_total_time=600 corpus-copy/ ../tests/fuzz/corpus/
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "msg_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[512];
    if (tf_msg_check_roundtrip(data, size, why, sizeof why) == TF_CHECK_BROKEN) {
        fprintf(stderr, "fuzz_decode: %s\n", why);
        abort();
    }
    return 0;
}
