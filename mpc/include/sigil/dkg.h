/* Distributed key generation (Pedersen/Feldman VSS with proofs of
 * knowledge, RFC 9591 appendix C / ZF FROST conventions) plus a
 * confirmation round, and the trusted-dealer split used to import an
 * existing key. Generic over the group (sigil/group.h): FROST and DKLs23
 * both use it.
 *
 * Sans-I/O. A participant runs
 *   sigil_dkg_new -> round1 -> round2 -> round3 -> finish
 * and each step maps (state, inbound messages) to (new state, outbound
 * messages). Inbound messages are given as an array of n sigil_buf views
 * indexed by participant index (the caller's own entry is ignored); the
 * transport must deliver round-2 messages confidentially and authenticated
 * (the appliance's node envelopes do that).
 *
 *   round1:  broadcast  = 0x01 || id || C_0..C_{t-1} || PoK (R || z)
 *            C_k = a_k*G; PoK: c = HDKG(id || C_0 || R), z = k + a_0*c,
 *            HDKG(m) = H(context || "dkg" || m) as sigil_hash_to_scalar.
 *   round2:  verifies every PoK, sends to each j
 *            share(j) = 0x02 || id_i || id_j || f_i(id_j)     (secret)
 *   round3:  verifies the received shares in one batch,
 *              (sum_j f_j(id_i))*G == sum_k id_i^k * (sum_j C_{j,k}),
 *            and only if that fails checks each sender to name it; then
 *            broadcasts the confirmation
 *              0x03 || id || transcript hash (32) || Y_i || R || z
 *            where transcript hash = SHA-256 of a label, context, group,
 *            t, n, every identifier and every commitment C_{j,k} (all that
 *            determines the key and the verifying shares), Y_i = s_i*G is the
 *            participant's verifying share and (R, z) a Schnorr signature
 *            by s_i: c = H(context || "dkg-confirm" || id || Y_i || R ||
 *            hash), z*G == R + c*Y_i. This signature is independent of
 *            FROST: each participant signs with its own new key pair.
 *   finish:  the key is valid only if every confirmation carries the same
 *            transcript hash with a valid signature, and every Y_m agrees
 *            with the commitments (checked in one randomised batch,
 *            individually on failure to name the culprit).
 *
 * On a failure caused by another participant, *culprit is set to its
 * index (otherwise to SIGIL_DKG_NOBODY) and the state becomes unusable
 * (SIGIL_E_STATE afterwards). Error codes: SIGIL_E_PROOF (bad PoK),
 * SIGIL_E_SHARE (share inconsistent with commitments), SIGIL_E_CONFIRM
 * (transcript hashes differ, bad confirmation signature or Y_m), decoding
 * errors (SIGIL_E_TRUNCATED, SIGIL_E_TRAILING, SIGIL_E_POINT,
 * SIGIL_E_SCALAR, SIGIL_E_IDENTITY, SIGIL_E_VERSION), SIGIL_E_PARTICIPANT
 * (message from or to the wrong identifier). */
#ifndef SIGIL_DKG_H
#define SIGIL_DKG_H

#include <stddef.h>
#include <stdint.h>

#include "sigil/buf.h"
#include "sigil/group.h"

#define SIGIL_DKG_MAX_PARTIES 1024u
#define SIGIL_DKG_NOBODY UINT32_MAX

/* A participant's key material after DKG or a dealer split. ids and
 * verifying are n-element arrays (public); secret (the signing share) is
 * in libsodium secure memory, or NULL for a public-only package. */
typedef struct {
    const sigil_group *g;
    uint32_t t, n;
    sigil_scalar *ids;
    sigil_point *verifying;
    sigil_point group_pk;
    uint32_t self;          /* index of the owner in ids */
    sigil_scalar *secret;   /* sodium_malloc'ed signing share */
} sigil_keyshare;

/* Release (zeroizing the secret). Safe on a zeroed struct. */
void sigil_keyshare_free(sigil_keyshare *k);
/* A public-only copy of k (no secret): what a coordinator holds to build
 * signing packages and aggregate. SIGIL_OK or SIGIL_E_NOMEM. */
int sigil_keyshare_public(const sigil_keyshare *k, sigil_keyshare *out);
/* Index of identifier id in k->ids: SIGIL_OK or SIGIL_E_PARTICIPANT. */
int sigil_keyshare_index(const sigil_keyshare *k, const sigil_scalar *id, uint32_t *idx);
/* Negate the secret, every verifying share and the group key (used for
 * BIP-340's even-y normalisation; shares of -x for a key of -X). */
void sigil_keyshare_negate(sigil_keyshare *k);
/* Encoding (for sealing): 0x4b || group id || t || n || self || ids ||
 * verifying shares || group key || has_secret || [secret]. Write to a
 * SIGIL_BUF_SECRET buffer. parse checks everything (distinct non-zero ids,
 * points valid, self < n, t <= n, secret*G == verifying[self]). */
int sigil_keyshare_serialize(const sigil_keyshare *k, sigil_buf *out);
int sigil_keyshare_parse(sigil_buf *in, sigil_keyshare *k);

typedef struct {
    const sigil_group *g;
    const char *context;      /* hash context string, e.g. "FROST-ED25519-SHA512-v1" */
    uint32_t t, n;            /* 1 <= t <= n <= SIGIL_DKG_MAX_PARTIES, n >= 2 */
    const sigil_scalar *ids;  /* n distinct non-zero identifiers (copied) */
    uint32_t self;            /* own index in ids */
} sigil_dkg_params;

typedef struct sigil_dkg sigil_dkg;

/* Check the parameters (SIGIL_E_INVALID, SIGIL_E_THRESHOLD, SIGIL_E_ZERO,
 * SIGIL_E_PARTICIPANT for duplicates) and make the state. */
int sigil_dkg_new(const sigil_dkg_params *p, sigil_dkg **out);
void sigil_dkg_free(sigil_dkg *d);

/* Round 1. coeffs: NULL for a random polynomial, or t coefficients
 * (a_0 = the participant's secret, non-zero) for test vectors; pok_nonce:
 * NULL for a random one. Appends the broadcast message to out. */
int sigil_dkg_round1(sigil_dkg *d, const sigil_scalar *coeffs, const sigil_scalar *pok_nonce,
                     sigil_buf *out);
/* Round 2. in[n]: the round-1 broadcasts. out[n]: each other participant's
 * share message is appended to out[j] (use SIGIL_BUF_SECRET buffers). */
int sigil_dkg_round2(sigil_dkg *d, const sigil_buf *in, sigil_buf *out, uint32_t *culprit);
/* Round 3. in[n]: the share messages addressed to this participant.
 * Appends the confirmation broadcast to out. */
int sigil_dkg_round3(sigil_dkg *d, const sigil_buf *in, sigil_buf *out, uint32_t *culprit);
/* Finish. in[n]: the confirmations. Fills *out (caller frees). */
int sigil_dkg_finish(sigil_dkg *d, const sigil_buf *in, sigil_keyshare *out, uint32_t *culprit);

/* For test-vector runners: participant i's t commitments (own after round
 * 1, everyone's after round 2), or NULL. */
const sigil_point *sigil_dkg_commitments(const sigil_dkg *d, uint32_t i);

/* Verify a PoK (R || z encoding) for identifier id and commitment C_0. */
int sigil_dkg_verify_pok(const sigil_group *g, const char *context, const sigil_scalar *id,
                         const sigil_point *c0, const uint8_t *pok, size_t len);

/* Trusted-dealer split of an existing secret (import inside a ceremony):
 * Shamir shares over t random coefficients (or t-1 given coeffs, for test
 * vectors), one sigil_keyshare per identifier in out[n]. */
int sigil_dkg_split(const sigil_group *g, const sigil_scalar *secret, uint32_t t, uint32_t n,
                    const sigil_scalar *ids, const sigil_scalar *coeffs, sigil_keyshare *out);

#endif
