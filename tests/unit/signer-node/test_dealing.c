/* sigil/dealing.h: import dealings. Round trip for every scheme, the
 * officer signature over every byte, truncations, the share encrypted to
 * one node only, the Feldman check (wrong share, commitments to another
 * key), transcripts, the params hash, and the envelope certificate export
 * the ceremony checks. */
#include <string.h>

#include <sodium.h>

#include "check.h"
#include "sigil/dealing.h"
#include "sigil/dkg.h"
#include "sigil/err.h"
#include "sigil/frost.h"
#include "sigil/group.h"

static uint8_t id_pk[4][32], id_sk[4][64], off_pk[32], off_sk[64];

static sigil_env_key *mkkey(uint32_t id)
{
    sigil_env_key *k = NULL;
    REQUIRE(sigil_env_key_new(&k, id, 1700000000) == SIGIL_OK);
    sigil_buf m;
    REQUIRE(sigil_buf_init(&m, 256, 0) == SIGIL_OK);
    REQUIRE(sigil_env_key_cert_message(k, &m) == SIGIL_OK);
    uint8_t sig[64];
    crypto_sign_detached(sig, NULL, m.data, m.size, id_sk[id]);
    sigil_buf_free(&m);
    REQUIRE(sigil_env_key_set_cert(k, id_pk[id], sig) == SIGIL_OK);
    return k;
}

/* A signed dealing for node `to` (index ti) of a t-of-3 split of a random
 * key; shares / verifying of the split returned for the checks. */
typedef struct {
    sigil_dealing d;
    sigil_buf payload;
    sigil_keyshare shares[3];
    sigil_scalar secret;
} fixture;

static void deal(fixture *f, uint16_t scheme, uint32_t t, const uint8_t sid[32], uint32_t ti,
                 const uint8_t box_pk[32])
{
    const sigil_group *g = sigil_dealing_group(scheme);
    REQUIRE(g);
    memset(f, 0, sizeof *f);
    sigil_scalar coeffs[3], ids[3];
    REQUIRE(sigil_scalar_random(g, &f->secret) == SIGIL_OK);
    for (uint32_t j = 0; j + 1 < t; j++)
        REQUIRE(sigil_scalar_random(g, &coeffs[j]) == SIGIL_OK);
    for (uint32_t i = 0; i < 3; i++)
        sigil_scalar_set_u64(g, &ids[i], i + 1);
    REQUIRE(sigil_dkg_split(g, &f->secret, t, 3, ids, coeffs, f->shares) == SIGIL_OK);
    sigil_dealing *d = &f->d;
    strcpy(d->officer, "carol");
    d->scheme = scheme;
    strcpy(d->key_id, "cold-1");
    d->t = t;
    d->n = 3;
    for (uint32_t i = 0; i < 3; i++)
        d->parties[i] = i + 1;
    REQUIRE(sigil_point_base_mul(g, &d->commitments[0], &f->secret) == SIGIL_OK);
    for (uint32_t j = 1; j < t; j++)
        REQUIRE(sigil_point_base_mul(g, &d->commitments[j], &coeffs[j - 1]) == SIGIL_OK);
    if (scheme == SIGIL_ENV_SCHEME_BIP340) {
        REQUIRE(sigil_point_x(g, d->public_key, &d->commitments[0]) == SIGIL_OK);
        d->public_key_len = 32;
    } else {
        sigil_point_serialize(g, d->public_key, &d->commitments[0]);
        d->public_key_len = sigil_group_point_len(g);
    }
    uint8_t share[32];
    sigil_scalar_serialize(g, share, f->shares[ti].secret);
    REQUIRE(sigil_dealing_seal_share(d, sid, ti + 1, share, box_pk) == SIGIL_OK);
    sodium_memzero(share, sizeof share);
    REQUIRE(sigil_buf_init(&f->payload, SIGIL_DEALING_MAX, 0) == SIGIL_OK);
    REQUIRE(sigil_dealing_body(d, &f->payload) == SIGIL_OK);
    sigil_buf m;
    REQUIRE(sigil_buf_init(&m, SIGIL_DEALING_MAX + 128, 0) == SIGIL_OK);
    REQUIRE(sigil_dealing_sign_message(sid, f->payload.data, f->payload.size, &m) == SIGIL_OK);
    uint8_t sig[64];
    crypto_sign_detached(sig, NULL, m.data, m.size, off_sk);
    sigil_buf_free(&m);
    REQUIRE(sigil_buf_put(&f->payload, sig, 64) == SIGIL_OK);
}

static void fixture_free(fixture *f)
{
    for (int i = 0; i < 3; i++)
        sigil_keyshare_free(&f->shares[i]);
    sigil_buf_free(&f->payload);
}

int main(void)
{
    REQUIRE(sigil_mpc_init() == SIGIL_OK);
    for (int i = 0; i < 4; i++)
        crypto_sign_keypair(id_pk[i], id_sk[i]);
    crypto_sign_keypair(off_pk, off_sk);
    sigil_env_key *k1 = mkkey(1), *k2 = mkkey(2);
    sigil_env_peers *peers;
    REQUIRE(sigil_env_peers_new(&peers) == SIGIL_OK);
    REQUIRE(sigil_env_peers_add(peers, 1, id_pk[1]) == SIGIL_OK);
    REQUIRE(sigil_env_peers_add(peers, 2, id_pk[2]) == SIGIL_OK);

    /* the certificate the ceremony checks: node 1's, signed by its identity */
    uint8_t cert[SIGIL_ENV_CERT_LEN], box1[32], box2[32], want[32];
    REQUIRE(sigil_env_key_cert(k1, cert) == SIGIL_OK);
    sigil_env_key_box_pk(k1, want);
    CHECK_EQ(sigil_env_cert_box_pk(peers, 1, cert, sizeof cert, box1), SIGIL_OK);
    CHECK(memcmp(box1, want, 32) == 0);
    CHECK_EQ(sigil_env_cert_box_pk(peers, 2, cert, sizeof cert, box2), SIGIL_E_PARTICIPANT);
    CHECK_EQ(sigil_env_cert_box_pk(peers, 3, cert, sizeof cert, box2), SIGIL_E_PARTICIPANT);
    CHECK_EQ(sigil_env_cert_box_pk(peers, 1, cert, sizeof cert - 1, box2), SIGIL_E_ENCODING);
    for (size_t i = 4; i < sizeof cert; i += 7) { /* box key, issue time, signature */
        uint8_t c2[SIGIL_ENV_CERT_LEN];
        memcpy(c2, cert, sizeof c2);
        c2[i] ^= 0x10;
        CHECK(sigil_env_cert_box_pk(peers, 1, c2, sizeof c2, box2) != SIGIL_OK);
    }
    REQUIRE(sigil_env_key_cert(k2, cert) == SIGIL_OK);
    REQUIRE(sigil_env_cert_box_pk(peers, 2, cert, sizeof cert, box2) == SIGIL_OK);

    uint8_t sid[32], sid2[32];
    randombytes_buf(sid, 32);
    randombytes_buf(sid2, 32);
    static const uint16_t schemes[] = {1, 2, 3, 4};
    for (size_t si = 0; si < 4; si++) {
        uint16_t scheme = schemes[si];
        const sigil_group *g = sigil_dealing_group(scheme);
        fixture f;
        deal(&f, scheme, 2, sid, 0, box1);
        sigil_dealing d;
        CHECK_EQ(sigil_dealing_decode(&d, f.payload.data, f.payload.size), SIGIL_OK);
        CHECK_EQ(sigil_dealing_verify(&d, sid, off_pk), SIGIL_OK);
        CHECK_EQ(sigil_dealing_verify(&d, sid2, off_pk), SIGIL_E_SIGNATURE);
        CHECK_EQ(sigil_dealing_verify(&d, sid, id_pk[0]), SIGIL_E_SIGNATURE);
        CHECK(strcmp(d.officer, "carol") == 0 && strcmp(d.key_id, "cold-1") == 0 && d.to == 1);
        /* only node 1's envelope key opens it, and only for this session */
        sigil_scalar *share = sodium_malloc(sizeof *share);
        REQUIRE(share);
        CHECK_EQ(sigil_dealing_open_share(&d, sid, k2, share), SIGIL_E_UNSEAL);
        CHECK_EQ(sigil_dealing_open_share(&d, sid2, k1, share), SIGIL_E_SESSION);
        CHECK_EQ(sigil_dealing_open_share(&d, sid, k1, share), SIGIL_OK);
        CHECK(sigil_scalar_eq(share, f.shares[0].secret));
        /* Feldman: verifying shares of every party equal the split's */
        sigil_point ver[3], gpk;
        CHECK_EQ(sigil_dealing_check(&d, share, 0, ver, &gpk), SIGIL_OK);
        for (int i = 0; i < 3; i++)
            CHECK(sigil_point_eq(g, &ver[i], &f.shares[0].verifying[i]));
        CHECK(sigil_point_eq(g, &gpk, &f.shares[0].group_pk));
        /* the share is checked for its own index; a wrong share is refused */
        CHECK_EQ(sigil_dealing_check(&d, share, 1, ver, &gpk), SIGIL_E_SHARE);
        sigil_scalar one, bad;
        sigil_scalar_set_u64(g, &one, 1);
        sigil_scalar_add(g, &bad, share, &one);
        CHECK_EQ(sigil_dealing_check(&d, &bad, 0, ver, &gpk), SIGIL_E_SHARE);
        /* commitments that do not commit to the approved key */
        sigil_dealing d2 = d;
        d2.public_key[d2.public_key_len - 1] ^= 1;
        CHECK_EQ(sigil_dealing_check(&d2, share, 0, ver, &gpk), SIGIL_E_MISMATCH);
        /* another C_1 (a different polynomial) fails the share check */
        d2 = d;
        REQUIRE(sigil_point_base_mul(g, &d2.commitments[1], &one) == SIGIL_OK);
        CHECK_EQ(sigil_dealing_check(&d2, share, 0, ver, &gpk), SIGIL_E_SHARE);
        /* transcripts: equal for the same public dealing, differ otherwise */
        uint8_t tr1[32], tr2[32];
        CHECK_EQ(sigil_dealing_transcript(&d, sid, tr1), SIGIL_OK);
        fixture f2;
        deal(&f2, scheme, 2, sid, 1, box2);
        sigil_dealing e;
        CHECK_EQ(sigil_dealing_decode(&e, f2.payload.data, f2.payload.size), SIGIL_OK);
        CHECK_EQ(sigil_dealing_transcript(&e, sid, tr2), SIGIL_OK);
        CHECK(memcmp(tr1, tr2, 32) != 0); /* another polynomial */
        memcpy(e.commitments, d.commitments, sizeof d.commitments);
        memcpy(e.public_key, d.public_key, sizeof d.public_key);
        CHECK_EQ(sigil_dealing_transcript(&e, sid, tr2), SIGIL_OK);
        CHECK(memcmp(tr1, tr2, 32) == 0); /* recipient and ciphertext not in it */
        CHECK_EQ(sigil_dealing_transcript(&d, sid2, tr2), SIGIL_OK);
        CHECK(memcmp(tr1, tr2, 32) != 0);
        sigil_buf conf;
        REQUIRE(sigil_buf_init(&conf, 128, 0) == SIGIL_OK);
        CHECK_EQ(sigil_dealing_confirmation(&d, 0, tr1, &conf), SIGIL_OK);
        CHECK(conf.size == 65 && conf.data[0] == 0x03 && memcmp(conf.data + 33, tr1, 32) == 0);
        sigil_buf_free(&conf);
        fixture_free(&f2);

        if (scheme == 1) {
            /* every bit flip of the payload: refused by the decoder or by
             * the signature (or, in the sealed share, by both) */
            for (size_t i = 0; i < f.payload.size; i++) {
                for (int bit = 0; bit < 8; bit += 7) {
                    f.payload.data[i] ^= (uint8_t)(1u << bit);
                    sigil_dealing x;
                    int rc = sigil_dealing_decode(&x, f.payload.data, f.payload.size);
                    if (rc == SIGIL_OK)
                        rc = sigil_dealing_verify(&x, sid, off_pk);
                    CHECK(rc != SIGIL_OK);
                    f.payload.data[i] ^= (uint8_t)(1u << bit);
                }
            }
            for (size_t n = 0; n < f.payload.size; n++) {
                sigil_dealing x;
                int rc = sigil_dealing_decode(&x, f.payload.data, n);
                if (rc == SIGIL_OK)
                    rc = sigil_dealing_verify(&x, sid, off_pk);
                CHECK(rc != SIGIL_OK);
            }
            REQUIRE(sigil_buf_put_u8(&f.payload, 0) == SIGIL_OK);
            sigil_dealing x;
            int rc = sigil_dealing_decode(&x, f.payload.data, f.payload.size);
            if (rc == SIGIL_OK)
                rc = sigil_dealing_verify(&x, sid, off_pk);
            CHECK(rc != SIGIL_OK);
            /* bad fields are refused when encoding */
            sigil_dealing y = d;
            sigil_buf b;
            REQUIRE(sigil_buf_init(&b, SIGIL_DEALING_MAX, 0) == SIGIL_OK);
            y.t = 4;
            CHECK_EQ(sigil_dealing_body(&y, &b), SIGIL_E_THRESHOLD);
            y = d;
            y.parties[1] = 1;
            CHECK_EQ(sigil_dealing_body(&y, &b), SIGIL_E_PARTICIPANT);
            y = d;
            y.to = 9;
            CHECK_EQ(sigil_dealing_body(&y, &b), SIGIL_E_PARTICIPANT);
            y = d;
            y.officer[0] = 0;
            CHECK_EQ(sigil_dealing_body(&y, &b), SIGIL_E_INVALID);
            CHECK_EQ(b.size, 0);
            sigil_buf_free(&b);
        }
        sodium_free(share);
        fixture_free(&f);
    }
    CHECK(sigil_dealing_group(0) == NULL && sigil_dealing_group(5) == NULL);

    /* params hash: every field is bound */
    uint8_t pk[33], h0[32], h[32];
    memset(pk, 7, sizeof pk);
    CHECK_EQ(sigil_dealing_params_hash("k", 1, 2, 3, pk, 32, h0), SIGIL_OK);
    CHECK_EQ(sigil_dealing_params_hash("k", 1, 2, 3, pk, 32, h), SIGIL_OK);
    CHECK(memcmp(h0, h, 32) == 0);
    sigil_dealing_params_hash("j", 1, 2, 3, pk, 32, h);
    CHECK(memcmp(h0, h, 32) != 0);
    sigil_dealing_params_hash("k", 2, 2, 3, pk, 32, h);
    CHECK(memcmp(h0, h, 32) != 0);
    sigil_dealing_params_hash("k", 1, 3, 3, pk, 32, h);
    CHECK(memcmp(h0, h, 32) != 0);
    sigil_dealing_params_hash("k", 1, 2, 4, pk, 32, h);
    CHECK(memcmp(h0, h, 32) != 0);
    sigil_dealing_params_hash("k", 1, 2, 3, pk, 33, h);
    CHECK(memcmp(h0, h, 32) != 0);
    pk[0] ^= 1;
    sigil_dealing_params_hash("k", 1, 2, 3, pk, 32, h);
    CHECK(memcmp(h0, h, 32) != 0);

    sigil_env_key_free(k1);
    sigil_env_key_free(k2);
    sigil_env_peers_free(peers);
    return check_done();
}
