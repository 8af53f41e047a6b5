/* `sigil-bench audit`: the audit log's benchmark subcommand (audit-log/bench.c,
 * library sigil_audit_bench). argv[0] is the subcommand name; returns the
 * exit status. Register it in tools/sigil-bench.c's table as
 *   {"audit", sigil_bench_audit, "audit log: durable appends/s, syncs/entry, added latency, verify speed"},
 */
#ifndef SIGIL_AUDIT_BENCH_H
#define SIGIL_AUDIT_BENCH_H

int sigil_bench_audit(int argc, char **argv);

#endif
