/* sigil_envelope: batched COMMITMENT envelopes (version 2, one signature per
 * refill, an RFC 6962 inclusion path per entry): every tree size opens,
 * every byte of a payload flipped / truncated / extended is refused, an
 * entry spliced from another batch, relabelled to another node or another
 * header is refused, the batch signature is verified once per batch and the
 * cache stays within its bound. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "check.h"
#include "sigil/envelope.h"
#include "sigil/err.h"
#include "sigil/group.h"

static uint8_t id_pk[3][32], id_sk[3][64];

static sigil_env_key *mkkey(uint32_t id)
{
    sigil_env_key *k = NULL;
    REQUIRE(sigil_env_key_new(&k, id, 1700000000) == SIGIL_OK);
    sigil_buf m;
    REQUIRE(sigil_buf_init(&m, 256, 0) == SIGIL_OK);
    REQUIRE(sigil_env_key_cert_message(k, &m) == SIGIL_OK);
    uint8_t sig[64];
    crypto_sign_detached(sig, NULL, m.data, m.size, id_sk[id]);
    sigil_buf_free(&m);
    REQUIRE(sigil_env_key_set_cert(k, id_pk[id], sig) == SIGIL_OK);
    return k;
}

/* count commitment bodies for key_id (entry ids base..), sealed as one
 * batch by k into outs (count buffers, initialised here). */
static void seal_batch(sigil_env_key *k, const char *key_id, uint64_t base, size_t count, sigil_buf *outs)
{
    sigil_buf *b = calloc(count, sizeof *b);
    REQUIRE(b != NULL);
    for (size_t i = 0; i < count; i++) {
        uint8_t com[66];
        randombytes_buf(com, sizeof com);
        REQUIRE(sigil_buf_init(&b[i], 512, 0) == SIGIL_OK);
        REQUIRE(sigil_env_commitment_encode(SIGIL_ENV_SCHEME_ED25519, key_id, base + i, com, sizeof com, &b[i]) ==
                SIGIL_OK);
        REQUIRE(sigil_buf_init(&outs[i], 1 << 20, 0) == SIGIL_OK);
    }
    sigil_env_header h = {NULL, 0, 0, sigil_env_key_node_id(k), 0, SIGIL_ENV_COMMITMENT};
    REQUIRE(sigil_env_seal_commitments(k, &h, b, count, outs) == SIGIL_OK);
    for (size_t i = 0; i < count; i++)
        sigil_buf_free(&b[i]);
    free(b);
}

static void free_bufs(sigil_buf *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sigil_buf_free(&b[i]);
}

static int open1(sigil_env_peers *p, uint32_t from, const uint8_t *pl, size_t n, sigil_env_commitment *c,
                 sigil_buf *body)
{
    sigil_env_header h = {NULL, 0, 0, from, 0, SIGIL_ENV_COMMITMENT};
    body->size = 0;
    int rc = sigil_env_open(p, NULL, &h, pl, n, body, NULL);
    if (!rc && c)
        rc = sigil_env_commitment_decode(c, body->data, body->size);
    return rc;
}

int main(void)
{
    REQUIRE(sigil_mpc_init() == SIGIL_OK);
    for (int i = 0; i < 3; i++)
        crypto_sign_keypair(id_pk[i], id_sk[i]);
    sigil_env_peers *peers;
    REQUIRE(sigil_env_peers_new(&peers) == SIGIL_OK);
    REQUIRE(sigil_env_peers_add(peers, 1, id_pk[1]) == SIGIL_OK);
    REQUIRE(sigil_env_peers_add(peers, 2, id_pk[2]) == SIGIL_OK);
    sigil_env_key *k1 = mkkey(1), *k2 = mkkey(2);
    sigil_buf body;
    REQUIRE(sigil_buf_init(&body, 1 << 20, 0) == SIGIL_OK);
    sigil_env_commitment c;

    /* argument checks */
    {
        sigil_buf b[1], o[1];
        REQUIRE(sigil_buf_init(&b[0], 64, 0) == SIGIL_OK);
        REQUIRE(sigil_buf_put(&b[0], "x", 1) == SIGIL_OK);
        REQUIRE(sigil_buf_init(&o[0], 1 << 20, 0) == SIGIL_OK);
        sigil_env_header h = {NULL, 0, 0, 1, 0, SIGIL_ENV_COMMITMENT};
        CHECK_EQ(sigil_env_seal_commitments(k1, &h, b, 0, o), SIGIL_E_INVALID);
        CHECK_EQ(sigil_env_seal_commitments(k1, &h, b, SIGIL_ENV_MAX_ITEMS + 1, o), SIGIL_E_TOO_LARGE);
        sigil_env_header x = h;
        x.from = 2; /* not k1's node */
        CHECK_EQ(sigil_env_seal_commitments(k1, &x, b, 1, o), SIGIL_E_INVALID);
        x = h;
        x.to = 2;
        CHECK_EQ(sigil_env_seal_commitments(k1, &x, b, 1, o), SIGIL_E_INVALID);
        uint8_t sid[32] = {1};
        sigil_env_header d = {sid, 32, 1, 1, 0, SIGIL_ENV_DATA};
        CHECK_EQ(sigil_env_seal_commitments(k1, &d, b, 1, o), SIGIL_E_INVALID);
        sigil_env_key *raw = NULL; /* not certified */
        REQUIRE(sigil_env_key_new(&raw, 1, 1) == SIGIL_OK);
        CHECK_EQ(sigil_env_seal_commitments(raw, &h, b, 1, o), SIGIL_E_INVALID);
        sigil_env_key_free(raw);
        CHECK_EQ(o[0].size, 0);
        sigil_buf_free(&b[0]);
        sigil_buf_free(&o[0]);
    }

    /* every tree size (balanced or not) opens every entry, with its own body,
     * and verifies the batch signature once */
    static const size_t sizes[] = {1, 2, 3, 5, 7, 8, 9, 31, 64, 100};
    uint64_t base = 1000;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        sigil_buf *o = calloc(n, sizeof *o);
        REQUIRE(o != NULL);
        seal_batch(k1, "key-a", base, n, o);
        uint64_t v0, v1;
        sigil_env_peers_batch_stats(peers, NULL, &v0);
        int ok = 1;
        for (size_t i = 0; i < n; i++) {
            if (open1(peers, 1, o[i].data, o[i].size, &c, &body) != SIGIL_OK || c.entry_id != base + i ||
                strcmp(c.key_id, "key-a") != 0 || c.commitment_len != 66)
                ok = 0;
        }
        CHECK(ok);
        sigil_env_peers_batch_stats(peers, NULL, &v1);
        CHECK_EQ(v1 - v0, 1);
        free_bufs(o, n);
        free(o);
        base += n;
    }

    /* one batch of 5 for the adversarial cases */
    sigil_buf a[5], b[5], n2[5];
    seal_batch(k1, "key-a", 1, 5, a);
    seal_batch(k1, "key-a", 1, 5, b); /* same ids, another refill */
    seal_batch(k2, "key-a", 1, 5, n2);
    CHECK_EQ(open1(peers, 1, a[3].data, a[3].size, &c, &body), SIGIL_OK);

    /* every bit of every byte of one payload flipped, every truncation, one
     * byte more: refused, nothing appended */
    {
        const sigil_buf *p = &a[3];
        uint8_t *t = malloc(p->size + 1);
        int all = 1;
        for (size_t i = 0; i < p->size; i++)
            for (int bit = 0; bit < 8; bit++) {
                memcpy(t, p->data, p->size);
                t[i] ^= (uint8_t)(1u << bit);
                if (open1(peers, 1, t, p->size, NULL, &body) == SIGIL_OK || body.size != 0) {
                    all = 0;
                    fprintf(stderr, "flip accepted at byte %zu bit %d\n", i, bit);
                }
            }
        CHECK(all);
        all = 1;
        for (size_t l = 0; l < p->size; l++)
            if (open1(peers, 1, p->data, l, NULL, &body) == SIGIL_OK || body.size != 0)
                all = 0;
        memcpy(t, p->data, p->size);
        t[p->size] = 0;
        if (open1(peers, 1, t, p->size + 1, NULL, &body) == SIGIL_OK)
            all = 0;
        CHECK(all);
        free(t);
    }

    /* an entry's body and path with another batch's signature (and the other
     * way round): refused */
    {
        uint8_t *t = malloc(a[2].size);
        memcpy(t, a[2].data, a[2].size);
        memcpy(t + a[2].size - 64, b[2].data + b[2].size - 64, 64);
        CHECK_EQ(open1(peers, 1, t, a[2].size, NULL, &body), SIGIL_E_SIGNATURE);
        /* the path of entry 2 of batch b with the body of entry 2 of batch a */
        size_t tail = 4 + 4 + 1 + 32 * (size_t)3 + 64; /* count 5, index 2: path of 3 */
        REQUIRE(a[2].size == b[2].size);
        memcpy(t, a[2].data, a[2].size);
        memcpy(t + a[2].size - tail, b[2].data + b[2].size - tail, tail);
        CHECK_EQ(open1(peers, 1, t, a[2].size, NULL, &body), SIGIL_E_SIGNATURE);
        /* the index of another entry of the same batch */
        memcpy(t, a[2].data, a[2].size);
        t[a[2].size - tail + 3] = 1;
        CHECK_EQ(open1(peers, 1, t, a[2].size, NULL, &body), SIGIL_E_SIGNATURE);
        free(t);
    }

    /* another node: node 2's entry presented as node 1's, node 1's as node
     * 2's, node 2's batch with node 1's certificate */
    {
        CHECK_EQ(open1(peers, 2, n2[0].data, n2[0].size, &c, &body), SIGIL_OK);
        CHECK_EQ(open1(peers, 1, n2[0].data, n2[0].size, NULL, &body), SIGIL_E_PARTICIPANT);
        CHECK_EQ(open1(peers, 2, a[0].data, a[0].size, NULL, &body), SIGIL_E_PARTICIPANT);
        uint8_t *t = malloc(n2[0].size);
        memcpy(t, n2[0].data, n2[0].size);
        memcpy(t + 2, a[0].data + 2, SIGIL_ENV_CERT_LEN);
        CHECK_EQ(open1(peers, 1, t, n2[0].size, NULL, &body), SIGIL_E_SIGNATURE);
        free(t);
        /* a peer that does not know node 2 */
        sigil_env_peers *only1;
        REQUIRE(sigil_env_peers_new(&only1) == SIGIL_OK);
        REQUIRE(sigil_env_peers_add(only1, 1, id_pk[1]) == SIGIL_OK);
        CHECK_EQ(open1(only1, 2, n2[0].data, n2[0].size, NULL, &body), SIGIL_E_PARTICIPANT);
        sigil_env_peers_free(only1);
    }

    /* another key: a batch for key-b opens as key-b (the node compares the
     * key id); the key id cannot be rewritten (every byte flipped above) */
    {
        sigil_buf kb[2];
        seal_batch(k1, "key-b", 1, 2, kb);
        CHECK_EQ(open1(peers, 1, kb[1].data, kb[1].size, &c, &body), SIGIL_OK);
        CHECK(strcmp(c.key_id, "key-b") == 0);
        free_bufs(kb, 2);
    }

    /* the header: a batched payload opens only as a COMMITMENT, round 0,
     * to 0, no session id */
    {
        uint8_t sid[32] = {7};
        sigil_env_header x = {NULL, 0, 1, 1, 0, SIGIL_ENV_COMMITMENT};
        body.size = 0;
        CHECK_EQ(sigil_env_open(peers, NULL, &x, a[0].data, a[0].size, &body, NULL), SIGIL_E_SIGNATURE);
        x.round = 0;
        x.to = 2;
        CHECK(sigil_env_open(peers, NULL, &x, a[0].data, a[0].size, &body, NULL) != SIGIL_OK);
        sigil_env_header d = {sid, 32, 0, 1, 0, SIGIL_ENV_DATA};
        CHECK_EQ(sigil_env_open(peers, NULL, &d, a[0].data, a[0].size, &body, NULL), SIGIL_E_ENCODING);
        sigil_env_header r = {sid, 32, 1, 1, 0, SIGIL_ENV_RESULT};
        CHECK_EQ(sigil_env_open(peers, NULL, &r, a[0].data, a[0].size, &body, NULL), SIGIL_E_ENCODING);
        CHECK_EQ(body.size, 0);
    }
    free_bufs(a, 5);
    free_bufs(b, 5);
    free_bufs(n2, 5);

    /* the cache: bounded, evicts the oldest; a batch is verified again once
     * evicted, never more often while cached */
    {
        sigil_env_peers *pc;
        REQUIRE(sigil_env_peers_new(&pc) == SIGIL_OK);
        REQUIRE(sigil_env_peers_add(pc, 1, id_pk[1]) == SIGIL_OK);
        size_t nb = SIGIL_ENV_BATCH_CACHE + 10;
        sigil_buf *o = calloc(nb, sizeof *o);
        REQUIRE(o != NULL);
        int ok = 1;
        for (size_t i = 0; i < nb; i++) {
            seal_batch(k1, "key-c", i, 1, &o[i]);
            if (open1(pc, 1, o[i].data, o[i].size, NULL, &body) != SIGIL_OK)
                ok = 0;
            size_t cached;
            sigil_env_peers_batch_stats(pc, &cached, NULL);
            if (cached > SIGIL_ENV_BATCH_CACHE || cached != (i + 1 < SIGIL_ENV_BATCH_CACHE ? i + 1 : SIGIL_ENV_BATCH_CACHE))
                ok = 0;
        }
        CHECK(ok);
        uint64_t v0, v1, v2;
        sigil_env_peers_batch_stats(pc, NULL, &v0);
        CHECK_EQ(v0, nb);
        CHECK_EQ(open1(pc, 1, o[nb - 1].data, o[nb - 1].size, NULL, &body), SIGIL_OK);
        sigil_env_peers_batch_stats(pc, NULL, &v1);
        CHECK_EQ(v1, v0); /* cached */
        CHECK_EQ(open1(pc, 1, o[0].data, o[0].size, NULL, &body), SIGIL_OK);
        sigil_env_peers_batch_stats(pc, NULL, &v2);
        CHECK_EQ(v2, v0 + 1); /* evicted, verified again */
        /* a cached batch with a flipped signature is not a cache hit */
        uint8_t *t = malloc(o[nb - 1].size);
        memcpy(t, o[nb - 1].data, o[nb - 1].size);
        t[o[nb - 1].size - 1] ^= 0x80;
        CHECK_EQ(open1(pc, 1, t, o[nb - 1].size, NULL, &body), SIGIL_E_SIGNATURE);
        free(t);
        free_bufs(o, nb);
        free(o);
        sigil_env_peers_free(pc);
    }

    sigil_buf_free(&body);
    sigil_env_key_free(k1);
    sigil_env_key_free(k2);
    sigil_env_peers_free(peers);
    return check_done();
}
