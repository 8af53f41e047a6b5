/* sigil_envelope: end-to-end envelopes between signer nodes (relayed by the
 * untrusted coordinator) and the encodings of the node's outputs to the
 * coordinator (RESULT and COMMITMENT bodies). Linked by sigil-node and by
 * the coordinator.
 *
 * KEYS. Each node process makes, at start, an in-memory ENVELOPE KEY: an
 * Ed25519 signing key pair and an X25519 box key pair (libsodium, secure
 * memory). Its CERTIFICATE is signed once by the node's HSM identity key
 * (Ed25519 in the PKCS#11 token):
 *   cert = u32 node_id | 32 sign_pk | 32 box_pk | u64 issued_unix | 64 idsig
 *   idsig = Ed25519_identity("sigil.v1.node-envelope-key\0" || u32 node_id
 *                            || sign_pk || box_pk || u64 issued_unix)
 * Receivers check idsig against the identity public key configured for
 * node_id (sigil_env_peers), so only the HSM identity key vouches for an
 * envelope key; per envelope only libsodium is used (fast, no HSM call).
 * The key is lost on restart, with the node's pools and sessions.
 *
 * ENVELOPE PAYLOAD (the proto Envelope.payload bytes), version 1:
 *   u8 version=1 | u8 flags (bit 0: body encrypted) | cert (172 bytes) |
 *   u32 body_len | body | 64 sig
 *   sig = Ed25519_envkey("sigil.v1.envelope\0" || u8 version || u8 flags ||
 *         u32 sid_len || sid || u32 round || u32 from || u32 to || u32 kind
 *         || u32 body_len || body)
 * where (sid, round, from, to, kind) is the Envelope's clear header: a
 * payload moved to another header (session, round, sender, recipient or
 * kind) fails. An encrypted body is crypto_box_seal(plaintext) to the
 * recipient's box_pk (from the recipient's own cert, learned from its
 * earlier envelopes in the session); only envelopes with to != 0 are
 * encrypted.
 *
 * BATCHED COMMITMENT PAYLOAD, version 2 (kind COMMITMENT only; RefillPool
 * makes one batch per refill, one payload per pool entry):
 *   u8 version=2 | u8 flags=0 | cert (172 bytes) | u32 body_len | body |
 *   u32 index | u32 count | u8 path_len | path_len x 32 path | 64 batch_sig
 *   leaf_i = SHA-256(0x00 || "sigil.v1.commitment-leaf\0" || u32 sid_len(0)
 *            || u32 round || u32 from || u32 to || u32 kind || u32 body_len
 *            || body_i)
 *   root = the RFC 6962 Merkle tree hash over leaf_0..leaf_{count-1}
 *          (interior nodes SHA-256(0x01 || left || right)); path = the
 *          RFC 6962 audit path of leaf index (checked as in RFC 9162
 *          2.1.3.2: its length must fit index and count exactly)
 *   batch_sig = Ed25519_envkey("sigil.v1.commitment-batch\0" || u32 from
 *               || u32 count || root)
 * It binds what a version-1 COMMITMENT envelope binds: the certified
 * envelope key of node `from` (cert), the clear header (sender, round 0,
 * to 0, kind, empty session id) and the body (scheme, key id, entry id,
 * commitment). A receiver verifies batch_sig once per batch: sigil_env_open
 * keeps the verified (signing key, from, count, root, batch_sig) in a ring
 * of SIGIL_ENV_BATCH_CACHE in the sigil_env_peers.
 *
 * Every function returns SIGIL_OK or a negative SIGIL_E_* code. */
#ifndef SIGIL_ENVELOPE_H
#define SIGIL_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "sigil/buf.h"
#include "sigil/dkg.h"
#include "sigil/ecdsa.h"
#include "sigil/frost.h"

#define SIGIL_ENV_VERSION 1
#define SIGIL_ENV_VERSION_BATCH 2
#define SIGIL_ENV_BATCH_CACHE 256
#define SIGIL_ENV_SID_LEN 32
#define SIGIL_ENV_CERT_LEN (4 + 32 + 32 + 8 + 64)
#define SIGIL_ENV_BOX_PK_LEN 32
#define SIGIL_ENV_MAX_BODY (1u << 20)
#define SIGIL_ENV_FLAG_ENCRYPTED 1u

/* Envelope kinds: the values of proto sigil.v1.EnvelopeKind. */
enum {
    SIGIL_ENV_DATA = 1,
    SIGIL_ENV_ECHO = 2,
    SIGIL_ENV_RESULT = 3,
    SIGIL_ENV_COMMITMENT = 4,
};

/* Schemes: the values of proto sigil.v1.Scheme (1..3 equal sigil_frost_suite). */
enum {
    SIGIL_ENV_SCHEME_ED25519 = 1,
    SIGIL_ENV_SCHEME_SECP256K1 = 2,
    SIGIL_ENV_SCHEME_BIP340 = 3,
    SIGIL_ENV_SCHEME_ECDSA = 4,
};

/* The clear header of an Envelope. session_id is SIGIL_ENV_SID_LEN bytes,
 * or empty (NULL, 0) for kind COMMITMENT only. from is 1..65535. */
typedef struct {
    const uint8_t *session_id;
    size_t session_id_len;
    uint32_t round;
    uint32_t from;
    uint32_t to;
    uint32_t kind;
} sigil_env_header;

/* SIGIL_OK if the header is well formed (lengths, kind 1..4, from 1..65535,
 * to <= 65535, to != from), SIGIL_E_ENCODING otherwise. */
int sigil_env_header_check(const sigil_env_header *h);

/* ---- the sender's envelope key ---- */

typedef struct sigil_env_key sigil_env_key;

/* Make a fresh envelope key for node_id (1..65535). */
int sigil_env_key_new(sigil_env_key **out, uint32_t node_id, uint64_t issued_unix);
/* Append the bytes the identity key must sign to certify k. */
int sigil_env_key_cert_message(const sigil_env_key *k, sigil_buf *out);
/* Attach the identity signature (64 bytes) over the cert message, after
 * checking it against identity_pk (SIGIL_E_SIGNATURE if it does not verify). */
int sigil_env_key_set_cert(sigil_env_key *k, const uint8_t identity_pk[32], const uint8_t sig[64]);
/* The key's X25519 public key (what peers encrypt to). */
void sigil_env_key_box_pk(const sigil_env_key *k, uint8_t pk[SIGIL_ENV_BOX_PK_LEN]);
uint32_t sigil_env_key_node_id(const sigil_env_key *k);
/* Zeroize and free; NULL is fine. */
void sigil_env_key_free(sigil_env_key *k);

/* ---- verifying: the configured identity keys ---- */

typedef struct sigil_env_peers sigil_env_peers;

int sigil_env_peers_new(sigil_env_peers **out);
/* Configure node_id's identity public key (SIGIL_E_EXISTS if already set). */
int sigil_env_peers_add(sigil_env_peers *p, uint32_t node_id, const uint8_t identity_pk[32]);
void sigil_env_peers_free(sigil_env_peers *p);

/* Seal body (n bytes, <= SIGIL_ENV_MAX_BODY) under header h (h->from must
 * be k's node id) into the payload bytes appended to out. If
 * recipient_box_pk is not NULL the body is encrypted to it (h->to must not
 * be 0). */
int sigil_env_seal(const sigil_env_key *k, const sigil_env_header *h, const uint8_t *body,
                   size_t n, const uint8_t *recipient_box_pk, sigil_buf *out);

/* Seal count (1..SIGIL_ENV_MAX_ITEMS) COMMITMENT bodies under header h
 * (kind COMMITMENT, from = k's node id, to 0, empty session id) as ONE
 * signed batch: outs[i] receives the version-2 payload of bodies[i] (the
 * layout above; one Ed25519 signature for the whole batch). On failure an
 * out buffer may hold nothing of its payload but earlier ones are kept:
 * discard them all. */
int sigil_env_seal_commitments(const sigil_env_key *k, const sigil_env_header *h,
                               const sigil_buf *bodies, size_t count, sigil_buf *outs);

/* The batch-signature cache of p: *cached = entries held (<=
 * SIGIL_ENV_BATCH_CACHE), *verified = batch signatures verified so far
 * (cache misses). Either pointer may be NULL. */
void sigil_env_peers_batch_stats(sigil_env_peers *p, size_t *cached, uint64_t *verified);

/* Open a payload received under clear header h: decode it (one sigil_buf
 * pass; SIGIL_E_TRUNCATED / _TRAILING / _VERSION / _TOO_LARGE), check the
 * cert is for h->from and signed by that node's configured identity key
 * (SIGIL_E_PARTICIPANT for an unknown node, SIGIL_E_SIGNATURE), check the
 * envelope signature over h and the body (SIGIL_E_SIGNATURE), and append
 * the body to body_out (decrypted with recipient's box key when encrypted:
 * SIGIL_E_INVALID if recipient is NULL or not h->to's key, SIGIL_E_UNSEAL
 * if it does not decrypt). Use a SIGIL_BUF_SECRET body_out for bodies that
 * may be secret. sender_box_pk (may be NULL) receives the sender's box key.
 * A version-2 payload (batched COMMITMENT, above) is accepted for kind
 * COMMITMENT only; a wrong path, index, count or batch signature is
 * SIGIL_E_SIGNATURE (malformed: SIGIL_E_ENCODING / _TRUNCATED / ...).
 * Thread-safe (verified certificates are cached). Nothing is appended on
 * failure. */
int sigil_env_open(sigil_env_peers *p, const sigil_env_key *recipient, const sigil_env_header *h,
                   const uint8_t *payload, size_t n, sigil_buf *body_out,
                   uint8_t sender_box_pk[SIGIL_ENV_BOX_PK_LEN]);

/* ---- bodies the coordinator reads ----
 *
 * All use sigil_buf encodings (big-endian; string = u32 length || bytes).
 *
 * COMMITMENT (RefillPool; header: session_id empty, round 0, from = node,
 * to 0, kind COMMITMENT):
 *   u16 scheme | string key_id | u64 entry_id | string commitment
 *   commitment = the FROST round-1 commitment (id || D || E).
 *
 * FROST SIGN RESULT (header: session id, round 1, from = node, to 0):
 *   u16 scheme | string key_id | u32 count | count x (u64 entry_id |
 *   string share | string R)
 *   share = FROST signature share (id || z); R = the group commitment the
 *   node computed for that item (sigil_frost_package_group_commitment:
 *   Ed25519 32 bytes, secp256k1 / BIP-340 33 bytes compressed, before any
 *   BIP-340 negation), or empty. R is a hint that lets the coordinator
 *   aggregate without rebuilding the package; a wrong R costs it time
 *   (full rebuild and blame), never a wrong signature.
 *
 * DKG RESULT (header: session id, the last round, from = node, to 0):
 *   u16 scheme | string key_id | string public_key | string public_package
 *   | string confirmation
 *   public_key = encoded group key (KeyInfo.public_key form);
 *   public_package = sigil_keyshare_serialize of the key WITHOUT secret
 *   (ids, verifying shares, group key; for BIP-340 already even-y), i.e.
 *   what sigil_frost_package_new / _aggregate need;
 *   confirmation = the DKG round-3 message (0x03 || id || transcript hash
 *   || ...), carrying the transcript hash every node must agree on. */

#define SIGIL_ENV_KEY_ID_MAX 64

typedef struct {
    uint16_t scheme;
    char key_id[SIGIL_ENV_KEY_ID_MAX + 1];
    uint64_t entry_id;
    const uint8_t *commitment; /* points into the decoded body */
    size_t commitment_len;
} sigil_env_commitment;

int sigil_env_commitment_encode(uint16_t scheme, const char *key_id, uint64_t entry_id,
                                const uint8_t *commitment, size_t len, sigil_buf *out);
int sigil_env_commitment_decode(sigil_env_commitment *out, const uint8_t *body, size_t n);

#define SIGIL_ENV_MAX_ITEMS 4096

typedef struct {
    uint16_t scheme;
    char key_id[SIGIL_ENV_KEY_ID_MAX + 1];
    uint32_t count;
    /* count entries; pointers into the decoded body (caller frees the arrays
     * with sigil_env_sign_result_free) */
    uint64_t *entry_ids;
    sigil_buf *shares; /* views */
    sigil_buf *rs;     /* views: each item's reported R (0..SIGIL_POINT_MAX_LEN bytes) */
} sigil_env_sign_result;

int sigil_env_sign_result_decode(sigil_env_sign_result *out, const uint8_t *body, size_t n);
void sigil_env_sign_result_free(sigil_env_sign_result *r);

typedef struct {
    uint16_t scheme;
    char key_id[SIGIL_ENV_KEY_ID_MAX + 1];
    const uint8_t *public_key;
    size_t public_key_len;
    const uint8_t *public_package;
    size_t public_package_len;
    const uint8_t *confirmation;
    size_t confirmation_len;
    const uint8_t *transcript_hash; /* 32 bytes inside confirmation */
} sigil_env_dkg_result;

int sigil_env_dkg_result_encode(uint16_t scheme, const char *key_id, const uint8_t *pk, size_t pklen,
                                const uint8_t *package, size_t package_len,
                                const uint8_t *confirmation, size_t confirmation_len,
                                sigil_buf *out);
int sigil_env_dkg_result_decode(sigil_env_dkg_result *out, const uint8_t *body, size_t n);

/* The coordinator's check that a DKG succeeded: count results (one per
 * party, any order) agree on scheme, key id, public key and transcript
 * hash, and every public package parses and carries that group key.
 * On success *pub receives the public key package (secret NULL) to use
 * with sigil_env_frost_aggregate (caller frees with sigil_keyshare_free).
 * SIGIL_E_CONFIRM if anything differs. */
int sigil_env_dkg_results_agree(const sigil_env_dkg_result *r, size_t count, sigil_keyshare *pub);

/* The coordinator's FROST aggregation for one item: package from the count
 * signers' commitments (any order) and the message, then the shares
 * (same signers), verified against pub's group key (sigil_frost_aggregate).
 * sig receives sigil_frost_sig_len(suite) bytes. */
int sigil_env_frost_aggregate(sigil_frost_suite suite, const sigil_keyshare *pub,
                              const uint8_t *msg, size_t msglen, const sigil_buf *commitments,
                              const sigil_buf *shares, size_t count, uint8_t *sig,
                              uint32_t *culprit);

/* The same result as sigil_env_frost_aggregate (same errors, same culprit,
 * the signature verified against pub's group key), faster when the signers
 * reported the group commitment: rs[i] is signer i's reported R (the
 * RESULT's rs[j] of item j; may be empty). When every rs[i] is non-empty
 * and they are all equal, sigil_frost_aggregate_with_r sums the shares and
 * verifies (R, z) once, building the package only if that fails; when they
 * differ or one is missing, the package is built (the full path, which
 * names a cheating signer). */
int sigil_env_frost_aggregate_r(sigil_frost_suite suite, const sigil_keyshare *pub,
                                const uint8_t *msg, size_t msglen, const sigil_buf *commitments,
                                const sigil_buf *shares, const sigil_buf *rs, size_t count,
                                uint8_t *sig, uint32_t *culprit);

/* ---- ECDSA (DKLs23) ----
 *
 * DKG RESULT for scheme ECDSA: as above; public_key = 33-byte compressed
 * group key; public_package = the generic DKG's public keyshare over
 * secp256k1 (sigil_env_dkg_results_agree accepts it too).
 *
 * PRESIGN RESULT (header: session id, round 3, from = node, to 0):
 *   u16 scheme | string key_id | u32 count | count x u64 presignature id
 * Presignature j of every signer belongs together (same order on every
 * node).
 *
 * ECDSA SIGN RESULT (header: session id, round 1, from = node, to 0):
 *   u16 scheme | string key_id | u32 count | count x (u64 presignature id |
 *   string sign_msg | combiner)
 *   sign_msg = the node's DKLs23 SIGN envelope (sigil/ecdsa.h framing);
 *   combiner = 32 sid | u16 count | count x u16 signer | 33 pubkey | 33 R |
 *              32 digest   (sigil_ecdsa_combiner, public data only). */

int sigil_env_ecdsa_combiner_put(const sigil_ecdsa_combiner *c, sigil_buf *out);

typedef struct {
    uint16_t scheme;
    char key_id[SIGIL_ENV_KEY_ID_MAX + 1];
    uint32_t count;
    uint64_t *entry_ids;            /* count */
    sigil_buf *sign_msgs;           /* count views into the body */
    sigil_ecdsa_combiner *combiners; /* count */
} sigil_env_ecdsa_result;

int sigil_env_ecdsa_result_decode(sigil_env_ecdsa_result *out, const uint8_t *body, size_t n);
void sigil_env_ecdsa_result_free(sigil_env_ecdsa_result *r);

/* PRESIGN RESULT: *ids (malloc'ed, *count entries; caller frees). */
int sigil_env_presign_result_decode(const uint8_t *body, size_t n, char key_id[SIGIL_ENV_KEY_ID_MAX + 1],
                                    uint64_t **ids, uint32_t *count);

/* The coordinator's combination of one item: combs[k] / msgs[k] from each
 * of the count signers (any order). Every combiner must be identical, name
 * exactly the count signers, carry the key's pubkey (33 bytes) and the
 * requested digest (SIGIL_E_MISMATCH otherwise); then sigil_ecdsa_combine
 * (low-s, recovery id, verified against the key before returning). */
int sigil_env_ecdsa_combine(const sigil_ecdsa_combiner *const *combs, const sigil_buf *msgs,
                            size_t count, const uint8_t pubkey[33], const uint8_t digest[32],
                            uint8_t sig[64], int *recid, uint16_t *culprit);

/* ---- import (sigil/dealing.h): a dealer outside the nodes encrypts to a
 * node's envelope key ---- */

/* The key's certificate bytes (SIGIL_ENV_CERT_LEN; the layout above), once
 * certified (SIGIL_E_INVALID before sigil_env_key_set_cert). */
int sigil_env_key_cert(const sigil_env_key *k, uint8_t cert[SIGIL_ENV_CERT_LEN]);
/* Check a certificate (n must be SIGIL_ENV_CERT_LEN) is node_id's and
 * signed by node_id's configured identity key (SIGIL_E_PARTICIPANT for an
 * unknown node or a certificate of another node, SIGIL_E_SIGNATURE,
 * SIGIL_E_ENCODING for a wrong length); on success box_pk receives the
 * key's X25519 public key. */
int sigil_env_cert_box_pk(sigil_env_peers *p, uint32_t node_id, const uint8_t *cert, size_t n,
                          uint8_t box_pk[SIGIL_ENV_BOX_PK_LEN]);
/* Open crypto_box_seal ciphertext c (n bytes) addressed to k's box key;
 * the plaintext is appended to out (use a SIGIL_BUF_SECRET buffer).
 * SIGIL_E_UNSEAL if it does not decrypt; nothing appended on failure. */
int sigil_env_key_open_sealed(const sigil_env_key *k, const uint8_t *c, size_t n, sigil_buf *out);

#endif
