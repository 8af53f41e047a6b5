/* The log writer: sequence/time assignment, group commit on a writer
 * thread, incremental tree, periodic signed checkpoints. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "sigil/err.h"

typedef struct {
    sigil_buf frames;
    size_t *offs;
    uint8_t (*leaves)[32];
    size_t n, cap;
    uint64_t first_seq;
} batch;

struct sigil_audit_log {
    sigil_audit_config cfg;
    char origin[SIGIL_AUDIT_NAME_MAX + 1];
    const audit_backend_ops *ops;
    void *be;

    pthread_mutex_t mu;
    pthread_cond_t work_cv;  /* writer waits for entries */
    pthread_cond_t done_cv;  /* appenders wait for durability / space */
    pthread_t thread;
    int started;

    /* Guarded by mu. */
    batch pending;
    uint64_t next_seq;  /* next sequence number to assign */
    uint64_t last_time; /* time of the last assigned entry */
    uint64_t durable;   /* entries durable */
    uint64_t cp_size;   /* size covered by the last checkpoint */
    int failed;         /* first write/sync/checkpoint error, or 0 */
    int stop;
    int force_cp;
    sigil_audit_stats st;

    /* Writer thread only. */
    batch work;
    sigil_audit_compact tree;
    uint64_t uncovered_since; /* clock when the first uncovered entry became durable */
};

static uint64_t realtime_ms(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void report_stderr(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "sigil-audit: %s\n", msg);
}

static uint64_t now(const sigil_audit_log *log)
{
    return log->cfg.now_ms(log->cfg.now_ctx);
}

static void batch_free(batch *b)
{
    sigil_buf_free(&b->frames);
    free(b->offs);
    free(b->leaves);
    memset(b, 0, sizeof(*b));
}

static int batch_init(batch *b)
{
    memset(b, 0, sizeof(*b));
    return sigil_buf_init(&b->frames, AUDIT_PENDING_MAX + SIGIL_AUDIT_ENTRY_MAX + AUDIT_FRAME_OVERHEAD,
                          0);
}

static int batch_grow(batch *b)
{
    if (b->n < b->cap)
        return SIGIL_OK;
    size_t cap = b->cap ? b->cap * 2 : 256;
    size_t *o = realloc(b->offs, cap * sizeof(*o));
    if (o == NULL)
        return SIGIL_E_NOMEM;
    b->offs = o;
    uint8_t(*l)[32] = realloc(b->leaves, cap * sizeof(*l));
    if (l == NULL)
        return SIGIL_E_NOMEM;
    b->leaves = l;
    b->cap = cap;
    return SIGIL_OK;
}

/* Write a checkpoint of the tree as it is now. Writer thread only. */
static int write_checkpoint(sigil_audit_log *log)
{
    sigil_audit_checkpoint cp;
    sigil_buf note;
    int r;
    memset(&cp, 0, sizeof(cp));
    memcpy(cp.origin, log->origin, sizeof(cp.origin));
    cp.size = log->tree.size;
    sigil_audit_compact_root(&log->tree, cp.root);
    if ((r = sigil_buf_init(&note, SIGIL_AUDIT_NOTE_MAX, 0)))
        return r;
    if ((r = sigil_audit_checkpoint_sign(&cp, log->cfg.signer, &note)) == SIGIL_OK)
        r = log->ops->checkpoint(log->be, note.data, note.size, cp.size);
    sigil_buf_free(&note);
    if (r == SIGIL_OK) {
        pthread_mutex_lock(&log->mu);
        log->cp_size = cp.size;
        log->st.checkpoints++;
        pthread_cond_broadcast(&log->done_cv);
        pthread_mutex_unlock(&log->mu);
    }
    return r;
}

static void fail(sigil_audit_log *log, int r)
{
    pthread_mutex_lock(&log->mu);
    if (!log->failed)
        log->failed = r;
    pthread_cond_broadcast(&log->done_cv);
    pthread_mutex_unlock(&log->mu);
}

static void *writer(void *arg)
{
    sigil_audit_log *log = arg;
    for (;;) {
        pthread_mutex_lock(&log->mu);
        for (;;) {
            if (log->failed || (log->stop && log->pending.n == 0))
                break;
            if (log->pending.n)
                break;
            uint64_t t = now(log);
            int due = log->tree.size > log->cp_size &&
                      (log->force_cp || log->tree.size - log->cp_size >= log->cfg.checkpoint_every ||
                       (t >= log->uncovered_since && t - log->uncovered_since >= log->cfg.checkpoint_ms));
            if (due || log->force_cp)
                break;
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 20 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&log->work_cv, &log->mu, &ts);
        }
        if (log->failed) {
            pthread_mutex_unlock(&log->mu);
            break;
        }
        int stopping = log->stop && log->pending.n == 0;
        int force = log->force_cp;
        log->force_cp = 0;
        batch tmp = log->pending;
        log->pending = log->work; /* emptied after its last write, outside the lock */
        log->work = tmp;
        pthread_cond_broadcast(&log->done_cv); /* space in pending again */
        pthread_mutex_unlock(&log->mu);

        batch *w = &log->work;
        if (w->n) {
            int r = log->ops->write(log->be, w->frames.data, w->frames.size, w->offs, w->n,
                                    w->first_seq);
            if (r) {
                fail(log, r);
                break;
            }
            if (log->tree.size == log->cp_size)
                log->uncovered_since = now(log);
            for (size_t i = 0; i < w->n; i++)
                sigil_audit_compact_append(&log->tree, w->leaves[i]);
            pthread_mutex_lock(&log->mu);
            log->durable = log->tree.size;
            log->st.syncs++;
            pthread_cond_broadcast(&log->done_cv);
            pthread_mutex_unlock(&log->mu);
            w->n = 0;
            sigil_buf_reset(&w->frames);
        }
        uint64_t t = now(log);
        if (log->tree.size > log->cp_size &&
            (force || stopping || log->tree.size - log->cp_size >= log->cfg.checkpoint_every ||
             (t >= log->uncovered_since && t - log->uncovered_since >= log->cfg.checkpoint_ms))) {
            int r = write_checkpoint(log);
            if (r) {
                fail(log, r);
                break;
            }
        } else if (force) {
            pthread_mutex_lock(&log->mu);
            pthread_cond_broadcast(&log->done_cv);
            pthread_mutex_unlock(&log->mu);
        }
        if (stopping)
            break;
    }
    return NULL;
}

int sigil_audit_log_open(const sigil_audit_config *cfg, sigil_audit_log **out)
{
    audit_state st;
    int r;
    if (cfg == NULL || out == NULL || cfg->path == NULL || cfg->origin == NULL ||
        cfg->signer == NULL || cfg->signer->sign == NULL)
        return SIGIL_E_INVALID;
    size_t on = strlen(cfg->origin);
    if (on == 0 || on > SIGIL_AUDIT_NAME_MAX)
        return SIGIL_E_INVALID;
    *out = NULL;
    sigil_audit_log *log = calloc(1, sizeof(*log));
    if (log == NULL)
        return SIGIL_E_NOMEM;
    log->cfg = *cfg;
    memcpy(log->origin, cfg->origin, on + 1);
    if (!log->cfg.checkpoint_every)
        log->cfg.checkpoint_every = 1024;
    if (!log->cfg.checkpoint_ms)
        log->cfg.checkpoint_ms = 1000;
    if (!log->cfg.now_ms)
        log->cfg.now_ms = realtime_ms;
    if (!log->cfg.report)
        log->cfg.report = report_stderr;
    memset(&st, 0, sizeof(st));
    if (cfg->backend == SIGIL_AUDIT_BACKEND_FILE)
        r = audit_file_open(cfg->path, cfg->signer, log->cfg.report, log->cfg.report_ctx, &st,
                            &log->be, &log->ops);
    else if (cfg->backend == SIGIL_AUDIT_BACKEND_PG)
        r = audit_pg_open(cfg->path, cfg->signer, log->cfg.report, log->cfg.report_ctx, &st,
                          &log->be, &log->ops);
    else
        r = SIGIL_E_INVALID;
    if (r) {
        free(log);
        return r;
    }
    log->tree = st.tree;
    log->next_seq = log->durable = st.tree.size;
    log->last_time = st.last_time;
    log->cp_size = st.cp_size;
    log->st.recovered_cut = st.cut;
    log->uncovered_since = now(log);
    if ((r = batch_init(&log->pending)) || (r = batch_init(&log->work)))
        goto fail;
    pthread_mutex_init(&log->mu, NULL);
    pthread_cond_init(&log->work_cv, NULL);
    pthread_cond_init(&log->done_cv, NULL);
    /* Entries stored after the last checkpoint (a crash): cover them now. */
    if (log->tree.size > log->cp_size && (r = write_checkpoint(log)))
        goto fail_sync;
    if (pthread_create(&log->thread, NULL, writer, log) != 0) {
        r = SIGIL_E_NOMEM;
        goto fail_sync;
    }
    log->started = 1;
    *out = log;
    return SIGIL_OK;
fail_sync:
    pthread_mutex_destroy(&log->mu);
    pthread_cond_destroy(&log->work_cv);
    pthread_cond_destroy(&log->done_cv);
fail:
    batch_free(&log->pending);
    batch_free(&log->work);
    log->ops->close(log->be);
    free(log);
    return r;
}

int sigil_audit_enqueue(sigil_audit_log *log, sigil_audit_entry *entries, size_t n,
                        uint64_t *seq_out)
{
    int r = SIGIL_OK;
    if (log == NULL || (entries == NULL && n))
        return SIGIL_E_INVALID;
    pthread_mutex_lock(&log->mu);
    for (size_t i = 0; i < n; i++) {
        while (!log->failed && !log->stop && log->pending.frames.size >= AUDIT_PENDING_MAX)
            pthread_cond_wait(&log->done_cv, &log->mu);
        if (log->failed || log->stop) {
            r = SIGIL_E_UNAVAILABLE;
            break;
        }
        batch *b = &log->pending;
        if ((r = batch_grow(b)))
            break;
        sigil_audit_entry *e = &entries[i];
        uint64_t t = now(log);
        e->version = SIGIL_AUDIT_ENTRY_VERSION;
        e->seq = log->next_seq;
        e->time_ms = t > log->last_time ? t : log->last_time;
        size_t off = b->frames.size;
        uint8_t *hdr;
        if ((r = sigil_buf_reserve(&b->frames, 4, &hdr)))
            break;
        if ((r = sigil_audit_entry_encode(e, &b->frames))) {
            b->frames.size = off;
            break;
        }
        size_t len = b->frames.size - off - 4;
        hdr = b->frames.data + off;
        hdr[0] = (uint8_t)(len >> 24);
        hdr[1] = (uint8_t)(len >> 16);
        hdr[2] = (uint8_t)(len >> 8);
        hdr[3] = (uint8_t)len;
        sigil_audit_leaf_hash(hdr + 4, len, b->leaves[b->n]);
        if ((r = sigil_buf_put(&b->frames, b->leaves[b->n], 8))) {
            b->frames.size = off;
            break;
        }
        if (b->n == 0)
            b->first_seq = e->seq;
        b->offs[b->n++] = off;
        if (i == 0 && seq_out)
            *seq_out = e->seq;
        log->next_seq++;
        log->last_time = e->time_ms;
    }
    if (n)
        pthread_cond_signal(&log->work_cv);
    pthread_mutex_unlock(&log->mu);
    return r;
}

int sigil_audit_wait(sigil_audit_log *log, uint64_t seq)
{
    int r = SIGIL_OK;
    if (log == NULL)
        return SIGIL_E_INVALID;
    pthread_mutex_lock(&log->mu);
    if (seq >= log->next_seq)
        r = SIGIL_E_INVALID;
    while (r == SIGIL_OK && log->durable <= seq && !log->failed)
        pthread_cond_wait(&log->done_cv, &log->mu);
    if (r == SIGIL_OK && log->durable <= seq)
        r = SIGIL_E_IO;
    pthread_mutex_unlock(&log->mu);
    return r;
}

int sigil_audit_append(sigil_audit_log *log, sigil_audit_entry *entries, size_t n,
                       uint64_t *seq_out)
{
    uint64_t first = 0;
    int r;
    if (n == 0)
        return SIGIL_E_INVALID;
    if ((r = sigil_audit_enqueue(log, entries, n, &first)))
        return r; /* nothing of a failed enqueue is acknowledged */
    if ((r = sigil_audit_wait(log, first + n - 1)))
        return r;
    if (seq_out)
        *seq_out = first;
    return SIGIL_OK;
}

int sigil_audit_checkpoint_now(sigil_audit_log *log)
{
    int r = SIGIL_OK;
    if (log == NULL)
        return SIGIL_E_INVALID;
    pthread_mutex_lock(&log->mu);
    uint64_t want = log->next_seq;
    while (!log->failed && log->durable < want)
        pthread_cond_wait(&log->done_cv, &log->mu);
    log->force_cp = 1;
    pthread_cond_signal(&log->work_cv);
    while (!log->failed && log->cp_size < want)
        pthread_cond_wait(&log->done_cv, &log->mu);
    if (log->failed)
        r = SIGIL_E_IO;
    pthread_mutex_unlock(&log->mu);
    return r;
}

void sigil_audit_log_stats(sigil_audit_log *log, sigil_audit_stats *st)
{
    pthread_mutex_lock(&log->mu);
    *st = log->st;
    st->size = log->durable;
    st->checkpoint_size = log->cp_size;
    st->error = log->failed;
    pthread_mutex_unlock(&log->mu);
}

int sigil_audit_log_close(sigil_audit_log *log)
{
    if (log == NULL)
        return SIGIL_OK;
    pthread_mutex_lock(&log->mu);
    log->stop = 1;
    pthread_cond_broadcast(&log->work_cv);
    pthread_cond_broadcast(&log->done_cv);
    pthread_mutex_unlock(&log->mu);
    if (log->started)
        pthread_join(log->thread, NULL);
    int r = log->failed ? SIGIL_E_IO : SIGIL_OK;
    log->ops->close(log->be);
    batch_free(&log->pending);
    batch_free(&log->work);
    pthread_mutex_destroy(&log->mu);
    pthread_cond_destroy(&log->work_cv);
    pthread_cond_destroy(&log->done_cv);
    free(log);
    return r;
}
