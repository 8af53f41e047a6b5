/* libFuzzer: the signed-note / checkpoint parser never crashes on any
 * input, and never accepts a note without a valid signature by the key. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "sigil/audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t pub[32];
    static int init;
    if (!init) {
        uint8_t sk[64];
        if (sodium_init() < 0)
            abort();
        crypto_sign_keypair(pub, sk); /* random key: nothing can be validly signed */
        init = 1;
    }
    sigil_audit_checkpoint cp;
    if (sigil_audit_checkpoint_verify(data, size, "sigil.fuzz/log", pub, &cp) == 0)
        abort();
    return 0;
}
