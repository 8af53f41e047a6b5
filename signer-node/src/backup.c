/* Share backup / restore encodings (sigil/backup.h). */
#include <string.h>

#include <sodium.h>

#include "sigil/backup.h"
#include "sigil/dealing.h"
#include "sigil/err.h"

#define KEY_DOMAIN "sigil.v1.backup-key"
#define PARAMS_DOMAIN "sigil.v1.backup-params"
#define SECTION_DOMAIN "sigil.v1.backup-section"
#define RESTORE_DOMAIN "sigil.v1.restore-params"
#define PIECE_DOMAIN "sigil.v1.restore-piece"

static int put_str(sigil_buf *b, const char *s)
{
    return sigil_buf_put_string(b, s, strlen(s));
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

static int get_fixed(sigil_buf *b, uint8_t *dst, size_t max, size_t *len)
{
    const uint8_t *p;
    int rc = sigil_buf_get_string(b, max, &p, len);
    if (!rc && *len == 0)
        rc = SIGIL_E_ENCODING;
    if (!rc)
        memcpy(dst, p, *len);
    return rc;
}

int sigil_backup_key_message(const sigil_backup_key *k, sigil_buf *out)
{
    if (!k || !out)
        return SIGIL_E_INVALID;
    int rc = sigil_buf_put(out, KEY_DOMAIN, sizeof KEY_DOMAIN);
    if (!rc) rc = put_str(out, k->name);
    if (!rc) rc = sigil_buf_put_string(out, k->mod, k->modlen);
    if (!rc) rc = sigil_buf_put_string(out, k->exp, k->explen);
    return rc;
}

int sigil_backup_officers_encode(const sigil_backup_key *keys, size_t m, sigil_buf *out)
{
    if (!keys || !out || m < 1 || m > SIGIL_BACKUP_MAX_OFFICERS)
        return SIGIL_E_INVALID;
    for (size_t i = 1; i < m; i++)
        if (strcmp(keys[i - 1].name, keys[i].name) >= 0)
            return SIGIL_E_PARTICIPANT;
    int rc = sigil_buf_put_u32(out, (uint32_t)m);
    for (size_t i = 0; i < m && !rc; i++) {
        rc = put_str(out, keys[i].name);
        if (!rc) rc = sigil_buf_put_string(out, keys[i].mod, keys[i].modlen);
        if (!rc) rc = sigil_buf_put_string(out, keys[i].exp, keys[i].explen);
        if (!rc) rc = sigil_buf_put(out, keys[i].sig, 64);
    }
    return rc;
}

int sigil_backup_officers_decode(const uint8_t *p, size_t n, sigil_backup_key *keys, size_t *m)
{
    if ((!p && n) || !keys || !m)
        return SIGIL_E_INVALID;
    sigil_buf b;
    sigil_buf_view(&b, p, n);
    uint32_t c;
    int rc = sigil_buf_get_u32(&b, &c);
    if (!rc && (c < 1 || c > SIGIL_BACKUP_MAX_OFFICERS))
        rc = SIGIL_E_TOO_LARGE;
    for (uint32_t i = 0; i < c && !rc; i++) {
        memset(&keys[i], 0, sizeof keys[i]);
        rc = get_name(&b, keys[i].name, SIGIL_BACKUP_NAME_MAX);
        if (!rc) rc = get_fixed(&b, keys[i].mod, sizeof keys[i].mod, &keys[i].modlen);
        if (!rc) rc = get_fixed(&b, keys[i].exp, sizeof keys[i].exp, &keys[i].explen);
        if (!rc) rc = sigil_buf_get(&b, keys[i].sig, 64);
        if (!rc && i && strcmp(keys[i - 1].name, keys[i].name) >= 0)
            rc = SIGIL_E_PARTICIPANT;
    }
    if (!rc) rc = sigil_buf_end(&b);
    if (!rc)
        *m = c;
    return rc;
}

int sigil_backup_params_hash(const char *key_id, uint32_t k, const uint8_t *officers, size_t n,
                             uint8_t out[32])
{
    if (!key_id || !officers || !out)
        return SIGIL_E_INVALID;
    crypto_hash_sha256_state st;
    uint8_t kl[4] = {(uint8_t)(strlen(key_id) >> 24), (uint8_t)(strlen(key_id) >> 16),
                     (uint8_t)(strlen(key_id) >> 8), (uint8_t)strlen(key_id)};
    uint8_t kb[4] = {(uint8_t)(k >> 24), (uint8_t)(k >> 16), (uint8_t)(k >> 8), (uint8_t)k};
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)PARAMS_DOMAIN, sizeof PARAMS_DOMAIN);
    crypto_hash_sha256_update(&st, kl, 4);
    crypto_hash_sha256_update(&st, (const uint8_t *)key_id, strlen(key_id));
    crypto_hash_sha256_update(&st, kb, 4);
    crypto_hash_sha256_update(&st, officers, n);
    crypto_hash_sha256_final(&st, out);
    return SIGIL_OK;
}

int sigil_backup_piece_plain(const char *key_id, uint32_t node, uint32_t version, uint32_t j,
                             const uint8_t piece[32], sigil_buf *out)
{
    if (!key_id || !piece || !out || !(out->flags & SIGIL_BUF_SECRET))
        return SIGIL_E_INVALID;
    int rc = sigil_buf_put(out, "SGBP", 4);
    if (!rc) rc = put_str(out, key_id);
    if (!rc) rc = sigil_buf_put_u32(out, node);
    if (!rc) rc = sigil_buf_put_u32(out, version);
    if (!rc) rc = sigil_buf_put_u32(out, j);
    if (!rc) rc = sigil_buf_put(out, piece, 32);
    return rc;
}

int sigil_backup_piece_parse(const uint8_t *p, size_t n, const char *key_id, uint32_t node,
                             uint32_t version, uint32_t j, uint8_t piece[32])
{
    sigil_buf b;
    sigil_buf_view(&b, p, n);
    const uint8_t *magic;
    char kid[SIGIL_ENV_KEY_ID_MAX + 1];
    uint32_t nd, ver, jj;
    int rc = sigil_buf_get_ptr(&b, 4, &magic);
    if (!rc && memcmp(magic, "SGBP", 4)) rc = SIGIL_E_ENCODING;
    if (!rc) rc = get_name(&b, kid, SIGIL_ENV_KEY_ID_MAX);
    if (!rc) rc = sigil_buf_get_u32(&b, &nd);
    if (!rc) rc = sigil_buf_get_u32(&b, &ver);
    if (!rc) rc = sigil_buf_get_u32(&b, &jj);
    if (!rc) rc = sigil_buf_get(&b, piece, 32);
    if (!rc) rc = sigil_buf_end(&b);
    if (!rc && (strcmp(kid, key_id) || nd != node || ver != version || jj != j))
        rc = SIGIL_E_MISMATCH;
    if (rc)
        sodium_memzero(piece, 32);
    return rc;
}

int sigil_backup_section_body(const sigil_backup_section *s, sigil_buf *out)
{
    const sigil_group *g = s ? sigil_dealing_group(s->scheme) : NULL;
    if (!s || !out || !g || s->scheme > SIGIL_ENV_SCHEME_ECDSA || s->m < 1 ||
        s->m > SIGIL_BACKUP_MAX_OFFICERS || s->k < 1 || s->k > s->m)
        return SIGIL_E_INVALID;
    int rc = sigil_buf_put(out, "SGBS", 4);
    if (!rc) rc = sigil_buf_put_u8(out, 1);
    if (!rc) rc = put_str(out, s->key_id);
    if (!rc) rc = sigil_buf_put_u16(out, s->scheme);
    if (!rc) rc = sigil_buf_put_u32(out, s->node);
    if (!rc) rc = sigil_buf_put_u32(out, s->version);
    if (!rc) rc = sigil_buf_put_string(out, s->package, s->package_len);
    if (!rc) rc = sigil_buf_put_u32(out, s->k);
    if (!rc) rc = sigil_buf_put_u32(out, s->m);
    for (uint32_t j = 0; j < s->m && !rc; j++) {
        rc = put_str(out, s->officer[j]);
        if (!rc) rc = sigil_point_put(g, out, &s->V[j]);
        if (!rc) rc = sigil_buf_put_string(out, s->ct[j], s->ct_len[j]);
    }
    return rc;
}

int sigil_backup_section_sign_message(const uint8_t *body, size_t n, sigil_buf *out)
{
    int rc = sigil_buf_put(out, SECTION_DOMAIN, sizeof SECTION_DOMAIN);
    if (!rc) rc = sigil_buf_put(out, body, n);
    return rc;
}

int sigil_backup_section_decode(sigil_backup_section *s, const uint8_t *p, size_t n)
{
    if (!s || (!p && n))
        return SIGIL_E_INVALID;
    memset(s, 0, sizeof *s);
    if (n > SIGIL_BACKUP_SECTION_MAX)
        return SIGIL_E_TOO_LARGE;
    if (n < 64)
        return SIGIL_E_TRUNCATED;
    sigil_buf b;
    sigil_buf_view(&b, p, n - 64);
    const uint8_t *magic;
    uint8_t ver;
    int rc = sigil_buf_get_ptr(&b, 4, &magic);
    if (!rc && memcmp(magic, "SGBS", 4)) rc = SIGIL_E_ENCODING;
    if (!rc) rc = sigil_buf_get_u8(&b, &ver);
    if (!rc && ver != 1) rc = SIGIL_E_VERSION;
    if (!rc) rc = get_name(&b, s->key_id, SIGIL_ENV_KEY_ID_MAX);
    if (!rc) rc = sigil_buf_get_u16(&b, &s->scheme);
    const sigil_group *g = rc ? NULL : sigil_dealing_group(s->scheme);
    if (!rc && (!g || s->scheme > SIGIL_ENV_SCHEME_ECDSA)) rc = SIGIL_E_VERSION;
    if (!rc) rc = sigil_buf_get_u32(&b, &s->node);
    if (!rc) rc = sigil_buf_get_u32(&b, &s->version);
    if (!rc) rc = sigil_buf_get_string(&b, SIGIL_BACKUP_SECTION_MAX, &s->package, &s->package_len);
    if (!rc) rc = sigil_buf_get_u32(&b, &s->k);
    if (!rc) rc = sigil_buf_get_u32(&b, &s->m);
    if (!rc && (s->m < 1 || s->m > SIGIL_BACKUP_MAX_OFFICERS || s->k < 1 || s->k > s->m))
        rc = SIGIL_E_THRESHOLD;
    for (uint32_t j = 0; j < s->m && !rc; j++) {
        rc = get_name(&b, s->officer[j], SIGIL_BACKUP_NAME_MAX);
        if (!rc) rc = sigil_point_get(g, &b, &s->V[j]);
        if (!rc) rc = sigil_buf_get_string(&b, SIGIL_BACKUP_RSA_MAX, &s->ct[j], &s->ct_len[j]);
    }
    if (!rc) rc = sigil_buf_end(&b);
    if (rc) {
        memset(s, 0, sizeof *s);
        return rc;
    }
    s->body = p;
    s->body_len = n - 64;
    s->sig = p + n - 64;
    return SIGIL_OK;
}

int sigil_backup_section_verify(const sigil_backup_section *s, const uint8_t identity_pk[32])
{
    if (!s || !s->body || !identity_pk)
        return SIGIL_E_INVALID;
    sigil_buf m;
    int rc = sigil_buf_init(&m, SIGIL_BACKUP_SECTION_MAX + 64, 0);
    if (!rc) rc = sigil_backup_section_sign_message(s->body, s->body_len, &m);
    if (!rc && crypto_sign_verify_detached(s->sig, m.data, m.size, identity_pk) != 0)
        rc = SIGIL_E_SIGNATURE;
    sigil_buf_free(&m);
    return rc;
}

int sigil_backup_restore_params_hash(const char *key_id, uint32_t node, const uint8_t *section,
                                     size_t n, uint8_t out[32])
{
    if (!key_id || !section || !out)
        return SIGIL_E_INVALID;
    uint8_t sh[32];
    crypto_hash_sha256(sh, section, n);
    return sigil_backup_restore_params_hash_of(key_id, node, sh, out);
}

int sigil_backup_restore_params_hash_of(const char *key_id, uint32_t node, const uint8_t sh[32],
                                        uint8_t out[32])
{
    if (!key_id || !sh || !out)
        return SIGIL_E_INVALID;
    sigil_buf b;
    int rc = sigil_buf_init(&b, 256, 0);
    if (!rc) rc = sigil_buf_put(&b, RESTORE_DOMAIN, sizeof RESTORE_DOMAIN);
    if (!rc) rc = put_str(&b, key_id);
    if (!rc) rc = sigil_buf_put_u32(&b, node);
    if (!rc) rc = sigil_buf_put(&b, sh, 32);
    if (!rc)
        crypto_hash_sha256(out, b.data, b.size);
    sigil_buf_free(&b);
    return rc;
}

int sigil_restore_piece_body(const char *officer, uint32_t j, const uint8_t stmt_hash[32],
                             const char *key_id, uint32_t node, const uint8_t piece[32],
                             const uint8_t box_pk[32], sigil_buf *out)
{
    if (!officer || !stmt_hash || !key_id || !piece || !box_pk || !out)
        return SIGIL_E_INVALID;
    sigil_buf pl;
    uint8_t ct[256];
    int rc = sigil_buf_init(&pl, 200, SIGIL_BUF_SECRET);
    if (!rc) rc = sigil_buf_put(&pl, "SGRQ", 4);
    if (!rc) rc = sigil_buf_put(&pl, stmt_hash, 32);
    if (!rc) rc = put_str(&pl, key_id);
    if (!rc) rc = sigil_buf_put_u32(&pl, node);
    if (!rc) rc = sigil_buf_put_u32(&pl, j);
    if (!rc) rc = sigil_buf_put(&pl, piece, 32);
    if (!rc && pl.size + crypto_box_SEALBYTES > sizeof ct) rc = SIGIL_E_TOO_LARGE;
    if (!rc && crypto_box_seal(ct, pl.data, pl.size, box_pk) != 0) rc = SIGIL_E_CRYPTO;
    size_t ctl = pl.size + crypto_box_SEALBYTES;
    sigil_buf_free(&pl);
    if (!rc) rc = sigil_buf_put(out, "SGRP", 4);
    if (!rc) rc = put_str(out, officer);
    if (!rc) rc = sigil_buf_put_u32(out, j);
    if (!rc) rc = sigil_buf_put(out, stmt_hash, 32);
    if (!rc) rc = sigil_buf_put_string(out, ct, ctl);
    return rc;
}

int sigil_restore_piece_sign_message(const uint8_t *body, size_t n, sigil_buf *out)
{
    int rc = sigil_buf_put(out, PIECE_DOMAIN, sizeof PIECE_DOMAIN);
    if (!rc) rc = sigil_buf_put(out, body, n);
    return rc;
}

int sigil_restore_piece_decode(sigil_restore_piece *r, const uint8_t *p, size_t n)
{
    if (!r || (!p && n))
        return SIGIL_E_INVALID;
    memset(r, 0, sizeof *r);
    if (n > SIGIL_BACKUP_PIECE_MAX)
        return SIGIL_E_TOO_LARGE;
    if (n < 64)
        return SIGIL_E_TRUNCATED;
    sigil_buf b;
    sigil_buf_view(&b, p, n - 64);
    const uint8_t *magic;
    int rc = sigil_buf_get_ptr(&b, 4, &magic);
    if (!rc && memcmp(magic, "SGRP", 4)) rc = SIGIL_E_ENCODING;
    if (!rc) rc = get_name(&b, r->officer, SIGIL_BACKUP_NAME_MAX);
    if (!rc) rc = sigil_buf_get_u32(&b, &r->j);
    if (!rc) rc = sigil_buf_get(&b, r->stmt_hash, 32);
    if (!rc) rc = sigil_buf_get_string(&b, 256, &r->sealed, &r->sealed_len);
    if (!rc) rc = sigil_buf_end(&b);
    if (rc) {
        memset(r, 0, sizeof *r);
        return rc;
    }
    r->body = p;
    r->body_len = n - 64;
    r->sig = p + n - 64;
    return SIGIL_OK;
}

int sigil_restore_piece_verify(const sigil_restore_piece *r, const uint8_t officer_pk[32])
{
    if (!r || !r->body || !officer_pk)
        return SIGIL_E_INVALID;
    sigil_buf m;
    int rc = sigil_buf_init(&m, SIGIL_BACKUP_PIECE_MAX + 64, 0);
    if (!rc) rc = sigil_restore_piece_sign_message(r->body, r->body_len, &m);
    if (!rc && crypto_sign_verify_detached(r->sig, m.data, m.size, officer_pk) != 0)
        rc = SIGIL_E_SIGNATURE;
    sigil_buf_free(&m);
    return rc;
}

int sigil_restore_piece_open(const sigil_restore_piece *r, const sigil_env_key *k,
                             const char *key_id, uint32_t node, uint8_t piece[32])
{
    if (!r || !k || !key_id || !piece)
        return SIGIL_E_INVALID;
    sigil_buf pl;
    int rc = sigil_buf_init(&pl, 256, SIGIL_BUF_SECRET);
    if (!rc) rc = sigil_env_key_open_sealed(k, r->sealed, r->sealed_len, &pl);
    if (!rc) {
        sigil_buf b;
        sigil_buf_view(&b, pl.data, pl.size);
        const uint8_t *magic, *sh;
        char kid[SIGIL_ENV_KEY_ID_MAX + 1];
        uint32_t nd, j;
        rc = sigil_buf_get_ptr(&b, 4, &magic);
        if (!rc && memcmp(magic, "SGRQ", 4)) rc = SIGIL_E_ENCODING;
        if (!rc) rc = sigil_buf_get_ptr(&b, 32, &sh);
        if (!rc) rc = get_name(&b, kid, SIGIL_ENV_KEY_ID_MAX);
        if (!rc) rc = sigil_buf_get_u32(&b, &nd);
        if (!rc) rc = sigil_buf_get_u32(&b, &j);
        if (!rc) rc = sigil_buf_get(&b, piece, 32);
        if (!rc) rc = sigil_buf_end(&b);
        if (!rc && (memcmp(sh, r->stmt_hash, 32) || strcmp(kid, key_id) || nd != node || j != r->j))
            rc = SIGIL_E_MISMATCH;
    }
    if (rc)
        sodium_memzero(piece, 32);
    sigil_buf_free(&pl);
    return rc;
}
