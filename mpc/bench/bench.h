/* sigil-bench subcommands (micro-benchmarks of the protocol library). */
#ifndef SIGIL_BENCH_H
#define SIGIL_BENCH_H

/* sigil-bench frost [--quick] */
int sigil_bench_frost(int argc, char **argv);

/* sigil-bench ecdsa [--quick] (mpc/bench/ecdsa.c) */
int sigil_bench_ecdsa(int argc, char **argv);

#endif
