/* sigil-node configuration: a key=value file, '#' comments. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "node.h"
#include "sigil/err.h"
#include "sigil/file.h"

static int set_str(char *dst, size_t cap, const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n >= cap)
        return -1;
    memcpy(dst, v, n + 1);
    return 0;
}

static int parse_u32(const char *v, uint32_t lo, uint32_t hi, uint32_t *out)
{
    char *end;
    if (!*v || *v == '-' || *v == '+')
        return -1;
    unsigned long x = strtoul(v, &end, 10);
    if (*end || x < lo || x > hi)
        return -1;
    *out = (uint32_t)x;
    return 0;
}

static int parse_pk(const char *v, uint8_t pk[32])
{
    size_t bin = 0;
    if (strlen(v) != 64 || sodium_hex2bin(pk, 32, v, 64, NULL, &bin, NULL) != 0 || bin != 32)
        return -1;
    return 0;
}

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > SIGIL_BREAKER_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '.' ||
              s[i] == '_' || s[i] == '-'))
            return 0;
    return 1;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = 0;
    return s;
}

int node_config_load(node_config *c, const char *path, char *err, size_t cap)
{
    memset(c, 0, sizeof *c);
    snprintf(c->pkcs11_module, sizeof c->pkcs11_module, "%s", "/usr/lib/softhsm/libsofthsm2.so");
    snprintf(c->token_label, sizeof c->token_label, "%s", "");
    c->pool_max = 20000;
    c->refill_max = 2000;
    c->presign_max = 2048;
    c->threads = 4;
    c->resume_k = 0;
    sigil_buf b;
    int rc = sigil_buf_init(&b, 1 << 20, 0);
    if (rc)
        return rc;
    rc = sigil_file_read(path, 1 << 20, &b);
    if (rc) {
        snprintf(err, cap, "cannot read %s: %s", path, sigil_strerror(rc));
        sigil_buf_free(&b);
        return rc;
    }
    char *text = calloc(1, b.size + 1);
    if (!text) {
        sigil_buf_free(&b);
        return SIGIL_E_NOMEM;
    }
    memcpy(text, b.data, b.size);
    size_t textlen = b.size;
    sigil_buf_free(&b);
    if (strlen(text) != textlen) {
        snprintf(err, cap, "%s: NUL byte in file", path);
        free(text);
        return SIGIL_E_ENCODING;
    }
    rc = SIGIL_OK;
    unsigned lineno = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line && !rc;
         line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        char *l = trim(line);
        if (!*l || *l == '#')
            continue;
        char *eq = strchr(l, '=');
        if (!eq) {
            snprintf(err, cap, "%s:%u: expected key = value", path, lineno);
            rc = SIGIL_E_ENCODING;
            break;
        }
        *eq = 0;
        char *k = trim(l), *v = trim(eq + 1);
        int bad = 0;
        uint32_t u;
        if (!strcmp(k, "node_id"))
            bad = parse_u32(v, 1, 65535, &c->node_id);
        else if (!strcmp(k, "listen"))
            bad = set_str(c->listen, sizeof c->listen, v);
        else if (!strcmp(k, "tls_ca"))
            bad = set_str(c->tls_ca, sizeof c->tls_ca, v);
        else if (!strcmp(k, "tls_cert"))
            bad = set_str(c->tls_cert, sizeof c->tls_cert, v);
        else if (!strcmp(k, "tls_key"))
            bad = set_str(c->tls_key, sizeof c->tls_key, v);
        else if (!strcmp(k, "pkcs11_module"))
            bad = set_str(c->pkcs11_module, sizeof c->pkcs11_module, v);
        else if (!strcmp(k, "token_label"))
            bad = set_str(c->token_label, sizeof c->token_label, v);
        else if (!strcmp(k, "pin_file"))
            bad = set_str(c->pin_file, sizeof c->pin_file, v);
        else if (!strcmp(k, "state_dir"))
            bad = set_str(c->state_dir, sizeof c->state_dir, v);
        else if (!strcmp(k, "cluster_id"))
            bad = !valid_name(v) || set_str(c->cluster_id, sizeof c->cluster_id, v);
        else if (!strcmp(k, "resume_k"))
            bad = parse_u32(v, 1, SIGIL_BREAKER_MAX_OFFICERS, &u) || ((c->resume_k = u), 0);
        else if (!strcmp(k, "pool_max"))
            bad = parse_u32(v, 1, 1000000, &c->pool_max);
        else if (!strcmp(k, "presign_max"))
            bad = parse_u32(v, 16, 1000000, &c->presign_max);
        else if (!strcmp(k, "refill_max"))
            bad = parse_u32(v, 1, 100000, &c->refill_max);
        else if (!strcmp(k, "threads"))
            bad = parse_u32(v, 1, 64, &u) || ((c->threads = u), 0);
        else if (!strncmp(k, "node.", 5)) {
            uint32_t id;
            if (c->npeers >= NODE_MAX_PEERS || parse_u32(k + 5, 1, 65535, &id) ||
                parse_pk(v, c->peer_pks[c->npeers]))
                bad = 1;
            else {
                for (size_t i = 0; i < c->npeers; i++)
                    if (c->peer_ids[i] == id)
                        bad = 1;
                c->peer_ids[c->npeers++] = id;
            }
        } else if (!strncmp(k, "officer.", 8)) {
            if (c->nofficers >= SIGIL_BREAKER_MAX_OFFICERS || !valid_name(k + 8) ||
                parse_pk(v, c->officers[c->nofficers].pk))
                bad = 1;
            else {
                for (size_t i = 0; i < c->nofficers; i++)
                    if (!strcmp(c->officers[i].name, k + 8))
                        bad = 1;
                snprintf(c->officers[c->nofficers].name, sizeof c->officers[0].name, "%s", k + 8);
                c->nofficers++;
            }
        } else {
            snprintf(err, cap, "%s:%u: unknown key '%s'", path, lineno, k);
            rc = SIGIL_E_ENCODING;
            break;
        }
        if (bad) {
            snprintf(err, cap, "%s:%u: bad value for '%s'", path, lineno, k);
            rc = SIGIL_E_ENCODING;
        }
    }
    free(text);
    if (rc)
        return rc;
    const char *missing = !c->node_id ? "node_id" : !c->listen[0] ? "listen"
                        : !c->tls_ca[0] ? "tls_ca" : !c->tls_cert[0] ? "tls_cert"
                        : !c->tls_key[0] ? "tls_key" : !c->token_label[0] ? "token_label"
                        : !c->pin_file[0] ? "pin_file" : !c->state_dir[0] ? "state_dir"
                        : !c->cluster_id[0] ? "cluster_id" : NULL;
    if (missing) {
        snprintf(err, cap, "%s: missing '%s'", path, missing);
        return SIGIL_E_INVALID;
    }
    if (c->nofficers && (c->resume_k == 0 || c->resume_k > c->nofficers)) {
        snprintf(err, cap, "%s: resume_k must be 1..%zu (number of officer.* keys)", path,
                 c->nofficers);
        return SIGIL_E_INVALID;
    }
    return SIGIL_OK;
}
