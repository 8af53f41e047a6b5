/* Test harness for DKLs23 ECDSA: runs every party of the setup, presign
 * and online rounds in one process, routing envelopes between them, with
 * a hook to tamper with any message in flight. Shared by the test_ecdsa*
 * programs (header-only so each test stays one translation unit). */
#ifndef SIGIL_TEST_ECDSA_HARNESS_H
#define SIGIL_TEST_ECDSA_HARNESS_H

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <string.h>

#include "check.h"
#include "sigil/ecdsa.h"
#include "sigil/err.h"
#include "sigil/group.h"

#define HN SIGIL_ECDSA_MAX_PARTIES
#define HMAX (512u * 1024u)

/* Tamper hook: called with every message before delivery (round tag =
 * envelope type); may modify b (a writable copy). */
typedef void (*tamper_fn)(int type, uint16_t from, uint16_t to, sigil_buf *b, void *arg);

/* index of id among ids without self */
static size_t peer_index(const uint16_t *ids, size_t count, uint16_t self, uint16_t id)
{
    size_t k = 0;
    for (size_t m = 0; m < count; m++) {
        if (ids[m] == self)
            continue;
        if (ids[m] == id)
            return k;
        k++;
    }
    REQUIRE(0);
    return 0;
}

/* msgs[a][k]: message from ids[a] to its k-th peer. Deliver into
 * in[b][k']: message to ids[b] from its k'-th peer; tamper on the way. */
static void route(sigil_buf out[HN][HN], sigil_buf in[HN][HN], const uint16_t *ids, size_t count,
                  int type, tamper_fn tf, void *arg)
{
    for (size_t a = 0; a < count; a++) {
        size_t k = 0;
        for (size_t b = 0; b < count; b++) {
            if (b == a)
                continue;
            size_t kk = peer_index(ids, count, ids[b], ids[a]);
            sigil_buf_free(&in[b][kk]);
            REQUIRE(sigil_buf_init(&in[b][kk], HMAX, 0) == SIGIL_OK);
            REQUIRE(sigil_buf_put(&in[b][kk], out[a][k].data, out[a][k].size) == SIGIL_OK);
            if (tf)
                tf(type, ids[a], ids[b], &in[b][kk], arg);
            k++;
        }
    }
}

static void bufs_init(sigil_buf m[HN][HN], size_t count)
{
    for (size_t a = 0; a < count; a++)
        for (size_t k = 0; k < count; k++)
            REQUIRE(sigil_buf_init(&m[a][k], HMAX, 0) == SIGIL_OK);
}

static void bufs_free(sigil_buf m[HN][HN], size_t count)
{
    for (size_t a = 0; a < count; a++)
        for (size_t k = 0; k < count; k++)
            sigil_buf_free(&m[a][k]);
}

static void bufs_reset(sigil_buf m[HN][HN], size_t count)
{
    for (size_t a = 0; a < count; a++)
        for (size_t k = 0; k < count; k++)
            sigil_buf_reset(&m[a][k]);
}

/* Run the pairwise setup for keyshares ks[0..n-1]. Returns the first error
 * (and its reporting party / culprit); shares[] filled on success. */
__attribute__((unused)) static int run_setup(sigil_ecdsa_keyshare **ks, unsigned n, sigil_ecdsa_share **shares,
                     tamper_fn tf, void *arg, uint16_t *reporter, uint16_t *culprit)
{
    static sigil_buf out[HN][HN], in[HN][HN];
    sigil_ecdsa_setup *st[HN] = {0};
    uint16_t ids[HN] = {0};
    uint8_t sid[32];
    int rc = SIGIL_OK;
    randombytes_buf(sid, sizeof sid);
    for (unsigned i = 0; i < n; i++)
        ids[i] = (uint16_t)(i + 1);
    bufs_init(out, n);
    bufs_init(in, n);
    *reporter = *culprit = 0;
    for (unsigned i = 0; i < n; i++)
        REQUIRE(sigil_ecdsa_setup_new(&st[i], ks[i], sid) == SIGIL_OK);
    for (unsigned i = 0; i < n && rc == SIGIL_OK; i++)
        rc = sigil_ecdsa_setup_round1(st[i], out[i]);
    if (rc == SIGIL_OK)
        route(out, in, ids, n, SIGIL_ECDSA_MSG_SETUP1, tf, arg);
    bufs_reset(out, n);
    for (unsigned i = 0; i < n && rc == SIGIL_OK; i++)
        if ((rc = sigil_ecdsa_setup_round2(st[i], in[i], out[i], culprit)) != SIGIL_OK)
            *reporter = ids[i];
    if (rc == SIGIL_OK)
        route(out, in, ids, n, SIGIL_ECDSA_MSG_SETUP2, tf, arg);
    bufs_reset(out, n);
    for (unsigned i = 0; i < n && rc == SIGIL_OK; i++)
        if ((rc = sigil_ecdsa_setup_round3(st[i], in[i], out[i], culprit)) != SIGIL_OK)
            *reporter = ids[i];
    if (rc == SIGIL_OK)
        route(out, in, ids, n, SIGIL_ECDSA_MSG_SETUP3, tf, arg);
    for (unsigned i = 0; i < n && rc == SIGIL_OK; i++)
        if ((rc = sigil_ecdsa_setup_finish(st[i], in[i], &shares[i], culprit)) != SIGIL_OK)
            *reporter = ids[i];
    for (unsigned i = 0; i < n; i++)
        sigil_ecdsa_setup_free(st[i]);
    bufs_free(out, n);
    bufs_free(in, n);
    return rc;
}

/* Presign among signers (ids, sorted) using shares indexed by id-1. */
__attribute__((unused)) static int run_presign(sigil_ecdsa_share **shares, const uint16_t *ids, size_t count,
                       const uint8_t sid[32], sigil_ecdsa_presig **ps, tamper_fn tf, void *arg,
                       uint16_t *reporter, uint16_t *culprit)
{
    static sigil_buf out[HN][HN], in[HN][HN];
    sigil_ecdsa_presign *st[HN] = {0};
    int rc = SIGIL_OK;
    bufs_init(out, count);
    bufs_init(in, count);
    *reporter = *culprit = 0;
    for (size_t i = 0; i < count; i++) {
        ps[i] = NULL;
        REQUIRE(sigil_ecdsa_presign_new(&st[i], shares[ids[i] - 1], sid, ids, count) == SIGIL_OK);
    }
    for (size_t i = 0; i < count && rc == SIGIL_OK; i++)
        if ((rc = sigil_ecdsa_presign_round1(st[i], out[i])) != SIGIL_OK)
            *reporter = ids[i];
    if (rc == SIGIL_OK)
        route(out, in, ids, count, SIGIL_ECDSA_MSG_PRESIGN1, tf, arg);
    bufs_reset(out, count);
    for (size_t i = 0; i < count && rc == SIGIL_OK; i++)
        if ((rc = sigil_ecdsa_presign_round2(st[i], in[i], out[i], culprit)) != SIGIL_OK)
            *reporter = ids[i];
    if (rc == SIGIL_OK)
        route(out, in, ids, count, SIGIL_ECDSA_MSG_PRESIGN2, tf, arg);
    for (size_t i = 0; i < count && rc == SIGIL_OK; i++)
        if ((rc = sigil_ecdsa_presign_finish(st[i], in[i], &ps[i], culprit)) != SIGIL_OK)
            *reporter = ids[i];
    for (size_t i = 0; i < count; i++)
        sigil_ecdsa_presign_free(st[i]);
    if (rc != SIGIL_OK)
        for (size_t i = 0; i < count; i++) {
            sigil_ecdsa_presig_free(ps[i]);
            ps[i] = NULL;
        }
    bufs_free(out, count);
    bufs_free(in, count);
    return rc;
}

/* Online round + combine (by the first signer). */
__attribute__((unused)) static int run_sign(sigil_ecdsa_presig **ps, size_t count, const uint8_t digest[32], uint8_t sig[64],
                    int *recid, tamper_fn tf, void *arg, uint16_t *culprit)
{
    static sigil_buf msgs[HN];
    static sigil_ecdsa_combiner comb[HN];
    int rc = SIGIL_OK;
    for (size_t i = 0; i < count; i++) {
        REQUIRE(sigil_buf_init(&msgs[i], HMAX, 0) == SIGIL_OK);
        REQUIRE(sigil_ecdsa_sign_share(ps[i], digest, &msgs[i], &comb[i]) == SIGIL_OK);
        if (tf)
            tf(SIGIL_ECDSA_MSG_SIGN, comb[i].signers[i], 0, &msgs[i], arg);
    }
    rc = sigil_ecdsa_combine(&comb[0], msgs, sig, recid, culprit);
    for (size_t i = 0; i < count; i++)
        sigil_buf_free(&msgs[i]);
    return rc;
}

/* Independent check with OpenSSL (EVP, DER signature over the raw digest). */
__attribute__((unused)) static int openssl_verify(const uint8_t pub[33], const uint8_t digest[32], const uint8_t sig[64])
{
    static const uint8_t spki_prefix[] = {0x30, 0x36, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48,
                                          0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b, 0x81, 0x04,
                                          0x00, 0x0a, 0x03, 0x22, 0x00};
    uint8_t spki[sizeof spki_prefix + 33];
    memcpy(spki, spki_prefix, sizeof spki_prefix);
    memcpy(spki + sizeof spki_prefix, pub, 33);
    const uint8_t *p = spki;
    EVP_PKEY *pk = d2i_PUBKEY(NULL, &p, sizeof spki);
    if (pk == NULL)
        return 0;
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
    ECDSA_SIG_set0(es, r, s);
    uint8_t *der = NULL;
    int derlen = i2d_ECDSA_SIG(es, &der);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pk, NULL);
    int ok = ctx && derlen > 0 && EVP_PKEY_verify_init(ctx) == 1 &&
             EVP_PKEY_verify(ctx, der, (size_t)derlen, digest, 32) == 1;
    EVP_PKEY_CTX_free(ctx);
    OPENSSL_free(der);
    ECDSA_SIG_free(es);
    EVP_PKEY_free(pk);
    return ok;
}

#endif
