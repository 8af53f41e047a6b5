/* sigil_hsm: the signer node's (and the coordinator's) PKCS#11 token.
 *
 * One token, reached through a PKCS#11 module loaded with dlopen (SoftHSMv2
 * in development and tests), holds:
 *   - the SEALING KEY: AES-256, CKA_TOKEN, CKA_SENSITIVE, not CKA_EXTRACTABLE,
 *     label "sigil-seal". Share blobs are sealed with AES-256-GCM inside the
 *     token (CKM_AES_GCM, fresh random 96-bit IV per seal, 128-bit tag) with
 *     associated data binding the key id, party, scheme and share version.
 *   - Ed25519 KEY PAIRS (CKK_EC_EDWARDS, CKM_EDDSA, curve OID 1.3.101.112):
 *     the node's identity key (label "sigil-identity") and, on the
 *     coordinator, the audit log's checkpoint key. The private key is
 *     sensitive and never extractable; signatures are plain RFC 8032 Ed25519
 *     and verify with libsodium's crypto_sign_verify_detached.
 *   - (officers' tokens) RSA-OAEP backup keys, and in the officers' CA token
 *     the cluster CA's P-256 ECDSA key (CKK_EC, CKM_ECDSA over a SHA-256
 *     digest), sensitive and never extractable like every private key here.
 *
 * Threads: a sigil_hsm handle is thread-safe. It logs in once and keeps a
 * bounded pool of PKCS#11 sessions; each call borrows one session for its
 * duration (waiting if all are busy), so calls from several threads run in
 * parallel inside the module.
 *
 * PINs are read from a file or an environment variable, held only in secure
 * memory for the duration of C_Login, zeroized after, and never logged.
 *
 * Every function returns SIGIL_OK or a negative SIGIL_E_* code:
 *   SIGIL_E_INVALID      argument outside the contract
 *   SIGIL_E_UNAVAILABLE  module cannot be loaded / initialised, or the token
 *                        or a session failed underneath us
 *   SIGIL_E_NOT_FOUND    no token with that label, key missing in the token,
 *                        or a blob sealed under another token's sealing key
 *   SIGIL_E_PERMISSION   wrong PIN, or PIN locked
 *   SIGIL_E_EXISTS       provisioning would overwrite an existing key
 *   SIGIL_E_ENCODING / SIGIL_E_TRUNCATED / SIGIL_E_TRAILING /
 *   SIGIL_E_VERSION      sealed blob malformed, cut short, too long, or of
 *                        an unknown format version
 *   SIGIL_E_UNSEAL       authenticated decryption failed: wrong key id,
 *                        party, scheme or share version, or any byte changed
 *   SIGIL_E_CRYPTO       the module refused an operation it should perform
 *   SIGIL_E_IO           PIN file unreadable
 */
#ifndef SIGIL_HSM_H
#define SIGIL_HSM_H

#include <stddef.h>
#include <stdint.h>

#include "sigil/buf.h"

/* Debian 12's SoftHSMv2 module (a symlink to the multiarch path). */
#define SIGIL_HSM_DEFAULT_MODULE "/usr/lib/softhsm/libsofthsm2.so"
#define SIGIL_HSM_SEAL_LABEL "sigil-seal"
#define SIGIL_HSM_IDENTITY_LABEL "sigil-identity"

#define SIGIL_HSM_KEY_ID_MAX 64       /* bytes of a key id in the AD */
#define SIGIL_HSM_SHARE_MAX (1u << 20) /* largest plaintext share blob */
#define SIGIL_HSM_LABEL_MAX 32        /* PKCS#11 token label width */
#define SIGIL_HSM_ED25519_PK_LEN 32
#define SIGIL_HSM_ED25519_SIG_LEN 64
#define SIGIL_HSM_P256_PK_LEN 65  /* uncompressed SEC1 point 04 || X || Y */
#define SIGIL_HSM_P256_SIG_LEN 64 /* r || s, 32 bytes each, big-endian */
/* Sealed blob = plaintext + SIGIL_HSM_SEAL_OVERHEAD bytes. */
#define SIGIL_HSM_SEAL_OVERHEAD (4 + 1 + 16 + 12 + 4 + 16)

typedef struct sigil_hsm sigil_hsm;

typedef struct {
    /* Path of the PKCS#11 module; NULL means SIGIL_HSM_DEFAULT_MODULE. */
    const char *module_path;
    /* Label of the token (exact, without PKCS#11's blank padding). */
    const char *token_label;
    /* Where the user PIN comes from: exactly one of
     *   pin_file: a file whose first line is the PIN (mode should be 0600),
     *   pin_env:  the NAME of an environment variable holding the PIN. */
    const char *pin_file;
    const char *pin_env;
    /* Most PKCS#11 sessions open at once; 0 means 8. Calls beyond this many
     * in parallel wait for a free session. */
    unsigned max_sessions;
} sigil_hsm_config;

/* Load the module (shared and reference-counted within the process: several
 * handles on one module are fine), find the token by label, log in as the
 * user. *out is NULL on failure. The module reads SOFTHSM2_CONF from the
 * environment at first load in the process. */
int sigil_hsm_open(sigil_hsm **out, const sigil_hsm_config *cfg);

/* Log out, close every session, and unload the module when this was its
 * last handle. No call on h may be running. NULL is accepted. */
void sigil_hsm_close(sigil_hsm *h);

/* ---- Provisioning (the ceremony calls these once per token) ---- */

/* Create the sealing key in the token (AES-256, token object, sensitive,
 * not extractable, never wrappable, label SIGIL_HSM_SEAL_LABEL, a random
 * 16-byte CKA_ID recorded in every blob). SIGIL_E_EXISTS if the token has
 * one already. */
int sigil_hsm_create_seal_key(sigil_hsm *h);

/* Generate an Ed25519 key pair in the token under label (1..32 bytes of
 * printable ASCII) and return its 32-byte public key. The private key is a
 * sensitive, non-extractable token object usable only for signing.
 * SIGIL_E_EXISTS if a key with that label exists. */
int sigil_hsm_create_ed25519(sigil_hsm *h, const char *label,
                             uint8_t pk[SIGIL_HSM_ED25519_PK_LEN]);

/* ---- Sealing share blobs ---- */

/* What a sealed blob is bound to. All four fields enter the AEAD's
 * associated data in a canonical encoding; unsealing with any one different
 * fails with SIGIL_E_UNSEAL. */
typedef struct {
    const uint8_t *key_id; /* the threshold key's id, 1..SIGIL_HSM_KEY_ID_MAX bytes */
    size_t key_id_len;
    uint32_t party;         /* this node's participant index */
    uint16_t scheme;        /* the scheme's stable numeric id */
    uint32_t share_version; /* bumped at every refresh */
} sigil_hsm_ad;

/* Seal n bytes (1..SIGIL_HSM_SHARE_MAX) of plaintext under the token's
 * sealing key and append the sealed blob to out (n +
 * SIGIL_HSM_SEAL_OVERHEAD bytes). Blob format, version 1:
 *   "SGSL" | u8 version=1 | 16-byte sealing-key id | 12-byte IV |
 *   u32 ciphertext length | ciphertext || 16-byte GCM tag
 * The header is also bound into the associated data. On failure out is
 * unchanged. */
int sigil_hsm_seal(sigil_hsm *h, const sigil_hsm_ad *ad, const uint8_t *pt, size_t n,
                   sigil_buf *out);

/* Unseal a blob sealed with exactly this ad and append the plaintext to
 * out, which must be a writable buffer created with SIGIL_BUF_SECRET
 * (SIGIL_E_INVALID otherwise). On any failure nothing is appended and no
 * plaintext byte remains in out's memory. */
int sigil_hsm_unseal(sigil_hsm *h, const sigil_hsm_ad *ad, const uint8_t *blob, size_t len,
                     sigil_buf *out);

/* ---- Ed25519 keys ---- */

/* The 32-byte public key of the Ed25519 key pair with this label. */
int sigil_hsm_ed25519_pubkey(sigil_hsm *h, const char *label,
                             uint8_t pk[SIGIL_HSM_ED25519_PK_LEN]);

/* Sign msg (any length up to SIGIL_BUF_MAX_LIMIT; pure Ed25519, no prehash)
 * with the private key labelled label. The signature verifies with
 * crypto_sign_verify_detached(sig, msg, n, pk). */
int sigil_hsm_sign_ed25519(sigil_hsm *h, const char *label, const uint8_t *msg, size_t n,
                           uint8_t sig[SIGIL_HSM_ED25519_SIG_LEN]);

/* ---- RSA-OAEP backup keys (an officer's backup decryption key) ----
 * Generate an RSA key pair of `bits` (2048..4096, e = 65537) under label:
 * the private key sensitive, never extractable, DECRYPT only. */
int sigil_hsm_create_rsa(sigil_hsm *h, const char *label, unsigned bits);
/* The public modulus and exponent (big-endian; *modlen / *explen: buffer
 * sizes in, lengths out). */
int sigil_hsm_rsa_pubkey(sigil_hsm *h, const char *label, uint8_t *mod, size_t *modlen,
                         uint8_t *exp, size_t *explen);
/* RSA-OAEP (SHA-1, MGF1-SHA-1, empty label: what SoftHSM 2.6 implements) decryption inside the
 * token; the plaintext is appended to out, which must be SIGIL_BUF_SECRET.
 * SIGIL_E_UNSEAL if the ciphertext does not decrypt. */
int sigil_hsm_rsa_oaep_decrypt(sigil_hsm *h, const char *label, const uint8_t *c, size_t n,
                               sigil_buf *out);

/* ---- P-256 ECDSA keys (the cluster CA's key, in the officers' CA token) ----
 * Generate a P-256 key pair (CKM_EC_KEY_PAIR_GEN, CKA_EC_PARAMS = the
 * prime256v1 OID) under label, return the public key as an uncompressed
 * SEC1 point. The private key is a token object, private, sensitive, never
 * extractable, not copyable or modifiable, usable only for signing.
 * SIGIL_E_EXISTS if any object with that label exists. */
int sigil_hsm_create_p256(sigil_hsm *h, const char *label, uint8_t pk[SIGIL_HSM_P256_PK_LEN]);
/* The public key of the P-256 key pair labelled label (SIGIL_E_NOT_FOUND if
 * there is none, SIGIL_E_ENCODING if the token's CKA_EC_POINT is not an
 * uncompressed P-256 point). */
int sigil_hsm_p256_pubkey(sigil_hsm *h, const char *label, uint8_t pk[SIGIL_HSM_P256_PK_LEN]);
/* ECDSA (CKM_ECDSA) inside the token over a 32-byte digest the caller
 * computed (SHA-256 for ecdsa-with-SHA256); sig = r || s. Refuses
 * (SIGIL_E_PERMISSION) a private key that is not sensitive or is
 * extractable. The signature is the token's, not verified here: callers
 * verify what they build with it (the ceremony verifies every certificate
 * against the CA's public key before writing it). */
int sigil_hsm_sign_p256(sigil_hsm *h, const char *label, const uint8_t digest[32],
                        uint8_t sig[SIGIL_HSM_P256_SIG_LEN]);

#endif
