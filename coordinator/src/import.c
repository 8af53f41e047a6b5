/* sigil-coordinator: key import (sigil-ceremony import).
 *
 *   /sigil.v1.Admin/ImportPrepare: every node's current envelope
 *     certificate (Node/Status), so the ceremony can encrypt each share to
 *     its node. The ceremony checks them against the node identity keys it
 *     recorded at init: this coordinator cannot substitute a key of its own.
 *   /sigil.v1.Admin/ImportKey: k-of-m approvals over an "import" statement
 *     binding key id, scheme, t, n and the public key (nonce burned), then a
 *     SESSION_KIND_IMPORT session on every node (FROST: 2 rounds; ECDSA: 5,
 *     the confirmations then the DKLs23 pairwise OT setup), each given its dealing
 *     (encrypted to it, signed by an officer: this process reads and alters
 *     none). The key is registered only if every node confirms the same
 *     public key, commitments and public package, and that key is the
 *     approved one. Every accepted or refused ImportKey is in the audit log
 *     (who called, which officers approved, the statement's SHA-256, the
 *     outcome); a success is recorded before the key is registered.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "coord_int.h"
#include "sigil/dealing.h"
#include "sigil/envelope.h"
#include "sigil/err.h"
#include "sigil/v1/admin.pb-c.h"

#define ADMIN_IMPORT_PREPARE "/sigil.v1.Admin/ImportPrepare"
#define ADMIN_IMPORT_KEY "/sigil.v1.Admin/ImportKey"
#define IMPORT_REQ_MAX (256u * 1024u)

static int h_import_prepare(void *ctx, sigil_rpc_call *call)
{
    sigil_coord *c = ctx;
    const sigil_coord_config *cfg = coord_cfg(c);
    const Sigil__V1__ImportPrepareRequest *pr = (const Sigil__V1__ImportPrepareRequest *)call->req;
    Sigil__V1__ImportPrepareResponse resp = SIGIL__V1__IMPORT_PREPARE_RESPONSE__INIT;
    size_t nn = 0;
    Sigil__V1__NodeEnvelopeCert certs[SIGIL_COORD_MAX_NODES], *cp[SIGIL_COORD_MAX_NODES];
    uint8_t raw[SIGIL_COORD_MAX_NODES][SIGIL_ENV_CERT_LEN];
    int rc = coord_check_running(c, call);
    if (rc)
        return rc;
    for (size_t i = 0; i < cfg->num_nodes; i++) {
        coord_node *n = coord_node_at(c, i);
        if (pr->node_id && n->cfg->id != pr->node_id)
            continue;
        Sigil__V1__NodeStatusRequest req = SIGIL__V1__NODE_STATUS_REQUEST__INIT;
        ProtobufCMessage *m = NULL;
        sigil_rpc_status st;
        memset(&st, 0, sizeof st);
        req.key_id = "-"; /* no key list needed */
        rc = sigil_rpc_call_msg(n->client, SIGIL_RPC_NODE_STATUS, &req.base,
                                &sigil__v1__node_status_response__descriptor, &m,
                                cfg->node_timeout_ms, &st);
        if (rc)
            return coord_detail(call, SIGIL_E_UNAVAILABLE,
                        "node %u unreachable (%s): every node takes part in an import",
                        n->cfg->id, st.detail[0] ? st.detail : sigil_strerror(rc));
        Sigil__V1__NodeStatusResponse *r = (Sigil__V1__NodeStatusResponse *)m;
        if (r->node_id != n->cfg->id || r->envelope_cert.len != SIGIL_ENV_CERT_LEN) {
            sigil_rpc_msg_free(m);
            return coord_detail(call, SIGIL_E_ENCODING, "node %u gave no envelope certificate",
                        n->cfg->id);
        }
        memcpy(raw[nn], r->envelope_cert.data, SIGIL_ENV_CERT_LEN);
        sigil_rpc_msg_free(m);
        sigil__v1__node_envelope_cert__init(&certs[nn]);
        certs[nn].node_id = n->cfg->id;
        certs[nn].cert = (ProtobufCBinaryData){SIGIL_ENV_CERT_LEN, raw[nn]};
        cp[nn] = &certs[nn];
        nn++;
    }
    if (pr->node_id && !nn)
        return coord_detail(call, SIGIL_E_NOT_FOUND, "no node %u in this cluster", pr->node_id);
    resp.nodes = cp;
    resp.n_nodes = nn;
    return sigil_rpc_pack(&resp.base, call->resp);
}

/* The audit record of one ImportKey: type CEREMONY, the caller, the key,
 * the statement's SHA-256, the approving officers, the outcome. */
static int audit_import(sigil_coord *c, sigil_rpc_call *call, const Sigil__V1__ImportKeyRequest *req,
                        const char *what, int rc)
{
    return coord_audit_ceremony(c, call, call->key_id, (int)req->scheme, &req->statement,
                                req->approvals, req->n_approvals, what, rc);
}

static int import_run(sigil_coord *c, sigil_rpc_call *call, const Sigil__V1__ImportKeyRequest *req,
                      Sigil__V1__KeyInfo *ki)
{
    const sigil_coord_config *cfg = coord_cfg(c);
    size_t n = cfg->num_nodes;
    uint32_t parties[SIGIL_COORD_MAX_NODES];
    const Sigil__V1__ImportDealing *dl[SIGIL_COORD_MAX_NODES];
    int rc;

    if ((rc = coord_check_running(c, call)))
        return rc;
    if (!call->key_id || !call->key_id[0])
        return coord_detail(call, SIGIL_E_INVALID, "import: key_id is required");
    if (req->scheme < 1 || req->scheme > 4)
        return coord_detail(call, SIGIL_E_VERSION, "import of scheme %d is not supported", (int)req->scheme);
    if (req->num_parties != n || req->threshold < 2 || req->threshold > n)
        return coord_detail(call, SIGIL_E_THRESHOLD,
                    "import: %u of %u parties, but this cluster has %zu nodes (all take part; "
                    "2 <= t <= n)", req->threshold, req->num_parties, n);
    if (req->public_key.len != (req->scheme == 2 || req->scheme == 4 ? 33u : 32u))
        return coord_detail(call, SIGIL_E_ENCODING, "import: public key of %zu bytes for this scheme",
                    req->public_key.len);
    if (req->session_id.len != 32)
        return coord_detail(call, SIGIL_E_ENCODING, "import: session_id must be 32 bytes");
    if (coord_key_exists(c, call->key_id))
        return coord_detail(call, SIGIL_E_EXISTS, "key '%s' exists", call->key_id);
    uint8_t ph[32];
    if ((rc = sigil_dealing_params_hash(call->key_id, (uint16_t)req->scheme, req->threshold,
                                        req->num_parties, req->public_key.data,
                                        req->public_key.len, ph)))
        return coord_detail(call, rc, "import: parameters not encodable");
    sigil_breaker_statement st;
    if ((rc = coord_approvals_use(c, call, "import", &req->statement, req->approvals,
                                  req->n_approvals, call->key_id, ph, &st)))
        return rc;
    /* one dealing per node */
    if (req->n_dealings != n)
        return coord_detail(call, SIGIL_E_INVALID, "import: %zu dealings for %zu nodes", req->n_dealings, n);
    for (size_t i = 0; i < n; i++) {
        coord_node *nd = coord_node_at(c, i);
        parties[i] = nd->cfg->id;
        if (req->scheme == SIGIL__V1__SCHEME__SCHEME_ECDSA_SECP256K1 && parties[i] != i + 1)
            return coord_detail(call, SIGIL_E_PARTICIPANT, "an ECDSA key needs nodes 1..n");
        dl[i] = NULL;
        for (size_t j = 0; j < n; j++)
            if (req->dealings[j]->node_id == parties[i]) {
                if (dl[i])
                    return coord_detail(call, SIGIL_E_INVALID, "import: two dealings for node %u", parties[i]);
                dl[i] = req->dealings[j];
            }
        if (!dl[i])
            return coord_detail(call, SIGIL_E_INVALID, "import: no dealing for node %u", parties[i]);
        if (coord_ensure_peer(c, nd))
            return coord_detail(call, SIGIL_E_UNAVAILABLE,
                        "node %u unreachable: every node takes part in an import", parties[i]);
    }

    coord_session s;
    sigil_buf starts[SIGIL_COORD_MAX_NODES], bodies[SIGIL_COORD_MAX_NODES];
    sigil_env_dkg_result res[SIGIL_COORD_MAX_NODES];
    sigil_keyshare pub;
    memset(&s, 0, sizeof s);
    memset(&pub, 0, sizeof pub);
    memset(res, 0, sizeof res);
    s.count = n;
    memcpy(s.session_id, req->session_id.data, 32);
    for (size_t i = 0; i < n; i++) {
        Sigil__V1__StartSessionRequest r = SIGIL__V1__START_SESSION_REQUEST__INIT;
        Sigil__V1__Envelope e = SIGIL__V1__ENVELOPE__INIT, *ep = &e;
        s.nodes[i] = coord_node_at(c, i);
        sigil_buf_init(&starts[i], IMPORT_REQ_MAX, 0);
        sigil_buf_init(&bodies[i], 1u << 20, 0);
        e.session_id = (ProtobufCBinaryData){32, s.session_id};
        e.round = 0;
        e.from = 0;
        e.to = parties[i];
        e.kind = SIGIL__V1__ENVELOPE_KIND__ENVELOPE_KIND_DATA;
        e.payload = dl[i]->payload;
        r.session_id = (ProtobufCBinaryData){32, s.session_id};
        r.kind = SIGIL__V1__SESSION_KIND__SESSION_KIND_IMPORT;
        r.key_id = (char *)call->key_id;
        r.scheme = req->scheme;
        r.threshold = req->threshold;
        r.num_parties = (uint32_t)n;
        r.parties = parties;
        r.n_parties = n;
        r.params = req->public_key;
        r.statement = req->statement;
        r.approvals = req->approvals;
        r.n_approvals = req->n_approvals;
        r.inbound = &ep;
        r.n_inbound = 1;
        if (rc == SIGIL_OK)
            rc = sigil_rpc_pack(&r.base, &starts[i]);
    }
    if (rc == SIGIL_OK && (rc = coord_session_run(&s, starts, cfg->keygen_timeout_ms, 8)))
        coord_detail(call, rc, "import failed on the nodes (nothing registered): %s", s.detail);
    for (size_t i = 0; rc == SIGIL_OK && i < n; i++) {
        Sigil__V1__SessionResponse *f = s.final[i];
        if (f->n_results != 1 ||
            coord_open_result(c, f->results[0], parties[i], s.session_id, &bodies[i]) ||
            sigil_env_dkg_result_decode(&res[i], bodies[i].data, bodies[i].size) ||
            res[i].scheme != req->scheme || strcmp(res[i].key_id, call->key_id))
            rc = coord_detail(call, SIGIL_E_CONFIRM, "node %u: bad import result", parties[i]);
    }
    /* registered only when every node confirms the same key and commitments */
    if (rc == SIGIL_OK && (rc = sigil_env_dkg_results_agree(res, n, &pub)))
        coord_detail(call, rc, "the nodes' import confirmations disagree: key not registered");
    if (rc == SIGIL_OK && (res[0].public_key_len != req->public_key.len ||
                           memcmp(res[0].public_key, req->public_key.data, req->public_key.len)))
        rc = coord_detail(call, SIGIL_E_MISMATCH,
                  "the nodes hold a key other than the approved one: not registered");
    sigil_coord_key info;
    memset(&info, 0, sizeof info);
    if (rc == SIGIL_OK && (res[0].public_key_len > SIGIL_COORD_PK_MAX ||
                           res[0].public_package_len > SIGIL_COORD_PACKAGE_MAX))
        rc = coord_detail(call, SIGIL_E_TOO_LARGE, "import result too large");
    if (rc == SIGIL_OK) {
        snprintf(info.key_id, sizeof info.key_id, "%s", call->key_id);
        info.scheme = (int)req->scheme;
        memcpy(info.public_key, res[0].public_key, res[0].public_key_len);
        info.pk_len = res[0].public_key_len;
        memcpy(info.package, res[0].public_package, res[0].public_package_len);
        info.package_len = res[0].public_package_len;
        info.threshold = req->threshold;
        info.num_parties = (uint32_t)n;
        memcpy(info.parties, parties, n * sizeof *parties);
        info.state = SIGIL__V1__KEY_STATE__KEY_STATE_ACTIVE;
        info.created_unix = (uint64_t)time(NULL);
        info.share_version = 1;
        /* fail-closed: recorded before it is registered */
        if (audit_import(c, call, req, "import-registered", SIGIL_OK))
            rc = coord_detail(call, SIGIL_E_UNAVAILABLE, "audit log unavailable: imported key not registered");
    }
    if (rc == SIGIL_OK)
        rc = coord_register_key(c, call, &info, ki);
    sigil_keyshare_free(&pub);
    coord_session_clear(&s);
    for (size_t i = 0; i < n; i++) {
        sigil_buf_free(&starts[i]);
        sigil_buf_free(&bodies[i]);
    }
    return rc;
}

static int h_import_key(void *ctx, sigil_rpc_call *call)
{
    sigil_coord *c = ctx;
    const Sigil__V1__ImportKeyRequest *req = (const Sigil__V1__ImportKeyRequest *)call->req;
    Sigil__V1__ImportKeyResponse resp = SIGIL__V1__IMPORT_KEY_RESPONSE__INIT;
    Sigil__V1__KeyInfo ki = SIGIL__V1__KEY_INFO__INIT;
    int rc = import_run(c, call, req, &ki);
    if (rc) {
        /* every refusal and failure is recorded too (best effort: when the
         * log itself is what failed there is nothing to record it in) */
        (void)audit_import(c, call, req, "import-refused", rc);
        fprintf(stderr, "sigil-coordinator: import of '%s' by %s refused: %s\n", call->key_id,
                call->peer->uri, call->detail);
        return rc;
    }
    fprintf(stderr, "sigil-coordinator: key '%s' imported by %s (%zu approvals)\n", call->key_id,
            call->peer->uri, req->n_approvals);
    resp.key = &ki;
    return sigil_rpc_pack(&resp.base, call->resp);
}

int coord_import_register(sigil_coord *c, sigil_rpc_server *server)
{
    int rc = sigil_rpc_server_add(server, ADMIN_IMPORT_PREPARE,
                                  &sigil__v1__import_prepare_request__descriptor, 1024,
                                  h_import_prepare, c);
    if (!rc)
        rc = sigil_rpc_server_add(server, ADMIN_IMPORT_KEY, &sigil__v1__import_key_request__descriptor,
                                  IMPORT_REQ_MAX, h_import_key, c);
    if (!rc)
        rc = coord_backup_register(c, server); /* backup.c */
    return rc;
}
