/* sigil_hsm P-256 ECDSA keys (the cluster CA's key in the officers' CA
 * token, sigil-ceremony init) against a real SoftHSMv2 token made here with
 * scripts/softhsm-token:
 *   - the key pair is generated in the token; signatures over a SHA-256
 *     digest verify with OpenSSL (independent of the token) under the public
 *     key read back, and fail for another digest;
 *   - through raw PKCS#11, independently of the library: the private key is
 *     sensitive, never extractable, sign-only; CKA_VALUE is refused; it
 *     cannot be made extractable, copied out or wrapped;
 *   - a second key under the same label, a missing label, an Ed25519 key
 *     under the asked label, bad arguments are refused;
 *   - a P-256 key planted in the token without those protections
 *     (sensitive false, extractable true) is refused for signing. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <dlfcn.h>
#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/sha.h>
#include <p11-kit/pkcs11.h>

#include "check.h"
#include "sigil/err.h"
#include "sigil/hsm.h"

static char dir[] = "/tmp/sigil-hsm-p256-XXXXXX";

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void cleanup(void)
{
    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* 1 if sig (r || s) is a valid ECDSA signature of digest under pk, with
 * OpenSSL only. */
static int ossl_verify(const uint8_t pk[65], const uint8_t digest[32], const uint8_t sig[64])
{
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)pk, 65),
        OSSL_PARAM_construct_end(),
    };
    EVP_PKEY_CTX *kc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *key = NULL;
    int ok = kc && EVP_PKEY_fromdata_init(kc) == 1 &&
             EVP_PKEY_fromdata(kc, &key, EVP_PKEY_PUBLIC_KEY, params) == 1;
    EVP_PKEY_CTX_free(kc);
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
    unsigned char *der = NULL;
    int derlen = -1;
    if (es && r && s && ECDSA_SIG_set0(es, r, s)) {
        r = s = NULL;
        derlen = i2d_ECDSA_SIG(es, &der);
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    EVP_PKEY_CTX *vc = ok && derlen > 0 ? EVP_PKEY_CTX_new(key, NULL) : NULL;
    ok = vc && EVP_PKEY_verify_init(vc) == 1 &&
         EVP_PKEY_verify(vc, der, (size_t)derlen, digest, 32) == 1;
    EVP_PKEY_CTX_free(vc);
    EVP_PKEY_free(key);
    OPENSSL_free(der);
    return ok;
}

int main(void)
{
    char cmd[1024], conf[600], pinf[600];
    REQUIRE(sodium_init() >= 0);
    REQUIRE(mkdtemp(dir) != NULL);
    atexit(cleanup);
    snprintf(cmd, sizeof cmd, "'%s/softhsm-token' '%s' tp >/dev/null 2>&1", SIGIL_SCRIPTS_DIR, dir);
    REQUIRE(system(cmd) == 0);
    snprintf(conf, sizeof conf, "%s/softhsm2.conf", dir);
    snprintf(pinf, sizeof pinf, "%s/tp.pin", dir);
    setenv("SOFTHSM2_CONF", conf, 1);

    sigil_hsm_config c = {SIGIL_HSM_TEST_MODULE, "tp", pinf, NULL, 1};
    sigil_hsm *h = NULL;
    REQUIRE(sigil_hsm_open(&h, &c) == SIGIL_OK);
    uint8_t pk[65], pk2[65], ed[32], dg[32], sig[64];
    CHECK_EQ(sigil_hsm_create_p256(h, "", pk), SIGIL_E_INVALID);
    CHECK_EQ(sigil_hsm_create_p256(h, "sigil-ca", NULL), SIGIL_E_INVALID);
    CHECK_EQ(sigil_hsm_create_p256(h, "sigil-ca", pk), SIGIL_OK);
    CHECK(pk[0] == 0x04);
    CHECK_EQ(sigil_hsm_create_p256(h, "sigil-ca", pk2), SIGIL_E_EXISTS);
    CHECK_EQ(sigil_hsm_p256_pubkey(h, "sigil-ca", pk2), SIGIL_OK);
    CHECK(!memcmp(pk, pk2, 65));
    CHECK_EQ(sigil_hsm_p256_pubkey(h, "nothing", pk2), SIGIL_E_NOT_FOUND);
    /* an Ed25519 key is not a P-256 key */
    REQUIRE(sigil_hsm_create_ed25519(h, "edkey", ed) == SIGIL_OK);
    CHECK_EQ(sigil_hsm_p256_pubkey(h, "edkey", pk2), SIGIL_E_NOT_FOUND);
    CHECK_EQ(sigil_hsm_create_p256(h, "edkey", pk2), SIGIL_E_EXISTS);

    SHA256((const unsigned char *)"tbs certificate", 15, dg);
    CHECK_EQ(sigil_hsm_sign_p256(h, "sigil-ca", dg, sig), SIGIL_OK);
    CHECK(ossl_verify(pk, dg, sig));
    uint8_t other[32];
    memcpy(other, dg, 32);
    other[31] ^= 1;
    CHECK(!ossl_verify(pk, other, sig));
    uint8_t sig2[64];
    CHECK_EQ(sigil_hsm_sign_p256(h, "sigil-ca", dg, sig2), SIGIL_OK);
    CHECK(ossl_verify(pk, dg, sig2) && memcmp(sig, sig2, 64)); /* fresh nonce each time */
    CHECK_EQ(sigil_hsm_sign_p256(h, "nothing", dg, sig), SIGIL_E_NOT_FOUND);
    CHECK_EQ(sigil_hsm_sign_p256(h, "edkey", dg, sig), SIGIL_E_NOT_FOUND);
    CHECK_EQ(sigil_hsm_sign_p256(h, "sigil-ca", NULL, sig), SIGIL_E_INVALID);
    CHECK_EQ(sigil_hsm_sign_p256(NULL, "sigil-ca", dg, sig), SIGIL_E_INVALID);
    sigil_hsm_close(h);

    /* raw PKCS#11: the private key's attributes, and a weak key planted */
    void *dl = dlopen(SIGIL_HSM_TEST_MODULE, RTLD_NOW | RTLD_LOCAL);
    REQUIRE(dl);
    CK_C_GetFunctionList gfl;
    CK_FUNCTION_LIST_PTR f;
    *(void **)&gfl = dlsym(dl, "C_GetFunctionList");
    REQUIRE(gfl && gfl(&f) == CKR_OK);
    REQUIRE(f->C_Initialize(NULL) == CKR_OK);
    CK_SLOT_ID slots[16], slot = 0;
    CK_ULONG n = 16;
    REQUIRE(f->C_GetSlotList(CK_TRUE, slots, &n) == CKR_OK);
    unsigned char want[32];
    memset(want, ' ', 32);
    memcpy(want, "tp", 2);
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;
        if (f->C_GetTokenInfo(slots[i], &ti) == CKR_OK && !memcmp(ti.label, want, 32))
            slot = slots[i];
    }
    CK_SESSION_HANDLE s;
    REQUIRE(f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s) == CKR_OK);
    char pin[128] = {0};
    FILE *fp = fopen(pinf, "r");
    REQUIRE(fp && fgets(pin, sizeof pin, fp));
    fclose(fp);
    pin[strcspn(pin, "\n")] = 0;
    REQUIRE(f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)) == CKR_OK);
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE q[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_LABEL, "sigil-ca", 8}};
    CK_OBJECT_HANDLE k[2];
    CK_ULONG nk = 0;
    REQUIRE(f->C_FindObjectsInit(s, q, 2) == CKR_OK);
    REQUIRE(f->C_FindObjects(s, k, 2, &nk) == CKR_OK);
    f->C_FindObjectsFinal(s);
    REQUIRE(nk == 1);
    uint8_t val[256];
    CK_ATTRIBUTE v = {CKA_VALUE, val, sizeof val};
    CHECK_EQ(f->C_GetAttributeValue(s, k[0], &v, 1), CKR_ATTRIBUTE_SENSITIVE);
    CK_BBOOL sens = 0, extr = 1, never = 0, tok = 0, sign = 0, dec = 1, unwrap = 1, derive = 1;
    CK_ATTRIBUTE a[] = {
        {CKA_SENSITIVE, &sens, 1}, {CKA_EXTRACTABLE, &extr, 1}, {CKA_NEVER_EXTRACTABLE, &never, 1},
        {CKA_TOKEN, &tok, 1},      {CKA_SIGN, &sign, 1},        {CKA_DECRYPT, &dec, 1},
        {CKA_UNWRAP, &unwrap, 1},  {CKA_DERIVE, &derive, 1},
    };
    CHECK_EQ(f->C_GetAttributeValue(s, k[0], a, 8), CKR_OK);
    CHECK(sens && !extr && never && tok && sign && !dec && !unwrap && !derive);
    CK_BBOOL t = CK_TRUE, fa = CK_FALSE;
    CK_ATTRIBUTE mk = {CKA_EXTRACTABLE, &t, 1};
    CHECK(f->C_SetAttributeValue(s, k[0], &mk, 1) != CKR_OK);
    CK_ATTRIBUTE ms = {CKA_SENSITIVE, &fa, 1};
    CHECK(f->C_SetAttributeValue(s, k[0], &ms, 1) != CKR_OK);
    CK_OBJECT_HANDLE copy;
    CHECK(f->C_CopyObject(s, k[0], &mk, 1, &copy) != CKR_OK);
    /* not wrappable under a key the caller holds */
    CK_OBJECT_CLASS sc = CKO_SECRET_KEY;
    CK_KEY_TYPE aes = CKK_AES;
    CK_ULONG len = 32;
    CK_ATTRIBUTE wt[] = {
        {CKA_CLASS, &sc, sizeof sc}, {CKA_KEY_TYPE, &aes, sizeof aes}, {CKA_VALUE_LEN, &len, sizeof len},
        {CKA_TOKEN, &fa, 1},         {CKA_WRAP, &t, 1},                {CKA_EXTRACTABLE, &t, 1},
        {CKA_SENSITIVE, &fa, 1},
    };
    CK_MECHANISM gen = {CKM_AES_KEY_GEN, NULL, 0};
    CK_OBJECT_HANDLE wk;
    REQUIRE(f->C_GenerateKey(s, &gen, wt, 7, &wk) == CKR_OK);
    CK_MECHANISM wm = {CKM_AES_KEY_WRAP_PAD, NULL, 0};
    uint8_t wrapped[4096];
    CK_ULONG wl = sizeof wrapped;
    CHECK_EQ(f->C_WrapKey(s, &wm, wk, k[0], wrapped, &wl), CKR_KEY_UNEXTRACTABLE);

    /* plant a weak P-256 key pair: not sensitive, extractable */
    static const uint8_t oid[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
    CK_KEY_TYPE ec = CKK_EC;
    CK_OBJECT_CLASS pubc = CKO_PUBLIC_KEY, privc = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE wpub[] = {
        {CKA_CLASS, &pubc, sizeof pubc}, {CKA_KEY_TYPE, &ec, sizeof ec},
        {CKA_EC_PARAMS, (void *)oid, sizeof oid}, {CKA_LABEL, "weak", 4},
        {CKA_TOKEN, &t, 1}, {CKA_VERIFY, &t, 1},
    };
    CK_ATTRIBUTE wpriv[] = {
        {CKA_CLASS, &privc, sizeof privc}, {CKA_KEY_TYPE, &ec, sizeof ec},
        {CKA_LABEL, "weak", 4}, {CKA_TOKEN, &t, 1}, {CKA_PRIVATE, &t, 1},
        {CKA_SENSITIVE, &fa, 1}, {CKA_EXTRACTABLE, &t, 1}, {CKA_SIGN, &t, 1},
    };
    CK_MECHANISM kg = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_OBJECT_HANDLE wpu, wpr;
    REQUIRE(f->C_GenerateKeyPair(s, &kg, wpub, 6, wpriv, 8, &wpu, &wpr) == CKR_OK);
    f->C_Logout(s);
    f->C_CloseSession(s);
    f->C_Finalize(NULL);
    dlclose(dl);

    REQUIRE(sigil_hsm_open(&h, &c) == SIGIL_OK);
    CHECK_EQ(sigil_hsm_p256_pubkey(h, "weak", pk2), SIGIL_OK);
    CHECK_EQ(sigil_hsm_sign_p256(h, "weak", dg, sig), SIGIL_E_PERMISSION);
    /* the CA key still signs after reopening (a token object) */
    CHECK_EQ(sigil_hsm_sign_p256(h, "sigil-ca", dg, sig), SIGIL_OK);
    CHECK(ossl_verify(pk, dg, sig));
    sigil_hsm_close(h);
    return check_done();
}
