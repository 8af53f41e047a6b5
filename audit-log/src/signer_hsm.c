/* Checkpoint signer over a PKCS#11 Ed25519 key (sigil_hsm_sign_ed25519). */
#include <stdlib.h>
#include <string.h>

#include "sigil/audit_hsm.h"
#include "sigil/err.h"

typedef struct {
    sigil_hsm *h;
    char label[SIGIL_HSM_LABEL_MAX + 1];
} hsm_ctx;

static int hsm_sign(void *ctx, const uint8_t *msg, size_t n, uint8_t sig[64])
{
    hsm_ctx *c = ctx;
    return sigil_hsm_sign_ed25519(c->h, c->label, msg, n, sig);
}

int sigil_audit_signer_hsm(sigil_audit_signer *s, sigil_hsm *h, const char *key_label,
                           const char *name)
{
    sigil_audit_signer probe;
    uint8_t seed[32] = {0};
    int r;
    if (s == NULL || h == NULL || key_label == NULL || name == NULL)
        return SIGIL_E_INVALID;
    size_t ln = strlen(key_label);
    if (ln == 0 || ln > SIGIL_HSM_LABEL_MAX)
        return SIGIL_E_INVALID;
    /* Validate the note key name with the same rules as every signer. */
    if ((r = sigil_audit_signer_sodium(&probe, name, seed)))
        return r;
    sigil_audit_signer_free(&probe);
    memset(s, 0, sizeof(*s));
    hsm_ctx *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return SIGIL_E_NOMEM;
    c->h = h;
    memcpy(c->label, key_label, ln + 1);
    if ((r = sigil_hsm_ed25519_pubkey(h, c->label, s->pub))) {
        free(c);
        memset(s, 0, sizeof(*s));
        return r;
    }
    memcpy(s->name, name, strlen(name) + 1);
    s->sign = hsm_sign;
    s->ctx = c;
    s->free = free;
    return SIGIL_OK;
}
