/* FROST: 2-of-3, 3-of-5 and 7-of-10 with random signer subsets in every
 * suite, verified by libsodium / libsecp256k1; and the negative cases:
 * tampered share (cheater named), invalid, non-canonical, identity and zero
 * encodings, truncated and oversized messages, wrong participant sets,
 * nonce reuse, signatures of the wrong length. */
#include "check.h"
#include "frost_util.h"

typedef struct {
    sigil_frost_suite s;
    sigil_keyshare *ks;
    uint32_t n;
    uint32_t who[16];
    size_t k;
    sigil_frost_nonce *nonce[16];
    sigil_buf comm[16], share[16];
    sigil_frost_package *pkg[16];
    uint8_t msg[32];
} session;

static void session_start(session *ss, sigil_frost_suite s, sigil_keyshare *ks, uint32_t n, const uint32_t *who, size_t k)
{
    memset(ss, 0, sizeof(*ss));
    ss->s = s;
    ss->ks = ks;
    ss->n = n;
    ss->k = k;
    memcpy(ss->who, who, k * sizeof(*who));
    randombytes_buf(ss->msg, sizeof(ss->msg));
    for (size_t i = 0; i < k; i++) {
        REQUIRE(sigil_buf_init(&ss->comm[i], 256, 0) == SIGIL_OK);
        REQUIRE(sigil_buf_init(&ss->share[i], 256, 0) == SIGIL_OK);
        REQUIRE(sigil_frost_commit(s, &ks[who[i]], NULL, NULL, &ss->nonce[i], &ss->comm[i]) == SIGIL_OK);
    }
}

/* Signers alternate between the two ways of building their package; both
 * must give the same signature. */
static void session_sign(session *ss)
{
    for (size_t i = 0; i < ss->k; i++) {
        if (i % 2)
            REQUIRE(sigil_frost_package_new(ss->s, &ss->ks[ss->who[i]], ss->msg, sizeof(ss->msg), ss->comm, ss->k,
                                            &ss->pkg[i]) == SIGIL_OK);
        else
            REQUIRE(sigil_frost_package_for_signer(ss->s, &ss->ks[ss->who[i]], ss->nonce[i], ss->msg, sizeof(ss->msg),
                                                   ss->comm, ss->k, &ss->pkg[i]) == SIGIL_OK);
        REQUIRE(sigil_frost_sign(ss->s, &ss->ks[ss->who[i]], ss->nonce[i], ss->pkg[i], &ss->share[i]) == SIGIL_OK);
    }
}

static void session_end(session *ss)
{
    for (size_t i = 0; i < ss->k; i++) {
        sigil_frost_nonce_free(ss->nonce[i]);
        sigil_buf_free(&ss->comm[i]);
        sigil_buf_free(&ss->share[i]);
        sigil_frost_package_free(ss->pkg[i]);
    }
}

static void random_subset(uint32_t n, size_t k, uint32_t *who)
{
    uint32_t perm[64];
    for (uint32_t i = 0; i < n; i++)
        perm[i] = i;
    for (size_t i = 0; i < k; i++) {
        uint32_t j = (uint32_t)i + randombytes_uniform(n - (uint32_t)i), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    memcpy(who, perm, k * sizeof(*who));
}

static void happy(sigil_frost_suite s, uint32_t t, uint32_t n, int use_dkg)
{
    const sigil_group *g = sigil_frost_group(s);
    sigil_scalar ids[16];
    sigil_keyshare ks[16];
    random_ids(g, ids, n);
    if (use_dkg) {
        dkg_all(s, t, n, ids, ks);
    } else {
        sigil_scalar secret;
        REQUIRE(sigil_scalar_random(g, &secret) == SIGIL_OK);
        REQUIRE(sigil_dkg_split(g, &secret, t, n, ids, NULL, ks) == SIGIL_OK);
        for (uint32_t i = 0; i < n; i++)
            REQUIRE(sigil_frost_prepare_key(s, &ks[i]) == SIGIL_OK);
    }
    uint8_t pk[33], sig[65];
    CHECK_EQ(sigil_frost_public_key(s, &ks[0], pk), SIGIL_OK);
    for (int round = 0; round < 4; round++) {
        size_t k = t + randombytes_uniform(n - t + 1);
        uint32_t who[16];
        uint32_t culprit;
        random_subset(n, k, who);
        session ss;
        session_start(&ss, s, ks, n, who, k);
        session_sign(&ss);
        /* the coordinator aggregates with public data only */
        sigil_keyshare pub;
        sigil_frost_package *cp = NULL;
        REQUIRE(sigil_keyshare_public(&ks[who[k - 1]], &pub) == SIGIL_OK);
        CHECK(pub.secret == NULL);
        CHECK_EQ(sigil_frost_package_new(s, &pub, ss.msg, sizeof(ss.msg), ss.comm, k, &cp), SIGIL_OK);
        CHECK_EQ(sigil_frost_aggregate(s, &pub, cp, ss.share, k, sig, &culprit), SIGIL_OK);
        CHECK(reference_verify(s, pk, ss.msg, sizeof(ss.msg), sig));
        /* a public-only key cannot commit */
        sigil_frost_nonce *none = NULL;
        sigil_buf tmp;
        REQUIRE(sigil_buf_init(&tmp, 128, 0) == SIGIL_OK);
        CHECK_EQ(sigil_frost_commit(s, &pub, NULL, NULL, &none, &tmp), SIGIL_E_INVALID);
        sigil_buf_free(&tmp);
        sigil_frost_package_free(cp);
        sigil_keyshare_free(&pub);
        /* ... and with any member's package */
        CHECK_EQ(sigil_frost_aggregate(s, &ks[who[k - 1]], ss.pkg[0], ss.share, k, sig, &culprit), SIGIL_OK);
        CHECK(reference_verify(s, pk, ss.msg, sizeof(ss.msg), sig));
        CHECK_EQ(sigil_frost_verify(s, pk, sigil_frost_pk_len(s), ss.msg, sizeof(ss.msg), sig, sigil_frost_sig_len(s)), SIGIL_OK);
        /* another message does not verify */
        ss.msg[0] ^= 1;
        CHECK(!reference_verify(s, pk, ss.msg, sizeof(ss.msg), sig));
        CHECK_EQ(sigil_frost_verify(s, pk, sigil_frost_pk_len(s), ss.msg, sizeof(ss.msg), sig, sigil_frost_sig_len(s)),
                 SIGIL_E_SIGNATURE);
        session_end(&ss);
    }
    for (uint32_t i = 0; i < n; i++)
        sigil_keyshare_free(&ks[i]);
}

/* Every negative case on one 3-of-5 key. */
static void negative(sigil_frost_suite s)
{
    const sigil_group *g = sigil_frost_group(s);
    size_t pl = sigil_group_point_len(g), sl = sigil_frost_sig_len(s);
    sigil_scalar ids[5];
    sigil_keyshare ks[5];
    uint8_t sig[65], pk[33];
    uint32_t culprit;
    random_ids(g, ids, 5);
    dkg_all(s, 3, 5, ids, ks);
    sigil_frost_public_key(s, &ks[0], pk);
    uint32_t who[3] = {4, 0, 2};

    /* tampered signature share: the aggregate fails, the cheater is named,
     * nothing is returned */
    for (size_t bad = 0; bad < 3; bad++) {
        session ss;
        session_start(&ss, s, ks, 5, who, 3);
        session_sign(&ss);
        ss.share[bad].data[32 + 31 - (sigil_group_id_of(g) == SIGIL_GROUP_ED25519 ? 31 : 0)] ^= 1;
        memset(sig, 0xaa, sizeof(sig));
        CHECK_EQ(sigil_frost_aggregate(s, &ks[0], ss.pkg[0], ss.share, 3, sig, &culprit), SIGIL_E_SIG_SHARE);
        CHECK_EQ(culprit, who[bad]);
        uint8_t zero[65] = {0};
        CHECK(memcmp(sig, zero, sl) == 0);
        /* a zero share is a valid scalar but a wrong share: named as well */
        memset(ss.share[bad].data + 32, 0, 32);
        CHECK_EQ(sigil_frost_aggregate(s, &ks[0], ss.pkg[0], ss.share, 3, sig, &culprit), SIGIL_E_SIG_SHARE);
        CHECK_EQ(culprit, who[bad]);
        session_end(&ss);
    }

    /* share messages: truncated, oversized, non-canonical, unknown or duplicate signer, wrong count */
    {
        session ss;
        session_start(&ss, s, ks, 5, who, 3);
        session_sign(&ss);
        sigil_buf v[3];
        uint8_t big[65];
        memcpy(v, ss.share, sizeof(v));
        sigil_buf_view(&v[1], sigil_buf_ptr(&ss.share[1]), 63);
        CHECK_EQ(sigil_frost_aggregate(s, &ks[0], ss.pkg[0], v, 3, sig, &culprit), SIGIL_E_TRUNCATED);
        memcpy(big, sigil_buf_ptr(&ss.share[1]), 64);
        big[64] = 0;
        sigil_buf_view(&v[1], big, 65);
        CHECK_EQ(sigil_frost_aggregate(s, &ks[0], ss.pkg[0], v, 3, sig, &culprit), SIGIL_E_TRAILING);
        CHECK_EQ(culprit, who[1]);
        memset(big + 32, 0xff, 32);
        sigil_buf_view(&v[1], big, 64);
        CHECK_EQ(sigil_frost_aggregate(s, &ks[0], ss.pkg[0], v, 3, sig, &culprit), SIGIL_E_SCALAR);
        memcpy(v, ss.share, sizeof(v));
        v[1] = ss.share[0]; /* duplicate signer */
        CHECK_EQ(sigil_frost_aggregate(s, &ks[0], ss.pkg[0], v, 3, sig, &culprit), SIGIL_E_PARTICIPANT);
        CHECK_EQ(sigil_frost_aggregate(s, &ks[0], ss.pkg[0], ss.share, 2, sig, &culprit), SIGIL_E_PARTICIPANT);
        memcpy(big, sigil_buf_ptr(&ss.share[1]), 64);
        memcpy(big, ids[1].v, 32); /* a member that is not a signer of this package */
        memcpy(v, ss.share, sizeof(v));
        sigil_buf_view(&v[1], big, 64);
        CHECK_EQ(sigil_frost_aggregate(s, &ks[0], ss.pkg[0], v, 3, sig, &culprit), SIGIL_E_PARTICIPANT);
        /* the untouched shares still aggregate */
        CHECK_EQ(sigil_frost_aggregate(s, &ks[0], ss.pkg[0], ss.share, 3, sig, &culprit), SIGIL_OK);
        CHECK(reference_verify(s, pk, ss.msg, 32, sig));
        session_end(&ss);
    }

    /* nonce reuse: refused, the nonce was consumed by its first use */
    {
        session ss;
        session_start(&ss, s, ks, 5, who, 3);
        session_sign(&ss);
        sigil_buf again;
        REQUIRE(sigil_buf_init(&again, 128, 0) == SIGIL_OK);
        CHECK_EQ(sigil_frost_sign(s, &ks[who[0]], ss.nonce[0], ss.pkg[0], &again), SIGIL_E_USED);
        sigil_frost_package *q = NULL;
        CHECK_EQ(sigil_frost_package_for_signer(s, &ks[who[0]], ss.nonce[0], ss.msg, 32, ss.comm, 3, &q), SIGIL_E_USED);
        CHECK(q == NULL);
        CHECK_EQ(sigil_buf_len(&again), 0);
        sigil_buf_free(&again);
        session_end(&ss);
    }

    /* commitments: wrong participant sets and bad encodings */
    {
        session ss;
        sigil_frost_package *p = NULL;
        session_start(&ss, s, ks, 5, who, 3);
        /* fewer than t signers, duplicate signer */
        CHECK_EQ(sigil_frost_package_new(s, &ks[0], ss.msg, 32, ss.comm, 2, &p), SIGIL_E_THRESHOLD);
        sigil_buf v[6];
        memcpy(v, ss.comm, 3 * sizeof(sigil_buf));
        v[2] = v[0];
        CHECK_EQ(sigil_frost_package_new(s, &ks[0], ss.msg, 32, v, 3, &p), SIGIL_E_PARTICIPANT);
        CHECK_EQ(sigil_frost_package_new(s, &ks[0], ss.msg, 32, v, 6, &p), SIGIL_E_THRESHOLD);
        /* a non-member identifier, the zero identifier, a non-canonical identifier */
        uint8_t c[100];
        size_t cl = sigil_buf_len(&ss.comm[0]);
        memcpy(c, sigil_buf_ptr(&ss.comm[0]), cl);
        memcpy(v, ss.comm, 3 * sizeof(sigil_buf));
        sigil_buf_view(&v[0], c, cl);
        sigil_scalar other;
        REQUIRE(sigil_scalar_random(g, &other) == SIGIL_OK);
        memcpy(c, other.v, 32);
        CHECK_EQ(sigil_frost_package_new(s, &ks[0], ss.msg, 32, v, 3, &p), SIGIL_E_PARTICIPANT);
        memset(c, 0, 32);
        CHECK_EQ(sigil_frost_package_new(s, &ks[0], ss.msg, 32, v, 3, &p), SIGIL_E_PARTICIPANT);
        memset(c, 0xff, 32);
        CHECK_EQ(sigil_frost_package_new(s, &ks[0], ss.msg, 32, v, 3, &p), SIGIL_E_SCALAR);
        memcpy(c, sigil_buf_ptr(&ss.comm[0]), cl);
        /* truncated, oversized */
        sigil_buf_view(&v[0], c, cl - 1);
        CHECK_EQ(sigil_frost_package_new(s, &ks[0], ss.msg, 32, v, 3, &p), SIGIL_E_TRUNCATED);
        c[cl] = 0;
        sigil_buf_view(&v[0], c, cl + 1);
        CHECK_EQ(sigil_frost_package_new(s, &ks[0], ss.msg, 32, v, 3, &p), SIGIL_E_TRAILING);
        sigil_buf_view(&v[0], c, 0);
        CHECK_EQ(sigil_frost_package_new(s, &ks[0], ss.msg, 32, v, 3, &p), SIGIL_E_TRUNCATED);
        sigil_buf_view(&v[0], c, cl);
        /* invalid, non-canonical and identity points */
        if (sigil_group_id_of(g) == SIGIL_GROUP_ED25519) {
            memset(c + 32, 0, 32);
            c[32] = 1; /* identity */
            CHECK_EQ(sigil_frost_package_new(s, &ks[0], ss.msg, 32, v, 3, &p), SIGIL_E_IDENTITY);
            memset(c + 32, 0xff, 32);
            c[63] = 0x7f; /* y >= p */
            CHECK_EQ(sigil_frost_package_new(s, &ks[0], ss.msg, 32, v, 3, &p), SIGIL_E_POINT);
            static const uint8_t order8[32] = {0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b,
                                               0x76, 0x0d, 0x10, 0x67, 0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39,
                                               0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a};
            memcpy(c + 32 + pl, order8, 32); /* small-order binding commitment */
            memcpy(c + 32, sigil_buf_ptr(&ss.comm[0]) + 32, pl);
            CHECK_EQ(sigil_frost_package_new(s, &ks[0], ss.msg, 32, v, 3, &p), SIGIL_E_POINT);
        } else {
            c[32] = 0x04; /* not compressed */
            CHECK_EQ(sigil_frost_package_new(s, &ks[0], ss.msg, 32, v, 3, &p), SIGIL_E_POINT);
            memset(c + 32, 0, pl); /* all-zero "infinity" */
            CHECK_EQ(sigil_frost_package_new(s, &ks[0], ss.msg, 32, v, 3, &p), SIGIL_E_POINT);
            memset(c + 33, 0xff, 32);
            c[32] = 0x02; /* x >= p */
            CHECK_EQ(sigil_frost_package_new(s, &ks[0], ss.msg, 32, v, 3, &p), SIGIL_E_POINT);
        }
        CHECK(p == NULL);
        /* a signer whose commitment in the package is not its own nonce's */
        memcpy(c, sigil_buf_ptr(&ss.comm[0]), cl);
        memcpy(c + 32, sigil_buf_ptr(&ss.comm[1]) + 32, pl); /* signer 1's D under signer 0's id */
        REQUIRE(sigil_frost_package_new(s, &ks[0], ss.msg, 32, v, 3, &p) == SIGIL_OK);
        sigil_buf out;
        REQUIRE(sigil_buf_init(&out, 128, 0) == SIGIL_OK);
        CHECK_EQ(sigil_frost_sign(s, &ks[who[0]], ss.nonce[0], p, &out), SIGIL_E_MISMATCH);
        CHECK_EQ(sigil_buf_len(&out), 0);
        /* ... and that nonce is now consumed */
        CHECK_EQ(sigil_frost_sign(s, &ks[who[0]], ss.nonce[0], p, &out), SIGIL_E_USED);
        /* a signer's own package: its commitment altered, absent, or its nonce used */
        sigil_frost_package *q = NULL;
        CHECK_EQ(sigil_frost_package_for_signer(s, &ks[who[0]], ss.nonce[1], ss.msg, 32, ss.comm, 3, &q),
                 SIGIL_E_PARTICIPANT); /* someone else's nonce */
        CHECK_EQ(sigil_frost_package_for_signer(s, &ks[who[1]], ss.nonce[1], ss.msg, 32, v, 3, &q), SIGIL_OK);
        sigil_frost_package_free(q);
        q = NULL;
        {
            sigil_buf w[3];
            uint8_t c1[100];
            size_t l1 = sigil_buf_len(&ss.comm[1]);
            memcpy(w, ss.comm, sizeof(w));
            memcpy(c1, sigil_buf_ptr(&ss.comm[1]), l1);
            memcpy(c1 + 32 + pl, sigil_buf_ptr(&ss.comm[2]) + 32 + pl, pl); /* another E */
            sigil_buf_view(&w[1], c1, l1);
            CHECK_EQ(sigil_frost_package_for_signer(s, &ks[who[1]], ss.nonce[1], ss.msg, 32, w, 3, &q), SIGIL_E_MISMATCH);
            sigil_buf_view(&w[1], c1, l1 + 1);
            CHECK_EQ(sigil_frost_package_for_signer(s, &ks[who[1]], ss.nonce[1], ss.msg, 32, w, 3, &q), SIGIL_E_TRAILING);
            /* a list without this signer: 5-of-5 key needed for 3 others, so
             * use the two others and a duplicate -> refused either way */
            sigil_buf only[3] = {ss.comm[0], ss.comm[2], ss.comm[0]};
            CHECK_EQ(sigil_frost_package_for_signer(s, &ks[who[1]], ss.nonce[1], ss.msg, 32, only, 3, &q),
                     SIGIL_E_PARTICIPANT);
            /* a valid list of three other signers */
            sigil_frost_nonce *xn = NULL;
            sigil_buf xc;
            REQUIRE(sigil_buf_init(&xc, 256, 0) == SIGIL_OK);
            REQUIRE(sigil_frost_commit(s, &ks[3], NULL, NULL, &xn, &xc) == SIGIL_OK);
            sigil_buf others[3] = {ss.comm[0], ss.comm[2], xc};
            CHECK_EQ(sigil_frost_package_for_signer(s, &ks[who[1]], ss.nonce[1], ss.msg, 32, others, 3, &q),
                     SIGIL_E_PARTICIPANT);
            CHECK_EQ(sigil_frost_package_new(s, &ks[who[1]], ss.msg, 32, others, 3, &q), SIGIL_OK);
            sigil_frost_package_free(q);
            q = NULL;
            sigil_frost_nonce_free(xn);
            sigil_buf_free(&xc);
            sigil_buf two[2] = {ss.comm[0], ss.comm[2]};
            CHECK_EQ(sigil_frost_package_for_signer(s, &ks[who[1]], ss.nonce[1], ss.msg, 32, two, 2, &q),
                     SIGIL_E_THRESHOLD);
        }
        CHECK(q == NULL);
        /* a key holder that is not among the package's signers */
        CHECK_EQ(sigil_frost_sign(s, &ks[1], ss.nonce[1], p, &out), SIGIL_E_PARTICIPANT);
        sigil_frost_package_free(p);
        sigil_buf_free(&out);
        session_end(&ss);
    }

    /* a package built for another key (same identifiers) */
    {
        sigil_keyshare other[5];
        sigil_scalar sec;
        REQUIRE(sigil_scalar_random(g, &sec) == SIGIL_OK);
        REQUIRE(sigil_dkg_split(g, &sec, 3, 5, ids, NULL, other) == SIGIL_OK);
        for (int i = 0; i < 5; i++)
            REQUIRE(sigil_frost_prepare_key(s, &other[i]) == SIGIL_OK);
        session ss;
        sigil_frost_package *p = NULL;
        session_start(&ss, s, ks, 5, who, 3);
        REQUIRE(sigil_frost_package_new(s, &other[0], ss.msg, 32, ss.comm, 3, &p) == SIGIL_OK);
        sigil_buf out;
        REQUIRE(sigil_buf_init(&out, 128, 0) == SIGIL_OK);
        CHECK_EQ(sigil_frost_sign(s, &ks[who[0]], ss.nonce[0], p, &out), SIGIL_E_MISMATCH);
        CHECK_EQ(sigil_buf_len(&out), 0);
        CHECK_EQ(sigil_frost_aggregate(s, &ks[0], p, ss.share, 3, sig, &culprit), SIGIL_E_MISMATCH);
        sigil_frost_package_free(p);
        sigil_buf_free(&out);
        session_end(&ss);
        for (int i = 0; i < 5; i++)
            sigil_keyshare_free(&other[i]);
    }

    /* a key share of another suite's group is refused */
    {
        sigil_frost_suite other = sigil_group_id_of(g) == SIGIL_GROUP_ED25519 ? SIGIL_FROST_SECP256K1 : SIGIL_FROST_ED25519;
        sigil_frost_nonce *nn = NULL;
        sigil_buf out;
        REQUIRE(sigil_buf_init(&out, 128, 0) == SIGIL_OK);
        CHECK_EQ(sigil_frost_commit(other, &ks[0], NULL, NULL, &nn, &out), SIGIL_E_INVALID);
        CHECK(nn == NULL);
        sigil_buf_free(&out);
    }

    /* verification: wrong lengths, zero and out-of-range z, wrong key */
    {
        session ss;
        session_start(&ss, s, ks, 5, who, 3);
        session_sign(&ss);
        REQUIRE(sigil_frost_aggregate(s, &ks[0], ss.pkg[0], ss.share, 3, sig, &culprit) == SIGIL_OK);
        size_t pkl = sigil_frost_pk_len(s);
        CHECK_EQ(sigil_frost_verify(s, pk, pkl, ss.msg, 32, sig, sl - 1), SIGIL_E_ENCODING);
        CHECK_EQ(sigil_frost_verify(s, pk, pkl, ss.msg, 32, sig, sl + 1), SIGIL_E_ENCODING);
        CHECK_EQ(sigil_frost_verify(s, pk, pkl - 1, ss.msg, 32, sig, sl), SIGIL_E_ENCODING);
        uint8_t bad[65];
        memcpy(bad, sig, sl);
        memset(bad + sl - 32, 0, 32);
        CHECK_EQ(sigil_frost_verify(s, pk, pkl, ss.msg, 32, bad, sl), SIGIL_E_SIGNATURE);
        memset(bad + sl - 32, 0xff, 32);
        CHECK_EQ(sigil_frost_verify(s, pk, pkl, ss.msg, 32, bad, sl), SIGIL_E_SIGNATURE);
        uint8_t pk2[33];
        memcpy(pk2, pk, pkl);
        pk2[pkl - 1] ^= 1;
        CHECK_EQ(sigil_frost_verify(s, pk2, pkl, ss.msg, 32, sig, sl), SIGIL_E_SIGNATURE);
        session_end(&ss);
    }

    /* key share encoding round trip; corrupted encodings are refused */
    {
        sigil_buf b;
        sigil_keyshare back;
        REQUIRE(sigil_buf_init(&b, 1 << 16, SIGIL_BUF_SECRET) == SIGIL_OK);
        CHECK_EQ(sigil_keyshare_serialize(&ks[2], &b), SIGIL_OK);
        size_t len = sigil_buf_len(&b);
        sigil_buf view;
        sigil_buf_view(&view, sigil_buf_ptr(&b), len);
        CHECK_EQ(sigil_keyshare_parse(&view, &back), SIGIL_OK);
        CHECK(sigil_scalar_eq(back.secret, ks[2].secret));
        CHECK(sigil_point_eq(g, &back.group_pk, &ks[2].group_pk));
        CHECK_EQ(back.self, 2);
        sigil_keyshare_free(&back);
        sigil_buf_view(&view, sigil_buf_ptr(&b), len - 1);
        CHECK_EQ(sigil_keyshare_parse(&view, &back), SIGIL_E_TRUNCATED);
        /* a secret that does not match its verifying share */
        b.data[len - 1] ^= 1;
        sigil_buf_view(&view, sigil_buf_ptr(&b), len);
        int rc = sigil_keyshare_parse(&view, &back);
        CHECK(rc == SIGIL_E_MISMATCH || rc == SIGIL_E_SCALAR);
        b.data[len - 1] ^= 1;
        b.data[0] ^= 1;
        sigil_buf_view(&view, sigil_buf_ptr(&b), len);
        CHECK_EQ(sigil_keyshare_parse(&view, &back), SIGIL_E_VERSION);
        sigil_buf_free(&b);
        /* a public-only key share round trip */
        sigil_keyshare pub;
        REQUIRE(sigil_keyshare_public(&ks[1], &pub) == SIGIL_OK);
        REQUIRE(sigil_buf_init(&b, 1 << 16, 0) == SIGIL_OK);
        CHECK_EQ(sigil_keyshare_serialize(&pub, &b), SIGIL_OK);
        sigil_buf_view(&view, sigil_buf_ptr(&b), sigil_buf_len(&b));
        CHECK_EQ(sigil_keyshare_parse(&view, &back), SIGIL_OK);
        CHECK(back.secret == NULL);
        CHECK(sigil_point_eq(g, &back.verifying[4], &ks[1].verifying[4]));
        sigil_keyshare_free(&back);
        sigil_keyshare_free(&pub);
        sigil_buf_free(&b);
    }
    for (uint32_t i = 0; i < 5; i++)
        sigil_keyshare_free(&ks[i]);
}

/* BIP-340: keys with odd y are normalised, and signatures whose R has odd y
 * (about half of them) verify. */
static void bip340_parity(void)
{
    const sigil_group *g = sigil_frost_group(SIGIL_FROST_BIP340);
    int odd_keys = 0;
    for (int iter = 0; iter < 8; iter++) {
        sigil_scalar ids[3], secret;
        sigil_keyshare ks[3];
        random_ids(g, ids, 3);
        REQUIRE(sigil_scalar_random(g, &secret) == SIGIL_OK);
        REQUIRE(sigil_dkg_split(g, &secret, 2, 3, ids, NULL, ks) == SIGIL_OK);
        odd_keys += !sigil_point_is_even_y(g, &ks[0].group_pk);
        /* refused before preparation when the key is odd */
        uint8_t pk[32], sig[64], msg[5] = "hello";
        if (!sigil_point_is_even_y(g, &ks[0].group_pk))
            CHECK_EQ(sigil_frost_public_key(SIGIL_FROST_BIP340, &ks[0], pk), SIGIL_E_STATE);
        for (int i = 0; i < 3; i++) {
            REQUIRE(sigil_frost_prepare_key(SIGIL_FROST_BIP340, &ks[i]) == SIGIL_OK);
            REQUIRE(sigil_frost_prepare_key(SIGIL_FROST_BIP340, &ks[i]) == SIGIL_OK); /* idempotent */
        }
        CHECK(sigil_point_is_even_y(g, &ks[0].group_pk));
        CHECK_EQ(sigil_frost_public_key(SIGIL_FROST_BIP340, &ks[0], pk), SIGIL_OK);
        for (int j = 0; j < 4; j++) {
            session ss;
            uint32_t who[2] = {(uint32_t)(j % 3), (uint32_t)((j + 1) % 3)};
            uint32_t culprit;
            session_start(&ss, SIGIL_FROST_BIP340, ks, 3, who, 2);
            session_sign(&ss);
            CHECK_EQ(sigil_frost_aggregate(SIGIL_FROST_BIP340, &ks[0], ss.pkg[0], ss.share, 2, sig, &culprit), SIGIL_OK);
            CHECK(reference_verify(SIGIL_FROST_BIP340, pk, ss.msg, 32, sig));
            session_end(&ss);
        }
        (void)msg;
        for (int i = 0; i < 3; i++)
            sigil_keyshare_free(&ks[i]);
    }
    printf("bip340: %d of 8 keys had odd y\n", odd_keys);
}

int main(void)
{
    REQUIRE(sigil_mpc_init() == SIGIL_OK);
    for (int i = 0; i < 3; i++) {
        sigil_frost_suite s = all_suites[i];
        happy(s, 2, 3, 1);
        happy(s, 3, 5, 1);
        happy(s, 7, 10, 1);
        happy(s, 2, 3, 0);
        happy(s, 1, 2, 0);
        negative(s);
    }
    bip340_parity();
    CHECK(sigil_frost_group((sigil_frost_suite)9) == NULL);
    CHECK_EQ(sigil_frost_sig_len(SIGIL_FROST_SECP256K1), 65);
    CHECK_EQ(sigil_frost_pk_len(SIGIL_FROST_SECP256K1), 33);
    CHECK_EQ(sigil_frost_sig_len(SIGIL_FROST_ED25519), 64);
    CHECK_EQ(sigil_frost_pk_len(SIGIL_FROST_BIP340), 32);
    return check_done();
}
