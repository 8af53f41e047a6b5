/* proto/ integration test: deferred calls (SIGIL_RPC_DEFERRED,
 * sigil_rpc_call_finish) on a real mTLS gRPC server in this process
 * (certificates from scripts/dev-pki), clients over loopback.
 *
 * Covers: calls deferred by the handler and finished by another thread,
 * out of order (last in, first out), each answer reaching its own caller;
 * many more calls in flight than server threads (a deferred call holds no
 * thread: 2 threads, 64 calls held at once); errors from finish map to
 * their status with the owner's detail; a synchronous method keeps working
 * while calls are held; a client whose deadline passes while its call is
 * held gets DEADLINE_EXCEEDED and the late finish is harmless; server
 * shutdown with calls outstanding: sigil_rpc_server_free waits until the
 * owner has finished every held call (clients see the calls cancelled),
 * nothing leaks (ASan/LSan in CI). */
#define _GNU_SOURCE
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <grpc/status.h>

#include "check.h"
#include "sigil/err.h"
#include "sigil/rpc.h"
#include "sigil/v1/wallet.pb-c.h"

#define SIGN "/sigil.v1.Wallet/Sign"
#define LIST "/sigil.v1.Wallet/ListKeys"
#define MAXQ 1024

static char pki[PATH_MAX], target[64];

/* ---- the call owner: a queue of held calls and one worker thread ---- */

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sigil_rpc_call *q[MAXQ];
    size_t n;
    size_t hold_until; /* finish nothing while fewer calls are held */
    int release;       /* finish everything held now, whatever hold_until */
    int stop;
    unsigned delay_ms; /* sleep before each finish */
    size_t max_held;   /* high-water mark of held calls */
    long finished;
} own = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Answer one held call: the digest comes back as public_key (so each
 * caller can check it got its own answer); a digest starting 0xEE fails. */
static void answer(sigil_rpc_call *call)
{
    const Sigil__V1__SignRequest *req = (const Sigil__V1__SignRequest *)call->req;
    Sigil__V1__SignResponse resp = SIGIL__V1__SIGN_RESPONSE__INIT;
    int rc;

    if (req->item->digest.len && req->item->digest.data[0] == 0xEE) {
        snprintf(call->detail, sizeof(call->detail), "refused by the owner, %s", call->peer->uri);
        rc = SIGIL_E_HALTED;
    } else {
        resp.public_key = req->item->digest;
        resp.signature.data = (uint8_t *)call->peer->uri;
        resp.signature.len = strlen(call->peer->uri);
        rc = sigil_rpc_pack(&resp.base, call->resp);
    }
    sigil_rpc_call_finish(call, rc);
}

static void *worker_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&own.mu);
    for (;;) {
        while (!own.stop && (own.n == 0 || (!own.release && own.n < own.hold_until)))
            pthread_cond_wait(&own.cv, &own.mu);
        if (own.n == 0 && own.stop)
            break;
        /* last in, first out: answers go back out of order */
        sigil_rpc_call *call = own.q[--own.n];
        unsigned d = own.delay_ms;
        pthread_mutex_unlock(&own.mu);
        if (d)
            sleep_ms(d);
        answer(call);
        pthread_mutex_lock(&own.mu);
        own.finished++;
        pthread_cond_broadcast(&own.cv);
    }
    pthread_mutex_unlock(&own.mu);
    return NULL;
}

static void own_set(size_t hold_until, int release, unsigned delay_ms)
{
    pthread_mutex_lock(&own.mu);
    own.hold_until = hold_until;
    own.release = release;
    own.delay_ms = delay_ms;
    pthread_cond_broadcast(&own.cv);
    pthread_mutex_unlock(&own.mu);
}

static size_t own_held(void)
{
    pthread_mutex_lock(&own.mu);
    size_t n = own.n;
    pthread_mutex_unlock(&own.mu);
    return n;
}

static long own_finished(void)
{
    pthread_mutex_lock(&own.mu);
    long n = own.finished;
    pthread_mutex_unlock(&own.mu);
    return n;
}

static int h_sign(void *ctx, sigil_rpc_call *call)
{
    const Sigil__V1__SignRequest *req = (const Sigil__V1__SignRequest *)call->req;
    (void)ctx;
    if (!req->item || req->item->payload_case != SIGIL__V1__SIGN_ITEM__PAYLOAD_DIGEST) {
        snprintf(call->detail, sizeof(call->detail), "digest required");
        return SIGIL_E_INVALID; /* a handler may still answer at once */
    }
    pthread_mutex_lock(&own.mu);
    if (own.n == MAXQ) {
        pthread_mutex_unlock(&own.mu);
        return SIGIL_E_NOMEM;
    }
    own.q[own.n++] = call;
    if (own.n > own.max_held)
        own.max_held = own.n;
    pthread_cond_broadcast(&own.cv);
    pthread_mutex_unlock(&own.mu);
    return SIGIL_RPC_DEFERRED;
}

static int h_list(void *ctx, sigil_rpc_call *call)
{
    Sigil__V1__ListKeysResponse resp = SIGIL__V1__LIST_KEYS_RESPONSE__INIT;
    (void)ctx;
    resp.next_page_token = (char *)call->peer->name;
    return sigil_rpc_pack(&resp.base, call->resp);
}

/* ---- server and clients ---- */

static sigil_rpc_authz *authz;

static sigil_rpc_server *server_up(void)
{
    char ca[PATH_MAX + 16], cert[PATH_MAX + 32], key[PATH_MAX + 32];
    sigil_rpc_server_config cfg;
    sigil_rpc_server *s = NULL;
    int port = 0;

    snprintf(ca, sizeof(ca), "%s/ca.pem", pki);
    snprintf(cert, sizeof(cert), "%s/coordinator.pem", pki);
    snprintf(key, sizeof(key), "%s/coordinator.key", pki);
    memset(&cfg, 0, sizeof(cfg));
    cfg.listen = "127.0.0.1:0";
    cfg.tls = (sigil_rpc_tls){ca, cert, key};
    cfg.authz = authz;
    cfg.threads = 2; /* far fewer than the calls held at once */
    REQUIRE(sigil_rpc_server_new(&cfg, &s) == SIGIL_OK);
    REQUIRE(sigil_rpc_server_add(s, SIGN, &sigil__v1__sign_request__descriptor, 0, h_sign, NULL) ==
            SIGIL_OK);
    REQUIRE(sigil_rpc_server_add(s, LIST, &sigil__v1__list_keys_request__descriptor, 0, h_list,
                                 NULL) == SIGIL_OK);
    REQUIRE(sigil_rpc_server_start(s, &port) == SIGIL_OK && port > 0);
    snprintf(target, sizeof(target), "127.0.0.1:%d", port);
    return s;
}

static sigil_rpc_client *client(void)
{
    char ca[PATH_MAX + 16], cert[PATH_MAX + 32], key[PATH_MAX + 32];
    sigil_rpc_client_config cfg;
    sigil_rpc_client *c = NULL;

    snprintf(ca, sizeof(ca), "%s/ca.pem", pki);
    snprintf(cert, sizeof(cert), "%s/wallet-alice.pem", pki);
    snprintf(key, sizeof(key), "%s/wallet-alice.key", pki);
    memset(&cfg, 0, sizeof(cfg));
    cfg.target = target;
    cfg.tls = (sigil_rpc_tls){ca, cert, key};
    cfg.expect_identity = "sigil://coordinator";
    REQUIRE(sigil_rpc_client_new(&cfg, &c) == SIGIL_OK);
    return c;
}

/* One asynchronous Sign whose digest is 32 bytes: tag, then index i. */
typedef struct {
    uint8_t digest[32];
    int rc, code, done, matched;
    char detail[256];
} result;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
} res_sync = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};

static void on_done(void *arg, int rc, const sigil_rpc_status *st, const uint8_t *p, size_t len)
{
    result *r = arg;
    ProtobufCMessage *m = NULL;
    r->rc = rc;
    r->code = st ? st->code : -1;
    snprintf(r->detail, sizeof(r->detail), "%s", st ? st->detail : "");
    if (rc == SIGIL_OK &&
        sigil_rpc_unpack(&sigil__v1__sign_response__descriptor, p, len, 1 << 20, &m) == SIGIL_OK) {
        Sigil__V1__SignResponse *s = (Sigil__V1__SignResponse *)m;
        r->matched = s->public_key.len == 32 && !memcmp(s->public_key.data, r->digest, 32) &&
                     s->signature.len == strlen("sigil://wallet/alice") &&
                     !memcmp(s->signature.data, "sigil://wallet/alice", s->signature.len);
        sigil_rpc_msg_free(m);
    }
    pthread_mutex_lock(&res_sync.mu);
    r->done++;
    res_sync.done++;
    pthread_cond_broadcast(&res_sync.cv);
    pthread_mutex_unlock(&res_sync.mu);
}

static void start_sign(sigil_rpc_client *c, result *r, uint8_t tag, uint32_t i, unsigned timeout)
{
    Sigil__V1__SignRequest req = SIGIL__V1__SIGN_REQUEST__INIT;
    Sigil__V1__SignItem item = SIGIL__V1__SIGN_ITEM__INIT;
    uint8_t buf[256];
    memset(r, 0, sizeof(*r));
    r->digest[0] = tag;
    memcpy(r->digest + 1, &i, sizeof(i));
    item.payload_case = SIGIL__V1__SIGN_ITEM__PAYLOAD_DIGEST;
    item.digest = (ProtobufCBinaryData){32, r->digest};
    req.key_id = "k1";
    req.item = &item;
    size_t n = protobuf_c_message_pack(&req.base, buf);
    REQUIRE(sigil_rpc_call_start(c, SIGN, buf, n, timeout, on_done, r) == SIGIL_OK);
}

/* Wait until `want` callbacks in total have run (or ms pass). */
static int wait_done(int want, unsigned ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L)
        ts.tv_sec++, ts.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&res_sync.mu);
    while (res_sync.done < want)
        if (pthread_cond_timedwait(&res_sync.cv, &res_sync.mu, &ts))
            break;
    int got = res_sync.done;
    pthread_mutex_unlock(&res_sync.mu);
    return got;
}

static int wait_held(size_t n, unsigned ms)
{
    for (unsigned t = 0; t < ms; t += 5) {
        if (own_held() >= n)
            return 1;
        sleep_ms(5);
    }
    return own_held() >= n;
}

static int list_keys(sigil_rpc_client *c)
{
    Sigil__V1__ListKeysRequest req = SIGIL__V1__LIST_KEYS_REQUEST__INIT;
    ProtobufCMessage *m = NULL;
    sigil_rpc_status st;
    int rc = sigil_rpc_call_msg(c, LIST, &req.base, &sigil__v1__list_keys_response__descriptor, &m,
                                3000, &st);
    if (rc == SIGIL_OK)
        rc = strcmp(((Sigil__V1__ListKeysResponse *)m)->next_page_token, "alice") ? -1 : 0;
    sigil_rpc_msg_free(m);
    return rc;
}

/* 64 calls held at once on a 2-thread server, then finished last-first;
 * every 8th refused by the owner. */
static void test_many_out_of_order(void)
{
    enum { N = 64 };
    static result r[N];
    sigil_rpc_client *c = client();
    int base = res_sync.done;

    own_set(MAXQ + 1, 0, 0); /* hold everything */
    for (uint32_t i = 0; i < N; i++)
        start_sign(c, &r[i], i % 8 == 7 ? 0xEE : 0x01, i, 10000);
    /* all are held at once, no thread is: a synchronous call still gets in */
    CHECK(wait_held(N, 5000));
    CHECK_EQ(list_keys(c), 0);
    CHECK_EQ(res_sync.done - base, 0);
    own_set(0, 1, 0);
    CHECK_EQ(wait_done(base + N, 10000), base + N);
    int ok = 0, refused = 0;
    for (int i = 0; i < N; i++) {
        CHECK_EQ(r[i].done, 1);
        if (i % 8 == 7) {
            refused += r[i].rc == SIGIL_E_STATE && r[i].code == GRPC_STATUS_FAILED_PRECONDITION &&
                       strstr(r[i].detail, "refused by the owner, sigil://wallet/alice") != NULL;
        } else {
            ok += r[i].rc == SIGIL_OK && r[i].code == GRPC_STATUS_OK && r[i].matched;
        }
    }
    CHECK_EQ(ok, N - N / 8);
    CHECK_EQ(refused, N / 8);
    pthread_mutex_lock(&own.mu);
    CHECK(own.max_held >= N);
    pthread_mutex_unlock(&own.mu);
    sigil_rpc_client_free(c);
}

/* Several client threads, calls finished by the worker as they come with a
 * small delay: many in flight, each answered once with its own answer. */
typedef struct {
    sigil_rpc_client *c;
    int ok;
} thr_arg;

static void *sync_caller(void *p)
{
    thr_arg *a = p;
    for (uint32_t i = 0; i < 50; i++) {
        Sigil__V1__SignRequest req = SIGIL__V1__SIGN_REQUEST__INIT;
        Sigil__V1__SignItem item = SIGIL__V1__SIGN_ITEM__INIT;
        uint8_t d[32];
        ProtobufCMessage *m = NULL;
        memset(d, 0x02, sizeof(d)); /* unique per call: index and thread */
        memcpy(d + 1, &i, sizeof(i));
        memcpy(d + 5, &a, sizeof(a));
        item.payload_case = SIGIL__V1__SIGN_ITEM__PAYLOAD_DIGEST;
        item.digest = (ProtobufCBinaryData){32, d};
        req.key_id = "k1";
        req.item = &item;
        if (sigil_rpc_call_msg(a->c, SIGN, &req.base, &sigil__v1__sign_response__descriptor, &m,
                               10000, NULL) == SIGIL_OK) {
            Sigil__V1__SignResponse *s = (Sigil__V1__SignResponse *)m;
            a->ok += s->public_key.len == 32 && !memcmp(s->public_key.data, d, 32);
        }
        sigil_rpc_msg_free(m);
    }
    return NULL;
}

static void test_threads(void)
{
    enum { T = 8 };
    pthread_t th[T];
    thr_arg a[T];
    sigil_rpc_client *c = client();
    own_set(0, 1, 1);
    for (int i = 0; i < T; i++) {
        a[i] = (thr_arg){c, 0};
        REQUIRE(pthread_create(&th[i], NULL, sync_caller, &a[i]) == 0);
    }
    int ok = 0;
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        ok += a[i].ok;
    }
    CHECK_EQ(ok, T * 50);
    sigil_rpc_client_free(c);
}

/* The caller's deadline passes while its call is held; the owner finishes
 * it late: the client saw DEADLINE_EXCEEDED, the server goes on serving. */
static void test_client_gone(void)
{
    static result r[4];
    sigil_rpc_client *c = client();
    int base = res_sync.done;
    /* the owner counts a finish after sending it, so a caller of the test
     * before may have its answer while the count is still one short: wait
     * until nothing is held and the count stands still */
    long fin0 = own_finished();
    for (int t = 0; t < 100; t++) {
        sleep_ms(20);
        long f = own_finished();
        if (f == fin0 && own_held() == 0)
            break;
        fin0 = f;
    }

    own_set(MAXQ + 1, 0, 0);
    for (uint32_t i = 0; i < 4; i++)
        start_sign(c, &r[i], 0x03, i, 200);
    CHECK(wait_held(4, 3000));
    CHECK_EQ(wait_done(base + 4, 3000), base + 4);
    for (int i = 0; i < 4; i++)
        CHECK(r[i].rc == SIGIL_E_TIMEOUT && r[i].code == GRPC_STATUS_DEADLINE_EXCEEDED);
    own_set(0, 1, 0); /* the late answers */
    for (int t = 0; t < 300 && own_finished() < fin0 + 4; t++)
        sleep_ms(10);
    CHECK_EQ(own_finished(), fin0 + 4);
    /* a client that goes away entirely (its channel destroyed, the
     * connection closed) while its call is held */
    sigil_rpc_client *c2 = client();
    own_set(MAXQ + 1, 0, 0);
    start_sign(c2, &r[0], 0x04, 0, 300);
    CHECK(wait_held(1, 3000));
    sigil_rpc_client_free(c2); /* returns after the deadline */
    CHECK(r[0].done == 1 && r[0].code == GRPC_STATUS_DEADLINE_EXCEEDED);
    sleep_ms(100);
    CHECK_EQ(own_held(), 1);
    own_set(0, 1, 0);
    for (int t = 0; t < 300 && own_held(); t++)
        sleep_ms(10);
    CHECK_EQ(own_held(), 0);
    /* still serving */
    start_sign(c, &r[1], 0x05, 1, 5000);
    CHECK_EQ(wait_done(base + 6, 5000), base + 6);
    CHECK(r[1].rc == SIGIL_OK && r[1].matched);
    sigil_rpc_client_free(c);
}

/* Shutdown with 10 calls held: sigil_rpc_server_free does not return
 * while they are held, returns once the owner finished them; every caller
 * got an answer (cancelled, not OK), nothing leaks. */
typedef struct {
    sigil_rpc_server *s;
    atomic_int returned;
} free_arg;

static void *free_main(void *p)
{
    free_arg *a = p;
    sigil_rpc_server_free(a->s);
    atomic_store(&a->returned, 1);
    return NULL;
}

static void test_shutdown(sigil_rpc_server *s)
{
    enum { N = 10 };
    static result r[N];
    sigil_rpc_client *c = client();
    free_arg fa = {s, 0};
    pthread_t th;
    int base = res_sync.done;

    own_set(MAXQ + 1, 0, 0);
    for (uint32_t i = 0; i < N; i++)
        start_sign(c, &r[i], 0x06, i, 20000);
    CHECK(wait_held(N, 5000));
    REQUIRE(pthread_create(&th, NULL, free_main, &fa) == 0);
    /* the calls are cancelled at once for the clients ... */
    CHECK_EQ(wait_done(base + N, 5000), base + N);
    for (int i = 0; i < N; i++)
        CHECK(r[i].rc != SIGIL_OK &&
              (r[i].code == GRPC_STATUS_CANCELLED || r[i].code == GRPC_STATUS_UNAVAILABLE));
    /* ... but the server waits for their owner */
    sleep_ms(300);
    CHECK_EQ(atomic_load(&fa.returned), 0);
    CHECK_EQ(own_held(), N);
    own_set(0, 1, 20); /* finish them, slowly */
    pthread_join(th, NULL);
    CHECK_EQ(atomic_load(&fa.returned), 1);
    CHECK_EQ(own_held(), 0);
    sigil_rpc_client_free(c);
}

static int make_pki(void)
{
    const char *script = getenv("SIGIL_DEV_PKI") ? getenv("SIGIL_DEV_PKI") : SIGIL_DEV_PKI_DEFAULT;
    char cmd[2 * PATH_MAX];
    char tmpl[] = "/tmp/sigil-deferred-XXXXXX";
    char *base = mkdtemp(tmpl);
    if (!script || !base)
        return -1;
    snprintf(pki, sizeof(pki), "%s", base);
    snprintf(cmd, sizeof(cmd), "'%s' '%s' coordinator wallet/alice >/dev/null", script, pki);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    pthread_t worker;
    char cmd[PATH_MAX + 16];

    signal(SIGPIPE, SIG_IGN);
    REQUIRE(make_pki() == 0);
    REQUIRE(sigil_rpc_authz_new(&authz) == SIGIL_OK);
    REQUIRE(sigil_rpc_authz_allow(authz, "sigil://wallet/alice", "/sigil.v1.Wallet/*", "*") ==
            SIGIL_OK);
    REQUIRE(pthread_create(&worker, NULL, worker_main, NULL) == 0);
    sigil_rpc_server *s = server_up();

    test_many_out_of_order();
    test_threads();
    test_client_gone();
    test_shutdown(s); /* frees s */

    pthread_mutex_lock(&own.mu);
    own.stop = 1;
    pthread_cond_broadcast(&own.cv);
    pthread_mutex_unlock(&own.mu);
    pthread_join(worker, NULL);
    sigil_rpc_authz_free(authz);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", pki);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", pki);
    return check_done();
}
