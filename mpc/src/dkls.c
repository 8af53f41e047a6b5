/* DKLs23 threshold ECDSA on secp256k1: key material, pairwise OT setup,
 * presigning, the online round and combination. See ecdsa.h for the
 * contracts and docs/modules/mpc-ecdsa.md for the protocol.
 *
 * Notation (party i, signer set S, j ranges over S \ {i}):
 *   sk_i = lambda_i(S) * x_i, pk_j = lambda_j(S) * X_j (public)
 *   r_i, phi_i random; R_i = r_i*G, committed in round 1, opened in round 2.
 *   M(i->j): multiplication with Alice = i (input (r_i, sk_i)) and Bob = j
 *            (random b_ji): c_ij + d_ij = (r_i, sk_i) * b_ji.
 *   psi_ji = phi_j - b_ji, sent by j to i, so r_i*phi_j = c + d + r_i*psi.
 *   u_i = r_i phi_i + sum_j (c^u_ij + r_i psi_ji + d^u_ji)    (sum = r*phi)
 *   v_i = sk_i phi_i + sum_j (c^v_ij + sk_i psi_ji + d^v_ji)  (sum = sk*phi)
 *   Online: w_i = H(m) phi_i + r_x v_i; s = sum w / sum u.
 * Bob j checks Alice i's outputs: b_ji R_i - Gamma^u_ij = d^u G and
 * b_ji pk_i - Gamma^v_ij = d^v G with Gamma_ij = c_ij*G (DKLs23 3.6). */
#include <sodium.h>
#include <string.h>

#include "sigil/ecdsa.h"
#include "sigil/err.h"
#include "sigil/group.h"
#include "sigil/mult.h"
#include "sigil/ot.h"

#define MAXP SIGIL_ECDSA_MAX_PARTIES
#define SID SIGIL_ECDSA_SID_LEN

static int env_end(sigil_buf *b, size_t lenoff);

static const sigil_group *G(void)
{
    return sigil_group_get(SIGIL_GROUP_SECP256K1);
}

/* ====================================================================== */
/* key material                                                           */
/* ====================================================================== */

struct sigil_ecdsa_keyshare {
    uint16_t id;
    unsigned t, n;
    sigil_scalar x;
    sigil_point Y;
    sigil_point X[MAXP]; /* X[k-1] = x_k G */
};

struct sigil_ecdsa_share {
    struct sigil_ecdsa_keyshare k;
    uint8_t keyhash[32];
    sigil_ot_sender *snd[MAXP + 1];   /* me as Alice toward peer */
    sigil_ot_receiver *rcv[MAXP + 1]; /* me as Bob toward peer */
};

static void *secure_new(size_t n)
{
    void *p = sodium_malloc(n);
    if (p != NULL)
        memset(p, 0, n);
    return p;
}

void sigil_ecdsa_keyshare_free(sigil_ecdsa_keyshare *k)
{
    if (k != NULL)
        sodium_free(k);
}

void sigil_ecdsa_keyshare_pubkey(const sigil_ecdsa_keyshare *k, uint8_t pub[33])
{
    sigil_point_serialize(G(), pub, &k->Y);
}

void sigil_ecdsa_share_pubkey(const sigil_ecdsa_share *s, uint8_t pub[33])
{
    sigil_point_serialize(G(), pub, &s->k.Y);
}

uint16_t sigil_ecdsa_share_id(const sigil_ecdsa_share *s)
{
    return s->k.id;
}

void sigil_ecdsa_share_free(sigil_ecdsa_share *s)
{
    if (s == NULL)
        return;
    for (int j = 0; j <= MAXP; j++) {
        sigil_ot_sender_free(s->snd[j]);
        sigil_ot_receiver_free(s->rcv[j]);
    }
    sodium_free(s);
}

/* Lagrange coefficient at 0 of id for the set ids[0..count-1]. Public. */
static int lagrange(sigil_scalar *out, uint16_t id, const uint16_t *ids, size_t count)
{
    const sigil_group *g = G();
    sigil_scalar num, den, a, b, t;
    sigil_scalar_set_u64(g, &num, 1);
    sigil_scalar_set_u64(g, &den, 1);
    for (size_t k = 0; k < count; k++) {
        if (ids[k] == id)
            continue;
        sigil_scalar_set_u64(g, &a, ids[k]);
        sigil_scalar_set_u64(g, &b, id);
        sigil_scalar_mul(g, &num, &num, &a);
        sigil_scalar_sub(g, &t, &a, &b);
        sigil_scalar_mul(g, &den, &den, &t);
    }
    int rc = sigil_scalar_inv(g, &den, &den);
    if (rc != SIGIL_OK)
        return SIGIL_E_PARTICIPANT;
    sigil_scalar_mul(g, out, &num, &den);
    return SIGIL_OK;
}

/* Hash of the key's public data, which every party must agree on. */
static void key_hash(uint8_t out[32], const struct sigil_ecdsa_keyshare *k)
{
    static const char dom[] = "sigil/dkls23/key/v1";
    uint8_t p[33], hdr[4] = {(uint8_t)(k->t >> 8), (uint8_t)k->t, (uint8_t)(k->n >> 8),
                             (uint8_t)k->n};
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)dom, sizeof dom);
    crypto_hash_sha256_update(&st, hdr, 4);
    sigil_point_serialize(G(), p, &k->Y);
    crypto_hash_sha256_update(&st, p, 33);
    for (unsigned j = 0; j < k->n; j++) {
        sigil_point_serialize(G(), p, &k->X[j]);
        crypto_hash_sha256_update(&st, p, 33);
    }
    crypto_hash_sha256_final(&st, out);
}

int sigil_ecdsa_dealer_split(sigil_ecdsa_keyshare **out, const uint8_t sk[32], unsigned t,
                             unsigned n)
{
    const sigil_group *g = G();
    int rc;
    if (out == NULL || sk == NULL)
        return SIGIL_E_INVALID;
    if (n < 2 || n > MAXP || t < 2 || t > n)
        return SIGIL_E_THRESHOLD;
    memset(out, 0, n * sizeof *out);
    sigil_scalar *coef = secure_new(t * sizeof *coef);
    sigil_point Y;
    if (coef == NULL)
        return SIGIL_E_NOMEM;
    if ((rc = sigil_scalar_parse(g, &coef[0], sk)) != SIGIL_OK)
        goto fail;
    if ((rc = sigil_point_base_mul(g, &Y, &coef[0])) != SIGIL_OK)
        goto fail;
    for (unsigned k = 1; k < t; k++)
        if ((rc = sigil_scalar_random(g, &coef[k])) != SIGIL_OK)
            goto fail;
    for (unsigned i = 0; i < n; i++) {
        if ((out[i] = secure_new(sizeof *out[i])) == NULL) {
            rc = SIGIL_E_NOMEM;
            goto fail;
        }
        out[i]->id = (uint16_t)(i + 1);
        out[i]->t = t;
        out[i]->n = n;
        out[i]->Y = Y;
        /* Horner: f(i+1) */
        sigil_scalar xv, acc = coef[t - 1];
        sigil_scalar_set_u64(g, &xv, i + 1);
        for (unsigned k = t - 1; k-- > 0;) {
            sigil_scalar_mul(g, &acc, &acc, &xv);
            sigil_scalar_add(g, &acc, &acc, &coef[k]);
        }
        out[i]->x = acc;
        sigil_scalar_clear(&acc);
        if ((rc = sigil_point_base_mul(g, &out[0]->X[i], &out[i]->x)) != SIGIL_OK)
            goto fail;
    }
    for (unsigned i = 1; i < n; i++)
        memcpy(out[i]->X, out[0]->X, sizeof out[0]->X);
    sodium_free(coef);
    return SIGIL_OK;
fail:
    sodium_free(coef);
    for (unsigned i = 0; i < n; i++) {
        sigil_ecdsa_keyshare_free(out[i]);
        out[i] = NULL;
    }
    return rc;
}

/* sum_{j in ids} lambda_j(ids) * X_{ids[j]}, evaluated at x = at (0 for the
 * key). Public. */
static int interpolate_at(sigil_point *out, const sigil_point *X, const uint16_t *ids, size_t count,
                          uint64_t at)
{
    const sigil_group *g = G();
    sigil_point terms[MAXP];
    for (size_t k = 0; k < count; k++) {
        sigil_scalar num, den, a, b, c, lam;
        sigil_scalar_set_u64(g, &num, 1);
        sigil_scalar_set_u64(g, &den, 1);
        sigil_scalar_set_u64(g, &c, at);
        for (size_t m = 0; m < count; m++) {
            if (m == k)
                continue;
            sigil_scalar_set_u64(g, &a, ids[m]);
            sigil_scalar_set_u64(g, &b, ids[k]);
            sigil_scalar t1, t2;
            sigil_scalar_sub(g, &t1, &c, &a);
            sigil_scalar_mul(g, &num, &num, &t1);
            sigil_scalar_sub(g, &t2, &b, &a);
            sigil_scalar_mul(g, &den, &den, &t2);
        }
        if (sigil_scalar_inv(g, &den, &den) != SIGIL_OK)
            return SIGIL_E_PARTICIPANT;
        sigil_scalar_mul(g, &lam, &num, &den);
        if (sigil_scalar_is_zero(&lam))
            return SIGIL_E_SHARE;
        int rc = sigil_point_mul_public(g, &terms[k], &X[ids[k] - 1], &lam);
        if (rc != SIGIL_OK)
            return rc;
    }
    return sigil_point_sum(g, out, terms, count);
}

int sigil_ecdsa_keyshare_from_dkg(sigil_ecdsa_keyshare **out, uint16_t id, unsigned t, unsigned n,
                                  const uint8_t xi[32], const uint8_t *X, size_t Xlen)
{
    const sigil_group *g = G();
    int rc;
    if (out == NULL || xi == NULL || X == NULL)
        return SIGIL_E_INVALID;
    *out = NULL;
    if (n < 2 || n > MAXP || t < 2 || t > n)
        return SIGIL_E_THRESHOLD;
    if (id == 0 || id > n)
        return SIGIL_E_PARTICIPANT;
    if (Xlen != 33u * n)
        return SIGIL_E_INVALID;
    sigil_ecdsa_keyshare *k = secure_new(sizeof *k);
    if (k == NULL)
        return SIGIL_E_NOMEM;
    k->id = id;
    k->t = t;
    k->n = n;
    sigil_point chk;
    uint16_t ids[MAXP];
    if ((rc = sigil_scalar_parse(g, &k->x, xi)) != SIGIL_OK)
        goto fail;
    for (unsigned j = 0; j < n; j++)
        if ((rc = sigil_point_parse(g, &k->X[j], X + 33 * j, 33)) != SIGIL_OK)
            goto fail;
    if ((rc = sigil_point_base_mul(g, &chk, &k->x)) != SIGIL_OK)
        goto fail;
    if (!sigil_point_eq(g, &chk, &k->X[id - 1])) {
        rc = SIGIL_E_SHARE;
        goto fail;
    }
    for (unsigned j = 0; j < t; j++)
        ids[j] = (uint16_t)(j + 1);
    if ((rc = interpolate_at(&k->Y, k->X, ids, t, 0)) != SIGIL_OK)
        goto fail;
    /* every further X_m must lie on the same degree t-1 polynomial */
    for (unsigned m = t + 1; m <= n; m++) {
        if ((rc = interpolate_at(&chk, k->X, ids, t, m)) != SIGIL_OK)
            goto fail;
        if (!sigil_point_eq(g, &chk, &k->X[m - 1])) {
            rc = SIGIL_E_SHARE;
            goto fail;
        }
    }
    *out = k;
    return SIGIL_OK;
fail:
    sigil_ecdsa_keyshare_free(k);
    return rc;
}

int sigil_ecdsa_keyshare_from_dkg_share(sigil_ecdsa_keyshare **out, const sigil_keyshare *k)
{
    const sigil_group *g = G();
    uint8_t X[33 * MAXP], xi[32];
    int rc;
    if (out == NULL || k == NULL)
        return SIGIL_E_INVALID;
    *out = NULL;
    if (k->g != g || k->secret == NULL || k->ids == NULL || k->verifying == NULL)
        return SIGIL_E_INVALID;
    if (k->n < 2 || k->n > MAXP || k->t < 2 || k->t > k->n)
        return SIGIL_E_THRESHOLD;
    for (uint32_t j = 0; j < k->n; j++) {
        sigil_scalar want;
        sigil_scalar_set_u64(g, &want, j + 1);
        if (!sigil_scalar_eq(&want, &k->ids[j]))
            return SIGIL_E_PARTICIPANT;
        sigil_point_serialize(g, X + 33 * j, &k->verifying[j]);
    }
    if (k->self >= k->n)
        return SIGIL_E_PARTICIPANT;
    sigil_scalar_serialize(g, xi, k->secret);
    rc = sigil_ecdsa_keyshare_from_dkg(out, (uint16_t)(k->self + 1), k->t, k->n, xi, X, 33u * k->n);
    sodium_memzero(xi, sizeof xi);
    if (rc == SIGIL_OK && !sigil_point_eq(g, &(*out)->Y, &k->group_pk)) {
        sigil_ecdsa_keyshare_free(*out);
        *out = NULL;
        rc = SIGIL_E_SHARE;
    }
    return rc;
}

/* lambda_id over all parties 1..n */
static int lagrange_all(sigil_scalar *lam, uint16_t id, unsigned n)
{
    uint16_t all[MAXP];
    for (unsigned j = 0; j < n; j++)
        all[j] = (uint16_t)(j + 1);
    return lagrange(lam, id, all, n);
}

int sigil_ecdsa_refresh_coeffs(const sigil_ecdsa_share *old, sigil_scalar *coeffs)
{
    const sigil_group *g = G();
    sigil_scalar lam;
    int rc;
    if (old == NULL || coeffs == NULL)
        return SIGIL_E_INVALID;
    if ((rc = lagrange_all(&lam, old->k.id, old->k.n)) != SIGIL_OK)
        return rc;
    sigil_scalar_mul(g, &coeffs[0], &lam, &old->k.x);
    if (sigil_scalar_is_zero(&coeffs[0]))
        return SIGIL_E_ZERO;
    for (unsigned k = 1; k < old->k.t; k++)
        if ((rc = sigil_scalar_random(g, &coeffs[k])) != SIGIL_OK) {
            sodium_memzero(coeffs, old->k.t * sizeof *coeffs);
            return rc;
        }
    return SIGIL_OK;
}

int sigil_ecdsa_refresh_check(const sigil_ecdsa_share *old, const sigil_dkg *d, uint16_t *culprit)
{
    const sigil_group *g = G();
    uint16_t dummy;
    if (culprit == NULL)
        culprit = &dummy;
    *culprit = 0;
    if (old == NULL || d == NULL)
        return SIGIL_E_INVALID;
    for (unsigned j = 1; j <= old->k.n; j++) {
        sigil_scalar lam;
        sigil_point want;
        const sigil_point *c = sigil_dkg_commitments(d, j - 1);
        int rc;
        if (c == NULL)
            return SIGIL_E_STATE;
        if ((rc = lagrange_all(&lam, (uint16_t)j, old->k.n)) != SIGIL_OK ||
            (rc = sigil_point_mul_public(g, &want, &old->k.X[j - 1], &lam)) != SIGIL_OK)
            return rc;
        if (!sigil_point_eq(g, &want, &c[0])) {
            *culprit = (uint16_t)j;
            return SIGIL_E_SHARE;
        }
    }
    return SIGIL_OK;
}

int sigil_ecdsa_keyshare_from_refresh(sigil_ecdsa_keyshare **out, const sigil_ecdsa_share *old,
                                      const sigil_keyshare *k)
{
    if (out == NULL || old == NULL || k == NULL)
        return SIGIL_E_INVALID;
    *out = NULL;
    if (k->t != old->k.t || k->n != old->k.n || k->self + 1 != old->k.id)
        return SIGIL_E_MISMATCH;
    if (!sigil_point_eq(G(), &k->group_pk, &old->k.Y))
        return SIGIL_E_MISMATCH;
    return sigil_ecdsa_keyshare_from_dkg_share(out, k);
}

void sigil_ecdsa_share_secret(const sigil_ecdsa_share *s, uint8_t out[32])
{
    sigil_scalar_serialize(G(), out, &s->k.x);
}

static const uint8_t SHARE_MAGIC[4] = {'D', 'K', 'S', 1};

int sigil_ecdsa_share_encode(const sigil_ecdsa_share *s, sigil_buf *out)
{
    const sigil_group *g = G();
    int rc;
    if (s == NULL || out == NULL || !(out->flags & SIGIL_BUF_SECRET))
        return SIGIL_E_INVALID;
    size_t start = out->size;
    if ((rc = sigil_buf_put(out, SHARE_MAGIC, 4)) != SIGIL_OK ||
        (rc = sigil_buf_put_u16(out, s->k.id)) != SIGIL_OK ||
        (rc = sigil_buf_put_u16(out, (uint16_t)s->k.t)) != SIGIL_OK ||
        (rc = sigil_buf_put_u16(out, (uint16_t)s->k.n)) != SIGIL_OK ||
        (rc = sigil_scalar_put(g, out, &s->k.x)) != SIGIL_OK ||
        (rc = sigil_point_put(g, out, &s->k.Y)) != SIGIL_OK)
        goto fail;
    for (unsigned j = 0; j < s->k.n; j++)
        if ((rc = sigil_point_put(g, out, &s->k.X[j])) != SIGIL_OK)
            goto fail;
    for (unsigned j = 1; j <= s->k.n; j++) {
        if (j == s->k.id)
            continue;
        if (s->snd[j] == NULL || s->rcv[j] == NULL) {
            rc = SIGIL_E_STATE;
            goto fail;
        }
        size_t lo = out->size;
        if ((rc = sigil_buf_put_u32(out, 0)) != SIGIL_OK ||
            (rc = sigil_ot_sender_encode(s->snd[j], out)) != SIGIL_OK ||
            (rc = env_end(out, lo)) != SIGIL_OK)
            goto fail;
        lo = out->size;
        if ((rc = sigil_buf_put_u32(out, 0)) != SIGIL_OK ||
            (rc = sigil_ot_receiver_encode(s->rcv[j], out)) != SIGIL_OK ||
            (rc = env_end(out, lo)) != SIGIL_OK)
            goto fail;
    }
    return SIGIL_OK;
fail:
    if (out->size > start) {
        sodium_memzero(out->data + start, out->size - start);
        out->size = start;
    }
    return rc;
}

int sigil_ecdsa_share_decode(sigil_ecdsa_share **out, const uint8_t *in, size_t n)
{
    const sigil_group *g = G();
    sigil_buf b;
    uint8_t magic[4];
    uint16_t id, t, np;
    int rc;
    if (out == NULL || (in == NULL && n))
        return SIGIL_E_INVALID;
    *out = NULL;
    sigil_ecdsa_share *s = secure_new(sizeof *s);
    if (s == NULL)
        return SIGIL_E_NOMEM;
    sigil_buf_view(&b, in, n);
    if ((rc = sigil_buf_get(&b, magic, 4)) != SIGIL_OK)
        goto fail;
    if (memcmp(magic, SHARE_MAGIC, 4) != 0) {
        rc = SIGIL_E_VERSION;
        goto fail;
    }
    if ((rc = sigil_buf_get_u16(&b, &id)) != SIGIL_OK || (rc = sigil_buf_get_u16(&b, &t)) != SIGIL_OK ||
        (rc = sigil_buf_get_u16(&b, &np)) != SIGIL_OK)
        goto fail;
    if (np < 2 || np > MAXP || t < 2 || t > np || id == 0 || id > np) {
        rc = SIGIL_E_ENCODING;
        goto fail;
    }
    s->k.id = id;
    s->k.t = t;
    s->k.n = np;
    if ((rc = sigil_scalar_get(g, &b, &s->k.x)) != SIGIL_OK ||
        (rc = sigil_point_get(g, &b, &s->k.Y)) != SIGIL_OK)
        goto fail;
    for (unsigned j = 0; j < np; j++)
        if ((rc = sigil_point_get(g, &b, &s->k.X[j])) != SIGIL_OK)
            goto fail;
    {
        sigil_point chk;
        if ((rc = sigil_point_base_mul(g, &chk, &s->k.x)) != SIGIL_OK)
            goto fail;
        if (!sigil_point_eq(g, &chk, &s->k.X[id - 1])) {
            rc = SIGIL_E_SHARE;
            goto fail;
        }
    }
    for (unsigned j = 1; j <= np; j++) {
        const uint8_t *p;
        size_t len;
        sigil_ot_party a, c;
        if (j == id)
            continue;
        if ((rc = sigil_buf_get_string(&b, SIGIL_BUF_MAX_LIMIT, &p, &len)) != SIGIL_OK ||
            (rc = sigil_ot_sender_decode(&s->snd[j], p, len)) != SIGIL_OK)
            goto fail;
        sigil_ot_sender_pair(s->snd[j], &a, &c);
        if (a != id || c != j) {
            rc = SIGIL_E_ENCODING;
            goto fail;
        }
        if ((rc = sigil_buf_get_string(&b, SIGIL_BUF_MAX_LIMIT, &p, &len)) != SIGIL_OK ||
            (rc = sigil_ot_receiver_decode(&s->rcv[j], p, len)) != SIGIL_OK)
            goto fail;
        sigil_ot_receiver_pair(s->rcv[j], &a, &c);
        if (a != j || c != id) {
            rc = SIGIL_E_ENCODING;
            goto fail;
        }
    }
    if ((rc = sigil_buf_end(&b)) != SIGIL_OK)
        goto fail;
    key_hash(s->keyhash, &s->k);
    *out = s;
    return SIGIL_OK;
fail:
    sigil_ecdsa_share_free(s);
    return rc;
}

/* ====================================================================== */
/* envelopes                                                              */
/* ====================================================================== */

/* Write the envelope header; *lenoff receives where to patch the length. */
static int env_begin(sigil_buf *b, uint8_t type, const uint8_t sid[SID], uint16_t from, uint16_t to,
                     size_t *lenoff)
{
    int rc;
    if ((rc = sigil_buf_put_u8(b, SIGIL_ECDSA_VERSION)) != SIGIL_OK ||
        (rc = sigil_buf_put_u8(b, type)) != SIGIL_OK || (rc = sigil_buf_put(b, sid, SID)) != SIGIL_OK ||
        (rc = sigil_buf_put_u16(b, from)) != SIGIL_OK || (rc = sigil_buf_put_u16(b, to)) != SIGIL_OK)
        return rc;
    *lenoff = b->size;
    return sigil_buf_put_u32(b, 0);
}

static int env_end(sigil_buf *b, size_t lenoff)
{
    size_t len = b->size - lenoff - 4;
    if (len > SIGIL_ECDSA_MAX_PAYLOAD)
        return SIGIL_E_TOO_LARGE;
    b->data[lenoff] = (uint8_t)(len >> 24);
    b->data[lenoff + 1] = (uint8_t)(len >> 16);
    b->data[lenoff + 2] = (uint8_t)(len >> 8);
    b->data[lenoff + 3] = (uint8_t)len;
    return SIGIL_OK;
}

static int out_ok(sigil_buf *out, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (out[k].flags & SIGIL_BUF_READONLY)
            return 0;
    return 1;
}

static void out_clear(sigil_buf *out, size_t n)
{
    for (size_t k = 0; k < n; k++)
        sigil_buf_reset(&out[k]);
}

/* Decode in[k] (k < npeers) expecting type from peers[k] to me in sid.
 * Messages from distinct senders are distinct objects; a byte-identical
 * second message (replay) is caught by the sender check since each slot
 * has its own expected sender. */
static int env_collect(sigil_ecdsa_msg *msgs, const sigil_buf *in, const uint16_t *peers,
                       size_t npeers, uint8_t type, const uint8_t sid[SID], uint16_t me, int broadcast,
                       uint16_t *culprit)
{
    for (size_t k = 0; k < npeers; k++) {
        int rc = sigil_ecdsa_msg_decode(&msgs[k], sigil_buf_ptr(&in[k]), sigil_buf_len(&in[k]));
        if (rc == SIGIL_OK && msgs[k].sender != peers[k])
            rc = SIGIL_E_PARTICIPANT;
        if (rc == SIGIL_OK && msgs[k].type != type)
            rc = SIGIL_E_STATE;
        if (rc == SIGIL_OK && !sigil_memeq(msgs[k].sid, sid, SID))
            rc = SIGIL_E_SESSION;
        if (rc == SIGIL_OK && msgs[k].recipient != (broadcast ? 0 : me))
            rc = SIGIL_E_PARTICIPANT;
        if (rc != SIGIL_OK) {
            *culprit = peers[k];
            return rc;
        }
    }
    return SIGIL_OK;
}

/* ====================================================================== */
/* pairwise OT setup                                                      */
/* ====================================================================== */

struct sigil_ecdsa_setup {
    int round; /* 0 new, 1..3 after that round, 4 done, -1 failed */
    struct sigil_ecdsa_keyshare k;
    uint8_t sid[SID];
    uint8_t keyhash[32];
    uint16_t peers[MAXP];
    size_t npeers;
    sigil_ot_setup *as_rcv[MAXP + 1];
    sigil_ot_setup *as_snd[MAXP + 1];
    sigil_ot_receiver *rcv[MAXP + 1];
};

static const char SETUP_LABEL[] = "sigil/dkls23/setup/v1";

static size_t setup_sid(uint8_t out[64], const uint8_t sid[SID])
{
    memcpy(out, SETUP_LABEL, sizeof SETUP_LABEL);
    memcpy(out + sizeof SETUP_LABEL, sid, SID);
    return sizeof SETUP_LABEL + SID;
}

void sigil_ecdsa_setup_free(sigil_ecdsa_setup *st)
{
    if (st == NULL)
        return;
    for (int j = 0; j <= MAXP; j++) {
        sigil_ot_setup_free(st->as_rcv[j]);
        sigil_ot_setup_free(st->as_snd[j]);
        sigil_ot_receiver_free(st->rcv[j]);
    }
    sodium_free(st);
}

static void setup_fail(sigil_ecdsa_setup *st)
{
    st->round = -1;
    for (int j = 0; j <= MAXP; j++) {
        sigil_ot_setup_free(st->as_rcv[j]);
        sigil_ot_setup_free(st->as_snd[j]);
        sigil_ot_receiver_free(st->rcv[j]);
        st->as_rcv[j] = st->as_snd[j] = NULL;
        st->rcv[j] = NULL;
    }
    sodium_memzero(&st->k.x, sizeof st->k.x);
}
/* End of a setup round: on failure no half-made output leaves and the
 * setup is dead (setup_fail); on success the round advances. */
static int setup_round_done(sigil_ecdsa_setup *st, sigil_buf *out, int rc, int round)
{
    if (rc != SIGIL_OK) {
        out_clear(out, st->npeers);
        setup_fail(st);
        return rc;
    }
    st->round = round;
    return SIGIL_OK;
}


int sigil_ecdsa_setup_new(sigil_ecdsa_setup **out, const sigil_ecdsa_keyshare *k,
                          const uint8_t sid[SID])
{
    if (out == NULL || k == NULL || sid == NULL)
        return SIGIL_E_INVALID;
    *out = NULL;
    sigil_ecdsa_setup *st = secure_new(sizeof *st);
    if (st == NULL)
        return SIGIL_E_NOMEM;
    st->k = *k;
    memcpy(st->sid, sid, SID);
    key_hash(st->keyhash, k);
    for (unsigned j = 1; j <= k->n; j++)
        if (j != k->id)
            st->peers[st->npeers++] = (uint16_t)j;
    *out = st;
    return SIGIL_OK;
}

int sigil_ecdsa_setup_round1(sigil_ecdsa_setup *st, sigil_buf *out)
{
    uint8_t osid[64];
    size_t osl;
    int rc = SIGIL_OK;
    if (st == NULL || out == NULL)
        return SIGIL_E_INVALID;
    if (st->round != 0)
        return SIGIL_E_STATE;
    if (!out_ok(out, st->npeers))
        return SIGIL_E_INVALID;
    osl = setup_sid(osid, st->sid);
    for (size_t k = 0; k < st->npeers; k++) {
        uint16_t j = st->peers[k];
        size_t lo;
        if ((rc = env_begin(&out[k], SIGIL_ECDSA_MSG_SETUP1, st->sid, st->k.id, j, &lo)) != SIGIL_OK ||
            (rc = sigil_buf_put(&out[k], st->keyhash, 32)) != SIGIL_OK)
            break;
        /* pair (sender j, receiver me): I start as receiver */
        if ((rc = sigil_ot_setup_receiver_start(&st->as_rcv[j], osid, osl, j, st->k.id, &out[k])) !=
                SIGIL_OK ||
            (rc = env_end(&out[k], lo)) != SIGIL_OK)
            break;
    }
    return setup_round_done(st, out, rc, 1);
}

int sigil_ecdsa_setup_round2(sigil_ecdsa_setup *st, const sigil_buf *in, sigil_buf *out,
                             uint16_t *culprit)
{
    sigil_ecdsa_msg msgs[MAXP];
    uint8_t osid[64];
    size_t osl;
    uint16_t dummy;
    int rc;
    if (culprit == NULL)
        culprit = &dummy;
    *culprit = 0;
    if (st == NULL || in == NULL || out == NULL)
        return SIGIL_E_INVALID;
    if (st->round != 1)
        return SIGIL_E_STATE;
    if (!out_ok(out, st->npeers))
        return SIGIL_E_INVALID;
    osl = setup_sid(osid, st->sid);
    rc = env_collect(msgs, in, st->peers, st->npeers, SIGIL_ECDSA_MSG_SETUP1, st->sid, st->k.id, 0,
                     culprit);
    for (size_t k = 0; rc == SIGIL_OK && k < st->npeers; k++) {
        uint16_t j = st->peers[k];
        size_t lo;
        *culprit = j;
        if (msgs[k].payload_len < 32) {
            rc = SIGIL_E_TRUNCATED;
            break;
        }
        if (!sigil_memeq(msgs[k].payload, st->keyhash, 32)) {
            rc = SIGIL_E_MISMATCH;
            break;
        }
        if ((rc = env_begin(&out[k], SIGIL_ECDSA_MSG_SETUP2, st->sid, st->k.id, j, &lo)) != SIGIL_OK)
            break;
        /* pair (sender me, receiver j) */
        rc = sigil_ot_setup_sender_respond(&st->as_snd[j], osid, osl, st->k.id, j,
                                           msgs[k].payload + 32, msgs[k].payload_len - 32, &out[k]);
        if (rc == SIGIL_OK)
            rc = env_end(&out[k], lo);
        if (rc == SIGIL_OK)
            *culprit = 0;
    }
    return setup_round_done(st, out, rc, 2);
}

int sigil_ecdsa_setup_round3(sigil_ecdsa_setup *st, const sigil_buf *in, sigil_buf *out,
                             uint16_t *culprit)
{
    sigil_ecdsa_msg msgs[MAXP];
    uint16_t dummy;
    int rc;
    if (culprit == NULL)
        culprit = &dummy;
    *culprit = 0;
    if (st == NULL || in == NULL || out == NULL)
        return SIGIL_E_INVALID;
    if (st->round != 2)
        return SIGIL_E_STATE;
    if (!out_ok(out, st->npeers))
        return SIGIL_E_INVALID;
    rc = env_collect(msgs, in, st->peers, st->npeers, SIGIL_ECDSA_MSG_SETUP2, st->sid, st->k.id, 0,
                     culprit);
    for (size_t k = 0; rc == SIGIL_OK && k < st->npeers; k++) {
        uint16_t j = st->peers[k];
        size_t lo;
        *culprit = j;
        if ((rc = env_begin(&out[k], SIGIL_ECDSA_MSG_SETUP3, st->sid, st->k.id, j, &lo)) != SIGIL_OK)
            break;
        rc = sigil_ot_setup_receiver_finish(st->as_rcv[j], msgs[k].payload, msgs[k].payload_len,
                                            &out[k], &st->rcv[j]);
        st->as_rcv[j] = NULL; /* consumed */
        if (rc == SIGIL_OK)
            rc = env_end(&out[k], lo);
        if (rc == SIGIL_OK)
            *culprit = 0;
    }
    return setup_round_done(st, out, rc, 3);
}

int sigil_ecdsa_setup_finish(sigil_ecdsa_setup *st, const sigil_buf *in,
                             sigil_ecdsa_share **share, uint16_t *culprit)
{
    sigil_ecdsa_msg msgs[MAXP];
    uint16_t dummy;
    int rc;
    if (culprit == NULL)
        culprit = &dummy;
    *culprit = 0;
    if (st == NULL || in == NULL || share == NULL)
        return SIGIL_E_INVALID;
    *share = NULL;
    if (st->round != 3)
        return SIGIL_E_STATE;
    sigil_ecdsa_share *s = secure_new(sizeof *s);
    if (s == NULL)
        return SIGIL_E_NOMEM;
    rc = env_collect(msgs, in, st->peers, st->npeers, SIGIL_ECDSA_MSG_SETUP3, st->sid, st->k.id, 0,
                     culprit);
    for (size_t k = 0; rc == SIGIL_OK && k < st->npeers; k++) {
        uint16_t j = st->peers[k];
        rc = sigil_ot_setup_sender_finish(st->as_snd[j], msgs[k].payload, msgs[k].payload_len,
                                          &s->snd[j]);
        st->as_snd[j] = NULL;
        if (rc != SIGIL_OK)
            *culprit = j;
    }
    if (rc != SIGIL_OK) {
        sigil_ecdsa_share_free(s);
        setup_fail(st);
        return rc;
    }
    s->k = st->k;
    memcpy(s->keyhash, st->keyhash, 32);
    for (int j = 0; j <= MAXP; j++) {
        s->rcv[j] = st->rcv[j];
        st->rcv[j] = NULL;
    }
    sodium_memzero(&st->k.x, sizeof st->k.x);
    st->round = 4;
    *share = s;
    return SIGIL_OK;
}

/* ====================================================================== */
/* presigning                                                             */
/* ====================================================================== */

struct sigil_ecdsa_presign {
    int round; /* 0 new, 1, 2 after rounds, 3 finished, -1 failed */
    sigil_ecdsa_share *share;
    uint8_t sid[SID];
    uint16_t signers[MAXP];
    size_t count;
    uint16_t peers[MAXP];
    size_t npeers;
    uint8_t ctx[32];  /* H(sid, signer set): binds commitments and multiplications */
    sigil_scalar sk;  /* lambda_i x_i */
    sigil_scalar r, phi;
    sigil_point Ri;
    uint8_t salt[32];
    uint8_t mycom[32];
    uint8_t com[MAXP][32];     /* peers' commitments, by peer index */
    uint8_t echo[32];          /* hash of every round-1 commitment seen */
    sigil_mult_bob *bob[MAXP]; /* me as Bob toward peers[k] */
    sigil_scalar b[MAXP];      /* my random Bob input toward peers[k] */
    sigil_scalar cu[MAXP], cv[MAXP]; /* my Alice outputs toward peers[k] */
};

struct sigil_ecdsa_presig {
    int used;
    uint16_t id;
    uint8_t sid[SID];
    uint16_t signers[MAXP];
    size_t count;
    uint8_t pubkey[33];
    uint8_t R[33];
    sigil_scalar rx, phi, v;
    sigil_scalar u;
};

static const char PRESIGN_LABEL[] = "sigil/dkls23/presign/v1";

/* Multiplication / OT extension session id for M(alice -> bob): the
 * session id, the pair, and the session context (signer set), so a
 * multiplication message from the same sid but another signer set is
 * rejected by the OT layer (SIGIL_E_SESSION) before any secret is used. */
static size_t mult_sid(uint8_t out[128], const sigil_ecdsa_presign *st, uint16_t alice, uint16_t bob)
{
    memcpy(out, PRESIGN_LABEL, sizeof PRESIGN_LABEL);
    size_t o = sizeof PRESIGN_LABEL;
    memcpy(out + o, st->sid, SID);
    o += SID;
    memcpy(out + o, st->ctx, 32);
    o += 32;
    out[o++] = (uint8_t)(alice >> 8);
    out[o++] = (uint8_t)alice;
    out[o++] = (uint8_t)(bob >> 8);
    out[o++] = (uint8_t)bob;
    return o;
}

/* ctx = H(domain, sid, count, signers). The key and the pair's OT setup
 * are bound by the OT layer (setup fingerprint in every extension
 * message; the setup itself was bound to the key hash in SETUP1). */
static void session_ctx(sigil_ecdsa_presign *st)
{
    static const char dom[] = "sigil/dkls23/presign-ctx/v1";
    crypto_hash_sha256_state h;
    uint8_t b[2] = {(uint8_t)(st->count >> 8), (uint8_t)st->count};
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, (const uint8_t *)dom, sizeof dom);
    crypto_hash_sha256_update(&h, st->sid, SID);
    crypto_hash_sha256_update(&h, b, 2);
    for (size_t k = 0; k < st->count; k++) {
        b[0] = (uint8_t)(st->signers[k] >> 8);
        b[1] = (uint8_t)st->signers[k];
        crypto_hash_sha256_update(&h, b, 2);
    }
    crypto_hash_sha256_final(&h, st->ctx);
}

/* Commitment to R_i, bound to the session context (sid, signer set) and
 * the committer. */
static void commit(uint8_t out[32], const uint8_t ctx[32], uint16_t id, const uint8_t R[33],
                   const uint8_t salt[32])
{
    static const char dom[] = "sigil/dkls23/commit/v2";
    uint8_t idb[2] = {(uint8_t)(id >> 8), (uint8_t)id};
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)dom, sizeof dom);
    crypto_hash_sha256_update(&st, ctx, 32);
    crypto_hash_sha256_update(&st, idb, 2);
    crypto_hash_sha256_update(&st, R, 33);
    crypto_hash_sha256_update(&st, salt, 32);
    crypto_hash_sha256_final(&st, out);
}

/* H(sid, signers, com_k for every signer k in order) */
static void echo_hash(sigil_ecdsa_presign *st)
{
    static const char dom[] = "sigil/dkls23/echo/v1";
    crypto_hash_sha256_state h;
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, (const uint8_t *)dom, sizeof dom);
    crypto_hash_sha256_update(&h, st->sid, SID);
    for (size_t k = 0, p = 0; k < st->count; k++) {
        uint8_t idb[2] = {(uint8_t)(st->signers[k] >> 8), (uint8_t)st->signers[k]};
        crypto_hash_sha256_update(&h, idb, 2);
        if (st->signers[k] == st->share->k.id)
            crypto_hash_sha256_update(&h, st->mycom, 32);
        else
            crypto_hash_sha256_update(&h, st->com[p++], 32);
    }
    crypto_hash_sha256_final(&h, st->echo);
}

static void presign_wipe(sigil_ecdsa_presign *st)
{
    for (size_t k = 0; k < MAXP; k++) {
        sigil_mult_bob_free(st->bob[k]);
        st->bob[k] = NULL;
    }
    sodium_memzero(&st->sk, sizeof st->sk);
    sodium_memzero(&st->r, sizeof st->r);
    sodium_memzero(&st->phi, sizeof st->phi);
    sodium_memzero(st->b, sizeof st->b);
    sodium_memzero(st->cu, sizeof st->cu);
    sodium_memzero(st->cv, sizeof st->cv);
}

void sigil_ecdsa_presign_free(sigil_ecdsa_presign *st)
{
    if (st == NULL)
        return;
    presign_wipe(st);
    sodium_free(st);
}

void sigil_ecdsa_presig_free(sigil_ecdsa_presig *ps)
{
    if (ps != NULL)
        sodium_free(ps);
}

int sigil_ecdsa_presign_new(sigil_ecdsa_presign **out, sigil_ecdsa_share *share,
                            const uint8_t sid[SID], const uint16_t *signers, size_t count)
{
    const sigil_group *g = G();
    int rc, self = 0;
    if (out == NULL || share == NULL || sid == NULL || signers == NULL)
        return SIGIL_E_INVALID;
    *out = NULL;
    if (count < share->k.t || count > share->k.n)
        return SIGIL_E_THRESHOLD;
    for (size_t k = 0; k < count; k++) {
        if (signers[k] == 0 || signers[k] > share->k.n || (k > 0 && signers[k] <= signers[k - 1]))
            return SIGIL_E_PARTICIPANT;
        self |= signers[k] == share->k.id;
    }
    if (!self)
        return SIGIL_E_PARTICIPANT;
    for (size_t k = 0; k < count; k++)
        if (signers[k] != share->k.id && (share->snd[signers[k]] == NULL || share->rcv[signers[k]] == NULL))
            return SIGIL_E_STATE;
    /* a sender state burned by a peer caught cheating in the OT extension
     * (SIGIL_E_CHECK in an earlier round 2) must not be used again: refuse
     * before anything is sent, until a refresh gives new states */
    for (size_t k = 0; k < count; k++)
        if (signers[k] != share->k.id && sigil_ot_sender_is_burned(share->snd[signers[k]]))
            return SIGIL_E_USED;
    sigil_ecdsa_presign *st = secure_new(sizeof *st);
    if (st == NULL)
        return SIGIL_E_NOMEM;
    st->share = share;
    memcpy(st->sid, sid, SID);
    memcpy(st->signers, signers, count * sizeof *signers);
    st->count = count;
    for (size_t k = 0; k < count; k++)
        if (signers[k] != share->k.id)
            st->peers[st->npeers++] = signers[k];
    session_ctx(st);
    sigil_scalar lam;
    if ((rc = lagrange(&lam, share->k.id, signers, count)) != SIGIL_OK)
        goto fail;
    sigil_scalar_mul(g, &st->sk, &lam, &share->k.x);
    *out = st;
    return SIGIL_OK;
fail:
    sigil_ecdsa_presign_free(st);
    return rc;
}

int sigil_ecdsa_presign_round1(sigil_ecdsa_presign *st, sigil_buf *out)
{
    const sigil_group *g = G();
    uint8_t R33[33], com[32], msid[128];
    int rc;
    if (st == NULL || out == NULL)
        return SIGIL_E_INVALID;
    if (st->round != 0)
        return SIGIL_E_STATE;
    if (!out_ok(out, st->npeers))
        return SIGIL_E_INVALID;
    if ((rc = sigil_scalar_random(g, &st->r)) != SIGIL_OK ||
        (rc = sigil_scalar_random(g, &st->phi)) != SIGIL_OK ||
        (rc = sigil_point_base_mul(g, &st->Ri, &st->r)) != SIGIL_OK)
        goto fail;
    randombytes_buf(st->salt, 32);
    sigil_point_serialize(g, R33, &st->Ri);
    commit(com, st->ctx, st->share->k.id, R33, st->salt);
    memcpy(st->mycom, com, 32);
    for (size_t k = 0; k < st->npeers; k++) {
        uint16_t j = st->peers[k];
        size_t lo, ml = mult_sid(msid, st, j, st->share->k.id);
        if ((rc = env_begin(&out[k], SIGIL_ECDSA_MSG_PRESIGN1, st->sid, st->share->k.id, j, &lo)) !=
                SIGIL_OK ||
            (rc = sigil_buf_put(&out[k], com, 32)) != SIGIL_OK)
            goto fail;
        /* M(j -> me): I am Bob with the receiver state of pair (j, me) */
        if ((rc = sigil_mult_bob_start(&st->bob[k], st->share->rcv[j], msid, ml, &st->b[k],
                                       &out[k])) != SIGIL_OK ||
            (rc = env_end(&out[k], lo)) != SIGIL_OK)
            goto fail;
    }
    st->round = 1;
    return SIGIL_OK;
fail:
    out_clear(out, st->npeers);
    presign_wipe(st);
    st->round = -1;
    return rc;
}

int sigil_ecdsa_presign_round2(sigil_ecdsa_presign *st, const sigil_buf *in, sigil_buf *out,
                               uint16_t *culprit)
{
    const sigil_group *g = G();
    sigil_ecdsa_msg msgs[MAXP];
    uint8_t R33[33], msid[128];
    sigil_scalar a[SIGIL_MULT_L], c[SIGIL_MULT_L], psi;
    uint16_t dummy;
    int rc;
    if (culprit == NULL)
        culprit = &dummy;
    *culprit = 0;
    memset(a, 0, sizeof a);
    if (st == NULL || in == NULL || out == NULL)
        return SIGIL_E_INVALID;
    if (st->round != 1)
        return SIGIL_E_STATE;
    if (!out_ok(out, st->npeers))
        return SIGIL_E_INVALID;
    rc = env_collect(msgs, in, st->peers, st->npeers, SIGIL_ECDSA_MSG_PRESIGN1, st->sid,
                     st->share->k.id, 0, culprit);
    if (rc != SIGIL_OK)
        goto fail;
    for (size_t k = 0; k < st->npeers; k++) {
        if (msgs[k].payload_len < 32) {
            *culprit = st->peers[k];
            rc = SIGIL_E_TRUNCATED;
            goto fail;
        }
        memcpy(st->com[k], msgs[k].payload, 32);
    }
    echo_hash(st);
    sigil_point_serialize(g, R33, &st->Ri);
    a[0] = st->r;
    a[1] = st->sk;
    for (size_t k = 0; k < st->npeers; k++) {
        uint16_t j = st->peers[k];
        size_t lo, ml = mult_sid(msid, st, st->share->k.id, j);
        sigil_point Gu, Gv;
        if ((rc = env_begin(&out[k], SIGIL_ECDSA_MSG_PRESIGN2, st->sid, st->share->k.id, j, &lo)) !=
                SIGIL_OK ||
            (rc = sigil_buf_put(&out[k], st->echo, 32)) != SIGIL_OK ||
            (rc = sigil_buf_put(&out[k], R33, 33)) != SIGIL_OK ||
            (rc = sigil_buf_put(&out[k], st->salt, 32)) != SIGIL_OK)
            goto fail;
        /* psi = phi - b: my correction for M(j -> me) */
        sigil_scalar_sub(g, &psi, &st->phi, &st->b[k]);
        rc = sigil_scalar_put(g, &out[k], &psi);
        sigil_scalar_clear(&psi);
        if (rc != SIGIL_OK)
            goto fail;
        /* M(me -> j): I am Alice with input (r, sk) */
        sigil_buf mm;
        if ((rc = sigil_buf_init(&mm, SIGIL_ECDSA_MAX_PAYLOAD, 0)) != SIGIL_OK)
            goto fail;
        rc = sigil_mult_alice(st->share->snd[j], msid, ml, a, msgs[k].payload + 32,
                              msgs[k].payload_len - 32, c, &mm);
        if (rc != SIGIL_OK) {
            sigil_buf_free(&mm);
            *culprit = j;
            goto fail;
        }
        st->cu[k] = c[0];
        st->cv[k] = c[1];
        sodium_memzero(c, sizeof c);
        if ((rc = sigil_point_base_mul(g, &Gu, &st->cu[k])) != SIGIL_OK ||
            (rc = sigil_point_base_mul(g, &Gv, &st->cv[k])) != SIGIL_OK ||
            (rc = sigil_point_put(g, &out[k], &Gu)) != SIGIL_OK ||
            (rc = sigil_point_put(g, &out[k], &Gv)) != SIGIL_OK ||
            (rc = sigil_buf_put(&out[k], mm.data, mm.size)) != SIGIL_OK) {
            sigil_buf_free(&mm);
            goto fail;
        }
        sigil_buf_free(&mm);
        if ((rc = env_end(&out[k], lo)) != SIGIL_OK)
            goto fail;
    }
    sodium_memzero(a, sizeof a);
    st->round = 2;
    return SIGIL_OK;
fail:
    sodium_memzero(a, sizeof a);
    out_clear(out, st->npeers);
    presign_wipe(st);
    st->round = -1;
    return rc;
}

int sigil_ecdsa_presign_finish(sigil_ecdsa_presign *st, const sigil_buf *in,
                               sigil_ecdsa_presig **psout, uint16_t *culprit)
{
    const sigil_group *g = G();
    sigil_ecdsa_msg msgs[MAXP];
    sigil_point Rs[MAXP], R, pkj, t1, t2, Gu, Gv;
    uint8_t R33[33], salt[32], com[32], x[32], echo[MAXP][32];
    sigil_scalar psi[MAXP], d[SIGIL_MULT_L], lam, p;
    uint16_t dummy;
    int rc;
    if (culprit == NULL)
        culprit = &dummy;
    *culprit = 0;
    if (st == NULL || in == NULL || psout == NULL)
        return SIGIL_E_INVALID;
    *psout = NULL;
    if (st->round != 2)
        return SIGIL_E_STATE;
    sigil_ecdsa_presig *ps = secure_new(sizeof *ps);
    if (ps == NULL)
        return SIGIL_E_NOMEM;
    rc = env_collect(msgs, in, st->peers, st->npeers, SIGIL_ECDSA_MSG_PRESIGN2, st->sid,
                     st->share->k.id, 0, culprit);
    if (rc != SIGIL_OK)
        goto fail;
    /* u = r phi, v = sk phi, then add each pair's terms */
    sigil_scalar_mul(g, &ps->u, &st->r, &st->phi);
    sigil_scalar_mul(g, &ps->v, &st->sk, &st->phi);
    Rs[0] = st->Ri;
    for (size_t k = 0; k < st->npeers; k++) {
        uint16_t j = st->peers[k];
        sigil_buf b;
        sigil_point Rj;
        *culprit = j;
        sigil_buf_view(&b, msgs[k].payload, msgs[k].payload_len);
        if ((rc = sigil_buf_get(&b, echo[k], 32)) != SIGIL_OK ||
            (rc = sigil_buf_get(&b, R33, 33)) != SIGIL_OK ||
            (rc = sigil_buf_get(&b, salt, 32)) != SIGIL_OK ||
            (rc = sigil_scalar_get(g, &b, &psi[k])) != SIGIL_OK ||
            (rc = sigil_point_get(g, &b, &Gu)) != SIGIL_OK ||
            (rc = sigil_point_get(g, &b, &Gv)) != SIGIL_OK)
            goto fail;
        /* decommitment */
        commit(com, st->ctx, j, R33, salt);
        if (!sigil_memeq(com, st->com[k], 32)) {
            rc = SIGIL_E_CHECK;
            goto fail;
        }
        if ((rc = sigil_point_parse(g, &Rj, R33, 33)) != SIGIL_OK)
            goto fail;
        Rs[k + 1] = Rj;
        /* M(j -> me): finish as Bob (consistency check inside) */
        rc = sigil_mult_bob_finish(st->bob[k], sigil_buf_ptr(&b), sigil_buf_len(&b), d);
        st->bob[k] = NULL;
        if (rc != SIGIL_OK)
            goto fail;
        /* pairwise checks: b R_j - Gu == d_u G, b pk_j - Gv == d_v G */
        if ((rc = lagrange(&lam, j, st->signers, st->count)) != SIGIL_OK ||
            (rc = sigil_point_mul_public(g, &pkj, &st->share->k.X[j - 1], &lam)) != SIGIL_OK)
            goto fail;
        int ok = 1;
        if (sigil_point_mul(g, &t1, &Rj, &st->b[k]) != SIGIL_OK ||
            sigil_point_sub(g, &t1, &t1, &Gu) != SIGIL_OK ||
            sigil_point_base_mul(g, &t2, &d[0]) != SIGIL_OK || !sigil_point_eq(g, &t1, &t2))
            ok = 0;
        if (sigil_point_mul(g, &t1, &pkj, &st->b[k]) != SIGIL_OK ||
            sigil_point_sub(g, &t1, &t1, &Gv) != SIGIL_OK ||
            sigil_point_base_mul(g, &t2, &d[1]) != SIGIL_OK || !sigil_point_eq(g, &t1, &t2))
            ok = 0;
        if (!ok) {
            rc = SIGIL_E_CHECK;
            goto fail;
        }
        /* u += c_u + r psi + d_u ; v += c_v + sk psi + d_v */
        sigil_scalar_add(g, &ps->u, &ps->u, &st->cu[k]);
        sigil_scalar_mul(g, &p, &st->r, &psi[k]);
        sigil_scalar_add(g, &ps->u, &ps->u, &p);
        sigil_scalar_add(g, &ps->u, &ps->u, &d[0]);
        sigil_scalar_add(g, &ps->v, &ps->v, &st->cv[k]);
        sigil_scalar_mul(g, &p, &st->sk, &psi[k]);
        sigil_scalar_add(g, &ps->v, &ps->v, &p);
        sigil_scalar_add(g, &ps->v, &ps->v, &d[1]);
        sodium_memzero(d, sizeof d);
    }
    /* echo: every peer saw the same round-1 commitments as we did, so all
     * honest signers hold the same R (a party equivocating on its
     * commitment is caught here, before any online share exists) */
    for (size_t k = 0; k < st->npeers; k++)
        if (!sigil_memeq(echo[k], st->echo, 32)) {
            *culprit = st->peers[k];
            rc = SIGIL_E_MISMATCH;
            goto fail;
        }
    *culprit = 0;
    if ((rc = sigil_point_sum(g, &R, Rs, st->npeers + 1)) != SIGIL_OK)
        goto fail;
    sigil_point_serialize(g, ps->R, &R);
    if ((rc = sigil_point_x(g, x, &R)) != SIGIL_OK ||
        (rc = sigil_scalar_reduce(g, &ps->rx, x, 32)) != SIGIL_OK)
        goto fail;
    if (sigil_scalar_is_zero(&ps->rx)) {
        rc = SIGIL_E_ZERO;
        goto fail;
    }
    ps->phi = st->phi;
    ps->id = st->share->k.id;
    memcpy(ps->sid, st->sid, SID);
    memcpy(ps->signers, st->signers, sizeof st->signers);
    ps->count = st->count;
    sigil_point_serialize(g, ps->pubkey, &st->share->k.Y);
    presign_wipe(st);
    sodium_memzero(psi, sizeof psi);
    sigil_scalar_clear(&p);
    st->round = 3;
    *psout = ps;
    return SIGIL_OK;
fail:
    sodium_memzero(psi, sizeof psi);
    sodium_memzero(d, sizeof d);
    sigil_scalar_clear(&p);
    sigil_ecdsa_presig_free(ps);
    presign_wipe(st);
    st->round = -1;
    return rc;
}

/* ====================================================================== */
/* online round                                                           */
/* ====================================================================== */

int sigil_ecdsa_sign_share(sigil_ecdsa_presig *ps, const uint8_t digest[32], sigil_buf *out,
                           sigil_ecdsa_combiner *comb)
{
    const sigil_group *g = G();
    sigil_scalar h, w, t;
    size_t lo;
    int rc;
    if (ps == NULL || digest == NULL || out == NULL || comb == NULL ||
        (out->flags & SIGIL_BUF_READONLY))
        return SIGIL_E_INVALID;
    if (ps->used)
        return SIGIL_E_USED;
    ps->used = 1;
    memset(comb, 0, sizeof *comb);
    size_t start = out->size;
    if ((rc = sigil_scalar_reduce(g, &h, digest, 32)) != SIGIL_OK)
        goto done;
    /* w = H(m) phi + r_x v */
    sigil_scalar_mul(g, &w, &h, &ps->phi);
    sigil_scalar_mul(g, &t, &ps->rx, &ps->v);
    sigil_scalar_add(g, &w, &w, &t);
    if ((rc = env_begin(out, SIGIL_ECDSA_MSG_SIGN, ps->sid, ps->id, 0, &lo)) != SIGIL_OK ||
        (rc = sigil_scalar_put(g, out, &w)) != SIGIL_OK ||
        (rc = sigil_scalar_put(g, out, &ps->u)) != SIGIL_OK || (rc = env_end(out, lo)) != SIGIL_OK)
        goto done;
    memcpy(comb->sid, ps->sid, SID);
    memcpy(comb->signers, ps->signers, sizeof ps->signers);
    comb->count = ps->count;
    memcpy(comb->pubkey, ps->pubkey, 33);
    memcpy(comb->R, ps->R, 33);
    memcpy(comb->digest, digest, 32);
done:
    if (rc != SIGIL_OK && out->size > start) {
        sodium_memzero(out->data + start, out->size - start);
        out->size = start;
    }
    sigil_scalar_clear(&w);
    sigil_scalar_clear(&t);
    /* consumed: everything secret goes, only the used mark stays */
    sodium_memzero(&ps->phi, sizeof ps->phi);
    sodium_memzero(&ps->v, sizeof ps->v);
    sodium_memzero(&ps->u, sizeof ps->u);
    sodium_memzero(&ps->rx, sizeof ps->rx);
    return rc;
}

static const uint8_t HALF_ORDER[32] = {
    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0};

int sigil_ecdsa_combine(const sigil_ecdsa_combiner *comb, const sigil_buf *in, uint8_t sig[64],
                        int *recid, uint16_t *culprit)
{
    const sigil_group *g = G();
    sigil_ecdsa_msg msgs[MAXP];
    sigil_scalar ws, us, w, u, s, rx;
    sigil_point R;
    uint8_t x[32];
    uint16_t dummy;
    int rc;
    if (culprit == NULL)
        culprit = &dummy;
    *culprit = 0;
    if (comb == NULL || in == NULL || sig == NULL || recid == NULL)
        return SIGIL_E_INVALID;
    memset(sig, 0, 64);
    *recid = -1;
    if (comb->count < 2 || comb->count > MAXP)
        return SIGIL_E_INVALID;
    /* sender check per slot: every signer, own share included */
    for (size_t k = 0; k < comb->count; k++) {
        rc = env_collect(&msgs[k], &in[k], &comb->signers[k], 1, SIGIL_ECDSA_MSG_SIGN, comb->sid, 0,
                         1, culprit);
        if (rc != SIGIL_OK)
            return rc;
    }
    memset(&ws, 0, sizeof ws);
    memset(&us, 0, sizeof us);
    for (size_t k = 0; k < comb->count; k++) {
        sigil_buf b;
        *culprit = comb->signers[k];
        sigil_buf_view(&b, msgs[k].payload, msgs[k].payload_len);
        if ((rc = sigil_scalar_get(g, &b, &w)) != SIGIL_OK ||
            (rc = sigil_scalar_get(g, &b, &u)) != SIGIL_OK || (rc = sigil_buf_end(&b)) != SIGIL_OK)
            return rc;
        sigil_scalar_add(g, &ws, &ws, &w);
        sigil_scalar_add(g, &us, &us, &u);
    }
    *culprit = 0;
    if ((rc = sigil_point_parse(g, &R, comb->R, 33)) != SIGIL_OK ||
        (rc = sigil_point_x(g, x, &R)) != SIGIL_OK || (rc = sigil_scalar_reduce(g, &rx, x, 32)) != SIGIL_OK)
        return rc;
    /* the combiner's inputs and the signature are public: a variable-time
     * inversion (mpz_invert) is several times faster than mpn_sec_invert */
    if (sigil_scalar_inv_public(g, &us, &us) != SIGIL_OK)
        return SIGIL_E_SIGNATURE;
    sigil_scalar_mul(g, &s, &ws, &us);
    if (sigil_scalar_is_zero(&s))
        return SIGIL_E_SIGNATURE;
    /* recovery id: bit 0 = parity of R.y, bit 1 = x(R) >= n */
    int rid = sigil_point_is_even_y(g, &R) ? 0 : 1;
    if (memcmp(x, rx.v, 32) != 0)
        rid |= 2;
    /* low-s: s > n/2 -> n - s, which flips R to -R */
    if (memcmp(s.v, HALF_ORDER, 32) > 0) {
        sigil_scalar_neg(g, &s, &s);
        rid ^= 1;
    }
    memcpy(sig, rx.v, 32);
    memcpy(sig + 32, s.v, 32);
    if (sigil_ecdsa_verify(comb->pubkey, 33, comb->digest, sig, 0) != SIGIL_OK) {
        memset(sig, 0, 64);
        return SIGIL_E_SIGNATURE;
    }
    *recid = rid;
    return SIGIL_OK;
}
