#include "sigil/buf.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "sigil/err.h"

int sigil_buf_init(sigil_buf *b, size_t max, unsigned flags)
{
    if (b == NULL || max == 0 || max > SIGIL_BUF_MAX_LIMIT || (flags & ~SIGIL_BUF_SECRET))
        return SIGIL_E_INVALID;
    memset(b, 0, sizeof(*b));
    b->max = max;
    b->flags = flags;
    return SIGIL_OK;
}

void sigil_buf_view(sigil_buf *b, const uint8_t *p, size_t n)
{
    memset(b, 0, sizeof(*b));
    b->data = (uint8_t *)(uintptr_t)p; /* never written: READONLY */
    b->size = p ? n : 0;
    b->max = b->size;
    b->flags = SIGIL_BUF_READONLY;
}

static void release(uint8_t *p, size_t alloc, unsigned flags)
{
    if (p == NULL)
        return;
    if (flags & SIGIL_BUF_SECRET) {
        sodium_free(p); /* zeroizes */
    } else {
        sodium_memzero(p, alloc);
        free(p);
    }
}

void sigil_buf_free(sigil_buf *b)
{
    if (b == NULL)
        return;
    if (!(b->flags & SIGIL_BUF_READONLY))
        release(b->data, b->alloc, b->flags);
    memset(b, 0, sizeof(*b));
    b->flags = SIGIL_BUF_READONLY;
}

void sigil_buf_reset(sigil_buf *b)
{
    if (b->flags & SIGIL_BUF_READONLY) {
        b->off = 0;
        return;
    }
    if (b->data)
        sodium_memzero(b->data, b->alloc);
    b->size = b->off = 0;
}

int sigil_buf_truncate(sigil_buf *b, size_t size)
{
    if (b == NULL || (b->flags & SIGIL_BUF_READONLY) || size > b->size)
        return SIGIL_E_INVALID;
    if (size < b->size)
        sodium_memzero(b->data + size, b->size - size);
    b->size = size;
    if (b->off > size)
        b->off = size;
    return SIGIL_OK;
}

size_t sigil_buf_len(const sigil_buf *b)
{
    return b->size - b->off;
}

const uint8_t *sigil_buf_ptr(const sigil_buf *b)
{
    return b->data ? b->data + b->off : (const uint8_t *)"";
}

int sigil_buf_reserve(sigil_buf *b, size_t n, uint8_t **p)
{
    if (b == NULL || (b->flags & SIGIL_BUF_READONLY))
        return SIGIL_E_INVALID;
    if (n > b->max - b->size)
        return SIGIL_E_TOO_LARGE;
    if (b->size + n > b->alloc) {
        size_t want = b->alloc ? b->alloc : 64;
        while (want < b->size + n)
            want = want > b->max / 2 ? b->max : want * 2;
        if (want > b->max)
            want = b->max;
        uint8_t *q = (b->flags & SIGIL_BUF_SECRET) ? sodium_malloc(want) : malloc(want);
        if (q == NULL)
            return SIGIL_E_NOMEM;
        if (b->size)
            memcpy(q, b->data, b->size);
        release(b->data, b->alloc, b->flags);
        b->data = q;
        b->alloc = want;
    }
    *p = b->data + b->size;
    b->size += n;
    return SIGIL_OK;
}

int sigil_buf_put(sigil_buf *b, const void *p, size_t n)
{
    uint8_t *q;
    int r;
    if (n == 0)
        return (b && !(b->flags & SIGIL_BUF_READONLY)) ? SIGIL_OK : SIGIL_E_INVALID;
    if ((r = sigil_buf_reserve(b, n, &q)) != SIGIL_OK)
        return r;
    memcpy(q, p, n);
    return SIGIL_OK;
}

int sigil_buf_put_u8(sigil_buf *b, uint8_t v)
{
    return sigil_buf_put(b, &v, 1);
}

int sigil_buf_put_u16(sigil_buf *b, uint16_t v)
{
    uint8_t t[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    return sigil_buf_put(b, t, 2);
}

int sigil_buf_put_u32(sigil_buf *b, uint32_t v)
{
    uint8_t t[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    return sigil_buf_put(b, t, 4);
}

int sigil_buf_put_u64(sigil_buf *b, uint64_t v)
{
    uint8_t t[8];
    for (int i = 0; i < 8; i++)
        t[i] = (uint8_t)(v >> (56 - 8 * i));
    return sigil_buf_put(b, t, 8);
}

int sigil_buf_put_string(sigil_buf *b, const void *p, size_t n)
{
    int r;
    if (n > UINT32_MAX)
        return SIGIL_E_TOO_LARGE;
    if (n > b->max - b->size || 4 > b->max - b->size - n)
        return SIGIL_E_TOO_LARGE;
    if ((r = sigil_buf_put_u32(b, (uint32_t)n)) != SIGIL_OK)
        return r;
    return sigil_buf_put(b, p, n);
}

int sigil_buf_get_ptr(sigil_buf *b, size_t n, const uint8_t **p)
{
    if (b == NULL)
        return SIGIL_E_INVALID;
    if (n > b->size - b->off)
        return SIGIL_E_TRUNCATED;
    *p = sigil_buf_ptr(b);
    b->off += n;
    return SIGIL_OK;
}

int sigil_buf_get(sigil_buf *b, void *out, size_t n)
{
    const uint8_t *p;
    int r = sigil_buf_get_ptr(b, n, &p);
    if (r == SIGIL_OK && n)
        memcpy(out, p, n);
    return r;
}

int sigil_buf_get_u8(sigil_buf *b, uint8_t *v)
{
    return sigil_buf_get(b, v, 1);
}

int sigil_buf_get_u16(sigil_buf *b, uint16_t *v)
{
    const uint8_t *p;
    int r = sigil_buf_get_ptr(b, 2, &p);
    if (r == SIGIL_OK)
        *v = (uint16_t)(((uint16_t)p[0] << 8) | p[1]);
    return r;
}

int sigil_buf_get_u32(sigil_buf *b, uint32_t *v)
{
    const uint8_t *p;
    int r = sigil_buf_get_ptr(b, 4, &p);
    if (r == SIGIL_OK)
        *v = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
    return r;
}

int sigil_buf_get_u64(sigil_buf *b, uint64_t *v)
{
    const uint8_t *p;
    int r = sigil_buf_get_ptr(b, 8, &p);
    if (r == SIGIL_OK) {
        uint64_t x = 0;
        for (int i = 0; i < 8; i++)
            x = (x << 8) | p[i];
        *v = x;
    }
    return r;
}

int sigil_buf_get_string(sigil_buf *b, size_t max, const uint8_t **p, size_t *n)
{
    uint32_t len;
    size_t save;
    int r;
    if (b == NULL)
        return SIGIL_E_INVALID;
    save = b->off;
    if ((r = sigil_buf_get_u32(b, &len)) != SIGIL_OK)
        return r;
    if (len > max) {
        b->off = save;
        return SIGIL_E_TOO_LARGE;
    }
    if ((r = sigil_buf_get_ptr(b, len, p)) != SIGIL_OK) {
        b->off = save;
        return r;
    }
    *n = len;
    return SIGIL_OK;
}

int sigil_buf_end(const sigil_buf *b)
{
    return b->off == b->size ? SIGIL_OK : SIGIL_E_TRAILING;
}

int sigil_memeq(const void *a, const void *b, size_t n)
{
    const volatile uint8_t *x = a, *y = b;
    uint8_t d = 0;
    for (size_t i = 0; i < n; i++)
        d |= x[i] ^ y[i];
    return (1 & ((d - 1) >> 8));
}
