/* sigil-bench frost: DKG, per-party round 1 and round 2, and aggregation
 * for 2-of-3, 7-of-10 and 67-of-100 in every FROST suite, with the
 * single-key baselines (libsodium Ed25519 sign, libsecp256k1 BIP-340 sign)
 * measured in the same run. Times are per-thread CPU time (the machine is
 * shared), reported as median and p90 in milliseconds. */
#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../sim/sim.h"
#include "bench.h"
#include "sigil/err.h"
#include "sigil/frost.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

typedef struct {
    double *v;
    size_t n, cap;
} samples;

static void add(samples *s, double x)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        double *nv = realloc(s->v, s->cap * sizeof(*nv));
        if (nv == NULL)
            abort();
        s->v = nv;
    }
    s->v[s->n++] = x;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *suite, const char *cfg, const char *op, samples *s)
{
    if (s->n == 0)
        return;
    qsort(s->v, s->n, sizeof(double), cmp_d);
    /* lower median; p90 = the smallest value with at least 90% of samples at or below it */
    size_t i90 = (s->n * 9 + 9) / 10;
    double med = s->v[(s->n - 1) / 2], p90 = s->v[i90 ? i90 - 1 : 0];
    printf("%-16s %-10s %-22s %10.4f %10.4f %8zu\n", suite, cfg, op, med, p90, s->n);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

static int bench_cfg(sigil_frost_suite s, uint32_t t, uint32_t n, int runs, int dkg_runs)
{
    const sigil_group *g = sigil_frost_group(s);
    const char *name = sigil_frost_name(s);
    char cfg[32];
    snprintf(cfg, sizeof(cfg), "%u-of-%u", t, n);
    sigil_scalar *ids = calloc(n, sizeof(*ids));
    sigil_keyshare *ks = calloc(n, sizeof(*ks));
    sigil_frost_nonce **nonce = calloc(t, sizeof(*nonce));
    sigil_buf *comm = calloc(t, sizeof(*comm)), *share = calloc(t, sizeof(*share));
    samples dkg = {0}, r1 = {0}, r2 = {0}, aggr = {0}, agg = {0}, whole = {0}, whole_full = {0};
    int rc = SIGIL_E_NOMEM;
    if (!ids || !ks || !nonce || !comm || !share)
        goto out;
    for (uint32_t i = 0; i < n; i++)
        sigil_scalar_random(g, &ids[i]);
    for (int r = 0; r < dkg_runs; r++) {
        if (r > 0)
            for (uint32_t i = 0; i < n; i++)
                sigil_keyshare_free(&ks[i]);
        double t0 = now_ms();
        if ((rc = sigil_sim_frost_dkg(s, t, n, ids, ks)))
            goto out;
        add(&dkg, (now_ms() - t0) / n); /* per party: all n parties ran in this thread */
    }
    for (uint32_t i = 0; i < t; i++)
        if ((rc = sigil_buf_init(&comm[i], 256, 0)) || (rc = sigil_buf_init(&share[i], 128, 0)))
            goto out;
    uint8_t msg[32], sig[SIGIL_FROST_SIG_MAX], sig_full[SIGIL_FROST_SIG_MAX], R[SIGIL_POINT_MAX_LEN];
    size_t rlen = 0;
    for (int r = 0; r < runs; r++) {
        uint32_t off = (uint32_t)r % n; /* rotate the signer set */
        double total = 0;
        randombytes_buf(msg, sizeof(msg));
        for (uint32_t i = 0; i < t; i++) {
            sigil_buf_reset(&comm[i]);
            sigil_buf_reset(&share[i]);
            double t0 = now_ms();
            rc = sigil_frost_commit(s, &ks[(off + i) % n], &nonce[i], &comm[i]);
            double dt = now_ms() - t0;
            if (rc)
                goto out;
            add(&r1, dt);
            total += dt;
        }
        for (uint32_t i = 0; i < t; i++) {
            sigil_frost_package *p;
            double t0 = now_ms();
            rc = sigil_frost_package_for_signer(s, &ks[(off + i) % n], nonce[i], msg, sizeof(msg), comm, t, &p);
            if (rc == 0)
                rc = sigil_frost_sign(s, &ks[(off + i) % n], nonce[i], p, &share[i]);
            /* the signer reports R with its share */
            if (rc == 0 && i == 0)
                rc = sigil_frost_package_group_commitment(p, R, &rlen);
            sigil_frost_package_free(p);
            double dt = now_ms() - t0;
            sigil_frost_nonce_free(nonce[i]);
            nonce[i] = NULL;
            if (rc)
                goto out;
            add(&r2, dt);
            total += dt;
        }
        double dt_r;
        {
            /* the coordinator's aggregate with the R a signer reported */
            uint32_t culprit;
            double t0 = now_ms();
            rc = sigil_frost_aggregate_with_r(s, &ks[off], msg, sizeof(msg), comm, t, share, R, rlen, sig, &culprit);
            dt_r = now_ms() - t0;
            if (rc)
                goto out;
            add(&aggr, dt_r);
        }
        {
            /* the full path (package rebuilt; what blame needs) */
            sigil_frost_package *p;
            uint32_t culprit;
            double t0 = now_ms();
            rc = sigil_frost_package_new(s, &ks[off], msg, sizeof(msg), comm, t, &p);
            if (rc == 0)
                rc = sigil_frost_aggregate(s, &ks[off], p, share, t, sig_full, &culprit);
            sigil_frost_package_free(p);
            double dt = now_ms() - t0;
            if (rc)
                goto out;
            if (memcmp(sig, sig_full, sigil_frost_sig_len(s)) != 0) {
                fprintf(stderr, "sigil-bench frost: the two aggregates differ\n");
                rc = SIGIL_E_MISMATCH;
                goto out;
            }
            add(&agg, dt);
            add(&whole_full, total + dt);
        }
        total += dt_r;
        add(&whole, total);
    }
    rc = SIGIL_OK;
    report(name, cfg, "dkg (per party)", &dkg);
    report(name, cfg, "round1 (per party)", &r1);
    report(name, cfg, "round2 (per party)", &r2);
    report(name, cfg, "aggregate, reported R", &aggr);
    report(name, cfg, "aggregate full package", &agg);
    report(name, cfg, "whole sig, all CPU", &whole);
    report(name, cfg, "whole, full aggregate", &whole_full);
out:
    if (rc)
        fprintf(stderr, "sigil-bench frost: %s %s failed: %s\n", name, cfg, sigil_strerror(rc));
    for (uint32_t i = 0; ks && i < n; i++)
        sigil_keyshare_free(&ks[i]);
    for (uint32_t i = 0; i < t && nonce && comm && share; i++) {
        sigil_frost_nonce_free(nonce[i]);
        sigil_buf_free(&comm[i]);
        sigil_buf_free(&share[i]);
    }
    free(dkg.v);
    free(r1.v);
    free(r2.v);
    free(aggr.v);
    free(agg.v);
    free(whole.v);
    free(whole_full.v);
    free(ids);
    free(ks);
    free(nonce);
    free(comm);
    free(share);
    return rc;
}

static void baselines(int runs)
{
    samples ed = {0}, k1 = {0};
    uint8_t pk[32], sk[64], sig[64], msg[32], seed[32];
    crypto_sign_keypair(pk, sk);
    secp256k1_context *ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    secp256k1_keypair kp;
    do
        randombytes_buf(seed, sizeof(seed));
    while (!secp256k1_keypair_create(ctx, &kp, seed));
    for (int r = 0; r < runs; r++) {
        randombytes_buf(msg, sizeof(msg));
        double t0 = now_ms();
        crypto_sign_detached(sig, NULL, msg, sizeof(msg), sk);
        add(&ed, now_ms() - t0);
        randombytes_buf(seed, sizeof(seed));
        t0 = now_ms();
        int ok = secp256k1_schnorrsig_sign32(ctx, sig, msg, &kp, seed);
        add(&k1, now_ms() - t0);
        if (!ok)
            fprintf(stderr, "secp256k1_schnorrsig_sign32 failed\n");
    }
    report("single-key", "1-of-1", "libsodium ed25519 sign", &ed);
    report("single-key", "1-of-1", "libsecp256k1 bip340 sign", &k1);
    secp256k1_context_destroy(ctx);
    sodium_memzero(sk, sizeof(sk));
    sodium_memzero(&kp, sizeof(kp));
}

int sigil_bench_frost(int argc, char **argv)
{
    int quick = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) {
            quick = 1;
        } else {
            FILE *f = strcmp(argv[i], "--help") && strcmp(argv[i], "-h") ? stderr : stdout;
            fprintf(f, "usage: sigil-bench frost [--quick]\n"
                       "FROST micro-benchmarks: DKG, per-party round 1 / round 2, aggregate\n"
                       "(including the verification of the signature) for 2-of-3, 7-of-10 and\n"
                       "67-of-100 in every suite, and single-key baselines. --quick: 2-of-3\n"
                       "only, few runs (a smoke test).\n");
            return f == stdout ? 0 : 2;
        }
    }
    if (sigil_mpc_init() != SIGIL_OK)
        return 1;
    struct {
        uint32_t t, n;
        int runs, dkg_runs;
    } cfgs[3] = {{2, 3, 400, 20}, {7, 10, 100, 5}, {67, 100, 12, 1}};
    int ncfg = quick ? 1 : 3;
    if (quick) {
        cfgs[0].runs = 10;
        cfgs[0].dkg_runs = 2;
    }
    printf("sigil-bench frost: cores online %ld, clock CLOCK_THREAD_CPUTIME_ID, times in ms\n",
           sysconf(_SC_NPROCESSORS_ONLN));
    printf("runs (signatures / DKGs):");
    for (int c = 0; c < ncfg; c++)
        printf(" %u-of-%u %d/%d", cfgs[c].t, cfgs[c].n, cfgs[c].runs, cfgs[c].dkg_runs);
    printf("; message 32 bytes; round2 includes building the signing package;\n"
           "aggregate (incl. verification against the group key) both with the R a signer\n"
           "reported (sigil_frost_aggregate_with_r) and with the full package (the path blame\n"
           "uses); \"whole sig\" = all parties' round1 + round2 + aggregate with reported R\n");
    printf("%-16s %-10s %-22s %10s %10s %8s\n", "suite", "config", "operation", "median", "p90", "samples");
    baselines(quick ? 20 : 1000);
    int rc = 0;
    for (int c = 0; c < ncfg; c++)
        for (int si = 0; si < 3; si++) {
            sigil_frost_suite s = si == 0 ? SIGIL_FROST_ED25519 : si == 1 ? SIGIL_FROST_SECP256K1 : SIGIL_FROST_BIP340;
            if (bench_cfg(s, cfgs[c].t, cfgs[c].n, cfgs[c].runs, cfgs[c].dkg_runs))
                rc = 1;
        }
    return rc;
}
