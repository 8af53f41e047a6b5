/* Share refresh (sigil_dkg_refresh_new): the group key stays, every share
 * and verifying share changes, new shares sign, old and new shares never
 * combine, and a cheating refresher is named. Every suite. */
#include "check.h"
#include "frost_util.h"

/* Refresh all n shares of ks into out. tamper: if >= 0, the share message
 * from dealer 1 to participant `tamper` gets +1 and round 3 must fail there
 * naming dealer 1. Returns 0 when everybody finished. */
static int refresh_all(sigil_frost_suite s, const sigil_keyshare *ks, uint32_t n, sigil_keyshare *out, int tamper)
{
    const sigil_group *g = sigil_frost_group(s);
    uint32_t t = ks[0].t, culprit;
    dkg_run r;
    dkg_run_init(&r, s, t, n, ks[0].ids);
    for (uint32_t i = 0; i < n; i++) {
        sigil_dkg_free(r.d[i]);
        sigil_dkg_params p = {g, sigil_frost_context(s), t, n, ks[0].ids, i};
        REQUIRE(sigil_dkg_refresh_new(&p, &ks[i], &r.d[i]) == SIGIL_OK);
    }
    for (uint32_t i = 0; i < n; i++)
        REQUIRE(sigil_dkg_round1(r.d[i], NULL, NULL, &r.r1[i]) == SIGIL_OK);
    for (uint32_t i = 0; i < n; i++)
        REQUIRE(sigil_dkg_round2(r.d[i], r.r1, &r.sh[(size_t)i * n], &culprit) == SIGIL_OK);
    if (tamper >= 0) {
        sigil_buf *m = &r.sh[(size_t)1 * n + (uint32_t)tamper];
        sigil_scalar v, one;
        size_t off = m->size - 32;
        REQUIRE(sigil_scalar_parse(g, &v, m->data + off) == SIGIL_OK);
        sigil_scalar_set_u64(g, &one, 1);
        sigil_scalar_add(g, &v, &v, &one);
        sigil_scalar_serialize(g, m->data + off, &v);
    }
    int failed = 0;
    sigil_buf *inbox = calloc(n, sizeof(*inbox));
    for (uint32_t i = 0; i < n; i++) {
        dkg_inbox(&r, i, inbox);
        int rc = sigil_dkg_round3(r.d[i], inbox, &r.conf[i], &culprit);
        if ((int)i == tamper) {
            CHECK_EQ(rc, SIGIL_E_SHARE);
            CHECK_EQ(culprit, 1);
            failed = 1;
        } else {
            REQUIRE(rc == SIGIL_OK);
        }
    }
    if (!failed)
        for (uint32_t i = 0; i < n; i++)
            REQUIRE(sigil_dkg_finish(r.d[i], r.conf, &out[i], &culprit) == SIGIL_OK);
    free(inbox);
    dkg_run_free(&r);
    return failed;
}

/* A t-signer signature with signers who[0..k) using the shares in keys[who[i]]
 * (which may mix old and new shares); aggregated against agg_key. */
static int sign_with(sigil_frost_suite s, sigil_keyshare *const *keys, const uint32_t *who, size_t k,
                     const sigil_keyshare *agg_key, uint32_t *culprit)
{
    sigil_frost_nonce *nonce[8];
    sigil_buf comm[8], share[8];
    sigil_frost_package *pkg[8], *agg;
    uint8_t msg[32], sig[SIGIL_FROST_SIG_MAX], pk[SIGIL_FROST_PK_MAX];
    randombytes_buf(msg, sizeof(msg));
    for (size_t i = 0; i < k; i++) {
        REQUIRE(sigil_buf_init(&comm[i], 256, 0) == SIGIL_OK && sigil_buf_init(&share[i], 256, 0) == SIGIL_OK);
        REQUIRE(sigil_frost_commit(s, keys[i], &nonce[i], &comm[i]) == SIGIL_OK);
    }
    for (size_t i = 0; i < k; i++) {
        REQUIRE(sigil_frost_package_for_signer(s, keys[i], nonce[i], msg, sizeof(msg), comm, k, &pkg[i]) == SIGIL_OK);
        REQUIRE(sigil_frost_sign(s, keys[i], nonce[i], pkg[i], &share[i]) == SIGIL_OK);
    }
    (void)who;
    REQUIRE(sigil_frost_package_new(s, agg_key, msg, sizeof(msg), comm, k, &agg) == SIGIL_OK);
    int rc = sigil_frost_aggregate(s, agg_key, agg, share, k, sig, culprit);
    if (rc == SIGIL_OK) {
        REQUIRE(sigil_frost_public_key(s, agg_key, pk) == SIGIL_OK);
        CHECK_EQ(sigil_frost_verify(s, pk, sigil_frost_pk_len(s), msg, sizeof(msg), sig, sigil_frost_sig_len(s)),
                 SIGIL_OK);
    }
    sigil_frost_package_free(agg);
    for (size_t i = 0; i < k; i++) {
        sigil_frost_package_free(pkg[i]);
        sigil_frost_nonce_free(nonce[i]);
        sigil_buf_free(&comm[i]);
        sigil_buf_free(&share[i]);
    }
    return rc;
}

static void refresh(sigil_frost_suite s, uint32_t t, uint32_t n)
{
    const sigil_group *g = sigil_frost_group(s);
    sigil_scalar ids[8];
    sigil_keyshare old[8], neu[8], neu2[8];
    uint32_t culprit, who[8];
    random_ids(g, ids, n);
    dkg_all(s, t, n, ids, old);

    CHECK_EQ(refresh_all(s, old, n, neu, -1), 0);
    for (uint32_t i = 0; i < n; i++) {
        CHECK(sigil_point_eq(g, &neu[i].group_pk, &old[i].group_pk)); /* same key */
        CHECK(!sigil_scalar_eq(neu[i].secret, old[i].secret));       /* every share moved */
        CHECK(!sigil_point_eq(g, &neu[i].verifying[i], &old[i].verifying[i]));
        for (uint32_t m = 0; m < n; m++) /* everybody agrees on the new verifying shares */
            CHECK(sigil_point_eq(g, &neu[i].verifying[m], &neu[0].verifying[m]));
        /* the encoding check (secret*G == verifying[self]) holds for the new share */
        sigil_buf b;
        sigil_keyshare back;
        REQUIRE(sigil_buf_init(&b, 1 << 16, SIGIL_BUF_SECRET) == SIGIL_OK);
        REQUIRE(sigil_keyshare_serialize(&neu[i], &b) == SIGIL_OK);
        CHECK_EQ(sigil_keyshare_parse(&b, &back), SIGIL_OK);
        sigil_keyshare_free(&back);
        sigil_buf_free(&b);
    }

    /* new shares sign under the unchanged key (first t and last t) */
    sigil_keyshare *keys[8];
    for (uint32_t i = 0; i < t; i++) {
        who[i] = i;
        keys[i] = &neu[i];
    }
    CHECK_EQ(sign_with(s, keys, who, t, &neu[0], &culprit), SIGIL_OK);
    for (uint32_t i = 0; i < t; i++)
        keys[i] = &neu[n - t + i];
    CHECK_EQ(sign_with(s, keys, who, t, &neu[0], &culprit), SIGIL_OK);
    /* old shares still form their own (old) sharing */
    for (uint32_t i = 0; i < t; i++)
        keys[i] = &old[i];
    CHECK_EQ(sign_with(s, keys, who, t, &old[0], &culprit), SIGIL_OK);

    /* old and new never combine: one old share among new ones, whichever
     * key view aggregates; the cheater (old share) is named under the new view */
    for (uint32_t i = 0; i < t; i++)
        keys[i] = &neu[i];
    keys[0] = &old[0];
    CHECK_EQ(sign_with(s, keys, who, t, &neu[1], &culprit), SIGIL_E_SIG_SHARE);
    CHECK_EQ(culprit, 0);
    CHECK_EQ(sign_with(s, keys, who, t, &old[1], &culprit), SIGIL_E_SIG_SHARE);
    CHECK(culprit != SIGIL_DKG_NOBODY && culprit != 0); /* under the old view, a new share is the odd one */

    /* a second refresh from the new shares works too; the first and the
     * second sharing do not combine either */
    CHECK_EQ(refresh_all(s, neu, n, neu2, -1), 0);
    keys[0] = &neu2[0];
    for (uint32_t i = 1; i < t; i++)
        keys[i] = &neu2[i];
    CHECK_EQ(sign_with(s, keys, who, t, &neu2[0], &culprit), SIGIL_OK);
    keys[t - 1] = &neu[t - 1];
    CHECK(sign_with(s, keys, who, t, &neu2[0], &culprit) != SIGIL_OK);

    /* a refresher that sends a wrong share is named (a constant shift of
     * its polynomial, i.e. a non-zero constant term, is the same thing) */
    sigil_keyshare unused[8];
    CHECK_EQ(refresh_all(s, old, n, unused, 2), 1);

    for (uint32_t i = 0; i < n; i++) {
        sigil_keyshare_free(&old[i]);
        sigil_keyshare_free(&neu[i]);
        sigil_keyshare_free(&neu2[i]);
    }
}

static void refresh_params(sigil_frost_suite s)
{
    const sigil_group *g = sigil_frost_group(s);
    sigil_scalar ids[3], other[3];
    sigil_keyshare ks[3], t1[3];
    sigil_dkg *d;
    random_ids(g, ids, 3);
    random_ids(g, other, 3);
    dkg_all(s, 2, 3, ids, ks);
    sigil_dkg_params p = {g, sigil_frost_context(s), 2, 3, ids, 0};
    CHECK_EQ(sigil_dkg_refresh_new(&p, NULL, &d), SIGIL_E_INVALID);
    CHECK(d == NULL);
    CHECK_EQ(sigil_dkg_refresh_new(&p, &ks[1], &d), SIGIL_E_MISMATCH); /* someone else's share */
    p.ids = other;
    CHECK_EQ(sigil_dkg_refresh_new(&p, &ks[0], &d), SIGIL_E_MISMATCH); /* other identifiers */
    p.ids = ids;
    p.t = 3;
    CHECK_EQ(sigil_dkg_refresh_new(&p, &ks[0], &d), SIGIL_E_MISMATCH); /* other threshold */
    p.t = 2;
    sigil_keyshare pub;
    REQUIRE(sigil_keyshare_public(&ks[0], &pub) == SIGIL_OK);
    CHECK_EQ(sigil_dkg_refresh_new(&p, &pub, &d), SIGIL_E_INVALID); /* no secret */
    sigil_keyshare_free(&pub);
    /* t == 1: nothing to re-randomise */
    REQUIRE(sigil_dkg_split(g, ks[0].secret, 1, 3, ids, NULL, t1) == SIGIL_OK);
    p.t = 1;
    CHECK_EQ(sigil_dkg_refresh_new(&p, &t1[0], &d), SIGIL_E_THRESHOLD);
    p.t = 2;

    /* a DKG round-1 message is not a refresh round-1 message, and back */
    dkg_run r;
    uint32_t culprit;
    dkg_run_init(&r, s, 2, 3, ids);
    sigil_dkg *rf[3];
    sigil_buf rr1[3];
    for (uint32_t i = 0; i < 3; i++) {
        p.self = i;
        REQUIRE(sigil_dkg_refresh_new(&p, &ks[i], &rf[i]) == SIGIL_OK);
        REQUIRE(sigil_buf_init(&rr1[i], 4096, 0) == SIGIL_OK);
        REQUIRE(sigil_dkg_round1(rf[i], NULL, NULL, &rr1[i]) == SIGIL_OK);
        REQUIRE(sigil_dkg_round1(r.d[i], NULL, NULL, &r.r1[i]) == SIGIL_OK);
    }
    sigil_buf mix[3] = {rr1[0], r.r1[1], rr1[2]};
    CHECK_EQ(sigil_dkg_round2(rf[0], mix, &r.sh[0], &culprit), SIGIL_E_VERSION);
    CHECK_EQ(culprit, 1);
    sigil_buf mix2[3] = {r.r1[0], rr1[1], r.r1[2]};
    CHECK_EQ(sigil_dkg_round2(r.d[0], mix2, &r.sh[0], &culprit), SIGIL_E_VERSION);
    CHECK_EQ(culprit, 1);
    /* a refresh PoK that does not verify is named */
    rr1[1].data[rr1[1].size - 1] ^= 1;
    CHECK(sigil_dkg_round2(rf[2], rr1, &r.sh[6], &culprit) != SIGIL_OK);
    CHECK_EQ(culprit, 1);
    for (uint32_t i = 0; i < 3; i++) {
        sigil_dkg_free(rf[i]);
        sigil_buf_free(&rr1[i]);
        sigil_keyshare_free(&ks[i]);
        sigil_keyshare_free(&t1[i]);
    }
    dkg_run_free(&r);
}

int main(void)
{
    REQUIRE(sigil_mpc_init() == SIGIL_OK);
    for (int i = 0; i < 3; i++) {
        refresh(all_suites[i], 2, 3);
        refresh(all_suites[i], 3, 5);
        refresh_params(all_suites[i]);
    }
    return check_done();
}
