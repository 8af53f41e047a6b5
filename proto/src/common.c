/* Identities, status mapping, authorization table and protobuf helpers:
 * the parts of the glue that touch no socket. */
#include "sigil/rpc.h"

#include <stdlib.h>
#include <string.h>

#include <grpc/status.h>

#include "sigil/err.h"

/* ---- identities ---------------------------------------------------------- */

static int name_ok(const char *p, size_t n)
{
    if (n < 1 || n > SIGIL_RPC_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-'))
            return 0;
    }
    return 1;
}

static int prefixed(const char *p, size_t n, const char *prefix, size_t *rest)
{
    size_t k = strlen(prefix);
    if (n < k || memcmp(p, prefix, k) != 0)
        return 0;
    *rest = k;
    return 1;
}

int sigil_rpc_identity_parse(const char *uri, size_t len, sigil_rpc_peer *out)
{
    size_t k;

    if (!out)
        return SIGIL_E_INVALID;
    memset(out, 0, sizeof(*out));
    if (!uri || len >= SIGIL_RPC_URI_MAX || memchr(uri, '\0', len))
        return SIGIL_E_ENCODING;
    if (len == strlen("sigil://coordinator") && !memcmp(uri, "sigil://coordinator", len)) {
        out->role = SIGIL_RPC_ROLE_COORDINATOR;
    } else if (prefixed(uri, len, "sigil://node/", &k)) {
        const char *d = uri + k;
        size_t n = len - k;
        uint32_t v = 0;
        if (n < 1 || n > 5 || d[0] == '0')
            return SIGIL_E_ENCODING;
        for (size_t i = 0; i < n; i++) {
            if (d[i] < '0' || d[i] > '9')
                return SIGIL_E_ENCODING;
            v = v * 10 + (uint32_t)(d[i] - '0');
        }
        if (v > 65535)
            return SIGIL_E_ENCODING;
        out->role = SIGIL_RPC_ROLE_NODE;
        out->node_id = v;
        memcpy(out->name, d, n);
    } else {
        static const struct {
            const char *prefix;
            sigil_rpc_role role;
        } named[] = {
            {"sigil://wallet/", SIGIL_RPC_ROLE_WALLET},
            {"sigil://officer/", SIGIL_RPC_ROLE_OFFICER},
            {"sigil://admin/", SIGIL_RPC_ROLE_ADMIN},
        };
        size_t i;
        for (i = 0; i < sizeof(named) / sizeof(named[0]); i++)
            if (prefixed(uri, len, named[i].prefix, &k))
                break;
        if (i == sizeof(named) / sizeof(named[0]) || !name_ok(uri + k, len - k)) {
            memset(out, 0, sizeof(*out));
            return SIGIL_E_ENCODING;
        }
        out->role = named[i].role;
        memcpy(out->name, uri + k, len - k);
    }
    memcpy(out->uri, uri, len);
    out->uri[len] = '\0';
    return SIGIL_OK;
}

/* ---- status codes -------------------------------------------------------- */

int sigil_rpc_status_from_err(int err)
{
    switch (err) {
    case SIGIL_OK:
        return GRPC_STATUS_OK;
    case SIGIL_E_INVALID:
    case SIGIL_E_TRUNCATED:
    case SIGIL_E_TRAILING:
    case SIGIL_E_ENCODING:
    case SIGIL_E_SCALAR:
    case SIGIL_E_POINT:
    case SIGIL_E_IDENTITY:
    case SIGIL_E_ZERO:
    case SIGIL_E_VERSION:
    case SIGIL_E_PARTICIPANT:
    case SIGIL_E_THRESHOLD:
    case SIGIL_E_SESSION:
    case SIGIL_E_MISMATCH:
        return GRPC_STATUS_INVALID_ARGUMENT;
    case SIGIL_E_NOMEM:
    case SIGIL_E_TOO_LARGE:
        return GRPC_STATUS_RESOURCE_EXHAUSTED;
    case SIGIL_E_STATE:
    case SIGIL_E_USED:
    case SIGIL_E_HALTED:
    case SIGIL_E_EXPIRED:
        return GRPC_STATUS_FAILED_PRECONDITION;
    case SIGIL_E_PROOF:
    case SIGIL_E_SHARE:
    case SIGIL_E_SIG_SHARE:
    case SIGIL_E_SIGNATURE:
    case SIGIL_E_CONFIRM:
    case SIGIL_E_CHECK:
        return GRPC_STATUS_ABORTED;
    case SIGIL_E_NOT_FOUND:
        return GRPC_STATUS_NOT_FOUND;
    case SIGIL_E_EXISTS:
    case SIGIL_E_REPLAY:
        return GRPC_STATUS_ALREADY_EXISTS;
    case SIGIL_E_PERMISSION:
        return GRPC_STATUS_PERMISSION_DENIED;
    case SIGIL_E_TIMEOUT:
        return GRPC_STATUS_DEADLINE_EXCEEDED;
    case SIGIL_E_UNAVAILABLE:
        return GRPC_STATUS_UNAVAILABLE;
    default: /* RANDOM, CRYPTO, IO, unknown */
        return GRPC_STATUS_INTERNAL;
    }
}

int sigil_rpc_err_from_status(int status)
{
    switch (status) {
    case GRPC_STATUS_OK:
        return SIGIL_OK;
    case GRPC_STATUS_INVALID_ARGUMENT:
    case GRPC_STATUS_OUT_OF_RANGE:
        return SIGIL_E_INVALID;
    case GRPC_STATUS_RESOURCE_EXHAUSTED:
        return SIGIL_E_TOO_LARGE;
    case GRPC_STATUS_FAILED_PRECONDITION:
        return SIGIL_E_STATE;
    case GRPC_STATUS_ABORTED:
        return SIGIL_E_CHECK;
    case GRPC_STATUS_NOT_FOUND:
        return SIGIL_E_NOT_FOUND;
    case GRPC_STATUS_ALREADY_EXISTS:
        return SIGIL_E_EXISTS;
    case GRPC_STATUS_PERMISSION_DENIED:
    case GRPC_STATUS_UNAUTHENTICATED:
        return SIGIL_E_PERMISSION;
    case GRPC_STATUS_DEADLINE_EXCEEDED:
        return SIGIL_E_TIMEOUT;
    case GRPC_STATUS_UNAVAILABLE:
    case GRPC_STATUS_CANCELLED:
        return SIGIL_E_UNAVAILABLE;
    default: /* UNKNOWN, UNIMPLEMENTED, INTERNAL, DATA_LOSS */
        return SIGIL_E_IO;
    }
}

const char *sigil_rpc_status_name(int status)
{
    static const char *const names[] = {
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
        "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL",
        "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
    };
    if (status < 0 || status >= (int)(sizeof(names) / sizeof(names[0])))
        return "STATUS_UNKNOWN";
    return names[status];
}

/* ---- protobuf helpers ---------------------------------------------------- */

/* protobuf-c keeps fields it does not know as "unknown fields" (which is
 * what lets an older peer ignore newer fields), but it also keeps field
 * number 0, which the protobuf encoding forbids and which cannot be
 * re-encoded. Refuse any message (or sub-message) holding one. */
static int strict_ok(const ProtobufCMessage *m, int depth)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;

    if (depth > 16)
        return 0;
    for (unsigned i = 0; i < m->n_unknown_fields; i++)
        if (m->unknown_fields[i].tag == 0)
            return 0;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *base = (const char *)m;

        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t which;
            memcpy(&which, base + f->quantifier_offset, sizeof(which));
            if (which != f->id)
                continue;
        }
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n;
            ProtobufCMessage **arr;
            memcpy(&n, base + f->quantifier_offset, sizeof(n));
            memcpy(&arr, base + f->offset, sizeof(arr));
            for (size_t k = 0; k < n; k++)
                if (arr[k] && !strict_ok(arr[k], depth + 1))
                    return 0;
        } else {
            ProtobufCMessage *sub;
            memcpy(&sub, base + f->offset, sizeof(sub));
            if (sub && !strict_ok(sub, depth + 1))
                return 0;
        }
    }
    return 1;
}

int sigil_rpc_unpack(const ProtobufCMessageDescriptor *desc, const uint8_t *p, size_t n,
                     size_t max, ProtobufCMessage **out)
{
    if (!out)
        return SIGIL_E_INVALID;
    *out = NULL;
    if (!desc || desc->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC || (!p && n))
        return SIGIL_E_INVALID;
    if (n > max)
        return SIGIL_E_TOO_LARGE;
    *out = protobuf_c_message_unpack(desc, NULL, n, n ? p : (const uint8_t *)"");
    if (!*out)
        return SIGIL_E_ENCODING;
    if (!strict_ok(*out, 0)) {
        protobuf_c_message_free_unpacked(*out, NULL);
        *out = NULL;
        return SIGIL_E_ENCODING;
    }
    return SIGIL_OK;
}

void sigil_rpc_msg_free(ProtobufCMessage *m)
{
    if (m)
        protobuf_c_message_free_unpacked(m, NULL);
}

int sigil_rpc_pack(const ProtobufCMessage *m, sigil_buf *out)
{
    uint8_t *p;
    size_t n;
    int rc;

    if (!m || !out)
        return SIGIL_E_INVALID;
    n = protobuf_c_message_get_packed_size(m);
    if (n == 0)
        return SIGIL_OK;
    if ((rc = sigil_buf_reserve(out, n, &p)) != SIGIL_OK)
        return rc;
    if (protobuf_c_message_pack(m, p) != n)
        return SIGIL_E_ENCODING;
    return SIGIL_OK;
}

const char *sigil_rpc_msg_key_id(const ProtobufCMessage *m)
{
    const ProtobufCFieldDescriptor *f;
    const char *s;

    if (!m)
        return "";
    f = protobuf_c_message_descriptor_get_field_by_name(m->descriptor, "key_id");
    if (!f || f->type != PROTOBUF_C_TYPE_STRING || f->label == PROTOBUF_C_LABEL_REPEATED)
        return "";
    memcpy(&s, (const char *)m + f->offset, sizeof(s));
    return s ? s : "";
}

int sigil_rpc_key_id_check(const char *key_id)
{
    size_t n;

    if (!key_id)
        return SIGIL_E_INVALID;
    n = strlen(key_id);
    if (n < 1 || n > 64)
        return SIGIL_E_ENCODING;
    for (size_t i = 0; i < n; i++) {
        char c = key_id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return SIGIL_E_ENCODING;
    }
    return SIGIL_OK;
}

/* ---- authorization ------------------------------------------------------- */

typedef struct {
    char *identity, *method, *key;
} rule;

struct sigil_rpc_authz {
    rule *rules;
    size_t n, cap;
};

int sigil_rpc_authz_new(sigil_rpc_authz **out)
{
    if (!out)
        return SIGIL_E_INVALID;
    *out = calloc(1, sizeof(**out));
    return *out ? SIGIL_OK : SIGIL_E_NOMEM;
}

void sigil_rpc_authz_free(sigil_rpc_authz *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++) {
        free(a->rules[i].identity);
        free(a->rules[i].method);
        free(a->rules[i].key);
    }
    free(a->rules);
    free(a);
}

/* A pattern is non-empty, at most 256 bytes, and has no '*' except possibly
 * one at the very end. */
static int pattern_ok(const char *p)
{
    size_t n;
    const char *star;

    if (!p || !(n = strlen(p)) || n > 256)
        return 0;
    star = strchr(p, '*');
    return !star || star == p + n - 1;
}

static int pattern_match(const char *pat, const char *s)
{
    size_t n = strlen(pat);
    if (pat[n - 1] == '*')
        return strncmp(pat, s, n - 1) == 0;
    return strcmp(pat, s) == 0;
}

int sigil_rpc_authz_allow(sigil_rpc_authz *a, const char *identity, const char *method,
                          const char *key)
{
    rule r;

    if (!a || !pattern_ok(identity) || !pattern_ok(method) || !pattern_ok(key))
        return SIGIL_E_INVALID;
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 16;
        rule *nr = realloc(a->rules, cap * sizeof(*nr));
        if (!nr)
            return SIGIL_E_NOMEM;
        a->rules = nr;
        a->cap = cap;
    }
    r.identity = strdup(identity);
    r.method = strdup(method);
    r.key = strdup(key);
    if (!r.identity || !r.method || !r.key) {
        free(r.identity);
        free(r.method);
        free(r.key);
        return SIGIL_E_NOMEM;
    }
    a->rules[a->n++] = r;
    return SIGIL_OK;
}

int sigil_rpc_authz_check(const sigil_rpc_authz *a, const char *identity, const char *method,
                          const char *key)
{
    if (!a || !identity || !method || !key || !*identity || !*method)
        return SIGIL_E_PERMISSION;
    for (size_t i = 0; i < a->n; i++) {
        const rule *r = &a->rules[i];
        if (pattern_match(r->identity, identity) && pattern_match(r->method, method) &&
            pattern_match(r->key, key))
            return SIGIL_OK;
    }
    return SIGIL_E_PERMISSION;
}
