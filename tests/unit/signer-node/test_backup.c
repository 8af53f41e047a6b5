/* sigil/backup.h: officer key lists, params hashes, backup sections (node
 * identity signature over every byte), piece plaintexts, restore pieces
 * (officer signature, one recipient, bound fields). */
#include <string.h>

#include <sodium.h>

#include "check.h"
#include "sigil/backup.h"
#include "sigil/dealing.h"
#include "sigil/err.h"

static uint8_t id_pk[3][32], id_sk[3][64];

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

int main(void)
{
    REQUIRE(sigil_mpc_init() == SIGIL_OK);
    for (int i = 0; i < 3; i++)
        crypto_sign_keypair(id_pk[i], id_sk[i]);

    /* officer lists: ascending names, round trip, hash binds everything */
    sigil_backup_key keys[3], back[SIGIL_BACKUP_MAX_OFFICERS];
    const char *names[3] = {"carol", "dave", "erin"};
    for (int i = 0; i < 3; i++) {
        memset(&keys[i], 0, sizeof keys[i]);
        strcpy(keys[i].name, names[i]);
        randombytes_buf(keys[i].mod, 384);
        keys[i].modlen = 384;
        keys[i].exp[0] = 1, keys[i].exp[1] = 0, keys[i].exp[2] = 1;
        keys[i].explen = 3;
        randombytes_buf(keys[i].sig, 64);
    }
    sigil_buf enc;
    REQUIRE(sigil_buf_init(&enc, 65536, 0) == SIGIL_OK);
    CHECK_EQ(sigil_backup_officers_encode(keys, 3, &enc), SIGIL_OK);
    size_t m = 0;
    CHECK_EQ(sigil_backup_officers_decode(enc.data, enc.size, back, &m), SIGIL_OK);
    CHECK(m == 3 && !strcmp(back[2].name, "erin") && back[1].modlen == 384 &&
          !memcmp(back[0].sig, keys[0].sig, 64));
    for (size_t n = 0; n < enc.size; n += 17)
        CHECK(sigil_backup_officers_decode(enc.data, n, back, &m) != SIGIL_OK);
    sigil_buf bad;
    REQUIRE(sigil_buf_init(&bad, 65536, 0) == SIGIL_OK);
    sigil_backup_key swapped[2] = {keys[1], keys[0]};
    CHECK_EQ(sigil_backup_officers_encode(swapped, 2, &bad), SIGIL_E_PARTICIPANT);
    sigil_buf_free(&bad);
    uint8_t h0[32], h[32];
    sigil_backup_params_hash("k", 2, enc.data, enc.size, h0);
    sigil_backup_params_hash("k", 3, enc.data, enc.size, h);
    CHECK(memcmp(h0, h, 32) != 0);
    sigil_backup_params_hash("j", 2, enc.data, enc.size, h);
    CHECK(memcmp(h0, h, 32) != 0);
    enc.data[10] ^= 1;
    sigil_backup_params_hash("k", 2, enc.data, enc.size, h);
    CHECK(memcmp(h0, h, 32) != 0);
    sigil_buf_free(&enc);

    /* piece plaintext: bound to key, node, version and index */
    uint8_t piece[32], out[32];
    randombytes_buf(piece, 32);
    sigil_buf pl;
    REQUIRE(sigil_buf_init(&pl, 256, SIGIL_BUF_SECRET) == SIGIL_OK);
    CHECK_EQ(sigil_backup_piece_plain("k", 3, 1, 2, piece, &pl), SIGIL_OK);
    CHECK_EQ(sigil_backup_piece_parse(pl.data, pl.size, "k", 3, 1, 2, out), SIGIL_OK);
    CHECK(memcmp(out, piece, 32) == 0);
    CHECK_EQ(sigil_backup_piece_parse(pl.data, pl.size, "k", 3, 1, 1, out), SIGIL_E_MISMATCH);
    CHECK_EQ(sigil_backup_piece_parse(pl.data, pl.size, "k", 2, 1, 2, out), SIGIL_E_MISMATCH);
    CHECK_EQ(sigil_backup_piece_parse(pl.data, pl.size, "x", 3, 1, 2, out), SIGIL_E_MISMATCH);
    CHECK_EQ(sigil_backup_piece_parse(pl.data, pl.size, "k", 3, 2, 2, out), SIGIL_E_MISMATCH);
    sigil_buf plain_ro;
    REQUIRE(sigil_buf_init(&plain_ro, 256, 0) == SIGIL_OK);
    CHECK_EQ(sigil_backup_piece_plain("k", 3, 1, 2, piece, &plain_ro), SIGIL_E_INVALID);
    sigil_buf_free(&plain_ro);
    sigil_buf_free(&pl);

    /* a section signed by node 1's identity key */
    const sigil_group *g = sigil_dealing_group(1);
    static sigil_backup_section s, d;
    memset(&s, 0, sizeof s);
    strcpy(s.key_id, "hot-ed");
    s.scheme = 1;
    s.node = 1;
    s.version = 1;
    uint8_t pkg[100], ct[3][384];
    randombytes_buf(pkg, sizeof pkg);
    s.package = pkg;
    s.package_len = sizeof pkg;
    s.k = 2;
    s.m = 3;
    for (int j = 0; j < 3; j++) {
        sigil_scalar x;
        strcpy(s.officer[j], names[j]);
        REQUIRE(sigil_scalar_random(g, &x) == SIGIL_OK);
        REQUIRE(sigil_point_base_mul(g, &s.V[j], &x) == SIGIL_OK);
        randombytes_buf(ct[j], sizeof ct[j]);
        s.ct[j] = ct[j];
        s.ct_len[j] = sizeof ct[j];
    }
    sigil_buf body, msg;
    REQUIRE(sigil_buf_init(&body, SIGIL_BACKUP_SECTION_MAX, 0) == SIGIL_OK);
    REQUIRE(sigil_buf_init(&msg, SIGIL_BACKUP_SECTION_MAX + 64, 0) == SIGIL_OK);
    CHECK_EQ(sigil_backup_section_body(&s, &body), SIGIL_OK);
    CHECK_EQ(sigil_backup_section_sign_message(body.data, body.size, &msg), SIGIL_OK);
    uint8_t sig[64];
    crypto_sign_detached(sig, NULL, msg.data, msg.size, id_sk[1]);
    REQUIRE(sigil_buf_put(&body, sig, 64) == SIGIL_OK);
    CHECK_EQ(sigil_backup_section_decode(&d, body.data, body.size), SIGIL_OK);
    CHECK_EQ(sigil_backup_section_verify(&d, id_pk[1]), SIGIL_OK);
    CHECK_EQ(sigil_backup_section_verify(&d, id_pk[2]), SIGIL_E_SIGNATURE);
    CHECK(d.k == 2 && d.m == 3 && !strcmp(d.officer[1], "dave") && sigil_point_eq(g, &d.V[2], &s.V[2]) &&
          d.ct_len[0] == 384 && d.package_len == sizeof pkg);
    for (size_t i = 0; i < body.size; i += 3) {
        body.data[i] ^= 0x01;
        int rc = sigil_backup_section_decode(&d, body.data, body.size);
        if (rc == SIGIL_OK)
            rc = sigil_backup_section_verify(&d, id_pk[1]);
        CHECK(rc != SIGIL_OK);
        body.data[i] ^= 0x01;
    }
    for (size_t n = 0; n < body.size; n += 11) {
        int rc = sigil_backup_section_decode(&d, body.data, n);
        if (rc == SIGIL_OK)
            rc = sigil_backup_section_verify(&d, id_pk[1]);
        CHECK(rc != SIGIL_OK);
    }
    uint8_t r0[32], r1[32];
    sigil_backup_restore_params_hash("hot-ed", 3, body.data, body.size, r0);
    sigil_backup_restore_params_hash("hot-ed", 2, body.data, body.size, r1);
    CHECK(memcmp(r0, r1, 32) != 0);
    sigil_backup_restore_params_hash("hot-ed", 3, body.data, body.size - 1, r1);
    CHECK(memcmp(r0, r1, 32) != 0);
    s.k = 4;
    sigil_buf_reset(&body);
    CHECK_EQ(sigil_backup_section_body(&s, &body), SIGIL_E_INVALID);
    s.k = 2;
    s.scheme = 5; /* no such scheme (1-3 FROST, 4 ECDSA) */
    CHECK_EQ(sigil_backup_section_body(&s, &body), SIGIL_E_INVALID);
    /* an ECDSA section (x_i only): V_j on secp256k1, round trip; a section
     * whose scheme is changed to ECDSA no longer decodes (its V_j are
     * Ed25519 encodings) */
    {
        const sigil_group *ge = sigil_dealing_group(4);
        static sigil_backup_section e;
        e = s;
        e.scheme = 4;
        for (int j = 0; j < 3; j++) {
            sigil_scalar x;
            REQUIRE(sigil_scalar_random(ge, &x) == SIGIL_OK);
            REQUIRE(sigil_point_base_mul(ge, &e.V[j], &x) == SIGIL_OK);
        }
        sigil_buf eb;
        REQUIRE(sigil_buf_init(&eb, SIGIL_BACKUP_SECTION_MAX, 0) == SIGIL_OK);
        CHECK_EQ(sigil_backup_section_body(&e, &eb), SIGIL_OK);
        REQUIRE(sigil_buf_put(&eb, sig, 64) == SIGIL_OK);
        CHECK_EQ(sigil_backup_section_decode(&d, eb.data, eb.size), SIGIL_OK);
        CHECK(d.scheme == 4 && sigil_point_eq(ge, &d.V[1], &e.V[1]) && d.m == 3);
        sigil_buf_reset(&eb);
        s.scheme = 1;
        CHECK_EQ(sigil_backup_section_body(&s, &eb), SIGIL_OK);
        eb.data[5 + 4 + strlen(s.key_id) + 1] = 4; /* u16 scheme 1 -> 4 */
        REQUIRE(sigil_buf_put(&eb, sig, 64) == SIGIL_OK);
        CHECK(sigil_backup_section_decode(&d, eb.data, eb.size) != SIGIL_OK);
        sigil_buf_free(&eb);
    }
    sigil_buf_free(&body);
    sigil_buf_free(&msg);

    /* a restore piece from officer dave (key id_sk[0]) for node 2 */
    sigil_env_key *k2 = mkkey(2), *k1 = mkkey(1);
    uint8_t box[32], sh[32];
    sigil_env_key_box_pk(k2, box);
    randombytes_buf(sh, 32);
    sigil_buf rp, rm;
    REQUIRE(sigil_buf_init(&rp, SIGIL_BACKUP_PIECE_MAX, 0) == SIGIL_OK);
    REQUIRE(sigil_buf_init(&rm, SIGIL_BACKUP_PIECE_MAX + 64, 0) == SIGIL_OK);
    CHECK_EQ(sigil_restore_piece_body("dave", 2, sh, "hot-ed", 2, piece, box, &rp), SIGIL_OK);
    CHECK_EQ(sigil_restore_piece_sign_message(rp.data, rp.size, &rm), SIGIL_OK);
    crypto_sign_detached(sig, NULL, rm.data, rm.size, id_sk[0]);
    REQUIRE(sigil_buf_put(&rp, sig, 64) == SIGIL_OK);
    sigil_restore_piece r;
    CHECK_EQ(sigil_restore_piece_decode(&r, rp.data, rp.size), SIGIL_OK);
    CHECK(r.j == 2 && !strcmp(r.officer, "dave") && !memcmp(r.stmt_hash, sh, 32));
    CHECK_EQ(sigil_restore_piece_verify(&r, id_pk[0]), SIGIL_OK);
    CHECK_EQ(sigil_restore_piece_verify(&r, id_pk[1]), SIGIL_E_SIGNATURE);
    CHECK_EQ(sigil_restore_piece_open(&r, k2, "hot-ed", 2, out), SIGIL_OK);
    CHECK(memcmp(out, piece, 32) == 0);
    CHECK_EQ(sigil_restore_piece_open(&r, k1, "hot-ed", 2, out), SIGIL_E_UNSEAL);
    CHECK_EQ(sigil_restore_piece_open(&r, k2, "hot-ed", 3, out), SIGIL_E_MISMATCH);
    CHECK_EQ(sigil_restore_piece_open(&r, k2, "other", 2, out), SIGIL_E_MISMATCH);
    sigil_restore_piece r2 = r;
    r2.j = 1; /* the index is bound inside the ciphertext too */
    CHECK_EQ(sigil_restore_piece_open(&r2, k2, "hot-ed", 2, out), SIGIL_E_MISMATCH);
    for (size_t i = 0; i < rp.size; i++) {
        rp.data[i] ^= 0x80;
        sigil_restore_piece x;
        int rc = sigil_restore_piece_decode(&x, rp.data, rp.size);
        if (rc == SIGIL_OK)
            rc = sigil_restore_piece_verify(&x, id_pk[0]);
        CHECK(rc != SIGIL_OK);
        rp.data[i] ^= 0x80;
    }
    sigil_buf_free(&rp);
    sigil_buf_free(&rm);
    sigil_env_key_free(k1);
    sigil_env_key_free(k2);
    return check_done();
}
