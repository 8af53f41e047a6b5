/* sigil-node: SESSION_KIND_IMPORT, installing one share of an imported key
 * (sigil/dealing.h). Two steps:
 *
 *   StartSession: check the k-of-m approvals over the import statement
 *     (this node's own officer policy), the dealing (signed by a configured
 *     officer, for this session, key, scheme, parties and this node),
 *     decrypt the share with this process's envelope key, check it against
 *     the dealer's commitments (Feldman) and the approved public key. The
 *     share is then STAGED in locked memory only (nothing on disk) and the
 *     node broadcasts its confirmation (0x03 | id | hash of the public
 *     dealing: key, parameters, commitments), signed by its envelope key.
 *   Round 1: the other n-1 nodes' confirmations. Only when every one
 *     carries the same hash (all nodes were dealt shares of one
 *     polynomial, for the approved key) is the share sealed in the token
 *     (share version 1), written, recorded in the node's audit log, and
 *     the RESULT (DKG result form) returned; the coordinator registers the
 *     key only when every node's RESULT agrees.
 *
 * A refusal by any node aborts the session on every node (the coordinator's
 * session driver): staged shares are zeroized and nothing is stored. Staged
 * imports are few (IMPORT_MAX_PENDING) and expire (IMPORT_PENDING_S). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "node.h"
#include "sigil/breaker.h"
#include "sigil/dealing.h"
#include "sigil/ecdsa.h"
#include "sigil/err.h"
#include "sigil/frost.h"
#include "sigil/hsm.h"

#ifndef DETAIL
#define DETAIL(call, ...) snprintf((call)->detail, sizeof (call)->detail, __VA_ARGS__)
#endif

/* The dealing for this node, decoded and checked against the request. */
static int dealing_ok(node *nd, sigil_rpc_call *call, const Sigil__V1__StartSessionRequest *rq,
                      sigil_dealing *d)
{
    const node_config *cfg = node_cfg(nd);
    const Sigil__V1__Envelope *e = rq->inbound[0];
    if (!e || e->session_id.len != 32 || memcmp(e->session_id.data, rq->session_id.data, 32) ||
        e->round != 0 || e->from != 0 || e->to != cfg->node_id ||
        e->kind != SIGIL__V1__ENVELOPE_KIND__ENVELOPE_KIND_DATA) {
        DETAIL(call, "import: the dealing envelope must be (this session, round 0, from 0, to %u, DATA)",
               cfg->node_id);
        return SIGIL_E_ENCODING;
    }
    int rc = sigil_dealing_decode(d, e->payload.data, e->payload.len);
    if (rc) {
        DETAIL(call, "import: dealing does not decode: %s", sigil_strerror(rc));
        return rc;
    }
    int same = d->scheme == (uint16_t)rq->scheme && !strcmp(d->key_id, rq->key_id) &&
               d->t == rq->threshold && d->n == rq->n_parties && d->to == cfg->node_id &&
               d->public_key_len == rq->params.len &&
               !memcmp(d->public_key, rq->params.data, rq->params.len);
    for (uint32_t i = 0; same && i < d->n; i++)
        same = d->parties[i] == rq->parties[i];
    if (!same) {
        DETAIL(call, "import: the dealing is for another key, scheme, threshold, public key, "
                     "party set or node");
        return SIGIL_E_MISMATCH;
    }
    const uint8_t *opk = NULL;
    for (size_t i = 0; i < cfg->nofficers; i++)
        if (!strcmp(cfg->officers[i].name, d->officer))
            opk = cfg->officers[i].pk;
    if (!opk) {
        DETAIL(call, "import: the dealing is signed by '%.64s', not an officer configured here",
               d->officer);
        return SIGIL_E_PERMISSION;
    }
    if ((rc = sigil_dealing_verify(d, rq->session_id.data, opk))) {
        DETAIL(call, "import: the dealing's signature by officer %.64s does not verify "
                     "(altered in transit?)", d->officer);
        return rc;
    }
    return SIGIL_OK;
}

#define IMPORT_MAX_PENDING 8
#define IMPORT_PENDING_S 300

typedef struct {
    int used;
    time_t created;
    uint8_t sid[32];
    char key_id[SIGIL_ENV_KEY_ID_MAX + 1];
    uint16_t scheme;
    uint32_t t, n, self;
    uint32_t parties[SIGIL_DEALING_MAX_PARTIES];
    uint8_t conf[1 + 32 + 32]; /* own confirmation */
    sigil_keyshare ks;         /* arrays below; secret in secure memory */
    sigil_scalar ids[SIGIL_DEALING_MAX_PARTIES];
    sigil_point verifying[SIGIL_DEALING_MAX_PARTIES];
    sigil_scalar *secret;      /* sodium_malloc */
    uint8_t stmt_hash[32];
    char names[SIGIL_AUDIT_REQID_MAX];
    char officer[SIGIL_DEALING_OFFICER_MAX + 1];
    /* ECDSA: after the confirmations, the pairwise OT setup (rounds 2-4) */
    uint32_t round;                 /* the inbound round expected next */
    uint8_t box[SIGIL_DEALING_MAX_PARTIES][32]; /* peers' envelope box keys */
    sigil_ecdsa_keyshare *eks;
    sigil_ecdsa_setup *setup;
    /* RESTORE of an ECDSA share (backup_node.c): the same confirmation and
     * OT setup rounds, then a PREPARED round (5) before anything commits */
    int mode;                       /* PENDING_IMPORT, _RESTORED, _RENEW */
    uint32_t version;               /* share version kept by the restore */
    node *nd;                       /* to wipe a prepared file on abort */
    struct keyrec *prepared;        /* sealed in keys/<id>.pending, not listed */
    char text[256];                 /* this node's audit record (truncated to fit) */
} pending;

enum { PENDING_IMPORT = 0, PENDING_RESTORED, PENDING_RENEW };

/* One node per process; every access is under the node lock. */
static pending g_pending[IMPORT_MAX_PENDING];

static void pending_drop(pending *p)
{
    if (p->prepared) {
        (void)key_pending_wipe(p->nd, p->key_id); /* never committed */
        key_free(p->prepared);
    }
    if (p->secret)
        sodium_free(p->secret); /* zeroizes */
    sigil_ecdsa_keyshare_free(p->eks);
    sigil_ecdsa_setup_free(p->setup);
    sodium_memzero(p, sizeof *p);
}

static pending *pending_find(const uint8_t *sid, size_t len)
{
    if (len != 32)
        return NULL;
    for (size_t i = 0; i < IMPORT_MAX_PENDING; i++)
        if (g_pending[i].used && !memcmp(g_pending[i].sid, sid, 32))
            return &g_pending[i];
    return NULL;
}

int node_import_owns(const uint8_t *sid, size_t len)
{
    return pending_find(sid, len) != NULL;
}

int node_import_abort(const uint8_t *sid, size_t len)
{
    pending *p = pending_find(sid, len);
    if (!p)
        return 0;
    pending_drop(p);
    return 1;
}

static pending *pending_slot(node *nd, sigil_rpc_call *call, const char *key_id)
{
    time_t now = time(NULL);
    pending *free_slot = NULL;
    for (size_t i = 0; i < IMPORT_MAX_PENDING; i++) {
        pending *p = &g_pending[i];
        if (p->used && now - p->created > IMPORT_PENDING_S)
            pending_drop(p); /* abandoned by its coordinator */
        if (p->used && !strcmp(p->key_id, key_id)) {
            DETAIL(call, "an import of key '%s' is already in progress on node %u", key_id,
                   node_cfg(nd)->node_id);
            return NULL;
        }
        if (!p->used && !free_slot)
            free_slot = p;
    }
    if (!free_slot)
        DETAIL(call, "too many imports in progress");
    return free_slot;
}

/* A free slot for key_id, zeroed, with its secret allocated and marked
 * used (pending_drop from here on failure); NULL with call's detail set. */
static pending *pending_claim(node *nd, sigil_rpc_call *call, const char *key_id, int *rc)
{
    pending *p = pending_slot(nd, call, key_id);
    *rc = p ? SIGIL_OK : SIGIL_E_EXISTS;
    if (!p)
        return NULL;
    memset(p, 0, sizeof *p);
    p->secret = sodium_malloc(sizeof *p->secret);
    if (!p->secret) {
        *rc = SIGIL_E_NOMEM;
        return NULL;
    }
    p->used = 1;
    p->nd = nd;
    return p;
}

int node_import_start(node *nd, sigil_rpc_call *call, const Sigil__V1__StartSessionRequest *rq)
{
    uint16_t scheme = (uint16_t)rq->scheme;
    int ecdsa = scheme == SIGIL_ENV_SCHEME_ECDSA;
    if (scheme < SIGIL_ENV_SCHEME_ED25519 || scheme > SIGIL_ENV_SCHEME_ECDSA) {
        DETAIL(call, "import of scheme %d is not supported by this node", rq->scheme);
        return SIGIL_E_VERSION;
    }
    for (size_t i = 0; ecdsa && i < rq->n_parties; i++)
        if (rq->parties[i] != i + 1 || rq->n_parties > SIGIL_ECDSA_MAX_PARTIES) {
            DETAIL(call, "an ECDSA key needs parties 1..n (n <= %d)", SIGIL_ECDSA_MAX_PARTIES);
            return SIGIL_E_PARTICIPANT;
        }
    if (sigil_rpc_key_id_check(rq->key_id)) {
        DETAIL(call, "import: malformed key id");
        return SIGIL_E_ENCODING;
    }
    if (node_has_key(nd, rq->key_id)) {
        DETAIL(call, "key '%s' already exists on this node", rq->key_id);
        return SIGIL_E_EXISTS;
    }
    uint32_t self;
    int rc = node_parties(nd, call, rq->parties, rq->n_parties, &self);
    if (rc)
        return rc;
    if (rq->num_parties != rq->n_parties || rq->threshold < 2 || rq->threshold > rq->num_parties ||
        rq->n_parties > SIGIL_DEALING_MAX_PARTIES) {
        DETAIL(call, "import: threshold %u of %u parties (an imported key needs 2 <= t <= n)",
               rq->threshold, rq->num_parties);
        return SIGIL_E_THRESHOLD;
    }
    if (rq->n_inbound != 1 || rq->n_items || rq->n_pool_entries) {
        DETAIL(call, "import: StartSession takes exactly one inbound dealing, no items");
        return SIGIL_E_INVALID;
    }
    if (!pending_slot(nd, call, rq->key_id))
        return SIGIL_E_EXISTS; /* before the approvals are used */
    uint8_t stmt_hash[32];
    char names[SIGIL_AUDIT_REQID_MAX];
    uint8_t ph[32];
    if ((rc = sigil_dealing_params_hash(rq->key_id, (uint16_t)rq->scheme, rq->threshold,
                                        rq->num_parties, rq->params.data, rq->params.len, ph)) ||
        (rc = node_approvals_check(nd, call, "import", rq->key_id, ph, rq->statement, rq->approvals,
                                   rq->n_approvals, stmt_hash, names, sizeof names)))
        return rc;
    sigil_dealing d;
    if ((rc = dealing_ok(nd, call, rq, &d)))
        return rc;
    /* the session id is burned before the share is opened */
    if ((rc = node_session_burn(nd, rq->session_id.data))) {
        DETAIL(call, "%s", rc == SIGIL_E_REPLAY ? "session id already seen by this node"
                                                : "cannot record the session id");
        return rc;
    }

    pending *p = pending_claim(nd, call, rq->key_id, &rc);
    if (!p)
        return rc;
    const sigil_group *g = sigil_dealing_group(scheme);
    uint8_t transcript[32], fpk[SIGIL_FROST_PK_MAX];
    sigil_buf conf;
    sigil_buf_view(&conf, NULL, 0);
    rc = sigil_dealing_open_share(&d, rq->session_id.data, node_env_key(nd), p->secret);
    if (rc)
        DETAIL(call, "import: the share does not open with this node's envelope key (%s): "
                     "encrypted to another node or an earlier process of this one?",
               sigil_strerror(rc));
    if (!rc) {
        rc = sigil_dealing_check(&d, p->secret, self, p->verifying, &p->ks.group_pk);
        if (rc)
            DETAIL(call, "import refused by node %u: its share %s; nothing stored",
                   node_cfg(nd)->node_id,
                   rc == SIGIL_E_SHARE ? "does not match the dealer's commitments (Feldman check failed)"
                   : rc == SIGIL_E_MISMATCH ? "comes with commitments to another public key than the approved one"
                                            : sigil_strerror(rc));
    }
    if (!rc) {
        for (uint32_t i = 0; i < d.n; i++)
            sigil_scalar_set_u64(g, &p->ids[i], d.parties[i]);
        p->ks.g = g;
        p->ks.t = d.t;
        p->ks.n = d.n;
        p->ks.ids = p->ids;
        p->ks.verifying = p->verifying;
        p->ks.self = self;
        p->ks.secret = p->secret;
        if (ecdsa) {
            /* DKLs23 re-checks x_i*G == X_i and every t-subset's group key */
            rc = sigil_ecdsa_keyshare_from_dkg_share(&p->eks, &p->ks);
            if (!rc) {
                sigil_ecdsa_keyshare_pubkey(p->eks, fpk);
                if (rq->params.len != 33 || memcmp(fpk, rq->params.data, 33))
                    rc = SIGIL_E_MISMATCH;
            }
        } else {
            rc = sigil_frost_prepare_key((sigil_frost_suite)scheme, &p->ks);
            if (!rc) rc = sigil_frost_public_key((sigil_frost_suite)scheme, &p->ks, fpk);
            if (!rc && (sigil_frost_pk_len((sigil_frost_suite)scheme) != rq->params.len ||
                        memcmp(fpk, rq->params.data, rq->params.len)))
                rc = SIGIL_E_MISMATCH;
        }
    }
    if (rc == SIGIL_E_MISMATCH) {
        DETAIL(call, "import: the shared key is not the approved public key");
        rc = SIGIL_E_MISMATCH;
    }
    if (!rc) rc = sigil_dealing_transcript(&d, rq->session_id.data, transcript);
    if (!rc) rc = sigil_buf_init(&conf, sizeof p->conf, 0);
    if (!rc) rc = sigil_dealing_confirmation(&d, self, transcript, &conf);
    if (!rc && conf.size != sizeof p->conf) rc = SIGIL_E_ENCODING;
    if (!rc) {
        memcpy(p->conf, conf.data, sizeof p->conf);
        p->created = time(NULL);
        memcpy(p->sid, rq->session_id.data, 32);
        snprintf(p->key_id, sizeof p->key_id, "%s", d.key_id);
        p->scheme = scheme;
        p->t = d.t;
        p->n = d.n;
        p->self = self;
        memcpy(p->parties, d.parties, d.n * sizeof *d.parties);
        memcpy(p->stmt_hash, stmt_hash, 32);
        snprintf(p->names, sizeof p->names, "%s", names);
        snprintf(p->officer, sizeof p->officer, "%s", d.officer);
        snprintf(p->text, sizeof p->text, "import-installed approvals=%s dealer=%s", names, d.officer);
        p->round = 1;
        rc = node_respond_bcast(nd, call, p->sid, 1, p->conf, sizeof p->conf);
    }
    sigil_buf_free(&conf);
    if (rc)
        pending_drop(p);
    return rc;
}

/* node_import_restore_begin: see node.h */
int node_import_restore_begin(node *nd, sigil_rpc_call *call, const uint8_t sid[32],
                              const char *key_id, const sigil_keyshare *ks, int restored,
                              uint32_t version, const uint8_t stmt_hash[32],
                              const uint8_t section_hash[32], const char *names, const char *text)
{
    if (ks->n < 2 || ks->n > SIGIL_DEALING_MAX_PARTIES || ks->self >= ks->n || !ks->secret) {
        DETAIL(call, "restore: %u parties: not an ECDSA key this node can set up", ks->n);
        return SIGIL_E_PARTICIPANT;
    }
    int rc;
    pending *p = pending_claim(nd, call, key_id, &rc);
    if (!p)
        return rc;
    *p->secret = *ks->secret;
    p->ks = *ks;
    memcpy(p->ids, ks->ids, ks->n * sizeof *ks->ids);
    memcpy(p->verifying, ks->verifying, ks->n * sizeof *ks->verifying);
    p->ks.ids = p->ids;
    p->ks.verifying = p->verifying;
    p->ks.secret = p->secret;
    /* DKLs23 re-checks x_i*G == X_i, ids 1..n and every t-subset's group key */
    rc = sigil_ecdsa_keyshare_from_dkg_share(&p->eks, &p->ks);
    if (rc)
        DETAIL(call, "restore: the share does not fit the key's public package: %s", sigil_strerror(rc));
    /* confirmation: 0x03 | own id | H(session, statement, section): every
     * share holder must confirm the same restore before any OT runs */
    if (!rc) {
        crypto_hash_sha256_state h;
        static const char tag[] = "sigil.v1.restore-ot-setup";
        p->conf[0] = 0x03;
        sigil_scalar_serialize(p->ks.g, p->conf + 1, &p->ids[ks->self]);
        crypto_hash_sha256_init(&h);
        crypto_hash_sha256_update(&h, (const uint8_t *)tag, sizeof tag);
        crypto_hash_sha256_update(&h, sid, 32);
        crypto_hash_sha256_update(&h, stmt_hash, 32);
        crypto_hash_sha256_update(&h, section_hash, 32);
        crypto_hash_sha256_final(&h, p->conf + 33);
        p->created = time(NULL);
        memcpy(p->sid, sid, 32);
        snprintf(p->key_id, sizeof p->key_id, "%s", key_id);
        p->scheme = SIGIL_ENV_SCHEME_ECDSA;
        p->t = ks->t;
        p->n = ks->n;
        p->self = ks->self;
        for (uint32_t i = 0; i < ks->n; i++)
            p->parties[i] = i + 1;
        memcpy(p->stmt_hash, stmt_hash, 32);
        snprintf(p->names, sizeof p->names, "%s", names);
        snprintf(p->text, sizeof p->text, "%s", text);
        p->mode = restored ? PENDING_RESTORED : PENDING_RENEW;
        p->version = version;
        p->round = 1;
        rc = node_respond_bcast(nd, call, p->sid, 1, p->conf, sizeof p->conf);
    }
    if (rc)
        pending_drop(p);
    return rc;
}

/* Record the installed share in the node's log (p->text) and answer with
 * the RESULT (DKG result form: key, public package, own confirmation). */
static int record_and_answer(node *nd, sigil_rpc_call *call, pending *p, const uint8_t *pk,
                             size_t pklen)
{
    sigil_buf pkg, body;
    sigil_buf_view(&body, NULL, 0);
    sigil_keyshare pub = p->ks;
    pub.secret = NULL;
    sigil_audit_entry e;
    memset(&e, 0, sizeof e);
    e.version = SIGIL_AUDIT_ENTRY_VERSION;
    e.type = SIGIL_AUDIT_CEREMONY;
    e.actor_len = (uint8_t)snprintf(e.actor, sizeof e.actor, "%s", call->peer->uri);
    e.key_id_len = (uint8_t)strlen(p->key_id);
    memcpy(e.key_id, p->key_id, e.key_id_len);
    e.scheme = (uint8_t)p->scheme;
    memcpy(e.digest, p->stmt_hash, 32);
    e.digest_len = 32;
    int l = snprintf(e.request_id, sizeof e.request_id, "%s", p->text);
    e.request_id_len = (uint8_t)(l < 0 ? 0 : (size_t)l >= sizeof e.request_id ? sizeof e.request_id - 1 : (size_t)l);
    int rc = node_audit_record(nd, &e);
    if (rc) {
        DETAIL(call, "share stored but the node audit log is unavailable (%s)", sigil_strerror(rc));
        return SIGIL_E_UNAVAILABLE;
    }
    rc = sigil_buf_init(&pkg, SIGIL_HSM_SHARE_MAX, 0);
    if (!rc) rc = sigil_keyshare_serialize(&pub, &pkg);
    if (!rc) rc = sigil_buf_init(&body, SIGIL_ENV_MAX_BODY, 0);
    if (!rc) rc = sigil_env_dkg_result_encode(p->scheme, p->key_id, pk, pklen, pkg.data, pkg.size,
                                              p->conf, sizeof p->conf, &body);
    if (!rc) rc = node_respond_result(nd, call, p->sid, p->round + 1, body.data, body.size);
    sigil_buf_free(&pkg);
    sigil_buf_free(&body);
    return rc;
}

/* IMPORT: seal and store the share (FROST: the keyshare; ECDSA: the
 * finished DKLs23 share encoding), record it, answer with the RESULT. */
static int install_and_answer(node *nd, sigil_rpc_call *call, pending *p, const sigil_buf *ecdsa_share)
{
    const node_config *cfg = node_cfg(nd);
    sigil_buf pkg;
    uint8_t pk[SIGIL_FROST_PK_MAX];
    size_t pklen = 0;
    sigil_keyshare pub = p->ks;
    pub.secret = NULL;
    int rc = sigil_buf_init(&pkg, SIGIL_HSM_SHARE_MAX, 0);
    if (!rc) rc = sigil_keyshare_serialize(&pub, &pkg);
    if (!rc) {
        rc = ecdsa_share ? node_install_ecdsa(nd, p->key_id, ecdsa_share, pkg.data, pkg.size, pk, &pklen)
                         : node_install_frost(nd, p->key_id, p->scheme, &p->ks, pkg.data, pkg.size,
                                              pk, &pklen);
        if (rc)
            DETAIL(call, "import: the share could not be sealed and stored: %s", sigil_strerror(rc));
    }
    sigil_buf_free(&pkg);
    if (rc)
        return rc;
    fprintf(stderr, "sigil-node %u: key '%s' imported (scheme %u, %u of %u), share sealed; "
                    "approved by %s, dealt by officer %s\n",
            cfg->node_id, p->key_id, p->scheme, p->t, p->n, p->names, p->officer);
    return record_and_answer(nd, call, p, pk, pklen);
}

/* RESTORE, after the OT setup: seal the new DKLs23 share (the backed-up
 * share version) into keys/<id>.pending; committed only in round 5, once
 * every share holder has prepared its own. */
static int restore_prepare(node *nd, sigil_rpc_call *call, pending *p, const sigil_buf *share)
{
    sigil_buf pkg;
    sigil_keyshare pub = p->ks;
    pub.secret = NULL;
    uint8_t gpk[33];
    sigil_ecdsa_keyshare_pubkey(p->eks, gpk);
    int rc = sigil_buf_init(&pkg, SIGIL_HSM_SHARE_MAX, 0);
    if (!rc) rc = sigil_keyshare_serialize(&pub, &pkg);
    if (!rc) rc = key_store_version(nd, p->key_id, SIGIL_ENV_SCHEME_ECDSA, p->version, ".pending",
                                    share, &pkg, &p->prepared);
    if (!rc && (p->prepared->pklen != 33 || memcmp(p->prepared->pk, gpk, 33)))
        rc = SIGIL_E_MISMATCH;
    sigil_buf_free(&pkg);
    if (rc)
        DETAIL(call, "restore: the new share could not be sealed and prepared: %s", sigil_strerror(rc));
    return rc;
}

/* RESTORE, round 5: every share holder prepared: commit (the restored node
 * lists its new share; the others replace theirs, old file wiped), record,
 * answer with the RESULT. */
static int restore_commit(node *nd, sigil_rpc_call *call, pending *p)
{
    const node_config *cfg = node_cfg(nd);
    keyrec *old = NULL;
    if (p->mode == PENDING_RENEW) {
        old = key_find(nd, p->key_id);
        if (!old || old->version != p->version) {
            DETAIL(call, "restore: key '%s' changed during the OT setup", p->key_id);
            return SIGIL_E_STATE;
        }
    }
    int wr = 0, rc = key_commit_pending(nd, old, p->prepared, &wr);
    if (rc) {
        DETAIL(call, "restore: the prepared share could not be committed on node %u: %s",
               cfg->node_id, sigil_strerror(rc));
        return rc;
    }
    keyrec *k = p->prepared;
    p->prepared = NULL; /* listed now */
    if (wr) {
        size_t l = strlen(p->text);
        snprintf(p->text + l, sizeof p->text - l, " old-file-NOT-wiped");
    }
    fprintf(stderr, "sigil-node %u: key '%s': %s\n", cfg->node_id, p->key_id, p->text);
    return record_and_answer(nd, call, p, k->pk, k->pklen);
}

/* Open this round's n-1 inbound envelopes (round p->round, DATA, from every
 * other party once; to 0 for the confirmations, else to this node and
 * encrypted) into bodies[k] for the k-th other party. Nothing changes on a
 * refusal. */
static int import_collect(node *nd, sigil_rpc_call *call, pending *p, const Sigil__V1__RoundRequest *rq,
                   sigil_buf *bodies, uint8_t (*box)[32])
{
    uint32_t me = node_cfg(nd)->node_id, want_to = p->round == 1 || p->round == 5 ? 0 : me;
    int got[SIGIL_DEALING_MAX_PARTIES] = {0};
    if (rq->n_inbound != p->n - 1) {
        DETAIL(call, "import round %u needs %u envelopes, got %zu", p->round, p->n - 1, rq->n_inbound);
        return SIGIL_E_INVALID;
    }
    for (size_t i = 0; i < rq->n_inbound; i++) {
        const Sigil__V1__Envelope *e = rq->inbound[i];
        int idx = -1;
        for (uint32_t j = 0; e && j < p->n; j++)
            if (p->parties[j] == e->from && j != p->self)
                idx = (int)j;
        if (!e || idx < 0 || e->round != p->round || e->to != want_to ||
            e->kind != SIGIL__V1__ENVELOPE_KIND__ENVELOPE_KIND_DATA || e->session_id.len != 32 ||
            memcmp(e->session_id.data, p->sid, 32)) {
            DETAIL(call, "import: envelope from node %u is not for this session, round %u and "
                         "recipient", e ? e->from : 0, p->round);
            return SIGIL_E_PARTICIPANT;
        }
        int k = idx < (int)p->self ? idx : idx - 1;
        if (got[k]) {
            DETAIL(call, "import: two envelopes from node %u in one round (replay)", e->from);
            return SIGIL_E_REPLAY;
        }
        got[k] = 1;
        sigil_env_header h = {e->session_id.data, e->session_id.len, e->round, e->from, e->to,
                              (uint32_t)e->kind};
        int rc = sigil_env_open(node_env_peers(nd), node_env_key(nd), &h, e->payload.data,
                                e->payload.len, &bodies[k], box ? box[k] : NULL);
        if (rc) {
            DETAIL(call, "import: envelope from node %u refused: %s", e->from, sigil_strerror(rc));
            return rc;
        }
    }
    return SIGIL_OK;
}

static uint32_t other_party(const pending *p, uint32_t k)
{
    return p->parties[k < p->self ? k : k + 1];
}

/* Every other party's confirmation (round 1, tag 0x03) or PREPARED (round
 * 5, tag 0x05): tag | the sender's id | our own hash. */
static int confirmations_ok(node *nd, sigil_rpc_call *call, const pending *p, const sigil_buf *in,
                            uint8_t tag)
{
    for (uint32_t k = 0; k < p->n - 1; k++) {
        sigil_scalar id;
        uint8_t idb[32];
        sigil_scalar_set_u64(p->ks.g, &id, other_party(p, k));
        sigil_scalar_serialize(p->ks.g, idb, &id);
        if (in[k].size != sizeof p->conf || in[k].data[0] != tag || memcmp(in[k].data + 1, idb, 32) ||
            memcmp(in[k].data + 33, p->conf + 33, 32)) {
            DETAIL(call, "%s refused by node %u: node %u %s; nothing stored",
                   p->mode == PENDING_IMPORT ? "import" : "restore", node_cfg(nd)->node_id,
                   other_party(p, k),
                   p->mode == PENDING_IMPORT ? "was dealt another polynomial or key (confirmations differ)"
                   : tag == 0x03 ? "confirms another restore statement, section or session"
                                 : "did not prepare the same restore");
            return SIGIL_E_CONFIRM;
        }
    }
    return SIGIL_OK;
}

int node_import_round(node *nd, sigil_rpc_call *call, const Sigil__V1__RoundRequest *rq)
{
    pending *p = pending_find(rq->session_id.data, rq->session_id.len);
    if (!p)
        return SIGIL_E_NOT_FOUND;
    if (rq->round != p->round) {
        DETAIL(call, "import session expects round %u, request is for round %u", p->round, rq->round);
        return rq->round < p->round ? SIGIL_E_REPLAY : SIGIL_E_STATE;
    }
    uint32_t others = p->n - 1;
    sigil_buf in[SIGIL_DEALING_MAX_PARTIES], out[SIGIL_DEALING_MAX_PARTIES];
    uint8_t box[SIGIL_DEALING_MAX_PARTIES][32];
    uint32_t to[SIGIL_DEALING_MAX_PARTIES];
    int rc = SIGIL_OK, fatal = 0;
    memset(in, 0, sizeof in);
    memset(out, 0, sizeof out);
    for (uint32_t k = 0; k < others && !rc; k++)
        rc = sigil_buf_init(&in[k], SIGIL_ENV_MAX_BODY, SIGIL_BUF_SECRET);
    if (!rc) rc = import_collect(nd, call, p, rq, in, p->round == 1 ? box : NULL);
    if (rc)
        goto done; /* nothing changed: the staged share stays */
    fatal = 1; /* from here a failure ends the import on this node */
    if (p->round == 1) {
        rc = confirmations_ok(nd, call, p, in, 0x03);
        if (!rc && p->scheme != SIGIL_ENV_SCHEME_ECDSA) {
            rc = install_and_answer(nd, call, p, NULL);
            fatal = 2;
        } else if (!rc) {
            /* DKLs23: the pairwise multiplication (OT) setup, rounds 2-4 */
            memcpy(p->box, box, sizeof p->box);
            rc = sigil_ecdsa_setup_new(&p->setup, p->eks, p->sid);
            for (uint32_t k = 0; k < others && !rc; k++)
                rc = sigil_buf_init(&out[k], SIGIL_ECDSA_MAX_PAYLOAD + 64, 0);
            if (!rc) rc = sigil_ecdsa_setup_round1(p->setup, out);
        }
    } else if (p->round == 5 && p->mode != PENDING_IMPORT && p->prepared) {
        /* RESTORE: every share holder has sealed its new share */
        rc = confirmations_ok(nd, call, p, in, 0x05);
        if (!rc) rc = restore_commit(nd, call, p);
        fatal = 2;
    } else if (p->round >= 2 && p->round <= 4) {
        uint16_t culprit = 0;
        for (uint32_t k = 0; k < others && !rc; k++)
            rc = sigil_buf_init(&out[k], SIGIL_ECDSA_MAX_PAYLOAD + 64, 0);
        if (!rc && p->round == 2)
            rc = sigil_ecdsa_setup_round2(p->setup, in, out, &culprit);
        else if (!rc && p->round == 3)
            rc = sigil_ecdsa_setup_round3(p->setup, in, out, &culprit);
        else if (!rc) {
            sigil_ecdsa_share *sh = NULL;
            sigil_buf sec;
            sigil_buf_view(&sec, NULL, 0);
            rc = sigil_ecdsa_setup_finish(p->setup, in, &sh, &culprit);
            if (!rc) rc = sigil_buf_init(&sec, 4 * SIGIL_HSM_SHARE_MAX, SIGIL_BUF_SECRET);
            if (!rc) rc = sigil_ecdsa_share_encode(sh, &sec);
            if (!rc && p->mode == PENDING_IMPORT) {
                rc = install_and_answer(nd, call, p, &sec);
                fatal = 2;
            } else if (!rc) {
                rc = restore_prepare(nd, call, p, &sec);
                uint8_t prep[sizeof p->conf];
                memcpy(prep, p->conf, sizeof prep);
                prep[0] = 0x05;
                if (!rc) rc = node_respond_bcast(nd, call, p->sid, 5, prep, sizeof prep);
                if (!rc)
                    p->round = 5;
            }
            sigil_ecdsa_share_free(sh);
            sigil_buf_free(&sec);
        }
        if (rc && culprit)
            DETAIL(call, "%s: OT setup round %u failed: %s (culprit node %u)",
                   p->mode == PENDING_IMPORT ? "import" : "restore", p->round, sigil_strerror(rc),
                   culprit);
    } else {
        rc = SIGIL_E_STATE;
    }
    if (!rc && fatal == 1 && p->round < 4) {
        /* ECDSA: the next round's pairwise messages, encrypted to each peer */
        for (uint32_t k = 0; k < others; k++)
            to[k] = other_party(p, k);
        rc = node_respond_pairwise(nd, call, p->sid, p->round + 1, others, to, out, p->box);
        if (!rc)
            p->round++;
    }
done:
    for (uint32_t k = 0; k < others; k++) {
        sigil_buf_free(&in[k]);
        sigil_buf_free(&out[k]);
    }
    if ((rc && fatal) || fatal == 2)
        pending_drop(p); /* finished, or authenticated evidence the import failed */
    return rc;
}
