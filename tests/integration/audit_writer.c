/* Test helper: a real writer process for the integration tests.
 *
 *   audit_writer write LOG SKEYFILE THREADS COUNT   (COUNT 0: until killed)
 *       appends from THREADS threads; prints "ack SEQ" for every entry whose
 *       append returned SIGIL_OK (durable), flushed at once.
 *   audit_writer open LOG SKEYFILE
 *       open (recovering a torn tail and covering it) and close.
 *   audit_writer cluster SKEYFILE CENTRAL N1 N2 N3 COUNT [MODE]
 *       write a central log of COUNT signatures by signer sets {1,2} or
 *       {2,3} and node logs with one share entry per signer. MODE
 *       "drop-share" leaves out node 2's share of signature 3; "extra-share"
 *       adds to node 1 a share with no central signature.
 * LOG is a directory or a PostgreSQL conninfo (contains '=').
 * SKEYFILE is a private key file, or "pkcs11:TOKEN:KEYLABEL:PINFILE" for the
 * token's Ed25519 key (SOFTHSM2_CONF from the environment). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "sigil/audit.h"
#include "sigil/err.h"
#ifdef SIGIL_AUDIT_HAVE_HSM
#include "sigil/audit_hsm.h"
#endif

static sigil_audit_signer signer;
static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;
static long count;
#ifdef SIGIL_AUDIT_HAVE_HSM
static sigil_hsm *hsm;
#endif

static void release_key(void)
{
    sigil_audit_signer_free(&signer);
#ifdef SIGIL_AUDIT_HAVE_HSM
    sigil_hsm_close(hsm);
    hsm = NULL;
#endif
}

static sigil_audit_log *open_log(const char *path)
{
    sigil_audit_config c;
    memset(&c, 0, sizeof(c));
    c.backend = strchr(path, '=') ? SIGIL_AUDIT_BACKEND_PG : SIGIL_AUDIT_BACKEND_FILE;
    c.path = path;
    c.origin = "sigil.test/audit";
    c.signer = &signer;
    c.checkpoint_every = 1000;
    c.checkpoint_ms = 200;
    sigil_audit_log *log;
    int r = sigil_audit_log_open(&c, &log);
    if (r) {
        fprintf(stderr, "audit_writer: open %s: %s\n", path, sigil_strerror(r));
        exit(3);
    }
    return log;
}

static void entry(sigil_audit_entry *e, uint8_t type, unsigned i, uint16_t party, const uint16_t *signers,
                  uint8_t ns)
{
    memset(e, 0, sizeof(*e));
    e->type = type;
    e->party = party;
    e->actor_len = (uint8_t)snprintf(e->actor, sizeof(e->actor), party ? "CN=node-%u" : "CN=wallet-%u",
                                     party ? party : i % 5);
    e->key_id_len = 4;
    memcpy(e->key_id, "\x0a\x1b\x2c\x3d", 4);
    e->scheme = SIGIL_AUDIT_SCHEME_ED25519;
    e->digest_len = 32;
    crypto_hash_sha256(e->digest, (const uint8_t *)&i, sizeof(i));
    e->outcome = SIGIL_AUDIT_OUTCOME_SIGNATURE;
    e->sig_len = 64;
    memset(e->sig, (int)(i + party), 64);
    e->n_signers = ns;
    memcpy(e->signers, signers, ns * sizeof(*signers));
    e->request_id_len = (uint8_t)snprintf(e->request_id, sizeof(e->request_id), "req-%u", i);
}

static void *writer(void *arg)
{
    sigil_audit_log *log = arg;
    static const uint16_t s[2] = {1, 2};
    for (long i = 0; count == 0 || i < count; i++) {
        sigil_audit_entry e;
        uint64_t seq;
        entry(&e, SIGIL_AUDIT_SIGN, (unsigned)i, 0, s, 2);
        int r = sigil_audit_append(log, &e, 1, &seq);
        if (r) {
            fprintf(stderr, "audit_writer: append: %s\n", sigil_strerror(r));
            exit(4);
        }
        pthread_mutex_lock(&out_mu);
        printf("ack %llu\n", (unsigned long long)seq);
        fflush(stdout);
        pthread_mutex_unlock(&out_mu);
    }
    return NULL;
}

static void load_key(const char *file)
{
    char buf[512];
    if (!strncmp(file, "pkcs11:", 7)) {
#ifdef SIGIL_AUDIT_HAVE_HSM
        static char spec[512];
        snprintf(spec, sizeof(spec), "%s", file + 7);
        char *tok = spec, *lab = strchr(tok, ':'), *pin = lab ? strchr(lab + 1, ':') : NULL;
        if (!pin) {
            fprintf(stderr, "audit_writer: pkcs11:TOKEN:KEYLABEL:PINFILE\n");
            exit(2);
        }
        *lab++ = 0;
        *pin++ = 0;
        sigil_hsm_config hc = {.token_label = tok, .pin_file = pin};
        int r = sigil_hsm_open(&hsm, &hc);
        if (r == SIGIL_OK)
            r = sigil_audit_signer_hsm(&signer, hsm, lab, "sigil.test/audit");
        if (r) {
            fprintf(stderr, "audit_writer: pkcs11 signer: %s\n", sigil_strerror(r));
            exit(2);
        }
        return; /* closed by release_key */
#else
        fprintf(stderr, "audit_writer: built without hsm/\n");
        exit(2);
#endif
    }
    FILE *f = fopen(file, "r");
    if (!f || !fgets(buf, sizeof(buf), f)) {
        fprintf(stderr, "audit_writer: cannot read %s\n", file);
        exit(2);
    }
    fclose(f);
    buf[strcspn(buf, "\n")] = 0;
    if (sigil_audit_skey_parse(buf, &signer) != SIGIL_OK) {
        fprintf(stderr, "audit_writer: bad key in %s\n", file);
        exit(2);
    }
    sodium_memzero(buf, sizeof(buf));
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0)
        return 1;
    if (argc == 6 && !strcmp(argv[1], "write")) {
        load_key(argv[3]);
        int threads = atoi(argv[4]);
        count = atol(argv[5]);
        sigil_audit_log *log = open_log(argv[2]);
        pthread_t t[64];
        for (int i = 0; i < threads && i < 64; i++)
            pthread_create(&t[i], NULL, writer, log);
        for (int i = 0; i < threads && i < 64; i++)
            pthread_join(t[i], NULL);
        int rc = sigil_audit_log_close(log) == SIGIL_OK ? 0 : 5;
        release_key();
        return rc;
    }
    if (argc == 4 && !strcmp(argv[1], "open")) {
        load_key(argv[3]);
        int rc = sigil_audit_log_close(open_log(argv[2])) == SIGIL_OK ? 0 : 5;
        release_key();
        return rc;
    }
    if ((argc == 8 || argc == 9) && !strcmp(argv[1], "cluster")) {
        load_key(argv[2]);
        const char *mode = argc == 9 ? argv[8] : "";
        sigil_audit_log *c = open_log(argv[3]), *n[3] = {open_log(argv[4]), open_log(argv[5]),
                                                         open_log(argv[6])};
        unsigned cnt = (unsigned)atoi(argv[7]);
        for (unsigned i = 0; i < cnt; i++) {
            uint16_t s[2] = {(uint16_t)(i % 2 ? 2 : 1), (uint16_t)(i % 2 ? 3 : 2)};
            sigil_audit_entry e;
            for (int k = 0; k < 2; k++) {
                if (!strcmp(mode, "drop-share") && i == 3 && s[k] == 2)
                    continue;
                entry(&e, SIGIL_AUDIT_SHARE, i, s[k], s, 2);
                if (sigil_audit_append(n[s[k] - 1], &e, 1, NULL))
                    return 4;
            }
            entry(&e, SIGIL_AUDIT_SIGN, i, 0, s, 2);
            if (sigil_audit_append(c, &e, 1, NULL))
                return 4;
        }
        if (!strcmp(mode, "extra-share")) {
            static const uint16_t s[2] = {1, 2};
            sigil_audit_entry e;
            entry(&e, SIGIL_AUDIT_SHARE, 100000, 1, s, 2);
            if (sigil_audit_append(n[0], &e, 1, NULL))
                return 4;
        }
        int bad = sigil_audit_log_close(c);
        for (int k = 0; k < 3; k++)
            bad |= sigil_audit_log_close(n[k]);
        release_key();
        return bad ? 5 : 0;
    }
    fprintf(stderr, "usage: see the comment at the top of audit_writer.c\n");
    return 2;
}
