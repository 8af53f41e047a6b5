/* libFuzzer: the DKLs23 envelope decoder (sigil_ecdsa_msg_decode). A
 * decoded envelope must satisfy every documented bound and re-encode
 * (header + payload) to exactly the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sigil/ecdsa.h"
#include "sigil/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sigil_ecdsa_msg m;
    if (sigil_ecdsa_msg_decode(&m, data, size) != SIGIL_OK) {
        static const sigil_ecdsa_msg zero;
        if (memcmp(&m, &zero, sizeof m) != 0)
            abort(); /* failed decode leaves the output zeroed */
        return 0;
    }
    if (m.sender == 0 || m.sender > SIGIL_ECDSA_MAX_PARTIES || m.recipient > SIGIL_ECDSA_MAX_PARTIES ||
        m.recipient == m.sender || m.payload_len > SIGIL_ECDSA_MAX_PAYLOAD)
        abort();
    if (42 + m.payload_len != size || m.payload != data + 42 || data[0] != SIGIL_ECDSA_VERSION ||
        data[1] != m.type || memcmp(data + 2, m.sid, SIGIL_ECDSA_SID_LEN) != 0)
        abort();
    return 0;
}
