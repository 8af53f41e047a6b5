/* The hash shortcuts are exact: expand_message_xmd and the BIP-340 tagged
 * hash give the same bytes with and without the precomputed prefix states
 * (computed before and after sigil_mpc_init), and
 * sigil_hash_to_scalar_each equals sigil_hash_to_scalar per identifier in
 * both groups. RFC 9380 expand_message_xmd test vector (SHA-256, "abc",
 * len 0x20) pins the absolute result. */
#include <sodium.h>
#include <string.h>

#include "check.h"
#include "sigil/err.h"
#include "sigil/hash.h"

static const char *DST = "QUUX-V01-CS02-with-expander-SHA256-128";

int main(void)
{
    REQUIRE(sodium_init() >= 0);
    uint8_t before[32], after[32], tb[32], ta[32], want[32];
    sigil_iov abc[1] = {{"abc", 3}};
    /* RFC 9380 K.1, msg "abc", len_in_bytes 0x20 */
    REQUIRE(sodium_hex2bin(want, 32, "d8ccab23b5985ccea865c6c97b6e5b8350e794e603b4b97902f53a8a0d605615", 64,
                           NULL, NULL, NULL) == 0);
    REQUIRE(sigil_hash_xmd_sha256(before, 32, (const uint8_t *)DST, strlen(DST), abc, 1) == SIGIL_OK);
    sigil_hash_tagged(tb, "BIP0340/challenge", abc, 1);
    REQUIRE(sigil_mpc_init() == SIGIL_OK);
    REQUIRE(sigil_hash_xmd_sha256(after, 32, (const uint8_t *)DST, strlen(DST), abc, 1) == SIGIL_OK);
    sigil_hash_tagged(ta, "BIP0340/challenge", abc, 1);
    CHECK(memcmp(before, want, 32) == 0);
    CHECK(memcmp(after, want, 32) == 0);
    CHECK(memcmp(ta, tb, 32) == 0);
    /* tagged hash by its definition */
    uint8_t th[32], ref[32];
    crypto_hash_sha256_state st;
    crypto_hash_sha256(th, (const uint8_t *)"BIP0340/challenge", 17);
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, th, 32);
    crypto_hash_sha256_update(&st, th, 32);
    crypto_hash_sha256_update(&st, (const uint8_t *)"abc", 3);
    crypto_hash_sha256_final(&st, ref);
    CHECK(memcmp(ta, ref, 32) == 0);
    sigil_hash_tagged(ta, "BIP0340/aux", abc, 1); /* another tag: not the cached one */
    CHECK(memcmp(ta, ref, 32) != 0);

    sigil_group_id gids[2] = {SIGIL_GROUP_ED25519, SIGIL_GROUP_SECP256K1};
    for (int gi = 0; gi < 2; gi++) {
        const sigil_group *g = sigil_group_get(gids[gi]);
        enum { K = 7 };
        sigil_scalar ids[K], each[K], one;
        uint8_t prefix[161];
        for (size_t plen = 0; plen <= sizeof(prefix); plen += 23) {
            randombytes_buf(prefix, sizeof(prefix));
            for (int i = 0; i < K; i++)
                REQUIRE(sigil_scalar_random(g, &ids[i]) == SIGIL_OK);
            CHECK_EQ(sigil_hash_to_scalar_each(g, "FROST-test-v1", "rho", prefix, plen, ids, K, each), SIGIL_OK);
            for (int i = 0; i < K; i++) {
                sigil_iov parts[2] = {{prefix, plen}, {ids[i].v, 32}};
                REQUIRE(sigil_hash_to_scalar(g, "FROST-test-v1", "rho", parts, 2, &one) == SIGIL_OK);
                CHECK(sigil_scalar_eq(&one, &each[i]));
            }
        }
        CHECK_EQ(sigil_hash_to_scalar_each(g, "FROST-test-v1", "rho", NULL, 0, ids, K, each), SIGIL_E_INVALID);
        CHECK_EQ(sigil_hash_to_scalar_each(g, "FROST-test-v1", "rho", prefix, 1, ids, 0, each), SIGIL_OK);
    }
    CHECK_EQ(sigil_hash_to_scalar_each(sigil_group_get(SIGIL_GROUP_SECP256K1), NULL, NULL, (const uint8_t *)"x",
                                       1, (const sigil_scalar *)DST, 1, (sigil_scalar *)before),
             SIGIL_E_INVALID);
    return check_done();
}
