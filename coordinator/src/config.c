/* The coordinator's JSON configuration (jansson). Every field is checked
 * here, once, so the daemon only ever sees validated values. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "sigil/coord.h"
#include "sigil/err.h"

#define CONFIG_MAX (1 << 20) /* a configuration file is small */

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return SIGIL_E_ENCODING;
}

/* Copy an optional string field; error when present but not a string or too long. */
static int get_str(json_t *o, const char *name, char *out, size_t n, int required, char *err,
                   size_t errlen)
{
    json_t *v = json_object_get(o, name);
    if (!v) {
        if (required)
            return fail(err, errlen, "missing field \"%s\"", name);
        return SIGIL_OK;
    }
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) >= n ||
        strlen(json_string_value(v)) != json_string_length(v))
        return fail(err, errlen, "field \"%s\": a non-empty string of at most %zu bytes", name,
                    n - 1);
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return SIGIL_OK;
}

static int get_u32(json_t *o, const char *name, uint32_t *out, uint32_t lo, uint32_t hi,
                   char *err, size_t errlen)
{
    json_t *v = json_object_get(o, name);
    if (!v)
        return SIGIL_OK; /* default stays */
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return fail(err, errlen, "field \"%s\": an integer in [%u, %u]", name, lo, hi);
    *out = (uint32_t)json_integer_value(v);
    return SIGIL_OK;
}

void sigil_coord_config_free(sigil_coord_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->rules);
    memset(cfg, 0, sizeof *cfg);
}

static int load_nodes(json_t *root, sigil_coord_config *cfg, char *err, size_t errlen)
{
    json_t *a = json_object_get(root, "nodes");
    if (!json_is_array(a) || json_array_size(a) < 1 || json_array_size(a) > SIGIL_COORD_MAX_NODES)
        return fail(err, errlen, "\"nodes\": an array of 1..%d nodes", SIGIL_COORD_MAX_NODES);
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *o = json_array_get(a, i);
        sigil_coord_node *n = &cfg->nodes[i];
        uint32_t id = 0;
        int rc;
        if (!json_is_object(o))
            return fail(err, errlen, "nodes[%zu]: an object", i);
        if ((rc = get_u32(o, "id", &id, 1, 65535, err, errlen)) || id == 0)
            return rc ? rc : fail(err, errlen, "nodes[%zu]: \"id\" 1..65535 required", i);
        for (size_t j = 0; j < i; j++)
            if (cfg->nodes[j].id == id)
                return fail(err, errlen, "nodes: duplicate id %u", id);
        n->id = id;
        if ((rc = get_str(o, "address", n->address, sizeof n->address, 1, err, errlen)))
            return rc;
        snprintf(n->identity, sizeof n->identity, "sigil://node/%u", id);
        if ((rc = get_str(o, "identity", n->identity, sizeof n->identity, 0, err, errlen)))
            return rc;
        sigil_rpc_peer p;
        if (sigil_rpc_identity_parse(n->identity, strlen(n->identity), &p) ||
            p.role != SIGIL_RPC_ROLE_NODE)
            return fail(err, errlen, "nodes[%zu]: identity \"%s\" is not sigil://node/<id>", i,
                        n->identity);
        char hex[65] = {0};
        size_t bin = 0;
        if (json_object_get(o, "identity_public_key")) {
            if ((rc = get_str(o, "identity_public_key", hex, sizeof hex, 1, err, errlen)))
                return rc;
            if (sodium_hex2bin(n->identity_pk, 32, hex, strlen(hex), NULL, &bin, NULL) ||
                bin != 32)
                return fail(err, errlen, "nodes[%zu]: identity_public_key is 64 hex digits", i);
            n->has_identity_pk = 1;
        }
    }
    cfg->num_nodes = json_array_size(a);
    /* ascending ids: quorums and party lists are ascending */
    for (size_t i = 1; i < cfg->num_nodes; i++)
        for (size_t j = i; j > 0 && cfg->nodes[j - 1].id > cfg->nodes[j].id; j--) {
            sigil_coord_node t = cfg->nodes[j];
            cfg->nodes[j] = cfg->nodes[j - 1];
            cfg->nodes[j - 1] = t;
        }
    return SIGIL_OK;
}

static int load_rules(json_t *root, sigil_coord_config *cfg, char *err, size_t errlen)
{
    json_t *a = json_object_get(root, "authz");
    if (!json_is_array(a) || json_array_size(a) > 4096)
        return fail(err, errlen, "\"authz\": an array of at most 4096 rules");
    cfg->rules = calloc(json_array_size(a) + 1, sizeof *cfg->rules);
    if (!cfg->rules)
        return SIGIL_E_NOMEM;
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *o = json_array_get(a, i);
        sigil_coord_rule *r = &cfg->rules[i];
        int rc;
        if (!json_is_object(o))
            return fail(err, errlen, "authz[%zu]: an object", i);
        if ((rc = get_str(o, "identity", r->identity, sizeof r->identity, 1, err, errlen)) ||
            (rc = get_str(o, "method", r->method, sizeof r->method, 1, err, errlen)) ||
            (rc = get_str(o, "key", r->key, sizeof r->key, 1, err, errlen)))
            return rc;
        /* validated for pattern syntax when the table is built */
        sigil_rpc_authz *t = NULL;
        if (sigil_rpc_authz_new(&t))
            return SIGIL_E_NOMEM;
        rc = sigil_rpc_authz_allow(t, r->identity, r->method, r->key);
        sigil_rpc_authz_free(t);
        if (rc)
            return fail(err, errlen, "authz[%zu]: bad pattern ('*' only at the end)", i);
    }
    cfg->num_rules = json_array_size(a);
    return SIGIL_OK;
}

static int load_officers(json_t *root, sigil_coord_config *cfg, char *err, size_t errlen)
{
    json_t *a = json_object_get(root, "officers");
    if (!a)
        return SIGIL_OK;
    if (!json_is_array(a) || json_array_size(a) > SIGIL_COORD_MAX_OFFICERS)
        return fail(err, errlen, "\"officers\": an array of at most %d", SIGIL_COORD_MAX_OFFICERS);
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *o = json_array_get(a, i);
        sigil_coord_officer *of = &cfg->officers[i];
        char hex[65] = {0};
        size_t bin = 0;
        int rc;
        if (!json_is_object(o))
            return fail(err, errlen, "officers[%zu]: an object", i);
        if ((rc = get_str(o, "name", of->name, sizeof of->name, 1, err, errlen)) ||
            (rc = get_str(o, "public_key", hex, sizeof hex, 1, err, errlen)))
            return rc;
        if (sodium_hex2bin(of->public_key, 32, hex, strlen(hex), NULL, &bin, NULL) || bin != 32)
            return fail(err, errlen, "officers[%zu]: public_key is 64 hex digits (Ed25519)", i);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(cfg->officers[j].name, of->name))
                return fail(err, errlen, "officers: duplicate name %s", of->name);
    }
    cfg->num_officers = json_array_size(a);
    return SIGIL_OK;
}

int sigil_coord_config_load(const char *path, sigil_coord_config *cfg, char *err, size_t errlen)
{
    json_error_t je;
    json_t *root, *tls, *o;
    int rc;

    if (!path || !cfg)
        return SIGIL_E_INVALID;
    memset(cfg, 0, sizeof *cfg);
    if (err && errlen)
        err[0] = 0;
    /* read once: the bytes parsed are the bytes hashed for the audit log */
    {
        FILE *f = fopen(path, "rb");
        uint8_t *data = NULL;
        size_t n = 0;
        if (f) {
            data = malloc(CONFIG_MAX + 1);
            if (data)
                n = fread(data, 1, CONFIG_MAX + 1, f);
            if (!data || ferror(f)) {
                free(data);
                data = NULL;
            }
            fclose(f);
        }
        if (!data) {
            fail(err, errlen, "%s: cannot read: %s", path, strerror(errno));
            return SIGIL_E_IO;
        }
        if (n > CONFIG_MAX) {
            free(data);
            fail(err, errlen, "%s: larger than %d bytes", path, CONFIG_MAX);
            return SIGIL_E_ENCODING;
        }
        crypto_hash_sha256(cfg->config_sha256, data, n);
        cfg->has_config_sha256 = 1;
        root = json_loadb((const char *)data, n, JSON_REJECT_DUPLICATES, &je);
        free(data);
    }
    if (!root) {
        fail(err, errlen, "%s:%d: %s", path, je.line, je.text);
        return SIGIL_E_ENCODING;
    }
    /* defaults */
    strcpy(cfg->listen, "127.0.0.1:7443");
    strcpy(cfg->cluster_id, "sigil");
    cfg->threshold = 2;
    cfg->approvals_required = 2;
    cfg->pool_frost_target = 1024;
    cfg->pool_ecdsa_target = 64;
    cfg->node_timeout_ms = 2000;
    cfg->sign_timeout_ms = 5000;
    cfg->keygen_timeout_ms = 60000;
    cfg->server_threads = 16;
    cfg->max_batch = 1024;
    cfg->queue_max = 4096;
    cfg->idem_capacity = 100000;

    rc = SIGIL_E_ENCODING;
    if (!json_is_object(root)) {
        fail(err, errlen, "the top level is a JSON object");
        goto out;
    }
    if ((rc = get_str(root, "listen", cfg->listen, sizeof cfg->listen, 0, err, errlen)) ||
        (rc = get_str(root, "state_dir", cfg->state_dir, sizeof cfg->state_dir, 1, err, errlen)) ||
        (rc = get_str(root, "cluster_id", cfg->cluster_id, sizeof cfg->cluster_id, 0, err, errlen)))
        goto out;
    tls = json_object_get(root, "tls");
    if (!json_is_object(tls)) {
        rc = fail(err, errlen, "missing object \"tls\" {ca, cert, key}");
        goto out;
    }
    if ((rc = get_str(tls, "ca", cfg->ca_file, sizeof cfg->ca_file, 1, err, errlen)) ||
        (rc = get_str(tls, "cert", cfg->cert_file, sizeof cfg->cert_file, 1, err, errlen)) ||
        (rc = get_str(tls, "key", cfg->key_file, sizeof cfg->key_file, 1, err, errlen)))
        goto out;
    if ((rc = load_nodes(root, cfg, err, errlen)) || (rc = load_rules(root, cfg, err, errlen)) ||
        (rc = load_officers(root, cfg, err, errlen)))
        goto out;
    if ((rc = get_u32(root, "threshold", &cfg->threshold, 1, (uint32_t)cfg->num_nodes, err,
                      errlen)) ||
        (rc = get_u32(root, "approvals_required", &cfg->approvals_required, 1,
                      SIGIL_COORD_MAX_OFFICERS, err, errlen)) ||
        (rc = get_u32(root, "server_threads", &cfg->server_threads, 1, 64, err, errlen)) ||
        (rc = get_u32(root, "max_batch", &cfg->max_batch, 1, 4096, err, errlen)) ||
        (rc = get_u32(root, "queue_max", &cfg->queue_max, 1, 1000000, err, errlen)) ||
        (rc = get_u32(root, "idem_capacity", &cfg->idem_capacity, 16, 10000000, err, errlen)))
        goto out;
    if (cfg->queue_max < cfg->max_batch) {
        rc = fail(err, errlen, "\"queue_max\" (%u) must be at least \"max_batch\" (%u): a full "
                  "batch must fit in the queue", cfg->queue_max, cfg->max_batch);
        goto out;
    }
    if ((o = json_object_get(root, "keygen_approvals"))) {
        if (!json_is_boolean(o)) {
            rc = fail(err, errlen, "\"keygen_approvals\": true or false");
            goto out;
        }
        cfg->keygen_approvals = json_is_true(o);
    }
    if ((o = json_object_get(root, "pool"))) {
        if ((rc = get_u32(o, "frost_target", &cfg->pool_frost_target, 0, 100000, err, errlen)) ||
            (rc = get_u32(o, "ecdsa_target", &cfg->pool_ecdsa_target, 0, 100000, err, errlen)))
            goto out;
    }
    if ((o = json_object_get(root, "timeouts_ms"))) {
        if ((rc = get_u32(o, "node_call", &cfg->node_timeout_ms, 10, 600000, err, errlen)) ||
            (rc = get_u32(o, "sign", &cfg->sign_timeout_ms, 10, 600000, err, errlen)) ||
            (rc = get_u32(o, "keygen", &cfg->keygen_timeout_ms, 100, 3600000, err, errlen)))
            goto out;
    }
    if ((o = json_object_get(root, "audit"))) {
        if (!json_is_object(o)) {
            rc = fail(err, errlen, "\"audit\": an object {dir, origin, token, pin_file}");
            goto out;
        }
        strcpy(cfg->audit_key_label, "sigil-audit");
        if ((rc = get_str(o, "dir", cfg->audit_dir, sizeof cfg->audit_dir, 1, err, errlen)) ||
            (rc = get_str(o, "origin", cfg->audit_origin, sizeof cfg->audit_origin, 1, err,
                          errlen)) ||
            (rc = get_str(o, "token", cfg->audit_token, sizeof cfg->audit_token, 1, err,
                          errlen)) ||
            (rc = get_str(o, "pin_file", cfg->audit_pin_file, sizeof cfg->audit_pin_file, 1, err,
                          errlen)) ||
            (rc = get_str(o, "key_label", cfg->audit_key_label, sizeof cfg->audit_key_label, 0,
                          err, errlen)) ||
            (rc = get_str(o, "pkcs11_module", cfg->pkcs11_module, sizeof cfg->pkcs11_module, 0,
                          err, errlen)))
            goto out;
        cfg->audit = 1;
    }
    if (cfg->num_officers && cfg->approvals_required > cfg->num_officers) {
        rc = fail(err, errlen, "approvals_required %u > %zu officers", cfg->approvals_required,
                  cfg->num_officers);
        goto out;
    }
    rc = SIGIL_OK;
out:
    json_decref(root);
    if (rc)
        sigil_coord_config_free(cfg);
    return rc;
}
