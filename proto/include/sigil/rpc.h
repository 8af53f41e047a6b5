/* sigil/rpc.h: mTLS gRPC glue for every Sigil daemon and client.
 *
 * Built on the gRPC core C API and protobuf-c. One server type, one client
 * type, peer identities, an authorization table, and the mapping between
 * SIGIL_E_* codes and gRPC status codes. The .proto files (package sigil.v1)
 * are in proto/sigil/v1/; their protobuf-c code is generated at build time
 * and included as "sigil/v1/<file>.pb-c.h".
 *
 * IDENTITY. Every party holds a certificate issued by the deployment's CA
 * carrying exactly one URI subject alternative name of the form
 *     sigil://node/<id>          a signer node, id 1..65535 (no leading 0)
 *     sigil://coordinator        the coordinator
 *     sigil://wallet/<name>      a wallet / exchange backend
 *     sigil://officer/<name>     a security officer
 *     sigil://admin/<name>       an operator / monitoring identity
 * where <name> is 1..64 of [a-z0-9._-]. The server requires a client
 * certificate that chains to its CA (GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_
 * CERTIFICATE_AND_VERIFY) and takes the identity from the peer's URI SANs:
 * exactly one sigil:// URI, well-formed, or the call fails UNAUTHENTICATED.
 * Server certificates carry their sigil:// URI too (and DNS/IP names for
 * the TLS host check); a client may require the server's identity.
 *
 * AUTHORIZATION. Before any handler runs, the server looks up
 * (identity, method, key) in a sigil_rpc_authz table; no matching rule
 * means PERMISSION_DENIED and the handler never runs. The key is the
 * request's `key_id` field (empty when the request has none). The request
 * is decoded (size check first, then protobuf-c unpack) before the lookup;
 * undecodable bytes fail INVALID_ARGUMENT, oversize ones RESOURCE_EXHAUSTED.
 *
 * THREADS. A server runs `threads` threads that all serve one completion
 * queue; handlers run on those threads, so up to `threads` handlers run at
 * once and a handler may block (e.g. on calls to other servers). A handler
 * may also defer its answer (SIGIL_RPC_DEFERRED below) so that a call that
 * waits for other work holds no thread. A client
 * is thread-safe: any number of threads may call through one client, which
 * shares one HTTP/2 channel.
 *
 * All functions return SIGIL_OK (0) or a negative SIGIL_E_* code. */
#ifndef SIGIL_RPC_H
#define SIGIL_RPC_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "sigil/buf.h"

/* Default and hard limits on one message (request or response), bytes.
 * Both server and channel set GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH and
 * GRPC_ARG_MAX_SEND_MESSAGE_LENGTH to the configured value. */
#define SIGIL_RPC_MAX_MESSAGE_DEFAULT ((size_t)4 << 20)
#define SIGIL_RPC_MAX_MESSAGE_LIMIT ((size_t)64 << 20)

/* Method paths of package sigil.v1 (the .proto files in proto/sigil/v1). */
#define SIGIL_RPC_WALLET_LIST_KEYS "/sigil.v1.Wallet/ListKeys"
#define SIGIL_RPC_WALLET_GET_PUBLIC_KEY "/sigil.v1.Wallet/GetPublicKey"
#define SIGIL_RPC_WALLET_SIGN "/sigil.v1.Wallet/Sign"
#define SIGIL_RPC_WALLET_SIGN_BATCH "/sigil.v1.Wallet/SignBatch"
#define SIGIL_RPC_NODE_START_SESSION "/sigil.v1.Node/StartSession"
#define SIGIL_RPC_NODE_ROUND "/sigil.v1.Node/Round"
#define SIGIL_RPC_NODE_ABORT_SESSION "/sigil.v1.Node/AbortSession"
#define SIGIL_RPC_NODE_REFILL_POOL "/sigil.v1.Node/RefillPool"
#define SIGIL_RPC_NODE_STATUS "/sigil.v1.Node/Status"
#define SIGIL_RPC_ADMIN_HALT "/sigil.v1.Admin/Halt"
#define SIGIL_RPC_ADMIN_RESUME "/sigil.v1.Admin/Resume"
#define SIGIL_RPC_ADMIN_STATUS "/sigil.v1.Admin/Status"
#define SIGIL_RPC_ADMIN_HEALTH "/sigil.v1.Admin/Health"

/* ---- peer identities ---------------------------------------------------- */

typedef enum {
    SIGIL_RPC_ROLE_NONE = 0,
    SIGIL_RPC_ROLE_NODE,
    SIGIL_RPC_ROLE_COORDINATOR,
    SIGIL_RPC_ROLE_WALLET,
    SIGIL_RPC_ROLE_OFFICER,
    SIGIL_RPC_ROLE_ADMIN,
} sigil_rpc_role;

#define SIGIL_RPC_NAME_MAX 64
#define SIGIL_RPC_URI_MAX 96

typedef struct {
    char uri[SIGIL_RPC_URI_MAX];        /* "sigil://wallet/exchange-a", NUL-terminated */
    sigil_rpc_role role;
    char name[SIGIL_RPC_NAME_MAX + 1];  /* wallet/officer/admin name; node id as text; "" */
    uint32_t node_id;                   /* role NODE: 1..65535; else 0 */
} sigil_rpc_peer;

/* Parse and validate one identity URI of len bytes (not NUL-terminated
 * necessarily). SIGIL_E_ENCODING if it is not exactly one of the forms
 * above; *out is zeroed on failure. */
int sigil_rpc_identity_parse(const char *uri, size_t len, sigil_rpc_peer *out);

/* ---- status codes ------------------------------------------------------- */

/* The gRPC status code (grpc_status_code value) a SIGIL_E_* error maps to:
 * decoding errors -> INVALID_ARGUMENT, TOO_LARGE / NOMEM ->
 * RESOURCE_EXHAUSTED, PERMISSION -> PERMISSION_DENIED, NOT_FOUND,
 * EXISTS / REPLAY -> ALREADY_EXISTS, HALTED / STATE / USED / EXPIRED ->
 * FAILED_PRECONDITION, protocol verification failures -> ABORTED,
 * TIMEOUT -> DEADLINE_EXCEEDED, UNAVAILABLE, and INTERNAL for the rest. */
int sigil_rpc_status_from_err(int err);

/* The SIGIL_E_* code a client reports for a non-OK gRPC status. */
int sigil_rpc_err_from_status(int status);

/* The canonical name of a gRPC status code ("PERMISSION_DENIED"). */
const char *sigil_rpc_status_name(int status);

/* ---- protobuf helpers --------------------------------------------------- */

/* Decode n bytes at p as a message of type desc. The size check comes
 * first: SIGIL_E_TOO_LARGE if n > max. SIGIL_E_ENCODING if protobuf-c
 * cannot unpack it. On success *out must be freed with sigil_rpc_msg_free. */
int sigil_rpc_unpack(const ProtobufCMessageDescriptor *desc, const uint8_t *p, size_t n,
                     size_t max, ProtobufCMessage **out);
void sigil_rpc_msg_free(ProtobufCMessage *m);

/* Append the encoding of m to out (subject to out's maximum). */
int sigil_rpc_pack(const ProtobufCMessage *m, sigil_buf *out);

/* The `key_id` string field of m, or "" when m has none or it is unset.
 * Never NULL. */
const char *sigil_rpc_msg_key_id(const ProtobufCMessage *m);

/* SIGIL_OK if key_id is 1..64 of [A-Za-z0-9._-], else SIGIL_E_ENCODING. */
int sigil_rpc_key_id_check(const char *key_id);

/* ---- authorization ------------------------------------------------------ */

typedef struct sigil_rpc_authz sigil_rpc_authz;

int sigil_rpc_authz_new(sigil_rpc_authz **out);
void sigil_rpc_authz_free(sigil_rpc_authz *a);

/* Add a rule: the identity may call the method on the key. Each pattern is
 * either an exact string or a prefix followed by a single trailing '*'
 * (so "sigil://wallet/" + '*' matches every wallet, "/sigil.v1.Wallet/" + '*'
 * every wallet method, "hot-" + '*' every key named hot-...; "*" alone
 * matches everything, including the empty key of key-less requests). Rules only
 * allow; there is no deny. Not thread-safe against concurrent checks: build
 * the table before the server starts. SIGIL_E_INVALID on NULL / empty /
 * misplaced '*' patterns. */
int sigil_rpc_authz_allow(sigil_rpc_authz *a, const char *identity, const char *method,
                          const char *key);

/* SIGIL_OK if some rule matches all three, SIGIL_E_PERMISSION otherwise. */
int sigil_rpc_authz_check(const sigil_rpc_authz *a, const char *identity, const char *method,
                          const char *key);

/* ---- TLS material -------------------------------------------------------- */

typedef struct {
    const char *ca_file;   /* PEM CA certificate(s) that peers must chain to */
    const char *cert_file; /* PEM certificate (chain) of this party */
    const char *key_file;  /* PEM private key of this party */
} sigil_rpc_tls;

/* ---- server -------------------------------------------------------------- */

/* One call as a handler sees it. The handler reads peer, method, key_id and
 * req (the decoded request; NULL when the method was added without a
 * descriptor, then only req_bytes), appends the packed response to resp and
 * returns SIGIL_OK, or returns a SIGIL_E_* code and may write a short,
 * secret-free explanation into detail (otherwise sigil_strerror is sent). */
typedef struct {
    const sigil_rpc_peer *peer;
    const char *method;           /* "/sigil.v1.Wallet/Sign" */
    const char *key_id;           /* authorized key, "" if none */
    const ProtobufCMessage *req;
    const uint8_t *req_bytes;
    size_t req_len;
    sigil_buf *resp;              /* writable, max = server max_message */
    unsigned timeout_ms;          /* time left before the caller's deadline when
                                     the handler starts (UINT_MAX: no deadline);
                                     use it for nested calls */
    char detail[256];
} sigil_rpc_call;

typedef int (*sigil_rpc_handler)(void *ctx, sigil_rpc_call *call);

/* DEFERRED CALLS. A handler that returns SIGIL_RPC_DEFERRED keeps the call:
 * nothing is sent, the handler's thread goes back to serving, and the
 * call's owner (whoever holds the pointer) answers it later, from any
 * thread, with sigil_rpc_call_finish.
 *   - Lifetime: the sigil_rpc_call and everything it points to (peer,
 *     method, key_id, req, req_bytes, resp) stay valid and unchanged by the
 *     server until sigil_rpc_call_finish returns, and not a moment longer:
 *     the call must not be touched after finish.
 *   - Exactly once: every deferred call must be finished exactly once
 *     (finishing twice, or a call that was not deferred, is undefined).
 *     Before finish the owner may write resp and detail as a handler does.
 *   - The client going away (cancel, deadline, closed connection) does not
 *     end the call on the server side: the owner still finishes it; the
 *     answer is then discarded by gRPC. timeout_ms tells how long the
 *     caller meant to wait, from the handler's start.
 *   - Shutdown: sigil_rpc_server_free cancels every call in flight (clients
 *     see CANCELLED or UNAVAILABLE) and then WAITS until every deferred
 *     call has been finished, so the owner must finish each one in bounded
 *     time, e.g. from the handler thread that deferred it or from a thread
 *     that outlives the server. No call is leaked or freed under its owner.
 * SIGIL_RPC_DEFERRED is positive, so no SIGIL_E_* code is mistaken for it. */
#define SIGIL_RPC_DEFERRED 1

/* Answer a deferred call: rc SIGIL_OK sends the bytes in call->resp with
 * status OK; a SIGIL_E_* code sends its mapped status with call->detail (or
 * sigil_strerror(rc) when detail is empty), exactly as if a handler had
 * returned rc. Thread-safe across calls; the call is released here (its
 * memory is freed once gRPC has sent the answer). */
void sigil_rpc_call_finish(sigil_rpc_call *call, int rc);

typedef struct {
    const char *listen;           /* "127.0.0.1:0" (0: ephemeral port), "[::]:7443" */
    sigil_rpc_tls tls;
    const sigil_rpc_authz *authz; /* required; borrowed, must outlive the server */
    size_t max_message;           /* 0: SIGIL_RPC_MAX_MESSAGE_DEFAULT */
    unsigned threads;             /* 0: 4 */
} sigil_rpc_server_config;

typedef struct sigil_rpc_server sigil_rpc_server;

/* Create a server: reads the TLS files, makes the mTLS credentials. */
int sigil_rpc_server_new(const sigil_rpc_server_config *cfg, sigil_rpc_server **out);

/* Register a unary method before start. req_desc: the request type (the
 * glue decodes it and passes it to the handler), or NULL for raw bytes.
 * max_request: per-method request size limit (0: max_message).
 * SIGIL_E_EXISTS for a duplicate method, SIGIL_E_STATE after start. */
int sigil_rpc_server_add(sigil_rpc_server *s, const char *method,
                         const ProtobufCMessageDescriptor *req_desc, size_t max_request,
                         sigil_rpc_handler handler, void *ctx);

/* Bind, start the threads and serve. *port (if non-NULL) gets the bound
 * port. SIGIL_E_IO if the address cannot be bound. Unknown methods get
 * UNIMPLEMENTED. */
int sigil_rpc_server_start(sigil_rpc_server *s, int *port);

/* Stop: refuse new calls, cancel the ones in flight, wait for every deferred
 * call to be finished (see DEFERRED CALLS), join the threads and release
 * everything. Safe on NULL and on a server never started. */
void sigil_rpc_server_free(sigil_rpc_server *s);

/* ---- client -------------------------------------------------------------- */

typedef struct {
    const char *target;           /* "127.0.0.1:7443", "node1.example:7443" */
    sigil_rpc_tls tls;
    const char *expect_identity;  /* if set, the server's certificate must carry
                                     exactly this sigil:// URI SAN, checked during
                                     the handshake before any request is sent */
    const char *server_name;      /* TLS host name to check instead of the
                                     target's host (NULL: the target's) */
    size_t max_message;           /* 0: SIGIL_RPC_MAX_MESSAGE_DEFAULT */
} sigil_rpc_client_config;

typedef struct sigil_rpc_client sigil_rpc_client;

/* The outcome of a call as gRPC reported it. */
typedef struct {
    int code;                     /* grpc_status_code; 0 = OK */
    char detail[256];             /* server's status message, printable ASCII */
} sigil_rpc_status;

int sigil_rpc_client_new(const sigil_rpc_client_config *cfg, sigil_rpc_client **out);
void sigil_rpc_client_free(sigil_rpc_client *c);
/* Forget the channel's reconnect back-off (grpc_channel_reset_connect_backoff):
 * the next call tries to connect at once, e.g. to a node an operator just
 * restarted. Thread-safe; no-op on NULL. */
void sigil_rpc_client_reset_backoff(sigil_rpc_client *c);

/* One unary call with a deadline of timeout_ms from now. On SIGIL_OK the
 * response bytes are appended to resp. Otherwise the gRPC status is mapped
 * with sigil_rpc_err_from_status (DEADLINE_EXCEEDED -> SIGIL_E_TIMEOUT,
 * ...), and st (if non-NULL) gets the code and detail. Thread-safe. */
int sigil_rpc_call_unary(sigil_rpc_client *c, const char *method, const uint8_t *req,
                         size_t req_len, sigil_buf *resp, unsigned timeout_ms,
                         sigil_rpc_status *st);

/* Completion of an asynchronous call: rc and st as for sigil_rpc_call_unary;
 * on SIGIL_OK the response is the len bytes at resp, valid only during the
 * callback. */
typedef void (*sigil_rpc_done)(void *arg, int rc, const sigil_rpc_status *st,
                               const uint8_t *resp, size_t len);

/* Start one unary call and return at once; done(arg, ...) runs exactly once,
 * on the client's completion thread (so it must not block for long; it may
 * start further calls). Use it to fan one request out to several servers
 * without a thread per call. On a non-OK return done never runs. Every
 * pending call completes (or reaches its deadline) before
 * sigil_rpc_client_free returns. Thread-safe. */
int sigil_rpc_call_start(sigil_rpc_client *c, const char *method, const uint8_t *req,
                         size_t req_len, unsigned timeout_ms, sigil_rpc_done done, void *arg);

/* The same unary call to n servers at once (clients[i] gets the req_lens[i]
 * bytes at reqs[i]), waited for in the calling thread: the calls share one
 * completion queue that this thread polls until every one has completed or
 * reached its deadline, so no other thread is woken. rcs[i] and st[i] (may
 * be NULL) as for sigil_rpc_call_unary; on SIGIL_OK the response bytes are
 * appended to resps[i] (resps may be NULL: responses dropped). n <= 64.
 * Thread-safe. */
int sigil_rpc_call_multi(sigil_rpc_client *const *clients, size_t n, const char *method,
                         const uint8_t *const *reqs, const size_t *req_lens, sigil_buf *resps,
                         unsigned timeout_ms, int *rcs, sigil_rpc_status *st);

/* Pack req, call, unpack the response as resp_desc (size-checked against
 * the client's max_message). On SIGIL_OK free *resp with sigil_rpc_msg_free. */
int sigil_rpc_call_msg(sigil_rpc_client *c, const char *method, const ProtobufCMessage *req,
                       const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
                       unsigned timeout_ms, sigil_rpc_status *st);

#endif
