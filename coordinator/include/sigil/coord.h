/* sigil/coord.h: the coordinator's building blocks (sigil-coordinator).
 *
 * The coordinator serves the wallet API (sigil.v1.Wallet) and the admin API
 * (sigil.v1.Admin) over mTLS, and drives the signer nodes' API
 * (sigil.v1.Node) as a client. It holds no secret except its TLS key: key
 * shares, nonces and presignatures live only in the nodes; the coordinator
 * relays the nodes' opaque, end-to-end signed envelopes.
 *
 * Pieces, each usable (and unit-tested) on its own:
 *   sigil_coord_config   the JSON configuration file (see docs/modules/coordinator.md)
 *   sigil_coord_idem     bounded cache of (identity, request id) -> result
 *   sigil_coord_registry public key registry, persisted atomically
 *   sigil_coord_breaker  the circuit breaker's persisted halted state
 *   sigil_coord_session  the generic node session driver (StartSession,
 *                        then per round relay outbound envelopes until done)
 *   sigil_coord          the daemon: all of the above behind a gRPC server
 *
 * All functions return SIGIL_OK or a negative SIGIL_E_* code. */
#ifndef SIGIL_COORD_H
#define SIGIL_COORD_H

#include <stddef.h>
#include <stdint.h>

#include "sigil/buf.h"
#include "sigil/rpc.h"

#define SIGIL_COORD_MAX_NODES 32
#define SIGIL_COORD_MAX_OFFICERS 32
#define SIGIL_COORD_PATH_MAX 512

/* ---- configuration -------------------------------------------------------- */

typedef struct {
    uint32_t id;                        /* party id 1..65535 */
    char address[128];                  /* "127.0.0.1:7501" */
    char identity[SIGIL_RPC_URI_MAX];   /* expected SAN, default sigil://node/<id> */
    uint8_t identity_pk[32];            /* Ed25519 key that certifies its envelopes */
    int has_identity_pk;                /* 0: learned from Node/Status over pinned mTLS */
} sigil_coord_node;

typedef struct {
    char identity[SIGIL_RPC_URI_MAX];   /* pattern, e.g. "sigil://wallet/alice" */
    char method[96];                    /* pattern, e.g. "/sigil.v1.Wallet/" "*" */
    char key[72];                       /* pattern, e.g. "hot-" "*" */
} sigil_coord_rule;

typedef struct {
    char name[SIGIL_RPC_NAME_MAX + 1];
    uint8_t public_key[32];             /* Ed25519 */
} sigil_coord_officer;

typedef struct {
    char listen[128];
    char ca_file[SIGIL_COORD_PATH_MAX], cert_file[SIGIL_COORD_PATH_MAX],
        key_file[SIGIL_COORD_PATH_MAX];
    char state_dir[SIGIL_COORD_PATH_MAX];
    char cluster_id[65];
    uint32_t threshold;                 /* default t for new keys */
    sigil_coord_node nodes[SIGIL_COORD_MAX_NODES];
    size_t num_nodes;
    sigil_coord_rule *rules;            /* owned */
    size_t num_rules;
    sigil_coord_officer officers[SIGIL_COORD_MAX_OFFICERS];
    size_t num_officers;
    uint32_t approvals_required;        /* k for Resume */
    int keygen_approvals;               /* Keygen needs k approvals too ("keygen_approvals") */
    uint32_t pool_frost_target;         /* FROST commitments kept per node and key */
    uint32_t pool_ecdsa_target;         /* ECDSA presignatures kept per quorum and key */
    uint32_t node_timeout_ms;           /* one node call */
    uint32_t sign_timeout_ms;           /* whole Sign including retries */
    uint32_t keygen_timeout_ms;
    uint32_t server_threads;
    uint32_t max_batch;
    uint32_t queue_max;                 /* Sign items waiting per key; beyond: RESOURCE_EXHAUSTED */
    uint32_t idem_capacity;             /* remembered request ids */
    /* audit log (optional; when set, fail-closed: no signature leaves before
     * its entry is durable). Checkpoints are signed by an Ed25519 key in a
     * PKCS#11 token (SOFTHSM2_CONF from the environment for SoftHSM). */
    int audit;
    char audit_dir[SIGIL_COORD_PATH_MAX];
    char audit_origin[65];              /* checkpoint origin and note key name */
    char audit_token[33];
    char audit_pin_file[SIGIL_COORD_PATH_MAX];
    char audit_key_label[33];           /* default "sigil-audit" */
    char pkcs11_module[SIGIL_COORD_PATH_MAX];
    /* SHA-256 of the configuration file's bytes, set by
     * sigil_coord_config_load; the coordinator records it in the audit log
     * (a CONFIG entry, actor "local:config") at every start. */
    uint8_t config_sha256[32];
    int has_config_sha256;
} sigil_coord_config;

/* Load and validate the JSON configuration at path. Missing optional fields
 * get defaults (docs/modules/coordinator.md). SIGIL_E_IO if the file cannot be
 * read, SIGIL_E_ENCODING for bad JSON or a bad field, with a one-line reason
 * in err (if non-NULL, errlen bytes). Free with sigil_coord_config_free. */
int sigil_coord_config_load(const char *path, sigil_coord_config *cfg, char *err, size_t errlen);
void sigil_coord_config_free(sigil_coord_config *cfg);

/* ---- idempotency cache ---------------------------------------------------- */

typedef struct sigil_coord_idem sigil_coord_idem;

enum {
    SIGIL_COORD_IDEM_NEW = 0,     /* not seen: caller owns the slot, must finish or drop it */
    SIGIL_COORD_IDEM_DONE = 1,    /* seen with the same request: *resp holds the result */
    SIGIL_COORD_IDEM_BUSY = 2,    /* the same request is being served right now */
};

/* A cache of at most capacity results (oldest evicted first). */
int sigil_coord_idem_new(size_t capacity, sigil_coord_idem **out);
void sigil_coord_idem_free(sigil_coord_idem *c);

/* Look up (identity, request_id). req_hash is the SHA-256 of the request's
 * content. Returns SIGIL_COORD_IDEM_NEW (a pending slot is reserved),
 * _DONE (the stored response is appended to resp), _BUSY, or
 * SIGIL_E_EXISTS when the id was used with a different request. */
int sigil_coord_idem_begin(sigil_coord_idem *c, const char *identity, const uint8_t *request_id,
                           size_t idlen, const uint8_t req_hash[32], sigil_buf *resp);
/* Store the response for a slot reserved by _begin (it becomes _DONE). */
int sigil_coord_idem_finish(sigil_coord_idem *c, const char *identity, const uint8_t *request_id,
                            size_t idlen, const uint8_t *resp, size_t len);
/* Release a reserved slot without a result (the request failed; a retry
 * runs again). */
void sigil_coord_idem_drop(sigil_coord_idem *c, const char *identity, const uint8_t *request_id,
                           size_t idlen);
size_t sigil_coord_idem_count(const sigil_coord_idem *c);

/* ---- key registry (public data only) -------------------------------------- */

#define SIGIL_COORD_KEY_ID_MAX 64
#define SIGIL_COORD_PK_MAX 33
#define SIGIL_COORD_PACKAGE_MAX 4096

typedef struct {
    char key_id[SIGIL_COORD_KEY_ID_MAX + 1];
    int scheme;                        /* Sigil__V1__Scheme value */
    uint8_t public_key[SIGIL_COORD_PK_MAX];
    size_t pk_len;
    uint32_t threshold, num_parties;
    uint32_t parties[SIGIL_COORD_MAX_NODES];   /* share holders, ascending */
    int state;                         /* Sigil__V1__KeyState value */
    uint64_t created_unix;
    uint32_t share_version;
    /* public key package (sigil_keyshare_serialize without secret): ids,
     * verifying shares, group key; what aggregation needs */
    uint8_t package[SIGIL_COORD_PACKAGE_MAX];
    size_t package_len;
} sigil_coord_key;

typedef struct sigil_coord_registry sigil_coord_registry;

/* Open the registry persisted at path (created empty if the file does not
 * exist). SIGIL_E_ENCODING if the file is corrupt. */
int sigil_coord_registry_open(const char *path, sigil_coord_registry **out);
void sigil_coord_registry_free(sigil_coord_registry *r);
/* Copy of the key named key_id; SIGIL_E_NOT_FOUND. Thread-safe. */
int sigil_coord_registry_get(sigil_coord_registry *r, const char *key_id, sigil_coord_key *out);
/* Add a new key and persist the registry atomically before returning;
 * SIGIL_E_EXISTS if the id is taken (the registry is unchanged). */
int sigil_coord_registry_add(sigil_coord_registry *r, const sigil_coord_key *k);
/* Replace the key with k's key_id (refresh: new public package and share
 * version; retire: state) and persist atomically before returning;
 * SIGIL_E_NOT_FOUND if there is no such key (the registry is unchanged, also
 * when persisting fails). */
int sigil_coord_registry_update(sigil_coord_registry *r, const sigil_coord_key *k);
/* Snapshot: *keys (free()) gets *count copies, in insertion order. */
int sigil_coord_registry_list(sigil_coord_registry *r, sigil_coord_key **keys, size_t *count);

/* Scheme names as scripts/verify-signatures spells them ("frost-ed25519",
 * "frost-secp256k1", "frost-bip340", "ecdsa"); aliases "ed25519",
 * "secp256k1", "bip340" are accepted by _parse. 0 / NULL when unknown. */
int sigil_coord_scheme_parse(const char *name);
const char *sigil_coord_scheme_name(int scheme);

/* ---- circuit breaker state ------------------------------------------------ */

typedef struct {
    int halted;
    uint64_t epoch;                    /* increments on every transition to halted */
    char by[SIGIL_RPC_URI_MAX];
    char reason[200];
    uint64_t at_unix_ms;
} sigil_coord_breaker_state;

/* Read the persisted state (all zero if the file does not exist). */
int sigil_coord_breaker_load(const char *path, sigil_coord_breaker_state *st);
/* Persist atomically (sigil_file_write_atomic). */
int sigil_coord_breaker_save(const char *path, const sigil_coord_breaker_state *st);

/* ---- the daemon ----------------------------------------------------------- */

typedef struct sigil_coord sigil_coord;

/* Build the coordinator from a loaded config (borrowed; must outlive it):
 * opens the registry and the breaker state in cfg->state_dir, connects
 * clients to every node. Does not serve yet. */
int sigil_coord_new(const sigil_coord_config *cfg, sigil_coord **out);
/* Start the gRPC server and the background pool filler. *port: bound port. */
int sigil_coord_start(sigil_coord *c, int *port);
/* Stop serving, join the threads, release everything. */
void sigil_coord_free(sigil_coord *c);

#endif
