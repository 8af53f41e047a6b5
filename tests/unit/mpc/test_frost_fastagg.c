/* sigil_frost_aggregate_with_r (aggregation with the group commitment R a
 * signer reported) and sigil_frost_package_group_commitment, in every
 * suite: the fast path's signature is byte-for-byte the normal path's
 * (sigil_frost_package_new + sigil_frost_aggregate); a lying R (random
 * valid point, identity, garbage, another session's R, the right R negated,
 * wrong length, NULL) still gives that signature, or with a tampered share
 * the same error and culprit; every input error gives what the normal path
 * gives; a signature that does not verify is never returned. */
#include "check.h"
#include "frost_util.h"

enum { MAXK = 10 };

typedef struct {
    sigil_frost_suite s;
    sigil_keyshare *ks;
    size_t k;
    uint32_t who[MAXK];
    sigil_buf comm[MAXK], share[MAXK];
    uint8_t R[MAXK][SIGIL_POINT_MAX_LEN]; /* reported by each signer */
    size_t Rlen[MAXK];
    uint8_t msg[32];
} session;

/* Commit, build each signer's package, sign; each signer reports R. */
static void session_run(session *ss, sigil_frost_suite s, sigil_keyshare *ks, const uint32_t *who, size_t k)
{
    sigil_frost_nonce *nonce[MAXK];
    memset(ss, 0, sizeof(*ss));
    ss->s = s;
    ss->ks = ks;
    ss->k = k;
    memcpy(ss->who, who, k * sizeof(*who));
    randombytes_buf(ss->msg, sizeof(ss->msg));
    for (size_t i = 0; i < k; i++) {
        REQUIRE(sigil_buf_init(&ss->comm[i], 256, 0) == SIGIL_OK);
        REQUIRE(sigil_buf_init(&ss->share[i], 256, 0) == SIGIL_OK);
        REQUIRE(sigil_frost_commit(s, &ks[who[i]], &nonce[i], &ss->comm[i]) == SIGIL_OK);
    }
    for (size_t i = 0; i < k; i++) {
        sigil_frost_package *p;
        if (i % 2)
            REQUIRE(sigil_frost_package_new(s, &ks[who[i]], ss->msg, 32, ss->comm, k, &p) == SIGIL_OK);
        else
            REQUIRE(sigil_frost_package_for_signer(s, &ks[who[i]], nonce[i], ss->msg, 32, ss->comm, k, &p) ==
                    SIGIL_OK);
        REQUIRE(sigil_frost_package_group_commitment(p, ss->R[i], &ss->Rlen[i]) == SIGIL_OK);
        REQUIRE(sigil_frost_sign(s, &ks[who[i]], nonce[i], p, &ss->share[i]) == SIGIL_OK);
        sigil_frost_package_free(p);
        sigil_frost_nonce_free(nonce[i]);
    }
}

static void session_end(session *ss)
{
    for (size_t i = 0; i < ss->k; i++) {
        sigil_buf_free(&ss->comm[i]);
        sigil_buf_free(&ss->share[i]);
    }
}

/* The normal path: package, then aggregate. */
static int normal(sigil_frost_suite s, const sigil_keyshare *k, const uint8_t *msg, const sigil_buf *comm, size_t count,
                  const sigil_buf *shares, uint8_t *sig, uint32_t *culprit)
{
    sigil_frost_package *p = NULL;
    *culprit = SIGIL_DKG_NOBODY;
    int rc = sigil_frost_package_new(s, k, msg, 32, comm, count, &p);
    if (rc == SIGIL_OK)
        rc = sigil_frost_aggregate(s, k, p, shares, count, sig, culprit);
    sigil_frost_package_free(p);
    return rc;
}

/* with_r and the normal path on the same inputs give the same code, the
 * same culprit and, on success, the same signature, which verifies; on
 * failure no verifying signature is left in sig. */
static void same(const session *ss, const sigil_keyshare *k, const uint8_t *pk, const sigil_buf *comm, size_t count,
                 const sigil_buf *shares, const uint8_t *r, size_t rlen, int want_rc)
{
    sigil_frost_suite s = ss->s;
    uint8_t a[65], b[65];
    uint32_t ca = 7, cb = 9;
    memset(a, 0x55, sizeof(a));
    memset(b, 0x66, sizeof(b));
    int ra = sigil_frost_aggregate_with_r(s, k, ss->msg, 32, comm, count, shares, r, rlen, a, &ca);
    int rb = normal(s, k, ss->msg, comm, count, shares, b, &cb);
    CHECK_EQ(ra, want_rc);
    CHECK_EQ(ra, rb);
    CHECK_EQ(ca, cb);
    size_t sl = sigil_frost_sig_len(s);
    if (ra == SIGIL_OK) {
        CHECK(memcmp(a, b, sl) == 0);
        CHECK(reference_verify(s, pk, ss->msg, 32, a));
    } else {
        CHECK(!reference_verify(s, pk, ss->msg, 32, a));
    }
}

static void random_subset(uint32_t n, size_t k, uint32_t *who)
{
    uint32_t perm[MAXK];
    for (uint32_t i = 0; i < n; i++)
        perm[i] = i;
    for (size_t i = 0; i < k; i++) {
        uint32_t j = (uint32_t)i + randombytes_uniform(n - (uint32_t)i), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    memcpy(who, perm, k * sizeof(*who));
}

/* Lying Rs for a session: count written to *n, each with its length. */
static void lies(const session *ss, const session *other, uint8_t out[][SIGIL_POINT_MAX_LEN + 1], size_t *lens,
                 size_t *n)
{
    const sigil_group *g = sigil_frost_group(ss->s);
    size_t pl = sigil_group_point_len(g), i = 0;
    sigil_scalar x;
    sigil_point P;
    /* a random valid point */
    REQUIRE(sigil_scalar_random(g, &x) == SIGIL_OK);
    REQUIRE(sigil_point_base_mul(g, &P, &x) == SIGIL_OK);
    sigil_point_serialize(g, out[i], &P);
    lens[i++] = pl;
    /* the identity (Ed25519's encoding; secp256k1 has none: 0x00 || 0) */
    memset(out[i], 0, pl);
    if (pl == 32)
        out[i][0] = 1;
    lens[i++] = pl;
    /* garbage bytes, and garbage behind a valid prefix */
    randombytes_buf(out[i], pl);
    lens[i++] = pl;
    randombytes_buf(out[i], pl);
    out[i][0] = 0x02;
    lens[i++] = pl;
    /* another session's R */
    memcpy(out[i], other->R[0], pl);
    lens[i++] = pl;
    /* the right R, negated */
    REQUIRE(sigil_point_parse(g, &P, ss->R[0], pl) == SIGIL_OK);
    sigil_point_neg(g, &P, &P);
    sigil_point_serialize(g, out[i], &P);
    lens[i++] = pl;
    /* the right R with one bit flipped; wrong lengths */
    memcpy(out[i], ss->R[0], pl);
    out[i][pl - 1] ^= 1;
    lens[i++] = pl;
    memcpy(out[i], ss->R[0], pl);
    lens[i++] = pl - 1;
    memcpy(out[i], ss->R[0], pl);
    out[i][pl] = 0;
    lens[i++] = pl + 1;
    lens[i] = 0; /* empty */
    i++;
    *n = i;
}

static void suite_tests(sigil_frost_suite s, uint32_t t, uint32_t n)
{
    const sigil_group *g = sigil_frost_group(s);
    size_t pl = sigil_group_point_len(g);
    sigil_scalar ids[MAXK];
    sigil_keyshare ks[MAXK], pub;
    uint8_t pk[33];
    random_ids(g, ids, n);
    dkg_all(s, t, n, ids, ks);
    REQUIRE(sigil_frost_public_key(s, &ks[0], pk) == SIGIL_OK);
    for (int round = 0; round < 3; round++) {
        size_t k = t + randombytes_uniform(n - t + 1);
        uint32_t who[MAXK], who2[MAXK];
        session ss, other;
        random_subset(n, k, who);
        random_subset(n, k, who2);
        session_run(&ss, s, ks, who, k);
        session_run(&other, s, ks, who2, k);
        /* the coordinator holds only the public part */
        REQUIRE(sigil_keyshare_public(&ks[who[0]], &pub) == SIGIL_OK);

        /* every signer reports the same R, of the group's length */
        for (size_t i = 0; i < k; i++) {
            CHECK_EQ(ss.Rlen[i], pl);
            CHECK(memcmp(ss.R[i], ss.R[0], pl) == 0);
        }
        /* the honest R: same signature as the normal path, shares in any order */
        same(&ss, &pub, pk, ss.comm, k, ss.share, ss.R[0], pl, SIGIL_OK);
        same(&ss, &ks[who[k - 1]], pk, ss.comm, k, ss.share, ss.R[k - 1], pl, SIGIL_OK);
        sigil_buf rev[MAXK];
        for (size_t i = 0; i < k; i++)
            rev[i] = ss.share[k - 1 - i];
        same(&ss, &pub, pk, ss.comm, k, rev, ss.R[0], pl, SIGIL_OK);
        /* the signature's R is the reported one (BIP-340: its x) */
        {
            uint8_t sig[65];
            uint32_t culprit;
            REQUIRE(sigil_frost_aggregate_with_r(s, &pub, ss.msg, 32, ss.comm, k, ss.share, ss.R[0], pl, sig,
                                                 &culprit) == SIGIL_OK);
            CHECK_EQ(culprit, SIGIL_DKG_NOBODY);
            if (s == SIGIL_FROST_BIP340)
                CHECK(memcmp(sig, ss.R[0] + 1, 32) == 0);
            else
                CHECK(memcmp(sig, ss.R[0], pl) == 0);
        }

        /* lying Rs: still the right signature */
        uint8_t lie[12][SIGIL_POINT_MAX_LEN + 1];
        size_t lens[12], nl;
        lies(&ss, &other, lie, lens, &nl);
        for (size_t i = 0; i < nl; i++)
            same(&ss, &pub, pk, ss.comm, k, ss.share, lie[i], lens[i], SIGIL_OK);
        same(&ss, &pub, pk, ss.comm, k, ss.share, NULL, pl, SIGIL_OK);

        /* a tampered share: the same culprit whatever R is reported, and
         * nothing that verifies is returned */
        for (size_t bad = 0; bad < k; bad += k - 1) {
            uint8_t tam[MAXK][64];
            sigil_buf v[MAXK];
            memcpy(v, ss.share, k * sizeof(*v));
            memcpy(tam[bad], sigil_buf_ptr(&ss.share[bad]), 64);
            tam[bad][32 + (pl == 32 ? 0 : 31)] ^= 1;
            sigil_buf_view(&v[bad], tam[bad], 64);
            same(&ss, &pub, pk, ss.comm, k, v, ss.R[0], pl, SIGIL_E_SIG_SHARE);
            for (size_t i = 0; i < nl; i++)
                same(&ss, &pub, pk, ss.comm, k, v, lie[i], lens[i], SIGIL_E_SIG_SHARE);
            uint8_t sig[65];
            uint32_t culprit;
            CHECK_EQ(sigil_frost_aggregate_with_r(s, &pub, ss.msg, 32, ss.comm, k, v, ss.R[0], pl, sig, &culprit),
                     SIGIL_E_SIG_SHARE);
            CHECK_EQ(culprit, who[bad]);
            uint8_t zero[65] = {0};
            CHECK(memcmp(sig, zero, sigil_frost_sig_len(s)) == 0);
        }

        /* another session's shares and R with this session's commitments
         * and message (same signers when the subsets agree; else refused
         * as a wrong participant set) */
        {
            uint8_t sig[65];
            uint32_t ca, cb;
            int ra = sigil_frost_aggregate_with_r(s, &pub, ss.msg, 32, ss.comm, k, other.share, other.R[0], pl, sig,
                                                  &ca);
            CHECK(ra != SIGIL_OK);
            CHECK(!reference_verify(s, pk, ss.msg, 32, sig));
            CHECK_EQ(ra, normal(s, &pub, ss.msg, ss.comm, k, other.share, sig, &cb));
            CHECK_EQ(ca, cb);
            /* ... and the other session's inputs are fine on their own */
            same(&other, &pub, pk, other.comm, k, other.share, other.R[0], pl, SIGIL_OK);
            same(&other, &pub, pk, other.comm, k, other.share, ss.R[0], pl, SIGIL_OK);
        }

        /* input errors: exactly the normal path's code and culprit */
        {
            sigil_buf v[MAXK + 1];
            uint8_t big[65];
            memcpy(v, ss.share, k * sizeof(*v));
            sigil_buf_view(&v[0], sigil_buf_ptr(&ss.share[0]), 63);
            same(&ss, &pub, pk, ss.comm, k, v, ss.R[0], pl, SIGIL_E_TRUNCATED);
            memcpy(big, sigil_buf_ptr(&ss.share[0]), 64);
            big[64] = 0;
            sigil_buf_view(&v[0], big, 65);
            same(&ss, &pub, pk, ss.comm, k, v, ss.R[0], pl, SIGIL_E_TRAILING);
            memset(big + 32, 0xff, 32);
            sigil_buf_view(&v[0], big, 64);
            same(&ss, &pub, pk, ss.comm, k, v, ss.R[0], pl, SIGIL_E_SCALAR);
            memcpy(v, ss.share, k * sizeof(*v));
            v[1] = ss.share[0]; /* duplicate share */
            same(&ss, &pub, pk, ss.comm, k, v, ss.R[0], pl, SIGIL_E_PARTICIPANT);
            /* a share from a member that did not commit */
            uint32_t outsider = 0;
            for (uint32_t j = 0; j < n; j++) {
                int in = 0;
                for (size_t i = 0; i < k; i++)
                    in |= who[i] == j;
                if (!in)
                    outsider = j;
            }
            if (k < n) {
                memcpy(v, ss.share, k * sizeof(*v));
                memcpy(big, sigil_buf_ptr(&ss.share[0]), 64);
                memcpy(big, ids[outsider].v, 32);
                sigil_buf_view(&v[0], big, 64);
                same(&ss, &pub, pk, ss.comm, k, v, ss.R[0], pl, SIGIL_E_PARTICIPANT);
            }
            /* commitments: duplicate, too few, a truncated one, a bad point */
            memcpy(v, ss.comm, k * sizeof(*v));
            v[1] = v[0];
            same(&ss, &pub, pk, v, k, ss.share, ss.R[0], pl, SIGIL_E_PARTICIPANT);
            if (t > 1)
                same(&ss, &pub, pk, ss.comm, t - 1, ss.share, ss.R[0], pl, SIGIL_E_THRESHOLD);
            memcpy(v, ss.comm, k * sizeof(*v));
            sigil_buf_view(&v[0], sigil_buf_ptr(&ss.comm[0]), sigil_buf_len(&ss.comm[0]) - 1);
            same(&ss, &pub, pk, v, k, ss.share, ss.R[0], pl, SIGIL_E_TRUNCATED);
        }
        /* the fast path runs: it does not read the commitments' points, so
         * a commitment whose binding point was corrupted after the signers
         * signed still gives the (valid) signature with the honest R, where
         * the normal path refuses the point (the documented difference) */
        {
            uint8_t c0[100], sig[65], ref[65];
            uint32_t culprit;
            sigil_buf v[MAXK];
            size_t cl = sigil_buf_len(&ss.comm[0]);
            memcpy(v, ss.comm, k * sizeof(*v));
            memcpy(c0, sigil_buf_ptr(&ss.comm[0]), cl);
            memset(c0 + 32 + pl, 0xff, pl); /* not a valid encoding in either group */
            sigil_buf_view(&v[0], c0, cl);
            CHECK_EQ(sigil_frost_aggregate_with_r(s, &pub, ss.msg, 32, v, k, ss.share, ss.R[0], pl, sig, &culprit),
                     SIGIL_OK);
            CHECK_EQ(normal(s, &pub, ss.msg, ss.comm, k, ss.share, ref, &culprit), SIGIL_OK);
            CHECK(memcmp(sig, ref, sigil_frost_sig_len(s)) == 0);
            CHECK_EQ(normal(s, &pub, ss.msg, v, k, ss.share, ref, &culprit), SIGIL_E_POINT);
            /* with a lying R it falls back, and the bad point is refused */
            CHECK_EQ(sigil_frost_aggregate_with_r(s, &pub, ss.msg, 32, v, k, ss.share, other.R[0], pl, sig, &culprit),
                     SIGIL_E_POINT);
        }
        /* argument errors */
        {
            uint8_t sig[65];
            uint32_t culprit;
            CHECK_EQ(sigil_frost_aggregate_with_r(s, NULL, ss.msg, 32, ss.comm, k, ss.share, ss.R[0], pl, sig,
                                                  &culprit),
                     SIGIL_E_INVALID);
            sigil_frost_suite wrong = s == SIGIL_FROST_ED25519 ? SIGIL_FROST_SECP256K1 : SIGIL_FROST_ED25519;
            CHECK_EQ(sigil_frost_aggregate_with_r(wrong, &pub, ss.msg, 32, ss.comm, k, ss.share, ss.R[0], pl, sig,
                                                  &culprit),
                     SIGIL_E_INVALID);
            CHECK_EQ(sigil_frost_aggregate_with_r(s, &pub, ss.msg, 32, ss.comm, k, ss.share, ss.R[0], pl, sig, NULL),
                     SIGIL_E_INVALID);
            /* another message: refused (the shares sign this one) */
            uint8_t m2[32];
            memcpy(m2, ss.msg, 32);
            m2[0] ^= 1;
            CHECK(sigil_frost_aggregate_with_r(s, &pub, m2, 32, ss.comm, k, ss.share, ss.R[0], pl, sig, &culprit) !=
                  SIGIL_OK);
            CHECK(!reference_verify(s, pk, m2, 32, sig));
        }
        sigil_keyshare_free(&pub);
        session_end(&ss);
        session_end(&other);
    }
    for (uint32_t i = 0; i < n; i++)
        sigil_keyshare_free(&ks[i]);
}

/* BIP-340: the getter reports the full R before the even-y negation (0x03
 * prefix for odd y), and the fast path gives the normal signature for both
 * parities. */
static void bip340_parity(void)
{
    const sigil_frost_suite s = SIGIL_FROST_BIP340;
    const sigil_group *g = sigil_frost_group(s);
    sigil_scalar ids[3];
    sigil_keyshare ks[3];
    uint8_t pk[32];
    int odd = 0, even = 0;
    random_ids(g, ids, 3);
    dkg_all(s, 2, 3, ids, ks);
    REQUIRE(sigil_frost_public_key(s, &ks[0], pk) == SIGIL_OK);
    for (int i = 0; i < 40 && (odd < 2 || even < 2); i++) {
        session ss;
        uint32_t who[2] = {(uint32_t)(i % 3), (uint32_t)((i + 1) % 3)};
        session_run(&ss, s, ks, who, 2);
        CHECK(ss.R[0][0] == 0x02 || ss.R[0][0] == 0x03);
        odd += ss.R[0][0] == 0x03;
        even += ss.R[0][0] == 0x02;
        same(&ss, &ks[0], pk, ss.comm, 2, ss.share, ss.R[0], 33, SIGIL_OK);
        session_end(&ss);
    }
    CHECK(odd >= 2 && even >= 2);
    for (int i = 0; i < 3; i++)
        sigil_keyshare_free(&ks[i]);
}

int main(void)
{
    REQUIRE(sigil_mpc_init() == SIGIL_OK);
    uint8_t out[33];
    size_t len;
    CHECK_EQ(sigil_frost_package_group_commitment(NULL, out, &len), SIGIL_E_INVALID);
    for (int i = 0; i < 3; i++) {
        suite_tests(all_suites[i], 2, 3);
        suite_tests(all_suites[i], 3, 5);
        suite_tests(all_suites[i], 7, 10);
    }
    bip340_parity();
    return check_done();
}
