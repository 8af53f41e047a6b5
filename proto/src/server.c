/* The server: one completion queue served by a few threads. Every method of
 * the handler table is registered with gRPC (payload read with the call);
 * unknown methods are caught by generic requests and answered UNIMPLEMENTED.
 *
 * Per call: request event -> repost a request for the method -> identity
 * from the peer certificate -> size check -> decode -> authorization ->
 * handler -> one batch (initial metadata, message, status, recv close) ->
 * completion event -> free. A deferred call (the handler returned
 * SIGIL_RPC_DEFERRED) keeps its context, with the decoded request and the
 * response buffer, until sigil_rpc_call_finish starts the same batch; the
 * context counts as live, so the queue is not shut down (and
 * sigil_rpc_server_free does not return) before it is finished. */
#include "internal.h"

#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/support/time.h>

#include "sigil/err.h"

typedef struct {
    char *name;
    const ProtobufCMessageDescriptor *desc;
    size_t max_request;
    sigil_rpc_handler handler;
    void *ctx;
    void *reg; /* gRPC's registered-method handle */
} method;

struct sigil_rpc_server {
    char *listen;
    const sigil_rpc_authz *authz;
    size_t max_message;
    unsigned nthreads;
    unsigned per_method; /* outstanding requests per method */
    grpc_server_credentials *creds;
    grpc_server *server;
    grpc_completion_queue *cq;
    method *methods;
    size_t nmethods, cap;
    pthread_t *threads;
    unsigned started_threads;
    int started;
    pthread_rwlock_t lock; /* stopping is written under the write lock */
    int stopping;
    int shutdown_tag;
    /* The queue is shut down only when gRPC has confirmed the server
     * shutdown AND no call context is alive any more, so no thread can start
     * a batch on a queue that is already shut down. */
    atomic_long live;          /* call contexts allocated and not yet freed */
    atomic_int shutdown_seen;  /* the shutdown_and_notify tag arrived */
    atomic_int cq_shut;
};

typedef struct {
    sigil_rpc_server *srv;
    method *m; /* NULL: a generic request (unknown method) */
    int finishing;
    grpc_call *call_h;
    gpr_timespec deadline;
    grpc_call_details details; /* generic requests only */
    grpc_metadata_array md;
    grpc_byte_buffer *payload;
    grpc_byte_buffer *resp;
    grpc_slice status_details;
    int cancelled;
    /* what the handler sees; kept until the answer is sent (deferred calls) */
    sigil_rpc_call call;
    sigil_rpc_peer peer;
    ProtobufCMessage *msg;
    grpc_slice req;
    sigil_buf out;
} call_ctx;

/* The request and response buffer of c: no longer needed once the answer is
 * packed. Idempotent. */
static void ctx_release_request(call_ctx *c)
{
    sigil_rpc_msg_free(c->msg);
    c->msg = NULL;
    grpc_slice_unref(c->req);
    c->req = grpc_empty_slice();
    sigil_buf_free(&c->out);
}

static void cq_shutdown_once(sigil_rpc_server *s)
{
    if (atomic_exchange(&s->cq_shut, 1) == 0)
        grpc_completion_queue_shutdown(s->cq);
}

static void ctx_free(call_ctx *c)
{
    sigil_rpc_server *s;

    if (!c)
        return;
    s = c->srv;
    if (c->call_h)
        grpc_call_unref(c->call_h);
    if (!c->m)
        grpc_call_details_destroy(&c->details);
    grpc_metadata_array_destroy(&c->md);
    if (c->payload)
        grpc_byte_buffer_destroy(c->payload);
    if (c->resp)
        grpc_byte_buffer_destroy(c->resp);
    grpc_slice_unref(c->status_details);
    ctx_release_request(c);
    free(c);
    if (atomic_fetch_sub(&s->live, 1) == 1 && atomic_load(&s->shutdown_seen))
        cq_shutdown_once(s);
}

/* Ask gRPC for the next call of method m (NULL: any unregistered method).
 * Never after stop has begun. */
static int post(sigil_rpc_server *s, method *m)
{
    call_ctx *c;
    grpc_call_error e;
    int rc = SIGIL_OK;

    pthread_rwlock_rdlock(&s->lock);
    if (s->stopping) {
        pthread_rwlock_unlock(&s->lock);
        return SIGIL_E_STATE;
    }
    if (!(c = calloc(1, sizeof(*c)))) {
        pthread_rwlock_unlock(&s->lock);
        return SIGIL_E_NOMEM;
    }
    atomic_fetch_add(&s->live, 1);
    c->srv = s;
    c->m = m;
    c->status_details = grpc_empty_slice();
    c->req = grpc_empty_slice();
    sigil_buf_init(&c->out, s->max_message, 0);
    grpc_metadata_array_init(&c->md);
    if (m) {
        e = grpc_server_request_registered_call(s->server, m->reg, &c->call_h, &c->deadline,
                                                &c->md, &c->payload, s->cq, s->cq, c);
    } else {
        grpc_call_details_init(&c->details);
        e = grpc_server_request_call(s->server, &c->call_h, &c->details, &c->md, s->cq, s->cq, c);
    }
    if (e != GRPC_CALL_OK) {
        ctx_free(c);
        rc = SIGIL_E_IO;
    }
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

static unsigned timeout_left(gpr_timespec deadline)
{
    gpr_timespec now, left;
    int64_t ms;

    if (gpr_time_cmp(deadline, gpr_inf_future(deadline.clock_type)) == 0)
        return UINT_MAX;
    now = gpr_now(deadline.clock_type);
    if (gpr_time_cmp(deadline, now) <= 0)
        return 0;
    left = gpr_time_sub(deadline, now);
    ms = gpr_time_to_millis(left);
    return ms >= (int64_t)UINT_MAX ? UINT_MAX - 1 : (unsigned)ms;
}

/* The gRPC status and detail for a handler's result err. */
static int outcome(sigil_rpc_call *call, int err, char *detail, size_t detail_len)
{
    if (err == SIGIL_RPC_DEFERRED) /* not an answer: misuse of finish */
        err = SIGIL_E_STATE;
    if (err != SIGIL_OK) {
        call->detail[sizeof(call->detail) - 1] = '\0';
        snprintf(detail, detail_len, "%s", call->detail[0] ? call->detail : sigil_strerror(err));
    }
    return sigil_rpc_status_from_err(err);
}

/* Decide the call and produce (status, detail, response in c->out), or
 * return -1 when the handler deferred it. */
static int serve(call_ctx *c, char *detail, size_t detail_len)
{
    sigil_rpc_server *s = c->srv;
    method *m = c->m;
    sigil_rpc_call *call = &c->call;
    grpc_byte_buffer_reader reader;
    const char *key = "";
    size_t n;
    int err;

    if (!m) {
        snprintf(detail, detail_len, "unknown method");
        return GRPC_STATUS_UNIMPLEMENTED;
    }
    if (rpc_peer_from_call(c->call_h, &c->peer) != SIGIL_OK) {
        snprintf(detail, detail_len,
                 "client certificate carries no valid sigil:// identity (exactly one URI SAN)");
        return GRPC_STATUS_UNAUTHENTICATED;
    }
    if (!c->payload || !grpc_byte_buffer_reader_init(&reader, c->payload)) {
        snprintf(detail, detail_len, "request message missing");
        return GRPC_STATUS_INVALID_ARGUMENT;
    }
    c->req = grpc_byte_buffer_reader_readall(&reader);
    grpc_byte_buffer_reader_destroy(&reader);
    n = GRPC_SLICE_LENGTH(c->req);
    if (n > m->max_request) {
        snprintf(detail, detail_len, "request of %zu bytes exceeds the limit of %zu for %s", n,
                 m->max_request, m->name);
        return GRPC_STATUS_RESOURCE_EXHAUSTED;
    }
    if (m->desc) {
        err = sigil_rpc_unpack(m->desc, GRPC_SLICE_START_PTR(c->req), n, m->max_request, &c->msg);
        if (err != SIGIL_OK) {
            snprintf(detail, detail_len, "request is not a valid %s", m->desc->name);
            return sigil_rpc_status_from_err(err == SIGIL_E_TOO_LARGE ? err : SIGIL_E_ENCODING);
        }
        key = sigil_rpc_msg_key_id(c->msg);
        if (*key && sigil_rpc_key_id_check(key) != SIGIL_OK) {
            snprintf(detail, detail_len, "malformed key_id (1..64 of [A-Za-z0-9._-])");
            return GRPC_STATUS_INVALID_ARGUMENT;
        }
    }
    if (sigil_rpc_authz_check(s->authz, c->peer.uri, m->name, key) != SIGIL_OK) {
        snprintf(detail, detail_len, "%s may not call %s on key '%s'", c->peer.uri, m->name, key);
        return GRPC_STATUS_PERMISSION_DENIED;
    }

    memset(call, 0, sizeof(*call));
    call->peer = &c->peer;
    call->method = m->name;
    call->key_id = key;
    call->req = c->msg;
    call->req_bytes = GRPC_SLICE_START_PTR(c->req);
    call->req_len = n;
    call->resp = &c->out;
    call->timeout_ms = timeout_left(c->deadline);
    err = m->handler(m->ctx, call);
    if (err == SIGIL_RPC_DEFERRED)
        return -1;
    return outcome(call, err, detail, detail_len);
}

/* Send the answer: one batch (initial metadata, message if OK, status,
 * recv close); its completion event frees the context. */
static void reply(call_ctx *c, int status, const char *detail)
{
    grpc_op ops[4];
    size_t n = 0;

    if (status == GRPC_STATUS_OK) {
        grpc_slice sl = grpc_slice_from_copied_buffer((const char *)sigil_buf_ptr(&c->out),
                                                      sigil_buf_len(&c->out));
        c->resp = grpc_raw_byte_buffer_create(&sl, 1);
        grpc_slice_unref(sl);
    }
    ctx_release_request(c);
    c->status_details = grpc_slice_from_copied_string(detail);

    memset(ops, 0, sizeof(ops));
    ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[n++].data.recv_close_on_server.cancelled = &c->cancelled;
    if (c->resp) {
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = c->resp;
    }
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = (grpc_status_code)status;
    ops[n++].data.send_status_from_server.status_details = &c->status_details;
    c->finishing = 1;
    if (grpc_call_start_batch(c->call_h, ops, n, c, NULL) != GRPC_CALL_OK)
        ctx_free(c);
}

static void handle(call_ctx *c)
{
    char detail[320] = "";
    int status = serve(c, detail, sizeof(detail));

    if (status >= 0)
        reply(c, status, detail);
}

void sigil_rpc_call_finish(sigil_rpc_call *call, int rc)
{
    call_ctx *c;
    char detail[320] = "";
    int status;

    if (!call)
        return;
    c = (call_ctx *)(void *)((char *)call - offsetof(call_ctx, call));
    status = outcome(call, rc, detail, sizeof(detail));
    reply(c, status, detail);
}

static void *loop(void *arg)
{
    sigil_rpc_server *s = arg;

    for (;;) {
        grpc_event ev = grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        call_ctx *c;

        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (ev.type != GRPC_OP_COMPLETE)
            continue;
        if (ev.tag == &s->shutdown_tag) {
            atomic_store(&s->shutdown_seen, 1);
            if (atomic_load(&s->live) == 0)
                cq_shutdown_once(s);
            continue;
        }
        c = ev.tag;
        if (c->finishing || !ev.success) {
            ctx_free(c); /* call done, or request failed because we are stopping */
            continue;
        }
        post(s, c->m); /* keep the same number of requests outstanding */
        handle(c);
    }
    return NULL;
}

int sigil_rpc_server_new(const sigil_rpc_server_config *cfg, sigil_rpc_server **out)
{
    sigil_rpc_server *s;
    char *ca = NULL, *cert = NULL, *key = NULL;
    grpc_ssl_pem_key_cert_pair pair;
    int rc;

    if (!out)
        return SIGIL_E_INVALID;
    *out = NULL;
    if (!cfg || !cfg->listen || !cfg->authz || cfg->max_message > SIGIL_RPC_MAX_MESSAGE_LIMIT ||
        cfg->threads > 256)
        return SIGIL_E_INVALID;
    if (!(s = calloc(1, sizeof(*s))))
        return SIGIL_E_NOMEM;
    if (!(s->listen = strdup(cfg->listen))) {
        free(s);
        return SIGIL_E_NOMEM;
    }
    s->authz = cfg->authz;
    s->max_message = cfg->max_message ? cfg->max_message : SIGIL_RPC_MAX_MESSAGE_DEFAULT;
    s->nthreads = cfg->threads ? cfg->threads : 4;
    s->per_method = s->nthreads * 2 < 8 ? 8 : s->nthreads * 2;
    pthread_rwlock_init(&s->lock, NULL);
    rpc_lib_ref();

    if ((rc = rpc_pem_read(cfg->tls.ca_file, &ca)) != SIGIL_OK ||
        (rc = rpc_pem_read(cfg->tls.cert_file, &cert)) != SIGIL_OK ||
        (rc = rpc_pem_read(cfg->tls.key_file, &key)) != SIGIL_OK)
        goto fail;
    pair.private_key = key;
    pair.cert_chain = cert;
    s->creds = grpc_ssl_server_credentials_create_ex(
        ca, &pair, 1, GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY, NULL);
    if (!s->creds) {
        rc = SIGIL_E_CRYPTO;
        goto fail;
    }
    rpc_pem_free(ca);
    rpc_pem_free(cert);
    rpc_pem_free(key);
    *out = s;
    return SIGIL_OK;
fail:
    rpc_pem_free(ca);
    rpc_pem_free(cert);
    rpc_pem_free(key);
    sigil_rpc_server_free(s);
    return rc;
}

int sigil_rpc_server_add(sigil_rpc_server *s, const char *name,
                         const ProtobufCMessageDescriptor *req_desc, size_t max_request,
                         sigil_rpc_handler handler, void *ctx)
{
    method *m;

    if (!s || !name || name[0] != '/' || !handler ||
        (req_desc && req_desc->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC))
        return SIGIL_E_INVALID;
    if (s->started)
        return SIGIL_E_STATE;
    for (size_t i = 0; i < s->nmethods; i++)
        if (!strcmp(s->methods[i].name, name))
            return SIGIL_E_EXISTS;
    if (s->nmethods == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        method *nm = realloc(s->methods, cap * sizeof(*nm));
        if (!nm)
            return SIGIL_E_NOMEM;
        s->methods = nm;
        s->cap = cap;
    }
    m = &s->methods[s->nmethods];
    memset(m, 0, sizeof(*m));
    if (!(m->name = strdup(name)))
        return SIGIL_E_NOMEM;
    m->desc = req_desc;
    m->max_request = max_request && max_request < s->max_message ? max_request : s->max_message;
    m->handler = handler;
    m->ctx = ctx;
    s->nmethods++;
    return SIGIL_OK;
}

int sigil_rpc_server_start(sigil_rpc_server *s, int *port)
{
    rpc_args args;
    int p;

    if (!s)
        return SIGIL_E_INVALID;
    if (s->started || s->server)
        return SIGIL_E_STATE;
    rpc_args_init(&args, s->max_message, NULL, 1);
    if (!(s->server = grpc_server_create(&args.args, NULL)))
        return SIGIL_E_NOMEM;
    s->cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(s->server, s->cq, NULL);
    for (size_t i = 0; i < s->nmethods; i++) {
        s->methods[i].reg = grpc_server_register_method(
            s->server, s->methods[i].name, NULL, GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
        if (!s->methods[i].reg)
            goto fail;
    }
    if (!(p = grpc_server_add_http2_port(s->server, s->listen, s->creds)))
        goto fail;
    grpc_server_start(s->server);
    s->started = 1;
    for (size_t i = 0; i < s->nmethods; i++)
        for (unsigned k = 0; k < s->per_method; k++)
            if (post(s, &s->methods[i]) != SIGIL_OK)
                return SIGIL_E_NOMEM; /* the server is stopped by _free */
    for (unsigned k = 0; k < 2; k++)
        if (post(s, NULL) != SIGIL_OK)
            return SIGIL_E_NOMEM;
    if (!(s->threads = calloc(s->nthreads, sizeof(*s->threads))))
        return SIGIL_E_NOMEM;
    for (; s->started_threads < s->nthreads; s->started_threads++)
        if (pthread_create(&s->threads[s->started_threads], NULL, loop, s) != 0)
            return SIGIL_E_NOMEM;
    if (port)
        *port = p;
    return SIGIL_OK;
fail:
    grpc_server_destroy(s->server);
    s->server = NULL;
    grpc_completion_queue_shutdown(s->cq);
    while (grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(s->cq);
    s->cq = NULL;
    return SIGIL_E_IO;
}

void sigil_rpc_server_free(sigil_rpc_server *s)
{
    if (!s)
        return;
    if (s->started) {
        pthread_rwlock_wrlock(&s->lock);
        s->stopping = 1;
        pthread_rwlock_unlock(&s->lock);
        grpc_server_shutdown_and_notify(s->server, s->cq, &s->shutdown_tag);
        grpc_server_cancel_all_calls(s->server);
        if (s->started_threads == 0) {
            loop(s); /* no thread to drain the queue: do it here */
        }
        for (unsigned i = 0; i < s->started_threads; i++)
            pthread_join(s->threads[i], NULL);
        grpc_server_destroy(s->server);
        grpc_completion_queue_destroy(s->cq);
    }
    for (size_t i = 0; i < s->nmethods; i++)
        free(s->methods[i].name);
    free(s->methods);
    free(s->threads);
    if (s->creds)
        grpc_server_credentials_release(s->creds);
    free(s->listen);
    pthread_rwlock_destroy(&s->lock);
    free(s);
    rpc_lib_unref();
}
