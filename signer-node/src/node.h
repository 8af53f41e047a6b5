/* sigil-node internals: configuration, state files, the daemon. */
#ifndef SIGIL_NODE_INTERNAL_H
#define SIGIL_NODE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "sigil/breaker.h"

#define NODE_MAX_PEERS 64
#define NODE_PATH_MAX 1024

typedef struct {
    uint32_t node_id;
    char listen[256];
    char tls_ca[NODE_PATH_MAX], tls_cert[NODE_PATH_MAX], tls_key[NODE_PATH_MAX];
    char pkcs11_module[NODE_PATH_MAX];
    char token_label[64];
    char pin_file[NODE_PATH_MAX];
    char state_dir[NODE_PATH_MAX];
    char cluster_id[SIGIL_BREAKER_NAME_MAX + 1];
    uint32_t peer_ids[NODE_MAX_PEERS];
    uint8_t peer_pks[NODE_MAX_PEERS][32];
    size_t npeers;
    sigil_breaker_officer officers[SIGIL_BREAKER_MAX_OFFICERS];
    size_t nofficers;
    unsigned resume_k;
    uint32_t pool_max;     /* FROST nonces per key */
    uint32_t refill_max;   /* entries per RefillPool call */
    unsigned threads;
} node_config;

/* Parse the key=value configuration file (see docs/modules/signer-node.md). On
 * error writes a message to err (cap bytes). */
int node_config_load(node_config *c, const char *path, char *err, size_t cap);

/* ---- node.c internals for import.c (callers hold the node lock) ---- */

#include "sigil/audit.h"
#include "sigil/dkg.h"
#include "sigil/envelope.h"
#include "sigil/rpc.h"
#include "sigil/v1/node.pb-c.h"

typedef struct node node;

const node_config *node_cfg(const node *nd);
const sigil_env_key *node_env_key(const node *nd);
/* 1 if the node holds key_id. */
int node_has_key(node *nd, const char *key_id);
/* Parties ascending, known, including this node (*self = its index);
 * else a message in call->detail and SIGIL_E_PARTICIPANT. */
int node_parties(node *nd, sigil_rpc_call *call, const uint32_t *p, size_t n, uint32_t *self);
/* Record a session id durably before the session acts (SIGIL_E_REPLAY if
 * seen; SIGIL_E_TOO_LARGE if too many sessions are open). */
int node_session_burn(node *nd, const uint8_t sid[32]);
/* Seal a FROST key share (ks->secret; pkg = its public package encoding)
 * under share version 1, write the key file, add the key (SIGIL_E_EXISTS if
 * the node has it); pk/pklen receive the encoded group key. */
int node_install_frost(node *nd, const char *key_id, uint16_t scheme, const sigil_keyshare *ks,
                       const uint8_t *pkg, size_t pkglen, uint8_t *pk, size_t *pklen);
/* The same for a DKLs23 share (its sigil_ecdsa_share_encode bytes in a
 * secret buffer; pkg = the generic public key package over secp256k1). */
int node_install_ecdsa(node *nd, const char *key_id, const sigil_buf *share,
                       const uint8_t *pkg, size_t pkglen, uint8_t *pk, size_t *pklen);
/* Answer with done = false and count DATA envelopes of round `round`,
 * bodies[i] encrypted to box[i] and addressed to to[i]. */
int node_respond_pairwise(node *nd, sigil_rpc_call *call, const uint8_t sid[32], uint32_t round,
                          size_t count, const uint32_t *to, const sigil_buf *bodies,
                          const uint8_t (*box)[32]);
/* Unseal a FROST key's share into the node's slot (release with
 * node_key_release before the lock is dropped); SIGIL_E_NOT_FOUND,
 * SIGIL_E_VERSION for an ECDSA key. */
int node_key_unseal_frost(node *nd, const char *key_id, sigil_keyshare *out, uint16_t *scheme,
                          uint32_t *version);
void node_key_release(node *nd, sigil_keyshare *ks);
/* Sign with the node's HSM identity key. */
int node_identity_sign(node *nd, const uint8_t *msg, size_t n, uint8_t sig[64]);
sigil_env_peers *node_env_peers(node *nd);
/* Answer the call with done = false and one broadcast DATA envelope of
 * round `round` (sealed with the node's envelope key). */
int node_respond_bcast(node *nd, sigil_rpc_call *call, const uint8_t sid[32], uint32_t round,
                       const uint8_t *body, size_t n);
/* Answer the call with done = true and one RESULT envelope (body, sealed
 * with the node's envelope key, header sid / round / to 0). */
int node_respond_result(node *nd, sigil_rpc_call *call, const uint8_t sid[32], uint32_t round,
                        const uint8_t *body, size_t n);
/* Append one entry (party set to this node) to the node's audit log, durably. */
int node_audit_record(node *nd, const sigil_audit_entry *e);

/* import.c (node lock held): SESSION_KIND_IMPORT StartSession (node not
 * halted); its Round 1 (node not halted); whether a session id is an open
 * import; AbortSession of one (1 if it existed). */
int node_import_start(node *nd, sigil_rpc_call *call, const Sigil__V1__StartSessionRequest *rq);
int node_import_round(node *nd, sigil_rpc_call *call, const Sigil__V1__RoundRequest *rq);
int node_import_owns(const uint8_t *sid, size_t len);
int node_import_abort(const uint8_t *sid, size_t len);
/* backup_node.c (node lock held, not halted): SESSION_KIND_BACKUP /
 * SESSION_KIND_RESTORE StartSession, each answered at once. */
int node_backup_start(node *nd, sigil_rpc_call *call, const Sigil__V1__StartSessionRequest *rq);
int node_restore_start(node *nd, sigil_rpc_call *call, const Sigil__V1__StartSessionRequest *rq);

#endif
