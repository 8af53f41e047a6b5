/* RFC 6962 tree: reference roots, generated proofs for every index and
 * size pair, and every published proof case with its wantErr. */
#include <dirent.h>
#include <jansson.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "sigil/audit.h"
#include "sigil/err.h"

static const char *vdir(void)
{
    const char *d = getenv("SIGIL_VECTORS_DIR");
    return d ? d : "../shared/vectors";
}

static uint8_t leaves[64][32];

static void reference_roots(void)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/merkle/reference-tree.json", vdir());
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    REQUIRE(j != NULL);
    json_t *ls = json_object_get(j, "leaves_hex"), *rs = json_object_get(j, "roots_hex_by_size");
    REQUIRE(json_array_size(rs) == json_array_size(ls) + 1);
    size_t n = json_array_size(ls);
    sigil_audit_compact c;
    sigil_audit_compact_init(&c);
    for (size_t i = 0; i <= n; i++) {
        uint8_t want[32], got[32], got2[32];
        size_t wl;
        const char *h = json_string_value(json_array_get(rs, i));
        REQUIRE(sodium_hex2bin(want, 32, h, strlen(h), NULL, &wl, NULL) == 0 && wl == 32);
        sigil_audit_compact_root(&c, got);
        sigil_audit_tree_root((const uint8_t(*)[32])leaves, i, got2);
        CHECK(memcmp(got, want, 32) == 0);
        CHECK(memcmp(got2, want, 32) == 0);
        if (i == n)
            break;
        uint8_t data[64];
        size_t dl;
        const char *lh = json_string_value(json_array_get(ls, i));
        REQUIRE(sodium_hex2bin(data, sizeof(data), lh, strlen(lh), NULL, &dl, NULL) == 0);
        sigil_audit_leaf_hash(data, dl, leaves[i]);
        sigil_audit_compact_append(&c, leaves[i]);
    }
    json_decref(j);
}

/* Proofs we generate verify, and fail when any bit of them changes. */
static void generated_proofs(void)
{
    for (size_t i = 8; i < 64; i++)
        sigil_audit_leaf_hash((const uint8_t *)&i, sizeof(i), leaves[i]);
    const uint8_t(*L)[32] = (const uint8_t(*)[32])leaves;
    int bad = 0, good = 0;
    for (uint64_t size = 1; size <= 40; size++) {
        uint8_t root[32], proof[SIGIL_AUDIT_MAX_PROOF][32];
        const uint8_t *pp[SIGIL_AUDIT_MAX_PROOF];
        size_t pl[SIGIL_AUDIT_MAX_PROOF], np;
        for (size_t k = 0; k < SIGIL_AUDIT_MAX_PROOF; k++) {
            pp[k] = proof[k];
            pl[k] = 32;
        }
        sigil_audit_tree_root(L, size, root);
        for (uint64_t i = 0; i < size; i++) {
            REQUIRE(sigil_audit_prove_inclusion(L, size, i, proof, &np) == SIGIL_OK);
            if (sigil_audit_verify_inclusion(i, size, leaves[i], 32, pp, pl, np, root, 32) == SIGIL_OK)
                good++;
            else
                bad++;
            /* wrong index, wrong size, shortened, flipped */
            if (sigil_audit_verify_inclusion(i ^ 1, size, leaves[i], 32, pp, pl, np, root, 32) == SIGIL_OK && (i ^ 1) != i)
                bad++;
            if (np && sigil_audit_verify_inclusion(i, size, leaves[i], 32, pp, pl, np - 1, root, 32) == SIGIL_OK)
                bad++;
            for (size_t k = 0; k < np; k++) {
                proof[k][k % 32] ^= 1;
                if (sigil_audit_verify_inclusion(i, size, leaves[i], 32, pp, pl, np, root, 32) == SIGIL_OK)
                    bad++;
                proof[k][k % 32] ^= 1;
            }
        }
        for (uint64_t s1 = 1; s1 <= size; s1++) {
            uint8_t r1[32];
            sigil_audit_tree_root(L, s1, r1);
            REQUIRE(sigil_audit_prove_consistency(L, s1, size, proof, &np) == SIGIL_OK);
            if (sigil_audit_verify_consistency(s1, size, r1, 32, root, 32, pp, pl, np) == SIGIL_OK)
                good++;
            else
                bad++;
            for (size_t k = 0; k < np; k++) {
                proof[k][0] ^= 0x80;
                if (sigil_audit_verify_consistency(s1, size, r1, 32, root, 32, pp, pl, np) == SIGIL_OK)
                    bad++;
                proof[k][0] ^= 0x80;
            }
            if (s1 < size && sigil_audit_verify_consistency(s1, size, root, 32, r1, 32, pp, pl, np) == SIGIL_OK)
                bad++;
        }
    }
    CHECK_EQ(bad, 0);
    CHECK(good > 1000);
    uint8_t p[1][32];
    size_t np;
    CHECK_EQ(sigil_audit_prove_inclusion((const uint8_t(*)[32])leaves, 4, 4, p, &np), SIGIL_E_INVALID);
    CHECK_EQ(sigil_audit_prove_consistency((const uint8_t(*)[32])leaves, 0, 4, p, &np), SIGIL_E_INVALID);
    CHECK_EQ(sigil_audit_prove_consistency((const uint8_t(*)[32])leaves, 5, 4, p, &np), SIGIL_E_INVALID);
}

static int b64field(json_t *j, const char *f, uint8_t *out, size_t *n)
{
    const char *s = json_string_value(json_object_get(j, f)), *end;
    *n = 0;
    if (!s)
        return -1;
    if (!*s)
        return 0;
    return sodium_base642bin(out, 64, s, strlen(s), NULL, n, &end, sodium_base64_VARIANT_ORIGINAL) ||
                   end != s + strlen(s)
               ? -1
               : 0;
}

static int cases, case_fail;

/* Integers above INT64_MAX (leafIdx 2^64-1) load as doubles: such a value
 * is out of range for any real tree, so it maps to UINT64_MAX. */
static uint64_t u64field(json_t *j, const char *f)
{
    json_t *x = json_object_get(j, f);
    if (json_is_integer(x))
        return (uint64_t)json_integer_value(x);
    double d = json_real_value(x);
    return d <= 9007199254740992.0 ? (uint64_t)d : UINT64_MAX;
}

static void run_case(const char *path, int consistency)
{
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j)
        j = json_load_file(path, JSON_DECODE_INT_AS_REAL, &je);
    REQUIRE(j != NULL);
    int want_err = json_is_true(json_object_get(j, "wantErr"));
    json_t *pa = json_object_get(j, "proof");
    size_t np = json_array_size(pa);
    REQUIRE(np <= SIGIL_AUDIT_MAX_PROOF);
    uint8_t ph[SIGIL_AUDIT_MAX_PROOF][64], a[64], b[64];
    const uint8_t *pp[SIGIL_AUDIT_MAX_PROOF];
    size_t pl[SIGIL_AUDIT_MAX_PROOF], al, bl;
    int r = SIGIL_OK;
    for (size_t i = 0; i < np; i++) {
        const char *s = json_string_value(json_array_get(pa, i)), *end;
        pp[i] = ph[i];
        if (sodium_base642bin(ph[i], 64, s, strlen(s), NULL, &pl[i], &end, sodium_base64_VARIANT_ORIGINAL))
            r = SIGIL_E_ENCODING;
    }
    if (consistency) {
        if (b64field(j, "root1", a, &al) || b64field(j, "root2", b, &bl))
            r = SIGIL_E_ENCODING;
        if (r == SIGIL_OK)
            r = sigil_audit_verify_consistency(
                u64field(j, "size1"), u64field(j, "size2"), a, al, b, bl, pp, pl, np);
    } else {
        if (b64field(j, "leafHash", a, &al) || b64field(j, "root", b, &bl))
            r = SIGIL_E_ENCODING;
        if (r == SIGIL_OK)
            r = sigil_audit_verify_inclusion(
                u64field(j, "leafIdx"), u64field(j, "treeSize"), a, al, pp, pl, np, b, bl);
    }
    cases++;
    if ((r != SIGIL_OK) != want_err) {
        case_fail++;
        fprintf(stderr, "%s: got %s, wantErr %d\n", path, sigil_errname(r), want_err);
    }
    json_decref(j);
}

static void walk(const char *dir, int consistency)
{
    DIR *d = opendir(dir);
    REQUIRE(d != NULL);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char p[2048];
        struct stat sb;
        snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
        REQUIRE(stat(p, &sb) == 0);
        if (S_ISDIR(sb.st_mode))
            walk(p, consistency);
        else if (strstr(de->d_name, ".json"))
            run_case(p, consistency);
    }
    closedir(d);
}

int main(void)
{
    REQUIRE(sodium_init() >= 0);
    reference_roots();
    generated_proofs();
    char p[1024];
    snprintf(p, sizeof(p), "%s/merkle/inclusion", vdir());
    walk(p, 0);
    snprintf(p, sizeof(p), "%s/merkle/consistency", vdir());
    walk(p, 1);
    CHECK_EQ(case_fail, 0);
    CHECK(cases >= 190);
    printf("%d published proof cases\n", cases);
    return check_done();
}
