#include "sigil/hash.h"

#include <sodium.h>
#include <string.h>

#include "sigil/err.h"

static void sha256_parts(crypto_hash_sha256_state *st, const sigil_iov *parts, size_t nparts)
{
    for (size_t i = 0; i < nparts; i++)
        if (parts[i].n)
            crypto_hash_sha256_update(st, parts[i].p, parts[i].n);
}

static void sha512_parts(crypto_hash_sha512_state *st, const sigil_iov *parts, size_t nparts)
{
    for (size_t i = 0; i < nparts; i++)
        if (parts[i].n)
            crypto_hash_sha512_update(st, parts[i].p, parts[i].n);
}

/* Precomputed hash states (sigil_hash_init, from sigil_mpc_init): SHA-256
 * after the 64-byte Z_pad block every expand_message_xmd starts with, and
 * after SHA-256(tag) || SHA-256(tag) for the BIP-340 challenge tag. Each
 * saves one or two compressions per hash; results are identical. Until
 * initialised, the states are computed per call. */
static crypto_hash_sha256_state zpad_state, bip340_chal_state;
static int states_ready;
static const char bip340_chal_tag[] = "BIP0340/challenge";

static void zpad_init(crypto_hash_sha256_state *st)
{
    static const uint8_t zpad[64];
    if (states_ready) {
        *st = zpad_state;
        return;
    }
    crypto_hash_sha256_init(st);
    crypto_hash_sha256_update(st, zpad, sizeof(zpad));
}

static void tagged_init(crypto_hash_sha256_state *st, const char *tag)
{
    if (states_ready && strcmp(tag, bip340_chal_tag) == 0) {
        *st = bip340_chal_state;
        return;
    }
    uint8_t th[32];
    crypto_hash_sha256(th, (const uint8_t *)tag, strlen(tag));
    crypto_hash_sha256_init(st);
    crypto_hash_sha256_update(st, th, 32);
    crypto_hash_sha256_update(st, th, 32);
}

void sigil_hash_init(void)
{
    if (states_ready)
        return;
    zpad_init(&zpad_state);
    tagged_init(&bip340_chal_state, bip340_chal_tag);
    states_ready = 1;
}

/* expand_message_xmd(SHA-256) whose b_0 hash already absorbed Z_pad || msg
 * (st); finishes b_0 and derives b_1..b_ell. */
static int xmd_finish(crypto_hash_sha256_state *st, uint8_t *out, size_t len, const uint8_t *dst,
                      size_t dstlen)
{
    enum { B = 32 };
    size_t ell = (len + B - 1) / B;
    if (len == 0 || ell > 255 || dstlen == 0 || dstlen > 255)
        return SIGIL_E_INVALID;
    uint8_t lib[2] = {(uint8_t)(len >> 8), (uint8_t)len}, zero = 0, dl = (uint8_t)dstlen;
    uint8_t b0[B], bi[B], tmp[B];
    crypto_hash_sha256_state stb;

    crypto_hash_sha256_update(st, lib, 2);
    crypto_hash_sha256_update(st, &zero, 1);
    crypto_hash_sha256_update(st, dst, dstlen);
    crypto_hash_sha256_update(st, &dl, 1);
    crypto_hash_sha256_final(st, b0);

    for (size_t i = 1; i <= ell; i++) {
        uint8_t idx = (uint8_t)i;
        if (i == 1) {
            memcpy(tmp, b0, B);
        } else {
            for (size_t k = 0; k < B; k++)
                tmp[k] = (uint8_t)(b0[k] ^ bi[k]);
        }
        crypto_hash_sha256_init(&stb);
        crypto_hash_sha256_update(&stb, tmp, B);
        crypto_hash_sha256_update(&stb, &idx, 1);
        crypto_hash_sha256_update(&stb, dst, dstlen);
        crypto_hash_sha256_update(&stb, &dl, 1);
        crypto_hash_sha256_final(&stb, bi);
        size_t take = len - (i - 1) * B < B ? len - (i - 1) * B : B;
        memcpy(out + (i - 1) * B, bi, take);
    }
    sodium_memzero(b0, sizeof(b0));
    sodium_memzero(bi, sizeof(bi));
    sodium_memzero(tmp, sizeof(tmp));
    sodium_memzero(&stb, sizeof(stb));
    sodium_memzero(st, sizeof(*st));
    return SIGIL_OK;
}

int sigil_hash_xmd_sha256(uint8_t *out, size_t len, const uint8_t *dst, size_t dstlen,
                          const sigil_iov *parts, size_t nparts)
{
    crypto_hash_sha256_state st;
    if (len == 0 || (len + 31) / 32 > 255 || dstlen == 0 || dstlen > 255)
        return SIGIL_E_INVALID;
    zpad_init(&st);
    sha256_parts(&st, parts, nparts);
    return xmd_finish(&st, out, len, dst, dstlen);
}

/* hash_to_field's domain-separation tag: ctx || tag, 1..255 bytes. */
static int make_dst(const char *ctx, const char *tag, uint8_t dst[255], size_t *len)
{
    size_t cl = ctx ? strlen(ctx) : 0, tl = tag ? strlen(tag) : 0;
    if (cl + tl == 0 || cl + tl > 255)
        return SIGIL_E_INVALID;
    if (cl)
        memcpy(dst, ctx, cl);
    if (tl)
        memcpy(dst + cl, tag, tl);
    *len = cl + tl;
    return SIGIL_OK;
}

int sigil_hash_to_scalar(const sigil_group *g, const char *ctx, const char *tag,
                         const sigil_iov *parts, size_t nparts, sigil_scalar *out)
{
    if (sigil_group_id_of(g) == SIGIL_GROUP_ED25519) {
        crypto_hash_sha512_state st;
        uint8_t h[64];
        crypto_hash_sha512_init(&st);
        if (ctx)
            crypto_hash_sha512_update(&st, (const uint8_t *)ctx, strlen(ctx));
        if (tag)
            crypto_hash_sha512_update(&st, (const uint8_t *)tag, strlen(tag));
        sha512_parts(&st, parts, nparts);
        crypto_hash_sha512_final(&st, h);
        int rc = sigil_scalar_reduce(g, out, h, 64);
        sodium_memzero(h, sizeof(h));
        sodium_memzero(&st, sizeof(st));
        return rc;
    }
    uint8_t dst[255], u[48];
    size_t dl;
    if (make_dst(ctx, tag, dst, &dl) != SIGIL_OK)
        return SIGIL_E_INVALID;
    int rc = sigil_hash_xmd_sha256(u, sizeof(u), dst, dl, parts, nparts);
    if (rc == SIGIL_OK)
        rc = sigil_scalar_reduce(g, out, u, sizeof(u));
    sodium_memzero(u, sizeof(u));
    return rc;
}

int sigil_hash_to_scalar_each(const sigil_group *g, const char *ctx, const char *tag, const uint8_t *prefix,
                              size_t plen, const sigil_scalar *suffix, size_t count, sigil_scalar *out)
{
    int rc = SIGIL_OK;
    if (count == 0)
        return SIGIL_OK;
    if (prefix == NULL || suffix == NULL || out == NULL)
        return SIGIL_E_INVALID;
    if (sigil_group_id_of(g) == SIGIL_GROUP_ED25519) {
        crypto_hash_sha512_state st0, st;
        uint8_t h[64];
        crypto_hash_sha512_init(&st0);
        if (ctx)
            crypto_hash_sha512_update(&st0, (const uint8_t *)ctx, strlen(ctx));
        if (tag)
            crypto_hash_sha512_update(&st0, (const uint8_t *)tag, strlen(tag));
        crypto_hash_sha512_update(&st0, prefix, plen);
        for (size_t i = 0; i < count && rc == SIGIL_OK; i++) {
            st = st0;
            crypto_hash_sha512_update(&st, suffix[i].v, sizeof(suffix[i].v));
            crypto_hash_sha512_final(&st, h);
            rc = sigil_scalar_reduce(g, &out[i], h, 64);
        }
        sodium_memzero(h, sizeof(h));
        sodium_memzero(&st0, sizeof(st0));
        sodium_memzero(&st, sizeof(st));
        return rc;
    }
    uint8_t dst[255], u[48];
    size_t dl;
    if (make_dst(ctx, tag, dst, &dl) != SIGIL_OK)
        return SIGIL_E_INVALID;
    crypto_hash_sha256_state st0, st;
    zpad_init(&st0);
    crypto_hash_sha256_update(&st0, prefix, plen);
    for (size_t i = 0; i < count && rc == SIGIL_OK; i++) {
        st = st0;
        crypto_hash_sha256_update(&st, suffix[i].v, sizeof(suffix[i].v));
        rc = xmd_finish(&st, u, sizeof(u), dst, dl);
        if (rc == SIGIL_OK)
            rc = sigil_scalar_reduce(g, &out[i], u, sizeof(u));
    }
    sodium_memzero(u, sizeof(u));
    sodium_memzero(&st0, sizeof(st0));
    return rc;
}

size_t sigil_hash_digest(const sigil_group *g, const char *ctx, const char *tag,
                         const sigil_iov *parts, size_t nparts, uint8_t out[64])
{
    if (sigil_group_id_of(g) == SIGIL_GROUP_ED25519) {
        crypto_hash_sha512_state st;
        crypto_hash_sha512_init(&st);
        if (ctx)
            crypto_hash_sha512_update(&st, (const uint8_t *)ctx, strlen(ctx));
        if (tag)
            crypto_hash_sha512_update(&st, (const uint8_t *)tag, strlen(tag));
        sha512_parts(&st, parts, nparts);
        crypto_hash_sha512_final(&st, out);
        return 64;
    }
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    if (ctx)
        crypto_hash_sha256_update(&st, (const uint8_t *)ctx, strlen(ctx));
    if (tag)
        crypto_hash_sha256_update(&st, (const uint8_t *)tag, strlen(tag));
    sha256_parts(&st, parts, nparts);
    crypto_hash_sha256_final(&st, out);
    return 32;
}

void sigil_hash_tagged(uint8_t out[32], const char *tag, const sigil_iov *parts, size_t nparts)
{
    crypto_hash_sha256_state st;
    tagged_init(&st, tag);
    sha256_parts(&st, parts, nparts);
    crypto_hash_sha256_final(&st, out);
}
