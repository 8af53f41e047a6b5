/* Threshold ECDSA on secp256k1 (DKLs23, eprint 2023/765), and plain ECDSA
 * verification.
 *
 * Parties are numbered 1..n (uint16_t). Every protocol step is sans-I/O: a
 * function from (state, inbound messages) to (new state, outbound messages).
 * Every message is a sigil_buf holding one envelope (see "Envelope" below)
 * that binds version, message type, session id, sender and recipient; every
 * hash and commitment in the protocol is computed over the same binding.
 *
 * Errors: functions return SIGIL_OK or a negative SIGIL_E_* code. Functions
 * that process messages from other parties take `uint16_t *culprit`: on
 * failure caused by a message it is set to the sender of that message (the
 * misbehaving party; for a failed pairwise check, the party whose message
 * failed it), otherwise to 0. A session that failed is aborted: every later
 * call on it returns SIGIL_E_STATE.
 *
 * Secret state (shares, nonces, multiplication pads, presignatures) lives in
 * libsodium secure memory and is zeroized on free and on consumption.
 *
 * sigil_mpc_init() (sigil/group.h) must have been called first. */
#ifndef SIGIL_ECDSA_H
#define SIGIL_ECDSA_H

#include <stddef.h>
#include <stdint.h>

#include "sigil/buf.h"
#include "sigil/dkg.h"

/* ===================================================================== */
/* Plain ECDSA verification (libsecp256k1).                              */
/* ===================================================================== */

enum {
    /* Accept a high-s signature (s > n/2) by normalizing it before
     * verification. Without this flag high-s signatures are rejected with
     * SIGIL_E_SIGNATURE, as Bitcoin (BIP-146 LOW_S) and libsecp256k1 do. */
    SIGIL_ECDSA_ALLOW_HIGH_S = 1u << 0,
};

/* Verify a 64-byte compact signature r||s (big-endian, each < n, non-zero)
 * over a 32-byte digest with a SEC1 public key (33-byte compressed or
 * 65-byte uncompressed). The digest is used as is (it is the z of ECDSA
 * after truncation, which for 32-byte digests is the identity).
 * Returns SIGIL_OK, SIGIL_E_POINT (bad key), SIGIL_E_ENCODING (r or s out of
 * range) or SIGIL_E_SIGNATURE (does not verify, or high-s without
 * SIGIL_ECDSA_ALLOW_HIGH_S). */
int sigil_ecdsa_verify(const uint8_t *pub, size_t publen, const uint8_t digest[32],
                       const uint8_t sig[64], unsigned flags);

/* As sigil_ecdsa_verify with a DER-encoded signature. Only strict DER is
 * accepted (libsecp256k1's parser: BER variants fail with SIGIL_E_ENCODING;
 * values >= n parse but never verify). */
int sigil_ecdsa_verify_der(const uint8_t *pub, size_t publen, const uint8_t digest[32],
                           const uint8_t *der, size_t derlen, unsigned flags);

/* Recover the public key from (digest, r||s, recovery id); writes the
 * 33-byte compressed key. SIGIL_E_SIGNATURE if no key results. */
int sigil_ecdsa_recover(uint8_t pub33[33], const uint8_t digest[32], const uint8_t sig[64],
                        int recid);

/* ===================================================================== */
/* Envelope: the framing of every DKLs23 message.                        */
/* ===================================================================== */

#define SIGIL_ECDSA_VERSION 1
#define SIGIL_ECDSA_SID_LEN 32
#define SIGIL_ECDSA_MAX_PARTIES 64
/* Largest payload any message type can carry; larger envelopes are
 * rejected with SIGIL_E_TOO_LARGE before anything else is parsed. */
#define SIGIL_ECDSA_MAX_PAYLOAD (256u * 1024u)

typedef enum {
    SIGIL_ECDSA_MSG_SETUP1 = 0x10,    /* pairwise OT setup, first message */
    SIGIL_ECDSA_MSG_SETUP2 = 0x11,
    SIGIL_ECDSA_MSG_SETUP3 = 0x12,
    SIGIL_ECDSA_MSG_PRESIGN1 = 0x20,  /* commitment + multiplication (Bob) */
    SIGIL_ECDSA_MSG_PRESIGN2 = 0x21,  /* decommitment + multiplication (Alice) */
    SIGIL_ECDSA_MSG_SIGN = 0x30,      /* online share (w_i, u_i) */
} sigil_ecdsa_msg_type;

/* Envelope layout (big-endian):
 *   u8  version (SIGIL_ECDSA_VERSION)
 *   u8  type (sigil_ecdsa_msg_type)
 *   32  session id
 *   u16 sender (1..SIGIL_ECDSA_MAX_PARTIES)
 *   u16 recipient (1..SIGIL_ECDSA_MAX_PARTIES, != sender; 0 = broadcast)
 *   u32 payload length (<= SIGIL_ECDSA_MAX_PAYLOAD), payload
 * and nothing after. */
typedef struct {
    uint8_t type;
    uint8_t sid[SIGIL_ECDSA_SID_LEN];
    uint16_t sender;
    uint16_t recipient;
    const uint8_t *payload; /* points into the decoded input */
    size_t payload_len;
} sigil_ecdsa_msg;

/* Decode one envelope from n bytes at p; out->payload points into p.
 * SIGIL_E_VERSION (version or type), SIGIL_E_PARTICIPANT (ids),
 * SIGIL_E_TOO_LARGE, SIGIL_E_TRUNCATED, SIGIL_E_TRAILING. */
int sigil_ecdsa_msg_decode(sigil_ecdsa_msg *out, const uint8_t *p, size_t n);

/* ===================================================================== */
/* Key shares.                                                           */
/* ===================================================================== */

/* A party's share of a threshold key: its Shamir share x_i, the group key Y,
 * every party's verification share X_j = x_j*G, and the per-pair
 * multiplication (OT) setup. Opaque, in secure memory. */
typedef struct sigil_ecdsa_share sigil_ecdsa_share;

/* A party's secret-shared key before the pairwise OT setup has been run:
 * what a DKG or a dealer split produces. Opaque, in secure memory. */
typedef struct sigil_ecdsa_keyshare sigil_ecdsa_keyshare;

/* Trusted-dealer split, for importing an existing key inside a ceremony
 * only: split the 32-byte secret key sk (0 < sk < n) into n Shamir shares of
 * threshold t (1 <= t <= n <= SIGIL_ECDSA_MAX_PARTIES; t >= 2 for a
 * meaningful threshold, t == 1 is refused: SIGIL_E_THRESHOLD).
 * out[0..n-1] receive one keyshare per party 1..n (free each with
 * sigil_ecdsa_keyshare_free). The polynomial is zeroized. */
int sigil_ecdsa_dealer_split(sigil_ecdsa_keyshare **out, const uint8_t sk[32], unsigned t,
                             unsigned n);

/* Build a keyshare from a DKG result: this party's id and secret share, the
 * threshold, and the n verification shares X_1..X_n (33-byte compressed
 * each, concatenated). The group key is interpolated from X and checked to
 * be consistent with every t-subset (SIGIL_E_SHARE otherwise); x_i*G must
 * equal X_i (SIGIL_E_SHARE). */
int sigil_ecdsa_keyshare_from_dkg(sigil_ecdsa_keyshare **out, uint16_t id, unsigned t, unsigned n,
                                  const uint8_t xi[32], const uint8_t *X, size_t Xlen);

/* Build a keyshare from the generic DKG (sigil/dkg.h) run over secp256k1
 * with identifiers 1..n (ids[j] = j+1; SIGIL_E_PARTICIPANT otherwise) and
 * the context SIGIL_ECDSA_DKG_CONTEXT; k must hold the secret. The DKG has
 * already checked the shares, proofs of knowledge and confirmations; this
 * re-checks the verification shares as sigil_ecdsa_keyshare_from_dkg. */
#define SIGIL_ECDSA_DKG_CONTEXT "DKLS23-SECP256K1-v1"
int sigil_ecdsa_keyshare_from_dkg_share(sigil_ecdsa_keyshare **out, const sigil_keyshare *k);

void sigil_ecdsa_keyshare_free(sigil_ecdsa_keyshare *k);

/* ---- refresh ----
 * A refresh is a DKG (sigil/dkg.h, same context, ids 1..n, ALL n parties)
 * in which party i deals a polynomial whose constant term is its additive
 * share lambda_i * x_i (lambda over all n parties), so the new shares are a
 * fresh degree t-1 sharing of the same key, followed by a new pairwise
 * setup (new OT states). Steps for party i:
 *   1. sigil_ecdsa_refresh_coeffs(old, coeffs): t coefficients for
 *      sigil_dkg_round1 (a_0 = lambda_i x_i, the rest random; secure
 *      memory supplied by the caller, zeroize after round 1).
 *   2. after sigil_dkg_round2: sigil_ecdsa_refresh_check(old, dkg,
 *      &culprit): every dealer's C_{j,0} must equal lambda_j X_j (else
 *      SIGIL_E_SHARE naming j): nobody can shift the key.
 *   3. after sigil_dkg_finish: sigil_ecdsa_keyshare_from_refresh(&ks, old,
 *      newshare): checks that the group key is unchanged (SIGIL_E_MISMATCH).
 *   4. the setup rounds on ks, giving the new share; then destroy the old
 *      share. Old and new shares do not combine: the OT states differ
 *      (SIGIL_E_MISMATCH from the extension) and the Shamir shares lie on
 *      different polynomials. */
int sigil_ecdsa_refresh_coeffs(const sigil_ecdsa_share *old, sigil_scalar *coeffs);
int sigil_ecdsa_refresh_check(const sigil_ecdsa_share *old, const sigil_dkg *d, uint16_t *culprit);
int sigil_ecdsa_keyshare_from_refresh(sigil_ecdsa_keyshare **out, const sigil_ecdsa_share *old,
                                      const sigil_keyshare *k);

/* The 33-byte compressed group public key. */
void sigil_ecdsa_keyshare_pubkey(const sigil_ecdsa_keyshare *k, uint8_t pub[33]);
void sigil_ecdsa_share_pubkey(const sigil_ecdsa_share *s, uint8_t pub[33]);
uint16_t sigil_ecdsa_share_id(const sigil_ecdsa_share *s);
/* The share's Shamir secret x_i as 32 bytes (for tests of refresh and for
 * sealing code only). Secret: the caller zeroizes. */
void sigil_ecdsa_share_secret(const sigil_ecdsa_share *s, uint8_t out[32]);

/* Encoding of a share for sealing: "DKS" 1 || id u16 || t u16 || n u16 ||
 * x_i (32) || Y (33) || X_1..X_n (33 each) || for each peer j in 1..n
 * without self: u32 len || OT sender state || u32 len || OT receiver
 * state. out must be a SIGIL_BUF_SECRET buffer. decode checks everything
 * (x_i*G == X_i, the states belong to the pairs (id, j) / (j, id), lengths
 * exact) and returns SIGIL_E_ENCODING / _VERSION / _SHARE otherwise. */
int sigil_ecdsa_share_encode(const sigil_ecdsa_share *s, sigil_buf *out);
int sigil_ecdsa_share_decode(sigil_ecdsa_share **out, const uint8_t *in, size_t n);

void sigil_ecdsa_share_free(sigil_ecdsa_share *s);

/* ---- pairwise multiplication setup (key generation, import, refresh) ----
 *
 * After a DKG or a dealer split, all n parties run this 3-round protocol
 * once: every ordered pair (i, j) runs the OT pair setup of sigil/ot.h in
 * both directions (i as multiplication sender to j, and as receiver from
 * j). Its result, stored with the share, lets any signer subset presign.
 * The first message also carries a hash of the key's public data (t, n, Y,
 * X_1..X_n); a party whose hash differs is named (SIGIL_E_MISMATCH).
 *
 * Message passing convention for every round function below: out[k] /
 * in[k] is the message to / from the k-th OTHER party in increasing id
 * order (1..n without self for setup; the signer list without self for
 * presign). The caller (the transport) authenticates the sender; a message
 * whose envelope names another sender, another recipient, another session,
 * a type not expected in this round (reordered) or the same content twice is
 * rejected naming the party it came from (in[k]'s sender). Wrong counts are
 * SIGIL_E_INVALID. out[] buffers are writable sigil_bufs created by the
 * caller; on error they are left empty. */
typedef struct sigil_ecdsa_setup sigil_ecdsa_setup;

/* Start the setup. k is copied (the caller still frees it); sid is the
 * setup session's unique id. */
int sigil_ecdsa_setup_new(sigil_ecdsa_setup **st, const sigil_ecdsa_keyshare *k,
                          const uint8_t sid[SIGIL_ECDSA_SID_LEN]);
int sigil_ecdsa_setup_round1(sigil_ecdsa_setup *st, sigil_buf *out);
int sigil_ecdsa_setup_round2(sigil_ecdsa_setup *st, const sigil_buf *in, sigil_buf *out,
                             uint16_t *culprit);
int sigil_ecdsa_setup_round3(sigil_ecdsa_setup *st, const sigil_buf *in, sigil_buf *out,
                             uint16_t *culprit);
/* Process the round-3 messages; on success *share is the usable share.
 * SIGIL_E_CONFIRM here (base-OT key confirmation failed) names the peer j,
 * but only says the pair (self, j) failed: the OT sender cannot tell a bad
 * receiver from a tampered message 2 that it sent itself or a relay
 * changed. Every other error names the sender of the offending message. */
int sigil_ecdsa_setup_finish(sigil_ecdsa_setup *st, const sigil_buf *in,
                             sigil_ecdsa_share **share, uint16_t *culprit);
void sigil_ecdsa_setup_free(sigil_ecdsa_setup *st);


/* ===================================================================== */
/* Signing: presign (two message-independent rounds) and one online round */
/* ===================================================================== */

/* Presigning session state for one party. */
typedef struct sigil_ecdsa_presign sigil_ecdsa_presign;

/* A presignature: single use, bound to one signer set and one session id.
 * Consumed (zeroized and marked used) by sigil_ecdsa_sign_share; any later
 * use returns SIGIL_E_USED. Free with sigil_ecdsa_presig_free. */
typedef struct sigil_ecdsa_presig sigil_ecdsa_presig;

/* Start presigning. signers: the sorted, distinct ids of the signer set
 * (t <= count <= n, must contain the share's own id), sid: the session id,
 * unique per session (the caller must never reuse one; nodes refuse seen
 * ids). Every message, commitment and multiplication of the session is
 * bound to (sid, signer set): a message of the same sid under another
 * signer set is rejected. SIGIL_E_THRESHOLD, SIGIL_E_PARTICIPANT,
 * SIGIL_E_NOMEM; SIGIL_E_STATE if the share has no OT setup toward a
 * signer; SIGIL_E_USED if this party's OT sender state toward a signer is
 * burned (that signer was caught cheating in an earlier extension, see
 * ot.h): refresh before that pair signs again.
 * The share is borrowed (not copied) until the session is freed: its OT
 * sender states are used (and burned if a peer cheats in the extension). */
int sigil_ecdsa_presign_new(sigil_ecdsa_presign **st, sigil_ecdsa_share *share,
                            const uint8_t sid[SIGIL_ECDSA_SID_LEN], const uint16_t *signers,
                            size_t count);

/* Round 1. out: count-1 writable buffers (initialised by the caller with
 * sigil_buf_init), one per other signer in signer order; each receives one
 * PRESIGN1 envelope addressed to that signer. */
int sigil_ecdsa_presign_round1(sigil_ecdsa_presign *st, sigil_buf *out);

/* Round 2: in: the count-1 PRESIGN1 envelopes addressed to this party, by
 * the message passing convention above. out: PRESIGN2 envelopes. A peer
 * that cheated in the OT extension is named (SIGIL_E_CHECK). */
int sigil_ecdsa_presign_round2(sigil_ecdsa_presign *st, const sigil_buf *in, sigil_buf *out,
                               uint16_t *culprit);

/* Finish: in: the PRESIGN2 envelopes addressed to this party. Verifies every
 * decommitment (SIGIL_E_CHECK naming the sender), every multiplication
 * consistency check (SIGIL_E_CHECK naming the Alice of that pair), and the
 * pairwise output checks against R_j and the public share of j
 * (SIGIL_E_CHECK), and the echo: each PRESIGN2 carries a hash of all
 * round-1 commitments its sender saw; any difference from ours is
 * SIGIL_E_MISMATCH naming that sender (it, or a party that equivocated to
 * one of us, misbehaved), so all honest signers agree on R before any
 * online share exists. On success *ps is the presignature. The session is
 * then finished: its secrets are zeroized. */
int sigil_ecdsa_presign_finish(sigil_ecdsa_presign *st, const sigil_buf *in,
                               sigil_ecdsa_presig **ps, uint16_t *culprit);

void sigil_ecdsa_presign_free(sigil_ecdsa_presign *st);
void sigil_ecdsa_presig_free(sigil_ecdsa_presig *ps);

/* The public part of a presignature that the combiner needs: no secrets. */
typedef struct {
    uint8_t sid[SIGIL_ECDSA_SID_LEN];
    uint16_t signers[SIGIL_ECDSA_MAX_PARTIES];
    size_t count;
    uint8_t pubkey[33];   /* group key */
    uint8_t R[33];        /* nonce point */
    uint8_t digest[32];   /* the digest being signed */
} sigil_ecdsa_combiner;

/* Online round: consume ps and produce this party's SIGN envelope
 * (broadcast, recipient 0) over the 32-byte digest; fill *comb with the
 * public data to combine. ps is zeroized and marked used before this
 * returns, whatever the outcome: a second call returns SIGIL_E_USED. */
int sigil_ecdsa_sign_share(sigil_ecdsa_presig *ps, const uint8_t digest[32], sigil_buf *out,
                           sigil_ecdsa_combiner *comb);

/* Combine the count SIGN envelopes (in[k] from comb->signers[k], this
 * party's own included) into a
 * signature: 64-byte r||s with s normalized to low-s, and the recovery id
 * (0..3; Ethereum's v = 27 + recid). The signature is verified against the
 * group key before it is returned; on failure sig is zeroed and
 * SIGIL_E_SIGNATURE is returned (a cheating party is detected but, as in
 * DKLs23, not identified at this step: culprit 0). Envelope problems name
 * their sender. */
int sigil_ecdsa_combine(const sigil_ecdsa_combiner *comb, const sigil_buf *in, uint8_t sig[64],
                        int *recid, uint16_t *culprit);

/* ===================================================================== */
/* In-process driver: every party of a key in one process, every message */
/* passed through its encoding (sigil-sim, sigil-bench, tests).          */
/* ===================================================================== */

typedef struct sigil_ecdsa_sim sigil_ecdsa_sim;

typedef struct {
    /* bytes sent, per party id (index id - 1), by the last operation */
    uint64_t sent[SIGIL_ECDSA_MAX_PARTIES];
} sigil_ecdsa_sim_stats;

/* Key generation for t-of-n: the generic DKG (sigil/dkg.h) with
 * identifiers 1..n, then the pairwise setup. stats (may be NULL) gets the
 * bytes each party sent in both. On a protocol failure *culprit (may be
 * NULL) names the misbehaving party. */
int sigil_ecdsa_sim_keygen(sigil_ecdsa_sim **out, unsigned t, unsigned n,
                           sigil_ecdsa_sim_stats *stats, uint16_t *culprit);
/* The same from a dealer split of sk (import). */
int sigil_ecdsa_sim_import(sigil_ecdsa_sim **out, const uint8_t sk[32], unsigned t, unsigned n,
                           uint16_t *culprit);
/* Refresh every share (refresh DKG + new setup); the old shares are
 * destroyed. */
int sigil_ecdsa_sim_refresh(sigil_ecdsa_sim *sim, sigil_ecdsa_sim_stats *stats, uint16_t *culprit);
/* Presign among signers (sorted ids, t <= count <= n) in session sid;
 * ps[k] receives signers[k]'s presignature. */
int sigil_ecdsa_sim_presign(sigil_ecdsa_sim *sim, const uint16_t *signers, size_t count,
                            const uint8_t sid[SIGIL_ECDSA_SID_LEN], sigil_ecdsa_presig **ps,
                            sigil_ecdsa_sim_stats *stats, uint16_t *culprit);
/* Online round for the count presignatures (consumed) and combine. */
int sigil_ecdsa_sim_sign(sigil_ecdsa_presig **ps, size_t count, const uint8_t digest[32],
                         uint8_t sig[64], int *recid, sigil_ecdsa_sim_stats *stats,
                         uint16_t *culprit);
/* The share of party id (1..n), still owned by sim; NULL if none. */
sigil_ecdsa_share *sigil_ecdsa_sim_share(sigil_ecdsa_sim *sim, uint16_t id);
unsigned sigil_ecdsa_sim_parties(const sigil_ecdsa_sim *sim);
void sigil_ecdsa_sim_free(sigil_ecdsa_sim *sim);

#endif
