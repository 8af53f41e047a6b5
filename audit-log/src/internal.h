/* Internals shared by the writer (log.c) and its backends (file.c, pg.c).
 * The verifier (verify.c) deliberately does not use this file. */
#ifndef SIGIL_AUDIT_INTERNAL_H
#define SIGIL_AUDIT_INTERNAL_H

#include "sigil/audit.h"

/* A record as the writer frames it (the file backend stores it verbatim):
 *   u32 len | entry (len bytes) | first 8 bytes of its leaf hash
 * The check bytes detect a torn or corrupted write. */
#define AUDIT_FRAME_OVERHEAD 12
/* A group commit never holds more than this many bytes of records. */
#define AUDIT_PENDING_MAX ((size_t)4 << 20)

typedef struct {
    sigil_audit_compact tree; /* over the stored entries */
    uint64_t last_time;       /* time of the last stored entry */
    uint64_t cp_size;         /* size covered by the last stored checkpoint */
    uint64_t cut;             /* bytes cut from a torn tail */
} audit_state;

typedef void (*audit_report_fn)(void *ctx, const char *msg);

typedef struct {
    /* Store n framed records (frames[0..len), frame i starting at offs[i],
     * sequence numbers first_seq..) durably; return only when they are. */
    int (*write)(void *be, const uint8_t *frames, size_t len, const size_t *offs, size_t n,
                 uint64_t first_seq);
    /* Store a signed checkpoint note covering size entries, durably. */
    int (*checkpoint)(void *be, const uint8_t *note, size_t n, uint64_t size);
    void (*close)(void *be);
} audit_backend_ops;

/* Open a backend and load its state (verifying the stored entries and the
 * last checkpoint with the signer's public key). */
int audit_file_open(const char *dir, const sigil_audit_signer *signer, audit_report_fn report,
                    void *report_ctx, audit_state *st, void **be, const audit_backend_ops **ops);
int audit_pg_open(const char *conninfo, const sigil_audit_signer *signer, audit_report_fn report,
                  void *report_ctx, audit_state *st, void **be, const audit_backend_ops **ops);

static inline uint32_t audit_rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

#endif
