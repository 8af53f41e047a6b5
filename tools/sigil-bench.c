/* sigil-bench: load generator and micro-benchmarks. */
#include "bench.h"
#include "ot_bench.h"
#include "sigil/audit_bench.h"
#include "sigil/rpc_bench.h"
#include "sigil/coord_bench.h"
#include "tool.h"

static const sigil_tool_cmd cmds[] = {
    {"ot", sigil_bench_ot, "OT layer: base-OT pair setup, correlated OT extension, bytes; libsecp256k1 baseline"},
    {"frost", sigil_bench_frost, "FROST DKG, round 1, round 2, aggregate; single-key baselines"},
    {"ecdsa", sigil_bench_ecdsa, "DKLs23 ECDSA keygen, presign, online, full signature, bytes; libsecp256k1 baseline"},
    {"rpc", sigil_bench_rpc, "mTLS gRPC unary call: sequential latency, 1/4/16 in flight"},
    {"audit", sigil_bench_audit, "audit log: durable appends/s per backend, syncs/entry, added latency, verify speed"},
    {"load", sigil_bench_load, "N concurrent mTLS wallet clients against a running coordinator"},
    {0, 0, 0},
};

int main(int argc, char **argv)
{
    return sigil_tool_dispatch("sigil-bench", "Sigil benchmarks.", cmds, argc, argv);
}
