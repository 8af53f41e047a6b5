/* sigil_breaker: k-of-m approvals over a statement, used nonces on disk. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "check.h"
#include "sigil/breaker.h"
#include "sigil/err.h"
#include "sigil/group.h"
#include "sigil/file.h"
#include "sigil/rpc.h"
#include "sigil/v1/common.pb-c.h"

static uint8_t sk[4][64];
static sigil_breaker_officer off[3];

static void stmt(sigil_buf *b, const char *action, const char *cluster, uint64_t exp, uint64_t epoch,
                 size_t noncelen)
{
    Sigil__V1__ApprovalStatement s = SIGIL__V1__APPROVAL_STATEMENT__INIT;
    uint8_t nonce[40];
    randombytes_buf(nonce, sizeof nonce);
    s.action = (char *)action;
    s.cluster_id = (char *)cluster;
    s.nonce.data = nonce;
    s.nonce.len = noncelen;
    s.expires_unix = exp;
    s.halt_epoch = epoch;
    sigil_buf_reset(b);
    REQUIRE(sigil_rpc_pack(&s.base, b) == SIGIL_OK);
}

static void sign(const sigil_buf *b, int who, uint8_t sig[64])
{
    sigil_buf m;
    REQUIRE(sigil_buf_init(&m, 8192, 0) == SIGIL_OK);
    REQUIRE(sigil_breaker_approval_message(b->data, b->size, &m) == SIGIL_OK);
    crypto_sign_detached(sig, NULL, m.data, m.size, sk[who]);
    sigil_buf_free(&m);
}

int main(void)
{
    REQUIRE(sigil_mpc_init() == SIGIL_OK);
    const char *names[3] = {"alice", "bob", "carol"};
    for (int i = 0; i < 4; i++) {
        uint8_t pk[32];
        crypto_sign_keypair(pk, sk[i]);
        if (i < 3) {
            snprintf(off[i].name, sizeof off[i].name, "%s", names[i]);
            memcpy(off[i].pk, pk, 32);
        }
    }
    sigil_breaker_policy pol = {off, 3, 2, "prod", 600};
    uint64_t now = 1800000000;
    sigil_buf b;
    REQUIRE(sigil_buf_init(&b, 4096, 0) == SIGIL_OK);
    stmt(&b, "resume", "prod", now + 300, 0, 32);
    uint8_t s[4][64];
    for (int i = 0; i < 4; i++)
        sign(&b, i, s[i]);
    sigil_breaker_approval a[3] = {{"alice", s[0], 64}, {"bob", s[1], 64}, {"carol", s[2], 64}};
    sigil_breaker_statement st;
    CHECK_EQ(sigil_breaker_verify(&pol, b.data, b.size, a, 2, "resume", now, 5, &st), SIGIL_OK);
    CHECK(!strcmp(st.action, "resume") && st.expires_unix == now + 300);
    CHECK_EQ(sigil_breaker_verify(&pol, b.data, b.size, a, 3, "resume", now, 5, NULL), SIGIL_OK);
    CHECK_EQ(sigil_breaker_verify(&pol, b.data, b.size, a, 1, "resume", now, 5, NULL), SIGIL_E_THRESHOLD);
    CHECK_EQ(sigil_breaker_verify(&pol, b.data, b.size, a, 0, "resume", now, 5, NULL), SIGIL_E_THRESHOLD);
    sigil_breaker_approval d[2] = {{"alice", s[0], 64}, {"alice", s[0], 64}};
    CHECK_EQ(sigil_breaker_verify(&pol, b.data, b.size, d, 2, "resume", now, 5, NULL), SIGIL_E_PARTICIPANT);
    sigil_breaker_approval f[2] = {{"alice", s[0], 64}, {"bob", s[3], 64}}; /* foreign key */
    CHECK_EQ(sigil_breaker_verify(&pol, b.data, b.size, f, 2, "resume", now, 5, NULL), SIGIL_E_SIGNATURE);
    sigil_breaker_approval u[2] = {{"alice", s[0], 64}, {"mallory", s[3], 64}};
    CHECK_EQ(sigil_breaker_verify(&pol, b.data, b.size, u, 2, "resume", now, 5, NULL), SIGIL_E_PERMISSION);
    sigil_breaker_approval sh[2] = {{"alice", s[0], 64}, {"bob", s[1], 63}};
    CHECK_EQ(sigil_breaker_verify(&pol, b.data, b.size, sh, 2, "resume", now, 5, NULL), SIGIL_E_SIGNATURE);
    /* signatures are over the exact bytes: one changed byte fails */
    b.data[b.size - 1] ^= 1;
    CHECK_EQ(sigil_breaker_verify(&pol, b.data, b.size, a, 2, "resume", now, 5, NULL), SIGIL_E_SIGNATURE);
    b.data[b.size - 1] ^= 1;
    CHECK_EQ(sigil_breaker_verify(&pol, b.data, b.size, a, 2, "retire", now, 5, NULL), SIGIL_E_MISMATCH);
    CHECK_EQ(sigil_breaker_verify(&pol, b.data, b.size, a, 2, "resume", now + 300, 5, NULL), SIGIL_E_EXPIRED);
    CHECK_EQ(sigil_breaker_verify(&pol, b.data, b.size, a, 2, "resume", now - 400, 5, NULL), SIGIL_E_EXPIRED);
    struct {
        const char *action, *cluster;
        uint64_t exp, epoch;
        size_t nl;
        int want;
    } cases[] = {
        {"resume", "test", now + 60, 0, 32, SIGIL_E_MISMATCH},
        {"resume", "prod", now + 60, 4, 32, SIGIL_E_MISMATCH},
        {"resume", "prod", now + 60, 5, 32, SIGIL_OK},
        {"resume", "prod", now + 60, 0, 16, SIGIL_E_ENCODING},
        {"resume", "prod", now + 6000, 0, 32, SIGIL_E_EXPIRED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        stmt(&b, cases[i].action, cases[i].cluster, cases[i].exp, cases[i].epoch, cases[i].nl);
        sign(&b, 0, s[0]);
        sign(&b, 2, s[2]);
        sigil_breaker_approval g[2] = {{"alice", s[0], 64}, {"carol", s[2], 64}};
        CHECK_EQ(sigil_breaker_verify(&pol, b.data, b.size, g, 2, "resume", now, 5, NULL), cases[i].want);
    }
    /* garbage statement with valid signatures: decoding error, not a crash */
    sigil_buf_reset(&b);
    REQUIRE(sigil_buf_put(&b, "\xff\xff\xff", 3) == SIGIL_OK);
    sign(&b, 0, s[0]);
    sign(&b, 1, s[1]);
    CHECK_EQ(sigil_breaker_verify(&pol, b.data, b.size, a, 2, "resume", now, 5, NULL), SIGIL_E_ENCODING);

    /* nonces: replay refused, persisted, expired ones pruned */
    char dir[] = "/tmp/sigil-breaker-test.XXXXXX";
    REQUIRE(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/nonces", dir);
    sigil_breaker_nonces *ns;
    REQUIRE(sigil_breaker_nonces_open(&ns, path) == SIGIL_OK);
    uint8_t n1[32], n2[32];
    randombytes_buf(n1, 32);
    randombytes_buf(n2, 32);
    CHECK_EQ(sigil_breaker_nonces_use(ns, n1, now + 100, now), SIGIL_OK);
    CHECK_EQ(sigil_breaker_nonces_use(ns, n1, now + 100, now), SIGIL_E_REPLAY);
    sigil_breaker_nonces_free(ns);
    REQUIRE(sigil_breaker_nonces_open(&ns, path) == SIGIL_OK);
    CHECK_EQ(sigil_breaker_nonces_use(ns, n1, now + 100, now), SIGIL_E_REPLAY);
    CHECK_EQ(sigil_breaker_nonces_use(ns, n2, now + 500, now + 200), SIGIL_OK); /* n1 pruned */
    sigil_breaker_nonces_free(ns);
    sigil_buf fb;
    REQUIRE(sigil_buf_init(&fb, 4096, 0) == SIGIL_OK);
    REQUIRE(sigil_file_read(path, 4096, &fb) == SIGIL_OK);
    CHECK_EQ(fb.size, 40);
    /* a corrupt file is refused, not half-read */
    REQUIRE(sigil_file_write_atomic(path, fb.data, 39, 0600) == SIGIL_OK);
    CHECK_EQ(sigil_breaker_nonces_open(&ns, path), SIGIL_E_ENCODING);
    sigil_buf_free(&fb);
    unlink(path);
    rmdir(dir);
    sigil_buf_free(&b);
    return check_done();
}
