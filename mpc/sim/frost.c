/* sigil-sim frost-*: DKG, then signatures over random messages by random
 * signer subsets, all parties in one process, messages through their
 * encodings; each signature is verified independently (libsodium,
 * libsecp256k1, or the RFC 9591 verifier) before it is printed. */
#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sigil/err.h"
#include "sim.h"

int sigil_sim_frost_dkg(sigil_frost_suite s, uint32_t t, uint32_t n, const sigil_scalar *ids,
                        sigil_keyshare *out)
{
    const sigil_group *g = sigil_frost_group(s);
    sigil_dkg **d = calloc(n, sizeof(*d));
    sigil_buf *r1 = calloc(n, sizeof(*r1)), *conf = calloc(n, sizeof(*conf));
    sigil_buf *sh = calloc((size_t)n * n, sizeof(*sh)); /* sh[from*n + to] */
    sigil_buf *inbox = calloc(n, sizeof(*inbox));
    uint32_t culprit = SIGIL_DKG_NOBODY;
    int rc = SIGIL_E_NOMEM;
    memset(out, 0, n * sizeof(*out));
    if (!d || !r1 || !conf || !sh || !inbox)
        goto done;
    for (uint32_t i = 0; i < n; i++) {
        sigil_dkg_params p = {g, sigil_frost_context(s), t, n, ids, i};
        if ((rc = sigil_dkg_new(&p, &d[i])) || (rc = sigil_buf_init(&r1[i], 1 << 20, 0)) ||
            (rc = sigil_buf_init(&conf[i], 4096, 0)) || (rc = sigil_dkg_round1(d[i], NULL, NULL, &r1[i])))
            goto done;
    }
    for (uint32_t i = 0; i < n; i++) {
        for (uint32_t j = 0; j < n; j++)
            if ((rc = sigil_buf_init(&sh[(size_t)i * n + j], 256, SIGIL_BUF_SECRET)))
                goto done;
        if ((rc = sigil_dkg_round2(d[i], r1, &sh[(size_t)i * n], &culprit)))
            goto done;
    }
    for (uint32_t i = 0; i < n; i++) {
        for (uint32_t j = 0; j < n; j++)
            inbox[j] = sh[(size_t)j * n + i];
        if ((rc = sigil_dkg_round3(d[i], inbox, &conf[i], &culprit)))
            goto done;
    }
    for (uint32_t i = 0; i < n; i++)
        if ((rc = sigil_dkg_finish(d[i], conf, &out[i], &culprit)) || (rc = sigil_frost_prepare_key(s, &out[i])))
            goto done;
    rc = SIGIL_OK;
done:
    if (rc && culprit != SIGIL_DKG_NOBODY)
        fprintf(stderr, "dkg: participant %u misbehaved\n", culprit);
    for (uint32_t i = 0; d && i < n; i++) {
        sigil_dkg_free(d[i]);
        if (r1)
            sigil_buf_free(&r1[i]);
        if (conf)
            sigil_buf_free(&conf[i]);
        for (uint32_t j = 0; sh && j < n; j++)
            sigil_buf_free(&sh[(size_t)i * n + j]);
        if (rc)
            sigil_keyshare_free(&out[i]);
    }
    free(d);
    free(r1);
    free(conf);
    free(sh);
    free(inbox);
    return rc;
}

int sigil_sim_frost_sign(sigil_frost_suite s, sigil_keyshare *ks, const uint32_t *who, size_t k,
                         const uint8_t *msg, size_t msglen, uint8_t *sig)
{
    sigil_frost_nonce **nonce = calloc(k, sizeof(*nonce));
    sigil_buf *comm = calloc(k, sizeof(*comm)), *share = calloc(k, sizeof(*share));
    uint8_t R[SIGIL_POINT_MAX_LEN];
    size_t rlen = 0;
    uint32_t culprit;
    int rc = SIGIL_E_NOMEM;
    if (!nonce || !comm || !share)
        goto done;
    for (size_t i = 0; i < k; i++)
        if ((rc = sigil_buf_init(&comm[i], 256, 0)) || (rc = sigil_buf_init(&share[i], 128, 0)) ||
            (rc = sigil_frost_commit(s, &ks[who[i]], &nonce[i], &comm[i])))
            goto done;
    for (size_t i = 0; i < k; i++) {
        sigil_frost_package *mine;
        if ((rc = sigil_frost_package_for_signer(s, &ks[who[i]], nonce[i], msg, msglen, comm, k, &mine)))
            goto done;
        rc = sigil_frost_sign(s, &ks[who[i]], nonce[i], mine, &share[i]);
        /* the first signer reports the group commitment R with its share */
        if (rc == SIGIL_OK && i == 0)
            rc = sigil_frost_package_group_commitment(mine, R, &rlen);
        sigil_frost_package_free(mine);
        if (rc)
            goto done;
    }
    /* the coordinator aggregates with the reported R (the full package is
     * rebuilt inside only if that signature does not verify) */
    rc = sigil_frost_aggregate_with_r(s, &ks[who[0]], msg, msglen, comm, k, share, R, rlen, sig, &culprit);
done:
    for (size_t i = 0; i < k; i++) {
        if (nonce)
            sigil_frost_nonce_free(nonce[i]);
        if (comm)
            sigil_buf_free(&comm[i]);
        if (share)
            sigil_buf_free(&share[i]);
    }
    free(nonce);
    free(comm);
    free(share);
    return rc;
}

/* Verification by the reference libraries, independent of sigil_frost_verify
 * where one exists. */
static int independent_verify(sigil_frost_suite s, const uint8_t *pk, const uint8_t *msg, size_t msglen,
                              const uint8_t *sig)
{
    if (s == SIGIL_FROST_ED25519)
        return crypto_sign_verify_detached(sig, msg, msglen, pk) == 0;
    if (s == SIGIL_FROST_BIP340) {
        secp256k1_context *ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
        secp256k1_xonly_pubkey x;
        int ok = secp256k1_xonly_pubkey_parse(ctx, &x, pk) && secp256k1_schnorrsig_verify(ctx, sig, msg, msglen, &x);
        secp256k1_context_destroy(ctx);
        return ok;
    }
    return sigil_frost_verify(s, pk, 33, msg, msglen, sig, 65) == SIGIL_OK;
}

static void usage(FILE *f, const char *cmd)
{
    fprintf(f,
            "usage: sigil-sim %s --threshold T --parties N --count K\n"
            "Runs a %s DKG among N parties (random full-scalar identifiers), then K\n"
            "signatures over random 32-byte messages, each by a random subset of T to N\n"
            "signers, all in one process with every message passed through its\n"
            "encoding. Prints one JSON line per signature:\n"
            "  {\"scheme\":...,\"public_key\":hex,\"message\":hex,\"signature\":hex}\n"
            "Each signature is verified independently before it is printed.\n",
            cmd, cmd);
}

static int parse_u32(const char *s, uint32_t *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v > 100000)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

int sigil_sim_frost(int argc, char **argv)
{
    sigil_frost_suite s;
    if (!strcmp(argv[0], "frost-ed25519"))
        s = SIGIL_FROST_ED25519;
    else if (!strcmp(argv[0], "frost-secp256k1"))
        s = SIGIL_FROST_SECP256K1;
    else if (!strcmp(argv[0], "frost-bip340"))
        s = SIGIL_FROST_BIP340;
    else
        return 2;
    uint32_t t = 0, n = 0, count = 0;
    for (int i = 1; i < argc; i++) {
        uint32_t *dst = NULL;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout, argv[0]);
            return 0;
        }
        if (!strcmp(argv[i], "--threshold"))
            dst = &t;
        else if (!strcmp(argv[i], "--parties"))
            dst = &n;
        else if (!strcmp(argv[i], "--count"))
            dst = &count;
        if (dst == NULL || i + 1 >= argc || parse_u32(argv[++i], dst)) {
            usage(stderr, argv[0]);
            return 2;
        }
    }
    if (t < 1 || n < 2 || t > n || n > SIGIL_DKG_MAX_PARTIES) {
        fprintf(stderr, "sigil-sim: need 1 <= threshold <= parties, 2 <= parties <= %u\n", SIGIL_DKG_MAX_PARTIES);
        usage(stderr, argv[0]);
        return 2;
    }
    if (sigil_mpc_init() != SIGIL_OK) {
        fprintf(stderr, "sigil-sim: initialisation failed\n");
        return 1;
    }
    const sigil_group *g = sigil_frost_group(s);
    sigil_scalar *ids = calloc(n, sizeof(*ids));
    sigil_keyshare *ks = calloc(n, sizeof(*ks));
    uint32_t *perm = calloc(n, sizeof(*perm));
    int rc = 1;
    if (!ids || !ks || !perm)
        goto out;
    for (uint32_t i = 0; i < n; i++)
        sigil_scalar_random(g, &ids[i]); /* distinct with overwhelming probability; the DKG checks */
    int e = sigil_sim_frost_dkg(s, t, n, ids, ks);
    if (e) {
        fprintf(stderr, "sigil-sim: DKG failed: %s\n", sigil_strerror(e));
        goto out;
    }
    uint8_t pk[SIGIL_FROST_PK_MAX], sig[SIGIL_FROST_SIG_MAX], msg[32];
    char pkh[2 * SIGIL_FROST_PK_MAX + 1], sigh[2 * SIGIL_FROST_SIG_MAX + 1], msgh[65];
    sigil_frost_public_key(s, &ks[0], pk);
    sodium_bin2hex(pkh, sizeof(pkh), pk, sigil_frost_pk_len(s));
    for (uint32_t c = 0; c < count; c++) {
        /* random subset of size in [t, n]: partial Fisher-Yates */
        uint32_t k = t + randombytes_uniform(n - t + 1);
        for (uint32_t i = 0; i < n; i++)
            perm[i] = i;
        for (uint32_t i = 0; i < k; i++) {
            uint32_t j = i + randombytes_uniform(n - i), tmp = perm[i];
            perm[i] = perm[j];
            perm[j] = tmp;
        }
        randombytes_buf(msg, sizeof(msg));
        if ((e = sigil_sim_frost_sign(s, ks, perm, k, msg, sizeof(msg), sig))) {
            fprintf(stderr, "sigil-sim: signing failed: %s\n", sigil_strerror(e));
            goto out;
        }
        if (!independent_verify(s, pk, msg, sizeof(msg), sig)) {
            fprintf(stderr, "sigil-sim: signature %u does not verify\n", c);
            goto out;
        }
        sodium_bin2hex(sigh, sizeof(sigh), sig, sigil_frost_sig_len(s));
        sodium_bin2hex(msgh, sizeof(msgh), msg, sizeof(msg));
        printf("{\"scheme\":\"%s\",\"public_key\":\"%s\",\"message\":\"%s\",\"signature\":\"%s\"}\n",
               argv[0], pkh, msgh, sigh);
    }
    rc = 0;
out:
    for (uint32_t i = 0; ks && i < n; i++)
        sigil_keyshare_free(&ks[i]);
    free(ks);
    free(ids);
    free(perm);
    return rc;
}
