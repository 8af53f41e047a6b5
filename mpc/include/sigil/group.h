/* The group layer: prime-order groups for the threshold schemes.
 *
 *   SIGIL_GROUP_ED25519    edwards25519 prime-order subgroup (libsodium),
 *                          scalars mod L, little-endian 32-byte encoding,
 *                          points 32-byte RFC 8032 encoding.
 *   SIGIL_GROUP_SECP256K1  secp256k1 (libsecp256k1's public API), scalars
 *                          mod n, big-endian 32-byte encoding, points
 *                          33-byte SEC1 compressed encoding.
 *
 * Contracts common to every function here:
 *   - Scalar arithmetic is constant-time in the values of its operands.
 *     Point arithmetic on secret scalars (base_mul, mul) is constant-time.
 *   - The identity element is never produced silently: any operation whose
 *     result would be the identity fails with SIGIL_E_IDENTITY (libsecp256k1
 *     cannot represent it), and decoding the identity fails likewise.
 *   - Decoders accept canonical encodings only: scalars >= the group order
 *     fail with SIGIL_E_SCALAR, points not on the curve, not in the
 *     prime-order subgroup, or not canonically encoded fail with
 *     SIGIL_E_POINT.
 *   - Outputs may alias inputs.
 *
 * sigil_mpc_init() must be called once, before any other function of the
 * library, from a single thread. Afterwards every function is thread-safe. */
#ifndef SIGIL_GROUP_H
#define SIGIL_GROUP_H

#include <stddef.h>
#include <stdint.h>

#include "sigil/buf.h"

typedef enum {
    SIGIL_GROUP_ED25519 = 1,
    SIGIL_GROUP_SECP256K1 = 2,
} sigil_group_id;

#define SIGIL_SCALAR_LEN 32
#define SIGIL_POINT_MAX_LEN 33

/* A scalar, held as its canonical encoding for its group. */
typedef struct {
    uint8_t v[SIGIL_SCALAR_LEN];
} sigil_scalar;

/* A group element other than the identity; opaque. */
typedef struct {
    uint8_t v[64];
} sigil_point;

typedef struct sigil_group sigil_group;

/* Initialise libsodium and the library's libsecp256k1 context (randomised
 * for side-channel blinding). SIGIL_OK, or SIGIL_E_CRYPTO/SIGIL_E_RANDOM. */
int sigil_mpc_init(void);

/* The library's randomised libsecp256k1 context (after sigil_mpc_init), for
 * other mpc/ modules that call libsecp256k1 directly. */
struct secp256k1_context_struct;
const struct secp256k1_context_struct *sigil_secp256k1_ctx(void);

/* The group with this id, or NULL. */
const sigil_group *sigil_group_get(sigil_group_id id);
sigil_group_id sigil_group_id_of(const sigil_group *g);
const char *sigil_group_name(const sigil_group *g);
/* Length of a point's encoding: 32 (Ed25519) or 33 (secp256k1). */
size_t sigil_group_point_len(const sigil_group *g);

/* ---- scalars ---- */

/* Decode 32 bytes; SIGIL_E_SCALAR if not < order. Zero is accepted. */
int sigil_scalar_parse(const sigil_group *g, sigil_scalar *s, const uint8_t in[32]);
void sigil_scalar_serialize(const sigil_group *g, uint8_t out[32], const sigil_scalar *s);
/* Reduce an integer modulo the order: n <= 64 bytes, interpreted in the
 * group's byte order for wide reductions (Ed25519: little-endian, as
 * RFC 8032 and RFC 9591 do; secp256k1: big-endian, as hash_to_field does). */
int sigil_scalar_reduce(const sigil_group *g, sigil_scalar *s, const uint8_t *in, size_t n);
/* Uniformly random non-zero scalar from libsodium's CSPRNG. */
int sigil_scalar_random(const sigil_group *g, sigil_scalar *s);
void sigil_scalar_set_u64(const sigil_group *g, sigil_scalar *s, uint64_t v);
void sigil_scalar_add(const sigil_group *g, sigil_scalar *r, const sigil_scalar *a, const sigil_scalar *b);
void sigil_scalar_sub(const sigil_group *g, sigil_scalar *r, const sigil_scalar *a, const sigil_scalar *b);
void sigil_scalar_mul(const sigil_group *g, sigil_scalar *r, const sigil_scalar *a, const sigil_scalar *b);
void sigil_scalar_neg(const sigil_group *g, sigil_scalar *r, const sigil_scalar *a);
/* r = 1/a; SIGIL_E_ZERO (and r = 0) if a is zero. */
int sigil_scalar_inv(const sigil_group *g, sigil_scalar *r, const sigil_scalar *a);
/* r = 1/a for a PUBLIC scalar (variable time, GMP mpz_invert): Lagrange
 * coefficients and other values derived from public data only.
 * SIGIL_E_ZERO (and r = 0) if a is zero. */
int sigil_scalar_inv_public(const sigil_group *g, sigil_scalar *r, const sigil_scalar *a);
/* 1 if zero / equal, else 0; constant-time. */
int sigil_scalar_is_zero(const sigil_scalar *a);
int sigil_scalar_eq(const sigil_scalar *a, const sigil_scalar *b);
/* Zeroize. */
void sigil_scalar_clear(sigil_scalar *s);

/* ---- points ---- */

/* Decode exactly sigil_group_point_len(g) bytes. */
int sigil_point_parse(const sigil_group *g, sigil_point *p, const uint8_t *in, size_t n);
/* Write sigil_group_point_len(g) bytes. */
void sigil_point_serialize(const sigil_group *g, uint8_t *out, const sigil_point *p);
/* r = s*G; SIGIL_E_ZERO if s is zero. */
int sigil_point_base_mul(const sigil_group *g, sigil_point *r, const sigil_scalar *s);
/* r = s*p, constant-time in s (secp256k1 via secp256k1_ecdh's constant-time
 * ladder); SIGIL_E_ZERO if s is zero. */
int sigil_point_mul(const sigil_group *g, sigil_point *r, const sigil_point *p, const sigil_scalar *s);
/* r = s*p for a PUBLIC scalar s (variable time on secp256k1, where it uses
 * libsecp256k1's pubkey_tweak_mul; same as sigil_point_mul on Ed25519). Use
 * only when s is public (binding factors, challenges, Lagrange coefficients,
 * identifiers). SIGIL_E_ZERO if s is zero. */
int sigil_point_mul_public(const sigil_group *g, sigil_point *r, const sigil_point *p, const sigil_scalar *s);
/* r = a*p + b*G for PUBLIC a, b (variable time): verification equations.
 * SIGIL_E_ZERO if a is zero, SIGIL_E_IDENTITY if the result is the identity
 * (b may be zero). */
int sigil_point_mul_add_base_public(const sigil_group *g, sigil_point *r, const sigil_point *p,
                                    const sigil_scalar *a, const sigil_scalar *b);
/* Decode p from n bytes (exactly the checks and errors of sigil_point_parse)
 * and compute r = s*p for a PUBLIC non-zero s. On Ed25519 the encoding is
 * validated once, by the multiplication, instead of twice. */
int sigil_point_parse_mul_public(const sigil_group *g, sigil_point *p, sigil_point *r, const uint8_t *in,
                                 size_t n, const sigil_scalar *s);
/* r = pts[0] + ... + pts[n-1] (n >= 1); only the final sum is checked:
 * SIGIL_E_IDENTITY if it is the identity. SIGIL_E_NOMEM possible. */
int sigil_point_sum(const sigil_group *g, sigil_point *r, const sigil_point *pts, size_t n);
/* r = a + b, r = a - b; SIGIL_E_IDENTITY if the result is the identity. */
int sigil_point_add(const sigil_group *g, sigil_point *r, const sigil_point *a, const sigil_point *b);
int sigil_point_sub(const sigil_group *g, sigil_point *r, const sigil_point *a, const sigil_point *b);
void sigil_point_neg(const sigil_group *g, sigil_point *r, const sigil_point *a);
/* 1 if equal, else 0. */
int sigil_point_eq(const sigil_group *g, const sigil_point *a, const sigil_point *b);

/* secp256k1 only (SIGIL_E_INVALID otherwise): 1 if the y coordinate is
 * even; the 32-byte big-endian x coordinate. */
int sigil_point_is_even_y(const sigil_group *g, const sigil_point *p);
int sigil_point_x(const sigil_group *g, uint8_t out[32], const sigil_point *p);

/* secp256k1 only (SIGIL_E_INVALID otherwise): copy p into *out, a
 * libsecp256k1 secp256k1_pubkey (64 bytes), for mpc/ modules that call
 * libsecp256k1 directly on a point already decoded and validated here,
 * without encoding and decoding it again. */
int sigil_point_secp256k1_pubkey(const sigil_group *g, void *out, const sigil_point *p);

/* ---- constant-time checking (tests/unit/mpc/test_ctime.c) ----
 *
 * Under Valgrind, the library marks a few values derived from secrets as
 * public ("declassified") where revealing them is intended: whether a
 * scalar is zero or a decoding failed (an error), and s*G (a public key or
 * commitment). Everything else derived from a secret stays "undefined" to
 * memcheck, which then reports any branch or memory index that depends on
 * it. Both are no-ops (a few instructions) outside Valgrind. */
void sigil_ct_secret(const void *p, size_t n);
void sigil_ct_declassify(const void *p, size_t n);

/* ---- encodings through sigil_buf ---- */

int sigil_scalar_put(const sigil_group *g, sigil_buf *b, const sigil_scalar *s);
int sigil_scalar_get(const sigil_group *g, sigil_buf *b, sigil_scalar *s);
int sigil_point_put(const sigil_group *g, sigil_buf *b, const sigil_point *p);
int sigil_point_get(const sigil_group *g, sigil_buf *b, sigil_point *p);

#endif
