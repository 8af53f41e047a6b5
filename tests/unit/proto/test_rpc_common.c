/* proto/ without sockets: identity parsing, the authorization table, the
 * SIGIL_E_* <-> gRPC status mapping and the size-checked protobuf decoder. */
#include <stdio.h>
#include <string.h>

#include <grpc/status.h>

#include "check.h"
#include "sigil/err.h"
#include "sigil/rpc.h"
#include "sigil/v1/admin.pb-c.h"
#include "sigil/v1/node.pb-c.h"
#include "sigil/v1/wallet.pb-c.h"

static int parse(const char *s, sigil_rpc_peer *p)
{
    return sigil_rpc_identity_parse(s, strlen(s), p);
}

static void test_identity(void)
{
    sigil_rpc_peer p;
    const char *bad[] = {
        "", "sigil://", "sigil://node/", "sigil://node/0", "sigil://node/01",
        "sigil://node/65536", "sigil://node/1x", "sigil://node/-1", "sigil://coordinator/",
        "sigil://coordinatorx", "sigil://wallet/", "sigil://wallet/Alice", "sigil://wallet/a/b",
        "sigil://wallet/a b", "sigil://officer/", "sigil://root/x", "SIGIL://node/1",
        "https://wallet/a", "sigil://wallet/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    };

    CHECK_EQ(parse("sigil://node/1", &p), SIGIL_OK);
    CHECK(p.role == SIGIL_RPC_ROLE_NODE && p.node_id == 1 && !strcmp(p.name, "1"));
    CHECK_EQ(parse("sigil://node/65535", &p), SIGIL_OK);
    CHECK(p.node_id == 65535);
    CHECK_EQ(parse("sigil://coordinator", &p), SIGIL_OK);
    CHECK(p.role == SIGIL_RPC_ROLE_COORDINATOR && p.name[0] == '\0' && p.node_id == 0);
    CHECK_EQ(parse("sigil://wallet/exchange-a.hot_1", &p), SIGIL_OK);
    CHECK(p.role == SIGIL_RPC_ROLE_WALLET && !strcmp(p.name, "exchange-a.hot_1"));
    CHECK(!strcmp(p.uri, "sigil://wallet/exchange-a.hot_1"));
    CHECK_EQ(parse("sigil://officer/carol", &p), SIGIL_OK);
    CHECK(p.role == SIGIL_RPC_ROLE_OFFICER);
    CHECK_EQ(parse("sigil://admin/prometheus", &p), SIGIL_OK);
    CHECK(p.role == SIGIL_RPC_ROLE_ADMIN);
    /* 64-character name is the maximum. */
    CHECK_EQ(parse("sigil://wallet/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", &p),
             SIGIL_OK);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_EQ(parse(bad[i], &p), SIGIL_E_ENCODING);
        CHECK(p.role == SIGIL_RPC_ROLE_NONE && p.uri[0] == '\0');
    }
    /* Embedded NUL: "sigil://node/1\0..." is not "sigil://node/1". */
    CHECK_EQ(sigil_rpc_identity_parse("sigil://node/1\0x", 16, &p), SIGIL_E_ENCODING);
    CHECK_EQ(sigil_rpc_identity_parse(NULL, 0, &p), SIGIL_E_ENCODING);
    CHECK_EQ(sigil_rpc_identity_parse("sigil://node/1", 14, NULL), SIGIL_E_INVALID);
}

static void test_authz(void)
{
    sigil_rpc_authz *a;

    REQUIRE(sigil_rpc_authz_new(&a) == SIGIL_OK);
    /* Empty table: everything denied. */
    CHECK_EQ(sigil_rpc_authz_check(a, "sigil://coordinator", "/sigil.v1.Node/Round", ""),
             SIGIL_E_PERMISSION);
    CHECK_EQ(sigil_rpc_authz_allow(a, "sigil://wallet/alice", "/sigil.v1.Wallet/Sign", "hot-*"),
             SIGIL_OK);
    CHECK_EQ(sigil_rpc_authz_allow(a, "sigil://wallet/*", "/sigil.v1.Wallet/ListKeys", "*"),
             SIGIL_OK);
    CHECK_EQ(sigil_rpc_authz_allow(a, "sigil://coordinator", "/sigil.v1.Node/*", "*"), SIGIL_OK);
    /* Malformed rules are refused. */
    CHECK_EQ(sigil_rpc_authz_allow(a, "", "/x", "*"), SIGIL_E_INVALID);
    CHECK_EQ(sigil_rpc_authz_allow(a, "sigil://*/alice", "/x", "*"), SIGIL_E_INVALID);
    CHECK_EQ(sigil_rpc_authz_allow(a, "sigil://wallet/a", "/x", "**"), SIGIL_E_INVALID);
    CHECK_EQ(sigil_rpc_authz_allow(a, "sigil://wallet/a", NULL, "*"), SIGIL_E_INVALID);

    CHECK_EQ(sigil_rpc_authz_check(a, "sigil://wallet/alice", "/sigil.v1.Wallet/Sign", "hot-1"),
             SIGIL_OK);
    CHECK_EQ(sigil_rpc_authz_check(a, "sigil://wallet/alice", "/sigil.v1.Wallet/Sign", "cold-1"),
             SIGIL_E_PERMISSION);
    CHECK_EQ(sigil_rpc_authz_check(a, "sigil://wallet/alice", "/sigil.v1.Wallet/Sign", ""),
             SIGIL_E_PERMISSION);
    CHECK_EQ(sigil_rpc_authz_check(a, "sigil://wallet/alicex", "/sigil.v1.Wallet/Sign", "hot-1"),
             SIGIL_E_PERMISSION);
    CHECK_EQ(sigil_rpc_authz_check(a, "sigil://wallet/bob", "/sigil.v1.Wallet/Sign", "hot-1"),
             SIGIL_E_PERMISSION);
    CHECK_EQ(sigil_rpc_authz_check(a, "sigil://wallet/bob", "/sigil.v1.Wallet/ListKeys", ""),
             SIGIL_OK);
    CHECK_EQ(sigil_rpc_authz_check(a, "sigil://node/1", "/sigil.v1.Wallet/ListKeys", ""),
             SIGIL_E_PERMISSION);
    CHECK_EQ(sigil_rpc_authz_check(a, "sigil://coordinator", "/sigil.v1.Node/Round", ""), SIGIL_OK);
    CHECK_EQ(sigil_rpc_authz_check(a, "sigil://coordinator", "/sigil.v1.Admin/Halt", ""),
             SIGIL_E_PERMISSION);
    CHECK_EQ(sigil_rpc_authz_check(a, "", "/sigil.v1.Node/Round", ""), SIGIL_E_PERMISSION);
    CHECK_EQ(sigil_rpc_authz_check(NULL, "sigil://coordinator", "/sigil.v1.Node/Round", ""),
             SIGIL_E_PERMISSION);
    sigil_rpc_authz_free(a);
    sigil_rpc_authz_free(NULL);
}

static void test_status(void)
{
    CHECK_EQ(sigil_rpc_status_from_err(SIGIL_OK), GRPC_STATUS_OK);
    CHECK_EQ(sigil_rpc_status_from_err(SIGIL_E_ENCODING), GRPC_STATUS_INVALID_ARGUMENT);
    CHECK_EQ(sigil_rpc_status_from_err(SIGIL_E_TRUNCATED), GRPC_STATUS_INVALID_ARGUMENT);
    CHECK_EQ(sigil_rpc_status_from_err(SIGIL_E_TOO_LARGE), GRPC_STATUS_RESOURCE_EXHAUSTED);
    CHECK_EQ(sigil_rpc_status_from_err(SIGIL_E_PERMISSION), GRPC_STATUS_PERMISSION_DENIED);
    CHECK_EQ(sigil_rpc_status_from_err(SIGIL_E_NOT_FOUND), GRPC_STATUS_NOT_FOUND);
    CHECK_EQ(sigil_rpc_status_from_err(SIGIL_E_REPLAY), GRPC_STATUS_ALREADY_EXISTS);
    CHECK_EQ(sigil_rpc_status_from_err(SIGIL_E_HALTED), GRPC_STATUS_FAILED_PRECONDITION);
    CHECK_EQ(sigil_rpc_status_from_err(SIGIL_E_SIG_SHARE), GRPC_STATUS_ABORTED);
    CHECK_EQ(sigil_rpc_status_from_err(SIGIL_E_TIMEOUT), GRPC_STATUS_DEADLINE_EXCEEDED);
    CHECK_EQ(sigil_rpc_status_from_err(SIGIL_E_UNAVAILABLE), GRPC_STATUS_UNAVAILABLE);
    CHECK_EQ(sigil_rpc_status_from_err(SIGIL_E_CRYPTO), GRPC_STATUS_INTERNAL);
    CHECK_EQ(sigil_rpc_status_from_err(-1000), GRPC_STATUS_INTERNAL);
    /* Every error maps to a non-OK status, and every status maps back to an
     * error of the same family. */
    for (int e = -1; e > SIGIL_E__LAST; e--) {
        int st = sigil_rpc_status_from_err(e);
        CHECK(st != GRPC_STATUS_OK);
        CHECK(sigil_rpc_err_from_status(st) < 0);
        CHECK_EQ(sigil_rpc_status_from_err(sigil_rpc_err_from_status(st)), st);
    }
    CHECK_EQ(sigil_rpc_err_from_status(GRPC_STATUS_OK), SIGIL_OK);
    CHECK_EQ(sigil_rpc_err_from_status(GRPC_STATUS_UNAUTHENTICATED), SIGIL_E_PERMISSION);
    CHECK_EQ(sigil_rpc_err_from_status(GRPC_STATUS_UNIMPLEMENTED), SIGIL_E_IO);
    CHECK(!strcmp(sigil_rpc_status_name(GRPC_STATUS_PERMISSION_DENIED), "PERMISSION_DENIED"));
    CHECK(!strcmp(sigil_rpc_status_name(GRPC_STATUS_UNAUTHENTICATED), "UNAUTHENTICATED"));
    CHECK(!strcmp(sigil_rpc_status_name(99), "STATUS_UNKNOWN"));
}

static void test_codec(void)
{
    Sigil__V1__SignRequest req = SIGIL__V1__SIGN_REQUEST__INIT;
    Sigil__V1__SignItem item = SIGIL__V1__SIGN_ITEM__INIT;
    Sigil__V1__HaltRequest halt = SIGIL__V1__HALT_REQUEST__INIT;
    ProtobufCMessage *m = NULL;
    Sigil__V1__SignRequest *got;
    uint8_t digest[32], rid[16];
    sigil_buf b;
    size_t n;

    memset(digest, 7, sizeof(digest));
    memset(rid, 9, sizeof(rid));
    item.payload_case = SIGIL__V1__SIGN_ITEM__PAYLOAD_DIGEST;
    item.digest.data = digest;
    item.digest.len = sizeof(digest);
    req.key_id = "hot-1";
    req.request_id.data = rid;
    req.request_id.len = sizeof(rid);
    req.item = &item;
    req.scheme = SIGIL__V1__SCHEME__SCHEME_ECDSA_SECP256K1;

    REQUIRE(sigil_buf_init(&b, 1024, 0) == SIGIL_OK);
    CHECK_EQ(sigil_rpc_pack(&req.base, &b), SIGIL_OK);
    n = sigil_buf_len(&b);
    CHECK(n > 50);
    CHECK_EQ(sigil_rpc_unpack(&sigil__v1__sign_request__descriptor, sigil_buf_ptr(&b), n, n, &m),
             SIGIL_OK);
    got = (Sigil__V1__SignRequest *)m;
    REQUIRE(got);
    CHECK(!strcmp(got->key_id, "hot-1") && got->scheme == req.scheme);
    CHECK(got->item && got->item->payload_case == SIGIL__V1__SIGN_ITEM__PAYLOAD_DIGEST &&
          got->item->digest.len == 32 && !memcmp(got->item->digest.data, digest, 32));
    CHECK(!strcmp(sigil_rpc_msg_key_id(m), "hot-1"));
    sigil_rpc_msg_free(m);

    /* Size check comes first; truncated input is refused; output zeroed. */
    m = (ProtobufCMessage *)&req;
    CHECK_EQ(sigil_rpc_unpack(&sigil__v1__sign_request__descriptor, sigil_buf_ptr(&b), n, n - 1, &m),
             SIGIL_E_TOO_LARGE);
    CHECK(m == NULL);
    for (size_t k = 1; k < n; k++) {
        int rc = sigil_rpc_unpack(&sigil__v1__sign_request__descriptor, sigil_buf_ptr(&b), k, n, &m);
        CHECK(rc == SIGIL_E_ENCODING || rc == SIGIL_OK);
        sigil_rpc_msg_free(m);
    }
    CHECK_EQ(sigil_rpc_unpack(&sigil__v1__sign_request__descriptor, sigil_buf_ptr(&b), n - 1, n, &m),
             SIGIL_E_ENCODING);
    CHECK_EQ(sigil_rpc_unpack(NULL, sigil_buf_ptr(&b), n, n, &m), SIGIL_E_INVALID);
    /* The empty message decodes (all defaults) and has no key. */
    CHECK_EQ(sigil_rpc_unpack(&sigil__v1__sign_request__descriptor, NULL, 0, 16, &m), SIGIL_OK);
    CHECK(m && !strcmp(sigil_rpc_msg_key_id(m), ""));
    sigil_rpc_msg_free(m);

    /* Field number 0 is invalid protobuf; protobuf-c would keep it as an
     * unknown field that cannot be re-encoded: refused, top level and nested
     * (found by fuzz_proto_requests). Other unknown fields are accepted. */
    {
        const uint8_t tag0[] = {0x80, 0x00, 0x00, 0xd0, 0x2f, 0x0a};
        const uint8_t nested0[] = {0x1a, 0x02, 0x00, 0x00};
        const uint8_t unknown99[] = {0x98, 0x06, 0x01, 0x0a, 0x01, 'k'};
        CHECK_EQ(sigil_rpc_unpack(&sigil__v1__get_public_key_request__descriptor, tag0,
                                  sizeof(tag0), 64, &m),
                 SIGIL_E_ENCODING);
        CHECK(m == NULL);
        CHECK_EQ(sigil_rpc_unpack(&sigil__v1__sign_request__descriptor, nested0, sizeof(nested0),
                                  64, &m),
                 SIGIL_E_ENCODING);
        CHECK_EQ(sigil_rpc_unpack(&sigil__v1__sign_request__descriptor, unknown99,
                                  sizeof(unknown99), 64, &m),
                 SIGIL_OK);
        CHECK(m && !strcmp(sigil_rpc_msg_key_id(m), "k"));
        sigil_rpc_msg_free(m);
    }

    /* A message type without key_id. */
    halt.reason = "drill";
    CHECK(!strcmp(sigil_rpc_msg_key_id(&halt.base), ""));
    CHECK(!strcmp(sigil_rpc_msg_key_id(NULL), ""));

    /* pack respects the buffer's maximum. */
    sigil_buf_free(&b);
    REQUIRE(sigil_buf_init(&b, 8, 0) == SIGIL_OK);
    CHECK_EQ(sigil_rpc_pack(&req.base, &b), SIGIL_E_TOO_LARGE);
    sigil_buf_free(&b);

    CHECK_EQ(sigil_rpc_key_id_check("hot-1.A_b"), SIGIL_OK);
    CHECK_EQ(sigil_rpc_key_id_check(""), SIGIL_E_ENCODING);
    CHECK_EQ(sigil_rpc_key_id_check("a/b"), SIGIL_E_ENCODING);
    CHECK_EQ(sigil_rpc_key_id_check("k\n"), SIGIL_E_ENCODING);
    CHECK_EQ(sigil_rpc_key_id_check(
                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
             SIGIL_E_ENCODING);
    CHECK_EQ(sigil_rpc_key_id_check(NULL), SIGIL_E_INVALID);
}

/* The method-path constants agree with the generated service descriptors. */
static void test_methods(void)
{
    const struct {
        const ProtobufCServiceDescriptor *svc;
        const char *const *paths;
        size_t n;
    } svcs[] = {
        {&sigil__v1__wallet__descriptor,
         (const char *const[]){SIGIL_RPC_WALLET_LIST_KEYS, SIGIL_RPC_WALLET_GET_PUBLIC_KEY,
                               SIGIL_RPC_WALLET_SIGN, SIGIL_RPC_WALLET_SIGN_BATCH},
         4},
        {&sigil__v1__node__descriptor,
         (const char *const[]){SIGIL_RPC_NODE_START_SESSION, SIGIL_RPC_NODE_ROUND,
                               SIGIL_RPC_NODE_ABORT_SESSION, SIGIL_RPC_NODE_REFILL_POOL,
                               SIGIL_RPC_NODE_STATUS},
         5},
        {&sigil__v1__admin__descriptor,
         (const char *const[]){SIGIL_RPC_ADMIN_HALT, SIGIL_RPC_ADMIN_RESUME,
                               SIGIL_RPC_ADMIN_STATUS, SIGIL_RPC_ADMIN_HEALTH},
         4},
    };
    for (size_t i = 0; i < sizeof(svcs) / sizeof(svcs[0]); i++) {
        CHECK_EQ(svcs[i].svc->n_methods, svcs[i].n);
        for (size_t k = 0; k < svcs[i].n && k < svcs[i].svc->n_methods; k++) {
            char path[128];
            /* descriptor methods are in declaration order */
            snprintf(path, sizeof(path), "/%s/%s", svcs[i].svc->name, svcs[i].svc->methods[k].name);
            CHECK(!strcmp(path, svcs[i].paths[k]));
        }
    }
}

int main(void)
{
    test_methods();
    test_identity();
    test_authz();
    test_status();
    test_codec();
    return check_done();
}
