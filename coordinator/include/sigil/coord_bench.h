/* sigil-bench load (coordinator/src/bench_load.c): the wallet-side load
 * generator, a subcommand of sigil-bench (tools/sigil-bench.c). */
#ifndef SIGIL_COORD_BENCH_H
#define SIGIL_COORD_BENCH_H

/* main-like: argv[0] is "load"; returns the exit status. */
int sigil_bench_load(int argc, char **argv);

#endif
