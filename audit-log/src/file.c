/* File backend: DIR/entries.log and DIR/checkpoints.log, each a sequence
 * of framed records (u32 len | payload | 8 check bytes), appended and
 * fdatasync'ed once per group commit. At open a torn tail is cut back. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "sigil/err.h"

typedef struct {
    int dirfd, efd, cfd;
} file_be;

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return SIGIL_E_IO;
        }
        p += w;
        n -= (size_t)w;
    }
    return SIGIL_OK;
}

static int fb_write(void *be, const uint8_t *frames, size_t len, const size_t *offs, size_t n,
                    uint64_t first_seq)
{
    file_be *f = be;
    (void)offs;
    (void)n;
    (void)first_seq;
    if (write_all(f->efd, frames, len) || fdatasync(f->efd) != 0)
        return SIGIL_E_IO;
    return SIGIL_OK;
}

static int fb_checkpoint(void *be, const uint8_t *note, size_t n, uint64_t size)
{
    file_be *f = be;
    uint8_t hdr[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
    uint8_t h[32];
    (void)size;
    crypto_hash_sha256(h, note, n);
    uint8_t *rec = malloc(n + 12);
    if (rec == NULL)
        return SIGIL_E_NOMEM;
    memcpy(rec, hdr, 4);
    memcpy(rec + 4, note, n);
    memcpy(rec + 4 + n, h, 8);
    int r = write_all(f->cfd, rec, n + 12);
    free(rec);
    if (r || fdatasync(f->cfd) != 0)
        return SIGIL_E_IO;
    return SIGIL_OK;
}

static void fb_close(void *be)
{
    file_be *f = be;
    if (f == NULL)
        return;
    close(f->efd);
    close(f->cfd);
    close(f->dirfd);
    free(f);
}

static const audit_backend_ops file_ops = {fb_write, fb_checkpoint, fb_close};

static int read_file(int fd, uint8_t **out, size_t *n)
{
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        return SIGIL_E_IO;
    size_t sz = (size_t)sb.st_size;
    uint8_t *p = malloc(sz ? sz : 1);
    if (p == NULL)
        return SIGIL_E_NOMEM;
    size_t got = 0;
    while (got < sz) {
        ssize_t r = pread(fd, p + got, sz - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            free(p);
            return SIGIL_E_IO;
        }
        got += (size_t)r;
    }
    *out = p;
    *n = sz;
    return SIGIL_OK;
}

static void reportf(audit_report_fn report, void *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void reportf(audit_report_fn report, void *ctx, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    report(ctx, msg);
}

/* Cut a torn tail at off, after checking it is one: what follows must fit
 * in a single group commit. */
static int cut_tail(int fd, const char *file, size_t off, size_t size, uint64_t idx,
                    size_t max_tail, audit_report_fn report, void *ctx, uint64_t *cut)
{
    if (size - off > max_tail) {
        reportf(report, ctx,
                "%s: corrupt record at offset %zu (entry index %" PRIu64 ") followed by %zu bytes: "
                "not a torn tail; refusing to cut (run sigil-audit verify)",
                file, off, idx, size - off);
        return SIGIL_E_CHECK;
    }
    reportf(report, ctx, "%s: torn tail at offset %zu (entry index %" PRIu64 "): cut %zu bytes",
            file, off, idx, size - off);
    if (ftruncate(fd, (off_t)off) != 0 || fsync(fd) != 0)
        return SIGIL_E_IO;
    *cut += size - off;
    return SIGIL_OK;
}

/* Load the checkpoints: the last one's size (verified with our own key). */
static int load_checkpoints(file_be *f, const sigil_audit_signer *signer, audit_report_fn report,
                            void *ctx, audit_state *st)
{
    uint8_t *p;
    size_t n, off = 0;
    uint64_t idx = 0;
    int r;
    if ((r = read_file(f->cfd, &p, &n)))
        return r;
    while (off < n) {
        uint8_t h[32];
        size_t len = n - off >= 4 ? audit_rd32(p + off) : 0;
        if (n - off < 4 || len == 0 || len > SIGIL_AUDIT_NOTE_MAX || n - off - 4 < len + 8)
            goto torn;
        crypto_hash_sha256(h, p + off + 4, len);
        if (!sigil_memeq(h, p + off + 4 + len, 8))
            goto torn;
        sigil_audit_checkpoint cp;
        if ((r = sigil_audit_checkpoint_verify(p + off + 4, len, signer->name, signer->pub, &cp))) {
            reportf(report, ctx, "checkpoints.log: checkpoint #%" PRIu64 " at offset %zu: %s", idx,
                    off, sigil_strerror(r));
            free(p);
            return SIGIL_E_CHECK;
        }
        st->cp_size = cp.size;
        off += 4 + len + 8;
        idx++;
    }
    free(p);
    return SIGIL_OK;
torn:
    r = cut_tail(f->cfd, "checkpoints.log", off, n, idx, SIGIL_AUDIT_NOTE_MAX + 12, report, ctx,
                 &st->cut);
    free(p);
    return r;
}

static int load_entries(file_be *f, audit_report_fn report, void *ctx, audit_state *st)
{
    uint8_t *p;
    size_t n, off = 0;
    int r;
    if ((r = read_file(f->efd, &p, &n)))
        return r;
    sigil_audit_compact_init(&st->tree);
    st->last_time = 0;
    while (off < n) {
        uint64_t idx = st->tree.size;
        uint8_t leaf[32];
        size_t len = n - off >= 4 ? audit_rd32(p + off) : 0;
        if (n - off < 4 || len == 0 || len > SIGIL_AUDIT_ENTRY_MAX || n - off - 4 < len + 8)
            goto torn;
        sigil_audit_leaf_hash(p + off + 4, len, leaf);
        if (!sigil_memeq(leaf, p + off + 4 + len, 8))
            goto torn;
        sigil_audit_entry e;
        if ((r = sigil_audit_entry_decode(p + off + 4, len, &e)) || e.seq != idx ||
            e.time_ms < st->last_time) {
            reportf(report, ctx,
                    "entries.log: entry index %" PRIu64 " at offset %zu: %s (run sigil-audit verify)",
                    idx, off, r ? sigil_strerror(r) : "sequence or time out of order");
            free(p);
            return SIGIL_E_CHECK;
        }
        st->last_time = e.time_ms;
        sigil_audit_compact_append(&st->tree, leaf);
        off += 4 + len + 8;
    }
    free(p);
    return SIGIL_OK;
torn:
    if (st->tree.size < st->cp_size) {
        reportf(report, ctx,
                "entries.log: corrupt record at offset %zu (entry index %" PRIu64
                ") inside the range covered by a signed checkpoint of size %" PRIu64
                ": refusing to cut",
                off, st->tree.size, st->cp_size);
        free(p);
        return SIGIL_E_CHECK;
    }
    r = cut_tail(f->efd, "entries.log", off, n, st->tree.size,
                 AUDIT_PENDING_MAX + SIGIL_AUDIT_ENTRY_MAX + AUDIT_FRAME_OVERHEAD, report, ctx,
                 &st->cut);
    free(p);
    return r;
}

int audit_file_open(const char *dir, const sigil_audit_signer *signer, audit_report_fn report,
                    void *report_ctx, audit_state *st, void **be, const audit_backend_ops **ops)
{
    int r;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return SIGIL_E_IO;
    file_be *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return SIGIL_E_NOMEM;
    f->efd = f->cfd = -1;
    f->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (f->dirfd < 0) {
        free(f);
        return SIGIL_E_IO;
    }
    f->efd = openat(f->dirfd, "entries.log", O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    f->cfd = openat(f->dirfd, "checkpoints.log", O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (f->efd < 0 || f->cfd < 0) {
        r = SIGIL_E_IO;
        goto fail;
    }
    /* One writer per log. */
    if (flock(f->efd, LOCK_EX | LOCK_NB) != 0) {
        reportf(report, report_ctx, "%s: locked by another writer", dir);
        r = SIGIL_E_UNAVAILABLE;
        goto fail;
    }
    if (fsync(f->dirfd) != 0) { /* the files' directory entries are durable */
        r = SIGIL_E_IO;
        goto fail;
    }
    if ((r = load_checkpoints(f, signer, report, report_ctx, st)) ||
        (r = load_entries(f, report, report_ctx, st)))
        goto fail;
    if (st->cp_size > st->tree.size) {
        reportf(report, report_ctx,
                "%s: a signed checkpoint covers %" PRIu64 " entries but only %" PRIu64
                " are stored: entries were lost",
                dir, st->cp_size, st->tree.size);
        r = SIGIL_E_CHECK;
        goto fail;
    }
    *be = f;
    *ops = &file_ops;
    return SIGIL_OK;
fail:
    fb_close(f);
    return r;
}
