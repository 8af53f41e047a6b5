/* sigil-bench ot: see ot_bench.h. Runs every party in this thread and
 * measures process CPU time, so the figures are all parties' CPU. */
#include "ot_bench.h"

#include <secp256k1.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sigil/err.h"
#include "sigil/group.h"
#include "sigil/ot.h"

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void stats(double *v, int n, double *med, double *p90)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    *med = v[n / 2];
    *p90 = v[(n * 9) / 10 < n ? (n * 9) / 10 : n - 1];
}

static int setup_once(int i, sigil_ot_sender **S, sigil_ot_receiver **R, size_t *bytes)
{
    sigil_buf m1, m2, m3;
    sigil_ot_setup *rs, *ss;
    char sid[32];
    int rc;
    snprintf(sid, sizeof(sid), "bench-setup-%d", i);
    sigil_buf_init(&m1, 1 << 16, 0);
    sigil_buf_init(&m2, 1 << 16, 0);
    sigil_buf_init(&m3, 1 << 16, 0);
    if ((rc = sigil_ot_setup_receiver_start(&rs, (const uint8_t *)sid, strlen(sid), 1, 2, &m1)) == SIGIL_OK &&
        (rc = sigil_ot_setup_sender_respond(&ss, (const uint8_t *)sid, strlen(sid), 1, 2, m1.data, m1.size, &m2)) ==
            SIGIL_OK) {
        if ((rc = sigil_ot_setup_receiver_finish(rs, m2.data, m2.size, &m3, R)) == SIGIL_OK)
            rc = sigil_ot_setup_sender_finish(ss, m3.data, m3.size, S);
        else
            sigil_ot_setup_free(ss);
    }
    *bytes = m1.size + m2.size + m3.size;
    sigil_buf_free(&m1);
    sigil_buf_free(&m2);
    sigil_buf_free(&m3);
    return rc;
}

int sigil_ot_bench_run(size_t ell, size_t width, int setup_iters, int ext_iters, sigil_ot_bench_result *res)
{
    sigil_ot_sender *S = NULL;
    sigil_ot_receiver *R = NULL;
    double *v = calloc((size_t)(setup_iters > ext_iters ? setup_iters : ext_iters), sizeof(double));
    uint8_t *ch = malloc((ell + 7) / 8);
    sigil_scalar *alpha = malloc(width * sizeof(*alpha)), *ta = malloc(ell * width * sizeof(*ta)),
                 *tb = malloc(ell * width * sizeof(*tb));
    sigil_buf m1, m2;
    int rc = SIGIL_E_NOMEM;
    memset(res, 0, sizeof(*res));
    sigil_buf_init(&m1, SIGIL_BUF_MAX_LIMIT, 0);
    sigil_buf_init(&m2, SIGIL_BUF_MAX_LIMIT, 0);
    if (!v || !ch || !alpha || !ta || !tb)
        goto out;
    for (int i = 0; i < setup_iters; i++) {
        double t0 = now_us();
        sigil_ot_sender_free(S);
        sigil_ot_receiver_free(R);
        S = NULL, R = NULL;
        if ((rc = setup_once(i, &S, &R, &res->setup_bytes)))
            goto out;
        v[i] = now_us() - t0;
    }
    stats(v, setup_iters, &res->setup_med_us, &res->setup_p90_us);
    randombytes_buf(ch, (ell + 7) / 8);
    if (ell % 8)
        ch[ell / 8] &= (uint8_t)((1u << (ell % 8)) - 1);
    for (size_t k = 0; k < width; k++)
        if ((rc = sigil_scalar_random(sigil_group_get(SIGIL_GROUP_SECP256K1), &alpha[k])))
            goto out;
    for (int i = 0; i < ext_iters; i++) {
        char sid[32];
        sigil_ot_ext_recv *st;
        snprintf(sid, sizeof(sid), "bench-ext-%d", i);
        sigil_buf_reset(&m1);
        sigil_buf_reset(&m2);
        double t0 = now_us();
        if ((rc = sigil_ot_ext_receive_start(&st, R, (const uint8_t *)sid, strlen(sid), ell, width, ch, &m1)))
            goto out;
        if ((rc = sigil_ot_ext_send(S, (const uint8_t *)sid, strlen(sid), ell, width, alpha, width, m1.data, m1.size,
                                    ta, &m2))) {
            sigil_ot_ext_recv_free(st);
            goto out;
        }
        if ((rc = sigil_ot_ext_receive_finish(st, m2.data, m2.size, tb)))
            goto out;
        v[i] = now_us() - t0;
        res->ext_bytes = m1.size + m2.size;
    }
    stats(v, ext_iters, &res->ext_med_us, &res->ext_p90_us);
    rc = SIGIL_OK;
out:
    sigil_ot_sender_free(S);
    sigil_ot_receiver_free(R);
    sigil_buf_free(&m1);
    sigil_buf_free(&m2);
    if (ta)
        sodium_memzero(ta, ell * width * sizeof(*ta));
    if (tb)
        sodium_memzero(tb, ell * width * sizeof(*tb));
    free(v);
    free(ch);
    free(alpha);
    free(ta);
    free(tb);
    return rc;
}

/* Single-key baseline: libsecp256k1 ECDSA sign of a 32-byte digest. */
static void baseline(int iters, double *med, double *p90)
{
    secp256k1_context *ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    uint8_t key[32], msg[32];
    secp256k1_ecdsa_signature sig;
    double *v = calloc((size_t)iters, sizeof(double));
    do
        randombytes_buf(key, 32);
    while (!secp256k1_ec_seckey_verify(ctx, key));
    for (int i = 0; i < iters && v; i++) {
        randombytes_buf(msg, 32);
        double t0 = now_us();
        if (!secp256k1_ecdsa_sign(ctx, &sig, msg, key, NULL, NULL))
            break;
        v[i] = now_us() - t0;
    }
    if (v)
        stats(v, iters, med, p90);
    free(v);
    sodium_memzero(key, sizeof(key));
    secp256k1_context_destroy(ctx);
}

int sigil_bench_ot(int argc, char **argv)
{
    size_t ell = 416, width = 2;
    int iters = 200, setup_iters = 20;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--ell") && i + 1 < argc)
            ell = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--width") && i + 1 < argc)
            width = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--iters") && i + 1 < argc)
            iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--quick"))
            iters = 5, setup_iters = 2;
        else {
            fprintf(stderr, "usage: sigil-bench ot [--ell L] [--width W] [--iters N] [--quick]\n");
            return 2;
        }
    }
    if (ell == 0 || ell > SIGIL_OT_MAX_ELL || width == 0 || width > SIGIL_OT_MAX_WIDTH || iters < 1) {
        fprintf(stderr, "sigil-bench ot: parameters out of range\n");
        return 2;
    }
    if (sigil_mpc_init() != SIGIL_OK)
        return 1;
    sigil_ot_bench_result r;
    int rc = sigil_ot_bench_run(ell, width, setup_iters, iters, &r);
    if (rc != SIGIL_OK) {
        fprintf(stderr, "sigil-bench ot: %s\n", sigil_errname(rc));
        return 1;
    }
    double bmed = 0, bp90 = 0;
    baseline(iters, &bmed, &bp90);
    printf("sigil-bench ot: kappa=%d base OTs per ordered pair, ell=%zu OTs x width=%zu correlations mod n(secp256k1)\n",
           SIGIL_OT_KAPPA, ell, width);
    printf("cores online: %ld; CPU time of all parties (one thread), microseconds\n", sysconf(_SC_NPROCESSORS_ONLN));
    printf("%-34s %10s %10s %10s\n", "step", "median", "p90", "bytes");
    printf("%-34s %10.1f %10.1f %10zu\n", "pair setup (base OT, 3 msgs)", r.setup_med_us, r.setup_p90_us,
           r.setup_bytes);
    printf("%-34s %10.1f %10.1f %10zu\n", "extension (2 msgs)", r.ext_med_us, r.ext_p90_us, r.ext_bytes);
    printf("%-34s %10s %10s %10zu\n", "  ext msg1 (receiver -> sender)", "", "", sigil_ot_ext_msg1_len(ell));
    printf("%-34s %10s %10s %10zu\n", "  ext msg2 (sender -> receiver)", "", "", sigil_ot_ext_msg2_len(ell, width));
    printf("%-34s %10.1f %10.1f %10s\n", "baseline: secp256k1 ECDSA sign", bmed, bp90, "");
    return 0;
}
