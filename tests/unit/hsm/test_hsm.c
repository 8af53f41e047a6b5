/* sigil_hsm against real SoftHSMv2 tokens that this test makes itself with
 * scripts/softhsm-token in a temporary directory (removed at the end).
 *
 * Tokens (all in one SOFTHSM2_CONF, which SoftHSM reads once per
 * C_Initialize):
 *   ta   provisioned by the library: sealing key + identity + audit key
 *   tb   provisioned too: the "wrong token"
 *   tc   given, through raw PKCS#11, an EXTRACTABLE key labelled sigil-seal:
 *        the library must refuse to use it
 * The non-extractability checks talk PKCS#11 directly (dlopen of the same
 * module), independently of the library's own code. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <dirent.h>
#include <dlfcn.h>
#include <ftw.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#include "check.h"
#include "sigil/err.h"
#include "sigil/hsm.h"

static char dir[] = "/tmp/sigil-hsm-XXXXXX";
static char pin_a[512], pin_b[512], pin_c[512], conf[512];

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

/* Remove the temporary tokens however the test ends (REQUIRE exits too). */
static void cleanup(void)
{
    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void make_token(const char *label)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "'%s/softhsm-token' '%s' '%s' >/dev/null 2>&1", SIGIL_SCRIPTS_DIR,
             dir, label);
    REQUIRE(system(cmd) == 0);
}

static sigil_hsm_config cfg_for(const char *label, const char *pin_file)
{
    sigil_hsm_config c = {SIGIL_HSM_TEST_MODULE, label, pin_file, NULL, 0};
    return c;
}

static sigil_hsm *open_ok(const char *label, const char *pin_file, unsigned sessions)
{
    sigil_hsm_config c = cfg_for(label, pin_file);
    c.max_sessions = sessions;
    sigil_hsm *h = NULL;
    int rc = sigil_hsm_open(&h, &c);
    if (rc != SIGIL_OK)
        fprintf(stderr, "open %s: %s\n", label, sigil_errname(rc));
    REQUIRE(rc == SIGIL_OK && h);
    return h;
}

/* The share whose blob the current test unseals (NULL: none). */
static const uint8_t *cur_share;
static size_t cur_share_len;

/* 1 if out holds exactly its prefix (3 bytes "PFX") and no 4-byte window
 * of the share is left anywhere in its allocation. */
static int clean_after_failure(const sigil_buf *out)
{
    if (out->size != 3 || memcmp(out->data, "PFX", 3) != 0)
        return 0;
    for (size_t i = 0; cur_share && i + 4 <= cur_share_len; i++)
        for (size_t j = 0; j + 4 <= out->alloc; j++)
            if (!memcmp(out->data + j, cur_share + i, 4))
                return 0;
    return 1;
}

static const uint8_t KID[] = "key-0001";
static const sigil_hsm_ad AD = {KID, sizeof(KID) - 1, 2, 1, 5};

/* ------------------------------------------------------------ open errors */

static void test_open_errors(void)
{
    sigil_hsm *h = (sigil_hsm *)1;
    sigil_hsm_config c = cfg_for("ta", pin_a);
    char bad_pin[600], empty_pin[600];
    snprintf(bad_pin, sizeof(bad_pin), "%s/bad.pin", dir);
    snprintf(empty_pin, sizeof(empty_pin), "%s/empty.pin", dir);
    FILE *f = fopen(bad_pin, "w");
    REQUIRE(f);
    fputs("not-the-pin\n", f);
    fclose(f);
    f = fopen(empty_pin, "w");
    REQUIRE(f);
    fclose(f);

    c.pin_file = bad_pin;
    CHECK_EQ(sigil_hsm_open(&h, &c), SIGIL_E_PERMISSION); /* wrong PIN */
    CHECK(h == NULL);
    c.pin_file = empty_pin;
    CHECK_EQ(sigil_hsm_open(&h, &c), SIGIL_E_INVALID);
    c.pin_file = "/nonexistent/pin";
    CHECK_EQ(sigil_hsm_open(&h, &c), SIGIL_E_NOT_FOUND);
    c = cfg_for("no-such-token", pin_a); /* missing token */
    CHECK_EQ(sigil_hsm_open(&h, &c), SIGIL_E_NOT_FOUND);
    c = cfg_for("ta", pin_a);
    c.module_path = "/nonexistent/libpkcs11.so";
    CHECK_EQ(sigil_hsm_open(&h, &c), SIGIL_E_UNAVAILABLE);
    c = cfg_for("ta", pin_a);
    c.pin_env = "SIGIL_TEST_PIN"; /* both sources */
    CHECK_EQ(sigil_hsm_open(&h, &c), SIGIL_E_INVALID);
    c.pin_file = c.pin_env = NULL; /* none */
    CHECK_EQ(sigil_hsm_open(&h, &c), SIGIL_E_INVALID);
    c = cfg_for("", pin_a);
    CHECK_EQ(sigil_hsm_open(&h, &c), SIGIL_E_INVALID);
    c = cfg_for("this-label-is-longer-than-32-bytes", pin_a);
    CHECK_EQ(sigil_hsm_open(&h, &c), SIGIL_E_INVALID);
    CHECK_EQ(sigil_hsm_open(&h, NULL), SIGIL_E_INVALID);
    CHECK_EQ(sigil_hsm_open(NULL, &c), SIGIL_E_INVALID);

    /* PIN from the environment: right and wrong */
    char pin[128] = {0};
    f = fopen(pin_a, "r");
    REQUIRE(f && fgets(pin, sizeof(pin), f));
    fclose(f);
    pin[strcspn(pin, "\n")] = 0;
    setenv("SIGIL_TEST_PIN", pin, 1);
    c = cfg_for("ta", NULL);
    c.pin_env = "SIGIL_TEST_PIN";
    CHECK_EQ(sigil_hsm_open(&h, &c), SIGIL_OK);
    /* a second handle on the same token in one process is refused (it
     * would share and then end the first one's login) */
    sigil_hsm *h2 = NULL;
    sigil_hsm_config c2 = cfg_for("ta", pin_a);
    CHECK_EQ(sigil_hsm_open(&h2, &c2), SIGIL_E_EXISTS);
    sigil_hsm_close(h);
    /* after close, the token can be opened again */
    CHECK_EQ(sigil_hsm_open(&h2, &c2), SIGIL_OK);
    sigil_hsm_close(h2);
    setenv("SIGIL_TEST_PIN", "wrong", 1);
    CHECK_EQ(sigil_hsm_open(&h, &c), SIGIL_E_PERMISSION);
    c.pin_env = "SIGIL_TEST_PIN_UNSET";
    CHECK_EQ(sigil_hsm_open(&h, &c), SIGIL_E_NOT_FOUND);
    unsetenv("SIGIL_TEST_PIN");
    sigil_hsm_close(NULL);
}

/* ------------------------------------------------------------ provisioning */

static void test_provision(uint8_t id_a[32], uint8_t id_b[32])
{
    sigil_hsm *a = open_ok("ta", pin_a, 0);
    sigil_buf out;
    sigil_buf_init(&out, 4096, 0);
    uint8_t pt[32] = {1};
    /* before provisioning there is no sealing key */
    CHECK_EQ(sigil_hsm_seal(a, &AD, pt, sizeof(pt), &out), SIGIL_E_NOT_FOUND);
    CHECK_EQ(out.size, 0);
    CHECK_EQ(sigil_hsm_create_seal_key(a), SIGIL_OK);
    CHECK_EQ(sigil_hsm_create_seal_key(a), SIGIL_E_EXISTS);
    CHECK_EQ(sigil_hsm_create_ed25519(a, SIGIL_HSM_IDENTITY_LABEL, id_a), SIGIL_OK);
    uint8_t pk[32];
    CHECK_EQ(sigil_hsm_create_ed25519(a, SIGIL_HSM_IDENTITY_LABEL, pk), SIGIL_E_EXISTS);
    CHECK_EQ(sigil_hsm_create_ed25519(a, SIGIL_HSM_SEAL_LABEL, pk), SIGIL_E_EXISTS);
    CHECK_EQ(sigil_hsm_create_ed25519(a, "sigil-audit", pk), SIGIL_OK);
    CHECK(memcmp(pk, id_a, 32) != 0);
    CHECK_EQ(sigil_hsm_create_ed25519(a, "", pk), SIGIL_E_INVALID);
    CHECK_EQ(sigil_hsm_create_ed25519(a, "bad label", pk), SIGIL_E_INVALID);
    sigil_hsm_close(a);

    /* keys persist across close/open */
    a = open_ok("ta", pin_a, 0);
    CHECK_EQ(sigil_hsm_create_seal_key(a), SIGIL_E_EXISTS);
    CHECK_EQ(sigil_hsm_ed25519_pubkey(a, SIGIL_HSM_IDENTITY_LABEL, pk), SIGIL_OK);
    CHECK(memcmp(pk, id_a, 32) == 0);
    sigil_hsm_close(a);

    sigil_hsm *b = open_ok("tb", pin_b, 0);
    CHECK_EQ(sigil_hsm_create_seal_key(b), SIGIL_OK);
    CHECK_EQ(sigil_hsm_create_ed25519(b, SIGIL_HSM_IDENTITY_LABEL, id_b), SIGIL_OK);
    CHECK(memcmp(id_a, id_b, 32) != 0);
    sigil_hsm_close(b);
    sigil_buf_free(&out);
}

/* ------------------------------------------------------------ seal/unseal */

static void test_roundtrip(void)
{
    sigil_hsm *a = open_ok("ta", pin_a, 0);
    static const size_t sizes[] = {1, 32, 96, 1000, 65536, SIGIL_HSM_SHARE_MAX};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t n = sizes[i];
        uint8_t *pt = malloc(n);
        REQUIRE(pt);
        randombytes_buf(pt, n);
        sigil_buf blob, blob2, out;
        sigil_buf_init(&blob, SIGIL_HSM_SHARE_MAX + 1024, 0);
        sigil_buf_init(&blob2, SIGIL_HSM_SHARE_MAX + 1024, 0);
        sigil_buf_init(&out, SIGIL_HSM_SHARE_MAX + 1024, SIGIL_BUF_SECRET);
        CHECK_EQ(sigil_hsm_seal(a, &AD, pt, n, &blob), SIGIL_OK);
        CHECK_EQ(blob.size, n + SIGIL_HSM_SEAL_OVERHEAD);
        CHECK(memcmp(blob.data, "SGSL\x01", 5) == 0);
        /* fresh IV each time: same plaintext seals differently */
        CHECK_EQ(sigil_hsm_seal(a, &AD, pt, n, &blob2), SIGIL_OK);
        CHECK(memcmp(blob.data + 21, blob2.data + 21, 12) != 0);
        CHECK(memcmp(blob.data + 37, blob2.data + 37, n) != 0);
        /* the ciphertext is not the plaintext */
        CHECK(n < 8 || memcmp(blob.data + 37, pt, n) != 0);
        CHECK_EQ(sigil_hsm_unseal(a, &AD, blob.data, blob.size, &out), SIGIL_OK);
        CHECK(out.size == n && memcmp(out.data, pt, n) == 0);
        sigil_buf_reset(&out);
        CHECK_EQ(sigil_hsm_unseal(a, &AD, blob2.data, blob2.size, &out), SIGIL_OK);
        CHECK(out.size == n && memcmp(out.data, pt, n) == 0);
        sigil_buf_free(&blob);
        sigil_buf_free(&blob2);
        sigil_buf_free(&out);
        free(pt);
    }

    /* appending: seal after existing bytes, unseal after a prefix */
    sigil_buf blob, out;
    sigil_buf_init(&blob, 4096, 0);
    sigil_buf_init(&out, 4096, SIGIL_BUF_SECRET);
    sigil_buf_put(&blob, "hdr", 3);
    CHECK_EQ(sigil_hsm_seal(a, &AD, (const uint8_t *)"share", 5, &blob), SIGIL_OK);
    sigil_buf_put(&out, "PFX", 3);
    CHECK_EQ(sigil_hsm_unseal(a, &AD, blob.data + 3, blob.size - 3, &out), SIGIL_OK);
    CHECK(out.size == 8 && !memcmp(out.data, "PFXshare", 8));

    /* contract checks */
    sigil_buf pub;
    sigil_buf_init(&pub, 4096, 0);
    CHECK_EQ(sigil_hsm_unseal(a, &AD, blob.data + 3, blob.size - 3, &pub), SIGIL_E_INVALID);
    CHECK_EQ(pub.size, 0);
    sigil_hsm_ad bad = AD;
    bad.key_id_len = 0;
    CHECK_EQ(sigil_hsm_seal(a, &bad, (const uint8_t *)"x", 1, &pub), SIGIL_E_INVALID);
    bad.key_id_len = SIGIL_HSM_KEY_ID_MAX + 1;
    CHECK_EQ(sigil_hsm_seal(a, &bad, (const uint8_t *)"x", 1, &pub), SIGIL_E_INVALID);
    CHECK_EQ(sigil_hsm_seal(a, &AD, (const uint8_t *)"x", 0, &pub), SIGIL_E_INVALID);
    CHECK_EQ(sigil_hsm_seal(a, &AD, NULL, 1, &pub), SIGIL_E_INVALID);
    CHECK_EQ(sigil_hsm_seal(NULL, &AD, (const uint8_t *)"x", 1, &pub), SIGIL_E_INVALID);
    uint8_t *big = calloc(1, SIGIL_HSM_SHARE_MAX + 1);
    CHECK_EQ(sigil_hsm_seal(a, &AD, big, SIGIL_HSM_SHARE_MAX + 1, &pub), SIGIL_E_INVALID);
    free(big);
    /* a too-small output buffer leaves it unchanged */
    sigil_buf tiny;
    sigil_buf_init(&tiny, 40, 0);
    CHECK_EQ(sigil_hsm_seal(a, &AD, (const uint8_t *)"0123456789", 10, &tiny), SIGIL_E_TOO_LARGE);
    CHECK_EQ(tiny.size, 0);
    CHECK_EQ(pub.size, 0);
    sigil_buf_free(&tiny);
    sigil_buf_free(&pub);
    sigil_buf_free(&blob);
    sigil_buf_free(&out);
    sigil_hsm_close(a);
}

static void expect_unseal_fails(sigil_hsm *h, const sigil_hsm_ad *ad, const uint8_t *blob,
                                size_t len, int want, const char *what)
{
    sigil_buf out;
    sigil_buf_init(&out, 8192, SIGIL_BUF_SECRET);
    sigil_buf_put(&out, "PFX", 3);
    int rc = sigil_hsm_unseal(h, ad, blob, len, &out);
    if (rc != want)
        fprintf(stderr, "  %s: got %s want %s\n", what, sigil_errname(rc), sigil_errname(want));
    CHECK_EQ(rc, want);
    CHECK(clean_after_failure(&out));
    sigil_buf_free(&out);
}

static void test_ad_mismatch(void)
{
    sigil_hsm *a = open_ok("ta", pin_a, 0);
    uint8_t share[64];
    randombytes_buf(share, sizeof(share));
    sigil_buf blob;
    sigil_buf_init(&blob, 4096, 0);
    REQUIRE(sigil_hsm_seal(a, &AD, share, sizeof(share), &blob) == SIGIL_OK);
    cur_share = share;
    cur_share_len = sizeof(share);

    sigil_hsm_ad x = AD;
    const uint8_t other_kid[] = "key-0002";
    x.key_id = other_kid;
    expect_unseal_fails(a, &x, blob.data, blob.size, SIGIL_E_UNSEAL, "other key id");
    x = AD;
    x.key_id_len = AD.key_id_len - 1; /* prefix of the key id */
    expect_unseal_fails(a, &x, blob.data, blob.size, SIGIL_E_UNSEAL, "key id prefix");
    const uint8_t longer[] = "key-00010";
    x = AD;
    x.key_id = longer;
    x.key_id_len = 9;
    expect_unseal_fails(a, &x, blob.data, blob.size, SIGIL_E_UNSEAL, "key id extended");
    x = AD;
    x.party = AD.party + 1;
    expect_unseal_fails(a, &x, blob.data, blob.size, SIGIL_E_UNSEAL, "party");
    x = AD;
    x.scheme = AD.scheme + 1;
    expect_unseal_fails(a, &x, blob.data, blob.size, SIGIL_E_UNSEAL, "scheme");
    x = AD;
    x.share_version = AD.share_version - 1; /* an older share version */
    expect_unseal_fails(a, &x, blob.data, blob.size, SIGIL_E_UNSEAL, "share version");
    x = AD;
    x.share_version = AD.share_version + 1;
    expect_unseal_fails(a, &x, blob.data, blob.size, SIGIL_E_UNSEAL, "share version+1");

    /* still fine with the right AD afterwards (sessions survive failures) */
    sigil_buf out;
    sigil_buf_init(&out, 4096, SIGIL_BUF_SECRET);
    CHECK_EQ(sigil_hsm_unseal(a, &AD, blob.data, blob.size, &out), SIGIL_OK);
    CHECK(out.size == sizeof(share) && !memcmp(out.data, share, sizeof(share)));
    sigil_buf_free(&out);
    sigil_buf_free(&blob);
    sigil_hsm_close(a);
}

/* Blob regions: magic [0,4) version [4] seal-key id [5,21) IV [21,33)
 * length [33,37) ciphertext [37, 37+n) tag [37+n, 37+n+16). */
static void test_tamper(void)
{
    /* one session: every failure below must leave it reusable */
    sigil_hsm *a = open_ok("ta", pin_a, 1);
    uint8_t share[32];
    randombytes_buf(share, sizeof(share));
    sigil_buf blob;
    sigil_buf_init(&blob, 4096, 0);
    REQUIRE(sigil_hsm_seal(a, &AD, share, sizeof(share), &blob) == SIGIL_OK);
    size_t len = blob.size;
    REQUIRE(len == 32 + SIGIL_HSM_SEAL_OVERHEAD);
    cur_share = share;
    cur_share_len = sizeof(share);
    uint8_t *m = malloc(len + 1);
    unsigned by_region[7] = {0};
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit += 7) { /* lowest and highest bit */
            memcpy(m, blob.data, len);
            m[i] ^= (uint8_t)(1u << bit);
            int want;
            int region;
            if (i < 4)
                want = SIGIL_E_ENCODING, region = 0;
            else if (i == 4)
                want = SIGIL_E_VERSION, region = 1;
            else if (i < 21)
                want = SIGIL_E_NOT_FOUND, region = 2; /* names another sealing key */
            else if (i < 33)
                want = SIGIL_E_UNSEAL, region = 3;
            else if (i < 37) {
                /* length: the high bytes make it too large, low bits
                 * make it longer (truncated) or shorter (trailing) */
                uint32_t l = (uint32_t)m[33] << 24 | (uint32_t)m[34] << 16 | (uint32_t)m[35] << 8 | m[36];
                want = l > SIGIL_HSM_SHARE_MAX + 16 ? SIGIL_E_TOO_LARGE
                       : l <= 16                   ? SIGIL_E_ENCODING
                       : l > 48                    ? SIGIL_E_TRUNCATED
                                                   : SIGIL_E_TRAILING;
                region = 4;
            } else if (i < 37 + 32)
                want = SIGIL_E_UNSEAL, region = 5;
            else
                want = SIGIL_E_UNSEAL, region = 6;
            char what[64];
            snprintf(what, sizeof(what), "flip byte %zu bit %d", i, bit);
            expect_unseal_fails(a, &AD, m, len, want, what);
            by_region[region]++;
        }
    }
    for (int r = 0; r < 7; r++)
        CHECK(by_region[r] > 0);
    /* every truncation, and one byte too many */
    for (size_t cut = 0; cut < len; cut++) {
        char what[64];
        snprintf(what, sizeof(what), "truncated to %zu", cut);
        expect_unseal_fails(a, &AD, blob.data, cut, SIGIL_E_TRUNCATED, what);
    }
    memcpy(m, blob.data, len);
    m[len] = 0;
    expect_unseal_fails(a, &AD, m, len + 1, SIGIL_E_TRAILING, "one byte appended");
    /* a consistent shorter blob: tag cut and length field adjusted */
    memcpy(m, blob.data, len);
    m[36] = (uint8_t)(m[36] - 1);
    expect_unseal_fails(a, &AD, m, len - 1, SIGIL_E_UNSEAL, "tag shortened by one");
    /* swapping IVs between two blobs of the same share */
    sigil_buf blob2;
    sigil_buf_init(&blob2, 4096, 0);
    REQUIRE(sigil_hsm_seal(a, &AD, share, sizeof(share), &blob2) == SIGIL_OK);
    memcpy(m, blob.data, len);
    memcpy(m + 21, blob2.data + 21, 12);
    expect_unseal_fails(a, &AD, m, len, SIGIL_E_UNSEAL, "IV of another blob");
    /* after all those failures, the genuine blob still unseals */
    sigil_buf out;
    sigil_buf_init(&out, 4096, SIGIL_BUF_SECRET);
    CHECK_EQ(sigil_hsm_unseal(a, &AD, blob.data, blob.size, &out), SIGIL_OK);
    CHECK(out.size == sizeof(share) && !memcmp(out.data, share, sizeof(share)));
    sigil_buf_free(&out);
    free(m);
    sigil_buf_free(&blob);
    sigil_buf_free(&blob2);
    sigil_hsm_close(a);
}

static void test_wrong_token(void)
{
    sigil_hsm *a = open_ok("ta", pin_a, 0);
    sigil_hsm *b = open_ok("tb", pin_b, 0);
    uint8_t share[32];
    randombytes_buf(share, sizeof(share));
    sigil_buf ba, bb;
    sigil_buf_init(&ba, 4096, 0);
    sigil_buf_init(&bb, 4096, 0);
    REQUIRE(sigil_hsm_seal(a, &AD, share, sizeof(share), &ba) == SIGIL_OK);
    REQUIRE(sigil_hsm_seal(b, &AD, share, sizeof(share), &bb) == SIGIL_OK);
    cur_share = share;
    cur_share_len = sizeof(share);
    /* blob from token A given to token B */
    expect_unseal_fails(b, &AD, ba.data, ba.size, SIGIL_E_NOT_FOUND, "A's blob on B");
    expect_unseal_fails(a, &AD, bb.data, bb.size, SIGIL_E_NOT_FOUND, "B's blob on A");
    /* A's blob relabelled with B's sealing-key id: B's key cannot open it */
    uint8_t m[256];
    memcpy(m, ba.data, ba.size);
    memcpy(m + 5, bb.data + 5, 16);
    expect_unseal_fails(b, &AD, m, ba.size, SIGIL_E_UNSEAL, "A's blob with B's key id");
    sigil_buf_free(&ba);
    sigil_buf_free(&bb);
    sigil_hsm_close(a);
    sigil_hsm_close(b);

    /* The module named by its symlink and by its real path is one module:
     * closing the handle opened through one name keeps the other working. */
    char *real = realpath(SIGIL_HSM_TEST_MODULE, NULL);
    REQUIRE(real);
    a = open_ok("ta", pin_a, 0);
    sigil_hsm_config cb = cfg_for("tb", pin_b);
    cb.module_path = real;
    b = NULL;
    CHECK_EQ(sigil_hsm_open(&b, &cb), SIGIL_OK);
    sigil_hsm_close(a);
    uint8_t pk[32];
    CHECK_EQ(sigil_hsm_ed25519_pubkey(b, SIGIL_HSM_IDENTITY_LABEL, pk), SIGIL_OK);
    sigil_hsm_close(b);
    free(real);
}

/* ------------------------------------------------------------ Ed25519 */

static void test_ed25519(const uint8_t id_a[32])
{
    sigil_hsm *a = open_ok("ta", pin_a, 0);
    uint8_t pk[32], pk_audit[32], sig[64];
    CHECK_EQ(sigil_hsm_ed25519_pubkey(a, SIGIL_HSM_IDENTITY_LABEL, pk), SIGIL_OK);
    CHECK(memcmp(pk, id_a, 32) == 0);
    CHECK_EQ(sigil_hsm_ed25519_pubkey(a, "sigil-audit", pk_audit), SIGIL_OK);
    static const size_t lens[] = {0, 1, 32, 1000, 100000};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        size_t n = lens[i];
        uint8_t *msg = malloc(n + 1);
        randombytes_buf(msg, n + 1);
        CHECK_EQ(sigil_hsm_sign_ed25519(a, SIGIL_HSM_IDENTITY_LABEL, msg, n, sig), SIGIL_OK);
        CHECK(crypto_sign_verify_detached(sig, msg, n, pk) == 0);
        CHECK(crypto_sign_verify_detached(sig, msg, n, pk_audit) != 0); /* other key */
        if (n) {
            msg[0] ^= 1;
            CHECK(crypto_sign_verify_detached(sig, msg, n, pk) != 0);
            msg[0] ^= 1;
        }
        sig[0] ^= 1;
        CHECK(crypto_sign_verify_detached(sig, msg, n, pk) != 0);
        /* the audit key signs checkpoints */
        CHECK_EQ(sigil_hsm_sign_ed25519(a, "sigil-audit", msg, n, sig), SIGIL_OK);
        CHECK(crypto_sign_verify_detached(sig, msg, n, pk_audit) == 0);
        free(msg);
    }
    /* Ed25519 is deterministic: the same message signs identically */
    uint8_t s1[64], s2[64];
    CHECK_EQ(sigil_hsm_sign_ed25519(a, SIGIL_HSM_IDENTITY_LABEL, (const uint8_t *)"m", 1, s1), SIGIL_OK);
    CHECK_EQ(sigil_hsm_sign_ed25519(a, SIGIL_HSM_IDENTITY_LABEL, (const uint8_t *)"m", 1, s2), SIGIL_OK);
    CHECK(memcmp(s1, s2, 64) == 0);
    CHECK_EQ(sigil_hsm_sign_ed25519(a, "no-such-key", (const uint8_t *)"m", 1, sig), SIGIL_E_NOT_FOUND);
    CHECK_EQ(sigil_hsm_ed25519_pubkey(a, "no-such-key", pk), SIGIL_E_NOT_FOUND);
    /* the sealing key is not an Ed25519 key */
    CHECK_EQ(sigil_hsm_sign_ed25519(a, SIGIL_HSM_SEAL_LABEL, (const uint8_t *)"m", 1, sig), SIGIL_E_NOT_FOUND);
    CHECK_EQ(sigil_hsm_sign_ed25519(a, SIGIL_HSM_IDENTITY_LABEL, NULL, 1, sig), SIGIL_E_INVALID);
    CHECK_EQ(sigil_hsm_sign_ed25519(a, NULL, (const uint8_t *)"m", 1, sig), SIGIL_E_INVALID);
    sigil_hsm_close(a);

    /* the Python binding of libsodium agrees (an independent verifier) */
    char cmd[1024], hexpk[65], hexsig[129];
    for (int i = 0; i < 32; i++)
        sprintf(hexpk + 2 * i, "%02x", id_a[i]);
    for (int i = 0; i < 64; i++)
        sprintf(hexsig + 2 * i, "%02x", s1[i]);
    snprintf(cmd, sizeof(cmd),
             "/usr/bin/python3 -c 'import nacl.signing as s,sys; s.VerifyKey(bytes.fromhex(\"%s\"))"
             ".verify(b\"m\", bytes.fromhex(\"%s\"))' 2>/dev/null",
             hexpk, hexsig);
    CHECK_EQ(system(cmd), 0);
}

/* ------------------------------------------------------------ concurrency */

typedef struct {
    sigil_hsm *h;
    int id;
    int ok, bad;
} thr;

static void *worker(void *arg)
{
    thr *t = arg;
    uint8_t kid[16], share[48], sig[64], pk[32];
    snprintf((char *)kid, sizeof(kid), "thread-%d", t->id);
    sigil_buf blob, out;
    sigil_buf_init(&blob, 4096, 0);
    sigil_buf_init(&out, 4096, SIGIL_BUF_SECRET);
    if (sigil_hsm_ed25519_pubkey(t->h, SIGIL_HSM_IDENTITY_LABEL, pk) != SIGIL_OK)
        t->bad++;
    for (int i = 0; i < 300; i++) {
        sigil_hsm_ad ad = {kid, strlen((char *)kid), (uint32_t)t->id, 1, (uint32_t)i};
        randombytes_buf(share, sizeof(share));
        sigil_buf_reset(&blob);
        sigil_buf_reset(&out);
        if (sigil_hsm_seal(t->h, &ad, share, sizeof(share), &blob) != SIGIL_OK ||
            sigil_hsm_unseal(t->h, &ad, blob.data, blob.size, &out) != SIGIL_OK ||
            out.size != sizeof(share) || memcmp(out.data, share, sizeof(share))) {
            t->bad++;
            continue;
        }
        /* a wrong party fails even under concurrency */
        ad.party++;
        sigil_buf_reset(&out);
        if (sigil_hsm_unseal(t->h, &ad, blob.data, blob.size, &out) != SIGIL_E_UNSEAL || out.size)
            t->bad++;
        if (i % 10 == 0 &&
            (sigil_hsm_sign_ed25519(t->h, SIGIL_HSM_IDENTITY_LABEL, share, sizeof(share), sig) != SIGIL_OK ||
             crypto_sign_verify_detached(sig, share, sizeof(share), pk) != 0))
            t->bad++;
        t->ok++;
    }
    sigil_buf_free(&blob);
    sigil_buf_free(&out);
    return NULL;
}

static void test_threads(unsigned sessions)
{
    sigil_hsm *a = open_ok("ta", pin_a, sessions);
    enum { N = 6 };
    pthread_t th[N];
    thr t[N];
    for (int i = 0; i < N; i++) {
        t[i] = (thr){a, i, 0, 0};
        REQUIRE(pthread_create(&th[i], NULL, worker, &t[i]) == 0);
    }
    int ok = 0, bad = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        ok += t[i].ok;
        bad += t[i].bad;
    }
    printf("threads: %d threads, %u sessions max: %d ok, %d bad\n", N, sessions, ok, bad);
    CHECK_EQ(ok, N * 300);
    CHECK_EQ(bad, 0);
    sigil_hsm_close(a);
}

/* ------------------------------------------------------------ raw PKCS#11 */

typedef struct {
    void *dl;
    CK_FUNCTION_LIST_PTR f;
    CK_SESSION_HANDLE s;
} raw;

static void raw_open(raw *r, const char *label, const char *pin_file)
{
    r->dl = dlopen(SIGIL_HSM_TEST_MODULE, RTLD_NOW | RTLD_LOCAL);
    REQUIRE(r->dl);
    CK_C_GetFunctionList gfl;
    *(void **)&gfl = dlsym(r->dl, "C_GetFunctionList");
    REQUIRE(gfl && gfl(&r->f) == CKR_OK);
    REQUIRE(r->f->C_Initialize(NULL) == CKR_OK);
    CK_SLOT_ID slots[16];
    CK_ULONG n = 16;
    REQUIRE(r->f->C_GetSlotList(CK_TRUE, slots, &n) == CKR_OK);
    unsigned char want[32];
    memset(want, ' ', 32);
    memcpy(want, label, strlen(label));
    CK_SLOT_ID slot = 0;
    int found = 0;
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;
        if (r->f->C_GetTokenInfo(slots[i], &ti) == CKR_OK && !memcmp(ti.label, want, 32)) {
            slot = slots[i];
            found = 1;
        }
    }
    REQUIRE(found);
    REQUIRE(r->f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &r->s) == CKR_OK);
    char pin[128] = {0};
    FILE *fp = fopen(pin_file, "r");
    REQUIRE(fp && fgets(pin, sizeof(pin), fp));
    fclose(fp);
    pin[strcspn(pin, "\n")] = 0;
    REQUIRE(r->f->C_Login(r->s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)) == CKR_OK);
    sodium_memzero(pin, sizeof(pin));
}

static void raw_close(raw *r)
{
    r->f->C_Logout(r->s);
    r->f->C_CloseSession(r->s);
    r->f->C_Finalize(NULL);
    dlclose(r->dl);
}

static CK_OBJECT_HANDLE raw_find(raw *r, CK_OBJECT_CLASS cls, const char *label)
{
    CK_ATTRIBUTE q[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_LABEL, (void *)label, strlen(label)}};
    CK_OBJECT_HANDLE o[2];
    CK_ULONG n = 0;
    REQUIRE(r->f->C_FindObjectsInit(r->s, q, 2) == CKR_OK);
    REQUIRE(r->f->C_FindObjects(r->s, o, 2, &n) == CKR_OK);
    r->f->C_FindObjectsFinal(r->s);
    REQUIRE(n == 1);
    return o[0];
}

static void check_unextractable(raw *r, CK_OBJECT_HANDLE k, const char *what)
{
    uint8_t val[256];
    CK_ATTRIBUTE v = {CKA_VALUE, val, sizeof(val)};
    CK_RV rv = r->f->C_GetAttributeValue(r->s, k, &v, 1);
    if (rv != CKR_ATTRIBUTE_SENSITIVE)
        fprintf(stderr, "  %s: C_GetAttributeValue(CKA_VALUE) = 0x%lx\n", what, rv);
    CHECK_EQ(rv, CKR_ATTRIBUTE_SENSITIVE);
    CHECK(v.ulValueLen == CK_UNAVAILABLE_INFORMATION);

    CK_BBOOL sens = 0, extr = 1, never = 0, always = 0;
    CK_ATTRIBUTE a[] = {
        {CKA_SENSITIVE, &sens, 1},
        {CKA_EXTRACTABLE, &extr, 1},
        {CKA_NEVER_EXTRACTABLE, &never, 1},
        {CKA_ALWAYS_SENSITIVE, &always, 1},
    };
    CHECK_EQ(r->f->C_GetAttributeValue(r->s, k, a, 4), CKR_OK);
    CHECK(sens && !extr && never && always);

    /* cannot be made extractable, nor copied into an extractable key */
    CK_BBOOL t = CK_TRUE;
    CK_ATTRIBUTE mk = {CKA_EXTRACTABLE, &t, 1};
    CHECK(r->f->C_SetAttributeValue(r->s, k, &mk, 1) != CKR_OK);
    CK_OBJECT_HANDLE copy;
    CHECK(r->f->C_CopyObject(r->s, k, &mk, 1, &copy) != CKR_OK);

    /* cannot be wrapped out under a key the attacker holds */
    CK_OBJECT_CLASS sc = CKO_SECRET_KEY;
    CK_KEY_TYPE aes = CKK_AES;
    CK_ULONG len = 32;
    CK_BBOOL f = CK_FALSE;
    CK_ATTRIBUTE wt[] = {
        {CKA_CLASS, &sc, sizeof(sc)}, {CKA_KEY_TYPE, &aes, sizeof(aes)}, {CKA_VALUE_LEN, &len, sizeof(len)},
        {CKA_TOKEN, &f, 1},           {CKA_WRAP, &t, 1},                 {CKA_EXTRACTABLE, &t, 1},
        {CKA_SENSITIVE, &f, 1},
    };
    CK_MECHANISM gen = {CKM_AES_KEY_GEN, NULL, 0};
    CK_OBJECT_HANDLE wk;
    REQUIRE(r->f->C_GenerateKey(r->s, &gen, wt, 7, &wk) == CKR_OK);
    static const CK_MECHANISM_TYPE mechs[] = {CKM_AES_KEY_WRAP, CKM_AES_KEY_WRAP_PAD};
    for (int i = 0; i < 2; i++) {
        CK_MECHANISM wm = {mechs[i], NULL, 0};
        uint8_t wrapped[512];
        CK_ULONG wl = sizeof(wrapped);
        rv = r->f->C_WrapKey(r->s, &wm, wk, k, wrapped, &wl);
        if (rv != CKR_KEY_UNEXTRACTABLE)
            fprintf(stderr, "  %s: C_WrapKey(0x%lx) = 0x%lx\n", what, mechs[i], rv);
        CHECK_EQ(rv, CKR_KEY_UNEXTRACTABLE);
    }
    r->f->C_DestroyObject(r->s, wk);
}

static void test_unextractable(void)
{
    raw r;
    raw_open(&r, "ta", pin_a);
    check_unextractable(&r, raw_find(&r, CKO_SECRET_KEY, SIGIL_HSM_SEAL_LABEL), "sealing key");
    check_unextractable(&r, raw_find(&r, CKO_PRIVATE_KEY, SIGIL_HSM_IDENTITY_LABEL), "identity key");
    check_unextractable(&r, raw_find(&r, CKO_PRIVATE_KEY, "sigil-audit"), "audit key");
    /* the sealing key is for encrypt/decrypt only: it cannot wrap */
    CK_OBJECT_HANDLE seal = raw_find(&r, CKO_SECRET_KEY, SIGIL_HSM_SEAL_LABEL);
    CK_OBJECT_HANDLE idk = raw_find(&r, CKO_PRIVATE_KEY, SIGIL_HSM_IDENTITY_LABEL);
    CK_MECHANISM wm = {CKM_AES_KEY_WRAP_PAD, NULL, 0};
    uint8_t wrapped[512];
    CK_ULONG wl = sizeof(wrapped);
    CHECK(r.f->C_WrapKey(r.s, &wm, seal, idk, wrapped, &wl) != CKR_OK);
    raw_close(&r);

    /* Token C: an attacker (or a sloppy operator) planted an extractable key
     * under the sealing label. The library must refuse the token. */
    raw_open(&r, "tc", pin_c);
    CK_OBJECT_CLASS sc = CKO_SECRET_KEY;
    CK_KEY_TYPE aes = CKK_AES;
    CK_ULONG len = 32;
    CK_BBOOL t = CK_TRUE, f = CK_FALSE;
    uint8_t id[16] = {9};
    CK_ATTRIBUTE bt[] = {
        {CKA_CLASS, &sc, sizeof(sc)}, {CKA_KEY_TYPE, &aes, sizeof(aes)}, {CKA_VALUE_LEN, &len, sizeof(len)},
        {CKA_TOKEN, &t, 1},           {CKA_EXTRACTABLE, &t, 1},          {CKA_SENSITIVE, &f, 1},
        {CKA_ENCRYPT, &t, 1},         {CKA_DECRYPT, &t, 1},              {CKA_ID, id, sizeof(id)},
        {CKA_LABEL, (void *)SIGIL_HSM_SEAL_LABEL, strlen(SIGIL_HSM_SEAL_LABEL)},
    };
    CK_MECHANISM gen = {CKM_AES_KEY_GEN, NULL, 0};
    CK_OBJECT_HANDLE k;
    REQUIRE(r.f->C_GenerateKey(r.s, &gen, bt, 10, &k) == CKR_OK);
    raw_close(&r);
    sigil_hsm *h = NULL;
    sigil_hsm_config c = cfg_for("tc", pin_c);
    CHECK_EQ(sigil_hsm_open(&h, &c), SIGIL_E_PERMISSION);
    CHECK(h == NULL);
}

int main(void)
{
    REQUIRE(sodium_init() >= 0);
    REQUIRE(mkdtemp(dir) != NULL);
    atexit(cleanup);
    make_token("ta");
    make_token("tb");
    make_token("tc");
    snprintf(conf, sizeof(conf), "%s/softhsm2.conf", dir);
    snprintf(pin_a, sizeof(pin_a), "%s/ta.pin", dir);
    snprintf(pin_b, sizeof(pin_b), "%s/tb.pin", dir);
    snprintf(pin_c, sizeof(pin_c), "%s/tc.pin", dir);
    setenv("SOFTHSM2_CONF", conf, 1);

    uint8_t id_a[32], id_b[32];
    test_open_errors();
    test_provision(id_a, id_b);
    test_roundtrip();
    test_ad_mismatch();
    test_tamper();
    test_wrong_token();
    test_ed25519(id_a);
    test_threads(0); /* default pool */
    test_threads(2); /* fewer sessions than threads: callers wait */
    test_unextractable();

    cleanup();
    CHECK(access(dir, F_OK) != 0);
    return check_done();
}
