/* sigil-coordinator: share backup and restore (sigil-ceremony backup /
 * restore; signer-node/include/sigil/backup.h).
 *
 *   /sigil.v1.Admin/BackupKey: k-of-m approvals over a "backup" statement
 *     binding the key and every officer's certified backup key (nonce
 *     burned); a SESSION_KIND_BACKUP on every share holder, each returning
 *     its section (share split k-of-m, pieces RSA-OAEP-encrypted to the
 *     officers, signed by the node's identity key). This process sees only
 *     ciphertext and public points.
 *   /sigil.v1.Admin/RestoreKey: k-of-m approvals over a "restore" statement
 *     binding the key, the node and its section; SESSION_KIND_RESTORE on
 *     that node with the officers' pieces (each encrypted to the node's
 *     envelope key); success only if the node's RESULT carries the
 *     registered key's public key and package. ECDSA (DKLs23): the session
 *     runs on EVERY share holder (same statement and approvals, checked by
 *     each node; pieces to the restored node only): a new all-pairs OT
 *     setup, committed by all nodes only once all have prepared (see
 *     signer-node/src/backup_node.c). Signing on the key pauses meanwhile
 *     (state PENDING) and its presignature pools start empty afterwards.
 * Every accepted or refused request is in the audit log (caller, officers,
 * statement SHA-256, outcome). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "coord_int.h"
#include "sigil/backup.h"
#include "sigil/envelope.h"
#include "sigil/err.h"
#include "sigil/v1/admin.pb-c.h"

#define ADMIN_BACKUP_KEY "/sigil.v1.Admin/BackupKey"
#define ADMIN_RESTORE_KEY "/sigil.v1.Admin/RestoreKey"
#define BACKUP_REQ_MAX (256u * 1024u)

static void audit(sigil_coord *c, sigil_rpc_call *call, const char *key_id, int scheme,
                  const ProtobufCBinaryData *statement, Sigil__V1__Approval *const *ap, size_t n,
                  const char *what, int rc, int *out_rc)
{
    int ar = coord_audit_ceremony(c, call, key_id, scheme, statement, ap, n, what, rc);
    if (out_rc && ar)
        *out_rc = coord_detail(call, SIGIL_E_UNAVAILABLE, "audit log unavailable: %s withheld", what);
}

static coord_node *node_of(sigil_coord *c, uint32_t id)
{
    for (size_t i = 0;; i++) {
        coord_node *n = coord_node_at(c, i);
        if (!n || n->cfg->id == id)
            return n;
    }
}

static int backup_run(sigil_coord *c, sigil_rpc_call *call, const Sigil__V1__BackupKeyRequest *req,
                      const sigil_coord_key *info, Sigil__V1__BackupKeyResponse *resp,
                      coord_session *s, sigil_buf *bodies)
{
    const sigil_coord_config *cfg = coord_cfg(c);
    int rc = coord_check_running(c, call);
    if (rc)
        return rc;
    if (info->state != SIGIL__V1__KEY_STATE__KEY_STATE_ACTIVE)
        return coord_detail(call, SIGIL_E_STATE, "backup: key '%s' is not active (%s)", call->key_id,
                    info->state == SIGIL__V1__KEY_STATE__KEY_STATE_RETIRED ? "retired" : "being refreshed");
    if (info->scheme < 1 || info->scheme > 4)
        return coord_detail(call, SIGIL_E_VERSION, "backup: scheme %d cannot be backed up", info->scheme);
    uint8_t ph[32];
    sigil_backup_params_hash(call->key_id, cfg->approvals_required, req->officers.data,
                             req->officers.len, ph);
    sigil_breaker_statement st;
    if ((rc = coord_approvals_use(c, call, "backup", &req->statement, req->approvals,
                                  req->n_approvals, call->key_id, ph, &st)))
        return rc;
    sigil_buf starts[SIGIL_COORD_MAX_NODES];
    size_t n = info->num_parties;
    s->count = n;
    randombytes_buf(s->session_id, 32);
    for (size_t i = 0; i < n; i++) {
        Sigil__V1__StartSessionRequest r = SIGIL__V1__START_SESSION_REQUEST__INIT;
        sigil_buf_init(&starts[i], BACKUP_REQ_MAX, 0);
        s->nodes[i] = node_of(c, info->parties[i]);
        if (!s->nodes[i] || coord_ensure_peer(c, s->nodes[i])) {
            rc = coord_detail(call, SIGIL_E_UNAVAILABLE, "backup: node %u unreachable (every share holder "
                                                 "exports its section)", info->parties[i]);
            continue;
        }
        r.session_id = (ProtobufCBinaryData){32, s->session_id};
        r.kind = SIGIL__V1__SESSION_KIND__SESSION_KIND_BACKUP;
        r.key_id = (char *)call->key_id;
        r.scheme = (Sigil__V1__Scheme)info->scheme;
        r.params = req->officers;
        r.statement = req->statement;
        r.approvals = req->approvals;
        r.n_approvals = req->n_approvals;
        if (!rc)
            rc = sigil_rpc_pack(&r.base, &starts[i]);
    }
    if (!rc && (rc = coord_session_run(s, starts, cfg->keygen_timeout_ms, 2)))
        coord_detail(call, rc, "backup failed on the nodes: %s", s->detail);
    for (size_t i = 0; i < n; i++)
        sigil_buf_free(&starts[i]);
    for (size_t i = 0; !rc && i < n; i++) {
        sigil_backup_section sec;
        Sigil__V1__SessionResponse *f = s->final[i];
        if (f->n_results != 1 ||
            coord_open_result(c, f->results[0], info->parties[i], s->session_id, &bodies[i]) ||
            sigil_backup_section_decode(&sec, bodies[i].data, bodies[i].size) ||
            sec.node != info->parties[i] || strcmp(sec.key_id, call->key_id))
            rc = coord_detail(call, SIGIL_E_CONFIRM, "node %u: bad backup section", info->parties[i]);
    }
    if (rc)
        return rc;
    resp->n_sections = n;
    for (size_t i = 0; i < n; i++) {
        sigil__v1__backup_section__init(resp->sections[i]);
        resp->sections[i]->node_id = info->parties[i];
        resp->sections[i]->section = (ProtobufCBinaryData){bodies[i].size, bodies[i].data};
    }
    return SIGIL_OK;
}

static int h_backup_key(void *ctx, sigil_rpc_call *call)
{
    sigil_coord *c = ctx;
    const Sigil__V1__BackupKeyRequest *req = (const Sigil__V1__BackupKeyRequest *)call->req;
    Sigil__V1__BackupKeyResponse resp = SIGIL__V1__BACKUP_KEY_RESPONSE__INIT;
    Sigil__V1__BackupSection secs[SIGIL_COORD_MAX_NODES], *sp[SIGIL_COORD_MAX_NODES];
    sigil_buf bodies[SIGIL_COORD_MAX_NODES];
    sigil_coord_key info;
    coord_session s;
    memset(&s, 0, sizeof s);
    memset(&info, 0, sizeof info);
    for (size_t i = 0; i < SIGIL_COORD_MAX_NODES; i++) {
        sp[i] = &secs[i];
        sigil_buf_init(&bodies[i], 1u << 20, 0);
    }
    resp.sections = sp;
    int rc = coord_key_info(c, call->key_id, &info);
    if (rc)
        coord_detail(call, rc, "backup: unknown key '%s'", call->key_id);
    else
        rc = backup_run(c, call, req, &info, &resp, &s, bodies);
    if (!rc) {
        /* recorded before the sections leave */
        audit(c, call, call->key_id, info.scheme, &req->statement, req->approvals, req->n_approvals,
              "backup-exported", SIGIL_OK, &rc);
    } else {
        audit(c, call, call->key_id, info.scheme, &req->statement, req->approvals, req->n_approvals,
              "backup-refused", rc, NULL);
    }
    if (!rc)
        rc = sigil_rpc_pack(&resp.base, call->resp);
    fprintf(stderr, "sigil-coordinator: backup of '%s' by %s: %s\n", call->key_id, call->peer->uri,
            rc ? call->detail : "sections exported");
    coord_session_clear(&s);
    for (size_t i = 0; i < SIGIL_COORD_MAX_NODES; i++)
        sigil_buf_free(&bodies[i]);
    return rc;
}

static int restore_run(sigil_coord *c, sigil_rpc_call *call, const Sigil__V1__RestoreKeyRequest *req,
                       const sigil_coord_key *info)
{
    const sigil_coord_config *cfg = coord_cfg(c);
    int rc = coord_check_running(c, call);
    if (rc)
        return rc;
    if (info->state != SIGIL__V1__KEY_STATE__KEY_STATE_ACTIVE)
        return coord_detail(call, SIGIL_E_STATE, "restore: key '%s' is not active (%s)", call->key_id,
                    info->state == SIGIL__V1__KEY_STATE__KEY_STATE_RETIRED ? "retired" : "being refreshed");
    int party = 0;
    for (size_t i = 0; i < info->num_parties; i++)
        party |= info->parties[i] == req->node_id;
    coord_node *nd = node_of(c, req->node_id);
    if (!party || !nd)
        return coord_detail(call, SIGIL_E_PARTICIPANT, "restore: node %u holds no share of '%s'",
                    req->node_id, call->key_id);
    /* a section of the key's CURRENT sharing only (a backup taken before a
     * refresh is stale: its share would not combine with the others) */
    sigil_backup_section sec;
    if (sigil_backup_section_decode(&sec, req->section.data, req->section.len) ||
        strcmp(sec.key_id, call->key_id) || sec.node != req->node_id)
        return coord_detail(call, SIGIL_E_INVALID, "restore: the backup section is malformed or for "
                                           "another key or node");
    if (sec.version != info->share_version || sec.package_len != info->package_len ||
        info->package_len < 14 || memcmp(sec.package, info->package, 10) ||
        memcmp(sec.package + 14, info->package + 14, info->package_len - 14))
        return coord_detail(call, SIGIL_E_MISMATCH,
                    "restore: the backup holds share version %u but '%s' is at version %u (the "
                    "key was refreshed after this backup): take a new backup after every refresh",
                    sec.version, call->key_id, info->share_version);
    if (req->n_pieces < 1 || req->n_pieces > SIGIL_BACKUP_MAX_OFFICERS)
        return coord_detail(call, SIGIL_E_THRESHOLD, "restore: %zu pieces (1..%d)", req->n_pieces,
                    SIGIL_BACKUP_MAX_OFFICERS);
    /* ECDSA: every share holder takes part; all must be up before the
     * approvals are used (the restored node need not hold the key) */
    if (info->scheme == SIGIL_ENV_SCHEME_ECDSA &&
        (rc = coord_reach_all(c, call, info, "an ECDSA restore", req->node_id)))
        return rc;
    uint8_t ph[32];
    sigil_backup_restore_params_hash(call->key_id, req->node_id, req->section.data, req->section.len, ph);
    sigil_breaker_statement st;
    if ((rc = coord_approvals_use(c, call, "restore", &req->statement, req->approvals,
                                  req->n_approvals, call->key_id, ph, &st)))
        return rc;
    int ecdsa = info->scheme == SIGIL_ENV_SCHEME_ECDSA;
    /* fail-closed: the approved start is durable before any node acts */
    audit(c, call, call->key_id, info->scheme, &req->statement, req->approvals, req->n_approvals,
          ecdsa ? "restore-started all-nodes" : "restore-started", SIGIL_OK, &rc);
    if (rc)
        return rc;
    coord_session s;
    memset(&s, 0, sizeof s);
    s.count = ecdsa ? info->num_parties : 1;
    for (size_t i = 0; i < s.count; i++) {
        s.nodes[i] = ecdsa ? node_of(c, info->parties[i]) : nd;
        if (!s.nodes[i] || coord_ensure_peer(c, s.nodes[i]))
            return coord_detail(call, SIGIL_E_UNAVAILABLE, "restore: node %u unreachable%s",
                                ecdsa ? info->parties[i] : req->node_id,
                                ecdsa ? " (an ECDSA restore renews the OT state of every share "
                                        "holder with the restored node)" : "");
    }
    randombytes_buf(s.session_id, 32);
    Sigil__V1__Envelope env[SIGIL_BACKUP_MAX_OFFICERS], *ep[SIGIL_BACKUP_MAX_OFFICERS];
    for (size_t i = 0; i < req->n_pieces; i++) {
        sigil__v1__envelope__init(&env[i]);
        env[i].session_id = (ProtobufCBinaryData){32, s.session_id};
        env[i].from = 0;
        env[i].to = req->node_id;
        env[i].kind = SIGIL__V1__ENVELOPE_KIND__ENVELOPE_KIND_DATA;
        env[i].payload = req->pieces[i];
        ep[i] = &env[i];
    }
    uint32_t one[1] = {req->node_id};
    sigil_buf starts[SIGIL_COORD_MAX_NODES], bodies[SIGIL_COORD_MAX_NODES];
    sigil_env_dkg_result res[SIGIL_COORD_MAX_NODES];
    for (size_t i = 0; i < s.count; i++) {
        uint32_t id = ecdsa ? info->parties[i] : req->node_id;
        Sigil__V1__StartSessionRequest r = SIGIL__V1__START_SESSION_REQUEST__INIT;
        r.session_id = (ProtobufCBinaryData){32, s.session_id};
        r.kind = SIGIL__V1__SESSION_KIND__SESSION_KIND_RESTORE;
        r.key_id = (char *)call->key_id;
        r.scheme = (Sigil__V1__Scheme)info->scheme;
        r.threshold = info->threshold;
        r.num_parties = ecdsa ? info->num_parties : 1;
        r.parties = ecdsa ? (uint32_t *)info->parties : one;
        r.n_parties = ecdsa ? info->num_parties : 1;
        r.params = req->section;
        r.statement = req->statement;
        r.approvals = req->approvals;
        r.n_approvals = req->n_approvals;
        if (id == req->node_id) { /* the pieces go to the restored node only */
            r.inbound = ep;
            r.n_inbound = req->n_pieces;
        }
        sigil_buf_init(&starts[i], BACKUP_REQ_MAX, 0);
        sigil_buf_init(&bodies[i], 1u << 20, 0);
        if (!rc)
            rc = sigil_rpc_pack(&r.base, &starts[i]);
    }
    /* ECDSA: every share holder swaps its OT state: no signing meanwhile */
    sigil_coord_key pend = *info;
    pend.state = SIGIL__V1__KEY_STATE__KEY_STATE_PENDING;
    if (!rc && ecdsa && (rc = coord_key_replace(c, &pend, 0)))
        coord_detail(call, rc, "restore not started: %s", sigil_strerror(rc));
    if (!rc && (rc = coord_session_run(&s, starts, cfg->keygen_timeout_ms, 8)))
        coord_detail(call, rc, "restore failed on node %u: %s",
                     s.failed_party ? s.failed_party : req->node_id, s.detail);
    for (size_t i = 0; !rc && i < s.count; i++) {
        uint32_t id = ecdsa ? info->parties[i] : req->node_id;
        if (s.final[i]->n_results != 1 ||
            coord_open_result(c, s.final[i]->results[0], id, s.session_id, &bodies[i]) ||
            sigil_env_dkg_result_decode(&res[i], bodies[i].data, bodies[i].size) ||
            res[i].scheme != info->scheme || strcmp(res[i].key_id, call->key_id))
            rc = coord_detail(call, SIGIL_E_CONFIRM, "restore: node %u gave no valid result", id);
    }
    sigil_keyshare pub;
    memset(&pub, 0, sizeof pub);
    if (!rc && ecdsa && (rc = sigil_env_dkg_results_agree(res, s.count, &pub)))
        coord_detail(call, rc, "restore: the share holders' results disagree");
    sigil_keyshare_free(&pub);
    /* every node holds the registered key: same public key, and the same
     * public package except its `self` field (sigil/dkg.h encoding: 0x4b |
     * group | u32 t | u32 n | u32 self | ids | verifying | group key | 0),
     * which names the node that serialized it */
    for (size_t i = 0; !rc && i < s.count; i++)
        if (res[i].public_key_len != info->pk_len ||
            memcmp(res[i].public_key, info->public_key, info->pk_len) ||
            res[i].public_package_len != info->package_len || info->package_len < 14 ||
            memcmp(res[i].public_package, info->package, 10) ||
            memcmp(res[i].public_package + 14, info->package + 14, info->package_len - 14))
            rc = coord_detail(call, SIGIL_E_MISMATCH, "restore: node %u holds another key than '%s'",
                              ecdsa ? info->parties[i] : req->node_id, call->key_id);
    /* active again, with empty pools (presignatures made with the old OT
     * state or with the destroyed node are gone from the nodes) */
    if (ecdsa && coord_key_replace(c, info, 0) && !rc)
        rc = coord_detail(call, SIGIL_E_STATE, "restore: key '%s' could not be reactivated", call->key_id);
    coord_session_clear(&s);
    for (size_t i = 0; i < s.count; i++) {
        sigil_buf_free(&starts[i]);
        sigil_buf_free(&bodies[i]);
    }
    return rc;
}

static int h_restore_key(void *ctx, sigil_rpc_call *call)
{
    sigil_coord *c = ctx;
    const Sigil__V1__RestoreKeyRequest *req = (const Sigil__V1__RestoreKeyRequest *)call->req;
    Sigil__V1__RestoreKeyResponse resp = SIGIL__V1__RESTORE_KEY_RESPONSE__INIT;
    Sigil__V1__KeyInfo ki = SIGIL__V1__KEY_INFO__INIT;
    sigil_coord_key info;
    memset(&info, 0, sizeof info);
    int rc = coord_key_info(c, call->key_id, &info);
    if (rc)
        coord_detail(call, rc, "restore: unknown key '%s'", call->key_id);
    else
        rc = restore_run(c, call, req, &info);
    audit(c, call, call->key_id, info.scheme, &req->statement, req->approvals, req->n_approvals,
          rc ? "restore-refused" : "restore-installed", rc, rc ? NULL : &rc);
    fprintf(stderr, "sigil-coordinator: restore of '%s' on node %u by %s: %s\n", call->key_id,
            req->node_id, call->peer->uri, rc ? call->detail : "share restored");
    if (rc)
        return rc;
    ki.key_id = info.key_id;
    ki.scheme = (Sigil__V1__Scheme)info.scheme;
    ki.public_key = (ProtobufCBinaryData){info.pk_len, info.public_key};
    ki.threshold = info.threshold;
    ki.num_parties = info.num_parties;
    ki.state = (Sigil__V1__KeyState)info.state;
    ki.share_version = info.share_version;
    resp.key = &ki;
    return sigil_rpc_pack(&resp.base, call->resp);
}

int coord_backup_register(sigil_coord *c, sigil_rpc_server *server)
{
    int rc = sigil_rpc_server_add(server, ADMIN_BACKUP_KEY, &sigil__v1__backup_key_request__descriptor,
                                  BACKUP_REQ_MAX, h_backup_key, c);
    if (!rc)
        rc = sigil_rpc_server_add(server, ADMIN_RESTORE_KEY,
                                  &sigil__v1__restore_key_request__descriptor, BACKUP_REQ_MAX,
                                  h_restore_key, c);
    return rc;
}
