/* sigil-ceremony backup / restore (signer-node/include/sigil/backup.h).
 *
 *   backup-key --officer NAME      RSA-3072 backup key in NAME's token
 *                                  (decrypt only, never extractable),
 *                                  certified by NAME's Ed25519 key
 *   propose backup KEY             statement binding every officer's key
 *   backup STMT --approval ...     every share holder exports its section
 *                                  (checked against the identity keys of init)
 *   replace-node N                 new token + identity key for node N
 *   propose restore KEY --node N --backup FILE
 *   restore-piece STMT --backup FILE --officer NAME
 *                                  NAME decrypts its piece in its token and
 *                                  re-encrypts it to node N's envelope key
 *   restore STMT --backup FILE --approval ... --piece ...
 *
 * The share never exists in clear outside a node; a piece exists in clear
 * only in this process's locked memory between the token's decryption and
 * the re-encryption to the node. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "ceremony.h"
#include "sigil/backup.h"
#include "sigil/coord.h"
#include "sigil/dealing.h"
#include "sigil/err.h"
#include "sigil/hsm.h"
#include "sigil/v1/admin.pb-c.h"

#define STMT_FORMAT "sigil-statement-v1"
#define BACKUP_KEY_LABEL "sigil-backup"
#define OFFICER_KEY_LABEL "sigil-officer"
#define RSA_BITS 3072

static char *hexdup(const uint8_t *p, size_t n)
{
    char *h = malloc(2 * n + 1);
    if (h)
        hex(h, p, n);
    return h;
}

/* Read a JSON file's string field as bytes (malloc'ed). */
static uint8_t *json_hex(json_t *o, const char *field, size_t *n)
{
    const char *s = json_string_value(json_object_get(o, field));
    if (!s)
        return NULL;
    size_t cap = strlen(s) / 2 + 1;
    uint8_t *b = malloc(cap);
    if (b && unhex(s, b, cap, n)) {
        free(b);
        b = NULL;
    }
    return b;
}

static int write_json(const char *path, json_t *o, int mode)
{
    char *text = json_dumps(o, JSON_INDENT(2));
    json_decref(o);
    int rc = text ? write_text(path, mode, 1, text) : -1;
    free(text);
    if (rc == SIGIL_E_EXISTS)
        return fail(1, "%s exists; choose another --out (never overwritten)", path);
    return rc ? fail(1, "cannot write %s", path) : 0;
}

/* ---- officer backup keys ---- */

static int load_backup_keys(cluster *c, sigil_backup_key *keys, size_t *m)
{
    /* every officer of cluster.json, ascending names */
    const sigil_breaker_officer *ofs[MAX_OFFICERS];
    for (size_t i = 0; i < c->m; i++)
        ofs[i] = &c->officers[i];
    for (size_t i = 1; i < c->m; i++)
        for (size_t j = i; j > 0 && strcmp(ofs[j - 1]->name, ofs[j]->name) > 0; j--) {
            const sigil_breaker_officer *t = ofs[j];
            ofs[j] = ofs[j - 1];
            ofs[j - 1] = t;
        }
    for (size_t i = 0; i < c->m; i++) {
        char path[CER_PATH_MAX + 128];
        json_error_t je;
        snprintf(path, sizeof path, "%s/officers/%s/backup-key.json", c->dir, ofs[i]->name);
        json_t *r = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
        if (!r)
            return fail(1, "officer %s has no backup key (%s); run `sigil-ceremony backup-key "
                           "--officer %s` first", ofs[i]->name, je.text, ofs[i]->name);
        sigil_backup_key *k = &keys[i];
        memset(k, 0, sizeof *k);
        snprintf(k->name, sizeof k->name, "%s", ofs[i]->name);
        size_t sl = 0;
        int bad = unhex(json_string_value(json_object_get(r, "modulus")), k->mod, sizeof k->mod, &k->modlen) ||
                  unhex(json_string_value(json_object_get(r, "exponent")), k->exp, sizeof k->exp, &k->explen) ||
                  unhex(json_string_value(json_object_get(r, "signature")), k->sig, 64, &sl) || sl != 64;
        json_decref(r);
        sigil_buf msg;
        sigil_buf_init(&msg, 2048, 0);
        if (!bad && (sigil_backup_key_message(k, &msg) ||
                     crypto_sign_verify_detached(k->sig, msg.data, msg.size, ofs[i]->pk)))
            bad = 2;
        sigil_buf_free(&msg);
        if (bad)
            return fail(1, "%s: %s", path, bad == 2 ? "not certified by the officer's key recorded at init"
                                                    : "malformed");
    }
    *m = c->m;
    return 0;
}

static int cmd_backup_key(cluster *c, int argc, char **argv)
{
    const char *officer = argc == 2 && !strcmp(argv[0], "--officer") ? argv[1] : NULL;
    if (!officer) {
        printf("usage: sigil-ceremony backup-key --officer NAME\n\n"
               "Makes officer NAME's backup key: RSA-%d generated inside NAME's token (the\n"
               "private key decrypts only and never leaves it), certified by NAME's Ed25519\n"
               "key, written to officers/NAME/backup-key.json. Every officer needs one\n"
               "before a backup. Idempotent: an existing key is certified again.\n\n"
               "example:\n  sigil-ceremony backup-key --officer carol\n", RSA_BITS);
        return argc && !strcmp(argv[0], "--help") ? 0 : 2;
    }
    const sigil_breaker_officer *of = cluster_officer(c, officer);
    if (!of)
        return fail(1, "backup-key: %s is not an officer of cluster %s", officer, c->cluster_id);
    sigil_hsm *h = NULL;
    if (cer_officer_token(c, officer, &h))
        return 1;
    progress("generating RSA-%d in officer %s's token (a few seconds)", RSA_BITS, officer);
    int rc = sigil_hsm_create_rsa(h, BACKUP_KEY_LABEL, RSA_BITS);
    if (rc == SIGIL_E_EXISTS)
        rc = SIGIL_OK;
    sigil_backup_key k;
    memset(&k, 0, sizeof k);
    snprintf(k.name, sizeof k.name, "%s", officer);
    k.modlen = sizeof k.mod;
    k.explen = sizeof k.exp;
    if (!rc) rc = sigil_hsm_rsa_pubkey(h, BACKUP_KEY_LABEL, k.mod, &k.modlen, k.exp, &k.explen);
    sigil_buf msg;
    sigil_buf_init(&msg, 2048, 0);
    if (!rc) rc = sigil_backup_key_message(&k, &msg);
    if (!rc) rc = sigil_hsm_sign_ed25519(h, OFFICER_KEY_LABEL, msg.data, msg.size, k.sig);
    if (!rc && crypto_sign_verify_detached(k.sig, msg.data, msg.size, of->pk))
        rc = SIGIL_E_MISMATCH;
    sigil_buf_free(&msg);
    sigil_hsm_close(h);
    if (rc)
        return fail(1, "backup-key: %s", sigil_strerror(rc));
    char *mh = hexdup(k.mod, k.modlen), *eh = hexdup(k.exp, k.explen), *sh = hexdup(k.sig, 64);
    char path[CER_PATH_MAX + 128];
    snprintf(path, sizeof path, "%s/officers/%s/backup-key.json", c->dir, officer);
    unlink(path); /* re-certification replaces the public record */
    rc = write_json(path, json_pack("{s:s,s:s,s:s,s:s,s:s}", "format", "sigil-backup-key-v1",
                                    "officer", officer, "modulus", mh, "exponent", eh, "signature", sh),
                    0644);
    free(mh);
    free(eh);
    free(sh);
    if (!rc && !g_json)
        printf("officer %s: backup key RSA-%zu in the token, certified; wrote %s\n", officer,
               k.modlen * 8, path);
    if (!rc && g_json)
        emit_json(json_pack("{s:s,s:s}", "officer", officer, "backup_key_file", path));
    return rc;
}

/* ---- backup files ---- */

typedef struct {
    char key_id[SIGIL_ENV_KEY_ID_MAX + 1];
    size_t n;
    uint32_t node[MAX_NODES];
    uint8_t *sec[MAX_NODES];
    size_t sec_len[MAX_NODES];
} backup_file;

static void backup_file_free(backup_file *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->sec[i]);
    memset(b, 0, sizeof *b);
}

static int backup_file_load(const char *path, backup_file *b)
{
    json_error_t je;
    memset(b, 0, sizeof *b);
    json_t *r = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!r)
        return fail(1, "%s: %s", path, je.text);
    const char *fmt = json_string_value(json_object_get(r, "format"));
    const char *kid = json_string_value(json_object_get(r, "key_id"));
    json_t *secs = json_object_get(r, "sections");
    int bad = !fmt || strcmp(fmt, "sigil-backup-v1") || !kid || strlen(kid) > SIGIL_ENV_KEY_ID_MAX ||
              json_array_size(secs) < 1 || json_array_size(secs) > MAX_NODES;
    if (!bad)
        snprintf(b->key_id, sizeof b->key_id, "%s", kid);
    for (size_t i = 0; !bad && i < json_array_size(secs); i++) {
        json_t *o = json_array_get(secs, i);
        json_int_t id = json_integer_value(json_object_get(o, "node"));
        b->sec[i] = json_hex(o, "section", &b->sec_len[i]);
        b->node[i] = (uint32_t)id;
        b->n = i + 1;
        bad = id < 1 || id > 65535 || !b->sec[i];
    }
    json_decref(r);
    if (bad) {
        backup_file_free(b);
        return fail(1, "%s: not a sigil backup file", path);
    }
    return 0;
}

static int backup_section_of(const backup_file *b, uint32_t node, const uint8_t **p, size_t *n)
{
    for (size_t i = 0; i < b->n; i++)
        if (b->node[i] == node) {
            *p = b->sec[i];
            *n = b->sec_len[i];
            return 0;
        }
    return -1;
}

/* ---- statements ---- */

static int write_statement(cluster *c, const char *op, const char *key, const uint8_t ph[32],
                           json_t *params, uint64_t life, const char *out)
{
    Sigil__V1__ApprovalStatement s = SIGIL__V1__APPROVAL_STATEMENT__INIT;
    uint8_t nonce[32];
    randombytes_buf(nonce, sizeof nonce);
    s.action = (char *)op;
    s.cluster_id = c->cluster_id;
    s.nonce = (ProtobufCBinaryData){32, nonce};
    s.expires_unix = (uint64_t)time(NULL) + life;
    s.key_id = (char *)key;
    s.params_hash = (ProtobufCBinaryData){32, (uint8_t *)ph};
    sigil_buf b;
    sigil_buf_init(&b, SIGIL_BREAKER_STATEMENT_MAX, 0);
    if (sigil_rpc_pack(&s.base, &b)) {
        json_decref(params);
        return fail(1, "propose %s: statement too large", op);
    }
    char shex[2 * SIGIL_BREAKER_STATEMENT_MAX + 1], nhex[65];
    hex(shex, b.data, b.size);
    hex(nhex, nonce, 32);
    sigil_buf_free(&b);
    if (write_json(out, json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:s,s:o}", "format", STMT_FORMAT,
                                  "statement", shex, "action", op, "cluster_id", c->cluster_id,
                                  "key_id", key, "expires_unix", (json_int_t)s.expires_unix,
                                  "halt_epoch", (json_int_t)0, "nonce", nhex, "params", params),
                   0644))
        return 1;
    if (g_json)
        emit_json(json_pack("{s:s,s:s,s:s}", "statement_file", out, "action", op, "nonce", nhex));
    else
        printf("wrote %s (%s of %s, expires in %" PRIu64 " s). Next: each officer runs\n"
               "  sigil-ceremony approve %s --officer NAME --out NAME.approval\n",
               out, op, key, life, out);
    return 0;
}

int cer_backup_propose(cluster *c, const char *op, int argc, char **argv)
{
    const char *out = NULL, *bfile = NULL, *key;
    unsigned node = 0;
    uint64_t life = 900;
    if (argc < 1 || !strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
        printf("usage: sigil-ceremony propose backup KEY --out FILE [--expires S]\n"
               "       sigil-ceremony propose restore KEY --node N --backup FILE --out FILE\n\n"
               "backup binds KEY and every officer's certified backup key (backup-key);\n"
               "restore binds KEY, the replacement node N and N's section of the backup.\n\n"
               "examples:\n  sigil-ceremony propose backup hot-ed --out bk.stmt\n"
               "  sigil-ceremony propose restore hot-ed --node 3 --backup hot-ed.backup --out rs.stmt\n");
        return argc < 1 ? 2 : 0;
    }
    key = argv[0];
    if (key[0] == '-' || sigil_rpc_key_id_check(key))
        return fail(2, "propose %s: KEY first", op);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            return fail(2, "propose %s: %s needs a value", op, a);
        i++;
        if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--expires")) life = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--node") && !strcmp(op, "restore")) node = (unsigned)atoi(v);
        else if (!strcmp(a, "--backup") && !strcmp(op, "restore")) bfile = v;
        else return fail(2, "propose %s: bad option %s", op, a);
    }
    if (!out || life < 1 || life > 3600)
        return fail(2, "propose %s: --out FILE required; --expires 1..3600", op);
    uint8_t ph[32];
    if (!strcmp(op, "backup")) {
        sigil_backup_key keys[MAX_OFFICERS];
        size_t m = 0;
        if (load_backup_keys(c, keys, &m))
            return 1;
        sigil_buf enc;
        sigil_buf_init(&enc, 65536, 0);
        if (sigil_backup_officers_encode(keys, m, &enc)) {
            sigil_buf_free(&enc);
            return fail(1, "propose backup: officer keys not encodable");
        }
        sigil_backup_params_hash(key, c->k, enc.data, enc.size, ph);
        char *eh = hexdup(enc.data, enc.size);
        json_t *names = json_array();
        for (size_t i = 0; i < m; i++) {
            uint8_t fp[32];
            char fph[17];
            crypto_hash_sha256(fp, keys[i].mod, keys[i].modlen);
            hex(fph, fp, 8);
            json_array_append_new(names, json_pack("{s:s,s:s}", "officer", keys[i].name,
                                                   "backup_key_sha256", fph));
        }
        json_t *params = json_pack("{s:i,s:i,s:o,s:s}", "k", (int)c->k, "m", (int)m, "officers",
                                   names, "officer_keys", eh);
        free(eh);
        sigil_buf_free(&enc);
        return write_statement(c, op, key, ph, params, life, out);
    }
    backup_file b;
    const uint8_t *sec;
    size_t sl;
    if (!bfile || node < 1)
        return fail(2, "propose restore: --node N and --backup FILE are required");
    if (backup_file_load(bfile, &b))
        return 1;
    if (strcmp(b.key_id, key) || backup_section_of(&b, node, &sec, &sl)) {
        backup_file_free(&b);
        return fail(1, "propose restore: %s has no section of key %s for node %u", bfile, key, node);
    }
    sigil_backup_restore_params_hash(key, node, sec, sl, ph);
    uint8_t sh[32];
    char shx[65];
    crypto_hash_sha256(sh, sec, sl);
    hex(shx, sh, 32);
    backup_file_free(&b);
    return write_statement(c, op, key, ph, json_pack("{s:i,s:s}", "node", (int)node, "section_sha256", shx),
                           life, out);
}

int cer_backup_params_ok(const cluster *c, const stmt_file *s, const Sigil__V1__ApprovalStatement *st)
{
    uint8_t h[32];
    if (!strcmp(st->action, "backup")) {
        size_t n = 0;
        uint8_t *enc = json_hex(s->params, "officer_keys", &n);
        sigil_backup_key keys[SIGIL_BACKUP_MAX_OFFICERS];
        size_t m = 0;
        int bad = !enc || sigil_backup_officers_decode(enc, n, keys, &m) || m != c->m ||
                  json_integer_value(json_object_get(s->params, "k")) != (json_int_t)c->k;
        if (!bad)
            sigil_backup_params_hash(st->key_id, c->k, enc, n, h);
        free(enc);
        /* every key certified by its officer (as recorded in cluster.json) */
        for (size_t i = 0; !bad && i < m; i++) {
            const sigil_breaker_officer *of = cluster_officer(c, keys[i].name);
            sigil_buf msg;
            sigil_buf_init(&msg, 2048, 0);
            bad = !of || sigil_backup_key_message(&keys[i], &msg) ||
                  crypto_sign_verify_detached(keys[i].sig, msg.data, msg.size, of->pk);
            sigil_buf_free(&msg);
        }
        return bad || st->params_hash.len != 32 || sodium_memcmp(h, st->params_hash.data, 32) ? -1 : 0;
    }
    /* restore: the node and section hash shown are the signed ones */
    json_int_t node = json_integer_value(json_object_get(s->params, "node"));
    uint8_t sh[32];
    size_t shl = 0;
    if (node < 1 || node > 65535 ||
        unhex(json_string_value(json_object_get(s->params, "section_sha256")), sh, 32, &shl) ||
        shl != 32 || sigil_backup_restore_params_hash_of(st->key_id, (uint32_t)node, sh, h) ||
        st->params_hash.len != 32 || sodium_memcmp(h, st->params_hash.data, 32))
        return -1;
    return 0;
}

void cer_backup_describe(FILE *o, const cluster *c, const stmt_file *s,
                         const Sigil__V1__ApprovalStatement *st)
{
    fprintf(o, "  key         %s\n", st->key_id);
    if (!strcmp(st->action, "backup")) {
        json_t *of = json_object_get(s->params, "officers");
        fprintf(o, "  backup      every share, split %u-of-%zu to the officers' backup keys:\n", c->k,
                json_array_size(of));
        for (size_t i = 0; i < json_array_size(of); i++)
            fprintf(o, "              %s (RSA key sha256 %s...)\n",
                    json_string_value(json_object_get(json_array_get(of, i), "officer")),
                    json_string_value(json_object_get(json_array_get(of, i), "backup_key_sha256")));
    } else {
        fprintf(o, "  restore     the share of node %d (a replacement node)\n  section     sha256 %s\n",
                (int)json_integer_value(json_object_get(s->params, "node")),
                json_string_value(json_object_get(s->params, "section_sha256")));
    }
}

/* ---- backup ---- */

static int load_approved(cluster *c, const char *op, const char *stmt_path, char **files, int nf,
                         int skip, stmt_file *s, Sigil__V1__Approval *ap, Sigil__V1__Approval **app,
                         char names[][65], uint8_t sigs[][64], char *key_id)
{
    if (!nf)
        return fail(1, "%s refused: no approvals (give --approval FILE, %u needed)", op, c->k);
    if (gather(c, stmt_path, files, nf, op, 0, skip, s, ap, app, names, sigs))
        return 1;
    Sigil__V1__ApprovalStatement *st = stmt_decode(s);
    int bad = !st || strcmp(st->action, op) || cer_backup_params_ok(c, s, st);
    if (!bad)
        snprintf(key_id, SIGIL_ENV_KEY_ID_MAX + 1, "%s", st->key_id);
    if (st)
        sigil_rpc_msg_free(&st->base);
    if (bad)
        return fail(1, "%s: %s is not a %s statement with matching parameters", op, stmt_path, op);
    return 0;
}

static int cmd_backup(cluster *c, int argc, char **argv, const char *stmt_path, char **files,
                      int nf, int skip, const char *out, const char *officer)
{
    (void)argc;
    (void)argv;
    stmt_file s;
    Sigil__V1__Approval ap[MAX_OFFICERS * 2], *app[MAX_OFFICERS * 2];
    char names[MAX_OFFICERS * 2][65], key_id[SIGIL_ENV_KEY_ID_MAX + 1], ident[96];
    uint8_t sigs[MAX_OFFICERS * 2][64];
    memset(&s, 0, sizeof s);
    if (!out)
        return fail(2, "backup: --out FILE is required");
    if (load_approved(c, "backup", stmt_path, files, nf, skip, &s, ap, app, names, sigs, key_id)) {
        json_decref(s.params);
        return 1;
    }
    size_t ol = 0;
    uint8_t *officers = json_hex(s.params, "officer_keys", &ol);
    json_decref(s.params);
    uint8_t idpk[MAX_NODES + 1][32];
    int have[MAX_NODES + 1];
    conn k;
    snprintf(ident, sizeof ident, "officer/%s", officer ? officer : names[0]);
    if (!officers || cer_node_identities(c, idpk, have) || connect_as(c, ident, &k)) {
        free(officers);
        return 1;
    }
    Sigil__V1__BackupKeyRequest req = SIGIL__V1__BACKUP_KEY_REQUEST__INIT;
    req.key_id = key_id;
    req.statement = (ProtobufCBinaryData){s.len, s.bytes};
    req.approvals = app;
    req.n_approvals = (size_t)nf;
    req.officers = (ProtobufCBinaryData){ol, officers};
    progress("every share holder of %s exports its share split %u-of-%u to the officers' keys...",
             key_id, c->k, c->m);
    ProtobufCMessage *m = NULL;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = rpc(&k, "backup", "/sigil.v1.Admin/BackupKey", &req.base,
                 &sigil__v1__backup_key_response__descriptor, &m);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (!rc)
        progress("sections exported in %ld ms", (long)((t1.tv_sec - t0.tv_sec) * 1000 +
                                                       (t1.tv_nsec - t0.tv_nsec) / 1000000));
    free(officers);
    sigil_rpc_client_free(k.rpc);
    if (rc)
        return rc;
    Sigil__V1__BackupKeyResponse *r = (Sigil__V1__BackupKeyResponse *)m;
    json_t *secs = json_array();
    for (size_t i = 0; !rc && i < r->n_sections; i++) {
        sigil_backup_section sec;
        uint32_t id = r->sections[i]->node_id;
        int src = sigil_backup_section_decode(&sec, r->sections[i]->section.data,
                                              r->sections[i]->section.len);
        if (!src && (id > MAX_NODES || !have[id] || sec.node != id || strcmp(sec.key_id, key_id) ||
                     sec.k != c->k || sec.m != c->m))
            src = SIGIL_E_MISMATCH;
        if (!src) src = sigil_backup_section_verify(&sec, idpk[id]);
        if (src) {
            rc = fail(1, "backup: node %u's section is not signed by its identity key recorded at "
                         "init or does not match (%s); nothing written", id, sigil_strerror(src));
            break;
        }
        char *h = hexdup(r->sections[i]->section.data, r->sections[i]->section.len);
        json_array_append_new(secs, json_pack("{s:i,s:s}", "node", (int)id, "section", h));
        free(h);
    }
    size_t ns = r->n_sections;
    sigil_rpc_msg_free(m);
    if (rc) {
        json_decref(secs);
        return rc;
    }
    if (write_json(out, json_pack("{s:s,s:s,s:s,s:i,s:i,s:o}", "format", "sigil-backup-v1",
                                  "cluster_id", c->cluster_id, "key_id", key_id, "k", (int)c->k,
                                  "m", (int)c->m, "sections", secs),
                   0600))
        return 1;
    if (g_json)
        emit_json(json_pack("{s:s,s:s,s:i}", "key_id", key_id, "backup_file", out, "sections", (int)ns));
    else
        printf("backup of %s: %zu sections (each share split %u-of-%u, encrypted to the officers' "
               "backup keys) written to %s\n", key_id, ns, c->k, c->m, out);
    return 0;
}

/* ---- replace-node ---- */

static int replace_line(const char *path, const char *prefix, const char *line)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char outb[65536 + 256];
    size_t o = 0;
    int done = 0;
    for (char *p = buf; *p;) {
        char *e = strchr(p, '\n');
        size_t l = e ? (size_t)(e - p + 1) : strlen(p);
        if (!strncmp(p, prefix, strlen(prefix))) {
            o += (size_t)snprintf(outb + o, sizeof outb - o, "%s\n", line);
            done = 1;
        } else {
            memcpy(outb + o, p, l);
            o += l;
        }
        p += l;
    }
    outb[o] = 0;
    if (!done)
        return -1;
    char tmp[CER_PATH_MAX + 16];
    snprintf(tmp, sizeof tmp, "%s.new", path);
    unlink(tmp);
    if (write_text(tmp, 0600, 1, outb) || rename(tmp, path))
        return -1;
    return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int cmd_replace_node(cluster *c, int argc, char **argv)
{
    unsigned id = argc == 1 ? (unsigned)atoi(argv[0]) : 0;
    if (id < 1 || id > c->n) {
        printf("usage: sigil-ceremony replace-node N\n\n"
               "For a destroyed node N (its state and token gone): makes a new SoftHSM token\n"
               "for it (new sealing key and identity key) and records the new identity key in\n"
               "every node's node.conf and in coord.json. Stop node N first; restart the\n"
               "cluster afterwards (every component reads identity keys at start). The node\n"
               "then holds no share: restore each key onto it (propose restore, restore-piece,\n"
               "restore).\n\nexample:\n  sigil-ceremony replace-node 3\n");
        return argc == 1 && !strcmp(argv[0], "--help") ? 0 : 2;
    }
    char dir[CER_PATH_MAX + 64], label[32], pk[65], cmd[CER_PATH_MAX * 2 + 64], state[CER_PATH_MAX + 64];
    snprintf(dir, sizeof dir, "%s/hsm/node%u", c->dir, id);
    snprintf(state, sizeof state, "%s/node%u/state/keys", c->dir, id);
    struct stat sb;
    if (stat(state, &sb) == 0) {
        /* refuse while shares are still there: this is for a destroyed node */
        snprintf(cmd, sizeof cmd, "%s/node%u/state/keys", c->dir, id);
        if (rmdir(cmd) && errno == ENOTEMPTY)
            return fail(1, "replace-node: node %u still holds shares (%s); it is not destroyed", id, state);
    }
    snprintf(cmd, sizeof cmd, "%s/tokens", dir);
    if (nftw(cmd, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
        return fail(1, "replace-node: cannot remove the old token store %s", cmd);
    snprintf(label, sizeof label, "node%u", id);
    progress("new SoftHSM token for node %u: sealing key + identity key", id);
    if (make_token(dir, label, SIGIL_HSM_IDENTITY_LABEL, pk))
        return fail(1, "replace-node: provisioning node %u's token failed", id);
    char prefix[32], line[128];
    snprintf(prefix, sizeof prefix, "node.%u = ", id);
    snprintf(line, sizeof line, "node.%u = %s", id, pk);
    for (unsigned i = 1; i <= c->n; i++) {
        char path[CER_PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/node%u/node.conf", c->dir, i);
        if (replace_line(path, prefix, line))
            return fail(1, "replace-node: cannot update %s", path);
    }
    char path[CER_PATH_MAX + 64];
    json_error_t je;
    snprintf(path, sizeof path, "%s/coord/coord.json", c->dir);
    json_t *r = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    json_t *nodes = r ? json_object_get(r, "nodes") : NULL;
    int found = 0;
    for (size_t i = 0; i < json_array_size(nodes); i++) {
        json_t *o = json_array_get(nodes, i);
        if (json_integer_value(json_object_get(o, "id")) == (json_int_t)id) {
            json_object_set_new(o, "identity_public_key", json_string(pk));
            found = 1;
        }
    }
    char *text = found ? json_dumps(r, JSON_INDENT(2)) : NULL;
    json_decref(r);
    char tmp[CER_PATH_MAX + 80];
    snprintf(tmp, sizeof tmp, "%s.new", path);
    unlink(tmp);
    int bad = !text || write_text(tmp, 0600, 1, text) || rename(tmp, path);
    free(text);
    if (bad)
        return fail(1, "replace-node: cannot update %s", path);
    if (g_json)
        emit_json(json_pack("{s:i,s:s}", "node", (int)id, "identity_public_key", pk));
    else
        printf("node %u: new token, identity key %s recorded in every node.conf and coord.json.\n"
               "Next: restart the cluster, then restore each key onto node %u.\n", id, pk, id);
    return 0;
}

/* ---- restore ---- */

static int restore_inputs(cluster *c, const char *stmt_path, const char *bfile, stmt_file *s,
                          Sigil__V1__ApprovalStatement **st, backup_file *b, unsigned *node,
                          const uint8_t **sec, size_t *sl)
{
    if (!bfile)
        return fail(2, "--backup FILE is required");
    if (stmt_load(stmt_path, s))
        return 1;
    *st = stmt_decode(s);
    if (!*st || strcmp((*st)->action, "restore") || cer_backup_params_ok(c, s, *st))
        return fail(1, "%s is not a restore statement", stmt_path);
    if (backup_file_load(bfile, b))
        return 1;
    *node = (unsigned)json_integer_value(json_object_get(s->params, "node"));
    uint8_t ph[32];
    if (strcmp(b->key_id, (*st)->key_id) || backup_section_of(b, *node, sec, sl) ||
        sigil_backup_restore_params_hash((*st)->key_id, *node, *sec, *sl, ph) ||
        (*st)->params_hash.len != 32 || sodium_memcmp(ph, (*st)->params_hash.data, 32))
        return fail(1, "the restore statement does not match %s (another key, node or backup)", bfile);
    return 0;
}

static int cmd_restore_piece(cluster *c, const char *stmt_path, const char *bfile,
                             const char *officer, const char *out)
{
    if (!officer || !out || !stmt_path)
        return fail(2, "restore-piece: STATEMENT, --backup FILE, --officer NAME and --out FILE are required");
    if (!cluster_officer(c, officer))
        return fail(1, "restore-piece: %s is not an officer of cluster %s", officer, c->cluster_id);
    stmt_file s;
    Sigil__V1__ApprovalStatement *st = NULL;
    backup_file b;
    unsigned node = 0;
    const uint8_t *secb;
    size_t sl;
    memset(&s, 0, sizeof s);
    memset(&b, 0, sizeof b);
    int rc = restore_inputs(c, stmt_path, bfile, &s, &st, &b, &node, &secb, &sl);
    char key_id[SIGIL_ENV_KEY_ID_MAX + 1] = "";
    if (st) {
        snprintf(key_id, sizeof key_id, "%s", st->key_id);
        sigil_rpc_msg_free(&st->base);
    }
    json_decref(s.params);
    sigil_backup_section sec;
    uint32_t j = 0;
    if (!rc && sigil_backup_section_decode(&sec, secb, sl))
        rc = fail(1, "restore-piece: the backup section does not decode");
    for (uint32_t i = 0; !rc && i < sec.m; i++)
        if (!strcmp(sec.officer[i], officer))
            j = i + 1;
    if (!rc && !j)
        rc = fail(1, "restore-piece: officer %s holds no piece of this backup", officer);
    /* the replacement node's envelope key, checked against its identity key */
    uint8_t idpk[MAX_NODES + 1][32], box[32];
    int have[MAX_NODES + 1];
    conn k;
    char ident[96];
    memset(&k, 0, sizeof k);
    snprintf(ident, sizeof ident, "officer/%s", officer);
    if (!rc && (cer_node_identities(c, idpk, have) || node > MAX_NODES || !have[node] ||
                connect_as(c, ident, &k)))
        rc = 1;
    if (!rc) {
        Sigil__V1__ImportPrepareRequest preq = SIGIL__V1__IMPORT_PREPARE_REQUEST__INIT;
        Sigil__V1__ImportPrepareResponse *prep = NULL;
        preq.node_id = node;
        rc = rpc(&k, "node certificates", "/sigil.v1.Admin/ImportPrepare", &preq.base,
                 &sigil__v1__import_prepare_response__descriptor, (ProtobufCMessage **)&prep);
        sigil_env_peers *peers = NULL;
        int found = 0;
        if (!rc && !sigil_env_peers_new(&peers) && !sigil_env_peers_add(peers, node, idpk[node]))
            for (size_t i = 0; i < prep->n_nodes; i++)
                if (prep->nodes[i]->node_id == node &&
                    !sigil_env_cert_box_pk(peers, node, prep->nodes[i]->cert.data,
                                           prep->nodes[i]->cert.len, box))
                    found = 1;
        if (!rc && !found)
            rc = fail(1, "restore-piece: node %u's envelope certificate is not signed by its identity "
                         "key recorded in coord.json (replace-node) ; nothing decrypted", node);
        sigil_env_peers_free(peers);
        if (prep)
            sigil_rpc_msg_free(&prep->base);
        sigil_rpc_client_free(k.rpc);
    }
    /* decrypt piece j in the officer's token, re-encrypt it to the node */
    sigil_hsm *h = NULL;
    sigil_buf pl, body, msg;
    uint8_t *piece = sodium_malloc(32), sig[64], stmt_hash[32];
    memset(&pl, 0, sizeof pl);
    sigil_buf_view(&body, NULL, 0);
    sigil_buf_view(&msg, NULL, 0);
    crypto_hash_sha256(stmt_hash, s.bytes, s.len);
    if (!rc && (!piece || cer_officer_token(c, officer, &h)))
        rc = 1;
    if (!rc) {
        sigil_buf_init(&pl, 1024, SIGIL_BUF_SECRET);
        int hrc = sigil_hsm_rsa_oaep_decrypt(h, BACKUP_KEY_LABEL, sec.ct[j - 1], sec.ct_len[j - 1], &pl);
        if (!hrc) hrc = sigil_backup_piece_parse(pl.data, pl.size, key_id, node, sec.version, j, piece);
        sigil_scalar ps;
        sigil_point V;
        const sigil_group *g = sigil_dealing_group(sec.scheme);
        if (!hrc) hrc = sigil_scalar_parse(g, &ps, piece);
        if (!hrc) hrc = sigil_point_base_mul(g, &V, &ps);
        if (!hrc && !sigil_point_eq(g, &V, &sec.V[j - 1])) hrc = SIGIL_E_SHARE;
        sodium_memzero(&ps, sizeof ps);
        if (!hrc) hrc = sigil_buf_init(&body, SIGIL_BACKUP_PIECE_MAX, 0);
        if (!hrc) hrc = sigil_restore_piece_body(officer, j, stmt_hash, key_id, node, piece, box, &body);
        if (!hrc) hrc = sigil_buf_init(&msg, SIGIL_BACKUP_PIECE_MAX + 64, 0);
        if (!hrc) hrc = sigil_restore_piece_sign_message(body.data, body.size, &msg);
        if (!hrc) hrc = sigil_hsm_sign_ed25519(h, OFFICER_KEY_LABEL, msg.data, msg.size, sig);
        if (!hrc) hrc = sigil_buf_put(&body, sig, 64);
        if (hrc)
            rc = fail(1, "restore-piece: %s", hrc == SIGIL_E_UNSEAL ? "this officer's token cannot decrypt the piece (another backup key?)"
                                            : hrc == SIGIL_E_SHARE ? "the decrypted piece does not match the backup's commitment"
                                                                   : sigil_strerror(hrc));
    }
    if (h)
        sigil_hsm_close(h);
    sigil_buf_free(&pl);
    if (piece)
        sodium_free(piece);
    if (!rc) {
        char *ph = hexdup(body.data, body.size);
        rc = write_json(out, json_pack("{s:s,s:s,s:s,s:i,s:s}", "format", "sigil-restore-piece-v1",
                                       "officer", officer, "key_id", key_id, "node", (int)node, "piece", ph),
                        0600);
        free(ph);
    }
    sigil_buf_free(&body);
    sigil_buf_free(&msg);
    backup_file_free(&b);
    if (!rc && !g_json)
        printf("officer %s: piece %u of %s for node %u decrypted in the token and re-encrypted to "
               "node %u's envelope key: %s\n", officer, j, key_id, node, node, out);
    if (!rc && g_json)
        emit_json(json_pack("{s:s,s:i,s:s}", "officer", officer, "node", (int)node, "piece_file", out));
    return rc;
}

static int cmd_restore(cluster *c, const char *stmt_path, const char *bfile, char **files, int nf,
                       char **pieces, int np, int skip, const char *officer)
{
    stmt_file s, s2;
    Sigil__V1__Approval ap[MAX_OFFICERS * 2], *app[MAX_OFFICERS * 2];
    char names[MAX_OFFICERS * 2][65], key_id[SIGIL_ENV_KEY_ID_MAX + 1], ident[96];
    uint8_t sigs[MAX_OFFICERS * 2][64];
    Sigil__V1__ApprovalStatement *st = NULL;
    backup_file b;
    unsigned node = 0;
    const uint8_t *secb;
    size_t sl;
    memset(&s, 0, sizeof s);
    memset(&s2, 0, sizeof s2);
    memset(&b, 0, sizeof b);
    if (!stmt_path)
        return fail(2, "restore: STATEMENT is required");
    int rc = load_approved(c, "restore", stmt_path, files, nf, skip, &s, ap, app, names, sigs, key_id);
    json_decref(s.params);
    if (!rc) rc = restore_inputs(c, stmt_path, bfile, &s2, &st, &b, &node, &secb, &sl);
    json_decref(s2.params);
    if (st)
        sigil_rpc_msg_free(&st->base);
    if (!rc && np < 1)
        rc = fail(1, "restore refused: no pieces (give --piece FILE from %u officers)", c->k);
    ProtobufCBinaryData pb[MAX_OFFICERS * 2];
    size_t npb = 0;
    for (int i = 0; !rc && i < np && i < MAX_OFFICERS * 2; i++) {
        json_error_t je;
        json_t *r = json_load_file(pieces[i], JSON_REJECT_DUPLICATES, &je);
        size_t n = 0;
        uint8_t *p = r ? json_hex(r, "piece", &n) : NULL;
        json_decref(r);
        if (!p)
            rc = fail(1, "restore: %s is not a piece file", pieces[i]);
        else
            pb[npb++] = (ProtobufCBinaryData){n, p};
    }
    /* local check (the node checks again): k pieces by distinct officers */
    char seen[MAX_OFFICERS * 2][SIGIL_BACKUP_NAME_MAX + 1];
    size_t distinct = 0;
    for (size_t i = 0; !rc && i < npb; i++) {
        sigil_restore_piece r;
        if (sigil_restore_piece_decode(&r, pb[i].data, pb[i].len)) {
            rc = fail(1, "restore: %s is not a piece file", pieces[i]);
            break;
        }
        int dup = 0;
        for (size_t q = 0; q < distinct; q++)
            dup |= !strcmp(seen[q], r.officer);
        if (dup && !skip)
            rc = fail(1, "restore refused: two pieces from officer %s (a piece repeats an officer)", r.officer);
        if (!dup)
            snprintf(seen[distinct++], sizeof seen[0], "%s", r.officer);
    }
    if (!rc && !skip && distinct < c->k)
        rc = fail(1, "restore refused: pieces from %zu officers, %u needed (restore-piece by k "
                     "distinct officers)", distinct, c->k);
    conn k;
    memset(&k, 0, sizeof k);
    snprintf(ident, sizeof ident, "officer/%s", officer ? officer : names[0]);
    ProtobufCMessage *m = NULL;
    if (!rc && !connect_as(c, ident, &k)) {
        Sigil__V1__RestoreKeyRequest req = SIGIL__V1__RESTORE_KEY_REQUEST__INIT;
        req.key_id = key_id;
        req.node_id = node;
        req.statement = (ProtobufCBinaryData){s.len, s.bytes};
        req.approvals = app;
        req.n_approvals = (size_t)nf;
        req.section = (ProtobufCBinaryData){sl, (uint8_t *)secb};
        req.pieces = pb;
        req.n_pieces = npb;
        sigil_backup_section sec;
        int ecdsa = !sigil_backup_section_decode(&sec, secb, sl) && sec.scheme == SIGIL_ENV_SCHEME_ECDSA;
        progress("node %u combines %zu pieces, checks them and seals its share of %s%s...", node, npb,
                 key_id, ecdsa ? "; then every share holder runs a new DKLs23 OT setup with it (all "
                                 "pairs) and replaces its OT state" : "");
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        rc = rpc(&k, "restore", "/sigil.v1.Admin/RestoreKey", &req.base,
                 &sigil__v1__restore_key_response__descriptor, &m);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (!rc)
            progress("restore done in %ld ms", (long)((t1.tv_sec - t0.tv_sec) * 1000 +
                                                     (t1.tv_nsec - t0.tv_nsec) / 1000000));
        sigil_rpc_client_free(k.rpc);
    } else if (!rc) {
        rc = 1;
    }
    for (size_t i = 0; i < npb; i++)
        free(pb[i].data);
    backup_file_free(&b);
    if (rc)
        return rc;
    sigil_rpc_msg_free(m);
    if (g_json)
        emit_json(json_pack("{s:s,s:i,s:i}", "key_id", key_id, "node", (int)node, "pieces", (int)npb));
    else
        printf("node %u holds its share of %s again (restored from %zu officer pieces)\n", node,
               key_id, npb);
    return 0;
}

int cer_cmd_backup(cluster *c, const char *cmd, int argc, char **argv)
{
    if (!strcmp(cmd, "backup-key"))
        return cmd_backup_key(c, argc, argv);
    if (!strcmp(cmd, "replace-node"))
        return cmd_replace_node(c, argc, argv);
    const char *stmt = NULL, *out = NULL, *bfile = NULL, *officer = NULL;
    char *files[MAX_OFFICERS * 2], *pieces[MAX_OFFICERS * 2];
    int nf = 0, np = 0, skip = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("usage: sigil-ceremony backup STATEMENT --approval FILE... --out BACKUP\n"
                   "       sigil-ceremony restore-piece STATEMENT --backup BACKUP --officer NAME --out PIECE\n"
                   "       sigil-ceremony restore STATEMENT --backup BACKUP --approval FILE... --piece PIECE...\n\n"
                   "backup: every node holding KEY splits its share k-of-m among the officers and\n"
                   "encrypts piece j to officer j's backup key (RSA-OAEP, decryption only in j's\n"
                   "token); BACKUP holds the node-signed sections (no share in clear).\n"
                   "restore-piece: officer NAME decrypts its piece in its token and re-encrypts it\n"
                   "to the replacement node's current envelope key (the node must keep running\n"
                   "until the restore). restore: the node combines k pieces, checks the result\n"
                   "against the key's public package and seals it (ECDSA: then every share holder\n"
                   "runs a new DKLs23 OT setup with it, all pairs; every node must be up).\n"
                   "Fewer than k pieces: refused.\n\n"
                   "example:\n"
                   "  sigil-ceremony backup bk.stmt --approval c.apr --approval d.apr --out hot-ed.backup\n"
                   "  sigil-ceremony restore-piece rs.stmt --backup hot-ed.backup --officer carol --out c.piece\n"
                   "  sigil-ceremony restore rs.stmt --backup hot-ed.backup --approval c.apr --approval d.apr \\\n"
                   "      --piece c.piece --piece d.piece\n");
            return 0;
        } else if (!strcmp(a, "--skip-local-check"))
            skip = 1;
        else if (a[0] != '-' && !stmt)
            stmt = a;
        else if (i + 1 >= argc)
            return fail(2, "%s: %s needs a value (see %s --help)", cmd, a, cmd);
        else if (!strcmp(a, "--approval") && nf < MAX_OFFICERS * 2)
            files[nf++] = argv[++i];
        else if (!strcmp(a, "--piece") && np < MAX_OFFICERS * 2)
            pieces[np++] = argv[++i];
        else if (!strcmp(a, "--out"))
            out = argv[++i];
        else if (!strcmp(a, "--backup"))
            bfile = argv[++i];
        else if (!strcmp(a, "--officer"))
            officer = argv[++i];
        else
            return fail(2, "%s: bad option %s (see %s --help)", cmd, a, cmd);
    }
    if (!stmt)
        return fail(2, "%s: STATEMENT is required (see %s --help)", cmd, cmd);
    if (sigil_mpc_init())
        return fail(1, "crypto library initialisation failed");
    if (!strcmp(cmd, "backup"))
        return cmd_backup(c, argc, argv, stmt, files, nf, skip, out, officer);
    if (!strcmp(cmd, "restore-piece"))
        return cmd_restore_piece(c, stmt, bfile, officer, out);
    return cmd_restore(c, stmt, bfile, files, nf, pieces, np, skip, officer);
}
