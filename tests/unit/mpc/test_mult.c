/* The DKLs23 random vector OLE (sigil/mult.h) over a real OT pair setup:
 * correctness c_i + d_i = a_i * b, Bob's consistency check against a
 * tampering Alice (every field of message 2), a tampering Bob (message 1,
 * caught by the OT extension check), misbinding (sid) and truncation. */
#include <sodium.h>
#include <string.h>

#include "check.h"
#include "sigil/err.h"
#include "sigil/group.h"
#include "sigil/mult.h"
#include "sigil/ot.h"

static const sigil_group *g;
static sigil_ot_sender *snd;
static sigil_ot_receiver *rcv;

static void pair_setup(void)
{
    sigil_buf m1, m2, m3;
    sigil_ot_setup *rs, *ss;
    static const uint8_t sid[] = "test-mult-setup";
    REQUIRE(sigil_buf_init(&m1, 1 << 20, 0) == SIGIL_OK);
    REQUIRE(sigil_buf_init(&m2, 1 << 20, 0) == SIGIL_OK);
    REQUIRE(sigil_buf_init(&m3, 1 << 20, 0) == SIGIL_OK);
    REQUIRE(sigil_ot_setup_receiver_start(&rs, sid, sizeof sid, 1, 2, &m1) == SIGIL_OK);
    REQUIRE(sigil_ot_setup_sender_respond(&ss, sid, sizeof sid, 1, 2, m1.data, m1.size, &m2) ==
            SIGIL_OK);
    REQUIRE(sigil_ot_setup_receiver_finish(rs, m2.data, m2.size, &m3, &rcv) == SIGIL_OK);
    REQUIRE(sigil_ot_setup_sender_finish(ss, m3.data, m3.size, &snd) == SIGIL_OK);
    sigil_buf_free(&m1);
    sigil_buf_free(&m2);
    sigil_buf_free(&m3);
}

/* Run one multiplication; tamper hooks flip byte `off` of message 1 or 2
 * (off < 0: no tampering). Returns Bob's (or Alice's) error code. */
static int run(const char *sidstr, int tamper1, int tamper2, sigil_scalar a[2], sigil_scalar c[2],
               sigil_scalar d[2], sigil_scalar *b)
{
    sigil_buf m1, m2;
    sigil_mult_bob *bob;
    int rc;
    REQUIRE(sigil_buf_init(&m1, 1 << 20, 0) == SIGIL_OK);
    REQUIRE(sigil_buf_init(&m2, 1 << 20, 0) == SIGIL_OK);
    REQUIRE(sigil_scalar_random(g, &a[0]) == SIGIL_OK);
    REQUIRE(sigil_scalar_random(g, &a[1]) == SIGIL_OK);
    REQUIRE(sigil_mult_bob_start(&bob, rcv, (const uint8_t *)sidstr, strlen(sidstr), b, &m1) ==
            SIGIL_OK);
    if (tamper1 >= 0)
        m1.data[(size_t)tamper1 % m1.size] ^= 0x01;
    rc = sigil_mult_alice(snd, (const uint8_t *)sidstr, strlen(sidstr), a, m1.data, m1.size, c, &m2);
    if (rc != SIGIL_OK) {
        sigil_mult_bob_free(bob);
        goto out;
    }
    if (tamper2 >= 0)
        m2.data[(size_t)tamper2 % m2.size] ^= 0x01;
    rc = sigil_mult_bob_finish(bob, m2.data, m2.size, d);
out:
    sigil_buf_free(&m1);
    sigil_buf_free(&m2);
    return rc;
}

static int product_ok(const sigil_scalar a[2], const sigil_scalar c[2], const sigil_scalar d[2],
                      const sigil_scalar *b)
{
    int ok = 1;
    for (int i = 0; i < 2; i++) {
        sigil_scalar ab, cd;
        sigil_scalar_mul(g, &ab, &a[i], b);
        sigil_scalar_add(g, &cd, &c[i], &d[i]);
        ok &= sigil_scalar_eq(&ab, &cd);
    }
    return ok;
}

int main(void)
{
    REQUIRE(sigil_mpc_init() == SIGIL_OK);
    g = sigil_group_get(SIGIL_GROUP_SECP256K1);
    pair_setup();
    sigil_scalar a[2], c[2], d[2], b;
    char sid[64];

    /* correctness over several runs */
    for (int i = 0; i < 5; i++) {
        snprintf(sid, sizeof sid, "mult-ok-%d", i);
        CHECK_EQ(run(sid, -1, -1, a, c, d, &b), SIGIL_OK);
        CHECK(product_ok(a, c, d, &b));
        CHECK(!sigil_scalar_is_zero(&b));
    }

    /* Alice tampers with gamma, u or rt (bytes 1..128 of message 2): all
     * are caught by Bob's check (gamma is hashed into the challenge). */
    {
        int caught = 0;
        static const int offs[] = {1, 10, 33, 65, 80, 96, 97, 100, 127, 128};
        for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
            snprintf(sid, sizeof sid, "mult-t2-%zu", i);
            int rc = run(sid, -1, offs[i], a, c, d, &b);
            caught += rc == SIGIL_E_CHECK;
            CHECK(rc == SIGIL_E_CHECK || rc == SIGIL_E_SCALAR);
            CHECK(sodium_is_zero(d[0].v, 32) && sodium_is_zero(d[1].v, 32));
        }
        CHECK(caught >= 8);
        /* the tag */
        CHECK_EQ(run("mult-tag", -1, 0, a, c, d, &b), SIGIL_E_VERSION);
    }

    /* Alice tampers with the OT correlation corrections (inside the OT
     * message 2): a changed row with beta_j = 1 breaks the check; and since
     * the whole OT message is hashed into the challenge, a row with
     * beta_j = 0 is caught too. Never a wrong product without an abort. */
    {
        int caught = 0, fine = 0;
        for (int i = 0; i < 20; i++) {
            snprintf(sid, sizeof sid, "mult-ot2-%d", i);
            /* the OT message 2 starts after 1 + 3*32 + 32 bytes */
            int off = 129 + 200 + i * 997;
            int rc = run(sid, -1, off, a, c, d, &b);
            if (rc == SIGIL_OK) {
                CHECK(product_ok(a, c, d, &b));
                fine++;
            } else {
                caught++;
            }
        }
        CHECK_EQ(caught, 20);
        printf("OT correction tampering: %d caught, %d harmless\n", caught, fine);
    }

    /* Bob tampers with message 1: the OT extension check (at Alice) or the
     * binding rejects it; never a silent wrong product. A failed extension
     * check burns Alice's sender state (ot.h): every later use is refused
     * until a new setup. */
    {
        int burned = 0;
        for (int i = 0; i < 8; i++) {
            snprintf(sid, sizeof sid, "mult-t1-%d", i);
            int rc = run(sid, i * 811 + 3, -1, a, c, d, &b);
            CHECK(rc != SIGIL_OK);
            CHECK(sodium_is_zero(c[0].v, 32) && sodium_is_zero(c[1].v, 32));
            if (rc == SIGIL_E_CHECK || rc == SIGIL_E_USED)
                burned = 1;
        }
        CHECK(burned);
        if (burned) {
            CHECK(sigil_ot_sender_is_burned(snd));
            CHECK_EQ(run("after-burn", -1, -1, a, c, d, &b), SIGIL_E_USED);
        }
        sigil_ot_sender_free(snd);
        sigil_ot_receiver_free(rcv);
        pair_setup();
    }

    /* truncated message 2, and message 2 from another session */
    {
        sigil_buf m1, m2, m1b, m2b;
        sigil_mult_bob *bob, *bob2;
        REQUIRE(sigil_buf_init(&m1, 1 << 20, 0) == SIGIL_OK);
        REQUIRE(sigil_buf_init(&m2, 1 << 20, 0) == SIGIL_OK);
        REQUIRE(sigil_buf_init(&m1b, 1 << 20, 0) == SIGIL_OK);
        REQUIRE(sigil_buf_init(&m2b, 1 << 20, 0) == SIGIL_OK);
        REQUIRE(sigil_mult_bob_start(&bob, rcv, (const uint8_t *)"s1", 2, &b, &m1) == SIGIL_OK);
        REQUIRE(sigil_mult_alice(snd, (const uint8_t *)"s1", 2, a, m1.data, m1.size, c, &m2) ==
                SIGIL_OK);
        CHECK(sigil_mult_bob_finish(bob, m2.data, m2.size - 1, d) != SIGIL_OK);
        /* Alice answering under another sid: rejected by the OT binding */
        REQUIRE(sigil_mult_bob_start(&bob2, rcv, (const uint8_t *)"s2", 2, &b, &m1b) == SIGIL_OK);
        CHECK(sigil_mult_alice(snd, (const uint8_t *)"s3", 2, a, m1b.data, m1b.size, c, &m2b) !=
              SIGIL_OK);
        CHECK_EQ(m2b.size, 0);
        /* Bob given a message 2 for another session */
        CHECK(sigil_mult_bob_finish(bob2, m2.data, m2.size, d) != SIGIL_OK);
        sigil_buf_free(&m1);
        sigil_buf_free(&m2);
        sigil_buf_free(&m1b);
        sigil_buf_free(&m2b);
    }
    sigil_ot_sender_free(snd);
    sigil_ot_receiver_free(rcv);
    return check_done();
}
