/* sigil_envelope: trusted-dealer DEALINGS for importing an existing key.
 *
 * sigil-ceremony splits the key (Shamir, degree t-1, Feldman commitments
 * C_0 = s*G, C_j = a_j*G) inside its own process and sends one dealing per
 * node, relayed by the untrusted coordinator in the node's IMPORT
 * StartSession (inbound envelope with header: session id, round 0, from 0,
 * to = node, kind DATA). A dealing is
 *
 *   body = "SGDL" | u8 version=1 | string officer | u16 scheme |
 *          string key_id | u32 t | u32 n | n x u32 party (ascending) |
 *          string public_key | t x point C_j (group encoding) | u32 to |
 *          string sealed
 *   payload = body | 64 sig
 *   sealed = crypto_box_seal("SGDS" | 32 session id | u32 to | 32 share,
 *                            box key of node `to`'s envelope certificate)
 *   sig = Ed25519 by officer `officer` (in the officer's token) over
 *         "sigil.v1.import-dealing\0" | 32 session id | body
 *
 * So the share is encrypted to the recipient node (the coordinator cannot
 * read it), the dealing is signed by a configured officer (the coordinator
 * cannot forge or alter one), and bound to the session, key, scheme,
 * parties and recipient. A node also checks its share against the
 * commitments (Feldman: share*G == sum_j id^j C_j) and C_0 against the
 * public key the k-of-m officers approved; every node's confirmation
 * carries a hash of the commitments, so nodes that were shown different
 * polynomials do not agree and the key is not registered.
 *
 * Scheme values as sigil/envelope.h (1 Ed25519, 2 secp256k1, 3 BIP-340,
 * 4 ECDSA); public_key in KeyInfo form (32 / 33 / 32 x-only / 33). */
#ifndef SIGIL_DEALING_H
#define SIGIL_DEALING_H

#include <stddef.h>
#include <stdint.h>

#include "sigil/buf.h"
#include "sigil/envelope.h"
#include "sigil/group.h"

#define SIGIL_DEALING_VERSION 1
#define SIGIL_DEALING_MAX_PARTIES 64
#define SIGIL_DEALING_OFFICER_MAX 64
#define SIGIL_DEALING_SHARE_PLAIN (4 + 32 + 4 + 32)
#define SIGIL_DEALING_SEALED_LEN (SIGIL_DEALING_SHARE_PLAIN + 48) /* + crypto_box_SEALBYTES */
#define SIGIL_DEALING_MAX (16384)

typedef struct {
    char officer[SIGIL_DEALING_OFFICER_MAX + 1];
    uint16_t scheme;
    char key_id[SIGIL_ENV_KEY_ID_MAX + 1];
    uint32_t t, n;
    uint32_t parties[SIGIL_DEALING_MAX_PARTIES];
    uint8_t public_key[65];
    size_t public_key_len;
    sigil_point commitments[SIGIL_DEALING_MAX_PARTIES]; /* t, decoded */
    uint32_t to;
    uint8_t sealed[SIGIL_DEALING_SEALED_LEN];
    /* after decode: views into the decoded payload */
    const uint8_t *body;
    size_t body_len;
    const uint8_t *sig;
} sigil_dealing;

/* The group a scheme's key lives in (Ed25519 for 1, secp256k1 for 2..4), or
 * NULL for an unknown scheme. */
const sigil_group *sigil_dealing_group(uint16_t scheme);

/* Encrypt share (32 bytes, the group's scalar encoding) for node `to` of
 * session sid to box_pk into d->sealed (d->to is set too). */
int sigil_dealing_seal_share(sigil_dealing *d, const uint8_t sid[32], uint32_t to,
                             const uint8_t share[32], const uint8_t box_pk[32]);

/* Append the body (everything but the signature) to out. Checks the
 * fields (SIGIL_E_INVALID / SIGIL_E_THRESHOLD / SIGIL_E_PARTICIPANT). */
int sigil_dealing_body(const sigil_dealing *d, sigil_buf *out);

/* Append what the officer signs ("sigil.v1.import-dealing\0" | sid | body). */
int sigil_dealing_sign_message(const uint8_t sid[32], const uint8_t *body, size_t n,
                               sigil_buf *out);

/* Decode a payload (body | sig) with sigil_buf: every field bounded and
 * checked (SIGIL_E_TRUNCATED / _TRAILING / _VERSION / _ENCODING / _POINT /
 * _THRESHOLD / _PARTICIPANT). d->body / d->sig point into p. */
int sigil_dealing_decode(sigil_dealing *d, const uint8_t *p, size_t n);

/* Check the officer's signature over (sid, body) with officer_pk
 * (SIGIL_E_SIGNATURE). */
int sigil_dealing_verify(const sigil_dealing *d, const uint8_t sid[32], const uint8_t officer_pk[32]);

/* Decrypt the share with the recipient's envelope key and check it names
 * sid and d->to (SIGIL_E_UNSEAL, SIGIL_E_SESSION, SIGIL_E_PARTICIPANT,
 * SIGIL_E_SCALAR). share is secret: the caller keeps it in secure memory
 * and zeroizes it. */
int sigil_dealing_open_share(const sigil_dealing *d, const uint8_t sid[32], const sigil_env_key *k,
                             sigil_scalar *share);

/* Feldman check of share for party index self (into d->parties): C_0 must
 * be the approved d->public_key (SIGIL_E_MISMATCH) and share*G must equal
 * sum_j id^j C_j (SIGIL_E_SHARE). On success verifying[0..n-1] receive
 * every party's verifying share Y_m = sum_j id_m^j C_j and group_pk C_0. */
int sigil_dealing_check(const sigil_dealing *d, const sigil_scalar *share, uint32_t self,
                        sigil_point *verifying, sigil_point *group_pk);

/* What every node confirms: SHA-256("sigil.v1.import-transcript\0" | sid |
 * scheme | key_id | t | n | parties | public_key | commitments). */
int sigil_dealing_transcript(const sigil_dealing *d, const uint8_t sid[32], uint8_t out[32]);

/* The confirmation of a node's import RESULT, in the DKG confirmation form
 * sigil_env_dkg_result_decode expects: 0x03 | id (32) | transcript (32). */
int sigil_dealing_confirmation(const sigil_dealing *d, uint32_t self, const uint8_t transcript[32],
                               sigil_buf *out);

/* The import statement's params_hash: SHA-256("sigil.v1.import-params\0" |
 * string key_id | u16 scheme | u32 t | u32 n | string public_key). */
int sigil_dealing_params_hash(const char *key_id, uint16_t scheme, uint32_t t, uint32_t n,
                              const uint8_t *pk, size_t pklen, uint8_t out[32]);

#endif
