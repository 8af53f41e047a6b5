/* sigil_buf: the one bounds-checked buffer type through which every Sigil
 * encoding is written and every untrusted input is read.
 *
 * A buffer is either
 *   - writable: created by sigil_buf_init, owns its memory, grows up to a
 *     fixed maximum; bytes are appended at the end, or
 *   - a read-only view: created by sigil_buf_view over memory the caller owns.
 * Both are read front to back: every get_* call checks that the bytes are
 * there and advances the read offset only on success. A failed get leaves
 * the buffer unchanged. Integers are big-endian.
 *
 * Buffers created with SIGIL_BUF_SECRET live in libsodium secure memory
 * (guarded, mlock'ed) and every buffer is zeroized when it grows or is freed,
 * so secret encodings never leave copies behind.
 *
 * All functions return SIGIL_OK or a negative SIGIL_E_* code. */
#ifndef SIGIL_BUF_H
#define SIGIL_BUF_H

#include <stddef.h>
#include <stdint.h>

enum {
    SIGIL_BUF_SECRET = 1u << 0,   /* contents are secret: secure memory */
    SIGIL_BUF_READONLY = 1u << 1, /* view over caller memory (set by _view) */
};

/* Hard upper bound on any buffer: no encoding in Sigil is this large. */
#define SIGIL_BUF_MAX_LIMIT ((size_t)64 << 20)

typedef struct sigil_buf {
    uint8_t *data;
    size_t size;  /* bytes held */
    size_t off;   /* read offset, <= size */
    size_t alloc; /* bytes allocated (0 for views) */
    size_t max;   /* size never exceeds this */
    unsigned flags;
} sigil_buf;

/* Make an empty writable buffer that may grow to max bytes
 * (1 <= max <= SIGIL_BUF_MAX_LIMIT). Nothing is allocated until written. */
int sigil_buf_init(sigil_buf *b, size_t max, unsigned flags);

/* Make a read-only view of n bytes at p. p may be NULL only when n == 0.
 * The view never frees or writes p. */
void sigil_buf_view(sigil_buf *b, const uint8_t *p, size_t n);

/* Zeroize and release the buffer's memory; b becomes an empty view. Safe on
 * a zero-initialized struct and on a buffer already freed. */
void sigil_buf_free(sigil_buf *b);

/* Forget all contents (zeroized) but keep the allocation. */
void sigil_buf_reset(sigil_buf *b);

/* Cut a writable buffer back to its first size bytes (zeroizing the rest),
 * e.g. to undo a partly written message on an error path. SIGIL_E_INVALID
 * on a read-only view or if size exceeds the bytes held. */
int sigil_buf_truncate(sigil_buf *b, size_t size);

/* Bytes left to read, and a pointer to them. */
size_t sigil_buf_len(const sigil_buf *b);
const uint8_t *sigil_buf_ptr(const sigil_buf *b);

/* Append. SIGIL_E_TOO_LARGE if the result would exceed max,
 * SIGIL_E_INVALID on a read-only view. */
int sigil_buf_put(sigil_buf *b, const void *p, size_t n);
int sigil_buf_put_u8(sigil_buf *b, uint8_t v);
int sigil_buf_put_u16(sigil_buf *b, uint16_t v);
int sigil_buf_put_u32(sigil_buf *b, uint32_t v);
int sigil_buf_put_u64(sigil_buf *b, uint64_t v);
/* u32 length then the bytes. */
int sigil_buf_put_string(sigil_buf *b, const void *p, size_t n);
/* Append n bytes and return a pointer to them for the caller to fill.
 * The pointer is valid until the next put. */
int sigil_buf_reserve(sigil_buf *b, size_t n, uint8_t **p);

/* Read. SIGIL_E_TRUNCATED if fewer than the needed bytes remain. */
int sigil_buf_get(sigil_buf *b, void *out, size_t n);
int sigil_buf_get_u8(sigil_buf *b, uint8_t *v);
int sigil_buf_get_u16(sigil_buf *b, uint16_t *v);
int sigil_buf_get_u32(sigil_buf *b, uint32_t *v);
int sigil_buf_get_u64(sigil_buf *b, uint64_t *v);
/* Point *p at the next n bytes (no copy) and skip them. */
int sigil_buf_get_ptr(sigil_buf *b, size_t n, const uint8_t **p);
/* u32 length (SIGIL_E_TOO_LARGE if above max) then the bytes, by pointer. */
int sigil_buf_get_string(sigil_buf *b, size_t max, const uint8_t **p, size_t *n);
/* SIGIL_OK if everything has been read, SIGIL_E_TRAILING otherwise. */
int sigil_buf_end(const sigil_buf *b);

/* Constant-time comparison of n bytes: 1 if equal, 0 otherwise. */
int sigil_memeq(const void *a, const void *b, size_t n);

#endif
