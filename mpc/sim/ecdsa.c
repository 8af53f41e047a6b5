/* sigil-sim ecdsa: DKLs23 threshold ECDSA with every party in one process:
 * DKG + pairwise OT setup, then K signatures over random 32-byte digests by
 * random signer subsets (presign + online round), every message through
 * its encoding. Each signature is verified with libsecp256k1 and by public
 * key recovery before it is printed. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sigil/ecdsa.h"
#include "sigil/err.h"
#include "sigil/group.h"
#include "sim.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sigil-sim ecdsa --threshold T --parties N --count K\n"
            "Runs a DKLs23 key generation (DKG + pairwise OT setup) among N parties\n"
            "(2 <= T <= N <= %d), then K ECDSA signatures over random 32-byte digests,\n"
            "each by a random subset of T to N signers (presign + online round), all\n"
            "in one process with every message passed through its encoding. Prints one\n"
            "JSON line per signature:\n"
            "  {\"scheme\":\"ecdsa\",\"public_key\":hex33,\"message\":hex32,\n"
            "   \"signature\":hex64 (r||s, low-s),\"recovery_id\":0..3}\n"
            "Each signature is verified (libsecp256k1, key recovery) before it is printed.\n",
            SIGIL_ECDSA_MAX_PARTIES);
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

int sigil_sim_ecdsa(int argc, char **argv)
{
    uint32_t t = 0, n = 0, count = 0;
    for (int i = 1; i < argc; i++) {
        uint32_t *dst = NULL;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--threshold"))
            dst = &t;
        else if (!strcmp(argv[i], "--parties"))
            dst = &n;
        else if (!strcmp(argv[i], "--count"))
            dst = &count;
        if (dst == NULL || i + 1 >= argc || parse_u32(argv[++i], dst)) {
            usage(stderr);
            return 2;
        }
    }
    if (t < 2 || n < 2 || t > n || n > SIGIL_ECDSA_MAX_PARTIES) {
        fprintf(stderr, "sigil-sim: need 2 <= threshold <= parties <= %d\n", SIGIL_ECDSA_MAX_PARTIES);
        usage(stderr);
        return 2;
    }
    if (sigil_mpc_init() != SIGIL_OK) {
        fprintf(stderr, "sigil-sim: initialisation failed\n");
        return 1;
    }
    sigil_ecdsa_sim *sim = NULL;
    uint16_t culprit = 0;
    int e = sigil_ecdsa_sim_keygen(&sim, t, n, NULL, &culprit);
    if (e != SIGIL_OK) {
        fprintf(stderr, "sigil-sim: key generation failed: %s (party %u)\n", sigil_strerror(e), culprit);
        return 1;
    }
    uint8_t pub[33], digest[32], sig[64], rec[33], sid[SIGIL_ECDSA_SID_LEN];
    char pubh[67], msgh[65], sigh[129];
    sigil_ecdsa_share_pubkey(sigil_ecdsa_sim_share(sim, 1), pub);
    sodium_bin2hex(pubh, sizeof pubh, pub, 33);
    int rc = 1;
    for (uint32_t c = 0; c < count; c++) {
        uint16_t perm[SIGIL_ECDSA_MAX_PARTIES], ids[SIGIL_ECDSA_MAX_PARTIES];
        sigil_ecdsa_presig *ps[SIGIL_ECDSA_MAX_PARTIES];
        uint32_t k = t + randombytes_uniform(n - t + 1);
        int recid;
        /* random subset of size k, sorted */
        for (uint32_t i = 0; i < n; i++)
            perm[i] = (uint16_t)(i + 1);
        for (uint32_t i = 0; i < k; i++) {
            uint32_t j = i + randombytes_uniform(n - i);
            uint16_t tmp = perm[i];
            perm[i] = perm[j];
            perm[j] = tmp;
        }
        size_t m = 0;
        for (uint16_t id = 1; id <= n; id++)
            for (uint32_t i = 0; i < k; i++)
                if (perm[i] == id)
                    ids[m++] = id;
        randombytes_buf(sid, sizeof sid);
        randombytes_buf(digest, sizeof digest);
        if ((e = sigil_ecdsa_sim_presign(sim, ids, k, sid, ps, NULL, &culprit)) != SIGIL_OK) {
            fprintf(stderr, "sigil-sim: presign failed: %s (party %u)\n", sigil_strerror(e), culprit);
            goto out;
        }
        e = sigil_ecdsa_sim_sign(ps, k, digest, sig, &recid, NULL, &culprit);
        for (uint32_t i = 0; i < k; i++)
            sigil_ecdsa_presig_free(ps[i]);
        if (e != SIGIL_OK) {
            fprintf(stderr, "sigil-sim: signing failed: %s (party %u)\n", sigil_strerror(e), culprit);
            goto out;
        }
        if (sigil_ecdsa_verify(pub, 33, digest, sig, 0) != SIGIL_OK ||
            sigil_ecdsa_recover(rec, digest, sig, recid) != SIGIL_OK || memcmp(rec, pub, 33) != 0) {
            fprintf(stderr, "sigil-sim: signature %u does not verify\n", c);
            goto out;
        }
        sodium_bin2hex(msgh, sizeof msgh, digest, 32);
        sodium_bin2hex(sigh, sizeof sigh, sig, 64);
        printf("{\"scheme\":\"ecdsa\",\"public_key\":\"%s\",\"message\":\"%s\",\"signature\":\"%s\","
               "\"recovery_id\":%d}\n",
               pubh, msgh, sigh, recid);
    }
    rc = 0;
out:
    sigil_ecdsa_sim_free(sim);
    return rc;
}
