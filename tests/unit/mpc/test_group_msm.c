/* sigil_point_mul_add_base_public on secp256k1 runs a*P + b*G as one
 * double multiplication through ECDSA public-key recovery. Checked here
 * against the two-step reference (pubkey_tweak_mul, then pubkey_tweak_add)
 * for both y parities, b = 0, results at infinity, and the rare branch
 * where x(P) >= n (recovery id bit 1), on points built for it. */
#include <secp256k1.h>
#include <sodium.h>
#include <string.h>

#include "check.h"
#include "sigil/err.h"
#include "sigil/group.h"

static const uint8_t N_BE[32] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                 0xff, 0xff, 0xff, 0xff, 0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48,
                                 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};

/* reference a*P + b*G (two ecmult calls); 0 if the result is infinity */
static int reference(const sigil_group *g, uint8_t out[33], const sigil_point *P, const sigil_scalar *a,
                     const sigil_scalar *b)
{
    const secp256k1_context *ctx = (const secp256k1_context *)sigil_secp256k1_ctx();
    uint8_t enc[33];
    size_t len = 33;
    secp256k1_pubkey pk;
    sigil_point_serialize(g, enc, P);
    REQUIRE(secp256k1_ec_pubkey_parse(ctx, &pk, enc, 33));
    REQUIRE(secp256k1_ec_pubkey_tweak_mul(ctx, &pk, a->v));
    if (!sigil_scalar_is_zero(b) && !secp256k1_ec_pubkey_tweak_add(ctx, &pk, b->v))
        return 0;
    secp256k1_ec_pubkey_serialize(ctx, out, &len, &pk, SECP256K1_EC_COMPRESSED);
    return 1;
}

static void same_as_reference(const sigil_group *g, const sigil_point *P, const sigil_scalar *a,
                              const sigil_scalar *b)
{
    sigil_point R;
    uint8_t want[33], got[33];
    REQUIRE(reference(g, want, P, a, b));
    CHECK_EQ(sigil_point_mul_add_base_public(g, &R, P, a, b), SIGIL_OK);
    sigil_point_serialize(g, got, &R);
    CHECK(memcmp(got, want, 33) == 0);
}

int main(void)
{
    REQUIRE(sigil_mpc_init() == SIGIL_OK);
    const sigil_group *g = sigil_group_get(SIGIL_GROUP_SECP256K1);
    sigil_scalar a, b, k, zero, t;
    sigil_point P, R;
    memset(&zero, 0, sizeof(zero));

    /* random points: both parities show up among 64 */
    int parity_seen[2] = {0, 0};
    for (int i = 0; i < 64; i++) {
        uint8_t enc[33];
        REQUIRE(sigil_scalar_random(g, &k) == SIGIL_OK);
        REQUIRE(sigil_point_base_mul(g, &P, &k) == SIGIL_OK);
        sigil_point_serialize(g, enc, &P);
        parity_seen[enc[0] & 1] = 1;
        REQUIRE(sigil_scalar_random(g, &a) == SIGIL_OK);
        REQUIRE(sigil_scalar_random(g, &b) == SIGIL_OK);
        same_as_reference(g, &P, &a, &b);
        same_as_reference(g, &P, &a, &zero);
        /* a*P + b*G = infinity for b = -a*k: a named error, nothing else */
        sigil_scalar_mul(g, &t, &a, &k);
        sigil_scalar_neg(g, &t, &t);
        CHECK_EQ(sigil_point_mul_add_base_public(g, &R, &P, &a, &t), SIGIL_E_IDENTITY);
    }
    CHECK(parity_seen[0] && parity_seen[1]);

    /* points with n <= x < p (probability ~2^-128 at random): x = n + j */
    int found[2] = {0, 0};
    for (uint32_t j = 1; j < 400 && !(found[0] && found[1]); j++) {
        uint8_t enc[33];
        memcpy(enc + 1, N_BE, 32);
        uint32_t carry = j;
        for (int i = 32; i >= 1 && carry; i--) {
            carry += enc[i];
            enc[i] = (uint8_t)carry;
            carry >>= 8;
        }
        for (int par = 0; par < 2; par++) {
            enc[0] = (uint8_t)(0x02 | par);
            if (sigil_point_parse(g, &P, enc, 33) != SIGIL_OK)
                continue;
            found[par] = 1;
            for (int r = 0; r < 8; r++) {
                REQUIRE(sigil_scalar_random(g, &a) == SIGIL_OK);
                REQUIRE(sigil_scalar_random(g, &b) == SIGIL_OK);
                same_as_reference(g, &P, &a, &b);
                same_as_reference(g, &P, &a, &zero);
            }
        }
    }
    CHECK(found[0] && found[1]);
    CHECK_EQ(sigil_point_mul_add_base_public(g, &R, &P, &zero, &b), SIGIL_E_ZERO);
    return check_done();
}
