/* proto/ integration test: a real mTLS gRPC server in a separate process on
 * 127.0.0.1 (ephemeral port), certificates made at run time by
 * scripts/dev-pki in a temporary directory, clients in this process.
 *
 * Covers: the handler sees the client's SAN identity; a client certificate
 * from another CA is rejected; a certificate without the sigil:// identity
 * (or with two) is UNAUTHENTICATED; a valid identity without permission for
 * the method or the key gets PERMISSION_DENIED and the handler never runs;
 * malformed protobuf -> INVALID_ARGUMENT, oversize -> RESOURCE_EXHAUSTED,
 * unknown method -> UNIMPLEMENTED, and the server keeps serving; handler
 * errors map to their status with the handler's detail; deadline exceeded;
 * the client's check of the server identity; many concurrent calls from
 * several threads. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <grpc/status.h>

#include "check.h"
#include "sigil/err.h"
#include "sigil/rpc.h"
#include "sigil/v1/wallet.pb-c.h"

#define SIGN "/sigil.v1.Wallet/Sign"
#define LIST "/sigil.v1.Wallet/ListKeys"

/* Shared with the server process: what the handlers saw. */
typedef struct {
    atomic_int handler_runs;
    char last_identity[SIGIL_RPC_URI_MAX];
} shared_state;

static shared_state *shared;
static char pki[PATH_MAX], pki2[PATH_MAX];

static void path(char *out, size_t n, const char *dir, const char *file)
{
    int k = snprintf(out, n, "%s/%s", dir, file);
    REQUIRE(k > 0 && (size_t)k < n);
}

/* ---- the server process ---------------------------------------------------- */

static int h_sign(void *ctx, sigil_rpc_call *call)
{
    const Sigil__V1__SignRequest *req = (const Sigil__V1__SignRequest *)call->req;
    Sigil__V1__SignResponse resp = SIGIL__V1__SIGN_RESPONSE__INIT;
    uint32_t signers[2] = {1, 3};
    (void)ctx;

    atomic_fetch_add(&shared->handler_runs, 1);
    snprintf(shared->last_identity, sizeof(shared->last_identity), "%s", call->peer->uri);
    if (!strcmp(req->key_id, "hot-slow")) {
        struct timespec ts = {1, 500000000};
        nanosleep(&ts, NULL);
    }
    if (!strcmp(req->key_id, "hot-halted")) {
        snprintf(call->detail, sizeof(call->detail), "signing halted by officer carol");
        return SIGIL_E_HALTED;
    }
    if (!req->item || req->item->payload_case != SIGIL__V1__SIGN_ITEM__PAYLOAD_DIGEST ||
        req->item->digest.len != 32) {
        snprintf(call->detail, sizeof(call->detail), "digest must be 32 bytes");
        return SIGIL_E_INVALID;
    }
    /* Echo who called and what, so the client can check what the handler saw. */
    resp.signature.data = (uint8_t *)call->peer->uri;
    resp.signature.len = strlen(call->peer->uri);
    resp.public_key = req->item->digest;
    resp.n_signers = 2;
    resp.signers = signers;
    resp.scheme = SIGIL__V1__SCHEME__SCHEME_ED25519;
    return sigil_rpc_pack(&resp.base, call->resp);
}

static int h_list(void *ctx, sigil_rpc_call *call)
{
    Sigil__V1__ListKeysResponse resp = SIGIL__V1__LIST_KEYS_RESPONSE__INIT;
    (void)ctx;
    atomic_fetch_add(&shared->handler_runs, 1);
    resp.next_page_token = (char *)call->peer->name;
    return sigil_rpc_pack(&resp.base, call->resp);
}

static void server_process(int port_fd, int stop_fd)
{
    sigil_rpc_authz *authz;
    sigil_rpc_server *srv;
    sigil_rpc_server_config cfg;
    char ca[PATH_MAX], cert[PATH_MAX], key[PATH_MAX], c;
    int port = 0;

    path(ca, sizeof(ca), pki, "ca.pem");
    path(cert, sizeof(cert), pki, "coordinator.pem");
    path(key, sizeof(key), pki, "coordinator.key");
    if (sigil_rpc_authz_new(&authz) ||
        sigil_rpc_authz_allow(authz, "sigil://wallet/alice", "/sigil.v1.Wallet/*", "k1") ||
        sigil_rpc_authz_allow(authz, "sigil://wallet/alice", SIGN, "hot-*") ||
        sigil_rpc_authz_allow(authz, "sigil://wallet/*", LIST, "*"))
        _exit(10);
    memset(&cfg, 0, sizeof(cfg));
    cfg.listen = "127.0.0.1:0";
    cfg.tls.ca_file = ca;
    cfg.tls.cert_file = cert;
    cfg.tls.key_file = key;
    cfg.authz = authz;
    cfg.max_message = 64 << 10;
    cfg.threads = 4;
    if (sigil_rpc_server_new(&cfg, &srv) ||
        sigil_rpc_server_add(srv, SIGN, &sigil__v1__sign_request__descriptor, 4096, h_sign, NULL) ||
        sigil_rpc_server_add(srv, LIST, &sigil__v1__list_keys_request__descriptor, 0, h_list,
                             NULL) ||
        sigil_rpc_server_add(srv, LIST, NULL, 0, h_list, NULL) != SIGIL_E_EXISTS ||
        sigil_rpc_server_start(srv, &port) || port <= 0)
        _exit(11);
    if (write(port_fd, &port, sizeof(port)) != (ssize_t)sizeof(port))
        _exit(12);
    while (read(stop_fd, &c, 1) < 0 && errno == EINTR) /* until the parent closes it */
        ;
    sigil_rpc_server_free(srv);
    sigil_rpc_authz_free(authz);
    _exit(0);
}

/* ---- clients ------------------------------------------------------------------ */

static char target[64];

static sigil_rpc_client *client_for(const char *dir, const char *who, const char *expect)
{
    static char ca[PATH_MAX], cert[PATH_MAX], key[PATH_MAX];
    char f[128];
    sigil_rpc_client_config cfg;
    sigil_rpc_client *c = NULL;

    path(ca, sizeof(ca), pki, "ca.pem"); /* always trust the server's CA */
    snprintf(f, sizeof(f), "%s.pem", who);
    path(cert, sizeof(cert), dir, f);
    snprintf(f, sizeof(f), "%s.key", who);
    path(key, sizeof(key), dir, f);
    memset(&cfg, 0, sizeof(cfg));
    cfg.target = target;
    cfg.tls.ca_file = ca;
    cfg.tls.cert_file = cert;
    cfg.tls.key_file = key;
    cfg.expect_identity = expect;
    cfg.max_message = 1 << 20;
    REQUIRE(sigil_rpc_client_new(&cfg, &c) == SIGIL_OK);
    return c;
}

static int sign(sigil_rpc_client *c, const char *key_id, size_t digest_len, unsigned timeout_ms,
                Sigil__V1__SignResponse **out, sigil_rpc_status *st)
{
    Sigil__V1__SignRequest req = SIGIL__V1__SIGN_REQUEST__INIT;
    Sigil__V1__SignItem item = SIGIL__V1__SIGN_ITEM__INIT;
    static uint8_t digest[8192];
    ProtobufCMessage *resp = NULL;
    int rc;

    memset(digest, 0x5a, sizeof(digest));
    item.payload_case = SIGIL__V1__SIGN_ITEM__PAYLOAD_DIGEST;
    item.digest.data = digest;
    item.digest.len = digest_len;
    req.key_id = (char *)key_id;
    req.item = &item;
    rc = sigil_rpc_call_msg(c, SIGN, &req.base, &sigil__v1__sign_response__descriptor, &resp,
                            timeout_ms, st);
    if (out)
        *out = (Sigil__V1__SignResponse *)resp;
    else
        sigil_rpc_msg_free(resp);
    return rc;
}

static int runs(void)
{
    return atomic_load(&shared->handler_runs);
}

static void test_identity(void)
{
    sigil_rpc_client *alice = client_for(pki, "wallet-alice", NULL);
    Sigil__V1__SignResponse *r = NULL;
    sigil_rpc_status st;
    int before = runs();

    CHECK_EQ(sign(alice, "k1", 32, 5000, &r, &st), SIGIL_OK);
    CHECK_EQ(st.code, GRPC_STATUS_OK);
    CHECK_EQ(runs(), before + 1);
    CHECK(!strcmp(shared->last_identity, "sigil://wallet/alice"));
    REQUIRE(r);
    CHECK(r->signature.len == strlen("sigil://wallet/alice") &&
          !memcmp(r->signature.data, "sigil://wallet/alice", r->signature.len));
    CHECK(r->n_signers == 2 && r->signers[0] == 1 && r->signers[1] == 3);
    sigil_rpc_msg_free(&r->base);

    /* Handler error -> mapped status with the handler's own detail. */
    CHECK_EQ(sign(alice, "hot-halted", 32, 5000, NULL, &st), SIGIL_E_STATE);
    CHECK_EQ(st.code, GRPC_STATUS_FAILED_PRECONDITION);
    CHECK(strstr(st.detail, "halted by officer carol") != NULL);
    CHECK_EQ(sign(alice, "k1", 31, 5000, NULL, &st), SIGIL_E_INVALID);
    CHECK_EQ(st.code, GRPC_STATUS_INVALID_ARGUMENT);
    sigil_rpc_client_free(alice);
}

static void test_other_ca(void)
{
    sigil_rpc_client *mallory = client_for(pki2, "wallet-alice", NULL);
    sigil_rpc_status st;
    int before = runs();

    /* Same identity, certificate from another CA: the handshake fails. */
    CHECK(sign(mallory, "k1", 32, 3000, NULL, &st) != SIGIL_OK);
    CHECK_EQ(st.code, GRPC_STATUS_UNAVAILABLE);
    CHECK_EQ(runs(), before);
    sigil_rpc_client_free(mallory);
}

static void test_unauthenticated(void)
{
    const char *who[] = {"nouri", "two", "badname"};
    for (size_t i = 0; i < sizeof(who) / sizeof(who[0]); i++) {
        sigil_rpc_client *c = client_for(pki, who[i], NULL);
        sigil_rpc_status st;
        int before = runs();
        CHECK_EQ(sign(c, "k1", 32, 3000, NULL, &st), SIGIL_E_PERMISSION);
        CHECK_EQ(st.code, GRPC_STATUS_UNAUTHENTICATED);
        CHECK_EQ(runs(), before);
        sigil_rpc_client_free(c);
    }
}

static void test_permission(void)
{
    sigil_rpc_client *bob = client_for(pki, "wallet-bob", NULL);
    sigil_rpc_client *alice = client_for(pki, "wallet-alice", NULL);
    sigil_rpc_client *node = client_for(pki, "node-1", NULL);
    Sigil__V1__ListKeysRequest lreq = SIGIL__V1__LIST_KEYS_REQUEST__INIT;
    ProtobufCMessage *lresp = NULL;
    sigil_rpc_status st;
    int before = runs();

    /* bob may list but not sign; alice may sign k1 and hot-*, not k2. */
    CHECK_EQ(sign(bob, "k1", 32, 3000, NULL, &st), SIGIL_E_PERMISSION);
    CHECK_EQ(st.code, GRPC_STATUS_PERMISSION_DENIED);
    CHECK(strstr(st.detail, "sigil://wallet/bob may not call /sigil.v1.Wallet/Sign") != NULL);
    CHECK_EQ(sign(alice, "k2", 32, 3000, NULL, &st), SIGIL_E_PERMISSION);
    CHECK_EQ(st.code, GRPC_STATUS_PERMISSION_DENIED);
    CHECK_EQ(sign(node, "k1", 32, 3000, NULL, &st), SIGIL_E_PERMISSION);
    CHECK_EQ(st.code, GRPC_STATUS_PERMISSION_DENIED);
    CHECK_EQ(runs(), before);

    CHECK_EQ(sigil_rpc_call_msg(bob, LIST, &lreq.base, &sigil__v1__list_keys_response__descriptor,
                                &lresp, 3000, &st),
             SIGIL_OK);
    CHECK(lresp && !strcmp(((Sigil__V1__ListKeysResponse *)lresp)->next_page_token, "bob"));
    sigil_rpc_msg_free(lresp);
    CHECK_EQ(runs(), before + 1);
    sigil_rpc_client_free(bob);
    sigil_rpc_client_free(alice);
    sigil_rpc_client_free(node);
}

static void test_bad_input(void)
{
    sigil_rpc_client *alice = client_for(pki, "wallet-alice", NULL);
    sigil_rpc_status st;
    sigil_buf resp;
    static uint8_t big[100 << 10];
    const uint8_t garbage[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01}; /* len past end */
    const uint8_t badkey[] = {0x0a, 0x03, 'k', '1', '\n'};                /* key_id "k1\n" */
    int before = runs();

    REQUIRE(sigil_buf_init(&resp, 1 << 20, 0) == SIGIL_OK);
    CHECK_EQ(sigil_rpc_call_unary(alice, SIGN, garbage, sizeof(garbage), &resp, 3000, &st),
             SIGIL_E_INVALID);
    CHECK_EQ(st.code, GRPC_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(st.detail, "not a valid sigil.v1.SignRequest") != NULL);
    CHECK_EQ(sigil_rpc_call_unary(alice, SIGN, badkey, sizeof(badkey), &resp, 3000, &st),
             SIGIL_E_INVALID);
    CHECK_EQ(st.code, GRPC_STATUS_INVALID_ARGUMENT);

    /* Over the method's 4 KiB limit (but under the server's 64 KiB). */
    CHECK_EQ(sign(alice, "k1", 5000, 3000, NULL, &st), SIGIL_E_TOO_LARGE);
    CHECK_EQ(st.code, GRPC_STATUS_RESOURCE_EXHAUSTED);
    CHECK(strstr(st.detail, "exceeds the limit of 4096") != NULL);
    /* Over the server's 64 KiB receive limit: gRPC itself refuses. */
    memset(big, 0, sizeof(big));
    CHECK_EQ(sigil_rpc_call_unary(alice, SIGN, big, sizeof(big), &resp, 3000, &st),
             SIGIL_E_TOO_LARGE);
    CHECK_EQ(st.code, GRPC_STATUS_RESOURCE_EXHAUSTED);
    /* Unknown method. */
    CHECK(sigil_rpc_call_unary(alice, "/sigil.v1.Wallet/Nope", badkey, 2, &resp, 3000, &st) !=
          SIGIL_OK);
    CHECK_EQ(st.code, GRPC_STATUS_UNIMPLEMENTED);
    CHECK_EQ(runs(), before);
    CHECK_EQ(sigil_buf_len(&resp), 0);
    sigil_buf_free(&resp);

    /* ... and the server keeps serving. */
    CHECK_EQ(sign(alice, "k1", 32, 3000, NULL, &st), SIGIL_OK);
    CHECK_EQ(runs(), before + 1);
    sigil_rpc_client_free(alice);
}

static void test_deadline(void)
{
    sigil_rpc_client *alice = client_for(pki, "wallet-alice", NULL);
    sigil_rpc_status st;
    struct timespec t0, t1;
    double ms;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_EQ(sign(alice, "hot-slow", 32, 200, NULL, &st), SIGIL_E_TIMEOUT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    CHECK_EQ(st.code, GRPC_STATUS_DEADLINE_EXCEEDED);
    CHECK(ms >= 150 && ms < 1400);
    /* Other calls are served while that handler still sleeps. */
    CHECK_EQ(sign(alice, "k1", 32, 1000, NULL, &st), SIGIL_OK);
    sigil_rpc_client_free(alice);
}

static void test_server_identity(void)
{
    sigil_rpc_client *ok = client_for(pki, "wallet-alice", "sigil://coordinator");
    sigil_rpc_client *wrong = client_for(pki, "wallet-alice", "sigil://node/1");
    sigil_rpc_status st;
    int before = runs();

    CHECK_EQ(sign(ok, "k1", 32, 3000, NULL, &st), SIGIL_OK);
    CHECK_EQ(runs(), before + 1);
    CHECK(sign(wrong, "k1", 32, 3000, NULL, &st) != SIGIL_OK);
    CHECK_EQ(st.code, GRPC_STATUS_UNAVAILABLE);
    CHECK_EQ(runs(), before + 1);
    sigil_rpc_client_free(ok);
    sigil_rpc_client_free(wrong);
}

#define THREADS 8
#define CALLS 150

static sigil_rpc_client *shared_client;
static atomic_int concurrent_ok;

static void *worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < CALLS; i++) {
        Sigil__V1__SignResponse *r = NULL;
        if (sign(shared_client, "k1", 32, 10000, &r, NULL) == SIGIL_OK && r &&
            r->signature.len == strlen("sigil://wallet/alice"))
            atomic_fetch_add(&concurrent_ok, 1);
        if (r)
            sigil_rpc_msg_free(&r->base);
    }
    return NULL;
}

static void test_concurrent(void)
{
    pthread_t t[THREADS];
    int before = runs();

    shared_client = client_for(pki, "wallet-alice", "sigil://coordinator");
    for (int i = 0; i < THREADS; i++)
        REQUIRE(pthread_create(&t[i], NULL, worker, NULL) == 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ(atomic_load(&concurrent_ok), THREADS * CALLS);
    CHECK_EQ(runs(), before + THREADS * CALLS);
    sigil_rpc_client_free(shared_client);
}

/* Async calls: many in flight at once from one thread, each callback run
 * exactly once with its own outcome (OK for k1, PERMISSION_DENIED for k2). */
#define ASYNC_CALLS 64

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, ok, denied, bad;
} async_state;

static async_state as = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0};

static void async_cb(void *arg, int rc, const sigil_rpc_status *st, const uint8_t *resp,
                     size_t len)
{
    int want_ok = (int)(intptr_t)arg % 2 == 0;
    ProtobufCMessage *m = NULL;

    pthread_mutex_lock(&as.mu);
    if (want_ok && rc == SIGIL_OK && st->code == GRPC_STATUS_OK &&
        sigil_rpc_unpack(&sigil__v1__sign_response__descriptor, resp, len, 1 << 20, &m) == 0 &&
        ((Sigil__V1__SignResponse *)m)->signature.len == strlen("sigil://wallet/alice"))
        as.ok++;
    else if (!want_ok && rc == SIGIL_E_PERMISSION && st->code == GRPC_STATUS_PERMISSION_DENIED &&
             len == 0)
        as.denied++;
    else
        as.bad++;
    sigil_rpc_msg_free(m);
    as.done++;
    pthread_cond_signal(&as.cv);
    pthread_mutex_unlock(&as.mu);
}

static void test_async(void)
{
    sigil_rpc_client *alice = client_for(pki, "wallet-alice", "sigil://coordinator");
    Sigil__V1__SignRequest req = SIGIL__V1__SIGN_REQUEST__INIT;
    Sigil__V1__SignItem item = SIGIL__V1__SIGN_ITEM__INIT;
    uint8_t digest[32] = {1}, enc[2][128];
    size_t n[2];
    int before = runs();

    item.payload_case = SIGIL__V1__SIGN_ITEM__PAYLOAD_DIGEST;
    item.digest.data = digest;
    item.digest.len = sizeof(digest);
    req.item = &item;
    for (int k = 0; k < 2; k++) {
        req.key_id = k == 0 ? "k1" : "k2";
        n[k] = protobuf_c_message_pack(&req.base, enc[k]);
    }
    for (intptr_t i = 0; i < ASYNC_CALLS; i++)
        CHECK_EQ(sigil_rpc_call_start(alice, SIGN, enc[i % 2], n[i % 2], 10000, async_cb,
                                      (void *)i),
                 SIGIL_OK);
    CHECK_EQ(sigil_rpc_call_start(alice, SIGN, enc[0], n[0], 10000, NULL, NULL), SIGIL_E_INVALID);
    CHECK_EQ(sigil_rpc_call_start(alice, "Sign", enc[0], n[0], 10000, async_cb, NULL),
             SIGIL_E_INVALID);
    pthread_mutex_lock(&as.mu);
    while (as.done < ASYNC_CALLS)
        pthread_cond_wait(&as.cv, &as.mu);
    pthread_mutex_unlock(&as.mu);
    CHECK_EQ(as.ok, ASYNC_CALLS / 2);
    CHECK_EQ(as.denied, ASYNC_CALLS / 2);
    CHECK_EQ(as.bad, 0);
    CHECK_EQ(runs(), before + ASYNC_CALLS / 2);
    sigil_rpc_client_free(alice);
}

/* sigil_rpc_call_multi: three calls at once on two channels, waited for
 * in this thread: one answered, one refused, one past its deadline; each
 * gets its own outcome. */
static void test_multi(void)
{
    sigil_rpc_client *a1 = client_for(pki, "wallet-alice", "sigil://coordinator");
    sigil_rpc_client *a2 = client_for(pki, "wallet-alice", "sigil://coordinator");
    Sigil__V1__SignRequest req = SIGIL__V1__SIGN_REQUEST__INIT;
    Sigil__V1__SignItem item = SIGIL__V1__SIGN_ITEM__INIT;
    uint8_t digest[32] = {2}, enc[3][128];
    size_t n[3];
    const char *keys[3] = {"k1", "k2", "hot-slow"};
    const uint8_t *rq[3];
    sigil_rpc_status st[3];
    sigil_buf resp[3];
    int rcs[3];
    struct timespec t0, t1;

    item.payload_case = SIGIL__V1__SIGN_ITEM__PAYLOAD_DIGEST;
    item.digest.data = digest;
    item.digest.len = sizeof(digest);
    req.item = &item;
    for (int k = 0; k < 3; k++) {
        req.key_id = (char *)keys[k];
        n[k] = protobuf_c_message_pack(&req.base, enc[k]);
        rq[k] = enc[k];
        REQUIRE(sigil_buf_init(&resp[k], 1 << 20, 0) == SIGIL_OK);
    }
    sigil_rpc_client *cl[3] = {a1, a2, a1};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_EQ(sigil_rpc_call_multi(cl, 3, SIGN, rq, n, resp, 300, rcs, st), SIGIL_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    CHECK(ms >= 250 && ms < 1400);
    CHECK_EQ(rcs[0], SIGIL_OK);
    CHECK_EQ(st[0].code, GRPC_STATUS_OK);
    ProtobufCMessage *m = NULL;
    CHECK(sigil_rpc_unpack(&sigil__v1__sign_response__descriptor, resp[0].data, resp[0].size, 1 << 20, &m) ==
              SIGIL_OK &&
          ((Sigil__V1__SignResponse *)m)->signature.len == strlen("sigil://wallet/alice"));
    sigil_rpc_msg_free(m);
    CHECK_EQ(rcs[1], SIGIL_E_PERMISSION);
    CHECK_EQ(st[1].code, GRPC_STATUS_PERMISSION_DENIED);
    CHECK_EQ(resp[1].size, 0);
    CHECK_EQ(rcs[2], SIGIL_E_TIMEOUT);
    CHECK_EQ(st[2].code, GRPC_STATUS_DEADLINE_EXCEEDED);
    CHECK_EQ(resp[2].size, 0);
    /* responses may be dropped; bad arguments */
    CHECK_EQ(sigil_rpc_call_multi(cl, 1, SIGN, rq, n, NULL, 1000, rcs, NULL), SIGIL_OK);
    CHECK_EQ(rcs[0], SIGIL_OK);
    CHECK_EQ(sigil_rpc_call_multi(cl, 0, SIGN, rq, n, resp, 1000, rcs, st), SIGIL_E_INVALID);
    CHECK_EQ(sigil_rpc_call_multi(cl, 2, "Sign", rq, n, resp, 1000, rcs, st), SIGIL_OK);
    CHECK(rcs[0] == SIGIL_E_INVALID && rcs[1] == SIGIL_E_INVALID);
    for (int k = 0; k < 3; k++)
        sigil_buf_free(&resp[k]);
    sigil_rpc_client_free(a1);
    sigil_rpc_client_free(a2);
}

static int make_pki(void)
{
    const char *script = getenv("SIGIL_DEV_PKI") ? getenv("SIGIL_DEV_PKI") : SIGIL_DEV_PKI_DEFAULT;
    char cmd[4 * PATH_MAX];
    char tmpl[] = "/tmp/sigil-proto-XXXXXX";
    char *base = mkdtemp(tmpl);

    if (!script || !base)
        return -1;
    snprintf(pki, sizeof(pki), "%s/ca1", base);
    snprintf(pki2, sizeof(pki2), "%s/ca2", base);
    snprintf(cmd, sizeof(cmd),
             "'%s' '%s' coordinator wallet/alice wallet/bob node/1 "
             "nouri=DNS:localhost,IP:127.0.0.1 "
             "two=URI:sigil://wallet/alice,URI:sigil://wallet/bob "
             "badname=URI:sigil://wallet/Alice && '%s' '%s' wallet/alice",
             script, pki, script, pki2);
    return system(cmd) == 0 ? 0 : -1;
}

static void rm_pki(void)
{
    char cmd[2 * PATH_MAX];
    char *slash = strrchr(pki, '/');
    if (!slash)
        return;
    *slash = '\0';
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", pki);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", pki);
}

int main(void)
{
    int port_pipe[2], stop_pipe[2], port = 0, status = 0;
    pid_t pid;

    signal(SIGPIPE, SIG_IGN);
    REQUIRE(make_pki() == 0);
    shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE(shared != MAP_FAILED);
    memset(shared, 0, sizeof(*shared));
    REQUIRE(pipe(port_pipe) == 0 && pipe(stop_pipe) == 0);
    /* Fork before either side initializes gRPC. */
    pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        close(port_pipe[0]);
        close(stop_pipe[1]);
        server_process(port_pipe[1], stop_pipe[0]);
    }
    close(port_pipe[1]);
    close(stop_pipe[0]);
    REQUIRE(read(port_pipe[0], &port, sizeof(port)) == (ssize_t)sizeof(port) && port > 0);
    snprintf(target, sizeof(target), "127.0.0.1:%d", port);

    test_identity();
    test_other_ca();
    test_unauthenticated();
    test_permission();
    test_bad_input();
    test_deadline();
    test_server_identity();
    test_concurrent();
    test_async();
    test_multi();

    close(stop_pipe[1]); /* the server shuts down cleanly */
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    rm_pki();
    return check_done();
}
