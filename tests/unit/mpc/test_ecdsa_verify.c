/* sigil_ecdsa_verify / _verify_der / _recover: Wycheproof secp256k1 ECDSA
 * vectors (plain, which accepts high-s, and the Bitcoin variant, which
 * rejects it), plus signatures made by libsecp256k1 itself. */
#include <jansson.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sigil/ecdsa.h"
#include "sigil/err.h"

static size_t unhex(uint8_t *out, size_t max, const char *hex)
{
    size_t n = 0;
    REQUIRE(sodium_hex2bin(out, max, hex, strlen(hex), NULL, &n, NULL) == 0);
    return n;
}

static void run_file(const char *dir, const char *name, unsigned flags)
{
    char path[1024];
    json_error_t jerr;
    snprintf(path, sizeof path, "%s/wycheproof/%s", dir, name);
    json_t *root = json_load_file(path, 0, &jerr);
    REQUIRE(root != NULL);
    size_t gi, ti, total = 0, valid = 0;
    json_t *g, *t;
    json_array_foreach(json_object_get(root, "testGroups"), gi, g)
    {
        uint8_t pub[65], digest[32];
        const char *pubhex =
            json_string_value(json_object_get(json_object_get(g, "publicKey"), "uncompressed"));
        REQUIRE(pubhex != NULL);
        size_t publen = unhex(pub, sizeof pub, pubhex);
        json_array_foreach(json_object_get(g, "tests"), ti, t)
        {
            const char *msghex = json_string_value(json_object_get(t, "msg"));
            const char *sighex = json_string_value(json_object_get(t, "sig"));
            const char *res = json_string_value(json_object_get(t, "result"));
            REQUIRE(msghex && sighex && res);
            size_t mlen = strlen(msghex) / 2, slen = strlen(sighex) / 2;
            uint8_t *msg = malloc(mlen + 1), *sig = malloc(slen + 1);
            REQUIRE(msg && sig);
            unhex(msg, mlen + 1, msghex);
            unhex(sig, slen + 1, sighex);
            crypto_hash_sha256(digest, msg, mlen);
            int rc = sigil_ecdsa_verify_der(pub, publen, digest, sig, slen, flags);
            int want_ok = strcmp(res, "valid") == 0;
            REQUIRE(strcmp(res, "valid") == 0 || strcmp(res, "invalid") == 0);
            if (want_ok != (rc == SIGIL_OK))
                fprintf(stderr, "%s tcId %lld: got %s want %s\n", name,
                        json_integer_value(json_object_get(t, "tcId")), sigil_errname(rc), res);
            CHECK(want_ok == (rc == SIGIL_OK));
            total++;
            valid += want_ok;
            free(msg);
            free(sig);
        }
    }
    printf("%s: %zu cases (%zu valid)\n", name, total, valid);
    CHECK(total > 400);
    json_decref(root);
}

static void own_signatures(void)
{
    secp256k1_context *ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    REQUIRE(ctx != NULL);
    for (int i = 0; i < 20; i++) {
        uint8_t sk[32], d[32], sig[64], pub[33], rec[33];
        secp256k1_pubkey pk;
        secp256k1_ecdsa_recoverable_signature rs;
        size_t len = 33;
        int recid;
        do
            randombytes_buf(sk, 32);
        while (!secp256k1_ec_seckey_verify(ctx, sk));
        randombytes_buf(d, 32);
        REQUIRE(secp256k1_ec_pubkey_create(ctx, &pk, sk));
        secp256k1_ec_pubkey_serialize(ctx, pub, &len, &pk, SECP256K1_EC_COMPRESSED);
        REQUIRE(secp256k1_ecdsa_sign_recoverable(ctx, &rs, d, sk, NULL, NULL));
        secp256k1_ecdsa_recoverable_signature_serialize_compact(ctx, sig, &recid, &rs);
        CHECK_EQ(sigil_ecdsa_verify(pub, 33, d, sig, 0), SIGIL_OK);
        CHECK_EQ(sigil_ecdsa_recover(rec, d, sig, recid), SIGIL_OK);
        CHECK(memcmp(rec, pub, 33) == 0);
        /* the high-s twin: rejected by default, accepted when allowed */
        uint8_t hi[64];
        memcpy(hi, sig, 64);
        {
            static const uint8_t n[32] = {
                0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                0xff, 0xff, 0xff, 0xff, 0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48,
                0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};
            int borrow = 0;
            for (int k = 31; k >= 0; k--) {
                int v = n[k] - sig[32 + k] - borrow;
                borrow = v < 0;
                hi[32 + k] = (uint8_t)(v + (borrow ? 256 : 0));
            }
        }
        CHECK_EQ(sigil_ecdsa_verify(pub, 33, d, hi, 0), SIGIL_E_SIGNATURE);
        CHECK_EQ(sigil_ecdsa_verify(pub, 33, d, hi, SIGIL_ECDSA_ALLOW_HIGH_S), SIGIL_OK);
        d[0] ^= 1;
        CHECK_EQ(sigil_ecdsa_verify(pub, 33, d, sig, 0), SIGIL_E_SIGNATURE);
        d[0] ^= 1;
        uint8_t zero[64] = {0};
        CHECK_EQ(sigil_ecdsa_verify(pub, 33, d, zero, 0), SIGIL_E_ENCODING);
        pub[0] = 5;
        CHECK_EQ(sigil_ecdsa_verify(pub, 33, d, sig, 0), SIGIL_E_POINT);
        sodium_memzero(sk, 32);
    }
    secp256k1_context_destroy(ctx);
}

int main(void)
{
    REQUIRE(sodium_init() >= 0);
    const char *dir = getenv("SIGIL_VECTORS_DIR");
    if (dir == NULL)
        dir = "../shared/vectors";
    run_file(dir, "ecdsa_secp256k1_sha256_test.json", SIGIL_ECDSA_ALLOW_HIGH_S);
    run_file(dir, "ecdsa_secp256k1_sha256_bitcoin_test.json", 0);
    own_signatures();
    return check_done();
}
