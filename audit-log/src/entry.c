/* Canonical entry encoding: see sigil/audit.h for the layout. */
#include <string.h>

#include "sigil/audit.h"
#include "sigil/err.h"

static const char *const type_names[] = {NULL,   "sign",   "keygen",   "refresh", "halt",
                                         "resume", "ceremony", "config", "share"};
static const char *const scheme_names[] = {"none", "ed25519", "secp256k1", "bip340", "ecdsa"};

const char *sigil_audit_type_name(uint8_t type)
{
    return (type >= 1 && type <= SIGIL_AUDIT_TYPE__LAST) ? type_names[type] : NULL;
}

const char *sigil_audit_scheme_name(uint8_t scheme)
{
    return scheme <= SIGIL_AUDIT_SCHEME__LAST ? scheme_names[scheme] : NULL;
}

uint8_t sigil_audit_type_from_name(const char *name)
{
    for (uint8_t i = 1; i <= SIGIL_AUDIT_TYPE__LAST; i++)
        if (!strcmp(name, type_names[i]))
            return i;
    return 0;
}

uint8_t sigil_audit_scheme_from_name(const char *name)
{
    for (uint8_t i = 1; i <= SIGIL_AUDIT_SCHEME__LAST; i++)
        if (!strcmp(name, scheme_names[i]))
            return i;
    return 0;
}

/* Text fields (actor, error message, request id) must be printable: no
 * control bytes, so `show` never prints terminal escapes from the log. */
static int printable(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

static int check(const sigil_audit_entry *e)
{
    if (e->version != SIGIL_AUDIT_ENTRY_VERSION)
        return SIGIL_E_VERSION;
    if (e->type < 1 || e->type > SIGIL_AUDIT_TYPE__LAST || e->scheme > SIGIL_AUDIT_SCHEME__LAST ||
        e->outcome > SIGIL_AUDIT_OUTCOME_ERROR)
        return SIGIL_E_VERSION;
    /* actor and errmsg: a u8 length cannot exceed their 255-byte maximum. */
    _Static_assert(SIGIL_AUDIT_ACTOR_MAX == 255 && SIGIL_AUDIT_ERRMSG_MAX == 255, "u8 lengths");
    if (e->key_id_len > SIGIL_AUDIT_KEYID_MAX ||
        e->digest_len > SIGIL_AUDIT_DIGEST_MAX || e->sig_len > SIGIL_AUDIT_SIG_MAX ||
        e->n_signers > SIGIL_AUDIT_SIGNERS_MAX ||
        e->request_id_len > SIGIL_AUDIT_REQID_MAX)
        return SIGIL_E_ENCODING;
    if (!printable(e->actor, e->actor_len) || !printable(e->request_id, e->request_id_len) ||
        !printable(e->errmsg, e->errmsg_len))
        return SIGIL_E_ENCODING;
    if (e->outcome == SIGIL_AUDIT_OUTCOME_ERROR && e->error >= 0)
        return SIGIL_E_ENCODING;
    if (e->outcome != SIGIL_AUDIT_OUTCOME_ERROR && (e->error != 0 || e->errmsg_len != 0))
        return SIGIL_E_ENCODING;
    if (e->outcome != SIGIL_AUDIT_OUTCOME_SIGNATURE && e->sig_len != 0)
        return SIGIL_E_ENCODING;
    for (unsigned i = 1; i < e->n_signers; i++)
        if (e->signers[i] <= e->signers[i - 1])
            return SIGIL_E_ENCODING;
    return SIGIL_OK;
}

static int put_bytes8(sigil_buf *b, const void *p, uint8_t n)
{
    int r = sigil_buf_put_u8(b, n);
    return r ? r : sigil_buf_put(b, p, n);
}

int sigil_audit_entry_encode(const sigil_audit_entry *e, sigil_buf *out)
{
    int r;
    if (e == NULL || out == NULL)
        return SIGIL_E_INVALID;
    if (check(e) != SIGIL_OK)
        return SIGIL_E_INVALID;
    size_t start = out->size;
    if ((r = sigil_buf_put_u8(out, e->version)) || (r = sigil_buf_put_u64(out, e->seq)) ||
        (r = sigil_buf_put_u64(out, e->time_ms)) || (r = sigil_buf_put_u8(out, e->type)) ||
        (r = sigil_buf_put_u16(out, e->party)) || (r = put_bytes8(out, e->actor, e->actor_len)) ||
        (r = put_bytes8(out, e->key_id, e->key_id_len)) || (r = sigil_buf_put_u8(out, e->scheme)) ||
        (r = put_bytes8(out, e->digest, e->digest_len)) || (r = sigil_buf_put_u8(out, e->outcome)))
        goto fail;
    if (e->outcome == SIGIL_AUDIT_OUTCOME_SIGNATURE && (r = put_bytes8(out, e->sig, e->sig_len)))
        goto fail;
    if (e->outcome == SIGIL_AUDIT_OUTCOME_ERROR &&
        ((r = sigil_buf_put_u32(out, (uint32_t)e->error)) ||
         (r = put_bytes8(out, e->errmsg, e->errmsg_len))))
        goto fail;
    if ((r = sigil_buf_put_u8(out, e->n_signers)))
        goto fail;
    for (unsigned i = 0; i < e->n_signers; i++)
        if ((r = sigil_buf_put_u16(out, e->signers[i])))
            goto fail;
    if ((r = put_bytes8(out, e->request_id, e->request_id_len)))
        goto fail;
    return SIGIL_OK;
fail:
    out->size = start; /* leave out as it was */
    return r;
}

static int get_bytes8(sigil_buf *b, void *dst, uint8_t *len, size_t max)
{
    uint8_t n;
    const uint8_t *p;
    int r;
    if ((r = sigil_buf_get_u8(b, &n)))
        return r;
    if (n > max)
        return SIGIL_E_ENCODING;
    if ((r = sigil_buf_get_ptr(b, n, &p)))
        return r;
    memcpy(dst, p, n);
    *len = n;
    return SIGIL_OK;
}

int sigil_audit_entry_decode(const uint8_t *p, size_t n, sigil_audit_entry *e)
{
    sigil_buf b;
    int r;
    uint32_t err32;
    if (e == NULL || (p == NULL && n))
        return SIGIL_E_INVALID;
    memset(e, 0, sizeof(*e));
    sigil_buf_view(&b, p, n);
    if ((r = sigil_buf_get_u8(&b, &e->version)))
        goto fail;
    if (e->version != SIGIL_AUDIT_ENTRY_VERSION) {
        r = SIGIL_E_VERSION;
        goto fail;
    }
    if ((r = sigil_buf_get_u64(&b, &e->seq)) || (r = sigil_buf_get_u64(&b, &e->time_ms)) ||
        (r = sigil_buf_get_u8(&b, &e->type)) || (r = sigil_buf_get_u16(&b, &e->party)) ||
        (r = get_bytes8(&b, e->actor, &e->actor_len, SIGIL_AUDIT_ACTOR_MAX)) ||
        (r = get_bytes8(&b, e->key_id, &e->key_id_len, SIGIL_AUDIT_KEYID_MAX)) ||
        (r = sigil_buf_get_u8(&b, &e->scheme)) ||
        (r = get_bytes8(&b, e->digest, &e->digest_len, SIGIL_AUDIT_DIGEST_MAX)) ||
        (r = sigil_buf_get_u8(&b, &e->outcome)))
        goto fail;
    if (e->type < 1 || e->type > SIGIL_AUDIT_TYPE__LAST || e->scheme > SIGIL_AUDIT_SCHEME__LAST ||
        e->outcome > SIGIL_AUDIT_OUTCOME_ERROR) {
        r = SIGIL_E_VERSION;
        goto fail;
    }
    if (e->outcome == SIGIL_AUDIT_OUTCOME_SIGNATURE &&
        (r = get_bytes8(&b, e->sig, &e->sig_len, SIGIL_AUDIT_SIG_MAX)))
        goto fail;
    if (e->outcome == SIGIL_AUDIT_OUTCOME_ERROR) {
        if ((r = sigil_buf_get_u32(&b, &err32)) ||
            (r = get_bytes8(&b, e->errmsg, &e->errmsg_len, SIGIL_AUDIT_ERRMSG_MAX)))
            goto fail;
        e->error = (int32_t)err32;
    }
    if ((r = sigil_buf_get_u8(&b, &e->n_signers)))
        goto fail;
    if (e->n_signers > SIGIL_AUDIT_SIGNERS_MAX) {
        r = SIGIL_E_ENCODING;
        goto fail;
    }
    for (unsigned i = 0; i < e->n_signers; i++)
        if ((r = sigil_buf_get_u16(&b, &e->signers[i])))
            goto fail;
    if ((r = get_bytes8(&b, e->request_id, &e->request_id_len, SIGIL_AUDIT_REQID_MAX)) ||
        (r = sigil_buf_end(&b)))
        goto fail;
    if ((r = check(e)))
        goto fail;
    return SIGIL_OK;
fail:
    memset(e, 0, sizeof(*e));
    return r;
}
