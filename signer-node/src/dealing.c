/* Trusted-dealer dealings for key import (sigil/dealing.h). */
#include <string.h>

#include <sodium.h>

#include "sigil/dealing.h"
#include "sigil/err.h"

#define DEALING_DOMAIN "sigil.v1.import-dealing"
#define TRANSCRIPT_DOMAIN "sigil.v1.import-transcript"

const sigil_group *sigil_dealing_group(uint16_t scheme)
{
    if (scheme == SIGIL_ENV_SCHEME_ED25519)
        return sigil_group_get(SIGIL_GROUP_ED25519);
    if (scheme >= SIGIL_ENV_SCHEME_SECP256K1 && scheme <= SIGIL_ENV_SCHEME_ECDSA)
        return sigil_group_get(SIGIL_GROUP_SECP256K1);
    return NULL;
}

static size_t pk_len(uint16_t scheme)
{
    return scheme == SIGIL_ENV_SCHEME_SECP256K1 || scheme == SIGIL_ENV_SCHEME_ECDSA ? 33 : 32;
}

static int fields_check(const sigil_dealing *d)
{
    if (!sigil_dealing_group(d->scheme))
        return SIGIL_E_VERSION;
    size_t ol = strnlen(d->officer, sizeof d->officer), kl = strnlen(d->key_id, sizeof d->key_id);
    if (ol < 1 || ol > SIGIL_DEALING_OFFICER_MAX || kl < 1 || kl > SIGIL_ENV_KEY_ID_MAX)
        return SIGIL_E_ENCODING;
    if (d->n < 2 || d->n > SIGIL_DEALING_MAX_PARTIES || d->t < 1 || d->t > d->n)
        return SIGIL_E_THRESHOLD;
    int to_found = 0;
    for (uint32_t i = 0; i < d->n; i++) {
        if (d->parties[i] < 1 || d->parties[i] > 65535 || (i && d->parties[i] <= d->parties[i - 1]))
            return SIGIL_E_PARTICIPANT;
        to_found |= d->parties[i] == d->to;
    }
    if (!to_found)
        return SIGIL_E_PARTICIPANT;
    if (d->public_key_len != pk_len(d->scheme))
        return SIGIL_E_ENCODING;
    return SIGIL_OK;
}

int sigil_dealing_seal_share(sigil_dealing *d, const uint8_t sid[32], uint32_t to,
                             const uint8_t share[32], const uint8_t box_pk[32])
{
    if (!d || !sid || !share || !box_pk)
        return SIGIL_E_INVALID;
    uint8_t *plain = sodium_malloc(SIGIL_DEALING_SHARE_PLAIN);
    if (!plain)
        return SIGIL_E_NOMEM;
    memcpy(plain, "SGDS", 4);
    memcpy(plain + 4, sid, 32);
    plain[36] = (uint8_t)(to >> 24);
    plain[37] = (uint8_t)(to >> 16);
    plain[38] = (uint8_t)(to >> 8);
    plain[39] = (uint8_t)to;
    memcpy(plain + 40, share, 32);
    int rc = crypto_box_seal(d->sealed, plain, SIGIL_DEALING_SHARE_PLAIN, box_pk) ? SIGIL_E_CRYPTO
                                                                                   : SIGIL_OK;
    sodium_free(plain); /* zeroizes */
    d->to = to;
    return rc;
}

int sigil_dealing_body(const sigil_dealing *d, sigil_buf *out)
{
    if (!d || !out)
        return SIGIL_E_INVALID;
    int rc = fields_check(d);
    if (rc)
        return rc == SIGIL_E_ENCODING ? SIGIL_E_INVALID : rc;
    const sigil_group *g = sigil_dealing_group(d->scheme);
    size_t mark = out->size;
    rc = sigil_buf_put(out, "SGDL", 4);
    if (!rc) rc = sigil_buf_put_u8(out, SIGIL_DEALING_VERSION);
    if (!rc) rc = sigil_buf_put_string(out, d->officer, strlen(d->officer));
    if (!rc) rc = sigil_buf_put_u16(out, d->scheme);
    if (!rc) rc = sigil_buf_put_string(out, d->key_id, strlen(d->key_id));
    if (!rc) rc = sigil_buf_put_u32(out, d->t);
    if (!rc) rc = sigil_buf_put_u32(out, d->n);
    for (uint32_t i = 0; i < d->n && !rc; i++)
        rc = sigil_buf_put_u32(out, d->parties[i]);
    if (!rc) rc = sigil_buf_put_string(out, d->public_key, d->public_key_len);
    for (uint32_t j = 0; j < d->t && !rc; j++)
        rc = sigil_point_put(g, out, &d->commitments[j]);
    if (!rc) rc = sigil_buf_put_u32(out, d->to);
    if (!rc) rc = sigil_buf_put_string(out, d->sealed, sizeof d->sealed);
    if (rc)
        sigil_buf_truncate(out, mark);
    return rc;
}

int sigil_dealing_sign_message(const uint8_t sid[32], const uint8_t *body, size_t n, sigil_buf *out)
{
    if (!sid || !body || !out)
        return SIGIL_E_INVALID;
    int rc = sigil_buf_put(out, DEALING_DOMAIN, sizeof DEALING_DOMAIN); /* with the NUL */
    if (!rc) rc = sigil_buf_put(out, sid, 32);
    if (!rc) rc = sigil_buf_put(out, body, n);
    return rc;
}

static int get_name(sigil_buf *b, char *dst, size_t max)
{
    const uint8_t *p;
    size_t l;
    int rc = sigil_buf_get_string(b, max, &p, &l);
    if (rc)
        return rc;
    if (l < 1 || memchr(p, 0, l))
        return SIGIL_E_ENCODING;
    memcpy(dst, p, l);
    dst[l] = 0;
    return SIGIL_OK;
}

int sigil_dealing_decode(sigil_dealing *d, const uint8_t *p, size_t n)
{
    if (!d || (!p && n))
        return SIGIL_E_INVALID;
    memset(d, 0, sizeof *d);
    if (n > SIGIL_DEALING_MAX)
        return SIGIL_E_TOO_LARGE;
    if (n < 64)
        return SIGIL_E_TRUNCATED;
    sigil_buf b;
    sigil_buf_view(&b, p, n - 64);
    const uint8_t *magic, *pk, *sealed;
    size_t pkl, sl;
    uint8_t ver;
    int rc = sigil_buf_get_ptr(&b, 4, &magic);
    if (!rc && memcmp(magic, "SGDL", 4)) rc = SIGIL_E_ENCODING;
    if (!rc) rc = sigil_buf_get_u8(&b, &ver);
    if (!rc && ver != SIGIL_DEALING_VERSION) rc = SIGIL_E_VERSION;
    if (!rc) rc = get_name(&b, d->officer, SIGIL_DEALING_OFFICER_MAX);
    if (!rc) rc = sigil_buf_get_u16(&b, &d->scheme);
    const sigil_group *g = rc ? NULL : sigil_dealing_group(d->scheme);
    if (!rc && !g) rc = SIGIL_E_VERSION;
    if (!rc) rc = get_name(&b, d->key_id, SIGIL_ENV_KEY_ID_MAX);
    if (!rc) rc = sigil_buf_get_u32(&b, &d->t);
    if (!rc) rc = sigil_buf_get_u32(&b, &d->n);
    if (!rc && (d->n < 2 || d->n > SIGIL_DEALING_MAX_PARTIES || d->t < 1 || d->t > d->n))
        rc = SIGIL_E_THRESHOLD;
    for (uint32_t i = 0; i < d->n && !rc; i++)
        rc = sigil_buf_get_u32(&b, &d->parties[i]);
    if (!rc) rc = sigil_buf_get_string(&b, sizeof d->public_key, &pk, &pkl);
    if (!rc) {
        memcpy(d->public_key, pk, pkl);
        d->public_key_len = pkl;
    }
    for (uint32_t j = 0; j < d->t && !rc; j++)
        rc = sigil_point_get(g, &b, &d->commitments[j]);
    if (!rc) rc = sigil_buf_get_u32(&b, &d->to);
    if (!rc) rc = sigil_buf_get_string(&b, sizeof d->sealed, &sealed, &sl);
    if (!rc && sl != sizeof d->sealed) rc = SIGIL_E_ENCODING;
    if (!rc) {
        memcpy(d->sealed, sealed, sl);
        rc = sigil_buf_end(&b);
    }
    if (!rc) rc = fields_check(d);
    if (rc) {
        memset(d, 0, sizeof *d);
        return rc;
    }
    d->body = p;
    d->body_len = n - 64;
    d->sig = p + n - 64;
    return SIGIL_OK;
}

int sigil_dealing_verify(const sigil_dealing *d, const uint8_t sid[32], const uint8_t officer_pk[32])
{
    if (!d || !d->body || !d->sig || !sid || !officer_pk)
        return SIGIL_E_INVALID;
    sigil_buf m;
    int rc = sigil_buf_init(&m, SIGIL_DEALING_MAX + 128, 0);
    if (!rc) rc = sigil_dealing_sign_message(sid, d->body, d->body_len, &m);
    if (!rc && crypto_sign_verify_detached(d->sig, m.data, m.size, officer_pk) != 0)
        rc = SIGIL_E_SIGNATURE;
    sigil_buf_free(&m);
    return rc;
}

int sigil_dealing_open_share(const sigil_dealing *d, const uint8_t sid[32], const sigil_env_key *k,
                             sigil_scalar *share)
{
    if (!d || !sid || !k || !share)
        return SIGIL_E_INVALID;
    sigil_buf pl;
    int rc = sigil_buf_init(&pl, 256, SIGIL_BUF_SECRET);
    if (!rc) rc = sigil_env_key_open_sealed(k, d->sealed, sizeof d->sealed, &pl);
    if (!rc && (pl.size != SIGIL_DEALING_SHARE_PLAIN || memcmp(pl.data, "SGDS", 4)))
        rc = SIGIL_E_ENCODING;
    if (!rc && sodium_memcmp(pl.data + 4, sid, 32) != 0)
        rc = SIGIL_E_SESSION;
    if (!rc) {
        uint32_t to = (uint32_t)pl.data[36] << 24 | (uint32_t)pl.data[37] << 16 |
                      (uint32_t)pl.data[38] << 8 | pl.data[39];
        if (to != d->to || to != sigil_env_key_node_id(k))
            rc = SIGIL_E_PARTICIPANT;
    }
    if (!rc) rc = sigil_scalar_parse(sigil_dealing_group(d->scheme), share, pl.data + 40);
    if (!rc && sigil_scalar_is_zero(share))
        rc = SIGIL_E_ZERO;
    if (rc)
        sodium_memzero(share, sizeof *share);
    sigil_buf_free(&pl);
    return rc;
}

/* sum_j x^j C_j for a public x (a party id). */
static int feldman_eval(const sigil_group *g, const sigil_dealing *d, uint32_t id, sigil_point *out)
{
    sigil_point terms[SIGIL_DEALING_MAX_PARTIES];
    sigil_scalar x, xp;
    sigil_scalar_set_u64(g, &x, id);
    xp = x;
    terms[0] = d->commitments[0];
    int rc = SIGIL_OK;
    for (uint32_t j = 1; j < d->t && !rc; j++) {
        rc = sigil_point_mul_public(g, &terms[j], &d->commitments[j], &xp);
        sigil_scalar_mul(g, &xp, &xp, &x);
    }
    if (!rc) rc = sigil_point_sum(g, out, terms, d->t);
    return rc;
}

int sigil_dealing_check(const sigil_dealing *d, const sigil_scalar *share, uint32_t self,
                        sigil_point *verifying, sigil_point *group_pk)
{
    if (!d || !share || !verifying || !group_pk || self >= d->n)
        return SIGIL_E_INVALID;
    const sigil_group *g = sigil_dealing_group(d->scheme);
    if (!g)
        return SIGIL_E_VERSION;
    /* C_0 is the approved key */
    uint8_t enc[SIGIL_POINT_MAX_LEN];
    int rc;
    if (d->scheme == SIGIL_ENV_SCHEME_BIP340) {
        rc = sigil_point_x(g, enc, &d->commitments[0]);
        if (rc)
            return rc;
    } else {
        sigil_point_serialize(g, enc, &d->commitments[0]);
    }
    if (d->public_key_len != pk_len(d->scheme) || memcmp(enc, d->public_key, d->public_key_len))
        return SIGIL_E_MISMATCH;
    for (uint32_t m = 0; m < d->n; m++)
        if ((rc = feldman_eval(g, d, d->parties[m], &verifying[m])))
            return rc;
    sigil_point mine;
    if ((rc = sigil_point_base_mul(g, &mine, share)))
        return rc;
    if (!sigil_point_eq(g, &mine, &verifying[self]))
        return SIGIL_E_SHARE;
    *group_pk = d->commitments[0];
    return SIGIL_OK;
}

int sigil_dealing_transcript(const sigil_dealing *d, const uint8_t sid[32], uint8_t out[32])
{
    if (!d || !sid || !out)
        return SIGIL_E_INVALID;
    const sigil_group *g = sigil_dealing_group(d->scheme);
    if (!g)
        return SIGIL_E_VERSION;
    sigil_buf b;
    int rc = sigil_buf_init(&b, SIGIL_DEALING_MAX, 0);
    if (!rc) rc = sigil_buf_put(&b, TRANSCRIPT_DOMAIN, sizeof TRANSCRIPT_DOMAIN);
    if (!rc) rc = sigil_buf_put(&b, sid, 32);
    if (!rc) rc = sigil_buf_put_u16(&b, d->scheme);
    if (!rc) rc = sigil_buf_put_string(&b, d->key_id, strlen(d->key_id));
    if (!rc) rc = sigil_buf_put_u32(&b, d->t);
    if (!rc) rc = sigil_buf_put_u32(&b, d->n);
    for (uint32_t i = 0; i < d->n && !rc; i++)
        rc = sigil_buf_put_u32(&b, d->parties[i]);
    if (!rc) rc = sigil_buf_put_string(&b, d->public_key, d->public_key_len);
    for (uint32_t j = 0; j < d->t && !rc; j++)
        rc = sigil_point_put(g, &b, &d->commitments[j]);
    if (!rc)
        crypto_hash_sha256(out, b.data, b.size);
    sigil_buf_free(&b);
    return rc;
}

int sigil_dealing_confirmation(const sigil_dealing *d, uint32_t self, const uint8_t transcript[32],
                               sigil_buf *out)
{
    if (!d || !transcript || !out || self >= d->n)
        return SIGIL_E_INVALID;
    const sigil_group *g = sigil_dealing_group(d->scheme);
    sigil_scalar id;
    sigil_scalar_set_u64(g, &id, d->parties[self]);
    int rc = sigil_buf_put_u8(out, 0x03);
    if (!rc) rc = sigil_scalar_put(g, out, &id);
    if (!rc) rc = sigil_buf_put(out, transcript, 32);
    return rc;
}

int sigil_dealing_params_hash(const char *key_id, uint16_t scheme, uint32_t t, uint32_t n,
                              const uint8_t *pk, size_t pklen, uint8_t out[32])
{
    static const char dom[] = "sigil.v1.import-params";
    if (!key_id || (!pk && pklen) || !out || pklen > 65)
        return SIGIL_E_INVALID;
    sigil_buf b;
    int rc = sigil_buf_init(&b, 512, 0);
    if (!rc) rc = sigil_buf_put(&b, dom, sizeof dom);
    if (!rc) rc = sigil_buf_put_string(&b, key_id, strlen(key_id));
    if (!rc) rc = sigil_buf_put_u16(&b, scheme);
    if (!rc) rc = sigil_buf_put_u32(&b, t);
    if (!rc) rc = sigil_buf_put_u32(&b, n);
    if (!rc) rc = sigil_buf_put_string(&b, pk, pklen);
    if (!rc)
        crypto_hash_sha256(out, b.data, b.size);
    sigil_buf_free(&b);
    return rc;
}
