/* Every single-bit change of every byte of every protocol message (FROST
 * commitments and signature shares, DKG round-1, share and confirmation
 * messages) gives a clean outcome: a named error (with the sender named
 * where the protocol can tell), or, when the change keeps the message
 * valid, a result that is still checked downstream. Never a crash (this
 * runs under ASan/UBSan in CI) and never a released bad signature. */
#include "check.h"
#include "frost_util.h"

static int is_error(int rc)
{
    return rc < 0 && rc > SIGIL_E__LAST;
}

static void frost_messages(sigil_frost_suite s)
{
    const sigil_group *g = sigil_frost_group(s);
    sigil_scalar ids[3], secret;
    sigil_keyshare ks[3];
    uint8_t pk[33], sig[65];
    random_ids(g, ids, 3);
    REQUIRE(sigil_scalar_random(g, &secret) == SIGIL_OK);
    REQUIRE(sigil_dkg_split(g, &secret, 2, 3, ids, NULL, ks) == SIGIL_OK);
    for (int i = 0; i < 3; i++)
        REQUIRE(sigil_frost_prepare_key(s, &ks[i]) == SIGIL_OK);
    sigil_frost_public_key(s, &ks[0], pk);
    uint8_t msg[32];
    randombytes_buf(msg, sizeof(msg));

    sigil_frost_nonce *nonce[2];
    sigil_buf comm[2], share[2];
    for (int i = 0; i < 2; i++) {
        REQUIRE(sigil_buf_init(&comm[i], 256, 0) == SIGIL_OK);
        REQUIRE(sigil_buf_init(&share[i], 256, 0) == SIGIL_OK);
        REQUIRE(sigil_frost_commit(s, &ks[i], &nonce[i], &comm[i]) == SIGIL_OK);
    }
    /* commitments: the coordinator's package for a mutated list either fails
     * cleanly or (another valid commitment) builds, and then the signature
     * cannot aggregate into something that fails verification */
    size_t cl = sigil_buf_len(&comm[1]);
    int clean = 1, built = 0, id_refused = 0;
    for (size_t pos = 0; pos < cl; pos++) {
        for (int bit = 0; bit < 8; bit++) {
            uint8_t c[100];
            memcpy(c, sigil_buf_ptr(&comm[1]), cl);
            c[pos] ^= (uint8_t)(1u << bit);
            sigil_buf v[2] = {comm[0]};
            sigil_buf_view(&v[1], c, cl);
            sigil_frost_package *p = NULL;
            int rc = sigil_frost_package_new(s, &ks[0], msg, 32, v, 2, &p);
            if (rc == SIGIL_OK) {
                built++;
                sigil_frost_package_free(p);
            } else if (!is_error(rc) || p != NULL) {
                clean = 0;
            } else if (pos < 32) {
                id_refused++;
            }
        }
    }
    CHECK(clean);
    CHECK_EQ(id_refused, 32 * 8); /* an identifier change never names a member */
    CHECK(built < (int)(cl * 8) / 2);
    /* shares: sign honestly, then mutate a share */
    sigil_frost_package *pk0 = NULL, *pk1 = NULL, *agg = NULL;
    REQUIRE(sigil_frost_package_for_signer(s, &ks[0], nonce[0], msg, 32, comm, 2, &pk0) == SIGIL_OK);
    REQUIRE(sigil_frost_package_for_signer(s, &ks[1], nonce[1], msg, 32, comm, 2, &pk1) == SIGIL_OK);
    REQUIRE(sigil_frost_sign(s, &ks[0], nonce[0], pk0, &share[0]) == SIGIL_OK);
    REQUIRE(sigil_frost_sign(s, &ks[1], nonce[1], pk1, &share[1]) == SIGIL_OK);
    REQUIRE(sigil_frost_package_new(s, &ks[2], msg, 32, comm, 2, &agg) == SIGIL_OK);
    size_t sl = sigil_buf_len(&share[1]);
    int released_bad = 0, named = 0, other = 0;
    for (size_t pos = 0; pos < sl; pos++) {
        for (int bit = 0; bit < 8; bit++) {
            uint8_t c[64];
            uint32_t culprit;
            memcpy(c, sigil_buf_ptr(&share[1]), sl);
            c[pos] ^= (uint8_t)(1u << bit);
            sigil_buf v[2] = {share[0]};
            sigil_buf_view(&v[1], c, sl);
            int rc = sigil_frost_aggregate(s, &ks[2], agg, v, 2, sig, &culprit);
            if (rc == SIGIL_OK)
                released_bad += !reference_verify(s, pk, msg, 32, sig);
            else if (rc == SIGIL_E_SIG_SHARE && culprit == 1)
                named++;
            else if (is_error(rc))
                other++;
            else
                released_bad++;
        }
    }
    CHECK_EQ(released_bad, 0);
    CHECK(named > 0 && named + other == (int)sl * 8);
    uint32_t culprit;
    CHECK_EQ(sigil_frost_aggregate(s, &ks[2], agg, share, 2, sig, &culprit), SIGIL_OK);
    CHECK(reference_verify(s, pk, msg, 32, sig));
    sigil_frost_package_free(pk0);
    sigil_frost_package_free(pk1);
    sigil_frost_package_free(agg);
    for (int i = 0; i < 2; i++) {
        sigil_frost_nonce_free(nonce[i]);
        sigil_buf_free(&comm[i]);
        sigil_buf_free(&share[i]);
    }
    for (int i = 0; i < 3; i++)
        sigil_keyshare_free(&ks[i]);
}

static void dkg_messages(sigil_frost_suite s)
{
    const sigil_group *g = sigil_frost_group(s);
    sigil_scalar ids[3];
    random_ids(g, ids, 3);
    dkg_run r;
    uint32_t culprit;
    dkg_run_init(&r, s, 2, 3, ids);
    for (uint32_t i = 0; i < 3; i++)
        REQUIRE(sigil_dkg_round1(r.d[i], NULL, NULL, &r.r1[i]) == SIGIL_OK);
    /* round-1 broadcast of participant 2, mutated, seen by a fresh participant 0 */
    size_t len = sigil_buf_len(&r.r1[2]);
    int bad = 0;
    for (size_t pos = 0; pos < len; pos++) {
        uint8_t c[512];
        memcpy(c, sigil_buf_ptr(&r.r1[2]), len);
        c[pos] ^= (uint8_t)(1u << (pos % 8));
        sigil_dkg *d;
        sigil_dkg_params p = {g, sigil_frost_context(s), 2, 3, ids, 0};
        sigil_buf out[3], in[3], r1;
        REQUIRE(sigil_dkg_new(&p, &d) == SIGIL_OK);
        REQUIRE(sigil_buf_init(&r1, 4096, 0) == SIGIL_OK);
        for (int j = 0; j < 3; j++)
            REQUIRE(sigil_buf_init(&out[j], 256, SIGIL_BUF_SECRET) == SIGIL_OK);
        REQUIRE(sigil_dkg_round1(d, NULL, NULL, &r1) == SIGIL_OK);
        memcpy(in, r.r1, sizeof(in));
        sigil_buf_view(&in[2], c, len);
        int rc = sigil_dkg_round2(d, in, out, &culprit);
        /* every change of a signed-over or structural byte is caught, and
         * named; the proof of knowledge covers id, C_0, R and z, and every
         * other commitment byte either breaks decoding or would be caught
         * by the share check in round 3 */
        if (rc == SIGIL_OK) {
            /* only a change to C_1 that leaves a valid point gets through */
            if (pos < 1 + 32 + sigil_group_point_len(g) || pos >= 1 + 32 + 2 * sigil_group_point_len(g))
                bad++;
        } else if (!is_error(rc) || culprit != 2 || sigil_buf_len(&out[1]) != 0) {
            bad++;
        }
        sigil_dkg_free(d);
        sigil_buf_free(&r1);
        for (int j = 0; j < 3; j++)
            sigil_buf_free(&out[j]);
    }
    CHECK_EQ(bad, 0);
    for (uint32_t i = 0; i < 3; i++)
        REQUIRE(sigil_dkg_round2(r.d[i], r.r1, &r.sh[(size_t)i * 3], &culprit) == SIGIL_OK);
    /* share message from participant 1 to participant 0, mutated: round 3 fails, naming 1 */
    sigil_buf inbox[3];
    dkg_inbox(&r, 0, inbox);
    len = sigil_buf_len(&inbox[1]);
    bad = 0;
    for (size_t pos = 0; pos < len; pos++) {
        /* run round 3 on a copy of participant 0's state: rebuild it */
        uint8_t c[128];
        memcpy(c, sigil_buf_ptr(&inbox[1]), len);
        c[pos] ^= 1;
        dkg_run q;
        dkg_run_init(&q, s, 2, 3, ids);
        for (uint32_t i = 0; i < 3; i++)
            REQUIRE(sigil_dkg_round1(q.d[i], NULL, NULL, &q.r1[i]) == SIGIL_OK);
        for (uint32_t i = 0; i < 3; i++)
            REQUIRE(sigil_dkg_round2(q.d[i], q.r1, &q.sh[(size_t)i * 3], &culprit) == SIGIL_OK);
        sigil_buf qin[3];
        dkg_inbox(&q, 0, qin);
        memcpy(c, sigil_buf_ptr(&qin[1]), len);
        c[pos] ^= 1;
        sigil_buf_view(&qin[1], c, len);
        int rc = sigil_dkg_round3(q.d[0], qin, &q.conf[0], &culprit);
        if (!is_error(rc) || culprit != 1 || sigil_buf_len(&q.conf[0]) != 0)
            bad++;
        dkg_run_free(&q);
        if (pos > 40 && pos < len - 8)
            pos += 7; /* sample the middle of the identifiers */
    }
    CHECK_EQ(bad, 0);
    dkg_run_free(&r);
}

int main(void)
{
    REQUIRE(sigil_mpc_init() == SIGIL_OK);
    for (int i = 0; i < 3; i++)
        frost_messages(all_suites[i]);
    dkg_messages(SIGIL_FROST_ED25519);
    dkg_messages(SIGIL_FROST_SECP256K1);
    return check_done();
}
