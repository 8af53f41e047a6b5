/* DKG: honest runs with full-scalar identifiers (shares interpolate to the
 * group key), and every misbehaviour named: bad proof of knowledge, bad
 * share, wrong sender, truncated / oversized / non-canonical / identity
 * encodings, equivocation caught by the confirmation round, a forged
 * verifying share with a valid confirmation signature, calls out of order,
 * bad parameters; the trusted-dealer split. */
#include "check.h"
#include "frost_util.h"
#include "sigil/hash.h"

static const char *CTX = "FROST-ED25519-SHA512-v1";

/* sum lambda_i * s_i over the first t parties (by index list) */
static void interpolate(const sigil_group *g, const sigil_keyshare *ks, const uint32_t *who, uint32_t t,
                        sigil_scalar *out)
{
    sigil_scalar acc, num, den, tmp;
    memset(&acc, 0, sizeof(acc));
    for (uint32_t a = 0; a < t; a++) {
        const sigil_scalar *xi = &ks[0].ids[who[a]];
        sigil_scalar_set_u64(g, &num, 1);
        sigil_scalar_set_u64(g, &den, 1);
        for (uint32_t b = 0; b < t; b++) {
            if (b == a)
                continue;
            const sigil_scalar *xj = &ks[0].ids[who[b]];
            sigil_scalar_mul(g, &num, &num, xj);
            sigil_scalar_sub(g, &tmp, xj, xi);
            sigil_scalar_mul(g, &den, &den, &tmp);
        }
        REQUIRE(sigil_scalar_inv(g, &den, &den) == SIGIL_OK);
        sigil_scalar_mul(g, &tmp, &num, &den);
        sigil_scalar_mul(g, &tmp, &tmp, ks[who[a]].secret);
        sigil_scalar_add(g, &acc, &acc, &tmp);
    }
    *out = acc;
}

static void honest(sigil_frost_suite s, uint32_t t, uint32_t n)
{
    const sigil_group *g = sigil_frost_group(s);
    sigil_scalar ids[16], x;
    sigil_keyshare ks[16];
    sigil_point P;
    random_ids(g, ids, n);
    dkg_all(s, t, n, ids, ks);
    for (uint32_t i = 0; i < n; i++) {
        CHECK(sigil_point_eq(g, &ks[i].group_pk, &ks[0].group_pk));
        for (uint32_t j = 0; j < n; j++)
            CHECK(sigil_point_eq(g, &ks[i].verifying[j], &ks[0].verifying[j]));
        REQUIRE(sigil_point_base_mul(g, &P, ks[i].secret) == SIGIL_OK);
        CHECK(sigil_point_eq(g, &P, &ks[i].verifying[i]));
        CHECK_EQ(ks[i].t, t);
        CHECK_EQ(ks[i].self, i);
    }
    /* any t shares interpolate to the group secret; t-1 do not */
    uint32_t who[16];
    for (uint32_t i = 0; i < n; i++)
        who[i] = n - 1 - i;
    interpolate(g, ks, who, t, &x);
    REQUIRE(sigil_point_base_mul(g, &P, &x) == SIGIL_OK);
    CHECK(sigil_point_eq(g, &P, &ks[0].group_pk));
    if (t > 1) {
        interpolate(g, ks, who, t - 1, &x);
        CHECK(sigil_point_base_mul(g, &P, &x) != SIGIL_OK || !sigil_point_eq(g, &P, &ks[0].group_pk));
    }
    for (uint32_t i = 0; i < n; i++)
        sigil_keyshare_free(&ks[i]);
}

/* Run rounds 1 and 2 honestly for everyone except as the test tampers. */
static void rounds12(dkg_run *r)
{
    uint32_t culprit;
    for (uint32_t i = 0; i < r->n; i++)
        REQUIRE(sigil_dkg_round1(r->d[i], NULL, NULL, &r->r1[i]) == SIGIL_OK);
    for (uint32_t i = 0; i < r->n; i++)
        REQUIRE(sigil_dkg_round2(r->d[i], r->r1, &r->sh[(size_t)i * r->n], &culprit) == SIGIL_OK);
}

static void bad_round1(sigil_frost_suite s)
{
    const sigil_group *g = sigil_frost_group(s);
    size_t pl = sigil_group_point_len(g);
    sigil_scalar ids[4];
    random_ids(g, ids, 4);
    /* each tampering of participant 2's broadcast, seen by participant 0 */
    for (int kind = 0; kind < 8; kind++) {
        dkg_run r;
        uint32_t culprit = 0;
        int want;
        dkg_run_init(&r, s, 3, 4, ids);
        for (uint32_t i = 0; i < 4; i++)
            REQUIRE(sigil_dkg_round1(r.d[i], NULL, NULL, &r.r1[i]) == SIGIL_OK);
        sigil_buf *m = &r.r1[2];
        size_t len = sigil_buf_len(m);
        uint8_t copy[512];
        memcpy(copy, sigil_buf_ptr(m), len);
        sigil_buf in[4];
        memcpy(in, r.r1, sizeof(in));
        switch (kind) {
        case 0: /* proof of knowledge: z changed */
            copy[len - 1 - (sigil_group_id_of(g) == SIGIL_GROUP_ED25519 ? 31 : 0)] ^= 1;
            want = SIGIL_E_PROOF;
            break;
        case 1: /* C_0 replaced by participant 1's C_0 (valid point, PoK no longer matches) */
            memcpy(copy + 33, sigil_buf_ptr(&r.r1[1]) + 33, pl);
            want = SIGIL_E_PROOF;
            break;
        case 2: /* truncated */
            len -= 1;
            want = SIGIL_E_TRUNCATED;
            break;
        case 3: /* oversized */
            copy[len++] = 0;
            want = SIGIL_E_TRAILING;
            break;
        case 4: /* wrong sender identifier */
            memcpy(copy + 1, ids[3].v, 32);
            want = SIGIL_E_PARTICIPANT;
            break;
        case 5: /* wrong message type */
            copy[0] = 0x02;
            want = SIGIL_E_VERSION;
            break;
        case 6: /* invalid point in the commitments */
            memset(copy + 33 + pl, 0xff, pl);
            want = SIGIL_E_POINT;
            break;
        default: /* non-canonical PoK scalar */
            memset(copy + len - 32, 0xff, 32);
            want = SIGIL_E_SCALAR;
            break;
        }
        sigil_buf_view(&in[2], copy, len);
        CHECK_EQ(sigil_dkg_round2(r.d[0], in, &r.sh[0], &culprit), want);
        CHECK_EQ(culprit, 2);
        /* the failed state refuses to go on */
        CHECK_EQ(sigil_dkg_round3(r.d[0], in, &r.conf[0], &culprit), SIGIL_E_STATE);
        CHECK_EQ(sigil_buf_len(&r.sh[1]), 0); /* no share was sent */
        dkg_run_free(&r);
    }
    /* identity commitment (only encodable in Ed25519) */
    if (sigil_group_id_of(g) == SIGIL_GROUP_ED25519) {
        dkg_run r;
        uint32_t culprit;
        dkg_run_init(&r, s, 3, 4, ids);
        for (uint32_t i = 0; i < 4; i++)
            REQUIRE(sigil_dkg_round1(r.d[i], NULL, NULL, &r.r1[i]) == SIGIL_OK);
        uint8_t copy[512];
        size_t len = sigil_buf_len(&r.r1[3]);
        memcpy(copy, sigil_buf_ptr(&r.r1[3]), len);
        memset(copy + 33 + 32, 0, 32);
        copy[33 + 32] = 1;
        sigil_buf in[4];
        memcpy(in, r.r1, sizeof(in));
        sigil_buf_view(&in[3], copy, len);
        CHECK_EQ(sigil_dkg_round2(r.d[1], in, &r.sh[4], &culprit), SIGIL_E_IDENTITY);
        CHECK_EQ(culprit, 3);
        dkg_run_free(&r);
    }
}

static void bad_share(sigil_frost_suite s)
{
    const sigil_group *g = sigil_frost_group(s);
    sigil_scalar ids[4];
    random_ids(g, ids, 4);
    for (int kind = 0; kind < 6; kind++) {
        dkg_run r;
        uint32_t culprit = 0;
        int want;
        dkg_run_init(&r, s, 3, 4, ids);
        rounds12(&r);
        sigil_buf inbox[4];
        dkg_inbox(&r, 0, inbox);
        uint8_t copy[200];
        size_t len = sigil_buf_len(&inbox[3]);
        memcpy(copy, sigil_buf_ptr(&inbox[3]), len);
        switch (kind) {
        case 0: /* share value changed: inconsistent with participant 3's commitments */
            copy[len - 1 - (sigil_group_id_of(g) == SIGIL_GROUP_ED25519 ? 31 : 0)] ^= 1;
            want = SIGIL_E_SHARE;
            break;
        case 1: /* the share meant for participant 1 */
            memcpy(copy, sigil_buf_ptr(&r.sh[3 * 4 + 1]), len);
            want = SIGIL_E_PARTICIPANT;
            break;
        case 2: /* zero share: canonical, but wrong */
            memset(copy + 65, 0, 32);
            want = SIGIL_E_SHARE;
            break;
        case 3:
            memset(copy + 65, 0xff, 32);
            want = SIGIL_E_SCALAR;
            break;
        case 4:
            len = 96;
            want = SIGIL_E_TRUNCATED;
            break;
        default:
            copy[len++] = 7;
            want = SIGIL_E_TRAILING;
            break;
        }
        sigil_buf_view(&inbox[3], copy, len);
        CHECK_EQ(sigil_dkg_round3(r.d[0], inbox, &r.conf[0], &culprit), want);
        CHECK_EQ(culprit, 3);
        CHECK_EQ(sigil_buf_len(&r.conf[0]), 0);
        dkg_run_free(&r);
    }
}

static void bad_confirmation(sigil_frost_suite s)
{
    const sigil_group *g = sigil_frost_group(s);
    size_t pl = sigil_group_point_len(g);
    sigil_scalar ids[4];
    random_ids(g, ids, 4);
    for (int kind = 0; kind < 5; kind++) {
        dkg_run r;
        uint32_t culprit = 0;
        sigil_keyshare ks;
        int want = SIGIL_E_CONFIRM;
        dkg_run_init(&r, s, 2, 4, ids);
        rounds12(&r);
        for (uint32_t i = 0; i < 4; i++) {
            sigil_buf inbox[4];
            dkg_inbox(&r, i, inbox);
            REQUIRE(sigil_dkg_round3(r.d[i], inbox, &r.conf[i], &culprit) == SIGIL_OK);
        }
        uint8_t copy[300];
        size_t len = sigil_buf_len(&r.conf[2]);
        memcpy(copy, sigil_buf_ptr(&r.conf[2]), len);
        switch (kind) {
        case 0: /* another transcript hash */
            copy[33] ^= 1;
            break;
        case 1: /* signature scalar changed */
            copy[len - 1 - (sigil_group_id_of(g) == SIGIL_GROUP_ED25519 ? 31 : 0)] ^= 1;
            break;
        case 2: { /* a verifying share the commitments do not give, with a valid signature */
            sigil_scalar x, k, c, z;
            sigil_point Y, R;
            REQUIRE(sigil_scalar_random(g, &x) == SIGIL_OK);
            REQUIRE(sigil_scalar_random(g, &k) == SIGIL_OK);
            REQUIRE(sigil_point_base_mul(g, &Y, &x) == SIGIL_OK);
            REQUIRE(sigil_point_base_mul(g, &R, &k) == SIGIL_OK);
            sigil_point_serialize(g, copy + 65, &Y);
            sigil_point_serialize(g, copy + 65 + pl, &R);
            sigil_iov parts[4] = {{copy + 1, 32}, {copy + 65, pl}, {copy + 65 + pl, pl}, {copy + 33, 32}};
            REQUIRE(sigil_hash_to_scalar(g, sigil_frost_context(s), "dkg-confirm", parts, 4, &c) == SIGIL_OK);
            sigil_scalar_mul(g, &z, &x, &c);
            sigil_scalar_add(g, &z, &z, &k);
            sigil_scalar_serialize(g, copy + 65 + 2 * pl, &z);
            break;
        }
        case 3:
            len -= 5;
            want = SIGIL_E_TRUNCATED;
            break;
        default:
            copy[0] = 0x09;
            want = SIGIL_E_VERSION;
            break;
        }
        sigil_buf in[4];
        memcpy(in, r.conf, sizeof(in));
        sigil_buf_view(&in[2], copy, len);
        CHECK_EQ(sigil_dkg_finish(r.d[0], in, &ks, &culprit), want);
        CHECK_EQ(culprit, 2);
        CHECK(ks.secret == NULL && ks.ids == NULL);
        /* honest confirmations at another participant still finish */
        CHECK_EQ(sigil_dkg_finish(r.d[1], r.conf, &ks, &culprit), SIGIL_OK);
        sigil_keyshare_free(&ks);
        dkg_run_free(&r);
    }
}

/* Participant 3 equivocates: a different (valid) round-1 broadcast and
 * matching shares for participant 0. Round 3 passes everywhere, but the
 * confirmations disagree and nobody gets a key. */
static void equivocation(sigil_frost_suite s)
{
    const sigil_group *g = sigil_frost_group(s);
    sigil_scalar ids[4];
    random_ids(g, ids, 4);
    dkg_run r;
    uint32_t culprit;
    dkg_run_init(&r, s, 2, 4, ids);
    sigil_dkg *alt;
    sigil_dkg_params p = {g, sigil_frost_context(s), 2, 4, ids, 3};
    REQUIRE(sigil_dkg_new(&p, &alt) == SIGIL_OK);
    sigil_buf alt_r1, alt_sh[4];
    REQUIRE(sigil_buf_init(&alt_r1, 4096, 0) == SIGIL_OK);
    for (int j = 0; j < 4; j++)
        REQUIRE(sigil_buf_init(&alt_sh[j], 256, SIGIL_BUF_SECRET) == SIGIL_OK);
    for (uint32_t i = 0; i < 4; i++)
        REQUIRE(sigil_dkg_round1(r.d[i], NULL, NULL, &r.r1[i]) == SIGIL_OK);
    REQUIRE(sigil_dkg_round1(alt, NULL, NULL, &alt_r1) == SIGIL_OK);
    sigil_buf view0[4];
    memcpy(view0, r.r1, sizeof(view0));
    view0[3] = alt_r1;
    REQUIRE(sigil_dkg_round2(alt, r.r1, alt_sh, &culprit) == SIGIL_OK);
    for (uint32_t i = 0; i < 4; i++)
        REQUIRE(sigil_dkg_round2(r.d[i], i == 0 ? view0 : r.r1, &r.sh[(size_t)i * 4], &culprit) == SIGIL_OK);
    for (uint32_t i = 0; i < 4; i++) {
        sigil_buf inbox[4];
        dkg_inbox(&r, i, inbox);
        if (i == 0)
            inbox[3] = alt_sh[0];
        REQUIRE(sigil_dkg_round3(r.d[i], inbox, &r.conf[i], &culprit) == SIGIL_OK);
    }
    for (uint32_t i = 0; i < 4; i++) {
        sigil_keyshare ks;
        CHECK_EQ(sigil_dkg_finish(r.d[i], r.conf, &ks, &culprit), SIGIL_E_CONFIRM);
        CHECK(culprit != SIGIL_DKG_NOBODY);
        CHECK(ks.secret == NULL);
    }
    sigil_dkg_free(alt);
    sigil_buf_free(&alt_r1);
    for (int j = 0; j < 4; j++)
        sigil_buf_free(&alt_sh[j]);
    dkg_run_free(&r);
}

static void params_and_order(void)
{
    const sigil_group *g = sigil_group_get(SIGIL_GROUP_ED25519);
    sigil_scalar ids[3];
    sigil_dkg *d = NULL;
    random_ids(g, ids, 3);
    sigil_dkg_params p = {g, CTX, 2, 3, ids, 0};
    p.t = 4;
    CHECK_EQ(sigil_dkg_new(&p, &d), SIGIL_E_THRESHOLD);
    p.t = 0;
    CHECK_EQ(sigil_dkg_new(&p, &d), SIGIL_E_THRESHOLD);
    p.t = 1;
    p.n = 1;
    CHECK_EQ(sigil_dkg_new(&p, &d), SIGIL_E_THRESHOLD);
    p.n = 3;
    p.self = 3;
    CHECK_EQ(sigil_dkg_new(&p, &d), SIGIL_E_PARTICIPANT);
    p.self = 0;
    p.context = NULL;
    CHECK_EQ(sigil_dkg_new(&p, &d), SIGIL_E_INVALID);
    p.context = CTX;
    sigil_scalar saved = ids[1];
    memset(&ids[1], 0, sizeof(ids[1]));
    CHECK_EQ(sigil_dkg_new(&p, &d), SIGIL_E_ZERO);
    ids[1] = ids[2];
    CHECK_EQ(sigil_dkg_new(&p, &d), SIGIL_E_PARTICIPANT);
    ids[1] = saved;
    CHECK(d == NULL);
    REQUIRE(sigil_dkg_new(&p, &d) == SIGIL_OK);
    sigil_buf b[3], out;
    uint32_t culprit;
    sigil_keyshare ks;
    memset(b, 0, sizeof(b));
    REQUIRE(sigil_buf_init(&out, 4096, 0) == SIGIL_OK);
    CHECK_EQ(sigil_dkg_round2(d, b, b, &culprit), SIGIL_E_STATE);
    CHECK_EQ(sigil_dkg_round3(d, b, &out, &culprit), SIGIL_E_STATE);
    CHECK_EQ(sigil_dkg_finish(d, b, &ks, &culprit), SIGIL_E_STATE);
    /* zero constant term refused */
    sigil_scalar zc[2];
    memset(zc, 0, sizeof(zc));
    CHECK_EQ(sigil_dkg_round1(d, zc, NULL, &out), SIGIL_E_ZERO);
    CHECK_EQ(sigil_dkg_round1(d, NULL, NULL, &out), SIGIL_E_STATE);
    sigil_dkg_free(d);
    sigil_buf_free(&out);
}

static void dealer(void)
{
    for (int gi = 0; gi < 2; gi++) {
        const sigil_group *g = sigil_group_get(gi ? SIGIL_GROUP_SECP256K1 : SIGIL_GROUP_ED25519);
        sigil_scalar ids[5], secret, x, zero;
        sigil_keyshare ks[5];
        random_ids(g, ids, 5);
        REQUIRE(sigil_scalar_random(g, &secret) == SIGIL_OK);
        CHECK_EQ(sigil_dkg_split(g, &secret, 3, 5, ids, NULL, ks), SIGIL_OK);
        uint32_t who[3] = {4, 1, 2};
        interpolate(g, ks, who, 3, &x);
        CHECK(sigil_scalar_eq(&x, &secret));
        sigil_point P;
        REQUIRE(sigil_point_base_mul(g, &P, &secret) == SIGIL_OK);
        CHECK(sigil_point_eq(g, &P, &ks[3].group_pk));
        for (int i = 0; i < 5; i++)
            sigil_keyshare_free(&ks[i]);
        memset(&zero, 0, sizeof(zero));
        CHECK_EQ(sigil_dkg_split(g, &zero, 3, 5, ids, NULL, ks), SIGIL_E_ZERO);
        CHECK_EQ(sigil_dkg_split(g, &secret, 6, 5, ids, NULL, ks), SIGIL_E_THRESHOLD);
        ids[4] = ids[0];
        CHECK_EQ(sigil_dkg_split(g, &secret, 3, 5, ids, NULL, ks), SIGIL_E_PARTICIPANT);
    }
}

int main(void)
{
    REQUIRE(sigil_mpc_init() == SIGIL_OK);
    for (int i = 0; i < 2; i++) {
        sigil_frost_suite s = all_suites[i];
        honest(s, 2, 3);
        honest(s, 3, 5);
        honest(s, 5, 5);
        honest(s, 1, 2);
        bad_round1(s);
        bad_share(s);
        bad_confirmation(s);
        equivocation(s);
    }
    params_and_order();
    dealer();
    return check_done();
}
