/* sigil_breaker: verification of k-of-m officer approvals for Resume (and
 * other approved actions), and the persistent set of used statement
 * nonces. Linked by sigil-node and by the coordinator.
 *
 * An approval is an Ed25519 signature by a configured officer key over
 *     "sigil.v1.approval\0" || statement
 * where statement is the exact serialized sigil.v1.ApprovalStatement bytes
 * (proto/sigil/v1/common.proto). Signatures are checked over the raw bytes
 * first; only then is the statement decoded (protobuf-c, size-checked).
 *
 * Every function returns SIGIL_OK or a negative SIGIL_E_* code. */
#ifndef SIGIL_BREAKER_H
#define SIGIL_BREAKER_H

#include <stddef.h>
#include <stdint.h>

#include "sigil/buf.h"

#define SIGIL_BREAKER_NAME_MAX 64
#define SIGIL_BREAKER_MAX_OFFICERS 64
#define SIGIL_BREAKER_STATEMENT_MAX 4096
#define SIGIL_BREAKER_APPROVAL_DOMAIN "sigil.v1.approval" /* + its NUL byte */

typedef struct {
    char name[SIGIL_BREAKER_NAME_MAX + 1]; /* as in sigil://officer/<name> */
    uint8_t pk[32];                        /* Ed25519 public key */
} sigil_breaker_officer;

typedef struct {
    const char *officer;      /* officer name */
    const uint8_t *signature; /* 64 bytes expected */
    size_t signature_len;
} sigil_breaker_approval;

typedef struct {
    char action[33];
    char cluster_id[SIGIL_BREAKER_NAME_MAX + 1];
    uint8_t nonce[32];
    uint64_t expires_unix;
    uint64_t halt_epoch;
    char key_id[SIGIL_BREAKER_NAME_MAX + 1];
    uint8_t params_hash[32];
    size_t params_hash_len; /* 0 or 32 */
} sigil_breaker_statement;

typedef struct {
    const sigil_breaker_officer *officers; /* m configured officers */
    size_t m;
    unsigned k;                  /* approvals needed, 1 <= k <= m */
    const char *cluster_id;      /* the statement must name this cluster */
    uint64_t max_lifetime_s;     /* expires_unix must be <= now + this (0: 3600) */
} sigil_breaker_policy;

/* Append the bytes an officer signs for statement (len bytes). */
int sigil_breaker_approval_message(const uint8_t *statement, size_t len, sigil_buf *out);

/* Verify n approvals of statement for action at time now_unix, when the
 * current halt epoch is epoch (a statement's halt_epoch must be 0 or equal
 * epoch). Checks, in this order, with these errors:
 *   SIGIL_E_TOO_LARGE    statement larger than SIGIL_BREAKER_STATEMENT_MAX
 *   SIGIL_E_PERMISSION   an approval names an officer not in the policy
 *   SIGIL_E_PARTICIPANT  two approvals by the same officer
 *   SIGIL_E_SIGNATURE    an approval's signature is not 64 bytes or fails
 *   SIGIL_E_THRESHOLD    fewer than k approvals
 *   SIGIL_E_ENCODING     the statement does not decode, or its nonce is
 *                        not 32 bytes
 *   SIGIL_E_MISMATCH     other action, other cluster id, or other epoch
 *   SIGIL_E_EXPIRED      expires_unix <= now, or too far in the future
 * The nonce is NOT checked here (see sigil_breaker_nonces). *out (may be
 * NULL) receives the decoded statement on success. */
int sigil_breaker_verify(const sigil_breaker_policy *pol, const uint8_t *statement, size_t len,
                         const sigil_breaker_approval *a, size_t n, const char *action,
                         uint64_t now_unix, uint64_t epoch, sigil_breaker_statement *out);

/* The set of statement nonces already accepted, kept in a state file
 * (atomically rewritten; entries whose statement expired are dropped at
 * each write, since an expired statement is refused anyway, so the file
 * stays small). Not thread-safe: callers serialize. */
typedef struct sigil_breaker_nonces sigil_breaker_nonces;

/* Load (or start empty when path does not exist). */
int sigil_breaker_nonces_open(sigil_breaker_nonces **out, const char *path);
/* SIGIL_E_REPLAY if nonce was accepted before; else record it durably
 * (with its expiry) and return SIGIL_OK. */
int sigil_breaker_nonces_use(sigil_breaker_nonces *s, const uint8_t nonce[32],
                             uint64_t expires_unix, uint64_t now_unix);
void sigil_breaker_nonces_free(sigil_breaker_nonces *s);

#endif
