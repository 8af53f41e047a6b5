/* DKLs23 random vector OLE (forced-reuse DKLs19 Protocol 1); see mult.h. */
#include "sigil/mult.h"

#include <gmp.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>

#include "sigil/err.h"

#define XI SIGIL_MULT_XI
#define W SIGIL_MULT_WIDTH
#define L SIGIL_MULT_L

struct sigil_mult_bob {
    sigil_ot_ext_recv *ot;
    uint8_t beta[XI / 8]; /* packed choice bits */
    sigil_scalar b;
    uint8_t h_msg1[32];   /* hash of message 1, for the challenge */
    uint8_t sid[SIGIL_OT_MAX_SID];
    size_t sid_len;
    sigil_scalar tb[XI * W];
};

static void to_limbs(mp_limb_t l[4], const sigil_scalar *s);
static int acc_scratch_ok(void);

/* ---- the public gadget vector ---- */

static sigil_scalar gadget[XI];
static mp_limb_t gadget_l[XI][4];
static pthread_once_t gadget_once = PTHREAD_ONCE_INIT;
static int gadget_ok;

static void gadget_init(void)
{
    const sigil_group *g = sigil_group_get(SIGIL_GROUP_SECP256K1);
    static const char dom[] = "sigil/dkls23/mult/gadget/v1";
    for (uint32_t j = 0; j < XI; j++) {
        uint8_t h[64], ctr[4] = {(uint8_t)(j >> 24), (uint8_t)(j >> 16), (uint8_t)(j >> 8),
                                  (uint8_t)j};
        crypto_hash_sha512_state st;
        crypto_hash_sha512_init(&st);
        crypto_hash_sha512_update(&st, (const uint8_t *)dom, sizeof dom);
        crypto_hash_sha512_update(&st, ctr, 4);
        crypto_hash_sha512_final(&st, h);
        if (sigil_scalar_reduce(g, &gadget[j], h, 64) != SIGIL_OK)
            return;
        to_limbs(gadget_l[j], &gadget[j]);
    }
    gadget_ok = acc_scratch_ok();
}

static int gadget_get(void)
{
    pthread_once(&gadget_once, gadget_init);
    return gadget_ok ? SIGIL_OK : SIGIL_E_CRYPTO;
}

/* ---- helpers ---- */

static unsigned bit_of(const uint8_t *packed, size_t j)
{
    return (packed[j / 8] >> (j % 8)) & 1u;
}

/* ---- constant-time inner products mod q with GMP's mpn_sec_* ----
 * Products are accumulated unreduced in ACC_LIMBS limbs and reduced once
 * (mpn_sec_div_r), instead of one modular multiply-and-add per term. Every
 * operation here is GMP's side-channel silent (mpn_sec_*, mpn_cnd_*) or
 * data-independent (mpn_add_n on fixed sizes). */
_Static_assert(GMP_LIMB_BITS == 64, "64-bit limbs");
#define SL 4          /* limbs of a scalar */
#define ACC_LIMBS 10  /* up to 2^64 products of two 256-bit values, with slack */

static const mp_limb_t Q[SL] = {0xBFD25E8CD0364141ULL, 0xBAAEDCE6AF48A03BULL,
                                0xFFFFFFFFFFFFFFFEULL, 0xFFFFFFFFFFFFFFFFULL};

static void to_limbs(mp_limb_t l[SL], const sigil_scalar *s)
{
    for (int i = 0; i < SL; i++) {
        mp_limb_t v = 0;
        for (int k = 0; k < 8; k++)
            v = (v << 8) | s->v[32 - 8 * (i + 1) + k];
        l[i] = v;
    }
}

static void from_limbs(sigil_scalar *s, const mp_limb_t l[SL])
{
    for (int i = 0; i < SL; i++)
        for (int k = 0; k < 8; k++)
            s->v[32 - 8 * i - 1 - k] = (uint8_t)(l[i] >> (8 * k));
}

typedef struct {
    mp_limb_t a[ACC_LIMBS];
    mp_limb_t scratch[64];
} acc_t;

static void acc_zero(acc_t *x)
{
    memset(x->a, 0, sizeof x->a);
}

/* x += a * b */
static void acc_muladd(acc_t *x, const mp_limb_t a[SL], const mp_limb_t b[SL])
{
    mp_limb_t p[2 * SL];
    mpn_sec_mul(p, a, SL, b, SL, x->scratch);
    mp_limb_t c = mpn_add_n(x->a, x->a, p, 2 * SL);
    mpn_add_1(x->a + 2 * SL, x->a + 2 * SL, ACC_LIMBS - 2 * SL, c);
}

/* x += cnd ? a : 0 (cnd in {0,1}) */
static void acc_cnd_add(acc_t *x, const mp_limb_t a[SL], unsigned cnd)
{
    mp_limb_t c = mpn_cnd_add_n(cnd, x->a, x->a, a, SL);
    mpn_add_1(x->a + SL, x->a + SL, ACC_LIMBS - SL, c);
}

/* out = x mod q; x is destroyed */
static void acc_reduce(sigil_scalar *out, acc_t *x)
{
    mpn_sec_div_r(x->a, ACC_LIMBS, Q, SL, x->scratch);
    from_limbs(out, x->a);
}

static int acc_scratch_ok(void)
{
    return mpn_sec_mul_itch(SL, SL) <= 64 && mpn_sec_div_r_itch(ACC_LIMBS, SL) <= 64;
}

static void sha256_part(crypto_hash_sha256_state *st, const uint8_t *p, size_t n)
{
    uint8_t len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
    crypto_hash_sha256_update(st, len, 8);
    crypto_hash_sha256_update(st, p, n);
}

/* chi in Z_q^W from the transcript: sid, hash of Bob's message 1, Alice's
 * OT message 2 and gamma. */
static int challenge(sigil_scalar chi[W], const uint8_t *sid, size_t sid_len,
                     const uint8_t h_msg1[32], const uint8_t *otmsg2, size_t otmsg2_len,
                     const sigil_scalar gamma[L])
{
    const sigil_group *g = sigil_group_get(SIGIL_GROUP_SECP256K1);
    static const char dom[] = "sigil/dkls23/mult/chi/v1";
    uint8_t seed[32];
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    sha256_part(&st, (const uint8_t *)dom, sizeof dom);
    sha256_part(&st, sid, sid_len);
    sha256_part(&st, h_msg1, 32);
    sha256_part(&st, otmsg2, otmsg2_len);
    for (int i = 0; i < L; i++)
        sha256_part(&st, gamma[i].v, 32);
    crypto_hash_sha256_final(&st, seed);
    for (uint8_t i = 0; i < W; i++) {
        uint8_t h[64];
        crypto_hash_sha512_state s5;
        crypto_hash_sha512_init(&s5);
        crypto_hash_sha512_update(&s5, seed, 32);
        crypto_hash_sha512_update(&s5, &i, 1);
        crypto_hash_sha512_final(&s5, h);
        int rc = sigil_scalar_reduce(g, &chi[i], h, 64);
        if (rc != SIGIL_OK)
            return rc;
    }
    return SIGIL_OK;
}

/* rt = H(sid, r_1..r_xi). Alice: r_j = <chi, t_A[j]>. Bob (bits != NULL,
 * chi passed negated): r_j = beta_j * u + <-chi, t_B[j]>. */
static void check_hash(uint8_t out[32], const uint8_t *sid, size_t sid_len, const sigil_scalar chi[W],
                       const sigil_scalar *t, const uint8_t *bits, const sigil_scalar *u)
{
    static const char dom[] = "sigil/dkls23/mult/check/v1";
    crypto_hash_sha256_state st;
    mp_limb_t cl[W][SL], tl[SL], ul[SL] = {0};
    acc_t acc;
    sigil_scalar r;
    for (int i = 0; i < W; i++)
        to_limbs(cl[i], &chi[i]);
    if (u != NULL)
        to_limbs(ul, u);
    crypto_hash_sha256_init(&st);
    sha256_part(&st, (const uint8_t *)dom, sizeof dom);
    sha256_part(&st, sid, sid_len);
    for (size_t j = 0; j < XI; j++) {
        acc_zero(&acc);
        for (int i = 0; i < W; i++) {
            to_limbs(tl, &t[j * W + i]);
            acc_muladd(&acc, cl[i], tl);
        }
        if (bits != NULL)
            acc_cnd_add(&acc, ul, bit_of(bits, j));
        acc_reduce(&r, &acc);
        crypto_hash_sha256_update(&st, r.v, 32);
    }
    crypto_hash_sha256_final(&st, out);
    sodium_memzero(&acc, sizeof acc);
    sodium_memzero(tl, sizeof tl);
    sodium_memzero(ul, sizeof ul);
    sigil_scalar_clear(&r);
}

/* out[i] = sum_j g_j t[j][i], i < L */
static void gadget_combine(sigil_scalar out[L], const sigil_scalar *t)
{
    acc_t acc;
    mp_limb_t tl[SL];
    for (int i = 0; i < L; i++) {
        acc_zero(&acc);
        for (size_t j = 0; j < XI; j++) {
            to_limbs(tl, &t[j * W + i]);
            acc_muladd(&acc, gadget_l[j], tl);
        }
        acc_reduce(&out[i], &acc);
    }
    sodium_memzero(&acc, sizeof acc);
    sodium_memzero(tl, sizeof tl);
}

/* ---- Bob ---- */

void sigil_mult_bob_free(sigil_mult_bob *st)
{
    if (st == NULL)
        return;
    sigil_ot_ext_recv_free(st->ot);
    sodium_free(st); /* zeroizes */
}

int sigil_mult_bob_start(sigil_mult_bob **out, const sigil_ot_receiver *r, const uint8_t *sid,
                         size_t sid_len, sigil_scalar *b, sigil_buf *msg1)
{
    if (out == NULL || r == NULL || sid == NULL || sid_len == 0 || sid_len > SIGIL_OT_MAX_SID ||
        b == NULL || msg1 == NULL)
        return SIGIL_E_INVALID;
    *out = NULL;
    int rc = gadget_get();
    if (rc != SIGIL_OK)
        return rc;
    sigil_mult_bob *st = sodium_malloc(sizeof *st);
    if (st == NULL)
        return SIGIL_E_NOMEM;
    memset(st, 0, sizeof *st);
    randombytes_buf(st->beta, sizeof st->beta);
    memcpy(st->sid, sid, sid_len);
    st->sid_len = sid_len;
    /* b = sum_j g_j beta_j */
    {
        acc_t acc;
        acc_zero(&acc);
        for (size_t j = 0; j < XI; j++)
            acc_cnd_add(&acc, gadget_l[j], bit_of(st->beta, j));
        acc_reduce(&st->b, &acc);
        sodium_memzero(&acc, sizeof acc);
    }
    size_t before = msg1->size;
    rc = sigil_ot_ext_receive_start(&st->ot, r, sid, sid_len, XI, W, st->beta, msg1);
    if (rc != SIGIL_OK) {
        sigil_mult_bob_free(st);
        return rc;
    }
    crypto_hash_sha256(st->h_msg1, msg1->data + before, msg1->size - before);
    *b = st->b;
    *out = st;
    return SIGIL_OK;
}

int sigil_mult_bob_finish(sigil_mult_bob *st, const uint8_t *msg2, size_t msg2_len,
                          sigil_scalar d[L])
{
    const sigil_group *g = sigil_group_get(SIGIL_GROUP_SECP256K1);
    int rc;
    if (d == NULL)
        return SIGIL_E_INVALID;
    memset(d, 0, L * sizeof d[0]);
    if (st == NULL || (msg2 == NULL && msg2_len))
        return SIGIL_E_INVALID;
    sigil_buf in;
    sigil_buf_view(&in, msg2, msg2_len);
    uint8_t tag, rt[32], mine[32];
    sigil_scalar gamma[L], u, chi[W];
    if ((rc = sigil_buf_get_u8(&in, &tag)) != SIGIL_OK)
        goto done;
    if (tag != SIGIL_MULT_MSG2_TAG) {
        rc = SIGIL_E_VERSION;
        goto done;
    }
    for (int i = 0; i < L; i++)
        if ((rc = sigil_scalar_get(g, &in, &gamma[i])) != SIGIL_OK)
            goto done;
    if ((rc = sigil_scalar_get(g, &in, &u)) != SIGIL_OK ||
        (rc = sigil_buf_get(&in, rt, 32)) != SIGIL_OK)
        goto done;
    const uint8_t *otmsg2 = sigil_buf_ptr(&in);
    size_t otlen = sigil_buf_len(&in);
    rc = sigil_ot_ext_receive_finish(st->ot, otmsg2, otlen, st->tb);
    st->ot = NULL; /* consumed */
    if (rc != SIGIL_OK)
        goto done;
    if ((rc = challenge(chi, st->sid, st->sid_len, st->h_msg1, otmsg2, otlen, gamma)) != SIGIL_OK)
        goto done;
    for (int i = 0; i < W; i++)
        sigil_scalar_neg(g, &chi[i], &chi[i]);
    check_hash(mine, st->sid, st->sid_len, chi, st->tb, st->beta, &u);
    if (!sigil_memeq(mine, rt, 32)) {
        rc = SIGIL_E_CHECK;
        goto done;
    }
    gadget_combine(d, st->tb);
    for (int i = 0; i < L; i++) {
        sigil_scalar p;
        sigil_scalar_mul(g, &p, &st->b, &gamma[i]);
        sigil_scalar_add(g, &d[i], &d[i], &p);
        sigil_scalar_clear(&p);
    }
    rc = SIGIL_OK;
done:
    if (rc != SIGIL_OK)
        sodium_memzero(d, L * sizeof d[0]);
    sodium_memzero(gamma, sizeof gamma);
    sigil_mult_bob_free(st);
    return rc;
}

/* ---- Alice ---- */

int sigil_mult_alice(sigil_ot_sender *s, const uint8_t *sid, size_t sid_len,
                     const sigil_scalar a[L], const uint8_t *msg1, size_t msg1_len,
                     sigil_scalar c[L], sigil_buf *msg2)
{
    const sigil_group *g = sigil_group_get(SIGIL_GROUP_SECP256K1);
    if (c == NULL)
        return SIGIL_E_INVALID;
    memset(c, 0, L * sizeof c[0]);
    if (s == NULL || sid == NULL || sid_len == 0 || sid_len > SIGIL_OT_MAX_SID || a == NULL ||
        (msg1 == NULL && msg1_len) || msg2 == NULL || (msg2->flags & SIGIL_BUF_READONLY))
        return SIGIL_E_INVALID;
    int rc = gadget_get();
    if (rc != SIGIL_OK)
        return rc;
    struct alice_secrets {
        sigil_scalar alpha[W];
        sigil_scalar ta[XI * W];
        sigil_scalar gamma[L], u, chi[W], p;
    } *x = sodium_malloc(sizeof *x);
    if (x == NULL)
        return SIGIL_E_NOMEM;
    memset(x, 0, sizeof *x);
    sigil_buf ot2;
    uint8_t h_msg1[32], rt[32];
    size_t start = msg2->size;
    if ((rc = sigil_buf_init(&ot2, SIGIL_BUF_MAX_LIMIT, 0)) != SIGIL_OK)
        goto done;
    for (int i = 0; i < W; i++)
        if ((rc = sigil_scalar_random(g, &x->alpha[i])) != SIGIL_OK)
            goto done;
    rc = sigil_ot_ext_send(s, sid, sid_len, XI, W, x->alpha, W, msg1, msg1_len, x->ta, &ot2);
    if (rc != SIGIL_OK)
        goto done;
    for (int i = 0; i < L; i++)
        sigil_scalar_sub(g, &x->gamma[i], &a[i], &x->alpha[i]);
    crypto_hash_sha256(h_msg1, msg1, msg1_len);
    rc = challenge(x->chi, sid, sid_len, h_msg1, ot2.data, ot2.size, x->gamma);
    if (rc != SIGIL_OK)
        goto done;
    /* u = <chi, alpha> */
    memset(&x->u, 0, sizeof x->u);
    for (int i = 0; i < W; i++) {
        sigil_scalar_mul(g, &x->p, &x->chi[i], &x->alpha[i]);
        sigil_scalar_add(g, &x->u, &x->u, &x->p);
    }
    check_hash(rt, sid, sid_len, x->chi, x->ta, NULL, NULL);
    if ((rc = sigil_buf_put_u8(msg2, SIGIL_MULT_MSG2_TAG)) != SIGIL_OK)
        goto done;
    for (int i = 0; i < L; i++)
        if ((rc = sigil_scalar_put(g, msg2, &x->gamma[i])) != SIGIL_OK)
            goto done;
    if ((rc = sigil_scalar_put(g, msg2, &x->u)) != SIGIL_OK ||
        (rc = sigil_buf_put(msg2, rt, 32)) != SIGIL_OK ||
        (rc = sigil_buf_put(msg2, ot2.data, ot2.size)) != SIGIL_OK)
        goto done;
    gadget_combine(c, x->ta);
    rc = SIGIL_OK;
done:
    if (rc != SIGIL_OK) {
        memset(c, 0, L * sizeof c[0]);
        if (msg2->size > start) {
            sodium_memzero(msg2->data + start, msg2->size - start);
            msg2->size = start;
        }
    }
    sigil_buf_free(&ot2);
    sodium_free(x);
    return rc;
}
