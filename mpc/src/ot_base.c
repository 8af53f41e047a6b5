/* Pair setup: SIGIL_OT_KAPPA base OTs over secp256k1, batched.
 *
 * Roles inside the setup are those of the base OT, the reverse of the
 * extension: the extension RECEIVER is the base-OT sender (it ends with
 * both seeds k_{i,0}, k_{i,1}), the extension SENDER is the base-OT
 * receiver with choice bits Delta (it ends with k_{i,Delta_i}).
 *
 *   msg1 (ext receiver -> ext sender):  A = a*G, Schnorr proof (R, z) of a
 *   msg2 (ext sender -> ext receiver):  B_i = b_i*G + Delta_i*A, i < kappa
 *   keys: fp = H(H(msg1), msg2); k_{i,c} = H(fp, i, a*(B_i - c*A)) on one
 *         side, k_{i,Delta_i} = H(fp, i, b_i*A) on the other
 *   msg3 (ext receiver -> ext sender):  H(fp, i, k_{i,0}), H(fp, i, k_{i,1})
 *         the ext sender checks the one for its Delta_i (SIGIL_E_CONFIRM).
 * See docs/modules/mpc-ot.md for the choice of protocol and its assumptions. */
#include <string.h>

#include "ot_internal.h"
#include "sigil/err.h"

#define SETUP1_LEN (OT_HDR_LEN + 33 + 33 + 32)
#define SETUP2_LEN (OT_HDR_LEN + 33 * SIGIL_OT_KAPPA)
#define SETUP3_LEN (OT_HDR_LEN + 2 * OT_KBYTES * SIGIL_OT_KAPPA)

enum { ROLE_RECEIVER = 1, ROLE_SENDER = 2 };

struct sigil_ot_setup {
    int role;
    sigil_ot_party sender, receiver;
    uint8_t sidh[32];
    uint8_t m1h[32];                        /* digest of msg1 */
    sigil_scalar a;                         /* receiver: base-OT sender secret */
    sigil_point A;                          /* receiver */
    uint8_t fp[32];                         /* sender */
    uint8_t delta[OT_KBYTES];               /* sender */
    uint8_t seed[SIGIL_OT_KAPPA][OT_KBYTES]; /* sender */
};

static const sigil_group *secp(void)
{
    return sigil_group_get(SIGIL_GROUP_SECP256K1);
}

static void msg_digest(uint8_t out[32], const uint8_t *m, size_t n)
{
    ot_hash h;
    ot_hash_init(&h, "sigil/ot/v1/setup/msg1");
    ot_hash_put(&h, m, n);
    ot_hash_final(&h, out);
}

static void fingerprint(uint8_t out[32], const uint8_t m1h[32], const uint8_t *m2, size_t n)
{
    ot_hash h;
    ot_hash_init(&h, "sigil/ot/v1/setup/fingerprint");
    ot_hash_put(&h, m1h, 32);
    ot_hash_put(&h, m2, n);
    ot_hash_final(&h, out);
}

/* Seed k = H(fp, i, encoding of the Diffie-Hellman point). */
static void derive_seed(uint8_t out[OT_KBYTES], const uint8_t fp[32], uint32_t i, const sigil_point *dh)
{
    uint8_t enc[33], d[32];
    ot_hash h;
    sigil_point_serialize(secp(), enc, dh);
    ot_hash_init(&h, "sigil/ot/v1/setup/seed");
    ot_hash_put(&h, fp, 32);
    ot_hash_u32(&h, i);
    ot_hash_put(&h, enc, 33);
    ot_hash_final(&h, d);
    memcpy(out, d, OT_KBYTES);
    sodium_memzero(d, sizeof(d));
    sodium_memzero(enc, sizeof(enc));
}

static void confirm_tag(uint8_t out[OT_KBYTES], const uint8_t fp[32], uint32_t i, const uint8_t seed[OT_KBYTES])
{
    uint8_t d[32];
    ot_hash h;
    ot_hash_init(&h, "sigil/ot/v1/setup/confirm");
    ot_hash_put(&h, fp, 32);
    ot_hash_u32(&h, i);
    ot_hash_put(&h, seed, OT_KBYTES);
    ot_hash_final(&h, d);
    memcpy(out, d, OT_KBYTES);
}

static int pok_challenge(sigil_scalar *c, const uint8_t sidh[32], sigil_ot_party s, sigil_ot_party r,
                         const sigil_point *A, const sigil_point *R)
{
    uint8_t ea[33], er[33], d[32];
    ot_hash h;
    sigil_point_serialize(secp(), ea, A);
    sigil_point_serialize(secp(), er, R);
    ot_hash_init(&h, "sigil/ot/v1/setup/pok");
    ot_hash_put(&h, sidh, 32);
    ot_hash_u32(&h, s);
    ot_hash_u32(&h, r);
    ot_hash_put(&h, ea, 33);
    ot_hash_put(&h, er, 33);
    ot_hash_final(&h, d);
    return sigil_scalar_reduce(secp(), c, d, 32);
}

static int check_args(const uint8_t *sid, size_t sid_len, sigil_ot_party s, sigil_ot_party r)
{
    if (sid == NULL || sid_len == 0 || sid_len > SIGIL_OT_MAX_SID || s == r)
        return SIGIL_E_INVALID;
    if (secp() == NULL)
        return SIGIL_E_CRYPTO;
    return SIGIL_OK;
}

static int writable(const sigil_buf *b)
{
    return b != NULL && !(b->flags & SIGIL_BUF_READONLY);
}

void sigil_ot_setup_free(sigil_ot_setup *st)
{
    if (st)
        sodium_free(st); /* zeroizes */
}

int sigil_ot_setup_receiver_start(sigil_ot_setup **st, const uint8_t *sid, size_t sid_len,
                                  sigil_ot_party sender, sigil_ot_party receiver, sigil_buf *msg1)
{
    const sigil_group *g = secp();
    sigil_scalar k, c, z;
    sigil_point R;
    sigil_buf m;
    sigil_ot_setup *s;
    int rc;

    if (st == NULL || !writable(msg1))
        return SIGIL_E_INVALID;
    *st = NULL;
    if ((rc = check_args(sid, sid_len, sender, receiver)))
        return rc;
    if ((s = ot_secure_alloc(sizeof(*s))) == NULL)
        return SIGIL_E_NOMEM;
    s->role = ROLE_RECEIVER;
    s->sender = sender;
    s->receiver = receiver;
    ot_sid_digest(s->sidh, sid, sid_len);
    sigil_buf_init(&m, SETUP1_LEN, 0);

    /* A = a*G with a Schnorr proof of knowledge of a, bound to the session
     * and the ordered pair: z = k + c*a, c = H(sidh, s, r, A, R). */
    if ((rc = sigil_scalar_random(g, &s->a)) || (rc = sigil_point_base_mul(g, &s->A, &s->a)) ||
        (rc = sigil_scalar_random(g, &k)) || (rc = sigil_point_base_mul(g, &R, &k)) ||
        (rc = pok_challenge(&c, s->sidh, sender, receiver, &s->A, &R)))
        goto out;
    sigil_scalar_mul(g, &z, &c, &s->a);
    sigil_scalar_add(g, &z, &z, &k);
    if ((rc = ot_hdr_put(&m, OT_MSG_SETUP1, sender, receiver, s->sidh)) || (rc = sigil_point_put(g, &m, &s->A)) ||
        (rc = sigil_point_put(g, &m, &R)) || (rc = sigil_scalar_put(g, &m, &z)))
        goto out;
    msg_digest(s->m1h, m.data, m.size);
    if ((rc = sigil_buf_put(msg1, m.data, m.size)))
        goto out;
    *st = s;
    s = NULL;
out:
    sigil_scalar_clear(&k);
    sigil_scalar_clear(&z);
    sigil_buf_free(&m);
    sigil_ot_setup_free(s);
    return rc;
}

int sigil_ot_setup_sender_respond(sigil_ot_setup **st, const uint8_t *sid, size_t sid_len,
                                  sigil_ot_party sender, sigil_ot_party receiver,
                                  const uint8_t *msg1, size_t msg1_len, sigil_buf *msg2)
{
    const sigil_group *g = secp();
    sigil_ot_setup *s = NULL;
    sigil_point A, R, P, Q, lhs, rhs;
    sigil_scalar c, z, b;
    sigil_buf in, m;
    sigil_point *dh = NULL;
    uint8_t e0[33], e1[33], eb[33];
    int rc;

    if (st == NULL || !writable(msg2) || (msg1 == NULL && msg1_len > 0))
        return SIGIL_E_INVALID;
    *st = NULL;
    if ((rc = check_args(sid, sid_len, sender, receiver)))
        return rc;
    sigil_buf_init(&m, SETUP2_LEN, 0);
    if ((s = ot_secure_alloc(sizeof(*s))) == NULL || (dh = ot_secure_alloc(SIGIL_OT_KAPPA * sizeof(*dh))) == NULL) {
        rc = SIGIL_E_NOMEM;
        goto out;
    }
    s->role = ROLE_SENDER;
    s->sender = sender;
    s->receiver = receiver;
    ot_sid_digest(s->sidh, sid, sid_len);

    /* Parse and verify msg1 before any secret is drawn. */
    sigil_buf_view(&in, msg1, msg1_len);
    if ((rc = ot_hdr_get(&in, OT_MSG_SETUP1, sender, receiver, s->sidh)) || (rc = sigil_point_get(g, &in, &A)) ||
        (rc = sigil_point_get(g, &in, &R)) || (rc = sigil_scalar_get(g, &in, &z)) || (rc = sigil_buf_end(&in)))
        goto out;
    if ((rc = pok_challenge(&c, s->sidh, sender, receiver, &A, &R)))
        goto out;
    /* z*G == R + c*A (any failure, e.g. a zero z, is a bad proof) */
    if (sigil_point_base_mul(g, &lhs, &z) || sigil_point_mul(g, &rhs, &A, &c) ||
        sigil_point_add(g, &rhs, &rhs, &R) || !sigil_point_eq(g, &lhs, &rhs)) {
        rc = SIGIL_E_PROOF;
        goto out;
    }
    msg_digest(s->m1h, msg1, msg1_len);

    randombytes_buf(s->delta, sizeof(s->delta));
    if ((rc = ot_hdr_put(&m, OT_MSG_SETUP2, sender, receiver, s->sidh)))
        goto out;
    for (uint32_t i = 0; i < SIGIL_OT_KAPPA; i++) {
        /* B_i = b*G + Delta_i*A, both candidates computed, selected in
         * constant time; the DH point b*A is k_{i,Delta_i}'s input. */
        if ((rc = sigil_scalar_random(g, &b)) || (rc = sigil_point_base_mul(g, &P, &b)) ||
            (rc = sigil_point_add(g, &Q, &P, &A)) || (rc = sigil_point_mul(g, &dh[i], &A, &b)))
            goto out;
        sigil_point_serialize(g, e0, &P);
        sigil_point_serialize(g, e1, &Q);
        ot_ct_select(eb, e0, e1, 33, ot_bit(s->delta, i));
        if ((rc = sigil_buf_put(&m, eb, 33)))
            goto out;
    }
    fingerprint(s->fp, s->m1h, m.data, m.size);
    for (uint32_t i = 0; i < SIGIL_OT_KAPPA; i++)
        derive_seed(s->seed[i], s->fp, i, &dh[i]);
    if ((rc = sigil_buf_put(msg2, m.data, m.size)))
        goto out;
    *st = s;
    s = NULL;
out:
    sigil_scalar_clear(&b);
    sodium_memzero(&P, sizeof(P));
    sodium_memzero(&Q, sizeof(Q));
    sodium_memzero(&lhs, sizeof(lhs));
    sodium_memzero(e0, sizeof(e0));
    sodium_memzero(e1, sizeof(e1));
    sodium_memzero(eb, sizeof(eb));
    if (dh)
        sodium_free(dh);
    sigil_buf_free(&m);
    sigil_ot_setup_free(s);
    return rc;
}

int sigil_ot_setup_receiver_finish(sigil_ot_setup *st, const uint8_t *msg2, size_t msg2_len,
                                   sigil_buf *msg3, sigil_ot_receiver **out)
{
    const sigil_group *g = secp();
    sigil_ot_receiver *r = NULL;
    sigil_point B, C, D0, D1;
    sigil_buf in, m;
    uint8_t tag[OT_KBYTES];
    int rc;

    if (out)
        *out = NULL;
    if (st == NULL || out == NULL || !writable(msg3) || (msg2 == NULL && msg2_len > 0)) {
        sigil_ot_setup_free(st);
        return SIGIL_E_INVALID;
    }
    sigil_buf_init(&m, SETUP3_LEN, 0);
    if (st->role != ROLE_RECEIVER) {
        rc = SIGIL_E_STATE;
        goto out;
    }
    if ((r = ot_secure_alloc(sizeof(*r))) == NULL) {
        rc = SIGIL_E_NOMEM;
        goto out;
    }
    r->sender = st->sender;
    r->receiver = st->receiver;

    sigil_buf_view(&in, msg2, msg2_len);
    if ((rc = ot_hdr_get(&in, OT_MSG_SETUP2, st->sender, st->receiver, st->sidh)))
        goto out;
    if (sigil_buf_len(&in) < 33 * SIGIL_OT_KAPPA) {
        rc = SIGIL_E_TRUNCATED;
        goto out;
    }
    if (sigil_buf_len(&in) > 33 * SIGIL_OT_KAPPA) {
        rc = SIGIL_E_TRAILING;
        goto out;
    }
    fingerprint(r->fp, st->m1h, msg2, msg2_len);
    if ((rc = sigil_point_mul(g, &C, &st->A, &st->a)))
        goto out;
    for (uint32_t i = 0; i < SIGIL_OT_KAPPA; i++) {
        /* D0 = a*B_i, D1 = a*(B_i - A) = D0 - a*A */
        if ((rc = sigil_point_get(g, &in, &B)) || (rc = sigil_point_mul(g, &D0, &B, &st->a)) ||
            (rc = sigil_point_sub(g, &D1, &D0, &C)))
            goto out;
        derive_seed(r->seed[i][0], r->fp, i, &D0);
        derive_seed(r->seed[i][1], r->fp, i, &D1);
    }
    if ((rc = sigil_buf_end(&in)) || (rc = ot_hdr_put(&m, OT_MSG_SETUP3, st->sender, st->receiver, st->sidh)))
        goto out;
    for (uint32_t i = 0; i < SIGIL_OT_KAPPA; i++) {
        for (int c = 0; c < 2; c++) {
            confirm_tag(tag, r->fp, i, r->seed[i][c]);
            if ((rc = sigil_buf_put(&m, tag, sizeof(tag))))
                goto out;
        }
    }
    if ((rc = sigil_buf_put(msg3, m.data, m.size)))
        goto out;
    *out = r;
    r = NULL;
out:
    sodium_memzero(&C, sizeof(C));
    sodium_memzero(&D0, sizeof(D0));
    sodium_memzero(&D1, sizeof(D1));
    sigil_buf_free(&m);
    sigil_ot_receiver_free(r);
    sigil_ot_setup_free(st);
    return rc;
}

int sigil_ot_setup_sender_finish(sigil_ot_setup *st, const uint8_t *msg3, size_t msg3_len, sigil_ot_sender **out)
{
    sigil_ot_sender *s = NULL;
    sigil_buf in;
    const uint8_t *tags;
    uint8_t want[OT_KBYTES], got[OT_KBYTES];
    int rc, ok = 1;

    if (out)
        *out = NULL;
    if (st == NULL || out == NULL || (msg3 == NULL && msg3_len > 0)) {
        sigil_ot_setup_free(st);
        return SIGIL_E_INVALID;
    }
    if (st->role != ROLE_SENDER) {
        rc = SIGIL_E_STATE;
        goto out;
    }
    sigil_buf_view(&in, msg3, msg3_len);
    if ((rc = ot_hdr_get(&in, OT_MSG_SETUP3, st->sender, st->receiver, st->sidh)) ||
        (rc = sigil_buf_get_ptr(&in, 2 * OT_KBYTES * SIGIL_OT_KAPPA, &tags)) || (rc = sigil_buf_end(&in)))
        goto out;
    for (uint32_t i = 0; i < SIGIL_OT_KAPPA; i++) {
        confirm_tag(want, st->fp, i, st->seed[i]);
        ot_ct_select(got, tags + 2 * OT_KBYTES * i, tags + 2 * OT_KBYTES * i + OT_KBYTES, OT_KBYTES,
                     ot_bit(st->delta, i));
        ok &= sigil_memeq(want, got, OT_KBYTES);
    }
    if (!ok) {
        rc = SIGIL_E_CONFIRM;
        goto out;
    }
    if ((s = ot_secure_alloc(sizeof(*s))) == NULL) {
        rc = SIGIL_E_NOMEM;
        goto out;
    }
    s->sender = st->sender;
    s->receiver = st->receiver;
    memcpy(s->fp, st->fp, 32);
    memcpy(s->delta, st->delta, sizeof(s->delta));
    memcpy(s->seed, st->seed, sizeof(s->seed));
    *out = s;
    rc = SIGIL_OK;
out:
    sodium_memzero(want, sizeof(want));
    sodium_memzero(got, sizeof(got));
    sigil_ot_setup_free(st);
    return rc;
}

/* ---- long-term states ---- */

static const uint8_t SENDER_MAGIC[4] = {'O', 'T', 'S', 1};
static const uint8_t RECEIVER_MAGIC[4] = {'O', 'T', 'R', 1};

void sigil_ot_sender_fingerprint(const sigil_ot_sender *s, uint8_t out[32])
{
    memcpy(out, s->fp, 32);
}

void sigil_ot_receiver_fingerprint(const sigil_ot_receiver *r, uint8_t out[32])
{
    memcpy(out, r->fp, 32);
}

void sigil_ot_sender_pair(const sigil_ot_sender *s, sigil_ot_party *sender, sigil_ot_party *receiver)
{
    *sender = s->sender;
    *receiver = s->receiver;
}

void sigil_ot_receiver_pair(const sigil_ot_receiver *r, sigil_ot_party *sender, sigil_ot_party *receiver)
{
    *sender = r->sender;
    *receiver = r->receiver;
}

int sigil_ot_sender_is_burned(const sigil_ot_sender *s)
{
    return s->burned ? 1 : 0;
}

void sigil_ot_sender_free(sigil_ot_sender *s)
{
    if (s == NULL)
        return;
    if (s->scratch)
        sodium_free(s->scratch);
    sodium_free(s);
}

void sigil_ot_receiver_free(sigil_ot_receiver *r)
{
    if (r)
        sodium_free(r);
}

static int secret_out(const sigil_buf *b)
{
    return writable(b) && (b->flags & SIGIL_BUF_SECRET);
}

int sigil_ot_sender_encode(const sigil_ot_sender *s, sigil_buf *out)
{
    uint8_t *p;
    int rc;
    if (s == NULL || !secret_out(out))
        return SIGIL_E_INVALID;
    if ((rc = sigil_buf_reserve(out, SIGIL_OT_SENDER_ENC_LEN, &p)))
        return rc;
    memcpy(p, SENDER_MAGIC, 4);
    p[4] = (uint8_t)(s->sender >> 8);
    p[5] = (uint8_t)s->sender;
    p[6] = (uint8_t)(s->receiver >> 8);
    p[7] = (uint8_t)s->receiver;
    p[8] = s->burned ? 1 : 0;
    memcpy(p + 9, s->fp, 32);
    memcpy(p + 41, s->delta, OT_KBYTES);
    memcpy(p + 41 + OT_KBYTES, s->seed, sizeof(s->seed));
    return SIGIL_OK;
}

int sigil_ot_receiver_encode(const sigil_ot_receiver *r, sigil_buf *out)
{
    uint8_t *p;
    int rc;
    if (r == NULL || !secret_out(out))
        return SIGIL_E_INVALID;
    if ((rc = sigil_buf_reserve(out, SIGIL_OT_RECEIVER_ENC_LEN, &p)))
        return rc;
    memcpy(p, RECEIVER_MAGIC, 4);
    p[4] = (uint8_t)(r->sender >> 8);
    p[5] = (uint8_t)r->sender;
    p[6] = (uint8_t)(r->receiver >> 8);
    p[7] = (uint8_t)r->receiver;
    memcpy(p + 8, r->fp, 32);
    memcpy(p + 40, r->seed, sizeof(r->seed));
    return SIGIL_OK;
}

int sigil_ot_sender_decode(sigil_ot_sender **out, const uint8_t *in, size_t n)
{
    sigil_buf b;
    const uint8_t *magic;
    uint8_t burned;
    uint16_t ps, pr;
    sigil_ot_sender *s;
    int rc;

    if (out == NULL || (in == NULL && n > 0))
        return SIGIL_E_INVALID;
    *out = NULL;
    sigil_buf_view(&b, in, n);
    if ((rc = sigil_buf_get_ptr(&b, 4, &magic)))
        return rc;
    if (memcmp(magic, SENDER_MAGIC, 4) != 0)
        return SIGIL_E_VERSION;
    if ((rc = sigil_buf_get_u16(&b, &ps)) || (rc = sigil_buf_get_u16(&b, &pr)) || (rc = sigil_buf_get_u8(&b, &burned)))
        return rc;
    if (ps == pr || burned > 1)
        return SIGIL_E_ENCODING;
    if (sigil_buf_len(&b) < 32 + OT_KBYTES + sizeof(s->seed))
        return SIGIL_E_TRUNCATED;
    if (sigil_buf_len(&b) > 32 + OT_KBYTES + sizeof(s->seed))
        return SIGIL_E_TRAILING;
    if ((s = ot_secure_alloc(sizeof(*s))) == NULL)
        return SIGIL_E_NOMEM;
    s->sender = ps;
    s->receiver = pr;
    s->burned = burned;
    sigil_buf_get(&b, s->fp, 32);
    sigil_buf_get(&b, s->delta, OT_KBYTES);
    sigil_buf_get(&b, s->seed, sizeof(s->seed));
    *out = s;
    return SIGIL_OK;
}

int sigil_ot_receiver_decode(sigil_ot_receiver **out, const uint8_t *in, size_t n)
{
    sigil_buf b;
    const uint8_t *magic;
    uint16_t ps, pr;
    sigil_ot_receiver *r;
    int rc;

    if (out == NULL || (in == NULL && n > 0))
        return SIGIL_E_INVALID;
    *out = NULL;
    sigil_buf_view(&b, in, n);
    if ((rc = sigil_buf_get_ptr(&b, 4, &magic)))
        return rc;
    if (memcmp(magic, RECEIVER_MAGIC, 4) != 0)
        return SIGIL_E_VERSION;
    if ((rc = sigil_buf_get_u16(&b, &ps)) || (rc = sigil_buf_get_u16(&b, &pr)))
        return rc;
    if (ps == pr)
        return SIGIL_E_ENCODING;
    if (sigil_buf_len(&b) < 32 + sizeof(r->seed))
        return SIGIL_E_TRUNCATED;
    if (sigil_buf_len(&b) > 32 + sizeof(r->seed))
        return SIGIL_E_TRAILING;
    if ((r = ot_secure_alloc(sizeof(*r))) == NULL)
        return SIGIL_E_NOMEM;
    r->sender = ps;
    r->receiver = pr;
    sigil_buf_get(&b, r->fp, 32);
    sigil_buf_get(&b, r->seed, sizeof(r->seed));
    *out = r;
    return SIGIL_OK;
}
