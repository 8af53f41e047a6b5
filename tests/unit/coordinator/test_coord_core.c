/* Coordinator building blocks without sockets: configuration validation,
 * the idempotency cache (same id + same request -> stored result; same id
 * + other request -> refused; bounded; identities separate), the key
 * registry (persisted atomically, reloaded, corrupt files refused, no
 * duplicates) and the breaker state (survives reopen). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "sigil/coord.h"
#include "sigil/err.h"
#include "sigil/v1/common.pb-c.h"

static char dir[] = "/tmp/sigil-coord-test-XXXXXX";

static void write_file(const char *name, const char *text)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    REQUIRE(f);
    fputs(text, f);
    fclose(f);
}

static int load(const char *text, sigil_coord_config *cfg, char *err)
{
    char p[256];
    write_file("c.json", text);
    snprintf(p, sizeof p, "%s/c.json", dir);
    return sigil_coord_config_load(p, cfg, err, 256);
}

#define GOOD_HEAD                                                                              \
    "{\"listen\":\"127.0.0.1:0\",\"state_dir\":\"/tmp/x\",\"cluster_id\":\"t\","               \
    "\"tls\":{\"ca\":\"ca.pem\",\"cert\":\"c.pem\",\"key\":\"c.key\"},"                        \
    "\"nodes\":[{\"id\":3,\"address\":\"127.0.0.1:3\"},{\"id\":1,\"address\":\"127.0.0.1:1\"},"  \
    "{\"id\":2,\"address\":\"127.0.0.1:2\"}],"                                                 \
    "\"authz\":[{\"identity\":\"sigil://wallet/alice\",\"method\":\"/sigil.v1.Wallet/*\","     \
    "\"key\":\"hot-*\"}],"

static void test_config(void)
{
    sigil_coord_config cfg;
    char err[256];
    CHECK_EQ(load(GOOD_HEAD "\"threshold\":2,\"officers\":[{\"name\":\"carol\",\"public_key\":"
                            "\"" "0000000000000000000000000000000000000000000000000000000000000001"
                            "\"},{\"name\":\"dave\",\"public_key\":\""
                            "0000000000000000000000000000000000000000000000000000000000000002"
                            "\"}],\"approvals_required\":2,\"pool\":{\"frost_target\":64},"
                            "\"timeouts_ms\":{\"node_call\":500}}",
                  &cfg, err),
             SIGIL_OK);
    CHECK_EQ(cfg.num_nodes, 3);
    CHECK_EQ(cfg.nodes[0].id, 1); /* sorted ascending */
    CHECK_EQ(cfg.nodes[2].id, 3);
    CHECK(!strcmp(cfg.nodes[1].identity, "sigil://node/2"));
    CHECK_EQ(cfg.num_rules, 1);
    CHECK_EQ(cfg.num_officers, 2);
    CHECK_EQ(cfg.officers[1].public_key[31], 2);
    CHECK_EQ(cfg.pool_frost_target, 64);
    CHECK_EQ(cfg.node_timeout_ms, 500);
    CHECK_EQ(cfg.sign_timeout_ms, 5000); /* default */
    CHECK_EQ(cfg.max_batch, 1024);       /* default */
    CHECK_EQ(cfg.queue_max, 4096);       /* default */
    sigil_coord_config_free(&cfg);
    CHECK_EQ(load(GOOD_HEAD "\"max_batch\":16,\"queue_max\":16}", &cfg, err), SIGIL_OK);
    CHECK_EQ(cfg.queue_max, 16);
    sigil_coord_config_free(&cfg);

    /* every bad field is refused with a reason */
    static const char *bad[] = {
        "not json",
        "[]",
        GOOD_HEAD "\"threshold\":4}",                      /* t > n */
        GOOD_HEAD "\"threshold\":0}",
        GOOD_HEAD "\"officers\":[{\"name\":\"a\",\"public_key\":\"00\"}]}",
        GOOD_HEAD "\"approvals_required\":3,\"officers\":[{\"name\":\"a\",\"public_key\":\""
                  "0000000000000000000000000000000000000000000000000000000000000001\"}]}",
        "{\"state_dir\":\"/x\",\"tls\":{\"ca\":\"a\",\"cert\":\"b\",\"key\":\"c\"},"
        "\"nodes\":[{\"id\":1,\"address\":\"a\"},{\"id\":1,\"address\":\"b\"}],\"authz\":[]}",
        "{\"state_dir\":\"/x\",\"tls\":{\"ca\":\"a\",\"cert\":\"b\",\"key\":\"c\"},"
        "\"nodes\":[{\"id\":1,\"address\":\"a\",\"identity\":\"sigil://wallet/x\"}],\"authz\":[]}",
        "{\"state_dir\":\"/x\",\"tls\":{\"ca\":\"a\",\"cert\":\"b\",\"key\":\"c\"},"
        "\"nodes\":[{\"id\":70000,\"address\":\"a\"}],\"authz\":[]}",
        "{\"state_dir\":\"/x\",\"tls\":{\"ca\":\"a\",\"cert\":\"b\"},"
        "\"nodes\":[{\"id\":1,\"address\":\"a\"}],\"authz\":[]}",
        "{\"state_dir\":\"/x\",\"tls\":{\"ca\":\"a\",\"cert\":\"b\",\"key\":\"c\"},"
        "\"nodes\":[{\"id\":1,\"address\":\"a\"}],\"authz\":[{\"identity\":\"a*b\","
        "\"method\":\"m\",\"key\":\"k\"}]}",
        "{\"state_dir\":\"/x\",\"state_dir\":\"/y\",\"tls\":{\"ca\":\"a\",\"cert\":\"b\",\"key\":\"c\"},"
        "\"nodes\":[{\"id\":1,\"address\":\"a\"}],\"authz\":[]}",
        GOOD_HEAD "\"pool\":{\"frost_target\":-1}}",
        GOOD_HEAD "\"queue_max\":0}",
        GOOD_HEAD "\"queue_max\":512}",                   /* below max_batch (1024) */
        GOOD_HEAD "\"max_batch\":64,\"queue_max\":63}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        int rc = load(bad[i], &cfg, err);
        CHECK(rc == SIGIL_E_ENCODING);
        CHECK(err[0] != 0);
        if (rc != SIGIL_E_ENCODING)
            fprintf(stderr, "bad config %zu accepted\n", i);
    }
    CHECK_EQ(sigil_coord_config_load("/nonexistent/c.json", &cfg, err, sizeof err), SIGIL_E_IO);
}

static void test_idem(void)
{
    sigil_coord_idem *c;
    uint8_t id1[16] = {1}, id2[16] = {2}, h1[32] = {1}, h2[32] = {2};
    sigil_buf out;
    REQUIRE(sigil_coord_idem_new(4, &c) == SIGIL_OK);
    sigil_buf_init(&out, 1024, 0);

    CHECK_EQ(sigil_coord_idem_begin(c, "sigil://wallet/a", id1, 16, h1, &out), SIGIL_COORD_IDEM_NEW);
    /* concurrent duplicate while in progress */
    CHECK_EQ(sigil_coord_idem_begin(c, "sigil://wallet/a", id1, 16, h1, &out), SIGIL_COORD_IDEM_BUSY);
    /* same id, other request */
    CHECK_EQ(sigil_coord_idem_begin(c, "sigil://wallet/a", id1, 16, h2, &out), SIGIL_E_EXISTS);
    CHECK_EQ(sigil_coord_idem_finish(c, "sigil://wallet/a", id1, 16, (const uint8_t *)"sig1", 4),
             SIGIL_OK);
    CHECK_EQ(sigil_coord_idem_finish(c, "sigil://wallet/a", id1, 16, (const uint8_t *)"x", 1),
             SIGIL_E_STATE);
    CHECK_EQ(sigil_coord_idem_begin(c, "sigil://wallet/a", id1, 16, h1, &out), SIGIL_COORD_IDEM_DONE);
    CHECK(out.size == 4 && !memcmp(out.data, "sig1", 4));
    CHECK_EQ(sigil_coord_idem_begin(c, "sigil://wallet/a", id1, 16, h2, &out), SIGIL_E_EXISTS);
    /* ids are scoped by identity */
    CHECK_EQ(sigil_coord_idem_begin(c, "sigil://wallet/b", id1, 16, h2, NULL), SIGIL_COORD_IDEM_NEW);
    /* a failed request is dropped: its retry runs again */
    sigil_coord_idem_drop(c, "sigil://wallet/b", id1, 16);
    CHECK_EQ(sigil_coord_idem_begin(c, "sigil://wallet/b", id1, 16, h1, NULL), SIGIL_COORD_IDEM_NEW);
    /* capacity: pending entries are never evicted; finished ones are, oldest first */
    CHECK_EQ(sigil_coord_idem_begin(c, "sigil://wallet/a", id2, 16, h1, NULL), SIGIL_COORD_IDEM_NEW);
    uint8_t id3[16] = {3}, id4[16] = {4}, id5[16] = {5};
    CHECK_EQ(sigil_coord_idem_begin(c, "sigil://wallet/a", id3, 16, h1, NULL), SIGIL_COORD_IDEM_NEW);
    CHECK_EQ(sigil_coord_idem_count(c), 4);
    CHECK_EQ(sigil_coord_idem_begin(c, "sigil://wallet/a", id4, 16, h1, NULL), SIGIL_COORD_IDEM_NEW);
    CHECK_EQ(sigil_coord_idem_count(c), 4); /* id1/a (finished) evicted */
    CHECK_EQ(sigil_coord_idem_begin(c, "sigil://wallet/a", id5, 16, h1, NULL), SIGIL_E_NOMEM);
    CHECK_EQ(sigil_coord_idem_begin(c, "sigil://wallet/a", id1, 16, h2, NULL), SIGIL_E_NOMEM);
    sigil_buf_free(&out);
    sigil_coord_idem_free(c);
}

static void make_key(sigil_coord_key *k, const char *id, int scheme)
{
    memset(k, 0, sizeof *k);
    snprintf(k->key_id, sizeof k->key_id, "%s", id);
    k->scheme = scheme;
    k->pk_len = 32;
    memset(k->public_key, 0xab, 32);
    k->package_len = 5;
    memcpy(k->package, "\x4b\x01\x02\x03\x04", 5);
    k->threshold = 2;
    k->num_parties = 3;
    k->parties[0] = 1, k->parties[1] = 2, k->parties[2] = 3;
    k->state = SIGIL__V1__KEY_STATE__KEY_STATE_ACTIVE;
    k->created_unix = 1700000000;
    k->share_version = 1;
}

static void test_registry(void)
{
    char p[256];
    sigil_coord_registry *r;
    sigil_coord_key k, got, *list;
    size_t n;
    snprintf(p, sizeof p, "%s/keys.json", dir);
    REQUIRE(sigil_coord_registry_open(p, &r) == SIGIL_OK);
    CHECK_EQ(sigil_coord_registry_get(r, "hot-1", &got), SIGIL_E_NOT_FOUND);
    make_key(&k, "hot-1", SIGIL__V1__SCHEME__SCHEME_ED25519);
    CHECK_EQ(sigil_coord_registry_add(r, &k), SIGIL_OK);
    CHECK_EQ(sigil_coord_registry_add(r, &k), SIGIL_E_EXISTS);
    make_key(&k, "hot-2", SIGIL__V1__SCHEME__SCHEME_ECDSA_SECP256K1);
    k.pk_len = 33;
    CHECK_EQ(sigil_coord_registry_add(r, &k), SIGIL_OK);
    make_key(&k, "bad id", SIGIL__V1__SCHEME__SCHEME_ED25519);
    CHECK_EQ(sigil_coord_registry_add(r, &k), SIGIL_E_INVALID);
    sigil_coord_registry_free(r);

    /* reopen: everything persisted */
    REQUIRE(sigil_coord_registry_open(p, &r) == SIGIL_OK);
    CHECK_EQ(sigil_coord_registry_get(r, "hot-2", &got), SIGIL_OK);
    CHECK_EQ(got.scheme, SIGIL__V1__SCHEME__SCHEME_ECDSA_SECP256K1);
    CHECK_EQ(got.pk_len, 33);
    CHECK_EQ(got.package_len, 5);
    CHECK_EQ(got.parties[2], 3);
    CHECK_EQ(sigil_coord_registry_list(r, &list, &n), SIGIL_OK);
    CHECK_EQ(n, 2);
    CHECK(n == 2 && !strcmp(list[0].key_id, "hot-1"));
    free(list);
    /* update (refresh: new package and share version; retire: state),
     * persisted; an unknown or invalid key changes nothing */
    make_key(&k, "hot-1", SIGIL__V1__SCHEME__SCHEME_ED25519);
    k.share_version = 2;
    memcpy(k.package, "\x4b\x09\x09\x09\x09", 5);
    k.state = SIGIL__V1__KEY_STATE__KEY_STATE_RETIRED;
    CHECK_EQ(sigil_coord_registry_update(r, &k), SIGIL_OK);
    make_key(&k, "hot-9", SIGIL__V1__SCHEME__SCHEME_ED25519);
    CHECK_EQ(sigil_coord_registry_update(r, &k), SIGIL_E_NOT_FOUND);
    make_key(&k, "hot-2", SIGIL__V1__SCHEME__SCHEME_ECDSA_SECP256K1);
    k.package_len = 0;
    CHECK_EQ(sigil_coord_registry_update(r, &k), SIGIL_E_INVALID);
    sigil_coord_registry_free(r);
    REQUIRE(sigil_coord_registry_open(p, &r) == SIGIL_OK);
    CHECK_EQ(sigil_coord_registry_get(r, "hot-1", &got), SIGIL_OK);
    CHECK_EQ(got.share_version, 2);
    CHECK_EQ(got.state, SIGIL__V1__KEY_STATE__KEY_STATE_RETIRED);
    CHECK(!memcmp(got.package, "\x4b\x09\x09\x09\x09", 5));
    CHECK_EQ(sigil_coord_registry_get(r, "hot-2", &got), SIGIL_OK);
    CHECK_EQ(got.package_len, 5);
    CHECK_EQ(sigil_coord_registry_get(r, "hot-9", &got), SIGIL_E_NOT_FOUND);
    sigil_coord_registry_free(r);
    /* the file holds public data only, mode 0600 */
    struct stat sb;
    CHECK(stat(p, &sb) == 0 && (sb.st_mode & 0777) == 0600);

    /* corrupt files are refused, not half-read */
    static const char *corrupt[] = {
        "{",
        "{\"keys\":{}}",
        "{\"keys\":[{\"key_id\":\"a\"}]}",
        "{\"keys\":[{\"key_id\":\"a b\",\"scheme\":\"ecdsa\",\"public_key\":\"00\","
        "\"public_package\":\"00\",\"threshold\":1,\"num_parties\":1,\"state\":2,"
        "\"created_unix\":1,\"share_version\":1,\"parties\":[1]}]}",
    };
    for (size_t i = 0; i < sizeof corrupt / sizeof corrupt[0]; i++) {
        write_file("bad.json", corrupt[i]);
        snprintf(p, sizeof p, "%s/bad.json", dir);
        CHECK_EQ(sigil_coord_registry_open(p, &r), SIGIL_E_ENCODING);
    }
    CHECK_EQ(sigil_coord_scheme_parse("ecdsa"), SIGIL__V1__SCHEME__SCHEME_ECDSA_SECP256K1);
    CHECK_EQ(sigil_coord_scheme_parse("ed25519"), SIGIL__V1__SCHEME__SCHEME_ED25519);
    CHECK_EQ(sigil_coord_scheme_parse("rsa"), 0);
    CHECK(!strcmp(sigil_coord_scheme_name(3), "frost-bip340"));
}

static void test_breaker(void)
{
    char p[256];
    sigil_coord_breaker_state st, got;
    snprintf(p, sizeof p, "%s/breaker.json", dir);
    CHECK_EQ(sigil_coord_breaker_load(p, &got), SIGIL_OK); /* absent: running */
    CHECK_EQ(got.halted, 0);
    memset(&st, 0, sizeof st);
    st.halted = 1;
    st.epoch = 7;
    strcpy(st.by, "sigil://officer/carol");
    strcpy(st.reason, "incident \"42\"");
    st.at_unix_ms = 1700000000123ull;
    CHECK_EQ(sigil_coord_breaker_save(p, &st), SIGIL_OK);
    CHECK_EQ(sigil_coord_breaker_load(p, &got), SIGIL_OK);
    CHECK_EQ(got.halted, 1);
    CHECK_EQ(got.epoch, 7);
    CHECK(!strcmp(got.by, "sigil://officer/carol"));
    CHECK(!strcmp(got.reason, "incident \"42\""));
    CHECK(got.at_unix_ms == 1700000000123ull);
    write_file("breaker.json", "{\"halted\":\"no\"}");
    CHECK_EQ(sigil_coord_breaker_load(p, &got), SIGIL_E_ENCODING);
}

int main(void)
{
    REQUIRE(mkdtemp(dir));
    test_config();
    test_idem();
    test_registry();
    test_breaker();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_done();
}
