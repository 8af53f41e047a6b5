/* Sigil error codes.
 *
 * Every function in every Sigil library returns 0 (SIGIL_OK) on success and
 * one of the negative codes below on failure. Codes are stable: they are
 * logged, compared in tests and mapped to RPC status codes. Functions that
 * fail leave their outputs in a defined state (zeroed or untouched, as their
 * contract says) and never leave secrets behind. */
#ifndef SIGIL_ERR_H
#define SIGIL_ERR_H

enum {
    SIGIL_OK = 0,
    SIGIL_E_INVALID = -1,        /* argument outside the function's contract */
    SIGIL_E_NOMEM = -2,          /* allocation (or secure allocation) failed */
    SIGIL_E_TRUNCATED = -3,      /* decoder ran past the end of its input */
    SIGIL_E_TRAILING = -4,       /* decoder finished with input left over */
    SIGIL_E_TOO_LARGE = -5,      /* length or count above the allowed maximum */
    SIGIL_E_ENCODING = -6,       /* malformed or non-canonical encoding */
    SIGIL_E_SCALAR = -7,         /* scalar not canonical (>= group order) */
    SIGIL_E_POINT = -8,          /* point not on the curve / not in the group */
    SIGIL_E_IDENTITY = -9,       /* identity element where it is forbidden */
    SIGIL_E_ZERO = -10,          /* zero scalar where it is forbidden */
    SIGIL_E_VERSION = -11,       /* unknown encoding version or type tag */
    SIGIL_E_PARTICIPANT = -12,   /* unknown, duplicate or wrong participant */
    SIGIL_E_THRESHOLD = -13,     /* participant count outside [t, n] */
    SIGIL_E_STATE = -14,         /* call out of order for the object's state */
    SIGIL_E_USED = -15,          /* single-use object already consumed */
    SIGIL_E_PROOF = -16,         /* proof of knowledge does not verify */
    SIGIL_E_SHARE = -17,         /* secret share inconsistent with commitments */
    SIGIL_E_SIG_SHARE = -18,     /* signature share does not verify */
    SIGIL_E_SIGNATURE = -19,     /* signature does not verify */
    SIGIL_E_CONFIRM = -20,       /* DKG confirmations disagree */
    SIGIL_E_SESSION = -21,       /* message bound to another session */
    SIGIL_E_MISMATCH = -22,      /* values that must agree do not */
    SIGIL_E_CHECK = -23,         /* protocol consistency check failed */
    SIGIL_E_RANDOM = -24,        /* randomness source failed */
    SIGIL_E_CRYPTO = -25,        /* underlying crypto library failed */
    SIGIL_E_IO = -26,            /* I/O failed (never returned by mpc/) */
    SIGIL_E_NOT_FOUND = -27,     /* named object does not exist */
    SIGIL_E_EXISTS = -28,        /* object already exists */
    SIGIL_E_PERMISSION = -29,    /* caller not authorized */
    SIGIL_E_HALTED = -30,        /* circuit breaker is tripped */
    SIGIL_E_TIMEOUT = -31,       /* deadline passed */
    SIGIL_E_UNAVAILABLE = -32,   /* dependency (HSM, log, peer) unavailable */
    SIGIL_E_REPLAY = -33,        /* message, nonce or session id seen before */
    SIGIL_E_EXPIRED = -34,       /* statement past its expiry */
    SIGIL_E_UNSEAL = -35,        /* authenticated decryption failed (context or bytes) */
    SIGIL_E__LAST = -36
};

/* A short, static, human-readable description of an error code. Never NULL. */
const char *sigil_strerror(int err);

/* The symbolic name of an error code ("SIGIL_E_POINT"). Never NULL. */
const char *sigil_errname(int err);

#endif
