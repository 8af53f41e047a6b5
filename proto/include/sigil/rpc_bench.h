/* sigil-bench rpc: micro-benchmark of one mTLS unary call through the
 * proto/ glue (server in a separate process on 127.0.0.1, client here).
 * Prints its parameters, the core count, sequential latency (p50/p90/p99)
 * and throughput with 1, 4 and 16 calls in flight, and the in-process
 * baseline (decode + handler + encode without RPC). */
#ifndef SIGIL_RPC_BENCH_H
#define SIGIL_RPC_BENCH_H

/* argv[0] is the subcommand name; --help lists the options. Returns the
 * process exit status. */
int sigil_bench_rpc(int argc, char **argv);

#endif
