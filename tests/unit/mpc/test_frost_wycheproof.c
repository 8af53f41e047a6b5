/* Wycheproof Ed25519 verification cases through Sigil's own verify function
 * (sigil_frost_verify for SIGIL_FROST_ED25519): every "valid" case must
 * verify and every "invalid" one must not. */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sigil/err.h"
#include "sigil/frost.h"

static size_t unhex(uint8_t *out, size_t max, const char *h, int *ok)
{
    size_t n = 0;
    *ok = h != NULL && sodium_hex2bin(out, max, h, strlen(h), NULL, &n, NULL) == 0;
    return n;
}

int main(void)
{
    REQUIRE(sigil_mpc_init() == SIGIL_OK);
    const char *dir = getenv("SIGIL_VECTORS_DIR");
    char path[4096];
    snprintf(path, sizeof(path), "%s/wycheproof/ed25519_test.json", dir ? dir : "../shared/vectors");
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    if (root == NULL) {
        fprintf(stderr, "%s: %s\n", path, err.text);
        return 2;
    }
    size_t gi, ti, valid = 0, invalid = 0;
    json_t *grp, *tc;
    json_array_foreach(json_object_get(root, "testGroups"), gi, grp)
    {
        uint8_t pk[64];
        int ok;
        size_t pkl = unhex(pk, sizeof(pk), json_string_value(json_object_get(json_object_get(grp, "publicKey"), "pk")), &ok);
        REQUIRE(ok);
        json_array_foreach(json_object_get(grp, "tests"), ti, tc)
        {
            static uint8_t msg[1 << 16], sig[1024];
            int ok1, ok2;
            size_t ml = unhex(msg, sizeof(msg), json_string_value(json_object_get(tc, "msg")), &ok1);
            size_t sl = unhex(sig, sizeof(sig), json_string_value(json_object_get(tc, "sig")), &ok2);
            const char *result = json_string_value(json_object_get(tc, "result"));
            long id = (long)json_integer_value(json_object_get(tc, "tcId"));
            REQUIRE(ok1 && result != NULL);
            int rc = ok2 ? sigil_frost_verify(SIGIL_FROST_ED25519, pk, pkl, msg, ml, sig, sl) : SIGIL_E_ENCODING;
            if (!strcmp(result, "valid")) {
                valid++;
                if (rc != SIGIL_OK)
                    fprintf(stderr, "tcId %ld: valid case rejected (%s)\n", id, sigil_errname(rc));
                CHECK_EQ(rc, SIGIL_OK);
            } else {
                invalid++;
                if (rc == SIGIL_OK)
                    fprintf(stderr, "tcId %ld: invalid case accepted\n", id);
                CHECK(rc != SIGIL_OK);
            }
        }
    }
    printf("wycheproof ed25519: %zu valid, %zu invalid cases\n", valid, invalid);
    CHECK(valid > 0 && invalid > 0);
    json_decref(root);
    return check_done();
}
