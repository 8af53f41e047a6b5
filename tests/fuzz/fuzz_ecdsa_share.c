/* libFuzzer: the stored-share decoder (sigil_ecdsa_share_decode). Whatever
 * decodes must re-encode to the same bytes; failures leave no object. The
 * seed corpus is best made from a real encoding (sigil-sim keys); random
 * inputs exercise the header, point and length checks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sigil/ecdsa.h"
#include "sigil/err.h"
#include "sigil/group.h"

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
    sigil_ecdsa_share *s;
    sigil_buf out;
    if (sigil_ecdsa_share_decode(&s, data, size) != SIGIL_OK) {
        if (s != NULL)
            abort();
        return 0;
    }
    if (sigil_buf_init(&out, 1 << 20, SIGIL_BUF_SECRET) != SIGIL_OK)
        abort();
    if (sigil_ecdsa_share_encode(s, &out) != SIGIL_OK || out.size != size ||
        memcmp(out.data, data, size) != 0)
        abort();
    sigil_buf_free(&out);
    sigil_ecdsa_share_free(s);
    return 0;
}
