/* Constant-time check of the code that touches secrets, the "ctgrind"
 * technique of libsecp256k1's ctime_tests: secret inputs are marked
 * undefined for Valgrind's memcheck (VALGRIND_MAKE_MEM_UNDEFINED), and
 * memcheck reports every conditional branch or memory address that depends
 * on them. Covered: scalar arithmetic of both groups (add, sub, mul, neg,
 * inv, reduce, parse), s*G, RFC 9591 nonce generation, FROST round 1, the
 * signer's package and round 2 in every suite, the trusted-dealer split,
 * the DKG (coefficients, PoK, share computation, share reception and
 * the confirmation signature) and the share refresh.
 *
 * The program re-executes itself under `valgrind --error-exitcode=1`; if
 * valgrind is missing it FAILS (scripts/setup installs it). In a sanitizer
 * build (ASan cannot run under Valgrind) it runs the same code without
 * memcheck, as a functional test; the constant-time verdict comes from the
 * normal build. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>

#include "check.h"
#include "frost_util.h"
#include "sigil/kat.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif

#define SECRET(p, n) VALGRIND_MAKE_MEM_UNDEFINED((p), (n))
#define PUBLIC(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))

static void scalars(const sigil_group *g)
{
    sigil_scalar a, b, r, s, w;
    uint8_t wide[64], enc[32];
    REQUIRE(sigil_scalar_random(g, &a) == SIGIL_OK && sigil_scalar_random(g, &b) == SIGIL_OK);
    randombytes_buf(wide, sizeof(wide));
    sigil_scalar_serialize(g, enc, &a);
    SECRET(&a, sizeof(a));
    SECRET(&b, sizeof(b));
    SECRET(wide, sizeof(wide));
    SECRET(enc, sizeof(enc));

    sigil_scalar_add(g, &r, &a, &b);
    sigil_scalar_sub(g, &s, &r, &b); /* == a */
    sigil_scalar_mul(g, &r, &s, &b);
    sigil_scalar_neg(g, &r, &r);
    sigil_scalar_add(g, &r, &r, &r);
    int rc = sigil_scalar_inv(g, &w, &b);
    PUBLIC(&rc, sizeof(rc));
    CHECK_EQ(rc, SIGIL_OK);
    sigil_scalar_mul(g, &w, &w, &b); /* == 1 */
    CHECK_EQ(sigil_scalar_reduce(g, &r, wide, sizeof(wide)), SIGIL_OK);
    rc = sigil_scalar_parse(g, &r, enc);
    PUBLIC(&rc, sizeof(rc));
    CHECK_EQ(rc, SIGIL_OK);
    int z = sigil_scalar_is_zero(&a) | sigil_scalar_eq(&a, &b);
    sigil_scalar zero;
    memset(&zero, 0, sizeof(zero));
    SECRET(&zero, sizeof(zero));
    sigil_scalar_add(g, &r, &zero, &b); /* the zero-operand select of secp256k1 add */
    sigil_scalar_mul(g, &r, &r, &zero);

    sigil_point P;
    rc = sigil_point_base_mul(g, &P, &a);
    PUBLIC(&rc, sizeof(rc));
    CHECK_EQ(rc, SIGIL_OK);
    /* variable-base s*P with a secret s (OT base: the product is a secret too) */
    sigil_point Q;
    rc = sigil_point_mul(g, &Q, &P, &b);
    PUBLIC(&rc, sizeof(rc));
    CHECK_EQ(rc, SIGIL_OK);

    /* results are right (declassified only to compare them) */
    PUBLIC(&s, sizeof(s));
    PUBLIC(&a, sizeof(a));
    PUBLIC(&w, sizeof(w));
    PUBLIC(&z, sizeof(z));
    PUBLIC(&r, sizeof(r));
    sigil_scalar one;
    sigil_scalar_set_u64(g, &one, 1);
    CHECK(sigil_scalar_eq(&s, &a));
    CHECK(sigil_scalar_eq(&w, &one));
    CHECK_EQ(z, 0);
    CHECK(sigil_scalar_is_zero(&r));
}

/* Trusted-dealer split of a secret secret, then one signature by t
 * signers whose shares and nonce randomness are secret. */
static void frost_sign(sigil_frost_suite s)
{
    const sigil_group *g = sigil_frost_group(s);
    enum { T = 2, N = 3 };
    sigil_scalar ids[N], secret;
    sigil_keyshare ks[N];
    random_ids(g, ids, N);
    REQUIRE(sigil_scalar_random(g, &secret) == SIGIL_OK);
    SECRET(&secret, sizeof(secret));
    int rc = sigil_dkg_split(g, &secret, T, N, ids, NULL, ks);
    PUBLIC(&rc, sizeof(rc));
    REQUIRE(rc == SIGIL_OK);
    for (int i = 0; i < N; i++) {
        rc = sigil_frost_prepare_key(s, &ks[i]); /* BIP-340: negates the secret share */
        PUBLIC(&rc, sizeof(rc));
        REQUIRE(rc == SIGIL_OK);
        SECRET(ks[i].secret, sizeof(*ks[i].secret));
    }

    sigil_frost_nonce *nonce[T];
    sigil_buf comm[T], share[T];
    sigil_frost_package *pkg[T], *agg;
    uint8_t msg[32] = {1, 2, 3}, rnd[T][2][32];
    for (int i = 0; i < T; i++) {
        REQUIRE(sigil_buf_init(&comm[i], 256, 0) == SIGIL_OK && sigil_buf_init(&share[i], 256, 0) == SIGIL_OK);
        randombytes_buf(rnd[i], sizeof(rnd[i]));
        SECRET(rnd[i], sizeof(rnd[i]));
        rc = sigil_frost_commit_kat(s, &ks[i], rnd[i][0], rnd[i][1], &nonce[i], &comm[i]);
        PUBLIC(&rc, sizeof(rc));
        REQUIRE(rc == SIGIL_OK);
    }
    for (int i = 0; i < T; i++) {
        rc = sigil_frost_package_for_signer(s, &ks[i], nonce[i], msg, sizeof(msg), comm, T, &pkg[i]);
        PUBLIC(&rc, sizeof(rc));
        REQUIRE(rc == SIGIL_OK);
        rc = sigil_frost_sign(s, &ks[i], nonce[i], pkg[i], &share[i]);
        PUBLIC(&rc, sizeof(rc));
        REQUIRE(rc == SIGIL_OK);
        PUBLIC(share[i].data, share[i].size); /* a signature share is published */
    }
    uint8_t sig[SIGIL_FROST_SIG_MAX], pk[SIGIL_FROST_PK_MAX];
    uint32_t culprit;
    REQUIRE(sigil_frost_package_new(s, &ks[0], msg, sizeof(msg), comm, T, &agg) == SIGIL_OK);
    CHECK_EQ(sigil_frost_aggregate(s, &ks[0], agg, share, T, sig, &culprit), SIGIL_OK);
    REQUIRE(sigil_frost_public_key(s, &ks[0], pk) == SIGIL_OK);
    CHECK_EQ(sigil_frost_verify(s, pk, sigil_frost_pk_len(s), msg, sizeof(msg), sig, sigil_frost_sig_len(s)), SIGIL_OK);
    sigil_frost_package_free(agg);
    for (int i = 0; i < T; i++) {
        sigil_frost_package_free(pkg[i]);
        sigil_frost_nonce_free(nonce[i]);
        sigil_buf_free(&comm[i]);
        sigil_buf_free(&share[i]);
    }
    for (int i = 0; i < N; i++) {
        PUBLIC(ks[i].secret, sizeof(*ks[i].secret));
        sigil_keyshare_free(&ks[i]);
    }
}

/* A 2-of-3 DKG whose coefficients and PoK nonces are secret, and whose
 * share messages stay secret in transit. */
static void dkg(sigil_frost_suite s)
{
    const sigil_group *g = sigil_frost_group(s);
    enum { T = 2, N = 3 };
    sigil_scalar ids[N], coeffs[N][T], pokn[N];
    sigil_keyshare ks[N];
    uint32_t culprit;
    int rc;
    random_ids(g, ids, N);
    dkg_run r;
    dkg_run_init(&r, s, T, N, ids);
    for (uint32_t i = 0; i < N; i++) {
        for (int k = 0; k < T; k++)
            REQUIRE(sigil_scalar_random(g, &coeffs[i][k]) == SIGIL_OK);
        REQUIRE(sigil_scalar_random(g, &pokn[i]) == SIGIL_OK);
        SECRET(coeffs[i], sizeof(coeffs[i]));
        SECRET(&pokn[i], sizeof(pokn[i]));
        rc = sigil_dkg_round1(r.d[i], coeffs[i], &pokn[i], &r.r1[i]);
        PUBLIC(&rc, sizeof(rc));
        REQUIRE(rc == SIGIL_OK);
        PUBLIC(r.r1[i].data, r.r1[i].size); /* the broadcast: commitments and PoK */
    }
    for (uint32_t i = 0; i < N; i++) {
        rc = sigil_dkg_round2(r.d[i], r.r1, &r.sh[(size_t)i * N], &culprit);
        PUBLIC(&rc, sizeof(rc));
        REQUIRE(rc == SIGIL_OK);
    }
    for (uint32_t i = 0; i < N; i++) {
        sigil_buf inbox[N];
        dkg_inbox(&r, i, inbox);
        rc = sigil_dkg_round3(r.d[i], inbox, &r.conf[i], &culprit);
        PUBLIC(&rc, sizeof(rc));
        REQUIRE(rc == SIGIL_OK);
        PUBLIC(r.conf[i].data, r.conf[i].size); /* the confirmation broadcast */
    }
    for (uint32_t i = 0; i < N; i++) {
        rc = sigil_dkg_finish(r.d[i], r.conf, &ks[i], &culprit);
        PUBLIC(&rc, sizeof(rc));
        CHECK_EQ(rc, SIGIL_OK);
    }
    for (uint32_t i = 0; i < N; i++)
        CHECK(sigil_point_eq(g, &ks[i].group_pk, &ks[0].group_pk));
    dkg_run_free(&r);

    /* share refresh of those (secret) shares, with secret coefficients */
    sigil_keyshare neu[N];
    dkg_run_init(&r, s, T, N, ids);
    for (uint32_t i = 0; i < N; i++) {
        sigil_dkg_free(r.d[i]);
        sigil_dkg_params p = {g, sigil_frost_context(s), T, N, ids, i};
        REQUIRE(sigil_dkg_refresh_new(&p, &ks[i], &r.d[i]) == SIGIL_OK);
        REQUIRE(sigil_scalar_random(g, &coeffs[i][1]) == SIGIL_OK);
        SECRET(coeffs[i], sizeof(coeffs[i]));
        rc = sigil_dkg_round1(r.d[i], coeffs[i], NULL, &r.r1[i]);
        PUBLIC(&rc, sizeof(rc));
        REQUIRE(rc == SIGIL_OK);
        PUBLIC(r.r1[i].data, r.r1[i].size);
    }
    for (uint32_t i = 0; i < N; i++) {
        rc = sigil_dkg_round2(r.d[i], r.r1, &r.sh[(size_t)i * N], &culprit);
        PUBLIC(&rc, sizeof(rc));
        REQUIRE(rc == SIGIL_OK);
    }
    for (uint32_t i = 0; i < N; i++) {
        sigil_buf inbox[N];
        dkg_inbox(&r, i, inbox);
        rc = sigil_dkg_round3(r.d[i], inbox, &r.conf[i], &culprit);
        PUBLIC(&rc, sizeof(rc));
        REQUIRE(rc == SIGIL_OK);
        PUBLIC(r.conf[i].data, r.conf[i].size);
    }
    for (uint32_t i = 0; i < N; i++) {
        rc = sigil_dkg_finish(r.d[i], r.conf, &neu[i], &culprit);
        PUBLIC(&rc, sizeof(rc));
        CHECK_EQ(rc, SIGIL_OK);
    }
    for (uint32_t i = 0; i < N; i++)
        CHECK(sigil_point_eq(g, &neu[i].group_pk, &ks[0].group_pk));
    for (uint32_t i = 0; i < N; i++) {
        if (neu[i].secret)
            PUBLIC(neu[i].secret, sizeof(*neu[i].secret));
        if (ks[i].secret)
            PUBLIC(ks[i].secret, sizeof(*ks[i].secret));
        sigil_keyshare_free(&neu[i]);
        sigil_keyshare_free(&ks[i]);
    }
    dkg_run_free(&r);
}

int main(int argc, char **argv)
{
    (void)argc;
#ifndef SANITIZED
    if (!RUNNING_ON_VALGRIND) {
        /* the suppression file sits next to this source file */
        char supp[4096];
        const char *slash = strrchr(__FILE__, '/');
        int dl = slash ? (int)(slash - __FILE__) : 1;
        snprintf(supp, sizeof(supp), "--suppressions=%.*s/ctime.supp", dl, slash ? __FILE__ : ".");
        fflush(stdout);
        execlp("valgrind", "valgrind", "-q", "--error-exitcode=1", "--track-origins=yes", supp, argv[0], (char *)NULL);
        fprintf(stderr, "test_ctime: cannot run valgrind (%s): install it (scripts/setup)\n", strerror(errno));
        return 1;
    }
#else
    (void)argv;
#endif
    REQUIRE(sigil_mpc_init() == SIGIL_OK);
    scalars(sigil_group_get(SIGIL_GROUP_ED25519));
    scalars(sigil_group_get(SIGIL_GROUP_SECP256K1));
    for (int i = 0; i < 3; i++)
        frost_sign(all_suites[i]);
    for (int i = 0; i < 3; i++)
        dkg(all_suites[i]);
    return check_done();
}
