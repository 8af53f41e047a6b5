/* End-to-end node envelopes and result encodings (sigil/envelope.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "sigil/envelope.h"
#include "sigil/err.h"
#include "sigil/group.h"

#define CERT_DOMAIN "sigil.v1.node-envelope-key"
#define ENV_DOMAIN "sigil.v1.envelope"
#define CERT_BODY_LEN (4 + 32 + 32 + 8)

struct sigil_env_key {
    uint32_t node_id;
    uint64_t issued;
    uint8_t sign_pk[32];
    uint8_t box_pk[32];
    uint8_t idsig[64];
    int certified;
    uint8_t *sign_sk; /* sodium_malloc, 64 */
    uint8_t *box_sk;  /* sodium_malloc, 32 */
};

#define MAX_PEERS 1024
#define CACHE_SLOTS 4

typedef struct {
    uint32_t node_id;
    uint8_t pk[32];
    uint8_t cache[CACHE_SLOTS][SIGIL_ENV_CERT_LEN];
    unsigned cached, next;
} peer;

struct sigil_env_peers {
    pthread_mutex_t mu;
    peer *p;
    size_t n;
    /* verified COMMITMENT batch signatures: SHA-256 of (signing key, signed
     * batch message, signature), a ring of SIGIL_ENV_BATCH_CACHE */
    uint8_t batch[SIGIL_ENV_BATCH_CACHE][32];
    size_t batch_n, batch_next;
    uint64_t batch_verified;
};

int sigil_env_header_check(const sigil_env_header *h)
{
    if (!h)
        return SIGIL_E_INVALID;
    if (h->kind < SIGIL_ENV_DATA || h->kind > SIGIL_ENV_COMMITMENT)
        return SIGIL_E_ENCODING;
    if (h->kind == SIGIL_ENV_COMMITMENT) {
        if (h->session_id_len != 0)
            return SIGIL_E_ENCODING;
    } else if (h->session_id_len != SIGIL_ENV_SID_LEN || !h->session_id) {
        return SIGIL_E_ENCODING;
    }
    if (h->from < 1 || h->from > 65535 || h->to > 65535 || h->to == h->from)
        return SIGIL_E_ENCODING;
    return SIGIL_OK;
}

static void put_cert_body(sigil_buf *b, uint32_t id, const uint8_t *spk, const uint8_t *bpk,
                          uint64_t issued, int *rc)
{
    if (*rc)
        return;
    *rc = sigil_buf_put(b, CERT_DOMAIN, sizeof CERT_DOMAIN); /* includes the NUL */
    if (!*rc) *rc = sigil_buf_put_u32(b, id);
    if (!*rc) *rc = sigil_buf_put(b, spk, 32);
    if (!*rc) *rc = sigil_buf_put(b, bpk, 32);
    if (!*rc) *rc = sigil_buf_put_u64(b, issued);
}

int sigil_env_key_new(sigil_env_key **out, uint32_t node_id, uint64_t issued_unix)
{
    if (!out || node_id < 1 || node_id > 65535)
        return SIGIL_E_INVALID;
    *out = NULL;
    sigil_env_key *k = calloc(1, sizeof *k);
    if (!k)
        return SIGIL_E_NOMEM;
    k->sign_sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    k->box_sk = sodium_malloc(crypto_box_SECRETKEYBYTES);
    if (!k->sign_sk || !k->box_sk) {
        sigil_env_key_free(k);
        return SIGIL_E_NOMEM;
    }
    if (crypto_sign_keypair(k->sign_pk, k->sign_sk) || crypto_box_keypair(k->box_pk, k->box_sk)) {
        sigil_env_key_free(k);
        return SIGIL_E_CRYPTO;
    }
    k->node_id = node_id;
    k->issued = issued_unix;
    *out = k;
    return SIGIL_OK;
}

int sigil_env_key_cert_message(const sigil_env_key *k, sigil_buf *out)
{
    if (!k || !out)
        return SIGIL_E_INVALID;
    int rc = 0;
    put_cert_body(out, k->node_id, k->sign_pk, k->box_pk, k->issued, &rc);
    return rc;
}

int sigil_env_key_set_cert(sigil_env_key *k, const uint8_t identity_pk[32], const uint8_t sig[64])
{
    if (!k || !identity_pk || !sig)
        return SIGIL_E_INVALID;
    sigil_buf m;
    int rc = sigil_buf_init(&m, 256, 0);
    if (rc)
        return rc;
    rc = sigil_env_key_cert_message(k, &m);
    if (!rc && crypto_sign_verify_detached(sig, m.data, m.size, identity_pk) != 0)
        rc = SIGIL_E_SIGNATURE;
    sigil_buf_free(&m);
    if (rc)
        return rc;
    memcpy(k->idsig, sig, 64);
    k->certified = 1;
    return SIGIL_OK;
}

void sigil_env_key_box_pk(const sigil_env_key *k, uint8_t pk[SIGIL_ENV_BOX_PK_LEN])
{
    memcpy(pk, k->box_pk, 32);
}

uint32_t sigil_env_key_node_id(const sigil_env_key *k)
{
    return k->node_id;
}

void sigil_env_key_free(sigil_env_key *k)
{
    if (!k)
        return;
    sodium_free(k->sign_sk);
    sodium_free(k->box_sk);
    sodium_memzero(k, sizeof *k);
    free(k);
}

int sigil_env_peers_new(sigil_env_peers **out)
{
    if (!out)
        return SIGIL_E_INVALID;
    sigil_env_peers *p = calloc(1, sizeof *p);
    if (!p)
        return SIGIL_E_NOMEM;
    pthread_mutex_init(&p->mu, NULL);
    *out = p;
    return SIGIL_OK;
}

static peer *find_peer(sigil_env_peers *p, uint32_t id)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->p[i].node_id == id)
            return &p->p[i];
    return NULL;
}

int sigil_env_peers_add(sigil_env_peers *p, uint32_t node_id, const uint8_t identity_pk[32])
{
    if (!p || !identity_pk || node_id < 1 || node_id > 65535)
        return SIGIL_E_INVALID;
    if (find_peer(p, node_id))
        return SIGIL_E_EXISTS;
    if (p->n >= MAX_PEERS)
        return SIGIL_E_TOO_LARGE;
    peer *np = realloc(p->p, (p->n + 1) * sizeof *np);
    if (!np)
        return SIGIL_E_NOMEM;
    p->p = np;
    memset(&np[p->n], 0, sizeof np[p->n]);
    np[p->n].node_id = node_id;
    memcpy(np[p->n].pk, identity_pk, 32);
    p->n++;
    return SIGIL_OK;
}

void sigil_env_peers_free(sigil_env_peers *p)
{
    if (!p)
        return;
    pthread_mutex_destroy(&p->mu);
    free(p->p);
    free(p);
}

static int put_signed_header(sigil_buf *b, uint8_t flags, const sigil_env_header *h, size_t body_len)
{
    int rc = sigil_buf_put(b, ENV_DOMAIN, sizeof ENV_DOMAIN);
    if (!rc) rc = sigil_buf_put_u8(b, SIGIL_ENV_VERSION);
    if (!rc) rc = sigil_buf_put_u8(b, flags);
    if (!rc) rc = sigil_buf_put_string(b, h->session_id, h->session_id_len);
    if (!rc) rc = sigil_buf_put_u32(b, h->round);
    if (!rc) rc = sigil_buf_put_u32(b, h->from);
    if (!rc) rc = sigil_buf_put_u32(b, h->to);
    if (!rc) rc = sigil_buf_put_u32(b, h->kind);
    if (!rc) rc = sigil_buf_put_u32(b, (uint32_t)body_len);
    return rc;
}

/* Sign prefix || body without copying the body: Ed25519ph is not wanted
 * (plain RFC 8032), so the message is assembled once. */
static int sign_msg(const sigil_env_key *k, uint8_t flags, const sigil_env_header *h,
                    const uint8_t *body, size_t n, uint8_t sig[64])
{
    sigil_buf m;
    int rc = sigil_buf_init(&m, n + 256, 0);
    if (rc)
        return rc;
    rc = put_signed_header(&m, flags, h, n);
    if (!rc) rc = sigil_buf_put(&m, body, n);
    if (!rc && crypto_sign_detached(sig, NULL, m.data, m.size, k->sign_sk) != 0)
        rc = SIGIL_E_CRYPTO;
    sigil_buf_free(&m);
    return rc;
}

int sigil_env_seal(const sigil_env_key *k, const sigil_env_header *h, const uint8_t *body,
                   size_t n, const uint8_t *recipient_box_pk, sigil_buf *out)
{
    if (!k || !h || !out || (!body && n) || !k->certified)
        return SIGIL_E_INVALID;
    if (n > SIGIL_ENV_MAX_BODY)
        return SIGIL_E_TOO_LARGE;
    int rc = sigil_env_header_check(h);
    if (rc)
        return rc;
    if (h->from != k->node_id || (recipient_box_pk && h->to == 0))
        return SIGIL_E_INVALID;
    uint8_t flags = recipient_box_pk ? SIGIL_ENV_FLAG_ENCRYPTED : 0;
    uint8_t *ct = NULL;
    const uint8_t *wire = body;
    size_t wlen = n;
    if (recipient_box_pk) {
        wlen = n + crypto_box_SEALBYTES;
        ct = malloc(wlen);
        if (!ct)
            return SIGIL_E_NOMEM;
        if (crypto_box_seal(ct, body, n, recipient_box_pk) != 0) {
            free(ct);
            return SIGIL_E_CRYPTO;
        }
        wire = ct;
    }
    uint8_t sig[64];
    rc = sign_msg(k, flags, h, wire, wlen, sig);
    size_t before = out->size;
    if (!rc) rc = sigil_buf_put_u8(out, SIGIL_ENV_VERSION);
    if (!rc) rc = sigil_buf_put_u8(out, flags);
    if (!rc) rc = sigil_buf_put_u32(out, k->node_id);
    if (!rc) rc = sigil_buf_put(out, k->sign_pk, 32);
    if (!rc) rc = sigil_buf_put(out, k->box_pk, 32);
    if (!rc) rc = sigil_buf_put_u64(out, k->issued);
    if (!rc) rc = sigil_buf_put(out, k->idsig, 64);
    if (!rc) rc = sigil_buf_put_string(out, wire, wlen);
    if (!rc) rc = sigil_buf_put(out, sig, 64);
    if (rc && out->size > before) {
        sodium_memzero(out->data + before, out->size - before);
        out->size = before;
    }
    free(ct);
    return rc;
}

/* Check cert bytes (SIGIL_ENV_CERT_LEN) for node `from`; cached. */
static int check_cert(sigil_env_peers *p, uint32_t from, const uint8_t *cert)
{
    pthread_mutex_lock(&p->mu);
    peer *pe = find_peer(p, from);
    if (!pe) {
        pthread_mutex_unlock(&p->mu);
        return SIGIL_E_PARTICIPANT;
    }
    for (unsigned i = 0; i < pe->cached; i++)
        if (sodium_memcmp(pe->cache[i], cert, SIGIL_ENV_CERT_LEN) == 0) {
            pthread_mutex_unlock(&p->mu);
            return SIGIL_OK;
        }
    uint8_t pk[32];
    memcpy(pk, pe->pk, 32);
    pthread_mutex_unlock(&p->mu);

    sigil_buf cb;
    sigil_buf_view(&cb, cert, SIGIL_ENV_CERT_LEN);
    uint32_t id;
    const uint8_t *spk, *bpk, *sig;
    uint64_t issued;
    int rc = sigil_buf_get_u32(&cb, &id);
    if (!rc) rc = sigil_buf_get_ptr(&cb, 32, &spk);
    if (!rc) rc = sigil_buf_get_ptr(&cb, 32, &bpk);
    if (!rc) rc = sigil_buf_get_u64(&cb, &issued);
    if (!rc) rc = sigil_buf_get_ptr(&cb, 64, &sig);
    if (rc)
        return rc;
    if (id != from)
        return SIGIL_E_PARTICIPANT;
    sigil_buf m;
    rc = sigil_buf_init(&m, 256, 0);
    if (rc)
        return rc;
    put_cert_body(&m, id, spk, bpk, issued, &rc);
    if (!rc && crypto_sign_verify_detached(sig, m.data, m.size, pk) != 0)
        rc = SIGIL_E_SIGNATURE;
    sigil_buf_free(&m);
    if (rc)
        return rc;
    pthread_mutex_lock(&p->mu);
    pe = find_peer(p, from);
    if (pe) {
        memcpy(pe->cache[pe->next], cert, SIGIL_ENV_CERT_LEN);
        pe->next = (pe->next + 1) % CACHE_SLOTS;
        if (pe->cached < CACHE_SLOTS)
            pe->cached++;
    }
    pthread_mutex_unlock(&p->mu);
    return SIGIL_OK;
}

/* ---- batched COMMITMENT envelopes (version 2) ---- */

#define LEAF_DOMAIN "sigil.v1.commitment-leaf"
#define BATCH_DOMAIN "sigil.v1.commitment-batch"
#define BATCH_MAX_PATH 12 /* SIGIL_ENV_MAX_ITEMS = 2^12 leaves */

static int leaf_hash(const sigil_env_header *h, const uint8_t *body, size_t n, uint8_t out[32])
{
    crypto_hash_sha256_state st;
    uint8_t hdr[4 * 6], z = 0x00;
    uint32_t v[6] = {(uint32_t)h->session_id_len, h->round, h->from, h->to, h->kind, (uint32_t)n};
    for (int i = 0; i < 6; i++) {
        hdr[4 * i] = (uint8_t)(v[i] >> 24);
        hdr[4 * i + 1] = (uint8_t)(v[i] >> 16);
        hdr[4 * i + 2] = (uint8_t)(v[i] >> 8);
        hdr[4 * i + 3] = (uint8_t)v[i];
    }
    if (h->session_id_len != 0) /* COMMITMENT headers carry no session id */
        return SIGIL_E_ENCODING;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &z, 1);
    crypto_hash_sha256_update(&st, (const uint8_t *)LEAF_DOMAIN, sizeof LEAF_DOMAIN);
    crypto_hash_sha256_update(&st, hdr, sizeof hdr);
    crypto_hash_sha256_update(&st, body, n);
    crypto_hash_sha256_final(&st, out);
    return SIGIL_OK;
}

static void node_hash(const uint8_t l[32], const uint8_t r[32], uint8_t out[32])
{
    crypto_hash_sha256_state st;
    uint8_t one = 0x01;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &one, 1);
    crypto_hash_sha256_update(&st, l, 32);
    crypto_hash_sha256_update(&st, r, 32);
    crypto_hash_sha256_final(&st, out);
}

static void batch_message(uint32_t from, uint32_t count, const uint8_t root[32], uint8_t *m, size_t *mlen)
{
    size_t o = 0;
    memcpy(m, BATCH_DOMAIN, sizeof BATCH_DOMAIN);
    o += sizeof BATCH_DOMAIN;
    for (int s = 24; s >= 0; s -= 8) m[o++] = (uint8_t)(from >> s);
    for (int s = 24; s >= 0; s -= 8) m[o++] = (uint8_t)(count >> s);
    memcpy(m + o, root, 32);
    *mlen = o + 32;
}

int sigil_env_seal_commitments(const sigil_env_key *k, const sigil_env_header *h,
                               const sigil_buf *bodies, size_t count, sigil_buf *outs)
{
    if (!k || !h || !bodies || !outs || !k->certified || count < 1 || count > SIGIL_ENV_MAX_ITEMS)
        return count > SIGIL_ENV_MAX_ITEMS ? SIGIL_E_TOO_LARGE : SIGIL_E_INVALID;
    int rc = sigil_env_header_check(h);
    if (rc)
        return rc;
    if (h->kind != SIGIL_ENV_COMMITMENT || h->from != k->node_id || h->to != 0)
        return SIGIL_E_INVALID;
    for (size_t i = 0; i < count; i++)
        if (bodies[i].size > SIGIL_ENV_MAX_BODY)
            return SIGIL_E_TOO_LARGE;
    /* levels[0] = leaves; an odd last node is carried up unchanged (the
     * RFC 6962 tree shape) */
    size_t total = 0;
    for (size_t w = count;; w = (w + 1) / 2) {
        total += w;
        if (w == 1)
            break;
    }
    uint8_t(*t)[32] = malloc(total * 32);
    if (!t)
        return SIGIL_E_NOMEM;
    for (size_t i = 0; i < count && !rc; i++)
        rc = leaf_hash(h, bodies[i].data, bodies[i].size, t[i]);
    size_t lvl_off[BATCH_MAX_PATH + 2], lvl_w[BATCH_MAX_PATH + 2], nl = 0;
    lvl_off[0] = 0;
    lvl_w[0] = count;
    while (!rc && lvl_w[nl] > 1) {
        size_t w = lvl_w[nl], o = lvl_off[nl], no = o + w;
        for (size_t i = 0; i + 1 < w; i += 2)
            node_hash(t[o + i], t[o + i + 1], t[no + i / 2]);
        if (w & 1)
            memcpy(t[no + w / 2], t[o + w - 1], 32);
        nl++;
        lvl_off[nl] = no;
        lvl_w[nl] = (w + 1) / 2;
    }
    uint8_t sig[64], m[sizeof BATCH_DOMAIN + 8 + 32];
    size_t mlen;
    if (!rc) {
        batch_message(h->from, (uint32_t)count, t[lvl_off[nl]], m, &mlen);
        if (crypto_sign_detached(sig, NULL, m, mlen, k->sign_sk) != 0)
            rc = SIGIL_E_CRYPTO;
    }
    for (size_t i = 0; i < count && !rc; i++) {
        sigil_buf *out = &outs[i];
        size_t before = out->size;
        uint8_t path[BATCH_MAX_PATH][32];
        size_t np = 0, idx = i;
        for (size_t l = 0; l < nl; l++, idx >>= 1) {
            size_t sib = idx ^ 1;
            if (sib < lvl_w[l])
                memcpy(path[np++], t[lvl_off[l] + sib], 32);
        }
        rc = sigil_buf_put_u8(out, SIGIL_ENV_VERSION_BATCH);
        if (!rc) rc = sigil_buf_put_u8(out, 0);
        if (!rc) rc = sigil_buf_put_u32(out, k->node_id);
        if (!rc) rc = sigil_buf_put(out, k->sign_pk, 32);
        if (!rc) rc = sigil_buf_put(out, k->box_pk, 32);
        if (!rc) rc = sigil_buf_put_u64(out, k->issued);
        if (!rc) rc = sigil_buf_put(out, k->idsig, 64);
        if (!rc) rc = sigil_buf_put_string(out, bodies[i].data, bodies[i].size);
        if (!rc) rc = sigil_buf_put_u32(out, (uint32_t)i);
        if (!rc) rc = sigil_buf_put_u32(out, (uint32_t)count);
        if (!rc) rc = sigil_buf_put_u8(out, (uint8_t)np);
        for (size_t j = 0; j < np && !rc; j++)
            rc = sigil_buf_put(out, path[j], 32);
        if (!rc) rc = sigil_buf_put(out, sig, 64);
        if (rc && out->size > before) {
            sodium_memzero(out->data + before, out->size - before);
            out->size = before;
        }
    }
    free(t);
    return rc;
}

/* RFC 9162 2.1.3.2: the root of a tree of `count` leaves from leaf `index`
 * and its inclusion path (np hashes); SIGIL_E_CHECK if the path does not
 * fit the position. */
static int root_from_path(const uint8_t leaf[32], uint32_t index, uint32_t count, const uint8_t *path,
                          size_t np, uint8_t root[32])
{
    if (count < 1 || index >= count)
        return SIGIL_E_CHECK;
    uint32_t fn = index, sn = count - 1;
    uint8_t r[32];
    memcpy(r, leaf, 32);
    for (size_t i = 0; i < np; i++) {
        const uint8_t *p = path + 32 * i;
        if (sn == 0)
            return SIGIL_E_CHECK;
        if ((fn & 1) || fn == sn) {
            node_hash(p, r, r);
            if (!(fn & 1))
                while (!(fn & 1) && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
        } else {
            node_hash(r, p, r);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0)
        return SIGIL_E_CHECK;
    memcpy(root, r, 32);
    return SIGIL_OK;
}

/* The batch signature over (from, count, root) by envelope key spk: a
 * bounded cache of verified (spk, from, count, root, sig) makes it one
 * verification per batch. */
static int check_batch_sig(sigil_env_peers *p, uint32_t from, uint32_t count, const uint8_t root[32],
                           const uint8_t *spk, const uint8_t *sig)
{
    uint8_t m[sizeof BATCH_DOMAIN + 8 + 32], key[32];
    size_t mlen;
    batch_message(from, count, root, m, &mlen);
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, spk, 32);
    crypto_hash_sha256_update(&st, m, mlen);
    crypto_hash_sha256_update(&st, sig, 64);
    crypto_hash_sha256_final(&st, key);
    /* newest first: entries are opened roughly in the order their batches
     * arrived, so a hit is near the front; the key is public (memcmp) */
    pthread_mutex_lock(&p->mu);
    for (size_t i = 0, j = p->batch_next; i < p->batch_n; i++) {
        j = (j + SIGIL_ENV_BATCH_CACHE - 1) % SIGIL_ENV_BATCH_CACHE;
        if (memcmp(p->batch[j], key, 32) == 0) {
            pthread_mutex_unlock(&p->mu);
            return SIGIL_OK;
        }
    }
    pthread_mutex_unlock(&p->mu);
    if (crypto_sign_verify_detached(sig, m, mlen, spk) != 0)
        return SIGIL_E_SIGNATURE;
    pthread_mutex_lock(&p->mu);
    p->batch_verified++;
    memcpy(p->batch[p->batch_next], key, 32);
    p->batch_next = (p->batch_next + 1) % SIGIL_ENV_BATCH_CACHE;
    if (p->batch_n < SIGIL_ENV_BATCH_CACHE)
        p->batch_n++;
    pthread_mutex_unlock(&p->mu);
    return SIGIL_OK;
}

void sigil_env_peers_batch_stats(sigil_env_peers *p, size_t *cached, uint64_t *verified)
{
    pthread_mutex_lock(&p->mu);
    if (cached) *cached = p->batch_n;
    if (verified) *verified = p->batch_verified;
    pthread_mutex_unlock(&p->mu);
}

/* Open a version-2 (batched COMMITMENT) payload; `in` is past the version
 * byte. */
static int open_batched(sigil_env_peers *p, const sigil_env_header *h, sigil_buf *in, sigil_buf *body_out)
{
    uint8_t flags, np;
    const uint8_t *cert, *body, *path, *sig;
    size_t blen;
    uint32_t index, count;
    int rc = sigil_buf_get_u8(in, &flags);
    if (!rc && flags != 0)
        rc = SIGIL_E_VERSION;
    if (!rc) rc = sigil_buf_get_ptr(in, SIGIL_ENV_CERT_LEN, &cert);
    if (!rc) rc = sigil_buf_get_string(in, SIGIL_ENV_MAX_BODY, &body, &blen);
    if (!rc) rc = sigil_buf_get_u32(in, &index);
    if (!rc) rc = sigil_buf_get_u32(in, &count);
    if (!rc) rc = sigil_buf_get_u8(in, &np);
    if (!rc && np > BATCH_MAX_PATH)
        rc = SIGIL_E_ENCODING;
    if (!rc) rc = sigil_buf_get_ptr(in, (size_t)np * 32, &path);
    if (!rc) rc = sigil_buf_get_ptr(in, 64, &sig);
    if (!rc) rc = sigil_buf_end(in);
    if (rc)
        return rc;
    /* the sender first (a payload re-attributed to another node is that:
     * SIGIL_E_PARTICIPANT), then the header a batch can carry */
    rc = check_cert(p, h->from, cert);
    if (rc)
        return rc;
    if (h->kind != SIGIL_ENV_COMMITMENT || h->to != 0 || count > SIGIL_ENV_MAX_ITEMS)
        return SIGIL_E_ENCODING;
    uint8_t leaf[32], root[32];
    rc = leaf_hash(h, body, blen, leaf);
    if (!rc && root_from_path(leaf, index, count, path, np, root))
        rc = SIGIL_E_SIGNATURE;
    if (!rc) rc = check_batch_sig(p, h->from, count, root, cert + 4, sig);
    if (!rc) rc = sigil_buf_put(body_out, body, blen);
    return rc;
}

int sigil_env_open(sigil_env_peers *p, const sigil_env_key *recipient, const sigil_env_header *h,
                   const uint8_t *payload, size_t n, sigil_buf *body_out,
                   uint8_t sender_box_pk[SIGIL_ENV_BOX_PK_LEN])
{
    if (!p || !h || !body_out || (!payload && n))
        return SIGIL_E_INVALID;
    int rc = sigil_env_header_check(h);
    if (rc)
        return rc;
    sigil_buf in;
    sigil_buf_view(&in, payload, n);
    uint8_t ver, flags;
    const uint8_t *cert, *body, *sig;
    size_t blen;
    rc = sigil_buf_get_u8(&in, &ver);
    if (!rc && ver == SIGIL_ENV_VERSION_BATCH) {
        size_t before = body_out->size;
        rc = open_batched(p, h, &in, body_out);
        if (rc)
            body_out->size = before;
        else if (sender_box_pk)
            memcpy(sender_box_pk, payload + 2 + 36, 32);
        return rc;
    }
    if (!rc && ver != SIGIL_ENV_VERSION)
        rc = SIGIL_E_VERSION;
    if (!rc) rc = sigil_buf_get_u8(&in, &flags);
    if (!rc && (flags & ~SIGIL_ENV_FLAG_ENCRYPTED))
        rc = SIGIL_E_VERSION;
    if (!rc) rc = sigil_buf_get_ptr(&in, SIGIL_ENV_CERT_LEN, &cert);
    if (!rc) rc = sigil_buf_get_string(&in, SIGIL_ENV_MAX_BODY + crypto_box_SEALBYTES, &body, &blen);
    if (!rc) rc = sigil_buf_get_ptr(&in, 64, &sig);
    if (!rc) rc = sigil_buf_end(&in);
    if (rc)
        return rc;
    if ((flags & SIGIL_ENV_FLAG_ENCRYPTED) && h->to == 0)
        return SIGIL_E_ENCODING;
    rc = check_cert(p, h->from, cert);
    if (rc)
        return rc;
    const uint8_t *spk = cert + 4, *bpk = cert + 36;
    sigil_buf m;
    rc = sigil_buf_init(&m, blen + 256, 0);
    if (rc)
        return rc;
    rc = put_signed_header(&m, flags, h, blen);
    if (!rc) rc = sigil_buf_put(&m, body, blen);
    if (!rc && crypto_sign_verify_detached(sig, m.data, m.size, spk) != 0)
        rc = SIGIL_E_SIGNATURE;
    sigil_buf_free(&m);
    if (rc)
        return rc;
    if (flags & SIGIL_ENV_FLAG_ENCRYPTED) {
        if (!recipient || recipient->node_id != h->to)
            return SIGIL_E_INVALID;
        if (blen < crypto_box_SEALBYTES)
            return SIGIL_E_UNSEAL;
        size_t before = body_out->size;
        uint8_t *dst;
        rc = sigil_buf_reserve(body_out, blen - crypto_box_SEALBYTES, &dst);
        if (rc)
            return rc;
        if (crypto_box_seal_open(dst, body, blen, recipient->box_pk, recipient->box_sk) != 0) {
            sodium_memzero(dst, blen - crypto_box_SEALBYTES);
            body_out->size = before;
            return SIGIL_E_UNSEAL;
        }
    } else {
        rc = sigil_buf_put(body_out, body, blen);
        if (rc)
            return rc;
    }
    if (sender_box_pk)
        memcpy(sender_box_pk, bpk, 32);
    return SIGIL_OK;
}

/* ---- bodies ---- */

static int get_key_id(sigil_buf *b, char *out)
{
    const uint8_t *p;
    size_t n;
    int rc = sigil_buf_get_string(b, SIGIL_ENV_KEY_ID_MAX, &p, &n);
    if (rc)
        return rc;
    if (n == 0)
        return SIGIL_E_ENCODING;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return SIGIL_E_ENCODING;
    }
    memcpy(out, p, n);
    out[n] = 0;
    return SIGIL_OK;
}

/* scheme, key id and item count (1..SIGIL_ENV_MAX_ITEMS): the head of
 * every per-item result (FROST sign, ECDSA sign). */
static int batch_header_get(sigil_buf *b, uint16_t *scheme, char *key_id, uint32_t *count)
{
    int rc = sigil_buf_get_u16(b, scheme);
    if (!rc) rc = get_key_id(b, key_id);
    if (!rc) rc = sigil_buf_get_u32(b, count);
    if (!rc && (*count == 0 || *count > SIGIL_ENV_MAX_ITEMS))
        rc = SIGIL_E_TOO_LARGE;
    return rc;
}

static int put_key_id(sigil_buf *b, const char *key_id)
{
    size_t n = key_id ? strlen(key_id) : 0;
    if (n == 0 || n > SIGIL_ENV_KEY_ID_MAX)
        return SIGIL_E_INVALID;
    return sigil_buf_put_string(b, key_id, n);
}

int sigil_env_commitment_encode(uint16_t scheme, const char *key_id, uint64_t entry_id,
                                const uint8_t *commitment, size_t len, sigil_buf *out)
{
    int rc = sigil_buf_put_u16(out, scheme);
    if (!rc) rc = put_key_id(out, key_id);
    if (!rc) rc = sigil_buf_put_u64(out, entry_id);
    if (!rc) rc = sigil_buf_put_string(out, commitment, len);
    return rc;
}

int sigil_env_commitment_decode(sigil_env_commitment *out, const uint8_t *body, size_t n)
{
    if (!out)
        return SIGIL_E_INVALID;
    memset(out, 0, sizeof *out);
    sigil_buf b;
    sigil_buf_view(&b, body, n);
    int rc = sigil_buf_get_u16(&b, &out->scheme);
    if (!rc) rc = get_key_id(&b, out->key_id);
    if (!rc) rc = sigil_buf_get_u64(&b, &out->entry_id);
    if (!rc) rc = sigil_buf_get_string(&b, 256, &out->commitment, &out->commitment_len);
    if (!rc) rc = sigil_buf_end(&b);
    if (rc)
        memset(out, 0, sizeof *out);
    return rc;
}

int sigil_env_sign_result_decode(sigil_env_sign_result *out, const uint8_t *body, size_t n)
{
    if (!out)
        return SIGIL_E_INVALID;
    memset(out, 0, sizeof *out);
    sigil_buf b;
    sigil_buf_view(&b, body, n);
    int rc = batch_header_get(&b, &out->scheme, out->key_id, &out->count);
    if (rc) {
        memset(out, 0, sizeof *out);
        return rc;
    }
    out->entry_ids = calloc(out->count, sizeof *out->entry_ids);
    out->shares = calloc(out->count, sizeof *out->shares);
    out->rs = calloc(out->count, sizeof *out->rs);
    if (!out->entry_ids || !out->shares || !out->rs) {
        sigil_env_sign_result_free(out);
        return SIGIL_E_NOMEM;
    }
    for (uint32_t i = 0; i < out->count && !rc; i++) {
        const uint8_t *p;
        size_t l;
        rc = sigil_buf_get_u64(&b, &out->entry_ids[i]);
        if (!rc) rc = sigil_buf_get_string(&b, 256, &p, &l);
        if (!rc) sigil_buf_view(&out->shares[i], p, l);
        if (!rc) rc = sigil_buf_get_string(&b, SIGIL_POINT_MAX_LEN, &p, &l);
        if (!rc) sigil_buf_view(&out->rs[i], p, l);
    }
    if (!rc) rc = sigil_buf_end(&b);
    if (rc)
        sigil_env_sign_result_free(out);
    return rc;
}

void sigil_env_sign_result_free(sigil_env_sign_result *r)
{
    if (!r)
        return;
    free(r->entry_ids);
    free(r->shares);
    free(r->rs);
    memset(r, 0, sizeof *r);
}

int sigil_env_dkg_result_encode(uint16_t scheme, const char *key_id, const uint8_t *pk, size_t pklen,
                                const uint8_t *package, size_t package_len,
                                const uint8_t *confirmation, size_t confirmation_len,
                                sigil_buf *out)
{
    int rc = sigil_buf_put_u16(out, scheme);
    if (!rc) rc = put_key_id(out, key_id);
    if (!rc) rc = sigil_buf_put_string(out, pk, pklen);
    if (!rc) rc = sigil_buf_put_string(out, package, package_len);
    if (!rc) rc = sigil_buf_put_string(out, confirmation, confirmation_len);
    return rc;
}

int sigil_env_dkg_result_decode(sigil_env_dkg_result *out, const uint8_t *body, size_t n)
{
    if (!out)
        return SIGIL_E_INVALID;
    memset(out, 0, sizeof *out);
    sigil_buf b;
    sigil_buf_view(&b, body, n);
    int rc = sigil_buf_get_u16(&b, &out->scheme);
    if (!rc) rc = get_key_id(&b, out->key_id);
    if (!rc) rc = sigil_buf_get_string(&b, 65, &out->public_key, &out->public_key_len);
    if (!rc) rc = sigil_buf_get_string(&b, SIGIL_ENV_MAX_BODY, &out->public_package, &out->public_package_len);
    if (!rc) rc = sigil_buf_get_string(&b, 4096, &out->confirmation, &out->confirmation_len);
    if (!rc) rc = sigil_buf_end(&b);
    /* confirmation = 0x03 || id (32) || transcript hash (32) || ... */
    if (!rc && (out->confirmation_len < 1 + 32 + 32 || out->confirmation[0] != 0x03))
        rc = SIGIL_E_ENCODING;
    if (rc) {
        memset(out, 0, sizeof *out);
        return rc;
    }
    out->transcript_hash = out->confirmation + 33;
    return SIGIL_OK;
}

int sigil_env_dkg_results_agree(const sigil_env_dkg_result *r, size_t count, sigil_keyshare *pub)
{
    if (!r || !count || !pub)
        return SIGIL_E_INVALID;
    memset(pub, 0, sizeof *pub);
    for (size_t i = 1; i < count; i++) {
        if (r[i].scheme != r[0].scheme || strcmp(r[i].key_id, r[0].key_id) != 0 ||
            r[i].public_key_len != r[0].public_key_len ||
            memcmp(r[i].public_key, r[0].public_key, r[0].public_key_len) != 0 ||
            memcmp(r[i].transcript_hash, r[0].transcript_hash, 32) != 0)
            return SIGIL_E_CONFIRM;
    }
    if (r[0].scheme < SIGIL_ENV_SCHEME_ED25519 || r[0].scheme > SIGIL_ENV_SCHEME_ECDSA)
        return SIGIL_E_VERSION;
    int ecdsa = r[0].scheme == SIGIL_ENV_SCHEME_ECDSA;
    sigil_frost_suite s = ecdsa ? SIGIL_FROST_SECP256K1 : (sigil_frost_suite)r[0].scheme;
    for (size_t i = 0; i < count; i++) {
        sigil_keyshare k;
        memset(&k, 0, sizeof k);
        sigil_buf b;
        sigil_buf_view(&b, r[i].public_package, r[i].public_package_len);
        int rc = sigil_keyshare_parse(&b, &k);
        if (rc)
            return rc;
        uint8_t pk[SIGIL_FROST_PK_MAX];
        if (ecdsa) {
            if (sigil_group_point_len(k.g) != 33 || k.g != sigil_frost_group(s))
                rc = SIGIL_E_MISMATCH;
            else
                sigil_point_serialize(k.g, pk, &k.group_pk);
        } else {
            rc = sigil_frost_public_key(s, &k, pk);
        }
        if (rc || k.secret || sigil_frost_pk_len(s) != r[0].public_key_len ||
            memcmp(pk, r[0].public_key, r[0].public_key_len) != 0 || k.n != count) {
            sigil_keyshare_free(&k);
            return rc ? rc : SIGIL_E_CONFIRM;
        }
        if (i == 0)
            *pub = k;
        else
            sigil_keyshare_free(&k);
    }
    return SIGIL_OK;
}

int sigil_env_frost_aggregate(sigil_frost_suite suite, const sigil_keyshare *pub,
                              const uint8_t *msg, size_t msglen, const sigil_buf *commitments,
                              const sigil_buf *shares, size_t count, uint8_t *sig,
                              uint32_t *culprit)
{
    sigil_frost_package *pkg = NULL;
    int rc = sigil_frost_package_new(suite, pub, msg, msglen, commitments, count, &pkg);
    if (rc)
        return rc;
    rc = sigil_frost_aggregate(suite, pub, pkg, shares, count, sig, culprit);
    sigil_frost_package_free(pkg);
    return rc;
}

int sigil_env_frost_aggregate_r(sigil_frost_suite suite, const sigil_keyshare *pub,
                                const uint8_t *msg, size_t msglen, const sigil_buf *commitments,
                                const sigil_buf *shares, const sigil_buf *rs, size_t count,
                                uint8_t *sig, uint32_t *culprit)
{
    const uint8_t *r = NULL;
    size_t rlen = 0;
    if (!rs || count == 0)
        return SIGIL_E_INVALID;
    /* one R agreed by every signer, else none (the full path decides) */
    if (rs[0].size > 0) {
        r = rs[0].data;
        rlen = rs[0].size;
        for (size_t i = 1; i < count && r; i++)
            if (rs[i].size != rlen || memcmp(rs[i].data, r, rlen) != 0)
                r = NULL;
    }
    return sigil_frost_aggregate_with_r(suite, pub, msg, msglen, commitments, count, shares,
                                        r, r ? rlen : 0, sig, culprit);
}

/* ---- ECDSA ---- */

int sigil_env_ecdsa_combiner_put(const sigil_ecdsa_combiner *c, sigil_buf *out)
{
    if (!c || !out || c->count < 1 || c->count > SIGIL_ECDSA_MAX_PARTIES)
        return SIGIL_E_INVALID;
    int rc = sigil_buf_put(out, c->sid, 32);
    if (!rc) rc = sigil_buf_put_u16(out, (uint16_t)c->count);
    for (size_t i = 0; i < c->count && !rc; i++)
        rc = sigil_buf_put_u16(out, c->signers[i]);
    if (!rc) rc = sigil_buf_put(out, c->pubkey, 33);
    if (!rc) rc = sigil_buf_put(out, c->R, 33);
    if (!rc) rc = sigil_buf_put(out, c->digest, 32);
    return rc;
}

static int combiner_get(sigil_buf *b, sigil_ecdsa_combiner *c)
{
    memset(c, 0, sizeof *c);
    uint16_t n = 0;
    int rc = sigil_buf_get(b, c->sid, 32);
    if (!rc) rc = sigil_buf_get_u16(b, &n);
    if (!rc && (n < 1 || n > SIGIL_ECDSA_MAX_PARTIES))
        rc = SIGIL_E_TOO_LARGE;
    for (uint16_t i = 0; i < n && !rc; i++)
        rc = sigil_buf_get_u16(b, &c->signers[i]);
    c->count = n;
    if (!rc) rc = sigil_buf_get(b, c->pubkey, 33);
    if (!rc) rc = sigil_buf_get(b, c->R, 33);
    if (!rc) rc = sigil_buf_get(b, c->digest, 32);
    return rc;
}

int sigil_env_ecdsa_result_decode(sigil_env_ecdsa_result *out, const uint8_t *body, size_t n)
{
    if (!out)
        return SIGIL_E_INVALID;
    memset(out, 0, sizeof *out);
    sigil_buf b;
    sigil_buf_view(&b, body, n);
    int rc = batch_header_get(&b, &out->scheme, out->key_id, &out->count);
    if (rc) {
        memset(out, 0, sizeof *out);
        return rc;
    }
    out->entry_ids = calloc(out->count, sizeof *out->entry_ids);
    out->sign_msgs = calloc(out->count, sizeof *out->sign_msgs);
    out->combiners = calloc(out->count, sizeof *out->combiners);
    if (!out->entry_ids || !out->sign_msgs || !out->combiners) {
        sigil_env_ecdsa_result_free(out);
        return SIGIL_E_NOMEM;
    }
    for (uint32_t i = 0; i < out->count && !rc; i++) {
        const uint8_t *p;
        size_t l;
        rc = sigil_buf_get_u64(&b, &out->entry_ids[i]);
        if (!rc) rc = sigil_buf_get_string(&b, 4096, &p, &l);
        if (!rc) sigil_buf_view(&out->sign_msgs[i], p, l);
        if (!rc) rc = combiner_get(&b, &out->combiners[i]);
    }
    if (!rc) rc = sigil_buf_end(&b);
    if (rc)
        sigil_env_ecdsa_result_free(out);
    return rc;
}

void sigil_env_ecdsa_result_free(sigil_env_ecdsa_result *r)
{
    if (!r)
        return;
    free(r->entry_ids);
    free(r->sign_msgs);
    free(r->combiners);
    memset(r, 0, sizeof *r);
}

int sigil_env_presign_result_decode(const uint8_t *body, size_t n, char key_id[SIGIL_ENV_KEY_ID_MAX + 1],
                                    uint64_t **ids, uint32_t *count)
{
    if (!ids || !count || !key_id)
        return SIGIL_E_INVALID;
    *ids = NULL;
    *count = 0;
    sigil_buf b;
    sigil_buf_view(&b, body, n);
    uint16_t scheme;
    uint32_t c;
    int rc = sigil_buf_get_u16(&b, &scheme);
    if (!rc && scheme != SIGIL_ENV_SCHEME_ECDSA)
        rc = SIGIL_E_VERSION;
    if (!rc) rc = get_key_id(&b, key_id);
    if (!rc) rc = sigil_buf_get_u32(&b, &c);
    if (!rc && (c == 0 || c > 1000000 || c > sigil_buf_len(&b) / 8))
        rc = SIGIL_E_TOO_LARGE;
    if (rc)
        return rc;
    uint64_t *v = calloc(c, sizeof *v);
    if (!v)
        return SIGIL_E_NOMEM;
    for (uint32_t i = 0; i < c && !rc; i++)
        rc = sigil_buf_get_u64(&b, &v[i]);
    if (!rc) rc = sigil_buf_end(&b);
    if (rc) {
        free(v);
        return rc;
    }
    *ids = v;
    *count = c;
    return SIGIL_OK;
}

int sigil_env_ecdsa_combine(const sigil_ecdsa_combiner *const *combs, const sigil_buf *msgs,
                            size_t count, const uint8_t pubkey[33], const uint8_t digest[32],
                            uint8_t sig[64], int *recid, uint16_t *culprit)
{
    if (!combs || !msgs || !count || count > SIGIL_ECDSA_MAX_PARTIES || !pubkey || !digest || !sig ||
        !recid)
        return SIGIL_E_INVALID;
    const sigil_ecdsa_combiner *c0 = combs[0];
    if (c0->count != count || memcmp(c0->pubkey, pubkey, 33) || memcmp(c0->digest, digest, 32))
        return SIGIL_E_MISMATCH;
    for (size_t i = 1; i < count; i++)
        if (combs[i]->count != c0->count || memcmp(combs[i]->sid, c0->sid, 32) ||
            memcmp(combs[i]->signers, c0->signers, count * sizeof c0->signers[0]) ||
            memcmp(combs[i]->pubkey, c0->pubkey, 33) || memcmp(combs[i]->R, c0->R, 33) ||
            memcmp(combs[i]->digest, c0->digest, 32))
            return SIGIL_E_MISMATCH;
    /* in[k] must be the SIGN message of c0->signers[k] */
    sigil_buf in[SIGIL_ECDSA_MAX_PARTIES];
    for (size_t k = 0; k < count; k++) {
        size_t j;
        for (j = 0; j < count; j++) {
            sigil_ecdsa_msg m;
            if (sigil_ecdsa_msg_decode(&m, msgs[j].data, msgs[j].size) == SIGIL_OK &&
                m.sender == c0->signers[k])
                break;
        }
        if (j == count)
            return SIGIL_E_PARTICIPANT;
        sigil_buf_view(&in[k], msgs[j].data, msgs[j].size);
    }
    return sigil_ecdsa_combine(c0, in, sig, recid, culprit);
}

/* ---- import: certificates and sealed boxes for a dealer ---- */

int sigil_env_key_cert(const sigil_env_key *k, uint8_t cert[SIGIL_ENV_CERT_LEN])
{
    if (!k || !cert || !k->certified)
        return SIGIL_E_INVALID;
    sigil_buf b;
    int rc = sigil_buf_init(&b, SIGIL_ENV_CERT_LEN, 0);
    if (!rc) rc = sigil_buf_put_u32(&b, k->node_id);
    if (!rc) rc = sigil_buf_put(&b, k->sign_pk, 32);
    if (!rc) rc = sigil_buf_put(&b, k->box_pk, 32);
    if (!rc) rc = sigil_buf_put_u64(&b, k->issued);
    if (!rc) rc = sigil_buf_put(&b, k->idsig, 64);
    if (!rc && b.size != SIGIL_ENV_CERT_LEN)
        rc = SIGIL_E_ENCODING;
    if (!rc)
        memcpy(cert, b.data, SIGIL_ENV_CERT_LEN);
    sigil_buf_free(&b);
    return rc;
}

int sigil_env_cert_box_pk(sigil_env_peers *p, uint32_t node_id, const uint8_t *cert, size_t n,
                          uint8_t box_pk[SIGIL_ENV_BOX_PK_LEN])
{
    if (!p || !cert || !box_pk)
        return SIGIL_E_INVALID;
    if (n != SIGIL_ENV_CERT_LEN)
        return SIGIL_E_ENCODING;
    int rc = check_cert(p, node_id, cert);
    if (rc)
        return rc;
    memcpy(box_pk, cert + 36, 32);
    return SIGIL_OK;
}

int sigil_env_key_open_sealed(const sigil_env_key *k, const uint8_t *c, size_t n, sigil_buf *out)
{
    if (!k || !c || !out)
        return SIGIL_E_INVALID;
    if (n < crypto_box_SEALBYTES || n > SIGIL_ENV_MAX_BODY + crypto_box_SEALBYTES)
        return SIGIL_E_UNSEAL;
    size_t before = out->size;
    uint8_t *dst;
    int rc = sigil_buf_reserve(out, n - crypto_box_SEALBYTES, &dst);
    if (rc)
        return rc;
    if (crypto_box_seal_open(dst, c, n, k->box_pk, k->box_sk) != 0) {
        sodium_memzero(dst, n - crypto_box_SEALBYTES);
        out->size = before;
        return SIGIL_E_UNSEAL;
    }
    return SIGIL_OK;
}
