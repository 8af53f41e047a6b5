/* sigil-node internals: configuration, state files, the daemon. */
#ifndef SIGIL_NODE_INTERNAL_H
#define SIGIL_NODE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "sigil/audit.h"
#include "sigil/breaker.h"
#include "sigil/buf.h"
#include "sigil/dkg.h"
#include "sigil/ecdsa.h"
#include "sigil/envelope.h"
#include "sigil/frost.h"
#include "sigil/hsm.h"
#include "sigil/rpc.h"
#include "sigil/v1/node.pb-c.h"

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
    uint32_t pool_max;     /* FROST nonces per key (a full pool drops its oldest) */
    uint32_t presign_max;  /* ECDSA presignatures per key (likewise) */
    uint32_t refill_max;   /* entries per RefillPool call */
    unsigned threads;
} node_config;

#define MAX_SESSIONS 4096
#define SHARE_VERSION 1
/* FROST sealed plaintext: u8 1 | 32 signing share | 32 SHA-256(public
 * package), so the clear public package in the key file cannot be swapped.
 * Unsealed per use into memory allocated once with sodium_malloc (SIGN: one
 * unseal_slot per handler thread); the public part stays parsed in
 * k->pub. */
#define FROST_SEALED_LEN (1 + 32 + 32)

/* ------------------------------------------------------------------ state */

typedef struct {
    uint64_t id;
    sigil_frost_nonce *nonce;
    uint8_t commit[128];
    size_t clen;
} pool_entry;

typedef struct {
    uint64_t id;
    sigil_ecdsa_presig *ps;
    uint32_t signers[NODE_MAX_PEERS];
    size_t ns;
} presig_entry;

/* A keyrec is never freed while the node runs (a refreshed or retired key's
 * record moves to nd->graveyard, out of nd->keys, under nd->mu), and a FROST
 * key's fields never change, so a handler may keep a keyrec pointer and read
 * its public fields and blob without the lock; pools and the ECDSA blob
 * (re-sealed after an OT cheat) change only under nd->mu. */
typedef struct keyrec {
    char key_id[SIGIL_ENV_KEY_ID_MAX + 1];
    uint16_t scheme;
    uint32_t party, version;
    sigil_keyshare pub; /* secret NULL */
    uint8_t pkg_hash[32]; /* SHA-256 of the public package encoding */
    uint8_t pk[SIGIL_FROST_PK_MAX];
    size_t pklen;
    uint8_t *blob;
    size_t bloblen;
    pool_entry *pool;
    size_t npool, cap;
    /* index of pool: entry id -> position (open addressing, linear
     * probing, backward-shift deletion; id 0 = empty slot, entry ids are
     * never 0); hcap a power of two >= 2 * cap, or 0. A position is used
     * only if < npool and the entry there has the id (so a record whose
     * pools were dropped, npool = 0, finds nothing). */
    uint64_t *hid;
    uint32_t *hpos;
    size_t hcap;
    presig_entry *ps;   /* ECDSA presignatures */
    size_t nps, capps;
    struct keyrec *next;
} keyrec;

typedef struct session {
    uint8_t sid[SIGIL_ENV_SID_LEN];
    int kind;
    uint32_t round; /* the round of the inbound messages expected next */
    char key_id[SIGIL_ENV_KEY_ID_MAX + 1];
    uint16_t scheme;
    uint32_t t, n;
    uint32_t parties[NODE_MAX_PEERS];
    uint32_t self;  /* index of this node in parties */
    sigil_dkg *dkg;
    uint8_t box[NODE_MAX_PEERS][32];
    uint8_t echo[32];
    sigil_buf own_bcast; /* own round-1 broadcast payload / confirmation */
    /* ECDSA */
    sigil_ecdsa_setup *setup;
    sigil_buf pubpkg;
    uint32_t count;
    sigil_ecdsa_share *share;   /* PRESIGN: unsealed for the session */
    sigil_ecdsa_presign **ps;
    sigil_ecdsa_presig **presigs;
    /* REFRESH (refresh.c): the share version being replaced, the prepared
     * (sealed, pending) new key record, this node's prepared result */
    uint32_t old_version;
    struct keyrec *pending;
    sigil_buf result;
    struct session *next;
} session;

/* Node audit records of the shares one call produced, appended (durably)
 * after the node lock is released and before the response leaves. */
typedef struct {
    sigil_audit_entry *e;
    size_t n;
} audit_batch;

/* Where a FROST SIGN call unseals its share: secure memory allocated once
 * (guarded, locked), one slot per handler thread, taken and returned under
 * nd->mu, used by its holder without the lock. */
typedef struct {
    sigil_buf buf;          /* SIGIL_BUF_SECRET */
    sigil_scalar *secret;   /* sodium_malloc'ed */
    int busy;
} unseal_slot;

typedef struct node {
    node_config cfg;
    pthread_mutex_t mu;
    sigil_audit_log *audit;
    sigil_audit_signer audit_signer;
    unseal_slot *slots;     /* cfg.threads of them */
    size_t nslots;
    int audit_signer_set;
    sigil_hsm *hsm;
    uint8_t identity_pk[32];
    sigil_env_key *ek;
    sigil_env_peers *peers;
    keyrec *keys;
    keyrec *graveyard;      /* replaced (refresh) or retired records, freed at exit */
    session *sessions;
    size_t nsessions;
    /* seen session ids: open addressing set + append-only file */
    uint8_t (*seen)[32];
    uint8_t *used;
    size_t nseen, capseen;
    int seen_fd;
    /* breaker: `halted` is read without locks by every share-producing
     * path (before the work and again before release); the other fields,
     * the state file and the nonce file are under bmu. Halt never waits
     * for signing work (lock order where both are taken: mu, then bmu). */
    pthread_mutex_t bmu;
    atomic_int halted;
    uint64_t epoch, halted_at_ms;
    char halted_by[SIGIL_RPC_URI_MAX];
    char reason[256];
    sigil_breaker_nonces *nonces;
    uint32_t boot, seq;
    time_t started;
    char path_halt[NODE_PATH_MAX + 32], path_seen[NODE_PATH_MAX + 32], path_keys[NODE_PATH_MAX + 32];
} node;

typedef struct {
    Sigil__V1__Envelope *env;
    Sigil__V1__Envelope **ptr;
    sigil_buf *pay;
    size_t n, cap;
} outbox;

#define DETAIL(call, ...) snprintf((call)->detail, sizeof (call)->detail, __VA_ARGS__)

/* ---- node.c helpers shared with refresh.c (callers hold nd->mu unless
 * said otherwise; see node.c for each contract) ---- */
int seen_record(node *nd, const uint8_t *sid, int durable);
keyrec *key_find(node *nd, const char *key_id);
void key_free(keyrec *k);
int key_from_bytes(const uint8_t *p, size_t n, keyrec **out);
void ad_for(const keyrec *k, sigil_hsm_ad *ad);
/* Unseal k's FROST share into buf (SIGIL_BUF_SECRET) and slot
 * (sodium_malloc'ed); *out is a shallow view of k->pub with secret = slot.
 * The caller zeroizes slot and resets buf after use. */
int key_unseal_into(node *nd, const keyrec *k, sigil_buf *buf, sigil_scalar *slot,
                    sigil_keyshare *out);
int unseal_ecdsa(node *nd, const keyrec *k, sigil_ecdsa_share **out);
/* Seal secret as share `version` of key_id and write state_dir/keys/
 * <key_id><suffix> atomically (suffix ".key" for the live share); *out gets
 * the parsed record. */
int key_store_version(node *nd, const char *key_id, uint16_t scheme, uint32_t version,
                      const char *suffix, const sigil_buf *secret, const sigil_buf *pubpkg,
                      keyrec **out);
int outbox_init(outbox *o, size_t cap);
void outbox_free(outbox *o);
int outbox_add(node *nd, outbox *o, const uint8_t *sid, uint32_t round, uint32_t to,
               uint32_t kind, const uint8_t *body, size_t blen, const uint8_t *box);
int inbound_open(node *nd, sigil_rpc_call *call, const Sigil__V1__Envelope *e,
                 const uint8_t *sid, uint32_t round, uint32_t kind, uint32_t want_to,
                 const uint32_t *parties, size_t np, sigil_buf *body, uint8_t box[32],
                 int *from_idx);
int party_index(const uint32_t *parties, size_t n, uint32_t id);
void session_drop(node *nd, session *s);
int pack_response(sigil_rpc_call *call, const uint8_t *sid, uint32_t round, outbox *out,
                  int done, outbox *results);
int check_not_halted(node *nd, sigil_rpc_call *call);
void scalar_ids(const sigil_group *g, const uint32_t *parties, size_t n, sigil_scalar *ids);
void echo_hash(const session *s, uint32_t round, const sigil_buf *payloads, uint8_t out[32]);
int check_parties(node *nd, sigil_rpc_call *call, const uint32_t *p, size_t n, uint32_t *self);
int collect(node *nd, sigil_rpc_call *call, session *s, const Sigil__V1__RoundRequest *rq,
            sigil_buf *body, uint8_t echo[][32]);
/* collect + the round-1 raw payloads + the round-2 echo check, for DKG and
 * REFRESH rounds (node.c) */
int dkg_round_inputs(node *nd, sigil_rpc_call *call, session *s, const Sigil__V1__RoundRequest *rq,
                     sigil_buf *body, sigil_buf *raw);
int send_each(node *nd, session *s, outbox *o, uint32_t round, const sigil_buf *out);
int ecdsa_out_init(sigil_buf *out, size_t count);

/* ---- refresh.c: share refresh (SESSION_KIND_REFRESH) and retirement ---- */
/* The officers' k-of-m approval of `action` (refresh, retire, import,
 * backup, restore) on key_id with parameters hash ph, checked against THIS
 * node's policy (its officer keys, resume_k as k, cluster id), the
 * statement's nonce then burned in this node's used-nonce file (a replay is
 * refused here, not only by the coordinator). sh = SHA-256(statement), who
 * = "carol,dave". On refusal the call's detail says why and what is needed. */
int node_approvals_check(node *nd, sigil_rpc_call *call, const char *action, const char *key_id,
                         const uint8_t ph[32], ProtobufCBinaryData stmt,
                         Sigil__V1__Approval *const *in, size_t n, uint8_t sh[32], char *who,
                         size_t wholen);
/* StartSession{kind REFRESH}: checks the officers' approvals (action
 * "refresh"), then the refresh DKG's round 1. Caller holds nd->mu. */
int refresh_start(node *nd, sigil_rpc_call *call, const Sigil__V1__StartSessionRequest *rq);
/* Round of a REFRESH session (caller holds nd->mu, checked the round). */
int refresh_round(node *nd, sigil_rpc_call *call, session *s, const Sigil__V1__RoundRequest *rq);
/* /sigil.v1.Admin/Retire handler (takes nd->mu itself). */
int refresh_h_retire(void *ctx, sigil_rpc_call *call);
/* At start, after the keys are loaded: wipe superseded key files
 * (keys/<id>.old) left by a crash, warn about uncommitted .pending ones. */
int refresh_recover(node *nd);
/* Commit a share sealed into keys/<id>.pending (nk, parsed from it, not
 * yet listed): with old (the live record): hard link .key to .old, rename
 * .pending over .key, fsync the directory, replace old by nk in nd->keys
 * (old moves to the graveyard, its pools dropped), overwrite .old with
 * zeros and unlink it (*wipe_failed = 1 if that failed; the commit stands).
 * Without old (a new share): SIGIL_E_EXISTS if the node holds or retired
 * the id, else rename .pending to .key, list nk, fsync (a failed fsync is
 * only warned about: the file is in place). SIGIL_E_IO (errno set): nothing
 * renamed, nk not listed. Used by refresh and restore. */
int key_commit_pending(node *nd, keyrec *old, keyrec *nk, int *wipe_failed);
/* Overwrite and unlink keys/<id>.pending (an uncommitted share). */
int key_pending_wipe(node *nd, const char *key_id);
/* Whether key_id was retired on this node (a tombstone file exists). */
int key_retired(node *nd, const char *key_id);
/* The request descriptor for Admin/Retire (for the handler table). */
extern const ProtobufCMessageDescriptor *const refresh_retire_descriptor;
#define NODE_RPC_ADMIN_RETIRE "/sigil.v1.Admin/Retire"

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
/* 1 if the node holds key_id, or held it and it was retired (its id is
 * never reused). */
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
/* The same with an explicit share version (restore keeps the backed-up one). */
int node_install_frost_version(node *nd, const char *key_id, uint16_t scheme, uint32_t version,
                               const sigil_keyshare *ks, const uint8_t *pkg, size_t pkglen,
                               uint8_t *pk, size_t *pklen);
/* The same for a DKLs23 share (its sigil_ecdsa_share_encode bytes in a
 * secret buffer; pkg = the generic public key package over secp256k1). */
int node_install_ecdsa(node *nd, const char *key_id, const sigil_buf *share,
                       const uint8_t *pkg, size_t pkglen, uint8_t *pk, size_t *pklen);
/* Answer with done = false and count DATA envelopes of round `round`,
 * bodies[i] encrypted to box[i] and addressed to to[i]. */
int node_respond_pairwise(node *nd, sigil_rpc_call *call, const uint8_t sid[32], uint32_t round,
                          size_t count, const uint32_t *to, const sigil_buf *bodies,
                          const uint8_t (*box)[32]);
/* Unseal a FROST key's share into the caller's secure memory (buf:
 * SIGIL_BUF_SECRET, slot: sodium_malloc'ed; *out a shallow view of the
 * key's public package with secret = slot; the caller zeroizes slot and
 * resets buf); SIGIL_E_NOT_FOUND, SIGIL_E_VERSION for an ECDSA key. */
int node_key_unseal_frost(node *nd, const char *key_id, sigil_buf *buf, sigil_scalar *slot,
                          sigil_keyshare *out, uint16_t *scheme, uint32_t *version);
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
/* RESTORE of an ECDSA key (backup_node.c, node lock held): stage ks (its
 * secret x_i checked against the key's public package by the caller,
 * copied here into secure memory; ids 1..n) in an import slot of session
 * sid and answer with the round-1 confirmation (0x03 | id | SHA-256(tag,
 * sid, stmt_hash, section_hash)). The session then runs as an ECDSA
 * import (node_import_round: confirmations, OT setup rounds 2-4) and a
 * PREPARED round 5: the new share (x_i with fresh OT state toward every
 * party) is sealed as share `version` into keys/<id>.pending, and commits
 * only when every other share holder's PREPARED (0x05 | id | same hash)
 * arrived: restored = 1 adds the key (the replacement node), 0 replaces
 * the live share (the other share holders, key_commit_pending). `text` is
 * the node's audit record on commit. On any failure nothing is stored. */
int node_import_restore_begin(node *nd, sigil_rpc_call *call, const uint8_t sid[32],
                              const char *key_id, const sigil_keyshare *ks, int restored,
                              uint32_t version, const uint8_t stmt_hash[32],
                              const uint8_t section_hash[32], const char *names, const char *text);
/* backup_node.c (node lock held, not halted): SESSION_KIND_BACKUP /
 * SESSION_KIND_RESTORE StartSession, each answered at once. */
int node_backup_start(node *nd, sigil_rpc_call *call, const Sigil__V1__StartSessionRequest *rq);
int node_restore_start(node *nd, sigil_rpc_call *call, const Sigil__V1__StartSessionRequest *rq);

#endif
