/* sigil_envelope: certificates, signing, encryption, header binding, every
 * byte of a payload, body encodings. */
#include <string.h>

#include <sodium.h>

#include "check.h"
#include "sigil/envelope.h"
#include "sigil/err.h"
#include "sigil/group.h"

static uint8_t id_pk[3][32], id_sk[3][64];

static sigil_env_key *mkkey(uint32_t id, int signer)
{
    sigil_env_key *k = NULL;
    REQUIRE(sigil_env_key_new(&k, id, 1700000000) == SIGIL_OK);
    sigil_buf m;
    REQUIRE(sigil_buf_init(&m, 256, 0) == SIGIL_OK);
    REQUIRE(sigil_env_key_cert_message(k, &m) == SIGIL_OK);
    uint8_t sig[64];
    crypto_sign_detached(sig, NULL, m.data, m.size, id_sk[signer]);
    sigil_buf_free(&m);
    int rc = sigil_env_key_set_cert(k, id_pk[id], sig);
    if (signer == (int)id)
        REQUIRE(rc == SIGIL_OK);
    else
        CHECK_EQ(rc, SIGIL_E_SIGNATURE);
    return k;
}

int main(void)
{
    REQUIRE(sigil_mpc_init() == SIGIL_OK);
    for (int i = 0; i < 3; i++)
        crypto_sign_keypair(id_pk[i], id_sk[i]);
    sigil_env_peers *peers;
    REQUIRE(sigil_env_peers_new(&peers) == SIGIL_OK);
    REQUIRE(sigil_env_peers_add(peers, 1, id_pk[1]) == SIGIL_OK);
    REQUIRE(sigil_env_peers_add(peers, 2, id_pk[2]) == SIGIL_OK);
    CHECK_EQ(sigil_env_peers_add(peers, 2, id_pk[2]), SIGIL_E_EXISTS);
    sigil_env_key *k1 = mkkey(1, 1), *k2 = mkkey(2, 2);
    /* a key certified by the wrong identity cannot be used */
    sigil_env_key *bad = mkkey(1, 0);
    uint8_t sid[32], sid2[32];
    randombytes_buf(sid, 32);
    randombytes_buf(sid2, 32);
    const uint8_t body[] = "secret share bytes";
    sigil_env_header h = {sid, 32, 2, 1, 2, SIGIL_ENV_DATA};
    sigil_buf p, out;
    REQUIRE(sigil_buf_init(&p, 1 << 20, 0) == SIGIL_OK);
    REQUIRE(sigil_buf_init(&out, 1 << 20, SIGIL_BUF_SECRET) == SIGIL_OK);
    CHECK_EQ(sigil_env_seal(bad, &h, body, sizeof body, NULL, &p), SIGIL_E_INVALID);

    /* plain (signed) */
    REQUIRE(sigil_env_seal(k1, &h, body, sizeof body, NULL, &p) == SIGIL_OK);
    CHECK_EQ(sigil_env_open(peers, NULL, &h, p.data, p.size, &out, NULL), SIGIL_OK);
    CHECK(out.size == sizeof body && memcmp(out.data, body, sizeof body) == 0);
    /* every header field is bound */
    sigil_env_header x;
    x = h; x.session_id = sid2;
    CHECK_EQ(sigil_env_open(peers, NULL, &x, p.data, p.size, &out, NULL), SIGIL_E_SIGNATURE);
    x = h; x.round = 3;
    CHECK_EQ(sigil_env_open(peers, NULL, &x, p.data, p.size, &out, NULL), SIGIL_E_SIGNATURE);
    x = h; x.to = 0;
    CHECK_EQ(sigil_env_open(peers, NULL, &x, p.data, p.size, &out, NULL), SIGIL_E_SIGNATURE);
    x = h; x.kind = SIGIL_ENV_ECHO;
    CHECK_EQ(sigil_env_open(peers, NULL, &x, p.data, p.size, &out, NULL), SIGIL_E_SIGNATURE);
    x = h; x.from = 2; x.to = 1; /* node 2 cannot claim node 1's envelope */
    CHECK_EQ(sigil_env_open(peers, NULL, &x, p.data, p.size, &out, NULL), SIGIL_E_PARTICIPANT);
    x = h; x.from = 7;
    CHECK_EQ(sigil_env_open(peers, NULL, &x, p.data, p.size, &out, NULL), SIGIL_E_PARTICIPANT);
    x = h; x.kind = 9;
    CHECK_EQ(sigil_env_open(peers, NULL, &x, p.data, p.size, &out, NULL), SIGIL_E_ENCODING);
    x = h; x.session_id_len = 31;
    CHECK_EQ(sigil_env_open(peers, NULL, &x, p.data, p.size, &out, NULL), SIGIL_E_ENCODING);
    /* every bit of every byte, every truncation, one byte more */
    uint8_t *c = malloc(p.size + 1);
    int all = 1;
    for (size_t i = 0; i < p.size; i++)
        for (int b = 0; b < 8; b++) {
            memcpy(c, p.data, p.size);
            c[i] ^= (uint8_t)(1u << b);
            if (sigil_env_open(peers, NULL, &h, c, p.size, &out, NULL) == SIGIL_OK)
                all = 0;
        }
    CHECK(all);
    all = 1;
    for (size_t n = 0; n < p.size; n++)
        if (sigil_env_open(peers, NULL, &h, p.data, n, &out, NULL) == SIGIL_OK)
            all = 0;
    memcpy(c, p.data, p.size);
    c[p.size] = 0;
    CHECK_EQ(sigil_env_open(peers, NULL, &h, c, p.size + 1, &out, NULL), SIGIL_E_TRAILING);
    CHECK(all);
    CHECK_EQ(out.size, sizeof body); /* nothing appended by the failures */
    free(c);

    /* encrypted to node 2 */
    uint8_t box2[32];
    sigil_env_key_box_pk(k2, box2);
    sigil_buf_reset(&p);
    sigil_buf_reset(&out);
    REQUIRE(sigil_env_seal(k1, &h, body, sizeof body, box2, &p) == SIGIL_OK);
    int found = 0;
    for (size_t i = 0; i + sizeof body - 1 <= p.size; i++)
        if (!memcmp(p.data + i, body, sizeof body - 1))
            found = 1;
    CHECK(!found);
    CHECK_EQ(sigil_env_open(peers, NULL, &h, p.data, p.size, &out, NULL), SIGIL_E_INVALID);
    CHECK_EQ(sigil_env_open(peers, k1, &h, p.data, p.size, &out, NULL), SIGIL_E_INVALID);
    uint8_t sbox[32];
    CHECK_EQ(sigil_env_open(peers, k2, &h, p.data, p.size, &out, sbox), SIGIL_OK);
    CHECK(out.size == sizeof body && memcmp(out.data, body, sizeof body) == 0);
    uint8_t box1[32];
    sigil_env_key_box_pk(k1, box1);
    CHECK(memcmp(sbox, box1, 32) == 0);
    /* encrypted to someone else's box key: signature fine, decryption fails */
    sigil_buf_reset(&p);
    sigil_buf_reset(&out);
    REQUIRE(sigil_env_seal(k1, &h, body, sizeof body, box1, &p) == SIGIL_OK);
    CHECK_EQ(sigil_env_open(peers, k2, &h, p.data, p.size, &out, NULL), SIGIL_E_UNSEAL);
    CHECK_EQ(out.size, 0);
    /* broadcasts are never encrypted */
    x = h; x.to = 0;
    CHECK_EQ(sigil_env_seal(k1, &x, body, sizeof body, box2, &p), SIGIL_E_INVALID);
    /* a key may only seal as its own node */
    x = h; x.from = 2; x.to = 1;
    CHECK_EQ(sigil_env_seal(k1, &x, body, sizeof body, NULL, &p), SIGIL_E_INVALID);

    /* bodies */
    sigil_buf b;
    REQUIRE(sigil_buf_init(&b, 4096, 0) == SIGIL_OK);
    uint8_t cm[65];
    randombytes_buf(cm, sizeof cm);
    REQUIRE(sigil_env_commitment_encode(1, "key-1", 42, cm, sizeof cm, &b) == SIGIL_OK);
    sigil_env_commitment co;
    CHECK_EQ(sigil_env_commitment_decode(&co, b.data, b.size), SIGIL_OK);
    CHECK(co.scheme == 1 && co.entry_id == 42 && !strcmp(co.key_id, "key-1") &&
          co.commitment_len == 65 && !memcmp(co.commitment, cm, 65));
    for (size_t n = 0; n < b.size; n++)
        CHECK(sigil_env_commitment_decode(&co, b.data, n) != SIGIL_OK);
    CHECK_EQ(sigil_env_commitment_encode(1, "", 42, cm, sizeof cm, &b), SIGIL_E_INVALID);
    sigil_buf_reset(&b);
    REQUIRE(sigil_env_commitment_encode(1, "bad key", 42, cm, sizeof cm, &b) == SIGIL_OK);
    CHECK_EQ(sigil_env_commitment_decode(&co, b.data, b.size), SIGIL_E_ENCODING);

    sigil_buf_reset(&b);
    REQUIRE(sigil_buf_put_u16(&b, 1) == 0 && sigil_buf_put_string(&b, "k", 1) == 0 &&
            sigil_buf_put_u32(&b, 2) == 0 && sigil_buf_put_u64(&b, 7) == 0 &&
            sigil_buf_put_string(&b, cm, 64) == 0 && sigil_buf_put_string(&b, cm, 32) == 0 &&
            sigil_buf_put_u64(&b, 8) == 0 && sigil_buf_put_string(&b, cm, 64) == 0 &&
            sigil_buf_put_string(&b, cm, 0) == 0);
    sigil_env_sign_result sr;
    CHECK_EQ(sigil_env_sign_result_decode(&sr, b.data, b.size), SIGIL_OK);
    CHECK(sr.count == 2 && sr.entry_ids[1] == 8 && sr.shares[0].size == 64);
    CHECK(sr.rs[0].size == 32 && !memcmp(sr.rs[0].data, cm, 32) && sr.rs[1].size == 0);
    sigil_env_sign_result_free(&sr);
    for (size_t n = 0; n < b.size; n++)
        CHECK(sigil_env_sign_result_decode(&sr, b.data, n) != SIGIL_OK);
    {   /* an R longer than any group element is refused */
        sigil_buf big;
        REQUIRE(sigil_buf_init(&big, 4096, 0) == 0);
        REQUIRE(sigil_buf_put_u16(&big, 1) == 0 && sigil_buf_put_string(&big, "k", 1) == 0 &&
                sigil_buf_put_u32(&big, 1) == 0 && sigil_buf_put_u64(&big, 7) == 0 &&
                sigil_buf_put_string(&big, cm, 64) == 0 && sigil_buf_put_string(&big, cm, 34) == 0);
        CHECK(sigil_env_sign_result_decode(&sr, big.data, big.size) != SIGIL_OK);
        sigil_buf_free(&big);
    }
    b.data[7] = 0xff; /* count far above the limit */
    CHECK_EQ(sigil_env_sign_result_decode(&sr, b.data, b.size), SIGIL_E_TOO_LARGE);

    sigil_buf_reset(&b);
    uint8_t conf[1 + 32 + 32 + 32];
    memset(conf, 0, sizeof conf);
    conf[0] = 3;
    REQUIRE(sigil_env_dkg_result_encode(1, "k", cm, 32, cm, 10, conf, sizeof conf, &b) == SIGIL_OK);
    sigil_env_dkg_result dr;
    CHECK_EQ(sigil_env_dkg_result_decode(&dr, b.data, b.size), SIGIL_OK);
    CHECK(dr.transcript_hash == dr.confirmation + 33);
    b.data[b.size - sizeof conf] = 2; /* not a confirmation */
    CHECK_EQ(sigil_env_dkg_result_decode(&dr, b.data, b.size), SIGIL_E_ENCODING);

    sigil_buf_free(&b);
    sigil_buf_free(&p);
    sigil_buf_free(&out);
    sigil_env_key_free(k1);
    sigil_env_key_free(k2);
    sigil_env_key_free(bad);
    sigil_env_peers_free(peers);
    return check_done();
}
