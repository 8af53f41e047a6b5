/* Regression tests for the findings of the security review
 * (docs/modules/mpc-review.md), each failing before its fix:
 *   F-1  a nonce freed twice was put on the free list twice, so two later
 *        commitments shared one nonce slot;
 *   F-2  an error while writing a commitment, a signature share, a DKG
 *        message or a key-share encoding left a half-written message in the
 *        caller's buffer (a state change on error);
 *   D-1  DKG round-2 shares and key-share encodings with a secret could be
 *        written to ordinary (not SIGIL_BUF_SECRET) memory;
 *   B-1  sigil_buf_truncate (used by F-2) contracts. */
#include "check.h"
#include "frost_util.h"

static void nonce_double_free(sigil_frost_suite s)
{
    const sigil_group *g = sigil_frost_group(s);
    sigil_scalar ids[3];
    sigil_keyshare ks[3];
    random_ids(g, ids, 3);
    dkg_all(s, 2, 3, ids, ks);

    sigil_buf c;
    REQUIRE(sigil_buf_init(&c, 4096, 0) == SIGIL_OK);
    sigil_frost_nonce *a, *b, *d;
    REQUIRE(sigil_frost_commit(s, &ks[0], &a, &c) == SIGIL_OK);
    sigil_frost_nonce_free(a);
    sigil_frost_nonce_free(a); /* caller bug: must not corrupt the allocator */
    REQUIRE(sigil_frost_commit(s, &ks[0], &b, &c) == SIGIL_OK);
    REQUIRE(sigil_frost_commit(s, &ks[1], &d, &c) == SIGIL_OK);
    CHECK(b != d); /* two live nonces never share storage */

    /* signing with a freed nonce is refused and writes nothing */
    sigil_frost_nonce *e;
    sigil_buf comm[2], out;
    REQUIRE(sigil_buf_init(&comm[0], 256, 0) == SIGIL_OK && sigil_buf_init(&comm[1], 256, 0) == SIGIL_OK);
    REQUIRE(sigil_buf_init(&out, 256, 0) == SIGIL_OK);
    sigil_frost_nonce *f;
    REQUIRE(sigil_frost_commit(s, &ks[0], &e, &comm[0]) == SIGIL_OK);
    REQUIRE(sigil_frost_commit(s, &ks[1], &f, &comm[1]) == SIGIL_OK);
    sigil_frost_package *p;
    uint8_t msg[4] = {1, 2, 3, 4};
    REQUIRE(sigil_frost_package_new(s, &ks[0], msg, sizeof(msg), comm, 2, &p) == SIGIL_OK);
    sigil_frost_nonce_free(e);
    CHECK(sigil_frost_sign(s, &ks[0], e, p, &out) != SIGIL_OK);
    CHECK_EQ(sigil_buf_len(&out), 0);
    sigil_frost_package_free(p);
    sigil_frost_nonce_free(f);
    sigil_frost_nonce_free(b);
    sigil_frost_nonce_free(d);
    sigil_buf_free(&comm[0]);
    sigil_buf_free(&comm[1]);
    sigil_buf_free(&out);
    sigil_buf_free(&c);
    for (int i = 0; i < 3; i++)
        sigil_keyshare_free(&ks[i]);
}

static void no_half_written_frost(sigil_frost_suite s)
{
    const sigil_group *g = sigil_frost_group(s);
    size_t pl = sigil_group_point_len(g);
    sigil_scalar ids[3];
    sigil_keyshare ks[3];
    random_ids(g, ids, 3);
    dkg_all(s, 2, 3, ids, ks);

    /* commitment: room for the identifier and D but not E */
    sigil_buf small, comm[2], share;
    sigil_frost_nonce *n0, *n1, *bad;
    REQUIRE(sigil_buf_init(&small, 32 + pl, 0) == SIGIL_OK);
    CHECK_EQ(sigil_frost_commit(s, &ks[0], &bad, &small), SIGIL_E_TOO_LARGE);
    CHECK(bad == NULL);
    CHECK_EQ(sigil_buf_len(&small), 0);

    /* signature share: room for the identifier only */
    REQUIRE(sigil_buf_init(&comm[0], 256, 0) == SIGIL_OK && sigil_buf_init(&comm[1], 256, 0) == SIGIL_OK);
    REQUIRE(sigil_frost_commit(s, &ks[0], &n0, &comm[0]) == SIGIL_OK);
    REQUIRE(sigil_frost_commit(s, &ks[1], &n1, &comm[1]) == SIGIL_OK);
    sigil_frost_package *p;
    uint8_t msg[4] = {9, 9, 9, 9};
    REQUIRE(sigil_frost_package_for_signer(s, &ks[0], n0, msg, sizeof(msg), comm, 2, &p) == SIGIL_OK);
    REQUIRE(sigil_buf_init(&share, 40, 0) == SIGIL_OK);
    CHECK_EQ(sigil_frost_sign(s, &ks[0], n0, p, &share), SIGIL_E_TOO_LARGE);
    CHECK_EQ(sigil_buf_len(&share), 0);
    CHECK_EQ(sigil_frost_sign(s, &ks[0], n0, p, &share), SIGIL_E_USED); /* still consumed */

    /* key share encoding: refused into ordinary memory, never half-written */
    sigil_buf plain, tiny;
    REQUIRE(sigil_buf_init(&plain, 1 << 16, 0) == SIGIL_OK);
    CHECK_EQ(sigil_keyshare_serialize(&ks[1], &plain), SIGIL_E_INVALID);
    CHECK_EQ(sigil_buf_len(&plain), 0);
    sigil_keyshare pub;
    REQUIRE(sigil_keyshare_public(&ks[1], &pub) == SIGIL_OK);
    CHECK_EQ(sigil_keyshare_serialize(&pub, &plain), SIGIL_OK); /* no secret: fine */
    REQUIRE(sigil_buf_init(&tiny, 100, SIGIL_BUF_SECRET) == SIGIL_OK);
    CHECK_EQ(sigil_keyshare_serialize(&ks[1], &tiny), SIGIL_E_TOO_LARGE);
    CHECK_EQ(sigil_buf_len(&tiny), 0);

    sigil_keyshare_free(&pub);
    sigil_frost_package_free(p);
    sigil_frost_nonce_free(n0);
    sigil_frost_nonce_free(n1);
    sigil_buf_free(&small);
    sigil_buf_free(&comm[0]);
    sigil_buf_free(&comm[1]);
    sigil_buf_free(&share);
    sigil_buf_free(&plain);
    sigil_buf_free(&tiny);
    for (int i = 0; i < 3; i++)
        sigil_keyshare_free(&ks[i]);
}

static void dkg_outputs(sigil_frost_suite s)
{
    const sigil_group *g = sigil_frost_group(s);
    enum { N = 3 };
    sigil_scalar ids[N];
    uint32_t culprit;
    random_ids(g, ids, N);
    dkg_run r;
    dkg_run_init(&r, s, 2, N, ids);
    for (uint32_t i = 0; i < N; i++)
        REQUIRE(sigil_dkg_round1(r.d[i], NULL, NULL, &r.r1[i]) == SIGIL_OK);

    /* shares into ordinary memory: refused, and the state stays usable */
    sigil_buf plain[N];
    for (uint32_t j = 0; j < N; j++)
        REQUIRE(sigil_buf_init(&plain[j], 256, 0) == SIGIL_OK);
    CHECK_EQ(sigil_dkg_round2(r.d[0], r.r1, plain, &culprit), SIGIL_E_INVALID);
    for (uint32_t j = 0; j < N; j++)
        CHECK_EQ(sigil_buf_len(&plain[j]), 0);

    /* the last recipient's buffer is too small: no share is left behind */
    sigil_buf out[N];
    for (uint32_t j = 0; j < N; j++)
        REQUIRE(sigil_buf_init(&out[j], j == N - 1 ? 40 : 256, SIGIL_BUF_SECRET) == SIGIL_OK);
    CHECK_EQ(sigil_dkg_round2(r.d[1], r.r1, out, &culprit), SIGIL_E_TOO_LARGE);
    for (uint32_t j = 0; j < N; j++)
        CHECK_EQ(sigil_buf_len(&out[j]), 0);

    /* party 0 (refused above) and party 2 go on normally */
    CHECK_EQ(sigil_dkg_round2(r.d[0], r.r1, &r.sh[0], &culprit), SIGIL_OK);
    CHECK_EQ(sigil_dkg_round2(r.d[2], r.r1, &r.sh[2 * N], &culprit), SIGIL_OK);

    /* round 3 with too small an output: nothing half-written. Party 2 got
     * no share from the failed party 1, so give it a fresh DKG instead. */
    dkg_run q;
    dkg_run_init(&q, s, 2, N, ids);
    for (uint32_t i = 0; i < N; i++)
        REQUIRE(sigil_dkg_round1(q.d[i], NULL, NULL, &q.r1[i]) == SIGIL_OK);
    for (uint32_t i = 0; i < N; i++)
        REQUIRE(sigil_dkg_round2(q.d[i], q.r1, &q.sh[(size_t)i * N], &culprit) == SIGIL_OK);
    sigil_buf inbox[N], conf;
    REQUIRE(sigil_buf_init(&conf, 60, 0) == SIGIL_OK);
    dkg_inbox(&q, 0, inbox);
    CHECK_EQ(sigil_dkg_round3(q.d[0], inbox, &conf, &culprit), SIGIL_E_TOO_LARGE);
    CHECK_EQ(sigil_buf_len(&conf), 0);

    sigil_buf_free(&conf);
    for (uint32_t j = 0; j < N; j++) {
        sigil_buf_free(&plain[j]);
        sigil_buf_free(&out[j]);
    }
    dkg_run_free(&q);
    dkg_run_free(&r);
}

static void buf_truncate(void)
{
    sigil_buf b, v;
    REQUIRE(sigil_buf_init(&b, 64, SIGIL_BUF_SECRET) == SIGIL_OK);
    REQUIRE(sigil_buf_put(&b, "abcdef", 6) == SIGIL_OK);
    CHECK_EQ(sigil_buf_truncate(&b, 7), SIGIL_E_INVALID);
    CHECK_EQ(sigil_buf_truncate(&b, 2), SIGIL_OK);
    CHECK_EQ(sigil_buf_len(&b), 2);
    CHECK(b.data[2] == 0 && b.data[5] == 0); /* the cut bytes are zeroized */
    CHECK(memcmp(sigil_buf_ptr(&b), "ab", 2) == 0);
    uint8_t x[2];
    REQUIRE(sigil_buf_get(&b, x, 2) == SIGIL_OK);
    CHECK_EQ(sigil_buf_truncate(&b, 1), SIGIL_OK); /* read offset follows */
    CHECK_EQ(sigil_buf_len(&b), 0);
    CHECK_EQ(sigil_buf_truncate(&b, 0), SIGIL_OK);
    sigil_buf_view(&v, (const uint8_t *)"xy", 2);
    CHECK_EQ(sigil_buf_truncate(&v, 1), SIGIL_E_INVALID);
    CHECK_EQ(sigil_buf_truncate(NULL, 0), SIGIL_E_INVALID);
    sigil_buf_free(&b);
}

int main(void)
{
    REQUIRE(sigil_mpc_init() == SIGIL_OK);
    buf_truncate();
    for (int i = 0; i < 3; i++) {
        nonce_double_free(all_suites[i]);
        no_half_written_frost(all_suites[i]);
        dkg_outputs(all_suites[i]);
    }
    return check_done();
}
