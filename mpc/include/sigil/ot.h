/* Oblivious transfer for the DKLs19/DKLs23 two-party multiplication.
 *
 * Two layers, both sans-I/O (functions from state and inbound bytes to new
 * state and outbound bytes):
 *
 *   1. Pair setup (once per ORDERED pair of parties, at key generation or
 *      refresh): SIGIL_OT_KAPPA maliciously secure base OTs over secp256k1
 *      (batched "simplest OT" with a proof of knowledge of the sender's
 *      discrete log and hashed transcripts, as in Zhou et al., "Endemic
 *      Oblivious Transfer via Random Oracles, Revisited", eprint 2022/1525;
 *      see docs/modules/mpc-ot.md), with a key-confirmation message. The result
 *      is a long-term secret state per role (sigil_ot_sender on one side,
 *      sigil_ot_receiver on the other) that is serialised and stored with
 *      the key share.
 *
 *   2. Extension (per signing session, per ordered pair): KOS15 OT
 *      extension with the consistency check as analysed in SoftSpokenOT
 *      (eprint 2022/192, which is KOS for its parameter k = 1), made
 *      non-interactive by Fiat-Shamir, followed by the correlated-OT step
 *      over Z_q (q = the secp256k1 group order) that the multiplication
 *      consumes:
 *
 *        receiver with choice bits b_j          sender with correlations
 *                                                alpha_{j,i} in Z_q
 *        for j < ell, i < width:
 *             t_A[j][i] + t_B[j][i] = b_j * alpha_{j,i}   (mod q)
 *
 *      The sender ends with t_A (uniformly random to it), the receiver with
 *      t_B; neither learns the other's input. "width" (L in DKLs23) is the
 *      number of correlations per choice bit: DKLs23's forced-reuse random
 *      vector OLE uses one choice vector beta in {0,1}^xi (xi = kappa +
 *      2*lambda_s) against a vector of L = 2 sender inputs, i.e. ell = xi,
 *      width = 2, and the same alpha_{j,.} for every j (pass alpha_count ==
 *      width). Several multiplications may be batched in one call by
 *      concatenating their choice vectors (ell = xi * inputs).
 *
 * Roles are named by the EXTENSION, i.e. by the multiplication:
 *   "sender"   = the party that supplies the correlations alpha
 *                (Alice in DKLs19 Protocol 1),
 *   "receiver" = the party that supplies the choice bits b (Bob).
 * (Inside the setup the base OTs run the other way round; callers never
 * see that.) Every pair of signers needs two setups, one per direction.
 *
 * Message flow, setup (3 messages, sid = the DKG / refresh session id):
 *
 *     receiver                                   sender
 *     sigil_ot_setup_receiver_start --msg1-->    sigil_ot_setup_sender_respond
 *     sigil_ot_setup_receiver_finish <--msg2--
 *        (-> sigil_ot_receiver)      --msg3-->    sigil_ot_setup_sender_finish
 *                                                   (-> sigil_ot_sender)
 *
 * Message flow, extension (2 messages, sid = unique per extension call):
 *
 *     receiver                                   sender
 *     sigil_ot_ext_receive_start    --msg1-->    sigil_ot_ext_send
 *                                                   (-> t_A)
 *     sigil_ot_ext_receive_finish   <--msg2--
 *        (-> t_B)
 *
 * Binding. Every message carries a type tag, the sender and receiver
 * identifiers, a 32-byte digest of the session id and (for extension
 * messages) the fingerprint of the pair setup; all hashing and PRG output
 * is domain-separated by session id, pair, setup fingerprint and OT index.
 * A message from another session, another pair, another direction, another
 * setup (e.g. before a refresh) or of another type is rejected before any
 * secret is touched. The caller must make sid unique per extension call
 * (e.g. signing session id || multiplication label) and refuse sids it has
 * seen: the sid is what rejects replays. As defence in depth each
 * extension message also carries a fresh 16-byte nonce of its sender that
 * keys the PRG streams (receiver's) and the output hash (sender's), so an
 * accidental sid reuse does not leak choice bits or alphas.
 *
 * Errors (in addition to SIGIL_E_INVALID for arguments outside the
 * contract, SIGIL_E_NOMEM, SIGIL_E_RANDOM, SIGIL_E_CRYPTO):
 *   SIGIL_E_TRUNCATED / SIGIL_E_TRAILING / SIGIL_E_TOO_LARGE  bad length
 *   SIGIL_E_VERSION      unknown message type or version
 *   SIGIL_E_PARTICIPANT  wrong sender/receiver identifiers (or direction)
 *   SIGIL_E_SESSION      bound to another session id
 *   SIGIL_E_MISMATCH     bound to another setup, or ell/width disagree
 *   SIGIL_E_POINT / SIGIL_E_SCALAR  invalid group element / scalar
 *   SIGIL_E_PROOF        the base-OT proof of knowledge does not verify
 *   SIGIL_E_CONFIRM      the base-OT key confirmation does not match
 *   SIGIL_E_CHECK        the extension consistency check failed: the
 *                        receiver is malicious (or a relay tampered)
 *   SIGIL_E_STATE / SIGIL_E_USED  object used out of order / twice
 * On any error no output is produced: output scalar arrays are zeroed,
 * output buffers are left as they were on entry, and in-progress states are
 * destroyed where the function says so.
 *
 * SIGIL_E_CHECK at the sender means the peer tried to learn bits of the
 * sender's long-term secret Delta. The sender state is then marked burned:
 * every later sigil_ot_ext_send with it fails with SIGIL_E_USED, and the
 * encoding of a burned state records that. The caller must persist that
 * and run a new setup (refresh) before this pair multiplies again in this
 * direction; it must not simply retry with the old state.
 *
 * Secrets: states live in libsodium secure memory and are zeroized when
 * freed; encodings of sigil_ot_sender / sigil_ot_receiver are secret and
 * must be written to a buffer created with SIGIL_BUF_SECRET. Output scalars
 * t_A / t_B are secret; the caller zeroizes them (sigil_scalar_clear).
 * Computation on secrets is constant-time: no branch or memory index
 * depends on a secret (choice bits and Delta act through masks and
 * conditional swaps; the consistency check compares with sigil_memeq).
 *
 * Threading: objects are not shared between threads; distinct objects may
 * be used concurrently. sigil_mpc_init() must have been called. */
#ifndef SIGIL_OT_H
#define SIGIL_OT_H

#include <stddef.h>
#include <stdint.h>

#include "sigil/buf.h"
#include "sigil/group.h"

/* Number of base OTs per ordered pair, = bits of the sender's Delta and the
 * computational security parameter of the extension. */
#define SIGIL_OT_KAPPA 128
/* Upper bounds checked by every function and decoder. */
#define SIGIL_OT_MAX_ELL 16384  /* OTs per extension call */
#define SIGIL_OT_MAX_WIDTH 8    /* correlations per OT */
#define SIGIL_OT_MAX_SID 256    /* bytes of session id */

/* Party identifiers: any uint16_t; sender != receiver. */
typedef uint16_t sigil_ot_party;

typedef struct sigil_ot_setup sigil_ot_setup;           /* a setup in progress */
typedef struct sigil_ot_sender sigil_ot_sender;         /* long-term, sender side */
typedef struct sigil_ot_receiver sigil_ot_receiver;     /* long-term, receiver side */
typedef struct sigil_ot_ext_recv sigil_ot_ext_recv;     /* an extension in progress */

/* ---- pair setup (base OT) ---------------------------------------------- */

/* Receiver, step 1. Start the setup for the ordered pair (sender, receiver)
 * in session sid (1..SIGIL_OT_MAX_SID bytes). On success *st is a new setup
 * state (free with sigil_ot_setup_free) and msg1 (a writable buffer; bytes
 * are appended) holds the message for the sender. */
int sigil_ot_setup_receiver_start(sigil_ot_setup **st, const uint8_t *sid, size_t sid_len,
                                  sigil_ot_party sender, sigil_ot_party receiver,
                                  sigil_buf *msg1);

/* Sender, step 1. Process msg1 for the same (sid, sender, receiver) and
 * append msg2 to the buffer msg2. On success *st is a new setup state. */
int sigil_ot_setup_sender_respond(sigil_ot_setup **st, const uint8_t *sid, size_t sid_len,
                                  sigil_ot_party sender, sigil_ot_party receiver,
                                  const uint8_t *msg1, size_t msg1_len, sigil_buf *msg2);

/* Receiver, step 2. Process msg2, append msg3 (key confirmation) to msg3,
 * and return the long-term receiver state in *out. Consumes st: it is
 * freed whether or not the call succeeds. */
int sigil_ot_setup_receiver_finish(sigil_ot_setup *st, const uint8_t *msg2, size_t msg2_len,
                                   sigil_buf *msg3, sigil_ot_receiver **out);

/* Sender, step 2. Process msg3 (SIGIL_E_CONFIRM if the keys do not match
 * the base-OT outputs) and return the long-term sender state in *out.
 * Consumes st: it is freed whether or not the call succeeds. */
int sigil_ot_setup_sender_finish(sigil_ot_setup *st, const uint8_t *msg3, size_t msg3_len,
                                 sigil_ot_sender **out);

/* Zeroize and free a setup in progress. NULL is ignored. */
void sigil_ot_setup_free(sigil_ot_setup *st);

/* ---- long-term states: inspection, encoding, lifetime -------------------- */

/* The 32-byte fingerprint of the setup (a hash of its public transcript),
 * equal on both sides of a successful setup. Not secret. */
void sigil_ot_sender_fingerprint(const sigil_ot_sender *s, uint8_t out[32]);
void sigil_ot_receiver_fingerprint(const sigil_ot_receiver *r, uint8_t out[32]);
/* The pair the state belongs to. */
void sigil_ot_sender_pair(const sigil_ot_sender *s, sigil_ot_party *sender, sigil_ot_party *receiver);
void sigil_ot_receiver_pair(const sigil_ot_receiver *r, sigil_ot_party *sender, sigil_ot_party *receiver);
/* 1 if the sender state is burned (see SIGIL_E_CHECK above), else 0. */
int sigil_ot_sender_is_burned(const sigil_ot_sender *s);

/* Append the state's encoding (SIGIL_OT_SENDER_ENC_LEN / _RECEIVER_ENC_LEN
 * bytes, versioned) to out, which must have been created with
 * SIGIL_BUF_SECRET (SIGIL_E_INVALID otherwise). */
#define SIGIL_OT_SENDER_ENC_LEN (4 + 2 + 2 + 1 + 32 + 16 + 16 * SIGIL_OT_KAPPA)
#define SIGIL_OT_RECEIVER_ENC_LEN (4 + 2 + 2 + 32 + 32 * SIGIL_OT_KAPPA)
int sigil_ot_sender_encode(const sigil_ot_sender *s, sigil_buf *out);
int sigil_ot_receiver_encode(const sigil_ot_receiver *r, sigil_buf *out);
/* Decode exactly one encoding from in..in+n (SIGIL_E_TRUNCATED /
 * SIGIL_E_TRAILING / SIGIL_E_VERSION / SIGIL_E_ENCODING otherwise) into a
 * new state in *out. */
int sigil_ot_sender_decode(sigil_ot_sender **out, const uint8_t *in, size_t n);
int sigil_ot_receiver_decode(sigil_ot_receiver **out, const uint8_t *in, size_t n);
/* Zeroize and free. NULL is ignored. */
void sigil_ot_sender_free(sigil_ot_sender *s);
void sigil_ot_receiver_free(sigil_ot_receiver *r);

/* ---- extension: correlated OT over Z_q (secp256k1 order) ---------------- */

/* Wire sizes of the extension messages, for budgeting. */
size_t sigil_ot_ext_msg1_len(size_t ell);
size_t sigil_ot_ext_msg2_len(size_t ell, size_t width);

/* Receiver, step 1. choices holds ell bits packed little-endian (bit j is
 * (choices[j / 8] >> (j % 8)) & 1; unused high bits of the last byte must
 * be zero), 1 <= ell <= SIGIL_OT_MAX_ELL, 1 <= width <= SIGIL_OT_MAX_WIDTH,
 * sid 1..SIGIL_OT_MAX_SID bytes and unique per extension. On success *st
 * is a new in-progress extension (single use) and msg1 is appended to the
 * buffer msg1 (sigil_ot_ext_msg1_len(ell) bytes). r is not modified. */
int sigil_ot_ext_receive_start(sigil_ot_ext_recv **st, const sigil_ot_receiver *r,
                               const uint8_t *sid, size_t sid_len, size_t ell, size_t width,
                               const uint8_t *choices, sigil_buf *msg1);

/* Sender, the only step. alpha holds the correlations, row-major:
 * alpha_count == ell * width: alpha[j * width + i] is alpha_{j,i};
 * alpha_count == width:       alpha[i] is alpha_{j,i} for every j
 *                             (DKLs23 forced reuse).
 * Scalars are secp256k1 scalars (sigil_group_get(SIGIL_GROUP_SECP256K1)).
 * Verifies msg1 (binding and the consistency check), then writes
 * t_a[j * width + i] for j < ell, i < width (ell * width scalars) and
 * appends msg2 (sigil_ot_ext_msg2_len(ell, width) bytes) to msg2. An alpha
 * that is not a canonical scalar (>= q) fails with SIGIL_E_SCALAR. On error
 * t_a is zeroed and msg2 untouched; on SIGIL_E_CHECK s is burned. */
int sigil_ot_ext_send(sigil_ot_sender *s, const uint8_t *sid, size_t sid_len, size_t ell,
                      size_t width, const sigil_scalar *alpha, size_t alpha_count,
                      const uint8_t *msg1, size_t msg1_len, sigil_scalar *t_a, sigil_buf *msg2);

/* Receiver, step 2. Process msg2 and write t_b[j * width + i] (ell * width
 * scalars, ell and width as given to _start). Consumes st: it is freed
 * whether or not the call succeeds. On error t_b is zeroed.
 * Note: the receiver cannot tell a tampered correction from a sender that
 * chose other alphas (that is the sender's right in correlated OT); the
 * DKLs23 multiplication's own check catches inconsistent alphas. Only
 * malformed or misbound messages are rejected here. */
int sigil_ot_ext_receive_finish(sigil_ot_ext_recv *st, const uint8_t *msg2, size_t msg2_len,
                                sigil_scalar *t_b);

/* Zeroize and free an extension in progress (e.g. on session abort). */
void sigil_ot_ext_recv_free(sigil_ot_ext_recv *st);

#endif
