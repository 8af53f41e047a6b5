/* sigil-node: SESSION_KIND_IMPORT, installing one share of an imported key
 * (sigil/dealing.h). One StartSession does it all: check the k-of-m
 * approvals over the import statement (this node's own officer policy),
 * the dealing (signed by a configured officer, for this session, key,
 * scheme, parties and this node), decrypt the share with this process's
 * envelope key, check it against the dealer's commitments (Feldman) and
 * the approved public key, seal it in the token (share version 1), record
 * the installation in the node's audit log, and answer with a RESULT in
 * the DKG result form whose confirmation carries the hash of the
 * commitments (the coordinator registers the key only if every node's
 * agrees). Nothing is stored unless every check passed. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "node.h"
#include "sigil/breaker.h"
#include "sigil/dealing.h"
#include "sigil/err.h"
#include "sigil/frost.h"
#include "sigil/hsm.h"

#define DETAIL(call, ...) snprintf((call)->detail, sizeof (call)->detail, __VA_ARGS__)

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

/* k-of-m approvals of action "import" for exactly this key and these
 * parameters; *stmt_hash = SHA-256(statement) for the audit record. */
static int approvals_ok(node *nd, sigil_rpc_call *call, const Sigil__V1__StartSessionRequest *rq,
                        uint8_t stmt_hash[32], char *names, size_t cap)
{
    const node_config *cfg = node_cfg(nd);
    sigil_breaker_approval ap[SIGIL_BREAKER_MAX_OFFICERS];
    sigil_breaker_statement st;
    uint8_t ph[32];
    if (rq->n_approvals > SIGIL_BREAKER_MAX_OFFICERS) {
        DETAIL(call, "import refused: too many approvals");
        return SIGIL_E_TOO_LARGE;
    }
    size_t o = 0;
    names[0] = 0;
    for (size_t i = 0; i < rq->n_approvals; i++) {
        ap[i].officer = rq->approvals[i]->officer;
        ap[i].signature = rq->approvals[i]->signature.data;
        ap[i].signature_len = rq->approvals[i]->signature.len;
        int w = snprintf(names + o, cap - o, "%s%s", i ? "," : "", ap[i].officer);
        if (w > 0 && (size_t)w < cap - o)
            o += (size_t)w;
    }
    sigil_breaker_policy pol = {cfg->officers, cfg->nofficers, cfg->resume_k, cfg->cluster_id, 3600};
    int rc = cfg->nofficers ? SIGIL_OK : SIGIL_E_PERMISSION;
    if (!rc)
        rc = sigil_breaker_verify(&pol, rq->statement.data, rq->statement.len, ap, rq->n_approvals,
                                  "import", (uint64_t)time(NULL), 0, &st);
    if (!rc)
        rc = sigil_dealing_params_hash(rq->key_id, (uint16_t)rq->scheme, rq->threshold,
                                       rq->num_parties, rq->params.data, rq->params.len, ph);
    if (!rc && (strcmp(st.key_id, rq->key_id) || st.params_hash_len != 32 ||
                sodium_memcmp(st.params_hash, ph, 32)))
        rc = SIGIL_E_MISMATCH;
    if (rc) {
        DETAIL(call, "import refused by node %u: %s (needs %u approvals by distinct officers "
                     "configured here, over action \"import\", this key and parameters)",
               cfg->node_id, approval_why(rc), cfg->resume_k);
        return rc;
    }
    crypto_hash_sha256(stmt_hash, rq->statement.data, rq->statement.len);
    return SIGIL_OK;
}

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

int node_import_start(node *nd, sigil_rpc_call *call, const Sigil__V1__StartSessionRequest *rq)
{
    const node_config *cfg = node_cfg(nd);
    uint16_t scheme = (uint16_t)rq->scheme;
    if (scheme < SIGIL_ENV_SCHEME_ED25519 || scheme > SIGIL_ENV_SCHEME_BIP340) {
        DETAIL(call, "import of scheme %d is not supported by this node (FROST schemes 1-3)",
               rq->scheme);
        return SIGIL_E_VERSION;
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
    if (rq->num_parties != rq->n_parties || rq->threshold < 2 || rq->threshold > rq->num_parties) {
        DETAIL(call, "import: threshold %u of %u parties (an imported key needs 2 <= t <= n)",
               rq->threshold, rq->num_parties);
        return SIGIL_E_THRESHOLD;
    }
    if (rq->n_inbound != 1 || rq->n_items || rq->n_pool_entries) {
        DETAIL(call, "import: StartSession takes exactly one inbound dealing, no items");
        return SIGIL_E_INVALID;
    }
    uint8_t stmt_hash[32];
    char names[SIGIL_AUDIT_REQID_MAX];
    if ((rc = approvals_ok(nd, call, rq, stmt_hash, names, sizeof names)))
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

    const sigil_group *g = sigil_dealing_group(scheme);
    sigil_scalar *secret = sodium_malloc(sizeof *secret);
    sigil_scalar ids[SIGIL_DEALING_MAX_PARTIES];
    sigil_point verifying[SIGIL_DEALING_MAX_PARTIES];
    sigil_buf pkg, conf, body;
    uint8_t transcript[32], pk[SIGIL_FROST_PK_MAX], fpk[SIGIL_FROST_PK_MAX];
    size_t pklen = 0;
    sigil_buf_view(&pkg, NULL, 0);
    sigil_buf_view(&conf, NULL, 0);
    sigil_buf_view(&body, NULL, 0);
    if (!secret)
        return SIGIL_E_NOMEM;
    rc = sigil_dealing_open_share(&d, rq->session_id.data, node_env_key(nd), secret);
    if (rc)
        DETAIL(call, "import: the share does not open with this node's envelope key (%s): "
                     "was it encrypted to another node or an older process?",
               sigil_strerror(rc));
    sigil_keyshare ks;
    memset(&ks, 0, sizeof ks);
    if (!rc) {
        rc = sigil_dealing_check(&d, secret, self, verifying, &ks.group_pk);
        if (rc)
            DETAIL(call, "import: the share %s; nothing stored",
                   rc == SIGIL_E_SHARE ? "does not match the dealer's commitments (Feldman check failed)"
                   : rc == SIGIL_E_MISMATCH ? "commitments do not commit to the approved public key"
                                            : sigil_strerror(rc));
    }
    if (!rc) {
        for (uint32_t i = 0; i < d.n; i++)
            sigil_scalar_set_u64(g, &ids[i], d.parties[i]);
        ks.g = g;
        ks.t = d.t;
        ks.n = d.n;
        ks.ids = ids;
        ks.verifying = verifying;
        ks.self = self;
        ks.secret = secret;
        rc = sigil_frost_prepare_key((sigil_frost_suite)scheme, &ks);
    }
    if (!rc) rc = sigil_frost_public_key((sigil_frost_suite)scheme, &ks, fpk);
    if (!rc && (sigil_frost_pk_len((sigil_frost_suite)scheme) != rq->params.len ||
                memcmp(fpk, rq->params.data, rq->params.len))) {
        DETAIL(call, "import: the shared key is not the approved public key");
        rc = SIGIL_E_MISMATCH;
    }
    if (!rc) {
        sigil_keyshare pub = ks;
        pub.secret = NULL;
        rc = sigil_buf_init(&pkg, SIGIL_HSM_SHARE_MAX, 0);
        if (!rc) rc = sigil_keyshare_serialize(&pub, &pkg);
    }
    if (!rc) rc = sigil_dealing_transcript(&d, rq->session_id.data, transcript);
    if (!rc) rc = sigil_buf_init(&conf, 256, 0);
    if (!rc) rc = sigil_dealing_confirmation(&d, self, transcript, &conf);
    if (!rc) {
        rc = node_install_frost(nd, d.key_id, scheme, &ks, pkg.data, pkg.size, pk, &pklen);
        if (rc)
            DETAIL(call, "import: the share could not be sealed and stored: %s", sigil_strerror(rc));
    }
    sodium_free(secret); /* zeroizes */
    if (!rc) {
        fprintf(stderr, "sigil-node %u: key '%s' imported (scheme %u, %u of %u), share sealed; "
                        "approved by %s, dealt by officer %s\n",
                cfg->node_id, d.key_id, scheme, d.t, d.n, names, d.officer);
        /* the node's own log records the installation */
        sigil_audit_entry e;
        memset(&e, 0, sizeof e);
        e.version = SIGIL_AUDIT_ENTRY_VERSION;
        e.type = SIGIL_AUDIT_CEREMONY;
        e.actor_len = (uint8_t)snprintf(e.actor, sizeof e.actor, "%s", call->peer->uri);
        e.key_id_len = (uint8_t)strlen(d.key_id);
        memcpy(e.key_id, d.key_id, e.key_id_len);
        e.scheme = (uint8_t)scheme;
        memcpy(e.digest, stmt_hash, 32);
        e.digest_len = 32;
        int l = snprintf(e.request_id, sizeof e.request_id, "import-installed approvals=%s dealer=%s",
                         names, d.officer);
        e.request_id_len = (uint8_t)(l < 0 ? 0 : (size_t)l >= sizeof e.request_id ? sizeof e.request_id - 1 : (size_t)l);
        int ar = node_audit_record(nd, &e);
        if (ar) {
            DETAIL(call, "import: share stored but the node audit log is unavailable (%s)",
                   sigil_strerror(ar));
            rc = SIGIL_E_UNAVAILABLE;
        }
    }
    if (!rc) rc = sigil_buf_init(&body, SIGIL_ENV_MAX_BODY, 0);
    if (!rc) rc = sigil_env_dkg_result_encode(scheme, d.key_id, pk, pklen, pkg.data, pkg.size,
                                              conf.data, conf.size, &body);
    if (!rc) rc = node_respond_result(nd, call, rq->session_id.data, 1, body.data, body.size);
    sodium_memzero(&ks, sizeof ks);
    sigil_buf_free(&pkg);
    sigil_buf_free(&conf);
    sigil_buf_free(&body);
    return rc;
}
