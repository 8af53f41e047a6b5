/* sigil-vectors frost / frost-dkg: run RFC 9591 test vectors (the JSON of
 * the RFC's appendix E, as published with the draft and ZF FROST) and the ZF
 * FROST DKG vectors through the library, checking every intermediate value. */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sigil/dkg.h"
#include "sigil/err.h"
#include "sigil/frost.h"
#include "sigil/kat.h"
#include "vectors.h"

typedef struct {
    const char *file;
    int failed;
} run;

/* Report the first differing field; later ones are not reported. */
static int differ(run *r, const char *field, const uint8_t *got, size_t gl, const char *want)
{
    if (r->failed)
        return 1;
    char *gh = malloc(2 * gl + 1);
    if (gh)
        sodium_bin2hex(gh, 2 * gl + 1, got, gl);
    fprintf(stderr, "%s: field %s differs\n  got:  %s\n  want: %s\n", r->file, field, gh ? gh : "?",
            want ? want : "(missing)");
    free(gh);
    r->failed = 1;
    return 1;
}

static int bad(run *r, const char *field, const char *why)
{
    if (!r->failed)
        fprintf(stderr, "%s: field %s: %s\n", r->file, field, why);
    r->failed = 1;
    return 1;
}

/* Compare bytes with a hex field. 0 when equal. */
static int check_hex(run *r, const char *field, const uint8_t *got, size_t gl, json_t *want)
{
    const char *w = json_string_value(want);
    uint8_t buf[4096];
    size_t bl;
    if (w == NULL || sodium_hex2bin(buf, sizeof(buf), w, strlen(w), NULL, &bl, NULL) != 0)
        return bad(r, field, "missing or not hex");
    if (bl != gl || memcmp(buf, got, gl) != 0)
        return differ(r, field, got, gl, w);
    return 0;
}

static int get_hex(run *r, const char *field, json_t *j, uint8_t *out, size_t n)
{
    const char *w = json_string_value(j);
    size_t bl;
    if (w == NULL || sodium_hex2bin(out, n, w, strlen(w), NULL, &bl, NULL) != 0 || bl != n)
        return bad(r, field, "missing, not hex, or wrong length");
    return 0;
}

/* Numbers appear both as JSON integers and as decimal strings. */
static long get_int(json_t *j)
{
    if (json_is_integer(j))
        return (long)json_integer_value(j);
    if (json_is_string(j))
        return strtol(json_string_value(j), NULL, 10);
    return -1;
}

static int suite_of(json_t *root, sigil_frost_suite *s)
{
    const char *name = json_string_value(json_object_get(json_object_get(root, "config"), "name"));
    if (name == NULL)
        return -1;
    if (!strcmp(name, "FROST(Ed25519, SHA-512)"))
        *s = SIGIL_FROST_ED25519;
    else if (!strcmp(name, "FROST(secp256k1, SHA-256)"))
        *s = SIGIL_FROST_SECP256K1;
    else
        return -1;
    return 0;
}

static int scalar_hex(run *r, const sigil_group *g, const char *field, json_t *j, sigil_scalar *s)
{
    uint8_t b[32];
    if (get_hex(r, field, j, b, 32))
        return 1;
    if (sigil_scalar_parse(g, s, b) != SIGIL_OK)
        return bad(r, field, "not a canonical scalar");
    return 0;
}

static int run_frost_file(run *r)
{
    json_error_t jerr;
    json_t *root = json_load_file(r->file, 0, &jerr);
    sigil_keyshare *ks = NULL;
    sigil_frost_nonce **nonces = NULL;
    sigil_buf *comms = NULL, *shares = NULL;
    sigil_frost_package *pkg = NULL;
    sigil_scalar *ids = NULL, *coeffs = NULL;
    size_t n = 0, k = 0;
    char field[160];

    if (root == NULL) {
        fprintf(stderr, "%s: %s (line %d)\n", r->file, jerr.text, jerr.line);
        return 2;
    }
    sigil_frost_suite s;
    if (suite_of(root, &s))
        return bad(r, "config.name", "unknown ciphersuite"), json_decref(root), 1;
    const sigil_group *g = sigil_frost_group(s);
    json_t *cfg = json_object_get(root, "config"), *in = json_object_get(root, "inputs");
    long t = get_int(json_object_get(cfg, "MIN_PARTICIPANTS"));
    long nmax = get_int(json_object_get(cfg, "MAX_PARTICIPANTS"));
    if (t < 1 || nmax < t || nmax > (long)SIGIL_DKG_MAX_PARTIES) {
        bad(r, "config", "bad MIN/MAX_PARTICIPANTS");
        goto out;
    }
    n = (size_t)nmax;

    /* key generation by trusted dealer with the given polynomial */
    sigil_scalar secret;
    if (scalar_hex(r, g, "inputs.group_secret_key", json_object_get(in, "group_secret_key"), &secret))
        goto out;
    json_t *jc = json_object_get(in, "share_polynomial_coefficients");
    if (json_array_size(jc) != (size_t)t - 1) {
        bad(r, "inputs.share_polynomial_coefficients", "need MIN_PARTICIPANTS-1 entries");
        goto out;
    }
    coeffs = calloc((size_t)t, sizeof(*coeffs));
    ids = calloc(n, sizeof(*ids));
    ks = calloc(n, sizeof(*ks));
    if (!coeffs || !ids || !ks) {
        bad(r, "-", "out of memory");
        goto out;
    }
    for (size_t i = 0; i + 1 < (size_t)t; i++) {
        snprintf(field, sizeof(field), "inputs.share_polynomial_coefficients[%zu]", i);
        if (scalar_hex(r, g, field, json_array_get(jc, i), &coeffs[i]))
            goto out;
    }
    json_t *ps = json_object_get(in, "participant_shares");
    if (json_array_size(ps) != n) {
        bad(r, "inputs.participant_shares", "need MAX_PARTICIPANTS entries");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        long id = get_int(json_object_get(json_array_get(ps, i), "identifier"));
        if (id < 1) {
            bad(r, "inputs.participant_shares.identifier", "not a positive integer");
            goto out;
        }
        sigil_scalar_set_u64(g, &ids[i], (uint64_t)id);
    }
    int rc = sigil_dkg_split(g, &secret, (uint32_t)t, (uint32_t)n, ids, coeffs, ks);
    if (rc) {
        bad(r, "inputs", sigil_strerror(rc));
        goto out;
    }
    uint8_t buf[128];
    for (size_t i = 0; i < n; i++) {
        if ((rc = sigil_frost_prepare_key(s, &ks[i]))) {
            bad(r, "inputs", sigil_strerror(rc));
            goto out;
        }
        sigil_scalar_serialize(g, buf, ks[i].secret);
        snprintf(field, sizeof(field), "inputs.participant_shares[%zu].participant_share", i);
        if (check_hex(r, field, buf, 32, json_object_get(json_array_get(ps, i), "participant_share")))
            goto out;
    }
    sigil_frost_public_key(s, &ks[0], buf);
    if (check_hex(r, "inputs.group_public_key", buf, sigil_frost_pk_len(s), json_object_get(in, "group_public_key")))
        goto out;

    /* round one */
    json_t *r1 = json_object_get(json_object_get(root, "round_one_outputs"), "outputs");
    json_t *plist = json_object_get(in, "participant_list");
    k = json_array_size(r1);
    if (k == 0 || k != json_array_size(plist) ||
        (json_object_get(cfg, "NUM_PARTICIPANTS") && get_int(json_object_get(cfg, "NUM_PARTICIPANTS")) != (long)k)) {
        bad(r, "round_one_outputs.outputs", "missing or not matching inputs.participant_list");
        goto out;
    }
    nonces = calloc(k, sizeof(*nonces));
    comms = calloc(k, sizeof(*comms));
    shares = calloc(k, sizeof(*shares));
    uint32_t *who = calloc(k, sizeof(*who));
    if (!nonces || !comms || !shares || !who) {
        bad(r, "-", "out of memory");
        free(who);
        goto out;
    }
    for (size_t i = 0; i < k; i++) {
        json_t *o = json_array_get(r1, i);
        long id = get_int(json_object_get(o, "identifier"));
        if (id != get_int(json_array_get(plist, i))) {
            bad(r, "round_one_outputs.outputs.identifier", "differs from inputs.participant_list");
            free(who);
            goto out;
        }
        sigil_scalar sid;
        sigil_scalar_set_u64(g, &sid, (uint64_t)id);
        if (sigil_keyshare_index(&ks[0], &sid, &who[i])) {
            bad(r, "round_one_outputs.outputs.identifier", "not a participant");
            free(who);
            goto out;
        }
        const sigil_keyshare *me = &ks[who[i]];
        uint8_t hr[32], br[32];
        snprintf(field, sizeof(field), "round_one_outputs.outputs[%zu].hiding_nonce_randomness", i);
        if (get_hex(r, field, json_object_get(o, "hiding_nonce_randomness"), hr, 32)) {
            free(who);
            goto out;
        }
        snprintf(field, sizeof(field), "round_one_outputs.outputs[%zu].binding_nonce_randomness", i);
        if (get_hex(r, field, json_object_get(o, "binding_nonce_randomness"), br, 32)) {
            free(who);
            goto out;
        }
        sigil_scalar nd, ne;
        sigil_frost_nonce_generate(s, &nd, hr, me->secret);
        sigil_frost_nonce_generate(s, &ne, br, me->secret);
        snprintf(field, sizeof(field), "round_one_outputs.outputs[%zu].hiding_nonce", i);
        sigil_scalar_serialize(g, buf, &nd);
        int f = check_hex(r, field, buf, 32, json_object_get(o, "hiding_nonce"));
        snprintf(field, sizeof(field), "round_one_outputs.outputs[%zu].binding_nonce", i);
        sigil_scalar_serialize(g, buf, &ne);
        f = f || check_hex(r, field, buf, 32, json_object_get(o, "binding_nonce"));
        sigil_scalar_clear(&nd);
        sigil_scalar_clear(&ne);
        if (f || sigil_buf_init(&comms[i], 256, 0) ||
            sigil_frost_commit_kat(s, me, hr, br, &nonces[i], &comms[i])) {
            bad(r, "round_one_outputs", "commit failed");
            free(who);
            goto out;
        }
        size_t pl = sigil_group_point_len(g);
        const uint8_t *c = sigil_buf_ptr(&comms[i]);
        snprintf(field, sizeof(field), "round_one_outputs.outputs[%zu].hiding_nonce_commitment", i);
        f = check_hex(r, field, c + 32, pl, json_object_get(o, "hiding_nonce_commitment"));
        snprintf(field, sizeof(field), "round_one_outputs.outputs[%zu].binding_nonce_commitment", i);
        f = f || check_hex(r, field, c + 32 + pl, pl, json_object_get(o, "binding_nonce_commitment"));
        if (f) {
            free(who);
            goto out;
        }
    }

    /* signing package: binding factors */
    uint8_t msg[4096];
    size_t msglen;
    const char *mh = json_string_value(json_object_get(in, "message"));
    if (mh == NULL || sodium_hex2bin(msg, sizeof(msg), mh, strlen(mh), NULL, &msglen, NULL)) {
        bad(r, "inputs.message", "missing or not hex");
        free(who);
        goto out;
    }
    if ((rc = sigil_frost_package_new(s, &ks[0], msg, msglen, comms, k, &pkg))) {
        bad(r, "round_one_outputs", sigil_strerror(rc));
        free(who);
        goto out;
    }
    for (size_t i = 0; i < k; i++) {
        json_t *o = json_array_get(r1, i);
        sigil_scalar sid, rho, want;
        sigil_buf rin;
        sigil_scalar_set_u64(g, &want, (uint64_t)get_int(json_object_get(o, "identifier")));
        /* the package is sorted by identifier; the file lists participants in order too */
        sigil_buf_init(&rin, 512, 0);
        sigil_frost_package_signer(pkg, i, &sid, &rin, &rho);
        if (!sigil_scalar_eq(&sid, &want)) {
            bad(r, "round_one_outputs.outputs.identifier", "not in ascending order");
            sigil_buf_free(&rin);
            free(who);
            goto out;
        }
        snprintf(field, sizeof(field), "round_one_outputs.outputs[%zu].binding_factor_input", i);
        int f = check_hex(r, field, sigil_buf_ptr(&rin), sigil_buf_len(&rin), json_object_get(o, "binding_factor_input"));
        sigil_buf_free(&rin);
        sigil_scalar_serialize(g, buf, &rho);
        snprintf(field, sizeof(field), "round_one_outputs.outputs[%zu].binding_factor", i);
        f = f || check_hex(r, field, buf, 32, json_object_get(o, "binding_factor"));
        if (f) {
            free(who);
            goto out;
        }
    }

    /* round two */
    json_t *r2 = json_object_get(json_object_get(root, "round_two_outputs"), "outputs");
    if (json_array_size(r2) != k) {
        bad(r, "round_two_outputs.outputs", "wrong number of entries");
        free(who);
        goto out;
    }
    for (size_t i = 0; i < k; i++) {
        json_t *o = json_array_get(r2, i);
        if (get_int(json_object_get(o, "identifier")) != get_int(json_array_get(plist, i))) {
            bad(r, "round_two_outputs.outputs.identifier", "differs from inputs.participant_list");
            free(who);
            goto out;
        }
        /* each signer builds its own package, as a signer does */
        sigil_frost_package *mine = NULL;
        rc = sigil_buf_init(&shares[i], 128, 0);
        if (rc == 0)
            rc = sigil_frost_package_for_signer(s, &ks[who[i]], nonces[i], msg, msglen, comms, k, &mine);
        if (rc == 0)
            rc = sigil_frost_sign(s, &ks[who[i]], nonces[i], mine, &shares[i]);
        sigil_frost_package_free(mine);
        if (rc) {
            bad(r, "round_two_outputs", "sign failed");
            free(who);
            goto out;
        }
        snprintf(field, sizeof(field), "round_two_outputs.outputs[%zu].sig_share", i);
        if (check_hex(r, field, sigil_buf_ptr(&shares[i]) + 32, 32, json_object_get(o, "sig_share"))) {
            free(who);
            goto out;
        }
        /* a nonce is single-use */
        sigil_buf again;
        sigil_buf_init(&again, 128, 0);
        if (sigil_frost_sign(s, &ks[who[i]], nonces[i], pkg, &again) != SIGIL_E_USED) {
            bad(r, "round_two_outputs", "nonce reuse was not refused");
            sigil_buf_free(&again);
            free(who);
            goto out;
        }
        sigil_buf_free(&again);
    }
    free(who);

    uint8_t sig[SIGIL_FROST_SIG_MAX];
    uint32_t culprit;
    if ((rc = sigil_frost_aggregate(s, &ks[0], pkg, shares, k, sig, &culprit))) {
        bad(r, "final_output.sig", sigil_strerror(rc));
        goto out;
    }
    if (check_hex(r, "final_output.sig", sig, sigil_frost_sig_len(s), json_object_get(json_object_get(root, "final_output"), "sig")))
        goto out;
    sigil_frost_public_key(s, &ks[0], buf);
    if (sigil_frost_verify(s, buf, sigil_frost_pk_len(s), msg, msglen, sig, sigil_frost_sig_len(s)))
        bad(r, "final_output.sig", "does not verify");
out:
    if (nonces)
        for (size_t i = 0; i < k; i++)
            sigil_frost_nonce_free(nonces[i]);
    for (size_t i = 0; comms && i < k; i++)
        sigil_buf_free(&comms[i]);
    for (size_t i = 0; shares && i < k; i++)
        sigil_buf_free(&shares[i]);
    for (size_t i = 0; ks && i < n; i++)
        sigil_keyshare_free(&ks[i]);
    sigil_frost_package_free(pkg);
    free(nonces);
    free(comms);
    free(shares);
    free(ks);
    free(ids);
    free(coeffs);
    json_decref(root);
    return r->failed;
}

static int run_dkg_file(run *r)
{
    json_error_t jerr;
    json_t *root = json_load_file(r->file, 0, &jerr);
    if (root == NULL) {
        fprintf(stderr, "%s: %s (line %d)\n", r->file, jerr.text, jerr.line);
        return 2;
    }
    sigil_frost_suite s;
    if (suite_of(root, &s)) {
        json_decref(root);
        return bad(r, "config.name", "unknown ciphersuite");
    }
    const sigil_group *g = sigil_frost_group(s);
    const char *ctx = sigil_frost_context(s);
    json_t *cfg = json_object_get(root, "config"), *in = json_object_get(root, "inputs");
    long t = get_int(json_object_get(cfg, "MIN_PARTICIPANTS"));
    long nl = get_int(json_object_get(cfg, "MAX_PARTICIPANTS"));
    size_t pl = sigil_group_point_len(g);
    char field[160], key[16];
    uint8_t buf[256];
    int rc;
    if (t < 1 || nl < 2 || nl < t || nl > 64) {
        json_decref(root);
        return bad(r, "config", "bad MIN/MAX_PARTICIPANTS");
    }
    uint32_t n = (uint32_t)nl;
    sigil_scalar ids[64], coeffs[64][64];
    sigil_dkg *d[64] = {0};
    sigil_buf r1[64], vr1[64], sh[64][64], conf[64];
    sigil_keyshare ks[64];
    memset(r1, 0, sizeof(r1));
    memset(vr1, 0, sizeof(vr1));
    memset(sh, 0, sizeof(sh));
    memset(conf, 0, sizeof(conf));
    memset(ks, 0, sizeof(ks));
    json_t *p[64];
    for (uint32_t i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "%u", i + 1);
        p[i] = json_object_get(in, key);
        long id = get_int(json_object_get(p[i], "identifier"));
        if (p[i] == NULL || id < 1) {
            snprintf(field, sizeof(field), "inputs.%s.identifier", key);
            bad(r, field, "missing");
            goto out;
        }
        sigil_scalar_set_u64(g, &ids[i], (uint64_t)id);
    }
    for (uint32_t i = 0; i < n; i++) {
        sigil_dkg_params prm = {g, ctx, (uint32_t)t, n, ids, i};
        if ((rc = sigil_dkg_new(&prm, &d[i]))) {
            bad(r, "config", sigil_strerror(rc));
            goto out;
        }
        /* polynomial: signing_key = a_0, coefficient(s) = a_1.. */
        snprintf(field, sizeof(field), "inputs.%u.signing_key", i + 1);
        if (scalar_hex(r, g, field, json_object_get(p[i], "signing_key"), &coeffs[i][0]))
            goto out;
        json_t *jc = json_object_get(p[i], "coefficient");
        if (jc == NULL)
            jc = json_object_get(p[i], "coefficients");
        for (long k = 1; k < t; k++) {
            json_t *e = json_is_array(jc) ? json_array_get(jc, (size_t)k - 1) : (k == 1 ? jc : NULL);
            snprintf(field, sizeof(field), "inputs.%u.coefficient", i + 1);
            if (scalar_hex(r, g, field, e, &coeffs[i][k]))
                goto out;
        }
        if (sigil_buf_init(&r1[i], 4096, 0) || (rc = sigil_dkg_round1(d[i], coeffs[i], NULL, &r1[i]))) {
            bad(r, field, "round 1 failed");
            goto out;
        }
        /* commitments must match; the vector's proof of knowledge replaces ours */
        json_t *vc = json_object_get(p[i], "vss_commitments");
        const sigil_point *cm = sigil_dkg_commitments(d[i], i);
        if (json_array_size(vc) != (size_t)t) {
            snprintf(field, sizeof(field), "inputs.%u.vss_commitments", i + 1);
            bad(r, field, "need MIN_PARTICIPANTS entries");
            goto out;
        }
        for (long k = 0; k < t; k++) {
            sigil_point_serialize(g, buf, &cm[k]);
            snprintf(field, sizeof(field), "inputs.%u.vss_commitments[%ld]", i + 1, k);
            if (check_hex(r, field, buf, pl, json_array_get(vc, (size_t)k)))
                goto out;
        }
        uint8_t pok[65];
        snprintf(field, sizeof(field), "inputs.%u.proof_of_knowledge", i + 1);
        if (get_hex(r, field, json_object_get(p[i], "proof_of_knowledge"), pok, pl + 32))
            goto out;
        if ((rc = sigil_dkg_verify_pok(g, ctx, &ids[i], &cm[0], pok, pl + 32))) {
            bad(r, field, sigil_strerror(rc));
            goto out;
        }
        /* the round-1 message built from the vector's own fields */
        sigil_buf_init(&vr1[i], 4096, 0);
        sigil_buf_put(&vr1[i], sigil_buf_ptr(&r1[i]), sigil_buf_len(&r1[i]) - (pl + 32));
        sigil_buf_put(&vr1[i], pok, pl + 32);
    }
    /* round 2 on the vector's messages: PoKs verified by every participant */
    for (uint32_t i = 0; i < n; i++) {
        uint32_t culprit;
        for (uint32_t j = 0; j < n; j++)
            sigil_buf_init(&sh[i][j], 256, SIGIL_BUF_SECRET);
        if ((rc = sigil_dkg_round2(d[i], vr1, sh[i], &culprit))) {
            snprintf(field, sizeof(field), "inputs.%u.proof_of_knowledge", culprit + 1);
            bad(r, field, sigil_strerror(rc));
            goto out;
        }
    }
    /* inputs.I.signing_shares.J is the share participant I received from J */
    for (uint32_t i = 0; i < n; i++) {
        json_t *ss = json_object_get(p[i], "signing_shares");
        for (uint32_t j = 0; j < n; j++) {
            if (j == i)
                continue;
            snprintf(key, sizeof(key), "%u", j + 1);
            snprintf(field, sizeof(field), "inputs.%u.signing_shares.%u", i + 1, j + 1);
            /* message: type || from || to || share */
            if (sigil_buf_len(&sh[j][i]) != 97 ||
                check_hex(r, field, sigil_buf_ptr(&sh[j][i]) + 65, 32, json_object_get(ss, key)))
                goto out;
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        sigil_buf inbox[64];
        uint32_t culprit;
        for (uint32_t j = 0; j < n; j++)
            sigil_buf_view(&inbox[j], sigil_buf_ptr(&sh[j][i]), sigil_buf_len(&sh[j][i]));
        sigil_buf_init(&conf[i], 4096, 0);
        if ((rc = sigil_dkg_round3(d[i], inbox, &conf[i], &culprit))) {
            snprintf(field, sizeof(field), "inputs.%u.signing_shares", culprit + 1);
            bad(r, field, sigil_strerror(rc));
            goto out;
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t culprit;
        if ((rc = sigil_dkg_finish(d[i], conf, &ks[i], &culprit))) {
            snprintf(field, sizeof(field), "inputs.%u.verifying_share", culprit + 1);
            bad(r, field, sigil_strerror(rc));
            goto out;
        }
        sigil_scalar_serialize(g, buf, ks[i].secret);
        snprintf(field, sizeof(field), "inputs.%u.signing_share", i + 1);
        if (check_hex(r, field, buf, 32, json_object_get(p[i], "signing_share")))
            goto out;
        for (uint32_t j = 0; j < n; j++) {
            sigil_point_serialize(g, buf, &ks[i].verifying[j]);
            snprintf(field, sizeof(field), "inputs.%u.verifying_share", j + 1);
            if (check_hex(r, field, buf, pl, json_object_get(p[j], "verifying_share")))
                goto out;
        }
        sigil_point_serialize(g, buf, &ks[i].group_pk);
        if (check_hex(r, "inputs.verifying_key", buf, pl, json_object_get(in, "verifying_key")))
            goto out;
    }
    /* The Ed25519 file also carries "secret" fields that ZF FROST's own reader
     * ignores; they are neither the group secret (sum of the a_0) nor the
     * PoK nonces, so they are reported and not checked. */
    if (json_object_get(in, "secret"))
        fprintf(stderr, "%s: note: fields inputs.secret / inputs.N.secret are not part of the DKG format; not checked\n",
                r->file);
out:
    for (uint32_t i = 0; i < n; i++) {
        sigil_dkg_free(d[i]);
        sigil_buf_free(&r1[i]);
        sigil_buf_free(&vr1[i]);
        sigil_buf_free(&conf[i]);
        sigil_keyshare_free(&ks[i]);
        for (uint32_t j = 0; j < n; j++)
            sigil_buf_free(&sh[i][j]);
    }
    sodium_memzero(coeffs, sizeof(coeffs));
    json_decref(root);
    return r->failed;
}

static int run_files(int argc, char **argv, int (*fn)(run *))
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fprintf(argc < 2 ? stderr : stdout,
                "usage: sigil-vectors %s FILE...\n"
                "Runs each file through the library, checking every intermediate value;\n"
                "exits 1 naming the first field that differs.\n",
                argv[0]);
        return argc < 2 ? 2 : 0;
    }
    if (sigil_mpc_init() != SIGIL_OK) {
        fprintf(stderr, "sigil-vectors: initialisation failed\n");
        return 2;
    }
    int worst = 0;
    for (int i = 1; i < argc; i++) {
        run r = {argv[i], 0};
        int rc = fn(&r);
        if (rc == 0)
            printf("%s: ok\n", argv[i]);
        if (rc > worst)
            worst = rc;
    }
    return worst;
}

int sigil_vectors_frost(int argc, char **argv)
{
    return run_files(argc, argv, run_frost_file);
}

int sigil_vectors_frost_dkg(int argc, char **argv)
{
    return run_files(argc, argv, run_dkg_file);
}
