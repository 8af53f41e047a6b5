/* sigil-sim subcommands: all parties of a protocol in one process, every
 * message passed through its encoding. */
#ifndef SIGIL_SIM_H
#define SIGIL_SIM_H

#include <stdint.h>

#include "sigil/dkg.h"
#include "sigil/frost.h"

/* ecdsa: DKLs23 threshold ECDSA (mpc/sim/ecdsa.c). */
int sigil_sim_ecdsa(int argc, char **argv);

/* frost-ed25519 | frost-secp256k1 | frost-bip340 (argv[0]). */
int sigil_sim_frost(int argc, char **argv);

/* Run the DKG for n parties with identifiers ids (t-of-n) for suite s,
 * every message through its encoding; out[n] receives the prepared key
 * shares. SIGIL_OK or the first error. Used by sigil-sim and sigil-bench. */
int sigil_sim_frost_dkg(sigil_frost_suite s, uint32_t t, uint32_t n, const sigil_scalar *ids,
                        sigil_keyshare *out);

/* One signature by the signers at key-share indices who[0..k-1]: round 1,
 * a package per signer, round 2, package + aggregate at the coordinator.
 * sig receives sigil_frost_sig_len(s) bytes. */
int sigil_sim_frost_sign(sigil_frost_suite s, sigil_keyshare *ks, const uint32_t *who, size_t k,
                         const uint8_t *msg, size_t msglen, uint8_t *sig);

#endif
