/* OT extension: KOS15 with its consistency check (as analysed in
 * SoftSpokenOT, eprint 2022/192, = SoftSpoken with k = 1), Fiat-Shamir
 * challenge, then correlated OT over Z_q (q = secp256k1 order).
 *
 * Notation (kappa = 128 base OTs, m = rows including the check's padding):
 *   receiver: x in {0,1}^m (choice bits, then EXTRA random bits),
 *             t^i = G(k_{i,0}), u^i = t^i ^ G(k_{i,1}) ^ x       (columns)
 *   sender:   q^i = G(k_{i,Delta_i}) ^ Delta_i * u^i = t^i ^ Delta_i * x,
 *             so row-wise q_j = t_j ^ x_j * Delta.
 *   check:    chi_j in GF(2^128) from H(session, u); receiver sends
 *             xs = sum chi_j x_j, ts = sum chi_j t_j; sender checks
 *             ts == sum chi_j q_j + xs * Delta.
 *   COT:      h_c(j, i) = Hs(j, i, q_j ^ c*Delta) in Z_q (TCCR hash);
 *             sender t_A = h_0, sends tau = alpha + h_1 - h_0;
 *             receiver t_B = x_j * tau - h_{x_j}.  Then t_A + t_B = x_j * alpha.
 *
 * Primitives (measured on this machine, see docs/modules/mpc-ot.md):
 *   G     AES-128-CTR keyed by the seed, IV = H(session, column) (OpenSSL EVP,
 *         AES-NI);
 *   Hs    TCCR hash pi(pi(x) ^ tweak) ^ pi(x) (Guo-Katz-Wang-Yu, eprint
 *         2019/074) with pi = AES-128 under a per-session key, two blocks per
 *         scalar, big-endian, reduced mod q (bias < 2^-127);
 *   GF(2^128) multiplication by PCLMULQDQ when the CPU has it, otherwise a
 *         constant-time portable carry-less multiply.
 * All secret-dependent work is branch-free; the only secret-dependent
 * branch is the reduction of a hash value >= q (probability < 2^-127). */
#include <gmp.h>
#include <openssl/evp.h>
#include <string.h>

#include "ot_internal.h"
#include "sigil/err.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define OT_X86 1
#endif

#define EXTRA (SIGIL_OT_KAPPA + 64) /* padding rows hiding the choice bits in the check */
/* header: common header, setup fingerprint, ell, width, then the sending
 * party's fresh 16-byte nonce (see session_key) */
#define EXT_HDR_LEN (OT_HDR_LEN + 32 + 4 + 1 + 16)
#define CHUNK 64 /* rows hashed per batch */

static size_t rows_for(size_t ell)
{
    return (ell + EXTRA + 7) & ~(size_t)7;
}

size_t sigil_ot_ext_msg1_len(size_t ell)
{
    return EXT_HDR_LEN + OT_KBYTES * rows_for(ell) + 2 * OT_KBYTES;
}

size_t sigil_ot_ext_msg2_len(size_t ell, size_t width)
{
    return EXT_HDR_LEN + SIGIL_SCALAR_LEN * ell * width;
}

struct sigil_ot_ext_recv {
    sigil_ot_party sender, receiver;
    size_t ell, width;
    uint8_t sidh[32], fp[32], key[32];
    uint8_t *x;       /* ell choice bits, packed (in the same allocation) */
    uint8_t *t;       /* ell rows t_j (in the same allocation) */
    uint8_t *scratch; /* per-step work space (same allocation), zeroized after each step */
    size_t scratch_len;
};

static const sigil_group *secp(void)
{
    return sigil_group_get(SIGIL_GROUP_SECP256K1);
}

/* ---- session keys ---- */

/* Session key E, from which every PRG IV, hash key and challenge derives.
 * Besides the session id it binds a fresh nonce of the receiver (msg1), and
 * the hash key also a fresh nonce of the sender (msg2): a caller that
 * reuses a session id by mistake still gets independent PRG streams (the
 * sender cannot XOR two u matrices into the receiver's choices) and
 * independent hash outputs (the receiver cannot subtract two corrections
 * into the sender's alphas). Session ids must stay unique regardless: the
 * nonces are defence in depth, the sid check is what rejects replays. */
static void session_key(uint8_t out[32], const uint8_t sidh[32], sigil_ot_party s, sigil_ot_party r,
                        const uint8_t fp[32], size_t ell, size_t width, const uint8_t rn[16])
{
    ot_hash h;
    ot_hash_init(&h, "sigil/ot/v1/ext/session");
    ot_hash_put(&h, rn, 16);
    ot_hash_put(&h, sidh, 32);
    ot_hash_u32(&h, s);
    ot_hash_u32(&h, r);
    ot_hash_put(&h, fp, 32);
    ot_hash_u32(&h, (uint32_t)ell);
    ot_hash_u32(&h, (uint32_t)width);
    ot_hash_final(&h, out);
}

static void subkey(uint8_t out[OT_KBYTES], const uint8_t key[32], const char *label, uint32_t i, const uint8_t *p,
                   size_t n)
{
    uint8_t d[32];
    ot_hash h;
    ot_hash_init(&h, label);
    ot_hash_put(&h, key, 32);
    ot_hash_u32(&h, i);
    ot_hash_put(&h, p, n);
    ot_hash_final(&h, d);
    memcpy(out, d, OT_KBYTES);
    sodium_memzero(d, sizeof(d));
}

/* ---- AES through OpenSSL EVP ---- */

/* Select AES-128-CTR on c once per call; prg() then only re-keys (the
 * implicit algorithm fetch of a full init costs more than the AES). */
static int prg_init(EVP_CIPHER_CTX *c)
{
    return EVP_EncryptInit_ex(c, EVP_aes_128_ctr(), NULL, NULL, NULL) == 1 ? SIGIL_OK : SIGIL_E_CRYPTO;
}

/* out = AES-128-CTR keystream (n bytes) under key, iv. */
static int prg(EVP_CIPHER_CTX *c, const uint8_t key[16], const uint8_t iv[16], uint8_t *out, size_t n)
{
    int len;
    memset(out, 0, n);
    if (EVP_EncryptInit_ex(c, NULL, NULL, key, iv) != 1 ||
        EVP_EncryptUpdate(c, out, &len, out, (int)n) != 1 || (size_t)len != n)
        return SIGIL_E_CRYPTO;
    return SIGIL_OK;
}

static int ecb(EVP_CIPHER_CTX *c, uint8_t *out, const uint8_t *in, size_t n)
{
    int len;
    if (EVP_EncryptUpdate(c, out, &len, in, (int)n) != 1 || (size_t)len != n)
        return SIGIL_E_CRYPTO;
    return SIGIL_OK;
}

/* TCCR hash of nrows 16-byte inputs (rows j0.. of the session, input k of
 * row j at in[k * 16]; the first nrows/reps inputs are one copy of the
 * rows, repeated reps times with the same tweaks) into nrows * 2 * width
 * blocks at out: out[(k * 2w + c) * 16] = pi(pi(x_k) ^ tweak(j, c)) ^ pi(x_k).
 * y and z are scratch of nrows and nrows * 2 * width blocks. */
static int tccr(EVP_CIPHER_CTX *c, uint8_t *out, const uint8_t *in, size_t nrows, size_t per, size_t j0,
                size_t width, uint8_t *y)
{
    size_t w2 = 2 * width;
    int rc;
    if ((rc = ecb(c, y, in, nrows * 16)))
        return rc;
    /* tweak(j, c) = le64(j) || le64(c), XORed word-wise (byte order of the
     * words does not matter as long as it is fixed: both sides run this) */
    for (size_t k = 0; k < nrows; k++) {
        uint64_t j = j0 + k % per, y0, y1;
        memcpy(&y0, y + k * 16, 8);
        memcpy(&y1, y + k * 16 + 8, 8);
        for (size_t cc = 0; cc < w2; cc++) {
            uint64_t z0 = y0 ^ j, z1 = y1 ^ (uint64_t)cc;
            memcpy(out + (k * w2 + cc) * 16, &z0, 8);
            memcpy(out + (k * w2 + cc) * 16 + 8, &z1, 8);
        }
    }
    if ((rc = ecb(c, out, out, nrows * w2 * 16)))
        return rc;
    for (size_t k = 0; k < nrows; k++) {
        uint64_t y0, y1, o0, o1;
        memcpy(&y0, y + k * 16, 8);
        memcpy(&y1, y + k * 16 + 8, 8);
        for (size_t cc = 0; cc < w2; cc++) {
            uint8_t *o = out + (k * w2 + cc) * 16;
            memcpy(&o0, o, 8);
            memcpy(&o1, o + 8, 8);
            o0 ^= y0;
            o1 ^= y1;
            memcpy(o, &o0, 8);
            memcpy(o + 8, &o1, 8);
        }
    }
    return SIGIL_OK;
}

/* ---- arithmetic mod q (secp256k1 order), constant-time, GMP mpn ----
 * The hot loop works on 4-limb values; GMP's mpn_cnd_* / mpn_cnd_swap are
 * side-channel silent, mpn_add_n / mpn_sub_n have no data-dependent
 * branches. Hash outputs (256 bits) are reduced by one conditional
 * subtraction: the result is within 2^-127 of uniform mod q. */
#define QL 4
_Static_assert(GMP_NUMB_BITS == 64, "64-bit limbs");
static const mp_limb_t Q[QL] = {0xBFD25E8CD0364141ull, 0xBAAEDCE6AF48A03Bull, 0xFFFFFFFFFFFFFFFEull,
                                0xFFFFFFFFFFFFFFFFull};

static uint64_t load_be64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static void store_be64(uint8_t *p, uint64_t v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    memcpy(p, &v, 8);
}

static void be_to_limbs(mp_limb_t r[QL], const uint8_t b[32])
{
    for (int k = 0; k < QL; k++)
        r[k] = load_be64(b + 8 * (QL - 1 - k));
}

static void limbs_to_be(uint8_t b[32], const mp_limb_t r[QL])
{
    for (int k = 0; k < QL; k++)
        store_be64(b + 8 * (QL - 1 - k), r[k]);
}

/* r < 2^256 -> r mod q */
static void modq_reduce(mp_limb_t r[QL])
{
    mp_limb_t t[QL];
    mp_limb_t borrow = mpn_sub_n(t, r, Q, QL);
    mpn_cnd_swap(1 - borrow, r, t, QL);
}

/* r = a + b mod q, a, b < q */
static void modq_add(mp_limb_t r[QL], const mp_limb_t a[QL], const mp_limb_t b[QL])
{
    mp_limb_t t[QL];
    mp_limb_t carry = mpn_add_n(r, a, b, QL);
    mp_limb_t borrow = mpn_sub_n(t, r, Q, QL);
    mpn_cnd_swap(carry | (1 - borrow), r, t, QL);
}

/* r = a - b mod q, a, b < q */
static void modq_sub(mp_limb_t r[QL], const mp_limb_t a[QL], const mp_limb_t b[QL])
{
    mp_limb_t borrow = mpn_sub_n(r, a, b, QL);
    mpn_cnd_add_n(borrow, r, r, Q, QL);
}

/* 1 if the 32 big-endian bytes are < q (public data). */
static int modq_canonical(const uint8_t b[32])
{
    mp_limb_t v[QL], t[QL];
    be_to_limbs(v, b);
    return mpn_sub_n(t, v, Q, QL) != 0;
}

/* ---- GF(2^128), modulus x^128 + x^7 + x^2 + x + 1 ---- */

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

typedef void (*gf_mul_acc_fn)(uint64_t acc[4], const uint8_t a[16], const uint8_t b[16]);

static void clmul64(uint64_t a, uint64_t b, uint64_t *lo, uint64_t *hi)
{
    uint64_t l = 0, h = 0;
    for (unsigned i = 0; i < 64; i++) {
        uint64_t m = 0 - ((b >> i) & 1);
        l ^= (a << i) & m;
        h ^= ((a >> 1) >> (63 - i)) & m;
    }
    *lo = l;
    *hi = h;
}

/* acc ^= a * b, unreduced (constant-time). */
static void gf_mul_acc_portable(uint64_t acc[4], const uint8_t a[16], const uint8_t b[16])
{
    uint64_t a0 = le64(a), a1 = le64(a + 8), b0 = le64(b), b1 = le64(b + 8);
    uint64_t l0, h0, l1, h1, l2, h2, l3, h3;
    clmul64(a0, b0, &l0, &h0);
    clmul64(a1, b1, &l1, &h1);
    clmul64(a0, b1, &l2, &h2);
    clmul64(a1, b0, &l3, &h3);
    acc[0] ^= l0;
    acc[1] ^= h0 ^ l2 ^ l3;
    acc[2] ^= l1 ^ h2 ^ h3;
    acc[3] ^= h1;
}

#ifdef OT_X86
__attribute__((target("pclmul,sse2"))) static void gf_mul_acc_clmul(uint64_t acc[4], const uint8_t a[16],
                                                                     const uint8_t b[16])
{
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)a);
    __m128i y = _mm_loadu_si128((const __m128i *)(const void *)b);
    __m128i lo = _mm_clmulepi64_si128(x, y, 0x00);
    __m128i hi = _mm_clmulepi64_si128(x, y, 0x11);
    __m128i mid = _mm_xor_si128(_mm_clmulepi64_si128(x, y, 0x10), _mm_clmulepi64_si128(x, y, 0x01));
    uint64_t l[2], h[2], md[2];
    _mm_storeu_si128((__m128i *)(void *)l, lo);
    _mm_storeu_si128((__m128i *)(void *)h, hi);
    _mm_storeu_si128((__m128i *)(void *)md, mid);
    acc[0] ^= l[0];
    acc[1] ^= l[1] ^ md[0];
    acc[2] ^= h[0] ^ md[1];
    acc[3] ^= h[1];
}
#endif

static gf_mul_acc_fn gf_pick(void)
{
#ifdef OT_X86
    if (__builtin_cpu_supports("pclmul"))
        return gf_mul_acc_clmul;
#endif
    return gf_mul_acc_portable;
}

static void gf_reduce(uint8_t out[16], const uint64_t acc[4])
{
    uint64_t r0 = acc[0], r1 = acc[1], r2 = acc[2], r3 = acc[3];
    r2 ^= (r3 >> 63) ^ (r3 >> 62) ^ (r3 >> 57);
    r1 ^= r3 ^ (r3 << 1) ^ (r3 << 2) ^ (r3 << 7);
    r1 ^= (r2 >> 63) ^ (r2 >> 62) ^ (r2 >> 57);
    r0 ^= r2 ^ (r2 << 1) ^ (r2 << 2) ^ (r2 << 7);
    put_le64(out, r0);
    put_le64(out + 8, r1);
}

/* ---- bit-matrix transpose: 128 columns of m bits -> m rows of 128 bits ---- */

static void transpose(uint8_t *rows, const uint8_t *cols, size_t m)
{
    size_t cb = m / 8;
#ifdef __SSE2__
    for (size_t i0 = 0; i0 < SIGIL_OT_KAPPA; i0 += 16) {
        for (size_t jb = 0; jb < cb; jb++) {
            uint8_t tmp[16];
            for (size_t k = 0; k < 16; k++)
                tmp[k] = cols[(i0 + k) * cb + jb];
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)tmp);
            for (int bit = 7; bit >= 0; bit--) {
                unsigned mm = (unsigned)_mm_movemask_epi8(v);
                uint8_t *r = rows + (jb * 8 + (size_t)bit) * 16 + i0 / 8;
                r[0] = (uint8_t)mm;
                r[1] = (uint8_t)(mm >> 8);
                v = _mm_slli_epi64(v, 1);
            }
            sodium_memzero(tmp, sizeof(tmp));
        }
    }
#else
    memset(rows, 0, m * 16);
    for (size_t i = 0; i < SIGIL_OT_KAPPA; i++)
        for (size_t j = 0; j < m; j++)
            rows[j * 16 + i / 8] |= (uint8_t)(ot_bit(cols + i * cb, j) << (i % 8));
#endif
}

/* chi_j for j < m, from the session key and the u matrix. */
static int challenges(EVP_CIPHER_CTX *c, uint8_t *chi, size_t m, const uint8_t key[32], const uint8_t *u,
                      size_t ulen)
{
    /* the seed hashes all of u (16 m bytes): SHA-256, which OpenSSL runs
     * with the SHA extensions here, is ~2.7x faster than BLAKE2b on it */
    static const uint8_t zero_iv[16];
    static const char label[] = "sigil/ot/v1/ext/chi";
    uint8_t d[32];
    unsigned int dlen = 0;
    EVP_MD_CTX *h = EVP_MD_CTX_new();
    int rc = SIGIL_E_CRYPTO;
    if (h != NULL && EVP_DigestInit_ex(h, EVP_sha256(), NULL) == 1 &&
        EVP_DigestUpdate(h, label, sizeof(label)) == 1 && EVP_DigestUpdate(h, key, 32) == 1 &&
        EVP_DigestUpdate(h, u, ulen) == 1 && EVP_DigestFinal_ex(h, d, &dlen) == 1 && dlen == 32)
        rc = prg(c, d, zero_iv, chi, m * 16);
    EVP_MD_CTX_free(h);
    sodium_memzero(d, sizeof(d));
    return rc;
}

static int writable(const sigil_buf *b)
{
    return b != NULL && !(b->flags & SIGIL_BUF_READONLY);
}

static int ext_args(const uint8_t *sid, size_t sid_len, size_t ell, size_t width)
{
    if (sid == NULL || sid_len == 0 || sid_len > SIGIL_OT_MAX_SID || ell == 0 || ell > SIGIL_OT_MAX_ELL ||
        width == 0 || width > SIGIL_OT_MAX_WIDTH)
        return SIGIL_E_INVALID;
    if (secp() == NULL)
        return SIGIL_E_CRYPTO;
    return SIGIL_OK;
}

static int ext_hdr_put(sigil_buf *b, uint8_t tag, sigil_ot_party s, sigil_ot_party r, const uint8_t sidh[32],
                       const uint8_t fp[32], size_t ell, size_t width, const uint8_t nonce[16])
{
    int rc;
    if ((rc = ot_hdr_put(b, tag, s, r, sidh)) || (rc = sigil_buf_put(b, fp, 32)) ||
        (rc = sigil_buf_put_u32(b, (uint32_t)ell)) || (rc = sigil_buf_put_u8(b, (uint8_t)width)) ||
        (rc = sigil_buf_put(b, nonce, 16)))
        return rc;
    return SIGIL_OK;
}

static int ext_hdr_get(sigil_buf *b, uint8_t tag, sigil_ot_party s, sigil_ot_party r, const uint8_t sidh[32],
                       const uint8_t fp[32], size_t ell, size_t width, const uint8_t **nonce)
{
    const uint8_t *f;
    uint32_t l;
    uint8_t w;
    int rc;
    if ((rc = ot_hdr_get(b, tag, s, r, sidh)) || (rc = sigil_buf_get_ptr(b, 32, &f)))
        return rc;
    if (!sigil_memeq(f, fp, 32))
        return SIGIL_E_MISMATCH;
    if ((rc = sigil_buf_get_u32(b, &l)) || (rc = sigil_buf_get_u8(b, &w)))
        return rc;
    if (l != ell || w != width)
        return SIGIL_E_MISMATCH;
    return sigil_buf_get_ptr(b, 16, nonce);
}

void sigil_ot_ext_recv_free(sigil_ot_ext_recv *st)
{
    if (st != NULL)
        sodium_free(st); /* one allocation: state, x, t; zeroized */
}

/* ---- receiver, step 1 ---- */

/* The receiver's first step. For tests of the consistency check only,
 * xalt (rows_for(ell) / 8 bytes) and altcols (16 bytes, a bit per column)
 * make a MALICIOUS receiver: the columns i with bit i of altcols set encode
 * the choice vector xalt instead of x, everything else stays honest. The
 * public function always passes NULL. */
static int receive_start_impl(sigil_ot_ext_recv **out, const sigil_ot_receiver *r, const uint8_t *sid,
                              size_t sid_len, size_t ell, size_t width, const uint8_t *choices, sigil_buf *msg1,
                              const uint8_t *xalt, const uint8_t *altcols)
{
    sigil_ot_ext_recv *st = NULL;
    EVP_CIPHER_CTX *c = NULL;
    uint8_t *sec = NULL, *u = NULL;
    uint8_t iv[16], xs[16], ts[16], rn[16];
    uint64_t accx[2] = {0, 0}, acct[4] = {0, 0, 0, 0};
    sigil_buf m;
    int rc;

    if (out == NULL)
        return SIGIL_E_INVALID;
    *out = NULL;
    if (r == NULL || choices == NULL || !writable(msg1))
        return SIGIL_E_INVALID;
    if ((rc = ext_args(sid, sid_len, ell, width)))
        return rc;
    if ((ell % 8) && (choices[ell / 8] >> (ell % 8)))
        return SIGIL_E_INVALID;

    size_t mrows = rows_for(ell), cb = mrows / 8, ulen = SIGIL_OT_KAPPA * cb;
    size_t msglen = sigil_ot_ext_msg1_len(ell);
    /* secret scratch: x (cb) | t columns (ulen) | g (cb) | t rows (16 m) */
    size_t seclen = cb + ulen + cb + 16 * mrows;
    sigil_buf_init(&m, msglen, 0);
    /* one secure allocation per extension: state, then the scratch of both
     * steps (sodium_malloc + free costs ~30 us: more than a step) */
    size_t fin_len = 16 * (CHUNK + CHUNK * 2 * width);
    size_t scr = seclen > fin_len ? seclen : fin_len, head = (sizeof(*st) + 15) & ~(size_t)15;
    if ((st = ot_secure_alloc(head + scr + 16 * ell + (ell + 7) / 8)) == NULL ||
        (c = EVP_CIPHER_CTX_new()) == NULL) {
        rc = SIGIL_E_NOMEM;
        goto out;
    }
    st->scratch = (uint8_t *)st + head;
    st->scratch_len = scr;
    st->t = st->scratch + scr;
    st->x = st->t + 16 * ell;
    sec = st->scratch;
    uint8_t *x = sec, *tc = sec + cb, *g = tc + ulen, *rows = g + cb, *chi;
    st->sender = r->sender;
    st->receiver = r->receiver;
    st->ell = ell;
    st->width = width;
    memcpy(st->fp, r->fp, 32);
    memcpy(st->x, choices, (ell + 7) / 8);
    ot_sid_digest(st->sidh, sid, sid_len);
    randombytes_buf(rn, sizeof(rn));
    session_key(st->key, st->sidh, r->sender, r->receiver, r->fp, ell, width, rn);

    /* x = choices || random padding bits */
    randombytes_buf(x, cb);
    for (size_t jb = 0; jb < (ell + 7) / 8; jb++) {
        uint8_t keep = jb < ell / 8 ? 0xff : (uint8_t)((1u << (ell % 8)) - 1);
        x[jb] = (uint8_t)((choices[jb] & keep) | (x[jb] & (uint8_t)~keep));
    }

    if ((rc = ext_hdr_put(&m, OT_MSG_EXT1, r->sender, r->receiver, st->sidh, r->fp, ell, width, rn)) ||
        (rc = sigil_buf_reserve(&m, ulen, &u)))
        goto out;
    /* one IV per session: every column has its own key (seed) */
    subkey(iv, st->key, "sigil/ot/v1/ext/prg", 0, NULL, 0);
    if ((rc = prg_init(c)))
        goto out;
    for (uint32_t i = 0; i < SIGIL_OT_KAPPA; i++) {
        if ((rc = prg(c, r->seed[i][0], iv, tc + i * cb, cb)) || (rc = prg(c, r->seed[i][1], iv, g, cb)))
            goto out;
        const uint8_t *xi = xalt != NULL && ot_bit(altcols, i) ? xalt : x;
        for (size_t k = 0; k < cb; k++)
            u[i * cb + k] = (uint8_t)(tc[i * cb + k] ^ g[k] ^ xi[k]);
    }
    transpose(rows, tc, mrows);

    /* consistency check values, over chi derived from u (Fiat-Shamir);
     * chi reuses the column scratch, which is no longer needed */
    chi = tc;
    if (16 * mrows > ulen + cb) {
        rc = SIGIL_E_INVALID; /* cannot happen: 16 m == kappa * m / 8 */
        goto out;
    }
    if ((rc = challenges(c, chi, mrows, st->key, u, ulen)))
        goto out;
    gf_mul_acc_fn mul = gf_pick();
    for (size_t j = 0; j < mrows; j++) {
        uint64_t mask = 0 - (uint64_t)ot_bit(x, j);
        accx[0] ^= le64(chi + 16 * j) & mask;
        accx[1] ^= le64(chi + 16 * j + 8) & mask;
        mul(acct, chi + 16 * j, rows + 16 * j);
    }
    put_le64(xs, accx[0]);
    put_le64(xs + 8, accx[1]);
    gf_reduce(ts, acct);
    if ((rc = sigil_buf_put(&m, xs, 16)) || (rc = sigil_buf_put(&m, ts, 16)))
        goto out;
    memcpy(st->t, rows, 16 * ell);
    if ((rc = sigil_buf_put(msg1, m.data, m.size)))
        goto out;
    *out = st;
    st = NULL;
out:
    sodium_memzero(accx, sizeof(accx));
    sodium_memzero(acct, sizeof(acct));
    sodium_memzero(ts, sizeof(ts));
    sodium_memzero(xs, sizeof(xs));
    if (sec)
        sodium_memzero(sec, seclen); /* inside the state's allocation */
    EVP_CIPHER_CTX_free(c);
    sigil_buf_free(&m);
    sigil_ot_ext_recv_free(st);
    return rc;
}

int sigil_ot_ext_receive_start(sigil_ot_ext_recv **out, const sigil_ot_receiver *r, const uint8_t *sid,
                               size_t sid_len, size_t ell, size_t width, const uint8_t *choices, sigil_buf *msg1)
{
    return receive_start_impl(out, r, sid, sid_len, ell, width, choices, msg1, NULL, NULL);
}

/* ---- sender ---- */

int sigil_ot_ext_send(sigil_ot_sender *s, const uint8_t *sid, size_t sid_len, size_t ell, size_t width,
                      const sigil_scalar *alpha, size_t alpha_count, const uint8_t *msg1, size_t msg1_len,
                      sigil_scalar *t_a, sigil_buf *msg2)
{
    EVP_CIPHER_CTX *c = NULL;
    uint8_t *sec = NULL, *tau;
    uint8_t sidh[32], key[32], iv[16], xs[16], ts[16], want[16], hk[16];
    uint64_t acc[4] = {0, 0, 0, 0};
    const uint8_t *u, *pxs, *pts, *rn;
    uint8_t sn[16];
    mp_limb_t l0[QL], l1[QL], la[QL], lt[QL];
    sigil_buf in;
    size_t old_size = 0;
    int rc;

    if (s == NULL || alpha == NULL || t_a == NULL || !writable(msg2) || (msg1 == NULL && msg1_len > 0))
        return SIGIL_E_INVALID;
    if ((rc = ext_args(sid, sid_len, ell, width)))
        return rc;
    if (alpha_count != width && alpha_count != ell * width)
        return SIGIL_E_INVALID;
    memset(t_a, 0, ell * width * sizeof(*t_a));
    for (size_t k = 0; k < alpha_count; k++)
        if (!modq_canonical(alpha[k].v))
            return SIGIL_E_SCALAR;
    old_size = msg2->size;
    if (s->burned)
        return SIGIL_E_USED;

    size_t mrows = rows_for(ell), cb = mrows / 8, ulen = SIGIL_OT_KAPPA * cb, w2 = 2 * width;
    ot_sid_digest(sidh, sid, sid_len);
    sigil_buf_view(&in, msg1, msg1_len);
    if ((rc = ext_hdr_get(&in, OT_MSG_EXT1, s->sender, s->receiver, sidh, s->fp, ell, width, &rn)) ||
        (rc = sigil_buf_get_ptr(&in, ulen, &u)) || (rc = sigil_buf_get_ptr(&in, 16, &pxs)) ||
        (rc = sigil_buf_get_ptr(&in, 16, &pts)) || (rc = sigil_buf_end(&in)))
        return rc;

    /* secret scratch: q columns (ulen) | q rows (16 m) | chi (16 m) |
     * hash in (2 CHUNK blocks) | y (2 CHUNK) | out (2 CHUNK * 2w) */
    size_t seclen = ulen + 32 * mrows + 16 * (4 * CHUNK + 2 * CHUNK * w2);
    /* the work space is kept in the sender state and grows on demand
     * (sodium_malloc + free per call would cost ~30 us) */
    if (s->scratch_len < seclen) {
        if (s->scratch)
            sodium_free(s->scratch);
        s->scratch_len = 0;
        if ((s->scratch = ot_secure_alloc(seclen)) == NULL) {
            rc = SIGIL_E_NOMEM;
            goto out;
        }
        s->scratch_len = seclen;
    }
    sec = s->scratch;
    if ((c = EVP_CIPHER_CTX_new()) == NULL) {
        rc = SIGIL_E_NOMEM;
        goto out;
    }
    uint8_t *qc = sec, *rows = qc + ulen, *chi = rows + 16 * mrows, *hin = chi + 16 * mrows, *hy = hin + 32 * CHUNK,
            *hout = hy + 32 * CHUNK;
    session_key(key, sidh, s->sender, s->receiver, s->fp, ell, width, rn);

    subkey(iv, key, "sigil/ot/v1/ext/prg", 0, NULL, 0);
    if ((rc = prg_init(c)))
        goto out;
    for (uint32_t i = 0; i < SIGIL_OT_KAPPA; i++) {
        uint8_t dmask = (uint8_t)(0u - (unsigned)ot_bit(s->delta, i));
        if ((rc = prg(c, s->seed[i], iv, qc + i * cb, cb)))
            goto out;
        for (size_t k = 0; k < cb; k++)
            qc[i * cb + k] ^= (uint8_t)(u[i * cb + k] & dmask);
    }
    transpose(rows, qc, mrows);

    /* consistency check: ts == sum chi_j q_j + xs * Delta */
    if ((rc = challenges(c, chi, mrows, key, u, ulen)))
        goto out;
    gf_mul_acc_fn mul = gf_pick();
    for (size_t j = 0; j < mrows; j++)
        mul(acc, chi + 16 * j, rows + 16 * j);
    memcpy(xs, pxs, 16);
    memcpy(ts, pts, 16);
    mul(acc, xs, s->delta);
    gf_reduce(want, acc);
    if (!sigil_memeq(want, ts, 16)) {
        s->burned = 1;
        rc = SIGIL_E_CHECK;
        goto out;
    }

    /* correlated OT */
    randombytes_buf(sn, sizeof(sn));
    if ((rc = ext_hdr_put(msg2, OT_MSG_EXT2, s->sender, s->receiver, sidh, s->fp, ell, width, sn)) ||
        (rc = sigil_buf_reserve(msg2, SIGIL_SCALAR_LEN * ell * width, &tau)))
        goto out;
    subkey(hk, key, "sigil/ot/v1/ext/tccr", 0, sn, sizeof(sn));
    if (EVP_EncryptInit_ex(c, EVP_aes_128_ecb(), NULL, hk, NULL) != 1 || EVP_CIPHER_CTX_set_padding(c, 0) != 1) {
        rc = SIGIL_E_CRYPTO;
        goto out;
    }
    for (size_t j0 = 0; j0 < ell; j0 += CHUNK) {
        size_t n = ell - j0 < CHUNK ? ell - j0 : CHUNK;
        for (size_t k = 0; k < n; k++) {
            memcpy(hin + 16 * k, rows + 16 * (j0 + k), 16);
            for (int b = 0; b < 16; b++)
                hin[16 * (n + k) + (size_t)b] = (uint8_t)(rows[16 * (j0 + k) + (size_t)b] ^ s->delta[b]);
        }
        if ((rc = tccr(c, hout, hin, 2 * n, n, j0, width, hy)))
            goto out;
        for (size_t k = 0; k < n; k++) {
            for (size_t i = 0; i < width; i++) {
                size_t j = j0 + k, idx = j * width + i;
                const sigil_scalar *al = alpha_count == width ? &alpha[i] : &alpha[idx];
                be_to_limbs(l0, hout + (k * w2 + 2 * i) * 16);
                be_to_limbs(l1, hout + ((n + k) * w2 + 2 * i) * 16);
                be_to_limbs(la, al->v);
                modq_reduce(l0);
                modq_reduce(l1);
                /* t_A = h0, tau = alpha + h1 - h0 */
                modq_sub(lt, l1, l0);
                modq_add(lt, lt, la);
                limbs_to_be(tau + SIGIL_SCALAR_LEN * idx, lt);
                limbs_to_be(t_a[idx].v, l0);
            }
        }
    }
    rc = SIGIL_OK;
out:
    if (rc != SIGIL_OK) {
        sodium_memzero(t_a, ell * width * sizeof(*t_a));
        if (msg2->size > old_size) { /* leave msg2 as it was on entry */
            sodium_memzero(msg2->data + old_size, msg2->size - old_size);
            msg2->size = old_size;
        }
    }
    sodium_memzero(l0, sizeof(l0));
    sodium_memzero(l1, sizeof(l1));
    sodium_memzero(la, sizeof(la));
    sodium_memzero(lt, sizeof(lt));
    sodium_memzero(acc, sizeof(acc));
    sodium_memzero(want, sizeof(want));
    sodium_memzero(hk, sizeof(hk));
    if (sec)
        sodium_memzero(sec, seclen);
    EVP_CIPHER_CTX_free(c);
    return rc;
}

/* ---- receiver, step 2 ---- */

int sigil_ot_ext_receive_finish(sigil_ot_ext_recv *st, const uint8_t *msg2, size_t msg2_len, sigil_scalar *t_b)
{
    EVP_CIPHER_CTX *c = NULL;
    uint8_t *sec = NULL, hk[16];
    const uint8_t *tau, *sn;
    static const mp_limb_t zero[QL];
    mp_limb_t lh[QL], lv[QL], ln[QL], ls[QL];
    sigil_buf in;
    int rc;

    if (st == NULL || t_b == NULL || (msg2 == NULL && msg2_len > 0)) {
        sigil_ot_ext_recv_free(st);
        return SIGIL_E_INVALID;
    }
    size_t ell = st->ell, width = st->width, w2 = 2 * width;
    memset(t_b, 0, ell * width * sizeof(*t_b));
    sigil_buf_view(&in, msg2, msg2_len);
    if ((rc = ext_hdr_get(&in, OT_MSG_EXT2, st->sender, st->receiver, st->sidh, st->fp, ell, width, &sn)) ||
        (rc = sigil_buf_get_ptr(&in, SIGIL_SCALAR_LEN * ell * width, &tau)) || (rc = sigil_buf_end(&in)))
        goto out;
    /* every correction must be a canonical scalar before anything is output */
    for (size_t k = 0; k < ell * width; k++)
        if (!modq_canonical(tau + SIGIL_SCALAR_LEN * k)) {
            rc = SIGIL_E_SCALAR;
            goto out;
        }

    /* scratch: y (CHUNK blocks) | out (CHUNK * 2w blocks) */
    sec = st->scratch; /* reserved at start for this step */
    if (st->scratch_len < 16 * (CHUNK + CHUNK * w2) || (c = EVP_CIPHER_CTX_new()) == NULL) {
        rc = SIGIL_E_NOMEM;
        goto out;
    }
    uint8_t *hy = sec, *hout = sec + 16 * CHUNK;
    subkey(hk, st->key, "sigil/ot/v1/ext/tccr", 0, sn, 16);
    if (EVP_EncryptInit_ex(c, EVP_aes_128_ecb(), NULL, hk, NULL) != 1 || EVP_CIPHER_CTX_set_padding(c, 0) != 1) {
        rc = SIGIL_E_CRYPTO;
        goto out;
    }
    for (size_t j0 = 0; j0 < ell; j0 += CHUNK) {
        size_t cnt = ell - j0 < CHUNK ? ell - j0 : CHUNK;
        if ((rc = tccr(c, hout, st->t + 16 * j0, cnt, cnt, j0, width, hy)))
            goto out;
        for (size_t k = 0; k < cnt; k++) {
            size_t j = j0 + k;
            uint8_t bit = ot_bit(st->x, j);
            for (size_t i = 0; i < width; i++) {
                size_t idx = j * width + i;
                /* t_B = x_j * tau - h_{x_j} */
                be_to_limbs(lh, hout + (k * w2 + 2 * i) * 16);
                be_to_limbs(lv, tau + SIGIL_SCALAR_LEN * idx);
                modq_reduce(lh);
                modq_sub(ln, zero, lh);
                modq_add(ls, ln, lv);
                mpn_cnd_swap(bit, ln, ls, QL);
                limbs_to_be(t_b[idx].v, ln);
            }
        }
    }
    rc = SIGIL_OK;
out:
    if (rc != SIGIL_OK)
        sodium_memzero(t_b, ell * width * sizeof(*t_b));
    sodium_memzero(lh, sizeof(lh));
    sodium_memzero(ln, sizeof(ln));
    sodium_memzero(ls, sizeof(ls));
    sodium_memzero(hk, sizeof(hk));
    (void)sec; /* inside st: zeroized when st is freed below */
    EVP_CIPHER_CTX_free(c);
    sigil_ot_ext_recv_free(st);
    return rc;
}
