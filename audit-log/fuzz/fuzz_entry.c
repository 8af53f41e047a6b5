/* libFuzzer: the entry decoder never crashes, and whatever it accepts
 * re-encodes to exactly the input (one canonical encoding). */
#include <stdlib.h>
#include <string.h>

#include "sigil/audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sigil_audit_entry e;
    sigil_buf b;
    if (sigil_audit_entry_decode(data, size, &e) != 0)
        return 0;
    if (sigil_buf_init(&b, SIGIL_AUDIT_ENTRY_MAX, 0) != 0)
        abort();
    if (sigil_audit_entry_encode(&e, &b) != 0 || b.size != size || memcmp(b.data, data, size) != 0)
        abort();
    sigil_buf_free(&b);
    return 0;
}
