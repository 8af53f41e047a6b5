/* Adversarial integration test through the real coordinator: a 2-of-3
 * cluster (three sigil-node processes with their own SoftHSM tokens, one
 * sigil-coordinator, mTLS with the dev CA) launched by scripts/cluster,
 * where node 3 is COMPROMISED.
 *
 * The compromised node is modelled without a special build of sigil-node:
 * the real node 3 is moved to another port and an in-test gRPC proxy (the
 * proto/ server and client glue) listens at the address the coordinator
 * has configured for node 3. Towards the coordinator the proxy holds only
 * what a compromised node 3 holds: node 3's own certificate and key, and
 * (for forged envelopes) signing access to node 3's identity key in node
 * 3's own SoftHSM token. It forwards every call to the real node 3 process
 * (that hop is inside the compromised node: it uses the coordinator's
 * certificate only because sigil-node answers nobody else) and tampers
 * with, replays or re-attributes what node 3 returns.
 *
 * Cases (each: the exact gRPC status or the coordinator's reason naming
 * node 3, nothing changed, the next Sign on the honest quorum verifies with
 * libsodium / libsecp256k1, the coordinator keeps serving, none lost):
 *   nodecert    node 2's valid certificate as a CLIENT: the coordinator's
 *               wallet and admin APIs and node 1's node and admin APIs
 *               answer PERMISSION_DENIED naming sigil://node/2; nothing
 *               halted, nothing signed.
 *   result      node 3 returns, in a later SIGN session, the RESULT
 *               envelope it made in an earlier one (as is, and with the
 *               clear session id rewritten), a COMMITMENT envelope of
 *               another node from the current session passed off as its
 *               RESULT, and a RESULT claiming node 1 as sender signed by
 *               an envelope key that node 3's identity key certified for
 *               "node 1" — FROST Ed25519 and DKLs23 ECDSA: each rejected
 *               ("node 3: bad RESULT envelope"), the request retried on
 *               {1,2} and signed.
 *   relay       node 3's PRESIGN round messages: a round-1 envelope of an
 *               earlier session (as is / session id rewritten), another
 *               node's envelope of the current session (as is / re-headed
 *               as node 3's own), an envelope claiming node 1 as sender
 *               (forged as above), node 3's own body signed for another
 *               round (a second envelope key its identity key certified):
 *               the coordinator aborts the session with a reason that
 *               blames node 3 (not the honest receiver); ECDSA requests
 *               keep being signed.
 *   keygen      the same round attacks on a DKG: Keygen answers ABORTED
 *               "key generation failed: node 3 sent ...", every node drops
 *               the session, the same key id then generates and signs.
 *   impersonate a process presenting node 2's valid certificate at node
 *               3's address: the coordinator refuses it in the handshake
 *               (the server's SAN must be sigil://node/3: Keygen, which
 *               needs every node, answers UNAVAILABLE "node 3: ... Verify
 *               peer callback returned a failure"), never sends it a
 *               request, Health reports node 3 failing, signing continues
 *               on {1,2}; node 3 back at its address signs again, and the
 *               key id refused meanwhile generates.
 * Finally the central and every node audit log verify offline. */
#define _GNU_SOURCE
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <grpc/status.h>
#include <secp256k1.h>
#include <sodium.h>

#include "check.h"
#include "sigil/envelope.h"
#include "sigil/err.h"
#include "sigil/hsm.h"
#include "sigil/rpc.h"
#include "sigil/v1/admin.pb-c.h"
#include "sigil/v1/node.pb-c.h"
#include "sigil/v1/wallet.pb-c.h"

#define PX_MAX ((size_t)16 << 20)
#define ED_KEY "hot-ed"
#define EC_KEY "hot-ecdsa"

static char dir[PATH_MAX], target[64];
static int port_node[4];
static const char *scripts = SIGIL_SCRIPTS_DIR, *bindir = SIGIL_BIN_DIR;
static secp256k1_context *secp;
static int requests_sent, requests_ok;

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

static int free_port(void)
{
    struct sockaddr_in a = {0};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;
    REQUIRE(fd >= 0);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    REQUIRE(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* A client with the dev PKI's certificate of `file` ("wallet-alice",
 * "node-2", ...) to addr, requiring the server identity `expect`. */
static sigil_rpc_client *client_to(const char *file, const char *addr, const char *expect)
{
    char ca[PATH_MAX + 16], cert[PATH_MAX + 80], key[PATH_MAX + 80];
    sigil_rpc_client *c = NULL;
    snprintf(ca, sizeof ca, "%s/pki/ca.pem", dir);
    snprintf(cert, sizeof cert, "%s/pki/%s.pem", dir, file);
    snprintf(key, sizeof key, "%s/pki/%s.key", dir, file);
    sigil_rpc_client_config cc = {0};
    cc.target = addr;
    cc.tls = (sigil_rpc_tls){ca, cert, key};
    cc.expect_identity = expect;
    cc.max_message = PX_MAX;
    REQUIRE(sigil_rpc_client_new(&cc, &c) == SIGIL_OK);
    return c;
}

static sigil_rpc_client *client(const char *file)
{
    return client_to(file, target, "sigil://coordinator");
}

/* ---- the compromised node 3: a tampering proxy ---- */

typedef enum {
    PX_PASS = 0,
    /* SIGN sessions: node 3's RESULT replaced */
    PX_RESULT_OLD,       /* by its RESULT of an earlier session, as is */
    PX_RESULT_OLD_SID,   /* the same with the clear session id rewritten to this one */
    PX_RESULT_OTHER,     /* by another node's COMMITMENT of this session, re-headed as node 3's RESULT */
    PX_RESULT_FORGED,    /* by a RESULT claiming node 1 as sender (forged envelope key) */
    /* PRESIGN sessions: node 3's first outbound round message replaced */
    PX_ROUND_OLD,        /* by its round-1 envelope of an earlier session, as is */
    PX_ROUND_OLD_SID,    /* the same with the clear session id rewritten */
    PX_ROUND_OTHER,      /* by another node's round-1 envelope of this session, as is */
    PX_ROUND_OTHER_AS3,  /* the same re-headed as node 3's own round-2 message */
    PX_ROUND_FORGED,     /* by a round-1 envelope claiming node 1 as sender (forged key) */
    PX_ROUND_RESEALED,   /* by its own round-1 body signed for round 2 (a new node-3 key) */
    /* RefillPool: one entry of node 3's batched COMMITMENT envelopes */
    PX_REFILL_FLIP,      /* one bit of its inclusion path flipped */
    PX_REFILL_SPLICE,    /* with the batch signature of an earlier refill of node 3 */
    PX_NMODES
} px_mode;

static const char *px_mode_name[PX_NMODES] = {
    "pass", "result-old", "result-old-sid", "result-other", "result-forged",
    "round-old", "round-old-sid", "round-other", "round-other-as3", "round-forged",
    "round-resealed", "refill-flip", "refill-splice"};

#define PX_SESSIONS 512

typedef struct {
    uint8_t sid[32];
    int kind;                       /* SessionKind */
    int ecdsa;
    int tampered;                   /* px_mode + 1 when tampered */
} px_session;

typedef struct {
    sigil_rpc_server *srv;
    sigil_rpc_client *up;           /* to the real node 3 */
    int forward;                    /* 0: answer nothing (the impostor) */
    sigil_rpc_authz *authz;
    pthread_mutex_t mu;
    px_mode mode;
    atomic_int calls;
    int tampered[PX_NMODES];
    /* recorded in PASS mode: node 3's RESULT of a SIGN session per scheme
     * (0 FROST, 1 ECDSA) and its round-1 envelope of a PRESIGN session */
    sigil_buf rec_result[2], rec_round1[2]; /* round 1: [0] PRESIGN, [1] DKG */
    uint8_t rec_batch_sig[64];              /* of node 3's last honest refill */
    int rec_batch;
    int recorded[2];
    int round_kind;                 /* the session kind the round modes spoil */
    px_session sess[PX_SESSIONS];
    size_t nsess;
    /* AbortSession reasons the coordinator sent for tampered sessions */
    char abort_reason[PX_NMODES][256];
    int aborts[PX_NMODES];
    /* envelope keys certified by node 3's HSM identity key: one claiming
     * to be node 1's, one a second key of node 3's own */
    sigil_env_key *forged, *own;
    sigil_env_peers *peers3;        /* node 3's identity key: to read its own bodies */
} proxy;

static proxy px;

static px_session *px_find(const uint8_t *sid, size_t len)
{
    if (len != 32)
        return NULL;
    for (size_t i = 0; i < px.nsess && i < PX_SESSIONS; i++)
        if (!memcmp(px.sess[i].sid, sid, 32))
            return &px.sess[i];
    return NULL;
}

static int copy_env(const Sigil__V1__Envelope *e, Sigil__V1__Envelope **out)
{
    sigil_buf b;
    ProtobufCMessage *m = NULL;
    int rc;
    sigil_buf_init(&b, PX_MAX, 0);
    rc = sigil_rpc_pack(&e->base, &b);
    if (!rc)
        rc = sigil_rpc_unpack(&sigil__v1__envelope__descriptor, b.data, b.size, PX_MAX, &m);
    sigil_buf_free(&b);
    *out = (Sigil__V1__Envelope *)m;
    return rc;
}

static void record(sigil_buf *dst, const Sigil__V1__Envelope *e)
{
    sigil_buf_reset(dst);
    dst->size = dst->off = 0;
    (void)sigil_rpc_pack(&e->base, dst);
}

static Sigil__V1__Envelope *recorded(const sigil_buf *b)
{
    ProtobufCMessage *m = NULL;
    if (!b->size ||
        sigil_rpc_unpack(&sigil__v1__envelope__descriptor, b->data, b->size, PX_MAX, &m))
        return NULL;
    return (Sigil__V1__Envelope *)m;
}

/* Re-seal node 3's own envelope body with key k (as k's node id) under
 * the same header, the round moved by dround. */
static Sigil__V1__Envelope *forge(const Sigil__V1__Envelope *e, const sigil_env_key *k,
                                  uint32_t dround)
{
    sigil_env_header h = {e->session_id.len ? e->session_id.data : NULL, e->session_id.len,
                          e->round, e->from, e->to, (uint32_t)e->kind};
    sigil_buf body, pay;
    Sigil__V1__Envelope *f = NULL;
    sigil_buf_init(&body, PX_MAX, SIGIL_BUF_SECRET);
    sigil_buf_init(&pay, PX_MAX, 0);
    /* a broadcast or RESULT body is in the clear; an encrypted one is
     * re-sent as the ciphertext it is */
    if (sigil_env_open(px.peers3, NULL, &h, e->payload.data, e->payload.len, &body, NULL) == 0) {
        h.from = sigil_env_key_node_id(k);
        h.round += dround;
        if (sigil_env_seal(k, &h, body.data, body.size, NULL, &pay) == 0 &&
            copy_env(e, &f) == 0) {
            f->from = h.from;
            f->round = h.round;
            free(f->payload.data);
            f->payload.data = malloc(pay.size);
            f->payload.len = pay.size;
            memcpy(f->payload.data, pay.data, pay.size);
        }
    }
    sigil_buf_free(&body);
    sigil_buf_free(&pay);
    return f;
}

static void set_sid(Sigil__V1__Envelope *e, const uint8_t *sid)
{
    if (e->session_id.len != 32) {
        free(e->session_id.data);
        e->session_id.data = malloc(32);
        e->session_id.len = 32;
    }
    memcpy(e->session_id.data, sid, 32);
}

/* The tampering: r is node 3's answer, rq_in / nin the inbound envelopes of
 * the request it answers. Returns the replacement envelope for *slot (the
 * caller packs, then restores and frees), or NULL to leave it. */
static Sigil__V1__Envelope *tamper(px_session *s, int start, Sigil__V1__SessionResponse *r,
                                   Sigil__V1__Envelope **rq_in, size_t nin,
                                   Sigil__V1__Envelope ***slot)
{
    Sigil__V1__Envelope *e = NULL;
    px_mode m = px.mode;
    int sign = s->kind == SIGIL__V1__SESSION_KIND__SESSION_KIND_SIGN;
    int dkg = s->kind == SIGIL__V1__SESSION_KIND__SESSION_KIND_DKG;
    int presign = s->kind == SIGIL__V1__SESSION_KIND__SESSION_KIND_PRESIGN || dkg;

    /* record genuine material while honest */
    if (m == PX_PASS) {
        if (sign && r->n_results == 1) {
            record(&px.rec_result[s->ecdsa], r->results[0]);
            px.recorded[s->ecdsa]++;
        }
        if (presign && start && r->n_outbound >= 1)
            record(&px.rec_round1[dkg], r->outbound[0]);
        return NULL;
    }
    if (sign && r->n_results == 1 && m >= PX_RESULT_OLD && m <= PX_RESULT_FORGED) {
        *slot = &r->results[0];
        if (m == PX_RESULT_OLD || m == PX_RESULT_OLD_SID) {
            if ((e = recorded(&px.rec_result[s->ecdsa])) && m == PX_RESULT_OLD_SID)
                set_sid(e, s->sid);
        } else if (m == PX_RESULT_OTHER) {
            /* FROST: the other signers' COMMITMENT envelopes are in the request */
            for (size_t i = 0; i < nin && !e; i++)
                if (rq_in[i] && rq_in[i]->from != 3 && copy_env(rq_in[i], &e) == 0) {
                    e->kind = SIGIL__V1__ENVELOPE_KIND__ENVELOPE_KIND_RESULT;
                    e->from = 3;
                    e->round = r->results[0]->round;
                    set_sid(e, s->sid);
                }
        } else {
            e = forge(r->results[0], px.forged, 0);
        }
    } else if (presign && s->kind == px.round_kind && r->n_outbound >= 1 && m >= PX_ROUND_OLD) {
        *slot = &r->outbound[0];
        if ((m == PX_ROUND_OLD || m == PX_ROUND_OLD_SID || m == PX_ROUND_FORGED ||
             m == PX_ROUND_RESEALED) && start) {
            if (m == PX_ROUND_FORGED)
                e = forge(r->outbound[0], px.forged, 0);
            else if (m == PX_ROUND_RESEALED)
                e = forge(r->outbound[0], px.own, 1);
            else if ((e = recorded(&px.rec_round1[dkg])) && m == PX_ROUND_OLD_SID)
                set_sid(e, s->sid);
        } else if ((m == PX_ROUND_OTHER || m == PX_ROUND_OTHER_AS3) && !start && r->round == 2) {
            for (size_t i = 0; i < nin && !e; i++)
                if (rq_in[i] && rq_in[i]->from != 3 && copy_env(rq_in[i], &e) == 0 &&
                    m == PX_ROUND_OTHER_AS3) {
                    e->from = 3;
                    e->round = r->outbound[0]->round;
                    e->to = r->outbound[0]->to;
                }
        }
    }
    if (e) {
        px.tampered[m]++;
        s->tampered = (int)m + 1;
    }
    return e;
}

static int px_handler(void *ctx, sigil_rpc_call *call)
{
    (void)ctx;
    sigil_buf up;
    sigil_rpc_status st;
    ProtobufCMessage *rq = NULL, *resp = NULL;
    int start = !strcmp(call->method, SIGIL_RPC_NODE_START_SESSION);
    int round = !strcmp(call->method, SIGIL_RPC_NODE_ROUND);
    int rc;

    atomic_fetch_add(&px.calls, 1);
    if (!px.forward)
        return SIGIL_E_UNAVAILABLE;
    if (start || round)
        (void)sigil_rpc_unpack(start ? &sigil__v1__start_session_request__descriptor
                                     : &sigil__v1__round_request__descriptor,
                               call->req_bytes, call->req_len, PX_MAX, &rq);
    if (!strcmp(call->method, SIGIL_RPC_NODE_ABORT_SESSION) &&
        sigil_rpc_unpack(&sigil__v1__abort_session_request__descriptor, call->req_bytes,
                         call->req_len, PX_MAX, &rq) == 0) {
        Sigil__V1__AbortSessionRequest *a = (Sigil__V1__AbortSessionRequest *)rq;
        pthread_mutex_lock(&px.mu);
        px_session *s = px_find(a->session_id.data, a->session_id.len);
        if (s && s->tampered) {
            snprintf(px.abort_reason[s->tampered - 1], sizeof px.abort_reason[0], "%s",
                     a->reason ? a->reason : "");
            px.aborts[s->tampered - 1]++;
        }
        pthread_mutex_unlock(&px.mu);
    }
    if (start && rq) {
        Sigil__V1__StartSessionRequest *ss = (Sigil__V1__StartSessionRequest *)rq;
        pthread_mutex_lock(&px.mu);
        if (ss->session_id.len == 32) {
            px_session *s = &px.sess[px.nsess++ % PX_SESSIONS];
            memcpy(s->sid, ss->session_id.data, 32);
            s->kind = ss->kind;
            s->ecdsa = ss->scheme == SIGIL__V1__SCHEME__SCHEME_ECDSA_SECP256K1;
            s->tampered = 0;
        }
        pthread_mutex_unlock(&px.mu);
    }

    sigil_buf_init(&up, PX_MAX, 0);
    rc = sigil_rpc_call_unary(px.up, call->method, call->req_bytes, call->req_len, &up,
                              call->timeout_ms > 20000 ? 20000 : call->timeout_ms ? call->timeout_ms : 1,
                              &st);
    if (rc) {
        snprintf(call->detail, sizeof call->detail, "%s", st.detail);
        rc = sigil_rpc_err_from_status(st.code);
    } else if ((start || round) &&
               sigil_rpc_unpack(&sigil__v1__session_response__descriptor, up.data, up.size,
                                PX_MAX, &resp) == 0) {
        Sigil__V1__SessionResponse *r = (Sigil__V1__SessionResponse *)resp;
        Sigil__V1__Envelope **slot = NULL, *orig = NULL, *rep = NULL;
        Sigil__V1__Envelope **in = NULL;
        size_t nin = 0;
        if (rq && start) {
            in = ((Sigil__V1__StartSessionRequest *)rq)->inbound;
            nin = ((Sigil__V1__StartSessionRequest *)rq)->n_inbound;
        } else if (rq) {
            in = ((Sigil__V1__RoundRequest *)rq)->inbound;
            nin = ((Sigil__V1__RoundRequest *)rq)->n_inbound;
        }
        pthread_mutex_lock(&px.mu);
        px_session *s = px_find(r->session_id.data, r->session_id.len);
        if (s)
            rep = tamper(s, start, r, in, nin, &slot);
        pthread_mutex_unlock(&px.mu);
        if (rep) {
            orig = *slot;
            *slot = rep;
        }
        rc = sigil_rpc_pack(resp, call->resp);
        if (rep) {
            *slot = orig;
            sigil_rpc_msg_free(&rep->base);
        }
    } else if (!strcmp(call->method, SIGIL_RPC_NODE_REFILL_POOL) &&
               sigil_rpc_unpack(&sigil__v1__refill_pool_response__descriptor, up.data, up.size,
                                PX_MAX, &resp) == 0) {
        Sigil__V1__RefillPoolResponse *r = (Sigil__V1__RefillPoolResponse *)resp;
        Sigil__V1__Envelope *e = r->n_entries >= 2 ? r->entries[r->n_entries / 2]->commitment : NULL;
        pthread_mutex_lock(&px.mu);
        px_mode m = px.mode;
        if (e && e->payload.len > 200) {
            uint8_t *sig = e->payload.data + e->payload.len - 64;
            if (m == PX_PASS) {
                memcpy(px.rec_batch_sig, sig, 64);
                px.rec_batch = 1;
            } else if (m == PX_REFILL_FLIP) {
                sig[-1] ^= 0x10; /* the last byte of the path */
                px.tampered[m]++;
            } else if (m == PX_REFILL_SPLICE && px.rec_batch && memcmp(sig, px.rec_batch_sig, 64)) {
                memcpy(sig, px.rec_batch_sig, 64);
                px.tampered[m]++;
            }
        }
        pthread_mutex_unlock(&px.mu);
        rc = sigil_rpc_pack(resp, call->resp);
    } else {
        rc = sigil_buf_put(call->resp, up.data, up.size);
    }
    sigil_rpc_msg_free(resp);
    sigil_rpc_msg_free(rq);
    sigil_buf_free(&up);
    return rc;
}

/* Listen at node 3's configured address with the certificate `who` of
 * the PKI directory `pki` under dir ("pki"/"node-3"; "pki"/"node-2" or
 * another CA's "node-3" for the impostors), forwarding to the real node 3
 * when `forward` is set (else every call is answered UNAVAILABLE). */
static void px_start(const char *pki, const char *who, int forward)
{
    static const char *methods[] = {SIGIL_RPC_NODE_START_SESSION, SIGIL_RPC_NODE_ROUND,
                                    SIGIL_RPC_NODE_ABORT_SESSION, SIGIL_RPC_NODE_REFILL_POOL,
                                    SIGIL_RPC_NODE_STATUS,        SIGIL_RPC_ADMIN_HALT,
                                    SIGIL_RPC_ADMIN_RESUME,       SIGIL_RPC_ADMIN_STATUS,
                                    SIGIL_RPC_ADMIN_HEALTH};
    char listen[64], ca[PATH_MAX + 16], cert[PATH_MAX + 32], key[PATH_MAX + 32], real[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port_node[3]);
    snprintf(ca, sizeof ca, "%s/pki/ca.pem", dir);
    snprintf(cert, sizeof cert, "%s/%s/%s.pem", dir, pki, who);
    snprintf(key, sizeof key, "%s/%s/%s.key", dir, pki, who);
    if (!px.authz) {
        REQUIRE(sigil_rpc_authz_new(&px.authz) == 0);
        REQUIRE(sigil_rpc_authz_allow(px.authz, "sigil://coordinator", "/sigil.v1.Node/*", "*") == 0);
        REQUIRE(sigil_rpc_authz_allow(px.authz, "sigil://coordinator", "/sigil.v1.Admin/*", "*") == 0);
    }
    px.forward = forward;
    if (forward && !px.up) {
        snprintf(real, sizeof real, "127.0.0.1:%d", port_node[0]);
        px.up = client_to("coordinator", real, "sigil://node/3");
    }
    sigil_rpc_server_config sc = {0};
    sc.listen = listen;
    sc.tls = (sigil_rpc_tls){ca, cert, key};
    sc.authz = px.authz;
    sc.max_message = PX_MAX;
    sc.threads = 16;
    REQUIRE(sigil_rpc_server_new(&sc, &px.srv) == 0);
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        REQUIRE(sigil_rpc_server_add(px.srv, methods[i], NULL, PX_MAX, px_handler, NULL) == 0);
    int port = 0;
    REQUIRE(sigil_rpc_server_start(px.srv, &port) == 0);
    REQUIRE(port == port_node[3]);
}

static void px_stop(void)
{
    sigil_rpc_server_free(px.srv);
    px.srv = NULL;
}

static void px_set(px_mode m)
{
    pthread_mutex_lock(&px.mu);
    px.mode = m;
    pthread_mutex_unlock(&px.mu);
}

static int px_get(const int *field)
{
    pthread_mutex_lock(&px.mu);
    int v = *field;
    pthread_mutex_unlock(&px.mu);
    return v;
}

/* node 3's identity key (its own HSM token) certifies an envelope key that
 * claims to be node 1's: what a compromised node 3 can do, nothing more */
static void forge_key(void)
{
    char conf[PATH_MAX + 64], pin[PATH_MAX + 64];
    uint8_t pk3[32], sig[64];
    sigil_hsm *h = NULL;
    sigil_buf m;
    snprintf(conf, sizeof conf, "%s/hsm/node3/softhsm2.conf", dir);
    snprintf(pin, sizeof pin, "%s/hsm/node3/node3.pin", dir);
    setenv("SOFTHSM2_CONF", conf, 1);
    sigil_hsm_config hc = {NULL, "node3", pin, NULL, 0};
    REQUIRE(sigil_hsm_open(&h, &hc) == 0);
    REQUIRE(sigil_hsm_ed25519_pubkey(h, SIGIL_HSM_IDENTITY_LABEL, pk3) == 0);
    REQUIRE(sigil_env_peers_new(&px.peers3) == 0);
    REQUIRE(sigil_env_peers_add(px.peers3, 3, pk3) == 0);
    REQUIRE(sigil_env_key_new(&px.forged, 1, (uint64_t)time(NULL)) == 0);
    sigil_buf_init(&m, 256, 0);
    REQUIRE(sigil_env_key_cert_message(px.forged, &m) == 0);
    REQUIRE(sigil_hsm_sign_ed25519(h, SIGIL_HSM_IDENTITY_LABEL, m.data, m.size, sig) == 0);
    REQUIRE(sigil_env_key_set_cert(px.forged, pk3, sig) == 0);
    REQUIRE(sigil_env_key_new(&px.own, 3, (uint64_t)time(NULL)) == 0);
    sigil_buf_reset(&m);
    REQUIRE(sigil_env_key_cert_message(px.own, &m) == 0);
    REQUIRE(sigil_hsm_sign_ed25519(h, SIGIL_HSM_IDENTITY_LABEL, m.data, m.size, sig) == 0);
    REQUIRE(sigil_env_key_set_cert(px.own, pk3, sig) == 0);
    sigil_buf_free(&m);
    sigil_hsm_close(h);
}

/* ---- cluster ---- */

static int read_ports(void)
{
    char p[PATH_MAX + 16], line[64];
    snprintf(p, sizeof p, "%s/ports", dir);
    FILE *f = fopen(p, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "coord=", 6))
            snprintf(target, sizeof target, "127.0.0.1:%d", atoi(line + 6));
        for (int i = 1; i <= 3; i++) {
            char k[24];
            snprintf(k, sizeof k, "node%d=", i);
            if (!strncmp(line, k, strlen(k)) && !port_node[i])
                port_node[i] = atoi(line + strlen(k));
        }
    }
    fclose(f);
    return target[0] && port_node[1] && port_node[2] && port_node[3] ? 0 : -1;
}

/* scripts/cluster up; then node 3 moves to a new port (port_node[0]) and
 * the proxy takes its configured address before the coordinator starts. */
static void cluster_up(void)
{
    char tmpl[] = "/tmp/sigil-adversary-XXXXXX";
    REQUIRE(mkdtemp(tmpl));
    snprintf(dir, sizeof dir, "%s", tmpl);
    REQUIRE(sh("SIGIL_POOL_TARGET=64 SIGIL_ECDSA_POOL_TARGET=4 SIGIL_BIN='%s' '%s/cluster' up '%s' "
               "2>/dev/null",
               bindir, scripts, dir) == 0);
    REQUIRE(read_ports() == 0);
    port_node[0] = free_port();
    REQUIRE(sh("'%s/cluster' stop-coord '%s' && '%s/cluster' stop-node '%s' 3", scripts, dir,
               scripts, dir) == 0);
    REQUIRE(sh("sed -i 's/^listen = .*/listen = 127.0.0.1:%d/' '%s/node3/node.conf' && "
               "sed -i 's/^node3=.*/node3=%d/' '%s/ports'",
               port_node[0], dir, port_node[0], dir) == 0);
    REQUIRE(sh("'%s/cluster' start-node '%s' 3", scripts, dir) == 0);
    forge_key();
    px_start("pki", "node-3", 1);
    REQUIRE(sh("'%s/cluster' start-coord '%s'", scripts, dir) == 0);
}

/* ---- wallet calls ---- */

static int keygen(const char *key, int scheme, sigil_rpc_status *st)
{
    Sigil__V1__KeygenRequest req = SIGIL__V1__KEYGEN_REQUEST__INIT;
    ProtobufCMessage *m = NULL;
    sigil_rpc_client *adm = client("admin-ops");
    req.key_id = (char *)key;
    req.scheme = (Sigil__V1__Scheme)scheme;
    int rc = sigil_rpc_call_msg(adm, "/sigil.v1.Admin/Keygen", &req.base,
                                &sigil__v1__keygen_response__descriptor, &m, 60000, st);
    sigil_rpc_msg_free(m);
    sigil_rpc_client_free(adm);
    return rc;
}

typedef struct {
    uint32_t signers[3];
    size_t nsigners;
} sign_info;

/* Sign 32 random bytes (Ed25519: the message; ECDSA: the digest) and
 * verify the answer independently: libsodium for Ed25519, libsecp256k1 for
 * ECDSA. Returns the gRPC status (0 = OK and verified; -1 = OK but the
 * signature does not verify). */
static int sign_verify(sigil_rpc_client *w, const char *key, sign_info *info, sigil_rpc_status *st)
{
    Sigil__V1__SignRequest req = SIGIL__V1__SIGN_REQUEST__INIT;
    Sigil__V1__SignItem it = SIGIL__V1__SIGN_ITEM__INIT;
    ProtobufCMessage *m = NULL;
    uint8_t rid[16], msg[32];
    int ecdsa = !strcmp(key, EC_KEY), code = 0;
    randombytes_buf(rid, sizeof rid);
    randombytes_buf(msg, sizeof msg);
    req.key_id = (char *)key;
    req.request_id = (ProtobufCBinaryData){16, rid};
    it.payload_case = ecdsa ? SIGIL__V1__SIGN_ITEM__PAYLOAD_DIGEST : SIGIL__V1__SIGN_ITEM__PAYLOAD_MESSAGE;
    if (ecdsa)
        it.digest = (ProtobufCBinaryData){32, msg};
    else
        it.message = (ProtobufCBinaryData){32, msg};
    req.item = &it;
    requests_sent++;
    if (sigil_rpc_call_msg(w, SIGIL_RPC_WALLET_SIGN, &req.base,
                           &sigil__v1__sign_response__descriptor, &m, 15000, st))
        return st->code ? st->code : GRPC_STATUS_UNKNOWN;
    Sigil__V1__SignResponse *r = (Sigil__V1__SignResponse *)m;
    if (ecdsa) {
        secp256k1_pubkey pk;
        secp256k1_ecdsa_signature es;
        if (r->signature.len != 64 || r->public_key.len != 33 ||
            !secp256k1_ec_pubkey_parse(secp, &pk, r->public_key.data, 33) ||
            !secp256k1_ecdsa_signature_parse_compact(secp, &es, r->signature.data) ||
            !secp256k1_ecdsa_verify(secp, &es, msg, &pk))
            code = -1;
    } else if (r->signature.len != 64 || r->public_key.len != 32 ||
               crypto_sign_verify_detached(r->signature.data, msg, 32, r->public_key.data)) {
        code = -1;
    }
    if (info) {
        info->nsigners = r->n_signers <= 3 ? r->n_signers : 0;
        memcpy(info->signers, r->signers, info->nsigners * sizeof(uint32_t));
    }
    sigil_rpc_msg_free(m);
    requests_ok += code == 0;
    return code;
}

static int has_signer(const sign_info *si, uint32_t id)
{
    for (size_t i = 0; i < si->nsigners; i++)
        if (si->signers[i] == id)
            return 1;
    return 0;
}

/* Lines of the coordinator's log containing both strings. */
static int coord_log_count(const char *a, const char *b)
{
    char p[PATH_MAX + 16], line[1024];
    int n = 0;
    snprintf(p, sizeof p, "%s/coord/log", dir);
    FILE *f = fopen(p, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        n += strstr(line, a) && strstr(line, b);
    fclose(f);
    return n;
}

/* Health as admin/ops: 1 if node `id` is reported ok, 0 if failing. */
static int health_node(int id)
{
    Sigil__V1__HealthRequest req = SIGIL__V1__HEALTH_REQUEST__INIT;
    ProtobufCMessage *m = NULL;
    sigil_rpc_status st;
    char name[16];
    int ok = -1;
    sigil_rpc_client *adm = client("admin-ops");
    snprintf(name, sizeof name, "node/%d", id);
    if (sigil_rpc_call_msg(adm, SIGIL_RPC_ADMIN_HEALTH, &req.base,
                           &sigil__v1__health_response__descriptor, &m, 5000, &st) == 0) {
        Sigil__V1__HealthResponse *r = (Sigil__V1__HealthResponse *)m;
        for (size_t i = 0; i < r->n_components; i++)
            if (!strcmp(r->components[i]->name, name))
                ok = r->components[i]->ok;
    }
    sigil_rpc_msg_free(m);
    sigil_rpc_client_free(adm);
    return ok;
}

/* ---- the cases ---- */

/* 1b: node 2's certificate used as a client. */
static void test_nodecert(void)
{
    sigil_rpc_client *c = client("node-2"), *w = client("wallet-alice");
    sigil_rpc_status st;
    ProtobufCMessage *m = NULL;
    uint8_t rid[16] = {1}, d[32] = {2}, sid[32];
    char n1[64];
    sign_info si;

    /* the coordinator's wallet API */
    Sigil__V1__SignRequest sr = SIGIL__V1__SIGN_REQUEST__INIT;
    Sigil__V1__SignItem it = SIGIL__V1__SIGN_ITEM__INIT;
    sr.key_id = ED_KEY;
    sr.request_id = (ProtobufCBinaryData){16, rid};
    it.payload_case = SIGIL__V1__SIGN_ITEM__PAYLOAD_MESSAGE;
    it.message = (ProtobufCBinaryData){32, d};
    sr.item = &it;
    CHECK_EQ(sigil_rpc_call_msg(c, SIGIL_RPC_WALLET_SIGN, &sr.base,
                                &sigil__v1__sign_response__descriptor, &m, 5000, &st),
             SIGIL_E_PERMISSION);
    CHECK_EQ(st.code, GRPC_STATUS_PERMISSION_DENIED);
    CHECK(strstr(st.detail, "sigil://node/2 may not call /sigil.v1.Wallet/Sign on key 'hot-ed'") != NULL);
    Sigil__V1__ListKeysRequest lr = SIGIL__V1__LIST_KEYS_REQUEST__INIT;
    CHECK_EQ(sigil_rpc_call_msg(c, SIGIL_RPC_WALLET_LIST_KEYS, &lr.base,
                                &sigil__v1__list_keys_response__descriptor, &m, 5000, &st),
             SIGIL_E_PERMISSION);
    CHECK_EQ(st.code, GRPC_STATUS_PERMISSION_DENIED);
    /* the coordinator's admin API: halt, keygen */
    Sigil__V1__HaltRequest hr = SIGIL__V1__HALT_REQUEST__INIT;
    hr.reason = "node 2 says so";
    CHECK_EQ(sigil_rpc_call_msg(c, SIGIL_RPC_ADMIN_HALT, &hr.base,
                                &sigil__v1__halt_response__descriptor, &m, 5000, &st),
             SIGIL_E_PERMISSION);
    CHECK_EQ(st.code, GRPC_STATUS_PERMISSION_DENIED);
    CHECK(strstr(st.detail, "sigil://node/2 may not call /sigil.v1.Admin/Halt") != NULL);
    Sigil__V1__KeygenRequest kr = SIGIL__V1__KEYGEN_REQUEST__INIT;
    kr.key_id = "hot-node2";
    kr.scheme = SIGIL__V1__SCHEME__SCHEME_ED25519;
    CHECK_EQ(sigil_rpc_call_msg(c, "/sigil.v1.Admin/Keygen", &kr.base,
                                &sigil__v1__keygen_response__descriptor, &m, 5000, &st),
             SIGIL_E_PERMISSION);
    CHECK_EQ(st.code, GRPC_STATUS_PERMISSION_DENIED);
    sigil_rpc_client_free(c);

    /* node 1's node API and admin API, called directly with node 2's cert */
    snprintf(n1, sizeof n1, "127.0.0.1:%d", port_node[1]);
    c = client_to("node-2", n1, "sigil://node/1");
    Sigil__V1__StartSessionRequest ss = SIGIL__V1__START_SESSION_REQUEST__INIT;
    uint32_t parties[2] = {1, 2};
    randombytes_buf(sid, sizeof sid);
    ss.session_id = (ProtobufCBinaryData){32, sid};
    ss.kind = SIGIL__V1__SESSION_KIND__SESSION_KIND_PRESIGN;
    ss.key_id = EC_KEY;
    ss.scheme = SIGIL__V1__SCHEME__SCHEME_ECDSA_SECP256K1;
    ss.threshold = 2;
    ss.num_parties = 3;
    ss.parties = parties;
    ss.n_parties = 2;
    ss.count = 1;
    CHECK_EQ(sigil_rpc_call_msg(c, SIGIL_RPC_NODE_START_SESSION, &ss.base,
                                &sigil__v1__session_response__descriptor, &m, 5000, &st),
             SIGIL_E_PERMISSION);
    CHECK_EQ(st.code, GRPC_STATUS_PERMISSION_DENIED);
    CHECK(strstr(st.detail, "sigil://node/2 may not call /sigil.v1.Node/StartSession") != NULL);
    Sigil__V1__RefillPoolRequest rp = SIGIL__V1__REFILL_POOL_REQUEST__INIT;
    rp.key_id = ED_KEY;
    rp.scheme = SIGIL__V1__SCHEME__SCHEME_ED25519;
    rp.count = 8;
    CHECK_EQ(sigil_rpc_call_msg(c, SIGIL_RPC_NODE_REFILL_POOL, &rp.base,
                                &sigil__v1__refill_pool_response__descriptor, &m, 5000, &st),
             SIGIL_E_PERMISSION);
    CHECK_EQ(st.code, GRPC_STATUS_PERMISSION_DENIED);
    Sigil__V1__NodeStatusRequest ns = SIGIL__V1__NODE_STATUS_REQUEST__INIT;
    CHECK_EQ(sigil_rpc_call_msg(c, SIGIL_RPC_NODE_STATUS, &ns.base,
                                &sigil__v1__node_status_response__descriptor, &m, 5000, &st),
             SIGIL_E_PERMISSION);
    CHECK_EQ(st.code, GRPC_STATUS_PERMISSION_DENIED);
    CHECK_EQ(sigil_rpc_call_msg(c, SIGIL_RPC_ADMIN_HALT, &hr.base,
                                &sigil__v1__halt_response__descriptor, &m, 5000, &st),
             SIGIL_E_PERMISSION);
    CHECK_EQ(st.code, GRPC_STATUS_PERMISSION_DENIED);
    CHECK(strstr(st.detail, "sigil://node/2 may not call /sigil.v1.Admin/Halt") != NULL);
    sigil_rpc_client_free(c);

    /* nothing changed: node 1 and the coordinator are not halted, node 1
     * never opened that session (the id is still fresh for it: the
     * coordinator-side proof is that signing works on {1,2}) */
    sigil_rpc_client *adm1 = client_to("admin-ops", n1, "sigil://node/1");
    Sigil__V1__AdminStatusRequest as = SIGIL__V1__ADMIN_STATUS_REQUEST__INIT;
    CHECK_EQ(sigil_rpc_call_msg(adm1, SIGIL_RPC_ADMIN_STATUS, &as.base,
                                &sigil__v1__admin_status_response__descriptor, &m, 5000, &st),
             SIGIL_OK);
    if (m)
        CHECK_EQ(((Sigil__V1__AdminStatusResponse *)m)->halted, 0);
    sigil_rpc_msg_free(m);
    m = NULL;
    sigil_rpc_client_free(adm1);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(sign_verify(w, ED_KEY, &si, &st), 0);
        CHECK_EQ(sign_verify(w, EC_KEY, &si, &st), 0);
    }
    sigil_rpc_client_free(w);
}

/* Sign with `key` until the proxy has tampered `want` more times with mode
 * m (at most `max` requests); every request must be signed and verify, and
 * a tampered attempt never yields a signature with node 3 in it. */
static void sign_through(sigil_rpc_client *w, const char *key, px_mode m, int want, int max)
{
    sigil_rpc_status st;
    sign_info si;
    int before = px_get(&px.tampered[m]), n = 0;
    for (; n < max && px_get(&px.tampered[m]) - before < want; n++) {
        int t0 = px_get(&px.tampered[m]);
        int code = sign_verify(w, key, &si, &st);
        CHECK_EQ(code, 0);
        if (code)
            fprintf(stderr, "%s under %s: %s %s\n", key, px_mode_name[m],
                    code > 0 ? sigil_rpc_status_name(code) : "does not verify", st.detail);
        else if (px_get(&px.tampered[m]) > t0)
            CHECK(si.nsigners == 2 && !has_signer(&si, 3));
    }
    if (px_get(&px.tampered[m]) - before < want)
        fprintf(stderr, "mode %s: tampered %d times in %d requests, want %d\n", px_mode_name[m],
                px_get(&px.tampered[m]) - before, n, want);
    CHECK(px_get(&px.tampered[m]) - before >= want);
}

/* 2 and 1c on the RESULT path: replayed / re-attributed RESULT envelopes. */
static void test_result(void)
{
    sigil_rpc_client *w = client("wallet-alice");
    static const px_mode modes[] = {PX_RESULT_OLD, PX_RESULT_OLD_SID, PX_RESULT_OTHER,
                                    PX_RESULT_FORGED};
    /* the reason the coordinator gives for dropping the quorum */
    static const char *reasons[] = {
        "SIGIL_E_CHECK (node 3: bad RESULT envelope (message belongs to another session)); node 3 blamed",
        "SIGIL_E_CHECK (node 3: bad RESULT envelope (signature invalid)); node 3 blamed",
        "SIGIL_E_CHECK (node 3: bad RESULT envelope (unknown, duplicate or wrong participant)); node 3 blamed",
        "SIGIL_E_CHECK (node 3: bad RESULT envelope (unknown, duplicate or wrong participant)); node 3 blamed"};
    static const char *keys[] = {ED_KEY, EC_KEY};
    for (size_t k = 0; k < 2; k++) {
        for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
            /* ECDSA SIGN has no inbound envelopes to pass off */
            if (k == 1 && modes[i] == PX_RESULT_OTHER)
                continue;
            char what[64];
            snprintf(what, sizeof what, "for key '%s' failed: ", keys[k]);
            int before = coord_log_count(what, reasons[i]);
            /* record an honest RESULT of node 3 first */
            px_set(PX_PASS);
            int rec0 = px_get(&px.recorded[k]);
            for (int j = 0; j < 30 && px_get(&px.recorded[k]) == rec0; j++) {
                sigil_rpc_status st;
                CHECK_EQ(sign_verify(w, keys[k], NULL, &st), 0);
            }
            REQUIRE(px_get(&px.recorded[k]) > rec0);
            px_set(modes[i]);
            sign_through(w, keys[k], modes[i], 2, 30);
            px_set(PX_PASS);
            /* the coordinator said which node and why */
            int after = coord_log_count(what, reasons[i]);
            CHECK(after - before >= 2);
            if (after - before < 2)
                fprintf(stderr, "%s %s: %d new log lines blaming node 3\n", keys[k],
                        px_mode_name[modes[i]], after - before);
        }
    }
    sigil_rpc_client_free(w);
}

/* A node's bad batched commitments at RefillPool (a flipped path, another
 * refill's batch signature): the coordinator refuses that refill, blames
 * node 3 in its log, and keeps signing with the other nodes. */
static void test_refill(void)
{
    sigil_rpc_client *w = client("wallet-alice");
    static const px_mode modes[] = {PX_REFILL_FLIP, PX_REFILL_SPLICE};
    static const char *reasons[] = {"(entry ", "(entry "};
    px_set(PX_PASS);
    for (int j = 0; j < 200 && !px_get(&px.rec_batch); j++) {
        sigil_rpc_status st;
        CHECK_EQ(sign_verify(w, ED_KEY, NULL, &st), 0);
    }
    REQUIRE(px_get(&px.rec_batch));
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        const char *what = "RefillPool for key '" ED_KEY "' refused: node 3 sent a bad COMMITMENT";
        int before = coord_log_count(what, reasons[i]);
        px_set(modes[i]);
        int t0 = px_get(&px.tampered[modes[i]]), n = 0;
        for (; n < 400 && px_get(&px.tampered[modes[i]]) == t0; n++) {
            sigil_rpc_status st;
            int code = sign_verify(w, ED_KEY, NULL, &st);
            CHECK_EQ(code, 0);
            if (code)
                fprintf(stderr, "%s: %s\n", px_mode_name[modes[i]], st.detail);
        }
        CHECK(px_get(&px.tampered[modes[i]]) > t0);
        /* signing still works while node 3's refills are refused */
        for (int j = 0; j < 20; j++) {
            sigil_rpc_status st;
            CHECK_EQ(sign_verify(w, ED_KEY, NULL, &st), 0);
        }
        px_set(PX_PASS);
        int after = coord_log_count(what, reasons[i]);
        CHECK(after > before);
        if (after <= before)
            fprintf(stderr, "%s: no log line blaming node 3 (%d requests)\n", px_mode_name[modes[i]], n);
    }
    sigil_rpc_client_free(w);
}

/* 2 and 1c on the relay path: node 3's PRESIGN round messages. */
static void test_relay(void)
{
    sigil_rpc_client *w = client("wallet-alice");
    static const struct {
        px_mode m;
        const char *reason; /* what the coordinator's abort reason must say */
    } cases[] = {
        {PX_ROUND_OLD, "node 3 sent an envelope with a wrong sender or session"},
        {PX_ROUND_OLD_SID, "node 3 sent an envelope that does not verify: signature invalid"},
        {PX_ROUND_OTHER, "node 3 sent an envelope with a wrong sender or session"},
        {PX_ROUND_OTHER_AS3, "node 3 sent an envelope that does not verify: unknown, duplicate or wrong participant"},
        {PX_ROUND_FORGED, "node 3 sent an envelope with a wrong sender or session"},
        {PX_ROUND_RESEALED, "node 3 sent a round 2 envelope of kind 1 in round 1"},
    };
    sigil_rpc_status st;
    /* make sure an honest round-1 envelope of node 3 is recorded */
    for (int j = 0; j < 40 && !px.rec_round1[0].size; j++)
        CHECK_EQ(sign_verify(w, EC_KEY, NULL, &st), 0);
    REQUIRE(px.rec_round1[0].size > 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        px_mode m = cases[i].m;
        double t0 = now_s();
        px_set(m);
        /* ECDSA requests use up presignatures; the refill of a quorum with
         * node 3 runs a PRESIGN session that node 3 spoils */
        while (px_get(&px.aborts[m]) == 0 && now_s() - t0 < 15.0) {
            sign_info si;
            int code = sign_verify(w, EC_KEY, &si, &st);
            CHECK_EQ(code, 0);
            if (code)
                fprintf(stderr, "ECDSA under %s: %s %s\n", px_mode_name[m],
                        code > 0 ? sigil_rpc_status_name(code) : "does not verify", st.detail);
        }
        px_set(PX_PASS);
        pthread_mutex_lock(&px.mu);
        int ab = px.aborts[m], tp = px.tampered[m];
        char reason[256];
        snprintf(reason, sizeof reason, "%s", px.abort_reason[m]);
        pthread_mutex_unlock(&px.mu);
        CHECK(tp >= 1);
        CHECK(ab >= 1);
        /* the culprit is node 3, not the honest node that received it */
        CHECK(strncmp(reason, cases[i].reason, strlen(cases[i].reason)) == 0);
        if (strncmp(reason, cases[i].reason, strlen(cases[i].reason)))
            fprintf(stderr, "%s: abort reason '%s', want '%s...'\n", px_mode_name[m], reason,
                    cases[i].reason);
        /* the coordinator logs the failed presign with the same reason
         * (after the abort went out) */
        double t1 = now_s();
        while (coord_log_count("presign for key 'hot-ecdsa'", cases[i].reason) < 1 &&
               now_s() - t1 < 3.0)
            usleep(20 * 1000);
        CHECK(coord_log_count("presign for key 'hot-ecdsa'", cases[i].reason) >= 1);
    }
    /* honest again: every quorum signs, nothing corrupted */
    for (int j = 0; j < 6; j++)
        CHECK_EQ(sign_verify(w, EC_KEY, NULL, &st), 0);
    sigil_rpc_client_free(w);
}

/* 2 and 1c through Keygen: node 3 spoils the DKG's round messages. The
 * admin gets ABORTED naming node 3; nothing is registered anywhere (the
 * same key id then generates and signs). */
static void test_keygen(void)
{
    static const struct {
        px_mode m;
        const char *reason;
    } cases[] = {
        {PX_ROUND_OLD_SID, "node 3 sent an envelope that does not verify: signature invalid"},
        {PX_ROUND_OTHER_AS3, "node 3 sent an envelope that does not verify: unknown, duplicate or wrong participant"},
        {PX_ROUND_RESEALED, "node 3 sent a round 2 envelope of kind 1 in round 1"},
    };
    sigil_rpc_client *w = client("wallet-alice");
    sigil_rpc_status st;
    REQUIRE(px.rec_round1[1].size > 0); /* node 3's round 1 of the first DKGs */
    pthread_mutex_lock(&px.mu);
    px.round_kind = SIGIL__V1__SESSION_KIND__SESSION_KIND_DKG;
    pthread_mutex_unlock(&px.mu);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char want[256];
        int ab = px_get(&px.aborts[cases[i].m]);
        px_set(cases[i].m);
        CHECK_EQ(keygen("hot-dkg", SIGIL__V1__SCHEME__SCHEME_ED25519, &st), SIGIL_E_CHECK);
        px_set(PX_PASS);
        CHECK_EQ(st.code, GRPC_STATUS_ABORTED);
        snprintf(want, sizeof want, "key generation failed: %s", cases[i].reason);
        CHECK(strstr(st.detail, want) != NULL);
        if (!strstr(st.detail, want))
            fprintf(stderr, "keygen under %s: %s '%s', want '%s'\n", px_mode_name[cases[i].m],
                    sigil_rpc_status_name(st.code), st.detail, want);
        /* every node was told to drop the session */
        CHECK_EQ(px_get(&px.aborts[cases[i].m]), ab + 1);
    }
    pthread_mutex_lock(&px.mu);
    px.round_kind = SIGIL__V1__SESSION_KIND__SESSION_KIND_PRESIGN;
    pthread_mutex_unlock(&px.mu);
    /* nothing was registered: the same id generates now, and signs */
    CHECK_EQ(keygen("hot-dkg", SIGIL__V1__SCHEME__SCHEME_ED25519, &st), SIGIL_OK);
    if (st.code)
        fprintf(stderr, "keygen after the attacks: %s %s\n", sigil_rpc_status_name(st.code), st.detail);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(sign_verify(w, "hot-dkg", NULL, &st), 0);
    sigil_rpc_client_free(w);
}

/* An impostor at node 3's address. Key generation needs every node, so
 * Keygen shows what the coordinator makes of "node 3": it must fail with
 * UNAVAILABLE naming node 3 and the handshake refusal `mark` (the first
 * attempts may still report the moment the address had nobody); while
 * the impostor stays, every Sign is done by {1,2} and Health reports node
 * 3 failing; not one request reaches the impostor. */
static void impostor(sigil_rpc_client *w, const char *pki, const char *who, const char *mark)
{
    sigil_rpc_status st;
    sign_info si;
    int seen_failing = 0, refused = 0;
    char last[320] = "";
    px_stop();
    atomic_store(&px.calls, 0);
    px_start(pki, who, 0);
    double t0 = now_s();
    while (!refused && now_s() - t0 < 10.0) {
        int rc = keygen("hot-imp", SIGIL__V1__SCHEME__SCHEME_ED25519, &st);
        CHECK(rc != SIGIL_OK);
        if (rc == SIGIL_OK)
            break;
        snprintf(last, sizeof last, "%s %s", sigil_rpc_status_name(st.code), st.detail);
        refused = st.code == GRPC_STATUS_UNAVAILABLE &&
                  strstr(st.detail, "key generation failed: node 3: UNAVAILABLE") &&
                  strstr(st.detail, mark);
        if (!refused)
            usleep(100 * 1000);
    }
    CHECK(refused);
    if (!refused)
        fprintf(stderr, "impostor %s/%s: Keygen said '%s', want UNAVAILABLE naming node 3 and '%s'\n",
                pki, who, last, mark);
    t0 = now_s();
    for (int i = 0; i < 100 && (i < 8 || !seen_failing) && now_s() - t0 < 8.0; i++) {
        int code = sign_verify(w, ED_KEY, &si, &st);
        CHECK_EQ(code, 0);
        if (code)
            fprintf(stderr, "Ed25519 with node 3 impersonated: %s %s\n",
                    code > 0 ? sigil_rpc_status_name(code) : "does not verify", st.detail);
        else
            CHECK(!has_signer(&si, 3));
        code = sign_verify(w, EC_KEY, &si, &st);
        CHECK_EQ(code, 0);
        if (code)
            fprintf(stderr, "ECDSA with node 3 impersonated: %s %s\n",
                    code > 0 ? sigil_rpc_status_name(code) : "does not verify", st.detail);
        else
            CHECK(!has_signer(&si, 3));
        seen_failing |= health_node(3) == 0;
    }
    CHECK(seen_failing);
    CHECK_EQ(health_node(1), 1);
    CHECK_EQ(health_node(2), 1);
    CHECK_EQ(atomic_load(&px.calls), 0);
}

/* 1a: node 2's valid certificate at node 3's address; then node 3 itself
 * again (the control: the coordinator does come back to that address and
 * node 3 signs again). */
static void test_impersonate(void)
{
    sigil_rpc_client *w = client("wallet-alice");
    sigil_rpc_status st;
    sign_info si;
    /* the refusal comes from sigil_rpc's verify_server (the SAN is not the
     * configured sigil://node/3), as gRPC reports it */
    impostor(w, "pki", "node-2", "Verify peer callback returned a failure");
    px_stop();
    px_start("pki", "node-3", 1);
    double t0 = now_s();
    int with3 = 0;
    while (!with3 && now_s() - t0 < 20.0) {
        int code = sign_verify(w, ED_KEY, &si, &st);
        CHECK_EQ(code, 0);
        with3 = code == 0 && has_signer(&si, 3);
        if (!with3)
            usleep(50 * 1000);
    }
    CHECK(with3);
    CHECK(atomic_load(&px.calls) > 0);
    /* nothing was registered while node 3 was impersonated: the same id
     * generates now, and signs */
    CHECK_EQ(keygen("hot-imp", SIGIL__V1__SCHEME__SCHEME_ED25519, &st), SIGIL_OK);
    CHECK_EQ(sign_verify(w, "hot-imp", NULL, &st), 0);
    fprintf(stderr, "adversary: node 3 signs again %.1f s after the impostor left\n",
            now_s() - t0);
    px_stop();
    sigil_rpc_client_free(w);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    if (getenv("SIGIL_BIN"))
        bindir = getenv("SIGIL_BIN");
    REQUIRE(sodium_init() >= 0);
    secp = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    pthread_mutex_init(&px.mu, NULL);
    sigil_buf_init(&px.rec_result[0], PX_MAX, 0);
    sigil_buf_init(&px.rec_result[1], PX_MAX, 0);
    sigil_buf_init(&px.rec_round1[0], PX_MAX, 0);
    sigil_buf_init(&px.rec_round1[1], PX_MAX, 0);
    px.round_kind = SIGIL__V1__SESSION_KIND__SESSION_KIND_PRESIGN;
    double t0 = now_s();

    cluster_up();
    sigil_rpc_status kst;
    if (keygen(ED_KEY, SIGIL__V1__SCHEME__SCHEME_ED25519, &kst) ||
        keygen(EC_KEY, SIGIL__V1__SCHEME__SCHEME_ECDSA_SECP256K1, &kst)) {
        fprintf(stderr, "keygen: %s %s\n", sigil_rpc_status_name(kst.code), kst.detail);
        REQUIRE(0);
    }
    fprintf(stderr, "adversary: cluster and keys ready after %.1f s\n", now_s() - t0);

    test_nodecert();
    fprintf(stderr, "adversary: nodecert done at %.1f s\n", now_s() - t0);
    test_result();
    fprintf(stderr, "adversary: result done at %.1f s\n", now_s() - t0);
    test_refill();
    fprintf(stderr, "adversary: refill done at %.1f s\n", now_s() - t0);
    test_relay();
    fprintf(stderr, "adversary: relay done at %.1f s\n", now_s() - t0);
    test_keygen();
    fprintf(stderr, "adversary: keygen done at %.1f s\n", now_s() - t0);
    test_impersonate();
    fprintf(stderr, "adversary: impersonate done at %.1f s\n", now_s() - t0);

    /* none lost: every request was answered with a verified signature */
    CHECK_EQ(requests_ok, requests_sent);
    fprintf(stderr, "adversary: %d requests, %d signed and verified\n", requests_sent, requests_ok);
    for (int m = 1; m < PX_NMODES; m++)
        fprintf(stderr, "adversary: mode %-16s tampered %d, sessions aborted %d%s%s\n",
                px_mode_name[m], px.tampered[m], px.aborts[m], px.aborts[m] ? ": " : "",
                px.abort_reason[m]);

    /* stopped: the central log and every node's log verify offline */
    CHECK(sh("'%s/cluster' down '%s'", scripts, dir) == 0);
    CHECK(sh("grep -q 'shutting down' '%s/coord/log'", dir) == 0);
    CHECK(sh("'%s/sigil-audit' verify --log '%s/coord/audit' --key '%s/coord/audit.pub' >&2",
             bindir, dir, dir) == 0);
    for (int i = 1; i <= 3; i++)
        CHECK(sh("'%s/sigil-audit' vkey --name sigil-node/%d/demo --pubkey "
                 "$(sed -n 's/^node.%d = //p' '%s/node1/node.conf') > '%s/node%d.vkey' && "
                 "'%s/sigil-audit' verify --log '%s/node%d/state/audit' --key '%s/node%d.vkey' >&2",
                 bindir, i, i, dir, dir, i, bindir, dir, i, dir, i) == 0);
    sigil_env_key_free(px.forged);
    sigil_env_key_free(px.own);
    sigil_env_peers_free(px.peers3);
    sigil_rpc_client_free(px.up);
    sigil_rpc_authz_free(px.authz);
    for (int i = 0; i < 2; i++)
        sigil_buf_free(&px.rec_result[i]);
    sigil_buf_free(&px.rec_round1[0]);
    sigil_buf_free(&px.rec_round1[1]);
    secp256k1_context_destroy(secp);
    if (!getenv("SIGIL_KEEP") && check_fail_ == 0)
        sh("rm -rf '%s'", dir);
    else
        fprintf(stderr, "kept %s\n", dir);
    fprintf(stderr, "adversary: %.1f s in all\n", now_s() - t0);
    return check_done();
}
