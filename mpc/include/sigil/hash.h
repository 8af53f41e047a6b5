/* Hashes of the threshold schemes (RFC 9591 section 6, RFC 9380
 * expand_message_xmd, BIP-340 tagged hashes), over libsodium's SHA-256 and
 * SHA-512. Messages are given as a list of parts, hashed as their
 * concatenation, so callers never build large temporary buffers. */
#ifndef SIGIL_HASH_H
#define SIGIL_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "sigil/group.h"

typedef struct {
    const void *p;
    size_t n;
} sigil_iov;

/* RFC 9380 expand_message_xmd with SHA-256: len <= 8160 bytes, dst of
 * 1..255 bytes. SIGIL_E_INVALID otherwise. */
int sigil_hash_xmd_sha256(uint8_t *out, size_t len, const uint8_t *dst, size_t dstlen,
                          const sigil_iov *parts, size_t nparts);

/* Hash to a scalar the way the RFC 9591 suites define H1, H2, H3 and HDKG:
 *   Ed25519:   SHA-512(ctx || tag || m) read little-endian, reduced mod L;
 *              ctx == NULL and tag == NULL give SHA-512(m) (RFC 9591 H2).
 *   secp256k1: hash_to_field(m) with expand_message_xmd(SHA-256), DST =
 *              ctx || tag, 48 bytes read big-endian, reduced mod n.
 * SIGIL_OK or SIGIL_E_INVALID. */
int sigil_hash_to_scalar(const sigil_group *g, const char *ctx, const char *tag,
                         const sigil_iov *parts, size_t nparts, sigil_scalar *out);

/* out[i] = sigil_hash_to_scalar(g, ctx, tag, {prefix, suffix[i]}) for
 * i < count, each suffix the 32-byte encoding of a scalar (RFC 9591 H1:
 * one common prefix, one identifier each). The common part is hashed once.
 * SIGIL_OK or SIGIL_E_INVALID. */
int sigil_hash_to_scalar_each(const sigil_group *g, const char *ctx, const char *tag, const uint8_t *prefix,
                              size_t plen, const sigil_scalar *suffix, size_t count, sigil_scalar *out);

/* Precompute the fixed hash prefixes (expand_message_xmd's Z_pad block, the
 * BIP-340 challenge tag). Called by sigil_mpc_init; the functions above
 * give the same results without it, only slower. */
void sigil_hash_init(void);

/* H4/H5-style digest of ctx || tag || m: SHA-512 (64 bytes) for Ed25519,
 * SHA-256 (32 bytes) for secp256k1. Returns the digest length. */
size_t sigil_hash_digest(const sigil_group *g, const char *ctx, const char *tag,
                         const sigil_iov *parts, size_t nparts, uint8_t out[64]);

/* BIP-340 tagged hash: SHA-256(SHA-256(tag) || SHA-256(tag) || m). */
void sigil_hash_tagged(uint8_t out[32], const char *tag, const sigil_iov *parts, size_t nparts);

#endif
