/* The group layer: see sigil/group.h for the contracts.
 *
 * secp256k1 scalars (mod n) use libsecp256k1's constant-time public seckey
 * API. Its functions refuse a zero seckey (output zero, return 0), so:
 *   tweak_add(a, b): a == 0 gives 0 instead of b -> constant-time select b;
 *                    a + b == 0 gives 0, which is the right answer.
 *   tweak_mul(a, b): any zero operand gives 0, the right answer.
 *   negate(a):       a == 0 gives 0, the right answer.
 * Inversion and wide reductions use GMP's constant-time mpn_sec_* functions.
 * secp256k1 points are secp256k1_pubkey values (never infinity).
 *
 * Ed25519 uses libsodium's crypto_core_ed25519_* and
 * crypto_scalarmult_ed25519_*_noclamp; a point is held as its canonical
 * 32-byte encoding. */
#include "sigil/group.h"

#include <gmp.h>
#include <secp256k1.h>
#include <secp256k1_ecdh.h>
#include <secp256k1_recovery.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "sigil/err.h"
#include "sigil/hash.h"

#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define SIGIL_HAVE_VALGRIND 1
#endif
#endif

void sigil_ct_secret(const void *p, size_t n)
{
#ifdef SIGIL_HAVE_VALGRIND
    (void)VALGRIND_MAKE_MEM_UNDEFINED(p, n);
#else
    (void)p;
    (void)n;
#endif
}

void sigil_ct_declassify(const void *p, size_t n)
{
#ifdef SIGIL_HAVE_VALGRIND
    (void)VALGRIND_MAKE_MEM_DEFINED(p, n);
#else
    (void)p;
    (void)n;
#endif
}

struct sigil_group {
    sigil_group_id id;
    const char *name;
    size_t point_len;
};

static const sigil_group group_ed25519 = {SIGIL_GROUP_ED25519, "ed25519", 32};
static const sigil_group group_secp256k1 = {SIGIL_GROUP_SECP256K1, "secp256k1", 33};

static secp256k1_context *secp_ctx;

/* secp256k1 group order n, big-endian. */
static const uint8_t secp_order_be[32] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
    0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};

static const uint8_t ed_identity[32] = {1};

int sigil_mpc_init(void)
{
    uint8_t seed[32];

    if (secp_ctx != NULL)
        return SIGIL_OK;
    if (sodium_init() < 0)
        return SIGIL_E_CRYPTO;
    secp256k1_context *ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    if (ctx == NULL)
        return SIGIL_E_NOMEM;
    randombytes_buf(seed, sizeof(seed));
    int ok = secp256k1_context_randomize(ctx, seed);
    sodium_memzero(seed, sizeof(seed));
    if (!ok) {
        secp256k1_context_destroy(ctx);
        return SIGIL_E_CRYPTO;
    }
    secp_ctx = ctx;
    sigil_hash_init();
    return SIGIL_OK;
}

const struct secp256k1_context_struct *sigil_secp256k1_ctx(void)
{
    return secp_ctx;
}

const sigil_group *sigil_group_get(sigil_group_id id)
{
    switch (id) {
    case SIGIL_GROUP_ED25519:
        return &group_ed25519;
    case SIGIL_GROUP_SECP256K1:
        return &group_secp256k1;
    }
    return NULL;
}

sigil_group_id sigil_group_id_of(const sigil_group *g)
{
    return g->id;
}

const char *sigil_group_name(const sigil_group *g)
{
    return g->name;
}

size_t sigil_group_point_len(const sigil_group *g)
{
    return g->point_len;
}

static int is_ed(const sigil_group *g)
{
    return g->id == SIGIL_GROUP_ED25519;
}

/* ---- constant-time helpers ---- */

/* Copy b over r when flag is 1 (flag in {0,1}), without branching. */
static void ct_select(uint8_t *r, const uint8_t *b, size_t n, unsigned flag)
{
    uint8_t mask = (uint8_t)(0u - (flag & 1u));
    for (size_t i = 0; i < n; i++)
        r[i] ^= (uint8_t)(mask & (r[i] ^ b[i]));
}

/* Whether a (possibly secret) scalar is zero, made public: callers branch
 * on it only to refuse zero, an error that reveals nothing else. */
static int zero_public(const sigil_scalar *a)
{
    int z = sodium_is_zero(a->v, SIGIL_SCALAR_LEN);
    sigil_ct_declassify(&z, sizeof(z));
    return z;
}

int sigil_scalar_is_zero(const sigil_scalar *a)
{
    return sodium_is_zero(a->v, SIGIL_SCALAR_LEN);
}

int sigil_scalar_eq(const sigil_scalar *a, const sigil_scalar *b)
{
    return sigil_memeq(a->v, b->v, SIGIL_SCALAR_LEN);
}

void sigil_scalar_clear(sigil_scalar *s)
{
    sodium_memzero(s->v, sizeof(s->v));
}

/* ---- GMP limb conversions (secp256k1, big-endian bytes) ---- */

#define LIMB_BYTES ((size_t)sizeof(mp_limb_t))
#define SECP_LIMBS (32 / sizeof(mp_limb_t))
#define WIDE_LIMBS (64 / sizeof(mp_limb_t))

/* n big-endian bytes into limbs (little-endian limb order), zero-padded to
 * nlimbs. n <= nlimbs * LIMB_BYTES. */
static void be_to_limbs(mp_limb_t *l, size_t nlimbs, const uint8_t *in, size_t n)
{
    memset(l, 0, nlimbs * sizeof(mp_limb_t));
    for (size_t i = 0; i < n; i++) {
        size_t bit = i; /* byte index counted from the least significant end */
        l[bit / LIMB_BYTES] |= (mp_limb_t)in[n - 1 - i] << (8 * (bit % LIMB_BYTES));
    }
}

static void limbs_to_be32(uint8_t out[32], const mp_limb_t *l)
{
    for (size_t i = 0; i < 32; i++)
        out[31 - i] = (uint8_t)(l[i / LIMB_BYTES] >> (8 * (i % LIMB_BYTES)));
}

static void secp_order_limbs(mp_limb_t l[SECP_LIMBS])
{
    be_to_limbs(l, SECP_LIMBS, secp_order_be, 32);
}

/* ---- scalars ---- */

int sigil_scalar_parse(const sigil_group *g, sigil_scalar *s, const uint8_t in[32])
{
    int ok;

    if (is_ed(g)) {
        /* canonical iff in < L: reducing a 64-byte zero-extension leaves it unchanged */
        uint8_t wide[64] = {0}, red[32];
        memcpy(wide, in, 32);
        crypto_core_ed25519_scalar_reduce(red, wide);
        ok = sigil_memeq(red, in, 32);
        sodium_memzero(wide, sizeof(wide));
        sodium_memzero(red, sizeof(red));
    } else {
        /* seckey_verify: 1 iff 0 < in < n */
        ok = secp256k1_ec_seckey_verify(secp_ctx, in) | sodium_is_zero(in, 32);
    }
    sigil_ct_declassify(&ok, sizeof(ok)); /* validity is public, the value is not */
    if (!ok) {
        sigil_scalar_clear(s);
        return SIGIL_E_SCALAR;
    }
    memcpy(s->v, in, 32);
    return SIGIL_OK;
}

void sigil_scalar_serialize(const sigil_group *g, uint8_t out[32], const sigil_scalar *s)
{
    (void)g;
    memcpy(out, s->v, 32);
}

int sigil_scalar_reduce(const sigil_group *g, sigil_scalar *s, const uint8_t *in, size_t n)
{
    if (n > 64 || (in == NULL && n > 0))
        return SIGIL_E_INVALID;
    if (is_ed(g)) {
        uint8_t wide[64] = {0};
        if (n > 0)
            memcpy(wide, in, n);
        crypto_core_ed25519_scalar_reduce(s->v, wide);
        sodium_memzero(wide, sizeof(wide));
        return SIGIL_OK;
    }
    mp_limb_t x[WIDE_LIMBS], m[SECP_LIMBS];
    size_t nx = WIDE_LIMBS;
    be_to_limbs(x, nx, in, n);
    secp_order_limbs(m);
    mp_size_t itch = mpn_sec_div_r_itch((mp_size_t)nx, (mp_size_t)SECP_LIMBS);
    mp_limb_t scratch[64];
    if ((size_t)itch > sizeof(scratch) / sizeof(scratch[0]))
        return SIGIL_E_CRYPTO;
    mpn_sec_div_r(x, (mp_size_t)nx, m, (mp_size_t)SECP_LIMBS, scratch);
    limbs_to_be32(s->v, x);
    sodium_memzero(x, sizeof(x));
    sodium_memzero(scratch, sizeof(scratch));
    return SIGIL_OK;
}

int sigil_scalar_random(const sigil_group *g, sigil_scalar *s)
{
    if (is_ed(g)) {
        crypto_core_ed25519_scalar_random(s->v); /* never zero */
        return SIGIL_OK;
    }
    /* rejection sampling: the probability of a retry is about 2^-128 */
    for (int i = 0; i < 64; i++) {
        randombytes_buf(s->v, 32);
        if (secp256k1_ec_seckey_verify(secp_ctx, s->v))
            return SIGIL_OK;
    }
    sigil_scalar_clear(s);
    return SIGIL_E_RANDOM;
}

void sigil_scalar_set_u64(const sigil_group *g, sigil_scalar *s, uint64_t v)
{
    memset(s->v, 0, 32);
    for (int i = 0; i < 8; i++) {
        uint8_t byte = (uint8_t)(v >> (8 * i));
        if (is_ed(g))
            s->v[i] = byte;
        else
            s->v[31 - i] = byte;
    }
}

void sigil_scalar_add(const sigil_group *g, sigil_scalar *r, const sigil_scalar *a, const sigil_scalar *b)
{
    if (is_ed(g)) {
        crypto_core_ed25519_scalar_add(r->v, a->v, b->v);
        return;
    }
    uint8_t t[32], bb[32];
    memcpy(t, a->v, 32);
    memcpy(bb, b->v, 32);
    unsigned a_zero = (unsigned)sodium_is_zero(a->v, 32);
    /* fails (t = 0) when a == 0 or a + b == 0; the latter is the right result */
    int ignored = secp256k1_ec_seckey_tweak_add(secp_ctx, t, bb);
    (void)ignored;
    ct_select(t, bb, 32, a_zero);
    memcpy(r->v, t, 32);
    sodium_memzero(t, sizeof(t));
    sodium_memzero(bb, sizeof(bb));
}

void sigil_scalar_neg(const sigil_group *g, sigil_scalar *r, const sigil_scalar *a)
{
    if (is_ed(g)) {
        crypto_core_ed25519_scalar_negate(r->v, a->v);
        return;
    }
    uint8_t t[32];
    memcpy(t, a->v, 32);
    int ignored = secp256k1_ec_seckey_negate(secp_ctx, t); /* zero stays zero */
    (void)ignored;
    memcpy(r->v, t, 32);
    sodium_memzero(t, sizeof(t));
}

void sigil_scalar_sub(const sigil_group *g, sigil_scalar *r, const sigil_scalar *a, const sigil_scalar *b)
{
    if (is_ed(g)) {
        crypto_core_ed25519_scalar_sub(r->v, a->v, b->v);
        return;
    }
    sigil_scalar nb;
    sigil_scalar_neg(g, &nb, b);
    sigil_scalar_add(g, r, a, &nb);
    sigil_scalar_clear(&nb);
}

void sigil_scalar_mul(const sigil_group *g, sigil_scalar *r, const sigil_scalar *a, const sigil_scalar *b)
{
    if (is_ed(g)) {
        crypto_core_ed25519_scalar_mul(r->v, a->v, b->v);
        return;
    }
    uint8_t t[32];
    memcpy(t, a->v, 32);
    /* a zero operand makes it fail with t = 0, the right result */
    int ignored = secp256k1_ec_seckey_tweak_mul(secp_ctx, t, b->v);
    (void)ignored;
    memcpy(r->v, t, 32);
    sodium_memzero(t, sizeof(t));
}

int sigil_scalar_inv(const sigil_group *g, sigil_scalar *r, const sigil_scalar *a)
{
    if (is_ed(g)) {
        int bad = crypto_core_ed25519_scalar_invert(r->v, a->v);
        sigil_ct_declassify(&bad, sizeof(bad)); /* only a == 0 fails */
        if (bad != 0) {
            sigil_scalar_clear(r);
            return SIGIL_E_ZERO;
        }
        return SIGIL_OK;
    }
    mp_limb_t x[SECP_LIMBS], m[SECP_LIMBS], out[SECP_LIMBS], scratch[64];
    mp_size_t itch = mpn_sec_invert_itch((mp_size_t)SECP_LIMBS);
    if ((size_t)itch > sizeof(scratch) / sizeof(scratch[0]))
        return SIGIL_E_CRYPTO;
    be_to_limbs(x, SECP_LIMBS, a->v, 32);
    secp_order_limbs(m);
    int ok = mpn_sec_invert(out, x, m, (mp_size_t)SECP_LIMBS, 2 * 256, scratch);
    sigil_ct_declassify(&ok, sizeof(ok)); /* only a == 0 fails */
    limbs_to_be32(r->v, out);
    sodium_memzero(x, sizeof(x));
    sodium_memzero(out, sizeof(out));
    sodium_memzero(scratch, sizeof(scratch));
    if (!ok) {
        sigil_scalar_clear(r);
        return SIGIL_E_ZERO;
    }
    return SIGIL_OK;
}

int sigil_scalar_inv_public(const sigil_group *g, sigil_scalar *r, const sigil_scalar *a)
{
    static const uint8_t ed_order_le[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7,
                                            0xa2, 0xde, 0xf9, 0xde, 0x14, 0,    0,    0,    0,    0,    0,
                                            0,    0,    0,    0,    0,    0,    0,    0,    0,    0x10};
    int le = is_ed(g);
    mpz_t x, m;
    mpz_inits(x, m, NULL);
    mpz_import(x, 32, le ? -1 : 1, 1, 0, 0, a->v);
    mpz_import(m, 32, le ? -1 : 1, 1, 0, 0, le ? ed_order_le : secp_order_be);
    int ok = mpz_sgn(x) != 0 && mpz_invert(x, x, m);
    memset(r->v, 0, 32);
    if (ok) {
        size_t cnt = 0;
        uint8_t tmp[32];
        mpz_export(tmp, &cnt, le ? -1 : 1, 1, 0, 0, x);
        if (le)
            memcpy(r->v, tmp, cnt);
        else
            memcpy(r->v + 32 - cnt, tmp, cnt);
    }
    mpz_clears(x, m, NULL);
    return ok ? SIGIL_OK : SIGIL_E_ZERO;
}

/* ---- points ---- */

static secp256k1_pubkey *pk_of(sigil_point *p)
{
    _Static_assert(sizeof(secp256k1_pubkey) <= sizeof(((sigil_point *)0)->v), "sigil_point too small");
    return (secp256k1_pubkey *)(void *)p->v;
}

static const secp256k1_pubkey *cpk_of(const sigil_point *p)
{
    return (const secp256k1_pubkey *)(const void *)p->v;
}

int sigil_point_parse(const sigil_group *g, sigil_point *p, const uint8_t *in, size_t n)
{
    memset(p, 0, sizeof(*p));
    if (n != g->point_len || in == NULL)
        return SIGIL_E_POINT;
    if (is_ed(g)) {
        if (sodium_memcmp(in, ed_identity, 32) == 0)
            return SIGIL_E_IDENTITY;
        /* canonical, on the curve, in the prime-order subgroup, not small order */
        if (!crypto_core_ed25519_is_valid_point(in))
            return SIGIL_E_POINT;
        memcpy(p->v, in, 32);
        return SIGIL_OK;
    }
    if (in[0] != 0x02 && in[0] != 0x03)
        return SIGIL_E_POINT;
    secp256k1_pubkey pk;
    if (!secp256k1_ec_pubkey_parse(secp_ctx, &pk, in, 33))
        return SIGIL_E_POINT;
    memcpy(pk_of(p), &pk, sizeof(pk));
    return SIGIL_OK;
}

void sigil_point_serialize(const sigil_group *g, uint8_t *out, const sigil_point *p)
{
    if (is_ed(g)) {
        memcpy(out, p->v, 32);
        return;
    }
    size_t len = 33;
    (void)secp256k1_ec_pubkey_serialize(secp_ctx, out, &len, cpk_of(p), SECP256K1_EC_COMPRESSED);
}

int sigil_point_base_mul(const sigil_group *g, sigil_point *r, const sigil_scalar *s)
{
    if (zero_public(s)) {
        memset(r, 0, sizeof(*r));
        return SIGIL_E_ZERO;
    }
    if (is_ed(g)) {
        uint8_t out[32];
        int bad = crypto_scalarmult_ed25519_base_noclamp(out, s->v);
        sigil_ct_declassify(&bad, sizeof(bad));
        if (bad != 0)
            return SIGIL_E_ZERO; /* only for s == 0 mod L */
        memset(r, 0, sizeof(*r));
        memcpy(r->v, out, 32);
        sigil_ct_declassify(r, sizeof(*r)); /* s*G is public */
        return SIGIL_OK;
    }
    secp256k1_pubkey pk;
    int ok = secp256k1_ec_pubkey_create(secp_ctx, &pk, s->v);
    sigil_ct_declassify(&ok, sizeof(ok));
    if (!ok)
        return SIGIL_E_ZERO;
    memset(r, 0, sizeof(*r));
    memcpy(pk_of(r), &pk, sizeof(pk));
    sigil_ct_declassify(r, sizeof(*r)); /* s*G is public */
    return SIGIL_OK;
}

/* secp256k1_ecdh hash callback that returns the shared point itself,
 * uncompressed: constant-time scalar multiplication through the public API.
 * Uncompressed, so that loading it back needs no square root: decompressing
 * a secret point (x -> y) runs libsecp256k1's variable-time
 * secp256k1_ge_set_xo_var, which branches on the parity of the root. */
static int ecdh_point(unsigned char *output, const unsigned char *x32, const unsigned char *y32, void *data)
{
    (void)data;
    output[0] = 0x04;
    memcpy(output + 1, x32, 32);
    memcpy(output + 33, y32, 32);
    return 1;
}

int sigil_point_mul(const sigil_group *g, sigil_point *r, const sigil_point *p, const sigil_scalar *s)
{
    if (zero_public(s)) {
        memset(r, 0, sizeof(*r));
        return SIGIL_E_ZERO;
    }
    if (is_ed(g)) {
        uint8_t out[32];
        int bad = crypto_scalarmult_ed25519_noclamp(out, s->v, p->v);
        sigil_ct_declassify(&bad, sizeof(bad)); /* s != 0 and p of prime order: never fails */
        if (bad != 0) {
            sodium_memzero(out, sizeof(out));
            return SIGIL_E_IDENTITY;
        }
        memset(r, 0, sizeof(*r));
        memcpy(r->v, out, 32);
        sodium_memzero(out, sizeof(out)); /* s*p may be a secret (OT keys) */
        return SIGIL_OK;
    }
    uint8_t enc[65];
    secp256k1_pubkey pk;
    int ok = secp256k1_ecdh(secp_ctx, enc, cpk_of(p), s->v, ecdh_point, NULL);
    sigil_ct_declassify(&ok, sizeof(ok)); /* fails only for s == 0 */
    if (ok)
        ok = secp256k1_ec_pubkey_parse(secp_ctx, &pk, enc, sizeof(enc));
    sodium_memzero(enc, sizeof(enc));
    if (!ok) {
        sodium_memzero(&pk, sizeof(pk));
        return SIGIL_E_CRYPTO;
    }
    memset(r, 0, sizeof(*r));
    memcpy(pk_of(r), &pk, sizeof(pk));
    sodium_memzero(&pk, sizeof(pk));
    return SIGIL_OK;
}

int sigil_point_mul_public(const sigil_group *g, sigil_point *r, const sigil_point *p, const sigil_scalar *s)
{
    if (is_ed(g))
        return sigil_point_mul(g, r, p, s);
    if (sigil_scalar_is_zero(s)) {
        memset(r, 0, sizeof(*r));
        return SIGIL_E_ZERO;
    }
    secp256k1_pubkey pk;
    memcpy(&pk, cpk_of(p), sizeof(pk));
    if (!secp256k1_ec_pubkey_tweak_mul(secp_ctx, &pk, s->v))
        return SIGIL_E_ZERO;
    memset(r, 0, sizeof(*r));
    memcpy(pk_of(r), &pk, sizeof(pk));
    return SIGIL_OK;
}

/* r = a*P + b*G (secp256k1, PUBLIC a != 0 and b) in ONE variable-time
 * double multiplication. libsecp256k1 0.2.0's public API has no
 * multi-scalar multiplication; pubkey_tweak_mul + pubkey_tweak_add cost two
 * full ecmult calls. ECDSA public-key recovery computes, in one Strauss
 * ecmult, Q = (s/r)*X + (-m/r)*G, where X is the curve point with
 * x-coordinate r (or r + n, recid bit 1) and y parity recid bit 0. With
 * r = x(P) mod n, s = a*r and m = -b*r this is exactly a*P + b*G: X = P
 * because P's encoding gives x and the parity. Returns SIGIL_OK,
 * SIGIL_E_IDENTITY if the result is the point at infinity, or 1 when this
 * route does not apply (x(P) = 0 mod n; the caller falls back). All inputs
 * and the result are public. */
static int secp_mul_add_base_recover(sigil_point *r, const sigil_point *p, const sigil_scalar *a,
                                     const sigil_scalar *b)
{
    uint8_t enc[33], sig[64];
    size_t len = sizeof(enc);
    sigil_scalar rx, t;
    secp256k1_ecdsa_recoverable_signature rs;
    secp256k1_pubkey q;

    (void)secp256k1_ec_pubkey_serialize(secp_ctx, enc, &len, cpk_of(p), SECP256K1_EC_COMPRESSED);
    int recid = enc[0] & 1; /* 0x02: even y, 0x03: odd y */
    if (memcmp(enc + 1, secp_order_be, 32) >= 0) {
        recid |= 2; /* n <= x < p: r = x - n */
        if (sigil_scalar_reduce(&group_secp256k1, &rx, enc + 1, 32) != SIGIL_OK)
            return 1;
    } else {
        memcpy(rx.v, enc + 1, 32);
    }
    if (sodium_is_zero(rx.v, 32))
        return 1;
    sigil_scalar_mul(&group_secp256k1, &t, a, &rx); /* s = a*r, non-zero */
    memcpy(sig, rx.v, 32);
    memcpy(sig + 32, t.v, 32);
    sigil_scalar_mul(&group_secp256k1, &t, b, &rx);
    sigil_scalar_neg(&group_secp256k1, &t, &t); /* m = -b*r */
    if (!secp256k1_ecdsa_recoverable_signature_parse_compact(secp_ctx, &rs, sig, recid))
        return 1;
    /* fails only when the result is infinity (X is P, a valid point) */
    if (!secp256k1_ecdsa_recover(secp_ctx, &q, &rs, t.v))
        return SIGIL_E_IDENTITY;
    memset(r, 0, sizeof(*r));
    memcpy(pk_of(r), &q, sizeof(q));
    return SIGIL_OK;
}

int sigil_point_mul_add_base_public(const sigil_group *g, sigil_point *r, const sigil_point *p,
                                    const sigil_scalar *a, const sigil_scalar *b)
{
    int rc;
    if (sigil_scalar_is_zero(a))
        return SIGIL_E_ZERO;
    if (is_ed(g)) {
        sigil_point t, u;
        if ((rc = sigil_point_mul_public(g, &t, p, a)))
            return rc;
        if (sigil_scalar_is_zero(b)) {
            *r = t;
            return SIGIL_OK;
        }
        if ((rc = sigil_point_base_mul(g, &u, b)))
            return rc;
        return sigil_point_add(g, r, &t, &u);
    }
    int done = secp_mul_add_base_recover(r, p, a, b);
    if (done != 1)
        return done; /* SIGIL_OK or SIGIL_E_IDENTITY */
    /* x(P) = 0 mod n (never happens for a point of unknown discrete log):
     * a*P by pubkey_tweak_mul, then + b*G by pubkey_tweak_add (both
     * variable-time; tweak_add fails exactly on the point at infinity) */
    secp256k1_pubkey pk;
    memcpy(&pk, cpk_of(p), sizeof(pk));
    if (!secp256k1_ec_pubkey_tweak_mul(secp_ctx, &pk, a->v))
        return SIGIL_E_ZERO;
    if (!secp256k1_ec_pubkey_tweak_add(secp_ctx, &pk, b->v))
        return SIGIL_E_IDENTITY;
    memset(r, 0, sizeof(*r));
    memcpy(pk_of(r), &pk, sizeof(pk));
    return SIGIL_OK;
}

int sigil_point_parse_mul_public(const sigil_group *g, sigil_point *p, sigil_point *r, const uint8_t *in,
                                 size_t n, const sigil_scalar *s)
{
    if (!is_ed(g)) {
        int rc = sigil_point_parse(g, p, in, n);
        return rc ? rc : sigil_point_mul_public(g, r, p, s);
    }
    memset(p, 0, sizeof(*p));
    if (n != 32 || in == NULL)
        return SIGIL_E_POINT;
    if (sodium_memcmp(in, ed_identity, 32) == 0)
        return SIGIL_E_IDENTITY;
    if (sigil_scalar_is_zero(s))
        return SIGIL_E_ZERO;
    /* crypto_scalarmult_ed25519_noclamp refuses exactly what
     * crypto_core_ed25519_is_valid_point refuses (non-canonical, small
     * order, off the curve, outside the prime-order subgroup); with s != 0
     * mod L and a prime-order point the product is never the identity */
    uint8_t out[32];
    if (crypto_scalarmult_ed25519_noclamp(out, s->v, in) != 0)
        return SIGIL_E_POINT;
    memcpy(p->v, in, 32);
    memset(r, 0, sizeof(*r));
    memcpy(r->v, out, 32);
    return SIGIL_OK;
}

int sigil_point_sum(const sigil_group *g, sigil_point *r, const sigil_point *pts, size_t n)
{
    if (n == 0 || pts == NULL)
        return SIGIL_E_INVALID;
    if (is_ed(g)) {
        /* Intermediate sums may pass through the identity (libsodium encodes
         * it); only the final result is checked. */
        uint8_t acc[32];
        memcpy(acc, pts[0].v, 32);
        for (size_t i = 1; i < n; i++)
            if (crypto_core_ed25519_add(acc, acc, pts[i].v) != 0)
                return SIGIL_E_POINT;
        if (sodium_memcmp(acc, ed_identity, 32) == 0)
            return SIGIL_E_IDENTITY;
        memset(r, 0, sizeof(*r));
        memcpy(r->v, acc, 32);
        return SIGIL_OK;
    }
    const secp256k1_pubkey **ins = malloc(n * sizeof(*ins));
    if (ins == NULL)
        return SIGIL_E_NOMEM;
    for (size_t i = 0; i < n; i++)
        ins[i] = cpk_of(&pts[i]);
    secp256k1_pubkey out;
    /* fails exactly when the sum is infinity */
    int ok = n == 1 ? (memcpy(&out, ins[0], sizeof(out)), 1)
                    : secp256k1_ec_pubkey_combine(secp_ctx, &out, ins, n);
    free(ins);
    if (!ok)
        return SIGIL_E_IDENTITY;
    memset(r, 0, sizeof(*r));
    memcpy(pk_of(r), &out, sizeof(out));
    return SIGIL_OK;
}

int sigil_point_add(const sigil_group *g, sigil_point *r, const sigil_point *a, const sigil_point *b)
{
    if (is_ed(g)) {
        uint8_t out[32];
        if (crypto_core_ed25519_add(out, a->v, b->v) != 0)
            return SIGIL_E_POINT;
        if (sodium_memcmp(out, ed_identity, 32) == 0)
            return SIGIL_E_IDENTITY;
        memset(r, 0, sizeof(*r));
        memcpy(r->v, out, 32);
        return SIGIL_OK;
    }
    const secp256k1_pubkey *ins[2] = {cpk_of(a), cpk_of(b)};
    secp256k1_pubkey out;
    if (!secp256k1_ec_pubkey_combine(secp_ctx, &out, ins, 2))
        return SIGIL_E_IDENTITY;
    memset(r, 0, sizeof(*r));
    memcpy(pk_of(r), &out, sizeof(out));
    return SIGIL_OK;
}

void sigil_point_neg(const sigil_group *g, sigil_point *r, const sigil_point *a)
{
    if (is_ed(g)) {
        /* -(x, y) = (-x, y): flip the sign bit of x. x != 0 for every point
         * of the prime-order subgroup other than the identity. */
        memmove(r->v, a->v, 32);
        memset(r->v + 32, 0, sizeof(r->v) - 32);
        r->v[31] ^= 0x80;
        return;
    }
    secp256k1_pubkey pk;
    memcpy(&pk, cpk_of(a), sizeof(pk));
    int ignored = secp256k1_ec_pubkey_negate(secp_ctx, &pk);
    (void)ignored;
    memset(r, 0, sizeof(*r));
    memcpy(pk_of(r), &pk, sizeof(pk));
}

int sigil_point_sub(const sigil_group *g, sigil_point *r, const sigil_point *a, const sigil_point *b)
{
    if (is_ed(g)) {
        uint8_t out[32];
        if (crypto_core_ed25519_sub(out, a->v, b->v) != 0)
            return SIGIL_E_POINT;
        if (sodium_memcmp(out, ed_identity, 32) == 0)
            return SIGIL_E_IDENTITY;
        memset(r, 0, sizeof(*r));
        memcpy(r->v, out, 32);
        return SIGIL_OK;
    }
    sigil_point nb;
    sigil_point_neg(g, &nb, b);
    return sigil_point_add(g, r, a, &nb);
}

int sigil_point_eq(const sigil_group *g, const sigil_point *a, const sigil_point *b)
{
    uint8_t ea[33], eb[33];
    sigil_point_serialize(g, ea, a);
    sigil_point_serialize(g, eb, b);
    return sigil_memeq(ea, eb, g->point_len);
}

int sigil_point_is_even_y(const sigil_group *g, const sigil_point *p)
{
    if (is_ed(g))
        return SIGIL_E_INVALID;
    uint8_t e[33];
    sigil_point_serialize(g, e, p);
    return e[0] == 0x02;
}

int sigil_point_x(const sigil_group *g, uint8_t out[32], const sigil_point *p)
{
    if (is_ed(g))
        return SIGIL_E_INVALID;
    uint8_t e[33];
    sigil_point_serialize(g, e, p);
    memcpy(out, e + 1, 32);
    return SIGIL_OK;
}

int sigil_point_secp256k1_pubkey(const sigil_group *g, void *out, const sigil_point *p)
{
    if (is_ed(g))
        return SIGIL_E_INVALID;
    memcpy(out, cpk_of(p), sizeof(secp256k1_pubkey));
    return SIGIL_OK;
}

/* ---- encodings through sigil_buf ---- */

int sigil_scalar_put(const sigil_group *g, sigil_buf *b, const sigil_scalar *s)
{
    (void)g;
    return sigil_buf_put(b, s->v, 32);
}

int sigil_scalar_get(const sigil_group *g, sigil_buf *b, sigil_scalar *s)
{
    if (sigil_buf_len(b) < 32)
        return SIGIL_E_TRUNCATED;
    int rc = sigil_scalar_parse(g, s, sigil_buf_ptr(b));
    if (rc != SIGIL_OK)
        return rc;
    const uint8_t *skip;
    return sigil_buf_get_ptr(b, 32, &skip);
}

int sigil_point_put(const sigil_group *g, sigil_buf *b, const sigil_point *p)
{
    uint8_t *dst;
    int rc = sigil_buf_reserve(b, g->point_len, &dst);
    if (rc != SIGIL_OK)
        return rc;
    sigil_point_serialize(g, dst, p);
    return SIGIL_OK;
}

int sigil_point_get(const sigil_group *g, sigil_buf *b, sigil_point *p)
{
    if (sigil_buf_len(b) < g->point_len)
        return SIGIL_E_TRUNCATED;
    int rc = sigil_point_parse(g, p, sigil_buf_ptr(b), g->point_len);
    if (rc != SIGIL_OK)
        return rc;
    const uint8_t *skip;
    return sigil_buf_get_ptr(b, g->point_len, &skip);
}
