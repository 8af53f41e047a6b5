/* libFuzzer: the two extension message decoders (sigil_ot_ext_send on
 * msg1, sigil_ot_ext_receive_finish on msg2) with a real pair setup made
 * once. The first input byte picks the message and ell. A malformed
 * message must fail with an error, zeroed outputs and msg2 untouched. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sigil/err.h"
#include "sigil/ot.h"

#define SID (const uint8_t *)"fuzz-ext", 8

static sigil_buf senc;           /* the sender state, stored (re-decoded per input: a check failure burns it) */
static sigil_ot_receiver *R;
static sigil_scalar alpha[2];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    sigil_buf m1, m2, m3;
    sigil_ot_setup *rs, *ss;
    sigil_ot_sender *S;
    (void)argc;
    (void)argv;
    if (sigil_mpc_init() != SIGIL_OK)
        abort();
    sigil_buf_init(&m1, 1 << 16, 0);
    sigil_buf_init(&m2, 1 << 16, 0);
    sigil_buf_init(&m3, 1 << 16, 0);
    sigil_buf_init(&senc, 1 << 16, SIGIL_BUF_SECRET);
    if (sigil_ot_setup_receiver_start(&rs, (const uint8_t *)"dkg", 3, 1, 2, &m1) ||
        sigil_ot_setup_sender_respond(&ss, (const uint8_t *)"dkg", 3, 1, 2, m1.data, m1.size, &m2) ||
        sigil_ot_setup_receiver_finish(rs, m2.data, m2.size, &m3, &R) ||
        sigil_ot_setup_sender_finish(ss, m3.data, m3.size, &S) || sigil_ot_sender_encode(S, &senc))
        abort();
    sigil_ot_sender_free(S);
    sigil_buf_free(&m1);
    sigil_buf_free(&m2);
    sigil_buf_free(&m3);
    sigil_scalar_set_u64(sigil_group_get(SIGIL_GROUP_SECP256K1), &alpha[0], 7);
    sigil_scalar_set_u64(sigil_group_get(SIGIL_GROUP_SECP256K1), &alpha[1], 11);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sigil_scalar t[2 * 64];
    sigil_buf out;
    if (size == 0)
        return 0;
    size_t ell = 1 + (data[0] >> 1) % 64, width = 2;
    int which = data[0] & 1;
    data++, size--;
    sigil_buf_init(&out, 1 << 20, 0);
    if (which == 0) {
        sigil_ot_sender *S;
        if (sigil_ot_sender_decode(&S, senc.data, senc.size) != SIGIL_OK)
            abort();
        int rc = sigil_ot_ext_send(S, SID, ell, width, alpha, 2, data, size, t, &out);
        if (rc != SIGIL_OK && (out.size != 0 || !sigil_scalar_is_zero(&t[0])))
            abort();
        sigil_ot_sender_free(S);
    } else {
        sigil_ot_ext_recv *st;
        uint8_t ch[8] = {0xa5, 0x5a, 1, 2, 3, 4, 5, 6};
        sigil_buf tmp;
        if ((ell % 8))
            ch[ell / 8] &= (uint8_t)((1u << (ell % 8)) - 1);
        sigil_buf_init(&tmp, 1 << 20, 0);
        if (sigil_ot_ext_receive_start(&st, R, SID, ell, width, ch, &tmp) != SIGIL_OK)
            abort();
        sigil_buf_free(&tmp);
        int rc = sigil_ot_ext_receive_finish(st, data, size, t);
        if (rc != SIGIL_OK && !sigil_scalar_is_zero(&t[0]))
            abort();
    }
    sigil_buf_free(&out);
    return 0;
}
