/* The file-backed log: group commit, checkpoint policy, reopen, torn-tail
 * recovery, write failure (fail-closed), one writer per log, and every
 * kind of tampering caught by the verifier with its precise error. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "sigil/audit.h"
#include "sigil/err.h"

static _Atomic uint64_t fake_now = 1795000000000ull;
static uint64_t clock_fn(void *ctx)
{
    (void)ctx;
    return atomic_load(&fake_now);
}

static char reports[8192];
static void report_fn(void *ctx, const char *msg)
{
    (void)ctx;
    strncat(reports, msg, sizeof(reports) - strlen(reports) - 2);
    strcat(reports, "\n");
}

static sigil_audit_signer signer, other;
static char vname[SIGIL_AUDIT_NAME_MAX + 1];
static uint8_t vpub[32];
static char base[256];

static sigil_audit_config config(const char *dir, uint64_t every, uint64_t ms)
{
    sigil_audit_config c;
    memset(&c, 0, sizeof(c));
    c.backend = SIGIL_AUDIT_BACKEND_FILE;
    c.path = dir;
    c.origin = "sigil.test/audit";
    c.signer = &signer;
    c.checkpoint_every = every;
    c.checkpoint_ms = ms;
    c.now_ms = clock_fn;
    c.report = report_fn;
    return c;
}

static void mk_entry(sigil_audit_entry *e, unsigned i)
{
    memset(e, 0, sizeof(*e));
    e->type = SIGIL_AUDIT_SIGN;
    e->actor_len = (uint8_t)snprintf(e->actor, sizeof(e->actor), "CN=client-%u", i % 7);
    e->key_id_len = 8;
    memset(e->key_id, (int)(i % 3), 8);
    e->scheme = SIGIL_AUDIT_SCHEME_ED25519;
    e->digest_len = 32;
    memcpy(e->digest, &i, sizeof(i));
    e->outcome = SIGIL_AUDIT_OUTCOME_SIGNATURE;
    e->sig_len = 64;
    memset(e->sig, (int)i, 64);
    e->n_signers = 2;
    e->signers[0] = 1;
    e->signers[1] = 3;
    e->request_id_len = (uint8_t)snprintf(e->request_id, sizeof(e->request_id), "r%u", i);
}

static int verify(const char *dir, int allow, char *msg)
{
    sigil_audit_verify_result res;
    return sigil_audit_verify_log(dir, vname, vpub, allow, &res, msg, 1024);
}

/* ---- file helpers for tampering ---- */
typedef struct {
    uint8_t *p;
    size_t n;
} blob;

static blob slurp(const char *dir, const char *f)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, f);
    blob b = {0, 0};
    FILE *fp = fopen(path, "rb");
    REQUIRE(fp);
    fseek(fp, 0, SEEK_END);
    b.n = (size_t)ftell(fp);
    fseek(fp, 0, SEEK_SET);
    b.p = malloc(b.n + 1);
    REQUIRE(fread(b.p, 1, b.n, fp) == b.n);
    fclose(fp);
    return b;
}

static void spit(const char *dir, const char *f, const uint8_t *p, size_t n)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, f);
    FILE *fp = fopen(path, "wb");
    REQUIRE(fp);
    REQUIRE(fwrite(p, 1, n, fp) == n);
    fclose(fp);
}

static void copy_log(const char *from, const char *to)
{
    mkdir(to, 0700);
    blob e = slurp(from, "entries.log"), c = slurp(from, "checkpoints.log");
    spit(to, "entries.log", e.p, e.n);
    spit(to, "checkpoints.log", c.p, c.n);
    free(e.p);
    free(c.p);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Split a framed file into records. */
static size_t frames(const blob *b, size_t *off, size_t *len, size_t max)
{
    size_t k = 0;
    for (size_t o = 0; o + 4 <= b->n && k < max; k++) {
        off[k] = o;
        len[k] = 4 + rd32(b->p + o) + 8;
        o += len[k];
    }
    return k;
}

/* Frame an entry as the writer does (a forger knows the format). */
static size_t frame_entry(const sigil_audit_entry *e, uint8_t *out)
{
    sigil_buf b;
    uint8_t h[32];
    REQUIRE(sigil_buf_init(&b, SIGIL_AUDIT_ENTRY_MAX, 0) == SIGIL_OK);
    REQUIRE(sigil_audit_entry_encode(e, &b) == SIGIL_OK);
    out[0] = (uint8_t)(b.size >> 24), out[1] = (uint8_t)(b.size >> 16);
    out[2] = (uint8_t)(b.size >> 8), out[3] = (uint8_t)b.size;
    memcpy(out + 4, b.data, b.size);
    sigil_audit_leaf_hash(b.data, b.size, h);
    memcpy(out + 4 + b.size, h, 8);
    size_t n = b.size + 12;
    sigil_buf_free(&b);
    return n;
}

static size_t frame_note(const sigil_audit_checkpoint *cp, const sigil_audit_signer *s, uint8_t *out)
{
    sigil_buf b;
    uint8_t h[32];
    REQUIRE(sigil_buf_init(&b, SIGIL_AUDIT_NOTE_MAX, 0) == SIGIL_OK);
    REQUIRE(sigil_audit_checkpoint_sign(cp, s, &b) == SIGIL_OK);
    out[0] = (uint8_t)(b.size >> 24), out[1] = (uint8_t)(b.size >> 16);
    out[2] = (uint8_t)(b.size >> 8), out[3] = (uint8_t)b.size;
    memcpy(out + 4, b.data, b.size);
    crypto_hash_sha256(h, b.data, b.size);
    memcpy(out + 4 + b.size, h, 8);
    size_t n = b.size + 12;
    sigil_buf_free(&b);
    return n;
}

/* ---- tests ---- */

typedef struct {
    sigil_audit_log *log;
    unsigned id;
    int errors;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *a = p;
    for (unsigned i = 0; i < 100; i++) {
        sigil_audit_entry e[4];
        size_t n = (i % 5 == 0) ? 4 : 1;
        for (size_t k = 0; k < n; k++)
            mk_entry(&e[k], a->id * 10000 + i * 4 + (unsigned)k);
        uint64_t seq;
        if (sigil_audit_append(a->log, e, n, &seq) != SIGIL_OK || e[0].seq != seq)
            a->errors++;
    }
    return NULL;
}

static void test_concurrent(void)
{
    char dir[300], msg[1024];
    snprintf(dir, sizeof(dir), "%s/conc", base);
    sigil_audit_config c = config(dir, 100, 1000);
    sigil_audit_log *log;
    REQUIRE(sigil_audit_log_open(&c, &log) == SIGIL_OK);
    pthread_t t[4];
    worker_arg a[4];
    for (unsigned i = 0; i < 4; i++) {
        a[i] = (worker_arg){log, i, 0};
        pthread_create(&t[i], NULL, worker, &a[i]);
    }
    for (unsigned i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECK_EQ(a[i].errors, 0);
    }
    sigil_audit_stats st;
    sigil_audit_log_stats(log, &st);
    CHECK_EQ(st.size, 4 * (80 + 20 * 4));
    CHECK(st.syncs <= st.size);
    CHECK_EQ(st.error, SIGIL_OK);
    CHECK_EQ(sigil_audit_log_close(log), SIGIL_OK);
    CHECK_EQ(verify(dir, 0, msg), SIGIL_AUDIT_V_OK);
    /* A second writer on the same log is refused. */
    REQUIRE(sigil_audit_log_open(&c, &log) == SIGIL_OK);
    sigil_audit_log *log2;
    CHECK_EQ(sigil_audit_log_open(&c, &log2), SIGIL_E_UNAVAILABLE);
    sigil_audit_log_close(log);
}

static void wait_cp(sigil_audit_log *log, uint64_t want)
{
    sigil_audit_stats st;
    for (int i = 0; i < 500; i++) {
        sigil_audit_log_stats(log, &st);
        if (st.checkpoint_size >= want)
            return;
        usleep(10000);
    }
}

static void test_policy_and_recovery(void)
{
    char dir[300], msg[1024];
    snprintf(dir, sizeof(dir), "%s/policy", base);
    sigil_audit_config c = config(dir, 10, 1000);
    sigil_audit_log *log;
    sigil_audit_stats st;
    REQUIRE(sigil_audit_log_open(&c, &log) == SIGIL_OK);
    for (unsigned i = 0; i < 25; i++) {
        sigil_audit_entry e;
        mk_entry(&e, i);
        REQUIRE(sigil_audit_append(log, &e, 1, NULL) == SIGIL_OK);
        CHECK_EQ(e.seq, i);
    }
    wait_cp(log, 20);
    sigil_audit_log_stats(log, &st);
    CHECK_EQ(st.checkpoint_size, 20); /* every 10 entries; 5 left uncovered */
    CHECK_EQ(verify(dir, 0, msg), SIGIL_AUDIT_V_UNCOVERED);
    CHECK(strstr(msg, "entries 20..24") != NULL);
    CHECK_EQ(verify(dir, 1, msg), SIGIL_AUDIT_V_OK);
    atomic_fetch_add(&fake_now, 1000); /* T ms pass: the rest is covered */
    wait_cp(log, 25);
    sigil_audit_log_stats(log, &st);
    CHECK_EQ(st.checkpoint_size, 25);
    CHECK_EQ(verify(dir, 0, msg), SIGIL_AUDIT_V_OK);
    CHECK_EQ(sigil_audit_log_close(log), SIGIL_OK);

    /* Reopen: seq continues; a clock going back does not make time go back. */
    atomic_fetch_sub(&fake_now, 60000);
    REQUIRE(sigil_audit_log_open(&c, &log) == SIGIL_OK);
    sigil_audit_entry e;
    mk_entry(&e, 99);
    CHECK_EQ(sigil_audit_append(log, &e, 1, NULL), SIGIL_OK);
    CHECK_EQ(e.seq, 25);
    CHECK_EQ(e.time_ms, 1795000000000ull); /* = last entry time, not the earlier clock */
    CHECK_EQ(sigil_audit_log_close(log), SIGIL_OK);
    atomic_fetch_add(&fake_now, 60000);
    CHECK_EQ(verify(dir, 0, msg), SIGIL_AUDIT_V_OK);

    /* Torn tail: half a record at the end. Strict verify names it; the
     * writer reports it, cuts it back and covers the log again. */
    blob b = slurp(dir, "entries.log");
    size_t full = b.n;
    uint8_t rec[SIGIL_AUDIT_ENTRY_MAX + 12];
    mk_entry(&e, 100);
    e.version = 1, e.seq = 26, e.time_ms = atomic_load(&fake_now);
    size_t rn = frame_entry(&e, rec);
    b.p = realloc(b.p, full + rn);
    memcpy(b.p + full, rec, rn / 2);
    spit(dir, "entries.log", b.p, full + rn / 2);
    CHECK_EQ(verify(dir, 0, msg), SIGIL_AUDIT_V_FRAME);
    CHECK(strstr(msg, "entry index 26") && strstr(msg, "truncated"));
    CHECK_EQ(verify(dir, 1, msg), SIGIL_AUDIT_V_OK); /* live-log mode says so */
    CHECK(strstr(msg, "incomplete last record") != NULL);
    reports[0] = 0;
    REQUIRE(sigil_audit_log_open(&c, &log) == SIGIL_OK);
    CHECK(strstr(reports, "torn tail") != NULL);
    sigil_audit_log_stats(log, &st);
    CHECK_EQ(st.recovered_cut, rn / 2);
    CHECK_EQ(st.size, 26);
    CHECK_EQ(sigil_audit_log_close(log), SIGIL_OK);
    CHECK_EQ(verify(dir, 0, msg), SIGIL_AUDIT_V_OK);

    /* A full-length record with a bad checksum at the end: torn too. */
    rec[rn - 1] ^= 0xff;
    blob b2 = slurp(dir, "entries.log");
    b2.p = realloc(b2.p, b2.n + rn);
    memcpy(b2.p + b2.n, rec, rn);
    spit(dir, "entries.log", b2.p, b2.n + rn);
    reports[0] = 0;
    REQUIRE(sigil_audit_log_open(&c, &log) == SIGIL_OK);
    CHECK(strstr(reports, "torn tail") != NULL);
    CHECK_EQ(sigil_audit_log_close(log), SIGIL_OK);
    free(b2.p);

    /* Corruption inside the checkpointed range is NOT cut: open refuses and
     * the file is left as it was for the auditors. */
    b2 = slurp(dir, "entries.log");
    b2.p[40] ^= 0x01;
    spit(dir, "entries.log", b2.p, b2.n);
    reports[0] = 0;
    CHECK_EQ(sigil_audit_log_open(&c, &log), SIGIL_E_CHECK);
    CHECK(strstr(reports, "refusing to cut") != NULL);
    blob b3 = slurp(dir, "entries.log");
    CHECK_EQ(b3.n, b2.n);
    free(b.p);
    free(b2.p);
    free(b3.p);
}

/* The writer's storage fails (file size limit): the append in flight gets
 * SIGIL_E_IO, every later one SIGIL_E_UNAVAILABLE; after reopening, the
 * torn write is cut back and the log verifies. */
static void test_write_failure(void)
{
    char dir[300], msg[1024];
    snprintf(dir, sizeof(dir), "%s/fail", base);
    sigil_audit_config c = config(dir, 1000, 100000);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        sigil_audit_log *log;
        if (sigil_audit_log_open(&c, &log) != SIGIL_OK)
            _exit(10);
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {5000, 5000};
        setrlimit(RLIMIT_FSIZE, &rl);
        int r = SIGIL_OK, n = 0;
        while (r == SIGIL_OK && n < 1000) {
            sigil_audit_entry e[3];
            for (int k = 0; k < 3; k++)
                mk_entry(&e[k], (unsigned)(n + k));
            r = sigil_audit_append(log, e, 3, NULL);
            n += 3;
        }
        if (r != SIGIL_E_IO)
            _exit(11);
        sigil_audit_entry e;
        mk_entry(&e, 0);
        if (sigil_audit_append(log, &e, 1, NULL) != SIGIL_E_UNAVAILABLE)
            _exit(12);
        sigil_audit_stats st;
        sigil_audit_log_stats(log, &st);
        if (st.error != SIGIL_E_IO)
            _exit(14);
        if (sigil_audit_log_close(log) != SIGIL_E_IO)
            _exit(13);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    sigil_audit_log *log;
    reports[0] = 0;
    REQUIRE(sigil_audit_log_open(&c, &log) == SIGIL_OK);
    CHECK_EQ(sigil_audit_log_close(log), SIGIL_OK);
    CHECK_EQ(verify(dir, 0, msg), SIGIL_AUDIT_V_OK);
}

/* ---- group commit by the appenders themselves ---- */

typedef struct {
    sigil_audit_log *log;
    unsigned id, n;
    uint64_t *acked;   /* seqs acknowledged to this thread */
    size_t nacked;
    int last;          /* the result that stopped the thread, or SIGIL_OK */
    int not_durable;   /* acknowledged before the log counted it durable */
} app_arg;

static void *appender(void *p)
{
    app_arg *a = p;
    a->last = SIGIL_OK;
    for (unsigned i = 0; i < a->n; i++) {
        sigil_audit_entry e;
        mk_entry(&e, a->id * 100000 + i);
        int r = sigil_audit_append(a->log, &e, 1, NULL);
        if (r != SIGIL_OK) {
            a->last = r;
            break;
        }
        sigil_audit_stats st;
        sigil_audit_log_stats(a->log, &st);
        if (st.size <= e.seq) /* returned before its entry was durable */
            a->not_durable++;
        a->acked[a->nacked++] = e.seq;
    }
    return NULL;
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

/* Run T appender threads of n appends each on log; returns all acknowledged
 * seqs sorted in *all (count in *nall) and fills args. */
static void run_appenders(sigil_audit_log *log, unsigned T, unsigned n, app_arg *args,
                          uint64_t **all, size_t *nall)
{
    pthread_t t[64];
    for (unsigned i = 0; i < T; i++) {
        args[i] = (app_arg){log, i, n, calloc(n, sizeof(uint64_t)), 0, 0, 0};
        REQUIRE(args[i].acked != NULL);
        REQUIRE(pthread_create(&t[i], NULL, appender, &args[i]) == 0);
    }
    size_t k = 0;
    *all = calloc((size_t)T * n, sizeof(uint64_t));
    REQUIRE(*all != NULL);
    for (unsigned i = 0; i < T; i++) {
        pthread_join(t[i], NULL);
        memcpy(*all + k, args[i].acked, args[i].nacked * sizeof(uint64_t));
        k += args[i].nacked;
        free(args[i].acked);
    }
    qsort(*all, k, sizeof(uint64_t), cmp_u64);
    *nall = k;
}

/* Many appenders at once: every append acknowledged only once durable, the
 * seqs exactly 0..N-1, fewer syncs than entries (groups formed), one
 * appender alone syncs once per append, and the log verifies. */
static void test_group_commit(void)
{
    char dir[300], msg[1024];
    snprintf(dir, sizeof(dir), "%s/group", base);
    sigil_audit_config c = config(dir, 256, 100000);
    sigil_audit_log *log;
    sigil_audit_stats st;
    REQUIRE(sigil_audit_log_open(&c, &log) == SIGIL_OK);

    /* Alone: each append is its own group, written by the caller. */
    for (unsigned i = 0; i < 20; i++) {
        sigil_audit_entry e;
        mk_entry(&e, i);
        REQUIRE(sigil_audit_append(log, &e, 1, NULL) == SIGIL_OK);
        sigil_audit_log_stats(log, &st);
        CHECK_EQ(st.size, i + 1);
        CHECK_EQ(st.syncs, i + 1);
    }

    enum { T = 32, N = 150 };
    app_arg a[T];
    uint64_t *all;
    size_t nall;
    run_appenders(log, T, N, a, &all, &nall);
    int bad = 0;
    for (unsigned i = 0; i < T; i++)
        bad |= a[i].last != SIGIL_OK || a[i].not_durable != 0;
    CHECK_EQ(bad, 0);
    CHECK_EQ(nall, (size_t)T * N);
    for (size_t i = 0; i < nall; i++)
        if (all[i] != 20 + i) {
            CHECK_EQ(all[i], 20 + i);
            break;
        }
    free(all);
    sigil_audit_log_stats(log, &st);
    CHECK_EQ(st.size, 20 + T * N);
    CHECK_EQ(st.error, SIGIL_OK);
    CHECK(st.syncs < 20 + T * N); /* some appends shared a sync */
    CHECK(st.checkpoints >= (20 + T * N) / 256);

    /* Pipelined: entries enqueued by one thread, waited for by others; the
     * last one is never waited for and still becomes durable (the ticker). */
    sigil_audit_entry e[9];
    for (unsigned i = 0; i < 9; i++)
        mk_entry(&e[i], 900 + i);
    uint64_t first;
    REQUIRE(sigil_audit_enqueue(log, e, 9, &first) == SIGIL_OK);
    CHECK_EQ(first, 20 + T * N);
    CHECK_EQ(sigil_audit_wait(log, first + 3), SIGIL_OK);
    CHECK_EQ(sigil_audit_wait(log, first + 9), SIGIL_E_INVALID); /* not assigned */
    sigil_audit_entry lone;
    mk_entry(&lone, 999);
    REQUIRE(sigil_audit_enqueue(log, &lone, 1, NULL) == SIGIL_OK);
    for (int i = 0; i < 500; i++) {
        sigil_audit_log_stats(log, &st);
        if (st.size > lone.seq)
            break;
        usleep(10000);
    }
    CHECK_EQ(st.size, lone.seq + 1);
    CHECK_EQ(sigil_audit_checkpoint_now(log), SIGIL_OK);
    sigil_audit_log_stats(log, &st);
    CHECK_EQ(st.checkpoint_size, st.size);
    CHECK_EQ(verify(dir, 0, msg), SIGIL_AUDIT_V_OK);

    /* Back-pressure: more than the 4 MiB pending bound in one enqueue call
     * (nobody else can take pending meanwhile): the call writes the full
     * batch itself and goes on; nothing deadlocks, everything is durable. */
    enum { BIG = 36000 };
    uint64_t before = st.size, first_big = 0;
    sigil_audit_entry *big = calloc(BIG, sizeof(*big));
    REQUIRE(big != NULL);
    for (unsigned i = 0; i < BIG; i++)
        mk_entry(&big[i], 5000 + i);
    uint64_t syncs0 = st.syncs;
    CHECK_EQ(sigil_audit_enqueue(log, big, BIG, &first_big), SIGIL_OK);
    CHECK_EQ(first_big, before);
    CHECK_EQ(big[BIG - 1].seq, before + BIG - 1);
    sigil_audit_log_stats(log, &st);
    CHECK(st.syncs > syncs0); /* the full batch was written during the call */
    CHECK_EQ(sigil_audit_wait(log, big[BIG - 1].seq), SIGIL_OK);
    free(big);
    sigil_audit_log_stats(log, &st);
    CHECK_EQ(st.size, before + BIG);
    CHECK_EQ(sigil_audit_log_close(log), SIGIL_OK);
    CHECK_EQ(verify(dir, 0, msg), SIGIL_AUDIT_V_OK);
}

typedef struct {
    sigil_audit_log *log;
    uint64_t seq;
    int r;
} waiter_arg;

static void *waiter(void *p)
{
    waiter_arg *w = p;
    w->r = sigil_audit_wait(w->log, w->seq);
    return NULL;
}

static off_t file_size(const char *dir, const char *f)
{
    char path[512];
    struct stat sb;
    snprintf(path, sizeof(path), "%s/%s", dir, f);
    return stat(path, &sb) == 0 ? sb.st_size : -1;
}

/* A write fails in the middle of a group (file size limit, in a child
 * process): every thread waiting for an entry of that group gets
 * SIGIL_E_IO, entries made durable before stay acknowledged, nothing after
 * is acknowledged, the log refuses further appends; after reopening it
 * verifies. Two shapes: one known group of 8 waiters; and 16 threads
 * appending flat out until the limit hits some group. */
static void test_group_failure(void)
{
    char dir[300], msg[1024];
    /* (1) One group of 8 entries (one enqueue), 8 threads waiting. */
    snprintf(dir, sizeof(dir), "%s/gfail1", base);
    sigil_audit_config c = config(dir, 100000, 100000);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        sigil_audit_log *log;
        if (sigil_audit_log_open(&c, &log) != SIGIL_OK)
            _exit(10);
        sigil_audit_entry e[8];
        for (unsigned i = 0; i < 8; i++)
            mk_entry(&e[i], i);
        if (sigil_audit_append(log, e, 5, NULL) != SIGIL_OK) /* seq 0..4 durable */
            _exit(11);
        off_t sz = file_size(dir, "entries.log");
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {(rlim_t)sz + 200, (rlim_t)sz + 200}; /* ~1.5 records more */
        setrlimit(RLIMIT_FSIZE, &rl);
        uint64_t first;
        if (sigil_audit_enqueue(log, e, 8, &first) != SIGIL_OK || first != 5)
            _exit(12);
        pthread_t t[8];
        waiter_arg w[8];
        for (unsigned i = 0; i < 8; i++) {
            w[i] = (waiter_arg){log, first + i, 1};
            pthread_create(&t[i], NULL, waiter, &w[i]);
        }
        for (unsigned i = 0; i < 8; i++) {
            pthread_join(t[i], NULL);
            if (w[i].r != SIGIL_E_IO)
                _exit(13);
        }
        if (sigil_audit_wait(log, 4) != SIGIL_OK) /* durable before: still acknowledged */
            _exit(14);
        sigil_audit_entry x;
        mk_entry(&x, 77);
        if (sigil_audit_append(log, &x, 1, NULL) != SIGIL_E_UNAVAILABLE ||
            sigil_audit_enqueue(log, &x, 1, NULL) != SIGIL_E_UNAVAILABLE)
            _exit(15);
        sigil_audit_stats st;
        sigil_audit_log_stats(log, &st);
        if (st.size != 5 || st.error != SIGIL_E_IO)
            _exit(16);
        if (sigil_audit_checkpoint_now(log) != SIGIL_E_IO || sigil_audit_log_close(log) != SIGIL_E_IO)
            _exit(17);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (WIFEXITED(status) && WEXITSTATUS(status))
        fprintf(stderr, "group failure (1): child exit %d\n", WEXITSTATUS(status));
    sigil_audit_log *log;
    sigil_audit_stats st;
    REQUIRE(sigil_audit_log_open(&c, &log) == SIGIL_OK);
    sigil_audit_log_stats(log, &st);
    CHECK(st.size >= 5 && st.size <= 6); /* the torn write cut back to whole records */
    CHECK_EQ(sigil_audit_log_close(log), SIGIL_OK);
    CHECK_EQ(verify(dir, 0, msg), SIGIL_AUDIT_V_OK);

    /* (2) 16 threads appending until the limit hits whatever group is in
     * flight. The child writes the count it saw acknowledged to DIR.size. */
    snprintf(dir, sizeof(dir), "%s/gfail2", base);
    c = config(dir, 64, 100000);
    pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        sigil_audit_log *lg;
        if (sigil_audit_log_open(&c, &lg) != SIGIL_OK)
            _exit(10);
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {60000, 60000};
        setrlimit(RLIMIT_FSIZE, &rl);
        enum { T = 16, N = 1000 };
        app_arg a[T];
        uint64_t *all;
        size_t nall;
        run_appenders(lg, T, N, a, &all, &nall);
        sigil_audit_stats s;
        sigil_audit_log_stats(lg, &s);
        int io = 0;
        for (unsigned i = 0; i < T; i++) {
            if (a[i].not_durable)
                _exit(20);
            if (a[i].last == SIGIL_E_IO)
                io++;
            else if (a[i].last != SIGIL_E_UNAVAILABLE)
                _exit(21); /* every thread stopped on the failure */
        }
        if (io == 0 || s.error != SIGIL_E_IO)
            _exit(22);
        /* acknowledged = exactly the entries durable before the failure */
        if (nall != s.size)
            _exit(23);
        for (size_t i = 0; i < nall; i++)
            if (all[i] != i)
                _exit(24);
        free(all);
        char p[400];
        snprintf(p, sizeof(p), "%s.size", dir);
        FILE *f = fopen(p, "w");
        if (!f)
            _exit(25);
        fprintf(f, "%llu\n", (unsigned long long)s.size);
        fclose(f);
        sigil_audit_log_close(lg);
        _exit(0);
    }
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (WIFEXITED(status) && WEXITSTATUS(status))
        fprintf(stderr, "group failure (2): child exit %d\n", WEXITSTATUS(status));
    char p[400];
    unsigned long long acked = 0;
    snprintf(p, sizeof(p), "%s.size", dir);
    FILE *f = fopen(p, "r");
    CHECK(f != NULL);
    if (f) {
        CHECK(fscanf(f, "%llu", &acked) == 1);
        fclose(f);
    }
    CHECK(acked > 0);
    REQUIRE(sigil_audit_log_open(&c, &log) == SIGIL_OK);
    sigil_audit_log_stats(log, &st);
    CHECK(st.size >= acked); /* every acknowledged entry survived */
    CHECK_EQ(sigil_audit_log_close(log), SIGIL_OK);
    CHECK_EQ(verify(dir, 0, msg), SIGIL_AUDIT_V_OK);
}

static int tamper_case(const char *name, const char *src, int want, const char *want_msg,
                       void (*fn)(const char *dir, void *ctx), void *ctx)
{
    char dir[300], msg[1024];
    static int k;
    snprintf(dir, sizeof(dir), "%s/t%d", base, k++);
    copy_log(src, dir);
    fn(dir, ctx);
    int rc = verify(dir, 0, msg);
    int ok = rc == want && (!want_msg || strstr(msg, want_msg));
    if (!ok)
        fprintf(stderr, "tamper %s: got %d \"%s\", want %d \"%s\"\n", name, rc, msg, want,
                want_msg ? want_msg : "");
    return ok;
}

static char src_dir[300];
static blob E, C;
static size_t eoff[64], elen[64], ne, coff[64], clen[64], nc;

static void write_entries(const char *dir, const int *order, size_t n)
{
    uint8_t *o = malloc(E.n * 2);
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(o + w, E.p + eoff[order[i]], elen[order[i]]);
        w += elen[order[i]];
    }
    spit(dir, "entries.log", o, w);
    free(o);
}

static void t_delete(const char *dir, void *ctx)
{
    (void)ctx;
    int ord[64], k = 0;
    for (size_t i = 0; i < ne; i++)
        if (i != 7)
            ord[k++] = (int)i;
    write_entries(dir, ord, (size_t)k);
}
static void t_reorder(const char *dir, void *ctx)
{
    (void)ctx;
    int ord[64];
    for (size_t i = 0; i < ne; i++)
        ord[i] = (int)i;
    ord[3] = 4, ord[4] = 3;
    write_entries(dir, ord, ne);
}
static void t_duplicate(const char *dir, void *ctx)
{
    (void)ctx;
    int ord[64], k = 0;
    for (size_t i = 0; i < ne; i++) {
        ord[k++] = (int)i;
        if (i == 5)
            ord[k++] = (int)i;
    }
    write_entries(dir, ord, (size_t)k);
}
static void t_truncate_records(const char *dir, void *ctx)
{
    (void)ctx;
    int ord[64];
    for (size_t i = 0; i < 12; i++)
        ord[i] = (int)i;
    write_entries(dir, ord, 12);
}
static void t_truncate_bytes(const char *dir, void *ctx)
{
    (void)ctx;
    spit(dir, "entries.log", E.p, eoff[12] + 9);
}
/* Re-encode entries as a forger would: valid framing, altered content. */
static void t_forge(const char *dir, void *ctx)
{
    int mode = *(int *)ctx;
    uint8_t *o = malloc(E.n * 2);
    size_t w = 0;
    for (size_t i = 0; i < ne; i++) {
        sigil_audit_entry e;
        REQUIRE(sigil_audit_entry_decode(E.p + eoff[i] + 4, elen[i] - 12, &e) == SIGIL_OK);
        if (mode == 0 && i == 3) /* change who asked */
            e.actor[4] ^= 1;
        if (mode == 1 && i == 7) /* delete 7 and renumber the rest */
            continue;
        if (mode == 1 && i > 7)
            e.seq--;
        if (mode == 2 && i == 3) /* move time back */
            e.time_ms -= 5000;
        w += frame_entry(&e, o + w);
    }
    if (mode == 3) { /* append a forged entry after the last checkpoint */
        sigil_audit_entry e;
        mk_entry(&e, 7777);
        e.version = 1, e.seq = ne, e.time_ms = atomic_load(&fake_now);
        w += frame_entry(&e, o + w);
    }
    spit(dir, "entries.log", o, w);
    free(o);
}
/* Checkpoint changes: 0 = replace #1 with one by another key, 1 = replace
 * #1 by a validly signed one of the same size over other entries (needs
 * the key: an insider), 2 = add such a one (fork), 3 = re-framed note with
 * a changed size line. */
static void t_cp(const char *dir, void *ctx)
{
    int mode = *(int *)ctx;
    uint8_t *o = malloc(C.n + 8192);
    size_t w = 0;
    for (size_t i = 0; i < nc; i++) {
        sigil_audit_checkpoint cp;
        REQUIRE(sigil_audit_checkpoint_verify(C.p + coff[i] + 4, clen[i] - 12, vname, vpub, &cp) ==
                SIGIL_OK);
        if (i == 1 && mode != 2) {
            if (mode == 0) {
                w += frame_note(&cp, &other, o + w);
            } else if (mode == 1) {
                cp.root[0] ^= 1;
                w += frame_note(&cp, &signer, o + w);
            } else {
                /* edit the text of a signed note, keep its signature */
                size_t n = clen[i] - 12;
                uint8_t *t = malloc(n + 1);
                memcpy(t, C.p + coff[i] + 4, n);
                char *nl = memchr(t, '\n', n);
                nl[1] = (char)(nl[1] == '1' ? '2' : '1');
                uint8_t h[32];
                crypto_hash_sha256(h, t, n);
                o[w] = (uint8_t)(n >> 24), o[w + 1] = (uint8_t)(n >> 16);
                o[w + 2] = (uint8_t)(n >> 8), o[w + 3] = (uint8_t)n;
                memcpy(o + w + 4, t, n);
                memcpy(o + w + 4 + n, h, 8);
                w += n + 12;
                free(t);
            }
            continue;
        }
        memcpy(o + w, C.p + coff[i], clen[i]);
        w += clen[i];
        if (mode == 2 && i == 1) {
            cp.root[5] ^= 1;
            w += frame_note(&cp, &signer, o + w);
        }
    }
    spit(dir, "checkpoints.log", o, w);
    free(o);
}

static void test_tampering(void)
{
    char msg[1024];
    snprintf(src_dir, sizeof(src_dir), "%s/src", base);
    sigil_audit_config c = config(src_dir, 5, 1000000);
    sigil_audit_log *log;
    REQUIRE(sigil_audit_log_open(&c, &log) == SIGIL_OK);
    for (unsigned i = 0; i < 20; i++) {
        sigil_audit_entry e;
        mk_entry(&e, i);
        atomic_fetch_add(&fake_now, 1000);
        REQUIRE(sigil_audit_append(log, &e, 1, NULL) == SIGIL_OK);
    }
    REQUIRE(sigil_audit_log_close(log) == SIGIL_OK);
    REQUIRE(verify(src_dir, 0, msg) == SIGIL_AUDIT_V_OK);
    E = slurp(src_dir, "entries.log");
    C = slurp(src_dir, "checkpoints.log");
    ne = frames(&E, eoff, elen, 64);
    nc = frames(&C, coff, clen, 64);
    REQUIRE(ne == 20 && nc == 4); /* checkpoints at 5, 10, 15, 20 */

    int m;
    CHECK(tamper_case("delete", src_dir, SIGIL_AUDIT_V_ORDER, "entry index 7: sequence number 8, expected 7", t_delete, NULL));
    CHECK(tamper_case("reorder", src_dir, SIGIL_AUDIT_V_ORDER, "entry index 3: sequence number 4", t_reorder, NULL));
    CHECK(tamper_case("duplicate", src_dir, SIGIL_AUDIT_V_ORDER, "entry index 6: sequence number 5", t_duplicate, NULL));
    CHECK(tamper_case("truncate records", src_dir, SIGIL_AUDIT_V_TRUNCATED, "holds only 12 entries", t_truncate_records, NULL));
    CHECK(tamper_case("truncate bytes", src_dir, SIGIL_AUDIT_V_FRAME, "entry index 12", t_truncate_bytes, NULL));
    m = 0;
    CHECK(tamper_case("forged content", src_dir, SIGIL_AUDIT_V_ROOT, "checkpoint #0 (size 5): root mismatch", t_forge, &m));
    m = 1;
    CHECK(tamper_case("delete+renumber", src_dir, SIGIL_AUDIT_V_ROOT, "checkpoint #1 (size 10): root mismatch", t_forge, &m));
    m = 2;
    CHECK(tamper_case("time back", src_dir, SIGIL_AUDIT_V_ORDER, "entry index 3 (seq 3): time", t_forge, &m));
    m = 3;
    CHECK(tamper_case("forged append", src_dir, SIGIL_AUDIT_V_UNCOVERED, "entries 20..20", t_forge, &m));
    m = 0;
    CHECK(tamper_case("checkpoint by other key", src_dir, SIGIL_AUDIT_V_CHECKPOINT, "checkpoint #1: not signed by the trusted key", t_cp, &m));
    m = 1;
    CHECK(tamper_case("substituted checkpoint", src_dir, SIGIL_AUDIT_V_ROOT, "checkpoint #1 (size 10): root mismatch", t_cp, &m));
    m = 2;
    CHECK(tamper_case("fork", src_dir, SIGIL_AUDIT_V_FORK, "fork: checkpoint #1 and checkpoint #2 both sign size 10", t_cp, &m));
    m = 3;
    CHECK(tamper_case("edited checkpoint text", src_dir, SIGIL_AUDIT_V_CHECKPOINT, "checkpoint #1: signature does not verify", t_cp, &m));

    /* Flip any byte: every single one of both files is detected. */
    int missed = 0;
    char fdir[300];
    snprintf(fdir, sizeof(fdir), "%s/flip", base);
    copy_log(src_dir, fdir);
    for (size_t i = 0; i < E.n; i++) {
        E.p[i] ^= 0x20;
        spit(fdir, "entries.log", E.p, E.n);
        E.p[i] ^= 0x20;
        if (verify(fdir, 0, msg) != SIGIL_AUDIT_V_FRAME)
            missed++;
    }
    spit(fdir, "entries.log", E.p, E.n);
    for (size_t i = 0; i < C.n; i++) {
        C.p[i] ^= 0x20;
        spit(fdir, "checkpoints.log", C.p, C.n);
        C.p[i] ^= 0x20;
        if (verify(fdir, 0, msg) == SIGIL_AUDIT_V_OK)
            missed++;
    }
    CHECK_EQ(missed, 0);
    CHECK(E.n > 3000 && C.n > 500);
    /* Checkpoints the auditor saved: one that agrees passes; one of the
     * same size with another root is a fork; one by another key is refused;
     * one beyond the log means the log was cut back. */
    {
        sigil_audit_checkpoint cp;
        sigil_buf nb;
        REQUIRE(sigil_audit_checkpoint_verify(C.p + coff[1] + 4, clen[1] - 12, vname, vpub, &cp) == SIGIL_OK);
        REQUIRE(sigil_buf_init(&nb, SIGIL_AUDIT_NOTE_MAX, 0) == SIGIL_OK);
        const uint8_t *sv[1];
        size_t sl[1];
        sigil_audit_verify_result vr;
        sv[0] = C.p + coff[1] + 4;
        sl[0] = clen[1] - 12;
        CHECK_EQ(sigil_audit_verify_log_saved(src_dir, vname, vpub, 0, sv, sl, 1, &vr, msg, sizeof(msg)),
                 SIGIL_AUDIT_V_OK);
        cp.root[0] ^= 1;
        REQUIRE(sigil_audit_checkpoint_sign(&cp, &signer, &nb) == SIGIL_OK);
        sv[0] = nb.data;
        sl[0] = nb.size;
        CHECK_EQ(sigil_audit_verify_log_saved(src_dir, vname, vpub, 0, sv, sl, 1, &vr, msg, sizeof(msg)),
                 SIGIL_AUDIT_V_FORK);
        CHECK(strstr(msg, "checkpoint #1 and saved checkpoint #0 both sign size 10") != NULL);
        sigil_buf_reset(&nb);
        cp.root[0] ^= 1;
        REQUIRE(sigil_audit_checkpoint_sign(&cp, &other, &nb) == SIGIL_OK);
        CHECK_EQ(sigil_audit_verify_log_saved(src_dir, vname, vpub, 0, sv, sl, 1, &vr, msg, sizeof(msg)),
                 SIGIL_AUDIT_V_CHECKPOINT);
        CHECK(strstr(msg, "saved checkpoint #0: not signed") != NULL);
        sigil_buf_reset(&nb);
        cp.size = 21;
        REQUIRE(sigil_audit_checkpoint_sign(&cp, &signer, &nb) == SIGIL_OK);
        sv[0] = nb.data;
        sl[0] = nb.size;
        CHECK_EQ(sigil_audit_verify_log_saved(src_dir, vname, vpub, 0, sv, sl, 1, &vr, msg, sizeof(msg)),
                 SIGIL_AUDIT_V_TRUNCATED);
        sigil_buf_free(&nb);
    }
    /* Wrong trusted key: every checkpoint is rejected. */
    sigil_audit_verify_result res;
    CHECK_EQ(sigil_audit_verify_log(src_dir, vname, other.pub, 0, &res, msg, sizeof(msg)),
             SIGIL_AUDIT_V_CHECKPOINT);
    CHECK_EQ(sigil_audit_verify_log("/nonexistent/log", vname, vpub, 0, &res, msg, sizeof(msg)),
             SIGIL_AUDIT_V_IO);
}

int main(void)
{
    REQUIRE(sodium_init() >= 0);
    char sk[256], vk[256];
    REQUIRE(sigil_audit_keygen("sigil.test/audit", sk, sizeof(sk), vk, sizeof(vk)) == SIGIL_OK);
    REQUIRE(sigil_audit_skey_parse(sk, &signer) == SIGIL_OK);
    REQUIRE(sigil_audit_vkey_parse(vk, vname, vpub) == SIGIL_OK);
    REQUIRE(sigil_audit_keygen("sigil.test/audit", sk, sizeof(sk), vk, sizeof(vk)) == SIGIL_OK);
    REQUIRE(sigil_audit_skey_parse(sk, &other) == SIGIL_OK);
    snprintf(base, sizeof(base), "/tmp/sigil-audit-test.XXXXXX");
    REQUIRE(mkdtemp(base) != NULL);
    test_concurrent();
    test_policy_and_recovery();
    test_write_failure();
    test_group_commit();
    test_group_failure();
    test_tampering();
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", base);
    sigil_audit_signer_free(&signer);
    sigil_audit_signer_free(&other);
    free(E.p);
    free(C.p);
    return check_done();
}
