/* Plain ECDSA verification and public-key recovery on secp256k1, on top of
 * libsecp256k1. Public data only: nothing here is secret. */
#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <string.h>

#include "sigil/ecdsa.h"
#include "sigil/err.h"

static const uint8_t ORDER[32] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
    0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};

/* 1 if the big-endian 32-byte a is in [1, n-1]. Public data: not CT. */
static int in_range(const uint8_t a[32])
{
    int nz = 0;
    for (int i = 0; i < 32; i++)
        nz |= a[i];
    if (!nz)
        return 0;
    return memcmp(a, ORDER, 32) < 0;
}

static int verify_parsed(const uint8_t *pub, size_t publen, const uint8_t digest[32],
                         secp256k1_ecdsa_signature *s, unsigned flags)
{
    const secp256k1_context *ctx = secp256k1_context_static;
    /* Parsing a compressed key costs a square root, as much as a fifth of
     * a verification; a coordinator verifies thousands of signatures under
     * one key. The last key parsed on this thread is kept (public data). */
    static _Thread_local uint8_t last_pub[65];
    static _Thread_local size_t last_len;
    static _Thread_local secp256k1_pubkey last_pk;
    secp256k1_pubkey pk;
    if (pub == NULL || digest == NULL || (publen != 33 && publen != 65))
        return SIGIL_E_INVALID;
    if (publen == last_len && memcmp(pub, last_pub, publen) == 0) {
        pk = last_pk;
    } else {
        if (!secp256k1_ec_pubkey_parse(ctx, &pk, pub, publen))
            return SIGIL_E_POINT;
        memcpy(last_pub, pub, publen);
        last_len = publen;
        last_pk = pk;
    }
    if (flags & SIGIL_ECDSA_ALLOW_HIGH_S)
        secp256k1_ecdsa_signature_normalize(ctx, s, s);
    /* secp256k1_ecdsa_verify rejects high-s (it returns 0 for any s > n/2). */
    if (!secp256k1_ecdsa_verify(ctx, s, digest, &pk))
        return SIGIL_E_SIGNATURE;
    return SIGIL_OK;
}

int sigil_ecdsa_verify(const uint8_t *pub, size_t publen, const uint8_t digest[32],
                       const uint8_t sig[64], unsigned flags)
{
    secp256k1_ecdsa_signature s;
    if (sig == NULL || (flags & ~(unsigned)SIGIL_ECDSA_ALLOW_HIGH_S))
        return SIGIL_E_INVALID;
    if (!in_range(sig) || !in_range(sig + 32))
        return SIGIL_E_ENCODING;
    if (!secp256k1_ecdsa_signature_parse_compact(secp256k1_context_static, &s, sig))
        return SIGIL_E_ENCODING;
    return verify_parsed(pub, publen, digest, &s, flags);
}

int sigil_ecdsa_verify_der(const uint8_t *pub, size_t publen, const uint8_t digest[32],
                           const uint8_t *der, size_t derlen, unsigned flags)
{
    secp256k1_ecdsa_signature s;
    uint8_t c[64];
    if ((der == NULL && derlen) || (flags & ~(unsigned)SIGIL_ECDSA_ALLOW_HIGH_S))
        return SIGIL_E_INVALID;
    if (!secp256k1_ecdsa_signature_parse_der(secp256k1_context_static, &s, der, derlen))
        return SIGIL_E_ENCODING;
    /* The DER parser accepts integers >= n and stores them as zero; such a
     * signature can never verify, report it as a verification failure. */
    secp256k1_ecdsa_signature_serialize_compact(secp256k1_context_static, c, &s);
    if (!in_range(c) || !in_range(c + 32))
        return SIGIL_E_SIGNATURE;
    return verify_parsed(pub, publen, digest, &s, flags);
}

int sigil_ecdsa_recover(uint8_t pub33[33], const uint8_t digest[32], const uint8_t sig[64],
                        int recid)
{
    const secp256k1_context *ctx = secp256k1_context_static;
    secp256k1_ecdsa_recoverable_signature rs;
    secp256k1_pubkey pk;
    size_t len = 33;
    if (pub33 == NULL || digest == NULL || sig == NULL || recid < 0 || recid > 3)
        return SIGIL_E_INVALID;
    if (!in_range(sig) || !in_range(sig + 32))
        return SIGIL_E_ENCODING;
    if (!secp256k1_ecdsa_recoverable_signature_parse_compact(ctx, &rs, sig, recid))
        return SIGIL_E_ENCODING;
    if (!secp256k1_ecdsa_recover(ctx, &pk, &rs, digest))
        return SIGIL_E_SIGNATURE;
    secp256k1_ec_pubkey_serialize(ctx, pub33, &len, &pk, SECP256K1_EC_COMPRESSED);
    return SIGIL_OK;
}
