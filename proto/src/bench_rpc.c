/* sigil-bench rpc: see sigil/rpc_bench.h. */
#define _GNU_SOURCE
#include "sigil/rpc_bench.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sigil/err.h"
#include "sigil/rpc.h"
#include "sigil/v1/wallet.pb-c.h"

#ifndef SIGIL_DEV_PKI_DEFAULT
#define SIGIL_DEV_PKI_DEFAULT "scripts/dev-pki"
#endif

#define METHOD "/sigil.v1.Wallet/Sign"

typedef struct {
    const char *pki;
    unsigned seconds;
    unsigned seq_calls;
    unsigned server_threads;
    size_t payload;
} opts;

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* CPU seconds used so far by this process and by the server process. */
/* This process's CPU time, including threads that already exited. */
static double cpu_self(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Sum of the on-CPU time (ns precision, /proc/PID/task/TID/schedstat) of
 * every live thread of a process (the server's threads live throughout). */
static double cpu_of(pid_t pid)
{
    char path[64];
    DIR *d;
    struct dirent *e;
    double sum = 0;

    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    if (!(d = opendir(path)))
        return 0;
    while ((e = readdir(d))) {
        char f[384];
        unsigned long long ns = 0;
        FILE *fp;
        if (e->d_name[0] == '.')
            continue;
        if ((size_t)snprintf(f, sizeof(f), "%s/%s/schedstat", path, e->d_name) >= sizeof(f))
            continue;
        if ((fp = fopen(f, "r"))) {
            if (fscanf(fp, "%llu", &ns) == 1)
                sum += (double)ns / 1e9;
            fclose(fp);
        }
    }
    closedir(d);
    return sum;
}

static pid_t server_pid;
static double phase_cpu_c, phase_cpu_s;

static void phase_start(void)
{
    phase_cpu_c = cpu_self();
    phase_cpu_s = cpu_of(server_pid);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(const double *v, size_t n, double p)
{
    size_t i;
    if (!n)
        return 0;
    i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

/* The benchmark handler: decode the SignRequest, answer a 64-byte
 * "signature". No cryptography: this measures the RPC path only. */
static int h_sign(void *ctx, sigil_rpc_call *call)
{
    const Sigil__V1__SignRequest *req = (const Sigil__V1__SignRequest *)call->req;
    Sigil__V1__SignResponse resp = SIGIL__V1__SIGN_RESPONSE__INIT;
    uint8_t sig[64];
    (void)ctx;

    if (!req->item)
        return SIGIL_E_INVALID;
    memset(sig, 0xab, sizeof(sig));
    resp.signature.data = sig;
    resp.signature.len = sizeof(sig);
    resp.scheme = SIGIL__V1__SCHEME__SCHEME_ED25519;
    return sigil_rpc_pack(&resp.base, call->resp);
}

static void file(char *out, size_t n, const char *dir, const char *name)
{
    if ((size_t)snprintf(out, n, "%s/%s", dir, name) >= n)
        out[0] = '\0';
}

static void server_process(const opts *o, int port_fd, int stop_fd)
{
    sigil_rpc_authz *authz = NULL;
    sigil_rpc_server *srv = NULL;
    sigil_rpc_server_config cfg;
    char ca[PATH_MAX], cert[PATH_MAX], key[PATH_MAX], c;
    int port = 0;

    file(ca, sizeof(ca), o->pki, "ca.pem");
    file(cert, sizeof(cert), o->pki, "coordinator.pem");
    file(key, sizeof(key), o->pki, "coordinator.key");
    memset(&cfg, 0, sizeof(cfg));
    cfg.listen = "127.0.0.1:0";
    cfg.tls.ca_file = ca;
    cfg.tls.cert_file = cert;
    cfg.tls.key_file = key;
    cfg.threads = o->server_threads;
    if (sigil_rpc_authz_new(&authz) ||
        sigil_rpc_authz_allow(authz, "sigil://wallet/bench", METHOD, "*"))
        _exit(10);
    cfg.authz = authz;
    if (sigil_rpc_server_new(&cfg, &srv) ||
        sigil_rpc_server_add(srv, METHOD, &sigil__v1__sign_request__descriptor, 0, h_sign, NULL) ||
        sigil_rpc_server_start(srv, &port))
        _exit(11);
    if (write(port_fd, &port, sizeof(port)) != (ssize_t)sizeof(port))
        _exit(12);
    while (read(stop_fd, &c, 1) < 0 && errno == EINTR)
        ;
    sigil_rpc_server_free(srv);
    sigil_rpc_authz_free(authz);
    _exit(0);
}

typedef struct {
    sigil_rpc_client *client;
    const uint8_t *req;
    size_t req_len;
    double until_us;
    double *lat;
    size_t n, cap;
    unsigned errors;
} worker;

static int one_call(worker *w)
{
    sigil_buf resp;
    double t0 = now_us();
    int rc;

    sigil_buf_init(&resp, 1 << 20, 0);
    rc = sigil_rpc_call_unary(w->client, METHOD, w->req, w->req_len, &resp, 10000, NULL);
    sigil_buf_free(&resp);
    if (rc != SIGIL_OK) {
        w->errors++;
        return rc;
    }
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 4096;
        double *nl = realloc(w->lat, cap * sizeof(*nl));
        if (!nl)
            return SIGIL_E_NOMEM;
        w->lat = nl;
        w->cap = cap;
    }
    w->lat[w->n++] = now_us() - t0;
    return SIGIL_OK;
}

static void *run_worker(void *arg)
{
    worker *w = arg;
    while (now_us() < w->until_us)
        if (one_call(w) == SIGIL_E_NOMEM)
            break;
    return NULL;
}

/* Async phase: `inflight` calls kept in flight through sigil_rpc_call_start;
 * every completion (on the client's completion thread) starts the next. */
typedef struct {
    worker w; /* latencies, touched only by the completion thread */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned active;
} async_run;

typedef struct {
    async_run *r;
    double t0;
} async_slot;

static void async_done(void *arg, int rc, const sigil_rpc_status *st, const uint8_t *resp,
                       size_t len)
{
    async_slot *sl = arg;
    async_run *r = sl->r;
    double t = now_us();
    (void)st;
    (void)resp;
    (void)len;

    if (rc != SIGIL_OK) {
        r->w.errors++;
    } else {
        if (r->w.n == r->w.cap) {
            size_t cap = r->w.cap ? 2 * r->w.cap : 4096;
            double *nl = realloc(r->w.lat, cap * sizeof(*nl));
            if (nl) {
                r->w.lat = nl;
                r->w.cap = cap;
            }
        }
        if (r->w.n < r->w.cap)
            r->w.lat[r->w.n++] = t - sl->t0;
    }
    if (t < r->w.until_us) {
        sl->t0 = now_us();
        if (sigil_rpc_call_start(r->w.client, METHOD, r->w.req, r->w.req_len, 10000, async_done,
                                 sl) == SIGIL_OK)
            return;
        r->w.errors++;
    }
    pthread_mutex_lock(&r->mu);
    r->active--;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void report(const char *label, worker *ws, unsigned nw, double elapsed_us)
{
    size_t total = 0, k = 0;
    unsigned errors = 0;
    double *all;

    for (unsigned i = 0; i < nw; i++) {
        total += ws[i].n;
        errors += ws[i].errors;
    }
    if (!(all = malloc((total ? total : 1) * sizeof(*all))))
        return;
    for (unsigned i = 0; i < nw; i++) {
        memcpy(all + k, ws[i].lat, ws[i].n * sizeof(*all));
        k += ws[i].n;
    }
    qsort(all, total, sizeof(*all), cmp_double);
    printf("%-13s calls=%-7zu err=%u %7.0f calls/s  p50=%6.1f us  p90=%6.1f us  "
           "p99=%7.1f us  cpu client %3.0f%% server %3.0f%%\n",
           label, total, errors, (double)total / (elapsed_us / 1e6), pct(all, total, 50),
           pct(all, total, 90), pct(all, total, 99),
           100.0 * (cpu_self() - phase_cpu_c) / (elapsed_us / 1e6),
           100.0 * (cpu_of(server_pid) - phase_cpu_s) / (elapsed_us / 1e6));
    free(all);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: sigil-bench rpc [--pki DIR] [--seconds S] [--calls N] "
               "[--server-threads T] [--payload B]\n"
               "  --pki DIR           dev-pki directory with ca, coordinator, wallet-bench\n"
               "                      (default: a temporary one made by %s)\n"
               "  --seconds S         duration of each in-flight phase (default 2)\n"
               "  --calls N           sequential calls for the latency phase (default 2000)\n"
               "  --server-threads T  server completion-queue threads (default 2)\n"
               "  --payload B         digest/message bytes per request (default 32)\n",
               SIGIL_DEV_PKI_DEFAULT);
}

int sigil_bench_rpc(int argc, char **argv)
{
    opts o = {NULL, 2, 2000, 2, 32};
    char tmp[] = "/tmp/sigil-bench-rpc-XXXXXX", cmd[2 * PATH_MAX + 64];
    char ca[PATH_MAX], cert[PATH_MAX], key[PATH_MAX], target[64];
    int port_pipe[2], stop_pipe[2], port = 0, status, made_pki = 0, rc = 1;
    Sigil__V1__SignRequest req = SIGIL__V1__SIGN_REQUEST__INIT;
    Sigil__V1__SignItem item = SIGIL__V1__SIGN_ITEM__INIT;
    uint8_t *payload = NULL, rid[16];
    sigil_buf reqb;
    sigil_rpc_client *client = NULL;
    sigil_rpc_client_config ccfg;
    pid_t pid;

    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (v && !strcmp(a, "--pki")) {
            o.pki = v;
        } else if (v && !strcmp(a, "--seconds")) {
            o.seconds = (unsigned)strtoul(v, NULL, 10);
        } else if (v && !strcmp(a, "--calls")) {
            o.seq_calls = (unsigned)strtoul(v, NULL, 10);
        } else if (v && !strcmp(a, "--server-threads")) {
            o.server_threads = (unsigned)strtoul(v, NULL, 10);
        } else if (v && !strcmp(a, "--payload")) {
            o.payload = (size_t)strtoul(v, NULL, 10);
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (!o.seconds || !o.seq_calls || !o.server_threads || o.server_threads > 64 ||
        o.payload > (1u << 20)) {
        usage(stderr);
        return 2;
    }
    if (!o.pki) {
        if (!mkdtemp(tmp))
            return 1;
        snprintf(cmd, sizeof(cmd), "'%s' '%s' coordinator wallet/bench", SIGIL_DEV_PKI_DEFAULT,
                 tmp);
        if (system(cmd) != 0) {
            fprintf(stderr, "sigil-bench rpc: %s failed (use --pki DIR)\n", SIGIL_DEV_PKI_DEFAULT);
            return 1;
        }
        o.pki = tmp;
        made_pki = 1;
    }

    /* The request: a SignRequest carrying `payload` bytes. */
    if (!(payload = malloc(o.payload ? o.payload : 1)))
        return 1;
    memset(payload, 0x42, o.payload);
    memset(rid, 0x17, sizeof(rid));
    item.payload_case = SIGIL__V1__SIGN_ITEM__PAYLOAD_DIGEST;
    item.digest.data = payload;
    item.digest.len = o.payload;
    req.key_id = "bench-key";
    req.request_id.data = rid;
    req.request_id.len = sizeof(rid);
    req.item = &item;
    sigil_buf_init(&reqb, 2 << 20, 0);
    if (sigil_rpc_pack(&req.base, &reqb) != SIGIL_OK)
        goto out;

    signal(SIGPIPE, SIG_IGN);
    fflush(stdout);
    if (pipe(port_pipe) || pipe(stop_pipe))
        goto out;
    if ((pid = fork()) < 0) /* before either side initializes gRPC */
        goto out;
    if (pid == 0) {
        close(port_pipe[0]);
        close(stop_pipe[1]);
        server_process(&o, port_pipe[1], stop_pipe[0]);
    }
    server_pid = pid;
    close(port_pipe[1]);
    close(stop_pipe[0]);
    if (read(port_pipe[0], &port, sizeof(port)) != (ssize_t)sizeof(port) || port <= 0) {
        fprintf(stderr, "sigil-bench rpc: server did not start\n");
        goto stop;
    }
    snprintf(target, sizeof(target), "127.0.0.1:%d", port);
    file(ca, sizeof(ca), o.pki, "ca.pem");
    file(cert, sizeof(cert), o.pki, "wallet-bench.pem");
    file(key, sizeof(key), o.pki, "wallet-bench.key");
    memset(&ccfg, 0, sizeof(ccfg));
    ccfg.target = target;
    ccfg.tls.ca_file = ca;
    ccfg.tls.cert_file = cert;
    ccfg.tls.key_file = key;
    ccfg.expect_identity = "sigil://coordinator";
    if (sigil_rpc_client_new(&ccfg, &client) != SIGIL_OK) {
        fprintf(stderr, "sigil-bench rpc: client setup failed\n");
        goto stop;
    }

    printf("sigil-bench rpc: unary mTLS gRPC (TLS 1.3, P-256 certs) over 127.0.0.1, server in a "
           "separate process\n");
    printf("  method %s, request %zu bytes (payload %zu), response SignResponse 64-byte "
           "signature; handler decodes + encodes, no crypto\n",
           METHOD, sigil_buf_len(&reqb), o.payload);
    printf("  cores online %ld, server threads %u; client: one shared channel; 'threads N' = N "
           "threads in blocking sigil_rpc_call_unary, 'async N' = N calls kept in flight by "
           "sigil_rpc_call_start\n",
           sysconf(_SC_NPROCESSORS_ONLN), o.server_threads);
    printf("  sequential calls %u, in-flight phases %u s each\n", o.seq_calls, o.seconds);

    /* Baseline in the same run: the same decode + handler + encode in
     * process, without RPC. */
    {
        unsigned n = 20000;
        double t0 = now_us();
        for (unsigned i = 0; i < n; i++) {
            ProtobufCMessage *m = NULL;
            sigil_buf out;
            sigil_rpc_call call;
            sigil_rpc_peer peer;
            sigil_rpc_identity_parse("sigil://wallet/bench", 20, &peer);
            sigil_buf_init(&out, 1 << 20, 0);
            sigil_rpc_unpack(&sigil__v1__sign_request__descriptor, sigil_buf_ptr(&reqb),
                             sigil_buf_len(&reqb), 1 << 20, &m);
            memset(&call, 0, sizeof(call));
            call.peer = &peer;
            call.req = m;
            call.resp = &out;
            h_sign(NULL, &call);
            sigil_rpc_msg_free(m);
            sigil_buf_free(&out);
        }
        printf("baseline (in process, no RPC): %.2f us per call\n", (now_us() - t0) / n);
    }

    {
        worker w;
        memset(&w, 0, sizeof(w));
        w.client = client;
        w.req = sigil_buf_ptr(&reqb);
        w.req_len = sigil_buf_len(&reqb);
        for (int i = 0; i < 300; i++) /* handshake + warm-up */
            one_call(&w);
        w.n = 0;
        w.errors = 0;
        phase_start();
        double t0 = now_us();
        for (unsigned i = 0; i < o.seq_calls; i++)
            one_call(&w);
        report("sequential", &w, 1, now_us() - t0);
        free(w.lat);
    }

    {
        const unsigned inflight[] = {1, 4, 16};
        for (size_t k = 0; k < sizeof(inflight) / sizeof(inflight[0]); k++) {
            unsigned nw = inflight[k];
            worker ws[16];
            pthread_t th[16];
            char label[32];
            double t0;

            phase_start();
            t0 = now_us();

            memset(ws, 0, sizeof(ws));
            for (unsigned i = 0; i < nw; i++) {
                ws[i].client = client;
                ws[i].req = sigil_buf_ptr(&reqb);
                ws[i].req_len = sigil_buf_len(&reqb);
                ws[i].until_us = t0 + o.seconds * 1e6;
                pthread_create(&th[i], NULL, run_worker, &ws[i]);
            }
            for (unsigned i = 0; i < nw; i++)
                pthread_join(th[i], NULL);
            snprintf(label, sizeof(label), "threads %u", nw);
            report(label, ws, nw, now_us() - t0);
            for (unsigned i = 0; i < nw; i++)
                free(ws[i].lat);
        }
    }
    {
        const unsigned inflight[] = {1, 4, 16};
        for (size_t k = 0; k < sizeof(inflight) / sizeof(inflight[0]); k++) {
            async_run r;
            async_slot slots[16];
            char label[32];
            double t0;

            memset(&r, 0, sizeof(r));
            pthread_mutex_init(&r.mu, NULL);
            pthread_cond_init(&r.cv, NULL);
            r.w.client = client;
            r.w.req = sigil_buf_ptr(&reqb);
            r.w.req_len = sigil_buf_len(&reqb);
            phase_start();
            t0 = now_us();
            r.w.until_us = t0 + o.seconds * 1e6;
            for (unsigned i = 0; i < inflight[k]; i++) {
                slots[i].r = &r;
                slots[i].t0 = now_us();
                pthread_mutex_lock(&r.mu);
                r.active++;
                pthread_mutex_unlock(&r.mu);
                if (sigil_rpc_call_start(client, METHOD, r.w.req, r.w.req_len, 10000, async_done,
                                         &slots[i]) != SIGIL_OK) {
                    pthread_mutex_lock(&r.mu);
                    r.active--;
                    r.w.errors++;
                    pthread_mutex_unlock(&r.mu);
                }
            }
            pthread_mutex_lock(&r.mu);
            while (r.active)
                pthread_cond_wait(&r.cv, &r.mu);
            pthread_mutex_unlock(&r.mu);
            snprintf(label, sizeof(label), "async %u", inflight[k]);
            report(label, &r.w, 1, now_us() - t0);
            free(r.w.lat);
            pthread_mutex_destroy(&r.mu);
            pthread_cond_destroy(&r.cv);
        }
    }
    rc = 0;
stop:
    sigil_rpc_client_free(client);
    close(stop_pipe[1]);
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "sigil-bench rpc: server exited abnormally\n");
        rc = 1;
    }
out:
    sigil_buf_free(&reqb);
    free(payload);
    if (made_pki) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
        if (system(cmd) != 0)
            rc = 1;
    }
    return rc;
}
