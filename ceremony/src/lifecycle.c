/* sigil-ceremony refresh / retire: approved key lifecycle operations sent
 * to the coordinator's /sigil.v1.Admin/Refresh and /sigil.v1.Admin/Retire
 * (coordinator/src/lifecycle.c), which check the approvals, as does every
 * node. Statements: `propose refresh KEY` / `propose retire KEY`
 * (ceremony.c), params_hash = SHA-256(RefreshRequest | RetireRequest with
 * key_id only). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "ceremony.h"
#include "sigil/err.h"
#include "sigil/v1/admin.pb-c.h"

#define REFRESH_METHOD "/sigil.v1.Admin/Refresh"
#define RETIRE_METHOD "/sigil.v1.Admin/Retire"

int cer_lc_params_hash(const char *op, const char *key_id, uint8_t h[32])
{
    Sigil__V1__RefreshRequest rf = SIGIL__V1__REFRESH_REQUEST__INIT;
    Sigil__V1__RetireRequest rt = SIGIL__V1__RETIRE_REQUEST__INIT;
    sigil_buf b;
    if (!key_id || sigil_rpc_key_id_check(key_id))
        return -1;
    rf.key_id = rt.key_id = (char *)key_id;
    if (sigil_buf_init(&b, 1024, 0))
        return -1;
    int rc = sigil_rpc_pack(!strcmp(op, "retire") ? &rt.base : &rf.base, &b);
    if (rc == SIGIL_OK)
        crypto_hash_sha256(h, b.data, b.size);
    sigil_buf_free(&b);
    return rc ? -1 : 0;
}

int cer_lc_params_check(const Sigil__V1__ApprovalStatement *st)
{
    uint8_t h[32];
    if (cer_lc_params_hash(st->action, st->key_id, h) || st->params_hash.len != 32 ||
        sodium_memcmp(h, st->params_hash.data, 32))
        return -1;
    return 0;
}

static const char refresh_help[] =
    "usage: sigil-ceremony refresh STATEMENT --approval FILE... [--officer NAME] [--yes]\n"
    "\n"
    "Proactive share refresh of one key, approved by k of m officers (propose\n"
    "refresh KEY; approve). Every node that holds a share of the key takes part:\n"
    "each re-randomizes its share (the public key stays exactly the same), seals\n"
    "the new share as the next share version, and switches to it only when every\n"
    "node has its new share sealed; old shares then stop working and are wiped.\n"
    "All share holders must be reachable, otherwise nothing changes and the\n"
    "approvals stay usable. Signing with the key pauses for the few seconds the\n"
    "refresh takes (wallets get UNAVAILABLE, retry).\n"
    "Asks you to type the key id (--yes skips it for automation).\n"
    "\n"
    "example:\n"
    "  sigil-ceremony propose refresh hot-ed --out rf.stmt\n"
    "  sigil-ceremony approve rf.stmt --officer carol --out c.apr\n"
    "  sigil-ceremony approve rf.stmt --officer dave --out d.apr\n"
    "  sigil-ceremony refresh rf.stmt --approval c.apr --approval d.apr\n";

static const char retire_help[] =
    "usage: sigil-ceremony retire STATEMENT --approval FILE... [--officer NAME] [--yes]\n"
    "\n"
    "Retires one key for good, approved by k of m officers (propose retire KEY;\n"
    "approve): the coordinator marks it retired (it never signs again; its public\n"
    "key stays available through GetPublicKey / ListKeys for verification) and\n"
    "every node destroys its share (sealed blob overwritten with zeros, fsync'ed,\n"
    "removed). Every node checks the approvals itself. Irreversible.\n"
    "Asks you to type the key id (--yes skips it for automation).\n"
    "\n"
    "example:\n"
    "  sigil-ceremony propose retire old-key --out rt.stmt\n"
    "  sigil-ceremony approve rt.stmt --officer carol --out c.apr\n"
    "  sigil-ceremony approve rt.stmt --officer dave --out d.apr\n"
    "  sigil-ceremony retire rt.stmt --approval c.apr --approval d.apr\n";

int cer_cmd_lifecycle(cluster *c, const char *op, int argc, char **argv)
{
    int retire = !strcmp(op, "retire");
    const char *stmt_path = NULL, *officer = NULL;
    char *files[MAX_OFFICERS * 2];
    int nf = 0, skip = 0, yes = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(retire ? retire_help : refresh_help, stdout);
            return 0;
        } else if (!strcmp(a, "--skip-local-check")) /* tests: show the servers refuse too */
            skip = 1;
        else if (!strcmp(a, "--yes"))
            yes = 1;
        else if (a[0] != '-' && !stmt_path)
            stmt_path = a;
        else if (i + 1 >= argc)
            return fail(2, "%s: %s needs a value (see %s --help)", op, a, op);
        else if (!strcmp(a, "--approval") && nf < MAX_OFFICERS * 2)
            files[nf++] = argv[++i];
        else if (!strcmp(a, "--officer"))
            officer = argv[++i];
        else
            return fail(2, "%s: bad option %s (see %s --help)", op, a, op);
    }
    if (!stmt_path)
        return fail(2, "%s: STATEMENT is required (see %s --help)", op, op);
    if (!nf)
        return fail(1, "%s refused: no approvals (give --approval FILE, %u needed)", op, c->k);

    stmt_file s;
    Sigil__V1__Approval ap[MAX_OFFICERS * 2], *app[MAX_OFFICERS * 2];
    char names[MAX_OFFICERS * 2][65];
    uint8_t sigs[MAX_OFFICERS * 2][64];
    if (gather(c, stmt_path, files, nf, op, 0, skip, &s, ap, app, names, sigs)) {
        json_decref(s.params);
        return 1;
    }
    json_decref(s.params);
    Sigil__V1__ApprovalStatement *st = stmt_decode(&s);
    if (!st || strcmp(st->action, op) || cer_lc_params_check(st)) {
        if (st)
            sigil_rpc_msg_free(&st->base);
        return fail(1, "%s: %s is not a %s statement with a matching key parameter hash (make "
                       "one with `sigil-ceremony propose %s KEY`)",
                    op, stmt_path, op, op);
    }
    char key[80];
    snprintf(key, sizeof key, "%s", st->key_id);
    sigil_rpc_msg_free(&st->base);

    FILE *o = g_json ? stderr : stdout;
    fprintf(o, "%s of key %s in cluster %s, approved by %d officer(s):\n", op, key, c->cluster_id,
            nf);
    if (retire)
        fprintf(o, "  every node DESTROYS its share of %s; the key never signs again;\n"
                   "  its public key stays available for verification. Irreversible.\n",
                key);
    else
        fprintf(o, "  every node re-randomizes its share of %s (same public key); signing with\n"
                   "  it pauses for a few seconds; the old shares stop working.\n",
                key);
    if (!yes) {
        char line[96];
        fprintf(stderr, "Type the key id '%s' to %s it: ", key, op);
        if (!fgets(line, sizeof line, stdin) || strncmp(line, key, strlen(key)) ||
            (line[strlen(key)] != '\n' && line[strlen(key)] != 0))
            return fail(1, "%s: not confirmed; nothing sent", op);
    }

    char ident[96];
    conn k;
    snprintf(ident, sizeof ident, "officer/%s", officer ? officer : names[0]);
    if (connect_as(c, ident, &k))
        return 1;
    ProtobufCMessage *m = NULL;
    int rc;
    if (!retire) {
        Sigil__V1__RefreshRequest req = SIGIL__V1__REFRESH_REQUEST__INIT;
        req.key_id = key;
        req.statement = (ProtobufCBinaryData){s.len, s.bytes};
        req.approvals = app;
        req.n_approvals = (size_t)nf;
        progress("refreshing the shares of %s on every node (checks, refresh rounds, commit)...", key);
        rc = rpc(&k, "refresh", REFRESH_METHOD, &req.base, &sigil__v1__refresh_response__descriptor,
                 &m);
        if (!rc) {
            Sigil__V1__RefreshResponse *r = (Sigil__V1__RefreshResponse *)m;
            Sigil__V1__KeyInfo *ki = r->key;
            char pk[2 * 65 + 1] = "";
            if (ki && ki->public_key.len <= 65)
                hex(pk, ki->public_key.data, ki->public_key.len);
            if (g_json)
                emit_json(json_pack("{s:s,s:s,s:i,s:i,s:i}", "key_id", key, "public_key", pk,
                                    "old_share_version", (int)r->old_share_version,
                                    "share_version", ki ? (int)ki->share_version : 0, "approvals",
                                    nf));
            else
                printf("key %s refreshed: share version %u -> %u, public key %s unchanged\n", key,
                       r->old_share_version, ki ? ki->share_version : 0, pk);
        }
    } else {
        Sigil__V1__RetireRequest req = SIGIL__V1__RETIRE_REQUEST__INIT;
        req.key_id = key;
        req.statement = (ProtobufCBinaryData){s.len, s.bytes};
        req.approvals = app;
        req.n_approvals = (size_t)nf;
        progress("retiring %s: the coordinator marks it retired, every node destroys its share...",
                 key);
        rc = rpc(&k, "retire", RETIRE_METHOD, &req.base, &sigil__v1__retire_response__descriptor,
                 &m);
        if (!rc) {
            Sigil__V1__RetireResponse *r = (Sigil__V1__RetireResponse *)m;
            Sigil__V1__KeyInfo *ki = r->key;
            char pk[2 * 65 + 1] = "";
            size_t ok = 0;
            if (ki && ki->public_key.len <= 65)
                hex(pk, ki->public_key.data, ki->public_key.len);
            for (size_t i = 0; i < r->n_peers; i++)
                ok += r->peers[i]->ok;
            if (g_json)
                emit_json(json_pack("{s:s,s:s,s:s,s:i,s:i}", "key_id", key, "state", "retired",
                                    "public_key", pk, "nodes_destroyed", (int)ok, "nodes",
                                    (int)r->n_peers));
            else {
                printf("key %s retired: shares destroyed on %zu of %zu nodes; public key %s kept "
                       "for verification\n",
                       key, ok, r->n_peers, pk);
                for (size_t i = 0; i < r->n_peers; i++)
                    if (!r->peers[i]->ok)
                        printf("  %s: NOT destroyed: %s\n", r->peers[i]->identity,
                               r->peers[i]->detail);
            }
            if (ok < r->n_peers)
                rc = fail(1, "retire: %zu node(s) still hold a share; once they are reachable, "
                             "propose and approve a new retire statement for %s and run retire "
                             "again (the key stays retired meanwhile)",
                          r->n_peers - ok, key);
        }
    }
    if (m)
        sigil_rpc_msg_free(m);
    sigil_rpc_client_free(k.rpc);
    return rc;
}
