/* libFuzzer: the payload decoders of every DKLs23 round, reached through a
 * well-formed envelope so the fuzzer spends its time inside them. A 2-of-2
 * key is made once; for each input, party 1 runs a fresh session (from a
 * freshly decoded copy of its share, so a burned OT state never carries
 * over) and receives the fuzzed payload from party 2:
 *   data[0] % 3 == 0: as the PRESIGN1 message (commitment + OT message 1)
 *   data[0] % 3 == 1: as the PRESIGN2 message (decommitment, psi, Gammas,
 *                     multiplication message 2), after an honest round 1
 *   data[0] % 3 == 2: as party 2's SIGN share to the combiner
 * If data[0] & 0x80, the payload is instead party 2's honest payload for
 * that round, mutated by the input (structure-aware: the rest of the input
 * is a list of (u16 offset, u8 xor) edits, and data[0] & 0x40 truncates at
 * the last offset), which reaches the deep fields (OT corrections, scalars,
 * points) that random bytes rarely get past.
 * The session must fail cleanly or succeed; never crash, leak or hang. */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sigil/ecdsa.h"
#include "sigil/err.h"
#include "sigil/group.h"

static sigil_buf enc1, enc2;
static const uint16_t ids[2] = {1, 2};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    sigil_ecdsa_sim *sim;
    uint8_t sk[32] = {0};
    uint16_t cul;
    sk[31] = 7;
    if (sigil_mpc_init() != SIGIL_OK || sigil_ecdsa_sim_import(&sim, sk, 2, 2, &cul) != SIGIL_OK ||
        sigil_buf_init(&enc1, 1 << 20, SIGIL_BUF_SECRET) != SIGIL_OK ||
        sigil_buf_init(&enc2, 1 << 20, SIGIL_BUF_SECRET) != SIGIL_OK ||
        sigil_ecdsa_share_encode(sigil_ecdsa_sim_share(sim, 1), &enc1) != SIGIL_OK ||
        sigil_ecdsa_share_encode(sigil_ecdsa_sim_share(sim, 2), &enc2) != SIGIL_OK)
        abort();
    sigil_ecdsa_sim_free(sim);
    return 0;
}

static void envelope(sigil_buf *b, uint8_t type, const uint8_t sid[32], uint16_t from, uint16_t to,
                     const uint8_t *p, size_t n)
{
    sigil_buf_reset(b);
    if (sigil_buf_put_u8(b, SIGIL_ECDSA_VERSION) || sigil_buf_put_u8(b, type) ||
        sigil_buf_put(b, sid, 32) || sigil_buf_put_u16(b, from) || sigil_buf_put_u16(b, to) ||
        sigil_buf_put_u32(b, (uint32_t)n) || sigil_buf_put(b, p, n))
        abort();
}

/* Apply the edits in e[0..n) to the honest payload hp (length hn) into
 * out; returns the mutated payload length. */
static size_t mutate(uint8_t *out, const uint8_t *hp, size_t hn, const uint8_t *e, size_t n, int trunc)
{
    size_t len = hn, last = hn;
    memcpy(out, hp, hn);
    for (size_t i = 0; i + 3 <= n; i += 3) {
        size_t off = ((size_t)e[i] << 8 | e[i + 1]) % (hn ? hn : 1);
        if (hn)
            out[off] ^= e[i + 2];
        last = off;
    }
    if (trunc && last < len)
        len = last;
    return len;
}

static uint8_t mbuf[SIGIL_ECDSA_MAX_PAYLOAD];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > SIGIL_ECDSA_MAX_PAYLOAD)
        return 0;
    int mode = data[0] % 3;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    uint8_t sid[32] = {0x5e};
    sigil_ecdsa_share *s1, *s2;
    sigil_ecdsa_presign *a = NULL, *b = NULL;
    sigil_ecdsa_presig *ps = NULL, *ps2 = NULL;
    sigil_buf o1, o2, in, tmp;
    uint16_t cul;
    if (sigil_ecdsa_share_decode(&s1, enc1.data, enc1.size) ||
        sigil_ecdsa_share_decode(&s2, enc2.data, enc2.size) || sigil_buf_init(&o1, 1 << 20, 0) ||
        sigil_buf_init(&o2, 1 << 20, 0) || sigil_buf_init(&in, 1 << 20, 0) ||
        sigil_buf_init(&tmp, 1 << 20, 0))
        abort();
    if (sigil_ecdsa_presign_new(&a, s1, sid, ids, 2) || sigil_ecdsa_presign_round1(a, &o1))
        abort();
    int structured = data[0] & 0x80, trunc = data[0] & 0x40;
    /* honest party 2, round 1 */
    if (sigil_ecdsa_presign_new(&b, s2, sid, ids, 2) || sigil_ecdsa_presign_round1(b, &o2) ||
        sigil_buf_put(&tmp, o1.data, o1.size))
        abort();
    if (mode == 0) {
        if (structured) {
            n = mutate(mbuf, o2.data + 42, o2.size - 42, p, n, trunc);
            p = mbuf;
        }
        envelope(&in, SIGIL_ECDSA_MSG_PRESIGN1, sid, 2, 1, p, n);
        (void)sigil_ecdsa_presign_round2(a, &in, &o1, &cul);
        goto done;
    }
    sigil_buf_reset(&o1);
    if (sigil_ecdsa_presign_round2(a, &o2, &o1, &cul))
        abort();
    sigil_buf_reset(&o2);
    if (sigil_ecdsa_presign_round2(b, &tmp, &o2, &cul))
        abort();
    if (mode == 1) {
        if (structured) {
            n = mutate(mbuf, o2.data + 42, o2.size - 42, p, n, trunc);
            p = mbuf;
        }
        envelope(&in, SIGIL_ECDSA_MSG_PRESIGN2, sid, 2, 1, p, n);
        if (sigil_ecdsa_presign_finish(a, &in, &ps, &cul) == SIGIL_OK && ps == NULL)
            abort();
        goto done;
    }
    /* mode 2: both finish honestly, then a fuzzed SIGN share from 2 */
    if (sigil_ecdsa_presign_finish(a, &o2, &ps, &cul) || sigil_ecdsa_presign_finish(b, &o1, &ps2, &cul))
        abort();
    {
        uint8_t d[32] = {1}, sig[64];
        int recid;
        sigil_ecdsa_combiner c;
        sigil_buf msgs[2];
        sigil_ecdsa_combiner c2;
        if (sigil_buf_init(&msgs[0], 1024, 0) || sigil_buf_init(&msgs[1], 1 << 20, 0) ||
            sigil_ecdsa_sign_share(ps, d, &msgs[0], &c) || sigil_ecdsa_sign_share(ps2, d, &msgs[1], &c2))
            abort();
        if (structured) {
            n = mutate(mbuf, msgs[1].data + 42, msgs[1].size - 42, p, n, trunc);
            p = mbuf;
        }
        envelope(&msgs[1], SIGIL_ECDSA_MSG_SIGN, sid, 2, 0, p, n);
        int rc = sigil_ecdsa_combine(&c, msgs, sig, &recid, &cul);
        if (rc != SIGIL_OK && !sodium_is_zero(sig, 64))
            abort();
        sigil_buf_free(&msgs[0]);
        sigil_buf_free(&msgs[1]);
    }
done:
    sigil_ecdsa_presig_free(ps);
    sigil_ecdsa_presig_free(ps2);
    sigil_ecdsa_presign_free(a);
    sigil_ecdsa_presign_free(b);
    sigil_ecdsa_share_free(s1);
    sigil_ecdsa_share_free(s2);
    sigil_buf_free(&o1);
    sigil_buf_free(&o2);
    sigil_buf_free(&in);
    sigil_buf_free(&tmp);
    return 0;
}
