/* Stand-alone driver for `sigil-bench audit` until tools/sigil-bench.c
 * (branch frost) registers sigil_bench_audit. Not a test. */
#include "sigil/audit_bench.h"

int main(int argc, char **argv)
{
    return sigil_bench_audit(argc, argv);
}
