/* DKLs23 ECDSA key lifecycle: DKG (generic sigil/dkg.h) + pairwise setup,
 * share encoding round trip and decoder rejections, refresh (same key, new
 * shares and OT states; old and new shares never combine; a refresh dealer
 * that shifts the key is named), all signatures verified by libsecp256k1
 * and OpenSSL. */
#include "ecdsa_harness.h"

static const sigil_group *g;

static void sign_ok(sigil_ecdsa_sim *sim, const uint16_t *ids, size_t count)
{
    sigil_ecdsa_presig *ps[HN];
    uint8_t sid[32], d[32], sig[64], pub[33];
    uint16_t cul;
    int recid;
    randombytes_buf(sid, 32);
    randombytes_buf(d, 32);
    CHECK_EQ(sigil_ecdsa_sim_presign(sim, ids, count, sid, ps, NULL, &cul), SIGIL_OK);
    CHECK_EQ(sigil_ecdsa_sim_sign(ps, count, d, sig, &recid, NULL, &cul), SIGIL_OK);
    sigil_ecdsa_share_pubkey(sigil_ecdsa_sim_share(sim, ids[0]), pub);
    CHECK_EQ(sigil_ecdsa_verify(pub, 33, d, sig, 0), SIGIL_OK);
    CHECK(openssl_verify(pub, d, sig));
    for (size_t i = 0; i < count; i++)
        sigil_ecdsa_presig_free(ps[i]);
}

static void test_dkg(void)
{
    sigil_ecdsa_sim *sim;
    sigil_ecdsa_sim_stats stats;
    uint16_t cul;
    CHECK_EQ(sigil_ecdsa_sim_keygen(&sim, 2, 3, &stats, &cul), SIGIL_OK);
    REQUIRE(sim != NULL);
    CHECK(stats.sent[0] > 0 && stats.sent[2] > 0);
    const uint16_t a[2] = {1, 3}, b[2] = {2, 3}, c[3] = {1, 2, 3};
    sign_ok(sim, a, 2);
    sign_ok(sim, b, 2);
    sign_ok(sim, c, 3);
    uint8_t p1[33], p3[33];
    sigil_ecdsa_share_pubkey(sigil_ecdsa_sim_share(sim, 1), p1);
    sigil_ecdsa_share_pubkey(sigil_ecdsa_sim_share(sim, 3), p3);
    CHECK(memcmp(p1, p3, 33) == 0);
    sigil_ecdsa_sim *none;
    CHECK_EQ(sigil_ecdsa_sim_keygen(&none, 1, 3, NULL, &cul), SIGIL_E_THRESHOLD);
    CHECK(none == NULL);
    sigil_ecdsa_sim_free(sim);
}

static void test_encoding(void)
{
    sigil_ecdsa_sim *sim;
    uint16_t cul;
    REQUIRE(sigil_ecdsa_sim_keygen(&sim, 2, 3, NULL, &cul) == SIGIL_OK);
    sigil_buf enc, pub;
    REQUIRE(sigil_buf_init(&enc, 1 << 20, SIGIL_BUF_SECRET) == SIGIL_OK);
    REQUIRE(sigil_buf_init(&pub, 1 << 20, 0) == SIGIL_OK);
    /* a non-secret buffer is refused */
    CHECK_EQ(sigil_ecdsa_share_encode(sigil_ecdsa_sim_share(sim, 2), &pub), SIGIL_E_INVALID);
    CHECK_EQ(sigil_ecdsa_share_encode(sigil_ecdsa_sim_share(sim, 2), &enc), SIGIL_OK);
    sigil_ecdsa_share *dec;
    CHECK_EQ(sigil_ecdsa_share_decode(&dec, enc.data, enc.size), SIGIL_OK);
    /* the decoded share re-encodes identically */
    {
        sigil_buf again;
        REQUIRE(sigil_buf_init(&again, 1 << 20, SIGIL_BUF_SECRET) == SIGIL_OK);
        CHECK_EQ(sigil_ecdsa_share_encode(dec, &again), SIGIL_OK);
        CHECK_EQ(again.size, enc.size);
        CHECK(again.size == enc.size && memcmp(again.data, enc.data, enc.size) == 0);
        sigil_buf_free(&again);
    }
    /* decoder rejections */
    sigil_ecdsa_share *bad;
    CHECK(sigil_ecdsa_share_decode(&bad, enc.data, enc.size - 1) != SIGIL_OK);
    CHECK(bad == NULL);
    {
        uint8_t *cp = malloc(enc.size + 1);
        REQUIRE(cp);
        memcpy(cp, enc.data, enc.size);
        cp[enc.size] = 0;
        CHECK_EQ(sigil_ecdsa_share_decode(&bad, cp, enc.size + 1), SIGIL_E_TRAILING);
        cp[0] ^= 1;
        CHECK_EQ(sigil_ecdsa_share_decode(&bad, cp, enc.size), SIGIL_E_VERSION);
        cp[0] ^= 1;
        cp[4 + 6 + 31] ^= 1; /* the secret no longer matches X_i */
        CHECK(sigil_ecdsa_share_decode(&bad, cp, enc.size) != SIGIL_OK);
        cp[4 + 6 + 31] ^= 1;
        cp[5] = 9; /* id 9 of 3 */
        CHECK_EQ(sigil_ecdsa_share_decode(&bad, cp, enc.size), SIGIL_E_ENCODING);
        sodium_memzero(cp, enc.size + 1);
        free(cp);
    }
    sigil_ecdsa_share_free(dec);
    sigil_buf_free(&enc);
    sigil_buf_free(&pub);
    sigil_ecdsa_sim_free(sim);
}

/* Lagrange-combine the 32-byte Shamir secrets of parties a and b (2-of-n) */
static void combine2(uint8_t out[32], uint16_t a, const uint8_t xa[32], uint16_t b,
                     const uint8_t xb[32])
{
    /* lambda_a = b / (b - a), lambda_b = a / (a - b) */
    sigil_scalar sa, sb, A, B, la, lb, t, r;
    REQUIRE(sigil_scalar_parse(g, &sa, xa) == SIGIL_OK);
    REQUIRE(sigil_scalar_parse(g, &sb, xb) == SIGIL_OK);
    sigil_scalar_set_u64(g, &A, a);
    sigil_scalar_set_u64(g, &B, b);
    sigil_scalar_sub(g, &t, &B, &A);
    REQUIRE(sigil_scalar_inv(g, &t, &t) == SIGIL_OK);
    sigil_scalar_mul(g, &la, &B, &t);
    sigil_scalar_sub(g, &t, &A, &B);
    REQUIRE(sigil_scalar_inv(g, &t, &t) == SIGIL_OK);
    sigil_scalar_mul(g, &lb, &A, &t);
    sigil_scalar_mul(g, &la, &la, &sa);
    sigil_scalar_mul(g, &lb, &lb, &sb);
    sigil_scalar_add(g, &r, &la, &lb);
    memcpy(out, r.v, 32);
}

static void test_refresh(void)
{
    sigil_ecdsa_sim *sim;
    sigil_scalar sk;
    uint16_t cul;
    uint8_t x1_old[32], x2_old[32], x1_new[32], x2_new[32], got[32], pub_old[33], pub_new[33];
    REQUIRE(sigil_scalar_random(g, &sk) == SIGIL_OK);
    REQUIRE(sigil_ecdsa_sim_import(&sim, sk.v, 2, 3, &cul) == SIGIL_OK);
    sigil_ecdsa_share_secret(sigil_ecdsa_sim_share(sim, 1), x1_old);
    sigil_ecdsa_share_secret(sigil_ecdsa_sim_share(sim, 2), x2_old);
    combine2(got, 1, x1_old, 2, x2_old);
    CHECK(memcmp(got, sk.v, 32) == 0);
    sigil_ecdsa_share_pubkey(sigil_ecdsa_sim_share(sim, 1), pub_old);
    /* keep the old share 1 (encoded) to try mixing later */
    sigil_buf old1;
    REQUIRE(sigil_buf_init(&old1, 1 << 20, SIGIL_BUF_SECRET) == SIGIL_OK);
    REQUIRE(sigil_ecdsa_share_encode(sigil_ecdsa_sim_share(sim, 1), &old1) == SIGIL_OK);

    sigil_ecdsa_sim_stats stats;
    CHECK_EQ(sigil_ecdsa_sim_refresh(sim, &stats, &cul), SIGIL_OK);
    sigil_ecdsa_share_pubkey(sigil_ecdsa_sim_share(sim, 1), pub_new);
    CHECK(memcmp(pub_old, pub_new, 33) == 0);
    sigil_ecdsa_share_secret(sigil_ecdsa_sim_share(sim, 1), x1_new);
    sigil_ecdsa_share_secret(sigil_ecdsa_sim_share(sim, 2), x2_new);
    CHECK(memcmp(x1_old, x1_new, 32) != 0);
    CHECK(memcmp(x2_old, x2_new, 32) != 0);
    /* new shares reconstruct the key, old with new do not */
    combine2(got, 1, x1_new, 2, x2_new);
    CHECK(memcmp(got, sk.v, 32) == 0);
    combine2(got, 1, x1_old, 2, x2_new);
    CHECK(memcmp(got, sk.v, 32) != 0);
    combine2(got, 1, x1_new, 2, x2_old);
    CHECK(memcmp(got, sk.v, 32) != 0);
    const uint16_t ids[2] = {1, 2};
    sign_ok(sim, ids, 2);
    /* protocol level: an old share presigning with a new one fails */
    {
        sigil_ecdsa_share *old;
        REQUIRE(sigil_ecdsa_share_decode(&old, old1.data, old1.size) == SIGIL_OK);
        sigil_ecdsa_share *mixed[2] = {old, sigil_ecdsa_sim_share(sim, 2)};
        sigil_ecdsa_presig *ps[HN];
        uint8_t sid[32];
        uint16_t rep;
        randombytes_buf(sid, 32);
        int rc = run_presign(mixed, ids, 2, sid, ps, NULL, NULL, &rep, &cul);
        CHECK(rc != SIGIL_OK);
        CHECK(cul == 1 || cul == 2);
        sigil_ecdsa_share_free(old);
    }
    sigil_buf_free(&old1);
    sodium_memzero(&sk, sizeof sk);
    sigil_ecdsa_sim_free(sim);
}

/* A refresh dealer whose constant term is not lambda_j X_j is named. */
static void test_refresh_cheater(void)
{
    sigil_ecdsa_sim *sim;
    uint16_t cul;
    REQUIRE(sigil_ecdsa_sim_keygen(&sim, 2, 3, NULL, &cul) == SIGIL_OK);
    sigil_scalar ids[3], coeffs[3][2];
    sigil_dkg *d[3];
    sigil_buf r1[3], sh[3][3];
    for (unsigned i = 0; i < 3; i++) {
        sigil_scalar_set_u64(g, &ids[i], i + 1);
        REQUIRE(sigil_ecdsa_refresh_coeffs(sigil_ecdsa_sim_share(sim, (uint16_t)(i + 1)), coeffs[i]) ==
                SIGIL_OK);
    }
    /* party 2 shifts its constant term by 1 (the key would move by 1*G) */
    sigil_scalar one;
    sigil_scalar_set_u64(g, &one, 1);
    sigil_scalar_add(g, &coeffs[1][0], &coeffs[1][0], &one);
    for (unsigned i = 0; i < 3; i++) {
        sigil_dkg_params p = {g, SIGIL_ECDSA_DKG_CONTEXT, 2, 3, ids, i};
        REQUIRE(sigil_dkg_new(&p, &d[i]) == SIGIL_OK);
        REQUIRE(sigil_buf_init(&r1[i], 1 << 16, 0) == SIGIL_OK);
        REQUIRE(sigil_dkg_round1(d[i], coeffs[i], NULL, &r1[i]) == SIGIL_OK);
    }
    for (unsigned i = 0; i < 3; i++) {
        uint32_t c32;
        for (unsigned j = 0; j < 3; j++)
            REQUIRE(sigil_buf_init(&sh[i][j], 256, SIGIL_BUF_SECRET) == SIGIL_OK);
        CHECK_EQ(sigil_dkg_round2(d[i], r1, sh[i], &c32), SIGIL_OK);
        CHECK_EQ(sigil_ecdsa_refresh_check(sigil_ecdsa_sim_share(sim, (uint16_t)(i + 1)), d[i], &cul),
                 SIGIL_E_SHARE);
        CHECK_EQ(cul, 2);
    }
    for (unsigned i = 0; i < 3; i++) {
        sigil_dkg_free(d[i]);
        sigil_buf_free(&r1[i]);
        for (unsigned j = 0; j < 3; j++)
            sigil_buf_free(&sh[i][j]);
    }
    sodium_memzero(coeffs, sizeof coeffs);
    sigil_ecdsa_sim_free(sim);
}

int main(void)
{
    REQUIRE(sigil_mpc_init() == SIGIL_OK);
    g = sigil_group_get(SIGIL_GROUP_SECP256K1);
    test_dkg();
    test_encoding();
    test_refresh();
    test_refresh_cheater();
    return check_done();
}
