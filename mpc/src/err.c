#include "sigil/err.h"

static const struct {
    const char *name;
    const char *text;
} errs[] = {
    {"SIGIL_OK", "success"},
    {"SIGIL_E_INVALID", "invalid argument"},
    {"SIGIL_E_NOMEM", "out of memory"},
    {"SIGIL_E_TRUNCATED", "input truncated"},
    {"SIGIL_E_TRAILING", "unexpected trailing data"},
    {"SIGIL_E_TOO_LARGE", "length or count above limit"},
    {"SIGIL_E_ENCODING", "malformed or non-canonical encoding"},
    {"SIGIL_E_SCALAR", "scalar not canonical"},
    {"SIGIL_E_POINT", "invalid group element"},
    {"SIGIL_E_IDENTITY", "identity element not allowed"},
    {"SIGIL_E_ZERO", "zero scalar not allowed"},
    {"SIGIL_E_VERSION", "unknown version or type"},
    {"SIGIL_E_PARTICIPANT", "unknown, duplicate or wrong participant"},
    {"SIGIL_E_THRESHOLD", "participant count outside threshold bounds"},
    {"SIGIL_E_STATE", "operation out of order"},
    {"SIGIL_E_USED", "single-use object already consumed"},
    {"SIGIL_E_PROOF", "proof of knowledge invalid"},
    {"SIGIL_E_SHARE", "secret share inconsistent with commitments"},
    {"SIGIL_E_SIG_SHARE", "signature share invalid"},
    {"SIGIL_E_SIGNATURE", "signature invalid"},
    {"SIGIL_E_CONFIRM", "confirmations disagree"},
    {"SIGIL_E_SESSION", "message belongs to another session"},
    {"SIGIL_E_MISMATCH", "values disagree"},
    {"SIGIL_E_CHECK", "consistency check failed"},
    {"SIGIL_E_RANDOM", "randomness source failed"},
    {"SIGIL_E_CRYPTO", "cryptographic library failure"},
    {"SIGIL_E_IO", "I/O error"},
    {"SIGIL_E_NOT_FOUND", "not found"},
    {"SIGIL_E_EXISTS", "already exists"},
    {"SIGIL_E_PERMISSION", "permission denied"},
    {"SIGIL_E_HALTED", "signing halted by circuit breaker"},
    {"SIGIL_E_TIMEOUT", "timed out"},
    {"SIGIL_E_UNAVAILABLE", "dependency unavailable"},
    {"SIGIL_E_REPLAY", "replay detected"},
    {"SIGIL_E_EXPIRED", "expired"},
    {"SIGIL_E_UNSEAL", "unseal failed: wrong context or tampered blob"},
};

_Static_assert(sizeof(errs) / sizeof(errs[0]) == -SIGIL_E__LAST, "error table");

const char *sigil_strerror(int err)
{
    if (err > 0 || err <= SIGIL_E__LAST)
        return "unknown error";
    return errs[-err].text;
}

const char *sigil_errname(int err)
{
    if (err > 0 || err <= SIGIL_E__LAST)
        return "SIGIL_E_UNKNOWN";
    return errs[-err].name;
}
