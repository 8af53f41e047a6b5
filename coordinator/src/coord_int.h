/* Internal interfaces of the coordinator (not installed). */
#ifndef SIGIL_COORD_INT_H
#define SIGIL_COORD_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "sigil/coord.h"
#include "sigil/envelope.h"
#include "sigil/rpc.h"
#include "sigil/v1/node.pb-c.h"

/* One signer node as the coordinator sees it. */
typedef struct {
    const sigil_coord_node *cfg;
    sigil_rpc_client *client;
    atomic_uint_fast64_t down_until_ms;   /* 0: healthy; else skip until then */
    atomic_uint fails;                    /* consecutive failures */
    atomic_int peer_known;                /* its identity key is in the env peers */
    sigil_env_peers *peers;               /* every node's identity key (shared): the
                                             relay verifies envelopes with it */
} coord_node;

uint64_t coord_now_ms(void);
int coord_node_healthy(coord_node *n);
void coord_node_failed(coord_node *n);
void coord_node_ok(coord_node *n);

/* Fan one call out to count nodes at once (async, no thread per call) and
 * wait for every answer. reqs[i] is the packed request for nodes[i];
 * resps[i] (writable buffers) receive the response bytes, rcs[i] the
 * outcome, st[i] the status. */
void coord_fanout(coord_node **nodes, size_t count, const char *method, const sigil_buf *reqs,
                  sigil_buf *resps, int *rcs, sigil_rpc_status *st, unsigned timeout_ms);

/* A session across `count` parties (ascending ids). */
typedef struct {
    size_t count;
    coord_node *nodes[SIGIL_COORD_MAX_NODES];
    uint8_t session_id[32];
    /* after a successful run: each party's final response (done = true),
     * holding its RESULT envelopes; freed by coord_session_clear */
    Sigil__V1__SessionResponse *final[SIGIL_COORD_MAX_NODES];
    uint32_t failed_party;                /* on failure: the party to blame, 0 if none */
    char detail[200];
} coord_session;

/* Run a session: StartSession(starts[i]) on every party, then relay each
 * round's outbound envelopes (to == 0: every other participant; to == k:
 * party k) into the next Round call of its recipients, until every party
 * is done. Before relaying, each envelope must carry its sender's id, this
 * session's id, the sender's current round and kind DATA or ECHO, and its
 * signature must verify under the sender's identity key (the nodes'
 * peers): otherwise SIGIL_E_CHECK and the SENDER is blamed (the receiver
 * would only refuse it, and would be blamed for refusing). Each node call
 * has node_timeout_ms; the whole session at most max_rounds rounds. On any failure (a node error or timeout, an envelope
 * from the wrong sender or to an unknown party, rounds out of step) every
 * party gets AbortSession and the error is returned with failed_party set
 * when one node is to blame. */
int coord_session_run(coord_session *s, const sigil_buf *starts, unsigned node_timeout_ms,
                      unsigned max_rounds);
void coord_session_clear(coord_session *s);

/* Send AbortSession for sid to every node (best effort, short deadline). */
void coord_session_abort(coord_node **nodes, size_t count, const uint8_t sid[32],
                         const char *reason);

/* ---- coord.c hooks for import.c / backup.c and lifecycle.c (Admin/Refresh,
 * Admin/Retire) ---- */
#include "sigil/audit.h"
#include "sigil/breaker.h"
#include "sigil/v1/common.pb-c.h"

/* Register /sigil.v1.Admin/Refresh and /sigil.v1.Admin/Retire. */
int coord_lifecycle_register(sigil_coord *c, sigil_rpc_server *srv);
/* Sign refused for a key that is not active: the status and message
 * (retired: never signs again; pending: being refreshed, retry). */
int coord_key_inactive(sigil_rpc_call *call, const char *key_id, int state);
/* Sets the call's status message (printf format) and returns rc: the one
 * way a coordinator handler explains a refusal. */
int coord_detail(sigil_rpc_call *call, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

const sigil_coord_config *coord_cfg(const sigil_coord *c);
/* The i-th configured node (NULL past the end). */
coord_node *coord_node_at(sigil_coord *c, size_t i);
/* The configured node with party id `id` (NULL if none). */
coord_node *coord_node_of(sigil_coord *c, uint32_t id);
/* SIGIL_OK, or SIGIL_E_HALTED with the halt's detail in call. */
int coord_check_running(sigil_coord *c, sigil_rpc_call *call);
int coord_key_exists(sigil_coord *c, const char *key_id);
/* Make sure node n's identity key is known for opening its envelopes. */
int coord_ensure_peer(sigil_coord *c, coord_node *n);
/* Open node `from`'s RESULT envelope of session sid into body. */
int coord_open_result(sigil_coord *c, const Sigil__V1__Envelope *e, uint32_t from,
                      const uint8_t sid[32], sigil_buf *body);
/* k-of-m approvals of statement for action, key_id and params_hash (the
 * coordinator's officer policy), then the nonce burned (replay refused);
 * a precise message in call->detail on refusal. *st gets the statement. */
int coord_approvals_use(sigil_coord *c, sigil_rpc_call *call, const char *action,
                        const ProtobufCBinaryData *statement, Sigil__V1__Approval *const *in,
                        size_t n, const char *key_id, const uint8_t params_hash[32],
                        sigil_breaker_statement *st);
/* Append one entry to the audit log (durable); SIGIL_OK when no log is
 * configured. */
int coord_audit(sigil_coord *c, sigil_audit_entry *e);
/* The audit record of one approved key-lifecycle request (import, backup,
 * restore): type CEREMONY, the caller, the key, the statement's SHA-256,
 * "<what> approvals=<officers>" (unprintable names as "?"), and for rc != 0
 * the refusal (call->detail, else the code's text). coord_audit's result. */
int coord_audit_ceremony(sigil_coord *c, sigil_rpc_call *call, const char *key_id, int scheme,
                         const ProtobufCBinaryData *statement, Sigil__V1__Approval *const *ap,
                         size_t n, const char *what, int rc);
/* A copy of a registered key's public record (SIGIL_E_NOT_FOUND). */
int coord_key_info(sigil_coord *c, const char *key_id, sigil_coord_key *out);
/* Register a new key (registry file, runtime, pools) and fill *ki. */
int coord_register_key(sigil_coord *c, sigil_rpc_call *call, const sigil_coord_key *info,
                       Sigil__V1__KeyInfo *ki);

/* Every share holder of k answers Node/Status (retrying for about two
 * seconds through the channel's reconnect back-off), is not halted and
 * holds k at the registry's share version, except node `except` (0: none)
 * which need only answer; checked before any approval is consumed. On
 * refusal call's detail names the node and says nothing changed. */
int coord_reach_all(sigil_coord *c, sigil_rpc_call *call, const sigil_coord_key *k, const char *op,
                    uint32_t except);

/* import.c: register /sigil.v1.Admin/ImportPrepare and ImportKey (and,
 * through backup.c, BackupKey and RestoreKey). */
int coord_import_register(sigil_coord *c, sigil_rpc_server *server);
int coord_backup_register(sigil_coord *c, sigil_rpc_server *server);
/* Replace a key's runtime by one built from info (pools start empty),
 * persisting info in keys.json first when persist is set. The old runtime
 * stays allocated until exit (handlers may still hold it). */
int coord_key_replace(sigil_coord *c, const sigil_coord_key *info, int persist);

#endif
