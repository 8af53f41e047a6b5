/* Helpers shared by the OT setup and the OT extension. */
#include <string.h>

#include "ot_internal.h"
#include "sigil/err.h"

void ot_hash_init(ot_hash *h, const char *label)
{
    crypto_generichash_init(&h->st, NULL, 0, 32);
    ot_hash_put(h, label, strlen(label));
}

void ot_hash_u32(ot_hash *h, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    crypto_generichash_update(&h->st, b, 4);
}

void ot_hash_put(ot_hash *h, const void *p, size_t n)
{
    ot_hash_u32(h, (uint32_t)n);
    if (n > 0)
        crypto_generichash_update(&h->st, p, n);
}

void ot_hash_final(ot_hash *h, uint8_t out[32])
{
    crypto_generichash_final(&h->st, out, 32);
    sodium_memzero(h, sizeof(*h));
}

void ot_sid_digest(uint8_t out[32], const uint8_t *sid, size_t sid_len)
{
    ot_hash h;
    ot_hash_init(&h, "sigil/ot/v1/sid");
    ot_hash_put(&h, sid, sid_len);
    ot_hash_final(&h, out);
}

void ot_ct_select(uint8_t *r, const uint8_t *a, const uint8_t *b, size_t n, uint8_t bit)
{
    uint8_t m = (uint8_t)(0u - (unsigned)(bit & 1));
    for (size_t i = 0; i < n; i++)
        r[i] = (uint8_t)(a[i] ^ (m & (a[i] ^ b[i])));
}

int ot_hdr_put(sigil_buf *b, uint8_t tag, sigil_ot_party s, sigil_ot_party r, const uint8_t sidh[32])
{
    int rc;
    if ((rc = sigil_buf_put_u8(b, tag)) || (rc = sigil_buf_put_u8(b, OT_MSG_VERSION)) ||
        (rc = sigil_buf_put_u16(b, s)) || (rc = sigil_buf_put_u16(b, r)) || (rc = sigil_buf_put(b, sidh, 32)))
        return rc;
    return SIGIL_OK;
}

int ot_hdr_get(sigil_buf *b, uint8_t tag, sigil_ot_party s, sigil_ot_party r, const uint8_t sidh[32])
{
    uint8_t t, v;
    uint16_t gs, gr;
    const uint8_t *h;
    int rc;
    if ((rc = sigil_buf_get_u8(b, &t)) || (rc = sigil_buf_get_u8(b, &v)))
        return rc;
    if (t != tag || v != OT_MSG_VERSION)
        return SIGIL_E_VERSION;
    if ((rc = sigil_buf_get_u16(b, &gs)) || (rc = sigil_buf_get_u16(b, &gr)))
        return rc;
    if (gs != s || gr != r)
        return SIGIL_E_PARTICIPANT;
    if ((rc = sigil_buf_get_ptr(b, 32, &h)))
        return rc;
    if (!sigil_memeq(h, sidh, 32))
        return SIGIL_E_SESSION;
    return SIGIL_OK;
}

void *ot_secure_alloc(size_t n)
{
    /* sodium_malloc places the block against its guard page, so the
     * pointer is only as aligned as the size: round up for structs */
    n = (n + 15) & ~(size_t)15;
    void *p = sodium_malloc(n);
    if (p)
        memset(p, 0, n);
    return p;
}
