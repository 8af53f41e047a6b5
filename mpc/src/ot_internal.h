/* Internals shared by ot_base.c (pair setup) and ot_ext.c (extension).
 * Not a public header. */
#ifndef SIGIL_OT_INTERNAL_H
#define SIGIL_OT_INTERNAL_H

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#include "sigil/ot.h"

#define OT_KBYTES (SIGIL_OT_KAPPA / 8) /* 16: one row, Delta, a seed */

/* Message type tags (first byte of every message) and the version byte. */
enum {
    OT_MSG_SETUP1 = 0x31,
    OT_MSG_SETUP2 = 0x32,
    OT_MSG_SETUP3 = 0x33,
    OT_MSG_EXT1 = 0x41,
    OT_MSG_EXT2 = 0x42,
    OT_MSG_VERSION = 1,
};

struct sigil_ot_sender {
    sigil_ot_party sender, receiver;
    int burned;
    uint8_t fp[32];
    uint8_t delta[OT_KBYTES];                   /* bit i: base-OT choice i */
    uint8_t seed[SIGIL_OT_KAPPA][OT_KBYTES];    /* k_{i, delta_i} */
    uint8_t *scratch;                           /* sigil_ot_ext_send's work space, kept between */
    size_t scratch_len;                         /* calls (zeroized after each), not encoded */
};

struct sigil_ot_receiver {
    sigil_ot_party sender, receiver;
    uint8_t fp[32];
    uint8_t seed[SIGIL_OT_KAPPA][2][OT_KBYTES]; /* k_{i,0}, k_{i,1} */
};

/* Domain-separated hashing (BLAKE2b-256 via libsodium): a label, then
 * length-prefixed fields, so distinct field lists never collide. */
typedef struct {
    crypto_generichash_state st;
} ot_hash;

void ot_hash_init(ot_hash *h, const char *label);
void ot_hash_put(ot_hash *h, const void *p, size_t n);
void ot_hash_u32(ot_hash *h, uint32_t v);
void ot_hash_final(ot_hash *h, uint8_t out[32]);

/* Digest of a session id, carried in every message header. */
void ot_sid_digest(uint8_t out[32], const uint8_t *sid, size_t sid_len);

/* Constant-time helpers. */
static inline uint8_t ot_bit(const uint8_t *v, size_t i)
{
    return (uint8_t)((v[i / 8] >> (i % 8)) & 1);
}
void ot_ct_select(uint8_t *r, const uint8_t *a, const uint8_t *b, size_t n, uint8_t bit); /* r = bit ? b : a */

/* Common message header: tag, version, sender, receiver, sid digest. */
#define OT_HDR_LEN (1 + 1 + 2 + 2 + 32)
int ot_hdr_put(sigil_buf *b, uint8_t tag, sigil_ot_party s, sigil_ot_party r, const uint8_t sidh[32]);
/* Checks tag/version (SIGIL_E_VERSION), parties (SIGIL_E_PARTICIPANT),
 * sid digest (SIGIL_E_SESSION). */
int ot_hdr_get(sigil_buf *b, uint8_t tag, sigil_ot_party s, sigil_ot_party r, const uint8_t sidh[32]);

void *ot_secure_alloc(size_t n); /* sodium_malloc, zero-filled */

#endif
