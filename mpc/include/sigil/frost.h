/* FROST threshold Schnorr signatures (RFC 9591) over key shares from
 * sigil/dkg.h, for three suites:
 *
 *   SIGIL_FROST_ED25519    FROST(Ed25519, SHA-512), context
 *                          "FROST-ED25519-SHA512-v1"; public key 32 bytes,
 *                          signature 64 bytes (RFC 8032, verifies with
 *                          libsodium crypto_sign_verify_detached).
 *   SIGIL_FROST_SECP256K1  FROST(secp256k1, SHA-256), context
 *                          "FROST-secp256k1-SHA256-v1"; public key 33 bytes
 *                          compressed, signature 65 bytes (R || z).
 *   SIGIL_FROST_BIP340     FROST(secp256k1, SHA-256) with BIP-340
 *                          conventions, context
 *                          "FROST-secp256k1-SHA256-TR-v1": the group key
 *                          has even y (sigil_frost_prepare_key negates the
 *                          shares of an odd key), signers negate their
 *                          nonces when R has odd y, the challenge is the
 *                          BIP0340/challenge tagged hash of x(R) || x(PK)
 *                          || msg; public key 32 bytes x-only, signature
 *                          64 bytes (verifies with secp256k1_schnorrsig_verify).
 *                          No BIP-341 taproot tweak is applied.
 *
 * Flow (sans-I/O; every message is an explicit encoding):
 *   signer:      sigil_frost_commit -> commitment  (round 1)
 *   everyone:    sigil_frost_package_new(message, commitments)
 *                (signers: sigil_frost_package_for_signer, which is faster)
 *   signer:      sigil_frost_sign(nonce, package) -> signature share (round 2)
 *   coordinator: sigil_frost_aggregate(package, shares) -> signature
 *                (or sigil_frost_aggregate_with_r(commitments, shares, R
 *                reported by a signer), which skips the package)
 *
 *   commitment = id (32) || D (hiding) || E (binding)
 *   share      = id (32) || z_i (32)
 *
 * Nonces are single-use objects in secure memory: sigil_frost_sign
 * consumes (zeroizes) the nonce on every call, and any later call with it
 * returns SIGIL_E_USED. aggregate sums the shares first and verifies the
 * signature against the group key; only if that fails does it verify each
 * share, returning SIGIL_E_SIG_SHARE with *culprit = the cheater's index
 * in the key's identifier list. No signature is returned unverified. */
#ifndef SIGIL_FROST_H
#define SIGIL_FROST_H

#include <stddef.h>
#include <stdint.h>

#include "sigil/buf.h"
#include "sigil/dkg.h"
#include "sigil/group.h"

typedef enum {
    SIGIL_FROST_ED25519 = 1,
    SIGIL_FROST_SECP256K1 = 2,
    SIGIL_FROST_BIP340 = 3,
} sigil_frost_suite;

#define SIGIL_FROST_SIG_MAX 65
#define SIGIL_FROST_PK_MAX 33

/* NULL/0 for an unknown suite. */
const sigil_group *sigil_frost_group(sigil_frost_suite s);
const char *sigil_frost_context(sigil_frost_suite s);
/* "frost-ed25519", "frost-secp256k1", "frost-bip340" */
const char *sigil_frost_name(sigil_frost_suite s);
size_t sigil_frost_pk_len(sigil_frost_suite s);
size_t sigil_frost_sig_len(sigil_frost_suite s);

/* Make a key share (from DKG or a dealer split) ready for this suite:
 * checks the group; for BIP-340 negates it if the group key has odd y.
 * Idempotent. */
int sigil_frost_prepare_key(sigil_frost_suite s, sigil_keyshare *k);
/* The encoded group public key (sigil_frost_pk_len bytes). */
int sigil_frost_public_key(sigil_frost_suite s, const sigil_keyshare *k, uint8_t *out);

typedef struct sigil_frost_nonce sigil_frost_nonce;

/* Round 1. Generates the hiding and binding nonces per RFC 9591
 * (H3(32 bytes from libsodium's CSPRNG || secret share)), appends the
 * commitment to out, and returns the single-use nonce object in *nonce.
 * There is deliberately no way to supply the randomness here: the
 * known-answer entry point for test vectors is in sigil/kat.h. */
int sigil_frost_commit(sigil_frost_suite s, const sigil_keyshare *k, sigil_frost_nonce **nonce,
                       sigil_buf *out);
/* Zeroize and free; NULL is fine. */
void sigil_frost_nonce_free(sigil_frost_nonce *n);

typedef struct sigil_frost_package sigil_frost_package;

/* Parse the commitments (k encodings, any order) for message msg, check
 * that the signers are distinct members of the key's identifier list and
 * number between t and n (SIGIL_E_PARTICIPANT, SIGIL_E_THRESHOLD), then
 * compute the binding factors, the group commitment R and the challenge,
 * once. k only needs the public part of a key share. */
int sigil_frost_package_new(sigil_frost_suite s, const sigil_keyshare *k, const uint8_t *msg,
                            size_t msglen, const sigil_buf *commitments, size_t count,
                            sigil_frost_package **out);
/* The same package, built by a signer that holds nonce (unused, from
 * sigil_frost_commit with key k): its own commitment in the list must be
 * byte-for-byte the nonce's (SIGIL_E_MISMATCH otherwise; SIGIL_E_PARTICIPANT
 * if absent) and is not decoded again, and D + rho*E for it is computed as
 * (d + rho*e)*G. Faster; the result is identical. The nonce is not consumed. */
int sigil_frost_package_for_signer(sigil_frost_suite s, const sigil_keyshare *k, const sigil_frost_nonce *nonce,
                                   const uint8_t *msg, size_t msglen, const sigil_buf *commitments,
                                   size_t count, sigil_frost_package **out);
void sigil_frost_package_free(sigil_frost_package *p);
/* For test-vector runners: number of signers; signer i's (sorted by
 * identifier) identifier, binding-factor input (appended to out) and binding
 * factor; the group commitment. */
size_t sigil_frost_package_count(const sigil_frost_package *p);
int sigil_frost_package_signer(const sigil_frost_package *p, size_t i, sigil_scalar *id,
                               sigil_buf *rho_input, sigil_scalar *rho);

/* Round 2: the signature share for package p (appended to out). Consumes
 * the nonce whatever the outcome (SIGIL_E_USED if already consumed).
 * SIGIL_E_PARTICIPANT if k's owner is not a signer of p, SIGIL_E_MISMATCH
 * if p was built for another group key or p's commitment for k's owner is
 * not this nonce's. */
int sigil_frost_sign(sigil_frost_suite s, const sigil_keyshare *k, sigil_frost_nonce *nonce,
                     const sigil_frost_package *p, sigil_buf *out);

/* Aggregate count shares (any order, exactly the package's signers) into a
 * signature of sigil_frost_sig_len bytes, verified against the group key. */
int sigil_frost_aggregate(sigil_frost_suite s, const sigil_keyshare *k, const sigil_frost_package *p,
                          const sigil_buf *shares, size_t count, uint8_t *sig, uint32_t *culprit);

/* The group commitment R the package computed, as the group's element
 * encoding (Ed25519: 32 bytes; secp256k1 and BIP-340: 33 bytes compressed,
 * the full R before any BIP-340 even-y negation) into out (room for
 * SIGIL_POINT_MAX_LEN bytes), its length into *len. A signer reports it with
 * its share so that the coordinator can use sigil_frost_aggregate_with_r.
 * SIGIL_E_INVALID for NULL arguments. */
int sigil_frost_package_group_commitment(const sigil_frost_package *p, uint8_t *out, size_t *len);

/* Aggregate without building the package first, using the group commitment
 * R (r, rlen bytes) that a signer reported. Same contract as
 * sigil_frost_package_new(k, msg, commitments) followed by
 * sigil_frost_aggregate(shares): shares in any order, exactly the
 * commitments' signers; the signature is verified against the group key
 * before it is returned.
 *
 * Fast path: the commitments' identifiers are decoded and checked (distinct
 * members of the key, t..n of them, each commitment of the exact length),
 * the shares' (canonical scalars, one per signer of that set), z = sum z_i,
 * and the signature (R, z) is verified against the group key with the
 * suite's verifier (libsodium, the RFC 9591 equation, libsecp256k1). If any
 * of that fails, or r is NULL or malformed, the full package is built and
 * sigil_frost_aggregate runs, which returns the same errors and names the
 * cheating signer in *culprit. A wrong R therefore costs time, never the
 * result: a reported R other than the package's cannot verify with the
 * honest signers' shares (their challenge is bound to the true R).
 *
 * Difference from the normal path, by design: the commitments' points are
 * not decoded on the fast path, so if every signer of the set sends
 * malformed commitments and still produces shares that form a valid
 * signature (a full signing quorum colluding), that valid signature is
 * returned where the normal path would refuse the commitments. */
int sigil_frost_aggregate_with_r(sigil_frost_suite s, const sigil_keyshare *k, const uint8_t *msg, size_t msglen,
                                 const sigil_buf *commitments, size_t count, const sigil_buf *shares,
                                 const uint8_t *r, size_t rlen, uint8_t *sig, uint32_t *culprit);

/* Verify a signature under an encoded group public key:
 *   Ed25519: libsodium crypto_sign_verify_detached;
 *   secp256k1: RFC 9591 verify (z*G == R + c*PK, c = H2(R || PK || msg));
 *   BIP-340: libsecp256k1 secp256k1_schnorrsig_verify.
 * SIGIL_OK or SIGIL_E_SIGNATURE (wrong lengths: SIGIL_E_ENCODING). */
int sigil_frost_verify(sigil_frost_suite s, const uint8_t *pk, size_t pklen, const uint8_t *msg,
                       size_t msglen, const uint8_t *sig, size_t siglen);

#endif
