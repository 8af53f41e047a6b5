/* sigil-client: the wallet-side CLI of the coordinator's APIs. */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "sigil/coord.h"
#include "sigil/err.h"
#include "sigil/rpc.h"
#include "sigil/v1/admin.pb-c.h"
#include "sigil/v1/wallet.pb-c.h"

#define KEYGEN_METHOD "/sigil.v1.Admin/Keygen"

static const char usage_text[] =
    "usage: sigil-client [OPTIONS] COMMAND [ARGS]\n"
    "\n"
    "Wallet-side client of sigil-coordinator (mTLS gRPC).\n"
    "\n"
    "connection options (or the environment variables in brackets):\n"
    "  --target HOST:PORT   coordinator address [SIGIL_TARGET] (default 127.0.0.1:7443)\n"
    "  --ca FILE            CA certificate (PEM) [SIGIL_CA]\n"
    "  --cert FILE          this client's certificate (PEM) [SIGIL_CERT]\n"
    "  --key FILE           this client's private key (PEM) [SIGIL_KEY]\n"
    "  --server-id URI      required server identity (default sigil://coordinator)\n"
    "  --timeout MS         call deadline (default 10000)\n"
    "  --json               machine-readable output (one JSON object per line)\n"
    "\n"
    "commands:\n"
    "  keys [--scheme S]                       list the keys you may use\n"
    "  pubkey KEY                              a key's public key and parameters\n"
    "  sign KEY --digest HEX | --message TEXT | --message-hex HEX [--request-id HEX]\n"
    "                                          sign one digest / message\n"
    "  sign-batch KEY [FILE|-] [--request-id HEX]\n"
    "                                          sign one item per line (hex; digests for\n"
    "                                          ecdsa/bip340, messages otherwise), all or none\n"
    "  keygen KEY --scheme S [--threshold T]   (admin) distributed key generation\n"
    "  halt [--reason TEXT]                    (officer/admin) trip the circuit breaker\n"
    "  status                                  breaker state\n"
    "  health                                  serving status and nodes\n"
    "  resume --officer NAME=SECRETFILE ...    (dev helper) build a fresh resume statement,\n"
    "                                          sign it with each officer's Ed25519 secret key\n"
    "                                          (64 hex bytes in SECRETFILE) and send Resume\n"
    "  officer-key NAME FILE                   (dev helper) make an officer key pair: secret\n"
    "                                          to FILE (0600), public key printed\n"
    "\n"
    "schemes: frost-ed25519, frost-secp256k1, frost-bip340, ecdsa\n"
    "\n"
    "examples:\n"
    "  export SIGIL_CA=pki/ca.pem SIGIL_CERT=pki/wallet-alice.pem SIGIL_KEY=pki/wallet-alice.key\n"
    "  sigil-client --target 127.0.0.1:7443 keys\n"
    "  sigil-client sign hot-ed --message 'pay 1 BTC to bob' --json\n"
    "  sigil-client sign hot-ecdsa --digest $(printf tx | sha256sum | cut -c1-64)\n"
    "  seq 100 | while read i; do printf %s $i | sha256sum | cut -c1-64; done |\n"
    "      sigil-client sign-batch hot-ecdsa - --json\n"
    "\n"
    "Errors print the gRPC status and the server's explanation; exit status 1.\n";

typedef struct {
    const char *target, *ca, *cert, *key, *server_id;
    unsigned timeout;
    int json;
    sigil_rpc_client *c;
} opts;

static void hex_print(FILE *f, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%02x", p[i]);
}

static int hex_decode(const char *hex, uint8_t **out, size_t *n)
{
    size_t len = strlen(hex), bin = 0;
    *out = malloc(len / 2 + 1);
    if (!*out)
        return -1;
    if (len % 2 || sodium_hex2bin(*out, len / 2 + 1, hex, len, NULL, &bin, NULL) || bin != len / 2) {
        free(*out);
        *out = NULL;
        return -1;
    }
    *n = bin;
    return 0;
}

static int call_err(const opts *o, const char *what, int rc, const sigil_rpc_status *st)
{
    if (o->json)
        printf("{\"error\":{\"code\":\"%s\",\"message\":\"%s\",\"during\":\"%s\"}}\n",
               st->code ? sigil_rpc_status_name(st->code) : sigil_errname(rc), st->detail, what);
    fprintf(stderr, "sigil-client: %s failed: %s%s%s\n", what,
            st->code ? sigil_rpc_status_name(st->code) : sigil_strerror(rc),
            st->detail[0] ? ": " : "", st->detail);
    return 1;
}

static int call(opts *o, const char *what, const char *method, const ProtobufCMessage *req,
                const ProtobufCMessageDescriptor *d, ProtobufCMessage **resp)
{
    sigil_rpc_status st;
    memset(&st, 0, sizeof st);
    int rc = sigil_rpc_call_msg(o->c, method, req, d, resp, o->timeout, &st);
    if (rc)
        return call_err(o, what, rc, &st);
    return 0;
}

static void print_key(const opts *o, const Sigil__V1__KeyInfo *k)
{
    const char *s = sigil_coord_scheme_name(k->scheme);
    if (o->json) {
        printf("{\"key_id\":\"%s\",\"scheme\":\"%s\",\"public_key\":\"", k->key_id,
               s ? s : "unknown");
        hex_print(stdout, k->public_key.data, k->public_key.len);
        printf("\",\"threshold\":%u,\"parties\":%u,\"state\":%d,\"share_version\":%u}\n",
               k->threshold, k->num_parties, k->state, k->share_version);
    } else {
        printf("%-24s %-16s %u-of-%u  ", k->key_id, s ? s : "unknown", k->threshold,
               k->num_parties);
        hex_print(stdout, k->public_key.data, k->public_key.len);
        printf("\n");
    }
}

static int cmd_keys(opts *o, int argc, char **argv)
{
    Sigil__V1__ListKeysRequest req = SIGIL__V1__LIST_KEYS_REQUEST__INIT;
    char token[32] = "";
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--scheme") && i + 1 < argc) {
            if (!(req.scheme = (Sigil__V1__Scheme)sigil_coord_scheme_parse(argv[++i]))) {
                fprintf(stderr, "sigil-client: unknown scheme %s\n", argv[i]);
                return 2;
            }
        } else {
            fprintf(stderr, "sigil-client keys: unexpected argument %s\n", argv[i]);
            return 2;
        }
    }
    do {
        ProtobufCMessage *m = NULL;
        req.page_token = token;
        if (call(o, "ListKeys", SIGIL_RPC_WALLET_LIST_KEYS, &req.base,
                 &sigil__v1__list_keys_response__descriptor, &m))
            return 1;
        Sigil__V1__ListKeysResponse *r = (Sigil__V1__ListKeysResponse *)m;
        for (size_t i = 0; i < r->n_keys; i++)
            print_key(o, r->keys[i]);
        snprintf(token, sizeof token, "%s", r->next_page_token ? r->next_page_token : "");
        sigil_rpc_msg_free(m);
    } while (token[0]);
    return 0;
}

static int cmd_pubkey(opts *o, int argc, char **argv)
{
    Sigil__V1__GetPublicKeyRequest req = SIGIL__V1__GET_PUBLIC_KEY_REQUEST__INIT;
    ProtobufCMessage *m = NULL;
    if (argc != 1) {
        fprintf(stderr, "usage: sigil-client pubkey KEY\n");
        return 2;
    }
    req.key_id = argv[0];
    if (call(o, "GetPublicKey", SIGIL_RPC_WALLET_GET_PUBLIC_KEY, &req.base,
             &sigil__v1__get_public_key_response__descriptor, &m))
        return 1;
    print_key(o, ((Sigil__V1__GetPublicKeyResponse *)m)->key);
    sigil_rpc_msg_free(m);
    return 0;
}

/* One output line per signature; JSON lines are scripts/verify-signatures input. */
static void print_sig(const opts *o, int scheme, ProtobufCBinaryData pk, const uint8_t *item,
                      size_t itemlen, ProtobufCBinaryData sig, int recid, int replayed,
                      const uint32_t *signers, size_t ns)
{
    const char *s = sigil_coord_scheme_name(scheme);
    if (o->json) {
        printf("{\"scheme\":\"%s\",\"public_key\":\"", s ? s : "unknown");
        hex_print(stdout, pk.data, pk.len);
        printf("\",\"message\":\"");
        hex_print(stdout, item, itemlen);
        printf("\",\"signature\":\"");
        hex_print(stdout, sig.data, sig.len);
        printf("\"");
        if (recid >= 0)
            printf(",\"recovery_id\":%d", recid);
        printf(",\"signers\":[");
        for (size_t i = 0; i < ns; i++)
            printf("%s%u", i ? "," : "", signers[i]);
        printf("],\"replayed\":%s}\n", replayed ? "true" : "false");
    } else {
        hex_print(stdout, sig.data, sig.len);
        if (recid >= 0)
            printf(" recovery_id=%d", recid);
        printf("%s\n", replayed ? " (replayed)" : "");
    }
}

static int get_request_id(const char *hex, uint8_t rid[64], size_t *len)
{
    if (!hex) {
        randombytes_buf(rid, 16);
        *len = 16;
        return 0;
    }
    uint8_t *p;
    size_t n;
    if (hex_decode(hex, &p, &n) || n < 16 || n > 64) {
        fprintf(stderr, "sigil-client: --request-id is 16 to 64 bytes in hex\n");
        return -1;
    }
    memcpy(rid, p, n);
    *len = n;
    free(p);
    return 0;
}

/* The key's scheme decides digest vs message. */
static int key_scheme(opts *o, const char *key_id, int *scheme)
{
    Sigil__V1__GetPublicKeyRequest req = SIGIL__V1__GET_PUBLIC_KEY_REQUEST__INIT;
    ProtobufCMessage *m = NULL;
    req.key_id = (char *)key_id;
    if (call(o, "GetPublicKey", SIGIL_RPC_WALLET_GET_PUBLIC_KEY, &req.base,
             &sigil__v1__get_public_key_response__descriptor, &m))
        return 1;
    *scheme = ((Sigil__V1__GetPublicKeyResponse *)m)->key->scheme;
    sigil_rpc_msg_free(m);
    return 0;
}

static int wants_digest(int scheme)
{
    return scheme == SIGIL__V1__SCHEME__SCHEME_BIP340 ||
           scheme == SIGIL__V1__SCHEME__SCHEME_ECDSA_SECP256K1;
}

static int cmd_sign(opts *o, int argc, char **argv)
{
    Sigil__V1__SignRequest req = SIGIL__V1__SIGN_REQUEST__INIT;
    Sigil__V1__SignItem item = SIGIL__V1__SIGN_ITEM__INIT;
    const char *rid_hex = NULL;
    uint8_t rid[64], *data = NULL;
    size_t ridlen, len = 0;
    int is_digest = -1, rc = 2;
    ProtobufCMessage *m = NULL;

    if (argc < 1 || argv[0][0] == '-') {
        fprintf(stderr, "usage: sigil-client sign KEY --digest HEX | --message TEXT | --message-hex HEX\n");
        return 2;
    }
    req.key_id = argv[0];
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc)
            goto bad;
        if (!strcmp(argv[i], "--digest") || !strcmp(argv[i], "--message-hex")) {
            is_digest = !strcmp(argv[i], "--digest");
            free(data);
            if (hex_decode(argv[++i], &data, &len)) {
                fprintf(stderr, "sigil-client: %s is not hex\n", argv[i - 1]);
                return 2;
            }
        } else if (!strcmp(argv[i], "--message")) {
            is_digest = 0;
            free(data);
            len = strlen(argv[++i]);
            data = (uint8_t *)strdup(argv[i]);
        } else if (!strcmp(argv[i], "--request-id")) {
            rid_hex = argv[++i];
        } else if (!strcmp(argv[i], "--scheme")) {
            req.scheme = (Sigil__V1__Scheme)sigil_coord_scheme_parse(argv[++i]);
        } else {
            goto bad;
        }
    }
    if (is_digest < 0 || get_request_id(rid_hex, rid, &ridlen))
        goto bad;
    req.request_id.data = rid;
    req.request_id.len = ridlen;
    item.payload_case =
        is_digest ? SIGIL__V1__SIGN_ITEM__PAYLOAD_DIGEST : SIGIL__V1__SIGN_ITEM__PAYLOAD_MESSAGE;
    if (is_digest)
        item.digest = (ProtobufCBinaryData){len, data};
    else
        item.message = (ProtobufCBinaryData){len, data};
    req.item = &item;
    if ((rc = call(o, "Sign", SIGIL_RPC_WALLET_SIGN, &req.base,
                   &sigil__v1__sign_response__descriptor, &m)) == 0) {
        Sigil__V1__SignResponse *r = (Sigil__V1__SignResponse *)m;
        print_sig(o, r->scheme, r->public_key, data, len, r->signature,
                  r->scheme == SIGIL__V1__SCHEME__SCHEME_ECDSA_SECP256K1 ? (int)r->recovery_id : -1,
                  r->replayed, r->signers, r->n_signers);
        sigil_rpc_msg_free(m);
    }
    free(data);
    return rc;
bad:
    free(data);
    fprintf(stderr, "usage: sigil-client sign KEY --digest HEX | --message TEXT | --message-hex HEX [--request-id HEX]\n");
    return 2;
}

static int cmd_sign_batch(opts *o, int argc, char **argv)
{
    Sigil__V1__SignBatchRequest req = SIGIL__V1__SIGN_BATCH_REQUEST__INIT;
    const char *file = "-", *rid_hex = NULL;
    uint8_t rid[64];
    size_t ridlen, n = 0, cap = 0;
    Sigil__V1__SignItem *items = NULL, **ptrs = NULL;
    char line[140000];
    int scheme = 0, rc = 1;
    FILE *f;

    if (argc < 1 || argv[0][0] == '-') {
        fprintf(stderr, "usage: sigil-client sign-batch KEY [FILE|-] [--request-id HEX]\n");
        return 2;
    }
    req.key_id = argv[0];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--request-id") && i + 1 < argc)
            rid_hex = argv[++i];
        else if (argv[i][0] != '-' || !strcmp(argv[i], "-"))
            file = argv[i];
        else {
            fprintf(stderr, "sigil-client sign-batch: unexpected argument %s\n", argv[i]);
            return 2;
        }
    }
    if (get_request_id(rid_hex, rid, &ridlen))
        return 2;
    if (key_scheme(o, req.key_id, &scheme))
        return 1;
    f = strcmp(file, "-") ? fopen(file, "r") : stdin;
    if (!f) {
        perror(file);
        return 1;
    }
    while (fgets(line, sizeof line, f)) {
        size_t l = strlen(line);
        while (l && isspace((unsigned char)line[l - 1]))
            line[--l] = 0;
        if (!l)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            items = realloc(items, cap * sizeof *items);
            if (!items)
                return 1;
        }
        uint8_t *p;
        size_t len;
        if (hex_decode(line, &p, &len)) {
            fprintf(stderr, "sigil-client: line %zu is not hex\n", n + 1);
            goto out;
        }
        sigil__v1__sign_item__init(&items[n]);
        if (wants_digest(scheme)) {
            items[n].payload_case = SIGIL__V1__SIGN_ITEM__PAYLOAD_DIGEST;
            items[n].digest = (ProtobufCBinaryData){len, p};
        } else {
            items[n].payload_case = SIGIL__V1__SIGN_ITEM__PAYLOAD_MESSAGE;
            items[n].message = (ProtobufCBinaryData){len, p};
        }
        n++;
    }
    ptrs = calloc(n + 1, sizeof *ptrs);
    for (size_t i = 0; ptrs && i < n; i++)
        ptrs[i] = &items[i];
    req.items = ptrs;
    req.n_items = n;
    req.request_id.data = rid;
    req.request_id.len = ridlen;
    ProtobufCMessage *m = NULL;
    if (call(o, "SignBatch", SIGIL_RPC_WALLET_SIGN_BATCH, &req.base,
             &sigil__v1__sign_batch_response__descriptor, &m) == 0) {
        Sigil__V1__SignBatchResponse *r = (Sigil__V1__SignBatchResponse *)m;
        rc = 0;
        for (size_t i = 0; i < r->n_signatures && i < n; i++) {
            ProtobufCBinaryData it = wants_digest(scheme) ? items[i].digest : items[i].message;
            print_sig(o, r->scheme, r->public_key, it.data, it.len, r->signatures[i],
                      i < r->n_recovery_ids ? (int)r->recovery_ids[i] : -1, r->replayed,
                      r->signers, r->n_signers);
        }
        sigil_rpc_msg_free(m);
    }
out:
    if (f != stdin)
        fclose(f);
    for (size_t i = 0; i < n; i++)
        free(wants_digest(scheme) ? items[i].digest.data : items[i].message.data);
    free(items);
    free(ptrs);
    return rc;
}

static int cmd_keygen(opts *o, int argc, char **argv)
{
    Sigil__V1__KeygenRequest req = SIGIL__V1__KEYGEN_REQUEST__INIT;
    ProtobufCMessage *m = NULL;
    if (argc < 1 || argv[0][0] == '-')
        goto bad;
    req.key_id = argv[0];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--scheme") && i + 1 < argc)
            req.scheme = (Sigil__V1__Scheme)sigil_coord_scheme_parse(argv[++i]);
        else if (!strcmp(argv[i], "--threshold") && i + 1 < argc)
            req.threshold = (uint32_t)strtoul(argv[++i], NULL, 10);
        else
            goto bad;
    }
    if (!req.scheme)
        goto bad;
    if (call(o, "Keygen", KEYGEN_METHOD, &req.base, &sigil__v1__keygen_response__descriptor, &m))
        return 1;
    print_key(o, ((Sigil__V1__KeygenResponse *)m)->key);
    sigil_rpc_msg_free(m);
    return 0;
bad:
    fprintf(stderr, "usage: sigil-client keygen KEY --scheme SCHEME [--threshold T]\n");
    return 2;
}

static void print_peers(Sigil__V1__PeerResult **p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("  %s: %s%s%s\n", p[i]->identity, p[i]->ok ? "ok" : "FAILED",
               p[i]->detail && p[i]->detail[0] ? " " : "", p[i]->detail ? p[i]->detail : "");
}

static int cmd_halt(opts *o, int argc, char **argv)
{
    Sigil__V1__HaltRequest req = SIGIL__V1__HALT_REQUEST__INIT;
    ProtobufCMessage *m = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--reason") && i + 1 < argc)
            req.reason = argv[++i];
        else if (!strcmp(argv[i], "--local-only"))
            req.local_only = 1;
        else {
            fprintf(stderr, "usage: sigil-client halt [--reason TEXT] [--local-only]\n");
            return 2;
        }
    }
    if (call(o, "Halt", SIGIL_RPC_ADMIN_HALT, &req.base, &sigil__v1__halt_response__descriptor, &m))
        return 1;
    Sigil__V1__HaltResponse *r = (Sigil__V1__HaltResponse *)m;
    if (o->json)
        printf("{\"halted\":%s,\"halt_epoch\":%llu}\n", r->halted ? "true" : "false",
               (unsigned long long)r->halt_epoch);
    else {
        printf("halted (epoch %llu)\n", (unsigned long long)r->halt_epoch);
        print_peers(r->peers, r->n_peers);
    }
    sigil_rpc_msg_free(m);
    return 0;
}

static int get_status(opts *o, Sigil__V1__AdminStatusResponse **out)
{
    Sigil__V1__AdminStatusRequest req = SIGIL__V1__ADMIN_STATUS_REQUEST__INIT;
    return call(o, "Status", SIGIL_RPC_ADMIN_STATUS, &req.base,
                &sigil__v1__admin_status_response__descriptor, (ProtobufCMessage **)out);
}

static int cmd_status(opts *o)
{
    Sigil__V1__AdminStatusResponse *r = NULL;
    if (get_status(o, &r))
        return 1;
    if (o->json)
        printf("{\"identity\":\"%s\",\"halted\":%s,\"halt_epoch\":%llu,\"halted_by\":\"%s\","
               "\"cluster_id\":\"%s\",\"approvals_required\":%u,\"officers\":%u}\n",
               r->identity, r->halted ? "true" : "false", (unsigned long long)r->halt_epoch,
               r->halted_by, r->cluster_id, r->approvals_required, r->officers);
    else
        printf("%s: %s (epoch %llu%s%s%s%s) cluster %s, resume needs %u of %u officers\n",
               r->identity, r->halted ? "HALTED" : "running", (unsigned long long)r->halt_epoch,
               r->halted ? ", by " : "", r->halted ? r->halted_by : "",
               r->halted && r->reason[0] ? ": " : "", r->halted ? r->reason : "", r->cluster_id,
               r->approvals_required, r->officers);
    sigil_rpc_msg_free(&r->base);
    return 0;
}

static int cmd_health(opts *o)
{
    Sigil__V1__HealthRequest req = SIGIL__V1__HEALTH_REQUEST__INIT;
    ProtobufCMessage *m = NULL;
    static const char *names[] = {"UNSPECIFIED", "SERVING", "NOT_SERVING", "HALTED"};
    if (call(o, "Health", SIGIL_RPC_ADMIN_HEALTH, &req.base,
             &sigil__v1__health_response__descriptor, &m))
        return 1;
    Sigil__V1__HealthResponse *r = (Sigil__V1__HealthResponse *)m;
    printf("%s\n", r->status < 4 ? names[r->status] : "?");
    for (size_t i = 0; i < r->n_components; i++)
        printf("  %s: %s %s\n", r->components[i]->name, r->components[i]->ok ? "ok" : "FAILED",
               r->components[i]->detail);
    sigil_rpc_msg_free(m);
    return 0;
}

static int cmd_officer_key(int argc, char **argv)
{
    uint8_t pk[32], sk[64];
    char hex[129];
    if (argc != 2) {
        fprintf(stderr, "usage: sigil-client officer-key NAME FILE\n");
        return 2;
    }
    crypto_sign_keypair(pk, sk);
    sodium_bin2hex(hex, sizeof hex, sk, 64);
    FILE *f = fopen(argv[1], "wx");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    fprintf(f, "%s\n", hex);
    fclose(f);
    sodium_memzero(sk, sizeof sk);
    sodium_memzero(hex, sizeof hex);
    sodium_bin2hex(hex, sizeof hex, pk, 32);
    printf("{\"name\":\"%s\",\"public_key\":\"%s\"}\n", argv[0], hex);
    return 0;
}

static int cmd_resume(opts *o, int argc, char **argv)
{
    Sigil__V1__AdminStatusResponse *stt = NULL;
    Sigil__V1__ApprovalStatement s = SIGIL__V1__APPROVAL_STATEMENT__INIT;
    Sigil__V1__ResumeRequest req = SIGIL__V1__RESUME_REQUEST__INIT;
    Sigil__V1__Approval ap[16], *app[16];
    uint8_t nonce[32], sigs[16][64];
    char names[16][65];
    sigil_buf stmt, msg;
    size_t na = 0;
    int rc = 1;

    for (int i = 0; i < argc; i++)
        if (!(strcmp(argv[i], "--officer") == 0 && i + 1 < argc && na < 16 &&
              strchr(argv[i + 1], '=') && (size_t)(strchr(argv[i + 1], '=') - argv[i + 1]) < 65)) {
            fprintf(stderr, "usage: sigil-client resume --officer NAME=SECRETFILE ...\n");
            return 2;
        } else {
            i++;
            na++;
        }
    if (!na) {
        fprintf(stderr, "usage: sigil-client resume --officer NAME=SECRETFILE ...\n");
        return 2;
    }
    if (get_status(o, &stt))
        return 1;
    randombytes_buf(nonce, sizeof nonce);
    s.action = "resume";
    s.cluster_id = stt->cluster_id;
    s.nonce = (ProtobufCBinaryData){32, nonce};
    s.expires_unix = (uint64_t)time(NULL) + 300;
    s.halt_epoch = stt->halt_epoch;
    sigil_buf_init(&stmt, 4096, 0);
    sigil_buf_init(&msg, 8192, 0);
    sigil_rpc_pack(&s.base, &stmt);
    sigil_buf_put(&msg, "sigil.v1.approval", sizeof "sigil.v1.approval"); /* with its NUL */
    sigil_buf_put(&msg, stmt.data, stmt.size);
    na = 0;
    for (int i = 0; i + 1 < argc; i += 2) {
        const char *eq = strchr(argv[i + 1], '=');
        char hex[200] = {0};
        uint8_t sk[64];
        size_t bin = 0;
        FILE *f = fopen(eq + 1, "r");
        memcpy(names[na], argv[i + 1], (size_t)(eq - argv[i + 1]));
        names[na][eq - argv[i + 1]] = 0;
        if (!f || !fgets(hex, sizeof hex, f) ||
            sodium_hex2bin(sk, 64, hex, strlen(hex), " \n", &bin, NULL) || bin != 64) {
            fprintf(stderr, "sigil-client: cannot read officer secret key %s\n", eq + 1);
            if (f)
                fclose(f);
            goto out;
        }
        fclose(f);
        crypto_sign_detached(sigs[na], NULL, msg.data, msg.size, sk);
        sodium_memzero(sk, sizeof sk);
        sodium_memzero(hex, sizeof hex);
        sigil__v1__approval__init(&ap[na]);
        ap[na].officer = names[na];
        ap[na].signature = (ProtobufCBinaryData){64, sigs[na]};
        app[na] = &ap[na];
        na++;
    }
    req.statement = (ProtobufCBinaryData){stmt.size, stmt.data};
    req.approvals = app;
    req.n_approvals = na;
    ProtobufCMessage *m = NULL;
    if (call(o, "Resume", SIGIL_RPC_ADMIN_RESUME, &req.base,
             &sigil__v1__resume_response__descriptor, &m) == 0) {
        Sigil__V1__ResumeResponse *r = (Sigil__V1__ResumeResponse *)m;
        if (o->json)
            printf("{\"halted\":%s,\"halt_epoch\":%llu}\n", r->halted ? "true" : "false",
                   (unsigned long long)r->halt_epoch);
        else {
            printf("resumed (epoch %llu) with %zu approvals\n", (unsigned long long)r->halt_epoch,
                   na);
            print_peers(r->peers, r->n_peers);
        }
        sigil_rpc_msg_free(m);
        rc = 0;
    }
out:
    sigil_buf_free(&stmt);
    sigil_buf_free(&msg);
    sigil_rpc_msg_free(&stt->base);
    return rc;
}

int main(int argc, char **argv)
{
    opts o = {getenv("SIGIL_TARGET"), getenv("SIGIL_CA"), getenv("SIGIL_CERT"),
              getenv("SIGIL_KEY"), "sigil://coordinator", 10000, 0, NULL};
    static const struct option lo[] = {
        {"target", required_argument, 0, 't'}, {"ca", required_argument, 0, 'a'},
        {"cert", required_argument, 0, 'c'},   {"key", required_argument, 0, 'k'},
        {"server-id", required_argument, 0, 's'}, {"timeout", required_argument, 0, 'T'},
        {"json", no_argument, 0, 'j'},         {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int ch, rc;

    if (sodium_init() < 0)
        return 1;
    while ((ch = getopt_long(argc, argv, "+h", lo, NULL)) != -1) {
        switch (ch) {
        case 't': o.target = optarg; break;
        case 'a': o.ca = optarg; break;
        case 'c': o.cert = optarg; break;
        case 'k': o.key = optarg; break;
        case 's': o.server_id = optarg; break;
        case 'T': o.timeout = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'j': o.json = 1; break;
        case 'h': fputs(usage_text, stdout); return 0;
        default: fputs(usage_text, stderr); return 2;
        }
    }
    if (optind >= argc) {
        fputs(usage_text, stderr);
        return 2;
    }
    const char *cmd = argv[optind];
    int cargc = argc - optind - 1;
    char **cargv = argv + optind + 1;
    if (!strcmp(cmd, "help")) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (!strcmp(cmd, "officer-key"))
        return cmd_officer_key(cargc, cargv);
    if (!o.target)
        o.target = "127.0.0.1:7443";
    if (!o.ca || !o.cert || !o.key) {
        fprintf(stderr, "sigil-client: --ca, --cert and --key (or SIGIL_CA, SIGIL_CERT, "
                        "SIGIL_KEY) are required\n");
        return 2;
    }
    sigil_rpc_client_config cc = {0};
    cc.target = o.target;
    cc.tls = (sigil_rpc_tls){o.ca, o.cert, o.key};
    cc.expect_identity = o.server_id;
    if ((rc = sigil_rpc_client_new(&cc, &o.c))) {
        fprintf(stderr, "sigil-client: cannot set up the mTLS client: %s\n", sigil_strerror(rc));
        return 1;
    }
    if (!strcmp(cmd, "keys"))
        rc = cmd_keys(&o, cargc, cargv);
    else if (!strcmp(cmd, "pubkey"))
        rc = cmd_pubkey(&o, cargc, cargv);
    else if (!strcmp(cmd, "sign"))
        rc = cmd_sign(&o, cargc, cargv);
    else if (!strcmp(cmd, "sign-batch"))
        rc = cmd_sign_batch(&o, cargc, cargv);
    else if (!strcmp(cmd, "keygen"))
        rc = cmd_keygen(&o, cargc, cargv);
    else if (!strcmp(cmd, "halt"))
        rc = cmd_halt(&o, cargc, cargv);
    else if (!strcmp(cmd, "status"))
        rc = cmd_status(&o);
    else if (!strcmp(cmd, "health"))
        rc = cmd_health(&o);
    else if (!strcmp(cmd, "resume"))
        rc = cmd_resume(&o, cargc, cargv);
    else {
        fprintf(stderr, "sigil-client: unknown command '%s' (try --help)\n", cmd);
        rc = 2;
    }
    sigil_rpc_client_free(o.c);
    return rc;
}
