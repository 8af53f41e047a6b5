/* sigil-bench ot: micro-benchmark of the OT layer (mpc/include/sigil/ot.h).
 * The code lives here with its module; the sigil-bench dispatcher in
 * tools/ lists it as {"ot", sigil_bench_ot, ...}. */
#ifndef SIGIL_OT_BENCH_H
#define SIGIL_OT_BENCH_H

#include <stddef.h>

/* Figures for the ECDSA bench to reuse: CPU time of all parties in
 * microseconds (median and p90 over iters runs) and bytes on the wire. */
typedef struct {
    double setup_med_us, setup_p90_us;     /* one ordered pair: 128 base OTs + confirmation */
    double ext_med_us, ext_p90_us;         /* one extension of ell OTs x width correlations */
    size_t setup_bytes;                    /* msg1 + msg2 + msg3 */
    size_t ext_bytes;                      /* msg1 + msg2 */
} sigil_ot_bench_result;

/* Run the measurements; SIGIL_OK or the first error. */
int sigil_ot_bench_run(size_t ell, size_t width, int setup_iters, int ext_iters, sigil_ot_bench_result *res);

/* sigil-bench ot [--ell L] [--width W] [--iters N] [--quick]: prints parameters, core
 * count, median and p90 of setup and extension (and of each step), bytes,
 * and the single-key libsecp256k1 ECDSA sign baseline in the same run. */
int sigil_bench_ot(int argc, char **argv);

#endif
