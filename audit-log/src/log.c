/* The log writer: sequence/time assignment, group commit done by the
 * appending threads themselves, incremental tree, periodic signed
 * checkpoints.
 *
 * GROUP COMMIT. sigil_audit_enqueue encodes entries into `pending` under
 * mu. The backend (one write + fdatasync, or one transaction) is used by
 * one thread at a time: the owner of `busy`. A thread that needs its entry
 * durable (sigil_audit_wait) and finds the backend free takes everything
 * pending and writes it itself (the leader), so an idle log costs no thread
 * handoff. Entries that arrive while a write is in flight form the next
 * group; their threads sleep, and when the write ends its owner wakes
 * exactly the threads whose entries it made durable plus one thread of the
 * next group, which becomes the next leader and writes that whole group
 * with one write + one sync.
 *
 * GENERATIONS. gen counts the groups taken from pending; `taken` is the
 * sequence number after the last entry taken. A thread waiting for an entry
 * of the group in flight (seq < taken) sleeps on group_cv[gen & 1]; one
 * waiting for a pending entry (seq >= taken) on group_cv[(gen + 1) & 1].
 * When group gen is durable its owner broadcasts group_cv[gen & 1] and
 * signals group_cv[(gen + 1) & 1] once. At most two groups exist at a time
 * (one in flight, one pending), so the two variables never mix them.
 *
 * CHECKPOINTS. The owner writes one after its group when due (every N
 * entries or T ms after the first uncovered entry), as the writer thread
 * did before. A small ticker thread covers the idle cases: while entries
 * are uncovered (or pending) it looks every 20 ms and, when the backend is
 * free, writes the T-ms checkpoint, and writes entries that were enqueued
 * with sigil_audit_enqueue but that no thread is waiting for.
 *
 * FAILURE. The first write, sync or checkpoint error is kept in `failed`:
 * every thread waiting for an entry not yet durable gets SIGIL_E_IO, every
 * later enqueue SIGIL_E_UNAVAILABLE, until the log is closed and reopened. */
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
    pthread_cond_t group_cv[2]; /* waiters of a group, by generation parity */
    pthread_cond_t free_cv;     /* waiting for room in pending or a free backend */
    pthread_cond_t tick_cv;     /* the ticker's sleep */
    pthread_t ticker;
    int started;

    /* Guarded by mu. */
    batch pending;
    uint64_t next_seq;        /* next sequence number to assign */
    uint64_t last_time;       /* time of the last assigned entry */
    uint64_t taken;           /* entries durable or in the group in flight */
    uint64_t durable;         /* entries durable */
    uint64_t cp_size;         /* size covered by the last checkpoint */
    uint64_t gen;             /* groups taken from pending so far */
    uint64_t uncovered_since; /* clock when the first uncovered entry became durable */
    unsigned next_waiters;    /* threads asleep on the pending group's variable */
    unsigned free_waiters;    /* threads asleep on free_cv */
    int busy;                 /* a thread owns the backend, work and tree */
    int ticker_idle;          /* the ticker sleeps without a timeout */
    int failed;               /* first write/sync/checkpoint error, or 0 */
    int stop;
    sigil_audit_stats st;

    /* Owner of busy only. */
    batch work;
    sigil_audit_compact tree;
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

/* Sign and store a checkpoint of the tree as it is now. Owner of busy (or
 * open, before anyone else can see the log); mu not held. */
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
    return r;
}

/* The rest runs with mu held. */

static void set_failed(sigil_audit_log *log, int r)
{
    if (!log->failed)
        log->failed = r;
    pthread_cond_broadcast(&log->group_cv[0]);
    pthread_cond_broadcast(&log->group_cv[1]);
    pthread_cond_broadcast(&log->free_cv);
    pthread_cond_signal(&log->tick_cv);
}

static int checkpoint_due(const sigil_audit_log *log)
{
    if (log->durable <= log->cp_size)
        return 0;
    uint64_t t = now(log);
    return log->durable - log->cp_size >= log->cfg.checkpoint_every ||
           (t >= log->uncovered_since && t - log->uncovered_since >= log->cfg.checkpoint_ms);
}

/* Owner: checkpoint everything durable. */
static int checkpoint_owned(sigil_audit_log *log)
{
    pthread_mutex_unlock(&log->mu);
    int r = write_checkpoint(log);
    pthread_mutex_lock(&log->mu);
    if (r) {
        set_failed(log, r);
        return r;
    }
    log->cp_size = log->tree.size;
    log->st.checkpoints++;
    return SIGIL_OK;
}

/* Owner, pending not empty: take the pending group, write and sync it with
 * mu released, wake the threads it made durable; then checkpoint if due. */
static int flush_owned(sigil_audit_log *log)
{
    batch tmp = log->pending;
    log->pending = log->work; /* empty, emptied after its last write */
    log->work = tmp;
    log->gen++;
    log->taken = log->next_seq;
    if (log->free_waiters)
        pthread_cond_broadcast(&log->free_cv); /* room in pending again */
    pthread_mutex_unlock(&log->mu);

    batch *w = &log->work;
    int r = log->ops->write(log->be, w->frames.data, w->frames.size, w->offs, w->n, w->first_seq);
    if (r == SIGIL_OK)
        for (size_t i = 0; i < w->n; i++)
            sigil_audit_compact_append(&log->tree, w->leaves[i]);
    w->n = 0;
    sigil_buf_reset(&w->frames);

    pthread_mutex_lock(&log->mu);
    if (r) {
        set_failed(log, r);
        return r;
    }
    if (log->durable == log->cp_size) {
        log->uncovered_since = now(log);
        if (log->ticker_idle)
            pthread_cond_signal(&log->tick_cv);
    }
    log->durable = log->tree.size;
    log->st.syncs++;
    pthread_cond_broadcast(&log->group_cv[log->gen & 1]);
    if (checkpoint_due(log))
        r = checkpoint_owned(log);
    return r;
}

/* Give the backend up: the pending group (if any) gets a leader. */
static void release(sigil_audit_log *log)
{
    log->busy = 0;
    if (log->pending.n && log->next_waiters)
        pthread_cond_signal(&log->group_cv[(log->gen + 1) & 1]);
    if (log->free_waiters)
        pthread_cond_broadcast(&log->free_cv);
}

static void wait_free(sigil_audit_log *log)
{
    log->free_waiters++;
    pthread_cond_wait(&log->free_cv, &log->mu);
    log->free_waiters--;
}

/* Covers an idle log: the T-ms checkpoint, and entries enqueued without a
 * thread waiting for them. */
static void *ticker(void *arg)
{
    sigil_audit_log *log = arg;
    pthread_mutex_lock(&log->mu);
    while (!log->stop) {
        if (!log->failed && !log->busy) {
            if (log->pending.n && !log->next_waiters && !log->free_waiters) {
                log->busy = 1;
                flush_owned(log);
                release(log);
                continue;
            }
            if (checkpoint_due(log)) {
                log->busy = 1;
                checkpoint_owned(log);
                release(log);
                continue;
            }
        }
        if (!log->failed && (log->durable > log->cp_size || log->pending.n || log->busy)) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 20 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&log->tick_cv, &log->mu, &ts);
        } else {
            log->ticker_idle = 1;
            pthread_cond_wait(&log->tick_cv, &log->mu);
            log->ticker_idle = 0;
        }
    }
    pthread_mutex_unlock(&log->mu);
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
    log->next_seq = log->taken = log->durable = st.tree.size;
    log->last_time = st.last_time;
    log->cp_size = st.cp_size;
    log->st.recovered_cut = st.cut;
    log->uncovered_since = now(log);
    if ((r = batch_init(&log->pending)) || (r = batch_init(&log->work)))
        goto fail;
    /* Entries stored after the last checkpoint (a crash): cover them now. */
    if (log->tree.size > log->cp_size) {
        if ((r = write_checkpoint(log)))
            goto fail;
        log->cp_size = log->tree.size;
        log->st.checkpoints++;
    }
    pthread_mutex_init(&log->mu, NULL);
    pthread_cond_init(&log->group_cv[0], NULL);
    pthread_cond_init(&log->group_cv[1], NULL);
    pthread_cond_init(&log->free_cv, NULL);
    pthread_cond_init(&log->tick_cv, NULL);
    if (pthread_create(&log->ticker, NULL, ticker, log) != 0) {
        r = SIGIL_E_NOMEM;
        pthread_mutex_destroy(&log->mu);
        pthread_cond_destroy(&log->group_cv[0]);
        pthread_cond_destroy(&log->group_cv[1]);
        pthread_cond_destroy(&log->free_cv);
        pthread_cond_destroy(&log->tick_cv);
        goto fail;
    }
    log->started = 1;
    *out = log;
    return SIGIL_OK;
fail:
    batch_free(&log->pending);
    batch_free(&log->work);
    log->ops->close(log->be);
    free(log);
    return r;
}

/* wake: the caller will not wait for the entries itself, so an idle
 * ticker must look at them. */
static int enqueue(sigil_audit_log *log, sigil_audit_entry *entries, size_t n, uint64_t *seq_out,
                   int wake)
{
    int r = SIGIL_OK;
    if (log == NULL || (entries == NULL && n))
        return SIGIL_E_INVALID;
    pthread_mutex_lock(&log->mu);
    for (size_t i = 0; i < n; i++) {
        /* Back-pressure: pending is full until a leader takes it. */
        while (!log->failed && !log->stop && log->pending.frames.size >= AUDIT_PENDING_MAX) {
            if (log->busy) {
                wait_free(log);
            } else {
                log->busy = 1;
                flush_owned(log);
                release(log);
            }
        }
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
    if (wake && log->ticker_idle && log->pending.n)
        pthread_cond_signal(&log->tick_cv);
    pthread_mutex_unlock(&log->mu);
    return r;
}

int sigil_audit_enqueue(sigil_audit_log *log, sigil_audit_entry *entries, size_t n,
                        uint64_t *seq_out)
{
    return enqueue(log, entries, n, seq_out, 1);
}

int sigil_audit_wait(sigil_audit_log *log, uint64_t seq)
{
    int r = SIGIL_OK;
    if (log == NULL)
        return SIGIL_E_INVALID;
    pthread_mutex_lock(&log->mu);
    if (seq >= log->next_seq)
        r = SIGIL_E_INVALID;
    while (r == SIGIL_OK && log->durable <= seq && !log->failed) {
        if (!log->busy) {
            /* Backend free: seq is pending (taken == durable); write the
             * whole pending group ourselves. */
            log->busy = 1;
            flush_owned(log);
            release(log);
        } else if (seq < log->taken) {
            pthread_cond_wait(&log->group_cv[log->gen & 1], &log->mu);
        } else {
            log->next_waiters++;
            pthread_cond_wait(&log->group_cv[(log->gen + 1) & 1], &log->mu);
            log->next_waiters--;
        }
    }
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
    if ((r = enqueue(log, entries, n, &first, 0)))
        return r; /* nothing of a failed enqueue is acknowledged */
    /* The last entry's own seq: a call that waited for room in pending may
     * have had other threads' entries numbered between its own. */
    if ((r = sigil_audit_wait(log, entries[n - 1].seq)))
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
    while (!log->failed && (log->durable < want || log->cp_size < want)) {
        if (log->busy) {
            wait_free(log);
            continue;
        }
        log->busy = 1;
        if (log->durable < want)
            flush_owned(log);
        else
            checkpoint_owned(log);
        release(log);
    }
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
    log->stop = 1; /* refuses new entries from here on */
    pthread_cond_signal(&log->tick_cv);
    pthread_mutex_unlock(&log->mu);
    if (log->started)
        pthread_join(log->ticker, NULL);
    /* Write what is pending and cover everything with a final checkpoint. */
    pthread_mutex_lock(&log->mu);
    while (!log->failed && (log->busy || log->pending.n || log->durable > log->cp_size)) {
        if (log->busy) {
            wait_free(log);
            continue;
        }
        log->busy = 1;
        if (log->pending.n)
            flush_owned(log);
        else
            checkpoint_owned(log);
        release(log);
    }
    int r = log->failed ? SIGIL_E_IO : SIGIL_OK;
    pthread_mutex_unlock(&log->mu);
    log->ops->close(log->be);
    batch_free(&log->pending);
    batch_free(&log->work);
    pthread_mutex_destroy(&log->mu);
    pthread_cond_destroy(&log->group_cv[0]);
    pthread_cond_destroy(&log->group_cv[1]);
    pthread_cond_destroy(&log->free_cv);
    pthread_cond_destroy(&log->tick_cv);
    free(log);
    return r;
}
