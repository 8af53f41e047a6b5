/* FROST (RFC 9591): see sigil/frost.h. */
#include "sigil/frost.h"
#include "sigil/kat.h"

#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "sigil/err.h"
#include "sigil/hash.h"

struct sigil_frost_nonce {
    int used;
    sigil_frost_suite s;
    uint64_t live;      /* NONCE_LIVE while allocated (after the free-list link) */
    sigil_scalar id;
    sigil_scalar d, e; /* hiding, binding */
    sigil_point D, E;
};

struct sigil_frost_package {
    sigil_frost_suite s;
    const sigil_group *g;
    size_t k;
    sigil_scalar *ids;  /* sorted ascending */
    sigil_point *D, *E;
    sigil_scalar *rho;
    uint32_t *kidx;     /* index of each signer in the key's identifier list */
    uint8_t prefix[33 + 64 + 64];
    size_t prefix_len;
    sigil_point R;      /* group commitment as computed (before BIP-340 negation) */
    int negate;         /* BIP-340: R has odd y, nonces are negated */
    sigil_scalar c;     /* challenge */
    sigil_point group_pk; /* the key the package was built for */
    uint8_t *msg;       /* copy of the message, for the final verification */
    size_t msglen;
};

const sigil_group *sigil_frost_group(sigil_frost_suite s)
{
    switch (s) {
    case SIGIL_FROST_ED25519:
        return sigil_group_get(SIGIL_GROUP_ED25519);
    case SIGIL_FROST_SECP256K1:
    case SIGIL_FROST_BIP340:
        return sigil_group_get(SIGIL_GROUP_SECP256K1);
    }
    return NULL;
}

const char *sigil_frost_context(sigil_frost_suite s)
{
    switch (s) {
    case SIGIL_FROST_ED25519:
        return "FROST-ED25519-SHA512-v1";
    case SIGIL_FROST_SECP256K1:
        return "FROST-secp256k1-SHA256-v1";
    case SIGIL_FROST_BIP340:
        return "FROST-secp256k1-SHA256-TR-v1";
    }
    return NULL;
}

const char *sigil_frost_name(sigil_frost_suite s)
{
    switch (s) {
    case SIGIL_FROST_ED25519:
        return "frost-ed25519";
    case SIGIL_FROST_SECP256K1:
        return "frost-secp256k1";
    case SIGIL_FROST_BIP340:
        return "frost-bip340";
    }
    return NULL;
}

size_t sigil_frost_pk_len(sigil_frost_suite s)
{
    return s == SIGIL_FROST_SECP256K1 ? 33 : sigil_frost_group(s) ? 32 : 0;
}

size_t sigil_frost_sig_len(sigil_frost_suite s)
{
    return s == SIGIL_FROST_SECP256K1 ? 65 : sigil_frost_group(s) ? 64 : 0;
}

static int key_matches(sigil_frost_suite s, const sigil_keyshare *k)
{
    const sigil_group *g = sigil_frost_group(s);
    return g != NULL && k != NULL && k->g == g && k->ids != NULL && k->verifying != NULL;
}

int sigil_frost_prepare_key(sigil_frost_suite s, sigil_keyshare *k)
{
    if (!key_matches(s, k))
        return SIGIL_E_INVALID;
    if (s == SIGIL_FROST_BIP340 && !sigil_point_is_even_y(k->g, &k->group_pk))
        sigil_keyshare_negate(k);
    return SIGIL_OK;
}

int sigil_frost_public_key(sigil_frost_suite s, const sigil_keyshare *k, uint8_t *out)
{
    if (!key_matches(s, k))
        return SIGIL_E_INVALID;
    if (s == SIGIL_FROST_BIP340) {
        if (!sigil_point_is_even_y(k->g, &k->group_pk))
            return SIGIL_E_STATE;
        return sigil_point_x(k->g, out, &k->group_pk);
    }
    sigil_point_serialize(k->g, out, &k->group_pk);
    return SIGIL_OK;
}

int sigil_frost_nonce_generate(sigil_frost_suite s, sigil_scalar *out, const uint8_t random[32],
                               const sigil_scalar *secret)
{
    const sigil_group *g = sigil_frost_group(s);
    if (g == NULL)
        return SIGIL_E_INVALID;
    uint8_t se[32];
    sigil_scalar_serialize(g, se, secret);
    sigil_iov parts[2] = {{random, 32}, {se, 32}};
    int rc = sigil_hash_to_scalar(g, sigil_frost_context(s), "nonce", parts, 2, out);
    sodium_memzero(se, sizeof(se));
    return rc;
}

/* Nonce storage: slabs of NONCE_SLAB slots in libsodium secure memory
 * (mlock'ed, guard pages around each slab), recycled through a free list,
 * because one sodium_malloc per nonce (mmap + mprotect + mlock) costs more
 * than the rest of round 1. Slots are zeroized when released; slabs live
 * until the process ends. A spinlock keeps the library thread-safe. */
enum { NONCE_SLAB = 64 };
#define NONCE_LIVE UINT64_C(0x5349474e4f4e4345) /* "SIGNONCE" */
_Static_assert(offsetof(struct sigil_frost_nonce, live) >= sizeof(void *), "live must not overlap the free-list link");
typedef union nonce_slot {
    struct sigil_frost_nonce n;
    union nonce_slot *next;
} nonce_slot;
static nonce_slot *nonce_free_list;
static atomic_flag nonce_lock = ATOMIC_FLAG_INIT;

static sigil_frost_nonce *nonce_alloc(void)
{
    while (atomic_flag_test_and_set_explicit(&nonce_lock, memory_order_acquire))
        ;
    if (nonce_free_list == NULL) {
        nonce_slot *slab = sodium_malloc(NONCE_SLAB * sizeof(*slab));
        if (slab != NULL) {
            for (size_t i = 0; i < NONCE_SLAB; i++) {
                slab[i].next = nonce_free_list;
                nonce_free_list = &slab[i];
            }
        }
    }
    nonce_slot *s = nonce_free_list;
    if (s)
        nonce_free_list = s->next;
    atomic_flag_clear_explicit(&nonce_lock, memory_order_release);
    if (s == NULL)
        return NULL;
    sodium_memzero(s, sizeof(*s));
    s->n.live = NONCE_LIVE;
    return &s->n;
}

void sigil_frost_nonce_free(sigil_frost_nonce *n)
{
    if (n == NULL || n->live != NONCE_LIVE)
        return; /* a second free would put the slot on the free list twice,
                   and two later nonces would share it */
    nonce_slot *s = (nonce_slot *)(void *)n;
    sodium_memzero(s, sizeof(*s));
    while (atomic_flag_test_and_set_explicit(&nonce_lock, memory_order_acquire))
        ;
    s->next = nonce_free_list;
    nonce_free_list = s;
    atomic_flag_clear_explicit(&nonce_lock, memory_order_release);
}

static int one_nonce(sigil_frost_suite s, const sigil_keyshare *k, const uint8_t *given,
                     sigil_scalar *out, sigil_point *pub)
{
    uint8_t rnd[32];
    int rc;
    if (given)
        memcpy(rnd, given, 32);
    else
        randombytes_buf(rnd, sizeof(rnd));
    rc = sigil_frost_nonce_generate(s, out, rnd, k->secret);
    sodium_memzero(rnd, sizeof(rnd));
    if (rc == SIGIL_OK)
        rc = sigil_point_base_mul(k->g, pub, out); /* zero only with probability 2^-252 */
    return rc;
}

int sigil_frost_commit(sigil_frost_suite s, const sigil_keyshare *k, sigil_frost_nonce **nonce,
                       sigil_buf *out)
{
    return sigil_frost_commit_kat(s, k, NULL, NULL, nonce, out);
}

int sigil_frost_commit_kat(sigil_frost_suite s, const sigil_keyshare *k, const uint8_t *hiding_random,
                           const uint8_t *binding_random, sigil_frost_nonce **nonce, sigil_buf *out)
{
    int rc;
    *nonce = NULL;
    if (!key_matches(s, k) || k->secret == NULL || k->self >= k->n || out == NULL ||
        (out->flags & SIGIL_BUF_READONLY))
        return SIGIL_E_INVALID;
    size_t mark = out->size;
    sigil_frost_nonce *n = nonce_alloc();
    if (n == NULL)
        return SIGIL_E_NOMEM;
    n->s = s;
    n->id = k->ids[k->self];
    if ((rc = one_nonce(s, k, hiding_random, &n->d, &n->D)) ||
        (rc = one_nonce(s, k, binding_random, &n->e, &n->E)))
        goto fail;
    rc = 0;
    rc |= sigil_scalar_put(k->g, out, &n->id);
    rc |= sigil_point_put(k->g, out, &n->D);
    rc |= sigil_point_put(k->g, out, &n->E);
    if (rc) {
        sigil_buf_truncate(out, mark); /* nothing half-written */
        rc = SIGIL_E_TOO_LARGE;
        goto fail;
    }
    *nonce = n;
    return SIGIL_OK;
fail:
    sigil_frost_nonce_free(n);
    return rc;
}

void sigil_frost_package_free(sigil_frost_package *p)
{
    if (p == NULL)
        return;
    free(p->ids);
    free(p->D);
    free(p->E);
    free(p->rho);
    free(p->kidx);
    free(p->msg);
    free(p);
}

/* integer order of two identifiers: <0, 0, >0 (public values) */
static int id_cmp(const sigil_group *g, const sigil_scalar *a, const sigil_scalar *b)
{
    int le = sigil_group_id_of(g) == SIGIL_GROUP_ED25519;
    for (int i = 0; i < 32; i++) {
        int j = le ? 31 - i : i;
        if (a->v[j] != b->v[j])
            return a->v[j] < b->v[j] ? -1 : 1;
    }
    return 0;
}

/* Position of the identifier encoded in id (32 bytes) in k's list, or
 * SIGIL_E_PARTICIPANT. Identifiers are public: plain memcmp, which stops at
 * the first differing byte (sigil_keyshare_index compares in constant time,
 * 67 x 100 of those dominated aggregation at 67-of-100). The key's
 * identifiers are canonical, so a match is a canonical encoding. */
static int key_index_public(const sigil_keyshare *k, const uint8_t *id, uint32_t *idx)
{
    for (uint32_t i = 0; i < k->n; i++)
        if (memcmp(k->ids[i].v, id, SIGIL_SCALAR_LEN) == 0) {
            *idx = i;
            return SIGIL_OK;
        }
    return SIGIL_E_PARTICIPANT;
}

static int challenge(const sigil_frost_package *p, const sigil_point *pk, const sigil_point *R,
                     const uint8_t *msg, size_t msglen, sigil_scalar *c)
{
    const sigil_group *g = p->g;
    uint8_t re[33], pe[33];
    if (p->s == SIGIL_FROST_BIP340) {
        uint8_t h[32];
        sigil_point_x(g, re, R);
        sigil_point_x(g, pe, pk);
        sigil_iov parts[3] = {{re, 32}, {pe, 32}, {msg, msglen}};
        sigil_hash_tagged(h, "BIP0340/challenge", parts, 3);
        return sigil_scalar_reduce(g, c, h, 32);
    }
    size_t pl = sigil_group_point_len(g);
    sigil_point_serialize(g, re, R);
    sigil_point_serialize(g, pe, pk);
    sigil_iov parts[3] = {{re, pl}, {pe, pl}, {msg, msglen}};
    if (p->s == SIGIL_FROST_ED25519)
        return sigil_hash_to_scalar(g, NULL, NULL, parts, 3, c); /* H2 = SHA-512(m), RFC 8032 */
    return sigil_hash_to_scalar(g, sigil_frost_context(p->s), "chal", parts, 3, c);
}

static int package_build(sigil_frost_suite s, const sigil_keyshare *k, const sigil_frost_nonce *own,
                         const uint8_t *msg, size_t msglen, const sigil_buf *commitments, size_t count,
                         sigil_frost_package **out)
{
    const sigil_group *g = sigil_frost_group(s);
    const char *ctx = sigil_frost_context(s);
    int rc;
    *out = NULL;
    if (!key_matches(s, k) || (msg == NULL && msglen > 0) || commitments == NULL)
        return SIGIL_E_INVALID;
    if (count < k->t || count > k->n)
        return SIGIL_E_THRESHOLD;
    if (s == SIGIL_FROST_BIP340 && !sigil_point_is_even_y(g, &k->group_pk))
        return SIGIL_E_STATE;
    sigil_frost_package *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return SIGIL_E_NOMEM;
    p->s = s;
    p->g = g;
    p->k = count;
    p->ids = calloc(count, sizeof(*p->ids));
    p->D = calloc(count, sizeof(*p->D));
    p->E = calloc(count, sizeof(*p->E));
    p->rho = calloc(count, sizeof(*p->rho));
    p->kidx = calloc(count, sizeof(*p->kidx));
    const uint8_t **eenc = NULL;
    sigil_point *terms = calloc(2 * count, sizeof(*terms));
    uint8_t *enc = malloc(count * (32 + 2 * 33));
    p->msg = malloc(msglen ? msglen : 1);
    p->msglen = msglen;
    if (msglen)
        memcpy(p->msg, msg, msglen);
    if (!p->msg || !p->ids || !p->D || !p->E || !p->rho || !p->kidx || !terms || !enc) {
        rc = SIGIL_E_NOMEM;
        goto fail;
    }
    /* parse (E is validated below, by its multiplication), then
     * insertion-sort by identifier */
    size_t pl = sigil_group_point_len(g), el = 0;
    eenc = calloc(count, sizeof(*eenc));
    if (eenc == NULL) {
        rc = SIGIL_E_NOMEM;
        goto fail;
    }
    size_t own_seen = 0;
    for (size_t i = 0; i < count; i++) {
        sigil_buf b = commitments[i];
        sigil_scalar id;
        sigil_point D;
        const uint8_t *E;
        uint32_t idx;
        if ((rc = sigil_scalar_get(g, &b, &id)))
            goto fail;
        if (own && sigil_scalar_eq(&id, &own->id)) {
            /* our own commitment: it must be exactly the nonce's; its points
             * need no decoding */
            uint8_t mine[2 * 33];
            const uint8_t *theirs;
            sigil_point_serialize(g, mine, &own->D);
            sigil_point_serialize(g, mine + pl, &own->E);
            if ((rc = sigil_buf_get_ptr(&b, 2 * pl, &theirs)) || (rc = sigil_buf_end(&b)))
                goto fail;
            if (memcmp(mine, theirs, 2 * pl) != 0) {
                rc = SIGIL_E_MISMATCH;
                goto fail;
            }
            D = own->D;
            E = theirs + pl;
            own_seen++;
        } else if ((rc = sigil_point_get(g, &b, &D)) || (rc = sigil_buf_get_ptr(&b, pl, &E)) ||
                   (rc = sigil_buf_end(&b))) {
            goto fail;
        }
        if ((rc = key_index_public(k, id.v, &idx)))
            goto fail;
        size_t j = i;
        while (j > 0 && id_cmp(g, &p->ids[j - 1], &id) > 0) {
            p->ids[j] = p->ids[j - 1];
            p->D[j] = p->D[j - 1];
            eenc[j] = eenc[j - 1];
            p->kidx[j] = p->kidx[j - 1];
            j--;
        }
        if (j > 0 && id_cmp(g, &p->ids[j - 1], &id) == 0) {
            rc = SIGIL_E_PARTICIPANT; /* duplicate signer */
            goto fail;
        }
        p->ids[j] = id;
        p->D[j] = D;
        eenc[j] = E;
        p->kidx[j] = idx;
    }
    if (own && own_seen != 1) {
        rc = SIGIL_E_PARTICIPANT; /* the signer is not in this package */
        goto fail;
    }
    /* binding factors: H1(PK || H4(msg) || H5(commitment list) || id) */
    for (size_t i = 0; i < count; i++) {
        sigil_scalar_serialize(g, enc + el, &p->ids[i]);
        sigil_point_serialize(g, enc + el + 32, &p->D[i]);
        memcpy(enc + el + 32 + pl, eenc[i], pl);
        el += 32 + 2 * pl;
    }
    sigil_point_serialize(g, p->prefix, &k->group_pk);
    p->prefix_len = pl;
    sigil_iov mparts[1] = {{msg, msglen}};
    p->prefix_len += sigil_hash_digest(g, ctx, "msg", mparts, 1, p->prefix + p->prefix_len);
    sigil_iov cparts[1] = {{enc, el}};
    p->prefix_len += sigil_hash_digest(g, ctx, "com", cparts, 1, p->prefix + p->prefix_len);
    if ((rc = sigil_hash_to_scalar_each(g, ctx, "rho", p->prefix, p->prefix_len, p->ids, count, p->rho)))
        goto fail;
    /* group commitment R = sum D_i + rho_i E_i, computed once */
    size_t nterms = 0;
    for (size_t i = 0; i < count; i++) {
        if (own && sigil_scalar_eq(&p->ids[i], &own->id)) {
            /* D + rho*E = (d + rho*e)*G: one fixed-base multiplication
             * (constant time: d and e are secret) instead of a
             * variable-base one and an addition */
            sigil_scalar t;
            sigil_scalar_mul(g, &t, &p->rho[i], &own->e);
            sigil_scalar_add(g, &t, &t, &own->d);
            p->E[i] = own->E;
            rc = sigil_point_base_mul(g, &terms[nterms++], &t);
            sigil_scalar_clear(&t);
            if (rc)
                goto fail; /* d + rho*e == 0: probability 2^-252 */
            continue;
        }
        terms[nterms++] = p->D[i];
        if ((rc = sigil_point_parse_mul_public(g, &p->E[i], &terms[nterms++], eenc[i], pl, &p->rho[i])))
            goto fail;
    }
    if ((rc = sigil_point_sum(g, &p->R, terms, nterms)))
        goto fail; /* SIGIL_E_IDENTITY: signers chose cancelling commitments */
    p->group_pk = k->group_pk;
    sigil_point Reff = p->R;
    if (s == SIGIL_FROST_BIP340 && !sigil_point_is_even_y(g, &p->R)) {
        p->negate = 1;
        sigil_point_neg(g, &Reff, &p->R);
    }
    if ((rc = challenge(p, &k->group_pk, &Reff, msg, msglen, &p->c)))
        goto fail;
    free(terms);
    free(enc);
    free(eenc);
    *out = p;
    return SIGIL_OK;
fail:
    free(terms);
    free(enc);
    free(eenc);
    sigil_frost_package_free(p);
    return rc;
}

int sigil_frost_package_new(sigil_frost_suite s, const sigil_keyshare *k, const uint8_t *msg,
                            size_t msglen, const sigil_buf *commitments, size_t count,
                            sigil_frost_package **out)
{
    return package_build(s, k, NULL, msg, msglen, commitments, count, out);
}

int sigil_frost_package_for_signer(sigil_frost_suite s, const sigil_keyshare *k, const sigil_frost_nonce *nonce,
                                   const uint8_t *msg, size_t msglen, const sigil_buf *commitments,
                                   size_t count, sigil_frost_package **out)
{
    *out = NULL;
    if (nonce == NULL || nonce->live != NONCE_LIVE || !key_matches(s, k) || k->secret == NULL)
        return SIGIL_E_INVALID;
    if (nonce->used)
        return SIGIL_E_USED;
    if (nonce->s != s)
        return SIGIL_E_INVALID;
    if (!sigil_scalar_eq(&nonce->id, &k->ids[k->self]))
        return SIGIL_E_PARTICIPANT;
    return package_build(s, k, nonce, msg, msglen, commitments, count, out);
}

size_t sigil_frost_package_count(const sigil_frost_package *p)
{
    return p->k;
}

int sigil_frost_package_signer(const sigil_frost_package *p, size_t i, sigil_scalar *id,
                               sigil_buf *rho_input, sigil_scalar *rho)
{
    if (i >= p->k)
        return SIGIL_E_INVALID;
    *id = p->ids[i];
    *rho = p->rho[i];
    if (rho_input) {
        int rc = sigil_buf_put(rho_input, p->prefix, p->prefix_len);
        if (rc == SIGIL_OK)
            rc = sigil_buf_put(rho_input, p->ids[i].v, 32);
        return rc;
    }
    return SIGIL_OK;
}

/* lambda_i = prod_{j != i} x_j / (x_j - x_i) over the package's signers */
static int lagrange(const sigil_frost_package *p, size_t i, sigil_scalar *out)
{
    const sigil_group *g = p->g;
    sigil_scalar num, den, t;
    sigil_scalar_set_u64(g, &num, 1);
    sigil_scalar_set_u64(g, &den, 1);
    for (size_t j = 0; j < p->k; j++) {
        if (j == i)
            continue;
        sigil_scalar_mul(g, &num, &num, &p->ids[j]);
        sigil_scalar_sub(g, &t, &p->ids[j], &p->ids[i]);
        sigil_scalar_mul(g, &den, &den, &t);
    }
    int rc = sigil_scalar_inv_public(g, &den, &den); /* identifiers are public */
    if (rc)
        return rc;
    sigil_scalar_mul(g, out, &num, &den);
    return SIGIL_OK;
}

static int find_signer(const sigil_frost_package *p, const sigil_scalar *id, size_t *pos)
{
    for (size_t i = 0; i < p->k; i++)
        if (memcmp(p->ids[i].v, id->v, SIGIL_SCALAR_LEN) == 0) { /* public */
            *pos = i;
            return SIGIL_OK;
        }
    return SIGIL_E_PARTICIPANT;
}

int sigil_frost_sign(sigil_frost_suite s, const sigil_keyshare *k, sigil_frost_nonce *nonce,
                     const sigil_frost_package *p, sigil_buf *out)
{
    int rc;
    if (nonce == NULL || nonce->live != NONCE_LIVE)
        return SIGIL_E_INVALID;
    if (nonce->used)
        return SIGIL_E_USED;
    /* consume first: whatever happens below, this nonce is never used again */
    sigil_frost_nonce n = *nonce;
    sodium_memzero(nonce, sizeof(*nonce));
    nonce->used = 1;
    nonce->live = NONCE_LIVE;

    const sigil_group *g = sigil_frost_group(s);
    size_t pos;
    if (!key_matches(s, k) || k->secret == NULL || k->self >= k->n || p == NULL || p->s != s || n.s != s ||
        out == NULL || (out->flags & SIGIL_BUF_READONLY)) {
        rc = SIGIL_E_INVALID;
        goto done;
    }
    if (!sigil_point_eq(g, &p->group_pk, &k->group_pk)) {
        rc = SIGIL_E_MISMATCH; /* a package for another key */
        goto done;
    }
    if (!sigil_scalar_eq(&n.id, &k->ids[k->self]) || (rc = find_signer(p, &n.id, &pos))) {
        rc = SIGIL_E_PARTICIPANT;
        goto done;
    }
    if (!sigil_point_eq(g, &p->D[pos], &n.D) || !sigil_point_eq(g, &p->E[pos], &n.E)) {
        rc = SIGIL_E_MISMATCH;
        goto done;
    }
    sigil_scalar lambda, z, t;
    if ((rc = lagrange(p, pos, &lambda)))
        goto done;
    if (p->negate) {
        sigil_scalar_neg(g, &n.d, &n.d);
        sigil_scalar_neg(g, &n.e, &n.e);
    }
    /* z = d + e*rho + lambda*s*c */
    sigil_scalar_mul(g, &t, &lambda, &p->c);
    sigil_scalar_mul(g, &t, &t, k->secret);
    sigil_scalar_mul(g, &z, &n.e, &p->rho[pos]);
    sigil_scalar_add(g, &z, &z, &n.d);
    sigil_scalar_add(g, &z, &z, &t);
    size_t mark = out->size;
    rc = 0;
    rc |= sigil_scalar_put(g, out, &n.id);
    rc |= sigil_scalar_put(g, out, &z);
    if (rc) {
        sigil_buf_truncate(out, mark); /* nothing half-written */
        rc = SIGIL_E_TOO_LARGE;
    }
    sigil_scalar_clear(&t);
    sigil_scalar_clear(&z);
done:
    sodium_memzero(&n, sizeof(n));
    return rc;
}

/* z_i*G == (+/-)(D_i + rho_i E_i) + (c*lambda_i)*Y_i ?
 * computed as (-c*lambda_i)*Y_i + z_i*G == (+/-)(D_i + rho_i E_i) */
static int share_ok(const sigil_frost_package *p, const sigil_keyshare *k, size_t i, const sigil_scalar *z)
{
    const sigil_group *g = p->g;
    sigil_point lhs, Ri, t;
    sigil_scalar lambda, cl;
    if (sigil_point_mul_public(g, &t, &p->E[i], &p->rho[i]) != SIGIL_OK ||
        sigil_point_add(g, &Ri, &p->D[i], &t) != SIGIL_OK)
        return 0;
    if (p->negate)
        sigil_point_neg(g, &Ri, &Ri);
    if (lagrange(p, i, &lambda) != SIGIL_OK)
        return 0;
    sigil_scalar_mul(g, &cl, &p->c, &lambda);
    sigil_scalar_neg(g, &cl, &cl);
    if (sigil_point_mul_add_base_public(g, &lhs, &k->verifying[p->kidx[i]], &cl, z) != SIGIL_OK)
        return 0;
    return sigil_point_eq(g, &lhs, &Ri);
}

/* sig = R || z in the suite's encoding (BIP-340: x(R) || z). */
static void write_sig(sigil_frost_suite s, const sigil_group *g, uint8_t *sig, const sigil_point *R,
                      const sigil_scalar *z)
{
    size_t off;
    if (s == SIGIL_FROST_BIP340) {
        sigil_point_x(g, sig, R);
        off = 32;
    } else {
        sigil_point_serialize(g, sig, R);
        off = sigil_group_point_len(g);
    }
    sigil_scalar_serialize(g, sig + off, z);
}

/* 1 if sig (the suite's encoding) verifies on msg under k's group key,
 * taken from the already validated point rather than decoded again.
 * Ed25519 and BIP-340 go through the reference verifiers
 * (crypto_sign_verify_detached, secp256k1_schnorrsig_verify; the BIP-340
 * key has even y, checked by the callers). FROST(secp256k1) checks the
 * RFC 9591 equation z*G - c*PK == R against R's encoding in sig, with
 * c = H2(enc(R) || enc(PK) || msg): given in *c when the caller already
 * hashed it for this R, computed here when c is NULL. */
static int verify_with_key(sigil_frost_suite s, const sigil_keyshare *k, const uint8_t *msg, size_t msglen,
                           const uint8_t *sig, const sigil_scalar *c)
{
    static const uint8_t empty[1];
    const sigil_group *g = k->g;
    if (msg == NULL)
        msg = empty;
    if (s == SIGIL_FROST_SECP256K1) {
        uint8_t pk[33], lhs_enc[33];
        sigil_point lhs;
        sigil_scalar nc, z;
        if (sigil_scalar_parse(g, &z, sig + 33) != SIGIL_OK)
            return 0;
        if (c == NULL) {
            sigil_point_serialize(g, pk, &k->group_pk);
            sigil_iov parts[3] = {{sig, 33}, {pk, 33}, {msg, msglen}};
            if (sigil_hash_to_scalar(g, sigil_frost_context(s), "chal", parts, 3, &nc) != SIGIL_OK)
                return 0;
        } else {
            nc = *c;
        }
        sigil_scalar_neg(g, &nc, &nc);
        if (sigil_point_mul_add_base_public(g, &lhs, &k->group_pk, &nc, &z) != SIGIL_OK)
            return 0;
        sigil_point_serialize(g, lhs_enc, &lhs);
        return memcmp(lhs_enc, sig, 33) == 0;
    }
    if (s == SIGIL_FROST_BIP340) {
        const secp256k1_context *ctx = (const secp256k1_context *)sigil_secp256k1_ctx();
        secp256k1_xonly_pubkey xpk;
        secp256k1_pubkey gpk;
        return sigil_point_secp256k1_pubkey(g, &gpk, &k->group_pk) == SIGIL_OK &&
               secp256k1_xonly_pubkey_from_pubkey(ctx, &xpk, NULL, &gpk) &&
               secp256k1_schnorrsig_verify(ctx, sig, msg, msglen, &xpk);
    }
    uint8_t pk[32];
    sigil_point_serialize(g, pk, &k->group_pk);
    return crypto_sign_verify_detached(sig, msg, msglen, pk) == 0;
}

int sigil_frost_aggregate(sigil_frost_suite s, const sigil_keyshare *k, const sigil_frost_package *p,
                          const sigil_buf *shares, size_t count, uint8_t *sig, uint32_t *culprit)
{
    const sigil_group *g = sigil_frost_group(s);
    int rc;
    *culprit = SIGIL_DKG_NOBODY;
    if (!key_matches(s, k) || p == NULL || p->s != s || shares == NULL)
        return SIGIL_E_INVALID;
    if (!sigil_point_eq(g, &p->group_pk, &k->group_pk))
        return SIGIL_E_MISMATCH;
    if (count != p->k)
        return SIGIL_E_PARTICIPANT;
    sigil_scalar *z = calloc(count, sizeof(*z));
    uint8_t *seen = calloc(count, 1);
    if (!z || !seen) {
        rc = SIGIL_E_NOMEM;
        goto done;
    }
    for (size_t i = 0; i < count; i++) {
        sigil_buf b = shares[i];
        sigil_scalar id, zi;
        size_t pos;
        if ((rc = sigil_scalar_get(g, &b, &id)))
            goto done;
        if ((rc = find_signer(p, &id, &pos)) || seen[pos]) {
            rc = SIGIL_E_PARTICIPANT;
            goto done;
        }
        if ((rc = sigil_scalar_get(g, &b, &zi)) || (rc = sigil_buf_end(&b))) {
            *culprit = p->kidx[pos];
            goto done;
        }
        seen[pos] = 1;
        z[pos] = zi;
    }
    sigil_scalar total = z[0];
    for (size_t i = 1; i < count; i++)
        sigil_scalar_add(g, &total, &total, &z[i]);

    write_sig(s, g, sig, &p->R, &total);
    /* aggregate first; check shares one by one only when the result fails */
    int verified = verify_with_key(s, k, p->msg, p->msglen, sig, &p->c);
    if (verified) {
        rc = SIGIL_OK;
        goto done;
    }
    rc = SIGIL_E_SIGNATURE;
    for (size_t i = 0; i < count; i++) {
        if (!share_ok(p, k, i, &z[i])) {
            *culprit = p->kidx[i];
            rc = SIGIL_E_SIG_SHARE;
            break;
        }
    }
    sodium_memzero(sig, sigil_frost_sig_len(s));
done:
    free(z);
    free(seen);
    return rc;
}

int sigil_frost_package_group_commitment(const sigil_frost_package *p, uint8_t *out, size_t *len)
{
    if (p == NULL || out == NULL || len == NULL)
        return SIGIL_E_INVALID;
    sigil_point_serialize(p->g, out, &p->R);
    *len = sigil_group_point_len(p->g);
    return SIGIL_OK;
}

/* The fast path of sigil_frost_aggregate_with_r: SIGIL_OK with a verified
 * signature in sig, or 1 when it does not apply (the caller then runs the
 * full path, which gives the precise error). Everything here is public. */
static int aggregate_fast(sigil_frost_suite s, const sigil_keyshare *k, const uint8_t *msg, size_t msglen,
                          const sigil_buf *commitments, size_t count, const sigil_buf *shares, const uint8_t *r,
                          size_t rlen, uint8_t *sig)
{
    const sigil_group *g = k->g;
    size_t pl = sigil_group_point_len(g);
    if (r == NULL || rlen != pl || commitments == NULL || shares == NULL || count < k->t || count > k->n ||
        (msg == NULL && msglen > 0))
        return 1;
    if (s != SIGIL_FROST_ED25519 && r[0] != 0x02 && r[0] != 0x03)
        return 1;
    if (s == SIGIL_FROST_BIP340 && !sigil_point_is_even_y(g, &k->group_pk))
        return 1;
    /* state[j] for the key's participant j: 0 not a signer, 1 committed,
     * 2 committed and share seen */
    uint8_t *state = calloc(k->n, 1);
    if (state == NULL)
        return 1;
    int rc = 1;
    for (size_t i = 0; i < count; i++) {
        uint32_t idx;
        if (sigil_buf_len(&commitments[i]) != 32 + 2 * pl ||
            key_index_public(k, sigil_buf_ptr(&commitments[i]), &idx) != SIGIL_OK || state[idx] != 0)
            goto done;
        state[idx] = 1;
    }
    sigil_scalar total;
    memset(&total, 0, sizeof(total));
    for (size_t i = 0; i < count; i++) {
        sigil_scalar zi;
        uint32_t idx;
        const uint8_t *b = sigil_buf_ptr(&shares[i]);
        if (sigil_buf_len(&shares[i]) != 64 || key_index_public(k, b, &idx) != SIGIL_OK || state[idx] != 1 ||
            sigil_scalar_parse(g, &zi, b + 32) != SIGIL_OK)
            goto done;
        state[idx] = 2;
        sigil_scalar_add(g, &total, &total, &zi);
    }
    /* count distinct committed signers, count shares each from one of them:
     * every signer has exactly one share */
    if (s == SIGIL_FROST_BIP340)
        memcpy(sig, r + 1, 32);
    else
        memcpy(sig, r, pl);
    sigil_scalar_serialize(g, sig + (s == SIGIL_FROST_BIP340 ? 32 : pl), &total);
    if (verify_with_key(s, k, msg, msglen, sig, NULL))
        rc = SIGIL_OK;
    else
        sodium_memzero(sig, sigil_frost_sig_len(s));
done:
    free(state);
    return rc;
}

int sigil_frost_aggregate_with_r(sigil_frost_suite s, const sigil_keyshare *k, const uint8_t *msg, size_t msglen,
                                 const sigil_buf *commitments, size_t count, const sigil_buf *shares,
                                 const uint8_t *r, size_t rlen, uint8_t *sig, uint32_t *culprit)
{
    if (culprit == NULL || sig == NULL)
        return SIGIL_E_INVALID;
    *culprit = SIGIL_DKG_NOBODY;
    if (!key_matches(s, k))
        return SIGIL_E_INVALID;
    if (aggregate_fast(s, k, msg, msglen, commitments, count, shares, r, rlen, sig) == SIGIL_OK)
        return SIGIL_OK;
    /* the reported R did not give a valid signature (or the inputs are
     * wrong): the full path decides, and names a cheating signer */
    sigil_frost_package *p;
    int rc = sigil_frost_package_new(s, k, msg, msglen, commitments, count, &p);
    if (rc == SIGIL_OK)
        rc = sigil_frost_aggregate(s, k, p, shares, count, sig, culprit);
    sigil_frost_package_free(p);
    return rc;
}

int sigil_frost_verify(sigil_frost_suite s, const uint8_t *pk, size_t pklen, const uint8_t *msg,
                       size_t msglen, const uint8_t *sig, size_t siglen)
{
    const sigil_group *g = sigil_frost_group(s);
    if (g == NULL || pk == NULL || sig == NULL || (msg == NULL && msglen > 0))
        return SIGIL_E_INVALID;
    if (pklen != sigil_frost_pk_len(s) || siglen != sigil_frost_sig_len(s))
        return SIGIL_E_ENCODING;
    static const uint8_t empty[1];
    if (msg == NULL)
        msg = empty;
    const secp256k1_context *ctx = (const secp256k1_context *)sigil_secp256k1_ctx();
    switch (s) {
    case SIGIL_FROST_ED25519:
        return crypto_sign_verify_detached(sig, msg, msglen, pk) == 0 ? SIGIL_OK : SIGIL_E_SIGNATURE;
    case SIGIL_FROST_BIP340: {
        secp256k1_xonly_pubkey xpk;
        if (!secp256k1_xonly_pubkey_parse(ctx, &xpk, pk))
            return SIGIL_E_SIGNATURE;
        return secp256k1_schnorrsig_verify(ctx, sig, msg, msglen, &xpk) ? SIGIL_OK : SIGIL_E_SIGNATURE;
    }
    case SIGIL_FROST_SECP256K1: {
        sigil_point P, R, lhs;
        sigil_scalar z, c;
        if (sigil_point_parse(g, &P, pk, 33) || sigil_point_parse(g, &R, sig, 33) ||
            sigil_scalar_parse(g, &z, sig + 33))
            return SIGIL_E_SIGNATURE;
        sigil_iov parts[3] = {{sig, 33}, {pk, 33}, {msg, msglen}};
        if (sigil_hash_to_scalar(g, sigil_frost_context(s), "chal", parts, 3, &c))
            return SIGIL_E_SIGNATURE;
        /* z*G == R + c*PK, as (-c)*PK + z*G == R */
        sigil_scalar_neg(g, &c, &c);
        if (sigil_point_mul_add_base_public(g, &lhs, &P, &c, &z))
            return SIGIL_E_SIGNATURE;
        return sigil_point_eq(g, &lhs, &R) ? SIGIL_OK : SIGIL_E_SIGNATURE;
    }
    }
    return SIGIL_E_INVALID;
}
