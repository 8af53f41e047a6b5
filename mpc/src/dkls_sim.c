/* In-process driver for DKLs23 ECDSA (see ecdsa.h): runs every party of
 * key generation, refresh, presigning and signing in one process, passing
 * every message through its encoding. No I/O; used by sigil-sim,
 * sigil-bench and the tests. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "sigil/dkg.h"
#include "sigil/ecdsa.h"
#include "sigil/err.h"
#include "sigil/group.h"

#define MAXP SIGIL_ECDSA_MAX_PARTIES
#define BUFMAX (SIGIL_ECDSA_MAX_PAYLOAD + 64)

struct sigil_ecdsa_sim {
    unsigned t, n;
    sigil_ecdsa_share *share[MAXP];
};

/* n x n message matrix: m[a * n + k] = message of party a to its k-th
 * peer (or, for inboxes, from its k-th peer). */
typedef struct {
    sigil_buf *m;
    size_t n;
} matrix;

static int mat_new(matrix *x, size_t n, size_t max, unsigned flags)
{
    x->n = n;
    x->m = calloc(n * n, sizeof *x->m);
    if (x->m == NULL)
        return SIGIL_E_NOMEM;
    for (size_t i = 0; i < n * n; i++) {
        int rc = sigil_buf_init(&x->m[i], max, flags);
        if (rc != SIGIL_OK)
            return rc;
    }
    return SIGIL_OK;
}

static void mat_free(matrix *x)
{
    if (x->m == NULL)
        return;
    for (size_t i = 0; i < x->n * x->n; i++)
        sigil_buf_free(&x->m[i]);
    free(x->m);
    x->m = NULL;
}

/* Deliver out (per sender, per peer index) into in (per receiver, per peer
 * index); ids sorted. Counts bytes sent. */
static int route(const matrix *out, matrix *in, const uint16_t *ids, size_t count,
                 sigil_ecdsa_sim_stats *stats)
{
    for (size_t a = 0; a < count; a++) {
        size_t k = 0;
        for (size_t b = 0; b < count; b++) {
            if (b == a)
                continue;
            /* a's index among b's peers */
            size_t kk = a < b ? a : a - 1;
            sigil_buf *dst = &in->m[b * in->n + kk];
            const sigil_buf *src = &out->m[a * out->n + k];
            sigil_buf_reset(dst);
            int rc = sigil_buf_put(dst, src->data, src->size);
            if (rc != SIGIL_OK)
                return rc;
            if (stats)
                stats->sent[ids[a] - 1] += src->size;
            k++;
        }
    }
    for (size_t a = 0; a < count; a++)
        for (size_t k = 0; k < out->n; k++)
            sigil_buf_reset(&out->m[a * out->n + k]);
    return SIGIL_OK;
}

static sigil_ecdsa_sim *sim_new(unsigned t, unsigned n)
{
    sigil_ecdsa_sim *s = calloc(1, sizeof *s);
    if (s != NULL) {
        s->t = t;
        s->n = n;
    }
    return s;
}

void sigil_ecdsa_sim_free(sigil_ecdsa_sim *sim)
{
    if (sim == NULL)
        return;
    for (unsigned i = 0; i < MAXP; i++)
        sigil_ecdsa_share_free(sim->share[i]);
    free(sim);
}

sigil_ecdsa_share *sigil_ecdsa_sim_share(sigil_ecdsa_sim *sim, uint16_t id)
{
    if (sim == NULL || id == 0 || id > sim->n)
        return NULL;
    return sim->share[id - 1];
}

unsigned sigil_ecdsa_sim_parties(const sigil_ecdsa_sim *sim)
{
    return sim ? sim->n : 0;
}

/* The pairwise setup for keyshares ks[0..n-1]; shares out[0..n-1]. */
static int run_setup(sigil_ecdsa_keyshare **ks, unsigned n, sigil_ecdsa_share **out,
                     sigil_ecdsa_sim_stats *stats, uint16_t *culprit)
{
    sigil_ecdsa_setup *st[MAXP] = {0};
    uint16_t ids[MAXP] = {0};
    uint8_t sid[SIGIL_ECDSA_SID_LEN];
    matrix mo = {0}, mi = {0};
    int rc;
    randombytes_buf(sid, sizeof sid);
    for (unsigned i = 0; i < n; i++)
        ids[i] = (uint16_t)(i + 1);
    if ((rc = mat_new(&mo, n, BUFMAX, 0)) != SIGIL_OK || (rc = mat_new(&mi, n, BUFMAX, 0)) != SIGIL_OK)
        goto done;
    for (unsigned i = 0; i < n; i++)
        if ((rc = sigil_ecdsa_setup_new(&st[i], ks[i], sid)) != SIGIL_OK)
            goto done;
    for (unsigned i = 0; i < n; i++)
        if ((rc = sigil_ecdsa_setup_round1(st[i], &mo.m[i * n])) != SIGIL_OK)
            goto done;
    if ((rc = route(&mo, &mi, ids, n, stats)) != SIGIL_OK)
        goto done;
    for (unsigned i = 0; i < n; i++)
        if ((rc = sigil_ecdsa_setup_round2(st[i], &mi.m[i * n], &mo.m[i * n], culprit)) != SIGIL_OK)
            goto done;
    if ((rc = route(&mo, &mi, ids, n, stats)) != SIGIL_OK)
        goto done;
    for (unsigned i = 0; i < n; i++)
        if ((rc = sigil_ecdsa_setup_round3(st[i], &mi.m[i * n], &mo.m[i * n], culprit)) != SIGIL_OK)
            goto done;
    if ((rc = route(&mo, &mi, ids, n, stats)) != SIGIL_OK)
        goto done;
    for (unsigned i = 0; i < n; i++)
        if ((rc = sigil_ecdsa_setup_finish(st[i], &mi.m[i * n], &out[i], culprit)) != SIGIL_OK)
            goto done;
done:
    for (unsigned i = 0; i < n; i++)
        sigil_ecdsa_setup_free(st[i]);
    if (rc != SIGIL_OK)
        for (unsigned i = 0; i < n; i++) {
            sigil_ecdsa_share_free(out[i]);
            out[i] = NULL;
        }
    mat_free(&mo);
    mat_free(&mi);
    return rc;
}

/* The generic DKG over secp256k1 with ids 1..n; coeffs[i] (t scalars each)
 * or NULL for random polynomials; check: refresh check against old. */
static int run_dkg(unsigned t, unsigned n, sigil_scalar *const *coeffs, sigil_ecdsa_share **old,
                   sigil_keyshare *out, sigil_ecdsa_sim_stats *stats, uint16_t *culprit)
{
    const sigil_group *g = sigil_group_get(SIGIL_GROUP_SECP256K1);
    sigil_scalar ids[MAXP];
    sigil_dkg *d[MAXP] = {0};
    sigil_buf r1[MAXP] = {0}, conf[MAXP] = {0}, inbox[MAXP];
    sigil_buf *sh = calloc((size_t)n * n, sizeof *sh); /* sh[from * n + to] */
    uint32_t cul = SIGIL_DKG_NOBODY;
    int rc = SIGIL_E_NOMEM;
    if (sh == NULL)
        return rc;
    for (unsigned i = 0; i < n; i++)
        sigil_scalar_set_u64(g, &ids[i], i + 1);
    for (unsigned i = 0; i < n; i++) {
        sigil_dkg_params p = {g, SIGIL_ECDSA_DKG_CONTEXT, t, n, ids, i};
        if ((rc = sigil_dkg_new(&p, &d[i])) != SIGIL_OK ||
            (rc = sigil_buf_init(&r1[i], 1 << 20, 0)) != SIGIL_OK ||
            (rc = sigil_buf_init(&conf[i], 4096, 0)) != SIGIL_OK ||
            (rc = sigil_dkg_round1(d[i], coeffs ? coeffs[i] : NULL, NULL, &r1[i])) != SIGIL_OK)
            goto done;
        /* broadcast to n - 1 parties */
        if (stats)
            stats->sent[i] += (uint64_t)r1[i].size * (n - 1);
    }
    for (unsigned i = 0; i < n; i++) {
        for (unsigned j = 0; j < n; j++)
            if ((rc = sigil_buf_init(&sh[(size_t)i * n + j], 256, SIGIL_BUF_SECRET)) != SIGIL_OK)
                goto done;
        if ((rc = sigil_dkg_round2(d[i], r1, &sh[(size_t)i * n], &cul)) != SIGIL_OK)
            goto done;
        for (unsigned j = 0; j < n; j++)
            if (stats && j != i)
                stats->sent[i] += sh[(size_t)i * n + j].size;
        if (old != NULL) {
            uint16_t c16 = 0;
            if ((rc = sigil_ecdsa_refresh_check(old[i], d[i], &c16)) != SIGIL_OK) {
                cul = c16 ? (uint32_t)c16 - 1 : SIGIL_DKG_NOBODY;
                goto done;
            }
        }
    }
    for (unsigned i = 0; i < n; i++) {
        for (unsigned j = 0; j < n; j++)
            inbox[j] = sh[(size_t)j * n + i];
        if ((rc = sigil_dkg_round3(d[i], inbox, &conf[i], &cul)) != SIGIL_OK)
            goto done;
        if (stats)
            stats->sent[i] += (uint64_t)conf[i].size * (n - 1);
    }
    for (unsigned i = 0; i < n; i++)
        if ((rc = sigil_dkg_finish(d[i], conf, &out[i], &cul)) != SIGIL_OK)
            goto done;
    rc = SIGIL_OK;
done:
    if (culprit)
        *culprit = (rc != SIGIL_OK && cul != SIGIL_DKG_NOBODY) ? (uint16_t)(cul + 1) : 0;
    for (unsigned i = 0; i < n; i++) {
        sigil_dkg_free(d[i]);
        sigil_buf_free(&r1[i]);
        sigil_buf_free(&conf[i]);
        for (unsigned j = 0; j < n; j++)
            sigil_buf_free(&sh[(size_t)i * n + j]);
        if (rc != SIGIL_OK)
            sigil_keyshare_free(&out[i]);
    }
    free(sh);
    return rc;
}

static int check_tn(unsigned t, unsigned n)
{
    return n >= 2 && n <= MAXP && t >= 2 && t <= n;
}

int sigil_ecdsa_sim_keygen(sigil_ecdsa_sim **out, unsigned t, unsigned n,
                           sigil_ecdsa_sim_stats *stats, uint16_t *culprit)
{
    sigil_keyshare dk[MAXP];
    sigil_ecdsa_keyshare *ks[MAXP] = {0};
    uint16_t dummy;
    int rc;
    if (culprit == NULL)
        culprit = &dummy;
    *culprit = 0;
    if (out == NULL)
        return SIGIL_E_INVALID;
    *out = NULL;
    if (!check_tn(t, n))
        return SIGIL_E_THRESHOLD;
    if (stats)
        memset(stats, 0, sizeof *stats);
    sigil_ecdsa_sim *s = sim_new(t, n);
    if (s == NULL)
        return SIGIL_E_NOMEM;
    memset(dk, 0, sizeof dk);
    if ((rc = run_dkg(t, n, NULL, NULL, dk, stats, culprit)) != SIGIL_OK)
        goto done;
    for (unsigned i = 0; i < n; i++)
        if ((rc = sigil_ecdsa_keyshare_from_dkg_share(&ks[i], &dk[i])) != SIGIL_OK)
            goto done;
    rc = run_setup(ks, n, s->share, stats, culprit);
done:
    for (unsigned i = 0; i < n; i++) {
        sigil_keyshare_free(&dk[i]);
        sigil_ecdsa_keyshare_free(ks[i]);
    }
    if (rc != SIGIL_OK)
        sigil_ecdsa_sim_free(s);
    else
        *out = s;
    return rc;
}

int sigil_ecdsa_sim_import(sigil_ecdsa_sim **out, const uint8_t sk[32], unsigned t, unsigned n,
                           uint16_t *culprit)
{
    sigil_ecdsa_keyshare *ks[MAXP] = {0};
    uint16_t dummy;
    int rc;
    if (culprit == NULL)
        culprit = &dummy;
    *culprit = 0;
    if (out == NULL || sk == NULL)
        return SIGIL_E_INVALID;
    *out = NULL;
    if (!check_tn(t, n))
        return SIGIL_E_THRESHOLD;
    sigil_ecdsa_sim *s = sim_new(t, n);
    if (s == NULL)
        return SIGIL_E_NOMEM;
    if ((rc = sigil_ecdsa_dealer_split(ks, sk, t, n)) == SIGIL_OK)
        rc = run_setup(ks, n, s->share, NULL, culprit);
    for (unsigned i = 0; i < n; i++)
        sigil_ecdsa_keyshare_free(ks[i]);
    if (rc != SIGIL_OK)
        sigil_ecdsa_sim_free(s);
    else
        *out = s;
    return rc;
}

int sigil_ecdsa_sim_refresh(sigil_ecdsa_sim *sim, sigil_ecdsa_sim_stats *stats, uint16_t *culprit)
{
    sigil_keyshare dk[MAXP];
    sigil_ecdsa_keyshare *ks[MAXP] = {0};
    sigil_ecdsa_share *fresh[MAXP] = {0};
    sigil_scalar *coeffs[MAXP] = {0};
    uint16_t dummy;
    int rc = SIGIL_OK;
    if (culprit == NULL)
        culprit = &dummy;
    *culprit = 0;
    if (sim == NULL)
        return SIGIL_E_INVALID;
    if (stats)
        memset(stats, 0, sizeof *stats);
    memset(dk, 0, sizeof dk);
    unsigned n = sim->n, t = sim->t;
    for (unsigned i = 0; i < n && rc == SIGIL_OK; i++) {
        coeffs[i] = sodium_malloc(t * sizeof(sigil_scalar));
        if (coeffs[i] == NULL)
            rc = SIGIL_E_NOMEM;
        else
            rc = sigil_ecdsa_refresh_coeffs(sim->share[i], coeffs[i]);
    }
    if (rc != SIGIL_OK)
        goto done;
    if ((rc = run_dkg(t, n, coeffs, sim->share, dk, stats, culprit)) != SIGIL_OK)
        goto done;
    for (unsigned i = 0; i < n; i++)
        if ((rc = sigil_ecdsa_keyshare_from_refresh(&ks[i], sim->share[i], &dk[i])) != SIGIL_OK)
            goto done;
    if ((rc = run_setup(ks, n, fresh, stats, culprit)) != SIGIL_OK)
        goto done;
    for (unsigned i = 0; i < n; i++) {
        sigil_ecdsa_share_free(sim->share[i]);
        sim->share[i] = fresh[i];
    }
done:
    for (unsigned i = 0; i < n; i++) {
        if (coeffs[i])
            sodium_free(coeffs[i]);
        sigil_keyshare_free(&dk[i]);
        sigil_ecdsa_keyshare_free(ks[i]);
    }
    return rc;
}

int sigil_ecdsa_sim_presign(sigil_ecdsa_sim *sim, const uint16_t *signers, size_t count,
                            const uint8_t sid[SIGIL_ECDSA_SID_LEN], sigil_ecdsa_presig **ps,
                            sigil_ecdsa_sim_stats *stats, uint16_t *culprit)
{
    sigil_ecdsa_presign *st[MAXP] = {0};
    matrix mo = {0}, mi = {0};
    uint16_t dummy;
    int rc;
    if (culprit == NULL)
        culprit = &dummy;
    *culprit = 0;
    if (sim == NULL || signers == NULL || ps == NULL || sid == NULL || count < 2 || count > sim->n)
        return SIGIL_E_INVALID;
    if (stats)
        memset(stats, 0, sizeof *stats);
    for (size_t i = 0; i < count; i++) {
        ps[i] = NULL;
        if (signers[i] == 0 || signers[i] > sim->n)
            return SIGIL_E_PARTICIPANT;
    }
    if ((rc = mat_new(&mo, count, BUFMAX, 0)) != SIGIL_OK ||
        (rc = mat_new(&mi, count, BUFMAX, 0)) != SIGIL_OK)
        goto done;
    for (size_t i = 0; i < count; i++)
        if ((rc = sigil_ecdsa_presign_new(&st[i], sim->share[signers[i] - 1], sid, signers, count)) !=
            SIGIL_OK)
            goto done;
    for (size_t i = 0; i < count; i++)
        if ((rc = sigil_ecdsa_presign_round1(st[i], &mo.m[i * count])) != SIGIL_OK)
            goto done;
    if ((rc = route(&mo, &mi, signers, count, stats)) != SIGIL_OK)
        goto done;
    for (size_t i = 0; i < count; i++)
        if ((rc = sigil_ecdsa_presign_round2(st[i], &mi.m[i * count], &mo.m[i * count], culprit)) !=
            SIGIL_OK)
            goto done;
    if ((rc = route(&mo, &mi, signers, count, stats)) != SIGIL_OK)
        goto done;
    for (size_t i = 0; i < count; i++)
        if ((rc = sigil_ecdsa_presign_finish(st[i], &mi.m[i * count], &ps[i], culprit)) != SIGIL_OK)
            goto done;
done:
    for (size_t i = 0; i < count; i++)
        sigil_ecdsa_presign_free(st[i]);
    if (rc != SIGIL_OK)
        for (size_t i = 0; i < count; i++) {
            sigil_ecdsa_presig_free(ps[i]);
            ps[i] = NULL;
        }
    mat_free(&mo);
    mat_free(&mi);
    return rc;
}

int sigil_ecdsa_sim_sign(sigil_ecdsa_presig **ps, size_t count, const uint8_t digest[32],
                         uint8_t sig[64], int *recid, sigil_ecdsa_sim_stats *stats,
                         uint16_t *culprit)
{
    sigil_buf msgs[MAXP];
    sigil_ecdsa_combiner comb;
    int rc = SIGIL_OK;
    size_t made = 0;
    if (ps == NULL || digest == NULL || sig == NULL || recid == NULL || count < 2 || count > MAXP)
        return SIGIL_E_INVALID;
    if (stats)
        memset(stats, 0, sizeof *stats);
    for (size_t i = 0; i < count && rc == SIGIL_OK; i++) {
        sigil_ecdsa_combiner c;
        if ((rc = sigil_buf_init(&msgs[i], 256, 0)) != SIGIL_OK)
            break;
        made++;
        rc = sigil_ecdsa_sign_share(ps[i], digest, &msgs[i], &c);
        if (i == 0)
            comb = c;
        if (rc == SIGIL_OK && stats)
            stats->sent[c.signers[i] - 1] += (uint64_t)msgs[i].size * (count - 1);
    }
    if (rc == SIGIL_OK)
        rc = sigil_ecdsa_combine(&comb, msgs, sig, recid, culprit);
    for (size_t i = 0; i < made; i++)
        sigil_buf_free(&msgs[i]);
    return rc;
}
