/* Group layer: scalar arithmetic edge cases (zero operands, sums reaching
 * zero, canonical decoding at the order boundary), wide reduction checked
 * against GMP's mpz, inversion, point decoding (non-canonical, off-curve,
 * small-order, non-subgroup, identity), identity results as named errors,
 * and the algebraic consistency of point and scalar operations. */
#include <gmp.h>
#include <secp256k1.h>
#include <sodium.h>
#include <string.h>

#include "check.h"
#include "sigil/err.h"
#include "sigil/group.h"

static const char *SECP_N = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";
static const char *ED_L = "1000000000000000000000000000000014def9dea2f79cd65812631a5cf5d3ed";

static void hex(uint8_t *out, size_t n, const char *h)
{
    REQUIRE(sodium_hex2bin(out, n, h, strlen(h), NULL, NULL, NULL) == 0);
}

/* order (as big-endian hex) + delta, encoded in the group's byte order */
static void order_plus(const sigil_group *g, uint8_t out[32], long delta)
{
    mpz_t z;
    mpz_init_set_str(z, sigil_group_id_of(g) == SIGIL_GROUP_ED25519 ? ED_L : SECP_N, 16);
    if (delta >= 0)
        mpz_add_ui(z, z, (unsigned long)delta);
    else
        mpz_sub_ui(z, z, (unsigned long)-delta);
    memset(out, 0, 32);
    size_t cnt;
    uint8_t be[32] = {0};
    uint8_t tmp[40];
    mpz_export(tmp, &cnt, 1, 1, 1, 0, z);
    memcpy(be + 32 - cnt, tmp, cnt);
    for (int i = 0; i < 32; i++)
        out[i] = sigil_group_id_of(g) == SIGIL_GROUP_ED25519 ? be[31 - i] : be[i];
    mpz_clear(z);
}

static void scalar_tests(const sigil_group *g)
{
    sigil_scalar zero, one, a, b, r, t;
    uint8_t enc[32];

    memset(&zero, 0, sizeof(zero));
    sigil_scalar_set_u64(g, &one, 1);

    /* canonical decoding at the boundary */
    order_plus(g, enc, -1);
    CHECK_EQ(sigil_scalar_parse(g, &a, enc), SIGIL_OK);
    order_plus(g, enc, 0);
    CHECK_EQ(sigil_scalar_parse(g, &a, enc), SIGIL_E_SCALAR);
    CHECK(sigil_scalar_is_zero(&a)); /* cleared on failure */
    order_plus(g, enc, 1);
    CHECK_EQ(sigil_scalar_parse(g, &a, enc), SIGIL_E_SCALAR);
    memset(enc, 0xff, 32);
    CHECK_EQ(sigil_scalar_parse(g, &a, enc), SIGIL_E_SCALAR);
    memset(enc, 0, 32);
    CHECK_EQ(sigil_scalar_parse(g, &a, enc), SIGIL_OK);
    CHECK(sigil_scalar_is_zero(&a));

    /* n-1 + 1 = 0; n-1 + 2 = 1; (n-1)^2 = 1; -(n-1) = 1 */
    order_plus(g, enc, -1);
    REQUIRE(sigil_scalar_parse(g, &a, enc) == SIGIL_OK);
    sigil_scalar_add(g, &r, &a, &one);
    CHECK(sigil_scalar_is_zero(&r));
    sigil_scalar_add(g, &r, &one, &a);
    CHECK(sigil_scalar_is_zero(&r));
    sigil_scalar_set_u64(g, &b, 2);
    sigil_scalar_add(g, &r, &a, &b);
    CHECK(sigil_scalar_eq(&r, &one));
    sigil_scalar_mul(g, &r, &a, &a);
    CHECK(sigil_scalar_eq(&r, &one));
    sigil_scalar_neg(g, &r, &a);
    CHECK(sigil_scalar_eq(&r, &one));

    for (int iter = 0; iter < 50; iter++) {
        REQUIRE(sigil_scalar_random(g, &a) == SIGIL_OK);
        REQUIRE(sigil_scalar_random(g, &b) == SIGIL_OK);
        CHECK(!sigil_scalar_is_zero(&a));
        /* zero operands: 0 + b = b, a + 0 = a, 0 + 0 = 0, a*0 = 0*a = 0 */
        sigil_scalar_add(g, &r, &zero, &b);
        CHECK(sigil_scalar_eq(&r, &b));
        sigil_scalar_add(g, &r, &a, &zero);
        CHECK(sigil_scalar_eq(&r, &a));
        sigil_scalar_add(g, &r, &zero, &zero);
        CHECK(sigil_scalar_is_zero(&r));
        sigil_scalar_mul(g, &r, &a, &zero);
        CHECK(sigil_scalar_is_zero(&r));
        sigil_scalar_mul(g, &r, &zero, &b);
        CHECK(sigil_scalar_is_zero(&r));
        sigil_scalar_neg(g, &r, &zero);
        CHECK(sigil_scalar_is_zero(&r));
        sigil_scalar_sub(g, &r, &zero, &zero);
        CHECK(sigil_scalar_is_zero(&r));
        /* a + (-a) = 0, a - a = 0, 0 - a = -a, a - 0 = a */
        sigil_scalar_neg(g, &t, &a);
        sigil_scalar_add(g, &r, &a, &t);
        CHECK(sigil_scalar_is_zero(&r));
        sigil_scalar_sub(g, &r, &a, &a);
        CHECK(sigil_scalar_is_zero(&r));
        sigil_scalar_sub(g, &r, &zero, &a);
        CHECK(sigil_scalar_eq(&r, &t));
        sigil_scalar_sub(g, &r, &a, &zero);
        CHECK(sigil_scalar_eq(&r, &a));
        /* (a + b) - b = a; a * 1 = a; a * inv(a) = 1; aliasing */
        sigil_scalar_add(g, &r, &a, &b);
        sigil_scalar_sub(g, &r, &r, &b);
        CHECK(sigil_scalar_eq(&r, &a));
        sigil_scalar_mul(g, &r, &a, &one);
        CHECK(sigil_scalar_eq(&r, &a));
        CHECK_EQ(sigil_scalar_inv(g, &t, &a), SIGIL_OK);
        sigil_scalar_mul(g, &r, &a, &t);
        CHECK(sigil_scalar_eq(&r, &one));
        CHECK_EQ(sigil_scalar_inv_public(g, &r, &a), SIGIL_OK);
        CHECK(sigil_scalar_eq(&r, &t));
        /* distributivity a*(b+1) = a*b + a */
        sigil_scalar_add(g, &t, &b, &one);
        sigil_scalar_mul(g, &t, &a, &t);
        sigil_scalar_mul(g, &r, &a, &b);
        sigil_scalar_add(g, &r, &r, &a);
        CHECK(sigil_scalar_eq(&r, &t));
        /* random scalars are canonical */
        sigil_scalar_serialize(g, enc, &a);
        CHECK_EQ(sigil_scalar_parse(g, &t, enc), SIGIL_OK);
    }
    CHECK_EQ(sigil_scalar_inv_public(g, &r, &zero), SIGIL_E_ZERO);
    CHECK(sigil_scalar_is_zero(&r));
    CHECK_EQ(sigil_scalar_inv_public(g, &r, &one), SIGIL_OK);
    CHECK(sigil_scalar_eq(&r, &one));
    CHECK_EQ(sigil_scalar_inv(g, &r, &zero), SIGIL_E_ZERO);
    CHECK(sigil_scalar_is_zero(&r));
    CHECK_EQ(sigil_scalar_inv(g, &r, &one), SIGIL_OK);
    CHECK(sigil_scalar_eq(&r, &one));

    /* wide reduction against mpz, for 0..64-byte inputs */
    mpz_t z, m, got;
    mpz_inits(z, m, got, NULL);
    mpz_set_str(m, sigil_group_id_of(g) == SIGIL_GROUP_ED25519 ? ED_L : SECP_N, 16);
    int le = sigil_group_id_of(g) == SIGIL_GROUP_ED25519;
    for (size_t n = 0; n <= 64; n += (n < 34 ? 1 : 5)) {
        uint8_t in[64];
        randombytes_buf(in, sizeof(in));
        if (n == 64)
            memset(in, 0xff, 64);
        CHECK_EQ(sigil_scalar_reduce(g, &r, in, n), SIGIL_OK);
        mpz_import(z, n, le ? -1 : 1, 1, 0, 0, in);
        mpz_mod(z, z, m);
        mpz_import(got, 32, le ? -1 : 1, 1, 0, 0, r.v);
        CHECK(mpz_cmp(z, got) == 0);
    }
    uint8_t big[65] = {0};
    CHECK_EQ(sigil_scalar_reduce(g, &r, big, 65), SIGIL_E_INVALID);
    mpz_clears(z, m, got, NULL);

    /* buffer encodings: truncated and non-canonical input leave the buffer */
    sigil_buf buf;
    order_plus(g, enc, 0);
    sigil_buf_view(&buf, enc, 32);
    CHECK_EQ(sigil_scalar_get(g, &buf, &r), SIGIL_E_SCALAR);
    CHECK_EQ(sigil_buf_len(&buf), 32);
    sigil_buf_view(&buf, enc, 31);
    CHECK_EQ(sigil_scalar_get(g, &buf, &r), SIGIL_E_TRUNCATED);
    sigil_buf out;
    REQUIRE(sigil_buf_init(&out, 64, SIGIL_BUF_SECRET) == SIGIL_OK);
    REQUIRE(sigil_scalar_random(g, &a) == SIGIL_OK);
    CHECK_EQ(sigil_scalar_put(g, &out, &a), SIGIL_OK);
    CHECK_EQ(sigil_scalar_get(g, &out, &r), SIGIL_OK);
    CHECK(sigil_scalar_eq(&r, &a));
    CHECK_EQ(sigil_buf_end(&out), SIGIL_OK);
    sigil_buf_free(&out);
}

static void point_tests(const sigil_group *g)
{
    sigil_scalar a, b, c, one, zero;
    sigil_point P, Q, R, S;
    uint8_t enc[33], enc2[33];
    size_t plen = sigil_group_point_len(g);

    memset(&zero, 0, sizeof(zero));
    sigil_scalar_set_u64(g, &one, 1);
    CHECK_EQ(sigil_point_base_mul(g, &P, &zero), SIGIL_E_ZERO);

    for (int iter = 0; iter < 10; iter++) {
        REQUIRE(sigil_scalar_random(g, &a) == SIGIL_OK);
        REQUIRE(sigil_scalar_random(g, &b) == SIGIL_OK);
        REQUIRE(sigil_point_base_mul(g, &P, &a) == SIGIL_OK);
        REQUIRE(sigil_point_base_mul(g, &Q, &b) == SIGIL_OK);
        /* aG + bG = (a+b)G */
        CHECK_EQ(sigil_point_add(g, &R, &P, &Q), SIGIL_OK);
        sigil_scalar_add(g, &c, &a, &b);
        CHECK_EQ(sigil_point_base_mul(g, &S, &c), SIGIL_OK);
        CHECK(sigil_point_eq(g, &R, &S));
        /* sum of three = aG + bG + G */
        sigil_point arr[3];
        arr[0] = P;
        arr[1] = Q;
        REQUIRE(sigil_point_base_mul(g, &arr[2], &one) == SIGIL_OK);
        CHECK_EQ(sigil_point_sum(g, &R, arr, 3), SIGIL_OK);
        sigil_scalar_add(g, &c, &c, &one);
        REQUIRE(sigil_point_base_mul(g, &S, &c) == SIGIL_OK);
        CHECK(sigil_point_eq(g, &R, &S));
        /* b(aG) = (ab)G, both constant-time and public variants */
        CHECK_EQ(sigil_point_mul(g, &R, &P, &b), SIGIL_OK);
        sigil_scalar_mul(g, &c, &a, &b);
        REQUIRE(sigil_point_base_mul(g, &S, &c) == SIGIL_OK);
        CHECK(sigil_point_eq(g, &R, &S));
        CHECK_EQ(sigil_point_mul_public(g, &R, &P, &b), SIGIL_OK);
        CHECK(sigil_point_eq(g, &R, &S));
        /* a*P + b*G, with b zero, and reaching the identity */
        CHECK_EQ(sigil_point_mul_add_base_public(g, &R, &P, &b, &one), SIGIL_OK);
        sigil_scalar_mul(g, &c, &a, &b);
        sigil_scalar_add(g, &c, &c, &one);
        REQUIRE(sigil_point_base_mul(g, &S, &c) == SIGIL_OK);
        CHECK(sigil_point_eq(g, &R, &S));
        CHECK_EQ(sigil_point_mul_add_base_public(g, &R, &P, &b, &zero), SIGIL_OK);
        CHECK_EQ(sigil_point_mul_public(g, &S, &P, &b), SIGIL_OK);
        CHECK(sigil_point_eq(g, &R, &S));
        sigil_scalar_mul(g, &c, &a, &b);
        sigil_scalar_neg(g, &c, &c); /* b*(aG) + (-ab)G = identity */
        CHECK_EQ(sigil_point_mul_add_base_public(g, &R, &P, &b, &c), SIGIL_E_IDENTITY);
        CHECK_EQ(sigil_point_mul_add_base_public(g, &R, &P, &zero, &c), SIGIL_E_ZERO);
        /* decode-and-multiply agrees with decode then multiply */
        {
            uint8_t pe[33];
            sigil_point P2, R2;
            sigil_point_serialize(g, pe, &P);
            CHECK_EQ(sigil_point_parse_mul_public(g, &P2, &R2, pe, plen, &b), SIGIL_OK);
            CHECK(sigil_point_eq(g, &P2, &P));
            CHECK_EQ(sigil_point_mul_public(g, &S, &P, &b), SIGIL_OK);
            CHECK(sigil_point_eq(g, &R2, &S));
            CHECK_EQ(sigil_point_parse_mul_public(g, &P2, &R2, pe, plen, &zero), SIGIL_E_ZERO);
            CHECK_EQ(sigil_point_parse_mul_public(g, &P2, &R2, pe, plen - 1, &b), SIGIL_E_POINT);
            pe[0] ^= 0x40;
            int prc = sigil_point_parse(g, &P2, pe, plen);
            CHECK_EQ(sigil_point_parse_mul_public(g, &P2, &R2, pe, plen, &b), prc);
        }
        CHECK_EQ(sigil_point_mul(g, &R, &P, &zero), SIGIL_E_ZERO);
        CHECK_EQ(sigil_point_mul_public(g, &R, &P, &zero), SIGIL_E_ZERO);
        /* aG - bG = (a-b)G; -(aG) = (-a)G */
        CHECK_EQ(sigil_point_sub(g, &R, &P, &Q), SIGIL_OK);
        sigil_scalar_sub(g, &c, &a, &b);
        REQUIRE(sigil_point_base_mul(g, &S, &c) == SIGIL_OK);
        CHECK(sigil_point_eq(g, &R, &S));
        sigil_point_neg(g, &R, &P);
        sigil_scalar_neg(g, &c, &a);
        REQUIRE(sigil_point_base_mul(g, &S, &c) == SIGIL_OK);
        CHECK(sigil_point_eq(g, &R, &S));
        CHECK(!sigil_point_eq(g, &P, &Q));
        /* identity results are named errors: P + (-P), P - P, sums */
        CHECK_EQ(sigil_point_add(g, &S, &P, &R), SIGIL_E_IDENTITY);
        CHECK_EQ(sigil_point_sub(g, &S, &P, &P), SIGIL_E_IDENTITY);
        sigil_point negP;
        sigil_point_neg(g, &negP, &P);
        /* P + Q + (-P) = Q */
        sigil_point three[3] = {P, Q, negP};
        CHECK_EQ(sigil_point_sum(g, &S, three, 3), SIGIL_OK);
        CHECK(sigil_point_eq(g, &S, &Q));
        sigil_point cancel[2] = {P, negP};
        CHECK_EQ(sigil_point_sum(g, &S, cancel, 2), SIGIL_E_IDENTITY);
        /* a partial sum passing through the identity is fine */
        sigil_point mid[3] = {P, negP, Q};
        CHECK_EQ(sigil_point_sum(g, &S, mid, 3), SIGIL_OK);
        CHECK(sigil_point_eq(g, &S, &Q));
        CHECK_EQ(sigil_point_sum(g, &S, mid, 0), SIGIL_E_INVALID);
        /* round trip through the encoding and sigil_buf */
        sigil_point_serialize(g, enc, &P);
        CHECK_EQ(sigil_point_parse(g, &R, enc, plen), SIGIL_OK);
        CHECK(sigil_point_eq(g, &R, &P));
        CHECK_EQ(sigil_point_parse(g, &R, enc, plen - 1), SIGIL_E_POINT);
        CHECK_EQ(sigil_point_parse(g, &R, enc, plen + 1), SIGIL_E_POINT);
        sigil_buf buf;
        REQUIRE(sigil_buf_init(&buf, 100, 0) == SIGIL_OK);
        CHECK_EQ(sigil_point_put(g, &buf, &P), SIGIL_OK);
        CHECK_EQ(sigil_buf_len(&buf), plen);
        CHECK_EQ(sigil_point_get(g, &buf, &R), SIGIL_OK);
        CHECK(sigil_point_eq(g, &R, &P));
        CHECK_EQ(sigil_point_get(g, &buf, &R), SIGIL_E_TRUNCATED);
        sigil_buf_free(&buf);
        /* x-coordinate and parity (secp256k1 only) */
        if (sigil_group_id_of(g) == SIGIL_GROUP_SECP256K1) {
            CHECK_EQ(sigil_point_x(g, enc2, &P), SIGIL_OK);
            CHECK(memcmp(enc2, enc + 1, 32) == 0);
            CHECK_EQ(sigil_point_is_even_y(g, &P), enc[0] == 0x02);
            sigil_point_neg(g, &R, &P);
            CHECK_EQ(sigil_point_is_even_y(g, &R), enc[0] == 0x03);
        } else {
            CHECK_EQ(sigil_point_x(g, enc2, &P), SIGIL_E_INVALID);
            CHECK_EQ(sigil_point_is_even_y(g, &P), SIGIL_E_INVALID);
        }
    }
}

static void secp_decoding(void)
{
    const sigil_group *g = sigil_group_get(SIGIL_GROUP_SECP256K1);
    sigil_point P;
    uint8_t e[65];
    sigil_scalar a;
    REQUIRE(sigil_scalar_random(g, &a) == SIGIL_OK);
    REQUIRE(sigil_point_base_mul(g, &P, &a) == SIGIL_OK);
    sigil_point_serialize(g, e, &P);
    uint8_t bad[33];
    memcpy(bad, e, 33);
    bad[0] = 0x04;
    CHECK_EQ(sigil_point_parse(g, &P, bad, 33), SIGIL_E_POINT);
    bad[0] = 0x00;
    CHECK_EQ(sigil_point_parse(g, &P, bad, 33), SIGIL_E_POINT);
    bad[0] = 0x06;
    CHECK_EQ(sigil_point_parse(g, &P, bad, 33), SIGIL_E_POINT);
    /* x = p (non-canonical field element) and x = 2^256-1 */
    hex(bad, 33, "02fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2f");
    CHECK_EQ(sigil_point_parse(g, &P, bad, 33), SIGIL_E_POINT);
    memset(bad + 1, 0xff, 32);
    CHECK_EQ(sigil_point_parse(g, &P, bad, 33), SIGIL_E_POINT);
    /* x = 5: x^3 + 7 = 132 is not a square mod p, so no point */
    memset(bad, 0, 33);
    bad[0] = 0x02;
    bad[32] = 5;
    CHECK_EQ(sigil_point_parse(g, &P, bad, 33), SIGIL_E_POINT);
    /* the all-zero "infinity" encoding */
    memset(bad, 0, 33);
    CHECK_EQ(sigil_point_parse(g, &P, bad, 33), SIGIL_E_POINT);
    /* uncompressed 65-byte encodings are not accepted */
    e[0] = 0x04;
    CHECK_EQ(sigil_point_parse(g, &P, e, 65), SIGIL_E_POINT);
    /* generator check: 1*G */
    sigil_scalar one;
    sigil_scalar_set_u64(g, &one, 1);
    REQUIRE(sigil_point_base_mul(g, &P, &one) == SIGIL_OK);
    uint8_t gen[33];
    hex(gen, 33, "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798");
    sigil_point_serialize(g, e, &P);
    CHECK(memcmp(e, gen, 33) == 0);
    /* a shared context exists */
    CHECK(sigil_secp256k1_ctx() != NULL);
}

static void ed_decoding(void)
{
    const sigil_group *g = sigil_group_get(SIGIL_GROUP_ED25519);
    sigil_point P, Q;
    uint8_t e[32], t[32];
    sigil_scalar a;

    /* identity, and the identity with the sign bit set (non-canonical) */
    memset(e, 0, 32);
    e[0] = 1;
    CHECK_EQ(sigil_point_parse(g, &P, e, 32), SIGIL_E_IDENTITY);
    e[31] = 0x80;
    CHECK_EQ(sigil_point_parse(g, &P, e, 32), SIGIL_E_POINT);
    /* order-2 point (0, -1) */
    hex(e, 32, "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
    CHECK_EQ(sigil_point_parse(g, &P, e, 32), SIGIL_E_POINT);
    /* order-8 point */
    hex(e, 32, "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a");
    CHECK_EQ(sigil_point_parse(g, &P, e, 32), SIGIL_E_POINT);
    /* y = p + 1 (non-canonical encoding of the identity) and y = 2^255 - 1 */
    hex(e, 32, "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
    CHECK_EQ(sigil_point_parse(g, &P, e, 32), SIGIL_E_POINT);
    memset(e, 0xff, 32);
    e[31] = 0x7f;
    CHECK_EQ(sigil_point_parse(g, &P, e, 32), SIGIL_E_POINT);
    /* a valid point plus a torsion point: on the curve, outside the subgroup */
    REQUIRE(sigil_scalar_random(g, &a) == SIGIL_OK);
    REQUIRE(sigil_point_base_mul(g, &P, &a) == SIGIL_OK);
    sigil_point_serialize(g, t, &P);
    uint8_t tors[32];
    hex(tors, 32, "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a");
    REQUIRE(crypto_core_ed25519_add(e, t, tors) == 0);
    CHECK_EQ(sigil_point_parse(g, &Q, e, 32), SIGIL_E_POINT);
    uint8_t nonsub[32];
    memcpy(nonsub, e, 32);
    /* the base point encodes as RFC 8032 says */
    sigil_scalar one;
    sigil_scalar_set_u64(g, &one, 1);
    REQUIRE(sigil_point_base_mul(g, &P, &one) == SIGIL_OK);
    hex(e, 32, "5866666666666666666666666666666666666666666666666666666666666666");
    sigil_point_serialize(g, t, &P);
    CHECK(memcmp(e, t, 32) == 0);
    /* decode-and-multiply refuses what the decoder refuses, with its codes */
    {
        sigil_point P2, R2;
        sigil_scalar s2;
        sigil_scalar_set_u64(g, &s2, 5);
        uint8_t idn[32] = {1};
        CHECK_EQ(sigil_point_parse_mul_public(g, &P2, &R2, idn, 32, &s2), SIGIL_E_IDENTITY);
        CHECK_EQ(sigil_point_parse_mul_public(g, &P2, &R2, tors, 32, &s2), SIGIL_E_POINT);
        CHECK_EQ(sigil_point_parse_mul_public(g, &P2, &R2, nonsub, 32, &s2), SIGIL_E_POINT);
        uint8_t noncanon[32];
        memset(noncanon, 0xff, 32);
        noncanon[31] = 0x7f;
        CHECK_EQ(sigil_point_parse_mul_public(g, &P2, &R2, noncanon, 32, &s2), SIGIL_E_POINT);
    }
    /* L*G would be the identity: L is not a canonical scalar anyway, and
     * base_mul of (L-1) + 1 via scalar add is zero -> SIGIL_E_ZERO */
    order_plus(g, e, -1);
    REQUIRE(sigil_scalar_parse(g, &a, e) == SIGIL_OK);
    sigil_scalar_add(g, &a, &a, &one);
    CHECK_EQ(sigil_point_base_mul(g, &P, &a), SIGIL_E_ZERO);
}

int main(void)
{
    REQUIRE(sigil_mpc_init() == SIGIL_OK);
    CHECK_EQ(sigil_mpc_init(), SIGIL_OK); /* idempotent */
    CHECK(sigil_group_get((sigil_group_id)7) == NULL);
    const sigil_group *ed = sigil_group_get(SIGIL_GROUP_ED25519);
    const sigil_group *k1 = sigil_group_get(SIGIL_GROUP_SECP256K1);
    REQUIRE(ed && k1);
    CHECK_EQ(sigil_group_point_len(ed), 32);
    CHECK_EQ(sigil_group_point_len(k1), 33);
    CHECK(strcmp(sigil_group_name(ed), "ed25519") == 0);
    scalar_tests(ed);
    scalar_tests(k1);
    point_tests(ed);
    point_tests(k1);
    secp_decoding();
    ed_decoding();
    return check_done();
}
