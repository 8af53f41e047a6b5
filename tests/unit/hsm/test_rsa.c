/* sigil_hsm RSA-OAEP backup keys (an officer's backup key, sigil-ceremony
 * backup-key) against a real SoftHSMv2 token made here with
 * scripts/softhsm-token: the private key is sensitive, never extractable,
 * cannot be made extractable, copied out or wrapped, and decrypts only
 * (checked through raw PKCS#11, independently of the library); the public
 * key reads back; a second key under the same label is refused; a
 * ciphertext that is not for the key is refused with SIGIL_E_UNSEAL and the
 * output buffer keeps only its prefix. (The encrypt/decrypt round trip with
 * OpenSSL's RSA-OAEP runs in ceremony.backup_restore.) */
#define _XOPEN_SOURCE 700 /* nftw */
#include <dlfcn.h>
#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#include "check.h"
#include "sigil/err.h"
#include "sigil/hsm.h"

static char dir[] = "/tmp/sigil-hsm-rsa-XXXXXX";

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

int main(void)
{
    char cmd[1024], conf[600], pinf[600];
    REQUIRE(sodium_init() >= 0);
    REQUIRE(mkdtemp(dir) != NULL);
    atexit(cleanup);
    snprintf(cmd, sizeof cmd, "'%s/softhsm-token' '%s' tr >/dev/null 2>&1", SIGIL_SCRIPTS_DIR, dir);
    REQUIRE(system(cmd) == 0);
    snprintf(conf, sizeof conf, "%s/softhsm2.conf", dir);
    snprintf(pinf, sizeof pinf, "%s/tr.pin", dir);
    setenv("SOFTHSM2_CONF", conf, 1);

    sigil_hsm_config c = {SIGIL_HSM_TEST_MODULE, "tr", pinf, NULL, 1};
    sigil_hsm *h = NULL;
    REQUIRE(sigil_hsm_open(&h, &c) == SIGIL_OK);
    CHECK_EQ(sigil_hsm_create_rsa(h, "sigil-backup", 1024), SIGIL_E_INVALID); /* too small */
    CHECK_EQ(sigil_hsm_create_rsa(h, "sigil-backup", 2048), SIGIL_OK);
    CHECK_EQ(sigil_hsm_create_rsa(h, "sigil-backup", 2048), SIGIL_E_EXISTS);
    uint8_t mod[512], exp[8];
    size_t ml = sizeof mod, el = sizeof exp;
    CHECK_EQ(sigil_hsm_rsa_pubkey(h, "sigil-backup", mod, &ml, exp, &el), SIGIL_OK);
    CHECK(ml == 256 && el == 3 && exp[0] == 1 && exp[1] == 0 && exp[2] == 1 && (mod[0] & 0x80));
    size_t small = 8;
    CHECK_EQ(sigil_hsm_rsa_pubkey(h, "sigil-backup", mod, &small, exp, &el), SIGIL_E_TOO_LARGE);
    ml = sizeof mod;
    CHECK_EQ(sigil_hsm_rsa_pubkey(h, "nothing", mod, &ml, exp, &el), SIGIL_E_NOT_FOUND);

    /* a ciphertext not for this key: refused, nothing left in out */
    uint8_t junk[256];
    randombytes_buf(junk, sizeof junk);
    junk[0] = 0;
    sigil_buf out, plain;
    REQUIRE(sigil_buf_init(&out, 1024, SIGIL_BUF_SECRET) == SIGIL_OK);
    REQUIRE(sigil_buf_put(&out, "PFX", 3) == SIGIL_OK);
    int rc = sigil_hsm_rsa_oaep_decrypt(h, "sigil-backup", junk, sizeof junk, &out);
    CHECK(rc == SIGIL_E_UNSEAL || rc == SIGIL_E_CRYPTO);
    CHECK(out.size == 3 && !memcmp(out.data, "PFX", 3));
    REQUIRE(sigil_buf_init(&plain, 1024, 0) == SIGIL_OK);
    CHECK_EQ(sigil_hsm_rsa_oaep_decrypt(h, "sigil-backup", junk, sizeof junk, &plain),
             SIGIL_E_INVALID); /* output must be secure memory */
    CHECK_EQ(sigil_hsm_rsa_oaep_decrypt(h, "nothing", junk, sizeof junk, &out), SIGIL_E_NOT_FOUND);
    sigil_buf_free(&out);
    sigil_buf_free(&plain);
    sigil_hsm_close(h);

    /* raw PKCS#11: the private key's attributes */
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
    memcpy(want, "tr", 2);
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
    CK_ATTRIBUTE q[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_LABEL, "sigil-backup", 12}};
    CK_OBJECT_HANDLE k[2];
    CK_ULONG nk = 0;
    REQUIRE(f->C_FindObjectsInit(s, q, 2) == CKR_OK);
    REQUIRE(f->C_FindObjects(s, k, 2, &nk) == CKR_OK);
    f->C_FindObjectsFinal(s);
    REQUIRE(nk == 1);
    uint8_t val[1024];
    CK_ATTRIBUTE v = {CKA_PRIVATE_EXPONENT, val, sizeof val};
    CHECK_EQ(f->C_GetAttributeValue(s, k[0], &v, 1), CKR_ATTRIBUTE_SENSITIVE);
    CK_BBOOL sens = 0, extr = 1, never = 0, dec = 0, sign = 1, unwrap = 1, derive = 1;
    CK_ATTRIBUTE a[] = {
        {CKA_SENSITIVE, &sens, 1}, {CKA_EXTRACTABLE, &extr, 1}, {CKA_NEVER_EXTRACTABLE, &never, 1},
        {CKA_DECRYPT, &dec, 1},    {CKA_SIGN, &sign, 1},        {CKA_UNWRAP, &unwrap, 1},
        {CKA_DERIVE, &derive, 1},
    };
    CHECK_EQ(f->C_GetAttributeValue(s, k[0], a, 7), CKR_OK);
    CHECK(sens && !extr && never && dec && !sign && !unwrap && !derive);
    CK_BBOOL t = CK_TRUE;
    CK_ATTRIBUTE mk = {CKA_EXTRACTABLE, &t, 1};
    CHECK(f->C_SetAttributeValue(s, k[0], &mk, 1) != CKR_OK);
    CK_OBJECT_HANDLE copy;
    CHECK(f->C_CopyObject(s, k[0], &mk, 1, &copy) != CKR_OK);
    /* not wrappable under a key the caller holds */
    CK_OBJECT_CLASS sc = CKO_SECRET_KEY;
    CK_KEY_TYPE aes = CKK_AES;
    CK_ULONG len = 32;
    CK_BBOOL fa = CK_FALSE;
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
    f->C_Logout(s);
    f->C_CloseSession(s);
    f->C_Finalize(NULL);
    dlclose(dl);
    return check_done();
}
