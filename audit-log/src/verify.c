/* The verifier: reads a stored log through its own code path (not the
 * writer's framing or recovery code) and checks it end to end. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "sigil/audit.h"
#include "sigil/err.h"

struct sigil_audit_reader {
    int pg;
    /* file */
    const uint8_t *e, *c; /* mapped entries.log / checkpoints.log */
    size_t en, cn, eoff, coff;
    uint64_t eidx, cidx;
    /* pg */
    PGconn *conn;
    PGresult *cps, *row;
    int cprow, streaming, done;
};

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int map_file(const char *dir, const char *name, const uint8_t **p, size_t *n, char *err,
                    size_t err_len)
{
    char path[4096];
    struct stat sb;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &sb) != 0) {
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return SIGIL_E_IO;
    }
    *n = (size_t)sb.st_size;
    *p = NULL;
    if (*n) {
        void *m = mmap(NULL, *n, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            snprintf(err, err_len, "%s: mmap: %s", path, strerror(errno));
            close(fd);
            return SIGIL_E_IO;
        }
        madvise(m, *n, MADV_SEQUENTIAL);
        *p = m;
    }
    close(fd);
    return SIGIL_OK;
}

static int is_pg(const char *path)
{
    return !strncmp(path, "postgres", 8) || strchr(path, '=') != NULL;
}

int sigil_audit_reader_open(const char *path, sigil_audit_reader **out, char *err, size_t err_len)
{
    int r;
    if (path == NULL || out == NULL || err == NULL)
        return SIGIL_E_INVALID;
    sigil_audit_reader *rd = calloc(1, sizeof(*rd));
    if (rd == NULL)
        return SIGIL_E_NOMEM;
    if (is_pg(path)) {
        rd->pg = 1;
        rd->conn = PQconnectdb(path);
        if (PQstatus(rd->conn) != CONNECTION_OK) {
            snprintf(err, err_len, "postgres: %s", PQerrorMessage(rd->conn));
            r = SIGIL_E_UNAVAILABLE;
            goto fail;
        }
        rd->cps = PQexec(rd->conn, "SELECT note FROM sigil_audit_checkpoints ORDER BY id");
        if (PQresultStatus(rd->cps) != PGRES_TUPLES_OK) {
            snprintf(err, err_len, "postgres: reading checkpoints: %s", PQerrorMessage(rd->conn));
            r = SIGIL_E_IO;
            goto fail;
        }
    } else {
        if ((r = map_file(path, "entries.log", &rd->e, &rd->en, err, err_len)) ||
            (r = map_file(path, "checkpoints.log", &rd->c, &rd->cn, err, err_len)))
            goto fail;
    }
    *out = rd;
    return SIGIL_OK;
fail:
    sigil_audit_reader_close(rd);
    return r;
}

void sigil_audit_reader_close(sigil_audit_reader *r)
{
    if (r == NULL)
        return;
    if (r->e)
        munmap((void *)(uintptr_t)r->e, r->en);
    if (r->c)
        munmap((void *)(uintptr_t)r->c, r->cn);
    PQclear(r->cps);
    PQclear(r->row);
    if (r->conn)
        PQfinish(r->conn);
    free(r);
}

int sigil_audit_reader_next(sigil_audit_reader *r, const uint8_t **p, size_t *n, uint64_t *idx,
                            char *err, size_t err_len)
{
    if (!r->pg) {
        size_t off = r->eoff, left = r->en - off;
        if (left == 0)
            return 0;
        if (left < 4) {
            snprintf(err, err_len,
                     "entries.log offset %zu (entry index %" PRIu64 "): record header truncated (%zu bytes left)",
                     off, r->eidx, left);
            return SIGIL_E_TRUNCATED;
        }
        size_t len = rd32(r->e + off);
        if (len == 0 || len > SIGIL_AUDIT_ENTRY_MAX) {
            snprintf(err, err_len, "entries.log offset %zu (entry index %" PRIu64 "): bad record length %zu",
                     off, r->eidx, len);
            return SIGIL_E_ENCODING;
        }
        if (left - 4 < len + 8) {
            snprintf(err, err_len,
                     "entries.log offset %zu (entry index %" PRIu64 "): record truncated (need %zu bytes, %zu left)",
                     off, r->eidx, len + 12, left);
            return SIGIL_E_TRUNCATED;
        }
        uint8_t h[32];
        sigil_audit_leaf_hash(r->e + off + 4, len, h);
        if (!sigil_memeq(h, r->e + off + 4 + len, 8)) {
            snprintf(err, err_len, "entries.log offset %zu (entry index %" PRIu64 "): record checksum mismatch",
                     off, r->eidx);
            return SIGIL_E_CHECK;
        }
        *p = r->e + off + 4;
        *n = len;
        *idx = r->eidx++;
        r->eoff = off + 4 + len + 8;
        return 1;
    }
    if (r->done)
        return 0;
    if (!r->streaming) {
        if (!PQsendQueryParams(r->conn, "SELECT seq, entry FROM sigil_audit_entries ORDER BY seq", 0,
                               NULL, NULL, NULL, NULL, 1) ||
            !PQsetSingleRowMode(r->conn)) {
            snprintf(err, err_len, "postgres: %s", PQerrorMessage(r->conn));
            return SIGIL_E_IO;
        }
        r->streaming = 1;
    }
    PQclear(r->row);
    r->row = PQgetResult(r->conn);
    if (r->row == NULL || PQresultStatus(r->row) == PGRES_TUPLES_OK) {
        PQclear(r->row);
        while ((r->row = PQgetResult(r->conn)) != NULL)
            PQclear(r->row);
        r->done = 1;
        return 0;
    }
    if (PQresultStatus(r->row) != PGRES_SINGLE_TUPLE) {
        snprintf(err, err_len, "postgres: entry index %" PRIu64 ": %s", r->eidx,
                 PQresultErrorMessage(r->row));
        return SIGIL_E_IO;
    }
    const uint8_t *sq = (const uint8_t *)PQgetvalue(r->row, 0, 0);
    uint64_t seqcol = (uint64_t)rd32(sq) << 32 | rd32(sq + 4);
    *p = (const uint8_t *)PQgetvalue(r->row, 0, 1);
    *n = (size_t)PQgetlength(r->row, 0, 1);
    /* The row's seq column must agree with the entry's own seq field. */
    sigil_audit_entry e;
    if (sigil_audit_entry_decode(*p, *n, &e) == SIGIL_OK && e.seq != seqcol) {
        snprintf(err, err_len, "postgres: entry index %" PRIu64 ": row seq %" PRIu64 " but entry seq %" PRIu64,
                 r->eidx, seqcol, e.seq);
        return SIGIL_E_MISMATCH;
    }
    *idx = r->eidx++;
    return 1;
}

int sigil_audit_reader_next_checkpoint(sigil_audit_reader *r, const uint8_t **p, size_t *n,
                                       char *err, size_t err_len)
{
    if (r->pg) {
        if (r->cprow >= PQntuples(r->cps))
            return 0;
        *p = (const uint8_t *)PQgetvalue(r->cps, r->cprow, 0);
        *n = (size_t)PQgetlength(r->cps, r->cprow, 0);
        r->cprow++;
        return 1;
    }
    size_t off = r->coff, left = r->cn - off;
    if (left == 0)
        return 0;
    size_t len = left >= 4 ? rd32(r->c + off) : 0;
    if (left < 4 || len == 0 || len > SIGIL_AUDIT_NOTE_MAX || left - 4 < len + 8) {
        snprintf(err, err_len, "checkpoints.log offset %zu (checkpoint #%" PRIu64 "): bad or truncated record",
                 off, r->cidx);
        return SIGIL_E_TRUNCATED;
    }
    uint8_t h[32];
    crypto_hash_sha256(h, r->c + off + 4, len);
    if (!sigil_memeq(h, r->c + off + 4 + len, 8)) {
        snprintf(err, err_len, "checkpoints.log offset %zu (checkpoint #%" PRIu64 "): record checksum mismatch",
                 off, r->cidx);
        return SIGIL_E_CHECK;
    }
    *p = r->c + off + 4;
    *n = len;
    r->cidx++;
    r->coff = off + 4 + len + 8;
    return 1;
}

typedef struct {
    uint64_t size, num;
    uint8_t root[32];
} cpinfo;

static int cmp_cp(const void *a, const void *b)
{
    const cpinfo *x = a, *y = b;
    if (x->size != y->size)
        return x->size < y->size ? -1 : 1;
    return x->num < y->num ? -1 : x->num > y->num;
}

int sigil_audit_verify_log(const char *path, const char *name, const uint8_t pub[32],
                           int allow_uncovered, sigil_audit_verify_result *res, char *msg,
                           size_t msg_len)
{
    return sigil_audit_verify_log_saved(path, name, pub, allow_uncovered, NULL, NULL, 0, res, msg,
                                        msg_len);
}

typedef struct {
    cpinfo *c;
    size_t n, cap;
    char origin[SIGIL_AUDIT_NAME_MAX + 1];
} cplist;

/* Verify one checkpoint note and add it to the list. */
static int add_cp(cplist *L, const uint8_t *p, size_t n, const char *name, const uint8_t pub[32],
                  const char *what, size_t num, char *msg, size_t msg_len)
{
    sigil_audit_checkpoint cp;
    int v = sigil_audit_checkpoint_verify(p, n, name, pub, &cp);
    if (v) {
        snprintf(msg, msg_len, "%s #%zu: %s", what, num,
                 v == SIGIL_E_SIGNATURE   ? "signature does not verify with the trusted key"
                 : v == SIGIL_E_NOT_FOUND ? "not signed by the trusted key"
                                          : "malformed signed note or checkpoint");
        return SIGIL_AUDIT_V_CHECKPOINT;
    }
    if (L->n == 0) {
        memcpy(L->origin, cp.origin, sizeof(L->origin));
    } else if (strcmp(L->origin, cp.origin)) {
        snprintf(msg, msg_len, "%s #%zu: origin \"%s\" differs from \"%s\"", what, num, cp.origin,
                 L->origin);
        return SIGIL_AUDIT_V_CHECKPOINT;
    }
    if (L->n == L->cap) {
        size_t cap = L->cap ? L->cap * 2 : 64;
        cpinfo *t = realloc(L->c, cap * sizeof(*t));
        if (t == NULL) {
            snprintf(msg, msg_len, "out of memory");
            return SIGIL_AUDIT_V_IO;
        }
        L->c = t;
        L->cap = cap;
    }
    L->c[L->n].size = cp.size;
    L->c[L->n].num = L->n;
    memcpy(L->c[L->n].root, cp.root, 32);
    L->n++;
    return SIGIL_AUDIT_V_OK;
}

/* "checkpoint #3" or, for the auditor's saved ones, "saved checkpoint #0". */
static const char *cpname(const cpinfo *c, size_t nstored, char *buf, size_t n)
{
    if (c->num < nstored)
        snprintf(buf, n, "checkpoint #%" PRIu64, c->num);
    else
        snprintf(buf, n, "saved checkpoint #%" PRIu64, c->num - nstored);
    return buf;
}

int sigil_audit_verify_log_saved(const char *path, const char *name, const uint8_t pub[32],
                                 int allow_uncovered, const uint8_t *const *saved,
                                 const size_t *saved_len, size_t n_saved,
                                 sigil_audit_verify_result *res, char *msg, size_t msg_len)
{
    char cn1[48], cn2[48];
    size_t nstored = 0;
    sigil_audit_reader *rd = NULL;
    cpinfo *cps = NULL;
    size_t ncp = 0;
    int rc = SIGIL_AUDIT_V_OK, r;
    const uint8_t *p;
    size_t n;
    sigil_audit_verify_result out;
    memset(&out, 0, sizeof(out));
    msg[0] = 0;
    if ((r = sigil_audit_reader_open(path, &rd, msg, msg_len)))
        return SIGIL_AUDIT_V_IO;
    /* 1. Every checkpoint, stored then saved: well-formed, signed by the
     * trusted key, one origin. */
    int torn = 0;
    cplist L = {NULL, 0, 0, ""};
    for (;;) {
        r = sigil_audit_reader_next_checkpoint(rd, &p, &n, msg, msg_len);
        if (r == 0)
            break;
        if (r < 0) {
            if (r == SIGIL_E_TRUNCATED && allow_uncovered) {
                torn = 1; /* a live log: the last checkpoint is being written */
                break;
            }
            rc = SIGIL_AUDIT_V_FRAME;
            goto done;
        }
        if ((rc = add_cp(&L, p, n, name, pub, "checkpoint", L.n, msg, msg_len)))
            goto done;
    }
    nstored = L.n;
    for (size_t i = 0; i < n_saved; i++)
        if ((rc = add_cp(&L, saved[i], saved_len[i], name, pub, "saved checkpoint", i, msg, msg_len)))
            goto done;
    cps = L.c;
    ncp = L.n;
    /* 2. No fork: one root per size. */
    if (ncp)
        qsort(cps, ncp, sizeof(*cps), cmp_cp);
    for (size_t i = 1; i < ncp; i++)
        if (cps[i].size == cps[i - 1].size && !sigil_memeq(cps[i].root, cps[i - 1].root, 32)) {
            snprintf(msg, msg_len, "fork: %s and %s both sign size %" PRIu64 " with different roots",
                     cpname(&cps[i - 1], nstored, cn1, sizeof(cn1)),
                     cpname(&cps[i], nstored, cn2, sizeof(cn2)), cps[i].size);
            rc = SIGIL_AUDIT_V_FORK;
            goto done;
        }
    /* 3. Every entry, the tree, and the root at every checkpoint. */
    sigil_audit_compact tree;
    sigil_audit_compact_init(&tree);
    size_t next = 0;
    uint64_t last_time = 0, idx;
    for (;;) {
        while (next < ncp && cps[next].size == tree.size) {
            uint8_t root[32];
            sigil_audit_compact_root(&tree, root);
            if (!sigil_memeq(root, cps[next].root, 32)) {
                snprintf(msg, msg_len,
                         "%s (size %" PRIu64 "): root mismatch: entries 0..%" PRIu64
                         " are not the ones that were signed",
                         cpname(&cps[next], nstored, cn1, sizeof(cn1)), cps[next].size,
                         cps[next].size ? cps[next].size - 1 : 0);
                rc = SIGIL_AUDIT_V_ROOT;
                goto done;
            }
            next++;
        }
        r = sigil_audit_reader_next(rd, &p, &n, &idx, msg, msg_len);
        if (r == 0)
            break;
        if (r == SIGIL_E_TRUNCATED && allow_uncovered) {
            torn = 1; /* a live log: the last group commit is being written */
            break;
        }
        if (r < 0) {
            rc = r == SIGIL_E_IO ? SIGIL_AUDIT_V_IO : SIGIL_AUDIT_V_FRAME;
            goto done;
        }
        sigil_audit_entry e;
        if ((r = sigil_audit_entry_decode(p, n, &e))) {
            snprintf(msg, msg_len, "entry index %" PRIu64 ": does not decode: %s (%s)", idx,
                     sigil_strerror(r), sigil_errname(r));
            rc = SIGIL_AUDIT_V_ENTRY;
            goto done;
        }
        if (e.seq != idx) {
            snprintf(msg, msg_len, "entry index %" PRIu64 ": sequence number %" PRIu64 ", expected %" PRIu64
                     " (entry deleted, duplicated or reordered)", idx, e.seq, idx);
            rc = SIGIL_AUDIT_V_ORDER;
            goto done;
        }
        if (e.time_ms < last_time) {
            snprintf(msg, msg_len, "entry index %" PRIu64 " (seq %" PRIu64 "): time %" PRIu64
                     " goes back from %" PRIu64, idx, e.seq, e.time_ms, last_time);
            rc = SIGIL_AUDIT_V_ORDER;
            goto done;
        }
        last_time = e.time_ms;
        uint8_t leaf[32];
        sigil_audit_leaf_hash(p, n, leaf);
        sigil_audit_compact_append(&tree, leaf);
    }
    out.entries = tree.size;
    out.checkpoints = ncp;
    sigil_audit_compact_root(&tree, out.root);
    if (next < ncp) {
        snprintf(msg, msg_len,
                 "%s signs size %" PRIu64 " but the log holds only %" PRIu64
                 " entries: entries %" PRIu64 "..%" PRIu64 " are missing (log truncated)",
                 cpname(&cps[ncp - 1], nstored, cn1, sizeof(cn1)), cps[ncp - 1].size, tree.size,
                 tree.size, cps[ncp - 1].size - 1);
        rc = SIGIL_AUDIT_V_TRUNCATED;
        goto done;
    }
    out.last_checkpoint_size = ncp ? cps[ncp - 1].size : 0;
    if (tree.size > out.last_checkpoint_size && !allow_uncovered) {
        snprintf(msg, msg_len,
                 "entries %" PRIu64 "..%" PRIu64 " (seq %" PRIu64 "..%" PRIu64
                 ") are not covered by any signed checkpoint (appended after the last one)",
                 out.last_checkpoint_size, tree.size - 1, out.last_checkpoint_size, tree.size - 1);
        rc = SIGIL_AUDIT_V_UNCOVERED;
        goto done;
    }
    snprintf(msg, msg_len, "ok: %" PRIu64 " entries, %zu checkpoints%s%s", tree.size, ncp,
             tree.size > out.last_checkpoint_size ? " (last entries not yet covered)" : "",
             torn ? " (an incomplete last record was ignored)" : "");
done:
    if (res)
        *res = out;
    free(L.c);
    sigil_audit_reader_close(rd);
    return rc;
}
