/* C2SP signed notes and tlog checkpoints, Ed25519 (signature type 0x01). */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sigil/audit.h"
#include "sigil/err.h"

#define EM_DASH "\xe2\x80\x94"

static int valid_name(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > SIGIL_AUDIT_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c <= 0x20 || c == '+' || c == 0x7f)
            return 0;
    }
    return 1;
}

uint32_t sigil_audit_key_id(const char *name, const uint8_t pub[32])
{
    crypto_hash_sha256_state st;
    uint8_t h[32];
    static const uint8_t sep[2] = {0x0a, 0x01};
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)name, strlen(name));
    crypto_hash_sha256_update(&st, sep, 2);
    crypto_hash_sha256_update(&st, pub, 32);
    crypto_hash_sha256_final(&st, h);
    return (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
}

static int sodium_sign(void *ctx, const uint8_t *msg, size_t n, uint8_t sig[64])
{
    return crypto_sign_detached(sig, NULL, msg, n, ctx) == 0 ? SIGIL_OK : SIGIL_E_CRYPTO;
}

static void sodium_free_ctx(void *ctx)
{
    sodium_free(ctx); /* zeroizes */
}

int sigil_audit_signer_sodium(sigil_audit_signer *s, const char *name, const uint8_t seed[32])
{
    if (s == NULL || seed == NULL || !valid_name(name))
        return SIGIL_E_INVALID;
    memset(s, 0, sizeof(*s));
    uint8_t *sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    if (sk == NULL)
        return SIGIL_E_NOMEM;
    if (crypto_sign_seed_keypair(s->pub, sk, seed) != 0) {
        sodium_free(sk);
        return SIGIL_E_CRYPTO;
    }
    memcpy(s->name, name, strlen(name) + 1);
    s->sign = sodium_sign;
    s->ctx = sk;
    s->free = sodium_free_ctx;
    return SIGIL_OK;
}

void sigil_audit_signer_free(sigil_audit_signer *s)
{
    if (s == NULL)
        return;
    if (s->free && s->ctx)
        s->free(s->ctx);
    memset(s, 0, sizeof(*s));
}

/* Decode base64 (standard alphabet, padded, canonical) of exactly the
 * n characters at s into at most max bytes. -1 on any error. */
static int b64dec(const char *s, size_t n, uint8_t *out, size_t max, size_t *out_len)
{
    const char *end;
    if (n == 0) {
        *out_len = 0;
        return 0;
    }
    if (sodium_base642bin(out, max, s, n, NULL, out_len, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != s + n)
        return -1;
    return 0;
}

static void b64enc(const uint8_t *p, size_t n, char *out, size_t out_len)
{
    sodium_bin2base64(out, out_len, p, n, sodium_base64_VARIANT_ORIGINAL);
}

int sigil_audit_vkey_format(const char *name, const uint8_t pub[32], char *out, size_t out_len)
{
    uint8_t k[33];
    char b64[sodium_base64_ENCODED_LEN(33, sodium_base64_VARIANT_ORIGINAL)];
    if (!valid_name(name) || pub == NULL || out == NULL)
        return SIGIL_E_INVALID;
    k[0] = 0x01;
    memcpy(k + 1, pub, 32);
    b64enc(k, 33, b64, sizeof(b64));
    int w = snprintf(out, out_len, "%s+%08" PRIx32 "+%s", name, sigil_audit_key_id(name, pub), b64);
    return (w < 0 || (size_t)w >= out_len) ? SIGIL_E_TOO_LARGE : SIGIL_OK;
}

/* Parse "<name>+<8 hex>+<base64(0x01 || 32 bytes)>" (s may be followed by
 * whitespace, e.g. a newline from a file). */
static int parse_key(const char *s, char name[SIGIL_AUDIT_NAME_MAX + 1], uint32_t *id,
                     uint8_t key[32])
{
    const char *p1 = strchr(s, '+');
    if (p1 == NULL || p1 == s || (size_t)(p1 - s) > SIGIL_AUDIT_NAME_MAX)
        return SIGIL_E_ENCODING;
    const char *p2 = strchr(p1 + 1, '+');
    if (p2 == NULL || p2 - p1 - 1 != 8)
        return SIGIL_E_ENCODING;
    memcpy(name, s, (size_t)(p1 - s));
    name[p1 - s] = 0;
    if (!valid_name(name))
        return SIGIL_E_ENCODING;
    uint32_t v = 0;
    for (const char *c = p1 + 1; c < p2; c++) {
        int d = (*c >= '0' && *c <= '9') ? *c - '0' : (*c >= 'a' && *c <= 'f') ? *c - 'a' + 10 : -1;
        if (d < 0)
            return SIGIL_E_ENCODING;
        v = v << 4 | (uint32_t)d;
    }
    *id = v;
    const char *b = p2 + 1;
    size_t bn = strlen(b);
    while (bn && (b[bn - 1] == '\n' || b[bn - 1] == '\r' || b[bn - 1] == ' '))
        bn--;
    uint8_t k[33];
    size_t kn;
    if (b64dec(b, bn, k, sizeof(k), &kn) != 0 || kn != 33 || k[0] != 0x01) {
        sodium_memzero(k, sizeof(k));
        return SIGIL_E_ENCODING;
    }
    memcpy(key, k + 1, 32);
    sodium_memzero(k, sizeof(k));
    return SIGIL_OK;
}

int sigil_audit_vkey_parse(const char *s, char name[SIGIL_AUDIT_NAME_MAX + 1], uint8_t pub[32])
{
    uint32_t id;
    int r;
    if (s == NULL || name == NULL || pub == NULL)
        return SIGIL_E_INVALID;
    if ((r = parse_key(s, name, &id, pub)))
        return r;
    return id == sigil_audit_key_id(name, pub) ? SIGIL_OK : SIGIL_E_MISMATCH;
}

int sigil_audit_skey_parse(const char *s, sigil_audit_signer *out)
{
    static const char pfx[] = "PRIVATE+KEY+";
    char name[SIGIL_AUDIT_NAME_MAX + 1];
    uint8_t seed[32];
    uint32_t id;
    int r;
    if (s == NULL || out == NULL)
        return SIGIL_E_INVALID;
    if (strncmp(s, pfx, sizeof(pfx) - 1) != 0)
        return SIGIL_E_ENCODING;
    if ((r = parse_key(s + sizeof(pfx) - 1, name, &id, seed)))
        return r;
    r = sigil_audit_signer_sodium(out, name, seed);
    sodium_memzero(seed, sizeof(seed));
    if (r)
        return r;
    if (id != sigil_audit_key_id(name, out->pub)) {
        sigil_audit_signer_free(out);
        return SIGIL_E_MISMATCH;
    }
    return SIGIL_OK;
}

int sigil_audit_keygen(const char *name, char *skey, size_t skey_len, char *vkey, size_t vkey_len)
{
    uint8_t k[33], pub[32], sk[64];
    char b64[sodium_base64_ENCODED_LEN(33, sodium_base64_VARIANT_ORIGINAL)];
    int r;
    if (!valid_name(name) || skey == NULL || vkey == NULL)
        return SIGIL_E_INVALID;
    k[0] = 0x01;
    randombytes_buf(k + 1, 32);
    crypto_sign_seed_keypair(pub, sk, k + 1);
    sodium_memzero(sk, sizeof(sk));
    b64enc(k, 33, b64, sizeof(b64));
    sodium_memzero(k, sizeof(k));
    int w = snprintf(skey, skey_len, "PRIVATE+KEY+%s+%08" PRIx32 "+%s", name,
                     sigil_audit_key_id(name, pub), b64);
    sodium_memzero(b64, sizeof(b64));
    if (w < 0 || (size_t)w >= skey_len) {
        sodium_memzero(skey, skey_len);
        return SIGIL_E_TOO_LARGE;
    }
    if ((r = sigil_audit_vkey_format(name, pub, vkey, vkey_len))) {
        sodium_memzero(skey, skey_len);
        return r;
    }
    return SIGIL_OK;
}

int sigil_audit_checkpoint_sign(const sigil_audit_checkpoint *cp, const sigil_audit_signer *s,
                                sigil_buf *out)
{
    char text[SIGIL_AUDIT_NAME_MAX + 128];
    char rootb64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
    uint8_t sig[68];
    char sigb64[sodium_base64_ENCODED_LEN(68, sodium_base64_VARIANT_ORIGINAL)];
    int r;
    if (cp == NULL || s == NULL || s->sign == NULL || out == NULL || !valid_name(s->name))
        return SIGIL_E_INVALID;
    size_t on = strnlen(cp->origin, sizeof(cp->origin));
    if (on == 0 || on > SIGIL_AUDIT_NAME_MAX)
        return SIGIL_E_INVALID;
    for (size_t i = 0; i < on; i++)
        if ((unsigned char)cp->origin[i] < 0x20 || cp->origin[i] == 0x7f)
            return SIGIL_E_INVALID;
    b64enc(cp->root, 32, rootb64, sizeof(rootb64));
    int w = snprintf(text, sizeof(text), "%s\n%" PRIu64 "\n%s\n", cp->origin, cp->size, rootb64);
    if (w < 0 || (size_t)w >= sizeof(text))
        return SIGIL_E_TOO_LARGE;
    uint32_t id = sigil_audit_key_id(s->name, s->pub);
    sig[0] = (uint8_t)(id >> 24);
    sig[1] = (uint8_t)(id >> 16);
    sig[2] = (uint8_t)(id >> 8);
    sig[3] = (uint8_t)id;
    if ((r = s->sign(s->ctx, (const uint8_t *)text, (size_t)w, sig + 4)))
        return r;
    /* Never publish a signature the key did not make (a faulty token). */
    if (crypto_sign_verify_detached(sig + 4, (const uint8_t *)text, (size_t)w, s->pub) != 0)
        return SIGIL_E_SIGNATURE;
    b64enc(sig, sizeof(sig), sigb64, sizeof(sigb64));
    size_t start = out->size;
    if ((r = sigil_buf_put(out, text, (size_t)w)) || (r = sigil_buf_put(out, "\n" EM_DASH " ", 5)) ||
        (r = sigil_buf_put(out, s->name, strlen(s->name))) || (r = sigil_buf_put(out, " ", 1)) ||
        (r = sigil_buf_put(out, sigb64, strlen(sigb64))) || (r = sigil_buf_put(out, "\n", 1))) {
        out->size = start;
        return r;
    }
    return SIGIL_OK;
}

/* Parse the checkpoint body (the note text, ending in '\n'). */
static int parse_checkpoint(const char *t, size_t n, sigil_audit_checkpoint *cp)
{
    const char *end = t + n, *l1 = memchr(t, '\n', n);
    if (l1 == NULL || l1 == t || (size_t)(l1 - t) > SIGIL_AUDIT_NAME_MAX)
        return SIGIL_E_ENCODING;
    memcpy(cp->origin, t, (size_t)(l1 - t));
    cp->origin[l1 - t] = 0;
    const char *s = l1 + 1, *l2 = memchr(s, '\n', (size_t)(end - s));
    if (l2 == NULL || l2 == s || l2 - s > 20 || (*s == '0' && l2 - s > 1))
        return SIGIL_E_ENCODING;
    uint64_t v = 0;
    for (const char *c = s; c < l2; c++) {
        if (*c < '0' || *c > '9')
            return SIGIL_E_ENCODING;
        uint64_t d = (uint64_t)(*c - '0');
        if (v > (UINT64_MAX - d) / 10)
            return SIGIL_E_ENCODING;
        v = v * 10 + d;
    }
    cp->size = v;
    const char *h = l2 + 1, *l3 = memchr(h, '\n', (size_t)(end - h));
    size_t rn;
    if (l3 == NULL || b64dec(h, (size_t)(l3 - h), cp->root, 32, &rn) != 0 || rn != 32)
        return SIGIL_E_ENCODING;
    /* Extension lines, if any, must be non-empty. */
    for (const char *e = l3 + 1; e < end;) {
        const char *nl = memchr(e, '\n', (size_t)(end - e));
        if (nl == NULL || nl == e)
            return SIGIL_E_ENCODING;
        e = nl + 1;
    }
    return SIGIL_OK;
}

int sigil_audit_checkpoint_verify(const uint8_t *note, size_t n, const char *name,
                                  const uint8_t pub[32], sigil_audit_checkpoint *out)
{
    sigil_audit_checkpoint cp;
    const char *s = (const char *)note;
    int r, verified = 0;
    if (note == NULL || name == NULL || pub == NULL)
        return SIGIL_E_INVALID;
    memset(&cp, 0, sizeof(cp));
    if (out)
        memset(out, 0, sizeof(*out));
    if (n < 2 || n > SIGIL_AUDIT_NOTE_MAX || s[n - 1] != '\n')
        return SIGIL_E_ENCODING;
    for (size_t i = 0; i < n; i++)
        if ((note[i] < 0x20 && note[i] != '\n') || note[i] == 0x7f)
            return SIGIL_E_ENCODING;
    /* The text ends at the last blank line. */
    size_t sep = 0;
    int found = 0;
    for (size_t i = n - 1; i-- > 0;)
        if (s[i] == '\n' && s[i + 1] == '\n') {
            sep = i;
            found = 1;
            break;
        }
    if (!found)
        return SIGIL_E_ENCODING;
    size_t text_len = sep + 1;
    if ((r = parse_checkpoint(s, text_len, &cp)))
        return r;
    uint32_t want_id = sigil_audit_key_id(name, pub);
    size_t name_len = strlen(name);
    const char *p = s + sep + 2, *end = s + n;
    if (p >= end)
        return SIGIL_E_ENCODING; /* no signature lines */
    int lines = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (++lines > 64)
            return SIGIL_E_TOO_LARGE;
        if ((size_t)(nl - p) < 5 || memcmp(p, EM_DASH " ", 4) != 0)
            return SIGIL_E_ENCODING;
        const char *nm = p + 4, *sp = memchr(nm, ' ', (size_t)(nl - nm));
        if (sp == NULL || sp == nm)
            return SIGIL_E_ENCODING;
        uint8_t sig[4 + 4096];
        size_t sn;
        if (b64dec(sp + 1, (size_t)(nl - sp - 1), sig, sizeof(sig), &sn) != 0 || sn < 4)
            return SIGIL_E_ENCODING;
        uint32_t id = (uint32_t)sig[0] << 24 | (uint32_t)sig[1] << 16 | (uint32_t)sig[2] << 8 | sig[3];
        if ((size_t)(sp - nm) == name_len && memcmp(nm, name, name_len) == 0 && id == want_id) {
            if (sn != 68 || crypto_sign_verify_detached(sig + 4, note, text_len, pub) != 0)
                return SIGIL_E_SIGNATURE;
            verified = 1;
        }
        p = nl + 1;
    }
    if (!verified)
        return SIGIL_E_NOT_FOUND;
    if (out)
        *out = cp;
    return SIGIL_OK;
}
