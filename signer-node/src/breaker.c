/* k-of-m approvals and used nonces (sigil/breaker.h). */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "sigil/breaker.h"
#include "sigil/err.h"
#include "sigil/file.h"
#include "sigil/rpc.h"
#include "sigil/v1/common.pb-c.h"

int sigil_breaker_approval_message(const uint8_t *statement, size_t len, sigil_buf *out)
{
    if (!out || (!statement && len))
        return SIGIL_E_INVALID;
    int rc = sigil_buf_put(out, SIGIL_BREAKER_APPROVAL_DOMAIN, sizeof SIGIL_BREAKER_APPROVAL_DOMAIN);
    if (!rc)
        rc = sigil_buf_put(out, statement, len);
    return rc;
}

static int copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (n >= cap)
        return SIGIL_E_ENCODING;
    memcpy(dst, src ? src : "", n);
    dst[n] = 0;
    return SIGIL_OK;
}

int sigil_breaker_verify(const sigil_breaker_policy *pol, const uint8_t *statement, size_t len,
                         const sigil_breaker_approval *a, size_t n, const char *action,
                         uint64_t now_unix, uint64_t epoch, sigil_breaker_statement *out)
{
    if (!pol || !action || (!statement && len) || (!a && n) || pol->k < 1 || pol->k > pol->m ||
        pol->m > SIGIL_BREAKER_MAX_OFFICERS || !pol->cluster_id)
        return SIGIL_E_INVALID;
    if (len > SIGIL_BREAKER_STATEMENT_MAX || n > SIGIL_BREAKER_MAX_OFFICERS)
        return SIGIL_E_TOO_LARGE;
    uint8_t seen[SIGIL_BREAKER_MAX_OFFICERS] = {0};
    size_t idx[SIGIL_BREAKER_MAX_OFFICERS];
    for (size_t i = 0; i < n; i++) {
        size_t j;
        for (j = 0; j < pol->m; j++)
            if (a[i].officer && strcmp(a[i].officer, pol->officers[j].name) == 0)
                break;
        if (j == pol->m)
            return SIGIL_E_PERMISSION;
        if (seen[j])
            return SIGIL_E_PARTICIPANT;
        seen[j] = 1;
        idx[i] = j;
    }
    sigil_buf m;
    int rc = sigil_buf_init(&m, len + 64, 0);
    if (rc)
        return rc;
    rc = sigil_breaker_approval_message(statement, len, &m);
    for (size_t i = 0; i < n && !rc; i++) {
        if (!a[i].signature || a[i].signature_len != 64 ||
            crypto_sign_verify_detached(a[i].signature, m.data, m.size,
                                        pol->officers[idx[i]].pk) != 0)
            rc = SIGIL_E_SIGNATURE;
    }
    sigil_buf_free(&m);
    if (rc)
        return rc;
    if (n < pol->k)
        return SIGIL_E_THRESHOLD;

    ProtobufCMessage *msg = NULL;
    rc = sigil_rpc_unpack(&sigil__v1__approval_statement__descriptor, statement, len,
                          SIGIL_BREAKER_STATEMENT_MAX, &msg);
    if (rc)
        return SIGIL_E_ENCODING;
    const Sigil__V1__ApprovalStatement *s = (const Sigil__V1__ApprovalStatement *)msg;
    sigil_breaker_statement st;
    memset(&st, 0, sizeof st);
    if (s->nonce.len != 32 || copy_str(st.action, sizeof st.action, s->action) ||
        copy_str(st.cluster_id, sizeof st.cluster_id, s->cluster_id) ||
        copy_str(st.key_id, sizeof st.key_id, s->key_id) ||
        (s->params_hash.len != 0 && s->params_hash.len != 32)) {
        rc = SIGIL_E_ENCODING;
    } else {
        memcpy(st.nonce, s->nonce.data, 32);
        st.expires_unix = s->expires_unix;
        st.halt_epoch = s->halt_epoch;
        st.params_hash_len = s->params_hash.len;
        if (st.params_hash_len)
            memcpy(st.params_hash, s->params_hash.data, 32);
    }
    sigil_rpc_msg_free(msg);
    if (rc)
        return rc;
    if (strcmp(st.action, action) != 0 || strcmp(st.cluster_id, pol->cluster_id) != 0 ||
        (st.halt_epoch != 0 && st.halt_epoch != epoch))
        return SIGIL_E_MISMATCH;
    uint64_t life = pol->max_lifetime_s ? pol->max_lifetime_s : 3600;
    if (st.expires_unix <= now_unix || st.expires_unix > now_unix + life)
        return SIGIL_E_EXPIRED;
    if (out)
        *out = st;
    return SIGIL_OK;
}

/* ---- used nonces: file = repeated (32 nonce || u64 expires) ---- */

#define NONCE_REC 40
#define NONCE_MAX 100000

struct sigil_breaker_nonces {
    char *path;
    uint8_t *rec; /* count * NONCE_REC */
    size_t count;
};

int sigil_breaker_nonces_open(sigil_breaker_nonces **out, const char *path)
{
    if (!out || !path)
        return SIGIL_E_INVALID;
    *out = NULL;
    sigil_breaker_nonces *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return SIGIL_E_NOMEM;
    }
    sigil_buf b;
    int rc = sigil_buf_init(&b, (size_t)NONCE_MAX * NONCE_REC, 0);
    if (!rc) {
        rc = sigil_file_read(path, (size_t)NONCE_MAX * NONCE_REC, &b);
        if (rc == SIGIL_E_NOT_FOUND)
            rc = SIGIL_OK;
        else if (!rc && b.size % NONCE_REC)
            rc = SIGIL_E_ENCODING;
    }
    if (!rc && b.size) {
        s->rec = malloc(b.size);
        if (!s->rec)
            rc = SIGIL_E_NOMEM;
        else {
            memcpy(s->rec, b.data, b.size);
            s->count = b.size / NONCE_REC;
        }
    }
    sigil_buf_free(&b);
    if (rc) {
        sigil_breaker_nonces_free(s);
        return rc;
    }
    *out = s;
    return SIGIL_OK;
}

static uint64_t rd64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

int sigil_breaker_nonces_use(sigil_breaker_nonces *s, const uint8_t nonce[32],
                             uint64_t expires_unix, uint64_t now_unix)
{
    if (!s || !nonce)
        return SIGIL_E_INVALID;
    for (size_t i = 0; i < s->count; i++)
        if (memcmp(s->rec + i * NONCE_REC, nonce, 32) == 0)
            return SIGIL_E_REPLAY;
    /* keep unexpired records, add the new one */
    uint8_t *nr = malloc((s->count + 1) * NONCE_REC);
    if (!nr)
        return SIGIL_E_NOMEM;
    size_t k = 0;
    for (size_t i = 0; i < s->count; i++)
        if (rd64(s->rec + i * NONCE_REC + 32) > now_unix)
            memcpy(nr + NONCE_REC * k++, s->rec + i * NONCE_REC, NONCE_REC);
    if (k >= NONCE_MAX) {
        free(nr);
        return SIGIL_E_TOO_LARGE;
    }
    memcpy(nr + NONCE_REC * k, nonce, 32);
    for (int i = 0; i < 8; i++)
        nr[NONCE_REC * k + 32 + i] = (uint8_t)(expires_unix >> (56 - 8 * i));
    k++;
    int rc = sigil_file_write_atomic(s->path, nr, k * NONCE_REC, 0600);
    if (rc) {
        free(nr);
        return rc;
    }
    free(s->rec);
    s->rec = nr;
    s->count = k;
    return SIGIL_OK;
}

void sigil_breaker_nonces_free(sigil_breaker_nonces *s)
{
    if (!s)
        return;
    free(s->path);
    free(s->rec);
    free(s);
}
