/* sigil-coordinator: key lifecycle admin RPCs (sigil-ceremony refresh /
 * retire).
 *
 *   /sigil.v1.Admin/Refresh  RefreshRequest -> RefreshResponse
 *   /sigil.v1.Admin/Retire   RetireRequest  -> RetireResponse
 *
 * Both need k-of-m officer approvals over ApprovalStatement{action
 * "refresh" | "retire", cluster id, key_id, params_hash = SHA-256 of the
 * request packed with key_id only}; the nodes check the same approvals
 * again with their own officer keys. Before the statement's nonce is
 * burned, every share holder must answer Node/Status holding the key at the
 * registry's share version: a refresh or retire that cannot reach every
 * node is refused and changes nothing (the statement stays usable).
 *
 * Refresh: the key's runtime is swapped for a PENDING one (Sign answers
 * UNAVAILABLE "being refreshed", pools are dropped), a REFRESH session runs
 * on every share holder (signer-node/src/refresh.c: the nodes commit only
 * when all n have their new share sealed), every node's RESULT must open
 * and agree (sigil_env_dkg_results_agree) on the SAME public key; then the
 * new public package and share version + 1 go to keys.json (atomically)
 * and an ACTIVE runtime with empty pools replaces the pending one.
 *
 * Retire: keys.json marks the key RETIRED first (Sign refused from then
 * on: FAILED_PRECONDITION "retired"), then the request goes to every node
 * (each destroys its share after checking the approvals); GetPublicKey and
 * ListKeys keep answering with state RETIRED.
 *
 * Audit: each step appends an entry (REFRESH; retire as CEREMONY) with the
 * caller's identity as actor, the SHA-256 of the approved statement as
 * digest, the approving officers and the outcome in request_id (success)
 * or errmsg (failure). The "approved" entry is written before anything
 * changes and is fail-closed (no log, no operation). */
#include <inttypes.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "coord_int.h"
#include "sigil/envelope.h"
#include "sigil/err.h"
#include "sigil/v1/admin.pb-c.h"

#define ADMIN_REFRESH "/sigil.v1.Admin/Refresh"
#define ADMIN_RETIRE "/sigil.v1.Admin/Retire"
#define LC_RESP_MAX ((size_t)8 << 20)

/* one lifecycle operation at a time (they are rare and change keys.json) */
static pthread_mutex_t lc_mu = PTHREAD_MUTEX_INITIALIZER;

int coord_key_inactive(sigil_rpc_call *call, const char *key_id, int state)
{
    if (state == SIGIL__V1__KEY_STATE__KEY_STATE_RETIRED)
        return coord_detail(call, SIGIL_E_STATE,
                         "key '%s' is retired: its shares are destroyed and it never signs "
                         "again (its public key stays available for verification)",
                         key_id);
    if (state == SIGIL__V1__KEY_STATE__KEY_STATE_PENDING)
        return coord_detail(call, SIGIL_E_UNAVAILABLE,
                         "key '%s' is being refreshed (share rotation); retry in a few seconds",
                         key_id);
    return coord_detail(call, SIGIL_E_STATE, "key '%s' is not active", key_id);
}

/* SHA-256(RefreshRequest | RetireRequest{key_id}) */
static int lc_params_hash(int retire, const char *key_id, uint8_t h[32])
{
    Sigil__V1__RefreshRequest rf = SIGIL__V1__REFRESH_REQUEST__INIT;
    Sigil__V1__RetireRequest rt = SIGIL__V1__RETIRE_REQUEST__INIT;
    sigil_buf b;
    rf.key_id = rt.key_id = (char *)key_id;
    int rc = sigil_buf_init(&b, 1024, 0);
    if (!rc) rc = sigil_rpc_pack(retire ? &rt.base : &rf.base, &b);
    if (!rc) crypto_hash_sha256(h, b.data, b.size);
    sigil_buf_free(&b);
    return rc;
}

static void officers_of(Sigil__V1__Approval *const *in, size_t n, char *out, size_t cap)
{
    size_t off = 0;
    out[0] = 0;
    for (size_t i = 0; i < n && off + 1 < cap; i++) {
        int l = snprintf(out + off, cap - off, "%s%.64s", i ? "," : "",
                         in[i] && in[i]->officer ? in[i]->officer : "?");
        if (l < 0)
            break;
        off += (size_t)l;
    }
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
            *p = '?';
}

/* One audit entry: who (actor), which key, the statement hash, and either
 * a text (success, in request_id) or an error (errmsg). */
static int lc_audit(sigil_coord *c, int type, const char *actor, const sigil_coord_key *k,
                    const uint8_t sh[32], int err, const char *text)
{
    sigil_audit_entry e;
    memset(&e, 0, sizeof e);
    e.version = SIGIL_AUDIT_ENTRY_VERSION;
    e.type = (uint8_t)type;
    e.actor_len = (uint8_t)snprintf(e.actor, sizeof e.actor, "%.200s", actor);
    e.key_id_len = (uint8_t)strnlen(k->key_id, SIGIL_AUDIT_KEYID_MAX);
    memcpy(e.key_id, k->key_id, e.key_id_len);
    e.scheme = (uint8_t)k->scheme;
    memcpy(e.digest, sh, 32);
    e.digest_len = 32;
    e.n_signers = (uint8_t)k->num_parties;
    for (size_t i = 0; i < k->num_parties; i++)
        e.signers[i] = (uint16_t)k->parties[i];
    char clean[512];
    snprintf(clean, sizeof clean, "%s", text);
    for (char *p = clean; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
            *p = '?';
    if (err) {
        e.outcome = SIGIL_AUDIT_OUTCOME_ERROR;
        e.error = err < 0 ? err : SIGIL_E_INVALID;
        int l = snprintf(e.errmsg, sizeof e.errmsg, "%s", clean);
        e.errmsg_len = (uint8_t)(l < 0 ? 0 : (size_t)l >= sizeof e.errmsg ? sizeof e.errmsg - 1 : (size_t)l);
    } else {
        e.outcome = SIGIL_AUDIT_OUTCOME_NONE;
        int l = snprintf(e.request_id, sizeof e.request_id, "%s", clean);
        e.request_id_len = (uint8_t)(l < 0 ? 0 : (size_t)l >= sizeof e.request_id ? sizeof e.request_id - 1 : (size_t)l);
    }
    return coord_audit(c, &e);
}

/* coord_reach_all: see coord_int.h */
int coord_reach_all(sigil_coord *c, sigil_rpc_call *call, const sigil_coord_key *k, const char *op,
                    uint32_t except)
{
    for (size_t i = 0; i < k->num_parties; i++) {
        coord_node *n = coord_node_of(c, k->parties[i]);
        Sigil__V1__NodeStatusRequest req = SIGIL__V1__NODE_STATUS_REQUEST__INIT;
        ProtobufCMessage *m = NULL;
        sigil_rpc_status st;
        memset(&st, 0, sizeof st);
        req.key_id = (char *)k->key_id;
        int rc = SIGIL_E_UNAVAILABLE;
        /* a node that just came back may still be behind the channel's
         * reconnect back-off: try for up to about two seconds */
        for (int attempt = 0; n && attempt < 10; attempt++) {
            if (attempt) {
                struct timespec ts = {0, 200 * 1000000L};
                nanosleep(&ts, NULL);
            }
            memset(&st, 0, sizeof st);
            sigil_rpc_client_reset_backoff(n->client);
            rc = coord_ensure_peer(c, n);
            if (!rc)
                rc = sigil_rpc_call_msg(n->client, SIGIL_RPC_NODE_STATUS, &req.base,
                                        &sigil__v1__node_status_response__descriptor, &m,
                                        coord_cfg(c)->node_timeout_ms, &st);
            if (rc != SIGIL_E_UNAVAILABLE)
                break;
        }
        if (rc)
            return coord_detail(call, SIGIL_E_UNAVAILABLE,
                             "node %u unreachable (%s): %s needs every share holder of '%s'; "
                             "nothing changed, the approvals stay usable",
                             k->parties[i], st.detail[0] ? st.detail : sigil_strerror(rc), op,
                             k->key_id);
        Sigil__V1__NodeStatusResponse *r = (Sigil__V1__NodeStatusResponse *)m;
        int ok = 0;
        for (size_t j = 0; j < r->n_keys; j++)
            if (r->keys[j] && !strcmp(r->keys[j]->key_id, k->key_id) &&
                r->keys[j]->share_version == k->share_version)
                ok = 1;
        int halted = r->halted;
        sigil_rpc_msg_free(m);
        if (k->parties[i] == except)
            ok = 1; /* reachable is enough (a replacement node holds no share yet) */
        if (halted)
            return coord_detail(call, SIGIL_E_HALTED, "node %u is halted: %s refused; nothing changed",
                             k->parties[i], op);
        if (!ok)
            return coord_detail(call, SIGIL_E_STATE,
                             "node %u does not hold share version %u of '%s': %s refused; "
                             "nothing changed",
                             k->parties[i], k->share_version, k->key_id, op);
    }
    return SIGIL_OK;
}

static void fill_info(Sigil__V1__KeyInfo *ki, const sigil_coord_key *k)
{
    ki->key_id = (char *)k->key_id;
    ki->scheme = (Sigil__V1__Scheme)k->scheme;
    ki->public_key.data = (uint8_t *)k->public_key;
    ki->public_key.len = k->pk_len;
    ki->threshold = k->threshold;
    ki->num_parties = k->num_parties;
    ki->state = (Sigil__V1__KeyState)k->state;
    ki->created_unix = k->created_unix;
    ki->share_version = k->share_version;
}

/* ---------------------------------------------------------------- refresh */

static int refresh_locked(sigil_coord *c, sigil_rpc_call *call, const Sigil__V1__RefreshRequest *req,
                          sigil_coord_key *info, uint8_t sh[32], char *who, size_t wholen,
                          int *started)
{
    uint8_t ph[32];
    int rc;
    if ((rc = coord_check_running(c, call)))
        return rc;
    if (coord_key_info(c, call->key_id, info))
        return coord_detail(call, SIGIL_E_NOT_FOUND, "unknown key '%s'", call->key_id);
    if (info->state != SIGIL__V1__KEY_STATE__KEY_STATE_ACTIVE)
        return coord_detail(call, SIGIL_E_STATE, "key '%s' is %s: refresh refused", info->key_id,
                         info->state == SIGIL__V1__KEY_STATE__KEY_STATE_RETIRED ? "retired"
                                                                                : "not active");
    if (info->threshold < 2)
        return coord_detail(call, SIGIL_E_THRESHOLD,
                         "key '%s' is 1-of-%u: every share is the whole key, a refresh cannot help",
                         info->key_id, info->num_parties);
    if ((rc = coord_reach_all(c, call, info, "refresh", 0)))
        return rc;
    if ((rc = lc_params_hash(0, info->key_id, ph)))
        return rc;
    sigil_breaker_statement st;
    if ((rc = coord_approvals_use(c, call, "refresh", &req->statement, req->approvals,
                                  req->n_approvals, info->key_id, ph, &st)))
        return rc;
    crypto_hash_sha256(sh, req->statement.data, req->statement.len);
    officers_of(req->approvals, req->n_approvals, who, wholen);
    char text[200];
    snprintf(text, sizeof text, "refresh approved by %.100s: share version %u, starting", who,
             info->share_version);
    if (lc_audit(c, SIGIL_AUDIT_REFRESH, call->peer->uri, info, sh, 0, text))
        return coord_detail(call, SIGIL_E_UNAVAILABLE,
                         "audit log unavailable: refresh not started (the statement is used; "
                         "propose a new one once the log writes again)");
    *started = 1;

    /* signing on the key pauses (UNAVAILABLE "being refreshed") */
    sigil_coord_key pend = *info;
    pend.state = SIGIL__V1__KEY_STATE__KEY_STATE_PENDING;
    if ((rc = coord_key_replace(c, &pend, 0)))
        return coord_detail(call, rc, "refresh not started: %s", sigil_strerror(rc));

    coord_session s;
    sigil_buf starts[SIGIL_COORD_MAX_NODES], bodies[SIGIL_COORD_MAX_NODES];
    sigil_env_dkg_result res[SIGIL_COORD_MAX_NODES];
    sigil_keyshare pub;
    size_t n = info->num_parties;
    memset(&s, 0, sizeof s);
    memset(&pub, 0, sizeof pub);
    memset(res, 0, sizeof res);
    s.count = n;
    randombytes_buf(s.session_id, 32);
    for (size_t i = 0; i < n; i++) {
        Sigil__V1__StartSessionRequest r = SIGIL__V1__START_SESSION_REQUEST__INIT;
        sigil_buf_init(&starts[i], 65536, 0);
        sigil_buf_init(&bodies[i], LC_RESP_MAX, 0);
        s.nodes[i] = coord_node_of(c, info->parties[i]);
        r.session_id = (ProtobufCBinaryData){32, s.session_id};
        r.kind = SIGIL__V1__SESSION_KIND__SESSION_KIND_REFRESH;
        r.key_id = info->key_id;
        r.scheme = (Sigil__V1__Scheme)info->scheme;
        r.threshold = info->threshold;
        r.num_parties = (uint32_t)n;
        r.parties = info->parties;
        r.n_parties = n;
        r.statement = req->statement;
        r.approvals = req->approvals;
        r.n_approvals = req->n_approvals;
        if (rc == SIGIL_OK)
            rc = sigil_rpc_pack(&r.base, &starts[i]);
    }
    if (rc == SIGIL_OK &&
        (rc = coord_session_run(&s, starts, coord_cfg(c)->keygen_timeout_ms, 16)))
        coord_detail(call, rc, "refresh session failed: %s", s.detail);
    for (size_t i = 0; rc == SIGIL_OK && i < n; i++) {
        Sigil__V1__SessionResponse *f = s.final[i];
        if (f->n_results != 1 ||
            coord_open_result(c, f->results[0], info->parties[i], s.session_id, &bodies[i]) ||
            sigil_env_dkg_result_decode(&res[i], bodies[i].data, bodies[i].size) ||
            res[i].scheme != info->scheme || strcmp(res[i].key_id, info->key_id))
            rc = coord_detail(call, SIGIL_E_CONFIRM, "node %u: bad refresh result", info->parties[i]);
    }
    if (rc == SIGIL_OK && (rc = sigil_env_dkg_results_agree(res, n, &pub)))
        coord_detail(call, rc, "the nodes' refresh results disagree");
    /* the point of a refresh: the public key is exactly the old one */
    if (rc == SIGIL_OK && (res[0].public_key_len != info->pk_len ||
                           memcmp(res[0].public_key, info->public_key, info->pk_len)))
        rc = coord_detail(call, SIGIL_E_MISMATCH, "refresh changed the public key: refused");
    if (rc == SIGIL_OK && res[0].public_package_len > SIGIL_COORD_PACKAGE_MAX)
        rc = coord_detail(call, SIGIL_E_TOO_LARGE, "public package too large");
    if (rc == SIGIL_OK) {
        sigil_coord_key nk = *info;
        memcpy(nk.package, res[0].public_package, res[0].public_package_len);
        nk.package_len = res[0].public_package_len;
        nk.share_version = info->share_version + 1;
        nk.state = SIGIL__V1__KEY_STATE__KEY_STATE_ACTIVE;
        if ((rc = coord_key_replace(c, &nk, 1)))
            coord_detail(call, rc, "nodes refreshed but keys.json not written: %s", sigil_strerror(rc));
        else
            *info = nk;
    }
    if (rc != SIGIL_OK) {
        /* signing resumes on the old package (nodes that did not commit keep
         * their old share; see docs/modules/signer-node.md on partial commits) */
        (void)coord_key_replace(c, info, 0);
    }
    sigil_keyshare_free(&pub);
    coord_session_clear(&s);
    for (size_t i = 0; i < n; i++) {
        sigil_buf_free(&starts[i]);
        sigil_buf_free(&bodies[i]);
    }
    return rc;
}

static int h_refresh(void *ctx, sigil_rpc_call *call)
{
    sigil_coord *c = ctx;
    const Sigil__V1__RefreshRequest *req = (const Sigil__V1__RefreshRequest *)call->req;
    Sigil__V1__RefreshResponse resp = SIGIL__V1__REFRESH_RESPONSE__INIT;
    Sigil__V1__KeyInfo ki = SIGIL__V1__KEY_INFO__INIT;
    sigil_coord_key info;
    uint8_t sh[32];
    char who[160] = "", text[512];
    int started = 0;
    memset(&info, 0, sizeof info);
    pthread_mutex_lock(&lc_mu);
    uint32_t before = 0;
    int rc = refresh_locked(c, call, req, &info, sh, who, sizeof who, &started);
    if (started) {
        before = rc ? info.share_version : info.share_version - 1;
        if (rc)
            snprintf(text, sizeof text, "refresh of share version %u FAILED (approved by %.60s): %.150s",
                     before, who, call->detail);
        else
            snprintf(text, sizeof text, "refresh done: share version %u -> %u, same public key; approved by %.100s",
                     before, info.share_version, who);
        int ar = lc_audit(c, SIGIL_AUDIT_REFRESH, call->peer->uri, &info, sh, rc, text);
        fprintf(stderr, "sigil-coordinator: key '%s': %s%s\n", info.key_id, text,
                ar ? " (audit append FAILED)" : "");
    }
    pthread_mutex_unlock(&lc_mu);
    if (rc)
        return rc;
    fill_info(&ki, &info);
    resp.key = &ki;
    resp.old_share_version = before;
    return sigil_rpc_pack(&resp.base, call->resp);
}

/* ----------------------------------------------------------------- retire */

static int h_retire(void *ctx, sigil_rpc_call *call)
{
    sigil_coord *c = ctx;
    const Sigil__V1__RetireRequest *req = (const Sigil__V1__RetireRequest *)call->req;
    Sigil__V1__RetireResponse resp = SIGIL__V1__RETIRE_RESPONSE__INIT;
    Sigil__V1__KeyInfo ki = SIGIL__V1__KEY_INFO__INIT;
    Sigil__V1__PeerResult pr[SIGIL_COORD_MAX_NODES], *prp[SIGIL_COORD_MAX_NODES];
    char det[SIGIL_COORD_MAX_NODES][200];
    sigil_coord_key info;
    uint8_t ph[32], sh[32];
    char who[160] = "", text[512];
    sigil_breaker_statement bst;
    int rc;

    pthread_mutex_lock(&lc_mu);
    if (coord_key_info(c, call->key_id, &info)) {
        pthread_mutex_unlock(&lc_mu);
        return coord_detail(call, SIGIL_E_NOT_FOUND, "unknown key '%s'", call->key_id);
    }
    int again = info.state == SIGIL__V1__KEY_STATE__KEY_STATE_RETIRED;
    /* a first retire needs every share holder; a repeated one (to finish
     * nodes that were unreachable) goes to whoever answers */
    if (!again && (rc = coord_reach_all(c, call, &info, "retire", 0))) {
        pthread_mutex_unlock(&lc_mu);
        return rc;
    }
    if ((rc = lc_params_hash(1, info.key_id, ph)) ||
        (rc = coord_approvals_use(c, call, "retire", &req->statement, req->approvals,
                                  req->n_approvals, info.key_id, ph, &bst))) {
        pthread_mutex_unlock(&lc_mu);
        return rc;
    }
    crypto_hash_sha256(sh, req->statement.data, req->statement.len);
    officers_of(req->approvals, req->n_approvals, who, sizeof who);
    snprintf(text, sizeof text, "retire approved by %.100s%s", who, again ? " (repeated)" : "");
    if (lc_audit(c, SIGIL_AUDIT_CEREMONY, call->peer->uri, &info, sh, 0, text)) {
        pthread_mutex_unlock(&lc_mu);
        return coord_detail(call, SIGIL_E_UNAVAILABLE, "audit log unavailable: retire not done");
    }
    if (!again) {
        sigil_coord_key r = info;
        r.state = SIGIL__V1__KEY_STATE__KEY_STATE_RETIRED;
        if ((rc = coord_key_replace(c, &r, 1))) {
            snprintf(text, sizeof text, "retire FAILED: keys.json not written (%s); approved by %.100s",
                     sigil_errname(rc), who);
            (void)lc_audit(c, SIGIL_AUDIT_CEREMONY, call->peer->uri, &info, sh, rc, text);
            pthread_mutex_unlock(&lc_mu);
            return coord_detail(call, rc, "retire not recorded: %s; nothing destroyed",
                             sigil_strerror(rc));
        }
        info = r;
    }
    /* every node destroys its share (each checks the approvals itself) */
    coord_node *nodes[SIGIL_COORD_MAX_NODES];
    sigil_buf reqs[SIGIL_COORD_MAX_NODES], b;
    int rcs[SIGIL_COORD_MAX_NODES];
    sigil_rpc_status st[SIGIL_COORD_MAX_NODES];
    Sigil__V1__RetireRequest fwd = *req;
    size_t n = 0, ok = 0;
    fwd.local_only = 1;
    fwd.key_id = info.key_id;
    sigil_buf_init(&b, 65536, 0);
    int prc = sigil_rpc_pack(&fwd.base, &b);
    for (size_t i = 0; i < info.num_parties; i++) {
        coord_node *nd = coord_node_of(c, info.parties[i]);
        if (!nd)
            continue;
        nodes[n] = nd;
        reqs[n] = b;
        memset(&st[n], 0, sizeof st[n]);
        rcs[n] = SIGIL_E_UNAVAILABLE;
        n++;
    }
    if (prc == SIGIL_OK)
        coord_fanout(nodes, n, ADMIN_RETIRE, reqs, NULL, rcs, st, 10000);
    char failed[160] = "";
    size_t fl = 0;
    for (size_t i = 0; i < n; i++) {
        sigil__v1__peer_result__init(&pr[i]);
        pr[i].identity = (char *)nodes[i]->cfg->identity;
        pr[i].ok = prc == SIGIL_OK && rcs[i] == SIGIL_OK;
        snprintf(det[i], sizeof det[i], "%.40s%s%.150s",
                 prc ? "not sent" : pr[i].ok ? "share destroyed" : sigil_rpc_status_name(st[i].code),
                 st[i].detail[0] ? ": " : "", st[i].detail);
        pr[i].detail = det[i];
        prp[i] = &pr[i];
        ok += pr[i].ok;
        if (!pr[i].ok && fl + 8 < sizeof failed) {
            int l = snprintf(failed + fl, sizeof failed - fl, " %u", nodes[i]->cfg->id);
            if (l > 0)
                fl += (size_t)l;
        }
    }
    sigil_buf_free(&b);
    snprintf(text, sizeof text, "retired: shares destroyed on %zu of %zu nodes%s%s; approved by %.100s",
             ok, n, ok < n ? "; NOT on node(s)" : "", failed, who);
    int ar = lc_audit(c, SIGIL_AUDIT_CEREMONY, call->peer->uri, &info, sh,
                      ok == n ? 0 : SIGIL_E_UNAVAILABLE, text);
    fprintf(stderr, "sigil-coordinator: key '%s' %s%s\n", info.key_id, text,
            ar ? " (audit append FAILED)" : "");
    pthread_mutex_unlock(&lc_mu);
    fill_info(&ki, &info);
    resp.key = &ki;
    resp.peers = prp;
    resp.n_peers = n;
    return sigil_rpc_pack(&resp.base, call->resp);
}

int coord_lifecycle_register(sigil_coord *c, sigil_rpc_server *srv)
{
    int rc = sigil_rpc_server_add(srv, ADMIN_REFRESH, &sigil__v1__refresh_request__descriptor,
                                  16384, h_refresh, c);
    if (!rc)
        rc = sigil_rpc_server_add(srv, ADMIN_RETIRE, &sigil__v1__retire_request__descriptor, 16384,
                                  h_retire, c);
    return rc;
}
