/* Subcommands of sigil-hsm (and, for `bench`, of sigil-bench): each is a
 * main-like function, argv[0] being the subcommand's name. Each prints its
 * options on --help. Exit status 0 on success, 1 on failure, 2 on usage. */
#ifndef SIGIL_HSM_CLI_H
#define SIGIL_HSM_CLI_H

/* Create the sealing key and an Ed25519 identity key in a token. */
int sigil_hsm_cmd_provision(int argc, char **argv);
/* Print an Ed25519 public key (hex) from a token. */
int sigil_hsm_cmd_pubkey(int argc, char **argv);
/* Check a provisioned token: key protection, seal/unseal and sign self-test. */
int sigil_hsm_cmd_check(int argc, char **argv);
/* Measure seal/unseal/sign throughput and unseal latency. */
int sigil_hsm_cmd_bench(int argc, char **argv);

#endif
