/* Entry encoding: round trip, canonical form, every malformed input
 * rejected with its error, never a crash. */
#include <sodium.h>
#include <string.h>

#include "check.h"
#include "sigil/audit.h"
#include "sigil/err.h"

static void sample(sigil_audit_entry *e)
{
    memset(e, 0, sizeof(*e));
    e->version = SIGIL_AUDIT_ENTRY_VERSION;
    e->seq = 42;
    e->time_ms = 1795000000123ull;
    e->type = SIGIL_AUDIT_SIGN;
    e->actor_len = (uint8_t)strlen("CN=wallet-7,O=exchange");
    memcpy(e->actor, "CN=wallet-7,O=exchange", e->actor_len);
    e->key_id_len = 16;
    memset(e->key_id, 0xab, 16);
    e->scheme = SIGIL_AUDIT_SCHEME_BIP340;
    e->digest_len = 32;
    memset(e->digest, 0x5c, 32);
    e->outcome = SIGIL_AUDIT_OUTCOME_SIGNATURE;
    e->sig_len = 64;
    memset(e->sig, 0x77, 64);
    e->n_signers = 3;
    e->signers[0] = 1;
    e->signers[1] = 4;
    e->signers[2] = 9;
    e->request_id_len = 5;
    memcpy(e->request_id, "req-1", 5);
}

static int enc(const sigil_audit_entry *e, sigil_buf *b)
{
    sigil_buf_reset(b);
    return sigil_audit_entry_encode(e, b);
}

int main(void)
{
    REQUIRE(sodium_init() >= 0);
    sigil_audit_entry e, d;
    sigil_buf b, b2;
    REQUIRE(sigil_buf_init(&b, SIGIL_AUDIT_ENTRY_MAX, 0) == SIGIL_OK);
    REQUIRE(sigil_buf_init(&b2, SIGIL_AUDIT_ENTRY_MAX, 0) == SIGIL_OK);
    sample(&e);
    CHECK_EQ(enc(&e, &b), SIGIL_OK);
    CHECK_EQ(sigil_audit_entry_decode(b.data, b.size, &d), SIGIL_OK);
    CHECK(memcmp(&e, &d, sizeof(e)) == 0);

    /* Error outcome round trip. */
    sigil_audit_entry err = e;
    err.outcome = SIGIL_AUDIT_OUTCOME_ERROR;
    err.sig_len = 0;
    memset(err.sig, 0, sizeof(err.sig));
    err.error = SIGIL_E_HALTED;
    err.errmsg_len = 6;
    memcpy(err.errmsg, "halted", 6);
    CHECK_EQ(enc(&err, &b2), SIGIL_OK);
    CHECK_EQ(sigil_audit_entry_decode(b2.data, b2.size, &d), SIGIL_OK);
    CHECK(memcmp(&err, &d, sizeof(err)) == 0);

    /* Every truncation: TRUNCATED; one byte more: TRAILING. */
    int bad = 0;
    for (size_t n = 0; n < b.size; n++)
        if (sigil_audit_entry_decode(b.data, n, &d) != SIGIL_E_TRUNCATED)
            bad++;
    CHECK_EQ(bad, 0);
    uint8_t longer[SIGIL_AUDIT_ENTRY_MAX + 1];
    memcpy(longer, b.data, b.size);
    longer[b.size] = 0;
    CHECK_EQ(sigil_audit_entry_decode(longer, b.size + 1, &d), SIGIL_E_TRAILING);
    /* A failed decode leaves the output zeroed. */
    sigil_audit_entry zero;
    memset(&zero, 0, sizeof(zero));
    CHECK(memcmp(&d, &zero, sizeof(d)) == 0);

    /* Canonical: every single-byte change either is rejected or decodes to
     * an entry that encodes back to exactly the changed bytes. */
    bad = 0;
    for (size_t i = 0; i < b.size; i++)
        for (int bit = 0; bit < 8; bit++) {
            uint8_t t[SIGIL_AUDIT_ENTRY_MAX];
            memcpy(t, b.data, b.size);
            t[i] ^= (uint8_t)(1 << bit);
            if (sigil_audit_entry_decode(t, b.size, &d) == SIGIL_OK) {
                if (enc(&d, &b2) != SIGIL_OK || b2.size != b.size || memcmp(b2.data, t, b.size))
                    bad++;
            }
        }
    CHECK_EQ(bad, 0);

    /* Specific rejections, each with its code. */
    enc(&e, &b);
    uint8_t t[SIGIL_AUDIT_ENTRY_MAX];
    memcpy(t, b.data, b.size);
    t[0] = 2; /* version */
    CHECK_EQ(sigil_audit_entry_decode(t, b.size, &d), SIGIL_E_VERSION);
    memcpy(t, b.data, b.size);
    t[17] = 99; /* type */
    CHECK_EQ(sigil_audit_entry_decode(t, b.size, &d), SIGIL_E_VERSION);

    sigil_audit_entry x = e;
    x.signers[1] = 1; /* not strictly increasing */
    CHECK_EQ(enc(&x, &b2), SIGIL_E_INVALID);
    x = e;
    x.actor[0] = '\x1b'; /* terminal escape in a text field */
    CHECK_EQ(enc(&x, &b2), SIGIL_E_INVALID);
    x = err;
    x.error = 5; /* error outcome needs a negative code */
    CHECK_EQ(enc(&x, &b2), SIGIL_E_INVALID);
    x = e;
    x.key_id_len = SIGIL_AUDIT_KEYID_MAX + 1;
    CHECK_EQ(enc(&x, &b2), SIGIL_E_INVALID);
    x = e;
    x.outcome = SIGIL_AUDIT_OUTCOME_NONE; /* signature bytes without outcome */
    CHECK_EQ(enc(&x, &b2), SIGIL_E_INVALID);
    x = e;
    x.scheme = 9;
    CHECK_EQ(enc(&x, &b2), SIGIL_E_INVALID);

    /* Hand-made encodings the encoder would refuse are refused by decode. */
    x = e;
    x.n_signers = 2;
    x.signers[0] = 7;
    x.signers[1] = 3;
    enc(&e, &b);
    memcpy(t, b.data, b.size);
    /* signers start after ... | outcome 1 | u8 len | 64 sig ; find them */
    size_t so = b.size - 1 - 5 - 6 - 1; /* request(1+5), 3 signers(6), count(1) */
    CHECK_EQ(t[so], 3);
    t[so + 1] = 0;
    t[so + 2] = 9; /* 9, 4, 9: not increasing */
    CHECK_EQ(sigil_audit_entry_decode(t, b.size, &d), SIGIL_E_ENCODING);
    memcpy(t, b.data, b.size);
    t[so] = SIGIL_AUDIT_SIGNERS_MAX + 1;
    CHECK_EQ(sigil_audit_entry_decode(t, b.size, &d), SIGIL_E_ENCODING);

    /* Random garbage: never accepted unless canonical, never a crash. */
    bad = 0;
    for (int k = 0; k < 20000; k++) {
        size_t n = randombytes_uniform(200);
        randombytes_buf(t, n);
        t[0] = 1;
        if (sigil_audit_entry_decode(t, n, &d) == SIGIL_OK &&
            (enc(&d, &b2) != SIGIL_OK || b2.size != n || memcmp(b2.data, t, n)))
            bad++;
    }
    CHECK_EQ(bad, 0);
    CHECK(sigil_audit_type_from_name("sign") == SIGIL_AUDIT_SIGN);
    CHECK(sigil_audit_type_from_name("nope") == 0);
    CHECK(sigil_audit_type_name(0) == NULL);
    CHECK(!strcmp(sigil_audit_scheme_name(SIGIL_AUDIT_SCHEME_ECDSA), "ecdsa"));
    sigil_buf_free(&b);
    sigil_buf_free(&b2);
    return check_done();
}
