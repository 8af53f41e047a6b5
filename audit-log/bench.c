/* sigil-bench audit: durable appends/s per backend with group commit and
 * concurrent writers, fsyncs (or commits) per entry, latency added to each
 * append (what a sign waits for), and whole-log verification speed. The
 * baseline is one writer appending one entry at a time (no batching
 * possible: one fsync per entry), measured in the same run. */
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "sigil/audit.h"
#include "sigil/audit_bench.h"
#include "sigil/err.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fill(sigil_audit_entry *e, unsigned i)
{
    memset(e, 0, sizeof(*e));
    e->type = SIGIL_AUDIT_SIGN;
    e->actor_len = (uint8_t)snprintf(e->actor, sizeof(e->actor), "CN=wallet-%u,O=bench", i % 16);
    e->key_id_len = 16;
    memset(e->key_id, 0x42, 16);
    e->scheme = SIGIL_AUDIT_SCHEME_ED25519;
    e->digest_len = 32;
    memcpy(e->digest, &i, sizeof(i));
    e->outcome = SIGIL_AUDIT_OUTCOME_SIGNATURE;
    e->sig_len = 64;
    memset(e->sig, (int)i, 64);
    e->n_signers = 3;
    e->signers[0] = 1, e->signers[1] = 2, e->signers[2] = 4;
    e->request_id_len = (uint8_t)snprintf(e->request_id, sizeof(e->request_id), "bench-%u", i);
}

typedef struct {
    sigil_audit_log *log;
    unsigned id, n;
    double *lat; /* seconds per append */
    int err;
} wk;

static void *run_writer(void *p)
{
    wk *w = p;
    for (unsigned i = 0; i < w->n; i++) {
        sigil_audit_entry e;
        fill(&e, w->id * 1000000u + i);
        double t0 = now_s();
        int r = sigil_audit_append(w->log, &e, 1, NULL);
        w->lat[i] = now_s() - t0;
        if (r) {
            w->err = r;
            break;
        }
    }
    return NULL;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int run(const sigil_audit_config *cfg, unsigned writers, unsigned total, const char *label)
{
    sigil_audit_log *log;
    int r = sigil_audit_log_open(cfg, &log);
    if (r) {
        fprintf(stderr, "bench audit: open %s: %s\n", label, sigil_strerror(r));
        return r;
    }
    sigil_audit_stats s0, s1;
    sigil_audit_log_stats(log, &s0);
    unsigned per = total / writers;
    double *lat = calloc((size_t)per * writers, sizeof(double));
    wk *w = calloc(writers, sizeof(*w));
    pthread_t *t = calloc(writers, sizeof(*t));
    if (!lat || !w || !t) {
        free(lat), free(w), free(t);
        sigil_audit_log_close(log);
        return SIGIL_E_NOMEM;
    }
    double t0 = now_s();
    for (unsigned i = 0; i < writers; i++) {
        w[i] = (wk){log, i, per, lat + (size_t)i * per, 0};
        pthread_create(&t[i], NULL, run_writer, &w[i]);
    }
    for (unsigned i = 0; i < writers; i++) {
        pthread_join(t[i], NULL);
        if (w[i].err)
            r = w[i].err;
    }
    double el = now_s() - t0;
    sigil_audit_log_stats(log, &s1);
    size_t n = (size_t)per * writers;
    qsort(lat, n, sizeof(double), cmp_d);
    uint64_t syncs = s1.syncs - s0.syncs;
    printf("  %-28s %3u writers %8zu entries %9.0f appends/s  %6.4f syncs/entry  "
           "added latency median %7.3f ms  p90 %7.3f ms  p99 %7.3f ms  checkpoints %" PRIu64 "\n",
           label, writers, n, (double)n / el, (double)syncs / (double)n, lat[n / 2] * 1e3,
           lat[n * 9 / 10] * 1e3, lat[n * 99 / 100] * 1e3, s1.checkpoints - s0.checkpoints);
    fflush(stdout);
    free(lat), free(w), free(t);
    int rc = sigil_audit_log_close(log);
    return r ? r : rc;
}

/* Build a big log quickly (large batches), then time the verifier. */
static int verify_speed(const sigil_audit_config *cfg, const char *name, const uint8_t pub[32],
                        unsigned entries, const char *label)
{
    sigil_audit_log *log;
    int r = sigil_audit_log_open(cfg, &log);
    if (r)
        return r;
    sigil_audit_stats st;
    sigil_audit_log_stats(log, &st);
    static sigil_audit_entry batch[1000];
    for (uint64_t have = st.size; have < entries && r == SIGIL_OK;) {
        unsigned k = entries - have < 1000 ? (unsigned)(entries - have) : 1000;
        for (unsigned i = 0; i < k; i++)
            fill(&batch[i], (unsigned)have + i);
        r = sigil_audit_append(log, batch, k, NULL);
        have += k;
    }
    int rc = sigil_audit_log_close(log);
    if (r || rc)
        return r ? r : rc;
    char msg[1024];
    sigil_audit_verify_result res;
    double t0 = now_s();
    int v = sigil_audit_verify_log(cfg->path, name, pub, 0, &res, msg, sizeof(msg));
    double el = now_s() - t0;
    printf("  %-28s verify %8" PRIu64 " entries, %" PRIu64 " checkpoints: %.2f s = %.0f entries/s (%s)\n",
           label, res.entries, res.checkpoints, el, (double)res.entries / el,
           v == SIGIL_AUDIT_V_OK ? "ok" : msg);
    return v == SIGIL_AUDIT_V_OK ? SIGIL_OK : SIGIL_E_CHECK;
}

int sigil_bench_audit(int argc, char **argv)
{
    unsigned entries = 100000, writers = 256, vent = 1000000, base_n = 2000;
    const char *dir = NULL, *pg = NULL;
    static const struct option opts[] = {{"entries", 1, 0, 'n'}, {"writers", 1, 0, 'w'},
                                         {"verify-entries", 1, 0, 'v'}, {"baseline", 1, 0, 'b'},
                                         {"dir", 1, 0, 'd'}, {"pg", 1, 0, 'p'},
                                         {"help", 0, 0, 'h'}, {0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'n': entries = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'w': writers = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'v': vent = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'b': base_n = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'd': dir = optarg; break;
        case 'p': pg = optarg; break;
        case 'h':
            printf("usage: sigil-bench audit [--entries N] [--writers W] [--verify-entries N]\n"
                   "                         [--baseline N] [--dir DIR] [--pg CONNINFO]\n\n"
                   "Durable appends/s with group commit from W concurrent writers (default\n"
                   "256, N=100000 entries), syncs per entry, latency each append adds, and the\n"
                   "time to verify a log of --verify-entries (default 1000000) entries. The\n"
                   "baseline is 1 writer, one entry per fsync (--baseline N entries). The\n"
                   "file log goes in a new directory under DIR (default: the current\n"
                   "directory; not tmpfs, or fsync costs nothing). --pg: a database whose\n"
                   "schema the bench creates (e.g. from scripts/pg-test-server).\n\n"
                   "example: sigil-bench audit --pg \"$(scripts/pg-test-server start /tmp/pgb)\"\n");
            return 0;
        default: return 2;
        }
    }
    if (!entries || !writers || writers > 1024 || !base_n) {
        fprintf(stderr, "bench audit: bad --entries/--writers/--baseline\n");
        return 2;
    }
    if (sodium_init() < 0)
        return 1;
    char sk[256], vk[256], name[SIGIL_AUDIT_NAME_MAX + 1], path[4096];
    uint8_t pub[32];
    sigil_audit_signer signer;
    if (sigil_audit_keygen("sigil.bench/audit", sk, sizeof(sk), vk, sizeof(vk)) ||
        sigil_audit_skey_parse(sk, &signer) || sigil_audit_vkey_parse(vk, name, pub))
        return 1;
    sodium_memzero(sk, sizeof(sk));
    snprintf(path, sizeof(path), "%s/sigil-bench-audit.XXXXXX", dir ? dir : ".");
    if (!mkdtemp(path)) {
        perror("bench audit: mkdtemp");
        return 1;
    }
    struct statfs fs;
    statfs(path, &fs);
    printf("sigil-bench audit: cores %ld, writers %u, entries %u per run, checkpoint every 1024 "
           "entries or 1000 ms, file log in %s (fs magic 0x%lx%s)\n",
           sysconf(_SC_NPROCESSORS_ONLN), writers, entries, path, (unsigned long)fs.f_type,
           fs.f_type == 0x01021994 ? ": tmpfs, fsync is free, numbers meaningless" : "");
    sigil_audit_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.origin = "sigil.bench/audit";
    cfg.signer = &signer;
    int r = 0;
    char sub[4200];
    /* File backend. */
    snprintf(sub, sizeof(sub), "%s/file", path);
    cfg.backend = SIGIL_AUDIT_BACKEND_FILE;
    cfg.path = sub;
    printf("file backend:\n");
    r |= run(&cfg, 1, base_n, "baseline (1 writer)");
    r |= run(&cfg, writers, entries, "group commit");
    snprintf(sub, sizeof(sub), "%s/verify", path);
    r |= verify_speed(&cfg, name, pub, vent, "file log");
    /* PostgreSQL backend. */
    if (pg) {
        char err[1024];
        printf("postgresql backend:\n");
        if (sigil_audit_pg_migrate(pg, NULL, err, sizeof(err)) != SIGIL_OK) {
            fprintf(stderr, "bench audit: pg-init: %s\n", err);
            r |= 1;
        } else {
            cfg.backend = SIGIL_AUDIT_BACKEND_PG;
            cfg.path = pg;
            r |= run(&cfg, 1, base_n / 4, "baseline (1 writer)");
            r |= run(&cfg, writers, entries, "group commit");
            double t0 = now_s();
            char msg[1024];
            sigil_audit_verify_result res;
            int v = sigil_audit_verify_log(pg, name, pub, 0, &res, msg, sizeof(msg));
            double el = now_s() - t0;
            printf("  %-28s verify %8" PRIu64 " entries: %.2f s = %.0f entries/s (%s)\n", "postgres log",
                   res.entries, el, (double)res.entries / el, v == SIGIL_AUDIT_V_OK ? "ok" : msg);
            r |= v;
        }
    } else {
        printf("postgresql backend: skipped (no --pg CONNINFO)\n");
    }
    char cmd[4200 + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
    if (system(cmd) != 0)
        fprintf(stderr, "bench audit: could not remove %s\n", path);
    sigil_audit_signer_free(&signer);
    return r ? 1 : 0;
}
