/* TLS material and peer identities from X.509 SANs. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/grpc_security_constants.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sodium.h>

#include "sigil/err.h"

#define PEM_MAX ((long)1 << 20)

int rpc_pem_read(const char *path, char **out)
{
    FILE *f;
    long n = 0;
    char *p;

    *out = NULL;
    if (!path)
        return SIGIL_E_INVALID;
    if (!(f = fopen(path, "rb")))
        return SIGIL_E_IO;
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || n > PEM_MAX ||
        fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return n > PEM_MAX ? SIGIL_E_TOO_LARGE : SIGIL_E_IO;
    }
    if (!(p = malloc((size_t)n + 1))) {
        fclose(f);
        return SIGIL_E_NOMEM;
    }
    if (fread(p, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        sodium_memzero(p, (size_t)n + 1);
        free(p);
        return SIGIL_E_IO;
    }
    fclose(f);
    p[n] = '\0';
    if (strlen(p) != (size_t)n || !strstr(p, "-----BEGIN ")) {
        sodium_memzero(p, (size_t)n + 1);
        free(p);
        return SIGIL_E_ENCODING;
    }
    *out = p;
    return SIGIL_OK;
}

void rpc_pem_free(char *p)
{
    if (p) {
        sodium_memzero(p, strlen(p));
        free(p);
    }
}

/* Fold one candidate URI into *out: the first well-formed sigil:// URI is
 * kept, a second sigil:// URI (or a malformed one) makes the identity
 * ambiguous. Returns 0 to continue, -1 when the identity is rejected. */
static int take_uri(const char *v, size_t n, sigil_rpc_peer *out, int *found)
{
    if (n < 8 || memcmp(v, "sigil://", 8) != 0)
        return 0; /* other URIs (e.g. spiffe://) are ignored */
    if (*found)
        return -1;
    if (sigil_rpc_identity_parse(v, n, out) != SIGIL_OK)
        return -1;
    *found = 1;
    return 0;
}

int rpc_peer_from_call(grpc_call *call, sigil_rpc_peer *out)
{
    grpc_auth_context *ctx;
    grpc_auth_property_iterator it;
    const grpc_auth_property *p;
    int found = 0, bad = 0;

    memset(out, 0, sizeof(*out));
    if (!(ctx = grpc_call_auth_context(call)))
        return SIGIL_E_PERMISSION;
    if (!grpc_auth_context_peer_is_authenticated(ctx)) {
        grpc_auth_context_release(ctx);
        return SIGIL_E_PERMISSION;
    }
    it = grpc_auth_context_find_properties_by_name(ctx, GRPC_PEER_URI_PROPERTY_NAME);
    while ((p = grpc_auth_property_iterator_next(&it)) && !bad)
        bad = take_uri(p->value, p->value_length, out, &found) != 0;
    grpc_auth_context_release(ctx);
    if (bad || !found) {
        memset(out, 0, sizeof(*out));
        return SIGIL_E_PERMISSION;
    }
    return SIGIL_OK;
}

int rpc_peer_from_pem(const char *pem, sigil_rpc_peer *out)
{
    BIO *bio;
    X509 *x;
    GENERAL_NAMES *names;
    int found = 0, bad = 0;

    memset(out, 0, sizeof(*out));
    if (!pem || !(bio = BIO_new_mem_buf(pem, -1)))
        return SIGIL_E_PERMISSION;
    x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (!x)
        return SIGIL_E_PERMISSION;
    names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; names && i < sk_GENERAL_NAME_num(names) && !bad; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        if (g->type != GEN_URI)
            continue;
        bad = take_uri((const char *)ASN1_STRING_get0_data(g->d.uniformResourceIdentifier),
                       (size_t)ASN1_STRING_length(g->d.uniformResourceIdentifier), out,
                       &found) != 0;
    }
    GENERAL_NAMES_free(names);
    X509_free(x);
    if (bad || !found) {
        memset(out, 0, sizeof(*out));
        return SIGIL_E_PERMISSION;
    }
    return SIGIL_OK;
}

void rpc_args_init(rpc_args *a, size_t max_message, const char *name, int server)
{
    size_t n = 0;

    memset(a, 0, sizeof(*a));
    a->arg[n].type = GRPC_ARG_INTEGER;
    a->arg[n].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    a->arg[n++].value.integer = (int)max_message;
    a->arg[n].type = GRPC_ARG_INTEGER;
    a->arg[n].key = (char *)GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
    a->arg[n++].value.integer = (int)max_message;
    if (server) {
        a->arg[n].type = GRPC_ARG_INTEGER;
        a->arg[n].key = (char *)GRPC_ARG_MAX_CONCURRENT_STREAMS;
        a->arg[n++].value.integer = RPC_MAX_STREAMS_PER_CONNECTION;
    }
    if (name) {
        a->arg[n].type = GRPC_ARG_STRING;
        a->arg[n].key = (char *)GRPC_SSL_TARGET_NAME_OVERRIDE_ARG;
        a->arg[n++].value.string = (char *)name;
    }
    a->args.num_args = n;
    a->args.args = a->arg;
}

void rpc_lib_ref(void)
{
    grpc_init();
}

void rpc_lib_unref(void)
{
    grpc_shutdown();
}
