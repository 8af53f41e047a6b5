/* DKLs23 ECDSA against a misbehaving party or relay: tampering with every
 * field of every message (commitment, decommitment, multiplication
 * messages in both directions, Gamma values, psi, online shares), and
 * replayed, reordered, duplicated, truncated, oversized, misaddressed and
 * cross-session envelopes. Each must abort the session with the right
 * SIGIL_E_* code and name the party the bad message came from; after an
 * abort the session refuses further calls. */
#include "ecdsa_harness.h"

#define HDR 42 /* envelope header: 1 + 1 + 32 + 2 + 2 + 4 */
/* PRESIGN2 payload: echo 32 | R 33 | salt 32 | psi 32 | Gu 33 | Gv 33 |
 * mult msg 2 */
#define P2_ECHO 0
#define P2_R 32
#define P2_SALT 65
#define P2_PSI 97
#define P2_GU 129
#define P2_GV 162
#define P2_MULT 195

#define LAST ((size_t)-1) /* FLIP offset: the last byte */

enum { FLIP, TRUNC, EXTEND, BIGLEN, REPLACE, SID, RCPT, TYPE, SENDER };

typedef struct {
    int type;
    uint16_t from, to;
    int action;
    size_t off;
    sigil_buf *replacement;
    int hits;
    sigil_buf *capture; /* if set: copy the matching message here */
} tamper;

static void tamper_cb(int type, uint16_t from, uint16_t to, sigil_buf *b, void *arg)
{
    tamper *t = arg;
    if (type != t->type || from != t->from || (to != t->to && type != SIGIL_ECDSA_MSG_SIGN))
        return;
    t->hits++;
    if (t->capture) {
        sigil_buf_reset(t->capture);
        REQUIRE(sigil_buf_put(t->capture, b->data, b->size) == SIGIL_OK);
        return;
    }
    switch (t->action) {
    case FLIP:
        if (t->off == LAST) {
            b->data[b->size - 1] ^= 0x01;
            break;
        }
        REQUIRE(t->off < b->size);
        b->data[t->off] ^= 0x01;
        break;
    case TRUNC:
        b->size -= 1;
        break;
    case EXTEND:
        REQUIRE(sigil_buf_put_u8(b, 0) == SIGIL_OK);
        break;
    case BIGLEN:
        b->data[38] = 0x7f;
        break;
    case REPLACE:
        sigil_buf_reset(b);
        REQUIRE(sigil_buf_put(b, t->replacement->data, t->replacement->size) == SIGIL_OK);
        break;
    case SID:
        b->data[2 + 7] ^= 0x80;
        break;
    case RCPT:
        b->data[37] ^= 0x03;
        break;
    case TYPE:
        b->data[1] = b->data[1] == SIGIL_ECDSA_MSG_PRESIGN1 ? SIGIL_ECDSA_MSG_PRESIGN2
                                                            : SIGIL_ECDSA_MSG_PRESIGN1;
        break;
    case SENDER:
        b->data[35] ^= 0x03;
        break;
    }
}

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

static const uint16_t S3[3] = {1, 2, 3};

/* One presign + sign over signers {1,2,3} of a 2-of-3 key with tampering.
 * Reports where it stopped. */
typedef struct {
    int presign_rc, sign_rc;
    uint16_t reporter, culprit, sign_culprit;
} outcome;

static outcome attempt(tamper *t)
{
    outcome o = {0};
    sigil_ecdsa_presig *ps[HN];
    uint8_t sid[32], digest[32], sig[64];
    int recid;
    randombytes_buf(sid, 32);
    randombytes_buf(digest, 32);
    o.presign_rc = run_presign(shares, S3, 3, sid, ps, tamper_cb, t, &o.reporter, &o.culprit);
    if (o.presign_rc != SIGIL_OK)
        return o;
    o.sign_rc = run_sign(ps, 3, digest, sig, &recid, tamper_cb, t, &o.sign_culprit);
    if (o.sign_rc == SIGIL_OK) {
        uint8_t pub[33];
        sigil_ecdsa_share_pubkey(shares[0], pub);
        CHECK(openssl_verify(pub, digest, sig));
    } else {
        CHECK(sodium_is_zero(sig, 64));
    }
    for (int i = 0; i < 3; i++)
        sigil_ecdsa_presig_free(ps[i]);
    return o;
}

/* tampering by party 2 with a message to party 1 must make party 1 abort
 * naming party 2 */
static void expect_blame(const char *what, int type, int action, size_t off, int want_rc)
{
    tamper t = {type, 2, 1, action, off, NULL, 0, NULL};
    outcome o = attempt(&t);
    CHECK(t.hits == 1);
    if (o.presign_rc == SIGIL_OK || o.reporter != 1 || o.culprit != 2 ||
        (want_rc && o.presign_rc != want_rc))
        fprintf(stderr, "%s: rc %s reporter %u culprit %u\n", what, sigil_errname(o.presign_rc),
                o.reporter, o.culprit);
    CHECK(o.presign_rc != SIGIL_OK);
    CHECK_EQ(o.reporter, 1);
    CHECK_EQ(o.culprit, 2);
    if (want_rc)
        CHECK_EQ(o.presign_rc, want_rc);
}

static void test_field_tampering(void)
{
    fresh_key(2, 3);
    /* honest baseline */
    {
        tamper none = {0, 0, 0, 0, 0, NULL, 0, NULL};
        outcome o = attempt(&none);
        CHECK_EQ(o.presign_rc, SIGIL_OK);
        CHECK_EQ(o.sign_rc, SIGIL_OK);
    }
    /* round 1: the commitment (caught at decommitment) */
    expect_blame("commitment", SIGIL_ECDSA_MSG_PRESIGN1, FLIP, HDR + 5, SIGIL_E_CHECK);
    /* round 2: the echo of the round-1 commitments (equivocation check) */
    expect_blame("echo", SIGIL_ECDSA_MSG_PRESIGN2, FLIP, HDR + P2_ECHO + 9, SIGIL_E_MISMATCH);
    /* round 2: decommitment R and salt */
    expect_blame("decommit R", SIGIL_ECDSA_MSG_PRESIGN2, FLIP, HDR + P2_R + 20, 0);
    expect_blame("decommit salt", SIGIL_ECDSA_MSG_PRESIGN2, FLIP, HDR + P2_SALT + 3, SIGIL_E_CHECK);
    /* round 2: Gamma^u, Gamma^v (pairwise output checks) */
    expect_blame("Gamma u", SIGIL_ECDSA_MSG_PRESIGN2, FLIP, HDR + P2_GU + 30, 0);
    expect_blame("Gamma v", SIGIL_ECDSA_MSG_PRESIGN2, FLIP, HDR + P2_GV + 30, 0);
    /* round 2: Alice's multiplication message: gamma, u, rt, OT corrections */
    expect_blame("mult tag", SIGIL_ECDSA_MSG_PRESIGN2, FLIP, HDR + P2_MULT, SIGIL_E_VERSION);
    expect_blame("mult gamma", SIGIL_ECDSA_MSG_PRESIGN2, FLIP, HDR + P2_MULT + 40, 0);
    expect_blame("mult u", SIGIL_ECDSA_MSG_PRESIGN2, FLIP, HDR + P2_MULT + 80, 0);
    expect_blame("mult rt", SIGIL_ECDSA_MSG_PRESIGN2, FLIP, HDR + P2_MULT + 120, SIGIL_E_CHECK);
    for (size_t off = 200; off < 40000; off += 9973)
        expect_blame("mult OT msg2", SIGIL_ECDSA_MSG_PRESIGN2, FLIP, HDR + P2_MULT + off, 0);
    /* round 1: Bob's OT extension message: caught by Alice's extension
     * check, which burns her sender state: fresh key for each */
    for (size_t off = 10; off < 6000; off += 1999) {
        fresh_key(2, 3);
        expect_blame("mult OT msg1", SIGIL_ECDSA_MSG_PRESIGN1, FLIP, HDR + 32 + off, 0);
    }
    fresh_key(2, 3);
    /* psi is not covered by a pairwise check: a tampered psi makes the
     * signature invalid, which the combiner detects (DKLs23 does not
     * attribute it); nothing invalid is released */
    {
        tamper t = {SIGIL_ECDSA_MSG_PRESIGN2, 2, 1, FLIP, HDR + P2_PSI + 31, NULL, 0, NULL};
        outcome o = attempt(&t);
        CHECK_EQ(o.presign_rc, SIGIL_OK);
        CHECK_EQ(o.sign_rc, SIGIL_E_SIGNATURE);
    }
    /* online share w or u tampered: signature check fails, nothing out */
    {
        tamper t = {SIGIL_ECDSA_MSG_SIGN, 2, 0, FLIP, HDR + 31, NULL, 0, NULL};
        outcome o = attempt(&t);
        CHECK_EQ(o.sign_rc, SIGIL_E_SIGNATURE);
        tamper t2 = {SIGIL_ECDSA_MSG_SIGN, 3, 0, FLIP, HDR + 63, NULL, 0, NULL};
        o = attempt(&t2);
        CHECK_EQ(o.sign_rc, SIGIL_E_SIGNATURE);
        /* a non-canonical scalar is a decoding error naming the sender */
        tamper t3 = {SIGIL_ECDSA_MSG_SIGN, 3, 0, TRUNC, 0, NULL, 0, NULL};
        o = attempt(&t3);
        CHECK(o.sign_rc != SIGIL_OK);
        CHECK_EQ(o.sign_culprit, 3);
    }
}

static void test_envelopes(void)
{
    fresh_key(2, 3);
    static const int types[2] = {SIGIL_ECDSA_MSG_PRESIGN1, SIGIL_ECDSA_MSG_PRESIGN2};
    for (int i = 0; i < 2; i++) {
        int ty = types[i];
        expect_blame("truncated", ty, TRUNC, 0, SIGIL_E_TRUNCATED);
        expect_blame("oversized", ty, EXTEND, 0, SIGIL_E_TRAILING);
        expect_blame("huge length", ty, BIGLEN, 0, SIGIL_E_TOO_LARGE);
        expect_blame("cross-session", ty, SID, 0, SIGIL_E_SESSION);
        expect_blame("misaddressed", ty, RCPT, 0, SIGIL_E_PARTICIPANT);
        expect_blame("reordered type", ty, TYPE, 0, SIGIL_E_STATE);
        expect_blame("wrong sender", ty, SENDER, 0, SIGIL_E_PARTICIPANT);
        expect_blame("version", ty, FLIP, 0, SIGIL_E_VERSION);
    }
    /* replay of a message captured from an earlier session */
    for (int i = 0; i < 2; i++) {
        sigil_buf old;
        REQUIRE(sigil_buf_init(&old, HMAX, 0) == SIGIL_OK);
        tamper cap = {types[i], 2, 1, 0, 0, NULL, 0, &old};
        outcome o = attempt(&cap);
        CHECK_EQ(o.presign_rc, SIGIL_OK);
        tamper rep = {types[i], 2, 1, REPLACE, 0, &old, 0, NULL};
        o = attempt(&rep);
        CHECK_EQ(o.presign_rc, SIGIL_E_SESSION);
        CHECK_EQ(o.reporter, 1);
        CHECK_EQ(o.culprit, 2);
        sigil_buf_free(&old);
    }
    /* a party relaying another party's message as its own (duplicate):
     * the message in slot "from 3" is the one from 2 */
    {
        sigil_buf from2;
        REQUIRE(sigil_buf_init(&from2, HMAX, 0) == SIGIL_OK);
        tamper cap = {SIGIL_ECDSA_MSG_PRESIGN1, 2, 1, 0, 0, NULL, 0, &from2};
        /* capture and replace in the same session: first capture 2->1,
         * then overwrite 3->1 with it (route visits sender 2 before 3) */
        tamper_fn f = tamper_cb;
        (void)f;
        sigil_ecdsa_presign *st[3];
        uint8_t sid[32];
        randombytes_buf(sid, 32);
        static sigil_buf out[HN][HN], in[HN][HN];
        bufs_init(out, 3);
        bufs_init(in, 3);
        for (int k = 0; k < 3; k++) {
            REQUIRE(sigil_ecdsa_presign_new(&st[k], shares[k], sid, S3, 3) == SIGIL_OK);
            REQUIRE(sigil_ecdsa_presign_round1(st[k], out[k]) == SIGIL_OK);
        }
        route(out, in, S3, 3, SIGIL_ECDSA_MSG_PRESIGN1, tamper_cb, &cap);
        bufs_reset(out, 3);
        /* party 1: in[0][0] from 2, in[0][1] from 3 -> duplicate of 2's */
        sigil_buf_reset(&in[0][1]);
        REQUIRE(sigil_buf_put(&in[0][1], from2.data, from2.size) == SIGIL_OK);
        uint16_t cul = 0;
        CHECK_EQ(sigil_ecdsa_presign_round2(st[0], in[0], out[0], &cul), SIGIL_E_PARTICIPANT);
        CHECK_EQ(cul, 3);
        CHECK_EQ(out[0][0].size, 0);
        /* the session is aborted: it refuses to go on */
        sigil_ecdsa_presig *ps;
        CHECK_EQ(sigil_ecdsa_presign_round2(st[0], in[0], out[0], &cul), SIGIL_E_STATE);
        CHECK_EQ(sigil_ecdsa_presign_finish(st[0], in[0], &ps, &cul), SIGIL_E_STATE);
        for (int k = 0; k < 3; k++)
            sigil_ecdsa_presign_free(st[k]);
        bufs_free(out, 3);
        bufs_free(in, 3);
        sigil_buf_free(&from2);
    }
    /* online shares: replay from another session, wrong type */
    {
        sigil_buf old;
        REQUIRE(sigil_buf_init(&old, HMAX, 0) == SIGIL_OK);
        tamper cap = {SIGIL_ECDSA_MSG_SIGN, 2, 0, 0, 0, NULL, 0, &old};
        outcome o = attempt(&cap);
        CHECK_EQ(o.sign_rc, SIGIL_OK);
        tamper rep = {SIGIL_ECDSA_MSG_SIGN, 2, 0, REPLACE, 0, &old, 0, NULL};
        o = attempt(&rep);
        CHECK_EQ(o.sign_rc, SIGIL_E_SESSION);
        CHECK_EQ(o.sign_culprit, 2);
        sigil_buf_free(&old);
    }
}

/* setup messages: tampering names the peer; a key-hash mismatch too */
static void test_setup_tampering(void)
{
    sigil_ecdsa_keyshare *ks[HN];
    sigil_ecdsa_share *sh[HN] = {0};
    uint8_t sk[32];
    static const int types[3] = {SIGIL_ECDSA_MSG_SETUP1, SIGIL_ECDSA_MSG_SETUP2,
                                 SIGIL_ECDSA_MSG_SETUP3};
    static const size_t offs[] = {HDR + 3, HDR + 40, LAST};
    do
        randombytes_buf(sk, 32);
    while (sigil_ecdsa_dealer_split(ks, sk, 2, 3) != SIGIL_OK);
    for (int i = 0; i < 3; i++)
        for (size_t o = 0; o < sizeof offs / sizeof offs[0]; o++) {
            tamper t = {types[i], 3, 2, FLIP, offs[o], NULL, 0, NULL};
            uint16_t rep, cul;
            int rc = run_setup(ks, 3, sh, tamper_cb, &t, &rep, &cul);
            if (rc == SIGIL_OK) {
                /* only the unused half of a key-confirmation tag may be
                 * flipped without effect (the OT sender checks, per base
                 * OT, the tag for its own Delta bit only, so whether a flip
                 * is noticed depends on that random bit); the result must
                 * be a working key */
                CHECK(types[i] == SIGIL_ECDSA_MSG_SETUP3 && offs[o] != HDR + 3);
                sigil_ecdsa_presig *ps[HN];
                uint8_t sid[32], d[32], sig[64];
                int recid;
                uint16_t cu2;
                randombytes_buf(sid, 32);
                randombytes_buf(d, 32);
                CHECK_EQ(run_presign(sh, S3, 3, sid, ps, NULL, NULL, &rep, &cu2), SIGIL_OK);
                CHECK_EQ(run_sign(ps, 3, d, sig, &recid, NULL, NULL, &cu2), SIGIL_OK);
                for (int k = 0; k < 3; k++)
                    sigil_ecdsa_presig_free(ps[k]);
            } else if (rc == SIGIL_E_CONFIRM && rep == 3) {
                /* a failed base-OT key confirmation is detected by the
                 * sender side and names the pair (3, 2): the sender cannot
                 * tell whether its peer or the relay broke it */
                CHECK_EQ(cul, 2);
            } else {
                CHECK_EQ(rep, 2);
                CHECK_EQ(cul, 3);
            }
            for (int k = 0; k < 3; k++) {
                sigil_ecdsa_share_free(sh[k]);
                sh[k] = NULL;
            }
            if (i == 0 && o == 0)
                CHECK_EQ(rc, SIGIL_E_MISMATCH); /* the key hash */
        }
    /* parties holding different keys are told so */
    {
        sigil_ecdsa_keyshare *other[HN];
        uint8_t sk2[32];
        do
            randombytes_buf(sk2, 32);
        while (sigil_ecdsa_dealer_split(other, sk2, 2, 3) != SIGIL_OK);
        sigil_ecdsa_keyshare *mixed[3] = {ks[0], ks[1], other[2]};
        uint16_t rep, cul;
        CHECK_EQ(run_setup(mixed, 3, sh, NULL, NULL, &rep, &cul), SIGIL_E_MISMATCH);
        CHECK_EQ(rep, 1);
        CHECK_EQ(cul, 3);
        for (int i = 0; i < 3; i++)
            sigil_ecdsa_keyshare_free(other[i]);
    }
    for (int i = 0; i < 3; i++)
        sigil_ecdsa_keyshare_free(ks[i]);
}

/* A party whose multiplication input is not its key share (here: a share
 * x2 + 1 with a matching X2' it believes in; every message it sends is
 * self-consistent) is caught by the Gamma^v check of the others and named. */
static void test_wrong_share(void)
{
    const sigil_group *g = sigil_group_get(SIGIL_GROUP_SECP256K1);
    fresh_key(2, 3);
    sigil_buf enc;
    REQUIRE(sigil_buf_init(&enc, 1 << 20, SIGIL_BUF_SECRET) == SIGIL_OK);
    REQUIRE(sigil_ecdsa_share_encode(shares[1], &enc) == SIGIL_OK);
    /* layout: "DKS"1 | id | t | n | x (offset 10) | Y (42) | X_1 (75) | X_2 (108) */
    sigil_scalar x, one;
    sigil_point X, Gp;
    REQUIRE(sigil_scalar_parse(g, &x, enc.data + 10) == SIGIL_OK);
    sigil_scalar_set_u64(g, &one, 1);
    sigil_scalar_add(g, &x, &x, &one);
    REQUIRE(sigil_point_parse(g, &X, enc.data + 108, 33) == SIGIL_OK);
    REQUIRE(sigil_point_base_mul(g, &Gp, &one) == SIGIL_OK);
    REQUIRE(sigil_point_add(g, &X, &X, &Gp) == SIGIL_OK);
    memcpy(enc.data + 10, x.v, 32);
    sigil_point_serialize(g, enc.data + 108, &X);
    sigil_ecdsa_share *bad;
    REQUIRE(sigil_ecdsa_share_decode(&bad, enc.data, enc.size) == SIGIL_OK);
    sigil_ecdsa_share *honest2 = shares[1];
    shares[1] = bad;
    static const uint16_t S12[2] = {1, 2};
    sigil_ecdsa_presig *ps[HN];
    uint8_t sid[32];
    uint16_t rep, cul;
    randombytes_buf(sid, 32);
    int rc = run_presign(shares, S12, 2, sid, ps, NULL, NULL, &rep, &cul);
    CHECK_EQ(rc, SIGIL_E_CHECK);
    CHECK_EQ(rep, 1);
    CHECK_EQ(cul, 2);
    shares[1] = honest2;
    sigil_ecdsa_share_free(bad);
    sigil_buf_free(&enc);
    sigil_scalar_clear(&x);
}

int main(void)
{
    REQUIRE(sigil_mpc_init() == SIGIL_OK);
    test_field_tampering();
    test_envelopes();
    test_setup_tampering();
    test_wrong_share();
    for (unsigned i = 0; i < HN; i++)
        sigil_ecdsa_share_free(shares[i]);
    return check_done();
}
