/* DKLs23 threshold ECDSA, honest parties: dealer split -> pairwise OT
 * setup -> presign -> online -> signature, for several (t, n) and random
 * signer subsets; every signature verified with libsecp256k1 (through
 * sigil_ecdsa_verify), by public-key recovery, and with OpenSSL. Also the
 * single-use presignature, DKG import checks and state-order errors. */
#include "ecdsa_harness.h"

static sigil_ecdsa_share *shares[HN];
static sigil_ecdsa_keyshare *ks[HN];

static void make_key(unsigned t, unsigned n, uint8_t sk[32])
{
    uint16_t rep, cul;
    const sigil_group *g = sigil_group_get(SIGIL_GROUP_SECP256K1);
    sigil_scalar s;
    REQUIRE(sigil_scalar_random(g, &s) == SIGIL_OK);
    memcpy(sk, s.v, 32);
    REQUIRE(sigil_ecdsa_dealer_split(ks, sk, t, n) == SIGIL_OK);
    int rc = run_setup(ks, n, shares, NULL, NULL, &rep, &cul);
    CHECK_EQ(rc, SIGIL_OK);
    REQUIRE(rc == SIGIL_OK);
}

static void free_key(unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        sigil_ecdsa_share_free(shares[i]);
        sigil_ecdsa_keyshare_free(ks[i]);
        shares[i] = NULL;
        ks[i] = NULL;
    }
}

/* random sorted subset of size count of 1..n */
static void random_subset(uint16_t *ids, size_t count, unsigned n)
{
    uint16_t all[HN];
    for (unsigned i = 0; i < n; i++)
        all[i] = (uint16_t)(i + 1);
    for (unsigned i = n - 1; i > 0; i--) {
        unsigned j = randombytes_uniform(i + 1);
        uint16_t tmp = all[i];
        all[i] = all[j];
        all[j] = tmp;
    }
    /* sort the first count */
    for (size_t i = 0; i < count; i++)
        for (size_t j = i + 1; j < count; j++)
            if (all[j] < all[i]) {
                uint16_t tmp = all[i];
                all[i] = all[j];
                all[j] = tmp;
            }
    memcpy(ids, all, count * sizeof *ids);
}

static void sign_and_check(unsigned t, unsigned n, size_t count, const uint8_t sk[32])
{
    uint16_t ids[HN], rep, cul;
    uint8_t sid[32], digest[32], sig[64], pub[33], rec[33];
    sigil_ecdsa_presig *ps[HN];
    int recid;
    random_subset(ids, count, n);
    randombytes_buf(sid, 32);
    randombytes_buf(digest, 32);
    int rc = run_presign(shares, ids, count, sid, ps, NULL, NULL, &rep, &cul);
    CHECK_EQ(rc, SIGIL_OK);
    if (rc != SIGIL_OK) {
        fprintf(stderr, "presign %u-of-%u: %s reporter %u culprit %u\n", t, n, sigil_errname(rc), rep,
                cul);
        return;
    }
    rc = run_sign(ps, count, digest, sig, &recid, NULL, NULL, &cul);
    CHECK_EQ(rc, SIGIL_OK);
    sigil_ecdsa_share_pubkey(shares[0], pub);
    CHECK_EQ(sigil_ecdsa_verify(pub, 33, digest, sig, 0), SIGIL_OK);
    CHECK(openssl_verify(pub, digest, sig));
    CHECK(recid >= 0 && recid <= 3);
    CHECK_EQ(sigil_ecdsa_recover(rec, digest, sig, recid), SIGIL_OK);
    CHECK(memcmp(rec, pub, 33) == 0);
    /* the group key is the dealer's key */
    {
        const sigil_group *g = sigil_group_get(SIGIL_GROUP_SECP256K1);
        sigil_scalar s;
        sigil_point P;
        uint8_t want[33];
        REQUIRE(sigil_scalar_parse(g, &s, sk) == SIGIL_OK);
        REQUIRE(sigil_point_base_mul(g, &P, &s) == SIGIL_OK);
        sigil_point_serialize(g, want, &P);
        CHECK(memcmp(want, pub, 33) == 0);
    }
    /* low-s */
    static const uint8_t half[32] = {0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                     0xff, 0xff, 0xff, 0xff, 0xff, 0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4,
                                     0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0};
    CHECK(memcmp(sig + 32, half, 32) <= 0);
    /* single use: the presignature is consumed */
    sigil_buf b;
    sigil_ecdsa_combiner comb;
    REQUIRE(sigil_buf_init(&b, 1024, 0) == SIGIL_OK);
    CHECK_EQ(sigil_ecdsa_sign_share(ps[0], digest, &b, &comb), SIGIL_E_USED);
    CHECK_EQ(b.size, 0);
    sigil_buf_free(&b);
    for (size_t i = 0; i < count; i++)
        sigil_ecdsa_presig_free(ps[i]);
}

static void test_thresholds(void)
{
    static const unsigned cfg[][2] = {{2, 2}, {2, 3}, {3, 5}, {4, 4}};
    for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
        unsigned t = cfg[c][0], n = cfg[c][1];
        uint8_t sk[32];
        make_key(t, n, sk);
        for (int rep = 0; rep < 3; rep++) {
            size_t count = t + randombytes_uniform(n - t + 1);
            sign_and_check(t, n, count, sk);
        }
        free_key(n);
        sodium_memzero(sk, 32);
    }
}

static void test_api_errors(void)
{
    uint8_t sk[32], sid[32] = {1};
    make_key(2, 3, sk);
    sigil_ecdsa_presign *st;
    sigil_buf out[2];
    uint16_t cul;
    sigil_ecdsa_presig *ps;
    const uint16_t ids_ok[2] = {1, 2}, ids_dup[2] = {2, 2}, ids_unsorted[2] = {2, 1},
                   ids_other[2] = {2, 3}, ids_big[2] = {1, 9};
    CHECK_EQ(sigil_ecdsa_presign_new(&st, shares[0], sid, ids_ok, 1), SIGIL_E_THRESHOLD);
    CHECK_EQ(sigil_ecdsa_presign_new(&st, shares[0], sid, ids_dup, 2), SIGIL_E_PARTICIPANT);
    CHECK_EQ(sigil_ecdsa_presign_new(&st, shares[0], sid, ids_unsorted, 2), SIGIL_E_PARTICIPANT);
    CHECK_EQ(sigil_ecdsa_presign_new(&st, shares[0], sid, ids_other, 2), SIGIL_E_PARTICIPANT);
    CHECK_EQ(sigil_ecdsa_presign_new(&st, shares[0], sid, ids_big, 2), SIGIL_E_PARTICIPANT);
    REQUIRE(sigil_ecdsa_presign_new(&st, shares[0], sid, ids_ok, 2) == SIGIL_OK);
    REQUIRE(sigil_buf_init(&out[0], HMAX, 0) == SIGIL_OK);
    CHECK_EQ(sigil_ecdsa_presign_round2(st, out, out, &cul), SIGIL_E_STATE);
    CHECK_EQ(sigil_ecdsa_presign_finish(st, out, &ps, &cul), SIGIL_E_STATE);
    CHECK_EQ(sigil_ecdsa_presign_round1(st, out), SIGIL_OK);
    CHECK_EQ(sigil_ecdsa_presign_round1(st, out), SIGIL_E_STATE);
    sigil_buf_free(&out[0]);
    sigil_ecdsa_presign_free(st);

    /* dealer split argument checks */
    sigil_ecdsa_keyshare *tmp[HN];
    uint8_t zero[32] = {0};
    CHECK_EQ(sigil_ecdsa_dealer_split(tmp, sk, 1, 3), SIGIL_E_THRESHOLD);
    CHECK_EQ(sigil_ecdsa_dealer_split(tmp, sk, 4, 3), SIGIL_E_THRESHOLD);
    CHECK(sigil_ecdsa_dealer_split(tmp, zero, 2, 3) != SIGIL_OK);

    /* DKG import: consistent verification shares accepted, others refused */
    {
        const sigil_group *g = sigil_group_get(SIGIL_GROUP_SECP256K1);
        uint8_t X[3 * 33], xi[32];
        sigil_point P;
        sigil_scalar x;
        /* recover x_i from dealer keyshare via a fresh split we control:
         * f(z) = a0 + a1 z with a0 = 5, a1 = 7 */
        for (unsigned i = 1; i <= 3; i++) {
            sigil_scalar_set_u64(g, &x, 5 + 7 * i);
            REQUIRE(sigil_point_base_mul(g, &P, &x) == SIGIL_OK);
            sigil_point_serialize(g, X + 33 * (i - 1), &P);
        }
        sigil_scalar_set_u64(g, &x, 5 + 7 * 2);
        memcpy(xi, x.v, 32);
        sigil_ecdsa_keyshare *k;
        uint8_t pub[33], want[33];
        CHECK_EQ(sigil_ecdsa_keyshare_from_dkg(&k, 2, 2, 3, xi, X, sizeof X), SIGIL_OK);
        sigil_scalar_set_u64(g, &x, 5);
        REQUIRE(sigil_point_base_mul(g, &P, &x) == SIGIL_OK);
        sigil_point_serialize(g, want, &P);
        sigil_ecdsa_keyshare_pubkey(k, pub);
        CHECK(memcmp(pub, want, 33) == 0);
        sigil_ecdsa_keyshare_free(k);
        /* wrong secret for the id */
        CHECK_EQ(sigil_ecdsa_keyshare_from_dkg(&k, 1, 2, 3, xi, X, sizeof X), SIGIL_E_SHARE);
        /* X_3 off the polynomial */
        sigil_scalar_set_u64(g, &x, 99);
        REQUIRE(sigil_point_base_mul(g, &P, &x) == SIGIL_OK);
        sigil_point_serialize(g, X + 66, &P);
        CHECK_EQ(sigil_ecdsa_keyshare_from_dkg(&k, 2, 2, 3, xi, X, sizeof X), SIGIL_E_SHARE);
        X[66] = 7;
        CHECK_EQ(sigil_ecdsa_keyshare_from_dkg(&k, 2, 2, 3, xi, X, sizeof X), SIGIL_E_POINT);
    }
    free_key(3);
}

int main(void)
{
    REQUIRE(sigil_mpc_init() == SIGIL_OK);
    test_thresholds();
    test_api_errors();
    return check_done();
}
