/* sigil_envelope: share BACKUP to a quorum of officers and RESTORE onto a
 * replacement node (sigil-ceremony backup / restore). The share never
 * exists in clear outside a signer node:
 *
 *  backup   the node splits its share s (Shamir, threshold k = the officer
 *           quorum, m = every configured officer; pieces p_j = f(j), j =
 *           1..m, f(0) = s) and encrypts piece j with RSA-OAEP (SHA-1, as SoftHSM 2.6 implements it) to
 *           officer j's BACKUP KEY, whose private half never leaves officer
 *           j's token. The public keys are certified by each officer's
 *           Ed25519 key (checked by the node) and bound by the k-of-m
 *           approved statement. The node signs the SECTION with its HSM
 *           identity key; V_j = p_j*G lets anyone check a piece.
 *  restore  k officers each decrypt their piece in their own token and
 *           re-encrypt it (crypto_box_seal) to the replacement node's
 *           envelope key, signed by the officer; the node combines k
 *           pieces (Lagrange at 0), checks s*G against the key's public
 *           package, and seals s.
 *
 * Encodings (sigil_buf: big-endian, string = u32 length | bytes):
 *   officer key   = string name | string modulus | string exponent | 64 sig
 *                   sig = Ed25519_officer("sigil.v1.backup-key\0" | string
 *                   name | string modulus | string exponent)
 *   officers      = u32 m | m x officer key            (ascending names)
 *   backup params = SHA-256("sigil.v1.backup-params\0" | string key_id |
 *                   u32 k | officers)
 *   piece plain   = "SGBP" | string key_id | u32 node | u32 version | u32 j
 *                   | 32 piece                          (RSA-OAEP input)
 *   section       = body | 64 sig,  body = "SGBS" | u8 1 | string key_id |
 *                   u16 scheme | u32 node | u32 version | string package |
 *                   u32 k | u32 m | m x (string officer | point V_j |
 *                   string rsa_ciphertext)
 *                   sig = Ed25519_identity("sigil.v1.backup-section\0" | body)
 *   restore params= SHA-256("sigil.v1.restore-params\0" | string key_id |
 *                   u32 node | SHA-256(section))
 *   restore piece = body | 64 sig,  body = "SGRP" | string officer | u32 j
 *                   | 32 statement hash | string sealed,
 *                   sealed = crypto_box_seal("SGRQ" | 32 statement hash |
 *                   string key_id | u32 node | u32 j | 32 piece, node box key)
 *                   sig = Ed25519_officer("sigil.v1.restore-piece\0" | body)
 * Schemes 1-3 (FROST) and 4 (ECDSA, DKLs23): for ECDSA the backed-up
 * share is the Shamir share x_i only; the per-pair OT state is not backed
 * up: a restore runs a new pairwise OT setup among all share holders
 * (signer-node/src/backup_node.c). */
#ifndef SIGIL_BACKUP_H
#define SIGIL_BACKUP_H

#include <stddef.h>
#include <stdint.h>

#include "sigil/buf.h"
#include "sigil/envelope.h"
#include "sigil/group.h"

#define SIGIL_BACKUP_MAX_OFFICERS 16
#define SIGIL_BACKUP_NAME_MAX 64
#define SIGIL_BACKUP_RSA_MAX 512 /* modulus bytes (4096 bits) */
#define SIGIL_BACKUP_PIECE_PLAIN_MAX (4 + 4 + 64 + 12 + 32)
#define SIGIL_BACKUP_SECTION_MAX (64 * 1024)
#define SIGIL_BACKUP_PIECE_MAX 1024

typedef struct {
    char name[SIGIL_BACKUP_NAME_MAX + 1];
    uint8_t mod[SIGIL_BACKUP_RSA_MAX];
    size_t modlen;
    uint8_t exp[8];
    size_t explen;
    uint8_t sig[64];
} sigil_backup_key;

/* What officer k->name signs to certify its backup key. */
int sigil_backup_key_message(const sigil_backup_key *k, sigil_buf *out);
/* Officers list: m keys, names strictly ascending (SIGIL_E_PARTICIPANT). */
int sigil_backup_officers_encode(const sigil_backup_key *keys, size_t m, sigil_buf *out);
int sigil_backup_officers_decode(const uint8_t *p, size_t n, sigil_backup_key *keys, size_t *m);
int sigil_backup_params_hash(const char *key_id, uint32_t k, const uint8_t *officers, size_t n,
                             uint8_t out[32]);

int sigil_backup_piece_plain(const char *key_id, uint32_t node, uint32_t version, uint32_t j,
                             const uint8_t piece[32], sigil_buf *out);
/* Check a decrypted piece plaintext names key_id, node, version and j;
 * piece receives its 32 bytes (secret). */
int sigil_backup_piece_parse(const uint8_t *p, size_t n, const char *key_id, uint32_t node,
                             uint32_t version, uint32_t j, uint8_t piece[32]);

typedef struct {
    char key_id[SIGIL_ENV_KEY_ID_MAX + 1];
    uint16_t scheme;
    uint32_t node, version;
    const uint8_t *package;
    size_t package_len;
    uint32_t k, m;
    char officer[SIGIL_BACKUP_MAX_OFFICERS][SIGIL_BACKUP_NAME_MAX + 1];
    sigil_point V[SIGIL_BACKUP_MAX_OFFICERS];
    const uint8_t *ct[SIGIL_BACKUP_MAX_OFFICERS];
    size_t ct_len[SIGIL_BACKUP_MAX_OFFICERS];
    const uint8_t *body, *sig; /* after decode: views */
    size_t body_len;
} sigil_backup_section;

/* Append the section body (everything but the signature). */
int sigil_backup_section_body(const sigil_backup_section *s, sigil_buf *out);
int sigil_backup_section_sign_message(const uint8_t *body, size_t n, sigil_buf *out);
/* Decode body | sig (views into p); SIGIL_E_* for anything malformed. */
int sigil_backup_section_decode(sigil_backup_section *s, const uint8_t *p, size_t n);
/* The node identity signature (SIGIL_E_SIGNATURE). */
int sigil_backup_section_verify(const sigil_backup_section *s, const uint8_t identity_pk[32]);
int sigil_backup_restore_params_hash(const char *key_id, uint32_t node, const uint8_t *section,
                                     size_t n, uint8_t out[32]);
/* The same from the section's SHA-256 (what `approve` shows). */
int sigil_backup_restore_params_hash_of(const char *key_id, uint32_t node, const uint8_t sh[32],
                                        uint8_t out[32]);

typedef struct {
    char officer[SIGIL_BACKUP_NAME_MAX + 1];
    uint32_t j;
    uint8_t stmt_hash[32];
    const uint8_t *sealed;
    size_t sealed_len;
    const uint8_t *body, *sig;
    size_t body_len;
} sigil_restore_piece;

/* An officer's restore piece: seal piece j for the node's box key, append
 * the body (the caller signs sigil_restore_piece_sign_message and appends
 * the 64-byte signature). */
int sigil_restore_piece_body(const char *officer, uint32_t j, const uint8_t stmt_hash[32],
                             const char *key_id, uint32_t node, const uint8_t piece[32],
                             const uint8_t box_pk[32], sigil_buf *out);
int sigil_restore_piece_sign_message(const uint8_t *body, size_t n, sigil_buf *out);
int sigil_restore_piece_decode(sigil_restore_piece *r, const uint8_t *p, size_t n);
int sigil_restore_piece_verify(const sigil_restore_piece *r, const uint8_t officer_pk[32]);
/* Decrypt with the node's envelope key and check the fields; piece secret. */
int sigil_restore_piece_open(const sigil_restore_piece *r, const sigil_env_key *k,
                             const char *key_id, uint32_t node, uint8_t piece[32]);

#endif
