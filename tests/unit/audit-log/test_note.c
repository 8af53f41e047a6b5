/* Signed notes and checkpoints: the Go reference key and signature
 * (interop), checkpoint sign/verify, every tampering rejected. */
#include <sodium.h>
#include <string.h>

#include "check.h"
#include "sigil/audit.h"
#include "sigil/err.h"

/* golang.org/x/mod/sumdb/note test key, text and signature. */
static const char *go_vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
static const char *go_skey = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
static const char *go_text = "If you think cryptography is the answer to your problem,\n"
                             "then you don't know what your problem is.\n";
static const char *go_sig = "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=";

static int failing_sign(void *ctx, const uint8_t *m, size_t n, uint8_t sig[64])
{
    (void)ctx, (void)m, (void)n;
    memset(sig, 0, 64);
    return SIGIL_E_UNAVAILABLE;
}

static int lying_sign(void *ctx, const uint8_t *m, size_t n, uint8_t sig[64])
{
    (void)ctx, (void)m, (void)n;
    memset(sig, 0x11, 64);
    return SIGIL_OK;
}

int main(void)
{
    REQUIRE(sodium_init() >= 0);
    sigil_audit_signer s, s2;
    char name[SIGIL_AUDIT_NAME_MAX + 1], vk[256], sk[256];
    uint8_t pub[32];

    /* Interop with the Go note package. */
    REQUIRE(sigil_audit_skey_parse(go_skey, &s) == SIGIL_OK);
    CHECK_EQ(sigil_audit_vkey_format(s.name, s.pub, vk, sizeof(vk)), SIGIL_OK);
    CHECK(strcmp(vk, go_vkey) == 0);
    CHECK_EQ(sigil_audit_key_id("PeterNeumann", s.pub), 0xc74f20a3);
    CHECK_EQ(sigil_audit_vkey_parse(go_vkey, name, pub), SIGIL_OK);
    CHECK(strcmp(name, "PeterNeumann") == 0 && memcmp(pub, s.pub, 32) == 0);
    uint8_t sig[68];
    char b64[128];
    sig[0] = 0xc7, sig[1] = 0x4f, sig[2] = 0x20, sig[3] = 0xa3;
    CHECK_EQ(s.sign(s.ctx, (const uint8_t *)go_text, strlen(go_text), sig + 4), SIGIL_OK);
    sodium_bin2base64(b64, sizeof(b64), sig, 68, sodium_base64_VARIANT_ORIGINAL);
    CHECK(strcmp(b64, go_sig) == 0);
    /* Manglings of the verifier key are refused. */
    char bad[256];
    snprintf(bad, sizeof(bad), "%s", go_vkey);
    bad[14] = bad[14] == '0' ? '1' : '0'; /* key id digit */
    CHECK(sigil_audit_vkey_parse(bad, name, pub) != SIGIL_OK);
    CHECK(sigil_audit_vkey_parse("PeterNeumann+c74f20a3", name, pub) != SIGIL_OK);
    CHECK(sigil_audit_vkey_parse("+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", name, pub) != SIGIL_OK);
    sigil_audit_signer_free(&s);

    /* Checkpoints. */
    REQUIRE(sigil_audit_keygen("sigil.test/log", sk, sizeof(sk), vk, sizeof(vk)) == SIGIL_OK);
    REQUIRE(sigil_audit_skey_parse(sk, &s) == SIGIL_OK);
    REQUIRE(sigil_audit_vkey_parse(vk, name, pub) == SIGIL_OK);
    CHECK(memcmp(pub, s.pub, 32) == 0);
    sigil_audit_checkpoint cp, got;
    memset(&cp, 0, sizeof(cp));
    strcpy(cp.origin, "sigil.test/log");
    cp.size = 123456;
    memset(cp.root, 0xa5, 32);
    sigil_buf note;
    REQUIRE(sigil_buf_init(&note, SIGIL_AUDIT_NOTE_MAX, 0) == SIGIL_OK);
    CHECK_EQ(sigil_audit_checkpoint_sign(&cp, &s, &note), SIGIL_OK);
    CHECK_EQ(sigil_audit_checkpoint_verify(note.data, note.size, name, pub, &got), SIGIL_OK);
    CHECK(got.size == cp.size && memcmp(got.root, cp.root, 32) == 0 && !strcmp(got.origin, cp.origin));
    CHECK(memcmp(note.data, "sigil.test/log\n123456\npaWl", 26) == 0);

    /* Every byte flipped: rejected. */
    int accepted = 0;
    for (size_t i = 0; i < note.size; i++) {
        uint8_t t[SIGIL_AUDIT_NOTE_MAX];
        memcpy(t, note.data, note.size);
        t[i] ^= 0x01;
        if (sigil_audit_checkpoint_verify(t, note.size, name, pub, &got) == SIGIL_OK)
            accepted++;
    }
    CHECK_EQ(accepted, 0);
    /* Truncated anywhere: rejected. */
    for (size_t i = 0; i < note.size; i++)
        if (sigil_audit_checkpoint_verify(note.data, i, name, pub, &got) == SIGIL_OK)
            accepted++;
    CHECK_EQ(accepted, 0);

    /* Another key: its signature is ignored, so NOT_FOUND; with ours added
     * too, ours is found and verifies. */
    REQUIRE(sigil_audit_keygen("sigil.test/log", sk, sizeof(sk), vk, sizeof(vk)) == SIGIL_OK);
    REQUIRE(sigil_audit_skey_parse(sk, &s2) == SIGIL_OK);
    sigil_buf other;
    REQUIRE(sigil_buf_init(&other, SIGIL_AUDIT_NOTE_MAX, 0) == SIGIL_OK);
    CHECK_EQ(sigil_audit_checkpoint_sign(&cp, &s2, &other), SIGIL_OK);
    CHECK_EQ(sigil_audit_checkpoint_verify(other.data, other.size, name, pub, &got), SIGIL_E_NOT_FOUND);
    /* Cosigned note: text + both signature lines. */
    uint8_t both[SIGIL_AUDIT_NOTE_MAX];
    const uint8_t *l2 = (const uint8_t *)strstr((const char *)other.data, "\n\n") + 2;
    size_t n1 = note.size, n2 = other.size - (size_t)(l2 - other.data);
    memcpy(both, note.data, n1);
    memcpy(both + n1, l2, n2);
    CHECK_EQ(sigil_audit_checkpoint_verify(both, n1 + n2, name, pub, &got), SIGIL_OK);
    /* Our key name with the other key's signature bytes: SIGNATURE. */
    uint8_t forged[SIGIL_AUDIT_NOTE_MAX];
    const char *ours = strstr((const char *)note.data, "\n\n") + 2;
    size_t text = (size_t)(ours - (const char *)note.data);
    memcpy(forged, note.data, note.size);
    /* flip a byte inside the base64 signature body, after the key id */
    forged[note.size - 10] = forged[note.size - 10] == 'A' ? 'B' : 'A';
    CHECK_EQ(sigil_audit_checkpoint_verify(forged, note.size, name, pub, &got), SIGIL_E_SIGNATURE);
    (void)text;
    /* Malformed checkpoints. */
    const char *m[] = {"x\n", "o\n\n— a AAAA\n", "o\n01\n" "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n— a AAAAAAAA\n",
                       "o\n1\nAAAA\n\n— a AAAAAAAA\n", "o\n1\n" "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n",
                       "o\n99999999999999999999\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n— a AAAAAAAA\n"};
    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
        CHECK_EQ(sigil_audit_checkpoint_verify((const uint8_t *)m[i], strlen(m[i]), name, pub, &got),
                 SIGIL_E_ENCODING);

    /* Signer failures are passed through; a signer returning a signature
     * that does not verify is caught before anything is published. */
    sigil_audit_signer f = s;
    f.sign = failing_sign;
    sigil_buf_reset(&note);
    CHECK_EQ(sigil_audit_checkpoint_sign(&cp, &f, &note), SIGIL_E_UNAVAILABLE);
    f.sign = lying_sign;
    CHECK_EQ(sigil_audit_checkpoint_sign(&cp, &f, &note), SIGIL_E_SIGNATURE);
    CHECK_EQ(note.size, 0);
    CHECK_EQ(sigil_audit_signer_sodium(&f, "bad name", pub), SIGIL_E_INVALID);
    CHECK_EQ(sigil_audit_signer_sodium(&f, "bad+name", pub), SIGIL_E_INVALID);

    sigil_buf_free(&note);
    sigil_buf_free(&other);
    sigil_audit_signer_free(&s);
    sigil_audit_signer_free(&s2);
    return check_done();
}
