/* sigil-bench ecdsa: DKLs23 threshold ECDSA for 2-of-3, 3-of-5 and
 * 11-of-20 (signing with t parties): key generation (DKG + pairwise OT
 * setup), presign, the online step (one party's share, and combine +
 * verify), the full signature (presign + every online share + combine),
 * and bytes sent per party per signature and per key generation; plus the
 * single-key libsecp256k1 ECDSA sign measured in the same run. Times are
 * this thread's CPU time, all parties running in one process, reported as
 * median and p90 in milliseconds. */
#include <secp256k1.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "sigil/ecdsa.h"
#include "sigil/err.h"
#include "sigil/group.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *cfg, const char *op, double *v, size_t n)
{
    if (n == 0)
        return;
    qsort(v, n, sizeof *v, cmp_d);
    printf("%-8s %-34s %10.4f %10.4f %6zu\n", cfg, op, v[n / 2], v[(size_t)((double)(n - 1) * 0.9)],
           n);
}

static uint64_t max_sent(const sigil_ecdsa_sim_stats *s)
{
    uint64_t m = 0;
    for (int i = 0; i < SIGIL_ECDSA_MAX_PARTIES; i++)
        if (s->sent[i] > m)
            m = s->sent[i];
    return m;
}

static int bench_cfg(unsigned t, unsigned n, size_t dkg_iters, size_t sign_iters)
{
    char cfg[16];
    snprintf(cfg, sizeof cfg, "%u-of-%u", t, n);
    double *dkg = calloc(dkg_iters, sizeof(double)), *pre = calloc(sign_iters, sizeof(double)),
           *share = calloc(sign_iters, sizeof(double)), *comb = calloc(sign_iters, sizeof(double)),
           *full = calloc(sign_iters, sizeof(double));
    sigil_ecdsa_sim *sim = NULL;
    sigil_ecdsa_sim_stats st, st2;
    uint64_t dkg_bytes = 0, sig_bytes = 0;
    uint16_t cul;
    int rc = 1;
    if (!dkg || !pre || !share || !comb || !full)
        goto out;
    for (size_t i = 0; i < dkg_iters; i++) {
        double t0 = now_ms();
        if (sigil_ecdsa_sim_keygen(&sim, t, n, &st, &cul) != SIGIL_OK)
            goto out;
        dkg[i] = now_ms() - t0;
        dkg_bytes = max_sent(&st);
        if (i + 1 < dkg_iters) {
            sigil_ecdsa_sim_free(sim);
            sim = NULL;
        }
    }
    uint16_t ids[SIGIL_ECDSA_MAX_PARTIES];
    for (unsigned i = 0; i < t; i++)
        ids[i] = (uint16_t)(i + 1);
    for (size_t it = 0; it < sign_iters; it++) {
        sigil_ecdsa_presig *ps[SIGIL_ECDSA_MAX_PARTIES];
        sigil_ecdsa_combiner cb[SIGIL_ECDSA_MAX_PARTIES];
        sigil_buf msgs[SIGIL_ECDSA_MAX_PARTIES];
        uint8_t sid[SIGIL_ECDSA_SID_LEN], d[32], sig[64];
        int recid;
        randombytes_buf(sid, sizeof sid);
        randombytes_buf(d, sizeof d);
        double t0 = now_ms();
        if (sigil_ecdsa_sim_presign(sim, ids, t, sid, ps, &st, &cul) != SIGIL_OK)
            goto out;
        double t1 = now_ms();
        double online_all = 0;
        for (unsigned i = 0; i < t; i++) {
            if (sigil_buf_init(&msgs[i], 256, 0) != SIGIL_OK)
                goto out;
            double a = now_ms();
            if (sigil_ecdsa_sign_share(ps[i], d, &msgs[i], &cb[i]) != SIGIL_OK)
                goto out;
            double b = now_ms();
            online_all += b - a;
            if (i == 0)
                share[it] = b - a;
        }
        double c0 = now_ms();
        if (sigil_ecdsa_combine(&cb[0], msgs, sig, &recid, &cul) != SIGIL_OK)
            goto out;
        double c1 = now_ms();
        comb[it] = c1 - c0;
        pre[it] = t1 - t0;
        full[it] = (t1 - t0) + online_all + (c1 - c0);
        memset(&st2, 0, sizeof st2);
        for (unsigned i = 0; i < t; i++) {
            st.sent[ids[i] - 1] += (uint64_t)msgs[i].size * (t - 1);
            sigil_buf_free(&msgs[i]);
            sigil_ecdsa_presig_free(ps[i]);
        }
        sig_bytes = max_sent(&st);
    }
    report(cfg, "keygen (DKG + OT setup, all)", dkg, dkg_iters);
    report(cfg, "presign (all parties)", pre, sign_iters);
    report(cfg, "online share (one party)", share, sign_iters);
    report(cfg, "combine + verify", comb, sign_iters);
    report(cfg, "full signature (all parties)", full, sign_iters);
    printf("%-8s %-34s %10.1f KB per party (max)\n", cfg, "sent per signature", (double)sig_bytes / 1024);
    printf("%-8s %-34s %10.1f KB per party (max)\n", cfg, "sent per key generation",
           (double)dkg_bytes / 1024);
    rc = 0;
out:
    if (rc)
        fprintf(stderr, "sigil-bench ecdsa: %s failed\n", cfg);
    sigil_ecdsa_sim_free(sim);
    free(dkg);
    free(pre);
    free(share);
    free(comb);
    free(full);
    return rc;
}

static int bench_single(size_t iters)
{
    secp256k1_context *ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    double *v = calloc(iters, sizeof(double));
    uint8_t sk[32], d[32];
    if (ctx == NULL || v == NULL)
        return 1;
    do
        randombytes_buf(sk, 32);
    while (!secp256k1_ec_seckey_verify(ctx, sk));
    for (size_t i = 0; i < iters; i++) {
        secp256k1_ecdsa_signature s;
        randombytes_buf(d, 32);
        double t0 = now_ms();
        if (!secp256k1_ecdsa_sign(ctx, &s, d, sk, NULL, NULL))
            return 1;
        v[i] = now_ms() - t0;
    }
    report("1-of-1", "libsecp256k1 ecdsa_sign (baseline)", v, iters);
    sodium_memzero(sk, 32);
    free(v);
    secp256k1_context_destroy(ctx);
    return 0;
}

int sigil_bench_ecdsa(int argc, char **argv)
{
    int quick = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) {
            quick = 1;
        } else {
            fprintf(stderr, "usage: sigil-bench ecdsa [--quick]\n");
            return 2;
        }
    }
    if (sigil_mpc_init() != SIGIL_OK)
        return 1;
    printf("sigil-bench ecdsa: DKLs23 over secp256k1, all parties in one process, CPU time of "
           "this thread; signing with t parties\n");
    printf("cores online: %ld%s\n", sysconf(_SC_NPROCESSORS_ONLN), quick ? " (quick run)" : "");
    printf("%-8s %-34s %10s %10s %6s\n", "config", "operation", "median ms", "p90 ms", "runs");
    if (bench_single(quick ? 100 : 2000))
        return 1;
    if (bench_cfg(2, 3, quick ? 1 : 9, quick ? 5 : 101))
        return 1;
    if (bench_cfg(3, 5, quick ? 1 : 5, quick ? 3 : 51))
        return 1;
    if (!quick && bench_cfg(11, 20, 1, 11))
        return 1;
    return 0;
}
