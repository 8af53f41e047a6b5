/* The client: one secure channel shared by every thread, one unary call
 * helper. Each call runs on its own completion queue, so calls from
 * different threads never wait on each other except inside gRPC. */
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

struct sigil_rpc_client {
    grpc_channel *ch;
    size_t max_message;
    pthread_mutex_t mu;
    size_t nmethods;
    struct {
        char *name;
        void *reg;
    } methods[CLIENT_METHODS_MAX];
};

/* Handshake-time check of the server's identity (before any request is
 * sent). Returns non-zero to fail the handshake. */
static int verify_server(const char *target_name, const char *peer_pem, void *userdata)
{
    sigil_rpc_peer peer;
    (void)target_name;
    if (peer_from_pem(peer_pem, &peer) != SIGIL_OK)
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

    if ((rc = pem_read(cfg->tls.ca_file, &ca)) != SIGIL_OK ||
        (rc = pem_read(cfg->tls.cert_file, &cert)) != SIGIL_OK ||
        (rc = pem_read(cfg->tls.key_file, &key)) != SIGIL_OK)
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
    rpc_args_init(&args, c->max_message, cfg->server_name);
    c->ch = grpc_channel_create(cfg->target, creds, &args.args);
    grpc_channel_credentials_release(creds); /* the channel holds its own ref (and expect) */
    if (!c->ch) {
        rc = SIGIL_E_IO;
        goto fail;
    }
    pem_free(ca);
    pem_free(cert);
    pem_free(key);
    *out = c;
    return SIGIL_OK;
fail:
    pem_free(ca);
    pem_free(cert);
    pem_free(key);
    sigil_rpc_client_free(c);
    return rc;
}

void sigil_rpc_client_free(sigil_rpc_client *c)
{
    if (!c)
        return;
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

int sigil_rpc_call_unary(sigil_rpc_client *c, const char *method, const uint8_t *req,
                         size_t req_len, sigil_buf *resp, unsigned timeout_ms,
                         sigil_rpc_status *st)
{
    grpc_completion_queue *cq;
    grpc_call *call;
    grpc_slice sl, details = grpc_empty_slice();
    grpc_byte_buffer *send = NULL, *recv = NULL;
    grpc_metadata_array md_init, md_trail;
    grpc_status_code status = GRPC_STATUS_UNKNOWN;
    grpc_op ops[6];
    grpc_event ev;
    gpr_timespec deadline;
    void *reg;
    int rc;

    if (st)
        status_set(st, GRPC_STATUS_UNKNOWN, "", 0);
    if (!c || !method || method[0] != '/' || (!req && req_len) || !resp || !timeout_ms)
        return SIGIL_E_INVALID;
    if (req_len > c->max_message)
        return SIGIL_E_TOO_LARGE;
    if (!(reg = method_handle(c, method)))
        return SIGIL_E_NOMEM;

    cq = grpc_completion_queue_create_for_next(NULL);
    deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                            gpr_time_from_millis((int64_t)timeout_ms, GPR_TIMESPAN));
    call = grpc_channel_create_registered_call(c->ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, reg,
                                               deadline, NULL);
    sl = grpc_slice_from_copied_buffer((const char *)(req ? req : (const uint8_t *)""), req_len);
    send = grpc_raw_byte_buffer_create(&sl, 1);
    grpc_slice_unref(sl);
    grpc_metadata_array_init(&md_init);
    grpc_metadata_array_init(&md_trail);

    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &md_init;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &recv;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &md_trail;
    ops[5].data.recv_status_on_client.status = &status;
    ops[5].data.recv_status_on_client.status_details = &details;
    if (grpc_call_start_batch(call, ops, 6, ops, NULL) != GRPC_CALL_OK) {
        rc = SIGIL_E_IO;
        status_set(st, GRPC_STATUS_INTERNAL, "start_batch failed", 18);
        goto out;
    }
    ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    if (ev.type != GRPC_OP_COMPLETE || !ev.success) {
        rc = SIGIL_E_IO;
        status_set(st, GRPC_STATUS_INTERNAL, "call failed", 11);
        goto out;
    }
    status_set(st, status, (const char *)GRPC_SLICE_START_PTR(details), GRPC_SLICE_LENGTH(details));
    if (status != GRPC_STATUS_OK) {
        rc = sigil_rpc_err_from_status(status);
        goto out;
    }
    if (!recv) {
        rc = SIGIL_E_ENCODING;
        status_set(st, GRPC_STATUS_INTERNAL, "response message missing", 24);
        goto out;
    }
    {
        grpc_byte_buffer_reader r;
        grpc_slice all;
        if (!grpc_byte_buffer_reader_init(&r, recv)) {
            rc = SIGIL_E_ENCODING;
            goto out;
        }
        all = grpc_byte_buffer_reader_readall(&r);
        grpc_byte_buffer_reader_destroy(&r);
        rc = sigil_buf_put(resp, GRPC_SLICE_START_PTR(all), GRPC_SLICE_LENGTH(all));
        grpc_slice_unref(all);
    }
out:
    grpc_call_unref(call);
    grpc_byte_buffer_destroy(send);
    if (recv)
        grpc_byte_buffer_destroy(recv);
    grpc_slice_unref(details);
    grpc_metadata_array_destroy(&md_init);
    grpc_metadata_array_destroy(&md_trail);
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(cq);
    return rc;
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
