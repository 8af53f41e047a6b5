/* libFuzzer: the decoders of the stored OT states (sigil_ot_sender_decode,
 * sigil_ot_receiver_decode). Whatever decodes must re-encode to the same
 * bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sigil/err.h"
#include "sigil/ot.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (sigil_mpc_init() != SIGIL_OK)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sigil_ot_sender *s;
    sigil_ot_receiver *r;
    sigil_buf out;
    if (sigil_buf_init(&out, 1 << 16, SIGIL_BUF_SECRET) != SIGIL_OK)
        abort();
    if (sigil_ot_sender_decode(&s, data, size) == SIGIL_OK) {
        if (sigil_ot_sender_encode(s, &out) != SIGIL_OK || out.size != size || memcmp(out.data, data, size) != 0)
            abort();
        sigil_ot_sender_free(s);
    } else if (s != NULL) {
        abort();
    }
    sigil_buf_reset(&out);
    if (sigil_ot_receiver_decode(&r, data, size) == SIGIL_OK) {
        if (sigil_ot_receiver_encode(r, &out) != SIGIL_OK || out.size != size || memcmp(out.data, data, size) != 0)
            abort();
        sigil_ot_receiver_free(r);
    } else if (r != NULL) {
        abort();
    }
    sigil_buf_free(&out);
    return 0;
}
