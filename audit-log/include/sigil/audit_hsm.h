/* The audit log's checkpoint signer backed by a PKCS#11 token (hsm/):
 * the Ed25519 log key never leaves the coordinator's token. Built only
 * when the hsm/ module is present (the library then defines
 * SIGIL_AUDIT_HAVE_HSM). */
#ifndef SIGIL_AUDIT_HSM_H
#define SIGIL_AUDIT_HSM_H

#include "sigil/audit.h"
#include "sigil/hsm.h"

/* Make s sign checkpoints with the token's Ed25519 key labelled key_label
 * (e.g. "sigil-audit", created by `sigil-hsm provision --label`), under the
 * note key name `name`. The public key is read from the token now. h must
 * stay open while s is used (sign may run on the log's writer thread:
 * sigil_hsm handles are thread-safe); sigil_audit_signer_free(s) does not
 * close h. Errors: SIGIL_E_INVALID (bad name or label), and those of
 * sigil_hsm_ed25519_pubkey (e.g. SIGIL_E_NOT_FOUND: no such key). */
int sigil_audit_signer_hsm(sigil_audit_signer *s, sigil_hsm *h, const char *key_label,
                           const char *name);

#endif
