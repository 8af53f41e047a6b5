/* sigil-bench load: N concurrent mTLS wallet clients against a running
 * coordinator, for a fixed duration or a fixed count. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <grpc/status.h>
#include <secp256k1.h>
#include <secp256k1_schnorrsig.h>
#include <sodium.h>

#include "sigil/coord.h"
#include "sigil/coord_bench.h"
#include "sigil/err.h"
#include "sigil/rpc.h"
#include "sigil/v1/wallet.pb-c.h"

typedef struct {
    const char *target, *ca, *cert, *keyf, *key_id;
    unsigned clients, batch;
    double seconds;
    unsigned long count;
    int scheme;
} load_opts;

typedef struct {
    const load_opts *o;
    sigil_rpc_client *c;
    double *lat;          /* microseconds per call */
    size_t nlat, cap;
    unsigned long errs[17];
    unsigned long sigs;
} worker;

static atomic_ulong issued;
static atomic_int stop_flag;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    const load_opts *o = w->o;
    int digest = o->scheme == SIGIL__V1__SCHEME__SCHEME_BIP340 ||
                 o->scheme == SIGIL__V1__SCHEME__SCHEME_ECDSA_SECP256K1;
    uint8_t data[1024][32], rid[16];
    Sigil__V1__SignItem items[1024], *ptrs[1024];
    sigil_buf req, resp;
    sigil_buf_init(&req, 1 << 20, 0);
    sigil_buf_init(&resp, 1 << 20, 0);
    for (unsigned i = 0; i < o->batch; i++) {
        sigil__v1__sign_item__init(&items[i]);
        items[i].payload_case =
            digest ? SIGIL__V1__SIGN_ITEM__PAYLOAD_DIGEST : SIGIL__V1__SIGN_ITEM__PAYLOAD_MESSAGE;
        if (digest)
            items[i].digest = (ProtobufCBinaryData){32, data[i]};
        else
            items[i].message = (ProtobufCBinaryData){32, data[i]};
        ptrs[i] = &items[i];
    }
    while (!atomic_load(&stop_flag)) {
        if (o->count && atomic_fetch_add(&issued, 1) >= o->count)
            break;
        for (unsigned i = 0; i < o->batch; i++)
            randombytes_buf(data[i], 32);
        randombytes_buf(rid, sizeof rid);
        sigil_buf_reset(&req);
        req.size = req.off = 0;
        sigil_buf_reset(&resp);
        resp.size = resp.off = 0;
        const char *method;
        if (o->batch > 1) {
            Sigil__V1__SignBatchRequest r = SIGIL__V1__SIGN_BATCH_REQUEST__INIT;
            r.key_id = (char *)o->key_id;
            r.request_id = (ProtobufCBinaryData){sizeof rid, rid};
            r.items = ptrs;
            r.n_items = o->batch;
            sigil_rpc_pack(&r.base, &req);
            method = SIGIL_RPC_WALLET_SIGN_BATCH;
        } else {
            Sigil__V1__SignRequest r = SIGIL__V1__SIGN_REQUEST__INIT;
            r.key_id = (char *)o->key_id;
            r.request_id = (ProtobufCBinaryData){sizeof rid, rid};
            r.item = &items[0];
            sigil_rpc_pack(&r.base, &req);
            method = SIGIL_RPC_WALLET_SIGN;
        }
        sigil_rpc_status st;
        memset(&st, 0, sizeof st);
        double t0 = now_s();
        int rc = sigil_rpc_call_unary(w->c, method, req.data, req.size, &resp, 10000, &st);
        double us = (now_s() - t0) * 1e6;
        if (rc) {
            int code = st.code > 0 && st.code < 17 ? st.code : GRPC_STATUS_UNKNOWN;
            w->errs[code]++;
            continue;
        }
        if (w->nlat == w->cap) {
            w->cap = w->cap ? 2 * w->cap : 4096;
            double *p = realloc(w->lat, w->cap * sizeof *p);
            if (!p)
                break;
            w->lat = p;
        }
        w->lat[w->nlat++] = us;
        w->sigs += o->batch;
    }
    sigil_buf_free(&req);
    sigil_buf_free(&resp);
    return NULL;
}

static int get_key(const load_opts *o, sigil_rpc_client *c, Sigil__V1__KeyInfo **ki,
                   ProtobufCMessage **m)
{
    Sigil__V1__GetPublicKeyRequest req = SIGIL__V1__GET_PUBLIC_KEY_REQUEST__INIT;
    sigil_rpc_status st;
    memset(&st, 0, sizeof st);
    req.key_id = (char *)o->key_id;
    int rc = sigil_rpc_call_msg(c, SIGIL_RPC_WALLET_GET_PUBLIC_KEY, &req.base,
                                &sigil__v1__get_public_key_response__descriptor, m, 10000, &st);
    if (rc) {
        fprintf(stderr, "sigil-bench load: GetPublicKey(%s): %s %s\n", o->key_id,
                sigil_rpc_status_name(st.code), st.detail);
        return rc;
    }
    *ki = ((Sigil__V1__GetPublicKeyResponse *)*m)->key;
    return 0;
}

/* Single-key baseline in this process, same scheme family: libsodium
 * Ed25519 for Ed25519, libsecp256k1 ECDSA for ECDSA, libsecp256k1 BIP-340
 * Schnorr for the two secp256k1 Schnorr schemes. *name gets what ran. */
static double baseline_us(int scheme, const char **name)
{
    uint8_t msg[32] = {0}, sig[64];
    const int n = 2000;
    double t0;
    if (scheme == SIGIL__V1__SCHEME__SCHEME_ED25519 || scheme == 0) {
        uint8_t pk[32], sk[64];
        crypto_sign_keypair(pk, sk);
        *name = "libsodium Ed25519 sign";
        t0 = now_s();
        for (int i = 0; i < n; i++) {
            msg[0] = (uint8_t)i;
            crypto_sign_detached(sig, NULL, msg, sizeof msg, sk);
        }
        sodium_memzero(sk, sizeof sk);
        return (now_s() - t0) * 1e6 / n;
    }
    secp256k1_context *ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    uint8_t sk[32];
    do
        randombytes_buf(sk, 32);
    while (!secp256k1_ec_seckey_verify(ctx, sk));
    if (scheme == SIGIL__V1__SCHEME__SCHEME_ECDSA_SECP256K1) {
        secp256k1_ecdsa_signature es;
        *name = "libsecp256k1 ECDSA sign";
        t0 = now_s();
        for (int i = 0; i < n; i++) {
            msg[0] = (uint8_t)i;
            if (!secp256k1_ecdsa_sign(ctx, &es, msg, sk, NULL, NULL))
                break;
        }
    } else {
        secp256k1_keypair kp;
        *name = "libsecp256k1 BIP-340 sign";
        if (!secp256k1_keypair_create(ctx, &kp, sk))
            return 0;
        t0 = now_s();
        for (int i = 0; i < n; i++) {
            msg[0] = (uint8_t)i;
            if (!secp256k1_schnorrsig_sign32(ctx, sig, msg, &kp, NULL))
                break;
        }
        sodium_memzero(&kp, sizeof kp);
    }
    double us = (now_s() - t0) * 1e6 / n;
    sodium_memzero(sk, sizeof sk);
    secp256k1_context_destroy(ctx);
    return us;
}

int sigil_bench_load(int argc, char **argv)
{
    load_opts o = {"127.0.0.1:7443", NULL, NULL, NULL, NULL, 16, 1, 5.0, 0, 0};
    for (int i = 1; i < argc; i += 2) { /* every option takes one value */
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("usage: sigil-bench load --ca F --cert F --key F --key-id KEY [--target H:P]\n"
                   "                        [--clients N] [--seconds S | --count C] [--batch B]\n"
                   "N concurrent mTLS wallet clients (one channel each) call Sign (or SignBatch\n"
                   "of B items) on KEY for S seconds or C calls; prints throughput, latency\n"
                   "p50/p99/p99.9, errors by gRPC status, scheme, t/n and the core count.\n");
            return 0;
        }
        if (!v)
            goto bad;
        if (!strcmp(a, "--target"))
            o.target = v;
        else if (!strcmp(a, "--ca"))
            o.ca = v;
        else if (!strcmp(a, "--cert"))
            o.cert = v;
        else if (!strcmp(a, "--key"))
            o.keyf = v;
        else if (!strcmp(a, "--key-id"))
            o.key_id = v;
        else if (!strcmp(a, "--clients"))
            o.clients = (unsigned)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--seconds"))
            o.seconds = strtod(v, NULL);
        else if (!strcmp(a, "--count"))
            o.count = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--batch"))
            o.batch = (unsigned)strtoul(v, NULL, 10);
        else
            goto bad;
    }
    if (!o.ca || !o.cert || !o.keyf || !o.key_id || o.clients < 1 || o.clients > 256 ||
        o.batch < 1 || o.batch > 1024)
        goto bad;
    if (sodium_init() < 0)
        return 1;

    sigil_rpc_client_config cc = {0};
    cc.target = o.target;
    cc.tls = (sigil_rpc_tls){o.ca, o.cert, o.keyf};
    cc.expect_identity = "sigil://coordinator";
    worker *w = calloc(o.clients, sizeof *w);
    pthread_t *th = calloc(o.clients, sizeof *th);
    if (!w || !th)
        return 1;
    for (unsigned i = 0; i < o.clients; i++) {
        w[i].o = &o;
        if (sigil_rpc_client_new(&cc, &w[i].c)) {
            fprintf(stderr, "sigil-bench load: cannot make client\n");
            return 1;
        }
    }
    Sigil__V1__KeyInfo *ki = NULL;
    ProtobufCMessage *km = NULL;
    if (get_key(&o, w[0].c, &ki, &km))
        return 1;
    o.scheme = ki->scheme;
    const char *sname = sigil_coord_scheme_name(ki->scheme);
    printf("sigil-bench load: target %s key %s scheme %s t/n %u/%u\n", o.target, o.key_id,
           sname ? sname : "?", ki->threshold, ki->num_parties);
    printf("  clients %u (one mTLS channel each), %s %u item%s per call, %s %g%s\n", o.clients,
           o.batch > 1 ? "SignBatch" : "Sign", o.batch, o.batch > 1 ? "s" : "",
           o.count ? "count" : "seconds", o.count ? (double)o.count : o.seconds,
           o.count ? " calls" : "");
    printf("  cores online %ld\n", sysconf(_SC_NPROCESSORS_ONLN));
    const char *bname = "";
    double bus = baseline_us(ki->scheme, &bname);
    printf("  baseline (single key, in process, %s): %.1f us/sig\n", bname, bus);
    sigil_rpc_msg_free(km);

    atomic_store(&issued, 0);
    atomic_store(&stop_flag, 0);
    double t0 = now_s();
    for (unsigned i = 0; i < o.clients; i++)
        pthread_create(&th[i], NULL, worker_main, &w[i]);
    if (!o.count) {
        struct timespec ts = {(time_t)o.seconds,
                              (long)((o.seconds - (double)(time_t)o.seconds) * 1e9)};
        nanosleep(&ts, NULL);
        atomic_store(&stop_flag, 1);
    }
    for (unsigned i = 0; i < o.clients; i++)
        pthread_join(th[i], NULL);
    double el = now_s() - t0;

    size_t total = 0;
    unsigned long sigs = 0, errs[17] = {0}, nerr = 0;
    for (unsigned i = 0; i < o.clients; i++) {
        total += w[i].nlat;
        sigs += w[i].sigs;
        for (int k = 0; k < 17; k++)
            errs[k] += w[i].errs[k], nerr += w[i].errs[k];
    }
    double *all = malloc((total ? total : 1) * sizeof *all);
    size_t n = 0;
    for (unsigned i = 0; i < o.clients; i++) {
        if (w[i].nlat)
            memcpy(all + n, w[i].lat, w[i].nlat * sizeof *all);
        n += w[i].nlat;
        free(w[i].lat);
        sigil_rpc_client_free(w[i].c);
    }
    qsort(all, n, sizeof *all, cmp_d);
#define PCT(p) (n ? all[(size_t)((double)(n - 1) * (p))] / 1000.0 : 0.0)
    printf("calls ok %zu, errors %lu, elapsed %.2f s\n", n, nerr, el);
    printf("throughput %.0f signatures/s (%.0f calls/s)\n", (double)sigs / el, (double)n / el);
    printf("latency per call: p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  p99.9 %.3f ms  max %.3f ms\n",
           PCT(0.5), PCT(0.9), PCT(0.99), PCT(0.999), n ? all[n - 1] / 1000.0 : 0.0);
    for (int k = 0; k < 17; k++)
        if (errs[k])
            printf("errors %s: %lu\n", sigil_rpc_status_name(k), errs[k]);
    free(all);
    free(w);
    free(th);
    return nerr && !n ? 1 : 0;
bad:
    fprintf(stderr, "sigil-bench load: see --help\n");
    return 2;
}
