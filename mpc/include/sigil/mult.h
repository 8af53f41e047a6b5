/* Two-party multiplication for DKLs23: the random vector OLE of DKLs23
 * (eprint 2023/765, Functionality 3.5), realized by the forced-reuse
 * variant of DKLs19 (eprint 2019/523) Protocol 1 over the correlated OT
 * extension of sigil/ot.h, secure against a malicious party.
 *
 *   Bob   (OT receiver): samples random bits beta_1..beta_xi; his input is
 *         b = sum_j g_j * beta_j for the public gadget vector g (xi =
 *         SIGIL_MULT_XI = 256 + 2*80 random elements of Z_q, derived from a
 *         fixed domain string), so b is statistically uniform even if up to
 *         80 bits of beta leak through selective failure.
 *   Alice (OT sender): input a = (a_1, a_2) in Z_q^2. She samples pads
 *         ~a_1, ~a_2 and a check pad ^a, and uses the correlation vector
 *         alpha = (~a_1, ~a_2, ^a) for EVERY OT j (forced reuse): the OT
 *         layer gives t_A[j] + t_B[j] = beta_j * alpha.
 *         Challenge chi in Z_q^3 = H(sid, Bob's message, Alice's OT message,
 *         gamma) (Fiat-Shamir, so the protocol has two messages).
 *         She sends gamma_i = a_i - ~a_i, u = <chi, alpha>, and
 *         rt = H(sid, r_1..r_xi) with r_j = <chi, t_A[j]>.
 *         Output c_i = sum_j g_j t_A[j][i].
 *   Bob   checks, for every j, r_j = beta_j*u - <chi, t_B[j]> by recomputing
 *         rt (SIGIL_E_CHECK otherwise: Alice used inconsistent correlations
 *         across the OTs, which would otherwise leak his bits) and outputs
 *         d_i = b*gamma_i + sum_j g_j t_B[j][i].
 *   Result: c_i + d_i = a_i * b (mod q).
 *
 * Alice's choice of a is not constrained here (it is her input); DKLs23's
 * signing protocol binds it to R_i and her public key share with the
 * pairwise checks (Gamma values). Bob's check reveals at most a selective
 * failure on individual bits, absorbed by the 2*80 extra gadget bits.
 *
 * Message 1 (Bob -> Alice): the OT extension message 1.
 * Message 2 (Alice -> Bob): u8 tag 0x4d, gamma_1, gamma_2, u (32 bytes
 *   each, canonical scalars), rt (32 bytes), then OT extension message 2.
 * The sid passed here must be unique per multiplication and is the OT
 * extension's sid (which also binds the pair and its setup).
 *
 * Secrets (beta, t_B, pads) are in secure memory and zeroized. All
 * computation on secrets is constant-time; Bob's check compares hashes with
 * sigil_memeq. */
#ifndef SIGIL_MULT_H
#define SIGIL_MULT_H

#include <stddef.h>
#include <stdint.h>

#include "sigil/buf.h"
#include "sigil/group.h"
#include "sigil/ot.h"

#define SIGIL_MULT_XI 416 /* OTs per multiplication: 256 + 2 * 80 */
#define SIGIL_MULT_L 2    /* Alice's vector length */
#define SIGIL_MULT_WIDTH 3
#define SIGIL_MULT_MSG2_TAG 0x4d

typedef struct sigil_mult_bob sigil_mult_bob;

/* Bob, step 1: sample beta, output his random input b (secret) and append
 * message 1 to msg1. On success *st is the in-progress state. */
int sigil_mult_bob_start(sigil_mult_bob **st, const sigil_ot_receiver *r, const uint8_t *sid,
                         size_t sid_len, sigil_scalar *b, sigil_buf *msg1);

/* Alice, the only step: process msg1 with her input a, write her output c
 * (c[i], i < 2) and append message 2 to msg2. On error c is zeroed.
 * SIGIL_E_CHECK from the OT layer means Bob cheated in the extension (the
 * sender state is then burned, see ot.h). */
int sigil_mult_alice(sigil_ot_sender *s, const uint8_t *sid, size_t sid_len,
                     const sigil_scalar a[SIGIL_MULT_L], const uint8_t *msg1, size_t msg1_len,
                     sigil_scalar c[SIGIL_MULT_L], sigil_buf *msg2);

/* Bob, step 2: process msg2, run the consistency check (SIGIL_E_CHECK),
 * write d (d[i], i < 2). Consumes st (freed whatever the result). On error
 * d is zeroed. */
int sigil_mult_bob_finish(sigil_mult_bob *st, const uint8_t *msg2, size_t msg2_len,
                          sigil_scalar d[SIGIL_MULT_L]);

void sigil_mult_bob_free(sigil_mult_bob *st);

#endif
