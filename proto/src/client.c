/* The client: one secure channel shared by every thread, one blocking
 * unary call helper and its asynchronous twin. A blocking call runs on a
 * completion queue of its own (taken from a small cache), so calls from
 * different threads never wait on each other except inside gRPC; async
 * calls share one queue served by one completion thread. */
#include "internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/support/time.h>

#include "sigil/err.h"

#define CLIENT_METHODS_MAX 64
#define CLIENT_CQ_CACHE 64

struct sigil_rpc_client {
    grpc_channel *ch;
    size_t max_message;
    pthread_mutex_t mu;
    size_t nmethods;
    struct {
        char *name;
        void *reg;
    } methods[CLIENT_METHODS_MAX];
    /* Idle completion queues, reused by later calls (a queue serves one
     * call at a time; it is idle again once that call's batch completed). */
    size_t ncq;
    grpc_completion_queue *cqs[CLIENT_CQ_CACHE];
    /* Async calls: one queue and one thread that runs their callbacks,
     * both made on the first sigil_rpc_call_start. */
    grpc_completion_queue *async_cq;
    pthread_t async_thread;
};

static void cq_destroy(grpc_completion_queue *cq)
{
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(cq);
}

static grpc_completion_queue *cq_get(sigil_rpc_client *c)
{
    grpc_completion_queue *cq = NULL;

    pthread_mutex_lock(&c->mu);
    if (c->ncq)
        cq = c->cqs[--c->ncq];
    pthread_mutex_unlock(&c->mu);
    return cq ? cq : grpc_completion_queue_create_for_next(NULL);
}

static void cq_put(sigil_rpc_client *c, grpc_completion_queue *cq)
{
    pthread_mutex_lock(&c->mu);
    if (c->ncq < CLIENT_CQ_CACHE) {
        c->cqs[c->ncq++] = cq;
        cq = NULL;
    }
    pthread_mutex_unlock(&c->mu);
    if (cq)
        cq_destroy(cq);
}

/* Handshake-time check of the server's identity (before any request is
 * sent). Returns non-zero to fail the handshake. */
static int verify_server(const char *target_name, const char *peer_pem, void *userdata)
{
    sigil_rpc_peer peer;
    (void)target_name;
    if (rpc_peer_from_pem(peer_pem, &peer) != SIGIL_OK)
        return 1;
    return strcmp(peer.uri, (const char *)userdata) != 0;
}

int sigil_rpc_client_new(const sigil_rpc_client_config *cfg, sigil_rpc_client **out)
{
    sigil_rpc_client *c;
    char *ca = NULL, *cert = NULL, *key = NULL, *expect = NULL;
    grpc_ssl_pem_key_cert_pair pair;
    grpc_ssl_verify_peer_options vo;
    grpc_channel_credentials *creds;
    sigil_rpc_peer tmp;
    rpc_args args;
    int rc;

    if (!out)
        return SIGIL_E_INVALID;
    *out = NULL;
    if (!cfg || !cfg->target || cfg->max_message > SIGIL_RPC_MAX_MESSAGE_LIMIT)
        return SIGIL_E_INVALID;
    if (cfg->expect_identity &&
        sigil_rpc_identity_parse(cfg->expect_identity, strlen(cfg->expect_identity), &tmp) != 0)
        return SIGIL_E_INVALID;
    if (!(c = calloc(1, sizeof(*c))))
        return SIGIL_E_NOMEM;
    pthread_mutex_init(&c->mu, NULL);
    c->max_message = cfg->max_message ? cfg->max_message : SIGIL_RPC_MAX_MESSAGE_DEFAULT;
    rpc_lib_ref();

    if ((rc = rpc_pem_read(cfg->tls.ca_file, &ca)) != SIGIL_OK ||
        (rc = rpc_pem_read(cfg->tls.cert_file, &cert)) != SIGIL_OK ||
        (rc = rpc_pem_read(cfg->tls.key_file, &key)) != SIGIL_OK)
        goto fail;
    memset(&vo, 0, sizeof(vo));
    if (cfg->expect_identity) {
        if (!(expect = strdup(cfg->expect_identity))) {
            rc = SIGIL_E_NOMEM;
            goto fail;
        }
        vo.verify_peer_callback = verify_server;
        vo.verify_peer_callback_userdata = expect;
        vo.verify_peer_destruct = free;
    }
    pair.private_key = key;
    pair.cert_chain = cert;
    creds = grpc_ssl_credentials_create_ex(ca, &pair, &vo, NULL);
    if (!creds) {
        free(expect);
        rc = SIGIL_E_CRYPTO;
        goto fail;
    }
    rpc_args_init(&args, c->max_message, cfg->server_name, 0);
    c->ch = grpc_channel_create(cfg->target, creds, &args.args);
    grpc_channel_credentials_release(creds); /* the channel holds its own ref (and expect) */
    if (!c->ch) {
        rc = SIGIL_E_IO;
        goto fail;
    }
    rpc_pem_free(ca);
    rpc_pem_free(cert);
    rpc_pem_free(key);
    *out = c;
    return SIGIL_OK;
fail:
    rpc_pem_free(ca);
    rpc_pem_free(cert);
    rpc_pem_free(key);
    sigil_rpc_client_free(c);
    return rc;
}

void sigil_rpc_client_free(sigil_rpc_client *c)
{
    if (!c)
        return;
    if (c->async_cq) {
        /* Pending async calls complete (or reach their deadline) first. */
        grpc_completion_queue_shutdown(c->async_cq);
        pthread_join(c->async_thread, NULL);
        grpc_completion_queue_destroy(c->async_cq);
    }
    for (size_t i = 0; i < c->ncq; i++)
        cq_destroy(c->cqs[i]);
    if (c->ch)
        grpc_channel_destroy(c->ch);
    for (size_t i = 0; i < c->nmethods; i++)
        free(c->methods[i].name);
    pthread_mutex_destroy(&c->mu);
    free(c);
    rpc_lib_unref();
}

/* The channel's registered-call handle for a method (registered once). */
static void *method_handle(sigil_rpc_client *c, const char *method)
{
    void *reg = NULL;

    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->nmethods; i++)
        if (!strcmp(c->methods[i].name, method)) {
            reg = c->methods[i].reg;
            break;
        }
    if (!reg && c->nmethods < CLIENT_METHODS_MAX) {
        char *name = strdup(method);
        if (name) {
            reg = grpc_channel_register_call(c->ch, name, NULL, NULL);
            c->methods[c->nmethods].name = name;
            c->methods[c->nmethods++].reg = reg;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return reg;
}

static void status_set(sigil_rpc_status *st, int code, const char *p, size_t n)
{
    size_t k = 0;

    if (!st)
        return;
    st->code = code;
    for (size_t i = 0; i < n && k + 1 < sizeof(st->detail); i++)
        st->detail[k++] = (p[i] >= 0x20 && p[i] < 0x7f) ? p[i] : '?';
    st->detail[k] = '\0';
}

/* One unary call in flight: everything its single batch refers to. */
typedef struct pending {
    grpc_call *call;
    grpc_byte_buffer *send, *recv;
    grpc_metadata_array md_init, md_trail;
    grpc_status_code status;
    grpc_slice details;
    grpc_op ops[6];
    /* async calls only */
    sigil_rpc_client *client;
    sigil_rpc_done done;
    void *arg;
} pending;

static int check_args(sigil_rpc_client *c, const char *method, const uint8_t *req,
                      size_t req_len, unsigned timeout_ms, void **reg)
{
    if (!c || !method || method[0] != '/' || (!req && req_len) || !timeout_ms)
        return SIGIL_E_INVALID;
    if (req_len > c->max_message)
        return SIGIL_E_TOO_LARGE;
    if (!(*reg = method_handle(c, method)))
        return SIGIL_E_NOMEM;
    return SIGIL_OK;
}

/* Create the call on cq and start its one batch with tag. On failure
 * everything is released and SIGIL_E_IO returned. */
static int pending_start(sigil_rpc_client *c, pending *p, grpc_completion_queue *cq, void *reg,
                         const uint8_t *req, size_t req_len, unsigned timeout_ms, void *tag)
{
    gpr_timespec deadline;
    grpc_slice sl;

    p->status = GRPC_STATUS_UNKNOWN;
    p->details = grpc_empty_slice();
    p->recv = NULL;
    deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                            gpr_time_from_millis((int64_t)timeout_ms, GPR_TIMESPAN));
    p->call = grpc_channel_create_registered_call(c->ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, reg,
                                                  deadline, NULL);
    sl = grpc_slice_from_copied_buffer((const char *)(req ? req : (const uint8_t *)""), req_len);
    p->send = grpc_raw_byte_buffer_create(&sl, 1);
    grpc_slice_unref(sl);
    grpc_metadata_array_init(&p->md_init);
    grpc_metadata_array_init(&p->md_trail);

    memset(p->ops, 0, sizeof(p->ops));
    p->ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    p->ops[1].op = GRPC_OP_SEND_MESSAGE;
    p->ops[1].data.send_message.send_message = p->send;
    p->ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    p->ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    p->ops[3].data.recv_initial_metadata.recv_initial_metadata = &p->md_init;
    p->ops[4].op = GRPC_OP_RECV_MESSAGE;
    p->ops[4].data.recv_message.recv_message = &p->recv;
    p->ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    p->ops[5].data.recv_status_on_client.trailing_metadata = &p->md_trail;
    p->ops[5].data.recv_status_on_client.status = &p->status;
    p->ops[5].data.recv_status_on_client.status_details = &p->details;
    if (grpc_call_start_batch(p->call, p->ops, 6, tag, NULL) != GRPC_CALL_OK) {
        grpc_call_unref(p->call);
        grpc_byte_buffer_destroy(p->send);
        grpc_metadata_array_destroy(&p->md_init);
        grpc_metadata_array_destroy(&p->md_trail);
        return SIGIL_E_IO;
    }
    return SIGIL_OK;
}

/* The batch completed (success = the event's flag): the outcome, the
 * response bytes in *resp (a slice the caller unrefs; empty unless
 * SIGIL_OK), and everything else released. */
static int pending_finish(pending *p, int success, grpc_slice *resp, sigil_rpc_status *st)
{
    int rc;

    *resp = grpc_empty_slice();
    if (!success) {
        rc = SIGIL_E_IO;
        status_set(st, GRPC_STATUS_INTERNAL, "call failed", 11);
    } else {
        status_set(st, p->status, (const char *)GRPC_SLICE_START_PTR(p->details),
                   GRPC_SLICE_LENGTH(p->details));
        if (p->status != GRPC_STATUS_OK) {
            rc = sigil_rpc_err_from_status(p->status);
        } else if (!p->recv) {
            rc = SIGIL_E_ENCODING;
            status_set(st, GRPC_STATUS_INTERNAL, "response message missing", 24);
        } else {
            grpc_byte_buffer_reader r;
            if (grpc_byte_buffer_reader_init(&r, p->recv)) {
                *resp = grpc_byte_buffer_reader_readall(&r);
                grpc_byte_buffer_reader_destroy(&r);
                rc = SIGIL_OK;
            } else {
                rc = SIGIL_E_ENCODING;
            }
        }
    }
    grpc_call_unref(p->call);
    grpc_byte_buffer_destroy(p->send);
    if (p->recv)
        grpc_byte_buffer_destroy(p->recv);
    grpc_slice_unref(p->details);
    grpc_metadata_array_destroy(&p->md_init);
    grpc_metadata_array_destroy(&p->md_trail);
    return rc;
}

int sigil_rpc_call_unary(sigil_rpc_client *c, const char *method, const uint8_t *req,
                         size_t req_len, sigil_buf *resp, unsigned timeout_ms,
                         sigil_rpc_status *st)
{
    grpc_completion_queue *cq;
    grpc_event ev;
    grpc_slice out;
    pending p;
    void *reg;
    int rc;

    if (st)
        status_set(st, GRPC_STATUS_UNKNOWN, "", 0);
    if (!resp)
        return SIGIL_E_INVALID;
    if ((rc = check_args(c, method, req, req_len, timeout_ms, &reg)) != SIGIL_OK)
        return rc;
    cq = cq_get(c);
    if ((rc = pending_start(c, &p, cq, reg, req, req_len, timeout_ms, &p)) != SIGIL_OK) {
        status_set(st, GRPC_STATUS_INTERNAL, "start_batch failed", 18);
        cq_put(c, cq);
        return rc;
    }
    ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    rc = pending_finish(&p, ev.type == GRPC_OP_COMPLETE && ev.success, &out, st);
    if (rc == SIGIL_OK)
        rc = sigil_buf_put(resp, GRPC_SLICE_START_PTR(out), GRPC_SLICE_LENGTH(out));
    grpc_slice_unref(out);
    /* The batch has completed, so nothing is pending on the queue and it
     * can serve another call. */
    cq_put(c, cq);
    return rc;
}

int sigil_rpc_call_multi(sigil_rpc_client *const *clients, size_t n, const char *method,
                         const uint8_t *const *reqs, const size_t *req_lens, sigil_buf *resps,
                         unsigned timeout_ms, int *rcs, sigil_rpc_status *st)
{
    pending p[64];
    int started[64];
    size_t live = 0;
    grpc_completion_queue *cq;

    if (!clients || !reqs || !req_lens || !rcs || n == 0 || n > 64 || !clients[0])
        return SIGIL_E_INVALID;
    cq = cq_get(clients[0]);
    for (size_t i = 0; i < n; i++) {
        void *reg = NULL;
        started[i] = 0;
        if (st)
            status_set(&st[i], GRPC_STATUS_UNKNOWN, "", 0);
        rcs[i] = check_args(clients[i], method, reqs[i], req_lens[i], timeout_ms, &reg);
        if (rcs[i] == SIGIL_OK)
            rcs[i] = pending_start(clients[i], &p[i], cq, reg, reqs[i], req_lens[i], timeout_ms,
                                   &p[i]);
        if (rcs[i] != SIGIL_OK) {
            if (st)
                status_set(&st[i], GRPC_STATUS_INTERNAL, "call not started", 16);
            continue;
        }
        started[i] = 1;
        live++;
    }
    /* each started call's one batch completes exactly once (at the latest
     * at its deadline) */
    while (live) {
        grpc_event ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        grpc_slice out;
        size_t i;
        if (ev.type != GRPC_OP_COMPLETE)
            continue;
        for (i = 0; i < n && (void *)&p[i] != ev.tag; i++)
            ;
        if (i == n || !started[i])
            continue;
        started[i] = 0;
        live--;
        rcs[i] = pending_finish(&p[i], ev.success, &out, st ? &st[i] : NULL);
        if (rcs[i] == SIGIL_OK && resps)
            rcs[i] = sigil_buf_put(&resps[i], GRPC_SLICE_START_PTR(out), GRPC_SLICE_LENGTH(out));
        grpc_slice_unref(out);
    }
    cq_put(clients[0], cq);
    return SIGIL_OK;
}

/* The client's completion thread: runs the callbacks of async calls. */
static void *async_loop(void *arg)
{
    sigil_rpc_client *c = arg;

    for (;;) {
        grpc_event ev = grpc_completion_queue_next(c->async_cq, gpr_inf_future(GPR_CLOCK_REALTIME),
                                                   NULL);
        pending *p;
        sigil_rpc_status st;
        grpc_slice out;
        int rc;

        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (ev.type != GRPC_OP_COMPLETE)
            continue;
        p = ev.tag;
        rc = pending_finish(p, ev.success, &out, &st);
        p->done(p->arg, rc, &st, GRPC_SLICE_START_PTR(out), GRPC_SLICE_LENGTH(out));
        grpc_slice_unref(out);
        free(p);
    }
    return NULL;
}

int sigil_rpc_call_start(sigil_rpc_client *c, const char *method, const uint8_t *req,
                         size_t req_len, unsigned timeout_ms, sigil_rpc_done done, void *arg)
{
    pending *p;
    void *reg;
    int rc;

    if (!done)
        return SIGIL_E_INVALID;
    if ((rc = check_args(c, method, req, req_len, timeout_ms, &reg)) != SIGIL_OK)
        return rc;
    pthread_mutex_lock(&c->mu);
    if (!c->async_cq) {
        c->async_cq = grpc_completion_queue_create_for_next(NULL);
        if (pthread_create(&c->async_thread, NULL, async_loop, c) != 0) {
            grpc_completion_queue_shutdown(c->async_cq);
            grpc_completion_queue_next(c->async_cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
            grpc_completion_queue_destroy(c->async_cq);
            c->async_cq = NULL;
            pthread_mutex_unlock(&c->mu);
            return SIGIL_E_NOMEM;
        }
    }
    pthread_mutex_unlock(&c->mu);
    if (!(p = calloc(1, sizeof(*p))))
        return SIGIL_E_NOMEM;
    p->client = c;
    p->done = done;
    p->arg = arg;
    if ((rc = pending_start(c, p, c->async_cq, reg, req, req_len, timeout_ms, p)) != SIGIL_OK) {
        free(p);
        return rc;
    }
    return SIGIL_OK;
}

int sigil_rpc_call_msg(sigil_rpc_client *c, const char *method, const ProtobufCMessage *req,
                       const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
                       unsigned timeout_ms, sigil_rpc_status *st)
{
    sigil_buf in, outb;
    int rc;

    if (resp)
        *resp = NULL;
    if (!c || !req || !resp_desc || !resp)
        return SIGIL_E_INVALID;
    if ((rc = sigil_buf_init(&outb, c->max_message, 0)) != SIGIL_OK)
        return rc;
    if ((rc = sigil_buf_init(&in, c->max_message, 0)) != SIGIL_OK) {
        sigil_buf_free(&outb);
        return rc;
    }
    if ((rc = sigil_rpc_pack(req, &outb)) == SIGIL_OK &&
        (rc = sigil_rpc_call_unary(c, method, sigil_buf_ptr(&outb), sigil_buf_len(&outb), &in,
                                   timeout_ms, st)) == SIGIL_OK)
        rc = sigil_rpc_unpack(resp_desc, sigil_buf_ptr(&in), sigil_buf_len(&in), c->max_message,
                              resp);
    sigil_buf_free(&outb);
    sigil_buf_free(&in);
    return rc;
}

void sigil_rpc_client_reset_backoff(sigil_rpc_client *c)
{
    if (c && c->ch)
        grpc_channel_reset_connect_backoff(c->ch);
}
