/* sigil-node: key lifecycle on a node — proactive share refresh
 * (SESSION_KIND_REFRESH) and retirement (/sigil.v1.Admin/Retire).
 *
 * Both need k-of-m officer approvals, checked here with the node's own
 * officer keys (the coordinator is not trusted to re-share or destroy a key
 * on its own): ApprovalStatement{action "refresh" | "retire", cluster id,
 * key_id, params_hash = SHA-256(RefreshRequest | RetireRequest with key_id
 * only)}, k = resume_k distinct configured officers; the statement's nonce
 * is burned in this node's used-nonce file (state_dir/resume.nonces).
 *
 * Refresh rounds (every share holder of the key, same parties, t and ids):
 *   FROST:  1 (broadcast) -> 2 (encrypted shares + ECHO) -> 3 (confirmations)
 *           -> 4 PREPARED broadcast -> commit, done (RESULT)
 *   ECDSA:  1..3 as FROST with the DKLs23 refresh coefficients (constant term
 *           lambda_i x_i, every dealer's C_0 checked), 4..6 new pairwise OT
 *           setup -> 7 PREPARED broadcast -> commit, done (RESULT)
 * PREPARED: once a node has the new share it seals it as share version v+1
 * (the HSM associated data binds the version) into keys/<id>.pending
 * (written atomically, fsync'ed) and broadcasts its result (scheme, key id,
 * public key, new public package, its confirmation). In the last round every
 * node receives the n-1 other PREPARED envelopes, signed by their senders'
 * envelope keys: it commits only when all n agree (same public key, the old
 * one; same package; same transcript), i.e. every share holder has its new
 * share durably sealed. Commit = hard link the live key file to
 * keys/<id>.old, rename .pending over .key (atomic), fsync the directory,
 * overwrite keys/<id>.old with zeros, fsync, unlink; in memory the key
 * record is replaced and the old record's nonce and presignature pools are
 * dropped. The node's audit log records the share change.
 *
 * Retire: after the approvals, the key file is renamed to keys/<id>.old
 * (atomic), a tombstone keys/<id>.retired (public data only) is written, the
 * .old file is overwritten with zeros, fsync'ed and unlinked; the record
 * leaves nd->keys, so SIGN, PRESIGN, RefillPool and REFRESH find no key, and
 * DKG refuses the id forever. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "node.h"
#include "sigil/err.h"
#include "sigil/file.h"
#include "sigil/v1/admin.pb-c.h"

const ProtobufCMessageDescriptor *const refresh_retire_descriptor =
    &sigil__v1__retire_request__descriptor;

/* ---------------------------------------------------------------- files */

static void key_path(const node *nd, const char *key_id, const char *suffix, char *out, size_t n)
{
    snprintf(out, n, "%s/%s%s", nd->path_keys, key_id, suffix);
}

int key_retired(node *nd, const char *key_id)
{
    char p[NODE_PATH_MAX + 128];
    key_path(nd, key_id, ".retired", p, sizeof p);
    return access(p, F_OK) == 0;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return SIGIL_E_IO;
    int rc = fsync(fd) == 0 ? SIGIL_OK : SIGIL_E_IO;
    close(fd);
    return rc;
}

/* Overwrite a file's bytes with zeros, fsync, unlink, fsync the directory. */
static int wipe_file(node *nd, const char *path)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? SIGIL_OK : SIGIL_E_IO;
    struct stat st;
    int rc = fstat(fd, &st) == 0 ? SIGIL_OK : SIGIL_E_IO;
    static const uint8_t zero[4096];
    for (off_t off = 0; !rc && off < st.st_size;) {
        size_t w = (size_t)(st.st_size - off) < sizeof zero ? (size_t)(st.st_size - off) : sizeof zero;
        ssize_t r = pwrite(fd, zero, w, off);
        if (r <= 0)
            rc = SIGIL_E_IO;
        else
            off += r;
    }
    if (!rc && fsync(fd) != 0)
        rc = SIGIL_E_IO;
    close(fd);
    if (!rc && unlink(path) != 0)
        rc = SIGIL_E_IO;
    if (!rc)
        rc = fsync_dir(nd->path_keys);
    return rc;
}

/* ------------------------------------------------------------ approvals */

/* SHA-256 of RefreshRequest / RetireRequest{key_id} packed alone: the
 * params_hash the officers' statement carries. */
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

static const char *approval_why(int rc)
{
    switch (rc) {
    case SIGIL_E_THRESHOLD: return "too few approvals";
    case SIGIL_E_PERMISSION: return "an approval names an officer not configured on this node";
    case SIGIL_E_PARTICIPANT: return "two approvals by the same officer";
    case SIGIL_E_SIGNATURE: return "an approval signature does not verify";
    case SIGIL_E_ENCODING: return "the statement is missing or does not decode";
    case SIGIL_E_MISMATCH: return "the statement is for another action, cluster, key or parameters";
    case SIGIL_E_EXPIRED: return "the statement has expired";
    default: return sigil_strerror(rc);
    }
}

/* node_approvals_check: see node.h */
int node_approvals_check(node *nd, sigil_rpc_call *call, const char *action, const char *key_id,
                         const uint8_t ph[32], ProtobufCBinaryData stmt,
                         Sigil__V1__Approval *const *in, size_t n, uint8_t sh[32], char *who,
                         size_t wholen)
{
    sigil_breaker_approval ap[SIGIL_BREAKER_MAX_OFFICERS];
    sigil_breaker_statement st;
    uint64_t now = (uint64_t)time(NULL);
    if (!nd->cfg.nofficers) {
        DETAIL(call, "no officer keys configured on node %u: %s impossible", nd->cfg.node_id, action);
        return SIGIL_E_PERMISSION;
    }
    if (n > SIGIL_BREAKER_MAX_OFFICERS) {
        DETAIL(call, "%s refused by node %u: too many approvals", action, nd->cfg.node_id);
        return SIGIL_E_TOO_LARGE;
    }
    for (size_t i = 0; i < n; i++) {
        if (!in[i] || !in[i]->officer) {
            DETAIL(call, "approval %zu malformed", i);
            return SIGIL_E_ENCODING;
        }
        ap[i].officer = in[i]->officer;
        ap[i].signature = in[i]->signature.data;
        ap[i].signature_len = in[i]->signature.len;
    }
    sigil_breaker_policy pol = {nd->cfg.officers, nd->cfg.nofficers, nd->cfg.resume_k,
                                nd->cfg.cluster_id, 3600};
    pthread_mutex_lock(&nd->bmu);
    int rc = sigil_breaker_verify(&pol, stmt.data, stmt.len, ap, n, action, now, nd->epoch, &st);
    if (!rc && (strcmp(st.key_id, key_id) || st.params_hash_len != 32 ||
                sodium_memcmp(st.params_hash, ph, 32)))
        rc = SIGIL_E_MISMATCH;
    if (rc) {
        pthread_mutex_unlock(&nd->bmu);
        const char *why = approval_why(rc), *code = sigil_strerror(rc);
        DETAIL(call, "%s refused by node %u: %s%s%s (needs %u approvals by distinct officers "
                     "configured here, over action \"%s\", this cluster, key '%s' and parameters)",
               action, nd->cfg.node_id, why, why == code ? "" : ": ", why == code ? "" : code,
               nd->cfg.resume_k, action, key_id);
        return rc;
    }
    rc = sigil_breaker_nonces_use(nd->nonces, st.nonce, st.expires_unix, now);
    pthread_mutex_unlock(&nd->bmu);
    if (rc) {
        DETAIL(call, "%s refused by node %u: %s", action, nd->cfg.node_id,
               rc == SIGIL_E_REPLAY ? "this approval statement was used before: replay detected" : sigil_strerror(rc));
        return rc;
    }
    crypto_hash_sha256(sh, stmt.data, stmt.len);
    size_t off = 0;
    who[0] = 0;
    for (size_t i = 0; i < n && off + 1 < wholen; i++) {
        int l = snprintf(who + off, wholen - off, "%s%s", i ? "," : "", in[i]->officer);
        if (l < 0)
            break;
        off += (size_t)l;
    }
    return SIGIL_OK;
}

/* ---------------------------------------------------------------- audit */

/* The node's own record of a share change (durable before the answer). */
static int lc_audit(node *nd, sigil_rpc_call *call, int type, const keyrec *k, const uint8_t sh[32],
                    const char *text)
{
    sigil_audit_entry e;
    memset(&e, 0, sizeof e);
    e.version = SIGIL_AUDIT_ENTRY_VERSION;
    e.type = (uint8_t)type;
    e.party = (uint16_t)nd->cfg.node_id;
    e.actor_len = (uint8_t)snprintf(e.actor, sizeof e.actor, "%.200s", call->peer->uri);
    e.key_id_len = (uint8_t)strlen(k->key_id);
    memcpy(e.key_id, k->key_id, e.key_id_len);
    e.scheme = (uint8_t)k->scheme;
    memcpy(e.digest, sh, 32);
    e.digest_len = 32;
    e.outcome = SIGIL_AUDIT_OUTCOME_NONE;
    int l = snprintf(e.request_id, sizeof e.request_id, "%s", text);
    e.request_id_len = (uint8_t)(l < 0 ? 0 : (size_t)l >= sizeof e.request_id ? sizeof e.request_id - 1 : (size_t)l);
    return sigil_audit_append(nd->audit, &e, 1, NULL);
}

/* Move k out of nd->keys into the graveyard (still readable by a handler
 * that holds the pointer), dropping its pools. */
static void key_bury(node *nd, keyrec *k, keyrec *replacement)
{
    for (keyrec **pp = &nd->keys; *pp; pp = &(*pp)->next)
        if (*pp == k) {
            if (replacement) {
                replacement->next = k->next;
                *pp = replacement;
            } else {
                *pp = k->next;
            }
            break;
        }
    /* (with a pool index keyed by entry id, clear it here too) */
    for (size_t i = 0; i < k->npool; i++)
        sigil_frost_nonce_free(k->pool[i].nonce);
    k->npool = 0;
    for (size_t i = 0; i < k->nps; i++)
        sigil_ecdsa_presig_free(k->ps[i].ps);
    k->nps = 0;
    k->next = nd->graveyard;
    nd->graveyard = k;
}

/* key_commit_pending / key_pending_wipe: see node.h */
int key_commit_pending(node *nd, keyrec *old, keyrec *nk, int *wipe_failed)
{
    char pk[NODE_PATH_MAX + 128], pp[NODE_PATH_MAX + 128], po[NODE_PATH_MAX + 128];
    key_path(nd, nk->key_id, ".key", pk, sizeof pk);
    key_path(nd, nk->key_id, ".pending", pp, sizeof pp);
    key_path(nd, nk->key_id, ".old", po, sizeof po);
    *wipe_failed = 0;
    if (!old) {
        /* a new share: the live file appears atomically */
        if (key_find(nd, nk->key_id) || key_retired(nd, nk->key_id))
            return SIGIL_E_EXISTS;
        if (rename(pp, pk) != 0)
            return SIGIL_E_IO;
        nk->next = nd->keys; /* on disk now: listed, whatever the fsync says */
        nd->keys = nk;
        if (fsync_dir(nd->path_keys) != 0)
            fprintf(stderr, "sigil-node %u: WARNING: fsync of %s failed after adding %s\n",
                    nd->cfg.node_id, nd->path_keys, pk);
        return SIGIL_OK;
    }
    (void)unlink(po);
    if (link(pk, po) != 0 || rename(pp, pk) != 0 || fsync_dir(nd->path_keys) != 0) {
        int e = errno;
        (void)unlink(po);
        errno = e;
        return SIGIL_E_IO;
    }
    key_bury(nd, old, nk);
    *wipe_failed = wipe_file(nd, po) != SIGIL_OK;
    return SIGIL_OK;
}

int key_pending_wipe(node *nd, const char *key_id)
{
    char pp[NODE_PATH_MAX + 128];
    key_path(nd, key_id, ".pending", pp, sizeof pp);
    return wipe_file(nd, pp);
}

/* -------------------------------------------------------------- refresh */

int refresh_start(node *nd, sigil_rpc_call *call, const Sigil__V1__StartSessionRequest *rq)
{
    int rc = check_not_halted(nd, call);
    if (rc)
        return rc;
    keyrec *k = key_find(nd, rq->key_id);
    if (!k) {
        DETAIL(call, "no key '%s' on this node%s", rq->key_id,
               key_retired(nd, rq->key_id) ? " (retired)" : "");
        return SIGIL_E_NOT_FOUND;
    }
    if ((uint16_t)rq->scheme != k->scheme) {
        DETAIL(call, "key '%s' is scheme %u, request says %d", k->key_id, k->scheme, rq->scheme);
        return SIGIL_E_MISMATCH;
    }
    for (session *o = nd->sessions; o; o = o->next)
        if (o->kind == SIGIL__V1__SESSION_KIND__SESSION_KIND_REFRESH && !strcmp(o->key_id, k->key_id)) {
            DETAIL(call, "a refresh of key '%s' is already running", k->key_id);
            return SIGIL_E_EXISTS;
        }
    uint32_t self, n = k->pub.n, t = k->pub.t;
    if ((rc = check_parties(nd, call, rq->parties, rq->n_parties, &self)))
        return rc;
    if (rq->n_parties != n || rq->num_parties != n || rq->threshold != t) {
        DETAIL(call, "a refresh runs on all %u share holders of the %u-of-%u key '%s'", n, t, n, k->key_id);
        return SIGIL_E_THRESHOLD;
    }
    if (t < 2) {
        DETAIL(call, "key '%s' is 1-of-%u: every share is the key, a refresh cannot help", k->key_id, n);
        return SIGIL_E_THRESHOLD;
    }
    sigil_scalar ids[NODE_MAX_PEERS];
    scalar_ids(k->pub.g, rq->parties, n, ids);
    for (uint32_t i = 0; i < n; i++)
        if (!sigil_scalar_eq(&ids[i], &k->pub.ids[i])) {
            DETAIL(call, "parties are not the share holders of key '%s'", k->key_id);
            return SIGIL_E_PARTICIPANT;
        }
    if (self != k->pub.self) {
        DETAIL(call, "this node is not party %u of key '%s'", self, k->key_id);
        return SIGIL_E_PARTICIPANT;
    }
    if (rq->n_inbound || rq->n_items || rq->n_pool_entries) {
        DETAIL(call, "REFRESH start takes no inbound envelopes, items or pool entries");
        return SIGIL_E_INVALID;
    }
    if (nd->nsessions >= MAX_SESSIONS) {
        DETAIL(call, "too many open sessions");
        return SIGIL_E_TOO_LARGE;
    }
    uint8_t sh[32];
    char who[256];
    uint8_t ph[32];
    if ((rc = lc_params_hash(0, k->key_id, ph)) ||
        (rc = node_approvals_check(nd, call, "refresh", k->key_id, ph, rq->statement, rq->approvals,
                                   rq->n_approvals, sh, who, sizeof who)))
        return rc;
    rc = seen_record(nd, rq->session_id.data, 1);
    if (rc) {
        if (rc == SIGIL_E_REPLAY)
            DETAIL(call, "session id already seen by this node");
        return rc;
    }
    session *s = calloc(1, sizeof *s);
    if (!s)
        return SIGIL_E_NOMEM;
    memcpy(s->sid, rq->session_id.data, SIGIL_ENV_SID_LEN);
    s->kind = SIGIL__V1__SESSION_KIND__SESSION_KIND_REFRESH;
    snprintf(s->key_id, sizeof s->key_id, "%s", k->key_id);
    s->scheme = k->scheme;
    s->t = t;
    s->n = n;
    memcpy(s->parties, rq->parties, n * sizeof *s->parties);
    s->self = self;
    s->old_version = k->version;
    int ecdsa = k->scheme == SIGIL_ENV_SCHEME_ECDSA;
    sigil_dkg_params prm = {k->pub.g,
                            ecdsa ? SIGIL_ECDSA_DKG_CONTEXT : sigil_frost_context((sigil_frost_suite)k->scheme),
                            t, n, ids, self};
    sigil_buf r1;
    rc = sigil_buf_init(&r1, 1 << 20, 0);
    if (!rc && !ecdsa) {
        /* the share in secure memory of this call's own, zeroized after */
        sigil_keyshare ks;
        sigil_buf ub;
        sigil_scalar *slot = sodium_malloc(sizeof *slot);
        rc = slot ? sigil_buf_init(&ub, 4096, SIGIL_BUF_SECRET) : SIGIL_E_NOMEM;
        if (!rc) {
            rc = key_unseal_into(nd, k, &ub, slot, &ks);
            if (!rc) rc = sigil_dkg_refresh_new(&prm, &ks, &s->dkg);
            sigil_buf_free(&ub);
        }
        if (slot) {
            sodium_memzero(slot, sizeof *slot);
            sodium_free(slot);
        }
        if (!rc) rc = sigil_dkg_round1(s->dkg, NULL, NULL, &r1);
    } else if (!rc) {
        sigil_scalar *co = sodium_malloc(t * sizeof *co);
        rc = co ? unseal_ecdsa(nd, k, &s->share) : SIGIL_E_NOMEM;
        if (!rc) rc = sigil_ecdsa_refresh_coeffs(s->share, co);
        if (!rc) rc = sigil_dkg_new(&prm, &s->dkg);
        if (!rc) rc = sigil_dkg_round1(s->dkg, co, NULL, &r1);
        if (co) {
            sodium_memzero(co, t * sizeof *co);
            sodium_free(co);
        }
    }
    if (rc)
        DETAIL(call, "refresh of '%s' could not start: %s", k->key_id, sigil_strerror(rc));
    outbox o;
    memset(&o, 0, sizeof o);
    if (!rc) rc = outbox_init(&o, 1);
    if (!rc) rc = outbox_add(nd, &o, s->sid, 1, 0, SIGIL_ENV_DATA, r1.data, r1.size, NULL);
    if (!rc) rc = sigil_buf_init(&s->own_bcast, SIGIL_ENV_MAX_BODY + 1024, 0);
    if (!rc) rc = sigil_buf_put(&s->own_bcast, o.pay[0].data, o.pay[0].size);
    if (!rc) rc = pack_response(call, s->sid, 1, &o, 0, NULL);
    outbox_free(&o);
    sigil_buf_free(&r1);
    if (rc) {
        session_drop(nd, s); /* not listed yet: only freed */
        return rc;
    }
    s->round = 1;
    s->next = nd->sessions;
    nd->sessions = s;
    nd->nsessions++;
    fprintf(stderr, "sigil-node %u: refresh of key '%s' (share version %u) started, approved by %s\n",
            nd->cfg.node_id, s->key_id, s->old_version, who);
    return SIGIL_OK;
}

/* The new share is ready: seal it as version v+1 into keys/<id>.pending,
 * keep the result to broadcast (PREPARED) and, at the end, to return. */
static int refresh_prepare(node *nd, session *s, const sigil_buf *secret, const sigil_buf *pubpkg)
{
    keyrec *k = key_find(nd, s->key_id);
    if (!k || k->version != s->old_version)
        return SIGIL_E_STATE;
    int rc = key_store_version(nd, s->key_id, s->scheme, s->old_version + 1, ".pending", secret,
                               pubpkg, &s->pending);
    /* the group key never changes (the library checks it; so do we) */
    if (!rc && (s->pending->pklen != k->pklen || memcmp(s->pending->pk, k->pk, k->pklen)))
        rc = SIGIL_E_MISMATCH;
    if (!rc) rc = sigil_buf_init(&s->result, SIGIL_ENV_MAX_BODY, 0);
    if (!rc)
        rc = sigil_env_dkg_result_encode(s->scheme, s->key_id, s->pending->pk, s->pending->pklen,
                                         pubpkg->data, pubpkg->size, s->own_bcast.data,
                                         s->own_bcast.size, &s->result);
    return rc;
}

/* Last round: every other share holder's PREPARED result, then commit. */
static int refresh_commit(node *nd, sigil_rpc_call *call, session *s, const Sigil__V1__RoundRequest *rq)
{
    uint32_t n = s->n;
    if (rq->n_inbound != n - 1 || !s->pending) {
        DETAIL(call, "commit round needs %u PREPARED envelopes, got %zu", n - 1, rq->n_inbound);
        return SIGIL_E_INVALID;
    }
    sigil_buf body[NODE_MAX_PEERS];
    sigil_env_dkg_result res[NODE_MAX_PEERS];
    int got[NODE_MAX_PEERS] = {0};
    memset(body, 0, sizeof body);
    int rc = SIGIL_OK;
    for (size_t i = 0; i < rq->n_inbound && !rc; i++) {
        const Sigil__V1__Envelope *e = rq->inbound[i];
        sigil_buf tmp;
        int idx = -1;
        rc = sigil_buf_init(&tmp, SIGIL_ENV_MAX_BODY, 0);
        if (!rc)
            rc = inbound_open(nd, call, e, s->sid, s->round, SIGIL_ENV_DATA, 0, s->parties, n, &tmp,
                              NULL, &idx);
        if (!rc && got[idx]) {
            DETAIL(call, "two PREPARED envelopes from node %u (replay)", e->from);
            rc = SIGIL_E_REPLAY;
        }
        if (!rc) {
            got[idx] = 1;
            body[idx] = tmp;
            rc = sigil_env_dkg_result_decode(&res[idx], body[idx].data, body[idx].size);
            if (rc)
                DETAIL(call, "PREPARED result from node %u malformed", e->from);
        } else {
            sigil_buf_free(&tmp);
        }
    }
    if (!rc) {
        rc = sigil_env_dkg_result_decode(&res[s->self], s->result.data, s->result.size);
        sigil_keyshare pub;
        memset(&pub, 0, sizeof pub);
        if (!rc) rc = sigil_env_dkg_results_agree(res, n, &pub);
        sigil_keyshare_free(&pub);
        if (rc && !call->detail[0])
            DETAIL(call, "the share holders' prepared refresh results disagree: %s; old share kept",
                   sigil_strerror(rc));
    }
    for (uint32_t i = 0; i < n; i++)
        sigil_buf_free(&body[i]);
    if (rc)
        return rc; /* nothing changed; the session stays (the coordinator aborts it) */

    /* commit: every share holder has its new share sealed on disk */
    keyrec *old = key_find(nd, s->key_id);
    if (!old || old->version != s->old_version) {
        DETAIL(call, "key '%s' changed during the refresh", s->key_id);
        return SIGIL_E_STATE;
    }
    int wr = 0;
    if ((rc = key_commit_pending(nd, old, s->pending, &wr))) {
        DETAIL(call, "key file switch failed: %s; old share kept", strerror(errno));
        return rc;
    }
    keyrec *nk = s->pending;
    s->pending = NULL;
    char text[128];
    snprintf(text, sizeof text, "refresh: share version %u -> %u; old share %s", s->old_version,
             nk->version, wr ? "NOT wiped" : "wiped");
    uint8_t ph[32];
    crypto_hash_sha256(ph, s->result.data, s->result.size);
    int ar = lc_audit(nd, call, SIGIL_AUDIT_REFRESH, nk, ph, text);
    fprintf(stderr, "sigil-node %u: key '%s' refreshed: %s%s\n", nd->cfg.node_id, nk->key_id, text,
            ar ? " (node audit log append FAILED)" : "");
    outbox res_o;
    memset(&res_o, 0, sizeof res_o);
    rc = outbox_init(&res_o, 1);
    if (!rc) rc = outbox_add(nd, &res_o, s->sid, s->round, 0, SIGIL_ENV_RESULT, s->result.data,
                             s->result.size, NULL);
    if (!rc) rc = pack_response(call, s->sid, s->round, NULL, 1, &res_o);
    outbox_free(&res_o);
    session_drop(nd, s);
    return rc;
}

int refresh_round(node *nd, sigil_rpc_call *call, session *s, const Sigil__V1__RoundRequest *rq)
{
    uint32_t n = s->n;
    int ecdsa = s->scheme == SIGIL_ENV_SCHEME_ECDSA;
    if (s->round == (ecdsa ? 7u : 4u))
        return refresh_commit(nd, call, s, rq);
    sigil_buf body[NODE_MAX_PEERS], raw[NODE_MAX_PEERS], out[NODE_MAX_PEERS], in[NODE_MAX_PEERS];
    sigil_buf eo[NODE_MAX_PEERS];
    memset(out, 0, sizeof out);
    memset(eo, 0, sizeof eo);
    int rc = dkg_round_inputs(nd, call, s, rq, body, raw);
    if (rc)
        return rc;
    uint32_t culprit = SIGIL_DKG_NOBODY, next = s->round + 1;
    uint16_t eculprit = 0;
    outbox o;
    memset(&o, 0, sizeof o);
    rc = outbox_init(&o, n + 1);
    sigil_buf sec, pubb;
    memset(&sec, 0, sizeof sec);
    memset(&pubb, 0, sizeof pubb);
    if (!rc && s->round == 1) {
        for (uint32_t i = 0; i < n && !rc; i++)
            rc = sigil_buf_init(&out[i], 1 << 16, SIGIL_BUF_SECRET);
        if (!rc) rc = sigil_dkg_round2(s->dkg, body, out, &culprit);
        if (!rc && ecdsa) rc = sigil_ecdsa_refresh_check(s->share, s->dkg, &eculprit);
        if (!rc) rc = send_each(nd, s, &o, 2, out);
        if (!rc) {
            raw[s->self] = s->own_bcast;
            echo_hash(s, 1, raw, s->echo);
            rc = outbox_add(nd, &o, s->sid, 2, 0, SIGIL_ENV_ECHO, s->echo, 32, NULL);
        }
    } else if (!rc && s->round == 2) {
        rc = sigil_buf_init(&out[0], 1 << 16, 0);
        if (!rc) rc = sigil_dkg_round3(s->dkg, body, &out[0], &culprit);
        if (!rc) rc = outbox_add(nd, &o, s->sid, 3, 0, SIGIL_ENV_DATA, out[0].data, out[0].size, NULL);
        if (!rc) {
            sigil_buf_reset(&s->own_bcast);
            rc = sigil_buf_put(&s->own_bcast, out[0].data, out[0].size);
        }
    } else if (!rc && s->round == 3) {
        sigil_keyshare ks, pubk;
        memset(&ks, 0, sizeof ks);
        rc = sigil_dkg_finish(s->dkg, body, &ks, &culprit);
        if (!rc && !ecdsa) rc = sigil_frost_prepare_key((sigil_frost_suite)s->scheme, &ks);
        if (!rc) {
            pubk = ks;
            pubk.secret = NULL;
            rc = sigil_buf_init(&pubb, SIGIL_HSM_SHARE_MAX, 0);
        }
        if (!rc) rc = sigil_keyshare_serialize(&pubk, &pubb);
        if (!rc && !ecdsa) {
            uint8_t *sp = NULL, h[32];
            rc = sigil_buf_init(&sec, FROST_SEALED_LEN, SIGIL_BUF_SECRET);
            if (!rc) rc = sigil_buf_put_u8(&sec, 1);
            if (!rc) rc = sigil_buf_reserve(&sec, 32, &sp);
            if (!rc) sigil_scalar_serialize(ks.g, sp, ks.secret);
            crypto_hash_sha256(h, pubb.data, pubb.size);
            if (!rc) rc = sigil_buf_put(&sec, h, 32);
            if (!rc) rc = refresh_prepare(nd, s, &sec, &pubb);
            if (!rc) rc = outbox_add(nd, &o, s->sid, 4, 0, SIGIL_ENV_DATA, s->result.data,
                                     s->result.size, NULL);
        } else if (!rc) {
            /* DKLs23: new pairwise OT setup for the new shares (rounds 4..6) */
            sigil_ecdsa_keyshare *eks = NULL;
            rc = sigil_ecdsa_keyshare_from_refresh(&eks, s->share, &ks);
            if (!rc) rc = sigil_ecdsa_setup_new(&s->setup, eks, s->sid);
            sigil_ecdsa_keyshare_free(eks);
            if (!rc) rc = sigil_buf_init(&s->pubpkg, SIGIL_HSM_SHARE_MAX, 0);
            if (!rc) rc = sigil_buf_put(&s->pubpkg, pubb.data, pubb.size);
            if (!rc) rc = ecdsa_out_init(eo, n - 1);
            if (!rc) rc = sigil_ecdsa_setup_round1(s->setup, eo);
            uint32_t q = 0;
            for (uint32_t i = 0; i < n && !rc; i++)
                if (i != s->self)
                    sigil_buf_view(&out[i], eo[q].data, eo[q].size), q++;
            if (!rc) rc = send_each(nd, s, &o, 4, out);
            memset(out, 0, sizeof out);
        }
        sigil_keyshare_free(&ks);
    } else if (!rc && ecdsa && s->round >= 4 && s->round <= 6 && s->setup) {
        uint32_t q = 0;
        for (uint32_t i = 0; i < n; i++)
            if (i != s->self)
                sigil_buf_view(&in[q++], body[i].data, body[i].size);
        rc = ecdsa_out_init(eo, n - 1);
        if (!rc && s->round == 4)
            rc = sigil_ecdsa_setup_round2(s->setup, in, eo, &eculprit);
        else if (!rc && s->round == 5)
            rc = sigil_ecdsa_setup_round3(s->setup, in, eo, &eculprit);
        if (!rc && s->round < 6) {
            q = 0;
            for (uint32_t i = 0; i < n; i++)
                if (i != s->self)
                    sigil_buf_view(&out[i], eo[q].data, eo[q].size), q++;
            rc = send_each(nd, s, &o, next, out);
            memset(out, 0, sizeof out);
        } else if (!rc) {
            sigil_ecdsa_share *sh = NULL;
            rc = sigil_ecdsa_setup_finish(s->setup, in, &sh, &eculprit);
            if (!rc) rc = sigil_buf_init(&sec, 4 * SIGIL_HSM_SHARE_MAX, SIGIL_BUF_SECRET);
            if (!rc) rc = sigil_ecdsa_share_encode(sh, &sec);
            if (!rc) rc = refresh_prepare(nd, s, &sec, &s->pubpkg);
            if (!rc) rc = outbox_add(nd, &o, s->sid, 7, 0, SIGIL_ENV_DATA, s->result.data,
                                     s->result.size, NULL);
            sigil_ecdsa_share_free(sh);
        }
    } else if (!rc) {
        rc = SIGIL_E_STATE;
    }
    for (uint32_t i = 0; i < n; i++) {
        sigil_buf_free(&body[i]);
        sigil_buf_free(&out[i]);
        sigil_buf_free(&eo[i]);
    }
    sigil_buf_free(&sec);
    sigil_buf_free(&pubb);
    if (!rc) rc = pack_response(call, s->sid, next, &o, 0, NULL);
    outbox_free(&o);
    if (rc) {
        if (culprit != SIGIL_DKG_NOBODY && culprit < n)
            DETAIL(call, "refresh round %u failed: %s (culprit node %u)", s->round, sigil_strerror(rc),
                   s->parties[culprit]);
        else if (eculprit)
            DETAIL(call, "refresh round %u failed: %s (culprit node %u)", s->round, sigil_strerror(rc),
                   eculprit);
        else if (!call->detail[0])
            DETAIL(call, "refresh round %u failed: %s", s->round, sigil_strerror(rc));
        if (s->pending)
            (void)key_pending_wipe(nd, s->key_id);
        session_drop(nd, s);
        return rc;
    }
    s->round = next;
    return SIGIL_OK;
}

/* --------------------------------------------------------------- retire */

int refresh_h_retire(void *ctx, sigil_rpc_call *call)
{
    node *nd = ctx;
    const Sigil__V1__RetireRequest *rq = (const void *)call->req;
    Sigil__V1__RetireResponse r = SIGIL__V1__RETIRE_RESPONSE__INIT;
    Sigil__V1__KeyInfo ki = SIGIL__V1__KEY_INFO__INIT;
    const char *key_id = rq->key_id ? rq->key_id : "";
    int rc = sigil_rpc_key_id_check(key_id);
    if (rc) {
        DETAIL(call, "bad key id");
        return rc;
    }
    pthread_mutex_lock(&nd->mu);
    keyrec *k = key_find(nd, key_id);
    if (!k) {
        if (key_retired(nd, key_id)) {
            /* idempotent: nothing left to destroy, nothing changes */
            ki.key_id = (char *)key_id;
            ki.state = SIGIL__V1__KEY_STATE__KEY_STATE_RETIRED;
            r.key = &ki;
            rc = sigil_rpc_pack(&r.base, call->resp);
        } else {
            DETAIL(call, "no key '%s' on node %u", key_id, nd->cfg.node_id);
            rc = SIGIL_E_NOT_FOUND;
        }
        pthread_mutex_unlock(&nd->mu);
        return rc;
    }
    uint8_t sh[32];
    char who[256];
    uint8_t ph[32];
    rc = lc_params_hash(1, key_id, ph);
    if (!rc)
        rc = node_approvals_check(nd, call, "retire", key_id, ph, rq->statement, rq->approvals,
                                  rq->n_approvals, sh, who, sizeof who);
    if (rc) {
        pthread_mutex_unlock(&nd->mu);
        return rc;
    }
    /* sessions on the key end now (their unsealed material is freed) */
    for (session *s = nd->sessions, *nx; s; s = nx) {
        nx = s->next;
        if (!strcmp(s->key_id, key_id))
            session_drop(nd, s);
    }
    char pk[NODE_PATH_MAX + 128], po[NODE_PATH_MAX + 128], pt[NODE_PATH_MAX + 128];
    key_path(nd, key_id, ".key", pk, sizeof pk);
    key_path(nd, key_id, ".old", po, sizeof po);
    key_path(nd, key_id, ".retired", pt, sizeof pt);
    /* tombstone: public data only (the key id is never reused) */
    sigil_buf tb, pubb;
    memset(&pubb, 0, sizeof pubb);
    rc = sigil_buf_init(&tb, 2 * SIGIL_HSM_SHARE_MAX, 0);
    if (!rc) rc = sigil_buf_init(&pubb, SIGIL_HSM_SHARE_MAX, 0);
    if (!rc) rc = sigil_keyshare_serialize(&k->pub, &pubb);
    if (!rc) rc = sigil_buf_put(&tb, "SGNR", 4);
    if (!rc) rc = sigil_buf_put_u8(&tb, 1);
    if (!rc) rc = sigil_buf_put_u16(&tb, k->scheme);
    if (!rc) rc = sigil_buf_put_u32(&tb, k->party);
    if (!rc) rc = sigil_buf_put_u32(&tb, k->version);
    if (!rc) rc = sigil_buf_put_u64(&tb, (uint64_t)time(NULL));
    if (!rc) rc = sigil_buf_put_string(&tb, key_id, strlen(key_id));
    if (!rc) rc = sigil_buf_put_string(&tb, pubb.data, pubb.size);
    if (!rc) rc = sigil_buf_put(&tb, sh, 32);
    if (!rc) rc = sigil_file_write_atomic(pt, tb.data, tb.size, 0600);
    sigil_buf_free(&tb);
    sigil_buf_free(&pubb);
    if (!rc && rename(pk, po) != 0)
        rc = SIGIL_E_IO;
    if (!rc) rc = fsync_dir(nd->path_keys);
    if (rc) {
        (void)unlink(pt);
        pthread_mutex_unlock(&nd->mu);
        DETAIL(call, "retire of '%s' on node %u failed before anything was destroyed: %s", key_id,
               nd->cfg.node_id, sigil_strerror(rc));
        return rc;
    }
    /* from here the key is gone from this node: no handler finds it */
    key_bury(nd, k, NULL);
    char pp[NODE_PATH_MAX + 128];
    key_path(nd, key_id, ".pending", pp, sizeof pp);
    int wr = wipe_file(nd, po) | wipe_file(nd, pp);
    char text[128];
    snprintf(text, sizeof text, "retire: share version %u destroyed%s; approvals=%.60s", k->version,
             wr ? " (wipe FAILED)" : "", who);
    int ar = lc_audit(nd, call, SIGIL_AUDIT_CEREMONY, k, sh, text);
    fprintf(stderr, "sigil-node %u: key '%s' RETIRED: %s%s\n", nd->cfg.node_id, key_id, text,
            ar ? " (node audit log append FAILED)" : "");
    ki.key_id = (char *)key_id;
    ki.scheme = (Sigil__V1__Scheme)k->scheme;
    ki.public_key.data = k->pk;
    ki.public_key.len = k->pklen;
    ki.threshold = k->pub.t;
    ki.num_parties = k->pub.n;
    ki.state = SIGIL__V1__KEY_STATE__KEY_STATE_RETIRED;
    ki.share_version = k->version;
    r.key = &ki;
    rc = wr ? SIGIL_E_IO : sigil_rpc_pack(&r.base, call->resp);
    if (wr)
        DETAIL(call, "key '%s' retired on node %u but its old key file could not be wiped (%s.old)",
               key_id, nd->cfg.node_id, key_id);
    pthread_mutex_unlock(&nd->mu);
    return rc;
}

/* ------------------------------------------------------------- recovery */

int refresh_recover(node *nd)
{
    DIR *d = opendir(nd->path_keys);
    if (!d)
        return SIGIL_E_IO;
    struct dirent *e;
    int rc = SIGIL_OK;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        char p[NODE_PATH_MAX + 300];
        if (l > 4 && !strcmp(e->d_name + l - 4, ".old")) {
            /* a commit or retire that stopped before the wipe: finish it */
            snprintf(p, sizeof p, "%s/%s", nd->path_keys, e->d_name);
            int w = wipe_file(nd, p);
            fprintf(stderr, "sigil-node %u: superseded share file %s %s\n", nd->cfg.node_id, p,
                    w ? "could NOT be wiped" : "wiped");
            if (w)
                rc = w;
        } else if (l > 8 && !strcmp(e->d_name + l - 8, ".pending")) {
            fprintf(stderr,
                    "sigil-node %u: WARNING: %s/%s holds a prepared refresh share that was never "
                    "committed on this node (see docs/modules/signer-node.md, refresh recovery)\n",
                    nd->cfg.node_id, nd->path_keys, e->d_name);
        }
    }
    closedir(d);
    return rc;
}
