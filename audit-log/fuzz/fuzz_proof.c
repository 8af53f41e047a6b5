/* libFuzzer: inclusion and consistency verification on arbitrary sizes,
 * indexes and hash lists never crash. */
#include <string.h>

#include "sigil/audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 17)
        return 0;
    uint64_t a, b;
    memcpy(&a, data, 8);
    memcpy(&b, data + 8, 8);
    a &= 0xffff, b &= 0xffff;
    int kind = data[16] & 1;
    data += 17, size -= 17;
    const uint8_t *h[SIGIL_AUDIT_MAX_PROOF + 2];
    size_t l[SIGIL_AUDIT_MAX_PROOF + 2], n = 0;
    while (size && n < SIGIL_AUDIT_MAX_PROOF + 2) {
        size_t k = data[0] % 40;
        data++, size--;
        if (k > size)
            k = size;
        h[n] = data, l[n] = k, n++;
        data += k, size -= k;
    }
    if (n < 2)
        return 0;
    if (kind)
        sigil_audit_verify_inclusion(a, b, h[0], l[0], h + 2, l + 2, n - 2, h[1], l[1]);
    else
        sigil_audit_verify_consistency(a, b, h[0], l[0], h[1], l[1], h + 2, l + 2, n - 2);
    return 0;
}
