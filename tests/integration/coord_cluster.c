/* Coordinator integration tests: a real 2-of-3 cluster (three sigil-node
 * processes with their own SoftHSM tokens, one sigil-coordinator), real
 * mTLS with certificates from scripts/dev-pki, launched by scripts/cluster
 * in a temporary directory. Clients here use the proto glue directly so
 * that malformed and oversize requests can be sent too.
 *
 *   coord_cluster schemes    every scheme (FROST x3, DKLs23 ECDSA): DKG, Sign, SignBatch, each
 *                            signature verified by scripts/verify-signatures
 *   coord_cluster idem       idempotent retry by request id
 *   coord_cluster badinput   malformed protobuf, oversize, unknown key, wrong
 *                            scheme, digest/message mix-up, another CA's
 *                            certificate, a valid certificate without
 *                            permission; the server keeps serving
 *   coord_cluster failover   a killed node: signing continues on the
 *                            remaining quorum; a node killed while requests
 *                            are in flight: none lost (retried on another
 *                            quorum); the node restarted rejoins
 *   coord_cluster breaker    halt stops signing within 1 s; halted state
 *                            survives coordinator and node restarts; resume
 *                            needs 2 approvals, is not replayable
 *   coord_cluster auditfull  the audit directory on a small tmpfs filled up:
 *                            Sign refused with UNAVAILABLE, Health says the
 *                            log failed, nothing released; space freed:
 *                            signing resumes within seconds, no restart;
 *                            the log verifies and holds every released
 *                            signature (needs root for mount)
 *   coord_cluster auditconfig  a CONFIG entry with the SHA-256 of the
 *                            configuration file at every start; a changed
 *                            file gives a new digest
 *   coord_cluster pipeline   many concurrent Sign and SignBatch requests
 *                            (coalesced, answered by the leaders) with
 *                            request-id replays and duplicates in flight:
 *                            every call answered once, every signature
 *                            verified, signed once per request id, each at
 *                            its audit index with its own request id; the
 *                            log verifies and the node logs cross-check
 *   coord_cluster overload   max_batch 8, queue_max 16: a burst of SignBatch
 *                            calls beyond the queue is refused at once with
 *                            RESOURCE_EXHAUSTED (nothing signed or logged),
 *                            the same request ids succeed when retried; a
 *                            request whose caller's deadline passed while it
 *                            was queued is not signed (not in the log);
 *                            Health reports both counts */
#define _GNU_SOURCE
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <grpc/status.h>
#include <sodium.h>

#include "check.h"
#include "sigil/err.h"
#include "sigil/rpc.h"
#include "sigil/v1/admin.pb-c.h"
#include "sigil/v1/wallet.pb-c.h"

static char dir[PATH_MAX], target[64];
static const char *scripts = SIGIL_SCRIPTS_DIR, *bindir = SIGIL_BIN_DIR;

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    return rc == -1 ? -1 : WEXITSTATUS(rc);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static sigil_rpc_client *client_as(const char *identity, const char *pkidir)
{
    char ca[PATH_MAX + 16], cert[PATH_MAX + 80], key[PATH_MAX + 80], f[80];
    sigil_rpc_client *c = NULL;
    snprintf(f, sizeof f, "%s", identity);
    for (char *p = f; *p; p++)
        if (*p == '/')
            *p = '-';
    snprintf(ca, sizeof ca, "%s/pki/ca.pem", dir);
    snprintf(cert, sizeof cert, "%s/%s.pem", pkidir, f);
    snprintf(key, sizeof key, "%s/%s.key", pkidir, f);
    sigil_rpc_client_config cc = {0};
    cc.target = target;
    cc.tls = (sigil_rpc_tls){ca, cert, key};
    cc.expect_identity = "sigil://coordinator";
    REQUIRE(sigil_rpc_client_new(&cc, &c) == SIGIL_OK);
    return c;
}

static sigil_rpc_client *client(const char *identity)
{
    char p[PATH_MAX + 8];
    snprintf(p, sizeof p, "%s/pki", dir);
    return client_as(identity, p);
}

static void cluster_up(void)
{
    char tmpl[] = "/tmp/sigil-coordtest-XXXXXX";
    REQUIRE(mkdtemp(tmpl));
    snprintf(dir, sizeof dir, "%s", tmpl);
    REQUIRE(sh("SIGIL_BIN='%s' '%s/cluster' up '%s' 2>/dev/null", bindir, scripts, dir) == 0);
    char p[PATH_MAX + 16], line[64];
    snprintf(p, sizeof p, "%s/ports", dir);
    FILE *f = fopen(p, "r");
    REQUIRE(f);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "coord=", 6))
            snprintf(target, sizeof target, "127.0.0.1:%d", atoi(line + 6));
    fclose(f);
    REQUIRE(target[0]);
}

static void cluster_down(void)
{
    CHECK(sh("'%s/cluster' down '%s'", scripts, dir) == 0);
    /* clean shutdown: the coordinator logged its signal and exited */
    CHECK(sh("grep -q 'shutting down' '%s/coord/log'", dir) == 0);
    if (!getenv("SIGIL_KEEP"))
        sh("rm -rf '%s'", dir);
    else
        fprintf(stderr, "kept %s\n", dir);
}

/* ---- calls ---- */

static int keygen(sigil_rpc_client *c, const char *key, int scheme, sigil_rpc_status *st)
{
    Sigil__V1__KeygenRequest req = SIGIL__V1__KEYGEN_REQUEST__INIT;
    ProtobufCMessage *m = NULL;
    req.key_id = (char *)key;
    req.scheme = (Sigil__V1__Scheme)scheme;
    int rc = sigil_rpc_call_msg(c, "/sigil.v1.Admin/Keygen", &req.base,
                                &sigil__v1__keygen_response__descriptor, &m, 30000, st);
    sigil_rpc_msg_free(m);
    return rc;
}

typedef struct {
    uint8_t sig[65];
    size_t siglen;
    uint8_t pk[33];
    size_t pklen;
    int replayed;
    uint32_t signers[3];
    size_t nsigners;
    uint64_t audit_index;
    int recid;            /* ECDSA, else -1 */
} sig_result;

/* Sign one item; code = the gRPC status (0 = OK). */
static int sign(sigil_rpc_client *c, const char *key, const uint8_t *rid, const uint8_t *item,
                size_t len, int digest, int scheme, sig_result *out, sigil_rpc_status *st)
{
    Sigil__V1__SignRequest req = SIGIL__V1__SIGN_REQUEST__INIT;
    Sigil__V1__SignItem it = SIGIL__V1__SIGN_ITEM__INIT;
    ProtobufCMessage *m = NULL;
    sigil_rpc_status tmp;
    if (!st)
        st = &tmp;
    memset(st, 0, sizeof *st);
    req.key_id = (char *)key;
    req.request_id = (ProtobufCBinaryData){16, (uint8_t *)rid};
    req.scheme = (Sigil__V1__Scheme)scheme;
    it.payload_case = digest ? SIGIL__V1__SIGN_ITEM__PAYLOAD_DIGEST : SIGIL__V1__SIGN_ITEM__PAYLOAD_MESSAGE;
    if (digest)
        it.digest = (ProtobufCBinaryData){len, (uint8_t *)item};
    else
        it.message = (ProtobufCBinaryData){len, (uint8_t *)item};
    req.item = &it;
    int rc = sigil_rpc_call_msg(c, SIGIL_RPC_WALLET_SIGN, &req.base,
                                &sigil__v1__sign_response__descriptor, &m, 15000, st);
    if (rc)
        return st->code ? st->code : GRPC_STATUS_UNKNOWN;
    Sigil__V1__SignResponse *r = (Sigil__V1__SignResponse *)m;
    if (out) {
        memset(out, 0, sizeof *out);
        out->siglen = r->signature.len <= 65 ? r->signature.len : 0;
        memcpy(out->sig, r->signature.data, out->siglen);
        out->pklen = r->public_key.len <= 33 ? r->public_key.len : 0;
        memcpy(out->pk, r->public_key.data, out->pklen);
        out->replayed = r->replayed;
        out->audit_index = r->audit_index;
        out->nsigners = r->n_signers <= 3 ? r->n_signers : 0;
        memcpy(out->signers, r->signers, out->nsigners * sizeof(uint32_t));
        out->recid = r->scheme == 4 ? (int)r->recovery_id : -1;
    }
    sigil_rpc_msg_free(m);
    return 0;
}

static void hex(FILE *f, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%02x", p[i]);
}

static void jsonl(FILE *f, const char *scheme, const sig_result *r, const uint8_t *msg, size_t len)
{
    fprintf(f, "{\"scheme\":\"%s\",\"public_key\":\"", scheme);
    hex(f, r->pk, r->pklen);
    fprintf(f, "\",\"message\":\"");
    hex(f, msg, len);
    fprintf(f, "\",\"signature\":\"");
    hex(f, r->sig, r->siglen);
    if (r->recid >= 0)
        fprintf(f, "\",\"recovery_id\":%d}\n", r->recid);
    else
        fprintf(f, "\"}\n");
}

static int quick_sign(sigil_rpc_client *c, const char *key, sigil_rpc_status *st)
{
    uint8_t rid[16], msg[32];
    randombytes_buf(rid, sizeof rid);
    randombytes_buf(msg, sizeof msg);
    return sign(c, key, rid, msg, sizeof msg, 0, 0, NULL, st);
}

static void make_ed_key(void)
{
    sigil_rpc_client *adm = client("admin/ops");
    sigil_rpc_status st;
    CHECK_EQ(keygen(adm, "hot-ed", 1, &st), SIGIL_OK);
    sigil_rpc_client_free(adm);
}

/* hot-ed's 32-byte public key, as GetPublicKey gives it to wallet/alice. */
static void ed_public_key(uint8_t pk_out[32])
{
    sigil_rpc_client *w = client("wallet/alice");
    Sigil__V1__GetPublicKeyRequest gq = SIGIL__V1__GET_PUBLIC_KEY_REQUEST__INIT;
    ProtobufCMessage *m = NULL;
    sigil_rpc_status st;
    gq.key_id = "hot-ed";
    REQUIRE(sigil_rpc_call_msg(w, SIGIL_RPC_WALLET_GET_PUBLIC_KEY, &gq.base,
                               &sigil__v1__get_public_key_response__descriptor, &m, 5000,
                               &st) == SIGIL_OK);
    Sigil__V1__GetPublicKeyResponse *pk = (Sigil__V1__GetPublicKeyResponse *)m;
    REQUIRE(pk->key && pk->key->public_key.len == 32);
    memcpy(pk_out, pk->key->public_key.data, 32);
    sigil_rpc_msg_free(m);
    sigil_rpc_client_free(w);
}

/* ---- tests ---- */

static void test_schemes(void)
{
    static const struct {
        const char *key, *name;
        int scheme, digest;
    } s[] = {{"hot-ed", "frost-ed25519", 1, 0},
             {"hot-k1", "frost-secp256k1", 2, 0},
             {"hot-bip", "frost-bip340", 3, 1},
             {"hot-ecdsa", "ecdsa", 4, 1}};
    sigil_rpc_client *adm = client("admin/ops"), *w = client("wallet/alice");
    sigil_rpc_status st;
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/sigs.jsonl", dir);
    FILE *f = fopen(path, "w");
    REQUIRE(f);
    for (size_t i = 0; i < 4; i++) {
        CHECK_EQ(keygen(adm, s[i].key, s[i].scheme, &st), SIGIL_OK);
        /* a second key generation with the same id is refused */
        CHECK_EQ(keygen(adm, s[i].key, s[i].scheme, &st), SIGIL_E_EXISTS);
        for (int j = 0; j < 5; j++) {
            uint8_t rid[16], msg[40];
            size_t len = s[i].digest ? 32 : (size_t)(j * 8);
            sig_result r;
            randombytes_buf(rid, sizeof rid);
            randombytes_buf(msg, sizeof msg);
            int code = sign(w, s[i].key, rid, msg, len, s[i].digest, s[i].scheme, &r, &st);
            CHECK_EQ(code, 0);
            if (code)
                fprintf(stderr, "sign %s: %s %s\n", s[i].key, sigil_rpc_status_name(code), st.detail);
            else
                jsonl(f, s[i].name, &r, msg, len);
        }
    }
    /* SignBatch: 50 digests / messages in one request */
    for (size_t i = 0; i < 4; i++) {
        Sigil__V1__SignBatchRequest req = SIGIL__V1__SIGN_BATCH_REQUEST__INIT;
        Sigil__V1__SignItem items[50], *ptrs[50];
        uint8_t data[50][32], rid[16];
        ProtobufCMessage *m = NULL;
        randombytes_buf(rid, sizeof rid);
        for (int j = 0; j < 50; j++) {
            randombytes_buf(data[j], 32);
            sigil__v1__sign_item__init(&items[j]);
            items[j].payload_case = s[i].digest ? SIGIL__V1__SIGN_ITEM__PAYLOAD_DIGEST
                                                : SIGIL__V1__SIGN_ITEM__PAYLOAD_MESSAGE;
            if (s[i].digest)
                items[j].digest = (ProtobufCBinaryData){32, data[j]};
            else
                items[j].message = (ProtobufCBinaryData){32, data[j]};
            ptrs[j] = &items[j];
        }
        req.key_id = (char *)s[i].key;
        req.request_id = (ProtobufCBinaryData){16, rid};
        req.items = ptrs;
        req.n_items = 50;
        int rc = sigil_rpc_call_msg(w, SIGIL_RPC_WALLET_SIGN_BATCH, &req.base,
                                    &sigil__v1__sign_batch_response__descriptor, &m, 15000, &st);
        CHECK_EQ(rc, SIGIL_OK);
        if (rc) {
            fprintf(stderr, "SignBatch %s: %s %s\n", s[i].key, sigil_rpc_status_name(st.code),
                    st.detail);
            continue;
        }
        Sigil__V1__SignBatchResponse *r = (Sigil__V1__SignBatchResponse *)m;
        CHECK_EQ(r->n_signatures, 50);
        for (size_t j = 0; j < r->n_signatures && j < 50; j++) {
            sig_result sr;
            memset(&sr, 0, sizeof sr);
            sr.siglen = r->signatures[j].len;
            memcpy(sr.sig, r->signatures[j].data, sr.siglen <= 65 ? sr.siglen : 0);
            sr.pklen = r->public_key.len;
            memcpy(sr.pk, r->public_key.data, sr.pklen <= 33 ? sr.pklen : 0);
            sr.recid = j < r->n_recovery_ids ? (int)r->recovery_ids[j] : -1;
            CHECK(s[i].scheme != 4 || j < r->n_recovery_ids);
            jsonl(f, s[i].name, &sr, data[j], 32);
        }
        sigil_rpc_msg_free(m);
    }
    fclose(f);
    /* every signature verified by independent code; 3*5 + 3*50 lines */
    CHECK(sh("test $(wc -l < '%s') -eq 220 && '%s/verify-signatures' '%s' >&2", path, scripts,
             path) == 0);
    /* every scheme, ECDSA with its recovery id, is in the file */
    CHECK(sh("grep -c recovery_id '%s' | grep -qx 55", path) == 0);
    /* a tampered signature is caught by the same verifier (the check is real) */
    CHECK(sh("sed '1s/\"signature\":\"../\"signature\":\"00/' '%s' | '%s/verify-signatures' "
             ">/dev/null 2>&1",
             path, scripts) != 0);
    /* ListKeys shows alice's three keys; GetPublicKey for each */
    {
        Sigil__V1__ListKeysRequest lr = SIGIL__V1__LIST_KEYS_REQUEST__INIT;
        ProtobufCMessage *m = NULL;
        CHECK_EQ(sigil_rpc_call_msg(w, SIGIL_RPC_WALLET_LIST_KEYS, &lr.base,
                                    &sigil__v1__list_keys_response__descriptor, &m, 5000, &st),
                 SIGIL_OK);
        if (m)
            CHECK_EQ(((Sigil__V1__ListKeysResponse *)m)->n_keys, 4);
        sigil_rpc_msg_free(m);
        /* bob may use bob-* keys only: he sees none */
        sigil_rpc_client *bob = client("wallet/bob");
        m = NULL;
        CHECK_EQ(sigil_rpc_call_msg(bob, SIGIL_RPC_WALLET_LIST_KEYS, &lr.base,
                                    &sigil__v1__list_keys_response__descriptor, &m, 5000, &st),
                 SIGIL_OK);
        if (m)
            CHECK_EQ(((Sigil__V1__ListKeysResponse *)m)->n_keys, 0);
        sigil_rpc_msg_free(m);
        sigil_rpc_client_free(bob);
    }
    /* the registry persisted: a restarted coordinator still signs with the keys */
    CHECK(sh("'%s/cluster' stop-coord '%s' && '%s/cluster' start-coord '%s'", scripts, dir,
             scripts, dir) == 0);
    sigil_rpc_client_free(w);
    w = client("wallet/alice");
    CHECK_EQ(quick_sign(w, "hot-ed", &st), 0);
    /* the audit log holds every key generation and signature (4 + 20 + 200 + 1)
     * and the configuration of each of the two starts (2), checked offline by the independent verifier against the token's key */
    CHECK(sh("'%s/cluster' stop-coord '%s' && '%s/sigil-audit' verify --log '%s/coord/audit' "
             "--key '%s/coord/audit.pub' | grep -q 'ok: 227 entries'",
             scripts, dir, bindir, dir, dir) == 0);
    /* every node's share log matches the central log: each share backs a
     * released signature, each signature is backed by t node records */
    CHECK(sh("'%s/sigil-audit' cross-check --central '%s/coord/audit' --node '%s/node1/state/audit' "
             "--node '%s/node2/state/audit' --node '%s/node3/state/audit' --threshold 2 "
             "| grep -q 'cross-check ok: 221 signatures'",
             bindir, dir, dir, dir, dir) == 0);
    CHECK(sh("'%s/cluster' start-coord '%s'", scripts, dir) == 0);
    /* the registry holds public data only */
    CHECK(sh("grep -q public_package '%s/coord/state/keys.json'", dir) == 0);
    CHECK(sh("grep -qi 'secret\\|share\"' '%s/coord/state/keys.json'", dir) != 0);
    sigil_rpc_client_free(w);
    sigil_rpc_client_free(adm);
}

static void test_idem(void)
{
    sigil_rpc_client *w = client("wallet/alice"), *bob;
    uint8_t rid[16], msg[32] = "pay 1 BTC to carol", other[32] = "pay 100 BTC to mallory";
    sig_result a, b;
    sigil_rpc_status st;
    make_ed_key();
    randombytes_buf(rid, sizeof rid);
    CHECK_EQ(sign(w, "hot-ed", rid, msg, 32, 0, 0, &a, &st), 0);
    CHECK_EQ(a.replayed, 0);
    /* the retry returns the same signature without signing again */
    CHECK_EQ(sign(w, "hot-ed", rid, msg, 32, 0, 0, &b, &st), 0);
    CHECK_EQ(b.replayed, 1);
    CHECK(a.siglen == 64 && b.siglen == 64 && !memcmp(a.sig, b.sig, 64));
    CHECK(a.audit_index > 0 && a.audit_index == b.audit_index); /* signed once, logged once */
    /* same id, different request: refused, nothing signed */
    CHECK_EQ(sign(w, "hot-ed", rid, other, 32, 0, 0, &b, &st), GRPC_STATUS_ALREADY_EXISTS);
    CHECK(strstr(st.detail, "request_id") != NULL);
    /* ids are per identity: the same id from another wallet is another request
     * (bob has no permission on hot-ed, so he gets PERMISSION_DENIED, not the cache) */
    bob = client("wallet/bob");
    CHECK_EQ(sign(bob, "hot-ed", rid, msg, 32, 0, 0, &b, &st), GRPC_STATUS_PERMISSION_DENIED);
    sigil_rpc_client_free(bob);
    /* a request id of the wrong size */
    Sigil__V1__SignRequest req = SIGIL__V1__SIGN_REQUEST__INIT;
    Sigil__V1__SignItem it = SIGIL__V1__SIGN_ITEM__INIT;
    ProtobufCMessage *m = NULL;
    req.key_id = "hot-ed";
    req.request_id = (ProtobufCBinaryData){4, rid};
    it.payload_case = SIGIL__V1__SIGN_ITEM__PAYLOAD_MESSAGE;
    it.message = (ProtobufCBinaryData){3, msg};
    req.item = &it;
    CHECK_EQ(sigil_rpc_call_msg(w, SIGIL_RPC_WALLET_SIGN, &req.base,
                                &sigil__v1__sign_response__descriptor, &m, 5000, &st),
             SIGIL_E_INVALID);
    CHECK_EQ(st.code, GRPC_STATUS_INVALID_ARGUMENT);
    sigil_rpc_client_free(w);
    /* sigil-bench load against the cluster: 4 mTLS clients, 40 calls, no
     * errors, and each daemon's CPU per signature (--watch) */
    CHECK(sh("'%s/sigil-bench' load --ca '%s/pki/ca.pem' --cert '%s/pki/wallet-alice.pem' "
             "--key '%s/pki/wallet-alice.key' --target %s --key-id hot-ed --clients 4 "
             "--count 40 $('%s/cluster' watch '%s') >'%s/load.out' && "
             "grep -q 'calls ok 40, errors 0' '%s/load.out' && "
             "grep -Eq '^CPU per signature \\(user\\+sys\\): coord [0-9.]+ us node1 [0-9.]+ us "
             "node2 [0-9.]+ us node3 [0-9.]+ us, generator [0-9.]+ us; all [0-9.]+ us = "
             "[0-9.]+ of [0-9]+ cores busy$' '%s/load.out'",
             bindir, dir, dir, dir, target, scripts, dir, dir, dir, dir) == 0);
    /* a --watch that names no process: refused before any call */
    CHECK(sh("'%s/sigil-bench' load --ca '%s/pki/ca.pem' --cert '%s/pki/wallet-alice.pem' "
             "--key '%s/pki/wallet-alice.key' --target %s --key-id hot-ed --count 1 "
             "--watch coord=999999999 2>&1 | grep -q 'want NAME=PID of a running process'",
             bindir, dir, dir, dir, target) == 0);
}

static void test_badinput(void)
{
    sigil_rpc_client *w = client("wallet/alice"), *bob = client("wallet/bob");
    sigil_rpc_status st;
    uint8_t rid[16], d[32] = {1};
    sigil_buf resp;
    make_ed_key();
    sigil_buf_init(&resp, 1 << 20, 0);

    /* malformed protobuf */
    static const uint8_t junk[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01};
    CHECK(sigil_rpc_call_unary(w, SIGIL_RPC_WALLET_SIGN, junk, sizeof junk, &resp, 5000, &st) != 0);
    CHECK_EQ(st.code, GRPC_STATUS_INVALID_ARGUMENT);
    /* oversize (a 200 KiB message field) */
    uint8_t *big = calloc(1, 200 * 1024);
    REQUIRE(big);
    randombytes_buf(rid, sizeof rid);
    CHECK_EQ(sign(w, "hot-ed", rid, big, 200 * 1024, 0, 0, NULL, &st), GRPC_STATUS_RESOURCE_EXHAUSTED);
    /* a message just above the 64 KiB item limit but under the request limit */
    randombytes_buf(rid, sizeof rid);
    CHECK_EQ(sign(w, "hot-ed", rid, big, 64 * 1024 + 1, 0, 0, NULL, &st),
             GRPC_STATUS_RESOURCE_EXHAUSTED);
    free(big);
    /* unknown key (authorized pattern, no such key) */
    randombytes_buf(rid, sizeof rid);
    CHECK_EQ(sign(w, "hot-nope", rid, d, 32, 0, 0, NULL, &st), GRPC_STATUS_NOT_FOUND);
    CHECK(strstr(st.detail, "hot-nope") != NULL);
    /* wrong scheme guard */
    randombytes_buf(rid, sizeof rid);
    CHECK_EQ(sign(w, "hot-ed", rid, d, 32, 1, 4, NULL, &st), GRPC_STATUS_FAILED_PRECONDITION);
    CHECK(strstr(st.detail, "frost-ed25519") != NULL);
    /* a digest where the scheme signs the message */
    randombytes_buf(rid, sizeof rid);
    CHECK_EQ(sign(w, "hot-ed", rid, d, 32, 1, 0, NULL, &st), GRPC_STATUS_INVALID_ARGUMENT);
    /* a valid certificate without permission for the key */
    randombytes_buf(rid, sizeof rid);
    CHECK_EQ(sign(bob, "hot-ed", rid, d, 32, 0, 0, NULL, &st), GRPC_STATUS_PERMISSION_DENIED);
    /* a wallet may not halt or generate keys */
    Sigil__V1__HaltRequest hr = SIGIL__V1__HALT_REQUEST__INIT;
    ProtobufCMessage *m = NULL;
    CHECK_EQ(sigil_rpc_call_msg(w, SIGIL_RPC_ADMIN_HALT, &hr.base,
                                &sigil__v1__halt_response__descriptor, &m, 5000, &st),
             SIGIL_E_PERMISSION);
    CHECK_EQ(keygen(w, "hot-x", 1, &st), SIGIL_E_PERMISSION);
    /* a client certificate from another CA (same identity) */
    char other[PATH_MAX + 16];
    snprintf(other, sizeof other, "%s/otherca", dir);
    REQUIRE(sh("'%s/dev-pki' '%s' wallet/alice >/dev/null", scripts, other) == 0);
    sigil_rpc_client *evil = client_as("wallet/alice", other);
    randombytes_buf(rid, sizeof rid);
    int code = sign(evil, "hot-ed", rid, d, 32, 0, 0, NULL, &st);
    CHECK(code == GRPC_STATUS_UNAVAILABLE || code == GRPC_STATUS_UNAUTHENTICATED);
    sigil_rpc_client_free(evil);
    /* the server kept serving through all of it */
    CHECK_EQ(quick_sign(w, "hot-ed", &st), 0);
    sigil_buf_free(&resp);
    sigil_rpc_client_free(w);
    sigil_rpc_client_free(bob);
}

typedef struct {
    sigil_rpc_client *c;
    int n;
    atomic_int *ok, *bad;
} load_arg;

static void *load_main(void *p)
{
    load_arg *a = p;
    for (int i = 0; i < a->n; i++) {
        sigil_rpc_status st;
        int code = quick_sign(a->c, "hot-ed", &st);
        if (code == 0)
            atomic_fetch_add(a->ok, 1);
        else {
            atomic_fetch_add(a->bad, 1);
            fprintf(stderr, "lost request: %s %s\n", sigil_rpc_status_name(code), st.detail);
        }
    }
    return NULL;
}

static void test_failover(void)
{
    sigil_rpc_client *w = client("wallet/alice");
    sigil_rpc_status st;
    sig_result r;
    uint8_t rid[16], msg[8] = "m";
    int used3 = 0;
    make_ed_key();
    /* node 3 dies: every request still signs, with nodes 1 and 2 */
    REQUIRE(sh("'%s/cluster' kill-node '%s' 3", scripts, dir) == 0);
    for (int i = 0; i < 20; i++) {
        randombytes_buf(rid, sizeof rid);
        int code = sign(w, "hot-ed", rid, msg, sizeof msg, 0, 0, &r, &st);
        CHECK_EQ(code, 0);
        if (code)
            fprintf(stderr, "after kill: %s %s\n", sigil_rpc_status_name(code), st.detail);
        for (size_t j = 0; j < r.nsigners; j++)
            used3 |= r.signers[j] == 3;
    }
    CHECK_EQ(used3, 0);
    /* restart it; then kill node 1 while 4 clients keep 60 requests each in
     * flight: none may be lost */
    REQUIRE(sh("'%s/cluster' start-node '%s' 3", scripts, dir) == 0);
    usleep(300 * 1000);
    atomic_int ok = 0, bad = 0;
    pthread_t th[4];
    load_arg la[4];
    sigil_rpc_client *cs[4];
    for (int i = 0; i < 4; i++) {
        cs[i] = client("wallet/alice");
        la[i] = (load_arg){cs[i], 60, &ok, &bad};
        pthread_create(&th[i], NULL, load_main, &la[i]);
    }
    usleep(150 * 1000);
    REQUIRE(sh("'%s/cluster' kill-node '%s' 1", scripts, dir) == 0);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        sigil_rpc_client_free(cs[i]);
    }
    CHECK_EQ(atomic_load(&bad), 0);
    CHECK_EQ(atomic_load(&ok), 240);
    /* the coordinator says why it retried */
    /* with only one node left, signing fails cleanly with UNAVAILABLE */
    REQUIRE(sh("'%s/cluster' kill-node '%s' 2", scripts, dir) == 0);
    CHECK_EQ(quick_sign(w, "hot-ed", &st), GRPC_STATUS_UNAVAILABLE);
    CHECK(strstr(st.detail, "healthy") != NULL || strstr(st.detail, "node") != NULL);
    /* nodes come back: signing recovers */
    REQUIRE(sh("'%s/cluster' start-node '%s' 1 && '%s/cluster' start-node '%s' 2", scripts, dir,
               scripts, dir) == 0);
    int code = -1;
    for (int i = 0; i < 40 && code; i++) {
        code = quick_sign(w, "hot-ed", &st);
        if (code)
            usleep(100 * 1000);
    }
    CHECK_EQ(code, 0);
    sigil_rpc_client_free(w);
}

/* Build and send Resume with approvals of the named officers over a
 * statement (halt_epoch as given; 0 = current). stmt_out keeps the bytes. */
static int resume(sigil_rpc_client *c, const char **officers, size_t n, uint64_t epoch,
                  sigil_buf *stmt, sigil_rpc_status *st)
{
    Sigil__V1__ResumeRequest req = SIGIL__V1__RESUME_REQUEST__INIT;
    Sigil__V1__Approval ap[4], *app[4];
    uint8_t sigs[4][64];
    ProtobufCMessage *m = NULL;
    if (stmt->size == 0) {
        Sigil__V1__ApprovalStatement s = SIGIL__V1__APPROVAL_STATEMENT__INIT;
        uint8_t nonce[32];
        randombytes_buf(nonce, 32);
        s.action = "resume";
        s.cluster_id = "demo";
        s.nonce = (ProtobufCBinaryData){32, nonce};
        s.expires_unix = (uint64_t)time(NULL) + 120;
        s.halt_epoch = epoch;
        REQUIRE(sigil_rpc_pack(&s.base, stmt) == 0);
    }
    for (size_t i = 0; i < n; i++) {
        char p[PATH_MAX + 64], hexs[200] = {0};
        uint8_t sk[64];
        size_t bin = 0;
        snprintf(p, sizeof p, "%s/officers/%s.key", dir, officers[i]);
        FILE *f = fopen(p, "r");
        REQUIRE(f && fgets(hexs, sizeof hexs, f));
        fclose(f);
        REQUIRE(sodium_hex2bin(sk, 64, hexs, strlen(hexs), "\n", &bin, NULL) == 0 && bin == 64);
        sigil_buf msg;
        sigil_buf_init(&msg, 8192, 0);
        sigil_buf_put(&msg, "sigil.v1.approval", 18);
        sigil_buf_put(&msg, stmt->data, stmt->size);
        crypto_sign_detached(sigs[i], NULL, msg.data, msg.size, sk);
        sigil_buf_free(&msg);
        sigil__v1__approval__init(&ap[i]);
        ap[i].officer = (char *)officers[i];
        ap[i].signature = (ProtobufCBinaryData){64, sigs[i]};
        app[i] = &ap[i];
    }
    req.statement = (ProtobufCBinaryData){stmt->size, stmt->data};
    req.approvals = app;
    req.n_approvals = n;
    int rc = sigil_rpc_call_msg(c, SIGIL_RPC_ADMIN_RESUME, &req.base,
                                &sigil__v1__resume_response__descriptor, &m, 10000, st);
    if (rc == 0) {
        Sigil__V1__ResumeResponse *r = (Sigil__V1__ResumeResponse *)m;
        for (size_t i = 0; i < r->n_peers; i++)
            CHECK(r->peers[i]->ok);
    }
    sigil_rpc_msg_free(m);
    return rc;
}

static int halt(sigil_rpc_client *c, sigil_rpc_status *st)
{
    Sigil__V1__HaltRequest req = SIGIL__V1__HALT_REQUEST__INIT;
    ProtobufCMessage *m = NULL;
    req.reason = "integration drill";
    int rc = sigil_rpc_call_msg(c, SIGIL_RPC_ADMIN_HALT, &req.base,
                                &sigil__v1__halt_response__descriptor, &m, 10000, st);
    if (rc == 0) {
        Sigil__V1__HaltResponse *r = (Sigil__V1__HaltResponse *)m;
        CHECK(r->halted);
        CHECK_EQ(r->n_peers, 3);
        for (size_t i = 0; i < r->n_peers; i++)
            CHECK(r->peers[i]->ok);
    }
    sigil_rpc_msg_free(m);
    return rc;
}

static void test_breaker(void)
{
    sigil_rpc_client *w = client("wallet/alice"), *carol = client("officer/carol");
    sigil_rpc_status st;
    sigil_buf stmt;
    const char *two[] = {"carol", "dave"}, *one[] = {"erin"}, *dup[] = {"carol", "carol"};
    make_ed_key();
    CHECK_EQ(quick_sign(w, "hot-ed", &st), 0);
    /* halt: signing stops well within 1 s */
    double t0 = now_s();
    CHECK_EQ(halt(carol, &st), SIGIL_OK);
    CHECK_EQ(quick_sign(w, "hot-ed", &st), GRPC_STATUS_FAILED_PRECONDITION);
    CHECK(now_s() - t0 < 1.0);
    CHECK(strstr(st.detail, "halted by sigil://officer/carol") != NULL);
    /* restarts while halted: coordinator and a node come back halted */
    CHECK(sh("'%s/cluster' stop-coord '%s' && '%s/cluster' start-coord '%s'", scripts, dir,
             scripts, dir) == 0);
    CHECK(sh("'%s/cluster' stop-node '%s' 2 && '%s/cluster' start-node '%s' 2", scripts, dir,
             scripts, dir) == 0);
    sigil_rpc_client_free(w);
    sigil_rpc_client_free(carol);
    w = client("wallet/alice");
    carol = client("officer/carol");
    CHECK_EQ(quick_sign(w, "hot-ed", &st), GRPC_STATUS_FAILED_PRECONDITION);
    CHECK(sh("grep -q '\"halted\": true' '%s/coord/state/breaker.json'", dir) == 0);
    /* resume: one approval is not enough; a duplicate officer does not count
     * twice; an unknown officer is refused */
    sigil_buf_init(&stmt, 4096, 0);
    CHECK(resume(carol, one, 1, 0, &stmt, &st) != SIGIL_OK);
    sigil_buf_reset(&stmt);
    stmt.size = 0;
    CHECK(resume(carol, dup, 2, 0, &stmt, &st) != SIGIL_OK);
    CHECK_EQ(quick_sign(w, "hot-ed", &st), GRPC_STATUS_FAILED_PRECONDITION);
    /* two approvals over a fresh statement for the current epoch: resumed */
    sigil_buf_reset(&stmt);
    stmt.size = 0;
    CHECK_EQ(resume(carol, two, 2, 0, &stmt, &st), SIGIL_OK);
    if (st.code)
        fprintf(stderr, "resume: %s %s\n", sigil_rpc_status_name(st.code), st.detail);
    CHECK_EQ(quick_sign(w, "hot-ed", &st), 0);
    /* replay: halt again, resend the same statement and approvals */
    CHECK_EQ(halt(carol, &st), SIGIL_OK);
    CHECK_EQ(resume(carol, two, 2, 0, &stmt, &st), SIGIL_E_EXISTS);
    CHECK_EQ(st.code, GRPC_STATUS_ALREADY_EXISTS);
    CHECK_EQ(quick_sign(w, "hot-ed", &st), GRPC_STATUS_FAILED_PRECONDITION);
    /* a statement for an old epoch is refused */
    sigil_buf_reset(&stmt);
    stmt.size = 0;
    CHECK(resume(carol, two, 2, 1, &stmt, &st) != SIGIL_OK);
    sigil_buf_reset(&stmt);
    stmt.size = 0;
    CHECK_EQ(resume(carol, two, 2, 2, &stmt, &st), SIGIL_OK);
    CHECK_EQ(quick_sign(w, "hot-ed", &st), 0);
    /* the refusals are in the audit log too: who asked, for which key, why */
    CHECK(sh("'%s/cluster' stop-coord '%s' && '%s/sigil-audit' verify --log '%s/coord/audit' "
             "--key '%s/coord/audit.pub' >/dev/null && '%s/sigil-audit' show --log '%s/coord/audit' "
             "--type sign --actor sigil://wallet/alice | grep 'error=SIGIL_E_HALTED' | grep -c 'halted by sigil://officer/carol' "
             "| grep -qx 4",
             scripts, dir, bindir, dir, dir, bindir, dir) == 0);
    CHECK(sh("'%s/cluster' start-coord '%s'", scripts, dir) == 0);
    sigil_buf_free(&stmt);
    sigil_rpc_client_free(w);
    sigil_rpc_client_free(carol);
}

/* ---- audit log: failure and recovery, configuration records ---- */

static int health_of(sigil_rpc_client *c, const char *name, char *detail, size_t n)
{
    Sigil__V1__HealthRequest req = SIGIL__V1__HEALTH_REQUEST__INIT;
    ProtobufCMessage *m = NULL;
    sigil_rpc_status st;
    int ok = -1;
    detail[0] = 0;
    if (sigil_rpc_call_msg(c, SIGIL_RPC_ADMIN_HEALTH, &req.base,
                           &sigil__v1__health_response__descriptor, &m, 10000, &st))
        return -1;
    Sigil__V1__HealthResponse *r = (Sigil__V1__HealthResponse *)m;
    for (size_t i = 0; i < r->n_components; i++)
        if (!strcmp(r->components[i]->name, name)) {
            ok = r->components[i]->ok;
            snprintf(detail, n, "%s", r->components[i]->detail);
        }
    sigil_rpc_msg_free(m);
    return ok;
}

static char mnt[PATH_MAX + 32];
static int mounted;

static void unmount_audit(void)
{
    if (!mounted)
        return;
    /* the coordinator must let go of the files first */
    sh("'%s/cluster' down '%s' >/dev/null 2>&1", scripts, dir);
    if (sh("umount '%s'", mnt) != 0)
        sh("umount -l '%s'", mnt);
    mounted = 0;
}

/* signers running through the outage: every answer is a verified
 * signature or UNAVAILABLE, nothing else */
typedef struct {
    sigil_rpc_client *c;
    atomic_int *stop;
    pthread_mutex_t *mu;
    sig_result *rel;
    int *nrel, max, unavailable, other;
} outage_arg;

static void *outage_main(void *p)
{
    outage_arg *a = p;
    uint8_t rid[16], msg[32];
    while (!atomic_load(a->stop)) {
        sig_result r;
        sigil_rpc_status st;
        randombytes_buf(rid, sizeof rid);
        randombytes_buf(msg, sizeof msg);
        int code = sign(a->c, "hot-ed", rid, msg, sizeof msg, 0, 0, &r, &st);
        if (code == 0) {
            pthread_mutex_lock(a->mu);
            if (*a->nrel < a->max)
                a->rel[(*a->nrel)++] = r;
            pthread_mutex_unlock(a->mu);
        } else if (code == GRPC_STATUS_UNAVAILABLE && strstr(st.detail, "audit log unavailable")) {
            a->unavailable++;
            usleep(20 * 1000);
        } else {
            a->other++;
            fprintf(stderr, "outage: %s %s\n", sigil_rpc_status_name(code), st.detail);
        }
    }
    return NULL;
}

static void test_auditfull(void)
{
    char p[PATH_MAX + 64], detail[256];
    static sig_result rel[4000];
    int nrel = 0, code = 0;
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    atomic_int stop = 0;
    outage_arg oa[3];
    pthread_t th[3];
    uint8_t rid[16], msg[32];
    sigil_rpc_status st;

    /* move the coordinator's audit log onto a 1 MiB tmpfs */
    snprintf(mnt, sizeof mnt, "%s/coord/audit", dir);
    REQUIRE(sh("'%s/cluster' stop-coord '%s'", scripts, dir) == 0);
    REQUIRE(sh("mv '%s' '%s.orig' && mkdir '%s'", mnt, mnt, mnt) == 0);
    if (sh("mount -t tmpfs -o size=1m,mode=0700 sigil-audit-test '%s'", mnt) != 0) {
        fprintf(stderr, "auditfull: cannot mount a tmpfs on %s: this test needs root (CAP_SYS_ADMIN) "
                        "to make the audit log's disk really full\n", mnt);
        CHECK(0);
        return;
    }
    mounted = 1;
    atexit(unmount_audit);
    REQUIRE(sh("cp -a '%s.orig/.' '%s/'", mnt, mnt) == 0);
    REQUIRE(sh("'%s/cluster' start-coord '%s'", scripts, dir) == 0);
    sigil_rpc_client *w = client("wallet/alice"), *adm = client("admin/ops");
    make_ed_key();
    for (int i = 0; i < 3; i++) {
        randombytes_buf(rid, sizeof rid);
        randombytes_buf(msg, sizeof msg);
        CHECK_EQ(sign(w, "hot-ed", rid, msg, sizeof msg, 0, 0, &rel[nrel], &st), 0);
        nrel += rel[nrel].siglen > 0;
    }
    CHECK_EQ(health_of(adm, "audit-log", detail, sizeof detail), 1);

    /* three clients keep signing through the outage and the reopen */
    for (int i = 0; i < 3; i++) {
        oa[i] = (outage_arg){client("wallet/alice"), &stop, &mu, rel, &nrel,
                             (int)(sizeof rel / sizeof rel[0]), 0, 0};
        pthread_create(&th[i], NULL, outage_main, &oa[i]);
    }

    /* fill the filesystem: the log's last page may still take a few
     * entries, then appends fail with ENOSPC */
    sh("dd if=/dev/zero of='%s/fill' bs=4k >/dev/null 2>&1", mnt);
    for (int i = 0; i < 150; i++) {
        randombytes_buf(rid, sizeof rid);
        randombytes_buf(msg, sizeof msg);
        sig_result r;
        code = sign(w, "hot-ed", rid, msg, sizeof msg, 0, 0, &r, &st);
        if (code)
            break;
        pthread_mutex_lock(&mu);
        if (nrel < (int)(sizeof rel / sizeof rel[0]))
            rel[nrel++] = r;
        pthread_mutex_unlock(&mu);
    }
    CHECK_EQ(code, GRPC_STATUS_UNAVAILABLE);
    CHECK(strstr(st.detail, "audit log unavailable") != NULL);
    if (code != GRPC_STATUS_UNAVAILABLE)
        fprintf(stderr, "full disk: %s %s\n", sigil_rpc_status_name(code), st.detail);
    /* while full: refused every time, nothing released; Health says why */
    for (int i = 0; i < 5; i++) {
        sig_result r;
        memset(&r, 0, sizeof r);
        randombytes_buf(rid, sizeof rid);
        CHECK_EQ(sign(w, "hot-ed", rid, msg, sizeof msg, 0, 0, &r, &st), GRPC_STATUS_UNAVAILABLE);
        CHECK_EQ(r.siglen, 0);
        usleep(200 * 1000);
    }
    CHECK_EQ(health_of(adm, "audit-log", detail, sizeof detail), 0);
    CHECK(strstr(detail, "FAILED") != NULL);
    snprintf(p, sizeof p, "%s/coord/log", dir);
    CHECK(sh("grep -q 'audit log FAILED' '%s'", p) == 0);

    /* free the space: signing resumes without a restart */
    REQUIRE(sh("rm -f '%s/fill'", mnt) == 0);
    double t0 = now_s();
    code = -1;
    while (code && now_s() - t0 < 5.0) {
        sig_result r;
        randombytes_buf(rid, sizeof rid);
        randombytes_buf(msg, sizeof msg);
        code = sign(w, "hot-ed", rid, msg, sizeof msg, 0, 0, &r, &st);
        pthread_mutex_lock(&mu);
        if (code == 0 && nrel < (int)(sizeof rel / sizeof rel[0]))
            rel[nrel++] = r;
        pthread_mutex_unlock(&mu);
        if (code)
            usleep(100 * 1000);
    }
    CHECK_EQ(code, 0);
    CHECK(now_s() - t0 < 5.0);
    usleep(500 * 1000);
    atomic_store(&stop, 1);
    int unavail = 0;
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        sigil_rpc_client_free(oa[i].c);
        CHECK_EQ(oa[i].other, 0);
        unavail += oa[i].unavailable;
    }
    CHECK(unavail > 0);
    for (int i = 0; i < 5; i++) {
        randombytes_buf(rid, sizeof rid);
        randombytes_buf(msg, sizeof msg);
        CHECK_EQ(sign(w, "hot-ed", rid, msg, sizeof msg, 0, 0, &rel[nrel], &st), 0);
        nrel += rel[nrel].siglen > 0;
    }
    CHECK_EQ(health_of(adm, "audit-log", detail, sizeof detail), 1);
    /* one line for the outage, one for the recovery, however long it lasted */
    CHECK(sh("test \"$(grep -c 'audit log FAILED' '%s')\" = 1", p) == 0);
    CHECK(sh("test \"$(grep -c 'audit log recovered' '%s')\" = 1", p) == 0);
    sigil_rpc_client_free(w);
    sigil_rpc_client_free(adm);

    /* stopped: the whole log verifies offline and holds every signature
     * that was released */
    REQUIRE(sh("'%s/cluster' stop-coord '%s'", scripts, dir) == 0);
    CHECK(sh("'%s/sigil-audit' verify --log '%s' --key '%s/coord/audit.pub'", bindir, mnt, dir) == 0);
    snprintf(p, sizeof p, "%s/show.txt", dir);
    CHECK(sh("'%s/sigil-audit' show --log '%s' --type sign > '%s'", bindir, mnt, p) == 0);
    FILE *f = fopen(p, "r");
    REQUIRE(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    rewind(f);
    char *text = calloc(1, (size_t)len + 1);
    REQUIRE(text && fread(text, 1, (size_t)len, f) == (size_t)len);
    fclose(f);
    CHECK(nrel >= 9);
    fprintf(stderr, "auditfull: %d signatures released, %d refusals during the outage\n", nrel, unavail);
    for (int i = 0; i < nrel; i++) {
        char h[2 * 65 + 8] = "sig=";
        for (size_t j = 0; j < rel[i].siglen; j++)
            sprintf(h + 4 + 2 * j, "%02x", rel[i].sig[j]);
        CHECK(strstr(text, h) != NULL);
    }
    free(text);
    /* the coordinator stays stopped; main unmounts before cluster_down */
}

/* the config digests recorded in the log, in order; returns their count */
static int config_digests(char out[][65], int max)
{
    char p[PATH_MAX + 64], line[2048];
    int n = 0;
    snprintf(p, sizeof p, "%s/config.txt", dir);
    if (sh("'%s/sigil-audit' show --log '%s/coord/audit' --type config --actor local:config > '%s'",
           bindir, dir, p))
        return -1;
    FILE *f = fopen(p, "r");
    if (!f)
        return -1;
    while (n < max && fgets(line, sizeof line, f)) {
        char *d = strstr(line, "digest=");
        if (d && strstr(line, "actor=local:config") && strlen(d) >= 7 + 64) {
            memcpy(out[n], d + 7, 64);
            out[n++][64] = 0;
        }
    }
    fclose(f);
    return n;
}

static int file_sha256(const char *path, char out[65])
{
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "sha256sum '%s'", path);
    FILE *f = popen(cmd, "r");
    if (!f)
        return -1;
    int ok = fscanf(f, "%64s", out) == 1;
    pclose(f);
    return ok && strlen(out) == 64 ? 0 : -1;
}

static void test_auditconfig(void)
{
    char conf[PATH_MAX + 32], d0[65], d1[65], got[4][65];
    snprintf(conf, sizeof conf, "%s/coord/coord.json", dir);
    REQUIRE(file_sha256(conf, d0) == 0);
    /* a stopped log, read offline */
    REQUIRE(sh("'%s/cluster' stop-coord '%s'", scripts, dir) == 0);
    CHECK_EQ(config_digests(got, 4), 1);
    CHECK(!strcmp(got[0], d0));
    /* the same file again: the same digest, recorded again */
    REQUIRE(sh("'%s/cluster' start-coord '%s' && '%s/cluster' stop-coord '%s'", scripts, dir,
               scripts, dir) == 0);
    CHECK_EQ(config_digests(got, 4), 2);
    CHECK(!strcmp(got[1], d0));
    /* a changed configuration (a bigger batch limit): a different digest */
    REQUIRE(sh("sed -i 's/\"max_batch\": 1024,/\"max_batch\": 512,/' '%s'", conf) == 0);
    REQUIRE(sh("grep -q '\"max_batch\": 512' '%s'", conf) == 0);
    REQUIRE(file_sha256(conf, d1) == 0);
    CHECK(strcmp(d0, d1) != 0);
    REQUIRE(sh("'%s/cluster' start-coord '%s' && '%s/cluster' stop-coord '%s'", scripts, dir,
               scripts, dir) == 0);
    CHECK_EQ(config_digests(got, 4), 3);
    CHECK(!strcmp(got[2], d1));
    CHECK(sh("'%s/sigil-audit' verify --log '%s/coord/audit' --key '%s/coord/audit.pub' >/dev/null",
             bindir, dir, dir) == 0);
    /* readable in show: type name, actor and digest on one line */
    CHECK(sh("'%s/sigil-audit' show --log '%s/coord/audit' --type config | grep -q "
             "'config .*actor=local:config .*digest=%s'", bindir, dir, d1) == 0);
    REQUIRE(sh("'%s/cluster' start-coord '%s'", scripts, dir) == 0);
}

/* ---- pipeline: concurrent Sign / SignBatch with replays in flight ---- */

#define PIPE_THREADS 8
#define PIPE_ITERS 30
#define PIPE_MAX_ITEMS 4

typedef struct {
    uint8_t rid[16];
    uint8_t msg[PIPE_MAX_ITEMS][32];
    size_t m;
    int batch;
    uint8_t bytes[1024];   /* the packed request */
    size_t len;
} pipe_req;

/* An answer: status, replayed flag, signatures, audit index. */
typedef struct {
    int code;
    char detail[256];
    int replayed;
    uint8_t sig[PIPE_MAX_ITEMS][64];
    size_t nsig;
    uint64_t index;
    int done;
} pipe_ans;

static uint8_t pipe_pk[32];
static pthread_mutex_t pipe_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pipe_cv = PTHREAD_COND_INITIALIZER;
/* every signature released fresh (not a replay): for the log check */
typedef struct {
    uint64_t index;
    uint8_t sig[64];
    uint8_t rid[16];
} pipe_rec;
static pipe_rec *pipe_recs;
static size_t pipe_nrecs;
static atomic_int pipe_calls, pipe_fresh, pipe_replays, pipe_busy, pipe_bad;

static void pipe_build(pipe_req *r, int batch, size_t m)
{
    Sigil__V1__SignRequest sr = SIGIL__V1__SIGN_REQUEST__INIT;
    Sigil__V1__SignBatchRequest br = SIGIL__V1__SIGN_BATCH_REQUEST__INIT;
    Sigil__V1__SignItem it[PIPE_MAX_ITEMS], *itp[PIPE_MAX_ITEMS];
    randombytes_buf(r->rid, sizeof r->rid);
    r->m = m;
    r->batch = batch;
    for (size_t j = 0; j < m; j++) {
        randombytes_buf(r->msg[j], 32);
        sigil__v1__sign_item__init(&it[j]);
        it[j].payload_case = SIGIL__V1__SIGN_ITEM__PAYLOAD_MESSAGE;
        it[j].message = (ProtobufCBinaryData){32, r->msg[j]};
        itp[j] = &it[j];
    }
    if (batch) {
        br.key_id = "hot-ed";
        br.request_id = (ProtobufCBinaryData){16, r->rid};
        br.items = itp;
        br.n_items = m;
        REQUIRE(protobuf_c_message_get_packed_size(&br.base) <= sizeof r->bytes);
        r->len = protobuf_c_message_pack(&br.base, r->bytes);
    } else {
        sr.key_id = "hot-ed";
        sr.request_id = (ProtobufCBinaryData){16, r->rid};
        sr.item = &it[0];
        REQUIRE(protobuf_c_message_get_packed_size(&sr.base) <= sizeof r->bytes);
        r->len = protobuf_c_message_pack(&sr.base, r->bytes);
    }
}

static void pipe_parse(const pipe_req *r, int rc, const sigil_rpc_status *st, const uint8_t *p,
                       size_t n, pipe_ans *a)
{
    ProtobufCMessage *m = NULL;
    memset(a, 0, sizeof *a);
    a->code = rc == SIGIL_OK ? 0 : st && st->code ? st->code : GRPC_STATUS_UNKNOWN;
    snprintf(a->detail, sizeof a->detail, "%s", st ? st->detail : "");
    if (rc != SIGIL_OK)
        return;
    if (sigil_rpc_unpack(r->batch ? &sigil__v1__sign_batch_response__descriptor
                                  : &sigil__v1__sign_response__descriptor,
                         p, n, 1 << 20, &m) != SIGIL_OK) {
        a->code = GRPC_STATUS_DATA_LOSS;
        return;
    }
    if (r->batch) {
        Sigil__V1__SignBatchResponse *b = (Sigil__V1__SignBatchResponse *)m;
        a->replayed = b->replayed;
        a->index = b->audit_index_first;
        a->nsig = b->n_signatures <= PIPE_MAX_ITEMS ? b->n_signatures : 0;
        for (size_t j = 0; j < a->nsig; j++)
            if (b->signatures[j].len == 64)
                memcpy(a->sig[j], b->signatures[j].data, 64);
    } else {
        Sigil__V1__SignResponse *s = (Sigil__V1__SignResponse *)m;
        a->replayed = s->replayed;
        a->index = s->audit_index;
        a->nsig = s->signature.len == 64;
        memcpy(a->sig[0], s->signature.data, a->nsig ? 64 : 0);
    }
    sigil_rpc_msg_free(m);
}

/* An OK answer to r: right count, every signature verifies. */
static int pipe_good(const pipe_req *r, const pipe_ans *a)
{
    if (a->code || a->nsig != r->m || a->index == 0)
        return 0;
    for (size_t j = 0; j < r->m; j++)
        if (crypto_sign_verify_detached(a->sig[j], r->msg[j], 32, pipe_pk) != 0)
            return 0;
    return 1;
}

static void pipe_record(const pipe_req *r, const pipe_ans *a)
{
    pthread_mutex_lock(&pipe_mu);
    for (size_t j = 0; j < r->m; j++) {
        pipe_rec *x = &pipe_recs[pipe_nrecs++];
        x->index = a->index + j;
        memcpy(x->sig, a->sig[j], 64);
        memcpy(x->rid, r->rid, 16);
    }
    pthread_mutex_unlock(&pipe_mu);
}

static void pipe_call(sigil_rpc_client *c, const pipe_req *r, pipe_ans *a)
{
    sigil_buf resp;
    sigil_rpc_status st;
    REQUIRE(sigil_buf_init(&resp, 1 << 20, 0) == SIGIL_OK);
    int rc = sigil_rpc_call_unary(c, r->batch ? SIGIL_RPC_WALLET_SIGN_BATCH : SIGIL_RPC_WALLET_SIGN,
                                  r->bytes, r->len, &resp, 20000, &st);
    pipe_parse(r, rc, &st, resp.data, resp.size, a);
    atomic_fetch_add(&pipe_calls, 1);
    sigil_buf_free(&resp);
}

typedef struct {
    const pipe_req *r;
    pipe_ans *a;
} pipe_async;

static void pipe_done(void *arg, int rc, const sigil_rpc_status *st, const uint8_t *p, size_t n)
{
    pipe_async *x = arg;
    pipe_parse(x->r, rc, st, p, n, x->a);
    atomic_fetch_add(&pipe_calls, 1);
    pthread_mutex_lock(&pipe_mu);
    x->a->done++;
    pthread_cond_broadcast(&pipe_cv);
    pthread_mutex_unlock(&pipe_mu);
}

static void *pipe_main(void *p)
{
    sigil_rpc_client *c = p;
    pipe_req prev, cur;
    pipe_ans a, b, first;
    int have_prev = 0;
    for (int i = 0; i < PIPE_ITERS; i++) {
        if (i % 5 == 3 && have_prev) {
            /* replay of a finished request: the stored answer, not signed again */
            pipe_call(c, &prev, &a);
            if (!(pipe_good(&prev, &a) && a.replayed && a.index == first.index &&
                  !memcmp(a.sig, first.sig, prev.m * 64))) {
                fprintf(stderr, "bad replay: %s %s\n", sigil_rpc_status_name(a.code), a.detail);
                atomic_fetch_add(&pipe_bad, 1);
            }
            atomic_fetch_add(&pipe_replays, 1);
            continue;
        }
        pipe_build(&cur, i % 3 == 0, i % 3 == 0 ? 1 + (size_t)i % PIPE_MAX_ITEMS : 1);
        if (i % 4 == 1) {
            /* the same request twice at once: one is signed; the other gets
             * the same answer replayed, or "in progress; retry" */
            pipe_async x = {&cur, &b};
            memset(&b, 0, sizeof b);
            REQUIRE(sigil_rpc_call_start(c, cur.batch ? SIGIL_RPC_WALLET_SIGN_BATCH
                                                      : SIGIL_RPC_WALLET_SIGN,
                                         cur.bytes, cur.len, 20000, pipe_done, &x) == SIGIL_OK);
            pipe_call(c, &cur, &a);
            pthread_mutex_lock(&pipe_mu);
            while (!b.done)
                pthread_cond_wait(&pipe_cv, &pipe_mu);
            pthread_mutex_unlock(&pipe_mu);
            pipe_ans *fresh = NULL, *other = NULL;
            if (pipe_good(&cur, &a) && !a.replayed)
                fresh = &a, other = &b;
            else if (pipe_good(&cur, &b) && !b.replayed)
                fresh = &b, other = &a;
            int ok = fresh != NULL && b.done == 1;
            if (ok && other->code == GRPC_STATUS_UNAVAILABLE && strstr(other->detail, "in progress"))
                atomic_fetch_add(&pipe_busy, 1);
            else if (ok)
                ok = pipe_good(&cur, other) && other->replayed && other->index == fresh->index &&
                     !memcmp(other->sig, fresh->sig, cur.m * 64);
            if (!ok) {
                fprintf(stderr, "bad duplicate pair: %s %s / %s %s\n",
                        sigil_rpc_status_name(a.code), a.detail, sigil_rpc_status_name(b.code),
                        b.detail);
                atomic_fetch_add(&pipe_bad, 1);
                continue;
            }
            first = *fresh;
        } else {
            pipe_call(c, &cur, &a);
            if (!pipe_good(&cur, &a) || a.replayed) {
                fprintf(stderr, "bad answer: %s %s\n", sigil_rpc_status_name(a.code), a.detail);
                atomic_fetch_add(&pipe_bad, 1);
                continue;
            }
            first = a;
        }
        pipe_record(&cur, &first);
        atomic_fetch_add(&pipe_fresh, 1);
        prev = cur;
        have_prev = 1;
    }
    return NULL;
}

static int rec_cmp(const void *x, const void *y)
{
    uint64_t a = ((const pipe_rec *)x)->index, b = ((const pipe_rec *)y)->index;
    return a < b ? -1 : a > b;
}

static void test_pipeline(void)
{
    sigil_rpc_client *cs[PIPE_THREADS];
    pthread_t th[PIPE_THREADS];
    make_ed_key();
    ed_public_key(pipe_pk);
    pipe_recs = calloc(PIPE_THREADS * PIPE_ITERS * PIPE_MAX_ITEMS, sizeof *pipe_recs);
    REQUIRE(pipe_recs);

    for (int i = 0; i < PIPE_THREADS; i++) {
        cs[i] = client("wallet/alice");
        REQUIRE(pthread_create(&th[i], NULL, pipe_main, cs[i]) == 0);
    }
    for (int i = 0; i < PIPE_THREADS; i++) {
        pthread_join(th[i], NULL);
        sigil_rpc_client_free(cs[i]);
    }
    CHECK_EQ(atomic_load(&pipe_bad), 0);
    fprintf(stderr, "pipeline: %d calls, %d requests signed (%zu signatures), %d replays, %d "
            "duplicates found in progress\n", atomic_load(&pipe_calls), atomic_load(&pipe_fresh),
            pipe_nrecs, atomic_load(&pipe_replays), atomic_load(&pipe_busy));
    CHECK(atomic_load(&pipe_fresh) + atomic_load(&pipe_replays) == PIPE_THREADS * PIPE_ITERS);

    /* the log: each released signature at its own audit index, with its
     * request id; no index given twice; nothing signed twice */
    qsort(pipe_recs, pipe_nrecs, sizeof *pipe_recs, rec_cmp);
    for (size_t i = 1; i < pipe_nrecs; i++)
        CHECK(pipe_recs[i].index != pipe_recs[i - 1].index);
    char cmd[2 * PATH_MAX], line[2048];
    snprintf(cmd, sizeof cmd, "'%s/sigil-audit' show --log '%s/coord/audit' --type sign", bindir,
             dir);
    FILE *f = popen(cmd, "r");
    REQUIRE(f);
    size_t matched = 0, sig_entries = 0;
    while (fgets(line, sizeof line, f)) {
        char *sp = strstr(line, " sig="), *rq = strstr(line, " request=");
        if (!sp || line[0] != '#')
            continue;
        sig_entries++;
        pipe_rec key = {.index = strtoull(line + 1, NULL, 10)};
        pipe_rec *x = bsearch(&key, pipe_recs, pipe_nrecs, sizeof *pipe_recs, rec_cmp);
        if (!x)
            continue;
        char sh_[129], rh[33];
        for (int j = 0; j < 64; j++)
            snprintf(sh_ + 2 * j, 3, "%02x", x->sig[j]);
        for (int j = 0; j < 16; j++)
            snprintf(rh + 2 * j, 3, "%02x", x->rid[j]);
        matched += !strncmp(sp + 5, sh_, 128) && rq && !strncmp(rq + 9, rh, 32) &&
                   strstr(line, "actor=sigil://wallet/alice ") != NULL;
    }
    pclose(f);
    CHECK_EQ(matched, pipe_nrecs);
    CHECK_EQ(sig_entries, pipe_nrecs);
    CHECK(sh("'%s/cluster' stop-coord '%s' && '%s/sigil-audit' verify --log '%s/coord/audit' "
             "--key '%s/coord/audit.pub' >/dev/null", scripts, dir, bindir, dir, dir) == 0);
    CHECK(sh("'%s/sigil-audit' cross-check --central '%s/coord/audit' --node '%s/node1/state/audit' "
             "--node '%s/node2/state/audit' --node '%s/node3/state/audit' --threshold 2 "
             "| grep -q 'cross-check ok: %zu signatures'",
             bindir, dir, dir, dir, dir, pipe_nrecs) == 0);
    CHECK(sh("'%s/cluster' start-coord '%s'", scripts, dir) == 0);
    free(pipe_recs);
}

/* ---- overload: the bounded Sign queue and callers' deadlines ---- */

#define OV_THREADS 32
#define OV_ITEMS 8

typedef struct {
    sigil_rpc_client *c;
    uint8_t rid[16], msg[OV_ITEMS][32], sig[OV_ITEMS][64];
    int code;
    char detail[256];
} ov_req;

static pthread_barrier_t ov_bar;
static uint8_t ov_pk[32];

/* SignBatch of OV_ITEMS messages on hot-ed; code = gRPC status; every
 * signature returned is checked with libsodium. */
static void ov_call(ov_req *r)
{
    Sigil__V1__SignBatchRequest br = SIGIL__V1__SIGN_BATCH_REQUEST__INIT;
    Sigil__V1__SignItem it[OV_ITEMS], *itp[OV_ITEMS];
    ProtobufCMessage *m = NULL;
    sigil_rpc_status st;
    memset(&st, 0, sizeof st);
    for (size_t j = 0; j < OV_ITEMS; j++) {
        sigil__v1__sign_item__init(&it[j]);
        it[j].payload_case = SIGIL__V1__SIGN_ITEM__PAYLOAD_MESSAGE;
        it[j].message = (ProtobufCBinaryData){32, r->msg[j]};
        itp[j] = &it[j];
    }
    br.key_id = "hot-ed";
    br.request_id = (ProtobufCBinaryData){16, r->rid};
    br.items = itp;
    br.n_items = OV_ITEMS;
    int rc = sigil_rpc_call_msg(r->c, SIGIL_RPC_WALLET_SIGN_BATCH, &br.base,
                                &sigil__v1__sign_batch_response__descriptor, &m, 15000, &st);
    r->code = rc ? (st.code ? st.code : GRPC_STATUS_UNKNOWN) : 0;
    snprintf(r->detail, sizeof r->detail, "%s", rc ? st.detail : "");
    if (!rc) {
        Sigil__V1__SignBatchResponse *b = (Sigil__V1__SignBatchResponse *)m;
        CHECK_EQ(b->n_signatures, OV_ITEMS);
        for (size_t j = 0; j < OV_ITEMS && j < b->n_signatures; j++) {
            CHECK_EQ(b->signatures[j].len, 64);
            if (b->signatures[j].len == 64) {
                memcpy(r->sig[j], b->signatures[j].data, 64);
                CHECK(crypto_sign_verify_detached(r->sig[j], r->msg[j], 32, ov_pk) == 0);
            }
        }
    }
    sigil_rpc_msg_free(m);
}

static void *ov_main(void *p)
{
    pthread_barrier_wait(&ov_bar);
    ov_call(p);
    return NULL;
}

/* How many SIGN entries of the coordinator's log carry request id rid. */
static int ov_logged(const uint8_t rid[16])
{
    char cmd[2 * PATH_MAX], line[2048], rh[33];
    for (int j = 0; j < 16; j++)
        snprintf(rh + 2 * j, 3, "%02x", rid[j]);
    snprintf(cmd, sizeof cmd, "'%s/sigil-audit' show --log '%s/coord/audit' --type sign", bindir,
             dir);
    FILE *f = popen(cmd, "r");
    REQUIRE(f);
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        char *rq = strstr(line, " request=");
        n += rq && !strncmp(rq + 9, rh, 32);
    }
    pclose(f);
    return n;
}

static void test_overload(void)
{
    static ov_req rq[OV_THREADS];
    pthread_t th[OV_THREADS];
    ProtobufCMessage *m = NULL;
    sigil_rpc_status st;
    char detail[512];
    make_ed_key();
    ed_public_key(ov_pk);
    sigil_rpc_client *w = client("wallet/alice"), *adm = client("admin/ops");
    /* the channels are up before the burst (one per caller) */
    for (int i = 0; i < OV_THREADS; i++) {
        rq[i].c = client("wallet/alice");
        CHECK_EQ(quick_sign(rq[i].c, "hot-ed", &st), 0);
    }

    /* 1. a burst of 32 x 8 items against 2 leaders x 8 and a queue of 16:
     * the calls beyond the queue are refused at once, nothing else fails */
    int ok = 0, refused = 0, rounds = 0;
    while (refused == 0 && rounds++ < 3) {
        ok = 0;
        REQUIRE(pthread_barrier_init(&ov_bar, NULL, OV_THREADS) == 0);
        for (int i = 0; i < OV_THREADS; i++) {
            randombytes_buf(rq[i].rid, sizeof rq[i].rid);
            randombytes_buf(rq[i].msg, sizeof rq[i].msg);
            REQUIRE(pthread_create(&th[i], NULL, ov_main, &rq[i]) == 0);
        }
        for (int i = 0; i < OV_THREADS; i++)
            pthread_join(th[i], NULL);
        pthread_barrier_destroy(&ov_bar);
        for (int i = 0; i < OV_THREADS; i++) {
            if (rq[i].code == 0) {
                ok++;
            } else {
                CHECK_EQ(rq[i].code, GRPC_STATUS_RESOURCE_EXHAUSTED);
                CHECK(strstr(rq[i].detail, "signing queue of key 'hot-ed' is full") != NULL);
                refused += rq[i].code == GRPC_STATUS_RESOURCE_EXHAUSTED;
            }
        }
        fprintf(stderr, "overload round %d: %d signed, %d refused (queue full)\n", rounds, ok,
                refused);
    }
    CHECK(refused > 0);
    CHECK(ok >= 2);
    /* a refused request left nothing behind: not logged, and its request
     * id is free, so the same request signs when retried */
    for (int i = 0; i < OV_THREADS; i++) {
        if (rq[i].code != GRPC_STATUS_RESOURCE_EXHAUSTED)
            continue;
        CHECK_EQ(ov_logged(rq[i].rid), 0);
        ov_call(&rq[i]);
        CHECK_EQ(rq[i].code, 0);
        CHECK_EQ(ov_logged(rq[i].rid), OV_ITEMS);
    }
    CHECK_EQ(health_of(adm, "sign-queue", detail, sizeof detail), 1);
    CHECK(strstr(detail, "0 requests refused") == NULL);
    fprintf(stderr, "health sign-queue: %s\n", detail);

    /* 2. a caller that stops waiting: nodes 2 and 3 frozen (SIGSTOP), so
     * both leaders hang in their node calls; a Sign with a 500 ms deadline
     * queues behind them; when a leader reaches it the deadline has passed:
     * it is not signed and not logged (the client saw DEADLINE_EXCEEDED) */
    CHECK(sh("kill -STOP $(cat '%s/node2/pid') $(cat '%s/node3/pid')", dir, dir) == 0);
    REQUIRE(pthread_barrier_init(&ov_bar, NULL, 3) == 0);
    for (int i = 0; i < 2; i++) {
        randombytes_buf(rq[i].rid, sizeof rq[i].rid);
        randombytes_buf(rq[i].msg, sizeof rq[i].msg);
        REQUIRE(pthread_create(&th[i], NULL, ov_main, &rq[i]) == 0);
    }
    pthread_barrier_wait(&ov_bar);
    usleep(300 * 1000); /* both are leaders now, waiting on the frozen nodes */
    uint8_t rid[16], msg[32];
    randombytes_buf(rid, sizeof rid);
    randombytes_buf(msg, sizeof msg);
    Sigil__V1__SignRequest req = SIGIL__V1__SIGN_REQUEST__INIT;
    Sigil__V1__SignItem it = SIGIL__V1__SIGN_ITEM__INIT;
    req.key_id = "hot-ed";
    req.request_id = (ProtobufCBinaryData){16, rid};
    it.payload_case = SIGIL__V1__SIGN_ITEM__PAYLOAD_MESSAGE;
    it.message = (ProtobufCBinaryData){32, msg};
    req.item = &it;
    m = NULL;
    CHECK(sigil_rpc_call_msg(w, SIGIL_RPC_WALLET_SIGN, &req.base,
                             &sigil__v1__sign_response__descriptor, &m, 500, &st) != SIGIL_OK);
    CHECK_EQ(st.code, GRPC_STATUS_DEADLINE_EXCEEDED);
    sigil_rpc_msg_free(m);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        CHECK(rq[i].code != 0); /* no quorum while two nodes are frozen */
    }
    pthread_barrier_destroy(&ov_bar);
    CHECK(sh("kill -CONT $(cat '%s/node2/pid') $(cat '%s/node3/pid')", dir, dir) == 0);
    CHECK_EQ(ov_logged(rid), 0);
    CHECK_EQ(health_of(adm, "sign-queue", detail, sizeof detail), 1);
    fprintf(stderr, "health sign-queue: %s\n", detail);
    CHECK(strstr(detail, " 1 not signed because the caller's deadline passed") != NULL);
    /* and the cluster signs again once the nodes run */
    int back = 0;
    for (int i = 0; i < 50 && !back; i++) {
        back = quick_sign(w, "hot-ed", &st) == 0;
        if (!back)
            usleep(100 * 1000);
    }
    CHECK(back);

    for (int i = 0; i < OV_THREADS; i++)
        sigil_rpc_client_free(rq[i].c);
    sigil_rpc_client_free(w);
    sigil_rpc_client_free(adm);
    /* the log verifies with the refusals and drops in it */
    CHECK(sh("'%s/cluster' stop-coord '%s' && '%s/sigil-audit' verify --log '%s/coord/audit' "
             "--key '%s/coord/audit.pub' >/dev/null", scripts, dir, bindir, dir, dir) == 0);
    CHECK(sh("'%s/cluster' start-coord '%s'", scripts, dir) == 0);
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {{"schemes", test_schemes},   {"idem", test_idem},
                 {"badinput", test_badinput}, {"failover", test_failover},
                 {"breaker", test_breaker},   {"auditfull", test_auditfull},
                 {"auditconfig", test_auditconfig}, {"pipeline", test_pipeline},
                 {"overload", test_overload}};
    if (argc != 2) {
        fprintf(stderr, "usage: coord_cluster schemes|idem|badinput|failover|breaker|auditfull|auditconfig|pipeline|overload\n");
        return 2;
    }
    if (getenv("SIGIL_BIN"))
        bindir = getenv("SIGIL_BIN");
    signal(SIGPIPE, SIG_IGN);
    REQUIRE(sodium_init() >= 0);
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
        if (!strcmp(argv[1], tests[i].name)) {
            if (tests[i].fn == test_overload) { /* small batches and queue */
                setenv("SIGIL_MAX_BATCH", "8", 1);
                setenv("SIGIL_QUEUE_MAX", "16", 1);
            }
            cluster_up();
            tests[i].fn();
            if (mounted) { /* the coordinator lets go of the tmpfs first */
                CHECK(sh("'%s/cluster' stop-coord '%s'", scripts, dir) == 0);
                CHECK(sh("umount '%s'", mnt) == 0);
                mounted = 0;
            }
            cluster_down();
            return check_done();
        }
    fprintf(stderr, "unknown test %s\n", argv[1]);
    return 2;
}
