/* Key registry (public data only) and the breaker's persisted state, both
 * JSON files replaced atomically (sigil_file_write_atomic). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "sigil/coord.h"
#include "sigil/err.h"
#include "sigil/file.h"
#include "sigil/v1/common.pb-c.h"

#define STATE_FILE_MAX ((size_t)16 << 20)

struct sigil_coord_registry {
    pthread_mutex_t mu;
    char path[SIGIL_COORD_PATH_MAX];
    sigil_coord_key *keys;
    size_t count, alloc;
};

static const struct {
    int scheme;
    const char *name;
    const char *alias;
} schemes[] = {
    {SIGIL__V1__SCHEME__SCHEME_ED25519, "frost-ed25519", "ed25519"},
    {SIGIL__V1__SCHEME__SCHEME_SECP256K1_SCHNORR, "frost-secp256k1", "secp256k1"},
    {SIGIL__V1__SCHEME__SCHEME_BIP340, "frost-bip340", "bip340"},
    {SIGIL__V1__SCHEME__SCHEME_ECDSA_SECP256K1, "ecdsa", "ecdsa-secp256k1"},
};

int sigil_coord_scheme_parse(const char *name)
{
    for (size_t i = 0; name && i < sizeof schemes / sizeof schemes[0]; i++)
        if (!strcmp(name, schemes[i].name) || !strcmp(name, schemes[i].alias))
            return schemes[i].scheme;
    return 0;
}

const char *sigil_coord_scheme_name(int scheme)
{
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
        if (schemes[i].scheme == scheme)
            return schemes[i].name;
    return NULL;
}

/* Read a JSON file into a jansson value. *root = NULL and SIGIL_OK when the
 * file does not exist. */
static int read_json(const char *path, json_t **root)
{
    sigil_buf b;
    json_error_t je;
    int rc;
    *root = NULL;
    if ((rc = sigil_buf_init(&b, STATE_FILE_MAX, 0)))
        return rc;
    rc = sigil_file_read(path, STATE_FILE_MAX, &b);
    if (rc == SIGIL_E_NOT_FOUND) {
        sigil_buf_free(&b);
        return SIGIL_OK;
    }
    if (rc == SIGIL_OK) {
        *root = json_loadb((const char *)sigil_buf_ptr(&b), sigil_buf_len(&b),
                           JSON_REJECT_DUPLICATES, &je);
        if (!*root)
            rc = SIGIL_E_ENCODING;
    }
    sigil_buf_free(&b);
    return rc;
}

static int write_json(const char *path, json_t *root)
{
    char *s = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
    int rc;
    if (!s)
        return SIGIL_E_NOMEM;
    rc = sigil_file_write_atomic(path, s, strlen(s), 0600);
    free(s);
    return rc;
}

static int key_from_json(json_t *o, sigil_coord_key *k)
{
    const char *id, *sch, *pk, *pkg;
    json_t *parties;
    size_t bin = 0;
    memset(k, 0, sizeof *k);
    int t = 0, n = 0, ver = 0;
    json_int_t created = 0;
    if (json_unpack(o, "{s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:I, s:i, s:o}", "key_id", &id,
                    "scheme", &sch, "public_key", &pk, "public_package", &pkg, "threshold", &t,
                    "num_parties", &n, "state", &k->state, "created_unix", &created,
                    "share_version", &ver, "parties", &parties) ||
        t < 1 || n < 1 || ver < 0 || created < 0)
        return SIGIL_E_ENCODING;
    k->threshold = (uint32_t)t;
    k->num_parties = (uint32_t)n;
    k->share_version = (uint32_t)ver;
    k->created_unix = (uint64_t)created;
    if (sodium_hex2bin(k->package, sizeof k->package, pkg, strlen(pkg), NULL, &k->package_len,
                       NULL) || k->package_len == 0)
        return SIGIL_E_ENCODING;
    if (sigil_rpc_key_id_check(id) || !(k->scheme = sigil_coord_scheme_parse(sch)) ||
        !json_is_array(parties) || json_array_size(parties) != k->num_parties ||
        k->num_parties < 1 || k->num_parties > SIGIL_COORD_MAX_NODES || k->threshold < 1 ||
        k->threshold > k->num_parties)
        return SIGIL_E_ENCODING;
    strcpy(k->key_id, id);
    if (sodium_hex2bin(k->public_key, sizeof k->public_key, pk, strlen(pk), NULL, &bin, NULL) ||
        bin < 32)
        return SIGIL_E_ENCODING;
    k->pk_len = bin;
    for (size_t i = 0; i < k->num_parties; i++) {
        json_t *v = json_array_get(parties, i);
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 65535 ||
            (i && json_integer_value(v) <= (json_int_t)k->parties[i - 1]))
            return SIGIL_E_ENCODING;
        k->parties[i] = (uint32_t)json_integer_value(v);
    }
    return SIGIL_OK;
}

static json_t *key_to_json(const sigil_coord_key *k)
{
    char hex[2 * SIGIL_COORD_PK_MAX + 1];
    char *pkg = malloc(2 * k->package_len + 1);
    json_t *parties = json_array(), *o;
    if (!pkg)
        return NULL;
    sodium_bin2hex(pkg, 2 * k->package_len + 1, k->package, k->package_len);
    for (size_t i = 0; i < k->num_parties; i++)
        json_array_append_new(parties, json_integer(k->parties[i]));
    sodium_bin2hex(hex, sizeof hex, k->public_key, k->pk_len);
    o = json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:I, s:i, s:o}", "key_id", k->key_id,
                     "scheme", sigil_coord_scheme_name(k->scheme), "public_key", hex,
                     "public_package", pkg, "threshold",
                     (int)k->threshold, "num_parties", (int)k->num_parties, "state", k->state,
                     "created_unix", (json_int_t)k->created_unix, "share_version",
                     (int)k->share_version, "parties", parties);
    free(pkg);
    return o;
}

int sigil_coord_registry_open(const char *path, sigil_coord_registry **out)
{
    sigil_coord_registry *r;
    json_t *root = NULL, *keys;
    int rc;
    if (!path || !out || strlen(path) >= SIGIL_COORD_PATH_MAX)
        return SIGIL_E_INVALID;
    if ((rc = read_json(path, &root)))
        return rc;
    r = calloc(1, sizeof *r);
    if (!r) {
        json_decref(root);
        return SIGIL_E_NOMEM;
    }
    pthread_mutex_init(&r->mu, NULL);
    strcpy(r->path, path);
    if (root) {
        keys = json_object_get(root, "keys");
        rc = json_is_array(keys) ? SIGIL_OK : SIGIL_E_ENCODING;
        if (!rc && json_array_size(keys)) {
            r->alloc = json_array_size(keys);
            r->keys = calloc(r->alloc, sizeof *r->keys);
            if (!r->keys)
                rc = SIGIL_E_NOMEM;
        }
        for (size_t i = 0; !rc && i < json_array_size(keys); i++) {
            rc = key_from_json(json_array_get(keys, i), &r->keys[i]);
            for (size_t j = 0; !rc && j < i; j++)
                if (!strcmp(r->keys[j].key_id, r->keys[i].key_id))
                    rc = SIGIL_E_ENCODING;
            r->count = rc ? r->count : i + 1;
        }
        json_decref(root);
        if (rc) {
            sigil_coord_registry_free(r);
            return rc;
        }
    }
    *out = r;
    return SIGIL_OK;
}

void sigil_coord_registry_free(sigil_coord_registry *r)
{
    if (!r)
        return;
    pthread_mutex_destroy(&r->mu);
    free(r->keys);
    free(r);
}

int sigil_coord_registry_get(sigil_coord_registry *r, const char *key_id, sigil_coord_key *out)
{
    int rc = SIGIL_E_NOT_FOUND;
    if (!r || !key_id || !out)
        return SIGIL_E_INVALID;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->count; i++)
        if (!strcmp(r->keys[i].key_id, key_id)) {
            *out = r->keys[i];
            rc = SIGIL_OK;
            break;
        }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

static int persist(sigil_coord_registry *r, size_t count)
{
    json_t *root = json_object(), *keys = json_array();
    int rc;
    for (size_t i = 0; i < count; i++) {
        json_t *k = key_to_json(&r->keys[i]);
        if (!k || json_array_append_new(keys, k)) {
            json_decref(keys);
            json_decref(root);
            return SIGIL_E_NOMEM;
        }
    }
    json_object_set_new(root, "keys", keys);
    json_object_set_new(root, "version", json_integer(1));
    rc = write_json(r->path, root);
    json_decref(root);
    return rc;
}

int sigil_coord_registry_add(sigil_coord_registry *r, const sigil_coord_key *k)
{
    int rc = SIGIL_OK;
    if (!r || !k || sigil_rpc_key_id_check(k->key_id) || !sigil_coord_scheme_name(k->scheme) ||
        k->pk_len < 32 || k->pk_len > SIGIL_COORD_PK_MAX || k->package_len == 0 ||
        k->package_len > SIGIL_COORD_PACKAGE_MAX)
        return SIGIL_E_INVALID;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->count; i++)
        if (!strcmp(r->keys[i].key_id, k->key_id))
            rc = SIGIL_E_EXISTS;
    if (!rc && r->count == r->alloc) {
        size_t n = r->alloc ? 2 * r->alloc : 8;
        sigil_coord_key *p = realloc(r->keys, n * sizeof *p);
        if (!p)
            rc = SIGIL_E_NOMEM;
        else
            r->keys = p, r->alloc = n;
    }
    if (!rc) {
        r->keys[r->count] = *k;
        rc = persist(r, r->count + 1); /* durable first, then visible */
        if (!rc)
            r->count++;
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int sigil_coord_registry_update(sigil_coord_registry *r, const sigil_coord_key *k)
{
    int rc = SIGIL_E_NOT_FOUND;
    if (!r || !k || sigil_rpc_key_id_check(k->key_id) || !sigil_coord_scheme_name(k->scheme) ||
        k->pk_len < 32 || k->pk_len > SIGIL_COORD_PK_MAX || k->package_len == 0 ||
        k->package_len > SIGIL_COORD_PACKAGE_MAX)
        return SIGIL_E_INVALID;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->count; i++)
        if (!strcmp(r->keys[i].key_id, k->key_id)) {
            sigil_coord_key old = r->keys[i];
            r->keys[i] = *k;
            rc = persist(r, r->count); /* durable first, then visible */
            if (rc)
                r->keys[i] = old;
            break;
        }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int sigil_coord_registry_list(sigil_coord_registry *r, sigil_coord_key **keys, size_t *count)
{
    if (!r || !keys || !count)
        return SIGIL_E_INVALID;
    pthread_mutex_lock(&r->mu);
    *keys = malloc((r->count ? r->count : 1) * sizeof **keys);
    if (!*keys) {
        pthread_mutex_unlock(&r->mu);
        return SIGIL_E_NOMEM;
    }
    if (r->count)
        memcpy(*keys, r->keys, r->count * sizeof **keys);
    *count = r->count;
    pthread_mutex_unlock(&r->mu);
    return SIGIL_OK;
}

/* ---- breaker state ---- */

int sigil_coord_breaker_load(const char *path, sigil_coord_breaker_state *st)
{
    json_t *root = NULL;
    const char *by = "", *reason = "";
    int halted = 0, rc;
    json_int_t epoch = 0, at = 0;
    if (!path || !st)
        return SIGIL_E_INVALID;
    memset(st, 0, sizeof *st);
    if ((rc = read_json(path, &root)) || !root)
        return rc;
    if (json_unpack(root, "{s:b, s:I, s:s, s:s, s:I}", "halted", &halted, "epoch", &epoch, "by",
                    &by, "reason", &reason, "at_unix_ms", &at) ||
        epoch < 0 || at < 0 || strlen(by) >= sizeof st->by) {
        json_decref(root);
        return SIGIL_E_ENCODING;
    }
    st->halted = halted;
    st->epoch = (uint64_t)epoch;
    st->at_unix_ms = (uint64_t)at;
    strcpy(st->by, by);
    snprintf(st->reason, sizeof st->reason, "%s", reason);
    json_decref(root);
    return SIGIL_OK;
}

int sigil_coord_breaker_save(const char *path, const sigil_coord_breaker_state *st)
{
    json_t *root;
    int rc;
    if (!path || !st)
        return SIGIL_E_INVALID;
    root = json_pack("{s:b, s:I, s:s, s:s, s:I}", "halted", st->halted, "epoch",
                     (json_int_t)st->epoch, "by", st->by, "reason", st->reason, "at_unix_ms",
                     (json_int_t)st->at_unix_ms);
    if (!root)
        return SIGIL_E_NOMEM;
    rc = write_json(path, root);
    json_decref(root);
    return rc;
}
