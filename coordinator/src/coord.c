/* sigil-coordinator: the wallet and admin APIs, key generation, signing
 * from the nodes' pools, the circuit breaker.
 *
 * Trust: the coordinator holds no secret except its TLS key. It relays the
 * nodes' envelopes, opens only the ones addressed to it (RESULT and
 * COMMITMENT, signed by the node's envelope key certified by the node's HSM
 * identity key; never encrypted to the coordinator), aggregates with mpc/'s
 * public-data functions and verifies every signature against the group key
 * before it is released. */
#define _GNU_SOURCE /* pthread_rwlockattr_setkind_np: writer-preferring audit lock */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "coord_int.h"
#include "sigil/audit.h"
#include "sigil/audit_hsm.h"
#include "sigil/breaker.h"
#include "sigil/ecdsa.h"
#include "sigil/envelope.h"
#include "sigil/err.h"
#include "sigil/file.h"
#include "sigil/frost.h"
#include "sigil/group.h"
#include "sigil/hsm.h"
#include "sigil/v1/admin.pb-c.h"
#include "sigil/v1/wallet.pb-c.h"

#define ADMIN_KEYGEN "/sigil.v1.Admin/Keygen"
#define RESP_MAX ((size_t)8 << 20)
#define MAX_MESSAGE_ITEM (64u * 1024u)
#define POOL_COMMIT_MAX 128

/* ---- per-key runtime: the public package and the FROST pools ---- */

typedef struct {
    uint64_t entry_id;
    Sigil__V1__Envelope *env;              /* the node's signed COMMITMENT envelope */
    uint8_t commitment[POOL_COMMIT_MAX];   /* its opened body's commitment */
    size_t clen;
} pool_entry;

typedef struct {
    pool_entry *e;                         /* ring */
    size_t cap, head, count;
    int refilling;
} pool;

/* ECDSA: presignatures belong to a fixed signer set; one pool per set. */
#define MAX_QUORUMS 64
/* Presignatures per PRESIGN session: the node's round-2 envelope carries
 * every presignature's OT messages and is bounded (sigil-node refuses
 * about 20+ per session with RESOURCE_EXHAUSTED), so larger pools are made
 * by several sessions. */
#define PRESIGN_BATCH 16
typedef struct {
    uint64_t ids[SIGIL_COORD_MAX_NODES]; /* per signer of the set, in set order */
} presig_tuple;

typedef struct {
    size_t pidx[SIGIL_COORD_MAX_NODES];  /* indexes into the key's parties, ascending */
    presig_tuple *e;                     /* ring */
    size_t cap, head, count;
} presig_pool;

typedef struct {
    sigil_coord_key info;
    sigil_keyshare pub;                    /* public package (secret NULL) */
    int frost_suite;                       /* 0 for ECDSA */
    pthread_mutex_t mu;
    pool pools[SIGIL_COORD_MAX_NODES];     /* FROST, indexed like info.parties */
    presig_pool qpools[MAX_QUORUMS];       /* ECDSA, one per t-subset */
    size_t nq;
    /* coalescing of concurrent Sign requests (see sign_coalesced) */
    pthread_mutex_t bmu;
    struct sign_req *bhead, *btail;
    size_t bqueued;                        /* items in the queue (cfg->queue_max) */
    unsigned leaders;
    unsigned rr;                           /* round-robin quorum start */
    atomic_uint_fast64_t last_sign_ms;     /* ECDSA: when a Sign last took presignatures */
} key_rt;

struct sigil_coord {
    const sigil_coord_config *cfg;
    sigil_rpc_authz *authz;
    sigil_rpc_server *server;
    coord_node nodes[SIGIL_COORD_MAX_NODES];
    sigil_env_peers *peers;
    pthread_mutex_t peers_mu;
    sigil_coord_registry *registry;
    sigil_coord_idem *idem;
    char breaker_path[SIGIL_COORD_PATH_MAX + 32];
    char nonces_path[SIGIL_COORD_PATH_MAX + 32];
    pthread_mutex_t breaker_mu;            /* serializes Halt / Resume and the file */
    sigil_coord_breaker_state breaker;
    atomic_int halted;                     /* read on every Sign, lock-free */
    atomic_uint_fast64_t shed, expired;    /* Signs refused: queue full / deadline passed queued */
    sigil_breaker_nonces *nonces;
    sigil_breaker_officer officers[SIGIL_COORD_MAX_OFFICERS];

    pthread_rwlock_t keys_mu;              /* protects the keys array */
    key_rt **keys;
    size_t nkeys, keys_alloc;
    key_rt **replaced;                     /* runtimes replaced by refresh / retire (lifecycle.c), */
    size_t nreplaced;                      /* kept until exit: handlers may hold them */

    sigil_hsm *hsm;                        /* the coordinator's token: audit log key only */
    sigil_audit_signer signer;
    int signer_set;
    /* The audit log. cfg->audit says whether it is configured; audit is NULL
     * only while a reopen after a failure has not succeeded. Appenders hold
     * audit_mu shared, the recovery thread (audit_watch_main) holds it
     * exclusive to close and reopen the log. */
    sigil_audit_log *audit;
    sigil_audit_config audit_cfg;          /* kept for reopening */
    pthread_rwlock_t audit_mu;
    pthread_t audit_watch;
    int audit_watch_started;
    pthread_mutex_t audit_wmu;             /* audit_wcv, audit_stop, audit_kick */
    pthread_cond_t audit_wcv;
    int audit_stop, audit_kick;
    atomic_int audit_down;                 /* failure reported, no append since */

    pthread_t filler;
    int filler_started;
    pthread_mutex_t fill_mu;
    pthread_cond_t fill_cv;
    int stop;
};

/* ---- helpers ---- */

static uint64_t unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static coord_node *node_by_id(sigil_coord *c, uint32_t id)
{
    for (size_t i = 0; i < c->cfg->num_nodes; i++)
        if (c->nodes[i].cfg->id == id)
            return &c->nodes[i];
    return NULL;
}

int coord_detail(sigil_rpc_call *call, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(call->detail, sizeof call->detail, fmt, ap);
    va_end(ap);
    return rc;
}

static int halted_detail(sigil_coord *c, sigil_rpc_call *call)
{
    pthread_mutex_lock(&c->breaker_mu);
    snprintf(call->detail, sizeof call->detail,
             "signing halted by %.60s (epoch %" PRIu64 "): %.100s; resume needs %u officer approvals",
             c->breaker.by[0] ? c->breaker.by : "an officer", c->breaker.epoch,
             c->breaker.reason[0] ? c->breaker.reason : "no reason given",
             c->cfg->approvals_required);
    pthread_mutex_unlock(&c->breaker_mu);
    return SIGIL_E_HALTED;
}

/* The identity key of node id, for opening its envelopes: from the config,
 * or learned once from Node/Status over mTLS pinned to the node's SAN. */
static int ensure_peer(sigil_coord *c, coord_node *n)
{
    static const uint8_t zero[32];
    Sigil__V1__NodeStatusRequest req = SIGIL__V1__NODE_STATUS_REQUEST__INIT;
    ProtobufCMessage *m = NULL;
    sigil_rpc_status st;
    int rc;
    uint8_t pk[32];

    if (n->cfg->has_identity_pk || atomic_load(&n->peer_known))
        return SIGIL_OK;
    rc = sigil_rpc_call_msg(n->client, SIGIL_RPC_NODE_STATUS, &req.base,
                            &sigil__v1__node_status_response__descriptor, &m,
                            c->cfg->node_timeout_ms, &st);
    if (rc)
        return rc;
    Sigil__V1__NodeStatusResponse *r = (Sigil__V1__NodeStatusResponse *)m;
    if (r->identity_public_key.len != 32 || r->node_id != n->cfg->id ||
        sigil_memeq(r->identity_public_key.data, zero, 32)) {
        sigil_rpc_msg_free(m);
        return SIGIL_E_ENCODING;
    }
    memcpy(pk, r->identity_public_key.data, 32);
    sigil_rpc_msg_free(m);
    pthread_mutex_lock(&c->peers_mu);
    rc = sigil_env_peers_add(c->peers, n->cfg->id, pk);
    pthread_mutex_unlock(&c->peers_mu);
    if (rc == SIGIL_E_EXISTS)
        rc = SIGIL_OK; /* learned by another thread; the first key stays */
    if (rc == SIGIL_OK)
        atomic_store(&n->peer_known, 1);
    return rc;
}

/* Open an envelope addressed to the coordinator (RESULT / COMMITMENT). */
static int open_env(sigil_coord *c, const Sigil__V1__Envelope *e, uint32_t want_from,
                    uint32_t want_kind, const uint8_t *sid, sigil_buf *body)
{
    sigil_env_header h;
    if (!e || e->from != want_from || e->kind != want_kind || e->to != 0)
        return SIGIL_E_PARTICIPANT;
    if (sid && (e->session_id.len != 32 || memcmp(e->session_id.data, sid, 32)))
        return SIGIL_E_SESSION;
    h.session_id = e->session_id.len ? e->session_id.data : NULL;
    h.session_id_len = e->session_id.len;
    h.round = e->round;
    h.from = e->from;
    h.to = e->to;
    h.kind = e->kind;
    return sigil_env_open(c->peers, NULL, &h, e->payload.data, e->payload.len, body, NULL);
}

/* Why a signer's final answer carries no usable RESULT (for the reason
 * given when a quorum is abandoned): the envelope's own error, or the
 * body's. */
static const char *result_problem(sigil_coord *c, const Sigil__V1__SessionResponse *f,
                                  uint32_t party, const uint8_t *sid)
{
    sigil_buf b;
    int rc;
    if (f->n_results != 1)
        return "not exactly one result";
    if (sigil_buf_init(&b, RESP_MAX, 0))
        return "out of memory";
    rc = open_env(c, f->results[0], party, SIGIL_ENV_RESULT, sid, &b);
    sigil_buf_free(&b);
    return rc ? sigil_strerror(rc) : "body does not decode, or is for another key or item count";
}

/* ---- keys ---- */

static void key_rt_free(key_rt *k)
{
    if (!k)
        return;
    for (size_t i = 0; i < SIGIL_COORD_MAX_NODES; i++) {
        pool *p = &k->pools[i];
        for (size_t j = 0; j < p->count; j++)
            sigil_rpc_msg_free(&p->e[(p->head + j) % p->cap].env->base);
        free(p->e);
    }
    for (size_t i = 0; i < k->nq; i++)
        free(k->qpools[i].e);
    sigil_keyshare_free(&k->pub);
    pthread_mutex_destroy(&k->bmu);
    pthread_mutex_destroy(&k->mu);
    free(k);
}

static int key_rt_new(sigil_coord *c, const sigil_coord_key *info, key_rt **out)
{
    key_rt *k = calloc(1, sizeof *k);
    sigil_buf b;
    int rc;
    if (!k)
        return SIGIL_E_NOMEM;
    k->info = *info;
    pthread_mutex_init(&k->mu, NULL);
    pthread_mutex_init(&k->bmu, NULL);
    sigil_buf_view(&b, info->package, info->package_len);
    rc = sigil_keyshare_parse(&b, &k->pub);
    if (rc == SIGIL_OK && info->scheme != SIGIL__V1__SCHEME__SCHEME_ECDSA_SECP256K1) {
        k->frost_suite = info->scheme; /* 1..3 equal sigil_frost_suite */
        /* the package's group key is the registered public key: the
         * aggregation's own verification (against the package's key) is
         * then a verification against the key the wallet is given */
        uint8_t pk[SIGIL_FROST_PK_MAX];
        if (sigil_frost_public_key((sigil_frost_suite)k->frost_suite, &k->pub, pk) != SIGIL_OK ||
            info->pk_len != sigil_frost_pk_len((sigil_frost_suite)k->frost_suite) ||
            memcmp(pk, info->public_key, info->pk_len) != 0)
            rc = SIGIL_E_MISMATCH;
    }
    for (size_t i = 0; rc == SIGIL_OK && i < info->num_parties; i++) {
        k->pools[i].cap = c->cfg->pool_frost_target * 2 + c->cfg->max_batch;
        if (!k->frost_suite)
            continue;
        k->pools[i].e = calloc(k->pools[i].cap, sizeof(pool_entry));
        if (!k->pools[i].e)
            rc = SIGIL_E_NOMEM;
    }
    if (rc == SIGIL_OK && !k->frost_suite) {
        /* every t-subset of the parties (in lexicographic order) */
        size_t n = info->num_parties, t = info->threshold, idx[SIGIL_COORD_MAX_NODES];
        for (size_t i = 0; i < t; i++)
            idx[i] = i;
        while (rc == SIGIL_OK && k->nq < MAX_QUORUMS) {
            presig_pool *q = &k->qpools[k->nq++];
            memcpy(q->pidx, idx, t * sizeof *idx);
            q->cap = c->cfg->pool_ecdsa_target * 2 + c->cfg->max_batch;
            if (!(q->e = calloc(q->cap, sizeof *q->e)))
                rc = SIGIL_E_NOMEM;
            size_t i = t;
            while (i > 0 && idx[i - 1] == n - t + i - 1)
                i--;
            if (i == 0)
                break;
            idx[i - 1]++;
            for (size_t j = i; j < t; j++)
                idx[j] = idx[j - 1] + 1;
        }
    }
    if (rc) {
        key_rt_free(k);
        return rc;
    }
    *out = k;
    return SIGIL_OK;
}

static int keys_add(sigil_coord *c, key_rt *k)
{
    pthread_rwlock_wrlock(&c->keys_mu);
    if (c->nkeys == c->keys_alloc) {
        size_t n = c->keys_alloc ? 2 * c->keys_alloc : 16;
        key_rt **p = realloc(c->keys, n * sizeof *p);
        if (!p) {
            pthread_rwlock_unlock(&c->keys_mu);
            return SIGIL_E_NOMEM;
        }
        c->keys = p;
        c->keys_alloc = n;
    }
    c->keys[c->nkeys++] = k;
    pthread_rwlock_unlock(&c->keys_mu);
    return SIGIL_OK;
}

/* Key runtimes are never removed while the coordinator runs, so a pointer
 * stays valid after the lock is released. */
static key_rt *keys_find(sigil_coord *c, const char *key_id)
{
    key_rt *k = NULL;
    pthread_rwlock_rdlock(&c->keys_mu);
    for (size_t i = 0; i < c->nkeys; i++)
        if (!strcmp(c->keys[i]->info.key_id, key_id)) {
            k = c->keys[i];
            break;
        }
    pthread_rwlock_unlock(&c->keys_mu);
    return k;
}

/* ---- FROST pools ---- */

/* Ask node (index pi in the key's parties) for up to count commitments and
 * add the ones that open and match to its pool. */
static int pool_refill(sigil_coord *c, key_rt *k, size_t pi, uint32_t count)
{
    coord_node *n = node_by_id(c, k->info.parties[pi]);
    Sigil__V1__RefillPoolRequest req = SIGIL__V1__REFILL_POOL_REQUEST__INIT;
    ProtobufCMessage *m = NULL;
    sigil_rpc_status st;
    sigil_buf body;
    int rc;

    if (!n)
        return SIGIL_E_UNAVAILABLE;
    if ((rc = ensure_peer(c, n)))
        return rc;
    req.key_id = k->info.key_id;
    req.scheme = (Sigil__V1__Scheme)k->info.scheme;
    req.count = count;
    rc = sigil_rpc_call_msg(n->client, SIGIL_RPC_NODE_REFILL_POOL, &req.base,
                            &sigil__v1__refill_pool_response__descriptor, &m,
                            c->cfg->node_timeout_ms, &st);
    if (rc) {
        if (rc == SIGIL_E_TIMEOUT || rc == SIGIL_E_UNAVAILABLE)
            coord_node_failed(n);
        return rc;
    }
    coord_node_ok(n);
    Sigil__V1__RefillPoolResponse *r = (Sigil__V1__RefillPoolResponse *)m;
    sigil_buf_init(&body, 4096, 0);
    for (size_t i = 0; i < r->n_entries; i++) {
        Sigil__V1__PoolEntry *pe = r->entries[i];
        sigil_env_commitment cm;
        ProtobufCMessage *copy = NULL;
        int orc = SIGIL_E_ENCODING;
        sigil_buf_reset(&body);
        /* the batch signature of a refill is verified once (the envelope
         * library caches it), each entry's inclusion path every time */
        if (!pe || !pe->commitment ||
            (orc = open_env(c, pe->commitment, n->cfg->id, SIGIL_ENV_COMMITMENT, NULL, &body)) ||
            (orc = sigil_env_commitment_decode(&cm, body.data, body.size)) ||
            cm.scheme != k->info.scheme || strcmp(cm.key_id, k->info.key_id) ||
            cm.entry_id != pe->entry_id || cm.commitment_len > POOL_COMMIT_MAX ||
            pe->commitment->session_id.len != 0) {
            /* a node sending bad commitments: refuse them all, and say whose */
            fprintf(stderr, "sigil-coordinator: RefillPool for key '%s' refused: node %u sent a bad "
                    "COMMITMENT envelope (entry %zu: %s); node %u blamed\n", k->info.key_id,
                    n->cfg->id, i, orc ? sigil_strerror(orc) : "wrong key, entry id or header",
                    n->cfg->id);
            rc = SIGIL_E_CHECK;
            break;
        }
        /* the pool takes the decoded envelope itself (protobuf-c allocates
         * each sub-message on its own; the response is freed without it) */
        copy = &pe->commitment->base;
        pe->commitment = NULL;
        pthread_mutex_lock(&k->mu);
        pool *p = &k->pools[pi];
        if (p->count < p->cap) {
            pool_entry *e = &p->e[(p->head + p->count) % p->cap];
            e->entry_id = pe->entry_id;
            e->env = (Sigil__V1__Envelope *)copy;
            memcpy(e->commitment, cm.commitment, cm.commitment_len);
            e->clen = cm.commitment_len;
            p->count++;
            copy = NULL;
        }
        pthread_mutex_unlock(&k->mu);
        if (copy)
            sigil_rpc_msg_free(copy);
    }
    sigil_buf_free(&body);
    sigil_rpc_msg_free(m);
    return rc;
}

/* Forget a node's pool for a key: after the node failed a session its
 * entries may be stale (a restarted node has lost its nonces). */
static void pool_flush(key_rt *k, size_t pi)
{
    pthread_mutex_lock(&k->mu);
    pool *p = &k->pools[pi];
    for (size_t j = 0; j < p->count; j++)
        sigil_rpc_msg_free(&p->e[(p->head + j) % p->cap].env->base);
    p->head = p->count = 0;
    pthread_mutex_unlock(&k->mu);
}

static size_t pool_count(key_rt *k, size_t pi)
{
    pthread_mutex_lock(&k->mu);
    size_t n = k->pools[pi].count;
    pthread_mutex_unlock(&k->mu);
    return n;
}


/* ---- ECDSA presignature pools ---- */

static void qpool_flush_party(key_rt *k, uint32_t party)
{
    pthread_mutex_lock(&k->mu);
    for (size_t qi = 0; qi < k->nq; qi++)
        for (size_t i = 0; i < k->info.threshold; i++)
            if (k->info.parties[k->qpools[qi].pidx[i]] == party)
                k->qpools[qi].head = k->qpools[qi].count = 0;
    pthread_mutex_unlock(&k->mu);
}

static size_t qpool_count(key_rt *k, size_t qi)
{
    pthread_mutex_lock(&k->mu);
    size_t n = k->qpools[qi].count;
    pthread_mutex_unlock(&k->mu);
    return n;
}

static int quorum_usable(sigil_coord *c, key_rt *k, size_t qi, const int *excluded, int probe)
{
    for (size_t i = 0; i < k->info.threshold; i++) {
        size_t pi = k->qpools[qi].pidx[i];
        coord_node *n = node_by_id(c, k->info.parties[pi]);
        if (!n || (excluded && excluded[pi]) || (!probe && !coord_node_healthy(n)))
            return 0;
    }
    return 1;
}

/* One PRESIGN session on quorum qi making up to count presignatures. */
static int presign_run(sigil_coord *c, key_rt *k, size_t qi, uint32_t count, uint32_t *blame)
{
    presig_pool *qp = &k->qpools[qi];
    size_t t = k->info.threshold;
    coord_session s;
    uint32_t parties[SIGIL_COORD_MAX_NODES], cnt[SIGIL_COORD_MAX_NODES] = {0};
    uint64_t *ids[SIGIL_COORD_MAX_NODES] = {0};
    sigil_buf starts[SIGIL_COORD_MAX_NODES], body;
    int rc = SIGIL_OK;

    memset(&s, 0, sizeof s);
    *blame = 0;
    s.count = t;
    randombytes_buf(s.session_id, 32);
    for (size_t i = 0; i < t; i++) {
        parties[i] = k->info.parties[qp->pidx[i]];
        s.nodes[i] = node_by_id(c, parties[i]);
        if (rc == SIGIL_OK)
            rc = ensure_peer(c, s.nodes[i]);
    }
    for (size_t i = 0; i < t; i++) {
        Sigil__V1__StartSessionRequest r = SIGIL__V1__START_SESSION_REQUEST__INIT;
        sigil_buf_init(&starts[i], 65536, 0);
        r.session_id.data = s.session_id;
        r.session_id.len = 32;
        r.kind = SIGIL__V1__SESSION_KIND__SESSION_KIND_PRESIGN;
        r.key_id = k->info.key_id;
        r.scheme = (Sigil__V1__Scheme)k->info.scheme;
        r.threshold = k->info.threshold;
        r.num_parties = k->info.num_parties;
        r.parties = parties;
        r.n_parties = t;
        r.count = count;
        if (rc == SIGIL_OK)
            rc = sigil_rpc_pack(&r.base, &starts[i]);
    }
    if (rc == SIGIL_OK && (rc = coord_session_run(&s, starts, c->cfg->keygen_timeout_ms, 8))) {
        *blame = s.failed_party;
        fprintf(stderr, "sigil-coordinator: presign for key '%s' failed: %s (%s)\n",
                k->info.key_id, sigil_errname(rc), s.detail);
    }
    sigil_buf_init(&body, RESP_MAX, 0);
    for (size_t i = 0; rc == SIGIL_OK && i < t; i++) {
        char kid[SIGIL_ENV_KEY_ID_MAX + 1];
        Sigil__V1__SessionResponse *f = s.final[i];
        sigil_buf_reset(&body);
        body.size = body.off = 0;
        if (f->n_results != 1 ||
            open_env(c, f->results[0], parties[i], SIGIL_ENV_RESULT, s.session_id, &body) ||
            sigil_env_presign_result_decode(body.data, body.size, kid, &ids[i], &cnt[i]) ||
            strcmp(kid, k->info.key_id) || cnt[i] != cnt[0] || cnt[i] > count) {
            rc = SIGIL_E_CHECK;
            *blame = parties[i];
        }
    }
    if (rc == SIGIL_OK) {
        pthread_mutex_lock(&k->mu);
        for (uint32_t j = 0; j < cnt[0] && qp->count < qp->cap; j++) {
            presig_tuple *e = &qp->e[(qp->head + qp->count) % qp->cap];
            for (size_t i = 0; i < t; i++)
                e->ids[i] = ids[i][j];
            qp->count++;
        }
        pthread_mutex_unlock(&k->mu);
    }
    for (size_t i = 0; i < t; i++) {
        free(ids[i]);
        sigil_buf_free(&starts[i]);
    }
    sigil_buf_free(&body);
    coord_session_clear(&s);
    return rc;
}

/* The presignature pool is a burst buffer: presigning (OT extension and
 * multiplication, by far the most expensive step of ECDSA) competes with
 * the Signs for the CPU of nodes and coordinator, so while Signs are drawing
 * on the pool (running or queued for the key, or one finished less than
 * PRESIGN_IDLE_MS ago) it is refilled only once it runs low (a quarter of
 * the target), and up to the full target when signing pauses. */
#define PRESIGN_IDLE_MS 100

typedef struct {
    sigil_coord *c;
    key_rt *k;
    size_t qi;
    uint32_t want;
} presign_job;

static void *presign_job_main(void *arg)
{
    presign_job *j = arg;
    uint32_t blame = 0;
    if (presign_run(j->c, j->k, j->qi, j->want, &blame) && blame)
        qpool_flush_party(j->k, blame);
    return NULL;
}

/* One PRESIGN session for every quorum that needs presignatures, run at
 * the same time (a session spends much of its time in round trips and in
 * the other nodes, so sessions on different signer sets overlap). */
static void fill_ecdsa(sigil_coord *c, key_rt *k)
{
    size_t target = c->cfg->pool_ecdsa_target, nj = 0;
    presign_job jobs[MAX_QUORUMS];
    pthread_t th[MAX_QUORUMS];
    int started[MAX_QUORUMS];
    pthread_mutex_lock(&k->bmu);
    int busy = k->leaders > 0 || k->bhead != NULL; /* Signs running or queued */
    pthread_mutex_unlock(&k->bmu);
    busy = busy || coord_now_ms() - atomic_load(&k->last_sign_ms) < PRESIGN_IDLE_MS;
    for (size_t qi = 0; qi < k->nq && !atomic_load(&c->halted); qi++) {
        size_t have = qpool_count(k, qi);
        if (have >= target || !quorum_usable(c, k, qi, NULL, 0))
            continue;
        if (busy && have >= target / 4)
            continue;
        uint32_t want = (uint32_t)(target - have);
        if (want > PRESIGN_BATCH)
            want = PRESIGN_BATCH;
        jobs[nj++] = (presign_job){c, k, qi, want};
    }
    for (size_t j = 1; j < nj; j++)
        started[j] = pthread_create(&th[j], NULL, presign_job_main, &jobs[j]) == 0;
    if (nj)
        presign_job_main(&jobs[0]);
    for (size_t j = 1; j < nj; j++) {
        if (started[j])
            pthread_join(th[j], NULL);
        else
            presign_job_main(&jobs[j]); /* no thread: in this one */
    }
}

static void *filler_main(void *arg)
{
    sigil_coord *c = arg;
    pthread_mutex_lock(&c->fill_mu);
    while (!c->stop) {
        pthread_mutex_unlock(&c->fill_mu);
        size_t nk;
        pthread_rwlock_rdlock(&c->keys_mu);
        nk = c->nkeys;
        pthread_rwlock_unlock(&c->keys_mu);
        for (size_t ki = 0; ki < nk && !atomic_load(&c->halted); ki++) {
            key_rt *k;
            pthread_rwlock_rdlock(&c->keys_mu);
            k = c->keys[ki];
            pthread_rwlock_unlock(&c->keys_mu);
            if (k->info.state != SIGIL__V1__KEY_STATE__KEY_STATE_ACTIVE)
                continue;
            if (!k->frost_suite) {
                fill_ecdsa(c, k);
                continue;
            }
            for (size_t pi = 0; pi < k->info.num_parties; pi++) {
                size_t have = pool_count(k, pi), target = c->cfg->pool_frost_target;
                if (have < target / 2 + 1 && target > have)
                    (void)pool_refill(c, k, pi, (uint32_t)(target - have));
            }
        }
        pthread_mutex_lock(&c->fill_mu);
        if (c->stop)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&c->fill_cv, &c->fill_mu, &ts);
    }
    pthread_mutex_unlock(&c->fill_mu);
    return NULL;
}

static void filler_kick(sigil_coord *c)
{
    pthread_mutex_lock(&c->fill_mu);
    pthread_cond_signal(&c->fill_cv);
    pthread_mutex_unlock(&c->fill_mu);
}

/* ---- signing ---- */

typedef struct {
    const uint8_t *data;  /* digest or message */
    size_t len;
} sign_item;

typedef struct {
    uint8_t (*sigs)[65];
    int *recids;                           /* ECDSA */
    size_t siglen;
    uint32_t signers[SIGIL_COORD_MAX_NODES];
    size_t nsigners;
} sign_out;

/* Pick a quorum of t parties (indexes into the key's parties) that are
 * healthy and, for FROST, hold at least m pool entries (refilling
 * synchronously when too few have them). */
static int pick_quorum(sigil_coord *c, key_rt *k, size_t m, const int *excluded, size_t *q,
                       int probe)
{
    size_t n = k->info.num_parties, t = k->info.threshold, got = 0;
    unsigned start = __atomic_fetch_add(&k->rr, 1, __ATOMIC_RELAXED);
    for (int pass = 0; pass < 2 && got < t; pass++) {
        got = 0;
        for (size_t j = 0; j < n && got < t; j++) {
            size_t pi = (start + j) % n;
            coord_node *nd = node_by_id(c, k->info.parties[pi]);
            if (excluded[pi] || !nd || (!probe && !coord_node_healthy(nd)))
                continue;
            if (pool_count(k, pi) < m) {
                if (pass == 0)
                    continue;
                uint32_t want = (uint32_t)(m + c->cfg->pool_frost_target / 4);
                if (pool_refill(c, k, pi, want) || pool_count(k, pi) < m)
                    continue;
            }
            q[got++] = pi;
        }
    }
    if (got < t)
        return SIGIL_E_UNAVAILABLE;
    /* ascending party ids */
    for (size_t i = 1; i < t; i++)
        for (size_t j = i; j > 0 && k->info.parties[q[j - 1]] > k->info.parties[q[j]]; j--) {
            size_t x = q[j];
            q[j] = q[j - 1];
            q[j - 1] = x;
        }
    return SIGIL_OK;
}

/* One FROST signing attempt with quorum q: take m pool entries per signer
 * (consumed whatever happens), one StartSession per signer, open the
 * RESULT envelopes, aggregate and verify every signature. */
static int frost_attempt(sigil_coord *c, key_rt *k, const size_t *q, const sign_item *items,
                         size_t m, const uint8_t req_hash[32], sign_out *out, uint32_t *blame,
                         char *why, size_t whylen)
{
    size_t t = k->info.threshold;
    pool_entry *taken = calloc(t * m, sizeof *taken);
    coord_session s;
    sigil_buf starts[SIGIL_COORD_MAX_NODES];
    sigil_buf *shares = NULL, *commits = NULL, *rs = NULL;
    uint32_t parties[SIGIL_COORD_MAX_NODES];
    int rc = SIGIL_OK;

    memset(&s, 0, sizeof s);
    *blame = 0;
    if (!taken)
        return SIGIL_E_NOMEM;
    /* take the entries */
    pthread_mutex_lock(&k->mu);
    for (size_t i = 0; i < t; i++)
        if (k->pools[q[i]].count < m)
            rc = SIGIL_E_UNAVAILABLE;
    for (size_t i = 0; rc == SIGIL_OK && i < t; i++) {
        pool *p = &k->pools[q[i]];
        for (size_t j = 0; j < m; j++) {
            taken[i * m + j] = p->e[p->head];
            p->head = (p->head + 1) % p->cap;
            p->count--;
        }
    }
    pthread_mutex_unlock(&k->mu);
    if (rc) {
        free(taken);
        return rc;
    }
    filler_kick(c);

    s.count = t;
    randombytes_buf(s.session_id, 32);
    for (size_t i = 0; i < t; i++) {
        parties[i] = k->info.parties[q[i]];
        s.nodes[i] = node_by_id(c, parties[i]);
    }
    /* StartSession requests */
    Sigil__V1__SignItem *its = calloc(m, sizeof *its), **itp = calloc(m, sizeof *itp);
    uint64_t *entries = calloc(m, sizeof *entries);
    Sigil__V1__Envelope **inb = calloc((t - 1) * m + 1, sizeof *inb);
    if (!its || !itp || !entries || !inb)
        rc = SIGIL_E_NOMEM;
    for (size_t j = 0; rc == SIGIL_OK && j < m; j++) {
        sigil__v1__sign_item__init(&its[j]);
        if (k->frost_suite == SIGIL_FROST_BIP340 || !k->frost_suite) {
            its[j].payload_case = SIGIL__V1__SIGN_ITEM__PAYLOAD_DIGEST;
            its[j].digest.data = (uint8_t *)items[j].data;
            its[j].digest.len = items[j].len;
        } else {
            its[j].payload_case = SIGIL__V1__SIGN_ITEM__PAYLOAD_MESSAGE;
            its[j].message.data = (uint8_t *)items[j].data;
            its[j].message.len = items[j].len;
        }
        itp[j] = &its[j];
    }
    for (size_t i = 0; i < t; i++)
        sigil_buf_init(&starts[i], RESP_MAX, 0);
    for (size_t i = 0; rc == SIGIL_OK && i < t; i++) {
        Sigil__V1__StartSessionRequest r = SIGIL__V1__START_SESSION_REQUEST__INIT;
        size_t ni = 0;
        r.session_id.data = s.session_id;
        r.session_id.len = 32;
        r.kind = SIGIL__V1__SESSION_KIND__SESSION_KIND_SIGN;
        r.key_id = k->info.key_id;
        r.scheme = (Sigil__V1__Scheme)k->info.scheme;
        r.threshold = k->info.threshold;
        r.num_parties = k->info.num_parties;
        r.parties = parties;
        r.n_parties = t;
        r.items = itp;
        r.n_items = m;
        for (size_t j = 0; j < m; j++)
            entries[j] = taken[i * m + j].entry_id;
        r.pool_entries = entries;
        r.n_pool_entries = m;
        for (size_t o = 0; o < t; o++)
            if (o != i)
                for (size_t j = 0; j < m; j++)
                    inb[ni++] = taken[o * m + j].env;
        r.inbound = inb;
        r.n_inbound = ni;
        r.request_hash.data = (uint8_t *)req_hash;
        r.request_hash.len = 32;
        rc = sigil_rpc_pack(&r.base, &starts[i]);
    }
    free(its);
    free(itp);
    free(entries);
    free(inb);
    if (rc == SIGIL_OK) {
        rc = coord_session_run(&s, starts, c->cfg->node_timeout_ms, 4);
        if (rc) {
            *blame = s.failed_party;
            snprintf(why, whylen, "%s", s.detail);
        }
    }
    for (size_t i = 0; i < t; i++)
        sigil_buf_free(&starts[i]);

    /* results: one RESULT per signer with m shares in item order */
    sigil_env_sign_result res[SIGIL_COORD_MAX_NODES];
    sigil_buf bodies[SIGIL_COORD_MAX_NODES];
    memset(res, 0, sizeof res);
    for (size_t i = 0; i < t; i++)
        sigil_buf_init(&bodies[i], RESP_MAX, 0);
    for (size_t i = 0; rc == SIGIL_OK && i < t; i++) {
        Sigil__V1__SessionResponse *f = s.final[i];
        if (f->n_results != 1 ||
            open_env(c, f->results[0], parties[i], SIGIL_ENV_RESULT, s.session_id, &bodies[i]) ||
            sigil_env_sign_result_decode(&res[i], bodies[i].data, bodies[i].size) ||
            res[i].scheme != k->info.scheme || strcmp(res[i].key_id, k->info.key_id) ||
            res[i].count != m) {
            rc = SIGIL_E_CHECK;
            *blame = parties[i];
            snprintf(why, whylen, "node %u: bad RESULT envelope (%s)", parties[i],
                     result_problem(c, f, parties[i], s.session_id));
            break;
        }
        for (size_t j = 0; j < m; j++)
            if (res[i].entry_ids[j] != taken[i * m + j].entry_id) {
                rc = SIGIL_E_CHECK;
                *blame = parties[i];
                snprintf(why, whylen, "node %u: RESULT for other pool entries", parties[i]);
                break;
            }
    }
    shares = calloc(t, sizeof *shares);
    commits = calloc(t, sizeof *commits);
    rs = calloc(t, sizeof *rs);
    if (!shares || !commits || !rs)
        rc = rc ? rc : SIGIL_E_NOMEM;
    for (size_t j = 0; rc == SIGIL_OK && j < m; j++) {
        uint32_t culprit = 0;
        for (size_t i = 0; i < t; i++) {
            sigil_buf_view(&commits[i], taken[i * m + j].commitment, taken[i * m + j].clen);
            sigil_buf_view(&shares[i], res[i].shares[j].data, res[i].shares[j].size);
            rs[i] = res[i].rs[j];
        }
        /* the signers' reported R: sum the shares and verify once; the
         * package is rebuilt (and a cheater named) only if that fails */
        rc = sigil_env_frost_aggregate_r((sigil_frost_suite)k->frost_suite, &k->pub,
                                         items[j].data, items[j].len, commits, shares, rs, t,
                                         out->sigs[j], &culprit);
        if (rc == SIGIL_E_SIG_SHARE && culprit < k->pub.n) {
            /* culprit is an index into the key's identifier list = party order */
            *blame = k->info.parties[culprit];
        }
        if (rc) {
            snprintf(why, whylen, "aggregation failed: %s", sigil_errname(rc));
            break;
        }
        /* invariant 4: verified before release. Ed25519 and BIP-340: the
         * aggregation verified the encoded signature with the reference
         * verifier (libsodium, libsecp256k1) under the package's group key,
         * which key_rt_new checked is the registered key: that is
         * sigil_frost_verify already. FROST(secp256k1): the aggregation's
         * full path checks the equation on decoded values, so the encoding
         * is verified once more here. */
        if (k->frost_suite == SIGIL_FROST_SECP256K1) {
            rc = sigil_frost_verify((sigil_frost_suite)k->frost_suite, k->info.public_key,
                                    k->info.pk_len, items[j].data, items[j].len, out->sigs[j],
                                    sigil_frost_sig_len((sigil_frost_suite)k->frost_suite));
            if (rc)
                snprintf(why, whylen, "signature does not verify under the group key");
        }
    }
    if (rc == SIGIL_OK) {
        out->siglen = sigil_frost_sig_len((sigil_frost_suite)k->frost_suite);
        out->nsigners = t;
        memcpy(out->signers, parties, t * sizeof *parties);
    }
    free(shares);
    free(commits);
    free(rs);
    for (size_t i = 0; i < t; i++) {
        sigil_env_sign_result_free(&res[i]);
        sigil_buf_free(&bodies[i]);
    }
    coord_session_clear(&s);
    for (size_t i = 0; i < t * m; i++)
        if (taken[i].env)
            sigil_rpc_msg_free(&taken[i].env->base);
    free(taken);
    return rc;
}

/* Pick an ECDSA signer set with at least m presignatures (presigning
 * synchronously on a usable set when none has enough). */
static int pick_ecdsa_quorum(sigil_coord *c, key_rt *k, size_t m, const int *excluded, int probe,
                             size_t *qi_out)
{
    unsigned start = __atomic_fetch_add(&k->rr, 1, __ATOMIC_RELAXED);
    for (size_t j = 0; j < k->nq; j++) {
        size_t qi = (start + j) % k->nq;
        if (quorum_usable(c, k, qi, excluded, probe) && qpool_count(k, qi) >= m) {
            *qi_out = qi;
            return SIGIL_OK;
        }
    }
    for (size_t j = 0; j < k->nq; j++) {
        size_t qi = (start + j) % k->nq;
        uint32_t blame = 0;
        int failed = 0;
        if (!quorum_usable(c, k, qi, excluded, probe))
            continue;
        while (!failed && qpool_count(k, qi) < m && !atomic_load(&c->halted)) {
            if (presign_run(c, k, qi, PRESIGN_BATCH, &blame)) {
                if (blame)
                    qpool_flush_party(k, blame);
                failed = 1;
            }
        }
        if (!failed && qpool_count(k, qi) >= m) {
            *qi_out = qi;
            return SIGIL_OK;
        }
    }
    return SIGIL_E_UNAVAILABLE;
}

static int ecdsa_attempt(sigil_coord *c, key_rt *k, size_t qi, const sign_item *items, size_t m,
                         const uint8_t req_hash[32], sign_out *out, uint32_t *blame, char *why,
                         size_t whylen)
{
    presig_pool *qp = &k->qpools[qi];
    size_t t = k->info.threshold;
    presig_tuple *taken = calloc(m, sizeof *taken);
    coord_session s;
    sigil_buf starts[SIGIL_COORD_MAX_NODES], bodies[SIGIL_COORD_MAX_NODES];
    sigil_env_ecdsa_result res[SIGIL_COORD_MAX_NODES];
    uint32_t parties[SIGIL_COORD_MAX_NODES];
    int rc = SIGIL_OK;

    memset(&s, 0, sizeof s);
    memset(res, 0, sizeof res);
    *blame = 0;
    if (!taken)
        return SIGIL_E_NOMEM;
    pthread_mutex_lock(&k->mu);
    if (qp->count < m)
        rc = SIGIL_E_UNAVAILABLE;
    for (size_t j = 0; rc == SIGIL_OK && j < m; j++) {
        taken[j] = qp->e[qp->head];
        qp->head = (qp->head + 1) % qp->cap;
        qp->count--;
    }
    pthread_mutex_unlock(&k->mu);
    if (rc) {
        free(taken);
        return rc;
    }
    atomic_store(&k->last_sign_ms, coord_now_ms());
    filler_kick(c);
    s.count = t;
    randombytes_buf(s.session_id, 32);
    Sigil__V1__SignItem *its = calloc(m, sizeof *its), **itp = calloc(m, sizeof *itp);
    uint64_t *entries = calloc(m, sizeof *entries);
    if (!its || !itp || !entries)
        rc = SIGIL_E_NOMEM;
    for (size_t j = 0; rc == SIGIL_OK && j < m; j++) {
        sigil__v1__sign_item__init(&its[j]);
        its[j].payload_case = SIGIL__V1__SIGN_ITEM__PAYLOAD_DIGEST;
        its[j].digest.data = (uint8_t *)items[j].data;
        its[j].digest.len = 32;
        itp[j] = &its[j];
    }
    for (size_t i = 0; i < t; i++) {
        parties[i] = k->info.parties[qp->pidx[i]];
        s.nodes[i] = node_by_id(c, parties[i]);
        sigil_buf_init(&starts[i], RESP_MAX, 0);
        sigil_buf_init(&bodies[i], RESP_MAX, 0);
    }
    for (size_t i = 0; rc == SIGIL_OK && i < t; i++) {
        Sigil__V1__StartSessionRequest r = SIGIL__V1__START_SESSION_REQUEST__INIT;
        r.session_id.data = s.session_id;
        r.session_id.len = 32;
        r.kind = SIGIL__V1__SESSION_KIND__SESSION_KIND_SIGN;
        r.key_id = k->info.key_id;
        r.scheme = (Sigil__V1__Scheme)k->info.scheme;
        r.threshold = k->info.threshold;
        r.num_parties = k->info.num_parties;
        r.parties = parties;
        r.n_parties = t;
        r.items = itp;
        r.n_items = m;
        for (size_t j = 0; j < m; j++)
            entries[j] = taken[j].ids[i];
        r.pool_entries = entries;
        r.n_pool_entries = m;
        r.request_hash.data = (uint8_t *)req_hash;
        r.request_hash.len = 32;
        rc = sigil_rpc_pack(&r.base, &starts[i]);
    }
    free(its);
    free(itp);
    free(entries);
    if (rc == SIGIL_OK && (rc = coord_session_run(&s, starts, c->cfg->node_timeout_ms, 4))) {
        *blame = s.failed_party;
        snprintf(why, whylen, "%s", s.detail);
    }
    for (size_t i = 0; rc == SIGIL_OK && i < t; i++) {
        Sigil__V1__SessionResponse *f = s.final[i];
        if (f->n_results != 1 ||
            open_env(c, f->results[0], parties[i], SIGIL_ENV_RESULT, s.session_id, &bodies[i]) ||
            sigil_env_ecdsa_result_decode(&res[i], bodies[i].data, bodies[i].size) ||
            res[i].scheme != k->info.scheme || strcmp(res[i].key_id, k->info.key_id) ||
            res[i].count != m) {
            rc = SIGIL_E_CHECK;
            *blame = parties[i];
            snprintf(why, whylen, "node %u: bad RESULT envelope (%s)", parties[i],
                     result_problem(c, f, parties[i], s.session_id));
            break;
        }
        for (size_t j = 0; j < m; j++)
            if (res[i].entry_ids[j] != taken[j].ids[i]) {
                rc = SIGIL_E_CHECK;
                *blame = parties[i];
                snprintf(why, whylen, "node %u: RESULT for other presignatures", parties[i]);
                break;
            }
    }
    for (size_t j = 0; rc == SIGIL_OK && j < m; j++) {
        const sigil_ecdsa_combiner *combs[SIGIL_COORD_MAX_NODES];
        sigil_buf msgs[SIGIL_COORD_MAX_NODES];
        uint16_t culprit = 0;
        for (size_t i = 0; i < t; i++) {
            combs[i] = &res[i].combiners[j];
            msgs[i] = res[i].sign_msgs[j];
        }
        rc = sigil_env_ecdsa_combine(combs, msgs, t, k->info.public_key, items[j].data,
                                     out->sigs[j], &out->recids[j], &culprit);
        if (rc) {
            *blame = culprit;
            snprintf(why, whylen, "combination failed: %s", sigil_errname(rc));
            break;
        }
        /* invariant 4: sigil_env_ecdsa_combine checked the combiners carry
         * k->info.public_key and this digest, and sigil_ecdsa_combine
         * verified the low-s signature under that key with libsecp256k1
         * (sigil_ecdsa_verify) before returning it: verified once, here */
    }
    if (rc == SIGIL_OK) {
        out->siglen = 64;
        out->nsigners = t;
        memcpy(out->signers, parties, t * sizeof *parties);
    }
    for (size_t i = 0; i < t; i++) {
        sigil_env_ecdsa_result_free(&res[i]);
        sigil_buf_free(&starts[i]);
        sigil_buf_free(&bodies[i]);
    }
    coord_session_clear(&s);
    free(taken);
    return rc;
}

/* Sign m items with key k: quorum choice, retries on another quorum when a
 * node fails or times out, within the sign deadline. */
static int sign_items(sigil_coord *c, key_rt *k, const sign_item *items, size_t m,
                      const uint8_t req_hash[32], sign_out *out, char *why, size_t whylen)
{
    int excluded[SIGIL_COORD_MAX_NODES] = {0};
    uint64_t deadline = coord_now_ms() + c->cfg->sign_timeout_ms;
    int rc = SIGIL_E_UNAVAILABLE;
    size_t q[SIGIL_COORD_MAX_NODES];

    size_t qi = 0;
    snprintf(why, whylen, "fewer than %u healthy signer nodes for key '%s'", k->info.threshold,
             k->info.key_id);
    for (unsigned attempt = 0; attempt < 8 && coord_now_ms() < deadline;) {
        uint32_t blame = 0;
        if (atomic_load(&c->halted))
            return SIGIL_E_HALTED;
        /* healthy nodes first; else probe nodes in back-off (a restarted
         * node comes back at once); else wait a little for one to return */
        if (k->frost_suite ? (rc = pick_quorum(c, k, m, excluded, q, 0)) &&
                                 (rc = pick_quorum(c, k, m, excluded, q, 1))
                           : (rc = pick_ecdsa_quorum(c, k, m, excluded, 0, &qi)) &&
                                 (rc = pick_ecdsa_quorum(c, k, m, excluded, 1, &qi))) {
            memset(excluded, 0, sizeof excluded);
            snprintf(why, whylen, "fewer than %u signer nodes reachable for key '%s'",
                     k->info.threshold, k->info.key_id);
            if (coord_now_ms() + 50 >= deadline)
                break;
            struct timespec ts = {0, 50 * 1000000L};
            nanosleep(&ts, NULL);
            continue;
        }
        attempt++;
        rc = k->frost_suite
                 ? frost_attempt(c, k, q, items, m, req_hash, out, &blame, why, whylen)
                 : ecdsa_attempt(c, k, qi, items, m, req_hash, out, &blame, why, whylen);
        if (rc == SIGIL_OK)
            return rc;
        char bl[48] = "";
        if (blame)
            snprintf(bl, sizeof bl, "; node %u blamed", blame);
        fprintf(stderr, "sigil-coordinator: sign attempt %u for key '%s' failed: %s (%s)%s\n",
                attempt, k->info.key_id, sigil_errname(rc), why, bl);
        if (rc == SIGIL_E_HALTED || rc == SIGIL_E_NOMEM || rc == SIGIL_E_INVALID)
            return rc;
        if (blame) {
            for (size_t pi = 0; pi < k->info.num_parties; pi++)
                if (k->info.parties[pi] == blame) {
                    excluded[pi] = 1;
                    if (k->frost_suite)
                        pool_flush(k, pi);
                }
            if (!k->frost_suite)
                qpool_flush_party(k, blame);
        }
    }
    if (rc != SIGIL_OK && rc != SIGIL_E_HALTED) {
        char last[200];
        snprintf(last, sizeof last, "%.190s", why);
        snprintf(why, whylen, "signing failed on every quorum tried: %.150s", last);
        rc = SIGIL_E_UNAVAILABLE;
    }
    return rc;
}

/* ---- audit (fail-closed) ---- */

static void entry_base(sigil_audit_entry *e, int type, const char *actor, const char *key_id,
                       int scheme)
{
    memset(e, 0, sizeof *e);
    e->version = SIGIL_AUDIT_ENTRY_VERSION;
    e->type = (uint8_t)type;
    e->actor_len = (uint8_t)snprintf(e->actor, sizeof e->actor, "%s", actor ? actor : "");
    if (key_id) {
        e->key_id_len = (uint8_t)strnlen(key_id, SIGIL_AUDIT_KEYID_MAX);
        memcpy(e->key_id, key_id, e->key_id_len);
    }
    e->scheme = (uint8_t)scheme;
}

/* Append under the shared lock. While the log is failed (or a reopen has
 * not succeeded yet) this returns SIGIL_E_UNAVAILABLE at once and wakes the
 * recovery thread. */
static int audit_append(sigil_coord *c, sigil_audit_entry *e, size_t n, uint64_t *seq)
{
    pthread_rwlock_rdlock(&c->audit_mu);
    int rc = c->audit ? sigil_audit_append(c->audit, e, n, seq) : SIGIL_E_UNAVAILABLE;
    pthread_rwlock_unlock(&c->audit_mu);
    /* a failure, or the first success after one: the recovery thread
     * reports it at once */
    if (rc == SIGIL_E_IO || rc == SIGIL_E_UNAVAILABLE ||
        (rc == SIGIL_OK && atomic_load(&c->audit_down))) {
        pthread_mutex_lock(&c->audit_wmu);
        c->audit_kick = 1;
        pthread_cond_signal(&c->audit_wcv);
        pthread_mutex_unlock(&c->audit_wmu);
    }
    return rc;
}

/* SIGIL_OK while the log accepts appends, else why not. */
static int audit_state(sigil_coord *c, sigil_audit_stats *as)
{
    memset(as, 0, sizeof *as);
    pthread_rwlock_rdlock(&c->audit_mu);
    if (c->audit)
        sigil_audit_log_stats(c->audit, as);
    else
        as->error = SIGIL_E_UNAVAILABLE;
    pthread_rwlock_unlock(&c->audit_mu);
    return as->error;
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Recovery: once the log has failed (a write or fsync error: full disk, I/O
 * error), appends are refused until the log is reopened. This thread checks
 * the log every second (and at once when an append reports the failure),
 * and while it is failed closes and reopens it at most once per second.
 * Opening cuts a torn tail back to the last complete entry and refuses to
 * cut anything a checkpoint covers, so a reopened log is a consistent one.
 * The reopen holds audit_mu exclusive: no append runs on a half-open log.
 * One line to the operator on failure and one on recovery. */
static void *audit_watch_main(void *arg)
{
    sigil_coord *c = arg;
    /* reported: the failure line was printed and no append has succeeded
     * since; reopened_at: log size right after the last reopen */
    int reported = 0, last_open_rc = SIGIL_OK;
    uint64_t last_try = 0, reopened_at = 0;
    for (;;) {
        pthread_mutex_lock(&c->audit_wmu);
        if (!c->audit_stop && !c->audit_kick) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&c->audit_wcv, &c->audit_wmu, &ts);
        }
        int stop = c->audit_stop;
        c->audit_kick = 0;
        pthread_mutex_unlock(&c->audit_wmu);
        if (stop)
            break;
        sigil_audit_stats as;
        int err = audit_state(c, &as);
        if (err == SIGIL_OK) {
            /* recovered only once an append went through on the reopened
             * log: a reopen on a still-full disk is not a recovery */
            if (reported && as.size > reopened_at) {
                fprintf(stderr,
                        "sigil-coordinator: audit log recovered (%" PRIu64
                        " entries): signing resumes\n", as.size);
                reported = 0;
                atomic_store(&c->audit_down, 0);
            }
            continue;
        }
        if (!reported) {
            fprintf(stderr,
                    "sigil-coordinator: audit log FAILED (%s: %s): signing, keygen and resume "
                    "refused until it can write again; retrying every second\n",
                    sigil_errname(err), sigil_strerror(err));
            reported = 1;
            atomic_store(&c->audit_down, 1);
        }
        uint64_t t = mono_ms();
        if (last_try && t - last_try < 1000)
            continue;
        last_try = t;
        pthread_rwlock_wrlock(&c->audit_mu);
        if (c->audit) {
            sigil_audit_stats cur;
            sigil_audit_log_stats(c->audit, &cur);
            if (cur.error == SIGIL_OK) { /* someone else's view was stale */
                pthread_rwlock_unlock(&c->audit_mu);
                continue;
            }
            (void)sigil_audit_log_close(c->audit);
            c->audit = NULL;
        }
        sigil_audit_log *l = NULL;
        int rc = sigil_audit_log_open(&c->audit_cfg, &l);
        if (rc == SIGIL_OK) {
            c->audit = l;
            sigil_audit_log_stats(l, &as);
            reopened_at = as.size;
        }
        pthread_rwlock_unlock(&c->audit_mu);
        if (rc == SIGIL_OK) {
            last_open_rc = SIGIL_OK;
        } else if (rc != last_open_rc) {
            fprintf(stderr, "sigil-coordinator: audit log reopen failed: %s (%s); still refusing\n",
                    sigil_strerror(rc), sigil_errname(rc));
            last_open_rc = rc;
        }
    }
    return NULL;
}

/* Record the m signatures of one request durably; SIGIL_OK only when every
 * entry is on disk. *seq gets the first entry's index. */
/* What the log records of an item: digests as signed; messages by their
 * SHA-256 (the nodes record the same, so sigil-audit cross-check matches). */
static void entry_digest(sigil_audit_entry *e, const key_rt *k, const sign_item *it)
{
    if (it->len == 32 && (!k->frost_suite || k->frost_suite == SIGIL_FROST_BIP340))
        memcpy(e->digest, it->data, 32);
    else
        crypto_hash_sha256(e->digest, it->data, it->len);
    e->digest_len = 32;
}

/* Record a refused or failed sign request (best effort: the request is
 * refused whether or not this record lands, and when the log itself is what
 * failed there is nothing to record it in). k and the first item are
 * recorded when known. */
static void entry_request_id(sigil_audit_entry *e, ProtobufCBinaryData rid)
{
    if (rid.len) {
        sodium_bin2hex(e->request_id, sizeof e->request_id, rid.data, rid.len < 63 ? rid.len : 63);
        e->request_id_len = (uint8_t)strlen(e->request_id);
    }
}

/* The record of a refused or failed sign request: k and the first item
 * when known, the refusal text from call->detail. */
static void entry_refused(sigil_audit_entry *e, const sigil_rpc_call *call, const key_rt *k,
                          const sign_item *first, size_t m, ProtobufCBinaryData rid, int rc)
{
    entry_base(e, SIGIL_AUDIT_SIGN, call->peer->uri, k ? k->info.key_id : call->key_id,
               k ? k->info.scheme : 0);
    if (k && first)
        entry_digest(e, k, first);
    e->outcome = SIGIL_AUDIT_OUTCOME_ERROR;
    e->error = rc;
    int l = snprintf(e->errmsg, sizeof e->errmsg, "%s%s", m > 1 ? "batch refused: " : "",
                     call->detail[0] ? call->detail : sigil_strerror(rc));
    e->errmsg_len = (uint8_t)(l < 0 ? 0 : (size_t)l >= sizeof e->errmsg ? sizeof e->errmsg - 1 : (size_t)l);
    entry_request_id(e, rid);
}

/* Record a request refused before it was queued (best effort: the request
 * is refused whether or not this record lands, and when the log itself is
 * what failed there is nothing to record it in). */
static void audit_sign_refused(sigil_coord *c, sigil_rpc_call *call, const key_rt *k,
                               const sign_item *first, size_t m, ProtobufCBinaryData rid, int rc)
{
    sigil_audit_entry e;
    if (!c->cfg->audit)
        return;
    entry_refused(&e, call, k, first, m, rid, rc);
    (void)audit_append(c, &e, 1, NULL);
}

/* The record of signature j (sigs[j]) of a request by actor. */
static void entry_signature(sigil_audit_entry *e, const char *actor, const key_rt *k,
                            const sign_item *it, const sign_out *out, size_t j,
                            ProtobufCBinaryData rid)
{
    entry_base(e, SIGIL_AUDIT_SIGN, actor, k->info.key_id, k->info.scheme);
    entry_digest(e, k, it);
    e->outcome = SIGIL_AUDIT_OUTCOME_SIGNATURE;
    e->sig_len = (uint8_t)out->siglen;
    memcpy(e->sig, out->sigs[j], out->siglen);
    e->n_signers = (uint8_t)out->nsigners;
    for (size_t i = 0; i < out->nsigners; i++)
        e->signers[i] = (uint16_t)out->signers[i];
    entry_request_id(e, rid);
}

static int audit_event(sigil_coord *c, int type, const char *actor, const char *key_id,
                       int scheme, const uint8_t *digest, size_t dlen, const char *msg)
{
    sigil_audit_entry e;
    if (!c->cfg->audit)
        return SIGIL_OK;
    entry_base(&e, type, actor, key_id, scheme);
    if (digest && dlen <= SIGIL_AUDIT_DIGEST_MAX) {
        memcpy(e.digest, digest, dlen);
        e.digest_len = (uint8_t)dlen;
    }
    if (msg) {
        e.outcome = SIGIL_AUDIT_OUTCOME_ERROR; /* carries the text */
        e.error = SIGIL_E_HALTED;
        e.errmsg_len = (uint8_t)snprintf(e.errmsg, sizeof e.errmsg, "%s", msg);
        if (type != SIGIL_AUDIT_HALT)
            e.outcome = SIGIL_AUDIT_OUTCOME_NONE, e.error = 0, e.errmsg_len = 0;
    }
    return audit_append(c, &e, 1, NULL);
}

/* ---- wallet API ---- */

static int check_item(const key_rt *k, const Sigil__V1__SignItem *it, size_t idx, sign_item *out,
                      sigil_rpc_call *call)
{
    int want_digest = k->info.scheme == SIGIL__V1__SCHEME__SCHEME_BIP340 ||
                      k->info.scheme == SIGIL__V1__SCHEME__SCHEME_ECDSA_SECP256K1;
    if (!it || it->payload_case == SIGIL__V1__SIGN_ITEM__PAYLOAD__NOT_SET)
        return coord_detail(call, SIGIL_E_INVALID, "item %zu: neither digest nor message set", idx);
    if (want_digest) {
        if (it->payload_case != SIGIL__V1__SIGN_ITEM__PAYLOAD_DIGEST)
            return coord_detail(call, SIGIL_E_INVALID,
                          "item %zu: key '%s' (%s) signs a 32-byte digest, not a message", idx,
                          k->info.key_id, sigil_coord_scheme_name(k->info.scheme));
        if (it->digest.len != 32)
            return coord_detail(call, SIGIL_E_INVALID, "item %zu: digest is %zu bytes, not 32", idx,
                          it->digest.len);
        out->data = it->digest.data;
        out->len = 32;
    } else {
        if (it->payload_case != SIGIL__V1__SIGN_ITEM__PAYLOAD_MESSAGE)
            return coord_detail(call, SIGIL_E_INVALID,
                          "item %zu: key '%s' (%s) signs the message itself, not a digest", idx,
                          k->info.key_id, sigil_coord_scheme_name(k->info.scheme));
        if (it->message.len > MAX_MESSAGE_ITEM)
            return coord_detail(call, SIGIL_E_TOO_LARGE, "item %zu: message above 64 KiB", idx);
        out->data = it->message.data ? it->message.data : (const uint8_t *)"";
        out->len = it->message.len;
    }
    return SIGIL_OK;
}

static void fill_key_info(Sigil__V1__KeyInfo *ki, key_rt *k)
{
    ki->key_id = k->info.key_id;
    ki->scheme = (Sigil__V1__Scheme)k->info.scheme;
    ki->public_key.data = k->info.public_key;
    ki->public_key.len = k->info.pk_len;
    ki->threshold = k->info.threshold;
    ki->num_parties = k->info.num_parties;
    ki->state = (Sigil__V1__KeyState)k->info.state;
    ki->created_unix = k->info.created_unix;
    ki->share_version = k->info.share_version;
}

static int h_list_keys(void *ctx, sigil_rpc_call *call)
{
    sigil_coord *c = ctx;
    const Sigil__V1__ListKeysRequest *req = (const Sigil__V1__ListKeysRequest *)call->req;
    Sigil__V1__ListKeysResponse resp = SIGIL__V1__LIST_KEYS_RESPONSE__INIT;
    size_t start = 0, size = req->page_size ? req->page_size : 100, n = 0;
    char next[24] = "";
    int rc;
    if (size > 1000)
        size = 1000;
    if (req->page_token && req->page_token[0]) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(req->page_token, &end, 10);
        if (errno || *end || v > 1000000000ULL)
            return coord_detail(call, SIGIL_E_INVALID, "bad page_token");
        start = (size_t)v;
    }
    Sigil__V1__KeyInfo *infos = calloc(size, sizeof *infos);
    Sigil__V1__KeyInfo **ptrs = calloc(size, sizeof *ptrs);
    if (!infos || !ptrs) {
        free(infos);
        free(ptrs);
        return SIGIL_E_NOMEM;
    }
    pthread_rwlock_rdlock(&c->keys_mu);
    size_t i;
    for (i = start; i < c->nkeys && n < size; i++) {
        key_rt *k = c->keys[i];
        if (req->scheme && (int)req->scheme != k->info.scheme)
            continue;
        if (sigil_rpc_authz_check(c->authz, call->peer->uri, SIGIL_RPC_WALLET_SIGN,
                                  k->info.key_id) &&
            sigil_rpc_authz_check(c->authz, call->peer->uri, SIGIL_RPC_WALLET_GET_PUBLIC_KEY,
                                  k->info.key_id))
            continue;
        sigil__v1__key_info__init(&infos[n]);
        fill_key_info(&infos[n], k);
        ptrs[n] = &infos[n];
        n++;
    }
    if (i < c->nkeys)
        snprintf(next, sizeof next, "%zu", i);
    resp.keys = ptrs;
    resp.n_keys = n;
    resp.next_page_token = next;
    rc = sigil_rpc_pack(&resp.base, call->resp);
    pthread_rwlock_unlock(&c->keys_mu);
    free(infos);
    free(ptrs);
    return rc;
}

static int h_get_public_key(void *ctx, sigil_rpc_call *call)
{
    sigil_coord *c = ctx;
    Sigil__V1__GetPublicKeyResponse resp = SIGIL__V1__GET_PUBLIC_KEY_RESPONSE__INIT;
    Sigil__V1__KeyInfo ki = SIGIL__V1__KEY_INFO__INIT;
    key_rt *k = keys_find(c, call->key_id);
    if (!k)
        return coord_detail(call, SIGIL_E_NOT_FOUND, "unknown key '%s'", call->key_id);
    fill_key_info(&ki, k);
    resp.key = &ki;
    return sigil_rpc_pack(&resp.base, call->resp);
}

/* SHA-256 of the request's content as the server decoded it (re-encoded,
 * so a retry with the same content hashes the same). */
static int request_hash(const ProtobufCMessage *m, uint8_t out[32])
{
    sigil_buf b;
    int rc = sigil_buf_init(&b, RESP_MAX, 0);
    if (!rc)
        rc = sigil_rpc_pack(m, &b);
    if (!rc)
        crypto_hash_sha256(out, b.data, b.size);
    sigil_buf_free(&b);
    return rc;
}

/* Common front half of Sign and SignBatch: breaker, key, scheme guard,
 * request id, idempotency. Returns SIGIL_COORD_IDEM_NEW to go on signing,
 * SIGIL_COORD_IDEM_DONE when call->resp holds the replayed answer. */
static int sign_front(sigil_coord *c, sigil_rpc_call *call, ProtobufCBinaryData rid, int scheme,
                      key_rt **kp, uint8_t hash[32])
{
    key_rt *k;
    int rc;
    if (atomic_load(&c->halted))
        return halted_detail(c, call);
    if (rid.len < 16 || rid.len > 64)
        return coord_detail(call, SIGIL_E_INVALID, "request_id must be 16 to 64 bytes, got %zu",
                      rid.len);
    if (!(k = keys_find(c, call->key_id)))
        return coord_detail(call, SIGIL_E_NOT_FOUND, "unknown key '%s'", call->key_id);
    if (k->info.state != SIGIL__V1__KEY_STATE__KEY_STATE_ACTIVE)
        return coord_key_inactive(call, k->info.key_id, k->info.state);
    if (scheme && scheme != k->info.scheme)
        return coord_detail(call, SIGIL_E_STATE, "key '%s' is %s, the request says %s; nothing signed",
                      call->key_id, sigil_coord_scheme_name(k->info.scheme),
                      sigil_coord_scheme_name(scheme) ? sigil_coord_scheme_name(scheme)
                                                      : "an unknown scheme");
    if ((rc = request_hash(call->req, hash)))
        return rc;
    rc = sigil_coord_idem_begin(c->idem, call->peer->uri, rid.data, rid.len, hash, call->resp);
    if (rc == SIGIL_E_EXISTS)
        return coord_detail(call, rc, "request_id already used with a different request");
    if (rc == SIGIL_COORD_IDEM_BUSY)
        return coord_detail(call, SIGIL_E_UNAVAILABLE, "the same request is in progress; retry");
    if (rc == SIGIL_E_NOMEM)
        return coord_detail(call, SIGIL_E_NOMEM, "too many requests in progress");
    *kp = k;
    return rc;
}

/* A replayed answer: the stored response with replayed = true. */
static int mark_replayed(sigil_rpc_call *call, const ProtobufCMessageDescriptor *d, int batch)
{
    ProtobufCMessage *m = NULL;
    int rc = sigil_rpc_unpack(d, call->resp->data, call->resp->size, RESP_MAX, &m);
    if (rc)
        return rc;
    if (batch)
        ((Sigil__V1__SignBatchResponse *)m)->replayed = 1;
    else
        ((Sigil__V1__SignResponse *)m)->replayed = 1;
    sigil_buf_reset(call->resp);
    call->resp->size = 0;
    call->resp->off = 0;
    rc = sigil_rpc_pack(m, call->resp);
    sigil_rpc_msg_free(m);
    return rc;
}

/* ---- the Sign pipeline ----
 *
 * Concurrent Sign / SignBatch requests for one key are merged into one node
 * session (up to max_batch items), so the per-session costs (RPCs,
 * envelopes, the nodes' durable log writes, the coordinator's own durable
 * log write) are shared, and a waiting request holds no thread: the handler
 * validates the request, queues it and returns SIGIL_RPC_DEFERRED. If fewer
 * than COALESCE_LEADERS groups are being signed for the key, the handler's
 * thread becomes a leader: it takes up to max_batch items from the head of
 * the queue, signs them in one session, records every signature of the
 * group in ONE audit append (one durable wait per group), answers and
 * finishes each request's call, and goes on with the next group until the
 * queue is empty. While a request is queued a leader is running (a leader
 * leaves only when it found the queue empty under the lock), so every
 * queued request is answered; at shutdown the server waits for that.
 *
 * All requests of a group share its outcome; each was validated (and its
 * request id reserved) before it was queued. The nodes' audit records
 * carry the request's hash, or for a merged group the SHA-256 of its
 * requests' hashes. The coordinator's records are per request: its
 * actor, request id and items. Two groups per key keep both stages busy
 * (nodes signing one session while the coordinator aggregates the other)
 * and make batches large (measured with the blocking version of this
 * scheme: 2 gave ~800 sig/s and ~4 items per session at 32 clients, 4 gave
 * ~600 sig/s and ~2.3 items; docs/modules/coordinator.md). */
#define COALESCE_LEADERS 2

typedef struct sign_req {
    sigil_rpc_call *call;                  /* deferred; finished by a leader */
    int batch;
    ProtobufCBinaryData rid;               /* points into call->req */
    sign_item *items;                      /* m items pointing into call->req */
    size_t m;
    uint8_t hash[32];
    uint64_t deadline_ms;                  /* the caller's deadline (mono_ms), 0: none */
    struct sign_req *next;
} sign_req;

/* Answer request r of a group that ended with rc: the response (on
 * success, signatures sigs[0..m) of out at offset off, logged from seq),
 * the idempotency record, then finish the call and free r. */
static void answer(sigil_coord *c, key_rt *k, sign_req *r, int rc, const sign_out *out,
                   size_t off, uint64_t seq)
{
    sigil_rpc_call *call = r->call;
    size_t m = r->m;
    if (rc == SIGIL_OK && r->batch) {
        Sigil__V1__SignBatchResponse resp = SIGIL__V1__SIGN_BATCH_RESPONSE__INIT;
        ProtobufCBinaryData *sigs = calloc(m, sizeof *sigs);
        uint32_t *rec = k->frost_suite ? NULL : calloc(m, sizeof *rec);
        if (!sigs || (!k->frost_suite && !rec)) {
            rc = SIGIL_E_NOMEM;
        } else {
            for (size_t j = 0; j < m; j++)
                sigs[j] = (ProtobufCBinaryData){out->siglen, out->sigs[off + j]};
            resp.signatures = sigs;
            resp.n_signatures = m;
            resp.scheme = (Sigil__V1__Scheme)k->info.scheme;
            resp.public_key.data = k->info.public_key;
            resp.public_key.len = k->info.pk_len;
            resp.signers = (uint32_t *)out->signers;
            resp.n_signers = out->nsigners;
            resp.audit_index_first = seq;
            if (rec) {
                for (size_t j = 0; j < m; j++)
                    rec[j] = (uint32_t)out->recids[off + j];
                resp.recovery_ids = rec;
                resp.n_recovery_ids = m;
            }
            rc = sigil_rpc_pack(&resp.base, call->resp);
        }
        free(rec);
        free(sigs);
    } else if (rc == SIGIL_OK) {
        Sigil__V1__SignResponse resp = SIGIL__V1__SIGN_RESPONSE__INIT;
        resp.signature.data = out->sigs[off];
        resp.signature.len = out->siglen;
        resp.scheme = (Sigil__V1__Scheme)k->info.scheme;
        resp.public_key.data = k->info.public_key;
        resp.public_key.len = k->info.pk_len;
        resp.signers = (uint32_t *)out->signers;
        resp.n_signers = out->nsigners;
        resp.recovery_id = k->frost_suite ? 0 : (uint32_t)out->recids[off];
        resp.audit_index = seq;
        rc = sigil_rpc_pack(&resp.base, call->resp);
    }
    if (rc == SIGIL_OK)
        rc = sigil_coord_idem_finish(c->idem, call->peer->uri, r->rid.data, r->rid.len,
                                     call->resp->data, call->resp->size);
    if (rc)
        sigil_coord_idem_drop(c->idem, call->peer->uri, r->rid.data, r->rid.len);
    free(r->items);
    free(r);
    sigil_rpc_call_finish(call, rc);
}

/* Sign group g (a list of requests, total items), record it, answer every
 * request. */
static void run_group(sigil_coord *c, key_rt *k, sign_req *g, size_t total)
{
    int merged = g->next != NULL;
    sign_item *items = merged ? calloc(total, sizeof *items) : g->items;
    sigil_audit_entry *e = NULL;
    sign_out out;
    uint8_t hash[32];
    char why[200] = "";
    size_t off = 0, ne = 0;
    int rc = SIGIL_OK, log_failed = 0;

    memset(&out, 0, sizeof out);
    out.sigs = calloc(total, sizeof *out.sigs);
    out.recids = calloc(total, sizeof *out.recids);
    if (!items || !out.sigs || !out.recids)
        rc = SIGIL_E_NOMEM;
    if (merged) {
        crypto_hash_sha256_state h;
        crypto_hash_sha256_init(&h);
        for (sign_req *r = g; r; r = r->next) {
            if (items)
                memcpy(items + off, r->items, r->m * sizeof *items);
            off += r->m;
            crypto_hash_sha256_update(&h, r->hash, 32);
        }
        crypto_hash_sha256_final(&h, hash);
    } else {
        memcpy(hash, g->hash, 32);
    }
    if (rc == SIGIL_OK)
        rc = sign_items(c, k, items, total, hash, &out, why, sizeof why);
    /* the breaker may have tripped while we signed: nothing leaves */
    if (rc == SIGIL_OK && atomic_load(&c->halted))
        rc = SIGIL_E_HALTED;
    for (sign_req *r = g; r; r = r->next) {
        if (rc == SIGIL_E_HALTED)
            halted_detail(c, r->call);
        else if (rc != SIGIL_OK)
            snprintf(r->call->detail, sizeof r->call->detail, "%s", why);
    }

    /* Fail-closed audit: every signature of the group in one append, and
     * nothing leaves before it is durable. A refusal is recorded per
     * request (best effort), except UNAVAILABLE (no quorum): an
     * availability event, not a decision about the request, so a failing
     * log is never "recovered" by a small refusal record squeezing in. */
    if (c->cfg->audit && rc != SIGIL_E_UNAVAILABLE) {
        size_t n = 0;
        for (sign_req *r = g; r; r = r->next)
            n += rc == SIGIL_OK ? r->m : 1;
        if (!(e = calloc(n, sizeof *e))) {
            if (rc == SIGIL_OK)
                rc = SIGIL_E_NOMEM, log_failed = 1;
        } else {
            for (sign_req *r = g; r; r = r->next) {
                if (rc != SIGIL_OK) {
                    entry_refused(&e[ne++], r->call, k, &r->items[0], r->m, r->rid, rc);
                    continue;
                }
                for (size_t j = 0; j < r->m; j++, ne++)
                    entry_signature(&e[ne], r->call->peer->uri, k, &r->items[j], &out, ne,
                                    r->rid);
            }
            int arc = audit_append(c, e, ne, NULL);
            if (rc == SIGIL_OK && arc != SIGIL_OK)
                rc = arc, log_failed = 1;
        }
    }
    if (log_failed) {
        for (sign_req *r = g; r; r = r->next)
            coord_detail(r->call, SIGIL_E_UNAVAILABLE,
                         "audit log unavailable (%s): signature withheld", sigil_strerror(rc));
        rc = SIGIL_E_UNAVAILABLE;
    }

    /* answer: each request's first entry carries its audit index */
    off = 0;
    for (sign_req *r = g, *next; r; r = next) {
        size_t m = r->m;
        next = r->next;
        answer(c, k, r, rc, &out, off, rc == SIGIL_OK && e ? e[off].seq : 0);
        off += m;
    }
    if (merged)
        free(items);
    free(e);
    free(out.sigs);
    free(out.recids);
}

/* Lead: sign groups from the head of k's queue until it is empty. The
 * caller counted itself in k->leaders. */
static void lead(sigil_coord *c, key_rt *k)
{
    pthread_mutex_lock(&k->bmu);
    while (k->bhead) {
        sign_req *g = k->bhead, *last = g;
        size_t total = g->m;
        while (last->next && total + last->next->m <= c->cfg->max_batch) {
            last = last->next;
            total += last->m;
        }
        k->bhead = last->next;
        if (!k->bhead)
            k->btail = NULL;
        last->next = NULL;
        k->bqueued -= total;
        pthread_mutex_unlock(&k->bmu);
        /* a request whose caller has stopped waiting is not signed: its
         * answer would be discarded, and it would spend nonces or
         * presignatures and delay the requests behind it */
        uint64_t now = mono_ms();
        sign_req *keep = NULL, **tail = &keep;
        for (sign_req *r = g, *next; r; r = next) {
            next = r->next;
            r->next = NULL;
            if (r->deadline_ms && now >= r->deadline_ms) {
                total -= r->m;
                atomic_fetch_add(&c->expired, 1);
                coord_detail(r->call, SIGIL_E_TIMEOUT,
                             "the caller's deadline passed while the request was queued: not signed");
                answer(c, k, r, SIGIL_E_TIMEOUT, NULL, 0, 0); /* drops the id, frees r */
                continue;
            }
            *tail = r;
            tail = &r->next;
        }
        if (keep)
            run_group(c, k, keep, total);
        pthread_mutex_lock(&k->bmu);
    }
    k->leaders--;
    pthread_mutex_unlock(&k->bmu);
}

static int h_sign_common(sigil_coord *c, sigil_rpc_call *call, int batch)
{
    const Sigil__V1__SignRequest *sr = batch ? NULL : (const Sigil__V1__SignRequest *)call->req;
    const Sigil__V1__SignBatchRequest *br =
        batch ? (const Sigil__V1__SignBatchRequest *)call->req : NULL;
    ProtobufCBinaryData rid = batch ? br->request_id : sr->request_id;
    int scheme = batch ? (int)br->scheme : (int)sr->scheme;
    size_t m = batch ? br->n_items : 1;
    uint8_t hash[32];
    key_rt *k = NULL;
    sign_req *r;
    int rc, lead_now;

    if (batch && (m < 1 || m > c->cfg->max_batch))
        return coord_detail(call, m ? SIGIL_E_TOO_LARGE : SIGIL_E_INVALID,
                      "a batch has 1 to %u items, got %zu", c->cfg->max_batch, m);
    rc = sign_front(c, call, rid, scheme, &k, hash);
    if (rc == SIGIL_COORD_IDEM_DONE)
        return mark_replayed(call, batch ? &sigil__v1__sign_batch_response__descriptor
                                         : &sigil__v1__sign_response__descriptor,
                             batch);
    if (rc != SIGIL_COORD_IDEM_NEW) {
        /* refused before signing (halted, unknown key, wrong scheme, reused
         * request id): recorded; a retry of a request in progress is not */
        if (rc != SIGIL_E_UNAVAILABLE && rc != SIGIL_E_NOMEM)
            audit_sign_refused(c, call, keys_find(c, call->key_id), NULL, m, rid, rc);
        return rc;
    }
    /* the request id is reserved: from here every path finishes or drops it */
    if (!(r = calloc(1, sizeof *r)) || !(r->items = calloc(m, sizeof *r->items)))
        rc = SIGIL_E_NOMEM;
    for (size_t j = 0; rc == SIGIL_OK && j < m; j++)
        rc = check_item(k, batch ? br->items[j] : sr->item, j, &r->items[j], call);
    /* queued in one step with the overload check: a request that would take
     * the key's queue past queue_max is refused at once (the caller may
     * retry the same request id) rather than let the queue, and every
     * caller's wait, grow */
    size_t queued = 0;
    int full = 0;
    lead_now = 0;
    if (rc == SIGIL_OK) {
        r->call = call;
        r->batch = batch;
        r->rid = rid;
        r->m = m;
        r->deadline_ms = call->timeout_ms == UINT_MAX ? 0 : mono_ms() + call->timeout_ms;
        memcpy(r->hash, hash, 32);
        pthread_mutex_lock(&k->bmu);
        queued = k->bqueued;
        if (!(full = queued + m > c->cfg->queue_max)) {
            k->bqueued += m;
            if (k->btail)
                k->btail->next = r;
            else
                k->bhead = r;
            k->btail = r;
            if ((lead_now = k->leaders < COALESCE_LEADERS))
                k->leaders++;
        }
        pthread_mutex_unlock(&k->bmu);
        if (full) {
            atomic_fetch_add(&c->shed, 1);
            rc = coord_detail(call, SIGIL_E_TOO_LARGE,
                              "signing queue of key '%s' is full (%zu items waiting, queue_max "
                              "%u): retry later", call->key_id, queued, c->cfg->queue_max);
        }
    }
    if (rc != SIGIL_OK) {
        /* a decision about the request is recorded; load (no quorum, a
         * full queue) is not */
        if (rc != SIGIL_E_UNAVAILABLE && !full)
            audit_sign_refused(c, call, k, NULL, m, rid, rc);
        sigil_coord_idem_drop(c->idem, call->peer->uri, rid.data, rid.len);
        if (r)
            free(r->items);
        free(r);
        return rc;
    }
    if (lead_now)
        lead(c, k);
    return SIGIL_RPC_DEFERRED;
}

static int h_sign(void *ctx, sigil_rpc_call *call)
{
    return h_sign_common(ctx, call, 0);
}

static int h_sign_batch(void *ctx, sigil_rpc_call *call)
{
    return h_sign_common(ctx, call, 1);
}

/* ---- key generation (admin) ---- */

/* Keygen approvals (sigil-ceremony): when the config sets
 * "keygen_approvals", a Keygen must carry k-of-m officer approvals over an
 * ApprovalStatement{action "keygen", key_id, params_hash = SHA-256 of the
 * request's fields 1-3 packed alone}; the statement's nonce is then burned
 * (the same used-nonce file as Resume), before the DKG starts. */
/* The configured k-of-m officer policy and the approvals a request carries,
 * ready for sigil_breaker_verify (what: "keygen", "resume", for messages). */
static int approvals_from(sigil_coord *c, sigil_rpc_call *call, const char *what,
                          Sigil__V1__Approval *const *in, size_t n, sigil_breaker_approval *ap,
                          sigil_breaker_policy *pol)
{
    if (c->cfg->num_officers == 0)
        return coord_detail(call, SIGIL_E_PERMISSION, "no officers configured: %s impossible", what);
    if (n > SIGIL_COORD_MAX_OFFICERS)
        return coord_detail(call, SIGIL_E_TOO_LARGE, "too many approvals");
    for (size_t i = 0; i < n; i++) {
        ap[i].officer = in[i]->officer;
        ap[i].signature = in[i]->signature.data;
        ap[i].signature_len = in[i]->signature.len;
    }
    pol->officers = c->officers;
    pol->m = c->cfg->num_officers;
    pol->k = c->cfg->approvals_required;
    pol->cluster_id = c->cfg->cluster_id;
    pol->max_lifetime_s = 3600;
    return SIGIL_OK;
}

static int keygen_approved(sigil_coord *c, sigil_rpc_call *call,
                           const Sigil__V1__KeygenRequest *req)
{
    Sigil__V1__KeygenRequest p = SIGIL__V1__KEYGEN_REQUEST__INIT;
    sigil_breaker_approval ap[SIGIL_COORD_MAX_OFFICERS];
    sigil_breaker_policy pol;
    sigil_breaker_statement stmt;
    uint8_t h[crypto_hash_sha256_BYTES];
    uint64_t now = (uint64_t)time(NULL), epoch;
    sigil_buf b;
    int rc;

    if (!c->cfg->keygen_approvals)
        return SIGIL_OK;
    if ((rc = approvals_from(c, call, "keygen", req->approvals, req->n_approvals, ap, &pol)))
        return rc;
    p.key_id = req->key_id;
    p.scheme = req->scheme;
    p.threshold = req->threshold;
    sigil_buf_init(&b, 4096, 0);
    rc = sigil_rpc_pack(&p.base, &b);
    if (rc == SIGIL_OK)
        crypto_hash_sha256(h, b.data, b.size);
    sigil_buf_free(&b);
    if (rc)
        return coord_detail(call, rc, "keygen request not encodable");
    pthread_mutex_lock(&c->breaker_mu);
    epoch = c->breaker.epoch;
    rc = sigil_breaker_verify(&pol, req->statement.data, req->statement.len, ap,
                              req->n_approvals, "keygen", now, epoch, &stmt);
    if (rc == SIGIL_OK && (strcmp(stmt.key_id, req->key_id ? req->key_id : "") ||
                           stmt.params_hash_len != sizeof h ||
                           sodium_memcmp(stmt.params_hash, h, sizeof h)))
        rc = SIGIL_E_MISMATCH;
    if (rc) {
        pthread_mutex_unlock(&c->breaker_mu);
        const char *why = rc == SIGIL_E_THRESHOLD   ? "too few approvals"
                          : rc == SIGIL_E_PERMISSION  ? "an approval names an officer not configured"
                          : rc == SIGIL_E_PARTICIPANT ? "two approvals by the same officer"
                          : rc == SIGIL_E_SIGNATURE   ? "an approval signature does not verify"
                          : rc == SIGIL_E_ENCODING    ? "the statement is missing or does not decode"
                          : rc == SIGIL_E_MISMATCH
                              ? "the statement is for another action, cluster, key or parameters"
                          : rc == SIGIL_E_EXPIRED
                              ? "the statement has expired (or expires too far ahead)"
                              : sigil_strerror(rc);
        return coord_detail(call, rc,
                      "keygen refused: %s (needs %u approvals by distinct configured officers "
                      "over action \"keygen\", cluster \"%s\", this key id and parameters)",
                      why, c->cfg->approvals_required, c->cfg->cluster_id);
    }
    rc = sigil_breaker_nonces_use(c->nonces, stmt.nonce, stmt.expires_unix, now);
    pthread_mutex_unlock(&c->breaker_mu);
    if (rc)
        return coord_detail(call, rc, "keygen refused: %s",
                      rc == SIGIL_E_REPLAY ? "this approval statement was used before"
                                           : sigil_strerror(rc));
    return SIGIL_OK;
}

static int h_keygen(void *ctx, sigil_rpc_call *call)
{
    sigil_coord *c = ctx;
    const Sigil__V1__KeygenRequest *req = (const Sigil__V1__KeygenRequest *)call->req;
    Sigil__V1__KeygenResponse resp = SIGIL__V1__KEYGEN_RESPONSE__INIT;
    Sigil__V1__KeyInfo ki = SIGIL__V1__KEY_INFO__INIT;
    coord_session s;
    sigil_buf starts[SIGIL_COORD_MAX_NODES], bodies[SIGIL_COORD_MAX_NODES];
    sigil_env_dkg_result res[SIGIL_COORD_MAX_NODES];
    uint32_t parties[SIGIL_COORD_MAX_NODES];
    sigil_keyshare pub;
    sigil_coord_key info;
    key_rt *k = NULL;
    uint32_t t = req->threshold ? req->threshold : c->cfg->threshold;
    size_t n = c->cfg->num_nodes;
    int rc = SIGIL_OK;

    memset(&s, 0, sizeof s);
    memset(&pub, 0, sizeof pub);
    if (atomic_load(&c->halted))
        return halted_detail(c, call);
    if (!sigil_coord_scheme_name((int)req->scheme))
        return coord_detail(call, SIGIL_E_INVALID, "unknown scheme %d", (int)req->scheme);
    if (t < 1 || t > n || n < 2)
        return coord_detail(call, SIGIL_E_THRESHOLD, "threshold %u with %zu nodes", t, n);
    if (keys_find(c, call->key_id))
        return coord_detail(call, SIGIL_E_EXISTS, "key '%s' exists", call->key_id);
    if ((rc = keygen_approved(c, call, req)))
        return rc;
    for (size_t i = 0; i < n; i++) {
        parties[i] = c->nodes[i].cfg->id;
        s.nodes[i] = &c->nodes[i];
        if ((rc = ensure_peer(c, &c->nodes[i])))
            return coord_detail(call, SIGIL_E_UNAVAILABLE,
                          "node %u unreachable: every node takes part in key generation",
                          parties[i]);
    }
    s.count = n;
    randombytes_buf(s.session_id, 32);
    for (size_t i = 0; i < n; i++) {
        Sigil__V1__StartSessionRequest r = SIGIL__V1__START_SESSION_REQUEST__INIT;
        sigil_buf_init(&starts[i], 65536, 0);
        sigil_buf_init(&bodies[i], RESP_MAX, 0);
        r.session_id.data = s.session_id;
        r.session_id.len = 32;
        r.kind = SIGIL__V1__SESSION_KIND__SESSION_KIND_DKG;
        r.key_id = call->key_id[0] ? (char *)call->key_id : "";
        r.scheme = req->scheme;
        r.threshold = t;
        r.num_parties = (uint32_t)n;
        r.parties = parties;
        r.n_parties = n;
        if (rc == SIGIL_OK)
            rc = sigil_rpc_pack(&r.base, &starts[i]);
    }
    memset(res, 0, sizeof res);
    if (rc == SIGIL_OK && (rc = coord_session_run(&s, starts, c->cfg->keygen_timeout_ms, 16)))
        coord_detail(call, rc, "key generation failed: %s", s.detail);
    for (size_t i = 0; rc == SIGIL_OK && i < n; i++) {
        Sigil__V1__SessionResponse *f = s.final[i];
        if (f->n_results != 1 ||
            open_env(c, f->results[0], parties[i], SIGIL_ENV_RESULT, s.session_id, &bodies[i]) ||
            sigil_env_dkg_result_decode(&res[i], bodies[i].data, bodies[i].size) ||
            res[i].scheme != req->scheme || strcmp(res[i].key_id, call->key_id))
            rc = coord_detail(call, SIGIL_E_CONFIRM, "node %u: bad key generation result", parties[i]);
    }
    /* the key is registered only when every node's confirmation agrees */
    if (rc == SIGIL_OK && (rc = sigil_env_dkg_results_agree(res, n, &pub)))
        coord_detail(call, rc, "the nodes' confirmations disagree: key not registered");
    if (rc == SIGIL_OK) {
        memset(&info, 0, sizeof info);
        snprintf(info.key_id, sizeof info.key_id, "%s", call->key_id);
        info.scheme = (int)req->scheme;
        if (res[0].public_key_len > SIGIL_COORD_PK_MAX ||
            res[0].public_package_len > SIGIL_COORD_PACKAGE_MAX) {
            rc = SIGIL_E_TOO_LARGE;
        } else {
            memcpy(info.public_key, res[0].public_key, res[0].public_key_len);
            info.pk_len = res[0].public_key_len;
            memcpy(info.package, res[0].public_package, res[0].public_package_len);
            info.package_len = res[0].public_package_len;
            info.threshold = t;
            info.num_parties = (uint32_t)n;
            memcpy(info.parties, parties, n * sizeof *parties);
            info.state = SIGIL__V1__KEY_STATE__KEY_STATE_ACTIVE;
            info.created_unix = (uint64_t)time(NULL);
            info.share_version = 1;
            rc = key_rt_new(c, &info, &k);
        }
        if (rc == SIGIL_OK &&
            (rc = audit_event(c, SIGIL_AUDIT_KEYGEN, call->peer->uri, info.key_id, info.scheme,
                              info.public_key, info.pk_len, NULL)))
            coord_detail(call, SIGIL_E_UNAVAILABLE, "audit log unavailable: key not registered");
        if (rc == SIGIL_OK && (rc = sigil_coord_registry_add(c->registry, &info)))
            coord_detail(call, rc, "key registry not written: %s", sigil_strerror(rc));
        if (rc == SIGIL_OK && (rc = keys_add(c, k)) == SIGIL_OK)
            k = NULL;
    }
    if (rc == SIGIL_OK) {
        key_rt *nk = keys_find(c, call->key_id);
        fill_key_info(&ki, nk);
        resp.key = &ki;
        rc = sigil_rpc_pack(&resp.base, call->resp);
        filler_kick(c);
    }
    key_rt_free(k);
    sigil_keyshare_free(&pub);
    coord_session_clear(&s);
    for (size_t i = 0; i < n; i++) {
        sigil_buf_free(&starts[i]);
        sigil_buf_free(&bodies[i]);
    }
    return rc;
}

/* ---- admin API: the breaker ---- */

/* Forward a packed admin request to every node and fill PeerResults. */
static void forward_admin(sigil_coord *c, const char *method, const ProtobufCMessage *req,
                          Sigil__V1__PeerResult *pr, Sigil__V1__PeerResult **prp, char (*det)[200])
{
    coord_node *nodes[SIGIL_COORD_MAX_NODES];
    sigil_buf reqs[SIGIL_COORD_MAX_NODES];
    int rcs[SIGIL_COORD_MAX_NODES];
    sigil_rpc_status st[SIGIL_COORD_MAX_NODES];
    size_t n = c->cfg->num_nodes;
    sigil_buf b;
    sigil_buf_init(&b, 65536, 0);
    int prc = sigil_rpc_pack(req, &b);
    for (size_t i = 0; i < n; i++) {
        nodes[i] = &c->nodes[i];
        reqs[i] = b;
    }
    if (prc == SIGIL_OK)
        coord_fanout(nodes, n, method, reqs, NULL, rcs, st, 1000);
    for (size_t i = 0; i < n; i++) {
        sigil__v1__peer_result__init(&pr[i]);
        pr[i].identity = (char *)c->nodes[i].cfg->identity;
        pr[i].ok = prc == SIGIL_OK && rcs[i] == SIGIL_OK;
        snprintf(det[i], 200, "%.40s%s%.150s", prc ? "not sent" : sigil_rpc_status_name(st[i].code),
                 st[i].detail[0] ? ": " : "", st[i].detail);
        pr[i].detail = det[i];
        prp[i] = &pr[i];
    }
    sigil_buf_free(&b);
}

static int h_halt(void *ctx, sigil_rpc_call *call)
{
    sigil_coord *c = ctx;
    const Sigil__V1__HaltRequest *req = (const Sigil__V1__HaltRequest *)call->req;
    Sigil__V1__HaltResponse resp = SIGIL__V1__HALT_RESPONSE__INIT;
    Sigil__V1__PeerResult pr[SIGIL_COORD_MAX_NODES], *prp[SIGIL_COORD_MAX_NODES];
    char det[SIGIL_COORD_MAX_NODES][200];
    sigil_coord_breaker_state st;
    int rc;

    /* stop signing at once, before anything else */
    atomic_store(&c->halted, 1);
    pthread_mutex_lock(&c->breaker_mu);
    st = c->breaker;
    if (!st.halted) {
        st.halted = 1;
        st.epoch++;
        snprintf(st.by, sizeof st.by, "%s", call->peer->uri);
        snprintf(st.reason, sizeof st.reason, "%s", req->reason ? req->reason : "");
        st.at_unix_ms = unix_ms();
    }
    rc = sigil_coord_breaker_save(c->breaker_path, &st);
    if (rc == SIGIL_OK)
        c->breaker = st;
    pthread_mutex_unlock(&c->breaker_mu);
    if (rc)
        return coord_detail(call, rc, "halted in memory, but the halted state was not persisted: %s",
                      sigil_strerror(rc));
    if ((rc = audit_event(c, SIGIL_AUDIT_HALT, call->peer->uri, NULL, 0, NULL, 0, st.reason)))
        fprintf(stderr, "sigil-coordinator: halt (epoch %" PRIu64 ") not in the audit log: %s\n",
                st.epoch, sigil_strerror(rc));
    resp.halted = 1;
    resp.halt_epoch = st.epoch;
    resp.halted_at_unix_ms = st.at_unix_ms;
    if (!req->local_only) {
        Sigil__V1__HaltRequest fwd = SIGIL__V1__HALT_REQUEST__INIT;
        char reason[400];
        snprintf(reason, sizeof reason, "%.200s (via coordinator, halted by %.96s)", st.reason, st.by);
        fwd.reason = reason;
        fwd.local_only = 1;
        forward_admin(c, SIGIL_RPC_ADMIN_HALT, &fwd.base, pr, prp, det);
        resp.peers = prp;
        resp.n_peers = c->cfg->num_nodes;
    }
    return sigil_rpc_pack(&resp.base, call->resp);
}

static int h_resume(void *ctx, sigil_rpc_call *call)
{
    sigil_coord *c = ctx;
    const Sigil__V1__ResumeRequest *req = (const Sigil__V1__ResumeRequest *)call->req;
    Sigil__V1__ResumeResponse resp = SIGIL__V1__RESUME_RESPONSE__INIT;
    Sigil__V1__PeerResult pr[SIGIL_COORD_MAX_NODES], *prp[SIGIL_COORD_MAX_NODES];
    char det[SIGIL_COORD_MAX_NODES][200];
    sigil_breaker_approval ap[SIGIL_COORD_MAX_OFFICERS];
    sigil_breaker_policy pol;
    sigil_breaker_statement stmt;
    sigil_coord_breaker_state st;
    uint64_t now = (uint64_t)time(NULL);
    int rc;

    if ((rc = approvals_from(c, call, "resume", req->approvals, req->n_approvals, ap, &pol)))
        return rc;

    pthread_mutex_lock(&c->breaker_mu);
    st = c->breaker;
    if (!st.halted) {
        pthread_mutex_unlock(&c->breaker_mu);
        return coord_detail(call, SIGIL_E_STATE, "not halted");
    }
    rc = sigil_breaker_verify(&pol, req->statement.data, req->statement.len, ap,
                              req->n_approvals, "resume", now, st.epoch, &stmt);
    if (rc) {
        pthread_mutex_unlock(&c->breaker_mu);
        const char *why = rc == SIGIL_E_THRESHOLD   ? "too few approvals"
                          : rc == SIGIL_E_PERMISSION  ? "an approval names an officer not configured"
                          : rc == SIGIL_E_PARTICIPANT ? "two approvals by the same officer"
                          : rc == SIGIL_E_SIGNATURE   ? "an approval signature does not verify"
                          : rc == SIGIL_E_ENCODING    ? "the statement does not decode"
                          : rc == SIGIL_E_MISMATCH
                              ? "the statement is for another action, cluster or halt epoch"
                          : rc == SIGIL_E_EXPIRED
                              ? "the statement has expired (or expires too far ahead)"
                              : sigil_strerror(rc);
        return coord_detail(call, rc,
                      "resume refused: %s (needs %u approvals by distinct configured officers "
                      "over action \"resume\", cluster \"%s\", halt epoch 0 or %" PRIu64 ")",
                      why, c->cfg->approvals_required, c->cfg->cluster_id, st.epoch);
    }
    rc = sigil_breaker_nonces_use(c->nonces, stmt.nonce, stmt.expires_unix, now);
    if (rc) {
        pthread_mutex_unlock(&c->breaker_mu);
        return coord_detail(call, rc, "resume refused: %s",
                      rc == SIGIL_E_REPLAY ? "this approval statement was used before"
                                           : sigil_strerror(rc));
    }
    {
        uint8_t sh[32];
        crypto_hash_sha256(sh, req->statement.data, req->statement.len);
        if ((rc = audit_event(c, SIGIL_AUDIT_RESUME, call->peer->uri, NULL, 0, sh, 32, NULL))) {
            pthread_mutex_unlock(&c->breaker_mu);
            return coord_detail(call, SIGIL_E_UNAVAILABLE, "audit log unavailable: still halted");
        }
    }
    st.halted = 0;
    rc = sigil_coord_breaker_save(c->breaker_path, &st);
    if (rc == SIGIL_OK) {
        c->breaker = st;
        atomic_store(&c->halted, 0);
    }
    pthread_mutex_unlock(&c->breaker_mu);
    if (rc)
        return coord_detail(call, rc, "resume not persisted; still halted");
    resp.halted = 0;
    resp.halt_epoch = st.epoch;
    if (!req->local_only) {
        Sigil__V1__ResumeRequest fwd = *req;
        fwd.local_only = 1;
        forward_admin(c, SIGIL_RPC_ADMIN_RESUME, &fwd.base, pr, prp, det);
        resp.peers = prp;
        resp.n_peers = c->cfg->num_nodes;
    }
    filler_kick(c);
    return sigil_rpc_pack(&resp.base, call->resp);
}

static int h_status(void *ctx, sigil_rpc_call *call)
{
    sigil_coord *c = ctx;
    Sigil__V1__AdminStatusResponse resp = SIGIL__V1__ADMIN_STATUS_RESPONSE__INIT;
    sigil_coord_breaker_state st;
    pthread_mutex_lock(&c->breaker_mu);
    st = c->breaker;
    pthread_mutex_unlock(&c->breaker_mu);
    resp.identity = "sigil://coordinator";
    resp.halted = st.halted;
    resp.halt_epoch = st.epoch;
    resp.halted_by = st.by;
    resp.reason = st.reason;
    resp.halted_at_unix_ms = st.at_unix_ms;
    resp.approvals_required = c->cfg->approvals_required;
    resp.officers = (uint32_t)c->cfg->num_officers;
    resp.cluster_id = (char *)c->cfg->cluster_id;
    return sigil_rpc_pack(&resp.base, call->resp);
}

static int h_health(void *ctx, sigil_rpc_call *call)
{
    sigil_coord *c = ctx;
    Sigil__V1__HealthResponse resp = SIGIL__V1__HEALTH_RESPONSE__INIT;
    Sigil__V1__ComponentHealth comp[SIGIL_COORD_MAX_NODES], *cp[SIGIL_COORD_MAX_NODES + 2];
    char names[SIGIL_COORD_MAX_NODES][32];
    size_t healthy = 0;
    for (size_t i = 0; i < c->cfg->num_nodes; i++) {
        sigil__v1__component_health__init(&comp[i]);
        snprintf(names[i], sizeof names[i], "node/%u", c->nodes[i].cfg->id);
        comp[i].name = names[i];
        comp[i].ok = coord_node_healthy(&c->nodes[i]);
        comp[i].detail = comp[i].ok ? "reachable" : "failing; backing off";
        healthy += comp[i].ok;
        cp[i] = &comp[i];
    }
    Sigil__V1__ComponentHealth ac = SIGIL__V1__COMPONENT_HEALTH__INIT;
    char adetail[160];
    size_t nc = c->cfg->num_nodes;
    ac.name = "audit-log";
    if (c->cfg->audit) {
        sigil_audit_stats as;
        int err = audit_state(c, &as);
        /* reopened after a failure but nothing written since (a still-full
         * disk fails again at the next append): not recovered yet */
        int reopened = err == SIGIL_OK && atomic_load(&c->audit_down);
        ac.ok = err == SIGIL_OK && !reopened;
        snprintf(adetail, sizeof adetail, "%" PRIu64 " entries, checkpoint at %" PRIu64 "%s%s",
                 as.size, as.checkpoint_size, ac.ok ? "" : "; FAILED, signing refused: ",
                 ac.ok ? "" : reopened ? "reopened, no entry written since the failure"
                                       : sigil_errname(as.error));
        if (!ac.ok)
            healthy = 0;
    } else {
        ac.ok = 1;
        snprintf(adetail, sizeof adetail, "not configured");
    }
    ac.detail = adetail;
    cp[nc++] = &ac;
    /* the Sign queues: load, not health (always ok) */
    Sigil__V1__ComponentHealth qc = SIGIL__V1__COMPONENT_HEALTH__INIT;
    char qdetail[320];
    size_t queued = 0;
    pthread_rwlock_rdlock(&c->keys_mu);
    for (size_t i = 0; i < c->nkeys; i++) {
        pthread_mutex_lock(&c->keys[i]->bmu);
        queued += c->keys[i]->bqueued;
        pthread_mutex_unlock(&c->keys[i]->bmu);
    }
    pthread_rwlock_unlock(&c->keys_mu);
    snprintf(qdetail, sizeof qdetail,
             "%zu items queued (queue_max %u per key); since start %" PRIu64
             " requests refused with the queue full, %" PRIu64
             " not signed because the caller's deadline passed while queued",
             queued, c->cfg->queue_max, (uint64_t)atomic_load(&c->shed),
             (uint64_t)atomic_load(&c->expired));
    qc.name = "sign-queue";
    qc.ok = 1;
    qc.detail = qdetail;
    cp[nc++] = &qc;
    resp.components = cp;
    resp.n_components = nc;
    resp.version = "sigil-coordinator 0.1";
    resp.status = atomic_load(&c->halted) ? SIGIL__V1__SERVING_STATUS__SERVING_STATUS_HALTED
                  : healthy >= c->cfg->threshold
                      ? SIGIL__V1__SERVING_STATUS__SERVING_STATUS_SERVING
                      : SIGIL__V1__SERVING_STATUS__SERVING_STATUS_NOT_SERVING;
    return sigil_rpc_pack(&resp.base, call->resp);
}

/* ---- lifecycle ---- */

int sigil_coord_new(const sigil_coord_config *cfg, sigil_coord **out)
{
    sigil_coord *c;
    char path[SIGIL_COORD_PATH_MAX + 32];
    int rc;

    if (!cfg || !out)
        return SIGIL_E_INVALID;
    if (sodium_init() < 0 || sigil_mpc_init() != SIGIL_OK)
        return SIGIL_E_CRYPTO;
    c = calloc(1, sizeof *c);
    if (!c)
        return SIGIL_E_NOMEM;
    c->cfg = cfg;
    pthread_mutex_init(&c->breaker_mu, NULL);
    pthread_mutex_init(&c->peers_mu, NULL);
    pthread_mutex_init(&c->fill_mu, NULL);
    pthread_cond_init(&c->fill_cv, NULL);
    pthread_rwlock_init(&c->keys_mu, NULL);
    {
        /* writer-preferring: a steady stream of appenders must not starve
         * the reopen that recovers a failed log */
        pthread_rwlockattr_t ra;
        pthread_rwlockattr_init(&ra);
        pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
        pthread_rwlock_init(&c->audit_mu, &ra);
        pthread_rwlockattr_destroy(&ra);
    }
    pthread_mutex_init(&c->audit_wmu, NULL);
    pthread_cond_init(&c->audit_wcv, NULL);

    snprintf(c->breaker_path, sizeof c->breaker_path, "%s/breaker.json", cfg->state_dir);
    snprintf(c->nonces_path, sizeof c->nonces_path, "%s/resume-nonces", cfg->state_dir);
    snprintf(path, sizeof path, "%s/keys.json", cfg->state_dir);
    (void)sigil_file_clean_temps(c->breaker_path, NULL);
    (void)sigil_file_clean_temps(path, NULL);
    if ((rc = sigil_coord_breaker_load(c->breaker_path, &c->breaker)))
        goto fail;
    atomic_store(&c->halted, c->breaker.halted);
    if ((rc = sigil_breaker_nonces_open(&c->nonces, c->nonces_path)))
        goto fail;
    for (size_t i = 0; i < cfg->num_officers; i++) {
        snprintf(c->officers[i].name, sizeof c->officers[i].name, "%s", cfg->officers[i].name);
        memcpy(c->officers[i].pk, cfg->officers[i].public_key, 32);
    }
    if ((rc = sigil_coord_registry_open(path, &c->registry)) ||
        (rc = sigil_coord_idem_new(cfg->idem_capacity, &c->idem)) ||
        (rc = sigil_env_peers_new(&c->peers)))
        goto fail;

    /* audit log, checkpoints signed by the token's key */
    if (cfg->audit) {
        sigil_hsm_config hc = {0};
        sigil_audit_config *ac = &c->audit_cfg;
        hc.module_path = cfg->pkcs11_module[0] ? cfg->pkcs11_module : NULL;
        hc.token_label = cfg->audit_token;
        hc.pin_file = cfg->audit_pin_file;
        if ((rc = sigil_hsm_open(&c->hsm, &hc)) ||
            (rc = sigil_audit_signer_hsm(&c->signer, c->hsm, cfg->audit_key_label,
                                         cfg->audit_origin)))
            goto fail;
        c->signer_set = 1;
        ac->backend = SIGIL_AUDIT_BACKEND_FILE;
        ac->path = cfg->audit_dir;
        ac->origin = cfg->audit_origin;
        ac->signer = &c->signer;
        if ((rc = sigil_audit_log_open(ac, &c->audit)))
            goto fail;
        /* the configuration this run uses, by its SHA-256: a change between
         * runs shows in the log. Fail-closed like every other record. */
        if (cfg->has_config_sha256 &&
            (rc = audit_event(c, SIGIL_AUDIT_CONFIG, "local:config", NULL, 0, cfg->config_sha256,
                              32, NULL))) {
            fprintf(stderr, "sigil-coordinator: cannot record the configuration in the audit "
                            "log: %s\n", sigil_errname(rc));
            goto fail;
        }
        if (pthread_create(&c->audit_watch, NULL, audit_watch_main, c)) {
            rc = SIGIL_E_NOMEM;
            goto fail;
        }
        c->audit_watch_started = 1;
    }

    /* authorization table */
    if ((rc = sigil_rpc_authz_new(&c->authz)))
        goto fail;
    for (size_t i = 0; i < cfg->num_rules; i++)
        if ((rc = sigil_rpc_authz_allow(c->authz, cfg->rules[i].identity, cfg->rules[i].method,
                                        cfg->rules[i].key)))
            goto fail;

    /* node clients (connect lazily) */
    for (size_t i = 0; i < cfg->num_nodes; i++) {
        sigil_rpc_client_config cc = {0};
        c->nodes[i].cfg = &cfg->nodes[i];
        c->nodes[i].peers = c->peers;
        cc.target = cfg->nodes[i].address;
        cc.tls = (sigil_rpc_tls){cfg->ca_file, cfg->cert_file, cfg->key_file};
        cc.expect_identity = cfg->nodes[i].identity;
        cc.max_message = RESP_MAX;
        if ((rc = sigil_rpc_client_new(&cc, &c->nodes[i].client)))
            goto fail;
        if (cfg->nodes[i].has_identity_pk &&
            (rc = sigil_env_peers_add(c->peers, cfg->nodes[i].id, cfg->nodes[i].identity_pk)))
            goto fail;
    }

    /* keys */
    sigil_coord_key *keys = NULL;
    size_t nk = 0;
    if ((rc = sigil_coord_registry_list(c->registry, &keys, &nk)))
        goto fail;
    for (size_t i = 0; i < nk && rc == SIGIL_OK; i++) {
        key_rt *k = NULL;
        rc = key_rt_new(c, &keys[i], &k);
        if (rc == SIGIL_OK && (rc = keys_add(c, k)))
            key_rt_free(k);
    }
    free(keys);
    if (rc)
        goto fail;
    *out = c;
    return SIGIL_OK;
fail:
    sigil_coord_free(c);
    return rc;
}

int sigil_coord_start(sigil_coord *c, int *port)
{
    sigil_rpc_server_config sc = {0};
    int rc;
    if (!c || c->server)
        return SIGIL_E_INVALID;
    sc.listen = c->cfg->listen;
    sc.tls = (sigil_rpc_tls){c->cfg->ca_file, c->cfg->cert_file, c->cfg->key_file};
    sc.authz = c->authz;
    sc.max_message = RESP_MAX;
    sc.threads = c->cfg->server_threads;
    if ((rc = sigil_rpc_server_new(&sc, &c->server)))
        return rc;
    size_t one = 64u * 1024u + 4096u, batch = (size_t)c->cfg->max_batch * (one + 16) + 4096;
    if (batch > RESP_MAX)
        batch = RESP_MAX;
    if ((rc = sigil_rpc_server_add(c->server, SIGIL_RPC_WALLET_LIST_KEYS,
                                   &sigil__v1__list_keys_request__descriptor, 4096, h_list_keys,
                                   c)) ||
        (rc = sigil_rpc_server_add(c->server, SIGIL_RPC_WALLET_GET_PUBLIC_KEY,
                                   &sigil__v1__get_public_key_request__descriptor, 4096,
                                   h_get_public_key, c)) ||
        (rc = sigil_rpc_server_add(c->server, SIGIL_RPC_WALLET_SIGN,
                                   &sigil__v1__sign_request__descriptor, one, h_sign, c)) ||
        (rc = sigil_rpc_server_add(c->server, SIGIL_RPC_WALLET_SIGN_BATCH,
                                   &sigil__v1__sign_batch_request__descriptor, batch, h_sign_batch,
                                   c)) ||
        (rc = sigil_rpc_server_add(c->server, SIGIL_RPC_ADMIN_HALT,
                                   &sigil__v1__halt_request__descriptor, 4096, h_halt, c)) ||
        (rc = sigil_rpc_server_add(c->server, SIGIL_RPC_ADMIN_RESUME,
                                   &sigil__v1__resume_request__descriptor, 65536, h_resume, c)) ||
        (rc = sigil_rpc_server_add(c->server, SIGIL_RPC_ADMIN_STATUS,
                                   &sigil__v1__admin_status_request__descriptor, 1024, h_status,
                                   c)) ||
        (rc = sigil_rpc_server_add(c->server, SIGIL_RPC_ADMIN_HEALTH,
                                   &sigil__v1__health_request__descriptor, 1024, h_health, c)) ||
        (rc = sigil_rpc_server_add(c->server, ADMIN_KEYGEN, &sigil__v1__keygen_request__descriptor,
                                   16384, h_keygen, c)) ||
        (rc = coord_import_register(c, c->server)) || /* import.c */
        (rc = coord_lifecycle_register(c, c->server)))
        return rc;
    if ((rc = sigil_rpc_server_start(c->server, port)))
        return rc;
    if (pthread_create(&c->filler, NULL, filler_main, c) == 0)
        c->filler_started = 1;
    return SIGIL_OK;
}

void sigil_coord_free(sigil_coord *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->fill_mu);
    c->stop = 1;
    pthread_cond_broadcast(&c->fill_cv);
    pthread_mutex_unlock(&c->fill_mu);
    if (c->filler_started)
        pthread_join(c->filler, NULL);
    sigil_rpc_server_free(c->server);
    pthread_mutex_lock(&c->audit_wmu);
    c->audit_stop = 1;
    pthread_cond_broadcast(&c->audit_wcv);
    pthread_mutex_unlock(&c->audit_wmu);
    if (c->audit_watch_started)
        pthread_join(c->audit_watch, NULL);
    if (c->audit)
        sigil_audit_log_close(c->audit);
    if (c->signer_set)
        sigil_audit_signer_free(&c->signer);
    sigil_hsm_close(c->hsm);
    for (size_t i = 0; i < c->nkeys; i++)
        key_rt_free(c->keys[i]);
    free(c->keys);
    for (size_t i = 0; i < c->nreplaced; i++)
        key_rt_free(c->replaced[i]);
    free(c->replaced);
    for (size_t i = 0; i < SIGIL_COORD_MAX_NODES; i++)
        sigil_rpc_client_free(c->nodes[i].client);
    sigil_env_peers_free(c->peers);
    sigil_rpc_authz_free(c->authz);
    sigil_coord_idem_free(c->idem);
    sigil_coord_registry_free(c->registry);
    sigil_breaker_nonces_free(c->nonces);
    pthread_rwlock_destroy(&c->keys_mu);
    pthread_rwlock_destroy(&c->audit_mu);
    pthread_cond_destroy(&c->audit_wcv);
    pthread_mutex_destroy(&c->audit_wmu);
    pthread_cond_destroy(&c->fill_cv);
    pthread_mutex_destroy(&c->fill_mu);
    pthread_mutex_destroy(&c->peers_mu);
    pthread_mutex_destroy(&c->breaker_mu);
    free(c);
}

/* ---- hooks for lifecycle.c (Admin/Refresh, Admin/Retire); the names and
 * contracts match the ones the import branch gives import.c ---- */

const sigil_coord_config *coord_cfg(const sigil_coord *c)
{
    return c->cfg;
}

coord_node *coord_node_at(sigil_coord *c, size_t i)
{
    return i < c->cfg->num_nodes ? &c->nodes[i] : NULL;
}

int coord_check_running(sigil_coord *c, sigil_rpc_call *call)
{
    return atomic_load(&c->halted) ? halted_detail(c, call) : SIGIL_OK;
}

int coord_key_exists(sigil_coord *c, const char *key_id)
{
    return keys_find(c, key_id) != NULL;
}

coord_node *coord_node_of(sigil_coord *c, uint32_t id)
{
    return node_by_id(c, id);
}

int coord_ensure_peer(sigil_coord *c, coord_node *n)
{
    return ensure_peer(c, n);
}

int coord_open_result(sigil_coord *c, const Sigil__V1__Envelope *e, uint32_t from,
                      const uint8_t sid[32], sigil_buf *body)
{
    return open_env(c, e, from, SIGIL_ENV_RESULT, sid, body);
}

int coord_approvals_use(sigil_coord *c, sigil_rpc_call *call, const char *action,
                        const ProtobufCBinaryData *statement, Sigil__V1__Approval *const *in,
                        size_t n, const char *key_id, const uint8_t params_hash[32],
                        sigil_breaker_statement *st)
{
    sigil_breaker_approval ap[SIGIL_COORD_MAX_OFFICERS];
    sigil_breaker_policy pol;
    uint64_t now = (uint64_t)time(NULL);
    for (size_t i = 0; i < n; i++)
        if (!in[i] || !in[i]->officer)
            return coord_detail(call, SIGIL_E_ENCODING, "%s refused: approval %zu malformed", action, i);
    int rc = approvals_from(c, call, action, in, n, ap, &pol);
    if (rc)
        return rc;
    pthread_mutex_lock(&c->breaker_mu);
    rc = sigil_breaker_verify(&pol, statement->data, statement->len, ap, n, action, now,
                              c->breaker.epoch, st);
    if (rc == SIGIL_OK && (strcmp(st->key_id, key_id ? key_id : "") || st->params_hash_len != 32 ||
                           sodium_memcmp(st->params_hash, params_hash, 32)))
        rc = SIGIL_E_MISMATCH;
    if (rc == SIGIL_OK) {
        rc = sigil_breaker_nonces_use(c->nonces, st->nonce, st->expires_unix, now);
        pthread_mutex_unlock(&c->breaker_mu);
        if (rc)
            return coord_detail(call, rc, "%s refused: %s", action,
                          rc == SIGIL_E_REPLAY ? "this approval statement was used before"
                                               : sigil_strerror(rc));
        return SIGIL_OK;
    }
    pthread_mutex_unlock(&c->breaker_mu);
    const char *why = rc == SIGIL_E_THRESHOLD     ? "too few approvals"
                      : rc == SIGIL_E_PERMISSION  ? "an approval names an officer not configured"
                      : rc == SIGIL_E_PARTICIPANT ? "two approvals by the same officer"
                      : rc == SIGIL_E_SIGNATURE   ? "an approval signature does not verify"
                      : rc == SIGIL_E_ENCODING    ? "the statement is missing or does not decode"
                      : rc == SIGIL_E_MISMATCH
                          ? "the statement is for another action, cluster, key or parameters"
                      : rc == SIGIL_E_EXPIRED ? "the statement has expired (or expires too far ahead)"
                                              : sigil_strerror(rc);
    return coord_detail(call, rc,
                  "%s refused: %s (needs %u approvals by distinct configured officers over "
                  "action \"%s\", cluster \"%s\", this key id and parameters)",
                  action, why, c->cfg->approvals_required, action, c->cfg->cluster_id);
}

int coord_audit(sigil_coord *c, sigil_audit_entry *e)
{
    if (!c->cfg->audit)
        return SIGIL_OK;
    return audit_append(c, e, 1, NULL);
}

int coord_audit_ceremony(sigil_coord *c, sigil_rpc_call *call, const char *key_id, int scheme,
                         const ProtobufCBinaryData *statement, Sigil__V1__Approval *const *ap,
                         size_t n, const char *what, int rc)
{
    sigil_audit_entry e;
    memset(&e, 0, sizeof e);
    e.version = SIGIL_AUDIT_ENTRY_VERSION;
    e.type = SIGIL_AUDIT_CEREMONY;
    e.actor_len = (uint8_t)snprintf(e.actor, sizeof e.actor, "%s", call->peer->uri);
    if (key_id && key_id[0]) {
        e.key_id_len = (uint8_t)strnlen(key_id, SIGIL_AUDIT_KEYID_MAX);
        memcpy(e.key_id, key_id, e.key_id_len);
    }
    e.scheme = scheme >= 1 && scheme <= 4 ? (uint8_t)scheme : 0;
    crypto_hash_sha256(e.digest, statement->data, statement->len);
    e.digest_len = 32;
    size_t o = (size_t)snprintf(e.request_id, sizeof e.request_id, "%s approvals=", what);
    for (size_t i = 0; i < n && o < sizeof e.request_id; i++) {
        const char *nm = ap[i]->officer ? ap[i]->officer : "";
        int printable = 1;
        for (const char *q = nm; *q; q++)
            printable &= *q > 32 && *q < 127;
        int w = snprintf(e.request_id + o, sizeof e.request_id - o, "%s%s", i ? "," : "",
                         printable ? nm : "?");
        if (w < 0)
            break;
        o += (size_t)w;
    }
    e.request_id_len = (uint8_t)(o >= sizeof e.request_id ? sizeof e.request_id - 1 : o);
    if (rc) {
        e.outcome = SIGIL_AUDIT_OUTCOME_ERROR;
        e.error = rc;
        int l = snprintf(e.errmsg, sizeof e.errmsg, "%s", call->detail[0] ? call->detail : sigil_strerror(rc));
        e.errmsg_len = (uint8_t)(l < 0 ? 0 : (size_t)l >= sizeof e.errmsg ? sizeof e.errmsg - 1 : (size_t)l);
        for (uint8_t i = 0; i < e.errmsg_len; i++)
            if (e.errmsg[i] < 32 || e.errmsg[i] > 126)
                e.errmsg[i] = '?';
    }
    return coord_audit(c, &e);
}

int coord_key_info(sigil_coord *c, const char *key_id, sigil_coord_key *out)
{
    key_rt *k = keys_find(c, key_id);
    if (!k)
        return SIGIL_E_NOT_FOUND;
    *out = k->info;
    return SIGIL_OK;
}

int coord_register_key(sigil_coord *c, sigil_rpc_call *call, const sigil_coord_key *info,
                       Sigil__V1__KeyInfo *ki)
{
    key_rt *k = NULL;
    int rc = key_rt_new(c, info, &k);
    if (rc == SIGIL_OK && (rc = sigil_coord_registry_add(c->registry, info)))
        coord_detail(call, rc, "key registry not written: %s", sigil_strerror(rc));
    if (rc == SIGIL_OK && (rc = keys_add(c, k)) == SIGIL_OK)
        k = NULL;
    key_rt_free(k);
    if (rc)
        return rc;
    fill_key_info(ki, keys_find(c, info->key_id));
    filler_kick(c);
    return SIGIL_OK;
}

int coord_key_replace(sigil_coord *c, const sigil_coord_key *info, int persist)
{
    key_rt *nk = NULL, *old = NULL;
    int rc = key_rt_new(c, info, &nk);
    if (rc == SIGIL_OK && persist)
        rc = sigil_coord_registry_update(c->registry, info);
    if (rc) {
        key_rt_free(nk);
        return rc;
    }
    pthread_rwlock_wrlock(&c->keys_mu);
    key_rt **g = realloc(c->replaced, (c->nreplaced + 1) * sizeof *g);
    if (g)
        c->replaced = g;
    for (size_t i = 0; g && i < c->nkeys; i++)
        if (!strcmp(c->keys[i]->info.key_id, info->key_id)) {
            old = c->keys[i];
            c->keys[i] = nk;
            c->replaced[c->nreplaced++] = old;
            break;
        }
    pthread_rwlock_unlock(&c->keys_mu);
    if (!old) {
        key_rt_free(nk);
        return g ? SIGIL_E_NOT_FOUND : SIGIL_E_NOMEM;
    }
    filler_kick(c);
    return SIGIL_OK;
}
