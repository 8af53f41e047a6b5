/* Helpers shared by the FROST/DKG unit tests: run every party of a DKG or a
 * signing session in one process, messages through their encodings. */
#ifndef SIGIL_TEST_FROST_UTIL_H
#define SIGIL_TEST_FROST_UTIL_H

#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "sigil/dkg.h"
#include "sigil/err.h"
#include "sigil/frost.h"

static const sigil_frost_suite all_suites[3] = {SIGIL_FROST_ED25519, SIGIL_FROST_SECP256K1, SIGIL_FROST_BIP340};

/* Random full-scalar identifiers. */
static inline void random_ids(const sigil_group *g, sigil_scalar *ids, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        REQUIRE(sigil_scalar_random(g, &ids[i]) == SIGIL_OK);
}

/* One DKG session's messages. */
typedef struct {
    uint32_t t, n;
    sigil_dkg **d;
    sigil_buf *r1, *sh, *conf; /* sh[from*n + to] */
} dkg_run;

static inline void dkg_run_init(dkg_run *r, sigil_frost_suite s, uint32_t t, uint32_t n, const sigil_scalar *ids)
{
    r->t = t;
    r->n = n;
    r->d = calloc(n, sizeof(*r->d));
    r->r1 = calloc(n, sizeof(*r->r1));
    r->conf = calloc(n, sizeof(*r->conf));
    r->sh = calloc((size_t)n * n, sizeof(*r->sh));
    REQUIRE(r->d && r->r1 && r->conf && r->sh);
    for (uint32_t i = 0; i < n; i++) {
        sigil_dkg_params p = {sigil_frost_group(s), sigil_frost_context(s), t, n, ids, i};
        REQUIRE(sigil_dkg_new(&p, &r->d[i]) == SIGIL_OK);
        REQUIRE(sigil_buf_init(&r->r1[i], 1 << 16, 0) == SIGIL_OK);
        REQUIRE(sigil_buf_init(&r->conf[i], 4096, 0) == SIGIL_OK);
        for (uint32_t j = 0; j < n; j++)
            REQUIRE(sigil_buf_init(&r->sh[(size_t)i * n + j], 256, SIGIL_BUF_SECRET) == SIGIL_OK);
    }
}

static inline void dkg_run_free(dkg_run *r)
{
    for (uint32_t i = 0; i < r->n; i++) {
        sigil_dkg_free(r->d[i]);
        sigil_buf_free(&r->r1[i]);
        sigil_buf_free(&r->conf[i]);
        for (uint32_t j = 0; j < r->n; j++)
            sigil_buf_free(&r->sh[(size_t)i * r->n + j]);
    }
    free(r->d);
    free(r->r1);
    free(r->conf);
    free(r->sh);
}

static inline void dkg_inbox(const dkg_run *r, uint32_t to, sigil_buf *inbox)
{
    for (uint32_t j = 0; j < r->n; j++)
        sigil_buf_view(&inbox[j], sigil_buf_ptr(&r->sh[(size_t)j * r->n + to]), sigil_buf_len(&r->sh[(size_t)j * r->n + to]));
}

/* The whole DKG, honest parties; key shares prepared for the suite. */
static inline void dkg_all(sigil_frost_suite s, uint32_t t, uint32_t n, const sigil_scalar *ids, sigil_keyshare *ks)
{
    dkg_run r;
    uint32_t culprit;
    sigil_buf *inbox = calloc(n, sizeof(*inbox));
    dkg_run_init(&r, s, t, n, ids);
    for (uint32_t i = 0; i < n; i++)
        REQUIRE(sigil_dkg_round1(r.d[i], NULL, NULL, &r.r1[i]) == SIGIL_OK);
    for (uint32_t i = 0; i < n; i++)
        REQUIRE(sigil_dkg_round2(r.d[i], r.r1, &r.sh[(size_t)i * n], &culprit) == SIGIL_OK);
    for (uint32_t i = 0; i < n; i++) {
        dkg_inbox(&r, i, inbox);
        REQUIRE(sigil_dkg_round3(r.d[i], inbox, &r.conf[i], &culprit) == SIGIL_OK);
    }
    for (uint32_t i = 0; i < n; i++) {
        REQUIRE(sigil_dkg_finish(r.d[i], r.conf, &ks[i], &culprit) == SIGIL_OK);
        REQUIRE(sigil_frost_prepare_key(s, &ks[i]) == SIGIL_OK);
    }
    dkg_run_free(&r);
    free(inbox);
}

/* Verification by the reference libraries (libsodium, libsecp256k1), or the
 * RFC 9591 verifier for FROST(secp256k1). */
static inline int reference_verify(sigil_frost_suite s, const uint8_t *pk, const uint8_t *msg, size_t len,
                                   const uint8_t *sig)
{
    if (s == SIGIL_FROST_ED25519)
        return crypto_sign_verify_detached(sig, msg, len, pk) == 0;
    if (s == SIGIL_FROST_BIP340) {
        secp256k1_context *ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
        secp256k1_xonly_pubkey x;
        int ok = secp256k1_xonly_pubkey_parse(ctx, &x, pk) && secp256k1_schnorrsig_verify(ctx, sig, msg, len, &x);
        secp256k1_context_destroy(ctx);
        return ok;
    }
    return sigil_frost_verify(s, pk, 33, msg, len, sig, 65) == SIGIL_OK;
}

#endif
