/* sigil-node: SESSION_KIND_BACKUP and SESSION_KIND_RESTORE (sigil/backup.h).
 *
 * BACKUP: k-of-m approvals over a "backup" statement binding the key and
 * every officer's backup key (each key also certified by its officer's
 * Ed25519 key from this node's config). The share is unsealed, split k-of-m
 * (k = the approval quorum, m = every configured officer), each piece
 * RSA-OAEP-encrypted to its officer's backup key; the section (with
 * V_j = piece_j*G and the key's public package) is signed by this node's
 * HSM identity key and returned. The share and the pieces exist in clear
 * only in locked memory here, zeroized at once.
 *
 * RESTORE (on a replacement node): k-of-m approvals over a "restore"
 * statement binding the key, this node and the section's SHA-256; at least
 * k pieces, each signed by a distinct configured officer, encrypted to this
 * process's envelope key, checked against V_j; combined (Lagrange at 0)
 * and checked against this node's verifying share in the public package
 * before it is sealed. Any bad piece refuses the whole restore.
 *
 * ECDSA (DKLs23) keys: the backup holds x_i only (the per-pair OT state is
 * not backed up: it is made anew). The RESTORE session then runs on EVERY
 * share holder with the same approvals, each checked by each node: the
 * replacement node stages its combined x_i (not sealed yet), every other
 * node stages its own x_j from its live share (after checking the
 * section's key, package and share version are its own); all run the
 * import's pairwise OT setup (import.c) over all pairs, seal the new share
 * (same x, fresh OT state) as keys/<id>.pending and commit only when all
 * have prepared: the replacement node adds the key, the others replace
 * their live share (old file wiped), so no pairwise state made with the
 * destroyed node survives anywhere. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <sodium.h>

#include "node.h"
#include "sigil/backup.h"
#include "sigil/breaker.h"
#include "sigil/dealing.h"
#include "sigil/err.h"
#include "sigil/frost.h"
#include "sigil/hsm.h"

#ifndef DETAIL
#define DETAIL(call, ...) snprintf((call)->detail, sizeof (call)->detail, __VA_ARGS__)
#endif

static const uint8_t *officer_pk(const node_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nofficers; i++)
        if (!strcmp(cfg->officers[i].name, name))
            return cfg->officers[i].pk;
    return NULL;
}

static void record(node *nd, sigil_rpc_call *call, const char *key_id, uint16_t scheme,
                   const uint8_t digest[32], const char *text, int *rc)
{
    sigil_audit_entry e;
    memset(&e, 0, sizeof e);
    e.version = SIGIL_AUDIT_ENTRY_VERSION;
    e.type = SIGIL_AUDIT_CEREMONY;
    e.actor_len = (uint8_t)snprintf(e.actor, sizeof e.actor, "%s", call->peer->uri);
    e.key_id_len = (uint8_t)strlen(key_id);
    memcpy(e.key_id, key_id, e.key_id_len);
    e.scheme = (uint8_t)scheme;
    memcpy(e.digest, digest, 32);
    e.digest_len = 32;
    int l = snprintf(e.request_id, sizeof e.request_id, "%s", text);
    e.request_id_len = (uint8_t)(l < 0 ? 0 : (size_t)l >= sizeof e.request_id ? sizeof e.request_id - 1 : (size_t)l);
    int ar = node_audit_record(nd, &e);
    if (ar) {
        DETAIL(call, "node audit log unavailable (%s)", sigil_strerror(ar));
        *rc = SIGIL_E_UNAVAILABLE;
    }
}

/* RSA-OAEP (SHA-1, MGF1-SHA-1: the OAEP SoftHSM 2.6 decrypts; OAEP does not
 * rely on SHA-1 collision resistance) to the public key (n, e) with OpenSSL. */
static int rsa_oaep_encrypt(const sigil_backup_key *k, const uint8_t *pt, size_t ptl, uint8_t *ct,
                            size_t *ctl)
{
    if (k->modlen < 256 || k->modlen > SIGIL_BACKUP_RSA_MAX)
        return SIGIL_E_INVALID; /* at least 2048 bits */
    int rc = SIGIL_E_CRYPTO;
    BIGNUM *bn = BN_bin2bn(k->mod, (int)k->modlen, NULL), *be = BN_bin2bn(k->exp, (int)k->explen, NULL);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *fctx = NULL, *ctx = NULL;
    EVP_PKEY *pkey = NULL;
    if (bn && be && bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) &&
        (params = OSSL_PARAM_BLD_to_param(bld)) &&
        (fctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) && EVP_PKEY_fromdata_init(fctx) > 0 &&
        EVP_PKEY_fromdata(fctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) > 0 &&
        (ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) && EVP_PKEY_encrypt_init(ctx) > 0 &&
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) > 0 &&
        EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha1()) > 0 &&
        EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha1()) > 0 &&
        EVP_PKEY_encrypt(ctx, ct, ctl, pt, ptl) > 0)
        rc = SIGIL_OK;
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(fctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    return rc;
}

/* This node's share of key_id (FROST or ECDSA: x_i only, no OT state) in
 * slot (secure memory), *ks a shallow view of the key's public package with
 * secret = slot. */
static int share_unseal(node *nd, const char *key_id, sigil_scalar *slot, sigil_keyshare *ks,
                        uint16_t *scheme, uint32_t *version)
{
    keyrec *k = key_find(nd, key_id);
    if (!k)
        return SIGIL_E_NOT_FOUND;
    if (k->scheme != SIGIL_ENV_SCHEME_ECDSA) {
        sigil_buf ub;
        int rc = sigil_buf_init(&ub, 4096, SIGIL_BUF_SECRET);
        if (!rc) rc = node_key_unseal_frost(nd, key_id, &ub, slot, ks, scheme, version);
        sigil_buf_free(&ub);
        return rc;
    }
    sigil_ecdsa_share *sh = NULL;
    uint8_t x[32];
    int rc = unseal_ecdsa(nd, k, &sh);
    if (!rc) {
        sigil_ecdsa_share_secret(sh, x);
        rc = sigil_scalar_parse(k->pub.g, slot, x);
        sodium_memzero(x, sizeof x);
    }
    sigil_ecdsa_share_free(sh);
    if (rc)
        return rc;
    *ks = k->pub;
    ks->secret = slot;
    *scheme = k->scheme;
    *version = k->version;
    return SIGIL_OK;
}

/* Per call (the server is multi-threaded): the officers' keys, the section
 * being built and its ciphertexts; public data, freed after the answer. */
typedef struct {
    sigil_backup_key keys[SIGIL_BACKUP_MAX_OFFICERS];
    sigil_backup_section sec;
    uint8_t ct[SIGIL_BACKUP_MAX_OFFICERS][SIGIL_BACKUP_RSA_MAX];
} backup_work;

static int backup_run(node *nd, sigil_rpc_call *call, const Sigil__V1__StartSessionRequest *rq,
                      backup_work *w);

int node_backup_start(node *nd, sigil_rpc_call *call, const Sigil__V1__StartSessionRequest *rq)
{
    backup_work *w = calloc(1, sizeof *w);
    if (!w)
        return SIGIL_E_NOMEM;
    int rc = backup_run(nd, call, rq, w);
    free(w);
    return rc;
}

static int backup_run(node *nd, sigil_rpc_call *call, const Sigil__V1__StartSessionRequest *rq,
                      backup_work *w)
{
    const node_config *cfg = node_cfg(nd);
    sigil_backup_key *keys = w->keys;
    size_t m = 0;
    uint8_t ph[32], stmt_hash[32];
    char names[SIGIL_AUDIT_REQID_MAX];
    if (sigil_rpc_key_id_check(rq->key_id) || rq->n_inbound || rq->n_items) {
        DETAIL(call, "backup: a key id and the officers' backup keys, nothing else");
        return SIGIL_E_INVALID;
    }
    if (!node_has_key(nd, rq->key_id)) {
        DETAIL(call, "backup: no key '%s' on node %u", rq->key_id, cfg->node_id);
        return SIGIL_E_NOT_FOUND;
    }
    int rc = sigil_backup_officers_decode(rq->params.data, rq->params.len, keys, &m);
    if (rc) {
        DETAIL(call, "backup: the officers' backup keys do not decode: %s", sigil_strerror(rc));
        return rc;
    }
    sigil_backup_params_hash(rq->key_id, cfg->resume_k, rq->params.data, rq->params.len, ph);
    if ((rc = node_approvals_check(nd, call, "backup", rq->key_id, ph, rq->statement, rq->approvals,
                                   rq->n_approvals, stmt_hash, names, sizeof names)))
        return rc;
    /* every configured officer, each backup key certified by its officer */
    if (m != cfg->nofficers || cfg->resume_k > m) {
        DETAIL(call, "backup: %zu backup keys, but %zu officers are configured here (every officer "
                     "gets a piece)", m, cfg->nofficers);
        return SIGIL_E_PARTICIPANT;
    }
    for (size_t j = 0; j < m; j++) {
        const uint8_t *opk = officer_pk(cfg, keys[j].name);
        sigil_buf msg;
        rc = opk ? sigil_buf_init(&msg, 2048, 0) : SIGIL_E_PERMISSION;
        if (!rc) rc = sigil_backup_key_message(&keys[j], &msg);
        if (!rc && crypto_sign_verify_detached(keys[j].sig, msg.data, msg.size, opk) != 0)
            rc = SIGIL_E_SIGNATURE;
        if (opk)
            sigil_buf_free(&msg);
        if (rc) {
            DETAIL(call, "backup: the backup key of '%.64s' is %s", keys[j].name,
                   rc == SIGIL_E_PERMISSION ? "not an officer configured here"
                                            : "not certified by that officer's key");
            return rc;
        }
    }
    if ((rc = node_session_burn(nd, rq->session_id.data))) {
        DETAIL(call, "session id already seen by this node");
        return rc;
    }

    /* split the share k-of-m among the officers */
    sigil_keyshare ks, pieces[SIGIL_BACKUP_MAX_OFFICERS];
    uint16_t scheme = 0;
    uint32_t version = 0;
    memset(pieces, 0, sizeof pieces);
    sigil_scalar *slot = sodium_malloc(sizeof *slot);
    rc = slot ? share_unseal(nd, rq->key_id, slot, &ks, &scheme, &version) : SIGIL_E_NOMEM;
    if (rc) {
        if (slot)
            sodium_free(slot);
        DETAIL(call, "backup: the share of '%s' does not unseal: %s", rq->key_id, sigil_strerror(rc));
        return rc;
    }
    const sigil_group *g = ks.g;
    sigil_scalar ids[SIGIL_BACKUP_MAX_OFFICERS];
    for (uint32_t j = 0; j < m; j++)
        sigil_scalar_set_u64(g, &ids[j], j + 1);
    sigil_buf pkg;
    sigil_keyshare pub = ks;
    pub.secret = NULL;
    rc = sigil_buf_init(&pkg, SIGIL_HSM_SHARE_MAX, 0);
    if (!rc) rc = sigil_keyshare_serialize(&pub, &pkg);
    if (!rc) rc = sigil_dkg_split(g, ks.secret, cfg->resume_k, (uint32_t)m, ids, NULL, pieces);
    sodium_free(slot); /* zeroizes the share */
    memset(&ks, 0, sizeof ks);

    sigil_backup_section *sec = &w->sec;
    uint8_t (*ct)[SIGIL_BACKUP_RSA_MAX] = w->ct;
    snprintf(sec->key_id, sizeof sec->key_id, "%s", rq->key_id);
    sec->scheme = scheme;
    sec->node = cfg->node_id;
    sec->version = version;
    sec->package = pkg.data;
    sec->package_len = pkg.size;
    sec->k = cfg->resume_k;
    sec->m = (uint32_t)m;
    for (uint32_t j = 0; j < m && !rc; j++) {
        sigil_buf pl;
        uint8_t piece[32];
        snprintf(sec->officer[j], sizeof sec->officer[j], "%.64s", keys[j].name);
        sec->V[j] = pieces[0].verifying[j];
        sigil_scalar_serialize(g, piece, pieces[j].secret);
        rc = sigil_buf_init(&pl, 256, SIGIL_BUF_SECRET);
        if (!rc) rc = sigil_backup_piece_plain(rq->key_id, cfg->node_id, version, j + 1, piece, &pl);
        sodium_memzero(piece, sizeof piece);
        size_t cl = sizeof ct[j];
        if (!rc) rc = rsa_oaep_encrypt(&keys[j], pl.data, pl.size, ct[j], &cl);
        sigil_buf_free(&pl);
        sec->ct[j] = ct[j];
        sec->ct_len[j] = cl;
        if (rc)
            DETAIL(call, "backup: encryption to officer %.64s's backup key failed", keys[j].name);
    }
    for (uint32_t j = 0; j < m; j++)
        sigil_keyshare_free(&pieces[j]); /* zeroizes */

    sigil_buf body, msg;
    uint8_t sig[64];
    memset(&msg, 0, sizeof msg);
    sigil_buf_view(&body, NULL, 0);
    if (!rc) rc = sigil_buf_init(&body, SIGIL_BACKUP_SECTION_MAX, 0);
    if (!rc) rc = sigil_backup_section_body(sec, &body);
    if (!rc) rc = sigil_buf_init(&msg, SIGIL_BACKUP_SECTION_MAX + 64, 0);
    if (!rc) rc = sigil_backup_section_sign_message(body.data, body.size, &msg);
    if (!rc) rc = node_identity_sign(nd, msg.data, msg.size, sig);
    if (!rc) rc = sigil_buf_put(&body, sig, 64);
    if (!rc) {
        char text[512];
        uint8_t sh[32];
        crypto_hash_sha256(sh, body.data, body.size);
        char shx[17];
        sodium_bin2hex(shx, sizeof shx, sh, 8);
        snprintf(text, sizeof text, "backup-exported k=%u m=%zu section=%s approvals=%s",
                 cfg->resume_k, m, shx, names);
        record(nd, call, rq->key_id, scheme, stmt_hash, text, &rc);
        fprintf(stderr, "sigil-node %u: share of '%s' exported as a %u-of-%zu backup to the officers' "
                        "backup keys; approved by %s\n", cfg->node_id, rq->key_id, cfg->resume_k, m, names);
    }
    if (!rc) rc = node_respond_result(nd, call, rq->session_id.data, 1, body.data, body.size);
    sigil_buf_free(&msg);
    sigil_buf_free(&body);
    sigil_buf_free(&pkg);
    return rc;
}

/* A refresh of key_id running on this node (its .pending file is in use). */
static int refresh_running(node *nd, const char *key_id)
{
    for (session *o = nd->sessions; o; o = o->next)
        if (o->kind == SIGIL__V1__SESSION_KIND__SESSION_KIND_REFRESH && !strcmp(o->key_id, key_id))
            return 1;
    return 0;
}

/* ECDSA restore of ANOTHER node's share (this node keeps its x_j): check
 * the section is of this node's key at its share version, the approvals,
 * then stage x_j for the new all-pairs OT setup (import.c). */
static int restore_renew(node *nd, sigil_rpc_call *call, const Sigil__V1__StartSessionRequest *rq,
                         const sigil_backup_section *sec)
{
    const node_config *cfg = node_cfg(nd);
    if (sec->scheme != SIGIL_ENV_SCHEME_ECDSA || rq->scheme != (int)SIGIL_ENV_SCHEME_ECDSA) {
        DETAIL(call, "restore: the section is node %u's; only an ECDSA restore involves the other "
                     "share holders", sec->node);
        return SIGIL_E_PARTICIPANT;
    }
    keyrec *k = key_find(nd, rq->key_id);
    if (!k) {
        DETAIL(call, "restore: no key '%s' on node %u (every other share holder renews its OT state "
                     "with the restored node)", rq->key_id, cfg->node_id);
        return SIGIL_E_NOT_FOUND;
    }
    if (k->scheme != SIGIL_ENV_SCHEME_ECDSA || strcmp(sec->key_id, rq->key_id)) {
        DETAIL(call, "restore: the backup section is for key '%s', not this ECDSA key", sec->key_id);
        return SIGIL_E_MISMATCH;
    }
    if (sec->version != k->version) {
        DETAIL(call, "restore: the backup holds share version %u but node %u's share of '%s' is "
                     "version %u (refreshed after this backup)", sec->version, cfg->node_id,
               rq->key_id, k->version);
        return SIGIL_E_VERSION;
    }
    if (refresh_running(nd, rq->key_id)) {
        DETAIL(call, "restore: a refresh of '%s' is running", rq->key_id);
        return SIGIL_E_EXISTS;
    }
    /* the section's public package is this key's (all but `self`), and its
     * self is the restored node */
    sigil_keyshare pkg;
    sigil_buf pb;
    memset(&pkg, 0, sizeof pkg);
    sigil_buf_view(&pb, sec->package, sec->package_len);
    int rc = sigil_keyshare_parse(&pb, &pkg), same = !rc;
    sigil_scalar who;
    uint32_t idx = 0;
    if (same) {
        sigil_scalar_set_u64(k->pub.g, &who, sec->node);
        same = !pkg.secret && pkg.g == k->pub.g && pkg.t == k->pub.t && pkg.n == k->pub.n &&
               sigil_point_eq(pkg.g, &pkg.group_pk, &k->pub.group_pk) &&
               !sigil_keyshare_index(&pkg, &who, &idx) && idx == pkg.self && idx != k->pub.self;
    }
    for (uint32_t i = 0; same && i < pkg.n; i++)
        same = sigil_scalar_eq(&pkg.ids[i], &k->pub.ids[i]) &&
               sigil_point_eq(pkg.g, &pkg.verifying[i], &k->pub.verifying[i]);
    sigil_keyshare_free(&pkg);
    if (!same) {
        DETAIL(call, "restore: the backup section's public package is not node %u's key '%s' "
                     "(another key, or tampered)", cfg->node_id, rq->key_id);
        return SIGIL_E_MISMATCH;
    }
    int parties_ok = rq->n_parties == k->pub.n;
    for (size_t i = 0; parties_ok && i < rq->n_parties; i++)
        parties_ok = rq->parties[i] == i + 1;
    if (!parties_ok || rq->n_inbound) {
        DETAIL(call, "restore: an ECDSA restore runs on all %u share holders (parties 1..%u), "
                     "with pieces for the restored node only", k->pub.n, k->pub.n);
        return SIGIL_E_PARTICIPANT;
    }
    uint8_t ph[32], stmt_hash[32], sh[32];
    char names[SIGIL_AUDIT_REQID_MAX], text[512];
    rc = sigil_backup_restore_params_hash(rq->key_id, sec->node, rq->params.data, rq->params.len, ph);
    if (!rc) rc = node_approvals_check(nd, call, "restore", rq->key_id, ph, rq->statement, rq->approvals,
                                         rq->n_approvals, stmt_hash, names, sizeof names);
    if (rc)
        return rc;
    if ((rc = node_session_burn(nd, rq->session_id.data))) {
        DETAIL(call, "session id already seen by this node");
        return rc;
    }
    sigil_keyshare ks;
    uint16_t scheme;
    uint32_t version;
    sigil_scalar *slot = sodium_malloc(sizeof *slot);
    rc = slot ? share_unseal(nd, rq->key_id, slot, &ks, &scheme, &version) : SIGIL_E_NOMEM;
    if (rc) {
        DETAIL(call, "restore: node %u's own share of '%s' does not unseal: %s", cfg->node_id,
               rq->key_id, sigil_strerror(rc));
    } else {
        crypto_hash_sha256(sh, rq->params.data, rq->params.len);
        snprintf(text, sizeof text, "restore-ot-renewed node=%u approvals=%s", sec->node, names);
        rc = node_import_restore_begin(nd, call, rq->session_id.data, rq->key_id, &ks, 0, version,
                                       stmt_hash, sh, names, text);
    }
    if (slot)
        sodium_free(slot); /* zeroizes; import.c holds its own copy */
    return rc;
}

static int restore_run(node *nd, sigil_rpc_call *call, const Sigil__V1__StartSessionRequest *rq,
                       const sigil_backup_section *sec);

int node_restore_start(node *nd, sigil_rpc_call *call, const Sigil__V1__StartSessionRequest *rq)
{
    if (sigil_rpc_key_id_check(rq->key_id) || rq->n_items) {
        DETAIL(call, "restore: malformed request");
        return SIGIL_E_INVALID;
    }
    /* per call: views into the request */
    sigil_backup_section *sec = calloc(1, sizeof *sec);
    if (!sec)
        return SIGIL_E_NOMEM;
    int rc = sigil_backup_section_decode(sec, rq->params.data, rq->params.len);
    if (rc)
        DETAIL(call, "restore: the backup section does not decode: %s", sigil_strerror(rc));
    else if (sec->node != node_cfg(nd)->node_id)
        rc = restore_renew(nd, call, rq, sec);
    else
        rc = restore_run(nd, call, rq, sec);
    free(sec);
    return rc;
}

/* Restore onto this (replacement) node. */
static int restore_run(node *nd, sigil_rpc_call *call, const Sigil__V1__StartSessionRequest *rq,
                       const sigil_backup_section *sec)
{
    const node_config *cfg = node_cfg(nd);
    uint8_t ph[32], stmt_hash[32];
    char names[SIGIL_AUDIT_REQID_MAX];
    if (node_has_key(nd, rq->key_id)) {
        DETAIL(call, "key '%s' exists (or was retired) on this node", rq->key_id);
        return SIGIL_E_EXISTS;
    }
    int rc = sigil_backup_restore_params_hash(rq->key_id, cfg->node_id, rq->params.data,
                                              rq->params.len, ph);
    if (!rc) rc = node_approvals_check(nd, call, "restore", rq->key_id, ph, rq->statement, rq->approvals,
                                         rq->n_approvals, stmt_hash, names, sizeof names);
    if (rc)
        return rc;
    if (strcmp(sec->key_id, rq->key_id) || sec->node != cfg->node_id || sec->scheme != (uint16_t)rq->scheme) {
        DETAIL(call, "restore: the backup section is for key '%s' on node %u, not this one",
               sec->key_id, sec->node);
        return SIGIL_E_MISMATCH;
    }
    if (sec->version < 1) {
        DETAIL(call, "restore: share version 0 in the backup section");
        return SIGIL_E_VERSION;
    }
    sigil_keyshare pkg;
    memset(&pkg, 0, sizeof pkg);
    sigil_buf pb;
    sigil_buf_view(&pb, sec->package, sec->package_len);
    const sigil_group *g = sigil_dealing_group(sec->scheme);
    rc = sigil_keyshare_parse(&pb, &pkg);
    uint32_t self = 0;
    sigil_scalar me;
    sigil_scalar_set_u64(g, &me, cfg->node_id);
    if (!rc && (pkg.secret || pkg.g != g || sigil_keyshare_index(&pkg, &me, &self)))
        rc = SIGIL_E_MISMATCH;
    if (rc) {
        sigil_keyshare_free(&pkg);
        DETAIL(call, "restore: the key's public package is malformed or does not name node %u",
               cfg->node_id);
        return rc;
    }
    int parties_ok = sec->scheme != SIGIL_ENV_SCHEME_ECDSA || rq->n_parties == pkg.n;
    for (size_t i = 0; sec->scheme == SIGIL_ENV_SCHEME_ECDSA && parties_ok && i < rq->n_parties; i++)
        parties_ok = rq->parties[i] == i + 1;
    if (!parties_ok) {
        sigil_keyshare_free(&pkg);
        DETAIL(call, "restore: an ECDSA restore runs on all %u share holders (parties 1..%u)", pkg.n,
               pkg.n);
        return SIGIL_E_PARTICIPANT;
    }
    /* the pieces: at least k, distinct officers of the section, each signed
     * and encrypted to this process */
    if (rq->n_inbound < sec->k) {
        sigil_keyshare_free(&pkg);
        DETAIL(call, "restore refused: %zu pieces, %u needed (one from each of k distinct officers)",
               rq->n_inbound, sec->k);
        return SIGIL_E_THRESHOLD;
    }
    if ((rc = node_session_burn(nd, rq->session_id.data))) {
        sigil_keyshare_free(&pkg);
        DETAIL(call, "session id already seen by this node");
        return rc;
    }
    sigil_scalar *pc = sodium_malloc(SIGIL_BACKUP_MAX_OFFICERS * sizeof *pc);
    uint32_t js[SIGIL_BACKUP_MAX_OFFICERS];
    char who[SIGIL_AUDIT_REQID_MAX] = "";
    size_t np = 0, wo = 0;
    if (!pc) {
        sigil_keyshare_free(&pkg);
        return SIGIL_E_NOMEM;
    }
    for (size_t i = 0; i < rq->n_inbound && np < sec->k && !rc; i++) {
        const Sigil__V1__Envelope *e = rq->inbound[i];
        sigil_restore_piece r;
        uint8_t piece[32];
        if (!e || e->from != 0 || e->to != cfg->node_id || e->session_id.len != 32 ||
            memcmp(e->session_id.data, rq->session_id.data, 32)) {
            DETAIL(call, "restore: piece %zu is not addressed to this session and node", i);
            rc = SIGIL_E_PARTICIPANT;
            break;
        }
        rc = sigil_restore_piece_decode(&r, e->payload.data, e->payload.len);
        const uint8_t *opk = rc ? NULL : officer_pk(cfg, r.officer);
        if (!rc && (!opk || r.j < 1 || r.j > sec->m || strcmp(sec->officer[r.j - 1], r.officer)))
            rc = SIGIL_E_PERMISSION;
        for (size_t q = 0; !rc && q < np; q++)
            if (js[q] == r.j)
                rc = SIGIL_E_PARTICIPANT;
        if (!rc) rc = sigil_restore_piece_verify(&r, opk);
        if (!rc && sodium_memcmp(r.stmt_hash, stmt_hash, 32)) rc = SIGIL_E_MISMATCH;
        if (!rc) rc = sigil_restore_piece_open(&r, node_env_key(nd), rq->key_id, cfg->node_id, piece);
        if (!rc) rc = sigil_scalar_parse(g, &pc[np], piece);
        sodium_memzero(piece, sizeof piece);
        sigil_point V;
        if (!rc) rc = sigil_point_base_mul(g, &V, &pc[np]);
        if (!rc && !sigil_point_eq(g, &V, &sec->V[r.j - 1])) rc = SIGIL_E_SHARE;
        if (rc) {
            DETAIL(call, "restore refused: piece %zu (officer %.64s) %s", i, r.officer[0] ? r.officer : "?",
                   rc == SIGIL_E_PERMISSION    ? "is not from an officer of this backup"
                   : rc == SIGIL_E_PARTICIPANT ? "repeats an officer"
                   : rc == SIGIL_E_SIGNATURE   ? "is not signed by that officer"
                   : rc == SIGIL_E_MISMATCH    ? "is for another statement, key or node"
                   : rc == SIGIL_E_UNSEAL      ? "is not encrypted to this node process"
                   : rc == SIGIL_E_SHARE       ? "does not match the backup's commitment"
                                               : sigil_strerror(rc));
            break;
        }
        js[np++] = r.j;
        int w = snprintf(who + wo, sizeof who - wo, "%s%s", wo ? "," : "", r.officer);
        if (w > 0 && (size_t)w < sizeof who - wo)
            wo += (size_t)w;
    }
    /* combine: s = sum lambda_j p_j, lambda_j = prod x_l / (x_l - x_j) */
    sigil_scalar *s = pc ? &pc[SIGIL_BACKUP_MAX_OFFICERS - 1] : NULL;
    if (!rc && np < sec->k) {
        DETAIL(call, "restore refused: %zu valid pieces, %u needed", np, sec->k);
        rc = SIGIL_E_THRESHOLD;
    }
    if (!rc && np >= SIGIL_BACKUP_MAX_OFFICERS) rc = SIGIL_E_TOO_LARGE;
    if (!rc) {
        memset(s, 0, sizeof *s);
        for (size_t a = 0; a < np && !rc; a++) {
            sigil_scalar lam, xa, xb, num, den, inv, term;
            sigil_scalar_set_u64(g, &lam, 1);
            sigil_scalar_set_u64(g, &xa, js[a]);
            for (size_t b = 0; b < np && !rc; b++) {
                if (b == a)
                    continue;
                sigil_scalar_set_u64(g, &xb, js[b]);
                num = xb;
                sigil_scalar_sub(g, &den, &xb, &xa);
                rc = sigil_scalar_inv_public(g, &inv, &den);
                sigil_scalar_mul(g, &num, &num, &inv);
                sigil_scalar_mul(g, &lam, &lam, &num);
            }
            sigil_scalar_mul(g, &term, &lam, &pc[a]);
            if (a == 0)
                *s = term;
            else
                sigil_scalar_add(g, s, s, &term);
            sodium_memzero(&term, sizeof term);
        }
        sigil_point Y;
        if (!rc) rc = sigil_point_base_mul(g, &Y, s);
        if (!rc && !sigil_point_eq(g, &Y, &pkg.verifying[self])) {
            DETAIL(call, "restore refused: the combined share does not match node %u's verifying "
                         "share in the key's public package", cfg->node_id);
            rc = SIGIL_E_SHARE;
        }
    }
    uint8_t pk[SIGIL_FROST_PK_MAX];
    size_t pklen = 0;
    if (!rc && sec->scheme == SIGIL_ENV_SCHEME_ECDSA) {
        /* x_i checked: staged (not sealed) for the all-pairs OT setup with
         * every other share holder; sealed when all have prepared */
        sigil_keyshare ks = pkg;
        uint8_t sh[32];
        char text[512];
        ks.secret = s;
        ks.self = self; /* this node, whatever the section's package says */
        crypto_hash_sha256(sh, rq->params.data, rq->params.len);
        snprintf(text, sizeof text, "restore-installed approvals=%s pieces=%s ot=new-all-pairs", names, who);
        rc = node_import_restore_begin(nd, call, rq->session_id.data, rq->key_id, &ks, 1,
                                       sec->version, stmt_hash, sh, names, text);
        sodium_free(pc); /* zeroizes the pieces and the share (import.c holds its copy) */
        sigil_keyshare_free(&pkg);
        if (!rc)
            fprintf(stderr, "sigil-node %u: share of '%s' combined from %zu officer pieces (%s) and "
                            "checked; OT setup with every share holder next; approved by %s\n",
                    cfg->node_id, rq->key_id, np, who, names);
        return rc;
    }
    if (!rc) {
        sigil_keyshare ks = pkg;
        ks.secret = s;
        ks.self = self;
        /* the backed-up share version: the other nodes hold the same one */
        rc = node_install_frost_version(nd, rq->key_id, sec->scheme, sec->version, &ks, sec->package,
                                        sec->package_len, pk, &pklen);
        if (rc)
            DETAIL(call, "restore: the share could not be sealed and stored: %s", sigil_strerror(rc));
    }
    sodium_free(pc); /* zeroizes the pieces and the share */
    if (!rc) {
        char text[512];
        snprintf(text, sizeof text, "restore-installed approvals=%s pieces=%s", names, who);
        record(nd, call, rq->key_id, sec->scheme, stmt_hash, text, &rc);
        fprintf(stderr, "sigil-node %u: share of '%s' restored from %zu officer pieces (%s); "
                        "approved by %s\n", cfg->node_id, rq->key_id, np, who, names);
    }
    /* RESULT in the DKG form: confirmation = 0x03 | id | restore params hash */
    sigil_buf body, conf;
    sigil_buf_view(&body, NULL, 0);
    sigil_buf_view(&conf, NULL, 0);
    if (!rc) rc = sigil_buf_init(&conf, 128, 0);
    if (!rc) rc = sigil_buf_put_u8(&conf, 0x03);
    if (!rc) rc = sigil_scalar_put(g, &conf, &me);
    if (!rc) rc = sigil_buf_put(&conf, ph, 32);
    if (!rc) rc = sigil_buf_init(&body, SIGIL_ENV_MAX_BODY, 0);
    if (!rc) rc = sigil_env_dkg_result_encode(sec->scheme, rq->key_id, pk, pklen, sec->package,
                                              sec->package_len, conf.data, conf.size, &body);
    if (!rc) rc = node_respond_result(nd, call, rq->session_id.data, 1, body.data, body.size);
    sigil_buf_free(&body);
    sigil_buf_free(&conf);
    sigil_keyshare_free(&pkg);
    return rc;
}
