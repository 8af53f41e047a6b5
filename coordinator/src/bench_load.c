/* sigil-bench load: a wallet-side load generator against a running
 * coordinator, for a fixed duration or a fixed count.
 *
 * Closed loop (default): --clients N calls are kept in flight over C mTLS
 * channels (default 2); each completion issues the next call at once, from
 * the channel's completion thread (sigil_rpc_call_start), so the generator
 * runs C threads whatever N is, not one blocking thread per client. Open loop
 * (--rate R): calls are issued at R per second on a fixed schedule by the
 * main thread, whatever the latency, and each call's latency is measured
 * from its scheduled time (a late issue counts against the server, no
 * coordinated omission); at most --clients calls are in flight, arrivals
 * beyond that are counted as dropped. The generator's own CPU time
 * (getrusage) is printed per call so it can be subtracted. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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

#define LOAD_CHANNELS_MAX 64
#define LOAD_CLIENTS_MAX 4096
#define LOAD_BATCH_MAX 1024
#define LOAD_TIMEOUT_MS 10000
#define LOAD_WATCH_MAX 16

typedef struct {
    const char *target, *ca, *cert, *keyf, *key_id;
    unsigned clients, channels, batch;
    int clients_set;
    double seconds, rate;
    unsigned long count;
    int scheme;
    /* --watch NAME=PID: other processes whose CPU time is reported */
    unsigned nwatch;
    char watch_name[LOAD_WATCH_MAX][32];
    long watch_pid[LOAD_WATCH_MAX];
    double watch_cpu[LOAD_WATCH_MAX]; /* seconds at the start */
} load_opts;

struct run;

/* One mTLS channel. Its async calls complete on its own completion thread,
 * one at a time, so everything below is touched by that thread only
 * (except `c` and, before the run, the rest by the main thread). */
typedef struct {
    struct run *run;
    sigil_rpc_client *c;
    sigil_buf req;      /* scratch for the next request (closed loop) */
    double *lat;        /* microseconds per successful call */
    size_t nlat, cap;
    unsigned long errs[17];
    int oom;
} channel;

/* One call in flight. */
typedef struct {
    channel *ch;
    double t0; /* issue time (closed loop) or scheduled time (open loop) */
} call;

typedef struct run {
    const load_opts *o;
    channel *ch;
    int digest;          /* the scheme signs a 32-byte digest (else a message) */
    atomic_ulong issued; /* calls issued (count mode: reserved) */
    atomic_uint inflight;
    atomic_int stop;
    atomic_ulong start_fail; /* calls that could not be started */
    pthread_mutex_t mu;
    pthread_cond_t idle; /* inflight reached 0 */
} run;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

/* User + system CPU seconds of process pid from /proc/PID/stat (fields 14
 * and 15, counted after the parenthesised command name, which may itself
 * hold spaces or parentheses); -1 if it cannot be read. */
static double proc_cpu_s(long pid)
{
    char path[64], text[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    char *p = strrchr(text, ')');
    unsigned long ut, st;
    /* after ')': state(3) ppid pgrp session tty tpgid flags minflt cminflt
     * majflt cmajflt utime(14) stime(15) */
    if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* NAME=PID, NAME 1..31 characters, PID a running process. */
static int add_watch(load_opts *o, const char *v)
{
    const char *eq = strchr(v, '=');
    char *end;
    if (!eq || eq == v || (size_t)(eq - v) >= sizeof o->watch_name[0] || o->nwatch >= LOAD_WATCH_MAX)
        return 0;
    long pid = strtol(eq + 1, &end, 10);
    if (end == eq + 1 || *end || pid <= 0 || proc_cpu_s(pid) < 0)
        return 0;
    memcpy(o->watch_name[o->nwatch], v, (size_t)(eq - v));
    o->watch_name[o->nwatch][eq - v] = 0;
    o->watch_pid[o->nwatch++] = pid;
    return 1;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Pack one Sign / SignBatch request for fresh random digests (or 32-byte
 * messages) and a fresh request id into out (reset first). */
static int build_request(const run *R, sigil_buf *out)
{
    const load_opts *o = R->o;
    uint8_t data[LOAD_BATCH_MAX + 1][32]; /* the items, then the request id */
    Sigil__V1__SignItem items[LOAD_BATCH_MAX], *ptrs[LOAD_BATCH_MAX];
    uint8_t *rid = data[o->batch];
    randombytes_buf(data, ((size_t)o->batch + 1) * 32);
    for (unsigned i = 0; i < o->batch; i++) {
        sigil__v1__sign_item__init(&items[i]);
        if (R->digest) {
            items[i].payload_case = SIGIL__V1__SIGN_ITEM__PAYLOAD_DIGEST;
            items[i].digest = (ProtobufCBinaryData){32, data[i]};
        } else {
            items[i].payload_case = SIGIL__V1__SIGN_ITEM__PAYLOAD_MESSAGE;
            items[i].message = (ProtobufCBinaryData){32, data[i]};
        }
        ptrs[i] = &items[i];
    }
    sigil_buf_reset(out);
    out->size = out->off = 0;
    if (o->batch > 1) {
        Sigil__V1__SignBatchRequest r = SIGIL__V1__SIGN_BATCH_REQUEST__INIT;
        r.key_id = (char *)o->key_id;
        r.request_id = (ProtobufCBinaryData){16, rid};
        r.items = ptrs;
        r.n_items = o->batch;
        return sigil_rpc_pack(&r.base, out);
    }
    Sigil__V1__SignRequest r = SIGIL__V1__SIGN_REQUEST__INIT;
    r.key_id = (char *)o->key_id;
    r.request_id = (ProtobufCBinaryData){16, rid};
    r.item = &items[0];
    return sigil_rpc_pack(&r.base, out);
}

static void call_done(void *arg, int rc, const sigil_rpc_status *st, const uint8_t *resp,
                      size_t len);

static void inflight_dec(run *R)
{
    if (atomic_fetch_sub(&R->inflight, 1) == 1) {
        pthread_mutex_lock(&R->mu);
        pthread_cond_signal(&R->idle);
        pthread_mutex_unlock(&R->mu);
    }
}

/* Count mode: reserve one of the calls; 0 when all are taken. */
static int reserve(run *R)
{
    return !R->o->count || atomic_fetch_add(&R->issued, 1) < R->o->count;
}

/* Issue k's call on its channel with the request in buf, timed from t0.
 * The caller counted it in inflight; on failure the call ends here. */
static void issue(call *k, const sigil_buf *buf, double t0)
{
    run *R = k->ch->run;
    const char *method = R->o->batch > 1 ? SIGIL_RPC_WALLET_SIGN_BATCH : SIGIL_RPC_WALLET_SIGN;
    k->t0 = t0;
    int rc = sigil_rpc_call_start(k->ch->c, method, buf->data, buf->size, LOAD_TIMEOUT_MS,
                                  call_done, k);
    if (rc != SIGIL_OK) { /* not started, done never runs: retire the call */
        if (R->o->rate > 0)
            free(k);
        atomic_fetch_add(&R->start_fail, 1);
        inflight_dec(R);
    }
}

/* Completion, on the channel's thread: record, then (closed loop) issue the
 * next call on the same slot, or retire the slot. */
static void call_done(void *arg, int rc, const sigil_rpc_status *st, const uint8_t *resp,
                      size_t len)
{
    call *k = arg;
    channel *ch = k->ch;
    run *R = ch->run;
    double t1 = now_s();
    (void)resp;
    (void)len;
    if (rc != SIGIL_OK) {
        int code = st && st->code > 0 && st->code < 17 ? st->code : GRPC_STATUS_UNKNOWN;
        ch->errs[code]++;
    } else if (ch->nlat == ch->cap && !ch->oom) {
        size_t cap = ch->cap ? 2 * ch->cap : 4096;
        double *p = realloc(ch->lat, cap * sizeof *p);
        if (p) {
            ch->lat = p;
            ch->cap = cap;
        } else {
            ch->oom = 1;
        }
    }
    if (rc == SIGIL_OK && ch->nlat < ch->cap)
        ch->lat[ch->nlat++] = (t1 - k->t0) * 1e6;
    if (R->o->rate > 0) { /* open loop: the schedule issues, not completions */
        free(k);
        inflight_dec(R);
        return;
    }
    if (atomic_load(&R->stop) || !reserve(R) || build_request(R, &ch->req) != SIGIL_OK) {
        inflight_dec(R);
        return;
    }
    issue(k, &ch->req, now_s());
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

static void sleep_until(double t)
{
    double d = t - now_s();
    if (d <= 0)
        return;
    struct timespec ts = {(time_t)d, (long)((d - (double)(time_t)d) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Open loop: issue call i at t0 + i / rate until the duration or count is
 * reached. Returns the arrivals dropped because max in flight were busy. */
static unsigned long pace(run *R, double t0, sigil_buf *buf, unsigned long *start_errs)
{
    const load_opts *o = R->o;
    unsigned long dropped = 0;
    for (unsigned long i = 0;; i++) {
        double at = t0 + (double)i / o->rate;
        if (o->count ? i >= o->count : at - t0 >= o->seconds)
            break;
        sleep_until(at);
        if (atomic_load(&R->inflight) >= o->clients) {
            dropped++;
            continue;
        }
        call *k = malloc(sizeof *k);
        if (!k || build_request(R, buf) != SIGIL_OK) {
            free(k);
            start_errs[GRPC_STATUS_RESOURCE_EXHAUSTED]++;
            continue;
        }
        k->ch = &R->ch[i % o->channels];
        atomic_fetch_add(&R->inflight, 1);
        issue(k, buf, at);
    }
    return dropped;
}

static unsigned parse_u(const char *v, unsigned long max, int *ok)
{
    char *end;
    errno = 0;
    unsigned long x = strtoul(v, &end, 10);
    if (errno || end == v || *end || x > max)
        *ok = 0;
    return (unsigned)x;
}

static double parse_d(const char *v, int *ok)
{
    char *end;
    double x = strtod(v, &end);
    if (end == v || *end || !(x >= 0))
        *ok = 0;
    return x;
}

static void usage(void)
{
    printf(
        "usage: sigil-bench load --ca F --cert F --key F --key-id KEY [--target H:P]\n"
        "         [--clients N] [--channels C] [--rate R] [--seconds S | --count K] [--batch B]\n"
        "Calls Sign (or SignBatch of B items, 1..1024) on KEY over C mTLS channels\n"
        "(default min(N, 2), at most 64), for S seconds (default 5) or K calls.\n"
        "  closed loop (default): N calls kept in flight (default 16, at most 4096);\n"
        "    each completion issues the next call at once.\n"
        "  --rate R: open loop, R calls/s on a fixed schedule whatever the latency;\n"
        "    latency counts from each call's scheduled time; at most N in flight\n"
        "    (default 4096 with --rate), arrivals beyond that are reported as dropped.\n"
        "Prints throughput, latency per call (p50 p90 p99 p99.9 max), errors by\n"
        "gRPC status, scheme, t/n, the core count, a single-key signing baseline\n"
        "measured in this process, and this generator's own CPU time per call\n"
        "(subtract it from the machine's when everything shares the cores).\n"
        "  --watch NAME=PID (repeatable, up to 16): also report that process's CPU\n"
        "    time during the run, per signature, and the machine's cores in use by\n"
        "    all of them with the generator; `scripts/cluster watch DIR` prints the\n"
        "    arguments for a local cluster's coordinator and nodes.\n"
        "example: sigil-bench load --ca ca.pem --cert alice.pem --key alice.key \\\n"
        "           --target 127.0.0.1:7443 --key-id hot-ed --clients 64 --seconds 10 \\\n"
        "           $(scripts/cluster watch DIR)\n");
}

int sigil_bench_load(int argc, char **argv)
{
    load_opts o;
    memset(&o, 0, sizeof o);
    o.target = "127.0.0.1:7443";
    o.clients = 16;
    o.batch = 1;
    o.seconds = 5.0;
    int ok = 1;
    for (int i = 1; i < argc; i += 2) { /* every option takes one value */
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage();
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
            o.clients = parse_u(v, LOAD_CLIENTS_MAX, &ok), o.clients_set = 1;
        else if (!strcmp(a, "--channels"))
            o.channels = parse_u(v, LOAD_CHANNELS_MAX, &ok);
        else if (!strcmp(a, "--seconds"))
            o.seconds = parse_d(v, &ok);
        else if (!strcmp(a, "--count"))
            o.count = parse_u(v, 1ul << 31, &ok);
        else if (!strcmp(a, "--batch"))
            o.batch = parse_u(v, LOAD_BATCH_MAX, &ok);
        else if (!strcmp(a, "--rate"))
            o.rate = parse_d(v, &ok);
        else if (!strcmp(a, "--watch")) {
            if (!add_watch(&o, v)) {
                fprintf(stderr, "sigil-bench load: --watch %s: want NAME=PID of a running process "
                        "(at most %d)\n", v, LOAD_WATCH_MAX);
                return 2;
            }
        } else
            goto bad;
    }
    if (o.rate > 0 && !o.clients_set)
        o.clients = LOAD_CLIENTS_MAX;
    if (!o.channels)
        o.channels = o.clients < 2 ? o.clients : 2;
    if (!ok || !o.ca || !o.cert || !o.keyf || !o.key_id || o.clients < 1 || o.channels < 1 ||
        o.batch < 1 || (!o.count && !(o.seconds > 0)) || o.rate > 1e6)
        goto bad;
    if (o.channels > o.clients && !(o.rate > 0))
        o.channels = o.clients;
    if (sodium_init() < 0)
        return 1;

    run R;
    memset(&R, 0, sizeof R);
    R.o = &o;
    pthread_mutex_init(&R.mu, NULL);
    pthread_cond_init(&R.idle, NULL);
    sigil_rpc_client_config cc = {0};
    cc.target = o.target;
    cc.tls = (sigil_rpc_tls){o.ca, o.cert, o.keyf};
    cc.expect_identity = "sigil://coordinator";
    R.ch = calloc(o.channels, sizeof *R.ch);
    call *slots = o.rate > 0 ? NULL : calloc(o.clients, sizeof *slots);
    int ret = 1;
    double *all = NULL;
    if (!R.ch || (!(o.rate > 0) && !slots))
        goto out;
    for (unsigned i = 0; i < o.channels; i++) {
        R.ch[i].run = &R;
        if (sigil_rpc_client_new(&cc, &R.ch[i].c) ||
            sigil_buf_init(&R.ch[i].req, SIGIL_RPC_MAX_MESSAGE_DEFAULT, 0)) {
            fprintf(stderr, "sigil-bench load: cannot make client\n");
            goto out;
        }
    }
    /* Key info, and every channel connected (TLS handshake done) before the
     * clock starts. */
    Sigil__V1__KeyInfo *ki = NULL;
    ProtobufCMessage *km = NULL;
    for (unsigned i = 0; i < o.channels; i++) {
        sigil_rpc_msg_free(km);
        km = NULL;
        if (get_key(&o, R.ch[i].c, &ki, &km))
            goto out;
    }
    o.scheme = ki->scheme;
    R.digest = o.scheme == SIGIL__V1__SCHEME__SCHEME_BIP340 ||
               o.scheme == SIGIL__V1__SCHEME__SCHEME_ECDSA_SECP256K1;
    const char *sname = sigil_coord_scheme_name(ki->scheme);
    printf("sigil-bench load: target %s key %s scheme %s t/n %u/%u\n", o.target, o.key_id,
           sname ? sname : "?", ki->threshold, ki->num_parties);
    if (o.rate > 0)
        printf("  open loop: rate %g calls/s, at most %u in flight, over %u mTLS channel%s, ", o.rate,
               o.clients, o.channels, o.channels > 1 ? "s" : "");
    else
        printf("  clients %u (calls in flight, closed loop) over %u mTLS channel%s, ", o.clients,
               o.channels, o.channels > 1 ? "s" : "");
    printf("%s %u item%s per call, %s %g%s\n", o.batch > 1 ? "SignBatch" : "Sign", o.batch,
           o.batch > 1 ? "s" : "", o.count ? "count" : "seconds",
           o.count ? (double)o.count : o.seconds, o.count ? " calls" : "");
    printf("  cores online %ld\n", sysconf(_SC_NPROCESSORS_ONLN));
    const char *bname = "";
    double bus = baseline_us(ki->scheme, &bname);
    printf("  baseline (single key, in process, %s): %.1f us/sig\n", bname, bus);
    fflush(stdout);
    sigil_rpc_msg_free(km);

    unsigned long start_errs[17] = {0}, dropped = 0;
    sigil_buf pbuf;
    if (sigil_buf_init(&pbuf, SIGIL_RPC_MAX_MESSAGE_DEFAULT, 0))
        goto out;
    for (unsigned i = 0; i < o.nwatch; i++)
        o.watch_cpu[i] = proc_cpu_s(o.watch_pid[i]);
    double c0 = cpu_s();
    double t0 = now_s();
    if (o.rate > 0) {
        dropped = pace(&R, t0, &pbuf, start_errs);
    } else {
        /* Closed loop: start the N slots, then only completions issue. */
        for (unsigned i = 0; i < o.clients && reserve(&R); i++) {
            slots[i].ch = &R.ch[i % o.channels];
            if (build_request(&R, &pbuf) != SIGIL_OK) {
                start_errs[GRPC_STATUS_RESOURCE_EXHAUSTED]++;
                continue;
            }
            atomic_fetch_add(&R.inflight, 1);
            issue(&slots[i], &pbuf, now_s());
        }
        if (!o.count) {
            sleep_until(t0 + o.seconds);
            atomic_store(&R.stop, 1);
        }
    }
    pthread_mutex_lock(&R.mu);
    while (atomic_load(&R.inflight))
        pthread_cond_wait(&R.idle, &R.mu);
    pthread_mutex_unlock(&R.mu);
    double el = now_s() - t0;
    double cpu = cpu_s() - c0;
    sigil_buf_free(&pbuf);

    size_t total = 0;
    unsigned long errs[17] = {0}, nerr = 0;
    start_errs[GRPC_STATUS_INTERNAL] += atomic_load(&R.start_fail);
    for (int k = 0; k < 17; k++)
        errs[k] = start_errs[k], nerr += start_errs[k];
    for (unsigned i = 0; i < o.channels; i++) {
        total += R.ch[i].nlat;
        for (int k = 0; k < 17; k++)
            errs[k] += R.ch[i].errs[k], nerr += R.ch[i].errs[k];
    }
    if (!(all = malloc((total ? total : 1) * sizeof *all)))
        goto out;
    size_t n = 0;
    for (unsigned i = 0; i < o.channels; i++) {
        if (R.ch[i].nlat)
            memcpy(all + n, R.ch[i].lat, R.ch[i].nlat * sizeof *all);
        n += R.ch[i].nlat;
    }
    qsort(all, n, sizeof *all, cmp_d);
    unsigned long sigs = (unsigned long)n * o.batch;
#define PCT(p) (n ? all[(size_t)((double)(n - 1) * (p))] / 1000.0 : 0.0)
    printf("calls ok %zu, errors %lu, elapsed %.2f s\n", n, nerr, el);
    printf("throughput %.0f signatures/s (%.0f calls/s)\n", (double)sigs / el, (double)n / el);
    printf("latency per call: p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  p99.9 %.3f ms  max %.3f ms\n",
           PCT(0.5), PCT(0.9), PCT(0.99), PCT(0.999), n ? all[n - 1] / 1000.0 : 0.0);
    for (int k = 0; k < 17; k++)
        if (errs[k])
            printf("errors %s: %lu\n", sigil_rpc_status_name(k), errs[k]);
    if (o.rate > 0)
        printf("open loop: %lu arrivals dropped (they found %u calls in flight)\n", dropped,
               o.clients);
    printf("generator CPU %.2f s = %.1f us per call (this process, user+sys)\n", cpu,
           n + nerr ? cpu * 1e6 / (double)(n + nerr) : 0.0);
    if (o.nwatch) {
        double all_cpu = cpu;
        printf("CPU per signature (user+sys):");
        for (unsigned i = 0; i < o.nwatch; i++) {
            double w = proc_cpu_s(o.watch_pid[i]);
            if (w < 0) {
                printf(" %s gone", o.watch_name[i]);
                continue;
            }
            w -= o.watch_cpu[i];
            all_cpu += w;
            printf(" %s %.1f us", o.watch_name[i], sigs ? w * 1e6 / (double)sigs : 0.0);
        }
        printf(", generator %.1f us; all %.1f us = %.2f of %ld cores busy\n",
               sigs ? cpu * 1e6 / (double)sigs : 0.0, sigs ? all_cpu * 1e6 / (double)sigs : 0.0,
               el > 0 ? all_cpu / el : 0.0, sysconf(_SC_NPROCESSORS_ONLN));
    }
    ret = nerr && !n ? 1 : 0;
out:
    for (unsigned i = 0; R.ch && i < o.channels; i++) {
        sigil_rpc_client_free(R.ch[i].c); /* waits for its calls, joins its thread */
        free(R.ch[i].lat);
        sigil_buf_free(&R.ch[i].req);
    }
    free(all);
    free(R.ch);
    free(slots);
    pthread_mutex_destroy(&R.mu);
    pthread_cond_destroy(&R.idle);
    return ret;
bad:
    fprintf(stderr, "sigil-bench load: see --help\n");
    return 2;
}
