/* libFuzzer target: every sigil.v1 request decoder the servers run on
 * untrusted bytes, plus the identity parser. The first input byte picks the
 * message type. A decoded message must re-encode and decode again. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sigil/err.h"
#include "sigil/rpc.h"
#include "sigil/v1/admin.pb-c.h"
#include "sigil/v1/node.pb-c.h"
#include "sigil/v1/wallet.pb-c.h"

static const ProtobufCMessageDescriptor *const descs[] = {
    &sigil__v1__list_keys_request__descriptor,
    &sigil__v1__get_public_key_request__descriptor,
    &sigil__v1__sign_request__descriptor,
    &sigil__v1__sign_batch_request__descriptor,
    &sigil__v1__start_session_request__descriptor,
    &sigil__v1__round_request__descriptor,
    &sigil__v1__abort_session_request__descriptor,
    &sigil__v1__refill_pool_request__descriptor,
    &sigil__v1__node_status_request__descriptor,
    &sigil__v1__halt_request__descriptor,
    &sigil__v1__resume_request__descriptor,
    &sigil__v1__approval_statement__descriptor,
    &sigil__v1__admin_status_request__descriptor,
    &sigil__v1__health_request__descriptor,
    /* responses the clients decode */
    &sigil__v1__sign_response__descriptor,
    &sigil__v1__sign_batch_response__descriptor,
    &sigil__v1__session_response__descriptor,
    &sigil__v1__refill_pool_response__descriptor,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const ProtobufCMessageDescriptor *d;
    ProtobufCMessage *m = NULL, *m2 = NULL;
    sigil_rpc_peer peer;
    sigil_buf b;

    if (size < 1)
        return 0;
    d = descs[data[0] % (sizeof(descs) / sizeof(descs[0]))];
    (void)sigil_rpc_identity_parse((const char *)data + 1, size - 1, &peer);
    if (sigil_rpc_unpack(d, data + 1, size - 1, 64 << 10, &m) != SIGIL_OK)
        return 0;
    (void)sigil_rpc_key_id_check(sigil_rpc_msg_key_id(m));
    if (sigil_buf_init(&b, 1 << 20, 0) != SIGIL_OK)
        abort();
    if (sigil_rpc_pack(m, &b) != SIGIL_OK)
        abort();
    if (sigil_rpc_unpack(d, sigil_buf_ptr(&b), sigil_buf_len(&b), 1 << 20, &m2) != SIGIL_OK)
        abort();
    if (strcmp(sigil_rpc_msg_key_id(m), sigil_rpc_msg_key_id(m2)) != 0)
        abort();
    sigil_rpc_msg_free(m2);
    sigil_rpc_msg_free(m);
    sigil_buf_free(&b);
    return 0;
}
