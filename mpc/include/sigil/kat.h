/* Known-answer-test entry points: FOR TEST VECTORS ONLY.
 *
 * These functions take the randomness that the production entry points
 * draw from libsodium's CSPRNG, so that published vectors (RFC 9591) can be
 * reproduced. Calling one twice with the same randomness and the same key
 * share yields the same nonce, and two signatures with one nonce reveal the
 * share. Only vectors/ and tests/ include this header; a CTest check
 * (tools.kat-only-in-tests) fails if any other directory does. */
#ifndef SIGIL_KAT_H
#define SIGIL_KAT_H

#include "sigil/frost.h"

/* RFC 9591 nonce_generate: H3(random || SerializeScalar(secret)). */
int sigil_frost_nonce_generate(sigil_frost_suite s, sigil_scalar *out, const uint8_t random[32],
                               const sigil_scalar *secret);

/* sigil_frost_commit with the hiding and binding randomness given (either
 * may be NULL to draw it from the CSPRNG). */
int sigil_frost_commit_kat(sigil_frost_suite s, const sigil_keyshare *k, const uint8_t *hiding_random,
                           const uint8_t *binding_random, sigil_frost_nonce **nonce, sigil_buf *out);

#endif
