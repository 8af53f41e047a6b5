/* sigil_audit: the append-only, tamper-evident audit log.
 *
 * Layers, each usable on its own:
 *   1. Entries: one canonical binary encoding (sigil_audit_entry_encode /
 *      _decode). Decoding is bounds-checked and rejects every non-canonical
 *      form, so encode(decode(x)) == x for every accepted x.
 *   2. Merkle tree per RFC 6962 / RFC 9162: leaf = SHA-256(0x00 || entry),
 *      node = SHA-256(0x01 || left || right). A compact range (the right
 *      border of the tree) gives O(log n) appends and the root; proofs are
 *      generated from the leaf hashes and verified from hashes only.
 *   3. Checkpoints: C2SP tlog-checkpoint text (origin, size, base64 root)
 *      signed as a C2SP signed note with Ed25519. The signer is an interface
 *      (a sign callback and the public key) so the key can live in a PKCS#11
 *      token; sigil_audit_signer_sodium is the libsodium implementation.
 *   4. The log: append with group commit (many entries share one fsync), a
 *      checkpoint every N entries or T milliseconds, on a file backend (the
 *      default) or PostgreSQL. The verifier (sigil_audit_verify_*) reads the
 *      stored log through its own code path, not the writer's.
 *
 * Every function returns SIGIL_OK (0) or a negative SIGIL_E_* code. */
#ifndef SIGIL_AUDIT_H
#define SIGIL_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "sigil/buf.h"

/* ---------------------------------------------------------------- entries */

#define SIGIL_AUDIT_ENTRY_VERSION 1
#define SIGIL_AUDIT_ACTOR_MAX 255     /* identity from the peer certificate */
#define SIGIL_AUDIT_KEYID_MAX 64
#define SIGIL_AUDIT_DIGEST_MAX 64
#define SIGIL_AUDIT_SIG_MAX 128
#define SIGIL_AUDIT_ERRMSG_MAX 255
#define SIGIL_AUDIT_SIGNERS_MAX 64
#define SIGIL_AUDIT_REQID_MAX 128
#define SIGIL_AUDIT_ENTRY_MAX 2048    /* no encoded entry is larger */

/* Event types. Values are part of the encoding: never renumber. */
enum {
    SIGIL_AUDIT_SIGN = 1,        /* a sign request and its outcome */
    SIGIL_AUDIT_KEYGEN = 2,      /* distributed key generation */
    SIGIL_AUDIT_REFRESH = 3,     /* share refresh */
    SIGIL_AUDIT_HALT = 4,        /* circuit breaker tripped */
    SIGIL_AUDIT_RESUME = 5,      /* breaker reset by a k-of-m quorum */
    SIGIL_AUDIT_CEREMONY = 6,    /* a ceremony step */
    SIGIL_AUDIT_CONFIG = 7,      /* configuration change */
    SIGIL_AUDIT_SHARE = 8,       /* node log: a signature share this node produced */
    SIGIL_AUDIT_TYPE__LAST = 8
};

/* Schemes. 0 = not applicable. */
enum {
    SIGIL_AUDIT_SCHEME_NONE = 0,
    SIGIL_AUDIT_SCHEME_ED25519 = 1,
    SIGIL_AUDIT_SCHEME_SECP256K1 = 2, /* FROST(secp256k1, SHA-256) */
    SIGIL_AUDIT_SCHEME_BIP340 = 3,
    SIGIL_AUDIT_SCHEME_ECDSA = 4,     /* DKLs23 */
    SIGIL_AUDIT_SCHEME__LAST = 4
};

/* Outcome of the event. */
enum {
    SIGIL_AUDIT_OUTCOME_NONE = 0,      /* a request, or an event without result */
    SIGIL_AUDIT_OUTCOME_SIGNATURE = 1, /* sig/sig_len hold the signature (or share) */
    SIGIL_AUDIT_OUTCOME_ERROR = 2      /* error (< 0) and errmsg */
};

typedef struct {
    uint8_t version;          /* SIGIL_AUDIT_ENTRY_VERSION */
    uint64_t seq;             /* assigned by the log: 0, 1, 2, ... */
    uint64_t time_ms;         /* Unix milliseconds, assigned by the log */
    uint8_t type;             /* SIGIL_AUDIT_* event type */
    uint16_t party;           /* node logs: this node's party id; else 0 */
    uint8_t actor_len;
    char actor[SIGIL_AUDIT_ACTOR_MAX];
    uint8_t key_id_len;
    uint8_t key_id[SIGIL_AUDIT_KEYID_MAX];
    uint8_t scheme;           /* SIGIL_AUDIT_SCHEME_* */
    uint8_t digest_len;
    uint8_t digest[SIGIL_AUDIT_DIGEST_MAX];
    uint8_t outcome;          /* SIGIL_AUDIT_OUTCOME_* */
    uint8_t sig_len;
    uint8_t sig[SIGIL_AUDIT_SIG_MAX];
    int32_t error;            /* outcome ERROR: a SIGIL_E_* code (< 0) */
    uint8_t errmsg_len;
    char errmsg[SIGIL_AUDIT_ERRMSG_MAX];
    uint8_t n_signers;
    uint16_t signers[SIGIL_AUDIT_SIGNERS_MAX]; /* strictly increasing party ids */
    uint8_t request_id_len;
    char request_id[SIGIL_AUDIT_REQID_MAX];
} sigil_audit_entry;

/* Encoding (all integers big-endian, lengths u8 unless noted):
 *   u8 version(=1) | u64 seq | u64 time_ms | u8 type | u16 party |
 *   u8 len, actor | u8 len, key id | u8 scheme | u8 len, digest |
 *   u8 outcome [ 1: u8 len, sig | 2: i32 error, u8 len, errmsg ] |
 *   u8 n, n x u16 signers | u8 len, request id
 * Fills the string fields of e that the caller left zero-length as empty.
 * Appends to out. SIGIL_E_INVALID if e breaks a rule decode enforces. */
int sigil_audit_entry_encode(const sigil_audit_entry *e, sigil_buf *out);

/* Decode exactly one entry from the whole of p[0..n). Errors:
 * SIGIL_E_TRUNCATED (input ends early), SIGIL_E_TRAILING (bytes left),
 * SIGIL_E_VERSION (unknown version, type, scheme or outcome),
 * SIGIL_E_ENCODING (length above its field's maximum, signers not strictly
 * increasing, error code not negative, actor/request id with control bytes).
 * On error *e is zeroed. */
int sigil_audit_entry_decode(const uint8_t *p, size_t n, sigil_audit_entry *e);

/* Name of an event type / scheme ("sign", "ed25519"); NULL if unknown. */
const char *sigil_audit_type_name(uint8_t type);
const char *sigil_audit_scheme_name(uint8_t scheme);
/* Reverse lookups: 0 if unknown. */
uint8_t sigil_audit_type_from_name(const char *name);
uint8_t sigil_audit_scheme_from_name(const char *name);

/* ---------------------------------------------------------------- Merkle */

#define SIGIL_AUDIT_HASH_LEN 32
#define SIGIL_AUDIT_MAX_PROOF 64

/* leaf = SHA-256(0x00 || data), node = SHA-256(0x01 || l || r). */
void sigil_audit_leaf_hash(const uint8_t *data, size_t n, uint8_t out[32]);
void sigil_audit_node_hash(const uint8_t l[32], const uint8_t r[32], uint8_t out[32]);

/* The right border of a tree: the roots of its perfect subtrees, largest
 * first (one per set bit of size). Appending a leaf is O(log n). */
typedef struct {
    uint64_t size;
    unsigned n;
    uint8_t h[64][32];
} sigil_audit_compact;

void sigil_audit_compact_init(sigil_audit_compact *c);
void sigil_audit_compact_append(sigil_audit_compact *c, const uint8_t leaf[32]);
/* Root of the tree so far; SHA-256("") for the empty tree. */
void sigil_audit_compact_root(const sigil_audit_compact *c, uint8_t out[32]);

/* Root of the tree over leaves[0..n) (leaf hashes). */
void sigil_audit_tree_root(const uint8_t (*leaves)[32], uint64_t n, uint8_t out[32]);

/* Inclusion proof of leaf idx in the tree over leaves[0..size) (RFC 9162
 * 2.1.3.1). proof gets up to SIGIL_AUDIT_MAX_PROOF hashes, *n_proof their
 * count. SIGIL_E_INVALID unless idx < size. */
int sigil_audit_prove_inclusion(const uint8_t (*leaves)[32], uint64_t size, uint64_t idx,
                                uint8_t proof[][32], size_t *n_proof);

/* Consistency proof from size1 to size2 (RFC 9162 2.1.4.1) over
 * leaves[0..size2). SIGIL_E_INVALID unless 0 < size1 <= size2. */
int sigil_audit_prove_consistency(const uint8_t (*leaves)[32], uint64_t size1,
                                  uint64_t size2, uint8_t proof[][32], size_t *n_proof);

/* Verify an inclusion proof (RFC 9162 2.1.3.2). Hash arguments carry their
 * lengths because proofs come from untrusted input: any hash that is not 32
 * bytes fails. SIGIL_OK when the proof verifies; SIGIL_E_INVALID (index not
 * below size, size 0), SIGIL_E_ENCODING (a hash of the wrong length),
 * SIGIL_E_PROOF (wrong number of proof hashes), SIGIL_E_MISMATCH (the
 * computed root differs). */
int sigil_audit_verify_inclusion(uint64_t idx, uint64_t size,
                                 const uint8_t *leaf, size_t leaf_len,
                                 const uint8_t *const *proof, const size_t *proof_lens,
                                 size_t n_proof, const uint8_t *root, size_t root_len);

/* Verify a consistency proof (RFC 9162 2.1.4.2). size1 == 0 is rejected
 * (SIGIL_E_INVALID): every tree extends the empty one, so such a proof
 * proves nothing. size1 == size2 verifies only with an empty proof and
 * equal roots. Errors as for inclusion. */
int sigil_audit_verify_consistency(uint64_t size1, uint64_t size2,
                                   const uint8_t *root1, size_t root1_len,
                                   const uint8_t *root2, size_t root2_len,
                                   const uint8_t *const *proof, const size_t *proof_lens,
                                   size_t n_proof);

/* ----------------------------------------------------- signed checkpoints */

#define SIGIL_AUDIT_NAME_MAX 128
#define SIGIL_AUDIT_NOTE_MAX 4096

/* The checkpoint signer. sign() produces a 64-byte Ed25519 signature over
 * msg with the key whose public half is pub; it returns SIGIL_OK or a
 * negative code (e.g. SIGIL_E_UNAVAILABLE when the token is gone). It may
 * be called from the log's writer thread. */
typedef struct {
    char name[SIGIL_AUDIT_NAME_MAX + 1]; /* note key name, e.g. "sigil.example/log" */
    uint8_t pub[32];
    int (*sign)(void *ctx, const uint8_t *msg, size_t n, uint8_t sig[64]);
    void *ctx;
    void (*free)(void *ctx); /* optional; called by sigil_audit_signer_free */
} sigil_audit_signer;

/* Key ID = SHA-256(name || 0x0A || 0x01 || pub)[:4], big-endian. */
uint32_t sigil_audit_key_id(const char *name, const uint8_t pub[32]);

/* libsodium signer from a 32-byte Ed25519 seed (copied into secure memory).
 * SIGIL_E_INVALID for a bad name (empty, longer than SIGIL_AUDIT_NAME_MAX,
 * containing space, '+' or control bytes). */
int sigil_audit_signer_sodium(sigil_audit_signer *s, const char *name, const uint8_t seed[32]);
void sigil_audit_signer_free(sigil_audit_signer *s);

/* Key files in the Go note format:
 *   private: "PRIVATE+KEY+<name>+<8 hex key id>+<base64(0x01 || seed)>"
 *   public (verifier key): "<name>+<8 hex key id>+<base64(0x01 || pub)>"
 * sigil_audit_vkey_format writes the public form (NUL-terminated) to out. */
int sigil_audit_vkey_format(const char *name, const uint8_t pub[32], char *out, size_t out_len);
/* Parse a verifier key; checks the key id against name and key. */
int sigil_audit_vkey_parse(const char *s, char name[SIGIL_AUDIT_NAME_MAX + 1], uint8_t pub[32]);
/* Parse a private key string into a libsodium signer. */
int sigil_audit_skey_parse(const char *s, sigil_audit_signer *out);
/* Generate a key pair; writes both strings (NUL-terminated). */
int sigil_audit_keygen(const char *name, char *skey, size_t skey_len, char *vkey, size_t vkey_len);

/* A parsed checkpoint. */
typedef struct {
    char origin[SIGIL_AUDIT_NAME_MAX + 1];
    uint64_t size;
    uint8_t root[32];
} sigil_audit_checkpoint;

/* Make the signed note "<origin>\n<size>\n<base64 root>\n\n— <name> <sig>\n"
 * and append it to out. Errors from the signer are passed through. */
int sigil_audit_checkpoint_sign(const sigil_audit_checkpoint *cp, const sigil_audit_signer *s,
                                sigil_buf *out);

/* Parse and verify a signed checkpoint note against one trusted key (name +
 * pub). Signature lines by other keys are ignored, as the signed-note spec
 * requires. Errors: SIGIL_E_ENCODING (not a well-formed note or checkpoint:
 * control bytes, missing blank line, bad size or root, malformed signature
 * line), SIGIL_E_NOT_FOUND (no signature by the trusted key),
 * SIGIL_E_SIGNATURE (the trusted key's signature does not verify). */
int sigil_audit_checkpoint_verify(const uint8_t *note, size_t n, const char *name,
                                  const uint8_t pub[32], sigil_audit_checkpoint *out);

/* -------------------------------------------------------------- the log */

typedef struct sigil_audit_log sigil_audit_log;

enum { SIGIL_AUDIT_BACKEND_FILE = 0, SIGIL_AUDIT_BACKEND_PG = 1 };

typedef struct {
    int backend;              /* SIGIL_AUDIT_BACKEND_* */
    const char *path;         /* file: directory (created if missing); pg: libpq conninfo */
    const char *origin;       /* checkpoint origin line, e.g. "sigil.example/audit" */
    const sigil_audit_signer *signer; /* must outlive the log */
    uint64_t checkpoint_every;    /* checkpoint after this many new entries (0: 1024) */
    uint64_t checkpoint_ms;       /* ... or this long after the first uncovered entry (0: 1000) */
    /* Clock in Unix milliseconds (NULL: CLOCK_REALTIME). Tests pass their own. */
    uint64_t (*now_ms)(void *ctx);
    void *now_ctx;
    /* Called (from sigil_audit_log_open) with a human-readable line for
     * every recovery action, e.g. a torn tail cut back. NULL: stderr. */
    void (*report)(void *ctx, const char *msg);
    void *report_ctx;
} sigil_audit_config;

/* Open (creating if needed) the log. The file backend detects a torn tail
 * (an incomplete or corrupt last write), reports it and cuts the file back
 * to the last complete record; it refuses (SIGIL_E_CHECK) to cut anything
 * that a stored checkpoint covers or that is followed by more than one
 * group commit's worth of data, since that is corruption, not a crash. If
 * the stored entries are not covered by a checkpoint, one is written before
 * returning. Starts a small ticker thread (time-based checkpoints of an idle
 * log, entries enqueued that nobody waits for). */
int sigil_audit_log_open(const sigil_audit_config *cfg, sigil_audit_log **out);

/* Append n entries (their seq and time_ms are assigned here: seq strictly
 * increasing from 0, time non-decreasing) and return when all are durable
 * (fsync'ed / committed). Group commit without a writer thread: a caller
 * that finds no write in progress writes and syncs everything pending
 * itself; callers arriving during a write are written together by the next
 * one of them, with one write + one sync, and each is woken only when its
 * own entries are durable. seq_out
 * (may be NULL) gets the first assigned sequence number. Errors: SIGIL_E_IO
 * (the write or sync failed: the entries may or may not be stored, and the
 * log refuses all further appends with SIGIL_E_UNAVAILABLE until reopened),
 * SIGIL_E_INVALID (an entry does not encode). Fail-closed: a caller must
 * not release a signature unless this returned SIGIL_OK. */
int sigil_audit_append(sigil_audit_log *log, sigil_audit_entry *entries, size_t n,
                       uint64_t *seq_out);

/* Split form of append for callers that pipeline: enqueue returns at once
 * with the assigned sequence numbers (in entries[i].seq; seq_out gets the
 * first); wait returns when entry seq is durable, writing the pending group
 * itself if no write is in progress. Entries enqueued that no thread waits
 * for are written by the ticker within about 20 ms. wait: SIGIL_OK,
 * SIGIL_E_IO (the log failed before seq was durable), SIGIL_E_INVALID (seq
 * not assigned yet). Enqueue blocks while 4 MiB of entries are pending
 * (back-pressure). */
int sigil_audit_enqueue(sigil_audit_log *log, sigil_audit_entry *entries, size_t n,
                        uint64_t *seq_out);
int sigil_audit_wait(sigil_audit_log *log, uint64_t seq);

/* Write a checkpoint of everything durable now (if not already covered). */
int sigil_audit_checkpoint_now(sigil_audit_log *log);

typedef struct {
    uint64_t size;            /* durable entries */
    uint64_t checkpoint_size; /* size covered by the latest checkpoint */
    uint64_t syncs;           /* group commits (fsyncs / transactions) so far */
    uint64_t checkpoints;     /* checkpoints written by this handle */
    uint64_t recovered_cut;   /* bytes cut from a torn tail at open */
    int error;                /* SIGIL_OK, or the failure that stopped the log
                                 (appends fail until it is closed and reopened) */
} sigil_audit_stats;
void sigil_audit_log_stats(sigil_audit_log *log, sigil_audit_stats *st);

/* Flush, write a final checkpoint, stop the ticker, free. NULL is a no-op.
 * No other thread may use the log during or after close. */
int sigil_audit_log_close(sigil_audit_log *log);

/* ------------------------------------------------------------ PostgreSQL */

/* Create or migrate the schema (as a role that may create tables) and grant
 * writer_role (created NOLOGIN if it does not exist; may be NULL) INSERT and
 * SELECT only. Triggers reject UPDATE, DELETE and TRUNCATE for everyone. */
int sigil_audit_pg_migrate(const char *conninfo, const char *writer_role, char *err, size_t err_len);

/* ------------------------------------------------------------ verifier */

/* Reading a stored log without the writer's code paths. */
typedef struct sigil_audit_reader sigil_audit_reader;

/* Open a file log directory or, when path starts with "postgres" or
 * contains '=', a PostgreSQL conninfo. */
int sigil_audit_reader_open(const char *path, sigil_audit_reader **out, char *err, size_t err_len);
/* Next entry: *p and *n give its encoding (valid until the next call), *idx
 * its position. 1 = got one, 0 = end, < 0 = error with a message in err
 * (e.g. "entries.log offset 1234 (entry index 7): record checksum mismatch"). */
int sigil_audit_reader_next(sigil_audit_reader *r, const uint8_t **p, size_t *n, uint64_t *idx,
                            char *err, size_t err_len);
/* Next stored checkpoint note, same conventions. */
int sigil_audit_reader_next_checkpoint(sigil_audit_reader *r, const uint8_t **p, size_t *n,
                                       char *err, size_t err_len);
void sigil_audit_reader_close(sigil_audit_reader *r);

/* Verification failures, also the exit codes of `sigil-audit verify`. */
enum {
    SIGIL_AUDIT_V_OK = 0,
    SIGIL_AUDIT_V_IO = 3,         /* cannot read the log */
    SIGIL_AUDIT_V_FRAME = 4,      /* record framing / checksum */
    SIGIL_AUDIT_V_ENTRY = 5,      /* an entry does not decode */
    SIGIL_AUDIT_V_ORDER = 6,      /* sequence not index, or time going back */
    SIGIL_AUDIT_V_CHECKPOINT = 7, /* checkpoint malformed or signature invalid */
    SIGIL_AUDIT_V_ROOT = 8,       /* tree root differs from a signed checkpoint */
    SIGIL_AUDIT_V_FORK = 9,       /* two checkpoints of one size, different roots */
    SIGIL_AUDIT_V_TRUNCATED = 10, /* checkpoint covers entries the log lacks */
    SIGIL_AUDIT_V_UNCOVERED = 11  /* entries after the last signed checkpoint */
};

typedef struct {
    uint64_t entries;
    uint64_t checkpoints;
    uint8_t root[32];
    uint64_t last_checkpoint_size;
} sigil_audit_verify_result;

/* Verify a whole stored log against a trusted checkpoint key: every entry
 * decodes, seq == index, time non-decreasing, every checkpoint's signature,
 * the tree root at every checkpoint size, no fork, no checkpoint beyond the
 * log, every entry covered by a checkpoint. allow_uncovered is for a copy
 * of a live log: entries after the last checkpoint, and an incomplete last
 * record (being written), are then accepted and said so in msg. Returns
 * SIGIL_AUDIT_V_* and a message naming the entry index / sequence number /
 * checkpoint in msg. */
int sigil_audit_verify_log(const char *path, const char *name, const uint8_t pub[32],
                           int allow_uncovered, sigil_audit_verify_result *res,
                           char *msg, size_t msg_len);

/* The same, also checking n_saved checkpoint notes the auditor (or a
 * witness) kept from earlier (saved[i], saved_len[i]): each must be signed
 * by the trusted key and agree with the log like a stored one. This is what
 * catches a log cut back together with its last stored checkpoints
 * (SIGIL_AUDIT_V_TRUNCATED) or rewritten after a saved checkpoint
 * (SIGIL_AUDIT_V_ROOT or _FORK). Saved checkpoints are numbered after the
 * stored ones in messages ("saved checkpoint #k"). */
int sigil_audit_verify_log_saved(const char *path, const char *name, const uint8_t pub[32],
                                 int allow_uncovered, const uint8_t *const *saved,
                                 const size_t *saved_len, size_t n_saved,
                                 sigil_audit_verify_result *res, char *msg, size_t msg_len);

#endif
