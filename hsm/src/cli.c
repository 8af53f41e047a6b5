/* sigil-hsm subcommands: provision, pubkey, check, bench. */
#include "sigil/hsm_cli.h"

#include <getopt.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sigil/err.h"
#include "sigil/hsm.h"

typedef struct {
    sigil_hsm_config cfg;
    const char *label; /* Ed25519 key label */
    double seconds;
    size_t size;
    int threads_max;
} opts;

static const char common_help[] =
    "  --token LABEL        token label (required)\n"
    "  --pin-file FILE      file whose first line is the user PIN\n"
    "  --pin-env NAME       or: environment variable NAME holds the user PIN\n"
    "  --module PATH        PKCS#11 module (default " SIGIL_HSM_DEFAULT_MODULE ")\n"
    "  --sessions N         most PKCS#11 sessions open at once (default 8)\n"
    "For SoftHSM, SOFTHSM2_CONF must name the configuration holding the token\n"
    "(scripts/softhsm-token prints it).\n";

/* Parse the options shared by every subcommand; returns -1 after --help,
 * 2 on a usage error, 0 otherwise. */
static int parse(int argc, char **argv, opts *o, const char *usage)
{
    static const struct option lo[] = {
        {"token", required_argument, 0, 't'},  {"pin-file", required_argument, 0, 'p'},
        {"pin-env", required_argument, 0, 'e'}, {"module", required_argument, 0, 'm'},
        {"sessions", required_argument, 0, 'n'}, {"label", required_argument, 0, 'l'},
        {"seconds", required_argument, 0, 's'}, {"size", required_argument, 0, 'z'},
        {"threads", required_argument, 0, 'T'}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    memset(o, 0, sizeof(*o));
    o->label = SIGIL_HSM_IDENTITY_LABEL;
    o->seconds = 2.0;
    o->size = 96;
    o->threads_max = 2;
    optind = 1;
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 't': o->cfg.token_label = optarg; break;
        case 'p': o->cfg.pin_file = optarg; break;
        case 'e': o->cfg.pin_env = optarg; break;
        case 'm': o->cfg.module_path = optarg; break;
        case 'l': o->label = optarg; break;
        case 'n':
            o->cfg.max_sessions = (unsigned)strtoul(optarg, &end, 10);
            if (*end || o->cfg.max_sessions == 0)
                goto bad;
            break;
        case 's':
            o->seconds = strtod(optarg, &end);
            if (*end || !(o->seconds > 0 && o->seconds <= 600))
                goto bad;
            break;
        case 'z':
            o->size = strtoul(optarg, &end, 10);
            if (*end || o->size == 0 || o->size > SIGIL_HSM_SHARE_MAX)
                goto bad;
            break;
        case 'T':
            o->threads_max = (int)strtol(optarg, &end, 10);
            if (*end || o->threads_max < 1 || o->threads_max > 64)
                goto bad;
            break;
        case 'h':
            printf("%s\noptions:\n%s", usage, common_help);
            return -1;
        default:
            goto bad;
        }
    }
    if (optind != argc || !o->cfg.token_label || (!o->cfg.pin_file == !o->cfg.pin_env)) {
        fprintf(stderr, "%s: need --token and one of --pin-file / --pin-env\n", argv[0]);
        goto bad;
    }
    return 0;
bad:
    fprintf(stderr, "%s", usage);
    return 2;
}

static void hex(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%02x", p[i]);
    printf("\n");
}

static int fail(const char *what, int rc)
{
    fprintf(stderr, "sigil-hsm: %s: %s (%s)\n", what, sigil_strerror(rc), sigil_errname(rc));
    return 1;
}

static int open_or_fail(const opts *o, sigil_hsm **h)
{
    int rc = sigil_hsm_open(h, &o->cfg);
    return rc == SIGIL_OK ? 0 : fail("open token", rc);
}

int sigil_hsm_cmd_provision(int argc, char **argv)
{
    static const char usage[] =
        "usage: sigil-hsm provision --token LABEL (--pin-file F | --pin-env NAME)\n"
        "                           [--label KEYLABEL] [--module PATH]\n\n"
        "Creates, inside the token, the AES-256 sealing key (label sigil-seal:\n"
        "token object, sensitive, never extractable, cannot wrap or be wrapped)\n"
        "and an Ed25519 key pair (label KEYLABEL, default sigil-identity; use e.g.\n"
        "--label sigil-audit for the coordinator's log key). Keys that already\n"
        "exist are kept, never replaced. Prints the Ed25519 public key in hex:\n"
        "record it in the cluster configuration.\n\n"
        "  --label KEYLABEL     label of the Ed25519 key (1-32 printable ASCII)\n";
    opts o;
    int r = parse(argc, argv, &o, usage);
    if (r)
        return r < 0 ? 0 : r;
    sigil_hsm *h;
    if (open_or_fail(&o, &h))
        return 1;
    int rc = sigil_hsm_create_seal_key(h);
    if (rc == SIGIL_E_EXISTS)
        fprintf(stderr, "sigil-hsm: sealing key already present, kept\n");
    else if (rc != SIGIL_OK) {
        sigil_hsm_close(h);
        return fail("create sealing key", rc);
    } else
        fprintf(stderr, "sigil-hsm: sealing key created\n");
    uint8_t pk[32];
    rc = sigil_hsm_create_ed25519(h, o.label, pk);
    if (rc == SIGIL_E_EXISTS) {
        fprintf(stderr, "sigil-hsm: Ed25519 key %s already present, kept\n", o.label);
        rc = sigil_hsm_ed25519_pubkey(h, o.label, pk);
    } else if (rc == SIGIL_OK)
        fprintf(stderr, "sigil-hsm: Ed25519 key %s created\n", o.label);
    sigil_hsm_close(h);
    if (rc != SIGIL_OK)
        return fail("Ed25519 key", rc);
    hex(pk, 32);
    return 0;
}

int sigil_hsm_cmd_pubkey(int argc, char **argv)
{
    static const char usage[] =
        "usage: sigil-hsm pubkey --token LABEL (--pin-file F | --pin-env NAME) [--label KEYLABEL]\n\n"
        "Prints the 32-byte Ed25519 public key labelled KEYLABEL (default\n"
        "sigil-identity) in hex.\n";
    opts o;
    int r = parse(argc, argv, &o, usage);
    if (r)
        return r < 0 ? 0 : r;
    sigil_hsm *h;
    if (open_or_fail(&o, &h))
        return 1;
    uint8_t pk[32];
    int rc = sigil_hsm_ed25519_pubkey(h, o.label, pk);
    sigil_hsm_close(h);
    if (rc != SIGIL_OK)
        return fail("public key", rc);
    hex(pk, 32);
    return 0;
}

int sigil_hsm_cmd_check(int argc, char **argv)
{
    static const char usage[] =
        "usage: sigil-hsm check --token LABEL (--pin-file F | --pin-env NAME) [--label KEYLABEL]\n\n"
        "Opens the token (which refuses a sealing key that is extractable or not\n"
        "sensitive), seals and unseals a random blob, tampers with it and checks\n"
        "the tamper is refused, signs with the Ed25519 key and verifies with\n"
        "libsodium. Exit status 0 only if everything holds.\n";
    opts o;
    int r = parse(argc, argv, &o, usage);
    if (r)
        return r < 0 ? 0 : r;
    sigil_hsm *h;
    if (open_or_fail(&o, &h))
        return 1;
    uint8_t share[32], pk[32], sig[64], msg[] = "sigil-hsm check";
    randombytes_buf(share, sizeof(share));
    sigil_hsm_ad ad = {(const uint8_t *)"check", 5, 1, 1, 1};
    sigil_buf blob, pt;
    sigil_buf_init(&blob, 4096, 0);
    sigil_buf_init(&pt, 4096, SIGIL_BUF_SECRET);
    int rc = sigil_hsm_seal(h, &ad, share, sizeof(share), &blob);
    if (rc == SIGIL_OK)
        rc = sigil_hsm_unseal(h, &ad, blob.data, blob.size, &pt);
    if (rc == SIGIL_OK && (pt.size != sizeof(share) || !sigil_memeq(pt.data, share, 32)))
        rc = SIGIL_E_MISMATCH;
    if (rc == SIGIL_OK) {
        sigil_buf_reset(&pt);
        blob.data[blob.size - 1] ^= 1;
        int t = sigil_hsm_unseal(h, &ad, blob.data, blob.size, &pt);
        rc = t == SIGIL_E_UNSEAL && pt.size == 0 ? SIGIL_OK : SIGIL_E_CHECK;
    }
    if (rc != SIGIL_OK) {
        sigil_buf_free(&blob);
        sigil_buf_free(&pt);
        sigil_hsm_close(h);
        return fail("seal/unseal self-test", rc);
    }
    printf("seal/unseal: ok (tampered blob refused)\n");
    rc = sigil_hsm_ed25519_pubkey(h, o.label, pk);
    if (rc == SIGIL_OK)
        rc = sigil_hsm_sign_ed25519(h, o.label, msg, sizeof(msg), sig);
    if (rc == SIGIL_OK && crypto_sign_verify_detached(sig, msg, sizeof(msg), pk) != 0)
        rc = SIGIL_E_SIGNATURE;
    sigil_buf_free(&blob);
    sigil_buf_free(&pt);
    sigil_hsm_close(h);
    if (rc != SIGIL_OK)
        return fail("Ed25519 self-test", rc);
    printf("ed25519 %s: ok, public key ", o.label);
    hex(pk, 32);
    return 0;
}

/* ---------------------------------------------------------------- bench */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct {
    sigil_hsm *h;
    int op; /* 0 seal, 1 unseal, 2 sign, 3 software AES-GCM decrypt, 4 software sign */
    const sigil_hsm_ad *ad;
    const uint8_t *blob;
    size_t blob_len, size;
    const char *label;
    double until;
    unsigned long count;
    double *lat;
    size_t lat_cap;
    int err;
} worker;

static const uint8_t sw_key[32] = {1};
static uint8_t sw_sk[64];

static void *work(void *arg)
{
    worker *w = arg;
    sigil_buf out;
    sigil_buf_init(&out, SIGIL_HSM_SHARE_MAX + 4096, w->op == 1 || w->op == 3 ? SIGIL_BUF_SECRET : 0);
    uint8_t *pt = malloc(w->size), sig[64], msg[32] = {7};
    memset(pt, 0x5a, w->size);
    uint8_t *p;
    sigil_buf_reserve(&out, w->size + 64, &p); /* allocate once */
    sigil_buf_reset(&out);
    while (!w->err) {
        double t0 = now();
        if (t0 >= w->until)
            break;
        int rc = SIGIL_OK;
        sigil_buf_reset(&out);
        switch (w->op) {
        case 0: rc = sigil_hsm_seal(w->h, w->ad, pt, w->size, &out); break;
        case 1: rc = sigil_hsm_unseal(w->h, w->ad, w->blob, w->blob_len, &out); break;
        case 2: rc = sigil_hsm_sign_ed25519(w->h, w->label, msg, sizeof(msg), sig); break;
        case 3: {
            unsigned long long m;
            sigil_buf_reserve(&out, w->blob_len, &p);
            rc = crypto_aead_aes256gcm_decrypt(p, &m, NULL, w->blob + 12, w->blob_len - 12,
                                               (const uint8_t *)"ad", 2, w->blob, sw_key) ? SIGIL_E_UNSEAL
                                                                                        : SIGIL_OK;
            break;
        }
        case 4: crypto_sign_detached(sig, NULL, msg, sizeof(msg), sw_sk); break;
        }
        if (rc != SIGIL_OK) {
            w->err = rc;
            break;
        }
        if (w->count < w->lat_cap)
            w->lat[w->count] = now() - t0;
        w->count++;
    }
    free(pt);
    sigil_buf_free(&out);
    return NULL;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Run op on nthreads threads for seconds; print rate and latency. */
static int run(const char *name, worker *tmpl, int nthreads, double seconds)
{
    worker w[64];
    pthread_t th[64];
    size_t cap = 2000000;
    double end = now() + seconds;
    for (int i = 0; i < nthreads; i++) {
        w[i] = *tmpl;
        w[i].until = end;
        w[i].lat_cap = cap;
        w[i].lat = malloc(cap * sizeof(double));
        pthread_create(&th[i], NULL, work, &w[i]);
    }
    unsigned long total = 0;
    size_t nl = 0;
    int err = 0;
    for (int i = 0; i < nthreads; i++) {
        pthread_join(th[i], NULL);
        total += w[i].count;
        nl += w[i].count < cap ? w[i].count : cap;
        if (w[i].err)
            err = w[i].err;
    }
    double *all = malloc((nl ? nl : 1) * sizeof(double));
    size_t k = 0;
    for (int i = 0; i < nthreads; i++) {
        size_t c = w[i].count < cap ? w[i].count : cap;
        memcpy(all + k, w[i].lat, c * sizeof(double));
        k += c;
        free(w[i].lat);
    }
    qsort(all, nl, sizeof(double), cmp_d);
    if (err)
        fprintf(stderr, "sigil-hsm bench: %s failed: %s\n", name, sigil_errname(err));
    else if (nl)
        printf("%-34s threads=%d  %9.0f ops/s  latency us: p50 %7.1f  p90 %7.1f  p99 %7.1f\n",
               name, nthreads, (double)total / seconds, all[nl / 2] * 1e6, all[nl * 9 / 10] * 1e6,
               all[nl * 99 / 100] * 1e6);
    free(all);
    return err ? 1 : 0;
}

int sigil_hsm_cmd_bench(int argc, char **argv)
{
    static const char usage[] =
        "usage: sigil-hsm bench --token LABEL (--pin-file F | --pin-env NAME)\n"
        "                       [--seconds S] [--size BYTES] [--threads N] [--label KEYLABEL]\n\n"
        "Measures, on a provisioned token: seal/s, unseal/s on 1..N threads (with\n"
        "the session pool, and with a single shared session for comparison),\n"
        "unseal latency p50/p90/p99, Ed25519 sign/s in the token, and the\n"
        "same-run software baselines (libsodium AES-256-GCM decrypt and Ed25519\n"
        "sign of the same sizes, no HSM).\n\n"
        "  --seconds S          duration of each measurement (default 2)\n"
        "  --size BYTES         plaintext share size (default 96)\n"
        "  --threads N          largest thread count (default 2)\n";
    opts o;
    int r = parse(argc, argv, &o, usage);
    if (r)
        return r < 0 ? 0 : r;
    if (sodium_init() < 0)
        return 1;
    printf("sigil-hsm bench: token=%s module=%s size=%zu seconds=%.1f cores=%ld sessions=%u\n",
           o.cfg.token_label, o.cfg.module_path ? o.cfg.module_path : SIGIL_HSM_DEFAULT_MODULE,
           o.size, o.seconds, sysconf(_SC_NPROCESSORS_ONLN),
           o.cfg.max_sessions ? o.cfg.max_sessions : 8);
    sigil_hsm *h;
    if (open_or_fail(&o, &h))
        return 1;
    static const uint8_t kid[32] = {0x42};
    sigil_hsm_ad ad = {kid, sizeof(kid), 3, 1, 7};
    uint8_t *pt = calloc(1, o.size);
    sigil_buf blob;
    sigil_buf_init(&blob, SIGIL_HSM_SHARE_MAX + 4096, 0);
    int rc = sigil_hsm_seal(h, &ad, pt, o.size, &blob);
    free(pt);
    if (rc != SIGIL_OK) {
        sigil_buf_free(&blob);
        sigil_hsm_close(h);
        return fail("seal", rc);
    }
    int bad = 0;
    worker t = {.h = h, .ad = &ad, .blob = blob.data, .blob_len = blob.size, .size = o.size,
                .label = o.label};
    t.op = 0;
    bad |= run("hsm seal", &t, 1, o.seconds);
    t.op = 1;
    for (int n = 1; n <= o.threads_max; n++)
        bad |= run("hsm unseal (session pool)", &t, n, o.seconds);
    t.op = 2;
    bad |= run("hsm ed25519 sign", &t, 1, o.seconds);
    if (o.threads_max > 1)
        bad |= run("hsm ed25519 sign", &t, o.threads_max, o.seconds);
    sigil_hsm_close(h);

    /* Same unseal with one session shared by every thread. */
    opts one = o;
    one.cfg.max_sessions = 1;
    if (o.threads_max > 1 && open_or_fail(&one, &h) == 0) {
        t.h = h;
        t.op = 1;
        bad |= run("hsm unseal (1 shared session)", &t, o.threads_max, o.seconds);
        sigil_hsm_close(h);
    }

    /* Software baselines, same run, same sizes. */
    sigil_buf sw;
    sigil_buf_init(&sw, SIGIL_HSM_SHARE_MAX + 4096, 0);
    uint8_t *p, npub[12] = {0};
    sigil_buf_put(&sw, npub, 12);
    sigil_buf_reserve(&sw, o.size + 16, &p);
    uint8_t *zero = calloc(1, o.size);
    unsigned long long cl;
    if (crypto_aead_aes256gcm_is_available()) {
        crypto_aead_aes256gcm_encrypt(p, &cl, zero, o.size, (const uint8_t *)"ad", 2, NULL, npub, sw_key);
        worker s = {.op = 3, .blob = sw.data, .blob_len = sw.size, .size = o.size};
        bad |= run("baseline sw aes256gcm decrypt", &s, 1, o.seconds);
    } else {
        printf("baseline sw aes256gcm decrypt: not available (no AES-NI)\n");
    }
    free(zero);
    uint8_t pk[32];
    crypto_sign_keypair(pk, sw_sk);
    worker s = {.op = 4, .size = o.size};
    bad |= run("baseline sw ed25519 sign", &s, 1, o.seconds);
    sodium_memzero(sw_sk, sizeof(sw_sk));
    sigil_buf_free(&sw);
    sigil_buf_free(&blob);
    return bad;
}
