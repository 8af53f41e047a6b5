/* libFuzzer: the three pair-setup message decoders. The first input byte
 * picks the message; the rest is fed to the party that receives it, in
 * honest states prepared once. A malformed message must fail with an error
 * and no output, never crash or read out of bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sigil/err.h"
#include "sigil/ot.h"

#define SID (const uint8_t *)"fuzz-setup", 10

static sigil_buf m1; /* an honest msg1, for the sender states */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    sigil_ot_setup *rs;
    (void)argc;
    (void)argv;
    if (sigil_mpc_init() != SIGIL_OK || sigil_buf_init(&m1, 1 << 12, 0) != SIGIL_OK ||
        sigil_ot_setup_receiver_start(&rs, SID, 1, 2, &m1) != SIGIL_OK)
        abort();
    sigil_ot_setup_free(rs);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sigil_buf out;
    int rc;
    if (size == 0)
        return 0;
    uint8_t which = data[0] % 3;
    data++, size--;
    if (sigil_buf_init(&out, 1 << 16, 0) != SIGIL_OK)
        abort();
    if (which == 0) {
        sigil_ot_setup *ss;
        rc = sigil_ot_setup_sender_respond(&ss, SID, 1, 2, data, size, &out);
        if (rc != SIGIL_OK && (ss != NULL || out.size != 0))
            abort();
        sigil_ot_setup_free(ss);
    } else if (which == 1) {
        sigil_ot_setup *rs;
        sigil_ot_receiver *r;
        sigil_buf tmp;
        sigil_buf_init(&tmp, 1 << 12, 0);
        if (sigil_ot_setup_receiver_start(&rs, SID, 1, 2, &tmp) != SIGIL_OK)
            abort();
        sigil_buf_free(&tmp);
        rc = sigil_ot_setup_receiver_finish(rs, data, size, &out, &r);
        if (rc != SIGIL_OK && (r != NULL || out.size != 0))
            abort();
        sigil_ot_receiver_free(r);
    } else {
        sigil_ot_setup *ss;
        sigil_ot_sender *s;
        sigil_buf tmp;
        sigil_buf_init(&tmp, 1 << 16, 0);
        if (sigil_ot_setup_sender_respond(&ss, SID, 1, 2, m1.data, m1.size, &tmp) != SIGIL_OK)
            abort();
        sigil_buf_free(&tmp);
        rc = sigil_ot_setup_sender_finish(ss, data, size, &s);
        if (rc != SIGIL_OK && s != NULL)
            abort();
        sigil_ot_sender_free(s);
    }
    sigil_buf_free(&out);
    return 0;
}
