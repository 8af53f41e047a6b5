/* The extension's consistency check against a MALICIOUS receiver that
 * encodes inconsistent choice bits in some columns of its u matrix and
 * otherwise computes its check values honestly (the KOS attack on Delta).
 *
 * This test compiles ot_ext.c itself to reach its internal
 * receive_start_impl, which takes the deviation (an alternative choice
 * vector for a set of columns); the honest public API never deviates. */
#include "../../../mpc/src/ot_ext.c"

#include "check.h"

#define SID(s) (const uint8_t *)(s), strlen(s)

static void setup_pair(sigil_ot_sender **S, sigil_ot_receiver **R)
{
    sigil_buf m1, m2, m3;
    sigil_ot_setup *rs, *ss;
    sigil_buf_init(&m1, 1 << 16, 0);
    sigil_buf_init(&m2, 1 << 16, 0);
    sigil_buf_init(&m3, 1 << 16, 0);
    REQUIRE(sigil_ot_setup_receiver_start(&rs, SID("dkg"), 1, 2, &m1) == SIGIL_OK);
    REQUIRE(sigil_ot_setup_sender_respond(&ss, SID("dkg"), 1, 2, m1.data, m1.size, &m2) == SIGIL_OK);
    REQUIRE(sigil_ot_setup_receiver_finish(rs, m2.data, m2.size, &m3, R) == SIGIL_OK);
    REQUIRE(sigil_ot_setup_sender_finish(ss, m3.data, m3.size, S) == SIGIL_OK);
    sigil_buf_free(&m1);
    sigil_buf_free(&m2);
    sigil_buf_free(&m3);
}

/* Run one cheating extension: columns in altcols use x with row j flipped.
 * Returns the sender's rc. */
static int cheat(const uint8_t *enc, size_t enc_len, const sigil_ot_receiver *R, const uint8_t altcols[16],
                 size_t flip_row, int *burned)
{
    const size_t ell = 64, width = 1;
    size_t cb = rows_for(ell) / 8;
    uint8_t ch[8], *xalt = calloc(cb, 1);
    sigil_scalar alpha[1], ta[64];
    sigil_ot_ext_recv *st;
    sigil_ot_sender *S;
    sigil_buf m1, m2;
    REQUIRE(xalt);
    randombytes_buf(ch, sizeof(ch));
    /* xalt = the choices with row flip_row flipped, and zero padding rows
     * (the honest x has random padding): the cheating columns differ from
     * x in row flip_row and in the padding rows */
    memcpy(xalt, ch, sizeof(ch));
    xalt[flip_row / 8] ^= (uint8_t)(1u << (flip_row % 8));
    REQUIRE(sigil_scalar_random(sigil_group_get(SIGIL_GROUP_SECP256K1), &alpha[0]) == SIGIL_OK);
    REQUIRE(sigil_ot_sender_decode(&S, enc, enc_len) == SIGIL_OK);
    sigil_buf_init(&m1, 1 << 20, 0);
    sigil_buf_init(&m2, 1 << 20, 0);
    REQUIRE(receive_start_impl(&st, R, SID("sign"), ell, width, ch, &m1, xalt, altcols) == SIGIL_OK);
    int rc = sigil_ot_ext_send(S, SID("sign"), ell, width, alpha, 1, m1.data, m1.size, ta, &m2);
    *burned = sigil_ot_sender_is_burned(S);
    if (rc != SIGIL_OK)
        CHECK(m2.size == 0 && sigil_scalar_is_zero(&ta[0]) && sigil_scalar_is_zero(&ta[63]));
    sigil_ot_ext_recv_free(st);
    sigil_ot_sender_free(S);
    sigil_buf_free(&m1);
    sigil_buf_free(&m2);
    free(xalt);
    return rc;
}

/* The internal primitives against straightforward references: the
 * portable GF(2^128) multiply against PCLMULQDQ (when present) and against
 * the bit-serial definition, and the SSE2 transpose against bit-by-bit. */
static void gf_ref(uint8_t out[16], const uint8_t a[16], const uint8_t b[16])
{
    /* shift-and-add with reduction by x^128 = x^7 + x^2 + x + 1 */
    uint64_t r0 = 0, r1 = 0, v0 = le64(a), v1 = le64(a + 8);
    for (int i = 0; i < 128; i++) {
        if ((b[i / 8] >> (i % 8)) & 1)
            r0 ^= v0, r1 ^= v1;
        uint64_t carry = v1 >> 63;
        v1 = v1 << 1 | v0 >> 63;
        v0 = v0 << 1;
        if (carry)
            v0 ^= 0x87;
    }
    put_le64(out, r0);
    put_le64(out + 8, r1);
}

static void test_primitives(void)
{
    int ok = 0;
    for (int n = 0; n < 200; n++) {
        uint8_t a[16], b[16], want[16], got[16];
        uint64_t acc[4] = {0, 0, 0, 0};
        randombytes_buf(a, 16);
        randombytes_buf(b, 16);
        gf_ref(want, a, b);
        gf_mul_acc_portable(acc, a, b);
        gf_reduce(got, acc);
        int good = memcmp(want, got, 16) == 0;
        memset(acc, 0, sizeof(acc));
        gf_pick()(acc, a, b);
        gf_reduce(got, acc);
        good &= memcmp(want, got, 16) == 0;
        ok += good;
    }
    CHECK_EQ(ok, 200);
    /* transpose of a random 128 x 200 bit matrix */
    size_t m = 200, cb = m / 8;
    uint8_t *cols = malloc(128 * cb), *rows = malloc(16 * m);
    REQUIRE(cols && rows);
    randombytes_buf(cols, 128 * cb);
    transpose(rows, cols, m);
    int same = 1;
    for (size_t i = 0; i < 128; i++)
        for (size_t j = 0; j < m; j++)
            same &= ot_bit(cols + i * cb, j) == ot_bit(rows + 16 * j, i);
    CHECK(same);
    free(cols);
    free(rows);
    /* mod-q helpers at the edges: q - 1 + 1 = 0, 0 - 1 = q - 1, 2^256 - 1 reduces */
    mp_limb_t one[QL] = {1, 0, 0, 0}, zero[QL] = {0, 0, 0, 0}, qm1[QL], r[QL], all[QL];
    memcpy(qm1, Q, sizeof(qm1));
    qm1[0] -= 1;
    modq_add(r, qm1, one);
    CHECK(memcmp(r, zero, sizeof(r)) == 0);
    modq_sub(r, zero, one);
    CHECK(memcmp(r, qm1, sizeof(r)) == 0);
    memset(all, 0xff, sizeof(all));
    modq_reduce(all); /* 2^256 - 1 - q */
    mp_limb_t want2[QL];
    mpn_sub_n(want2, (mp_limb_t[QL]){~0ull, ~0ull, ~0ull, ~0ull}, Q, QL);
    CHECK(memcmp(all, want2, sizeof(all)) == 0);
    modq_add(r, qm1, qm1); /* 2q - 2 -> q - 2 */
    qm1[0] -= 1;
    CHECK(memcmp(r, qm1, sizeof(r)) == 0);
}

int main(void)
{
    test_primitives();
    REQUIRE(sigil_mpc_init() == SIGIL_OK);
    sigil_ot_sender *S;
    sigil_ot_receiver *R;
    sigil_buf enc;
    uint8_t delta[16], cols[16];
    int burned;
    setup_pair(&S, &R);
    sigil_buf_init(&enc, 1 << 16, SIGIL_BUF_SECRET);
    REQUIRE(sigil_ot_sender_encode(S, &enc) == SIGIL_OK);
    memcpy(delta, enc.data + 41, 16); /* Delta, as stored (ot.h encoding) */

    /* no deviation through the internal path: accepted */
    memset(cols, 0, sizeof(cols));
    CHECK_EQ(cheat(enc.data, enc.size, R, cols, 3, &burned), SIGIL_OK);
    CHECK(!burned);

    /* a fully inconsistent u (every column on another vector): refused */
    memset(cols, 0xff, sizeof(cols));
    CHECK_EQ(cheat(enc.data, enc.size, R, cols, 3, &burned), SIGIL_E_CHECK);
    CHECK(burned);

    /* half the columns: refused (passes only if Delta is 0 on all of them,
     * probability 2^-64) */
    memset(cols, 0, sizeof(cols));
    memset(cols, 0xff, 8);
    CHECK_EQ(cheat(enc.data, enc.size, R, cols, 10, &burned), SIGIL_E_CHECK);
    CHECK(burned);

    /* one column i: the KOS selective-failure probe. The check refuses it
     * exactly when Delta_i = 1; when Delta_i = 0 the deviation has no effect
     * on the sender's matrix, the receiver learns that one bit and the
     * state is not burned. Every refusal burns the state, so an attacker
     * gets one such probe per setup (docs/modules/mpc-ot.md). */
    int agree = 0, refusals = 0;
    for (size_t i = 0; i < SIGIL_OT_KAPPA; i++) {
        memset(cols, 0, sizeof(cols));
        cols[i / 8] = (uint8_t)(1u << (i % 8));
        int rc = cheat(enc.data, enc.size, R, cols, i % 64, &burned);
        int d = (delta[i / 8] >> (i % 8)) & 1;
        agree += d ? (rc == SIGIL_E_CHECK && burned) : (rc == SIGIL_OK && !burned);
        refusals += rc == SIGIL_E_CHECK;
    }
    CHECK_EQ(agree, SIGIL_OT_KAPPA);
    CHECK(refusals > 0 && refusals < SIGIL_OT_KAPPA);

    sigil_buf_free(&enc);
    sigil_ot_sender_free(S);
    sigil_ot_receiver_free(R);
    return check_done();
}
