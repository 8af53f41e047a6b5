/* RFC 6962 / RFC 9162 Merkle tree: hashing, compact range, proofs. */
#include <sodium.h>
#include <string.h>

#include "sigil/audit.h"
#include "sigil/err.h"

void sigil_audit_leaf_hash(const uint8_t *data, size_t n, uint8_t out[32])
{
    crypto_hash_sha256_state st;
    static const uint8_t zero = 0x00;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &zero, 1);
    if (n)
        crypto_hash_sha256_update(&st, data, n);
    crypto_hash_sha256_final(&st, out);
}

void sigil_audit_node_hash(const uint8_t l[32], const uint8_t r[32], uint8_t out[32])
{
    uint8_t t[65];
    t[0] = 0x01;
    memcpy(t + 1, l, 32);
    memcpy(t + 33, r, 32);
    crypto_hash_sha256(out, t, sizeof(t));
}

void sigil_audit_compact_init(sigil_audit_compact *c)
{
    memset(c, 0, sizeof(*c));
}

void sigil_audit_compact_append(sigil_audit_compact *c, const uint8_t leaf[32])
{
    uint8_t cur[32];
    memcpy(cur, leaf, 32);
    /* Each trailing 1 bit of size is a perfect subtree of the same height
     * as cur: merge them, smallest first. */
    for (uint64_t s = c->size; s & 1; s >>= 1)
        sigil_audit_node_hash(c->h[--c->n], cur, cur);
    memcpy(c->h[c->n++], cur, 32);
    c->size++;
}

void sigil_audit_compact_root(const sigil_audit_compact *c, uint8_t out[32])
{
    if (c->n == 0) {
        crypto_hash_sha256(out, (const uint8_t *)"", 0);
        return;
    }
    uint8_t r[32];
    memcpy(r, c->h[c->n - 1], 32);
    for (unsigned i = c->n - 1; i-- > 0;)
        sigil_audit_node_hash(c->h[i], r, r);
    memcpy(out, r, 32);
}

/* Largest power of two strictly below n (n >= 2). */
static uint64_t split(uint64_t n)
{
    uint64_t k = 1;
    while (k << 1 < n)
        k <<= 1;
    return k;
}

static void mth(const uint8_t (*d)[32], uint64_t n, uint8_t out[32])
{
    if (n == 1) {
        memcpy(out, d[0], 32);
        return;
    }
    uint64_t k = split(n);
    uint8_t l[32], r[32];
    mth(d, k, l);
    mth(d + k, n - k, r);
    sigil_audit_node_hash(l, r, out);
}

void sigil_audit_tree_root(const uint8_t (*leaves)[32], uint64_t n, uint8_t out[32])
{
    if (n == 0)
        crypto_hash_sha256(out, (const uint8_t *)"", 0);
    else
        mth(leaves, n, out);
}

static void path(const uint8_t (*d)[32], uint64_t n, uint64_t m, uint8_t proof[][32], size_t *np)
{
    if (n <= 1)
        return;
    uint64_t k = split(n);
    if (m < k) {
        path(d, k, m, proof, np);
        mth(d + k, n - k, proof[(*np)++]);
    } else {
        path(d + k, n - k, m - k, proof, np);
        mth(d, k, proof[(*np)++]);
    }
}

int sigil_audit_prove_inclusion(const uint8_t (*leaves)[32], uint64_t size, uint64_t idx,
                                uint8_t proof[][32], size_t *n_proof)
{
    if (leaves == NULL || proof == NULL || n_proof == NULL || idx >= size)
        return SIGIL_E_INVALID;
    *n_proof = 0;
    path(leaves, size, idx, proof, n_proof);
    return SIGIL_OK;
}

static void subproof(const uint8_t (*d)[32], uint64_t n, uint64_t m, int b, uint8_t proof[][32],
                     size_t *np)
{
    if (m == n) {
        if (!b)
            mth(d, n, proof[(*np)++]);
        return;
    }
    uint64_t k = split(n);
    if (m <= k) {
        subproof(d, k, m, b, proof, np);
        mth(d + k, n - k, proof[(*np)++]);
    } else {
        subproof(d + k, n - k, m - k, 0, proof, np);
        mth(d, k, proof[(*np)++]);
    }
}

int sigil_audit_prove_consistency(const uint8_t (*leaves)[32], uint64_t size1,
                                  uint64_t size2, uint8_t proof[][32], size_t *n_proof)
{
    if (leaves == NULL || proof == NULL || n_proof == NULL || size1 == 0 || size1 > size2)
        return SIGIL_E_INVALID;
    *n_proof = 0;
    if (size1 < size2)
        subproof(leaves, size2, size1, 1, proof, n_proof);
    return SIGIL_OK;
}

int sigil_audit_verify_inclusion(uint64_t idx, uint64_t size,
                                 const uint8_t *leaf, size_t leaf_len,
                                 const uint8_t *const *proof, const size_t *proof_lens,
                                 size_t n_proof, const uint8_t *root, size_t root_len)
{
    if (size == 0 || idx >= size)
        return SIGIL_E_INVALID;
    if (leaf == NULL || leaf_len != 32 || root == NULL || root_len != 32)
        return SIGIL_E_ENCODING;
    if (n_proof > SIGIL_AUDIT_MAX_PROOF || (n_proof && (proof == NULL || proof_lens == NULL)))
        return SIGIL_E_PROOF;
    for (size_t i = 0; i < n_proof; i++)
        if (proof[i] == NULL || proof_lens[i] != 32)
            return SIGIL_E_ENCODING;
    uint64_t fn = idx, sn = size - 1;
    uint8_t r[32];
    memcpy(r, leaf, 32);
    for (size_t i = 0; i < n_proof; i++) {
        if (sn == 0)
            return SIGIL_E_PROOF; /* proof longer than the path */
        if ((fn & 1) || fn == sn) {
            sigil_audit_node_hash(proof[i], r, r);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            sigil_audit_node_hash(r, proof[i], r);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0)
        return SIGIL_E_PROOF; /* proof shorter than the path */
    return sigil_memeq(r, root, 32) ? SIGIL_OK : SIGIL_E_MISMATCH;
}

int sigil_audit_verify_consistency(uint64_t size1, uint64_t size2,
                                   const uint8_t *root1, size_t root1_len,
                                   const uint8_t *root2, size_t root2_len,
                                   const uint8_t *const *proof, const size_t *proof_lens,
                                   size_t n_proof)
{
    if (size1 == 0 || size1 > size2)
        return SIGIL_E_INVALID;
    if (n_proof > SIGIL_AUDIT_MAX_PROOF || (n_proof && (proof == NULL || proof_lens == NULL)))
        return SIGIL_E_PROOF;
    if (size1 == size2) {
        if (n_proof != 0)
            return SIGIL_E_PROOF;
        if (root1 == NULL || root2 == NULL || root1_len != root2_len)
            return SIGIL_E_MISMATCH;
        return (root1_len > 0 && sigil_memeq(root1, root2, root1_len)) ? SIGIL_OK
                                                                      : SIGIL_E_MISMATCH;
    }
    if (root1 == NULL || root1_len != 32 || root2 == NULL || root2_len != 32)
        return SIGIL_E_ENCODING;
    for (size_t i = 0; i < n_proof; i++)
        if (proof[i] == NULL || proof_lens[i] != 32)
            return SIGIL_E_ENCODING;
    if (n_proof == 0)
        return SIGIL_E_PROOF;
    /* If size1 is a power of two, the old root is itself the first node of
     * the path and is not repeated in the proof. */
    size_t i = 0;
    const uint8_t *first;
    if ((size1 & (size1 - 1)) == 0) {
        first = root1;
    } else {
        first = proof[0];
        i = 1;
    }
    uint64_t fn = size1 - 1, sn = size2 - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    uint8_t fr[32], sr[32];
    memcpy(fr, first, 32);
    memcpy(sr, first, 32);
    for (; i < n_proof; i++) {
        if (sn == 0)
            return SIGIL_E_PROOF;
        if ((fn & 1) || fn == sn) {
            sigil_audit_node_hash(proof[i], fr, fr);
            sigil_audit_node_hash(proof[i], sr, sr);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            sigil_audit_node_hash(sr, proof[i], sr);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0)
        return SIGIL_E_PROOF;
    if (!sigil_memeq(fr, root1, 32) || !sigil_memeq(sr, root2, 32))
        return SIGIL_E_MISMATCH;
    return SIGIL_OK;
}
