/* DKLs23 review: the properties the implementation relies on instead of the
 * paper's per-signature zero-sharing (docs/modules/mpc-ecdsa.md, "Zero-sharing"),
 * and the session binding / burned-state handling fixed in review.
 *
 *  1. The Gamma^v check pins each signer's multiplication input to
 *     lambda_j * x_j with x_j*G = X_j from the DKG, not only the SUM of the
 *     inputs: two colluding signers that shift their additive shares by
 *     +delta / -delta (exactly the freedom a zero-sharing re-randomization
 *     gives and the paper's check "sum pk_j = pk" admits, shown here to
 *     produce a valid signature when everyone accepts the shifted public
 *     shares) are caught by the honest signer and the first one is named.
 *  2. sum_{j in S} lambda_j^S X_j = Y for every signer set S of size >= t,
 *     so the per-party public shares the check uses always add up to the
 *     group key: every subset of a 3-of-5 key signs.
 *  3. A PRESIGN1 message of the same sid but another signer set is rejected
 *     (SIGIL_E_SESSION) before the multiplication runs.
 *  4. After a peer is caught cheating in the OT extension, this party's
 *     sender state toward it is burned: presign_new refuses (SIGIL_E_USED),
 *     also after the share is encoded and decoded; other pairs still sign. */
#include "ecdsa_harness.h"

#define HDR 42
/* stored share layout: "DKS"1 | id | t | n | x (10) | Y (42) | X_1 (75)... */
#define SH_X 10
#define SH_Y 42
#define SH_XJ(j) (75 + 33 * ((j) - 1))

static sigil_ecdsa_share *shares[HN];

static void fresh_key(unsigned t, unsigned n)
{
    sigil_ecdsa_keyshare *ks[HN];
    uint8_t sk[32];
    uint16_t rep, cul;
    for (unsigned i = 0; i < HN; i++) {
        sigil_ecdsa_share_free(shares[i]);
        shares[i] = NULL;
    }
    do
        randombytes_buf(sk, 32);
    while (sigil_ecdsa_dealer_split(ks, sk, t, n) != SIGIL_OK);
    REQUIRE(run_setup(ks, n, shares, NULL, NULL, &rep, &cul) == SIGIL_OK);
    for (unsigned i = 0; i < n; i++)
        sigil_ecdsa_keyshare_free(ks[i]);
    sodium_memzero(sk, 32);
}

/* presign + sign + verify with libsecp256k1 and OpenSSL */
static int sign_ok(sigil_ecdsa_share **sh, const uint16_t *ids, size_t count)
{
    sigil_ecdsa_presig *ps[HN];
    uint8_t sid[32], digest[32], sig[64], pub[33];
    uint16_t rep, cul;
    int recid;
    randombytes_buf(sid, 32);
    randombytes_buf(digest, 32);
    if (run_presign(sh, ids, count, sid, ps, NULL, NULL, &rep, &cul) != SIGIL_OK)
        return 0;
    int rc = run_sign(ps, count, digest, sig, &recid, NULL, NULL, &cul);
    for (size_t i = 0; i < count; i++)
        sigil_ecdsa_presig_free(ps[i]);
    if (rc != SIGIL_OK)
        return 0;
    sigil_ecdsa_share_pubkey(sh[ids[0] - 1], pub);
    return sigil_ecdsa_verify(pub, 33, digest, sig, 0) == SIGIL_OK && openssl_verify(pub, digest, sig);
}

/* A copy of share s (by encoding) with x replaced by x + dx if dx != NULL,
 * and X_j replaced by X[j-1] for j in 1..3. */
static sigil_ecdsa_share *variant(const sigil_ecdsa_share *s, const sigil_scalar *dx,
                                  const sigil_point X[3])
{
    const sigil_group *g = sigil_group_get(SIGIL_GROUP_SECP256K1);
    sigil_buf enc;
    sigil_ecdsa_share *out = NULL;
    REQUIRE(sigil_buf_init(&enc, 1 << 20, SIGIL_BUF_SECRET) == SIGIL_OK);
    REQUIRE(sigil_ecdsa_share_encode(s, &enc) == SIGIL_OK);
    if (dx != NULL) {
        sigil_scalar x;
        REQUIRE(sigil_scalar_parse(g, &x, enc.data + SH_X) == SIGIL_OK);
        sigil_scalar_add(g, &x, &x, dx);
        memcpy(enc.data + SH_X, x.v, 32);
        sigil_scalar_clear(&x);
    }
    for (unsigned j = 1; j <= 3; j++)
        sigil_point_serialize(g, enc.data + SH_XJ(j), &X[j - 1]);
    REQUIRE(sigil_ecdsa_share_decode(&out, enc.data, enc.size) == SIGIL_OK);
    sigil_buf_free(&enc);
    return out;
}

/* 1. colluding zero-sum shift of the additive shares */
static void test_zero_sum_shift(void)
{
    const sigil_group *g = sigil_group_get(SIGIL_GROUP_SECP256K1);
    static const uint16_t S[3] = {1, 2, 3};
    fresh_key(2, 3);
    sigil_buf enc;
    REQUIRE(sigil_buf_init(&enc, 1 << 20, SIGIL_BUF_SECRET) == SIGIL_OK);
    REQUIRE(sigil_ecdsa_share_encode(shares[0], &enc) == SIGIL_OK);
    sigil_point X[3], Xs[3], Y, T;
    for (unsigned j = 1; j <= 3; j++)
        REQUIRE(sigil_point_parse(g, &X[j - 1], enc.data + SH_XJ(j), 33) == SIGIL_OK);
    REQUIRE(sigil_point_parse(g, &Y, enc.data + SH_Y, 33) == SIGIL_OK);
    sigil_buf_free(&enc);

    /* lambda over {1,2,3} at 0: 3, -3, 1 */
    sigil_scalar lam[3], three, delta, d2, d3;
    sigil_scalar_set_u64(g, &three, 3);
    lam[0] = three;
    sigil_scalar_neg(g, &lam[1], &three);
    sigil_scalar_set_u64(g, &lam[2], 1);
    REQUIRE(sigil_scalar_random(g, &delta) == SIGIL_OK);
    /* party 2: x2 + delta/lambda_2, party 3: x3 - delta/lambda_3, so
     * lambda_2 x2' + lambda_3 x3' = lambda_2 x2 + lambda_3 x3 */
    REQUIRE(sigil_scalar_inv(g, &d2, &lam[1]) == SIGIL_OK);
    sigil_scalar_mul(g, &d2, &d2, &delta);
    sigil_scalar_neg(g, &d3, &delta);
    Xs[0] = X[0];
    REQUIRE(sigil_point_base_mul(g, &T, &d2) == SIGIL_OK);
    REQUIRE(sigil_point_add(g, &Xs[1], &X[1], &T) == SIGIL_OK);
    REQUIRE(sigil_point_base_mul(g, &T, &d3) == SIGIL_OK);
    REQUIRE(sigil_point_add(g, &Xs[2], &X[2], &T) == SIGIL_OK);

    /* the shifted public shares pass the paper's check: sum pk_j = Y */
    {
        sigil_point terms[3], sum;
        for (int j = 0; j < 3; j++)
            REQUIRE(sigil_point_mul_public(g, &terms[j], &Xs[j], &lam[j]) == SIGIL_OK);
        REQUIRE(sigil_point_sum(g, &sum, terms, 3) == SIGIL_OK);
        CHECK(sigil_point_eq(g, &sum, &Y));
        CHECK(!sigil_point_eq(g, &Xs[1], &X[1]) && !sigil_point_eq(g, &Xs[2], &X[2]));
    }

    sigil_ecdsa_share *honest[3] = {shares[0], shares[1], shares[2]};
    sigil_ecdsa_share *mal2 = variant(shares[1], &d2, Xs);
    sigil_ecdsa_share *mal3 = variant(shares[2], &d3, Xs);
    sigil_ecdsa_share *blind1 = variant(shares[0], NULL, Xs);

    /* counterfactual: if party 1 accepted the announced (shifted) public
     * shares, as with a per-session zero-sharing, the shifted inputs would
     * still produce a valid signature under the same key */
    sigil_ecdsa_share *view[HN] = {blind1, mal2, mal3};
    CHECK(sign_ok(view, S, 3));

    /* with the DKG's X_j, the honest party 1 catches the shift and names 2 */
    sigil_ecdsa_share *real[HN] = {honest[0], mal2, mal3};
    sigil_ecdsa_presig *ps[HN];
    uint8_t sid[32];
    uint16_t rep, cul;
    randombytes_buf(sid, 32);
    int rc = run_presign(real, S, 3, sid, ps, NULL, NULL, &rep, &cul);
    CHECK_EQ(rc, SIGIL_E_CHECK);
    CHECK_EQ(rep, 1);
    CHECK_EQ(cul, 2);

    /* only party 3 shifted (party 2 honest): the sum is off, 3 is named */
    sigil_ecdsa_share *one[HN] = {honest[0], honest[1], mal3};
    randombytes_buf(sid, 32);
    rc = run_presign(one, S, 3, sid, ps, NULL, NULL, &rep, &cul);
    CHECK_EQ(rc, SIGIL_E_CHECK);
    CHECK_EQ(rep, 1);
    CHECK_EQ(cul, 3);

    /* honest shares still sign */
    CHECK(sign_ok(shares, S, 3));
    sigil_ecdsa_share_free(mal2);
    sigil_ecdsa_share_free(mal3);
    sigil_ecdsa_share_free(blind1);
    sigil_scalar_clear(&delta);
    sigil_scalar_clear(&d2);
    sigil_scalar_clear(&d3);
}

/* 2. every signer subset of size >= t of a 3-of-5 key signs */
static void test_all_subsets(void)
{
    fresh_key(3, 5);
    unsigned ok = 0, total = 0;
    for (unsigned mask = 0; mask < 32; mask++) {
        uint16_t ids[5];
        size_t c = 0;
        for (unsigned j = 0; j < 5; j++)
            if (mask & (1u << j))
                ids[c++] = (uint16_t)(j + 1);
        if (c < 3)
            continue;
        total++;
        ok += (unsigned)sign_ok(shares, ids, c);
    }
    CHECK_EQ(total, 16);
    CHECK_EQ(ok, 16);
}

/* tamper hook state */
typedef struct {
    int type;
    uint16_t from, to;
    int mode; /* 0 replace with repl, 1 flip byte at size - back */
    sigil_buf *repl;
    size_t back;
    int hits;
} hook;

static void hook_cb(int type, uint16_t from, uint16_t to, sigil_buf *b, void *arg)
{
    hook *h = arg;
    if (type != h->type || from != h->from || to != h->to)
        return;
    h->hits++;
    if (h->mode == 0) {
        sigil_buf_reset(b);
        REQUIRE(sigil_buf_put(b, h->repl->data, h->repl->size) == SIGIL_OK);
    } else {
        REQUIRE(h->back <= b->size);
        b->data[b->size - h->back] ^= 0x01;
    }
}

/* 3. same sid, other signer set */
static void test_signer_set_binding(void)
{
    fresh_key(2, 4);
    static const uint16_t A[3] = {1, 2, 3}, B[2] = {1, 2};
    uint8_t sid[32];
    randombytes_buf(sid, 32);
    /* party 2's PRESIGN1 to party 1 in session (sid, {1,2,3}) */
    sigil_ecdsa_presign *st;
    sigil_buf out[2], captured;
    REQUIRE(sigil_ecdsa_presign_new(&st, shares[1], sid, A, 3) == SIGIL_OK);
    for (int k = 0; k < 2; k++)
        REQUIRE(sigil_buf_init(&out[k], HMAX, 0) == SIGIL_OK);
    REQUIRE(sigil_ecdsa_presign_round1(st, out) == SIGIL_OK);
    REQUIRE(sigil_buf_init(&captured, HMAX, 0) == SIGIL_OK);
    REQUIRE(sigil_buf_put(&captured, out[0].data, out[0].size) == SIGIL_OK);
    sigil_ecdsa_presign_free(st);
    for (int k = 0; k < 2; k++)
        sigil_buf_free(&out[k]);
    /* delivered in session (sid, {1,2}): envelope is valid (same sid,
     * sender, recipient, type) but the session context differs */
    hook h = {SIGIL_ECDSA_MSG_PRESIGN1, 2, 1, 0, &captured, 0, 0};
    sigil_ecdsa_presig *ps[HN];
    uint16_t rep, cul;
    int rc = run_presign(shares, B, 2, sid, ps, hook_cb, &h, &rep, &cul);
    CHECK_EQ(h.hits, 1);
    CHECK_EQ(rc, SIGIL_E_SESSION);
    CHECK_EQ(rep, 1);
    CHECK_EQ(cul, 2);
    /* the same pair signs normally in a fresh session */
    CHECK(sign_ok(shares, B, 2));
    sigil_buf_free(&captured);
}

/* 4. burned sender state */
static void test_burned(void)
{
    fresh_key(2, 3);
    static const uint16_t S12[2] = {1, 2}, S13[2] = {1, 3}, S123[3] = {1, 2, 3};
    uint8_t sid[32];
    randombytes_buf(sid, 32);
    /* party 2 (Bob toward Alice 1) tampers with its OT extension message
     * body: party 1's extension check fails and burns its sender state */
    hook h = {SIGIL_ECDSA_MSG_PRESIGN1, 2, 1, 1, NULL, 200, 0};
    sigil_ecdsa_presig *ps[HN];
    uint16_t rep, cul;
    int rc = run_presign(shares, S12, 2, sid, ps, hook_cb, &h, &rep, &cul);
    CHECK_EQ(h.hits, 1);
    CHECK_EQ(rc, SIGIL_E_CHECK);
    CHECK_EQ(rep, 1);
    CHECK_EQ(cul, 2);
    /* party 1 refuses every signer set containing 2, before round 1 */
    sigil_ecdsa_presign *st = NULL;
    randombytes_buf(sid, 32);
    CHECK_EQ(sigil_ecdsa_presign_new(&st, shares[0], sid, S12, 2), SIGIL_E_USED);
    CHECK(st == NULL);
    CHECK_EQ(sigil_ecdsa_presign_new(&st, shares[0], sid, S123, 3), SIGIL_E_USED);
    /* persisted: the decoded share refuses too */
    sigil_buf enc;
    sigil_ecdsa_share *back = NULL;
    REQUIRE(sigil_buf_init(&enc, 1 << 20, SIGIL_BUF_SECRET) == SIGIL_OK);
    REQUIRE(sigil_ecdsa_share_encode(shares[0], &enc) == SIGIL_OK);
    REQUIRE(sigil_ecdsa_share_decode(&back, enc.data, enc.size) == SIGIL_OK);
    CHECK_EQ(sigil_ecdsa_presign_new(&st, back, sid, S12, 2), SIGIL_E_USED);
    sigil_ecdsa_share_free(back);
    sigil_buf_free(&enc);
    /* other pairs are unaffected */
    CHECK(sign_ok(shares, S13, 2));
}

int main(void)
{
    REQUIRE(sigil_mpc_init() == SIGIL_OK);
    test_zero_sum_shift();
    test_all_subsets();
    test_signer_set_binding();
    test_burned();
    for (unsigned i = 0; i < HN; i++)
        sigil_ecdsa_share_free(shares[i]);
    return check_done();
}
