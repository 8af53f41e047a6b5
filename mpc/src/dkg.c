/* DKG: see sigil/dkg.h for the protocol and its message encodings. */
#include "sigil/dkg.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "sigil/err.h"
#include "sigil/hash.h"

enum { MSG_ROUND1 = 0x01, MSG_SHARE = 0x02, MSG_CONFIRM = 0x03, KEYSHARE_TAG = 0x4b };
enum { ST_NEW, ST_R1, ST_R2, ST_R3, ST_DONE, ST_FAILED };

struct sigil_dkg {
    const sigil_group *g;
    char context[128];
    uint32_t t, n, self;
    int state;
    sigil_scalar *ids;      /* n */
    sigil_point *comm;      /* n * t: comm[i*t + k] */
    sigil_point *sum_comm;  /* t: sum over participants */
    uint8_t transcript[32];
    /* secure memory: coefficients (t) then the signing share (1) */
    sigil_scalar *sec;
    sigil_point own_y;
};

static size_t plen(const sigil_group *g)
{
    return sigil_group_point_len(g);
}

/* ---- key shares ---- */

void sigil_keyshare_free(sigil_keyshare *k)
{
    if (k == NULL)
        return;
    free(k->ids);
    free(k->verifying);
    if (k->secret)
        sodium_free(k->secret);
    memset(k, 0, sizeof(*k));
}

int sigil_keyshare_index(const sigil_keyshare *k, const sigil_scalar *id, uint32_t *idx)
{
    for (uint32_t i = 0; i < k->n; i++)
        if (sigil_scalar_eq(&k->ids[i], id)) {
            *idx = i;
            return SIGIL_OK;
        }
    return SIGIL_E_PARTICIPANT;
}

void sigil_keyshare_negate(sigil_keyshare *k)
{
    if (k->secret)
        sigil_scalar_neg(k->g, k->secret, k->secret);
    for (uint32_t i = 0; i < k->n; i++)
        sigil_point_neg(k->g, &k->verifying[i], &k->verifying[i]);
    sigil_point_neg(k->g, &k->group_pk, &k->group_pk);
}

static int keyshare_alloc(sigil_keyshare *k, const sigil_group *g, uint32_t t, uint32_t n, int with_secret)
{
    memset(k, 0, sizeof(*k));
    k->g = g;
    k->t = t;
    k->n = n;
    k->ids = calloc(n, sizeof(*k->ids));
    k->verifying = calloc(n, sizeof(*k->verifying));
    if (with_secret)
        k->secret = sodium_malloc(sizeof(*k->secret));
    if (!k->ids || !k->verifying || (with_secret && !k->secret)) {
        sigil_keyshare_free(k);
        return SIGIL_E_NOMEM;
    }
    return SIGIL_OK;
}

int sigil_keyshare_public(const sigil_keyshare *k, sigil_keyshare *out)
{
    int rc = keyshare_alloc(out, k->g, k->t, k->n, 0);
    if (rc)
        return rc;
    memcpy(out->ids, k->ids, k->n * sizeof(*k->ids));
    memcpy(out->verifying, k->verifying, k->n * sizeof(*k->verifying));
    out->group_pk = k->group_pk;
    out->self = k->self;
    return SIGIL_OK;
}

/* distinct, non-zero identifiers */
static int check_ids(const sigil_scalar *ids, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        if (sigil_scalar_is_zero(&ids[i]))
            return SIGIL_E_ZERO;
        for (uint32_t j = 0; j < i; j++)
            if (sigil_scalar_eq(&ids[i], &ids[j]))
                return SIGIL_E_PARTICIPANT;
    }
    return SIGIL_OK;
}

int sigil_keyshare_serialize(const sigil_keyshare *k, sigil_buf *out)
{
    int rc = 0;
    rc |= sigil_buf_put_u8(out, KEYSHARE_TAG);
    rc |= sigil_buf_put_u8(out, (uint8_t)sigil_group_id_of(k->g));
    rc |= sigil_buf_put_u32(out, k->t);
    rc |= sigil_buf_put_u32(out, k->n);
    rc |= sigil_buf_put_u32(out, k->self);
    for (uint32_t i = 0; i < k->n && rc == 0; i++)
        rc |= sigil_scalar_put(k->g, out, &k->ids[i]);
    for (uint32_t i = 0; i < k->n && rc == 0; i++)
        rc |= sigil_point_put(k->g, out, &k->verifying[i]);
    rc |= sigil_point_put(k->g, out, &k->group_pk);
    rc |= sigil_buf_put_u8(out, k->secret != NULL);
    if (k->secret && rc == 0)
        rc |= sigil_scalar_put(k->g, out, k->secret);
    return rc ? SIGIL_E_TOO_LARGE : SIGIL_OK;
}

int sigil_keyshare_parse(sigil_buf *in, sigil_keyshare *k)
{
    uint8_t tag, gid, has;
    uint32_t t, n, self;
    int rc;
    memset(k, 0, sizeof(*k));
    if ((rc = sigil_buf_get_u8(in, &tag)) || (rc = sigil_buf_get_u8(in, &gid)))
        return rc;
    if (tag != KEYSHARE_TAG)
        return SIGIL_E_VERSION;
    const sigil_group *g = sigil_group_get((sigil_group_id)gid);
    if (g == NULL)
        return SIGIL_E_VERSION;
    if ((rc = sigil_buf_get_u32(in, &t)) || (rc = sigil_buf_get_u32(in, &n)) ||
        (rc = sigil_buf_get_u32(in, &self)))
        return rc;
    if (n < 1 || n > SIGIL_DKG_MAX_PARTIES || t < 1 || t > n)
        return SIGIL_E_THRESHOLD;
    if (self >= n)
        return SIGIL_E_PARTICIPANT;
    if ((rc = keyshare_alloc(k, g, t, n, 1)))
        return rc;
    k->self = self;
    for (uint32_t i = 0; i < n; i++)
        if ((rc = sigil_scalar_get(g, in, &k->ids[i])))
            goto fail;
    if ((rc = check_ids(k->ids, n)))
        goto fail;
    for (uint32_t i = 0; i < n; i++)
        if ((rc = sigil_point_get(g, in, &k->verifying[i])))
            goto fail;
    if ((rc = sigil_point_get(g, in, &k->group_pk)) || (rc = sigil_buf_get_u8(in, &has)))
        goto fail;
    if (has > 1) {
        rc = SIGIL_E_ENCODING;
        goto fail;
    }
    if (has) {
        sigil_point y;
        if ((rc = sigil_scalar_get(g, in, k->secret)) || (rc = sigil_point_base_mul(g, &y, k->secret)))
            goto fail;
        if (!sigil_point_eq(g, &y, &k->verifying[self])) {
            rc = SIGIL_E_MISMATCH;
            goto fail;
        }
    } else {
        sodium_free(k->secret);
        k->secret = NULL;
    }
    if ((rc = sigil_buf_end(in)))
        goto fail;
    return SIGIL_OK;
fail:
    sigil_keyshare_free(k);
    return rc;
}

/* ---- polynomials ---- */

/* f(x) = sum coeffs[k] x^k (Horner), constant-time scalar arithmetic. */
static void poly_eval(const sigil_group *g, sigil_scalar *r, const sigil_scalar *coeffs, uint32_t t,
                      const sigil_scalar *x)
{
    sigil_scalar acc = coeffs[t - 1];
    for (uint32_t k = t - 1; k-- > 0;) {
        sigil_scalar_mul(g, &acc, &acc, x);
        sigil_scalar_add(g, &acc, &acc, &coeffs[k]);
    }
    *r = acc;
    sigil_scalar_clear(&acc);
}

/* sum_k x^k C_k (Horner over public points, x public).
 * SIGIL_E_IDENTITY if an intermediate or the result is the identity. */
static int poly_eval_points(const sigil_group *g, sigil_point *r, const sigil_point *c, uint32_t t,
                            const sigil_scalar *x)
{
    sigil_point acc = c[t - 1];
    int rc;
    for (uint32_t k = t - 1; k-- > 0;) {
        if ((rc = sigil_point_mul_public(g, &acc, &acc, x)) || (rc = sigil_point_add(g, &acc, &acc, &c[k])))
            return rc;
    }
    *r = acc;
    return SIGIL_OK;
}

/* ---- proofs of knowledge ---- */

static int pok_challenge(const sigil_group *g, const char *context, const sigil_scalar *id,
                         const sigil_point *c0, const sigil_point *R, sigil_scalar *c)
{
    uint8_t ide[32], ce[33], re[33];
    sigil_scalar_serialize(g, ide, id);
    sigil_point_serialize(g, ce, c0);
    sigil_point_serialize(g, re, R);
    sigil_iov parts[3] = {{ide, 32}, {ce, plen(g)}, {re, plen(g)}};
    return sigil_hash_to_scalar(g, context, "dkg", parts, 3, c);
}

/* z*G == R + c*X for public (R, z, c, X), as (-c)*X + z*G == R.
 * SIGIL_OK or SIGIL_E_MISMATCH. */
static int schnorr_check(const sigil_group *g, const sigil_point *R, const sigil_scalar *z,
                         const sigil_scalar *c, const sigil_point *X)
{
    sigil_point lhs;
    sigil_scalar nc;
    sigil_scalar_neg(g, &nc, c);
    if (sigil_point_mul_add_base_public(g, &lhs, X, &nc, z) != SIGIL_OK)
        return SIGIL_E_MISMATCH;
    return sigil_point_eq(g, &lhs, R) ? SIGIL_OK : SIGIL_E_MISMATCH;
}

int sigil_dkg_verify_pok(const sigil_group *g, const char *context, const sigil_scalar *id,
                         const sigil_point *c0, const uint8_t *pok, size_t len)
{
    sigil_buf b;
    sigil_point R;
    sigil_scalar z, c;
    int rc;
    sigil_buf_view(&b, pok, len);
    if ((rc = sigil_point_get(g, &b, &R)) || (rc = sigil_scalar_get(g, &b, &z)) || (rc = sigil_buf_end(&b)))
        return rc;
    if ((rc = pok_challenge(g, context, id, c0, &R, &c)))
        return rc;
    return schnorr_check(g, &R, &z, &c, c0) == SIGIL_OK ? SIGIL_OK : SIGIL_E_PROOF;
}

/* ---- the protocol ---- */

int sigil_dkg_new(const sigil_dkg_params *p, sigil_dkg **out)
{
    int rc;
    *out = NULL;
    if (p == NULL || p->g == NULL || p->context == NULL || p->ids == NULL ||
        strlen(p->context) >= sizeof(((sigil_dkg *)0)->context) || strlen(p->context) == 0)
        return SIGIL_E_INVALID;
    if (p->n < 2 || p->n > SIGIL_DKG_MAX_PARTIES || p->t < 1 || p->t > p->n)
        return SIGIL_E_THRESHOLD;
    if (p->self >= p->n)
        return SIGIL_E_PARTICIPANT;
    if ((rc = check_ids(p->ids, p->n)))
        return rc;
    sigil_dkg *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return SIGIL_E_NOMEM;
    d->g = p->g;
    strcpy(d->context, p->context);
    d->t = p->t;
    d->n = p->n;
    d->self = p->self;
    d->ids = malloc(p->n * sizeof(*d->ids));
    d->comm = calloc((size_t)p->n * p->t, sizeof(*d->comm));
    d->sum_comm = calloc(p->t, sizeof(*d->sum_comm));
    d->sec = sodium_malloc((p->t + 1) * sizeof(*d->sec));
    if (!d->ids || !d->comm || !d->sum_comm || !d->sec) {
        sigil_dkg_free(d);
        return SIGIL_E_NOMEM;
    }
    memcpy(d->ids, p->ids, p->n * sizeof(*d->ids));
    sodium_memzero(d->sec, (p->t + 1) * sizeof(*d->sec));
    d->state = ST_NEW;
    *out = d;
    return SIGIL_OK;
}

void sigil_dkg_free(sigil_dkg *d)
{
    if (d == NULL)
        return;
    free(d->ids);
    free(d->comm);
    free(d->sum_comm);
    if (d->sec)
        sodium_free(d->sec);
    free(d);
}

static int fail(sigil_dkg *d, int rc)
{
    if (rc != SIGIL_OK) {
        d->state = ST_FAILED;
        sodium_memzero(d->sec, (d->t + 1) * sizeof(*d->sec));
    }
    return rc;
}

int sigil_dkg_round1(sigil_dkg *d, const sigil_scalar *coeffs, const sigil_scalar *pok_nonce, sigil_buf *out)
{
    const sigil_group *g = d->g;
    sigil_scalar k, c;
    sigil_point R;
    int rc;

    if (d->state != ST_NEW)
        return SIGIL_E_STATE;
    for (uint32_t i = 0; i < d->t; i++) {
        if (coeffs) {
            d->sec[i] = coeffs[i];
        } else if ((rc = sigil_scalar_random(g, &d->sec[i]))) {
            return fail(d, rc);
        }
    }
    if (sigil_scalar_is_zero(&d->sec[0]))
        return fail(d, SIGIL_E_ZERO);
    sigil_point *mine = &d->comm[(size_t)d->self * d->t];
    for (uint32_t i = 0; i < d->t; i++)
        if ((rc = sigil_point_base_mul(g, &mine[i], &d->sec[i])))
            return fail(d, rc); /* a zero higher coefficient: only from injected input */
    if (pok_nonce)
        k = *pok_nonce;
    else if ((rc = sigil_scalar_random(g, &k)))
        return fail(d, rc);
    if ((rc = sigil_point_base_mul(g, &R, &k)) ||
        (rc = pok_challenge(g, d->context, &d->ids[d->self], &mine[0], &R, &c))) {
        sigil_scalar_clear(&k);
        return fail(d, rc);
    }
    sigil_scalar z;
    sigil_scalar_mul(g, &z, &d->sec[0], &c);
    sigil_scalar_add(g, &z, &z, &k);
    sigil_scalar_clear(&k);

    sigil_buf msg;
    if ((rc = sigil_buf_init(&msg, 1 + 32 + (d->t + 1) * 33 + 32, 0)))
        return fail(d, rc);
    rc |= sigil_buf_put_u8(&msg, MSG_ROUND1);
    rc |= sigil_scalar_put(g, &msg, &d->ids[d->self]);
    for (uint32_t i = 0; i < d->t; i++)
        rc |= sigil_point_put(g, &msg, &mine[i]);
    rc |= sigil_point_put(g, &msg, &R);
    rc |= sigil_scalar_put(g, &msg, &z);
    if (rc == 0)
        rc = sigil_buf_put(out, sigil_buf_ptr(&msg), sigil_buf_len(&msg));
    sigil_buf_free(&msg);
    if (rc)
        return fail(d, rc);
    d->state = ST_R1;
    return SIGIL_OK;
}

/* Parse participant i's round-1 message into d->comm and verify its PoK. */
static int parse_round1(sigil_dkg *d, uint32_t i, const sigil_buf *in)
{
    const sigil_group *g = d->g;
    sigil_buf b = *in;
    uint8_t type;
    sigil_scalar id;
    const uint8_t *pok;
    int rc;

    if ((rc = sigil_buf_get_u8(&b, &type)))
        return rc;
    if (type != MSG_ROUND1)
        return SIGIL_E_VERSION;
    if ((rc = sigil_scalar_get(g, &b, &id)))
        return rc;
    if (!sigil_scalar_eq(&id, &d->ids[i]))
        return SIGIL_E_PARTICIPANT;
    sigil_point *c = &d->comm[(size_t)i * d->t];
    for (uint32_t k = 0; k < d->t; k++)
        if ((rc = sigil_point_get(g, &b, &c[k])))
            return rc;
    size_t pl = plen(g) + 32;
    if ((rc = sigil_buf_get_ptr(&b, pl, &pok)) || (rc = sigil_buf_end(&b)))
        return rc;
    return sigil_dkg_verify_pok(g, d->context, &id, &c[0], pok, pl);
}

int sigil_dkg_round2(sigil_dkg *d, const sigil_buf *in, sigil_buf *out, uint32_t *culprit)
{
    const sigil_group *g = d->g;
    int rc;
    *culprit = SIGIL_DKG_NOBODY;
    if (d->state != ST_R1)
        return SIGIL_E_STATE;
    for (uint32_t i = 0; i < d->n; i++) {
        if (i == d->self)
            continue;
        if ((rc = parse_round1(d, i, &in[i]))) {
            *culprit = i;
            return fail(d, rc);
        }
    }
    /* transcript: context, group, t, n, identifiers, every commitment in index order
     * (what determines the key and every verifying share) */
    crypto_hash_sha256_state st;
    uint8_t hdr[9];
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)"Sigil/dkg-transcript/v1", 23);
    crypto_hash_sha256_update(&st, (const uint8_t *)d->context, strlen(d->context) + 1);
    hdr[0] = (uint8_t)sigil_group_id_of(g);
    for (int k = 0; k < 4; k++) {
        hdr[1 + k] = (uint8_t)(d->t >> (24 - 8 * k));
        hdr[5 + k] = (uint8_t)(d->n >> (24 - 8 * k));
    }
    crypto_hash_sha256_update(&st, hdr, sizeof(hdr));
    for (uint32_t i = 0; i < d->n; i++)
        crypto_hash_sha256_update(&st, d->ids[i].v, 32);
    for (size_t i = 0; i < (size_t)d->n * d->t; i++) {
        uint8_t e[33];
        sigil_point_serialize(g, e, &d->comm[i]);
        crypto_hash_sha256_update(&st, e, plen(g));
    }
    crypto_hash_sha256_final(&st, d->transcript);

    for (uint32_t j = 0; j < d->n; j++) {
        if (j == d->self)
            continue;
        sigil_scalar s;
        poly_eval(g, &s, d->sec, d->t, &d->ids[j]);
        rc = 0;
        rc |= sigil_buf_put_u8(&out[j], MSG_SHARE);
        rc |= sigil_scalar_put(g, &out[j], &d->ids[d->self]);
        rc |= sigil_scalar_put(g, &out[j], &d->ids[j]);
        rc |= sigil_scalar_put(g, &out[j], &s);
        sigil_scalar_clear(&s);
        if (rc)
            return fail(d, SIGIL_E_TOO_LARGE);
    }
    d->state = ST_R2;
    return SIGIL_OK;
}

static int parse_share(sigil_dkg *d, uint32_t i, const sigil_buf *in, sigil_scalar *s)
{
    const sigil_group *g = d->g;
    sigil_buf b = *in;
    uint8_t type;
    sigil_scalar from, to;
    int rc;
    if ((rc = sigil_buf_get_u8(&b, &type)))
        return rc;
    if (type != MSG_SHARE)
        return SIGIL_E_VERSION;
    if ((rc = sigil_scalar_get(g, &b, &from)) || (rc = sigil_scalar_get(g, &b, &to)))
        return rc;
    if (!sigil_scalar_eq(&from, &d->ids[i]) || !sigil_scalar_eq(&to, &d->ids[d->self]))
        return SIGIL_E_PARTICIPANT;
    if ((rc = sigil_scalar_get(g, &b, s)) || (rc = sigil_buf_end(&b)))
        return rc;
    return SIGIL_OK;
}

/* s*G == sum_k id^k C_k ? */
static int share_matches(const sigil_group *g, const sigil_scalar *s, const sigil_point *c, uint32_t t,
                         const sigil_scalar *id)
{
    sigil_point lhs, rhs;
    if (sigil_point_base_mul(g, &lhs, s) != SIGIL_OK || poly_eval_points(g, &rhs, c, t, id) != SIGIL_OK)
        return 0;
    return sigil_point_eq(g, &lhs, &rhs);
}

static int confirm_challenge(const sigil_dkg *d, const sigil_scalar *id, const sigil_point *Y,
                             const sigil_point *R, const uint8_t hash[32], sigil_scalar *c)
{
    const sigil_group *g = d->g;
    uint8_t ide[32], ye[33], re[33];
    sigil_scalar_serialize(g, ide, id);
    sigil_point_serialize(g, ye, Y);
    sigil_point_serialize(g, re, R);
    sigil_iov parts[4] = {{ide, 32}, {ye, plen(g)}, {re, plen(g)}, {hash, 32}};
    return sigil_hash_to_scalar(g, d->context, "dkg-confirm", parts, 4, c);
}

int sigil_dkg_round3(sigil_dkg *d, const sigil_buf *in, sigil_buf *out, uint32_t *culprit)
{
    const sigil_group *g = d->g;
    sigil_scalar *share = &d->sec[d->t];
    sigil_scalar *recv = NULL;
    int rc;
    *culprit = SIGIL_DKG_NOBODY;
    if (d->state != ST_R2)
        return SIGIL_E_STATE;
    recv = sodium_malloc(d->n * sizeof(*recv));
    if (recv == NULL)
        return fail(d, SIGIL_E_NOMEM);
    poly_eval(g, &recv[d->self], d->sec, d->t, &d->ids[d->self]);
    for (uint32_t i = 0; i < d->n; i++) {
        if (i == d->self)
            continue;
        if ((rc = parse_share(d, i, &in[i], &recv[i]))) {
            *culprit = i;
            goto out;
        }
    }
    *share = recv[0];
    for (uint32_t i = 1; i < d->n; i++)
        sigil_scalar_add(g, share, share, &recv[i]);

    /* summed commitments; then one batch check of the summed share */
    sigil_point *col = malloc(d->n * sizeof(*col));
    if (col == NULL) {
        rc = SIGIL_E_NOMEM;
        goto out;
    }
    int batch_ok = 1;
    for (uint32_t k = 0; k < d->t && batch_ok; k++) {
        for (uint32_t i = 0; i < d->n; i++)
            col[i] = d->comm[(size_t)i * d->t + k];
        if (sigil_point_sum(g, &d->sum_comm[k], col, d->n) != SIGIL_OK)
            batch_ok = 0;
    }
    free(col);
    if (batch_ok)
        batch_ok = share_matches(g, share, d->sum_comm, d->t, &d->ids[d->self]);
    if (!batch_ok) {
        /* name the first sender whose share does not match its commitments */
        rc = SIGIL_E_IDENTITY;
        for (uint32_t i = 0; i < d->n; i++) {
            if (!share_matches(g, &recv[i], &d->comm[(size_t)i * d->t], d->t, &d->ids[d->self])) {
                *culprit = i;
                rc = SIGIL_E_SHARE;
                break;
            }
        }
        goto out;
    }

    /* confirmation: Schnorr signature by the new share over the transcript hash */
    if ((rc = sigil_point_base_mul(g, &d->own_y, share)))
        goto out;
    {
        sigil_scalar k, c, z;
        sigil_point R;
        uint8_t rnd[32], se[32];
        randombytes_buf(rnd, sizeof(rnd));
        sigil_scalar_serialize(g, se, share);
        sigil_iov parts[3] = {{rnd, 32}, {se, 32}, {d->transcript, 32}};
        rc = sigil_hash_to_scalar(g, d->context, "dkg-confirm-nonce", parts, 3, &k);
        sodium_memzero(se, sizeof(se));
        if (rc == 0)
            rc = sigil_point_base_mul(g, &R, &k);
        if (rc == 0)
            rc = confirm_challenge(d, &d->ids[d->self], &d->own_y, &R, d->transcript, &c);
        if (rc == 0) {
            sigil_scalar_mul(g, &z, share, &c);
            sigil_scalar_add(g, &z, &z, &k);
            rc |= sigil_buf_put_u8(out, MSG_CONFIRM);
            rc |= sigil_scalar_put(g, out, &d->ids[d->self]);
            rc |= sigil_buf_put(out, d->transcript, 32);
            rc |= sigil_point_put(g, out, &d->own_y);
            rc |= sigil_point_put(g, out, &R);
            rc |= sigil_scalar_put(g, out, &z);
            if (rc)
                rc = SIGIL_E_TOO_LARGE;
        }
        sigil_scalar_clear(&k);
    }
out:
    sodium_free(recv);
    if (rc)
        return fail(d, rc);
    d->state = ST_R3;
    return SIGIL_OK;
}

int sigil_dkg_finish(sigil_dkg *d, const sigil_buf *in, sigil_keyshare *out, uint32_t *culprit)
{
    const sigil_group *g = d->g;
    int rc;
    *culprit = SIGIL_DKG_NOBODY;
    memset(out, 0, sizeof(*out));
    if (d->state != ST_R3)
        return SIGIL_E_STATE;
    if ((rc = keyshare_alloc(out, g, d->t, d->n, 1)))
        return fail(d, rc);
    memcpy(out->ids, d->ids, d->n * sizeof(*d->ids));
    out->self = d->self;
    out->group_pk = d->sum_comm[0];
    out->verifying[d->self] = d->own_y;

    for (uint32_t i = 0; i < d->n; i++) {
        if (i == d->self)
            continue;
        sigil_buf b = in[i];
        uint8_t type;
        sigil_scalar id, z, c;
        const uint8_t *hash;
        sigil_point R;
        if ((rc = sigil_buf_get_u8(&b, &type)) == 0 && type != MSG_CONFIRM)
            rc = SIGIL_E_VERSION;
        if (rc == 0 && (rc = sigil_scalar_get(g, &b, &id)) == 0 && !sigil_scalar_eq(&id, &d->ids[i]))
            rc = SIGIL_E_PARTICIPANT;
        if (rc == 0)
            rc = sigil_buf_get_ptr(&b, 32, &hash);
        if (rc == 0)
            rc = sigil_point_get(g, &b, &out->verifying[i]);
        if (rc == 0)
            rc = sigil_point_get(g, &b, &R);
        if (rc == 0)
            rc = sigil_scalar_get(g, &b, &z);
        if (rc == 0)
            rc = sigil_buf_end(&b);
        if (rc == 0 && !sigil_memeq(hash, d->transcript, 32))
            rc = SIGIL_E_CONFIRM;
        if (rc == 0)
            rc = confirm_challenge(d, &id, &out->verifying[i], &R, hash, &c);
        if (rc == 0 && schnorr_check(g, &R, &z, &c, &out->verifying[i]) != SIGIL_OK)
            rc = SIGIL_E_CONFIRM;
        if (rc) {
            *culprit = i;
            goto fail_out;
        }
    }

    /* every Y_m must equal sum_k id_m^k Chat_k: one randomised check
     *   sum_m r_m Y_m == sum_k (sum_m r_m id_m^k) Chat_k
     * and, if it fails, each member on its own to name the culprit */
    {
        sigil_point *terms = malloc((d->n + d->t) * sizeof(*terms));
        sigil_scalar *w = calloc(d->t, sizeof(*w));
        int ok = terms != NULL && w != NULL;
        for (uint32_t m = 0; m < d->n && ok; m++) {
            sigil_scalar r, pw;
            ok = sigil_scalar_random(g, &r) == SIGIL_OK &&
                 sigil_point_mul_public(g, &terms[m], &out->verifying[m], &r) == SIGIL_OK;
            pw = r;
            for (uint32_t k = 0; k < d->t && ok; k++) {
                sigil_scalar_add(g, &w[k], &w[k], &pw);
                sigil_scalar_mul(g, &pw, &pw, &d->ids[m]);
            }
        }
        /* subtract the right-hand side: add (-w_k) Chat_k */
        for (uint32_t k = 0; k < d->t && ok; k++) {
            sigil_scalar_neg(g, &w[k], &w[k]);
            ok = sigil_point_mul_public(g, &terms[d->n + k], &d->sum_comm[k], &w[k]) == SIGIL_OK;
        }
        /* the total is the identity exactly when the check holds */
        int verdict = ok ? sigil_point_sum(g, &terms[0], terms, d->n + d->t) : SIGIL_E_NOMEM;
        free(terms);
        free(w);
        if (verdict == SIGIL_E_NOMEM && !ok) {
            rc = SIGIL_E_NOMEM;
            goto fail_out;
        }
        if (verdict != SIGIL_E_IDENTITY) {
            rc = SIGIL_E_CONFIRM;
            for (uint32_t m = 0; m < d->n; m++) {
                sigil_point y;
                if (poly_eval_points(g, &y, d->sum_comm, d->t, &d->ids[m]) != SIGIL_OK ||
                    !sigil_point_eq(g, &y, &out->verifying[m])) {
                    *culprit = m;
                    break;
                }
            }
            goto fail_out;
        }
    }
    *out->secret = d->sec[d->t];
    sodium_memzero(d->sec, (d->t + 1) * sizeof(*d->sec));
    d->state = ST_DONE;
    return SIGIL_OK;
fail_out:
    sigil_keyshare_free(out);
    return fail(d, rc);
}

const sigil_point *sigil_dkg_commitments(const sigil_dkg *d, uint32_t i)
{
    if (i >= d->n || d->state < ST_R1 || (i != d->self && d->state < ST_R2))
        return NULL;
    return &d->comm[(size_t)i * d->t];
}

int sigil_dkg_split(const sigil_group *g, const sigil_scalar *secret, uint32_t t, uint32_t n,
                    const sigil_scalar *ids, const sigil_scalar *coeffs, sigil_keyshare *out)
{
    int rc;
    if (n < 1 || n > SIGIL_DKG_MAX_PARTIES || t < 1 || t > n)
        return SIGIL_E_THRESHOLD;
    if (sigil_scalar_is_zero(secret))
        return SIGIL_E_ZERO;
    if ((rc = check_ids(ids, n)))
        return rc;
    memset(out, 0, n * sizeof(*out));
    sigil_scalar *poly = sodium_malloc(t * sizeof(*poly));
    sigil_point *ver = calloc(n, sizeof(*ver));
    sigil_point pk;
    if (poly == NULL || ver == NULL) {
        rc = SIGIL_E_NOMEM;
        goto done;
    }
    poly[0] = *secret;
    for (uint32_t k = 1; k < t; k++) {
        if (coeffs)
            poly[k] = coeffs[k - 1];
        else if ((rc = sigil_scalar_random(g, &poly[k])))
            goto done;
    }
    if ((rc = sigil_point_base_mul(g, &pk, secret)))
        goto done;
    for (uint32_t i = 0; i < n; i++) {
        if ((rc = keyshare_alloc(&out[i], g, t, n, 1)))
            goto done;
        poly_eval(g, out[i].secret, poly, t, &ids[i]);
        /* a share of zero would be a degenerate key: only with chosen coefficients */
        if ((rc = sigil_point_base_mul(g, &ver[i], out[i].secret)))
            goto done;
    }
    for (uint32_t i = 0; i < n; i++) {
        memcpy(out[i].ids, ids, n * sizeof(*ids));
        memcpy(out[i].verifying, ver, n * sizeof(*ver));
        out[i].group_pk = pk;
        out[i].self = i;
    }
done:
    if (poly)
        sodium_free(poly);
    free(ver);
    if (rc)
        for (uint32_t i = 0; i < n; i++)
            sigil_keyshare_free(&out[i]);
    return rc;
}
