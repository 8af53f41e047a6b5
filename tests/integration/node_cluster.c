/* Integration test: three real sigil-node processes, each with its own
 * SoftHSM token (scripts/softhsm-token, provisioned by sigil-hsm), real
 * mTLS certificates (scripts/dev-pki). This process acts as the
 * coordinator (sigil://coordinator): it drives DKG and FROST signing over
 * gRPC, aggregates with sigil_envelope, and verifies every signature
 * independently (libsodium, libsecp256k1). Then the adversarial cases:
 * replayed / cross-session / wrong-recipient / tampered envelopes, seen
 * session ids, nonces across a restart, the breaker (halt refuses shares
 * even when asked directly, survives restart, k-of-m resume), and an
 * identity without permission. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <pthread.h>
#include <unistd.h>

#include <grpc/status.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>
#include <sodium.h>

#include "check.h"
#include "sigil/audit.h"
#include "sigil/backup.h"
#include "sigil/breaker.h"
#include "sigil/envelope.h"
#include "sigil/err.h"
#include "sigil/frost.h"
#include "sigil/group.h"
#include "sigil/rpc.h"
#include "sigil/v1/admin.pb-c.h"
#include "sigil/v1/common.pb-c.h"
#include "sigil/v1/node.pb-c.h"

/* The client sees the gRPC status (its SIGIL_E_* mapping is lossy): check
 * the status the node's error maps to, and (_D) that the detail names it. */
#define CHECK_REFUSED(expr, err)                                                   \
    do {                                                                           \
        int rc_ = (expr);                                                          \
        CHECK(rc_ != SIGIL_OK);                                                    \
        CHECK_EQ(st.code, sigil_rpc_status_from_err(err));                         \
    } while (0)
#define CHECK_REFUSED_D(expr, err)                                                 \
    do {                                                                           \
        CHECK_REFUSED(expr, err);                                                  \
        if (!strstr(st.detail, sigil_strerror(err))) {                             \
            fprintf(stderr, "%s:%d: detail '%s' lacks '%s'\n", __FILE__, __LINE__,  \
                    st.detail, sigil_strerror(err));                               \
            check_fail_++;                                                         \
        }                                                                          \
    } while (0)

#define N 3
#define T 2
#define TMO 20000

static char dir[256];
static pid_t pids[N + 1];
static char idhex[N + 1][65];
static uint8_t idpk[N + 1][32];
static sigil_rpc_client *cl[N + 1];       /* as sigil://coordinator */
static sigil_env_peers *peers;
static uint8_t off_pk[3][32], off_sk[3][64]; /* officers a, b (configured), x (foreign) */

static void run(const char *cmd)
{
    int r = system(cmd);
    if (r != 0) {
        fprintf(stderr, "command failed (%d): %s\n", r, cmd);
        exit(2);
    }
}

static void capture(const char *cmd, char *out, size_t cap)
{
    FILE *f = popen(cmd, "r");
    REQUIRE(f);
    size_t n = fread(out, 1, cap - 1, f);
    out[n] = 0;
    REQUIRE(pclose(f) == 0);
    while (n && (out[n - 1] == '\n' || out[n - 1] == '\r'))
        out[--n] = 0;
}

static void write_config(int i)
{
    char path[512];
    snprintf(path, sizeof path, "%s/node%d.conf", dir, i);
    FILE *f = fopen(path, "w");
    REQUIRE(f);
    fprintf(f, "# sigil-node %d (test)\nnode_id = %d\nlisten = 127.0.0.1:0\n", i, i);
    fprintf(f, "tls_ca = %s/pki/ca.pem\ntls_cert = %s/pki/node-%d.pem\ntls_key = %s/pki/node-%d.key\n",
            dir, dir, i, dir, i);
    fprintf(f, "token_label = node%d\npin_file = %s/hsm/node%d.pin\nstate_dir = %s/state%d\n", i,
            dir, i, dir, i);
    fprintf(f, "cluster_id = test-cluster\npool_max = 800\nrefill_max = 400\nthreads = 2\n");
    for (int j = 1; j <= N; j++)
        fprintf(f, "node.%d = %s\n", j, idhex[j]);
    char h[65];
    sodium_bin2hex(h, sizeof h, off_pk[0], 32);
    fprintf(f, "officer.alice = %s\n", h);
    sodium_bin2hex(h, sizeof h, off_pk[1], 32);
    fprintf(f, "officer.bob = %s\nresume_k = 2\n", h);
    fclose(f);
}

static int read_port(int i)
{
    char path[512];
    snprintf(path, sizeof path, "%s/state%d/port", dir, i);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int p = 0;
    if (fscanf(f, "%d", &p) != 1)
        p = 0;
    fclose(f);
    return p;
}

static void start_node(int i)
{
    char path[512], logp[512];
    snprintf(path, sizeof path, "%s/state%d/port", dir, i);
    unlink(path);
    snprintf(path, sizeof path, "%s/node%d.conf", dir, i);
    snprintf(logp, sizeof logp, "%s/node%d.log", dir, i);
    pid_t p = fork();
    REQUIRE(p >= 0);
    if (p == 0) {
        int fd = open(logp, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 2);
            dup2(fd, 1);
        }
        execl(SIGIL_NODE_BIN, "sigil-node", "--config", path, (char *)NULL);
        _exit(127);
    }
    pids[i] = p;
    int port = 0;
    for (int k = 0; k < 300 && !(port = read_port(i)); k++) {
        int st;
        if (waitpid(p, &st, WNOHANG) == p) {
            fprintf(stderr, "node %d exited early; log:\n", i);
            char cmd[600];
            snprintf(cmd, sizeof cmd, "cat %s >&2", logp);
            (void)!system(cmd);
            exit(2);
        }
        usleep(20000);
    }
    REQUIRE(port > 0);
    char target[64], expect[64], cert[512], key[512], ca[512];
    snprintf(target, sizeof target, "127.0.0.1:%d", port);
    snprintf(expect, sizeof expect, "sigil://node/%d", i);
    snprintf(ca, sizeof ca, "%s/pki/ca.pem", dir);
    snprintf(cert, sizeof cert, "%s/pki/coordinator.pem", dir);
    snprintf(key, sizeof key, "%s/pki/coordinator.key", dir);
    sigil_rpc_client_config cc = {target, {ca, cert, key}, expect, "localhost", 0};
    sigil_rpc_client_free(cl[i]);
    cl[i] = NULL;
    REQUIRE(sigil_rpc_client_new(&cc, &cl[i]) == SIGIL_OK);
}

static void stop_node(int i)
{
    if (pids[i] <= 0)
        return;
    kill(pids[i], SIGTERM);
    int st = 0;
    waitpid(pids[i], &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    pids[i] = 0;
}

static sigil_rpc_client *client_as(const char *who, int node)
{
    char target[64], expect[64], cert[512], key[512], ca[512];
    snprintf(target, sizeof target, "127.0.0.1:%d", read_port(node));
    snprintf(expect, sizeof expect, "sigil://node/%d", node);
    snprintf(ca, sizeof ca, "%s/pki/ca.pem", dir);
    snprintf(cert, sizeof cert, "%s/pki/%s.pem", dir, who);
    snprintf(key, sizeof key, "%s/pki/%s.key", dir, who);
    sigil_rpc_client_config cc = {target, {ca, cert, key}, expect, "localhost", 0};
    sigil_rpc_client *c = NULL;
    REQUIRE(sigil_rpc_client_new(&cc, &c) == SIGIL_OK);
    return c;
}

/* ---------------------------------------------------------------- calls */

static int call(sigil_rpc_client *c, const char *method, const ProtobufCMessage *rq,
                const ProtobufCMessageDescriptor *d, ProtobufCMessage **resp, sigil_rpc_status *st)
{
    sigil_rpc_status tmp;
    if (!st)
        st = &tmp;
    memset(st, 0, sizeof *st);
    *resp = NULL;
    return sigil_rpc_call_msg(c, method, rq, d, resp, TMO, st);
}

static int start(int node, Sigil__V1__StartSessionRequest *rq, Sigil__V1__SessionResponse **r,
                 sigil_rpc_status *st)
{
    return call(cl[node], SIGIL_RPC_NODE_START_SESSION, &rq->base,
                &sigil__v1__session_response__descriptor, (ProtobufCMessage **)r, st);
}

static int round_call(int node, const uint8_t *sid, uint32_t round, Sigil__V1__Envelope **in,
                      size_t nin, Sigil__V1__SessionResponse **r, sigil_rpc_status *st)
{
    Sigil__V1__RoundRequest rq = SIGIL__V1__ROUND_REQUEST__INIT;
    rq.session_id.data = (uint8_t *)sid;
    rq.session_id.len = 32;
    rq.round = round;
    rq.inbound = in;
    rq.n_inbound = nin;
    return call(cl[node], SIGIL_RPC_NODE_ROUND, &rq.base, &sigil__v1__session_response__descriptor,
                (ProtobufCMessage **)r, st);
}

/* inbound for node `to` from every response's outbound */
static size_t route(Sigil__V1__SessionResponse **resp, uint32_t to, Sigil__V1__Envelope **in, size_t cap)
{
    size_t k = 0;
    for (int i = 1; i <= N; i++) {
        if (!resp[i])
            continue;
        for (size_t j = 0; j < resp[i]->n_outbound; j++) {
            Sigil__V1__Envelope *e = resp[i]->outbound[j];
            if (e->from != to && (e->to == 0 || e->to == to) && k < cap)
                in[k++] = e;
        }
    }
    return k;
}

typedef struct {
    char key_id[65];
    int scheme;
    sigil_keyshare pub;
    uint8_t pk[33];
    size_t pklen;
} key_t_;

/* Full DKG among nodes 1..N, with the adversarial checks done on the way
 * when `adversary` is set. */
static uint8_t first_dkg_sid[32];

static void dkg(key_t_ *key, const char *key_id, int scheme, int adversary)
{
    uint8_t sid[32];
    randombytes_buf(sid, 32);
    if (adversary)
        memcpy(first_dkg_sid, sid, 32);
    uint32_t parties[N] = {1, 2, 3};
    Sigil__V1__StartSessionRequest rq = SIGIL__V1__START_SESSION_REQUEST__INIT;
    rq.session_id.data = sid;
    rq.session_id.len = 32;
    rq.kind = SIGIL__V1__SESSION_KIND__SESSION_KIND_DKG;
    rq.key_id = (char *)key_id;
    rq.scheme = (Sigil__V1__Scheme)scheme;
    rq.threshold = T;
    rq.num_parties = N;
    rq.parties = parties;
    rq.n_parties = N;
    Sigil__V1__SessionResponse *resp[N + 1] = {0}, *next[N + 1] = {0};
    for (int i = 1; i <= N; i++)
        REQUIRE(start(i, &rq, &resp[i], NULL) == SIGIL_OK);
    CHECK_EQ(resp[1]->round, 1);
    if (adversary) {
        sigil_rpc_status st;
        Sigil__V1__SessionResponse *x = NULL;
        /* the same session id again: refused */
        CHECK_REFUSED(start(1, &rq, &x, &st), SIGIL_E_REPLAY);
        CHECK_EQ(st.code, GRPC_STATUS_ALREADY_EXISTS);
    }
    Sigil__V1__SessionResponse *other = NULL;
    uint8_t osid[32];
    if (adversary) {
        /* a second session on node 1, to take a genuine envelope from */
        Sigil__V1__StartSessionRequest orq = rq;
        randombytes_buf(osid, 32);
        orq.session_id.data = osid;
        orq.key_id = (char *)"k-cross";
        REQUIRE(start(1, &orq, &other, NULL) == SIGIL_OK);
    }
    Sigil__V1__Envelope *in[4 * N];
    for (uint32_t r = 1; !resp[1]->done; r++) {
        REQUIRE(r <= 6);
        for (int i = 1; i <= N; i++) {
            size_t k = route(resp, (uint32_t)i, in, 4 * N);
            if (adversary && r == 1 && i == 2) {
                sigil_rpc_status st;
                Sigil__V1__SessionResponse *x = NULL;
                Sigil__V1__Envelope *bad[4 * N];
                memcpy(bad, in, k * sizeof *in);
                size_t j1 = 0;
                while (bad[j1]->from != 1)
                    j1++;
                /* node 1's genuine round-1 broadcast of another session */
                bad[j1] = other->outbound[0];
                CHECK_REFUSED(round_call(2, sid, 1, bad, k, &x, &st), SIGIL_E_SESSION);
                CHECK(strstr(st.detail, "another session") != NULL);
                /* ... relabelled with this session's id: the signature binds it */
                Sigil__V1__Envelope t = *other->outbound[0];
                t.session_id.data = sid;
                bad[j1] = &t;
                CHECK_REFUSED(round_call(2, sid, 1, bad, k, &x, &st), SIGIL_E_SIGNATURE);
                /* AbortSession forgets it; the id stays burned */
                Sigil__V1__AbortSessionRequest ab = SIGIL__V1__ABORT_SESSION_REQUEST__INIT;
                ab.session_id.data = osid;
                ab.session_id.len = 32;
                Sigil__V1__AbortSessionResponse *ar = NULL;
                CHECK_EQ(call(cl[1], SIGIL_RPC_NODE_ABORT_SESSION, &ab.base,
                              &sigil__v1__abort_session_response__descriptor, (ProtobufCMessage **)&ar, &st),
                         SIGIL_OK);
                CHECK(ar && ar->existed);
                if (ar)
                    sigil_rpc_msg_free(&ar->base);
                Sigil__V1__StartSessionRequest orq = rq;
                orq.session_id.data = osid;
                orq.key_id = (char *)"k-cross";
                CHECK_REFUSED(start(1, &orq, &x, &st), SIGIL_E_REPLAY);
                sigil_rpc_msg_free(&other->base);
            }
            if (adversary && r == 2 && i == 2) {
                sigil_rpc_status st;
                Sigil__V1__SessionResponse *x = NULL;
                /* wrong recipient: node 3's secret share delivered to node 2 */
                Sigil__V1__Envelope *wrong = NULL;
                for (size_t j = 0; j < resp[1]->n_outbound; j++)
                    if (resp[1]->outbound[j]->to == 3)
                        wrong = resp[1]->outbound[j];
                REQUIRE(wrong);
                Sigil__V1__Envelope *bad[4 * N];
                memcpy(bad, in, k * sizeof *in);
                for (size_t j = 0; j < k; j++)
                    if (bad[j]->from == 1 && bad[j]->kind == SIGIL__V1__ENVELOPE_KIND__ENVELOPE_KIND_DATA)
                        bad[j] = wrong;
                CHECK_REFUSED(round_call(2, sid, 2, bad, k, &x, &st), SIGIL_E_PARTICIPANT);
                CHECK_EQ(st.code, GRPC_STATUS_INVALID_ARGUMENT);
                CHECK(strstr(st.detail, "addressed to 3") != NULL);
                /* tampered payload (one bit) */
                Sigil__V1__Envelope t = *in[0];
                uint8_t *p = malloc(t.payload.len);
                memcpy(p, t.payload.data, t.payload.len);
                p[t.payload.len / 2] ^= 1;
                t.payload.data = p;
                memcpy(bad, in, k * sizeof *in);
                bad[0] = &t;
                CHECK_REFUSED(round_call(2, sid, 2, bad, k, &x, &st), SIGIL_E_SIGNATURE);
                /* header changed (claims round 3): signature binds it */
                t = *in[0];
                t.round = 3;
                bad[0] = &t;
                CHECK_REFUSED(round_call(2, sid, 2, bad, k, &x, &st), SIGIL_E_STATE);
                free(p);
                /* the same envelope twice in one round */
                memcpy(bad, in, k * sizeof *in);
                for (size_t j = 1; j < k; j++)
                    if (bad[j]->kind == bad[0]->kind && bad[j]->from != bad[0]->from) {
                        bad[j] = bad[0];
                        break;
                    }
                CHECK_REFUSED(round_call(2, sid, 2, bad, k, &x, &st), SIGIL_E_REPLAY);
                CHECK_EQ(st.code, GRPC_STATUS_ALREADY_EXISTS);
                /* wrong round number in the request */
                CHECK_REFUSED(round_call(2, sid, 3, in, k, &x, &st), SIGIL_E_STATE);
                CHECK_EQ(st.code, GRPC_STATUS_FAILED_PRECONDITION);
            }
            sigil_rpc_status st;
            int rc = round_call(i, sid, r, in, k, &next[i], &st);
            if (rc)
                fprintf(stderr, "round %u node %d: %s %s\n", r, i, sigil_errname(rc), st.detail);
            REQUIRE(rc == SIGIL_OK);
            if (adversary && r == 2 && i == 1) {
                /* the round-1 broadcasts replayed now that node 1 is in round 3 */
                Sigil__V1__SessionResponse *x = NULL;
                CHECK_REFUSED(round_call(1, sid, 2, in, k, &x, &st), SIGIL_E_REPLAY);
                CHECK_EQ(st.code, GRPC_STATUS_ALREADY_EXISTS);
            }
        }
        for (int i = 1; i <= N; i++) {
            sigil_rpc_msg_free(&resp[i]->base);
            resp[i] = next[i];
            next[i] = NULL;
        }
        for (int i = 2; i <= N; i++)
            CHECK_EQ(resp[i]->done, resp[1]->done);
    }
    sigil_env_dkg_result res[N];
    sigil_buf bodies[N];
    for (int i = 1; i <= N; i++) {
        REQUIRE(resp[i]->done && resp[i]->n_results == 1);
        Sigil__V1__Envelope *e = resp[i]->results[0];
        CHECK_EQ(e->kind, SIGIL__V1__ENVELOPE_KIND__ENVELOPE_KIND_RESULT);
        sigil_env_header h = {e->session_id.data, e->session_id.len, e->round, e->from, e->to, e->kind};
        REQUIRE(sigil_buf_init(&bodies[i - 1], 1 << 20, 0) == SIGIL_OK);
        REQUIRE(sigil_env_open(peers, NULL, &h, e->payload.data, e->payload.len, &bodies[i - 1], NULL) == SIGIL_OK);
        REQUIRE(sigil_env_dkg_result_decode(&res[i - 1], bodies[i - 1].data, bodies[i - 1].size) == SIGIL_OK);
    }
    memset(key, 0, sizeof *key);
    REQUIRE(sigil_env_dkg_results_agree(res, N, &key->pub) == SIGIL_OK);
    snprintf(key->key_id, sizeof key->key_id, "%s", key_id);
    key->scheme = scheme;
    key->pklen = res[0].public_key_len;
    memcpy(key->pk, res[0].public_key, key->pklen);
    /* a disagreeing result is caught */
    uint8_t saved = ((uint8_t *)res[1].transcript_hash)[0];
    ((uint8_t *)res[1].transcript_hash)[0] ^= 1;
    sigil_keyshare junk;
    CHECK_EQ(sigil_env_dkg_results_agree(res, N, &junk), SIGIL_E_CONFIRM);
    ((uint8_t *)res[1].transcript_hash)[0] = saved;
    for (int i = 1; i <= N; i++) {
        sigil_buf_free(&bodies[i - 1]);
        sigil_rpc_msg_free(&resp[i]->base);
    }
}

/* ------------------------------------------------------------- signing */

typedef struct {
    uint64_t id;
    Sigil__V1__Envelope *env; /* owned by resp */
    uint8_t commit[128];
    size_t clen;
} entry;

typedef struct {
    Sigil__V1__RefillPoolResponse *resp;
    size_t next;
} pool;

static pool pools[N + 1];

static int refill(int node, const key_t_ *k, uint32_t count, sigil_rpc_status *st)
{
    if (pools[node].resp)
        sigil_rpc_msg_free(&pools[node].resp->base);
    pools[node].resp = NULL;
    pools[node].next = 0;
    Sigil__V1__RefillPoolRequest rq = SIGIL__V1__REFILL_POOL_REQUEST__INIT;
    rq.key_id = (char *)k->key_id;
    rq.scheme = (Sigil__V1__Scheme)k->scheme;
    rq.count = count;
    return call(cl[node], SIGIL_RPC_NODE_REFILL_POOL, &rq.base,
                &sigil__v1__refill_pool_response__descriptor, (ProtobufCMessage **)&pools[node].resp, st);
}

/* Open the COMMITMENT envelope of pool entry e as the coordinator does. */
static int open_commitment(const key_t_ *k, const Sigil__V1__PoolEntry *pe, uint8_t *out, size_t *olen)
{
    const Sigil__V1__Envelope *e = pe->commitment;
    sigil_env_header h = {NULL, 0, e->round, e->from, e->to, e->kind};
    sigil_buf b;
    sigil_buf_init(&b, 4096, 0);
    int rc = sigil_env_open(peers, NULL, &h, e->payload.data, e->payload.len, &b, NULL);
    sigil_env_commitment c;
    if (!rc) rc = sigil_env_commitment_decode(&c, b.data, b.size);
    if (!rc && (c.entry_id != pe->entry_id || strcmp(c.key_id, k->key_id) || c.scheme != k->scheme))
        rc = SIGIL_E_MISMATCH;
    if (!rc) {
        memcpy(out, c.commitment, c.commitment_len);
        *olen = c.commitment_len;
    }
    sigil_buf_free(&b);
    return rc;
}

static int verify_independent(const key_t_ *k, const uint8_t *msg, size_t mlen, const uint8_t *sig)
{
    if (k->scheme == 1)
        return crypto_sign_verify_detached(sig, msg, mlen, k->pk) == 0 ? SIGIL_OK : SIGIL_E_SIGNATURE;
    if (k->scheme == 3) {
        secp256k1_context *ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
        secp256k1_xonly_pubkey xpk;
        int ok = secp256k1_xonly_pubkey_parse(ctx, &xpk, k->pk) &&
                 secp256k1_schnorrsig_verify(ctx, sig, msg, mlen, &xpk);
        secp256k1_context_destroy(ctx);
        return ok ? SIGIL_OK : SIGIL_E_SIGNATURE;
    }
    /* FROST(secp256k1, SHA-256): the RFC 9591 verification equation */
    return sigil_frost_verify(SIGIL_FROST_SECP256K1, k->pk, k->pklen, msg, mlen, sig, 65);
}

/* Build a SIGN request for `signers` over one item using each signer's next
 * pool entry. reqs[i] is for signers[i]. */
typedef struct {
    Sigil__V1__StartSessionRequest rq[N];
    Sigil__V1__SignItem item;
    Sigil__V1__SignItem *items[1];
    Sigil__V1__Envelope *in[N][N];
    uint64_t entries[N][1];
    const Sigil__V1__PoolEntry *pe[N];
    uint32_t parties[N];
    size_t ns;
    uint8_t sid[32];
    uint8_t msg[64];
    size_t mlen;
} signreq;

static void make_sign(signreq *s, const key_t_ *k, const uint32_t *signers, size_t ns)
{
    memset(s, 0, sizeof *s);
    randombytes_buf(s->sid, 32);
    s->ns = ns;
    memcpy(s->parties, signers, ns * sizeof *signers);
    Sigil__V1__SignItem it = SIGIL__V1__SIGN_ITEM__INIT;
    s->item = it;
    s->mlen = k->scheme == 3 ? 32 : 40;
    randombytes_buf(s->msg, s->mlen);
    if (k->scheme == 3) {
        s->item.payload_case = SIGIL__V1__SIGN_ITEM__PAYLOAD_DIGEST;
        s->item.digest.data = s->msg;
        s->item.digest.len = 32;
    } else {
        s->item.payload_case = SIGIL__V1__SIGN_ITEM__PAYLOAD_MESSAGE;
        s->item.message.data = s->msg;
        s->item.message.len = s->mlen;
    }
    s->items[0] = &s->item;
    for (size_t i = 0; i < ns; i++) {
        pool *p = &pools[signers[i]];
        REQUIRE(p->resp && p->next < p->resp->n_entries);
        s->pe[i] = p->resp->entries[p->next++];
    }
    for (size_t i = 0; i < ns; i++) {
        Sigil__V1__StartSessionRequest init = SIGIL__V1__START_SESSION_REQUEST__INIT;
        Sigil__V1__StartSessionRequest *r = &s->rq[i];
        *r = init;
        r->session_id.data = s->sid;
        r->session_id.len = 32;
        r->kind = SIGIL__V1__SESSION_KIND__SESSION_KIND_SIGN;
        r->key_id = (char *)k->key_id;
        r->scheme = (Sigil__V1__Scheme)k->scheme;
        r->parties = s->parties;
        r->n_parties = ns;
        r->items = s->items;
        r->n_items = 1;
        s->entries[i][0] = s->pe[i]->entry_id;
        r->pool_entries = s->entries[i];
        r->n_pool_entries = 1;
        size_t q = 0;
        for (size_t j = 0; j < ns; j++)
            if (j != i)
                s->in[i][q++] = s->pe[j]->commitment;
        r->inbound = s->in[i];
        r->n_inbound = q;
    }
}

/* Send the SIGN to each signer, aggregate, verify. */
static int finish_sign(signreq *s, const key_t_ *k, uint8_t *sig)
{
    sigil_buf com[N], shares[N], bodies[N];
    sigil_env_sign_result res[N];
    Sigil__V1__SessionResponse *resp[N] = {0};
    uint8_t cbytes[N][128];
    int rc = SIGIL_OK;
    memset(res, 0, sizeof res);
    memset(bodies, 0, sizeof bodies);
    for (size_t i = 0; i < s->ns && !rc; i++) {
        size_t cl_ = 0;
        rc = open_commitment(k, s->pe[i], cbytes[i], &cl_);
        sigil_buf_view(&com[i], cbytes[i], cl_);
        sigil_rpc_status st;
        if (!rc) rc = start((int)s->parties[i], &s->rq[i], &resp[i], &st);
        if (rc) {
            fprintf(stderr, "sign at node %u: %s %s\n", s->parties[i], sigil_errname(rc), st.detail);
            break;
        }
        if (!resp[i]->done || resp[i]->n_results != 1)
            rc = SIGIL_E_STATE;
        const Sigil__V1__Envelope *e = rc ? NULL : resp[i]->results[0];
        sigil_env_header h;
        if (e) {
            h = (sigil_env_header){e->session_id.data, e->session_id.len, e->round, e->from, e->to, e->kind};
            if (e->from != s->parties[i] || e->kind != SIGIL__V1__ENVELOPE_KIND__ENVELOPE_KIND_RESULT ||
                e->session_id.len != 32 || memcmp(e->session_id.data, s->sid, 32))
                rc = SIGIL_E_MISMATCH;
        }
        if (!rc) rc = sigil_buf_init(&bodies[i], 1 << 20, 0);
        if (!rc) rc = sigil_env_open(peers, NULL, &h, e->payload.data, e->payload.len, &bodies[i], NULL);
        if (!rc) rc = sigil_env_sign_result_decode(&res[i], bodies[i].data, bodies[i].size);
        if (!rc && (res[i].count != 1 || res[i].entry_ids[0] != s->pe[i]->entry_id))
            rc = SIGIL_E_MISMATCH;
        if (!rc)
            shares[i] = res[i].shares[0];
    }
    uint32_t culprit = 0;
    if (!rc)
        rc = sigil_env_frost_aggregate((sigil_frost_suite)k->scheme, &k->pub, s->msg, s->mlen, com,
                                       shares, s->ns, sig, &culprit);
    if (!rc)
        rc = verify_independent(k, s->msg, s->mlen, sig);
    if (!rc) {
        /* the coordinator's path: every signer reported the same R, and
         * aggregating with it gives the same signature; a lying R (one
         * signer's altered, or all altered alike) still gives it */
        sigil_buf rs[N];
        uint8_t bad[N][SIGIL_POINT_MAX_LEN], sig2[65];
        for (size_t i = 0; i < s->ns; i++) {
            rs[i] = res[i].rs[0];
            CHECK(rs[i].size == (k->scheme == 1 ? 32u : 33u));
            CHECK(rs[i].size == rs[0].size && !memcmp(rs[i].data, rs[0].data, rs[0].size));
        }
        CHECK_EQ(sigil_env_frost_aggregate_r((sigil_frost_suite)k->scheme, &k->pub, s->msg, s->mlen, com,
                                             shares, rs, s->ns, sig2, &culprit), SIGIL_OK);
        CHECK(!memcmp(sig, sig2, sigil_frost_sig_len((sigil_frost_suite)k->scheme)));
        for (size_t i = 0; i < s->ns; i++) {
            memcpy(bad[i], rs[i].data, rs[i].size);
            bad[i][rs[i].size - 1] ^= 1;
            sigil_buf_view(&rs[i], bad[i], res[i].rs[0].size);
            memset(sig2, 0, sizeof sig2);
            CHECK_EQ(sigil_env_frost_aggregate_r((sigil_frost_suite)k->scheme, &k->pub, s->msg, s->mlen, com,
                                                 shares, rs, s->ns, sig2, &culprit), SIGIL_OK);
            CHECK(!memcmp(sig, sig2, sigil_frost_sig_len((sigil_frost_suite)k->scheme)));
        }
    }
    for (size_t i = 0; i < s->ns; i++) {
        sigil_env_sign_result_free(&res[i]);
        sigil_buf_free(&bodies[i]);
        if (resp[i])
            sigil_rpc_msg_free(&resp[i]->base);
    }
    return rc;
}

static int open_result(const Sigil__V1__SessionResponse *r, uint32_t from, const uint8_t *sid,
                       sigil_buf *body);

/* One SIGN session with m items (SignBatch): inbound = per item the other
 * signer's commitment; every signature aggregated and verified. */
static void sign_batch(const key_t_ *k, const uint32_t *signers, size_t m)
{
    enum { MAXM = 16 };
    REQUIRE(m <= MAXM);
    uint8_t sid[32], msgs[MAXM][32];
    randombytes_buf(sid, 32);
    Sigil__V1__SignItem it[MAXM], *items[MAXM];
    const Sigil__V1__PoolEntry *pe[2][MAXM];
    uint64_t entries[2][MAXM];
    Sigil__V1__Envelope *in[2][MAXM];
    for (size_t j = 0; j < m; j++) {
        Sigil__V1__SignItem init = SIGIL__V1__SIGN_ITEM__INIT;
        it[j] = init;
        randombytes_buf(msgs[j], 32);
        if (k->scheme == 3) {
            it[j].payload_case = SIGIL__V1__SIGN_ITEM__PAYLOAD_DIGEST;
            it[j].digest.data = msgs[j];
            it[j].digest.len = 32;
        } else {
            it[j].payload_case = SIGIL__V1__SIGN_ITEM__PAYLOAD_MESSAGE;
            it[j].message.data = msgs[j];
            it[j].message.len = 32;
        }
        items[j] = &it[j];
        for (int i = 0; i < 2; i++) {
            pool *p = &pools[signers[i]];
            REQUIRE(p->resp && p->next < p->resp->n_entries);
            pe[i][j] = p->resp->entries[p->next++];
            entries[i][j] = pe[i][j]->entry_id;
        }
        in[0][j] = pe[1][j]->commitment;
        in[1][j] = pe[0][j]->commitment;
    }
    Sigil__V1__SessionResponse *resp[2] = {0};
    sigil_env_sign_result res[2];
    sigil_buf bodies[2];
    memset(res, 0, sizeof res);
    for (int i = 0; i < 2; i++) {
        Sigil__V1__StartSessionRequest rq = SIGIL__V1__START_SESSION_REQUEST__INIT;
        rq.session_id.data = sid;
        rq.session_id.len = 32;
        rq.kind = SIGIL__V1__SESSION_KIND__SESSION_KIND_SIGN;
        rq.key_id = (char *)k->key_id;
        rq.scheme = (Sigil__V1__Scheme)k->scheme;
        rq.parties = (uint32_t *)signers;
        rq.n_parties = 2;
        rq.items = items;
        rq.n_items = m;
        rq.pool_entries = entries[i];
        rq.n_pool_entries = m;
        rq.inbound = in[i];
        rq.n_inbound = m;
        sigil_rpc_status st;
        int rc = start((int)signers[i], &rq, &resp[i], &st);
        if (rc)
            fprintf(stderr, "batch sign node %u: %s\n", signers[i], st.detail);
        REQUIRE(rc == SIGIL_OK);
        REQUIRE(open_result(resp[i], signers[i], sid, &bodies[i]) == SIGIL_OK);
        REQUIRE(sigil_env_sign_result_decode(&res[i], bodies[i].data, bodies[i].size) == SIGIL_OK);
        CHECK_EQ(res[i].count, m);
    }
    for (size_t j = 0; j < m; j++) {
        uint8_t cb[2][128], sig[65];
        sigil_buf com[2], shares[2];
        for (int i = 0; i < 2; i++) {
            size_t l = 0;
            REQUIRE(open_commitment(k, pe[i][j], cb[i], &l) == SIGIL_OK);
            sigil_buf_view(&com[i], cb[i], l);
            CHECK(res[i].entry_ids[j] == entries[i][j]);
            shares[i] = res[i].shares[j];
        }
        uint32_t culprit = 0;
        CHECK_EQ(sigil_env_frost_aggregate((sigil_frost_suite)k->scheme, &k->pub, msgs[j], 32, com, shares, 2,
                                           sig, &culprit), SIGIL_OK);
        CHECK_EQ(verify_independent(k, msgs[j], 32, sig), SIGIL_OK);
        /* shares of item j do not aggregate for item j+1 */
        if (j + 1 < m)
            CHECK(sigil_env_frost_aggregate((sigil_frost_suite)k->scheme, &k->pub, msgs[j + 1], 32, com,
                                            shares, 2, sig, &culprit) != SIGIL_OK);
    }
    for (int i = 0; i < 2; i++) {
        sigil_env_sign_result_free(&res[i]);
        sigil_buf_free(&bodies[i]);
        sigil_rpc_msg_free(&resp[i]->base);
    }
}

/* Halt while node 1 works on a large batch: Halt is not held up by the
 * signing work and the batch's shares are not released. */
typedef struct {
    Sigil__V1__StartSessionRequest *rq;
    int rc, code;
    double ms;
} bg_call;

static double now_ms_(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void *bg_start(void *arg)
{
    bg_call *b = arg;
    Sigil__V1__SessionResponse *r = NULL;
    sigil_rpc_status st;
    double t0 = now_ms_();
    b->rc = start(1, b->rq, &r, &st);
    b->ms = now_ms_() - t0;
    b->code = st.code;
    if (r)
        sigil_rpc_msg_free(&r->base);
    return NULL;
}

static int halt(sigil_rpc_client *c, sigil_rpc_status *st);

static void halt_during_batch(const key_t_ *k, sigil_rpc_client *off)
{
    enum { M = 400 };
    static uint8_t msgs[M][32];
    static Sigil__V1__SignItem it[M];
    static Sigil__V1__SignItem *items[M];
    static uint64_t entries[M];
    static Sigil__V1__Envelope *in[M];
    uint8_t sid[32];
    uint32_t signers[2] = {1, 3};
    randombytes_buf(sid, 32);
    REQUIRE(refill(1, k, M, NULL) == SIGIL_OK && pools[1].resp->n_entries == M);
    REQUIRE(refill(3, k, M, NULL) == SIGIL_OK && pools[3].resp->n_entries == M);
    for (size_t j = 0; j < M; j++) {
        Sigil__V1__SignItem init = SIGIL__V1__SIGN_ITEM__INIT;
        it[j] = init;
        randombytes_buf(msgs[j], 32);
        it[j].payload_case = SIGIL__V1__SIGN_ITEM__PAYLOAD_MESSAGE;
        it[j].message.data = msgs[j];
        it[j].message.len = 32;
        items[j] = &it[j];
        entries[j] = pools[1].resp->entries[j]->entry_id;
        in[j] = pools[3].resp->entries[j]->commitment;
    }
    Sigil__V1__StartSessionRequest rq = SIGIL__V1__START_SESSION_REQUEST__INIT;
    rq.session_id.data = sid;
    rq.session_id.len = 32;
    rq.kind = SIGIL__V1__SESSION_KIND__SESSION_KIND_SIGN;
    rq.key_id = (char *)k->key_id;
    rq.scheme = (Sigil__V1__Scheme)k->scheme;
    rq.parties = signers;
    rq.n_parties = 2;
    rq.items = items;
    rq.n_items = M;
    rq.pool_entries = entries;
    rq.n_pool_entries = M;
    rq.inbound = in;
    rq.n_inbound = M;
    sigil_rpc_status st;
    {
        /* warm the officer's connection so Halt arrives quickly */
        Sigil__V1__AdminStatusRequest ar = SIGIL__V1__ADMIN_STATUS_REQUEST__INIT;
        ProtobufCMessage *x = NULL;
        REQUIRE(call(off, SIGIL_RPC_ADMIN_STATUS, &ar.base, &sigil__v1__admin_status_response__descriptor, &x,
                     &st) == SIGIL_OK);
        sigil_rpc_msg_free(x);
    }
    bg_call b = {&rq, 0, 0, 0};
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, bg_start, &b) == 0);
    usleep(5000);
    double t0 = now_ms_();
    CHECK_EQ(halt(off, &st), SIGIL_OK);
    double hm = now_ms_() - t0;
    pthread_join(th, NULL);
    printf("halt during a %d-item batch (5 ms after it was sent): halt answered in %.1f ms, batch call ended after %.1f ms with status %d\n",
           M, hm, b.ms, b.code);
    CHECK(b.rc != SIGIL_OK);
    CHECK_EQ(b.code, GRPC_STATUS_FAILED_PRECONDITION);
    pools[1].next = pools[1].resp->n_entries; /* consumed or refused: not reused */
}

/* Concurrent SIGN calls (the node has 2 handler threads and signs outside
 * its lock): RACE requests at node signers[0] all naming the SAME pool
 * entry (each its own session id): exactly one gets a share, the others
 * NOT_FOUND; and RACE full signatures at once on distinct entries: all
 * verify. */
enum { RACE = 8 };

typedef struct {
    signreq *s;
    const key_t_ *k;
    int rc, code;
} race_arg;

static void *race_start(void *arg)
{
    race_arg *a = arg;
    Sigil__V1__SessionResponse *r = NULL;
    sigil_rpc_status st;
    a->rc = start((int)a->s->parties[0], &a->s->rq[0], &r, &st);
    a->code = st.code;
    if (r)
        sigil_rpc_msg_free(&r->base);
    return NULL;
}

static void race_same_entry(const key_t_ *k, const uint32_t *signers)
{
    static signreq s[RACE];
    race_arg a[RACE];
    pthread_t th[RACE];
    REQUIRE(refill((int)signers[0], k, RACE, NULL) == SIGIL_OK);
    REQUIRE(refill((int)signers[1], k, RACE, NULL) == SIGIL_OK);
    for (size_t i = 0; i < RACE; i++) {
        make_sign(&s[i], k, signers, 2);
        s[i].entries[0][0] = s[0].entries[0][0]; /* all name one entry */
        a[i] = (race_arg){&s[i], k, -1, -1};
    }
    for (size_t i = 0; i < RACE; i++)
        REQUIRE(pthread_create(&th[i], NULL, race_start, &a[i]) == 0);
    int ok = 0, notfound = 0;
    for (size_t i = 0; i < RACE; i++) {
        pthread_join(th[i], NULL);
        ok += a[i].rc == SIGIL_OK;
        notfound += a[i].code == GRPC_STATUS_NOT_FOUND;
    }
    printf("race: %d concurrent SIGN calls naming one pool entry at node %u: %d share, %d NOT_FOUND\n",
           RACE, signers[0], ok, notfound);
    CHECK_EQ(ok, 1);
    CHECK_EQ(notfound, RACE - 1);
}

static void *race_finish(void *arg)
{
    race_arg *a = arg;
    uint8_t sig[65];
    a->rc = finish_sign(a->s, a->k, sig);
    return NULL;
}

static void race_sign(const key_t_ *k, const uint32_t *signers)
{
    static signreq s[RACE];
    race_arg a[RACE];
    pthread_t th[RACE];
    REQUIRE(refill((int)signers[0], k, RACE, NULL) == SIGIL_OK);
    REQUIRE(refill((int)signers[1], k, RACE, NULL) == SIGIL_OK);
    for (size_t i = 0; i < RACE; i++) {
        make_sign(&s[i], k, signers, 2);
        a[i] = (race_arg){&s[i], k, -1, -1};
    }
    for (size_t i = 0; i < RACE; i++)
        REQUIRE(pthread_create(&th[i], NULL, race_finish, &a[i]) == 0);
    int ok = 0;
    for (size_t i = 0; i < RACE; i++) {
        pthread_join(th[i], NULL);
        ok += a[i].rc == SIGIL_OK;
    }
    CHECK_EQ(ok, RACE);
}

static void sign_ok(const key_t_ *k, const uint32_t *signers, size_t ns)
{
    signreq s;
    uint8_t sig[65];
    make_sign(&s, k, signers, ns);
    int rc = finish_sign(&s, k, sig);
    if (rc)
        fprintf(stderr, "sign %s with %u,%u: %s\n", k->key_id, signers[0], signers[1], sigil_errname(rc));
    CHECK_EQ(rc, SIGIL_OK);
}

/* --------------------------------------------------------------- ECDSA */

/* Drive a generic multi-round session (start request per node) to done. */
static void drive(Sigil__V1__StartSessionRequest *rq, const uint32_t *nodes, size_t nn,
                  Sigil__V1__SessionResponse **resp)
{
    Sigil__V1__SessionResponse *all[N + 1] = {0}, *next[N + 1] = {0};
    for (size_t i = 0; i < nn; i++)
        REQUIRE(start((int)nodes[i], rq, &all[nodes[i]], NULL) == SIGIL_OK);
    Sigil__V1__Envelope *in[4 * N];
    for (int guard = 0; !all[nodes[0]]->done; guard++) {
        REQUIRE(guard < 8);
        for (size_t i = 0; i < nn; i++) {
            size_t k = route(all, nodes[i], in, 4 * N);
            sigil_rpc_status st;
            int rc = round_call((int)nodes[i], rq->session_id.data, all[nodes[i]]->round, in, k,
                                &next[nodes[i]], &st);
            if (rc)
                fprintf(stderr, "session round %u node %u: %s %s\n", all[nodes[i]]->round,
                        nodes[i], sigil_errname(rc), st.detail);
            REQUIRE(rc == SIGIL_OK);
        }
        for (size_t i = 0; i < nn; i++) {
            sigil_rpc_msg_free(&all[nodes[i]]->base);
            all[nodes[i]] = next[nodes[i]];
            next[nodes[i]] = NULL;
        }
    }
    for (size_t i = 0; i < nn; i++) {
        CHECK(all[nodes[i]]->done);
        resp[i] = all[nodes[i]];
    }
}

static int open_result(const Sigil__V1__SessionResponse *r, uint32_t from, const uint8_t *sid,
                       sigil_buf *body)
{
    if (!r->done || r->n_results != 1)
        return SIGIL_E_STATE;
    const Sigil__V1__Envelope *e = r->results[0];
    if (e->from != from || e->kind != SIGIL__V1__ENVELOPE_KIND__ENVELOPE_KIND_RESULT ||
        e->session_id.len != 32 || memcmp(e->session_id.data, sid, 32))
        return SIGIL_E_MISMATCH;
    sigil_env_header h = {e->session_id.data, e->session_id.len, e->round, e->from, e->to, e->kind};
    int rc = sigil_buf_init(body, 1 << 20, 0);
    if (!rc)
        rc = sigil_env_open(peers, NULL, &h, e->payload.data, e->payload.len, body, NULL);
    return rc;
}

/* PRESIGN `count` among signers (2), then sign `count` digests one by one. */
static void ecdsa_batch_sign(const key_t_ *k, const uint32_t *signers, uint32_t count, uint64_t **ids);

static void ecdsa_round(const key_t_ *k, const uint32_t *signers, uint32_t count, int batch)
{
    uint8_t sid[32];
    randombytes_buf(sid, 32);
    Sigil__V1__StartSessionRequest rq = SIGIL__V1__START_SESSION_REQUEST__INIT;
    rq.session_id.data = sid;
    rq.session_id.len = 32;
    rq.kind = SIGIL__V1__SESSION_KIND__SESSION_KIND_PRESIGN;
    rq.key_id = (char *)k->key_id;
    rq.scheme = SIGIL__V1__SCHEME__SCHEME_ECDSA_SECP256K1;
    rq.parties = (uint32_t *)signers;
    rq.n_parties = 2;
    rq.count = count;
    Sigil__V1__SessionResponse *resp[2];
    drive(&rq, signers, 2, resp);
    uint64_t *ids[2] = {0};
    for (int i = 0; i < 2; i++) {
        sigil_buf b;
        REQUIRE(open_result(resp[i], signers[i], sid, &b) == SIGIL_OK);
        char kid[65];
        uint32_t c = 0;
        REQUIRE(sigil_env_presign_result_decode(b.data, b.size, kid, &ids[i], &c) == SIGIL_OK);
        CHECK_EQ(c, count);
        CHECK(!strcmp(kid, k->key_id));
        sigil_buf_free(&b);
        sigil_rpc_msg_free(&resp[i]->base);
    }
    if (batch) {
        ecdsa_batch_sign(k, signers, count, ids);
        free(ids[0]);
        free(ids[1]);
        return;
    }
    for (uint32_t j = 0; j < count; j++) {
        uint8_t ssid[32], digest[32];
        randombytes_buf(ssid, 32);
        randombytes_buf(digest, 32);
        Sigil__V1__SignItem it = SIGIL__V1__SIGN_ITEM__INIT, *items[1] = {&it};
        it.payload_case = SIGIL__V1__SIGN_ITEM__PAYLOAD_DIGEST;
        it.digest.data = digest;
        it.digest.len = 32;
        sigil_env_ecdsa_result res[2];
        sigil_buf bodies[2];
        const sigil_ecdsa_combiner *combs[2];
        sigil_buf msgs[2];
        for (int i = 0; i < 2; i++) {
            Sigil__V1__StartSessionRequest sr = SIGIL__V1__START_SESSION_REQUEST__INIT;
            sr.session_id.data = ssid;
            sr.session_id.len = 32;
            sr.kind = SIGIL__V1__SESSION_KIND__SESSION_KIND_SIGN;
            sr.key_id = (char *)k->key_id;
            sr.scheme = SIGIL__V1__SCHEME__SCHEME_ECDSA_SECP256K1;
            sr.parties = (uint32_t *)signers;
            sr.n_parties = 2;
            sr.items = items;
            sr.n_items = 1;
            sr.pool_entries = &ids[i][j];
            sr.n_pool_entries = 1;
            Sigil__V1__SessionResponse *r = NULL;
            sigil_rpc_status st;
            int rc = start((int)signers[i], &sr, &r, &st);
            if (rc)
                fprintf(stderr, "ecdsa sign node %u: %s\n", signers[i], st.detail);
            REQUIRE(rc == SIGIL_OK);
            REQUIRE(open_result(r, signers[i], ssid, &bodies[i]) == SIGIL_OK);
            REQUIRE(sigil_env_ecdsa_result_decode(&res[i], bodies[i].data, bodies[i].size) == SIGIL_OK);
            CHECK(res[i].count == 1 && res[i].entry_ids[0] == ids[i][j]);
            combs[i] = &res[i].combiners[0];
            msgs[i] = res[i].sign_msgs[0];
            sigil_rpc_msg_free(&r->base);
            /* the presignature is gone (fresh session id, same entry) */
            uint8_t sid2[32];
            randombytes_buf(sid2, 32);
            sr.session_id.data = sid2;
            Sigil__V1__SessionResponse *r2 = NULL;
            CHECK_REFUSED(start((int)signers[i], &sr, &r2, &st), SIGIL_E_NOT_FOUND);
        }
        uint8_t sig[64];
        int recid = -1;
        uint16_t culprit = 0;
        CHECK_EQ(sigil_env_ecdsa_combine(combs, msgs, 2, k->pk, digest, sig, &recid, &culprit), SIGIL_OK);
        /* independent check: libsecp256k1, low-s */
        secp256k1_context *ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
        secp256k1_pubkey pk;
        secp256k1_ecdsa_signature es, norm;
        CHECK(secp256k1_ec_pubkey_parse(ctx, &pk, k->pk, 33) == 1);
        CHECK(secp256k1_ecdsa_signature_parse_compact(ctx, &es, sig) == 1);
        CHECK(secp256k1_ecdsa_signature_normalize(ctx, &norm, &es) == 0);
        CHECK(secp256k1_ecdsa_verify(ctx, &es, digest, &pk) == 1);
        secp256k1_context_destroy(ctx);
        /* a wrong digest is refused by the combiner */
        digest[0] ^= 1;
        CHECK_EQ(sigil_env_ecdsa_combine(combs, msgs, 2, k->pk, digest, sig, &recid, &culprit), SIGIL_E_MISMATCH);
        for (int i = 0; i < 2; i++) {
            sigil_env_ecdsa_result_free(&res[i]);
            sigil_buf_free(&bodies[i]);
        }
    }
    free(ids[0]);
    free(ids[1]);
}

/* All `count` presignatures in one SIGN session (SignBatch for ECDSA). */
static void ecdsa_batch_sign(const key_t_ *k, const uint32_t *signers, uint32_t count, uint64_t **ids)
{
    enum { MAXM = 16 };
    REQUIRE(count <= MAXM);
    uint8_t sid[32], dig[MAXM][32];
    randombytes_buf(sid, 32);
    Sigil__V1__SignItem it[MAXM], *items[MAXM];
    for (uint32_t j = 0; j < count; j++) {
        Sigil__V1__SignItem init = SIGIL__V1__SIGN_ITEM__INIT;
        it[j] = init;
        randombytes_buf(dig[j], 32);
        it[j].payload_case = SIGIL__V1__SIGN_ITEM__PAYLOAD_DIGEST;
        it[j].digest.data = dig[j];
        it[j].digest.len = 32;
        items[j] = &it[j];
    }
    sigil_env_ecdsa_result res[2];
    sigil_buf bodies[2];
    for (int i = 0; i < 2; i++) {
        Sigil__V1__StartSessionRequest sr = SIGIL__V1__START_SESSION_REQUEST__INIT;
        sr.session_id.data = sid;
        sr.session_id.len = 32;
        sr.kind = SIGIL__V1__SESSION_KIND__SESSION_KIND_SIGN;
        sr.key_id = (char *)k->key_id;
        sr.scheme = SIGIL__V1__SCHEME__SCHEME_ECDSA_SECP256K1;
        sr.parties = (uint32_t *)signers;
        sr.n_parties = 2;
        sr.items = items;
        sr.n_items = count;
        sr.pool_entries = ids[i];
        sr.n_pool_entries = count;
        Sigil__V1__SessionResponse *r = NULL;
        sigil_rpc_status st;
        REQUIRE(start((int)signers[i], &sr, &r, &st) == SIGIL_OK);
        REQUIRE(open_result(r, signers[i], sid, &bodies[i]) == SIGIL_OK);
        REQUIRE(sigil_env_ecdsa_result_decode(&res[i], bodies[i].data, bodies[i].size) == SIGIL_OK);
        CHECK_EQ(res[i].count, count);
        sigil_rpc_msg_free(&r->base);
    }
    secp256k1_context *ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    secp256k1_pubkey pk;
    CHECK(secp256k1_ec_pubkey_parse(ctx, &pk, k->pk, 33) == 1);
    for (uint32_t j = 0; j < count; j++) {
        const sigil_ecdsa_combiner *combs[2] = {&res[0].combiners[j], &res[1].combiners[j]};
        sigil_buf msgs[2] = {res[1].sign_msgs[j], res[0].sign_msgs[j]}; /* any order */
        uint8_t sig[64];
        int recid = -1;
        uint16_t culprit = 0;
        CHECK_EQ(sigil_env_ecdsa_combine(combs, msgs, 2, k->pk, dig[j], sig, &recid, &culprit), SIGIL_OK);
        secp256k1_ecdsa_signature es;
        CHECK(secp256k1_ecdsa_signature_parse_compact(ctx, &es, sig) == 1);
        CHECK(secp256k1_ecdsa_verify(ctx, &es, dig[j], &pk) == 1);
        /* mixing items is caught */
        if (j + 1 < count) {
            const sigil_ecdsa_combiner *mix[2] = {&res[0].combiners[j], &res[1].combiners[j + 1]};
            CHECK_EQ(sigil_env_ecdsa_combine(mix, msgs, 2, k->pk, dig[j], sig, &recid, &culprit),
                     SIGIL_E_MISMATCH);
        }
    }
    secp256k1_context_destroy(ctx);
    for (int i = 0; i < 2; i++) {
        sigil_env_ecdsa_result_free(&res[i]);
        sigil_buf_free(&bodies[i]);
    }
}

/* ------------------------------------------------------------- breaker */

static void make_statement(sigil_buf *out, const char *action, const char *cluster, uint64_t expires,
                           uint8_t nonce[32])
{
    Sigil__V1__ApprovalStatement s = SIGIL__V1__APPROVAL_STATEMENT__INIT;
    s.action = (char *)action;
    s.cluster_id = (char *)cluster;
    randombytes_buf(nonce, 32);
    s.nonce.data = nonce;
    s.nonce.len = 32;
    s.expires_unix = expires;
    REQUIRE(sigil_buf_init(out, 4096, 0) == SIGIL_OK);
    REQUIRE(sigil_rpc_pack(&s.base, out) == SIGIL_OK);
}

static void approve(const sigil_buf *stmt, int officer, uint8_t sig[64])
{
    sigil_buf m;
    REQUIRE(sigil_buf_init(&m, 8192, 0) == SIGIL_OK);
    REQUIRE(sigil_breaker_approval_message(stmt->data, stmt->size, &m) == SIGIL_OK);
    crypto_sign_detached(sig, NULL, m.data, m.size, off_sk[officer]);
    sigil_buf_free(&m);
}

static int resume(sigil_rpc_client *c, const sigil_buf *stmt, const char **names, uint8_t (*sigs)[64],
                  size_t n, sigil_rpc_status *st)
{
    Sigil__V1__ResumeRequest rq = SIGIL__V1__RESUME_REQUEST__INIT;
    Sigil__V1__Approval ap[4], *pp[4];
    for (size_t i = 0; i < n; i++) {
        Sigil__V1__Approval init = SIGIL__V1__APPROVAL__INIT;
        ap[i] = init;
        ap[i].officer = (char *)names[i];
        ap[i].signature.data = sigs[i];
        ap[i].signature.len = 64;
        pp[i] = &ap[i];
    }
    rq.statement.data = stmt->data;
    rq.statement.len = stmt->size;
    rq.approvals = pp;
    rq.n_approvals = n;
    ProtobufCMessage *r = NULL;
    int rc = call(c, SIGIL_RPC_ADMIN_RESUME, &rq.base, &sigil__v1__resume_response__descriptor, &r, st);
    if (r)
        sigil_rpc_msg_free(r);
    return rc;
}

static int halt(sigil_rpc_client *c, sigil_rpc_status *st)
{
    Sigil__V1__HaltRequest rq = SIGIL__V1__HALT_REQUEST__INIT;
    rq.reason = (char *)"integration test";
    ProtobufCMessage *r = NULL;
    int rc = call(c, SIGIL_RPC_ADMIN_HALT, &rq.base, &sigil__v1__halt_response__descriptor, &r, st);
    if (r)
        sigil_rpc_msg_free(r);
    return rc;
}

/* ---------------------------------------------------------------- main */

/* ------------------------------------------------- refresh and retire */

/* An approved refresh / retire statement for key_id (params_hash =
 * SHA-256 of the request with key_id only) with approvals by officers a, b
 * (2: the foreign key, under the name "bob"). */
typedef struct {
    sigil_buf stmt;
    Sigil__V1__Approval ap[2], *pp[2];
    uint8_t sig[2][64];
} lc_approval;

/* The same for any action with the parameters hash ph. */
static void lc_make_ph(lc_approval *l, const char *action, const char *key_id, const uint8_t ph[32],
                       int a, int b2)
{
    static const char *names[3] = {"alice", "bob", "bob"};
    Sigil__V1__ApprovalStatement s = SIGIL__V1__APPROVAL_STATEMENT__INIT;
    uint8_t nonce[32];
    randombytes_buf(nonce, 32);
    s.action = (char *)action;
    s.cluster_id = (char *)"test-cluster";
    s.nonce = (ProtobufCBinaryData){32, nonce};
    s.expires_unix = (uint64_t)time(NULL) + 300;
    s.key_id = (char *)key_id;
    s.params_hash = (ProtobufCBinaryData){32, (uint8_t *)ph};
    REQUIRE(sigil_buf_init(&l->stmt, 4096, 0) == SIGIL_OK);
    REQUIRE(sigil_rpc_pack(&s.base, &l->stmt) == SIGIL_OK);
    int who[2] = {a, b2};
    for (int i = 0; i < 2; i++) {
        approve(&l->stmt, who[i], l->sig[i]);
        sigil__v1__approval__init(&l->ap[i]);
        l->ap[i].officer = (char *)names[who[i]];
        l->ap[i].signature = (ProtobufCBinaryData){64, l->sig[i]};
        l->pp[i] = &l->ap[i];
    }
}

static void lc_make(lc_approval *l, const char *action, const char *key_id, int a, int b2)
{
    Sigil__V1__RefreshRequest rf = SIGIL__V1__REFRESH_REQUEST__INIT;
    Sigil__V1__RetireRequest rt = SIGIL__V1__RETIRE_REQUEST__INIT;
    uint8_t ph[32];
    sigil_buf b;
    rf.key_id = rt.key_id = (char *)key_id;
    REQUIRE(sigil_buf_init(&b, 1024, 0) == SIGIL_OK);
    REQUIRE(sigil_rpc_pack(strcmp(action, "retire") ? &rf.base : &rt.base, &b) == SIGIL_OK);
    crypto_hash_sha256(ph, b.data, b.size);
    sigil_buf_free(&b);
    lc_make_ph(l, action, key_id, ph, a, b2);
}

static void rf_request(Sigil__V1__StartSessionRequest *rq, uint8_t sid[32], const key_t_ *k,
                       uint32_t *parties, lc_approval *l, size_t napprovals)
{
    Sigil__V1__StartSessionRequest init = SIGIL__V1__START_SESSION_REQUEST__INIT;
    *rq = init;
    randombytes_buf(sid, 32);
    rq->session_id = (ProtobufCBinaryData){32, sid};
    rq->kind = SIGIL__V1__SESSION_KIND__SESSION_KIND_REFRESH;
    rq->key_id = (char *)k->key_id;
    rq->scheme = (Sigil__V1__Scheme)k->scheme;
    rq->threshold = T;
    rq->num_parties = N;
    rq->parties = parties;
    rq->n_parties = N;
    rq->statement = (ProtobufCBinaryData){l->stmt.size, l->stmt.data};
    rq->approvals = l->pp;
    rq->n_approvals = napprovals;
}

static uint32_t share_version(int node, const char *key_id)
{
    Sigil__V1__NodeStatusRequest rq = SIGIL__V1__NODE_STATUS_REQUEST__INIT;
    Sigil__V1__NodeStatusResponse *r = NULL;
    rq.key_id = (char *)key_id;
    REQUIRE(call(cl[node], SIGIL_RPC_NODE_STATUS, &rq.base, &sigil__v1__node_status_response__descriptor,
                 (ProtobufCMessage **)&r, NULL) == SIGIL_OK);
    uint32_t v = 0;
    for (size_t i = 0; i < r->n_keys; i++)
        if (!strcmp(r->keys[i]->key_id, key_id))
            v = r->keys[i]->share_version;
    sigil_rpc_msg_free(&r->base);
    return v;
}

static int key_file(int node, const char *key_id, const char *suffix)
{
    char path[600];
    snprintf(path, sizeof path, "%s/state%d/keys/%s%s", dir, node, key_id, suffix);
    return access(path, F_OK) == 0;
}

/* Refresh key k at node level: refusals of bad approvals, a refused
 * tampered / incomplete commit round, then the commit; k->pub becomes the
 * new public package (same group key). */
static void refresh_node_level(key_t_ *k)
{
    uint32_t parties[N] = {1, 2, 3};
    uint8_t sid[32];
    Sigil__V1__StartSessionRequest rq;
    Sigil__V1__SessionResponse *x = NULL;
    sigil_rpc_status st;
    lc_approval good, bad;
    lc_make(&good, "refresh", k->key_id, 0, 1);
    /* the coordinator alone (no approvals), one approval, a foreign key,
     * a retire statement, another key's statement: refused, nothing burned */
    rf_request(&rq, sid, k, parties, &good, 0);
    CHECK_REFUSED_D(start(1, &rq, &x, &st), SIGIL_E_THRESHOLD);
    rf_request(&rq, sid, k, parties, &good, 1);
    CHECK_REFUSED_D(start(1, &rq, &x, &st), SIGIL_E_THRESHOLD);
    lc_make(&bad, "refresh", k->key_id, 0, 2);
    rf_request(&rq, sid, k, parties, &bad, 2);
    CHECK_REFUSED_D(start(1, &rq, &x, &st), SIGIL_E_SIGNATURE);
    sigil_buf_free(&bad.stmt);
    lc_make(&bad, "retire", k->key_id, 0, 1);
    rf_request(&rq, sid, k, parties, &bad, 2);
    CHECK_REFUSED_D(start(1, &rq, &x, &st), SIGIL_E_MISMATCH);
    sigil_buf_free(&bad.stmt);
    lc_make(&bad, "refresh", "k-ed25519", 0, 1);
    rf_request(&rq, sid, k, parties, &bad, 2);
    CHECK_REFUSED_D(start(1, &rq, &x, &st), SIGIL_E_MISMATCH);
    sigil_buf_free(&bad.stmt);
    /* pool entries made from the old share (FROST) */
    if (k->scheme != 4)
        for (int i = 1; i <= N; i++)
            REQUIRE(refill(i, k, 4, NULL) == SIGIL_OK);

    /* the refresh, driven round by round */
    rf_request(&rq, sid, k, parties, &good, 2);
    Sigil__V1__SessionResponse *all[N + 1] = {0}, *next[N + 1] = {0};
    for (int i = 1; i <= N; i++) {
        int rc = start(i, &rq, &all[i], &st);
        if (rc)
            fprintf(stderr, "refresh start node %d: %s %s\n", i, sigil_errname(rc), st.detail);
        REQUIRE(rc == SIGIL_OK);
    }
    uint32_t last = k->scheme == 4 ? 7 : 4;
    Sigil__V1__Envelope *in[4 * N];
    for (int guard = 0; all[1]->round < last; guard++) {
        REQUIRE(guard < 8);
        for (int i = 1; i <= N; i++) {
            size_t n = route(all, (uint32_t)i, in, 4 * N);
            int rc = round_call(i, sid, all[i]->round, in, n, &next[i], &st);
            if (rc)
                fprintf(stderr, "refresh round %u node %d: %s %s\n", all[i]->round, i, sigil_errname(rc), st.detail);
            REQUIRE(rc == SIGIL_OK);
        }
        for (int i = 1; i <= N; i++) {
            sigil_rpc_msg_free(&all[i]->base);
            all[i] = next[i];
            next[i] = NULL;
        }
    }
    /* every node prepared: the new share is sealed as version 2, not live */
    for (int i = 1; i <= N; i++) {
        CHECK(key_file(i, k->key_id, ".pending"));
        CHECK_EQ(share_version(i, k->key_id), 1);
    }
    /* node 1's commit round: a PREPARED envelope missing, then one tampered */
    size_t n1 = route(all, 1, in, 4 * N);
    CHECK_EQ(n1, N - 1);
    CHECK_REFUSED(round_call(1, sid, last, in, 1, &x, &st), SIGIL_E_INVALID);
    Sigil__V1__Envelope forged = *in[0];
    uint8_t buf[1 << 16];
    REQUIRE(forged.payload.len <= sizeof buf);
    memcpy(buf, forged.payload.data, forged.payload.len);
    buf[forged.payload.len / 2] ^= 1;
    forged.payload.data = buf;
    Sigil__V1__Envelope *fin[N - 1] = {&forged, in[1]};
    CHECK(round_call(1, sid, last, fin, 2, &x, &st) != SIGIL_OK);
    CHECK_EQ(share_version(1, k->key_id), 1);
    /* the genuine commit round on every node */
    Sigil__V1__SessionResponse *done[N + 1] = {0};
    sigil_env_dkg_result res[N];
    sigil_buf bodies[N];
    for (int i = 1; i <= N; i++) {
        size_t n = route(all, (uint32_t)i, in, 4 * N);
        int rc = round_call(i, sid, last, in, n, &done[i], &st);
        if (rc)
            fprintf(stderr, "refresh commit node %d: %s %s\n", i, sigil_errname(rc), st.detail);
        REQUIRE(rc == SIGIL_OK);
        CHECK(done[i]->done);
        REQUIRE(open_result(done[i], (uint32_t)i, sid, &bodies[i - 1]) == SIGIL_OK);
        REQUIRE(sigil_env_dkg_result_decode(&res[i - 1], bodies[i - 1].data, bodies[i - 1].size) == SIGIL_OK);
    }
    sigil_keyshare pub;
    CHECK_EQ(sigil_env_dkg_results_agree(res, N, &pub), SIGIL_OK);
    CHECK(res[0].public_key_len == k->pklen && !memcmp(res[0].public_key, k->pk, k->pklen));
    for (int i = 1; i <= N; i++) {
        CHECK_EQ(share_version(i, k->key_id), 2);
        CHECK(!key_file(i, k->key_id, ".pending") && !key_file(i, k->key_id, ".old"));
        sigil_rpc_msg_free(&all[i]->base);
        sigil_rpc_msg_free(&done[i]->base);
        sigil_buf_free(&bodies[i - 1]);
    }
    sigil_keyshare_free(&k->pub);
    k->pub = pub;
    /* the statement is spent on every node */
    rf_request(&rq, sid, k, parties, &good, 2);
    CHECK_REFUSED_D(start(2, &rq, &x, &st), SIGIL_E_REPLAY);
    sigil_buf_free(&good.stmt);
    uint32_t q13[2] = {1, 3};
    if (k->scheme != 4) {
        /* pool entries made from the old share are gone */
        signreq sr;
        uint8_t sig[65];
        make_sign(&sr, k, q13, 2);
        CHECK(finish_sign(&sr, k, sig) != SIGIL_OK);
        for (int i = 1; i <= N; i++)
            REQUIRE(refill(i, k, 4, NULL) == SIGIL_OK);
        sign_ok(k, q13, 2);
    } else {
        ecdsa_round(k, q13, 2, 0);
    }
}

/* StartSession{kind, k, params} with alice's and bob's approvals of
 * `action` over ph (l keeps the statement). */
static void lc_session(Sigil__V1__StartSessionRequest *rq, uint8_t sid[32], const key_t_ *k,
                       uint32_t *parties, lc_approval *l, const char *action, const uint8_t ph[32],
                       int kind, const sigil_buf *params)
{
    lc_make_ph(l, action, k->key_id, ph, 0, 1);
    rf_request(rq, sid, k, parties, l, 2);
    rq->kind = (Sigil__V1__SessionKind)kind;
    rq->params = (ProtobufCBinaryData){params->size, params->data};
}

static int read_file_(const char *path, uint8_t *buf, size_t cap, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    *len = fread(buf, 1, cap, f);
    fclose(f);
    return 0;
}

/* A backup section of node `node`'s share of k (public part only: the
 * pieces are dummies, which a share holder other than `node` never reads):
 * version v, public package pkg with its `self` set to node. */
static void section_of(sigil_buf *out, const key_t_ *k, const sigil_keyshare *pkg, uint32_t node,
                       uint32_t v)
{
    static uint8_t ct[2][256];
    sigil_backup_section sec;
    sigil_buf pb;
    sigil_keyshare p = *pkg;
    p.self = node - 1;
    memset(&sec, 0, sizeof sec);
    REQUIRE(sigil_buf_init(&pb, 1 << 16, 0) == SIGIL_OK);
    REQUIRE(sigil_keyshare_serialize(&p, &pb) == SIGIL_OK);
    snprintf(sec.key_id, sizeof sec.key_id, "%s", k->key_id);
    sec.scheme = 4;
    sec.node = node;
    sec.version = v;
    sec.package = pb.data;
    sec.package_len = pb.size;
    sec.k = 2;
    sec.m = 2;
    for (int j = 0; j < 2; j++) {
        snprintf(sec.officer[j], sizeof sec.officer[j], "%s", j ? "bob" : "alice");
        sec.V[j] = pkg->verifying[j];
        randombytes_buf(ct[j], sizeof ct[j]);
        sec.ct[j] = ct[j];
        sec.ct_len[j] = sizeof ct[j];
    }
    static const uint8_t nosig[64];
    REQUIRE(sigil_buf_init(out, 1 << 16, 0) == SIGIL_OK);
    REQUIRE(sigil_backup_section_body(&sec, out) == SIGIL_OK);
    REQUIRE(sigil_buf_put(out, nosig, 64) == SIGIL_OK);
    sigil_buf_free(&pb);
}

/* ECDSA restore of node 3's share, seen from node 1 (a share holder that
 * keeps its x_1 and renews its OT state with the restored node): this test
 * is the coordinator; node 1 checks the officers' approvals and that the
 * section is of its own key at its share version, by itself. Every refusal
 * and an abort after the start change nothing: same key file, still signs. */
static void restore_renew_node_level(const key_t_ *k, const key_t_ *other)
{
    uint32_t parties[N] = {1, 2, 3}, q12[2] = {1, 2};
    uint8_t sid[32], ph[32], before[1 << 16], after[1 << 16];
    size_t blen = 0, alen = 0;
    char kpath[600];
    snprintf(kpath, sizeof kpath, "%s/state1/keys/%s.key", dir, k->key_id);
    REQUIRE(read_file_(kpath, before, sizeof before, &blen) == 0);
    uint32_t v = share_version(1, k->key_id);
    sigil_buf sec, sec_other, sec_v;
    section_of(&sec, k, &k->pub, 3, v);
    section_of(&sec_other, k, &other->pub, 3, v); /* another key's package under k's id */
    section_of(&sec_v, k, &k->pub, 3, v + 1);    /* a share version k is not at */
    REQUIRE(sigil_backup_restore_params_hash(k->key_id, 3, sec.data, sec.size, ph) == SIGIL_OK);
    lc_approval good, bad;
    Sigil__V1__StartSessionRequest rq;
    Sigil__V1__SessionResponse *x = NULL;
    sigil_rpc_status st;
    lc_session(&rq, sid, k, parties, &good, "restore", ph, SIGIL__V1__SESSION_KIND__SESSION_KIND_RESTORE, &sec);
    /* the coordinator alone, or with one approval */
    rq.n_approvals = 0;
    CHECK_REFUSED_D(start(1, &rq, &x, &st), SIGIL_E_THRESHOLD);
    rq.n_approvals = 1;
    CHECK_REFUSED_D(start(1, &rq, &x, &st), SIGIL_E_THRESHOLD);
    /* a foreign officer key; a refresh statement with these parameters */
    lc_make_ph(&bad, "restore", k->key_id, ph, 0, 2);
    rq.approvals = bad.pp;
    rq.n_approvals = 2;
    CHECK_REFUSED_D(start(1, &rq, &x, &st), SIGIL_E_SIGNATURE);
    sigil_buf_free(&bad.stmt);
    lc_make_ph(&bad, "refresh", k->key_id, ph, 0, 1);
    rq.statement = (ProtobufCBinaryData){bad.stmt.size, bad.stmt.data};
    rq.approvals = bad.pp;
    CHECK_REFUSED_D(start(1, &rq, &x, &st), SIGIL_E_MISMATCH);
    sigil_buf_free(&bad.stmt);
    rq.statement = (ProtobufCBinaryData){good.stmt.size, good.stmt.data};
    rq.approvals = good.pp;
    /* the approved statement with another section: another key's package
     * (refused before the approvals are looked at), another share version */
    rq.params = (ProtobufCBinaryData){sec_other.size, sec_other.data};
    CHECK_REFUSED(start(1, &rq, &x, &st), SIGIL_E_MISMATCH);
    CHECK(strstr(st.detail, "not node 1's key") != NULL);
    rq.params = (ProtobufCBinaryData){sec_v.size, sec_v.data};
    CHECK_REFUSED(start(1, &rq, &x, &st), SIGIL_E_VERSION);
    CHECK(strstr(st.detail, "refreshed after this backup") != NULL);
    /* not every share holder in the party list */
    rq.params = (ProtobufCBinaryData){sec.size, sec.data};
    rq.parties = q12;
    rq.n_parties = 2;
    CHECK_REFUSED(start(1, &rq, &x, &st), SIGIL_E_PARTICIPANT);
    rq.parties = parties;
    rq.n_parties = N;
    /* accepted: node 1 stages x_1 and confirms (round 1 broadcast) */
    CHECK_EQ(start(1, &rq, &x, &st), SIGIL_OK);
    CHECK(x && x->n_outbound == 1 && x->outbound[0]->to == 0 && x->outbound[0]->round == 1);
    if (x)
        sigil_rpc_msg_free(&x->base);
    /* the same statement again (new session): the nonce is burned on node 1 */
    uint8_t sid2[32];
    randombytes_buf(sid2, 32);
    rq.session_id = (ProtobufCBinaryData){32, sid2};
    CHECK_REFUSED_D(start(1, &rq, &x, &st), SIGIL_E_REPLAY);
    /* the coordinator gives up: nothing changed */
    Sigil__V1__AbortSessionRequest ab = SIGIL__V1__ABORT_SESSION_REQUEST__INIT;
    Sigil__V1__AbortSessionResponse *ar = NULL;
    ab.session_id = (ProtobufCBinaryData){32, sid};
    CHECK_EQ(call(cl[1], SIGIL_RPC_NODE_ABORT_SESSION, &ab.base,
                  &sigil__v1__abort_session_response__descriptor, (ProtobufCMessage **)&ar, &st),
             SIGIL_OK);
    CHECK(ar && ar->existed);
    if (ar)
        sigil_rpc_msg_free(&ar->base);
    REQUIRE(read_file_(kpath, after, sizeof after, &alen) == 0);
    CHECK(alen == blen && !memcmp(before, after, blen));
    CHECK(!key_file(1, k->key_id, ".pending"));
    CHECK_EQ(share_version(1, k->key_id), v);
    ecdsa_round(k, q12, 1, 0);
    sigil_buf_free(&good.stmt);
    sigil_buf_free(&sec);
    sigil_buf_free(&sec_other);
    sigil_buf_free(&sec_v);
}

/* RSA-OAEP (SHA-1, as SoftHSM implements it) decryption with a test-made
 * backup key, standing in for an officer's token. */
static int rsa_oaep_dec(EVP_PKEY *k, const uint8_t *ct, size_t n, uint8_t *pt, size_t *ptl)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
    int ok = c && EVP_PKEY_decrypt_init(c) > 0 &&
             EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) > 0 &&
             EVP_PKEY_CTX_set_rsa_oaep_md(c, EVP_sha1()) > 0 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md(c, EVP_sha1()) > 0 && EVP_PKEY_decrypt(c, pt, ptl, ct, n) > 0;
    EVP_PKEY_CTX_free(c);
    return ok ? SIGIL_OK : SIGIL_E_CRYPTO;
}

/* Node-level backup and restore of an ECDSA key, this test being the
 * coordinator and the officers alice and bob (their backup keys made here
 * with OpenSSL): node 3 backs up x_3; node 3's share file is destroyed; the
 * officers' pieces are sealed to node 3's new process; RESTORE on all three
 * nodes. Before every node holds all PREPARED envelopes nothing is
 * committed: node 1 refuses a withheld and a tampered PREPARED, its share
 * file unchanged; then all commit and every pair signs. */
static void ecdsa_backup_restore_node_level(key_t_ *k)
{
    static const char *nm[2] = {"alice", "bob"};
    uint32_t parties[N] = {1, 2, 3}, q12[2] = {1, 2}, q13[2] = {1, 3}, q23[2] = {2, 3};
    EVP_PKEY *rsa[2];
    sigil_backup_key bk[2];
    sigil_buf ob, m, secb;
    for (int j = 0; j < 2; j++) {
        BIGNUM *bn = NULL, *be = NULL;
        REQUIRE((rsa[j] = EVP_RSA_gen(2048)) != NULL);
        REQUIRE(EVP_PKEY_get_bn_param(rsa[j], OSSL_PKEY_PARAM_RSA_N, &bn) == 1 &&
                EVP_PKEY_get_bn_param(rsa[j], OSSL_PKEY_PARAM_RSA_E, &be) == 1);
        memset(&bk[j], 0, sizeof bk[j]);
        snprintf(bk[j].name, sizeof bk[j].name, "%s", nm[j]);
        bk[j].modlen = (size_t)BN_bn2bin(bn, bk[j].mod);
        bk[j].explen = (size_t)BN_bn2bin(be, bk[j].exp);
        BN_free(bn);
        BN_free(be);
        REQUIRE(sigil_buf_init(&m, 2048, 0) == SIGIL_OK);
        REQUIRE(sigil_backup_key_message(&bk[j], &m) == SIGIL_OK);
        crypto_sign_detached(bk[j].sig, NULL, m.data, m.size, off_sk[j]);
        sigil_buf_free(&m);
    }
    REQUIRE(sigil_buf_init(&ob, 8192, 0) == SIGIL_OK);
    REQUIRE(sigil_backup_officers_encode(bk, 2, &ob) == SIGIL_OK);
    uint8_t ph[32], sid[32], sid2[32];
    REQUIRE(sigil_backup_params_hash(k->key_id, 2, ob.data, ob.size, ph) == SIGIL_OK);
    lc_approval ba, ra;
    Sigil__V1__StartSessionRequest rq;
    Sigil__V1__SessionResponse *x = NULL;
    sigil_rpc_status st;
    lc_session(&rq, sid, k, parties, &ba, "backup", ph, SIGIL__V1__SESSION_KIND__SESSION_KIND_BACKUP, &ob);
    CHECK_EQ(start(3, &rq, &x, &st), SIGIL_OK);
    REQUIRE(x && open_result(x, 3, sid, &secb) == SIGIL_OK);
    sigil_rpc_msg_free(&x->base);
    sigil_backup_section sec;
    REQUIRE(sigil_backup_section_decode(&sec, secb.data, secb.size) == SIGIL_OK);
    CHECK(sec.scheme == 4 && sec.node == 3 && sec.k == 2 && sec.m == 2 && sec.version == 1);
    CHECK_EQ(sigil_backup_section_verify(&sec, idpk[3]), SIGIL_OK);
    uint8_t piece[2][32];
    for (int j = 0; j < 2; j++) {
        uint8_t pt[512];
        size_t ptl = sizeof pt;
        REQUIRE(rsa_oaep_dec(rsa[j], sec.ct[j], sec.ct_len[j], pt, &ptl) == SIGIL_OK);
        REQUIRE(sigil_backup_piece_parse(pt, ptl, k->key_id, 3, sec.version, (uint32_t)j + 1,
                                         piece[j]) == SIGIL_OK);
        EVP_PKEY_free(rsa[j]);
    }

    /* node 3 loses its share (same identity, new process) */
    char path[600];
    stop_node(3);
    snprintf(path, sizeof path, "%s/state3/keys/%s.key", dir, k->key_id);
    REQUIRE(unlink(path) == 0);
    start_node(3);
    uint8_t f1[1 << 16], f2[1 << 16], g[1 << 16];
    size_t l1 = 0, l2 = 0, lg = 0;
    char p1[600], p2[600];
    snprintf(p1, sizeof p1, "%s/state1/keys/%s.key", dir, k->key_id);
    snprintf(p2, sizeof p2, "%s/state2/keys/%s.key", dir, k->key_id);
    REQUIRE(read_file_(p1, f1, sizeof f1, &l1) == 0 && read_file_(p2, f2, sizeof f2, &l2) == 0);

    /* the officers' pieces, sealed to node 3's current envelope key */
    Sigil__V1__NodeStatusRequest sr = SIGIL__V1__NODE_STATUS_REQUEST__INIT;
    Sigil__V1__NodeStatusResponse *sresp = NULL;
    uint8_t box[32], sh[32];
    REQUIRE(call(cl[3], SIGIL_RPC_NODE_STATUS, &sr.base, &sigil__v1__node_status_response__descriptor,
                 (ProtobufCMessage **)&sresp, NULL) == SIGIL_OK);
    REQUIRE(sigil_env_cert_box_pk(peers, 3, sresp->envelope_cert.data, sresp->envelope_cert.len, box) ==
            SIGIL_OK);
    sigil_rpc_msg_free(&sresp->base);
    REQUIRE(sigil_backup_restore_params_hash(k->key_id, 3, secb.data, secb.size, ph) == SIGIL_OK);
    lc_session(&rq, sid2, k, parties, &ra, "restore", ph, SIGIL__V1__SESSION_KIND__SESSION_KIND_RESTORE,
               &secb);
    crypto_hash_sha256(sh, ra.stmt.data, ra.stmt.size);
    sigil_buf pb[2];
    Sigil__V1__Envelope pe[2], *pep[2];
    for (int j = 0; j < 2; j++) {
        uint8_t sig[64];
        REQUIRE(sigil_buf_init(&pb[j], SIGIL_BACKUP_PIECE_MAX, 0) == SIGIL_OK);
        REQUIRE(sigil_restore_piece_body(nm[j], (uint32_t)j + 1, sh, k->key_id, 3, piece[j], box,
                                         &pb[j]) == SIGIL_OK);
        sodium_memzero(piece[j], 32);
        REQUIRE(sigil_buf_init(&m, SIGIL_BACKUP_PIECE_MAX + 64, 0) == SIGIL_OK);
        REQUIRE(sigil_restore_piece_sign_message(pb[j].data, pb[j].size, &m) == SIGIL_OK);
        crypto_sign_detached(sig, NULL, m.data, m.size, off_sk[j]);
        sigil_buf_free(&m);
        REQUIRE(sigil_buf_put(&pb[j], sig, 64) == SIGIL_OK);
        sigil__v1__envelope__init(&pe[j]);
        pe[j].session_id = (ProtobufCBinaryData){32, sid2};
        pe[j].to = 3;
        pe[j].kind = SIGIL__V1__ENVELOPE_KIND__ENVELOPE_KIND_DATA;
        pe[j].payload = (ProtobufCBinaryData){pb[j].size, pb[j].data};
        pep[j] = &pe[j];
    }
    Sigil__V1__StartSessionRequest rq3 = rq;
    rq3.inbound = pep;
    rq3.n_inbound = 2;
    Sigil__V1__SessionResponse *all[N + 1] = {0}, *next[N + 1] = {0};
    for (int i = 1; i <= N; i++) {
        int rc = start(i, i == 3 ? &rq3 : &rq, &all[i], &st);
        if (rc)
            fprintf(stderr, "restore start node %d: %s %s\n", i, sigil_errname(rc), st.detail);
        REQUIRE(rc == SIGIL_OK);
    }
    Sigil__V1__Envelope *in[4 * N];
    int adversary_done = 0;
    for (int guard = 0; !all[1]->done; guard++) {
        REQUIRE(guard < 8);
        if (all[1]->round == 5 && !adversary_done) {
            /* node 1 with node 2's PREPARED withheld, then tampered */
            size_t kk = route(all, 1, in, 4 * N);
            REQUIRE(kk == 2);
            Sigil__V1__Envelope *from3 = in[0]->from == 3 ? in[0] : in[1];
            Sigil__V1__Envelope *from2 = in[0]->from == 2 ? in[0] : in[1];
            CHECK_REFUSED(round_call(1, sid2, 5, &from3, 1, &x, &st), SIGIL_E_INVALID);
            uint8_t tb[8192];
            REQUIRE(from2->payload.len <= sizeof tb);
            memcpy(tb, from2->payload.data, from2->payload.len);
            tb[from2->payload.len / 2] ^= 1;
            Sigil__V1__Envelope t = *from2, *bad[2] = {from3, &t};
            t.payload.data = tb;
            CHECK(round_call(1, sid2, 5, bad, 2, &x, &st) != SIGIL_OK);
            /* nothing committed anywhere yet: every share holder only prepared */
            CHECK(read_file_(p1, g, sizeof g, &lg) == 0 && lg == l1 && !memcmp(g, f1, l1));
            CHECK(read_file_(p2, g, sizeof g, &lg) == 0 && lg == l2 && !memcmp(g, f2, l2));
            CHECK(!key_file(3, k->key_id, ".key"));
            for (int i = 1; i <= N; i++)
                CHECK(key_file(i, k->key_id, ".pending"));
            adversary_done = 1;
        }
        for (int i = 1; i <= N; i++) {
            size_t kk = route(all, (uint32_t)i, in, 4 * N);
            int rc = round_call(i, sid2, all[i]->round, in, kk, &next[i], &st);
            if (rc)
                fprintf(stderr, "restore round %u node %d: %s %s\n", all[i]->round, i,
                        sigil_errname(rc), st.detail);
            REQUIRE(rc == SIGIL_OK);
        }
        for (int i = 1; i <= N; i++) {
            sigil_rpc_msg_free(&all[i]->base);
            all[i] = next[i];
            next[i] = NULL;
        }
    }
    CHECK(adversary_done);
    for (int i = 1; i <= N; i++) {
        sigil_buf body;
        sigil_env_dkg_result res;
        CHECK(all[i]->done);
        REQUIRE(open_result(all[i], (uint32_t)i, sid2, &body) == SIGIL_OK);
        CHECK_EQ(sigil_env_dkg_result_decode(&res, body.data, body.size), SIGIL_OK);
        CHECK(res.public_key_len == 33 && !memcmp(res.public_key, k->pk, 33));
        sigil_buf_free(&body);
        sigil_rpc_msg_free(&all[i]->base);
        CHECK(!key_file(i, k->key_id, ".pending") && !key_file(i, k->key_id, ".old"));
        CHECK_EQ(share_version(i, k->key_id), 1);
    }
    /* nodes 1 and 2 replaced their share (new OT state); node 3 has one */
    CHECK(read_file_(p1, g, sizeof g, &lg) == 0 && (lg != l1 || memcmp(g, f1, l1)));
    CHECK(read_file_(p2, g, sizeof g, &lg) == 0 && (lg != l2 || memcmp(g, f2, l2)));
    CHECK(key_file(3, k->key_id, ".key"));
    ecdsa_round(k, q13, 1, 0);
    ecdsa_round(k, q23, 1, 0);
    ecdsa_round(k, q12, 1, 0);
    for (int j = 0; j < 2; j++)
        sigil_buf_free(&pb[j]);
    sigil_buf_free(&secb);
    sigil_buf_free(&ob);
    sigil_buf_free(&ba.stmt);
    sigil_buf_free(&ra.stmt);
}

static int retire_call(int node, const char *key_id, lc_approval *l, size_t n, sigil_rpc_status *st)
{
    Sigil__V1__RetireRequest rq = SIGIL__V1__RETIRE_REQUEST__INIT;
    ProtobufCMessage *r = NULL;
    rq.key_id = (char *)key_id;
    rq.statement = (ProtobufCBinaryData){l->stmt.size, l->stmt.data};
    rq.approvals = l->pp;
    rq.n_approvals = n;
    int rc = call(cl[node], "/sigil.v1.Admin/Retire", &rq.base, &sigil__v1__retire_response__descriptor, &r, st);
    if (r)
        sigil_rpc_msg_free(r);
    return rc;
}

int main(void)
{
    REQUIRE(sigil_mpc_init() == SIGIL_OK);
    signal(SIGPIPE, SIG_IGN);
    snprintf(dir, sizeof dir, "/tmp/sigil-node-test.XXXXXX");
    REQUIRE(mkdtemp(dir));
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s/dev-pki %s/pki coordinator node/1 node/2 node/3 officer/carol wallet/w1 >/dev/null",
             SIGIL_SCRIPTS_DIR, dir);
    run(cmd);
    char env[512];
    for (int i = 1; i <= N; i++) {
        snprintf(cmd, sizeof cmd, "%s/softhsm-token %s/hsm node%d", SIGIL_SCRIPTS_DIR, dir, i);
        capture(cmd, env, sizeof env);
    }
    char conf[600];
    snprintf(conf, sizeof conf, "%s/hsm/softhsm2.conf", dir);
    setenv("SOFTHSM2_CONF", conf, 1);
    for (int i = 1; i <= N; i++) {
        snprintf(cmd, sizeof cmd, "%s provision --token node%d --pin-file %s/hsm/node%d.pin 2>/dev/null",
                 SIGIL_HSM_TOOL, i, dir, i);
        capture(cmd, idhex[i], sizeof idhex[i]);
        REQUIRE(strlen(idhex[i]) == 64);
        REQUIRE(sodium_hex2bin(idpk[i], 32, idhex[i], 64, NULL, NULL, NULL) == 0);
    }
    for (int o = 0; o < 3; o++)
        crypto_sign_keypair(off_pk[o], off_sk[o]);
    REQUIRE(sigil_env_peers_new(&peers) == SIGIL_OK);
    for (int i = 1; i <= N; i++) {
        REQUIRE(sigil_env_peers_add(peers, (uint32_t)i, idpk[i]) == SIGIL_OK);
        write_config(i);
        start_node(i);
    }

    /* ---- DKG for every FROST scheme, signing with two quorums ---- */
    key_t_ ked, ksecp, kbip;
    dkg(&ked, "k-ed25519", 1, 1);
    dkg(&ksecp, "k-secp", 2, 0);
    dkg(&kbip, "k-bip340", 3, 0);
    CHECK_EQ(ked.pklen, 32);
    CHECK_EQ(ksecp.pklen, 33);
    CHECK_EQ(kbip.pklen, 32);
    {
        /* the key id is now taken */
        key_t_ dup;
        uint8_t sid[32];
        randombytes_buf(sid, 32);
        uint32_t parties[N] = {1, 2, 3};
        Sigil__V1__StartSessionRequest rq = SIGIL__V1__START_SESSION_REQUEST__INIT;
        rq.session_id.data = sid;
        rq.session_id.len = 32;
        rq.kind = SIGIL__V1__SESSION_KIND__SESSION_KIND_DKG;
        rq.key_id = (char *)"k-ed25519";
        rq.scheme = 1;
        rq.threshold = T;
        rq.num_parties = N;
        rq.parties = parties;
        rq.n_parties = N;
        Sigil__V1__SessionResponse *x = NULL;
        sigil_rpc_status st;
        CHECK_REFUSED(start(1, &rq, &x, &st), SIGIL_E_EXISTS);
        (void)dup;
    }
    const key_t_ *keys[3] = {&ked, &ksecp, &kbip};
    uint32_t q12[2] = {1, 2}, q23[2] = {2, 3}, q13[2] = {1, 3};
    for (int kk = 0; kk < 3; kk++) {
        for (int i = 1; i <= N; i++) {
            sigil_rpc_status st;
            REQUIRE(refill(i, keys[kk], 8, &st) == SIGIL_OK);
            CHECK_EQ(pools[i].resp->n_entries, 8);
        }
        sign_ok(keys[kk], q12, 2);
        sign_ok(keys[kk], q23, 2);
        sign_ok(keys[kk], q13, 2);
        for (int i = 1; i <= N; i++)
            REQUIRE(refill(i, keys[kk], 12, NULL) == SIGIL_OK);
        sign_batch(keys[kk], q13, 12);
    }

    /* ---- ECDSA (DKLs23): DKG + OT setup, PRESIGN, one-call SIGN ---- */
    key_t_ kec;
    dkg(&kec, "k-ecdsa", 4, 0);
    CHECK_EQ(kec.pklen, 33);
    ecdsa_round(&kec, q12, 16, 0); /* PRESIGN_MAX_COUNT: fits the envelope and message limits */
    ecdsa_round(&kec, q23, 2, 0);
    ecdsa_round(&kec, q13, 8, 1); /* one SIGN session for all 8 */
    {
        /* RefillPool is FROST only */
        sigil_rpc_status st;
        CHECK_REFUSED(refill(1, &kec, 3, &st), SIGIL_E_INVALID);
    }

    /* ---- signing adversaries (Ed25519 key) ---- */
    for (int i = 1; i <= N; i++)
        REQUIRE(refill(i, &ked, 10, NULL) == SIGIL_OK);
    {
        signreq s;
        uint8_t sig[65];
        sigil_rpc_status st;
        Sigil__V1__SessionResponse *x = NULL;
        make_sign(&s, &ked, q12, 2);
        /* tampered commitment envelope: refused, nothing consumed */
        Sigil__V1__Envelope t = *s.in[0][0];
        uint8_t *p = malloc(t.payload.len);
        memcpy(p, t.payload.data, t.payload.len);
        p[t.payload.len - 70] ^= 0x80;
        t.payload.data = p;
        Sigil__V1__Envelope *orig = s.in[0][0];
        s.in[0][0] = &t;
        CHECK_REFUSED(start(1, &s.rq[0], &x, &st), SIGIL_E_SIGNATURE);
        CHECK_EQ(st.code, GRPC_STATUS_ABORTED);
        /* a commitment moved to another sender (node 3's entry claimed as node 2's) */
        t = *orig;
        t.from = 3;
        p[0] = 0;
        t.payload.data = orig->payload.data;
        s.in[0][0] = &t;
        CHECK_REFUSED(start(1, &s.rq[0], &x, &st), SIGIL_E_PARTICIPANT);
        /* a commitment of a session-bound kind with a session id */
        t = *orig;
        t.session_id.data = s.sid;
        t.session_id.len = 32;
        CHECK_REFUSED(start(1, &s.rq[0], &x, &st), SIGIL_E_ENCODING);
        free(p);
        s.in[0][0] = orig;
        /* unknown pool entry */
        uint64_t saved = s.entries[0][0];
        s.entries[0][0] = saved + 1000000;
        CHECK_REFUSED(start(1, &s.rq[0], &x, &st), SIGIL_E_NOT_FOUND);
        CHECK_EQ(st.code, GRPC_STATUS_NOT_FOUND);
        s.entries[0][0] = saved;
        /* none of that consumed anything or burned the id: the real request works */
        CHECK_EQ(finish_sign(&s, &ked, sig), SIGIL_OK);
        /* the same session id again: refused */
        CHECK_REFUSED(start(1, &s.rq[0], &x, &st), SIGIL_E_REPLAY);
        CHECK_EQ(st.code, GRPC_STATUS_ALREADY_EXISTS);
        /* the same pool entry under a fresh session id: consumed already */
        randombytes_buf(s.sid, 32);
        CHECK_REFUSED(start(1, &s.rq[0], &x, &st), SIGIL_E_NOT_FOUND);

        /* ---- restart: nonces gone, ids never repeat, seen ids kept ---- */
        signreq pending;
        make_sign(&pending, &ked, q12, 2);
        uint64_t old_entry = pending.entries[0][0];
        stop_node(1);
        start_node(1);
        CHECK_REFUSED(start(1, &pending.rq[0], &x, &st), SIGIL_E_NOT_FOUND);
        CHECK(strstr(st.detail, "restart") != NULL);
        REQUIRE(refill(1, &ked, 10, NULL) == SIGIL_OK);
        for (size_t e = 0; e < pools[1].resp->n_entries; e++)
            CHECK(pools[1].resp->entries[e]->entry_id != old_entry &&
                  (pools[1].resp->entries[e]->entry_id >> 32) > (old_entry >> 32));
        /* session ids seen before the restart are still refused */
        {
            uint32_t parties[N] = {1, 2, 3};
            Sigil__V1__StartSessionRequest rq = SIGIL__V1__START_SESSION_REQUEST__INIT;
            rq.session_id.data = first_dkg_sid;
            rq.session_id.len = 32;
            rq.kind = SIGIL__V1__SESSION_KIND__SESSION_KIND_DKG;
            rq.key_id = (char *)"k-new";
            rq.scheme = 1;
            rq.threshold = T;
            rq.num_parties = N;
            rq.parties = parties;
            rq.n_parties = N;
            CHECK_REFUSED(start(1, &rq, &x, &st), SIGIL_E_REPLAY);
            CHECK(strstr(st.detail, "already seen") != NULL);
            CHECK_REFUSED(start(1, &pending.rq[0], &x, &st), SIGIL_E_NOT_FOUND);
        }
        sign_ok(&ked, q12, 2);
    }

    /* ---- pool limits and status ---- */
    {
        sigil_rpc_status st;
        REQUIRE(refill(3, &ked, 100000, &st) == SIGIL_OK);
        CHECK_EQ(pools[3].resp->n_entries, 400); /* refill_max */
        Sigil__V1__NodeStatusRequest rq = SIGIL__V1__NODE_STATUS_REQUEST__INIT;
        rq.key_id = (char *)"k-ed25519";
        Sigil__V1__NodeStatusResponse *r = NULL;
        CHECK_EQ(call(cl[3], SIGIL_RPC_NODE_STATUS, &rq.base, &sigil__v1__node_status_response__descriptor,
                      (ProtobufCMessage **)&r, &st), SIGIL_OK);
        if (r) {
            CHECK(r->node_id == 3 && !r->halted && r->n_keys == 1);
            CHECK(r->identity_public_key.len == 32 && !memcmp(r->identity_public_key.data, idpk[3], 32));
            if (r->n_keys == 1)
                CHECK(r->keys[0]->pool_available >= 400 && r->keys[0]->party_id == 3);
            sigil_rpc_msg_free(&r->base);
        }
        /* past pool_max = 800 the oldest unused nonces are dropped (a
         * coordinator that restarted forgot them): refills keep working */
        uint64_t oldest = pools[3].resp->entries[0]->entry_id, newest = 0;
        for (int i = 0; i < 2; i++)
            REQUIRE(refill(3, &ked, 100000, &st) == SIGIL_OK);
        CHECK(pools[3].resp->pool_available == 800);
        CHECK_EQ(pools[3].resp->n_entries, 400);
        for (size_t i = 0; i < pools[3].resp->n_entries; i++)
            if (pools[3].resp->entries[i]->entry_id > newest)
                newest = pools[3].resp->entries[i]->entry_id;
        REQUIRE(refill(3, &ked, 1, &st) == SIGIL_OK);
        CHECK_EQ(pools[3].resp->n_entries, 1);
        CHECK(pools[3].resp->pool_available == 800);
        CHECK(pools[3].resp->entries[0]->entry_id > newest);
        {
            /* a dropped entry is refused like a used one; the pool (and its
             * index) still signs */
            signreq s;
            uint8_t sig[65];
            Sigil__V1__SessionResponse *x = NULL;
            make_sign(&s, &ked, q23, 2);
            uint64_t saved = s.entries[1][0];
            s.entries[1][0] = oldest;
            CHECK_REFUSED(start(3, &s.rq[1], &x, &st), SIGIL_E_NOT_FOUND);
            s.entries[1][0] = saved;
            CHECK_EQ(finish_sign(&s, &ked, sig), SIGIL_OK);
        }
        /* unknown key, wrong scheme */
        key_t_ nokey = ked;
        snprintf(nokey.key_id, sizeof nokey.key_id, "no-such-key");
        CHECK_REFUSED(refill(3, &nokey, 1, &st), SIGIL_E_NOT_FOUND);
        nokey = ked;
        nokey.scheme = 2;
        CHECK_REFUSED(refill(3, &nokey, 1, &st), SIGIL_E_MISMATCH);
        /* a full pool is emptied by a restart (nonces never outlive the process) */
        stop_node(3);
        start_node(3);
        REQUIRE(refill(3, &ked, 10, &st) == SIGIL_OK);
        CHECK_EQ(pools[3].resp->pool_available, 10);
    }

    /* ---- malformed input: clear status, the node keeps serving ---- */
    {
        sigil_rpc_status st;
        sigil_buf resp;
        REQUIRE(sigil_buf_init(&resp, 1 << 20, 0) == SIGIL_OK);
        const uint8_t junk[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01};
        CHECK(sigil_rpc_call_unary(cl[2], SIGIL_RPC_NODE_START_SESSION, junk, sizeof junk, &resp, TMO, &st) != SIGIL_OK);
        CHECK_EQ(st.code, GRPC_STATUS_INVALID_ARGUMENT);
        /* a short session id, a Round for no session */
        Sigil__V1__StartSessionRequest rq = SIGIL__V1__START_SESSION_REQUEST__INIT;
        uint8_t sid[31] = {0};
        rq.session_id.data = sid;
        rq.session_id.len = sizeof sid;
        rq.kind = SIGIL__V1__SESSION_KIND__SESSION_KIND_SIGN;
        Sigil__V1__SessionResponse *x = NULL;
        CHECK_REFUSED(start(2, &rq, &x, &st), SIGIL_E_ENCODING);
        uint8_t sid32[32];
        randombytes_buf(sid32, 32);
        CHECK_REFUSED(round_call(2, sid32, 1, NULL, 0, &x, &st), SIGIL_E_NOT_FOUND);
        /* unsupported session kind; a REFRESH of no key */
        rq.session_id.data = sid32;
        rq.session_id.len = 32;
        rq.kind = SIGIL__V1__SESSION_KIND__SESSION_KIND_UNSPECIFIED;
        CHECK_REFUSED(start(2, &rq, &x, &st), SIGIL_E_VERSION);
        rq.kind = SIGIL__V1__SESSION_KIND__SESSION_KIND_REFRESH;
        CHECK_REFUSED(start(2, &rq, &x, &st), SIGIL_E_NOT_FOUND);
        sigil_buf_free(&resp);
        sign_ok(&ked, q23, 2);
    }

    /* ---- concurrency: the node signs without holding its lock ---- */
    race_same_entry(&ked, q12);
    race_sign(&ked, q12);
    race_sign(&ked, q23);

    /* ---- permissions ---- */
    {
        sigil_rpc_client *w = client_as("wallet-w1", 2), *off = client_as("officer-carol", 2);
        Sigil__V1__NodeStatusRequest rq = SIGIL__V1__NODE_STATUS_REQUEST__INIT;
        ProtobufCMessage *r = NULL;
        sigil_rpc_status st;
        CHECK_REFUSED(call(w, SIGIL_RPC_NODE_STATUS, &rq.base, &sigil__v1__node_status_response__descriptor, &r, &st),
                 SIGIL_E_PERMISSION);
        CHECK_EQ(st.code, GRPC_STATUS_PERMISSION_DENIED);
        CHECK_EQ(call(off, SIGIL_RPC_NODE_STATUS, &rq.base, &sigil__v1__node_status_response__descriptor, &r, &st),
                 SIGIL_E_PERMISSION);
        CHECK_REFUSED(halt(w, &st), SIGIL_E_PERMISSION);
        sigil_rpc_client_free(w);
        sigil_rpc_client_free(off);
    }

    /* ---- breaker ---- */
    {
        sigil_rpc_client *off = client_as("officer-carol", 1);
        sigil_rpc_status st;
        for (int i = 1; i <= N; i++)
            REQUIRE(refill(i, &ked, 10, NULL) == SIGIL_OK);
        signreq s;
        make_sign(&s, &ked, q12, 2);
        halt_during_batch(&ked, off);
        Sigil__V1__SessionResponse *x = NULL;
        /* the coordinator asks node 1 directly: refused */
        CHECK_REFUSED(start(1, &s.rq[0], &x, &st), SIGIL_E_HALTED);
        CHECK_EQ(st.code, GRPC_STATUS_FAILED_PRECONDITION);
        CHECK(strstr(st.detail, "halted") != NULL);
        CHECK_REFUSED(refill(1, &ked, 5, &st), SIGIL_E_HALTED);
        {
            /* no key generation either */
            uint8_t dsid[32];
            randombytes_buf(dsid, 32);
            uint32_t parties[N] = {1, 2, 3};
            Sigil__V1__StartSessionRequest rq = SIGIL__V1__START_SESSION_REQUEST__INIT;
            rq.session_id.data = dsid;
            rq.session_id.len = 32;
            rq.kind = SIGIL__V1__SESSION_KIND__SESSION_KIND_DKG;
            rq.key_id = (char *)"k-halted";
            rq.scheme = 1;
            rq.threshold = T;
            rq.num_parties = N;
            rq.parties = parties;
            rq.n_parties = N;
            CHECK_REFUSED(start(1, &rq, &x, &st), SIGIL_E_HALTED);
        }
        /* survives a restart */
        stop_node(1);
        start_node(1);
        sigil_rpc_client_free(off);
        off = client_as("officer-carol", 1);
        make_sign(&s, &ked, q23, 2); /* node 1's pool is gone: use 2,3 for the entries */
        s.rq[0].parties = q12;       /* and ask node 1 directly anyway */
        CHECK_REFUSED(start(1, &s.rq[0], &x, &st), SIGIL_E_HALTED);
        CHECK_REFUSED(refill(1, &ked, 5, &st), SIGIL_E_HALTED);

        const char *names[3] = {"alice", "bob", "alice"};
        uint8_t sigs[3][64];
        uint8_t nonce[32];
        sigil_buf stmt;
        uint64_t now = (uint64_t)time(NULL);
        /* k-1 approvals */
        make_statement(&stmt, "resume", "test-cluster", now + 300, nonce);
        approve(&stmt, 0, sigs[0]);
        approve(&stmt, 1, sigs[1]);
        CHECK_REFUSED_D(resume(off, &stmt, names, sigs, 1, &st), SIGIL_E_THRESHOLD);
        /* duplicate officer */
        memcpy(sigs[2], sigs[0], 64);
        const char *dup[2] = {"alice", "alice"};
        uint8_t dsig[2][64];
        memcpy(dsig[0], sigs[0], 64);
        memcpy(dsig[1], sigs[0], 64);
        CHECK_REFUSED_D(resume(off, &stmt, dup, dsig, 2, &st), SIGIL_E_PARTICIPANT);
        /* foreign officer key under a configured name */
        uint8_t fsig[2][64];
        memcpy(fsig[0], sigs[0], 64);
        approve(&stmt, 2, fsig[1]);
        CHECK_REFUSED_D(resume(off, &stmt, names, fsig, 2, &st), SIGIL_E_SIGNATURE);
        /* unknown officer name */
        const char *unk[2] = {"alice", "mallory"};
        CHECK_REFUSED_D(resume(off, &stmt, unk, sigs, 2, &st), SIGIL_E_PERMISSION);
        /* statement for another cluster / action */
        sigil_buf other;
        uint8_t on[32];
        make_statement(&other, "resume", "other-cluster", now + 300, on);
        uint8_t osig[2][64];
        approve(&other, 0, osig[0]);
        approve(&other, 1, osig[1]);
        CHECK_REFUSED_D(resume(off, &other, names, osig, 2, &st), SIGIL_E_MISMATCH);
        sigil_buf_free(&other);
        /* expired */
        make_statement(&other, "resume", "test-cluster", now - 1, on);
        approve(&other, 0, osig[0]);
        approve(&other, 1, osig[1]);
        CHECK_REFUSED_D(resume(off, &other, names, osig, 2, &st), SIGIL_E_EXPIRED);
        CHECK_EQ(st.code, GRPC_STATUS_FAILED_PRECONDITION);
        sigil_buf_free(&other);
        /* still halted after all that */
        CHECK_REFUSED(start(1, &s.rq[0], &x, &st), SIGIL_E_HALTED);
        /* k approvals: resumed */
        CHECK_EQ(resume(off, &stmt, names, sigs, 2, &st), SIGIL_OK);
        for (int i = 1; i <= N; i++)
            REQUIRE(refill(i, &ked, 10, NULL) == SIGIL_OK);
        sign_ok(&ked, q12, 2);
        /* halt again; the same approvals replayed: refused */
        CHECK_EQ(halt(off, &st), SIGIL_OK);
        CHECK_REFUSED_D(resume(off, &stmt, names, sigs, 2, &st), SIGIL_E_REPLAY);
        CHECK_EQ(st.code, GRPC_STATUS_ALREADY_EXISTS);
        /* ... also after a restart (used nonces persist) */
        stop_node(1);
        start_node(1);
        sigil_rpc_client_free(off);
        off = client_as("officer-carol", 1);
        CHECK_REFUSED_D(resume(off, &stmt, names, sigs, 2, &st), SIGIL_E_REPLAY);
        sigil_buf_free(&stmt);
        make_statement(&stmt, "resume", "test-cluster", now + 300, nonce);
        approve(&stmt, 1, sigs[0]);
        approve(&stmt, 0, sigs[1]);
        const char *ba[2] = {"bob", "alice"};
        CHECK_EQ(resume(off, &stmt, ba, sigs, 2, &st), SIGIL_OK);
        sigil_buf_free(&stmt);
        for (int i = 1; i <= N; i++)
            REQUIRE(refill(i, &ked, 10, NULL) == SIGIL_OK);
        sign_ok(&ked, q13, 2);
        sigil_rpc_client_free(off);
    }

    /* ---- timing (informational): sequential Ed25519 2-of-3 signatures, one
     * StartSession per signer per signature, client-side aggregation ---- */
    {
        enum { RUNS = 200 };
        for (int i = 1; i <= 2; i++)
            REQUIRE(refill(i, &ked, RUNS, NULL) == SIGIL_OK);
        double ms[RUNS];
        for (int r = 0; r < RUNS; r++) {
            struct timespec a, b;
            clock_gettime(CLOCK_MONOTONIC, &a);
            signreq s;
            uint8_t sig[65];
            make_sign(&s, &ked, q12, 2);
            CHECK_EQ(finish_sign(&s, &ked, sig), SIGIL_OK);
            clock_gettime(CLOCK_MONOTONIC, &b);
            ms[r] = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
        }
        for (int i = 1; i < RUNS; i++)
            for (int j = i; j > 0 && ms[j] < ms[j - 1]; j--) {
                double t = ms[j];
                ms[j] = ms[j - 1];
                ms[j - 1] = t;
            }
        printf("timing: Ed25519 2-of-3, %d sequential signatures (2 nodes called one after the other, "
               "node audit fsync, HSM unseal per call, verify): p50 %.3f ms  p90 %.3f ms  p99 %.3f ms; cores %ld\n",
               RUNS, ms[RUNS / 2], ms[RUNS * 9 / 10], ms[RUNS * 99 / 100], sysconf(_SC_NPROCESSORS_ONLN));
    }

    /* ---- refresh and retire, node level: this test is the coordinator,
     * and the nodes check the officers' approvals themselves ---- */
    key_t_ krf, krfec;
    {
        dkg(&krf, "k-rf", 1, 0);
        dkg(&krfec, "k-rfec", 4, 0);
        refresh_node_level(&krf);
        refresh_node_level(&krfec);
        restore_renew_node_level(&kec, &krfec);
        key_t_ kbk;
        dkg(&kbk, "k-ecbk", 4, 0);
        ecdsa_backup_restore_node_level(&kbk);
        sigil_keyshare_free(&kbk.pub);
        sigil_rpc_status st;
        lc_approval rt;
        lc_make(&rt, "retire", krf.key_id, 0, 1);
        /* the coordinator alone cannot destroy a key */
        CHECK_REFUSED_D(retire_call(2, krf.key_id, &rt, 0, &st), SIGIL_E_THRESHOLD);
        CHECK_REFUSED_D(retire_call(2, krf.key_id, &rt, 1, &st), SIGIL_E_THRESHOLD);
        CHECK(key_file(2, krf.key_id, ".key"));
        for (int i = 1; i <= N; i++)
            REQUIRE(refill(i, &krf, 4, NULL) == SIGIL_OK);
        for (int i = 1; i <= N; i++)
            CHECK_EQ(retire_call(i, krf.key_id, &rt, 2, &st), SIGIL_OK);
        for (int i = 1; i <= N; i++) {
            CHECK(!key_file(i, krf.key_id, ".key") && !key_file(i, krf.key_id, ".old") &&
                  !key_file(i, krf.key_id, ".pending") && key_file(i, krf.key_id, ".retired"));
            CHECK_EQ(share_version(i, krf.key_id), 0);
        }
        /* entries refilled before the retire cannot sign; nothing refills */
        signreq sr;
        uint8_t sig[65];
        make_sign(&sr, &krf, q13, 2);
        CHECK(finish_sign(&sr, &krf, sig) != SIGIL_OK);
        CHECK_REFUSED(refill(1, &krf, 2, &st), SIGIL_E_NOT_FOUND);
        /* idempotent once done; the id never comes back */
        CHECK_EQ(retire_call(3, krf.key_id, &rt, 0, &st), SIGIL_OK);
        lc_approval rf;
        lc_make(&rf, "refresh", krf.key_id, 0, 1);
        uint32_t parties[N] = {1, 2, 3};
        uint8_t sid[32];
        Sigil__V1__StartSessionRequest rq;
        Sigil__V1__SessionResponse *x = NULL;
        rf_request(&rq, sid, &krf, parties, &rf, 2);
        CHECK_REFUSED(start(1, &rq, &x, &st), SIGIL_E_NOT_FOUND);
        rq.kind = SIGIL__V1__SESSION_KIND__SESSION_KIND_DKG;
        rq.n_approvals = 0;
        CHECK_REFUSED(start(1, &rq, &x, &st), SIGIL_E_EXISTS);
        sigil_buf_free(&rf.stmt);
        sigil_buf_free(&rt.stmt);
        sigil_keyshare_free(&krf.pub);
    }

    /* ---- keys survive a restart (sealed share, unsealed per use) ---- */
    for (int i = 1; i <= N; i++) {
        stop_node(i);
        start_node(i);
    }
    for (int kk = 0; kk < 3; kk++) {
        for (int i = 1; i <= N; i++)
            REQUIRE(refill(i, keys[kk], 4, NULL) == SIGIL_OK);
        sign_ok(keys[kk], q23, 2);
    }
    ecdsa_round(&kec, q13, 1, 0);
    ecdsa_round(&krfec, q13, 1, 0); /* refreshed share (version 2) reloads */
    CHECK_EQ(share_version(2, krfec.key_id), 2);
    /* no key material in the clear on disk: the share file holds a sealed blob */
    {
        char path[600];
        snprintf(path, sizeof path, "%s/state1/keys/k-ed25519.key", dir);
        struct stat sb;
        CHECK(stat(path, &sb) == 0 && (sb.st_mode & 077) == 0);
    }

    for (int i = 1; i <= N; i++) {
        stop_node(i);
        sigil_rpc_client_free(cl[i]);
        if (pools[i].resp)
            sigil_rpc_msg_free(&pools[i].resp->base);
    }
    /* every share node 2 produced is in its audit log, which verifies
     * against its identity key (checkpoints signed in the HSM) */
    {
        char apath[600], msg[512];
        snprintf(apath, sizeof apath, "%s/state2/audit", dir);
        sigil_audit_verify_result vr;
        memset(&vr, 0, sizeof vr);
        int v = sigil_audit_verify_log(apath, "sigil-node/2/test-cluster", idpk[2], 0, &vr, msg, sizeof msg);
        if (v != SIGIL_AUDIT_V_OK)
            fprintf(stderr, "audit verify: %s\n", msg);
        CHECK_EQ(v, SIGIL_AUDIT_V_OK);
        /* every signature node 2 took part in (+ 2 x RACE in the concurrency
         * test), its share changes (two refreshes and one retirement), and
         * the signature after the pool-eviction check, the signature after
         * the refused ECDSA restores, the node-level ECDSA restore (its
         * renewed OT state, then 2 signatures) */
        CHECK_EQ(vr.entries, 17 + 200 - 3 + 16 + 1 + 2 * RACE + 3 + 1 + 1 + 3);
    }
    for (int kk = 0; kk < 3; kk++)
        sigil_keyshare_free((sigil_keyshare *)&keys[kk]->pub);
    sigil_keyshare_free(&kec.pub);
    sigil_keyshare_free(&krfec.pub);
    sigil_env_peers_free(peers);
    if (!check_fail_) {
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        (void)!system(cmd);
    } else {
        fprintf(stderr, "test directory kept: %s\n", dir);
    }
    return check_done();
}
